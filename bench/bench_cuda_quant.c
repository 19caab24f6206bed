/* bench_cuda_quant — the CUDA quantized kernels against the GPU's own
 * ceilings measured in the same run.
 *
 * Decode (M <= 8): the kernels are timed directly through their launchers
 * (cu_qmv, cu_gguf_mv) on the decode shapes of Llama-3 8B and 1B, weights
 * rotated through a 1 GiB pool so no launch finds its matrix in L2. Two
 * timings per kernel: "stream" = back-to-back launches on a stream, CUDA
 * events around them (includes the per-launch gap of the host submitting
 * work), "graph" = the same launches replayed from a CUDA graph (the
 * kernel's own time plus the GPU's minimal inter-kernel gap). Effective
 * GB/s = bytes of weights + scales + biases (or GGUF blocks) per second;
 * % of the device-to-device copy bandwidth (read + write, 1 GiB) measured
 * in the same run — the HBM roofline. "read" = a streaming-read kernel over
 * the same bytes: what any kernel of that size can reach. "layer" = one
 * transformer layer's 4 products (fused qkv, o, fused gate_up, down) run back
 * to back: their bytes over their summed times.
 * Kernels: "fma" = the FMA kernels (cu_qmv_set_config(1, ...)), "tc" = the
 * register-fed tensor-core kernels (qmv_mma), "tma" = the TMA-fed
 * tensor-core kernel (qmv_tma.cu; where it does not apply, the FMA
 * kernel), "+pdl" = launched with programmatic
 * dependent launch (as decode on settled weights runs them: the weights'
 * first loads overlap the previous kernel's tail), "auto" = the default
 * choice.
 * Prefill (M = 512): mx_quantized_matmul (dequantize + cuBLAS) in TFLOP/s,
 * as % of mx_matmul on the same shape in bf16 (cuBLAS) in the same run and
 * as % of the dense bf16 tensor-core peak of an H100/H200 SXM (989 TFLOP/s).
 * With QBENCH_ONE=1 in the environment it launches each decode kernel
 * once (for a profiler) and exits; QBENCH_SWEEP=1 times the register-fed
 * tensor-core kernel's K split x step size choices and exits. Without a usable GPU it says so. */
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
typedef struct shape {
  const char *tag;
  int64_t N, K;
} shape;

/* The products of a decode step as the LM runs them: q/k/v and gate/up are
 * fused at load (one matrix each). */
static const shape shapes[10] = {
    {"8B qkv", 6144, 4096},      {"8B o", 4096, 4096},      {"8B gate_up", 28672, 4096},
    {"8B down", 4096, 14336},    {"8B lm_head", 128256, 4096}, {"1B qkv", 3072, 2048},
    {"1B o", 2048, 2048},        {"1B gate_up", 16384, 2048}, {"1B down", 2048, 8192},
    {"1B lm_head", 128256, 2048}};
/* One layer: qkv, o, gate_up, down (indices into shapes, +5 for 1B). */
#define LAYER_N 4
static const int layer[LAYER_N] = {0, 1, 2, 3};

typedef struct fmt {
  const char *name;
  int kind; /* 0 affine, 1 gguf */
  int bits, gs, gtype;
  mx_dtype t;
} fmt;

#define POOL ((size_t)1 << 30)
static char *pool;
static void *xbuf, *ybuf, *scratch;
static cudaStream_t stream;
static double copy_gbs;

static size_t al256(size_t v) { return (v + 255) & ~(size_t)255; }

