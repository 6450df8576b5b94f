#include "base/format.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace nebula::base {
namespace {

std::string printf_string(const char* format, const char* sign, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, sign, value);
  return buf;
}

}  // namespace

std::string format_us(double us) {
  if (!std::isfinite(us)) return "–";
  const double a = std::fabs(us);
  // Below half a unit the figure prints as 0, which has no sign.
  const char* sign = us <= -0.5 ? "-" : "";
  // Each threshold is where the shorter unit would print as 1000 (or 60 s)
  // after rounding.
  if (a < 999.5) return printf_string("%s%.0f µs", sign, a);
  if (a < 999'995.0) return printf_string("%s%.2f ms", sign, a / 1e3);
  if (a < 59'995'000.0) return printf_string("%s%.2f s", sign, a / 1e6);
  const auto seconds = static_cast<long long>(std::llround(a / 1e6));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%lld min %02lld s", sign, seconds / 60, seconds % 60);
  return buf;
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "–";
  const double a = std::fabs(bytes);
  const char* sign = bytes <= -0.5 ? "-" : "";
  if (a < 1023.5) return printf_string("%s%.0f B", sign, a);
  constexpr std::array<const char*, 4> kUnits = {"KiB", "MiB", "GiB", "TiB"};
  double value = a / 1024.0;
  std::size_t unit = 0;
  // 1023.95 and above would print as "1024.0" of this unit.
  while (value >= 1023.95 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%.1f %s", sign, value, kUnits[unit]);
  return buf;
}

std::string pad(std::string_view text, std::size_t width, bool align_right) {
  std::size_t chars = 0;
  for (char c : text) {
    // Every byte but a UTF-8 continuation byte (10xxxxxx) starts a character.
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++chars;
  }
  const std::string fill(width > chars ? width - chars : 0, ' ');
  return align_right ? fill + std::string(text) : std::string(text) + fill;
}

}  // namespace nebula::base
