#include "bench/near_zero.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "base/console.hpp"
#include "base/files.hpp"
#include "bench/calls.hpp"
#include "bench/charts.hpp"
#include "bench/energy_model.hpp"
#include "bench/machine.hpp"
#include "bench/open_loop.hpp"
#include "bench/server_child.hpp"
#include "bench/server_info.hpp"
#include "bench/server_status.hpp"
#include "bench/support.hpp"
#include "http/client.hpp"
#include "metrics/process.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using base::fail;
using http::Client;
using std::chrono::milliseconds;

// The body of every call; hello answers "Hello, Nebula!".
const std::string kInput = "Nebula";

// Calls whose records give a runtime's start-up, before its CPU window.
constexpr unsigned kRecordCalls = 10;
// The per-invocation window: at least this many calls (and --window-s),
// at most the other, so that a very fast runtime cannot run for ever.
constexpr unsigned kMinWindowCalls = 10;
constexpr unsigned kMaxWindowCalls = 20'000;
// /v1/status during a load: about once a second.
constexpr auto kStatusPeriod = std::chrono::seconds(1);
// The open loop's limits (open_loop.hpp).
constexpr std::size_t kMaxConnections = 512;
constexpr milliseconds kDrain{10'000};
constexpr milliseconds kRequestTimeout{30'000};
// Waiting for the server to let everything go: polled this often, for at
// most the longer idle timeout and this much more.
constexpr milliseconds kReleasePoll{250};
constexpr double kReleaseSlack_s = 60;
// Without wasm.loaded in the status, the wait is the idle time and this.
constexpr double kLoadedUnknownExtra_s = 2;
// After a load: how long containers it started may take to go away.
constexpr double kQuietMax_s = 60;

milliseconds to_ms(double seconds) {
  return milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

// Sleeps `seconds` in slices, so that Ctrl-C is seen within 100 ms. False
// when interrupted.
bool rest(double seconds) {
  const auto until = SteadyClock::now() + to_ms(seconds);
  while (SteadyClock::now() < until) {
    if (interrupted()) return false;
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(milliseconds(100), until - SteadyClock::now()));
  }
  return !interrupted();
}

// Containers running on this machine: one shim process each. Read from
// /proc, like /proc/stat, so that the benchmark never asks the engine.
std::uint64_t count_containers(bool docker) {
  return docker ? metrics::footprint_of_named({"containerd-shim*"}).processes : 0;
}

struct StatusPoint {
  StatusReading status;
  std::uint64_t containers = 0;
};

// /v1/status and the container count about once a second on a thread of
// its own while the caller's thread drives a load. finish() (or the
// destructor) stops and joins it; the points are only read after that.
class StatusSampler {
 public:
  StatusSampler(const Client& client, bool docker)
      : client_(client), docker_(docker), thread_([this] { loop(); }) {}
  StatusSampler(const StatusSampler&) = delete;
  StatusSampler& operator=(const StatusSampler&) = delete;
  ~StatusSampler() { (void)finish(); }

  std::vector<StatusPoint> finish() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return std::move(points_);
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, kStatusPeriod, [this] { return stop_; })) {
      lock.unlock();
      auto status = fetch_server_status(client_);
      const std::uint64_t containers = count_containers(docker_);
      lock.lock();
      if (status) points_.push_back(StatusPoint{std::move(*status), containers});
    }
  }

  const Client& client_;
  const bool docker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<StatusPoint> points_;
  std::thread thread_;  // last: it starts once everything above exists
};

// Everything the steps share. Owned by run_near_zero's frame.
struct Suite {
  const NearZeroOptions& o;
  const Client& client;
  LoadRequest base;  // host and port of the server
  NearZeroRun& run;
  EnergyMeter& energy;
  Progress& progress;
  bool docker = false;
  bool status_failure_noted = false;
};

void note_once(Suite& s, const Error& error) {
  if (s.status_failure_noted) return;
  s.status_failure_noted = true;
  s.run.notes.push_back("a reading of GET /v1/status failed (" + error.message +
                        "); the figures that need it are 0 where it was missing");
}

std::optional<StatusReading> status_now(Suite& s) {
  auto st = fetch_server_status(s.client);
  if (!st) {
    note_once(s, st.error());
    return std::nullopt;
  }
  return std::move(*st);
}

const char* function_of(Runtime rt) {
  switch (rt) {
    case Runtime::kWasm: return "nz-wasm";
    case Runtime::kDockerWarm: return "nz-warm";
    case Runtime::kDockerCold: return "nz-cold";
  }
  return "";
}

Target target_of(Runtime rt) {
  const std::string name = function_of(rt);
  const char* runtime = rt == Runtime::kWasm ? "wasm" : "docker";
  return {"/v1/functions/" + name + "/invoke?runtime=" + runtime, to_string(rt)};
}

LoadRequest load_request(const Suite& s, Runtime rt) {
  LoadRequest r = s.base;
  r.target = target_of(rt).path;
  r.body = kInput;
  return r;
}

