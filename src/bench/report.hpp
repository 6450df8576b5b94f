#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "bench/charts.hpp"
#include "bench/model.hpp"

namespace nebula::bench {

// report.md: headline ratios, machine, method, per-function tables,
// failures, charts and notes.
[[nodiscard]] std::string render_report(const Run& run, const Summary& summary,
                                        const Charts& charts);

// The "Charts" and "Notes" sections every report ends with.
void render_charts_and_notes(std::ostream& md, const Charts& charts,
                             const std::vector<std::string>& notes);

// The few lines printed on the terminal at the end.
[[nodiscard]] std::string render_headline(const Run& run, const Summary& summary);

// A ratio as the report prints it: "×123", "×12.3", "×0.52", "0", or "–"
// when there is none.
[[nodiscard]] std::string format_ratio(const std::optional<double>& ratio);

}  // namespace nebula::bench
