#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nebula::cli {

// Options every client command shares.
struct ClientOptions {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
};

struct DeployOptions {
  std::string name;
  std::string wasm_file;
  std::string image;
  std::vector<std::string> env;  // "K=V"
  std::vector<std::string> args;
  std::string default_runtime;
  std::optional<std::uint32_t> timeout_ms;
  std::optional<std::uint32_t> memory_mb;
  std::optional<std::uint32_t> min_warm;
  std::optional<std::uint32_t> max_warm;
  std::optional<std::uint32_t> idle_timeout_s;
  std::vector<std::string> allowed_outbound_hosts;
};

struct InvokeOptions {
  std::string name;
  std::string runtime;
  std::optional<std::string> data;  // body; stdin when absent
  bool verbose = false;
};

struct LogsOptions {
  std::string name;
  unsigned limit = 20;
  std::string runtime;
};

// Each returns the process exit code and prints what a person needs.
[[nodiscard]] int deploy(const ClientOptions& client, const DeployOptions& options);
[[nodiscard]] int invoke(const ClientOptions& client, const InvokeOptions& options);
[[nodiscard]] int list(const ClientOptions& client);
// `nebula status`: what the server costs and holds now (GET /v1/status).
[[nodiscard]] int status(const ClientOptions& client);
[[nodiscard]] int remove(const ClientOptions& client, const std::string& name);
[[nodiscard]] int logs(const ClientOptions& client, const LogsOptions& options);

}  // namespace nebula::cli
