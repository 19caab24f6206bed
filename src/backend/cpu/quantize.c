/* quantize.c — MLX's quantize / dequantize on the CPU, bit-exact.
 *
 * Affine follows MLX's CPU Quantize kernel (f32 statistics, the edge value
 * of larger magnitude mapped exactly onto a code, rint rounding). The fp
 * modes follow MLX's CPU path, which is a graph of ops in the weight's
 * dtype: every intermediate is rounded to that dtype (round_to_dtype) where
 * MLX's ops would round it, and FP4 codes are chosen by argmin of |w - lut|
 * (ties to the lower table index), not by round-to-nearest-even. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantized.h"

const float quant_fp4_lut[16] = {+0.0f, +0.5f, +1.0f, +1.5f, +2.0f, +3.0f, +4.0f, +6.0f,
                                 -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

float round_to_dtype(float v, mx_dtype t) {
  if (t == MX_FLOAT16) return f16_to_f32(f32_to_f16(v));
  if (t == MX_BFLOAT16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

float fp8_e4m3_decode(uint8_t b) {
  int e = (b >> 3) & 15, m = b & 7;
  float v = e == 0 ? ldexpf((float)m / 8.0f, -6) : ldexpf(1.0f + (float)m / 8.0f, e - 7);
  return (b & 0x80) ? -v : v;
}

uint8_t fp8_e4m3_encode(float f) {
  uint32_t bits = f32_bits(f);
  uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  uint8_t r;
  if (bits >= (543u << 21)) {
    r = 0x7e; /* |f| >= 480, inf and NaN saturate to 448 */
  } else if (bits < (121u << 23)) {
    /* Below 2^-6: adding 2^14 puts the E4M3 subnormal code in the low bits
     * with the FPU's round-to-nearest-even. */
    uint32_t lo = f32_bits(f32_from_bits(bits) + f32_from_bits(141u << 23));
    r = (uint8_t)(lo - (141u << 23));
  } else {
    uint32_t odd = (bits >> 20) & 1u;
    uint32_t hb = bits + ((uint32_t)(7 - 127) << 23) + 0x7ffffu + odd;
    r = (uint8_t)(hb >> 20);
  }
  return (uint8_t)(r | (sign >> 24));
}

/* ------------------------------------------------------------ helpers */

/* Value i of an LSB-first bit stream starting at p (byte aligned). */
static inline uint32_t stream_get(const uint8_t *p, int64_t i, int bits) {
  int64_t bit = i * bits;
  const uint8_t *q = p + (bit >> 3);
  int sh = (int)(bit & 7);
  uint32_t v = q[0];
  if (sh + bits > 8) v |= (uint32_t)q[1] << 8;
  return (v >> sh) & ((1u << bits) - 1u);
}

static float load_scale(const void *s, mx_dtype t, int64_t i) {
  switch (t) {
  case MX_FLOAT16: return f16_to_f32(((const uint16_t *)s)[i]);
  case MX_BFLOAT16: return bf16_to_f32(((const uint16_t *)s)[i]);
  default: return ((const float *)s)[i];
  }
}

static void store_val(void *d, mx_dtype t, int64_t i, float v) {
  switch (t) {
  case MX_FLOAT16: ((uint16_t *)d)[i] = f32_to_f16(v); break;
  case MX_BFLOAT16: ((uint16_t *)d)[i] = f32_to_bf16(v); break;
  default: ((float *)d)[i] = v;
  }
}

/* Dense row-major f32 copy of an array that is not already f32 dense. */
static float *dense_f32(mx_array a, bool *owned) {
  if (a->dtype == MX_FLOAT32 && a->row_contiguous) {
    *owned = false;
    return (float *)array_ptr(a);
  }
  float *p = mx_alloc((size_t)(a->size ? a->size : 1) * sizeof(float));
  if (!p) return NULL;
  array_copy_to_row_major(a, p, MX_FLOAT32);
  *owned = true;
  return p;
}

