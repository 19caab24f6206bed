/* elementwise_simd.c — AVX-512 and AVX2 loops for the memory-bound f32
 * elementwise ops. The portable loops in binary.c/unary.c are compiled
 * without -march, so these exist to use the full vector width; large dense
 * runs also write with non-temporal stores, which saves the read-for-
 * ownership of the output line (a quarter of the traffic of a + b). */
#include <immintrin.h>
#include <stdint.h>

#include "elementwise_simd.h"

/* Runs at least this long (elements) stream their output past the cache. */
#define NT_MIN (1 << 18)

/* ---------------------------------------------------------- AVX-512 */

#define V512_ADD(x, y) _mm512_add_ps(x, y)
#define V512_SUB(x, y) _mm512_sub_ps(x, y)
#define V512_MUL(x, y) _mm512_mul_ps(x, y)
#define V512_DIV(x, y) _mm512_div_ps(x, y)
/* NaN in x picks x; otherwise x > y picks x; else y (NaN in y included). */
#define V512_MAX(x, y)                                                                     \
  _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_GT_OQ) |                              \
                           _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q),                         \
                       y, x)
#define V512_MIN(x, y)                                                                     \
  _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_LT_OQ) |                              \
                           _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q),                         \
                       y, x)

#define S_ADD(x, y) ((x) + (y))
#define S_SUB(x, y) ((x) - (y))
#define S_MUL(x, y) ((x) * (y))
#define S_DIV(x, y) ((x) / (y))
#define S_MAX(x, y) (isnan_f(x) ? (x) : ((x) > (y) ? (x) : (y)))
#define S_MIN(x, y) (isnan_f(x) ? (x) : ((x) < (y) ? (x) : (y)))
static inline int isnan_f(float x) { return x != x; }

/* The run: load/compute/store 16 lanes at a time, masked tail. `LD_A`/`LD_B`
 * give the operand vectors for offset i (broadcast operands are hoisted). */
#define RUN512(NAME, VOP)                                                                  \
  __attribute__((target("avx512f"))) static void NAME(void *out, const void *const *in,     \
                                                      const int64_t *s, int64_t n,         \
                                                      const void *params) {                \
    (void)params;                                                                          \
    const float *a = in[0], *b = in[1];                                                    \
    float *o = out;                                                                        \
    if (s[0] && s[1]) {                                                                    \
      int64_t i = 0;                                                                       \
      bool nt = n >= NT_MIN && (const void *)o != a && (const void *)o != b;               \
      if (nt) {                                                                            \
        /* Align the output for streaming stores. */                                      \
        int64_t head = (int64_t)(((64 - ((uintptr_t)o & 63)) & 63) / 4);                  \
        if (((uintptr_t)o & 3) == 0) {                                                     \
          __mmask16 m = (__mmask16)((1u << head) - 1);                                     \
          __m512 x = _mm512_maskz_loadu_ps(m, a), y = _mm512_maskz_loadu_ps(m, b);         \
          _mm512_mask_storeu_ps(o, m, VOP(x, y));                                          \
          i = head;                                                                        \
          for (; i + 64 <= n; i += 64) {                                                   \
            __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);               \
            __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);     \
            __m512 x2 = _mm512_loadu_ps(a + i + 32), y2 = _mm512_loadu_ps(b + i + 32);     \
            __m512 x3 = _mm512_loadu_ps(a + i + 48), y3 = _mm512_loadu_ps(b + i + 48);     \
            _mm512_stream_ps(o + i, VOP(x0, y0));                                          \
            _mm512_stream_ps(o + i + 16, VOP(x1, y1));                                     \
            _mm512_stream_ps(o + i + 32, VOP(x2, y2));                                     \
            _mm512_stream_ps(o + i + 48, VOP(x3, y3));                                     \
          }                                                                                \
          _mm_sfence();                                                                    \
        }                                                                                  \
      }                                                                                    \
      for (; i + 16 <= n; i += 16) {                                                       \
        __m512 x = _mm512_loadu_ps(a + i), y = _mm512_loadu_ps(b + i);                     \
        _mm512_storeu_ps(o + i, VOP(x, y));                                                \
      }                                                                                    \
      if (i < n) {                                                                         \
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                    \
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);   \
        _mm512_mask_storeu_ps(o + i, m, VOP(x, y));                                        \
      }                                                                                    \
    } else if (s[0] || s[1]) {                                                             \
      /* One operand broadcast: keep it in a register. */                                 \
      const float *v = s[0] ? a : b;                                                       \
      __m512 c = _mm512_set1_ps(s[0] ? b[0] : a[0]);                                       \
      int64_t i = 0;                                                                       \
      if (s[0]) {                                                                          \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, VOP(_mm512_loadu_ps(v + i), c)); \
      } else {                                                                             \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(o + i, VOP(c, _mm512_loadu_ps(v + i))); \
      }                                                                                    \
      if (i < n) {                                                                         \
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                    \
        __m512 x = _mm512_maskz_loadu_ps(m, v + i);                                        \
        _mm512_mask_storeu_ps(o + i, m, s[0] ? VOP(x, c) : VOP(c, x));                     \
      }                                                                                    \
    } else {                                                                               \
      __m512 r = VOP(_mm512_set1_ps(a[0]), _mm512_set1_ps(b[0]));                          \
      float v = _mm512_cvtss_f32(r);                                                       \
      for (int64_t i = 0; i < n; i++) o[i] = v;                                            \
    }                                                                                      \
  }

