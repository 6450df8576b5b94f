#include "bench/charts.hpp"

#include <chrono>
#include <sstream>

#include "base/files.hpp"
#include "base/subprocess.hpp"
#include "bench/embedded_files.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;

// How long a script may take; each draws a few charts from one JSON file.
constexpr auto kPlotTimeout = std::chrono::minutes(5);

// The first python3 that can import matplotlib; empty if none. A PATH
// python3 may be a virtualenv without it while Debian's python3-matplotlib
// sits beside /usr/bin/python3.
std::string find_python(const base::RunOptions& options) {
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    auto probe = base::run({candidate, "-c", "import matplotlib"}, options);
    if (probe && probe->status == 0) return candidate;
  }
  return {};
}

}  // namespace

std::string_view embedded_script(std::string_view name) noexcept {
  for (const auto& file : embedded_files()) {
    if (file.name == name) return file.asset.body;
  }
  return {};
}

std::string_view plot_script() noexcept {
  return embedded_script("plot.py");
}

Charts draw_charts(const fs::path& results, const fs::path& out_dir,
                   const fs::path& script_override, std::string_view script_name) {
  Charts charts;
  fs::path script = script_override;
  if (script.empty()) {
    script = out_dir / script_name;
    const std::string_view body = embedded_script(script_name);
    if (body.empty()) {
      charts.unavailable_reason =
          "charts: unavailable (" + std::string(script_name) + " is not built into this binary)";
      return charts;
    }
    if (auto written = base::write_file(script, body); !written) {
      charts.unavailable_reason = "charts: unavailable (" + written.error().message + ")";
      return charts;
    }
  } else if (std::error_code ec; !fs::is_regular_file(script, ec)) {
    charts.unavailable_reason =
        "charts: unavailable (no plot script at " + script.string() + ", given with --plot-script)";
    return charts;
  }
  base::RunOptions options;
  options.timeout = kPlotTimeout;
  const std::string python = find_python(options);
  if (python.empty()) {
    charts.unavailable_reason =
        "charts: unavailable (python3 with matplotlib not found; install python3-matplotlib and "
        "run `python3 " +
        script.string() + " " + results.string() + "`)";
    return charts;
  }
  auto drawn = base::run({python, script.string(), results.string(), out_dir.string()}, options);
  if (!drawn || drawn->status != 0) {
    const fs::path log = out_dir / "plot.log";
    (void)base::write_file(log, drawn ? drawn->out + drawn->err : drawn.error().message + "\n");
    const std::string why = !drawn             ? "could not start"
                            : drawn->timed_out ? "timed out"
                                               : "exit " + std::to_string(drawn->status);
    charts.unavailable_reason = "charts: the plot script failed (" + why + "); see " + log.string();
    return charts;
  }
  // The script prints the path of each chart it wrote, one per line.
  std::istringstream written(drawn->out);
  for (std::string line; std::getline(written, line);) {
    if (line.size() > 4 && line.ends_with(".svg")) {
      charts.files.push_back(fs::path(line).filename().string());
    }
  }
  return charts;
}

}  // namespace nebula::bench
