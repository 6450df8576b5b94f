#include "metrics/process.hpp"

#include <chrono>
#include <ctime>
#include <vector>

#include <gtest/gtest.h>

namespace nebula::metrics {
namespace {

// Burns `ms` of this thread's CPU time (not wall time: on a busy machine a
// wall-clock spin may get almost none).
std::uint64_t burn(int ms) {
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  const auto until = cpu_now() + std::chrono::milliseconds(ms);
  volatile std::uint64_t x = 0;
  while (cpu_now() < until) x = x + 1;
  return x;
}

TEST(MetricsProcessStats, ReportsPlausibleNumbers) {
  // Touch some memory so that the resident size is clearly non-zero.
  std::vector<char> block(8 << 20, 1);
  burn(30);
  auto stats = process_stats();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GT(stats->resident_bytes, 8U << 20);
  EXPECT_LT(stats->resident_bytes, 64ULL << 30);
  EXPECT_GE(stats->virtual_bytes, stats->resident_bytes);
  EXPECT_GT(stats->user_cpu_us + stats->system_cpu_us, 0U);
  EXPECT_GT(stats->cpu_seconds(), 0.0);
  EXPECT_EQ(block[block.size() - 1], 1);
}

TEST(MetricsThreadCpu, AdvancesWhileTheThreadWorks) {
  const std::uint64_t before = thread_cpu_us();
  burn(20);
  const std::uint64_t spent = thread_cpu_us() - before;
  // The thread ran for ~20 ms of wall time; on a loaded machine it may have
  // had less of the CPU, but never none and never more than the wall time
  // plus a margin.
  EXPECT_GT(spent, 1'000U);
  EXPECT_LT(spent, 2'000'000U);
}

TEST(MetricsSystemCpu, ReadsTheCpuLine) {
  auto a = system_cpu_jiffies();
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_GT(a->total(), 0U);
  EXPECT_LE(a->busy(), a->total());
  burn(30);
  auto b = system_cpu_jiffies();
  ASSERT_TRUE(b);
  // Counters only grow.
  EXPECT_GE(b->total(), a->total());
  EXPECT_GE(b->busy(), a->busy());
  EXPECT_GT(clock_ticks_per_second(), 0);
}

}  // namespace
}  // namespace nebula::metrics
