// Clients that try to hurt the server, over raw sockets: slow heads and
// bodies (slowloris), thousands of idle connections, the connection limit,
// request smuggling shapes, oversized heads, and token guessing. Most run
// against the real `nebula serve`; the slow-client tests also run
// http::Server in-process, where the timeouts can be a second or two and
// the server has one I/O thread.
//
// Assertions are about outcomes (a status, a closed connection); the only
// times compared are generous bounds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
// GCC 12 with the sanitizers warns, wrongly, that a boost::optional
// inside Beast's parser may be used uninitialized where put() is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/http/parser.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "http/server.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// A response as it arrived on a raw socket.
struct Answer {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One whole response at the start of `data`, or nothing yet.
std::optional<Answer> parse_answer(std::string_view data, bool eof) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(1 << 20);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < data.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(data.data() + used, data.size() - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (n == 0) break;
      continue;
    }
    if (ec) return std::nullopt;
  }
  if (eof && parser.is_header_done() && !parser.is_done()) parser.put_eof(ec);
  if (!parser.is_done()) return std::nullopt;
  Answer answer;
  answer.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    answer.headers[name] = std::string(field.value());
  }
  answer.body = parser.get().body();
  return answer;
}

// A TCP connection to 127.0.0.1:port, from `source` (any loopback
// address), driven byte by byte.
class RawConnection {
 public:
  explicit RawConnection(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(RawConnection&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), data_(std::move(other.data_)) {}
  RawConnection& operator=(RawConnection&&) = delete;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }

  // False once the server has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // True when a byte (or the end) can be read within `timeout`.
  bool readable_within(std::chrono::milliseconds timeout) {
    if (!data_.empty()) return true;
    pollfd pfd{fd_, POLLIN, 0};
    return ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
  }

  // The next response; nothing when none came whole within `timeout`.
  std::optional<Answer> read_response(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = SteadyClock::now() + timeout;
    bool eof = false;
    for (;;) {
      if (auto answer = parse_answer(data_, eof)) {
        data_.clear();  // tests never pipeline
        return answer;
      }
      if (eof) return std::nullopt;
      if (!fill(deadline, eof)) return std::nullopt;
    }
  }

  // True when the server closes the connection within `timeout` (whatever
  // it sends before that is dropped).
  bool closed_within(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = SteadyClock::now() + timeout;
    bool eof = false;
    while (!eof) {
      if (!fill(deadline, eof)) return false;
    }
    return true;
  }

 private:
  // Reads what is there; false at the deadline. A reset counts as the end.
  bool fill(SteadyClock::time_point deadline, bool& eof) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left <= 0ms) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[16384];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof = true;
    } else {
      data_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
  std::string data_;
};

int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

// GET on a new connection that closes after it; its status, 0 for none
// within `timeout`.
unsigned get_status(int port, const std::string& target = "/healthz",
                    std::chrono::milliseconds timeout = 5s) {
  RawConnection c(port);
  if (!c.connected() ||
      !c.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) {
    return 0;
  }
  auto answer = c.read_response(timeout);
  return answer ? answer->status : 0;
}

// A refusal the server makes on its own: a problem document, and the
// connection closes after it.
void expect_closing_problem(RawConnection& c, unsigned status, const std::string& what) {
  auto answer = c.read_response();
  ASSERT_TRUE(answer) << what << ": no response";
  EXPECT_EQ(answer->status, status) << what << ": " << answer->body;
  EXPECT_EQ(answer->header("content-type"), "application/problem+json") << what;
  EXPECT_EQ(answer->header("connection"), "close") << what;
  EXPECT_EQ(json::parse(answer->body).at("status").as_int64(), status) << what;
  EXPECT_TRUE(c.closed_within()) << what << ": the connection stayed open";
}

// A client that sends `prefix` at once, then the rest a byte at a time
// every `interval`, until the server answers or closes.
struct Trickle {
  std::optional<Answer> answer;
  bool closed = false;
  std::size_t sent = 0;
  std::chrono::milliseconds took{0};
};

Trickle trickle(int port, const std::string& request, std::size_t prefix,
                std::chrono::milliseconds interval = 1s) {
  Trickle t;
  const auto start = SteadyClock::now();
  RawConnection c(port);
  if (!c.connected()) return t;
  if (!c.send(std::string_view(request).substr(0, prefix))) return t;
  t.sent = prefix;
  while (t.sent < request.size()) {
    if (c.readable_within(interval)) break;
    if (!c.send(std::string_view(request).substr(t.sent, 1))) break;
    ++t.sent;
  }
  t.answer = c.read_response();
  t.closed = c.closed_within();
  t.took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  return t;
}

