#include "http/server.hpp"

#include <array>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>

#include "http/problem.hpp"

namespace nebula::http {

namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Server::Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // True while waiting for the next request; only touched on the strand.
  bool idle = false;
  std::uint64_t id = 0;
};

namespace {

// A problem response the server sends on its own (before any handler ran),
// after which the connection closes.
Response closing_problem(http::status status, std::string_view title, std::string_view detail,
                         unsigned version, const std::string& node) {
  Response res = problem(status, title, detail);
  res.version(version);
  res.keep_alive(false);
  res.set(http::field::server, "nebula");
  if (!node.empty()) res.set("X-Nebula-Node", node);
  res.prepare_payload();
  return res;
}

}  // namespace

Server::Server(asio::io_context& ioc, ServerOptions options, Handler& handler)
    : ioc_(ioc),
      options_(std::move(options)),
      handler_(handler),
      acceptor_(asio::make_strand(ioc)) {}

Server::~Server() {
  stop();
}

Result<tcp::endpoint> Server::listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.address, ec);
  if (ec) {
    return make_error(ErrorKind::kInvalidArgument,
                      "invalid listen address '" + options_.address + "': " + ec.message());
  }
  tcp::endpoint endpoint(address, options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return make_error(ErrorKind::kUnavailable, "cannot open socket: " + ec.message());
  }
  (void)acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return make_error(ErrorKind::kUnavailable, "cannot listen on " + options_.address + ":" +
                                                   std::to_string(options_.port) + ": " +
                                                   ec.message());
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return make_error(ErrorKind::kUnavailable, "listen failed: " + ec.message());
  }
  return acceptor_.local_endpoint();
}

void Server::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    (void)acceptor_.close(ec);
  });
  std::lock_guard lock(mutex_);
  for (auto& [id, weak] : connections_) {
    if (auto conn = weak.lock()) {
      // On the connection's strand: an idle connection is closed now; a
      // busy one sees stopping_ once its response is written.
      asio::post(conn->stream.get_executor(), [conn] {
        if (conn->idle) conn->stream.socket().cancel();
      });
    }
  }
}

