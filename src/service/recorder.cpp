#include "service/recorder.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace nebula::service {

Recorder::Recorder(store::Store& store, metrics::Registry& metrics, RecorderOptions options)
    : store_(store), metrics_(metrics), options_(options), writer_([this] { write_loop(); }) {}

Recorder::~Recorder() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_all();
  writer_.join();
}

void Recorder::record(const Invocation& invocation) {
  const InvocationRecord& r = invocation.record;
  metrics_.record_invocation(r.function, r.runtime, r.outcome, r.cold, r.timings);
  const InvocationResult& res = invocation.result;
  if (res.outbound_requests > 0) {
    metrics_.record_outbound(r.function, res.outbound_requests - res.outbound_denied,
                             res.outbound_denied);
  }
  if (res.outbound_denied > 0) {
    spdlog::warn(
        "invocation {} of {}: {} outbound request(s) refused (not in allowed_outbound_hosts)", r.id,
        r.function, res.outbound_denied);
  }
  spdlog::debug(
      "invoke {} {} {} outcome={} exit={} cold={} queue={}us startup={}us exec={}us total={}us "
      "cpu={}us mem={}B",
      r.id, r.function, to_string(r.runtime), to_string(r.outcome), r.exit_code, r.cold,
      r.timings.queue_us, r.timings.startup_us, r.timings.exec_us, r.timings.total_us,
      r.cpu_us ? static_cast<long long>(*r.cpu_us) : -1LL,
      r.max_memory_bytes ? static_cast<long long>(*r.max_memory_bytes) : -1LL);

  std::unique_lock lock(mutex_);
  // No wait for room: the service admits no invocation while backlogged(),
  // so at most max_waiting + the invocations already running are queued.
  waiting_.push_back(r);
  waiting_.back().node = options_.node;
  ++queued_;
  // The first record of a batch starts the writer's clock; a full batch
  // goes at once.
  if (waiting_.size() == 1 || waiting_.size() >= options_.batch) wake_writer_.notify_one();
}

bool Recorder::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = queued_;
  if (written_ >= target) return true;
  ++flushing_;
  wake_writer_.notify_one();
  const bool done =
      done_.wait_for(lock, options_.max_flush_wait, [this, target] { return written_ >= target; });
  --flushing_;
  return done;
}

bool Recorder::backlogged() const {
  std::lock_guard lock(mutex_);
  return waiting_.size() >= options_.max_waiting;
}

std::size_t Recorder::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

std::uint64_t Recorder::committed() const {
  std::lock_guard lock(mutex_);
  return written_;
}

void Recorder::write_loop() {
  std::unique_lock lock(mutex_);
  std::chrono::milliseconds backoff(0);
  for (;;) {
    wake_writer_.wait(lock, [this] { return !waiting_.empty() || stopping_; });
    if (waiting_.empty() && stopping_) return;
    // Gather for up to max_delay, unless the batch fills, someone waits in
    // flush(), or the recorder stops.
    const auto deadline = std::chrono::steady_clock::now() + options_.max_delay;
    wake_writer_.wait_until(lock, deadline, [this] {
      return waiting_.size() >= options_.batch || stopping_ || flushing_ > 0;
    });
    std::vector<InvocationRecord> batch;
    const std::size_t n = std::min(waiting_.size(), options_.batch);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    lock.unlock();
    const std::vector<Status> results = store_.add_invocations(batch);
    const bool unreachable =
        !results.empty() && std::all_of(results.begin(), results.end(), [](const Status& st) {
          return !st && (st.error().kind == ErrorKind::kUnavailable ||
                         st.error().kind == ErrorKind::kNoSpace);
        });
    if (unreachable) {
      // Keep the batch, in order, at the head of the queue and try again
      // after a pause; only a stopping recorder gives up on it.
      lock.lock();
      if (!stopping_) {
        backoff =
            std::clamp(backoff * 2, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
        spdlog::warn("{} invocation record(s) wait for the store: {}; retrying in {} ms",
                     waiting_.size() + batch.size(), results.front().error().message,
                     backoff.count());
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
          waiting_.push_front(std::move(*it));
        }
        wake_writer_.wait_for(lock, backoff, [this] { return stopping_; });
        continue;
      }
      lock.unlock();
    }
    backoff = std::chrono::milliseconds(0);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) {
        spdlog::error("invocation {} of {} not recorded: {}", batch[i].id, batch[i].function,
                      results[i].error().message);
      }
    }
    lock.lock();
    written_ += n;
    done_.notify_all();
  }
}

}  // namespace nebula::service
