// `nebula run` as an author types it: options before or after the module,
// `--` before the guest's arguments, like `wasmtime run`; and compiled code
// reused from the on-disk cache on the second run.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "examples/run_process.hpp"
#include "integration/server_process.hpp"

namespace nebula::testing {
namespace {

std::string guest(const std::string& name) {
  return std::string(NEBULA_TEST_GUESTS) + "/" + name + ".wasm";
}

class RunCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() / "host");
    std::ofstream(dir_.path() / "host" / "f.txt") << "from the host\n";
    ::setenv("NEBULA_CACHE_DIR", (dir_.path() / "cache").c_str(), 1);
  }

  test::ProcessResult run(std::vector<std::string> args, std::string_view input = {}) {
    args.insert(args.begin(), {NEBULA_BIN, "run"});
    return test::run_process(args, input);
  }

  std::string host() const { return (dir_.path() / "host").string(); }

  TempDir dir_;
};

TEST_F(RunCli, OptionsBeforeTheModule) {
  auto r = run({"--env", "NEBULA_A=B", guest("echo_env"), "--", "x"}, "in");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "in\narg:x\nenv:NEBULA_A=B");
}

TEST_F(RunCli, OptionsAfterTheModule) {
  auto r = run({guest("echo_env"), "--env", "NEBULA_A=B", "--env", "NEBULA_C=D", "--", "x", "y"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\narg:x\narg:y\nenv:NEBULA_A=B\nenv:NEBULA_C=D");
}

TEST_F(RunCli, ArgumentsWithoutTheSeparator) {
  auto r = run({"--env", "NEBULA_A=1", guest("echo_env"), "one", "two"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\narg:one\narg:two\nenv:NEBULA_A=1");
}

TEST_F(RunCli, GuestArgumentsThatLookLikeOptionsStayTheGuests) {
  auto r = run({guest("echo_env"), "--", "--env", "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\narg:--env\narg:-v");
}

TEST_F(RunCli, DirBeforeTheModule) {
  auto r = run({"--dir", host() + "::/data", guest("cat_file"), "--", "/data/f.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "from the host\n");
}

TEST_F(RunCli, DirAfterTheModuleReadOnly) {
  auto r = run({guest("cat_file"), "--dir", host() + "::/data:ro", "--", "/data/f.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "from the host\n");
}

TEST_F(RunCli, WithoutDirTheGuestSeesNoFiles) {
  auto r = run({guest("cat_file"), "--", "/data/f.txt"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot open /data/f.txt"), std::string::npos) << r.out;
}

TEST_F(RunCli, AMissingModuleIsAClearError) {
  auto r = run({"--dir", host() + "::/data", "--"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("module"), std::string::npos) << r.err;
  auto bad_env = run({"--env", "NOEQUALS", guest("echo_env")});
  EXPECT_EQ(bad_env.exit_code, 2);
  EXPECT_NE(bad_env.err.find("KEY=VALUE"), std::string::npos) << bad_env.err;
}

TEST_F(RunCli, TheSecondRunLoadsCompiledCode) {
  auto first = run({"--timings", guest("echo_env")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("nebula: compile"), std::string::npos) << first.err;
  auto second = run({"--timings", guest("echo_env")});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("nebula: load (cached)"), std::string::npos) << second.err;
  // The artifact sits in the cache, keyed by the module's digest.
  std::size_t artifacts = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() / "cache")) {
    artifacts += entry.is_regular_file() ? 1 : 0;
  }
  EXPECT_GE(artifacts, 1U);
}

TEST_F(RunCli, ADamagedCacheEntryIsRecompiled) {
  ASSERT_EQ(run({guest("echo_env")}).exit_code, 0);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() / "cache")) {
    if (entry.is_regular_file()) std::ofstream(entry.path(), std::ios::trunc) << "garbage";
  }
  auto r = run({"--timings", guest("echo_env")}, "ok");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("ok"));
  EXPECT_NE(r.err.find("nebula: compile"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nebula::testing
