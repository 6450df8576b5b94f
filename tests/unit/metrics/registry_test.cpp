#include "metrics/registry.hpp"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::metrics {
namespace {

Registry::Options without_process() {
  Registry::Options options;
  options.process_metrics = false;
  return options;
}

// The sample line that starts with `prefix` (series name and labels), or "".
std::string line_of(const std::string& text, const std::string& prefix) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    if (line.starts_with(prefix + " ")) return line;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

// The exact exposition of a small registry: family order, HELP and TYPE
// lines, every outcome of a used runtime, cumulative buckets ending in +Inf,
// exact decimal sums, gauges.
TEST(MetricsRegistry, RendersTheExactTextFormat) {
  Registry registry(without_process());
  registry.record_invocation("echo", RuntimeKind::kWasm, Outcome::kOk, /*cold=*/true,
                             Timings{5, 30, 120, 3, 200});
  // A warm invocation: no start-up observation, exec and total counted.
  registry.record_invocation("echo", RuntimeKind::kWasm, Outcome::kExit, /*cold=*/false,
                             Timings{0, 0, 2'000'000, 0, 2'000'150});
  registry.set_queue_depth(2);
  registry.set_warm_containers("echo", 3);
  registry.set_in_flight("echo", 2);
  registry.count_concurrency_limited("echo");
  registry.count_task_finished("echo", true);
  registry.count_task_finished("echo", true);
  registry.count_task_finished("echo", false);
  registry.count_firing("echo");
  registry.set_functions(1);
  registry.record_outbound("echo", 4, 1);

  const std::string expected =
      R"golden(# HELP nebula_invocations_total Invocations by function, runtime and outcome.
# TYPE nebula_invocations_total counter
nebula_invocations_total{function="echo",runtime="wasm",outcome="ok"} 1
nebula_invocations_total{function="echo",runtime="wasm",outcome="exit"} 1
nebula_invocations_total{function="echo",runtime="wasm",outcome="trap"} 0
nebula_invocations_total{function="echo",runtime="wasm",outcome="timeout"} 0
nebula_invocations_total{function="echo",runtime="wasm",outcome="memory"} 0
nebula_invocations_total{function="echo",runtime="wasm",outcome="rejected"} 0
# HELP nebula_cold_starts_total Invocations that started a fresh instance or container.
# TYPE nebula_cold_starts_total counter
nebula_cold_starts_total{function="echo",runtime="wasm"} 1
# HELP nebula_invocation_startup_seconds Start-up time of cold invocations (instantiation or container start).
# TYPE nebula_invocation_startup_seconds histogram
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="1e-05"} 0
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="2.5e-05"} 0
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="5e-05"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.0001"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.00025"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.0005"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.001"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.0025"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.005"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.01"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.025"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.05"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.1"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.25"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="0.5"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="1"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="2.5"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="5"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="10"} 1
nebula_invocation_startup_seconds_bucket{function="echo",runtime="wasm",le="+Inf"} 1
nebula_invocation_startup_seconds_sum{function="echo",runtime="wasm"} 0.00003
nebula_invocation_startup_seconds_count{function="echo",runtime="wasm"} 1
# HELP nebula_invocation_exec_seconds Execution time of the function.
# TYPE nebula_invocation_exec_seconds histogram
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="1e-05"} 0
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="2.5e-05"} 0
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="5e-05"} 0
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.0001"} 0
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.00025"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.0005"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.001"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.0025"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.005"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.01"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.025"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.05"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.1"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.25"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="0.5"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="1"} 1
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="2.5"} 2
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="5"} 2
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="10"} 2
nebula_invocation_exec_seconds_bucket{function="echo",runtime="wasm",le="+Inf"} 2
nebula_invocation_exec_seconds_sum{function="echo",runtime="wasm"} 2.00012
nebula_invocation_exec_seconds_count{function="echo",runtime="wasm"} 2
# HELP nebula_invocation_total_seconds Time from request body read to response ready.
# TYPE nebula_invocation_total_seconds histogram
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="1e-05"} 0
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="2.5e-05"} 0
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="5e-05"} 0
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.0001"} 0
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.00025"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.0005"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.001"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.0025"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.005"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.01"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.025"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.05"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.1"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.25"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="0.5"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="1"} 1
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="2.5"} 2
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="5"} 2
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="10"} 2
nebula_invocation_total_seconds_bucket{function="echo",runtime="wasm",le="+Inf"} 2
nebula_invocation_total_seconds_sum{function="echo",runtime="wasm"} 2.00035
nebula_invocation_total_seconds_count{function="echo",runtime="wasm"} 2
# HELP nebula_queue_depth Invocations waiting for a worker or a warm container.
# TYPE nebula_queue_depth gauge
nebula_queue_depth 2
# HELP nebula_outbound_requests_total Outbound HTTP requests of wasm guests, by whether allowed_outbound_hosts let them through.
# TYPE nebula_outbound_requests_total counter
nebula_outbound_requests_total{function="echo",decision="allowed"} 4
nebula_outbound_requests_total{function="echo",decision="denied"} 1
# HELP nebula_warm_containers Warm containers currently kept for a function.
# TYPE nebula_warm_containers gauge
nebula_warm_containers{function="echo"} 3
# HELP nebula_function_in_flight Invocations in flight on this node, for functions with limits.max_concurrency.
# TYPE nebula_function_in_flight gauge
nebula_function_in_flight{function="echo"} 2
# HELP nebula_concurrency_limited_total Calls refused (429) after waiting their timeout for a concurrency slot.
# TYPE nebula_concurrency_limited_total counter
nebula_concurrency_limited_total{function="echo"} 1
# HELP nebula_async_finished_total Async calls and schedule firings that ended, by state: done, or dead after their retries.
# TYPE nebula_async_finished_total counter
nebula_async_finished_total{function="echo",state="done"} 2
nebula_async_finished_total{function="echo",state="dead"} 1
# HELP nebula_schedule_firings_total Schedule firings this node claimed and queued.
# TYPE nebula_schedule_firings_total counter
nebula_schedule_firings_total{function="echo"} 1
# HELP nebula_functions Deployed functions.
# TYPE nebula_functions gauge
nebula_functions 1
)golden";
  EXPECT_EQ(registry.render(), expected);
}

