#include "metrics/process.hpp"

#include <charconv>
#include <filesystem>
#include <string>
#include <string_view>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "base/files.hpp"

namespace nebula::metrics {
namespace {

Result<std::string> read_proc_file(const char* path) {
  auto text = base::read_file(path);
  if (!text) {
    return make_error(ErrorKind::kUnavailable,
                      std::string("cannot read ") + path + " (is /proc mounted?)");
  }
  return std::move(*text);
}

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::uint64_t ticks_to_us(std::uint64_t ticks) {
  return ticks * 1'000'000ULL / static_cast<std::uint64_t>(clock_ticks_per_second());
}

}  // namespace

std::int64_t clock_ticks_per_second() noexcept {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? hz : 100;
}

Result<ProcessStats> process_stats() {
  auto text = read_proc_file("/proc/self/stat");
  if (!text) return std::move(text).error();
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so the
  // fields are counted from the last ')'. proc(5) numbers them from 1 (pid);
  // after the ')' field 3 (state) has index 0.
  const auto close = text->rfind(')');
  if (close == std::string::npos) {
    return make_error(ErrorKind::kInternal, "/proc/self/stat has an unexpected format");
  }
  const auto fields = split_spaces(std::string_view(*text).substr(close + 1));
  constexpr std::size_t kUtime = 14 - 3;
  constexpr std::size_t kStime = 15 - 3;
  constexpr std::size_t kVsize = 23 - 3;
  constexpr std::size_t kRss = 24 - 3;  // in pages
  ProcessStats stats;
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  std::uint64_t rss_pages = 0;
  if (fields.size() <= kRss || !parse_u64(fields[kUtime], utime) ||
      !parse_u64(fields[kStime], stime) || !parse_u64(fields[kVsize], stats.virtual_bytes) ||
      !parse_u64(fields[kRss], rss_pages)) {
    return make_error(ErrorKind::kInternal, "/proc/self/stat has an unexpected format");
  }
  stats.user_cpu_us = ticks_to_us(utime);
  stats.system_cpu_us = ticks_to_us(stime);
  stats.resident_bytes = rss_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return stats;
}

std::uint64_t thread_cpu_us() noexcept {
  timespec ts{};
  // Cannot fail for the calling thread's own clock on Linux.
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000ULL;
}

Result<SystemCpu> system_cpu_jiffies() {
  auto text = read_proc_file("/proc/stat");
  if (!text) return std::move(text).error();
  // The first line sums all CPUs: "cpu  user nice system idle iowait irq
  // softirq steal guest guest_nice". guest and guest_nice are already
  // counted in user and nice, so they are not read.
  const std::string_view all(*text);
  const auto fields = split_spaces(all.substr(0, all.find('\n')));
  SystemCpu cpu;
  std::uint64_t* const out[] = {&cpu.user,   &cpu.nice, &cpu.system,  &cpu.idle,
                                &cpu.iowait, &cpu.irq,  &cpu.softirq, &cpu.steal};
  if (fields.empty() || fields[0] != "cpu") {
    return make_error(ErrorKind::kInternal, "/proc/stat does not start with a 'cpu' line");
  }
  // Old kernels have fewer columns; the missing ones stay 0.
  for (std::size_t i = 0; i < std::size(out) && i + 1 < fields.size(); ++i) {
    if (!parse_u64(fields[i + 1], *out[i])) {
      return make_error(ErrorKind::kInternal, "/proc/stat has an unexpected 'cpu' line");
    }
  }
  return cpu;
}

}  // namespace nebula::metrics

namespace nebula::metrics {

void Footprint::add(const Footprint& other) noexcept {
  processes += other.processes;
  resident_bytes += other.resident_bytes;
  cpu_us += other.cpu_us;
  threads += other.threads;
  open_fds += other.open_fds;
  voluntary_switches += other.voluntary_switches;
  involuntary_switches += other.involuntary_switches;
}

namespace {

// The value of "Key:" in a /proc/…/status text, as a number (kB for sizes).
std::uint64_t status_field(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = text.find(key, pos)) != std::string_view::npos) {
    if ((pos == 0 || text[pos - 1] == '\n') && pos + key.size() < text.size() &&
        text[pos + key.size()] == ':') {
      std::size_t i = pos + key.size() + 1;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      std::size_t end = i;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      std::uint64_t value = 0;
      if (parse_u64(text.substr(i, end - i), value)) return value;
      return 0;
    }
    pos += key.size();
  }
  return 0;
}

}  // namespace

Result<Footprint> footprint_of(int pid) {
  namespace fs = std::filesystem;
  const fs::path dir = pid == 0 ? fs::path("/proc/self") : fs::path("/proc") / std::to_string(pid);
  auto stat = base::read_file(dir / "stat");
  auto status = base::read_file(dir / "status");
  if (!stat || !status) {
    return make_error(ErrorKind::kNotFound, "process " + std::to_string(pid) + " is gone");
  }
  Footprint f;
  f.processes = 1;
  f.resident_bytes = status_field(*status, "VmRSS") * 1024;
  f.threads = status_field(*status, "Threads");
  const auto close = stat->rfind(')');
  if (close != std::string::npos) {
    const auto fields = split_spaces(std::string_view(*stat).substr(close + 1));
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    if (fields.size() > 12 && parse_u64(fields[11], utime) && parse_u64(fields[12], stime)) {
      f.cpu_us = ticks_to_us(utime + stime);
    }
  }
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir / "fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    ++f.open_fds;
  }
  // Context switches are counted per thread.
  for (auto it = fs::directory_iterator(dir / "task", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (auto task = base::read_file(it->path() / "status")) {
      f.voluntary_switches += status_field(*task, "voluntary_ctxt_switches");
      f.involuntary_switches += status_field(*task, "nonvoluntary_ctxt_switches");
    }
  }
  return f;
}

Footprint footprint_of_named(const std::vector<std::string>& names) {
  namespace fs = std::filesystem;
  Footprint total;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string pid = it->path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto comm = base::read_file(it->path() / "comm");
    if (!comm) continue;
    while (!comm->empty() && comm->back() == '\n') comm->pop_back();
    bool match = false;
    for (const std::string& name : names) {
      if (!name.empty() && name.back() == '*') {
        match = match || comm->starts_with(std::string_view(name).substr(0, name.size() - 1));
      } else {
        match = match || *comm == name;
      }
    }
    if (!match) continue;
    if (auto f = footprint_of(std::stoi(pid))) total.add(*f);
  }
  return total;
}

}  // namespace nebula::metrics
