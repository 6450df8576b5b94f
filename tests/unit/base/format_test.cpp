#include "base/format.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::base {
namespace {

struct Case {
  double value;
  std::string text;
};

TEST(FormatUs, PicksTheUnitThatKeepsTheFigureShort) {
  const std::vector<Case> cases = {
      {0, "0 µs"},
      {1, "1 µs"},
      {850, "850 µs"},
      {999.4, "999 µs"},
      // Would print as "1000 µs": the next unit instead.
      {999.6, "1.00 ms"},
      {1'250, "1.25 ms"},
      {999'990, "999.99 ms"},
      {999'996, "1.00 s"},
      {2'500'000, "2.50 s"},
      {59'990'000, "59.99 s"},
      {59'996'000, "1 min 00 s"},
      {125'000'000, "2 min 05 s"},
      {3'600'000'000.0, "60 min 00 s"},
  };
  for (const auto& c : cases) EXPECT_EQ(format_us(c.value), c.text) << c.value;
}

TEST(FormatUs, NegativeValuesKeepTheirSign) {
  EXPECT_EQ(format_us(-850), "-850 µs");
  EXPECT_EQ(format_us(-1'250), "-1.25 ms");
  EXPECT_EQ(format_us(-2'500'000), "-2.50 s");
  EXPECT_EQ(format_us(-125'000'000), "-2 min 05 s");
  // Rounds to zero: no "-0".
  EXPECT_EQ(format_us(-0.2), "0 µs");
}

TEST(FormatUs, NotFiniteIsADash) {
  EXPECT_EQ(format_us(std::numeric_limits<double>::quiet_NaN()), "–");
  EXPECT_EQ(format_us(std::numeric_limits<double>::infinity()), "–");
}

TEST(FormatBytes, BinaryUnitsUpToTebibytes) {
  const double kib = 1024;
  const double mib = kib * 1024;
  const double gib = mib * 1024;
  const double tib = gib * 1024;
  const std::vector<Case> cases = {
      {0, "0 B"},
      {512, "512 B"},
      {1023, "1023 B"},
      {1024, "1.0 KiB"},
      {1536, "1.5 KiB"},
      {1023.97 * kib, "1.0 MiB"},
      {24 * mib, "24.0 MiB"},
      {2 * gib, "2.0 GiB"},
      {1.3 * gib, "1.3 GiB"},
      {1.5 * tib, "1.5 TiB"},
      {4096 * tib, "4096.0 TiB"},
  };
  for (const auto& c : cases) EXPECT_EQ(format_bytes(c.value), c.text) << c.value;
}

TEST(FormatBytes, NegativeValuesKeepTheirSign) {
  EXPECT_EQ(format_bytes(-512), "-512 B");
  EXPECT_EQ(format_bytes(-3.0 * 1024 * 1024 * 1024), "-3.0 GiB");
  EXPECT_EQ(format_bytes(std::nan("")), "–");
}

}  // namespace
}  // namespace nebula::base
