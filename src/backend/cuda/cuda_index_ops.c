/* cuda_index_ops.c — GPU kernels of the index family (see cuda_table.h):
 * views (slice, split, diagonal), slice_update (in place when the target
 * is donated), take / gather / take_along_axis, concatenate, pad, roll,
 * where, a few elementwise ops the core table lacks, fills, arange,
 * eye/tri/tril/triu and the random samplers. Parameter blocks are the CPU
 * kernels' own (the headers in src/backend/cpu), so both sides read the same params.
 *
 * Indices: the CPU path fails the eval on an out-of-range index (after one
 * wrap of negative signed values). The GPU path checks them on the host
 * with the CPU's own resolver (idx_resolve), so errors are identical; an
 * index array that lives only on the device is copied back first (one
 * synchronization). Index arrays built on the host (token ids, positions)
 * are already there and cost nothing. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "../../core/half.h"
#include "../cpu/creation.h"
#include "../cpu/elementwise.h"
#include "../cpu/indexing.h"
#include "../cpu/random.h"
#include "../cpu/shape.h"
#include "cuda_backend.h"
#include "cuda_index.h"
#include "cuda_table.h"

#define FALLBACK_IF_UNSUPPORTED(expr)                                               \
  do {                                                                              \
    mx_status st_ = (expr);                                                         \
    if (st_ == MX_ERR_UNSUPPORTED) return cuda_fallback_cpu(out, in, nin, params); \
    return st_;                                                                     \
  } while (0)

static size_t esize(mx_array a) { return mx_dtype_size(a->dtype); }

/* ---------------------------------------------------------------- indices */

/* The CPU's range check of index array `idx` read over `shape`, when the
 * indices are on the host anyway. Indices that live only on the device
 * (a sampled token id) are checked by the kernels instead (cu_ix_error_*):
 * reading them here would wait for the stream at every decode step. */
static mx_status check_indices(const char *op, mx_array idx, const int64_t *shape, int ndim,
                               int axis, int64_t dim, int64_t win) {
  int64_t n = shape_size(shape, ndim);
  if (n == 0) return MX_OK;
  bool device_only = idx->buf && !(idx->buf->valid & BUF_HOST);
  if (device_only && dim >= win && dim > 0) return MX_OK;
  if (device_only) {
    mx_status st = buffer_to_host(idx->buf);
    if (st < 0) return st;
  }
  size_t bytes = (size_t)n * sizeof(int64_t);
  int64_t *scratch = mx_alloc(bytes);
  if (!scratch) return mx_last_error_code();
  mx_status st = idx_resolve(op, idx, shape, ndim, axis, dim, win, 0, scratch, false);
  mx_free(scratch, bytes);
  return st;
}

/* win: the window (slice size) read from each index along the axis. */
static void set_index(cu_ix_index *x, mx_array idx, int64_t dim, int64_t mul, int64_t win) {
  memset(x, 0, sizeof *x);
  x->ptr = array_dptr(idx);
  x->dtype = idx->dtype;
  x->dim = dim;
  x->mul = mul;
  x->lim = dim - win + 1;
}

static mx_status run_gather(mx_array out, mx_array src, const cu_ix_gather *g) {
  return cuda_check(cu_ix_gather_run(esize(out), array_dptr(out), array_dptr(src), g,
                                     cuda_stream()),
                    out->prim->name);
}

/* What take, take_along_axis and gather share before their strides: the
 * range check of each index array idx[k] (read over ishape, along axes[k]
 * in windows of win[k]), the output, and g over out's shape with the
 * indices' bases. The callers fill in the source and index strides. */
static mx_status gather_setup(mx_array out, mx_array a, mx_array const *idx, int nidx,
                              const int *axes, const int64_t *win, const int64_t *ishape,
                              int indim, cu_ix_gather *g) {
  mx_status st = MX_OK;
  for (int k = 0; k < nidx && st == MX_OK; k++)
    st = check_indices(out->prim->name, idx[k], ishape, indim, axes[k], a->shape[axes[k]],
                       win[k]);
  if (st == MX_OK) st = array_alloc(out);
  if (st < 0) return st;
  memset(g, 0, sizeof *g);
  g->ndim = out->ndim;
  memcpy(g->shape, out->shape, (size_t)out->ndim * sizeof *g->shape);
  g->nidx = nidx;
  for (int k = 0; k < nidx; k++)
    set_index(&g->idx[k], idx[k], a->shape[axes[k]], a->strides[axes[k]], win[k]);
  return MX_OK;
}

