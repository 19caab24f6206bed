/* random.c — CPU kernels of the random ops.
 *
 * Bits: MLX's RandomBits fills N output words from threefry hashes of
 * counter pairs (i, half + odd + i), i < half = N / 2: the first word of
 * each hash goes to word i, the second to word half + odd + i; for odd N
 * the middle word is the first word of hash (half, 0). Byte outputs
 * (width 1, 2) take the leading bytes of that word stream. Every sampler
 * here draws its 32-bit words from the same stream (element j <- word j)
 * and maps them exactly as MLX's composed ops do, rounding to the output
 * dtype wherever MLX materializes an intermediate array. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "random.h"

/* ------------------------------------------------------------ threefry */

#define TF_MIX(x0, x1, r)                 \
  do {                                    \
    x0 += x1;                             \
    x1 = (x1 << (r)) | (x1 >> (32 - (r))); \
    x1 ^= x0;                             \
  } while (0)
#define TF_ROUNDS_A(x0, x1) \
  TF_MIX(x0, x1, 13);       \
  TF_MIX(x0, x1, 15);       \
  TF_MIX(x0, x1, 26);       \
  TF_MIX(x0, x1, 6)
#define TF_ROUNDS_B(x0, x1) \
  TF_MIX(x0, x1, 17);       \
  TF_MIX(x0, x1, 29);       \
  TF_MIX(x0, x1, 16);       \
  TF_MIX(x0, x1, 24)
/* 20 rounds with a key injection after every 4 (Salmon et al.). */
#define TF_HASH(x0, x1, ks0, ks1, ks2) \
  do {                                 \
    x0 += ks0;                         \
    x1 += ks1;                         \
    TF_ROUNDS_A(x0, x1);               \
    x0 += ks1;                         \
    x1 += ks2 + 1u;                    \
    TF_ROUNDS_B(x0, x1);               \
    x0 += ks2;                         \
    x1 += ks0 + 2u;                    \
    TF_ROUNDS_A(x0, x1);               \
    x0 += ks0;                         \
    x1 += ks1 + 3u;                    \
    TF_ROUNDS_B(x0, x1);               \
    x0 += ks1;                         \
    x1 += ks2 + 4u;                    \
    TF_ROUNDS_A(x0, x1);               \
    x0 += ks2;                         \
    x1 += ks0 + 5u;                    \
  } while (0)

#define TF_PARITY 0x1BD11BDAu

void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t *o0,
                  uint32_t *o1) {
  uint32_t ks2 = k0 ^ k1 ^ TF_PARITY, x0 = c0, x1 = c1;
  TF_HASH(x0, x1, k0, k1, ks2);
  *o0 = x0;
  *o1 = x1;
}

typedef uint32_t v16u __attribute__((vector_size(64)));
typedef uint32_t v8u __attribute__((vector_size(32)));

/* Hashes counters (c0 + t, c1 + t), t < n, into f[t], s[t]; the vector
 * versions return how many they did (a multiple of their width). */
__attribute__((target("avx512f"))) static int64_t tf_block_avx512(uint32_t k0, uint32_t k1,
                                                                  uint32_t c0, uint32_t c1,
                                                                  int64_t n, uint32_t *f,
                                                                  uint32_t *s) {
  const v16u lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  uint32_t ks2 = k0 ^ k1 ^ TF_PARITY;
  int64_t t = 0;
  for (; t + 16 <= n; t += 16) {
    v16u x0 = lane + (uint32_t)(c0 + (uint32_t)t), x1 = lane + (uint32_t)(c1 + (uint32_t)t);
    TF_HASH(x0, x1, k0, k1, ks2);
    memcpy(f + t, &x0, sizeof x0);
    memcpy(s + t, &x1, sizeof x1);
  }
  return t;
}

__attribute__((target("avx2"))) static int64_t tf_block_avx2(uint32_t k0, uint32_t k1,
                                                             uint32_t c0, uint32_t c1, int64_t n,
                                                             uint32_t *f, uint32_t *s) {
  const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
  uint32_t ks2 = k0 ^ k1 ^ TF_PARITY;
  int64_t t = 0;
  for (; t + 8 <= n; t += 8) {
    v8u x0 = lane + (uint32_t)(c0 + (uint32_t)t), x1 = lane + (uint32_t)(c1 + (uint32_t)t);
    TF_HASH(x0, x1, k0, k1, ks2);
    memcpy(f + t, &x0, sizeof x0);
    memcpy(s + t, &x1, sizeof x1);
  }
  return t;
}

