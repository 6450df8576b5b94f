#include "http/streaming.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/views.hpp"

namespace nebula::http {
namespace {

// How often a waiting connection looks for news nobody rang about.
constexpr auto kLook = std::chrono::milliseconds(1);
// A body this large waiting is worth a wake-up of its own.
constexpr std::size_t kRingBytes = 64 * 1024;

}  // namespace

StreamedResponse::StreamedResponse(boost::asio::any_io_executor executor)
    : bell_(std::move(executor)) {}

void StreamedResponse::ring() {
  // On the connection's executor, so that it cannot fall between the
  // consumer's look at the state and its wait.
  boost::asio::post(bell_.get_executor(), [self = shared_from_this()] { self->bell_.cancel(); });
}

boost::asio::awaitable<void> StreamedResponse::doze() {
  bell_.expires_after(kLook);
  co_await bell_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

void StreamedResponse::head(int status, HeaderList headers) {
  // No ring: the connection looks within a millisecond.
  std::lock_guard lock(mutex_);
  status_ = status;
  headers_ = std::move(headers);
}

bool StreamedResponse::body(std::string_view chunk) {
  bool large = false;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return false;
    chunks_.emplace_back(chunk);
    buffered_ += chunk.size();
    large = buffered_ >= kRingBytes;
  }
  if (large) ring();
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
  buffered_ = 0;
}

boost::asio::awaitable<void> StreamedResponse::wait_for_head() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (status_ || outcome_) co_return;
    }
    co_await doze();
  }
}

boost::asio::awaitable<void> StreamedResponse::wait_for_end(
    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (outcome_ || buffered_ >= kRingBytes) co_return;
    }
    if (std::chrono::steady_clock::now() >= deadline) co_return;
    co_await doze();
  }
}

bool StreamedResponse::ended_ok() {
  std::lock_guard lock(mutex_);
  return outcome_ && outcome_->has_value() && (*outcome_)->result.outcome == Outcome::kOk;
}

std::string StreamedResponse::take_body() {
  std::lock_guard lock(mutex_);
  std::string body;
  body.reserve(buffered_);
  for (auto& chunk : chunks_) body += chunk;
  chunks_.clear();
  buffered_ = 0;
  return body;
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
        // Everything waiting goes out in one write.
        Piece piece{Piece::Kind::kData, {}, {}};
        piece.data.reserve(buffered_);
        for (auto& chunk : chunks_) piece.data += chunk;
        chunks_.clear();
        buffered_ = 0;
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
    co_await doze();
  }
}

}  // namespace nebula::http
