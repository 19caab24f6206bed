/* fast_rope.c — rotary position embedding, one pass per row.
 *
 * x is (B, ..., T, D): positions run along axis -2, the offset is a scalar
 * or one per batch entry (axis 0). Rows are walked in (b, t, head) order so
 * that the cos/sin table of a position is computed once and reused by all
 * the heads in between.
 *
 * Numerics as MLX's CPU path: position = (f32(t) + f32(offset)) * scale in
 * f32; inv_freq = exp(-i * (log(base) / (dims/2))) or 1 / freqs in f32;
 * theta = position * inv_freq in f32; cos/sin rounded to x's dtype; then
 * x1*c - x2*s and x1*s + x2*c with every product and sum rounded to x's
 * dtype (for halves: two halves multiply exactly in f32, so rounding the f32
 * result once per op equals MLX's half arithmetic). cos/sin are glibc's
 * sincosf of the f32 angle (as MLX's std::cos/std::sin on float; within
 * an ulp of the correctly rounded value, several times cheaper than the
 * double functions, which dominated prefill-length tables).
 * The rounding to halves happens in registers (fast.h: vround_half), with
 * the bits of the scalar conversions. */
#ifndef FAST_LANES /* the file itself; the #else part is one vector pass */
#include <math.h>
#include <stdlib.h>

#define FAST_KERNEL_HELPERS
#include "cpu.h"
#include "fast.h"

typedef struct rope_ctx {
  const fast_rope_params *p;
  const char *x;
  mx_dtype xt;
  size_t xsize;
  int nd;
  const int64_t *shape, *strides;
  int64_t B, N, T, D, half;
  const float *inv_freq; /* (half,) */
  /* cos/sin per position, precomputed (NULL: per row): ntab tables of T
   * rows of tabw floats: (cos[half], sin[half]) or, traditional,
   * (cos2[dims], sin2[dims]) as the row loop wants them. */
  float *tab;
  int64_t ntab, tabw;
  /* offsets: from the param, or an int32/uint32 array of 1 or B entries */
  const void *off;
  mx_dtype off_t;
  int64_t off_n, off_stride;
  char *out;
  atomic_int failed;
} rope_ctx;

static float rope_position(const rope_ctx *c, int64_t b, int64_t t) {
  float off;
  if (!c->off) {
    off = (float)c->p->offset;
  } else {
    int64_t i = c->off_n == 1 ? 0 : b * c->off_stride;
    off = c->off_t == MX_UINT32 ? (float)((const uint32_t *)c->off)[i]
                                : (float)((const int32_t *)c->off)[i];
  }
  float pos = (float)t + off;
  return pos * c->p->scale;
}

/* f32 -> half dtype t -> f32, one value (the cos/sin tables, tails). */
static float round1(float v, mx_dtype t) {
  return t == MX_FLOAT16 ? f16_to_f32(f32_to_f16(v)) : bf16_to_f32(f32_to_bf16(v));
}

/* cos/sin of position t for batch entry b into cs, sn = cs + half (half
 * each) and the traditional lane tables cs2, sn2 (dims each; may be NULL).
 * For half dtypes the values are rounded to it through convert_run (SIMD,
 * the same bits as round1). */
static void rope_angles(const rope_ctx *c, int64_t b, int64_t t, float *cs, float *sn, float *cs2,
                        float *sn2) {
  const bool is_half = c->xt == MX_FLOAT16 || c->xt == MX_BFLOAT16;
  float pos = rope_position(c, b, t);
  const int64_t half = c->half;
  for (int64_t i = 0; i < half; i++) {
    float th = pos * c->inv_freq[i];
    /* MLX evaluates cos/sin of the f32 angle in f32 (std::cos on float) */
    sincosf(th, &sn[i], &cs[i]);
  }
  if (is_half) {
    uint16_t tmp[256];
    for (int64_t k = 0; k < 2 * half; k += 256) {
      int64_t m = 2 * half - k < 256 ? 2 * half - k : 256;
      convert_run(cs + k, 1, MX_FLOAT32, tmp, c->xt, m);
      convert_run(tmp, 1, c->xt, cs + k, MX_FLOAT32, m);
    }
  }
  if (cs2) {
    for (int64_t i = 0; i < half; i++) {
      /* Even lane: a*c + b*(-s), exactly a*c - b*s; odd: b*c + a*s. */
      cs2[2 * i] = cs2[2 * i + 1] = cs[i];
      sn2[2 * i] = -sn[i];
      sn2[2 * i + 1] = sn[i];
    }
  }
}

