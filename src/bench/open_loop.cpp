#include "bench/open_loop.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>
#include <memory>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace nebula::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// A closed-loop connection whose request failed without an answer waits
// this long before it tries again, so that a server that refuses
// connections is not hammered in a tight loop.
constexpr milliseconds kRetryPause{10};

// How often a waiting loop looks at the stop flag.
constexpr milliseconds kStopPoll{100};

// A coroutine that throws (only std::bad_alloc can: every I/O error is a
// value here) ends the run: the exception leaves io_context::run().
void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// How an exchange on a connection ended.
enum class Exchange {
  kKeepAlive,  // answered; the connection can take the next request
  kAnswered,   // answered, but the server closes the connection
  kFailed,     // no answer: counted as a transport error or unfinished
};

// The state of one run. Everything here is touched only from the
// io_context's one thread, so nothing is locked. Connections belong to the
// coroutine that uses them, or to the idle set between two requests;
// busy_ only lists the first kind, so that a cut-off can close them.
class Generator {
 public:
  Generator(asio::io_context& ioc, tcp::resolver::results_type endpoints,
            const LoadRequest& request, milliseconds request_timeout, std::size_t max_connections,
            const StopRequested& stop)
      : ioc_(ioc),
        endpoints_(std::move(endpoints)),
        request_(make_request(request)),
        request_timeout_(request_timeout),
        max_connections_(std::max<std::size_t>(max_connections, 1)),
        stop_(stop) {}

  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  asio::awaitable<void> open_loop(double rate, milliseconds duration, milliseconds drain_timeout);
  asio::awaitable<void> closed_loop(unsigned connections, milliseconds duration,
                                    milliseconds drain_timeout);

  [[nodiscard]] LoadResult take_result() {
    result_.elapsed_s =
        std::max(result_.window_s, answered_any_ ? seconds_between(start_, last_answer_) : 0.0);
    return std::move(result_);
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& ioc) : stream(ioc) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;  // bytes read past one answer stay for the next
    bool connected = false;
  };
  using ConnectionPtr = std::unique_ptr<Connection>;

  static bhttp::request<bhttp::string_body> make_request(const LoadRequest& r) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(r.method), r.target, 11};
    req.set(bhttp::field::host, r.host + ":" + r.port);
    req.set(bhttp::field::user_agent, "nebula-bench");
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT") {
      req.set(bhttp::field::content_type, r.content_type);
    }
    req.body() = r.body;
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  [[nodiscard]] bool stop_requested() const { return stop_ && stop_(); }

  ConnectionPtr new_connection() {
    ++open_;
    ++result_.connections_opened;
    return std::make_unique<Connection>(ioc_);
  }

  void close(Connection& conn) {
    beast::error_code ignored;
    conn.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn.stream.socket().close(ignored);
  }

  void started_one() {
    ++outstanding_;
    result_.max_outstanding = std::max(result_.max_outstanding, outstanding_);
  }

  // One request left the books (answered, failed or cut off); the drain
  // wakes up when that was the last.
  void finished_one() {
    --outstanding_;
    if (outstanding_ == 0 && drain_timer_ != nullptr) drain_timer_->cancel();
  }

  // A request without an answer: a transport error while the run goes on,
  // unfinished once it was cut off (its connection was closed for it).
  void count_failure(const char* kind) {
    if (cut_off_) {
      ++result_.unfinished;
    } else {
      ++result_.transport_errors[kind];
    }
  }

  asio::awaitable<Exchange> exchange(Connection& conn, Clock::time_point from);
  void dispatch(Clock::time_point intended);
  asio::awaitable<void> serve(ConnectionPtr conn, Clock::time_point intended);
  asio::awaitable<void> closed_worker(Clock::time_point until);
  asio::awaitable<void> drain(Clock::time_point deadline);
  asio::awaitable<void> sleep_until(Clock::time_point when, bool watch_stop);
  void cut_off();

  asio::io_context& ioc_;
  tcp::resolver::results_type endpoints_;
  const bhttp::request<bhttp::string_body> request_;
  milliseconds request_timeout_;
  std::size_t max_connections_;
  const StopRequested& stop_;

  std::vector<ConnectionPtr> idle_;
  std::deque<Clock::time_point> waiting_;  // due requests without a connection yet
  std::unordered_set<Connection*> busy_;
  std::size_t open_ = 0;         // connections open or opening
  std::size_t outstanding_ = 0;  // requests in flight or waiting
  bool cut_off_ = false;
  asio::steady_timer* drain_timer_ = nullptr;
  Clock::time_point start_;
  Clock::time_point last_answer_;
  bool answered_any_ = false;
  LoadResult result_;
};

