/* gather.c — kernels of take, gather and take_along_axis.
 *
 * take and gather share one engine: the indices are first resolved (and
 * range-checked) into source element offsets, then each output block is a
 * copy of a source window at (outer offset + index offset). A window that is
 * dense in the source (an embedding row) is one memcpy; the units are split
 * across the pool. Nothing is allocated until every index has passed. */
#include "indexing.h"

typedef struct win_ctx {
  const char *src;
  char *dst;
  size_t esz;
  const int64_t *off; /* per index: source offset, elements */
  int64_t nidx;
  /* Outer dims (take: the axes before `axis`); unit u = p * nidx + j. */
  int pre_ndim;
  int64_t pre_shape[MX_MAX_NDIM], pre_strides[MX_MAX_NDIM];
  /* The window: shape and source strides; dense windows are cut in chunks. */
  int win_ndim;
  int64_t win_shape[MX_MAX_NDIM], win_strides[MX_MAX_NDIM];
  int64_t wsize;
  bool dense;
  int64_t chunk, nchunks;
} win_ctx;

static int64_t pre_offset(const win_ctx *c, int64_t p) {
  int64_t o = 0;
  for (int d = c->pre_ndim - 1; d >= 0; d--) {
    o += (p % c->pre_shape[d]) * c->pre_strides[d];
    p /= c->pre_shape[d];
  }
  return o;
}

/* Strided window -> dense destination, with an odometer over the window's
 * outer dims (the innermost dim is the run). */
static void copy_window(const win_ctx *c, char *dst, const char *src) {
  ptrdiff_t esz = (ptrdiff_t)c->esz;
  int nd = c->win_ndim;
  if (nd == 0) {
    memcpy(dst, src, c->esz);
    return;
  }
  int64_t inner = c->win_shape[nd - 1], istr = c->win_strides[nd - 1];
  int64_t idx[MX_MAX_NDIM] = {0};
  int64_t soff = 0;
  for (int64_t done = 0; done < c->wsize; done += inner) {
    idx_copy_run(dst, 1, src + soff * esz, istr, inner, c->esz);
    dst += inner * esz;
    for (int d = nd - 2; d >= 0; d--) {
      soff += c->win_strides[d];
      if (++idx[d] < c->win_shape[d]) break;
      soff -= idx[d] * c->win_strides[d];
      idx[d] = 0;
    }
  }
}

static void win_range(void *p, int64_t begin, int64_t end) {
  const win_ctx *c = p;
  ptrdiff_t esz = (ptrdiff_t)c->esz;
  int64_t last_p = -1, poff = 0;
  for (int64_t w = begin; w < end; w++) {
    int64_t u = w / c->nchunks, k = w % c->nchunks;
    int64_t pp = u / c->nidx, j = u % c->nidx;
    if (pp != last_p) {
      poff = pre_offset(c, pp);
      last_p = pp;
    }
    const char *s = c->src + (poff + c->off[j]) * esz;
    char *d = c->dst + (u * c->wsize) * esz;
    if (c->dense) {
      int64_t k0 = k * c->chunk;
      int64_t n = c->wsize - k0 < c->chunk ? c->wsize - k0 : c->chunk;
      memcpy(d + k0 * esz, s + k0 * esz, (size_t)n * c->esz);
    } else {
      copy_window(c, d, s);
    }
  }
}

/* Drops size-1 window dims and reports whether the rest is dense row-major
 * in the source (then one memcpy per window). */
static void win_setup(win_ctx *c, const int64_t *shape, const int64_t *strides, int ndim) {
  c->win_ndim = 0;
  c->wsize = 1;
  for (int d = 0; d < ndim; d++) {
    c->wsize *= shape[d];
    if (shape[d] == 1) continue;
    c->win_shape[c->win_ndim] = shape[d];
    c->win_strides[c->win_ndim] = strides[d];
    c->win_ndim++;
  }
  int64_t expect = 1;
  c->dense = true;
  for (int d = c->win_ndim - 1; d >= 0; d--) {
    if (c->win_strides[d] != expect) c->dense = false;
    expect *= c->win_shape[d];
  }
  int64_t wbytes = c->wsize * (int64_t)c->esz;
  c->chunk = c->dense && wbytes > (1 << 20) ? (1 << 18) / (int64_t)c->esz : c->wsize;
  if (c->chunk < 1) c->chunk = 1;
  c->nchunks = c->dense ? (c->wsize + c->chunk - 1) / c->chunk : 1;
}

static void win_run(win_ctx *c, int64_t npre) {
  int64_t items = npre * c->nidx * c->nchunks;
  int64_t piece = (c->dense ? c->chunk : c->wsize) * (int64_t)c->esz;
  int64_t grain = piece >= 32768 ? 1 : 32768 / (piece ? piece : 1);
  parallel_for(items, grain, win_range, c);
}

