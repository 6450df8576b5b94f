#include "wasm/module.hpp"

#include <fstream>

namespace nebula::wasm {
namespace {

bool looks_like_binary_wasm(std::string_view bytes) {
  return bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("\0asm", 4);
}

// True when the module exports a function named `_start`.
bool exports_start(const wasmtime_module_t* module) {
  wasm_exporttype_vec_t exports;
  wasmtime_module_exports(module, &exports);
  bool found = false;
  for (std::size_t i = 0; i < exports.size && !found; ++i) {
    const wasm_name_t* name = wasm_exporttype_name(exports.data[i]);
    const wasm_externtype_t* type = wasm_exporttype_type(exports.data[i]);
    found = std::string_view(name->data, name->size) == "_start" &&
            wasm_externtype_kind(type) == WASM_EXTERN_FUNC;
  }
  wasm_exporttype_vec_delete(&exports);
  return found;
}

}  // namespace

bool is_component_binary(std::string_view bytes) noexcept {
  // "\0asm", then a 16-bit version and a 16-bit layer: modules are version
  // 1 layer 0, components layer 1.
  return looks_like_binary_wasm(bytes) && bytes.size() >= 8 && bytes[6] == '\x01' &&
         bytes[7] == '\x00';
}

Result<Module> Module::compile(const Engine& engine, std::string_view bytes) {
  if (bytes.empty()) {
    return make_error(ErrorKind::kInvalidArgument, "module is empty: expected wasm bytes");
  }
  std::string wasm_bytes;
  std::string_view input = bytes;
  if (!looks_like_binary_wasm(bytes)) {
    // Accept the text format too (handy for tests and small hand-written
    // guests); anything that is neither gets the parser's message.
    wasm_byte_vec_t out;
    if (wasmtime_error_t* err = wasmtime_wat2wasm(bytes.data(), bytes.size(), &out)) {
      return make_error(
          ErrorKind::kInvalidArgument,
          "not a WebAssembly module (no \\0asm header) and not valid WAT: " + take_message(err));
    }
    wasm_bytes.assign(out.data, out.size);
    wasm_byte_vec_delete(&out);
    input = wasm_bytes;
  }
  const auto* data = reinterpret_cast<const std::uint8_t*>(input.data());
  if (is_component_binary(input)) {
    wasmtime_component_t* component = nullptr;
    if (wasmtime_error_t* err =
            wasmtime_component_new(engine.raw(), data, input.size(), &component)) {
      return to_error(ErrorKind::kInvalidArgument, "invalid WebAssembly component", err);
    }
    return Module(OwnedComponent(component));
  }
  wasmtime_module_t* raw = nullptr;
  if (wasmtime_error_t* err = wasmtime_module_new(engine.raw(), data, input.size(), &raw)) {
    return to_error(ErrorKind::kInvalidArgument, "invalid WebAssembly module", err);
  }
  return Module(OwnedModule(raw));
}

Result<Module> Module::deserialize_file(const Engine& engine, const std::filesystem::path& path,
                                        bool component) {
  // The file is memory-mapped, not read: loading is a few syscalls.
  if (component) {
    wasmtime_component_t* raw = nullptr;
    if (wasmtime_error_t* err =
            wasmtime_component_deserialize_file(engine.raw(), path.c_str(), &raw)) {
      return to_error(ErrorKind::kInvalidArgument,
                      "cannot load compiled component " + path.string(), err);
    }
    return Module(OwnedComponent(raw));
  }
  wasmtime_module_t* raw = nullptr;
  if (wasmtime_error_t* err = wasmtime_module_deserialize_file(engine.raw(), path.c_str(), &raw)) {
    return to_error(ErrorKind::kInvalidArgument, "cannot load compiled module " + path.string(),
                    err);
  }
  return Module(OwnedModule(raw));
}

Result<Module> Module::deserialize(const Engine& engine, std::string_view artifact,
                                   bool component) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(artifact.data());
  if (component) {
    wasmtime_component_t* raw = nullptr;
    if (wasmtime_error_t* err =
            wasmtime_component_deserialize(engine.raw(), data, artifact.size(), &raw)) {
      return to_error(ErrorKind::kInvalidArgument, "cannot load compiled component", err);
    }
    return Module(OwnedComponent(raw));
  }
  wasmtime_module_t* raw = nullptr;
  if (wasmtime_error_t* err =
          wasmtime_module_deserialize(engine.raw(), data, artifact.size(), &raw)) {
    return to_error(ErrorKind::kInvalidArgument, "cannot load compiled module", err);
  }
  return Module(OwnedModule(raw));
}

Result<std::string> Module::serialize() const {
  wasm_byte_vec_t out;
  if (component_) {
    if (wasmtime_error_t* err = wasmtime_component_serialize(component_.get(), &out)) {
      return to_error(ErrorKind::kInternal, "cannot serialize component", err);
    }
    std::string bytes(out.data, out.size);
    wasm_byte_vec_delete(&out);
    return bytes;
  }
  if (wasmtime_error_t* err = wasmtime_module_serialize(module_.get(), &out)) {
    return to_error(ErrorKind::kInternal, "cannot serialize module", err);
  }
  std::string bytes(out.data, out.size);
  wasm_byte_vec_delete(&out);
  return bytes;
}

Result<std::shared_ptr<const Program>> Program::link(const Engine& engine, Module module) {
  if (module.is_component()) {
    nebula_component_t* linked = nullptr;
    if (wasmtime_error_t* err =
            nebula_component_link(engine.raw(), module.component(), &linked)) {
      return to_error(ErrorKind::kInvalidArgument, "component cannot be deployed", err);
    }
    OwnedLinkedComponent owned(linked);
    const WasmKind kind = nebula_component_kind(linked) == NEBULA_COMPONENT_HTTP
                              ? WasmKind::kHttp
                              : WasmKind::kCommand;
    return std::make_shared<const Program>(engine, std::move(module), std::move(owned), kind);
  }
  if (!exports_start(module.raw())) {
    return make_error(ErrorKind::kInvalidArgument,
                      "module is not a WASI command: it exports no `_start` function (build it "
                      "as an executable, e.g. clang --target=wasm32-wasi main.c)");
  }
  OwnedLinker linker(wasmtime_linker_new(engine.raw()));
  if (wasmtime_error_t* err = wasmtime_linker_define_wasi(linker.get())) {
    return to_error(ErrorKind::kInternal, "cannot define WASI", err);
  }
  wasmtime_instance_pre_t* pre = nullptr;
  if (wasmtime_error_t* err = wasmtime_linker_instantiate_pre(linker.get(), module.raw(), &pre)) {
    return to_error(ErrorKind::kInvalidArgument,
                    "module cannot be linked (Nebula provides only WASI preview 1 imports)", err);
  }
  return std::make_shared<const Program>(engine, std::move(module), OwnedInstancePre(pre));
}

}  // namespace nebula::wasm
