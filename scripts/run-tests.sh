#!/usr/bin/env bash
# The whole suite: a short libFuzzer smoke run, then every CTest test (unit, integration,
# crash). ctest runs last so its summary is the closing line CI reads.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}

if [ -z "${SLUICE_ASAN:-}" ] && [ -z "${SLUICE_SKIP_FUZZ:-}" ]; then
  echo "== fuzz smoke run (${FUZZ_SMOKE_SECONDS:-10}s per target)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSLUICE_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j "$(nproc)" --target fuzz_targets >/dev/null
  bash scripts/run-fuzz.sh build-fuzz "${FUZZ_SMOKE_SECONDS:-10}"
fi

echo "== ctest ($BUILD)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
ctest --test-dir "$BUILD" --output-on-failure -j "${TEST_JOBS:-2}" --timeout 900
