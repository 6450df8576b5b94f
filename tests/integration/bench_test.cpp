// `nebula bench` end to end: the real binary starts its own server, runs the
// hello example and writes results.json and report.md. Compiled twice: as
// bench_test (label integration, wasm only) and, with NEBULA_BENCH_DOCKER,
// as bench_docker_test (label docker, all three runtimes). The figures are
// not asserted on (benchmarks are programs, not timed tests): only that
// every cell, count and ratio is there.
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "base/files.hpp"
#include "base/subprocess.hpp"

#ifdef NEBULA_BENCH_DOCKER
#include "docker/client.hpp"
#include "integration/example_image.hpp"
#endif

namespace nebula::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// A scratch directory for one test.
base::TempDir scratch_dir() {
  auto dir = base::TempDir::create("nebula-bench-test-");
  if (!dir) throw std::runtime_error(dir.error().message);
  return std::move(*dir);
}

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `nebula ARGS…` with its output in `log`; stops it after `limit`.
Outcome run_nebula(const std::vector<std::string>& args, const fs::path& log,
                   std::chrono::seconds limit = std::chrono::seconds(300),
                   const fs::path& binary = NEBULA_BIN) {
  std::vector<std::string> argv = {binary.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  base::SpawnOptions options;
  options.search_path = false;
  options.in = base::Stdio::null();
  options.out = base::Stdio::file(log);
  options.err = base::Stdio::to_stdout();
  Outcome out;
  auto child = base::Subprocess::start(argv, options);
  if (!child) {
    out.output = child.error().message;
    return out;
  }
  auto status = child->wait_for(base::Clock::now() + limit);
  // bench stops its server child on SIGTERM.
  out.exit_code = status ? *status : child->terminate(std::chrono::seconds(60));
  out.output = base::read_file(log).value_or("");
  return out;
}

// The quick settings: short idle periods and windows keep a test at a few
// seconds; the defaults are for real runs.
std::vector<std::string> quick_args(const fs::path& out, bool docker) {
  std::vector<std::string> args = {"bench",    "--out",    out.string(),  "--runs", "2",
                                   "--warmup", "1",        "--functions", "hello",  "--window-s",
                                   "0.3",      "--idle-s", "0.5"};
  if (!docker) args.emplace_back("--no-docker");
  return args;
}

const json::object& object_at(const json::object& o, std::string_view key) {
  return o.at(key).as_object();
}

// Checks one function × runtime cell of results.json: 2 measured calls that
// all count, with a record's numbers in every sample and a window.
void expect_cell(const json::object& cells, const std::string& runtime, bool cold_start) {
  SCOPED_TRACE(runtime);
  ASSERT_TRUE(cells.contains(runtime));
  const auto& cell = object_at(cells, runtime);
  const auto& summary = object_at(cell, "summary");
  EXPECT_EQ(summary.at("calls").to_number<int>(), 2);
  EXPECT_EQ(summary.at("ok").to_number<int>(), 2);
  EXPECT_EQ(summary.at("failures").to_number<int>(), 0);
  for (const char* metric : {"startup_us", "exec_us", "total_us", "cpu_us", "max_memory_bytes"}) {
    const auto& d = object_at(summary, metric);
    EXPECT_EQ(d.at("count").to_number<int>(), 2) << metric;
    for (const char* stat : {"p50", "p90", "p99", "mean"}) {
      EXPECT_TRUE(d.contains(stat)) << metric << "." << stat;
    }
  }
  EXPECT_GT(object_at(summary, "total_us").at("p50").to_number<double>(), 0);
  const auto& samples = cell.at("samples").as_array();
  ASSERT_EQ(samples.size(), 2U);
  for (const auto& v : samples) {
    const auto& s = v.as_object();
    EXPECT_TRUE(s.at("ok").as_bool());
    EXPECT_TRUE(s.at("output_matches").as_bool());
    EXPECT_FALSE(s.at("invocation_id").as_string().empty());
    EXPECT_EQ(s.at("outcome").as_string(), "ok");
    EXPECT_GT(s.at("total_us").to_number<double>(), 0);
    if (cold_start) {
      EXPECT_GT(s.at("startup_us").to_number<double>(), 0);
    }
  }
  const auto& window = object_at(cell, "window");
  EXPECT_GE(window.at("calls").to_number<int>(), 2);
  EXPECT_EQ(window.at("failures").to_number<int>(), 0);
  EXPECT_GT(window.at("wall_s").to_number<double>(), 0);
  EXPECT_EQ(object_at(cell, "warmup").at("calls").to_number<int>(), 1);
}

bool has_note(const json::object& results, std::string_view text) {
  for (const auto& note : results.at("notes").as_array()) {
    if (std::string_view(note.as_string()).find(text) != std::string_view::npos) return true;
  }
  return false;
}

// The versions are the server's (GET /v1/info): there, or null with a note
// that says why (a server that predates the route).
void expect_versions(const json::object& results, bool docker) {
  const auto& machine = object_at(results, "machine");
  if (machine.at("wasmtime_version").is_null()) {
    EXPECT_TRUE(has_note(results, "GET /v1/info"));
    EXPECT_TRUE(machine.at("docker_version").is_null());
    return;
  }
  EXPECT_FALSE(machine.at("wasmtime_version").as_string().empty());
  EXPECT_FALSE(machine.at("nebula_version").as_string().empty());
  if (docker) {
    EXPECT_NE(machine.at("docker_version").as_string().find("(API "), std::string::npos);
  } else {
    EXPECT_TRUE(machine.at("docker_version").is_null());
  }
}

json::object read_results(const fs::path& dir) {
  const std::string text = base::read_file(dir / "results.json").value_or("");
  boost::system::error_code ec;
  auto doc = json::parse(text, ec);
  EXPECT_FALSE(ec) << "results.json: " << ec.message();
  return doc.is_object() ? doc.as_object() : json::object{};
}

void expect_report(const fs::path& dir) {
  const std::string report = base::read_file(dir / "report.md").value_or("");
  ASSERT_FALSE(report.empty()) << "no report.md";
  EXPECT_NE(report.find("# Nebula benchmark"), std::string::npos);
  EXPECT_NE(report.find("## Machine"), std::string::npos);
  EXPECT_NE(report.find("## Method"), std::string::npos);
  EXPECT_NE(report.find("energy: "), std::string::npos);
  EXPECT_NE(report.find("| hello | wasm |"), std::string::npos);
  // Either the charts or the reason why there are none.
  const bool charts = fs::exists(dir / "startup.svg") && fs::exists(dir / "total.svg") &&
                      fs::exists(dir / "cpu.svg");
  EXPECT_TRUE(charts || report.find("charts: unavailable") != std::string::npos) << report;
}

#ifndef NEBULA_BENCH_DOCKER

TEST(Bench, WasmOnlyWritesEveryCellCountAndTheReport) {
  const base::TempDir dir = scratch_dir();
  const fs::path out = dir.path() / "out";
  Outcome r = run_nebula(quick_args(out, false), dir.path() / "bench.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0 of "), std::string::npos) << r.output;

  json::object results = read_results(out);
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results.at("schema").as_string(), "nebula-bench/1");
  const auto& settings = object_at(results, "settings");
  EXPECT_EQ(settings.at("runs").to_number<int>(), 2);
  ASSERT_EQ(settings.at("runtimes").as_array().size(), 1U);

  const auto& functions = results.at("functions").as_array();
  ASSERT_EQ(functions.size(), 1U);
  const auto& hello = functions[0].as_object();
  EXPECT_EQ(hello.at("name").as_string(), "hello");
  EXPECT_EQ(hello.at("reference_output").as_string(), "Hello, Nebula!\n");
  const auto& cells = object_at(hello, "cells");
  EXPECT_EQ(cells.size(), 1U);
  expect_cell(cells, "wasm", true);

  // No docker: the ratios are there, and say so with null.
  const auto& ratios = object_at(results, "ratios");
  EXPECT_TRUE(ratios.at("docker-cold").is_null());
  EXPECT_TRUE(ratios.at("docker-warm").is_null());
  EXPECT_TRUE(object_at(results, "runtimes").contains("wasm"));
  EXPECT_EQ(object_at(results, "totals").at("failures").to_number<int>(), 0);
  const auto& machine = object_at(results, "machine");
  EXPECT_FALSE(machine.at("cpu_model").as_string().empty());
  EXPECT_GT(machine.at("logical_cpus").to_number<int>(), 0);
  EXPECT_TRUE(object_at(results, "energy").contains("available"));
  expect_versions(results, false);
  expect_report(out);
}

