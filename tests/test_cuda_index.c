/* test_cuda_index.c — the index family's GPU kernels against the CPU ones
 * on the same host inputs (each op evaluated once on the CPU stream, once
 * on the GPU stream). Without a usable GPU it says so and passes (CI has
 * none).
 *
 * Tolerances:
 *   - exact (byte equality) for every data-movement op (slice, slice_update,
 *     take, gather, take_along_axis, concatenate, pad, roll, where), fills,
 *     arange, eye/tri/tril/triu, integer and bool elementwise ops, floor /
 *     ceil / round / sign / classification / nan_to_num / float remainder
 *     (exact IEEE operations), and the random streams that involve no
 *     transcendental function (bits, uniform, randint, bernoulli);
 *   - logaddexp / arctan2 f32: within 2 ulp (the GPU takes exp/log1p/atan2
 *     in double rounded to f32, glibc's f32 functions are within 1 ulp);
 *     f16/bf16 outputs within one ulp of the output type;
 *   - normal / truncated_normal / gumbel: their logf is computed in double
 *     and rounded (correctly rounded); glibc's logf is correctly rounded
 *     but for rare near-ties, so at most 0.1% of the samples may differ, each
 *     by at most one ulp of the output dtype (f32: 2 ulp through erfinv).
 * Every covered case also asserts gpu_fallback_count() did not grow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

/* ---------------------------------------------------------------- helpers */

/* Host-made input: normal values scaled by `scale`, cast to t. */
static mx_array input(const int64_t *shape, int nd, mx_dtype t, uint64_t seed, double scale) {
  mx_set_default_device(cpu);
  mx_array key = mx_random_key(seed);
  mx_array u = mx_random_normal(shape, nd, MX_FLOAT32, 0.0, scale, key);
  mx_array r = mx_astype(u, t);
  mx_eval1(r);
  mx_array_free(key);
  mx_array_free(u);
  mx_set_default_device(gpu);
  return r;
}

static mx_array idx_array(const int64_t *v, const int64_t *shape, int nd, mx_dtype t) {
  mx_set_default_device(cpu);
  mx_array a = mx_array_from_data(v, shape, nd, MX_INT64);
  mx_array r = mx_astype(a, t);
  mx_eval1(r);
  mx_array_free(a);
  mx_set_default_device(gpu);
  return r;
}

/* Byte equality of two results (same dtype and shape). */
static bool same_bytes(mx_array a, mx_array b) {
  if (!a || !b || mx_array_dtype(a) != mx_array_dtype(b) || mx_array_ndim(a) != mx_array_ndim(b))
    return false;
  if (memcmp(mx_array_shape(a), mx_array_shape(b), (size_t)mx_array_ndim(a) * sizeof(int64_t)))
    return false;
  const void *x = mx_array_data(a), *y = mx_array_data(b);
  return x && y && memcmp(x, y, mx_array_nbytes(a)) == 0;
}

/* Worst |a - b| in ulps of the dtype (f32 / f16 / bf16), NaNs matching. */
static double ulp_err(mx_array a, mx_array b, int64_t *ndiff) {
  mx_set_default_device(cpu);
  mx_array a32 = mx_astype(a, MX_FLOAT32), b32 = mx_astype(b, MX_FLOAT32);
  mx_set_default_device(gpu);
  const float *x = mx_array_data(a32), *y = mx_array_data(b32);
  int bits = mx_array_dtype(a) == MX_FLOAT16 ? 11 : mx_array_dtype(a) == MX_BFLOAT16 ? 8 : 24;
  double worst = 0;
  *ndiff = 0;
  for (int64_t i = 0; x && y && i < mx_array_size(a); i++) {
    if (isnan(x[i]) && isnan(y[i])) continue;
    if (x[i] == y[i]) continue;
    (*ndiff)++;
    double m = fmax(fabs((double)x[i]), fabs((double)y[i]));
    int e;
    frexp(m, &e);
    double ulp = ldexp(1.0, e - bits);
    if (bits == 11 && ulp < ldexp(1.0, -24)) ulp = ldexp(1.0, -24);
    double d = fabs((double)x[i] - y[i]) / ulp;
    if (!(d <= worst)) worst = d;
  }
  mx_array_free(a32);
  mx_array_free(b32);
  return (x && y) ? worst : 1e30;
}

/* Runs make(ctx) on the CPU and on the GPU, evaluates both; on the GPU the
 * fallback counter must not grow (when `covered`). */
typedef mx_array (*make_fn)(void *ctx);
static int64_t last_fallbacks;

static void run_both(make_fn make, void *ctx, mx_array *rc, mx_array *rg) {
  mx_set_default_device(cpu);
  *rc = make(ctx);
  if (*rc) mx_eval1(*rc);
  mx_set_default_device(gpu);
  int64_t f0 = gpu_fallback_count();
  *rg = make(ctx);
  if (*rg) mx_eval1(*rg);
  last_fallbacks = gpu_fallback_count() - f0;
}

static void expect_same(const char *what, make_fn make, void *ctx, bool covered) {
  mx_array rc, rg;
  run_both(make, ctx, &rc, &rg);
  char msg[200];
  snprintf(msg, sizeof msg, "%s: GPU result differs from the CPU's (%s)", what, mx_last_error());
  CHECK_MSG(rc && rg && same_bytes(rc, rg), msg);
  if (covered) {
    snprintf(msg, sizeof msg, "%s: %lld node(s) fell back to the CPU", what,
             (long long)last_fallbacks);
    CHECK_MSG(last_fallbacks == 0, msg);
  }
  mx_array_free(rc);
  mx_array_free(rg);
}

