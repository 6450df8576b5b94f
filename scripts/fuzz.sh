#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build/fuzz) and runs each one for
# a while: the manifest parser, HTTP request handling, the watchdog frames,
# the Docker engine's multiplexed stream.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     # default 30
#
# Each run starts from the committed seeds (fuzz/corpus/<target>/, copied
# into build/fuzz/corpus/<target>/, which also keeps what earlier runs
# found) and the committed regressions (fuzz/regressions/<target>/, read
# only). A crash, leak or timeout lands in build/fuzz/findings/; to keep it
# as a regression test, see fuzz/README.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$NEBULA_ROOT"
seconds="${1:-30}"
dir="$NEBULA_ROOT/build/fuzz"
targets=(manifest_fuzz http_request_fuzz watchdog_frame_fuzz multiplexed_stream_fuzz schedule_fuzz)

step "Build the fuzz targets (clang-14, ASan + UBSan + libFuzzer)"
CXX=clang++-14 CC=clang-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNEBULA_FUZZ=ON -DNEBULA_BUILD_TESTS=OFF -DNEBULA_BUILD_EXAMPLES=OFF \
  -DNEBULA_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" --target "${targets[@]}"

findings="$dir/findings"
mkdir -p "$findings"
for target in "${targets[@]}"; do
  step "$target for ${seconds}s"
  corpus="$dir/corpus/$target"
  mkdir -p "$corpus"
  # A copy, so that libFuzzer (which writes new inputs into its first
  # corpus directory) never touches the committed seeds.
  cp -f "$NEBULA_ROOT/fuzz/corpus/$target/"* "$corpus/"
  dirs=("$corpus")
  regressions="$NEBULA_ROOT/fuzz/regressions/$target"
  [ -d "$regressions" ] && dirs+=("$regressions")
  before=$(ls "$findings" | wc -l)
  "$dir/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$findings/$target-" "${dirs[@]}" 2>&1 |
    grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Done" || true
  # libFuzzer exits non-zero and writes crash-*, leak-* or timeout-* on a
  # finding.
  if [ "$(ls "$findings" | wc -l)" -gt "$before" ]; then
    die "$target found a problem: $(ls -t "$findings" | head -1) in $findings" \
      "(fuzz/README.md: make it a regression test)"
  fi
done
