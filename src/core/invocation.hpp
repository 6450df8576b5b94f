#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/function.hpp"
#include "core/limits.hpp"

namespace nebula {

// How an invocation ended (DESIGN §4).
enum class Outcome { kOk, kExit, kTrap, kTimeout, kMemory, kRejected };

[[nodiscard]] const char* to_string(Outcome outcome) noexcept;
[[nodiscard]] std::optional<Outcome> parse_outcome(std::string_view text) noexcept;

// What a runtime needs to run one invocation. The body becomes stdin; env
// holds the manifest's env plus the CGI variables of the HTTP request.
struct InvocationRequest {
  std::string function;
  std::string body;
  EnvList env;
  std::vector<std::string> args;
  Limits limits;
};

// Phase durations in microseconds on the monotonic clock (DESIGN §4).
struct Timings {
  std::int64_t queue_us = 0;
  std::int64_t startup_us = 0;
  std::int64_t exec_us = 0;
  std::int64_t teardown_us = 0;
  std::int64_t total_us = 0;
};

// What a runtime reports back. A function failing is not an error of the
// runtime: it is an outcome other than kOk.
struct InvocationResult {
  Outcome outcome = Outcome::kOk;
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
  std::string message;  // trap message, timeout or limit explanation
  bool cold = true;
  bool output_truncated = false;
  Timings timings;
  std::uint64_t cpu_us = 0;
  std::uint64_t max_memory_bytes = 0;
};

// One row of the invocation log.
struct InvocationRecord {
  std::string id;
  std::string function;
  RuntimeKind runtime = RuntimeKind::kWasm;
  Outcome outcome = Outcome::kOk;
  int exit_code = 0;
  bool cold = true;
  Timings timings;
  std::uint64_t cpu_us = 0;
  std::uint64_t max_memory_bytes = 0;
  std::uint64_t input_bytes = 0;
  std::uint64_t output_bytes = 0;
  std::int64_t started_at_us = 0;  // unix µs, for ordering only
  std::string message;
  std::string stderr_tail;
};

// The last `max_bytes` of a log, cut at a UTF-8 boundary.
[[nodiscard]] std::string tail_of(std::string_view text, std::size_t max_bytes);

}  // namespace nebula
