#include "bench/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <boost/json.hpp>

namespace nebula::bench {
namespace {

namespace json = boost::json;

std::optional<double> ratio(double docker, double wasm, std::size_t docker_n, std::size_t wasm_n) {
  if (docker_n == 0 || wasm_n == 0 || wasm <= 0) return std::nullopt;
  return docker / wasm;
}

std::optional<double> ratio(const std::optional<double>& docker,
                            const std::optional<double>& wasm) {
  // Above-idle figures stop at 0 for calls too cheap to tell from the idle
  // machine; "×0" or a division by that would claim a precision there is not.
  if (!docker || !wasm || *wasm <= 0 || *docker <= 0) return std::nullopt;
  return *docker / *wasm;
}

// All or nothing: a mean over the functions that happen to have a ratio
// would speak for a different set of functions than the other metrics.
std::optional<double> geomean(const std::vector<std::optional<double>>& values) {
  double log_sum = 0;
  std::size_t n = 0;
  for (const auto& v : values) {
    if (!v) return std::nullopt;
  }
  for (const auto& v : values) {
    if (*v <= 0) return 0.0;
    log_sum += std::log(*v);
    ++n;
  }
  if (n == 0) return std::nullopt;
  return std::exp(log_sum / static_cast<double>(n));
}

std::optional<double> mean_of(const std::vector<std::optional<double>>& values) {
  double sum = 0;
  std::size_t n = 0;
  for (const auto& v : values) {
    if (!v) continue;
    sum += *v;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

json::value optional_json(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// Unknown is null, not "".
json::value optional_string_json(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

json::object distribution_json(const Distribution& d) {
  if (d.count == 0) return json::object{{"count", 0}};
  return json::object{{"count", d.count}, {"min", d.min},   {"p50", d.p50}, {"p90", d.p90},
                      {"p99", d.p99},     {"mean", d.mean}, {"max", d.max}};
}

json::object kinds_json(const std::map<std::string, std::size_t>& kinds) {
  json::object o;
  for (const auto& [kind, n] : kinds) o[kind] = n;
  return o;
}

json::object summary_json(const CellSummary& s) {
  return json::object{
      {"calls", s.calls},
      {"ok", s.ok},
      {"failures", s.failures},
      {"failure_kinds", kinds_json(s.failure_kinds)},
      {"cold_starts", s.cold_starts},
      {"queue_us", distribution_json(s.queue_us)},
      {"startup_us", distribution_json(s.startup_us)},
      {"exec_us", distribution_json(s.exec_us)},
      {"teardown_us", distribution_json(s.teardown_us)},
      {"total_us", distribution_json(s.total_us)},
      {"client_us", distribution_json(s.client_us)},
      {"cpu_us", distribution_json(s.cpu_us)},
      {"max_memory_bytes", distribution_json(s.max_memory_bytes)},
      {"system_cpu_us_per_call", optional_json(s.system_cpu_us_per_call)},
      {"energy_uj_per_call", optional_json(s.energy_uj_per_call)},
  };
}

json::object ratios_json(const Ratios& r) {
  return json::object{
      {"startup_p50", optional_json(r.startup_p50)},
      {"total_p50", optional_json(r.total_p50)},
      {"cpu_per_invocation", optional_json(r.cpu_per_invocation)},
      {"system_cpu_per_invocation", optional_json(r.system_cpu_per_invocation)},
      {"memory", optional_json(r.memory)},
      {"energy_per_invocation", optional_json(r.energy_per_invocation)},
  };
}

json::object sample_json(const Sample& s) {
  json::object o{
      {"repetition", s.repetition},
      {"position", s.position},
      {"http_status", s.http_status},
      {"invocation_id", s.invocation_id},
      {"outcome", s.outcome},
      {"exit_code", s.exit_code},
      {"cold", s.cold},
      {"output_matches", s.output_matches ? json::value(*s.output_matches) : json::value(nullptr)},
      {"queue_us", s.timings.queue_us},
      {"startup_us", s.timings.startup_us},
      {"exec_us", s.timings.exec_us},
      {"teardown_us", s.timings.teardown_us},
      {"total_us", s.timings.total_us},
      {"client_us", s.client_us},
      {"cpu_us", s.cpu_us ? json::value(*s.cpu_us) : json::value(nullptr)},
      {"max_memory_bytes",
       s.max_memory_bytes ? json::value(*s.max_memory_bytes) : json::value(nullptr)},
      {"ok", s.ok()},
  };
  if (!s.ok()) o["error"] = s.error;
  return o;
}

json::object window_json(const Window& w) {
  json::object kinds;
  for (const auto& [kind, n] : w.failure_kinds) kinds[kind] = n;
  return json::object{
      {"calls", w.calls},
      {"failures", w.failures},
      {"failure_kinds", std::move(kinds)},
      {"wall_s", w.wall_s},
      {"busy_cpu_us", w.busy_cpu_us},
      {"own_cpu_us", w.own_cpu_us},
      {"baseline_cpu_us", w.baseline_cpu_us},
      {"system_cpu_us_per_call", optional_json(w.system_cpu_us_per_call())},
      {"energy_uj", optional_json(w.energy_uj)},
      {"baseline_energy_uj", optional_json(w.baseline_energy_uj)},
      {"energy_uj_per_call", optional_json(w.energy_uj_per_call())},
  };
}

}  // namespace

const char* to_string(Runtime runtime) noexcept {
  switch (runtime) {
    case Runtime::kWasm: return "wasm";
    case Runtime::kDockerCold: return "docker-cold";
    case Runtime::kDockerWarm: return "docker-warm";
  }
  return "unknown";
}

void Window::set_interval(const Interval& interval) {
  wall_s = interval.wall_s;
  busy_cpu_us = interval.busy_cpu_us;
  own_cpu_us = interval.own_cpu_us;
  energy_uj = interval.energy_uj;
}

std::optional<double> Window::system_cpu_us_per_call() const {
  const unsigned counted = calls - failures;
  if (counted == 0) return std::nullopt;
  return std::max(0.0, busy_cpu_us - baseline_cpu_us - own_cpu_us) / counted;
}

std::optional<double> Window::energy_uj_per_call() const {
  const unsigned counted = calls - failures;
  if (counted == 0 || !energy_uj) return std::nullopt;
  return std::max(0.0, *energy_uj - baseline_energy_uj.value_or(0)) / counted;
}

Baseline combine(const Baseline& a, const Baseline& b) {
  Baseline c;
  c.wall_s = a.wall_s + b.wall_s;
  c.busy_cpu_us = a.busy_cpu_us + b.busy_cpu_us;
  // Energy only when every period that counts had it.
  const bool a_counts = a.wall_s > 0;
  const bool b_counts = b.wall_s > 0;
  if ((!a_counts || a.energy_uj) && (!b_counts || b.energy_uj) && (a_counts || b_counts)) {
    c.energy_uj = a.energy_uj.value_or(0) + b.energy_uj.value_or(0);
  }
  return c;
}

Baseline idle_period(const Interval& interval) {
  Baseline idle;
  idle.wall_s = interval.wall_s;
  idle.busy_cpu_us = std::max(0.0, interval.busy_cpu_us - interval.own_cpu_us);
  idle.energy_uj = interval.energy_uj;
  return idle;
}

void set_baseline(Run& run) {
  run.baseline = combine(run.idle_before, run.idle_after);
  for (auto& fn : run.functions) {
    for (auto& cell : fn.cells) {
      if (!cell.window) continue;
      Window& w = *cell.window;
      w.baseline_cpu_us = run.baseline.busy_cpu_us_per_s() * w.wall_s;
      w.baseline_energy_uj.reset();
      if (auto p = run.baseline.power_uw(); p && w.energy_uj) w.baseline_energy_uj = *p * w.wall_s;
    }
  }
}

double percentile(const std::vector<double>& sorted, double q) noexcept {
  if (sorted.empty()) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Distribution distribution(std::vector<double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.min = values.front();
  d.max = values.back();
  d.p50 = percentile(values, 0.50);
  d.p90 = percentile(values, 0.90);
  d.p99 = percentile(values, 0.99);
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return d;
}

namespace {

CellSummary summarize_samples(const std::vector<const Sample*>& samples) {
  CellSummary s;
  std::vector<double> queue, startup, exec, teardown, total, client, cpu, memory;
  for (const Sample* sample : samples) {
    ++s.calls;
    if (!sample->ok()) {
      ++s.failures;
      // The kind is the error's first word ("http", "outcome", "mismatch", …).
      ++s.failure_kinds[sample->error.substr(0, sample->error.find(':'))];
      continue;
    }
    ++s.ok;
    if (sample->cold) ++s.cold_starts;
    const Timings& t = sample->timings;
    queue.push_back(static_cast<double>(t.queue_us));
    startup.push_back(static_cast<double>(t.startup_us));
    exec.push_back(static_cast<double>(t.exec_us));
    teardown.push_back(static_cast<double>(t.teardown_us));
    total.push_back(static_cast<double>(t.total_us));
    client.push_back(static_cast<double>(sample->client_us));
    if (sample->cpu_us) cpu.push_back(static_cast<double>(*sample->cpu_us));
    if (sample->max_memory_bytes) memory.push_back(static_cast<double>(*sample->max_memory_bytes));
  }
  s.queue_us = distribution(std::move(queue));
  s.startup_us = distribution(std::move(startup));
  s.exec_us = distribution(std::move(exec));
  s.teardown_us = distribution(std::move(teardown));
  s.total_us = distribution(std::move(total));
  s.client_us = distribution(std::move(client));
  s.cpu_us = distribution(std::move(cpu));
  s.max_memory_bytes = distribution(std::move(memory));
  return s;
}

}  // namespace

CellSummary summarize(const Cell& cell) {
  std::vector<const Sample*> samples;
  for (const auto& s : cell.samples) samples.push_back(&s);
  CellSummary s = summarize_samples(samples);
  if (cell.window) {
    s.system_cpu_us_per_call = cell.window->system_cpu_us_per_call();
    s.energy_uj_per_call = cell.window->energy_uj_per_call();
  }
  return s;
}

const Cell* FunctionRun::cell(Runtime runtime) const {
  for (const auto& c : cells) {
    if (c.runtime == runtime) return &c;
  }
  return nullptr;
}

Ratios ratios(const CellSummary& docker, const CellSummary& wasm) {
  Ratios r;
  r.startup_p50 = ratio(docker.startup_us.p50, wasm.startup_us.p50, docker.startup_us.count,
                        wasm.startup_us.count);
  r.total_p50 =
      ratio(docker.total_us.p50, wasm.total_us.p50, docker.total_us.count, wasm.total_us.count);
  r.cpu_per_invocation =
      ratio(docker.cpu_us.mean, wasm.cpu_us.mean, docker.cpu_us.count, wasm.cpu_us.count);
  r.system_cpu_per_invocation = ratio(docker.system_cpu_us_per_call, wasm.system_cpu_us_per_call);
  r.memory = ratio(docker.max_memory_bytes.p50, wasm.max_memory_bytes.p50,
                   docker.max_memory_bytes.count, wasm.max_memory_bytes.count);
  r.energy_per_invocation = ratio(docker.energy_uj_per_call, wasm.energy_uj_per_call);
  return r;
}

Ratios geometric_mean(const std::vector<Ratios>& per_function) {
  auto column = [&per_function](std::optional<double> Ratios::*member) {
    std::vector<std::optional<double>> values;
    for (const auto& r : per_function) values.push_back(r.*member);
    return geomean(values);
  };
  Ratios r;
  r.startup_p50 = column(&Ratios::startup_p50);
  r.total_p50 = column(&Ratios::total_p50);
  r.cpu_per_invocation = column(&Ratios::cpu_per_invocation);
  r.system_cpu_per_invocation = column(&Ratios::system_cpu_per_invocation);
  r.memory = column(&Ratios::memory);
  r.energy_per_invocation = column(&Ratios::energy_per_invocation);
  return r;
}

Summary summarize(const Run& run) {
  Summary out;
  std::map<Runtime, std::vector<const Sample*>> pooled_samples;
  std::map<Runtime, std::vector<std::optional<double>>> pooled_system_cpu;
  std::map<Runtime, std::vector<std::optional<double>>> pooled_energy;
  for (const auto& fn : run.functions) {
    auto& by_runtime = out.cells.emplace_back();
    for (const auto& cell : fn.cells) {
      by_runtime[cell.runtime] = summarize(cell);
      out.calls += cell.samples.size();
      for (const auto& s : cell.samples) {
        pooled_samples[cell.runtime].push_back(&s);
        if (!s.ok()) ++out.failures;
      }
      if (cell.window) {
        out.calls += cell.window->calls;
        out.failures += cell.window->failures;
        pooled_system_cpu[cell.runtime].push_back(cell.window->system_cpu_us_per_call());
        pooled_energy[cell.runtime].push_back(cell.window->energy_uj_per_call());
      }
      out.calls += cell.warmup_calls;
      out.failures += cell.warmup_failures;
    }
  }
  for (const auto& [runtime, samples] : pooled_samples) {
    CellSummary s = summarize_samples(samples);
    // Each function weighs the same, whatever its call count per window.
    s.system_cpu_us_per_call = mean_of(pooled_system_cpu[runtime]);
    s.energy_uj_per_call = mean_of(pooled_energy[runtime]);
    out.pooled[runtime] = std::move(s);
  }
  for (Runtime docker : {Runtime::kDockerCold, Runtime::kDockerWarm}) {
    std::vector<Ratios> per_function;
    for (const auto& by_runtime : out.cells) {
      auto d = by_runtime.find(docker);
      auto w = by_runtime.find(Runtime::kWasm);
      per_function.push_back(
          d != by_runtime.end() && w != by_runtime.end() ? ratios(d->second, w->second) : Ratios{});
    }
    out.ratios_overall[docker] = geometric_mean(per_function);
    out.ratios_by_function[docker] = std::move(per_function);
  }
  return out;
}

json::value machine_json(const MachineInfo& m) {
  return json::object{
      {"cpu_model", m.cpu_model},
      {"logical_cpus", m.logical_cpus},
      {"virtual_machine", m.virtual_machine},
      {"memory_bytes", m.memory_bytes},
      {"kernel", m.kernel},
      {"os", m.os},
      {"nebula_version", optional_string_json(m.server_version)},
      {"docker_version", optional_string_json(m.docker_version)},
      {"wasmtime_version", optional_string_json(m.wasmtime_version)},
      {"clock_ticks_per_second", m.clock_ticks_per_second},
  };
}

json::value to_json(const Run& run, const Summary& summary) {
  json::object root;
  root["schema"] = "nebula-bench/1";
  root["started_at"] = run.started_at;
  root["duration_s"] = run.duration_s;

  json::array runtimes;
  for (Runtime r : run.runtimes) runtimes.emplace_back(to_string(r));
  root["settings"] = json::object{
      {"server", run.server},
      {"runs", run.runs},
      {"warmup", run.warmup},
      {"min_window_s", run.min_window_s},
      {"runtimes", std::move(runtimes)},
  };

  const MachineInfo& m = run.machine;
  root["machine"] = machine_json(m);
  root["energy"] = json::object{{"available", m.energy_available}, {"source", m.energy_source}};
  auto baseline_json = [](const Baseline& b) {
    return json::object{
        {"wall_s", b.wall_s},
        {"busy_cpu_us", b.busy_cpu_us},
        {"busy_cpu_us_per_s", b.busy_cpu_us_per_s()},
        {"energy_uj", optional_json(b.energy_uj)},
        {"power_uw", optional_json(b.power_uw())},
    };
  };
  json::object baseline = baseline_json(run.baseline);
  baseline["before"] = baseline_json(run.idle_before);
  baseline["after"] = baseline_json(run.idle_after);
  root["baseline"] = std::move(baseline);

  json::array functions;
  for (std::size_t i = 0; i < run.functions.size(); ++i) {
    const FunctionRun& fn = run.functions[i];
    json::object cells;
    for (const Cell& cell : fn.cells) {
      json::array samples;
      for (const auto& s : cell.samples) samples.push_back(sample_json(s));
      cells[to_string(cell.runtime)] = json::object{
          {"warmup",
           json::object{{"calls", cell.warmup_calls}, {"failures", cell.warmup_failures}}},
          {"summary", summary_json(summary.cells[i].at(cell.runtime))},
          {"window", cell.window ? json::value(window_json(*cell.window)) : json::value(nullptr)},
          {"samples", std::move(samples)},
      };
    }
    json::object ratios_by_runtime;
    for (const auto& [docker, per_function] : summary.ratios_by_function) {
      if (fn.cell(docker) != nullptr)
        ratios_by_runtime[to_string(docker)] = ratios_json(per_function[i]);
    }
    functions.push_back(json::object{
        {"name", fn.name},
        {"input", fn.input},
        {"reference_output",
         fn.reference_output ? json::value(*fn.reference_output) : json::value(nullptr)},
        {"reference_error", fn.reference_error},
        {"language", fn.language},
        {"example", fn.example},
        {"wasm_bytes", fn.wasm_bytes ? json::value(*fn.wasm_bytes) : json::value(nullptr)},
        {"image_bytes", fn.image_bytes ? json::value(*fn.image_bytes) : json::value(nullptr)},
        {"cells", std::move(cells)},
        {"ratios", std::move(ratios_by_runtime)},
    });
  }
  root["functions"] = std::move(functions);

  json::object pooled;
  for (const auto& [runtime, s] : summary.pooled) pooled[to_string(runtime)] = summary_json(s);
  root["runtimes"] = std::move(pooled);

  // docker/wasm, the headline: a ratio is null when a side was not measured.
  json::object headline{
      {"definition",
       "docker / wasm; per function, then the geometric mean over functions. startup and total: "
       "p50 of the server's records; cpu_per_invocation: mean cpu_us of the records; "
       "system_cpu_per_invocation: /proc/stat busy time above idle per call; memory: p50 of "
       "max_memory_bytes"}};
  for (Runtime docker : {Runtime::kDockerCold, Runtime::kDockerWarm}) {
    const bool measured =
        std::find(run.runtimes.begin(), run.runtimes.end(), docker) != run.runtimes.end();
    headline[to_string(docker)] = measured
                                      ? json::value(ratios_json(summary.ratios_overall.at(docker)))
                                      : json::value(nullptr);
  }
  root["ratios"] = std::move(headline);
  root["totals"] = json::object{{"calls", summary.calls}, {"failures", summary.failures}};
  json::array notes;
  for (const auto& n : run.notes) notes.emplace_back(n);
  root["notes"] = std::move(notes);
  return root;
}

}  // namespace nebula::bench