/* Bool results compared as truth values: the CPU's isinf stores glibc's
 * isinf() (-1 for -inf) into the bool byte, 0xff (reported to the lead);
 * the GPU stores 1. */
static void expect_same_truth(const char *what, make_fn make, void *ctx) {
  mx_array rc, rg;
  run_both(make, ctx, &rc, &rg);
  bool ok = rc && rg && mx_array_size(rc) == mx_array_size(rg) &&
            mx_array_dtype(rc) == MX_BOOL && mx_array_dtype(rg) == MX_BOOL;
  const uint8_t *x = ok ? mx_array_data(rc) : NULL, *y = ok ? mx_array_data(rg) : NULL;
  for (int64_t i = 0; x && y && i < mx_array_size(rc); i++)
    if (!x[i] != !y[i] || y[i] > 1) ok = false;
  char msg[200];
  snprintf(msg, sizeof msg, "%s: GPU truth values differ from the CPU's", what);
  CHECK_MSG(ok && x && y, msg);
  snprintf(msg, sizeof msg, "%s: %lld node(s) fell back to the CPU", what, (long long)last_fallbacks);
  CHECK_MSG(last_fallbacks == 0, msg);
  mx_array_free(rc);
  mx_array_free(rg);
}

static const mx_dtype all_types[] = {MX_BOOL,  MX_INT8,    MX_UINT8,   MX_INT16, MX_UINT16,
                                     MX_INT32, MX_UINT32,  MX_INT64,   MX_FLOAT16,
                                     MX_BFLOAT16, MX_FLOAT32, MX_COMPLEX64};
#define NTYPES (sizeof all_types / sizeof *all_types)

/* ---------------------------------------------------------------- slices */

typedef struct sl_ctx {
  mx_array a, u;
  int64_t start[4], stop[4], step[4];
  int n;
} sl_ctx;

/* The view itself (mx_array_data reads it through its strides). */
static mx_array mk_slice(void *p) {
  sl_ctx *c = p;
  return mx_slice(c->a, c->start, c->stop, c->step, c->n);
}

static mx_array mk_slice_update(void *p) {
  sl_ctx *c = p;
  return mx_slice_update(c->a, c->u, c->start, c->stop, c->step, c->n);
}

static void test_slices(void) {
  int64_t shp[3] = {5, 33, 7};
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    mx_array a = input(shp, 3, dt, 10 + t, 3.0);
    sl_ctx c = {a, NULL, {1, 2, 0}, {4, 30, 7}, {1, 3, 1}, 3};
    expect_same("slice step 3", mk_slice, &c, true);
    sl_ctx r = {a, NULL, {4, 32, 6}, {0, 0, 0}, {-1, -2, -3}, 3};
    expect_same("slice reversed", mk_slice, &r, true);
    /* slice_update: a (5,33,7) target, an update (3,10,7) transposed view. */
    int64_t us[3] = {3, 7, 10};
    mx_array u0 = input(us, 3, dt, 20 + t, 3.0);
    int perm[3] = {0, 2, 1};
    mx_array u = mx_transpose(u0, perm, 3);
    sl_ctx su = {a, u, {1, 2, 0}, {4, 32, 7}, {1, 3, 1}, 3};
    expect_same("slice_update strided", mk_slice_update, &su, true);
    /* Broadcast update (1,1,7) into a reversed slice. */
    int64_t bs[3] = {1, 1, 7};
    mx_array ub = input(bs, 3, dt, 30 + t, 3.0);
    sl_ctx sb = {a, ub, {4, 30, 0}, {0, 0, 7}, {-2, -5, 1}, 3};
    expect_same("slice_update broadcast reversed", mk_slice_update, &sb, true);
    mx_array_free(a);
    mx_array_free(u0);
    mx_array_free(u);
    mx_array_free(ub);
  }
}

/* The KV-cache write: a GPU-resident cache held only by the update node is
 * updated in place (same device buffer), and only the update region moves. */
static void test_slice_update_in_place(void) {
  int64_t cs[4] = {1, 8, 64, 16}, us[4] = {1, 8, 1, 16};
  mx_array host = input(cs, 4, MX_BFLOAT16, 5, 1.0);
  mx_array upd = input(us, 4, MX_BFLOAT16, 6, 1.0);
  mx_set_default_device(gpu);
  /* A GPU-made copy of the cache (nobody else holds its buffer). */
  mx_array one = mx_array_scalar(1.0, MX_BFLOAT16);
  mx_array cache = mx_multiply(host, one);
  mx_eval1(cache);
  void *dptr = cache->buf ? cache->buf->dptr : NULL;
  int64_t start[4] = {0, 0, 37, 0}, stop[4] = {1, 8, 38, 16};
  int64_t f0 = gpu_fallback_count();
  mx_array out = mx_slice_update(cache, upd, start, stop, NULL, 4);
  mx_array_free(cache); /* the update node now holds the only reference */
  mx_eval1(out);
  CHECK_MSG(gpu_fallback_count() == f0, "slice_update in place fell back to the CPU");
  CHECK_MSG(out && out->buf && dptr && out->buf->dptr == dptr,
            "slice_update of a donated cache did not reuse its device buffer");
  /* And the contents equal the CPU's. */
  mx_set_default_device(cpu);
  mx_array ref = mx_slice_update(host, upd, start, stop, NULL, 4);
  mx_eval1(ref);
  CHECK_MSG(same_bytes(out, ref), "slice_update in place: contents differ from the CPU");
  /* A cache still held elsewhere is copied, not overwritten. */
  mx_set_default_device(gpu);
  mx_array c2 = mx_multiply(host, one);
  mx_eval1(c2);
  mx_array o2 = mx_slice_update(c2, upd, start, stop, NULL, 4);
  mx_eval1(o2);
  CHECK_MSG(o2 && c2->buf != o2->buf, "slice_update overwrote a cache someone still holds");
  CHECK_MSG(same_bytes(c2, host), "the held cache changed");
  CHECK_MSG(same_bytes(o2, ref), "slice_update copy: contents differ from the CPU");
  mx_array_free(o2);
  mx_array_free(c2);
  mx_array_free(ref);
  mx_array_free(out);
  mx_array_free(one);
  mx_array_free(host);
  mx_array_free(upd);
}

