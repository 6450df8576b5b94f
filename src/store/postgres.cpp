#include "store/postgres.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <libpq-fe.h>
#include <limits>
#include <poll.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>

#include "store/blob_store.hpp"

namespace nebula::store {
namespace {

using Clock = std::chrono::steady_clock;

// Type OIDs of the parameters we send (pg_type.h is a server header).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

constexpr const char* kChannel = "nebula_functions";

// Every Nebula node that migrates takes this transaction-scoped advisory
// lock first, so that nodes starting together migrate one after another.
constexpr long long kMigrationLock = 0x6e6562756c61;  // "nebula"

constexpr int kSchemaVersion = 2;

// Step i takes the schema from version i to i + 1. A released step is never
// edited, only followed by a new one. Runtimes and outcomes are stored as
// their API spelling, as in the SQLite registry. seq orders records: it is
// assigned at insert, so records of concurrent transactions on different
// nodes may commit slightly out of seq order.
constexpr const char* kMigrations[kSchemaVersion] = {
    R"sql(
CREATE TABLE functions (
  name          text PRIMARY KEY,
  manifest      text NOT NULL,
  created_at_us bigint NOT NULL,
  updated_at_us bigint NOT NULL
);
CREATE TABLE blobs (
  digest        text PRIMARY KEY,
  size          bigint NOT NULL,
  bytes         bytea NOT NULL,
  created_at_us bigint NOT NULL
);
-- Modules are compressed already; storing them as they are saves the CPU.
ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
CREATE TABLE invocations (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id               text NOT NULL UNIQUE,
  function         text NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
  node             text NOT NULL,
  runtime          text NOT NULL,
  outcome          text NOT NULL,
  exit_code        bigint NOT NULL,
  cold             boolean NOT NULL,
  queue_us         bigint NOT NULL,
  startup_us       bigint NOT NULL,
  exec_us          bigint NOT NULL,
  teardown_us      bigint NOT NULL,
  total_us         bigint NOT NULL,
  cpu_us           bigint,
  max_memory_bytes bigint,
  input_bytes      bigint NOT NULL,
  output_bytes     bigint NOT NULL,
  started_at_us    bigint NOT NULL,
  message          text NOT NULL,
  stderr_tail      text NOT NULL,
  output_truncated boolean NOT NULL
);
CREATE INDEX invocations_by_function ON invocations (function, seq);
)sql",
    // Versions, secrets, async tasks and schedule firings. A function that
    // exists already becomes version 1, its current manifest that version's.
    // Records written before this step ran version 0 (unknown) over HTTP.
    // Whatever belongs to a function goes with it (ON DELETE CASCADE).
    // Task bodies and results are bytes (a request body may be binary);
    // a task's runtime is NULL for "the version's default".
    R"sql(
ALTER TABLE functions ADD COLUMN version bigint NOT NULL DEFAULT 1;
CREATE TABLE versions (
  function      text NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
  version       bigint NOT NULL,
  manifest      text NOT NULL,
  created_at_us bigint NOT NULL,
  PRIMARY KEY (function, version)
);
INSERT INTO versions (function, version, manifest, created_at_us)
  SELECT name, version, manifest, updated_at_us FROM functions;
ALTER TABLE invocations ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN trigger text NOT NULL DEFAULT 'http';
CREATE TABLE secrets (
  name          text PRIMARY KEY,
  sealed        bytea NOT NULL,
  created_at_us bigint NOT NULL,
  updated_at_us bigint NOT NULL
);
CREATE TABLE tasks (
  id             text PRIMARY KEY,
  function       text NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
  version        bigint NOT NULL,
  runtime        text,
  trigger        text NOT NULL,
  body           bytea NOT NULL,
  content_type   text NOT NULL,
  query          text NOT NULL,
  callback_url   text NOT NULL,
  state          text NOT NULL,
  attempts       bigint NOT NULL,
  max_retries    bigint NOT NULL,
  created_at_us  bigint NOT NULL,
  next_run_at_us bigint NOT NULL,
  lease_until_us bigint NOT NULL,
  node           text NOT NULL,
  finished_at_us bigint NOT NULL,
  invocation_id  text NOT NULL,
  status         bigint NOT NULL,
  result         bytea NOT NULL,
  result_type    text NOT NULL
);
-- Claiming: the due queued ones by run time, the running ones by state.
CREATE INDEX tasks_due ON tasks (state, next_run_at_us);
-- Per function: the pending count of enqueue_task and the versions a
-- prune must keep.
CREATE INDEX tasks_by_function ON tasks (function, state, version);
-- Pruning finished tasks, newest first per function.
CREATE INDEX tasks_finished ON tasks (function, finished_at_us, id)
  WHERE state IN ('done', 'dead');
CREATE TABLE schedule_firings (
  function text NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
  key      text NOT NULL,
  due_us   bigint NOT NULL,
  PRIMARY KEY (function, key)
);
)sql",
};

// The advisory locks of one function's versions (see postgres.hpp): the
// two-key form, whose key space is apart from the migration lock's, with
// our own first key ("nebf") and a hash of the name as the second (a
// collision only makes two functions wait for each other).
constexpr const char* kLockFunction = "SELECT pg_advisory_xact_lock(1852138086, hashtext($1))";
constexpr const char* kLockFunctionShared =
    "SELECT pg_advisory_xact_lock_shared(1852138086, hashtext($1))";

// The columns of a record, in the order record_params sends them and
// read_record reads them.
constexpr const char* kRecordColumns =
    "id, function, node, runtime, outcome, exit_code, cold, queue_us, startup_us, exec_us, "
    "teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes, output_bytes, started_at_us, "
    "message, stderr_tail, output_truncated, version, trigger";
constexpr Oid kRecordTypes[] = {kTextOid, kTextOid, kTextOid, kTextOid, kTextOid, kInt8Oid,
                                kBoolOid, kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid,
                                kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kTextOid,
                                kTextOid, kBoolOid, kInt8Oid, kTextOid};
constexpr std::size_t kRecordFields = std::size(kRecordTypes);

struct ClearResult {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ClearResult>;

// One statement parameter; unset is SQL NULL.
struct Param {
  std::optional<std::string> value;
  Oid type = kTextOid;
  bool binary = false;
};

Param text(std::string v) {
  return Param{std::move(v), kTextOid, false};
}
Param int8(std::int64_t v) {
  return Param{std::to_string(v), kInt8Oid, false};
}
Param bytea(std::string_view v) {
  return Param{std::string(v), kByteaOid, true};
}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Error corrupt(std::string what) {
  return make_error(ErrorKind::kInternal,
                    "the PostgreSQL store holds " + std::move(what) + "; was it edited by hand?");
}

// Every row of a result through `read`; the first failure ends it.
template <class T>
Result<std::vector<T>> read_rows(const PGresult* r, Result<T> (*read)(const PGresult*, int)) {
  std::vector<T> rows;
  rows.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) {
    auto row = read(r, i);
    if (!row) return std::move(row).error();
    rows.push_back(std::move(*row));
  }
  return rows;
}

std::int64_t to_int(const char* v) {
  std::int64_t out = 0;
  if (v != nullptr) std::from_chars(v, v + std::strlen(v), out);
  return out;
}

// A bytea column of a text-format result ("\x" and hex digits) as bytes.
std::string bytes_of(const PGresult* r, int row, int col) {
  struct Free {
    void operator()(unsigned char* p) const noexcept { PQfreemem(p); }
  };
  std::size_t size = 0;
  std::unique_ptr<unsigned char, Free> raw(
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &size));
  if (!raw) return {};
  return std::string(reinterpret_cast<const char*>(raw.get()), size);
}

// Runs `body()` (which returns a Result or Status) between BEGIN and
// COMMIT on `conn`; a failure of the body rolls back and is the answer, as
// is a failed COMMIT (after which PostgreSQL has rolled back).
template <class Conn, class Body>
auto in_transaction(Conn& conn, const std::string& where, Body&& body) -> decltype(body()) {
  if (auto r = conn.exec_script("BEGIN", where); !r) return std::move(r).error();
  auto result = body();
  if (!result) {
    (void)conn.exec_script("ROLLBACK", where);
    return result;
  }
  if (auto r = conn.exec_script("COMMIT", where); !r) return std::move(r).error();
  return result;
}

