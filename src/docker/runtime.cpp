#include "docker/runtime.hpp"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <future>
#include <random>
#include <unistd.h>
#include <vector>

#include "docker/warm_container.hpp"

namespace nebula::docker {
namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024ULL;

std::int64_t micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// "<pid>-<8 hex digits>": the pid lets a later start-up tell a crashed
// instance's leftovers from a live one's; the random part keeps container
// and cgroup names unique across pid reuse.
std::string make_instance() {
  std::random_device random;
  const std::uint32_t salt = random();
  char hex[9];
  auto [end, ec] = std::to_chars(hex, hex + 8, salt, 16);
  const std::string digits(hex, end);
  return std::to_string(getpid()) + "-" + std::string(8 - digits.size(), '0') + digits;
}

bool instance_alive(std::string_view instance) {
  int pid = 0;
  const std::string_view digits = instance.substr(0, instance.find('-'));
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc{} || pid <= 0) return false;
  std::error_code fs_ec;
  return std::filesystem::exists("/proc/" + std::to_string(pid), fs_ec);
}

// Keeps the last `max` bytes of a log.
void append_tail(std::string& log, std::string_view data, std::size_t max) {
  log.append(data);
  // Trim in large steps so that a chatty function does not cost a move per
  // write.
  if (log.size() > 2 * max) log.erase(0, log.size() - max);
}

void trim_tail(std::string& log, std::size_t max) {
  if (log.size() > max) log.erase(0, log.size() - max);
}

std::string output_limit_message(std::uint64_t limit) {
  return "the function's output went over max_output_bytes (" + std::to_string(limit) +
         " bytes); it was killed and its output cut at the limit";
}

std::string memory_message(std::uint32_t memory_mb) {
  return "the function went over its memory limit (memory_mb " + std::to_string(memory_mb) +
         ") and was killed by the kernel";
}

std::string timeout_message(std::uint32_t timeout_ms, bool warm) {
  return "the function did not finish within timeout_ms (" + std::to_string(timeout_ms) +
         " ms); its " + (warm ? "warm container" : "container") + " was killed";
}

// Attach, start, pump stdin and output, wait: everything of a cold
// invocation between create and remove. Fills `result`; an error is a
// platform failure (the caller still removes the container).
Status run_cold(Client& client, const std::string& id, const InvocationRequest& request,
                const RuntimeOptions& options, Clock::time_point startup_begin,
                InvocationResult& result) {
  auto stream = client.attach(id);
  if (!stream) return std::move(stream).error();
  if (Status started = client.start(id); !started) return started;
  const Clock::time_point exec_begin = Clock::now();
  result.timings.startup_us = micros(exec_begin - startup_begin);

  const Limits& limits = request.limits;
  const Clock::time_point exec_deadline = exec_begin + std::chrono::milliseconds(limits.timeout_ms);
  // Ask for the exit code now, on a second connection, while the output is
  // drained: the engine answers as soon as the container stops instead of
  // one more round trip after EOF. The future joins on every path out of
  // this function, and every such path has made the container stop.
  std::future<Result<int>> exit_code = std::async(
      std::launch::async, [&client, &id, deadline = exec_deadline + options.client.call_timeout] {
        return client.wait(id, deadline);
      });
  bool over_limit = false;
  auto sink = [&result, &over_limit, &limits, &options](StreamKind kind, std::string_view data) {
    if (kind == StreamKind::kStderr) {
      append_tail(result.stderr_data, data, options.max_stderr_bytes);
      return true;
    }
    const std::uint64_t used = result.stdout_data.size();
    const std::uint64_t room = limits.max_output_bytes > used ? limits.max_output_bytes - used : 0;
    if (data.size() > room) {
      result.stdout_data.append(data.substr(0, static_cast<std::size_t>(room)));
      over_limit = true;
      return false;
    }
    result.stdout_data.append(data);
    return true;
  };
  auto end = stream->exchange(request.body, true, sink, exec_deadline);
  stream->close();
  trim_tail(result.stderr_data, options.max_stderr_bytes);
  if (!end) {
    (void)client.kill(id);
    return std::move(end).error();
  }
  const bool timed_out = *end == AttachedStream::End::kDeadline;
  if (timed_out || over_limit) {
    if (Status killed = client.kill(id); !killed) return killed;
  }
  Result<int> code = exit_code.get();
  result.timings.exec_us = micros(Clock::now() - exec_begin);
  if (!code) return std::move(code).error();
  result.exit_code = *code;

  if (timed_out) {
    result.outcome = Outcome::kTimeout;
    result.message = timeout_message(limits.timeout_ms, false);
  } else if (over_limit) {
    // Stopped by the platform, as a wasm guest over the cap is: both
    // runtimes report an output overflow as a trap.
    result.outcome = Outcome::kTrap;
    result.output_truncated = true;
    result.message = output_limit_message(limits.max_output_bytes);
  } else if (*code == 0) {
    result.outcome = Outcome::kOk;
  } else {
    // Only a failed run pays for the inspect that tells an OOM kill (exit
    // 137 with State.OOMKilled) from any other non-zero exit.
    auto state = client.inspect_container(id);
    if (state && state->oom_killed) {
      result.outcome = Outcome::kMemory;
      result.message = memory_message(limits.memory_mb);
    } else {
      result.outcome = Outcome::kExit;
      result.message = "the function exited with code " + std::to_string(*code);
    }
  }
  return {};
}

}  // namespace