/* ---------------------------------------------------------------- take / gather */

typedef struct tk_ctx {
  mx_array a, i, j;
  int axis;
} tk_ctx;

static mx_array mk_take(void *p) {
  tk_ctx *c = p;
  return mx_take(c->a, c->i, c->axis);
}
static mx_array mk_take_along(void *p) {
  tk_ctx *c = p;
  return mx_take_along_axis(c->a, c->i, c->axis);
}
static mx_array mk_gather2(void *p) {
  tk_ctx *c = p;
  mx_array idx[2] = {c->i, c->j};
  int axes[2] = {0, 1};
  int64_t ss[3] = {1, 1, mx_array_dim(c->a, 2)};
  return mx_gather(c->a, idx, 2, axes, ss);
}
/* take with an index array computed on the GPU (device-only contents). */
static mx_array mk_take_dev_idx(void *p) {
  tk_ctx *c = p;
  mx_array zero = mx_array_scalar(0, mx_array_dtype(c->i));
  mx_array i2 = mx_add(c->i, zero);
  mx_array r = mx_take(c->a, i2, c->axis);
  mx_array_free(zero);
  mx_array_free(i2);
  return r;
}

static void test_take(void) {
  /* Embedding-like table, every dtype; indices of several dtypes with
   * negatives (wrapped once). */
  int64_t ts[2] = {1000, 64};
  int64_t iv[7] = {0, 999, -1, 5, -1000, 500, 5};
  int64_t is1[1] = {7}, is2[2] = {1, 7};
  const mx_dtype idt[4] = {MX_INT32, MX_INT64, MX_INT16, MX_INT8};
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    mx_array a = input(ts, 2, dt, 40 + t, 3.0);
    mx_array ix = idx_array(iv, is1, 1, idt[t % 4] == MX_INT8 ? MX_INT16 : idt[t % 4]);
    tk_ctx c = {a, ix, NULL, 0};
    expect_same("take rows", mk_take, &c, true);
    c.axis = 1;
    mx_array iy = idx_array((const int64_t[]){0, 63, -64, 7, 1, 2, 3}, is2, 2, MX_INT32);
    c.i = iy;
    expect_same("take axis 1", mk_take, &c, true);
    c.axis = MX_AXIS_NONE;
    expect_same("take flattened", mk_take, &c, true);
    /* transposed table */
    mx_array at = mx_transpose(a, (const int[]){1, 0}, 2);
    tk_ctx ct = {at, iy, NULL, 0};
    expect_same("take from transposed", mk_take, &ct, true);
    mx_array_free(at);
    mx_array_free(ix);
    mx_array_free(iy);
    mx_array_free(a);
  }
  /* Unsigned and 0-d indices; an index living only on the device. */
  {
    mx_array a = input(ts, 2, MX_BFLOAT16, 3, 1.0);
    mx_array u = idx_array((const int64_t[]){3, 999, 0}, (const int64_t[]){3}, 1, MX_UINT32);
    tk_ctx c = {a, u, NULL, 0};
    expect_same("take uint32 indices", mk_take, &c, true);
    mx_array z = idx_array((const int64_t[]){-7}, NULL, 0, MX_INT64);
    c.i = z;
    expect_same("take 0-d index", mk_take, &c, true);
    c.i = u;
    expect_same("take device-only index", mk_take_dev_idx, &c, true);
    mx_array_free(z);
    mx_array_free(u);
    mx_array_free(a);
  }
  /* Bad indices: the same error on both devices, nothing written. */
  {
    mx_array a = input(ts, 2, MX_FLOAT32, 3, 1.0);
    const int64_t bad[3][3] = {{0, 1000, 2}, {-1001, 0, 0}, {4, 5, 1 << 20}};
    for (int k = 0; k < 3; k++) {
      mx_array i = idx_array(bad[k], (const int64_t[]){3}, 1, MX_INT32);
      for (int dev = 0; dev < 2; dev++) {
        mx_set_default_device(dev ? gpu : cpu);
        mx_array r = mx_take(a, i, 0);
        mx_clear_error();
        mx_status st = mx_eval1(r);
        char msg[200];
        snprintf(msg, sizeof msg, "take bad index on %s: got %d '%s'", dev ? "gpu" : "cpu", st,
                 mx_last_error());
        CHECK_MSG(st == MX_ERR_INVALID_ARG && strstr(mx_last_error(), "is out of range for axis 0 of size 1000"),
                  msg);
        mx_array_free(r);
      }
      /* device-only bad index */
      tk_ctx c = {a, i, NULL, 0};
      mx_set_default_device(gpu);
      mx_array r = mk_take_dev_idx(&c);
      mx_clear_error();
      /* The kernel finds it (no wait for the stream at the take): the error
       * comes with the next read. */
      mx_status st = mx_eval1(r);
      const void *data = st == MX_OK ? mx_array_data(r) : NULL;
      CHECK_MSG(data == NULL && mx_last_error_code() == MX_ERR_INVALID_ARG &&
                    strstr(mx_last_error(), "out of range"),
                "reading a take with a bad device-only index must fail");
      mx_array_free(r);
      mx_array_free(i);
    }
    mx_array_free(a);
  }
  /* The 151936 x 896 bf16 shape of the benchmark, a few rows. */
  {
    int64_t es[2] = {151936, 896};
    mx_array a = input(es, 2, MX_BFLOAT16, 9, 1.0);
    int64_t rows[5] = {151935, 0, 77777, -2, 12345};
    mx_array i = idx_array(rows, (const int64_t[]){5}, 1, MX_INT32);
    tk_ctx c = {a, i, NULL, 0};
    expect_same("embedding take 151936x896", mk_take, &c, true);
    mx_array_free(i);
    mx_array_free(a);
  }
}

