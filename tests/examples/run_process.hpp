#pragma once

// Runs a program the way the platform runs a function: a request on stdin,
// the response and the logs captured from stdout and stderr, and the exit
// status. Used by the example tests on the native binaries, on `nebula run`
// and on `docker run`.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace nebula::test {

struct ProcessResult {
  // Set when the program could not be started; nothing else is meaningful
  // then.
  std::string spawn_error;
  // The exit status; for a program killed by a signal, 128 + the signal
  // number, as a shell reports it.
  int exit_code = -1;
  // The signal that killed the program, or 0 if it exited.
  int signal = 0;
  // True when the program outlived the timeout and was killed.
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is looked up in PATH if it holds no '/') with
// base::run: in its own process group, `input` written to its stdin and
// then closed, stdout and stderr collected together so that a program that
// writes a lot before reading all of its input cannot deadlock against us,
// and the whole process group killed after `timeout`. A program that exits
// without reading its input is fine.
[[nodiscard]] ProcessResult run_process(
    const std::vector<std::string>& argv, std::string_view input,
    std::chrono::milliseconds timeout = std::chrono::minutes(2));

}  // namespace nebula::test
