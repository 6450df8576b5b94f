#include "service/concurrency.hpp"

#include <optional>
#include <utility>

namespace nebula::service {

Slot& Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (gate_) gate_->leave();
    gate_ = std::exchange(other.gate_, nullptr);
  }
  return *this;
}

Slot::~Slot() {
  if (gate_) gate_->leave();
}

std::optional<Slot> ConcurrencyGate::try_enter(std::uint32_t limit) {
  std::lock_guard lock(mutex_);
  if (limit != 0 && in_flight_ >= limit) return std::nullopt;
  ++in_flight_;
  return Slot(shared_from_this());
}

std::optional<Slot> ConcurrencyGate::enter_until(std::uint32_t limit,
                                                 std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const bool free =
      freed_.wait_until(lock, deadline, [&] { return limit == 0 || in_flight_ < limit; });
  if (!free) return std::nullopt;
  ++in_flight_;
  return Slot(shared_from_this());
}

ConcurrencyGate::WaiterId ConcurrencyGate::on_release(Wake wake) {
  std::lock_guard lock(mutex_);
  const WaiterId id = next_waiter_++;
  waiters_.emplace(id, std::move(wake));
  return id;
}

void ConcurrencyGate::forget(WaiterId id) {
  std::lock_guard lock(mutex_);
  // A waiter that fired is already gone.
  waiters_.erase(id);
}

std::uint32_t ConcurrencyGate::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

void ConcurrencyGate::leave() {
  Wake wake;
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (!waiters_.empty()) {
      wake = std::move(waiters_.begin()->second);
      waiters_.erase(waiters_.begin());
    }
  }
  // Both kinds of waiter: a blocked thread, and an HTTP call's coroutine.
  freed_.notify_one();
  if (wake) wake();
}

std::shared_ptr<ConcurrencyGate> ConcurrencyGates::gate(std::string_view function) {
  std::lock_guard lock(mutex_);
  auto it = gates_.find(function);
  if (it == gates_.end()) {
    it = gates_.emplace(std::string(function), std::make_shared<ConcurrencyGate>()).first;
  }
  return it->second;
}

void ConcurrencyGates::drop(std::string_view function) {
  std::lock_guard lock(mutex_);
  if (auto it = gates_.find(function); it != gates_.end()) gates_.erase(it);
}

std::map<std::string, std::uint32_t> ConcurrencyGates::in_flight() const {
  std::map<std::string, std::uint32_t> out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, gate] : gates_) out[name] = gate->in_flight();
  return out;
}

}  // namespace nebula::service
