#pragma once

// Where a Nebula server keeps what outlives it: functions and their
// manifests, module blobs, and invocation records. Two implementations:
// SqliteStore (one node, a data directory; the default) and PostgresStore
// (any number of nodes sharing one PostgreSQL). Each node keeps only caches
// of its own: compiled modules on local disk, warm containers, its function
// table.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "core/result.hpp"

namespace nebula::store {

// Filters for list_invocations; unset fields match everything.
struct InvocationQuery {
  static constexpr std::size_t kDefaultLimit = 50;
  static constexpr std::size_t kMaxLimit = 1000;

  std::optional<std::string> function;
  std::optional<RuntimeKind> runtime;
  std::optional<Outcome> outcome;
  // Page size, clamped to [1, kMaxLimit].
  std::size_t limit = kDefaultLimit;
  // Cursor: only records older than this invocation id (the last id of the
  // previous page).
  std::optional<std::string> before;
};

inline constexpr std::size_t kOutcomeCount = 6;  // Outcome::kOk … Outcome::kRejected

// Counts over the kept records of one function and runtime.
struct RuntimeStats {
  std::uint64_t invocations = 0;
  std::uint64_t cold_starts = 0;
  std::array<std::uint64_t, kOutcomeCount> by_outcome{};  // indexed by Outcome
  // Median (nearest rank) start-up of all kept records, and of the cold ones
  // only; unset without records. A warm docker start-up is 0, so
  // the second is the cold-start figure to compare across runtimes.
  std::optional<std::int64_t> p50_startup_us;
  std::optional<std::int64_t> p50_cold_startup_us;

  [[nodiscard]] std::uint64_t count(Outcome outcome) const noexcept {
    return by_outcome[static_cast<std::size_t>(outcome)];
  }
};

struct FunctionStats {
  std::uint64_t invocations = 0;  // all kept records of the function
  RuntimeStats wasm;
  RuntimeStats docker;

  [[nodiscard]] const RuntimeStats& of(RuntimeKind kind) const noexcept {
    return kind == RuntimeKind::kWasm ? wasm : docker;
  }
};

// One immutable version of a function: what a deploy stored.
struct FunctionVersion {
  std::uint64_t version = 0;
  Manifest manifest;
  std::int64_t created_at_us = 0;  // when that deploy happened
};

// What put_function did.
struct PutResult {
  bool created = false;       // false: an existing function got a new version
  std::uint64_t version = 0;  // the new version's number
};

// A secret's name and when it was last written; never its value.
struct SecretInfo {
  std::string name;
  std::int64_t created_at_us = 0;
  std::int64_t updated_at_us = 0;
};

// Where an async invocation is in its life.
//   queued   waiting for its run time (next_run_at_us) and a worker
//   running  a node holds it until lease_until_us; past that, any node may
//            take it again (the node that held it crashed)
//   done     it ran; the result fields hold the answer
//   dead     it failed max_retries + 1 times; the result fields hold the last
enum class TaskState { kQueued, kRunning, kDone, kDead };

[[nodiscard]] const char* to_string(TaskState state) noexcept;
[[nodiscard]] std::optional<TaskState> parse_task_state(std::string_view text) noexcept;

// An async invocation (?async=true) or a schedule's firing, queued in the
// store so that it survives restarts and crashes and runs on any node.
struct AsyncTask {
  std::string id;  // an invocation id (new_invocation_id)
  std::string function;
  std::uint64_t version = 0;           // the version to run (pinned when queued)
  std::optional<RuntimeKind> runtime;  // unset: the version's default
  TriggerKind trigger = TriggerKind::kAsync;
  std::string body;
  // The request's content type and query string, for the CGI variables.
  std::string content_type;
  std::string query;
  // Called with the result when set (only hosts the function may reach).
  std::string callback_url;

  TaskState state = TaskState::kQueued;
  std::uint32_t attempts = 0;  // runs started so far
  std::uint32_t max_retries = 0;
  std::int64_t created_at_us = 0;
  std::int64_t next_run_at_us = 0;  // queued: not before this
  std::int64_t lease_until_us = 0;  // running: held until this
  std::string node;                 // the node that ran (or runs) it last
  std::int64_t finished_at_us = 0;  // done or dead: when

