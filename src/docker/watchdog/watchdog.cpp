// nebula-watchdog: the entrypoint of a warm container.
//
// Nebula bind-mounts this static binary into a function's container and runs
//   /nebula-watchdog <the image's entrypoint and cmd…>
// It writes a Ready frame, then serves requests read from stdin one at a
// time: fork/exec the function with the request's env, pipe the request body
// to its stdin, collect its stdout and stderr (capped), reap it, and write a
// Response frame with the exit status and the child's own rusage. Frames are
// defined in docker/watchdog_protocol.hpp. EOF on stdin ends the watchdog.
//
// It runs as the container's PID 1, so it also reaps orphans, and it never
// writes anything but frames to stdout. Diagnostics go to stderr.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <signal.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "docker/watchdog_protocol.hpp"

extern char** environ;

namespace {

namespace wd = nebula::docker::watchdog;

std::uint64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

void log_error(const char* what, int error) {
  std::fprintf(stderr, "nebula-watchdog: %s: %s\n", what, std::strerror(error));
}

// Reads exactly `size` bytes. False on EOF before the first byte (a clean
// end) or on an error; `clean_eof` tells them apart.
bool read_exact(int fd, char* data, std::size_t size, bool& clean_eof) {
  clean_eof = false;
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, data + done, size - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n == 0) {
      clean_eof = (done == 0);
      return false;
    } else if (errno != EINTR) {
      log_error("reading stdin", errno);
      return false;
    }
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno != EINTR) {
      log_error("writing stdout", errno);
      return false;
    }
  }
  return true;
}

// One pipe end, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

bool make_pipe(Pipe& out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  out.read.reset(fds[0]);
  out.write.reset(fds[1]);
  return true;
}

// The child's environment: the container's own, with the request's entries
// added or replacing same-named ones.
std::vector<std::string> child_env(const wd::Request& request) {
  std::map<std::string, std::string, std::less<>> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    merged[std::string(text.substr(0, eq))] = std::string(text.substr(eq + 1));
  }
  for (const auto& [key, value] : request.env) merged[key] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& items) {
  std::vector<char*> out;
  out.reserve(items.size() + 1);
  for (std::string& item : items) out.push_back(item.data());
  out.push_back(nullptr);
  return out;
}

// Appends up to the cap; the rest is counted as truncation.
void collect(std::string& sink, std::string_view data, std::uint64_t cap, bool& truncated) {
  const std::uint64_t room = cap > sink.size() ? cap - sink.size() : 0;
  if (data.size() > room) {
    truncated = true;
    data = data.substr(0, static_cast<std::size_t>(room));
  }
  sink.append(data);
}

wd::Response spawn_failed(std::string message) {
  wd::Response response;
  response.kind = wd::ExitKind::kSpawnFailed;
  response.code = 127;
  response.message = std::move(message);
  return response;
}

