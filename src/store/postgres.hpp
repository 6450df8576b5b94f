#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/store.hpp"

// libpq's connection, kept out of every includer.
struct pg_conn;

namespace nebula::store {

struct PostgresOptions {
  // Invocation records kept per function (about: see add_invocations);
  // older ones are pruned. At least 1.
  std::size_t max_records_per_function = 1000;
  // Versions kept per function (put_function prunes the oldest beyond it,
  // never the serving one or one a pending task names). At least 1.
  std::size_t max_versions_per_function = 20;
  // Connections for queries (the listener has its own).
  std::size_t connections = 4;
  // How long a connection attempt may take.
  std::chrono::seconds connect_timeout{3};
  // After a failed connection attempt, further attempts wait this long,
  // doubling up to max_backoff, so that a store that is down is not
  // hammered and callers fail fast with kUnavailable meanwhile.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // The watcher reports "anything may have changed" this often, the safety
  // net for a notification lost while the listener reconnected.
  std::chrono::milliseconds resync_interval{10'000};
};

// True for "postgresql://…" and "postgres://…" (libpq's URI forms) and for
// libpq key=value strings ("host=… dbname=…").
[[nodiscard]] bool is_postgres_dsn(std::string_view dsn) noexcept;

// The shared store: functions and their versions, module blobs, invocation
// records, secrets (sealed), async tasks and schedule firings in one
// PostgreSQL database that any number of Nebula nodes use at once.
//
// Schema: created and migrated by open(), one transaction per step under an
// advisory lock (nodes starting together migrate once). The version lives
// in schema_version; a database with a newer schema than this build knows
// is refused with a message saying so.
//
// Changes: put_function, activate_version and delete_function NOTIFY the
// channel "nebula_functions" with the function's name in the same
// transaction, so the notification is sent exactly when the change commits.
// watch() runs a listener thread on its own connection.
//
// Versions: a deploy and a rollback of one function take an exclusive
// transaction-scoped advisory lock on its name, so that two nodes deploying
// at once get distinct numbers and a prune never races a rollback;
// enqueue_task takes the same lock shared, so that a prune sees every task
// that names a version before it deletes that version.
//
// Async tasks: claim_task takes the oldest due row with FOR UPDATE SKIP
// LOCKED, so concurrent claimers on any number of nodes never get the same
// task and never wait for each other.
//
// Failures: a lost connection is dropped and a new one made on the next
// call, after a backoff; meanwhile calls fail with kUnavailable, which is
// what /readyz and the record writer act on. Nothing here retries a
// statement on its own.
//
// Thread-safe: a small pool of connections serves concurrent callers.
class PostgresStore final : public Store {
 public:
  // Connects (the server must answer now), migrates the schema, and keeps
  // the connection for the pool.
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> open(std::string dsn,
                                                                   PostgresOptions options = {});

  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;
  ~PostgresStore() override;

