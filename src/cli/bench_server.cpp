#include "cli/bench_server.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "base/files.hpp"

namespace nebula::cli::benchmark {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kReadyPrefix = "listening on ";
// A server with Docker pings the engine and removes a crashed run's
// leftovers before it listens; that can take a while on a busy engine.
constexpr auto kStartTimeout = std::chrono::seconds(60);

}  // namespace

Result<std::unique_ptr<ServerChild>> ServerChild::start(const std::string& executable,
                                                        const fs::path& work_dir,
                                                        std::vector<std::string> extra_args) {
  std::vector<std::string> args = {executable,    "serve",      "--listen",
                                   "127.0.0.1:0", "--data-dir", (work_dir / "data").string(),
                                   "--log-level", "warn"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const fs::path log_path = work_dir / "server.log";

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot create " + log_path.string() + ": " + std::strerror(errno));
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return make_error(ErrorKind::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(log_fd);
  if (pid < 0) {
    ::close(out[0]);
    return make_error(ErrorKind::kInternal, std::string("fork: ") + std::strerror(errno));
  }
  std::unique_ptr<ServerChild> child(new ServerChild(pid, out[0], log_path));

  // The server prints "listening on http://127.0.0.1:PORT" once it accepts
  // connections; that line is the whole of its stdout.
  std::string printed;
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (true) {
    if (auto pos = printed.find(kReadyPrefix); pos != std::string::npos) {
      const auto end = printed.find('\n', pos);
      if (end != std::string::npos) {
        child->url_ = printed.substr(pos + kReadyPrefix.size(), end - pos - kReadyPrefix.size());
        return child;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return make_error(ErrorKind::kTimeout, "the nebula server did not start within " +
                                                 std::to_string(kStartTimeout.count()) +
                                                 " s; its log:\n" + child->log_tail());
    }
    pollfd pfd{child->stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return make_error(ErrorKind::kInternal, std::string("poll: ") + std::strerror(errno));
    }
    if (ready <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(child->stdout_fd_, buf, sizeof buf);
    if (n > 0) {
      printed.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: the server exited before it listened.
    const int status = child->stop(std::chrono::seconds(5));
    return make_error(ErrorKind::kUnavailable,
                      "the nebula server exited (status " + std::to_string(status) +
                          ") before listening; its log:\n" + child->log_tail());
  }
}

ServerChild::~ServerChild() {
  if (pid_ > 0) (void)stop(std::chrono::seconds(30));
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

std::string ServerChild::log_tail(std::size_t max_bytes) const {
  std::string text = base::read_file(log_path_).value_or("");
  if (text.size() > max_bytes) text.erase(0, text.size() - max_bytes);
  return text;
}

int ServerChild::stop(std::chrono::seconds grace) {
  if (pid_ <= 0) return -1;
  int status = 0;
  pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        done = ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  pid_ = -1;
  if (done < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

Result<TempDir> TempDir::create(const std::string& prefix) {
  std::error_code ec;
  const fs::path base = fs::temp_directory_path(ec);
  std::string pattern = ((ec ? fs::path("/tmp") : base) / (prefix + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return make_error(ErrorKind::kInternal, "cannot create a temporary directory " + pattern +
                                                ": " + std::strerror(errno));
  }
  return TempDir(fs::path(pattern));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace nebula::cli::benchmark
