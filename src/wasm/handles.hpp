#pragma once

#include <string>
#include <utility>

#include <nebula_wasmtime.h>
#include <wasi.h>
#include <wasmtime.h>

#include "core/result.hpp"

namespace nebula::wasm {

// Move-only owner of one wasmtime C handle, deleted with `Delete`.
template <class T, void (*Delete)(T*)>
class Owned {
 public:
  Owned() = default;
  explicit Owned(T* raw) noexcept : raw_(raw) {}
  Owned(Owned&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) reset(std::exchange(other.raw_, nullptr));
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  [[nodiscard]] T* get() const noexcept { return raw_; }
  [[nodiscard]] T* release() noexcept { return std::exchange(raw_, nullptr); }
  explicit operator bool() const noexcept { return raw_ != nullptr; }
  void reset(T* raw = nullptr) noexcept {
    if (raw_ != nullptr) Delete(raw_);
    raw_ = raw;
  }

 private:
  T* raw_ = nullptr;
};

using OwnedEngine = Owned<wasm_engine_t, wasm_engine_delete>;
using OwnedModule = Owned<wasmtime_module_t, wasmtime_module_delete>;
using OwnedLinker = Owned<wasmtime_linker_t, wasmtime_linker_delete>;
using OwnedInstancePre = Owned<wasmtime_instance_pre_t, wasmtime_instance_pre_delete>;
using OwnedStore = Owned<wasmtime_store_t, wasmtime_store_delete>;
using OwnedError = Owned<wasmtime_error_t, wasmtime_error_delete>;
using OwnedTrap = Owned<wasm_trap_t, wasm_trap_delete>;
using OwnedWasiConfig = Owned<wasi_config_t, wasi_config_delete>;
using OwnedComponent = Owned<wasmtime_component_t, wasmtime_component_delete>;
using OwnedLinkedComponent = Owned<nebula_component_t, nebula_component_delete>;

// The message of a wasmtime error (takes ownership and frees it).
[[nodiscard]] std::string take_message(wasmtime_error_t* error);

// The message of a trap, without freeing it.
[[nodiscard]] std::string trap_message(const wasm_trap_t* trap);

// Up to `max_frames` frames of a trap's wasm backtrace, one per line:
// "#0 func[12] (name) @0x1a4".
[[nodiscard]] std::string trap_backtrace(const wasm_trap_t* trap, std::size_t max_frames = 8);

// Wraps a wasmtime error into a Nebula Error of the given kind, freeing it.
[[nodiscard]] Error to_error(ErrorKind kind, std::string_view context, wasmtime_error_t* error);

}  // namespace nebula::wasm