std::size_t Server::open_connections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc_));
    auto [ec] = co_await acceptor_.async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      continue;  // e.g. EMFILE: drop this one, keep serving
    }
    if (stopping_) co_return;
    // A streamed response goes out as a head and then chunks: without
    // TCP_NODELAY each small write after the first waits for the client's
    // delayed ACK (40 ms on Linux).
    boost::system::error_code nodelay_ec;
    (void)socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mutex_);
      conn->id = next_id_++;
      connections_.emplace(conn->id, conn);
    }
    auto executor = conn->stream.get_executor();
    asio::co_spawn(executor, serve(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> Server::linger(Connection& conn) {
  constexpr std::size_t kMaxDrainBytes = 64ULL << 20;
  std::array<char, 64 * 1024> scratch;
  std::size_t drained = 0;
  conn.stream.expires_after(std::chrono::seconds(2));
  while (drained < kMaxDrainBytes) {
    auto [ec, n] = co_await conn.stream.async_read_some(asio::buffer(scratch),
                                                        asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    drained += n;
  }
}

asio::awaitable<bool> Server::stream_body(Connection& conn, BodyStream& body) {
  for (;;) {
    BodyStream::Piece piece = co_await body.next();
    boost::system::error_code ec;
    conn.stream.expires_after(options_.io_timeout);
    switch (piece.kind) {
      case BodyStream::Piece::Kind::kData:
        if (piece.data.empty()) continue;  // an empty chunk would end the body
        std::tie(ec, std::ignore) =
            co_await asio::async_write(conn.stream, http::make_chunk(asio::buffer(piece.data)),
                                       asio::as_tuple(asio::use_awaitable));
        if (ec) co_return false;
        break;
      case BodyStream::Piece::Kind::kEnd: {
        http::fields trailer;
        for (const auto& [name, value] : piece.trailer) trailer.set(name, value);
        std::tie(ec, std::ignore) = co_await asio::async_write(
            conn.stream, http::make_chunk_last(trailer), asio::as_tuple(asio::use_awaitable));
        co_return !ec;
      }
      case BodyStream::Piece::Kind::kAbort: co_return false;
    }
  }
}

asio::awaitable<void> Server::serve(std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    if (stopping_) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // Beast checks Content-Length against the body limit (1 MB by default)
    // as soon as the header is parsed; the real, per-route limit is set
    // below, once the route is known.
    parser.body_limit(boost::none);
    conn->idle = true;
    conn->stream.expires_after(options_.idle_timeout);
    std::tie(ec, std::ignore) = co_await http::async_read_header(
        conn->stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    conn->idle = false;
    if (ec) {
      // End of stream, idle timeout, stop() or a malformed header.
      if (ec == http::error::header_limit) {
        auto res =
            closing_problem(http::status::request_header_fields_too_large,
                            "Request header too large", "headers exceed 16 KiB", 11, options_.node);
        conn->stream.expires_after(options_.io_timeout);
        co_await http::async_write(conn->stream, res, asio::as_tuple(asio::use_awaitable));
      } else if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
                 ec != beast::error::timeout && ec != asio::error::connection_reset) {
        auto res = closing_problem(http::status::bad_request, "Bad request",
                                   "malformed HTTP request: " + ec.message(), 11, options_.node);
        conn->stream.expires_after(options_.io_timeout);
        co_await http::async_write(conn->stream, res, asio::as_tuple(asio::use_awaitable));
      }
      break;
    }
    const auto version = parser.get().version();
    const Dispatch dispatch = handler_.dispatch(parser.get().base());
    const std::uint64_t limit = dispatch.body_limit;
    if (auto length = parser.content_length(); length && *length > limit) {
      auto res =
          closing_problem(http::status::payload_too_large, "Payload too large",
                          "request body of " + std::to_string(*length) +
                              " bytes exceeds the limit of " + std::to_string(limit) + " bytes",
                          version, options_.node);
      conn->stream.expires_after(options_.io_timeout);
      co_await http::async_write(conn->stream, res, asio::as_tuple(asio::use_awaitable));
      // The unread body makes the connection unusable. Closing at once
      // would reset it while the client is still sending, and the client
      // would never see the 413: stop sending, then read and drop what
      // still arrives for a little while (a lingering close).
      conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_await linger(*conn);
      break;
    }
    parser.body_limit(limit);
    conn->stream.expires_after(options_.io_timeout);
    // A client that asked to wait (curl does for bodies over 1 MiB) gets
    // the go-ahead now that the header is accepted, instead of a stall.
    if (auto expect = parser.get().find(http::field::expect);
        expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      std::tie(ec, std::ignore) =
          co_await http::async_write(conn->stream, go_on, asio::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
    std::tie(ec, std::ignore) = co_await http::async_read(conn->stream, buffer, parser,
                                                          asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == http::error::body_limit) {
        auto res =
            closing_problem(http::status::payload_too_large, "Payload too large",
                            "request body exceeds the limit of " + std::to_string(limit) + " bytes",
                            version, options_.node);
        co_await http::async_write(conn->stream, res, asio::as_tuple(asio::use_awaitable));
      }
      break;
    }
    Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    const bool head = request.method() == http::verb::head;
    Reply reply = co_await handler_.handle(request, dispatch);
    Response& response = reply.response;
    response.version(version);
    response.keep_alive(keep_alive && !stopping_);
    response.set(http::field::server, "nebula");
    if (!options_.node.empty()) response.set("X-Nebula-Node", options_.node);
    conn->stream.expires_after(options_.io_timeout);
    if (reply.stream) {
      // The head now, with chunked transfer coding; the body as it comes.
      response.body().clear();
      response.chunked(true);
      http::response_serializer<http::string_body> serializer(response);
      std::tie(ec, std::ignore) = co_await http::async_write_header(
          conn->stream, serializer, asio::as_tuple(asio::use_awaitable));
      const bool completed = !ec && !head && co_await stream_body(*conn, *reply.stream);
      if (!completed) {
        // A HEAD answered, a client gone, or a body that failed midway:
        // stop the function's output; unless HEAD, the connection is cut.
        reply.stream->cancel();
        if (!head || ec) break;
      }
      if (!response.keep_alive()) break;
      continue;
    }
    response.prepare_payload();
    if (head) {
      // The GET response's header, Content-Length included, and no body:
      // on a kept-alive connection a body here would be read as the next
      // response.
      http::response_serializer<http::string_body> serializer(response);
      std::tie(ec, std::ignore) = co_await http::async_write_header(
          conn->stream, serializer, asio::as_tuple(asio::use_awaitable));
    } else {
      std::tie(ec, std::ignore) =
          co_await http::async_write(conn->stream, response, asio::as_tuple(asio::use_awaitable));
    }
    if (ec || !response.keep_alive()) break;
  }
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  conn->stream.close();
  std::lock_guard lock(mutex_);
  connections_.erase(conn->id);
}

}  // namespace nebula::http
