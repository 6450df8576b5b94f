#!/usr/bin/env bash
# Installs the tools that build WebAssembly components, into the cache
# (NEBULA_CACHE_DIR, default ~/.cache/nebula, under tools/), from crates.io:
#
#   wasm-tools          turns a preview 1 module into a component
#   wit-bindgen         C bindings for WIT worlds (the wasi:http examples)
#   wasi-adapters/      WASI's preview 1 adapters, from the crate
#                       wasi-preview1-component-adapter-provider at the
#                       version of the wasmtime Nebula embeds
#
# wasm-tools and wit-bindgen are also linked into the cache's bin/, which
# `nebula build` puts first on the PATH of build steps.
#
# Idempotent: a tool already at its pinned version is left alone, so a
# second run takes a second.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

tools="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}/tools"
wasm_tools_version=1.263.0
wit_bindgen_version=0.63.0
adapter_version=48.0.8   # = wasmtime-c-api-impl in wasmtime-capi/Cargo.toml

install_crate() {  # install_crate CRATE VERSION BINARY DIR
  local crate="$1" version="$2" binary="$3" dir="$tools/$4"
  if [ -x "$dir/bin/$binary" ] && "$dir/bin/$binary" --version 2>/dev/null | grep -q " $version"; then
    note "$crate $version present"
    return
  fi
  note "installing $crate $version from crates.io (a few minutes, once)"
  cargo install --quiet --locked "$crate@$version" --root "$dir"
}

install_crate wasm-tools "$wasm_tools_version" wasm-tools wasm-tools
install_crate wit-bindgen-cli "$wit_bindgen_version" wit-bindgen wit-bindgen
# On the PATH of function builds (`nebula build` puts bin/ first): the C
# wasi:http template runs both.
mkdir -p "$tools/../bin"
ln -sfn "$tools/wasm-tools/bin/wasm-tools" "$tools/../bin/wasm-tools"
ln -sfn "$tools/wit-bindgen/bin/wit-bindgen" "$tools/../bin/wit-bindgen"

adapters="$tools/wasi-adapters"
if [ -f "$adapters/VERSION" ] && [ "$(cat "$adapters/VERSION")" = "$adapter_version" ]; then
  note "WASI preview 1 adapters $adapter_version present"
else
  note "fetching the WASI preview 1 adapters $adapter_version from crates.io"
  fetch="$tools/adapter-fetch"
  mkdir -p "$fetch/src"
  cat >"$fetch/Cargo.toml" <<TOML
[package]
name = "nebula-adapter-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
wasi-preview1-component-adapter-provider = "=$adapter_version"
TOML
  : >"$fetch/src/lib.rs"
  manifest=$(cargo metadata --quiet --format-version 1 --manifest-path "$fetch/Cargo.toml" |
    python3 -c 'import json,sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "wasi-preview1-component-adapter-provider":
        print(p["manifest_path"])')
  [ -n "$manifest" ] || die "cargo did not fetch wasi-preview1-component-adapter-provider"
  mkdir -p "$adapters"
  cp "$(dirname "$manifest")"/artefacts/wasi_snapshot_preview1.*.wasm "$adapters/"
  echo "$adapter_version" >"$adapters/VERSION"
fi
