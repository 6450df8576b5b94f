#pragma once

// What `nebula bench` reads from the machine: its description for the
// report, and the counters that bracket each measurement window.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/model.hpp"

namespace nebula::bench {

// CPU model, core count, memory, kernel and OS. The Nebula, wasmtime and
// Docker versions are the server's, filled in by the caller.
[[nodiscard]] MachineInfo describe_machine();

// Package energy from RAPL (/sys/class/powercap/intel-rapl:N/energy_uj).
// Each counter wraps at its max_energy_range_uj; read() unwraps them, so it
// must be called at least once per wrap period (tens of minutes at most on
// any real package; every window and call loop here is far shorter).
// Not thread-safe: one meter per benchmark.
class EnergyMeter {
 public:
  // Finds the package zones under `powercap` (another directory in tests).
  // Without any readable zone the meter is unavailable and description()
  // says why.
  [[nodiscard]] static EnergyMeter open(
      const std::filesystem::path& powercap = "/sys/class/powercap");

  [[nodiscard]] bool available() const noexcept { return !zones_.empty(); }
  // "RAPL package-0 (intel-rapl:0), …" or why there is no reading.
  [[nodiscard]] const std::string& description() const noexcept { return description_; }

  // Energy in µJ since open(), all packages summed; nullopt when
  // unavailable or a counter can no longer be read.
  [[nodiscard]] std::optional<double> read();

 private:
  struct Zone {
    std::string path;  // …/energy_uj
    std::uint64_t range_uj = 0;
    std::uint64_t last_uj = 0;
    double total_uj = 0;
  };
  std::vector<Zone> zones_;
  std::string description_;
};

// One reading of every counter a window uses.
struct Reading {
  std::chrono::steady_clock::time_point at;
  std::uint64_t busy_ticks = 0;  // /proc/stat, every CPU
  std::uint64_t own_cpu_us = 0;  // this process, user + system
  std::optional<double> energy_uj;
};

// Reads /proc/stat, getrusage(RUSAGE_SELF) and the energy meter. nullopt
// when /proc/stat cannot be read (not Linux, or /proc not mounted).
[[nodiscard]] std::optional<Reading> take_reading(EnergyMeter& energy);

// µs of CPU time in `ticks` of /proc/stat, which counts `ticks_per_second`.
[[nodiscard]] double ticks_to_us(std::uint64_t ticks, std::int64_t ticks_per_second) noexcept;

// What changed from `before` to `after`. /proc/stat's busy ticks only grow,
// except when a CPU goes offline and its ticks leave the sum: a counter
// that went backwards counts as 0, never as a wrap-around to 2^64.
[[nodiscard]] Interval between(const Reading& before, const Reading& after,
                               std::int64_t ticks_per_second) noexcept;

// The µJ a RAPL counter counted from `last_uj` to `now_uj`: it counts up to
// `range_uj` (max_energy_range_uj) and starts again from 0.
[[nodiscard]] std::uint64_t energy_counted_uj(std::uint64_t last_uj, std::uint64_t now_uj,
                                              std::uint64_t range_uj) noexcept;

}  // namespace nebula::bench
