#!/usr/bin/env bash
# Makes a Go toolchain available to function builds as $NEBULA_CACHE_DIR/bin/go
# (NEBULA_CACHE_DIR defaults to ~/.cache/nebula; `nebula build` puts its bin/
# first on PATH). Go functions are built with GOOS=wasip1 GOARCH=wasm, which
# needs Go 1.21 or newer:
#
#   - the machine's Go is used when it is new enough (/usr/local/go/bin/go,
#     Debian's /usr/lib/go/bin/go, or a go on PATH);
#   - otherwise the official Go $go_version toolchain is fetched once from the
#     Go module proxy (module golang.org/toolchain, the same archive
#     `GOTOOLCHAIN=go1.N.M` downloads), checked against its go.sum hash and
#     unpacked into $NEBULA_CACHE_DIR/go/.
#
# bin/go is a small wrapper around the chosen go that keeps Go's build cache
# and GOPATH in the cache ($NEBULA_CACHE_DIR/go/{build-cache,path}) unless
# GOCACHE or GOPATH are set, and sets GOTOOLCHAIN=local so that a build never
# downloads another toolchain. Function projects use only the standard
# library: no module is ever fetched.
#
# Idempotent: a wrapper already pointing at a working Go is left alone, so a
# second run takes a fraction of a second.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

cache="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}"
bin="$cache/bin"
min_minor=21          # Go 1.21: the first with GOOS=wasip1
go_version=1.26.8     # fetched when the machine has no Go >= 1.$min_minor
# go.sum hashes (h1: = dirhash of the module zip) of golang.org/toolchain
# v0.0.1-go$go_version.linux-<arch>, as the Go checksum database lists them.
declare -A go_sum=(
  [amd64]="h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM="
  [arm64]="h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc="
)

# Prints "go1.N.M" when $1 is a working Go >= 1.$min_minor, fails otherwise.
usable_go() {
  local out
  [ -x "$1" ] || return 1
  out="$(GOTOOLCHAIN=local "$1" version 2>/dev/null)" || return 1
  [[ $out =~ ^go\ version\ (go1\.([0-9]+)[^ ]*) ]] || return 1
  ((BASH_REMATCH[2] >= min_minor)) || return 1
  echo "${BASH_REMATCH[1]}"
}

# The wrapper installed as bin/go for the Go at $1.
wrapper() {
  cat <<SH
#!/bin/sh
# Written by Nebula's scripts/toolchains/go.sh: the Go that builds functions.
GOTOOLCHAIN=local
GOCACHE="\${GOCACHE:-$cache/go/build-cache}"
GOPATH="\${GOPATH:-$cache/go/path}"
export GOTOOLCHAIN GOCACHE GOPATH
exec "$1" "\$@"
SH
}

# Installs bin/go for the Go at $1, unless it is already there.
link_go() {
  local want
  want="$(wrapper "$1")"
  if [ -x "$bin/go" ] && [ "$(cat "$bin/go")" = "$want" ]; then
    note "Go $(usable_go "$1") present ($1)"
    return
  fi
  mkdir -p "$bin"
  printf '%s\n' "$want" >"$bin/go.tmp"
  chmod +x "$bin/go.tmp"
  mv "$bin/go.tmp" "$bin/go"
  note "Go $(usable_go "$1") ($1) linked as $bin/go"
}

# 1. A Go on the machine.
candidates=(/usr/local/go/bin/go /usr/lib/go/bin/go)
if on_path="$(PATH="$(tr ':' '\n' <<<"$PATH" | grep -vxF "$bin" | paste -sd:)" command -v go)"; then
  candidates+=("$on_path")
fi
for go in "${candidates[@]}"; do
  if usable_go "$go" >/dev/null; then
    link_go "$go"
    exit 0
  fi
done

# 2. Go $go_version, fetched once into the cache.
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no Go >= 1.$min_minor on this machine, and no official toolchain is pinned for $(uname -m): install Go >= 1.$min_minor" ;;
esac
goroot="$cache/go/go$go_version.linux-$arch"
if ! usable_go "$goroot/bin/go" >/dev/null; then
  command -v curl >/dev/null || die "curl not found (Debian package curl): it fetches Go $go_version"
  command -v python3 >/dev/null || die "python3 not found: it unpacks and checks the Go $go_version archive"
  # The first proxy of GOPROXY, when one is set: a mirror works as well.
  proxy="${GOPROXY:-https://proxy.golang.org}"
  proxy="${proxy%%[,|]*}"
  case "$proxy" in http://* | https://*) ;; *) proxy=https://proxy.golang.org ;; esac
  module_version="v0.0.1-go$go_version.linux-$arch"
  url="${proxy%/}/golang.org/toolchain/@v/$module_version.zip"
  note "no Go >= 1.$min_minor on this machine: fetching Go $go_version ($arch) from the Go module proxy (~75 MB, once)"
  work="$cache/go/fetch"
  rm -rf "$work"
  mkdir -p "$work"
  curl -fsSL --retry 3 -o "$work/go.zip" "$url" || die "could not fetch $url"
  # Checks the archive's go.sum hash (Go's dirhash "h1": SHA-256 over the
  # sorted lines "<sha256 of file>  <name in zip>\n"), then unpacks it. Go
  # marks the programs under bin/ and pkg/tool/ executable itself when it
  # unpacks a toolchain; so does this.
  python3 - "$work/go.zip" "${go_sum[$arch]}" "$work/unpacked" <<'PY' || die "the Go $go_version archive from $url is damaged or not the pinned one"
import base64, hashlib, os, sys, zipfile
archive, want, dest = sys.argv[1:]
with zipfile.ZipFile(archive) as z:
    lines = "".join(
        "%s  %s\n" % (hashlib.sha256(z.read(name)).hexdigest(), name)
        for name in sorted(z.namelist()))
    got = "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    if got != want:
        sys.exit("go.sum hash %s, expected %s" % (got, want))
    z.extractall(dest)
for root, _, files in os.walk(dest):
    # <dest>/golang.org/toolchain@<version>/{bin,pkg/tool/<os_arch>}
    parts = os.path.relpath(root, dest).split(os.sep)[2:]
    if parts == ["bin"] or (len(parts) == 3 and parts[:2] == ["pkg", "tool"]):
        for f in files:
            os.chmod(os.path.join(root, f), 0o755)
PY
  rm -rf "$goroot"
  mv "$work/unpacked/golang.org/toolchain@$module_version" "$goroot"
  rm -rf "$work"
  usable_go "$goroot/bin/go" >/dev/null || die "Go $go_version from $url does not run on this machine"
fi
link_go "$goroot/bin/go"
