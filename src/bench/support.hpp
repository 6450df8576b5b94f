#pragma once

// What every `nebula bench` suite needs around its measurements: Ctrl-C
// handling, a progress line on stderr, and the time stamps of a run.

#include <chrono>
#include <cstddef>
#include <string>

namespace nebula::bench {

using SteadyClock = std::chrono::steady_clock;

// Installs the SIGINT/SIGTERM handlers of a benchmark run: they only set a
// flag, which the loops check between two calls, so that the server child
// is always stopped and no half-written results are left behind.
void catch_interrupts();

// True once SIGINT or SIGTERM arrived after catch_interrupts().
[[nodiscard]] bool interrupted() noexcept;

// Now, UTC, ISO 8601 ("2026-11-21T10:04:00Z").
[[nodiscard]] std::string utc_now();

[[nodiscard]] double seconds_since(SteadyClock::time_point start);

// A short, printable excerpt of a body for error messages: newlines
// escaped, cut after `max` bytes with an ellipsis.
[[nodiscard]] std::string excerpt(const std::string& text, std::size_t max = 60);

// A progress bar on stderr, redrawn in place when stderr is a terminal;
// otherwise the caller's plain lines are all there is. Owned by the thread
// that runs the benchmark.
class Progress {
 public:
  explicit Progress(std::size_t total_units);

  [[nodiscard]] bool tty() const noexcept { return tty_; }

  void set_status(std::string status);
  void advance(std::size_t units = 1);
  // A line of its own: above the bar on a terminal, plain otherwise.
  void line(const std::string& text);
  void finish();

 private:
  void draw(bool force);

  bool tty_;
  std::size_t total_;
  std::size_t done_ = 0;
  std::string status_;
  SteadyClock::time_point start_;
  SteadyClock::time_point last_draw_{};
};

}  // namespace nebula::bench