static mx_status gpu_take(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const take_params *p = params;
  mx_array a = in[0], idx = in[1];
  int ax = p->axis;
  if (out->size == 0) return array_alloc(out);
  cu_ix_gather g;
  const int64_t one = 1;
  mx_status st = gather_setup(out, a, &in[1], 1, &ax, &one, idx->shape, idx->ndim, &g);
  if (st < 0) return st;
  int o = 0;
  for (int d = 0; d < ax; d++) g.src_strides[o++] = a->strides[d];
  for (int d = 0; d < idx->ndim; d++) g.idx[0].strides[o++] = idx->strides[d];
  for (int d = ax + 1; d < a->ndim; d++) g.src_strides[o++] = a->strides[d];
  return run_gather(out, a, &g);
}

static mx_status gpu_gather(mx_array out, mx_array const *in, int nin, const void *params) {
  const gather_params *p = params;
  mx_array a = in[0];
  if (p->nidx > CU_IX_MAX_IDX) return cuda_fallback_cpu(out, in, nin, params);
  if (out->size == 0) return array_alloc(out);
  int indim = out->ndim - a->ndim;
  int64_t win[CU_IX_MAX_IDX];
  for (int k = 0; k < p->nidx; k++) win[k] = p->slice_sizes[p->axes[k]];
  cu_ix_gather g;
  mx_status st = gather_setup(out, a, &in[1], p->nidx, p->axes, win, out->shape, indim, &g);
  if (st < 0) return st;
  for (int d = 0; d < a->ndim; d++) g.src_strides[indim + d] = a->strides[d];
  for (int k = 0; k < p->nidx; k++) {
    /* Right-aligned into the index dims (the front end broadcast them). */
    mx_array ix = in[1 + k];
    int lead = indim - ix->ndim;
    for (int d = 0; d < ix->ndim; d++)
      g.idx[k].strides[lead + d] = ix->shape[d] == 1 ? 0 : ix->strides[d];
  }
  return run_gather(out, a, &g);
}

static mx_status gpu_take_along(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const along_params *p = params;
  mx_array a = in[0], idx = in[1];
  int ax = p->axis;
  if (out->size == 0) return array_alloc(out);
  cu_ix_gather g;
  const int64_t one = 1;
  mx_status st = gather_setup(out, a, &in[1], 1, &ax, &one, out->shape, out->ndim, &g);
  if (st < 0) return st;
  for (int d = 0; d < out->ndim; d++) {
    g.src_strides[d] = d == ax ? 0 : a->strides[d];
    g.idx[0].strides[d] = idx->strides[d];
  }
  return run_gather(out, a, &g);
}

/* ---------------------------------------------------------------- scatter */

static mx_status copy_input(mx_array out, mx_array src);

/* Scratch for the plain scatter's winners: one uint64 per output element,
 * from the backend's pool (freed blocks are reused in stream order). */
static mx_status run_scatter(mx_array out, int mode, mx_array src, const cu_ix_scatter *g) {
  size_t wbytes = mode == 0 ? (size_t)out->size * 8 : 0;
  void *win = NULL;
  if (wbytes) {
    win = gpu_get()->alloc(wbytes);
    if (!win) return mx_last_error_code();
  }
  mx_status st = cuda_check(cu_ix_scatter_run(mode, out->dtype, array_dptr(out), out->size,
                                              array_dptr(src), g, win, cuda_stream()),
                            out->prim->name);
  if (win) gpu_get()->free(win, wbytes);
  return st;
}

