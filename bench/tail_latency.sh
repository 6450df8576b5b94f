#!/usr/bin/env bash
# The invoke route's tail, run after run, and what the data directory does
# meanwhile. Starts its own `nebula serve` (wasm only, SQLite, every call
# recorded) on a free loopback port, deploys the hello example, then:
#
#   1. RUNS (10) consecutive wrk runs of THREADS (2) threads and
#      CONNECTIONS (32) connections for DURATION (10) s each, printing per
#      run requests/s, p50, p99, p99.9 and the largest latency, and the
#      SQLite WAL's size after it;
#   2. one run with a single connection, for its p99.9;
#   3. the WAL's size again after IDLE (10) s without calls.
#
# Target: p99 ≤ 10 ms in every run, p99.9 ≤ 5 ms with one connection, and a
# WAL that stays bounded under load and goes back to nothing at rest.
#
#   bench/tail_latency.sh [--runs 10] [--duration 10] [--connections 32] [--threads 2]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

runs=10 duration=10 connections=32 threads=2 idle=10
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done

NEBULA="$NEBULA_BUILD_DIR/nebula"
[ -x "$NEBULA" ] || die "build first: cmake --build --preset $NEBULA_PRESET"
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"

work=$(mktemp -d)
port=$(free_port)
url="http://127.0.0.1:$port"
"$NEBULA" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --no-docker \
  --log-level warn >"$work/server.log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$NEBULA" deploy hello --server "$url" --wasm "$NEBULA_BUILD_DIR/examples/hello.wasm" >/dev/null 2>&1

# wrk's own percentiles, in µs, from its done() hook; non-200 answers too.
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "Nebula"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %d %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), latency.max, summary.errors.status))
end
LUA

wal_kib() { local f="$work/data/nebula.db-wal"; [ -f "$f" ] && echo $(($(stat -c %s "$f") / 1024)) || echo 0; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }

printf '%-6s %10s %9s %9s %9s %9s %8s %9s\n' run "req/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" non-200 "WAL KiB"
worst_p99=0
for i in $(seq 1 "$runs"); do
  read -r rps p50 p99 p999 max non200 < <(wrk -t"$threads" -c"$connections" -d"${duration}s" \
    -s "$work/post.lua" "$url/v1/functions/hello/invoke" | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}')
  printf '%-6s %10s %9s %9s %9s %9s %8s %9s\n' "$i" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
    "$(ms "$p999")" "$(ms "$max")" "$non200" "$(wal_kib)"
  [ "$p99" -gt "$worst_p99" ] && worst_p99=$p99
done
read -r rps p50 p99 p999 max non200 < <(wrk -t1 -c1 -d"${duration}s" -s "$work/post.lua" \
  "$url/v1/functions/hello/invoke" | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}')
printf '%-6s %10s %9s %9s %9s %9s %8s %9s\n' "1 conn" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
  "$(ms "$p999")" "$(ms "$max")" "$non200" "$(wal_kib)"
sleep "$idle"
echo
echo "worst p99 over $runs runs: $(ms "$worst_p99") ms (target ≤ 10); one connection p99.9: $(ms "$p999") ms (target ≤ 5)"
echo "WAL after ${idle} s idle: $(wal_kib) KiB; server RSS $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") KiB"
