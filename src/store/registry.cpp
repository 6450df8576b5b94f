#include "store/registry.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <system_error>
#include <utility>

namespace nebula::store {
namespace {

namespace fs = std::filesystem;

// PRAGMA user_version of the newest schema. Each step in kMigrations takes
// the database from version i to i + 1; a released step is never edited,
// only followed by a new one.
constexpr std::int64_t kSchemaVersion = 4;

constexpr const char* kMigrations[kSchemaVersion] = {
    // 0 -> 1: functions and their invocation log. Runtimes and outcomes are
    // stored as their API spelling ("wasm", "ok") so that the database reads
    // well in the sqlite3 shell. seq orders records (ids are only
    // millisecond-ordered): an INTEGER PRIMARY KEY is assigned max + 1, so it
    // grows with every insert. AUTOINCREMENT is left out on purpose: it
    // would cost a write to sqlite_sequence per insert, and a paging cursor
    // is an id, so a seq reused after deleting the newest records can never
    // be mistaken for a cursor.
    R"sql(
CREATE TABLE functions (
  name          TEXT PRIMARY KEY NOT NULL,
  manifest      TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
);
CREATE TABLE invocations (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  function         TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  runtime          TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  exit_code        INTEGER NOT NULL,
  cold             INTEGER NOT NULL,
  queue_us         INTEGER NOT NULL,
  startup_us       INTEGER NOT NULL,
  exec_us          INTEGER NOT NULL,
  teardown_us      INTEGER NOT NULL,
  total_us         INTEGER NOT NULL,
  cpu_us           INTEGER NOT NULL,
  max_memory_bytes INTEGER NOT NULL,
  input_bytes      INTEGER NOT NULL,
  output_bytes     INTEGER NOT NULL,
  started_at_us    INTEGER NOT NULL,
  message          TEXT NOT NULL,
  stderr_tail      TEXT NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function, seq);
)sql",
    // 1 -> 2: cpu_us and max_memory_bytes may be NULL (a figure that could
    // not be measured is not 0), and output_truncated says whether the
    // output was cut at max_output_bytes. SQLite cannot relax NOT NULL in
    // place: the table is copied.
    R"sql(
CREATE TABLE invocations_v2 (
  seq              INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  function         TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  runtime          TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  exit_code        INTEGER NOT NULL,
  cold             INTEGER NOT NULL,
  queue_us         INTEGER NOT NULL,
  startup_us       INTEGER NOT NULL,
  exec_us          INTEGER NOT NULL,
  teardown_us      INTEGER NOT NULL,
  total_us         INTEGER NOT NULL,
  cpu_us           INTEGER,
  max_memory_bytes INTEGER,
  input_bytes      INTEGER NOT NULL,
  output_bytes     INTEGER NOT NULL,
  started_at_us    INTEGER NOT NULL,
  message          TEXT NOT NULL,
  stderr_tail      TEXT NOT NULL,
  output_truncated INTEGER NOT NULL DEFAULT 0
);
INSERT INTO invocations_v2 (seq, id, function, runtime, outcome, exit_code, cold, queue_us,
  startup_us, exec_us, teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes,
  output_bytes, started_at_us, message, stderr_tail)
SELECT seq, id, function, runtime, outcome, exit_code, cold, queue_us, startup_us, exec_us,
  teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes, output_bytes, started_at_us,
  message, stderr_tail FROM invocations;
DROP TABLE invocations;
ALTER TABLE invocations_v2 RENAME TO invocations;
CREATE INDEX invocations_by_function ON invocations (function, seq);
)sql",
    // 2 -> 3: the node that ran an invocation (its --node-id). Records
    // written before nodes were named have "".
    R"sql(
ALTER TABLE invocations ADD COLUMN node TEXT NOT NULL DEFAULT '';
)sql",
    // 3 -> 4: versions, secrets, async tasks and schedule firings.
    //
    // Every deploy stores an immutable version and functions.version names
    // the serving one; a function deployed before versions existed becomes
    // its version 1, holding the manifest it serves. Records name the
    // version that ran and what started them; older ones have version 0
    // (unknown) and trigger 'http' (the only trigger there was).
    //
    // Secrets are sealed bytes, so BLOB: SQLite never treats them as text.
    // Task bodies and results are whatever a client or a function sent.
    // tasks_due serves claim_task and next_task_due (queued tasks by run
    // time; the running ones, as many as calls in flight, are scanned);
    // tasks_by_function serves the queue-full count, the pruning of finished
    // tasks and the cascade of a delete. The child tables cascade on a
    // function's delete, and delete_function also deletes from them itself.
    R"sql(
ALTER TABLE functions ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE versions (
  function      TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  version       INTEGER NOT NULL,
  manifest      TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  PRIMARY KEY (function, version)
);
INSERT INTO versions (function, version, manifest, created_at_us)
  SELECT name, version, manifest, updated_at_us FROM functions;
ALTER TABLE invocations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN trigger TEXT NOT NULL DEFAULT 'http';
CREATE TABLE secrets (
  name          TEXT PRIMARY KEY NOT NULL,
  sealed        BLOB NOT NULL,
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
);
CREATE TABLE tasks (
  id             TEXT PRIMARY KEY NOT NULL,
  function       TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  version        INTEGER NOT NULL,
  runtime        TEXT,
  trigger        TEXT NOT NULL,
  body           BLOB NOT NULL,
  content_type   TEXT NOT NULL,
  query          TEXT NOT NULL,
  callback_url   TEXT NOT NULL,
  state          TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  max_retries    INTEGER NOT NULL,
  created_at_us  INTEGER NOT NULL,
  next_run_at_us INTEGER NOT NULL,
  lease_until_us INTEGER NOT NULL,
  node           TEXT NOT NULL,
  finished_at_us INTEGER NOT NULL,
  invocation_id  TEXT NOT NULL,
  status         INTEGER NOT NULL,
  result         BLOB NOT NULL,
  result_type    TEXT NOT NULL
);
CREATE INDEX tasks_due ON tasks (state, next_run_at_us);
CREATE INDEX tasks_by_function ON tasks (function, state, finished_at_us);
CREATE TABLE schedule_firings (
  function TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  key      TEXT NOT NULL,
  due_us   INTEGER NOT NULL,
  PRIMARY KEY (function, key)
) WITHOUT ROWID;
)sql",
};

// The columns of a record, in the order read_record expects and
// bind_record binds (?1 … ?22).
constexpr std::string_view kRecordColumns =
    "id, function, runtime, outcome, exit_code, cold, queue_us, startup_us, exec_us, "
    "teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes, output_bytes, "
    "started_at_us, message, stderr_tail, output_truncated, node, version, trigger";

// The columns of a task, in the order read_task expects and bind_task binds
// (?1 … ?21).
constexpr std::string_view kTaskColumns =
    "id, function, version, runtime, trigger, body, content_type, query, callback_url, state, "
    "attempts, max_retries, created_at_us, next_run_at_us, lease_until_us, node, "
    "finished_at_us, invocation_id, status, result, result_type";

// The columns of a function, in the order read_function expects.
constexpr std::string_view kFunctionColumns =
    "name, manifest, created_at_us, updated_at_us, version";

Error corrupt(std::string what) {
  return make_error(ErrorKind::kInternal,
                    "the registry database holds " + std::move(what) + "; was it edited by hand?");
}

