#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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
#include <spdlog/spdlog.h>

#include "http/framing.hpp"
#include "http/problem.hpp"

namespace nebula::http {

namespace http = beast::http;
using tcp = asio::ip::tcp;

using Clock = std::chrono::steady_clock;

struct Server::Connection : std::enable_shared_from_this<Connection> {
  explicit Connection(tcp::socket socket)
      : stream(std::move(socket)), deadline(stream.get_executor()) {}

  // Bounds the read in progress (the wait for a request, its head, its
  // body): once `when` passes, the read is cancelled and fails with
  // operation_aborted, and deadline_passed says why. Unlike the stream's own
  // timeout, which closes the socket, this leaves the connection open for a
  // 408. Strand only.
  void arm(Clock::time_point when) {
    const std::uint64_t generation = ++deadline_generation;
    deadline_passed = false;
    deadline.expires_at(when);
    deadline.async_wait([weak = weak_from_this(), generation](const boost::system::error_code& ec) {
      auto self = weak.lock();
      // A wait that was cancelled, or that fired while its read was
      // completing and was disarmed since, must not cut a later read.
      if (ec || !self || self->deadline_generation != generation) return;
      self->deadline_passed = true;
      boost::system::error_code ignored;
      (void)self->stream.socket().cancel(ignored);
    });
  }
  void disarm() {
    ++deadline_generation;
    deadline.cancel();
  }

  beast::tcp_stream stream;
  asio::steady_timer deadline;
  std::uint64_t deadline_generation = 0;  // strand only
  bool deadline_passed = false;           // strand only
  // True while waiting for the first byte of the next request; strand only.
  bool idle = false;
  // A body that only ends when told (a live log), while it streams; the
  // server ends it when it stops. Strand only.
  std::shared_ptr<BodyStream> endless;
  std::uint64_t id = 0;
  std::uint64_t idle_ticket = 0;  // guarded by Server::mutex_; 0: not in idle_
  tcp::endpoint remote;
};

namespace {

// Bytes asked of the socket at a time while a head arrives.
constexpr std::size_t kHeadReadBytes = 4096;
// Connections sent a 503 at once for the connection limit (see turn_away).
constexpr std::size_t kMaxTurningAway = 64;

// A problem response the server sends on its own (before any handler ran),
// after which the connection closes.
Response closing_problem(http::status status, std::string_view title, std::string_view detail,
                         unsigned version, const std::string& node) {
  Response res = problem(status, title, detail);
  res.version(version);
  // Said even to an HTTP/1.0 client, for which closing is the default.
  res.keep_alive(false);
  res.set(http::field::connection, "close");
  res.set(http::field::server, "nebula");
  if (!node.empty()) res.set("X-Nebula-Node", node);
  res.prepare_payload();
  return res;
}

// The client sent something malformed: Beast's parse errors (the server's
// own reads end in end of stream, a reset, or a cancelled operation).
bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more;
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
        boost::system::error_code ignored;
        if (conn->idle) (void)conn->stream.socket().cancel(ignored);
        if (conn->endless) conn->endless->cancel();
      });
    }
  }
}

std::size_t Server::open_connections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

bool Server::time_to_warn() {
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
  std::int64_t last = last_warning_s_.load();
  return now_s - last >= 60 && last_warning_s_.compare_exchange_strong(last, now_s);
}

