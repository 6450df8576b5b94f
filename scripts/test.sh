#!/usr/bin/env bash
# Sets up Nebula (scripts/setup.sh) and runs the whole test suite: unit,
# integration, Docker (against the real engine) and browser tests on the
# release build, then the unit and integration tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/test.sh                  # everything
#   NEBULA_TEST_ASAN=0 scripts/test.sh   # skip the sanitizer pass
#   NEBULA_TEST_FUZZ=0 scripts/test.sh   # skip the short fuzzing pass
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$NEBULA_ROOT"

scripts/setup.sh

# Totals over every ctest pass, for the closing line.
passed=0 failed=0
count() {  # count LOGFILE: adds ctest's "N tests failed out of M" to the totals
  local line
  line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$1" | tail -1)
  [ -n "$line" ] || return 0
  local f m
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  m=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + m - f))
  failed=$((failed + f))
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "Tests (${NEBULA_PRESET})"
t=$(now)
ctest --preset "$NEBULA_PRESET" --parallel 2 | tee "$log"
count "$log"
note "tests took $(( $(now) - t )) s"

if [ "${NEBULA_TEST_ASAN:-1}" != 0 ]; then
  step "Tests under AddressSanitizer + UBSan (unit, integration)"
  t=$(now)
  cmake --preset asan >/dev/null
  cmake --build --preset asan
  ctest --preset asan --parallel 2 -L 'unit|integration' -LE languages | tee "$log"
  count "$log"
  note "sanitizer pass took $(( $(now) - t )) s"
fi

if [ "${NEBULA_TEST_FUZZ:-1}" != 0 ]; then
  step "Fuzzing (20 s per parser)"
  scripts/fuzz.sh 20
fi

echo
echo "ctest: $passed passed, $failed failed"
