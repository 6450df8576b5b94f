#include "docker/client.hpp"

#include <array>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace nebula::docker {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

// Generous: `GET /containers/json` on a busy engine is the largest answer.
constexpr std::uint64_t kMaxResponseBytes = 64ULL * 1024 * 1024;

// Runs `ioc` until `done` is set by a completion handler or the deadline
// passes. False on the deadline (or if the work ran out without `done`,
// which would be a bug in the caller's handler).
bool run_until(asio::io_context& ioc, const bool& done, Clock::time_point deadline) {
  ioc.restart();
  while (!done) {
    if (ioc.run_one_until(deadline) == 0) return done;
  }
  return true;
}

// After a missed deadline: closing the socket cancels its operations; their
// handlers (which reference the caller's stack) must run before it returns.
void abandon(asio::io_context& ioc, local::socket& socket) {
  error_code ignored;
  socket.close(ignored);
  ioc.restart();
  ioc.run();
}

std::string describe(std::string_view method, std::string_view target) {
  return std::string(method) + " " + std::string(target);
}

Error unreachable(const std::string& socket_path, const error_code& ec) {
  return make_error(ErrorKind::kUnavailable,
                    "cannot reach the Docker engine at " + socket_path + " (" + ec.message() +
                        "); start one with scripts/ensure-docker.sh or pass --no-docker");
}

Error deadline_passed(std::string_view what) {
  return make_error(ErrorKind::kTimeout,
                    "the Docker engine did not answer " + std::string(what) + " in time");
}

Error engine_refused(std::string_view what, const Client::Response& response) {
  return make_error(ErrorKind::kInternal, "the Docker engine refused " + std::string(what) +
                                              " (HTTP " + std::to_string(response.status) +
                                              "): " + engine_error_message(response.body));
}

// Connects a socket with a deadline.
Status connect(asio::io_context& ioc, local::socket& socket, const std::string& path,
               Clock::time_point deadline) {
  bool done = false;
  error_code ec;
  socket.async_connect(local::endpoint(path), [&done, &ec](error_code e) {
    ec = e;
    done = true;
  });
  if (!run_until(ioc, done, deadline)) {
    abandon(ioc, socket);
    return deadline_passed("a connection");
  }
  if (ec) return unreachable(path, ec);
  return {};
}

