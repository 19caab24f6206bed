/* bench_cuda_quant — the CUDA quantized kernels against the GPU's own
 * ceilings measured in the same run.
 *
 * Decode (M = 1): the kernels are timed directly through their launchers
 * (cu_qmv, cu_gguf_mv) with CUDA events over back-to-back launches, on
 * enough copies of the weights (>= 256 MB, rotated) that no launch finds
 * its matrix in the 50 MB L2. Effective GB/s = bytes of weights + scales +
 * biases (or GGUF blocks) per second, and % of the device-to-device copy
 * bandwidth (read + write) — the HBM roofline. The end-to-end time of one
 * mx_quantized_matmul evaluation (graph + launch + sync) is printed too.
 * Prefill (M = 512): mx_quantized_matmul (dequantize + cuBLAS) in TFLOP/s
 * and % of mx_matmul on the same shape in bf16 (cuBLAS) in the same run.
 * Without a usable GPU it says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/core.h"
#include "core/half.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_quant.h"
#endif

static const mx_device gpu = {MX_GPU, 0};

#ifdef MLXC_HAVE_CUDA
static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

static void *dev_random(size_t bytes) {
  uint8_t *h = malloc(bytes);
  for (size_t i = 0; i < bytes; i += 4) {
    uint32_t v = rnd();
    memcpy(h + i, &v, bytes - i < 4 ? bytes - i : 4);
  }
  void *d = NULL;
  cudaMalloc(&d, bytes);
  cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
  free(h);
  return d;
}

/* n 16-bit values (bf16 or f16 bits) of small random magnitude. */
static void *dev_halfs(size_t n, bool bf16, float scale) {
  uint16_t *h = malloc(n * 2);
  for (size_t i = 0; i < n; i++) {
    float v = scale * ((float)(rnd() % 2001) / 1000.0f - 1.0f);
    h[i] = bf16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  void *d = NULL;
  cudaMalloc(&d, n * 2);
  cudaMemcpy(d, h, n * 2, cudaMemcpyHostToDevice);
  free(h);
  return d;
}


/* One decode kernel configuration over `ncopy` weight copies. */
typedef struct gemv {
  int kind; /* 0 affine, 1 gguf */
  int bits, gs, gtype;
  int64_t N, K;
  int ncopy;
  void *w[64], *s[64], *b[64];
  void *x, *y;
  size_t wbytes, sbytes;
} gemv;

static int gemv_launch(gemv *g, int i) {
  int c = i % g->ncopy;
  if (g->kind == 0) {
    cu_qbatch bt;
    memset(&bt, 0, sizeof bt);
    return cu_qmv(MX_BFLOAT16, g->bits, g->gs, g->x, g->w[c], g->s[c], g->b[c], g->y, 1, g->N,
                  g->K, &bt, 1, NULL);
  }
  return cu_gguf_mv(MX_BFLOAT16, g->gtype, g->x, g->w[c], g->y, 1, g->N, g->K,
                    g->K / 32 * (g->gtype == 2 ? 18 : 34), NULL);
}

static void gemv_setup(gemv *g) {
  size_t total = g->wbytes + 2 * g->sbytes;
  int64_t nc = (int64_t)((((size_t)256 << 20) + total - 1) / total);
  g->ncopy = (int)(nc < 2 ? 2 : nc > 64 ? 64 : nc);
  for (int c = 0; c < g->ncopy; c++) {
    g->w[c] = dev_random(g->wbytes);
    if (g->kind == 0) {
      g->s[c] = dev_halfs(g->sbytes / 2, true, 0.02f);
      g->b[c] = dev_halfs(g->sbytes / 2, true, 0.1f);
    } else if (g->gtype == 2 || g->gtype == 8) {
      /* Valid f16 block scales: rewrite the first two bytes of each block. */
      int bytes = g->gtype == 2 ? 18 : 34;
      size_t nblk = g->wbytes / (size_t)bytes;
      uint8_t *h = malloc(g->wbytes);
      cudaMemcpy(h, g->w[c], g->wbytes, cudaMemcpyDeviceToHost);
      for (size_t k = 0; k < nblk; k++) {
        uint16_t d = f32_to_f16(0.01f);
        h[k * bytes] = (uint8_t)d;
        h[k * bytes + 1] = (uint8_t)(d >> 8);
      }
      cudaMemcpy(g->w[c], h, g->wbytes, cudaMemcpyHostToDevice);
      free(h);
    }
  }
  g->x = dev_halfs((size_t)g->K, true, 1.0f);
  cudaMalloc(&g->y, (size_t)g->N * 2);
}

static void gemv_free(gemv *g) {
  for (int c = 0; c < g->ncopy; c++) {
    cudaFree(g->w[c]);
    if (g->kind == 0) {
      cudaFree(g->s[c]);
      cudaFree(g->b[c]);
    }
  }
  cudaFree(g->x);
  cudaFree(g->y);
}

/* Seconds per launch: best of 5 runs of 200 back-to-back launches. */
static double gemv_time(gemv *g) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (int i = 0; i < 20; i++) gemv_launch(g, i);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    cudaEventRecord(e0, NULL);
    int err = 0;
    for (int i = 0; i < 200; i++) err |= gemv_launch(g, i);
    cudaEventRecord(e1, NULL);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (err) return -1;
    if (ms / 200e3 < best) best = ms / 200e3;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return best;
}
#endif

