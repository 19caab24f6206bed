/* indexing.c — helpers shared by the indexing kernels (index resolution,
 * strided block copies) and the kernels of slice, slice_update and
 * masked_scatter. take/gather live in gather.c, scatter* in scatter.c. */
#include <stdatomic.h>
#include <stdio.h>

#include "indexing.h"

void *idx_scratch(size_t nbytes) { return mx_alloc(nbytes ? nbytes : 8); }
void idx_scratch_free(void *p, size_t nbytes) { mx_free(p, nbytes ? nbytes : 8); }

void idx_drop_output(mx_array out) {
  if (out->buf) buffer_release(out->buf);
  out->buf = NULL;
}

mx_status idx_copy_input(mx_array out, mx_array src) {
  mx_status st = array_alloc_donate(out, &src, 1);
  if (st < 0) return st;
  if (out->buf != src->buf && out->size) array_copy_to_row_major(src, array_ptr(out), out->dtype);
  return MX_OK;
}

/* ---- index resolution ---- */

typedef struct resolve_ctx {
  const char *base; /* element pointer of the index array */
  mx_dtype t;
  nd_iter it;
  int64_t dim, hi, mul;
  int64_t *acc;
  bool accumulate;
  atomic_llong bad; /* first bad row-major position; INT64_MAX if none */
} resolve_ctx;

static void note_bad(resolve_ctx *c, int64_t pos) {
  long long cur = atomic_load(&c->bad);
  while (pos < cur && !atomic_compare_exchange_weak(&c->bad, &cur, pos)) {
  }
}

/* One loop per index dtype so the inner loop has no dtype switch. A value
 * that does not fit int64 (u64 above INT64_MAX) turns negative and, not being
 * wrapped, fails the range check as it should. */
#define RESOLVE_LOOP(T, SIGNED)                                                            \
  {                                                                                        \
    const T *ip = (const T *)(const void *)c->base + off;                                  \
    for (int64_t k = 0; k < n; k++) {                                                      \
      int64_t v = (int64_t)ip[k * s];                                                      \
      if (SIGNED && v < 0) v += c->dim;                                                    \
      if (v < 0 || v > c->hi) {                                                            \
        note_bad(c, pos0 + k);                                                             \
        break;                                                                             \
      }                                                                                    \
      acc[k] = c->accumulate ? acc[k] + v * c->mul : v * c->mul;                           \
    }                                                                                      \
  }                                                                                        \
  break;

static void resolve_range(void *p, int64_t begin, int64_t end) {
  resolve_ctx *c = p;
  for (int64_t r = begin; r < end; r++) {
    int64_t pos0 = r * c->it.inner;
    if (pos0 > atomic_load(&c->bad)) return; /* an earlier bad index is known */
    int64_t off;
    nd_iter_offsets(&c->it, r, &off);
    int64_t n = c->it.inner, s = c->it.inner_stride[0];
    int64_t *acc = c->acc + pos0;
    switch (c->t) {
      case MX_UINT8: RESOLVE_LOOP(uint8_t, 0)
      case MX_UINT16: RESOLVE_LOOP(uint16_t, 0)
      case MX_UINT32: RESOLVE_LOOP(uint32_t, 0)
      case MX_UINT64: RESOLVE_LOOP(uint64_t, 0)
      case MX_INT8: RESOLVE_LOOP(int8_t, 1)
      case MX_INT16: RESOLVE_LOOP(int16_t, 1)
      case MX_INT32: RESOLVE_LOOP(int32_t, 1)
      case MX_INT64: RESOLVE_LOOP(int64_t, 1)
      default: note_bad(c, pos0); break; /* front ends admit integer indices only */
    }
  }
}
#undef RESOLVE_LOOP