  // The last run's answer: the invocation id of its record, the HTTP status
  // the call would have answered, and the response body (bounded by
  // kMaxTaskResultBytes) or the problem document of a failure.
  std::string invocation_id;
  int status = 0;
  std::string result;
  std::string result_type;  // the result's content type
};

inline constexpr std::size_t kMaxTaskResultBytes = 256 * 1024;

// The wall clock in unix microseconds, as the stores stamp times.
[[nodiscard]] std::int64_t now_unix_us();

// kNotFound for a function that is not deployed, worded the same by every
// store.
[[nodiscard]] Error function_not_found(std::string_view name);

// kInvalidArgument for a record no store can take: its function's name is
// not a valid name, or it has no id.
[[nodiscard]] Status check_record(const InvocationRecord& record);

// Builds FunctionStats from a function's kept records, one row at a time;
// both stores compute the same figures this one way.
class StatsBuilder {
 public:
  void add(RuntimeKind runtime, Outcome outcome, bool cold, std::int64_t startup_us);
  [[nodiscard]] FunctionStats finish();

 private:
  FunctionStats stats_;
  // Start-up times per runtime (indexed by RuntimeKind), all and cold only.
  std::array<std::vector<std::int64_t>, 2> startups_;
  std::array<std::vector<std::int64_t>, 2> cold_startups_;
};

// What a shared store reports about changes other nodes made: a function
// (re)deployed or deleted, by name; or nullopt, "anything may have changed"
// (after a reconnect, and periodically as a safety net for a lost
// notification): compare everything.
using ChangeHandler = std::function<void(const std::optional<std::string>& function)>;

// Thread-safety: every method may be called from any thread. Calls block on
// disk or network I/O and belong on worker threads, never on I/O threads.
class Store {
 public:
  virtual ~Store() = default;

  // --- functions ----------------------------------------------------------

  // Creates a function or deploys a new version of it: the next version
  // number (1 for a new function, else the highest kept one + 1) becomes
  // the serving one. The store stamps the times: created_at_us is kept on
  // replace, updated_at_us is now, and grows with every replace; the times
  // and version in `function` are ignored. Then prunes the function's
  // oldest versions beyond the store's maximum, never the serving one and
  // never one a queued or running task names.
  [[nodiscard]] virtual Result<PutResult> put_function(const Function& function) = 0;
  // kNotFound when no function has that name.
  [[nodiscard]] virtual Result<Function> get_function(std::string_view name) = 0;
  // All functions, by name.
  [[nodiscard]] virtual Result<std::vector<Function>> list_functions() = 0;
  // Removes a function with its versions, invocation records, tasks and
  // schedule state: true when it existed.
  [[nodiscard]] virtual Result<bool> delete_function(std::string_view name) = 0;

  // --- versions ------------------------------------------------------------

  // The kept versions of a function, newest first. kNotFound when the
  // function is not deployed.
  [[nodiscard]] virtual Result<std::vector<FunctionVersion>> list_versions(
      std::string_view name) = 0;
  // kNotFound when the function or that version (never created, or pruned)
  // is not there.
  [[nodiscard]] virtual Result<FunctionVersion> get_version(std::string_view name,
                                                            std::uint64_t version) = 0;
  // Makes a kept version the serving one (a rollback): the function's
  // manifest becomes that version's, updated_at_us is now. Returns the
  // function as now stored. kNotFound as for get_version.
  [[nodiscard]] virtual Result<Function> activate_version(std::string_view name,
                                                          std::uint64_t version) = 0;

  // --- secrets (sealed: the store never sees a value in clear) -------------

  // Creates or replaces a secret: true when created.
  [[nodiscard]] virtual Result<bool> put_secret(std::string_view name, std::string_view sealed) = 0;
  // The sealed value; kNotFound when absent.
  [[nodiscard]] virtual Result<std::string> get_secret(std::string_view name) = 0;
  // All secrets by name, without values.
  [[nodiscard]] virtual Result<std::vector<SecretInfo>> list_secrets() = 0;
  // True when it existed.
  [[nodiscard]] virtual Result<bool> delete_secret(std::string_view name) = 0;

  // --- async tasks ----------------------------------------------------------

