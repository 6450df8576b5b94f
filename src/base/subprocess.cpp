#include "base/subprocess.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "base/unique_fd.hpp"

extern char** environ;

namespace nebula::base {
namespace {

// What the child tells the parent through the error pipe when it cannot
// exec; nothing comes through when exec succeeds (the pipe is close-on-exec).
enum class Stage : int { kStdio, kProcessGroup, kParentGone, kDirectory, kExec };
struct ChildFailure {
  Stage stage;
  int error;
};

// Everything the child needs, built before the fork: between fork and exec
// a child of a multi-threaded parent may only make async-signal-safe calls,
// so it must not allocate.
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  std::array<int, 3> sources = {-1, -1, -1};  // dup'ed onto 0, 1, 2; -1: inherit
  bool stderr_to_stdout = false;
  bool new_process_group = false;
  int parent_death_signal = 0;
  pid_t parent = 0;
  const char* cwd = nullptr;  // nullptr: the parent's
  int report_fd = -1;
};

[[noreturn]] void fail_in_child(int report_fd, Stage stage) noexcept {
  const ChildFailure failure{stage, errno};
  (void)!::write(report_fd, &failure, sizeof failure);
  ::_exit(127);
}

[[noreturn]] void exec_child(const ChildPlan& plan) noexcept {
  // A clean slate: handlers do not survive exec anyway, but ignored signals
  // (the parent may ignore SIGPIPE) and the blocked mask would.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, nullptr);

  if (plan.new_process_group && ::setpgid(0, 0) != 0) {
    fail_in_child(plan.report_fd, Stage::kProcessGroup);
  }
  if (plan.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, plan.parent_death_signal);
    // The parent may have died before prctl: then nobody waits for us.
    if (::getppid() != plan.parent) {
      errno = ESRCH;
      fail_in_child(plan.report_fd, Stage::kParentGone);
    }
  }
  // A source that is itself 0, 1 or 2 (a parent running with a standard
  // stream closed) would be overwritten by an earlier dup2: move it up.
  std::array<int, 3> sources = plan.sources;
  for (int& fd : sources) {
    if (fd >= 0 && fd <= STDERR_FILENO) {
      fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) fail_in_child(plan.report_fd, Stage::kStdio);
    }
  }
  for (int target = 0; target < 3; ++target) {
    const int fd = sources[static_cast<std::size_t>(target)];
    // dup2 clears close-on-exec on the target.
    if (fd >= 0 && ::dup2(fd, target) < 0) fail_in_child(plan.report_fd, Stage::kStdio);
  }
  if (plan.stderr_to_stdout && ::dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
    fail_in_child(plan.report_fd, Stage::kStdio);
  }
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) {
    fail_in_child(plan.report_fd, Stage::kDirectory);
  }
  ::execve(plan.program, plan.argv, plan.envp);
  fail_in_child(plan.report_fd, Stage::kExec);
}

// The first executable regular file named `name` in PATH; empty if none.
std::string find_on_path(const std::string& name) {
  const char* env_path = std::getenv("PATH");
  const std::string path = env_path != nullptr ? env_path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    // An empty entry is the working directory, as for a shell.
    const std::string dir = end == begin ? "." : path.substr(begin, end - begin);
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return {};
}

Result<std::vector<std::string>> environment_of(const Environment& env) {
  std::vector<std::string> out;
  for (const auto& [name, value] : env.vars) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return make_error(ErrorKind::kInvalidArgument,
                        "environment variable name '" + name + "' is empty or holds '='");
    }
  }
  if (env.mode == Environment::Mode::kAdd) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view kv(*entry);
      const std::string_view name = kv.substr(0, kv.find('='));
      const bool replaced = std::any_of(env.vars.begin(), env.vars.end(),
                                        [name](const auto& var) { return var.first == name; });
      if (!replaced) out.emplace_back(kv);
    }
  }
  for (const auto& [name, value] : env.vars) out.push_back(name + "=" + value);
  return out;
}

