// exponential: e^x, computed from its Taylor series.
//
// Input:  one decimal number x with -700 <= x <= 700, e.g. "1", "-2.5",
//         "1e-3" (no "nan", "inf" or hexadecimal forms).
// Output: e^x with 15 significant digits, e.g. "2.71828182845905" for 1.
// Only +, -, *, / and exact scaling by powers of two are used: no libm,
// whose exp() differs between the wasm and native C libraries in the last
// bit. IEEE-754 makes these operations identical on every target, so both
// builds print the same digits.
#include <cstdio>

#include "nebula_fn.h"

namespace {

constexpr const char* kName = "exponential";
constexpr const char* kUsage =
    "send one decimal number x with -700 <= x <= 700 (e^x must fit a double), e.g. \"1.5\"";

// e^709.78 is the largest double; 700 leaves room and reads well.
constexpr double kMaxX = 700.0;

// ln 2 split in two: kLn2Hi has trailing zero bits, so n * kLn2Hi is exact
// for |n| < 2^11 and the reduction below loses nothing.
constexpr double kLn2Hi = 0x1.62e42fefa3800p-1;
constexpr double kLn2Lo = 0x1.ef35793c76730p-45;
constexpr double kInvLn2 = 0x1.71547652b82fep0;

// x * 2^n, exact for normal results: repeated doubling or halving.
double scale(double x, int n) {
  for (; n > 0; --n) x *= 2.0;
  for (; n < 0; ++n) x *= 0.5;
  return x;
}

// e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln 2 / 2 (< 0.35).
// The series is summed as e^r - 1 = r (1 + r/2 (1 + r/3 (...))) from the
// smallest term up, and the 1 is added last: the rounding error of the small
// part then barely reaches the result's last bit.
double exponential(double x) {
  double t = x * kInvLn2;
  int n = static_cast<int>(t < 0 ? t - 0.5 : t + 0.5);
  double r = (x - n * kLn2Hi) - n * kLn2Lo;
  // 0.35^20 / 20! is far below 2^-53: twenty terms are plenty.
  double tail = 1.0;
  for (int k = 20; k >= 2; --k) tail = 1.0 + tail * r / k;
  double expm1_r = r * tail;
  return scale(1.0 + expm1_r, n);
}

}  // namespace

int main() {
  static NebulaFnInput in;
  int rc = nebula_fn_read_input(&in, kName, kUsage);
  if (rc == 0) rc = nebula_fn_expect_tokens(&in, 1, 1);
  double x = 0;
  if (rc == 0) rc = nebula_fn_parse_real(&in, 0, "x", -kMaxX, kMaxX, &x);
  if (rc != 0) return rc;

  std::printf("%.15g\n", exponential(x));
  return nebula_fn_flush_stdout();
}