// --- the server in-process, with short timeouts ------------------------------

// Answers 200 "ok" to anything.
class PlainHandler final : public http::Handler {
 public:
  [[nodiscard]] http::Dispatch dispatch(const http::RequestHeader& /*header*/) const override {
    http::Dispatch d;
    d.body_limit = 1 << 20;
    return d;
  }
  boost::asio::awaitable<http::Reply> handle(http::Request& /*request*/,
                                             const http::Dispatch& /*dispatch*/) override {
    http::Response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = "ok";
    co_return res;
  }
};

// http::Server on 127.0.0.1, port 0, with one I/O thread: a slow client
// that held it would stop every other.
class LocalServer {
 public:
  explicit LocalServer(http::ServerOptions options) : server_(ioc_, port_zero(options), handler_) {
    auto endpoint = server_.listen();
    if (!endpoint) return;
    port_ = endpoint->port();
    server_.start();
    thread_ = std::thread([this] {
      ioc_.run();
      done_.set_value();
    });
  }
  ~LocalServer() {
    server_.stop();
    if (!thread_.joinable()) return;
    // Busy connections finish first; a bound in case one does not.
    if (done_.get_future().wait_for(30s) != std::future_status::ready) ioc_.stop();
    thread_.join();
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  [[nodiscard]] int port() const { return port_; }

 private:
  static http::ServerOptions port_zero(http::ServerOptions options) {
    options.address = "127.0.0.1";
    options.port = 0;
    return options;
  }

  boost::asio::io_context ioc_{1};
  PlainHandler handler_;
  http::Server server_;
  int port_ = 0;
  std::promise<void> done_;
  std::thread thread_;
};

constexpr int kTricklers = 6;
const std::string kSlowHead =
    "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: one-byte-a-second\r\n"
    "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

// Runs `clients` on their own threads while this one keeps sending
// ordinary requests on new connections; every one must be answered 200.
std::vector<Trickle> while_serving_others(int port, std::vector<std::function<Trickle()>> clients) {
  std::vector<std::future<Trickle>> running;
  for (auto& client : clients) running.push_back(std::async(std::launch::async, client));
  int served = 0;
  const auto all_done = [&running] {
    for (auto& r : running) {
      if (r.wait_for(0s) != std::future_status::ready) return false;
    }
    return true;
  };
  while (!all_done() || served < 3) {
    EXPECT_EQ(get_status(port), 200U) << "an ordinary request went unanswered";
    ++served;
    std::this_thread::sleep_for(200ms);
  }
  std::vector<Trickle> results;
  for (auto& r : running) results.push_back(r.get());
  return results;
}

TEST(SlowClients, ASlowHeadGets408WhileOtherRequestsAreAnswered) {
  http::ServerOptions options;
  options.header_timeout = 1s;
  options.io_timeout = 60s;  // far away: the header timeout is what cuts
  LocalServer server(options);
  ASSERT_NE(server.port(), 0);
  std::vector<std::function<Trickle()>> clients;
  for (int i = 0; i < kTricklers; ++i) {
    clients.emplace_back([&server] { return trickle(server.port(), kSlowHead, 1); });
  }
  for (const Trickle& t : while_serving_others(server.port(), clients)) {
    ASSERT_TRUE(t.answer) << "the slow client got no answer";
    EXPECT_EQ(t.answer->status, 408U) << t.answer->body;
    EXPECT_EQ(t.answer->header("content-type"), "application/problem+json");
    EXPECT_EQ(t.answer->header("connection"), "close");
    EXPECT_TRUE(t.closed);
    EXPECT_LT(t.sent, kSlowHead.size()) << "cut off before its head was complete";
    EXPECT_LT(t.took, 30s);
  }
}

TEST(SlowClients, ASlowBodyGets408WhileOtherRequestsAreAnswered) {
  http::ServerOptions options;
  options.header_timeout = 1s;
  options.io_timeout = 3s;
  LocalServer server(options);
  ASSERT_NE(server.port(), 0);
  const std::string head = "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n";
  const std::string request = head + std::string(100, 'b');
  std::vector<std::function<Trickle()>> clients;
  for (int i = 0; i < kTricklers; ++i) {
    clients.emplace_back([&server, &request, &head] {
      return trickle(server.port(), request, head.size());
    });
  }
  for (const Trickle& t : while_serving_others(server.port(), clients)) {
    ASSERT_TRUE(t.answer) << "the slow client got no answer";
    EXPECT_EQ(t.answer->status, 408U) << t.answer->body;
    EXPECT_EQ(t.answer->header("content-type"), "application/problem+json");
    EXPECT_TRUE(t.closed);
    EXPECT_LT(t.sent, request.size()) << "cut off before its body was complete";
    EXPECT_LT(t.took, 30s);
  }
}

// The same through `nebula serve`, with its default 10 s for a head.
TEST(SlowClients, TheRealServerCutsASlowHeadOffToo) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker"});
  ASSERT_TRUE(server.start()) << server.log();
  const int port = port_of(server.url());
  std::vector<std::function<Trickle()>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([port] { return trickle(port, kSlowHead, 1); });
  }
  for (const Trickle& t : while_serving_others(port, clients)) {
    ASSERT_TRUE(t.answer) << "the slow client got no answer";
    EXPECT_EQ(t.answer->status, 408U) << t.answer->body;
    EXPECT_TRUE(t.closed);
    EXPECT_LT(t.sent, kSlowHead.size());
    EXPECT_LT(t.took, 29s) << "not cut off by the 10 s head timeout";
  }
}

