/* ggml_blocks.c — GGUF block formats: layout table and dequantization.
 *
 * Layouts (bytes, in order; d/dmin/m are f16):
 *   Q4_0 (32 values, 18 B): d, qs[16]. Value j<16 is the low nibble of
 *        qs[j], value j+16 the high nibble; w = d * (q - 8).
 *   Q4_1 (32, 20 B): d, m, qs[16] as Q4_0; w = d * q + m.
 *   Q8_0 (32, 34 B): d, int8 qs[32]; w = d * q.
 *   Q4_K (256, 144 B): d, dmin, scales[12], qs[128]. Eight sub-blocks of 32
 *        with 6-bit scale sc and min mn packed in scales[12]; each 32 bytes
 *        of qs hold sub-block 2i (low nibbles) and 2i+1 (high nibbles);
 *        w = d*sc * q - dmin*mn.
 *   Q5_K (256, 176 B): d, dmin, scales[12], qh[32], qs[128]; as Q4_K with a
 *        fifth bit: bit 2i of qh[l] for value l of sub-block 2i, bit 2i+1
 *        for sub-block 2i+1.
 *   Q6_K (256, 210 B): ql[128], qh[64], int8 scales[16], d. Two halves of
 *        128 values; in half h (ql += 64h, qh += 32h) value l<32 of quarter
 *        k takes 4 low bits from ql[l + 32*(k&1)] (low nibble for k<2, high
 *        for k>=2) and 2 high bits from qh[l] >> 2k; w = d * sc[8h + 2k +
 *        l/16] * (q - 32).
 */
#include "ggml_blocks.h"

#include <immintrin.h>
#include <string.h>

static const ggml_format formats[] = {
    {MX_GGML_Q4_0, 32, 18, "q4_0"}, {MX_GGML_Q4_1, 32, 20, "q4_1"},
    {MX_GGML_Q8_0, 32, 34, "q8_0"}, {MX_GGML_Q4_K, 256, 144, "q4_K"},
    {MX_GGML_Q5_K, 256, 176, "q5_K"}, {MX_GGML_Q6_K, 256, 210, "q6_K"},
};

const ggml_format *ggml_format_of(mx_ggml_type t) {
  for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
    if (formats[i].type == t) return &formats[i];
  return NULL;
}