// Connections of the closed loops: calls that mostly wait (a container
// start) need fewer to saturate the machine than calls that compute.
unsigned probe_connections(const MachineInfo& m, Runtime rt) {
  const unsigned cpus = std::max(1U, m.logical_cpus);
  return rt == Runtime::kDockerCold ? 2 * cpus : 4 * cpus;
}

double watts_of(const Suite& s, const Interval& interval) {
  if (s.run.energy.measured && interval.energy_uj && interval.wall_s > 0) {
    return *interval.energy_uj / interval.wall_s / 1e6;
  }
  const double busy_cores = interval.wall_s > 0 ? interval.busy_cpu_us / interval.wall_s / 1e6 : 0;
  return estimated_watts(s.run.energy.model, s.run.machine.logical_cpus, busy_cores);
}

// --- deployment ----------------------------------------------------------

Result<std::string> upload(const Client& client, const fs::path& file) {
  auto bytes = base::read_file(file);
  if (!bytes) return make_error(ErrorKind::kNotFound, "cannot read " + file.string());
  auto res = client.request("POST", "/v1/modules", std::move(*bytes), "application/wasm");
  if (!res) return std::move(res).error();
  if (res->status != 201) {
    return make_error(ErrorKind::kInvalidArgument,
                      "module " + file.string() + " rejected: " + http::problem_detail(*res));
  }
  boost::system::error_code ec;
  auto doc = json::parse(res->body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("digest") ||
      !doc.as_object().at("digest").is_string()) {
    return make_error(ErrorKind::kInternal, "the server answered the upload with no digest");
  }
  return std::string(doc.as_object().at("digest").as_string());
}

// PUT /v1/functions/NAME: the status (200 replaced, 201 created, 404 an
// image the engine lacks, …) or a transport error.
Result<unsigned> put_function(const Client& client, const std::string& name,
                              const json::object& manifest, std::string& detail) {
  auto res =
      client.request("PUT", "/v1/functions/" + name, json::serialize(manifest), "application/json");
  if (!res) return std::move(res).error();
  detail = http::problem_detail(*res);
  return res->status;
}

Status deploy_one(Suite& s, const std::string& name, const json::object& manifest) {
  std::string detail;
  auto status = put_function(s.client, name, manifest, detail);
  if (!status) return std::move(status).error();
  if (*status != 200 && *status != 201) {
    return make_error(ErrorKind::kInvalidArgument, "deploying '" + name + "' failed: " + detail);
  }
  s.run.deployed.push_back(name);
  return {};
}

// An example module with its image as the docker variant when the engine
// has it: a 404 for the image (the server checks with its engine) deploys
// the module alone.
Status deploy_example(Suite& s, const std::string& name, const std::string& digest) {
  json::object manifest{{"wasm", json::object{{"module", digest}}}};
  if (s.docker) {
    json::object with_image = manifest;
    with_image["docker"] = json::object{{"image", "nebula-fn-" + name + ":latest"}};
    std::string detail;
    auto status = put_function(s.client, name, with_image, detail);
    if (!status) return std::move(status).error();
    if (*status == 200 || *status == 201) {
      s.run.deployed.push_back(name);
      ++s.run.docker_variants;
      return {};
    }
    if (*status != 404) {
      return make_error(ErrorKind::kInvalidArgument, "deploying '" + name + "' failed: " + detail);
    }
    s.run.without_image.push_back(name);
  }
  return deploy_one(s, name, manifest);
}

