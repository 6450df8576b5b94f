#include "service/task_runner.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "service/function_service.hpp"

namespace nebula::service {
namespace {

// A store that cannot be reached is retried this often.
constexpr std::chrono::seconds kStoreRetry{1};
// Added to the longest function timeout to make a claim's lease.
constexpr std::int64_t kLeaseMarginUs = 30'000'000;
constexpr std::int64_t kMinLeaseUs = 60'000'000;

}  // namespace

TaskRunner::TaskRunner(FunctionService& service, TaskRunnerOptions options)
    : service_(service), options_(std::move(options)) {
  const unsigned n = std::max(1U, options_.threads);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i == 0); });
}

TaskRunner::~TaskRunner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskRunner::wake() {
  {
    std::lock_guard lock(mutex_);
    ++rings_;
  }
  wake_.notify_all();
}

std::int64_t TaskRunner::lease_us() const {
  const std::int64_t longest = service_.longest_timeout().count() * 1000;
  return std::max(kMinLeaseUs, longest + kLeaseMarginUs);
}

void TaskRunner::loop(bool first) {
  store::Store& store = service_.store();
  // With a shared store one thread looks for other nodes' tasks; it rings
  // the others when it finds one.
  const bool polls = first && store.shared();
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      seen = rings_;
    }
    auto claimed = store.claim_task(options_.node, store::now_unix_us(), lease_us());
    if (claimed && *claimed) {
      // There may be more: let the other threads look too.
      wake();
      finish(**claimed);
      continue;
    }
    auto wait_until = std::chrono::steady_clock::time_point::max();
    if (!claimed) {
      spdlog::warn("cannot take queued tasks from the store: {}", claimed.error().message);
      wait_until = std::chrono::steady_clock::now() + kStoreRetry;
    } else {
      if (polls) wait_until = std::chrono::steady_clock::now() + options_.poll;
      auto due = store.next_task_due();
      if (!due) {
        wait_until = std::min(wait_until, std::chrono::steady_clock::now() + kStoreRetry);
      } else if (*due) {
        const auto in =
            std::chrono::microseconds(std::max<std::int64_t>(0, **due - store::now_unix_us()));
        wait_until = std::min(wait_until, std::chrono::steady_clock::now() + in);
      }
    }
    std::unique_lock lock(mutex_);
    auto woken = [&] { return stop_ || rings_ != seen; };
    if (wait_until == std::chrono::steady_clock::time_point::max()) {
      wake_.wait(lock, woken);
    } else {
      wake_.wait_until(lock, wait_until, woken);
    }
  }
}

void TaskRunner::finish(store::AsyncTask& task) {
  service_.run_task(task);
  if (auto st = service_.store().finish_task(task); !st) {
    // Another node took it (our lease ran out) or the function went away:
    // its outcome is theirs to write.
    spdlog::warn("task {} of {}: its outcome could not be written: {}", task.id, task.function,
                 st.error().message);
    return;
  }
  if (task.state == store::TaskState::kQueued) {
    spdlog::info("task {} of {} failed (attempt {} of {}); retrying", task.id, task.function,
                 task.attempts, task.max_retries + 1);
    return;
  }
  service_.task_finished(task);
  if (!task.callback_url.empty() && service_.callback_poster()) {
    if (auto st = service_.callback_poster()(task); !st) {
      spdlog::warn("task {} of {}: callback failed: {}", task.id, task.function,
                   st.error().message);
    }
  }
}

}  // namespace nebula::service