static mx_status gpu_scatter(mx_array out, mx_array const *in, int nin, const void *params) {
  const scatter_params *p = params;
  mx_array a = in[0], upd = in[nin - 1];
  int nd = a->ndim, idx_ndim = upd->ndim - nd;
  if (p->nidx > CU_IX_MAX_IDX || !cu_ix_scatter_ok(p->mode, out->dtype))
    return cuda_fallback_cpu(out, in, nin, params);
  const int64_t *wshape = upd->shape + idx_ndim;
  int64_t nupd = shape_size(upd->shape, idx_ndim), wsize = shape_size(wshape, nd);
  if (nupd == 0 || wsize == 0) return copy_input(out, a);
  int64_t rm[MX_MAX_NDIM];
  row_major_strides(out->shape, nd, rm);
  mx_status st = MX_OK;
  for (int k = 0; k < p->nidx && st == MX_OK; k++) {
    int ax = p->axes[k];
    st = check_indices(out->prim->name, in[1 + k], upd->shape, idx_ndim, ax, a->shape[ax],
                       wshape[ax]);
  }
  if (st == MX_OK) st = copy_input(out, a);
  if (st < 0) return st;
  cu_ix_scatter g;
  memset(&g, 0, sizeof g);
  g.ndim = upd->ndim;
  memcpy(g.shape, upd->shape, (size_t)upd->ndim * sizeof *g.shape);
  int64_t kstride = 1;
  for (int d = idx_ndim - 1; d >= 0; d--) {
    g.key_strides[d] = kstride;
    kstride *= upd->shape[d];
  }
  for (int d = 0; d < upd->ndim; d++) {
    g.src_strides[d] = upd->strides[d];
    if (d >= idx_ndim) g.dst_strides[d] = rm[d - idx_ndim];
  }
  g.nidx = p->nidx;
  for (int k = 0; k < p->nidx; k++) {
    mx_array ix = in[1 + k];
    int ax = p->axes[k];
    set_index(&g.idx[k], ix, a->shape[ax], rm[ax], wshape[ax]);
    int lead = idx_ndim - ix->ndim;
    for (int d = 0; d < ix->ndim; d++)
      g.idx[k].strides[lead + d] = ix->shape[d] == 1 ? 0 : ix->strides[d];
  }
  return run_scatter(out, p->mode, upd, &g);
}

static mx_status gpu_put_along(mx_array out, mx_array const *in, int nin, const void *params) {
  const along_params *p = params;
  mx_array a = in[0], idx = in[1], upd = in[2];
  int ax = p->axis, nd = out->ndim;
  if (idx->size == 0 || out->size == 0) return copy_input(out, a);
  int64_t rm[MX_MAX_NDIM];
  row_major_strides(out->shape, nd, rm);
  mx_status st = check_indices(out->prim->name, idx, idx->shape, nd, ax, out->shape[ax], 1);
  if (st == MX_OK) st = copy_input(out, a);
  if (st < 0) return st;
  (void)nin;
  cu_ix_scatter g;
  memset(&g, 0, sizeof g);
  g.ndim = nd;
  memcpy(g.shape, idx->shape, (size_t)nd * sizeof *g.shape);
  for (int d = 0; d < nd; d++) {
    g.src_strides[d] = upd->strides[d];
    g.dst_strides[d] = d == ax ? 0 : rm[d];
  }
  /* Along the axis, later writes win; positions off the axis never meet. */
  g.key_strides[ax] = 1;
  g.nidx = 1;
  set_index(&g.idx[0], idx, out->shape[ax], rm[ax], 1);
  for (int d = 0; d < nd; d++) g.idx[0].strides[d] = idx->strides[d];
  return run_scatter(out, 0, upd, &g);
}

/* ---------------------------------------------------------------- copies */

/* Strided copy of x (its own shape) to `dst` with strides ds. */
static mx_status copy_to(mx_array out, void *dst, const int64_t *ds, mx_array x) {
  return cuda_check(cu_ix_copy(esize(x), dst, ds, array_dptr(x), x->strides, x->shape, x->ndim,
                               cuda_stream()),
                    out->prim->name);
}

/* out gets src's contents: its buffer when donated, else a dense copy. */
static mx_status copy_input(mx_array out, mx_array src) {
  mx_status st = array_alloc_donate(out, &src, 1);
  if (st < 0 || out->buf == src->buf || out->size == 0) return st;
  return copy_to(out, array_dptr(out), out->strides, src);
}

