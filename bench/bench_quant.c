/* bench_quant.c — quantized matmul speed, as ratios measured in one run:
 * - decode (M = 1) mat-vec, affine 4-bit and 8-bit, group 64, f16 scales:
 *   effective GB/s (weights + scales + biases read once) and % of the
 *   STREAM triad of this run; M = 4 and 8 on the first shape. Before each
 *   timed run a 96 MB buffer is read, evicting the weights from every
 *   cache level: in a model the weights never stay cached between uses,
 *   and without it the shapes under L3 size (4096x4096 at 4-bit is 9 MB)
 *   reported several times the DRAM bandwidth;
 * - prefill (M = 512) 4-bit: GFLOP/s against cblas_sgemm of the same shape.
 * Usage: bench_quant [reps]   (MLXC_QMM_ISA=none|avx2|vnni caps the kernel) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

static mx_array rand_matrix(int64_t rows, int64_t cols, mx_dtype t, uint32_t seed) {
  size_t n = (size_t)(rows * cols);
  float *v = malloc(n * sizeof(float));
  uint32_t s = seed;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    v[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
  }
  int64_t shape[2] = {rows, cols};
  mx_array a = mx_array_from_data(v, shape, 2, MX_FLOAT32);
  free(v);
  mx_array b = mx_astype(a, t);
  mx_array_free(a);
  mx_eval(&b, 1);
  return b;
}

/* Reads a buffer several times the size of any L3 this runs on (read, not
 * written: dirty lines would be written back during the timed run). */
static volatile float evict_sink;
static void evict_caches(void) {
  static float *buf;
  const size_t n = (size_t)24 << 20; /* 96 MB */
  if (!buf) {
    buf = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
  }
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < n; i += 64) { /* one float per 64-byte line */
    s0 += buf[i];
    s1 += buf[i + 16];
    s2 += buf[i + 32];
    s3 += buf[i + 48];
  }
  evict_sink = s0 + s1 + s2 + s3;
}

/* Best seconds of `reps` evaluations of quantized_matmul, each from cold
 * caches. */
static double time_qmm(mx_array x, mx_array *q, int gs, int bits, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    evict_caches();
    double t0 = now_sec();
    mx_array y = mx_quantized_matmul(x, q[0], q[1], q[2], true, gs, bits, MX_QUANT_AFFINE);
    if (!y || mx_eval(&y, 1) < 0) {
      fprintf(stderr, "quantized_matmul failed: %s\n", mx_last_error());
      exit(1);
    }
    double dt = now_sec() - t0;
    mx_array_free(y);
    if (dt < best) best = dt;
  }
  return best;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 20;
  double triad = triad_gbs((size_t)1 << 25, 5);
  printf("triad: %.1f GB/s\n", triad);
  int64_t shapes[5][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}, {2048, 8192},
                          {128256, 2048}}; /* N, K */
  int bits_list[2] = {4, 8};
  for (int si = 0; si < 5; si++) {
    int64_t N = shapes[si][0], K = shapes[si][1];
    mx_array w = rand_matrix(N, K, MX_FLOAT16, 1234u + (uint32_t)si);
    mx_array x = rand_matrix(1, K, MX_FLOAT16, 99u);
    for (int bi = 0; bi < 2; bi++) {
      int bits = bits_list[bi], gs = 64;
      mx_array q[3];
      if (mx_quantize(w, gs, bits, MX_QUANT_AFFINE, NULL, q) < 0 || mx_eval(q, 3) < 0) {
        fprintf(stderr, "quantize failed: %s\n", mx_last_error());
        return 1;
      }
      double dt = time_qmm(x, q, gs, bits, reps);
      double bytes = (double)N * (double)K * bits / 8 + 2.0 * 2 * (double)N * (double)K / gs;
      double gbs = bytes / dt / 1e9;
      printf("decode M=1 %6lldx%-5lld %d-bit g%d: %8.3f ms  %6.1f GB/s  %5.1f%% of triad\n",
             (long long)N, (long long)K, bits, gs, dt * 1e3, gbs, 100 * gbs / triad);
      if (si == 0) { /* a few rows (speculative decoding, small batches) */
        for (int M = 4; M <= 8; M += 4) {
          mx_array xm = rand_matrix(M, K, MX_FLOAT16, 98u + (uint32_t)M);
          double dm = time_qmm(xm, q, gs, bits, reps);
          printf("decode M=%d %6lldx%-5lld %d-bit g%d: %8.3f ms  (%.2fx the M=1 time)\n", M,
                 (long long)N, (long long)K, bits, gs, dm * 1e3, dm / dt);
          mx_array_free(xm);
        }
      }
      for (int i = 0; i < 3; i++) mx_array_free(q[i]);
    }
    mx_array_free(w);
    mx_array_free(x);
  }
  /* prefill: 4-bit g64, f32 activations, against sgemm of the same shape */
  {
    int64_t M = 512, N = 4096, K = 4096;
    mx_array w = rand_matrix(N, K, MX_FLOAT32, 7u);
    mx_array x = rand_matrix(M, K, MX_FLOAT32, 8u);
    mx_array q[3];
    if (mx_quantize(w, 64, 4, MX_QUANT_AFFINE, NULL, q) < 0 || mx_eval(q, 3) < 0) return 1;
    double dq = time_qmm(x, q, 64, 4, reps < 5 ? reps : 5);
    const float *xp = mx_array_data(x), *wp = mx_array_data(w);
    float *y = malloc((size_t)(M * N) * sizeof(float));
    double ds = 1e30;
    for (int r = 0; r < (reps < 5 ? reps : 5); r++) {
      double t0 = now_sec();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, xp,
                  (int)K, wp, (int)K, 0.0f, y, (int)N);
      double dt = now_sec() - t0;
      if (dt < ds) ds = dt;
    }
    double flops = 2.0 * (double)M * (double)N * (double)K;
    printf("prefill M=%lld %lldx%lld 4-bit g64: %.1f GFLOP/s; cblas_sgemm f32: %.1f GFLOP/s "
           "(%.1f%%)\n",
           (long long)M, (long long)N, (long long)K, flops / dq / 1e9, flops / ds / 1e9,
           100 * ds / dq);
    free(y);
    for (int i = 0; i < 3; i++) mx_array_free(q[i]);
    mx_array_free(w);
    mx_array_free(x);
  }
  return 0;
}
