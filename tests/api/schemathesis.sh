#!/usr/bin/env bash
# The HTTP API checked against its description, docs/openapi.yaml, by
# Schemathesis: it generates requests from the document (examples, boundary
# values, random and invalid data, and sequences that follow the document's
# links) and checks every answer against it (status codes, content types,
# headers, bodies, authentication, rejection of invalid data, methods).
#
# It starts its own `nebula serve --no-docker` on a free loopback port with a
# temporary data directory and a token, deploys one example function so that
# the linked operations have something to work on, runs Schemathesis, prints
# its summary, stops the server and exits non-zero on any failure.
#
#   tests/api/schemathesis.sh --nebula build/release/nebula \
#       --spec docs/openapi.yaml --token T --examples build/release/examples
#
# CTest runs it as `api.schemathesis` (label `integration`). Schemathesis
# comes from the venv scripts/setup.sh makes (NEBULA_CACHE_DIR, default
# ~/.cache/nebula, /venv). Environment:
#   NEBULA_SCHEMATHESIS_EXAMPLES  test cases per operation and phase (default 300)
#   NEBULA_SCHEMATHESIS_SEED      a seed, to repeat a run exactly
#   NEBULA_SCHEMATHESIS_ARGS      more arguments for `schemathesis run`
set -euo pipefail

# Operations left out of the run (operationIds); none at present.
EXCLUDED_OPERATIONS=()

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nebula="" spec="" token="" examples="" config="$here/schemathesis.toml"
venv="${NEBULA_CACHE_DIR:-$HOME/.cache/nebula}/venv"
while (($#)); do
  case "$1" in
    --nebula) nebula="$2"; shift 2 ;;
    --spec) spec="$2"; shift 2 ;;
    --token) token="$2"; shift 2 ;;
    --examples) examples="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    *) echo "schemathesis.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

fail() { echo "schemathesis.sh: $*" >&2; exit 1; }
# Schemathesis runs in a scratch directory: make every path absolute.
absolute() { [ -z "$1" ] || realpath -m -- "$1"; }
nebula="$(absolute "$nebula")" spec="$(absolute "$spec")" examples="$(absolute "$examples")"
config="$(absolute "$config")" venv="$(absolute "$venv")"
[ -x "$nebula" ] || fail "no nebula binary at '$nebula' (--nebula)"
[ -f "$spec" ] || fail "no OpenAPI document at '$spec' (--spec)"
[ -n "$token" ] || fail "--token is required"
[ -f "$examples/echo.wasm" ] || fail "no echo.wasm in '$examples' (--examples): build the examples"
[ -f "$config" ] || fail "no Schemathesis configuration at '$config'"
schemathesis="$venv/bin/schemathesis"
[ -x "$schemathesis" ] || fail "Schemathesis is not installed in $venv: run scripts/setup.sh"
command -v curl >/dev/null || fail "curl is needed"

work="$(mktemp -d "${TMPDIR:-/tmp}/nebula-api-test.XXXXXX")"
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "schemathesis.sh: the server did not stop within 10 s of SIGTERM; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the server ------------------------------------------------------------
"$nebula" serve --no-docker --listen 127.0.0.1:0 --data-dir "$work/data" \
  --token "$token" --log-level warn >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^listening on \(http:[^ ]*\).*$/\1/p' "$work/server.out" | head -1)"
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$work/server.log" >&2
  fail "the server did not start (no 'listening on' line within 30 s)"
fi
echo "nebula serving on $url (data in $work/data)"

# --- something for the linked operations to work on -------------------------
api() {  # api METHOD PATH [curl args…]: fails on an HTTP error
  local method="$1" path="$2"
  shift 2
  curl --silent --show-error --fail-with-body --max-time 30 -X "$method" \
    -H "Authorization: Bearer $token" "$@" "$url$path"
  echo
}
# The one-call deploy: the module's bytes as the body of the PUT.
api PUT /v1/functions/echo -H 'Content-Type: application/wasm' \
  --data-binary "@$examples/echo.wasm" >/dev/null
# The smallest WASI command, the example body of POST /v1/modules in the
# document, so that the PUT example naming its digest deploys.
printf '\0asm\001\0\0\0\001\004\001\140\0\0\003\002\001\0\007\012\001\006_start\0\0\012\004\001\002\0\013' \
  >"$work/minimal.wasm"
api POST /v1/modules -H 'Content-Type: application/wasm' --data-binary "@$work/minimal.wasm" >/dev/null
# One invocation, so that there is a record to list and fetch.
api POST /v1/functions/echo/invoke --data-binary 'hello, schemathesis' >/dev/null
echo "deployed 'echo' and invoked it once"

# --- Schemathesis -------------------------------------------------------------
args=(
  run "$spec"
  --url "$url"
  --checks all
  --phases examples,coverage,fuzzing,stateful
  --max-examples "${NEBULA_SCHEMATHESIS_EXAMPLES:-300}"
  --workers 1
  --request-timeout 30
  --generation-database none
  --no-color
  --report junit
  --report-dir "$work/report"
)
for operation in "${EXCLUDED_OPERATIONS[@]}"; do
  args+=(--exclude-operation-id "$operation")
done
[ -z "${NEBULA_SCHEMATHESIS_SEED:-}" ] || args+=(--seed "$NEBULA_SCHEMATHESIS_SEED")
# shellcheck disable=SC2206  # word splitting is the point
[ -z "${NEBULA_SCHEMATHESIS_ARGS:-}" ] || args+=(${NEBULA_SCHEMATHESIS_ARGS})

status=0
(cd "$work" && NEBULA_API_TOKEN="$token" SCHEMATHESIS_HOOKS="$here/hooks.py" \
  "$schemathesis" --config-file "$config" "${args[@]}") ||
  status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "schemathesis.sh: the server died during the run; its log:" >&2
  tail -n 50 "$work/server.log" >&2
  status=1
fi
stop_server
if ((status != 0)); then
  if [ -s "$work/server.log" ]; then
    echo "--- end of the server's log ---" >&2
    tail -n 30 "$work/server.log" >&2
  fi
  echo "schemathesis.sh: FAILED (schemathesis exit status $status)" >&2
else
  echo "schemathesis.sh: the API matches docs/openapi.yaml"
fi
exit "$status"