static void test_gather_along(void) {
  int64_t s3[3] = {6, 9, 33};
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    mx_array a = input(s3, 3, dt, 50 + t, 3.0);
    /* gather on axes 0 and 1 with broadcasting index arrays */
    mx_array i = idx_array((const int64_t[]){0, 5, -1}, (const int64_t[]){3, 1}, 2, MX_INT32);
    mx_array j = idx_array((const int64_t[]){8, 0, -9, 4}, (const int64_t[]){1, 4}, 2, MX_INT64);
    tk_ctx c = {a, i, j, 0};
    expect_same("gather 2 indices", mk_gather2, &c, true);
    /* take_along_axis on each axis, indices broadcast along the others */
    int64_t is[3] = {6, 9, 5};
    int64_t v[270];
    for (int k = 0; k < 270; k++) v[k] = (k * 7) % 33 - (k % 3 == 0 ? 33 : 0);
    mx_array ia = idx_array(v, is, 3, MX_INT32);
    tk_ctx ca = {a, ia, NULL, 2};
    expect_same("take_along_axis last", mk_take_along, &ca, true);
    int64_t is0[3] = {4, 1, 33};
    int64_t v0[132];
    for (int k = 0; k < 132; k++) v0[k] = (k * 5) % 6 - (k % 2 ? 6 : 0);
    mx_array ib = idx_array(v0, is0, 3, MX_INT64);
    tk_ctx cb = {a, ib, NULL, 0};
    expect_same("take_along_axis 0 broadcast", mk_take_along, &cb, true);
    mx_array_free(ia);
    mx_array_free(ib);
    mx_array_free(i);
    mx_array_free(j);
    mx_array_free(a);
  }
}

/* scatter (plain keeps the last duplicate; integer folds) and
 * put_along_axis (duplicates along the axis: the last wins). */
typedef struct sc_ctx {
  mx_array a, i, j, u;
  int mode;
} sc_ctx;

static mx_array mk_scatter(void *p) {
  sc_ctx *c = p;
  mx_array idx[2] = {c->i, c->j};
  int axes[2] = {0, 1};
  switch (c->mode) {
  case 0: return mx_scatter(c->a, idx, 2, c->u, axes);
  case 1: return mx_scatter_add(c->a, idx, 2, c->u, axes);
  case 2: return mx_scatter_prod(c->a, idx, 2, c->u, axes);
  case 3: return mx_scatter_max(c->a, idx, 2, c->u, axes);
  case 4: return mx_scatter_min(c->a, idx, 2, c->u, axes);
  default: return mx_put_along_axis(c->a, c->i, c->u, 1);
  }
}

static void test_scatter(void) {
  int64_t as[3] = {6, 9, 17};
  /* 4 x 5 update blocks, with repeated (i, j) pairs */
  int64_t iv[4] = {0, 5, -1, 0}, jv[5] = {8, 0, 8, -9, 3};
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    mx_array a = input(as, 3, dt, 140 + t, 20.0);
    mx_array i = idx_array(iv, (const int64_t[]){4, 1}, 2, MX_INT32);
    mx_array j = idx_array(jv, (const int64_t[]){1, 5}, 2, MX_INT64);
    int64_t us[5] = {4, 5, 1, 1, 17};
    mx_array u = input(us, 5, dt, 150 + t, 20.0);
    bool ifold = dt == MX_INT32 || dt == MX_UINT32 || dt == MX_INT64;
    for (int mode = 0; mode <= 4; mode++) {
      if (mode && dt == MX_COMPLEX64 && mode >= 3) continue;
      sc_ctx c = {a, i, j, u, mode};
      char what[64];
      snprintf(what, sizeof what, "scatter mode %d %s", mode, mx_dtype_name(dt));
      expect_same(what, mk_scatter, &c, mode == 0 || ifold);
    }
    /* put_along_axis on axis 1 with duplicate targets along it */
    int64_t pv[6 * 4 * 17];
    for (int k = 0; k < 6 * 4 * 17; k++) pv[k] = (k * 5) % 9 - (k % 4 == 0 ? 9 : 0);
    mx_array pi = idx_array(pv, (const int64_t[]){6, 4, 17}, 3, MX_INT32);
    mx_array pu = input((const int64_t[]){6, 4, 1}, 3, dt, 160 + t, 20.0);
    sc_ctx c = {a, pi, NULL, pu, 5};
    expect_same("put_along_axis", mk_scatter, &c, true);
    mx_array_free(pi);
    mx_array_free(pu);
    mx_array_free(u);
    mx_array_free(i);
    mx_array_free(j);
    mx_array_free(a);
  }
}