RUN512(add512, V512_ADD)
RUN512(sub512, V512_SUB)
RUN512(mul512, V512_MUL)
RUN512(div512, V512_DIV)
RUN512(max512, V512_MAX)
RUN512(min512, V512_MIN)

/* ---------------------------------------------------------- AVX2 */

#define V256_ADD(x, y) _mm256_add_ps(x, y)
#define V256_SUB(x, y) _mm256_sub_ps(x, y)
#define V256_MUL(x, y) _mm256_mul_ps(x, y)
#define V256_DIV(x, y) _mm256_div_ps(x, y)
#define V256_MAX(x, y)                                                                     \
  _mm256_blendv_ps(y, x,                                                                   \
                   _mm256_or_ps(_mm256_cmp_ps(x, y, _CMP_GT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q)))
#define V256_MIN(x, y)                                                                     \
  _mm256_blendv_ps(y, x,                                                                   \
                   _mm256_or_ps(_mm256_cmp_ps(x, y, _CMP_LT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q)))

#define RUN256(NAME, VOP, SOP)                                                             \
  __attribute__((target("avx2"))) static void NAME(void *out, const void *const *in,        \
                                                   const int64_t *s, int64_t n,            \
                                                   const void *params) {                   \
    (void)params;                                                                          \
    const float *a = in[0], *b = in[1];                                                    \
    float *o = out;                                                                        \
    int64_t i = 0;                                                                         \
    if (s[0] && s[1]) {                                                                    \
      if (n >= NT_MIN && (const void *)o != a && (const void *)o != b &&                   \
          ((uintptr_t)o & 3) == 0) {                                                       \
        for (; i < n && ((uintptr_t)(o + i) & 31); i++) o[i] = SOP(a[i], b[i]);            \
        for (; i + 32 <= n; i += 32) {                                                     \
          __m256 x0 = _mm256_loadu_ps(a + i), y0 = _mm256_loadu_ps(b + i);                 \
          __m256 x1 = _mm256_loadu_ps(a + i + 8), y1 = _mm256_loadu_ps(b + i + 8);         \
          __m256 x2 = _mm256_loadu_ps(a + i + 16), y2 = _mm256_loadu_ps(b + i + 16);       \
          __m256 x3 = _mm256_loadu_ps(a + i + 24), y3 = _mm256_loadu_ps(b + i + 24);       \
          _mm256_stream_ps(o + i, VOP(x0, y0));                                            \
          _mm256_stream_ps(o + i + 8, VOP(x1, y1));                                        \
          _mm256_stream_ps(o + i + 16, VOP(x2, y2));                                       \
          _mm256_stream_ps(o + i + 24, VOP(x3, y3));                                       \
        }                                                                                  \
        _mm_sfence();                                                                      \
      }                                                                                    \
      for (; i + 8 <= n; i += 8) {                                                         \
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);                     \
        _mm256_storeu_ps(o + i, VOP(x, y));                                                \
      }                                                                                    \
      for (; i < n; i++) o[i] = SOP(a[i], b[i]);                                           \
    } else if (s[0]) {                                                                     \
      float yv = b[0];                                                                     \
      __m256 y = _mm256_set1_ps(yv);                                                       \
      for (; i + 8 <= n; i += 8) {                                                         \
        __m256 x = _mm256_loadu_ps(a + i);                                                 \
        _mm256_storeu_ps(o + i, VOP(x, y));                                                \
      }                                                                                    \
      for (; i < n; i++) o[i] = SOP(a[i], yv);                                             \
    } else if (s[1]) {                                                                     \
      float xv = a[0];                                                                     \
      __m256 x = _mm256_set1_ps(xv);                                                       \
      for (; i + 8 <= n; i += 8) {                                                         \
        __m256 y = _mm256_loadu_ps(b + i);                                                 \
        _mm256_storeu_ps(o + i, VOP(x, y));                                                \
      }                                                                                    \
      for (; i < n; i++) o[i] = SOP(xv, b[i]);                                             \
    } else {                                                                               \
      float v = SOP(a[0], b[0]);                                                           \
      for (; i < n; i++) o[i] = v;                                                         \
    }                                                                                      \
  }

