#include "bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "base/format.hpp"

namespace nebula::bench {
namespace {

using base::format_bytes;
using base::format_us;

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string opt_us(const std::optional<double>& us) {
  return us ? format_us(*us) : std::string("–");
}

// "–" for a figure no call had.
std::string mean_us(const Distribution& d) {
  return d.count ? format_us(d.mean) : std::string("–");
}

std::string p50_bytes(const Distribution& d) {
  return d.count ? format_bytes(d.p50) : std::string("–");
}

std::string energy_text(const std::optional<double>& uj) {
  if (!uj) return "–";
  // The thesis reports µWh per call; 1 µWh = 3.6 mJ.
  return fmt("%.0f µJ", *uj) + " (" + fmt("%.2f µWh", *uj / 3600.0) + ")";
}

bool measured(const Run& run, Runtime runtime) {
  for (Runtime r : run.runtimes) {
    if (r == runtime) return true;
  }
  return false;
}

// A warm container is reused: it has no start-up, and the ratio is 0 by
// design. Say so rather than print a bare "×0".
std::string startup_ratio_text(Runtime docker, const std::optional<double>& r) {
  if (docker == Runtime::kDockerWarm && r && *r == 0) return "0 (container reused)";
  return format_ratio(r);
}

void distribution_table(std::ostringstream& md, const Run& run, const Summary& summary,
                        Distribution CellSummary::*metric) {
  md << "| function | runtime | ok/calls | cold | p50 | p90 | p99 | mean |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t i = 0; i < run.functions.size(); ++i) {
    for (const auto& cell : run.functions[i].cells) {
      const CellSummary& s = summary.cells[i].at(cell.runtime);
      const Distribution& d = s.*metric;
      md << "| " << run.functions[i].name << " | " << to_string(cell.runtime) << " | " << s.ok
         << "/" << s.calls << " | " << s.cold_starts << " | ";
      if (d.count == 0) {
        md << "– | – | – | – |\n";
      } else {
        md << format_us(d.p50) << " | " << format_us(d.p90) << " | " << format_us(d.p99) << " | "
           << format_us(d.mean) << " |\n";
      }
    }
  }
  md << "\n";
}

}  // namespace

std::string format_ratio(const std::optional<double>& ratio) {
  if (!ratio) return "–";
  if (*ratio == 0) return "0";
  if (*ratio >= 100) return fmt("×%.0f", *ratio);
  if (*ratio >= 10) return fmt("×%.1f", *ratio);
  return fmt("×%.2f", *ratio);
}

std::string render_headline(const Run& run, const Summary& summary) {
  std::ostringstream out;
  out << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-12s %12s %12s %12s %14s %12s\n", "runtime", "startup p50",
                "total p50", "cpu/call", "system cpu/call", "memory p50");
  out << line;
  for (Runtime r : run.runtimes) {
    auto it = summary.pooled.find(r);
    if (it == summary.pooled.end()) continue;
    const CellSummary& s = it->second;
    std::snprintf(line, sizeof line, "%-12s %12s %12s %12s %14s %12s\n", to_string(r),
                  format_us(s.startup_us.p50).c_str(), format_us(s.total_us.p50).c_str(),
                  mean_us(s.cpu_us).c_str(), opt_us(s.system_cpu_us_per_call).c_str(),
                  p50_bytes(s.max_memory_bytes).c_str());
    out << line;
  }
  for (Runtime docker : {Runtime::kDockerCold, Runtime::kDockerWarm}) {
    if (!measured(run, docker)) continue;
    const Ratios& q = summary.ratios_overall.at(docker);
    out << to_string(docker) << "/wasm: startup " << startup_ratio_text(docker, q.startup_p50)
        << ", total " << format_ratio(q.total_p50) << ", cpu " << format_ratio(q.cpu_per_invocation)
        << ", system cpu " << format_ratio(q.system_cpu_per_invocation) << ", memory "
        << format_ratio(q.memory) << "\n";
  }
  out << "energy: " << run.machine.energy_source << "\n";
  out << summary.failures << " of " << summary.calls << " calls failed\n";
  return out.str();
}

