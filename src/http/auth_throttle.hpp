#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace nebula::http {

struct AuthThrottleOptions {
  // This many failed checks from one address within `window` lock it out.
  std::size_t max_failures = 10;
  // The counting window, and how long a lock-out lasts.
  std::chrono::seconds window{60};
  // Addresses tracked at most; the one whose last failure is the oldest
  // makes room for a new one.
  std::size_t max_addresses = 10'000;
};

// Failed bearer-token checks per client address, so that the token cannot
// be guessed at network speed: after `max_failures` failures within
// `window`, the address is locked out for `window`, during which even the
// right token is refused (a guess must not be confirmed by a different
// answer). Other addresses are not affected. An IPv4-mapped IPv6 address
// counts as its IPv4 address.
//
// Memory is bounded by `max_addresses`. Thread-safe: every call takes one
// mutex for a hash lookup and a list splice.
class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AuthThrottle(AuthThrottleOptions options = {});

  // How long `address` stays locked out after `now`, in whole seconds
  // rounded up; nullopt when it may try.
  [[nodiscard]] std::optional<std::chrono::seconds> locked_out(
      const boost::asio::ip::address& address, Clock::time_point now);

  // Counts a failed check; true when this failure locks the address out.
  bool record_failure(const boost::asio::ip::address& address, Clock::time_point now);

  // Addresses tracked now.
  [[nodiscard]] std::size_t tracked() const;

 private:
  struct Entry {
    boost::asio::ip::address address;
    Clock::time_point window_start;
    std::size_t failures = 0;
    Clock::time_point locked_until;
  };

  AuthThrottleOptions options_;
  mutable std::mutex mutex_;
  // Most recent failure first; guarded by mutex_, as is the index.
  std::list<Entry> entries_;
  std::unordered_map<boost::asio::ip::address, std::list<Entry>::iterator> index_;
};

}  // namespace nebula::http
