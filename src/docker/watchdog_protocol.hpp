#pragma once

// The frame format between Nebula and its watchdog, shared by the
// runtime and the watchdog binary. The watchdog is linked statically and has
// no other Nebula code in it: this file uses only the standard library and
// the header-only parts of core/result.hpp.
//
// Every frame is a 4-byte big-endian payload length followed by the payload.
// A payload starts with the protocol version and the frame type:
//
//   payload  := u8 version (=1) · u8 type · body
//   Ready    := (no body)       — the watchdog is up and reading requests
//   Request  := u64 max_stdout · u64 max_stderr · u32 n · n × (str key · str value)
//               · u32 m · m × str argv · str stdin
//   Response := u8 exit kind · i32 code · u8 flags · u64 cpu_us · u64 max_rss_bytes
//               · u64 exec_us · str stdout · str stderr · str message
//   str      := u32 length · bytes
//
// All integers are big-endian. A request's env is added to (and overrides)
// the container's environment; an empty argv runs the watchdog's default
// command (the image's entrypoint and cmd).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace nebula::docker::watchdog {

inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kLengthBytes = 4;
// The largest payload either side accepts: well above any body or output
// limit a manifest can set, small enough that a corrupt length is caught
// before a huge allocation.
inline constexpr std::uint32_t kMaxPayloadBytes = 1U << 30U;

enum class FrameType : std::uint8_t { kReady = 1, kRequest = 2, kResponse = 3 };

struct Request {
  std::uint64_t max_stdout_bytes = 0;
  std::uint64_t max_stderr_bytes = 0;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> argv;  // empty: the watchdog's default command
  std::string stdin_data;

  bool operator==(const Request&) const = default;
};

enum class ExitKind : std::uint8_t {
  kExited = 0,       // code = exit status
  kSignaled = 1,     // code = signal number
  kSpawnFailed = 2,  // the program could not be started; see message
};

struct Response {
  ExitKind kind = ExitKind::kExited;
  std::int32_t code = 0;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  // The watchdog killed the program because its stdout went over the limit.
  bool killed_for_output = false;
  std::uint64_t cpu_us = 0;         // user + system CPU of the program
  std::uint64_t max_rss_bytes = 0;  // the program's peak resident set
  std::uint64_t exec_us = 0;        // fork to reap, on the watchdog's clock
  std::string stdout_data;
  std::string stderr_data;
  std::string message;

  bool operator==(const Response&) const = default;
};

// Whole frames, length prefix included, ready to write.
[[nodiscard]] std::string encode_ready();
[[nodiscard]] std::string encode_request(const Request& request);
[[nodiscard]] std::string encode_response(const Response& response);

// The payload length from a frame's 4-byte prefix; over kMaxPayloadBytes is
// kInvalidArgument.
[[nodiscard]] Result<std::uint32_t> decode_length(std::string_view prefix);

// Payload decoders (the payload without its length prefix). Anything
// malformed — wrong version or type, a length past the end, trailing bytes —
// is kInvalidArgument saying what.
[[nodiscard]] Result<FrameType> decode_type(std::string_view payload);
[[nodiscard]] Result<Request> decode_request(std::string_view payload);
[[nodiscard]] Result<Response> decode_response(std::string_view payload);

// Cuts a byte stream into payloads. Feed it whatever arrived; next() hands
// out complete payloads one at a time. Not thread-safe: one per stream.
class FrameReader {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }

  // The next complete payload, nullopt when more bytes are needed, or an
  // error for a corrupt length (the stream cannot be resynchronised).
  [[nodiscard]] Result<std::optional<std::string>> next();

  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }

 private:
  std::string buffer_;
  std::size_t consumed_ = 0;
};

}  // namespace nebula::docker::watchdog