std::vector<std::string> read_list(const fs::path& file) {
  std::vector<std::string> names;
  std::istringstream lines(base::read_file(file).value_or(""));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

// What scripts/up.sh deploys (the modules with their images, the command
// components as NAME-component, the HTTP handlers), then the suite's own
// three functions.
Status deploy_all(Suite& s, const fs::path& examples, const std::string& url) {
  const auto modules = read_list(examples / "examples.txt");
  for (const auto& name : modules) {
    if (interrupted()) return {};
    auto digest = upload(s.client, examples / (name + ".wasm"));
    if (!digest) return std::move(digest).error();
    if (auto st = deploy_example(s, name, *digest); !st) return st;
  }
  if (std::error_code ec; fs::is_regular_file(examples / "components" / "hello.wasm", ec)) {
    for (const auto& name : modules) {
      const fs::path file = examples / "components" / (name + ".wasm");
      if (std::error_code fe; !fs::is_regular_file(file, fe)) continue;
      auto digest = upload(s.client, file);
      if (!digest) return std::move(digest).error();
      json::object manifest{{"wasm", json::object{{"module", *digest}}}};
      if (auto st = deploy_one(s, name + "-component", manifest); !st) return st;
    }
  }
  for (const auto& name : read_list(examples / "http-examples.txt")) {
    const fs::path file = examples / "http" / (name + ".wasm");
    if (std::error_code ec; !fs::is_regular_file(file, ec)) continue;
    auto digest = upload(s.client, file);
    if (!digest) return std::move(digest).error();
    json::object manifest{{"wasm", json::object{{"module", *digest}}}};
    // As in up.sh: http-fetch may reach this server itself.
    if (name == "http-fetch") manifest["allowed_outbound_hosts"] = json::array{json::string(url)};
    if (auto st = deploy_one(s, name, manifest); !st) return st;
  }

  auto hello = upload(s.client, examples / "hello.wasm");
  if (!hello) return std::move(hello).error();
  if (auto st = deploy_one(s, "nz-wasm", json::object{{"wasm", json::object{{"module", *hello}}}});
      !st) {
    return st;
  }
  if (!s.docker) return {};
  const json::object image{{"image", "nebula-fn-hello:latest"}};
  const auto missing_image = [](const std::string& name, const std::string& detail) {
    return make_error(ErrorKind::kNotFound,
                      "deploying '" + name +
                          "' failed: the server's Docker engine has no image "
                          "nebula-fn-hello:latest (" +
                          detail +
                          "); build the example images with `cmake --build --preset release "
                          "--target example_images`, or pass --no-docker");
  };
  const unsigned max_warm = 2 * std::max(1U, s.run.machine.logical_cpus);
  const json::object warm{
      {"docker", image},
      {"docker_pool",
       json::object{{"min_warm", 0}, {"max_warm", max_warm}, {"idle_timeout_s", s.o.warm_idle_s}}}};
  const json::object cold{{"docker", image}};
  for (const auto& [name, manifest] : {std::pair{"nz-warm", warm}, std::pair{"nz-cold", cold}}) {
    std::string detail;
    auto status = put_function(s.client, name, manifest, detail);
    if (!status) return std::move(status).error();
    if (*status == 404) return missing_image(name, detail);
    if (*status != 200 && *status != 201) {
      return make_error(ErrorKind::kInvalidArgument,
                        std::string("deploying '") + name + "' failed: " + detail);
    }
    s.run.deployed.emplace_back(name);
  }
  return {};
}

// --- waiting for the server to let go --------------------------------------

struct Release {
  bool released = false;
  bool loaded_known = true;
  double waited_s = 0;
};

// Polls /v1/status until no warm container is left and no wasm program is
// in memory. A server that does not report wasm.loaded gets the wasm idle
// time and 2 s instead.
Release wait_until_released(Suite& s) {
  const auto start = SteadyClock::now();
  const double limit_s =
      static_cast<double>(std::max(s.o.wasm_idle_s, s.o.warm_idle_s)) + kReleaseSlack_s;
  Release r;
  while (!interrupted()) {
    if (auto st = status_now(s)) {
      r.loaded_known = st->wasm_loaded.has_value();
      const bool wasm_released =
          r.loaded_known ? *st->wasm_loaded == 0
                         : seconds_since(start) >= s.o.wasm_idle_s + kLoadedUnknownExtra_s;
      if (st->warm_containers == 0 && wasm_released) {
        r.released = true;
        break;
      }
    }
    if (seconds_since(start) >= limit_s) break;
    std::this_thread::sleep_for(kReleasePoll);
  }
  r.waited_s = seconds_since(start);
  return r;
}

// After a load, containers it started (a cold call the server was still
// running when its client gave up) may outlive it: wait until no more
// run than at idle plus the warm ones, so the next step starts clean.
void wait_for_quiet(Suite& s) {
  if (!s.docker) return;
  const auto start = SteadyClock::now();
  while (!interrupted() && seconds_since(start) < kQuietMax_s) {
    const auto st = status_now(s);
    const std::uint64_t warm = st ? st->warm_containers : 0;
    if (count_containers(true) <= s.run.idle.containers + warm) return;
    std::this_thread::sleep_for(kReleasePoll);
  }
  if (!interrupted()) {
    s.run.notes.emplace_back(
        "containers from a load were still running 60 s after it ended; the next step ran "
        "with them");
  }
}

// --- the steps -------------------------------------------------------------

ProcessWindow process_window(const ProcessFigures& before, const ProcessFigures& after,
                             double seconds) {
  ProcessWindow p;
  p.cpu_percent = rate_per_s(before.cpu_us, after.cpu_us, seconds) / 1e4;
  p.wakeups_per_s = rate_per_s(before.voluntary_switches, after.voluntary_switches, seconds);
  p.rss_bytes = after.rss_bytes;
  p.threads = after.threads;
  p.open_fds = after.open_fds;
  p.processes = after.processes;
  return p;
}

void measure_idle(Suite& s, const StatusReading& after_deploy) {
  IdleFootprint& idle = s.run.idle;
  idle.server_rss_after_deploy_bytes = after_deploy.server.rss_bytes;
  idle.wasm_loaded_after_deploy = after_deploy.wasm_loaded;
  s.progress.set_status("waiting for the server to let go of every program and container");
  const Release release = wait_until_released(s);
  idle.released = release.released;
  idle.loaded_known = release.loaded_known;
  idle.waited_s = release.waited_s;
  if (!release.released && !interrupted()) {
    s.run.notes.emplace_back(
        "the server still held warm containers or wasm programs when the idle footprint was "
        "measured (it did not release them within the idle timeouts and 60 s)");
  }
  if (!release.loaded_known) {
    s.run.notes.emplace_back(
        "the server does not report wasm.loaded in GET /v1/status: the suite waited the wasm "
        "idle time and 2 s instead of seeing the programs let go");
  }
  if (interrupted()) return;
  s.progress.set_status("measuring the idle footprint");
  auto before = status_now(s);
  auto m_before = take_reading(s.energy);
  rest(s.o.idle_s);
  auto m_after = take_reading(s.energy);
  auto after = status_now(s);
  idle.containers = count_containers(s.docker);
  if (before && after) {
    const double secs = std::chrono::duration<double>(after->at - before->at).count();
    idle.server = process_window(before->server, after->server, secs);
    if (before->engine && after->engine) {
      idle.engine = process_window(*before->engine, *after->engine, secs);
    }
    idle.data_dir_bytes = after->data_dir_bytes;
  }
  if (m_before && m_after) {
    const Interval interval = between(*m_before, *m_after, s.run.machine.clock_ticks_per_second);
    idle.wall_s = interval.wall_s;
    idle.machine = idle_period(interval);
    idle.machine_cpu_percent =
        100.0 * idle.machine.busy_cpu_us_per_s() / (1e6 * std::max(1U, s.run.machine.logical_cpus));
    idle.watts = watts_of(s, interval);
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "idle: server %.1f MiB, %.2f %% CPU, %.2f wakeups/s; machine %.1f %% busy",
                static_cast<double>(idle.server.rss_bytes) / (1 << 20), idle.server.cpu_percent,
                idle.server.wakeups_per_s, idle.machine_cpu_percent);
  s.progress.line(line);
  s.progress.advance();
}

// The runtime's start-up from a few records, then calls back to back for
// the CPU per call.
PerInvocation measure_per_invocation(Suite& s, Runtime rt) {
  PerInvocation p;
  const Target target = target_of(rt);
  std::vector<double> startup;
  std::vector<double> client;
  for (unsigned k = 0; k < kRecordCalls && !interrupted(); ++k) {
    Sample sample = call_measured(s.client, target, kInput, std::nullopt);
    ++p.record_calls;
    if (!sample.ok()) {
      ++p.record_failures;
      if (p.first_error.empty()) p.first_error = sample.error;
      continue;
    }
    startup.push_back(static_cast<double>(sample.timings.startup_us));
    client.push_back(static_cast<double>(sample.client_us));
  }
  p.startup_us = distribution(std::move(startup));
  p.client_us = distribution(std::move(client));

  Window& w = p.window;
  auto before = take_reading(s.energy);
  while (!interrupted() && w.calls < kMaxWindowCalls) {
    if (w.calls >= kMinWindowCalls && (!before || seconds_since(before->at) >= s.o.window_s)) {
      break;
    }
    auto out = call_once(s.client, target, kInput, std::nullopt);
    ++w.calls;
    if (!out) {
      ++w.failures;
      const std::string& e = out.error().message;
      ++w.failure_kinds[e.substr(0, e.find(':'))];
      if (p.first_error.empty()) p.first_error = e;
    }
  }
  auto after = take_reading(s.energy);
  if (before && after) {
    w.set_interval(between(*before, *after, s.run.machine.clock_ticks_per_second));
    const Baseline& idle = s.run.idle.machine;
    w.baseline_cpu_us = idle.busy_cpu_us_per_s() * w.wall_s;
    if (auto power = idle.power_uw()) w.baseline_energy_uj = *power * w.wall_s;
  }
  p.cpu_us_per_call = w.system_cpu_us_per_call();
  if (s.run.energy.measured) {
    if (auto uj = w.energy_uj_per_call()) p.energy_uwh_per_call = uj_to_uwh(*uj);
  } else if (p.cpu_us_per_call) {
    p.energy_uwh_per_call = estimated_marginal_uwh(s.run.energy.model, *p.cpu_us_per_call);
  }
  if (p.record_failures + w.failures > 0) {
    s.run.notes.push_back(std::string(to_string(rt)) + ": " +
                          std::to_string(p.record_failures + w.failures) +
                          " sequential calls failed; the first: " + p.first_error);
  }
  return p;
}

void latency_figures(RateRow& row, std::vector<double> latencies) {
  if (latencies.empty()) return;
  std::sort(latencies.begin(), latencies.end());
  row.p50_us = percentile(latencies, 0.50);
  row.p99_us = percentile(latencies, 0.99);
  row.p999_us = percentile(latencies, 0.999);
  row.max_us = latencies.back();
}

// One offered rate (0: the server left alone) with every reading around it.
RateRow measure_rate(Suite& s, Runtime rt, double rate, RowKind kind) {
  RateRow row;
  row.kind = kind;
  row.offered_per_s = rate;
  const double duration = rate_duration_s(rate, s.o.rate_s, s.o.min_requests);
  const auto before = status_now(s);
  const auto m_before = take_reading(s.energy);
  std::optional<LoadResult> load;
  std::vector<StatusPoint> points;
  {
    StatusSampler sampler(s.client, s.docker);
    if (rate > 0) {
      OpenLoopOptions options;
      options.rate_per_s = rate;
      options.duration = to_ms(duration);
      options.max_connections = kMaxConnections;
      options.drain_timeout = kDrain;
      options.request_timeout = kRequestTimeout;
      auto result = run_open_loop(load_request(s, rt), options, [] { return interrupted(); });
      if (result) {
        load = std::move(*result);
      } else {
        s.run.notes.push_back(std::string(to_string(rt)) + " at " + std::to_string(rate) +
                              " req/s: the load generator failed: " + result.error().message);
      }
    } else {
      rest(duration);
    }
    points = sampler.finish();
  }
  const auto m_after = take_reading(s.energy);
  const auto after = status_now(s);
  row.containers_end = count_containers(s.docker);
  row.status_samples = points.size() + (before ? 1 : 0) + (after ? 1 : 0);

  if (load) {
    row.window_s = load->window_s;
    row.scheduled = load->scheduled;
    row.ok = load->ok;
    row.status_errors = load->status_errors;
    row.transport_errors = load->transport_errors;
    row.unfinished = load->unfinished;
    row.achieved_per_s = load->achieved_per_s();
    latency_figures(row, std::move(load->latencies_us));
  }
  if (m_before && m_after) {
    const Interval interval = between(*m_before, *m_after, s.run.machine.clock_ticks_per_second);
    row.wall_s = interval.wall_s;
    if (!load) row.window_s = interval.wall_s;
    if (interval.wall_s > 0) {
      row.machine_cpu_cores = interval.busy_cpu_us / interval.wall_s / 1e6;
      row.bench_cpu_cores = interval.own_cpu_us / interval.wall_s / 1e6;
      row.cpu_above_idle_us_per_s = (interval.busy_cpu_us - interval.own_cpu_us) / interval.wall_s -
                                    s.run.idle.machine.busy_cpu_us_per_s();
    }
    row.watts = watts_of(s, interval);
  }
  if (before && after) {
    const double secs = std::chrono::duration<double>(after->at - before->at).count();
    row.server_cpu_percent = rate_per_s(before->server.cpu_us, after->server.cpu_us, secs) / 1e4;
    if (row.ok > 0 && after->server.cpu_us >= before->server.cpu_us) {
      row.server_cpu_us_per_request =
          static_cast<double>(after->server.cpu_us - before->server.cpu_us) /
          static_cast<double>(row.ok);
    }
    if (before->engine && after->engine) {
      row.engine_cpu_percent =
          rate_per_s(before->engine->cpu_us, after->engine->cpu_us, secs) / 1e4;
    }
  }
  // Memory and containers over every reading: the two around the window
  // and the sampler's.
  std::vector<const StatusReading*> readings;
  if (before) readings.push_back(&*before);
  for (const auto& p : points) {
    readings.push_back(&p.status);
    row.containers_max = std::max(row.containers_max, p.containers);
  }
  if (after) readings.push_back(&*after);
  row.containers_max = std::max(row.containers_max, row.containers_end);
  double server_sum = 0;
  double engine_sum = 0;
  std::size_t engine_n = 0;
  std::uint64_t engine_max = 0;
  for (const StatusReading* r : readings) {
    server_sum += static_cast<double>(r->server.rss_bytes);
    row.server_rss_max_bytes = std::max(row.server_rss_max_bytes, r->server.rss_bytes);
    if (r->engine) {
      engine_sum += static_cast<double>(r->engine->rss_bytes);
      engine_max = std::max(engine_max, r->engine->rss_bytes);
      ++engine_n;
    }
  }
  if (!readings.empty())
    row.server_rss_avg_bytes = server_sum / static_cast<double>(readings.size());
  if (engine_n > 0) {
    row.engine_rss_avg_bytes = engine_sum / static_cast<double>(engine_n);
    row.engine_rss_max_bytes = engine_max;
  }
  return row;
}

std::string rate_label(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, rate >= 10 ? "%.0f" : "%.2g", rate);
  return buf;
}

