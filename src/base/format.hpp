#pragma once

// Durations and sizes as a person reads them. Every command and report that
// prints one goes through these, so the same figure reads the same way in
// `nebula ls`, `nebula logs`, `nebula run --timings` and the bench report.

#include <string>

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

}  // namespace nebula::base
