#!/usr/bin/env bash
# Installs what builds JavaScript functions into WebAssembly components, into
# the cache (NEBULA_CACHE_DIR, default ~/.cache/nebula), from npm:
#
#   js-tools/           componentize-js and what it runs: StarlingMonkey
#                       (SpiderMonkey built for WASI, ~12 MB of the output),
#                       Wizer, which snapshots the engine with the function's
#                       module already loaded, and jco, which makes the
#                       snapshot a component with WASI's preview 1 adapter
#   bin/componentize-js a wrapper that runs its command line with node
#   wit/                the WASI 0.2 WIT files (scripts/toolchains/wit.sh)
#
# A function's build then runs
#   componentize-js src/wasm.js --wit build/wit --world-name command -o build/function.wasm
# (see examples/lang/js/hello/nebula.toml). Node.js itself comes from the
# system: Debian's nodejs and npm are installed when node or npm is missing.
#
# Idempotent: js-tools/VERSION records the pinned versions, and a second run
# with the same pins only checks them (about a second).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"

cache="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}"
tools="$cache/js-tools"
bin="$cache/bin"

# componentize-js 0.23.0 writes components that import WASI 0.2.x at the
# versions of the WIT it is given (0.2.12 here) plus, for its engine, the
# wasi:http 0.2.10 of StarlingMonkey when fetch() is left in; wasmtime 48
# accepts both. Its dependencies are pinned too where they shape the
# output: jco (component-new and the preview 1 adapter) and Wizer.
componentize_js_version=0.23.0
jco_version=1.35.0
wizer_version=10.0.0
oxc_parser_version=0.76.0
pins="componentize-js $componentize_js_version jco $jco_version wizer $wizer_version oxc-parser $oxc_parser_version"

if [ -f "$here/wit.sh" ]; then
  bash "$here/wit.sh"
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  note "installing Node.js and npm from Debian"
  $SUDO apt-get install -y -q nodejs npm ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q nodejs npm; }
fi
node_version="$(node --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
[ "$node_major" -ge 18 ] 2>/dev/null || die "componentize-js needs Node.js 18 or newer, found $node_version"

cli="$tools/node_modules/@bytecodealliance/componentize-js/src/cli.js"
wrapper="$bin/componentize-js"
if [ -f "$cli" ] && [ "$(cat "$tools/VERSION" 2>/dev/null)" = "$pins" ] && [ -x "$wrapper" ]; then
  note "componentize-js $componentize_js_version present in $tools (node $node_version)"
  exit 0
fi

note "installing componentize-js $componentize_js_version from npm into $tools (~400 MB, once)"
mkdir -p "$tools" "$bin"
rm -f "$tools/VERSION"
# overrides pin the versions the packages' own ranges would float over.
cat >"$tools/package.json" <<JSON
{
  "private": true,
  "description": "Nebula's JavaScript component tools (scripts/toolchains/js.sh)",
  "dependencies": {
    "@bytecodealliance/componentize-js": "$componentize_js_version"
  },
  "overrides": {
    "@bytecodealliance/jco": "$jco_version",
    "@bytecodealliance/wizer": "$wizer_version",
    "oxc-parser": "$oxc_parser_version"
  }
}
JSON
# No package runs an install script: the binaries (Wizer, oxc's parser)
# come as per-platform packages.
npm install --prefix "$tools" --no-audit --no-fund --ignore-scripts --omit=dev \
  --loglevel=error >/dev/null

[ -f "$cli" ] || die "npm did not install componentize-js into $tools"
installed="$(node -p "require('$tools/node_modules/@bytecodealliance/componentize-js/package.json').version")"
[ "$installed" = "$componentize_js_version" ] ||
  die "npm installed componentize-js $installed, not $componentize_js_version"

cat >"$wrapper.tmp" <<SH
#!/bin/sh
# componentize-js $componentize_js_version, installed by scripts/toolchains/js.sh.
exec node "$cli" "\$@"
SH
chmod +x "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"
"$wrapper" --version >/dev/null || die "$wrapper does not run"
echo "$pins" >"$tools/VERSION"
note "componentize-js $componentize_js_version installed ($(du -sh "$tools" | cut -f1)); $wrapper"
