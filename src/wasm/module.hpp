#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/function.hpp"
#include "core/result.hpp"
#include "wasm/engine.hpp"
#include "wasm/handles.hpp"

namespace nebula::wasm {

// True when `bytes` is a binary WebAssembly component (layer 1) rather than
// a core module: the preamble says which.
[[nodiscard]] bool is_component_binary(std::string_view bytes) noexcept;

// Compiled code: a core module or a component. Immutable and thread-safe
// once built.
class Module {
 public:
  // Validates and compiles wasm bytes, a module or a component (or WAT
  // text, for tests). Errors are kInvalidArgument with the engine's reason.
  [[nodiscard]] static Result<Module> compile(const Engine& engine, std::string_view bytes);

  // Loads what `serialize` wrote with this engine's settings; `component`
  // says which kind it holds. Fails (kInvalidArgument) when the artifact is
  // from another engine version or configuration, or of the other kind;
  // the caller then recompiles.
  [[nodiscard]] static Result<Module> deserialize_file(const Engine& engine,
                                                       const std::filesystem::path& path,
                                                       bool component);

  // The same from bytes in memory (copied into fresh code memory).
  [[nodiscard]] static Result<Module> deserialize(const Engine& engine, std::string_view artifact,
                                                  bool component);

  [[nodiscard]] Result<std::string> serialize() const;

  [[nodiscard]] bool is_component() const noexcept { return static_cast<bool>(component_); }
  // The core module (null for a component).
  [[nodiscard]] wasmtime_module_t* raw() const noexcept { return module_.get(); }
  // The component (null for a core module).
  [[nodiscard]] const wasmtime_component_t* component() const noexcept {
    return component_.get();
  }

 private:
  explicit Module(OwnedModule module) : module_(std::move(module)) {}
  explicit Module(OwnedComponent component) : component_(std::move(component)) {}
  OwnedModule module_;
  OwnedComponent component_;
};

// Compiled code linked against what Nebula provides and ready to
// instantiate, so that each invocation only creates a store and
// instantiates: a core module against WASI preview 1 (wasmtime's
// InstancePre), a component against WASI 0.2 and wasi:http. Its kind says
// which contract it follows. Immutable and thread-safe.
class Program {
 public:
  // Fails with kInvalidArgument when a module is not a WASI command (no
  // `_start`) or imports anything but WASI preview 1, or when a component
  // exports neither wasi:cli/run nor wasi:http/incoming-handler (the error
  // names what it exports) or imports what Nebula does not provide.
  [[nodiscard]] static Result<std::shared_ptr<const Program>> link(const Engine& engine,
                                                                   Module module);

  [[nodiscard]] WasmKind kind() const noexcept { return kind_; }
  // For a core module.
  [[nodiscard]] const wasmtime_instance_pre_t* instance_pre() const noexcept { return pre_.get(); }
  // For a component.
  [[nodiscard]] const nebula_component_t* component() const noexcept { return linked_.get(); }
  [[nodiscard]] const Engine& engine() const noexcept { return engine_; }

  Program(const Engine& engine, Module module, OwnedInstancePre pre)
      : engine_(engine), kind_(WasmKind::kModule), module_(std::move(module)), pre_(std::move(pre)) {}
  Program(const Engine& engine, Module module, OwnedLinkedComponent linked, WasmKind kind)
      : engine_(engine), kind_(kind), module_(std::move(module)), linked_(std::move(linked)) {}

 private:
  const Engine& engine_;
  WasmKind kind_;
  Module module_;
  OwnedInstancePre pre_;
  OwnedLinkedComponent linked_;
};

}  // namespace nebula::wasm
