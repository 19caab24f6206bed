#include "bench_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct triad_ctx {
  float *a, *b, *c;
  float s;
} triad_ctx;

static void triad_range(void *p, int64_t begin, int64_t end) {
  triad_ctx *t = p;
  float *restrict a = t->a;
  const float *restrict b = t->b, *restrict c = t->c;
  for (int64_t i = begin; i < end; i++) a[i] = b[i] + t->s * c[i];
}

static void fill_range(void *p, int64_t begin, int64_t end) {
  triad_ctx *t = p;
  for (int64_t i = begin; i < end; i++) t->a[i] = t->b[i] = t->c[i] = (float)(i & 7);
}

double triad_gbs(size_t n, int reps) {
  triad_ctx t = {aligned_alloc(64, n * 4), aligned_alloc(64, n * 4), aligned_alloc(64, n * 4), 3.0f};
  /* First touch from the pool threads, as the kernels later will. */
  parallel_for((int64_t)n, 1 << 16, fill_range, &t);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_sec();
    parallel_for((int64_t)n, 1 << 16, triad_range, &t);
    double dt = now_sec() - t0;
    if (dt < best) best = dt;
  }
  free(t.a);
  free(t.b);
  free(t.c);
  return 3.0 * (double)n * 4 / best / 1e9;
}

double cuda_copy_gbs(void) {
#ifdef MLXC_HAVE_CUDA
  size_t bytes = (size_t)1 << 30;
  void *src = NULL, *dst = NULL;
  double gbs = 0;
  if (cudaMalloc(&src, bytes) == cudaSuccess && cudaMalloc(&dst, bytes) == cudaSuccess) {
    cudaMemset(src, 1, bytes);
    cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
    cudaDeviceSynchronize();
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
      double t0 = now_sec();
      cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
      cudaDeviceSynchronize();
      double t = now_sec() - t0;
      if (t < best) best = t;
    }
    gbs = 2.0 * (double)bytes / best / 1e9;
  }
  cudaGetLastError();
  cudaFree(src);
  cudaFree(dst);
  return gbs;
#else
  return 0;
#endif
}
