#pragma once

// Starting another program and waiting for it: the `nebula serve` child of
// the benchmark, the chart script, and the test harnesses' servers and
// example runs all go through here, so that the corners (a program that is
// not there, one that never ends, one that stops reading its input, a
// parent that dies first) are handled once.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace nebula::base {

using Clock = std::chrono::steady_clock;

// Where one of the child's standard streams goes.
struct Stdio {
  enum class Kind {
    kInherit,  // the parent's own stream
    kNull,     // /dev/null
    kFile,     // `path`: read for stdin; for stdout and stderr, created if
               // missing and appended to or truncated
    kPipe,     // a pipe whose other end the parent holds (stdin_fd(), …)
    kStdout,   // stderr only: wherever stdout goes, as `2>&1`
  };
  Kind kind = Kind::kInherit;
  std::filesystem::path path;
  bool append = false;

  [[nodiscard]] static Stdio inherit() { return {}; }
  [[nodiscard]] static Stdio null() { return {Kind::kNull, {}, false}; }
  [[nodiscard]] static Stdio pipe() { return {Kind::kPipe, {}, false}; }
  [[nodiscard]] static Stdio file(std::filesystem::path path, bool append = false) {
    return {Kind::kFile, std::move(path), append};
  }
  [[nodiscard]] static Stdio to_stdout() { return {Kind::kStdout, {}, false}; }
};

// The child's environment.
struct Environment {
  enum class Mode {
    kInherit,  // the parent's, unchanged; `vars` is not used
    kAdd,      // the parent's, with `vars` added or replacing theirs
    kReplace,  // `vars` only
  };
  Mode mode = Mode::kInherit;
  std::vector<std::pair<std::string, std::string>> vars;
};

struct SpawnOptions {
  // argv[0] without a '/' is looked up in the parent's PATH, as a shell
  // does; otherwise it is a path (relative to the working directory).
  bool search_path = true;
  Environment env;
  Stdio in;
  Stdio out;
  Stdio err;
  // The child leads a process group of its own: a Ctrl-C on the terminal
  // reaches only the parent, which decides what to stop, and
  // send_signal()/terminate() reach the child's own children too.
  bool new_process_group = true;
  // Sent to the child when the thread that started it ends, the parent
  // process included (PR_SET_PDEATHSIG): a crashed parent leaves no child
  // behind. It is tied to the starting thread, so start long-lived
  // children from a thread that lives as long as they should.
  std::optional<int> parent_death_signal;
  // The child's working directory; empty: the parent's. One that cannot
  // be entered is an error of start() naming it.
  std::filesystem::path cwd;
};

// A started program; exactly one owner, which waits for it. Move-only. The
// destructor of a Subprocess whose child still runs kills it (SIGKILL, to
// its group when it has its own) and reaps it, so no child outlives its
// owner and none is left a zombie. Not thread-safe.
//
// Exit statuses are reported as a shell does: the exit code, or 128 + the
// signal number for a child killed by a signal.
class Subprocess {
 public:
  // Starts argv. Every file, pipe and the environment are prepared before
  // the fork; the child only rearranges its descriptors, resets every
  // signal to its default disposition with none blocked, and execs. A
  // program that cannot be run (not found, not executable, a file that
  // cannot be opened) is an error naming it, and no child is left.
  [[nodiscard]] static Result<Subprocess> start(const std::vector<std::string>& argv,
                                                const SpawnOptions& options = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // The parent's ends of the Stdio::pipe() streams; -1 for the others and
  // once closed.
  [[nodiscard]] int stdin_fd() const noexcept { return in_; }
  [[nodiscard]] int stdout_fd() const noexcept { return out_; }
  [[nodiscard]] int stderr_fd() const noexcept { return err_; }
  // The child reads end-of-file on stdin.
  void close_stdin() noexcept;

  // Writes all of `bytes` to the stdin pipe, blocking until they are taken.
  // A child that stopped reading gives an error (EPIPE), never SIGPIPE.
  [[nodiscard]] Status write_stdin(std::string_view bytes);

  struct Output {
    std::string out;
    std::string err;
    bool deadline_passed = false;
  };
  // Writes `input` to the stdin pipe and closes it, and reads the stdout
  // and stderr pipes until both are closed or `deadline` passes. The three
  // are served together (poll), so a child that writes a lot before it has
  // read all of its input cannot deadlock against the parent. A child that
  // exits without reading all of its input is not an error. Streams that
  // are not pipes are left alone; `input` needs a stdin pipe.
  [[nodiscard]] Output communicate(std::string_view input, Clock::time_point deadline);

  // Sends `signal` to the child, or its whole group when it has its own.
  // Nothing once it has been waited for.
  void send_signal(int signal) noexcept;

  // The exit status if the child has ended (reaping it), without blocking.
  [[nodiscard]] std::optional<int> poll();
  // Waits for the child to end; its exit status. Calling it again returns
  // the same status.
  int wait();
  // wait() until `deadline`; nullopt if the child still runs then.
  [[nodiscard]] std::optional<int> wait_for(Clock::time_point deadline);
  // SIGTERM, up to `grace` for the child to end, then SIGKILL; the exit
  // status. A zero grace sends SIGKILL straight away.
  int terminate(std::chrono::milliseconds grace);

  // After the child ended: the signal that killed it, or 0 if it exited.
  [[nodiscard]] int term_signal() const noexcept { return term_signal_; }

 private:
  Subprocess(pid_t pid, bool own_group, int in, int out, int err) noexcept
      : pid_(pid), own_group_(own_group), in_(in), out_(out), err_(err) {}
  void record(int wait_status) noexcept;
  void close_all() noexcept;
  // Kills and reaps a child that still runs; closes the pipes.
  void reset() noexcept;
  void release() noexcept;

  pid_t pid_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
  int status_ = -1;
  int term_signal_ = 0;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
};

struct RunOptions {
  bool search_path = true;
  Environment env;
  std::string input;  // written to the program's stdin, which is then closed
  // From the start to the end of the program; then terminate(grace).
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  std::chrono::milliseconds grace = std::chrono::milliseconds(0);
};

struct Completed {
  int status = -1;  // as a shell reports it: exit code, or 128 + signal
  int signal = 0;   // the signal that ended it, or 0 when it exited
  std::string out;
  std::string err;
  bool timed_out = false;  // it outlived the timeout and was terminated
};

// Runs argv to completion in its own process group, stdin fed from
// `options.input`, stdout and stderr captured. An error only when the
// program cannot be started; a program that fails or times out is a
// Completed that says so.
[[nodiscard]] Result<Completed> run(const std::vector<std::string>& argv,
                                    const RunOptions& options = {});

}  // namespace nebula::base
