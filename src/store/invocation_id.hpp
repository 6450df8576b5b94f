#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nebula::store {

// Length of an invocation id: 128 bits in Crockford base32.
inline constexpr std::size_t kInvocationIdLength = 26;

// A new invocation id: 48 bits of unix milliseconds followed by 80 random
// bits, in Crockford base32 (the ULID layout), e.g. "01HV5C3M8ZK4T2Q9W7XG6R1B0D".
// Ids sort by creation time to the millisecond, so they read well in logs and
// URLs; the store orders records by its own sequence, never by id.
//
// Thread-safe: each thread draws from its own RNG, seeded from the OS.
[[nodiscard]] std::string new_invocation_id();

// Same, at a given time (for tests and for importing records).
[[nodiscard]] std::string new_invocation_id(std::int64_t unix_ms);

// True for the shape new_invocation_id produces: 26 characters of Crockford
// base32 in upper case, the first being 0-7 (the id is 128 bits). Checked
// before an id from a URL reaches the store.
[[nodiscard]] bool is_valid_invocation_id(std::string_view id) noexcept;

}  // namespace nebula::store
