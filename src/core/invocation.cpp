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

}  // namespace nebula
