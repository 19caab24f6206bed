/* test_cuda_qgemm.c — the fused dequantize + tensor-core prefill kernel
 * (src/backend/cuda/qgemm.cu) through mx_quantized_matmul on the GPU,
 * against the CPU backend on the same host inputs. Without a usable GPU it
 * says so and passes (CI has none).
 *
 * Reference: the CPU quantized_matmul with MLXC_QMM_ISA=none; for M > 8 it
 * dequantizes W to f32 (s * q + b) and multiplies in f32, so it is exact f32
 * math. Per element: |gpu - ref| <= a * S + u * |ref|, S = sum_k |x_k| |w_k|
 * (computed on the CPU from the f32-dequantized W):
 *   - the kernel rounds each weight once to x's dtype, round_t(s * q + b)
 *     (a fused multiply-add of exact operands), so each w is off by at
 *     most half an ulp: 2^-8 |w| (bf16, 8 significant bits) / 2^-11 |w|
 *     (f16, 11 bits); products of x and w are exact in the MMA and summed
 *     in f32 (about 1e-7 * sqrt(K) relative, random walk, against the CPU's
 *     own f32 order). So a = 2 * 2^-8 (bf16) / 2 * 2^-11 (f16) plus
 *     1e-6 * sqrt(K): a 2x margin over the bound. That is 4x (bf16) / 8x
 *     (f16) tighter than test_cuda_quant.c's prefill bound (2^-5 / 2^-8),
 *     which covers the dequantize + cuBLAS path's two roundings of w;
 *   - u = one unit of the output's last place (bf16 2^-7, f16 2^-10 of
 *     |ref|): y is rounded once, possibly to the other side.
 * Path checks: cu_qgemm_count() must grow by one per product (batch folded
 * into rows) and gpu_fallback_count() must not change; with the kernel
 * disabled (cu_qgemm_set_config(-1)) the count stays and the result
 * (dequantize + cuBLAS) still matches within test_cuda_quant.c's bound.
 * Every tile configuration is run on shapes with M, N, K tails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quant_compare.h"
#include "core/core.h"

/* qgemm.cu's C entry points (weak: absent without CUDA, where the test
 * skips before using them). Keep in sync with backend/cuda/qgemm.h. */
extern void cu_qgemm_set_config(int cfg) __attribute__((weak));
extern int64_t cu_qgemm_count(void) __attribute__((weak));
extern int cu_qgemm_have_wgmma(void) __attribute__((weak));
#define N_CONFIGS 6
#define QGEMM_ALWAYS (-2) /* CU_QGEMM_ALWAYS */
#define AUTO_ROUTE 100    /* test-only: cu_qgemm_set_config(0), the routing rule */

static const mx_device gpu = {MX_GPU, 0};
static int n_cases;
static double worst_seen[2]; /* worst err/tol per dtype: 0 bf16, 1 f16 */

typedef struct qcase {
  int bits, gs;
  mx_dtype t;
  int64_t M, N, K;
  int xb;  /* x of shape (xb, M, K) when > 0 (folded into rows) */
  int cfg; /* 0: every product here, automatic tile; 1..N_CONFIGS: that
            * tile; -1: kernel disabled; AUTO_ROUTE: the library's default
            * routing (M <= 128 and N >= 16384 here, else the old path) */
} qcase;