RuntimeCurve measure_curve(Suite& s, Runtime rt) {
  RuntimeCurve c;
  c.runtime = rt;
  c.function = function_of(rt);
  const std::string name = to_string(rt);

  s.progress.set_status(name + ": CPU per invocation");
  c.per_invocation = measure_per_invocation(s, rt);
  s.progress.advance();
  if (interrupted()) return c;

  s.progress.set_status(name + ": saturation probe");
  c.probe.connections = probe_connections(s.run.machine, rt);
  ClosedLoopOptions closed;
  closed.connections = c.probe.connections;
  closed.duration = to_ms(s.o.probe_s);
  closed.drain_timeout = kDrain;
  closed.request_timeout = kRequestTimeout;
  if (auto probe = run_closed_loop(load_request(s, rt), closed, [] { return interrupted(); })) {
    c.probe.window_s = probe->window_s;
    c.probe.sent = probe->sent;
    c.probe.ok = probe->ok;
    c.probe.errors = probe->status_error_count() + probe->transport_error_count();
    c.probe.unfinished = probe->unfinished;
    c.probe.throughput_per_s = probe->achieved_per_s();
    if (!probe->latencies_us.empty()) {
      std::sort(probe->latencies_us.begin(), probe->latencies_us.end());
      c.probe.p50_us = percentile(probe->latencies_us, 0.5);
    }
  } else {
    s.run.notes.push_back(name + ": the saturation probe failed: " + probe.error().message);
  }
  s.progress.advance();
  // Cold containers of the probe may still be going away.
  wait_for_quiet(s);
  const double x = c.probe.throughput_per_s;
  if (x <= 0 && !interrupted()) {
    s.run.notes.push_back(name +
                          ": no call of the saturation probe succeeded, so no rate above 0 "
                          "was offered");
  }

  const RatePlan plan = plan_rates(s.o.rates, x);
  for (double rate : plan.run) {
    if (interrupted()) return c;
    s.progress.set_status(name + ": " + rate_label(rate) + " req/s");
    c.rows.push_back(measure_rate(s, rt, rate, rate > 0 ? RowKind::kRate : RowKind::kIdle));
    s.progress.advance();
  }
  if (interrupted()) return c;
  if (x > 0) {
    s.progress.set_status(name + ": saturation, " + rate_label(x) + " req/s");
    c.rows.push_back(measure_rate(s, rt, x, RowKind::kSaturation));
  } else {
    RateRow none;
    none.kind = RowKind::kNotOffered;
    none.note = "no saturation: the probe had no successful call";
    c.rows.push_back(std::move(none));
  }
  s.progress.advance();
  for (double rate : plan.not_offered) {
    RateRow row;
    row.kind = RowKind::kNotOffered;
    row.offered_per_s = rate;
    row.note = "above saturation, " + rate_label(x) + " req/s";
    c.rows.push_back(std::move(row));
  }
  c.slope = fit_slope(c.rows, c.per_invocation.cpu_us_per_call);

  std::uint64_t errors = 0;
  for (const auto& r : c.rows) errors += r.errors();
  char line[240];
  std::snprintf(line, sizeof line,
                "%s: %.0f µs CPU per call, saturation %.1f req/s, %zu rates, %llu errors",
                name.c_str(), c.per_invocation.cpu_us_per_call.value_or(0), x, c.rows.size(),
                static_cast<unsigned long long>(errors));
  s.progress.line(line);
  wait_for_quiet(s);
  return c;
}

