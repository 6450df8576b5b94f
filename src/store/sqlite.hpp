#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <sqlite3.h>

#include "core/result.hpp"

namespace nebula::store {

// A thin, move-only layer over the SQLite C API. Failures are Result values
// whose message carries SQLite's own explanation; using a moved-from or empty
// handle is a bug (assert).
//
// Thread-safety: SQLite is opened in multi-thread mode (SQLITE_OPEN_NOMUTEX),
// so a Database and its Statements must be used by one thread at a time. The
// Registry guards its connection with a mutex.

class Statement;

// An error value for the return code `rc` of an operation on `db`, phrased
// as "<what>: <sqlite message>". Busy or locked databases and I/O trouble map
// to kUnavailable (try again, check the disk), constraint violations to
// kInvalidArgument, everything else to kInternal.
[[nodiscard]] Error sqlite_error(sqlite3* db, int rc, std::string_view what);

// Owns one sqlite3 connection.
class Database {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5000};
  };

  // Opens (creating if needed) the database file at `path`. The parent
  // directory must exist.
  [[nodiscard]] static Result<Database> open(const std::filesystem::path& path, Options options);
  [[nodiscard]] static Result<Database> open(const std::filesystem::path& path) {
    return open(path, Options{});
  }

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database() = default;

  // Runs one or more statements without results (schema, pragmas, BEGIN…).
  [[nodiscard]] Status exec(const std::string& sql);

  // Compiles one statement. `persistent` hints SQLite that the statement is
  // cached and reused for the connection's lifetime.
  [[nodiscard]] Result<Statement> prepare(std::string_view sql, bool persistent = false);

  // The first column of the first row of a query (e.g. a PRAGMA), as text.
  [[nodiscard]] Result<std::string> query_text(std::string_view sql);
  [[nodiscard]] Result<std::int64_t> query_int(std::string_view sql);

  // Rows changed by the most recent INSERT, UPDATE or DELETE.
  [[nodiscard]] std::int64_t changes() const noexcept;

  [[nodiscard]] sqlite3* handle() const noexcept { return db_.get(); }

 private:
  struct Close {
    void operator()(sqlite3* db) const noexcept;
  };

  explicit Database(sqlite3* db) : db_(db) {}

  std::unique_ptr<sqlite3, Close> db_;
};

// Owns one prepared statement. Parameter indexes are 1-based and column
// indexes 0-based, as in SQLite. A statement that was stepped keeps a read
// snapshot open until it is reset: callers reset it when done (ResetOnExit).
class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() = default;

  [[nodiscard]] explicit operator bool() const noexcept { return stmt_ != nullptr; }

  [[nodiscard]] Status bind(int index, std::int64_t value);
  // The text is copied by SQLite, so `value` need not outlive the call.
  [[nodiscard]] Status bind(int index, std::string_view value);
  // Bytes that need not be text (a request body, a sealed secret), stored as
  // a BLOB so that SQLite never checks or converts them; copied like text.
  [[nodiscard]] Status bind_blob(int index, std::string_view value);
  [[nodiscard]] Status bind_null(int index);

  // Advances to the next row: true when a row is ready, false when done.
  [[nodiscard]] Result<bool> step();

  // Steps a statement that returns no rows to completion, then resets it.
  [[nodiscard]] Status run();

  // Makes the statement ready to run again and clears its bindings.
  void reset() noexcept;

  [[nodiscard]] bool column_is_null(int column) const noexcept;
  [[nodiscard]] std::int64_t column_int64(int column) const noexcept;
  // A copy of a TEXT (or BLOB) column; empty for NULL.
  [[nodiscard]] std::string column_text(int column) const;
  // A copy of a BLOB column's bytes, never converted; empty for NULL.
  [[nodiscard]] std::string column_blob(int column) const;

  [[nodiscard]] sqlite3_stmt* handle() const noexcept { return stmt_.get(); }

 private:
  friend class Database;

  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };

  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  [[nodiscard]] Error error(int rc, std::string_view what) const;

  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

// Resets a statement when the scope ends, whichever way it ends, so that a
// cached SELECT never keeps a WAL snapshot (and blocks checkpoints) after use.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& stmt) noexcept : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { stmt_.reset(); }

 private:
  Statement& stmt_;
};

// A write transaction: BEGIN IMMEDIATE on construction (taking the write lock
// up front, so that it cannot fail later with SQLITE_BUSY on upgrade),
// ROLLBACK on destruction unless commit() succeeded. The statements are the
// caller's cached BEGIN / COMMIT / ROLLBACK, so that the hot path parses
// nothing.
class Transaction {
 public:
  struct Statements {
    Statement* begin;
    Statement* commit;
    Statement* rollback;
  };

  [[nodiscard]] static Result<Transaction> begin(Statements statements);

  Transaction(Transaction&& other) noexcept
      : statements_(other.statements_), active_(std::exchange(other.active_, false)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  [[nodiscard]] Status commit();

 private:
  explicit Transaction(Statements statements) : statements_(statements), active_(true) {}

  Statements statements_;
  bool active_ = false;
};

}  // namespace nebula::store
