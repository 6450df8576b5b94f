#pragma once

#include <cstdint>

namespace nebula {

// Per-function resource limits and their defaults. Both runtimes enforce
// the same numbers.
struct Limits {
  static constexpr std::uint32_t kDefaultTimeoutMs = 10'000;
  static constexpr std::uint32_t kDefaultMemoryMb = 128;
  static constexpr std::uint64_t kDefaultPayloadBytes = 6ULL * 1024 * 1024;  // Lambda's

  std::uint32_t timeout_ms = kDefaultTimeoutMs;
  std::uint32_t memory_mb = kDefaultMemoryMb;
  std::uint64_t max_input_bytes = kDefaultPayloadBytes;
  std::uint64_t max_output_bytes = kDefaultPayloadBytes;

  bool operator==(const Limits&) const = default;
};

}  // namespace nebula
