// factorial: n! exactly, with arbitrary precision.
//
// Input:  one whole number n, 0 <= n <= 10000.
// Output: n! in decimal, every digit (130! has 221 digits, 10000! has 35660).
// The product is kept as little-endian base-10^9 limbs and multiplied by
// 2, 3, ..., n in turn; each step is one pass over the limbs.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "nebula_fn.h"

namespace {

constexpr const char* kName = "factorial";
constexpr const char* kUsage = "send one whole number n with 0 <= n <= 10000, e.g. \"130\"";

constexpr std::int64_t kMaxN = 10000;

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
  std::int64_t n = 0;
  if (int rc = nebula_fn_read_int(kName, kUsage, "n", 0, kMaxN, &n); rc != 0) return rc;

  BigNum product{1};
  for (std::int64_t k = 2; k <= n; ++k) multiply(product, static_cast<std::uint32_t>(k));
  std::string text = to_decimal(product);
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
  return nebula_fn_flush_stdout();
}