/* ---- end-to-end through the library ---- */

typedef struct mm_ctx {
  mx_array x, w, s, b, wd;
  int bits, gs;
} mm_ctx;

static void run_qmm(void *p) {
  mm_ctx *c = p;
  mx_array r = mx_quantized_matmul(c->x, c->w, c->s, c->b, true, c->gs, c->bits, MX_QUANT_AFFINE);
  mx_eval1(r);
  mx_array_free(r);
}

static void run_mm(void *p) {
  mm_ctx *c = p;
  mx_array r = mx_matmul(c->x, c->wd);
  mx_eval1(r);
  mx_array_free(r);
}

static double time_best(void (*fn)(void *), void *ctx, int reps) {
  fn(ctx);
  mx_synchronize((mx_stream){gpu, 0});
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_sec();
    fn(ctx);
    mx_synchronize((mx_stream){gpu, 0});
    double t = now_sec() - t0;
    if (t < best) best = t;
  }
  return best;
}

/* Random packed weights, scales and biases made on the GPU. */
static void make_q(mm_ctx *c, int64_t M, int64_t N, int64_t K, int bits, int gs) {
  mx_array key = mx_random_key(7);
  int64_t xs[2] = {M, K}, ws[2] = {N, K * bits / 32}, ss[2] = {N, K / gs}, wd[2] = {K, N};
  c->bits = bits;
  c->gs = gs;
  c->x = mx_random_uniform(-1, 1, xs, 2, MX_BFLOAT16, key);
  mx_array wi = mx_random_randint(0, 1 << 30, ws, 2, MX_INT32, key);
  c->w = mx_astype(wi, MX_UINT32);
  mx_array_free(wi);
  c->s = mx_random_uniform(0, 0.02, ss, 2, MX_BFLOAT16, key);
  c->b = mx_random_uniform(-0.1, 0.1, ss, 2, MX_BFLOAT16, key);
  c->wd = mx_random_uniform(-1, 1, wd, 2, MX_BFLOAT16, key);
  mx_eval1(c->x);
  mx_eval1(c->w);
  mx_eval1(c->s);
  mx_eval1(c->b);
  mx_eval1(c->wd);
  mx_array_free(key);
}

