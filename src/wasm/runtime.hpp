#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/runtime.hpp"
#include "wasm/engine.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm {

// The WebAssembly backend. A prepared variant holds a linked Program (an
// InstancePre); each invocation gets a fresh Store and WASI context, so
// nothing leaks between invocations.
//
// Thread-safe. The only state is a cache of Programs by module digest, so
// that functions deploying the same module share one compiled, linked copy;
// the cache holds weak references and never keeps a Program alive.
class Runtime final : public nebula::Runtime {
 public:
  // Returns the compiled module or component for a digest (from the
  // compiled cache, or compiling the stored blob); `component` is what the
  // stored manifest says it is.
  using ModuleLoader = std::function<Result<Module>(const std::string& digest, bool component)>;

  Runtime(Engine& engine, ModuleLoader loader);

  [[nodiscard]] Result<std::shared_ptr<PreparedVariant>> prepare(const Function& function) override;
  void retire(PreparedVariant& variant) override;
  [[nodiscard]] Result<InvocationResult> invoke(PreparedVariant& variant,
                                                const InvocationRequest& request) override;

  [[nodiscard]] Engine& engine() noexcept { return engine_; }

  // What a variant this runtime prepared is: module, command or HTTP
  // component.
  [[nodiscard]] static WasmKind kind_of(PreparedVariant& variant);

  // Programs currently alive (shared by every function using their module).
  [[nodiscard]] std::size_t live_programs() const;

 private:
  // Returns the Program for `digest`, linking it unless a live one exists.
  [[nodiscard]] Result<std::shared_ptr<const Program>> program_for(const std::string& digest,
                                                                   bool component);

  Engine& engine_;
  ModuleLoader loader_;
  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<const Program>, std::less<>> programs_;  // guarded by mutex_
};

}  // namespace nebula::wasm
