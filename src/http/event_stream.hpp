#pragma once

// A Server-Sent Events response body (text/event-stream): a function's live
// log, GET /v1/functions/{name}/logs?follow=true.
//
// Events arrive from worker threads (each finished invocation, through the
// service's LogHub) and, with a shared store, from a poll of the store for
// the invocations other nodes ran. The connection's coroutine pulls them
// (BodyStream::next) and writes each as a chunk. A comment line goes out
// every kKeepAlive when nothing else does, so that proxies keep the
// connection open and a client that left is noticed at the next write.
//
// Shared (shared_ptr) by the connection and the hub's callback, which holds
// it weakly: a record published after the client left is dropped.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/server.hpp"
#include "service/log_hub.hpp"

namespace nebula::http {

class EventStream final : public BodyStream, public std::enable_shared_from_this<EventStream> {
 public:
  static constexpr std::chrono::seconds kKeepAlive{15};
  // Events not yet written beyond this many are dropped (a client that
  // reads too slowly), with a comment saying how many.
  static constexpr std::size_t kMaxQueued = 1024;

  // Blocking: the records other nodes ran since the last call, oldest first.
  using Poll = std::function<std::vector<InvocationRecord>()>;

  explicit EventStream(boost::asio::any_io_executor executor);

  // Starts following `function`; `poll` (optional) runs on `pool` every
  // `poll_every` for other nodes' records.
  void follow(service::LogHub& hub, const std::string& function, Poll poll,
              boost::asio::thread_pool* pool, std::chrono::milliseconds poll_every);

  // A finished invocation, from any thread.
  void push(const InvocationRecord& record);

  boost::asio::awaitable<Piece> next() override;
  void cancel() override;
  [[nodiscard]] bool endless() const noexcept override { return true; }

 private:
  void ring();

  boost::asio::steady_timer bell_;
  std::mutex mutex_;
  std::deque<std::string> events_;      // guarded by mutex_
  std::size_t dropped_ = 0;             // guarded by mutex_
  std::set<std::string> sent_ids_;      // guarded by mutex_; no event twice
  std::deque<std::string> sent_order_;  // guarded by mutex_; bounds sent_ids_
  bool cancelled_ = false;              // guarded by mutex_
  std::optional<service::LogHub::Subscription> subscription_;
  Poll poll_;
  boost::asio::thread_pool* pool_ = nullptr;
  std::chrono::milliseconds poll_every_{1000};
};

}  // namespace nebula::http
