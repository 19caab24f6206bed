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
 * result once per op equals MLX's half arithmetic). cos/sin are evaluated
 * in double and rounded once, i.e. correctly rounded in practice. */
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

/* Rounds a f32 run to the half dtype t and back (in place). */
static void round_to(float *v, uint16_t *tmp, mx_dtype t, int64_t n) {
  convert_run(v, 1, MX_FLOAT32, tmp, t, n);
  convert_run(tmp, 1, t, v, MX_FLOAT32, n);
}

FAST_AI void rope_rows_body(void *vctx, int64_t begin, int64_t end) {
  rope_ctx *c = vctx;
  const int64_t D = c->D, half = c->half, dims = 2 * half;
  const bool trad = c->p->traditional;
  const bool is_half = c->xt == MX_FLOAT16 || c->xt == MX_BFLOAT16;
  /* cos, sin (half each), the row in f32 (D), products (4 * half), the
   * rotated row (D), half scratch (4 * half). */
  size_t nfl = (size_t)(2 * half + D + 4 * half + D), bytes = nfl * sizeof(float) + (size_t)(4 * half) * 2;
  float *buf = malloc(bytes);
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  float *cs = buf, *sn = cs + half, *xs = sn + half, *pr = xs + D, *ys = pr + 4 * half;
  uint16_t *h16 = (uint16_t *)(ys + D);
  int64_t cur_b = -1, cur_t = -1;
  const int64_t TN = c->T * c->N;
  for (int64_t r = begin; r < end; r++) {
    int64_t b = r / TN, rem = r % TN, t = rem / c->N, n = rem % c->N;
    if (b != cur_b || t != cur_t) {
      float pos = rope_position(c, b, t);
      for (int64_t i = 0; i < half; i++) {
        float th = pos * c->inv_freq[i];
        cs[i] = (float)cos((double)th);
        sn[i] = (float)sin((double)th);
      }
      if (is_half) {
        round_to(cs, h16, c->xt, half);
        round_to(sn, h16, c->xt, half);
      }
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
    convert_run(xrow, xst, c->xt, xs, MX_FLOAT32, D);
    float *y = c->xt == MX_FLOAT32 ? (float *)orow : ys;
    if (!is_half) {
      if (trad) {
        for (int64_t i = 0; i < half; i++) {
          float a = xs[2 * i], bb = xs[2 * i + 1];
          y[2 * i] = a * cs[i] - bb * sn[i];
          y[2 * i + 1] = a * sn[i] + bb * cs[i];
        }
      } else {
        for (int64_t i = 0; i < half; i++) {
          float a = xs[i], bb = xs[i + half];
          y[i] = a * cs[i] - bb * sn[i];
          y[i + half] = a * sn[i] + bb * cs[i];
        }
      }
    } else {
      float *p1 = pr, *p2 = pr + half, *p3 = pr + 2 * half, *p4 = pr + 3 * half;
      int64_t s1 = trad ? 2 : 1, o1 = 0, o2 = trad ? 1 : half;
      for (int64_t i = 0; i < half; i++) {
        float a = xs[s1 * i + o1], bb = xs[s1 * i + o2];
        p1[i] = a * cs[i];
        p2[i] = bb * sn[i];
        p3[i] = a * sn[i];
        p4[i] = bb * cs[i];
      }
      round_to(pr, h16, c->xt, 4 * half);
      for (int64_t i = 0; i < half; i++) {
        y[s1 * i + o1] = p1[i] - p2[i];
        y[s1 * i + o2] = p3[i] + p4[i];
      }
    }
    for (int64_t i = dims; i < D; i++) y[i] = xs[i];
    if (y == ys) convert_run(ys, 1, MX_FLOAT32, orow, c->xt, D);
  }
  free(buf);
}

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
  int64_t rows = out->size / c.D;
  int64_t grain = c.D >= 32768 ? 1 : 32768 / c.D;
  parallel_for(rows, grain, rope_rows_pick(), &c);
  mx_free(invf, (size_t)c.half * sizeof(float));
  if (atomic_load(&c.failed))
    return set_error(MX_ERR_OOM, "rope: no memory for row scratch (D = %lld)", (long long)c.D);
  return MX_OK;
}