http::request<http::string_body> make_request(std::string_view method, const std::string& target,
                                              std::string body) {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  // The engine ignores Host on its unix socket, but HTTP/1.1 requires one.
  request.set(http::field::host, "docker");
  request.set(http::field::user_agent, "nebula");
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace

// ---------------------------------------------------------------------------
// AttachedStream

struct AttachedStream::State {
  asio::io_context ioc;
  local::socket socket{ioc};
  std::string pending;  // stream bytes that arrived with the 101 response
  StreamDemuxer demux;
  std::vector<StreamChunk> chunks;
  std::array<char, 64 * 1024> buffer{};
  bool broken = false;  // EOF seen or an exchange abandoned
};

AttachedStream::AttachedStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
AttachedStream::AttachedStream(AttachedStream&&) noexcept = default;
AttachedStream& AttachedStream::operator=(AttachedStream&&) noexcept = default;
AttachedStream::~AttachedStream() {
  close();
}

void AttachedStream::close() noexcept {
  if (!state_) return;
  error_code ignored;
  state_->socket.close(ignored);
  state_->broken = true;
}

bool AttachedStream::looks_alive() const {
  if (!state_ || state_->broken || !state_->socket.is_open()) return false;
  pollfd fd{state_->socket.native_handle(), POLLRDHUP, 0};
  if (poll(&fd, 1, 0) < 0) return false;
  // POLLRDHUP: the engine shut down its side, which it does when the
  // container's output ends; POLLHUP/POLLERR: the connection is gone.
  return (fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0;
}

Result<AttachedStream::End> AttachedStream::exchange(std::string_view input, bool close_stdin,
                                                     const OutputSink& sink,
                                                     Clock::time_point deadline) {
  if (!state_ || state_->broken) {
    return make_error(ErrorKind::kInternal, "the container's attach stream is already closed");
  }
  State& s = *state_;

  bool write_done = input.empty();
  if (input.empty() && close_stdin) {
    error_code ignored;
    s.socket.shutdown(local::socket::shutdown_send, ignored);
  }
  if (!input.empty()) {
    asio::async_write(s.socket, asio::buffer(input.data(), input.size()),
                      [&write_done, &s, close_stdin](error_code ec, std::size_t) {
                        write_done = true;
                        // Broken pipe or reset: the program exited without
                        // reading everything, which is its right.
                        if (!ec && close_stdin) {
                          error_code ignored;
                          s.socket.shutdown(local::socket::shutdown_send, ignored);
                        }
                      });
  }

  bool read_done = false;
  bool stopped = false;
  error_code read_ec;
  Status malformed;
  // Hands every chunk of `bytes` to the sink; false when reading should stop.
  auto deliver = [&s, &sink, &stopped, &malformed](std::string_view bytes) {
    s.chunks.clear();
    malformed = s.demux.feed(bytes, s.chunks);
    for (const StreamChunk& chunk : s.chunks) {
      // Stdin frames never come back from the engine; ignore rather than
      // trust them.
      if (chunk.kind == StreamKind::kStdin) continue;
      if (!sink(chunk.kind, chunk.data)) stopped = true;
    }
    return malformed.has_value() && !stopped;
  };

  std::function<void()> read_more;
  read_more = [&s, &read_done, &read_ec, &deliver, &read_more]() {
    s.socket.async_read_some(asio::buffer(s.buffer), [&s, &read_done, &read_ec, &deliver,
                                                      &read_more](error_code ec, std::size_t n) {
      if (n > 0 && !deliver(std::string_view(s.buffer.data(), n))) {
        read_done = true;
        return;
      }
      if (ec) {
        read_ec = ec;
        read_done = true;
        return;
      }
      read_more();
    });
  };

  if (!s.pending.empty()) {
    const std::string pending = std::move(s.pending);
    s.pending.clear();
    if (!deliver(pending)) read_done = true;
  }
  if (!read_done) read_more();

  if (!run_until(s.ioc, read_done, deadline)) {
    abandon(s.ioc, s.socket);
    s.broken = true;
    return End::kDeadline;
  }
  if (!write_done) {
    // The output ended (or the caller stopped) before stdin was written:
    // the program no longer reads it. Cancel the write and let it finish.
    error_code ignored;
    s.socket.cancel(ignored);
    s.ioc.restart();
    s.ioc.run();
    s.broken = true;
  }
  if (!malformed) {
    s.broken = true;
    return std::move(malformed).error();
  }
  if (stopped) return End::kStopped;
  s.broken = true;
  if (read_ec == asio::error::eof || read_ec == asio::error::connection_reset ||
      read_ec == asio::error::broken_pipe) {
    return End::kEof;
  }
  return make_error(ErrorKind::kUnavailable,
                    "reading the container's attach stream failed: " + read_ec.message());
}

// ---------------------------------------------------------------------------
// Client

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Result<Client::Response> Client::call(std::string_view method, const std::string& target,
                                      std::string body, Clock::time_point deadline) {
  const std::string what = describe(method, target);
  asio::io_context ioc;
  local::socket socket(ioc);
  if (Status connected = connect(ioc, socket, options_.socket_path, deadline); !connected) {
    return std::move(connected).error();
  }

  auto request = make_request(method, target, std::move(body));
  bool done = false;
  error_code ec;
  http::async_write(socket, request, [&done, &ec](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(ioc, done, deadline)) {
    abandon(ioc, socket);
    return deadline_passed(what);
  }
  if (ec) return unreachable(options_.socket_path, ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  done = false;
  http::async_read(socket, buffer, parser, [&done, &ec](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(ioc, done, deadline)) {
    abandon(ioc, socket);
    return deadline_passed(what);
  }
  if (ec) {
    return make_error(ErrorKind::kUnavailable,
                      "reading the Docker engine's answer to " + what + " failed: " + ec.message());
  }
  Response response;
  response.status = parser.get().result_int();
  response.body = std::move(parser.get().body());
  return response;
}

Status Client::ping() {
  auto response = call("GET", ping_target(), {}, default_deadline());
  if (!response) return std::move(response).error();
  // 200 "OK": the engine is up. Anything else (a proxy's 502, a 500 while
  // the engine starts) means it is not ready.
  if (response->status != 200) {
    return make_error(ErrorKind::kUnavailable,
                      "the Docker engine is not ready (GET /_ping answered HTTP " +
                          std::to_string(response->status) + ")");
  }
  return {};
}

Result<EngineVersion> Client::engine_version() {
  auto response = call("GET", version_target(), {}, default_deadline());
  if (!response) return std::move(response).error();
  // 200: the version document; nothing else is defined.
  if (response->status != 200) return engine_refused("GET /version", *response);
  return parse_version_response(response->body);
}

Result<ApiVersion> Client::api_version() {
  std::lock_guard lock(version_mutex_);
  if (version_) return *version_;
  auto engine = engine_version();
  if (!engine) return std::move(engine).error();
  auto chosen = negotiate_api_version(*engine);
  if (!chosen) return std::move(chosen).error();
  version_ = *chosen;
  return *chosen;
}

Result<EngineInfo> Client::info() {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("GET", info_target(*v), {}, default_deadline());
  if (!response) return std::move(response).error();
  // 200: the info document. 500: the engine could not gather it.
  if (response->status != 200) return engine_refused("GET /info", *response);
  return parse_info_response(response->body);
}

Result<ImageInfo> Client::inspect_image(std::string_view image) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("GET", image_inspect_target(*v, image), {}, default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 200:  // the image's document
      return parse_image_inspect(response->body);
    case 404:  // no such image on this engine (Nebula never pulls)
      return make_error(ErrorKind::kNotFound,
                        "image " + std::string(image) +
                            " not found on the Docker engine; build or pull it first");
    default:  // 500: the engine failed
      return engine_refused("inspecting image " + std::string(image), *response);
  }
}

Result<std::string> Client::create_container(const ContainerSpec& spec, std::string_view name) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response =
      call("POST", create_target(*v, name), create_container_body(spec), default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 201:  // created; the body has the Id (and warnings we do not need)
      return parse_create_response(response->body);
    case 404:  // no such image (removed since prepare)
      return make_error(
          ErrorKind::kNotFound,
          "image " + spec.image + " not found on the Docker engine; build or pull it first");
    case 409:  // a container with this name already exists
      return make_error(ErrorKind::kInternal,
                        "container name " + std::string(name) +
                            " is already in use: " + engine_error_message(response->body));
    case 400:  // bad parameter: a setting this engine does not accept
      return make_error(ErrorKind::kInvalidArgument,
                        "the Docker engine rejected the container settings for " + spec.image +
                            ": " + engine_error_message(response->body));
    default:  // 500 and anything unexpected
      return engine_refused("creating a container of " + spec.image, *response);
  }
}

Result<AttachedStream> Client::attach(std::string_view id) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  const Clock::time_point deadline = default_deadline();
  const std::string target = attach_target(*v, id);
  const std::string what = describe("POST", target);

  auto state = std::make_unique<AttachedStream::State>();
  if (Status connected = connect(state->ioc, state->socket, options_.socket_path, deadline);
      !connected) {
    return std::move(connected).error();
  }
  auto request = make_request("POST", target, {});
  // Ask for a protocol switch: the engine answers 101 and from then on the
  // connection carries the raw stream.
  request.set(http::field::upgrade, "tcp");
  request.set(http::field::connection, "Upgrade");

  bool done = false;
  error_code ec;
  http::async_write(state->socket, request, [&done, &ec](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(state->ioc, done, deadline)) {
    abandon(state->ioc, state->socket);
    return deadline_passed(what);
  }
  if (ec) return unreachable(options_.socket_path, ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  done = false;
  // Only the header: after a 101 the rest of the connection is the stream.
  http::async_read_header(state->socket, buffer, parser, [&done, &ec](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(state->ioc, done, deadline)) {
    abandon(state->ioc, state->socket);
    return deadline_passed(what);
  }
  if (ec) {
    return make_error(ErrorKind::kUnavailable,
                      "reading the Docker engine's answer to " + what + " failed: " + ec.message());
  }
  const unsigned status = parser.get().result_int();
  // 101 Switching Protocols: hijacked. 200: engines that hijack without the
  // upgrade handshake; the stream follows just the same.
  if (status == 101 || status == 200) {
    const auto data = buffer.data();
    state->pending.assign(static_cast<const char*>(data.data()), data.size());
    return AttachedStream(std::move(state));
  }
  // An error answer has a body; read it for the message.
  done = false;
  http::async_read(state->socket, buffer, parser, [&done, &ec](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(state->ioc, done, deadline)) abandon(state->ioc, state->socket);
  Response response{status, parser.get().body()};
  // 404: no such container (it was removed meanwhile).
  if (status == 404) {
    return make_error(ErrorKind::kNotFound, "container " + std::string(id) + " no longer exists: " +
                                                engine_error_message(response.body));
  }
  // 400 bad parameter, 409 container paused, 500 engine error.
  return engine_refused("attaching to container " + std::string(id), response);
}

Status Client::start(std::string_view id) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("POST", start_target(*v, id), {}, default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 204:  // started
    case 304:  // already started: what we wanted
      return {};
    case 404:  // no such container
      return make_error(ErrorKind::kNotFound, "container " + std::string(id) + " no longer exists");
    default:  // 400/500: usually the runtime could not exec the entrypoint
      return engine_refused("starting container " + std::string(id), *response);
  }
}

Result<int> Client::wait(std::string_view id, Clock::time_point deadline) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("POST", wait_target(*v, id), {}, deadline);
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 200:  // {"StatusCode": n}
      return parse_wait_response(response->body);
    case 404:  // no such container
      return make_error(ErrorKind::kNotFound, "container " + std::string(id) + " no longer exists");
    default:  // 400 bad condition, 500 engine error
      return engine_refused("waiting for container " + std::string(id), *response);
  }
}

Result<ContainerState> Client::inspect_container(std::string_view id) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("GET", inspect_target(*v, id), {}, default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 200:  // the container's document
      return parse_container_inspect(response->body);
    case 404:  // no such container
      return make_error(ErrorKind::kNotFound, "container " + std::string(id) + " no longer exists");
    default:  // 500
      return engine_refused("inspecting container " + std::string(id), *response);
  }
}

Status Client::kill(std::string_view id, std::string_view signal) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("POST", kill_target(*v, id, signal), {}, default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 204:  // signal sent
    case 404:  // no such container: nothing left to kill
    case 409:  // not running: it already stopped
      return {};
    default:  // 500
      return engine_refused("killing container " + std::string(id), *response);
  }
}

Status Client::remove(std::string_view id) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("DELETE", remove_target(*v, id), {}, default_deadline());
  if (!response) return std::move(response).error();
  switch (response->status) {
    case 204:  // removed
    case 404:  // already gone: what we wanted
      return {};
    case 409:  // "removal … is already in progress": someone else finishes it
      return {};
    default:  // 400, 500
      return engine_refused("removing container " + std::string(id), *response);
  }
}

Result<std::vector<ContainerSummary>> Client::list_containers(
    std::string_view label, std::optional<std::string_view> value) {
  auto v = api_version();
  if (!v) return std::move(v).error();
  auto response = call("GET", list_target(*v, label, value), {}, default_deadline());
  if (!response) return std::move(response).error();
  // 200: the list; 400: a bad filter (a bug in list_target).
  if (response->status != 200) return engine_refused("listing containers", *response);
  return parse_container_list(response->body);
}

}  // namespace nebula::docker