std::string describe(const Stdio& stdio) {
  return stdio.path.empty() ? std::string("/dev/null") : stdio.path.string();
}

// Opens what the child's stream `target` (0, 1 or 2) reads or writes.
// `child` is the descriptor to dup onto it (closed in the parent after the
// fork), `parent` the parent's end of a pipe.
Status prepare_stream(const Stdio& stdio, int target, UniqueFd& child, UniqueFd& parent) {
  const bool input = target == STDIN_FILENO;
  switch (stdio.kind) {
    case Stdio::Kind::kInherit: return {};
    case Stdio::Kind::kStdout:
      if (target != STDERR_FILENO) {
        return make_error(ErrorKind::kInvalidArgument, "only stderr can go where stdout goes");
      }
      return {};
    case Stdio::Kind::kNull:
      child = UniqueFd(::open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC));
      break;
    case Stdio::Kind::kFile: {
      const int flags = input ? O_RDONLY : O_WRONLY | O_CREAT | (stdio.append ? O_APPEND : O_TRUNC);
      child = UniqueFd(::open(stdio.path.c_str(), flags | O_CLOEXEC, 0644));
      break;
    }
    case Stdio::Kind::kPipe: {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) {
        return make_error(ErrorKind::kInternal, std::string("pipe: ") + std::strerror(errno));
      }
      child = UniqueFd(input ? fds[0] : fds[1]);
      parent = UniqueFd(input ? fds[1] : fds[0]);
      return {};
    }
  }
  if (child.get() < 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot open " + describe(stdio) + ": " + std::strerror(errno));
  }
  return {};
}