RUN256(add256, V256_ADD, S_ADD)
RUN256(sub256, V256_SUB, S_SUB)
RUN256(mul256, V256_MUL, S_MUL)
RUN256(div256, V256_DIV, S_DIV)
RUN256(max256, V256_MAX, S_MAX)
RUN256(min256, V256_MIN, S_MIN)

ew_fn ew_simd_f32(int op) {
  static const ew_fn f512[EW_SIMD_BINARY_COUNT] = {add512, sub512, mul512,
                                                   div512, max512, min512};
  static const ew_fn f256[EW_SIMD_BINARY_COUNT] = {add256, sub256, mul256,
                                                   div256, max256, min256};
  if (op < 0 || op >= EW_SIMD_BINARY_COUNT) return NULL;
  const cpu_features *cf = cpu_get_features();
  if (cf->avx512f) return f512[op];
  if (cf->avx2) return f256[op];
  return NULL;
}

/* ---------------------------------------------------------- unary math */

#include <math.h>

static inline float sigmoid_scalar(float x) {
  float e = expf(-fabsf(x));
  return x < 0 ? e / (1.0f + e) : 1.0f / (1.0f + e);
}

/* AVX2 + FMA vocabulary. */
#define ISA "avx2,fma"
#define SUF _avx2
#define W 8
#define V __m256
#define VSET(c) _mm256_set1_ps(c)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VDIV(a, b) _mm256_div_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VROUND(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(n)                                                                           \
  _mm256_castsi256_ps(                                                                     \
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define VABS(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define VNEG(a) _mm256_xor_ps(_mm256_set1_ps(-0.0f), a)
#define VCOPYSIGN(m, s)                                                                    \
  _mm256_or_ps(m, _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define VLT(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define VNOT_GE(a, b) _mm256_cmp_ps(a, b, _CMP_NGE_UQ)
#define VNOT_LE(a, b) _mm256_cmp_ps(a, b, _CMP_NLE_UQ)
#define VOR(a, b) _mm256_or_ps(a, b)
#define VANY(m) (_mm256_movemask_ps(m) != 0)
#define VBLEND(m, f, t) _mm256_blendv_ps(f, t, m)
#include "elementwise_simd_math.h"
#undef ISA
#undef SUF
#undef W
#undef V
#undef VSET
#undef VLOAD
#undef VSTORE
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VMIN
#undef VSQRT
#undef VFMA
#undef VROUND
#undef VPOW2
#undef VABS
#undef VNEG
#undef VCOPYSIGN
#undef VLT
#undef VNOT_GE
#undef VNOT_LE
#undef VOR
#undef VANY
#undef VBLEND

/* AVX-512F vocabulary (masks are __mmask16). */
#define ISA "avx512f"
#define SUF _avx512
#define W 16
#define V __m512
#define VSET(c) _mm512_set1_ps(c)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VDIV(a, b) _mm512_div_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VROUND(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(n)                                                                           \
  _mm512_castsi512_ps(                                                                     \
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define VABS(a)                                                                            \
  _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff)))
#define VNEG(a)                                                                            \
  _mm512_castsi512_ps(                                                                     \
      _mm512_xor_epi32(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u)))
#define VCOPYSIGN(m, s)                                                                    \
  _mm512_castsi512_ps(_mm512_or_epi32(                                                     \
      _mm512_castps_si512(m),                                                              \
      _mm512_and_epi32(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
#define VLT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define VNOT_GE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_NGE_UQ)
#define VNOT_LE(a, b) _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ)
#define VOR(a, b) ((__mmask16)((a) | (b)))
#define VANY(m) ((m) != 0)
#define VBLEND(m, f, t) _mm512_mask_blend_ps(m, f, t)
#include "elementwise_simd_math.h"

ew_fn ew_simd_f32_unary(int op) {
  static const ew_fn f512[EW_SIMD_UNARY_COUNT] = {
      [EW_SIMD_U_ABS] = abs_run_avx512,         [EW_SIMD_U_NEG] = neg_run_avx512,
      [EW_SIMD_U_SQUARE] = square_run_avx512,   [EW_SIMD_U_SQRT] = sqrt_run_avx512,
      [EW_SIMD_U_RSQRT] = rsqrt_run_avx512,     [EW_SIMD_U_EXP] = exp_run_avx512,
      [EW_SIMD_U_SIGMOID] = sigmoid_run_avx512, [EW_SIMD_U_TANH] = tanh_run_avx512};
  static const ew_fn f256[EW_SIMD_UNARY_COUNT] = {
      [EW_SIMD_U_ABS] = abs_run_avx2,         [EW_SIMD_U_NEG] = neg_run_avx2,
      [EW_SIMD_U_SQUARE] = square_run_avx2,   [EW_SIMD_U_SQRT] = sqrt_run_avx2,
      [EW_SIMD_U_RSQRT] = rsqrt_run_avx2,     [EW_SIMD_U_EXP] = exp_run_avx2,
      [EW_SIMD_U_SIGMOID] = sigmoid_run_avx2, [EW_SIMD_U_TANH] = tanh_run_avx2};
  if (op < 0 || op >= EW_SIMD_UNARY_COUNT) return NULL;
  const cpu_features *cf = cpu_get_features();
  if (cf->avx512f) return f512[op];
  if (cf->avx2 && cf->fma) return f256[op];
  return NULL;
}

/* ---------------------------------------------------------- f16 / bf16 runs */

/* The shared converter (convert.c) is scalar for f16 without AVX-512 and for
 * f32 -> bf16 without AVX512-BF16; these cover those machines. Rounding is
 * to nearest even and NaN stays NaN, as half.h. */

__attribute__((target("avx2,f16c"))) static void f16_to_f32_avx2(const uint16_t *s, float *d,
                                                                  int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
  for (; i < n; i++) d[i] = f16_to_f32(s[i]);
}

__attribute__((target("avx2,f16c"))) static void f32_to_f16_avx2(const float *s, uint16_t *d,
                                                                  int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) d[i] = f32_to_f16(s[i]);
}

__attribute__((target("avx2"))) static void bf16_to_f32_avx2(const uint16_t *s, float *d,
                                                              int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + i)));
    _mm256_storeu_si256((__m256i *)(d + i), _mm256_slli_epi32(v, 16));
  }
  for (; i < n; i++) d[i] = bf16_to_f32(s[i]);
}

