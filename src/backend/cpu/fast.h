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
 * A kernel file writes its vector code once over GCC's generic vectors
 * (vf, vi, vu of VW lanes) and compiles it three times by including its
 * own vector section with FAST_LANES set: 16 lanes for AVX-512F (one zmm),
 * 8 for AVX2+FMA+F16C (one ymm) and 4 for the x86-64 baseline (one xmm).
 * One vector per register matters: GCC keeps a vector wider than the
 * target's registers in memory, which made a 16-lane body run on AVX2 at a
 * fraction of the bandwidth. Each pass defines its functions under names
 * that FV() suffixes with the lane count, and compiles them for the pass's
 * ISA (FAST_AI), so the intrinsics of that ISA inline everywhere.
 * Vectors go in by pointer and helpers are always inlined, so the vector
 * ABI of a non-inlined call (what -Wpsabi warns about) never arises. */
#ifdef FAST_KERNEL_HELPERS
#include <immintrin.h>
#include <string.h>

/* For the whole kernel file: the warning fires where vector-returning
 * helpers are inlined, not only where they are defined. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define FAST_CAT_(a, b) a##b
#define FAST_CAT(a, b) FAST_CAT_(a, b)
/* name -> name16 / name8 / name4 for the pass being compiled. */
#define FV(name) FAST_CAT(name, FAST_LANES)
#define VW FAST_LANES
#define vf FV(vf_)
#define vi FV(vi_)
#define vu FV(vu_)
#define vload FV(vload_)
#define vstore FV(vstore_)
#define vset FV(vset_)
#define vhsum FV(vhsum_)
#define vhmax FV(vhmax_)
#define vselect FV(vselect_)
#define vexp FV(vexp_)
#define vround_half FV(vround_half_)
#define FAST_TARGET_16 "avx512f,avx512vl,avx512bw,avx2,fma,f16c"
#define FAST_TARGET_8 "avx2,fma,f16c"

/* Defines NAME_avx512, NAME_avx2 and NAME_base: range_fn entry points
 * around NAME_body16 / NAME_body8 / NAME_body4 (the passes' copies of
 * NAME_body), and NAME_pick() choosing one for this CPU. */
#define FAST_ISA_VARIANTS(NAME)                                                          \
  __attribute__((target(FAST_TARGET_16))) static void NAME##_avx512(void *ctx, int64_t b, \
                                                                    int64_t e) {         \
    NAME##_body16(ctx, b, e);                                                           \
  }                                                                                     \
  __attribute__((target(FAST_TARGET_8))) static void NAME##_avx2(void *ctx, int64_t b,  \
                                                                 int64_t e) {           \
    NAME##_body8(ctx, b, e);                                                            \
  }                                                                                     \
  static void NAME##_base(void *ctx, int64_t b, int64_t e) { NAME##_body4(ctx, b, e); } \
  static range_fn NAME##_pick(void) {                                                   \
    int isa_ = fast_isa();                                                              \
    return isa_ == 2 ? NAME##_avx512 : isa_ == 1 ? NAME##_avx2 : NAME##_base;           \
  }
#endif

#endif /* MLXC_CPU_FAST_H */

/* ---- one pass's vector helpers (outside the include guard: a kernel file
 * includes this once per FAST_LANES). */
#if defined(FAST_KERNEL_HELPERS) && defined(FAST_LANES)
#undef FAST_AI
#if FAST_LANES == 16
#define FAST_AI static inline __attribute__((always_inline, target(FAST_TARGET_16)))
#elif FAST_LANES == 8
#define FAST_AI static inline __attribute__((always_inline, target(FAST_TARGET_8)))
#elif FAST_LANES == 4
#define FAST_AI static inline __attribute__((always_inline))
#else
#error "FAST_LANES must be 16, 8 or 4"
#endif

typedef float vf __attribute__((vector_size(4 * VW)));
typedef int32_t vi __attribute__((vector_size(4 * VW)));
typedef uint32_t vu __attribute__((vector_size(4 * VW)));

