#pragma once

// One warm container: the function's image running Nebula's
// watchdog as its entrypoint, with one attach stream kept open for its whole
// life. Requests go down the stream as watchdog frames, responses come back
// on its stdout; the watchdog's own stderr is kept as a short log.
//
// Not thread-safe: the pool hands a container to one invocation at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "docker/cgroup.hpp"
#include "docker/client.hpp"
#include "docker/watchdog_protocol.hpp"

namespace nebula::docker {

// Where the watchdog appears inside a warm container.
inline constexpr std::string_view kWatchdogMountPoint = "/nebula-watchdog";

class WarmContainer {
 public:
  // How a call ended.
  enum class End {
    kAnswered,  // `response` is set
    kTimeout,   // no answer before the deadline; the container must go
    kBroken,    // the watchdog or its stream died; the container must go
  };

  struct Answer {
    End end = End::kAnswered;
    watchdog::Response response;
    std::string error;  // for kBroken: what went wrong, with the watchdog's log
    // What the call cost the container (its cgroup, read around the call).
    CgroupUsage usage;
  };

  // Creates, attaches and starts a container from `spec` (whose entrypoint
  // must be the watchdog) and waits for the watchdog's Ready frame. On any
  // failure the container is removed again.
  [[nodiscard]] static Result<std::unique_ptr<WarmContainer>> start(Client& client,
                                                                    const ContainerSpec& spec,
                                                                    const std::string& name,
                                                                    std::string cgroup_root,
                                                                    Clock::time_point deadline);

  WarmContainer(const WarmContainer&) = delete;
  WarmContainer& operator=(const WarmContainer&) = delete;
  ~WarmContainer();

  [[nodiscard]] const std::string& id() const noexcept { return id_; }

  // Sends one request and waits for its response until `deadline`.
  [[nodiscard]] Answer call(const watchdog::Request& request, Clock::time_point deadline);

  // False once a call went wrong or the engine closed the stream.
  [[nodiscard]] bool alive() const { return healthy_ && stream_.looks_alive(); }

  // Whether the kernel OOM-killed a process in this container since the
  // last check (the container's memory cgroup counter); nullopt when the
  // counter cannot be read.
  [[nodiscard]] std::optional<bool> oom_kill_since_last_check();

  // After the container died: did the engine record an OOM kill
  // (State.OOMKilled)?
  [[nodiscard]] bool died_of_oom();

  // Force-removes the container (the stream is closed first). False when
  // the engine did not confirm the removal (it is down): the caller keeps
  // the id and tries again later. True when it was stopped before.
  bool stop();

  Clock::time_point last_used;

 private:
  WarmContainer(Client& client, std::string id, AttachedStream stream, std::string cgroup_root);

  // Feeds output; sets `payload` when a whole frame of the wanted type came.
  bool on_output(StreamKind kind, std::string_view data, watchdog::FrameType wanted,
                 std::optional<std::string>& payload, std::string& error);

  Client& client_;
  std::string id_;
  AttachedStream stream_;
  std::string cgroup_root_;
  watchdog::FrameReader reader_;
  std::string log_;
  std::optional<ContainerCgroup> cgroup_;    // unset when it could not be located
  std::optional<std::uint64_t> oom_kills_;  // the counter at the last check
  bool healthy_ = true;
  bool stopped_ = false;
};

}  // namespace nebula::docker
