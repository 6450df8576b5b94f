#pragma once

// CPU and memory of a container, read from its cgroup (DESIGN §4: docker
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

struct CgroupUsage {
  std::uint64_t cpu_us = 0;
  std::uint64_t max_memory_bytes = 0;
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
  // cannot be read is 0.
  [[nodiscard]] CgroupUsage read(std::string_view parent) const;

  // Removes `parent` (and anything left below it) from every hierarchy.
  // Best effort: a cgroup still in use stays.
  void remove(std::string_view parent) const;

  // Removes this instance's directory, at shutdown.
  void remove_instance() const;

  // Removes the directories of Nebula instances whose process is gone
  // (leftovers of a crash), at start-up.
  void remove_stale_instances() const;

  // How many times the kernel OOM-killed a process in the memory cgroup of
  // host process `pid` (a running container's init). nullopt when it
  // cannot be read.
  [[nodiscard]] static std::optional<std::uint64_t> oom_kills_of_pid(std::string_view root,
                                                                     int pid);

 private:
  [[nodiscard]] std::string instance_dir() const;  // "/nebula/<instance>"

  std::string root_;
  std::string instance_;
  bool v2_ = false;
  bool enabled_ = false;
  std::string disabled_reason_;
};

}  // namespace nebula::docker
