#!/usr/bin/env bash
# Throughput of the invoke route over HTTP, and the server's idle memory.
#
# Starts its own `nebula serve` (wasm only) on a free loopback port with a
# temporary data dir, deploys every example, then runs wrk against
# POST /v1/functions/hello/invoke and prints requests/s, latency percentiles
# and errors; finally the server's idle RSS with all examples deployed.
#
#   bench/http_throughput.sh [--connections 32] [--duration 10] [--threads 2]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

connections=32 duration=10 threads=2 function=hello
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --function) function=$2; shift 2 ;;
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

count=0
while read -r name; do
  "$NEBULA" deploy "$name" --server "$url" --wasm "$NEBULA_BUILD_DIR/examples/$name.wasm" >/dev/null
  count=$((count + 1))
done <"$NEBULA_BUILD_DIR/examples/examples.txt"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
sleep 2
idle_before=$(rss_kib)

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = ""
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", summary.errors.status))
end
LUA

echo "== wrk: POST /v1/functions/$function/invoke, $connections connections, $threads threads, ${duration}s"
"$NEBULA" invoke "$function" --server "$url" -d "" >/dev/null   # warm-up
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" \
  "$url/v1/functions/$function/invoke" | tee "$work/wrk.txt"

sleep 3
idle_after=$(rss_kib)
echo
echo "== server memory ($count example functions deployed)"
printf 'idle RSS before load: %.1f MiB\n' "$(echo "$idle_before / 1024" | bc -l)"
printf 'idle RSS after load:  %.1f MiB\n' "$(echo "$idle_after / 1024" | bc -l)"
echo "records written: $(curl -fsS "$url/metrics" | awk -v f="$function" '$1 ~ "^nebula_invocations_total\\{function=\""f"\"" {s+=$2} END {print s}')"
