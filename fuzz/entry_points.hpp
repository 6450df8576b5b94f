#pragma once

// What each libFuzzer target checks of one input, callable without
// libFuzzer: the target's LLVMFuzzerTestOneInput aborts when a check returns
// false, and tests/unit/fuzz replays every committed input
// (fuzz/corpus/<target>/, fuzz/regressions/<target>/) through the same
// functions in the regular suite. Built with NEBULA_FUZZ_REPLAY, the target
// sources leave out their libFuzzer entry points.
//
// Each returns false when an invariant broke; a crash (or a sanitizer
// report) is a finding too.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nebula::fuzz {

[[nodiscard]] bool check_manifest(std::string_view input);
[[nodiscard]] bool check_http_request(std::string_view input);
[[nodiscard]] bool check_watchdog_frames(std::string_view input);
[[nodiscard]] bool check_multiplexed_stream(std::string_view input);
[[nodiscard]] bool check_schedule(std::string_view input);

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace nebula::fuzz
