#include "bench/support.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <unistd.h>
#include <utility>

namespace nebula::bench {
namespace {

// Set by SIGINT/SIGTERM. A signal handler can only reach a variable of
// static storage, hence this one file-level flag.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

}  // namespace

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() noexcept {
  return g_interrupted != 0;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string excerpt(const std::string& text, std::size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    out += (c == '\n') ? std::string("\\n") : std::string(1, c);
  }
  if (text.size() > max) out += "…";
  return out;
}

Progress::Progress(std::size_t total_units)
    : tty_(::isatty(STDERR_FILENO) == 1),
      total_(std::max<std::size_t>(total_units, 1)),
      start_(SteadyClock::now()) {}

void Progress::set_status(std::string status) {
  status_ = std::move(status);
  draw(false);
}

void Progress::advance(std::size_t units) {
  done_ = std::min(total_, done_ + units);
  draw(false);
}

void Progress::line(const std::string& text) {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", text.c_str());
  draw(true);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

void Progress::draw(bool force) {
  if (!tty_) return;
  const auto now = SteadyClock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  constexpr int kWidth = 30;
  const double share = static_cast<double>(done_) / static_cast<double>(total_);
  const int filled = static_cast<int>(share * kWidth);
  std::string bar;
  for (int i = 0; i < kWidth; ++i) bar += i < filled ? "█" : "░";
  const auto elapsed = static_cast<long>(seconds_since(start_));
  std::fprintf(stderr, "\r\033[K%s %3d%%  %ld:%02ld  %s", bar.c_str(),
               static_cast<int>(share * 100), elapsed / 60, elapsed % 60, status_.c_str());
  std::fflush(stderr);
}

}  // namespace nebula::bench