// --- request smuggling and oversized heads -----------------------------------

class Refusals : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start()) << server_.log();
    port_ = port_of(server_.url());
  }

  TempDir dir_;
  ServerProcess server_{dir_.path() / "data", {"--no-docker"}};
  int port_ = 0;
};

TEST_F(Refusals, RequestSmugglingShapesGet400AndTheConnectionCloses) {
  const std::string post = "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> shapes = {
      // Both framings (Beast refuses these itself).
      {"Content-Length, then Transfer-Encoding",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding, then Content-Length",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      // Both framings with a coding other than chunked (Beast accepts).
      {"Transfer-Encoding gzip with Content-Length",
       post + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello"},
      // Two lengths.
      {"two equal Content-Length fields",
       post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
      {"two different Content-Length fields",
       post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"a Content-Length list", post + "Content-Length: 5, 5\r\n\r\nhello"},
      // Transfer codings other than exactly chunked.
      {"Transfer-Encoding gzip", post + "Transfer-Encoding: gzip\r\n\r\nhello"},
      {"chunked not last", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
      {"gzip before chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"two Transfer-Encoding fields",
       post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      // Obsolete line folding.
      {"a folded header", post + "X-Folded: one\r\n two\r\nContent-Length: 0\r\n\r\n"},
      {"a folded Transfer-Encoding", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
      // Invalid chunk sizes (Beast refuses these; the server answers 400).
      {"a negative chunk size", chunked + "-1\r\nhello\r\n0\r\n\r\n"},
      {"a 0x chunk size", chunked + "0x5\r\nhello\r\n0\r\n\r\n"},
      {"a chunk size with a plus", chunked + "+5\r\nhello\r\n0\r\n\r\n"},
      {"a chunk size with a leading space", chunked + " 5\r\nhello\r\n0\r\n\r\n"},
      {"a chunk size with a trailing space", chunked + "5 \r\nhello\r\n0\r\n\r\n"},
      {"a chunk size that is not hex", chunked + "5g\r\nhello\r\n0\r\n\r\n"},
      {"an empty chunk size", chunked + "\r\nhello\r\n0\r\n\r\n"},
      {"a chunk size past 64 bits", chunked + "10000000000000005\r\nhello\r\n0\r\n\r\n"},
      {"a chunk longer than its size", chunked + "3\r\nhello\r\n0\r\n\r\n"},
  };
  for (const auto& [what, bytes] : shapes) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(bytes)) << what;
    expect_closing_problem(c, 400, what);
  }
  // The same route takes a well-framed chunked body (and answers 405: it is
  // a GET route), on a connection that stays open.
  RawConnection ok(port_);
  ASSERT_TRUE(ok.send(chunked + "5\r\nhello\r\n0\r\n\r\n"));
  auto answer = ok.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 405U) << answer->body;
  ASSERT_TRUE(ok.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  answer = ok.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200U);
}

TEST_F(Refusals, OversizedHeadsGet431AndTheConnectionCloses) {
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  std::string many_fields = get;
  for (int i = 0; i < 1000; ++i) many_fields += "X-Field-" + std::to_string(i) + ": value\r\n";
  const std::vector<std::pair<std::string, std::string>> heads = {
      {"one 20 KiB field", get + "X-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n"},
      {"a thousand fields", many_fields + "\r\n"},
      {"a 20 KiB target", "GET /healthz?" + std::string(20 * 1024, 'q') + " HTTP/1.1\r\n\r\n"},
      {"a head that never ends", get + "X-Endless: " + std::string(64 * 1024, 'e')},
  };
  for (const auto& [what, bytes] : heads) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(bytes)) << what;
    expect_closing_problem(c, 431, what);
  }
  // Just under the limit is fine.
  RawConnection c(port_);
  ASSERT_TRUE(c.send(get + "X-Big: " + std::string(15 * 1024, 'a') + "\r\n\r\n"));
  auto answer = c.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200U);
}

