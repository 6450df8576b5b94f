#pragma once

// The data of one `nebula bench --suite near-zero` run and what is
// computed from it: the slope of CPU against load, the plan of offered
// rates, near-zero.json and near-zero.md. Pure: no I/O, so that every
// figure can be checked on known inputs.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "bench/charts.hpp"
#include "bench/energy_model.hpp"
#include "bench/model.hpp"

namespace nebula::bench {

// `nebula bench --suite near-zero`: how little an idle Nebula costs, how
// its cost grows with load, and how it comes back down.
struct NearZeroOptions {
  std::string out_dir;                // near-zero.json, near-zero.md, *.svg
  std::optional<std::string> server;  // refused: the suite starts and measures its own
  bool no_docker = false;             // wasm only
  std::string examples_dir;           // default: examples/ beside the nebula binary
  std::string docker_socket = "/var/run/docker.sock";
  std::string plot_script;    // empty: the plot_near_zero.py built into nebula
  unsigned wasm_idle_s = 10;  // the server's --wasm-idle-s
  unsigned warm_idle_s = 10;  // nz-warm's docker_pool.idle_timeout_s
  double idle_s = 20;         // the idle footprint's measurement
  double window_s = 3;        // the per-invocation CPU window, at least
  double probe_s = 5;         // the closed-loop saturation probe
  std::vector<double> rates = {0, 1, 10, 100, 1000};  // offered, requests per second
  double rate_s = 10;                                 // each offered rate, at least
  unsigned min_requests = 20;  // each rate above 0 runs for at least this many requests
  double burst_s = 60;
  double settle_s = 60;
  unsigned zero_repeats = 3;
  std::string power_model;  // "IDLE_W,MAX_W" per vCPU; empty: the defaults
};

// How long an offered rate runs: `rate_s`, and for a rate above 0 long
// enough for `min_requests` requests (rate 1 with the defaults: 20 s).
[[nodiscard]] double rate_duration_s(double rate, double rate_s, unsigned min_requests) noexcept;

// Which offered rates run once the saturation throughput is known: those
// at or below it, sorted and without repeats; the others are listed as not
// offered.
struct RatePlan {
  std::vector<double> run;
  std::vector<double> not_offered;
};
[[nodiscard]] RatePlan plan_rates(std::vector<double> rates, double saturation_per_s);

// Ordinary least squares y = slope × x + intercept; nullopt with fewer
// than two points or when every x is the same.
struct LinearFit {
  double slope = 0;
  double intercept = 0;
  double r2 = 0;  // 1 when every point is on the line (or every y is the same)
  std::size_t points = 0;
};
[[nodiscard]] std::optional<LinearFit> least_squares(
    const std::vector<std::pair<double, double>>& points);

// A process (or the engine's group of processes) between two /v1/status
// readings.
struct ProcessWindow {
  double cpu_percent = 0;  // of one core
  double wakeups_per_s = 0;
  std::uint64_t rss_bytes = 0;  // at the second reading
  std::uint64_t threads = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t processes = 0;
};

// The server with every example deployed and nothing running: no warm
// container, no wasm program in memory.
struct IdleFootprint {
  double wall_s = 0;
  double waited_s = 0;       // from the deployment until everything was let go
  bool released = false;     // warm_containers 0 and wasm.loaded 0 were seen
  bool loaded_known = true;  // the server reports wasm.loaded
  std::uint64_t server_rss_after_deploy_bytes = 0;
  std::optional<std::uint64_t> wasm_loaded_after_deploy;
  ProcessWindow server;
  std::optional<ProcessWindow> engine;  // null without Docker
  std::uint64_t containers = 0;         // container shims on the machine
  double machine_cpu_percent = 0;       // of all cores
  Baseline machine;                     // the idle rate the load curves subtract
  std::uint64_t data_dir_bytes = 0;
  std::optional<double> watts;
};

enum class RowKind { kIdle, kRate, kSaturation, kNotOffered };

[[nodiscard]] const char* to_string(RowKind kind) noexcept;

// One offered rate of a load curve.
struct RateRow {
  RowKind kind = RowKind::kRate;
  double offered_per_s = 0;
  std::string note;     // why a rate was not offered
  double window_s = 0;  // sending (or, for rate 0, waiting)
  double wall_s = 0;    // the window and the drain: what the CPU figures cover
  std::uint64_t scheduled = 0;
  std::uint64_t ok = 0;
  std::map<unsigned, std::uint64_t> status_errors;
  std::map<std::string, std::uint64_t> transport_errors;
  std::uint64_t unfinished = 0;
  double achieved_per_s = 0;
  // From the intended send time, 200 answers only; unset without any.
  std::optional<double> p50_us, p99_us, p999_us, max_us;
  double machine_cpu_cores = 0;  // busy CPU of every core, in cores
  double bench_cpu_cores = 0;    // this benchmark's own share of it
  // Machine busy CPU per second above the idle rate, without the
  // benchmark's own: what the slope is fitted on.
  double cpu_above_idle_us_per_s = 0;
  double server_cpu_percent = 0;  // of one core
  // The server's own CPU time per 200 answer: unlike the machine-wide
  // figures, other work on the machine does not blur it.
  std::optional<double> server_cpu_us_per_request;
  std::optional<double> engine_cpu_percent;
  double server_rss_avg_bytes = 0;
  std::uint64_t server_rss_max_bytes = 0;
  std::optional<double> engine_rss_avg_bytes;
  std::optional<std::uint64_t> engine_rss_max_bytes;
  std::uint64_t containers_max = 0;
  std::uint64_t containers_end = 0;
  std::optional<double> watts;
  std::size_t status_samples = 0;