// The affected-row count of an INSERT, UPDATE or DELETE.
std::int64_t affected(const PGresult* r) {
  return to_int(PQcmdTuples(const_cast<PGresult*>(r)));
}

}  // namespace

bool is_postgres_dsn(std::string_view dsn) noexcept {
  return dsn.starts_with("postgresql://") || dsn.starts_with("postgres://") ||
         dsn.find("host=") != std::string_view::npos ||
         dsn.find("dbname=") != std::string_view::npos;
}

int PostgresStore::schema_version() noexcept {
  return kSchemaVersion;
}

// --- connections -------------------------------------------------------------

class PostgresStore::Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  [[nodiscard]] PGconn* get() const noexcept { return conn_; }
  [[nodiscard]] bool broken() const noexcept { return PQstatus(conn_) != CONNECTION_OK; }

  // Runs one statement with parameters (text results unless
  // `binary_result`). A failure names `where`; a lost connection is
  // kUnavailable, as are deadlocks and serialisation failures, which a
  // caller may retry.
  [[nodiscard]] Result<PgResult> exec(const char* sql, const std::vector<Param>& params,
                                      const std::string& where, bool binary_result = false) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    std::vector<Oid> types;
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    types.reserve(params.size());
    for (const Param& p : params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
      types.push_back(p.type);
    }
    PgResult r(PQexecParams(conn_, sql, static_cast<int>(params.size()), types.data(),
                            values.data(), lengths.data(), formats.data(), binary_result ? 1 : 0));
    return check(std::move(r), where);
  }

  // Runs `COPY … FROM STDIN` with `rows` (COPY's text format) as its data.
  [[nodiscard]] Status copy_in(const char* sql, std::string_view rows, const std::string& where) {
    PgResult started(PQexec(conn_, sql));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
      auto r = check(std::move(started), where);
      if (!r) return std::move(r).error();
      return make_error(ErrorKind::kInternal, "PostgreSQL at " + where + " did not start COPY");
    }
    if (PQputCopyData(conn_, rows.data(), static_cast<int>(rows.size())) != 1 ||
        PQputCopyEnd(conn_, nullptr) != 1) {
      return make_error(ErrorKind::kUnavailable, "PostgreSQL at " + where + " is unreachable: " +
                                                     trimmed(PQerrorMessage(conn_)));
    }
    auto finished = check(PgResult(PQgetResult(conn_)), where);
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (!finished) return std::move(finished).error();
    return {};
  }

  // Runs a script of statements without parameters.
  [[nodiscard]] Result<PgResult> exec_script(const char* sql, const std::string& where) {
    return check(PgResult(PQexec(conn_, sql)), where);
  }

 private:
  Result<PgResult> check(PgResult r, const std::string& where) {
    const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    if (broken()) {
      return make_error(ErrorKind::kUnavailable, "PostgreSQL at " + where + " is unreachable: " +
                                                     trimmed(PQerrorMessage(conn_)));
    }
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string code = state != nullptr ? state : "";
    const std::string message = trimmed(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    ErrorKind kind = ErrorKind::kInternal;
    if (code == "23503") kind = ErrorKind::kNotFound;         // foreign key
    if (code == "23505") kind = ErrorKind::kInvalidArgument;  // unique
    if (code == "40001" || code == "40P01" || code.starts_with("08") || code.starts_with("57P")) {
      kind = ErrorKind::kUnavailable;  // serialisation, deadlock, connection, shutdown
    }
    if (code == "53100") kind = ErrorKind::kNoSpace;  // disk_full
    return make_error(kind, "PostgreSQL at " + where + ": " + message);
  }

  PGconn* conn_;
};

// A connection borrowed from the pool; back to it when the lease ends,
// unless it broke, in which case it is closed and the next caller makes a
// new one.
class PostgresStore::Lease {
 public:
  Lease(PostgresStore* store, std::unique_ptr<Connection> connection, bool reused)
      : store_(store), connection_(std::move(connection)), reused_(reused) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (connection_) store_->release(std::move(connection_));
  }

  Connection* operator->() const noexcept { return connection_.get(); }
  Connection& operator*() const noexcept { return *connection_; }
  // True for a connection that sat idle in the pool: if the server
  // restarted meanwhile, it fails on first use.
  [[nodiscard]] bool reused() const noexcept { return reused_; }

 private:
  PostgresStore* store_;
  std::unique_ptr<Connection> connection_;
  bool reused_;
};

PostgresStore::PostgresStore(std::string dsn, PostgresOptions options, std::string where)
    : dsn_(std::move(dsn)), options_(options), where_(std::move(where)) {}

PostgresStore::~PostgresStore() {
  stop_watching();
}

void PostgresStore::stop_watching() {
  if (listener_.joinable()) {
    const char byte = 1;
    (void)::write(wake_fd_[1], &byte, 1);
    listener_.join();
  }
  for (int& fd : wake_fd_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

Result<std::unique_ptr<PostgresStore::Connection>> PostgresStore::connect() {
  // Our defaults first, the DSN last: what the DSN says wins.
  const std::string timeout = std::to_string(options_.connect_timeout.count());
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "nebula", dsn_.c_str(), nullptr};
  auto connection =
      std::make_unique<Connection>(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (connection->get() == nullptr) {
    return make_error(ErrorKind::kInternal, "out of memory connecting to PostgreSQL");
  }
  // Server notices ("relation already exists, skipping") are for logs at
  // debug level, not for stderr.
  PQsetNoticeProcessor(
      connection->get(),
      [](void*, const char* message) { spdlog::debug("PostgreSQL: {}", trimmed(message)); },
      nullptr);
  if (connection->broken()) {
    return make_error(ErrorKind::kUnavailable,
                      "cannot connect to PostgreSQL" +
                          (where_.empty() ? std::string() : " at " + where_) + ": " +
                          trimmed(PQerrorMessage(connection->get())));
  }
  return connection;
}

Result<PostgresStore::Lease> PostgresStore::acquire() {
  std::unique_lock lock(pool_mutex_);
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection), /*reused=*/true);
    }
    if (open_ < options_.connections) {
      const auto now = Clock::now();
      if (now < retry_at_) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now);
        return make_error(ErrorKind::kUnavailable, "PostgreSQL at " + where_ +
                                                       " is unreachable; next attempt in " +
                                                       std::to_string(wait.count()) + " ms");
      }
      ++open_;
      lock.unlock();
      auto connection = connect();
      lock.lock();
      if (!connection) {
        --open_;
        backoff_ = std::clamp(backoff_ * 2, options_.min_backoff, options_.max_backoff);
        retry_at_ = Clock::now() + backoff_;
        pool_cv_.notify_one();
        return std::move(connection).error();
      }
      backoff_ = std::chrono::milliseconds(0);
      return Lease(this, std::move(*connection), /*reused=*/false);
    }
    if (pool_cv_.wait_until(lock, give_up) == std::cv_status::timeout) {
      return make_error(ErrorKind::kUnavailable,
                        "every PostgreSQL connection stayed busy for 10 s");
    }
  }
}

void PostgresStore::release(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(pool_mutex_);
  if (connection->broken()) {
    --open_;
    connection.reset();
  } else {
    idle_.push_back(std::move(connection));
  }
  pool_cv_.notify_one();
}

// A connection that sat idle may have been cut by a server restart and
// fails at its first statement; then the work runs once more on a new one,
// which makes a store that came back answer at the first call instead of
// the second. Only the first statement can fail that way, so nothing runs
// twice.
template <class Work>
auto PostgresStore::with_connection(Work&& work) -> decltype(work(std::declval<Lease&>())) {
  {
    auto lease = acquire();
    if (!lease) return std::move(lease).error();
    auto result = work(*lease);
    if (result || !(*lease)->broken() || !lease->reused()) return result;
  }
  auto lease = acquire();
  if (!lease) return std::move(lease).error();
  return work(*lease);
}