// --- many connections and the connection limit -------------------------------

// Sets this process's open file limit for the scope, then restores it.
class OpenFileLimit {
 public:
  OpenFileLimit() { ::getrlimit(RLIMIT_NOFILE, &original_); }
  ~OpenFileLimit() { ::setrlimit(RLIMIT_NOFILE, &original_); }
  OpenFileLimit(const OpenFileLimit&) = delete;
  OpenFileLimit& operator=(const OpenFileLimit&) = delete;

  [[nodiscard]] rlim_t hard() const { return original_.rlim_max; }
  bool set_soft(rlim_t soft) {
    rlimit limit = original_;
    limit.rlim_cur = std::min(soft, original_.rlim_max);
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
  }

 private:
  rlimit original_{};
};

TEST(ManyConnections, FiveThousandIdleConnectionsDoNotStopNewRequests) {
  constexpr std::size_t kIdle = 5000;
  OpenFileLimit limit;
  if (limit.hard() != RLIM_INFINITY && limit.hard() < kIdle + 600) {
    GTEST_SKIP() << "the hard open file limit (" << limit.hard() << ") is below " << kIdle + 600;
  }
  // The server starts with the soft limit a login shell often has, so it
  // must raise its own to hold these connections.
  ASSERT_TRUE(limit.set_soft(1024));
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker"});
  const bool started = server.start();
  // This process needs a descriptor per connection too.
  ASSERT_TRUE(limit.set_soft(limit.hard() == RLIM_INFINITY ? 2 * kIdle : limit.hard()));
  ASSERT_TRUE(started) << server.log();
  EXPECT_NE(server.log().find("open file limit raised from 1024"), std::string::npos)
      << server.log();
  const int port = port_of(server.url());

  // Half opened and left silent, half kept alive after a request.
  std::vector<RawConnection> idle;
  idle.reserve(kIdle);
  for (std::size_t i = 0; i < kIdle; ++i) {
    idle.emplace_back(port);
    ASSERT_TRUE(idle.back().connected()) << "connection " << i << ": " << std::strerror(errno);
    if (i % 2 == 1) {
      ASSERT_TRUE(idle.back().send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
      auto answer = idle.back().read_response();
      ASSERT_TRUE(answer) << "connection " << i;
      ASSERT_EQ(answer->status, 200U);
    }
  }
  // A new client is served, and the server holds every idle connection:
  // none had to go to make room.
  auto res = server.client().request("GET", "/v1/status");
  ASSERT_TRUE(res) << res.error().message;
  ASSERT_EQ(res->status, 200U);
  EXPECT_GE(json::parse(res->body).at("process").at("open_fds").as_int64(),
            static_cast<std::int64_t>(kIdle));
  EXPECT_EQ(get_status(port), 200U);
  // The kept-alive ones still answer.
  for (std::size_t i : {1U, 2501U, 4999U}) {
    ASSERT_TRUE(idle[i].send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    auto answer = idle[i].read_response();
    ASSERT_TRUE(answer) << "connection " << i;
    EXPECT_EQ(answer->status, 200U);
  }
}

// A request head begun and not finished: the connection has a request in
// progress (until the default 10 s head timeout).
RawConnection busy_connection(int port) {
  RawConnection c(port);
  EXPECT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  return c;
}

RawConnection idle_connection(int port) {
  RawConnection c(port);
  EXPECT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto answer = c.read_response();
  EXPECT_TRUE(answer && answer->status == 200U);
  return c;
}

// The server sees each connection's state a moment after the client acts;
// this is no assertion, only room for that.
void let_the_server_catch_up() {
  std::this_thread::sleep_for(500ms);
}

TEST(ConnectionLimit, TheOldestIdleConnectionMakesRoomNeverABusyOne) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker", "--max-connections", "4"});
  ASSERT_TRUE(server.start()) << server.log();
  const int port = port_of(server.url());
  auto busy1 = busy_connection(port);
  auto oldest = idle_connection(port);
  auto busy2 = busy_connection(port);
  let_the_server_catch_up();
  auto newer = idle_connection(port);
  let_the_server_catch_up();

  // At the limit: a new client is served; the oldest idle one made room.
  EXPECT_EQ(get_status(port), 200U);
  EXPECT_TRUE(oldest.closed_within());
  // The newer idle connection and the busy ones are still there.
  ASSERT_TRUE(newer.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto answer = newer.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200U);
  for (RawConnection* busy : {&busy1, &busy2}) {
    ASSERT_TRUE(busy->send("\r\n"));
    answer = busy->read_response();
    ASSERT_TRUE(answer) << "a busy connection was closed";
    EXPECT_EQ(answer->status, 200U);
  }
}

TEST(ConnectionLimit, WhenEveryConnectionIsBusyANewOneGets503) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker", "--max-connections", "3"});
  ASSERT_TRUE(server.start()) << server.log();
  const int port = port_of(server.url());
  std::vector<RawConnection> busy;
  for (int i = 0; i < 3; ++i) busy.push_back(busy_connection(port));
  let_the_server_catch_up();

  RawConnection refused(port);
  ASSERT_TRUE(refused.connected());
  (void)refused.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto answer = refused.read_response();
  ASSERT_TRUE(answer) << "no 503";
  EXPECT_EQ(answer->status, 503U) << answer->body;
  EXPECT_EQ(answer->header("content-type"), "application/problem+json");
  EXPECT_EQ(answer->header("connection"), "close");
  EXPECT_FALSE(answer->header("retry-after").empty());
  EXPECT_NE(answer->body.find("connections"), std::string::npos) << answer->body;
  EXPECT_TRUE(refused.closed_within());

  // The busy ones were not touched. Once one is idle again, it makes room.
  for (auto& c : busy) {
    ASSERT_TRUE(c.send("\r\n"));
    auto done = c.read_response();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, 200U);
  }
  let_the_server_catch_up();
  EXPECT_EQ(get_status(port), 200U);
}

