/* shape.c — CPU kernels of the shape family (see shape.h). Every kernel
 * reads its inputs through their strides (views, broadcasts, negative
 * strides) and writes a fresh row-major output, or makes a view. */
#include "shape.h"

#include <string.h>

/* Work below this many bytes stays on the calling thread (~32K f32). */
#define SHAPE_GRAIN_BYTES ((int64_t)1 << 17)

/* ------------------------------------------------------------ run helpers */

/* Constant-size memcpy lets the compiler emit plain moves without breaking
 * strict aliasing (the bytes may be floats, ints or halves). */
#define STRIDED_LOOP(ES)                                                          \
  for (int64_t i = 0; i < n; i++)                                               \
    memcpy(dst + (size_t)i * ES, src + (ptrdiff_t)(i * ss) * ES, ES)

/* n elements of es bytes from src (element stride ss) to dense dst. */
static void copy_run(char *dst, const char *src, int64_t ss, size_t es, int64_t n) {
  if (n <= 0) return;
  if (ss == 1) {
    memcpy(dst, src, (size_t)n * es);
    return;
  }
  switch (es) {
  case 1: STRIDED_LOOP(1); break;
  case 2: STRIDED_LOOP(2); break;
  case 4: STRIDED_LOOP(4); break;
  case 8: STRIDED_LOOP(8); break;
  default:
    for (int64_t i = 0; i < n; i++)
      memcpy(dst + (size_t)i * es, src + (ptrdiff_t)(i * ss) * (ptrdiff_t)es, es);
  }
}

/* n copies of the es-byte element at val into dst, doubling the filled
 * prefix so long fills cost a few large memcpys. */
static void fill_run(char *dst, const void *val, size_t es, int64_t n) {
  if (n <= 0) return;
  size_t total = (size_t)n * es;
  memcpy(dst, val, es);
  size_t done = es;
  while (done < total) {
    size_t chunk = done < total - done ? done : total - done;
    memcpy(dst + done, dst, chunk);
    done += chunk;
  }
}

/* Coordinates of flat row index r over shape[0..nd), row-major. */
static void unravel(int64_t r, const int64_t *shape, int nd, int64_t *c) {
  for (int d = nd - 1; d >= 0; d--) {
    c[d] = r % shape[d];
    r /= shape[d];
  }
}

static void odometer_next(int64_t *c, const int64_t *shape, int nd) {
  for (int d = nd - 1; d >= 0; d--) {
    if (++c[d] < shape[d]) return;
    c[d] = 0;
  }
}

static int64_t grain_for(int64_t bytes_per_item) {
  if (bytes_per_item <= 0) bytes_per_item = 1;
  int64_t g = SHAPE_GRAIN_BYTES / bytes_per_item;
  return g < 1 ? 1 : g;
}

/* ------------------------------------------------------------ views */

mx_status cpu_slice_axis(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const shape_slice_params *p = params;
  mx_array x = in[0];
  /* An empty part keeps the input's offset so no pointer runs past the end. */
  int64_t off = x->offset;
  if (out->size > 0) off += p->start * x->strides[p->axis];
  array_set_view(out, x, x->strides, off);
  return MX_OK;
}

mx_status cpu_diagonal_view(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const shape_diag_params *p = params;
  mx_array x = in[0];
  int64_t strides[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < x->ndim; d++)
    if (d != p->ax1 && d != p->ax2) strides[k++] = x->strides[d];
  int64_t s1 = x->strides[p->ax1], s2 = x->strides[p->ax2];
  strides[k] = s1 + s2;
  int64_t off = x->offset;
  if (out->size > 0) off += p->off1 * s1 + p->off2 * s2;
  array_set_view(out, x, strides, off);
  return MX_OK;
}

/* ------------------------------------------------------------ concatenate */

/* nblocks blocks of blk bytes, at pitches spitch / dpitch; long blocks are
 * cut into chunks so a single huge block still spreads over the pool. */
typedef struct blocks_ctx {
  char *dst;
  const char *src;
  int64_t dpitch, spitch, blk, chunk, nchunks;
} blocks_ctx;

static void blocks_range(void *vc, int64_t begin, int64_t end) {
  const blocks_ctx *c = vc;
  for (int64_t t = begin; t < end; t++) {
    int64_t b = t / c->nchunks, off = (t % c->nchunks) * c->chunk;
    int64_t len = c->blk - off < c->chunk ? c->blk - off : c->chunk;
    memcpy(c->dst + b * c->dpitch + off, c->src + b * c->spitch + off, (size_t)len);
  }
}

