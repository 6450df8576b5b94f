#include "examples/run_process.hpp"

#include "base/subprocess.hpp"

namespace nebula::test {

ProcessResult run_process(const std::vector<std::string>& argv, std::string_view input,
                          std::chrono::milliseconds timeout) {
  base::RunOptions options;
  options.input = std::string(input);
  options.timeout = timeout;
  auto done = base::run(argv, options);
  ProcessResult result;
  if (!done) {
    result.spawn_error = done.error().message;
    return result;
  }
  result.exit_code = done->status;
  result.signal = done->signal;
  result.timed_out = done->timed_out;
  result.out = std::move(done->out);
  result.err = std::move(done->err);
  return result;
}

}  // namespace nebula::test
