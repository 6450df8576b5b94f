// libFuzzer target: the schedule parser (a manifest's triggers[].schedule).
// A schedule that parses must name due times that move the right way: the
// next one strictly after any instant, the last one at or before it, and
// the next after that last one no later than the next after the instant.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/schedule.hpp"
#include "entry_points.hpp"

namespace nebula::fuzz {

bool check_schedule(std::string_view input) {
  // The first 8 bytes pick the instant the schedule is asked about (kept
  // within a few centuries of the epoch); the rest is the expression.
  std::int64_t at = 1'796'000'000'000'000;
  if (input.size() >= 8) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, input.data(), 8);
    at = static_cast<std::int64_t>(bits % (10'000'000'000'000'000ULL));
    input.remove_prefix(8);
  }
  auto schedule = Schedule::parse(input);
  if (!schedule) return !schedule.error().message.empty();
  const std::int64_t next = schedule->next_after(at);
  if (next <= at) return false;
  if (auto last = schedule->last_at_or_before(at)) {
    if (*last > at) return false;
    if (schedule->next_after(*last) > next) return false;
  }
  return true;
}

}  // namespace nebula::fuzz

#ifndef NEBULA_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (!nebula::fuzz::check_schedule(nebula::fuzz::as_text(data, size))) std::abort();
  return 0;
}
#endif
