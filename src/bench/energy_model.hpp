#pragma once

// Power when the machine cannot measure it: a linear model of CPU
// utilisation, per vCPU, as the Cloud Carbon Footprint methodology uses it
// for cloud instances. An estimate, and always labelled as one.

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nebula::bench {

// The label of every figure that comes from the model rather than RAPL.
inline constexpr std::string_view kEstimateMethod = "estimate: linear CPU-utilisation model";
inline constexpr std::string_view kMeasuredMethod = "measured (RAPL)";

// Watts per vCPU at 0 % and at 100 % utilisation. The defaults are the
// Cloud Carbon Footprint methodology's averages for AWS (minimum 0.74 W,
// maximum 3.5 W per vCPU).
struct PowerModel {
  double idle_w = 0.74;
  double max_w = 3.5;
};

// Where the default figures come from, for the reports.
inline constexpr std::string_view kPowerModelSource =
    "Cloud Carbon Footprint methodology: average minimum and maximum watts per vCPU of AWS "
    "instances (0.74 W and 3.5 W); https://www.cloudcarbonfootprint.org/docs/methodology";

// --power-model "IDLE_W,MAX_W": two positive numbers, the second larger.
// The error says what was wrong and what is expected.
[[nodiscard]] Result<PowerModel> parse_power_model(std::string_view text);

// The machine's power with `busy_cores` cores' worth of work (0 … vcpus):
// vcpus × idle_w + (max_w − idle_w) × busy_cores.
[[nodiscard]] double estimated_watts(const PowerModel& model, unsigned vcpus,
                                     double busy_cores) noexcept;

// The energy one call adds above idle when it costs `cpu_us` of CPU time:
// (max_w − idle_w) × cpu_us, in µWh. Negative CPU (a figure below idle)
// counts as 0.
[[nodiscard]] double estimated_marginal_uwh(const PowerModel& model, double cpu_us) noexcept;

// µJ to µWh (1 µWh = 3600 µJ).
[[nodiscard]] constexpr double uj_to_uwh(double uj) noexcept {
  return uj / 3600.0;
}

// The thesis' published energy per call, from its prototype's power
// readings, to set beside Nebula's.
inline constexpr double kThesisDockerUwhPerCall = 1150;
inline constexpr double kThesisWasmUwhPerCall = 6;

}  // namespace nebula::bench
