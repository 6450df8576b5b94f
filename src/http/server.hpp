#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
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
// read: the route, and how large a body that route accepts.
struct Dispatch {
  std::uint64_t body_limit = 0;
  RouteMatch match;
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
  // The client is gone: stop producing.
  virtual void cancel() = 0;
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
  // Time allowed to receive a whole request once its first byte arrived,
  // and to send a response.
  std::chrono::seconds io_timeout{30};
  // An idle keep-alive connection is closed after this long.
  std::chrono::seconds idle_timeout{60};
  std::size_t max_header_bytes = 16 * 1024;
  // Sent as X-Nebula-Node on every response (when not empty), so that a
  // client behind a load balancer sees which node answered.
  std::string node;
};

// HTTP/1.1 server on Boost.Beast with C++20 coroutines: one coroutine per
// connection on its own strand, keep-alive, a timeout on every operation.
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
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection);
  asio::awaitable<void> linger(Connection& connection);
  // Writes a streamed body after its head; false when the connection must
  // close (a write failed or the body was aborted).
  asio::awaitable<bool> stream_body(Connection& connection, BodyStream& body);

  asio::io_context& ioc_;
  ServerOptions options_;
  Handler& handler_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;                                                 // guarded by mutex_
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;  // guarded by mutex_
};

}  // namespace nebula::http
