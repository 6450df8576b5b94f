//! Re-exports the wasmtime C API so that this crate's static library carries
//! every `wasm_*`, `wasi_*` and `wasmtime_*` symbol Nebula links against.
pub use wasmtime_c_api::*;
