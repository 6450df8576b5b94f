#include "docker/watchdog_protocol.hpp"

namespace nebula::docker::watchdog {
namespace {

constexpr std::uint8_t kFlagStdoutTruncated = 1U << 0U;
constexpr std::uint8_t kFlagStderrTruncated = 1U << 1U;
constexpr std::uint8_t kFlagKilledForOutput = 1U << 2U;
constexpr std::uint8_t kKnownFlags =
    kFlagStdoutTruncated | kFlagStderrTruncated | kFlagKilledForOutput;

// Builds one frame; the length prefix is patched in by finish().
class Writer {
 public:
  explicit Writer(FrameType type) : out_(kLengthBytes, '\0') {
    u8(kProtocolVersion);
    u8(static_cast<std::uint8_t>(type));
  }

  void u8(std::uint8_t value) { out_ += static_cast<char>(value); }
  void u32(std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out_ += static_cast<char>((value >> static_cast<unsigned>(shift)) & 0xFFU);
    }
  }
  void u64(std::uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out_ += static_cast<char>((value >> static_cast<unsigned>(shift)) & 0xFFU);
    }
  }
  void str(std::string_view text) {
    // Callers keep every field far below kMaxPayloadBytes (the limits are
    // enforced before encoding), so the length always fits.
    u32(static_cast<std::uint32_t>(text.size()));
    out_.append(text);
  }

  std::string finish() && {
    const std::size_t payload = out_.size() - kLengthBytes;
    for (std::size_t i = 0; i < kLengthBytes; ++i) {
      out_[i] = static_cast<char>((payload >> (8U * (kLengthBytes - 1 - i))) & 0xFFU);
    }
    return std::move(out_);
  }

 private:
  std::string out_;
};

// Reads a payload front to back. The first failure sticks, so a decoder
// reads every field and checks once at the end.
class Cursor {
 public:
  explicit Cursor(std::string_view payload) : rest_(payload) {}

  std::uint8_t u8() {
    if (!take(1)) return 0;
    return static_cast<std::uint8_t>(last_[0]);
  }
  std::uint32_t u32() {
    if (!take(4)) return 0;
    std::uint32_t value = 0;
    for (char c : last_) value = (value << 8U) | static_cast<std::uint8_t>(c);
    return value;
  }
  std::uint64_t u64() {
    if (!take(8)) return 0;
    std::uint64_t value = 0;
    for (char c : last_) value = (value << 8U) | static_cast<std::uint8_t>(c);
    return value;
  }
  std::string str() {
    const std::uint32_t size = u32();
    if (!take(size)) return {};
    return std::string(last_);
  }
  // A count of items that each take at least `min_item_bytes`: a count the
  // remaining bytes cannot hold is an error now, not a huge reserve later.
  std::uint32_t count(std::size_t min_item_bytes) {
    const std::uint32_t n = u32();
    if (ok_ && n > rest_.size() / min_item_bytes) {
      ok_ = false;
      what_ = "a count larger than the frame";
      return 0;
    }
    return n;
  }

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] bool at_end() const noexcept { return rest_.empty(); }
  [[nodiscard]] const char* what() const noexcept { return what_; }

 private:
  bool take(std::size_t n) {
    if (!ok_) return false;
    if (n > rest_.size()) {
      ok_ = false;
      what_ = "a field past the end of the frame";
      return false;
    }
    last_ = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }

  std::string_view rest_;
  std::string_view last_;
  bool ok_ = true;
  const char* what_ = "";
};

Error malformed(std::string_view what) {
  return make_error(ErrorKind::kInvalidArgument, "malformed watchdog frame: " + std::string(what));
}

// Checks the version and type bytes and leaves the cursor on the body.
Status expect_header(Cursor& cursor, FrameType type) {
  const std::uint8_t version = cursor.u8();
  const std::uint8_t got = cursor.u8();
  if (!cursor.ok()) return malformed("shorter than its header");
  if (version != kProtocolVersion) {
    return malformed("protocol version " + std::to_string(version) + ", expected " +
                     std::to_string(kProtocolVersion) +
                     " (the watchdog binary and Nebula are from different builds)");
  }
  if (got != static_cast<std::uint8_t>(type)) {
    return malformed("frame type " + std::to_string(got) + ", expected " +
                     std::to_string(static_cast<int>(type)));
  }
  return {};
}

Status finish(const Cursor& cursor) {
  if (!cursor.ok()) return malformed(cursor.what());
  if (!cursor.at_end()) return malformed("trailing bytes after the last field");
  return {};
}

}  // namespace

std::string encode_ready() {
  return Writer(FrameType::kReady).finish();
}

std::string encode_request(const Request& request) {
  Writer w(FrameType::kRequest);
  w.u64(request.max_stdout_bytes);
  w.u64(request.max_stderr_bytes);
  w.u32(static_cast<std::uint32_t>(request.env.size()));
  for (const auto& [key, value] : request.env) {
    w.str(key);
    w.str(value);
  }
  w.u32(static_cast<std::uint32_t>(request.argv.size()));
  for (const std::string& arg : request.argv) w.str(arg);
  w.str(request.stdin_data);
  return std::move(w).finish();
}

