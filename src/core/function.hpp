#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/limits.hpp"
#include "core/result.hpp"

namespace nebula {

enum class RuntimeKind { kWasm, kDocker };

// What a wasm artifact is, which decides its contract: a WASI preview 1
// core module or a wasi:cli/command component run as a command program
// (stdin -> stdout), or a wasi:http/proxy component that gets the request
// itself and answers it.
enum class WasmKind { kModule, kCommand, kHttp };

[[nodiscard]] const char* to_string(WasmKind kind) noexcept;
[[nodiscard]] std::optional<WasmKind> parse_wasm_kind(std::string_view text) noexcept;

[[nodiscard]] const char* to_string(RuntimeKind kind) noexcept;
[[nodiscard]] std::optional<RuntimeKind> parse_runtime_kind(std::string_view text) noexcept;

// `[a-z0-9][a-z0-9-]{0,62}`: safe in paths, labels and metric names.
[[nodiscard]] bool is_valid_function_name(std::string_view name) noexcept;

// kInvalidArgument naming the rule when `name` is not a valid function name.
// Every layer that checks a name says it this way.
[[nodiscard]] Status check_function_name(std::string_view name);

// `sha256:` followed by 64 lowercase hex digits.
[[nodiscard]] bool is_valid_digest(std::string_view digest) noexcept;

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Docker warm pool settings. max_warm == 0 means cold only: one container
// per invocation. min_warm containers are started at deploy; idle ones are
// stopped after idle_timeout_s, down to zero.
struct DockerPool {
  std::uint32_t min_warm = 0;
  std::uint32_t max_warm = 0;
  std::uint32_t idle_timeout_s = 60;

  bool operator==(const DockerPool&) const = default;
};

// An environment variable whose value is a stored secret, resolved at each
// invocation (so a rotated secret takes effect on the next one).
struct SecretEnv {
  std::string env;     // the variable's name
  std::string secret;  // the secret's name (same rule as a function name)

  bool operator==(const SecretEnv&) const = default;
};

// What a schedule does about firings it missed while no node ran (the
// server was down): skip them, or fire once for all of them on start.
enum class MissedFirings { kSkip, kCatchUp };

// A schedule in the manifest: a five-field cron expression (minute hour
// day-of-month month day-of-week, UTC) or "@every <duration>", and the fixed
// input each firing sends as the body.
struct Trigger {
  std::string schedule;
  std::string input;
  MissedFirings missed = MissedFirings::kSkip;

  bool operator==(const Trigger&) const = default;
};

// Async invocation settings: how many times a failed call is retried (with
// backoff) before it is marked dead, and how many calls may wait in the
// queue at once (more get 429).
struct AsyncSettings {
  static constexpr std::uint32_t kDefaultMaxRetries = 3;
  static constexpr std::uint32_t kDefaultMaxQueued = 1000;

  std::uint32_t max_retries = kDefaultMaxRetries;
  std::uint32_t max_queued = kDefaultMaxQueued;

  bool operator==(const AsyncSettings&) const = default;
};

// What a user deploys (the manifest, docs/api.md). At least one variant is set.
struct Manifest {
  std::optional<std::string> wasm_module;   // "sha256:<hex>"
  // Detected at deploy and stored; a manifest may state it, and a deploy
  // whose artifact is of another kind is refused.
  std::optional<WasmKind> wasm_kind;
  std::optional<std::string> docker_image;  // e.g. "nebula-fn-hello:latest"
  RuntimeKind default_runtime = RuntimeKind::kWasm;
  EnvList env;
  // Variables whose values come from secrets ("KEY": {"secret": "name"}).
  std::vector<SecretEnv> secret_env;
  std::vector<std::string> args;
  Limits limits;
  DockerPool docker_pool;
  AsyncSettings async;
  std::vector<Trigger> triggers;
  // Where a wasm guest's outbound HTTP requests may go (patterns such as
  // "https://*.example.com" or "http://127.0.0.1:8081"; see outbound.hpp).
  // Empty: nowhere.
  std::vector<std::string> allowed_outbound_hosts;

  [[nodiscard]] bool has(RuntimeKind kind) const noexcept {
    return kind == RuntimeKind::kWasm ? wasm_module.has_value() : docker_image.has_value();
  }
};

// Parses and validates a manifest document. Unknown keys, wrong types and
// out-of-range limits are errors that name the offending field.
[[nodiscard]] Result<Manifest> parse_manifest(std::string_view json);

// The canonical JSON form of a manifest (what the registry stores and the
// API returns).
[[nodiscard]] std::string manifest_to_json(const Manifest& manifest);

// A deployed function: its name, manifest and bookkeeping.
struct Function {
  std::string name;
  Manifest manifest;
  // The version serving: every deploy creates the next number (1, 2, …);
  // a rollback makes an older one serve again. Stamped by the store.
  std::uint64_t version = 0;
  std::int64_t created_at_us = 0;  // unix µs
  std::int64_t updated_at_us = 0;
};

}  // namespace nebula