void measure_burst(Suite& s) {
  BurstRecovery& b = s.run.burst;
  b.connections = probe_connections(s.run.machine, Runtime::kWasm);
  s.progress.set_status("burst: wasm at saturation");
  ClosedLoopOptions closed;
  closed.connections = b.connections;
  closed.duration = to_ms(s.o.burst_s);
  closed.drain_timeout = kDrain;
  closed.request_timeout = kRequestTimeout;
  std::vector<StatusPoint> points;
  Result<LoadResult> load = make_error(ErrorKind::kInternal, "not run");
  {
    StatusSampler sampler(s.client, s.docker);
    load = run_closed_loop(load_request(s, Runtime::kWasm), closed, [] { return interrupted(); });
    points = sampler.finish();
  }
  if (!load) {
    s.run.notes.push_back("burst: the load generator failed: " + load.error().message);
    return;
  }
  b.ran = true;
  b.window_s = load->window_s;
  b.ok = load->ok;
  b.errors = load->status_error_count() + load->transport_error_count();
  b.unfinished = load->unfinished;
  b.throughput_per_s = load->achieved_per_s();
  for (const auto& p : points)
    b.server_rss_max_bytes = std::max(b.server_rss_max_bytes, p.status.server.rss_bytes);
  if (auto end = status_now(s)) {
    b.server_rss_end_bytes = end->server.rss_bytes;
    b.server_rss_max_bytes = std::max(b.server_rss_max_bytes, end->server.rss_bytes);
  }
  s.progress.advance();
  s.progress.set_status("burst: resting");
  const auto rest_start = SteadyClock::now();
  if (!rest(s.o.settle_s)) return;
  b.settle_s = seconds_since(rest_start);
  if (auto settled = status_now(s)) {
    b.server_rss_settled_bytes = settled->server.rss_bytes;
    b.wasm_loaded_settled = settled->wasm_loaded;
    if (s.run.idle.server.rss_bytes > 0) {
      b.ratio_to_idle = static_cast<double>(settled->server.rss_bytes) /
                        static_cast<double>(s.run.idle.server.rss_bytes);
    }
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "burst: %.0f req/s for %.0f s; RSS max %.1f MiB, %.1f MiB after %.0f s of rest",
                b.throughput_per_s, b.window_s,
                static_cast<double>(b.server_rss_max_bytes) / (1 << 20),
                static_cast<double>(b.server_rss_settled_bytes) / (1 << 20), b.settle_s);
  s.progress.line(line);
  s.progress.advance();
}