TEST(MetricsRegistry, EmptyRegistryStillDeclaresEveryFamily) {
  Registry registry(without_process());
  const std::string text = registry.render();
  for (const char* family :
       {"nebula_invocations_total counter", "nebula_cold_starts_total counter",
        "nebula_invocation_startup_seconds histogram", "nebula_invocation_exec_seconds histogram",
        "nebula_invocation_total_seconds histogram", "nebula_queue_depth gauge",
        "nebula_warm_containers gauge", "nebula_functions gauge"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;
  }
  EXPECT_NE(text.find("\nnebula_queue_depth 0\n"), std::string::npos);
  EXPECT_EQ(text.find("process_"), std::string::npos);
}

TEST(MetricsRegistry, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain-name"), "plain-name");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");

  // Function names are validated upstream; the exposition escapes anyway.
  Registry registry(without_process());
  registry.set_warm_containers("we\"ird\\na\nme", 1);
  EXPECT_NE(registry.render().find("nebula_warm_containers{function=\"we\\\"ird\\\\na\\nme\"} 1\n"),
            std::string::npos);
}

TEST(MetricsRegistry, BucketsAreCumulativeAndBoundsInclusive) {
  Registry registry(without_process());
  // 10 µs sits on the first bound (le is "less or equal"), 11 µs in the
  // second, 20 s above every bound, -5 µs counts as 0.
  for (std::int64_t us : {10, 11, 20'000'000, -5}) {
    registry.record_invocation("f", RuntimeKind::kDocker, Outcome::kOk, false,
                               Timings{0, 0, 0, 0, us});
  }
  const std::string text = registry.render();
  const std::string series =
      "nebula_invocation_total_seconds_bucket{function=\"f\",runtime=\"docker\",";
  EXPECT_EQ(line_of(text, series + "le=\"1e-05\"}"), series + "le=\"1e-05\"} 2");
  EXPECT_EQ(line_of(text, series + "le=\"2.5e-05\"}"), series + "le=\"2.5e-05\"} 3");
  EXPECT_EQ(line_of(text, series + "le=\"10\"}"), series + "le=\"10\"} 3");
  EXPECT_EQ(line_of(text, series + "le=\"+Inf\"}"), series + "le=\"+Inf\"} 4");
  const std::string sum = "nebula_invocation_total_seconds_sum{function=\"f\",runtime=\"docker\"}";
  EXPECT_EQ(line_of(text, sum), sum + " 20.000021");
  const std::string count =
      "nebula_invocation_total_seconds_count{function=\"f\",runtime=\"docker\"}";
  EXPECT_EQ(line_of(text, count), count + " 4");
  // Warm only: the start-up histogram exists but is empty.
  const std::string startup =
      "nebula_invocation_startup_seconds_count{function=\"f\",runtime=\"docker\"}";
  EXPECT_EQ(line_of(text, startup), startup + " 0");
}