// What prepare() learned about a function; immutable once published.
struct Runtime::Prepared {
  Function function;
  ImageInfo image;
};

// A function's warm containers. Counts are kept so that running + starting
// + stopping never exceeds max_warm, and so that shutdown can wait until no
// thread still uses the engine client for this pool.
struct Runtime::Pool {
  explicit Pool(DockerPool settings_in) : settings(settings_in) {}

  [[nodiscard]] std::size_t total() const { return idle.size() + busy + starting + stopping; }

  const DockerPool settings;
  std::mutex mutex;
  std::condition_variable cv;                        // a container or a slot became free
  std::vector<std::unique_ptr<WarmContainer>> idle;  // back: most recently used
  std::size_t busy = 0;                              // handed to an invocation
  std::size_t starting = 0;                          // being created and started
  std::size_t stopping = 0;                          // being removed
  bool closed = false;                               // the function was removed or replaced
};

// A docker variant: what prepare() learned, and the warm pool (null: cold
// only). The pool lives exactly as long as the variant.
struct Runtime::Variant final : PreparedVariant {
  std::shared_ptr<const Prepared> prepared;
  std::shared_ptr<Pool> pool;
};

Runtime::Runtime(RuntimeOptions options)
    : options_(std::move(options)), instance_(make_instance()), client_(options_.client) {
  reaper_ = std::thread([this] { reaper_loop(); });
}

