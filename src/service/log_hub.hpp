#pragma once

// Live logs: every finished invocation, handed to whoever follows its
// function right now (GET /v1/functions/{name}/logs?follow=true).
//
// Publishing costs a map lookup when nobody follows, so it sits on the
// invocation path. Followers get records of invocations run on this node;
// with a shared store, the HTTP layer also polls the store for the other
// nodes' records.
//
// Thread-safety: every method may be called from any thread. Callbacks run
// on the publishing thread (a worker) without the hub's lock held, so they
// must be quick: queue the record and return.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/invocation.hpp"

namespace nebula::service {

class LogHub {
 public:
  using Callback = std::function<void(const InvocationRecord&)>;

  // Follows one function while it lives; move-only.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept
        : hub_(std::exchange(other.hub_, nullptr)), id_(other.id_) {}
    Subscription& operator=(Subscription&&) = delete;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription();

   private:
    friend class LogHub;
    Subscription(LogHub* hub, std::uint64_t id) : hub_(hub), id_(id) {}
    LogHub* hub_ = nullptr;
    std::uint64_t id_ = 0;
  };

  // The hub must outlive the subscription.
  [[nodiscard]] Subscription follow(std::string function, Callback callback);
  void publish(const InvocationRecord& record);
  [[nodiscard]] std::size_t followers() const;

 private:
  struct Follower {
    std::string function;
    std::shared_ptr<Callback> callback;
  };
  void unfollow(std::uint64_t id);

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;                    // guarded by mutex_
  std::map<std::uint64_t, Follower> followers_;  // guarded by mutex_
};

}  // namespace nebula::service