static size_t wbytes(const fmt *f, const shape *s) {
  if (f->kind) return (size_t)(s->N * (s->K / 32) * (f->gtype == 2 ? 18 : 34));
  return (size_t)(s->N * s->K * f->bits / 8);
}
static size_t sbytes(const fmt *f, const shape *s) {
  return f->kind ? 0 : (size_t)(s->N * (s->K / f->gs)) * 2;
}
static size_t total_bytes(const fmt *f, const shape *s) { return wbytes(f, s) + 2 * sbytes(f, s); }
static size_t stride_of(const fmt *f, const shape *s) {
  return al256(wbytes(f, s)) + 2 * al256(sbytes(f, s));
}
static int windows(const fmt *f, const shape *s) {
  size_t n = POOL / stride_of(f, s);
  return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

typedef struct job {
  const fmt *f;
  const shape *s;
  int64_t M;
  int mode; /* 0 kernel, 1 streaming read of the same bytes, 2 empty kernel, 3 layer */
} job;

static int job_launch(const job *j, int i) {
  if (j->mode == 2) return cu_q_null_launch(stream);
  if (j->mode == 3) { /* a whole layer: its products back to back */
    int err = 0, m = j->s - shapes >= 5;
    for (int l = 0; l < LAYER_N; l++) {
      job p = {j->f, &shapes[layer[l] + 5 * m], j->M, 0};
      err |= job_launch(&p, i);
    }
    return err;
  }
  char *base = pool + (size_t)(i % windows(j->f, j->s)) * stride_of(j->f, j->s);
  if (j->mode == 1) return cu_q_read(base, (int64_t)total_bytes(j->f, j->s), scratch, stream);
  if (j->f->kind == 0) {
    cu_qbatch bt;
    memset(&bt, 0, sizeof bt);
    char *s = base + al256(wbytes(j->f, j->s)), *b = s + al256(sbytes(j->f, j->s));
    return cu_qmv(j->f->t, j->f->bits, j->f->gs, xbuf, base, s, b, ybuf, j->M, j->s->N, j->s->K,
                  &bt, 1, 0, stream);
  }
  return cu_gguf_mv(j->f->t, j->f->gtype, xbuf, base, ybuf, j->M, j->s->N, j->s->K,
                    j->s->K / 32 * (j->f->gtype == 2 ? 18 : 34), stream);
}

/* Seconds per launch, best of 3 rounds of n launches; graph: replayed from
 * a CUDA graph holding the n launches. */
static double job_time(const job *j, int graph) {
  const int n = 60;
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  cudaGraphExec_t ge = NULL;
  int err = 0;
  if (graph) {
    cudaGraph_t g = NULL;
    if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal)) return -1;
    for (int i = 0; i < n; i++) err |= job_launch(j, i);
    if (cudaStreamEndCapture(stream, &g) || err || cudaGraphInstantiate(&ge, g, 0)) {
      cudaGetLastError();
      return -1;
    }
    cudaGraphDestroy(g);
    cudaGraphLaunch(ge, stream);
  } else {
    for (int i = 0; i < 10; i++) err |= job_launch(j, i);
  }
  double best = 1e30;
  for (int r = 0; r < 3 && !err; r++) {
    cudaEventRecord(e0, stream);
    if (graph)
      err |= cudaGraphLaunch(ge, stream);
    else
      for (int i = 0; i < n; i++) err |= job_launch(j, i);
    cudaEventRecord(e1, stream);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (ms / (n * 1e3) < best) best = ms / (n * 1e3);
  }
  if (ge) cudaGraphExecDestroy(ge);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  if (cudaStreamSynchronize(stream) || err) {
    cudaGetLastError();
    return -1;
  }
  return best;
}

static double pct(double bytes, double t) { return t > 0 ? 100.0 * bytes / t / 1e9 / copy_gbs : 0; }

static void pool_fill(void) {
  size_t chunk = (size_t)64 << 20;
  uint16_t *h = malloc(chunk);
  uint64_t r = 88172645463325252ull;
  for (size_t i = 0; i < chunk / 2; i++) {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    /* Finite bf16 / f16 values (0.008..0.016 / 1..2): valid scales. */
    h[i] = (uint16_t)(0x3C00 | (r & 0x3FF));
  }
  for (size_t o = 0; o < POOL; o += chunk) cudaMemcpy(pool + o, h, chunk, cudaMemcpyHostToDevice);
  free(h);
  uint16_t *hx = malloc((size_t)8 * 131072 * 2);
  for (size_t i = 0; i < (size_t)8 * 131072; i++) {
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    hx[i] = f32_to_bf16((float)(r % 2001) / 1000.0f - 1.0f);
  }
  cudaMemcpy(xbuf, hx, (size_t)8 * 131072 * 2, cudaMemcpyHostToDevice);
  free(hx);
}

/* 1: the FMA kernels, 2: the tensor-core ones, 0: automatic choice. */
static void set_kernel(int k) { cu_qmv_set_config(k, 0, 0, 0); }

#define NKERN 8
static const char *const kname[NKERN] = {"fma", "fma+pdl", "tc", "tc+pdl",
                                         "tma", "tma+pdl", "auto", "auto+pdl"};
