#!/usr/bin/env bash
# gpu-check.sh — for the GPU machine: builds mlxc with the CUDA backend, runs
# the CUDA-vs-CPU test, then the whole test suite with the GPU as the default
# device (ops without a GPU kernel run on the CPU in between: test_cuda
# prints how many nodes did), then the benchmarks. Extra CMake arguments in
# CMAKE_ARGS, ctest arguments in CTEST_ARGS.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-gpu}
echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "(nvidia-smi unavailable)"
echo "== build"
cmake -S "$src" -B "$build" -DMLXC_CUDA=ON -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} > "$build.cmake.log" 2>&1 \
  || { tail -30 "$build.cmake.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$build.build.log" 2>&1 \
  || { grep -E "error|undefined" "$build.build.log" | head -40; exit 1; }
echo "== test_cuda (GPU against CPU)"
MLXC_SOURCE_DIR=$src MLXC_TESTDATA=${MLXC_TESTDATA:-$src/../shared/testdata} "$build/tests/test_cuda" | tail -20
echo "== ctest, GPU as the default device"
ctest --test-dir "$build" -j8 --output-on-failure ${CTEST_ARGS:-} > "$build.ctest.log" 2>&1
grep -E "^FAIL|tests passed|tests failed|\(Failed\)|Test +#" "$build.ctest.log" | grep -v " Passed" | head -60
echo "(full log: $build.ctest.log)"
echo "== bench_cuda"
if [ -x "$build/bench/bench_cuda" ]; then
  "$build/bench/bench_cuda" "${MLXC_TESTDATA:-$src/../shared/testdata}/models/stories260K/stories260K.gguf"
else
  echo "(benchmarks not built: -DMLXC_BUILD_BENCH=ON)"
fi