/* Dense row-major bytes of any array (a copy only if strided). */
static void *dense_raw(mx_array a, bool *owned) {
  if (a->row_contiguous) {
    *owned = false;
    return array_ptr(a);
  }
  size_t n = (size_t)(a->size ? a->size : 1) * mx_dtype_size(a->dtype);
  void *p = mx_alloc(n);
  if (!p) return NULL;
  array_copy_to_row_major(a, p, a->dtype);
  *owned = true;
  return p;
}

static void free_if(void *p, bool owned, mx_array a, mx_dtype t) {
  if (owned) mx_free(p, (size_t)(a->size ? a->size : 1) * mx_dtype_size(t));
}

/* ------------------------------------------------------------ quantize */

typedef struct qz_ctx {
  const float *w; /* values of dtype wt, widened to f32 */
  mx_dtype wt;
  const quant_params *p;
  float gscale; /* nvfp4 global scale, or NAN when absent */
  void *out;
} qz_ctx;

/* Affine statistics of one group: MLX's rule. */
static void affine_group(const float *w, int gs, int bits, float *scale, float *bias) {
  float n_bins = (float)((1 << bits) - 1);
  float wmin = INFINITY, wmax = -INFINITY;
  for (int j = 0; j < gs; j++) {
    wmax = w[j] > wmax ? w[j] : wmax; /* NaN never wins, as std::max */
    wmin = w[j] < wmin ? w[j] : wmin;
  }
  bool mask = fabsf(wmin) > fabsf(wmax);
  float s = (wmax - wmin) / n_bins;
  if (!(s >= 1e-7f)) s = 1e-7f;
  s = mask ? s : -s;
  float edge = mask ? wmin : wmax;
  float q0 = rintf(edge / s);
  float b = 0;
  if (q0 != 0) {
    s = edge / q0;
    b = edge;
  }
  *scale = s;
  *bias = b;
}

static void affine_pack_group(const float *w, int gs, int bits, float s, float b, uint8_t *dst) {
  float n_bins = (float)((1 << bits) - 1);
  memset(dst, 0, (size_t)gs * (size_t)bits / 8);
  for (int j = 0; j < gs; j++) {
    float q = rintf((w[j] - b) / s);
    q = q < 0 ? 0 : q;
    q = q > n_bins ? n_bins : q;
    uint32_t v = q == q ? (uint32_t)q : 0u; /* NaN: MLX is undefined here */
    int64_t bit = (int64_t)j * bits;
    dst[bit >> 3] |= (uint8_t)(v << (bit & 7));
    if ((bit & 7) + bits > 8) dst[(bit >> 3) + 1] |= (uint8_t)(v >> (8 - (bit & 7)));
  }
}

/* argmin_i |w - lut_i| with the distance rounded to dtype t; ties -> lower i;
 * a NaN first distance wins, as MLX's argmin (strict < from element 0). */