static void rope_table_range(void *vctx, int64_t begin, int64_t end) {
  rope_ctx *c = vctx;
  const int64_t half = c->half, dims = 2 * half;
  const bool trad = c->p->traditional;
  float *tmp = trad ? malloc((size_t)(dims ? dims : 1) * sizeof(float)) : NULL;
  if (trad && !tmp) {
    atomic_store(&c->failed, 1);
    return;
  }
  for (int64_t e = begin; e < end; e++) {
    int64_t b = e / c->T, t = e % c->T;
    float *row = c->tab + e * c->tabw;
    if (trad) rope_angles(c, b, t, tmp, tmp + half, row, row + dims);
    else rope_angles(c, b, t, row, row + half, NULL, NULL);
  }
  free(tmp);
}

/* Per-pass name of the vector function (fast.h: FV). */
#define rope_vec FV(rope_vec_)

/* The row kernel, compiled once per lane count (fast.h). */
#define FAST_LANES 16
#include "fast_rope.c"
#undef FAST_LANES
#define FAST_LANES 8
#include "fast_rope.c"
#undef FAST_LANES
#define FAST_LANES 4
#include "fast_rope.c"
#undef FAST_LANES

FAST_ISA_VARIANTS(rope_rows)

mx_status cpu_fast_rope(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_rope_params *p = params;
  mx_array x = in[0];
  if (nin != 1 + p->offset_is_array + p->has_freqs)
    return set_error(MX_ERR_INTERNAL, "rope: %d inputs for the recorded flags", nin);
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  rope_ctx c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.x = array_ptr(x);
  c.xt = x->dtype;
  c.xsize = mx_dtype_size(c.xt);
  c.nd = x->ndim;
  c.shape = x->shape;
  c.strides = x->strides;
  c.B = x->shape[0];
  c.T = x->shape[x->ndim - 2];
  c.D = x->shape[x->ndim - 1];
  c.N = 1;
  for (int d = 1; d < x->ndim - 2; d++) c.N *= x->shape[d];
  c.half = p->dims / 2;
  c.out = array_ptr(out);
  int k = 1;
  if (p->offset_is_array) {
    mx_array o = in[k++];
    c.off = array_ptr(o);
    c.off_t = o->dtype;
    c.off_n = o->size;
    c.off_stride = o->ndim ? o->strides[0] : 0;
  }
  float *invf = mx_alloc((size_t)c.half * sizeof(float));
  if (!invf) return MX_ERR_OOM;
  if (p->has_freqs) {
    mx_array f = in[k++];
    convert_run(array_ptr(f), f->strides[0], MX_FLOAT32, invf, MX_FLOAT32, c.half);
    for (int64_t i = 0; i < c.half; i++) invf[i] = 1.0f / invf[i];
  } else {
    /* MLX: exp(arange(0, -half, -1) * (log(base) / half)) in f32; log and
     * exp are taken in double and rounded once (correctly rounded). */
    float coef = (float)log((double)p->base) / (float)c.half;
    for (int64_t i = 0; i < c.half; i++) {
      float e = -(float)i * coef;
      invf[i] = (float)exp((double)e);
    }
  }
  c.inv_freq = invf;
  /* Rows are walked in memory order (b, n, t), so reads and writes stream;
   * the angles of each position then come from a table built first (one
   * cos/sin per position and frequency, as before, but shared by the
   * heads), unless it would be large. */
  c.ntab = c.off && c.off_n > 1 ? c.B : 1;
  c.tabw = p->traditional ? 4 * c.half : 2 * c.half;
  size_t tab_bytes = (size_t)(c.ntab * c.T * c.tabw) * sizeof(float);
  if (c.T > 1 && c.tabw > 0 && c.xt != MX_FLOAT64 && tab_bytes <= ((size_t)32 << 20)) {
    c.tab = mx_alloc(tab_bytes);
    if (c.tab) {
      int64_t tgrain = 4096 / (c.half ? c.half : 1) + 1;
      parallel_for(c.ntab * c.T, tgrain, rope_table_range, &c);
    }
  }
  int64_t rows = out->size / c.D;
  int64_t grain = c.D >= 32768 ? 1 : 32768 / c.D;
  if (!atomic_load(&c.failed)) parallel_for(rows, grain, rope_rows_pick(), &c);
  if (c.tab) mx_free(c.tab, tab_bytes);
  mx_free(invf, (size_t)c.half * sizeof(float));
  if (atomic_load(&c.failed))
    return set_error(MX_ERR_OOM, "rope: no memory for row scratch (D = %lld)", (long long)c.D);
  return MX_OK;
}