asio::awaitable<void> Server::accept_loop() {
  asio::steady_timer pause(acceptor_.get_executor());
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc_));
    auto [ec] = co_await acceptor_.async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) co_return;
      if (ec == asio::error::no_descriptors ||
          ec == boost::system::errc::too_many_files_open_in_system) {
        // Out of descriptors: the connection waits in the backlog. Free one
        // (the connection idle the longest) and let it close, rather than
        // retrying at once, which would spin.
        const bool freed = close_oldest_idle();
        if (time_to_warn()) {
          spdlog::warn("out of file descriptors at {} connections ({}): {}; raise the open file "
                       "limit (ulimit -n) or lower --max-connections",
                       open_connections(), freed ? "closed an idle one" : "none idle",
                       ec.message());
        }
        pause.expires_after(std::chrono::milliseconds(50));
        std::tie(ec) = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    if (stopping_) co_return;
    // A streamed response goes out as a head and then chunks: without
    // TCP_NODELAY each small write after the first waits for the client's
    // delayed ACK (40 ms on Linux).
    boost::system::error_code option_ec;
    (void)socket.set_option(tcp::no_delay(true), option_ec);
    const tcp::endpoint remote = socket.remote_endpoint(option_ec);
    auto conn = std::make_shared<Connection>(std::move(socket));
    conn->remote = remote;
    auto executor = conn->stream.get_executor();
    if (!admit(conn)) {
      if (time_to_warn()) {
        spdlog::warn("connection limit: all {} connections have a request in progress; new "
                     "ones get 503 (--max-connections)",
                     options_.max_connections);
      }
      // Beyond a few refusals in flight, the socket just closes here.
      if (turning_away_.fetch_add(1) < kMaxTurningAway) {
        asio::co_spawn(executor, turn_away(std::move(conn)), asio::detached);
      } else {
        --turning_away_;
      }
      continue;
    }
    asio::co_spawn(executor, serve(std::move(conn)), asio::detached);
  }
}

bool Server::admit(const std::shared_ptr<Connection>& conn) {
  std::shared_ptr<Connection> room;
  {
    std::lock_guard lock(mutex_);
    if (connections_.size() >= options_.max_connections) {
      room = take_oldest_idle();
      if (!room) return false;
    }
    conn->id = next_id_++;
    connections_.emplace(conn->id, conn);
  }
  if (room) {
    // On its strand, and only if it is still idle: a request that started
    // meanwhile is served, and the server is over its limit by one until a
    // connection closes.
    asio::post(room->stream.get_executor(), [room] {
      boost::system::error_code ignored;
      if (room->idle) (void)room->stream.socket().cancel(ignored);
    });
  }
  return true;
}

bool Server::close_oldest_idle() {
  std::shared_ptr<Connection> oldest;
  {
    std::lock_guard lock(mutex_);
    oldest = take_oldest_idle();
  }
  if (!oldest) return false;
  asio::post(oldest->stream.get_executor(), [oldest] {
    boost::system::error_code ignored;
    if (oldest->idle) (void)oldest->stream.socket().cancel(ignored);
  });
  return true;
}

std::shared_ptr<Server::Connection> Server::take_oldest_idle() {
  while (!idle_.empty()) {
    auto it = idle_.begin();
    auto conn = it->second.lock();
    idle_.erase(it);
    if (conn) {
      conn->idle_ticket = 0;
      return conn;
    }
  }
  return nullptr;
}

void Server::set_idle(const std::shared_ptr<Connection>& conn, bool idle) {
  conn->idle = idle;
  std::lock_guard lock(mutex_);
  if (idle) {
    conn->idle_ticket = ++next_ticket_;
    idle_.emplace(conn->idle_ticket, conn);
  } else if (conn->idle_ticket != 0) {
    idle_.erase(conn->idle_ticket);
    conn->idle_ticket = 0;
  }
}

asio::awaitable<void> Server::turn_away(std::shared_ptr<Connection> conn) {
  // Answered before the request is read (it may not have arrived): the
  // lingering close then reads and drops it, so the client sees the 503
  // rather than a reset.
  auto res = closing_problem(
      http::status::service_unavailable, "Service unavailable",
      "the server holds its limit of " + std::to_string(options_.max_connections) +
          " connections and every one has a request in progress; retry in a moment",
      11, options_.node);
  res.set(http::field::retry_after, "1");
  co_await send_and_close(*conn, res);
  conn->stream.close();
  --turning_away_;
}

