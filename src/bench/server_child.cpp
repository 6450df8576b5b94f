#include "bench/server_child.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <unistd.h>

#include "base/files.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kReadyPrefix = "listening on ";
// A server with Docker pings the engine and removes a crashed run's
// leftovers before it listens; that can take a while on a busy engine.
constexpr auto kStartTimeout = std::chrono::seconds(60);

}  // namespace

Result<ServerChild> ServerChild::start(const std::string& executable, const fs::path& work_dir,
                                       std::vector<std::string> extra_args) {
  std::vector<std::string> args = {executable,    "serve",      "--listen",
                                   "127.0.0.1:0", "--data-dir", (work_dir / "data").string(),
                                   "--log-level", "warn"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const fs::path log_path = work_dir / "server.log";

  base::SpawnOptions options;
  options.search_path = false;
  options.in = base::Stdio::null();
  options.out = base::Stdio::pipe();
  options.err = base::Stdio::file(log_path);
  options.parent_death_signal = SIGTERM;
  auto process = base::Subprocess::start(args, options);
  if (!process) return std::move(process).error();
  ServerChild child(std::move(*process), log_path);

  // The server prints "listening on http://127.0.0.1:PORT" once it accepts
  // connections; that line is the whole of its stdout.
  std::string printed;
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    if (auto pos = printed.find(kReadyPrefix); pos != std::string::npos) {
      const auto end = printed.find('\n', pos);
      if (end != std::string::npos) {
        child.url_ = printed.substr(pos + kReadyPrefix.size(), end - pos - kReadyPrefix.size());
        return child;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return make_error(ErrorKind::kTimeout, "the nebula server did not start within " +
                                                 std::to_string(kStartTimeout.count()) +
                                                 " s; its log:\n" + child.log_tail());
    }
    pollfd pfd{child.process_.stdout_fd(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return make_error(ErrorKind::kInternal, std::string("poll: ") + std::strerror(errno));
    }
    if (ready <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(pfd.fd, buf, sizeof buf);
    if (n > 0) {
      printed.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: the server exited before it listened.
    const int status = child.stop(std::chrono::seconds(5));
    return make_error(ErrorKind::kUnavailable,
                      "the nebula server exited (status " + std::to_string(status) +
                          ") before listening; its log:\n" + child.log_tail());
  }
}

ServerChild::~ServerChild() {
  (void)stop(std::chrono::seconds(30));
}

std::string ServerChild::log_tail(std::size_t max_bytes) const {
  std::string text = base::read_file(log_path_).value_or("");
  if (text.size() > max_bytes) text.erase(0, text.size() - max_bytes);
  return text;
}

int ServerChild::stop(std::chrono::seconds grace) {
  return process_.terminate(grace);
}

}  // namespace nebula::bench