// --- open and migrate --------------------------------------------------------

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(std::string dsn,
                                                           PostgresOptions options) {
  options.connections = std::max<std::size_t>(1, options.connections);
  options.max_records_per_function = std::max<std::size_t>(1, options.max_records_per_function);
  options.max_versions_per_function = std::max<std::size_t>(1, options.max_versions_per_function);
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(dsn), options, ""));
  auto first = store->connect();
  if (!first) return std::move(first).error();
  PGconn* c = (*first)->get();
  const_cast<std::string&>(store->where_) =
      std::string(PQhost(c)) + ":" + PQport(c) + "/" + PQdb(c);
  const std::string& where = store->where_;

  Connection& conn = **first;
  auto fail = [&](const Error& e) -> Error {
    (void)conn.exec_script("ROLLBACK", where);
    return make_error(e.kind, "cannot migrate the PostgreSQL schema: " + e.message);
  };
  if (auto r = conn.exec_script("BEGIN", where); !r) return fail(r.error());
  if (auto r = conn.exec("SELECT pg_advisory_xact_lock($1)", {int8(kMigrationLock)}, where); !r) {
    return fail(r.error());
  }
  if (auto r = conn.exec_script(
          "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)", where);
      !r) {
    return fail(r.error());
  }
  auto current = conn.exec("SELECT version FROM schema_version", {}, where);
  if (!current) return fail(current.error());
  int version = 0;
  if (PQntuples(current->get()) == 0) {
    if (auto r = conn.exec_script("INSERT INTO schema_version VALUES (0)", where); !r) {
      return fail(r.error());
    }
  } else {
    version = static_cast<int>(to_int(PQgetvalue(current->get(), 0, 0)));
  }
  if (version > kSchemaVersion) {
    (void)conn.exec_script("ROLLBACK", where);
    return make_error(ErrorKind::kUnavailable,
                      "the PostgreSQL store at " + where + " has schema version " +
                          std::to_string(version) + ", newer than this Nebula understands (" +
                          std::to_string(kSchemaVersion) + "); run a newer Nebula");
  }
  for (int v = version; v < kSchemaVersion; ++v) {
    if (auto r = conn.exec_script(kMigrations[v], where); !r) return fail(r.error());
    spdlog::info("PostgreSQL store at {}: schema upgraded to version {}", where, v + 1);
  }
  if (auto r = conn.exec("UPDATE schema_version SET version = $1", {int8(kSchemaVersion)}, where);
      !r) {
    return fail(r.error());
  }
  if (auto r = conn.exec_script("COMMIT", where); !r) return fail(r.error());

  store->open_ = 1;
  store->idle_.push_back(std::move(*first));
  return store;
}

// --- functions ---------------------------------------------------------------

