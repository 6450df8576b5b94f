#include "bench/open_loop.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// How the tiny server below answers.
struct Behaviour {
  milliseconds delay{0};  // before each answer
  bool answer = true;     // false: reads requests and never answers
  unsigned status = 200;
  bool keep_alive = true;  // false: closes the connection after each answer
};

// A tiny HTTP/1.1 server on 127.0.0.1, port 0, on a thread of its own: each
// connection reads a request, waits `delay`, answers, and reads the next.
// Its counters are read by the test's thread.
class TinyServer {
 public:
  explicit TinyServer(Behaviour behaviour)
      : behaviour_(behaviour), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;
  ~TinyServer() {
    ioc_.stop();
    thread_.join();
  }

  [[nodiscard]] std::string port() const {
    return std::to_string(acceptor_.local_endpoint().port());
  }
  [[nodiscard]] std::uint64_t received() const { return received_.load(); }
  [[nodiscard]] std::uint64_t accepted() const { return accepted_.load(); }

 private:
  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    asio::steady_timer timer(ioc_);
    while (true) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, read] = co_await bhttp::async_read(stream, buffer, req, kAwait);
      if (ec) co_return;
      // Counted before the answer is written, so that a client holding the
      // answer always finds it counted.
      ++received_;
      // Not answering: the client has no reason to send another request on
      // this connection, so the next read waits until it goes away.
      if (!behaviour_.answer) continue;
      if (behaviour_.delay.count() > 0) {
        timer.expires_after(behaviour_.delay);
        co_await timer.async_wait(kAwait);
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(behaviour_.status),
                                              req.version()};
      res.body() = "Hello, Nebula!\n";
      res.keep_alive(behaviour_.keep_alive);
      res.prepare_payload();
      auto [wec, written] = co_await bhttp::async_write(stream, res, kAwait);
      if (wec) co_return;
      if (!behaviour_.keep_alive) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
    }
  }

  const Behaviour behaviour_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::thread thread_;
};

LoadRequest request_to(const std::string& port) {
  LoadRequest r;
  r.host = "127.0.0.1";
  r.port = port;
  r.target = "/v1/functions/hello/invoke";
  r.body = "Nebula";
  return r;
}

// Every request that was due ends in exactly one bucket.
void expect_accounted(const LoadResult& r) {
  EXPECT_EQ(r.scheduled, r.ok + r.status_error_count() + r.transport_error_count() + r.unfinished);
  EXPECT_EQ(r.latencies_us.size(), r.ok);
  EXPECT_GE(r.elapsed_s, r.window_s);
}

