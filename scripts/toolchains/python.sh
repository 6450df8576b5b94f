#!/usr/bin/env bash
# Installs what Python function projects build with, into the cache
# (NEBULA_CACHE_DIR, default ~/.cache/nebula):
#
#   componentize-py-venv/   a venv of Debian's python3 with componentize-py
#                           from PyPI, which bundles CPython (built for WASI)
#                           and a function's modules into a component
#   bin/componentize-py     a link to it, for `nebula build`'s PATH
#   wit/                    the WASI 0.2 WIT files (scripts/toolchains/wit.sh)
#
# The Docker variants need no tools: they run on nebula-base-python, which
# scripts/base-images/python.sh builds.
#
# Idempotent: a venv already holding the pinned version is left alone, so a
# second run takes well under a second.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

# 0.25.1 builds components against the WIT it is given: with Nebula's WASI
# 0.2.12 files its imports stay within what wasmtime 48 provides.
componentize_py_version=0.25.1

cache="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}"
venv="$cache/componentize-py-venv"
bin="$cache/bin"

step "Python function tools (componentize-py $componentize_py_version)"
if [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $componentize_py_version" ]; then
  note "componentize-py $componentize_py_version present in $venv"
else
  # Debian's interpreter; python3-venv (scripts/debian-packages.txt) gives it
  # venv and pip.
  python=/usr/bin/python3
  [ -x "$python" ] || python="$(command -v python3)" || die "python3 not found: run scripts/setup.sh"
  "$python" -c 'import ensurepip, venv' 2>/dev/null ||
    die "$python cannot create venvs: install Debian's python3-venv (scripts/setup.sh does)"
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi
  note "installing componentize-py $componentize_py_version from PyPI into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "componentize-py==$componentize_py_version"
  [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $componentize_py_version" ] ||
    die "componentize-py $componentize_py_version does not run from $venv"
fi
mkdir -p "$bin"
ln -sfn "$venv/bin/componentize-py" "$bin/componentize-py"

bash "$(dirname "$0")/wit.sh"