static inline float half_at(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block: the
 * first four sit in the low 6 bits of bytes 0..3 / 4..7; the last four take
 * their low 4 bits from bytes 8..11 and their top 2 bits from the spare top
 * bits of bytes 0..3 / 4..7. */
static inline void kq_scale_min(const uint8_t *s, int j, int *sc, int *mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

static void deq_q4_0(const uint8_t *b, float *y) {
  float d = half_at(b);
  const uint8_t *qs = b + 2;
  for (int j = 0; j < 16; j++) {
    y[j] = d * (float)((qs[j] & 0x0f) - 8);
    y[j + 16] = d * (float)((qs[j] >> 4) - 8);
  }
}

static void deq_q4_1(const uint8_t *b, float *y) {
  float d = half_at(b), m = half_at(b + 2);
  const uint8_t *qs = b + 4;
  for (int j = 0; j < 16; j++) {
    y[j] = d * (float)(qs[j] & 0x0f) + m;
    y[j + 16] = d * (float)(qs[j] >> 4) + m;
  }
}

static void deq_q8_0(const uint8_t *b, float *y) {
  float d = half_at(b);
  const int8_t *qs = (const int8_t *)(b + 2);
  for (int j = 0; j < 32; j++) y[j] = d * (float)qs[j];
}

static void deq_q4_k(const uint8_t *b, float *y) {
  float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t *sc = b + 4, *qs = b + 16;
  for (int i = 0; i < 4; i++) {
    int s0, m0, s1, m1;
    kq_scale_min(sc, 2 * i, &s0, &m0);
    kq_scale_min(sc, 2 * i + 1, &s1, &m1);
    float d0 = d * (float)s0, o0 = dmin * (float)m0;
    float d1 = d * (float)s1, o1 = dmin * (float)m1;
    const uint8_t *q = qs + 32 * i;
    for (int l = 0; l < 32; l++) {
      y[64 * i + l] = d0 * (float)(q[l] & 0x0f) - o0;
      y[64 * i + 32 + l] = d1 * (float)(q[l] >> 4) - o1;
    }
  }
}

static void deq_q5_k(const uint8_t *b, float *y) {
  float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t *sc = b + 4, *qh = b + 16, *qs = b + 48;
  for (int i = 0; i < 4; i++) {
    int s0, m0, s1, m1;
    kq_scale_min(sc, 2 * i, &s0, &m0);
    kq_scale_min(sc, 2 * i + 1, &s1, &m1);
    float d0 = d * (float)s0, o0 = dmin * (float)m0;
    float d1 = d * (float)s1, o1 = dmin * (float)m1;
    const uint8_t *q = qs + 32 * i;
    for (int l = 0; l < 32; l++) {
      int h0 = (qh[l] >> (2 * i)) & 1, h1 = (qh[l] >> (2 * i + 1)) & 1;
      y[64 * i + l] = d0 * (float)((q[l] & 0x0f) | h0 << 4) - o0;
      y[64 * i + 32 + l] = d1 * (float)((q[l] >> 4) | h1 << 4) - o1;
    }
  }
}

static void deq_q6_k(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = (const int8_t *)(b + 192);
  float d = half_at(b + 208);
  for (int h = 0; h < 2; h++) {
    const uint8_t *L = ql + 64 * h, *H = qh + 32 * h;
    const int8_t *S = sc + 8 * h;
    float *Y = y + 128 * h;
    for (int l = 0; l < 32; l++) {
      int is = l / 16;
      int q0 = ((L[l] & 0x0f) | ((H[l] >> 0) & 3) << 4) - 32;
      int q1 = ((L[l + 32] & 0x0f) | ((H[l] >> 2) & 3) << 4) - 32;
      int q2 = ((L[l] >> 4) | ((H[l] >> 4) & 3) << 4) - 32;
      int q3 = ((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4) - 32;
      Y[l] = d * (float)S[is] * (float)q0;
      Y[l + 32] = d * (float)S[is + 2] * (float)q1;
      Y[l + 64] = d * (float)S[is + 4] * (float)q2;
      Y[l + 96] = d * (float)S[is + 6] * (float)q3;
    }
  }
}

void ggml_dequant_blocks_ref(mx_ggml_type t, const uint8_t *src, float *dst, int64_t nblocks) {
  const ggml_format *f = ggml_format_of(t);
  if (!f) return;
  void (*fn)(const uint8_t *, float *) = NULL;
  switch (t) {
    case MX_GGML_Q4_0: fn = deq_q4_0; break;
    case MX_GGML_Q4_1: fn = deq_q4_1; break;
    case MX_GGML_Q8_0: fn = deq_q8_0; break;
    case MX_GGML_Q4_K: fn = deq_q4_k; break;
    case MX_GGML_Q5_K: fn = deq_q5_k; break;
    case MX_GGML_Q6_K: fn = deq_q6_k; break;
    default: return;
  }
  for (int64_t i = 0; i < nblocks; i++) fn(src + i * f->bytes, dst + i * f->block);
}

/* ------------------------------------------------------------ AVX2
 * The same arithmetic as the scalar blocks above, eight values at a time:
 * every value is one f32 multiply (and one add/subtract) of the same
 * operands in the same order, so the results are bit-identical. The target
 * leaves out "fma" on purpose: with FMA available the compiler may fuse a
 * multiply and an add (one rounding instead of two). Scales go through the
 * same software f16 conversion as the reference (F16C would quiet NaN
 * payloads differently). */

#define DQ_ATTR __attribute__((target("avx2")))
#define DQ_INL static inline __attribute__((always_inline)) DQ_ATTR

/* Eight u8 or i8 (`sgn`) codes -> eight floats. */
DQ_INL __m256 dq_cvt8(__m128i v8, bool sgn) {
  return _mm256_cvtepi32_ps(sgn ? _mm256_cvtepi8_epi32(v8) : _mm256_cvtepu8_epi32(v8));
}

DQ_INL void dq_store32_mul(float *y, __m256i q, __m256 d, bool sgn) {
  __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y, _mm256_mul_ps(d, dq_cvt8(lo, sgn)));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(d, dq_cvt8(_mm_srli_si128(lo, 8), sgn)));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(d, dq_cvt8(hi, sgn)));
  _mm256_storeu_ps(y + 24, _mm256_mul_ps(d, dq_cvt8(_mm_srli_si128(hi, 8), sgn)));
}