// Records store unsigned counters in SQLite's signed 64-bit integers; the
// casts round-trip every value bit for bit.
std::int64_t to_db(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v);
}
std::uint64_t from_db(std::int64_t v) noexcept {
  return static_cast<std::uint64_t>(v);
}

Status bind_record(Statement& s, const InvocationRecord& r) {
  Status st;
  int index = 0;
  auto text = [&](std::string_view v) {
    if (st) st = s.bind(++index, v);
  };
  auto integer = [&](std::int64_t v) {
    if (st) st = s.bind(++index, v);
  };
  auto optional = [&](const std::optional<std::uint64_t>& v) {
    if (st) st = v ? s.bind(++index, to_db(*v)) : s.bind_null(++index);
  };
  text(r.id);
  text(r.function);
  text(to_string(r.runtime));
  text(to_string(r.outcome));
  integer(r.exit_code);
  integer(r.cold ? 1 : 0);
  integer(r.timings.queue_us);
  integer(r.timings.startup_us);
  integer(r.timings.exec_us);
  integer(r.timings.teardown_us);
  integer(r.timings.total_us);
  optional(r.cpu_us);
  optional(r.max_memory_bytes);
  integer(to_db(r.input_bytes));
  integer(to_db(r.output_bytes));
  integer(r.started_at_us);
  text(r.message);
  text(r.stderr_tail);
  integer(r.output_truncated ? 1 : 0);
  text(r.node);
  integer(to_db(r.version));
  text(to_string(r.trigger));
  return st;
}

Result<InvocationRecord> read_record(const Statement& s) {
  InvocationRecord r;
  int c = 0;
  r.id = s.column_text(c++);
  r.function = s.column_text(c++);
  const std::string runtime = s.column_text(c++);
  const std::string outcome = s.column_text(c++);
  auto kind = parse_runtime_kind(runtime);
  auto result = parse_outcome(outcome);
  if (!kind || !result) {
    return corrupt("invocation " + r.id + " with runtime '" + runtime + "' and outcome '" +
                   outcome + "'");
  }
  r.runtime = *kind;
  r.outcome = *result;
  r.exit_code = static_cast<int>(s.column_int64(c++));
  r.cold = s.column_int64(c++) != 0;
  r.timings.queue_us = s.column_int64(c++);
  r.timings.startup_us = s.column_int64(c++);
  r.timings.exec_us = s.column_int64(c++);
  r.timings.teardown_us = s.column_int64(c++);
  r.timings.total_us = s.column_int64(c++);
  auto optional = [&s](int column) -> std::optional<std::uint64_t> {
    if (s.column_is_null(column)) return std::nullopt;
    return from_db(s.column_int64(column));
  };
  r.cpu_us = optional(c++);
  r.max_memory_bytes = optional(c++);
  r.input_bytes = from_db(s.column_int64(c++));
  r.output_bytes = from_db(s.column_int64(c++));
  r.started_at_us = s.column_int64(c++);
  r.message = s.column_text(c++);
  r.stderr_tail = s.column_text(c++);
  r.output_truncated = s.column_int64(c++) != 0;
  r.node = s.column_text(c++);
  r.version = from_db(s.column_int64(c++));
  const std::string trigger = s.column_text(c++);
  auto started_by = parse_trigger_kind(trigger);
  if (!started_by) return corrupt("invocation " + r.id + " with trigger '" + trigger + "'");
  r.trigger = *started_by;
  return r;
}

Status bind_task(Statement& s, const AsyncTask& t) {
  Status st;
  int index = 0;
  auto text = [&](std::string_view v) {
    if (st) st = s.bind(++index, v);
  };
  auto blob = [&](std::string_view v) {
    if (st) st = s.bind_blob(++index, v);
  };
  auto integer = [&](std::int64_t v) {
    if (st) st = s.bind(++index, v);
  };
  text(t.id);
  text(t.function);
  integer(to_db(t.version));
  if (st) st = t.runtime ? s.bind(++index, to_string(*t.runtime)) : s.bind_null(++index);
  text(to_string(t.trigger));
  blob(t.body);
  text(t.content_type);
  text(t.query);
  text(t.callback_url);
  text(to_string(t.state));
  integer(t.attempts);
  integer(t.max_retries);
  integer(t.created_at_us);
  integer(t.next_run_at_us);
  integer(t.lease_until_us);
  text(t.node);
  integer(t.finished_at_us);
  text(t.invocation_id);
  integer(t.status);
  blob(t.result);
  text(t.result_type);
  return st;
}

Result<AsyncTask> read_task(const Statement& s) {
  AsyncTask t;
  int c = 0;
  t.id = s.column_text(c++);
  t.function = s.column_text(c++);
  t.version = from_db(s.column_int64(c++));
  if (!s.column_is_null(c)) {
    const std::string runtime = s.column_text(c);
    t.runtime = parse_runtime_kind(runtime);
    if (!t.runtime) return corrupt("task " + t.id + " with runtime '" + runtime + "'");
  }
  ++c;
  const std::string trigger = s.column_text(c++);
  auto started_by = parse_trigger_kind(trigger);
  if (!started_by) return corrupt("task " + t.id + " with trigger '" + trigger + "'");
  t.trigger = *started_by;
  t.body = s.column_blob(c++);
  t.content_type = s.column_text(c++);
  t.query = s.column_text(c++);
  t.callback_url = s.column_text(c++);
  const std::string state = s.column_text(c++);
  auto parsed = parse_task_state(state);
  if (!parsed) return corrupt("task " + t.id + " in state '" + state + "'");
  t.state = *parsed;
  t.attempts = static_cast<std::uint32_t>(s.column_int64(c++));
  t.max_retries = static_cast<std::uint32_t>(s.column_int64(c++));
  t.created_at_us = s.column_int64(c++);
  t.next_run_at_us = s.column_int64(c++);
  t.lease_until_us = s.column_int64(c++);
  t.node = s.column_text(c++);
  t.finished_at_us = s.column_int64(c++);
  t.invocation_id = s.column_text(c++);
  t.status = static_cast<int>(s.column_int64(c++));
  t.result = s.column_blob(c++);
  t.result_type = s.column_text(c++);
  return t;
}

Result<FunctionVersion> read_version(std::string_view function, const Statement& s) {
  FunctionVersion v;
  v.version = from_db(s.column_int64(0));
  auto manifest = parse_manifest(s.column_text(1));
  if (!manifest) {
    return corrupt("a manifest for version " + std::to_string(v.version) + " of function '" +
                   std::string(function) + "' that no longer parses: " + manifest.error().message);
  }
  v.manifest = std::move(manifest).value();
  v.created_at_us = s.column_int64(2);
  return v;
}