/* slice_update: the KV-cache write. When the cache array is donated (only
 * this node holds it), out takes over its device buffer and only the
 * update region is written. */
static mx_status gpu_slice_update(mx_array out, mx_array const *in, int nin,
                                  const void *params) {
  (void)nin;
  const slice_params *p = params;
  mx_array src = in[0], upd = in[1];
  if (out->size == 0) return array_alloc(out);
  if (upd->size == 0) {
    array_set_view(out, src, src->strides, src->offset);
    return MX_OK;
  }
  mx_status st = copy_input(out, src);
  if (st < 0) return st;
  size_t es = esize(out);
  int64_t ds[MX_MAX_NDIM], doff = 0;
  for (int d = 0; d < out->ndim; d++) {
    ds[d] = out->strides[d] * p->step[d];
    doff += p->start[d] * out->strides[d];
  }
  char *dst = (char *)array_dptr(out) + (ptrdiff_t)doff * (ptrdiff_t)es;
  return copy_to(out, dst, ds, upd);
}

static mx_status gpu_concatenate(mx_array out, mx_array const *in, int nin,
                                 const void *params) {
  const shape_concat_params *p = params;
  int ax = p->axis;
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  size_t es = esize(out);
  int64_t after = 1;
  for (int d = ax + 1; d < out->ndim; d++) after *= out->shape[d];
  char *o = array_dptr(out);
  int64_t cum = 0;
  for (int i = 0; i < nin && st == MX_OK; i++) {
    mx_array x = in[i];
    char *dst = o + (size_t)(cum * after) * es;
    cum += x->shape[ax];
    if (x->size) st = copy_to(out, dst, out->strides, x);
  }
  return st;
}

static mx_status gpu_pad(mx_array out, mx_array const *in, int nin, const void *params) {
  const shape_pad_params *p = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  size_t es = esize(out);
  bool edge = p->mode == SHAPE_PAD_EDGE;
  if (!edge && nin < 2) {
    /* Zero padding: clear, then copy the interior. */
    st = cuda_check(
        cudaMemsetAsync(array_dptr(out), 0, (size_t)out->size * es, (cudaStream_t)cuda_stream()),
        "pad");
    if (st < 0 || x->size == 0) return st;
    int64_t off = 0;
    for (int d = 0; d < out->ndim; d++) off += p->low[d] * out->strides[d];
    return copy_to(out, (char *)array_dptr(out) + (ptrdiff_t)off * (ptrdiff_t)es, out->strides,
                   x);
  }
  const void *val = !edge ? array_dptr(in[1]) : NULL;
  const void *xp = x->size ? array_dptr(x) : NULL;
  return cuda_check(cu_ix_pad(es, array_dptr(out), out->shape, out->ndim, xp, x->shape,
                              x->strides, p->low, edge, val, cuda_stream()),
                    "pad");
}

static mx_status gpu_roll(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const shape_roll_params *p = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  return cuda_check(cu_ix_roll(esize(out), array_dptr(out), out->shape, out->ndim, array_dptr(x),
                               x->strides, p->shift, cuda_stream()),
                    "roll");
}

/* ---------------------------------------------------------------- elementwise */

static void layout_of(cu_ix_layout *L, mx_array out, mx_array const *ops, int nops) {
  memset(L, 0, sizeof *L);
  L->ndim = out->ndim;
  for (int d = 0; d < out->ndim; d++) {
    L->shape[d] = out->shape[d];
    L->strides[0][d] = out->strides[d];
  }
  for (int k = 0; k < nops; k++) {
    mx_array x = ops[k];
    int lead = out->ndim - x->ndim;
    for (int d = 0; d < out->ndim; d++) {
      int xd = d - lead;
      L->strides[k + 1][d] = xd < 0 || x->shape[xd] == 1 ? 0 : x->strides[xd];
    }
  }
}

