# wasmtime's C API (wasmtime.h / wasmtime.hh), built from crates.io by the
# small Cargo crate in wasmtime-capi/. The cargo target dir lives outside the
# checkout (NEBULA_CACHE_DIR, default ~/.cache/nebula) so that a fresh clone
# reuses an earlier build instead of compiling wasmtime again.
find_program(CARGO_EXECUTABLE cargo HINTS $ENV{HOME}/.cargo/bin REQUIRED)

if(DEFINED ENV{NEBULA_CACHE_DIR})
  set(_nebula_cache "$ENV{NEBULA_CACHE_DIR}")
else()
  set(_nebula_cache "$ENV{HOME}/.cache/nebula")
endif()
set(NEBULA_CARGO_TARGET_DIR "${_nebula_cache}/cargo-target" CACHE PATH
    "Cargo target dir for the wasmtime C API build")

set(_wt_dir "${NEBULA_CARGO_TARGET_DIR}/release")
set(WASMTIME_LIBRARY "${_wt_dir}/libnebula_wasmtime.a")
set(WASMTIME_INCLUDE_DIR "${_wt_dir}/include")
file(MAKE_DIRECTORY "${WASMTIME_INCLUDE_DIR}")

# cargo decides for itself whether anything changed; when nothing did this
# step takes about a second.
add_custom_target(wasmtime_capi
  COMMAND ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${NEBULA_CARGO_TARGET_DIR}
          ${CARGO_EXECUTABLE} build --release --locked --quiet
          --manifest-path ${CMAKE_SOURCE_DIR}/wasmtime-capi/Cargo.toml
  BYPRODUCTS "${WASMTIME_LIBRARY}"
  COMMENT "Building the wasmtime C API with cargo"
  USES_TERMINAL)

add_library(wasmtime::wasmtime STATIC IMPORTED GLOBAL)
set_target_properties(wasmtime::wasmtime PROPERTIES IMPORTED_LOCATION "${WASMTIME_LIBRARY}")
target_include_directories(wasmtime::wasmtime SYSTEM INTERFACE "${WASMTIME_INCLUDE_DIR}")
target_link_libraries(wasmtime::wasmtime INTERFACE Threads::Threads ${CMAKE_DL_LIBS} m)
add_dependencies(wasmtime::wasmtime wasmtime_capi)
