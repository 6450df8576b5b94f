#include "docker/cgroup.hpp"

#include <charconv>
#include <filesystem>
#include <sstream>

#include "base/files.hpp"

namespace nebula::docker {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kNebulaDir = "nebula";

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> read_u64(const fs::path& path) {
  auto text = base::read_file(path);
  if (!text) return std::nullopt;
  return parse_u64(*text);
}

// The value of `key` in a flat keyed file ("key value" per line), such as
// cpu.stat, memory.events or memory.oom_control.
std::optional<std::uint64_t> read_keyed(const fs::path& path, std::string_view key) {
  auto text = base::read_file(path);
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string_view view(line);
    if (view.size() > key.size() && view.substr(0, key.size()) == key && view[key.size()] == ' ') {
      return parse_u64(view.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

// rmdir works on a cgroup directory despite its control files, but only
// once its child cgroups are gone: remove depth first.
void remove_tree(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) remove_tree(entry.path());
  }
  fs::remove(dir, ec);
}

// The mounted hierarchies: for v2 the root itself; for v1 every directory
// under the root that is a cgroup mount (it has cgroup.procs). Symlinks such
// as cpuacct → cpu,cpuacct are skipped: their target is listed already.
std::vector<fs::path> hierarchies(const fs::path& root, bool v2) {
  if (v2) return {root};
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    if (fs::exists(entry.path() / "cgroup.procs", ec)) out.push_back(entry.path());
  }
  return out;
}

fs::path under(const fs::path& base, std::string_view absolute) {
  // CgroupParent paths are absolute within a hierarchy; strip the '/'.
  while (!absolute.empty() && absolute.front() == '/') absolute.remove_prefix(1);
  return base / fs::path(absolute);
}

bool process_alive(std::string_view pid_text) {
  int pid = 0;
  auto [ptr, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc{} || pid <= 0) return true;  // not ours to judge: keep it
  std::error_code fs_ec;
  return fs::exists(fs::path("/proc") / std::to_string(pid), fs_ec);
}

}  // namespace

CgroupAccounting::CgroupAccounting(std::string root, const EngineInfo& engine, std::string instance)
    : root_(std::move(root)), instance_(std::move(instance)) {
  std::error_code ec;
  v2_ = fs::exists(fs::path(root_) / "cgroup.controllers", ec);
  if (engine.cgroup_driver != "cgroupfs") {
    disabled_reason_ = "the Docker engine uses the '" + engine.cgroup_driver +
                       "' cgroup driver; Nebula reads per-container CPU and memory only with "
                       "cgroupfs (start dockerd with scripts/ensure-docker.sh)";
    return;
  }
  if ((engine.cgroup_version == "2") != v2_) {
    disabled_reason_ = "the Docker engine reports cgroup v" + engine.cgroup_version + " but " +
                       root_ + " is not mounted that way";
    return;
  }
  if (!v2_ && !(fs::exists(fs::path(root_) / "cpuacct", ec) &&
                fs::exists(fs::path(root_) / "memory", ec))) {
    disabled_reason_ = "no cpuacct and memory cgroup v1 hierarchies under " + root_;
    return;
  }
  enabled_ = true;
}

std::string CgroupAccounting::instance_dir() const {
  // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) about a
  // chain of operator+ here.
  std::string path = "/";
  path.append(kNebulaDir).append("/").append(instance_);
  return path;
}

std::string CgroupAccounting::parent_for(std::uint64_t n) const {
  if (!enabled_) return {};
  return instance_dir().append("/").append(std::to_string(n));
}

CgroupUsage CgroupAccounting::read(std::string_view parent) const {
  CgroupUsage usage;
  if (!enabled_ || parent.empty()) return usage;
  const fs::path root(root_);
  if (v2_) {
    const fs::path dir = under(root, parent);
    usage.cpu_us = read_keyed(dir / "cpu.stat", "usage_usec").value_or(0);
    // memory.peak appeared in Linux 5.19; without it the peak is unknown (0).
    usage.max_memory_bytes = read_u64(dir / "memory.peak").value_or(0);
  } else {
    usage.cpu_us = read_u64(under(root / "cpuacct", parent) / "cpuacct.usage").value_or(0) / 1000;
    usage.max_memory_bytes =
        read_u64(under(root / "memory", parent) / "memory.max_usage_in_bytes").value_or(0);
  }
  return usage;
}

void CgroupAccounting::remove(std::string_view parent) const {
  if (!enabled_ || parent.empty()) return;
  for (const fs::path& hierarchy : hierarchies(root_, v2_)) {
    std::error_code ec;
    const fs::path dir = under(hierarchy, parent);
    if (fs::exists(dir, ec)) remove_tree(dir);
  }
}

void CgroupAccounting::remove_instance() const {
  if (!enabled_) return;
  remove(instance_dir());
}

void CgroupAccounting::remove_stale_instances() const {
  if (!enabled_) return;
  for (const fs::path& hierarchy : hierarchies(root_, v2_)) {
    std::error_code ec;
    const fs::path base = hierarchy / kNebulaDir;
    for (const fs::directory_entry& entry : fs::directory_iterator(base, ec)) {
      if (!entry.is_directory(ec)) continue;
      const std::string name = entry.path().filename().string();
      if (name == instance_) continue;
      // Instance names start with the creating process's pid.
      const std::string_view pid = std::string_view(name).substr(0, name.find('-'));
      if (!process_alive(pid)) remove_tree(entry.path());
    }
  }
}

std::optional<std::uint64_t> CgroupAccounting::oom_kills_of_pid(std::string_view root, int pid) {
  if (pid <= 0) return std::nullopt;
  auto text = base::read_file(fs::path("/proc") / std::to_string(pid) / "cgroup");
  if (!text) return std::nullopt;
  std::istringstream lines(*text);
  std::string line;
  // Lines are "id:controllers:path"; v1 has one per hierarchy, v2 one "0::".
  while (std::getline(lines, line)) {
    const std::size_t first = line.find(':');
    const std::size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    const std::string_view path = std::string_view(line).substr(second + 1);
    if (controllers.empty() && line.compare(0, first, "0") == 0) {
      // v2 counts kills below this cgroup in memory.events too.
      const fs::path dir = under(fs::path(root), path);
      if (auto kills = read_keyed(dir / "memory.events", "oom_kill")) return kills;
      continue;
    }
    std::string_view rest = controllers;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view controller = rest.substr(0, comma);
      if (controller == "memory") {
        // memory.oom_control has "oom_kill N" since Linux 4.13.
        return read_keyed(under(fs::path(root) / "memory", path) / "memory.oom_control",
                          "oom_kill");
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return std::nullopt;
}

}  // namespace nebula::docker