asio::awaitable<Exchange> Generator::exchange(Connection& conn, Clock::time_point from) {
  auto& stream = conn.stream;
  if (!conn.connected) {
    stream.expires_after(request_timeout_);
    auto [ec, endpoint] = co_await stream.async_connect(endpoints_, kAwait);
    if (ec) {
      count_failure(ec == beast::error::timeout ? "timeout" : "connect");
      co_return Exchange::kFailed;
    }
    conn.connected = true;
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }
  stream.expires_after(request_timeout_);
  auto [wec, written] = co_await bhttp::async_write(stream, request_, kAwait);
  if (wec) {
    count_failure(wec == beast::error::timeout ? "timeout" : "write");
    co_return Exchange::kFailed;
  }
  bhttp::response<bhttp::string_body> res;
  stream.expires_after(request_timeout_);
  auto [rec, read] = co_await bhttp::async_read(stream, conn.buffer, res, kAwait);
  if (rec) {
    count_failure(rec == beast::error::timeout ? "timeout" : "read");
    co_return Exchange::kFailed;
  }
  stream.expires_never();
  const auto done = Clock::now();
  last_answer_ = done;
  answered_any_ = true;
  if (res.result_int() == 200) {
    ++result_.ok;
    result_.latencies_us.push_back(std::chrono::duration<double, std::micro>(done - from).count());
  } else {
    ++result_.status_errors[res.result_int()];
  }
  co_return res.keep_alive() ? Exchange::kKeepAlive : Exchange::kAnswered;
}

// A due request goes to an idle connection, else to a new one while under
// the cap, else to the back of the FIFO.
void Generator::dispatch(Clock::time_point intended) {
  started_one();
  if (!idle_.empty()) {
    ConnectionPtr conn = std::move(idle_.back());
    idle_.pop_back();
    asio::co_spawn(ioc_, serve(std::move(conn), intended), rethrow);
  } else if (open_ < max_connections_) {
    asio::co_spawn(ioc_, serve(new_connection(), intended), rethrow);
  } else {
    waiting_.push_back(intended);
    result_.max_waiting = std::max(result_.max_waiting, waiting_.size());
  }
}

// Runs requests on `conn` until no due request waits for a connection,
// then leaves it in the idle set. A connection the server closed, or that
// failed, is replaced by a new one if requests still wait.
asio::awaitable<void> Generator::serve(ConnectionPtr conn, Clock::time_point intended) {
  busy_.insert(conn.get());
  Clock::time_point next = intended;
  while (true) {
    ++result_.sent;
    const Exchange outcome = co_await exchange(*conn, next);
    finished_one();
    if (outcome != Exchange::kKeepAlive) {
      busy_.erase(conn.get());
      close(*conn);
      conn.reset();
      --open_;
    }
    if (cut_off_ || waiting_.empty()) break;
    next = waiting_.front();
    waiting_.pop_front();
    if (!conn) {
      conn = new_connection();
      busy_.insert(conn.get());
    }
  }
  if (conn) {
    busy_.erase(conn.get());
    if (cut_off_) {
      close(*conn);
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
}

asio::awaitable<void> Generator::sleep_until(Clock::time_point when, bool watch_stop) {
  asio::steady_timer timer(ioc_);
  while (Clock::now() < when) {
    if (watch_stop && stop_requested()) co_return;
    timer.expires_at(watch_stop ? std::min(when, Clock::now() + kStopPoll) : when);
    co_await timer.async_wait(kAwait);
  }
}

// Waits for what is outstanding until `deadline`, then cuts it off.
asio::awaitable<void> Generator::drain(Clock::time_point deadline) {
  asio::steady_timer timer(ioc_);
  drain_timer_ = &timer;
  while (outstanding_ > 0 && Clock::now() < deadline && !stop_requested()) {
    timer.expires_at(std::min(deadline, Clock::now() + kStopPoll));
    co_await timer.async_wait(kAwait);
  }
  drain_timer_ = nullptr;
  if (outstanding_ > 0) cut_off();
  for (auto& conn : idle_) close(*conn);
  open_ -= idle_.size();
  idle_.clear();
}

// The end of the drain: requests still waiting were never sent, those in
// flight lose their connection; both count as unfinished. The coroutines
// that own the closed connections see the error, count it and end.
void Generator::cut_off() {
  cut_off_ = true;
  result_.unfinished += waiting_.size();
  outstanding_ -= waiting_.size();
  waiting_.clear();
  for (Connection* conn : busy_) close(*conn);
}

asio::awaitable<void> Generator::open_loop(double rate, milliseconds duration,
                                           milliseconds drain_timeout) {
  start_ = Clock::now();
  const std::uint64_t due = open_loop_schedule(rate, duration);
  asio::steady_timer timer(ioc_);
  bool stopped = false;
  for (std::uint64_t i = 0; i < due; ++i) {
    const auto intended = start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                       std::llround(static_cast<double>(i) * 1e9 / rate)));
    if (Clock::now() < intended) {
      timer.expires_at(intended);
      co_await timer.async_wait(kAwait);
    }
    if (stop_requested()) {
      stopped = true;
      break;
    }
    ++result_.scheduled;
    dispatch(intended);
  }
  // The window lasts its whole length even when the last request was due
  // earlier (or none was: rate 0).
  if (!stopped) co_await sleep_until(start_ + duration, true);
  stopped = stopped || stop_requested();
  result_.window_s = seconds_between(start_, Clock::now());
  co_await drain(stopped ? Clock::now() : Clock::now() + drain_timeout);
}

