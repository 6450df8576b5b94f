#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime.hpp"
#include "wasm/engine.hpp"
#include "wasm/module.hpp"

namespace nebula::wasm {

// The WebAssembly backend. A prepared variant holds a linked Program (an
// InstancePre); each invocation gets a fresh Store and WASI context, so
// nothing leaks between invocations.
//
// Scale to zero: a variant not invoked for `unload_after` lets its Program
// go (its compiled code, its linked InstancePre and the pooled memory
// images made from it), and the process hands the freed heap back to the
// kernel. The next invocation loads the Program again from the compiled
// cache, which memory-maps the artifact (no compilation), and counts that
// load in its start-up time. A sweeper thread sleeps until the earliest
// moment a loaded variant could expire, so an idle server with nothing
// loaded never wakes for it.
//
// Thread-safe. Programs are cached by module digest, so that functions
// deploying the same module share one compiled, linked copy; the cache
// holds weak references and never keeps a Program alive.
class Runtime final : public nebula::Runtime {
 public:
  // Returns the compiled module or component for a digest (from the
  // compiled cache, or compiling the stored blob); `component` is what the
  // stored manifest says it is.
  using ModuleLoader = std::function<Result<Module>(const std::string& digest, bool component)>;

  // `unload_after` 0: variants keep their Program for as long as they live.
  // `on_idle` runs (on the sweeper's thread) each time a sweep leaves no
  // Program in memory: the moment for the process to give memory back.
  Runtime(Engine& engine, ModuleLoader loader,
          std::chrono::milliseconds unload_after = std::chrono::milliseconds(0),
          std::function<void()> on_idle = {});
  // Stops the sweeper.
  ~Runtime() override;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

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

  // Lets go of the Program of every variant idle for unload_after or
  // longer; returns how many variants let theirs go. The sweeper calls it;
  // tests call it to avoid waiting.
  std::size_t unload_idle();

 private:
  struct Variant;

  // Returns the Program for `digest`, linking it unless a live one exists.
  [[nodiscard]] Result<std::shared_ptr<const Program>> program_for(const std::string& digest,
                                                                   bool component);
  // The variant's Program, loaded again if it was let go; `load_us` gets
  // the time a load took (0 when it was there).
  [[nodiscard]] Result<std::shared_ptr<const Program>> acquire(Variant& variant,
                                                               std::int64_t& load_us);
  // A variant holds a Program again: the sweeper must wake by `deadline`.
  void schedule_sweep(std::chrono::steady_clock::time_point deadline);
  void sweeper_loop();

  Engine& engine_;
  ModuleLoader loader_;
  const std::chrono::milliseconds unload_after_;
  const std::function<void()> on_idle_;
  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<const Program>, std::less<>> programs_;  // guarded by mutex_
  std::vector<std::weak_ptr<Variant>> variants_;                               // guarded by mutex_

  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_cv_;
  // When the sweeper wakes next; max() when nothing is loaded.
  std::chrono::steady_clock::time_point sweep_at_ =
      std::chrono::steady_clock::time_point::max();  // guarded by sweeper_mutex_
  bool stopping_ = false;                            // guarded by sweeper_mutex_
  std::thread sweeper_;
};

}  // namespace nebula::wasm