namespace {

std::string size_text(const std::optional<std::uint64_t>& bytes) {
  return bytes ? format_bytes(static_cast<double>(*bytes)) : "–";
}

// --languages: what each language's function costs on each runtime, size
// first (what a node must store and load), then start-up and total.
void render_languages(std::ostringstream& md, const Run& run, const Summary& summary) {
  const bool any = std::any_of(run.functions.begin(), run.functions.end(),
                               [](const FunctionRun& f) { return !f.language.empty(); });
  if (!any) return;
  const bool docker = measured(run, Runtime::kDockerCold);
  md << "## Languages\n\n"
        "Each language's function on each runtime: the size of what the runtime loads (the "
        "wasm module or component; the Docker image as the engine reports it, base image "
        "included), then start-up and total from the server's records, CPU per call and peak "
        "memory (p50).\n\n"
        "| function | wasm | image | image / wasm | start-up p50 / p99: wasm | docker cold | "
        "cold / wasm | total p50: wasm | docker cold | docker warm | CPU / call: wasm | "
        "docker cold | memory p50: wasm | docker cold |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t i = 0; i < run.functions.size(); ++i) {
    const FunctionRun& f = run.functions[i];
    if (f.language.empty()) continue;
    const auto& cells = summary.cells[i];
    auto cell = [&cells](Runtime r) -> const CellSummary* {
      auto it = cells.find(r);
      return it == cells.end() ? nullptr : &it->second;
    };
    const CellSummary* w = cell(Runtime::kWasm);
    const CellSummary* c = docker ? cell(Runtime::kDockerCold) : nullptr;
    const CellSummary* h = docker ? cell(Runtime::kDockerWarm) : nullptr;
    auto p50_p99 = [](const CellSummary* s) {
      return s == nullptr ? std::string("–")
                          : format_us(s->startup_us.p50) + " / " + format_us(s->startup_us.p99);
    };
    auto total = [](const CellSummary* s) {
      return s == nullptr ? std::string("–") : format_us(s->total_us.p50);
    };
    auto cpu = [](const CellSummary* s) {
      return s == nullptr ? std::string("–") : mean_us(s->cpu_us);
    };
    auto memory = [](const CellSummary* s) {
      return s == nullptr ? std::string("–") : p50_bytes(s->max_memory_bytes);
    };
    std::optional<double> size_ratio;
    if (f.wasm_bytes && f.image_bytes && *f.wasm_bytes > 0) {
      size_ratio = static_cast<double>(*f.image_bytes) / static_cast<double>(*f.wasm_bytes);
    }
    std::optional<double> startup_ratio;
    if (w != nullptr && c != nullptr && w->startup_us.p50 > 0) {
      startup_ratio = c->startup_us.p50 / w->startup_us.p50;
    }
    md << "| " << f.name << " | " << size_text(f.wasm_bytes) << " | " << size_text(f.image_bytes)
       << " | " << format_ratio(size_ratio) << " | " << p50_p99(w) << " | " << p50_p99(c) << " | "
       << format_ratio(startup_ratio) << " | " << total(w) << " | " << total(c) << " | " << total(h)
       << " | " << cpu(w) << " | " << cpu(c) << " | " << memory(w) << " | " << memory(c) << " |\n";
  }
  md << "\n";
}

}  // namespace

