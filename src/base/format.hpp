#pragma once

// Durations and sizes as a person reads them. Every command and report that
// prints one goes through these, so the same figure reads the same way in
// `nebula ls`, `nebula logs`, `nebula run --timings` and the bench report.

#include <cstddef>
#include <string>
#include <string_view>

namespace nebula::base {

// Microseconds in the largest unit that keeps the figure short: "850 µs",
// "1.25 ms", "2.50 s", "2 min 05 s". A value that would round up to the
// next unit is shown in it ("1.00 ms", not "1000 µs"). Negative values keep
// their sign (an above-idle figure can come out below zero); a value that
// is not finite is shown as "–".
[[nodiscard]] std::string format_us(double us);

// Bytes in binary units: "512 B", "1.5 KiB", "24.0 MiB", "2.0 GiB",
// "1.2 TiB". Negative values keep their sign; not finite is "–".
[[nodiscard]] std::string format_bytes(double bytes);

// `text` padded with spaces to `width` characters for a table column, on the
// right (`align_right` false) or the left. Counts UTF-8 characters, not
// bytes, so that "850 µs" lines up with "1.25 ms". Longer text is kept whole.
[[nodiscard]] std::string pad(std::string_view text, std::size_t width, bool align_right = false);

}  // namespace nebula::base
