/* scatter.c — kernels of scatter, scatter_add/prod/max/min and
 * put_along_axis.
 *
 * Updates are applied in row-major order of the index space, so duplicate
 * indices behave as a sequential loop: plain scatter keeps the LAST update
 * for an element (as MLX's CPU backend and NumPy's fancy assignment);
 * add/prod/max/min fold in every update in that order. Parallel splits only
 * ever separate different output elements, so results do not depend on the
 * thread count. All indices are checked before the output is allocated. */
#include "indexing.h"

/* ---- the reductions: o[k*os] = op(o[k*os], u[k*us]) ---- */

typedef void (*red_fn)(char *o, int64_t os, const char *u, int64_t us, int64_t n);

#define RED_DEF(NAME, T, EXPR)                                                             \
  static void NAME(char *o_, int64_t os, const char *u_, int64_t us, int64_t n) {          \
    T *o = (T *)(void *)o_;                                                                \
    const T *u = (const T *)(const void *)u_;                                              \
    for (int64_t k = 0; k < n; k++) {                                                      \
      T x = u[k * us], y = o[k * os];                                                      \
      o[k * os] = (EXPR);                                                                  \
    }                                                                                      \
  }

/* Integer add/mul go through uint64_t so overflow wraps without UB. */
#define RED_INT(SUF, T)                                                                    \
  RED_DEF(add_##SUF, T, (T)((uint64_t)y + (uint64_t)x))                                    \
  RED_DEF(prod_##SUF, T, (T)((uint64_t)y * (uint64_t)x))                                   \
  RED_DEF(max_##SUF, T, y > x ? y : x)                                                     \
  RED_DEF(min_##SUF, T, y < x ? y : x)
RED_INT(u8, uint8_t)
RED_INT(u16, uint16_t)
RED_INT(u32, uint32_t)
RED_INT(u64, uint64_t)
RED_INT(i8, int8_t)
RED_INT(i16, int16_t)
RED_INT(i32, int32_t)
RED_INT(i64, int64_t)

/* bool: add and max are OR, prod and min are AND (MLX's bool arithmetic). */
RED_DEF(or_b, uint8_t, (uint8_t)((y | x) != 0))
RED_DEF(and_b, uint8_t, (uint8_t)(y && x))

#define RED_FLT(SUF, T)                                                                    \
  RED_DEF(add_##SUF, T, y + x)                                                             \
  RED_DEF(prod_##SUF, T, y * x)                                                            \
  RED_DEF(max_##SUF, T, y > x ? y : x)                                                     \
  RED_DEF(min_##SUF, T, y < x ? y : x)
RED_FLT(f32, float)
RED_FLT(f64, double)

/* Half types: each step in f32, rounded back (as MLX's half arithmetic). */
#define RED_HALF(SUF, TO, FROM)                                                            \
  RED_DEF(add_##SUF, uint16_t, FROM(TO(y) + TO(x)))                                        \
  RED_DEF(prod_##SUF, uint16_t, FROM(TO(y) * TO(x)))                                       \
  RED_DEF(max_##SUF, uint16_t, TO(y) > TO(x) ? y : x)                                      \
  RED_DEF(min_##SUF, uint16_t, TO(y) < TO(x) ? y : x)
RED_HALF(f16, f16_to_f32, f32_to_f16)
RED_HALF(bf16, bf16_to_f32, f32_to_bf16)

/* complex64: max/min order lexicographically (real, then imaginary), as
 * MLX's complex comparison operators. */
static inline bool c64_gt(c64_t a, c64_t b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b));
}
RED_DEF(add_c64, c64_t, y + x)
RED_DEF(prod_c64, c64_t, y * x)
RED_DEF(max_c64, c64_t, c64_gt(y, x) ? y : x)
RED_DEF(min_c64, c64_t, c64_gt(x, y) ? y : x)

static red_fn red_lookup(int mode, mx_dtype t) {
#define ROW(SUF) {add_##SUF, prod_##SUF, max_##SUF, min_##SUF}
  static const red_fn table[MX_DTYPE_COUNT][4] = {
      [MX_BOOL] = {or_b, and_b, or_b, and_b},
      [MX_UINT8] = ROW(u8),   [MX_UINT16] = ROW(u16), [MX_UINT32] = ROW(u32),
      [MX_UINT64] = ROW(u64), [MX_INT8] = ROW(i8),    [MX_INT16] = ROW(i16),
      [MX_INT32] = ROW(i32),  [MX_INT64] = ROW(i64),  [MX_FLOAT16] = ROW(f16),
      [MX_FLOAT32] = ROW(f32), [MX_FLOAT64] = ROW(f64), [MX_BFLOAT16] = ROW(bf16),
      [MX_COMPLEX64] = ROW(c64),
  };
#undef ROW
  if (mode <= SCATTER_NONE || mode > SCATTER_MIN || t < 0 || t >= MX_DTYPE_COUNT) return NULL;
  return table[t][mode - 1];
}

/* Applies one run: plain scatter copies, the others reduce. */
static inline void apply_run(red_fn fn, char *o, int64_t os, const char *u, int64_t us,
                             int64_t n, size_t esz) {
  if (fn)
    fn(o, os, u, us, n);
  else
    idx_copy_run(o, os, u, us, n, esz);
}

/* ---- scatter ---- */

typedef struct scat_ctx {
  char *out;
  const char *upd;
  size_t esz;
  red_fn fn;
  const int64_t *off;   /* per update block: output offset of its window */
  const int64_t *ubase; /* per update block: offset into updates (parallel path) */
  int64_t nupd;
  nd_iter it; /* over the window: {output strides, update strides} */
  int64_t chunk, nchunks;
} scat_ctx;

/* Parallel path: tasks own disjoint window positions and walk all update
 * blocks in order for them, so per-element order is the sequential one. */
static void scat_range(void *p, int64_t begin, int64_t end) {
  const scat_ctx *c = p;
  ptrdiff_t esz = (ptrdiff_t)c->esz;
  int64_t os = c->it.inner_stride[0], us = c->it.inner_stride[1];
  for (int64_t w = begin; w < end; w++) {
    int64_t r = w / c->nchunks, k0 = (w % c->nchunks) * c->chunk;
    int64_t n = c->it.inner - k0 < c->chunk ? c->it.inner - k0 : c->chunk;
    int64_t o[2];
    nd_iter_offsets(&c->it, r, o);
    for (int64_t i = 0; i < c->nupd; i++)
      apply_run(c->fn, c->out + (c->off[i] + o[0] + k0 * os) * esz, os,
                c->upd + (c->ubase[i] + o[1] + k0 * us) * esz, us, n, c->esz);
  }
}

mx_status cpu_scatter(mx_array out, mx_array const *in, int nin, const void *params) {
  const scatter_params *p = params;
  mx_array a = in[0], upd = in[nin - 1];
  int nd = a->ndim;
  int idx_ndim = upd->ndim - nd;
  int64_t nupd = shape_size(upd->shape, idx_ndim);
  const int64_t *wshape = upd->shape + idx_ndim;
  int64_t wsize = shape_size(wshape, nd);
  if (nupd == 0 || wsize == 0) return idx_copy_input(out, a);

  int64_t rm[MX_MAX_NDIM];
  row_major_strides(out->shape, nd, rm);
  size_t obytes = (size_t)nupd * sizeof(int64_t);
  int64_t *off = idx_scratch(2 * obytes);
  if (!off) return mx_last_error_code();
  int64_t *ubase = off + nupd;
  mx_status st = MX_OK;
  if (p->nidx == 0) off[0] = 0;
  for (int k = 0; k < p->nidx && st == MX_OK; k++) {
    int ax = p->axes[k];
    st = idx_resolve(out->prim->name, in[1 + k], upd->shape, idx_ndim, ax, a->shape[ax],
                     wshape[ax], rm[ax], off, k > 0);
  }
  if (st == MX_OK) st = idx_copy_input(out, a);
  if (st != MX_OK) {
    idx_scratch_free(off, 2 * obytes);
    return st;
  }

  scat_ctx c;
  c.out = array_ptr(out);
  c.upd = array_ptr(upd);
  c.esz = mx_dtype_size(out->dtype);
  c.fn = red_lookup(p->mode, out->dtype);
  c.off = off;
  c.ubase = ubase;
  c.nupd = nupd;
  const int64_t *sp[2] = {rm, upd->strides + idx_ndim};
  nd_iter_init(&c.it, wshape, nd, sp, 2);

  /* Update-block offsets: an odometer over the index dims. */
  {
    int64_t cnt[MX_MAX_NDIM] = {0}, ub = 0;
    for (int64_t i = 0; i < nupd; i++) {
      ubase[i] = ub;
      for (int d = idx_ndim - 1; d >= 0; d--) {
        ub += upd->strides[d];
        if (++cnt[d] < upd->shape[d]) break;
        ub -= cnt[d] * upd->strides[d];
        cnt[d] = 0;
      }
    }
  }

  /* Window positions of different update blocks can only collide on
   * different window coordinates when an indexed axis has a window wider
   * than 1; otherwise window positions partition the output. */
  bool disjoint = true;
  for (int k = 0; k < p->nidx; k++)
    if (wshape[p->axes[k]] != 1) disjoint = false;
  int64_t total = nupd * wsize;
  /* Few long window runs (a 2-D embedding-gradient scatter has one): cut
   * them so the pool has pieces to share. */
  c.chunk = c.it.inner;
  if (c.it.outer < 16) {
    int64_t want = c.it.inner * c.it.outer / 16;
    c.chunk = want < 1024 ? 1024 : want;
    if (c.chunk > c.it.inner) c.chunk = c.it.inner;
  }
  c.nchunks = (c.it.inner + c.chunk - 1) / c.chunk;
  if (disjoint && total >= 65536 && c.it.outer * c.nchunks > 1) {
    int64_t per_item = c.chunk * nupd;
    int64_t grain = per_item >= 16384 ? 1 : 16384 / per_item;
    parallel_for(c.it.outer * c.nchunks, grain, scat_range, &c);
  } else {
    ptrdiff_t esz = (ptrdiff_t)c.esz;
    int64_t os = c.it.inner_stride[0], us = c.it.inner_stride[1];
    for (int64_t i = 0; i < nupd; i++)
      for (int64_t r = 0; r < c.it.outer; r++) {
        int64_t o[2];
        nd_iter_offsets(&c.it, r, o);
        apply_run(c.fn, c.out + (off[i] + o[0]) * esz, os, c.upd + (ubase[i] + o[1]) * esz, us,
                  c.it.inner, c.esz);
      }
  }
  idx_scratch_free(off, 2 * obytes);
  return MX_OK;
}

/* ---- put_along_axis: out[..., idx[..., j, ...], ...] = values[..., j, ...]
 * in = {a (broadcast to out), idx, values (both with idx's shape)}. Writes
 * of different positions off the axis never collide, so those are split
 * across the pool and each walks its axis in order (last write wins). ---- */

typedef struct put_ctx {
  char *out;
  const char *upd;
  size_t esz;
  const int64_t *off; /* row-major over idx's shape: index * out axis stride */
  nd_iter it;         /* over idx's shape without the axis: {out, values, off} */
  int64_t alen, ustep, fstep;
} put_ctx;

static void put_range(void *p, int64_t begin, int64_t end) {
  const put_ctx *c = p;
  ptrdiff_t esz = (ptrdiff_t)c->esz;
  int64_t os = c->it.inner_stride[0], us = c->it.inner_stride[1], fs = c->it.inner_stride[2];
  for (int64_t r = begin; r < end; r++) {
    int64_t o[3];
    nd_iter_offsets(&c->it, r, o);
    for (int64_t k = 0; k < c->it.inner; k++) {
      char *ob = c->out + (o[0] + k * os) * esz;
      const char *ub = c->upd + (o[1] + k * us) * esz;
      const int64_t *fb = c->off + o[2] + k * fs;
      for (int64_t j = 0; j < c->alen; j++)
        memcpy(ob + fb[j * c->fstep] * esz, ub + j * c->ustep * esz, c->esz);
    }
  }
}

mx_status cpu_put_along_axis(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const along_params *p = params;
  mx_array a = in[0], idx = in[1], upd = in[2];
  int ax = p->axis, nd = out->ndim;
  if (idx->size == 0 || out->size == 0) return idx_copy_input(out, a);
  int64_t rm[MX_MAX_NDIM], irm[MX_MAX_NDIM];
  row_major_strides(out->shape, nd, rm);
  row_major_strides(idx->shape, nd, irm);
  size_t obytes = (size_t)idx->size * sizeof(int64_t);
  int64_t *off = idx_scratch(obytes);
  if (!off) return mx_last_error_code();
  mx_status st = idx_resolve(out->prim->name, idx, idx->shape, nd, ax, out->shape[ax], 1, rm[ax],
                             off, false);
  if (st == MX_OK) st = idx_copy_input(out, a);
  if (st == MX_OK) {
    put_ctx c;
    c.out = array_ptr(out);
    c.upd = array_ptr(upd);
    c.esz = mx_dtype_size(out->dtype);
    c.off = off;
    c.alen = idx->shape[ax];
    c.ustep = upd->strides[ax];
    c.fstep = irm[ax];
    int64_t shp[MX_MAX_NDIM], s0[MX_MAX_NDIM], s1[MX_MAX_NDIM], s2[MX_MAX_NDIM];
    int m = 0;
    for (int d = 0; d < nd; d++) {
      if (d == ax) continue;
      shp[m] = idx->shape[d];
      s0[m] = rm[d];
      s1[m] = upd->strides[d];
      s2[m] = irm[d];
      m++;
    }
    const int64_t *sp[3] = {s0, s1, s2};
    nd_iter_init(&c.it, shp, m, sp, 3);
    int64_t per_run = c.it.inner * c.alen;
    int64_t grain = per_run >= 16384 ? 1 : 16384 / (per_run ? per_run : 1);
    parallel_for(c.it.outer, grain, put_range, &c);
  }
  idx_scratch_free(off, obytes);
  return st;
}
