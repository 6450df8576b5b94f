#include "store/sqlite.hpp"

#include <cassert>
#include <cstdint>

namespace nebula::store {
namespace {

// SQLITE_TRANSIENT is an old-style cast in a macro; this is the same value
// spelled in C++: SQLite copies the bound text before bind returns.
sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

ErrorKind kind_of(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_FULL: return ErrorKind::kNoSpace;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL: return ErrorKind::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE: return ErrorKind::kInvalidArgument;
    default: return ErrorKind::kInternal;
  }
}

Error no_row(std::string_view sql) {
  // Appended rather than built with operator+: GCC 12 at -O3 reports a false
  // -Wrestrict for `"literal" + std::string(...)` (GCC bug 105329).
  std::string message("query returned no row: ");
  message += sql;
  return make_error(ErrorKind::kInternal, std::move(message));
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  // sqlite3_errmsg describes the latest failure on the connection, which is
  // more specific than the generic text of the code ("no such table: x"
  // rather than "SQL logic error"); fall back to the latter without one.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(kind_of(rc), std::move(message));
}

void Database::Close::operator()(sqlite3* db) const noexcept {
  // _v2 defers the close if a statement is still alive instead of failing;
  // our owners destroy their statements first, so this closes at once.
  sqlite3_close_v2(db);
}

Result<Database> Database::open(const std::filesystem::path& path, Options options) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the owner serialises access itself (see the header), so SQLite's
  // per-connection mutex would only cost time.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // Even a failed open may allocate a handle that carries the message and
  // must be closed; owning it right away does both.
  Database db(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(raw, rc, "cannot open database " + path.string());
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  return db;
}

Status Database::exec(const std::string& sql) {
  assert(db_);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return make_error(kind_of(rc), "SQLite statement failed: " + text);
}

Result<Statement> Database::prepare(std::string_view sql, bool persistent) {
  assert(db_);
  sqlite3_stmt* raw = nullptr;
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0U;
  const int rc =
      sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(db_.get(), rc, "cannot prepare '" + std::string(sql) + "'");
  }
  // An empty string or a lone comment compiles to no statement at all; every
  // caller means to run something, so that is a bug in the caller.
  assert(stmt);
  return stmt;
}

Result<std::string> Database::query_text(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return std::move(stmt).error();
  auto row = stmt->step();
  if (!row) return std::move(row).error();
  if (!*row) return no_row(sql);
  return stmt->column_text(0);
}

Result<std::int64_t> Database::query_int(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return std::move(stmt).error();
  auto row = stmt->step();
  if (!row) return std::move(row).error();
  if (!*row) return no_row(sql);
  return stmt->column_int64(0);
}

std::int64_t Database::changes() const noexcept {
  assert(db_);
  return sqlite3_changes64(db_.get());
}

void Statement::Finalize::operator()(sqlite3_stmt* stmt) const noexcept {
  sqlite3_finalize(stmt);
}

Error Statement::error(int rc, std::string_view what) const {
  return sqlite_error(sqlite3_db_handle(stmt_.get()), rc, what);
}

Status Statement::bind(int index, std::int64_t value) {
  assert(stmt_);
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return error(rc, "cannot bind parameter " + std::to_string(index));
  return {};
}

Status Statement::bind(int index, std::string_view value) {
  assert(stmt_);
  const int rc =
      sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), transient(), SQLITE_UTF8);
  if (rc != SQLITE_OK) return error(rc, "cannot bind parameter " + std::to_string(index));
  return {};
}

Status Statement::bind_blob(int index, std::string_view value) {
  assert(stmt_);
  // An empty view may have a null data(), which SQLite would bind as NULL;
  // an empty value is a zero-length blob.
  const int rc = value.empty() ? sqlite3_bind_zeroblob(stmt_.get(), index, 0)
                               : sqlite3_bind_blob64(stmt_.get(), index, value.data(),
                                                     value.size(), transient());
  if (rc != SQLITE_OK) return error(rc, "cannot bind parameter " + std::to_string(index));
  return {};
}

Status Statement::bind_null(int index) {
  assert(stmt_);
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) return error(rc, "cannot bind parameter " + std::to_string(index));
  return {};
}

Result<bool> Statement::step() {
  assert(stmt_);
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error(rc, "cannot run '" + std::string(sqlite3_sql(stmt_.get())) + "'");
}

Status Statement::run() {
  ResetOnExit reset_on_exit(*this);
  auto row = step();
  if (!row) return std::move(row).error();
  // A statement run for its effect returned a row: a bug in the caller's SQL
  // (it should use step()), not a runtime condition.
  assert(!*row);
  return {};
}

void Statement::reset() noexcept {
  if (!stmt_) return;
  // sqlite3_reset repeats the last step's error code; that error was already
  // reported by step(), so it is deliberately ignored here.
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Statement::column_is_null(int column) const noexcept {
  assert(stmt_);
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const noexcept {
  assert(stmt_);
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::column_text(int column) const {
  assert(stmt_);
  const auto* text = sqlite3_column_text(stmt_.get(), column);
  // Call _bytes after _text: the conversion to text may change the size.
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string Statement::column_blob(int column) const {
  assert(stmt_);
  const void* bytes = sqlite3_column_blob(stmt_.get(), column);
  // Call _bytes after _blob, as for text.
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  if (bytes == nullptr) return {};
  return std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
}

Result<Transaction> Transaction::begin(Statements statements) {
  assert(statements.begin && statements.commit && statements.rollback);
  if (auto st = statements.begin->run(); !st) return std::move(st).error();
  return Transaction(statements);
}

Transaction::~Transaction() {
  if (!active_) return;
  // Rolling back an open transaction only fails if SQLite already rolled it
  // back itself (e.g. after SQLITE_FULL); either way it is over.
  (void)statements_.rollback->run();
}

Status Transaction::commit() {
  assert(active_);
  auto st = statements_.commit->run();
  // A failed COMMIT leaves the transaction open (e.g. SQLITE_BUSY); the
  // destructor then rolls it back.
  if (st) active_ = false;
  return st;
}

}  // namespace nebula::store
