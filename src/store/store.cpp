#include "store/store.hpp"

#include <algorithm>
#include <chrono>

namespace nebula::store {

std::int64_t now_unix_us() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count();
}

const char* to_string(TaskState state) noexcept {
  switch (state) {
    case TaskState::kQueued: return "queued";
    case TaskState::kRunning: return "running";
    case TaskState::kDone: return "done";
    case TaskState::kDead: return "dead";
  }
  return "queued";
}

std::optional<TaskState> parse_task_state(std::string_view text) noexcept {
  if (text == "queued") return TaskState::kQueued;
  if (text == "running") return TaskState::kRunning;
  if (text == "done") return TaskState::kDone;
  if (text == "dead") return TaskState::kDead;
  return std::nullopt;
}

Error function_not_found(std::string_view name) {
  return make_error(ErrorKind::kNotFound,
                    "function '" + std::string(name) + "' is not deployed (see GET /v1/functions)");
}

Status check_record(const InvocationRecord& record) {
  if (auto st = check_function_name(record.function); !st) return st;
  if (record.id.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "an invocation record needs an id");
  }
  return {};
}

void StatsBuilder::add(RuntimeKind runtime, Outcome outcome, bool cold, std::int64_t startup_us) {
  const auto k = static_cast<std::size_t>(runtime);
  RuntimeStats& r = runtime == RuntimeKind::kWasm ? stats_.wasm : stats_.docker;
  ++r.invocations;
  ++r.by_outcome[static_cast<std::size_t>(outcome)];
  startups_[k].push_back(startup_us);
  if (cold) {
    ++r.cold_starts;
    cold_startups_[k].push_back(startup_us);
  }
  ++stats_.invocations;
}

FunctionStats StatsBuilder::finish() {
  // Nearest rank: the ceil(n/2)-th smallest value.
  auto median = [](std::vector<std::int64_t>& v) -> std::optional<std::int64_t> {
    if (v.empty()) return std::nullopt;
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
  };
  for (RuntimeKind kind : {RuntimeKind::kWasm, RuntimeKind::kDocker}) {
    const auto k = static_cast<std::size_t>(kind);
    RuntimeStats& r = kind == RuntimeKind::kWasm ? stats_.wasm : stats_.docker;
    r.p50_startup_us = median(startups_[k]);
    r.p50_cold_startup_us = median(cold_startups_[k]);
  }
  return std::move(stats_);
}

}  // namespace nebula::store
