#pragma once

// The container backend.
//
// Cold mode starts one container per invocation: create, attach, start, body
// to stdin, output until EOF, wait, remove. Warm mode keeps a pool of
// containers per function running Nebula's watchdog, one request at a time
// each. invoke() picks warm when the manifest has docker_pool.max_warm > 0,
// else cold.
//
// Scale to zero: a warm container idle longer than idle_timeout_s is stopped
// and removed by a reaper thread, down to zero containers, whatever
// min_warm says. min_warm is how many containers prepare() starts ahead of
// the first request (pre-warming at deploy and start-up); keeping them
// forever would contradict "an idle platform holds zero containers".
//
// Thread-safety: every public method may be called from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/runtime.hpp"
#include "docker/cgroup.hpp"
#include "docker/client.hpp"

namespace nebula::docker {

class WarmContainer;

struct RuntimeOptions {
  // Engine socket and the deadline of each API call.
  ClientOptions client;
  // Host path of the nebula-watchdog binary (built next to `nebula`). Empty
  // or missing: warm pools are refused at prepare with a clear error.
  std::string watchdog_path;
  // Where cgroup hierarchies are mounted, for per-invocation accounting.
  std::string cgroup_root = "/sys/fs/cgroup";
  // CPU share of each container (HostConfig.NanoCpus).
  double cpus = 1.0;
  // Processes per container (HostConfig.PidsLimit): enough for a function
  // and its helpers, too few for a fork bomb.
  std::int64_t pids_limit = 64;
  // The writable tmpfs at /tmp (the root filesystem is read-only): this
  // size, or a quarter of the function's memory limit if that is less.
  std::uint64_t max_tmp_bytes = 64ULL << 20;
  // How much stderr an invocation keeps (the tail).
  std::size_t max_stderr_bytes = 1024 * 1024;
};

class Runtime final : public nebula::Runtime {
 public:
  // Does not contact the engine: call cleanup_leftovers() at start-up.
  explicit Runtime(RuntimeOptions options);
  // Stops the reaper and stops and removes every warm container; a warm
  // invocation still running finishes first and removes its own. Like any
  // object it must outlive the calls made on it: the owner joins its
  // workers before destroying it.
  ~Runtime() override;

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Inspects the image (kNotFound if the engine does not have it) and, with
  // a warm pool, starts min_warm containers.
  [[nodiscard]] Result<std::shared_ptr<PreparedVariant>> prepare(const Function& function) override;

  // Closes the variant's warm pool: idle containers stop now, busy ones as
  // soon as their invocation ends.
  void retire(PreparedVariant& variant) override;

  // Through the variant's warm pool when it has one, else in a container of
  // its own (cold).
  [[nodiscard]] Result<InvocationResult> invoke(PreparedVariant& variant,
                                                const InvocationRequest& request) override;

  // Warm containers of a variant that exist on the engine (idle, busy,
  // starting or being removed), for metrics.
  [[nodiscard]] std::size_t warm_containers(PreparedVariant& variant) const;
  // The same over every open pool.
  [[nodiscard]] std::size_t warm_containers() const;

  // Is the engine there? (GET /_ping; for /readyz.)
  [[nodiscard]] Status ping();

  // The engine's version, for GET /v1/info.
  [[nodiscard]] Result<EngineVersion> version();

  // Removes every container labelled nebula.function that another Nebula
  // process left behind (a crash), and its stale accounting cgroups.
  [[nodiscard]] Status cleanup_leftovers();

  // This process's instance label value ("<pid>-<random hex>").
  [[nodiscard]] const std::string& instance() const noexcept { return instance_; }

 private:
  struct Prepared;
  struct Pool;
  struct Variant;

  [[nodiscard]] Result<InvocationResult> invoke_cold(const Prepared& prepared,
                                                     const InvocationRequest& request);
  [[nodiscard]] Result<InvocationResult> invoke_warm(const Prepared& prepared, Pool& pool,
                                                     const InvocationRequest& request);
  [[nodiscard]] Result<const CgroupAccounting*> accounting();
  [[nodiscard]] ContainerSpec base_spec(const Prepared& prepared, std::string_view mode) const;
  [[nodiscard]] std::string container_name(std::string_view function, std::uint64_t n) const;
  [[nodiscard]] Result<std::unique_ptr<WarmContainer>> start_warm(const Prepared& prepared);
  void close_pool(Pool& pool);
  // Stops a warm container; one the engine could not remove (it was down)
  // is remembered as an orphan.
  void discard(WarmContainer& container);
  // Containers whose removal failed while the engine was unreachable are
  // removed again as soon as it answers (the next container start, reap
  // or readiness ping), so that an engine restart leaves nothing behind
  // while this server runs; cleanup_leftovers() only covers dead servers.
  void remember_orphan(std::string id);
  void remove_orphans();
  // Open pools, for the reaper and shutdown (expired entries are dropped).
  [[nodiscard]] std::vector<std::shared_ptr<Pool>> open_pools() const;
  // Stops the containers idle past their pool's timeout; returns when the
  // next of those left will be, if any.
  std::optional<Clock::time_point> reap_idle();
  // A container went idle: the reaper must wake by `deadline`.
  void schedule_reap(Clock::time_point deadline);
  void reaper_loop();

  RuntimeOptions options_;
  std::string instance_;
  Client client_;
  std::atomic<std::uint64_t> sequence_{0};

  // Every pool a prepared variant holds. Weak: a pool lives as long as its
  // variant; this list only lets the reaper and shutdown reach it.
  mutable std::mutex pools_mutex_;
  mutable std::vector<std::weak_ptr<Pool>> pools_;  // guarded by pools_mutex_

  std::mutex orphans_mutex_;
  std::vector<std::string> orphans_;  // guarded by orphans_mutex_

  std::mutex accounting_mutex_;  // guards accounting_ (set once)
  std::optional<CgroupAccounting> accounting_;

  // The reaper sleeps until the earliest moment an idle container could
  // expire, and without idle containers until one appears: an idle server
  // holding none never wakes for it.
  std::mutex reaper_mutex_;
  std::condition_variable reaper_cv_;
  Clock::time_point reap_at_ = Clock::time_point::max();  // guarded by reaper_mutex_
  bool stopping_ = false;                                 // guarded by reaper_mutex_
  std::thread reaper_;
};

}  // namespace nebula::docker
