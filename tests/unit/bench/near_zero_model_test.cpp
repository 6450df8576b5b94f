#include "bench/near_zero_model.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

namespace json = boost::json;

// --- percentiles ------------------------------------------------------------

TEST(Percentile, InterpolatesBetweenTheClosestRanks) {
  const std::vector<double> sorted = {10, 20, 30, 40};
  EXPECT_DOUBLE_EQ(percentile(sorted, 0.5), 25);
  EXPECT_DOUBLE_EQ(percentile(sorted, 0.99), 39.7);
  EXPECT_DOUBLE_EQ(percentile(sorted, 0.999), 39.97);
  EXPECT_DOUBLE_EQ(percentile(sorted, 0), 10);
  EXPECT_DOUBLE_EQ(percentile(sorted, 1), 40);
}

TEST(Percentile, OutOfRangeQuantilesClampAndNoValuesIsZero) {
  EXPECT_DOUBLE_EQ(percentile({5, 7}, 2), 7);
  EXPECT_DOUBLE_EQ(percentile({5, 7}, -1), 5);
  EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0);
  EXPECT_DOUBLE_EQ(percentile({812}, 0.999), 812);
}

// --- least squares ------------------------------------------------------------

TEST(LeastSquares, APerfectLineIsFoundExactly) {
  auto fit = least_squares({{1, 520}, {10, 5'020}, {100, 50'020}});
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->slope, 500, 1e-9);
  EXPECT_NEAR(fit->intercept, 20, 1e-6);
  EXPECT_NEAR(fit->r2, 1, 1e-12);
  EXPECT_EQ(fit->points, 3U);
}

TEST(LeastSquares, ScatteredPointsGiveTheOrdinaryFit) {
  // x̄ = 2, ȳ = 11/3, Sxy = 3, Sxx = 2, Syy = 42/9.
  auto fit = least_squares({{1, 2}, {2, 4}, {3, 5}});
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->slope, 1.5, 1e-12);
  EXPECT_NEAR(fit->intercept, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(fit->r2, 81.0 / 84.0, 1e-12);
}

TEST(LeastSquares, NeedsTwoDistinctXs) {
  EXPECT_FALSE(least_squares({}).has_value());
  EXPECT_FALSE(least_squares({{10, 3}}).has_value());
  EXPECT_FALSE(least_squares({{10, 3}, {10, 5}}).has_value());
  auto flat = least_squares({{1, 7}, {2, 7}});
  ASSERT_TRUE(flat.has_value());
  EXPECT_DOUBLE_EQ(flat->slope, 0);
  EXPECT_DOUBLE_EQ(flat->r2, 1);
}

RateRow row(RowKind kind, double offered, double achieved, double cpu_us_per_s) {
  RateRow r;
  r.kind = kind;
  r.offered_per_s = offered;
  r.achieved_per_s = achieved;
  r.cpu_above_idle_us_per_s = cpu_us_per_s;
  return r;
}

