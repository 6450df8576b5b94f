// The committed fuzz inputs, replayed through the checks the libFuzzer
// targets run (fuzz/entry_points.hpp): the seeds in fuzz/corpus/<target>/
// and every past finding in fuzz/regressions/<target>/ (fuzz/README.md).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/files.hpp"
#include "entry_points.hpp"

namespace nebula::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs(const std::string& target, const std::string& kind) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(NEBULA_FUZZ_DIR) / kind / target;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void replay(const std::string& target, bool (*check)(std::string_view)) {
  const auto seeds = inputs(target, "corpus");
  // A moved or empty corpus must not pass silently.
  ASSERT_FALSE(seeds.empty()) << "no seeds in " << NEBULA_FUZZ_DIR << "/corpus/" << target;
  auto all = seeds;
  for (auto& file : inputs(target, "regressions")) all.push_back(std::move(file));
  for (const auto& file : all) {
    auto bytes = base::read_file(file);
    ASSERT_TRUE(bytes) << "cannot read " << file;
    EXPECT_TRUE(check(*bytes)) << target << " breaks its invariant on " << file;
  }
}

TEST(FuzzCorpus, HttpRequest) {
  replay("http_request_fuzz", check_http_request);
}

TEST(FuzzCorpus, Manifest) {
  replay("manifest_fuzz", check_manifest);
}

TEST(FuzzCorpus, WatchdogFrames) {
  replay("watchdog_frame_fuzz", check_watchdog_frames);
}

TEST(FuzzCorpus, MultiplexedStream) {
  replay("multiplexed_stream_fuzz", check_multiplexed_stream);
}

TEST(FuzzCorpus, Schedule) {
  replay("schedule_fuzz", check_schedule);
}

}  // namespace
}  // namespace nebula::fuzz
