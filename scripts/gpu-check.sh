#!/usr/bin/env bash
# gpu-check.sh — for the GPU machine: builds mlxc with the CUDA backend, runs
# the CUDA-vs-CPU tests (tests/test_cuda*.c), then the whole test suite with
# the GPU as the default device (ops without a GPU kernel run on the CPU in
# between: test_cuda prints how many nodes did), then the benchmarks: the
# bench_cuda* kernel benchmarks and, when python3 has numpy, `mlxc bench` on
# random-weight Llama-3.2-1B and Llama-3.1-8B shapes in MLX 4-bit
# (scripts/make_random_mlx4.py) beside PyTorch eager bf16 on the same shapes
# (bench/torch_llama_ref.py, when torch and transformers are installed).
# Extra CMake arguments in CMAKE_ARGS, ctest arguments in CTEST_ARGS;
# GPU_CHECK_SKIP naming "tests", "bench" or "torch" leaves those parts out.
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
testdata=${MLXC_TESTDATA:-$src/../shared/testdata}
skip=${GPU_CHECK_SKIP:-}
if [[ $skip != *tests* ]]; then
  for t in "$build"/tests/test_cuda*; do
    echo "== $(basename "$t") (GPU against CPU)"
    MLXC_SOURCE_DIR=$src MLXC_TESTDATA=$testdata "$t" 2>&1 | tail -20
  done
  echo "== ctest, GPU as the default device"
  ctest --test-dir "$build" -j8 --output-on-failure ${CTEST_ARGS:-} > "$build.ctest.log" 2>&1
  grep -E "^FAIL|tests passed|tests failed|\(Failed\)|Test +#" "$build.ctest.log" | grep -v " Passed" | head -60
  echo "(full log: $build.ctest.log)"
fi
[[ $skip == *bench* ]] && exit 0
if [ ! -x "$build/bench/bench_cuda" ]; then
  echo "(benchmarks not built: -DMLXC_BUILD_BENCH=ON)"
  exit 0
fi
for b in "$build"/bench/bench_cuda*; do
  echo "== $(basename "$b")"
  if [ "$(basename "$b")" = bench_cuda ]; then "$b" "$testdata/models/stories260K/stories260K.gguf"; else "$b"; fi
done
py=${PYTHON:-python3}
if "$py" -c "import numpy" 2>/dev/null; then
  models=${BENCH_MODELS:-/tmp/mlxc-bench-models}
  for shape in llama-1b llama-8b; do
    echo "== mlxc bench, $shape MLX 4-bit g64 (random weights)"
    [ -f "$models/$shape-4bit/config.json" ] || "$py" "$src/scripts/make_random_mlx4.py" "$models/$shape-4bit" "$shape"
    "$build/mlxc" bench -m "$models/$shape-4bit" -p 512 -n 128 -r 3
  done
  if [[ $skip != *torch* ]] && "$py" -c "import torch, transformers" 2>/dev/null; then
    echo "== PyTorch eager bf16, same shapes (reference)"
    "$py" "$src/bench/torch_llama_ref.py" llama-1b llama-8b
  fi
else
  echo "(no numpy: LM benchmarks skipped)"
fi
