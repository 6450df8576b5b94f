#include "core/invoker.hpp"

#include <chrono>

namespace nebula {
namespace {

std::int64_t micros(Invoker::Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

std::int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Counts a running invocation for as long as it lives.
class Running {
 public:
  explicit Running(std::atomic<std::size_t>& counter) : counter_(counter) { counter_.fetch_add(1); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  ~Running() { counter_.fetch_sub(1); }

 private:
  std::atomic<std::size_t>& counter_;
};

}  // namespace

Invoker::Ticket::~Ticket() {
  if (invoker_ != nullptr) invoker_->pending_.fetch_sub(1);
}

Invoker::Invoker(Options options, IdSource ids, RecordSink sink)
    : options_(options), ids_(std::move(ids)), sink_(std::move(sink)) {}

Result<Invoker::Ticket> Invoker::admit() {
  std::size_t current = pending_.load();
  do {
    if (current >= options_.max_pending) {
      return make_error(ErrorKind::kOverloaded, "server is at capacity (" +
                                                    std::to_string(options_.max_pending) +
                                                    " invocations admitted); retry shortly");
    }
  } while (!pending_.compare_exchange_weak(current, current + 1));
  return Ticket(*this);
}

Result<Invocation> Invoker::run(Ticket ticket, const Target& target,
                                const InvocationRequest& request, Clock::time_point received) {
  // Waiting for this worker thread ends here; what the runtime waits for
  // before the function starts (a free warm container) is in its own
  // queue figure, added below.
  const auto dequeued = Clock::now();
  const auto started_unix = unix_micros_now();
  Result<InvocationResult> result = [&] {
    Running running(running_);
    return target.runtime.invoke(target.variant, request);
  }();
  if (!result) return std::move(result).error();

  Invocation inv{std::move(*result), {}};
  auto& res = inv.result;
  if (!request.redact.empty()) {
    // Before anything keeps or shows them: the record, the problem a
    // failure answers, the live log.
    res.stderr_data = redacted(std::move(res.stderr_data), request.redact);
    res.message = redacted(std::move(res.message), request.redact);
  }
  res.timings.queue_us += micros(dequeued - ticket.admitted_at());
  res.timings.total_us = micros(Clock::now() - received);

  auto& rec = inv.record;
  rec.id = request.id.empty() ? ids_() : request.id;
  rec.function = target.function.name;
  rec.runtime = target.kind;
  rec.outcome = res.outcome;
  rec.exit_code = res.exit_code;
  rec.cold = res.cold;
  rec.output_truncated = res.output_truncated;
  rec.timings = res.timings;
  rec.cpu_us = res.cpu_us;
  rec.max_memory_bytes = res.max_memory_bytes;
  rec.input_bytes = request.body.size();
  rec.output_bytes = request.http ? res.body_bytes : res.stdout_data.size();
  rec.started_at_us = started_unix;
  rec.message = res.message;
  rec.stderr_tail = tail_of(res.stderr_data, kStderrTailBytes);
  rec.version = target.function.version;
  rec.trigger = request.trigger;
  if (sink_) sink_(inv);
  return inv;
}

}  // namespace nebula
