#include "bench_util.h"

#include <stdio.h>
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

bool bench_gpu_start(const char *name) {
  mx_status st = mx_set_default_device((mx_device){MX_GPU, 0});
  if (st != MX_OK || !mx_device_is_available(MX_GPU)) {
    printf("%s: no usable GPU (%s)\n", name, mx_last_error());
    return false;
  }
  return true;
}

double gpu_time_best(void (*fn)(void *), void *ctx, int n, int reps) {
  const mx_stream gs = {{MX_GPU, 0}, 0};
  fn(ctx);
  mx_synchronize(gs);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_sec();
    for (int i = 0; i < n; i++) fn(ctx);
    mx_synchronize(gs);
    double t = (now_sec() - t0) / n;
    if (t < best) best = t;
  }
  return best;
}

double cuda_events_us(void (*launch)(void *ctx, void *stream), void *ctx, void *stream, int n) {
#ifdef MLXC_HAVE_CUDA
  cudaStream_t st = stream;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  launch(ctx, stream);
  cudaEventRecord(e0, st);
  for (int i = 0; i < n; i++) launch(ctx, stream);
  cudaEventRecord(e1, st);
  cudaEventSynchronize(e1);
  float ms = 0;
  cudaEventElapsedTime(&ms, e0, e1);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 1e3 * ms / n;
#else
  (void)launch, (void)ctx, (void)stream, (void)n;
  return 0;
#endif
}
