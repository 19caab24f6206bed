/* qmm_simd.c — int8 decode kernels for affine quantized mat-vec (M <= 8).
 *
 * Why int8: at decode the weights stream from memory once, and unpacking
 * them to f32 costs more instructions per byte than the memory system
 * allows on two cores. Quantizing the few activation rows to int8 (per
 * block of 32, MLX Q8-style) lets one vpmaddubsw / vpdpbusd do 32 (AVX2) or
 * 32 (VNNI, 256-bit form) multiply-adds on the packed codes directly.
 *
 * Block layout: 4-bit weights are read 32 bytes (a pair of 32-value
 * blocks) at a time; AND and shift+AND give the even and the odd values of
 * the pair, so the activations are stored as (32 evens, 32 odds) per pair
 * instead of shuffling the weights (a dot product does not care about
 * order). Other widths unpack one block into 32 u8 lanes in natural order;
 * 3/5/6-bit blocks through a small scalar loop (rarer; correctness first).
 *
 * Saturation: vpmaddubsw adds two u8*s8 products into int16; with |xq| <=
 * 127 that is safe up to 6-bit codes (2*63*127 < 32767). 8-bit codes would
 * overflow, so on AVX2 they widen to int16 and use vpmaddwd; vpdpbusd
 * accumulates in int32 and needs no care. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantized.h"

#define QD_CAT(a, b) a##b
#define QD_XCAT(a, b) QD_CAT(a, b)

qmm_isa qmm_pick_isa(void) {
  const cpu_features *f = cpu_get_features();
  qmm_isa best = QMM_ISA_NONE;
  if (f->avx2 && f->fma && f->f16c) best = QMM_ISA_AVX2;
  if (best && f->avx512f && f->avx512vl && f->avx512vnni && f->avx512bw) best = QMM_ISA_VNNI;
  const char *e = getenv("MLXC_QMM_ISA");
  if (e) {
    qmm_isa cap = strcmp(e, "none") == 0 ? QMM_ISA_NONE
                  : strcmp(e, "avx2") == 0 ? QMM_ISA_AVX2
                                           : QMM_ISA_VNNI;
    if (cap < best) best = cap;
  }
  return best;
}

bool qmm_decode_supported(const qmat *m) {
  return m->mode == MX_QUANT_AFFINE && m->bits >= 2 && m->bits <= 8 && m->bits != 7 &&
         m->cols % 32 == 0 && m->group_size % 32 == 0 &&
         (m->bits != 4 || m->group_size == 32 || m->group_size == 64 || m->group_size == 128);
}

__attribute__((target("avx2,fma,f16c"))) static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* ------------------------------------------------------------ activations */

/* Per block of 32: d = amax / 127, q = rint(x * 127 / amax) (the scalar
 * formula, vectorized lane for lane, so the codes are the same). 4-bit
 * weights want each 64-value pair as (32 even values, 32 odd values), a
 * lone last block as (16 even, 16 odd); other widths natural order, 8-bit
 * also as int16 (AVX2 widens 8-bit codes instead of using vpmaddubsw). */
