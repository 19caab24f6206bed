/* test_cuda_quant.c — the CUDA quantized kernels (quantized_matmul,
 * dequantize, gguf_matmul, gguf_dequantize) against the CPU backend on the
 * same host inputs. Without a usable GPU it says so and passes (CI has none).
 *
 * References and tolerances (per element: |gpu - ref| <= a * S + u * |ref|,
 * S = sum_k |x_k| |w_k| the row's magnitude scale, computed on the CPU):
 *   - the CPU quantized_matmul with MLXC_QMM_ISA=none (its decode path then
 *     dots x with f32-dequantized rows instead of int8-quantized activations,
 *     so it is exact f32 math and a fair reference);
 *   - decode (GPU fused kernel, f32 accumulation, M <= 8, x @ W^T):
 *     a = 1e-6 * sqrt(K): only the summation order differs (f32 eps 6e-8,
 *     random-walk growth sqrt(K), 16x margin). The tensor-core kernel
 *     (f16/bf16 x) feeds exact small integers q and x to mma.sync with f32
 *     accumulation: products are exact, so it is again only summation
 *     order; every kernel variant (K split, tiles per warp, step size, the
 *     FMA kernel) is checked against the same bound;
 *   - the dequantize + cuBLAS path (M > 8 or x @ W): f32 outputs as above
 *     (plain f32 GEMM, no TF32); f16/bf16 outputs also round W to the
 *     output type before the GEMM (MLX's GPU does the same): each w gains
 *     <= 2 roundings of |s q| + |b| (<= ~8 |w| for normal weights) at
 *     2^-11 (f16) / 2^-8 (bf16), so a = 2^-8 (f16) / 2^-5 (bf16) worst
 *     case, far above the random-sign sum seen in practice;
 *   - u = one unit of the output's last place (f16 2^-10, bf16 2^-7 of
 *     |ref|, 0 for f32): the result is rounded once, possibly to the other
 *     side;
 *   - dequantize / gguf_dequantize: bit-exact (same f32 operations, same
 *     roundings, no fused multiply-add);
 *   - gguf_matmul: against CPU gguf_dequantize (f32) + f32 matmul with the
 *     same a/u rules (the CPU's own decode quantizes x to int8, so it is
 *     not a tight reference there); for M >= 16 also against the CPU
 *     gguf_matmul itself (its prefill is exact f32).
 * Every covered GPU evaluation must leave gpu_fallback_count() unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quant_compare.h"
#include "core/core.h"
#include "core/half.h"

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};
static int n_cases;

static bool bits_equal(mx_array g, mx_array r) {
  mx_set_default_device(cpu);
  if (!g || !r || mx_array_size(g) != mx_array_size(r) || mx_array_dtype(g) != mx_array_dtype(r))
    return false;
  mx_array gc = mx_contiguous(g), rc = mx_contiguous(r);
  mx_eval1(gc);
  mx_eval1(rc);
  bool eq = memcmp(mx_array_data(gc), mx_array_data(rc),
                   (size_t)mx_array_size(g) * mx_dtype_size(mx_array_dtype(g))) == 0;
  mx_array_free(gc);
  mx_array_free(rc);
  return eq;
}

static double ulp_of(mx_dtype t) {
  return t == MX_BFLOAT16 ? 0x1p-7 : t == MX_FLOAT16 ? 0x1p-10 : 0.0;
}

/* The `a` of the header for a path and output dtype. */
static double a_of(bool decode, mx_dtype out, int64_t K) {
  if (decode || out == MX_FLOAT32) return 1e-6 * sqrt((double)K);
  return out == MX_FLOAT16 ? 0x1p-8 : 0x1p-5;
}

typedef struct qcase {
  int bits, gs;
  mx_dtype sdt, xdt;
  int64_t M, N, K;
  bool transpose;
  int xb, wb;     /* leading batch dim of x / W (0: none) */
  bool x_strided; /* x given as a transposed view */
  bool x_1d;      /* x of shape (K) */
} qcase;

