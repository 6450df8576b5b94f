#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "core/result.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace nebula::store {

struct RegistryOptions {
  // Invocation records kept per function; older ones are pruned as new ones
  // arrive. At least 1.
  std::size_t max_records_per_function = 1000;
  // Versions kept per function (put_function prunes the oldest beyond it,
  // never the serving one or one a pending task names). At least 1.
  std::size_t max_versions_per_function = 20;
  // How long a statement waits for a lock held by another connection (the
  // sqlite3 shell, a backup) before failing with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// The SQLite registry in <data>/nebula.db: deployed functions and their
// versions, invocation records, sealed secrets, async tasks and schedule
// firings.
//
// Durability: WAL journal with synchronous=NORMAL. A commit is appended to
// the WAL by write() before it returns, so it survives the process crashing
// or being killed at any point; only an OS crash or power cut can lose the
// last commits (never corrupt the database), because the WAL is fsynced at
// checkpoints rather than at every commit. That trade buys the invocation
// log's write rate.
//
// Thread-safety: every public method may be called from any thread. One
// connection, guarded by a mutex, serves all of them; calls block on disk
// I/O and belong on worker threads, never on the I/O threads. One server
// owns a data directory at a time. Claims of tasks and schedule firings are
// atomic even across connections to the same file (each runs in a BEGIN
// IMMEDIATE transaction), so a second connection can never make two
// callers run the same task.
class Registry {
 public:
  // Opens or creates <data_dir>/nebula.db (creating data_dir if needed) and
  // brings its schema up to date.
  [[nodiscard]] static Result<std::unique_ptr<Registry>> open(const std::filesystem::path& data_dir,
                                                              RegistryOptions options = {});

  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Creates a function or deploys its next version (see Store::put_function),
  // in one transaction: the version row, the function's serving manifest and
  // the pruning of old versions commit together. The store stamps the times:
  // created_at_us is kept on replace, updated_at_us is now and grows with
  // every change; the times and version in `function` are ignored.
  [[nodiscard]] Result<PutResult> put_function(const Function& function);

  // kNotFound when no function has that name.
  [[nodiscard]] Result<Function> get_function(std::string_view name);

  // All functions, by name.
  [[nodiscard]] Result<std::vector<Function>> list_functions();

  // Removes a function with its versions, invocation records, tasks and
  // schedule firings: true when it existed.
  [[nodiscard]] Result<bool> delete_function(std::string_view name);

  // --- versions (see Store) ---

  [[nodiscard]] Result<std::vector<FunctionVersion>> list_versions(std::string_view name);
  [[nodiscard]] Result<FunctionVersion> get_version(std::string_view name, std::uint64_t version);
  // Also prunes versions beyond max_versions_per_function (a maximum lowered
  // since the last deploy), keeping the one it makes serving.
  [[nodiscard]] Result<Function> activate_version(std::string_view name, std::uint64_t version);

  // --- secrets: sealed bytes, stored as given ---

  [[nodiscard]] Result<bool> put_secret(std::string_view name, std::string_view sealed);
  [[nodiscard]] Result<std::string> get_secret(std::string_view name);
  [[nodiscard]] Result<std::vector<SecretInfo>> list_secrets();
  [[nodiscard]] Result<bool> delete_secret(std::string_view name);

  // --- async tasks (see Store) ---

  // A task with version 0 is pinned to the function's serving version.
  [[nodiscard]] Status enqueue_task(const AsyncTask& task, std::size_t max_queued);
  [[nodiscard]] Result<std::optional<AsyncTask>> claim_task(std::string_view node,
                                                            std::int64_t now_us,
                                                            std::int64_t lease_us);
  // Writes the task's state, next_run_at_us, lease_until_us, finished_at_us
  // (stamped now when a final state comes without one) and result fields;
  // a final state prunes the function's oldest finished tasks beyond
  // max_records_per_function.
  [[nodiscard]] Status finish_task(const AsyncTask& task);
  [[nodiscard]] Result<AsyncTask> get_task(std::string_view id);
  [[nodiscard]] Result<std::optional<std::int64_t>> next_task_due();
  [[nodiscard]] Status release_tasks(std::string_view node);

  // --- schedules (see Store) ---

  [[nodiscard]] Result<bool> claim_firing(std::string_view function, std::string_view key,
                                          std::int64_t due_us);
  [[nodiscard]] Result<bool> fire_task(const AsyncTask& task, std::size_t max_queued,
                                       std::string_view key, std::int64_t due_us);
  [[nodiscard]] Result<std::optional<std::int64_t>> last_firing(std::string_view function,
                                                                std::string_view key);

  // Appends a record (its id must be unique, e.g. new_invocation_id()) and
  // prunes the function's oldest records so that never more than
  // max_records_per_function are kept. Pruning deletes in batches of up to
  // 64 records (at most 1/16 of the maximum), so a full log holds between
  // max - 63 and max records. Returns once the record is committed;
  // concurrent callers share commits. kNotFound when the function is not
  // deployed (a record never outlives its function).
  [[nodiscard]] Status add_invocation(const InvocationRecord& record);