static mx_status gpu_where(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  if (nin != 3 || in[0]->dtype != MX_BOOL) return cuda_fallback_cpu(out, in, nin, params);
  size_t es = esize(out);
  if (es != 1 && es != 2 && es != 4 && es != 8) return cuda_fallback_cpu(out, in, nin, params);
  /* An input nobody else holds may become the output: each thread reads
   * element i of every operand before writing element i. */
  mx_status st = array_alloc_donate(out, in, 3);
  if (st < 0 || out->size == 0) return st;
  cu_ix_layout L;
  layout_of(&L, out, in, 3);
  return cuda_check(cu_ix_where(es, array_dptr(out), array_dptr(in[0]), array_dptr(in[1]),
                                array_dptr(in[2]), &L, out->size, cuda_stream()),
                    "where");
}

static mx_status run_unary(mx_array out, mx_array const *in, int op, const double *vals) {
  mx_array x = in[0];
  if (!cu_ix_unary_ok(op, x->dtype)) return MX_ERR_UNSUPPORTED;
  mx_status st = esize(out) == esize(x) ? array_alloc_donate(out, in, 1) : array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_ix_layout L;
  layout_of(&L, out, in, 1);
  return cuda_check(cu_ix_unary(op, x->dtype, out->dtype, array_dptr(out), array_dptr(x), &L,
                                out->size, vals, cuda_stream()),
                    out->prim->name);
}

static mx_status run_binary(mx_array out, mx_array const *in, int op) {
  mx_dtype t = in[0]->dtype;
  if (in[1]->dtype != t || !cu_ix_binary_ok(op, t)) return MX_ERR_UNSUPPORTED;
  mx_status st = out->dtype == t ? array_alloc_donate(out, in, 2) : array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_ix_layout L;
  layout_of(&L, out, in, 2);
  return cuda_check(cu_ix_binary(op, t, out->dtype, array_dptr(out), array_dptr(in[0]),
                                 array_dptr(in[1]), &L, out->size, cuda_stream()),
                    out->prim->name);
}

#define UNARY_KERNEL(fn, op)                                                           \
  static mx_status fn(mx_array out, mx_array const *in, int nin, const void *params) { \
    FALLBACK_IF_UNSUPPORTED(run_unary(out, in, op, NULL));                             \
  }
UNARY_KERNEL(gpu_floor, CUX_FLOOR)
UNARY_KERNEL(gpu_ceil, CUX_CEIL)
UNARY_KERNEL(gpu_round, CUX_ROUND)
UNARY_KERNEL(gpu_sign, CUX_SIGN)
UNARY_KERNEL(gpu_logical_not, CUX_LOGICAL_NOT)
UNARY_KERNEL(gpu_bitwise_invert, CUX_BITWISE_INVERT)
UNARY_KERNEL(gpu_isnan, CUX_ISNAN)
UNARY_KERNEL(gpu_isinf, CUX_ISINF)
UNARY_KERNEL(gpu_isfinite, CUX_ISFINITE)
UNARY_KERNEL(gpu_isposinf, CUX_ISPOSINF)
UNARY_KERNEL(gpu_isneginf, CUX_ISNEGINF)

static mx_status gpu_nan_to_num(mx_array out, mx_array const *in, int nin, const void *params) {
  const ew_nan_to_num_params *p = params;
  double v[3] = {p->nan, p->posinf, p->neginf};
  FALLBACK_IF_UNSUPPORTED(run_unary(out, in, CUX_NAN_TO_NUM, v));
}

#define BINARY_KERNEL(fn, op)                                                          \
  static mx_status fn(mx_array out, mx_array const *in, int nin, const void *params) { \
    FALLBACK_IF_UNSUPPORTED(run_binary(out, in, op));                                  \
  }
BINARY_KERNEL(gpu_floor_divide_int, CUX_FLOOR_DIVIDE)
BINARY_KERNEL(gpu_remainder, CUX_REMAINDER)
BINARY_KERNEL(gpu_logaddexp, CUX_LOGADDEXP)
BINARY_KERNEL(gpu_logical_and, CUX_LOGICAL_AND)
BINARY_KERNEL(gpu_logical_or, CUX_LOGICAL_OR)
BINARY_KERNEL(gpu_bitwise_and, CUX_BITWISE_AND)
BINARY_KERNEL(gpu_bitwise_or, CUX_BITWISE_OR)
BINARY_KERNEL(gpu_bitwise_xor, CUX_BITWISE_XOR)
BINARY_KERNEL(gpu_left_shift, CUX_LEFT_SHIFT)
BINARY_KERNEL(gpu_right_shift, CUX_RIGHT_SHIFT)
BINARY_KERNEL(gpu_arctan2, CUX_ARCTAN2)