/* take: out = a.shape[:axis] + idx.shape + a.shape[axis+1:]. */
mx_status cpu_take(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const take_params *p = params;
  mx_array a = in[0], idx = in[1];
  int ax = p->axis;
  if (out->size == 0) return array_alloc(out);
  int64_t nidx = idx->size;
  size_t obytes = (size_t)nidx * sizeof(int64_t);
  int64_t *off = idx_scratch(obytes);
  if (!off) return mx_last_error_code();
  mx_status st = idx_resolve(out->prim->name, idx, idx->shape, idx->ndim, ax, a->shape[ax], 1,
                             a->strides[ax], off, false);
  if (st == MX_OK) st = array_alloc(out);
  if (st == MX_OK) {
    win_ctx c;
    c.src = array_ptr(a);
    c.dst = array_ptr(out);
    c.esz = mx_dtype_size(out->dtype);
    c.off = off;
    c.nidx = nidx;
    c.pre_ndim = ax;
    int64_t npre = 1;
    for (int d = 0; d < ax; d++) {
      c.pre_shape[d] = a->shape[d];
      c.pre_strides[d] = a->strides[d];
      npre *= a->shape[d];
    }
    win_setup(&c, a->shape + ax + 1, a->strides + ax + 1, a->ndim - ax - 1);
    win_run(&c, npre);
  }
  idx_scratch_free(off, obytes);
  return st;
}

/* gather: out = broadcast(indices).shape + slice_sizes; window origin has
 * indices[k] on axes[k] and 0 elsewhere. */
mx_status cpu_gather(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const gather_params *p = params;
  mx_array a = in[0];
  if (out->size == 0) return array_alloc(out);
  int idx_ndim = out->ndim - a->ndim;
  int64_t nidx = shape_size(out->shape, idx_ndim);
  size_t obytes = (size_t)nidx * sizeof(int64_t);
  int64_t *off = idx_scratch(obytes);
  if (!off) return mx_last_error_code();
  mx_status st = MX_OK;
  if (p->nidx == 0) off[0] = 0;
  for (int k = 0; k < p->nidx && st == MX_OK; k++) {
    int ax = p->axes[k];
    st = idx_resolve(out->prim->name, in[1 + k], out->shape, idx_ndim, ax, a->shape[ax],
                     p->slice_sizes[ax], a->strides[ax], off, k > 0);
  }
  if (st == MX_OK) st = array_alloc(out);
  if (st == MX_OK) {
    win_ctx c;
    c.src = array_ptr(a);
    c.dst = array_ptr(out);
    c.esz = mx_dtype_size(out->dtype);
    c.off = off;
    c.nidx = nidx;
    c.pre_ndim = 0;
    win_setup(&c, p->slice_sizes, a->strides, a->ndim);
    win_run(&c, 1);
  }
  idx_scratch_free(off, obytes);
  return st;
}

/* ---- take_along_axis: out[..., j, ...] = a[..., idx[..., j, ...], ...] ---- */

typedef struct along_ctx {
  const char *src;
  char *dst;
  size_t esz;
  const int64_t *off; /* row-major over out: index * a's axis stride */
  nd_iter it;         /* over out: {a strides with axis 0, out strides} */
} along_ctx;

#define ALONG_LOOP(T)                                                                      \
  {                                                                                        \
    const T *s = (const T *)(const void *)c->src + o[0];                                   \
    T *d = (T *)(void *)c->dst + o[1];                                                     \
    const int64_t *f = c->off + o[1];                                                      \
    for (int64_t k = 0; k < n; k++) d[k * ds] = s[k * as + f[k * ds]];                     \
  }                                                                                        \
  break;

static void along_range(void *p, int64_t begin, int64_t end) {
  const along_ctx *c = p;
  int64_t n = c->it.inner, as = c->it.inner_stride[0], ds = c->it.inner_stride[1];
  for (int64_t r = begin; r < end; r++) {
    int64_t o[2];
    nd_iter_offsets(&c->it, r, o);
    switch (c->esz) {
      case 1: ALONG_LOOP(uint8_t)
      case 2: ALONG_LOOP(uint16_t)
      case 4: ALONG_LOOP(uint32_t)
      default: ALONG_LOOP(uint64_t)
    }
  }
}
#undef ALONG_LOOP

mx_status cpu_take_along_axis(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const along_params *p = params;
  mx_array a = in[0], idx = in[1];
  int ax = p->axis;
  if (out->size == 0) return array_alloc(out);
  size_t obytes = (size_t)out->size * sizeof(int64_t);
  int64_t *off = idx_scratch(obytes);
  if (!off) return mx_last_error_code();
  mx_status st = idx_resolve(out->prim->name, idx, out->shape, out->ndim, ax, a->shape[ax], 1,
                             a->strides[ax], off, false);
  if (st == MX_OK) st = array_alloc(out);
  if (st == MX_OK) {
    along_ctx c;
    c.src = array_ptr(a);
    c.dst = array_ptr(out);
    c.esz = mx_dtype_size(out->dtype);
    c.off = off;
    int64_t as[MX_MAX_NDIM];
    memcpy(as, a->strides, (size_t)a->ndim * sizeof *as);
    as[ax] = 0;
    const int64_t *sp[2] = {as, out->strides};
    nd_iter_init(&c.it, out->shape, out->ndim, sp, 2);
    int64_t grain = c.it.inner >= 16384 ? 1 : 16384 / c.it.inner;
    parallel_for(c.it.outer, grain, along_range, &c);
  }
  idx_scratch_free(off, obytes);
  return st;
}
