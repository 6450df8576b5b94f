#include "wasm/runtime.hpp"

#include <mutex>

#include "wasm/executor.hpp"

namespace nebula::wasm {

Runtime::Runtime(Engine& engine, ModuleLoader loader)
    : engine_(engine), loader_(std::move(loader)) {}

Status Runtime::prepare(const Function& function) {
  const auto& digest = function.manifest.wasm_module;
  if (!digest) {
    remove(function.name);
    return {};
  }
  {
    // Functions sharing a module share its Program: no second link.
    std::shared_lock lock(mutex_);
    for (const auto& [name, entry] : functions_) {
      if (entry.digest == *digest) {
        auto program = entry.program;
        lock.unlock();
        std::unique_lock write(mutex_);
        functions_[function.name] = Entry{*digest, std::move(program)};
        return {};
      }
    }
  }
  auto module = loader_(*digest);
  if (!module) return std::move(module).error();
  auto program = Program::link(engine_, std::move(*module));
  if (!program) return std::move(program).error();
  std::unique_lock lock(mutex_);
  functions_[function.name] = Entry{*digest, std::move(*program)};
  return {};
}

void Runtime::remove(std::string_view name) {
  std::unique_lock lock(mutex_);
  if (auto it = functions_.find(name); it != functions_.end()) functions_.erase(it);
}

Result<InvocationResult> Runtime::invoke(const InvocationRequest& request) {
  std::shared_ptr<const Program> program;
  {
    std::shared_lock lock(mutex_);
    auto it = functions_.find(request.function);
    if (it == functions_.end()) {
      return make_error(ErrorKind::kNotFound,
                        "function '" + request.function + "' has no wasm variant");
    }
    program = it->second.program;
  }
  ExecSpec spec;
  spec.stdin_bytes = request.body;
  spec.argv.reserve(request.args.size() + 1);
  spec.argv.push_back(request.function);
  spec.argv.insert(spec.argv.end(), request.args.begin(), request.args.end());
  spec.env = request.env;
  spec.memory_bytes = static_cast<std::uint64_t>(request.limits.memory_mb) << 20;
  spec.timeout_ms = request.limits.timeout_ms;
  spec.max_output_bytes = request.limits.max_output_bytes;
  return execute(*program, spec);
}

}  // namespace nebula::wasm