static void copy_blocks(char *dst, int64_t dpitch, const char *src, int64_t spitch,
                        int64_t nblocks, int64_t blk) {
  if (nblocks <= 0 || blk <= 0) return;
  blocks_ctx c = {dst, src, dpitch, spitch, blk, blk, 1};
  if (blk > ((int64_t)1 << 19)) {
    c.chunk = (int64_t)1 << 18;
    c.nchunks = (blk + c.chunk - 1) / c.chunk;
  }
  int64_t per_task = c.chunk < blk ? c.chunk : blk;
  parallel_for(nblocks * c.nchunks, grain_for(per_task), blocks_range, &c);
}

/* A strided N-d copy between two layouts of the same dtype. */
typedef struct strided_ctx {
  char *dst;
  const char *src;
  size_t es;
  nd_iter it;
} strided_ctx;

static void strided_range(void *vc, int64_t begin, int64_t end) {
  const strided_ctx *c = vc;
  int64_t ss = c->it.inner_stride[0], ds = c->it.inner_stride[1];
  for (int64_t r = begin; r < end; r++) {
    int64_t off[2];
    nd_iter_offsets(&c->it, r, off);
    const char *s = c->src + (ptrdiff_t)off[0] * (ptrdiff_t)c->es;
    char *d = c->dst + (ptrdiff_t)off[1] * (ptrdiff_t)c->es;
    if (ds == 1) {
      copy_run(d, s, ss, c->es, c->it.inner);
    } else {
      for (int64_t i = 0; i < c->it.inner; i++)
        memcpy(d + (ptrdiff_t)(i * ds) * (ptrdiff_t)c->es,
               s + (ptrdiff_t)(i * ss) * (ptrdiff_t)c->es, c->es);
    }
  }
}

static void copy_strided(char *dst, const int64_t *dstrides, const char *src,
                         const int64_t *sstrides, const int64_t *shape, int ndim, size_t es) {
  strided_ctx c = {.dst = dst, .src = src, .es = es};
  const int64_t *sp[2] = {sstrides, dstrides};
  nd_iter_init(&c.it, shape, ndim, sp, 2);
  if (c.it.outer == 0 || c.it.inner == 0) return;
  parallel_for(c.it.outer, grain_for(c.it.inner * (int64_t)es), strided_range, &c);
}

mx_status cpu_concatenate(mx_array out, mx_array const *in, int nin, const void *params) {
  const shape_concat_params *p = params;
  int ax = p->axis;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  size_t es = mx_dtype_size(out->dtype);
  int64_t outer = 1, after = 1;
  for (int d = 0; d < ax; d++) outer *= out->shape[d];
  for (int d = ax + 1; d < out->ndim; d++) after *= out->shape[d];
  int64_t orow = out->shape[ax] * after; /* output elements per outer index */
  char *o = array_ptr(out);
  int64_t cum = 0;
  for (int i = 0; i < nin; i++) {
    mx_array x = in[i];
    int64_t ni = x->shape[ax];
    char *dst = o + (size_t)(cum * after) * es;
    cum += ni;
    if (x->size == 0) continue;
    if (x->row_contiguous) {
      int64_t blk = ni * after * (int64_t)es;
      copy_blocks(dst, orow * (int64_t)es, array_ptr(x), blk, outer, blk);
    } else {
      copy_strided(dst, out->strides, array_ptr(x), x->strides, x->shape, x->ndim, es);
    }
  }
  return MX_OK;
}

/* ------------------------------------------------------------ pad */

typedef struct pad_ctx {
  const shape_pad_params *p;
  mx_array x, out;
  char *o;
  const char *xs;
  size_t es;
  unsigned char val[16];
  int64_t L, lo, n, hi; /* last axis: output length, low pad, input length, high pad */
} pad_ctx;

