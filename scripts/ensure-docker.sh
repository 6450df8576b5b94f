#!/usr/bin/env bash
# Makes sure a Docker engine answers on the socket Nebula uses.
#
# Idempotent: if an engine already answers, it exits 0 at once. Otherwise it
# installs Debian's docker.io when dockerd is missing, starts dockerd in the
# background with no bridge network and no iptables rules (functions'
# containers never get a network), and waits until the socket answers /_ping.
#
# Environment:
#   NEBULA_DOCKER_SOCKET   socket path (default /var/run/docker.sock)
#   NEBULA_DOCKERD_LOG     dockerd's log file (default /var/log/nebula-dockerd.log)
#   NEBULA_DOCKERD_WAIT_S  how long to wait for the engine (default 60)
set -euo pipefail

socket="${NEBULA_DOCKER_SOCKET:-/var/run/docker.sock}"
log="${NEBULA_DOCKERD_LOG:-/var/log/nebula-dockerd.log}"
wait_s="${NEBULA_DOCKERD_WAIT_S:-60}"

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

# True when the engine answers /_ping with "OK" on the socket (or, without
# curl, when `docker info` answers).
engine_answers() {
  [[ -S "$socket" ]] || return 1
  if command -v curl >/dev/null 2>&1; then
    local reply
    reply="$(curl -sf --max-time 2 --unix-socket "$socket" http://docker/_ping 2>/dev/null)" ||
      return 1
    [[ "$reply" == "OK" ]]
  else
    timeout 5 docker -H "unix://$socket" info >/dev/null 2>&1
  fi
}

if engine_answers; then
  say "engine already answers on $socket"
  exit 0
fi

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd not found; installing Debian's docker.io"
  if ! as_root apt-get install -y --no-install-recommends docker.io; then
    say "install failed; refreshing the package lists and retrying"
    as_root apt-get update
    as_root apt-get install -y --no-install-recommends docker.io
  fi
fi

# A dockerd of ours may already be starting (a parallel run of this script):
# then only wait for it.
if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd is already running; waiting for it to answer on $socket"
else
  say "starting dockerd (--bridge=none --iptables=false), log in $log"
  # A stale socket or pid file from a crashed engine blocks a new start.
  if [[ -e /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
    as_root rm -f /var/run/docker.pid
  fi
  as_root sh -c "nohup dockerd --host=unix://$socket --bridge=none --iptables=false \
    --ip-forward=false --ip-masq=false >>'$log' 2>&1 </dev/null &"
fi

deadline=$((SECONDS + wait_s))
while ((SECONDS < deadline)); do
  if engine_answers; then
    say "engine answers on $socket after $((SECONDS))s"
    exit 0
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd exited before answering; last lines of $log:"
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
  sleep 0.5
done

say "engine did not answer on $socket within ${wait_s}s; last lines of $log:"
tail -n 30 "$log" >&2 || true
exit 1
