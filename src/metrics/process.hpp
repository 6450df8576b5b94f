#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace nebula::metrics {

// Resource use of this process, from /proc/self/stat.
struct ProcessStats {
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t user_cpu_us = 0;  // kernel clock-tick resolution (usually 10 ms)
  std::uint64_t system_cpu_us = 0;

  [[nodiscard]] double cpu_seconds() const noexcept {
    return static_cast<double>(user_cpu_us + system_cpu_us) / 1e6;
  }
};

[[nodiscard]] Result<ProcessStats> process_stats();

// CPU time consumed by the calling thread, in µs (CLOCK_THREAD_CPUTIME_ID,
// nanosecond resolution). The wasm runtime brackets a guest call with two
// readings; the thread runs nothing else in between.
[[nodiscard]] std::uint64_t thread_cpu_us() noexcept;

// The machine-wide CPU time counters of /proc/stat's "cpu" line, in clock
// ticks (clock_ticks_per_second()). Two readings bracket a benchmark run so
// that the work of every process (dockerd, containerd, runc, the kernel) is
// counted, not only Nebula's.
struct SystemCpu {
  std::uint64_t user = 0;  // includes guest time
  std::uint64_t nice = 0;  // includes guest_nice time
  std::uint64_t system = 0;
  std::uint64_t idle = 0;
  std::uint64_t iowait = 0;
  std::uint64_t irq = 0;
  std::uint64_t softirq = 0;
  std::uint64_t steal = 0;

  // Ticks spent doing work on any CPU.
  [[nodiscard]] std::uint64_t busy() const noexcept {
    return user + nice + system + irq + softirq + steal;
  }
  [[nodiscard]] std::uint64_t total() const noexcept { return busy() + idle + iowait; }
};

[[nodiscard]] Result<SystemCpu> system_cpu_jiffies();

// What a process (or a group of processes) costs at a moment, from /proc:
// memory, CPU so far, threads, descriptors, and wakeups (voluntary context
// switches summed over its threads: how often it went to sleep and was woken
// again, the figure an idle server must keep low).
struct Footprint {
  std::uint64_t processes = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t cpu_us = 0;
  std::uint64_t threads = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;

  void add(const Footprint& other) noexcept;
};

// One process; pid 0 is this one. kNotFound when it is gone.
[[nodiscard]] Result<Footprint> footprint_of(int pid);

// Every process whose name (/proc/PID/comm) is one of `names` or starts with
// one ending in '*' (e.g. "containerd-shim*"), summed: the Docker engine's
// own cost at rest is dockerd + containerd + the shims.
[[nodiscard]] Footprint footprint_of_named(const std::vector<std::string>& names);

// USER_HZ: the unit of /proc's CPU times (100 on every mainstream Linux).
[[nodiscard]] std::int64_t clock_ticks_per_second() noexcept;

}  // namespace nebula::metrics