static void qmm_case(const qcase *c, uint64_t seed) {
  int64_t ws[3], xs[3];
  int wn = 0, xn = 0;
  if (c->wb) ws[wn++] = c->wb;
  ws[wn++] = c->transpose ? c->N : c->K;
  ws[wn++] = c->transpose ? c->K : c->N;
  if (c->xb) xs[xn++] = c->xb;
  if (!c->x_1d) xs[xn++] = c->M;
  xs[xn++] = c->K;
  mx_array W = qc_randn(ws, wn, c->sdt, seed);
  mx_array x;
  if (c->x_strided) {
    int64_t ts[2] = {c->K, c->M};
    int perm[2] = {1, 0};
    mx_array xt = qc_randn(ts, 2, c->xdt, seed + 1);
    x = mx_transpose(xt, perm, 2);
    mx_eval1(x);
    mx_array_free(xt);
  } else {
    x = qc_randn(xs, xn, c->xdt, seed + 1);
  }
  mx_array q[3] = {NULL, NULL, NULL};
  mx_quantize(W, c->gs, c->bits, MX_QUANT_AFFINE, NULL, q);
  for (int k = 0; k < 3; k++) mx_eval1(q[k]);
  mx_array wdeq = mx_dequantize(q[0], q[1], q[2], c->gs, c->bits, MX_QUANT_AFFINE, NULL,
                                MX_FLOAT32);
  mx_eval1(wdeq);
  mx_array ref = mx_quantized_matmul(x, q[0], q[1], q[2], c->transpose, c->gs, c->bits,
                                     MX_QUANT_AFFINE);
  mx_eval1(ref);
  mx_set_default_device(gpu);
  int64_t fb = gpu_fallback_count();
  mx_array got = mx_quantized_matmul(x, q[0], q[1], q[2], c->transpose, c->gs, c->bits,
                                     MX_QUANT_AFFINE);
  mx_status st = mx_eval1(got);
  int64_t fb2 = gpu_fallback_count();
  /* Also the dequantize + matmul graph on the GPU (x @ dequantize(W)^T). */
  mx_array S = qc_magnitude(x, wdeq, c->transpose);
  mx_dtype ot = got ? mx_array_dtype(got) : MX_FLOAT32;
  int64_t rows = c->x_1d ? 1 : c->M * (c->xb && !c->wb ? c->xb : 1);
  bool decode = c->transpose && rows <= 8;
  double a = a_of(decode, ot, c->K), u = ulp_of(ot);
  double e = st == MX_OK ? qc_worst(got, ref, S, a, u) : 1e9;
  char msg[256];
  snprintf(msg, sizeof msg,
           "qmm bits %d gs %d s %s x %s M %lld N %lld K %lld %s xb %d wb %d%s%s: err %.3g of "
           "tol, fallbacks %lld (%s)",
           c->bits, c->gs, mx_dtype_name(c->sdt), mx_dtype_name(c->xdt), (long long)c->M,
           (long long)c->N, (long long)c->K, c->transpose ? "x@W^T" : "x@W", c->xb, c->wb,
           c->x_strided ? " strided-x" : "", c->x_1d ? " 1-D x" : "", e, (long long)(fb2 - fb),
           st == MX_OK ? "ok" : mx_last_error());
  CHECK_MSG(e <= 1.0 && fb2 == fb, msg);
  n_cases++;
  mx_array_free(W);
  mx_array_free(x);
  for (int k = 0; k < 3; k++) mx_array_free(q[k]);
  mx_array_free(wdeq);
  mx_array_free(ref);
  mx_array_free(got);
  mx_array_free(S);
}

/* The decode kernel's variants (quant.cu's cu_qmv_set_config; weak: absent
 * in builds without CUDA, where this test skips anyway). */
extern void cu_qmv_set_config(int kernel, int ks, int bpr, int mt) __attribute__((weak));
extern void cu_qmv_set_pdl(int on) __attribute__((weak));
extern long cu_qmv_tma_count(void) __attribute__((weak));