// --- token guessing ----------------------------------------------------------

// `method target` with `token` (none when empty) from a loopback `source`
// address; the status, 0 for none.
Answer from(int port, const char* source, const std::string& method, const std::string& target,
            const std::string& token) {
  RawConnection c(port, source);
  EXPECT_TRUE(c.connected()) << "cannot connect from " << source;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "Content-Length: 0\r\nConnection: close\r\n\r\n";
  (void)c.send(request);
  return c.read_response().value_or(Answer{});
}

TEST(TokenGuessing, WrongTokensLockTheirAddressOutOfManagementRoutes) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", {"--no-docker", "--token", "s3cret"});
  ASSERT_TRUE(server.start()) << server.log();
  const int port = port_of(server.url());
  const char* guesser = "127.0.0.1";
  const char* neighbour = "127.0.0.2";
  const char* forgetful = "127.0.0.3";

  for (int i = 0; i < 10; ++i) {
    auto guess = from(port, guesser, "DELETE", "/v1/functions/f", "guess-" + std::to_string(i));
    ASSERT_EQ(guess.status, 401U) << "guess " << i;
  }
  // Locked out, even with the right token.
  auto locked = from(port, guesser, "DELETE", "/v1/functions/f", "s3cret");
  EXPECT_EQ(locked.status, 429U) << locked.body;
  EXPECT_EQ(locked.header("content-type"), "application/problem+json");
  const int retry_after = std::stoi(locked.header("retry-after").empty()
                                        ? std::string("0")
                                        : locked.header("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  EXPECT_EQ(from(port, guesser, "PUT", "/v1/functions/f", "wrong").status, 429U);
  // Reads and invocations never needed the token and are not affected.
  EXPECT_EQ(from(port, guesser, "GET", "/v1/functions", "").status, 200U);
  // Another address with the right token is not affected, and one wrong
  // token of its own does not lock it.
  EXPECT_EQ(from(port, neighbour, "DELETE", "/v1/functions/f", "wrong").status, 401U);
  EXPECT_EQ(from(port, neighbour, "DELETE", "/v1/functions/f", "s3cret").status, 404U);
  // Requests without a token are refused but are no guesses.
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(from(port, forgetful, "DELETE", "/v1/functions/f", "").status, 401U);
  }
  EXPECT_EQ(from(port, forgetful, "DELETE", "/v1/functions/f", "s3cret").status, 404U);
  EXPECT_NE(server.log().find("127.0.0.1 sent 10 wrong tokens"), std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace nebula::testing
