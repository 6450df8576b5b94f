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

  // Creates or replaces a function: true when it was created. The store
  // stamps the times: created_at_us is kept on replace, updated_at_us is
  // now, and grows with every replace; the times in `function` are ignored.
  [[nodiscard]] virtual Result<bool> put_function(const Function& function) = 0;
  // kNotFound when no function has that name.
  [[nodiscard]] virtual Result<Function> get_function(std::string_view name) = 0;
  // All functions, by name.
  [[nodiscard]] virtual Result<std::vector<Function>> list_functions() = 0;
  // Removes a function and its invocation records: true when it existed.
  [[nodiscard]] virtual Result<bool> delete_function(std::string_view name) = 0;

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
