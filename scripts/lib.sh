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
