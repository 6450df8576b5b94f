#include "base/memory.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace nebula::base {

ReleasedMemory release_idle_memory() noexcept {
  ReleasedMemory released;
  released.heap_trimmed = ::malloc_trim(0) != 0;
#ifdef MADV_PAGEOUT
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec || self.empty()) return released;
  std::FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return released;
  // "start-end perms offset dev inode path": only this executable's
  // mappings that nothing writes (r-x code, r-- constants), whose pages are
  // the file's own and can be dropped without writing anything back.
  char line[4096];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) {
      continue;
    }
    if (perms[1] == 'w' || perms[0] != 'r') continue;
    std::string path = line + path_at;
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (path != self) continue;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the address comes from the kernel's own map.
    if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_PAGEOUT) == 0) {
      released.code_bytes += end - start;
    }
  }
  std::fclose(maps);
#endif
  return released;
}

}  // namespace nebula::base