Runtime::~Runtime() {
  {
    std::lock_guard lock(reaper_mutex_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  reaper_.join();

  for (const std::shared_ptr<Pool>& pool : open_pools()) {
    close_pool(*pool);
    // Invocations still running stop their container when they end.
    std::unique_lock lock(pool->mutex);
    pool->cv.wait(lock,
                  [&pool] { return pool->busy == 0 && pool->starting == 0 && pool->stopping == 0; });
  }
  // A last try for what the engine could not remove while it was down;
  // what is still left is the next start-up's cleanup.
  remove_orphans();
  std::lock_guard lock(accounting_mutex_);
  if (accounting_) accounting_->remove_instance();
}

Status Runtime::ping() {
  Status st = client_.ping();
  if (st) remove_orphans();
  return st;
}

void Runtime::discard(WarmContainer& container) {
  if (!container.stop()) remember_orphan(container.id());
}

void Runtime::remember_orphan(std::string id) {
  std::lock_guard lock(orphans_mutex_);
  orphans_.push_back(std::move(id));
}

void Runtime::remove_orphans() {
  std::vector<std::string> orphans;
  {
    std::lock_guard lock(orphans_mutex_);
    if (orphans_.empty()) return;
    orphans.swap(orphans_);
  }
  for (auto& id : orphans) {
    if (!client_.remove(id)) remember_orphan(std::move(id));
  }
}

Result<EngineVersion> Runtime::version() {
  return client_.engine_version();
}

std::vector<std::shared_ptr<Runtime::Pool>> Runtime::open_pools() const {
  std::vector<std::shared_ptr<Pool>> pools;
  std::lock_guard lock(pools_mutex_);
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (auto pool = it->lock()) {
      pools.push_back(std::move(pool));
      ++it;
    } else {
      it = pools_.erase(it);
    }
  }
  return pools;
}

Result<const CgroupAccounting*> Runtime::accounting() {
  std::lock_guard lock(accounting_mutex_);
  if (!accounting_) {
    auto info = client_.info();
    if (!info) return std::move(info).error();
    accounting_.emplace(options_.cgroup_root, *info, instance_);
  }
  return &*accounting_;
}

std::string Runtime::container_name(std::string_view function, std::uint64_t n) const {
  return "nebula-" + std::string(function) + "-" + instance_ + "-" + std::to_string(n);
}

ContainerSpec Runtime::base_spec(const Prepared& prepared, std::string_view mode) const {
  const Manifest& manifest = prepared.function.manifest;
  ContainerSpec spec;
  spec.image = *manifest.docker_image;
  spec.labels = {{std::string(kFunctionLabel), prepared.function.name},
                 {std::string(kInstanceLabel), instance_},
                 {std::string(kModeLabel), std::string(mode)}};
  spec.memory_bytes = std::uint64_t{manifest.limits.memory_mb} * kMiB;
  spec.nano_cpus = static_cast<std::int64_t>(options_.cpus * 1e9);
  spec.pids_limit = options_.pids_limit;
  // Scratch space that cannot fill the host's disk: a tmpfs, charged to
  // the container's memory, so at most a quarter of its limit.
  spec.tmp_bytes = std::min<std::uint64_t>(options_.max_tmp_bytes, spec.memory_bytes / 4);
  return spec;
}

Result<std::shared_ptr<PreparedVariant>> Runtime::prepare(const Function& function) {
  const Manifest& manifest = function.manifest;
  if (!manifest.docker_image) {
    return make_error(ErrorKind::kNotFound,
                      "function '" + function.name + "' has no docker variant");
  }
  auto image = client_.inspect_image(*manifest.docker_image);
  if (!image) return std::move(image).error();

  auto entry = std::make_shared<Variant>();
  entry->prepared = std::make_shared<const Prepared>(Prepared{function, std::move(image).value()});
  const DockerPool& settings = manifest.docker_pool;
  if (settings.max_warm > 0) {
    std::error_code ec;
    if (options_.watchdog_path.empty() ||
        !std::filesystem::is_regular_file(options_.watchdog_path, ec)) {
      return make_error(ErrorKind::kUnavailable,
                        "function " + function.name +
                            " asks for a warm pool, which needs the nebula-watchdog binary (at '" +
                            options_.watchdog_path +
                            "'); build the nebula-watchdog target or set docker_pool.max_warm "
                            "to 0");
    }
    if (entry->prepared->image.command().empty()) {
      return make_error(ErrorKind::kInvalidArgument,
                        "image " + *manifest.docker_image +
                            " has neither Entrypoint nor Cmd, so a warm container has nothing "
                            "to run");
    }
    entry->pool = std::make_shared<Pool>(settings);
  }
  if (!entry->pool) return std::shared_ptr<PreparedVariant>(std::move(entry));
  {
    std::lock_guard lock(pools_mutex_);
    pools_.push_back(entry->pool);
  }

  // Pre-warm min_warm containers (no more than max_warm).
  Pool& pool = *entry->pool;
  const std::uint32_t wanted = std::min(settings.min_warm, settings.max_warm);
  for (std::uint32_t i = 0; i < wanted; ++i) {
    {
      std::lock_guard lock(pool.mutex);
      ++pool.starting;
    }
    auto started = start_warm(*entry->prepared);
    {
      std::lock_guard lock(pool.mutex);
      --pool.starting;
      pool.cv.notify_all();
      if (started) {
        std::unique_ptr<WarmContainer> container = std::move(started).value();
        container->last_used = Clock::now();
        schedule_reap(container->last_used + std::chrono::seconds(settings.idle_timeout_s));
        pool.idle.push_back(std::move(container));
        continue;
      }
    }
    // A function whose containers cannot start cannot be deployed: stop
    // the ones already started (the pool goes with the variant).
    close_pool(pool);
    return std::move(started).error();
  }
  return std::shared_ptr<PreparedVariant>(std::move(entry));
}

void Runtime::retire(PreparedVariant& variant) {
  auto& docker = variant_cast<Variant>(variant);
  if (docker.pool) close_pool(*docker.pool);
}

void Runtime::close_pool(Pool& pool) {
  std::vector<std::unique_ptr<WarmContainer>> idle;
  {
    std::lock_guard lock(pool.mutex);
    pool.closed = true;
    idle.swap(pool.idle);
    pool.stopping += idle.size();
    pool.cv.notify_all();
  }
  for (auto& container : idle) discard(*container);
  std::lock_guard lock(pool.mutex);
  pool.stopping -= idle.size();
  pool.cv.notify_all();
}

std::size_t Runtime::warm_containers(PreparedVariant& variant) const {
  auto& docker = variant_cast<Variant>(variant);
  if (!docker.pool) return 0;
  std::lock_guard lock(docker.pool->mutex);
  // Every container that exists, including those still starting or being
  // removed: this is what the engine holds for the function.
  return docker.pool->total();
}

std::size_t Runtime::warm_containers() const {
  std::size_t total = 0;
  for (const std::shared_ptr<Pool>& pool : open_pools()) {
    std::lock_guard lock(pool->mutex);
    total += pool->total();
  }
  return total;
}

Result<InvocationResult> Runtime::invoke(PreparedVariant& variant,
                                         const InvocationRequest& request) {
  auto& docker = variant_cast<Variant>(variant);
  if (docker.pool) return invoke_warm(*docker.prepared, *docker.pool, request);
  return invoke_cold(*docker.prepared, request);
}

Result<InvocationResult> Runtime::invoke_cold(const Prepared& prepared,
                                              const InvocationRequest& request) {
  remove_orphans();
  auto accounts = accounting();
  if (!accounts) return std::move(accounts).error();
  const CgroupAccounting& accounting = **accounts;

  const std::uint64_t n = ++sequence_;
  ContainerSpec spec = base_spec(prepared, "cold");
  spec.memory_bytes = std::uint64_t{request.limits.memory_mb} * kMiB;
  spec.cmd = request.args;
  spec.env = request.env;
  spec.cgroup_parent = accounting.parent_for(n);

  InvocationResult result;
  result.cold = true;
  const Clock::time_point startup_begin = Clock::now();
  auto id = client_.create_container(spec, container_name(request.function, n));
  if (!id) {
    accounting.remove(spec.cgroup_parent);
    return std::move(id).error();
  }
  Status ran = run_cold(client_, *id, request, options_, startup_begin, result);

  // Always remove the container, whatever happened above. A removal that
  // fails is tried again once the engine answers; the invocation's own
  // result stands.
  const Clock::time_point teardown_begin = Clock::now();
  if (!client_.remove(*id)) remember_orphan(*id);
  result.timings.teardown_us = micros(Clock::now() - teardown_begin);
  // The parent cgroup outlives the container and holds its totals.
  const CgroupUsage usage = accounting.read(spec.cgroup_parent);
  accounting.remove(spec.cgroup_parent);
  if (!ran) return std::move(ran).error();

  result.cpu_us = usage.cpu_us;
  result.max_memory_bytes = usage.max_memory_bytes;
  return result;
}

Result<std::unique_ptr<WarmContainer>> Runtime::start_warm(const Prepared& prepared) {
  remove_orphans();
  const Manifest& manifest = prepared.function.manifest;
  ContainerSpec spec = base_spec(prepared, "warm");
  spec.entrypoint = {std::string(kWatchdogMountPoint)};
  spec.cmd = prepared.image.command();
  spec.env = manifest.env;
  spec.binds = {options_.watchdog_path + ":" + std::string(kWatchdogMountPoint) + ":ro"};
  // No CgroupParent: the container's own cgroup is read around each
  // request (WarmContainer::call).
  const std::uint64_t n = ++sequence_;
  return WarmContainer::start(client_, spec, container_name(prepared.function.name, n),
                              options_.cgroup_root, Clock::now() + options_.client.call_timeout);
}

Result<InvocationResult> Runtime::invoke_warm(const Prepared& prepared, Pool& pool,
                                              const InvocationRequest& request) {
  const Clock::time_point begin = Clock::now();
  const auto timeout = std::chrono::milliseconds(request.limits.timeout_ms);

  // Take the most recently used idle container (LIFO, so that surplus
  // containers stay idle and the reaper can shrink the pool), start a new
  // one if the pool has room, or queue.
  std::unique_ptr<WarmContainer> container;
  bool fresh = false;
  {
    std::unique_lock lock(pool.mutex);
    const Clock::time_point queue_deadline = begin + timeout;
    for (;;) {
      if (pool.closed) {
        return make_error(ErrorKind::kNotFound,
                          "function " + request.function + " was removed from the docker runtime");
      }
      if (!pool.idle.empty()) {
        std::unique_ptr<WarmContainer> candidate = std::move(pool.idle.back());
        pool.idle.pop_back();
        if (candidate->alive()) {
          container = std::move(candidate);
          ++pool.busy;
          break;
        }
        // It died while idle (killed from outside, engine restart): remove
        // it outside the lock, then look again.
        ++pool.stopping;
        lock.unlock();
        discard(*candidate);
        candidate.reset();
        lock.lock();
        --pool.stopping;
        pool.cv.notify_all();
        continue;
      }
      if (pool.total() < pool.settings.max_warm) {
        ++pool.starting;
        fresh = true;
        break;
      }
      if (Clock::now() >= queue_deadline) {
        return make_error(ErrorKind::kOverloaded,
                          "all " + std::to_string(pool.settings.max_warm) + " warm containers of " +
                              request.function + " stayed busy for timeout_ms; try again later");
      }
      pool.cv.wait_until(lock, queue_deadline);
    }
  }

  InvocationResult result;
  result.timings.queue_us = micros(Clock::now() - begin);
  result.cold = fresh;
  if (fresh) {
    // A request that needs a new container is a cold start, and says so.
    const Clock::time_point startup_begin = Clock::now();
    auto started = start_warm(prepared);
    std::lock_guard lock(pool.mutex);
    --pool.starting;
    if (!started) {
      pool.cv.notify_one();
      return std::move(started).error();
    }
    ++pool.busy;
    container = std::move(started).value();
    result.timings.startup_us = micros(Clock::now() - startup_begin);
  }

  watchdog::Request call;
  call.max_stdout_bytes = request.limits.max_output_bytes;
  call.max_stderr_bytes = options_.max_stderr_bytes;
  call.env = request.env;
  if (!request.args.empty()) {
    // As in cold mode, args replace the image's Cmd and keep its Entrypoint.
    call.argv = prepared.image.entrypoint;
    call.argv.insert(call.argv.end(), request.args.begin(), request.args.end());
  }
  call.stdin_data = request.body;

  const Clock::time_point exec_begin = Clock::now();
  WarmContainer::Answer answer = container->call(call, exec_begin + timeout);
  result.timings.exec_us = micros(Clock::now() - exec_begin);

  std::optional<Error> failure;
  switch (answer.end) {
    case WarmContainer::End::kAnswered: {
      watchdog::Response& response = answer.response;
      result.stdout_data = std::move(response.stdout_data);
      result.stderr_data = std::move(response.stderr_data);
      // The container's cgroup, as for a cold container; the watchdog's
      // rusage of its child would be a different quantity.
      result.cpu_us = answer.usage.cpu_us;
      result.max_memory_bytes = answer.usage.max_memory_bytes;
      if (response.kind == watchdog::ExitKind::kSpawnFailed) {
        failure = make_error(ErrorKind::kInternal,
                             "the watchdog in a warm container of " + request.function +
                                 " could not run the function: " + response.message);
      } else if (response.kind == watchdog::ExitKind::kExited) {
        result.exit_code = response.code;
        result.outcome = response.code == 0 ? Outcome::kOk : Outcome::kExit;
        if (response.code != 0) {
          result.message = "the function exited with code " + std::to_string(response.code);
        }
      } else {
        // Killed by a signal: report it as a shell would, 128 + signal.
        result.exit_code = 128 + response.code;
        if (response.killed_for_output) {
          result.outcome = Outcome::kTrap;
          result.output_truncated = true;
          result.message = output_limit_message(request.limits.max_output_bytes);
        } else if (response.code == SIGKILL &&
                   container->oom_kill_since_last_check().value_or(true)) {
          // Inside the container nothing but the kernel's OOM killer sends
          // SIGKILL to the function (the engine would kill the watchdog
          // too), so an unreadable counter still means memory.
          result.outcome = Outcome::kMemory;
          result.message = memory_message(request.limits.memory_mb);
        } else {
          result.outcome = Outcome::kExit;
          result.message = "the function was killed by signal " + std::to_string(response.code);
        }
      }
      break;
    }
    case WarmContainer::End::kTimeout:
      result.outcome = Outcome::kTimeout;
      result.exit_code = 128 + SIGKILL;
      result.message = timeout_message(request.limits.timeout_ms, true);
      break;
    case WarmContainer::End::kBroken:
      if (container->died_of_oom()) {
        // The kernel killed the watchdog itself: the function's memory use
        // took the whole container over its limit.
        result.outcome = Outcome::kMemory;
        result.exit_code = 128 + SIGKILL;
        result.message = memory_message(request.limits.memory_mb);
      } else {
        failure = make_error(ErrorKind::kInternal, "the warm container of " + request.function +
                                                       " failed: " + answer.error);
      }
      break;
  }

  // Back to the pool, or — after a timeout or a broken stream — stopped and
  // replaced by the next request that needs one.
  {
    std::lock_guard lock(pool.mutex);
    if (!pool.closed && container->alive()) {
      container->last_used = Clock::now();
      schedule_reap(container->last_used + std::chrono::seconds(pool.settings.idle_timeout_s));
      pool.idle.push_back(std::move(container));
      --pool.busy;
      pool.cv.notify_one();
    }
  }
  if (container) {
    const Clock::time_point teardown_begin = Clock::now();
    discard(*container);
    container.reset();
    result.timings.teardown_us = micros(Clock::now() - teardown_begin);
    std::lock_guard lock(pool.mutex);
    --pool.busy;
    pool.cv.notify_all();
  }
  if (failure) return std::move(*failure);
  return result;
}

std::optional<Clock::time_point> Runtime::reap_idle() {
  remove_orphans();
  const std::vector<std::shared_ptr<Pool>> pools = open_pools();
  const Clock::time_point now = Clock::now();
  std::optional<Clock::time_point> next;
  for (const std::shared_ptr<Pool>& pool : pools) {
    std::vector<std::unique_ptr<WarmContainer>> expired;
    {
      std::lock_guard lock(pool->mutex);
      const auto idle_timeout = std::chrono::seconds(pool->settings.idle_timeout_s);
      auto& idle = pool->idle;
      for (auto it = idle.begin(); it != idle.end();) {
        if (now - (*it)->last_used >= idle_timeout || !(*it)->alive()) {
          expired.push_back(std::move(*it));
          it = idle.erase(it);
        } else {
          const Clock::time_point expiry = (*it)->last_used + idle_timeout;
          next = next ? std::min(*next, expiry) : expiry;
          ++it;
        }
      }
      pool->stopping += expired.size();
    }
    if (expired.empty()) continue;
    for (auto& container : expired) discard(*container);
    std::lock_guard lock(pool->mutex);
    pool->stopping -= expired.size();
    pool->cv.notify_all();
  }
  return next;
}

void Runtime::schedule_reap(Clock::time_point deadline) {
  std::lock_guard lock(reaper_mutex_);
  if (deadline >= reap_at_) return;  // it wakes early enough already
  reap_at_ = deadline;
  reaper_cv_.notify_all();
}

void Runtime::reaper_loop() {
  std::unique_lock lock(reaper_mutex_);
  while (!stopping_) {
    if (reap_at_ == Clock::time_point::max()) {
      reaper_cv_.wait(lock);  // no idle container: sleep until one appears
      continue;
    }
    if (Clock::now() < reap_at_) {
      reaper_cv_.wait_until(lock, reap_at_);
      continue;
    }
    // Due. What stays idle sets the next deadline; a container going idle
    // meanwhile sets its own.
    reap_at_ = Clock::time_point::max();
    lock.unlock();
    const std::optional<Clock::time_point> next = reap_idle();
    lock.lock();
    if (next && *next < reap_at_) reap_at_ = *next;
  }
}

Status Runtime::cleanup_leftovers() {
  auto containers = client_.list_containers(kFunctionLabel);
  if (!containers) return std::move(containers).error();
  std::optional<Error> first_error;
  for (const ContainerSummary& container : *containers) {
    auto instance = container.labels.find(kInstanceLabel);
    if (instance != container.labels.end() &&
        (instance->second == instance_ || instance_alive(instance->second))) {
      continue;  // ours, or a live Nebula process's
    }
    if (Status removed = client_.remove(container.id); !removed && !first_error) {
      first_error = std::move(removed).error();
    }
  }
  if (auto accounts = accounting()) (*accounts)->remove_stale_instances();
  if (first_error) return std::move(*first_error);
  return {};
}

}  // namespace nebula::docker
