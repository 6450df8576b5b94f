#include "metrics/registry.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "metrics/process.hpp"

namespace nebula::metrics {
namespace {

// The bucket bounds as `le` label values, in seconds, spelled as Go's
// strconv.FormatFloat(v, 'g', -1, 64) does, like the reference client.
constexpr std::array<std::string_view, kBucketBoundsUs.size()> kBucketLabels = {
    "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05",    "0.1",   "0.25",   "0.5",     "1",      "2.5",   "5",      "10"};

constexpr std::array<RuntimeKind, 2> kRuntimes = {RuntimeKind::kWasm, RuntimeKind::kDocker};
constexpr std::array<Outcome, 6> kOutcomes = {Outcome::kOk,     Outcome::kExit,
                                              Outcome::kTrap,   Outcome::kTimeout,
                                              Outcome::kMemory, Outcome::kRejected};

std::size_t index_of(RuntimeKind kind) noexcept {
  return static_cast<std::size_t>(kind);
}
std::size_t index_of(Outcome outcome) noexcept {
  return static_cast<std::size_t>(outcome);
}

// Exact decimal seconds from integer µs ("0.000123", "2.5", "3"), no
// floating-point rounding.
void append_seconds(std::string& out, std::int64_t us) {
  if (us < 0) {
    out += '-';
    us = -us;
  }
  out += std::to_string(us / 1'000'000);
  std::int64_t frac = us % 1'000'000;
  if (frac == 0) return;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  out += '.';
  out += digits;
}

void append_family(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  // HELP text is written by us and contains neither '\\' nor a newline, so
  // it needs no escaping.
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// Appends `{function="…",runtime="…"` without the closing brace, so that a
// caller can add more labels.
void open_labels(std::string& out, std::string_view function, RuntimeKind runtime) {
  out += "{function=\"";
  out += escape_label_value(function);
  out += "\",runtime=\"";
  out += to_string(runtime);
  out += '"';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Registry::Histogram::observe(std::int64_t us) noexcept {
  us = std::max<std::int64_t>(us, 0);
  // The first bound >= us; past the end means the +Inf slot.
  const auto it = std::lower_bound(kBucketBoundsUs.begin(), kBucketBoundsUs.end(), us);
  ++counts[static_cast<std::size_t>(it - kBucketBoundsUs.begin())];
  sum_us += us;
  ++count;
}

Registry::FunctionSeries& Registry::series_locked(std::string_view function) {
  if (auto it = functions_.find(function); it != functions_.end()) return it->second;
  return functions_.emplace(std::string(function), FunctionSeries{}).first->second;
}

void Registry::record_invocation(std::string_view function, RuntimeKind runtime, Outcome outcome,
                                 bool cold, const Timings& timings) {
  std::lock_guard lock(mutex_);
  RuntimeSeries& s = series_locked(function).runtimes[index_of(runtime)];
  s.used = true;
  ++s.invocations[index_of(outcome)];
  const bool ran = outcome != Outcome::kRejected;
  if (ran && cold) {
    ++s.cold_starts;
    s.startup.observe(timings.startup_us);
  }
  if (ran) s.exec.observe(timings.exec_us);
  s.total.observe(timings.total_us);
}

void Registry::record_outbound(std::string_view function, std::uint64_t allowed,
                               std::uint64_t denied) {
  if (allowed == 0 && denied == 0) return;
  std::lock_guard lock(mutex_);
  FunctionSeries& f = series_locked(function);
  f.outbound_allowed += allowed;
  f.outbound_denied += denied;
}

void Registry::set_queue_depth(std::int64_t depth) noexcept {
  queue_depth_.store(depth, std::memory_order_relaxed);
}

void Registry::set_functions(std::int64_t count) noexcept {
  function_count_.store(count, std::memory_order_relaxed);
}

void Registry::set_warm_containers(std::string_view function, std::int64_t count) {
  std::lock_guard lock(mutex_);
  series_locked(function).warm_containers = count;
}

void Registry::set_in_flight(std::string_view function, std::int64_t count) {
  std::lock_guard lock(mutex_);
  series_locked(function).in_flight = count;
}

void Registry::count_concurrency_limited(std::string_view function) {
  std::lock_guard lock(mutex_);
  ++series_locked(function).concurrency_limited;
}

void Registry::count_task_finished(std::string_view function, bool done) {
  std::lock_guard lock(mutex_);
  auto& f = series_locked(function);
  ++(done ? f.tasks_done : f.tasks_dead);
}

void Registry::count_firing(std::string_view function) {
  std::lock_guard lock(mutex_);
  ++series_locked(function).firings;
}

void Registry::remove_function(std::string_view function) {
  std::lock_guard lock(mutex_);
  if (auto it = functions_.find(function); it != functions_.end()) functions_.erase(it);
}

std::string Registry::render() const {
  // Copy under the lock, format without it: a scrape must not stall the
  // workers recording invocations.
  std::vector<std::pair<std::string, FunctionSeries>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.assign(functions_.begin(), functions_.end());
  }
  std::sort(snapshot.begin(), snapshot.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string out;
  out.reserve(1024 + snapshot.size() * 8192);

  append_family(out, "nebula_invocations_total", "counter",
                "Invocations by function, runtime and outcome.");
  for (const auto& [name, fn] : snapshot) {
    for (RuntimeKind runtime : kRuntimes) {
      const RuntimeSeries& s = fn.runtimes[index_of(runtime)];
      if (!s.used) continue;
      for (Outcome outcome : kOutcomes) {
        out += "nebula_invocations_total";
        open_labels(out, name, runtime);
        out += ",outcome=\"";
        out += to_string(outcome);
        out += "\"} ";
        out += std::to_string(s.invocations[index_of(outcome)]);
        out += '\n';
      }
    }
  }

  append_family(out, "nebula_cold_starts_total", "counter",
                "Invocations that started a fresh instance or container.");
  for (const auto& [name, fn] : snapshot) {
    for (RuntimeKind runtime : kRuntimes) {
      const RuntimeSeries& s = fn.runtimes[index_of(runtime)];
      if (!s.used) continue;
      out += "nebula_cold_starts_total";
      open_labels(out, name, runtime);
      out += "} ";
      out += std::to_string(s.cold_starts);
      out += '\n';
    }
  }

  struct HistogramFamily {
    std::string_view name;
    std::string_view help;
    Histogram RuntimeSeries::*member;
  };
  const HistogramFamily histograms[] = {
      {"nebula_invocation_startup_seconds",
       "Start-up time of cold invocations (instantiation or container start).",
       &RuntimeSeries::startup},
      {"nebula_invocation_exec_seconds", "Execution time of the function.", &RuntimeSeries::exec},
      {"nebula_invocation_total_seconds", "Time from request body read to response ready.",
       &RuntimeSeries::total},
  };
  for (const auto& family : histograms) {
    append_family(out, family.name, "histogram", family.help);
    for (const auto& [name, fn] : snapshot) {
      for (RuntimeKind runtime : kRuntimes) {
        const RuntimeSeries& s = fn.runtimes[index_of(runtime)];
        if (!s.used) continue;
        const Histogram& h = s.*family.member;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= kBucketLabels.size(); ++i) {
          cumulative += h.counts[i];
          out += family.name;
          out += "_bucket";
          open_labels(out, name, runtime);
          out += ",le=\"";
          out += i < kBucketLabels.size() ? kBucketLabels[i] : std::string_view("+Inf");
          out += "\"} ";
          out += std::to_string(cumulative);
          out += '\n';
        }
        out += family.name;
        out += "_sum";
        open_labels(out, name, runtime);
        out += "} ";
        append_seconds(out, h.sum_us);
        out += '\n';
        out += family.name;
        out += "_count";
        open_labels(out, name, runtime);
        out += "} ";
        out += std::to_string(h.count);
        out += '\n';
      }
    }
  }

  append_family(out, "nebula_queue_depth", "gauge",
                "Invocations waiting for a worker or a warm container.");
  out += "nebula_queue_depth ";
  out += std::to_string(queue_depth_.load(std::memory_order_relaxed));
  out += '\n';

  append_family(out, "nebula_outbound_requests_total", "counter",
                "Outbound HTTP requests of wasm guests, by whether allowed_outbound_hosts let them "
                "through.");
  for (const auto& [name, fn] : snapshot) {
    if (fn.outbound_allowed == 0 && fn.outbound_denied == 0) continue;
    for (const auto& [decision, count] :
         {std::pair{"allowed", fn.outbound_allowed}, std::pair{"denied", fn.outbound_denied}}) {
      out += "nebula_outbound_requests_total{function=\"";
      out += escape_label_value(name);
      out += "\",decision=\"";
      out += decision;
      out += "\"} ";
      out += std::to_string(count);
      out += '\n';
    }
  }

  append_family(out, "nebula_warm_containers", "gauge",
                "Warm containers currently kept for a function.");
  for (const auto& [name, fn] : snapshot) {
    if (!fn.warm_containers) continue;
    out += "nebula_warm_containers{function=\"";
    out += escape_label_value(name);
    out += "\"} ";
    out += std::to_string(*fn.warm_containers);
    out += '\n';
  }

  append_family(out, "nebula_function_in_flight", "gauge",
                "Invocations in flight on this node, for functions with limits.max_concurrency.");
  for (const auto& [name, fn] : snapshot) {
    if (!fn.in_flight) continue;
    out += "nebula_function_in_flight{function=\"";
    out += escape_label_value(name);
    out += "\"} ";
    out += std::to_string(*fn.in_flight);
    out += '\n';
  }
  append_family(out, "nebula_concurrency_limited_total", "counter",
                "Calls refused (429) after waiting their timeout for a concurrency slot.");
  for (const auto& [name, fn] : snapshot) {
    if (fn.concurrency_limited == 0) continue;
    out += "nebula_concurrency_limited_total{function=\"";
    out += escape_label_value(name);
    out += "\"} ";
    out += std::to_string(fn.concurrency_limited);
    out += '\n';
  }
  append_family(out, "nebula_async_finished_total", "counter",
                "Async calls and schedule firings that ended, by state: done, or dead after "
                "their retries.");
  for (const auto& [name, fn] : snapshot) {
    if (fn.tasks_done == 0 && fn.tasks_dead == 0) continue;
    for (const auto& [state, count] :
         {std::pair{"done", fn.tasks_done}, std::pair{"dead", fn.tasks_dead}}) {
      out += "nebula_async_finished_total{function=\"";
      out += escape_label_value(name);
      out += "\",state=\"";
      out += state;
      out += "\"} ";
      out += std::to_string(count);
      out += '\n';
    }
  }
  append_family(out, "nebula_schedule_firings_total", "counter",
                "Schedule firings this node claimed and queued.");
  for (const auto& [name, fn] : snapshot) {
    if (fn.firings == 0) continue;
    out += "nebula_schedule_firings_total{function=\"";
    out += escape_label_value(name);
    out += "\"} ";
    out += std::to_string(fn.firings);
    out += '\n';
  }

  append_family(out, "nebula_functions", "gauge", "Deployed functions.");
  out += "nebula_functions ";
  out += std::to_string(function_count_.load(std::memory_order_relaxed));
  out += '\n';

  if (!options_.process_metrics) return out;
  // A failed read of /proc leaves these out rather than failing the scrape.
  if (auto process = process_stats()) {
    append_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out += "process_resident_memory_bytes " + std::to_string(process->resident_bytes) + '\n';
    append_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    out += "process_virtual_memory_bytes " + std::to_string(process->virtual_bytes) + '\n';
    append_family(out, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.");
    out += "process_cpu_seconds_total ";
    append_seconds(out, static_cast<std::int64_t>(process->user_cpu_us + process->system_cpu_us));
    out += '\n';
  }
  return out;
}

}  // namespace nebula::metrics