// "1, 4-6, 9": kept version numbers (ascending) as ranges, for a message.
std::string describe_versions(const std::vector<std::uint64_t>& versions) {
  std::string out;
  for (std::size_t i = 0; i < versions.size();) {
    std::size_t j = i;
    while (j + 1 < versions.size() && versions[j + 1] == versions[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(versions[i]);
    if (j > i) {
      out += '-';
      out += std::to_string(versions[j]);
    }
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

Status check_secret_name(std::string_view name) {
  if (is_valid_function_name(name)) return {};
  return make_error(ErrorKind::kInvalidArgument,
                    "invalid secret name '" + std::string(name.substr(0, 80)) +
                        "': use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter "
                        "or digit");
}

Status check_task(const AsyncTask& task) {
  if (auto st = check_function_name(task.function); !st) return st;
  if (task.id.empty()) return make_error(ErrorKind::kInvalidArgument, "a task needs an id");
  return {};
}

// now + lease without overflowing, for a caller passing a huge lease.
std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return a + b;
}

Result<Function> read_function(const Statement& s) {
  Function f;
  f.name = s.column_text(0);
  auto manifest = parse_manifest(s.column_text(1));
  if (!manifest) {
    return corrupt("a manifest for function '" + f.name +
                   "' that no longer parses: " + manifest.error().message);
  }
  f.manifest = std::move(manifest).value();
  f.created_at_us = s.column_int64(2);
  f.updated_at_us = s.column_int64(3);
  f.version = from_db(s.column_int64(4));
  return f;
}

// Brings the schema from the database's user_version to kSchemaVersion, one
// transaction per step, so an interrupted upgrade resumes where it stopped.
Status migrate(Database& db) {
  auto version = db.query_int("PRAGMA user_version");
  if (!version) return std::move(version).error();
  if (*version > kSchemaVersion) {
    return make_error(ErrorKind::kUnavailable,
                      "the registry database has schema version " + std::to_string(*version) +
                          ", newer than this Nebula understands (" +
                          std::to_string(kSchemaVersion) + "); run a newer Nebula");
  }
  for (std::int64_t v = *version; v < kSchemaVersion; ++v) {
    const std::string step = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                             "PRAGMA user_version = " + std::to_string(v + 1) + ";COMMIT;";
    if (auto st = db.exec(step); !st) {
      (void)db.exec("ROLLBACK");
      return make_error(st.error().kind, "cannot upgrade the registry schema to version " +
                                             std::to_string(v + 1) + ": " + st.error().message);
    }
  }
  return {};
}

}  // namespace

struct Registry::Statements {
  Statement begin;
  Statement commit;
  Statement rollback;
  Statement select_state;
  Statement upsert_function;
  Statement select_function;
  Statement select_functions;
  Statement delete_invocations_of;
  Statement delete_versions_of;
  Statement delete_tasks_of;
  Statement delete_firings_of;
  Statement delete_function;
  Statement insert_invocation;
  Statement count_invocations;
  Statement prune;
  Statement select_invocation;
  Statement seq_of;
  Statement stats_rows;
  // versions
  Statement insert_version;
  Statement select_versions;
  Statement select_version;
  Statement version_numbers;
  Statement activate;
  Statement prune_versions;
  // secrets
  Statement secret_exists;
  Statement upsert_secret;
  Statement select_secret;
  Statement select_secrets;
  Statement delete_secret;
  // tasks
  Statement insert_task;
  Statement count_pending;
  Statement due_queued;
  Statement due_running;
  Statement claim_task;
  Statement select_task;
  Statement finish_task;
  Statement count_finished;
  Statement prune_tasks;
  Statement next_due;
  Statement release_tasks;
  // schedules
  Statement claim_firing;
  Statement select_firing;

  Transaction::Statements transaction() noexcept { return {&begin, &commit, &rollback}; }
};

Result<std::unique_ptr<Registry>> Registry::open(const fs::path& data_dir,
                                                 RegistryOptions options) {
  if (options.max_records_per_function == 0) {
    return make_error(ErrorKind::kInvalidArgument, "max_records_per_function must be at least 1");
  }
  if (options.max_versions_per_function == 0) {
    return make_error(ErrorKind::kInvalidArgument, "max_versions_per_function must be at least 1");
  }
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return make_error(ErrorKind::kUnavailable,
                      "cannot create data directory " + data_dir.string() + ": " + ec.message());
  }
  auto db = Database::open(data_dir / "nebula.db", Database::Options{options.busy_timeout});
  if (!db) return std::move(db).error();

  // WAL lets readers (the dashboard's queries, the sqlite3 shell) proceed
  // while invocations are written. The answer is the mode actually in
  // effect: a file system without shared memory support refuses WAL.
  auto mode = db->query_text("PRAGMA journal_mode = WAL");
  if (!mode) return std::move(mode).error();
  if (*mode != "wal") {
    return make_error(ErrorKind::kUnavailable,
                      "SQLite refused WAL mode for " + data_dir.string() + " (journal mode is '" +
                          *mode + "'); put the data directory on a local file system");
  }
  // synchronous=NORMAL is durable against a crash of the process in WAL
  // mode (see the class comment); FULL would fsync on every commit.
  // Checkpoints, the only fsyncs, are taken off the write path by the
  // checkpointer thread (wal_autocheckpoint = 0 here). journal_size_limit
  // truncates the WAL after a checkpoint so that a burst does not leave a
  // large file behind.
  if (auto st = db->exec("PRAGMA synchronous = NORMAL;"
                         "PRAGMA foreign_keys = ON;"
                         "PRAGMA journal_size_limit = 67108864;"
                         "PRAGMA wal_autocheckpoint = 0;");
      !st) {
    return std::move(st).error();
  }
  if (auto st = migrate(*db); !st) return std::move(st).error();

  auto checkpoint_db =
      Database::open(data_dir / "nebula.db", Database::Options{options.busy_timeout});
  if (!checkpoint_db) return std::move(checkpoint_db).error();

  std::unique_ptr<Registry> registry(new Registry(std::move(db).value(), options));
  if (auto st = registry->prepare_statements(); !st) return std::move(st).error();
  registry->checkpoint_db_.emplace(std::move(checkpoint_db).value());
  registry->wal_path_ = data_dir / "nebula.db-wal";
  registry->checkpointer_ = std::thread([r = registry.get()] { r->checkpoint_loop(); });
  return registry;
}

Registry::Registry(Database db, RegistryOptions options)
    : options_(options), db_(std::move(db)), stmts_(std::make_unique<Statements>()) {}

Registry::~Registry() {
  if (checkpointer_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_stop_ = true;
    }
    checkpoint_wake_.notify_all();
    checkpointer_.join();
  }
}

void Registry::wrote() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    if (checkpoint_due_) return;
    checkpoint_due_ = true;
  }
  checkpoint_wake_.notify_all();
}