/* The TMA-fed kernel (qmv_tma.cu), forced: shapes it takes (whole stages of
 * 16 groups) in every format, M up to 8, tail tiles, and a matrix with more
 * 16-row tiles than resident blocks (each block then loops over tiles).
 * Same tolerance as every decode kernel; the kernel must have run. */
static void tma_cases(uint64_t *seed) {
  const qcase cs[] = {
      {4, 64, MX_BFLOAT16, MX_BFLOAT16, 1, 100, 64 * 32, true, 0, 0, false, false},
      {4, 32, MX_FLOAT16, MX_FLOAT16, 5, 77, 32 * 48, true, 0, 0, false, false},
      {8, 128, MX_BFLOAT16, MX_BFLOAT16, 8, 40, 128 * 16, true, 0, 0, false, false},
      {8, 64, MX_FLOAT16, MX_FLOAT16, 2, 50, 64 * 16, true, 0, 0, false, false},
      {4, 128, MX_BFLOAT16, MX_BFLOAT16, 3, 33, 128 * 32, true, 0, 0, false, false},
      {8, 32, MX_BFLOAT16, MX_BFLOAT16, 1, 17, 32 * 16, true, 0, 0, false, false},
      {4, 64, MX_BFLOAT16, MX_BFLOAT16, 1, 20000, 64 * 16, true, 0, 0, false, false},
      {4, 64, MX_FLOAT16, MX_FLOAT16, 2, 4099, 64 * 224, true, 0, 0, false, false},
  };
  if (!cu_qmv_set_config || !cu_qmv_tma_count) {
    printf("test_cuda_quant: TMA kernel not reachable\n");
    return;
  }
  cu_qmv_set_config(3, 0, 0, 0);
  for (int pdl = 0; pdl < 2; pdl++) {
    if (cu_qmv_set_pdl) cu_qmv_set_pdl(pdl);
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
      long before = cu_qmv_tma_count();
      qmm_case(&cs[i], (*seed)++);
      CHECK(cu_qmv_tma_count() > before);
    }
  }
  if (cu_qmv_set_pdl) cu_qmv_set_pdl(0);
  cu_qmv_set_config(0, 0, 0, 0);
}

static void variant_cases(uint64_t *seed) {
  static const int cfg[6][4] = {{2, 0, 0, 0},  {2, 1, 32, 1}, {2, 16, 64, 1},
                                {2, 3, 32, 2}, {2, 2, 64, 2}, {1, 0, 0, 0}};
  /* Group counts chosen so that each step size (U = 32 or 64 bytes per
   * lane, or 1 group when neither divides) is taken; N not a multiple of
   * 16 or 32 (tail tiles); M up to 8. */
  const qcase cs[] = {
      {4, 64, MX_BFLOAT16, MX_BFLOAT16, 1, 100, 64 * 24, true, 0, 0, false, false},
      {4, 32, MX_FLOAT16, MX_FLOAT16, 5, 77, 32 * 48, true, 0, 0, false, false},
      {8, 128, MX_BFLOAT16, MX_BFLOAT16, 8, 40, 128 * 6, true, 0, 0, false, false},
      {8, 64, MX_FLOAT16, MX_FLOAT16, 2, 50, 64 * 12, true, 0, 0, false, false},
      {4, 128, MX_BFLOAT16, MX_BFLOAT16, 3, 33, 128 * 10, true, 0, 0, false, false},
      {8, 32, MX_BFLOAT16, MX_BFLOAT16, 1, 17, 32 * 7, true, 0, 0, false, false},
      {4, 64, MX_FLOAT16, MX_FLOAT16, 4, 45, 64 * 5, true, 2, 2, false, false}, /* batched */
  };
  if (!cu_qmv_set_config) {
    printf("test_cuda_quant: decode kernel variants not reachable (no cu_qmv_set_config)\n");
    return;
  }
  for (int k = 0; k < 6; k++) {
    cu_qmv_set_config(cfg[k][0], cfg[k][1], cfg[k][2], cfg[k][3]);
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) qmm_case(&cs[i], (*seed)++);
  }
  /* Both kernels launched with programmatic dependent launch forced (the
   * weights were settled before the product, as the flag requires). */
  if (cu_qmv_set_pdl) {
    cu_qmv_set_pdl(1);
    for (int k = 0; k < 2; k++) {
      cu_qmv_set_config(k + 1, 0, 0, 0);
      for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) qmm_case(&cs[i], (*seed)++);
    }
    cu_qmv_set_pdl(0);
  }
  cu_qmv_set_config(0, 0, 0, 0);
}

