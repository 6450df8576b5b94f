#pragma once

#include "core/invoker.hpp"
#include "metrics/registry.hpp"
#include "store/registry.hpp"

namespace nebula::service {

// What happens to every finished invocation: it is counted in the metrics
// and committed to the store before its response goes out, so that an
// acknowledged invocation is always on record. A store failure is logged,
// not raised: the function ran and its caller gets its answer.
//
// Thread-safe; called on worker threads.
class Recorder {
 public:
  Recorder(store::Registry& store, metrics::Registry& metrics) : store_(store), metrics_(metrics) {}

  void record(const Invocation& invocation);

 private:
  store::Registry& store_;
  metrics::Registry& metrics_;
};

}  // namespace nebula::service