void measure_scale_from_zero(Suite& s) {
  for (unsigned rep = 0; rep < s.o.zero_repeats && !interrupted(); ++rep) {
    s.progress.set_status("scale from zero " + std::to_string(rep + 1) + "/" +
                          std::to_string(s.o.zero_repeats) + ": waiting for the server to let go");
    const Release release = wait_until_released(s);
    if (interrupted()) return;
    if (!release.released) {
      s.run.notes.push_back("scale from zero, repetition " + std::to_string(rep + 1) +
                            ": the server had not released everything within the idle timeouts "
                            "and 60 s; its calls are marked from_zero: false");
    }
    for (Runtime rt : s.run.runtimes) {
      ZeroStart z;
      z.repetition = rep;
      z.runtime = rt;
      z.from_zero = release.released;
      z.waited_s = release.waited_s;
      z.sample = call_measured(s.client, target_of(rt), kInput, std::nullopt);
      if (!z.sample.ok()) {
        s.run.notes.push_back("scale from zero: a " + std::string(to_string(rt)) +
                              " call failed: " + z.sample.error);
      }
      s.run.zero_starts.push_back(std::move(z));
    }
    s.progress.advance();
  }
  if (!s.progress.tty()) s.progress.line("scale from zero: done");
}

// --- the server --------------------------------------------------------------

