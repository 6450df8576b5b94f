# Shared helpers for Nebula's scripts. Source it; do not run it.
NEBULA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NEBULA_PRESET="${NEBULA_PRESET:-release}"
NEBULA_BUILD_DIR="${NEBULA_ROOT}/build/${NEBULA_PRESET}"
export PATH="${HOME}/.cargo/bin:${PATH}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for timing steps.
now() { date +%s; }

# A TCP port free on loopback right now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for URL: until it answers 200 (10 s at most).
wait_for() {
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  die "nothing answers at $1"
}
