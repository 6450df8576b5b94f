#pragma once

#include <cstdlib>
#include <memory>

#include "core/function.hpp"
#include "core/invocation.hpp"
#include "core/result.hpp"

namespace nebula {

// One function's variant made ready by one runtime: a linked wasm program,
// or an inspected image with its warm pool. Only the runtime that made it
// looks inside; everyone else passes it back to that runtime unopened.
//
// Shared ownership: the function table holds one reference, and every
// invocation in flight holds another, so replacing or removing a function
// never pulls a variant from under a running call.
class PreparedVariant {
 public:
  virtual ~PreparedVariant() = default;
};

// The variant behind `variant` as the type its runtime made. A variant
// handed to the wrong runtime is a bug: terminate.
template <class T>
[[nodiscard]] T& variant_cast(PreparedVariant& variant) {
  auto* typed = dynamic_cast<T*>(&variant);
  if (typed == nullptr) std::abort();
  return *typed;
}

// What both backends implement. The function service is their only caller
// and the only owner of prepared variants; a runtime keeps no table of
// functions of its own (at most caches, e.g. programs shared by digest).
//
// Thread-safe: every method may be called from any thread at once.
class Runtime {
 public:
  virtual ~Runtime() = default;

  // Makes `function`'s variant for this runtime ready to run: load or
  // compile a module, inspect an image, pre-start warm containers. Blocks.
  // An error means the variant cannot be deployed; nothing is left behind.
  [[nodiscard]] virtual Result<std::shared_ptr<PreparedVariant>> prepare(
      const Function& function) = 0;

  // The variant will get no new invocations (its function was replaced or
  // removed): release what it holds, e.g. stop idle warm containers.
  // Invocations still running finish normally. Idempotent; blocks.
  virtual void retire(PreparedVariant& variant) = 0;

  // Runs one invocation of a variant this runtime prepared, to completion.
  // Blocks; never call on an I/O thread. A failing function is a result
  // with an outcome other than ok; an error is the platform's.
  [[nodiscard]] virtual Result<InvocationResult> invoke(PreparedVariant& variant,
                                                        const InvocationRequest& request) = 0;
};

}  // namespace nebula