// The charts come from the plot script built into the binary: a nebula
// copied away from its build and source trees still draws them.
TEST(Bench, AMovedBinaryStillDrawsItsCharts) {
  bool matplotlib = false;
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    auto probe = base::run({python, "-c", "import matplotlib"});
    matplotlib = matplotlib || (probe && probe->status == 0);
  }
  if (!matplotlib) GTEST_SKIP() << "no python3 with matplotlib (python3-matplotlib)";

  const base::TempDir dir = scratch_dir();
  const fs::path bin = dir.path() / "elsewhere";
  fs::create_directories(bin / "examples");
  fs::copy_file(NEBULA_BIN, bin / "nebula");
  fs::copy_file(fs::path(NEBULA_BIN).parent_path() / "examples" / "hello.wasm",
                bin / "examples" / "hello.wasm");
  const fs::path out = dir.path() / "out";
  Outcome r = run_nebula({"bench", "--no-docker", "--runs", "2", "--warmup", "0", "--functions",
                          "hello", "--out", out.string(), "--window-s", "0.3", "--idle-s", "0.5"},
                         dir.path() / "bench.log", std::chrono::seconds(300), bin / "nebula");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::vector<std::string> svgs;
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().extension() == ".svg") svgs.push_back(entry.path().filename().string());
  }
  EXPECT_FALSE(svgs.empty()) << r.output << base::read_file(out / "plot.log").value_or("");
  // The script it ran is the one of this source tree, written beside the
  // results so that they can be drawn again later.
  EXPECT_EQ(base::read_file(out / "plot.py"), base::read_file(NEBULA_PLOT_PY));
  const std::string report = base::read_file(out / "report.md").value_or("");
  for (const auto& svg : svgs) {
    EXPECT_NE(report.find("![" + svg + "](" + svg + ")"), std::string::npos) << svg;
  }
}

