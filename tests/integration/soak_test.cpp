// The soak in the test suite: nebula-soak's 100 clients for 60 seconds
// against a server of its own, wasm and docker mixed with deploys, deletes,
// record queries and metrics scrapes. The program itself checks every
// answer, samples the server and counts leftover containers; this test
// runs it and reads its report. No figure is timed: the pass conditions are
// counts (no platform 5xx, no wrong answer, no leaked container) and
// growth ratios of memory and descriptors.
#include <chrono>
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "docker/client.hpp"
#include "integration/example_image.hpp"

namespace nebula::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

TEST(Soak, SixtySecondsOfMixedLoadLoseNothingAndLeakNothing) {
  if (auto problem = example_image_problem(); !problem.empty()) GTEST_SKIP() << problem;
  auto dir = base::TempDir::create("nebula-soak-test-");
  ASSERT_TRUE(dir) << dir.error().message;
  const fs::path report = dir->path() / "soak.json";
  const fs::path log = dir->path() / "soak.log";
  base::SpawnOptions options;
  options.search_path = false;
  options.in = base::Stdio::null();
  options.out = base::Stdio::file(log);
  options.err = base::Stdio::to_stdout();
  auto child = base::Subprocess::start(
      {NEBULA_SOAK_BIN, "--nebula", NEBULA_BIN, "--examples", NEBULA_EXAMPLES_DIR, "--clients",
       "100", "--duration-s", "60", "--sample-s", "5", "--out", report.string()},
      options);
  ASSERT_TRUE(child) << child.error().message;
  auto status = child->wait_for(base::Clock::now() + std::chrono::minutes(4));
  const int exit_code = status ? *status : child->terminate(std::chrono::seconds(30));
  const std::string output = base::read_file(log).value_or("");
  EXPECT_EQ(exit_code, 0) << output;

  auto text = base::read_file(report);
  ASSERT_TRUE(text) << output;
  const json::object r = json::parse(*text).as_object();
  EXPECT_EQ(r.at("platform_5xx").as_int64(), 0) << output;
  EXPECT_EQ(r.at("wrong").as_int64(), 0) << output;
  EXPECT_EQ(r.at("transport_errors").as_int64(), 0) << output;
  EXPECT_EQ(r.at("leaked_containers").as_int64(), 0) << output;
  EXPECT_LT(r.at("rss_growth").as_double(), 0.10) << output;
  EXPECT_LT(r.at("fd_growth").as_double(), 0.10) << output;
  EXPECT_LE(r.at("max_wal_bytes").as_int64(), 64LL << 20) << output;
  // Every kind of work happened, and answered right.
  for (const auto& [kind, tally] : r.at("by_kind").as_object()) {
    EXPECT_GT(tally.at("ok").as_int64(), 0) << kind;
  }
  // Sampled about every 5 s for 60 s.
  EXPECT_GE(r.at("samples").as_array().size(), 10U);
  EXPECT_TRUE(r.at("pass").as_bool());
}

}  // namespace
}  // namespace nebula::testing
