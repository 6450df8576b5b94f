#pragma once

#include <string>
#include <vector>

#include "cli/bench_model.hpp"

namespace nebula::cli::benchmark {

// What became of the charts: the SVG files written (names relative to the
// output directory), or why there are none.
struct Charts {
  std::vector<std::string> files;
  std::string unavailable_reason;
};

// report.md: headline ratios, machine, method, per-function tables,
// failures, charts and notes.
[[nodiscard]] std::string render_report(const Run& run, const Summary& summary,
                                        const Charts& charts);

// The few lines printed on the terminal at the end.
[[nodiscard]] std::string render_headline(const Run& run, const Summary& summary);

// Human units: "812 µs", "1.23 ms", "2.05 s"; "24.0 MiB"; "×123", "×0.52".
[[nodiscard]] std::string format_us(double us);
[[nodiscard]] std::string format_bytes(double bytes);
[[nodiscard]] std::string format_ratio(const std::optional<double>& ratio);

}  // namespace nebula::cli::benchmark