static double kernel_time(const job *j, int k, int graph) {
  static const int kk[NKERN] = {1, 1, 2, 2, 3, 3, 0, 0};
  set_kernel(kk[k]);
  cu_qmv_set_pdl(k & 1);
  double t = job_time(j, graph);
  cu_qmv_set_pdl(0);
  set_kernel(0);
  return t;
}

/* Every kernel (graph timing) on all shapes, and a layer sum. */
static void compare(const fmt *f, int64_t M, int with_read) {
  printf("\n%s, M = %lld (us, %% of copy; L2-cold weights; graph timing):\n", f->name,
         (long long)M);
  double tt[10][NKERN];
  for (int si = 0; si < 10; si++) {
    job j = {f, &shapes[si], M, 0};
    double bytes = (double)total_bytes(f, &shapes[si]);
    printf("  %-10s N %6lld K %5lld %6.1f MB |", shapes[si].tag, (long long)shapes[si].N,
           (long long)shapes[si].K, bytes / 1e6);
    for (int k = 0; k < NKERN; k++) {
      tt[si][k] = kernel_time(&j, k, 1);
      printf(" %s %6.1f %4.1f%%", kname[k], tt[si][k] * 1e6, pct(bytes, tt[si][k]));
    }
    if (with_read) {
      job jr = {f, &shapes[si], M, 1};
      double rg = job_time(&jr, 1);
      printf(" | read %6.1f %4.1f%%", rg * 1e6, pct(bytes, rg));
    }
    printf("\n");
  }
  for (int m = 0; m < 2; m++) {
    double lb = 0, lt[NKERN] = {0};
    for (int l = 0; l < LAYER_N; l++) {
      int si = layer[l] + 5 * m;
      lb += (double)total_bytes(f, &shapes[si]);
      for (int k = 0; k < NKERN; k++) lt[k] += tt[si][k];
    }
    printf("  %s layer (%d products, %.1f MB), sum of single timings:", m ? "1B" : "8B", LAYER_N,
           lb / 1e6);
    for (int k = 0; k < NKERN; k++) printf(" %s %.0f GB/s %.1f%%", kname[k], lb / lt[k] / 1e9, pct(lb, lt[k]));
    printf("\n");
  }
}

/* A layer's products launched back to back, as a decode step does. */
static void layer_seq(const fmt *f, int64_t M) {
  printf("\n%s, M = %lld, one layer's products back to back (us per layer, %% of copy; stream "
         "| graph):\n", f->name, (long long)M);
  for (int m = 0; m < 2; m++) {
    double bytes = 0;
    for (int l = 0; l < LAYER_N; l++) bytes += (double)total_bytes(f, &shapes[layer[l] + 5 * m]);
    job j = {f, &shapes[5 * m], M, 3};
    printf("  %s layer %.1f MB:", m ? "1B" : "8B", bytes / 1e6);
    for (int k = 0; k < NKERN; k++) {
      double ts = kernel_time(&j, k, 0), tg = kernel_time(&j, k, 1);
      printf(" | %s %.1f us %.1f%% | %.1f us %.1f%%", kname[k], ts * 1e6, pct(bytes, ts),
             tg * 1e6, pct(bytes, tg));
    }
    printf("\n");
  }
}