mx_status idx_resolve(const char *op, mx_array idx, const int64_t *shape, int ndim, int axis,
                      int64_t dim, int64_t win, int64_t mul, int64_t *acc, bool accumulate) {
  resolve_ctx c;
  int64_t strides[MX_MAX_NDIM];
  broadcast_strides(idx, shape, ndim, strides);
  const int64_t *sp[1] = {strides};
  nd_iter_init(&c.it, shape, ndim, sp, 1);
  if (c.it.outer == 0) return MX_OK;
  c.base = array_ptr(idx);
  c.t = idx->dtype;
  c.dim = dim;
  c.hi = dim - win;
  c.mul = mul;
  c.acc = acc;
  c.accumulate = accumulate;
  atomic_init(&c.bad, INT64_MAX);
  int64_t grain = c.it.inner >= 16384 ? 1 : 16384 / c.it.inner;
  parallel_for(c.it.outer, grain, resolve_range, &c);
  int64_t bad = atomic_load(&c.bad);
  if (bad == INT64_MAX) return MX_OK;
  if (!mx_dtype_is_integer(idx->dtype))
    return set_error(MX_ERR_DTYPE, "%s: indices must be integers, got %s", op,
                     mx_dtype_name(idx->dtype));
  /* Re-read the offending value for the message. */
  int64_t eoff = 0, rem = bad;
  for (int d = ndim - 1; d >= 0; d--) {
    eoff += (rem % shape[d]) * strides[d];
    rem /= shape[d];
  }
  char val[32];
  if (idx->dtype == MX_UINT64) {
    uint64_t u;
    memcpy(&u, (const char *)c.base + (ptrdiff_t)eoff * 8, 8);
    snprintf(val, sizeof val, "%llu", (unsigned long long)u);
  } else {
    snprintf(val, sizeof val, "%lld", (long long)load_i64(c.base, idx->dtype, eoff));
  }
  if (win > 1)
    return set_error(MX_ERR_INVALID_ARG,
                     "%s: index %s is out of range for axis %d of size %lld with slice size %lld",
                     op, val, axis, (long long)dim, (long long)win);
  return set_error(MX_ERR_INVALID_ARG, "%s: index %s is out of range for axis %d of size %lld",
                   op, val, axis, (long long)dim);
}

/* ---- strided block copy ---- */

typedef struct scopy_ctx {
  char *dst;
  const char *src;
  size_t esz;
  nd_iter it;
  int64_t chunk, nchunks; /* a run is split into nchunks pieces of chunk elements */
} scopy_ctx;

static void scopy_range(void *p, int64_t begin, int64_t end) {
  scopy_ctx *c = p;
  ptrdiff_t esz = (ptrdiff_t)c->esz;
  for (int64_t w = begin; w < end; w++) {
    int64_t r = w / c->nchunks, k0 = (w % c->nchunks) * c->chunk;
    int64_t n = c->it.inner - k0 < c->chunk ? c->it.inner - k0 : c->chunk;
    int64_t off[2];
    nd_iter_offsets(&c->it, r, off);
    int64_t ds = c->it.inner_stride[0], ss = c->it.inner_stride[1];
    idx_copy_run(c->dst + (off[0] + k0 * ds) * esz, ds, c->src + (off[1] + k0 * ss) * esz, ss, n,
                 c->esz);
  }
}

void idx_strided_copy(void *dst, const int64_t *dst_strides, const void *src,
                      const int64_t *src_strides, const int64_t *shape, int ndim, size_t esz) {
  scopy_ctx c;
  const int64_t *sp[2] = {dst_strides, src_strides};
  nd_iter_init(&c.it, shape, ndim, sp, 2);
  if (c.it.outer == 0) return;
  c.dst = dst;
  c.src = src;
  c.esz = esz;
  /* Long runs are cut into ~256 KiB pieces so one big run still spreads. */
  int64_t run_bytes = c.it.inner * (int64_t)esz;
  c.chunk = run_bytes > (1 << 20) ? (1 << 18) / (int64_t)esz : c.it.inner;
  c.nchunks = (c.it.inner + c.chunk - 1) / c.chunk;
  int64_t piece = c.chunk * (int64_t)esz;
  int64_t grain = piece >= 65536 ? 1 : 65536 / (piece ? piece : 1);
  parallel_for(c.it.outer * c.nchunks, grain, scopy_range, &c);
}

/* ---- slice: a view ---- */