/* dequantize on the GPU equals the CPU bit for bit. */
static void deq_case(int bits, int gs, mx_dtype sdt, mx_dtype ot, uint64_t seed) {
  int64_t ws[2] = {37, 4 * gs};
  mx_array W = qc_randn(ws, 2, sdt, seed);
  mx_array q[3] = {NULL, NULL, NULL};
  mx_quantize(W, gs, bits, MX_QUANT_AFFINE, NULL, q);
  for (int k = 0; k < 3; k++) mx_eval1(q[k]);
  mx_array ref = mx_dequantize(q[0], q[1], q[2], gs, bits, MX_QUANT_AFFINE, NULL, ot);
  mx_eval1(ref);
  mx_set_default_device(gpu);
  int64_t fb = gpu_fallback_count();
  mx_array got = mx_dequantize(q[0], q[1], q[2], gs, bits, MX_QUANT_AFFINE, NULL, ot);
  mx_eval1(got);
  int64_t fb2 = gpu_fallback_count();
  char msg[160];
  snprintf(msg, sizeof msg, "dequantize bits %d gs %d s %s -> %s: exact, no fallback", bits, gs,
           mx_dtype_name(sdt), mx_dtype_name(ot));
  CHECK_MSG(bits_equal(got, ref) && fb2 == fb, msg);
  mx_array_free(W);
  for (int k = 0; k < 3; k++) mx_array_free(q[k]);
  mx_array_free(ref);
  mx_array_free(got);
}

/* ---- GGUF ---- */

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* N rows of K values as Q4_0 (type 2) or Q8_0 (type 8) blocks. */
static mx_array gguf_blocks(int type, int64_t N, int64_t K, uint64_t seed) {
  int bytes = type == 2 ? 18 : 34;
  int64_t rb = K / 32 * bytes;
  uint8_t *h = malloc((size_t)(N * rb) + 1);
  for (int64_t r = 0; r < N; r++)
    for (int64_t b = 0; b < K / 32; b++) {
      uint8_t *p = h + r * rb + b * bytes;
      uint16_t d = f32_to_f16(0.002f + 0.03f * (float)(lcg(&seed) % 1000) / 1000.0f);
      p[0] = (uint8_t)d;
      p[1] = (uint8_t)(d >> 8);
      for (int j = 2; j < bytes; j++) p[j] = (uint8_t)lcg(&seed);
    }
  int64_t shape[2] = {N, rb};
  mx_set_default_device(cpu);
  mx_array a = mx_array_from_data(h, shape, 2, MX_UINT8);
  free(h);
  return a;
}

