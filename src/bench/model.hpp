#pragma once

// The data of one `nebula bench` run and the statistics over it. Pure: no
// I/O, so that the summaries and ratios can be checked on their own.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/invocation.hpp"

namespace nebula::bench {

// The three ways a function runs. docker-cold and docker-warm are the same
// image: one container per call, or a pool of kept-running containers.
enum class Runtime { kWasm, kDockerCold, kDockerWarm };

inline constexpr std::array<Runtime, 3> kAllRuntimes = {Runtime::kWasm, Runtime::kDockerCold,
                                                        Runtime::kDockerWarm};

[[nodiscard]] const char* to_string(Runtime runtime) noexcept;

// One measured invocation. The phase durations, CPU and memory come from
// the server's invocation record, so both runtimes are measured by the same
// code with the same definition; `client_us` is the round trip seen by the
// benchmark, for reference only.
struct Sample {
  unsigned repetition = 0;
  unsigned position = 0;  // 0 = this runtime went first in its repetition
  unsigned http_status = 0;
  std::string invocation_id;
  std::string outcome;  // the record's outcome; empty when there is no record
  int exit_code = 0;
  bool cold = false;
  std::optional<bool> output_matches;  // nullopt: no reference answer to compare with
  Timings timings;                     // the record's phases
  std::int64_t client_us = 0;
  // nullopt when the server could not measure them (its record says null):
  // left out of the statistics, never counted as 0.
  std::optional<std::uint64_t> cpu_us;
  std::optional<std::uint64_t> max_memory_bytes;
  std::string error;  // why the call does not count; empty when it counts

  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// What the counters say happened between two readings (machine.hpp's
// between()): wall time, machine-wide busy CPU from /proc/stat, the
// benchmark process' own CPU time and, where RAPL exists, energy.
struct Interval {
  double wall_s = 0;
  double busy_cpu_us = 0;
  double own_cpu_us = 0;
  std::optional<double> energy_uj;
};

// Back-to-back calls of one function on one runtime, bracketed by readings
// of /proc/stat, of this process' own CPU time and, where it exists, RAPL.
struct Window {
  unsigned calls = 0;
  unsigned failures = 0;
  double wall_s = 0;
  double busy_cpu_us = 0;                    // machine-wide, from /proc/stat
  double own_cpu_us = 0;                     // the benchmark process itself (its HTTP client)
  double baseline_cpu_us = 0;                // idle rate × wall_s
  std::optional<double> energy_uj;           // RAPL, whole window
  std::optional<double> baseline_energy_uj;  // idle power × wall_s
  std::map<std::string, unsigned> failure_kinds;

  // Takes the interval's wall time, CPU and energy.
  void set_interval(const Interval& interval);

  // Machine-wide CPU per counted call above idle, without the benchmark's
  // own work; nullopt when no call counted. Never negative: a window whose
  // busy time comes out below the idle rate (a very cheap function, and an
  // idle rate that wobbles) cost nothing measurable, not less than nothing.
  [[nodiscard]] std::optional<double> system_cpu_us_per_call() const;
  // Energy per counted call above idle power; never negative either.
  [[nodiscard]] std::optional<double> energy_uj_per_call() const;
};

// The machine at rest, measured before the runs (after deployment, so the
// idle warm containers and the engine's own housekeeping are part of it).
struct Baseline {
  double wall_s = 0;
  double busy_cpu_us = 0;
  std::optional<double> energy_uj;

