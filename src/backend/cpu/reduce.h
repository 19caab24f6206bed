/* reduce.h — CPU kernels of the reduction family (sum ... median, argmax,
 * softmax) and the scans, with their parameter blocks and the vector exp
 * they share.
 *
 * Kernels take any strided input (views, broadcasts, negative strides) and
 * write a fresh row-major output. Half types are computed in f32 and rounded
 * once; f32 sums accumulate blocks in f32 lanes and the blocks in f64.
 */
#ifndef MLXC_CPU_REDUCE_H
#define MLXC_CPU_REDUCE_H

#include <immintrin.h>
#include <stdbool.h>

#include "cpu.h"

typedef enum red_op {
  RED_SUM,
  RED_PROD,
  RED_MAX,
  RED_MIN,
  RED_ALL,
  RED_ANY,
  RED_MEAN,
  RED_VAR,
  RED_STD,
  RED_LOGSUMEXP,
  RED_MEDIAN,
} red_op;

/* axes: sorted, distinct, in [0, input ndim). The output holds the kept
 * dims in order (with or without size-1 placeholders: same element order). */
typedef struct reduce_params {
  int op; /* red_op */
  int naxes;
  int axes[MX_MAX_NDIM];
  int ddof; /* var / std */
} reduce_params;

/* How a reduction walks its input: kept dims merged where contiguous, and
 * reduced dims by decreasing stride (broadcast ones outermost) merged where
 * contiguous, negative reduced strides flipped forwards into `base`
 * (elements, not counting the view's own offset). Built once per call; the
 * CPU kernels and the CUDA backend's reduce both walk it. */
typedef struct reduce_plan {
  int nk, nr;
  int64_t kshape[MX_MAX_NDIM], kstride[MX_MAX_NDIM];
  int64_t rshape[MX_MAX_NDIM], rstride[MX_MAX_NDIM];
  int64_t nout, nred;
  int64_t rn, rs; /* innermost reduced run: length and stride */
  int64_t base;   /* element offset from flipping negative reduced strides */
} reduce_plan;

void reduce_plan_build(mx_array x, const int *axes, int naxes, reduce_plan *p);

typedef struct argreduce_params {
  int is_max;
  int axis; /* -1: the flattened array (row-major order) */
} argreduce_params;

typedef struct softmax_params {
  int naxes;
  int axes[MX_MAX_NDIM]; /* sorted, distinct */
} softmax_params;

typedef enum scan_op { SCAN_SUM, SCAN_PROD, SCAN_MAX, SCAN_MIN, SCAN_LOGADDEXP } scan_op;

typedef struct scan_params {
  int op; /* scan_op */
  int axis;
  bool reverse, inclusive;
} scan_params;

/* The value kinds kernels compute in: f32 (halves too), f64, i64 (bool and
 * integers but u64), u64, c64, and bool for all/any. */
typedef enum kind { K_F32, K_F64, K_I64, K_U64, K_C64, K_BOOL } kind;

static inline kind kind_of(mx_dtype t) {
  switch (t) {
  case MX_FLOAT16:
  case MX_BFLOAT16:
  case MX_FLOAT32: return K_F32;
  case MX_FLOAT64: return K_F64;
  case MX_UINT64: return K_U64;
  case MX_COMPLEX64: return K_C64;
  default: return K_I64;
  }
}

static inline mx_dtype kind_dtype(kind k) {
  static const mx_dtype t[] = {MX_FLOAT32, MX_FLOAT64, MX_INT64, MX_UINT64, MX_COMPLEX64, MX_BOOL};
  return t[k];
}

/* Elements converted into a scratch run at a time (16 bytes each at most). */
#define RX_CHUNK 512

mx_status cpu_reduce(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_argreduce(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_softmax(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_scan(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- vector exp (f32), shared by softmax and logsumexp ----
 * Cody-Waite reduction x = n ln2 + r, a degree-6 polynomial for e^r on
 * |r| <= ln2/2, then scaling by 2^n: within 2 ulp of expf over the whole
 * range, subnormal results included. NaN stays NaN; -inf gives 0, +inf
 * gives inf. The clamps are ordered so a NaN operand survives them. */

#define RX_EXP_HI 88.8f
#define RX_EXP_LO -104.0f

__attribute__((target("avx512f"))) static inline __m512 rx_exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(RX_EXP_HI), x);
  x = _mm512_max_ps(_mm512_set1_ps(RX_EXP_LO), x);
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx2,fma"))) static inline __m256 rx_exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(RX_EXP_HI), x);
  x = _mm256_max_ps(_mm256_set1_ps(RX_EXP_LO), x);
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  /* 2^n in two halves so n down to -150 (subnormal results) and up to 128
   * (overflow to inf) scale correctly with a single final rounding. */
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i n1 = _mm256_srai_epi32(ni, 1);
  __m256i n2 = _mm256_sub_epi32(ni, n1);
  __m256i bias = _mm256_set1_epi32(127);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

#endif
