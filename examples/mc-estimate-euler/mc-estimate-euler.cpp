// mc-estimate-euler: estimates Euler's number e by Monte Carlo.
//
// Input:  "trials [seed]": 1 <= trials <= 50000000, and an optional seed
//         0 <= seed <= 18446744073709551615 (default 42).
// Output: the mean, over the trials, of how many uniform random numbers in
//         [0, 1) must be added up before the sum exceeds 1, with 6 decimals.
//         That count's expected value is exactly e = 2.718281...
// The generator is SplitMix64, written out in nebula_fn.h, so the same
// input gives the same answer on every target (wasm and native alike).
#include <cstdint>
#include <cstdio>

#include "nebula_fn.h"

namespace {

constexpr const char* kName = "mc-estimate-euler";
constexpr const char* kUsage =
    "send \"trials [seed]\" with 1 <= trials <= 50000000 and an optional whole-number seed, "
    "e.g. \"1000000\"";

constexpr std::int64_t kMaxTrials = 50000000;
constexpr std::uint64_t kDefaultSeed = 42;

}  // namespace

int main() {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, kName, kUsage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 1, 2);
  std::int64_t trials = 0;
  std::uint64_t seed = kDefaultSeed;
  if (rc == 0) rc = nebula_fn_parse_int(&in, 0, "trials", 1, kMaxTrials, &trials);
  if (rc == 0 && in.count == 2) rc = nebula_fn_parse_seed(&in, 1, &seed);
  if (rc != 0) return rc;

  std::uint64_t state = seed;
  std::uint64_t draws = 0;
  for (std::int64_t t = 0; t < trials; ++t) {
    double sum = 0.0;
    do {
      sum += nebula_fn_random_unit(&state);
      ++draws;
    } while (sum <= 1.0);
  }
  std::printf("%.6f\n", static_cast<double>(draws) / static_cast<double>(trials));
  return nebula_fn_flush_stdout();
}
