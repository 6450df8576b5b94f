#include "bench/energy_model.hpp"

#include <gtest/gtest.h>

namespace nebula::bench {
namespace {

TEST(PowerModel, DefaultsAreTheCloudCarbonFootprintAwsAverages) {
  const PowerModel model;
  EXPECT_DOUBLE_EQ(model.idle_w, 0.74);
  EXPECT_DOUBLE_EQ(model.max_w, 3.5);
}

// P = n × P_idle + (P_max − P_idle) × busy cores.
TEST(PowerModel, WattsGrowLinearlyWithBusyCores) {
  const PowerModel model;
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, 0), 1.48);
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, 0.5), 1.48 + 2.76 * 0.5);
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, 1), 4.24);
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, 2), 7.0);  // every vCPU at P_max
  EXPECT_DOUBLE_EQ(estimated_watts({1, 5}, 8, 3), 8 + 4 * 3);
}

TEST(PowerModel, BusyCoresAreClampedToTheMachine) {
  const PowerModel model;
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, 5), 7.0);
  EXPECT_DOUBLE_EQ(estimated_watts(model, 2, -1), 1.48);
}

// (P_max − P_idle) × CPU time: 2.76 W for 3600 µs is 9936 µJ, 2.76 µWh.
TEST(PowerModel, MarginalEnergyPerCallFromItsCpuTime) {
  const PowerModel model;
  EXPECT_DOUBLE_EQ(estimated_marginal_uwh(model, 3600), 2.76);
  EXPECT_NEAR(estimated_marginal_uwh(model, 520), 2.76 * 520 / 3600, 1e-12);
  EXPECT_DOUBLE_EQ(estimated_marginal_uwh(model, 0), 0);
  EXPECT_DOUBLE_EQ(estimated_marginal_uwh(model, -50), 0);  // below idle costs nothing
  EXPECT_DOUBLE_EQ(uj_to_uwh(7200), 2);
}

TEST(PowerModel, ParsesIdleAndMaxWatts) {
  auto model = parse_power_model("0.74,3.5");
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_DOUBLE_EQ(model->idle_w, 0.74);
  EXPECT_DOUBLE_EQ(model->max_w, 3.5);
  auto spaced = parse_power_model(" 1.2 , 4 ");
  ASSERT_TRUE(spaced) << spaced.error().message;
  EXPECT_DOUBLE_EQ(spaced->idle_w, 1.2);
  EXPECT_DOUBLE_EQ(spaced->max_w, 4);
}

TEST(PowerModel, RefusesAModelThatIsNotTwoPositiveIncreasingNumbers) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "separated by one comma"},
      {"3.5", "separated by one comma"},
      {"1,2,3", "separated by one comma"},
      {"a,b", "must be numbers"},
      {"1,", "must be numbers"},
      {"1,2W", "must be numbers"},
      {"nan,2", "must be numbers"},
      {"1,inf", "must be numbers"},
      {"0,3", "positive"},
      {"-1,3", "positive"},
      {"3,1", "larger than the idle"},
      {"2,2", "larger than the idle"},
  };
  for (const auto& [text, why] : bad) {
    auto model = parse_power_model(text);
    ASSERT_FALSE(model) << text;
    EXPECT_NE(model.error().message.find("--power-model expects IDLE_W,MAX_W"), std::string::npos)
        << model.error().message;
    EXPECT_NE(model.error().message.find(why), std::string::npos) << model.error().message;
    EXPECT_EQ(model.error().kind, ErrorKind::kInvalidArgument);
  }
}

TEST(PowerModel, TheEstimateIsLabelledAsOne) {
  EXPECT_EQ(kEstimateMethod, "estimate: linear CPU-utilisation model");
  EXPECT_EQ(kMeasuredMethod, "measured (RAPL)");
}

}  // namespace
}  // namespace nebula::bench
