#!/usr/bin/env bash
# Builds nebula-base-python:latest, the image Python functions' Docker
# variants start FROM: Debian 12's CPython 3.11 with its whole standard
# library and nothing else, in a `FROM scratch` image. No registry is used:
# the interpreter, its modules and the shared libraries they load are copied
# from the host's Debian packages (python3.11-minimal, libpython3.11-stdlib).
#
# What the image holds:
#   /usr/bin/python3.11 (and python3)       the interpreter
#   /usr/lib/python3.11                     the standard library, compiled
#                                           (unchecked-hash .pyc beside each
#                                           .py), without its test suites,
#                                           tkinter, ensurepip, distutils'
#                                           build support and the static
#                                           libpython (config-3.11-*)
#   /usr/lib/x86_64-linux-gnu               the libraries ldd finds for the
#                                           interpreter and lib-dynload
#   /etc/passwd, /etc/group                 root and nobody (65534)
#   /tmp                                    writable, for tempfile
# Left out: _tkinter (Tk and X11), the C test modules, and nis (a NIS
# client, deprecated, which drags in Kerberos).
#
# Idempotent: the image is labelled with a hash of this script and the
# versions of the Debian packages it copies the most from (CPython, its
# standard library, glibc, OpenSSL), and not built again while they are
# unchanged.
# Needs a running Docker engine (scripts/ensure-docker.sh starts one).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

image="nebula-base-python:latest"
py=python3.11
pkg="${py}-minimal"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ ! -x "/usr/bin/$py" ] || [ ! -f "/usr/lib/$py/json/__init__.py" ]; then
  note "installing Debian's $py"
  $SUDO apt-get install -y -q --no-install-recommends "$py" ||
    { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends "$py"; }
fi
version="$(dpkg-query -W -f='${Version}' "$pkg")"
recipe="$( (cat "${BASH_SOURCE[0]}"
  dpkg-query -W "$pkg" "lib$py-stdlib" libc6 libssl3 2>/dev/null) | sha256sum | cut -c1-16)"

docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/ensure-docker.sh first"
if [ "$(docker image inspect "$image" --format '{{index .Config.Labels "nebula.recipe"}}' 2>/dev/null)" = "$recipe" ]; then
  note "$image present ($py $version, recipe $recipe)"
  exit 0
fi

step "Building $image from Debian's $py $version"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{etc,tmp,usr/bin,usr/lib/x86_64-linux-gnu,usr/lib64}
chmod 1777 "$root/tmp"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# The standard library, without what no function runs.
tar -C /usr/lib -c \
  --exclude="$py/test" --exclude="$py/*/test" --exclude="$py/*/tests" \
  --exclude="$py/idlelib" --exclude="$py/tkinter" --exclude="$py/turtledemo" \
  --exclude="$py/turtle.py" --exclude="$py/ensurepip" \
  --exclude="$py/config-3.11-*" --exclude="$py/dist-packages" \
  --exclude="$py/sitecustomize.py" --exclude='__pycache__' \
  --exclude="$py/lib-dynload/_tkinter.*" --exclude="$py/lib-dynload/_test*" \
  --exclude="$py/lib-dynload/_ctypes_test.*" --exclude="$py/lib-dynload/_xxtestfuzz.*" \
  --exclude="$py/lib-dynload/xxlimited*" --exclude="$py/lib-dynload/nis.*" \
  "$py" | tar -C "$root/usr/lib" -x
cp "/usr/bin/$py" "$root/usr/bin/$py"
ln -s "$py" "$root/usr/bin/python3"

# Every shared library the interpreter and its extension modules load, under
# the name the loader looks for (the system search path needs no cache).
for elf in "/usr/bin/$py" "$root/usr/lib/$py"/lib-dynload/*.so; do
  ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r soname path; do
  cp -L "$path" "$root/usr/lib/x86_64-linux-gnu/$soname"
done
# glibc loads libgcc_s when a thread is cancelled or unwinds.
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$root/usr/lib/x86_64-linux-gnu/"
cp -L /lib64/ld-linux-x86-64.so.2 "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$root/usr/lib64/ld-linux-x86-64.so.2"

# Bytecode for every module, checked against nothing: the image is read-only
# for user 65534, so nothing could be cached at run time.
"/usr/bin/$py" -I -m compileall -q -j0 --invalidation-mode unchecked-hash \
  -s "$root" -p / "$root/usr/lib/$py" >/dev/null

printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# The interpreter must start in the tree alone, not with the host's files.
# Checked in the image below, so only a static smoke test here.
[ -f "$root/usr/lib/$py/os.py" ] || die "the standard library was not copied"

cat >"$work/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
LABEL nebula.recipe="$recipe" org.opencontainers.image.description="Debian's CPython $version for Nebula functions"
USER 65534:65534
ENTRYPOINT ["/usr/bin/python3"]
EOF
docker build --quiet --network none -t "$image" "$work" >/dev/null
# A whole interpreter: the modules that load C libraries import, the
# pyc files are used.
docker run --rm --network none "$image" -I -c '
import ctypes, curses, dbm.ndbm, decimal, hashlib, json, lzma, bz2, readline, sqlite3, ssl, uuid, zlib
import sys
import os
assert os.path.exists(json.__cached__) and sys.flags.utf8_mode
print("python", sys.version.split()[0], "ok")' ||
  die "the image's interpreter does not start or misses modules"
note "$image: $(docker image inspect "$image" --format '{{.Size}}' | awk '{ printf "%.1f MB", $1 / 1e6 }')"
