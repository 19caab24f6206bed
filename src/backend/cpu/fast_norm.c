/* fast_norm.c — rms_norm and layer_norm over the last axis, one pass over
 * memory per row (the row is converted to f32 once and stays in L1 while it
 * is reduced and written), rows split across the pool.
 *
 * Numerics follow what MLX runs on a CPU stream: x goes to f32; rms:
 * x * rsqrt(sum(x^2) * (1/D) + eps); layer: mu = sum(x) * (1/D), then the
 * centred two-pass variance; the normalized row is rounded to the output
 * dtype FIRST, then multiplied by the weight and added to the bias in the
 * output dtype (each op rounding), exactly the order of MLX's fallback. */
#ifndef FAST_LANES /* the file itself; the #else part is one vector pass */
#include <math.h>
#include <stdlib.h>

#define FAST_KERNEL_HELPERS
#include "cpu.h"
#include "fast.h"

int fast_isa(void) {
  const cpu_features *f = cpu_get_features();
  int isa = (f->avx512f && f->avx512vl && f->avx512bw && f->fma && f->f16c) ? 2
            : (f->avx2 && f->fma && f->f16c)                               ? 1
                                                                            : 0;
  const long cap = env_long("MLXC_FAST_ISA", 2, 0, 2);
  return cap < isa ? (int)cap : isa;
}

typedef struct norm_ctx {
  const fast_norm_params *p;
  const char *x; /* element pointer at x's offset */
  mx_dtype xt, ot;
  size_t xsize, osize;
  int64_t D;
  int outer_nd; /* dims before the last */
  const int64_t *shape, *strides;
  int64_t xstride; /* of the last axis */
  char *out;
  const float *wf, *bf;  /* weight/bias as f32 (f16/bf16/f32 outputs) */
  const double *wd, *bd; /* as f64 (f64 output) */
  atomic_int failed;     /* a worker could not get row scratch */
} norm_ctx;

static int64_t row_offset(const norm_ctx *c, int64_t r) {
  int64_t off = 0;
  for (int d = c->outer_nd - 1; d >= 0; d--) {
    int64_t n = c->shape[d];
    off += (r % n) * c->strides[d];
    r /= n;
  }
  return off;
}

/* Per-pass names of the vector functions (fast.h: FV). */
#define sum_run FV(sum_run_)
#define sumsq_run FV(sumsq_run_)
#define shift_scale_run FV(shift_scale_run_)
#define mul_run FV(mul_run_)
#define add_run FV(add_run_)

/* The row kernel, compiled once per lane count (fast.h). */
#define FAST_LANES 16
#include "fast_norm.c"
#undef FAST_LANES
#define FAST_LANES 8
#include "fast_norm.c"
#undef FAST_LANES
#define FAST_LANES 4
#include "fast_norm.c"
#undef FAST_LANES

FAST_ISA_VARIANTS(norm_rows)

mx_status cpu_fast_norm(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_norm_params *p = params;
  mx_array x = in[0];
  if (nin != 1 + p->has_weight + p->has_bias)
    return set_error(MX_ERR_INTERNAL, "fast_norm: %d inputs for the recorded flags", nin);
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  norm_ctx c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.x = array_ptr(x);
  c.xt = x->dtype;
  c.ot = out->dtype;
  c.xsize = mx_dtype_size(c.xt);
  c.osize = mx_dtype_size(c.ot);
  c.D = x->shape[x->ndim - 1];
  c.outer_nd = x->ndim - 1;
  c.shape = x->shape;
  c.strides = x->strides;
  c.xstride = x->strides[x->ndim - 1];
  c.out = array_ptr(out);
  /* weight and bias, converted once to the type the row loop reads. */
  bool f64 = c.ot == MX_FLOAT64;
  size_t esz = f64 ? sizeof(double) : sizeof(float);
  size_t vec_bytes = (size_t)c.D * esz;
  void *wb = mx_alloc(2 * vec_bytes);
  if (!wb) return MX_ERR_OOM;
  mx_dtype vt = f64 ? MX_FLOAT64 : MX_FLOAT32;
  char *wptr = wb, *bptr = (char *)wb + vec_bytes;
  int k = 1;
  if (p->has_weight) {
    mx_array w = in[k++];
    convert_run(array_ptr(w), w->strides[0], w->dtype, wptr, vt, c.D);
  }
  if (p->has_bias) {
    mx_array b = in[k++];
    convert_run(array_ptr(b), b->strides[0], b->dtype, bptr, vt, c.D);
  }
  if (f64) {
    c.wd = (const double *)wptr;
    c.bd = (const double *)bptr;
  } else {
    c.wf = (const float *)wptr;
    c.bf = (const float *)bptr;
  }
  int64_t rows = out->size / c.D;
  int64_t grain = c.D >= 32768 ? 1 : 32768 / c.D;
  parallel_for(rows, grain, norm_rows_pick(), &c);
  mx_free(wb, 2 * vec_bytes);
  if (atomic_load(&c.failed))
    return set_error(MX_ERR_OOM, "%s: no memory for a row of %lld", p->layer ? "layer_norm" : "rms_norm",
                     (long long)c.D);
  return MX_OK;
}

