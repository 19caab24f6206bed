/* test_reduce.c — reductions, argmax/argmin and softmax: NumPy fixtures
 * (tests/ref/gen_reduce.py) plus error paths, broadcast inputs, large
 * threaded reductions against a double-precision reference, determinism,
 * and MLX's argmax rule for NaN. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

/* axes=none -> NULL (all axes); axes=empty -> a non-NULL empty list. */
static const int *get_axes(const fx_case *c, int *buf, int *n) {
  const char *v = fx_str(c, "axes", "none");
  if (strcmp(v, "none") == 0) {
    *n = 0;
    return NULL;
  }
  if (strcmp(v, "empty") == 0) {
    *n = 0;
    return buf;
  }
  int64_t tmp[MX_MAX_NDIM];
  *n = fx_ints(c, "axes", tmp, MX_MAX_NDIM);
  for (int i = 0; i < *n; i++) buf[i] = (int)tmp[i];
  return buf;
}

typedef mx_array (*red_fn)(mx_array, const int *, int, bool);

static mx_array run_red(const fx_case *c, mx_array *in, red_fn f) {
  int buf[MX_MAX_NDIM], n;
  const int *axes = get_axes(c, buf, &n);
  return f(in[0], axes, n, fx_int(c, "keepdims", 0) != 0);
}

#define RED(name)                                                                  \
  static mx_array fx_##name(const fx_case *c, mx_array *in, int nin) {             \
    (void)nin;                                                                     \
    return run_red(c, in, mx_##name);                                              \
  }
RED(sum)
RED(prod)
RED(mean)
RED(max)
RED(min)
RED(all)
RED(any)
RED(logsumexp)
RED(median)

static mx_array fx_var(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int buf[MX_MAX_NDIM], n;
  const int *axes = get_axes(c, buf, &n);
  return mx_var(in[0], axes, n, fx_int(c, "keepdims", 0) != 0, (int)fx_int(c, "ddof", 0));
}
static mx_array fx_std(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int buf[MX_MAX_NDIM], n;
  const int *axes = get_axes(c, buf, &n);
  return mx_std(in[0], axes, n, fx_int(c, "keepdims", 0) != 0, (int)fx_int(c, "ddof", 0));
}
static int get_axis(const fx_case *c) {
  return strcmp(fx_str(c, "axis", "none"), "none") == 0 ? MX_AXIS_NONE : (int)fx_int(c, "axis", 0);
}
static mx_array fx_argmax(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_argmax(in[0], get_axis(c), fx_int(c, "keepdims", 0) != 0);
}
static mx_array fx_argmin(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_argmin(in[0], get_axis(c), fx_int(c, "keepdims", 0) != 0);
}
static mx_array fx_softmax(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int buf[MX_MAX_NDIM], n;
  const int *axes = get_axes(c, buf, &n);
  return mx_softmax(in[0], axes, n, fx_int(c, "precise", 0) != 0);
}

static const fx_op OPS[] = {
    {"sum", fx_sum},       {"prod", fx_prod},       {"mean", fx_mean},
    {"max", fx_max},       {"min", fx_min},         {"all", fx_all},
    {"any", fx_any},       {"logsumexp", fx_logsumexp}, {"median", fx_median},
    {"var", fx_var},       {"std", fx_std},         {"argmax", fx_argmax},
    {"argmin", fx_argmin}, {"softmax", fx_softmax},
};

/* ------------------------------------------------------------ helpers */

static mx_array f32_array(const float *v, const int64_t *shape, int nd) {
  return mx_array_from_data(v, shape, nd, MX_FLOAT32);
}

static double item_f64(mx_array a) {
  double v = NAN;
  mx_array_copy_to(a, &v, sizeof v, MX_FLOAT64);
  return v;
}