/* y = d * q + o (add) or d * q - o (!add), unsigned codes. */
DQ_INL void dq_store32_affine(float *y, __m256i q, __m256 d, __m256 o, bool add) {
  __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  __m256 v[4] = {dq_cvt8(lo, false), dq_cvt8(_mm_srli_si128(lo, 8), false), dq_cvt8(hi, false),
                 dq_cvt8(_mm_srli_si128(hi, 8), false)};
  for (int k = 0; k < 4; k++) {
    __m256 m = _mm256_mul_ps(d, v[k]);
    _mm256_storeu_ps(y + 8 * k, add ? _mm256_add_ps(m, o) : _mm256_sub_ps(m, o));
  }
}

/* 16 packed bytes -> low nibbles (bytes 0..15) then high nibbles (16..31). */
DQ_INL __m256i dq_nibbles16(const uint8_t *p) {
  __m128i v = _mm_loadu_si128((const __m128i *)p), m4 = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
}

static DQ_ATTR void deq_q4_0_avx2(const uint8_t *b, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++, b += 18, y += 32) {
    __m256i q = _mm256_sub_epi8(dq_nibbles16(b + 2), _mm256_set1_epi8(8));
    dq_store32_mul(y, q, _mm256_set1_ps(half_at(b)), true);
  }
}

static DQ_ATTR void deq_q4_1_avx2(const uint8_t *b, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++, b += 20, y += 32)
    dq_store32_affine(y, dq_nibbles16(b + 4), _mm256_set1_ps(half_at(b)),
                      _mm256_set1_ps(half_at(b + 2)), true);
}

static DQ_ATTR void deq_q8_0_avx2(const uint8_t *b, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++, b += 34, y += 32)
    dq_store32_mul(y, _mm256_loadu_si256((const __m256i *)(b + 2)), _mm256_set1_ps(half_at(b)),
                   true);
}

static DQ_ATTR void deq_q45_k_avx2(const uint8_t *b, float *y, int64_t n, bool five) {
  const __m256i m4 = _mm256_set1_epi8(15), b1 = _mm256_set1_epi8(1), b2 = _mm256_set1_epi8(2);
  const int bytes = five ? 176 : 144;
  for (int64_t blk = 0; blk < n; blk++, b += bytes, y += 256) {
    float d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *sc = b + 4, *qs = b + (five ? 48 : 16);
    __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
    for (int i = 0; i < 4; i++) {
      int s0, m0, s1, m1;
      kq_scale_min(sc, 2 * i, &s0, &m0);
      kq_scale_min(sc, 2 * i + 1, &s1, &m1);
      __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * i));
      __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
      if (five) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, b1), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(qh, b2), 3));
        qh = _mm256_srli_epi16(qh, 2);
      }
      dq_store32_affine(y + 64 * i, lo, _mm256_set1_ps(d * (float)s0),
                        _mm256_set1_ps(dmin * (float)m0), false);
      dq_store32_affine(y + 64 * i + 32, hi, _mm256_set1_ps(d * (float)s1),
                        _mm256_set1_ps(dmin * (float)m1), false);
    }
  }
}

static DQ_ATTR void deq_q6_k_avx2(const uint8_t *b, float *y, int64_t n) {
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  const __m256i c32 = _mm256_set1_epi8(32);
  for (int64_t blk = 0; blk < n; blk++, b += 210, y += 256) {
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = half_at(b + 208);
    for (int h = 0; h < 2; h++) {
      __m256i L0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h));
      __m256i L1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
      __m256i H = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m30));
      q[1] = _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m30));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), _mm256_and_si256(H, m30));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4),
                             _mm256_and_si256(_mm256_srli_epi16(H, 2), m30));
      for (int k = 0; k < 4; k++) {
        /* The reference's d * S * q groups as (d * S) * q. */
        __m256i qk = _mm256_sub_epi8(q[k], c32);
        __m128i lo = _mm256_castsi256_si128(qk), hi = _mm256_extracti128_si256(qk, 1);
        __m256 s0 = _mm256_set1_ps(d * (float)sc[8 * h + 2 * k]);
        __m256 s1 = _mm256_set1_ps(d * (float)sc[8 * h + 2 * k + 1]);
        float *Y = y + 128 * h + 32 * k;
        _mm256_storeu_ps(Y, _mm256_mul_ps(s0, dq_cvt8(lo, true)));
        _mm256_storeu_ps(Y + 8, _mm256_mul_ps(s0, dq_cvt8(_mm_srli_si128(lo, 8), true)));
        _mm256_storeu_ps(Y + 16, _mm256_mul_ps(s1, dq_cvt8(hi, true)));
        _mm256_storeu_ps(Y + 24, _mm256_mul_ps(s1, dq_cvt8(_mm_srli_si128(hi, 8), true)));
      }
    }
  }
}