Status apply_server_info(const Client& client, bool docker, NearZeroRun& run) {
  auto info = fetch_server_info(client);
  if (!info || !info->known) {
    run.notes.emplace_back("the server's wasmtime and Docker versions are unknown");
    return {};
  }
  run.machine.server_version = info->version;
  run.machine.wasmtime_version = info->wasmtime;
  if (!docker) return {};
  if (!info->docker_available) {
    return make_error(ErrorKind::kUnavailable,
                      "the server it started has no Docker runtime (its engine does not "
                      "answer); start one (scripts/ensure-docker.sh) or pass --no-docker");
  }
  run.machine.docker_version = info->docker_description();
  return {};
}

Status validate(const NearZeroOptions& o) {
  auto bad = [](std::string message) {
    return make_error(ErrorKind::kInvalidArgument, std::move(message));
  };
  if (o.out_dir.empty()) return bad("--out DIR is required");
  if (o.server) {
    return bad(
        "--suite near-zero measures a server it starts itself (its idle memory, CPU and "
        "wakeups, and the machine's CPU): leave out --server");
  }
  if (o.rates.empty()) return bad("--rates needs at least one rate (0 measures the idle server)");
  for (double r : o.rates) {
    if (!std::isfinite(r) || r < 0) return bad("--rates must be numbers ≥ 0 (requests per second)");
  }
  const std::pair<const char*, double> durations[] = {
      {"--idle-s", o.idle_s}, {"--window-s", o.window_s}, {"--probe-s", o.probe_s},
      {"--rate-s", o.rate_s}, {"--burst-s", o.burst_s},   {"--settle-s", o.settle_s}};
  for (const auto& [flag, value] : durations) {
    if (!std::isfinite(value) || value <= 0) {
      return bad(std::string(flag) + " must be a number of seconds above 0");
    }
  }
  if (o.wasm_idle_s == 0) return bad("--wasm-idle-s must be at least 1");
  if (o.warm_idle_s == 0) return bad("--warm-idle-s must be at least 1");
  return {};
}

}  // namespace

