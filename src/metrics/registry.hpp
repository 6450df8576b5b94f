#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/function.hpp"
#include "core/invocation.hpp"

namespace nebula::metrics {

// Upper bounds of the latency histograms' buckets, in µs: from a wasm
// instantiation (tens of µs) to a slow container start (seconds).
inline constexpr std::array<std::int64_t, 19> kBucketBoundsUs = {
    10,     25,     50,      100,     250,     500,       1'000,     2'500,     5'000,     10'000,
    25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

// Nebula's Prometheus metrics:
//
//   nebula_invocations_total{function,runtime,outcome}        counter
//   nebula_cold_starts_total{function,runtime}                counter
//   nebula_invocation_startup_seconds{function,runtime}       histogram, cold starts only
//   nebula_invocation_exec_seconds{function,runtime}          histogram
//   nebula_invocation_total_seconds{function,runtime}         histogram
//   nebula_queue_depth                                        gauge
//   nebula_warm_containers{function}                          gauge
//   nebula_outbound_requests_total{function,decision}         counter (allowed, denied)
//   nebula_functions                                          gauge
//   process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_cpu_seconds_total                                 from /proc/self
//
// A (function, runtime) pair appears once it has been invoked, with all its
// outcome series (zero included, so that rate() sees the first increment).
//
// Thread-safety: all methods may be called from any thread. The hot path,
// record_invocation, takes one mutex and does one hash lookup; it allocates
// only the first time a function is seen.
class Registry {
 public:
  struct Options {
    // Adds the process_* series. Off only in tests, whose expected output
    // cannot know this process's memory and CPU.
    bool process_metrics = true;
  };

  Registry() = default;
  explicit Registry(Options options) : options_(options) {}
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Counts one finished invocation. Start-up is observed for cold starts
  // only (a warm reuse has none, ); exec is not observed for a
  // rejected invocation (it never ran); total always is. Negative durations
  // count as 0.
  void record_invocation(std::string_view function, RuntimeKind runtime, Outcome outcome, bool cold,
                         const Timings& timings);

  // Counts a wasm guest's outbound HTTP requests: those let through and
  // those its allowed_outbound_hosts refused.
  void record_outbound(std::string_view function, std::uint64_t allowed, std::uint64_t denied);

  void set_queue_depth(std::int64_t depth) noexcept;
  void set_functions(std::int64_t count) noexcept;
  void set_warm_containers(std::string_view function, std::int64_t count);
  // Invocations in flight on this node (for functions with a concurrency
  // limit), and calls refused after waiting for a slot.
  void set_in_flight(std::string_view function, std::int64_t count);
  void count_concurrency_limited(std::string_view function);
  // An async call or firing ended: done (true) or dead (false).
  void count_task_finished(std::string_view function, bool done);
  void count_firing(std::string_view function);

  // Drops every series of a deleted function. An invocation of it that was
  // still running and is recorded afterwards brings its series back.
  void remove_function(std::string_view function);

  // The Prometheus text exposition format, version 0.0.4
  // (Content-Type: text/plain; version=0.0.4; charset=utf-8). Series are
  // ordered by function name, so the output is deterministic.
  [[nodiscard]] std::string render() const;

 private:
  struct Histogram {
    // counts[i] is the number of observations in (bound[i-1], bound[i]];
    // the last slot holds those above every bound. Cumulated at render.
    std::array<std::uint64_t, kBucketBoundsUs.size() + 1> counts{};
    std::int64_t sum_us = 0;
    std::uint64_t count = 0;

    void observe(std::int64_t us) noexcept;
  };

  struct RuntimeSeries {
    bool used = false;
    std::array<std::uint64_t, 6> invocations{};  // indexed by Outcome
    std::uint64_t cold_starts = 0;
    Histogram startup;
    Histogram exec;
    Histogram total;
  };

  struct FunctionSeries {
    std::array<RuntimeSeries, 2> runtimes;  // indexed by RuntimeKind
    std::optional<std::int64_t> warm_containers;
    std::optional<std::int64_t> in_flight;
    std::uint64_t concurrency_limited = 0;
    std::uint64_t tasks_done = 0;
    std::uint64_t tasks_dead = 0;
    std::uint64_t firings = 0;
    std::uint64_t outbound_allowed = 0;
    std::uint64_t outbound_denied = 0;
  };

  // Lets find() take a string_view without building a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  FunctionSeries& series_locked(std::string_view function);

  Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, FunctionSeries, NameHash, std::equal_to<>> functions_;
  std::atomic<std::int64_t> queue_depth_{0};
  std::atomic<std::int64_t> function_count_{0};
};

// `value` with Prometheus label-value escaping: backslash, double quote and
// line feed become \\, \" and \n.
[[nodiscard]] std::string escape_label_value(std::string_view value);

}  // namespace nebula::metrics
