// The watchdog binary itself, run as a plain child process (no Docker): the
// test plays Nebula's side of the frame protocol over pipes, and the
// fixture function is the program the watchdog runs.
#include <optional>
#include <signal.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "base/subprocess.hpp"
#include "docker/watchdog_protocol.hpp"

namespace nebula::docker::watchdog {
namespace {

constexpr const char* kWatchdog = NEBULA_WATCHDOG_PATH;
constexpr const char* kFixture = NEBULA_FIXTURE_PATH;

class WatchdogProcess {
 public:
  // Starts the watchdog with `args` as its default command and `extra_env`
  // ("NAME=value") in its environment, which otherwise holds only PATH.
  explicit WatchdogProcess(std::vector<std::string> args, const std::string& extra_env = {}) {
    args.insert(args.begin(), kWatchdog);
    base::SpawnOptions options;
    options.search_path = false;
    options.env.mode = base::Environment::Mode::kReplace;
    options.env.vars = {{"PATH", "/usr/bin:/bin"}};
    if (const auto eq = extra_env.find('='); eq != std::string::npos) {
      options.env.vars.emplace_back(extra_env.substr(0, eq), extra_env.substr(eq + 1));
    }
    options.in = base::Stdio::pipe();
    options.out = base::Stdio::pipe();
    auto started = base::Subprocess::start(args, options);
    EXPECT_TRUE(started) << started.error().message;
    if (started) process_.emplace(std::move(*started));
  }

  void send(std::string_view bytes) {
    ASSERT_TRUE(process_);
    const Status written = process_->write_stdin(bytes);
    ASSERT_TRUE(written) << written.error().message;
  }

  // The next payload, or an empty string at EOF.
  std::string next_payload() {
    for (;;) {
      auto next = reader_.next();
      if (!next) {
        ADD_FAILURE() << next.error().message;
        return {};
      }
      if (*next) return std::move(**next);
      if (!process_) return {};
      char buffer[65536];
      const ssize_t n = read(process_->stdout_fd(), buffer, sizeof buffer);
      if (n <= 0) return {};
      reader_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    }
  }

  void expect_ready() {
    const std::string payload = next_payload();
    auto type = decode_type(payload);
    ASSERT_TRUE(type);
    EXPECT_EQ(*type, FrameType::kReady);
  }

  Response call(const Request& request) {
    send(encode_request(request));
    auto response = decode_response(next_payload());
    EXPECT_TRUE(response) << (response ? "" : response.error().message);
    return response ? std::move(response).value() : Response{};
  }

  void close_stdin() {
    if (process_) process_->close_stdin();
  }

  // The watchdog's exit status after it ended.
  int wait_exit() { return process_ ? process_->wait() : -1; }

