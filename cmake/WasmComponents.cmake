# Builds wasi:http/proxy components from C: the guest is compiled with
# clang-14 for wasm32-wasi as a reactor, linked with the C bindings
# wit-bindgen generates for the wasi:http/proxy world, and turned into a
# component with wasm-tools and WASI's preview 1 proxy adapter.
#
#   nebula_http_component(NAME <name> SOURCE <file.c> OUTPUT <component.wasm>)
#
# The WIT comes from the wasmtime-wasi-http crate that Nebula's wasmtime
# build already fetched (located with `cargo metadata`), so guests and host
# agree on the interface version. Needs NEBULA_WASM_TOOLS, NEBULA_WIT_BINDGEN
# and NEBULA_WASI_ADAPTERS (examples/CMakeLists.txt finds them); without
# them NEBULA_HAVE_HTTP_COMPONENTS is OFF and nothing is built.

set(NEBULA_HAVE_HTTP_COMPONENTS OFF CACHE INTERNAL "wasi:http components can be built")
if(NOT NEBULA_HAVE_COMPONENT_TOOLS OR NOT NEBULA_WIT_BINDGEN)
  message(STATUS "wasi:http examples: wit-bindgen or wasm-tools missing (scripts/setup.sh "
                 "installs them): not built")
  return()
endif()

execute_process(
  COMMAND ${CARGO_EXECUTABLE} metadata --offline --format-version 1
          --manifest-path ${PROJECT_SOURCE_DIR}/wasmtime-capi/Cargo.toml
  OUTPUT_VARIABLE _metadata
  RESULT_VARIABLE _metadata_rc
  ERROR_QUIET)
set(NEBULA_HTTP_WIT "")
if(_metadata_rc EQUAL 0)
  string(JSON _count LENGTH "${_metadata}" packages)
  math(EXPR _last "${_count} - 1")
  foreach(_i RANGE ${_last})
    string(JSON _name GET "${_metadata}" packages ${_i} name)
    if(_name STREQUAL "wasmtime-wasi-http")
      string(JSON _manifest GET "${_metadata}" packages ${_i} manifest_path)
      get_filename_component(_crate "${_manifest}" DIRECTORY)
      set(NEBULA_HTTP_WIT "${_crate}/wit")
    endif()
  endforeach()
endif()
if(NOT EXISTS "${NEBULA_HTTP_WIT}/deps/http.wit")
  message(STATUS "wasi:http examples: the wasmtime-wasi-http WIT files were not found: not built")
  return()
endif()
file(STRINGS "${NEBULA_HTTP_WIT}/deps/http.wit" _package REGEX "^package wasi:http@")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" NEBULA_HTTP_WIT_VERSION "${_package}")
set(NEBULA_HAVE_HTTP_COMPONENTS ON CACHE INTERNAL "wasi:http components can be built")

# The bindings, generated once per build tree.
set(NEBULA_HTTP_BINDINGS "${CMAKE_BINARY_DIR}/wit-bindings/proxy" CACHE INTERNAL
    "C bindings for wasi:http/proxy")
set(_bindings "${NEBULA_HTTP_BINDINGS}")
add_custom_command(
  OUTPUT "${_bindings}/proxy.c" "${_bindings}/proxy.h" "${_bindings}/proxy_component_type.o"
  COMMAND "${NEBULA_WIT_BINDGEN}" c "${NEBULA_HTTP_WIT}"
          --world "wasi:http/proxy@${NEBULA_HTTP_WIT_VERSION}" --out-dir "${_bindings}"
  DEPENDS "${NEBULA_HTTP_WIT}/deps/http.wit"
  COMMENT "Generating C bindings for wasi:http/proxy@${NEBULA_HTTP_WIT_VERSION}"
  VERBATIM)
add_custom_target(nebula_http_bindings
  DEPENDS "${_bindings}/proxy.c" "${_bindings}/proxy.h" "${_bindings}/proxy_component_type.o")

function(nebula_http_component)
  cmake_parse_arguments(C "" "NAME;SOURCE;OUTPUT" "" ${ARGN})
  get_filename_component(_dir "${C_OUTPUT}" DIRECTORY)
  set(_bindings "${NEBULA_HTTP_BINDINGS}")
  set(_core "${_dir}/${C_NAME}.core.wasm")
  # A reactor: no main, the handler is exported. 32 MiB of initial memory
  # keeps Debian's 2022 wasi-libc from growing its heap over the adapter's
  # state (see examples/CMakeLists.txt).
  add_custom_command(
    OUTPUT "${C_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${_dir}"
    COMMAND "${NEBULA_WASI_CC}" --target=wasm32-wasi -mexec-model=reactor -std=c17 -O2
            -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-function
            "-I${_bindings}" "-I${PROJECT_SOURCE_DIR}/examples/common"
            -Wl,--strip-debug -Wl,--initial-memory=33554432
            "${C_SOURCE}" "${_bindings}/proxy.c" "${_bindings}/proxy_component_type.o"
            -o "${_core}"
    COMMAND "${NEBULA_WASM_TOOLS}" component new "${_core}"
            --adapt "wasi_snapshot_preview1=${NEBULA_WASI_ADAPTERS}/wasi_snapshot_preview1.proxy.wasm"
            -o "${C_OUTPUT}"
    DEPENDS "${C_SOURCE}" "${PROJECT_SOURCE_DIR}/examples/common/nebula_http.h"
            "${_bindings}/proxy.c" "${_bindings}/proxy_component_type.o"
    COMMENT "Building wasi:http component ${C_NAME}"
    VERBATIM)
endfunction()
