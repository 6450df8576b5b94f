#include "bench/machine.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <thread>

#include "base/files.hpp"
#include "metrics/process.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n\"");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n\"");
  return s.substr(first, last - first + 1);
}

// The value of "key<sep>value" lines (/proc/cpuinfo, /proc/meminfo,
// /etc/os-release): the first line whose key matches.
std::string field(const std::string& text, const std::string& key, char sep) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto at = line.find(sep);
    if (at == std::string::npos) continue;
    if (trim(line.substr(0, at)) == key) return trim(line.substr(at + 1));
  }
  return {};
}

std::optional<std::uint64_t> read_u64(const fs::path& path) {
  const std::string text = trim(base::read_file(path).value_or(""));
  if (text.empty()) return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  const std::string cpuinfo = base::read_file("/proc/cpuinfo").value_or("");
  m.cpu_model = field(cpuinfo, "model name", ':');
  if (m.cpu_model.empty()) m.cpu_model = field(cpuinfo, "Model", ':');  // arm64 boards
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  std::istringstream lines(cpuinfo);
  std::string line;
  unsigned processors = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("processor", 0) == 0) ++processors;
  }
  m.logical_cpus = processors != 0 ? processors : std::thread::hardware_concurrency();
  // x86 guests see the "hypervisor" CPUID bit among their flags.
  const std::string flags = field(cpuinfo, "flags", ':');
  m.virtual_machine = (" " + flags + " ").find(" hypervisor ") != std::string::npos;

  const std::string mem_total =
      field(base::read_file("/proc/meminfo").value_or(""), "MemTotal", ':');
  try {
    m.memory_bytes = std::stoull(mem_total) * 1024;  // "24683932 kB"
  } catch (const std::exception&) {
    m.memory_bytes = 0;
  }

  struct utsname uts {};
  if (::uname(&uts) == 0)
    m.kernel = std::string(uts.sysname) + " " + uts.release + " " + uts.machine;
  m.os = field(base::read_file("/etc/os-release").value_or(""), "PRETTY_NAME", '=');
  m.clock_ticks_per_second = metrics::clock_ticks_per_second();
  return m;
}

EnergyMeter EnergyMeter::open(const fs::path& root) {
  EnergyMeter meter;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    meter.description_ = "unavailable (no RAPL on this machine: " + root.string() +
                         " does not exist, as usual in a virtual machine)";
    return meter;
  }
  // Package zones are intel-rapl:N; their sub-zones (intel-rapl:N:M: core,
  // uncore, dram) are parts of the package figure and would count twice.
  std::vector<fs::path> packages;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("intel-rapl:", 0) == 0 && std::count(name.begin(), name.end(), ':') == 1) {
      packages.push_back(entry.path());
    }
  }
  std::sort(packages.begin(), packages.end());
  std::string names;
  for (const auto& dir : packages) {
    auto now = read_u64(dir / "energy_uj");
    auto range = read_u64(dir / "max_energy_range_uj");
    if (!now || !range) continue;  // unreadable: since 2020 only root may read energy_uj
    meter.zones_.push_back(Zone{(dir / "energy_uj").string(), *range, *now, 0});
    const std::string label = trim(base::read_file(dir / "name").value_or(""));
    names += (names.empty() ? "" : ", ") + (label.empty() ? dir.filename().string() : label) +
             " (" + dir.filename().string() + ")";
  }
  if (meter.zones_.empty()) {
    meter.description_ = packages.empty()
                             ? "unavailable (no RAPL on this machine: no intel-rapl package zone "
                               "under /sys/class/powercap)"
                             : "unavailable (RAPL zones exist but energy_uj is not readable; run "
                               "as root)";
  } else {
    meter.description_ = "RAPL " + names;
  }
  return meter;
}

std::optional<double> EnergyMeter::read() {
  if (zones_.empty()) return std::nullopt;
  double sum = 0;
  for (auto& zone : zones_) {
    auto now = read_u64(zone.path);
    if (!now) return std::nullopt;
    zone.total_uj += static_cast<double>(energy_counted_uj(zone.last_uj, *now, zone.range_uj));
    zone.last_uj = *now;
    sum += zone.total_uj;
  }
  return sum;
}

std::optional<Reading> take_reading(EnergyMeter& energy) {
  auto cpu = metrics::system_cpu_jiffies();
  if (!cpu) return std::nullopt;
  Reading r;
  r.at = std::chrono::steady_clock::now();
  r.busy_ticks = cpu->busy();
  struct rusage usage {};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    auto us = [](const timeval& tv) {
      return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000ULL +
             static_cast<std::uint64_t>(tv.tv_usec);
    };
    r.own_cpu_us = us(usage.ru_utime) + us(usage.ru_stime);
  }
  r.energy_uj = energy.read();
  return r;
}

double ticks_to_us(std::uint64_t ticks, std::int64_t ticks_per_second) noexcept {
  if (ticks_per_second <= 0) return 0;
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(ticks_per_second);
}

Interval between(const Reading& before, const Reading& after,
                 std::int64_t ticks_per_second) noexcept {
  Interval d;
  d.wall_s = std::max(0.0, std::chrono::duration<double>(after.at - before.at).count());
  if (after.busy_ticks > before.busy_ticks) {
    d.busy_cpu_us = ticks_to_us(after.busy_ticks - before.busy_ticks, ticks_per_second);
  }
  if (after.own_cpu_us > before.own_cpu_us) {
    d.own_cpu_us = static_cast<double>(after.own_cpu_us - before.own_cpu_us);
  }
  if (before.energy_uj && after.energy_uj) {
    d.energy_uj = std::max(0.0, *after.energy_uj - *before.energy_uj);
  }
  return d;
}

std::uint64_t energy_counted_uj(std::uint64_t last_uj, std::uint64_t now_uj,
                                std::uint64_t range_uj) noexcept {
  if (now_uj >= last_uj) return now_uj - last_uj;
  // Wrapped: up to the end of the range, then from 0 to now. A last value
  // beyond the range means the counter was reset instead.
  if (last_uj > range_uj) return now_uj;
  return range_uj - last_uj + now_uj;
}

}  // namespace nebula::bench
