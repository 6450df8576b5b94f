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

}  // namespace

Invoker::Ticket::~Ticket() {
  if (invoker_ != nullptr) invoker_->pending_.fetch_sub(1);
}

Invoker::Invoker(Options options, Runtime* wasm, Runtime* docker, IdSource ids, RecordSink sink)
    : options_(options),
      wasm_(wasm),
      docker_(docker),
      ids_(std::move(ids)),
      sink_(std::move(sink)) {}

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

Result<Invocation> Invoker::run(Ticket ticket, const Function& function, RuntimeKind kind,
                                InvocationRequest request, Clock::time_point received) {
  const auto dequeued = Clock::now();
  Runtime* runtime = kind == RuntimeKind::kWasm ? wasm_ : docker_;
  if (!function.manifest.has(kind)) {
    return make_error(ErrorKind::kNotFound,
                      "function '" + function.name + "' has no " + to_string(kind) + " variant");
  }
  if (runtime == nullptr) {
    return make_error(ErrorKind::kUnavailable,
                      std::string("the ") + to_string(kind) +
                          " runtime is not available on this server (started with --no-docker?)");
  }
  const auto started_unix = unix_micros_now();
  const std::uint64_t input_bytes = request.body.size();
  running_.fetch_add(1);
  auto result = runtime->invoke(request);
  running_.fetch_sub(1);
  if (!result) return std::move(result).error();

  Invocation inv{std::move(*result), {}};
  auto& rec = inv.record;
  auto& res = inv.result;
  res.timings.queue_us = micros(dequeued - ticket.admitted_at());
  res.timings.total_us = micros(Clock::now() - received);
  rec.id = ids_();
  rec.function = function.name;
  rec.runtime = kind;
  rec.outcome = res.outcome;
  rec.exit_code = res.exit_code;
  rec.cold = res.cold;
  rec.timings = res.timings;
  rec.cpu_us = res.cpu_us;
  rec.max_memory_bytes = res.max_memory_bytes;
  rec.input_bytes = input_bytes;
  rec.output_bytes = res.stdout_data.size();
  rec.started_at_us = started_unix;
  rec.message = res.message;
  rec.stderr_tail = tail_of(res.stderr_data, kStderrTailBytes);
  if (sink_) sink_(inv);
  return inv;
}

}  // namespace nebula
