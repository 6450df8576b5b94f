#!/usr/bin/env bash
# wasi:http components side by side: the same http-hello component served by
# `wasmtime serve` and by `nebula serve` (every invocation recorded), one
# after the other, with the same wrk load on loopback; then the in-process
# start-up of components next to core modules (bench/wasm_cold_start).
#
#   bench/http_components.sh [--duration 10] [--connections 32] [--threads 2] [--rounds 3]
#
# The two servers take turns, --rounds times each, so that a busy moment of
# the machine does not land on one of them only; the medians are compared.
#
# wasmtime-cli (the version Nebula embeds) is installed into the cache on
# first use (cargo install --locked, a few minutes once); the tests never
# need it.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

duration=10 connections=32 threads=2 rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done

NEBULA="$NEBULA_BUILD_DIR/nebula"
component="$NEBULA_BUILD_DIR/examples/http/http-hello.wasm"
[ -x "$NEBULA" ] || die "build first: cmake --build --preset $NEBULA_PRESET"
[ -f "$component" ] || die "no $component: run scripts/setup.sh (it installs the component tools)"
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"

wasmtime_version=48.0.8
tools="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}/tools"
wasmtime="$tools/wasmtime-$wasmtime_version/bin/wasmtime"
if [ ! -x "$wasmtime" ]; then
  step "Installing wasmtime-cli $wasmtime_version into $tools (once)"
  cargo install --quiet --locked "wasmtime-cli@$wasmtime_version" --root "$tools/wasmtime-$wasmtime_version"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_wrk NAME URL ROUND: prints one table row and keeps wrk's output
run_wrk() {
  local name="$1" url="$2" round="$3" out="$work/$1.$3.wrk"
  curl -fsS -o /dev/null "$url"  # warm
  wrk --latency -t"$threads" -c"$connections" -d"${duration}s" "$url" >"$out"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1=="50%" {print $2}' "$out")
  p99=$(awk '$1=="99%" {print $2}' "$out")
  errors=$(awk '/Non-2xx/ {print $5}' "$out")
  printf '%-16s %6s %12s %10s %10s %8s\n' "$name" "$round" "$rps" "$p50" "$p99" "${errors:-0}"
  echo "$rps $p99" >>"$work/$name.runs"
}

echo "http-hello ($(stat -c %s "$component") bytes), wrk -t$threads -c$connections -d${duration}s, loopback, $(nproc) cores, $rounds rounds"
echo
printf '%-16s %6s %12s %10s %10s %8s\n' "server" "round" "requests/s" "p50" "p99" "non-2xx"

# Both servers run throughout; wrk takes turns between them.
wport=$(free_port)
"$wasmtime" serve --addr "127.0.0.1:$wport" "$component" >"$work/wasmtime.log" 2>&1 &
pids+=($!)
nport=$(free_port)
"$NEBULA" serve --listen "127.0.0.1:$nport" --data-dir "$work/data" --no-docker \
  --log-level warn >"$work/nebula.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$wport/"
wait_for "http://127.0.0.1:$nport/healthz"
curl -fsS -X PUT -H 'Content-Type: application/wasm' --data-binary "@$component" \
  "http://127.0.0.1:$nport/v1/functions/http-hello" >/dev/null

for round in $(seq 1 "$rounds"); do
  run_wrk "wasmtime serve" "http://127.0.0.1:$wport/" "$round"
  sleep 1
  run_wrk "nebula serve" "http://127.0.0.1:$nport/fn/http-hello/" "$round"
  sleep 1
done
records=$(curl -fsS "http://127.0.0.1:$nport/metrics" |
  awk '/^nebula_invocations_total\{function="http-hello",runtime="wasm",outcome="ok"\}/ {print $2}')

echo
python3 - "$work" <<'PY'
import re, statistics, sys
work = sys.argv[1]
def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
def medians(name):
    runs = [line.split() for line in open(f"{work}/{name}.runs")]
    return statistics.median(float(r[0]) for r in runs), statistics.median(ms(r[1]) for r in runs)
w_rps, w_p99 = medians("wasmtime serve")
n_rps, n_p99 = medians("nebula serve")
print(f"medians: wasmtime serve {w_rps:.0f} req/s, p99 {w_p99:.2f} ms; "
      f"nebula serve {n_rps:.0f} req/s, p99 {n_p99:.2f} ms")
print(f"nebula / wasmtime serve: requests/s x{n_rps / w_rps:.2f}, p99 x{n_p99 / w_p99:.2f} "
      "(lower is better)")
PY
echo "nebula recorded $records invocations of http-hello (every one)"
echo
"$NEBULA_BUILD_DIR/bench/wasm_cold_start" --runs 2000 --naive-runs 20 hello 2>&1 | sed -n '/^components/,$p'
