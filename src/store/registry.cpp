#include "store/registry.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <utility>

namespace nebula::store {
namespace {

namespace fs = std::filesystem;

// PRAGMA user_version of the newest schema. Each step in kMigrations takes
// the database from version i to i + 1; a released step is never edited,
// only followed by a new one.
constexpr std::int64_t kSchemaVersion = 3;

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
};

// The columns of a record, in the order read_record expects and
// bind_record binds (?1 … ?20).
constexpr std::string_view kRecordColumns =
    "id, function, runtime, outcome, exit_code, cold, queue_us, startup_us, exec_us, "
    "teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes, output_bytes, "
    "started_at_us, message, stderr_tail, output_truncated, node";

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
  return r;
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
  Statement select_created;
  Statement upsert_function;
  Statement select_function;
  Statement select_functions;
  Statement delete_invocations_of;
  Statement delete_function;
  Statement insert_invocation;
  Statement count_invocations;
  Statement prune;
  Statement select_invocation;
  Statement seq_of;
  Statement stats_rows;

  Transaction::Statements transaction() noexcept { return {&begin, &commit, &rollback}; }
};

Result<std::unique_ptr<Registry>> Registry::open(const fs::path& data_dir,
                                                 RegistryOptions options) {
  if (options.max_records_per_function == 0) {
    return make_error(ErrorKind::kInvalidArgument, "max_records_per_function must be at least 1");
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
  const std::pair<Statement*, std::string> all[] = {
      {&stmts_->begin, "BEGIN IMMEDIATE"},
      {&stmts_->commit, "COMMIT"},
      {&stmts_->rollback, "ROLLBACK"},
      {&stmts_->select_created, "SELECT created_at_us FROM functions WHERE name = ?1"},
      {&stmts_->upsert_function,
       "INSERT INTO functions (name, manifest, created_at_us, updated_at_us) "
       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
       "manifest = excluded.manifest, updated_at_us = excluded.updated_at_us"},
      {&stmts_->select_function,
       "SELECT name, manifest, created_at_us, updated_at_us FROM functions WHERE name = ?1"},
      {&stmts_->select_functions,
       "SELECT name, manifest, created_at_us, updated_at_us FROM functions ORDER BY name"},
      {&stmts_->delete_invocations_of, "DELETE FROM invocations WHERE function = ?1"},
      {&stmts_->delete_function, "DELETE FROM functions WHERE name = ?1"},
      {&stmts_->insert_invocation,
       "INSERT INTO invocations (" + record_columns +
           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
           "?18, ?19, ?20)"},
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
  };
  for (const auto& [stmt, sql] : all) {
    auto prepared = db_.prepare(sql, /*persistent=*/true);
    if (!prepared) return std::move(prepared).error();
    *stmt = std::move(prepared).value();
  }
  return {};
}

Result<bool> Registry::put_function(const Function& function) {
  if (auto st = check_function_name(function.name); !st) return std::move(st).error();
  const std::string manifest = manifest_to_json(function.manifest);

  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(stmts_->transaction());
  if (!tx) return std::move(tx).error();

  std::optional<std::int64_t> created_at;
  {
    Statement& s = stmts_->select_created;
    ResetOnExit reset(s);
    if (auto st = s.bind(1, function.name); !st) return std::move(st).error();
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (*row) created_at = s.column_int64(0);
  }
  // The wall clock may step back; an update never predates the creation.
  const std::int64_t now = std::max(now_unix_us(), created_at.value_or(0));
  {
    Statement& s = stmts_->upsert_function;
    Status st = s.bind(1, function.name);
    if (st) st = s.bind(2, manifest);
    if (st) st = s.bind(3, now);
    if (st) st = s.bind(4, now);
    if (st) st = s.run();
    if (!st) {
      s.reset();
      return std::move(st).error();
    }
  }
  if (auto st = tx->commit(); !st) return std::move(st).error();
  wrote();
  return !created_at.has_value();
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
  // The foreign key would cascade too; deleting the records explicitly keeps
  // that true even for a connection that has foreign keys off.
  Status st = stmts_->delete_invocations_of.bind(1, name);
  if (st) st = stmts_->delete_invocations_of.run();
  if (st) st = stmts_->delete_function.bind(1, name);
  if (st) st = stmts_->delete_function.run();
  if (!st) {
    stmts_->delete_invocations_of.reset();
    stmts_->delete_function.reset();
    return std::move(st).error();
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

}  // namespace nebula::store
