/* bench_cuda_fast — the fast family's GPU kernels against the GPU's own
 * ceiling measured in the same run (device-to-device copy, bytes read +
 * written): attention decode (GB/s of K/V streamed), rms_norm and rope
 * (GB/s read + written), and causal prefill attention (TFLOP/s, counting
 * the 4*T*T*D/2 multiply-adds per head a causal mask leaves). Each figure is
 * the best of several runs of N back-to-back calls (lazy graph built and
 * evaluated per call, one sync at the end). Without a usable GPU it says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_fast.h"
#include "backend/cuda/cuda_fast_fused.h"

/* The kernels alone: n back-to-back launches on a private stream timed by
 * events (no graph building, no allocation): what the op costs once the
 * host keeps ahead of the GPU. */
typedef struct raw_bufs {
  void *q, *k, *v, *o, *scratch;
} raw_bufs;

typedef struct raw_launch {
  const void *args; /* cu_sdpa_args, cu_norm_args or cu_rope_args */
  void *scratch;
} raw_launch;

static void launch_sdpa(void *p, void *st) {
  const raw_launch *r = p;
  cu_fast_sdpa(r->args, r->scratch, st);
}
static void launch_norm(void *p, void *st) { cu_fast_norm(((const raw_launch *)p)->args, st); }
static void launch_rope(void *p, void *st) { cu_fast_rope(((const raw_launch *)p)->args, st); }

static double raw_sdpa_us(const cu_sdpa_args *a, void *scratch, cudaStream_t st, int n) {
  raw_launch r = {a, scratch};
  return cuda_events_us(launch_sdpa, &r, st, n);
}

static void launch_silu(void *p, void *st) { cu_fast_silu_mul(((const raw_launch *)p)->args, st); }
static void launch_add_norm(void *p, void *st) {
  cu_fast_add_rms_norm(((const raw_launch *)p)->args, st);
}

/* Decode attention, 32 query heads over 8 KV heads, D 128, one query,
 * K/V (1, 8, Tk, 128) dense; impl 0: the default kernel, 1: the CUDA-core
 * one. reps 0: one launch (for ncu). */
