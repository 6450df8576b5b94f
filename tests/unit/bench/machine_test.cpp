#include "bench/machine.hpp"

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "base/files.hpp"

namespace nebula::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

TEST(Ticks, ToMicrosecondsAtTheKernelsRate) {
  EXPECT_DOUBLE_EQ(ticks_to_us(250, 100), 2'500'000);
  EXPECT_DOUBLE_EQ(ticks_to_us(3, 1000), 3'000);
  EXPECT_DOUBLE_EQ(ticks_to_us(7, 0), 0);  // a rate that could not be read
}

Reading reading(std::int64_t at_ms, std::uint64_t busy_ticks, std::uint64_t own_cpu_us,
                std::optional<double> energy_uj) {
  Reading r;
  r.at = std::chrono::steady_clock::time_point(milliseconds(at_ms));
  r.busy_ticks = busy_ticks;
  r.own_cpu_us = own_cpu_us;
  r.energy_uj = energy_uj;
  return r;
}

TEST(Between, TheDifferenceOfTwoReadings) {
  const Interval d =
      between(reading(1'000, 5'000, 40'000, 1e6), reading(3'500, 5'250, 65'000, 4e6), 100);
  EXPECT_DOUBLE_EQ(d.wall_s, 2.5);
  EXPECT_DOUBLE_EQ(d.busy_cpu_us, 2'500'000);  // 250 ticks of 10 ms
  EXPECT_DOUBLE_EQ(d.own_cpu_us, 25'000);
  ASSERT_TRUE(d.energy_uj.has_value());
  EXPECT_DOUBLE_EQ(*d.energy_uj, 3e6);
}

TEST(Between, ACounterThatWentBackwardsCountsAsZero) {
  // A CPU taken offline takes its ticks out of /proc/stat's sum.
  const Interval d = between(reading(0, 9'000, 10, 5.0), reading(1'000, 8'000, 5, 2.0), 100);
  EXPECT_DOUBLE_EQ(d.busy_cpu_us, 0);
  EXPECT_DOUBLE_EQ(d.own_cpu_us, 0);
  EXPECT_DOUBLE_EQ(*d.energy_uj, 0);
}

TEST(Between, EnergyOnlyWhenBothReadingsHaveIt) {
  EXPECT_FALSE(between(reading(0, 0, 0, std::nullopt), reading(1, 0, 0, 5.0), 100).energy_uj);
  EXPECT_FALSE(between(reading(0, 0, 0, 5.0), reading(1, 0, 0, std::nullopt), 100).energy_uj);
}

TEST(EnergyCounter, UnwrapsAtItsRange) {
  EXPECT_EQ(energy_counted_uj(100, 900, 1'000), 800U);
  EXPECT_EQ(energy_counted_uj(900, 900, 1'000), 0U);
  // Wrapped: 100 µJ to the end of the range, then 100 from 0.
  EXPECT_EQ(energy_counted_uj(900, 100, 1'000), 200U);
  // A real package's range: 2^32 µJ, a little over an hour at 1 kW.
  EXPECT_EQ(energy_counted_uj(4'294'967'000ULL, 704, 4'294'967'295ULL), 999U);
  // A previous value beyond the range: the counter was reset, not wrapped.
  EXPECT_EQ(energy_counted_uj(5'000, 10, 1'000), 10U);
}

// A fake /sys/class/powercap with two packages and a sub-zone.
class FakePowercap : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = base::TempDir::create("nebula-powercap-test-");
    ASSERT_TRUE(dir) << dir.error().message;
    scratch_.emplace(std::move(*dir));
    root_ = scratch_->path();
    zone("intel-rapl:0", "package-0", 900, 1'000);
    zone("intel-rapl:0:0", "core", 123'456, 1'000);  // part of package 0: not added again
    zone("intel-rapl:1", "package-1", 10, 5'000);
  }
  void zone(const std::string& dir, const std::string& name, std::uint64_t energy,
            std::uint64_t range) {
    fs::create_directories(root_ / dir);
    ASSERT_TRUE(base::write_file(root_ / dir / "name", name + "\n"));
    ASSERT_TRUE(base::write_file(root_ / dir / "max_energy_range_uj", std::to_string(range)));
    set(dir, energy);
  }
  void set(const std::string& dir, std::uint64_t energy) {
    ASSERT_TRUE(base::write_file(root_ / dir / "energy_uj", std::to_string(energy) + "\n"));
  }
  std::optional<base::TempDir> scratch_;
  fs::path root_;
};

TEST_F(FakePowercap, SumsThePackagesAndUnwrapsEachCounter) {
  EnergyMeter meter = EnergyMeter::open(root_);
  ASSERT_TRUE(meter.available()) << meter.description();
  EXPECT_EQ(meter.description(), "RAPL package-0 (intel-rapl:0), package-1 (intel-rapl:1)");
  EXPECT_EQ(meter.read(), 0.0);

  set("intel-rapl:0", 100);    // wrapped at 1000: +200
  set("intel-rapl:1", 60);     // +50
  set("intel-rapl:0:0", 999);  // a sub-zone: ignored
  EXPECT_EQ(meter.read(), 250.0);
  set("intel-rapl:0", 150);  // +50
  EXPECT_EQ(meter.read(), 300.0);

  fs::remove(root_ / "intel-rapl:1" / "energy_uj");
  EXPECT_FALSE(meter.read().has_value());
}

TEST_F(FakePowercap, WithoutPackageZonesThereIsNoMeterAndTheDescriptionSaysWhy) {
  fs::remove_all(root_ / "intel-rapl:0");
  fs::remove_all(root_ / "intel-rapl:1");
  EnergyMeter meter = EnergyMeter::open(root_);
  EXPECT_FALSE(meter.available());
  EXPECT_FALSE(meter.read().has_value());
  EXPECT_NE(meter.description().find("no intel-rapl package zone"), std::string::npos)
      << meter.description();

  EnergyMeter none = EnergyMeter::open(root_ / "missing");
  EXPECT_FALSE(none.available());
  EXPECT_NE(none.description().find("does not exist"), std::string::npos) << none.description();
}

TEST(DescribeMachine, ReadsThisMachine) {
  const MachineInfo m = describe_machine();
  EXPECT_FALSE(m.cpu_model.empty());
  EXPECT_GT(m.logical_cpus, 0U);
  EXPECT_GT(m.memory_bytes, 0U);
  EXPECT_EQ(m.kernel.rfind("Linux ", 0), 0U) << m.kernel;
  EXPECT_GT(m.clock_ticks_per_second, 0);
  // The versions are the server's, filled in from GET /v1/info.
  EXPECT_TRUE(m.wasmtime_version.empty());
  EXPECT_TRUE(m.docker_version.empty());
}

}  // namespace
}  // namespace nebula::bench
