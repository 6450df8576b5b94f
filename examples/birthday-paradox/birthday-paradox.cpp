// birthday-paradox: the chance that, among k people, at least two share a
// birthday, estimated by Monte Carlo (365 equally likely days).
//
// Input:  "people [trials [seed]]": 1 <= people <= 365, an optional
//         1 <= trials <= 10000000 (default 100000), and an optional seed
//         0 <= seed <= 18446744073709551615 (default 42).
// Output: the fraction of trials with a shared birthday, with 6 decimals,
//         e.g. about 0.507 for 23 people (exactly 0.507297...).
// The generator is SplitMix64, written out here, so the same input gives
// the same answer on every target (wasm and native alike).
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kName = "birthday-paradox";
constexpr const char* kUsage =
    "send \"people [trials [seed]]\" with 1 <= people <= 365, 1 <= trials <= 10000000 "
    "(default 100000) and an optional whole-number seed, e.g. \"23\" or \"23 1000000\"";

constexpr std::uint32_t kDays = 365;
constexpr std::int64_t kMaxTrials = 10000000;
constexpr std::int64_t kDefaultTrials = 100000;
constexpr std::uint64_t kDefaultSeed = 42;

// ---- Input handling, repeated in every numeric example (one file each) ----

constexpr std::size_t kMaxInput = 1024;

// The request body, split into whitespace-separated tokens that view it.
struct Input {
  std::string body;
  std::vector<std::string_view> tokens;
};

// Reports "<name>: <problem>; <usage>" on stderr and returns exit code 2.
[[gnu::format(printf, 1, 2)]] int bad_input(const char* fmt, ...) {
  std::va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "%s: ", kName);
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "; %s\n", kUsage);
  va_end(ap);
  return 2;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A token made safe to quote in an error message: at most 32 bytes, with
// unprintable bytes shown as '?'.
std::string shown(std::string_view tok) {
  std::string out;
  for (char c : tok.substr(0, 32)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (tok.size() > 32) out += "...";
  return out;
}

// Reads the whole body, bounded so that a huge body cannot exhaust memory,
// and splits it into tokens. Returns 0, or the exit code after reporting.
int read_input(Input& in) {
  in.body.resize(kMaxInput + 1);
  std::size_t len = std::fread(in.body.data(), 1, in.body.size(), stdin);
  if (std::ferror(stdin)) {
    std::fprintf(stderr, "%s: cannot read stdin\n", kName);
    return 1;
  }
  if (len > kMaxInput) return bad_input("the input is longer than %zu bytes", kMaxInput);
  in.body.resize(len);
  std::string_view rest = in.body;
  for (;;) {
    std::size_t start = 0;
    while (start < rest.size() && is_space(rest[start])) ++start;
    if (start == rest.size()) break;
    std::size_t end = start;
    while (end < rest.size() && !is_space(rest[end])) ++end;
    in.tokens.push_back(rest.substr(start, end - start));
    rest.remove_prefix(end);
  }
  return 0;
}

// Checks that the body held between `min` and `max` tokens.
int expect_tokens(const Input& in, std::size_t min, std::size_t max) {
  std::size_t count = in.tokens.size();
  if (count == 0) return bad_input("no input");
  if (count < min) return bad_input("expected %zu numbers, got %zu", min, count);
  if (count > max) {
    if (min == max) {
      return bad_input("expected %zu number%s, got %zu", max, max == 1 ? "" : "s", count);
    }
    return bad_input("expected at most %zu numbers, got %zu", max, count);
  }
  return 0;
}

// Parses a decimal integer token ("42", "-7", "+3") in [min, max]. Returns 0,
// or the exit code after reporting.
int parse_int(std::string_view tok, const char* what, std::int64_t min, std::int64_t max,
              std::int64_t& out) {
  bool negative = false;
  std::string_view digits = tok;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return bad_input("\"%s\" is not a whole number", shown(tok).c_str());
  // Magnitudes saturate just past any allowed bound: only the range matters.
  constexpr std::uint64_t kSaturated = std::uint64_t{1} << 63;
  std::uint64_t magnitude = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad_input("\"%s\" is not a whole number", shown(tok).c_str());
    auto digit = static_cast<unsigned>(c - '0');
    magnitude = magnitude > (kSaturated - digit) / 10 ? kSaturated + 1 : magnitude * 10 + digit;
  }
  bool in_range = false;
  std::int64_t value = 0;
  if (!negative && magnitude < kSaturated) {
    value = static_cast<std::int64_t>(magnitude);
    in_range = true;
  } else if (negative && magnitude <= kSaturated) {
    value = magnitude == 0 ? 0 : -static_cast<std::int64_t>(magnitude - 1) - 1;
    in_range = true;
  }
  if (!in_range || value < min || value > max) {
    return bad_input("%s = %s is out of range", what, shown(tok).c_str());
  }
  out = value;
  return 0;
}

// Parses an unsigned 64-bit seed. Returns 0, or the exit code after reporting.
int parse_seed(std::string_view tok, std::uint64_t& out) {
  std::uint64_t value = 0;
  for (char c : tok) {
    if (c < '0' || c > '9')
      return bad_input("seed \"%s\" is not a whole number", shown(tok).c_str());
    auto digit = static_cast<unsigned>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return bad_input("seed = %s is out of range", shown(tok).c_str());
    }
    value = value * 10 + digit;
  }
  out = value;
  return 0;
}

// ---- The function ----

// SplitMix64 (Steele, Lea and Flood): a 64-bit counter scrambled by two
// multiply-xorshift rounds. Small, fast, and identical on every target.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1), from the top 53 bits: exact in IEEE arithmetic.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in [0, bound), by the multiply-shift of the top 32 bits. The bias
  // (at most bound / 2^32) is far below Monte Carlo noise.
  std::uint32_t below(std::uint32_t bound) {
    return static_cast<std::uint32_t>(((next() >> 32) * bound) >> 32);
  }

 private:
  std::uint64_t state_;
};

// One trial: draws birthdays until one repeats or everyone has one. The
// work per trial is small even for 365 people: a repeat comes after about
// 24 draws on average.
bool shares_birthday(SplitMix64& rng, std::int64_t people) {
  std::uint64_t seen[(kDays + 63) / 64] = {};
  for (std::int64_t i = 0; i < people; ++i) {
    std::uint32_t day = rng.below(kDays);
    std::uint64_t bit = std::uint64_t{1} << (day % 64);
    if (seen[day / 64] & bit) return true;
    seen[day / 64] |= bit;
  }
  return false;
}

}  // namespace

int main() {
  Input in;
  int rc = read_input(in);
  if (rc == 0) rc = expect_tokens(in, 1, 3);
  std::int64_t people = 0;
  std::int64_t trials = kDefaultTrials;
  std::uint64_t seed = kDefaultSeed;
  if (rc == 0) rc = parse_int(in.tokens[0], "people", 1, kDays, people);
  if (rc == 0 && in.tokens.size() >= 2)
    rc = parse_int(in.tokens[1], "trials", 1, kMaxTrials, trials);
  if (rc == 0 && in.tokens.size() == 3) rc = parse_seed(in.tokens[2], seed);
  if (rc != 0) return rc;

  SplitMix64 rng(seed);
  std::int64_t shared = 0;
  for (std::int64_t t = 0; t < trials; ++t) shared += shares_birthday(rng, people) ? 1 : 0;
  std::printf("%.6f\n", static_cast<double>(shared) / static_cast<double>(trials));
  return std::fflush(stdout) == 0 ? 0 : 1;
}
