// exponential: e^x, computed from its Taylor series.
//
// Input:  one decimal number x with -700 <= x <= 700, e.g. "1", "-2.5",
//         "1e-3" (no "nan", "inf" or hexadecimal forms).
// Output: e^x with 15 significant digits, e.g. "2.71828182845905" for 1.
// Only +, -, *, / and exact scaling by powers of two are used: no libm,
// whose exp() differs between the wasm and native C libraries in the last
// bit. IEEE-754 makes these operations identical on every target, so both
// builds print the same digits.
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kName = "exponential";
constexpr const char* kUsage =
    "send one decimal number x with -700 <= x <= 700 (e^x must fit a double), e.g. \"1.5\"";

// e^709.78 is the largest double; 700 leaves room and reads well.
constexpr double kMaxX = 700.0;

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

// Parses a plain decimal number: [sign] digits [. digits] [e|E [sign] digits].
// The grammar is checked here, so that strtod never sees "nan", "inf" or hex.
int parse_real(std::string_view tok, const char* what, double min, double max, double& out) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < tok.size() && tok[i] >= '0' && tok[i] <= '9') ++i;
    return i - start;
  };
  if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) ++i;
  std::size_t mantissa = digits();
  if (i < tok.size() && tok[i] == '.') {
    ++i;
    mantissa += digits();
  }
  bool ok = mantissa > 0;
  if (ok && i < tok.size() && (tok[i] == 'e' || tok[i] == 'E')) {
    ++i;
    if (i < tok.size() && (tok[i] == '+' || tok[i] == '-')) ++i;
    ok = digits() > 0;
  }
  if (!ok || i != tok.size())
    return bad_input("\"%s\" is not a decimal number", shown(tok).c_str());
  std::string copy(tok);
  double value = std::strtod(copy.c_str(), nullptr);
  if (!(value >= min && value <= max)) {
    return bad_input("%s = %s is out of range", what, shown(tok).c_str());
  }
  out = value;
  return 0;
}

// ---- The function ----

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
  Input in;
  int rc = read_input(in);
  if (rc == 0) rc = expect_tokens(in, 1, 1);
  double x = 0;
  if (rc == 0) rc = parse_real(in.tokens[0], "x", -kMaxX, kMaxX, x);
  if (rc != 0) return rc;

  std::printf("%.15g\n", exponential(x));
  return std::fflush(stdout) == 0 ? 0 : 1;
}