/* ---------------------------------------------------------------- creation */

/* Two primitives share the name "full": a fill from params (cpu_fill) and
 * a broadcast of an input value (cpu_full). */
static mx_status gpu_full(mx_array out, mx_array const *in, int nin, const void *params) {
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  size_t es = esize(out);
  if (out->prim->cpu == cpu_fill) {
    const fill_params *p = params;
    return cuda_check(cu_ix_fill(es, array_dptr(out), p->value, out->size, cuda_stream()),
                      "full");
  }
  if (nin != 1) return set_error(MX_ERR_INTERNAL, "full: bad kernel inputs");
  mx_array v = in[0];
  bool scalar = true;
  for (int d = 0; d < v->ndim; d++)
    if (v->shape[d] > 1 && v->strides[d] != 0) scalar = false;
  if (scalar)
    return cuda_check(cu_ix_fill_dev(es, array_dptr(out), array_dptr(v), out->size,
                                     cuda_stream()),
                      "full");
  /* v has out's shape (broadcast by the front end). */
  return copy_to(out, array_dptr(out), out->strides, v);
}

static mx_status gpu_zeros(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  int v = params ? *(const uint8_t *)params : 0;
  return cuda_check(cudaMemsetAsync(array_dptr(out), v, (size_t)out->size * esize(out),
                                    (cudaStream_t)cuda_stream()),
                    "zeros");
}

/* The CPU's double -> integer bit pattern (truncation, INT64_MIN when out
 * of range). */
static uint64_t f64_to_bits64(double v) {
  if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)v;
}

/* True when start + i * step (i < n) is exact in a float type of `bits`
 * significand bits with exponents down to emin (the unit of the smallest
 * subnormal) and magnitudes up to vmax: then the CPU's serial accumulation
 * never rounds and equals the direct formula. */
static bool arange_exact(double s, double d, int64_t n, int bits, int emin, double vmax) {
  if (!isfinite(s) || !isfinite(d)) return false;
  int e = 4096;
  double xs[2] = {s, d};
  for (int k = 0; k < 2; k++) {
    if (xs[k] == 0) continue;
    int ex;
    double m = frexp(xs[k], &ex); /* xs = m * 2^ex, 0.5 <= |m| < 1 */
    /* lowest set bit: scale the mantissa to an integer */
    int q = ex - 53;
    double mi = ldexp(m, 53);
    while (fmod(mi, 2.0) == 0.0 && mi != 0) {
      mi /= 2;
      q++;
    }
    if (q < e) e = q;
  }
  if (e == 4096) return true; /* all zero */
  if (e < emin) return false;
  long double last = (long double)s + (long double)(n - 1) * (long double)d;
  long double big = fabsl(last) > fabsl((long double)s) ? fabsl(last) : fabsl((long double)s);
  return big <= vmax && big < ldexpl(1.0L, bits + e);
}