/* Both arrays evaluated, same dtype and shape, |a-b| <= tol*(1+|b|). */
static bool close_arrays(mx_array a, mx_array b, double tol) {
  if (!a || !b) return false;
  if (mx_array_dtype(a) != mx_array_dtype(b) || mx_array_ndim(a) != mx_array_ndim(b)) return false;
  int64_t n = mx_array_size(a);
  if (n != mx_array_size(b)) return false;
  double *x = malloc((size_t)(n ? n : 1) * 8), *y = malloc((size_t)(n ? n : 1) * 8);
  mx_array_copy_to(a, x, (size_t)n * 8, MX_FLOAT64);
  mx_array_copy_to(b, y, (size_t)n * 8, MX_FLOAT64);
  bool ok = true;
  for (int64_t i = 0; i < n && ok; i++) {
    if (isnan(x[i]) || isnan(y[i])) ok = isnan(x[i]) && isnan(y[i]);
    else if (x[i] != y[i]) ok = fabs(x[i] - y[i]) <= tol * (1 + fabs(y[i]));
  }
  free(x);
  free(y);
  return ok;
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  int64_t sh[2] = {2, 0};
  mx_array e = mx_zeros(sh, 2, MX_FLOAT32);
  int ax1 = 1, ax0 = 0, ax5 = 5, dup[2] = {0, -2};
  CHECK_ERR(mx_max(e, &ax1, 1, false), MX_ERR_INVALID_ARG, "max: cannot reduce over axis 1 of size 0");
  CHECK_ERR(mx_min(e, NULL, 0, false), MX_ERR_INVALID_ARG, "min: cannot reduce over axis 1");
  CHECK_ERR(mx_argmax(e, 0, false), MX_ERR_INVALID_ARG, "argmax: cannot reduce a zero-size array");
  CHECK_ERR(mx_argmin(e, MX_AXIS_NONE, true), MX_ERR_INVALID_ARG, "argmin: cannot reduce a zero-size");
  CHECK_ERR(mx_logsumexp(e, NULL, 0, false), MX_ERR_INVALID_ARG, "logsumexp: received an empty array");
  CHECK_ERR(mx_median(e, &ax1, 1, false), MX_ERR_INVALID_ARG, "median: cannot take the median along an empty axis");
  /* Reducing the non-empty axis of an empty array is fine for max. */
  mx_array m = mx_max(e, &ax0, 1, false);
  CHECK(m && mx_array_ndim(m) == 1 && mx_array_shape(m)[0] == 0 && mx_eval1(m) == MX_OK);
  mx_array_free(m);
  /* Sum of an empty axis is the identity. */
  mx_array s = mx_sum(e, &ax1, 1, false), p = mx_prod(e, &ax1, 1, false);
  const float *ps = s ? mx_array_data(s) : NULL;
  CHECK(ps && ps[0] == 0 && ps[1] == 0);
  const float *pp = p ? mx_array_data(p) : NULL;
  CHECK(pp && pp[0] == 1 && pp[1] == 1);
  mx_array_free(s);
  mx_array_free(p);
  mx_array_free(e);

  int64_t sh2[2] = {3, 4};
  mx_array a = mx_ones(sh2, 2, MX_FLOAT32);
  CHECK_ERR(mx_sum(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "sum: axis 5 is out of range");
  CHECK_ERR(mx_mean(a, dup, 2, false), MX_ERR_INVALID_ARG, "mean: axis -2 given twice");
  CHECK_ERR(mx_var(a, dup, -1, false, 0), MX_ERR_INVALID_ARG, "var: -1 axes given");
  int three[3] = {0, 1, 0};
  CHECK_ERR(mx_std(a, three, 3, false, 0), MX_ERR_INVALID_ARG, "std: 3 axes given for an array of 2");
  CHECK_ERR(mx_all(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "all: axis 5");
  CHECK_ERR(mx_any(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "any: axis 5");
  CHECK_ERR(mx_prod(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "prod: axis 5");
  CHECK_ERR(mx_median(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "median: axis 5");
  CHECK_ERR(mx_logsumexp(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "logsumexp: axis 5");
  CHECK_ERR(mx_argmax(a, 2, false), MX_ERR_INVALID_ARG, "argmax: axis 2 is out of range");
  CHECK_ERR(mx_argmin(a, -3, false), MX_ERR_INVALID_ARG, "argmin: axis -3");
  CHECK_ERR(mx_softmax(a, &ax5, 1, false), MX_ERR_INVALID_ARG, "softmax: axis 5");
  mx_array c = mx_zeros(sh2, 2, MX_COMPLEX64);
  CHECK_ERR(mx_softmax(c, NULL, 0, true), MX_ERR_DTYPE, "softmax: complex64");
  CHECK_ERR(mx_logsumexp(c, NULL, 0, false), MX_ERR_DTYPE, "logsumexp: complex64");
  mx_array_free(c);
  /* 0-d arrays have no axis 0. */
  mx_array z = mx_full_scalar(NULL, 0, 3.0, MX_FLOAT32);
  CHECK_ERR(mx_sum(z, &ax0, 1, false), MX_ERR_INVALID_ARG, "sum: 1 axes given for an array of 0 dimensions");
  CHECK_ERR(mx_softmax(z, &ax0, 1, false), MX_ERR_INVALID_ARG, "softmax: 1 axes given");
  mx_array_free(z);
  /* NULL inputs keep the first error. */
  CHECK_ERR(mx_sum(mx_sum(a, &ax5, 1, false), NULL, 0, false), MX_ERR_INVALID_ARG, "sum: axis 5");
  CHECK_ERR(mx_softmax(NULL, NULL, 0, false), MX_ERR_NULL_INPUT, "softmax");
  CHECK_ERR(mx_argmax(NULL, 0, false), MX_ERR_NULL_INPUT, "argmax");
  CHECK_ERR(mx_median(NULL, NULL, 0, false), MX_ERR_NULL_INPUT, "median");
  CHECK_ERR(mx_var(NULL, NULL, 0, false, 1), MX_ERR_NULL_INPUT, "var");
  mx_array_free(a);
}

/* ------------------------------------------------------------ broadcast inputs */

/* Every op on a broadcast view (zero strides) equals the op on a dense copy. */
static void test_broadcast_inputs(void) {
  int64_t sh[3] = {1, 37, 1}, big[3] = {5, 37, 66};
  float v[37];
  for (int i = 0; i < 37; i++) v[i] = (float)((i * 7919) % 101) / 17.0f - 2.5f;
  mx_array base = f32_array(v, sh, 3);
  mx_array bc = mx_broadcast_to(base, big, 3);
  /* A round trip through f64 makes a dense copy with the same values. */
  mx_array t = mx_astype(bc, MX_FLOAT64);
  mx_array dense = mx_astype(t, MX_FLOAT32);
  mx_array_free(t);
  CHECK(dense && mx_eval1(dense) == MX_OK);
  int axsets[4][3] = {{0, 0, 0}, {2, 0, 0}, {0, 2, 0}, {1, 0, 0}};
  int axn[4] = {1, 1, 2, 1};
  int bad = 0;
  for (int s = 0; s < 4; s++) {
    red_fn fns[] = {mx_sum, mx_prod, mx_mean, mx_max, mx_min, mx_all, mx_any, mx_logsumexp, mx_median};
    for (size_t f = 0; f < sizeof fns / sizeof *fns; f++) {
      mx_array r1 = fns[f](bc, axsets[s], axn[s], s % 2 == 0);
      mx_array r2 = fns[f](dense, axsets[s], axn[s], s % 2 == 0);
      if (!close_arrays(r1, r2, 1e-5)) bad++;
      mx_array_free(r1);
      mx_array_free(r2);
    }
    mx_array v1 = mx_var(bc, axsets[s], axn[s], false, 1), v2 = mx_var(dense, axsets[s], axn[s], false, 1);
    if (!close_arrays(v1, v2, 1e-5)) bad++;
    mx_array_free(v1);
    mx_array_free(v2);
    mx_array s1 = mx_softmax(bc, axsets[s], axn[s], false), s2 = mx_softmax(dense, axsets[s], axn[s], false);
    if (!close_arrays(s1, s2, 1e-6)) bad++;
    mx_array_free(s1);
    mx_array_free(s2);
  }
  for (int ax = 0; ax < 3; ax++) {
    mx_array a1 = mx_argmax(bc, ax, false), a2 = mx_argmax(dense, ax, false);
    mx_array b1 = mx_argmin(bc, ax, true), b2 = mx_argmin(dense, ax, true);
    if (!close_arrays(a1, a2, 0) || !close_arrays(b1, b2, 0)) bad++;
    mx_array_free(a1);
    mx_array_free(a2);
    mx_array_free(b1);
    mx_array_free(b2);
  }
  CHECK_MSG(bad == 0, "broadcast-view results differ from dense-copy results");
  mx_array_free(dense);
  mx_array_free(bc);
  mx_array_free(base);
}

/* ------------------------------------------------------------ large, threaded */

static void test_large(void) {
  /* 3M elements: the block-split row loop, one output. */
  int64_t n = 3 << 20;
  float *v = malloc((size_t)n * 4);
  double ref = 0, refabs = 0, refmax = -INFINITY;
  int64_t refarg = 0;
  for (int64_t i = 0; i < n; i++) {
    v[i] = (float)(((i * 2654435761u) >> 7) % 20001) / 10000.0f - 1.0f;
    ref += v[i];
    refabs += fabs(v[i]);
    if (v[i] > refmax) refmax = v[i], refarg = i;
  }
  mx_array a = mx_array_from_data(v, &n, 1, MX_FLOAT32);
  mx_array s = mx_sum(a, NULL, 0, false);
  double got = item_f64(s);
  CHECK_MSG(fabs(got - ref) <= 1e-6 * refabs, "full f32 sum of 3M elements");
  /* Deterministic: the same bits again. */
  mx_array s2 = mx_sum(a, NULL, 0, false);
  CHECK(item_f64(s2) == got);
  mx_array mxv = mx_max(a, NULL, 0, false);
  CHECK(item_f64(mxv) == refmax);
  mx_array am = mx_argmax(a, 0, false);
  uint32_t ai = 0;
  mx_array_copy_to(am, &ai, 4, MX_UINT32);
  CHECK(ai == (uint32_t)refarg);
  mx_array_free(s);
  mx_array_free(s2);
  mx_array_free(mxv);
  mx_array_free(am);

  /* As (3072, 1024): column sums (the leading axis), row sums, means. */
  int64_t sh[2] = {3072, 1024};
  mx_array m = mx_reshape(a, sh, 2);
  int ax0 = 0, ax1 = 1;
  mx_array cs = mx_sum(m, &ax0, 1, false), rs = mx_sum(m, &ax1, 1, true);
  mx_array cm = mx_mean(m, &ax0, 1, false);
  const float *pc = mx_array_data(cs), *pr = mx_array_data(rs), *pm = mx_array_data(cm);
  int badc = 0, badr = 0;
  for (int64_t j = 0; j < 1024; j++) {
    double r = 0;
    for (int64_t i = 0; i < 3072; i++) r += v[i * 1024 + j];
    if (fabs(pc[j] - r) > 1e-5 * 3072 * 0.5 + 1e-6 * fabs(r)) badc++;
    if (fabs(pm[j] - r / 3072) > 1e-6) badc++;
  }
  for (int64_t i = 0; i < 3072; i++) {
    double r = 0;
    for (int64_t j = 0; j < 1024; j++) r += v[i * 1024 + j];
    if (fabs(pr[i] - r) > 1e-5 * 1024) badr++;
  }
  CHECK(badc == 0);
  CHECK(badr == 0);
  mx_array_free(cs);
  mx_array_free(rs);
  mx_array_free(cm);

  /* Column maximum over a few long columns: row blocks are split. */
  int64_t sh3[2] = {n / 8, 8};
  mx_array m3 = mx_reshape(a, sh3, 2);
  mx_array cmx = mx_max(m3, &ax0, 1, false), csum = mx_sum(m3, &ax0, 1, false);
  const float *px = mx_array_data(cmx), *ps = mx_array_data(csum);
  int bad3 = 0;
  for (int j = 0; j < 8; j++) {
    double mx = -INFINITY, sm = 0;
    for (int64_t i = 0; i < n / 8; i++) {
      mx = fmax(mx, v[i * 8 + j]);
      sm += v[i * 8 + j];
    }
    if (px[j] != mx || fabs(ps[j] - sm) > 1e-6 * refabs) bad3++;
  }
  CHECK(bad3 == 0);
  mx_array_free(cmx);
  mx_array_free(csum);
  mx_array_free(m3);

  /* Softmax of 768 rows of 4096 sums to 1 per row. */
  int64_t sh4[2] = {768, 4096};
  mx_array m4 = mx_reshape(a, sh4, 2);
  mx_array sm = mx_softmax(m4, &ax1, 1, false);
  const float *psm = mx_array_data(sm);
  int bad4 = 0;
  for (int64_t i = 0; i < 768; i += 37) {
    double t = 0, mx = -INFINITY;
    for (int64_t j = 0; j < 4096; j++) mx = fmax(mx, v[i * 4096 + j]);
    for (int64_t j = 0; j < 4096; j++) t += exp(v[i * 4096 + j] - mx);
    for (int64_t j = 0; j < 4096; j += 13) {
      double want = exp(v[i * 4096 + j] - mx) / t;
      if (fabs(psm[i * 4096 + j] - want) > 2e-6 * want) bad4++;
    }
  }
  CHECK(bad4 == 0);
  mx_array_free(sm);
  mx_array_free(m4);
  mx_array_free(m);
  mx_array_free(a);
  free(v);

  /* Over 32 MiB of output: softmax streams rows past the caches; rows of
   * 4095 leave most of them unaligned. */
  int64_t sh5[2] = {2049, 4095};
  int64_t n5 = sh5[0] * sh5[1];
  float *w = malloc((size_t)n5 * 4);
  for (int64_t i = 0; i < n5; i++) w[i] = (float)((i * 40503u) % 1000) / 100.0f - 5.0f;
  mx_array a5 = mx_array_from_data(w, sh5, 2, MX_FLOAT32);
  mx_array s5 = mx_softmax(a5, &ax1, 1, false);
  const float *p5 = mx_array_data(s5);
  int bad5 = 0;
  for (int64_t i = 0; p5 && i < sh5[0]; i += 97) {
    const float *x = w + i * sh5[1];
    double t = 0, mx = -INFINITY;
    for (int64_t j = 0; j < sh5[1]; j++) mx = fmax(mx, x[j]);
    for (int64_t j = 0; j < sh5[1]; j++) t += exp(x[j] - mx);
    for (int64_t j = 0; j < sh5[1]; j++) {
      double want = exp(x[j] - mx) / t;
      if (fabs(p5[i * sh5[1] + j] - want) > 2e-6 * want + 1e-12) bad5++;
    }
  }
  CHECK(p5 && bad5 == 0);
  mx_array_free(s5);
  mx_array_free(a5);
  free(w);
}

/* MLX's argmax keeps the first strict improvement: a NaN is never picked
 * unless it comes first, and then nothing replaces it. */
static void test_argmax_nan(void) {
  float v1[4] = {1, NAN, 3, 2}, v2[4] = {NAN, 1, 5, 2};
  int64_t n = 4;
  mx_array a = f32_array(v1, &n, 1), b = f32_array(v2, &n, 1);
  mx_array r1 = mx_argmax(a, 0, false), r2 = mx_argmax(b, 0, false), r3 = mx_argmin(a, 0, false);
  uint32_t i1 = 9, i2 = 9, i3 = 9;
  mx_array_copy_to(r1, &i1, 4, MX_UINT32);
  mx_array_copy_to(r2, &i2, 4, MX_UINT32);
  mx_array_copy_to(r3, &i3, 4, MX_UINT32);
  CHECK(i1 == 2 && i2 == 0 && i3 == 0);
  mx_array_free(r1);
  mx_array_free(r2);
  mx_array_free(r3);
  mx_array_free(a);
  mx_array_free(b);
  /* The same on rows long enough for the vector path: a NaN inside is
   * skipped, a NaN first wins, -inf rows give 0, ties give the first. */
  float w[3][40];
  for (int i = 0; i < 40; i++) w[0][i] = w[1][i] = (float)(i % 7), w[2][i] = -INFINITY;
  w[0][5] = NAN;
  w[0][20] = 9;
  w[0][33] = 9;
  w[1][0] = NAN;
  w[1][17] = 50;
  int64_t sh[2] = {3, 40};
  mx_array m = f32_array(&w[0][0], sh, 2);
  mx_array am = mx_argmax(m, 1, false), an = mx_argmin(m, 1, false);
  uint32_t im[3] = {9, 9, 9}, in[3] = {9, 9, 9};
  mx_array_copy_to(am, im, sizeof im, MX_UINT32);
  mx_array_copy_to(an, in, sizeof in, MX_UINT32);
  CHECK(im[0] == 20 && im[1] == 0 && im[2] == 0);
  CHECK(in[0] == 0 && in[1] == 0 && in[2] == 0);
  mx_array_free(am);
  mx_array_free(an);
  mx_array_free(m);
}

/* Result dtypes and shapes that the fixtures cannot show directly. */
static void test_dtypes_shapes(void) {
  int64_t sh[3] = {2, 3, 4};
  mx_array a = mx_ones(sh, 3, MX_INT8), bl = mx_ones(sh, 3, MX_BOOL);
  int ax[2] = {0, 2};
  mx_array s = mx_sum(a, ax, 2, true);
  CHECK(s && mx_array_dtype(s) == MX_INT32 && mx_array_ndim(s) == 3 && mx_array_shape(s)[1] == 3 &&
        mx_array_shape(s)[0] == 1 && mx_array_shape(s)[2] == 1);
  mx_array sb = mx_sum(bl, NULL, 0, false);
  CHECK(sb && mx_array_dtype(sb) == MX_INT32 && mx_array_ndim(sb) == 0 && item_f64(sb) == 24);
  mx_array mn = mx_mean(a, NULL, 0, false);
  CHECK(mn && mx_array_dtype(mn) == MX_FLOAT32 && item_f64(mn) == 1);
  mx_array al = mx_all(a, NULL, 0, false);
  CHECK(al && mx_array_dtype(al) == MX_BOOL && item_f64(al) == 1);
  mx_array am = mx_argmax(a, MX_AXIS_NONE, true);
  CHECK(am && mx_array_dtype(am) == MX_UINT32 && mx_array_ndim(am) == 3);
  /* No axes: sum returns the input itself (MLX), all/any cast to bool. */
  int none[1];
  mx_array s0 = mx_sum(bl, none, 0, false);
  CHECK(s0 == bl || (s0 && mx_array_dtype(s0) == MX_BOOL));
  mx_array a0 = mx_any(a, none, 0, true);
  CHECK(a0 && mx_array_dtype(a0) == MX_BOOL && mx_array_ndim(a0) == 3);
  mx_array cz = mx_zeros(sh, 3, MX_COMPLEX64);
  mx_array vv = mx_var(cz, NULL, 0, false, 0);
  CHECK(vv && mx_array_dtype(vv) == MX_FLOAT32 && item_f64(vv) == 0);
  mx_array_free(vv);
  mx_array_free(cz);
  mx_array sm = mx_softmax(a, NULL, 0, false);
  CHECK(sm && mx_array_dtype(sm) == MX_INT8); /* MLX's composite path */
  int last = -1;
  mx_array sm2 = mx_softmax(a, &last, 1, false);
  CHECK(sm2 && mx_array_dtype(sm2) == MX_FLOAT32);
  mx_array_free(s);
  mx_array_free(sb);
  mx_array_free(mn);
  mx_array_free(al);
  mx_array_free(am);
  mx_array_free(s0);
  mx_array_free(a0);
  mx_array_free(sm);
  mx_array_free(sm2);
  mx_array_free(a);
  mx_array_free(bl);
}

/* var/std of integers over rows long enough to be split into blocks: the
 * blocks' squared deviations are merged as doubles (they once were merged
 * as integers, giving ~1e22 for a variance of ~8e4). The exact value comes
 * from the integers in double precision; rtol 1e-6 covers the kernel's f64
 * two-pass summation order. */
static void test_integer_var_long_rows(void) {
  enum { N = 151936 };
  int32_t *d = malloc(2 * N * sizeof *d);
  for (int64_t i = 0; i < 2 * N; i++) d[i] = (int32_t)((uint64_t)i * 2654435761u % 1000u);
  int64_t sh[2] = {2, N};
  mx_array a = mx_array_from_data(d, sh, 2, MX_INT32);
  int ax = 1;
  mx_array v = mx_var(a, &ax, 1, false, 0);
  CHECK(mx_eval1(v) == MX_OK);
  const float *r = mx_array_data(v);
  for (int b = 0; b < 2 && r; b++) {
    double m = 0, s = 0;
    for (int i = 0; i < N; i++) m += d[b * N + i];
    m /= N;
    for (int i = 0; i < N; i++) s += (d[b * N + i] - m) * (d[b * N + i] - m);
    char msg[96];
    snprintf(msg, sizeof msg, "int32 var over %d elements: %g vs %g", N, (double)r[b], s / N);
    CHECK_MSG(fabs(r[b] - s / N) <= 1e-6 * (s / N), msg);
  }
  mx_array_free(v);
  mx_array_free(a);
  free(d);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "fixtures/reduce";
  size_t mem0 = mx_memory_active();
  test_errors();
  test_dtypes_shapes();
  test_argmax_nan();
  test_broadcast_inputs();
  test_large();
  test_integer_var_long_rows();
  CHECK_MSG(mx_memory_active() == mem0, "active memory returns to its start");
  int n = fx_run_dir(dir, OPS, (int)(sizeof OPS / sizeof *OPS));
  CHECK(n > 500);
  return check_summary();
}
