//! Re-exports the wasmtime C API so that this crate's static library carries
//! every `wasm_*`, `wasi_*` and `wasmtime_*` symbol Nebula links against, and
//! adds the entry points the C API lacks (include/nebula_wasmtime.h): a store
//! memory limit that traps, and components (src/component.rs).
pub use wasmtime_c_api::*;

#[allow(non_camel_case_types)]
mod component;
pub use component::*;

use wasmtime_c_api::wasmtime::{Store, StoreLimitsBuilder};

/// Caps a store's linear memory at `memory_bytes` (and its instances at
/// `instances`) so that a refused `memory.grow` traps instead of returning -1.
///
/// `wasmtime_store_limiter` only makes growth fail; the guest's allocator
/// then sees NULL and the host cannot tell a memory limit from any other
/// failure. Trapping makes exceeding the limit an unambiguous outcome, the
/// way a container is OOM-killed.
///
/// # Safety
/// `store` must be a live `wasmtime_store_t` from `wasmtime_store_new`, not
/// in use by another thread. `wasmtime_store_t` is `#[repr(C)]` with a
/// `Store<WasmtimeStoreData>` as its only field, so a pointer to it is a
/// pointer to that store; the crate version is pinned in Cargo.toml.
#[no_mangle]
pub unsafe extern "C" fn nebula_store_limit_memory(
    store: *mut wasmtime_store_t,
    memory_bytes: usize,
    instances: usize,
) {
    let store = &mut *(store as *mut Store<WasmtimeStoreData>);
    store.data_mut().store_limits = StoreLimitsBuilder::new()
        .memory_size(memory_bytes)
        .instances(instances)
        .trap_on_grow_failure(true)
        .build();
    store.limiter(|data| &mut data.store_limits);
}