asio::awaitable<boost::system::error_code> Server::read_head(Connection& conn,
                                                             beast::flat_buffer& buffer,
                                                             std::size_t& length) {
  std::size_t searched = 0;
  for (;;) {
    const std::string_view bytes(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (auto end = head_length(bytes, searched)) {
      length = *end <= options_.max_header_bytes ? *end : 0;
      co_return boost::system::error_code{};
    }
    if (bytes.size() > options_.max_header_bytes) {
      length = 0;
      co_return boost::system::error_code{};
    }
    searched = bytes.size();
    const auto space = buffer.prepare(kHeadReadBytes);
    auto [ec, n] =
        co_await conn.stream.async_read_some(space, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

asio::awaitable<void> Server::send_and_close(Connection& conn, Response& res) {
  conn.stream.expires_after(options_.io_timeout);
  auto [ec, n] = co_await http::async_write(conn.stream, res, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  // Closing at once would reset the connection while the client may still
  // be sending, and it might never read the response: stop sending, then
  // read and drop what still arrives for a little while (a lingering
  // close).
  conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  co_await linger(conn);
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
  // Reads are bounded by the connection's deadline (which allows a 408);
  // writes by the stream's own timeout, set before each.
  for (;;) {
    if (stopping_) break;
    conn->stream.expires_never();
    // Bytes already waiting (a client that sent its next request at once)
    // need no wait.
    if (buffer.size() == 0 && conn->stream.socket().available(ec) == 0) {
      // Idle: wait for the first byte of the next request, holding no
      // buffer meanwhile. Ends in an error on the idle timeout, on stop()
      // and when the connection is closed to make room for a new one.
      buffer.shrink_to_fit();
      set_idle(conn, true);
      conn->arm(Clock::now() + options_.idle_timeout);
      std::tie(ec) = co_await conn->stream.socket().async_wait(tcp::socket::wait_read,
                                                               asio::as_tuple(asio::use_awaitable));
      conn->disarm();
      set_idle(conn, false);
      if (ec) break;
    }
    // From its first byte a request has header_timeout for its head and
    // io_timeout for the whole of it.
    const auto started = Clock::now();
    const auto request_deadline = started + options_.io_timeout;
    conn->arm(std::min(started + options_.header_timeout, request_deadline));
    std::size_t head_size = 0;
    ec = co_await read_head(*conn, buffer, head_size);
    if (ec) {
      conn->disarm();
      // 408 to a client too slow with its head (a response is still
      // possible: it is waiting for one); a client gone, closed.
      if (ec == asio::error::operation_aborted && conn->deadline_passed) {
        auto res = closing_problem(http::status::request_timeout, "Request timeout",
                                   "the request head did not arrive within " +
                                       std::to_string(options_.header_timeout.count()) +
                                       " s of its first byte",
                                   11, options_.node);
        co_await send_and_close(*conn, res);
      }
      break;
    }
    if (head_size == 0) {
      conn->disarm();
      auto res = closing_problem(http::status::request_header_fields_too_large,
                                 "Request header fields too large",
                                 "the request line and header fields exceed " +
                                     std::to_string(options_.max_header_bytes) +
                                     " bytes in all; send fewer or shorter fields",
                                 11, options_.node);
      co_await send_and_close(*conn, res);
      break;
    }
    const std::string_view head(static_cast<const char*>(buffer.data().data()), head_size);
    if (auto wrong = head_bytes_problem(head)) {
      conn->disarm();
      auto res = closing_problem(http::status::bad_request, "Bad request",
                                 "malformed HTTP request: " + *wrong, 11, options_.node);
      co_await send_and_close(*conn, res);
      break;
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    // Beast checks Content-Length against the body limit (1 MB by default)
    // as soon as the header is parsed; the real, per-route limit is set
    // below, once the route is known.
    parser.body_limit(boost::none);
    // The whole head is in the buffer: this parses it without reading.
    std::tie(ec, std::ignore) = co_await http::async_read_header(
        conn->stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      conn->disarm();
      if (ec == http::error::header_limit) {
        auto res = closing_problem(http::status::request_header_fields_too_large,
                                   "Request header fields too large",
                                   "the request line and header fields exceed " +
                                       std::to_string(options_.max_header_bytes) + " bytes in all",
                                   11, options_.node);
        co_await send_and_close(*conn, res);
      } else if (is_parse_error(ec)) {
        // Among them: Content-Length with Transfer-Encoding: chunked, two
        // different Content-Length values, a repeated `chunked`.
        auto res = closing_problem(http::status::bad_request, "Bad request",
                                   "malformed HTTP request: " + ec.message(), 11, options_.node);
        co_await send_and_close(*conn, res);
      }
      break;
    }
    const auto version = parser.get().version();
    if (auto wrong = framing_problem(parser.get().base())) {
      conn->disarm();
      auto res = closing_problem(http::status::bad_request, "Bad request",
                                 "ambiguous request framing: " + *wrong, version, options_.node);
      co_await send_and_close(*conn, res);
      break;
    }
    Dispatch dispatch = handler_.dispatch(parser.get().base());
    dispatch.remote = conn->remote;
    const std::uint64_t limit = dispatch.body_limit;
    if (auto length = parser.content_length(); length && *length > limit) {
      conn->disarm();
      auto res =
          closing_problem(http::status::payload_too_large, "Payload too large",
                          "request body of " + std::to_string(*length) +
                              " bytes exceeds the limit of " + std::to_string(limit) + " bytes",
                          version, options_.node);
      // The unread body makes the connection unusable.
      co_await send_and_close(*conn, res);
      break;
    }
    parser.body_limit(limit);
    conn->arm(request_deadline);
    // A client that asked to wait (curl does for bodies over 1 MiB) gets
    // the go-ahead now that the header is accepted, instead of a stall.
    if (auto expect = parser.get().find(http::field::expect);
        expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      conn->stream.expires_after(options_.io_timeout);
      std::tie(ec, std::ignore) =
          co_await http::async_write(conn->stream, go_on, asio::as_tuple(asio::use_awaitable));
      conn->stream.expires_never();
      if (ec) break;
    }
    std::tie(ec, std::ignore) = co_await http::async_read(conn->stream, buffer, parser,
                                                          asio::as_tuple(asio::use_awaitable));
    conn->disarm();
    if (ec) {
      if (ec == http::error::body_limit) {
        auto res =
            closing_problem(http::status::payload_too_large, "Payload too large",
                            "request body exceeds the limit of " + std::to_string(limit) + " bytes",
                            version, options_.node);
        co_await send_and_close(*conn, res);
      } else if (ec == asio::error::operation_aborted && conn->deadline_passed) {
        auto res = closing_problem(http::status::request_timeout, "Request timeout",
                                   "the request did not arrive within " +
                                       std::to_string(options_.io_timeout.count()) +
                                       " s of its first byte",
                                   version, options_.node);
        co_await send_and_close(*conn, res);
      } else if (is_parse_error(ec)) {
        // A malformed chunked body: a chunk size that is not hexadecimal,
        // signed, padded or too large, or a chunk longer than it said.
        auto res = closing_problem(http::status::bad_request, "Bad request",
                                   "malformed request body: " + ec.message(), version,
                                   options_.node);
        co_await send_and_close(*conn, res);
      }
      break;
    }
    Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    const bool head_method = request.method() == http::verb::head;
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
      if (reply.stream->endless()) {
        conn->endless = reply.stream;
        // Stopping began while the head was written: end the stream at once.
        if (stopping_) reply.stream->cancel();
      }
      const bool completed = !ec && !head_method && co_await stream_body(*conn, *reply.stream);
      conn->endless.reset();
      if (!completed) {
        // A HEAD answered, a client gone, or a body that failed midway:
        // stop the function's output; unless HEAD, the connection is cut.
        reply.stream->cancel();
        if (!head_method || ec) break;
      }
      if (!response.keep_alive()) break;
      continue;
    }
    response.prepare_payload();
    if (head_method) {
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
  conn->disarm();
  set_idle(conn, false);
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  conn->stream.close();
  std::lock_guard lock(mutex_);
  connections_.erase(conn->id);
}

}  // namespace nebula::http