#undef DQ_INL
#undef DQ_ATTR

void ggml_dequant_blocks(mx_ggml_type t, const uint8_t *src, float *dst, int64_t nblocks) {
  if (cpu_get_features()->avx2) {
    switch (t) {
      case MX_GGML_Q4_0: deq_q4_0_avx2(src, dst, nblocks); return;
      case MX_GGML_Q4_1: deq_q4_1_avx2(src, dst, nblocks); return;
      case MX_GGML_Q8_0: deq_q8_0_avx2(src, dst, nblocks); return;
      case MX_GGML_Q4_K: deq_q45_k_avx2(src, dst, nblocks, false); return;
      case MX_GGML_Q5_K: deq_q45_k_avx2(src, dst, nblocks, true); return;
      case MX_GGML_Q6_K: deq_q6_k_avx2(src, dst, nblocks); return;
      default: break;
    }
  }
  ggml_dequant_blocks_ref(t, src, dst, nblocks);
}

/* ------------------------------------------------------------ kernel */

typedef struct deq_ctx {
  const ggml_format *f;
  const uint8_t *src;
  int64_t row_bytes, cols;
  void *dst;
  mx_dtype dt;
  bool failed;
} deq_ctx;

static void deq_range(void *vctx, int64_t r0, int64_t r1) {
  deq_ctx *c = vctx;
  int64_t nb = c->cols / c->f->block;
  size_t es = mx_dtype_size(c->dt);
  float *tmp = NULL;
  if (c->dt != MX_FLOAT32) {
    tmp = mx_alloc((size_t)c->cols * sizeof(float));
    if (!tmp) {
      c->failed = true;
      return;
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *s = c->src + r * c->row_bytes;
    if (tmp) {
      ggml_dequant_blocks(c->f->type, s, tmp, nb);
      convert_run(tmp, 1, MX_FLOAT32, (char *)c->dst + (size_t)r * (size_t)c->cols * es, c->dt,
                  c->cols);
    } else {
      ggml_dequant_blocks(c->f->type, s, (float *)c->dst + r * c->cols, nb);
    }
  }
  if (tmp) mx_free(tmp, (size_t)c->cols * sizeof(float));
}

/* A row-major uint8 copy of `a` when it is a strided view; *owned says
 * whether the caller must mx_free it (size in *nbytes). */
static const uint8_t *blocks_ptr(mx_array a, bool *owned, size_t *nbytes) {
  *owned = false;
  *nbytes = 0;
  if (a->row_contiguous) return array_ptr(a);
  size_t n = (size_t)a->size;
  uint8_t *p = mx_alloc(n ? n : 1);
  if (!p) return NULL;
  array_copy_to_row_major(a, p, MX_UINT8);
  *owned = true;
  *nbytes = n ? n : 1;
  return p;
}

mx_status cpu_gguf_dequantize(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const ggml_params *p = params;
  const ggml_format *f = ggml_format_of(p->type);
  if (!f) return set_error(MX_ERR_INTERNAL, "gguf_dequantize: unknown block type %d", p->type);
  mx_status st = array_alloc(out);
  if (st != MX_OK) return st;
  if (out->size == 0) return MX_OK;
  bool owned;
  size_t nbytes;
  const uint8_t *src = blocks_ptr(in[0], &owned, &nbytes);
  if (!src) return MX_ERR_OOM;
  deq_ctx c = {f, src, in[0]->shape[1], p->cols, array_ptr(out), out->dtype, false};
  int64_t grain = 32768 / p->cols + 1;
  parallel_for(out->shape[0], grain, deq_range, &c);
  if (owned) mx_free((void *)src, nbytes);
  if (c.failed) return set_error(MX_ERR_OOM, "gguf_dequantize: out of memory for a row buffer");
  return MX_OK;
}
