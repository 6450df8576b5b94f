#include "store/postgres.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <libpq-fe.h>
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

constexpr int kSchemaVersion = 1;

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
};

// The columns of a record, in the order record_params sends them and
// read_record reads them.
constexpr const char* kRecordColumns =
    "id, function, node, runtime, outcome, exit_code, cold, queue_us, startup_us, exec_us, "
    "teardown_us, total_us, cpu_us, max_memory_bytes, input_bytes, output_bytes, started_at_us, "
    "message, stderr_tail, output_truncated";
constexpr Oid kRecordTypes[] = {kTextOid, kTextOid, kTextOid, kTextOid, kTextOid,
                                kInt8Oid, kBoolOid, kInt8Oid, kInt8Oid, kInt8Oid,
                                kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid,
                                kInt8Oid, kInt8Oid, kTextOid, kTextOid, kBoolOid};
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

Result<Function> read_function(const PGresult* r, int row) {
  Function f;
  f.name = PQgetvalue(r, row, 0);
  auto manifest = parse_manifest(PQgetvalue(r, row, 1));
  if (!manifest) {
    return corrupt("a manifest for function '" + f.name +
                   "' that no longer parses: " + manifest.error().message);
  }
  f.manifest = std::move(manifest).value();
  f.created_at_us = to_int(PQgetvalue(r, row, 2));
  f.updated_at_us = to_int(PQgetvalue(r, row, 3));
  return f;
}

}  // namespace

Result<bool> PostgresStore::put_function(const Function& function) {
  if (auto st = check_function_name(function.name); !st) return std::move(st).error();
  const std::vector<Param> params{text(function.name), text(manifest_to_json(function.manifest)),
                                  int8(now_unix_us())};
  // One statement: the upsert and its notification commit together. Every
  // replace moves updated_at_us forward, even when this node's clock is
  // behind the last writer's, so that nodes can tell versions apart by it.
  return with_connection([&](Lease& lease) -> Result<bool> {
    auto r = lease->exec(
        "WITH up AS ("
        "  INSERT INTO functions AS f (name, manifest, created_at_us, updated_at_us)"
        "  VALUES ($1, $2, $3, $3)"
        "  ON CONFLICT (name) DO UPDATE SET manifest = EXCLUDED.manifest,"
        "    updated_at_us = GREATEST(EXCLUDED.updated_at_us, f.updated_at_us + 1)"
        "  RETURNING (xmax = 0) AS created)"
        "SELECT created, pg_notify('nebula_functions', $1) FROM up",
        params, where_);
    if (!r) return std::move(r).error();
    return PQntuples(r->get()) == 1 && PQgetvalue(r->get(), 0, 0)[0] == 't';
  });
}

Result<Function> PostgresStore::get_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  return with_connection([&](Lease& lease) -> Result<Function> {
    auto r = lease->exec(
        "SELECT name, manifest, created_at_us, updated_at_us FROM functions WHERE name = $1",
        {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    if (PQntuples(r->get()) == 0) return function_not_found(name);
    return read_function(r->get(), 0);
  });
}

Result<std::vector<Function>> PostgresStore::list_functions() {
  return with_connection([&](Lease& lease) -> Result<std::vector<Function>> {
    auto r = lease->exec(
        "SELECT name, manifest, created_at_us, updated_at_us FROM functions ORDER BY name", {},
        where_);
    if (!r) return std::move(r).error();
    return read_rows(r->get(), &read_function);
  });
}

Result<bool> PostgresStore::delete_function(std::string_view name) {
  if (auto st = check_function_name(name); !st) return std::move(st).error();
  // The records go with it (ON DELETE CASCADE).
  return with_connection([&](Lease& lease) -> Result<bool> {
    auto r = lease->exec(
        "WITH d AS (DELETE FROM functions WHERE name = $1 RETURNING name) "
        "SELECT pg_notify('nebula_functions', name) FROM d",
        {text(std::string(name))}, where_);
    if (!r) return std::move(r).error();
    return PQntuples(r->get()) > 0;
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
          flag(r.output_truncated)};
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
        sql += "$" + std::to_string(row * kRecordFields + col + 1) + ", ";
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