static uint32_t fp4_code(float w, mx_dtype t) {
  uint32_t best = 0;
  float bd = fabsf(round_to_dtype(w - quant_fp4_lut[0], t));
  for (uint32_t i = 1; i < 16; i++) {
    float d = fabsf(round_to_dtype(w - quant_fp4_lut[i], t));
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return best;
}

/* fp modes, one group: writes the scale byte and the element codes. */
static uint8_t fp_group(const float *w, int gs, int bits, mx_dtype t, float gscale, uint8_t *codes) {
  float maxval = bits == 4 ? 6.0f : 448.0f;
  float amax = 0;
  for (int j = 0; j < gs; j++) amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
  float s = round_to_dtype(amax / maxval, t);
  float wq[32];
  mx_dtype dist_t = t; /* dtype the argmin distances are computed in */
  uint8_t sbyte;
  if (gs == 16) {
    float enc = gscale == gscale ? (448.0f * 6.0f) / gscale : 1.0f;
    sbyte = fp8_e4m3_encode(s * enc);
    float dq = round_to_dtype(fp8_e4m3_decode(sbyte), t);
    for (int j = 0; j < gs; j++) wq[j] = round_to_dtype(w[j] / dq, t) * enc;
    dist_t = MX_FLOAT32; /* the f32 encode factor promoted wq to f32 */
  } else {
    float e = 0;
    if (s != 0) e = rintf(round_to_dtype(log2f(s), t));
    float p2 = round_to_dtype(exp2f(e), t);
    for (int j = 0; j < gs; j++) wq[j] = round_to_dtype(w[j] / p2, t);
    float eb = round_to_dtype(e + 127.0f, t);
    sbyte = (uint8_t)(int32_t)eb;
  }
  for (int j = 0; j < gs; j++)
    codes[j] = bits == 4 ? (uint8_t)fp4_code(wq[j], dist_t) : fp8_e4m3_encode(wq[j]);
  return sbyte;
}

static void qz_range(void *vctx, int64_t g0, int64_t g1) {
  const qz_ctx *c = vctx;
  const quant_params *p = c->p;
  int gs = p->group_size, bits = p->bits;
  int64_t gbytes = (int64_t)gs * bits / 8;
  for (int64_t g = g0; g < g1; g++) {
    const float *w = c->w + g * gs;
    if (p->mode == MX_QUANT_AFFINE) {
      float s, b;
      affine_group(w, gs, bits, &s, &b);
      if (p->which == 0) affine_pack_group(w, gs, bits, s, b, (uint8_t *)c->out + g * gbytes);
      else store_val(c->out, c->wt, g, p->which == 1 ? s : b);
    } else {
      uint8_t codes[32];
      uint8_t sb = fp_group(w, gs, bits, c->wt, c->gscale, codes);
      if (p->which == 1) {
        ((uint8_t *)c->out)[g] = sb;
      } else {
        uint8_t *dst = (uint8_t *)c->out + g * gbytes;
        if (bits == 8) {
          memcpy(dst, codes, (size_t)gs);
        } else {
          for (int j = 0; j < gs; j += 2) dst[j / 2] = (uint8_t)(codes[j] | (codes[j + 1] << 4));
        }
      }
    }
  }
}

mx_status cpu_quantize(mx_array out, mx_array const *in, int nin, const void *params) {
  const quant_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (in[0]->size == 0) return MX_OK;
  bool owned = false;
  float *w = dense_f32(in[0], &owned);
  if (!w) return MX_ERR_OOM;
  qz_ctx c = {w, in[0]->dtype, p, NAN, array_ptr(out)};
  if (p->has_gscale && nin > 1) {
    float g;
    array_copy_to_row_major(in[1], &g, MX_FLOAT32);
    c.gscale = g;
  }
  int64_t ngroups = in[0]->size / p->group_size;
  parallel_for(ngroups, 1024, qz_range, &c);
  if (owned) mx_free(w, (size_t)in[0]->size * sizeof(float));
  return MX_OK;
}

/* ------------------------------------------------------------ dequantize */

void qmat_dequant_row(const qmat *m, int64_t r, float *dst) {
  const uint8_t *w = m->w + r * m->row_bytes;
  int gs = m->group_size, bits = m->bits;
  int64_t ng = m->cols / gs;
  int64_t g0 = r * ng;
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t *wg = w + g * ((int64_t)gs * bits / 8);
    float *d = dst + g * gs;
    if (m->mode == MX_QUANT_AFFINE) {
      float s = load_scale(m->scales, m->sdtype, g0 + g);
      float b = load_scale(m->biases, m->sdtype, g0 + g);
      if (bits == 4) {
        for (int j = 0; j < gs; j += 2) {
          d[j] = s * (float)(wg[j / 2] & 15) + b;
          d[j + 1] = s * (float)(wg[j / 2] >> 4) + b;
        }
      } else if (bits == 8) {
        for (int j = 0; j < gs; j++) d[j] = s * (float)wg[j] + b;
      } else {
        for (int j = 0; j < gs; j++) d[j] = s * (float)stream_get(wg, j, bits) + b;
      }
    } else {
      uint8_t sb = ((const uint8_t *)m->scales)[g0 + g];
      float s = gs == 16 ? fp8_e4m3_decode(sb) : ldexpf(1.0f, (int)sb - 127);
      if (bits == 4) {
        for (int j = 0; j < gs; j += 2) {
          d[j] = s * quant_fp4_lut[wg[j / 2] & 15];
          d[j + 1] = s * quant_fp4_lut[wg[j / 2] >> 4];
        }
      } else {
        for (int j = 0; j < gs; j++) d[j] = s * fp8_e4m3_decode(wg[j]);
      }
    }
  }
}

