#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "core/runtime.hpp"
#include "wasm/engine.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm {

// The WebAssembly backend (DESIGN §2, §4, §5). Each deployed function holds
// a linked Program (an InstancePre); each invocation gets a fresh Store and
// WASI context, so nothing leaks between invocations.
//
// Thread-safe: invoke() runs concurrently on the worker pool; prepare() and
// remove() swap Programs under a writer lock, and a running invocation keeps
// its Program alive through a shared_ptr.
class Runtime final : public nebula::Runtime {
 public:
  // Returns the compiled module for a digest (from the compiled cache, or
  // compiling the stored blob).
  using ModuleLoader = std::function<Result<Module>(const std::string& digest)>;

  Runtime(Engine& engine, ModuleLoader loader);

  [[nodiscard]] RuntimeKind kind() const noexcept override { return RuntimeKind::kWasm; }
  [[nodiscard]] Status prepare(const Function& function) override;
  void remove(std::string_view name) override;
  [[nodiscard]] Result<InvocationResult> invoke(const InvocationRequest& request) override;

  [[nodiscard]] Engine& engine() noexcept { return engine_; }

 private:
  struct Entry {
    std::string digest;
    std::shared_ptr<const Program> program;
  };

  Engine& engine_;
  ModuleLoader loader_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Entry, std::less<>> functions_;  // guarded by mutex_
};

}  // namespace nebula::wasm