namespace {

// The columns read_function reads, in its order.
constexpr const char* kFunctionColumns = "name, manifest, created_at_us, updated_at_us, version";

Result<Manifest> read_manifest(const std::string& function, const char* json) {
  auto manifest = parse_manifest(json);
  if (!manifest) {
    return corrupt("a manifest for function '" + function +
                   "' that no longer parses: " + manifest.error().message);
  }
  return manifest;
}

Result<Function> read_function(const PGresult* r, int row) {
  Function f;
  f.name = PQgetvalue(r, row, 0);
  auto manifest = read_manifest(f.name, PQgetvalue(r, row, 1));
  if (!manifest) return std::move(manifest).error();
  f.manifest = std::move(manifest).value();
  f.created_at_us = to_int(PQgetvalue(r, row, 2));
  f.updated_at_us = to_int(PQgetvalue(r, row, 3));
  f.version = static_cast<std::uint64_t>(to_int(PQgetvalue(r, row, 4)));
  return f;
}

// Kept version numbers (ascending) as ranges: "1, 3-5".
std::string describe_versions(const std::vector<std::int64_t>& versions) {
  std::string out;
  for (std::size_t i = 0; i < versions.size();) {
    std::size_t j = i;
    while (j + 1 < versions.size() && versions[j + 1] == versions[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(versions[i]);
    if (j > i) out += "-" + std::to_string(versions[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

// kNotFound for a version of a deployed function that is not kept, naming
// the ones that are, so that the caller can pick one.
template <class Conn>
Error version_not_found(Conn& conn, const std::string& where, std::string_view name,
                        std::int64_t version) {
  const std::string fn(name);
  auto kept = conn.exec("SELECT version FROM versions WHERE function = $1 ORDER BY version",
                        {text(fn)}, where);
  std::string list = "unknown";
  if (kept) {
    std::vector<std::int64_t> versions;
    versions.reserve(static_cast<std::size_t>(PQntuples(kept->get())));
    for (int i = 0; i < PQntuples(kept->get()); ++i) {
      versions.push_back(to_int(PQgetvalue(kept->get(), i, 0)));
    }
    list = describe_versions(versions);
  }
  return make_error(ErrorKind::kNotFound, "function '" + fn + "' has no version " +
                                              std::to_string(version) + " (kept versions: " + list +
                                              "; see GET /v1/functions/" + fn + "/versions)");
}

}  // namespace

Result<PutResult> PostgresStore::put_function(const Function& function) {
  if (auto st = check_function_name(function.name); !st) return std::move(st).error();
  const std::string manifest = manifest_to_json(function.manifest);
  const auto keep = static_cast<std::int64_t>(options_.max_versions_per_function);
  return with_connection([&](Lease& lease) -> Result<PutResult> {
    return in_transaction(*lease, where_, [&]() -> Result<PutResult> {
      // Under the function's lock, so that "the highest kept + 1" is
      // nobody else's number too (see postgres.hpp).
      if (auto r = lease->exec(kLockFunction, {text(function.name)}, where_); !r) {
        return std::move(r).error();
      }
      // Every replace moves updated_at_us forward, even when this node's
      // clock is behind the last writer's, so that nodes can tell
      // deploys apart by it.
      auto up = lease->exec(
          "INSERT INTO functions AS f (name, manifest, version, created_at_us, updated_at_us) "
          "VALUES ($1, $2, "
          "  (SELECT COALESCE(max(version), 0) + 1 FROM versions WHERE function = $1), $3, $3) "
          "ON CONFLICT (name) DO UPDATE SET manifest = EXCLUDED.manifest,"
          "  version = EXCLUDED.version,"
          "  updated_at_us = GREATEST(EXCLUDED.updated_at_us, f.updated_at_us + 1) "
          "RETURNING (xmax = 0) AS created, version",
          {text(function.name), text(manifest), int8(now_unix_us())}, where_);
      if (!up) return std::move(up).error();
      if (PQntuples(up->get()) != 1) return corrupt("no row for a function just written");
      PutResult put;
      put.created = PQgetvalue(up->get(), 0, 0)[0] == 't';
      const std::int64_t version = to_int(PQgetvalue(up->get(), 0, 1));
      put.version = static_cast<std::uint64_t>(version);
      // The version row and the notification, which is sent when (and
      // only if) all of this commits.
      auto row = lease->exec(
          "WITH v AS (INSERT INTO versions (function, version, manifest, created_at_us) "
          "  VALUES ($1, $2, $3, $4) RETURNING function) "
          "SELECT pg_notify('nebula_functions', function) FROM v",
          {text(function.name), int8(version), text(manifest), int8(now_unix_us())}, where_);
      if (!row) return std::move(row).error();
      // The oldest versions beyond the newest `keep` go, except those a
      // queued or running task will still run: enqueue_task holds the lock
      // shared, so every such task has committed by now. The serving one is
      // this new, newest version, never among them (`<> $2` says so all
      // the same, should the numbering ever change).
      auto pruned = lease->exec(
          "DELETE FROM versions v WHERE v.function = $1 AND v.version <> $2 AND v.version < "
          "  (SELECT version FROM versions WHERE function = $1 ORDER BY version DESC "
          "   OFFSET $3 LIMIT 1) "
          "AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.function = $1 "
          "  AND t.state IN ('queued', 'running') AND t.version = v.version)",
          {text(function.name), int8(version), int8(keep - 1)}, where_);
      if (!pruned) return std::move(pruned).error();
      return put;
    });
  });
}

Result<Function> PostgresStore::get_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  const std::string sql =
      std::string("SELECT ") + kFunctionColumns + " FROM functions WHERE name = $1";
  return with_connection([&](Lease& lease) -> Result<Function> {
    auto r = lease->exec(sql.c_str(), {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return function_not_found(name);
    return read_function(r->get(), 0);
  });
}

Result<std::vector<Function>> PostgresStore::list_functions() {
  const std::string sql =
      std::string("SELECT ") + kFunctionColumns + " FROM functions ORDER BY name";
  return with_connection([&](Lease& lease) -> Result<std::vector<Function>> {
    auto r = lease->exec(sql.c_str(), {}, where_);
    if (!r) return std::move(r).error();
    return read_rows(r->get(), &read_function);
  });
}

Result<bool> PostgresStore::delete_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  // Its versions, records, tasks and schedule firings go with it (ON
  // DELETE CASCADE).
  return with_connection([&](Lease& lease) -> Result<bool> {
    auto r = lease->exec(
        "WITH d AS (DELETE FROM functions WHERE name = $1 RETURNING name) "
        "SELECT pg_notify('nebula_functions', name) FROM d",
        {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    return PQntuples(r->get()) > 0;
  });
}

// --- versions ----------------------------------------------------------------

Result<std::vector<FunctionVersion>> PostgresStore::list_versions(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  const std::string fn(name);
  return with_connection([&](Lease& lease) -> Result<std::vector<FunctionVersion>> {
    // The join tells "not deployed" (no row) from "no versions" (one row
    // of NULLs; only a database edited by hand has that).
    auto r = lease->exec(
        "SELECT v.version, v.manifest, v.created_at_us FROM functions f "
        "LEFT JOIN versions v ON v.function = f.name WHERE f.name = $1 "
        "ORDER BY v.version DESC",
        {text(fn)}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return function_not_found(name);
    std::vector<FunctionVersion> versions;
    versions.reserve(static_cast<std::size_t>(PQntuples(r->get())));
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      if (PQgetisnull(r->get(), i, 0) != 0) continue;
      FunctionVersion v;
      v.version = static_cast<std::uint64_t>(to_int(PQgetvalue(r->get(), i, 0)));
      auto manifest = read_manifest(fn, PQgetvalue(r->get(), i, 1));
      if (!manifest) return std::move(manifest).error();
      v.manifest = std::move(manifest).value();
      v.created_at_us = to_int(PQgetvalue(r->get(), i, 2));
      versions.push_back(std::move(v));
    }
    return versions;
  });
}

Result<FunctionVersion> PostgresStore::get_version(std::string_view name, std::uint64_t version) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  const std::string fn(name);
  const auto number = static_cast<std::int64_t>(version);
  return with_connection([&](Lease& lease) -> Result<FunctionVersion> {
    auto r = lease->exec(
        "SELECT v.version, v.manifest, v.created_at_us FROM functions f "
        "LEFT JOIN versions v ON v.function = f.name AND v.version = $2 WHERE f.name = $1",
        {text(fn), int8(number)}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return function_not_found(name);
    if (PQgetisnull(r->get(), 0, 0) != 0) return version_not_found(*lease, where_, name, number);
    FunctionVersion v;
    v.version = version;
    auto manifest = read_manifest(fn, PQgetvalue(r->get(), 0, 1));
    if (!manifest) return std::move(manifest).error();
    v.manifest = std::move(manifest).value();
    v.created_at_us = to_int(PQgetvalue(r->get(), 0, 2));
    return v;
  });
}

Result<Function> PostgresStore::activate_version(std::string_view name, std::uint64_t version) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  const std::string fn(name);
  const auto number = static_cast<std::int64_t>(version);
  const std::string sql =
      std::string(
          "WITH v AS (SELECT manifest, version FROM versions"
          "  WHERE function = $1 AND version = $2), "
          "up AS (UPDATE functions f SET manifest = v.manifest, version = v.version,"
          "  updated_at_us = GREATEST($3, f.updated_at_us + 1) FROM v WHERE f.name = $1 "
          "  RETURNING f.*) "
          "SELECT ") +
      kFunctionColumns + ", pg_notify('nebula_functions', name) FROM up";
  return with_connection([&](Lease& lease) -> Result<Function> {
    Connection& conn = *lease;
    return in_transaction(conn, where_, [&]() -> Result<Function> {
      // Under the function's lock: a deploy pruning the version that
      // becomes the serving one here waits, or is waited for.
      if (auto r = conn.exec(kLockFunction, {text(fn)}, where_); !r) return std::move(r).error();
      auto r = conn.exec(sql.c_str(), {text(fn), int8(number), int8(now_unix_us())}, where_);
      if (!r) return std::move(r).error();
      if (PQntuples(r->get()) == 1) return read_function(r->get(), 0);
      auto exists = conn.exec("SELECT 1 FROM functions WHERE name = $1", {text(fn)}, where_);
      if (!exists) return std::move(exists).error();
      if (PQntuples(exists->get()) == 0) return function_not_found(name);
      return version_not_found(conn, where_, name, number);
    });
  });
}

// --- blobs -------------------------------------------------------------------

Result<std::string> PostgresStore::put_blob(std::string_view bytes) {
  auto digest = sha256_digest(bytes);
  if (!digest) return std::move(digest).error();
  return with_connection([&](Lease& lease) -> Result<std::string> {
    // Content already present is not sent again.
    auto present = lease->exec("SELECT 1 FROM blobs WHERE digest = $1", {text(*digest)}, where_);
    if (!present) return std::move(present).error();
    if (PQntuples(present->get()) > 0) return *digest;
    auto r = lease->exec(
        "INSERT INTO blobs (digest, size, bytes, created_at_us) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (digest) DO NOTHING",
        {text(*digest), int8(static_cast<std::int64_t>(bytes.size())),
         Param{std::string(bytes), kByteaOid, true}, int8(now_unix_us())},
        where_);
    if (!r) return std::move(r).error();
    return *digest;
  });
}

Result<std::string> PostgresStore::get_blob(std::string_view digest) {
  return with_connection([&](Lease& lease) -> Result<std::string> {
    auto r = lease->exec("SELECT bytes FROM blobs WHERE digest = $1", {text(std::string(digest))},
                         where_, /*binary_result=*/true);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) {
      return make_error(ErrorKind::kNotFound, "no module " + std::string(digest) + " is stored");
    }
    std::string bytes(PQgetvalue(r->get(), 0, 0),
                      static_cast<std::size_t>(PQgetlength(r->get(), 0, 0)));
    auto check = sha256_digest(bytes);
    if (!check) return std::move(check).error();
    if (*check != digest) return corrupt("module " + std::string(digest) + " with other bytes");
    return bytes;
  });
}

Result<bool> PostgresStore::has_blob(std::string_view digest) {
  return with_connection([&](Lease& lease) -> Result<bool> {
    auto r =
        lease->exec("SELECT 1 FROM blobs WHERE digest = $1", {text(std::string(digest))}, where_);
    if (!r) return std::move(r).error();
    return PQntuples(r->get()) > 0;
  });
}

// --- invocation records ------------------------------------------------------

namespace {

// Text as PostgreSQL accepts it: valid UTF-8 without NUL bytes. What a
// function wrote to stderr may be anything; a byte PostgreSQL refuses would
// fail the whole batch.
std::string pg_text(std::string_view v) {
  std::string out = valid_utf8(v);
  if (out.find('\0') == std::string::npos) return out;
  std::string clean;
  clean.reserve(out.size() + 8);
  for (char c : out) {
    if (c == '\0') {
      clean += "\xEF\xBF\xBD";  // U+FFFD
    } else {
      clean += c;
    }
  }
  return clean;
}

// A record's values in kRecordColumns order, as text; unset is NULL.
std::array<std::optional<std::string>, kRecordFields> record_fields(const InvocationRecord& r) {
  auto number = [](std::int64_t v) { return std::optional<std::string>(std::to_string(v)); };
  auto optional = [](const std::optional<std::uint64_t>& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return std::to_string(static_cast<std::int64_t>(*v));
  };
  auto flag = [](bool v) { return std::optional<std::string>(v ? "t" : "f"); };
  return {pg_text(r.id),
          pg_text(r.function),
          pg_text(r.node),
          std::string(to_string(r.runtime)),
          std::string(to_string(r.outcome)),
          number(r.exit_code),
          flag(r.cold),
          number(r.timings.queue_us),
          number(r.timings.startup_us),
          number(r.timings.exec_us),
          number(r.timings.teardown_us),
          number(r.timings.total_us),
          optional(r.cpu_us),
          optional(r.max_memory_bytes),
          number(static_cast<std::int64_t>(r.input_bytes)),
          number(static_cast<std::int64_t>(r.output_bytes)),
          number(r.started_at_us),
          pg_text(r.message),
          pg_text(r.stderr_tail),
          flag(r.output_truncated),
          number(static_cast<std::int64_t>(r.version)),
          std::string(to_string(r.trigger))};
}

// One row of COPY's text format: tab-separated, \N for NULL, backslash
// escapes for the characters that would end a field or a row.
void append_copy_row(std::string& out, const InvocationRecord& r) {
  bool first = true;
  for (const auto& field : record_fields(r)) {
    if (!first) out += '\t';
    first = false;
    if (!field) {
      out += "\\N";
      continue;
    }
    for (char c : *field) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += c;
      }
    }
  }
  out += '\n';
}

Result<InvocationRecord> read_record(const PGresult* res, int row) {
  int c = 0;
  auto next = [&] { return PQgetvalue(res, row, c++); };
  auto optional = [&]() -> std::optional<std::uint64_t> {
    const bool null = PQgetisnull(res, row, c) != 0;
    const char* v = next();
    if (null) return std::nullopt;
    return static_cast<std::uint64_t>(to_int(v));
  };
  InvocationRecord r;
  r.id = next();
  r.function = next();
  r.node = next();
  const std::string runtime = next();
  const std::string outcome = next();
  auto kind = parse_runtime_kind(runtime);
  auto result = parse_outcome(outcome);
  if (!kind || !result) {
    return corrupt("invocation " + r.id + " with runtime '" + runtime + "' and outcome '" +
                   outcome + "'");
  }
  r.runtime = *kind;
  r.outcome = *result;
  r.exit_code = static_cast<int>(to_int(next()));
  r.cold = next()[0] == 't';
  r.timings.queue_us = to_int(next());
  r.timings.startup_us = to_int(next());
  r.timings.exec_us = to_int(next());
  r.timings.teardown_us = to_int(next());
  r.timings.total_us = to_int(next());
  r.cpu_us = optional();
  r.max_memory_bytes = optional();
  r.input_bytes = static_cast<std::uint64_t>(to_int(next()));
  r.output_bytes = static_cast<std::uint64_t>(to_int(next()));
  r.started_at_us = to_int(next());
  r.message = next();
  r.stderr_tail = next();
  r.output_truncated = next()[0] == 't';
  r.version = static_cast<std::uint64_t>(to_int(next()));
  const std::string trigger = next();
  auto how = parse_trigger_kind(trigger);
  if (!how) return corrupt("invocation " + r.id + " with trigger '" + trigger + "'");
  r.trigger = *how;
  return r;
}

}  // namespace

std::vector<Status> PostgresStore::add_invocations(const std::vector<InvocationRecord>& records) {
  std::vector<Status> statuses(records.size());
  std::vector<const InvocationRecord*> valid;
  valid.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    statuses[i] = check_record(records[i]);
    if (statuses[i]) valid.push_back(&records[i]);
  }
  if (valid.empty()) return statuses;

  // The fast path: the whole batch through COPY, which PostgreSQL takes at
  // a fraction of an INSERT's cost per row, in the batch's order (seq is
  // what "newest" means).
  std::string copy_rows;
  for (const InvocationRecord* r : valid) append_copy_row(copy_rows, *r);
  const std::string copy_sql = std::string("COPY invocations (") + kRecordColumns + ") FROM STDIN";

  // The careful path, when COPY refuses the batch because a record's
  // function was deleted meanwhile (the foreign key) or an id is recorded
  // already: one INSERT that leaves those rows out (EXISTS, ON CONFLICT)
  // and names the rows it wrote. An ordinal column keeps the batch's order
  // through the semi-join.
  auto insert_statement = [&] {
    std::string sql = std::string("INSERT INTO invocations (") + kRecordColumns + ") SELECT " +
                      kRecordColumns + " FROM (VALUES ";
    std::vector<Param> params;
    params.reserve(valid.size() * kRecordFields);
    for (std::size_t row = 0; row < valid.size(); ++row) {
      sql += row == 0 ? "(" : ", (";
      std::size_t col = 0;
      for (auto& field : record_fields(*valid[row])) {
        // Appended piece by piece: `"$" + std::to_string(…)` trips GCC 12's
        // -Wrestrict false positive.
        sql += '$';
        sql += std::to_string(row * kRecordFields + col + 1);
        sql += ", ";
        params.push_back(Param{std::move(field), kRecordTypes[col], false});
        ++col;
      }
      sql += std::to_string(row) + ")";
    }
    sql += std::string(") AS v (") + kRecordColumns +
           ", ord) WHERE EXISTS (SELECT 1 FROM functions f WHERE f.name = v.function) "
           "ORDER BY ord ON CONFLICT (id) DO NOTHING RETURNING id";
    return std::make_pair(std::move(sql), std::move(params));
  };

  // Pruning costs a walk over `keep` index entries, so a function is
  // pruned once this node has added `slack` records to it since the last
  // time: at most 1/16 of the maximum (64 at most), every batch for small
  // maxima. Each node prunes on its own count, so a function holds about
  // `keep` records (up to `slack` more per node between prunes).
  const auto keep = static_cast<std::int64_t>(options_.max_records_per_function);
  const std::size_t slack = std::clamp<std::size_t>(options_.max_records_per_function / 16, 1, 64);
  std::unordered_map<std::string, std::size_t> added;
  for (const InvocationRecord* r : valid) ++added[r->function];
  std::vector<std::string> to_prune;
  {
    std::lock_guard lock(prune_mutex_);
    for (const auto& [function, n] : added) {
      if (unpruned_[function] + n >= slack) to_prune.push_back(function);
    }
  }

  auto written = with_connection([&](Lease& lease) -> Result<std::unordered_set<std::string>> {
    auto fail = [&](Error e) -> Error {
      (void)lease->exec_script("ROLLBACK", where_);
      return e;
    };
    std::unordered_set<std::string> ids;
    if (auto r = lease->exec_script("BEGIN", where_); !r) return std::move(r).error();
    auto copied = lease->copy_in(copy_sql.c_str(), copy_rows, where_);
    if (copied) {
      for (const InvocationRecord* r : valid) ids.insert(r->id);
    } else {
      const ErrorKind kind = copied.error().kind;
      if (kind != ErrorKind::kNotFound && kind != ErrorKind::kInvalidArgument) {
        return fail(std::move(copied).error());
      }
      (void)lease->exec_script("ROLLBACK", where_);
      if (auto r = lease->exec_script("BEGIN", where_); !r) return std::move(r).error();
      auto [sql, params] = insert_statement();
      auto inserted = lease->exec(sql.c_str(), params, where_);
      if (!inserted) return fail(std::move(inserted).error());
      for (int i = 0; i < PQntuples(inserted->get()); ++i) {
        ids.insert(PQgetvalue(inserted->get(), i, 0));
      }
    }
    // Each function keeps its newest `keep` records: the ones below the
    // keep-th newest go, found through the (function, seq) index.
    for (const std::string& function : to_prune) {
      auto pruned = lease->exec(
          "DELETE FROM invocations WHERE function = $1 AND seq <= "
          "(SELECT seq FROM invocations WHERE function = $1 ORDER BY seq DESC "
          "OFFSET $2 LIMIT 1)",
          {text(function), int8(keep)}, where_);
      if (!pruned) return fail(std::move(pruned).error());
    }
    if (auto r = lease->exec_script("COMMIT", where_); !r) return std::move(r).error();
    std::lock_guard lock(prune_mutex_);
    for (const auto& [function, n] : added) unpruned_[function] += n;
    for (const std::string& function : to_prune) unpruned_.erase(function);
    return ids;
  });
  for (std::size_t i = 0, v = 0; i < records.size(); ++i) {
    if (v >= valid.size() || valid[v] != &records[i]) continue;
    ++v;
    if (!written) {
      statuses[i] = written.error();
    } else if (!written->contains(records[i].id)) {
      statuses[i] =
          make_error(ErrorKind::kNotFound, "invocation " + records[i].id +
                                               " not recorded: function '" + records[i].function +
                                               "' is not deployed, or the id is recorded already");
    }
  }
  return statuses;
}

Result<std::vector<InvocationRecord>> PostgresStore::list_invocations(
    const InvocationQuery& query) {
  if (query.function) {
    if (auto st = check_function_name(*query.function); !st) return std::move(st).error();
  }
  const auto limit = static_cast<std::int64_t>(
      std::clamp<std::size_t>(query.limit, 1, InvocationQuery::kMaxLimit));
  std::string sql = std::string("SELECT ") + kRecordColumns + " FROM invocations";
  std::vector<Param> params;
  auto add = [&](const std::string& condition, Param p) {
    sql += params.empty() ? " WHERE " : " AND ";
    params.push_back(std::move(p));
    sql += condition + " $" + std::to_string(params.size());
  };
  if (query.function) add("function =", text(*query.function));
  if (query.runtime) add("runtime =", text(to_string(*query.runtime)));
  if (query.outcome) add("outcome =", text(to_string(*query.outcome)));

  return with_connection([&](Lease& lease) -> Result<std::vector<InvocationRecord>> {
    std::string statement = sql;
    std::vector<Param> all = params;
    if (query.before) {
      auto seq =
          lease->exec("SELECT seq FROM invocations WHERE id = $1", {text(*query.before)}, where_);
      if (!seq) return std::move(seq).error();
      if (PQntuples(seq->get()) == 0) {
        return make_error(ErrorKind::kNotFound,
                          "the cursor invocation '" + *query.before +
                              "' is not kept (it may have been pruned); list from the newest "
                              "records again");
      }
      statement += all.empty() ? " WHERE " : " AND ";
      all.push_back(int8(to_int(PQgetvalue(seq->get(), 0, 0))));
      statement += "seq < $" + std::to_string(all.size());
    }
    all.push_back(int8(limit));
    statement += " ORDER BY seq DESC LIMIT $" + std::to_string(all.size());
    auto r = lease->exec(statement.c_str(), all, where_);
    if (!r) return std::move(r).error();
    return read_rows(r->get(), &read_record);
  });
}

Result<InvocationRecord> PostgresStore::get_invocation(std::string_view id) {
  const std::string sql =
      std::string("SELECT ") + kRecordColumns + " FROM invocations WHERE id = $1";
  return with_connection([&](Lease& lease) -> Result<InvocationRecord> {
    auto r = lease->exec(sql.c_str(), {text(std::string(id))}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) {
      return make_error(ErrorKind::kNotFound,
                        "invocation '" + std::string(id.substr(0, 80)) +
                            "' is not recorded (records are kept for the newest " +
                            std::to_string(options_.max_records_per_function) +
                            " invocations of each function)");
    }
    return read_record(r->get(), 0);
  });
}

Result<FunctionStats> PostgresStore::function_stats(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  return with_connection([&](Lease& lease) -> Result<FunctionStats> {
    auto r = lease->exec(
        "SELECT runtime, outcome, cold, startup_us FROM invocations WHERE function = $1",
        {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    StatsBuilder stats;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      auto runtime = parse_runtime_kind(PQgetvalue(r->get(), i, 0));
      auto outcome = parse_outcome(PQgetvalue(r->get(), i, 1));
      if (!runtime || !outcome) {
        return corrupt("invocations of '" + std::string(name) +
                       "' with an unknown runtime or outcome");
      }
      stats.add(*runtime, *outcome, PQgetvalue(r->get(), i, 2)[0] == 't',
                to_int(PQgetvalue(r->get(), i, 3)));
    }
    return stats.finish();
  });
}

Status PostgresStore::ping() {
  auto r = with_connection([&](Lease& lease) -> Result<bool> {
    auto one = lease->exec("SELECT 1", {}, where_);
    if (!one) return std::move(one).error();
    return true;
  });
  if (!r) return std::move(r).error();
  return {};
}

// --- secrets -----------------------------------------------------------------

// Sealed values travel as binary parameters and results, so any byte
// survives, and no message here ever includes one.

Result<bool> PostgresStore::put_secret(std::string_view name, std::string_view sealed) {
  if (!is_valid_function_name(name)) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid secret name '" + pg_text(name.substr(0, 80)) +
                          "': use 1 to 63 characters of a-z, 0-9 and '-', starting with a "
                          "letter or digit");
  }
  return with_connection([&](Lease& lease) -> Result<bool> {
    // updated_at_us grows with every write, as a function's does.
    auto r = lease->exec(
        "INSERT INTO secrets AS s (name, sealed, created_at_us, updated_at_us) "
        "VALUES ($1, $2, $3, $3) "
        "ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed,"
        "  updated_at_us = GREATEST(EXCLUDED.updated_at_us, s.updated_at_us + 1) "
        "RETURNING (xmax = 0)",
        {text(std::string(name)), bytea(sealed), int8(now_unix_us())}, where_);
    if (!r) return std::move(r).error();
    return PQntuples(r->get()) == 1 && PQgetvalue(r->get(), 0, 0)[0] == 't';
  });
}

Result<std::string> PostgresStore::get_secret(std::string_view name) {
  auto absent = [&] {
    return make_error(ErrorKind::kNotFound, "no secret '" + pg_text(name.substr(0, 80)) +
                                                "' is stored (see GET /v1/secrets)");
  };
  // A name no secret can have is not sent (PostgreSQL's text refuses NUL).
  if (!is_valid_function_name(name)) return absent();
  return with_connection([&](Lease& lease) -> Result<std::string> {
    auto r = lease->exec("SELECT sealed FROM secrets WHERE name = $1", {text(std::string(name))},
                         where_, /*binary_result=*/true);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return absent();
    return std::string(PQgetvalue(r->get(), 0, 0),
                       static_cast<std::size_t>(PQgetlength(r->get(), 0, 0)));
  });
}

Result<std::vector<SecretInfo>> PostgresStore::list_secrets() {
  return with_connection([&](Lease& lease) -> Result<std::vector<SecretInfo>> {
    auto r = lease->exec("SELECT name, created_at_us, updated_at_us FROM secrets ORDER BY name", {},
                         where_);
    if (!r) return std::move(r).error();
    std::vector<SecretInfo> secrets;
    secrets.reserve(static_cast<std::size_t>(PQntuples(r->get())));
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      secrets.push_back(SecretInfo{PQgetvalue(r->get(), i, 0), to_int(PQgetvalue(r->get(), i, 1)),
                                   to_int(PQgetvalue(r->get(), i, 2))});
    }
    return secrets;
  });
}

Result<bool> PostgresStore::delete_secret(std::string_view name) {
  if (!is_valid_function_name(name)) return false;
  return with_connection([&](Lease& lease) -> Result<bool> {
    auto r = lease->exec("DELETE FROM secrets WHERE name = $1", {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    return affected(r->get()) > 0;
  });
}

// --- async tasks -------------------------------------------------------------

namespace {

// The columns of a task, in the order task_params sends them and read_task
// reads them.
constexpr const char* kTaskColumns =
    "id, function, version, runtime, trigger, body, content_type, query, callback_url, state, "
    "attempts, max_retries, created_at_us, next_run_at_us, lease_until_us, node, finished_at_us, "
    "invocation_id, status, result, result_type";

std::string bounded_result(const std::string& result) {
  return result.substr(0, std::min(result.size(), kMaxTaskResultBytes));
}

// A task's values in kTaskColumns order. Texts a client chose (the content
// type, the query, the callback) go through pg_text: a byte PostgreSQL
// refuses would otherwise refuse the whole task.
std::vector<Param> task_params(const AsyncTask& t) {
  std::vector<Param> params{text(t.id),
                            text(t.function),
                            int8(static_cast<std::int64_t>(t.version)),
                            t.runtime ? text(to_string(*t.runtime)) : Param{std::nullopt},
                            text(to_string(t.trigger)),
                            bytea(t.body),
                            text(pg_text(t.content_type)),
                            text(pg_text(t.query)),
                            text(pg_text(t.callback_url)),
                            text(to_string(t.state)),
                            int8(t.attempts),
                            int8(t.max_retries),
                            int8(t.created_at_us),
                            int8(t.next_run_at_us),
                            int8(t.lease_until_us),
                            text(pg_text(t.node)),
                            int8(t.finished_at_us),
                            text(pg_text(t.invocation_id)),
                            int8(t.status),
                            bytea(bounded_result(t.result)),
                            text(pg_text(t.result_type))};
  return params;
}

Result<AsyncTask> read_task(const PGresult* r, int row) {
  int c = 0;
  auto next = [&] { return PQgetvalue(r, row, c++); };
  AsyncTask t;
  t.id = next();
  t.function = next();
  t.version = static_cast<std::uint64_t>(to_int(next()));
  const bool default_runtime = PQgetisnull(r, row, c) != 0;
  const std::string runtime = next();
  const std::string trigger = next();
  t.body = bytes_of(r, row, c++);
  t.content_type = next();
  t.query = next();
  t.callback_url = next();
  const std::string state = next();
  auto kind = parse_runtime_kind(runtime);
  auto how = parse_trigger_kind(trigger);
  auto where = parse_task_state(state);
  if ((!default_runtime && !kind) || !how || !where) {
    return corrupt("task " + t.id + " with runtime '" + runtime + "', trigger '" + trigger +
                   "' and state '" + state + "'");
  }
  if (!default_runtime) t.runtime = *kind;
  t.trigger = *how;
  t.state = *where;
  t.attempts = static_cast<std::uint32_t>(to_int(next()));
  t.max_retries = static_cast<std::uint32_t>(to_int(next()));
  t.created_at_us = to_int(next());
  t.next_run_at_us = to_int(next());
  t.lease_until_us = to_int(next());
  t.node = next();
  t.finished_at_us = to_int(next());
  t.invocation_id = next();
  t.status = static_cast<int>(to_int(next()));
  t.result = bytes_of(r, row, c++);
  t.result_type = next();
  return t;
}

}  // namespace

Status PostgresStore::enqueue_task(const AsyncTask& task, std::size_t max_queued) {
  if (auto st = check_function_name(task.function); !st) return st;
  if (task.id.empty()) return make_error(ErrorKind::kInvalidArgument, "a task needs an id");
  return with_connection([&](Lease& lease) -> Status {
    Connection& conn = *lease;
    return in_transaction(conn, where_, [&]() -> Status {
      if (auto r = conn.exec(kLockFunctionShared, {text(task.function)}, where_); !r) {
        return std::move(r).error();
      }
      return insert_task(conn, task, max_queued);
    });
  });
}

Result<bool> PostgresStore::fire_task(const AsyncTask& task, std::size_t max_queued,
                                      std::string_view key, std::int64_t due_us) {
  if (auto st = check_function_name(task.function); !st) return std::move(st).error();
  if (task.id.empty()) return make_error(ErrorKind::kInvalidArgument, "a task needs an id");
  return with_connection([&](Lease& lease) -> Result<bool> {
    Connection& conn = *lease;
    return in_transaction(conn, where_, [&]() -> Result<bool> {
      // The function's shared lock before any of its rows, as every
      // writer takes them.
      if (auto r = conn.exec(kLockFunctionShared, {text(task.function)}, where_); !r) {
        return std::move(r).error();
      }
      auto claimed = claim_firing_in(conn, task.function, key, due_us);
      if (!claimed || !*claimed) return claimed;
      // A refused task (full queue, version gone) rolls the claim back.
      if (auto st = insert_task(conn, task, max_queued); !st) return std::move(st).error();
      return true;
    });
  });
}

Status PostgresStore::insert_task(Connection& conn, const AsyncTask& task, std::size_t max_queued) {
  AsyncTask queued = task;
  queued.state = TaskState::kQueued;
  if (queued.created_at_us == 0) queued.created_at_us = now_unix_us();
  std::vector<Param> params = task_params(queued);
  // One statement checks the function and the version, counts the pending
  // tasks and inserts, and says which of them stopped it. It inserts the
  // parameters in kTaskColumns order, but the pinned version (p.v) for $3:
  // version 0 is the serving one. The last parameter is max_queued.
  std::string values = "$1, $2, p.v";
  for (std::size_t i = 4; i <= params.size(); ++i) {
    values += ", $";
    values += std::to_string(i);
  }
  const std::string max_param = "$" + std::to_string(params.size() + 1);
  constexpr auto kMaxInt8 = std::numeric_limits<std::int64_t>::max();
  params.push_back(int8(static_cast<std::int64_t>(
      std::min<std::size_t>(max_queued, static_cast<std::size_t>(kMaxInt8)))));
  const std::string sql =
      std::string(
          "WITH f AS (SELECT version FROM functions WHERE name = $2), "
          "p AS (SELECT COALESCE(NULLIF($3, 0), (SELECT version FROM f)) AS v), "
          "kept AS (SELECT 1 FROM versions, p WHERE function = $2 AND version = p.v), "
          "pending AS (SELECT count(*) AS n FROM tasks "
          "  WHERE function = $2 AND state IN ('queued', 'running')), "
          "ins AS (INSERT INTO tasks (") +
      kTaskColumns + ") SELECT " + values +
      " FROM p WHERE EXISTS (SELECT 1 FROM kept) AND (SELECT n FROM pending) < " + max_param +
      "  RETURNING id) "
      "SELECT EXISTS (SELECT 1 FROM f), EXISTS (SELECT 1 FROM kept), (SELECT n FROM pending), "
      "  EXISTS (SELECT 1 FROM ins), (SELECT v FROM p)";
  auto r = conn.exec(sql.c_str(), params, where_);
  if (!r) {
    // The foreign key: the function was deleted after the check.
    if (r.error().kind == ErrorKind::kNotFound) return function_not_found(task.function);
    return std::move(r).error();
  }
  const PGresult* row = r->get();
  if (PQgetvalue(row, 0, 0)[0] != 't') return function_not_found(task.function);
  if (PQgetvalue(row, 0, 1)[0] != 't') {
    return version_not_found(conn, where_, task.function, to_int(PQgetvalue(row, 0, 4)));
  }
  if (PQgetvalue(row, 0, 3)[0] != 't') {
    return make_error(ErrorKind::kOverloaded,
                      "the queue of function " + task.function + " is full: " +
                          std::string(PQgetvalue(row, 0, 2)) + " calls waiting, retry later");
  }
  return {};
}

Result<std::optional<AsyncTask>> PostgresStore::claim_task(std::string_view node,
                                                           std::int64_t now_us,
                                                           std::int64_t lease_us) {
  // SKIP LOCKED: a row another claimer holds is passed over, not waited
  // for; a row it took and committed no longer matches when rechecked. So
  // each task goes to exactly one caller.
  const std::string sql = std::string(
                              "UPDATE tasks SET state = 'running', node = $1, lease_until_us = $3,"
                              "  attempts = attempts + 1 "
                              "WHERE id = (SELECT id FROM tasks "
                              "  WHERE (state = 'queued' AND next_run_at_us <= $2)"
                              "     OR (state = 'running' AND lease_until_us <= $2) "
                              "  ORDER BY next_run_at_us, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                              "RETURNING ") +
                          kTaskColumns;
  constexpr auto kMaxInt8 = std::numeric_limits<std::int64_t>::max();
  const std::int64_t until = lease_us > kMaxInt8 - now_us ? kMaxInt8 : now_us + lease_us;
  return with_connection([&](Lease& lease) -> Result<std::optional<AsyncTask>> {
    auto r = lease->exec(sql.c_str(), {text(pg_text(node)), int8(now_us), int8(until)}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return std::optional<AsyncTask>();
    auto task = read_task(r->get(), 0);
    if (!task) return std::move(task).error();
    return std::optional<AsyncTask>(std::move(*task));
  });
}

Status PostgresStore::finish_task(const AsyncTask& task) {
  const bool finished = task.state == TaskState::kDone || task.state == TaskState::kDead;
  const std::int64_t finished_at =
      finished && task.finished_at_us == 0 ? now_unix_us() : task.finished_at_us;
  auto written = with_connection([&](Lease& lease) -> Result<std::string> {
    // Only while this node still holds it: after its lease ran out another
    // node may have taken it, and that node's answer is the one that counts.
    auto r = lease->exec(
        "UPDATE tasks SET state = $3, next_run_at_us = $4, lease_until_us = $5,"
        "  finished_at_us = $6, invocation_id = $7, status = $8, result = $9, result_type = $10 "
        "WHERE id = $1 AND state = 'running' AND node = $2 RETURNING function",
        {text(pg_text(task.id)), text(pg_text(task.node)), text(to_string(task.state)),
         int8(task.next_run_at_us), int8(task.lease_until_us), int8(finished_at),
         text(pg_text(task.invocation_id)), int8(task.status), bytea(bounded_result(task.result)),
         text(pg_text(task.result_type))},
        where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) {
      return make_error(ErrorKind::kNotFound,
                        "task " + pg_text(task.id.substr(0, 80)) + " is not held by node '" +
                            pg_text(task.node) +
                            "' (its lease ran out and another node took it, or it is gone)");
    }
    return std::string(PQgetvalue(r->get(), 0, 0));
  });
  if (!written) return std::move(written).error();
  if (!finished) return {};

  // Finished tasks are kept like records: the newest
  // max_records_per_function per function, pruned once this node has
  // finished `slack` of them since the last time (see add_invocations).
  const std::string& function = *written;
  const std::size_t slack = std::clamp<std::size_t>(options_.max_records_per_function / 16, 1, 64);
  {
    std::lock_guard lock(prune_mutex_);
    if (++unpruned_tasks_[function] < slack) return {};
    unpruned_tasks_.erase(function);
  }
  auto pruned = with_connection([&](Lease& lease) -> Result<bool> {
    auto r = lease->exec(
        "DELETE FROM tasks WHERE function = $1 AND state IN ('done', 'dead') "
        "AND (finished_at_us, id) <= (SELECT finished_at_us, id FROM tasks "
        "  WHERE function = $1 AND state IN ('done', 'dead') "
        "  ORDER BY finished_at_us DESC, id DESC OFFSET $2 LIMIT 1)",
        {text(function), int8(static_cast<std::int64_t>(options_.max_records_per_function))},
        where_);
    if (!r) return std::move(r).error();
    return true;
  });
  // The task is written; a prune that failed is retried with the next one.
  if (!pruned) {
    spdlog::warn("pruning finished tasks of '{}': {}", function, pruned.error().message);
    std::lock_guard lock(prune_mutex_);
    unpruned_tasks_[function] = slack;
  }
  return {};
}

Result<AsyncTask> PostgresStore::get_task(std::string_view id) {
  const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id = $1";
  const std::string key = pg_text(id);
  return with_connection([&](Lease& lease) -> Result<AsyncTask> {
    auto r = lease->exec(sql.c_str(), {text(key)}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) {
      return make_error(ErrorKind::kNotFound,
                        "task '" + key.substr(0, 80) +
                            "' is not queued, running or kept (finished tasks are kept for the "
                            "newest " +
                            std::to_string(options_.max_records_per_function) +
                            " of each function)");
    }
    return read_task(r->get(), 0);
  });
}

Result<std::optional<std::int64_t>> PostgresStore::next_task_due() {
  return with_connection([&](Lease& lease) -> Result<std::optional<std::int64_t>> {
    // LEAST skips NULLs: NULL only when neither kind exists.
    auto r = lease->exec(
        "SELECT LEAST((SELECT min(next_run_at_us) FROM tasks WHERE state = 'queued'),"
        "  (SELECT min(lease_until_us) FROM tasks WHERE state = 'running'))",
        {}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0 || PQgetisnull(r->get(), 0, 0) != 0) {
      return std::optional<std::int64_t>();
    }
    return std::optional<std::int64_t>(to_int(PQgetvalue(r->get(), 0, 0)));
  });
}

Status PostgresStore::release_tasks(std::string_view node) {
  // Still running, but with a lease that ends now: claim_task takes them
  // as it takes those of a node that died.
  const std::int64_t now = now_unix_us();
  auto r = with_connection([&](Lease& lease) -> Result<std::int64_t> {
    auto released = lease->exec(
        "UPDATE tasks SET lease_until_us = $2 "
        "WHERE state = 'running' AND node = $1 AND lease_until_us > $2",
        {text(pg_text(node)), int8(now)}, where_);
    if (!released) return std::move(released).error();
    return affected(released->get());
  });
  if (!r) return std::move(r).error();
  if (*r > 0) spdlog::info("released {} task(s) node '{}' held", *r, pg_text(node));
  return {};
}

// --- schedules ---------------------------------------------------------------

Result<bool> PostgresStore::claim_firing(std::string_view function, std::string_view key,
                                         std::int64_t due_us) {
  if (auto st = check_function_name(function); !st) return std::move(st).error();
  return with_connection(
      [&](Lease& lease) -> Result<bool> { return claim_firing_in(*lease, function, key, due_us); });
}

Result<bool> PostgresStore::claim_firing_in(Connection& conn, std::string_view function,
                                            std::string_view key, std::int64_t due_us) {
  // The row changes only for a later due time; of callers racing on the
  // same one, the first to write changes it and the others, who wait for
  // its row lock, then find it not later: exactly one sees a row affected.
  auto r = conn.exec(
      "INSERT INTO schedule_firings AS s (function, key, due_us) VALUES ($1, $2, $3) "
      "ON CONFLICT (function, key) DO UPDATE SET due_us = EXCLUDED.due_us "
      "WHERE s.due_us < EXCLUDED.due_us",
      {text(std::string(function)), text(pg_text(key)), int8(due_us)}, where_);
  if (!r) {
    // The foreign key: the function is not deployed.
    if (r.error().kind == ErrorKind::kNotFound) return function_not_found(function);
    return std::move(r).error();
  }
  return affected(r->get()) == 1;
}

Result<std::optional<std::int64_t>> PostgresStore::last_firing(std::string_view function,
                                                               std::string_view key) {
  if (auto st = check_function_name(function); !st) return std::move(st).error();
  return with_connection([&](Lease& lease) -> Result<std::optional<std::int64_t>> {
    auto r = lease->exec("SELECT due_us FROM schedule_firings WHERE function = $1 AND key = $2",
                         {text(std::string(function)), text(pg_text(key))}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(to_int(PQgetvalue(r->get(), 0, 0)));
  });
}

// --- change notifications ----------------------------------------------------

void PostgresStore::watch(ChangeHandler handler) {
  if (listener_.joinable() || !handler) return;
  if (::pipe(wake_fd_) != 0) {
    spdlog::error(
        "cannot create the listener's wake-up pipe; changes by other nodes arrive "
        "only by restarting");
    return;
  }
  handler_ = std::move(handler);
  listener_ = std::thread([this] { listen_loop(); });
}

void PostgresStore::listen_loop() {
  std::chrono::milliseconds backoff(0);
  // Sleeps up to `ms` (-1: forever) for the connection's socket (fd >= 0)
  // or the wake pipe. Returns false when woken to stop.
  auto wait = [this](int fd, int ms, bool& readable) {
    pollfd fds[2] = {{wake_fd_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, ms);
    readable = n > 0 && fd >= 0 && fds[1].revents != 0;
    return !(n > 0 && fds[0].revents != 0);
  };
  bool readable = false;
  for (;;) {
    auto connection = connect();
    if (!connection) {
      backoff = std::clamp(backoff * 2, options_.min_backoff, options_.max_backoff);
      spdlog::warn("change listener: {}; retrying in {} ms", connection.error().message,
                   backoff.count());
      if (!wait(-1, static_cast<int>(backoff.count()), readable)) return;
      continue;
    }
    Connection& conn = **connection;
    if (auto r = conn.exec_script("LISTEN nebula_functions", where_); !r) {
      spdlog::warn("change listener: {}", r.error().message);
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    // Anything may have changed while nobody listened.
    handler_(std::nullopt);
    auto next_resync = Clock::now() + options_.resync_interval;
    while (!conn.broken()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_resync - Clock::now());
      if (!wait(PQsocket(conn.get()), static_cast<int>(std::max<std::int64_t>(0, left.count())),
                readable)) {
        return;
      }
      if (readable) {
        if (PQconsumeInput(conn.get()) == 0) break;
        while (PGnotify* n = PQnotifies(conn.get())) {
          if (std::strcmp(n->relname, kChannel) == 0) handler_(std::string(n->extra));
          PQfreemem(n);
        }
      }
      if (Clock::now() >= next_resync) {
        // The safety net; a query also finds a connection that died quietly.
        if (auto r = conn.exec("SELECT 1", {}, where_); !r) break;
        handler_(std::nullopt);
        next_resync = Clock::now() + options_.resync_interval;
      }
    }
    spdlog::warn("change listener lost its PostgreSQL connection to {}; reconnecting", where_);
  }
}

}  // namespace nebula::store