void Registry::checkpoint_loop() {
  // Sleeps until something was written, so that an idle server's
  // checkpointer never wakes. Then lets writes gather for a second and
  // copies them into the database (PASSIVE never blocks the writer or
  // readers). Once nothing more was written for 5 s, a TRUNCATE checkpoint
  // empties the WAL file, giving back the disk a burst of load took. The
  // last one, at shutdown, truncates too.
  //
  // Under steady writes a PASSIVE checkpoint never catches the last frame,
  // so the WAL is never restarted and grows for as long as the load lasts
  // (about 7 MB/s at 6,000 recorded calls/s). Past kWalLimit, a TRUNCATE
  // checkpoint waits for the writer (the record writer thread, never an
  // invocation: records are committed off the response path) and empties
  // it, which bounds the file at kWalLimit plus a second of writes.
  constexpr auto kGather = std::chrono::seconds(1);
  constexpr auto kQuiet = std::chrono::seconds(5);
  constexpr std::uintmax_t kWalLimit = 16ULL << 20;
  auto stop = [this] { return checkpoint_stop_; };
  auto due_or_stop = [this] { return checkpoint_due_ || checkpoint_stop_; };
  std::unique_lock lock(checkpoint_mutex_);
  bool truncated = true;
  for (;;) {
    if (truncated) {
      checkpoint_wake_.wait(lock, due_or_stop);
    } else if (!checkpoint_wake_.wait_for(lock, kQuiet, due_or_stop)) {
      lock.unlock();
      (void)checkpoint_db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
      lock.lock();
      truncated = true;
      continue;
    }
    if (!checkpoint_stop_) checkpoint_wake_.wait_for(lock, kGather, stop);
    const bool stopping = checkpoint_stop_;
    checkpoint_due_ = false;
    lock.unlock();
    std::error_code ec;
    const std::uintmax_t wal_bytes = std::filesystem::file_size(wal_path_, ec);
    const bool over = !ec && wal_bytes > kWalLimit;
    (void)checkpoint_db_->exec(stopping || over ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                                : "PRAGMA wal_checkpoint(PASSIVE)");
    if (stopping) return;
    truncated = false;
    lock.lock();
  }
}

Status Registry::prepare_statements() {
  const std::string record_columns(kRecordColumns);
  const std::string task_columns(kTaskColumns);
  const std::string function_columns(kFunctionColumns);
  const std::pair<Statement*, std::string> all[] = {
      {&stmts_->begin, "BEGIN IMMEDIATE"},
      {&stmts_->commit, "COMMIT"},
      {&stmts_->rollback, "ROLLBACK"},
      // The newest kept version is never pruned (it is among the newest
      // max_versions_per_function), so max + 1 never reuses a number.
      {&stmts_->select_state,
       "SELECT f.version, f.created_at_us, f.updated_at_us, "
       "(SELECT MAX(v.version) FROM versions v WHERE v.function = f.name) "
       "FROM functions f WHERE f.name = ?1"},
      {&stmts_->upsert_function,
       "INSERT INTO functions (name, manifest, version, created_at_us, updated_at_us) "
       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
       "manifest = excluded.manifest, version = excluded.version, "
       "updated_at_us = excluded.updated_at_us"},
      {&stmts_->select_function, "SELECT " + function_columns + " FROM functions WHERE name = ?1"},
      {&stmts_->select_functions, "SELECT " + function_columns + " FROM functions ORDER BY name"},
      {&stmts_->delete_invocations_of, "DELETE FROM invocations WHERE function = ?1"},
      {&stmts_->delete_versions_of, "DELETE FROM versions WHERE function = ?1"},
      {&stmts_->delete_tasks_of, "DELETE FROM tasks WHERE function = ?1"},
      {&stmts_->delete_firings_of, "DELETE FROM schedule_firings WHERE function = ?1"},
      {&stmts_->delete_function, "DELETE FROM functions WHERE name = ?1"},
      {&stmts_->insert_invocation,
       "INSERT INTO invocations (" + record_columns +
           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
           "?18, ?19, ?20, ?21, ?22)"},
      {&stmts_->count_invocations, "SELECT COUNT(*) FROM invocations WHERE function = ?1"},
      // The oldest ?2 records of a function: a range scan of the
      // (function, seq) index from its low end, then rowid deletes.
      {&stmts_->prune,
       "DELETE FROM invocations WHERE seq IN "
       "(SELECT seq FROM invocations WHERE function = ?1 ORDER BY seq LIMIT ?2)"},
      {&stmts_->select_invocation, "SELECT " + record_columns + " FROM invocations WHERE id = ?1"},
      {&stmts_->seq_of, "SELECT seq FROM invocations WHERE id = ?1"},
      // One pass over the (function, seq) index; the few columns read keep
      // it cheap even for a full log.
      {&stmts_->stats_rows,
       "SELECT runtime, outcome, cold, startup_us FROM invocations WHERE function = ?1"},

      {&stmts_->insert_version,
       "INSERT INTO versions (function, version, manifest, created_at_us) "
       "VALUES (?1, ?2, ?3, ?4)"},
      {&stmts_->select_versions,
       "SELECT version, manifest, created_at_us FROM versions WHERE function = ?1 "
       "ORDER BY version DESC"},
      {&stmts_->select_version,
       "SELECT version, manifest, created_at_us FROM versions "
       "WHERE function = ?1 AND version = ?2"},
      {&stmts_->version_numbers,
       "SELECT version FROM versions WHERE function = ?1 ORDER BY version"},
      {&stmts_->activate,
       "UPDATE functions SET manifest = ?2, version = ?3, updated_at_us = ?4 WHERE name = ?1"},
      // Everything older than the newest ?2 versions, except the serving
      // one (?3) and those a pending task will still run.
      {&stmts_->prune_versions,
       "DELETE FROM versions WHERE function = ?1 AND version <> ?3 AND version IN "
       "(SELECT version FROM versions WHERE function = ?1 ORDER BY version DESC "
       "LIMIT -1 OFFSET ?2) AND version NOT IN "
       "(SELECT version FROM tasks WHERE function = ?1 AND state IN ('queued', 'running'))"},

      {&stmts_->secret_exists, "SELECT 1 FROM secrets WHERE name = ?1"},
      {&stmts_->upsert_secret,
       "INSERT INTO secrets (name, sealed, created_at_us, updated_at_us) VALUES (?1, ?2, ?3, ?3) "
       "ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, "
       "updated_at_us = MAX(excluded.updated_at_us, secrets.created_at_us)"},
      {&stmts_->select_secret, "SELECT sealed FROM secrets WHERE name = ?1"},
      {&stmts_->select_secrets,
       "SELECT name, created_at_us, updated_at_us FROM secrets ORDER BY name"},
      {&stmts_->delete_secret, "DELETE FROM secrets WHERE name = ?1"},

      {&stmts_->insert_task,
       "INSERT INTO tasks (" + task_columns +
           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
           "?18, ?19, ?20, ?21)"},
      {&stmts_->count_pending,
       "SELECT COUNT(*) FROM tasks WHERE function = ?1 AND state IN ('queued', 'running')"},
      // The front of the tasks_due index; equal run times in rowid, that is
      // queueing, order.
      {&stmts_->due_queued,
       "SELECT id, next_run_at_us FROM tasks WHERE state = 'queued' AND next_run_at_us <= ?1 "
       "ORDER BY next_run_at_us LIMIT 1"},
      {&stmts_->due_running,
       "SELECT id, lease_until_us FROM tasks WHERE state = 'running' AND lease_until_us <= ?1 "
       "ORDER BY lease_until_us LIMIT 1"},
      {&stmts_->claim_task,
       "UPDATE tasks SET state = 'running', node = ?2, lease_until_us = ?3, "
       "attempts = attempts + 1 WHERE id = ?1"},
      {&stmts_->select_task, "SELECT " + task_columns + " FROM tasks WHERE id = ?1"},
      // Only the holder's write lands: a node whose lease expired (and whose
      // task another node took) finds no row.
      {&stmts_->finish_task,
       "UPDATE tasks SET state = ?3, next_run_at_us = ?4, lease_until_us = ?5, "
       "finished_at_us = ?6, invocation_id = ?7, status = ?8, result = ?9, result_type = ?10 "
       "WHERE id = ?1 AND state = 'running' AND node = ?2 RETURNING function"},
      {&stmts_->count_finished,
       "SELECT COUNT(*) FROM tasks WHERE function = ?1 AND state IN ('done', 'dead')"},
      {&stmts_->prune_tasks,
       "DELETE FROM tasks WHERE rowid IN (SELECT rowid FROM tasks WHERE function = ?1 AND "
       "state IN ('done', 'dead') ORDER BY finished_at_us, rowid LIMIT ?2)"},
      {&stmts_->next_due,
       "SELECT (SELECT MIN(next_run_at_us) FROM tasks WHERE state = 'queued'), "
       "(SELECT MIN(lease_until_us) FROM tasks WHERE state = 'running')"},
      {&stmts_->release_tasks,
       "UPDATE tasks SET state = 'queued', next_run_at_us = ?2, lease_until_us = 0 "
       "WHERE state = 'running' AND node = ?1"},

      // Inserts the first firing of a key, or moves it to a later due time;
      // an equal or earlier one changes nothing, so changes() tells the one
      // claimer of each due time.
      {&stmts_->claim_firing,
       "INSERT INTO schedule_firings (function, key, due_us) VALUES (?1, ?2, ?3) "
       "ON CONFLICT (function, key) DO UPDATE SET due_us = excluded.due_us "
       "WHERE excluded.due_us > schedule_firings.due_us"},
      {&stmts_->select_firing,
       "SELECT due_us FROM schedule_firings WHERE function = ?1 AND key = ?2"},
  };
  for (const auto& [stmt, sql] : all) {
    auto prepared = db_.prepare(sql, /*persistent=*/true);
    if (!prepared) return std::move(prepared).error();
    *stmt = std::move(prepared).value();
  }
  return {};
}

