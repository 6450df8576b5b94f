#include "base/memory.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace nebula::base {
namespace {

// The bytes of this executable's read-only mappings, from /proc/self/maps:
// what release_idle_memory() must cover.
std::uint64_t read_only_bytes_of_self() {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return 0;
  std::uint64_t total = 0;
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    char path[4096] = {};
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %4095s", &start, &end, perms, path) < 4) {
      continue;
    }
    if (perms[0] == 'r' && perms[1] != 'w' && self == path) total += end - start;
  }
  std::fclose(maps);
  return total;
}

// Whether the pages go out of this process's resident set depends on who
// else maps the file (the kernel keeps pages another process maps: ctest
// runs this binary several times at once), so that is measured by the
// benchmarks, not asserted here.
TEST(ReleaseIdleMemory, CoversThisExecutablesReadOnlyMappingsAndEverythingStillRuns) {
  const std::uint64_t expected = read_only_bytes_of_self();
  ASSERT_GT(expected, 0U);
  const ReleasedMemory released = release_idle_memory();
  EXPECT_EQ(released.code_bytes, expected);
  // The code comes back as it is needed: this very test runs on, and a
  // second release covers the same mappings.
  EXPECT_EQ(release_idle_memory().code_bytes, expected);
}

}  // namespace
}  // namespace nebula::base
