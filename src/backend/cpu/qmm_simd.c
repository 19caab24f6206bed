/* qmm_simd.c — int8 decode kernels for affine quantized mat-vec (M <= 8).
 *
 * Why int8: at decode the weights stream from memory once, and unpacking
 * them to f32 costs more instructions per byte than the memory system
 * allows on two cores. Quantizing the few activation rows to int8 (per
 * block of 32, MLX Q8-style) lets one vpmaddubsw / vpdpbusd do 32 (AVX2) or
 * 32 (VNNI, 256-bit form) multiply-adds on the packed codes directly.
 *
 * Block layout: weights of a 32-value block unpack into 32 u8 lanes. For
 * 4-bit the natural unpack of 16 bytes is (low nibbles, high nibbles) =
 * values (0,2,4,...,30, 1,3,...,31), so the activations are stored in that
 * order instead of shuffling the weights (a dot product does not care).
 * Other widths are in natural order; 3/5/6-bit blocks unpack through a
 * small scalar loop (they are rarer; correctness first).
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
         m->cols % 32 == 0 && m->group_size % 32 == 0;
}

/* ------------------------------------------------------------ activations */

void qact_prepare(qact *a, const float *X, const qmat *m) {
  const int64_t K = a->K, nblk = K / 32, G = K / m->group_size;
  for (int64_t r = 0; r < a->rows; r++) {
    const float *x = X + r * K;
    for (int64_t b = 0; b < nblk; b++) {
      const float *xb = x + b * 32;
      float amax = 0;
      for (int j = 0; j < 32; j++) amax = fabsf(xb[j]) > amax ? fabsf(xb[j]) : amax;
      float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
      a->dx[r * nblk + b] = d;
      int8_t *q = a->xq + r * K + b * 32;
      int16_t *q16 = a->xq16 + r * K + b * 32;
      for (int j = 0; j < 32; j++) {
        float v = rintf(xb[j] * id);
        v = v > 127 ? 127 : (v < -127 ? -127 : v);
        int pos = m->bits == 4 ? (j & 1) * 16 + j / 2 : j;
        q[pos] = (int8_t)v;
        q16[pos] = (int16_t)v;
      }
    }
    for (int64_t g = 0; g < G; g++) {
      float s = 0;
      for (int64_t j = 0; j < m->group_size; j++) s += x[g * m->group_size + j];
      a->xsum[r * G + g] = s;
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

__attribute__((target("avx2,fma,f16c"))) static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
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

#define QD_TARGET __attribute__((target("avx2,fma,f16c")))
#define QD_NAME decode_avx2
#define QD_DOT(w, x) dot_avx2(w, x)
#define QD_DOT8(w, x, x16) dot8_avx2(w, x16)
#include "qmm_decode_body.h"
#undef QD_TARGET
#undef QD_NAME
#undef QD_DOT
#undef QD_DOT8

/* ------------------------------------------------------------ AVX-512 VNNI */

#define QD_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
#define QD_NAME decode_vnni
#define QD_DOT(w, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x)
#define QD_DOT8(w, x, x16) _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x)
#include "qmm_decode_body.h"
#undef QD_TARGET
#undef QD_NAME
#undef QD_DOT
#undef QD_DOT8

void qmm_decode_rows(const qact *a, const qmat *m, qmm_isa isa, float *Y, int64_t ldy, int64_t n0,
                     int64_t n1, float *scratch) {
  int64_t G = a->K / m->group_size;
  if (isa == QMM_ISA_VNNI) decode_vnni(a, m, Y, ldy, n0, n1, scratch, scratch + G);
  else decode_avx2(a, m, Y, ldy, n0, n1, scratch, scratch + G);
}