Result<std::optional<Registry::FunctionState>> Registry::function_state(std::string_view name) {
  Statement& s = stmts_->select_state;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<FunctionState>();
  FunctionState state;
  state.version = from_db(s.column_int64(0));
  state.created_at_us = s.column_int64(1);
  state.updated_at_us = s.column_int64(2);
  state.max_version = from_db(s.column_int64(3));  // NULL (no versions) reads as 0
  return std::optional<FunctionState>(state);
}

Result<std::vector<std::uint64_t>> Registry::kept_versions(std::string_view name) {
  Statement& s = stmts_->version_numbers;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  std::vector<std::uint64_t> versions;
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    versions.push_back(from_db(s.column_int64(0)));
  }
  return versions;
}

Error Registry::version_not_found(std::string_view name, std::uint64_t version) {
  // Appended piece by piece: GCC 12 reports a false -Wrestrict for
  // `"literal" + std::string(...)` (GCC bug 105329).
  std::string message("function '");
  message += name;
  message += "' has no version ";
  message += std::to_string(version);
  message += " (";
  // The message is the point here; a failure to list only shortens it.
  if (auto kept = kept_versions(name)) {
    message += "kept versions: ";
    message += describe_versions(*kept);
    message += "; ";
  }
  message += "see GET /v1/functions/";
  message += name;
  message += "/versions)";
  return make_error(ErrorKind::kNotFound, std::move(message));
}

Result<std::optional<FunctionVersion>> Registry::find_version(std::string_view name,
                                                              std::uint64_t version) {
  Statement& s = stmts_->select_version;
  ResetOnExit reset(s);
  Status st = s.bind(1, name);
  if (st) st = s.bind(2, to_db(version));
  if (!st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<FunctionVersion>();
  auto found = read_version(name, s);
  if (!found) return std::move(found).error();
  return std::optional<FunctionVersion>(std::move(found).value());
}

Status Registry::prune_versions(std::string_view name, std::uint64_t serving) {
  Statement& s = stmts_->prune_versions;
  Status st = s.bind(1, name);
  if (st) st = s.bind(2, static_cast<std::int64_t>(options_.max_versions_per_function));
  if (st) st = s.bind(3, to_db(serving));
  if (st) st = s.run();
  if (!st) s.reset();
  return st;
}

Result<PutResult> Registry::put_function(const Function& function) {
  if (auto st = check_function_name(function.name); !st) return std::move(st).error();
  const std::string manifest = manifest_to_json(function.manifest);

  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();

  auto state = function_state(function.name);
  if (!state) return std::move(state).error();
  const bool created = !state->has_value();
  const std::uint64_t version =
      created ? 1 : std::max((*state)->max_version, (*state)->version) + 1;
  // The wall clock may step back; updated_at_us still grows with every
  // change, so that it orders them (and never predates the creation).
  const std::int64_t now =
      created ? now_unix_us() : std::max(now_unix_us(), (*state)->updated_at_us + 1);
  {
    Statement& s = stmts_->upsert_function;
    Status st = s.bind(1, function.name);
    if (st) st = s.bind(2, manifest);
    if (st) st = s.bind(3, to_db(version));
    if (st) st = s.bind(4, now);  // created_at_us, kept on replace
    if (st) st = s.bind(5, now);
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  {
    Statement& s = stmts_->insert_version;
    Status st = s.bind(1, function.name);
    if (st) st = s.bind(2, to_db(version));
    if (st) st = s.bind(3, manifest);
    if (st) st = s.bind(4, now);
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  if (auto st = prune_versions(function.name, version); !st) return std::move(st).error();
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return PutResult{created, version};
}

Result<Function> Registry::get_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_function;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return function_not_found(name);
  return read_function(s);
}

Result<std::vector<Function>> Registry::list_functions() {
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_functions;
  ResetOnExit reset(s);
  std::vector<Function> functions;
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto function = read_function(s);
    if (!function) return std::move(function).error();
    functions.push_back(std::move(function).value());
  }
  return functions;
}

Result<bool> Registry::delete_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();
  // The foreign keys would cascade too; deleting the rows explicitly keeps
  // that true even for a connection that has foreign keys off. The function
  // goes last, so that changes() tells whether it existed.
  for (Statement* s :
       {&stmts_->delete_invocations_of, &stmts_->delete_versions_of, &stmts_->delete_tasks_of,
        &stmts_->delete_firings_of, &stmts_->delete_function}) {
    Status st = s->bind(1, name);
    if (st) st = s->run();
    if (!st) {
      s->reset();
      return std::move(st).error();
    }
  }
  const bool existed = db_.changes() > 0;
  if (auto commit = tx->commit(); !commit) return std::move(commit).error();
  wrote();
  kept_.erase(std::string(name));
  return existed;
}

Result<std::int64_t> Registry::kept_records(const std::string& function) {
  if (auto it = kept_.find(function); it != kept_.end()) return it->second;
  Statement& s = stmts_->count_invocations;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, function); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  const std::int64_t count = *row ? s.column_int64(0) : 0;
  kept_.emplace(function, count);
  return count;
}