// The slope uses the achieved rate of the rows above 0 and below
// saturation only: the idle row, the saturation row and the rates not
// offered stay out.
TEST(FitSlope, OverTheRatesBelowSaturation) {
  const std::vector<RateRow> rows = {
      row(RowKind::kIdle, 0, 0, 35),
      row(RowKind::kRate, 1, 1, 560),
      row(RowKind::kRate, 10, 10, 5'060),
      row(RowKind::kRate, 100, 99, 49'560),
      row(RowKind::kSaturation, 800, 640, 900'000),
      row(RowKind::kNotOffered, 1000, 0, 0),
  };
  const Slope s = fit_slope(rows, 450.0);
  ASSERT_TRUE(s.cpu_us_per_request.has_value());
  EXPECT_NEAR(*s.cpu_us_per_request, 500, 1e-6);
  EXPECT_NEAR(*s.intercept_us_per_s, 60, 1e-6);
  EXPECT_EQ(s.points, 3U);
  EXPECT_EQ(s.method, "least squares over 3 rates");
  ASSERT_TRUE(s.ratio_to_per_invocation.has_value());
  EXPECT_NEAR(*s.ratio_to_per_invocation, 500.0 / 450.0, 1e-9);
}

// The server's own CPU gets the same fit: 5 % of a core at 100 req/s and
// 50 % at 1000 req/s is 500 µs per request, whatever the machine did.
TEST(FitSlope, TheServersOwnCpuIsFittedTheSameWay) {
  RateRow low = row(RowKind::kRate, 100, 100, 0);
  low.server_cpu_percent = 5.5;
  RateRow high = row(RowKind::kRate, 1000, 1000, 0);
  high.server_cpu_percent = 50.5;
  const Slope s = fit_slope({low, high}, std::nullopt);
  ASSERT_TRUE(s.server_cpu_us_per_request.has_value());
  EXPECT_NEAR(*s.server_cpu_us_per_request, 500, 1e-9);
}

TEST(FitSlope, OneRateGivesALineThroughTheIdlePoint) {
  const Slope s =
      fit_slope({row(RowKind::kRate, 1, 0.95, 95'000), row(RowKind::kSaturation, 6, 6, 600'000)},
                std::nullopt);
  ASSERT_TRUE(s.cpu_us_per_request.has_value());
  EXPECT_NEAR(*s.cpu_us_per_request, 100'000, 1e-6);
  EXPECT_EQ(s.points, 1U);
  EXPECT_FALSE(s.intercept_us_per_s.has_value());
  EXPECT_FALSE(s.ratio_to_per_invocation.has_value());  // no per-invocation figure
}

TEST(FitSlope, NoRateBelowSaturationGivesNone) {
  const Slope s = fit_slope({row(RowKind::kIdle, 0, 0, 10)}, 500.0);
  EXPECT_FALSE(s.cpu_us_per_request.has_value());
  EXPECT_FALSE(s.ratio_to_per_invocation.has_value());
  EXPECT_EQ(s.points, 0U);
  EXPECT_FALSE(s.method.empty());
}

// --- the plan of rates --------------------------------------------------------

TEST(PlanRates, RatesAboveSaturationAreNotOffered) {
  const RatePlan plan = plan_rates({0, 1, 10, 100, 1000}, 250);
  EXPECT_EQ(plan.run, (std::vector<double>{0, 1, 10, 100}));
  EXPECT_EQ(plan.not_offered, (std::vector<double>{1000}));
}

TEST(PlanRates, SortedWithoutRepeatsAndZeroAlwaysRuns) {
  const RatePlan plan = plan_rates({100, 1, 0, 1, 10}, 0);
  EXPECT_EQ(plan.run, (std::vector<double>{0}));
  EXPECT_EQ(plan.not_offered, (std::vector<double>{1, 10, 100}));
  EXPECT_EQ(plan_rates({5}, 5).run, (std::vector<double>{5}));  // at saturation runs
}

TEST(RateDuration, LongEnoughForTheMinimumNumberOfRequests) {
  EXPECT_DOUBLE_EQ(rate_duration_s(1, 10, 20), 20);  // rate 1: 20 s by default
  EXPECT_DOUBLE_EQ(rate_duration_s(10, 10, 20), 10);
  EXPECT_DOUBLE_EQ(rate_duration_s(1000, 10, 20), 10);
  EXPECT_DOUBLE_EQ(rate_duration_s(0, 10, 20), 10);  // rate 0 only waits
  EXPECT_DOUBLE_EQ(rate_duration_s(0.5, 1, 2), 4);
}

// --- outputs ------------------------------------------------------------------

NearZeroRun sample_run() {
  NearZeroRun run;
  run.started_at = "2026-12-01T10:00:00Z";
  run.duration_s = 600;
  run.runtimes = {Runtime::kWasm};
  run.machine.cpu_model = "Test CPU";
  run.machine.logical_cpus = 2;
  run.energy.source = "unavailable (no RAPL on this machine)";
  run.deployed = {"hello", "nz-wasm"};
  run.idle.server.rss_bytes = 20 << 20;
  run.idle.watts = 1.5;
  RuntimeCurve c;
  c.runtime = Runtime::kWasm;
  c.function = "nz-wasm";
  c.per_invocation.cpu_us_per_call = 480;
  c.per_invocation.energy_uwh_per_call = estimated_marginal_uwh(PowerModel{}, 480);
  c.per_invocation.startup_us = distribution({70, 80, 90});
  c.probe.throughput_per_s = 1500;
  RateRow idle = row(RowKind::kIdle, 0, 0, 3);
  RateRow one = row(RowKind::kRate, 1, 1, 600);
  one.ok = 20;
  one.scheduled = 20;
  one.p50_us = 900;
  one.p99_us = 1500;
  one.p999_us = 1600;
  one.max_us = 1700;
  one.watts = 1.6;
  RateRow sat = row(RowKind::kSaturation, 1500, 1400, 1.9e6);
  sat.status_errors[429] = 3;
  RateRow above = row(RowKind::kNotOffered, 10000, 0, 0);
  above.note = "above saturation, 1500 req/s";
  c.rows = {idle, one, sat, above};
  c.slope = fit_slope(c.rows, c.per_invocation.cpu_us_per_call);
  run.curves.push_back(c);
  ZeroStart z;
  z.runtime = Runtime::kWasm;
  z.from_zero = true;
  z.sample.timings.startup_us = 240;
  z.sample.client_us = 900;
  run.zero_starts.push_back(z);
  return run;
}

TEST(NearZeroJson, EveryRowHasEveryColumnAndTheEstimateIsLabelled) {
  const NearZeroRun run = sample_run();
  const json::object root = to_json(run).as_object();
  EXPECT_EQ(root.at("schema").as_string(), "nebula-bench-near-zero/1");
  EXPECT_EQ(root.at("energy_method").as_string(), "estimate: linear CPU-utilisation model");
  const auto& rows = root.at("curves").as_object().at("wasm").as_object().at("rows").as_array();
  ASSERT_EQ(rows.size(), 4U);
  const auto& measured = rows[1].as_object();
  EXPECT_EQ(measured.at("kind").as_string(), "rate");
  EXPECT_DOUBLE_EQ(measured.at("latency_us").as_object().at("p99_9").as_double(), 1600);
  EXPECT_DOUBLE_EQ(measured.at("watts").as_double(), 1.6);
  const auto& sat = rows[2].as_object();
  EXPECT_EQ(sat.at("kind").as_string(), "saturation");
  EXPECT_EQ(sat.at("status_errors").as_object().at("429").as_uint64(), 3U);
  EXPECT_EQ(sat.at("errors").as_uint64(), 3U);
  const auto& above = rows[3].as_object();
  EXPECT_EQ(above.at("kind").as_string(), "not offered");
  EXPECT_EQ(above.at("note").as_string(), "above saturation, 1500 req/s");
  // The same columns, null: a reader's code needs no special case.
  for (const auto& [key, value] : measured) {
    EXPECT_TRUE(above.contains(key)) << key;
  }
  EXPECT_TRUE(above.at("achieved_per_s").is_null());
  EXPECT_TRUE(above.at("server_rss_max_bytes").is_null());
  const auto& zero = root.at("scale_from_zero").as_object();
  EXPECT_DOUBLE_EQ(zero.at("wasm_zero_to_cold_start_ratio").as_double(), 3.0);  // 240 / 80
  EXPECT_EQ(zero.at("calls").as_array().size(), 1U);
}

TEST(NearZeroReport, HasItsTablesAndSaysTheEnergyIsAnEstimate) {
  const NearZeroRun run = sample_run();
  const std::string md = render_near_zero_report(run, Charts{{}, "charts: unavailable (test)"});
  for (const char* heading :
       {"# Nebula near-zero benchmark", "## Method", "## Idle footprint", "## Load curve",
        "## CPU per request under load", "## Burst recovery", "## Scale from zero", "## Energy",
        "| Nebula server | Docker engine |", "| offered /s | achieved /s |",
        "above saturation, 1500 req/s", "estimate: linear CPU-utilisation model",
        "charts: unavailable (test)", "1,150 µWh", "server's own CPU per request"}) {
    EXPECT_NE(md.find(heading), std::string::npos) << heading;
  }
  const std::string headline = render_near_zero_headline(run);
  EXPECT_NE(headline.find("estimate: linear CPU-utilisation model"), std::string::npos);
}

}  // namespace
}  // namespace nebula::bench
