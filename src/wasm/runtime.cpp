#include "wasm/runtime.hpp"

#include <malloc.h>

#include <algorithm>
#include <optional>

#include "wasm/executor.hpp"

namespace nebula::wasm {

using SteadyClock = std::chrono::steady_clock;

// A wasm variant: the module a function links to and, while it is in use,
// its Program. Owned by the function service; the runtime's list of
// variants is weak and only lets the sweeper reach it.
struct Runtime::Variant final : PreparedVariant {
  Variant(std::string d, bool c, WasmKind k) : digest(std::move(d)), component(c), kind(k) {}

  const std::string digest;
  const bool component;
  const WasmKind kind;

  std::mutex mutex;
  std::shared_ptr<const Program> program;  // guarded by mutex; null once let go
  SteadyClock::time_point last_used;       // guarded by mutex
};

Runtime::Runtime(Engine& engine, ModuleLoader loader, std::chrono::milliseconds unload_after,
                 std::function<void()> on_idle)
    : engine_(engine),
      loader_(std::move(loader)),
      unload_after_(unload_after),
      on_idle_(std::move(on_idle)) {
  if (unload_after_.count() > 0) sweeper_ = std::thread([this] { sweeper_loop(); });
}

Runtime::~Runtime() {
  {
    std::lock_guard lock(sweeper_mutex_);
    stopping_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

Result<std::shared_ptr<const Program>> Runtime::program_for(const std::string& digest,
                                                            bool component) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = programs_.find(digest); it != programs_.end()) {
      if (auto live = it->second.lock()) return live;
    }
  }
  // Loading may compile (milliseconds): outside the lock. Two callers may
  // link the same module at once; the second one's copy wins the cache,
  // both are correct.
  auto module = loader_(digest, component);
  if (!module) return std::move(module).error();
  auto program = Program::link(engine_, std::move(*module));
  if (!program) return std::move(program).error();
  std::lock_guard lock(mutex_);
  for (auto it = programs_.begin(); it != programs_.end();) {
    it = it->second.expired() ? programs_.erase(it) : std::next(it);
  }
  programs_[digest] = *program;
  return std::move(*program);
}

Result<std::shared_ptr<PreparedVariant>> Runtime::prepare(const Function& function) {
  const auto& digest = function.manifest.wasm_module;
  if (!digest) {
    return make_error(ErrorKind::kNotFound,
                      "function '" + function.name + "' has no wasm variant");
  }
  const bool component = function.manifest.wasm_kind.has_value() &&
                         *function.manifest.wasm_kind != WasmKind::kModule;
  auto program = program_for(*digest, component);
  if (!program) return std::move(program).error();
  auto variant = std::make_shared<Variant>(*digest, component, (*program)->kind());
  variant->program = std::move(*program);
  variant->last_used = SteadyClock::now();
  {
    std::lock_guard lock(mutex_);
    std::erase_if(variants_, [](const std::weak_ptr<Variant>& v) { return v.expired(); });
    variants_.push_back(variant);
  }
  schedule_sweep(variant->last_used + unload_after_);
  return std::shared_ptr<PreparedVariant>(std::move(variant));
}

void Runtime::retire(PreparedVariant& /*variant*/) {
  // Nothing is held beyond the Program, which goes with its last reference.
}

WasmKind Runtime::kind_of(PreparedVariant& variant) {
  return variant_cast<Variant>(variant).kind;
}

std::size_t Runtime::live_programs() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [digest, weak] : programs_) n += weak.expired() ? 0 : 1;
  return n;
}

Result<std::shared_ptr<const Program>> Runtime::acquire(Variant& variant, std::int64_t& load_us) {
  load_us = 0;
  std::unique_lock lock(variant.mutex);
  variant.last_used = SteadyClock::now();
  if (variant.program) return variant.program;
  // Let go while idle: load it again. Concurrent first calls wait for one
  // load instead of each loading a copy.
  const auto t0 = SteadyClock::now();
  auto program = program_for(variant.digest, variant.component);
  if (!program) return std::move(program).error();
  variant.program = *program;
  const auto t1 = SteadyClock::now();
  load_us = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
  variant.last_used = t1;
  lock.unlock();
  schedule_sweep(t1 + unload_after_);
  return std::move(*program);
}

