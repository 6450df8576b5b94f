// factorial: n! exactly, with arbitrary precision.
//
// Input:  one whole number n, 0 <= n <= 10000.
// Output: n! in decimal, every digit (130! has 221 digits, 10000! has 35660).
// The product is kept as little-endian base-10^9 limbs and multiplied by
// 2, 3, ..., n in turn; each step is one pass over the limbs.
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kName = "factorial";
constexpr const char* kUsage = "send one whole number n with 0 <= n <= 10000, e.g. \"130\"";

constexpr std::int64_t kMaxN = 10000;

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

// ---- The function ----

constexpr std::uint32_t kBase = 1000000000;

// Little-endian base-10^9 digits; never empty.
using BigNum = std::vector<std::uint32_t>;

// x *= k, for k < 2^32. Each limb product plus carry stays below 2^64:
// (10^9 - 1) * k + carry < 10^9 * 2^32.
void multiply(BigNum& x, std::uint32_t k) {
  std::uint64_t carry = 0;
  for (auto& limb : x) {
    std::uint64_t v = std::uint64_t{limb} * k + carry;
    limb = static_cast<std::uint32_t>(v % kBase);
    carry = v / kBase;
  }
  while (carry != 0) {
    x.push_back(static_cast<std::uint32_t>(carry % kBase));
    carry /= kBase;
  }
}

std::string to_decimal(const BigNum& x) {
  std::string out = std::to_string(x.back());
  out.reserve(out.size() + 9 * (x.size() - 1) + 1);
  for (auto it = x.rbegin() + 1; it != x.rend(); ++it) {
    char digits[9];
    std::uint32_t v = *it;
    for (int i = 8; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    out.append(digits, sizeof digits);
  }
  return out;
}

}  // namespace

int main() {
  Input in;
  int rc = read_input(in);
  if (rc == 0) rc = expect_tokens(in, 1, 1);
  std::int64_t n = 0;
  if (rc == 0) rc = parse_int(in.tokens[0], "n", 0, kMaxN, n);
  if (rc != 0) return rc;

  BigNum product{1};
  for (std::int64_t k = 2; k <= n; ++k) multiply(product, static_cast<std::uint32_t>(k));
  std::string text = to_decimal(product);
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