  [[nodiscard]] double busy_cpu_us_per_s() const noexcept {
    return wall_s > 0 ? busy_cpu_us / wall_s : 0;
  }
  [[nodiscard]] std::optional<double> power_uw() const {
    if (!energy_uj || wall_s <= 0) return std::nullopt;
    return *energy_uj / wall_s;
  }
};

// Two idle periods as one: their time and their counts added.
[[nodiscard]] Baseline combine(const Baseline& a, const Baseline& b);

// An idle period from its interval: the machine's busy CPU without the
// benchmark's own (it only sleeps then, which keeps the definition the same
// as in the windows), never below 0.
[[nodiscard]] Baseline idle_period(const Interval& interval);

// The q-quantile (0 ≤ q ≤ 1) of `sorted` (ascending) by linear
// interpolation between the closest ranks, rank q × (n − 1); 0 when empty.
[[nodiscard]] double percentile(const std::vector<double>& sorted, double q) noexcept;

// p50/p90/p99 by linear interpolation between the closest ranks.
struct Distribution {
  std::size_t count = 0;
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double mean = 0;
  double max = 0;
};

[[nodiscard]] Distribution distribution(std::vector<double> values);

struct Cell {
  Runtime runtime = Runtime::kWasm;
  unsigned warmup_calls = 0;
  unsigned warmup_failures = 0;
  std::vector<Sample> samples;
  std::optional<Window> window;
};

struct CellSummary {
  std::size_t calls = 0;
  std::size_t ok = 0;
  std::size_t failures = 0;
  std::size_t cold_starts = 0;  // among the calls that count
  std::map<std::string, std::size_t> failure_kinds;
  Distribution queue_us;
  Distribution startup_us;
  Distribution exec_us;
  Distribution teardown_us;
  Distribution total_us;
  Distribution client_us;
  Distribution cpu_us;
  Distribution max_memory_bytes;
  std::optional<double> system_cpu_us_per_call;
  std::optional<double> energy_uj_per_call;
};

[[nodiscard]] CellSummary summarize(const Cell& cell);

struct FunctionRun {
  std::string name;
  std::string input;
  // --languages: the project's language and example, and the sizes of what
  // each runtime loads (the wasm artifact; the image as the engine reports
  // it, base image layers included).
  std::string language;
  std::string example;
  std::optional<std::uint64_t> wasm_bytes;
  std::optional<std::uint64_t> image_bytes;
  std::optional<std::string> reference_output;  // wasm's answer; outputs are compared to it
  std::string reference_error;                  // why there is no reference
  std::vector<Cell> cells;                      // in kAllRuntimes order, measured ones only

  [[nodiscard]] const Cell* cell(Runtime runtime) const;
};

// docker/wasm for one metric: null when either side was not measured or
// the wasm value is zero.
struct Ratios {
  std::optional<double> startup_p50;
  std::optional<double> total_p50;
  std::optional<double> cpu_per_invocation;
  std::optional<double> system_cpu_per_invocation;
  std::optional<double> memory;
  std::optional<double> energy_per_invocation;
};

[[nodiscard]] Ratios ratios(const CellSummary& docker, const CellSummary& wasm);

// The geometric mean of per-function ratios: null when any function lacks
// the ratio (a mean over a subset would be a different benchmark), zero when
// any is zero, as a warm container's start-up is.
[[nodiscard]] Ratios geometric_mean(const std::vector<Ratios>& per_function);

struct MachineInfo {
  std::string cpu_model;
  unsigned logical_cpus = 0;
  bool virtual_machine = false;
  std::uint64_t memory_bytes = 0;
  std::string kernel;
  std::string os;
  // The server's, from GET /v1/info; empty when unknown (an older server)
  // or, for Docker, not measured.
  std::string server_version;
  std::string docker_version;  // "28.2.2 (API 1.50)"
  std::string wasmtime_version;
  std::string energy_source;  // RAPL zones, or why there is none
  bool energy_available = false;
  std::int64_t clock_ticks_per_second = 100;
};

struct Run {
  std::string started_at;  // UTC, ISO 8601
  double duration_s = 0;
  std::string server;  // "own" or the URL of the server used
  unsigned runs = 0;
  unsigned warmup = 0;
  double min_window_s = 0;
  std::vector<Runtime> runtimes;
  MachineInfo machine;
  // The idle machine before the first and after the last measured call,
  // and both together: the rate every window subtracts (set_baseline).
  Baseline idle_before;
  Baseline idle_after;
  Baseline baseline;
  std::vector<FunctionRun> functions;
  std::vector<std::string> notes;  // anything the reader must know
};

// Sets run.baseline from the idle periods and each window's idle share
// (the idle rate × the window's length).
void set_baseline(Run& run);

// Everything the report and the charts need, computed once.
struct Summary {
  // [function index][runtime] → summary
  std::vector<std::map<Runtime, CellSummary>> cells;
  // Every function pooled, per runtime (for the headline figures).
  std::map<Runtime, CellSummary> pooled;
  // docker-cold and docker-warm against wasm, per function and overall.
  std::map<Runtime, std::vector<Ratios>> ratios_by_function;
  std::map<Runtime, Ratios> ratios_overall;
  std::size_t calls = 0;
  std::size_t failures = 0;
};

[[nodiscard]] Summary summarize(const Run& run);

// results.json: settings, machine, raw samples, windows, summaries, ratios.
[[nodiscard]] boost::json::value to_json(const Run& run, const Summary& summary);

// The machine as every suite's JSON describes it (unknown versions null).
[[nodiscard]] boost::json::value machine_json(const MachineInfo& m);

}  // namespace nebula::bench