static void tf_block(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, int64_t n, uint32_t *f,
                     uint32_t *s) {
  const cpu_features *cf = cpu_get_features();
  int64_t t = 0;
  if (cf->avx512f) t = tf_block_avx512(k0, k1, c0, c1, n, f, s);
  else if (cf->avx2) t = tf_block_avx2(k0, k1, c0, c1, n, f, s);
  for (; t < n; t++) threefry2x32(k0, k1, c0 + (uint32_t)t, c1 + (uint32_t)t, f + t, s + t);
}

/* ------------------------------------------------------------ the word stream */

/* Receives words j0 .. j0 + n of the stream. */
typedef void (*word_map_fn)(void *ctx, int64_t j0, const uint32_t *w, int64_t n);

typedef struct gen_job {
  uint32_t k0, k1;
  int64_t half, second; /* second = half + odd: where second words start */
  word_map_fn map;
  void *ctx;
} gen_job;

enum { GEN_BLOCK = 256 };

static void gen_range(void *p, int64_t begin, int64_t end) {
  const gen_job *g = p;
  uint32_t f[GEN_BLOCK], s[GEN_BLOCK];
  for (int64_t i0 = begin; i0 < end; i0 += GEN_BLOCK) {
    int64_t n = end - i0 < GEN_BLOCK ? end - i0 : GEN_BLOCK;
    /* MLX's counters are 32-bit: positions past 2^32 wrap as there. */
    tf_block(g->k0, g->k1, (uint32_t)i0, (uint32_t)(g->second + i0), n, f, s);
    g->map(g->ctx, i0, f, n);
    g->map(g->ctx, g->second + i0, s, n);
  }
}

/* Produces the nwords-word stream of key (k0, k1), in parallel for large
 * outputs (< 32K words stay on this thread). */
static void generate(uint32_t k0, uint32_t k1, int64_t nwords, word_map_fn map, void *ctx) {
  gen_job g = {k0, k1, nwords / 2, nwords / 2 + nwords % 2, map, ctx};
  parallel_for(g.half, 1 << 14, gen_range, &g);
  if (nwords % 2) {
    uint32_t a, b;
    threefry2x32(k0, k1, (uint32_t)g.half, 0, &a, &b);
    map(ctx, g.half, &a, 1);
  }
}

static void read_key(mx_array key, uint32_t *k0, uint32_t *k1) {
  const uint32_t *p = array_ptr(key);
  *k0 = p[0];
  *k1 = p[key->strides[0]];
}