/* ---------------------------------------------------------------- shape ops */

typedef struct cat_ctx {
  mx_array x[3];
  int n, axis;
  int64_t pad[6];
  mx_array val;
  int mode;
} cat_ctx;

static mx_array mk_concat(void *p) {
  cat_ctx *c = p;
  return mx_concatenate(c->x, (size_t)c->n, c->axis);
}
static mx_array mk_pad(void *p) {
  cat_ctx *c = p;
  return mx_pad(c->x[0], c->pad, c->val, (mx_pad_mode)c->mode);
}
static mx_array mk_roll(void *p) {
  cat_ctx *c = p;
  return mx_roll(c->x[0], (const int64_t[]){3, -5}, 2, (const int[]){0, 2}, 2);
}

static void test_shape(void) {
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    int64_t s0[3] = {4, 7, 33}, s1[3] = {4, 1, 33}, s2t[3] = {33, 5, 4};
    mx_array a = input(s0, 3, dt, 60 + t, 3.0), b = input(s1, 3, dt, 61 + t, 3.0);
    mx_array c0 = input(s2t, 3, dt, 62 + t, 3.0);
    mx_array ct = mx_transpose(c0, (const int[]){2, 1, 0}, 3); /* (4,5,33) strided */
    cat_ctx c = {{a, b, ct}, 3, 1, {0}, NULL, 0};
    expect_same("concatenate axis 1", mk_concat, &c, true);
    cat_ctx c2 = {{a, a, a}, 3, -1, {0}, NULL, 0};
    expect_same("concatenate last axis", mk_concat, &c2, true);
    cat_ctx c3 = {{a, a}, 2, 0, {0}, NULL, 0};
    expect_same("concatenate axis 0", mk_concat, &c3, true);
    /* pad: zero, a value, edge */
    cat_ctx p = {{ct}, 1, 0, {1, 2, 0, 3, 4, 0}, NULL, MX_PAD_CONSTANT};
    expect_same("pad zero", mk_pad, &p, true);
    mx_set_default_device(cpu);
    p.val = mx_array_scalar(2.0, dt == MX_COMPLEX64 ? MX_FLOAT32 : dt);
    mx_eval1(p.val);
    mx_set_default_device(gpu);
    /* complex64: the value's float32 -> complex64 cast is the core's astype */
    expect_same("pad value", mk_pad, &p, dt != MX_COMPLEX64);
    mx_array_free(p.val);
    p.val = NULL;
    p.mode = MX_PAD_EDGE;
    expect_same("pad edge", mk_pad, &p, true);
    expect_same("roll", mk_roll, &p, true);
    mx_array_free(a);
    mx_array_free(b);
    mx_array_free(c0);
    mx_array_free(ct);
  }
}

/* ---------------------------------------------------------------- elementwise */

typedef struct ew_ctx {
  mx_array a, b, c;
  mx_array (*u)(mx_array);
  mx_array (*bin)(mx_array, mx_array);
} ew_ctx;

static mx_array mk_where(void *p) {
  ew_ctx *c = p;
  return mx_where(c->c, c->a, c->b);
}
static mx_array mk_un(void *p) {
  ew_ctx *c = p;
  return c->u(c->a);
}
static mx_array mk_bin(void *p) {
  ew_ctx *c = p;
  return c->bin(c->a, c->b);
}
static mx_array round0(mx_array a) { return mx_round(a, 0); }
static mx_array ntn(mx_array a) {
  double pi = 7.0, ni = -9.0;
  return mx_nan_to_num(a, 3.0, &pi, &ni);
}

