/* bench_cuda_qgemm — quantized prefill on the GPU: the fused dequantize +
 * tensor-core GEMM (qgemm.cu) against the dequantize + cuBLAS path it
 * replaces and against plain cuBLAS on an unquantized bf16 matrix of the
 * same shape, all in the same run.
 *
 * y (M x N) = x (M x K) @ W^T on the Llama-3 8B and 1B projection shapes
 * (q/k/v fused, o, gate/up fused, down, lm_head), M = 512 (and 128 / 2048
 * for 8B gate/up). Each timing: 3 warm-up launches, then the median of 15
 * timed ones, CUDA events around each. TFLOP/s = 2 M N K / time; % of the
 * dense bf16 tensor-core peak of an H100/H200 SXM (989 TFLOP/s).
 *   new   = cu_qgemm, automatic tile choice, every product routed to it
 *           (CU_QGEMM_ALWAYS; by default the library sends only M <= 128,
 *           N >= 16384 there, where it measured faster than "old");
 *   cfgN  = cu_qgemm with tile configuration N forced (sweep lines);
 *   old   = cu_qdequant into a scratch tile of at most 64M values + cuBLAS
 *           GemmEx per tile: exactly what cuda_quant_ops.c's qmm_gemm does;
 *   cublas= GemmEx on a dense bf16 W (the ceiling without quantization).
 * "layer" = the 8B layer's 4 fused projections: total flops / summed time.
 * "check" = max |new - old| / max |old| over the output (the two paths
 * round w differently, so ~1e-2 is expected; a bug shows as ~1).
 * Environment: QGEMM_LINES=i,j,.. runs only those lines (0-based),
 * QGEMM_CFG=c forces configuration c for "new" (for a profiler).
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

#include "backend/cuda/cuda_blas.h"
#include "backend/cuda/cuda_quant.h"
#include "backend/cuda/qgemm.h"

#define PEAK 989e12

static cudaStream_t stream;
static cublasHandle_t handle;

typedef struct prob {
  mx_dtype t;
  int bits, gs;
  int64_t M, N, K;
  void *x, *w, *s, *b, *y, *y2, *wd, *scratch;
  size_t scratch_bytes;
} prob;

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* A device buffer of `bytes` filled from a repeated 16 MiB host pattern of
 * kind 0: random bits, 1: 16-bit values in [-1, 1] (t), 2: positive
 * scale-sized 16-bit values (0.008..0.016 in bf16, 1..2 in f16). */
static void *dev_fill(size_t bytes, int kind, mx_dtype t) {
  void *d = NULL;
  if (cudaMalloc(&d, bytes ? bytes : 16) != cudaSuccess) return NULL;
  size_t chunk = (size_t)16 << 20;
  uint16_t *h = malloc(chunk);
  for (size_t i = 0; i < chunk / 2; i++) {
    uint64_t r = xorshift();
    float f = (float)(r % 2001) / 1000.0f - 1.0f;
    h[i] = kind == 0   ? (uint16_t)r
           : kind == 1 ? (t == MX_FLOAT16 ? f32_to_f16(f) : f32_to_bf16(f))
                       : (uint16_t)(0x3C00 | (r & 0x3FF));
  }
  for (size_t o = 0; o < bytes; o += chunk)
    cudaMemcpy((char *)d + o, h, bytes - o < chunk ? bytes - o : chunk, cudaMemcpyHostToDevice);
  free(h);
  return d;
}