typedef struct dq_ctx {
  const uint8_t *w;
  const void *scales, *biases;
  mx_dtype st, ot; /* scales' dtype (affine), output dtype */
  const quant_params *p;
  float gscale;
  void *out;
} dq_ctx;

/* Exact emulation of MLX's dequantize graph: affine computes q * s + b in
 * the scales' dtype (two roundings); fp modes multiply the element by the
 * scale in the output dtype. */
static void dq_range(void *vctx, int64_t g0, int64_t g1) {
  const dq_ctx *c = vctx;
  const quant_params *p = c->p;
  int gs = p->group_size, bits = p->bits;
  int64_t gbytes = (int64_t)gs * bits / 8;
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t *wg = c->w + g * gbytes;
    int64_t o = g * gs;
    if (p->mode == MX_QUANT_AFFINE) {
      float s = load_scale(c->scales, c->st, g), b = load_scale(c->biases, c->st, g);
      for (int j = 0; j < gs; j++) {
        float q = (float)stream_get(wg, j, bits);
        float v = round_to_dtype(round_to_dtype(q * s, c->st) + b, c->st);
        store_val(c->out, c->ot, o + j, v);
      }
    } else {
      uint8_t sb = ((const uint8_t *)c->scales)[g];
      float s;
      mx_dtype prod_t = c->ot;
      if (gs == 16) {
        s = round_to_dtype(fp8_e4m3_decode(sb), c->ot);
        if (c->gscale == c->gscale) {
          s = s * (c->gscale / (448.0f * 6.0f));
          prod_t = MX_FLOAT32; /* MLX promotes to f32 here; one rounding at the end */
        }
      } else {
        s = round_to_dtype(exp2f(round_to_dtype((float)sb, c->ot) - 127.0f), c->ot);
      }
      for (int j = 0; j < gs; j++) {
        float e;
        if (bits == 4) e = quant_fp4_lut[(wg[j / 2] >> ((j & 1) * 4)) & 15];
        else e = round_to_dtype(fp8_e4m3_decode(wg[j]), c->ot);
        store_val(c->out, c->ot, o + j, round_to_dtype(e * s, prod_t));
      }
    }
  }
}

mx_status cpu_dequantize(mx_array out, mx_array const *in, int nin, const void *params) {
  const quant_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  bool affine = p->mode == MX_QUANT_AFFINE;
  bool ow = false, os = false, ob = false;
  void *w = dense_raw(in[0], &ow);
  void *s = dense_raw(in[1], &os);
  void *b = affine ? dense_raw(in[2], &ob) : NULL;
  if (!w || !s || (affine && !b)) {
    if (w) free_if(w, ow, in[0], in[0]->dtype);
    if (s) free_if(s, os, in[1], in[1]->dtype);
    return MX_ERR_OOM;
  }
  dq_ctx c = {w, s, b, in[1]->dtype, out->dtype, p, NAN, array_ptr(out)};
  if (p->has_gscale) {
    float g;
    array_copy_to_row_major(in[nin - 1], &g, MX_FLOAT32);
    c.gscale = g;
  }
  parallel_for(out->size / p->group_size, 512, dq_range, &c);
  free_if(w, ow, in[0], in[0]->dtype);
  free_if(s, os, in[1], in[1]->dtype);
  if (affine) free_if(b, ob, in[2], in[2]->dtype);
  return MX_OK;
}