 private:
  // Its destructor kills and reaps a watchdog that still runs.
  std::optional<base::Subprocess> process_;
  FrameReader reader_;
};

Request request_with(std::string body) {
  Request request;
  request.max_stdout_bytes = 16 * 1024 * 1024;
  request.max_stderr_bytes = 64 * 1024;
  request.stdin_data = std::move(body);
  return request;
}

TEST(Watchdog, ServesManyRequestsInOneProcess) {
  WatchdogProcess watchdog({kFixture, "echo"});
  watchdog.expect_ready();
  for (int i = 0; i < 3; ++i) {
    const Response response = watchdog.call(request_with("hello " + std::to_string(i)));
    EXPECT_EQ(response.kind, ExitKind::kExited);
    EXPECT_EQ(response.code, 0);
    EXPECT_EQ(response.stdout_data, "hello " + std::to_string(i));
    EXPECT_GT(response.max_rss_bytes, 0U);
  }
  watchdog.close_stdin();
  EXPECT_EQ(watchdog.wait_exit(), 0);
}

TEST(Watchdog, RequestArgvReplacesTheDefaultCommand) {
  WatchdogProcess watchdog({kFixture, "echo"});
  watchdog.expect_ready();
  Request request = request_with("90");
  request.argv = {kFixture, "fib"};
  const Response response = watchdog.call(request);
  EXPECT_EQ(response.stdout_data, "2880067194370816120\n");
}

TEST(Watchdog, RequestEnvAddsToAndOverridesTheContainers) {
  WatchdogProcess watchdog({kFixture, "env"}, "BASE=from-container");
  watchdog.expect_ready();
  Request request = request_with("BASE");
  EXPECT_EQ(watchdog.call(request).stdout_data, "from-container");
  request.env = {{"BASE", "from-request"}};
  EXPECT_EQ(watchdog.call(request).stdout_data, "from-request");
  request = request_with("QUERY_STRING");
  request.env = {{"QUERY_STRING", "a=1&b=2"}};
  EXPECT_EQ(watchdog.call(request).stdout_data, "a=1&b=2");
}

TEST(Watchdog, ReportsExitCodeAndStderr) {
  WatchdogProcess watchdog({kFixture, "exit"});
  watchdog.expect_ready();
  const Response response = watchdog.call(request_with("3"));
  EXPECT_EQ(response.kind, ExitKind::kExited);
  EXPECT_EQ(response.code, 3);
  EXPECT_EQ(response.stderr_data, "failing with 3\n");
}

TEST(Watchdog, KillsAFunctionOverTheOutputLimit) {
  WatchdogProcess watchdog({kFixture, "flood"});
  watchdog.expect_ready();
  Request request = request_with("");
  request.max_stdout_bytes = 100'000;
  const Response response = watchdog.call(request);
  EXPECT_EQ(response.kind, ExitKind::kSignaled);
  EXPECT_EQ(response.code, SIGKILL);
  EXPECT_TRUE(response.killed_for_output);
  EXPECT_TRUE(response.stdout_truncated);
  EXPECT_EQ(response.stdout_data.size(), 100'000U);
  // And it goes on serving.
  request.argv = {kFixture, "echo"};
  request.stdin_data = "still here";
  EXPECT_EQ(watchdog.call(request).stdout_data, "still here");
}

TEST(Watchdog, CapsStderrWithoutKilling) {
  WatchdogProcess watchdog({kFixture, "stderr"});
  watchdog.expect_ready();
  Request request = request_with(std::string(10'000, 'e'));
  request.max_stderr_bytes = 100;
  const Response response = watchdog.call(request);
  EXPECT_EQ(response.kind, ExitKind::kExited);
  EXPECT_EQ(response.code, 0);
  EXPECT_TRUE(response.stderr_truncated);
  EXPECT_FALSE(response.killed_for_output);
  EXPECT_EQ(response.stderr_data.size(), 100U);
  EXPECT_EQ(response.stdout_data, "done");
}

TEST(Watchdog, ReportsAProgramThatCannotStart) {
  WatchdogProcess watchdog({"/nonexistent/fn"});
  watchdog.expect_ready();
  const Response response = watchdog.call(request_with("x"));
  EXPECT_EQ(response.kind, ExitKind::kSpawnFailed);
  EXPECT_NE(response.message.find("/nonexistent/fn"), std::string::npos);
  EXPECT_NE(response.message.find("No such file"), std::string::npos);
}

TEST(Watchdog, ProgramsFoundOnPath) {
  WatchdogProcess watchdog({"cat"});
  watchdog.expect_ready();
  EXPECT_EQ(watchdog.call(request_with("via PATH")).stdout_data, "via PATH");
}

TEST(Watchdog, LargeBodyRoundTripsWithoutDeadlock) {
  // Far more than a pipe buffer in both directions at once.
  WatchdogProcess watchdog({kFixture, "echo"});
  watchdog.expect_ready();
  std::string body(6 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  const Response response = watchdog.call(request_with(body));
  EXPECT_EQ(response.code, 0);
  EXPECT_EQ(response.stdout_data, body);
}

TEST(Watchdog, AProgramThatIgnoresItsInputIsFine) {
  WatchdogProcess watchdog({kFixture, "noread"});
  watchdog.expect_ready();
  const Response response = watchdog.call(request_with(std::string(4 * 1024 * 1024, 'x')));
  EXPECT_EQ(response.kind, ExitKind::kExited);
  EXPECT_EQ(response.code, 0);
}

TEST(Watchdog, MeasuresTheChildsCpuAndMemory) {
  WatchdogProcess watchdog({kFixture, "spin-ms"});
  watchdog.expect_ready();
  const Response spin = watchdog.call(request_with("200"));
  EXPECT_EQ(spin.stdout_data, "spun\n");
  // A 200 ms spin on a shared machine gets some, not all, of a CPU; it can
  // never use more than its wall time.
  EXPECT_GT(spin.cpu_us, 10'000U);
  // The fixture counts whole milliseconds from a truncated start, so it may
  // stop up to 1 ms short of 200 (a CI run saw 199,920 µs).
  EXPECT_GE(spin.exec_us, 199'000U);
  EXPECT_LE(spin.cpu_us, spin.exec_us + 10'000U);

  Request alloc = request_with("64");
  alloc.argv = {kFixture, "alloc"};
  const Response allocated = watchdog.call(alloc);
  EXPECT_EQ(allocated.stdout_data, "allocated 64 MiB\n");
  EXPECT_GE(allocated.max_rss_bytes, 64ULL * 1024 * 1024);
}

TEST(Watchdog, ExitsOnACorruptFrame) {
  WatchdogProcess watchdog({kFixture});
  watchdog.expect_ready();
  watchdog.send(std::string("\x00\x00\x00\x03\x01\x02\x00", 7));
  const auto response = decode_response(watchdog.next_payload());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->kind, ExitKind::kSpawnFailed);
  EXPECT_EQ(watchdog.wait_exit(), 2);
}

TEST(Watchdog, ExitsOnAnOversizedLength) {
  WatchdogProcess watchdog({kFixture});
  watchdog.expect_ready();
  watchdog.send(std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(watchdog.wait_exit(), 2);
}

}  // namespace
}  // namespace nebula::docker::watchdog
