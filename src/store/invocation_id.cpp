#include "store/invocation_id.hpp"

#include <chrono>
#include <random>

namespace nebula::store {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// One generator per thread: no lock on the hot path, and no shared state.
// random_device reads the kernel's entropy pool once per thread.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return rng;
}

bool is_base32_digit(char c) noexcept {
  return kAlphabet.find(c) != std::string_view::npos;
}

}  // namespace

std::string new_invocation_id(std::int64_t unix_ms) {
  // 128 bits as two halves: hi = 48 bits of time + the top 16 random bits,
  // lo = the remaining 64 random bits.
  auto& rng = thread_rng();
  const auto ms = static_cast<std::uint64_t>(unix_ms) & 0xFFFF'FFFF'FFFFULL;
  const std::uint64_t hi = (ms << 16) | (rng() & 0xFFFFULL);
  const std::uint64_t lo = rng();

  // 26 digits of 5 bits = 130 bits; the first digit holds the top 3 bits.
  std::string id(kInvocationIdLength, '0');
  for (std::size_t i = 0; i < kInvocationIdLength; ++i) {
    const std::size_t shift = 5 * (kInvocationIdLength - 1 - i);  // bit offset of digit i
    std::uint64_t v = 0;
    if (shift >= 64) {
      v = hi >> (shift - 64);
    } else if (shift + 5 <= 64) {
      v = lo >> shift;
    } else {
      // Digit straddles the halves.
      v = (lo >> shift) | (hi << (64 - shift));
    }
    id[i] = kAlphabet[v & 0x1FU];
  }
  return id;
}

std::string new_invocation_id() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return new_invocation_id(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

bool is_valid_invocation_id(std::string_view id) noexcept {
  if (id.size() != kInvocationIdLength) return false;
  if (id[0] < '0' || id[0] > '7') return false;
  for (char c : id) {
    if (!is_base32_digit(c)) return false;
  }
  return true;
}

}  // namespace nebula::store
