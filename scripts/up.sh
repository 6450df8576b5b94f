#!/usr/bin/env bash
# Quick start: sets Nebula up (scripts/setup.sh), starts the server in the
# background on 127.0.0.1:8080 and deploys every example, wasm and — when a
# Docker engine is there — docker variants side by side.
#
#   scripts/up.sh                 # then: curl -d 90 localhost:8080/v1/functions/fibonacci/invoke
#   scripts/up.sh stop            # stop the server
#   NEBULA_LISTEN=127.0.0.1:9000 scripts/up.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$NEBULA_ROOT"

LISTEN="${NEBULA_LISTEN:-127.0.0.1:8080}"
DATA="${NEBULA_DATA_DIR:-$NEBULA_ROOT/nebula-data}"
PIDFILE="$DATA/nebula.pid"
LOG="$DATA/nebula.log"
URL="http://$LISTEN"
NEBULA="$NEBULA_BUILD_DIR/nebula"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  if running; then
    kill -TERM "$(cat "$PIDFILE")" && note "stopping nebula (pid $(cat "$PIDFILE"))"
    for _ in $(seq 1 100); do running || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  exit 0
fi

scripts/setup.sh

docker_flag=()
docker_ok=0
if [ -z "${NEBULA_NO_DOCKER:-}" ] && docker info >/dev/null 2>&1; then docker_ok=1; else docker_flag=(--no-docker); fi

step "Nebula server on $URL"
mkdir -p "$DATA"
if running; then
  note "already running (pid $(cat "$PIDFILE")); restart with: scripts/up.sh stop && scripts/up.sh"
else
  nohup "$NEBULA" serve --listen "$LISTEN" --data-dir "$DATA" "${docker_flag[@]}" >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
    running || die "the server exited; see $LOG"
    sleep 0.1
  done
  curl -fsS "$URL/healthz" >/dev/null || die "the server does not answer on $URL; see $LOG"
  note "started (pid $(cat "$PIDFILE")), log: $LOG"
fi

step "Deploying the examples"
while read -r name; do
  [ -n "$name" ] || continue
  args=(deploy "$name" --server "$URL" --wasm "$NEBULA_BUILD_DIR/examples/$name.wasm")
  if [ "$docker_ok" = 1 ] && docker image inspect "nebula-fn-$name:latest" >/dev/null 2>&1; then
    args+=(--image "nebula-fn-$name:latest")
  fi
  "$NEBULA" "${args[@]}" | head -1 | sed 's/^/    /'
done <"$NEBULA_BUILD_DIR/examples/examples.txt"
# The same programs as WASI 0.2 command components, next to their modules.
if [ -f "$NEBULA_BUILD_DIR/examples/components/hello.wasm" ]; then
  while read -r name; do
    [ -n "$name" ] || continue
    "$NEBULA" deploy "$name-component" --server "$URL" \
      --wasm "$NEBULA_BUILD_DIR/examples/components/$name.wasm" | head -1 | sed 's/^/    /'
  done <"$NEBULA_BUILD_DIR/examples/examples.txt"
fi
# The wasi:http examples: HTTP handlers, each at its own route /fn/NAME/.
if [ -f "$NEBULA_BUILD_DIR/examples/http/http-hello.wasm" ]; then
  while read -r name; do
    [ -n "$name" ] || continue
    args=(deploy "$name" --server "$URL" --wasm "$NEBULA_BUILD_DIR/examples/http/$name.wasm")
    # http-fetch may reach this server itself, for the demonstration.
    [ "$name" = http-fetch ] && args+=(--allow-outbound "http://$LISTEN")
    "$NEBULA" "${args[@]}" | head -1 | sed 's/^/    /'
  done <"$NEBULA_BUILD_DIR/examples/http-examples.txt"
fi

# The function projects of every language (examples/lang/), deployed the
# way a user deploys a project: nebula deploy in its built folder.
if [ -s "$NEBULA_BUILD_DIR/examples/lang-examples.txt" ]; then
  while read -r name _lang _example _kind artifact image; do
    [ -n "$name" ] || continue
    args=(deploy --server "$URL" --project "$(dirname "$(dirname "$artifact")")")
    if [ "$image" = - ] || [ "$docker_ok" != 1 ] || ! docker image inspect "$image" >/dev/null 2>&1; then
      args+=(--no-docker)
    fi
    "$NEBULA" "${args[@]}" | head -1 | sed 's/^/    /'
  done <"$NEBULA_BUILD_DIR/examples/lang-examples.txt"
fi

step "Ready"
cat <<MSG
    Dashboard:  $URL/
    Try:        curl -d 90 $URL/v1/functions/fibonacci/invoke
                curl -d 90 '$URL/v1/functions/fibonacci/invoke?runtime=docker'
                curl -i $URL/fn/http-hello/
                curl -d '{"a":1}' '$URL/fn/http-echo/any/path?x=1'
                curl -d '{"items":[{"qty":2,"price_cents":150}]}' $URL/v1/functions/python-json-transform/invoke
                curl -i $URL/fn/js-http-hello/
                $NEBULA invoke fibonacci -v <<< 90
                $NEBULA ls
    Stop:       scripts/up.sh stop
MSG
