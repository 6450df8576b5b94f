#include "http/auth_throttle.hpp"

#include <gtest/gtest.h>

namespace nebula::http {
namespace {

using std::chrono::seconds;
namespace ip = boost::asio::ip;

class AuthThrottleTest : public ::testing::Test {
 protected:
  AuthThrottle throttle_{AuthThrottleOptions{.max_failures = 3, .window = seconds(60),
                                             .max_addresses = 100}};
  AuthThrottle::Clock::time_point t0_ = AuthThrottle::Clock::now();
  ip::address a_ = ip::make_address("192.0.2.1");
  ip::address b_ = ip::make_address("192.0.2.2");
};

TEST_F(AuthThrottleTest, LocksAnAddressOutAfterTooManyFailuresInTheWindow) {
  EXPECT_FALSE(throttle_.record_failure(a_, t0_));
  EXPECT_FALSE(throttle_.record_failure(a_, t0_ + seconds(1)));
  EXPECT_FALSE(throttle_.locked_out(a_, t0_ + seconds(2)));
  EXPECT_TRUE(throttle_.record_failure(a_, t0_ + seconds(2)));
  auto wait = throttle_.locked_out(a_, t0_ + seconds(2));
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, seconds(60));
  EXPECT_EQ(throttle_.locked_out(a_, t0_ + seconds(31)), seconds(31));
  // Other addresses are not affected.
  EXPECT_FALSE(throttle_.locked_out(b_, t0_ + seconds(2)));
}

TEST_F(AuthThrottleTest, TheLockOutEndsWhenItsWindowHasPassed) {
  for (int i = 0; i < 3; ++i) (void)throttle_.record_failure(a_, t0_);
  ASSERT_TRUE(throttle_.locked_out(a_, t0_ + seconds(59)));
  EXPECT_EQ(throttle_.locked_out(a_, t0_ + std::chrono::milliseconds(59'500)), seconds(1));
  EXPECT_FALSE(throttle_.locked_out(a_, t0_ + seconds(60)));
  // And the count starts again: one more failure does not lock it.
  EXPECT_FALSE(throttle_.record_failure(a_, t0_ + seconds(61)));
  EXPECT_FALSE(throttle_.locked_out(a_, t0_ + seconds(61)));
}

TEST_F(AuthThrottleTest, FailuresSpreadBeyondTheWindowDoNotAddUp) {
  EXPECT_FALSE(throttle_.record_failure(a_, t0_));
  EXPECT_FALSE(throttle_.record_failure(a_, t0_ + seconds(30)));
  EXPECT_FALSE(throttle_.record_failure(a_, t0_ + seconds(61)));  // a new window
  EXPECT_FALSE(throttle_.record_failure(a_, t0_ + seconds(62)));
  EXPECT_FALSE(throttle_.locked_out(a_, t0_ + seconds(62)));
}

TEST_F(AuthThrottleTest, AMappedIpv6AddressIsItsIpv4Address) {
  const auto mapped = ip::make_address("::ffff:192.0.2.1");
  for (int i = 0; i < 3; ++i) (void)throttle_.record_failure(mapped, t0_);
  EXPECT_TRUE(throttle_.locked_out(a_, t0_));
}

TEST_F(AuthThrottleTest, TheTableStaysWithinItsBound) {
  for (unsigned i = 0; i < 1000; ++i) {
    const auto address = ip::make_address_v4(0x0A000000U + i);  // 10.0.x.y
    (void)throttle_.record_failure(address, t0_);
  }
  EXPECT_EQ(throttle_.tracked(), 100U);
  // The most recent ones are kept: the last address still counts.
  const auto last = ip::make_address_v4(0x0A000000U + 999);
  (void)throttle_.record_failure(last, t0_);
  EXPECT_TRUE(throttle_.record_failure(last, t0_));
}

TEST_F(AuthThrottleTest, ForgottenOnceNothingIsLeftToRemember) {
  (void)throttle_.record_failure(a_, t0_);
  EXPECT_EQ(throttle_.tracked(), 1U);
  EXPECT_FALSE(throttle_.locked_out(a_, t0_ + seconds(61)));
  EXPECT_EQ(throttle_.tracked(), 0U);
}

}  // namespace
}  // namespace nebula::http
