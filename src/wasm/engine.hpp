#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.hpp"
#include "wasm/handles.hpp"

namespace nebula::wasm {

struct EngineOptions {
  // The pooling allocator reserves every instance slot up front: the
  // server's choice (instantiation in microseconds). A one-shot run is
  // faster without it (nothing to set up for one instance).
  bool pooling = true;
  // Instances that may run at once (pooling allocator slots). Invocations
  // beyond this fail to instantiate, so keep it above the worker count.
  std::uint32_t max_instances = 128;
  // Largest linear memory any function may be granted (per-function limits
  // are enforced per store, below this).
  std::uint64_t max_memory_bytes = 4ULL << 30;
  // Bytes of each freed memory slot kept resident for the next instance:
  // avoids page faults on the hot path at the cost of idle RSS.
  std::uint64_t keep_resident_bytes = 64ULL << 10;
  // Epoch tick: the granularity of timeouts.
  std::uint32_t tick_us = 1000;
};

// The process-wide wasmtime engine: pooling allocator, copy-on-write memory
// images, epoch interruption, and one ticker thread that advances the epoch
// only while an invocation runs (an idle server wakes no thread).
//
// Thread-safe. Owns the ticker; the destructor joins it.
class Engine {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Engine>> create(const EngineOptions& options = {});

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  [[nodiscard]] wasm_engine_t* raw() const noexcept { return engine_.get(); }
  [[nodiscard]] const EngineOptions& options() const noexcept { return options_; }

  // Names the compiled-code format: wasmtime's version plus the settings
  // that change generated code. Compiled modules are cached under it.
  [[nodiscard]] static std::string compatibility_key();

  // While at least one Activity is alive the epoch advances every tick.
  class Activity {
   public:
    explicit Activity(Engine& engine);
    Activity(const Activity&) = delete;
    Activity& operator=(const Activity&) = delete;
    ~Activity();

   private:
    Engine& engine_;
  };

 private:
  Engine(OwnedEngine engine, const EngineOptions& options);
  void tick_loop();

  OwnedEngine engine_;
  EngineOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::uint32_t active_ = 0;  // guarded by mutex_
  bool stopping_ = false;     // guarded by mutex_
  std::thread ticker_;
};

}  // namespace nebula::wasm
