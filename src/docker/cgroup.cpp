#include "docker/cgroup.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

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
    usage.cpu_us = read_keyed(dir / "cpu.stat", "usage_usec");
    // memory.peak appeared in Linux 5.19; without it the peak is unknown.
    usage.max_memory_bytes = read_u64(dir / "memory.peak");
  } else {
    if (auto ns = read_u64(under(root / "cpuacct", parent) / "cpuacct.usage")) {
      usage.cpu_us = *ns / 1000;
    }
    usage.max_memory_bytes = read_u64(under(root / "memory", parent) / "memory.max_usage_in_bytes");
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

namespace {

// The cgroup paths of a process, from /proc/<pid>/cgroup: lines are
// "id:controllers:path"; v1 has one per hierarchy, v2 a single "0::path".
struct ProcessCgroups {
  std::string unified;  // v2
  std::string cpuacct;  // v1
  std::string memory;   // v1
};

std::optional<ProcessCgroups> cgroups_of_pid(int pid) {
  if (pid <= 0) return std::nullopt;
  auto text = base::read_file(fs::path("/proc") / std::to_string(pid) / "cgroup");
  if (!text) return std::nullopt;
  ProcessCgroups found;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t first = line.find(':');
    const std::size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty() && line.compare(0, first, "0") == 0) {
      found.unified = path;
      continue;
    }
    std::string_view rest = controllers;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view controller = rest.substr(0, comma);
      if (controller == "cpuacct") found.cpuacct = path;
      if (controller == "memory") found.memory = path;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return found;
}

bool write_text(const fs::path& path, std::string_view text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace

std::optional<ContainerCgroup> ContainerCgroup::of_pid(const std::string& root, int pid) {
  auto paths = cgroups_of_pid(pid);
  if (!paths) return std::nullopt;
  ContainerCgroup cgroup;
  std::error_code ec;
  if (fs::exists(fs::path(root) / "cgroup.controllers", ec)) {
    if (paths->unified.empty()) return std::nullopt;
    cgroup.v2_ = true;
    cgroup.cpu_dir_ = under(fs::path(root), paths->unified).string();
    cgroup.memory_dir_ = cgroup.cpu_dir_;
  } else {
    if (paths->cpuacct.empty() || paths->memory.empty()) return std::nullopt;
    cgroup.cpu_dir_ = under(fs::path(root) / "cpuacct", paths->cpuacct).string();
    cgroup.memory_dir_ = under(fs::path(root) / "memory", paths->memory).string();
  }
  return cgroup;
}

ContainerCgroup::ContainerCgroup(ContainerCgroup&& other) noexcept
    : v2_(other.v2_),
      cpu_dir_(std::move(other.cpu_dir_)),
      memory_dir_(std::move(other.memory_dir_)),
      cpu_before_us_(other.cpu_before_us_),
      peak_reset_(other.peak_reset_),
      peak_fd_(std::exchange(other.peak_fd_, -1)) {}

ContainerCgroup& ContainerCgroup::operator=(ContainerCgroup&& other) noexcept {
  if (this != &other) {
    if (peak_fd_ >= 0) ::close(peak_fd_);
    v2_ = other.v2_;
    cpu_dir_ = std::move(other.cpu_dir_);
    memory_dir_ = std::move(other.memory_dir_);
    cpu_before_us_ = other.cpu_before_us_;
    peak_reset_ = other.peak_reset_;
    peak_fd_ = std::exchange(other.peak_fd_, -1);
  }
  return *this;
}

ContainerCgroup::~ContainerCgroup() {
  if (peak_fd_ >= 0) ::close(peak_fd_);
}

void ContainerCgroup::begin() {
  if (v2_) {
    cpu_before_us_ = read_keyed(fs::path(cpu_dir_) / "cpu.stat", "usage_usec");
    if (peak_fd_ < 0) {
      peak_fd_ = ::open((fs::path(memory_dir_) / "memory.peak").c_str(), O_RDWR | O_CLOEXEC);
    }
    peak_reset_ = peak_fd_ >= 0 && ::write(peak_fd_, "reset\n", 6) == 6;
  } else {
    auto ns = read_u64(fs::path(cpu_dir_) / "cpuacct.usage");
    cpu_before_us_ = ns ? std::optional<std::uint64_t>(*ns / 1000) : std::nullopt;
    peak_reset_ = write_text(fs::path(memory_dir_) / "memory.max_usage_in_bytes", "0");
  }
}

CgroupUsage ContainerCgroup::end() {
  CgroupUsage usage;
  std::optional<std::uint64_t> cpu_after;
  if (v2_) {
    cpu_after = read_keyed(fs::path(cpu_dir_) / "cpu.stat", "usage_usec");
    if (peak_reset_) {
      char buf[32];
      const ssize_t n = ::pread(peak_fd_, buf, sizeof buf - 1, 0);
      if (n > 0) usage.max_memory_bytes = parse_u64(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  } else {
    if (auto ns = read_u64(fs::path(cpu_dir_) / "cpuacct.usage")) cpu_after = *ns / 1000;
    if (peak_reset_) {
      usage.max_memory_bytes = read_u64(fs::path(memory_dir_) / "memory.max_usage_in_bytes");
    }
  }
  if (cpu_before_us_ && cpu_after && *cpu_after >= *cpu_before_us_) {
    usage.cpu_us = *cpu_after - *cpu_before_us_;
  }
  cpu_before_us_.reset();
  peak_reset_ = false;
  return usage;
}

std::optional<std::uint64_t> ContainerCgroup::oom_kills() const {
  // v2 counts kills below this cgroup in memory.events; v1's
  // memory.oom_control has "oom_kill N" since Linux 4.13.
  if (v2_) return read_keyed(fs::path(memory_dir_) / "memory.events", "oom_kill");
  return read_keyed(fs::path(memory_dir_) / "memory.oom_control", "oom_kill");
}

}  // namespace nebula::docker
