/* fast_silu_mul.c — CPU kernel of silu(a) * b (src/ops/fast_silu_mul.c),
 * bit-identical to the three-node chain multiply(multiply(a, sigmoid(a)), b).
 *
 * The multiplications are exact IEEE products rounded to the dtype, so any
 * order of evaluation gives the chain's bits. The sigmoid is not: the f32
 * vector loop the chain's sigmoid kernel uses (elementwise_simd.c) differs
 * from its scalar tail by an ulp or two, and a vector with an out-of-range
 * lane goes scalar as a whole. So the sigmoid here is that same run function
 * called over the same runs the elementwise driver (elementwise_iter.c)
 * would hand it: the same nd_iter collapse of (out, a), the same
 * parallel_for ranges (EW_GRAIN) and the same EW_BLOCK-element blocks. The
 * two constants below must stay equal to that file's.
 *
 * Inputs: (a, b) of one shape and dtype (f32/f16/bf16), any strides; or
 * one x (..., 2F) whose halves are a and b (the chain on slices of x). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../core/half.h"
#include "cpu.h"
#include "elementwise_simd.h"

#define SM_BLOCK 512       /* elementwise_iter.c: EW_BLOCK */
#define SM_GRAIN (1 << 15) /* elementwise_iter.c: EW_GRAIN */

mx_status cpu_fast_silu_mul(mx_array out, mx_array const *in, int nin, const void *params);

typedef struct sm_ctx {
  mx_dtype dt;
  size_t esz;
  ew_fn sig;
  nd_iter it;       /* operand 0: out (row-major), 1: a */
  const char *a;    /* a's element 0 */
  const char *b;    /* pair: b row-major, element 0 */
  int64_t b_delta;  /* split: b's element = a's + b_delta (elements) */
  bool split;
  char *out;
  bool simd;
} sm_ctx;

/* unary.c's scalar sigmoid (the chain's run on CPUs without AVX2+FMA). */
static inline float sigmoid_s(float x) {
  float e = expf(-fabsf(x));
  return x < 0 ? e / (1.0f + e) : 1.0f / (1.0f + e);
}

static void sigmoid_run_scalar(void *out, const void *const *in, const int64_t *s, int64_t n,
                               const void *params) {
  (void)params;
  const float *a = in[0];
  float *o = out;
  if (s[0]) {
    for (int64_t i = 0; i < n; i++) o[i] = sigmoid_s(a[i]);
  } else {
    float v = sigmoid_s(a[0]);
    for (int64_t i = 0; i < n; i++) o[i] = v;
  }
}

/* Rounds an f32 to the dtype and back (half.h's rounding: to nearest even,
 * NaN stays NaN). */
static inline float round_to(float v, mx_dtype dt) {
  if (dt == MX_FLOAT16) return f16_to_f32(f32_to_f16(v));
  if (dt == MX_BFLOAT16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

static inline float load1(const char *p, mx_dtype dt) {
  if (dt == MX_FLOAT16) return f16_to_f32(*(const uint16_t *)p);
  if (dt == MX_BFLOAT16) return bf16_to_f32(*(const uint16_t *)p);
  return *(const float *)p;
}

/* n values at element stride `stride` (any sign, 0 included) as f32. */
static void gather_f32(const char *p, int64_t stride, mx_dtype dt, size_t esz, float *dst,
                       int64_t n) {
  if (stride == 1) {
    if (dt == MX_FLOAT32) {
      memcpy(dst, p, (size_t)n * sizeof(float));
      return;
    }
    if (ew_simd_half_to_f32(p, dt, dst, n)) return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = load1(p + i * stride * (int64_t)esz, dt);
}

/* ---------------------------------------------------------- the products */

/* out[i] = round(round(a[i] * s[i]) * b[i]) in the storage dtype; s is
 * already rounded. */
static void finish_scalar(const float *a, const float *s, const float *b, char *out,
                          mx_dtype dt, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float g = round_to(a[i] * s[i], dt);
    float o = g * b[i];
    if (dt == MX_FLOAT16) ((uint16_t *)out)[i] = f32_to_f16(o);
    else if (dt == MX_BFLOAT16) ((uint16_t *)out)[i] = f32_to_bf16(o);
    else ((float *)out)[i] = o;
  }
}

#define SM_ATTR __attribute__((target("avx2,f16c")))

/* half.h's f32 -> bf16 -> f32 on 8 lanes. */
static inline SM_ATTR __m256 bf16_round8(__m256 v) {
  __m256i u = _mm256_castps_si256(v);
  __m256i mag = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
  __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
  __m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
  r = _mm256_blendv_epi8(r, q, nan);
  return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u)));
}

static inline SM_ATTR __m256 f16_round8(__m256 v) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

static SM_ATTR void finish_avx2(const float *a, const float *s, const float *b, char *out,
                                mx_dtype dt, int64_t n) {
  int64_t i = 0;
  if (dt == MX_FLOAT32) {
    float *o = (float *)out;
    for (; i + 8 <= n; i += 8) {
      __m256 g = _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(s + i));
      _mm256_storeu_ps(o + i, _mm256_mul_ps(g, _mm256_loadu_ps(b + i)));
    }
  } else if (dt == MX_FLOAT16) {
    uint16_t *o = (uint16_t *)out;
    for (; i + 8 <= n; i += 8) {
      __m256 g = f16_round8(_mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(s + i)));
      __m256 r = _mm256_mul_ps(g, _mm256_loadu_ps(b + i));
      _mm_storeu_si128((__m128i *)(o + i),
                       _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
  } else {
    uint16_t *o = (uint16_t *)out;
    for (; i + 8 <= n; i += 8) {
      __m256 g = bf16_round8(_mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(s + i)));
      __m256i r = _mm256_srli_epi32(
          _mm256_castps_si256(bf16_round8(_mm256_mul_ps(g, _mm256_loadu_ps(b + i)))), 16);
      __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
      _mm_storeu_si128((__m128i *)(o + i), p);
    }
  }
  finish_scalar(a + i, s + i, b + i, out + i * (int64_t)mx_dtype_size(dt), dt, n - i);
}