static void pad_rows(void *vc, int64_t begin, int64_t end) {
  const pad_ctx *c = vc;
  const mx_array x = c->x;
  int nd1 = c->out->ndim - 1;
  const int64_t *oshape = c->out->shape;
  int64_t xst = x->strides[nd1];
  int64_t co[MX_MAX_NDIM];
  unravel(begin, oshape, nd1, co);
  bool edge = c->p->mode == SHAPE_PAD_EDGE;
  for (int64_t r = begin; r < end; r++) {
    char *dst = c->o + (size_t)(r * c->L) * c->es;
    bool inside = true;
    int64_t soff = 0;
    for (int d = 0; d < nd1; d++) {
      int64_t s = co[d] - c->p->low[d];
      if (s < 0 || s >= x->shape[d]) {
        if (!edge) {
          inside = false;
          break;
        }
        s = s < 0 ? 0 : x->shape[d] - 1;
      }
      soff += s * x->strides[d];
    }
    if (!inside) {
      fill_run(dst, c->val, c->es, c->L);
    } else {
      /* An empty input has no buffer to point into (and no row to copy). */
      const char *src = c->xs ? c->xs + (ptrdiff_t)soff * (ptrdiff_t)c->es : NULL;
      const void *lo_val = c->val, *hi_val = c->val;
      if (edge) { /* the front end rules out edge-padding an empty axis */
        lo_val = src;
        hi_val = src + (ptrdiff_t)((c->n - 1) * xst) * (ptrdiff_t)c->es;
      }
      fill_run(dst, lo_val, c->es, c->lo);
      copy_run(dst + (size_t)c->lo * c->es, src, xst, c->es, c->n);
      fill_run(dst + (size_t)(c->lo + c->n) * c->es, hi_val, c->es, c->hi);
    }
    odometer_next(co, oshape, nd1);
  }
}

mx_status cpu_pad(mx_array out, mx_array const *in, int nin, const void *params) {
  const shape_pad_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  pad_ctx c = {.p = p, .x = in[0], .out = out, .o = array_ptr(out), .es = mx_dtype_size(out->dtype)};
  c.xs = in[0]->size ? array_ptr(in[0]) : NULL;
  memset(c.val, 0, sizeof c.val);
  if (p->mode == SHAPE_PAD_CONSTANT && nin > 1) memcpy(c.val, array_ptr(in[1]), c.es);
  int nd = out->ndim;
  if (nd == 0) { /* nothing to pad: a copy of the element */
    memcpy(c.o, c.xs, c.es);
    return MX_OK;
  }
  c.L = out->shape[nd - 1];
  c.lo = p->low[nd - 1];
  c.n = in[0]->shape[nd - 1];
  c.hi = c.L - c.lo - c.n;
  parallel_for(out->size / c.L, grain_for(c.L * (int64_t)c.es), pad_rows, &c);
  return MX_OK;
}

/* ------------------------------------------------------------ roll */

typedef struct roll_ctx {
  const shape_roll_params *p;
  mx_array x, out;
  char *o;
  const char *xs;
  size_t es;
} roll_ctx;

static void roll_rows(void *vc, int64_t begin, int64_t end) {
  const roll_ctx *c = vc;
  const mx_array x = c->x;
  int nd1 = x->ndim - 1;
  int64_t L = x->shape[nd1], s = c->p->shift[nd1], xst = x->strides[nd1];
  int64_t co[MX_MAX_NDIM];
  unravel(begin, x->shape, nd1, co);
  for (int64_t r = begin; r < end; r++) {
    int64_t soff = 0;
    for (int d = 0; d < nd1; d++) {
      int64_t i = co[d] - c->p->shift[d];
      if (i < 0) i += x->shape[d];
      soff += i * x->strides[d];
    }
    const char *src = c->xs + (ptrdiff_t)soff * (ptrdiff_t)c->es;
    char *dst = c->o + (size_t)(r * L) * c->es;
    /* out[0, s) comes from the input's tail, out[s, L) from its head. */
    copy_run(dst, src + (ptrdiff_t)((L - s) * xst) * (ptrdiff_t)c->es, xst, c->es, s);
    copy_run(dst + (size_t)s * c->es, src, xst, c->es, L - s);
    odometer_next(co, x->shape, nd1);
  }
}

mx_status cpu_roll(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  roll_ctx c = {.p = params, .x = in[0], .out = out, .o = array_ptr(out),
                .xs = array_ptr(in[0]), .es = mx_dtype_size(out->dtype)};
  if (out->ndim == 0) {
    memcpy(c.o, c.xs, c.es);
    return MX_OK;
  }
  int64_t L = out->shape[out->ndim - 1];
  parallel_for(out->size / L, grain_for(L * (int64_t)c.es), roll_rows, &c);
  return MX_OK;
}

