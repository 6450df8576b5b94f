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

// What a user deploys (the manifest, docs/api.md). At least one variant is set.
struct Manifest {
  std::optional<std::string> wasm_module;   // "sha256:<hex>"
  std::optional<std::string> docker_image;  // e.g. "nebula-fn-hello:latest"
  RuntimeKind default_runtime = RuntimeKind::kWasm;
  EnvList env;
  std::vector<std::string> args;
  Limits limits;
  DockerPool docker_pool;

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
  std::int64_t created_at_us = 0;  // unix µs
  std::int64_t updated_at_us = 0;
};

}  // namespace nebula
