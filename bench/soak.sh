#!/usr/bin/env bash
# Soak: 100 concurrent clients for 10 minutes against a Nebula server of
# their own, mixing wasm invocations, docker warm-pool and cold
# invocations, deploys and deletes of throwaway functions, record queries,
# function reads and /metrics scrapes. Every answer is checked; every 10 s
# the server's resident memory, threads and descriptors, the SQLite
# database and WAL sizes and the containers on the engine are sampled.
# At the end the server is stopped and the containers left behind counted.
#
#   bench/soak.sh [--clients 100] [--duration-s 600] [--sample-s 10] [--no-docker]
#
# Passes (exit 0) with no platform 5xx, no wrong answer, no container left
# behind, and memory and descriptors flat over the last 5 minutes (the
# second half of that window at most 10 % above its first half). The JSON
# report goes to bench-results/soak.json. The test suite runs the same
# program for 60 seconds (soak_test).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$NEBULA_ROOT"

args=("$@")
docker=1
for a in "${args[@]}"; do [ "$a" = --no-docker ] && docker=0; done

step "Build nebula and nebula-soak"
cmake --build --preset "$NEBULA_PRESET" --target nebula nebula-soak nebula-watchdog >/dev/null
if [ "$docker" = 1 ]; then
  scripts/ensure-docker.sh
  docker image inspect nebula-fn-hello:latest >/dev/null 2>&1 ||
    cmake --build --preset "$NEBULA_PRESET" --target example_images >/dev/null
fi

mkdir -p bench-results
step "Soak"
"$NEBULA_BUILD_DIR/bench/nebula-soak" --out bench-results/soak.json "${args[@]}"