FAST_AI vf vload(const float *p) {
  vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
FAST_AI void vstore(float *p, const vf *v) { memcpy(p, v, sizeof *v); }
/* x - (+0) is x for every x, -0 and NaN included. */
FAST_AI vf vset(float x) { return x - (vf){0}; }
/* mask ? a : b with mask lanes all-ones or zero. */
FAST_AI vf vselect(const vi *mask, const vf *a, const vf *b) {
  return (vf)(((vi)*a & *mask) | ((vi)*b & ~*mask));
}
/* One lane permutation for GCC and clang: GCC spells it __builtin_shuffle
 * with an index vector, clang __builtin_shufflevector with index constants. */
#ifndef FAST_SHUF
#if defined(__clang__)
#define FAST_SHUF(v, ...) __builtin_shufflevector((v), (v), __VA_ARGS__)
#else
#define FAST_SHUF(v, ...) __builtin_shuffle((v), (vi){__VA_ARGS__})
#endif
#endif
/* Lane reductions by halving shuffles (no trip through memory). */
#if FAST_LANES == 16
#define FAST_HREDUCE(v, OP)                                                                      \
  do {                                                                                           \
    v = OP(v, FAST_SHUF(v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)); \
    v = OP(v, FAST_SHUF(v, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));     \
    v = OP(v, FAST_SHUF(v, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));     \
    v = OP(v, FAST_SHUF(v, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));     \
  } while (0)
#elif FAST_LANES == 8
#define FAST_HREDUCE(v, OP)                                                  \
  do {                                                                       \
    v = OP(v, FAST_SHUF(v, 4, 5, 6, 7, 0, 1, 2, 3));           \
    v = OP(v, FAST_SHUF(v, 2, 3, 0, 1, 2, 3, 0, 1));           \
    v = OP(v, FAST_SHUF(v, 1, 0, 1, 0, 1, 0, 1, 0));           \
  } while (0)
#else
#define FAST_HREDUCE(v, OP)                                        \
  do {                                                             \
    v = OP(v, FAST_SHUF(v, 2, 3, 0, 1));             \
    v = OP(v, FAST_SHUF(v, 1, 0, 1, 0));             \
  } while (0)
#endif
#undef FAST_VADD_
#undef FAST_VMAX_
#define FAST_VADD_(a, b) ((a) + (b))
#define FAST_VMAX_(a, b) ((vf)(((vi)(a) & ((a) > (b))) | ((vi)(b) & ~((a) > (b)))))
FAST_AI float vhsum(const vf *v) {
  vf t = *v;
  FAST_HREDUCE(t, FAST_VADD_);
  return t[0];
}
FAST_AI float vhmax(const vf *v) {
  vf t = *v;
  FAST_HREDUCE(t, FAST_VMAX_);
  return t[0];
}
#undef FAST_HREDUCE
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

/* x rounded to f16 (bf16 when !f16) and back to f32, in registers, with
 * the bits of f32_to_f16 / f32_to_bf16 (src/core/half.h): the F16C
 * instructions round to nearest even and keep NaN payloads as f32_to_f16
 * does; bf16 is the same integer rounding, lane-wise. */
FAST_AI vf vround_half(const vf *xp, bool f16) {
  vf x = *xp;
  if (f16) {
#if FAST_LANES == 16
    return _mm512_cvtph_ps(_mm512_cvtps_ph((__m512)x, _MM_FROUND_TO_NEAREST_INT));
#elif FAST_LANES == 8
    return _mm256_cvtph_ps(_mm256_cvtps_ph((__m256)x, _MM_FROUND_TO_NEAREST_INT));
#else
    for (int i = 0; i < VW; i++) x[i] = f16_to_f32(f32_to_f16(x[i]));
    return x;
#endif
  }
  vu u = (vu)x;
  vi nan = (vi)((u & 0x7fffffffu) > 0x7f800000u);
  vu r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  vu q = (u & 0xffff0000u) | 0x400000u;
  return (vf)(((vi)r & ~nan) | ((vi)q & nan));
}
#endif
