#include "core/schedule.hpp"

#include <chrono>
#include <cstdio>
#include <limits>

#include <gtest/gtest.h>

namespace nebula {
namespace {

namespace chr = std::chrono;

// "YYYY-MM-DD HH:MM[:SS[.ffffff]]" (UTC) to unix microseconds and back, so
// that the expectations below read as times.
std::int64_t at(const std::string& text) {
  int y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  int h = 0;
  int mi = 0;
  int s = 0;
  int us = 0;
  int n = std::sscanf(text.c_str(), "%d-%u-%u %d:%d:%d.%d", &y, &mo, &d, &h, &mi, &s, &us);
  EXPECT_GE(n, 5) << text;
  auto days = chr::sys_days{chr::year{y} / chr::month{mo} / chr::day{d}}.time_since_epoch().count();
  return (((static_cast<std::int64_t>(days) * 24 + h) * 60 + mi) * 60 + s) * 1'000'000 + us;
}

std::string show(std::int64_t us) {
  if (us == std::numeric_limits<std::int64_t>::max()) return "never";
  auto tp = chr::sys_time<chr::microseconds>{chr::microseconds{us}};
  auto day = chr::floor<chr::days>(tp);
  chr::year_month_day ymd{day};
  chr::hh_mm_ss hms{tp - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  std::string out = buf;
  if (auto frac = hms.subseconds().count(); frac != 0) {
    out += '.';
    out += std::to_string(frac);
  }
  return out;
}

Schedule must_parse(std::string_view text) {
  auto s = Schedule::parse(text);
  EXPECT_TRUE(s) << text << ": " << s.error().message;
  if (!s) std::abort();
  return std::move(s).value();
}

TEST(ScheduleHelpers, RoundTrip) {
  EXPECT_EQ(at("1970-01-01 00:00"), 0);
  EXPECT_EQ(show(at("2024-02-29 23:59:59")), "2024-02-29 23:59:59");
  EXPECT_EQ(show(at("1969-12-31 23:59:00")), "1969-12-31 23:59:00");
}

struct NextCase {
  const char* expression;
  const char* after;
  const char* expected;
};

class ScheduleNext : public ::testing::TestWithParam<NextCase> {};

TEST_P(ScheduleNext, FindsTheNextDueTime) {
  const auto& c = GetParam();
  auto s = must_parse(c.expression);
  EXPECT_EQ(show(s.next_after(at(c.after))), c.expected) << c.expression << " after " << c.after;
}

INSTANTIATE_TEST_SUITE_P(
    Cron, ScheduleNext,
    ::testing::Values(
        // Strictly after: a time on the schedule is not its own next.
        NextCase{"*/5 * * * *", "2024-01-01 00:00", "2024-01-01 00:05:00"},
        NextCase{"*/5 * * * *", "2024-01-01 00:04:59.999999", "2024-01-01 00:05:00"},
        NextCase{"*/5 * * * *", "2024-01-01 00:05:00.000001", "2024-01-01 00:10:00"},
        NextCase{"* * * * *", "2024-01-01 00:00:30", "2024-01-01 00:01:00"},
        // Hour, day, month and year rollovers.
        NextCase{"0 * * * *", "2024-12-31 23:30", "2025-01-01 00:00:00"},
        NextCase{"30 2 * * *", "2024-01-31 03:00", "2024-02-01 02:30:00"},
        NextCase{"0 0 1 * *", "2024-01-31 12:00", "2024-02-01 00:00:00"},
        NextCase{"0 0 31 * *", "2024-04-01 00:00", "2024-05-31 00:00:00"},
        NextCase{"0 0 31 12 *", "2024-12-31 00:00", "2025-12-31 00:00:00"},
        NextCase{"59 23 31 12 *", "2024-12-31 23:59", "2025-12-31 23:59:00"},
        // February 29th: leap years only, and 2100 is not one.
        NextCase{"0 0 29 2 *", "2023-06-01 00:00", "2024-02-29 00:00:00"},
        NextCase{"0 0 29 2 *", "2024-03-01 00:00", "2028-02-29 00:00:00"},
        NextCase{"0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00:00"},
        // Both days restricted: either matches (2024-09-01 is a Sunday).
        NextCase{"0 0 10 * 5", "2024-09-01 00:00", "2024-09-06 00:00:00"},
        NextCase{"0 0 10 * 5", "2024-09-06 00:00", "2024-09-10 00:00:00"},
        NextCase{"0 0 10 * fri", "2024-09-10 00:00", "2024-09-13 00:00:00"},
        // Day-of-month given as '*/n' is not restricted: both must match
        // (odd days that are Mondays; the Mondays are the 2nd, 9th, 16th…).
        NextCase{"0 0 */2 * 1", "2024-09-01 00:00", "2024-09-09 00:00:00"},
        NextCase{"0 0 */2 * 1", "2024-09-09 00:00", "2024-09-23 00:00:00"},
        // Day-of-week only.
        NextCase{"0 0 * * 1-5", "2024-09-06 12:00", "2024-09-09 00:00:00"},
        NextCase{"0 12 * * 0", "2024-09-02 00:00", "2024-09-08 12:00:00"},
        NextCase{"0 12 * * 7", "2024-09-02 00:00", "2024-09-08 12:00:00"},
        NextCase{"0 12 * * sun", "2024-09-02 00:00", "2024-09-08 12:00:00"},
        NextCase{"0 12 * * 5-7", "2024-09-07 13:00", "2024-09-08 12:00:00"},
        NextCase{"0 9 * * MON-fri", "2024-09-07 10:00", "2024-09-09 09:00:00"},
        // Lists, ranges and steps.
        NextCase{"15,45 9,17 * * *", "2024-09-01 09:20", "2024-09-01 09:45:00"},
        NextCase{"15,45 9,17 * * *", "2024-09-01 09:45", "2024-09-01 17:15:00"},
        NextCase{"15,45 9,17 * * *", "2024-09-01 17:45", "2024-09-02 09:15:00"},
        NextCase{"10-30/10 * * * *", "2024-09-01 00:30", "2024-09-01 01:10:00"},
        NextCase{"5/20 * * * *", "2024-09-01 00:45", "2024-09-01 01:05:00"},
        NextCase{"0 0-23/6 * * *", "2024-09-01 18:00", "2024-09-02 00:00:00"},
        NextCase{"0 0 1 jan,JUL *", "2024-02-01 00:00", "2024-07-01 00:00:00"},
        NextCase{"0 0 1 */3 *", "2024-02-01 00:00", "2024-04-01 00:00:00"},
        // Before the epoch.
        NextCase{"0 0 1 1 *", "1969-06-01 00:00", "1970-01-01 00:00:00"},
        // Macros.
        NextCase{"@hourly", "2024-09-01 10:00", "2024-09-01 11:00:00"},
        NextCase{"@daily", "2024-02-28 10:00", "2024-02-29 00:00:00"},
        NextCase{"@midnight", "2024-02-28 10:00", "2024-02-29 00:00:00"},
        NextCase{"@weekly", "2024-09-02 00:00", "2024-09-08 00:00:00"},
        NextCase{"@monthly", "2024-12-15 00:00", "2025-01-01 00:00:00"},
        NextCase{"@yearly", "2024-01-01 00:00", "2025-01-01 00:00:00"},
        NextCase{"@ANNUALLY", "2024-06-01 00:00", "2025-01-01 00:00:00"},
        NextCase{"  0 0 * * *  ", "2024-06-01 00:00", "2024-06-02 00:00:00"}));

INSTANTIATE_TEST_SUITE_P(
    Every, ScheduleNext,
    ::testing::Values(NextCase{"@every 30s", "1970-01-01 00:00", "1970-01-01 00:00:30"},
                      NextCase{"@every 30s", "1970-01-01 00:00:29.999999", "1970-01-01 00:00:30"},
                      NextCase{"@every 30s", "1970-01-01 00:00:30", "1970-01-01 00:01:00"},
                      NextCase{"@every 30s", "1969-12-31 23:59:59.999999", "1970-01-01 00:00:00"},
                      NextCase{"@every 1h30m", "2024-01-01 00:00", "2024-01-01 01:30:00"},
                      // Multiples of 7 minutes since the epoch, not since "now".
                      NextCase{"@every 7m", "2024-01-01 00:00", "2024-01-01 00:01:00"},
                      NextCase{"@every 90s", "2024-01-01 00:00:45", "2024-01-01 00:01:30"},
                      NextCase{"@every 24h", "2024-01-01 05:00", "2024-01-02 00:00:00"},
                      NextCase{"@every 1s", "2024-01-01 05:00:00.5", "2024-01-01 05:00:01"},
                      NextCase{"@EVERY 2H", "2024-01-01 05:00", "2024-01-01 06:00:00"}));

TEST(Schedule, KeepsItsText) {
  EXPECT_EQ(must_parse("*/5 * * * *").text(), "*/5 * * * *");
  EXPECT_EQ(must_parse("@every 30s").text(), "@every 30s");
  EXPECT_EQ(must_parse("@every 1h30m").every_us(), 5400LL * 1'000'000);
  EXPECT_EQ(must_parse("@daily").every_us(), 0);
}

TEST(Schedule, BothDaysRestrictedMayNameImpossibleDates) {
  // 31 February never comes, but Mondays in February do.
  auto s = must_parse("0 0 31 2 mon");
  EXPECT_EQ(show(s.next_after(at("2024-01-01 00:00"))), "2024-02-05 00:00:00");
}

TEST(Schedule, LastAtOrBefore) {
  auto five = must_parse("*/5 * * * *");
  EXPECT_EQ(show(*five.last_at_or_before(at("2024-01-01 00:07:30"))), "2024-01-01 00:05:00");
  EXPECT_EQ(show(*five.last_at_or_before(at("2024-01-01 00:05"))), "2024-01-01 00:05:00");
  EXPECT_EQ(show(*five.last_at_or_before(at("2024-01-01 00:04:59.999999"))), "2024-01-01 00:00:00");
  EXPECT_EQ(show(*five.last_at_or_before(at("2024-01-01 00:00"))), "2024-01-01 00:00:00");

  auto leap = must_parse("0 0 29 2 *");
  EXPECT_EQ(show(*leap.last_at_or_before(at("2027-01-01 00:00"))), "2024-02-29 00:00:00");
  EXPECT_EQ(show(*leap.last_at_or_before(at("2024-02-29 00:00"))), "2024-02-29 00:00:00");
  // 2096-02-29 is eight years before: beyond the five looked at.
  EXPECT_FALSE(leap.last_at_or_before(at("2104-01-01 00:00")));

  EXPECT_EQ(show(*must_parse("0 0 31 * *").last_at_or_before(at("2024-05-01 00:00"))),
            "2024-03-31 00:00:00");
  EXPECT_EQ(show(*must_parse("0 0 1 * *").last_at_or_before(at("2024-03-15 00:00"))),
            "2024-03-01 00:00:00");
  EXPECT_EQ(show(*must_parse("@weekly").last_at_or_before(at("2024-09-07 23:00"))),
            "2024-09-01 00:00:00");
  EXPECT_EQ(show(*must_parse("0 0 1 1 *").last_at_or_before(at("2024-01-01 00:00"))),
            "2024-01-01 00:00:00");
  EXPECT_EQ(show(*must_parse("0 0 1 1 *").last_at_or_before(at("2023-12-31 23:59"))),
            "2023-01-01 00:00:00");
  EXPECT_EQ(show(*must_parse("15,45 9,17 * * *").last_at_or_before(at("2024-09-02 09:00"))),
            "2024-09-01 17:45:00");

  auto every = must_parse("@every 30s");
  EXPECT_EQ(show(*every.last_at_or_before(at("2024-01-01 00:00:45"))), "2024-01-01 00:00:30");
  EXPECT_EQ(show(*every.last_at_or_before(at("2024-01-01 00:00:30"))), "2024-01-01 00:00:30");
  EXPECT_EQ(show(*every.last_at_or_before(at("1969-12-31 23:59:45"))), "1969-12-31 23:59:30");
}

// next_after and last_at_or_before agree: the next due time is its own
// last, and nothing is due between a time and its next.
TEST(Schedule, NextAndLastAgree) {
  for (const char* text : {"*/5 * * * *", "0 0 29 2 *", "0 0 10 * 5", "0 0 */2 * 1", "@weekly",
                           "15,45 9,17 * * 1-5", "@every 7m", "@every 1h30m", "0 0 31 * *"}) {
    auto s = must_parse(text);
    std::int64_t t = at("2023-11-17 13:41:07.25");
    for (int i = 0; i < 50; ++i) {
      std::int64_t next = s.next_after(t);
      ASSERT_GT(next, t) << text;
      ASSERT_EQ(s.last_at_or_before(next), next) << text << " " << show(next);
      auto before = s.last_at_or_before(next - 1);
      if (before) {
        ASSERT_LE(*before, t) << text << " " << show(next);
      }
      t = next + (i % 3 == 0 ? 0 : 1);
    }
  }
}

TEST(Schedule, FarEndsDoNotOverflow) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(must_parse("0 0 1 1 *").next_after(kMax - 1), kMax);
  EXPECT_EQ(must_parse("@every 24h").next_after(kMax - 1), kMax);
  EXPECT_GT(must_parse("* * * * *").next_after(kMin), kMin);
  EXPECT_FALSE(must_parse("* * * * *").last_at_or_before(kMin));
  EXPECT_FALSE(must_parse("@every 1s").last_at_or_before(kMin));
  EXPECT_TRUE(must_parse("* * * * *").last_at_or_before(kMax));
}

TEST(Schedule, NextAfterIsCheap) {
  // The slowest shapes: a date that comes every four (here eight) years,
  // and both day fields restricted to something rare.
  auto leap = must_parse("0 0 29 2 *");
  auto rare = must_parse("0 0 */31 2 1");  // 1 February when it is a Monday
  const auto start = chr::steady_clock::now();
  constexpr int kRounds = 200;
  std::int64_t t = at("2096-03-01 00:00");
  for (int i = 0; i < kRounds; ++i) {
    t += leap.next_after(t + i) % 7;
    t += rare.next_after(t + i) % 7;
  }
  const auto per_call = (chr::steady_clock::now() - start) / (2 * kRounds);
  EXPECT_LT(per_call, chr::microseconds{500});
  EXPECT_EQ(show(rare.next_after(at("2024-01-01 00:00"))), "2027-02-01 00:00:00");
}

struct BadSchedule {
  const char* text;
  const char* message;  // the whole message, or a part of it
};

class ScheduleErrors : public ::testing::TestWithParam<BadSchedule> {};

TEST_P(ScheduleErrors, SayWhatIsWrong) {
  auto s = Schedule::parse(GetParam().text);
  ASSERT_FALSE(s) << GetParam().text;
  EXPECT_EQ(s.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(s.error().message.find(GetParam().message), std::string::npos)
      << "got: " << s.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    All, ScheduleErrors,
    ::testing::Values(
        BadSchedule{"* * *",
                    "expected 5 fields (minute hour day-of-month month day-of-week) or a macro "
                    "such as @hourly or @every 30s, got 3"},
        BadSchedule{"", "got 0"}, BadSchedule{"* * * * * *", "got 6"},
        BadSchedule{"61 * * * *", "minute field '61' is out of range 0-59"},
        BadSchedule{"0-61 * * * *", "minute field '61' is out of range 0-59"},
        BadSchedule{"99999999999 * * * *", "minute field '99999999999' is out of range 0-59"},
        BadSchedule{"* 24 * * *", "hour field '24' is out of range 0-23"},
        BadSchedule{"* * 0 * *", "day-of-month field '0' is out of range 1-31"},
        BadSchedule{"* * 32 * *", "day-of-month field '32' is out of range 1-31"},
        BadSchedule{"* * * 13 *", "month field '13' is out of range 1-12"},
        BadSchedule{"* * * * 8", "day-of-week field '8' is out of range 0-7"},
        BadSchedule{"x * * * *", "minute field 'x' is not a number"},
        BadSchedule{"* * * foo *", "month field 'foo' is not a number or a month name (jan-dec)"},
        BadSchedule{"* * * * funday",
                    "day-of-week field 'funday' is not a number or a day name (sun-sat)"},
        BadSchedule{"* * * * ?", "day-of-week field '?' is not a number"},
        BadSchedule{"* * jan * *", "day-of-month field 'jan' is not a number"},
        BadSchedule{"1,,2 * * * *", "minute field '1,,2' has an empty list item"},
        BadSchedule{"1, * * * *", "has an empty list item"},
        BadSchedule{"*/0 * * * *",
                    "minute field '*/0' has an invalid step: expected a number from 1 to 60 "
                    "after '/'"},
        BadSchedule{"*/ * * * *", "has an invalid step"},
        BadSchedule{"* */25 * * *", "expected a number from 1 to 24"},
        BadSchedule{"30-10 * * * *", "minute field range '30-10' is backwards"},
        BadSchedule{"* * * * fri-mon", "day-of-week field range 'fri-mon' is backwards"},
        BadSchedule{"0 0 31 2 *", "can never fire"}, BadSchedule{"0 0 30,31 2 *", "can never fire"},
        BadSchedule{"0 0 31 apr,jun,sep,nov *", "can never fire"},
        BadSchedule{"@fortnightly", "unknown macro '@fortnightly': expected @yearly"},
        BadSchedule{"@daily 5", "macro '@daily' takes nothing after it"},
        BadSchedule{"@every", "@every needs one duration such as 30s, 5m or 1h30m"},
        BadSchedule{"@every 1h 30m", "@every needs one duration"},
        BadSchedule{"@every 500ms", "@every duration '500ms' is invalid: expected numbers"},
        BadSchedule{"@every 10", "@every duration '10' is invalid"},
        BadSchedule{"@every 30m1h", "@every duration '30m1h' is invalid"},
        BadSchedule{"@every 1m1m", "@every duration '1m1m' is invalid"},
        BadSchedule{"@every 1d", "@every duration '1d' is invalid"},
        BadSchedule{"@every 0s", "@every duration '0s' is out of range: expected 1s to 24h"},
        BadSchedule{"@every 24h1s", "is out of range: expected 1s to 24h"},
        BadSchedule{"@every 999999999h", "is out of range"}));

TEST(ScheduleErrors, TooLong) {
  auto s = Schedule::parse(std::string(300, '1'));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "schedule is longer than 256 characters");
}

TEST(ScheduleErrors, LongTokensAreCutInMessages) {
  auto s = Schedule::parse(std::string(100, 'x') + " * * * *");
  ASSERT_FALSE(s);
  EXPECT_LT(s.error().message.size(), 120U) << s.error().message;
}

}  // namespace
}  // namespace nebula