/* ------------------------------------------------------------ MLX's math */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Juffa's erfinvf polynomial, as in MLX's simd::erfinv. */
ALWAYS_INLINE float erfinv_impl(float a) {
  float t = fmaf(a, 0.0f - a, 1.0f);
  t = logf(t);
  float p;
  if (fabsf(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = fmaf(p, t, 2.93243101e-8f);
    p = fmaf(p, t, 1.22150334e-6f);
    p = fmaf(p, t, 2.84108955e-5f);
    p = fmaf(p, t, 3.93552968e-4f);
    p = fmaf(p, t, 3.02698812e-3f);
    p = fmaf(p, t, 4.83185798e-3f);
    p = fmaf(p, t, -2.64646143e-1f);
    p = fmaf(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = fmaf(p, t, 1.43285448e-7f);
    p = fmaf(p, t, 1.22774793e-6f);
    p = fmaf(p, t, 1.12963626e-7f);
    p = fmaf(p, t, -5.61530760e-5f);
    p = fmaf(p, t, -1.47697632e-4f);
    p = fmaf(p, t, 2.31468678e-3f);
    p = fmaf(p, t, 1.15392581e-2f);
    p = fmaf(p, t, -2.32015476e-1f);
    p = fmaf(p, t, 8.86226892e-1f);
  }
  return a * p;
}

float mlx_erfinv_f32(float a) { return erfinv_impl(a); }

/* MLX's simd::exp: 2^(x log2 e) split into integer and fraction parts. */
float mlx_exp_f32(float x0) {
  float x = x0 * 1.442695f;
  float ipart = floorf(x + 0.5f), fpart = x - ipart;
  float p = 1.535336188319500e-4f;
  p = fmaf(p, fpart, 1.339887440266574e-3f);
  p = fmaf(p, fpart, 9.618437357674640e-3f);
  p = fmaf(p, fpart, 5.550332471162809e-2f);
  p = fmaf(p, fpart, 2.402264791363012e-1f);
  p = fmaf(p, fpart, 6.931472028550421e-1f);
  p = fmaf(p, fpart, 1.000000000000000f);
  if (isnan(x0)) return x0;
  if (x0 > 88.0f) return INFINITY;
  if (x0 < -88.0f) return 0.0f;
  uint32_t e = (uint32_t)((int32_t)ipart + 127) << 23;
  return f32_from_bits(e) * p;
}

/* MLX's simd::erf (Abramowitz-Stegun 7.1.26 with MLX's exp). */
float mlx_erf_f32(float v) {
  float t = 1.0f / fmaf(0.3275911f, fabsf(v), 1.0f);
  float r = fmaf(1.061405429f, t, -1.453152027f);
  r = fmaf(r, t, 1.421413741f);
  r = fmaf(r, t, -0.284496736f);
  r = fmaf(r, t, 0.254829592f);
  float e = -mlx_exp_f32(-v * v);
  float res = fmaf(e * t, r, 1.0f);
  return v > 0 ? res : -res;
}

/* ------------------------------------------------------------ samplers */

ALWAYS_INLINE float round_to(float x, mx_dtype d) {
  if (d == MX_FLOAT16) return f16_to_f32(f32_to_f16(x));
  if (d == MX_BFLOAT16) return bf16_to_f32(f32_to_bf16(x));
  return x;
}

ALWAYS_INLINE void store_real(void *out, int64_t j, float x, mx_dtype d) {
  if (d == MX_FLOAT16) ((uint16_t *)out)[j] = f32_to_f16(x);
  else if (d == MX_BFLOAT16) ((uint16_t *)out)[j] = f32_to_bf16(x);
  else ((float *)out)[j] = x;
}

/* bits / maxval, clamped below 1 (MLX divides by float(UINT32_MAX) = 2^32). */
ALWAYS_INLINE float unit(uint32_t w, float upper) {
  float u = (float)w / 4294967296.0f;
  return u < upper ? u : upper;
}

typedef struct map_ctx {
  const rand_params *p;
  void *out;
  const void *pdata; /* bernoulli probabilities, row-major */
  int64_t nbytes;    /* bits: output bytes */
} map_ctx;

static void map_bits(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const map_ctx *c = c_;
  int64_t at = 4 * j0, len = 4 * n;
  if (at + len > c->nbytes) len = c->nbytes - at;
  memcpy((char *)c->out + at, w, (size_t)len);
}

/* uniform: range * u + lo in the output dtype. */
static void map_uniform(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const map_ctx *c = c_;
  const rand_params *p = c->p;
  mx_dtype d = p->dtype;
  float lo = (float)p->lo, range = (float)p->range, upper = (float)p->upper;
  if (d == MX_FLOAT32) {
    float *o = (float *)c->out + j0;
    for (int64_t t = 0; t < n; t++) o[t] = range * unit(w[t], upper) + lo;
    return;
  }
  for (int64_t t = 0; t < n; t++) {
    float u = round_to(unit(w[t], upper), d);
    store_real(c->out, j0 + t, round_to(range * u, d) + lo, d);
  }
}

/* normal: sqrt(2) * erfinv(u) with u uniform in (-1, 1) in float32, then
 * scaled and shifted in the output dtype (complex: real and imaginary
 * parts are consecutive words, without the sqrt(2)). */
ALWAYS_INLINE void normal_body(const map_ctx *c, int64_t j0, const uint32_t *w, int64_t n) {
  const rand_params *p = c->p;
  mx_dtype d = p->dtype;
  float lo = (float)p->lo, range = (float)p->range, upper = (float)p->upper;
  for (int64_t t = 0; t < n; t++) {
    float e = erfinv_impl(range * unit(w[t], upper) + lo);
    int64_t j = j0 + t;
    switch (d) {
    case MX_FLOAT64: {
      double s = p->scale * (double)e;
      if (p->has_loc) s = p->loc + s;
      ((double *)c->out)[j] = s;
      break;
    }
    case MX_COMPLEX64: {
      if (p->has_scale) e = (float)p->scale * e;
      if (p->has_loc) e = e + (j % 2 ? 0.0f : (float)p->loc);
      ((float *)c->out)[j] = e;
      break;
    }
    default: {
      float s = round_to((float)p->scale * round_to(e, d), d);
      if (p->has_loc) s = (float)p->loc + s;
      store_real(c->out, j, s, d);
      break;
    }
    }
  }
}

__attribute__((target("fma"))) static void map_normal_fma(void *c, int64_t j0, const uint32_t *w,
                                                          int64_t n) {
  normal_body(c, j0, w, n);
}
static void map_normal(void *c, int64_t j0, const uint32_t *w, int64_t n) {
  normal_body(c, j0, w, n);
}

/* truncated_normal: uniform in [erf(l/sqrt2), erf(u/sqrt2)), then
 * sqrt2 * erfinv, clipped to [lower, upper], all in the output dtype. */
ALWAYS_INLINE void trunc_body(const map_ctx *c, int64_t j0, const uint32_t *w, int64_t n) {
  const rand_params *p = c->p;
  mx_dtype d = p->dtype;
  float lo = (float)p->lo, range = (float)p->range, upper = (float)p->upper;
  float sc = (float)p->scale, lt = (float)p->lower_t, ut = (float)p->upper_t;
  for (int64_t t = 0; t < n; t++) {
    float u = round_to(round_to(range * round_to(unit(w[t], upper), d), d) + lo, d);
    float s = round_to(sc * round_to(erfinv_impl(u), d), d);
    s = ut < s ? ut : s;
    s = s > lt ? s : lt;
    store_real(c->out, j0 + t, s, d);
  }
}

__attribute__((target("fma"))) static void map_trunc_fma(void *c, int64_t j0, const uint32_t *w,
                                                         int64_t n) {
  trunc_body(c, j0, w, n);
}
static void map_trunc(void *c, int64_t j0, const uint32_t *w, int64_t n) {
  trunc_body(c, j0, w, n);
}

/* gumbel: -log(-log(u)) with u uniform in [0, 1) of the output dtype. */
static void map_gumbel(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const map_ctx *c = c_;
  mx_dtype d = c->p->dtype;
  float upper = (float)c->p->upper;
  for (int64_t t = 0; t < n; t++) {
    float u = round_to(unit(w[t], upper), d);
    float l = round_to(logf(u), d);
    store_real(c->out, j0 + t, -round_to(logf(-l), d), d);
  }
}

/* Sign- or zero-extends the low bits of v as the integer dtype d holds them. */
static int64_t wrap_to(uint64_t v, mx_dtype d) {
  switch (d) {
  case MX_BOOL: return v != 0;
  case MX_UINT8: return (uint8_t)v;
  case MX_UINT16: return (uint16_t)v;
  case MX_UINT32: return (uint32_t)v;
  case MX_INT8: return (int8_t)v;
  case MX_INT16: return (int16_t)v;
  case MX_INT32: return (int32_t)v;
  default: return (int64_t)v;
  }
}

/* randint: floor(uniform(low, high)) in float32, cast to the dtype, then
 * clamped to [low, high - 1] in the dtype. */
static void map_randint(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const map_ctx *c = c_;
  const rand_params *p = c->p;
  mx_dtype d = p->dtype;
  float lo = (float)p->lo, range = (float)p->range, upper = (float)p->upper;
  bool uns = d == MX_UINT64;
  for (int64_t t = 0; t < n; t++) {
    float f = floorf(range * unit(w[t], upper) + lo);
    uint64_t bits;
    if (d == MX_BOOL) bits = f != 0;
    else if (uns && f >= 9223372036854775808.0f && f < 18446744073709551616.0f) bits = (uint64_t)f;
    else if (f > -9223372036854775808.0f && f < 9223372036854775808.0f) bits = (uint64_t)(int64_t)f;
    else bits = (uint64_t)INT64_MIN;
    int64_t v = wrap_to(bits, d);
    if (uns) {
      uint64_t u = (uint64_t)v, h = (uint64_t)p->ihigh1, l = (uint64_t)p->ilow;
      u = u < h ? u : h;
      u = u > l ? u : l;
      v = (int64_t)u;
    } else {
      v = v < p->ihigh1 ? v : p->ihigh1;
      v = v > p->ilow ? v : p->ilow;
    }
    store_i64(c->out, d, j0 + t, v);
  }
}

/* bernoulli: bits < p * nextafter(2^32, inf), compared in p's float type. */
static void map_bernoulli(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const map_ctx *c = c_;
  uint8_t *o = (uint8_t *)c->out + j0;
  float up = (float)c->p->upper;
  if (c->p->dtype == MX_FLOAT64) {
    const double *pp = (const double *)c->pdata + j0;
    for (int64_t t = 0; t < n; t++) o[t] = (double)w[t] < pp[t] * (double)up;
  } else {
    const float *pp = (const float *)c->pdata + j0;
    for (int64_t t = 0; t < n; t++) o[t] = (float)w[t] < pp[t] * up;
  }
}

mx_status cpu_random(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const rand_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  uint32_t k0, k1;
  read_key(in[0], &k0, &k1);
  map_ctx c = {p, array_ptr(out), NULL, 0};
  int64_t nwords = out->size;
  bool fma = cpu_get_features()->fma;
  word_map_fn map = NULL;
  void *pbuf = NULL;
  size_t pbytes = 0;
  switch ((rand_kind)p->kind) {
  case RK_BITS:
    c.nbytes = out->size * (int64_t)mx_dtype_size(out->dtype);
    nwords = (c.nbytes + 3) / 4;
    map = map_bits;
    break;
  case RK_UNIFORM: map = map_uniform; break;
  case RK_NORMAL:
    if (out->dtype == MX_COMPLEX64) nwords *= 2;
    map = fma ? map_normal_fma : map_normal;
    break;
  case RK_TRUNC_NORMAL: map = fma ? map_trunc_fma : map_trunc; break;
  case RK_RANDINT: map = map_randint; break;
  case RK_GUMBEL: map = map_gumbel; break;
  case RK_BERNOULLI: {
    mx_array pa = in[1];
    if (pa->row_contiguous) {
      c.pdata = array_ptr(pa);
    } else {
      pbytes = (size_t)pa->size * mx_dtype_size(pa->dtype);
      pbuf = mx_alloc(pbytes);
      if (!pbuf) return mx_last_error_code();
      array_copy_to_row_major(pa, pbuf, pa->dtype);
      c.pdata = pbuf;
    }
    map = map_bernoulli;
    break;
  }
  }
  if (!map) return set_error(MX_ERR_INTERNAL, "random: unknown sampler %d", p->kind);
  generate(k0, k1, nwords, map, &c);
  if (pbuf) mx_free(pbuf, pbytes);
  return MX_OK;
}

/* ------------------------------------------------------------ categorical */

typedef struct f32_sink {
  float *out;
  float upper;
} f32_sink;

/* gumbel(float32) words into a scratch buffer. */
static void map_gumbel_f32(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const f32_sink *c = c_;
  for (int64_t t = 0; t < n; t++) c->out[j0 + t] = -logf(-logf(unit(w[t], c->upper)));
}

/* uniform(float32) in [0, 1) into a scratch buffer. */
static void map_unit_f32(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const f32_sink *c = c_;
  for (int64_t t = 0; t < n; t++) c->out[j0 + t] = unit(w[t], c->upper);
}

typedef struct cat_job {
  const float *g;     /* gumbel noise, shape (P, n, Q) */
  const char *logits; /* element pointer */
  bool f64;
  int64_t P, n, Q, nq_blocks;
  int64_t lstride;       /* logits stride along the sampled axis */
  const int64_t *qoff;   /* logits offset of each q */
  int pdims;             /* leading dims of the gumbel shape (before the axis) */
  const int64_t *pshape, *pstrides;
  uint32_t *out;
} cat_job;

enum { CAT_QB = 512 };

/* argmax over v of g[p, v, q] + logits[p, v, q], first index on ties (as
 * MLX's argmax), for one p and a block of q. */
static void cat_range(void *p_, int64_t begin, int64_t end) {
  const cat_job *j = p_;
  double best[CAT_QB];
  for (int64_t task = begin; task < end; task++) {
    int64_t p = task / j->nq_blocks, q0 = (task % j->nq_blocks) * CAT_QB;
    int64_t q1 = q0 + CAT_QB < j->Q ? q0 + CAT_QB : j->Q;
    int64_t poff = 0, rem = p;
    for (int d = j->pdims - 1; d >= 0; d--) {
      poff += (rem % j->pshape[d]) * j->pstrides[d];
      rem /= j->pshape[d];
    }
    uint32_t *o = j->out + p * j->Q;
    for (int64_t v = 0; v < j->n; v++) {
      const float *g = j->g + (p * j->n + v) * j->Q;
      int64_t lo = poff + v * j->lstride;
      for (int64_t q = q0; q < q1; q++) {
        double x;
        if (j->f64) x = (double)g[q] + ((const double *)(const void *)j->logits)[lo + j->qoff[q]];
        else x = (double)(g[q] + ((const float *)(const void *)j->logits)[lo + j->qoff[q]]);
        if (v == 0 || x > best[q - q0]) {
          best[q - q0] = x;
          o[q] = (uint32_t)v;
        }
      }
    }
  }
}

/* MLX's inverse-CDF sampler for one distribution: w = exp(x - max),
 * exclusive cumsum, u * sum(w), searchsorted(right) - 1, all sequential. */
static mx_status categorical_icdf(mx_array out, mx_array logits, uint32_t k0, uint32_t k1) {
  int64_t n = logits->size, ns = out->size;
  bool f64 = logits->dtype == MX_FLOAT64;
  size_t bytes = (size_t)n * sizeof(double) + (size_t)ns * sizeof(float);
  char *scratch = mx_alloc(bytes);
  if (!scratch) return mx_last_error_code();
  double *cdf = (double *)(void *)scratch;
  float *u = (float *)(void *)(scratch + (size_t)n * sizeof(double));
  const char *x = array_ptr(logits);
  int64_t xs = logits->strides[0];
#define LX(i) (f64 ? ((const double *)(const void *)x)[(i) * xs] : (double)((const float *)(const void *)x)[(i) * xs])
  double m = LX(0);
  for (int64_t i = 1; i < n; i++)
    if (LX(i) > m) m = LX(i);
  /* Accumulate in the logits' float type exactly as MLX's scan and sum. */
  double acc = 0;
  float accf = 0;
  for (int64_t i = 0; i < n; i++) {
    double xi = LX(i), wi;
    if (isinf(m)) wi = xi == m ? 1.0 : 0.0;
    else wi = f64 ? (double)mlx_exp_f32((float)(xi - m)) : (double)mlx_exp_f32((float)xi - (float)m);
    if (f64) {
      cdf[i] = acc;
      acc += wi;
    } else {
      cdf[i] = accf;
      accf += (float)wi;
    }
  }
#undef LX
  double total = f64 ? acc : (double)accf;
  f32_sink sink = {u, nextafterf(1.0f, 0.0f)};
  generate(k0, k1, ns, map_unit_f32, &sink);
  uint32_t *o = array_ptr(out);
  for (int64_t j = 0; j < ns; j++) {
    double t = f64 ? (double)u[j] * total : (double)(u[j] * (float)total);
    int64_t lo = 0, hi = n; /* first index with cdf > t */
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (cdf[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    o[j] = (uint32_t)(lo - 1);
  }
  mx_free(scratch, bytes);
  return MX_OK;
}

mx_status cpu_categorical(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const categorical_params *cp = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  uint32_t k0, k1;
  read_key(in[0], &k0, &k1);
  mx_array logits = in[1];
  if (cp->inverse_cdf) return categorical_icdf(out, logits, k0, k1);

  int64_t P = 1, Q = 1, n = cp->gshape[cp->offset];
  for (int d = 0; d < cp->offset; d++) P *= cp->gshape[d];
  for (int d = cp->offset + 1; d < cp->ndim; d++) Q *= cp->gshape[d];
  int64_t ls[MX_MAX_NDIM];
  broadcast_strides(logits, cp->gshape, cp->ndim, ls);
  size_t gbytes = (size_t)(P * n * Q) * sizeof(float), qbytes = (size_t)Q * sizeof(int64_t);
  float *g = mx_alloc(gbytes);
  int64_t *qoff = mx_alloc(qbytes);
  if (!g || !qoff) {
    if (g) mx_free(g, gbytes);
    if (qoff) mx_free(qoff, qbytes);
    return mx_last_error_code();
  }
  f32_sink sink = {g, nextafterf(1.0f, 0.0f)};
  generate(k0, k1, P * n * Q, map_gumbel_f32, &sink);
  for (int64_t q = 0; q < Q; q++) {
    int64_t off = 0, rem = q;
    for (int d = cp->ndim - 1; d > cp->offset; d--) {
      off += (rem % cp->gshape[d]) * ls[d];
      rem /= cp->gshape[d];
    }
    qoff[q] = off;
  }
  cat_job j = {g, array_ptr(logits), logits->dtype == MX_FLOAT64, P, n, Q, (Q + CAT_QB - 1) / CAT_QB,
               ls[cp->offset], qoff, cp->offset, cp->gshape, ls, array_ptr(out)};
  int64_t tasks = P * j.nq_blocks, per = n * (Q < CAT_QB ? Q : CAT_QB);
  parallel_for(tasks, per >= 32768 ? 1 : 32768 / per, cat_range, &j);
  mx_free(g, gbytes);
  mx_free(qoff, qbytes);
  return MX_OK;
}

/* ------------------------------------------------------------ permutation */

typedef struct u32_sink {
  uint64_t *out;
} u32_sink;

/* Packs (bits, index): sorting the packed values is a stable argsort. */
static void map_pack(void *c_, int64_t j0, const uint32_t *w, int64_t n) {
  const u32_sink *c = c_;
  for (int64_t t = 0; t < n; t++) c->out[j0 + t] = ((uint64_t)w[t] << 32) | (uint64_t)(j0 + t);
}

mx_status cpu_permutation(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  int64_t n = out->size;
  if (n == 0) return MX_OK;
  uint32_t k0, k1;
  read_key(in[0], &k0, &k1);
  size_t bytes = (size_t)n * sizeof(uint64_t);
  uint64_t *a = mx_alloc(bytes), *b = mx_alloc(bytes);
  if (!a || !b) {
    if (a) mx_free(a, bytes);
    if (b) mx_free(b, bytes);
    return mx_last_error_code();
  }
  u32_sink sink = {a};
  generate(k0, k1, n, map_pack, &sink);
  /* LSD radix sort on the 32 key bits, 8 at a time: stable, so equal
   * words keep index order as MLX's stable argsort does. */
  for (int shift = 32; shift < 64; shift += 8) {
    int64_t count[257] = {0};
    for (int64_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xff) + 1]++;
    for (int k = 0; k < 256; k++) count[k + 1] += count[k];
    for (int64_t i = 0; i < n; i++) b[count[(a[i] >> shift) & 0xff]++] = a[i];
    uint64_t *t = a;
    a = b;
    b = t;
  }
  uint32_t *o = array_ptr(out);
  for (int64_t i = 0; i < n; i++) o[i] = (uint32_t)a[i];
  mx_free(a, bytes);
  mx_free(b, bytes);
  return MX_OK;
}

typedef struct permute_job {
  const char *src;
  char *dst;
  const uint32_t *perm;
  int64_t n, inner_bytes;
} permute_job;

static void permute_range(void *p_, int64_t begin, int64_t end) {
  const permute_job *j = p_;
  for (int64_t r = begin; r < end; r++) {
    int64_t o = r / j->n, k = r % j->n;
    memcpy(j->dst + r * j->inner_bytes, j->src + (o * j->n + j->perm[k]) * j->inner_bytes,
           (size_t)j->inner_bytes);
  }
}

mx_status cpu_permute_axis(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const permute_axis_params *pp = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array a = in[0], perm = in[1];
  size_t es = mx_dtype_size(a->dtype), bytes = 0;
  void *tmp = NULL;
  const char *src = array_ptr(a);
  if (!a->row_contiguous) {
    bytes = (size_t)a->size * es;
    tmp = mx_alloc(bytes);
    if (!tmp) return mx_last_error_code();
    array_copy_to_row_major(a, tmp, a->dtype);
    src = tmp;
  }
  /* The permutation is a fresh row-major uint32 array (our own kernel). */
  int64_t n = a->shape[pp->axis], inner = 1;
  for (int d = pp->axis + 1; d < a->ndim; d++) inner *= a->shape[d];
  permute_job j = {src, array_ptr(out), array_ptr(perm), n, inner * (int64_t)es};
  int64_t rows = a->size / inner;
  parallel_for(rows, 32768 / (inner + 1) + 1, permute_range, &j);
  if (tmp) mx_free(tmp, bytes);
  return MX_OK;
}
