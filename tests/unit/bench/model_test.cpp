#include "bench/model.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

// --- percentiles ------------------------------------------------------------

// Every figure of a distribution, in one comparison.
void expect_distribution(const Distribution& d, const Distribution& expected) {
  EXPECT_EQ(d.count, expected.count);
  const std::pair<double, double> figures[] = {{d.min, expected.min},   {d.p50, expected.p50},
                                               {d.p90, expected.p90},   {d.p99, expected.p99},
                                               {d.mean, expected.mean}, {d.max, expected.max}};
  for (const auto& [got, want] : figures) EXPECT_DOUBLE_EQ(got, want);
}

TEST(Distribution, PercentilesInterpolateBetweenTheClosestRanks) {
  // Rank q × (n − 1) on the sorted values: 1.5, 2.7 and 2.97.
  expect_distribution(
      distribution({40, 10, 30, 20}),
      {.count = 4, .min = 10, .p50 = 25, .p90 = 37, .p99 = 39.7, .mean = 25, .max = 40});
}

TEST(Distribution, OnAHundredAndOneValuesEachPercentileIsASample) {
  std::vector<double> values(101);
  std::iota(values.begin(), values.end(), 1.0);  // 1 … 101
  std::shuffle(values.begin(), values.end(), std::mt19937(42));
  expect_distribution(
      distribution(values),
      {.count = 101, .min = 1, .p50 = 51, .p90 = 91, .p99 = 100, .mean = 51, .max = 101});
}

TEST(Distribution, ASingleSampleIsEveryPercentile) {
  const Distribution d = distribution({812});
  EXPECT_EQ(d.count, 1U);
  for (double v : {d.min, d.p50, d.p90, d.p99, d.mean, d.max}) EXPECT_DOUBLE_EQ(v, 812);
}

TEST(Distribution, NoSamplesIsCountZero) {
  const Distribution d = distribution({});
  EXPECT_EQ(d.count, 0U);
  EXPECT_DOUBLE_EQ(d.p50, 0);
  EXPECT_DOUBLE_EQ(d.max, 0);
}

// --- ratios and their geometric mean ------------------------------------------