/* ------------------------------------------------------------ diag of a vector */

mx_status cpu_diag_matrix(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const shape_diagmat_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array x = in[0];
  size_t es = mx_dtype_size(out->dtype);
  char *o = array_ptr(out);
  /* All-zero bytes are zero in every dtype (ints, IEEE floats, halves, complex). */
  memset(o, 0, (size_t)out->size * es);
  int64_t m = out->shape[1];
  int64_t r0 = p->k < 0 ? -p->k : 0, c0 = p->k > 0 ? p->k : 0;
  const char *xs = x->size ? array_ptr(x) : NULL;
  for (int64_t i = 0; i < x->size; i++)
    memcpy(o + (size_t)((i + r0) * m + i + c0) * es,
           xs + (ptrdiff_t)(i * x->strides[0]) * (ptrdiff_t)es, es);
  return MX_OK;
}

/* ------------------------------------------------------------ trace */

typedef struct trace_ctx {
  mx_array x, out;
  mx_dtype mid;
  char *o;
  const char *xs;
} trace_ctx;

enum { ACC_INT, ACC_REAL, ACC_COMPLEX };

static void trace_range(void *vc, int64_t begin, int64_t end) {
  const trace_ctx *c = vc;
  const mx_array x = c->x;
  int nd1 = x->ndim - 1;
  int64_t L = x->shape[nd1], xst = x->strides[nd1];
  size_t xes = mx_dtype_size(x->dtype);
  int kind = mx_dtype_is_complex(c->mid)    ? ACC_COMPLEX
             : mx_dtype_is_floating(c->mid) ? ACC_REAL
                                            : ACC_INT;
  mx_dtype acc_t = kind == ACC_COMPLEX ? MX_COMPLEX64 : kind == ACC_REAL ? MX_FLOAT64 : MX_INT64;
  enum { CH = 256 };
  uint64_t mid_buf[CH], acc_buf[CH]; /* 8-byte cells fit every mid / acc type */
  int64_t co[MX_MAX_NDIM];
  unravel(begin, x->shape, nd1, co);
  for (int64_t b = begin; b < end; b++) {
    int64_t soff = 0;
    for (int d = 0; d < nd1; d++) soff += co[d] * x->strides[d];
    const char *src = c->xs ? c->xs + (ptrdiff_t)soff * (ptrdiff_t)xes : NULL;
    uint64_t isum = 0; /* wraps like the integer sum type */
    double rsum = 0, isum_re = 0, isum_im = 0;
    for (int64_t i0 = 0; i0 < L; i0 += CH) {
      int64_t n = L - i0 < CH ? L - i0 : CH;
      /* Through `mid` first, so values wrap / round as astype(mid) would. */
      convert_run(src + (ptrdiff_t)(i0 * xst) * (ptrdiff_t)xes, xst, x->dtype, mid_buf, c->mid, n);
      convert_run(mid_buf, 1, c->mid, acc_buf, acc_t, n);
      if (kind == ACC_INT) {
        const int64_t *v = (const int64_t *)acc_buf;
        for (int64_t i = 0; i < n; i++) isum += (uint64_t)v[i];
      } else if (kind == ACC_REAL) {
        const double *v = (const double *)acc_buf;
        for (int64_t i = 0; i < n; i++) rsum += v[i];
      } else {
        const float *v = (const float *)acc_buf;
        for (int64_t i = 0; i < n; i++) {
          isum_re += v[2 * i];
          isum_im += v[2 * i + 1];
        }
      }
    }
    if (kind == ACC_INT) {
      store_i64(c->o, c->out->dtype, b, (int64_t)isum);
    } else if (kind == ACC_REAL) {
      store_f64(c->o, c->out->dtype, b, rsum);
    } else {
      float v[2] = {(float)isum_re, (float)isum_im};
      memcpy(c->o + (size_t)b * sizeof v, v, sizeof v);
    }
    odometer_next(co, x->shape, nd1);
  }
}

mx_status cpu_trace_sum(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const shape_trace_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array x = in[0];
  trace_ctx c = {.x = x, .out = out, .mid = p->mid, .o = array_ptr(out),
                 .xs = x->size ? array_ptr(x) : NULL};
  int64_t L = x->shape[x->ndim - 1];
  parallel_for(out->size, grain_for((L ? L : 1) * 8), trace_range, &c);
  return MX_OK;
}