TEST(MetricsRegistry, RejectedInvocationsAreCountedButNotTimedAsRuns) {
  Registry registry(without_process());
  registry.record_invocation("f", RuntimeKind::kWasm, Outcome::kRejected, true,
                             Timings{100, 0, 0, 0, 150});
  const std::string text = registry.render();
  const std::string labels = "{function=\"f\",runtime=\"wasm\"}";
  const std::string rejected =
      "nebula_invocations_total{function=\"f\",runtime=\"wasm\",outcome=\"rejected\"}";
  EXPECT_EQ(line_of(text, rejected), rejected + " 1");
  EXPECT_EQ(line_of(text, "nebula_cold_starts_total" + labels),
            "nebula_cold_starts_total" + labels + " 0");
  EXPECT_EQ(line_of(text, "nebula_invocation_exec_seconds_count" + labels),
            "nebula_invocation_exec_seconds_count" + labels + " 0");
  EXPECT_EQ(line_of(text, "nebula_invocation_total_seconds_count" + labels),
            "nebula_invocation_total_seconds_count" + labels + " 1");
}

TEST(MetricsRegistry, SeriesAreOrderedByFunctionThenRuntime) {
  Registry registry(without_process());
  registry.record_invocation("zed", RuntimeKind::kWasm, Outcome::kOk, true, {});
  registry.record_invocation("abc", RuntimeKind::kDocker, Outcome::kOk, true, {});
  registry.record_invocation("abc", RuntimeKind::kWasm, Outcome::kOk, true, {});
  const std::string text = registry.render();
  const auto abc_wasm = text.find("nebula_cold_starts_total{function=\"abc\",runtime=\"wasm\"}");
  const auto abc_docker =
      text.find("nebula_cold_starts_total{function=\"abc\",runtime=\"docker\"}");
  const auto zed = text.find("nebula_cold_starts_total{function=\"zed\",runtime=\"wasm\"}");
  ASSERT_NE(zed, std::string::npos);
  EXPECT_LT(abc_wasm, abc_docker);
  EXPECT_LT(abc_docker, zed);
  // A runtime that was never used has no series.
  EXPECT_EQ(text.find("function=\"zed\",runtime=\"docker\""), std::string::npos);
}

TEST(MetricsRegistry, RemoveFunctionDropsItsSeries) {
  Registry registry(without_process());
  registry.record_invocation("gone", RuntimeKind::kWasm, Outcome::kOk, true, {});
  registry.set_warm_containers("gone", 2);
  registry.record_invocation("stays", RuntimeKind::kWasm, Outcome::kOk, true, {});
  registry.remove_function("gone");
  registry.remove_function("never-existed");
  const std::string text = registry.render();
  EXPECT_EQ(text.find("\"gone\""), std::string::npos);
  EXPECT_NE(text.find("\"stays\""), std::string::npos);
}

TEST(MetricsRegistry, ConcurrentRecordingLosesNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20'000;
  Registry registry(without_process());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry, t] {
      const char* function = t % 2 == 0 ? "even" : "odd";
      for (int i = 0; i < kPerThread; ++i) {
        registry.record_invocation(function, RuntimeKind::kWasm, Outcome::kOk, true,
                                   Timings{0, 1, 1, 0, 2});
        if (i % 1000 == 0) {
          registry.set_queue_depth(i);
          (void)registry.render();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = registry.render();
  const std::string total = std::to_string(kThreads / 2 * kPerThread);
  for (const char* fn : {"even", "odd"}) {
    const std::string series = std::string("nebula_invocations_total{function=\"") + fn +
                               "\",runtime=\"wasm\",outcome=\"ok\"}";
    EXPECT_EQ(line_of(text, series), series + " " + total);
    const std::string count = std::string("nebula_invocation_exec_seconds_count{function=\"") + fn +
                              "\",runtime=\"wasm\"}";
    EXPECT_EQ(line_of(text, count), count + " " + total);
  }
}

TEST(MetricsRegistry, IncludesProcessMetricsByDefault) {
  Registry registry;
  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_FALSE(line_of(text, "process_resident_memory_bytes").empty());
  EXPECT_FALSE(line_of(text, "process_cpu_seconds_total").empty());
}

}  // namespace
}  // namespace nebula::metrics
