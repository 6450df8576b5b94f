#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build/fuzz) and runs each one for
# a while: the manifest parser, HTTP request handling, the watchdog frames.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     # default 30
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$NEBULA_ROOT"
seconds="${1:-30}"
dir="$NEBULA_ROOT/build/fuzz"

step "Build the fuzz targets (clang-14, ASan + UBSan + libFuzzer)"
CXX=clang++-14 CC=clang-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNEBULA_FUZZ=ON -DNEBULA_BUILD_TESTS=OFF -DNEBULA_BUILD_EXAMPLES=OFF \
  -DNEBULA_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" --target manifest_fuzz http_request_fuzz watchdog_frame_fuzz

for target in manifest_fuzz http_request_fuzz watchdog_frame_fuzz; do
  step "$target for ${seconds}s"
  corpus="$dir/corpus/$target"
  mkdir -p "$corpus"
  "$dir/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 "$corpus" 2>&1 |
    grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Done" || true
  # libFuzzer exits non-zero and writes crash-* on a finding.
  if ls crash-* leak-* timeout-* >/dev/null 2>&1; then die "$target found a crash: $(ls crash-* leak-* timeout-* 2>/dev/null)"; fi
done
