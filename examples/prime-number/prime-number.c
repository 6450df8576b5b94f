// prime-number: the n-th prime number.
//
// Input:  one whole number n, 1 <= n <= 1000000 (the 1st prime is 2).
// Output: the n-th prime, e.g. "541" for 100, "15485863" for 1000000.
// A sieve of Eratosthenes over the odd numbers, one bit each: about 1 MiB
// for the largest n.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nebula_fn.h"

static const char kName[] = "prime-number";
static const char kUsage[] = "send one whole number n with 1 <= n <= 1000000, e.g. \"100\"";

enum { kMaxN = 1000000 };

// An upper bound for the n-th prime. For n >= 6, p(n) < n (ln n + ln ln n)
// (Rosser's theorem). With b = bit length of n, ln n < 0.7 b, and
// ln ln n < 3 for every n allowed here, so n (0.7 b + 3) is enough without
// needing a floating-point logarithm.
static uint32_t sieve_limit(uint32_t n) {
  if (n < 6) return 16;
  uint32_t bits = 0;
  for (uint32_t v = n; v != 0; v >>= 1) ++bits;
  return n * (7 * bits + 30) / 10;
}

int main(void) {
  int64_t n = 0;
  int rc = nebula_fn_read_int(kName, kUsage, "n", 1, kMaxN, &n);
  if (rc != 0) return rc;

  if (n == 1) {
    puts("2");
    return nebula_fn_flush_stdout();
  }
  // Bit i stands for the odd number 2i + 1; a set bit means "composite".
  uint32_t limit = sieve_limit((uint32_t)n);
  uint32_t odds = limit / 2 + 1;
  uint8_t* composite = calloc(odds / 8 + 1, 1);
  if (composite == NULL) {
    fprintf(stderr, "%s: cannot allocate the sieve (%u bytes)\n", kName, odds / 8 + 1);
    return 1;
  }
  int64_t found = 1;  // the prime 2
  for (uint32_t i = 1; i < odds; ++i) {
    if (composite[i >> 3] & (1u << (i & 7))) continue;
    uint32_t p = 2 * i + 1;
    if (++found == n) {
      printf("%u\n", p);
      free(composite);
      return nebula_fn_flush_stdout();
    }
    // Cross out odd multiples from p * p on; smaller ones are already done.
    for (uint64_t m = (uint64_t)p * p; m <= limit; m += 2 * (uint64_t)p) {
      uint32_t j = (uint32_t)(m / 2);
      composite[j >> 3] |= (uint8_t)(1u << (j & 7));
    }
  }
  // Unreachable if sieve_limit is a true bound; say so rather than lie.
  free(composite);
  fprintf(stderr, "%s: internal error: the sieve limit %u was too small for n = %lld\n", kName,
          limit, (long long)n);
  return 1;
}
