#!/usr/bin/env bash
# Builds nebula-base-node:latest, the image JavaScript functions' Docker
# variants start FROM: the machine's Node.js binary and the shared libraries
# it loads, in a `FROM scratch` image. No registry is used: everything is
# copied from the host's nodejs package, which is Debian's (node 18, built
# against libnode and system libraries) on a fresh Debian 12 and installed
# here when missing, or whatever package already provides /usr/bin/node
# (e.g. a self-contained node 20 build, which needs only glibc and the C++
# runtime).
#
# What the image holds:
#   /usr/bin/node                  the node binary, its symbols stripped
#   /usr/lib/x86_64-linux-gnu      the libraries ldd lists for it (libnode,
#                                  ICU, OpenSSL, libuv… for Debian's build;
#                                  libc, libstdc++, libm… for a
#                                  self-contained one) and the loader
#   /usr/share/nodejs/…            Debian's build only: the built-in modules
#                                  it loads from files (undici, acorn,
#                                  cjs-module-lexer)
#   /etc/passwd, /etc/group        root and nobody (65534)
#   /tmp                           writable
# No npm, no headers, no CA certificates: functions bring their own sources
# and use only node's built-in modules.
#
# Idempotent: the image is labelled with a hash of this script and the
# nodejs package's version, and not built again while both are unchanged.
# Needs a running Docker engine (scripts/ensure-docker.sh starts one).
#
#   NEBULA_NODE=/path/to/node   package that binary instead of /usr/bin/node
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

image="nebula-base-node:latest"
node="${NEBULA_NODE:-/usr/bin/node}"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ! -x "$node" ]; then
  [ -z "${NEBULA_NODE:-}" ] || die "$node is not an executable"
  note "installing Debian's nodejs"
  $SUDO apt-get install -y -q --no-install-recommends nodejs ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends nodejs; }
fi
node="$(readlink -f "$node")"
version="$("$node" --version)" || die "$node does not run"
pkg="$(dpkg -S "$node" 2>/dev/null | cut -d: -f1 | head -n1 || true)"
if [ -n "$pkg" ]; then
  origin="$pkg $(dpkg-query -W -f='${Version}' "$pkg")"
else
  origin="$(sha256sum "$node" | cut -c1-16)"   # not from a package: its contents
fi
recipe="$( (cat "${BASH_SOURCE[0]}"; echo "$node $version $origin") | sha256sum | cut -c1-16)"

docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/ensure-docker.sh first"
if [ "$(docker image inspect "$image" --format '{{index .Config.Labels "nebula.recipe"}}' 2>/dev/null)" = "$recipe" ]; then
  note "$image present (node $version from $origin, recipe $recipe)"
  exit 0
fi

step "Building $image from node $version ($origin)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
lib="$root/usr/lib/x86_64-linux-gnu"
mkdir -p "$root"/{etc,tmp,usr/bin,usr/lib64} "$lib"
chmod 1777 "$root/tmp"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# The binary without its debugging symbols (a self-contained node ships
# them: ~12 MB).
if command -v strip >/dev/null; then
  strip --strip-unneeded -o "$root/usr/bin/node" "$node"
else
  cp "$node" "$root/usr/bin/node"
fi

# Every shared library node loads, under the name the loader looks for (the
# system search path needs no ld.so.cache), and the loader itself.
ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
  while read -r soname path; do
    cp -L "$path" "$lib/$soname"
  done
# glibc loads libgcc_s when a thread is cancelled or unwinds.
[ -f "$lib/libgcc_s.so.1" ] || cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$lib/"
cp -L /lib64/ld-linux-x86-64.so.2 "$lib/ld-linux-x86-64.so.2"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/usr/lib64/ld-linux-x86-64.so.2"

# Debian's node keeps some of its built-in modules outside libnode, in
# other packages (node-undici for fetch, node-cjs-module-lexer for importing
# CommonJS from ES modules, node-acorn for the REPL); libnode holds their
# paths. A self-contained node has none.
{ grep -aohE '/usr/share/nodejs/[A-Za-z0-9_./-]+\.js' "$root/usr/bin/node" "$lib"/*.so* || true; } | sort -u |
  while read -r js; do
    if [ -f "$js" ]; then
      mkdir -p "$root$(dirname "$js")"
      cp -L "$js" "$root$js"
    else
      note "warning: $js (a built-in module of this node) is missing"
    fi
  done

printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

cat >"$work/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
LABEL nebula.recipe="$recipe" org.opencontainers.image.description="Node.js $version ($origin) for Nebula functions"
USER 65534:65534
ENTRYPOINT ["/usr/bin/node"]
EOF
docker build --quiet --network none -t "$image" "$work" >/dev/null 2>"$work/build.log" ||
  { cat "$work/build.log" >&2; die "docker build failed"; }
# node starts in the image alone and has what the functions use: ES
# modules, BigInt, JSON, TextEncoder/TextDecoder, reading stdin.
echo '{"n":90}' | docker run --rm -i --network none "$image" --input-type=module -e '
import { readFileSync } from "node:fs";
const { n } = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(0)));
if (String(2n ** BigInt(n)) !== "1237940039285380274899124224") throw new Error("BigInt");
if (new TextEncoder().encode("é").length !== 2) throw new Error("TextEncoder");
console.log("node", process.version, "ok");' ||
  die "the image's node does not start or misses something"
note "$image: $(docker image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.1f MB", $1 / 1e6 }')"
