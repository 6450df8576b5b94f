#pragma once

// Nebula's own Docker Engine API client: HTTP/1.1 (Boost.Beast) over the
// engine's unix socket (Boost.Asio local stream socket).
//
// The API is blocking because it runs on the invoker's worker threads, never
// on I/O threads. Every call has a deadline: each call runs a private
// io_context with asynchronous operations until they finish or the deadline
// passes, then cancels them. One connection per call (a unix socket connect
// costs microseconds), so calls share no state and the client is thread-safe.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "docker/api.hpp"
#include "docker/multiplexed_stream.hpp"

namespace nebula::docker {

using Clock = std::chrono::steady_clock;

struct ClientOptions {
  std::string socket_path = "/var/run/docker.sock";
  // Deadline of each API call that does not take its own.
  std::chrono::milliseconds call_timeout{30'000};
};

// A hijacked attach connection: raw bytes to the container's stdin, the
// multiplexed stdout/stderr stream back. Move-only; owns its io_context and
// socket. Used by one thread at a time.
class AttachedStream {
 public:
  // What ended an exchange().
  enum class End {
    kEof,       // the engine closed the stream: the container's output ended
    kStopped,   // the output callback returned false
    kDeadline,  // the deadline passed; the stream is no longer usable
  };

  // Called with each piece of output; return false to stop reading.
  using OutputSink = std::function<bool(StreamKind, std::string_view)>;

  AttachedStream(AttachedStream&&) noexcept;
  AttachedStream& operator=(AttachedStream&&) noexcept;
  AttachedStream(const AttachedStream&) = delete;
  AttachedStream& operator=(const AttachedStream&) = delete;
  ~AttachedStream();

  // Writes `input` to the container's stdin — then half-closes it when
  // `close_stdin`, so the program sees EOF — while handing output to `sink`
  // until EOF, a stop, or `deadline`. Writing and reading run concurrently,
  // so a program that answers before it has read all its input cannot
  // deadlock. A program that exits without reading all its input is not an
  // error: the unwritten rest is dropped.
  [[nodiscard]] Result<End> exchange(std::string_view input, bool close_stdin,
                                     const OutputSink& sink, Clock::time_point deadline);

  // False when the engine has closed the stream (the container is gone or
  // its output ended). A cheap poll, no API call: used before a warm
  // container is handed out.
  [[nodiscard]] bool looks_alive() const;

  // Closes the connection. With StdinOnce the container's stdin closes too.
  void close() noexcept;

 private:
  friend class Client;
  struct State;
  explicit AttachedStream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});

  [[nodiscard]] const ClientOptions& options() const noexcept { return options_; }

  // GET /_ping. kUnavailable, saying how to start an engine, when nothing
  // answers on the socket.
  [[nodiscard]] Status ping();

  // The API version in use, negotiated on first need with GET /version.
  [[nodiscard]] Result<ApiVersion> api_version();

  // GET /version: what the engine says it is.
  [[nodiscard]] Result<EngineVersion> engine_version();

  [[nodiscard]] Result<EngineInfo> info();

  // kNotFound when the engine does not have the image.
  [[nodiscard]] Result<ImageInfo> inspect_image(std::string_view image);

  // Creates a container and returns its id. `name` may be empty.
  [[nodiscard]] Result<std::string> create_container(const ContainerSpec& spec,
                                                     std::string_view name);

  // Attaches to stdin, stdout and stderr; the connection is upgraded to a raw
  // stream. Attach before start so that no output is missed.
  [[nodiscard]] Result<AttachedStream> attach(std::string_view id);

  [[nodiscard]] Status start(std::string_view id);

  // Blocks until the container is not running and returns its exit code.
  [[nodiscard]] Result<int> wait(std::string_view id, Clock::time_point deadline);

  [[nodiscard]] Result<ContainerState> inspect_container(std::string_view id);

  // Sends a signal; a container that is not running is fine (it is the
  // state the caller wanted).
  [[nodiscard]] Status kill(std::string_view id, std::string_view signal = "KILL");

  // Force-removes a container with its anonymous volumes; one that is
  // already gone is fine.
  [[nodiscard]] Status remove(std::string_view id);

  // Every container, running or not, that carries `label` (=`value`).
  [[nodiscard]] Result<std::vector<ContainerSummary>> list_containers(
      std::string_view label, std::optional<std::string_view> value = std::nullopt);

  struct Response {
    unsigned status = 0;
    std::string body;
  };

  // One HTTP exchange on a fresh connection. Public for tests and tools;
  // the typed calls above are what the runtime uses.
  [[nodiscard]] Result<Response> call(std::string_view method, const std::string& target,
                                      std::string body, Clock::time_point deadline);

 private:
  [[nodiscard]] Clock::time_point default_deadline() const {
    return Clock::now() + options_.call_timeout;
  }

  ClientOptions options_;
  std::mutex version_mutex_;
  std::optional<ApiVersion> version_;
};

}  // namespace nebula::docker
