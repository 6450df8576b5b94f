#include "bench/energy_model.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nebula::bench {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A whole field as a finite number, or nullopt.
std::optional<double> number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

Error bad_model(std::string_view text, std::string_view why) {
  return make_error(ErrorKind::kInvalidArgument,
                    "--power-model expects IDLE_W,MAX_W (watts per vCPU, e.g. 0.74,3.5): got '" +
                        std::string(text) + "': " + std::string(why));
}

}  // namespace

Result<PowerModel> parse_power_model(std::string_view text) {
  const auto comma = text.find(',');
  if (comma == std::string_view::npos || text.find(',', comma + 1) != std::string_view::npos) {
    return bad_model(text, "two numbers separated by one comma are needed");
  }
  const auto idle = number(text.substr(0, comma));
  const auto max = number(text.substr(comma + 1));
  if (!idle || !max) return bad_model(text, "both must be numbers");
  if (*idle <= 0 || *max <= 0) return bad_model(text, "both must be positive");
  if (*max <= *idle) return bad_model(text, "the maximum must be larger than the idle power");
  return PowerModel{*idle, *max};
}

double estimated_watts(const PowerModel& model, unsigned vcpus, double busy_cores) noexcept {
  const double busy = std::clamp(busy_cores, 0.0, static_cast<double>(vcpus));
  return static_cast<double>(vcpus) * model.idle_w + (model.max_w - model.idle_w) * busy;
}

double estimated_marginal_uwh(const PowerModel& model, double cpu_us) noexcept {
  // W × µs = µJ.
  return uj_to_uwh((model.max_w - model.idle_w) * std::max(0.0, cpu_us));
}

}  // namespace nebula::bench
