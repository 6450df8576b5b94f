#pragma once

// The Docker Engine API as pure functions: request targets, query strings and
// JSON bodies Nebula sends, and decoders for the JSON the engine answers. No
// I/O here, so every corner is unit-tested without an engine (client.hpp does
// the talking).

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/function.hpp"
#include "core/result.hpp"

namespace nebula::docker {

// An Engine API version such as 1.41. Requests go to `/v<major>.<minor>/…`.
struct ApiVersion {
  int major = 1;
  int minor = 0;

  auto operator<=>(const ApiVersion&) const = default;
  [[nodiscard]] std::string to_string() const;
};

[[nodiscard]] std::optional<ApiVersion> parse_api_version(std::string_view text) noexcept;

// The newest API Nebula speaks; an older engine is talked to in its own
// version. The oldest one Nebula accepts is the first with `wait?condition=`
// (1.30); NanoCpus and PidsLimit are older than that.
inline constexpr ApiVersion kNewestApiVersion{1, 43};
inline constexpr ApiVersion kOldestApiVersion{1, 30};

// Every label Nebula puts on a container. `nebula.function` marks Nebula's
// containers (leftovers are found by it); `nebula.instance` names
// the process that created it, so that a running Nebula never removes
// another live one's containers by mistake.
inline constexpr std::string_view kFunctionLabel = "nebula.function";
inline constexpr std::string_view kInstanceLabel = "nebula.instance";
inline constexpr std::string_view kModeLabel = "nebula.mode";

struct EngineVersion {
  std::string version;  // e.g. "20.10.24+dfsg1"
  ApiVersion api;       // the engine's newest API
  ApiVersion min_api;   // the engine's oldest API
};

// The API version to use with an engine: min(ours, the engine's). An engine
// too old for Nebula is kUnavailable with a message saying what is needed.
[[nodiscard]] Result<ApiVersion> negotiate_api_version(const EngineVersion& engine);

struct EngineInfo {
  std::string cgroup_driver;   // "cgroupfs" or "systemd"
  std::string cgroup_version;  // "1" or "2"
};

// What Nebula needs from `GET /images/{name}/json`.
struct ImageInfo {
  std::string id;
  std::vector<std::string> entrypoint;  // Config.Entrypoint (may be empty)
  std::vector<std::string> cmd;         // Config.Cmd (may be empty)
  std::vector<std::string> env;         // Config.Env, "KEY=VALUE"

  // The program a container of this image runs by default: the entrypoint
  // followed by the cmd, as Docker itself combines them.
  [[nodiscard]] std::vector<std::string> command() const;
};

// What Nebula needs from `GET /containers/{id}/json`.
struct ContainerState {
  std::string status;  // "created", "running", "exited", …
  bool running = false;
  bool oom_killed = false;
  int exit_code = 0;
  int pid = 0;  // host pid of the container's init, 0 when not running
};

// One row of `GET /containers/json`.
struct ContainerSummary {
  std::string id;
  std::string state;
  std::map<std::string, std::string, std::less<>> labels;
};

// Everything Nebula sets when it creates a container. Isolation settings
// are not optional: create_container_body always writes them.
struct ContainerSpec {
  std::string image;
  std::vector<std::string> entrypoint;  // empty: the image's own
  std::vector<std::string> cmd;         // empty: the image's own
  EnvList env;
  std::vector<std::pair<std::string, std::string>> labels;
  std::uint64_t memory_bytes = 0;  // 0: no limit (never used by Nebula)
  std::int64_t nano_cpus = 0;      // 1e9 = one CPU; 0: no limit
  std::int64_t pids_limit = 0;     // 0: no limit
  std::string cgroup_parent;       // empty: the engine's default
  std::vector<std::string> binds;  // "host:container:ro"
  // The only writable place inside: a tmpfs at /tmp of this size, counted
  // in the container's memory. 0: none.
  std::uint64_t tmp_bytes = 0;
};

// The JSON body of `POST /containers/create`: stdin open and attached once
// (StdinOnce, so the function sees EOF when Nebula half-closes the attach
// stream), no TTY (stdout and stderr arrive multiplexed), no network, memory
// without swap, read-only root filesystem (with a bounded tmpfs at /tmp when
// tmp_bytes is set), no new privileges, no capabilities.
[[nodiscard]] std::string create_container_body(const ContainerSpec& spec);

// Percent-encodes a query component (RFC 3986 unreserved characters pass).
[[nodiscard]] std::string url_encode(std::string_view text);

// Request targets, each with the API version prefix.
[[nodiscard]] std::string version_target();  // unversioned: used to negotiate
[[nodiscard]] std::string ping_target();
[[nodiscard]] std::string info_target(ApiVersion v);
[[nodiscard]] std::string image_inspect_target(ApiVersion v, std::string_view image);
[[nodiscard]] std::string create_target(ApiVersion v, std::string_view name);
[[nodiscard]] std::string attach_target(ApiVersion v, std::string_view id);
[[nodiscard]] std::string start_target(ApiVersion v, std::string_view id);
[[nodiscard]] std::string wait_target(ApiVersion v, std::string_view id);
[[nodiscard]] std::string kill_target(ApiVersion v, std::string_view id, std::string_view signal);
[[nodiscard]] std::string inspect_target(ApiVersion v, std::string_view id);
[[nodiscard]] std::string remove_target(ApiVersion v, std::string_view id);
// All containers (running or not) carrying `label`, or `label=value` when a
// value is given.
[[nodiscard]] std::string list_target(ApiVersion v, std::string_view label,
                                      std::optional<std::string_view> value = std::nullopt);

// Decoders. A body that is not the JSON the API documents is kInternal
// naming what was missing.
[[nodiscard]] Result<EngineVersion> parse_version_response(std::string_view body);
[[nodiscard]] Result<EngineInfo> parse_info_response(std::string_view body);
[[nodiscard]] Result<ImageInfo> parse_image_inspect(std::string_view body);
[[nodiscard]] Result<std::string> parse_create_response(std::string_view body);  // the Id
[[nodiscard]] Result<ContainerState> parse_container_inspect(std::string_view body);
[[nodiscard]] Result<int> parse_wait_response(std::string_view body);  // StatusCode
[[nodiscard]] Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body);

// The engine's error text: `{"message": "…"}` → the message; anything else is
// returned trimmed as it is.
[[nodiscard]] std::string engine_error_message(std::string_view body);

}  // namespace nebula::docker
