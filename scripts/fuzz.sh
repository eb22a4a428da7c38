#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan into their own build
# directory and runs each for a bounded time on its seed corpus:
#   scripts/fuzz.sh                    # 60 s per target (4 targets)
#   MIGRATE_FUZZ_SECONDS=600 scripts/fuzz.sh -R receiver   # longer, one target (ctest args)
# A crash, a leak, an undefined-behaviour report or a write outside the receiver's staging
# directory fails the run; the input that did it is saved in the build directory
# (crash-*, leak-*): reproduce with build-fuzz/tests/fuzz/fuzz_<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${MIGRATE_FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${MIGRATE_FUZZ_SECONDS:-60}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 2; }
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" "${GEN[@]}" "${LAUNCHER[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMIGRATE_BUILD_FUZZERS=ON \
    -DMIGRATE_BUILD_TESTS=OFF -DMIGRATE_BUILD_BENCHMARKS=OFF
fi
cmake -S . -B "$BUILD_DIR" -DMIGRATE_FUZZ_SECONDS="$SECONDS_EACH" >/dev/null
cmake --build "$BUILD_DIR" --target fuzzers -j"$(nproc)"
cd "$BUILD_DIR"
ctest -L fuzz --output-on-failure "$@"