static void decode_bench(void) {
  struct cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  printf("device: %s, %d SMs, %.0f MB L2\n", prop.name, prop.multiProcessorCount,
         prop.l2CacheSize / 1e6);
  copy_gbs = cuda_copy_gbs();
  printf("device-to-device copy: %.0f GB/s (read + write) — the roofline below\n", copy_gbs);
  if (cudaMalloc((void **)&pool, POOL) || cudaMalloc(&xbuf, (size_t)8 * 131072 * 2) ||
      cudaMalloc(&ybuf, (size_t)8 * 131072 * 4) || cudaMalloc(&scratch, 65536) ||
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) {
    printf("cannot allocate the weight pool\n");
    return;
  }
  pool_fill();
  const fmt q4 = {"affine 4-bit g64 bf16", 0, 4, 64, 0, MX_BFLOAT16};
  job jn = {&q4, &shapes[0], 1, 2};
  printf("empty kernel: %.2f us per launch back to back on a stream, %.2f us from a graph\n",
         job_time(&jn, 0) * 1e6, job_time(&jn, 1) * 1e6);
  if (getenv("QBENCH_SWEEP")) { /* tensor-core kernel shapes: K split x step size */
    static const int cfg[][2] = {{0, 32}, {1, 32}, {4, 32}, {16, 32}, {1, 64}, {4, 64}, {16, 64}};
    printf("tc+pdl sweep, 4-bit g64 bf16 M = 1 (ks 0 = automatic; bpr = step bytes per row per lane):\n");
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
      printf("  ks %2d bpr %d:", cfg[c][0], cfg[c][1]);
      for (int si = 0; si < 10; si++) {
        job j = {&q4, &shapes[si], 1, 0};
        cu_qmv_set_config(2, cfg[c][0], cfg[c][1], 1);
        cu_qmv_set_pdl(1);
        double t = job_time(&j, 1);
        cu_qmv_set_pdl(0);
        printf(" %s %.1f%%", shapes[si].tag, pct((double)total_bytes(&q4, &shapes[si]), t));
      }
      printf("\n");
    }
    set_kernel(0);
    exit(0);
  }
  if (getenv("QBENCH_ONE")) {
    for (int k = 1; k <= 3; k++) {
      set_kernel(k);
      for (int si = 0; si < 5; si++) {
        job j = {&q4, &shapes[si], 1, 0};
        job_launch(&j, 0);
      }
    }
    cudaStreamSynchronize(stream);
    return;
  }
  compare(&q4, 1, 1);
  layer_seq(&q4, 1);
  const fmt others[] = {
      {"affine 4-bit g32 bf16", 0, 4, 32, 0, MX_BFLOAT16},
      {"affine 4-bit g128 bf16", 0, 4, 128, 0, MX_BFLOAT16},
      {"affine 4-bit g64 f16", 0, 4, 64, 0, MX_FLOAT16},
      {"affine 8-bit g64 bf16", 0, 8, 64, 0, MX_BFLOAT16},
  };
  for (size_t k = 0; k < sizeof others / sizeof *others; k++) compare(&others[k], 1, 0);
  layer_seq(&others[3], 1); /* 8-bit */
  const int64_t Ms[3] = {2, 4, 8};
  for (int k = 0; k < 3; k++) compare(&q4, Ms[k], 0);
  set_kernel(0);
  cudaFree(pool);
  cudaFree(xbuf);
  cudaFree(ybuf);
  cudaFree(scratch);
  cudaStreamDestroy(stream);
}
#endif

/* ---- end to end through the library ---- */

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
#ifdef MLXC_HAVE_CUDA
  decode_bench();
  if (getenv("QBENCH_ONE")) return 0;
#endif
  const int64_t e2e[3][2] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
  printf("\nend to end (mx_quantized_matmul + eval + sync), 4-bit g64 bf16:\n");
  for (int si = 0; si < 3; si++) {
    int64_t N = e2e[si][0], K = e2e[si][1];
    mm_ctx c;
    make_q(&c, 1, N, K, 4, 64);
    double t = time_best(run_qmm, &c, 50);
    printf("  M 1 N %5lld K %5lld: %7.1f us\n", (long long)N, (long long)K, t * 1e6);
    free_q(&c);
  }
  printf("\nprefill M = 512, bf16 x (dequantize + cuBLAS) vs bf16 cuBLAS GEMM of the shape and "
         "the 989 TFLOP/s dense bf16 peak (H100/H200 SXM):\n");
  const int64_t pre[2][2] = {{4096, 4096}, {4096, 14336}};
  for (int si = 0; si < 2; si++) {
    int64_t N = pre[si][0], K = pre[si][1], M = 512;
    for (int bits = 4; bits <= 8; bits += 4) {
      mm_ctx c;
      make_q(&c, M, N, K, bits, 64);
      double tq = time_best(run_qmm, &c, 10), tm = time_best(run_mm, &c, 10);
      double fl = 2.0 * (double)M * (double)N * (double)K;
      printf("  %d-bit g64 N %5lld K %5lld: %6.1f TFLOP/s (%.0f us) = %5.1f%% of bf16 GEMM "
             "(%.1f TFLOP/s = %.1f%% of peak), %.1f%% of peak\n",
             bits, (long long)N, (long long)K, fl / tq / 1e12, tq * 1e6, 100.0 * tm / tq,
             fl / tm / 1e12, 100.0 * fl / tm / 989e12, 100.0 * fl / tq / 989e12);
      free_q(&c);
    }
  }
  printf("gpu fallbacks: %lld\n", (long long)gpu_fallback_count());
  return 0;
}
