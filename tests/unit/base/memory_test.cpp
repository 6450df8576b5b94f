#include "base/memory.hpp"

#include <cctype>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "base/files.hpp"

namespace nebula::base {
namespace {

// Resident pages of this process's own mappings of `path`, in kB.
long resident_kb_of(const std::string& path) {
  const std::string smaps = read_file("/proc/self/smaps").value_or("");
  long total = 0;
  bool ours = false;
  std::size_t at = 0;
  while (at < smaps.size()) {
    std::size_t end = smaps.find('\n', at);
    if (end == std::string::npos) end = smaps.size();
    const std::string line = smaps.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find('-') != std::string::npos && line.find(':') > line.find(' ')) {
      ours = line.size() >= path.size() &&
             line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (ours && line.rfind("Rss:", 0) == 0) {
      total += std::stol(line.substr(4));
    }
  }
  return total;
}

TEST(ReleaseIdleMemory, AdvisesThisExecutablesCodeOutAndEverythingStillRuns) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const long before = resident_kb_of(self);
  ASSERT_GT(before, 0);
  const ReleasedMemory released = release_idle_memory();
  // The code and constants of this test binary were covered.
  EXPECT_GT(released.code_bytes, 0U);
  const long after = resident_kb_of(self);
  EXPECT_LT(after, before) << "resident kB of " << self << ": " << before << " -> " << after;
  // The code pages come back as they are needed: this very code runs on,
  // and a second release finds them resident again.
  EXPECT_GT(resident_kb_of(self), 0);
  EXPECT_GT(release_idle_memory().code_bytes, 0U);
}

}  // namespace
}  // namespace nebula::base
