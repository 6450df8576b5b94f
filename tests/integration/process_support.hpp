#pragma once

// What the header-only infrastructure helpers (postgres_process.hpp,
// nginx_process.hpp) share: a temp directory they own, a free loopback
// port, a probe for a listening port and a one-shot tool run. Header-only
// so that a test can use them by including the header and linking
// nebula_base, without adding a .cpp to its sources (which is why TempDir,
// defined in server_process.cpp, is not used here).

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>
#include <utility>
#include <vector>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "core/result.hpp"

namespace nebula::testing::detail {

// A fresh directory under the system temp dir (mkdtemp: unique even when
// several test binaries run at once), removed with everything in it by the
// destructor. Move-only; a moved-from OwnedDir owns nothing.
class OwnedDir {
 public:
  OwnedDir() = default;
  [[nodiscard]] static Result<OwnedDir> create(std::string_view prefix) {
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return make_error(ErrorKind::kInternal, "mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    OwnedDir dir;
    dir.path_ = pattern;
    return dir;
  }
  OwnedDir(OwnedDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  OwnedDir& operator=(OwnedDir&& other) noexcept {
    if (this != &other) {
      remove();
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }
  OwnedDir(const OwnedDir&) = delete;
  OwnedDir& operator=(const OwnedDir&) = delete;
  ~OwnedDir() { remove(); }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void remove() noexcept {
    if (path_.empty()) return;
    std::error_code ec;  // a destructor must not throw: leave it behind instead
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }
  std::filesystem::path path_;
};

// A port on 127.0.0.1 that nothing listens on right now: the kernel picks
// it for a socket bound to port 0, which is then closed. Another process
// may take it before the server binds it, so the callers retry with a new
// one when the server reports the address in use.
[[nodiscard]] inline Result<int> pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ErrorKind::kInternal, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(ErrorKind::kInternal, std::string("bind 127.0.0.1:0: ") + std::strerror(err));
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// True when a TCP connection to 127.0.0.1:port succeeds now. On loopback a
// connect is answered at once (accepted or refused), so no timeout is
// needed.
[[nodiscard]] inline bool port_accepts(int port) noexcept {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Runs a tool to completion: `input` on its stdin, stdout and stderr
// captured, in `cwd` (base::run has no working directory, and a tool run as
// another user may not be allowed into the test's own), killed after
// `timeout`.
[[nodiscard]] inline Result<base::Completed> run_tool(
    const std::vector<std::string>& argv, std::string_view input,
    const std::filesystem::path& cwd = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  base::SpawnOptions options;
  options.search_path = false;
  options.in = base::Stdio::pipe();
  options.out = base::Stdio::pipe();
  options.err = base::Stdio::pipe();
  options.cwd = cwd;
  auto started = base::Subprocess::start(argv, options);
  if (!started) return started.error();
  auto output = started->communicate(input, base::Clock::now() + timeout);
  base::Completed done;
  done.out = std::move(output.out);
  done.err = std::move(output.err);
  done.timed_out = output.deadline_passed;
  done.status =
      output.deadline_passed ? started->terminate(std::chrono::milliseconds(0)) : started->wait();
  done.signal = started->term_signal();
  return done;
}

// The last `max` bytes of a log file, for error messages: enough to show
// why a server did not start without flooding the test output.
[[nodiscard]] inline std::string log_tail(const std::filesystem::path& file, size_t max = 2000) {
  std::string text = base::read_file(file).value_or("");
  if (text.size() > max) text = "…" + text.substr(text.size() - max);
  return text;
}

// A one-line summary of a failed tool run.
[[nodiscard]] inline std::string describe(const std::string& what, const base::Completed& run) {
  std::string text =
      what + (run.timed_out ? " timed out" : " failed (exit " + std::to_string(run.status) + ")");
  if (!run.err.empty()) text += ": " + run.err;
  if (!run.out.empty()) text += (run.err.empty() ? ": " : "\n") + run.out;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace nebula::testing::detail
