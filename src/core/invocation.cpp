#include "core/invocation.hpp"

namespace nebula {

const char* to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kExit: return "exit";
    case Outcome::kTrap: return "trap";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kMemory: return "memory";
    case Outcome::kRejected: return "rejected";
  }
  return "rejected";
}

std::string redacted(std::string text, const std::vector<std::string>& secrets) {
  static constexpr std::string_view kMark = "[redacted]";
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + kMark.size())) {
      text.replace(at, secret.size(), kMark);
    }
  }
  return text;
}

const char* to_string(TriggerKind kind) noexcept {
  switch (kind) {
    case TriggerKind::kHttp: return "http";
    case TriggerKind::kAsync: return "async";
    case TriggerKind::kCron: return "cron";
  }
  return "http";
}

std::optional<TriggerKind> parse_trigger_kind(std::string_view text) noexcept {
  if (text == "http") return TriggerKind::kHttp;
  if (text == "async") return TriggerKind::kAsync;
  if (text == "cron") return TriggerKind::kCron;
  return std::nullopt;
}

std::optional<Outcome> parse_outcome(std::string_view text) noexcept {
  for (auto o : {Outcome::kOk, Outcome::kExit, Outcome::kTrap, Outcome::kTimeout, Outcome::kMemory,
                 Outcome::kRejected}) {
    if (text == to_string(o)) return o;
  }
  return std::nullopt;
}

std::string tail_of(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t start = text.size() - max_bytes;
  // Skip UTF-8 continuation bytes so the tail starts on a character.
  while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0U) == 0x80U) {
    ++start;
  }
  return std::string(text.substr(start));
}

std::string valid_utf8(std::string_view text) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t min = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if ((c & 0xE0U) == 0xC0U) {
      len = 2, min = 0x80, cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0U) {
      len = 3, min = 0x800, cp = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0U) {
      len = 4, min = 0x10000, cp = c & 0x07U;
    }
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xC0U) == 0x80U;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

}  // namespace nebula
