// mc-estimate-pi: estimates pi by Monte Carlo sampling.
//
// Input:  "samples [seed]": 1 <= samples <= 100000000 points, and an optional
//         seed 0 <= seed <= 18446744073709551615 (default 42).
// Output: 4 * (points inside the quarter circle) / samples, with 6 decimals,
//         e.g. "3.140756" for "1000000".
// The generator is SplitMix64, written out in nebula_fn.h, so the same
// input gives the same answer on every target (wasm and native alike).
#include <stdint.h>
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "mc-estimate-pi";
static const char kUsage[] =
    "send \"samples [seed]\" with 1 <= samples <= 100000000 and an optional whole-number seed, "
    "e.g. \"1000000\"";

enum { kMaxSamples = 100000000 };
static const uint64_t kDefaultSeed = 42;

int main(void) {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, kName, kUsage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 1, 2);
  int64_t samples = 0;
  uint64_t seed = kDefaultSeed;
  if (rc == 0) rc = nebula_fn_parse_int(&in, 0, "samples", 1, kMaxSamples, &samples);
  if (rc == 0 && in.count == 2) rc = nebula_fn_parse_seed(&in, 1, &seed);
  if (rc != 0) return rc;

  uint64_t state = seed;
  int64_t inside = 0;
  for (int64_t i = 0; i < samples; ++i) {
    double x = nebula_fn_random_unit(&state);
    double y = nebula_fn_random_unit(&state);
    if (x * x + y * y < 1.0) ++inside;
  }
  printf("%.6f\n", 4.0 * (double)inside / (double)samples);
  return nebula_fn_flush_stdout();
}
