#pragma once

// The SVG charts of a run, drawn by bench/plot.py with python3 and
// matplotlib. The script is built into the binary, so a `nebula` copied
// anywhere draws them without Nebula's sources.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace nebula::bench {

// What became of the charts: the SVG files written (names relative to the
// output directory), or why there are none.
struct Charts {
  std::vector<std::string> files;
  std::string unavailable_reason;
};

// bench/plot.py as it was when this binary was built.
[[nodiscard]] std::string_view plot_script() noexcept;

// Draws the charts of `results` (a results.json) into `out_dir`. With an
// empty `script_override` the built-in script is written to out_dir/plot.py
// and run from there, which also lets a reader draw the charts again later
// (`python3 plot.py results.json`); otherwise the given script is run.
// Never fails the benchmark: the reason there are no charts is returned.
[[nodiscard]] Charts draw_charts(const std::filesystem::path& results,
                                 const std::filesystem::path& out_dir,
                                 const std::filesystem::path& script_override);

}  // namespace nebula::bench
