#pragma once

#include "bench/near_zero_model.hpp"

namespace nebula::bench {

// `nebula bench --suite near-zero`: starts its own server, deploys every
// example, then measures the idle footprint, the load curve of each
// runtime (open loop), the recovery after a burst and the scale from zero,
// and writes near-zero.json, near-zero.md and the charts into out_dir.
// Returns the process exit code (0 also when some calls failed: they are
// counted in the report).
[[nodiscard]] int run_near_zero(const NearZeroOptions& options);

}  // namespace nebula::bench