#else /* FAST_LANES */
#include "fast.h"

/* Swaps the lanes of each (even, odd) pair. */
#undef ROPE_SWAP
#if FAST_LANES == 16
#define ROPE_SWAP(x) FAST_SHUF(x, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)
#elif FAST_LANES == 8
#define ROPE_SWAP(x) FAST_SHUF(x, 1, 0, 3, 2, 5, 4, 7, 6)
#else
#define ROPE_SWAP(x) FAST_SHUF(x, 1, 0, 3, 2)
#endif

/* r(a*c) - r(b*s) and r(a*s) + r(b*c), r rounding to the half dtype when
 * rh (f16 when f16) and the identity otherwise. */
FAST_AI void rope_vec(const vf *a, const vf *b, const vf *c, const vf *s, vf *y1, vf *y2,
                      bool rh, bool f16) {
  vf p1 = *a * *c, p2 = *b * *s, p3 = *a * *s, p4 = *b * *c;
  if (rh) {
    p1 = vround_half(&p1, f16);
    p2 = vround_half(&p2, f16);
    p3 = vround_half(&p3, f16);
    p4 = vround_half(&p4, f16);
  }
  *y1 = p1 - p2;
  *y2 = p3 + p4;
}

FAST_AI void FV(rope_rows_body)(void *vctx, int64_t begin, int64_t end) {
  rope_ctx *c = vctx;
  const int64_t D = c->D, half = c->half, dims = 2 * half;
  const bool trad = c->p->traditional;
  const bool is_half = c->xt == MX_FLOAT16 || c->xt == MX_BFLOAT16, f16 = c->xt == MX_FLOAT16;
  /* cos, sin (half each); for the traditional layout cos, +-sin per lane
   * (dims each); the row in f32 (D); the rotated row (D). */
  size_t nfl = (size_t)(2 * half + 2 * dims + 2 * D);
  float *buf = malloc(nfl * sizeof(float));
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  float *cs = buf, *sn = cs + half, *cs2 = sn + half, *sn2 = cs2 + dims, *xbuf = sn2 + dims,
        *ys = xbuf + D;
  float *const cs0 = cs, *const sn0 = sn, *const cs20 = cs2, *const sn20 = sn2;
  int64_t cur_b = -1, cur_t = -1;
  const int64_t TN = c->T * c->N;
  for (int64_t r = begin; r < end; r++) {
    int64_t b = r / TN, rem = r % TN, n = rem / c->T, t = rem % c->T;
    if (c->tab) {
      const float *e = c->tab + ((c->ntab > 1 ? b : 0) * c->T + t) * c->tabw;
      if (trad) {
        cs2 = (float *)e;
        sn2 = (float *)e + dims;
      } else {
        cs = (float *)e;
        sn = (float *)e + half;
      }
    } else if (b != cur_b || t != cur_t) {
      cs = cs0;
      sn = sn0;
      cs2 = cs20;
      sn2 = sn20;
      rope_angles(c, b, t, cs, sn, cs2, sn2);
      cur_b = b;
      cur_t = t;
    }
    /* input row: b, the flattened middle dims (n), t */
    int64_t off = b * c->strides[0] + t * c->strides[c->nd - 2];
    for (int64_t d = c->nd - 3, nrem = n; d >= 1; d--) {
      off += (nrem % c->shape[d]) * c->strides[d];
      nrem /= c->shape[d];
    }
    const char *xrow = c->x + (size_t)off * c->xsize;
    char *orow = c->out + (size_t)(((b * c->N + n) * c->T + t) * D) * c->xsize;
    int64_t xst = c->strides[c->nd - 1];
    if (c->xt == MX_FLOAT64) {
      const double *xd = (const double *)xrow;
      double *o = (double *)orow;
      for (int64_t i = 0; i < half; i++) {
        int64_t i1 = trad ? 2 * i : i, i2 = trad ? 2 * i + 1 : i + half;
        double a = xd[i1 * xst], bb = xd[i2 * xst], cc = cs[i], ss = sn[i];
        o[i1] = a * cc - bb * ss;
        o[i2] = a * ss + bb * cc;
      }
      for (int64_t i = dims; i < D; i++) o[i] = xd[i * xst];
      continue;
    }
#if FAST_LANES == 8
    /* f16 rows, half-split, whole row rotated: convert in registers (F16C)
     * instead of two convert_run passes per row through f32 buffers. The
     * arithmetic is rope_vec's, so the bits are the generic path's. */
    if (f16 && xst == 1 && !trad && dims == D && half % 8 == 0) {
      const uint16_t *xh = (const uint16_t *)xrow;
      uint16_t *oh = (uint16_t *)orow;
      for (int64_t i = 0; i < half; i += 8) {
        vf a = (vf)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(xh + i)));
        vf bb = (vf)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(xh + half + i)));
        vf cc = vload(cs + i), ss = vload(sn + i);
        vf y1, y2;
        rope_vec(&a, &bb, &cc, &ss, &y1, &y2, true, true);
        _mm_storeu_si128((__m128i *)(oh + i), _mm256_cvtps_ph((__m256)y1, _MM_FROUND_TO_NEAREST_INT));
        _mm_storeu_si128((__m128i *)(oh + half + i),
                         _mm256_cvtps_ph((__m256)y2, _MM_FROUND_TO_NEAREST_INT));
      }
      continue;
    }
