#include "http/target.hpp"

#include <gtest/gtest.h>

namespace nebula::http {
namespace {

TEST(Target, SplitsPathAndQuery) {
  auto t = parse_target("/v1/functions/fib/invoke?runtime=docker&x=1");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.segments, (std::vector<std::string>{"v1", "functions", "fib", "invoke"}));
  EXPECT_EQ(t.query, "runtime=docker&x=1");
}

TEST(Target, TrailingSlashAddsNoSegment) {
  auto t = parse_target("/v1/functions/");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.segments, (std::vector<std::string>{"v1", "functions"}));
}

TEST(Target, DecodesPercentEscapesWithinASegment) {
  auto t = parse_target("/v1/functions/a%2Fb");
  ASSERT_TRUE(t.ok);
  ASSERT_EQ(t.segments.size(), 3U);
  EXPECT_EQ(t.segments[2], "a/b");  // stays one segment: fails name validation later
}

TEST(Target, RejectsWhatIsNotOriginForm) {
  EXPECT_FALSE(parse_target("http://example.com/v1").ok);
  EXPECT_FALSE(parse_target("v1/functions").ok);
  EXPECT_FALSE(parse_target("/bad path").ok);
}

TEST(Query, DecodesAndLastValueWins) {
  auto q = parse_query("function=fib&limit=5&limit=7&note=a%20b");
  EXPECT_EQ(q["function"], "fib");
  EXPECT_EQ(q["limit"], "7");
  EXPECT_EQ(q["note"], "a b");
  EXPECT_TRUE(parse_query("").empty());
}

}  // namespace
}  // namespace nebula::http
