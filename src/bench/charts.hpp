#pragma once

// The SVG charts of a run, drawn by a script of bench/ (plot.py for the
// invocations suite, plot_near_zero.py for the near-zero suite) with python3
// and matplotlib. The scripts are built into the binary, so a `nebula`
// copied anywhere draws them without Nebula's sources.

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

// bench/NAME ("plot.py", "plot_near_zero.py") as it was when this binary
// was built; empty when no such script was built in.
[[nodiscard]] std::string_view embedded_script(std::string_view name) noexcept;

// bench/plot.py as it was when this binary was built.
[[nodiscard]] std::string_view plot_script() noexcept;

// Draws the charts of `results` (a results.json) into `out_dir`. With an
// empty `script_override` the built-in script `script_name` is written to
// out_dir/`script_name` and run from there, which also lets a reader draw
// the charts again later (`python3 plot.py results.json`); otherwise the
// given script is run. Never fails the benchmark: the reason there are no
// charts is returned.
[[nodiscard]] Charts draw_charts(const std::filesystem::path& results,
                                 const std::filesystem::path& out_dir,
                                 const std::filesystem::path& script_override,
                                 std::string_view script_name = "plot.py");

}  // namespace nebula::bench