#endif
    const float *xs = xbuf;
    if (c->xt == MX_FLOAT32 && xst == 1) xs = (const float *)xrow;
    else convert_run(xrow, xst, c->xt, xbuf, MX_FLOAT32, D);
    float *y = c->xt == MX_FLOAT32 ? (float *)orow : ys;
    int64_t i = 0;
    if (!trad) {
      for (; i + VW <= half; i += VW) {
        vf a = vload(xs + i), bb = vload(xs + half + i), cc = vload(cs + i), ss = vload(sn + i);
        vf y1, y2;
        rope_vec(&a, &bb, &cc, &ss, &y1, &y2, is_half, f16);
        vstore(y + i, &y1);
        vstore(y + half + i, &y2);
      }
      for (; i < half; i++) {
        float a = xs[i], bb = xs[i + half];
        float p1 = a * cs[i], p2 = bb * sn[i], p3 = a * sn[i], p4 = bb * cs[i];
        if (is_half) {
          p1 = round1(p1, c->xt);
          p2 = round1(p2, c->xt);
          p3 = round1(p3, c->xt);
          p4 = round1(p4, c->xt);
        }
        y[i] = p1 - p2;
        y[i + half] = p3 + p4;
      }
    } else {
      /* VW is even, so no pair straddles two vectors. */
      for (; i + VW <= dims; i += VW) {
        vf x = vload(xs + i), xw = ROPE_SWAP(x);
        vf cc = vload(cs2 + i), ss = vload(sn2 + i);
        vf p = x * cc, q = xw * ss;
        if (is_half) {
          p = vround_half(&p, f16);
          q = vround_half(&q, f16);
        }
        vf yy = p + q;
        vstore(y + i, &yy);
      }
      for (; i < dims; i += 2) {
        float a = xs[i], bb = xs[i + 1], cc = cs2[i], ss = sn2[i + 1];
        float p1 = a * cc, p2 = bb * ss, p3 = a * ss, p4 = bb * cc;
        if (is_half) {
          p1 = round1(p1, c->xt);
          p2 = round1(p2, c->xt);
          p3 = round1(p3, c->xt);
          p4 = round1(p4, c->xt);
        }
        y[i] = p1 - p2;
        y[i + 1] = p3 + p4;
      }
    }
    for (i = dims; i < D; i++) y[i] = xs[i];
    if (y == ys) convert_run(ys, 1, MX_FLOAT32, orow, c->xt, D);
  }
  free(buf);
}

#endif /* FAST_LANES */