static SM_ATTR void round_avx2(float *s, mx_dtype dt, int64_t n) {
  int64_t i = 0;
  if (dt == MX_FLOAT16)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, f16_round8(_mm256_loadu_ps(s + i)));
  else
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, bf16_round8(_mm256_loadu_ps(s + i)));
  for (; i < n; i++) s[i] = round_to(s[i], dt);
}

/* ---------------------------------------------------------- the walk */

/* Elements [i, i + len) of run r, whose operand offsets are off, at flat
 * output position q: blocks as the elementwise driver makes them. */
static void do_segment(const sm_ctx *c, const int64_t *off, int64_t i, int64_t len, int64_t q) {
  _Alignas(64) float av[SM_BLOCK], sv[SM_BLOCK], bv[SM_BLOCK];
  const int64_t sa = c->it.inner_stride[1];
  const int64_t esz = (int64_t)c->esz;
  const char *ap = c->a + (off[1] + i * sa) * esz;
  for (int64_t j = 0; j < len; j += SM_BLOCK) {
    int64_t n = len - j < SM_BLOCK ? len - j : SM_BLOCK;
    const char *pa = ap + j * sa * esz;
    gather_f32(pa, sa, c->dt, c->esz, av, n);
    /* The chain hands the run a stride-0 operand as one value. */
    const void *sin[1] = {av};
    int64_t ss[1] = {sa == 0 ? 0 : 1};
    c->sig(sv, sin, ss, n, NULL);
    if (c->dt != MX_FLOAT32) {
      if (c->simd) round_avx2(sv, c->dt, n);
      else
        for (int64_t k = 0; k < n; k++) sv[k] = round_to(sv[k], c->dt);
    }
    if (c->split) gather_f32(pa + c->b_delta * esz, sa, c->dt, c->esz, bv, n);
    else gather_f32(c->b + (q + j) * esz, 1, c->dt, c->esz, bv, n);
    char *o = c->out + (q + j) * esz;
    if (c->simd) finish_avx2(av, sv, bv, o, c->dt, n);
    else finish_scalar(av, sv, bv, o, c->dt, n);
  }
}

static void sm_task(void *p, int64_t begin, int64_t end) {
  const sm_ctx *c = p;
  int64_t inner = c->it.inner;
  int64_t r = begin / inner, i = begin % inner, pos = begin;
  while (pos < end) {
    int64_t off[ND_MAX_OPS];
    nd_iter_offsets(&c->it, r, off);
    int64_t len = inner - i < end - pos ? inner - i : end - pos;
    do_segment(c, off, i, len, pos);
    pos += len;
    r++;
    i = 0;
  }
}

mx_status cpu_fast_silu_mul(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  if (nin != 1 && nin != 2)
    return set_error(MX_ERR_INTERNAL, "silu_mul: expected 1 or 2 inputs, got %d", nin);
  mx_dtype dt = out->dtype;
  if ((dt != MX_FLOAT32 && dt != MX_FLOAT16 && dt != MX_BFLOAT16) || in[0]->dtype != dt ||
      (nin == 2 && in[1]->dtype != dt))
    return set_error(MX_ERR_DTYPE, "silu_mul: no CPU kernel for %s", mx_dtype_name(dt));
  mx_status st = array_alloc_donate(out, in, nin);
  if (st < 0 || out->size == 0) return st;
  sm_ctx c;
  memset(&c, 0, sizeof c);
  c.dt = dt;
  c.esz = mx_dtype_size(dt);
  c.sig = ew_simd_f32_unary(EW_SIMD_U_SIGMOID);
  if (!c.sig) c.sig = sigmoid_run_scalar;
  const cpu_features *cf = cpu_get_features();
  c.simd = cf->avx2 && cf->f16c;
  c.out = (char *)out->buf->ptr; /* row-major at offset 0 */
  c.split = nin == 1;
  mx_array a = in[0];
  int64_t as[MX_MAX_NDIM];
  char *bcopy = NULL;
  size_t bbytes = 0;
  if (c.split) {
    /* a is the slice x[..., :F]: x's strides over out's shape. */
    memcpy(as, a->strides, sizeof(int64_t) * (size_t)a->ndim);
    c.b_delta = out->shape[out->ndim - 1] * a->strides[a->ndim - 1];
  } else {
    broadcast_strides(a, out->shape, out->ndim, as);
    mx_array b = in[1];
    if (b->row_contiguous) {
      c.b = array_ptr(b);
    } else {
      bbytes = (size_t)out->size * c.esz;
      bcopy = mx_alloc(bbytes);
      if (!bcopy) return mx_last_error_code();
      array_copy_to_row_major(b, bcopy, dt);
      c.b = bcopy;
    }
  }
  c.a = array_ptr(a);
  const int64_t *sp[2] = {out->strides, as};
  nd_iter_init(&c.it, out->shape, out->ndim, sp, 2);
  if (c.it.outer > 0 && c.it.inner > 0)
    parallel_for(c.it.outer * c.it.inner, SM_GRAIN, sm_task, &c);
  if (bcopy) mx_free(bcopy, bbytes);
  return MX_OK;
}