static mx_status gpu_arange(mx_array out, mx_array const *in, int nin, const void *params) {
  const arange_params *p = params;
  int64_t n = out->size;
  double next = p->start + p->step;
  double s = 0, d = 0;
  uint64_t is = 0, id = 0;
  switch (out->dtype) {
  case MX_FLOAT32:
  case MX_COMPLEX64: {
    float sf = (float)p->start, df = (float)next - sf;
    s = sf;
    d = df;
    if (!arange_exact(s, d, n, 24, -149, 3.4028234663852886e38))
      return cuda_fallback_cpu(out, in, nin, params);
    break;
  }
  case MX_FLOAT64:
    s = p->start;
    d = next - s;
    if (!arange_exact(s, d, n, 53, -1074, 1.7976931348623157e308))
      return cuda_fallback_cpu(out, in, nin, params);
    break;
  case MX_FLOAT16:
  case MX_BFLOAT16: {
    bool h = out->dtype == MX_FLOAT16;
    uint16_t sb = h ? f32_to_f16((float)p->start) : f32_to_bf16((float)p->start);
    uint16_t nb = h ? f32_to_f16((float)next) : f32_to_bf16((float)next);
    float sf = h ? f16_to_f32(sb) : bf16_to_f32(sb);
    float nf = h ? f16_to_f32(nb) : bf16_to_f32(nb);
    uint16_t db = h ? f32_to_f16(nf - sf) : f32_to_bf16(nf - sf);
    s = sf;
    d = h ? f16_to_f32(db) : bf16_to_f32(db);
    bool ok = h ? arange_exact(s, d, n, 11, -24, 65504.0)
                : arange_exact(s, d, n, 8, -133, 3.3895313892515355e38);
    if (!ok) return cuda_fallback_cpu(out, in, nin, params);
    break;
  }
  default:
    is = f64_to_bits64(p->start);
    id = f64_to_bits64(next) - is;
    break;
  }
  mx_status st = array_alloc(out);
  if (st < 0 || n == 0) return st;
  return cuda_check(cu_ix_arange(out->dtype, array_dptr(out), n, is, id, s, d, cuda_stream()),
                    "arange");
}

static mx_status gpu_linspace(mx_array out, mx_array const *in, int nin, const void *params) {
  const linspace_params *p = params;
  mx_dtype t = out->dtype;
  /* n == 1 (a cast of start) and integer outputs (the CPU's conversions)
   * stay on the CPU. */
  if (out->size < 2 ||
      (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16))
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  return cuda_check(cu_ix_linspace(t, array_dptr(out), out->size, p->start, p->stop,
                                   cuda_stream()),
                    "linspace");
}

static int64_t clamp_k(int64_t k, int64_t bound) {
  return k > bound ? bound : k < -bound ? -bound : k;
}

static void one_of(mx_dtype t, unsigned char *v) {
  memset(v, 0, 8);
  switch (t) {
  case MX_FLOAT16: { uint16_t h = f32_to_f16(1.0f); memcpy(v, &h, 2); break; }
  case MX_BFLOAT16: { uint16_t h = f32_to_bf16(1.0f); memcpy(v, &h, 2); break; }
  case MX_FLOAT32:
  case MX_COMPLEX64: { float f = 1.0f; memcpy(v, &f, 4); break; }
  case MX_FLOAT64: { double f = 1.0; memcpy(v, &f, 8); break; }
  default: v[0] = 1; break; /* little-endian integers and bool */
  }
}

static mx_status gpu_tri(mx_array out, mx_array const *in, int nin, const void *params) {
  const diag_params *p = params;
  int mode;
  if (out->prim->cpu == cpu_eye) mode = 0;
  else if (out->prim->cpu == cpu_tri) mode = 1;
  else mode = p->upper ? 3 : 2;
  if (out->ndim < 2) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = mode >= 2 ? copy_input(out, in[0]) : array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  int64_t m = out->shape[out->ndim - 1], rpm = out->shape[out->ndim - 2];
  int64_t k = mode == 0 ? p->k : clamp_k(p->k, m + rpm + 1);
  unsigned char one[8];
  one_of(out->dtype, one);
  return cuda_check(cu_ix_tri(mode, esize(out), array_dptr(out), out->size / m, m, rpm, k, one,
                              cuda_stream()),
                    out->prim->name);
}

/* ---------------------------------------------------------------- random */

