// add: adds two integers.
//
// Input:  two whole numbers separated by whitespace, e.g. "3 4"; each must
//         fit a signed 64-bit integer.
// Output: their sum, e.g. "7". A sum outside the signed 64-bit range is
//         reported as bad input rather than wrapped.
#include <stdint.h>
#include <stdio.h>

#include "nebula_fn.h"

static const char kName[] = "add";
static const char kUsage[] = "send two signed 64-bit whole numbers, e.g. \"3 4\"";

int main(void) {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, kName, kUsage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 2, 2);
  int64_t a = 0;
  int64_t b = 0;
  if (rc == 0) rc = nebula_fn_parse_int(&in, 0, "a", INT64_MIN, INT64_MAX, &a);
  if (rc == 0) rc = nebula_fn_parse_int(&in, 1, "b", INT64_MIN, INT64_MAX, &b);
  if (rc != 0) return rc;

  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return nebula_fn_bad_input(kName, kUsage, "%lld + %lld does not fit a signed 64-bit integer",
                               (long long)a, (long long)b);
  }
  printf("%lld\n", (long long)sum);
  return nebula_fn_flush_stdout();
}