static int prob_init(prob *p, mx_dtype t, int bits, int gs, int64_t M, int64_t N, int64_t K,
                     int dense) {
  memset(p, 0, sizeof *p);
  p->t = t;
  p->bits = bits;
  p->gs = gs;
  p->M = M;
  p->N = N;
  p->K = K;
  int64_t tr = ((int64_t)1 << 26) / K;
  if (tr > N) tr = N;
  p->scratch_bytes = (size_t)(tr * K) * 2;
  p->x = dev_fill((size_t)(M * K) * 2, 1, t);
  p->w = dev_fill((size_t)(N * K * bits / 8), 0, t);
  p->s = dev_fill((size_t)(N * (K / gs)) * 2, 2, t);
  p->b = dev_fill((size_t)(N * (K / gs)) * 2, 2, t);
  p->wd = dense ? dev_fill((size_t)(N * K) * 2, 1, t) : NULL;
  cudaMalloc(&p->y, (size_t)(M * N) * 2);
  cudaMalloc(&p->y2, (size_t)(M * N) * 2);
  cudaMalloc(&p->scratch, p->scratch_bytes);
  return p->x && p->w && p->s && p->b && (!dense || p->wd) && p->y && p->y2 && p->scratch ? 0
                                                                                          : -1;
}

static void prob_free(prob *p) {
  cudaFree(p->x);
  cudaFree(p->w);
  cudaFree(p->s);
  cudaFree(p->b);
  cudaFree(p->wd);
  cudaFree(p->y);
  cudaFree(p->y2);
  cudaFree(p->scratch);
}

static cudaDataType_t ctype(mx_dtype t) { return t == MX_FLOAT16 ? CUDA_R_16F : CUDA_R_16BF; }

static int run_new(prob *p, void *y) {
  return cu_qgemm(p->t, p->bits, p->gs, p->x, p->w, p->s, p->b, y, p->M, p->N, p->K, stream);
}

/* The library's previous prefill path (cuda_quant_ops.c qmm_gemm). */
static int run_old(prob *p, void *y) {
  int64_t tr = (int64_t)(p->scratch_bytes / 2) / p->K;
  int64_t gpr = p->K / p->gs;
  float one = 1.0f, zero = 0.0f;
  int err = 0;
  for (int64_t r0 = 0; r0 < p->N && !err; r0 += tr) {
    int64_t nr = p->N - r0 < tr ? p->N - r0 : tr;
    err = cu_qdequant(p->t, p->t, p->bits, p->gs, (char *)p->w + r0 * (p->K * p->bits / 8),
                      (char *)p->s + r0 * gpr * 2, (char *)p->b + r0 * gpr * 2, p->scratch,
                      nr * p->K, stream);
    if (!err)
      err = (int)cuda_blas()->GemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)nr, (int)p->M,
                                     (int)p->K, &one, p->scratch, ctype(p->t), (int)p->K, p->x,
                                     ctype(p->t), (int)p->K, &zero, (char *)y + r0 * 2,
                                     ctype(p->t), (int)p->N, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT);
  }
  return err;
}

