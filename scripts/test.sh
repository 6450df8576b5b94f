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

step "Tests (${NEBULA_PRESET})"
t=$(now)
ctest --preset "$NEBULA_PRESET" --parallel 2
note "tests took $(( $(now) - t )) s"

if [ "${NEBULA_TEST_ASAN:-1}" != 0 ]; then
  step "Tests under AddressSanitizer + UBSan (unit, integration)"
  t=$(now)
  cmake --preset asan >/dev/null
  cmake --build --preset asan
  ctest --preset asan --parallel 2 -L 'unit|integration'
  note "sanitizer pass took $(( $(now) - t )) s"
fi

if [ "${NEBULA_TEST_FUZZ:-1}" != 0 ]; then
  step "Fuzzing (20 s per parser)"
  scripts/fuzz.sh 20
fi
