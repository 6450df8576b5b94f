#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/invoker.hpp"
#include "http/server.hpp"

namespace nebula::http {

// An HTTP function's response on its way from the guest to the client.
//
// The runtime hands the guest's response head and body pieces to it on a
// thread of its own (ResponseSink); the worker that ran the invocation hands
// it the outcome (finish); the connection's coroutine waits for the head
// and then pulls the body (BodyStream). One mutex guards the state; a timer
// on the connection's executor is the doorbell: producers post a cancel of
// it, the consumer checks the state and waits on it in one turn of the
// executor, so no ring is lost.
//
// Waking the connection's thread costs a context switch, which on a busy
// machine is most of what a small response costs. So producers ring only
// when it matters — the invocation ended, or a large piece of body is
// waiting — and the consumer otherwise looks every millisecond while it
// waits: a streaming function reaches its client at most a millisecond
// late, and a quick one is answered with one wake-up and one write.
//
// Shared (shared_ptr) by the connection, the worker job and, through the
// invocation request, the runtime; it lives until the last of them is done.
class StreamedResponse final : public ResponseSink,
                               public BodyStream,
                               public std::enable_shared_from_this<StreamedResponse> {
 public:
  explicit StreamedResponse(boost::asio::any_io_executor executor);

  // ResponseSink, from the runtime's thread.
  void head(int status, HeaderList headers) override;
  bool body(std::string_view chunk) override;

  // The invocation ended, from the worker thread.
  void finish(Result<Invocation> outcome);

  // Connection side: returns once the head arrived or the invocation ended
  // without one.
  boost::asio::awaitable<void> wait_for_head();
  // Returns once the invocation ended, or at `deadline`.
  boost::asio::awaitable<void> wait_for_end(std::chrono::steady_clock::time_point deadline);
  // The invocation ended, and well.
  [[nodiscard]] bool ended_ok();
  // Every body piece received so far, joined.
  [[nodiscard]] std::string take_body();
  [[nodiscard]] bool has_head();
  [[nodiscard]] int status();
  [[nodiscard]] HeaderList take_headers();
  // The outcome; only after wait_for_head() found no head.
  [[nodiscard]] Result<Invocation> take_outcome();

  // BodyStream.
  boost::asio::awaitable<Piece> next() override;
  void cancel() override;

 private:
  void ring();
  // Waits for a ring or the next look, whichever comes first.
  boost::asio::awaitable<void> doze();

  boost::asio::steady_timer bell_;
  std::mutex mutex_;
  std::optional<int> status_;          // guarded by mutex_
  HeaderList headers_;                 // guarded by mutex_
  std::deque<std::string> chunks_;     // guarded by mutex_
  std::size_t buffered_ = 0;           // bytes in chunks_; guarded by mutex_
  std::optional<Result<Invocation>> outcome_;  // guarded by mutex_
  bool cancelled_ = false;             // guarded by mutex_
};

}  // namespace nebula::http
