#include "http/auth_throttle.hpp"

#include <algorithm>

namespace nebula::http {
namespace {

boost::asio::ip::address canonical(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

AuthThrottle::AuthThrottle(AuthThrottleOptions options) : options_(options) {}

std::optional<std::chrono::seconds> AuthThrottle::locked_out(
    const boost::asio::ip::address& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(canonical(address));
  if (it == index_.end()) return std::nullopt;
  const Entry& entry = *it->second;
  if (entry.locked_until > now) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(entry.locked_until - now);
    return std::max(left, std::chrono::seconds(1));
  }
  // Nothing left to remember: the lock-out and the window are over.
  if (now - entry.window_start >= options_.window) {
    entries_.erase(it->second);
    index_.erase(it);
  }
  return std::nullopt;
}

bool AuthThrottle::record_failure(const boost::asio::ip::address& address,
                                  Clock::time_point now) {
  const auto key = canonical(address);
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (entries_.size() >= options_.max_addresses && !entries_.empty()) {
      index_.erase(entries_.back().address);
      entries_.pop_back();
    }
    entries_.push_front(Entry{key, now, 0, {}});
    it = index_.emplace(key, entries_.begin()).first;
  } else {
    entries_.splice(entries_.begin(), entries_, it->second);
  }
  Entry& entry = *it->second;
  if (now - entry.window_start >= options_.window) {
    entry.window_start = now;
    entry.failures = 0;
  }
  if (++entry.failures < options_.max_failures) return false;
  // Locked from this failure on; the next failure after the lock-out
  // starts a new window.
  entry.locked_until = now + options_.window;
  entry.failures = 0;
  return true;
}

std::size_t AuthThrottle::tracked() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace nebula::http