static mx_status gpu_random(mx_array out, mx_array const *in, int nin, const void *params) {
  const rand_params *p = params;
  mx_dtype d = out->dtype;
  bool flt = d == MX_FLOAT32 || d == MX_FLOAT16 || d == MX_BFLOAT16;
  cu_ix_rand r;
  memset(&r, 0, sizeof r);
  switch ((rand_kind)p->kind) {
  case RK_BITS: break;
  case RK_UNIFORM:
  case RK_NORMAL:
  case RK_TRUNC_NORMAL:
  case RK_GUMBEL:
    if (!flt || p->dtype != d) return cuda_fallback_cpu(out, in, nin, params);
    break;
  case RK_RANDINT:
    if (!mx_dtype_is_integer(d) && d != MX_BOOL) return cuda_fallback_cpu(out, in, nin, params);
    break;
  case RK_BERNOULLI:
    if (nin < 2 || in[1]->dtype != MX_FLOAT32 || d != MX_BOOL || in[1]->ndim != out->ndim)
      return cuda_fallback_cpu(out, in, nin, params);
    r.p = array_dptr(in[1]);
    r.pndim = in[1]->ndim;
    for (int k = 0; k < in[1]->ndim; k++) {
      r.pshape[k] = in[1]->shape[k];
      r.pstrides[k] = in[1]->shape[k] == 1 ? 0 : in[1]->strides[k];
    }
    break;
  default: return cuda_fallback_cpu(out, in, nin, params);
  }
  r.kind = p->kind;
  r.dtype = d;
  r.has_loc = p->has_loc;
  r.has_scale = p->has_scale;
  r.lo = (float)p->lo;
  r.range = (float)p->range;
  r.upper = (float)p->upper;
  r.scale = (float)p->scale;
  r.loc = (float)p->loc;
  r.lower_t = (float)p->lower_t;
  r.upper_t = (float)p->upper_t;
  r.ilow = p->ilow;
  r.ihigh1 = p->ihigh1;
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  mx_array key = in[0];
  return cuda_check(cu_ix_random(&r, array_dptr(out), out->size, esize(out), array_dptr(key),
                                 key->ndim ? key->strides[0] : 1, cuda_stream()),
                    out->prim->name);
}

/* ---------------------------------------------------------------- the table */

const cuda_kernel_entry cuda_index_kernels[] = {
    /* Views: the CPU kernels only set strides and offsets, on any device. */
    {"slice", cpu_slice},
    {"split", cpu_slice_axis},
    {"diagonal", cpu_diagonal_view},
    {"stop_gradient", cpu_stop_gradient},
    {"slice_update", gpu_slice_update},
    {"take", gpu_take},
    {"gather", gpu_gather},
    {"take_along_axis", gpu_take_along},
    {"put_along_axis", gpu_put_along},
    {"scatter", gpu_scatter},
    {"scatter_add", gpu_scatter},
    {"scatter_prod", gpu_scatter},
    {"scatter_max", gpu_scatter},
    {"scatter_min", gpu_scatter},
    {"concatenate", gpu_concatenate},
    {"pad", gpu_pad},
    {"roll", gpu_roll},
    {"where", gpu_where},
    {"floor", gpu_floor},
    {"ceil", gpu_ceil},
    {"round", gpu_round},
    {"sign", gpu_sign},
    {"logical_not", gpu_logical_not},
    {"bitwise_invert", gpu_bitwise_invert},
    {"isnan", gpu_isnan},
    {"isinf", gpu_isinf},
    {"isfinite", gpu_isfinite},
    {"isposinf", gpu_isposinf},
    {"isneginf", gpu_isneginf},
    {"nan_to_num", gpu_nan_to_num},
    {"floor_divide_int", gpu_floor_divide_int},
    {"remainder", gpu_remainder},
    {"logaddexp", gpu_logaddexp},
    {"logical_and", gpu_logical_and},
    {"logical_or", gpu_logical_or},
    {"bitwise_and", gpu_bitwise_and},
    {"bitwise_or", gpu_bitwise_or},
    {"bitwise_xor", gpu_bitwise_xor},
    {"left_shift", gpu_left_shift},
    {"right_shift", gpu_right_shift},
    {"arctan2", gpu_arctan2},
    {"full", gpu_full},
    {"zeros", gpu_zeros},
    {"arange", gpu_arange},
    {"linspace", gpu_linspace},
    {"eye", gpu_tri},
    {"tri", gpu_tri},
    {"tril", gpu_tri},
    {"triu", gpu_tri},
    {"random_bits", gpu_random},
    {"random_sample", gpu_random},
    {NULL, NULL},
};
