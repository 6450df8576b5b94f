#include "service/scheduler.hpp"

#include <chrono>
#include <limits>
#include <set>

#include <spdlog/spdlog.h>

#include "service/function_service.hpp"

namespace nebula::service {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// With a store that fails, look again this soon.
constexpr std::int64_t kRetryUs = 1'000'000;

// A trigger's identity in the store: its position and its expression, so
// that editing a schedule starts it afresh.
std::string trigger_key(std::size_t index, const Trigger& trigger) {
  return std::to_string(index) + " " + trigger.schedule;
}

// A failure of the store itself, worth trying again, rather than a refusal
// of this firing.
bool store_failed(const Error& error) {
  return error.kind == ErrorKind::kUnavailable || error.kind == ErrorKind::kNoSpace ||
         error.kind == ErrorKind::kInternal;
}

}  // namespace

Scheduler::Scheduler(FunctionService& service) : service_(service) {
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Scheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    ++rings_;
  }
  wake_.notify_all();
}

void Scheduler::loop() {
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      seen = rings_;
    }
    const std::int64_t next = tick();
    std::unique_lock lock(mutex_);
    auto woken = [&] { return stop_ || rings_ != seen; };
    if (next == kNever) {
      wake_.wait(lock, woken);
    } else {
      const auto in =
          std::chrono::microseconds(std::max<std::int64_t>(0, next - store::now_unix_us()));
      wake_.wait_for(lock, in, woken);
    }
  }
}

std::int64_t Scheduler::tick() {
  store::Store& store = service_.store();
  std::int64_t earliest = kNever;
  std::set<std::string> live;
  for (const auto& entry : service_.schedules()) {
    for (std::size_t i = 0; i < entry.triggers.size(); ++i) {
      const Trigger& trigger = entry.triggers[i];
      auto parsed = parsed_.find(trigger.schedule);
      if (parsed == parsed_.end()) {
        auto schedule = Schedule::parse(trigger.schedule);
        // The manifest was checked at deploy; a stored one that no longer
        // parses is skipped, loudly.
        if (!schedule) {
          spdlog::error("function {}: schedule '{}' does not parse: {}", entry.function,
                        trigger.schedule, schedule.error().message);
          continue;
        }
        parsed = parsed_.emplace(trigger.schedule, std::move(*schedule)).first;
      }
      const Schedule& schedule = parsed->second;
      const std::string key = trigger_key(i, trigger);
      const std::string id = entry.function + '\n' + key;
      live.insert(id);
      const std::int64_t now = store::now_unix_us();

      auto armed = armed_.find(id);
      if (armed == armed_.end()) {
        // First seen: deployed, or this node started.
        if (trigger.missed == MissedFirings::kCatchUp) {
          auto last = store.last_firing(entry.function, key);
          auto missed = schedule.last_at_or_before(now);
          if (last && *last && missed && *missed > **last) {
            auto fired = service_.fire(entry.function, trigger, entry.version, key, *missed);
            if (!fired) {
              spdlog::warn("function {}: the missed firing of '{}' could not be queued: {}",
                           entry.function, trigger.schedule, fired.error().message);
            } else if (*fired) {
              spdlog::info("function {}: caught up a missed firing of '{}'", entry.function,
                           trigger.schedule);
            }
          }
        }
        armed = armed_.emplace(id, Armed{entry.version, schedule.next_after(now)}).first;
      }
      armed->second.version = entry.version;
      if (armed->second.next_due_us <= now) {
        const std::int64_t due = armed->second.next_due_us;
        auto fired = service_.fire(entry.function, trigger, entry.version, key, due);
        if (!fired && store_failed(fired.error())) {
          // Neither claimed nor queued: tried again shortly, and fired late
          // (once) if the store answers before the next due time.
          spdlog::warn("function {}: cannot fire '{}': {}", entry.function, trigger.schedule,
                       fired.error().message);
          earliest = std::min(earliest, now + kRetryUs);
          continue;
        }
        if (!fired) {
          // A full queue, or the function going away: this due time is
          // skipped.
          spdlog::warn("function {}: a firing of '{}' was skipped: {}", entry.function,
                       trigger.schedule, fired.error().message);
        }
        armed->second.next_due_us = schedule.next_after(std::max(due, now));
      }
      earliest = std::min(earliest, armed->second.next_due_us);
    }
  }
  std::erase_if(armed_, [&](const auto& entry) { return !live.contains(entry.first); });
  return earliest;
}

}  // namespace nebula::service