std::string render_report(const Run& run, const Summary& summary, const Charts& charts) {
  std::ostringstream md;
  const MachineInfo& m = run.machine;
  const bool any_docker = measured(run, Runtime::kDockerCold);

  md << "# Nebula benchmark\n\n";
  md << "Run started " << run.started_at << ", took " << fmt("%.0f", run.duration_s) << " s. "
     << run.functions.size() << " function(s) on";
  for (Runtime r : run.runtimes) md << " " << to_string(r);
  md << "; " << run.runs << " measured calls per function and runtime after " << run.warmup
     << " warm-up call(s). " << summary.calls << " calls in all, " << summary.failures
     << " failed.\n\n";

  md << "## Headline: docker / wasm\n\n";
  if (!any_docker) {
    md << "Docker was not measured (`--no-docker`): there are no ratios.\n\n";
  } else {
    md << "Per function docker ÷ wasm, then the geometric mean over the functions.\n\n"
          "| metric | docker cold / wasm | docker warm / wasm |\n|---|---:|---:|\n";
    const Ratios& c = summary.ratios_overall.at(Runtime::kDockerCold);
    const Ratios& w = summary.ratios_overall.at(Runtime::kDockerWarm);
    md << "| start-up p50 | " << format_ratio(c.startup_p50) << " | "
       << startup_ratio_text(Runtime::kDockerWarm, w.startup_p50) << " |\n";
    md << "| total p50 | " << format_ratio(c.total_p50) << " | " << format_ratio(w.total_p50)
       << " |\n";
    md << "| CPU per invocation (server records) | " << format_ratio(c.cpu_per_invocation) << " | "
       << format_ratio(w.cpu_per_invocation) << " |\n";
    md << "| system-wide CPU per invocation (/proc/stat) | "
       << format_ratio(c.system_cpu_per_invocation) << " | "
       << format_ratio(w.system_cpu_per_invocation) << " |\n";
    md << "| peak memory p50 | " << format_ratio(c.memory) << " | " << format_ratio(w.memory)
       << " |\n";
    md << "| energy per invocation | "
       << (m.energy_available ? format_ratio(c.energy_per_invocation) : "unavailable") << " | "
       << (m.energy_available ? format_ratio(w.energy_per_invocation) : "unavailable") << " |\n\n";
  }

  md << "## All functions pooled\n\n"
        "| runtime | start-up p50 | exec p50 | total p50 | total p99 | CPU / call | "
        "system CPU / call | memory p50 | energy / call |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (Runtime r : run.runtimes) {
    auto it = summary.pooled.find(r);
    if (it == summary.pooled.end()) continue;
    const CellSummary& s = it->second;
    md << "| " << to_string(r) << " | " << format_us(s.startup_us.p50) << " | "
       << format_us(s.exec_us.p50) << " | " << format_us(s.total_us.p50) << " | "
       << format_us(s.total_us.p99) << " | " << mean_us(s.cpu_us) << " | "
       << opt_us(s.system_cpu_us_per_call) << " | " << p50_bytes(s.max_memory_bytes) << " | "
       << (m.energy_available ? energy_text(s.energy_uj_per_call) : "unavailable") << " |\n";
  }
  md << "\n";

  render_languages(md, run, summary);

  md << "## Machine\n\n";
  md << "- CPU: " << m.cpu_model << ", " << m.logical_cpus << " logical CPUs"
     << (m.virtual_machine ? " (virtual machine)" : "") << "\n";
  md << "- Memory: " << format_bytes(static_cast<double>(m.memory_bytes)) << "\n";
  md << "- Kernel: " << m.kernel << "\n";
  if (!m.os.empty()) md << "- OS: " << m.os << "\n";
  md << "- Nebula server: " << (m.server_version.empty() ? "unknown" : m.server_version) << "\n";
  md << "- Docker Engine: "
     << (!any_docker                ? "not used"
         : m.docker_version.empty() ? "unknown"
                                    : m.docker_version)
     << "\n";
  md << "- wasmtime: " << (m.wasmtime_version.empty() ? "unknown" : m.wasmtime_version)
     << " (embedded through its C API)\n";
  md << "- energy: " << m.energy_source << "\n";
  md << "- server: "
     << (run.server == "own" ? "started by the benchmark on 127.0.0.1 with a fresh data directory"
                             : run.server)
     << "\n\n";

  md << "## Method\n\n";
  md << "- Every call goes through the HTTP API (`POST /v1/functions/{name}/invoke`) of one "
        "Nebula server. Each function is deployed twice: `NAME` (the wasm module and the "
        "Docker image, docker calls in cold mode: one container per call) and `NAME-warm` "
        "(the same image with a warm pool of one container, started at deploy time).\n";
  md << "- Every function gets the same input on every runtime. A reference call on wasm gives "
        "the expected answer; every docker answer is compared with it, and a call counts only "
        "with status 200, the expected answer and a readable record.\n";
  md << "- " << run.warmup << " warm-up call(s) per function and runtime are not counted. Then "
     << run.runs
     << " repetitions: in each, every function on every runtime, the runtimes' "
        "order rotated from one repetition to the next so that none always goes first.\n";
  md << "- Start-up, exec and total come from the server's invocation record: "
        "the monotonic clock, server side, one definition for both runtimes. Start-up is Store "
        "and instance creation for wasm, container create + attach + start for docker cold, "
        "and 0 for a reused warm container. Total runs from the request body read to the "
        "response being ready, so it includes docker cold's container removal. Percentiles "
        "interpolate linearly between the closest ranks (with "
     << run.runs << " calls, p99 is close to the maximum).\n";
  md << "- CPU per invocation is the record's `cpu_us`: the calling thread's CPU time for wasm, "
        "the container cgroup's CPU usage for docker.\n";
  md << "- Peak memory is the record's `max_memory_bytes`; the three runtimes report "
        "different things: **wasm reports the peak linear memory** of the instance, **docker "
        "cold reports the container cgroup's peak** (the process plus its kernel memory), "
        "**docker warm reports the function process's max RSS** inside the kept-running "
        "container.\n";
  md << "- System-wide CPU: after the interleaved runs, for each function and runtime, calls "
        "back to back (at least "
     << run.runs << " and at least " << fmt("%.1f", run.min_window_s)
     << " s) between two readings of `/proc/stat`. The busy time of all CPUs counts the "
        "server, dockerd, containerd, runc, the shims and the kernel. From it are subtracted "
        "the idle rate times the window's length, and "
        "the benchmark process' own CPU time (its HTTP client). /proc/stat counts in ticks of "
     << fmt("%.0f", 1000.0 / static_cast<double>(m.clock_ticks_per_second))
     << " ms, which the window length makes small.\n";
  md << "- Idle rate: the machine left alone (the benchmark sleeps, the warm containers sit "
        "idle) for "
     << fmt("%.1f s", run.idle_before.wall_s) << " before the first measured call ("
     << format_us(run.idle_before.busy_cpu_us_per_s()) << " of CPU per second) and "
     << fmt("%.1f s", run.idle_after.wall_s) << " after the last ("
     << format_us(run.idle_after.busy_cpu_us_per_s())
     << " per second); the windows subtract the rate of both periods together ("
     << format_us(run.baseline.busy_cpu_us_per_s()) << " per second).\n";
  md << "- Energy: " << m.energy_source
     << (m.energy_available ? ", package counters read around the same windows, minus the idle "
                              "power times the window length."
                            : ".")
     << "\n";
  md << "- Failed calls are counted per cell and listed below, never dropped silently; the "
        "statistics are over the calls that counted.\n";
  if (any_docker) {
    md << "- Clean-up: "
       << (run.server == "own"
               ? "the server was stopped with SIGTERM; it removes its containers when it stops."
               : "the benchmark's functions were deleted, which removes their containers.")
       << "\n";
  }
  md << "\n";

  md << "## Start-up\n\n";
  distribution_table(md, run, summary, &CellSummary::startup_us);
  md << "## Exec\n\n";
  distribution_table(md, run, summary, &CellSummary::exec_us);
  md << "## Total (server side)\n\n";
  distribution_table(md, run, summary, &CellSummary::total_us);

  md << "## CPU, memory and energy per invocation\n\n"
        "| function | runtime | CPU / call (records) | system CPU / call | window | "
        "memory p50 | memory max | energy / call |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t i = 0; i < run.functions.size(); ++i) {
    for (const auto& cell : run.functions[i].cells) {
      const CellSummary& s = summary.cells[i].at(cell.runtime);
      md << "| " << run.functions[i].name << " | " << to_string(cell.runtime) << " | "
         << mean_us(s.cpu_us) << " | " << opt_us(s.system_cpu_us_per_call) << " | ";
      if (cell.window) {
        md << cell.window->calls << " calls, " << fmt("%.1f s", cell.window->wall_s);
      } else {
        md << "–";
      }
      md << " | " << p50_bytes(s.max_memory_bytes) << " | "
         << (s.max_memory_bytes.count ? format_bytes(s.max_memory_bytes.max) : "–") << " | "
         << (m.energy_available ? energy_text(s.energy_uj_per_call) : "unavailable") << " |\n";
    }
  }
  md << "\n";

  if (any_docker) {
    md << "## Ratios per function (docker / wasm)\n\n"
          "| function | runtime | start-up p50 | total p50 | CPU / call | system CPU / call | "
          "memory |\n|---|---|---:|---:|---:|---:|---:|\n";
    for (std::size_t i = 0; i < run.functions.size(); ++i) {
      for (Runtime docker : {Runtime::kDockerCold, Runtime::kDockerWarm}) {
        const Ratios& q = summary.ratios_by_function.at(docker)[i];
        md << "| " << run.functions[i].name << " | " << to_string(docker) << " | "
           << startup_ratio_text(docker, q.startup_p50) << " | " << format_ratio(q.total_p50)
           << " | " << format_ratio(q.cpu_per_invocation) << " | "
           << format_ratio(q.system_cpu_per_invocation) << " | " << format_ratio(q.memory)
           << " |\n";
      }
    }
    md << "\n";
  }

  md << "## Inputs and failures\n\n"
        "| function | input | measured failures | warm-up failures | window failures |\n"
        "|---|---|---|---|---|\n";
  for (std::size_t i = 0; i < run.functions.size(); ++i) {
    const FunctionRun& fn = run.functions[i];
    std::string input;
    for (char c : fn.input)
      input += c == '\n' ? std::string("\\n") : c == '|' ? "\\|" : std::string(1, c);
    std::string measured_f, warm_f, window_f;
    for (const auto& cell : fn.cells) {
      const CellSummary& s = summary.cells[i].at(cell.runtime);
      const std::string rt = to_string(cell.runtime);
      if (s.failures > 0) {
        measured_f += rt + ": " + std::to_string(s.failures) + " (";
        bool first = true;
        for (const auto& [kind, n] : s.failure_kinds) {
          measured_f += (first ? "" : ", ") + kind + " ×" + std::to_string(n);
          first = false;
        }
        measured_f += ") ";
      }
      if (cell.warmup_failures > 0) {
        warm_f += rt + ": " + std::to_string(cell.warmup_failures) + " ";
      }
      if (cell.window && cell.window->failures > 0) {
        window_f += rt + ": " + std::to_string(cell.window->failures) + " ";
      }
    }
    md << "| " << fn.name << " | `" << input << "` | " << (measured_f.empty() ? "0" : measured_f)
       << " | " << (warm_f.empty() ? "0" : warm_f) << " | " << (window_f.empty() ? "0" : window_f)
       << " |\n";
  }
  md << "\n";

  render_charts_and_notes(md, charts, run.notes);
  md << "Raw samples, windows and summaries: `results.json`.\n";
  return md.str();
}

void render_charts_and_notes(std::ostream& md, const Charts& charts,
                             const std::vector<std::string>& notes) {
  md << "## Charts\n\n";
  if (charts.files.empty()) {
    md << charts.unavailable_reason << "\n\n";
  } else {
    for (const auto& f : charts.files) md << "![" << f << "](" << f << ")\n\n";
  }
  if (!notes.empty()) {
    md << "## Notes\n\n";
    for (const auto& n : notes) md << "- " << n << "\n";
    md << "\n";
  }
}

}  // namespace nebula::bench
