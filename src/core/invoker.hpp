#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "core/result.hpp"
#include "core/runtime.hpp"

namespace nebula {

// One finished invocation: what the runtime returned and the record kept.
struct Invocation {
  InvocationResult result;
  InvocationRecord record;
};

// Admission, timing and record assembly around the runtimes. The invoker is
// the one place that decides what an invocation's timings mean: it composes
// its own waits with the runtime's (queue = admission + worker slot + the
// runtime's own wait, such as a free warm container) and measures total
// from the request body being read to the response being ready.
//
// Transport-free: the caller admits on an I/O thread (cheap, never blocks),
// then calls run() on a worker thread.
//
// Thread-safe.
class Invoker {
 public:
  using Clock = std::chrono::steady_clock;
  // Persists and counts a record; called on the worker thread before run()
  // returns, so an acknowledged invocation is always on record.
  using RecordSink = std::function<void(const Invocation&)>;
  // Produces a new unique invocation id.
  using IdSource = std::function<std::string()>;

  struct Options {
    // Invocations admitted (queued + running) at once; more get kOverloaded.
    std::size_t max_pending = 1024;
  };

  // A reserved slot. Releases it when destroyed; move-only.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept
        : invoker_(std::exchange(other.invoker_, nullptr)), admitted_(other.admitted_) {}
    Ticket& operator=(Ticket&&) = delete;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();
    [[nodiscard]] Clock::time_point admitted_at() const noexcept { return admitted_; }

   private:
    friend class Invoker;
    explicit Ticket(Invoker& invoker) : invoker_(&invoker), admitted_(Clock::now()) {}
    Invoker* invoker_;
    Clock::time_point admitted_;
  };

  // What one invocation runs: a variant, the runtime that prepared it, and
  // the function it belongs to. Borrowed for the duration of run().
  struct Target {
    Runtime& runtime;
    PreparedVariant& variant;
    const Function& function;
    RuntimeKind kind;
  };

  Invoker(Options options, IdSource ids, RecordSink sink);

  // Reserves a slot, or kOverloaded when max_pending invocations are
  // already admitted.
  [[nodiscard]] Result<Ticket> admit();

  // Runs one invocation on the calling (worker) thread. `received` is when
  // the request body had been read (the start of `total`). Errors are the
  // platform's (runtime unavailable, overloaded) and leave no record; a
  // failing function is an Invocation with an outcome other than ok.
  [[nodiscard]] Result<Invocation> run(Ticket ticket, const Target& target,
                                       const InvocationRequest& request,
                                       Clock::time_point received);

  [[nodiscard]] std::size_t pending() const noexcept { return pending_.load(); }
  [[nodiscard]] std::size_t running() const noexcept { return running_.load(); }

 private:
  Options options_;
  IdSource ids_;
  RecordSink sink_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> running_{0};
};

// Bytes of stderr kept in an invocation record.
inline constexpr std::size_t kStderrTailBytes = 4096;

}  // namespace nebula
