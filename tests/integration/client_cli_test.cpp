// The client commands as a user types them, against a real server:
// deploy, invoke (stdin and -d, -v), ls, logs and rm, and the messages they
// print when something is wrong.
#include <algorithm>
#include <optional>
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

class ClientCli : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.emplace(dir_.path() / "data", std::vector<std::string>{"--no-docker"});
    ASSERT_TRUE(server_->start()) << server_->log();
  }

  test::ProcessResult nebula(std::vector<std::string> args, std::string_view input = {}) {
    args.insert(args.begin(), NEBULA_BIN);
    args.insert(args.begin() + 2, {"--server", server_->url()});
    auto r = test::run_process(args, input);
    // Most checks are on what the user sees: both streams.
    r.err = r.out + r.err;
    return r;
  }

  TempDir dir_;
  std::optional<ServerProcess> server_;
};

TEST_F(ClientCli, DeployInvokeListLogsRemove) {
  auto deployed = nebula({"deploy", "echo-env", "--wasm", guest("echo_env"), "--env",
                          "NEBULA_GREETING=hi", "--arg", "first"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.err;
  EXPECT_NE(deployed.out.find("created echo-env"), std::string::npos) << deployed.out;

  auto from_stdin = nebula({"invoke", "echo-env"}, "body");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out,
            "body\narg:first\nenv:REQUEST_METHOD=POST\nenv:NEBULA_FUNCTION=echo-env\n"
            "env:NEBULA_RUNTIME=wasm\nenv:NEBULA_GREETING=hi");

  auto from_flag = nebula({"invoke", "echo-env", "-d", "flag", "-v"});
  ASSERT_EQ(from_flag.exit_code, 0) << from_flag.err;
  EXPECT_EQ(from_flag.out.substr(0, 5), "flag\n");
  // -v: the summary on stderr.
  EXPECT_NE(from_flag.err.find("runtime wasm"), std::string::npos) << from_flag.err;
  EXPECT_NE(from_flag.err.find("startup "), std::string::npos) << from_flag.err;

  auto listed = nebula({"ls"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("NAME ", 0), 0U) << listed.out;
  const auto line = listed.out.substr(listed.out.find("echo-env"));
  EXPECT_EQ(line.rfind("echo-env wasm        module  wasm", 0), 0U) << listed.out;
  // Two invocations on wasm, none on docker.
  EXPECT_NE(line.find("         2          0"), std::string::npos) << listed.out;

  auto status = nebula({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("functions   1 (1 wasm variants, 1 in memory"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("MiB RSS"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("store       sqlite"), std::string::npos) << status.out;

  auto logs = nebula({"logs", "echo-env", "-n", "5"});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out.rfind("ID ", 0), 0U) << logs.out;
  EXPECT_EQ(std::count(logs.out.begin(), logs.out.end(), '\n'), 3) << logs.out;
  EXPECT_NE(logs.out.find("wasm    ok          0 yes"), std::string::npos) << logs.out;

  auto removed = nebula({"rm", "echo-env"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  auto gone = nebula({"invoke", "echo-env", "-d", "x"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("404"), std::string::npos) << gone.err;
  EXPECT_EQ(nebula({"ls"}).out, "no functions deployed (nebula deploy NAME --wasm FILE)\n");
}

TEST_F(ClientCli, AFailingFunctionShowsItsStderrAndFails) {
  ASSERT_EQ(nebula({"deploy", "oom", "--wasm", guest("malloc_until_failure"), "--memory-mb", "2"})
                .exit_code,
            0);
  auto r = nebula({"invoke", "oom", "-d", ""});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("status 502"), std::string::npos) << r.err;
}

TEST_F(ClientCli, BadInputGetsAClearMessage) {
  auto no_file = nebula({"deploy", "x", "--wasm", "/nonexistent.wasm"});
  EXPECT_NE(no_file.exit_code, 0);
  EXPECT_NE(no_file.err.find("/nonexistent.wasm"), std::string::npos) << no_file.err;

  auto bad_name = nebula({"deploy", "Bad_Name", "--wasm", guest("echo_env")});
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_NE(bad_name.err.find("Bad_Name"), std::string::npos) << bad_name.err;

  auto bad_pattern =
      nebula({"deploy", "x", "--wasm", guest("echo_env"), "--allow-outbound", "ftp://a"});
  EXPECT_EQ(bad_pattern.exit_code, 1);
  EXPECT_NE(bad_pattern.err.find("ftp"), std::string::npos) << bad_pattern.err;
}

}  // namespace
}  // namespace nebula::testing
