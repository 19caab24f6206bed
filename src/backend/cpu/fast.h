/* fast.h — CPU kernels of the fused mx.fast ops (include/mlxc/fast.h) and the
 * parameter blocks their front ends (src/ops/fast.c) record.
 *
 * Input contracts (the front ends cast so that kernels see few dtypes):
 * - norms: in[0] = x in f16/bf16/f32 (any strides); then weight and bias
 *   (when flagged) in the output dtype, 1-d, any stride. Output f16, bf16,
 *   f32 or f64.
 * - rope: in[0] = x (f16/bf16/f32/f64, >= 3 dims, any strides); then the
 *   offset (int32 or uint32, 0-d or (B,)) when offset_is_array; then freqs
 *   (f32, (dims/2,)) when has_freqs. Output x's dtype.
 * - sdpa: q, k, v (each f16/bf16/f32, 4-d, any strides), then the mask
 *   (bool or the output dtype; any shape broadcastable to (B,Hq,Tq,Tk)) when
 *   mask_mode is MX_SDPA_MASK_ARRAY, then sinks (output dtype, (Hq,)).
 *   Output (B,Hq,Tq,Dv) in f16, bf16 or f32.
 */
#ifndef MLXC_CPU_FAST_H
#define MLXC_CPU_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/core.h"

typedef struct fast_norm_params {
  float eps;
  bool layer; /* layer_norm (centre first) rather than rms_norm */
  bool has_weight, has_bias;
} fast_norm_params;

typedef struct fast_rope_params {
  int dims;
  bool traditional;
  bool has_freqs;
  bool offset_is_array;
  float base, scale;
  int64_t offset; /* when !offset_is_array */
} fast_rope_params;

typedef struct fast_sdpa_params {
  float scale;
  int mask_mode; /* mx_sdpa_mask */
  bool has_sinks;
} fast_sdpa_params;

mx_status cpu_fast_norm(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_fast_rope(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_fast_sdpa(mx_array out, mx_array const *in, int nin, const void *params);

/* Which instruction set the fast kernels run with on this CPU: 2 AVX-512F,
 * 1 AVX2+FMA, 0 portable. MLXC_FAST_ISA=0|1|2 caps it (tests use it to
 * reach every path on one machine). */
int fast_isa(void);

/* ---- f32 vector helpers for the kernel files.
 * The kernels are written once over GCC's generic 16-lane vectors and
 * compiled three times through FAST_ISA_VARIANTS: AVX-512F (one zmm per
 * vector), AVX2+FMA (two ymm) and the x86-64 baseline. Helpers are always
 * inlined into those variants, so the vector ABI of a non-inlined call
 * (what -Wpsabi warns about) never arises; vectors go in by pointer. */
#ifdef FAST_KERNEL_HELPERS
#include <string.h>

/* For the whole kernel file: the warning fires where vector-returning
 * helpers are inlined, not only where they are defined. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
#define VW 16
#define FAST_AI static inline __attribute__((always_inline))

FAST_AI vf vload(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
FAST_AI void vstore(float *p, const vf *v) { memcpy(p, v, sizeof *v); }
FAST_AI vf vset(float x) { return (vf){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
/* Lane reductions by halving shuffles (no trip through memory). */
#define VHREDUCE(v, OP)                                                                 \
  do {                                                                                  \
    v = OP(v, __builtin_shuffle(v, (vi){8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7})); \
    v = OP(v, __builtin_shuffle(v, (vi){4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}));     \
    v = OP(v, __builtin_shuffle(v, (vi){2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1}));     \
    v = OP(v, __builtin_shuffle(v, (vi){1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}));     \
  } while (0)
#define VADD_(a, b) ((a) + (b))
FAST_AI float vhsum(const vf *v) {
  vf t = *v;
  VHREDUCE(t, VADD_);
  return t[0];
}
/* mask ? a : b with mask lanes all-ones or zero. */
FAST_AI vf vselect(const vi *mask, const vf *a, const vf *b) {
  return (vf)(((vi)*a & *mask) | ((vi)*b & ~*mask));
}
#define VMAX_(a, b) ((vf)(((vi)(a) & ((a) > (b))) | ((vi)(b) & ~((a) > (b)))))
FAST_AI float vhmax(const vf *v) {
  vf t = *v;
  VHREDUCE(t, VMAX_);
  return t[0];
}
/* exp(x) in f32 for softmax weights: Cody-Waite reduction and a degree-7
 * Taylor polynomial on |r| <= ln2/2 (under 2 ulp). Below -87.3 (where the
 * result would be subnormal; -inf included) it returns 0: a weight under
 * 1e-38 next to the row maximum's weight of 1 changes no f32 sum. NaN stays
 * NaN. Inputs are <= 0 here (x - max), so there is no overflow branch. */
FAST_AI vf vexp(const vf *xp) {
  vf x = *xp;
  vi tiny = x < -87.3f;
  vf lo = vset(-87.3f);
  x = vselect(&tiny, &lo, &x);
  vf big = vset(88.0f);
  vi over = x > 88.0f;
  x = vselect(&over, &big, &x);
  vf t = x * 1.44269504088896341f + 12582912.0f;
  vf n = t - 12582912.0f;
  vf r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  vf p = vset(1.0f / 5040);
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;
  vf y = p * (vf)e;
  vf zero = vset(0.0f);
  return vselect(&tiny, &zero, &y);
}

/* Defines NAME_avx512, NAME_avx2 and NAME_base, each a copy of
 * NAME_body(ctx, begin, end) (a range_fn body) compiled for that ISA, and
 * NAME_pick() choosing one for this CPU. */
#define FAST_ISA_VARIANTS(NAME)                                                          \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma,f16c"))) static void       \
      NAME##_avx512(void *ctx, int64_t b, int64_t e) {                                  \
    NAME##_body(ctx, b, e);                                                             \
  }                                                                                     \
  __attribute__((target("avx2,fma,f16c"))) static void NAME##_avx2(void *ctx, int64_t b, \
                                                                   int64_t e) {         \
    NAME##_body(ctx, b, e);                                                             \
  }                                                                                     \
  static void NAME##_base(void *ctx, int64_t b, int64_t e) { NAME##_body(ctx, b, e); }  \
  static range_fn NAME##_pick(void) {                                                   \
    int isa_ = fast_isa();                                                              \
    return isa_ == 2 ? NAME##_avx512 : isa_ == 1 ? NAME##_avx2 : NAME##_base;           \
  }
#endif

#endif