Status Registry::add_invocation(const InvocationRecord& record) {
  if (auto st = check_record(record); !st) return st;

  // Group commit: the caller queues its record; whoever finds no batch being
  // written becomes the writer and commits everything queued so far in one
  // transaction, while the others wait for their result. One thread alone
  // pays for one commit per record; many threads share commits, which is
  // what carries the server's rate (the cost of a commit is its WAL writes
  // and locks, not the rows).
  PendingInsert mine{&record, {}, false};
  std::unique_lock queue_lock(queue_mutex_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (writing_) {
      queue_cv_.wait(queue_lock);
      continue;
    }
    writing_ = true;
    std::vector<PendingInsert*> batch;
    batch.swap(queue_);
    queue_lock.unlock();
    {
      std::lock_guard lock(mutex_);
      write_batch(batch);
    }
    queue_lock.lock();
    for (PendingInsert* p : batch) p->done = true;
    writing_ = false;
    queue_cv_.notify_all();
  }
  return std::move(mine.result);
}

std::vector<Status> Registry::add_invocations(const std::vector<InvocationRecord>& records) {
  std::vector<PendingInsert> pending;
  pending.reserve(records.size());
  std::vector<PendingInsert*> batch;
  batch.reserve(records.size());
  for (const InvocationRecord& record : records) {
    pending.push_back(PendingInsert{&record, {}, false});
    pending.back().result = check_record(record);
  }
  for (PendingInsert& p : pending) {
    if (p.result) batch.push_back(&p);
  }
  if (!batch.empty()) {
    std::lock_guard lock(mutex_);
    write_batch(batch);
  }
  std::vector<Status> statuses;
  statuses.reserve(pending.size());
  for (PendingInsert& p : pending) statuses.push_back(std::move(p.result));
  return statuses;
}

void Registry::write_batch(const std::vector<PendingInsert*>& batch) {
  // Every record that has not failed on its own gets `error`.
  auto fail_rest = [&](const Error& error) {
    for (PendingInsert* p : batch) {
      if (p->result) p->result = error;
    }
  };

  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return fail_rest(tx.error());

  // Records per function after this batch, starting from the kept count.
  std::unordered_map<std::string_view, std::int64_t> counts;
  Statement& insert = stmts_->insert_invocation;
  for (PendingInsert* p : batch) {
    const InvocationRecord& record = *p->record;
    auto count = counts.find(record.function);
    if (count == counts.end()) {
      auto kept = kept_records(record.function);
      if (!kept) return fail_rest(kept.error());
      count = counts.emplace(record.function, *kept).first;
    }
    Status st = bind_record(insert, record);
    if (st) st = insert.run();
    if (st) {
      ++count->second;
      continue;
    }
    insert.reset();
    // A constraint failure undoes only its own statement and the batch goes
    // on; anything that ended the transaction (SQLite rolls back by itself
    // on SQLITE_FULL or an I/O error) fails the rest of the batch.
    const int code = sqlite3_extended_errcode(db_.handle());
    if (code == SQLITE_CONSTRAINT_FOREIGNKEY) {
      p->result = function_not_found(record.function);
    } else if (code == SQLITE_CONSTRAINT_UNIQUE) {
      p->result = make_error(ErrorKind::kInvalidArgument,
                             "invocation id '" + record.id + "' is already recorded");
    } else {
      p->result = std::move(st).error();
    }
    if (sqlite3_get_autocommit(db_.handle()) != 0) {
      for (auto& [function, n] : counts) kept_.erase(std::string(function));
      return fail_rest(p->result.error());
    }
  }

  const auto max = static_cast<std::int64_t>(options_.max_records_per_function);
  // Prune down to a low-water mark below the maximum, so that a busy
  // function pays for one batched delete every `slack + 1` records instead
  // of dirtying three more pages in every commit. At most `max` records are
  // ever kept.
  const std::int64_t slack = std::min<std::int64_t>(max / 16, 63);
  Statement& prune = stmts_->prune;
  for (auto& [function, count] : counts) {
    if (count <= max) continue;
    Status st = prune.bind(1, function);
    if (st) st = prune.bind(2, count - (max - slack));
    if (st) st = prune.run();
    if (!st) {
      prune.reset();
      return fail_rest(st.error());
    }
    count -= db_.changes();
  }

  if (auto st = tx->commit(); !st) {
    // The transaction rolls back; kept_ still holds the counts from before
    // the batch, which are right again.
    return fail_rest(st.error());
  }
  wrote();
  for (const auto& [function, count] : counts) kept_[std::string(function)] = count;
}

Result<Statement*> Registry::list_statement(const InvocationQuery& query) {
  const unsigned mask = (query.function ? 1U : 0U) | (query.runtime ? 2U : 0U) |
                        (query.outcome ? 4U : 0U) | (query.before ? 8U : 0U);
  Statement& cached = list_stmts_[mask];
  if (cached) return &cached;

  // Numbered parameters keep their meaning in every variant: ?1 function,
  // ?2 runtime, ?3 outcome, ?4 the cursor's seq, ?5 the limit.
  std::string sql = "SELECT " + std::string(kRecordColumns) + " FROM invocations";
  std::string where;
  auto add = [&](const char* condition) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
  };
  if ((mask & 1U) != 0) add("function = ?1");
  if ((mask & 2U) != 0) add("runtime = ?2");
  if ((mask & 4U) != 0) add("outcome = ?3");
  if ((mask & 8U) != 0) add("seq < ?4");
  sql += where + " ORDER BY seq DESC LIMIT ?5";

  auto prepared = db_.prepare(sql, /*persistent=*/true);
  if (!prepared) return std::move(prepared).error();
  cached = std::move(prepared).value();
  return &cached;
}

Result<std::vector<InvocationRecord>> Registry::list_invocations(const InvocationQuery& query) {
  if (query.function) {
    if (auto st = check_function_name(*query.function); !st) return std::move(st).error();
  }
  const auto limit = static_cast<std::int64_t>(
      std::clamp<std::size_t>(query.limit, 1, InvocationQuery::kMaxLimit));

  std::lock_guard lock(mutex_);
  std::int64_t before_seq = 0;
  if (query.before) {
    Statement& s = stmts_->seq_of;
    ResetOnExit reset(s);
    if (auto st = s.bind(1, *query.before); !st) return std::move(st).error();
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) {
      return make_error(ErrorKind::kNotFound,
                        "the cursor invocation '" + *query.before +
                            "' is not kept (it may have been pruned); list from the newest "
                            "records again");
    }
    before_seq = s.column_int64(0);
  }

  auto stmt = list_statement(query);
  if (!stmt) return std::move(stmt).error();
  Statement& s = **stmt;
  ResetOnExit reset(s);
  Status st;
  if (query.function) st = s.bind(1, *query.function);
  if (st && query.runtime) st = s.bind(2, to_string(*query.runtime));
  if (st && query.outcome) st = s.bind(3, to_string(*query.outcome));
  if (st && query.before) st = s.bind(4, before_seq);
  if (st) st = s.bind(5, limit);
  if (!st) return std::move(st).error();

  std::vector<InvocationRecord> records;
  records.reserve(static_cast<std::size_t>(limit));
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto record = read_record(s);
    if (!record) return std::move(record).error();
    records.push_back(std::move(record).value());
  }
  return records;
}

Result<InvocationRecord> Registry::get_invocation(std::string_view id) {
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_invocation;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, id); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) {
    return make_error(ErrorKind::kNotFound,
                      "invocation '" + std::string(id.substr(0, 80)) +
                          "' is not recorded (records are kept for the newest " +
                          std::to_string(options_.max_records_per_function) +
                          " invocations of each function)");
  }
  return read_record(s);
}

