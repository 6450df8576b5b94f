#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/result.hpp"
#include "http/router.hpp"

namespace nebula::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using RequestHeader = beast::http::request_header<>;

// What the application decided from a request's header, before its body is
// read: the route, and how large a body that route accepts. The server adds
// where the request came from before it hands the dispatch back.
struct Dispatch {
  std::uint64_t body_limit = 0;
  RouteMatch match;
  // The client's address and port (the connection's peer), set by the
  // server; unspecified when a dispatch did not come through a server.
  asio::ip::tcp::endpoint remote;
};

// A response body produced while it is sent (an HTTP function's). The
// server writes the head with chunked transfer coding, then each piece as it
// comes, then the last chunk with the trailer fields. next() is awaited on
// the connection's executor.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  struct Piece {
    enum class Kind { kData, kEnd, kAbort };
    Kind kind = Kind::kEnd;
    std::string data;                                      // kData
    std::vector<std::pair<std::string, std::string>> trailer;  // kEnd
  };
  // The next piece. kAbort: the body cannot be completed (the function
  // failed after its response had started): the connection is cut.
  virtual asio::awaitable<Piece> next() = 0;
  // The client is gone (or the server stops, for an endless body): stop
  // producing; next() then ends the body.
  virtual void cancel() = 0;
  // A body that never ends by itself (an event stream): the server ends it
  // when it stops rather than waiting for it.
  [[nodiscard]] virtual bool endless() const noexcept { return false; }
};

// What a handler answers: a whole response, or a head whose body streams.
struct Reply {
  Reply(Response r) : response(std::move(r)) {}  // NOLINT: a whole response is a reply
  Reply(Response head, std::shared_ptr<BodyStream> body)
      : response(std::move(head)), stream(std::move(body)) {}
  Response response;
  std::shared_ptr<BodyStream> stream;  // set: `response` is the head only
};

// What the server asks of the application. The route is chosen once, from
// the header; the server enforces its body limit while reading (a larger
// body gets 413 without being read) and hands the same dispatch back.
class Handler {
 public:
  virtual ~Handler() = default;
  [[nodiscard]] virtual Dispatch dispatch(const RequestHeader& header) const = 0;
  // Runs on an I/O thread: must not block (offload to a worker pool).
  // `request` and `dispatch` outlive the returned awaitable (the caller
  // awaits it).
  virtual asio::awaitable<Reply> handle(Request& request, const Dispatch& dispatch) = 0;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  // Time allowed to receive a request's head once its first byte arrived: a
  // client that trickles it (slowloris) gets 408 and is closed. At most
  // io_timeout.
  std::chrono::seconds header_timeout{10};
  // Time allowed to receive a whole request once its first byte arrived
  // (over it: 408 and closed), and to send a response.
  std::chrono::seconds io_timeout{30};
  // An idle keep-alive connection is closed after this long.
  std::chrono::seconds idle_timeout{60};
  // Request line and header fields together; over it: 431 and closed.
  std::size_t max_header_bytes = 16 * 1024;
  // Client connections open at once. At the limit a new connection makes
  // room by closing the one that has been idle the longest (never one with
  // a request in progress); when every connection is busy it gets 503 and
  // is closed.
  std::size_t max_connections = 10'000;
  // Sent as X-Nebula-Node on every response (when not empty), so that a
  // client behind a load balancer sees which node answered.
  std::string node;
};

// HTTP/1.1 server on Boost.Beast with C++20 coroutines: one coroutine per
// connection on its own strand, keep-alive, a timeout on every operation.
// A client holds no thread while it is slow or idle, only its coroutine;
// what it can hold at all is bounded by the options above. Requests whose
// framing is ambiguous (request smuggling shapes, see http/framing.hpp) get
// 400 and the connection closes.
//
// Lifetime: create, listen(), start(); stop() stops accepting, closes idle
// connections at once and lets busy ones finish their current request.
// When the last connection is gone the io_context runs out of work.
class Server {
 public:
  Server(asio::io_context& ioc, ServerOptions options, Handler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 picks a free one).
  [[nodiscard]] Result<asio::ip::tcp::endpoint> listen();
  void start();
  // Thread-safe; idempotent.
  void stop();

  [[nodiscard]] std::size_t open_connections() const;

 private:
  struct Connection;
  asio::awaitable<void> accept_loop();
  // Registers a new connection, making room at the limit by closing the
  // one idle the longest; false when every connection is busy.
  [[nodiscard]] bool admit(const std::shared_ptr<Connection>& connection);
  // Takes the connection idle the longest off the idle list and has it
  // closed on its strand; false when none is idle.
  bool close_oldest_idle();
  std::shared_ptr<Connection> take_oldest_idle();  // mutex_ held
  void set_idle(const std::shared_ptr<Connection>& connection, bool idle);
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection);
  // 503 to a connection over the limit, then closed.
  asio::awaitable<void> turn_away(std::shared_ptr<Connection> connection);
  // Reads until `buffer` holds a whole request head; `length` is its length
  // then, 0 when more than max_header_bytes came without its end.
  asio::awaitable<boost::system::error_code> read_head(Connection& connection,
                                                       beast::flat_buffer& buffer,
                                                       std::size_t& length);
  // Sends a response the server makes on its own (`response` has
  // Connection: close), then closes gently: see linger().
  asio::awaitable<void> send_and_close(Connection& connection, Response& response);
  asio::awaitable<void> linger(Connection& connection);
  // True at most once a minute: warnings a flood would repeat are rate-limited.
  bool time_to_warn();
  // Writes a streamed body after its head; false when the connection must
  // close (a write failed or the body was aborted).
  asio::awaitable<bool> stream_body(Connection& connection, BodyStream& body);

  asio::io_context& ioc_;
  ServerOptions options_;
  Handler& handler_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  // Connections being sent a 503 for the limit; beyond a few the rest are
  // closed without one, so that refusing cannot itself hold many sockets.
  std::atomic<std::size_t> turning_away_{0};
  // When the last warning about the limit or about descriptors was logged
  // (steady clock, seconds): at most one a minute.
  std::atomic<std::int64_t> last_warning_s_{-3600};
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;                                                 // guarded by mutex_
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;  // guarded by mutex_
  // Idle connections by the order they became idle, oldest first; the key
  // is a ticket from next_ticket_. Guarded by mutex_.
  std::map<std::uint64_t, std::weak_ptr<Connection>> idle_;
  std::uint64_t next_ticket_ = 0;  // guarded by mutex_
};

}  // namespace nebula::http