TEST(Ratios, NullWithoutBothSides) {
  CellSummary wasm;
  wasm.startup_us = distribution({100});
  wasm.total_us = distribution({200});
  wasm.cpu_us = distribution({0});
  CellSummary docker;
  docker.startup_us = distribution({100'000});
  docker.total_us = distribution({400'000});
  docker.cpu_us = distribution({5'000});
  docker.system_cpu_us_per_call = 8'000;
  const Ratios r = ratios(docker, wasm);
  EXPECT_DOUBLE_EQ(*r.startup_p50, 1000);
  EXPECT_DOUBLE_EQ(*r.total_p50, 2000);
  EXPECT_FALSE(r.cpu_per_invocation.has_value());         // wasm's 0 gives no ratio
  EXPECT_FALSE(r.system_cpu_per_invocation.has_value());  // wasm's side not measured
  EXPECT_FALSE(r.memory.has_value());                     // neither side measured

  // A docker figure at 0 above idle is below what can be measured: no ratio.
  wasm.system_cpu_us_per_call = 500;
  docker.system_cpu_us_per_call = 0;
  EXPECT_FALSE(ratios(docker, wasm).system_cpu_per_invocation.has_value());
  docker.system_cpu_us_per_call = 8'000;
  EXPECT_DOUBLE_EQ(*ratios(docker, wasm).system_cpu_per_invocation, 16);
}

TEST(GeometricMean, OfTheRatiosOverFunctions) {
  Ratios a;
  a.startup_p50 = 2;
  a.total_p50 = 10;
  Ratios b;
  b.startup_p50 = 8;
  b.total_p50 = 1000;
  const Ratios g = geometric_mean({a, b});
  EXPECT_NEAR(*g.startup_p50, 4, 1e-12);
  EXPECT_NEAR(*g.total_p50, 100, 1e-9);
  EXPECT_FALSE(g.memory.has_value());  // no function has it
}

TEST(GeometricMean, ZeroWhenAnyIsZeroAndNullWhenAnyIsMissing) {
  Ratios reused;
  reused.startup_p50 = 0;  // a warm container's start-up
  Ratios cold;
  cold.startup_p50 = 1000;
  EXPECT_DOUBLE_EQ(*geometric_mean({reused, cold}).startup_p50, 0);
  // A mean over the functions that happen to have the ratio would speak for
  // a different set of functions.
  EXPECT_FALSE(geometric_mean({cold, Ratios{}}).startup_p50.has_value());
  EXPECT_FALSE(geometric_mean({}).startup_p50.has_value());
}

// --- system CPU and energy windows ----------------------------------------------

Run run_with_window(const Window& window) {
  bench::Run run;
  run.idle_before = Baseline{2.0, 200'000, std::nullopt};
  run.idle_after = Baseline{2.0, 600'000, std::nullopt};
  FunctionRun fn;
  fn.name = "hello";
  Cell cell;
  cell.window = window;
  fn.cells.push_back(cell);
  run.functions.push_back(fn);
  return run;
}

TEST(Window, SubtractsTheIdleRateAndItsOwnCpuPerCountedCall) {
  Window w;
  w.calls = 12;
  w.failures = 2;
  w.set_interval(Interval{1.5, 1'000'000, 100'000, std::nullopt});
  bench::Run run = run_with_window(w);
  set_baseline(run);
  // Both idle periods together: 800 ms of CPU over 4 s, 200 ms per second.
  EXPECT_DOUBLE_EQ(run.baseline.busy_cpu_us_per_s(), 200'000);
  const Window& measured = *run.functions[0].cells[0].window;
  EXPECT_DOUBLE_EQ(measured.baseline_cpu_us, 300'000);  // 1.5 s at the idle rate
  // (1 000 000 − 300 000 − 100 000) µs over the 10 calls that counted.
  EXPECT_DOUBLE_EQ(*measured.system_cpu_us_per_call(), 60'000);
}

TEST(Window, AboveIdleIsNeverNegative) {
  Window w;
  w.calls = 10;
  w.set_interval(Interval{1.5, 250'000, 10'000, std::nullopt});  // below the idle rate
  bench::Run run = run_with_window(w);
  set_baseline(run);
  EXPECT_DOUBLE_EQ(*run.functions[0].cells[0].window->system_cpu_us_per_call(), 0);
}

TEST(Window, NoCountedCallGivesNoFigure) {
  Window w;
  w.calls = 3;
  w.failures = 3;
  w.set_interval(Interval{1.0, 500'000, 0, 1'000'000.0});
  EXPECT_FALSE(w.system_cpu_us_per_call().has_value());
  EXPECT_FALSE(w.energy_uj_per_call().has_value());
}

TEST(Window, EnergyAboveIdlePowerPerCall) {
  Window w;
  w.calls = 4;
  w.set_interval(Interval{2.0, 0, 0, 9'000'000.0});
  bench::Run run = run_with_window(w);
  run.idle_before.energy_uj = 4'000'000.0;  // 1 W over 4 s in all
  run.idle_after.energy_uj = 0.0;
  set_baseline(run);
  ASSERT_TRUE(run.baseline.power_uw().has_value());
  EXPECT_DOUBLE_EQ(*run.baseline.power_uw(), 1'000'000);
  const Window& measured = *run.functions[0].cells[0].window;
  EXPECT_DOUBLE_EQ(*measured.baseline_energy_uj, 2'000'000);
  EXPECT_DOUBLE_EQ(*measured.energy_uj_per_call(), 1'750'000);
}

TEST(Baseline, IdlePeriodWithoutTheBenchmarksOwnCpuNeverNegative) {
  const Baseline idle = idle_period(Interval{3.0, 450'000, 30'000, 6'000'000.0});
  EXPECT_DOUBLE_EQ(idle.wall_s, 3.0);
  EXPECT_DOUBLE_EQ(idle.busy_cpu_us, 420'000);
  EXPECT_DOUBLE_EQ(idle.busy_cpu_us_per_s(), 140'000);
  EXPECT_DOUBLE_EQ(*idle.power_uw(), 2'000'000);
  EXPECT_DOUBLE_EQ(idle_period(Interval{3.0, 10'000, 30'000, std::nullopt}).busy_cpu_us, 0);
}

TEST(Baseline, CombinedEnergyOnlyWhenEveryPeriodHadIt) {
  const Baseline with{2.0, 100, 5.0};
  const Baseline without{2.0, 300, std::nullopt};
  const Baseline both = combine(with, with);
  EXPECT_DOUBLE_EQ(both.wall_s, 4.0);
  EXPECT_DOUBLE_EQ(*both.energy_uj, 10.0);
  EXPECT_FALSE(combine(with, without).energy_uj.has_value());
  // A period that did not happen (0 s) does not count.
  EXPECT_DOUBLE_EQ(*combine(with, Baseline{}).energy_uj, 5.0);
  EXPECT_DOUBLE_EQ(combine(with, without).busy_cpu_us_per_s(), 100);
}

// --- summaries ------------------------------------------------------------------

Sample ok_sample(std::int64_t startup_us, std::int64_t total_us) {
  Sample s;
  s.timings.startup_us = startup_us;
  s.timings.total_us = total_us;
  return s;
}

TEST(Summarize, CountsEveryCallAndFailureButSummarizesOnlyTheCountedOnes) {
  Cell cell;
  cell.warmup_calls = 2;
  cell.warmup_failures = 1;
  cell.samples = {ok_sample(100, 300), ok_sample(300, 500)};
  Sample failed = ok_sample(1'000'000, 1'000'000);
  failed.error = "timeout: the function ran out of time";
  cell.samples.push_back(failed);
  Window w;
  w.calls = 20;
  w.failures = 4;
  cell.window = w;
  const CellSummary s = summarize(cell);
  EXPECT_EQ(s.calls, 3U);
  EXPECT_EQ(s.ok, 2U);
  EXPECT_EQ(s.failures, 1U);
  EXPECT_EQ(s.failure_kinds.at("timeout"), 1U);
  EXPECT_DOUBLE_EQ(s.startup_us.p50, 200);
  EXPECT_DOUBLE_EQ(s.total_us.max, 500);

  bench::Run run;
  run.runtimes = {Runtime::kWasm};
  FunctionRun fn;
  fn.cells.push_back(cell);
  run.functions.push_back(fn);
  const Summary all = summarize(run);
  EXPECT_EQ(all.calls, 3U + 20U + 2U);
  EXPECT_EQ(all.failures, 1U + 4U + 1U);
}

TEST(Summarize, FiguresTheServerCouldNotMeasureAreLeftOutNotZero) {
  Sample measured = ok_sample(100, 200);
  measured.cpu_us = 40;
  measured.max_memory_bytes = 1024;
  const Sample unmeasured = ok_sample(100, 200);  // null cpu_us and max_memory_bytes
  Cell cell;
  cell.samples = {measured, unmeasured, unmeasured};
  const CellSummary s = summarize(cell);
  EXPECT_EQ(s.ok, 3U);
  EXPECT_EQ(s.total_us.count, 3U);
  EXPECT_EQ(s.cpu_us.count, 1U);
  EXPECT_DOUBLE_EQ(s.cpu_us.mean, 40);  // not (40 + 0 + 0) / 3
  EXPECT_EQ(s.max_memory_bytes.count, 1U);

  bench::Run run;
  run.runtimes = {Runtime::kWasm};
  FunctionRun fn;
  fn.name = "hello";
  fn.cells.push_back(cell);
  run.functions.push_back(fn);
  const auto doc = to_json(run, summarize(run));
  const auto& samples = doc.at("functions").at(0).at("cells").at("wasm").at("samples").as_array();
  EXPECT_EQ(samples.at(0).at("cpu_us").to_number<int>(), 40);
  EXPECT_TRUE(samples.at(1).at("cpu_us").is_null());
  EXPECT_TRUE(samples.at(1).at("max_memory_bytes").is_null());
}

}  // namespace
}  // namespace nebula::bench