static void raw_decode(int t, int64_t Tk, int impl, int splits, int reps, void **bufs,
                       cudaStream_t st, double copy_gbs) {
  cu_sdpa_args a;
  memset(&a, 0, sizeof a);
  a.qt = a.kt = a.ot = t ? MX_BFLOAT16 : MX_FLOAT16;
  a.mt = -1;
  a.q = bufs[0];
  a.k = bufs[1];
  a.v = bufs[2];
  a.out = bufs[3];
  a.B = 1, a.Hq = 32, a.Hkv = 8, a.Tq = 1, a.Tk = Tk, a.D = 128;
  a.qs[2] = 128, a.qs[1] = 128, a.qs[0] = 32 * 128;
  a.ks[2] = 128, a.ks[1] = 128 * Tk, a.ks[0] = 8 * 128 * Tk;
  memcpy(a.vs, a.ks, sizeof a.vs);
  a.scale = 0.088f;
  a.lowest = -65504.0f;
  cu_sdpa_set_decode_impl(impl);
  cu_sdpa_set_decode_splits(splits);
  if (reps == 0) {
    cu_fast_sdpa(&a, bufs[4], st);
  } else {
    double us = raw_sdpa_us(&a, bufs[4], st, reps);
    double gbs = 2.0 * 8 * (double)Tk * 128 * 2 / us / 1e3;
    char split_note[40] = "";
    if (splits) snprintf(split_note, sizeof split_note, " (%d key splits)", splits);
    printf("  kernel only: sdpa decode %s Tk=%lld%s%s: %.1f us, %.0f GB/s = %.0f%% of copy\n",
           t ? "bf16" : "f16", (long long)Tk, impl ? " (CUDA-core kernel)" : "", split_note, us, gbs,
           copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
  }
  cu_sdpa_set_decode_impl(0);
  cu_sdpa_set_decode_splits(0);
}

/* One row of D = 4096 bf16 (the decode step's norms): rms_norm with a
 * weight, and the fused add + rms_norm. reps 0: one launch each. */
static void raw_row_norms(int reps, void **bufs, cudaStream_t st, double copy_gbs) {
  cu_norm_args a;
  memset(&a, 0, sizeof a);
  a.xt = a.ot = MX_BFLOAT16;
  a.out = bufs[3], a.x = bufs[0], a.w = bufs[1], a.w_stride = 1;
  a.rows = 1, a.D = 4096, a.outer_nd = 1, a.shape[0] = 1, a.strides[0] = 4096;
  a.x_stride = 1, a.vec = 1, a.eps = 1e-6f;
  cu_add_norm_args n;
  memset(&n, 0, sizeof n);
  n.t = MX_BFLOAT16;
  n.out = bufs[3], n.x = bufs[0], n.d = bufs[2], n.w = bufs[1], n.w_stride = 1;
  n.rows = 1, n.D = 4096, n.outer_nd = 1, n.shape[0] = 1, n.xs[0] = n.ds[0] = 4096;
  n.x_last = n.d_last = 1, n.vec = 1, n.eps = 1e-6f;
  if (reps == 0) {
    cu_fast_norm(&a, st);
    cu_fast_add_rms_norm(&n, st);
    return;
  }
  double us = cuda_events_us(launch_norm, &(raw_launch){&a, NULL}, st, reps);
  double gbs = 3.0 * 4096 * 2 / us / 1e3;
  printf("  kernel only: rms_norm bf16 one row D=4096: %.2f us, %.0f GB/s = %.1f%% of copy\n", us, gbs,
         copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
  us = cuda_events_us(launch_add_norm, &(raw_launch){&n, NULL}, st, reps);
  gbs = 5.0 * 4096 * 2 / us / 1e3;
  printf("  kernel only: add_rms_norm bf16 one row D=4096: %.2f us, %.0f GB/s = %.1f%% of copy\n", us,
         gbs, copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
}

static void raw_kernels(double copy_gbs, bool ncu) {
  cudaStream_t st;
  if (cudaStreamCreate(&st) != cudaSuccess) return;
  size_t big = (size_t)256 << 20;
  void *b0 = NULL, *b1 = NULL, *b2 = NULL, *b3 = NULL, *sc = NULL;
  if (cudaMalloc(&b0, big) || cudaMalloc(&b1, big) || cudaMalloc(&b2, big) || cudaMalloc(&b3, big) ||
      cudaMalloc(&sc, (size_t)64 << 20)) {
    printf("raw kernels: no device memory\n");
    return;
  }
  cudaMemset(b0, 0, big);
  cudaMemset(b1, 0, big);
  cudaMemset(b2, 0, big);
  void *bufs[5] = {b0, b1, b2, b3, sc};
  if (ncu) {  /* one launch of each kernel of interest, for a profiler */
    raw_decode(1, 32, 1, 0, 0, bufs, st, copy_gbs);
    raw_decode(1, 32, 0, 0, 0, bufs, st, copy_gbs);
    raw_decode(1, 4096, 0, 0, 0, bufs, st, copy_gbs);
    raw_row_norms(0, bufs, st, copy_gbs);
    cudaStreamSynchronize(st);
    printf("ncu launches done: %s\n", cudaGetErrorString(cudaGetLastError()));
    return;
  }
  for (int64_t Tk = 32; Tk <= 512; Tk *= 4)
    for (int impl = 0; impl < 2; impl++) raw_decode(1, Tk, impl, 0, 200, bufs, st, copy_gbs);
  for (int t = 0; t < 2; t++)
    for (int64_t Tk = 4096; Tk <= 32768; Tk *= 8)
      for (int impl = 0; impl < 2; impl++) raw_decode(t, Tk, impl, 0, 100, bufs, st, copy_gbs);
  /* the tensor-core kernel's key splits around its plan's choice */
  static const int sweep[3][4] = {{1, 2, 4, 8}, {8, 16, 32, 64}, {16, 32, 64, 128}};
  static const int64_t sweep_tk[3] = {512, 4096, 32768};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) raw_decode(1, sweep_tk[i], 0, sweep[i][j], 100, bufs, st, copy_gbs);
  raw_row_norms(200, bufs, st, copy_gbs);
  {
    /* prefill's silu(gate) * up: x (512, 2 x 14336) bf16, halves a and b */
    cu_silu_mul_args g;
    memset(&g, 0, sizeof g);
    g.t = MX_BFLOAT16, g.mode = 2, g.nd = 2;
    g.out = b3, g.a = b0, g.b = (const char *)b0 + 14336 * 2;
    g.n = 512 * 14336, g.F = 14336;
    g.shape[0] = 512, g.shape[1] = 14336;
    double us = cuda_events_us(launch_silu, &(raw_launch){&g, NULL}, st, 50);
    double gbs = 3.0 * 512 * 14336 * 2 / us / 1e3;
    printf("  kernel only: silu_mul bf16 (512, 2x14336) halves: %.1f us, %.0f GB/s = %.0f%% of copy\n", us,
           gbs, copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
  }
  for (int64_t T = 512; T <= 2048; T *= 4) {
    cu_sdpa_args a;
    memset(&a, 0, sizeof a);
    a.qt = a.kt = a.ot = MX_BFLOAT16;
    a.mt = -1;
    a.q = b0, a.k = b1, a.v = b2, a.out = b3;
    a.B = 1, a.Hq = 32, a.Hkv = 32, a.Tq = T, a.Tk = T, a.D = 128;
    a.qs[2] = a.ks[2] = a.vs[2] = 128;
    a.qs[1] = a.ks[1] = a.vs[1] = 128 * T;
    a.qs[0] = a.ks[0] = a.vs[0] = 32 * 128 * T;
    a.causal = 1;
    a.scale = 0.088f;
    a.lowest = -3.0e38f;
    double us = raw_sdpa_us(&a, sc, st, 10);
    printf("  kernel only: sdpa prefill bf16 causal T=%lld: %.1f us, %.1f TFLOP/s\n", (long long)T, us,
           4.0 * 32 * (double)T * T * 128 / 2 / us / 1e6);
  }
  {
    cu_norm_args a;
    memset(&a, 0, sizeof a);
    a.xt = a.ot = MX_BFLOAT16;
    a.out = b3, a.x = b0, a.w = b1, a.w_stride = 1;
    a.rows = 4096, a.D = 4096, a.outer_nd = 1, a.shape[0] = 4096, a.strides[0] = 4096;
    a.x_stride = 1, a.vec = 1, a.eps = 1e-6f;
    double us = cuda_events_us(launch_norm, &(raw_launch){&a, NULL}, st, 50);
    double gbs = 2.0 * 4096 * 4096 * 2 / us / 1e3;
    printf("  kernel only: rms_norm bf16 4096x4096: %.1f us, %.0f GB/s = %.0f%% of copy\n", us, gbs,
           copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
  }
  {
    cu_rope_args a;
    memset(&a, 0, sizeof a);
    a.xt = MX_BFLOAT16;
    a.out = b3, a.x = b0, a.nd = 4;
    int64_t sh[4] = {1, 32, 2048, 128}, sr[4] = {2048 * 32 * 128, 128, 32 * 128, 1};
    memcpy(a.shape, sh, sizeof sh);
    memcpy(a.strides, sr, sizeof sr);
    a.dims = 128, a.scale = 1.0f, a.coef = 9.2103404f / 64, a.offset = 1234;
    double us = cuda_events_us(launch_rope, &(raw_launch){&a, NULL}, st, 50);
    double gbs = 2.0 * 2048 * 32 * 128 * 2 / us / 1e3;
    printf("  kernel only: rope bf16 (1,32,2048,128) transposed: %.1f us, %.0f GB/s = %.0f%% of copy\n",
           us, gbs, copy_gbs > 0 ? 100 * gbs / copy_gbs : 0);
  }
  cudaStreamSynchronize(st);
  cudaFree(b0);
  cudaFree(b1);
  cudaFree(b2);
  cudaFree(b3);
  cudaFree(sc);
  cudaStreamDestroy(st);
}
#endif

typedef struct bctx {
  mx_array a, b, c, w;
  int kind; /* 0 sdpa none, 1 sdpa causal, 2 rms_norm, 3 rope */
} bctx;

static void run_once(void *p) {
  const bctx *c = p;
  mx_array r = NULL;
  switch (c->kind) {
    case 0:
    case 1:
      r = mx_fast_scaled_dot_product_attention(c->a, c->b, c->c, 0.08838834764f,
                                               c->kind ? MX_SDPA_MASK_CAUSAL : MX_SDPA_MASK_NONE,
                                               NULL, NULL);
      break;
    case 2: r = mx_fast_rms_norm(c->a, c->w, 1e-6f); break;
    default: r = mx_fast_rope(c->a, 128, false, 10000.0f, 1.0f, 1234, NULL); break;
  }
  mx_eval1(r);
  mx_array_free(r);
}

/* Seconds per call (gpu_time_best), counting the nodes that fell back. */
static int64_t timed_fallbacks;
static double time_per_call(bctx *c, int n, int reps) {
  int64_t f0 = gpu_fallback_count();
  double best = gpu_time_best(run_once, c, n, reps);
  timed_fallbacks += gpu_fallback_count() - f0;
  return best;
}

static mx_array randn(const int64_t *shape, int nd, mx_dtype t, uint64_t seed) {
  mx_array key = mx_random_key(seed);
  mx_array u = mx_random_normal(shape, nd, t, 0.0, 1.0, key);
  mx_eval1(u);
  mx_array_free(key);
  return u;
}

/* "bench_cuda_fast ncu": one launch of the decode-step kernels (the
 * CUDA-core and tensor-core sdpa decode at Tk 32, the latter at 4096, the
 * one-row norms) and nothing else, for ncu. */
int main(int argc, char **argv) {
  if (!bench_gpu_start("bench_cuda_fast")) return 0;
  const bool ncu = argc > 1 && strcmp(argv[1], "ncu") == 0;
  double copy_gbs = ncu ? 0 : cuda_copy_gbs();
  if (!ncu) printf("device-to-device copy: %.0f GB/s (read + write), the roofline below\n", copy_gbs);
#ifdef MLXC_HAVE_CUDA
  raw_kernels(copy_gbs, ncu);
#endif
  if (ncu) return 0;

  /* Decode: 1 query x 4096 keys, 32 query heads over 8 KV heads, D 128;
   * K/V as a slice of a preallocated 8192-long cache (the LM's layout). */
  mx_dtype ht[2] = {MX_FLOAT16, MX_BFLOAT16};
  for (int t = 0; t < 2; t++) {
    int64_t qs[4] = {1, 32, 1, 128}, cs[4] = {1, 8, 8192, 128};
    int64_t st[4] = {0, 0, 0, 0}, en[4] = {1, 8, 4096, 128};
    mx_array kc = randn(cs, 4, ht[t], 2), vc = randn(cs, 4, ht[t], 3);
    bctx c = {randn(qs, 4, ht[t], 1), mx_slice(kc, st, en, NULL, 4), mx_slice(vc, st, en, NULL, 4),
              NULL, 0};
    mx_eval1(c.b);
    mx_eval1(c.c);
    double s = time_per_call(&c, 200, 5);
    double bytes = 2.0 * 8 * 4096 * 128 * 2;
    printf("sdpa decode %s (1x4096 keys, 32/8 heads, D 128): %.1f us, %.0f GB/s of K/V = %.0f%% of copy\n",
           mx_dtype_name(ht[t]), s * 1e6, bytes / s / 1e9, copy_gbs > 0 ? 100 * bytes / s / 1e9 / copy_gbs : 0);
    /* Long context: 32768 keys (the per-call overhead amortized). */
    int64_t cs2[4] = {1, 8, 32768, 128};
    mx_array k2 = randn(cs2, 4, ht[t], 4), v2 = randn(cs2, 4, ht[t], 5);
    bctx c2 = {c.a, k2, v2, NULL, 0};
    s = time_per_call(&c2, 50, 5);
    bytes = 2.0 * 8 * 32768 * 128 * 2;
    printf("sdpa decode %s (1x32768 keys, 32/8 heads, D 128): %.1f us, %.0f GB/s of K/V = %.0f%% of copy\n",
           mx_dtype_name(ht[t]), s * 1e6, bytes / s / 1e9, copy_gbs > 0 ? 100 * bytes / s / 1e9 / copy_gbs : 0);
    mx_array_free(k2);
    mx_array_free(v2);
    mx_array_free(c.a);
    mx_array_free(c.b);
    mx_array_free(c.c);
    mx_array_free(kc);
    mx_array_free(vc);
  }

  /* rms_norm: 4096 rows x 4096, bf16, with a weight. */
  {
    int64_t xs[2] = {4096, 4096}, ws = 4096;
    bctx c = {randn(xs, 2, MX_BFLOAT16, 6), NULL, NULL, randn(&ws, 1, MX_BFLOAT16, 7), 2};
    double s = time_per_call(&c, 50, 5);
    double bytes = 2.0 * 4096 * 4096 * 2;
    printf("rms_norm bf16 4096x4096: %.1f us, %.0f GB/s = %.0f%% of copy\n", s * 1e6, bytes / s / 1e9,
           copy_gbs > 0 ? 100 * bytes / s / 1e9 / copy_gbs : 0);
    int64_t xs2[2] = {8192, 1024};
    mx_array x2 = randn(xs2, 2, MX_BFLOAT16, 8);
    int64_t w2s = 1024;
    bctx c2 = {x2, NULL, NULL, randn(&w2s, 1, MX_BFLOAT16, 9), 2};
    s = time_per_call(&c2, 50, 5);
    bytes = 2.0 * 8192 * 1024 * 2;
    printf("rms_norm bf16 8192x1024: %.1f us, %.0f GB/s = %.0f%% of copy\n", s * 1e6, bytes / s / 1e9,
           copy_gbs > 0 ? 100 * bytes / s / 1e9 / copy_gbs : 0);
    mx_array_free(c.a);
    mx_array_free(c.w);
    mx_array_free(c2.a);
    mx_array_free(c2.w);
  }

  /* rope: (1, 2048, 32, 128) bf16 read as (1, 32, 2048, 128) (transposed). */
  {
    int64_t xs[4] = {1, 2048, 32, 128};
    mx_array x = randn(xs, 4, MX_BFLOAT16, 10);
    int perm[4] = {0, 2, 1, 3};
    bctx c = {mx_transpose(x, perm, 4), NULL, NULL, NULL, 3};
    mx_eval1(c.a);
    double s = time_per_call(&c, 50, 5);
    double bytes = 2.0 * 2048 * 32 * 128 * 2;
    printf("rope bf16 (1,32,2048,128) transposed view: %.1f us, %.0f GB/s = %.0f%% of copy\n", s * 1e6,
           bytes / s / 1e9, copy_gbs > 0 ? 100 * bytes / s / 1e9 / copy_gbs : 0);
    mx_array_free(c.a);
    mx_array_free(x);
  }

  /* Prefill: causal, 32 heads, D 128. */
  for (int t = 0; t < 2; t++)
    for (int64_t T = 512; T <= 2048; T *= 4) {
      int64_t s4[4] = {1, 32, T, 128};
      bctx c = {randn(s4, 4, ht[t], 11), randn(s4, 4, ht[t], 12), randn(s4, 4, ht[t], 13), NULL, 1};
      double s = time_per_call(&c, 5, 3);
      double flops = 4.0 * 32 * (double)T * (double)T * 128 / 2;
      printf("sdpa prefill %s causal T=%lld, 32 heads, D 128: %.2f ms, %.1f TFLOP/s\n",
             mx_dtype_name(ht[t]), (long long)T, s * 1e3, flops / s / 1e12);
      mx_array_free(c.a);
      mx_array_free(c.b);
      mx_array_free(c.c);
    }
  printf("nodes that fell back to the CPU during the timed runs: %lld\n",
         (long long)timed_fallbacks);
  return 0;
}