int run_near_zero(const NearZeroOptions& o) {
  const auto started = SteadyClock::now();
  if (auto st = validate(o); !st) return fail(st.error().message);
  EnergySetup energy_setup;
  if (!o.power_model.empty()) {
    auto model = parse_power_model(o.power_model);
    if (!model) return fail(model.error().message);
    energy_setup.model = *model;
    energy_setup.model_given = true;
  }

  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fail("cannot find the nebula binary (/proc/self/exe): " + ec.message());
  const fs::path examples =
      o.examples_dir.empty() ? self.parent_path() / "examples" : fs::path(o.examples_dir);
  if (!fs::is_regular_file(examples / "hello.wasm", ec) ||
      !fs::is_regular_file(examples / "examples.txt", ec)) {
    return fail("no hello.wasm and examples.txt in " + examples.string() +
                " (build the examples with cmake --build --preset release, or point --examples "
                "at their directory)");
  }
  const fs::path out_dir = o.out_dir;
  fs::create_directories(out_dir, ec);
  if (ec) return fail("cannot create " + out_dir.string() + ": " + ec.message());

  NearZeroRun run;
  run.started_at = utc_now();
  run.options = o;
  run.runtimes = {Runtime::kWasm};
  if (!o.no_docker)
    run.runtimes.insert(run.runtimes.end(), {Runtime::kDockerWarm, Runtime::kDockerCold});
  run.machine = describe_machine();
  auto energy = EnergyMeter::open();
  run.machine.energy_available = energy.available();
  run.machine.energy_source = energy.description();
  energy_setup.measured = energy.available();
  energy_setup.source = energy.description();
  run.energy = energy_setup;

  catch_interrupts();
  auto work_dir = base::TempDir::create("nebula-near-zero-");
  if (!work_dir) return fail(work_dir.error().message);
  std::vector<std::string> args = {"--wasm-idle-s", std::to_string(o.wasm_idle_s)};
  if (o.no_docker) {
    args.emplace_back("--no-docker");
  } else {
    args.insert(args.end(), {"--docker-socket", o.docker_socket});
  }
  std::fprintf(stderr, "starting a nebula server (%s, --wasm-idle-s %u)…\n",
               o.no_docker ? "wasm only" : "wasm and docker", o.wasm_idle_s);
  auto child = ServerChild::start(self.string(), work_dir->path(), std::move(args));
  if (!child) return fail(child.error().message);
  ServerChild server = std::move(*child);
  const std::string url = server.url();
  const Client client(url, "", std::chrono::seconds(60));

  LoadRequest base;
  {
    // "http://127.0.0.1:PORT", as the server printed it.
    const std::string_view rest_of_url = std::string_view(url).substr(url.find("://") + 3);
    const auto colon = rest_of_url.rfind(':');
    base.host = std::string(rest_of_url.substr(0, colon));
    base.port = std::string(rest_of_url.substr(colon + 1));
  }

  const std::size_t steps = 1 + run.runtimes.size() * (3 + o.rates.size()) + 2 + o.zero_repeats;
  Progress progress(steps);
  Suite suite{o, client, base, run, energy, progress, !o.no_docker};

  std::string failure;
  if (auto st = apply_server_info(client, suite.docker, run); !st) failure = st.error().message;
  if (failure.empty()) {
    progress.set_status("deploying every example");
    if (auto st = deploy_all(suite, examples, url); !st) failure = st.error().message;
  }
  if (failure.empty() && !interrupted()) {
    progress.line("deployed " + std::to_string(run.deployed.size()) + " functions (" +
                  std::to_string(run.docker_variants) + " with a docker variant) on " + url);
    if (auto after_deploy = status_now(suite)) {
      measure_idle(suite, *after_deploy);
    } else {
      failure = "GET /v1/status does not answer; the near-zero suite needs it";
    }
  }
  if (failure.empty()) {
    for (Runtime rt : run.runtimes) {
      if (interrupted()) break;
      run.curves.push_back(measure_curve(suite, rt));
    }
    if (!interrupted()) measure_burst(suite);
    if (!interrupted()) measure_scale_from_zero(suite);
  }
  progress.finish();

  const int status = server.stop();
  if (status != 0) {
    run.notes.push_back("the server child exited with status " + std::to_string(status) +
                        " when stopped");
  }
  if (!failure.empty()) return fail(failure + "\nserver log (end):\n" + server.log_tail());
  if (interrupted()) return fail("interrupted; nothing written");

  // Failed requests: keep the server's side of the story beside the
  // report (the temporary directory goes away with this function).
  const bool any_failed = std::any_of(run.curves.begin(), run.curves.end(), [](const auto& c) {
    return std::any_of(c.rows.begin(), c.rows.end(),
                       [](const RateRow& r) { return r.errors() > 0 || r.unfinished > 0; });
  });
  if (any_failed) {
    fs::copy_file(server.log_path(), out_dir / "server.log", fs::copy_options::overwrite_existing,
                  ec);
    if (!ec) run.notes.emplace_back("some requests failed: the server's log is in server.log");
  }
  if (run.idle.machine_cpu_percent >= 5) {
    char text[300];
    std::snprintf(text, sizeof text,
                  "the machine was not idle: %.0f%% of its CPU was busy during the idle "
                  "footprint, without any call; every machine-wide figure carries that much "
                  "noise",
                  run.idle.machine_cpu_percent);
    run.notes.emplace_back(text);
  }
  run.duration_s = seconds_since(started);

  const fs::path results = out_dir / "near-zero.json";
  if (auto st = base::write_file(results, json::serialize(to_json(run)) + "\n"); !st) {
    return fail(st.error().message);
  }
  const Charts charts = draw_charts(results, out_dir, o.plot_script, "plot_near_zero.py");
  const fs::path report = out_dir / "near-zero.md";
  if (auto st = base::write_file(report, render_near_zero_report(run, charts)); !st) {
    return fail(st.error().message);
  }
  std::printf("\n%s", render_near_zero_headline(run).c_str());
  std::printf("\nwrote %s, %s", results.c_str(), report.c_str());
  for (const auto& f : charts.files) std::printf(", %s", (out_dir / f).c_str());
  std::printf("\n");
  if (!charts.unavailable_reason.empty()) std::printf("%s\n", charts.unavailable_reason.c_str());
  return 0;
}

}  // namespace nebula::bench
