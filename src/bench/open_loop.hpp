#pragma once

// A load generator for one HTTP request sent again and again, in two
// modes:
//
//  - open loop: requests go out on a fixed schedule (evenly spaced at the
//    offered rate) whether or not earlier answers are back, and each
//    latency counts from the request's intended send time. A slow server
//    therefore shows up as growing latency rather than as a lower rate of
//    sending (no coordinated omission);
//  - closed loop: C connections, each sending its next request as soon as
//    the previous answer is in, for a duration: the throughput a server
//    sustains at that concurrency.
//
// Both run every connection on one io_context driven by the calling thread,
// with keep-alive connections; every connect, write and read has a timeout.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace nebula::bench {

// The request, the same every time.
struct LoadRequest {
  std::string host;  // an address or a name; resolved once
  std::string port;
  std::string method = "POST";
  std::string target;  // /v1/functions/NAME/invoke?runtime=wasm
  std::string body;
  std::string content_type = "application/octet-stream";
};

struct OpenLoopOptions {
  double rate_per_s = 0;  // 0: nothing is sent, the call only waits for `duration`
  std::chrono::milliseconds duration{1000};
  // Connections open at once at most. When every one is busy, due requests
  // wait in a FIFO for the first to come free; their latency still counts
  // from their intended time.
  std::size_t max_connections = 512;
  // After the last request is due: how long answers are still waited for.
  // What is outstanding then (in flight or still waiting for a connection)
  // counts as unfinished.
  std::chrono::milliseconds drain_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};  // connect, write, read: each
};

struct ClosedLoopOptions {
  unsigned connections = 1;
  std::chrono::milliseconds duration{1000};
  std::chrono::milliseconds drain_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
};

// What a run did. Every request due ends in exactly one of ok,
// status_errors, transport_errors and unfinished.
struct LoadResult {
  std::uint64_t scheduled = 0;  // requests due (open loop) or begun (closed loop)
  std::uint64_t sent = 0;       // of those, handed to a connection
  std::uint64_t ok = 0;         // answered 200
  std::map<unsigned, std::uint64_t> status_errors;        // answered with another status
  std::map<std::string, std::uint64_t> transport_errors;  // connect, write, read, timeout
  std::uint64_t unfinished = 0;                           // no answer by the end of the drain
  // Per 200 answer, µs from the intended send time (closed loop: from the
  // send) to the end of the answer. Unsorted.
  std::vector<double> latencies_us;
  double window_s = 0;   // the sending window as run (shorter when stopped)
  double elapsed_s = 0;  // from the start to the last answer, at least window_s
  std::size_t connections_opened = 0;
  std::size_t max_outstanding = 0;  // requests in flight or waiting at once
  std::size_t max_waiting = 0;      // requests waiting for a free connection at once

  [[nodiscard]] std::uint64_t status_error_count() const noexcept;
  [[nodiscard]] std::uint64_t transport_error_count() const noexcept;
  // Answered 200 per second over elapsed_s; 0 when nothing was.
  [[nodiscard]] double achieved_per_s() const noexcept;
};

// Polled between two sends: true stops sending; what is in flight is then
// cut off at once.
using StopRequested = std::function<bool()>;

// The number of requests an open loop at `rate_per_s` schedules in
// `duration`: one at the start and one every 1/rate after it, while the
// window lasts (⌈rate × duration⌉).
[[nodiscard]] std::uint64_t open_loop_schedule(double rate_per_s,
                                               std::chrono::milliseconds duration) noexcept;

// Runs an open loop on the calling thread and returns when it is over
// (the window, then the drain). Fails only when the host cannot be
// resolved or the options make no sense; a server that does not answer is
// a result (transport errors, unfinished).
[[nodiscard]] Result<LoadResult> run_open_loop(const LoadRequest& request,
                                               const OpenLoopOptions& options,
                                               const StopRequested& stop = {});

// Runs a closed loop on the calling thread: `connections` connections back
// to back for `duration`; a request still in flight at the end is waited
// for up to the drain timeout.
[[nodiscard]] Result<LoadResult> run_closed_loop(const LoadRequest& request,
                                                 const ClosedLoopOptions& options,
                                                 const StopRequested& stop = {});

}  // namespace nebula::bench