// One of the closed loop's connections: request after request until the
// window ends.
asio::awaitable<void> Generator::closed_worker(Clock::time_point until) {
  ConnectionPtr conn = new_connection();
  busy_.insert(conn.get());
  asio::steady_timer pause(ioc_);
  while (!cut_off_ && Clock::now() < until && !stop_requested()) {
    ++result_.scheduled;
    ++result_.sent;
    started_one();
    const Exchange outcome = co_await exchange(*conn, Clock::now());
    finished_one();
    if (outcome == Exchange::kKeepAlive) continue;
    busy_.erase(conn.get());
    close(*conn);
    --open_;
    conn = new_connection();
    busy_.insert(conn.get());
    if (outcome == Exchange::kFailed && !cut_off_) {
      pause.expires_after(kRetryPause);
      co_await pause.async_wait(kAwait);
    }
  }
  busy_.erase(conn.get());
  close(*conn);
  --open_;
}

asio::awaitable<void> Generator::closed_loop(unsigned connections, milliseconds duration,
                                             milliseconds drain_timeout) {
  start_ = Clock::now();
  const auto until = start_ + duration;
  for (unsigned i = 0; i < connections; ++i) {
    asio::co_spawn(ioc_, closed_worker(until), rethrow);
  }
  co_await sleep_until(until, true);
  const bool stopped = stop_requested();
  result_.window_s = seconds_between(start_, Clock::now());
  co_await drain(stopped ? Clock::now() : Clock::now() + drain_timeout);
}

Result<tcp::resolver::results_type> resolve(asio::io_context& ioc, const LoadRequest& request) {
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(request.host, request.port, ec);
  if (ec || endpoints.empty()) {
    return make_error(ErrorKind::kUnavailable,
                      "cannot resolve " + request.host + ":" + request.port + ": " + ec.message());
  }
  return endpoints;
}

}  // namespace

std::uint64_t LoadResult::status_error_count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [status, count] : status_errors) n += count;
  return n;
}

std::uint64_t LoadResult::transport_error_count() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [kind, count] : transport_errors) n += count;
  return n;
}

double LoadResult::achieved_per_s() const noexcept {
  return elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0;
}

std::uint64_t open_loop_schedule(double rate_per_s, milliseconds duration) noexcept {
  if (!(rate_per_s > 0) || !std::isfinite(rate_per_s) || duration.count() <= 0) return 0;
  const double due = rate_per_s * std::chrono::duration<double>(duration).count();
  // Due at i / rate for every i with i / rate < duration; the epsilon keeps
  // an exact product (1000 × 1 s) from gaining one through rounding.
  return static_cast<std::uint64_t>(std::ceil(due - 1e-9));
}

Result<LoadResult> run_open_loop(const LoadRequest& request, const OpenLoopOptions& options,
                                 const StopRequested& stop) {
  if (options.rate_per_s < 0 || !std::isfinite(options.rate_per_s)) {
    return make_error(ErrorKind::kInvalidArgument, "the offered rate must be a number ≥ 0");
  }
  // The io_context comes first so that it outlives the generator's sockets.
  asio::io_context ioc(1);
  auto endpoints = resolve(ioc, request);
  if (!endpoints) return std::move(endpoints).error();
  Generator generator(ioc, std::move(*endpoints), request, options.request_timeout,
                      options.max_connections, stop);
  asio::co_spawn(ioc,
                 generator.open_loop(options.rate_per_s, options.duration, options.drain_timeout),
                 rethrow);
  ioc.run();
  return generator.take_result();
}

Result<LoadResult> run_closed_loop(const LoadRequest& request, const ClosedLoopOptions& options,
                                   const StopRequested& stop) {
  if (options.connections == 0) {
    return make_error(ErrorKind::kInvalidArgument, "a closed loop needs at least one connection");
  }
  asio::io_context ioc(1);
  auto endpoints = resolve(ioc, request);
  if (!endpoints) return std::move(endpoints).error();
  Generator generator(ioc, std::move(*endpoints), request, options.request_timeout,
                      options.connections, stop);
  asio::co_spawn(
      ioc, generator.closed_loop(options.connections, options.duration, options.drain_timeout),
      rethrow);
  ioc.run();
  return generator.take_result();
}

}  // namespace nebula::bench