static void gguf_case(int type, mx_dtype xdt, int64_t M, int64_t N, int64_t K, uint64_t seed) {
  mx_array blk = gguf_blocks(type, N, K, seed);
  int64_t xs[2] = {M, K};
  mx_array x = qc_randn(xs, 2, xdt, seed + 7);
  mx_array deq = mx_gguf_dequantize(blk, (mx_ggml_type)type, K, MX_FLOAT32);
  mx_eval1(deq);
  mx_array x32 = qc_as_f32(x);
  int perm[2] = {1, 0};
  mx_array dt = mx_transpose(deq, perm, 2);
  mx_array ref = mx_matmul(x32, dt);
  mx_eval1(ref);
  mx_array cpu_mm = M >= 16 ? mx_gguf_matmul(x, blk, (mx_ggml_type)type, K) : NULL;
  if (cpu_mm) mx_eval1(cpu_mm);
  mx_array S = qc_magnitude(x, deq, true);
  mx_set_default_device(gpu);
  int64_t fb = gpu_fallback_count();
  mx_array got = mx_gguf_matmul(x, blk, (mx_ggml_type)type, K);
  mx_status st = mx_eval1(got);
  mx_array gdeq = mx_gguf_dequantize(blk, (mx_ggml_type)type, K, xdt);
  mx_eval1(gdeq);
  int64_t fb2 = gpu_fallback_count();
  mx_set_default_device(cpu);
  mx_array cdeq = mx_gguf_dequantize(blk, (mx_ggml_type)type, K, xdt);
  mx_eval1(cdeq);
  bool decode = M <= 8 && K % 64 == 0;
  double a = a_of(decode, xdt, K), u = ulp_of(xdt);
  double e = st == MX_OK ? qc_worst(got, ref, S, a, u) : 1e9;
  double e2 = cpu_mm ? qc_worst(got, cpu_mm, S, a, u) : 0;
  char msg[200];
  snprintf(msg, sizeof msg,
           "gguf %s x %s M %lld N %lld K %lld: err %.3g / %.3g of tol, fallbacks %lld",
           type == 2 ? "q4_0" : "q8_0", mx_dtype_name(xdt), (long long)M, (long long)N,
           (long long)K, e, e2, (long long)(fb2 - fb));
  CHECK_MSG(e <= 1.0 && e2 <= 1.0 && fb2 == fb, msg);
  snprintf(msg, sizeof msg, "gguf_dequantize %s -> %s N %lld K %lld: exact",
           type == 2 ? "q4_0" : "q8_0", mx_dtype_name(xdt), (long long)N, (long long)K);
  CHECK_MSG(bits_equal(gdeq, cdeq), msg);
  n_cases++;
  mx_array_free(blk);
  mx_array_free(x);
  mx_array_free(deq);
  mx_array_free(x32);
  mx_array_free(dt);
  mx_array_free(ref);
  mx_array_free(cpu_mm);
  mx_array_free(S);
  mx_array_free(got);
  mx_array_free(gdeq);
  mx_array_free(cdeq);
}

