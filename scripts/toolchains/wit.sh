#!/usr/bin/env bash
# Copies the WASI 0.2 WIT files that Nebula's wasmtime implements into the
# cache, as $NEBULA_CACHE_DIR/wit (default ~/.cache/nebula/wit): world.wit
# and deps/{cli,clocks,filesystem,http,io,random,sockets}.wit, which hold the
# worlds wasi:cli/command and wasi:http/proxy. Guests built against this copy
# import exactly the interface versions the host provides. `nebula build`
# hands the folder to build steps as NEBULA_WIT.
#
# The files come from the wasmtime-wasi-http crate that building Nebula's
# wasmtime already fetched, located with `cargo metadata --offline` like
# cmake/WasmComponents.cmake does. Idempotent: wit.stamp beside the copy
# holds wasmtime-capi/Cargo.lock's hash, and the copy is left alone while
# that is unchanged.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

cache="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}"
wit="$cache/wit"
manifest="$NEBULA_ROOT/wasmtime-capi/Cargo.toml"
lock="$NEBULA_ROOT/wasmtime-capi/Cargo.lock"

step "WASI 0.2 WIT files"

stamp="$(sha256sum "$lock" 2>/dev/null | cut -d' ' -f1 || true)"
if [ -n "$stamp" ] && [ -f "$wit/deps/http.wit" ] && [ -f "$wit/deps/cli.wit" ] &&
   [ "$(cat "$cache/wit.stamp" 2>/dev/null)" = "$stamp" ]; then
  note "WASI WIT present in $wit ($(sed -n 's/^package wasi:http@\(.*\);/\1/p' "$wit/deps/http.wit"))"
  exit 0
fi

command -v cargo >/dev/null || die "cargo not found: the WASI WIT comes from wasmtime's crates (install Rust, then run scripts/setup.sh)"

# Prints the directory of the wasmtime-wasi-http crate, reading cargo's
# metadata on stdin.
crate_dir() {
  python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "wasmtime-wasi-http":
        print(os.path.dirname(p["manifest_path"]))
        break'
}

# Without a platform filter cargo wants the manifests of every target's
# dependencies, also those no Linux build downloads; the host's platform is
# then enough.
src=""
if metadata="$(cargo metadata --offline --format-version 1 --manifest-path "$manifest" 2>/dev/null)"; then
  src="$(crate_dir <<<"$metadata")"
fi
if [ -z "$src" ]; then
  host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
  if [ -n "$host" ] && metadata="$(cargo metadata --offline --format-version 1 \
      --filter-platform "$host" --manifest-path "$manifest" 2>/dev/null)"; then
    src="$(crate_dir <<<"$metadata")"
  fi
fi
[ -n "$src" ] && [ -f "$src/wit/deps/http.wit" ] ||
  die "the wasmtime-wasi-http crate's WIT files were not found (cargo metadata --offline on $manifest): build Nebula first (scripts/setup.sh), which fetches wasmtime's crates"

# Copied aside and renamed into place, so that a build never sees half a
# copy; a parallel run that got there first wins.
mkdir -p "$cache"
tmp="$(mktemp -d "$cache/wit.tmp.XXXXXX")"
cp -r "$src/wit/." "$tmp/"
rm -rf "$wit"
mv -T "$tmp" "$wit" 2>/dev/null || rm -rf "$tmp"
[ -f "$wit/deps/http.wit" ] || die "could not copy the WIT files to $wit"
echo "$stamp" >"$cache/wit.stamp"
note "WASI WIT copied from $src to $wit ($(sed -n 's/^package wasi:http@\(.*\);/\1/p' "$wit/deps/http.wit"))"