std::string encode_response(const Response& response) {
  Writer w(FrameType::kResponse);
  w.u8(static_cast<std::uint8_t>(response.kind));
  w.u32(static_cast<std::uint32_t>(response.code));
  std::uint8_t flags = 0;
  if (response.stdout_truncated) flags |= kFlagStdoutTruncated;
  if (response.stderr_truncated) flags |= kFlagStderrTruncated;
  if (response.killed_for_output) flags |= kFlagKilledForOutput;
  w.u8(flags);
  w.u64(response.cpu_us);
  w.u64(response.max_rss_bytes);
  w.u64(response.exec_us);
  w.str(response.stdout_data);
  w.str(response.stderr_data);
  w.str(response.message);
  return std::move(w).finish();
}

Result<std::uint32_t> decode_length(std::string_view prefix) {
  if (prefix.size() != kLengthBytes) return malformed("a length prefix must be 4 bytes");
  Cursor cursor(prefix);
  const std::uint32_t length = cursor.u32();
  if (length > kMaxPayloadBytes) {
    return malformed("payload of " + std::to_string(length) + " bytes is over the " +
                     std::to_string(kMaxPayloadBytes) + "-byte maximum");
  }
  if (length < 2) return malformed("payload shorter than its header");
  return length;
}

Result<FrameType> decode_type(std::string_view payload) {
  if (payload.size() < 2) return malformed("shorter than its header");
  if (static_cast<std::uint8_t>(payload[0]) != kProtocolVersion) {
    return malformed("protocol version " + std::to_string(static_cast<std::uint8_t>(payload[0])) +
                     ", expected " + std::to_string(kProtocolVersion));
  }
  const auto type = static_cast<std::uint8_t>(payload[1]);
  if (type < static_cast<std::uint8_t>(FrameType::kReady) ||
      type > static_cast<std::uint8_t>(FrameType::kResponse)) {
    return malformed("unknown frame type " + std::to_string(type));
  }
  return static_cast<FrameType>(type);
}

Result<Request> decode_request(std::string_view payload) {
  Cursor cursor(payload);
  if (Status header = expect_header(cursor, FrameType::kRequest); !header) {
    return std::move(header).error();
  }
  Request out;
  out.max_stdout_bytes = cursor.u64();
  out.max_stderr_bytes = cursor.u64();
  const std::uint32_t env_count = cursor.count(8);
  for (std::uint32_t i = 0; cursor.ok() && i < env_count; ++i) {
    std::string key = cursor.str();
    std::string value = cursor.str();
    out.env.emplace_back(std::move(key), std::move(value));
  }
  const std::uint32_t argc = cursor.count(4);
  for (std::uint32_t i = 0; cursor.ok() && i < argc; ++i) out.argv.push_back(cursor.str());
  out.stdin_data = cursor.str();
  if (Status done = finish(cursor); !done) return std::move(done).error();
  return out;
}

Result<Response> decode_response(std::string_view payload) {
  Cursor cursor(payload);
  if (Status header = expect_header(cursor, FrameType::kResponse); !header) {
    return std::move(header).error();
  }
  Response out;
  const std::uint8_t kind = cursor.u8();
  out.code = static_cast<std::int32_t>(cursor.u32());
  const std::uint8_t flags = cursor.u8();
  out.cpu_us = cursor.u64();
  out.max_rss_bytes = cursor.u64();
  out.exec_us = cursor.u64();
  out.stdout_data = cursor.str();
  out.stderr_data = cursor.str();
  out.message = cursor.str();
  if (Status done = finish(cursor); !done) return std::move(done).error();
  if (kind > static_cast<std::uint8_t>(ExitKind::kSpawnFailed)) {
    return malformed("unknown exit kind " + std::to_string(kind));
  }
  if ((flags & ~kKnownFlags) != 0) return malformed("unknown flags " + std::to_string(flags));
  out.kind = static_cast<ExitKind>(kind);
  out.stdout_truncated = (flags & kFlagStdoutTruncated) != 0;
  out.stderr_truncated = (flags & kFlagStderrTruncated) != 0;
  out.killed_for_output = (flags & kFlagKilledForOutput) != 0;
  return out;
}

Result<std::optional<std::string>> FrameReader::next() {
  if (buffered() < kLengthBytes) return std::optional<std::string>{};
  std::string_view rest = std::string_view(buffer_).substr(consumed_);
  auto length = decode_length(rest.substr(0, kLengthBytes));
  if (!length) return std::move(length).error();
  if (rest.size() - kLengthBytes < *length) return std::optional<std::string>{};
  std::optional<std::string> payload(std::string(rest.substr(kLengthBytes, *length)));
  consumed_ += kLengthBytes + *length;
  // Compact once everything buffered is consumed, or once the consumed
  // prefix dominates, so the buffer does not grow with the stream.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return payload;
}

}  // namespace nebula::docker::watchdog
