#!/usr/bin/env bash
# Builds mlxc and runs the whole test suite (ctest). With --sanitize, builds
# into ./build-asan with AddressSanitizer + UndefinedBehaviorSanitizer (leak
# checking on) and runs the suite there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  bash scripts/install-deps.sh
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXC_WERROR=ON \
    -DMLXC_SANITIZE=ON -DMLXC_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
else
  bash scripts/build.sh
  ctest --test-dir build --output-on-failure -j"$(nproc)"
fi
