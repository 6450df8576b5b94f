#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "wasm/engine.hpp"
#include "wasm/handles.hpp"

namespace nebula::wasm {

// A compiled module. Immutable and thread-safe once built.
class Module {
 public:
  // Validates and compiles wasm bytes (or WAT text, for tests). Errors are
  // kInvalidArgument with the engine's reason.
  [[nodiscard]] static Result<Module> compile(const Engine& engine, std::string_view bytes);

  // Loads a module serialized by `serialize` with this engine's settings.
  // Fails (kInvalidArgument) when the artifact is from another engine
  // version or configuration; the caller then recompiles.
  [[nodiscard]] static Result<Module> deserialize_file(const Engine& engine,
                                                       const std::filesystem::path& path);

  [[nodiscard]] Result<std::string> serialize() const;

  [[nodiscard]] wasmtime_module_t* raw() const noexcept { return module_.get(); }

 private:
  explicit Module(OwnedModule module) : module_(std::move(module)) {}
  OwnedModule module_;
};

// A module linked against WASI preview 1 and ready to instantiate: its
// imports are resolved once, so each invocation only creates a Store and
// instantiates (wasmtime's InstancePre). Immutable and thread-safe.
class Program {
 public:
  // Fails with kInvalidArgument when the module is not a WASI command
  // (no `_start`), or imports anything but WASI preview 1.
  [[nodiscard]] static Result<std::shared_ptr<const Program>> link(const Engine& engine,
                                                                   Module module);

  [[nodiscard]] const wasmtime_instance_pre_t* instance_pre() const noexcept { return pre_.get(); }
  [[nodiscard]] const Engine& engine() const noexcept { return engine_; }

  Program(const Engine& engine, Module module, OwnedInstancePre pre)
      : engine_(engine), module_(std::move(module)), pre_(std::move(pre)) {}

 private:
  const Engine& engine_;
  Module module_;
  OwnedInstancePre pre_;
};

}  // namespace nebula::wasm