/* Round to nearest even on the upper 16 bits; NaNs keep their top bits and
 * become quiet. */
__attribute__((target("avx2"))) static void f32_to_bf16_avx2(const float *s, uint16_t *d,
                                                              int64_t n) {
  int64_t i = 0;
  const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
  const __m256i quiet = _mm256_set1_epi32(0x40);
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(s + i);
    __m256i u = _mm256_castps_si256(x);
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(u, 16), one)));
    r = _mm256_srli_epi32(r, 16);
    __m256i nanv = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
    __m256i isnan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, nanv, isnan);
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(p));
  }
  for (; i < n; i++) d[i] = f32_to_bf16(s[i]);
}

__attribute__((target("avx512f"))) static void f32_to_bf16_avx512(const float *s, uint16_t *d,
                                                                   int64_t n) {
  int64_t i = 0;
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
  const __m512i quiet = _mm512_set1_epi32(0x40);
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(s + i);
    __m512i u = _mm512_castps_si512(x);
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_epi32(_mm512_srli_epi32(u, 16), one)));
    r = _mm512_srli_epi32(r, 16);
    __mmask16 isnan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, isnan, _mm512_or_epi32(_mm512_srli_epi32(u, 16), quiet));
    _mm256_storeu_si256((__m256i *)(d + i), _mm512_cvtepi32_epi16(r));
  }
  for (; i < n; i++) d[i] = f32_to_bf16(s[i]);
}

bool ew_simd_half_to_f32(const void *src, mx_dtype st, float *dst, int64_t n) {
  const cpu_features *cf = cpu_get_features();
  if (cf->avx512f || !cf->avx2) return false; /* convert.c has the AVX-512 path */
  if (st == MX_FLOAT16) f16_to_f32_avx2(src, dst, n);
  else if (st == MX_BFLOAT16) bf16_to_f32_avx2(src, dst, n);
  else return false;
  return true;
}

bool ew_simd_f32_to_half(const float *src, void *dst, mx_dtype dt, int64_t n) {
  const cpu_features *cf = cpu_get_features();
  if (dt == MX_FLOAT16 && !cf->avx512f && cf->avx2) {
    f32_to_f16_avx2(src, dst, n);
    return true;
  }
  if (dt == MX_BFLOAT16) {
    if (cf->avx512f) f32_to_bf16_avx512(src, dst, n);
    else if (cf->avx2) f32_to_bf16_avx2(src, dst, n);
    else return false;
    return true;
  }
  return false;
}