__attribute__((target("avx2,fma,f16c"))) void qact_prepare(qact *a, const float *X,
                                                           const qmat *m) {
  const int64_t K = a->K, nblk = K / 32, gs = m->group_size, G = K / gs;
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
  const __m256i fix = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  /* within each 128-bit lane: the 8 even bytes, then the 8 odd ones */
  const __m256i eo = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2,
                                      4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (int64_t r = 0; r < a->rows; r++) {
    const float *x = X + r * K;
    for (int64_t b = 0; b < nblk; b++) {
      const float *xb = x + b * 32;
      __m256 v[4], mx = _mm256_setzero_ps();
      for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(xb + 8 * k);
        mx = _mm256_max_ps(mx, _mm256_and_ps(v[k], absmask));
      }
      __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_movehdup_ps(h));
      float amax = _mm_cvtss_f32(h);
      float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
      a->dx[r * nblk + b] = d;
      _mm_storeu_ps(a->dx4 + (r * nblk + b) * 4, _mm_set1_ps(d));
      __m256 idv = _mm256_set1_ps(id);
      __m256i q32[4];
      for (int k = 0; k < 4; k++) {
        __m256 t = _mm256_round_ps(_mm256_mul_ps(v[k], idv),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q32[k] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(t, lim), nlim));
      }
      __m256i q16a = _mm256_packs_epi32(q32[0], q32[1]), q16b = _mm256_packs_epi32(q32[2], q32[3]);
      __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), fix);
      int8_t *q = a->xq + r * K;
      if (m->bits == 4) {
        /* (16 evens, 16 odds) of this block */
        __m256i s = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(q8, eo), 0xd8);
        int64_t base = (b / 2) * 64;
        if ((b & 1) == 0 && b + 1 == nblk) { /* lone last block */
          _mm256_storeu_si256((__m256i *)(q + base), s);
        } else {
          _mm_storeu_si128((__m128i *)(q + base + 16 * (b & 1)), _mm256_castsi256_si128(s));
          _mm_storeu_si128((__m128i *)(q + base + 32 + 16 * (b & 1)),
                           _mm256_extracti128_si256(s, 1));
        }
      } else {
        _mm256_storeu_si256((__m256i *)(q + b * 32), q8);
        if (m->bits == 8) {
          int16_t *q16 = a->xq16 + r * K + b * 32;
          _mm256_storeu_si256((__m256i *)q16, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q8)));
          _mm256_storeu_si256((__m256i *)(q16 + 16),
                              _mm256_cvtepi8_epi16(_mm256_extracti128_si256(q8, 1)));
        }
      }
    }
    for (int64_t g = 0; g < G; g++) {
      const float *xg = x + g * gs;
      __m256 s = _mm256_loadu_ps(xg);
      for (int64_t j = 8; j < gs; j += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(xg + j));
      a->xsum[r * G + g] = hsum256(s);
    }
  }
}

/* ------------------------------------------------------------ helpers */

/* 32 codes of a 3/5/6/2-bit block (4 * bits bytes) into u8, natural order. */
static inline void unpack_block(const uint8_t *w, int bits, uint8_t *out) {
  for (int c = 0; c < 4; c++) { /* 8 values = `bits` bytes */
    uint64_t v = 0;
    for (int i = 0; i < bits; i++) v |= (uint64_t)w[c * bits + i] << (8 * i);
    for (int i = 0; i < 8; i++) out[c * 8 + i] = (uint8_t)((v >> (i * bits)) & ((1u << bits) - 1));
  }
}

/* One row's G scales and biases as f32 (F16C / bf16 shift, 8 at a time). */
__attribute__((target("avx2,fma,f16c"))) static inline void row_scales_f32(const qmat *m,
                                                                            int64_t off, int64_t G,
                                                                            float *sf, float *bf) {
  for (int k = 0; k < 2; k++) {
    const void *src = k ? m->biases : m->scales;
    float *dst = k ? bf : sf;
    int64_t i = 0;
    if (m->sdtype == MX_FLOAT32) {
      memcpy(dst, (const float *)src + off, (size_t)G * sizeof(float));
      continue;
    }
    const uint16_t *h = (const uint16_t *)src + off;
    if (m->sdtype == MX_FLOAT16) {
      for (; i + 8 <= G; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
      for (; i < G; i++) dst[i] = f16_to_f32(h[i]);
    } else {
      for (; i + 8 <= G; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
      }
      for (; i < G; i++) dst[i] = bf16_to_f32(h[i]);
    }
  }
}

/* ------------------------------------------------------------ AVX2 */

__attribute__((target("avx2,fma,f16c"))) static inline __m256i dot_avx2(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}
__attribute__((target("avx2,fma,f16c"))) static inline __m256i dot8_avx2(__m256i w,
                                                                          const int16_t *x16) {
  __m256i lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(w));
  __m256i hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(w, 1));
  return _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_loadu_si256((const __m256i *)x16)),
                          _mm256_madd_epi16(hi, _mm256_loadu_si256((const __m256i *)(x16 + 16))));
}