TEST(OpenLoopSchedule, OneAtTheStartAndOneEveryPeriodWhileTheWindowLasts) {
  EXPECT_EQ(open_loop_schedule(1000, milliseconds(1000)), 1000U);
  EXPECT_EQ(open_loop_schedule(3, milliseconds(1000)), 3U);    // 0, ⅓, ⅔ s
  EXPECT_EQ(open_loop_schedule(2.5, milliseconds(1000)), 3U);  // 0, 0.4, 0.8 s
  EXPECT_EQ(open_loop_schedule(1, milliseconds(20'000)), 20U);
  EXPECT_EQ(open_loop_schedule(0.5, milliseconds(1000)), 1U);
  EXPECT_EQ(open_loop_schedule(0, milliseconds(1000)), 0U);
  EXPECT_EQ(open_loop_schedule(10, milliseconds(0)), 0U);
}

TEST(OpenLoop, SendsRateTimesDurationAndCountsEveryAnswer) {
  TinyServer server({});
  OpenLoopOptions options;
  options.rate_per_s = 200;
  options.duration = milliseconds(1000);
  auto result = run_open_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  EXPECT_GE(r.scheduled, 199U);
  EXPECT_LE(r.scheduled, 201U);
  EXPECT_EQ(r.sent, r.scheduled);
  EXPECT_EQ(r.ok, r.scheduled);
  EXPECT_EQ(r.unfinished, 0U);
  EXPECT_EQ(server.received(), r.ok);
  EXPECT_GE(r.window_s, 1.0);
  // Keep-alive: connections are reused from the idle set, never one per
  // request.
  EXPECT_GE(r.connections_opened, 1U);
  EXPECT_EQ(server.accepted(), r.connections_opened);
  EXPECT_LT(r.connections_opened, r.scheduled);
  EXPECT_NEAR(r.achieved_per_s(), static_cast<double>(r.ok) / r.elapsed_s, 1e-9);
  expect_accounted(r);
}

// With one connection and a server that takes 100 ms per answer, requests
// due every 50 ms queue up: the i-th cannot be answered before
// (i + 1) × 100 ms, so, counted from its intended time i × 50 ms, it waited
// at least 100 + 50 i ms. A closed loop would have reported 100 ms for each.
TEST(OpenLoop, LatencyCountsFromTheIntendedSendTime) {
  TinyServer server({.delay = milliseconds(100)});
  OpenLoopOptions options;
  options.rate_per_s = 20;
  options.duration = milliseconds(500);
  options.max_connections = 1;
  auto result = run_open_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  ASSERT_EQ(r.scheduled, 10U);
  ASSERT_EQ(r.ok, 10U);
  EXPECT_EQ(r.connections_opened, 1U);
  EXPECT_GE(r.max_waiting, 1U);
  std::vector<double> latencies = r.latencies_us;
  std::sort(latencies.begin(), latencies.end());
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    EXPECT_GE(latencies[i], 1000.0 * (100.0 + 50.0 * static_cast<double>(i))) << i;
  }
  expect_accounted(r);
}

TEST(OpenLoop, RequestsWithoutAnAnswerByTheEndOfTheDrainAreUnfinished) {
  TinyServer server({.answer = false});
  OpenLoopOptions options;
  options.rate_per_s = 10;
  options.duration = milliseconds(500);
  options.drain_timeout = milliseconds(300);
  auto result = run_open_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  EXPECT_EQ(r.scheduled, 5U);
  EXPECT_EQ(r.unfinished, 5U);
  EXPECT_EQ(r.ok, 0U);
  EXPECT_EQ(r.transport_error_count(), 0U);
  // None came back, so each needed a connection of its own.
  EXPECT_EQ(r.connections_opened, 5U);
  expect_accounted(r);
}

TEST(OpenLoop, WhenEveryConnectionIsBusyRequestsWaitAndStillCountAsUnfinished) {
  TinyServer server({.answer = false});
  OpenLoopOptions options;
  options.rate_per_s = 20;
  options.duration = milliseconds(300);
  options.max_connections = 2;
  options.drain_timeout = milliseconds(200);
  auto result = run_open_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->scheduled, 6U);
  EXPECT_EQ(result->connections_opened, 2U);
  EXPECT_EQ(result->sent, 2U);  // the other 4 never got a connection
  EXPECT_EQ(result->max_waiting, 4U);
  EXPECT_EQ(result->unfinished, 6U);
  expect_accounted(*result);
}

TEST(OpenLoop, OtherStatusesAreErrorsAndAClosedConnectionIsReplaced) {
  TinyServer server({.status = 503, .keep_alive = false});
  OpenLoopOptions options;
  options.rate_per_s = 50;
  options.duration = milliseconds(200);
  auto result = run_open_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  EXPECT_EQ(r.scheduled, 10U);
  EXPECT_EQ(r.status_errors.at(503), 10U);
  EXPECT_EQ(r.ok, 0U);
  EXPECT_EQ(r.transport_error_count(), 0U);
  EXPECT_EQ(r.connections_opened, 10U);
  expect_accounted(r);
}

TEST(OpenLoop, ARefusedConnectionIsATransportError) {
  std::string port;
  {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = std::to_string(probe.local_endpoint().port());
  }  // closed: nothing listens there any more
  OpenLoopOptions options;
  options.rate_per_s = 10;
  options.duration = milliseconds(300);
  auto result = run_open_loop(request_to(port), options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->scheduled, 3U);
  EXPECT_EQ(result->transport_errors.at("connect"), 3U);
  expect_accounted(*result);
}

TEST(OpenLoop, RateZeroOnlyWaits) {
  OpenLoopOptions options;
  options.rate_per_s = 0;
  options.duration = milliseconds(200);
  auto result = run_open_loop(request_to("9"), options);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->scheduled, 0U);
  EXPECT_GE(result->window_s, 0.2);
}

TEST(OpenLoop, AStopRequestEndsTheRunBeforeTheNextSend) {
  TinyServer server({});
  OpenLoopOptions options;
  options.rate_per_s = 100;
  options.duration = milliseconds(60'000);
  auto result = run_open_loop(request_to(server.port()), options, [] { return true; });
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->scheduled, 0U);
}

TEST(OpenLoop, RefusesANegativeRateAndAnUnknownHost) {
  OpenLoopOptions options;
  options.rate_per_s = -1;
  EXPECT_FALSE(run_open_loop(request_to("80"), options));
  LoadRequest nowhere = request_to("80");
  nowhere.host = "no-such-host.invalid";
  options.rate_per_s = 1;
  EXPECT_FALSE(run_open_loop(nowhere, options));
}

TEST(ClosedLoop, EachConnectionSendsBackToBack) {
  TinyServer server({});
  ClosedLoopOptions options;
  options.connections = 3;
  options.duration = milliseconds(300);
  auto result = run_closed_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  EXPECT_EQ(r.connections_opened, 3U);
  EXPECT_EQ(server.accepted(), 3U);
  EXPECT_GE(r.ok, 3U);
  EXPECT_EQ(r.ok, server.received());
  EXPECT_EQ(r.sent, r.scheduled);
  EXPECT_LE(r.max_outstanding, 3U);
  expect_accounted(r);
}

// A connection waits for each answer: with 50 ms per answer, two
// connections finish at most 2 × (300 / 50 + 1) requests in 300 ms, each
// taking at least 50 ms.
TEST(ClosedLoop, NeverMoreInFlightThanConnections) {
  TinyServer server({.delay = milliseconds(50)});
  ClosedLoopOptions options;
  options.connections = 2;
  options.duration = milliseconds(300);
  auto result = run_closed_loop(request_to(server.port()), options);
  ASSERT_TRUE(result) << result.error().message;
  const LoadResult& r = *result;
  EXPECT_GE(r.ok, 2U);
  EXPECT_LE(r.ok, 14U);
  for (double us : r.latencies_us) EXPECT_GE(us, 50'000.0);
  EXPECT_LE(r.max_outstanding, 2U);
  expect_accounted(r);
}

TEST(ClosedLoop, NeedsAConnection) {
  ClosedLoopOptions options;
  options.connections = 0;
  EXPECT_FALSE(run_closed_loop(request_to("80"), options));
}

}  // namespace
}  // namespace nebula::bench