// Runs one request to completion.
wd::Response run(const wd::Request& request, const std::vector<std::string>& default_argv) {
  std::vector<std::string> argv = request.argv.empty() ? default_argv : request.argv;
  if (argv.empty()) return spawn_failed("no program to run: the image has no entrypoint or cmd");
  std::vector<std::string> env = child_env(request);
  std::vector<char*> c_argv = c_strings(argv);
  std::vector<char*> c_env = c_strings(env);

  Pipe in;
  Pipe out;
  Pipe err;
  Pipe exec_error;  // carries errno if execvpe fails; EOF means exec worked
  if (!make_pipe(in) || !make_pipe(out) || !make_pipe(err) || !make_pipe(exec_error)) {
    return spawn_failed(std::string("pipe: ") + std::strerror(errno));
  }

  const std::uint64_t started = now_us();
  const pid_t pid = fork();
  if (pid < 0) return spawn_failed(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The child: only async-signal-safe calls from here to exec.
    dup2(in.read.get(), STDIN_FILENO);
    dup2(out.write.get(), STDOUT_FILENO);
    dup2(err.write.get(), STDERR_FILENO);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(c_argv[0], c_argv.data(), c_env.data());
    const int error = errno;
    (void)!write(exec_error.write.get(), &error, sizeof error);
    _exit(127);
  }

  in.read.reset();
  out.write.reset();
  err.write.reset();
  exec_error.write.reset();

  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = read(exec_error.read.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);

  wd::Response response;
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return spawn_failed("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }

  fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
  std::string_view body = request.stdin_data;
  if (body.empty()) in.write.reset();
  bool stdout_open = true;
  bool stderr_open = true;
  char buffer[65536];
  while (stdout_open || stderr_open) {
    pollfd fds[3];
    nfds_t count = 0;
    int out_slot = -1;
    int err_slot = -1;
    int in_slot = -1;
    if (stdout_open) {
      out_slot = static_cast<int>(count);
      fds[count++] = pollfd{out.read.get(), POLLIN, 0};
    }
    if (stderr_open) {
      err_slot = static_cast<int>(count);
      fds[count++] = pollfd{err.read.get(), POLLIN, 0};
    }
    if (in.write.get() >= 0) {
      in_slot = static_cast<int>(count);
      fds[count++] = pollfd{in.write.get(), POLLOUT, 0};
    }
    if (poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      log_error("poll", errno);
      break;
    }
    if (in_slot >= 0 && fds[in_slot].revents != 0) {
      const ssize_t n = write(in.write.get(), body.data(), body.size());
      if (n > 0) body.remove_prefix(static_cast<std::size_t>(n));
      // EPIPE: the function exited or closed stdin without reading it all,
      // which is its right; anything else is just as final.
      if (body.empty() || (n < 0 && errno != EAGAIN && errno != EINTR)) in.write.reset();
    }
    auto drain = [&buffer](int slot, const pollfd* polled, Fd& fd, bool& open, std::string& sink,
                           std::uint64_t cap, bool& truncated) {
      if (slot < 0 || polled[slot].revents == 0) return;
      const ssize_t n = read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        collect(sink, std::string_view(buffer, static_cast<std::size_t>(n)), cap, truncated);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        open = false;
        fd.reset();
      }
    };
    drain(out_slot, fds, out.read, stdout_open, response.stdout_data, request.max_stdout_bytes,
          response.stdout_truncated);
    drain(err_slot, fds, err.read, stderr_open, response.stderr_data, request.max_stderr_bytes,
          response.stderr_truncated);
    if (response.stdout_truncated && !response.killed_for_output) {
      // Over the output limit: stop the function now rather than let it
      // run on; keep draining so the pipes close.
      kill(pid, SIGKILL);
      response.killed_for_output = true;
    }
  }
  in.write.reset();

  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      log_error("wait4", errno);
      break;
    }
  }
  response.exec_us = now_us() - started;
  if (WIFSIGNALED(status)) {
    response.kind = wd::ExitKind::kSignaled;
    response.code = WTERMSIG(status);
  } else {
    response.kind = wd::ExitKind::kExited;
    response.code = WEXITSTATUS(status);
  }
  auto micros = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000U +
           static_cast<std::uint64_t>(tv.tv_usec);
  };
  response.cpu_us = micros(usage.ru_utime) + micros(usage.ru_stime);
  // Linux reports ru_maxrss in KiB.
  response.max_rss_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024U;
  return response;
}

// As PID 1 the watchdog inherits every orphan the function leaves behind.
void reap_orphans() {
  int status = 0;
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  // A function that exits without reading its stdin must not kill us.
  signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> default_argv(argv + 1, argv + argc);

  if (!write_all(STDOUT_FILENO, wd::encode_ready())) return 1;
  std::string payload;
  for (;;) {
    char prefix[wd::kLengthBytes];
    bool clean_eof = false;
    if (!read_exact(STDIN_FILENO, prefix, sizeof prefix, clean_eof)) return clean_eof ? 0 : 1;
    auto length = wd::decode_length(std::string_view(prefix, sizeof prefix));
    if (!length) {
      std::fprintf(stderr, "nebula-watchdog: %s\n", length.error().message.c_str());
      return 2;
    }
    payload.resize(*length);
    if (!read_exact(STDIN_FILENO, payload.data(), payload.size(), clean_eof)) {
      std::fprintf(stderr, "nebula-watchdog: stdin ended inside a request frame\n");
      return 2;
    }
    auto request = wd::decode_request(payload);
    if (!request) {
      // The stream cannot be trusted any more: answer, then exit so that
      // Nebula replaces this container.
      (void)write_all(STDOUT_FILENO, wd::encode_response(spawn_failed(request.error().message)));
      return 2;
    }
    const wd::Response response = run(*request, default_argv);
    reap_orphans();
    if (!write_all(STDOUT_FILENO, wd::encode_response(response))) return 1;
  }
}
