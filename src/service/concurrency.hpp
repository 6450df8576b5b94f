#pragma once

// Per-function concurrency limits (a manifest's limits.max_concurrency):
// how many invocations of one function may be in flight on this node at
// once, across both runtimes.
//
// A call over the limit waits for a slot rather than failing at once, up to
// its function's timeout. Two kinds of waiters exist: HTTP calls, whose
// coroutines must never block an I/O thread, register a wake-up callback
// and retry when it fires; the async dispatcher, on a thread of its own,
// blocks on a condition variable. A slot is released by destroying its
// Slot, which wakes the oldest waiter of either kind.
//
// Thread-safety: every method may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nebula::service {

class ConcurrencyGate;

// One in-flight invocation's hold on its function's limit. Move-only; an
// empty Slot (no limit) holds nothing.
class Slot {
 public:
  Slot() = default;
  Slot(Slot&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
  Slot& operator=(Slot&& other) noexcept;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot();

 private:
  friend class ConcurrencyGate;
  explicit Slot(std::shared_ptr<ConcurrencyGate> gate) : gate_(std::move(gate)) {}
  std::shared_ptr<ConcurrencyGate> gate_;
};

// The limit of one function.
class ConcurrencyGate : public std::enable_shared_from_this<ConcurrencyGate> {
 public:
  using Wake = std::function<void()>;
  // A registered wake-up; forget it when the waiter gives up.
  using WaiterId = std::uint64_t;

  // A slot when fewer than `limit` are taken; nullopt otherwise. `limit`
  // comes from the serving manifest each time, so a redeploy that changes
  // it takes effect for the next call.
  [[nodiscard]] std::optional<Slot> try_enter(std::uint32_t limit);
  // Blocks until a slot is free or `deadline` passes (then nullopt).
  [[nodiscard]] std::optional<Slot> enter_until(std::uint32_t limit,
                                                std::chrono::steady_clock::time_point deadline);
  // Calls `wake` once (on the releasing thread, without locks held) the
  // next time a slot is released. `wake` must be quick and must not
  // re-enter the gate.
  [[nodiscard]] WaiterId on_release(Wake wake);
  void forget(WaiterId id);

  [[nodiscard]] std::uint32_t in_flight() const;

 private:
  friend class Slot;
  void leave();

  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::uint32_t in_flight_ = 0;       // guarded by mutex_
  std::uint64_t next_waiter_ = 0;     // guarded by mutex_
  std::map<WaiterId, Wake> waiters_;  // guarded by mutex_; oldest first
};

// The gates of every function that has a limit, created on first use.
class ConcurrencyGates {
 public:
  [[nodiscard]] std::shared_ptr<ConcurrencyGate> gate(std::string_view function);
  // Forgets a removed function's gate (slots still held keep it alive).
  void drop(std::string_view function);
  // In-flight counts by function, for the metrics.
  [[nodiscard]] std::map<std::string, std::uint32_t> in_flight() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<ConcurrencyGate>, std::less<>> gates_;
};

}  // namespace nebula::service
