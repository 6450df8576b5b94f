#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm {

// A host directory made visible to the guest (`nebula run --dir`). The
// server never grants any.
struct Preopen {
  std::filesystem::path host;
  std::string guest;
  bool read_only = false;
};

// How one invocation runs. By default stdio is captured (server mode):
// stdin comes from `stdin_bytes`, stdout and stderr are collected up to
// `max_output_bytes` each. With `inherit_stdio` the guest uses this process's
// own stdin/stdout/stderr (`nebula run`).
struct ExecSpec {
  std::string_view stdin_bytes;
  bool inherit_stdio = false;
  std::vector<std::string> argv;  // argv[0] is the program name
  EnvList env;
  std::vector<Preopen> preopens;
  std::uint64_t memory_bytes = 128ULL << 20;
  std::uint32_t timeout_ms = 10'000;
  std::uint64_t max_output_bytes = 6ULL << 20;
  // Components only: where outbound HTTP requests may go (none by
  // default), and how long each may take.
  std::vector<std::string> allowed_outbound_hosts;
  std::uint32_t outbound_timeout_ms = 10'000;
};

// Runs `_start` once in a fresh Store (phases: startup = Store +
// WASI context + instantiation; exec = the `_start` call; teardown = dropping
// the Store). A failing guest is an outcome, not an error: errors are only
// for the host (e.g. every instance slot busy → kOverloaded).
//
// Thread-safe: any number of threads may execute the same Program at once.
//
// A command component runs wasi:cli/run the same way (same phases, same
// outcomes); an HTTP component is refused here (see handle_http).
[[nodiscard]] Result<InvocationResult> execute(const Program& program, const ExecSpec& spec);

// Calls an HTTP component's wasi:http/incoming-handler with `exchange` and
// `body`, streaming its response into exchange.sink. startup = store + WASI
// and HTTP context + instantiate; exec = the handler call until the
// response body is finished. Same outcomes and limits as execute().
[[nodiscard]] Result<InvocationResult> handle_http(const Program& program, const ExecSpec& spec,
                                                   const HttpExchange& exchange,
                                                   std::string_view body);

}  // namespace nebula::wasm
