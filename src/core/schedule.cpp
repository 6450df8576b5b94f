#include "core/schedule.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <vector>

namespace nebula {
namespace {

namespace chr = std::chrono;

constexpr std::int64_t kUsPerMinute = 60'000'000;
constexpr std::int64_t kMinutesPerDay = 24 * 60;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// How far back last_at_or_before looks: five years and a day.
constexpr std::int64_t kLookBackDays = 5 * 366 + 1;

// The calendar's ends: the years std::chrono::year represents comfortably
// and anyone will schedule in. Times outside [0001-01-01, 10000-01-01) are
// clamped or answered with "never" instead of overflowing.
constexpr std::int64_t kFirstDay =
    chr::sys_days{chr::year{1} / chr::January / 1}.time_since_epoch().count();
constexpr std::int64_t kEndDay =
    chr::sys_days{chr::year{10000} / chr::January / 1}.time_since_epoch().count();
constexpr std::int64_t kFirstUs = kFirstDay * kMinutesPerDay * kUsPerMinute;
constexpr std::int64_t kEndUs = kEndDay * kMinutesPerDay * kUsPerMinute;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

Error invalid(std::string message) {
  return make_error(ErrorKind::kInvalidArgument, std::move(message));
}

// Quoted in messages; cut so that a pasted novel does not come back whole.
std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  out += text.substr(0, kMax);
  out += text.size() <= kMax ? "'" : "...'";
  return out;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

// A run of at most 9 decimal digits (more cannot be meant and would
// overflow); nullopt for anything else.
std::optional<int> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

struct FieldSpec {
  const char* name;
  int min;
  int max;                                  // the largest value written (7 for day-of-week)
  int star_max;                             // what '*' and 'a/n' run up to (6 for day-of-week)
  const std::string_view* names = nullptr;  // names[i] means names_base + i
  std::size_t name_count = 0;
  int names_base = 0;
  const char* names_hint = "";
};

constexpr FieldSpec kMinuteField{"minute", 0, 59, 59};
constexpr FieldSpec kHourField{"hour", 0, 23, 23};
constexpr FieldSpec kDayField{"day-of-month", 1, 31, 31};
constexpr FieldSpec kMonthField{
    "month", 1, 12, 12, kMonthNames.data(), kMonthNames.size(), 1, " or a month name (jan-dec)"};
constexpr FieldSpec kWeekdayField{
    "day-of-week", 0, 7, 6, kDayNames.data(), kDayNames.size(), 0, " or a day name (sun-sat)"};

Result<int> parse_value(std::string_view token, const FieldSpec& spec) {
  if (auto n = parse_number(token)) {
    if (*n < spec.min || *n > spec.max) {
      return invalid(std::string(spec.name) + " field " + quote(token) + " is out of range " +
                     std::to_string(spec.min) + "-" + std::to_string(spec.max));
    }
    return *n;
  }
  for (std::size_t i = 0; i < spec.name_count; ++i) {
    if (iequals(token, spec.names[i])) return spec.names_base + static_cast<int>(i);
  }
  bool digits_only = !token.empty();
  for (char c : token) digits_only = digits_only && c >= '0' && c <= '9';
  if (digits_only) {  // too many digits to be a number we read
    return invalid(std::string(spec.name) + " field " + quote(token) + " is out of range " +
                   std::to_string(spec.min) + "-" + std::to_string(spec.max));
  }
  return invalid(std::string(spec.name) + " field " + quote(token) + " is not a number" +
                 spec.names_hint);
}

struct ParsedField {
  std::uint64_t bits = 0;
  bool star = false;  // the field starts with '*' (cron's day rule)
};

// One field: a comma list of '*', a, a-b, each optionally followed by /n.
Result<ParsedField> parse_field(std::string_view text, const FieldSpec& spec) {
  ParsedField out;
  out.star = !text.empty() && text[0] == '*';
  const int span = spec.star_max - spec.min + 1;
  std::size_t pos = 0;
  while (true) {
    std::size_t comma = text.find(',', pos);
    std::string_view item =
        text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (item.empty()) {
      return invalid(std::string(spec.name) + " field " + quote(text) +
                     " has an empty list item: expected values separated by single commas");
    }
    std::size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    int lo = 0;
    int hi = 0;
    if (range == "*") {
      lo = spec.min;
      hi = spec.star_max;
    } else if (std::size_t dash = range.find('-'); dash != std::string_view::npos) {
      auto a = parse_value(range.substr(0, dash), spec);
      if (!a) return std::move(a).error();
      auto b = parse_value(range.substr(dash + 1), spec);
      if (!b) return std::move(b).error();
      if (*a > *b) {
        return invalid(std::string(spec.name) + " field range " + quote(range) +
                       " is backwards: ranges do not wrap around, the start must not exceed "
                       "the end");
      }
      lo = *a;
      hi = *b;
    } else {
      auto a = parse_value(range, spec);
      if (!a) return std::move(a).error();
      lo = *a;
      // "a/n" runs from a to the end of the field, as in cronie.
      hi = slash == std::string_view::npos ? *a : std::max(*a, spec.star_max);
    }
    int step = 1;
    if (slash != std::string_view::npos) {
      auto n = parse_number(item.substr(slash + 1));
      if (!n || *n < 1 || *n > span) {
        return invalid(std::string(spec.name) + " field " + quote(item) +
                       " has an invalid step: expected a number from 1 to " + std::to_string(span) +
                       " after '/'");
      }
      step = *n;
    }
    for (int v = lo; v <= hi; v += step) out.bits |= std::uint64_t{1} << v;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

// "1h30m", "90s": hours, minutes and seconds in that order, each at most
// once; microseconds, or an error naming the accepted shape and bounds.
Result<std::int64_t> parse_every(std::string_view text) {
  auto shape_error = [&] {
    return invalid("@every duration " + quote(text) +
                   " is invalid: expected numbers followed by h, m or s, in that order and "
                   "each at most once (e.g. 30s, 5m, 1h30m)");
  };
  constexpr std::string_view kUnits = "hms";
  constexpr std::array<std::int64_t, 3> kSeconds = {3600, 60, 1};
  std::int64_t seconds = 0;
  std::size_t next_unit = 0;  // units must come in kUnits' order
  std::size_t i = 0;
  if (text.empty()) return shape_error();
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    auto n = parse_number(text.substr(start, i - start));
    if (!n || i == text.size()) return shape_error();
    std::size_t unit = kUnits.find(lower(text[i]));
    if (unit == std::string_view::npos || unit < next_unit) return shape_error();
    next_unit = unit + 1;
    seconds += *n * kSeconds[unit];
    ++i;
  }
  const std::int64_t us = seconds * 1'000'000;
  if (us < Schedule::kMinEveryUs || us > Schedule::kMaxEveryUs) {
    return invalid("@every duration " + quote(text) + " is out of range: expected 1s to 24h");
  }
  return us;
}

struct Macro {
  std::string_view name;
  std::string_view expression;
};

constexpr std::array<Macro, 7> kMacros = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// Whether a day numbered `day` occurs in `month` in some year (February
// has a 29th in leap years).
bool day_exists(unsigned month, unsigned day) {
  constexpr std::array<unsigned, 13> kMaxDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return day >= 1 && day <= kMaxDays[month];
}

chr::year_month_day civil(std::int64_t day) {
  return chr::year_month_day{chr::sys_days{chr::days{day}}};
}

std::int64_t day_number(const chr::year_month_day& ymd) {
  return chr::sys_days{ymd}.time_since_epoch().count();
}

unsigned weekday_of(std::int64_t day) {
  return chr::weekday{chr::sys_days{chr::days{day}}}.c_encoding();
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view text) {
  const std::string_view original = text;
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() > kMaxTextBytes) {
    return invalid("schedule is longer than " + std::to_string(kMaxTextBytes) + " characters");
  }
  auto words = split_words(text);

  Schedule s;
  s.text_ = std::string(original);
  std::string_view expression = text;
  if (!words.empty() && words[0].front() == '@') {
    if (iequals(words[0], "@every")) {
      if (words.size() != 2) {
        return invalid("@every needs one duration such as 30s, 5m or 1h30m");
      }
      auto us = parse_every(words[1]);
      if (!us) return std::move(us).error();
      s.every_us_ = *us;
      return s;
    }
    const Macro* macro = nullptr;
    for (const auto& m : kMacros) {
      if (iequals(words[0], m.name)) macro = &m;
    }
    if (!macro) {
      return invalid("unknown macro " + quote(words[0]) +
                     ": expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, "
                     "@hourly or @every <duration>");
    }
    if (words.size() != 1) {
      return invalid("macro " + quote(words[0]) + " takes nothing after it");
    }
    expression = macro->expression;
    words = split_words(expression);
  }
  if (words.size() != 5) {
    return invalid(
        "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as "
        "@hourly or @every 30s, got " +
        std::to_string(words.size()));
  }

  auto minute = parse_field(words[0], kMinuteField);
  if (!minute) return std::move(minute).error();
  auto hour = parse_field(words[1], kHourField);
  if (!hour) return std::move(hour).error();
  auto day = parse_field(words[2], kDayField);
  if (!day) return std::move(day).error();
  auto month = parse_field(words[3], kMonthField);
  if (!month) return std::move(month).error();
  auto weekday = parse_field(words[4], kWeekdayField);
  if (!weekday) return std::move(weekday).error();

  s.minutes_ = std::bitset<60>(minute->bits);
  s.hours_ = std::bitset<24>(hour->bits);
  s.days_ = std::bitset<32>(day->bits);
  s.months_ = std::bitset<13>(month->bits);
  std::uint64_t weekdays = weekday->bits;
  if ((weekdays >> 7) & 1U) weekdays |= 1U;  // 7 is Sunday too
  s.weekdays_ = std::bitset<7>(weekdays & 0x7FU);
  s.days_star_ = day->star;
  s.weekdays_star_ = weekday->star;

  // Only a restricted day-of-month combined with an unrestricted
  // day-of-week can name days that never come: otherwise the weekdays
  // match (either rule) or the day-of-month set holds the 1st, and every
  // month has a 1st on every weekday sooner or later.
  if (!s.days_star_ && s.weekdays_star_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12 && !possible; ++m) {
      for (unsigned d = 1; d <= 31 && !possible; ++d) {
        possible = s.months_[m] && s.days_[d] && day_exists(m, d);
      }
    }
    if (!possible) {
      return invalid("schedule " + quote(text) +
                     " can never fire: the months it names never have the days of the month "
                     "it names");
    }
  }
  return s;
}

bool Schedule::day_matches(unsigned day_of_month, unsigned month, unsigned weekday) const noexcept {
  if (!months_[month]) return false;
  const bool dom = days_[day_of_month];
  const bool dow = weekdays_[weekday];
  return (days_star_ || weekdays_star_) ? (dom && dow) : (dom || dow);
}

std::int64_t Schedule::next_after(std::int64_t after_us) const {
  if (every_us_ > 0) {
    const std::int64_t q = floor_div(after_us, every_us_);
    if (q >= kNever / every_us_) return kNever;
    return (q + 1) * every_us_;
  }
  if (after_us >= kEndUs) return kNever;
  std::int64_t minute = floor_div(std::max(after_us, kFirstUs - 1), kUsPerMinute) + 1;
  std::int64_t day = floor_div(minute, kMinutesPerDay);
  std::int64_t minute_of_day = minute - day * kMinutesPerDay;
  // Walk days, skipping whole months that do not match; within a matching
  // day, the first matching hour and minute from where the walk stands.
  while (day < kEndDay) {
    const auto ymd = civil(day);
    const auto month = static_cast<unsigned>(ymd.month());
    if (!months_[month]) {
      day = day_number(ymd.year() / ymd.month() / 1 + chr::months{1});
      minute_of_day = 0;
      continue;
    }
    if (day_matches(static_cast<unsigned>(ymd.day()), month, weekday_of(day))) {
      auto h = static_cast<std::size_t>(minute_of_day / 60);
      auto m = static_cast<std::size_t>(minute_of_day % 60);
      for (; h < 24; ++h, m = 0) {
        if (!hours_[h]) continue;
        for (; m < 60; ++m) {
          if (minutes_[m]) {
            return ((day * kMinutesPerDay) + static_cast<std::int64_t>(h * 60 + m)) * kUsPerMinute;
          }
        }
      }
    }
    ++day;
    minute_of_day = 0;
  }
  return kNever;
}

std::optional<std::int64_t> Schedule::last_at_or_before(std::int64_t at_us) const {
  if (every_us_ > 0) {
    if (at_us < std::numeric_limits<std::int64_t>::min() + every_us_) return std::nullopt;
    return floor_div(at_us, every_us_) * every_us_;
  }
  if (at_us < kFirstUs) return std::nullopt;
  std::int64_t minute = floor_div(std::min(at_us, kEndUs - 1), kUsPerMinute);
  std::int64_t day = floor_div(minute, kMinutesPerDay);
  std::int64_t minute_of_day = minute - day * kMinutesPerDay;
  const std::int64_t stop = std::max(day - kLookBackDays, kFirstDay);
  while (day >= stop) {
    const auto ymd = civil(day);
    const auto month = static_cast<unsigned>(ymd.month());
    if (!months_[month]) {
      day = day_number(ymd.year() / ymd.month() / 1) - 1;  // the previous month's last day
      minute_of_day = kMinutesPerDay - 1;
      continue;
    }
    if (day_matches(static_cast<unsigned>(ymd.day()), month, weekday_of(day))) {
      auto h = static_cast<int>(minute_of_day / 60);
      auto m = static_cast<int>(minute_of_day % 60);
      for (; h >= 0; --h, m = 59) {
        if (!hours_[static_cast<std::size_t>(h)]) continue;
        for (; m >= 0; --m) {
          if (minutes_[static_cast<std::size_t>(m)]) {
            return ((day * kMinutesPerDay) + h * 60 + m) * kUsPerMinute;
          }
        }
      }
    }
    --day;
    minute_of_day = kMinutesPerDay - 1;
  }
  return std::nullopt;
}

}  // namespace nebula