static void qcase_run(const qcase *c, uint64_t seed) {
  int64_t ws[2] = {c->N, c->K}, xs[3];
  int xn = 0;
  if (c->xb) xs[xn++] = c->xb;
  xs[xn++] = c->M;
  xs[xn++] = c->K;
  mx_array W = qc_randn(ws, 2, c->t, seed);
  mx_array x = qc_randn(xs, xn, c->t, seed + 1);
  mx_array q[3] = {NULL, NULL, NULL};
  mx_quantize(W, c->gs, c->bits, MX_QUANT_AFFINE, NULL, q);
  for (int k = 0; k < 3; k++) mx_eval1(q[k]);
  mx_array wdeq =
      mx_dequantize(q[0], q[1], q[2], c->gs, c->bits, MX_QUANT_AFFINE, NULL, MX_FLOAT32);
  mx_eval1(wdeq);
  mx_array ref = mx_quantized_matmul(x, q[0], q[1], q[2], true, c->gs, c->bits, MX_QUANT_AFFINE);
  mx_eval1(ref);
  int64_t x2s[2] = {(c->xb ? c->xb : 1) * c->M, c->K};
  mx_array x2 = mx_reshape(x, x2s, 2);
  mx_array S = qc_magnitude(x2, wdeq, true);

  int64_t rows = (c->xb ? c->xb : 1) * c->M;
  bool routed = c->cfg == AUTO_ROUTE ? rows <= 128 && c->N >= 16384 : c->cfg != -1;
  cu_qgemm_set_config(c->cfg == 0 ? QGEMM_ALWAYS : c->cfg == AUTO_ROUTE ? 0 : c->cfg);
  mx_set_default_device(gpu);
  int64_t fb = gpu_fallback_count(), qc = cu_qgemm_count();
  mx_array got = mx_quantized_matmul(x, q[0], q[1], q[2], true, c->gs, c->bits, MX_QUANT_AFFINE);
  mx_status st = mx_eval1(got);
  int64_t fb2 = gpu_fallback_count(), qc2 = cu_qgemm_count();
  cu_qgemm_set_config(0);

  bool bf = c->t == MX_BFLOAT16;
  double a = !routed ? (bf ? 0x1p-5 : 0x1p-8) : (bf ? 0x1p-7 : 0x1p-10);
  a += 1e-6 * sqrt((double)c->K);
  double u = bf ? 0x1p-7 : 0x1p-10;
  double e = st == MX_OK ? qc_worst(got, ref, S, a, u) : 1e9;
  int64_t want_calls = routed ? 1 : 0;
  if (routed && e > worst_seen[bf ? 0 : 1]) worst_seen[bf ? 0 : 1] = e;
  char msg[256];
  snprintf(msg, sizeof msg,
           "qgemm %d-bit g%d %s M %lld N %lld K %lld xb %d cfg %d: err %.3g of tol, qgemm "
           "launches %lld (want %lld), fallbacks %lld (%s)",
           c->bits, c->gs, mx_dtype_name(c->t), (long long)c->M, (long long)c->N,
           (long long)c->K, c->xb, c->cfg, e, (long long)(qc2 - qc), (long long)want_calls,
           (long long)(fb2 - fb), st == MX_OK ? "ok" : mx_last_error());
  CHECK_MSG(e <= 1.0 && fb2 == fb && qc2 - qc == want_calls, msg);
  n_cases++;
  mx_array_free(W);
  mx_array_free(x);
  mx_array_free(x2);
  for (int k = 0; k < 3; k++) mx_array_free(q[k]);
  mx_array_free(wdeq);
  mx_array_free(ref);
  mx_array_free(S);
  mx_array_free(got);
}

/* K rounded up to a multiple of the group size. */
static int64_t fit_k(int64_t K, int gs) { return (K + gs - 1) / gs * gs; }

