// fibonacci: the n-th Fibonacci number, exact, computed iteratively.
//
// Input:  one whole number n, 0 <= n <= 10000 (F(0) = 0, F(1) = 1).
// Output: F(n) in decimal, every digit (F(90) = 2880067194370816120,
//         F(10000) has 2090 digits).
// Numbers beyond 64 bits are kept as little-endian base-10^9 limbs.
#include <stdint.h>
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "fibonacci";
static const char kUsage[] = "send one whole number n with 0 <= n <= 10000, e.g. \"90\"";

enum { kMaxN = 10000 };

enum {
  // F(n) has about 0.209 * n decimal digits, i.e. fewer than n / 40 limbs.
  kLimbs = kMaxN / 40 + 4,
  kBase = 1000000000,
};

struct BigNum {
  uint32_t limb[kLimbs];  // least significant first, each < kBase
  int len;                // limbs in use, at least 1
};

// a += b
static void add_into(struct BigNum* a, const struct BigNum* b) {
  uint32_t carry = 0;
  int len = a->len > b->len ? a->len : b->len;
  for (int i = 0; i < len; ++i) {
    uint32_t x = (i < a->len ? a->limb[i] : 0) + (i < b->len ? b->limb[i] : 0) + carry;
    carry = x >= kBase;
    a->limb[i] = carry ? x - kBase : x;
  }
  if (carry) a->limb[len++] = carry;
  a->len = len;
}

static void print(const struct BigNum* x) {
  printf("%u", (unsigned)x->limb[x->len - 1]);
  for (int i = x->len - 2; i >= 0; --i) printf("%09u", (unsigned)x->limb[i]);
  putchar('\n');
}

int main(void) {
  int64_t n = 0;
  int rc = nebula_fn_read_int(kName, kUsage, "n", 0, kMaxN, &n);
  if (rc != 0) return rc;

  // Invariant: after k steps, a = F(k) and b = F(k + 1).
  static struct BigNum a = {{0}, 1};
  static struct BigNum b = {{1}, 1};
  struct BigNum* lo = &a;
  struct BigNum* hi = &b;
  for (int64_t k = 0; k < n; ++k) {
    add_into(lo, hi);  // lo = F(k + 2)
    struct BigNum* t = lo;
    lo = hi;
    hi = t;
  }
  print(lo);
  return nebula_fn_flush_stdout();
}