  // Queues a task (state queued, its id unique). kOverloaded when the
  // function already has `max_queued` tasks queued or running; kNotFound
  // when the function is not deployed.
  [[nodiscard]] virtual Status enqueue_task(const AsyncTask& task, std::size_t max_queued) = 0;
  // Takes the oldest task that is due: queued with next_run_at_us <= now,
  // or running with lease_until_us <= now (its node died). The task becomes
  // running, held by `node` until now + lease_us, attempts + 1, and is
  // returned as it now is. Exactly one caller across all nodes gets each
  // task. nullopt when nothing is due.
  [[nodiscard]] virtual Result<std::optional<AsyncTask>> claim_task(std::string_view node,
                                                                    std::int64_t now_us,
                                                                    std::int64_t lease_us) = 0;
  // Writes back a claimed task: its state (queued again with a later
  // next_run_at_us for a retry, done or dead) and result fields. Only the
  // node holding it may: kNotFound when the task is gone or another node
  // holds it now.
  [[nodiscard]] virtual Status finish_task(const AsyncTask& task) = 0;
  // kNotFound when no task has that id.
  [[nodiscard]] virtual Result<AsyncTask> get_task(std::string_view id) = 0;
  // When the next task falls due: the earliest next_run_at_us of queued
  // tasks and lease_until_us of running ones; nullopt when there are none.
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> next_task_due() = 0;
  // Makes the running tasks `node` holds due again now (a node restarting
  // after a crash takes back what it held).
  [[nodiscard]] virtual Status release_tasks(std::string_view node) = 0;

  // --- schedules -------------------------------------------------------------

  // Claims the firing of a function's schedule (`key` names the trigger)
  // due at `due_us`: true for exactly one caller across all nodes, and only
  // when `due_us` is later than the last claimed firing of that key.
  [[nodiscard]] virtual Result<bool> claim_firing(std::string_view function, std::string_view key,
                                                  std::int64_t due_us) = 0;
  // Claims a firing (as claim_firing, of `key` of task.function) and queues
  // `task` for it (as enqueue_task) in one transaction, so that a claimed
  // due time always has its task: true when both happened; false when the
  // due time was claimed already (nothing queued). When the task is refused
  // (a full queue: kOverloaded) or the store fails, neither happened.
  [[nodiscard]] virtual Result<bool> fire_task(const AsyncTask& task, std::size_t max_queued,
                                               std::string_view key, std::int64_t due_us) = 0;
  // The due time of the last claimed firing of that key; nullopt when it
  // never fired.
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> last_firing(std::string_view function,
                                                                        std::string_view key) = 0;

  // --- module blobs (content-addressed, written once) ----------------------

  // Stores `bytes` and returns their digest ("sha256:<hex>"); storing
  // content that is already present does nothing.
  [[nodiscard]] virtual Result<std::string> put_blob(std::string_view bytes) = 0;
  // kNotFound when absent.
  [[nodiscard]] virtual Result<std::string> get_blob(std::string_view digest) = 0;
  [[nodiscard]] virtual Result<bool> has_blob(std::string_view digest) = 0;

  // --- invocation records --------------------------------------------------

  // Appends records (ids unique) and prunes each function's oldest records
  // beyond the store's maximum. One status per record, in order: kNotFound
  // for a record of a function that is not deployed (a record never
  // outlives its function); kUnavailable for every record when the store
  // cannot be reached, which the caller may retry.
  [[nodiscard]] virtual std::vector<Status> add_invocations(
      const std::vector<InvocationRecord>& records) = 0;
  // Records matching `query`, newest first. kNotFound when the `before`
  // cursor names no kept record.
  [[nodiscard]] virtual Result<std::vector<InvocationRecord>> list_invocations(
      const InvocationQuery& query) = 0;
  // kNotFound when no kept record has that id.
  [[nodiscard]] virtual Result<InvocationRecord> get_invocation(std::string_view id) = 0;
  // Counts and medians over a function's kept records.
  [[nodiscard]] virtual Result<FunctionStats> function_stats(std::string_view name) = 0;

  // --- operations ----------------------------------------------------------

  // Succeeds when the store answers a query now.
  [[nodiscard]] virtual Status ping() = 0;
  // True when other nodes may change the store (so this node must follow).
  [[nodiscard]] virtual bool shared() const noexcept { return false; }
  // Starts calling `handler` (on a thread of the store's) for changes made
  // by any node, this one included. A store nobody else writes never calls
  // it. Call at most once, before serving.
  virtual void watch(ChangeHandler handler) { (void)handler; }
  // Stops calling the handler; returns once no call is running. Safe to
  // call when not watching.
  virtual void stop_watching() {}
  // "sqlite <path>" or "postgresql <host>:<port>/<db>", for logs (no
  // password).
  [[nodiscard]] virtual std::string describe() const = 0;
};

}  // namespace nebula::store