TEST(Bench, RejectsAnUnknownFunctionBeforeStartingAnything) {
  const base::TempDir dir = scratch_dir();
  Outcome r = run_nebula({"bench", "--out", (dir.path() / "out").string(), "--functions",
                          "no-such-example", "--no-docker"},
                         dir.path() / "bench.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no module"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "results.json"));
}

TEST(Bench, RejectsAnInputForAFunctionThatDoesNotRun) {
  const base::TempDir dir = scratch_dir();
  Outcome r = run_nebula({"bench", "--out", (dir.path() / "out").string(), "--functions", "hello",
                          "--inputs", "echo=hi", "--no-docker"},
                         dir.path() / "bench.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--inputs names 'echo'"), std::string::npos) << r.output;
}

#else

TEST(BenchDocker, ThreeRuntimesWithRatios) {
  if (auto problem = example_image_problem(); !problem.empty()) GTEST_SKIP() << problem;
  const base::TempDir dir = scratch_dir();
  const fs::path out = dir.path() / "out";
  Outcome r = run_nebula(quick_args(out, true), dir.path() / "bench.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  json::object results = read_results(out);
  ASSERT_FALSE(results.empty());
  const auto& runtimes = object_at(results, "settings").at("runtimes").as_array();
  ASSERT_EQ(runtimes.size(), 3U);
  const auto& hello = results.at("functions").as_array().at(0).as_object();
  const auto& cells = object_at(hello, "cells");
  expect_cell(cells, "wasm", true);
  expect_cell(cells, "docker-cold", true);
  expect_cell(cells, "docker-warm", false);
  // Every docker-cold call started a container of its own.
  EXPECT_EQ(
      object_at(object_at(cells, "docker-cold"), "summary").at("cold_starts").to_number<int>(), 2);

  const auto& ratios = object_at(results, "ratios");
  for (const char* runtime : {"docker-cold", "docker-warm"}) {
    SCOPED_TRACE(runtime);
    ASSERT_TRUE(ratios.at(runtime).is_object());
    const auto& q = object_at(ratios, runtime);
    for (const char* metric : {"startup_p50", "total_p50", "cpu_per_invocation",
                               "system_cpu_per_invocation", "memory", "energy_per_invocation"}) {
      EXPECT_TRUE(q.contains(metric)) << metric;
    }
    EXPECT_TRUE(q.at("total_p50").is_number());
    EXPECT_TRUE(q.at("memory").is_number());
  }
  EXPECT_TRUE(object_at(hello, "ratios").contains("docker-cold"));
  EXPECT_EQ(object_at(results, "totals").at("failures").to_number<int>(), 0);
  expect_versions(results, true);
  // The server stopped cleanly when the benchmark asked it to.
  EXPECT_FALSE(has_note(results, "exited with status"));
  expect_report(out);
}

#endif

}  // namespace
}  // namespace nebula::testing
