#!/usr/bin/env bash
# Builds migrate and runs every test (unit, real runc + CRIU, transfer, migrations, CRIU's
# zdtm tests migrated between the test hosts: label zdtm, about 5 min, docs/zdtm.md).
# Needs root and scripts/install-deps.sh for the tests that drive runc and CRIU (it also caches
# the CRIU source the zdtm tests are built from).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
./scripts/build.sh
BUILD_DIR=${MIGRATE_BUILD_DIR:-build}
cd "$BUILD_DIR"
if ! ctest --output-on-failure --timeout 900 "$@"; then
  # What a reader of CI's output sees first is its end: every failed test's FAIL lines again.
  echo "== why the failed tests failed (from Testing/Temporary/LastTest.log):" >&2
  cat Testing/Temporary/LastTestsFailed.log >&2 2>/dev/null || true
  grep -h -E '\] FAIL: |^\[  FAILED  \]' Testing/Temporary/LastTest.log 2>/dev/null |
    tail -60 >&2 || true
  exit 8
fi
# The libFuzzer targets (clang, ASan, UBSan; a build of their own, ~2.5 min on 2 cores):
# MIGRATE_FUZZ_SECONDS (here 45) per target, 4 targets: about 5.5 min in all.
# MIGRATE_SKIP_FUZZ=1 leaves them out; so does giving ctest arguments.
if [ "${MIGRATE_SKIP_FUZZ:-0}" != 1 ] && [ $# -eq 0 ]; then
  cd - >/dev/null
  MIGRATE_FUZZ_SECONDS=${MIGRATE_FUZZ_SECONDS:-45} ./scripts/fuzz.sh
fi
