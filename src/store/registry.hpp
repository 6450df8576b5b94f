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
  // How long a statement waits for a lock held by another connection (the
  // sqlite3 shell, a backup) before failing with kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// The SQLite registry of deployed functions and their invocation records
//, in <data>/nebula.db.
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
// owns a data directory at a time.
class Registry {
 public:
  // Opens or creates <data_dir>/nebula.db (creating data_dir if needed) and
  // brings its schema up to date.
  [[nodiscard]] static Result<std::unique_ptr<Registry>> open(const std::filesystem::path& data_dir,
                                                              RegistryOptions options = {});

  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Creates or replaces a function: true when it was created. The store
  // stamps the times: created_at_us is kept on replace, updated_at_us is
  // now; the times in `function` are ignored.
  [[nodiscard]] Result<bool> put_function(const Function& function);

  // kNotFound when no function has that name.
  [[nodiscard]] Result<Function> get_function(std::string_view name);

  // All functions, by name.
  [[nodiscard]] Result<std::vector<Function>> list_functions();

  // Removes a function and its invocation records: true when it existed.
  [[nodiscard]] Result<bool> delete_function(std::string_view name);

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
