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
  std::vector<std::string> secret_env;  // "KEY=SECRET": KEY's value is the secret SECRET
  std::optional<std::uint32_t> max_concurrency;
  std::optional<std::uint32_t> max_retries;  // async calls
  std::optional<std::uint32_t> max_queued;   // async calls
  std::vector<std::string> schedules;  // one trigger each, empty input, missed firings skipped
};

struct InvokeOptions {
  std::string name;
  std::string runtime;
  std::optional<std::string> data;  // body; stdin when absent
  bool verbose = false;
  std::optional<std::uint64_t> version;  // a kept version instead of the serving one
  bool async = false;                    // queue the call: 202 and an id
  std::string callback;                  // async: POST the outcome here when it ends
};

struct LogsOptions {
  std::string name;
  unsigned limit = 20;
  std::string runtime;
  bool follow = false;  // stream invocations as they finish, until interrupted
};

struct InvocationOptions {
  std::string id;
  bool raw = false;   // only the result's bytes (an async call) on stdout
  bool wait = false;  // an async call: poll until it is done or dead
};

struct RollbackOptions {
  std::string name;
  std::optional<std::uint64_t> version;  // default: the kept version below the serving one
};

struct SecretPutOptions {
  std::string name;
  std::string from_file;  // empty: stdin
};

// Each returns the process exit code and prints what a person needs.
[[nodiscard]] int deploy(const ClientOptions& client, const DeployOptions& options);
[[nodiscard]] int invoke(const ClientOptions& client, const InvokeOptions& options);
[[nodiscard]] int list(const ClientOptions& client);
// `nebula status`: what the server costs and holds now (GET /v1/status).
[[nodiscard]] int status(const ClientOptions& client);
[[nodiscard]] int remove(const ClientOptions& client, const std::string& name);
// `nebula logs`: recent records, or with `follow` the live stream of
// invocations as they finish (GET /v1/functions/NAME/logs?follow=true).
[[nodiscard]] int logs(const ClientOptions& client, const LogsOptions& options);

// `nebula versions NAME`: the kept versions, newest first, the serving one
// marked.
[[nodiscard]] int versions(const ClientOptions& client, const std::string& name);
// `nebula rollback NAME [VERSION]`: serve an older kept version again.
[[nodiscard]] int rollback(const ClientOptions& client, const RollbackOptions& options);
// `nebula invocation ID`: one record, or an async call's state and result.
[[nodiscard]] int invocation(const ClientOptions& client, const InvocationOptions& options);

// `nebula secret put|ls|rm`. A value is read from a file or stdin, never
// from the command line, and never printed.
[[nodiscard]] int secret_put(const ClientOptions& client, const SecretPutOptions& options);
[[nodiscard]] int secret_list(const ClientOptions& client);
[[nodiscard]] int secret_remove(const ClientOptions& client, const std::string& name);

}  // namespace nebula::cli
