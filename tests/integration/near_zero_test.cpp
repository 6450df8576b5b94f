// `nebula bench --suite near-zero` end to end with tiny durations: the real
// binary starts its own server, deploys every example and writes
// near-zero.json and near-zero.md. Compiled twice: as near_zero_test
// (label integration, wasm only) and, with NEBULA_BENCH_DOCKER, as
// near_zero_docker_test (label docker, wasm, docker warm and docker cold).
// No figure is asserted on (benchmarks are programs, not timed tests):
// only that every runtime, rate, column and section is there.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
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

base::TempDir scratch_dir() {
  auto dir = base::TempDir::create("nebula-near-zero-test-");
  if (!dir) throw std::runtime_error(dir.error().message);
  return std::move(*dir);
}

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `nebula ARGS…` with its output in `log`; stops it after `limit`.
Outcome run_nebula(const std::vector<std::string>& args, const fs::path& log,
                   std::chrono::seconds limit = std::chrono::seconds(170)) {
  std::vector<std::string> argv = {NEBULA_BIN};
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

const std::vector<double> kRates = {0, 1, 10};

// Every duration at its smallest, and the server's idle timeouts at 1 s so
// that the waits for it to let go stay short.
std::vector<std::string> quick_args(const fs::path& out, bool docker) {
  std::vector<std::string> args = {"bench", "--suite", "near-zero", "--out", out.string()};
  const std::pair<const char*, const char*> quick[] = {
      {"--rates", "0,1,10"},   {"--rate-s", "1"},      {"--min-requests", "2"}, {"--idle-s", "1"},
      {"--window-s", "0.5"},   {"--probe-s", "1"},     {"--burst-s", "1"},      {"--settle-s", "1"},
      {"--zero-repeats", "1"}, {"--wasm-idle-s", "1"}, {"--warm-idle-s", "1"}};
  for (const auto& [flag, value] : quick) {
    args.emplace_back(flag);
    args.emplace_back(value);
  }
  if (!docker) args.emplace_back("--no-docker");
  return args;
}

const json::object& obj(const json::object& o, std::string_view key) {
  return o.at(key).as_object();
}

void expect_number(const json::object& o, std::string_view key) {
  ASSERT_TRUE(o.contains(key)) << key;
  EXPECT_TRUE(o.at(key).is_number()) << key << " = " << json::serialize(o.at(key));
}

void expect_null_or_number(const json::object& o, std::string_view key) {
  ASSERT_TRUE(o.contains(key)) << key;
  EXPECT_TRUE(o.at(key).is_number() || o.at(key).is_null()) << key;
}

// A row that ran has every column, numeric; the engine's only with Docker.
void expect_measured_row(const json::object& row, bool docker) {
  for (const char* key :
       {"offered_per_s", "window_s", "wall_s", "scheduled", "ok", "achieved_per_s", "errors",
        "unfinished", "machine_cpu_percent", "machine_cpu_cores", "bench_cpu_cores",
        "cpu_above_idle_us_per_s", "server_cpu_percent", "server_rss_avg_bytes",
        "server_rss_max_bytes", "containers_max", "containers_end", "watts", "status_samples"}) {
    expect_number(row, key);
  }
  expect_null_or_number(row, "server_cpu_us_per_request");
  EXPECT_GT(row.at("server_rss_max_bytes").to_number<double>(), 0);
  EXPECT_GE(row.at("status_samples").to_number<int>(), 2);
  EXPECT_TRUE(row.at("status_errors").is_object());
  EXPECT_TRUE(row.at("transport_errors").is_object());
  for (const char* key : {"engine_cpu_percent", "engine_rss_avg_bytes", "engine_rss_max_bytes"}) {
    if (docker) {
      expect_number(row, key);
    } else {
      EXPECT_TRUE(row.at(key).is_null()) << key;
    }
  }
  const auto& latency = row.at("latency_us").as_object();
  for (const char* key : {"p50", "p99", "p99_9", "max"}) {
    if (row.at("kind").as_string() == "idle") {
      EXPECT_TRUE(latency.at(key).is_null()) << key;
    } else {
      expect_number(latency, key);
    }
  }
  // Rate 1 is far below any saturation: every request must come back.
  if (row.at("kind").as_string() == "rate" && row.at("offered_per_s").to_number<double>() <= 1) {
    EXPECT_EQ(row.at("ok").to_number<int>(), row.at("scheduled").to_number<int>());
    EXPECT_EQ(row.at("errors").to_number<int>(), 0);
    EXPECT_EQ(row.at("unfinished").to_number<int>(), 0);
  }
}

void expect_curve(const json::object& curves, const std::string& runtime, bool docker) {
  SCOPED_TRACE(runtime);
  ASSERT_TRUE(curves.contains(runtime));
  const auto& curve = curves.at(runtime).as_object();
  const auto& per_invocation = obj(curve, "per_invocation");
  EXPECT_GE(per_invocation.at("calls").to_number<int>(), 10);
  EXPECT_EQ(per_invocation.at("failures").to_number<int>(), 0);
  expect_number(per_invocation, "cpu_us_per_call");
  expect_number(per_invocation, "energy_uwh_per_call");
  expect_number(obj(per_invocation, "startup_us"), "p50");
  const auto& saturation = obj(curve, "saturation");
  EXPECT_GT(saturation.at("throughput_per_s").to_number<double>(), 0);
  EXPECT_GT(saturation.at("connections").to_number<int>(), 0);
  const auto& slope = obj(curve, "slope");
  for (const char* key : {"cpu_us_per_request", "ratio_to_per_invocation", "intercept_us_per_s"}) {
    expect_null_or_number(slope, key);
  }
  EXPECT_FALSE(slope.at("method").as_string().empty());

  // Every rate is there: run, or listed as not offered with the reason;
  // then exactly one saturation row.
  const auto& rows = curve.at("rows").as_array();
  std::set<double> seen;
  int saturation_rows = 0;
  for (const auto& v : rows) {
    const auto& row = v.as_object();
    const std::string kind(row.at("kind").as_string());
    SCOPED_TRACE(kind + " " + json::serialize(row.at("offered_per_s")));
    if (kind == "saturation") {
      ++saturation_rows;
      EXPECT_GT(row.at("offered_per_s").to_number<double>(), 0);
      expect_measured_row(row, docker);
      continue;
    }
    seen.insert(row.at("offered_per_s").to_number<double>());
    if (kind == "not offered") {
      EXPECT_NE(std::string(row.at("note").as_string()).find("above saturation"),
                std::string::npos);
      EXPECT_TRUE(row.at("achieved_per_s").is_null());
    } else {
      EXPECT_TRUE(kind == "idle" || kind == "rate") << kind;
      expect_measured_row(row, docker);
    }
  }
  EXPECT_EQ(saturation_rows, 1);
  EXPECT_EQ(seen, std::set<double>(kRates.begin(), kRates.end()));
  // Rates 0 and 1 are below any saturation a working server reaches.
  EXPECT_EQ(rows.at(0).at("kind").as_string(), "idle");
  EXPECT_EQ(rows.at(1).at("kind").as_string(), "rate");
}

json::object read_results(const fs::path& dir) {
  const std::string text = base::read_file(dir / "near-zero.json").value_or("");
  boost::system::error_code ec;
  auto doc = json::parse(text, ec);
  EXPECT_FALSE(ec) << "near-zero.json: " << ec.message();
  return doc.is_object() ? doc.as_object() : json::object{};
}

void expect_results(const json::object& results, const std::vector<std::string>& runtimes,
                    bool docker) {
  EXPECT_EQ(results.at("schema").as_string(), "nebula-bench-near-zero/1");
  const std::string method(results.at("energy_method").as_string());
  EXPECT_TRUE(method == "estimate: linear CPU-utilisation model" || method == "measured (RAPL)")
      << method;
  EXPECT_EQ(obj(results, "energy").at("method").as_string(), method);
  const auto& machine = obj(results, "machine");
  EXPECT_GT(machine.at("logical_cpus").to_number<int>(), 0);
  EXPECT_FALSE(machine.at("cpu_model").as_string().empty());

  const auto& deployed = obj(results, "deployed");
  std::set<std::string> names;
  for (const auto& n : deployed.at("functions").as_array()) names.emplace(n.as_string());
  for (const char* name : {"hello", "echo", "fibonacci", "nz-wasm"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
  if (fs::exists(fs::path(NEBULA_BIN).parent_path() / "examples" / "components" / "hello.wasm")) {
    EXPECT_TRUE(names.contains("hello-component"));
  }
  if (docker) {
    EXPECT_TRUE(names.contains("nz-warm"));
    EXPECT_TRUE(names.contains("nz-cold"));
    EXPECT_GT(deployed.at("docker_variants").to_number<int>(), 0);
  }

  const auto& idle = obj(results, "idle");
  EXPECT_TRUE(idle.at("released").as_bool());
  EXPECT_GT(idle.at("server_rss_after_deploy_bytes").to_number<double>(), 0);
  const auto& server = obj(idle, "server");
  EXPECT_GT(server.at("rss_bytes").to_number<double>(), 0);
  EXPECT_GT(server.at("threads").to_number<int>(), 0);
  EXPECT_GT(server.at("open_fds").to_number<int>(), 0);
  expect_number(server, "cpu_percent");
  expect_number(server, "wakeups_per_s");
  if (docker) {
    ASSERT_TRUE(idle.at("engine").is_object());
    EXPECT_GT(obj(idle, "engine").at("rss_bytes").to_number<double>(), 0);
  } else {
    EXPECT_TRUE(idle.at("engine").is_null());
  }
  for (const char* key : {"containers", "machine_cpu_percent", "machine_busy_cpu_us_per_s",
                          "data_dir_bytes", "watts", "wall_s"}) {
    expect_number(idle, key);
  }

  const auto& curves = obj(results, "curves");
  EXPECT_EQ(curves.size(), runtimes.size());
  for (const auto& rt : runtimes) expect_curve(curves, rt, docker);

  const auto& burst = obj(results, "burst");
  EXPECT_TRUE(burst.at("ran").as_bool());
  EXPECT_GT(burst.at("ok").to_number<int>(), 0);
  expect_number(burst, "ratio_to_idle");
  EXPECT_GT(burst.at("server_rss_settled_bytes").to_number<double>(), 0);

  const auto& zero = obj(results, "scale_from_zero");
  const auto& calls = zero.at("calls").as_array();
  ASSERT_EQ(calls.size(), runtimes.size());
  for (const auto& v : calls) {
    const auto& call = v.as_object();
    SCOPED_TRACE(json::serialize(call));
    EXPECT_TRUE(call.at("ok").as_bool());
    EXPECT_TRUE(call.at("from_zero").as_bool());
    expect_number(call, "startup_us");
    expect_number(call, "client_us");
  }
  for (const auto& rt : runtimes) {
    EXPECT_EQ(obj(zero, "summary").at(rt).at("calls").to_number<int>(), 1) << rt;
  }
  expect_number(zero, "wasm_zero_to_cold_start_ratio");
}

void expect_report(const fs::path& dir, const std::string& method) {
  const std::string md = base::read_file(dir / "near-zero.md").value_or("");
  ASSERT_FALSE(md.empty()) << "no near-zero.md";
  for (const char* text :
       {"# Nebula near-zero benchmark", "## Method", "## Idle footprint",
        "| | Nebula server | Docker engine |", "## Load curve", "| offered /s | achieved /s |",
        "(saturation)", "## CPU per request under load", "## Burst recovery", "## Scale from zero",
        "## Energy"}) {
    EXPECT_NE(md.find(text), std::string::npos) << text;
  }
  EXPECT_NE(md.find(method), std::string::npos) << method;
  const bool charts =
      fs::exists(dir / "near-zero-resources.svg") && fs::exists(dir / "near-zero-latency.svg");
  EXPECT_TRUE(charts || md.find("charts: unavailable") != std::string::npos) << md;
}

#ifndef NEBULA_BENCH_DOCKER

TEST(NearZero, WasmOnlyWritesEveryRuntimeRateAndColumn) {
  const base::TempDir dir = scratch_dir();
  const fs::path out = dir.path() / "out";
  Outcome r = run_nebula(quick_args(out, false), dir.path() / "bench.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("near-zero.json"), std::string::npos) << r.output;
  json::object results = read_results(out);
  ASSERT_FALSE(results.empty());
  expect_results(results, {"wasm"}, false);
  expect_report(out, std::string(results.at("energy_method").as_string()));
}

TEST(NearZero, RefusesAServerOfSomeoneElse) {
  const base::TempDir dir = scratch_dir();
  Outcome r = run_nebula({"bench", "--suite", "near-zero", "--out", (dir.path() / "out").string(),
                          "--server", "http://127.0.0.1:8080", "--no-docker"},
                         dir.path() / "bench.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("leave out --server"), std::string::npos) << r.output;
}

TEST(NearZero, RefusesABadPowerModelBeforeStartingAnything) {
  const base::TempDir dir = scratch_dir();
  Outcome r = run_nebula({"bench", "--suite", "near-zero", "--out", (dir.path() / "out").string(),
                          "--power-model", "3.5,0.74", "--no-docker"},
                         dir.path() / "bench.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--power-model expects IDLE_W,MAX_W"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("starting a nebula server"), std::string::npos) << r.output;
}

TEST(NearZero, FlagsOfTheOtherSuiteAreRefused) {
  const base::TempDir dir = scratch_dir();
  Outcome r = run_nebula(
      {"bench", "--suite", "near-zero", "--out", (dir.path() / "out").string(), "--runs", "3"},
      dir.path() / "bench.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--runs belongs to --suite invocations"), std::string::npos) << r.output;
  r = run_nebula({"bench", "--out", (dir.path() / "out").string(), "--rates", "1"},
                 dir.path() / "bench2.log", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--rates belongs to --suite near-zero"), std::string::npos) << r.output;
}

#else

TEST(NearZeroDocker, ThreeRuntimesWithTheEngineFootprint) {
  if (auto problem = example_image_problem(); !problem.empty()) GTEST_SKIP() << problem;
  const base::TempDir dir = scratch_dir();
  const fs::path out = dir.path() / "out";
  Outcome r = run_nebula(quick_args(out, true), dir.path() / "bench.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json::object results = read_results(out);
  ASSERT_FALSE(results.empty());
  expect_results(results, {"wasm", "docker-warm", "docker-cold"}, true);
  expect_report(out, std::string(results.at("energy_method").as_string()));
}

#endif

}  // namespace
}  // namespace nebula::testing