#else /* FAST_LANES */
#include "fast.h"

FAST_AI float sum_run(const float *x, int64_t n) {
  vf acc0 = vset(0), acc1 = vset(0);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    acc0 += vload(x + i);
    acc1 += vload(x + i + VW);
  }
  for (; i + VW <= n; i += VW) acc0 += vload(x + i);
  acc0 += acc1;
  float s = vhsum(&acc0);
  for (; i < n; i++) s += x[i];
  return s;
}

FAST_AI float sumsq_run(const float *x, int64_t n) {
  vf acc0 = vset(0), acc1 = vset(0);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    vf a = vload(x + i), b = vload(x + i + VW);
    acc0 += a * a;
    acc1 += b * b;
  }
  for (; i + VW <= n; i += VW) {
    vf a = vload(x + i);
    acc0 += a * a;
  }
  acc0 += acc1;
  float s = vhsum(&acc0);
  for (; i < n; i++) s += x[i] * x[i];
  return s;
}

/* x = (x - shift) * r, both ops rounding as MLX's separate subtract and
 * multiply (this file is compiled without FMA contraction). */
FAST_AI void shift_scale_run(float *x, float shift, float r, int64_t n) {
  int64_t i = 0;
  for (; i + VW <= n; i += VW) {
    vf a = (vload(x + i) - shift) * r;
    vstore(x + i, &a);
  }
  for (; i < n; i++) x[i] = (x[i] - shift) * r;
}

FAST_AI void mul_run(float *y, const float *a, const float *w, int64_t n) {
  int64_t i = 0;
  for (; i + VW <= n; i += VW) {
    vf v = vload(a + i) * vload(w + i);
    vstore(y + i, &v);
  }
  for (; i < n; i++) y[i] = a[i] * w[i];
}

FAST_AI void add_run(float *y, const float *a, const float *b, int64_t n) {
  int64_t i = 0;
  for (; i + VW <= n; i += VW) {
    vf v = vload(a + i) + vload(b + i);
    vstore(y + i, &v);
  }
  for (; i < n; i++) y[i] = a[i] + b[i];
}

FAST_AI void FV(norm_rows_body)(void *vctx, int64_t begin, int64_t end) {
  norm_ctx *c = vctx;
  const int64_t D = c->D;
  const fast_norm_params *p = c->p;
  float stack_buf[1024];
  float *xs = D <= 1024 ? stack_buf : malloc((size_t)D * sizeof(float));
  if (!xs) {
    atomic_store(&c->failed, 1);
    return;
  }
  const float inv_d = (float)(1.0 / (double)D);
  for (int64_t r = begin; r < end; r++) {
    const char *xrow = c->x + (size_t)row_offset(c, r) * c->xsize;
    char *orow = c->out + (size_t)(r * D) * c->osize;
    convert_run(xrow, c->xstride, c->xt, xs, MX_FLOAT32, D);
    float shift = 0.0f, ms;
    if (p->layer) {
      shift = sum_run(xs, D) * inv_d;
      shift_scale_run(xs, shift, 1.0f, D);
      shift = 0.0f;
      ms = sumsq_run(xs, D) * inv_d;
    } else {
      ms = sumsq_run(xs, D) * inv_d;
    }
    float rs = 1.0f / sqrtf(ms + p->eps);
    shift_scale_run(xs, shift, rs, D);
    if (c->ot == MX_FLOAT32) {
      float *o = (float *)orow;
      if (p->has_weight) mul_run(o, xs, c->wf, D);
      else memcpy(o, xs, (size_t)D * sizeof(float));
      if (p->has_bias) add_run(o, o, c->bf, D);
    } else if (c->ot == MX_FLOAT64) {
      double *o = (double *)orow;
      for (int64_t i = 0; i < D; i++) {
        double v = (double)xs[i];
        if (p->has_weight) v *= c->wd[i];
        if (p->has_bias) v += c->bd[i];
        o[i] = v;
      }
    } else {
      /* Half output: round, then each affine op rounds again. The products
       * of two halves are exact in f32, so computing them there and
       * rounding once equals MLX's half arithmetic. */
      convert_run(xs, 1, MX_FLOAT32, orow, c->ot, D);
      if (p->has_weight) {
        convert_run(orow, 1, c->ot, xs, MX_FLOAT32, D);
        mul_run(xs, xs, c->wf, D);
        convert_run(xs, 1, MX_FLOAT32, orow, c->ot, D);
      }
      if (p->has_bias) {
        convert_run(orow, 1, c->ot, xs, MX_FLOAT32, D);
        add_run(xs, xs, c->bf, D);
        convert_run(xs, 1, MX_FLOAT32, orow, c->ot, D);
      }
    }
  }
  if (xs != stack_buf) free(xs);
}

#endif /* FAST_LANES */