Result<FunctionStats> Registry::function_stats(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  StatsBuilder stats;
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->stats_rows;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto runtime = parse_runtime_kind(s.column_text(0));
    auto outcome = parse_outcome(s.column_text(1));
    if (!runtime || !outcome) {
      return corrupt("invocations of '" + std::string(name) +
                     "' with an unknown runtime or outcome");
    }
    stats.add(*runtime, *outcome, s.column_int64(2) != 0, s.column_int64(3));
  }
  return stats.finish();
}

// --- versions --------------------------------------------------------------

Result<std::vector<FunctionVersion>> Registry::list_versions(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto state = function_state(name);
  if (!state) return std::move(state).error();
  if (!*state) return function_not_found(name);
  Statement& s = stmts_->select_versions;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  std::vector<FunctionVersion> versions;
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto version = read_version(name, s);
    if (!version) return std::move(version).error();
    versions.push_back(std::move(version).value());
  }
  return versions;
}

Result<FunctionVersion> Registry::get_version(std::string_view name, std::uint64_t version) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto found = find_version(name, version);
  if (!found) return std::move(found).error();
  if (*found) return std::move(**found);
  auto state = function_state(name);
  if (!state) return std::move(state).error();
  if (!*state) return function_not_found(name);
  return version_not_found(name, version);
}

Result<Function> Registry::activate_version(std::string_view name, std::uint64_t version) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();

  auto state = function_state(name);
  if (!state) return std::move(state).error();
  if (!*state) return function_not_found(name);
  auto found = find_version(name, version);
  if (!found) return std::move(found).error();
  if (!*found) return version_not_found(name, version);

  Function function;
  function.name = std::string(name);
  function.manifest = std::move((*found)->manifest);
  function.version = version;
  function.created_at_us = (*state)->created_at_us;
  // Strictly later than the last change, as for put_function: a node that
  // follows the store by updated_at_us sees the rollback as a change.
  function.updated_at_us = std::max(now_unix_us(), (*state)->updated_at_us + 1);
  {
    Statement& s = stmts_->activate;
    Status st = s.bind(1, name);
    if (st) st = s.bind(2, manifest_to_json(function.manifest));
    if (st) st = s.bind(3, to_db(version));
    if (st) st = s.bind(4, function.updated_at_us);
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  // Only trims anything when max_versions_per_function was lowered since
  // the last deploy; the version rolled back to stays whatever its age.
  if (auto st = prune_versions(name, version); !st) return std::move(st).error();
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return function;
}

// --- secrets -----------------------------------------------------------------
// The sealed value never appears in a message or a log line: errors name the
// secret only.

Result<bool> Registry::put_secret(std::string_view name, std::string_view sealed) {
  if (auto st = check_secret_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();
  bool existed = false;
  {
    Statement& s = stmts_->secret_exists;
    ResetOnExit reset(s);
    if (auto st = s.bind(1, name); !st) return std::move(st).error();
    auto row = s.step();
    if (!row) return std::move(row).error();
    existed = *row;
  }
  {
    Statement& s = stmts_->upsert_secret;
    Status st = s.bind(1, name);
    if (st) st = s.bind_blob(2, sealed);
    if (st) st = s.bind(3, now_unix_us());
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return !existed;
}

Result<std::string> Registry::get_secret(std::string_view name) {
  if (auto st = check_secret_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_secret;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, name); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) {
    return make_error(ErrorKind::kNotFound,
                      "secret '" + std::string(name) + "' does not exist (see GET /v1/secrets)");
  }
  return s.column_blob(0);
}

Result<std::vector<SecretInfo>> Registry::list_secrets() {
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_secrets;
  ResetOnExit reset(s);
  std::vector<SecretInfo> secrets;
  while (true) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    secrets.push_back(SecretInfo{s.column_text(0), s.column_int64(1), s.column_int64(2)});
  }
  return secrets;
}