  [[nodiscard]] bool measured() const noexcept { return kind != RowKind::kNotOffered; }
  [[nodiscard]] std::uint64_t errors() const noexcept;
};

// Sequential calls, as `nebula bench` makes them: the CPU per call above
// idle, and the start-up of a few calls from their records.
struct PerInvocation {
  Window window;
  std::optional<double> cpu_us_per_call;
  std::optional<double> energy_uwh_per_call;
  unsigned record_calls = 0;
  unsigned record_failures = 0;
  Distribution startup_us;
  Distribution client_us;
  std::string first_error;
};

// The closed loop that finds how much a runtime sustains.
struct SaturationProbe {
  unsigned connections = 0;
  double window_s = 0;
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  std::uint64_t unfinished = 0;
  double throughput_per_s = 0;
  std::optional<double> p50_us;
};

struct Slope {
  std::optional<double> cpu_us_per_request;
  std::optional<double> intercept_us_per_s;
  std::optional<double> r2;
  std::size_t points = 0;
  std::string method;  // "least squares over N rates", "one rate, through idle", or why none
  std::optional<double> ratio_to_per_invocation;
  // The same fit of the Nebula server process' own CPU (GET /v1/status):
  // what the server itself spends per request, which other work on the
  // machine does not blur. Its intercept holds the constant cost of the
  // status readings themselves.
  std::optional<double> server_cpu_us_per_request;
};

// The rows of a curve with an offered rate above 0 and below saturation,
// fitted: least squares from two points on, a line through the idle origin
// with one (its figures are already above idle), none without.
[[nodiscard]] Slope fit_slope(const std::vector<RateRow>& rows,
                              const std::optional<double>& per_invocation_cpu_us);

struct RuntimeCurve {
  Runtime runtime = Runtime::kWasm;
  std::string function;  // nz-wasm, nz-warm, nz-cold
  PerInvocation per_invocation;
  SaturationProbe probe;
  std::vector<RateRow> rows;
  Slope slope;
};

// A closed-loop burst of wasm calls, then rest: does memory come back?
struct BurstRecovery {
  bool ran = false;
  unsigned connections = 0;
  double window_s = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  std::uint64_t unfinished = 0;
  double throughput_per_s = 0;
  std::uint64_t server_rss_max_bytes = 0;  // while it ran
  std::uint64_t server_rss_end_bytes = 0;  // when it ended
  double settle_s = 0;
  std::uint64_t server_rss_settled_bytes = 0;
  std::optional<std::uint64_t> wasm_loaded_settled;
  std::optional<double> ratio_to_idle;  // settled ÷ the idle footprint's RSS
};

// One call of one runtime once everything was let go.
struct ZeroStart {
  unsigned repetition = 0;
  Runtime runtime = Runtime::kWasm;
  bool from_zero = false;  // the server had released everything before the call
  double waited_s = 0;
  Sample sample;
};

// How the energy figures are obtained: RAPL where readable, else the model.
struct EnergySetup {
  bool measured = false;  // RAPL
  std::string source;     // the RAPL zones, or why there are none
  PowerModel model;
  bool model_given = false;  // --power-model
  [[nodiscard]] std::string method() const;
};

struct NearZeroRun {
  std::string started_at;
  double duration_s = 0;
  NearZeroOptions options;
  std::vector<Runtime> runtimes;
  MachineInfo machine;
  EnergySetup energy;
  std::vector<std::string> deployed;  // function names
  unsigned docker_variants = 0;
  std::vector<std::string> without_image;  // examples whose image the engine lacks
  IdleFootprint idle;
  std::vector<RuntimeCurve> curves;
  BurstRecovery burst;
  std::vector<ZeroStart> zero_starts;
  std::vector<std::string> notes;

  [[nodiscard]] const RuntimeCurve* curve(Runtime runtime) const;
};

// Start-up and client time of the scale-from-zero calls of one runtime
// (the ones that succeeded), and wasm's start-up from zero against its
// ordinary cold start.
struct ZeroSummary {
  Distribution startup_us;
  Distribution client_us;
  std::size_t calls = 0;
  std::size_t failures = 0;
};
[[nodiscard]] ZeroSummary summarize_zero(const NearZeroRun& run, Runtime runtime);
[[nodiscard]] std::optional<double> wasm_zero_to_cold_ratio(const NearZeroRun& run);

[[nodiscard]] boost::json::value to_json(const NearZeroRun& run);
[[nodiscard]] std::string render_near_zero_report(const NearZeroRun& run, const Charts& charts);
[[nodiscard]] std::string render_near_zero_headline(const NearZeroRun& run);

}  // namespace nebula::bench