mx_status cpu_slice(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const slice_params *p = params;
  mx_array x = in[0];
  int64_t strides[MX_MAX_NDIM];
  int64_t off = x->offset;
  for (int d = 0; d < out->ndim; d++) {
    strides[d] = x->strides[d] * p->step[d];
    /* An empty result keeps the base offset: start may sit past the end. */
    if (out->size) off += p->start[d] * x->strides[d];
  }
  array_set_view(out, x, strides, off);
  return MX_OK;
}

/* ---- slice_update: copy of src (donated when possible), then the update
 * written through the slice's strides ---- */

mx_status cpu_slice_update(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const slice_params *p = params;
  mx_array src = in[0], upd = in[1];
  if (out->size == 0) return array_alloc(out);
  if (upd->size == 0) {
    array_set_view(out, src, src->strides, src->offset);
    return MX_OK;
  }
  mx_status st = idx_copy_input(out, src);
  if (st < 0) return st;
  size_t esz = mx_dtype_size(out->dtype);
  int64_t ds[MX_MAX_NDIM], doff = 0;
  for (int d = 0; d < out->ndim; d++) {
    ds[d] = out->strides[d] * p->step[d];
    doff += p->start[d] * out->strides[d];
  }
  idx_strided_copy((char *)array_ptr(out) + (ptrdiff_t)doff * (ptrdiff_t)esz, ds,
                   array_ptr(upd), upd->strides, upd->shape, upd->ndim, esz);
  return MX_OK;
}

/* ---- masked_scatter ----
 * in = {a, mask, src}: mask has a's leading shape; each true mask element
 * selects the block of a's trailing dims and fills it, in row-major order,
 * from the next block of src (shape (k, trailing...)). */

mx_status cpu_masked_scatter(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array a = in[0], mask = in[1], src = in[2];
  int64_t nm = mask->size;
  if (nm == 0 || out->size == 0) return idx_copy_input(out, a);
  int64_t tail = out->size / nm;
  size_t esz = mx_dtype_size(out->dtype);

  const uint8_t *mp = array_ptr(mask);
  uint8_t *mcopy = NULL;
  if (!mask->row_contiguous) {
    mcopy = idx_scratch((size_t)nm);
    if (!mcopy) return mx_last_error_code();
    array_copy_to_row_major(mask, mcopy, MX_BOOL);
    mp = mcopy;
  }
  int64_t count = 0;
  for (int64_t i = 0; i < nm; i++) count += mp[i] != 0;
  /* Checked before anything is allocated, so a failed eval leaves no buffer. */
  if (count > src->shape[0]) {
    idx_scratch_free(mcopy, (size_t)nm);
    return set_error(MX_ERR_INVALID_ARG,
                     "masked_scatter: the mask selects %lld blocks but the source has only %lld",
                     (long long)count, (long long)src->shape[0]);
  }
  const char *sp = array_ptr(src);
  char *scopy = NULL;
  size_t sbytes = (size_t)(count * tail) * esz;
  if (!src->row_contiguous && count) {
    /* Only the first `count` blocks are read: copy just those. */
    int64_t shp[MX_MAX_NDIM];
    memcpy(shp, src->shape, (size_t)src->ndim * sizeof *shp);
    shp[0] = count;
    int64_t rm[MX_MAX_NDIM];
    row_major_strides(shp, src->ndim, rm);
    scopy = idx_scratch(sbytes);
    if (!scopy) {
      idx_scratch_free(mcopy, (size_t)nm);
      return mx_last_error_code();
    }
    idx_strided_copy(scopy, rm, sp, src->strides, shp, src->ndim, esz);
    sp = scopy;
  }
  mx_status st = idx_copy_input(out, a);
  if (st == MX_OK) {
    char *op = array_ptr(out);
    size_t blk = (size_t)tail * esz;
    int64_t k = 0;
    for (int64_t i = 0; i < nm; i++)
      if (mp[i]) memcpy(op + (size_t)i * blk, sp + (size_t)(k++) * blk, blk);
  }
  idx_scratch_free(scopy, sbytes);
  idx_scratch_free(mcopy, (size_t)nm);
  return st;
}