static int run_dense(prob *p, void *y) {
  float one = 1.0f, zero = 0.0f;
  return (int)cuda_blas()->GemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, (int)p->N, (int)p->M,
                                  (int)p->K, &one, p->wd, ctype(p->t), (int)p->K, p->x,
                                  ctype(p->t), (int)p->K, &zero, y, ctype(p->t), (int)p->N,
                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Median seconds of 15 timed launches after 3 warm-ups; -1 on error. */
static double time_med(int (*fn)(prob *, void *), prob *p) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  int err = 0;
  for (int i = 0; i < 3; i++) err |= fn(p, p->y);
  float ms[15];
  for (int r = 0; r < 15 && !err; r++) {
    cudaEventRecord(e0, stream);
    err |= fn(p, p->y);
    cudaEventRecord(e1, stream);
    cudaEventSynchronize(e1);
    cudaEventElapsedTime(&ms[r], e0, e1);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (err || cudaStreamSynchronize(stream)) {
    printf("  (launch error %d: %s)\n", err, cudaGetErrorString(cudaGetLastError()));
    return -1;
  }
  qsort(ms, 15, sizeof *ms, cmp_f);
  return ms[7] * 1e-3;
}

static float h2f(uint16_t v, mx_dtype t) { return t == MX_FLOAT16 ? f16_to_f32(v) : bf16_to_f32(v); }

/* max |new - old| / max |old|. */
static double check(prob *p) {
  size_t n = (size_t)(p->M * p->N);
  if (run_new(p, p->y) || run_old(p, p->y2) || cudaStreamSynchronize(stream)) return -1;
  uint16_t *a = malloc(n * 2), *b = malloc(n * 2);
  cudaMemcpy(a, p->y, n * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(b, p->y2, n * 2, cudaMemcpyDeviceToHost);
  double md = 0, mo = 0;
  for (size_t i = 0; i < n; i++) {
    double fa = h2f(a[i], p->t), fb = h2f(b[i], p->t);
    double d = fa > fb ? fa - fb : fb - fa;
    if (!(d <= 1e30)) d = 1e30;
    if (d > md) md = d;
    if ((fb < 0 ? -fb : fb) > mo) mo = fb < 0 ? -fb : fb;
  }
  free(a);
  free(b);
  return mo > 0 ? md / mo : md;
}

typedef struct line {
  const char *tag;
  int64_t N, K, M;
  int bits, gs;
  mx_dtype t;
  int sweep; /* also time every tile configuration */
} line;

static double fl_of(const prob *p) { return 2.0 * (double)p->M * (double)p->N * (double)p->K; }

static void show(const char *what, double fl, double t) {
  if (t <= 0) {
    printf(" | %s    n/a", what);
    return;
  }
  printf(" | %s %7.1f us %6.1f TF/s %5.1f%%", what, t * 1e6, fl / t / 1e12, 100.0 * fl / t / PEAK);
}

/* Times one line; returns new/old/dense seconds through t3. */
static void bench_line(const line *L, double *t3) {
  prob p;
  t3[0] = t3[1] = t3[2] = -1;
  if (prob_init(&p, L->t, L->bits, L->gs, L->M, L->N, L->K, 1)) {
    printf("  %-12s: cannot allocate\n", L->tag);
    prob_free(&p);
    cudaGetLastError();
    return;
  }
  double fl = fl_of(&p);
  t3[0] = time_med(run_new, &p);
  t3[1] = time_med(run_old, &p);
  t3[2] = time_med(run_dense, &p);
  printf("  %-12s %d-bit g%-3d %s M %4lld N %6lld K %5lld [auto %s]", L->tag, L->bits, L->gs,
         mx_dtype_name(L->t), (long long)L->M, (long long)L->N, (long long)L->K,
         cu_qgemm_config_name(cu_qgemm_auto_config(L->M, L->N, L->K)));
  show("new", fl, t3[0]);
  show("old", fl, t3[1]);
  show("cublas", fl, t3[2]);
  if (t3[0] > 0 && t3[1] > 0) printf(" | new/old %.2fx", t3[1] / t3[0]);
  if (L->N * L->M <= ((int64_t)1 << 24)) printf(" | check %.2g", check(&p));
  printf("\n");
  if (L->sweep) {
    printf("  %-12s   configs:", "");
    for (int c = 1; c <= CU_QGEMM_CONFIGS; c++) {
      cu_qgemm_set_config(c);
      double t = time_med(run_new, &p);
      printf(" | %s %.1f us %.1f%%", cu_qgemm_config_name(c), t * 1e6,
             t > 0 ? 100.0 * fl / t / PEAK : 0);
    }
    cu_qgemm_set_config(getenv("QGEMM_CFG") ? atoi(getenv("QGEMM_CFG")) : CU_QGEMM_ALWAYS);
    printf("\n");
  }
  prob_free(&p);
}

/* Whether line i is in the comma-separated list `only` (NULL: all). */
static int selected(const char *only, int i) {
  if (!only) return 1;
  for (const char *q = only; *q;) {
    char *e;
    long v = strtol(q, &e, 10);
    if (e == q) break;
    if (v == i) return 1;
    q = *e ? e + 1 : e;
  }
  return 0;
}

static void gpu_bench(void) {
  struct cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  printf("device: %s, %d SMs, %.0f MB L2; peak used for %%: %.0f TFLOP/s dense bf16\n", prop.name,
         prop.multiProcessorCount, prop.l2CacheSize / 1e6, PEAK / 1e12);
  if (!cuda_blas() || cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) ||
      cuda_blas()->Create(&handle) != CUBLAS_STATUS_SUCCESS) {
    printf("cannot set up cuBLAS: %s\n", mx_last_error());
    return;
  }
  cuda_blas()->SetStream(handle, stream);
  printf("qgemm: wgmma kernels %s\n", cu_qgemm_have_wgmma() ? "compiled in (sm_90a)"
                                                          : "not compiled in: configs 5-6 run "
                                                            "the mma.sync code");
  const mx_dtype bf = MX_BFLOAT16;
  const line lines[] = {
      {"8B qkv", 6144, 4096, 512, 4, 64, bf, 1},
      {"8B o", 4096, 4096, 512, 4, 64, bf, 1},
      {"8B gate/up", 28672, 4096, 512, 4, 64, bf, 1},
      {"8B down", 4096, 14336, 512, 4, 64, bf, 1},
      {"8B lm_head", 128256, 4096, 512, 4, 64, bf, 0},
      {"8B gate/up", 28672, 4096, 128, 4, 64, bf, 1},
      {"8B gate/up", 28672, 4096, 2048, 4, 64, bf, 1},
      {"1B qkv", 3072, 2048, 512, 4, 64, bf, 1},
      {"1B o", 2048, 2048, 512, 4, 64, bf, 1},
      {"1B gate/up", 16384, 2048, 512, 4, 64, bf, 1},
      {"1B down", 2048, 8192, 512, 4, 64, bf, 1},
      {"1B lm_head", 128256, 2048, 512, 4, 64, bf, 0},
      {"8B gate/up", 28672, 4096, 512, 8, 64, bf, 1},
      {"8B down", 4096, 14336, 512, 8, 64, bf, 0},
      {"8B gate/up", 28672, 4096, 512, 4, 32, bf, 0},
      {"8B gate/up", 28672, 4096, 512, 4, 128, bf, 0},
      {"8B gate/up", 28672, 4096, 512, 4, 64, MX_FLOAT16, 0},
      {"8B gate/up", 28672, 4096, 512, 8, 64, MX_FLOAT16, 0},
  };
  int nl = (int)(sizeof lines / sizeof *lines);
  const char *only = getenv("QGEMM_LINES"); /* e.g. "0,2": a subset, for profiling */
  /* "new" = every product through the kernel (the library routes only
   * M <= 128, N >= 16384 there by default); QGEMM_CFG forces a tile. */
  cu_qgemm_set_config(getenv("QGEMM_CFG") ? atoi(getenv("QGEMM_CFG")) : CU_QGEMM_ALWAYS);
  printf("\nus, TFLOP/s, %% of peak (median of 15; new = fused kernel, old = dequantize + "
         "cuBLAS, cublas = dense bf16 W):\n");
  double layer[3] = {0, 0, 0}, lfl = 0;
  for (int i = 0; i < nl; i++) {
    if (!selected(only, i)) continue;
    double t3[3];
    bench_line(&lines[i], t3);
    if (i < 4) {
      lfl += 2.0 * lines[i].M * (double)lines[i].N * lines[i].K;
      for (int k = 0; k < 3; k++) layer[k] += t3[k];
    }
  }
  if (!only) {
    printf("\n  8B layer (qkv + o + gate/up + down, M 512, 4-bit g64 bf16):");
    show("new", lfl, layer[0]);
    show("old", lfl, layer[1]);
    show("cublas", lfl, layer[2]);
    printf("\n");
  }
  cudaStreamDestroy(stream);
}
#endif

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device((mx_device){MX_GPU, 0});
    printf("bench_cuda_qgemm: no usable GPU (%s)\n", mx_last_error());
    return 0;
  }
#ifdef MLXC_HAVE_CUDA
  gpu_bench();
  printf("qgemm launches: %lld, gpu fallbacks: %lld\n", (long long)cu_qgemm_count(),
         (long long)gpu_fallback_count());
#endif
  return 0;
}
