#pragma once

// What the benchmarked server says it costs and holds (GET /v1/status):
// its own process, the Docker engine's processes, its warm containers and
// loaded wasm programs. The near-zero suite reads it before, during and
// after each measurement.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/result.hpp"
#include "http/client.hpp"

namespace nebula::bench {

// A process or a group of processes at one moment (the status' "process"
// and "docker.engine" objects). cpu_us and voluntary_switches only grow
// for one process; for a group they are sums over the processes alive at
// the time, so they drop when one exits (a container's shim).
struct ProcessFigures {
  std::uint64_t processes = 0;
  std::uint64_t rss_bytes = 0;
  std::uint64_t cpu_us = 0;
  std::uint64_t threads = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t voluntary_switches = 0;
};

struct StatusReading {
  std::chrono::steady_clock::time_point at;  // when the answer arrived
  ProcessFigures server;
  std::optional<ProcessFigures> engine;  // null without Docker
  bool docker_enabled = false;
  std::uint64_t warm_containers = 0;
  std::uint64_t functions = 0;
  // Compiled wasm programs resident in memory; nullopt from a server that
  // does not report it.
  std::optional<std::uint64_t> wasm_loaded;
  std::uint64_t data_dir_bytes = 0;
};

// The body of a 200 answer. Missing members are left at 0 (or unset, for
// the optional ones); a body that is not a JSON object, or has no
// "process" object, is an error.
[[nodiscard]] Result<StatusReading> parse_server_status(std::string_view body);

// Asks `client`'s server; `at` is the time of the answer.
[[nodiscard]] Result<StatusReading> fetch_server_status(const http::Client& client);

// The change of two readings of one figure per second; 0 when the time
// did not advance, and 0 rather than negative when a group's sum dropped.
[[nodiscard]] double rate_per_s(std::uint64_t before, std::uint64_t after, double seconds) noexcept;

}  // namespace nebula::bench
