#!/usr/bin/env bash
# Checks that Debian's Rust compiler can build Nebula's Rust functions: a
# WASI preview 1 module (--target wasm32-wasi) and a static Linux binary for
# the Docker image (-C target-feature=+crt-static).
#
# The compiler comes from Debian (scripts/debian-packages.txt: rustc,
# libstd-rust-dev, libstd-rust-dev-wasm32, and lld-14, which Debian's
# rust-lld is), not from rustup: a rustup toolchain in ~/.cargo/bin has only
# the targets added to it, so the function projects call /usr/bin/rustc by
# its full path. They use no crates and build with plain rustc: nothing is
# installed here, and no cache is needed.
#
# Idempotent: rust.stamp in the cache holds the compiler's version and its
# packages' versions as last checked; while they are unchanged a second run
# takes a fraction of a second.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

cache="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}"
stamp="$cache/rust.stamp"
rustc=/usr/bin/rustc
packages=(rustc libstd-rust-dev libstd-rust-dev-wasm32 lld-14)
install="apt-get install ${packages[*]} (scripts/setup.sh installs them from scripts/debian-packages.txt)"

[ -x "$rustc" ] || die "$rustc not found: Rust functions are built with Debian's Rust; $install"
version="$("$rustc" -vV 2>&1)" || die "$rustc does not run: $version"
state="$version
$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' "${packages[@]}" 2>/dev/null || true)"
release="$(sed -n 's/^release: //p' <<<"$version")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$state" ]; then
  note "rustc $release ($rustc) builds wasm32-wasi modules and static binaries"
  exit 0
fi

grep -qx wasm32-wasi <<<"$("$rustc" --print target-list)" ||
  die "$rustc $release has no wasm32-wasi target: $install"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf 'fn main() {\n    println!("hello from Rust");\n}\n' >"$work/main.rs"

"$rustc" --edition 2021 -O -C strip=symbols --target wasm32-wasi "$work/main.rs" \
  -o "$work/hello.wasm" >"$work/log" 2>&1 ||
  die "$rustc cannot build a wasm32-wasi module (needs libstd-rust-dev-wasm32, and lld-14 for rust-lld; $install):
$(cat "$work/log")"
[ "$(head -c 4 "$work/hello.wasm" | od -An -c | tr -d ' ')" = '\0asm' ] ||
  die "$rustc wrote something that is not a wasm module to $work/hello.wasm"

"$rustc" --edition 2021 -O -C strip=symbols -C target-feature=+crt-static "$work/main.rs" \
  -o "$work/hello" >"$work/log" 2>&1 ||
  die "$rustc cannot build a static Linux binary (needs libstd-rust-dev and libc6-dev; $install):
$(cat "$work/log")"
[ "$("$work/hello")" = "hello from Rust" ] || die "the static binary $rustc built does not run"
# A dynamically linked executable names its loader in an INTERP header.
if readelf -lW "$work/hello" | grep -q INTERP; then
  die "$rustc -C target-feature=+crt-static built a dynamically linked binary"
fi

mkdir -p "$cache"
printf '%s\n' "$state" >"$stamp"
note "rustc $release ($rustc) builds wasm32-wasi modules and static binaries"
