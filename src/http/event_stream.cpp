#include "http/event_stream.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "http/offload.hpp"
#include "http/views.hpp"

namespace nebula::http {
namespace {

// The ids remembered to drop a record seen twice (once published here, once
// polled from the store).
constexpr std::size_t kRememberedIds = 4096;

std::string event_of(const InvocationRecord& record) {
  // SSE fields are lines: the JSON (one line, no raw newlines) goes in one
  // data field.
  return "event: invocation\nid: " + record.id +
         "\ndata: " + boost::json::serialize(log_json(record)) + "\n\n";
}

}  // namespace

EventStream::EventStream(boost::asio::any_io_executor executor) : bell_(std::move(executor)) {}

void EventStream::follow(service::LogHub& hub, const std::string& function, Poll poll,
                         boost::asio::thread_pool* pool, std::chrono::milliseconds poll_every) {
  std::weak_ptr<EventStream> weak = weak_from_this();
  subscription_.emplace(hub.follow(function, [weak](const InvocationRecord& record) {
    if (auto self = weak.lock()) self->push(record);
  }));
  poll_ = std::move(poll);
  pool_ = pool;
  poll_every_ = poll_every;
}

void EventStream::push(const InvocationRecord& record) {
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return;
    if (!sent_ids_.insert(record.id).second) return;
    sent_order_.push_back(record.id);
    if (sent_order_.size() > kRememberedIds) {
      sent_ids_.erase(sent_order_.front());
      sent_order_.pop_front();
    }
    if (events_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    events_.push_back(event_of(record));
  }
  ring();
}

void EventStream::ring() {
  // The timer belongs to the connection's executor: cancel it there.
  boost::asio::post(bell_.get_executor(), [self = shared_from_this()] { self->bell_.cancel(); });
}

void EventStream::cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  subscription_.reset();
  ring();
}

boost::asio::awaitable<BodyStream::Piece> EventStream::next() {
  auto last_keep_alive = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) co_return Piece{Piece::Kind::kEnd, {}, {}};
      if (!events_.empty() || dropped_ != 0) {
        Piece piece{Piece::Kind::kData, {}, {}};
        if (dropped_ != 0) {
          piece.data = ": " + std::to_string(dropped_) + " events dropped (client too slow)\n\n";
          dropped_ = 0;
        }
        for (auto& e : events_) piece.data += e;
        events_.clear();
        co_return piece;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_keep_alive >= kKeepAlive)
      co_return Piece{Piece::Kind::kData, ": keep-alive\n\n", {}};
    if (poll_ && pool_ != nullptr) {
      bell_.expires_after(std::min<std::chrono::steady_clock::duration>(
          poll_every_, kKeepAlive - (now - last_keep_alive)));
    } else {
      bell_.expires_after(kKeepAlive - (now - last_keep_alive));
    }
    auto [ec] = co_await bell_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (!ec && poll_ && pool_ != nullptr) {
      // The timer ran out (not a ring): look at the store.
      Poll work = poll_;
      auto records = co_await offload(*pool_, std::move(work));
      for (const auto& record : records) push(record);
    }
  }
}

}  // namespace nebula::http
