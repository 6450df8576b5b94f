#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nebula::cli {

// `nebula run FILE.wasm`: a one-shot local run for function authors.
struct RunOptions {
  std::string module_path;
  std::vector<std::string> env;   // "K=V"
  std::vector<std::string> dirs;  // "HOST::GUEST" (append ":ro" for read-only)
  std::vector<std::string> args;  // after `--`
  std::uint32_t timeout_ms = 0;   // 0: no timeout
  std::uint32_t memory_mb = 4096;
  bool timings = false;
};

// Exit codes for outcomes that have no guest exit code.
inline constexpr int kExitTimeout = 124;  // as timeout(1)
inline constexpr int kExitTrap = 134;     // 128 + SIGABRT, as a crashed native program
inline constexpr int kExitMemory = 137;   // 128 + SIGKILL, as an OOM-killed container
inline constexpr int kExitUsage = 2;

// Runs the module with this process's stdin/stdout/stderr; returns the
// process exit code (the guest's own, or one of the above).
[[nodiscard]] int run_module(const RunOptions& options);

}  // namespace nebula::cli