/* 8-bit codes exceed vpmaddubsw's int16 pair sums (2 * 255 * 127): widen
 * them to int16 (zero-extending loads) and use vpmaddwd. */
__attribute__((target("avx2,fma,f16c"))) static inline __m256i dot8p_avx2(const uint8_t *w,
                                                                           const int16_t *x16) {
  __m256i lo = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)w));
  __m256i hi = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(w + 16)));
  return _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_loadu_si256((const __m256i *)x16)),
                          _mm256_madd_epi16(hi, _mm256_loadu_si256((const __m256i *)(x16 + 16))));
}
__attribute__((target("avx2,fma,f16c"))) static inline __m256i dot4_avx2(__m256i lo, __m256i hi,
                                                                          __m256i xe, __m256i xo) {
  /* |int16 lane| <= 2 * 2 * 15 * 127 = 7620: the sum cannot saturate */
  __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xe), _mm256_maddubs_epi16(hi, xo));
  return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}
__attribute__((target("avx2,fma,f16c"))) static inline __m128i dot4h_avx2(__m128i lo, __m128i hi,
                                                                           __m128i xe, __m128i xo) {
  __m128i s = _mm_add_epi16(_mm_maddubs_epi16(lo, xe), _mm_maddubs_epi16(hi, xo));
  return _mm_madd_epi16(s, _mm_set1_epi16(1));
}

#define QD_TARGET __attribute__((target("avx2,fma,f16c")))
#define QD_NAME decode_avx2
#define QD_DOT4(lo, hi, xe, xo) dot4_avx2(lo, hi, xe, xo)
#define QD_DOT8P(wp, x, x16) ((void)(x), dot8p_avx2(wp, x16))
#define QD_DOT4H(lo, hi, xe, xo) dot4h_avx2(lo, hi, xe, xo)
#define QD_DOT(w, x) dot_avx2(w, x)
#define QD_DOT8(w, x, x16) dot8_avx2(w, x16)
#include "qmm_decode_body.h"
#undef QD_TARGET
#undef QD_NAME
#undef QD_DOT
#undef QD_DOT8
#undef QD_DOT4
#undef QD_DOT4H
#undef QD_DOT8P

/* ------------------------------------------------------------ AVX-512 VNNI */

#define QD_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define QD_NAME decode_vnni
#define QD_DOT8P(wp, x, x16) \
  ((void)(x16), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_loadu_si256((const __m256i *)(wp)), x))
#define QD_DOT4(lo, hi, xe, xo) \
  _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, xe), hi, xo)
#define QD_DOT4H(lo, hi, xe, xo) _mm_dpbusd_epi32(_mm_dpbusd_epi32(_mm_setzero_si128(), lo, xe), hi, xo)
#define QD_DOT(w, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x)
#define QD_DOT8(w, x, x16) _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x)
#include "qmm_decode_body.h"
#undef QD_TARGET
#undef QD_NAME
#undef QD_DOT
#undef QD_DOT8
#undef QD_DOT4
#undef QD_DOT4H
#undef QD_DOT8P

void qmm_decode_rows(const qact *a, const qmat *m, qmm_isa isa, float *Y, int64_t ldy, int64_t n0,
                     int64_t n1, float *scratch) {
  int64_t G = a->K / m->group_size;
  if (m->bits == 4) {
    if (isa == QMM_ISA_VNNI) decode_vnni_4(a, m, Y, ldy, n0, n1, scratch);
    else decode_avx2_4(a, m, Y, ldy, n0, n1, scratch);
    return;
  }
  if (m->bits == 8 && (m->group_size == 32 || m->group_size == 64 || m->group_size == 128)) {
    if (isa == QMM_ISA_VNNI) decode_vnni_8(a, m, Y, ldy, n0, n1, scratch);
    else decode_avx2_8(a, m, Y, ldy, n0, n1, scratch);
    return;
  }
  if (isa == QMM_ISA_VNNI) decode_vnni(a, m, Y, ldy, n0, n1, scratch, scratch + G);
  else decode_avx2(a, m, Y, ldy, n0, n1, scratch, scratch + G);
}