std::size_t Runtime::unload_idle() {
  std::vector<std::shared_ptr<Variant>> variants;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(variants_, [](const std::weak_ptr<Variant>& v) { return v.expired(); });
    for (const auto& weak : variants_) {
      if (auto v = weak.lock()) variants.push_back(std::move(v));
    }
  }
  const SteadyClock::time_point now = SteadyClock::now();
  std::size_t unloaded = 0;
  std::optional<SteadyClock::time_point> next;
  std::vector<std::shared_ptr<const Program>> released;
  for (const auto& v : variants) {
    std::lock_guard lock(v->mutex);
    if (!v->program) continue;
    if (now - v->last_used >= unload_after_) {
      // Dropped outside the variant's lock: freeing a Program unmaps its
      // code, which need not hold up an invocation of this variant.
      released.push_back(std::move(v->program));
      v->program.reset();
      ++unloaded;
    } else {
      const auto expiry = v->last_used + unload_after_;
      next = next ? std::min(*next, expiry) : expiry;
    }
  }
  const bool any = !released.empty();
  released.clear();
  if (any) {
    if (on_idle_ && live_programs() == 0) {
      on_idle_();
    } else {
      // Give back the heap the dropped programs used.
      ::malloc_trim(0);
    }
  }
  if (next) schedule_sweep(*next);
  return unloaded;
}

void Runtime::schedule_sweep(SteadyClock::time_point deadline) {
  if (unload_after_.count() <= 0) return;
  std::lock_guard lock(sweeper_mutex_);
  if (deadline >= sweep_at_) return;  // it wakes early enough already
  sweep_at_ = deadline;
  sweeper_cv_.notify_all();
}

void Runtime::sweeper_loop() {
  std::unique_lock lock(sweeper_mutex_);
  while (!stopping_) {
    if (sweep_at_ == SteadyClock::time_point::max()) {
      sweeper_cv_.wait(lock);  // nothing loaded: sleep until something is
      continue;
    }
    if (SteadyClock::now() < sweep_at_) {
      sweeper_cv_.wait_until(lock, sweep_at_);
      continue;
    }
    // Due. unload_idle() schedules the next sweep for what stays loaded;
    // a variant loaded meanwhile schedules its own.
    sweep_at_ = SteadyClock::time_point::max();
    lock.unlock();
    unload_idle();
    lock.lock();
  }
}

Result<InvocationResult> Runtime::invoke(PreparedVariant& prepared,
                                         const InvocationRequest& request) {
  auto& variant = variant_cast<Variant>(prepared);
  std::int64_t load_us = 0;
  auto program = acquire(variant, load_us);
  if (!program) return std::move(program).error();
  ExecSpec spec;
  spec.stdin_bytes = request.body;
  spec.argv.reserve(request.args.size() + 1);
  spec.argv.push_back(request.function);
  spec.argv.insert(spec.argv.end(), request.args.begin(), request.args.end());
  spec.env = request.env;
  spec.memory_bytes = static_cast<std::uint64_t>(request.limits.memory_mb) << 20;
  spec.timeout_ms = request.limits.timeout_ms;
  spec.max_output_bytes = request.limits.max_output_bytes;
  spec.allowed_outbound_hosts = request.allowed_outbound_hosts;
  spec.outbound_timeout_ms = request.limits.timeout_ms;
  Result<InvocationResult> result = [&]() -> Result<InvocationResult> {
    if ((*program)->kind() == WasmKind::kHttp) {
      if (!request.http) {
        return make_error(ErrorKind::kInvalidArgument,
                          "function '" + request.function +
                              "' is an HTTP handler: it needs the HTTP request itself");
      }
      return handle_http(**program, spec, *request.http, request.body);
    }
    return execute(**program, spec);
  }();
  // Loading the Program again is part of this call's start from zero.
  if (result) result->timings.startup_us += load_us;
  {
    std::lock_guard lock(variant.mutex);
    variant.last_used = SteadyClock::now();
  }
  return result;
}

}  // namespace nebula::wasm