int main(void) {
  setenv("MLXC_QMM_ISA", "none", 1);
  /* Products of up to 16 rows would otherwise run the decode kernels in
   * passes of 8 (cuda_quant_ops.c); this test is about the qgemm kernel. */
  setenv("MLXC_QMV_CHUNK_ROWS", "8", 1);
  if (!mx_device_is_available(MX_GPU) || !cu_qgemm_set_config || !cu_qgemm_count) {
    mx_set_default_device(gpu);
    printf("test_cuda_qgemm: skipped: no usable GPU (%s)\n",
           cu_qgemm_count ? mx_last_error() : "built without CUDA");
    mx_clear_error();
    return 0;
  }
  mx_set_default_device(gpu);
  uint64_t seed = 1000;
  const mx_dtype dts[2] = {MX_BFLOAT16, MX_FLOAT16};
  const int64_t Ms[3] = {9, 33, 130}, Ns[3] = {8, 136, 1000}, Ks[3] = {64, 192, 4160};
  /* Every tail combination for 4-bit g64 bf16 (the LM format). */
  for (int mi = 0; mi < 3; mi++)
    for (int ni = 0; ni < 3; ni++)
      for (int ki = 0; ki < 3; ki++) {
        qcase c = {4, 64, MX_BFLOAT16, Ms[mi], Ns[ni], Ks[ki], 0, 0};
        qcase_run(&c, seed++);
      }
  /* Every format: bits x group size x dtype, each on three of the tail
   * shapes (rotating), K fitted to the group size. */
  int rot = 0;
  for (int bi = 0; bi < 2; bi++)
    for (int g = 0; g < 3; g++)
      for (int di = 0; di < 2; di++)
        for (int s = 0; s < 3; s++, rot++) {
          int gs = 32 << g;
          qcase c = {bi ? 8 : 4, gs, dts[di], Ms[(rot + s) % 3], Ns[(rot + 2 * s) % 3],
                     fit_k(Ks[(rot + s + 1) % 3], gs), 0, 0};
          qcase_run(&c, seed++);
        }
  /* Every tile configuration, with tails in M, N and K, both bit widths;
   * scales read per element (K / gs not a multiple of 8: c1, c2) and in
   * 16-byte chunks through shared memory (c3, and the Llama shapes below). */
  for (int cfg = 1; cfg <= N_CONFIGS; cfg++)
    for (int bi = 0; bi < 2; bi++) {
      qcase c1 = {bi ? 8 : 4, 32, MX_BFLOAT16, 130, 1000, 4160, 0, cfg};
      qcase c2 = {bi ? 8 : 4, 128, MX_FLOAT16, 200, 520, 640, 0, cfg};
      qcase c3 = {bi ? 8 : 4, 64, bi ? MX_FLOAT16 : MX_BFLOAT16, 77, 300, 1536, 0, cfg};
      qcase_run(&c1, seed++);
      qcase_run(&c2, seed++);
      qcase_run(&c3, seed++);
    }
  /* The Llama shapes scaled down (N / 8, K / 4 or so), M a few tiles, and
   * the LM's batched x (1, L, K) folded into rows. */
  {
    const qcase cs[] = {
        {4, 64, MX_BFLOAT16, 512, 768, 1024, 1, 0},  /* 8B fused qkv */
        {4, 64, MX_BFLOAT16, 256, 3584, 1024, 1, 0}, /* 8B gate/up */
        {4, 64, MX_BFLOAT16, 128, 512, 3584, 1, 0},  /* 8B down */
        {4, 64, MX_BFLOAT16, 64, 16032, 512, 1, 0},  /* lm_head (N % 128 != 0) */
        {8, 64, MX_BFLOAT16, 300, 384, 2048, 2, 0},  /* 2 sequences */
        {4, 32, MX_FLOAT16, 96, 2048, 2048, 0, 0},   /* 1B gate/up, M < tile */
        {4, 128, MX_BFLOAT16, 17, 1024, 8192, 0, 0}, /* 1B down, small M */
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) qcase_run(&cs[i], seed++);
  }
  /* Kernel disabled: the dequantize + cuBLAS path still runs (and the
   * count shows the switch works). The default routing: only M <= 128
   * with N >= 16384 comes here. */
  {
    const qcase cs[] = {
        {4, 64, MX_BFLOAT16, 33, 136, 192, 0, -1},
        {4, 64, MX_BFLOAT16, 33, 136, 192, 0, AUTO_ROUTE},     /* old path */
        {4, 64, MX_BFLOAT16, 100, 16384, 128, 0, AUTO_ROUTE},  /* here */
        {4, 64, MX_FLOAT16, 64, 16500, 128, 2, AUTO_ROUTE},    /* here, 2 x 64 rows */
        {8, 32, MX_BFLOAT16, 129, 16384, 64, 0, AUTO_ROUTE},   /* old path */
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) qcase_run(&cs[i], seed++);
  }
  /* Decode-sized products keep the decode kernels (M <= 8). */
  {
    int64_t ws[2] = {64, 256}, xs[2] = {4, 256};
    mx_array W = qc_randn(ws, 2, MX_BFLOAT16, seed++);
    mx_array x = qc_randn(xs, 2, MX_BFLOAT16, seed++);
    mx_array q[3] = {NULL, NULL, NULL};
    mx_quantize(W, 64, 4, MX_QUANT_AFFINE, NULL, q);
    for (int k = 0; k < 3; k++) mx_eval1(q[k]);
    mx_set_default_device(gpu);
    int64_t qc = cu_qgemm_count();
    mx_array y = mx_quantized_matmul(x, q[0], q[1], q[2], true, 64, 4, MX_QUANT_AFFINE);
    CHECK(mx_eval1(y) == MX_OK && cu_qgemm_count() == qc);
    mx_array_free(W);
    mx_array_free(x);
    for (int k = 0; k < 3; k++) mx_array_free(q[k]);
    mx_array_free(y);
  }
  printf("test_cuda_qgemm: wgmma kernels %s\n",
         cu_qgemm_have_wgmma && cu_qgemm_have_wgmma() ? "compiled in (sm_90a)"
                                                      : "not compiled in (mma.sync only)");
  printf("test_cuda_qgemm: %d product cases; worst err/tol bf16 %.3f f16 %.3f; fallbacks %lld\n",
         n_cases, worst_seen[0], worst_seen[1], (long long)gpu_fallback_count());
  return check_summary();
}