  [[nodiscard]] Result<PutResult> put_function(const Function& function) override;
  [[nodiscard]] Result<Function> get_function(std::string_view name) override;
  [[nodiscard]] Result<std::vector<Function>> list_functions() override;
  [[nodiscard]] Result<bool> delete_function(std::string_view name) override;
  [[nodiscard]] Result<std::vector<FunctionVersion>> list_versions(std::string_view name) override;
  [[nodiscard]] Result<FunctionVersion> get_version(std::string_view name,
                                                    std::uint64_t version) override;
  [[nodiscard]] Result<Function> activate_version(std::string_view name,
                                                  std::uint64_t version) override;
  [[nodiscard]] Result<bool> put_secret(std::string_view name, std::string_view sealed) override;
  [[nodiscard]] Result<std::string> get_secret(std::string_view name) override;
  [[nodiscard]] Result<std::vector<SecretInfo>> list_secrets() override;
  [[nodiscard]] Result<bool> delete_secret(std::string_view name) override;
  // A task naming version 0 runs the version serving when it is queued
  // (stored pinned). The count against `max_queued` is taken inside the
  // statement that inserts, but concurrent enqueues (on this node's other
  // connections or on other nodes) do not see each other's uncommitted
  // rows, so a burst may overshoot by up to one task per concurrent
  // enqueuer; exactness would serialise every enqueue of a function across
  // all nodes, which costs more than a queue a few calls longer.
  [[nodiscard]] Status enqueue_task(const AsyncTask& task, std::size_t max_queued) override;
  [[nodiscard]] Result<std::optional<AsyncTask>> claim_task(std::string_view node,
                                                            std::int64_t now_us,
                                                            std::int64_t lease_us) override;
  [[nodiscard]] Status finish_task(const AsyncTask& task) override;
  [[nodiscard]] Result<AsyncTask> get_task(std::string_view id) override;
  [[nodiscard]] Result<std::optional<std::int64_t>> next_task_due() override;
  [[nodiscard]] Status release_tasks(std::string_view node) override;
  [[nodiscard]] Result<bool> claim_firing(std::string_view function, std::string_view key,
                                          std::int64_t due_us) override;
  [[nodiscard]] Result<bool> fire_task(const AsyncTask& task, std::size_t max_queued,
                                       std::string_view key, std::int64_t due_us) override;
  [[nodiscard]] Result<std::optional<std::int64_t>> last_firing(std::string_view function,
                                                                std::string_view key) override;
  [[nodiscard]] Result<std::string> put_blob(std::string_view bytes) override;
  [[nodiscard]] Result<std::string> get_blob(std::string_view digest) override;
  [[nodiscard]] Result<bool> has_blob(std::string_view digest) override;
  [[nodiscard]] std::vector<Status> add_invocations(
      const std::vector<InvocationRecord>& records) override;
  [[nodiscard]] Result<std::vector<InvocationRecord>> list_invocations(
      const InvocationQuery& query) override;
  [[nodiscard]] Result<InvocationRecord> get_invocation(std::string_view id) override;
  [[nodiscard]] Result<FunctionStats> function_stats(std::string_view name) override;
  [[nodiscard]] Status ping() override;
  [[nodiscard]] bool shared() const noexcept override { return true; }
  void watch(ChangeHandler handler) override;
  void stop_watching() override;
  [[nodiscard]] std::string describe() const override { return "postgresql " + where_; }

  // The schema version this build creates and understands.
  [[nodiscard]] static int schema_version() noexcept;

 private:
  class Connection;
  class Lease;

  PostgresStore(std::string dsn, PostgresOptions options, std::string where);

  // A connection from the pool, or a new one; kUnavailable while the server
  // is unreachable (or during the backoff after a failed attempt).
  [[nodiscard]] Result<Lease> acquire();
  void release(std::unique_ptr<Connection> connection);
  // Runs `work(Lease&)` on a pooled connection (see the definition).
  template <class Work>
  auto with_connection(Work&& work) -> decltype(work(std::declval<Lease&>()));
  [[nodiscard]] Result<std::unique_ptr<Connection>> connect();
  void listen_loop();
  // The bodies of enqueue_task and claim_firing, inside a transaction the
  // caller opened on `conn`, so that fire_task can run both in one.
  // insert_task's caller holds the function's shared advisory lock: enqueues
  // run side by side, but a deploy's prune of the version the task names
  // waits for the task to commit (and an enqueue waits for a prune in
  // progress, and then sees its outcome).
  [[nodiscard]] Status insert_task(Connection& conn, const AsyncTask& task, std::size_t max_queued);
  [[nodiscard]] Result<bool> claim_firing_in(Connection& conn, std::string_view function,
                                             std::string_view key, std::int64_t due_us);

  const std::string dsn_;
  const PostgresOptions options_;
  const std::string where_;  // host:port/db, for messages

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;     // guarded by pool_mutex_
  std::size_t open_ = 0;                              // connections out + idle
  std::chrono::steady_clock::time_point retry_at_{};  // no attempt before
  std::chrono::milliseconds backoff_{0};

  // Records this node added, and tasks it finished, per function since it
  // last pruned them.
  std::mutex prune_mutex_;
  std::unordered_map<std::string, std::size_t> unpruned_;
  std::unordered_map<std::string, std::size_t> unpruned_tasks_;

  // The listener: its thread sleeps in poll() on its connection's socket
  // and on wake_fd_[0]; the destructor writes to wake_fd_[1].
  ChangeHandler handler_;
  int wake_fd_[2] = {-1, -1};
  std::thread listener_;
};

}  // namespace nebula::store
