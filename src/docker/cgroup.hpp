#pragma once

// CPU and memory of a container, read from its cgroup (the docs: docker
// `cpu_us` is the container's cgroup CPU usage, `max_memory_bytes` its
// cgroup peak).
//
// A container's own cgroup disappears when it exits, before Nebula could read
// it. So every cold container gets a parent cgroup of Nebula's,
// `/nebula/<instance>/<n>` (HostConfig.CgroupParent); the container
// runtime (runc) creates it in every hierarchy. A parent accumulates its children's
// usage and keeps it after they are gone: after the container exits Nebula
// reads the parent's totals, then removes it.
//
//   cgroup v1: cpuacct/<parent>/cpuacct.usage (ns) and
//              memory/<parent>/memory.max_usage_in_bytes
//   cgroup v2: <parent>/cpu.stat usage_usec and <parent>/memory.peak
//              (memory.peak needs Linux 5.19; older kernels report 0)
//
// This only works when the engine uses the cgroupfs driver, where
// CgroupParent is a plain path. With the systemd driver the engine names
// cgroups as systemd slices; accounting is then disabled and Nebula reports
// 0 rather than a number it did not measure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "docker/api.hpp"

namespace nebula::docker {

// A figure that could not be read is unset, never 0.
struct CgroupUsage {
  std::optional<std::uint64_t> cpu_us;
  std::optional<std::uint64_t> max_memory_bytes;
};

class CgroupAccounting {
 public:
  // `root` is where the hierarchies are mounted (/sys/fs/cgroup); `instance`
  // names this Nebula process (see Runtime) and must be a safe path segment.
  CgroupAccounting(std::string root, const EngineInfo& engine, std::string instance);

  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  // Why accounting is disabled (empty when enabled).
  [[nodiscard]] const std::string& disabled_reason() const noexcept { return disabled_reason_; }

  // The CgroupParent for invocation `n`; empty when disabled.
  [[nodiscard]] std::string parent_for(std::uint64_t n) const;

  // The totals of `parent` after its container exited. A counter that
  // cannot be read is unset.
  [[nodiscard]] CgroupUsage read(std::string_view parent) const;

  // Removes `parent` (and anything left below it) from every hierarchy.
  // Best effort: a cgroup still in use stays.
  void remove(std::string_view parent) const;

  // Removes this instance's directory, at shutdown.
  void remove_instance() const;

  // Removes the directories of Nebula instances whose process is gone
  // (leftovers of a crash), at start-up.
  void remove_stale_instances() const;

 private:
  [[nodiscard]] std::string instance_dir() const;  // "/nebula/<instance>"

  std::string root_;
  std::string instance_;
  bool v2_ = false;
  bool enabled_ = false;
  std::string disabled_reason_;
};

// The cgroup of one running container, located once from its init's host
// pid (/proc/<pid>/cgroup), for what a warm container's requests cost: the
// same counters a cold container is measured with, read around each request.
//
//   CPU:    the usage counter before and after the request (the watchdog's
//           own work for the request counts: it is the container's cost).
//   memory: the high-water mark, reset before the request and read after
//           (cgroup v1: write 0 to memory.max_usage_in_bytes; v2: write to
//           memory.peak, which resets it for reads through the same open
//           file, Linux 6.12+).
//
// Not thread-safe: a warm container serves one request at a time.
class ContainerCgroup {
 public:
  // nullopt when the process is gone or its cgroups cannot be found.
  [[nodiscard]] static std::optional<ContainerCgroup> of_pid(const std::string& root, int pid);

  ContainerCgroup(ContainerCgroup&& other) noexcept;
  ContainerCgroup& operator=(ContainerCgroup&& other) noexcept;
  ContainerCgroup(const ContainerCgroup&) = delete;
  ContainerCgroup& operator=(const ContainerCgroup&) = delete;
  ~ContainerCgroup();

  // Before a request: remembers the CPU counter, resets the memory peak.
  void begin();
  // After it: CPU used and peak memory since begin(); unset for a figure
  // that could not be had (no counter, or a peak that could not be reset).
  [[nodiscard]] CgroupUsage end();

  // How many times the kernel OOM-killed a process in this cgroup.
  [[nodiscard]] std::optional<std::uint64_t> oom_kills() const;

 private:
  ContainerCgroup() = default;

  bool v2_ = false;
  std::string cpu_dir_;     // v1 cpuacct hierarchy dir, or the v2 cgroup dir
  std::string memory_dir_;  // v1 memory hierarchy dir, or the v2 cgroup dir
  std::optional<std::uint64_t> cpu_before_us_;
  bool peak_reset_ = false;
  int peak_fd_ = -1;  // v2: memory.peak, kept open for reset-then-read
};

}  // namespace nebula::docker