Result<bool> Registry::delete_secret(std::string_view name) {
  if (auto st = check_secret_name(name); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->delete_secret;
  Status st = s.bind(1, name);
  if (st) st = s.run();
  if (!st) {
    s.reset();
    return std::move(st).error();
  }
  const bool existed = db_.changes() > 0;
  wrote();
  return existed;
}

// --- async tasks -----------------------------------------------------------

Result<std::optional<AsyncTask>> Registry::find_task(std::string_view id) {
  Statement& s = stmts_->select_task;
  ResetOnExit reset(s);
  if (auto st = s.bind(1, id); !st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<AsyncTask>();
  auto task = read_task(s);
  if (!task) return std::move(task).error();
  return std::optional<AsyncTask>(std::move(task).value());
}

Status Registry::enqueue_task(const AsyncTask& task, std::size_t max_queued) {
  if (auto st = check_task(task); !st) return st;
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();
  if (auto st = insert_task(task, max_queued); !st) return st;
  if (auto st = tx->commit(); !st) return st;
  wrote();
  return {};
}

Result<bool> Registry::fire_task(const AsyncTask& task, std::size_t max_queued,
                                 std::string_view key, std::int64_t due_us) {
  if (auto st = check_task(task); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();
  auto claimed = claim_firing_in(task.function, key, due_us);
  if (!claimed) return std::move(claimed).error();
  // Not claimed: nothing was written; the transaction ends unused.
  if (!*claimed) return false;
  // A refused task (full queue, version gone) rolls the claim back with it.
  if (auto st = insert_task(task, max_queued); !st) return std::move(st).error();
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return true;
}

Status Registry::insert_task(const AsyncTask& task, std::size_t max_queued) {
  auto state = function_state(task.function);
  if (!state) return std::move(state).error();
  if (!*state) return function_not_found(task.function);

  AsyncTask queued = task;
  if (queued.version == 0) {
    queued.version = (*state)->version;
  } else {
    // The caller pinned a version it read earlier; a deploy in between may
    // have pruned it (nothing protects it until its task is queued).
    auto found = find_version(task.function, queued.version);
    if (!found) return std::move(found).error();
    if (!*found) return version_not_found(task.function, queued.version);
  }
  {
    Statement& s = stmts_->count_pending;
    ResetOnExit reset(s);
    if (auto st = s.bind(1, task.function); !st) return st;
    auto row = s.step();
    if (!row) return std::move(row).error();
    const auto waiting = static_cast<std::size_t>(*row ? s.column_int64(0) : 0);
    if (waiting >= max_queued) {
      return make_error(ErrorKind::kOverloaded, "the queue of function '" + task.function +
                                                    "' is full: " + std::to_string(waiting) +
                                                    " calls waiting, retry later");
    }
  }
  // A new task owes nothing to what the caller may have left in the fields
  // the store manages.
  const std::int64_t now = now_unix_us();
  queued.state = TaskState::kQueued;
  queued.attempts = 0;
  if (queued.created_at_us == 0) queued.created_at_us = now;
  if (queued.next_run_at_us == 0) queued.next_run_at_us = queued.created_at_us;
  queued.lease_until_us = 0;
  queued.node.clear();
  queued.finished_at_us = 0;
  queued.invocation_id.clear();
  queued.status = 0;
  queued.result.clear();
  queued.result_type.clear();
  {
    Statement& s = stmts_->insert_task;
    Status st = bind_task(s, queued);
    if (st) st = s.run();
    if (!st) {
      s.reset();
      const int code = sqlite3_extended_errcode(db_.handle());
      if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE) {
        return make_error(ErrorKind::kInvalidArgument,
                          "task id '" + task.id + "' is already queued");
      }
      return st;
    }
  }
  return {};
}

Result<std::optional<AsyncTask>> Registry::claim_task(std::string_view node, std::int64_t now_us,
                                                      std::int64_t lease_us) {
  if (lease_us <= 0) {
    return make_error(ErrorKind::kInvalidArgument, "a task's lease must be positive");
  }
  std::lock_guard lock(mutex_);
  // BEGIN IMMEDIATE takes the write lock before the task is chosen, so that
  // no other connection can choose the same one in between.
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();

  // The earliest due of the two kinds: a queued task by its run time, a
  // running one by the end of its lease (its node is gone). On a tie the
  // abandoned one goes first: it has waited since before its lease.
  struct Candidate {
    std::string id;
    std::int64_t due_us = 0;
  };
  auto first_due = [&](Statement& s) -> Result<std::optional<Candidate>> {
    ResetOnExit reset(s);
    if (auto st = s.bind(1, now_us); !st) return std::move(st).error();
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Candidate>();
    return std::optional<Candidate>(Candidate{s.column_text(0), s.column_int64(1)});
  };
  auto queued = first_due(stmts_->due_queued);
  if (!queued) return std::move(queued).error();
  auto expired = first_due(stmts_->due_running);
  if (!expired) return std::move(expired).error();
  const Candidate* pick = nullptr;
  if (*expired) pick = &**expired;
  if (*queued && (pick == nullptr || (*queued)->due_us < pick->due_us)) pick = &**queued;
  if (pick == nullptr) return std::optional<AsyncTask>();

  {
    Statement& s = stmts_->claim_task;
    Status st = s.bind(1, pick->id);
    if (st) st = s.bind(2, node);
    if (st) st = s.bind(3, saturating_add(now_us, lease_us));
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  auto task = find_task(pick->id);
  if (!task) return std::move(task).error();
  if (!*task) return corrupt("no task '" + pick->id + "' right after claiming it");
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return task;
}

Status Registry::prune_finished_tasks(std::string_view function) {
  const auto max = static_cast<std::int64_t>(options_.max_records_per_function);
  std::int64_t finished = 0;
  {
    Statement& s = stmts_->count_finished;
    ResetOnExit reset(s);
    if (auto st = s.bind(1, function); !st) return st;
    auto row = s.step();
    if (!row) return std::move(row).error();
    finished = *row ? s.column_int64(0) : 0;
  }
  if (finished <= max) return {};
  Statement& s = stmts_->prune_tasks;
  Status st = s.bind(1, function);
  if (st) st = s.bind(2, finished - max);
  if (st) st = s.run();
  if (!st) s.reset();
  return st;
}

Status Registry::finish_task(const AsyncTask& task) {
  if (task.id.empty()) return make_error(ErrorKind::kInvalidArgument, "a task needs an id");
  const bool final_state = task.state == TaskState::kDone || task.state == TaskState::kDead;
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();

  std::string function;
  {
    Statement& s = stmts_->finish_task;
    ResetOnExit reset(s);
    Status st = s.bind(1, task.id);
    if (st) st = s.bind(2, task.node);
    if (st) st = s.bind(3, to_string(task.state));
    if (st) st = s.bind(4, task.next_run_at_us);
    // A lease only means something while running (a write-back in state
    // running extends it).
    if (st) st = s.bind(5, task.state == TaskState::kRunning ? task.lease_until_us : 0);
    const std::int64_t finished_at =
        !final_state ? 0 : (task.finished_at_us != 0 ? task.finished_at_us : now_unix_us());
    if (st) st = s.bind(6, finished_at);
    if (st) st = s.bind(7, task.invocation_id);
    if (st) st = s.bind(8, task.status);
    if (st) st = s.bind_blob(9, task.result);
    if (st) st = s.bind(10, task.result_type);
    if (!st) return st;
    // RETURNING: the row, when the holder's update landed. SQLite makes the
    // whole change in the first step.
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) {
      return make_error(ErrorKind::kNotFound,
                        "task '" + task.id + "' is not held by node '" + task.node +
                            "' any more (its lease ran out and another node took it, or it "
                            "is gone)");
    }
    function = s.column_text(0);
  }
  if (final_state) {
    if (auto st = prune_finished_tasks(function); !st) return st;
  }
  if (auto st = tx->commit(); !st) return st;
  wrote();
  return {};
}

Result<AsyncTask> Registry::get_task(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto task = find_task(id);
  if (!task) return std::move(task).error();
  if (!*task) {
    return make_error(ErrorKind::kNotFound,
                      "no async invocation '" + std::string(id.substr(0, 80)) +
                          "' is queued or kept (finished ones are kept for the newest " +
                          std::to_string(options_.max_records_per_function) + " of each function)");
  }
  return std::move(**task);
}

Result<std::optional<std::int64_t>> Registry::next_task_due() {
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->next_due;
  ResetOnExit reset(s);
  auto row = s.step();
  if (!row) return std::move(row).error();
  std::optional<std::int64_t> due;
  if (!*row) return due;
  for (int column : {0, 1}) {
    if (s.column_is_null(column)) continue;
    const std::int64_t at = s.column_int64(column);
    due = due ? std::min(*due, at) : at;
  }
  return due;
}

Status Registry::release_tasks(std::string_view node) {
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->release_tasks;
  Status st = s.bind(1, node);
  if (st) st = s.bind(2, now_unix_us());
  if (st) st = s.run();
  if (!st) {
    s.reset();
    return st;
  }
  wrote();
  return {};
}

// --- schedules ---------------------------------------------------------------

Result<bool> Registry::claim_firing(std::string_view function, std::string_view key,
                                    std::int64_t due_us) {
  if (auto st = check_function_name(function); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  // One statement decides, but in a BEGIN IMMEDIATE transaction: the write
  // lock is taken (waiting out another claimer) before anything is read.
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();
  auto claimed = claim_firing_in(function, key, due_us);
  if (!claimed) return claimed;
  if (auto commit = tx->commit(); !commit) return std::move(commit).error();
  if (*claimed) wrote();
  return claimed;
}

Result<bool> Registry::claim_firing_in(std::string_view function, std::string_view key,
                                       std::int64_t due_us) {
  Statement& s = stmts_->claim_firing;
  Status st = s.bind(1, function);
  if (st) st = s.bind(2, key);
  if (st) st = s.bind(3, due_us);
  if (st) st = s.run();
  if (!st) {
    s.reset();
    if (sqlite3_extended_errcode(db_.handle()) == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return function_not_found(function);
    }
    return std::move(st).error();
  }
  return db_.changes() > 0;
}

Result<std::optional<std::int64_t>> Registry::last_firing(std::string_view function,
                                                          std::string_view key) {
  if (auto st = check_function_name(function); !st) return std::move(st).error();
  std::lock_guard lock(mutex_);
  Statement& s = stmts_->select_firing;
  ResetOnExit reset(s);
  Status st = s.bind(1, function);
  if (st) st = s.bind(2, key);
  if (!st) return std::move(st).error();
  auto row = s.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(s.column_int64(0));
}

}  // namespace nebula::store