// write() that reports EPIPE instead of raising SIGPIPE, without touching
// the process-wide disposition: SIGPIPE from a pipe write goes to the
// writing thread, so it is blocked here for the call and, if the write
// raised it, taken off the thread's pending set again.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t size) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  const ssize_t n = ::write(fd, data, size);
  const int saved = errno;
  if (n < 0 && saved == EPIPE && !already_pending) {
    const timespec no_wait{};
    while (::sigtimedwait(&pipe_only, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = saved;
  return n;
}

void set_nonblocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Appends what `fd` has to `sink`; closes it at end-of-file or on an error
// other than "try again".
void drain(int& fd, std::string& sink) {
  std::array<char, 64 * 1024> buf;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      sink.append(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    ::close(fd);
    fd = -1;
    return;
  }
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

Result<Subprocess> Subprocess::start(const std::vector<std::string>& argv,
                                     const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return make_error(ErrorKind::kInvalidArgument, "no program to run (empty argv)");
  }
  std::string program = argv[0];
  if (options.search_path && program.find('/') == std::string::npos) {
    program = find_on_path(argv[0]);
    if (program.empty()) {
      const char* path = std::getenv("PATH");
      return make_error(ErrorKind::kNotFound, "cannot run " + argv[0] + ": not found in PATH (" +
                                                  (path != nullptr ? path : "unset") + ")");
    }
  }
  auto env = environment_of(options.env);
  if (!env) return std::move(env).error();

  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (auto& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  std::vector<char*> c_envp;
  for (auto& e : *env) c_envp.push_back(e.data());
  c_envp.push_back(nullptr);

  std::array<UniqueFd, 3> child_ends;
  std::array<UniqueFd, 3> parent_ends;
  const std::array<const Stdio*, 3> streams = {&options.in, &options.out, &options.err};
  for (int target = 0; target < 3; ++target) {
    const auto i = static_cast<std::size_t>(target);
    if (auto st = prepare_stream(*streams[i], target, child_ends[i], parent_ends[i]); !st) {
      return make_error(st.error().kind, "cannot run " + argv[0] + ": " + st.error().message);
    }
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd report_read(report[0]);
  UniqueFd report_write(report[1]);

  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = c_argv.data();
  plan.envp = options.env.mode == Environment::Mode::kInherit ? environ : c_envp.data();
  for (std::size_t i = 0; i < 3; ++i) plan.sources[i] = child_ends[i].get();
  plan.stderr_to_stdout = options.err.kind == Stdio::Kind::kStdout;
  plan.new_process_group = options.new_process_group;
  plan.parent_death_signal = options.parent_death_signal.value_or(0);
  plan.parent = ::getpid();
  const std::string cwd = options.cwd.string();
  plan.cwd = cwd.empty() ? nullptr : cwd.c_str();
  plan.report_fd = report_write.get();

  // No signal handler of ours may run in the child before its reset.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(plan);
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  report_write.reset();
  for (auto& fd : child_ends) fd.reset();
  if (pid < 0) {
    return make_error(ErrorKind::kInternal,
                      "cannot run " + argv[0] + ": fork: " + std::strerror(fork_errno));
  }
  // Also here, so that the group exists when start() returns whichever of
  // the two runs first; EACCES once the child has exec'ed is harmless.
  if (options.new_process_group) (void)::setpgid(pid, pid);

  // Blocks until exec closes the pipe, or the child reports why it could not.
  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  Subprocess child(pid, options.new_process_group, parent_ends[0].release(),
                   parent_ends[1].release(), parent_ends[2].release());
  if (got != static_cast<ssize_t>(sizeof failure)) return child;

  (void)child.wait();
  const std::string reason = std::strerror(failure.error);
  switch (failure.stage) {
    case Stage::kExec:
      return make_error(failure.error == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal,
                        "cannot run " + program + ": " + reason);
    case Stage::kStdio:
      return make_error(
          ErrorKind::kInternal,
          "cannot run " + argv[0] + ": setting up its stdin/stdout/stderr: " + reason);
    case Stage::kProcessGroup:
      return make_error(ErrorKind::kInternal, "cannot run " + argv[0] + ": setpgid: " + reason);
    case Stage::kDirectory:
      return make_error(failure.error == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal,
                        "cannot run " + argv[0] + " in " + cwd + ": " + reason);
    case Stage::kParentGone:
      return make_error(ErrorKind::kUnavailable,
                        "cannot run " + argv[0] + ": its parent ended while it started");
  }
  return make_error(ErrorKind::kInternal, "cannot run " + argv[0]);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_),
      own_group_(other.own_group_),
      reaped_(other.reaped_),
      status_(other.status_),
      term_signal_(other.term_signal_),
      in_(other.in_),
      out_(other.out_),
      err_(other.err_) {
  other.release();
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = other.pid_;
    own_group_ = other.own_group_;
    reaped_ = other.reaped_;
    status_ = other.status_;
    term_signal_ = other.term_signal_;
    in_ = other.in_;
    out_ = other.out_;
    err_ = other.err_;
    other.release();
  }
  return *this;
}

Subprocess::~Subprocess() {
  reset();
}

void Subprocess::reset() noexcept {
  close_all();
  if (pid_ > 0 && !reaped_) {
    send_signal(SIGKILL);
    (void)wait();
  }
}

void Subprocess::release() noexcept {
  pid_ = -1;
  reaped_ = true;
  in_ = -1;
  out_ = -1;
  err_ = -1;
}

void Subprocess::close_all() noexcept {
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

void Subprocess::close_stdin() noexcept {
  close_fd(in_);
}

Status Subprocess::write_stdin(std::string_view bytes) {
  if (in_ < 0) return make_error(ErrorKind::kInvalidArgument, "stdin is not an open pipe");
  while (!bytes.empty()) {
    const ssize_t n = write_without_sigpipe(in_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{in_, POLLOUT, 0};
      (void)::poll(&pfd, 1, -1);
      continue;
    }
    return make_error(ErrorKind::kUnavailable,
                      std::string("writing to the child's stdin: ") + std::strerror(errno));
  }
  return {};
}

Subprocess::Output Subprocess::communicate(std::string_view input, Clock::time_point deadline) {
  assert(input.empty() || in_ >= 0);
  Output result;
  std::size_t written = 0;
  if (input.empty()) close_stdin();
  set_nonblocking(in_);
  set_nonblocking(out_);
  set_nonblocking(err_);
  while (in_ >= 0 || out_ >= 0 || err_ >= 0) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.deadline_passed = true;
      break;
    }
    // poll() skips a descriptor of -1.
    std::array<pollfd, 3> fds{{{in_, POLLOUT, 0}, {out_, POLLIN, 0}, {err_, POLLIN, 0}}};
    const int timeout = static_cast<int>(std::min<std::int64_t>(left.count(), 60'000));
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (fds[0].revents != 0) {
      const ssize_t n = write_without_sigpipe(in_, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      // EPIPE: the child exited or closed stdin without reading it all,
      // which a program may do. Stop writing either way.
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) close_stdin();
    }
    if (fds[1].revents != 0) drain(out_, result.out);
    if (fds[2].revents != 0) drain(err_, result.err);
  }
  close_stdin();
  return result;
}

void Subprocess::send_signal(int signal) noexcept {
  if (pid_ <= 0 || reaped_) return;
  if (own_group_ && ::kill(-pid_, signal) == 0) return;
  ::kill(pid_, signal);
}

void Subprocess::record(int wait_status) noexcept {
  reaped_ = true;
  if (WIFEXITED(wait_status)) {
    status_ = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    term_signal_ = WTERMSIG(wait_status);
    status_ = 128 + term_signal_;
  }
}

std::optional<int> Subprocess::poll() {
  if (reaped_) return status_;
  if (pid_ <= 0) return std::nullopt;
  int wait_status = 0;
  pid_t done = 0;
  do {
    done = ::waitpid(pid_, &wait_status, WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return std::nullopt;
  if (done < 0) {
    // ECHILD: reaped elsewhere (SIGCHLD ignored); the status is lost.
    reaped_ = true;
    return status_;
  }
  record(wait_status);
  return status_;
}

int Subprocess::wait() {
  if (reaped_ || pid_ <= 0) return status_;
  int wait_status = 0;
  pid_t done = 0;
  do {
    done = ::waitpid(pid_, &wait_status, 0);
  } while (done < 0 && errno == EINTR);
  if (done < 0) {
    reaped_ = true;
    return status_;
  }
  record(wait_status);
  return status_;
}

std::optional<int> Subprocess::wait_for(Clock::time_point deadline) {
  // Short sleeps first: most children asked to stop do so within a few ms.
  auto step = std::chrono::milliseconds(1);
  for (;;) {
    if (auto status = poll()) return status;
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
    step = std::min(step * 2, std::chrono::milliseconds(20));
  }
}

int Subprocess::terminate(std::chrono::milliseconds grace) {
  if (auto status = poll()) return *status;
  if (grace.count() > 0) {
    send_signal(SIGTERM);
    if (auto status = wait_for(Clock::now() + grace)) return *status;
  }
  send_signal(SIGKILL);
  return wait();
}

Result<Completed> run(const std::vector<std::string>& argv, const RunOptions& options) {
  SpawnOptions spawn;
  spawn.search_path = options.search_path;
  spawn.env = options.env;
  spawn.in = Stdio::pipe();
  spawn.out = Stdio::pipe();
  spawn.err = Stdio::pipe();
  auto child = Subprocess::start(argv, spawn);
  if (!child) return std::move(child).error();
  const Clock::time_point deadline = Clock::now() + options.timeout;
  Subprocess::Output output = child->communicate(options.input, deadline);
  Completed done;
  done.out = std::move(output.out);
  done.err = std::move(output.err);
  // The pipes can close before the program ends (it closed them, or handed
  // them to a child of its own): the deadline holds for the exit too.
  std::optional<int> status;
  if (!output.deadline_passed) status = child->wait_for(deadline);
  if (!status) {
    done.timed_out = true;
    status = child->terminate(options.grace);
  }
  done.status = *status;
  done.signal = child->term_signal();
  return done;
}

}  // namespace nebula::base