static void test_elementwise(void) {
  int64_t s[2] = {37, 65}, sr[2] = {1, 65}, sc[2] = {37, 1};
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    mx_array a = input(s, 2, dt, 70 + t, 40.0), b = input(sr, 2, dt, 71 + t, 40.0);
    mx_array cnd = input(sc, 2, MX_BOOL, 72 + t, 1.0);
    mx_array at = mx_transpose(input(s, 2, dt, 73 + t, 40.0), (const int[]){1, 0}, 2);
    ew_ctx c = {a, b, cnd, NULL, NULL};
    expect_same("where broadcast", mk_where, &c, true);
    mx_array_free(at);
    mx_array_free(a);
    mx_array_free(b);
    mx_array_free(cnd);
  }
  /* Unary ops over the dtypes each takes, with NaN / inf / ties present. */
  const mx_dtype ut[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_INT32, MX_INT8, MX_UINT16,
                         MX_INT64, MX_BOOL};
  struct {
    const char *name;
    mx_array (*f)(mx_array);
    int ints; /* 1: also integer dtypes, 2: integers only, 3: bool only */
  } uops[] = {{"floor", mx_floor, 1},     {"ceil", mx_ceil, 1},         {"round", round0, 1},
              {"sign", mx_sign, 1},       {"isnan", mx_isnan, 0},       {"isinf", mx_isinf, 0},
              {"isfinite", mx_isfinite, 0}, {"isposinf", mx_isposinf, 0},
              {"isneginf", mx_isneginf, 0}, {"nan_to_num", ntn, 0},
              {"bitwise_invert", mx_bitwise_invert, 2}, {"logical_not", mx_logical_not, 3}};
  for (size_t k = 0; k < sizeof ut / sizeof *ut; k++) {
    mx_dtype dt = ut[k];
    bool flt = dt == MX_FLOAT32 || dt == MX_FLOAT16 || dt == MX_BFLOAT16;
    /* halves and .5 ties, NaN and infinities for floats */
    float vals[16] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.49f, 3.7f, -0.0f,
                      NAN,  INFINITY, -INFINITY, 100.25f, -7.0f, 1e-3f, 65.5f, -3.5f};
    mx_set_default_device(cpu);
    mx_array v = mx_array_from_data(vals, (const int64_t[]){16}, 1, MX_FLOAT32);
    mx_array v2 = flt ? mx_astype(v, dt) : NULL;
    if (!flt) { /* integers: wrap finite values only */
      mx_array r = mx_astype(mx_nan_to_num(v, 0, NULL, NULL), dt);
      v2 = r;
    }
    mx_array tall = mx_tile(v2, (const int64_t[]){70}, 1); /* 1120 elements */
    mx_eval1(tall);
    mx_set_default_device(gpu);
    for (size_t o = 0; o < sizeof uops / sizeof *uops; o++) {
      bool run = uops[o].ints == 0 ? flt
                 : uops[o].ints == 1 ? true
                 : uops[o].ints == 2 ? (!flt && dt != MX_BOOL)
                                     : dt == MX_BOOL;
      if (!run) continue;
      ew_ctx c = {tall, NULL, NULL, uops[o].f, NULL};
      char what[64];
      snprintf(what, sizeof what, "%s %s", uops[o].name, mx_dtype_name(dt));
      if (uops[o].f == mx_isinf)
        expect_same_truth(what, mk_un, &c);
      else
        expect_same(what, mk_un, &c, true);
    }
    mx_array_free(v);
    mx_array_free(v2);
    mx_array_free(tall);
  }
  /* Binary integer / bool ops: exact. Divisors include 0 and -1. */
  const mx_dtype bt[] = {MX_INT32, MX_INT8, MX_UINT8, MX_INT64, MX_UINT32, MX_INT16, MX_BOOL};
  struct {
    const char *name;
    mx_array (*f)(mx_array, mx_array);
    int kinds; /* 0: ints + bool, 1: ints only, 2: bool only */
  } bops[] = {{"floor_divide", mx_floor_divide, 0}, {"remainder", mx_remainder, 0},
              {"bitwise_and", mx_bitwise_and, 0},   {"bitwise_or", mx_bitwise_or, 0},
              {"bitwise_xor", mx_bitwise_xor, 0},   {"left_shift", mx_left_shift, 1},
              {"right_shift", mx_right_shift, 1},   {"logical_and", mx_logical_and, 2},
              {"logical_or", mx_logical_or, 2}};
  for (size_t k = 0; k < sizeof bt / sizeof *bt; k++) {
    mx_dtype dt = bt[k];
    int64_t sa[2] = {33, 40}, sb[1] = {40};
    mx_array a = input(sa, 2, dt, 80 + k, 90.0);
    int64_t dv[40];
    for (int i = 0; i < 40; i++) dv[i] = i % 10 == 0 ? 0 : i % 10 == 1 ? -1 : (i * 13) % 71 - 35;
    if (dt == MX_BOOL)
      for (int i = 0; i < 40; i++) dv[i] = i % 3 == 0;
    if (dt == MX_UINT8 || dt == MX_UINT32)
      for (int i = 0; i < 40; i++) dv[i] = dv[i] < 0 ? -dv[i] : dv[i];
    mx_array b = idx_array(dv, sb, 1, dt);
    int64_t sh[1] = {40}, shv[40];
    for (int i = 0; i < 40; i++) shv[i] = i % 9 - 2 + (i % 13 == 0 ? 60 : 0);
    mx_array bs = idx_array(shv, sh, 1, dt == MX_BOOL ? MX_INT32 : dt);
    mx_array at = mx_transpose(input((const int64_t[]){40, 33}, 2, dt, 90 + k, 90.0),
                               (const int[]){1, 0}, 2);
    for (size_t o = 0; o < sizeof bops / sizeof *bops; o++) {
      bool isb = dt == MX_BOOL;
      if ((bops[o].kinds == 1 && isb) || (bops[o].kinds == 2 && !isb)) continue;
      bool shift = bops[o].kinds == 1;
      ew_ctx c = {a, shift ? bs : b, NULL, NULL, bops[o].f};
      char what[64];
      snprintf(what, sizeof what, "%s %s", bops[o].name, mx_dtype_name(dt));
      expect_same(what, mk_bin, &c, true);
      c.a = at;
      snprintf(what, sizeof what, "%s %s transposed", bops[o].name, mx_dtype_name(dt));
      expect_same(what, mk_bin, &c, true);
    }
    mx_array_free(a);
    mx_array_free(b);
    mx_array_free(bs);
    mx_array_free(at);
  }
  /* Float remainder (exact), logaddexp / arctan2 (ulp tolerance). */
  const mx_dtype ft[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
  for (size_t k = 0; k < 3; k++) {
    int64_t sa[2] = {33, 41}, sb[1] = {41};
    mx_array a = input(sa, 2, ft[k], 100 + k, 10.0), b = input(sb, 1, ft[k], 110 + k, 10.0);
    ew_ctx c = {a, b, NULL, NULL, mx_remainder};
    expect_same("remainder float", mk_bin, &c, true);
    mx_array (*fs[2])(mx_array, mx_array) = {mx_logaddexp, mx_arctan2};
    for (int f = 0; f < 2; f++) {
      c.bin = fs[f];
      mx_array rc, rg;
      run_both(mk_bin, &c, &rc, &rg);
      int64_t nd;
      double e = rc && rg ? ulp_err(rg, rc, &nd) : 1e30;
      char msg[160];
      snprintf(msg, sizeof msg, "%s %s: %.2f ulp", f ? "arctan2" : "logaddexp",
               mx_dtype_name(ft[k]), e);
      CHECK_MSG(e <= (ft[k] == MX_FLOAT32 ? 2.0 : 1.0), msg);
      CHECK_MSG(last_fallbacks == 0, msg);
      mx_array_free(rc);
      mx_array_free(rg);
    }
    mx_array_free(a);
    mx_array_free(b);
  }
}

