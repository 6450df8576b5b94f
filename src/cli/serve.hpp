#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nebula::cli {

// `nebula serve`: every flag also reads from a NEBULA_* variable.
struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./nebula-data";
  std::string store = "sqlite";  // or a PostgreSQL URI
  std::string node_id;           // empty: the host name
  std::string token;
  std::string docker_socket = "/var/run/docker.sock";
  std::string watchdog;  // path of nebula-watchdog; default: beside the nebula binary
  bool no_docker = false;
  unsigned workers = 0;     // 0: 2 × cores + 4
  unsigned io_threads = 0;  // 0: one per core, at most 4
  std::size_t max_queue = 1024;
  // Client connections open at once (see http::ServerOptions); lowered at
  // start-up to what the open file limit allows.
  std::size_t max_connections = 10'000;
  std::size_t max_records = 1000;
  // Seconds a wasm function may stay idle before its compiled code leaves
  // memory (0: never).
  std::uint32_t wasm_idle_s = 60;
  std::size_t max_versions = 20;
  std::string secrets_key_file;  // empty: see service::PlatformOptions
  unsigned async_workers = 2;
  std::string log_level = "info";
};

// Runs the server until SIGINT/SIGTERM; returns the process exit code.
[[nodiscard]] int serve(const ServeOptions& options, const std::string& self_path);

// `nebula serve-one FILE.wasm`: one HTTP component served on a local port,
// every path its own, for function authors (like `wasmtime serve`). The
// same engine, limits and records as `nebula serve`; compiled code is kept
// in the data directory, so a second start does not compile.
struct ServeOneOptions {
  std::string module_path;
  std::string listen = "127.0.0.1:8080";
  std::string data_dir;  // default: the cache directory's serve-one/
  std::vector<std::string> env;  // "K=V"
  std::vector<std::string> allowed_outbound_hosts;
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::uint32_t> memory_mb;
  unsigned workers = 0;
  unsigned io_threads = 0;
  std::string log_level = "warn";
};

[[nodiscard]] int serve_one(const ServeOneOptions& options);

}  // namespace nebula::cli
