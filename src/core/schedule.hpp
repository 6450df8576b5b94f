#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nebula {

// A parsed schedule: a standard five-field cron expression (minute hour
// day-of-month month day-of-week, evaluated in UTC) or "@every <duration>".
//
// Cron fields accept numbers, '*', ranges a-b, steps */n, a-b/n and a/n
// (a/n means a-<field max>/n), and comma lists of those. Month names
// jan-dec and day names sun-sat are accepted in their fields, in any case.
// Day-of-week takes 0-7, where both 0 and 7 are Sunday. Ranges do not wrap
// ("fri-mon" is an error: write "fri-sat,sun,mon" or "0,1,5-7").
//
// Macros: @yearly and @annually ("0 0 1 1 *"), @monthly ("0 0 1 * *"),
// @weekly ("0 0 * * 0"), @daily and @midnight ("0 0 * * *"), @hourly
// ("0 * * * *"), and "@every <duration>" where the duration is hours,
// minutes and seconds in that order, each at most once ("30s", "5m",
// "1h30m", "90s"), between 1s and 24h. Longer periods are what cron
// expressions are for.
//
// The day rule is cron's (Vixie cron, cronie, Kubernetes): when both
// day-of-month and day-of-week are restricted, a day matches if EITHER
// matches ("0 0 13 * fri" fires on every 13th and every Friday). A field
// that starts with '*' ('*' or '*/n') does not count as restricted, so
// "0 0 */2 * mon" fires on odd-numbered days that are Mondays.
//
// An expression that can never fire ("0 0 31 2 *", "0 0 30,31 2 *") is
// rejected by parse, so next_after always has an answer.
class Schedule {
 public:
  // The bounds of "@every", in microseconds.
  static constexpr std::int64_t kMinEveryUs = 1'000'000;                // 1s
  static constexpr std::int64_t kMaxEveryUs = 24LL * 3600 * 1'000'000;  // 24h
  // The longest schedule text accepted (a manifest field).
  static constexpr std::size_t kMaxTextBytes = 256;

  // kInvalidArgument saying what is wrong and what is expected, such as
  // "minute field '61' is out of range 0-59".
  [[nodiscard]] static Result<Schedule> parse(std::string_view text);

  // The first due time strictly after `after_us` (unix microseconds, UTC).
  // Cron times fall on whole minutes; "@every D" due times are the
  // multiples of D since the unix epoch, so every node computes the same
  // ones. INT64_MAX when there is none to give: a cron time past the year
  // 9999, an "@every" one past what int64 holds.
  [[nodiscard]] std::int64_t next_after(std::int64_t after_us) const;

  // The latest due time at or before `at_us`, or nullopt when there is
  // none in the preceding five years (or, for cron, `at_us` lies before
  // the year 1).
  [[nodiscard]] std::optional<std::int64_t> last_at_or_before(std::int64_t at_us) const;

  // The text parsed, as given.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  // "@every": the period in microseconds; 0 for a cron expression.
  [[nodiscard]] std::int64_t every_us() const noexcept { return every_us_; }

 private:
  Schedule() = default;

  [[nodiscard]] bool day_matches(unsigned day_of_month, unsigned month,
                                 unsigned weekday) const noexcept;

  std::string text_;
  std::int64_t every_us_ = 0;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0-6, Sunday is 0
  bool days_star_ = false;   // day-of-month started with '*'
  bool weekdays_star_ = false;
};

}  // namespace nebula