static void free_q(mm_ctx *c) {
  mx_array_free(c->x);
  mx_array_free(c->w);
  mx_array_free(c->s);
  mx_array_free(c->b);
  mx_array_free(c->wd);
}

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("bench_cuda_quant: no usable GPU (%s)\n", mx_last_error());
    return 0;
  }
  mx_set_default_device(gpu);
  const int64_t shapes[3][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
#ifdef MLXC_HAVE_CUDA
  double copy = cuda_copy_gbs();
  printf("device-to-device copy: %.0f GB/s (read + write) — the roofline below\n", copy);
  printf("\ndecode GEMV, M = 1, bf16 x, kernel time (CUDA events, L2-cold weights):\n");
  for (int si = 0; si < 3; si++) {
    int64_t N = shapes[si][0], K = shapes[si][1];
    for (int v = 0; v < 3; v++) {
      gemv g;
      memset(&g, 0, sizeof g);
      g.N = N;
      g.K = K;
      const char *name;
      if (v < 2) {
        g.kind = 0;
        g.bits = v ? 8 : 4;
        g.gs = 64;
        g.wbytes = (size_t)(N * K * g.bits / 8);
        g.sbytes = (size_t)(N * K / 64) * 2;
        name = v ? "affine 8-bit g64 bf16" : "affine 4-bit g64 bf16";
      } else {
        g.kind = 1;
        g.gtype = 2;
        g.wbytes = (size_t)(N * K / 32 * 18);
        name = "gguf q4_0           ";
      }
      gemv_setup(&g);
      double bytes = (double)g.wbytes + 2.0 * (double)g.sbytes;
      for (int nw = 0; nw <= 8; nw = nw ? nw * 2 : 1) {
        cu_qmv_set_warps(nw);
        double t = gemv_time(&g);
        if (t <= 0) {
          printf("  %s N %5lld K %5lld: launch failed\n", name, (long long)N, (long long)K);
          break;
        }
        double gbs = bytes / t / 1e9;
        printf("  %s N %5lld K %5lld warps %s%d: %7.1f us  %6.0f GB/s  %5.1f%% of copy\n", name,
               (long long)N, (long long)K, nw ? "" : "auto=", nw, t * 1e6, gbs,
               copy > 0 ? 100.0 * gbs / copy : 0.0);
      }
      cu_qmv_set_warps(0);
      gemv_free(&g);
    }
  }
#endif
  printf("\nend to end (mx_quantized_matmul + eval + sync), 4-bit g64 bf16:\n");
  for (int si = 0; si < 3; si++) {
    int64_t N = shapes[si][0], K = shapes[si][1];
    mm_ctx c;
    make_q(&c, 1, N, K, 4, 64);
    double t = time_best(run_qmm, &c, 50);
    printf("  M 1 N %5lld K %5lld: %7.1f us\n", (long long)N, (long long)K, t * 1e6);
    free_q(&c);
  }
  printf("\nprefill M = 512, bf16 x (dequantize + cuBLAS) vs bf16 cuBLAS GEMM of the shape:\n");
  const int64_t pre[2][2] = {{4096, 4096}, {4096, 14336}};
  for (int si = 0; si < 2; si++) {
    int64_t N = pre[si][0], K = pre[si][1], M = 512;
    for (int bits = 4; bits <= 8; bits += 4) {
      mm_ctx c;
      make_q(&c, M, N, K, bits, 64);
      double tq = time_best(run_qmm, &c, 10), tm = time_best(run_mm, &c, 10);
      double fl = 2.0 * (double)M * (double)N * (double)K;
      printf("  %d-bit g64 N %5lld K %5lld: %6.1f TFLOP/s (%.0f us) = %5.1f%% of bf16 GEMM "
             "(%.1f TFLOP/s)\n",
             bits, (long long)N, (long long)K, fl / tq / 1e12, tq * 1e6, 100.0 * tm / tq,
             fl / tm / 1e12);
      free_q(&c);
    }
  }
  printf("gpu fallbacks: %lld\n", (long long)gpu_fallback_count());
  return 0;
}