int main(void) {
  /* The CPU reference in exact f32 (see the header). */
  setenv("MLXC_QMM_ISA", "none", 1);
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("test_cuda_quant: skipped: no usable GPU (%s)\n", mx_last_error());
    mx_clear_error();
    return 0;
  }
  mx_set_default_device(gpu);
  printf("test_cuda_quant: %d GPU(s)\n", (int)mx_device_count(MX_GPU));
  const mx_dtype fts[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
  const int64_t Ms[5] = {1, 3, 8, 17, 64};
  uint64_t seed = 100;
  /* 4 and 8 bits: every group size, scale dtype, x dtype, M, both
   * orientations; N odd. */
  for (int bi = 0; bi < 2; bi++)
    for (int g = 0; g < 3; g++)
      for (int si = 0; si < 3; si++)
        for (int xi = 0; xi < 3; xi++)
          for (int mi = 0; mi < 5; mi++)
            for (int tr = 1; tr >= 0; tr--) {
              int gs = 32 << g;
              /* x @ W packs W's rows (N values): N a multiple of gs, K odd. */
              qcase c = {bi ? 8 : 4, gs, fts[si], fts[xi], Ms[mi], tr ? 33 : 2 * gs,
                         tr ? 3 * gs : 33, tr == 1, 0, 0, false, false};
              qmm_case(&c, seed++);
            }
  /* Other bit widths (generic decode kernel, dequantize + GEMM). */
  const int others[4] = {2, 3, 5, 6};
  for (int oi = 0; oi < 4; oi++)
    for (int g = 0; g < 3; g++)
      for (int mi = 0; mi < 5; mi += 2)
        for (int tr = 1; tr >= 0; tr--) {
          qcase c = {others[oi], 32 << g, MX_BFLOAT16, MX_FLOAT32, Ms[mi],
                     tr ? 33 : 2 * (32 << g), tr ? 2 * (32 << g) : 33, tr == 1, 0, 0, false,
                     false};
          qmm_case(&c, seed++);
        }
  /* Batches, broadcasts, strided and 1-D x, a multi-warp K and large N. */
  {
    qcase cs[] = {
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 3, 33, 256, true, 2, 0, false, false},  /* folded */
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 3, 33, 256, true, 2, 2, false, false},  /* batched W */
        {8, 32, MX_FLOAT16, MX_FLOAT16, 3, 33, 256, true, 1, 2, false, false},    /* x bcast */
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 17, 33, 256, true, 2, 2, false, false}, /* prefill */
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 3, 128, 33, false, 2, 2, false, false},
        {4, 128, MX_FLOAT32, MX_FLOAT32, 5, 33, 256, true, 0, 0, true, false},  /* strided */
        {8, 64, MX_BFLOAT16, MX_FLOAT32, 1, 33, 256, true, 0, 0, false, true},  /* 1-D x */
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 1, 4097, 4096, true, 0, 0, false, false},
        {8, 64, MX_BFLOAT16, MX_BFLOAT16, 2, 1031, 14336, true, 0, 0, false, false},
        {4, 64, MX_FLOAT16, MX_FLOAT16, 1, 1024, 1000, false, 0, 0, false, false},
        {4, 64, MX_BFLOAT16, MX_BFLOAT16, 40, 1000, 2048, true, 0, 0, false, false},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) qmm_case(&cs[i], seed++);
  }
  variant_cases(&seed);
  tma_cases(&seed);
  /* dequantize: bit-exact for every bits / group size / dtype pair. */
  const int allbits[6] = {2, 3, 4, 5, 6, 8};
  for (int bi = 0; bi < 6; bi++)
    for (int g = 0; g < 3; g++)
      for (int si = 0; si < 3; si++) deq_case(allbits[bi], 32 << g, fts[si], fts[(si + bi) % 3], seed++);
  /* GGUF Q4_0 / Q8_0. */
  for (int ti = 0; ti < 2; ti++)
    for (int xi = 0; xi < 3; xi++)
      for (int mi = 0; mi < 5; mi++) gguf_case(ti ? 8 : 2, fts[xi], Ms[mi], 33, 256, seed++);
  gguf_case(2, MX_BFLOAT16, 1, 33, 96, seed++); /* odd block count: dequant + GEMM */
  gguf_case(8, MX_FLOAT32, 3, 33, 96, seed++);
  gguf_case(2, MX_BFLOAT16, 1, 4096, 4096, seed++);
  gguf_case(8, MX_FLOAT16, 4, 1025, 2048, seed++);
  if (cu_qmv_set_config) { /* the tensor-core GGUF kernel, on request only */
    cu_qmv_set_config(2, 0, 0, 0);
    for (int ti = 0; ti < 2; ti++)
      for (int xi = 1; xi < 3; xi++)
        for (int mi = 0; mi < 3; mi++) gguf_case(ti ? 8 : 2, fts[xi], Ms[mi], 33, 256, seed++);
    gguf_case(2, MX_BFLOAT16, 1, 4096, 4096, seed++);
    gguf_case(8, MX_FLOAT16, 4, 1025, 2048, seed++);
    cu_qmv_set_config(2, 3, 0, 0);
    gguf_case(2, MX_FLOAT16, 7, 100, 64 * 9, seed++);
    gguf_case(8, MX_BFLOAT16, 2, 100, 64 * 9, seed++);
    cu_qmv_set_config(0, 0, 0, 0);
  }
  printf("test_cuda_quant: %d product cases, fallbacks so far %lld\n", n_cases,
         (long long)gpu_fallback_count());
  return check_summary();
}
