#!/usr/bin/env bash
# Sets up everything Nebula needs on a fresh Debian 12 machine, idempotently:
# system packages, a Python venv with Schemathesis (for the API test), the
# wasmtime C API (cargo, cached in ~/.cache/nebula), the toolchains of the
# function languages (scripts/toolchains/), Nebula itself and the examples,
# and a running Docker engine with the example images and the base images
# of the interpreted languages (scripts/base-images/). Safe to run
# again: every step skips work already done.
#
#   scripts/setup.sh            # all of the above
#   NEBULA_NO_DOCKER=1 scripts/setup.sh   # skip the Docker engine and images
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$NEBULA_ROOT"
started=$(now)

step "System packages"
mapfile -t packages < <(grep -vE '^\s*(#|$)' scripts/debian-packages.txt)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  note "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  note "all ${#packages[@]} packages present"
fi

# Node.js runs the dashboard's browser test; machines that ship their own
# (with npm) keep it, others get Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  note "installing Node.js and npm from Debian"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi

step "Python tools (Schemathesis, for the API test)"
# A venv of its own in the cache, so that nothing is installed into the
# system's Python; tests/api/schemathesis.sh runs it from there.
venv="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}/venv"
schemathesis_version=4.32.5
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $schemathesis_version" ]; then
  note "schemathesis $schemathesis_version present in $venv"
else
  # Debian's interpreter, which python3-venv above completes.
  python=/usr/bin/python3
  [ -x "$python" ] || python=python3
  [ -x "$venv/bin/pip" ] || "$python" -m venv "$venv"
  note "installing schemathesis $schemathesis_version into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

step "Rust toolchain (for the wasmtime C API)"
if ! command -v cargo >/dev/null; then
  die "cargo not found: install Rust (rustup) ≥ 1.95, then run this again"
fi
note "$(cargo --version)"
# wasmtime's crates, fetched now: the WASI WIT files the language
# toolchains build against come from them (scripts/toolchains/wit.sh).
cargo fetch --quiet --manifest-path wasmtime-capi/Cargo.toml

step "WebAssembly component tools (wasm-tools, wit-bindgen, WASI adapters)"
t=$(now)
scripts/component-tools.sh
note "ready in $(( $(now) - t )) s"

step "Language toolchains (Rust, Go, Python, JavaScript; cached in ~/.cache/nebula)"
t=$(now)
for lang in wit rust go python js; do
  scripts/toolchains/$lang.sh
done
note "ready in $(( $(now) - t )) s"

step "Build Nebula (${NEBULA_PRESET}) — the first build compiles wasmtime (~20 min on 2 cores)"
t=$(now)
cmake --preset "$NEBULA_PRESET" >/dev/null
cmake --build --preset "$NEBULA_PRESET"
note "built in $(( $(now) - t )) s"

if [ -z "${NEBULA_NO_DOCKER:-}" ]; then
  step "Docker engine"
  scripts/ensure-docker.sh
  step "Example images (nebula-fn-*:latest, FROM scratch)"
  t=$(now)
  cmake --build --preset "$NEBULA_PRESET" --target example_images
  note "images built in $(( $(now) - t )) s"
  step "Base images for interpreted languages (nebula-base-python, nebula-base-node)"
  t=$(now)
  scripts/base-images/python.sh
  scripts/base-images/node.sh
  note "ready in $(( $(now) - t )) s"
  step "Language example images (nebula-fn-<language>-<example>:latest)"
  t=$(now)
  cmake --build --preset "$NEBULA_PRESET" --target lang_example_images
  note "images built in $(( $(now) - t )) s"
fi

step "Setup finished in $(( $(now) - started )) s"
