#include "bench/report.hpp"

#include <string>

#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

TEST(FormatRatio, SignificantFiguresByMagnitude) {
  EXPECT_EQ(format_ratio(std::nullopt), "–");
  EXPECT_EQ(format_ratio(0.0), "0");
  EXPECT_EQ(format_ratio(0.523), "×0.52");
  EXPECT_EQ(format_ratio(2.0), "×2.00");
  EXPECT_EQ(format_ratio(12.34), "×12.3");
  EXPECT_EQ(format_ratio(1234.4), "×1234");
}

Sample sample(std::int64_t startup_us, std::int64_t total_us, std::uint64_t cpu_us,
              std::uint64_t memory_bytes) {
  Sample s;
  s.timings.startup_us = startup_us;
  s.timings.total_us = total_us;
  s.cpu_us = cpu_us;
  s.max_memory_bytes = memory_bytes;
  return s;
}

Cell cell(Runtime runtime, const Sample& s) {
  Cell c;
  c.runtime = runtime;
  c.samples = {s, s};
  return c;
}

// One function on the three runtimes, with round ratios against wasm.
Run three_runtimes() {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  bench::Run run;
  run.runs = 2;
  run.runtimes = {Runtime::kWasm, Runtime::kDockerCold, Runtime::kDockerWarm};
  run.machine.energy_source = "unavailable (test)";
  FunctionRun fn;
  fn.name = "hello";
  fn.input = "Nebula";
  fn.cells = {cell(Runtime::kWasm, sample(100, 200, 50, 1 * kMiB)),
              cell(Runtime::kDockerCold, sample(100'000, 400'000, 5'000, 10 * kMiB)),
              cell(Runtime::kDockerWarm, sample(0, 2'000, 500, 2 * kMiB))};
  run.functions.push_back(fn);
  return run;
}

TEST(Report, HeadlineRatioLines) {
  const bench::Run run = three_runtimes();
  const std::string headline = render_headline(run, summarize(run));
  EXPECT_NE(headline.find("docker-cold/wasm: startup ×1000, total ×2000, cpu ×100, system cpu –, "
                          "memory ×10.0\n"),
            std::string::npos)
      << headline;
  // A reused warm container has no start-up: said in words, not "×0".
  EXPECT_NE(headline.find("docker-warm/wasm: startup 0 (container reused), total ×10.0, "
                          "cpu ×10.0, system cpu –, memory ×2.00\n"),
            std::string::npos)
      << headline;
  EXPECT_NE(headline.find("0 of 6 calls failed"), std::string::npos) << headline;
}

TEST(Report, RatioTablesOverallAndPerFunction) {
  const bench::Run run = three_runtimes();
  const std::string report = render_report(run, summarize(run), Charts{});
  for (const char* line : {
           "| start-up p50 | ×1000 | 0 (container reused) |\n",
           "| total p50 | ×2000 | ×10.0 |\n",
           "| CPU per invocation (server records) | ×100 | ×10.0 |\n",
           "| system-wide CPU per invocation (/proc/stat) | – | – |\n",
           "| peak memory p50 | ×10.0 | ×2.00 |\n",
           "| hello | docker-cold | ×1000 | ×2000 | ×100 | – | ×10.0 |\n",
           "| hello | docker-warm | 0 (container reused) | ×10.0 | ×10.0 | – | ×2.00 |\n",
       }) {
    EXPECT_NE(report.find(line), std::string::npos) << line << "\n" << report;
  }
}

TEST(Report, WasmOnlyHasNoRatios) {
  bench::Run run = three_runtimes();
  run.runtimes = {Runtime::kWasm};
  run.functions[0].cells.resize(1);
  const Summary summary = summarize(run);
  const std::string report = render_report(run, summary, Charts{});
  EXPECT_NE(report.find("Docker was not measured (`--no-docker`): there are no ratios."),
            std::string::npos);
  EXPECT_EQ(report.find("## Ratios per function"), std::string::npos);
  EXPECT_NE(report.find("- Docker Engine: not used\n"), std::string::npos);
  EXPECT_EQ(render_headline(run, summary).find("/wasm:"), std::string::npos);
}

TEST(Report, VersionsAreTheServersOrUnknown) {
  bench::Run run = three_runtimes();
  std::string report = render_report(run, summarize(run), Charts{});
  EXPECT_NE(report.find("- Nebula server: unknown\n"), std::string::npos);
  EXPECT_NE(report.find("- Docker Engine: unknown\n"), std::string::npos);
  EXPECT_NE(report.find("- wasmtime: unknown (embedded"), std::string::npos);

  run.machine.server_version = "0.1.0";
  run.machine.docker_version = "28.2.2 (API 1.50)";
  run.machine.wasmtime_version = "48.0.8";
  report = render_report(run, summarize(run), Charts{});
  EXPECT_NE(report.find("- Nebula server: 0.1.0\n"), std::string::npos);
  EXPECT_NE(report.find("- Docker Engine: 28.2.2 (API 1.50)\n"), std::string::npos);
  EXPECT_NE(report.find("- wasmtime: 48.0.8 (embedded"), std::string::npos);
}

TEST(Report, ChartsOrWhyThereAreNone) {
  const bench::Run run = three_runtimes();
  Charts charts;
  charts.unavailable_reason = "charts: unavailable (python3 with matplotlib not found)";
  EXPECT_NE(render_report(run, summarize(run), charts).find(charts.unavailable_reason),
            std::string::npos);
  charts.files = {"startup.svg"};
  EXPECT_NE(render_report(run, summarize(run), charts).find("![startup.svg](startup.svg)"),
            std::string::npos);
}

}  // namespace
}  // namespace nebula::bench
