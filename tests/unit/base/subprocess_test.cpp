#include "base/subprocess.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/files.hpp"

namespace nebula::base {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

Completed run_ok(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  auto done = run(argv, options);
  EXPECT_TRUE(done) << (done ? "" : done.error().message);
  return done ? std::move(done).value() : Completed{};
}

// True when this process has no child left at all, running or zombie.
bool no_children() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

// The state letter of /proc/PID/stat, or 0 when the process is gone.
char process_state(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  const auto paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() ? (*stat)[paren + 2] : 0;
}

// A scratch directory for one test.
TempDir scratch_dir() {
  auto dir = TempDir::create("nebula-subprocess-test-");
  if (!dir) throw std::runtime_error(dir.error().message);
  return std::move(*dir);
}

TEST(Run, ReportsTheExitCode) {
  const Completed done = run_ok({"sh", "-c", "exit 3"});
  EXPECT_EQ(done.status, 3);
  EXPECT_EQ(done.signal, 0);
  EXPECT_FALSE(done.timed_out);
  EXPECT_EQ(run_ok({"true"}).status, 0);
}

TEST(Run, ReportsASignalAs128PlusItsNumber) {
  const Completed term = run_ok({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(term.status, 128 + SIGTERM);
  EXPECT_EQ(term.signal, SIGTERM);
  const Completed killed = run_ok({"sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(killed.status, 137);
  EXPECT_EQ(killed.signal, SIGKILL);
}

TEST(Run, CapturesStdoutAndStderrApart) {
  const Completed done = run_ok({"sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 1"});
  EXPECT_EQ(done.status, 1);
  EXPECT_EQ(done.out, "to out");
  EXPECT_EQ(done.err, "to err");
}

TEST(Run, FeedsStdinWithoutDeadlockingOnLargeOutput) {
  // Far more than a pipe buffer each way: `cat` writes back while we write.
  std::string input(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>(i * 31);
  RunOptions options;
  options.input = input;
  const Completed done = run_ok({"cat"}, options);
  EXPECT_EQ(done.status, 0);
  EXPECT_EQ(done.out.size(), input.size());
  EXPECT_TRUE(done.out == input);
}

TEST(Run, AProgramThatIgnoresItsInputIsNotAnError) {
  // Writing into a pipe nobody reads raises SIGPIPE unless handled: this
  // test process would die of it.
  RunOptions options;
  options.input = std::string(4 * 1024 * 1024, 'x');
  const Completed done = run_ok({"true"}, options);
  EXPECT_EQ(done.status, 0);
}

TEST(Run, TimeoutTerminatesTheProgramAndItsChildren) {
  RunOptions options;
  options.timeout = milliseconds(300);
  const auto begin = Clock::now();
  // The shell prints its background child's pid, then waits for it.
  const Completed done = run_ok({"sh", "-c", "sleep 30 & echo $!; wait"}, options);
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(10));
  EXPECT_TRUE(done.timed_out);
  EXPECT_EQ(done.status, 137);  // no grace: SIGKILL straight away
  const pid_t grandchild = std::atoi(done.out.c_str());
  ASSERT_GT(grandchild, 0) << done.out;
  // Killed with its group; it may stay a zombie of init for a moment.
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < until) {
    const char state = process_state(grandchild);
    if (state == 0 || state == 'Z') break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  const char state = process_state(grandchild);
  EXPECT_TRUE(state == 0 || state == 'Z') << "sleep is still there, state " << state;
}

TEST(Run, TimeoutWithGraceSendsSigtermFirst) {
  RunOptions options;
  options.timeout = milliseconds(200);
  options.grace = std::chrono::seconds(10);
  const Completed polite = run_ok({"sleep", "30"}, options);
  EXPECT_TRUE(polite.timed_out);
  EXPECT_EQ(polite.status, 128 + SIGTERM);

  // One that ignores SIGTERM gets SIGKILL once the grace is over.
  options.grace = milliseconds(200);
  const Completed stubborn = run_ok({"sh", "-c", "trap '' TERM; echo ready; sleep 30"}, options);
  EXPECT_TRUE(stubborn.timed_out);
  EXPECT_EQ(stubborn.status, 137);
}

TEST(Run, ReplacesTheEnvironment) {
  RunOptions options;
  options.env.mode = Environment::Mode::kReplace;
  options.env.vars = {{"ONLY", "this"}, {"AND", "that=too"}};
  const Completed done = run_ok({"env"}, options);
  EXPECT_EQ(done.status, 0);
  EXPECT_EQ(done.out, "ONLY=this\nAND=that=too\n");
}

TEST(Run, AddsToTheEnvironment) {
  ASSERT_EQ(::setenv("NEBULA_SUBPROCESS_TEST", "inherited", 1), 0);
  RunOptions options;
  options.env.mode = Environment::Mode::kAdd;
  options.env.vars = {{"NEBULA_SUBPROCESS_TEST", "replaced"}, {"NEBULA_ADDED", "added"}};
  const Completed done = run_ok(
      {"sh", "-c", "printf '%s %s %s' \"$NEBULA_SUBPROCESS_TEST\" \"$NEBULA_ADDED\" \"$PATH\""},
      options);
  EXPECT_EQ(done.out, std::string("replaced added ") + std::getenv("PATH"));
  // Inherited by default.
  EXPECT_EQ(run_ok({"sh", "-c", "printf %s \"$NEBULA_SUBPROCESS_TEST\""}).out, "inherited");
  ::unsetenv("NEBULA_SUBPROCESS_TEST");
}

TEST(Run, RejectsABadVariableName) {
  RunOptions options;
  options.env.mode = Environment::Mode::kAdd;
  options.env.vars = {{"A=B", "x"}};
  auto done = run({"true"}, options);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(done.error().message.find("'A=B'"), std::string::npos) << done.error().message;
}

TEST(Run, AMissingProgramIsAClearErrorAndLeavesNoChild) {
  auto on_path = run({"nebula-no-such-program"});
  ASSERT_FALSE(on_path);
  EXPECT_EQ(on_path.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(on_path.error().message.find("cannot run nebula-no-such-program: not found in PATH"),
            std::string::npos)
      << on_path.error().message;

  auto by_path = run({"/nonexistent/nebula-fn"});
  ASSERT_FALSE(by_path);
  EXPECT_EQ(by_path.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(by_path.error().message,
            "cannot run /nonexistent/nebula-fn: No such file or directory");
  EXPECT_TRUE(no_children());
}

TEST(Run, ANonExecutableFileIsAClearError) {
  const TempDir dir = scratch_dir();
  const fs::path script = dir.path() / "not-executable";
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  fs::permissions(script, fs::perms::owner_read | fs::perms::owner_write);
  auto done = run({script.string()});
  ASSERT_FALSE(done);
  EXPECT_NE(done.error().message.find("Permission denied"), std::string::npos)
      << done.error().message;
  EXPECT_TRUE(no_children());
}

TEST(Run, EmptyArgvIsRejected) {
  auto done = run({});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, ErrorKind::kInvalidArgument);
}

TEST(Subprocess, DestructorKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    auto child = Subprocess::start({"sleep", "30"});
    ASSERT_TRUE(child) << child.error().message;
    pid = child->pid();
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(child->poll().has_value());
  }
  // Reaped: not even a zombie is left for us to wait for.
  EXPECT_TRUE(no_children());
  EXPECT_EQ(process_state(pid), 0);
}

TEST(Subprocess, MovingKeepsOneOwner) {
  auto started = Subprocess::start({"sleep", "30"});
  ASSERT_TRUE(started);
  Subprocess first = std::move(started).value();
  const pid_t pid = first.pid();
  Subprocess second = std::move(first);
  EXPECT_EQ(second.pid(), pid);
  EXPECT_EQ(first.pid(), -1);  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(second.terminate(milliseconds(0)), 137);
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, WaitForReturnsAtTheDeadlineThenTheStatus) {
  auto child = Subprocess::start({"sh", "-c", "sleep 0.3; exit 7"});
  ASSERT_TRUE(child);
  EXPECT_FALSE(child->wait_for(Clock::now() + milliseconds(20)).has_value());
  const auto status = child->wait_for(Clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 7);
  EXPECT_EQ(child->wait(), 7);  // the same status again
}

TEST(Subprocess, TerminateSendsSigtermToItsOwnProcessGroup) {
  auto child = Subprocess::start({"sleep", "30"});
  ASSERT_TRUE(child);
  EXPECT_EQ(::getpgid(child->pid()), child->pid());
  EXPECT_EQ(child->terminate(std::chrono::seconds(10)), 128 + SIGTERM);
  EXPECT_EQ(child->term_signal(), SIGTERM);
}

TEST(Subprocess, StreamsToFilesAndStderrToStdout) {
  const TempDir dir = scratch_dir();
  const fs::path log = dir.path() / "log";
  SpawnOptions options;
  options.out = Stdio::file(log);
  options.err = Stdio::to_stdout();
  for (int i = 0; i < 2; ++i) {
    auto child = Subprocess::start({"sh", "-c", "echo out; echo err >&2"}, options);
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(child->wait(), 0);
  }
  EXPECT_EQ(read_file(log), "out\nerr\n");  // truncated by the second run

  options.out = Stdio::file(log, /*append=*/true);
  auto child = Subprocess::start({"sh", "-c", "echo more"}, options);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->wait(), 0);
  EXPECT_EQ(read_file(log), "out\nerr\nmore\n");

  // stdin from a file.
  SpawnOptions from_file;
  from_file.in = Stdio::file(log);
  from_file.out = Stdio::pipe();
  auto counter = Subprocess::start({"wc", "-l"}, from_file);
  ASSERT_TRUE(counter);
  const auto output = counter->communicate({}, Clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(counter->wait(), 0);
  EXPECT_EQ(output.out, "3\n");
}

TEST(Subprocess, AnUnopenableFileIsAClearError) {
  SpawnOptions options;
  options.in = Stdio::file("/nonexistent/input");
  auto child = Subprocess::start({"cat"}, options);
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().message,
            "cannot run cat: cannot open /nonexistent/input: No such file or directory");
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, WritingToAChildThatStoppedReadingIsAnError) {
  SpawnOptions options;
  options.in = Stdio::pipe();
  auto child = Subprocess::start({"true"}, options);
  ASSERT_TRUE(child);
  EXPECT_EQ(child->wait(), 0);
  const Status written = child->write_stdin("nobody reads this");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("Broken pipe"), std::string::npos)
      << written.error().message;
}

TEST(Subprocess, ParentDeathSignalFollowsTheStartingThread) {
  // PR_SET_PDEATHSIG fires when the thread that started the child ends.
  std::optional<Subprocess> child;
  std::thread starter([&child] {
    SpawnOptions options;
    options.parent_death_signal = SIGKILL;
    auto started = Subprocess::start({"sleep", "30"}, options);
    if (started) child.emplace(std::move(started).value());
  });
  starter.join();
  ASSERT_TRUE(child.has_value());
  const auto status = child->wait_for(Clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "the child outlived the thread that started it";
  EXPECT_EQ(*status, 137);
}

TEST(Subprocess, RunsInTheGivenWorkingDirectory) {
  auto dir = TempDir::create("nebula-cwd-");
  ASSERT_TRUE(dir);
  SpawnOptions options;
  options.cwd = dir->path();
  options.out = Stdio::pipe();
  auto child = Subprocess::start({"/bin/pwd"}, options);
  ASSERT_TRUE(child) << child.error().message;
  auto output = child->communicate("", Clock::now() + std::chrono::seconds(10));
  EXPECT_EQ(child->wait(), 0);
  EXPECT_EQ(output.out, fs::canonical(dir->path()).string() + "\n");
}

TEST(Subprocess, AWorkingDirectoryThatIsMissingIsAnErrorNamingIt) {
  SpawnOptions options;
  options.cwd = "/nonexistent/nebula-cwd";
  auto child = Subprocess::start({"/bin/true"}, options);
  ASSERT_FALSE(child);
  EXPECT_EQ(child.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(child.error().message.find("/nonexistent/nebula-cwd"), std::string::npos)
      << child.error().message;
  EXPECT_TRUE(no_children());
}

}  // namespace
}  // namespace nebula::base
