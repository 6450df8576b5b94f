#include "http/streaming.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/views.hpp"

namespace nebula::http {

StreamedResponse::StreamedResponse(boost::asio::any_io_executor executor)
    : bell_(std::move(executor), boost::asio::steady_timer::time_point::max()) {}

void StreamedResponse::ring() {
  // On the connection's executor, so that it cannot fall between the
  // consumer's look at the state and its wait.
  boost::asio::post(bell_.get_executor(), [self = shared_from_this()] { self->bell_.cancel(); });
}

void StreamedResponse::head(int status, HeaderList headers) {
  {
    std::lock_guard lock(mutex_);
    status_ = status;
    headers_ = std::move(headers);
  }
  ring();
}

bool StreamedResponse::body(std::string_view chunk) {
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return false;
    chunks_.emplace_back(chunk);
  }
  ring();
  return true;
}

void StreamedResponse::finish(Result<Invocation> outcome) {
  {
    std::lock_guard lock(mutex_);
    outcome_.emplace(std::move(outcome));
  }
  ring();
}

void StreamedResponse::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  chunks_.clear();
}

boost::asio::awaitable<void> StreamedResponse::wait_for_head() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (status_ || outcome_) co_return;
    }
    bell_.expires_at(boost::asio::steady_timer::time_point::max());
    co_await bell_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

bool StreamedResponse::has_head() {
  std::lock_guard lock(mutex_);
  return status_.has_value();
}

int StreamedResponse::status() {
  std::lock_guard lock(mutex_);
  return status_.value_or(500);
}

HeaderList StreamedResponse::take_headers() {
  std::lock_guard lock(mutex_);
  return std::move(headers_);
}

Result<Invocation> StreamedResponse::take_outcome() {
  std::lock_guard lock(mutex_);
  if (!outcome_) return make_error(ErrorKind::kInternal, "the invocation has not ended");
  return std::move(*outcome_);
}

boost::asio::awaitable<BodyStream::Piece> StreamedResponse::next() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (!chunks_.empty()) {
        Piece piece{Piece::Kind::kData, std::move(chunks_.front()), {}};
        chunks_.pop_front();
        co_return piece;
      }
      if (outcome_) {
        // Every piece was taken and the invocation ended: complete the body
        // if it succeeded, cut it otherwise (the status is long gone).
        const Result<Invocation>& outcome = *outcome_;
        if (!outcome || outcome->result.outcome != Outcome::kOk) {
          co_return Piece{Piece::Kind::kAbort, {}, {}};
        }
        co_return Piece{Piece::Kind::kEnd,
                        {},
                        {{"Server-Timing", server_timing(outcome->record.timings)}}};
      }
    }
    bell_.expires_at(boost::asio::steady_timer::time_point::max());
    co_await bell_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

}  // namespace nebula::http
