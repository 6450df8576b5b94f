#include "wasm/engine.hpp"

#include <chrono>

namespace nebula::wasm {

Result<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
  wasm_config_t* config = wasm_config_new();
  if (config == nullptr) return make_error(ErrorKind::kInternal, "wasmtime: cannot create config");

  wasmtime_config_epoch_interruption_set(config, true);
  wasmtime_config_parallel_compilation_set(config, true);
  wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
  // Copy-on-write memory images: instantiation maps the module's data
  // segments instead of copying them.
  wasmtime_config_memory_init_cow_set(config, true);

  if (options.pooling) {
    wasmtime_pooling_allocation_config_t* pool = wasmtime_pooling_allocation_config_new();
    wasmtime_pooling_allocation_config_total_core_instances_set(pool, options.max_instances);
    wasmtime_pooling_allocation_config_total_memories_set(pool, options.max_instances);
    wasmtime_pooling_allocation_config_total_tables_set(pool, options.max_instances);
    wasmtime_pooling_allocation_config_max_memory_size_set(pool, options.max_memory_bytes);
    wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pool,
                                                                       options.keep_resident_bytes);
    wasmtime_pooling_allocation_config_table_keep_resident_set(pool, 64 * 1024);
    wasmtime_pooling_allocation_strategy_set(config, pool);
    wasmtime_pooling_allocation_config_delete(pool);
  }

  // wasm_engine_new_with_config takes ownership of config.
  OwnedEngine engine(wasm_engine_new_with_config(config));
  if (!engine) {
    return make_error(ErrorKind::kInternal,
                      "wasmtime: cannot create the engine (is enough virtual address space "
                      "available for the pooling allocator?)");
  }
  return std::unique_ptr<Engine>(new Engine(std::move(engine), options));
}

Engine::Engine(OwnedEngine engine, const EngineOptions& options)
    : engine_(std::move(engine)), options_(options), ticker_([this] { tick_loop(); }) {}

Engine::~Engine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  ticker_.join();
}

std::string Engine::compatibility_key() {
  // Bump the suffix when EngineOptions or the config above change codegen.
  // Only [A-Za-z0-9_-]: the key names a directory.
  std::string key = std::string("wasmtime-") + WASMTIME_VERSION + "-x86_64-epoch-v1";
  for (char& c : key) {
    if (c == '.') c = '_';
  }
  return key;
}

void Engine::tick_loop() {
  const auto tick = std::chrono::microseconds(options_.tick_us);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (active_ == 0) {
      wake_.wait(lock, [this] { return stopping_ || active_ > 0; });
      continue;
    }
    // Sleeps a tick unless told to stop; then advances the epoch.
    if (wake_.wait_for(lock, tick, [this] { return stopping_; })) break;
    wasmtime_engine_increment_epoch(engine_.get());
  }
}

Engine::Activity::Activity(Engine& engine) : engine_(engine) {
  bool first = false;
  {
    std::lock_guard lock(engine_.mutex_);
    first = engine_.active_++ == 0;
  }
  if (first) engine_.wake_.notify_all();
}

Engine::Activity::~Activity() {
  std::lock_guard lock(engine_.mutex_);
  --engine_.active_;
}

}  // namespace nebula::wasm
