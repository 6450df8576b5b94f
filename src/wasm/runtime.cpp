#include "wasm/runtime.hpp"

#include "wasm/executor.hpp"

namespace nebula::wasm {
namespace {

// A wasm variant: the program a function's module links to.
struct WasmVariant final : PreparedVariant {
  explicit WasmVariant(std::shared_ptr<const Program> p) : program(std::move(p)) {}
  std::shared_ptr<const Program> program;
};

}  // namespace

Runtime::Runtime(Engine& engine, ModuleLoader loader)
    : engine_(engine), loader_(std::move(loader)) {}

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
  return std::shared_ptr<PreparedVariant>(std::make_shared<WasmVariant>(std::move(*program)));
}

void Runtime::retire(PreparedVariant& /*variant*/) {
  // Nothing is held beyond the Program, which goes with its last reference.
}

WasmKind Runtime::kind_of(PreparedVariant& variant) {
  return variant_cast<WasmVariant>(variant).program->kind();
}

std::size_t Runtime::live_programs() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [digest, weak] : programs_) n += weak.expired() ? 0 : 1;
  return n;
}

Result<InvocationResult> Runtime::invoke(PreparedVariant& variant,
                                         const InvocationRequest& request) {
  const auto& wasm = variant_cast<WasmVariant>(variant);
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
  if (wasm.program->kind() == WasmKind::kHttp) {
    if (!request.http) {
      return make_error(ErrorKind::kInvalidArgument,
                        "function '" + request.function +
                            "' is an HTTP handler: it needs the HTTP request itself");
    }
    return handle_http(*wasm.program, spec, *request.http, request.body);
  }
  return execute(*wasm.program, spec);
}

}  // namespace nebula::wasm
