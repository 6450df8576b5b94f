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
  // In-flight invocations of the function on one node, across runtimes;
  // 0: no limit beyond the server's own admission. Calls beyond it wait for
  // a slot up to timeout_ms, then get 429 with Retry-After.
  std::uint32_t max_concurrency = 0;

  bool operator==(const Limits&) const = default;
};

}  // namespace nebula
