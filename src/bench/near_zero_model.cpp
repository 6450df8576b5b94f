#include "bench/near_zero_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <boost/json.hpp>

#include "base/format.hpp"
#include "bench/report.hpp"

namespace nebula::bench {
namespace {

namespace json = boost::json;
using base::format_bytes;
using base::format_us;

// --- JSON ----------------------------------------------------------------

json::value opt(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value opt(const std::optional<std::uint64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value opt_text(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

json::object percentiles_json(const Distribution& d) {
  if (d.count == 0) {
    return json::object{{"count", 0}, {"p50", nullptr}, {"p90", nullptr}, {"max", nullptr}};
  }
  return json::object{{"count", d.count}, {"p50", d.p50}, {"p90", d.p90}, {"max", d.max}};
}

json::object process_window_json(const ProcessWindow& p) {
  return json::object{{"rss_bytes", p.rss_bytes},         {"cpu_percent", p.cpu_percent},
                      {"wakeups_per_s", p.wakeups_per_s}, {"threads", p.threads},
                      {"open_fds", p.open_fds},           {"processes", p.processes}};
}

json::object row_json(const RateRow& r, unsigned vcpus) {
  json::object status_errors;
  for (const auto& [status, n] : r.status_errors) status_errors[std::to_string(status)] = n;
  json::object transport_errors;
  for (const auto& [kind, n] : r.transport_errors) transport_errors[kind] = n;
  const bool m = r.measured();
  const bool sent = m && r.kind != RowKind::kIdle;
  auto num = [m](double v) { return m ? json::value(v) : json::value(nullptr); };
  auto count = [m](std::uint64_t v) { return m ? json::value(v) : json::value(nullptr); };
  return json::object{
      {"kind", to_string(r.kind)},
      {"offered_per_s", r.offered_per_s},
      {"note", opt_text(r.note)},
      {"window_s", num(r.window_s)},
      {"wall_s", num(r.wall_s)},
      {"scheduled", count(r.scheduled)},
      {"ok", count(r.ok)},
      {"achieved_per_s", num(r.achieved_per_s)},
      {"errors", count(r.errors())},
      {"status_errors", m ? json::value(std::move(status_errors)) : json::value(nullptr)},
      {"transport_errors", m ? json::value(std::move(transport_errors)) : json::value(nullptr)},
      {"unfinished", count(r.unfinished)},
      {"latency_us", json::object{{"from", "intended send time"},
                                  {"p50", sent ? opt(r.p50_us) : nullptr},
                                  {"p99", sent ? opt(r.p99_us) : nullptr},
                                  {"p99_9", sent ? opt(r.p999_us) : nullptr},
                                  {"max", sent ? opt(r.max_us) : nullptr}}},
      {"machine_cpu_percent",
       num(vcpus > 0 ? 100.0 * r.machine_cpu_cores / static_cast<double>(vcpus) : 0.0)},
      {"machine_cpu_cores", num(r.machine_cpu_cores)},
      {"bench_cpu_cores", num(r.bench_cpu_cores)},
      {"cpu_above_idle_us_per_s", num(r.cpu_above_idle_us_per_s)},
      {"server_cpu_percent", num(r.server_cpu_percent)},
      {"server_cpu_us_per_request", sent ? opt(r.server_cpu_us_per_request) : nullptr},
      {"engine_cpu_percent", m ? opt(r.engine_cpu_percent) : nullptr},
      {"server_rss_avg_bytes", num(r.server_rss_avg_bytes)},
      {"server_rss_max_bytes", count(r.server_rss_max_bytes)},
      {"engine_rss_avg_bytes", m ? opt(r.engine_rss_avg_bytes) : nullptr},
      {"engine_rss_max_bytes", m ? opt(r.engine_rss_max_bytes) : nullptr},
      {"containers_max", count(r.containers_max)},
      {"containers_end", count(r.containers_end)},
      {"watts", m ? opt(r.watts) : nullptr},
      {"status_samples", count(r.status_samples)},
  };
}

json::object curve_json(const RuntimeCurve& c, unsigned vcpus) {
  const PerInvocation& p = c.per_invocation;
  json::array rows;
  for (const auto& r : c.rows) rows.push_back(row_json(r, vcpus));
  return json::object{
      {"function", c.function},
      {"per_invocation",
       json::object{
           {"calls", p.window.calls},
           {"failures", p.window.failures},
           {"wall_s", p.window.wall_s},
           {"busy_cpu_us", p.window.busy_cpu_us},
           {"bench_cpu_us", p.window.own_cpu_us},
           {"idle_cpu_us", p.window.baseline_cpu_us},
           {"cpu_us_per_call", opt(p.cpu_us_per_call)},
           {"energy_uwh_per_call", opt(p.energy_uwh_per_call)},
           {"record_calls", p.record_calls},
           {"record_failures", p.record_failures},
           {"startup_us", percentiles_json(p.startup_us)},
           {"client_us", percentiles_json(p.client_us)},
           {"first_error", opt_text(p.first_error)},
       }},
      {"saturation", json::object{{"connections", c.probe.connections},
                                  {"window_s", c.probe.window_s},
                                  {"sent", c.probe.sent},
                                  {"ok", c.probe.ok},
                                  {"errors", c.probe.errors},
                                  {"unfinished", c.probe.unfinished},
                                  {"throughput_per_s", c.probe.throughput_per_s},
                                  {"p50_us", opt(c.probe.p50_us)}}},
      {"rows", std::move(rows)},
      {"slope", json::object{{"cpu_us_per_request", opt(c.slope.cpu_us_per_request)},
                             {"intercept_us_per_s", opt(c.slope.intercept_us_per_s)},
                             {"r2", opt(c.slope.r2)},
                             {"points", c.slope.points},
                             {"method", c.slope.method},
                             {"per_invocation_cpu_us", opt(p.cpu_us_per_call)},
                             {"ratio_to_per_invocation", opt(c.slope.ratio_to_per_invocation)},
                             {"server_cpu_us_per_request", opt(c.slope.server_cpu_us_per_request)},
                             {"target", "ratio within 0.8 … 1.2 (reported, not asserted)"}}},
  };
}

json::object zero_json(const ZeroStart& z) {
  const Sample& s = z.sample;
  return json::object{
      {"repetition", z.repetition},
      {"runtime", to_string(z.runtime)},
      {"from_zero", z.from_zero},
      {"waited_s", z.waited_s},
      {"ok", s.ok()},
      {"http_status", s.http_status},
      {"cold", s.cold},
      {"client_us", s.client_us},
      {"startup_us", s.ok() ? json::value(s.timings.startup_us) : json::value(nullptr)},
      {"total_us", s.ok() ? json::value(s.timings.total_us) : json::value(nullptr)},
      {"invocation_id", s.invocation_id},
      {"error", opt_text(s.error)},
  };
}

// --- text ----------------------------------------------------------------

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// A whole number with thousands grouped: "1,150".
std::string whole_text(double value) {
  const std::string digits = fmt("%.0f", value);
  std::string grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

// "1,234" for a large rate, "2.50" for a small one.
std::string rate_text(double per_s) {
  if (per_s >= 100) return whole_text(per_s);
  if (per_s >= 10) return fmt("%.1f", per_s);
  return fmt("%.2f", per_s);
}

std::string opt_us(const std::optional<double>& us) {
  return us ? format_us(*us) : std::string("–");
}

std::string percent(double value) {
  if (value >= 10) return fmt("%.0f %%", value);
  if (value >= 1) return fmt("%.1f %%", value);
  return fmt("%.2f %%", value);
}

std::string opt_percent(const std::optional<double>& value) {
  return value ? percent(*value) : std::string("–");
}

std::string opt_bytes(const std::optional<double>& bytes) {
  return bytes ? format_bytes(*bytes) : std::string("–");
}

std::string watts_text(const std::optional<double>& w) {
  return w ? fmt("%.1f W", *w) : std::string("–");
}

std::string uwh_text(const std::optional<double>& uwh) {
  if (!uwh) return "–";
  if (*uwh >= 100) return fmt("%.0f µWh", *uwh);
  if (*uwh >= 1) return fmt("%.1f µWh", *uwh);
  return fmt("%.3f µWh", *uwh);
}

std::string errors_text(const RateRow& r) {
  std::string text;
  for (const auto& [status, n] : r.status_errors) {
    text += (text.empty() ? "" : ", ") + std::to_string(n) + "× " + std::to_string(status);
  }
  for (const auto& [kind, n] : r.transport_errors) {
    text += (text.empty() ? "" : ", ") + std::to_string(n) + "× " + kind;
  }
  return text.empty() ? "0" : text;
}

std::string estimate_mark(const NearZeroRun& run) {
  return run.energy.measured ? "" : " (estimate)";
}

void render_method(std::ostringstream& md, const NearZeroRun& run) {
  const NearZeroOptions& o = run.options;
  md << "## Method\n\n"
     << "- **Own server.** The suite starts `nebula serve --wasm-idle-s " << o.wasm_idle_s
     << "` on a free loopback port with a temporary data directory, deploys every example "
        "(modules, with their Docker image when the engine has it; components as "
        "`NAME-component`; the HTTP handlers) and three functions of its own: `nz-wasm` "
        "(hello, wasm only), `nz-warm` (hello's image with a pool of at most "
     << 2 * run.machine.logical_cpus << " warm containers and no minimum, idle timeout "
     << o.warm_idle_s
     << " s) and `nz-cold` (the same image, a fresh container per call). Every call is "
        "`POST /v1/functions/NAME/invoke` with the body `Nebula`.\n"
     << "- **Idle footprint.** Once `GET /v1/status` reports no warm container and no wasm "
        "program in memory, two readings of the status and of `/proc/stat` "
     << o.idle_s
     << " s apart: resident memory, CPU (of one core), wakeups per second (voluntary context "
        "switches), threads and open descriptors of the server and, summed, of the Docker "
        "engine's processes (`dockerd`, `containerd`, the shims); the machine's busy CPU; "
        "the data directory's size. The machine's busy rate here is the idle rate every "
        "later figure subtracts.\n"
     << "- **CPU per invocation** is measured as `nebula bench` measures it: calls one after "
        "the other (a new connection each) for at least "
     << o.window_s
     << " s, the machine's busy CPU from `/proc/stat` minus the idle rate and minus the "
        "benchmark's own CPU, divided by the calls. The start-up p50 comes from the "
        "records of a few calls made before.\n"
     << "- **Saturation probe.** A closed loop (wasm and docker warm: 4 × logical CPUs "
        "connections; docker cold: 2 ×) for "
     << o.probe_s << " s gives the throughput X the runtime sustains.\n"
     << "- **Load curve.** An open-loop generator sends at each offered rate at or below X, "
        "then at X itself (the saturation row), evenly spaced whether or not answers are "
        "back, on reused keep-alive connections (at most 512; requests beyond wait in a FIFO). "
        "Latency counts from each request's intended send time, so a server that falls "
        "behind shows as latency, not as a lower offered rate. Each rate runs "
     << o.rate_s << " s and at least " << o.min_requests
     << " requests; after the window, answers are awaited for up to 10 s and what is still "
        "outstanding counts as unfinished. Rate 0 only measures. `/v1/status` is sampled "
        "about once a second for memory and containers; CPU figures come from readings at "
        "the start and the end. Rates above X are listed, not run.\n"
     << "- **Slope.** A least-squares line through the machine's CPU above idle (without the "
        "benchmark's own) against the achieved rate, over the rates above 0 and below "
        "saturation, gives the CPU per request under load. Its ratio to the per-invocation "
        "figure should lie within 20 %; it is reported, not asserted. The generator reuses "
        "connections while the per-invocation calls open one each, which is part of what "
        "the ratio shows.\n"
     << "- **Burst recovery.** wasm at saturation (closed loop) for " << o.burst_s << " s, then "
     << o.settle_s
     << " s of rest; the server's resident memory then, against the idle footprint's "
        "(target ≤ ×1.25, reported, not asserted).\n"
     << "- **Scale from zero.** " << o.zero_repeats
     << (o.zero_repeats == 1 ? " repetition" : " repetitions")
     << ": wait until every warm container is reaped and every wasm program let go, "
        "then call each runtime once; the client's time and the record's start-up. wasm's "
        "start-up from zero is set against its ordinary cold start (a fresh instance of a "
        "program in memory).\n"
     << "- **Energy** (" << run.energy.method() << "). ";
  if (run.energy.measured) {
    md << "RAPL package counters (" << run.energy.source << ") are read around every window.\n";
  } else {
    md << "This machine has no readable RAPL: " << run.energy.source
       << ". Power is estimated from CPU use: P = n_vCPU × P_idle + (P_max − P_idle) × "
          "busy cores, with P_idle = "
       << run.energy.model.idle_w << " W and P_max = " << run.energy.model.max_w << " W per vCPU ("
       << (run.energy.model_given ? std::string("given with --power-model")
                                  : std::string(kPowerModelSource))
       << "). Every energy figure of this report is that estimate.\n";
  }
  md << "- **Containers** are the container shims running on the machine (one per "
        "container), read from `/proc`; other containers of the machine count too. The "
        "engine's figures likewise sum every `dockerd`, `containerd`, shim and `docker-proxy` "
        "process on the machine.\n\n";
}

void render_idle(std::ostringstream& md, const NearZeroRun& run) {
  const IdleFootprint& i = run.idle;
  md << "## Idle footprint\n\n";
  if (!i.released) {
    md << "The server did not report everything released before the measurement (see the "
          "notes).\n\n";
  }
  md << "Measured over " << fmt("%.1f", i.wall_s) << " s, " << fmt("%.1f", i.waited_s)
     << " s after the deployment of " << run.deployed.size() << " functions.\n\n"
     << "| | Nebula server | Docker engine |\n|---|---:|---:|\n";
  auto engine = [&i](auto get) { return i.engine ? get(*i.engine) : std::string("–"); };
  md << "| resident memory | " << format_bytes(static_cast<double>(i.server.rss_bytes)) << " | "
     << engine(
            [](const ProcessWindow& p) { return format_bytes(static_cast<double>(p.rss_bytes)); })
     << " |\n";
  md << "| CPU (of one core) | " << percent(i.server.cpu_percent) << " | "
     << engine([](const ProcessWindow& p) { return percent(p.cpu_percent); }) << " |\n";
  md << "| wakeups per second | " << fmt("%.2f", i.server.wakeups_per_s) << " | "
     << engine([](const ProcessWindow& p) { return fmt("%.2f", p.wakeups_per_s); }) << " |\n";
  md << "| threads | " << i.server.threads << " | "
     << engine([](const ProcessWindow& p) { return std::to_string(p.threads); }) << " |\n";
  md << "| open descriptors | " << i.server.open_fds << " | "
     << engine([](const ProcessWindow& p) { return std::to_string(p.open_fds); }) << " |\n";
  md << "| processes | " << i.server.processes << " | "
     << engine([](const ProcessWindow& p) { return std::to_string(p.processes); }) << " |\n\n";
  md << "- server resident memory right after deploying, before the idle unload: "
     << format_bytes(static_cast<double>(i.server_rss_after_deploy_bytes));
  if (i.wasm_loaded_after_deploy) {
    md << " (" << *i.wasm_loaded_after_deploy << " wasm programs in memory then)";
  }
  md << "\n- containers: " << i.containers << "\n"
     << "- machine CPU: " << percent(i.machine_cpu_percent) << " of " << run.machine.logical_cpus
     << " CPUs\n"
     << "- data directory: " << format_bytes(static_cast<double>(i.data_dir_bytes)) << "\n"
     << "- power" << estimate_mark(run) << ": " << watts_text(i.watts) << "\n\n";
}

void render_curve(std::ostringstream& md, const NearZeroRun& run, const RuntimeCurve& c) {
  const PerInvocation& p = c.per_invocation;
  md << "### " << to_string(c.runtime) << " (`" << c.function << "`)\n\n"
     << "Per invocation: " << opt_us(p.cpu_us_per_call) << " of CPU per call above idle ("
     << p.window.calls << " calls in " << fmt("%.1f", p.window.wall_s) << " s, "
     << p.window.failures << " failed); start-up p50 "
     << (p.startup_us.count ? format_us(p.startup_us.p50) : std::string("–")) << " over "
     << p.startup_us.count << " records. Saturation probe: " << c.probe.connections
     << " connections for " << fmt("%.1f", c.probe.window_s) << " s, "
     << rate_text(c.probe.throughput_per_s) << " req/s (" << c.probe.errors << " errors, "
     << c.probe.unfinished << " unfinished).\n\n"
     << "| offered /s | achieved /s | errors | unfinished | p50 | p99 | p99.9 | max | machine "
        "CPU | (cores) | server CPU | engine CPU | server RSS avg / max | engine RSS avg / max "
        "| containers max / end | power"
     << estimate_mark(run) << " |\n"
     << "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const double n = std::max(1U, run.machine.logical_cpus);
  for (const RateRow& r : c.rows) {
    std::string offered = r.kind == RowKind::kIdle ? "0 (idle)" : rate_text(r.offered_per_s);
    if (r.kind == RowKind::kSaturation) offered += " (saturation)";
    if (!r.measured()) {
      md << "| " << offered << " | not offered: " << r.note << " | | | | | | | | | | | | | | |\n";
      continue;
    }
    const bool sent = r.kind != RowKind::kIdle;
    md << "| " << offered << " | " << (sent ? rate_text(r.achieved_per_s) : "–") << " | "
       << (sent ? errors_text(r) : "–") << " | " << (sent ? std::to_string(r.unfinished) : "–")
       << " | " << opt_us(r.p50_us) << " | " << opt_us(r.p99_us) << " | " << opt_us(r.p999_us)
       << " | " << opt_us(r.max_us) << " | " << percent(100.0 * r.machine_cpu_cores / n) << " | "
       << fmt("%.2f", r.machine_cpu_cores) << " | " << percent(r.server_cpu_percent) << " | "
       << opt_percent(r.engine_cpu_percent) << " | " << format_bytes(r.server_rss_avg_bytes)
       << " / " << format_bytes(static_cast<double>(r.server_rss_max_bytes)) << " | "
       << opt_bytes(r.engine_rss_avg_bytes) << " / "
       << (r.engine_rss_max_bytes ? format_bytes(static_cast<double>(*r.engine_rss_max_bytes))
                                  : std::string("–"))
       << " | " << r.containers_max << " / " << r.containers_end << " | " << watts_text(r.watts)
       << " |\n";
  }
  md << "\n";
}

void render_slopes(std::ostringstream& md, const NearZeroRun& run) {
  md << "## CPU per request under load\n\n"
        "| runtime | slope (CPU per request) | per invocation | slope ÷ per invocation | "
        "fit | server's own CPU per request |\n|---|---:|---:|---:|---|---:|\n";
  for (const auto& c : run.curves) {
    md << "| " << to_string(c.runtime) << " | " << opt_us(c.slope.cpu_us_per_request) << " | "
       << opt_us(c.per_invocation.cpu_us_per_call) << " | "
       << format_ratio(c.slope.ratio_to_per_invocation) << " | " << c.slope.method;
    if (c.slope.r2) md << fmt(", R² %.3f", *c.slope.r2);
    md << " | " << opt_us(c.slope.server_cpu_us_per_request) << " |\n";
  }
  md << "\nTarget: a ratio between ×0.8 and ×1.2, i.e. a request costs under load what a "
        "single call costs. The last column fits the Nebula server process' own CPU (from "
        "`GET /v1/status`, in 10 ms ticks) the same way: what the server itself spends per "
        "request, without the engine, the containers and the kernel's work for them; other "
        "work on the machine does not blur it.\n\n";
}

void render_burst(std::ostringstream& md, const NearZeroRun& run) {
  const BurstRecovery& b = run.burst;
  md << "## Burst recovery\n\n";
  if (!b.ran) {
    md << "Not run (see the notes).\n\n";
    return;
  }
  md << "| | |\n|---|---:|\n"
     << "| burst | " << b.connections << " connections, " << fmt("%.1f", b.window_s) << " s, "
     << rate_text(b.throughput_per_s) << " req/s, " << b.errors << " errors, " << b.unfinished
     << " unfinished |\n"
     << "| server RSS at idle | " << format_bytes(static_cast<double>(run.idle.server.rss_bytes))
     << " |\n"
     << "| server RSS max during the burst | "
     << format_bytes(static_cast<double>(b.server_rss_max_bytes)) << " |\n"
     << "| server RSS at the end of the burst | "
     << format_bytes(static_cast<double>(b.server_rss_end_bytes)) << " |\n"
     << "| server RSS after " << fmt("%.0f", b.settle_s) << " s of rest | "
     << format_bytes(static_cast<double>(b.server_rss_settled_bytes)) << " |\n"
     << "| after rest ÷ idle | " << format_ratio(b.ratio_to_idle) << " (target ≤ ×1.25) |\n\n";
}

void render_zero(std::ostringstream& md, const NearZeroRun& run) {
  md << "## Scale from zero\n\n"
        "| runtime | calls | failed | client p50 | client max | start-up p50 (record) | "
        "start-up max |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (Runtime rt : run.runtimes) {
    const ZeroSummary z = summarize_zero(run, rt);
    auto p50 = [](const Distribution& d) { return d.count ? format_us(d.p50) : "–"; };
    auto max = [](const Distribution& d) { return d.count ? format_us(d.max) : "–"; };
    md << "| " << to_string(rt) << " | " << z.calls << " | " << z.failures << " | "
       << p50(z.client_us) << " | " << max(z.client_us) << " | " << p50(z.startup_us) << " | "
       << max(z.startup_us) << " |\n";
  }
  md << "\nwasm's start-up from zero ÷ its ordinary cold start (p50): "
     << format_ratio(wasm_zero_to_cold_ratio(run)) << "\n\n";
}

void render_energy(std::ostringstream& md, const NearZeroRun& run) {
  md << "## Energy\n\n"
     << "Method: **" << run.energy.method() << "**";
  if (!run.energy.measured) {
    md << " (P = " << run.machine.logical_cpus << " × " << run.energy.model.idle_w << " W + ("
       << run.energy.model.max_w << " − " << run.energy.model.idle_w << ") W × busy cores)";
  }
  md << ".\n\n| runtime | per invocation, above idle | power at each offered rate |\n"
        "|---|---:|---|\n";
  for (const auto& c : run.curves) {
    std::string powers;
    for (const auto& r : c.rows) {
      if (!r.measured() || !r.watts) continue;
      std::string at =
          r.kind == RowKind::kIdle ? std::string("idle") : rate_text(r.offered_per_s) + "/s";
      if (r.kind == RowKind::kSaturation) at = "saturation " + at;
      powers += (powers.empty() ? "" : ", ") + at + ": " + watts_text(r.watts);
    }
    md << "| " << to_string(c.runtime) << " | " << uwh_text(c.per_invocation.energy_uwh_per_call)
       << " | " << (powers.empty() ? "–" : powers) << " |\n";
  }
  md << "| idle machine | – | " << watts_text(run.idle.watts) << " |\n\n"
     << "The thesis reports ≈ " << whole_text(kThesisDockerUwhPerCall)
     << " µWh per docker call and ≈ " << whole_text(kThesisWasmUwhPerCall)
     << " µWh per wasm call. Those figures come from its prototype's power readings, whole "
        "calls included, on its own hardware; the figures here are "
     << (run.energy.measured
             ? std::string("RAPL package energy (CPU package only, no memory, disk or power "
                           "supply) above idle")
             : std::string("an estimate from machine-wide CPU time above idle and a per-vCPU "
                           "power model, not a measurement"))
     << ", on this machine, with functions that do almost no work. Compare orders of "
        "magnitude and the docker ÷ wasm ratio, not the figures themselves.\n\n";
}

}  // namespace

// --- pure computations ---------------------------------------------------

double rate_duration_s(double rate, double rate_s, unsigned min_requests) noexcept {
  if (!(rate > 0)) return rate_s;
  return std::max(rate_s, static_cast<double>(min_requests) / rate);
}

RatePlan plan_rates(std::vector<double> rates, double saturation_per_s) {
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  RatePlan plan;
  for (double r : rates) {
    // Rate 0 sends nothing: it always runs.
    if (r <= 0 || r <= saturation_per_s) {
      plan.run.push_back(std::max(r, 0.0));
    } else {
      plan.not_offered.push_back(r);
    }
  }
  return plan;
}

std::optional<LinearFit> least_squares(const std::vector<std::pair<double, double>>& points) {
  const std::size_t n = points.size();
  if (n < 2) return std::nullopt;
  double mean_x = 0;
  double mean_y = 0;
  for (const auto& [x, y] : points) {
    mean_x += x;
    mean_y += y;
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double sxx = 0;
  double sxy = 0;
  double syy = 0;
  for (const auto& [x, y] : points) {
    sxx += (x - mean_x) * (x - mean_x);
    sxy += (x - mean_x) * (y - mean_y);
    syy += (y - mean_y) * (y - mean_y);
  }
  if (sxx <= 0) return std::nullopt;
  LinearFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = mean_y - fit.slope * mean_x;
  fit.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1.0;
  fit.points = n;
  return fit;
}

Slope fit_slope(const std::vector<RateRow>& rows,
                const std::optional<double>& per_invocation_cpu_us) {
  std::vector<std::pair<double, double>> points;
  std::vector<std::pair<double, double>> server_points;
  for (const auto& r : rows) {
    if (r.kind != RowKind::kRate || !(r.offered_per_s > 0) || !(r.achieved_per_s > 0)) continue;
    points.emplace_back(r.achieved_per_s, r.cpu_above_idle_us_per_s);
    // Percent of one core → µs per second.
    server_points.emplace_back(r.achieved_per_s, r.server_cpu_percent * 1e4);
  }
  Slope s;
  if (auto fit = least_squares(server_points)) {
    s.server_cpu_us_per_request = fit->slope;
  } else if (server_points.size() == 1) {
    s.server_cpu_us_per_request = server_points[0].second / server_points[0].first;
  }
  s.points = points.size();
  if (auto fit = least_squares(points)) {
    s.cpu_us_per_request = fit->slope;
    s.intercept_us_per_s = fit->intercept;
    s.r2 = fit->r2;
    s.method = "least squares over " + std::to_string(points.size()) + " rates";
  } else if (points.size() == 1) {
    // Its CPU is already above idle: the line goes through (0, 0).
    s.cpu_us_per_request = points[0].second / points[0].first;
    s.method = "one rate below saturation: a line through the idle point";
  } else {
    s.method = points.empty() ? "no rate above 0 below saturation"
                              : "every rate achieved the same throughput";
  }
  if (s.cpu_us_per_request && per_invocation_cpu_us && *per_invocation_cpu_us > 0) {
    s.ratio_to_per_invocation = *s.cpu_us_per_request / *per_invocation_cpu_us;
  }
  return s;
}

const char* to_string(RowKind kind) noexcept {
  switch (kind) {
    case RowKind::kIdle: return "idle";
    case RowKind::kRate: return "rate";
    case RowKind::kSaturation: return "saturation";
    case RowKind::kNotOffered: return "not offered";
  }
  return "?";
}

std::uint64_t RateRow::errors() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [status, count] : status_errors) n += count;
  for (const auto& [kind, count] : transport_errors) n += count;
  return n;
}

std::string EnergySetup::method() const {
  return std::string(measured ? kMeasuredMethod : kEstimateMethod);
}

const RuntimeCurve* NearZeroRun::curve(Runtime runtime) const {
  for (const auto& c : curves) {
    if (c.runtime == runtime) return &c;
  }
  return nullptr;
}

ZeroSummary summarize_zero(const NearZeroRun& run, Runtime runtime) {
  ZeroSummary z;
  std::vector<double> startup;
  std::vector<double> client;
  for (const auto& call : run.zero_starts) {
    if (call.runtime != runtime) continue;
    ++z.calls;
    if (!call.sample.ok()) {
      ++z.failures;
      continue;
    }
    startup.push_back(static_cast<double>(call.sample.timings.startup_us));
    client.push_back(static_cast<double>(call.sample.client_us));
  }
  z.startup_us = distribution(std::move(startup));
  z.client_us = distribution(std::move(client));
  return z;
}

std::optional<double> wasm_zero_to_cold_ratio(const NearZeroRun& run) {
  const RuntimeCurve* wasm = run.curve(Runtime::kWasm);
  const ZeroSummary zero = summarize_zero(run, Runtime::kWasm);
  if (wasm == nullptr || zero.startup_us.count == 0 || wasm->per_invocation.startup_us.count == 0 ||
      wasm->per_invocation.startup_us.p50 <= 0) {
    return std::nullopt;
  }
  return zero.startup_us.p50 / wasm->per_invocation.startup_us.p50;
}

// --- outputs -------------------------------------------------------------

json::value to_json(const NearZeroRun& run) {
  const NearZeroOptions& o = run.options;
  const MachineInfo& m = run.machine;
  const unsigned vcpus = m.logical_cpus;
  json::object root;
  root["schema"] = "nebula-bench-near-zero/1";
  root["started_at"] = run.started_at;
  root["duration_s"] = run.duration_s;
  json::array rates;
  for (double r : o.rates) rates.emplace_back(r);
  json::array runtimes;
  for (Runtime r : run.runtimes) runtimes.emplace_back(to_string(r));
  root["options"] = json::object{
      {"wasm_idle_s", o.wasm_idle_s},
      {"warm_idle_s", o.warm_idle_s},
      {"idle_s", o.idle_s},
      {"window_s", o.window_s},
      {"probe_s", o.probe_s},
      {"rates", std::move(rates)},
      {"rate_s", o.rate_s},
      {"min_requests", o.min_requests},
      {"burst_s", o.burst_s},
      {"settle_s", o.settle_s},
      {"zero_repeats", o.zero_repeats},
      {"no_docker", o.no_docker},
      {"power_model", json::object{{"idle_w", run.energy.model.idle_w},
                                   {"max_w", run.energy.model.max_w},
                                   {"given", run.energy.model_given}}},
  };
  root["runtimes"] = std::move(runtimes);
  root["machine"] = machine_json(m);

  root["energy_method"] = run.energy.method();
  json::object per_invocation_energy;
  for (const auto& c : run.curves) {
    per_invocation_energy[to_string(c.runtime)] = opt(c.per_invocation.energy_uwh_per_call);
  }
  root["energy"] = json::object{
      {"method", run.energy.method()},
      {"measured", run.energy.measured},
      {"source", run.energy.source},
      {"model", json::object{{"idle_w_per_vcpu", run.energy.model.idle_w},
                             {"max_w_per_vcpu", run.energy.model.max_w},
                             {"vcpus", vcpus},
                             {"formula", "P = vcpus × idle_w + (max_w − idle_w) × busy_cores"},
                             {"reference", run.energy.model_given ? std::string("--power-model")
                                                                  : std::string(kPowerModelSource)},
                             {"used", !run.energy.measured}}},
      {"uwh_per_invocation", std::move(per_invocation_energy)},
      {"idle_watts", opt(run.idle.watts)},
      {"thesis",
       json::object{{"docker_uwh_per_call", kThesisDockerUwhPerCall},
                    {"wasm_uwh_per_call", kThesisWasmUwhPerCall},
                    {"note",
                     "the thesis prototype's power readings, whole calls, its own hardware; "
                     "compare orders of magnitude and the docker/wasm ratio"}}},
  };

  json::array deployed;
  for (const auto& name : run.deployed) deployed.emplace_back(name);
  json::array without_image;
  for (const auto& name : run.without_image) without_image.emplace_back(name);
  root["deployed"] = json::object{{"count", run.deployed.size()},
                                  {"functions", std::move(deployed)},
                                  {"docker_variants", run.docker_variants},
                                  {"without_image", std::move(without_image)}};

  const IdleFootprint& i = run.idle;
  root["idle"] = json::object{
      {"wall_s", i.wall_s},
      {"waited_s", i.waited_s},
      {"released", i.released},
      {"wasm_loaded_reported", i.loaded_known},
      {"server_rss_after_deploy_bytes", i.server_rss_after_deploy_bytes},
      {"wasm_loaded_after_deploy", opt(i.wasm_loaded_after_deploy)},
      {"server", process_window_json(i.server)},
      {"engine", i.engine ? json::value(process_window_json(*i.engine)) : json::value(nullptr)},
      {"containers", i.containers},
      {"machine_cpu_percent", i.machine_cpu_percent},
      {"machine_busy_cpu_us_per_s", i.machine.busy_cpu_us_per_s()},
      {"data_dir_bytes", i.data_dir_bytes},
      {"watts", opt(i.watts)},
  };

  json::object curves;
  for (const auto& c : run.curves) curves[to_string(c.runtime)] = curve_json(c, vcpus);
  root["curves"] = std::move(curves);

  const BurstRecovery& b = run.burst;
  root["burst"] = json::object{
      {"ran", b.ran},
      {"connections", b.connections},
      {"window_s", b.window_s},
      {"ok", b.ok},
      {"errors", b.errors},
      {"unfinished", b.unfinished},
      {"throughput_per_s", b.throughput_per_s},
      {"server_rss_idle_bytes", i.server.rss_bytes},
      {"server_rss_max_bytes", b.server_rss_max_bytes},
      {"server_rss_end_bytes", b.server_rss_end_bytes},
      {"settle_s", b.settle_s},
      {"server_rss_settled_bytes", b.server_rss_settled_bytes},
      {"wasm_loaded_settled", opt(b.wasm_loaded_settled)},
      {"ratio_to_idle", opt(b.ratio_to_idle)},
      {"target", "ratio ≤ 1.25 (reported, not asserted)"},
  };

  json::array calls;
  for (const auto& z : run.zero_starts) calls.push_back(zero_json(z));
  json::object summary;
  for (Runtime rt : run.runtimes) {
    const ZeroSummary z = summarize_zero(run, rt);
    summary[to_string(rt)] = json::object{{"calls", z.calls},
                                          {"failures", z.failures},
                                          {"startup_us", percentiles_json(z.startup_us)},
                                          {"client_us", percentiles_json(z.client_us)}};
  }
  const RuntimeCurve* wasm = run.curve(Runtime::kWasm);
  root["scale_from_zero"] = json::object{
      {"repeats", o.zero_repeats},
      {"calls", std::move(calls)},
      {"summary", std::move(summary)},
      {"wasm_cold_start_p50_us", wasm != nullptr && wasm->per_invocation.startup_us.count > 0
                                     ? json::value(wasm->per_invocation.startup_us.p50)
                                     : json::value(nullptr)},
      {"wasm_zero_to_cold_start_ratio", opt(wasm_zero_to_cold_ratio(run))},
  };

  json::array notes;
  for (const auto& n : run.notes) notes.emplace_back(n);
  root["notes"] = std::move(notes);
  return root;
}

std::string render_near_zero_report(const NearZeroRun& run, const Charts& charts) {
  std::ostringstream md;
  const MachineInfo& m = run.machine;
  md << "# Nebula near-zero benchmark\n\n"
     << "Started " << run.started_at << ", took " << fmt("%.0f", run.duration_s)
     << " s. Runtimes: ";
  for (std::size_t k = 0; k < run.runtimes.size(); ++k) {
    md << (k ? ", " : "") << to_string(run.runtimes[k]);
  }
  md << ". Energy: **" << run.energy.method() << "**.\n\n";
  md << "```\n" << render_near_zero_headline(run) << "```\n\n";

  md << "## Machine\n\n"
     << "- CPU: " << m.cpu_model << ", " << m.logical_cpus << " logical CPUs"
     << (m.virtual_machine ? " (virtual machine)" : "") << "\n"
     << "- memory: " << format_bytes(static_cast<double>(m.memory_bytes)) << "\n"
     << "- " << m.kernel << ", " << m.os << "\n"
     << "- Nebula " << (m.server_version.empty() ? "?" : m.server_version) << ", wasmtime "
     << (m.wasmtime_version.empty() ? "?" : m.wasmtime_version) << ", Docker "
     << (m.docker_version.empty() ? "not used" : m.docker_version) << "\n"
     << "- energy source: " << run.energy.source << "\n\n";

  render_method(md, run);
  render_idle(md, run);
  md << "## Load curve\n\n";
  for (const auto& c : run.curves) render_curve(md, run, c);
  render_slopes(md, run);
  render_burst(md, run);
  render_zero(md, run);
  render_energy(md, run);

  render_charts_and_notes(md, charts, run.notes);
  return md.str();
}

std::string render_near_zero_headline(const NearZeroRun& run) {
  std::ostringstream out;
  const IdleFootprint& i = run.idle;
  out << "idle: Nebula " << format_bytes(static_cast<double>(i.server.rss_bytes)) << " RSS, "
      << percent(i.server.cpu_percent) << " CPU, " << fmt("%.2f", i.server.wakeups_per_s)
      << " wakeups/s";
  if (i.engine) {
    out << "; Docker engine " << format_bytes(static_cast<double>(i.engine->rss_bytes)) << " RSS, "
        << percent(i.engine->cpu_percent) << " CPU, " << fmt("%.2f", i.engine->wakeups_per_s)
        << " wakeups/s";
  }
  out << "\n";
  for (const auto& c : run.curves) {
    out << to_string(c.runtime) << ": " << opt_us(c.per_invocation.cpu_us_per_call)
        << " CPU per call, saturation " << rate_text(c.probe.throughput_per_s) << " req/s, slope "
        << opt_us(c.slope.cpu_us_per_request) << " per request ("
        << format_ratio(c.slope.ratio_to_per_invocation) << " of per-invocation)\n";
  }
  if (run.burst.ran) {
    out << "burst recovery: "
        << format_bytes(static_cast<double>(run.burst.server_rss_settled_bytes)) << " RSS after "
        << fmt("%.0f", run.burst.settle_s) << " s of rest, "
        << format_ratio(run.burst.ratio_to_idle) << " of idle (target ≤ ×1.25)\n";
  }
  out << "scale from zero (start-up p50):";
  for (Runtime rt : run.runtimes) {
    const ZeroSummary z = summarize_zero(run, rt);
    out << " " << to_string(rt) << " "
        << (z.startup_us.count ? format_us(z.startup_us.p50) : std::string("–")) << ";";
  }
  out << " wasm from zero ÷ cold start " << format_ratio(wasm_zero_to_cold_ratio(run)) << "\n";
  out << "energy per call (" << run.energy.method() << "):";
  for (const auto& c : run.curves) {
    out << " " << to_string(c.runtime) << " " << uwh_text(c.per_invocation.energy_uwh_per_call)
        << ";";
  }
  out << " thesis: docker ≈" << whole_text(kThesisDockerUwhPerCall) << ", wasm ≈"
      << whole_text(kThesisWasmUwhPerCall) << " µWh\n";
  return out.str();
}

}  // namespace nebula::bench