  // Appends many records in one transaction (with the same pruning), for a
  // caller that batches records itself. One status per record, in order.
  [[nodiscard]] std::vector<Status> add_invocations(const std::vector<InvocationRecord>& records);

  // Records matching `query`, newest first. kNotFound when the `before`
  // cursor names no kept record (e.g. it was pruned).
  [[nodiscard]] Result<std::vector<InvocationRecord>> list_invocations(
      const InvocationQuery& query);

  // kNotFound when no kept record has that id.
  [[nodiscard]] Result<InvocationRecord> get_invocation(std::string_view id);

  // Counts and medians over a function's kept records (all zero when it has
  // none; the function need not exist).
  [[nodiscard]] Result<FunctionStats> function_stats(std::string_view name);

  [[nodiscard]] const RegistryOptions& options() const noexcept { return options_; }

 private:
  // One caller's record waiting in the group-commit queue. Lives on the
  // caller's stack until `done`; the writer fills `result` first.
  struct PendingInsert {
    const InvocationRecord* record;
    Status result;
    bool done;
  };

  // Cached statements, prepared once at open. They are declared after db_
  // and so destroyed before the connection they belong to.
  struct Statements;

  Registry(Database db, RegistryOptions options);

  // The unlocked workers behind the public methods; callers hold mutex_.
  [[nodiscard]] Status prepare_statements();
  [[nodiscard]] Result<std::int64_t> kept_records(const std::string& function);
  void write_batch(const std::vector<PendingInsert*>& batch);
  [[nodiscard]] Result<Statement*> list_statement(const InvocationQuery& query);

  // What a deploy or a rollback needs to know of a function's row.
  struct FunctionState {
    std::uint64_t version = 0;  // serving
    std::int64_t created_at_us = 0;
    std::int64_t updated_at_us = 0;
    std::uint64_t max_version = 0;  // the newest kept version
  };
  // nullopt when the function is not deployed.
  [[nodiscard]] Result<std::optional<FunctionState>> function_state(std::string_view name);
  // The kept version numbers, ascending.
  [[nodiscard]] Result<std::vector<std::uint64_t>> kept_versions(std::string_view name);
  // kNotFound for a version that is not kept, naming the kept ones.
  [[nodiscard]] Error version_not_found(std::string_view name, std::uint64_t version);
  // nullopt when that version is not kept.
  [[nodiscard]] Result<std::optional<FunctionVersion>> find_version(std::string_view name,
                                                                    std::uint64_t version);
  // Deletes versions beyond the newest max_versions_per_function, except
  // `serving` and those a queued or running task names.
  [[nodiscard]] Status prune_versions(std::string_view name, std::uint64_t serving);
  // Deletes the oldest finished tasks of a function beyond
  // max_records_per_function.
  [[nodiscard]] Status prune_finished_tasks(std::string_view function);
  [[nodiscard]] Result<std::optional<AsyncTask>> find_task(std::string_view id);
  // The bodies of enqueue_task and claim_firing, inside the caller's
  // transaction (mutex_ held), so that fire_task can run both in one.
  [[nodiscard]] Status insert_task(const AsyncTask& task, std::size_t max_queued);
  [[nodiscard]] Result<bool> claim_firing_in(std::string_view function, std::string_view key,
                                             std::int64_t due_us);

  // Lock order: queue_mutex_ is never held while taking mutex_.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<PendingInsert*> queue_;  // records waiting for the next commit
  bool writing_ = false;               // a caller is committing a batch

  std::mutex mutex_;  // guards the connection and everything below
  RegistryOptions options_;
  Database db_;
  std::unique_ptr<Statements> stmts_;
  // list_invocations' statements, one per combination of filters (bit 0:
  // function, 1: runtime, 2: outcome, 3: before), prepared on first use.
  std::array<Statement, 16> list_stmts_;
  // Number of kept records per function, loaded on the first insert after
  // open and updated by every committed batch, so that deciding to prune
  // costs nothing and pruning deletes exactly the excess through the
  // (function, seq) index.
  std::unordered_map<std::string, std::int64_t> kept_;

  // Checkpoints run on their own connection and thread, so the fsync and
  // the copy of the WAL into the database never happen inside a write that
  // an invocation is waiting for (they showed up as 30 ms stalls in the
  // invoke route's p99). The write connection has wal_autocheckpoint off.
  void checkpoint_loop();
  std::optional<Database> checkpoint_db_;
  std::filesystem::path wal_path_;  // <data_dir>/nebula.db-wal
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_stop_ = false;  // guarded by checkpoint_mutex_
  bool checkpoint_due_ = false;   // written since the last checkpoint; same
  // Tells the checkpointer a commit happened; callers hold mutex_.
  void wrote();
  std::thread checkpointer_;
};

}  // namespace nebula::store
