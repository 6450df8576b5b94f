#include "service/recorder.hpp"

#include <spdlog/spdlog.h>

namespace nebula::service {

void Recorder::record(const Invocation& invocation) {
  const InvocationRecord& r = invocation.record;
  metrics_.record_invocation(r.function, r.runtime, r.outcome, r.cold, r.timings);
  const InvocationResult& res = invocation.result;
  if (res.outbound_requests > 0) {
    metrics_.record_outbound(r.function, res.outbound_requests - res.outbound_denied,
                             res.outbound_denied);
  }
  if (res.outbound_denied > 0) {
    spdlog::warn("invocation {} of {}: {} outbound request(s) refused (not in allowed_outbound_hosts)",
                 r.id, r.function, res.outbound_denied);
  }
  if (auto st = store_.add_invocation(r); !st) {
    spdlog::error("invocation {} of {} not recorded: {}", r.id, r.function, st.error().message);
  }
  spdlog::debug(
      "invoke {} {} {} outcome={} exit={} cold={} queue={}us startup={}us exec={}us total={}us "
      "cpu={}us mem={}B",
      r.id, r.function, to_string(r.runtime), to_string(r.outcome), r.exit_code, r.cold,
      r.timings.queue_us, r.timings.startup_us, r.timings.exec_us, r.timings.total_us,
      r.cpu_us ? static_cast<long long>(*r.cpu_us) : -1LL,
      r.max_memory_bytes ? static_cast<long long>(*r.max_memory_bytes) : -1LL);
}

}  // namespace nebula::service