/* ---------------------------------------------------------------- creation */

typedef struct cr_ctx {
  mx_dtype t;
  double a, b, c;
  int kind;
  mx_array x;
} cr_ctx;

static mx_array mk_create(void *p) {
  cr_ctx *c = p;
  int64_t s[3] = {3, 33, 7};
  switch (c->kind) {
  case 0: return mx_full_scalar(s, 3, c->a, c->t);
  case 1: return mx_zeros(s, 3, c->t);
  case 2: return mx_ones(s, 3, c->t);
  case 3: return mx_arange(c->a, c->b, c->c, c->t);
  case 4: return mx_eye(37, 29, (int64_t)c->a, c->t);
  case 5: return mx_tri(29, 37, (int64_t)c->a, c->t);
  case 6: return mx_tril(c->x, (int64_t)c->a);
  case 7: return mx_triu(c->x, (int64_t)c->a);
  case 9: return mx_linspace(c->a, c->b, (int64_t)c->c, c->t);
  default: return mx_full(s, 3, c->x, c->t);
  }
}

static void test_creation(void) {
  for (size_t t = 0; t < NTYPES; t++) {
    mx_dtype dt = all_types[t];
    for (int kind = 0; kind < 3; kind++) {
      cr_ctx c = {dt, -3.25, 0, 0, kind, NULL};
      expect_same(kind == 0 ? "full" : kind == 1 ? "zeros" : "ones", mk_create, &c, true);
    }
    for (int64_t k = -40; k <= 40; k += 9) {
      cr_ctx c = {dt, (double)k, 0, 0, 4, NULL};
      expect_same("eye", mk_create, &c, true);
      c.kind = 5;
      expect_same("tri", mk_create, &c, true);
    }
    int64_t s[3] = {2, 29, 37};
    mx_array x0 = input(s, 3, dt, 120 + t, 5.0);
    mx_array x = mx_transpose(x0, (const int[]){0, 2, 1}, 3);
    for (int64_t k = -5; k <= 5; k += 5) {
      cr_ctx c = {dt, (double)k, 0, 0, 6, x};
      expect_same("tril", mk_create, &c, true);
      c.kind = 7;
      expect_same("triu", mk_create, &c, true);
    }
    /* full from a (1, 33, 1) array broadcast, and from a scalar array */
    int64_t bs[3] = {1, 33, 1};
    mx_array v = input(bs, 3, dt, 130 + t, 5.0);
    cr_ctx cf = {dt, 0, 0, 0, 8, v};
    expect_same("full broadcast", mk_create, &cf, true);
    mx_array_free(v);
    mx_array_free(x);
    mx_array_free(x0);
  }
  /* arange: integer dtypes (wrapping) and float ranges exact in the type. */
  const mx_dtype at[] = {MX_INT32, MX_INT64, MX_UINT8, MX_INT8, MX_UINT32, MX_INT16,
                         MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_COMPLEX64};
  for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
    cr_ctx c = {at[k], -5, 1000, 3, 3, NULL};
    /* bf16 cannot hold 997 exactly: the serial rounding runs on the CPU */
    expect_same("arange", mk_create, &c, at[k] != MX_BFLOAT16);
    cr_ctx c2 = {at[k], 0.5, -100, -0.25, 3, NULL};
    bool flt = mx_dtype_is_floating(at[k]) || at[k] == MX_COMPLEX64;
    if (flt) expect_same("arange float step", mk_create, &c2, at[k] != MX_BFLOAT16);
  }
  const mx_dtype lt[4] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64};
  for (int k = 0; k < 4; k++)
    for (int n = 2; n <= 1001; n += 333) {
      cr_ctx c = {lt[k], -1.7, 33.3, (double)n, 9, NULL};
      expect_same("linspace", mk_create, &c, true);
    }
  /* An inexact float range runs on the CPU (serial rounding) and matches. */
  cr_ctx c3 = {MX_FLOAT32, 0, 1, 0.1, 3, NULL};
  expect_same("arange inexact (CPU fallback)", mk_create, &c3, false);
}

/* ---------------------------------------------------------------- random */

typedef struct rn_ctx {
  int kind;
  mx_dtype t;
  int64_t shape[3];
  int nd;
  uint64_t seed;
  mx_array p;
} rn_ctx;

static mx_array mk_random(void *q) {
  rn_ctx *c = q;
  mx_device d = mx_default_device();
  /* The key is made on the CPU either way: only the sampler is tested. */
  mx_set_default_device(cpu);
  mx_array key = mx_random_key(c->seed);
  mx_eval1(key);
  mx_set_default_device(d);
  mx_array r = NULL;
  switch (c->kind) {
  case 0: r = mx_random_bits(c->shape, c->nd, (int)mx_dtype_size(c->t), key); break;
  case 1: r = mx_random_uniform(-2.0, 3.0, c->shape, c->nd, c->t, key); break;
  case 2: r = mx_random_randint(-7, 1000, c->shape, c->nd, c->t, key); break;
  case 3: r = mx_random_bernoulli(c->p, c->shape, c->nd, key); break;
  case 4: r = mx_random_normal(c->shape, c->nd, c->t, 0.5, 2.0, key); break;
  case 5: r = mx_random_gumbel(c->shape, c->nd, c->t, key); break;
  case 6: r = mx_random_truncated_normal(-1.5, 2.0, c->shape, c->nd, c->t, key); break;
  }
  mx_array_free(key);
  return r;
}

