// fibonacci-recursive: the n-th Fibonacci number by naive double recursion.
//
// Input:  one whole number n, 0 <= n <= 40 (F(0) = 0, F(1) = 1).
// Output: F(n) in decimal, e.g. "102334155" for 40.
// This is deliberately exponential (about 1.6^n calls): it is the CPU-bound
// benchmark workload. The bound keeps one call under about a second; use
// `fibonacci` for large n.
#include <stdint.h>
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "fibonacci-recursive";
static const char kUsage[] =
    "send one whole number n with 0 <= n <= 40 (the work grows 1.6-fold with each step of n), "
    "e.g. \"30\"";

enum { kMaxN = 40 };

static uint64_t fib(unsigned n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(void) {
  int64_t n = 0;
  int rc = nebula_fn_read_int(kName, kUsage, "n", 0, kMaxN, &n);
  if (rc != 0) return rc;

  printf("%llu\n", (unsigned long long)fib((unsigned)n));
  return nebula_fn_flush_stdout();
}
