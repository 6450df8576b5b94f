// birthday-paradox: the chance that, among k people, at least two share a
// birthday, estimated by Monte Carlo (365 equally likely days).
//
// Input:  "people [trials [seed]]": 1 <= people <= 365, an optional
//         1 <= trials <= 10000000 (default 100000), and an optional seed
//         0 <= seed <= 18446744073709551615 (default 42).
// Output: the fraction of trials with a shared birthday, with 6 decimals,
//         e.g. about 0.507 for 23 people (exactly 0.507297...).
// The generator is SplitMix64, written out in nebula_fn.h, so the same
// input gives the same answer on every target (wasm and native alike).
#include <cstdint>
#include <cstdio>

#include "nebula_fn.h"

namespace {

constexpr const char* kName = "birthday-paradox";
constexpr const char* kUsage =
    "send \"people [trials [seed]]\" with 1 <= people <= 365, 1 <= trials <= 10000000 "
    "(default 100000) and an optional whole-number seed, e.g. \"23\" or \"23 1000000\"";

constexpr std::uint32_t kDays = 365;
constexpr std::int64_t kMaxTrials = 10000000;
constexpr std::int64_t kDefaultTrials = 100000;
constexpr std::uint64_t kDefaultSeed = 42;

// Uniform in [0, bound), by the multiply-shift of the top 32 bits of one
// SplitMix64 draw. The bias (at most bound / 2^32) is far below Monte Carlo
// noise.
std::uint32_t random_below(std::uint64_t& state, std::uint32_t bound) {
  return static_cast<std::uint32_t>(((nebula_fn_random(&state) >> 32) * bound) >> 32);
}

// One trial: draws birthdays until one repeats or everyone has one. The
// work per trial is small even for 365 people: a repeat comes after about
// 24 draws on average.
bool shares_birthday(std::uint64_t& state, std::int64_t people) {
  std::uint64_t seen[(kDays + 63) / 64] = {};
  for (std::int64_t i = 0; i < people; ++i) {
    std::uint32_t day = random_below(state, kDays);
    std::uint64_t bit = std::uint64_t{1} << (day % 64);
    if (seen[day / 64] & bit) return true;
    seen[day / 64] |= bit;
  }
  return false;
}

}  // namespace

int main() {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, kName, kUsage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 1, 3);
  std::int64_t people = 0;
  std::int64_t trials = kDefaultTrials;
  std::uint64_t seed = kDefaultSeed;
  if (rc == 0) rc = nebula_fn_parse_int(&in, 0, "people", 1, kDays, &people);
  if (rc == 0 && in.count >= 2) rc = nebula_fn_parse_int(&in, 1, "trials", 1, kMaxTrials, &trials);
  if (rc == 0 && in.count == 3) rc = nebula_fn_parse_seed(&in, 2, &seed);
  if (rc != 0) return rc;

  std::uint64_t state = seed;
  std::int64_t shared = 0;
  for (std::int64_t t = 0; t < trials; ++t) shared += shares_birthday(state, people) ? 1 : 0;
  std::printf("%.6f\n", static_cast<double>(shared) / static_cast<double>(trials));
  return nebula_fn_flush_stdout();
}