static void test_random(void) {
  const int64_t shapes[5][3] = {{1, 1, 1}, {7, 1, 1}, {33, 1, 1}, {3, 5, 67}, {1000, 33, 1}};
  const int nds[5] = {1, 1, 1, 3, 2};
  for (int s = 0; s < 5; s++)
    for (uint64_t seed = 0; seed < 3; seed++) {
      rn_ctx c = {0, MX_UINT32, {shapes[s][0], shapes[s][1], shapes[s][2]}, nds[s], seed * 977 + 1, NULL};
      const mx_dtype bt[3] = {MX_UINT32, MX_UINT16, MX_UINT8};
      for (int w = 0; w < 3; w++) {
        c.t = bt[w];
        c.kind = 0;
        expect_same("random bits", mk_random, &c, true);
      }
      const mx_dtype ft[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
      for (int f = 0; f < 3; f++) {
        c.t = ft[f];
        c.kind = 1;
        expect_same("random uniform", mk_random, &c, true);
        for (int kind = 4; kind <= 6; kind++) {
          c.kind = kind;
          mx_array rc, rg;
          run_both(mk_random, &c, &rc, &rg);
          int64_t nd = 0;
          double e = rc && rg ? ulp_err(rg, rc, &nd) : 1e30;
          char msg[160];
          snprintf(msg, sizeof msg, "random %s %s: %lld of %lld differ, worst %.2f ulp",
                   kind == 4 ? "normal" : kind == 5 ? "gumbel" : "truncated_normal",
                   mx_dtype_name(ft[f]), (long long)nd, (long long)(rc ? mx_array_size(rc) : 0), e);
          CHECK_MSG(e <= (ft[f] == MX_FLOAT32 ? 2.0 : 1.0) && nd <= (rc ? mx_array_size(rc) : 0) / 1000 + 1,
                    msg);
          CHECK_MSG(last_fallbacks == 0, msg);
          if (nd) printf("note: %s\n", msg);
          mx_array_free(rc);
          mx_array_free(rg);
        }
      }
      const mx_dtype it[4] = {MX_INT32, MX_INT64, MX_UINT16, MX_INT16};
      for (int k = 0; k < 4; k++) {
        c.t = it[k];
        c.kind = 2;
        expect_same("random randint", mk_random, &c, true);
      }
      /* bernoulli with a broadcast row of probabilities */
      mx_set_default_device(cpu);
      int64_t ps[1] = {c.shape[c.nd - 1]};
      mx_array k2 = mx_random_key(seed + 100);
      c.p = mx_random_uniform(0, 1, ps, 1, MX_FLOAT32, k2);
      mx_eval1(c.p);
      mx_array_free(k2);
      mx_set_default_device(gpu);
      c.kind = 3;
      expect_same("random bernoulli", mk_random, &c, true);
      mx_array_free(c.p);
    }
}

/* Indices computed on the GPU are range-checked by the kernel (no wait
 * for the stream): an in-range one gives the CPU's answer, a negative one
 * wraps, and an out-of-range one surfaces as an error at the next read. */
static void test_device_index_errors(void) {
  float rows[4 * 3];
  for (int i = 0; i < 12; i++) rows[i] = (float)i;
  int64_t shape[2] = {4, 3};
  mx_array a = mx_array_from_data(rows, shape, 2, MX_FLOAT32);
  int32_t cases[3] = {2, -1, 7};
  for (int c = 0; c < 3; c++) {
    mx_array base = mx_array_from_int(cases[c]);
    mx_array zero = mx_array_from_int(0);
    mx_array idx = mx_add(base, zero); /* evaluated on the GPU: device-only */
    CHECK(mx_eval1(idx) == MX_OK);
    CHECK(idx->buf && !(idx->buf->valid & BUF_HOST));
    mx_array t = mx_take(a, idx, 0);
    CHECK(mx_eval1(t) == MX_OK);
    const float *p = mx_array_data(t);
    if (c < 2) {
      int row = c == 0 ? 2 : 3;
      CHECK_MSG(p && p[0] == (float)(row * 3) && p[2] == (float)(row * 3 + 2), mx_last_error());
    } else {
      CHECK(p == NULL);
      CHECK(mx_last_error_code() == MX_ERR_INVALID_ARG);
      CHECK(strstr(mx_last_error(), "out of range") != NULL);
      /* The flag was consumed: the next read works. */
      CHECK(mx_array_data(a) != NULL);
    }
    mx_array_free(t);
    mx_array_free(idx);
    mx_array_free(zero);
    mx_array_free(base);
  }
  mx_array_free(a);
}

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("test_cuda_index: skipped: no usable GPU (%s)\n", mx_last_error());
    return 0;
  }
  mx_set_default_device(gpu);
  test_slices();
  test_slice_update_in_place();
  test_take();
  test_gather_along();
  test_scatter();
  test_shape();
  test_elementwise();
  test_creation();
  test_random();
  test_device_index_errors();
  mx_set_default_device(cpu);
  return check_summary();
}
