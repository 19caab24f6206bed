/* test_indexing.c — slice, slice_update, take, take/put_along_axis, gather,
 * scatter*, masked_scatter: NumPy fixtures (tests/ref/gen_indexing.py) plus
 * C checks of errors, index bounds, duplicates, views and donation. */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

/* ---------------------------------------------------------------- fixtures */

static int axis_param(const fx_case *c) {
  return strcmp(fx_str(c, "axis", "0"), "none") == 0 ? MX_AXIS_NONE : (int)fx_int(c, "axis", 0);
}

/* start/stop/strides: absent or "none" -> NULL. */
static const int64_t *ints_or_null(const fx_case *c, const char *key, int64_t *buf) {
  int n = fx_ints(c, key, buf, MX_MAX_NDIM);
  return n > 0 ? buf : NULL;
}

static mx_array fx_slice(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t s[MX_MAX_NDIM], e[MX_MAX_NDIM], st[MX_MAX_NDIM];
  return mx_slice(in[0], ints_or_null(c, "start", s), ints_or_null(c, "stop", e),
                  ints_or_null(c, "strides", st), (int)fx_int(c, "naxes", 0));
}

static mx_array fx_slice_update(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t s[MX_MAX_NDIM], e[MX_MAX_NDIM], st[MX_MAX_NDIM];
  return mx_slice_update(in[0], in[1], ints_or_null(c, "start", s), ints_or_null(c, "stop", e),
                         ints_or_null(c, "strides", st), (int)fx_int(c, "naxes", 0));
}

static mx_array fx_take(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_take(in[0], in[1], axis_param(c));
}

static mx_array fx_take_along(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_take_along_axis(in[0], in[1], axis_param(c));
}

static mx_array fx_put_along(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_put_along_axis(in[0], in[1], in[2], axis_param(c));
}

static int axes_param(const fx_case *c, int *axes) {
  int64_t v[MX_MAX_NDIM];
  int n = fx_ints(c, "axes", v, MX_MAX_NDIM);
  for (int i = 0; i < n; i++) axes[i] = (int)v[i];
  return n < 0 ? 0 : n;
}

static mx_array fx_gather(const fx_case *c, mx_array *in, int nin) {
  int axes[MX_MAX_NDIM];
  axes_param(c, axes);
  int64_t ss[MX_MAX_NDIM];
  fx_ints(c, "slice_sizes", ss, MX_MAX_NDIM);
  return mx_gather(in[0], in + 1, (size_t)(nin - 1), axes, ss);
}

static mx_array fx_scatter_any(const fx_case *c, mx_array *in, int nin) {
  int axes[MX_MAX_NDIM];
  axes_param(c, axes);
  size_t n = (size_t)(nin - 2);
  mx_array upd = in[nin - 1];
  if (strcmp(c->op, "scatter") == 0) return mx_scatter(in[0], in + 1, n, upd, axes);
  if (strcmp(c->op, "scatter_add") == 0) return mx_scatter_add(in[0], in + 1, n, upd, axes);
  if (strcmp(c->op, "scatter_prod") == 0) return mx_scatter_prod(in[0], in + 1, n, upd, axes);
  if (strcmp(c->op, "scatter_max") == 0) return mx_scatter_max(in[0], in + 1, n, upd, axes);
  return mx_scatter_min(in[0], in + 1, n, upd, axes);
}

static mx_array fx_masked_scatter(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_masked_scatter(in[0], in[1], in[2]);
}

static const fx_op OPS[] = {
    {"slice", fx_slice},
    {"slice_update", fx_slice_update},
    {"take", fx_take},
    {"take_along_axis", fx_take_along},
    {"put_along_axis", fx_put_along},
    {"gather", fx_gather},
    {"scatter", fx_scatter_any},
    {"scatter_add", fx_scatter_any},
    {"scatter_prod", fx_scatter_any},
    {"scatter_max", fx_scatter_any},
    {"scatter_min", fx_scatter_any},
    {"masked_scatter", fx_masked_scatter},
};

/* ---------------------------------------------------------------- helpers */

static mx_array arr_i32(const int32_t *v, int64_t n) { return mx_array_from_data(v, &n, 1, MX_INT32); }
static mx_array arr_f32(const float *v, const int64_t *shape, int nd) {
  return mx_array_from_data(v, shape, nd, MX_FLOAT32);
}
static mx_array iota_f32(const int64_t *shape, int nd) {
  int64_t n = shape_size(shape, nd);
  float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (float)i;
  mx_array a = arr_f32(v, shape, nd);
  free(v);
  return a;
}

/* The op builds, but eval fails with `code` and a message containing substr. */
#define CHECK_EVAL_ERR(expr, code, substr)                                                 \
  do {                                                                                     \
    mx_clear_error();                                                                      \
    mx_array r_ = (expr);                                                                  \
    CHECK_MSG(r_ != NULL, mx_last_error());                                                \
    if (r_) {                                                                              \
      mx_status s_ = mx_eval1(r_);                                                         \
      int ok_ = s_ == (code) && mx_last_error_code() == (code) &&                          \
                strstr(mx_last_error(), (substr)) != NULL;                                 \
      check_report(ok_, __FILE__, __LINE__, #expr " fails at eval with " #code,            \
                   mx_last_error());                                                       \
      /* A second eval fails the same way (no half-made state left). */                    \
      mx_clear_error();                                                                    \
      CHECK(mx_eval1(r_) == (code));                                                       \
      mx_array_free(r_);                                                                   \
    }                                                                                      \
    mx_clear_error();                                                                      \
  } while (0)

/* ---------------------------------------------------------------- errors */

static void test_front_end_errors(void) {
  int64_t s23[2] = {2, 3}, s4[1] = {4};
  mx_array a = iota_f32(s23, 2);
  int32_t iv[3] = {0, 1, -1};
  mx_array idx = arr_i32(iv, 3);
  float fv[4] = {0, 1, 2, 3};
  mx_array fidx = arr_f32(fv, s4, 1);
  mx_array bidx = mx_astype(idx, MX_BOOL);
  mx_array u64 = mx_astype(idx, MX_UINT64), i64 = mx_astype(idx, MX_INT64);

  /* slice */
  int64_t st[2] = {0, 0}, en[2] = {2, 3}, z[2] = {1, 0};
  CHECK_ERR(mx_slice(a, st, en, NULL, 3), MX_ERR_INVALID_ARG, "slice: 3 axes given for an array of 2");
  CHECK_ERR(mx_slice(a, st, en, z, 2), MX_ERR_INVALID_ARG, "slice: step 0 on axis 1");
  CHECK_ERR(mx_slice(NULL, st, en, NULL, 2), MX_ERR_NULL_INPUT, "slice");
  int64_t s13[2] = {1, 3};
  mx_array u_bad = mx_zeros(s13, 2, MX_FLOAT32);
  int64_t st1[2] = {0, 0}, en1[2] = {2, 2};
  CHECK_ERR(mx_slice_update(a, u_bad, st1, en1, NULL, 2), MX_ERR_SHAPE,
            "slice_update: update of shape (1,3) does not broadcast to the slice (2,2)");

  /* take */
  CHECK_ERR(mx_take(a, fidx, 0), MX_ERR_DTYPE, "take: indices must be integers, got float32");
  CHECK_ERR(mx_take(a, bidx, 0), MX_ERR_DTYPE, "take: indices must be integers, got bool");
  CHECK_ERR(mx_take(a, idx, 2), MX_ERR_INVALID_ARG, "take: axis 2 is out of range");
  CHECK_ERR(mx_take(a, idx, -3), MX_ERR_INVALID_ARG, "take: axis -3 is out of range");
  mx_array scalar = mx_array_from_float(1.0f);
  CHECK_ERR(mx_take(scalar, idx, 0), MX_ERR_INVALID_ARG, "take: axis 0 is out of range");
  int64_t s20[2] = {2, 0};
  mx_array empty = mx_zeros(s20, 2, MX_FLOAT32);
  CHECK_ERR(mx_take(empty, idx, 1), MX_ERR_INVALID_ARG, "take: cannot take 3 indices from empty axis 1");
  CHECK_ERR(mx_take(a, NULL, 0), MX_ERR_NULL_INPUT, "take");

  /* take_along_axis / put_along_axis */
  CHECK_ERR(mx_take_along_axis(a, idx, 1), MX_ERR_SHAPE,
            "take_along_axis: indices have 1 dimensions, the array 2");
  int64_t s32[2] = {3, 2};
  mx_array idx32 = mx_zeros(s32, 2, MX_INT32);
  CHECK_ERR(mx_take_along_axis(a, idx32, 1), MX_ERR_SHAPE,
            "take_along_axis: shapes (2,3) and (3,2) do not broadcast outside axis 1");
  mx_array fidx2 = mx_zeros(s23, 2, MX_FLOAT16);
  CHECK_ERR(mx_take_along_axis(a, fidx2, 1), MX_ERR_DTYPE, "take_along_axis: indices must be integers, got float16");
  CHECK_ERR(mx_take_along_axis(a, idx32, 5), MX_ERR_INVALID_ARG, "take_along_axis: axis 5");
  mx_array vals = mx_zeros(s23, 2, MX_FLOAT32);
  CHECK_ERR(mx_put_along_axis(a, idx, vals, 0), MX_ERR_SHAPE,
            "put_along_axis: indices have 1 dimensions, the array 2");
  CHECK_ERR(mx_put_along_axis(a, fidx2, vals, 0), MX_ERR_DTYPE, "put_along_axis: indices must be integers");
  int64_t s223[3] = {2, 2, 3};
  mx_array vals3 = mx_zeros(s223, 3, MX_FLOAT32);
  mx_array idx23 = mx_zeros(s23, 2, MX_INT32);
  CHECK_ERR(mx_put_along_axis(a, idx23, vals3, 0), MX_ERR_SHAPE,
            "put_along_axis: values of shape (2,2,3) do not broadcast to indices of shape (2,3)");

  /* gather */
  int ax0[1] = {0}, ax00[2] = {0, 0}, ax5[1] = {5};
  int64_t ss[2] = {1, 3}, ss_big[2] = {1, 4}, ss_neg[2] = {1, -1};
  mx_array idxs3[3] = {idx, idx, idx};
  CHECK_ERR(mx_gather(a, idxs3, 3, (int[]){0, 1, 0}, ss), MX_ERR_INVALID_ARG,
            "gather: 3 index arrays for an array of 2 dimensions");
  CHECK_ERR(mx_gather(a, idxs3, 2, ax00, ss), MX_ERR_INVALID_ARG, "gather: axis 0 given twice");
  CHECK_ERR(mx_gather(a, &idx, 1, ax5, ss), MX_ERR_INVALID_ARG, "gather: axis 5 is out of range");
  CHECK_ERR(mx_gather(a, &fidx, 1, ax0, ss), MX_ERR_DTYPE, "gather: indices must be integers, got float32");
  CHECK_ERR(mx_gather(a, &bidx, 1, ax0, ss), MX_ERR_DTYPE, "gather: boolean indices are not supported");
  mx_array mixed[2] = {u64, i64};
  CHECK_ERR(mx_gather(a, mixed, 2, (int[]){0, 1}, (int64_t[]){1, 1}), MX_ERR_DTYPE,
            "gather: indices must be integers, got float32");
  CHECK_ERR(mx_gather(a, &idx, 1, ax0, ss_big), MX_ERR_INVALID_ARG,
            "gather: slice sizes (1,4) must be in [0, dim] for an array of shape (2,3)");
  CHECK_ERR(mx_gather(a, &idx, 1, ax0, ss_neg), MX_ERR_INVALID_ARG, "gather: slice sizes (1,-1)");
  CHECK_ERR(mx_gather(a, &idx, 1, ax0, NULL), MX_ERR_INVALID_ARG, "gather: slice_sizes is NULL");
  CHECK_ERR(mx_gather(a, NULL, 1, ax0, ss), MX_ERR_INVALID_ARG, "gather: 1 index arrays but indices is NULL");
  mx_array idx_pair[2] = {idx, idx32};
  CHECK_ERR(mx_gather(a, idx_pair, 2, (int[]){0, 1}, (int64_t[]){1, 1}), MX_ERR_SHAPE, "gather");
  {
    /* an empty input with non-empty indices and a non-empty slice */
    int64_t s02[2] = {0, 2};
    mx_array e2 = mx_zeros(s02, 2, MX_FLOAT32);
    CHECK_ERR(mx_gather(e2, &idx, 1, ax0, (int64_t[]){1, 2}), MX_ERR_INVALID_ARG,
              "gather: the input (0,2) is empty");
    mx_array_free(e2);
  }
  mx_array nul[1] = {NULL};
  CHECK_ERR(mx_gather(a, nul, 1, ax0, ss), MX_ERR_NULL_INPUT, "gather: input 0 is NULL");

  /* scatter */
  int64_t us_ok[3] = {3, 1, 3}, us_bad_nd[2] = {3, 3}, us_bad_lead[3] = {2, 1, 3},
          us_big[3] = {3, 1, 4};
  mx_array upd_bad_nd = mx_zeros(us_bad_nd, 2, MX_FLOAT32);
  mx_array upd_bad_lead = mx_zeros(us_bad_lead, 3, MX_FLOAT32);
  mx_array upd_big = mx_zeros(us_big, 3, MX_FLOAT32);
  mx_array upd_ok = mx_zeros(us_ok, 3, MX_FLOAT32);
  CHECK_ERR(mx_scatter(a, &idx, 1, upd_bad_nd, ax0), MX_ERR_SHAPE,
            "scatter: updates have 2 dimensions, expected 3 (indices 1 + array 2)");
  CHECK_ERR(mx_scatter_add(a, &idx, 1, upd_bad_lead, ax0), MX_ERR_SHAPE,
            "scatter_add: updates of shape (2,1,3) do not start with the index shape (3)");
  CHECK_ERR(mx_scatter_max(a, &idx, 1, upd_big, ax0), MX_ERR_SHAPE,
            "scatter_max: updates of shape (3,1,4) are too large for an array of shape (2,3)");
  CHECK_ERR(mx_scatter_min(a, &fidx, 1, upd_ok, ax0), MX_ERR_DTYPE, "scatter_min: indices must be integers");
  CHECK_ERR(mx_scatter_prod(a, &bidx, 1, upd_ok, ax0), MX_ERR_DTYPE, "scatter_prod: boolean indices");
  CHECK_ERR(mx_scatter(a, idxs3, 2, upd_ok, ax00), MX_ERR_INVALID_ARG, "scatter: axis 0 given twice");
  CHECK_ERR(mx_scatter(a, &idx, 1, upd_ok, ax5), MX_ERR_INVALID_ARG, "scatter: axis 5 is out of range");
  CHECK_ERR(mx_scatter(a, &idx, 1, NULL, ax0), MX_ERR_NULL_INPUT, "scatter");

  /* masked_scatter */
  mx_array m_int = mx_zeros(s23, 2, MX_INT32);
  mx_array m_ok = mx_zeros(s23, 2, MX_BOOL);
  int64_t s3[1] = {3};
  mx_array m_bad = mx_zeros(s3, 1, MX_BOOL);
  mx_array src6 = mx_zeros(s23, 2, MX_FLOAT32);
  CHECK_ERR(mx_masked_scatter(a, m_int, src6), MX_ERR_DTYPE, "masked_scatter: the mask must be bool, got int32");
  CHECK_ERR(mx_masked_scatter(a, m_bad, src6), MX_ERR_SHAPE,
            "masked_scatter: the mask of shape (3) must match the leading dims of shape (2,3)");
  CHECK_ERR(mx_masked_scatter(a, m_ok, src6), MX_ERR_SHAPE,
            "masked_scatter: source of shape (2,3) has more than 1 dimensions");
  int64_t s2[1] = {2};
  mx_array m2 = mx_zeros(s2, 1, MX_BOOL);
  mx_array src_bad = mx_zeros(s4, 1, MX_FLOAT32);
  CHECK_ERR(mx_masked_scatter(a, m2, src_bad), MX_ERR_SHAPE,
            "masked_scatter: source of shape (4) does not broadcast to (2,3)");

  mx_array frees[] = {a, idx, fidx, bidx, u64, i64, u_bad, scalar, empty, idx32, fidx2, vals,
                      vals3, idx23, upd_bad_nd, upd_bad_lead, upd_big, upd_ok, m_int, m_ok, m_bad,
                      src6, m2, src_bad};
  for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) mx_array_free(frees[i]);
}

/* Out-of-range indices fail cleanly at eval: no read or write outside. */
static void test_index_bounds(void) {
  int64_t s53[2] = {5, 3};
  mx_array a = iota_f32(s53, 2);
  int32_t bad_hi[3] = {0, 5, 1}, bad_lo[2] = {-6, 0}, ok_neg[2] = {-5, -1};
  mx_array ih = arr_i32(bad_hi, 3), il = arr_i32(bad_lo, 2), in = arr_i32(ok_neg, 2);
  CHECK_EVAL_ERR(mx_take(a, ih, 0), MX_ERR_INVALID_ARG,
                 "take: index 5 is out of range for axis 0 of size 5");
  CHECK_EVAL_ERR(mx_take(a, il, 0), MX_ERR_INVALID_ARG,
                 "take: index -6 is out of range for axis 0 of size 5");
  {
    int32_t big[1] = {15};
    mx_array ib = arr_i32(big, 1);
    CHECK_EVAL_ERR(mx_take(a, ib, MX_AXIS_NONE), MX_ERR_INVALID_ARG,
                   "take: index 15 is out of range for axis 0 of size 15");
    mx_array_free(ib);
  }
  /* the valid negative indices work */
  mx_array t = mx_take(a, in, 0);
  const float *tp = mx_array_data(t);
  CHECK(tp && tp[0] == 0 && tp[3] == 12 && tp[5] == 14);
  mx_array_free(t);

  /* u64 above INT64_MAX, u8 at the size */
  uint64_t huge = UINT64_MAX - 1;
  int64_t one = 1;
  mx_array ihuge = mx_array_from_data(&huge, &one, 1, MX_UINT64);
  CHECK_EVAL_ERR(mx_take(a, ihuge, 1), MX_ERR_INVALID_ARG,
                 "take: index 18446744073709551614 is out of range for axis 1 of size 3");
  uint8_t u3 = 3;
  mx_array iu8 = mx_array_from_data(&u3, &one, 1, MX_UINT8);
  CHECK_EVAL_ERR(mx_take(a, iu8, 1), MX_ERR_INVALID_ARG, "take: index 3 is out of range for axis 1 of size 3");
  int64_t i64min = INT64_MIN;
  mx_array imin = mx_array_from_data(&i64min, &one, 1, MX_INT64);
  CHECK_EVAL_ERR(mx_take(a, imin, 0), MX_ERR_INVALID_ARG, "take: index -9223372036854775808");

  /* gather with a window: index + slice size must fit */
  int ax1[1] = {1};
  int32_t g2[1] = {2};
  mx_array ig = arr_i32(g2, 1);
  CHECK_EVAL_ERR(mx_gather(a, &ig, 1, ax1, (int64_t[]){5, 2}), MX_ERR_INVALID_ARG,
                 "gather: index 2 is out of range for axis 1 of size 3 with slice size 2");
  /* the first bad index in row-major order is named */
  int32_t two_bad[4] = {0, 7, 1, 9};
  mx_array itb = arr_i32(two_bad, 4);
  CHECK_EVAL_ERR(mx_take(a, itb, 0), MX_ERR_INVALID_ARG, "take: index 7 is out");

  /* along-axis and scatters */
  int64_t s53i[2] = {5, 3};
  int32_t tv[15] = {0, 1, 2, 0, 1, 2, 0, 3, 2, 0, 1, 2, 0, 1, 2};
  mx_array ita = mx_array_from_data(tv, s53i, 2, MX_INT32);
  CHECK_EVAL_ERR(mx_take_along_axis(a, ita, 1), MX_ERR_INVALID_ARG,
                 "take_along_axis: index 3 is out of range for axis 1 of size 3");
  CHECK_EVAL_ERR(mx_put_along_axis(a, ita, a, 1), MX_ERR_INVALID_ARG,
                 "put_along_axis: index 3 is out of range for axis 1 of size 3");
  int64_t us[3] = {3, 1, 3};
  mx_array upd = mx_ones(us, 3, MX_FLOAT32);
  int ax0[1] = {0};
  CHECK_EVAL_ERR(mx_scatter(a, &ih, 1, upd, ax0), MX_ERR_INVALID_ARG,
                 "scatter: index 5 is out of range for axis 0 of size 5");
  CHECK_EVAL_ERR(mx_scatter_add(a, &ih, 1, upd, ax0), MX_ERR_INVALID_ARG,
                 "scatter_add: index 5 is out of range");
  /* a window of 2 rows at index 4 would write past the end */
  int64_t us2[3] = {1, 2, 3};
  mx_array upd2 = mx_ones(us2, 3, MX_FLOAT32);
  int32_t four[1] = {4};
  mx_array i4 = arr_i32(four, 1);
  CHECK_EVAL_ERR(mx_scatter_max(a, &i4, 1, upd2, ax0), MX_ERR_INVALID_ARG,
                 "scatter_max: index 4 is out of range for axis 0 of size 5 with slice size 2");

  /* masked_scatter: too few source blocks */
  bool mv[5] = {true, false, true, true, false};
  int64_t s5[1] = {5}, s23[2] = {2, 3};
  mx_array m = mx_array_from_data(mv, s5, 1, MX_BOOL);
  mx_array src = mx_ones(s23, 2, MX_FLOAT32);
  CHECK_EVAL_ERR(mx_masked_scatter(a, m, src), MX_ERR_INVALID_ARG,
                 "masked_scatter: the mask selects 3 blocks but the source has only 2");

  /* a failed node in a larger graph fails the graph, and frees cleanly */
  mx_array t2 = mx_take(a, ih, 0);
  mx_array sum = mx_slice(t2, (int64_t[]){0}, (int64_t[]){1}, NULL, 1);
  CHECK(mx_eval1(sum) == MX_ERR_INVALID_ARG);
  mx_array_free(sum);
  mx_array_free(t2);
  mx_clear_error();

  mx_array frees[] = {a, ih, il, in, ihuge, iu8, imin, ig, itb, ita, upd, upd2, i4, m, src};
  for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) mx_array_free(frees[i]);
}

/* Duplicates: plain scatter keeps the last update; reductions fold all. */
static void test_duplicates(void) {
  int64_t s4[1] = {4}, s51[2] = {5, 1};
  mx_array a = mx_zeros(s4, 1, MX_FLOAT32);
  int32_t iv[5] = {1, 2, 1, -3, 2};
  mx_array idx = arr_i32(iv, 5);
  float uv[5] = {10, 20, 30, 40, 50};
  mx_array u = arr_f32(uv, s51, 2);
  int ax0[1] = {0};
  mx_array s = mx_scatter(a, &idx, 1, u, ax0);
  const float *sp = mx_array_data(s);
  CHECK(sp && sp[0] == 0 && sp[1] == 40 && sp[2] == 50 && sp[3] == 0);
  mx_array sa = mx_scatter_add(a, &idx, 1, u, ax0);
  const float *sap = mx_array_data(sa);
  CHECK(sap && sap[1] == 80 && sap[2] == 70);
  /* put_along_axis: the last write along the axis wins */
  int32_t pv[3] = {2, 0, 2};
  mx_array pidx = arr_i32(pv, 3);
  float pvals[3] = {1, 2, 3};
  int64_t s3[1] = {3};
  mx_array pval = arr_f32(pvals, s3, 1);
  mx_array pa = mx_put_along_axis(a, pidx, pval, 0);
  const float *pp = mx_array_data(pa);
  CHECK(pp && pp[0] == 2 && pp[2] == 3);
  /* a big duplicate-heavy scatter gives the sequential result (parallel
   * path: windows of 4096 per row) */
  int64_t sh[2] = {8, 4096}, ush[3] = {64, 1, 4096};
  mx_array big = mx_zeros(sh, 2, MX_FLOAT32);
  int32_t bi[64];
  for (int i = 0; i < 64; i++) bi[i] = i % 3;
  mx_array bidx = arr_i32(bi, 64);
  mx_array bu = iota_f32(ush, 3);
  mx_array bs = mx_scatter(big, &bidx, 1, bu, ax0);
  mx_array bsa = mx_scatter_add(big, &bidx, 1, bu, ax0);
  const float *bsp = mx_array_data(bs), *bsap = mx_array_data(bsa);
  bool ok = bsp && bsap;
  for (int r = 0; ok && r < 3; r++) {
    int last = 63 - ((63 - r) % 3); /* last update index i with i % 3 == r */
    for (int k = 0; k < 4096; k += 511) {
      if (bsp[r * 4096 + k] != (float)(last * 4096 + k)) ok = false;
      double want = 0;
      for (int i = r; i < 64; i += 3) want += (double)(i * 4096 + k);
      if (bsap[r * 4096 + k] != (float)want) ok = false;
    }
  }
  CHECK_MSG(ok, "big scatter / scatter_add with duplicates");
  mx_array frees[] = {a, idx, u, s, sa, pidx, pval, pa, big, bidx, bu, bs, bsa};
  for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) mx_array_free(frees[i]);
}

/* slice is a view of the same buffer; slice_update reuses a buffer it alone
 * reads; 0-d and scalar cases. */
static void test_views_and_donation(void) {
  int64_t sh[2] = {6, 8};
  mx_array a = iota_f32(sh, 2);
  mx_eval1(a);
  int64_t st[2] = {1, 6}, en[2] = {5, 0}, sd[2] = {2, -3};
  mx_array v = mx_slice(a, st, en, sd, 2);
  CHECK(mx_eval1(v) == MX_OK);
  CHECK(v->buf == a->buf);
  CHECK(v->shape[0] == 2 && v->shape[1] == 2 && v->strides[0] == 16 && v->strides[1] == -3);
  const float *vp = mx_array_data(v);
  CHECK(vp && vp[0] == 14 && vp[1] == 11 && vp[2] == 30 && vp[3] == 27);
  /* the whole array in order: no node at all */
  mx_array w = mx_slice(a, NULL, NULL, NULL, 2);
  CHECK(w == a);
  mx_array_free(w);

  /* slice_update donation: the source's only reader is the node */
  mx_array src = mx_zeros(sh, 2, MX_FLOAT32);
  mx_eval1(src);
  mx_buffer *sb = src->buf;
  int64_t ust[1] = {2}, uen[1] = {3};
  mx_array one = mx_array_from_float(1.0f);
  mx_array up = mx_slice_update(src, one, ust, uen, NULL, 1);
  mx_array_free(src); /* now only `up` holds it */
  CHECK(mx_eval1(up) == MX_OK);
  CHECK_MSG(up->buf == sb, "slice_update reuses the buffer of a source nobody else reads");
  const float *upp = mx_array_data(up);
  CHECK(upp && upp[15] == 0 && upp[16] == 1 && upp[23] == 1 && upp[24] == 0);
  /* ...but not one the caller still holds */
  mx_array up2 = mx_slice_update(up, one, ust, uen, NULL, 1);
  CHECK(mx_eval1(up2) == MX_OK && up2->buf != up->buf);

  /* 0-d: take from a flattened scalar; gather of a 0-d array; scatter into it */
  mx_array s0 = mx_array_from_float(4.5f);
  mx_array g0 = mx_gather(s0, NULL, 0, NULL, NULL);
  float gv = 0;
  CHECK(g0 && mx_array_ndim(g0) == 0 && mx_array_item_float32(g0, &gv) == MX_OK && gv == 4.5f);
  mx_array sc0 = mx_scatter_add(s0, NULL, 0, one, NULL);
  CHECK(sc0 && mx_array_item_float32(sc0, &gv) == MX_OK && gv == 5.5f);
  int32_t zero = 0;
  mx_array i0 = mx_array_from_data(&zero, NULL, 0, MX_INT32);
  mx_array t0 = mx_take(a, i0, 1);
  CHECK(t0 && mx_array_ndim(t0) == 1 && mx_array_dim(t0, 0) == 6);
  const float *t0p = mx_array_data(t0);
  CHECK(t0p && t0p[1] == 8 && t0p[5] == 40);
  /* masked_scatter with a 0-d mask */
  mx_array mtrue = mx_array_from_bool(true);
  mx_array ms = mx_masked_scatter(a, mtrue, one);
  const float *msp = mx_array_data(ms);
  CHECK(msp && msp[0] == 1 && msp[47] == 1);

  mx_array frees[] = {a, v, one, up, up2, s0, g0, sc0, i0, t0, mtrue, ms};
  for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) mx_array_free(frees[i]);
}

/* Empty dims in any position (the NumPy fixtures need them first). An
 * empty result reads nothing, so its indices are not checked. */
static void test_empty_shapes(void) {
  int64_t s30[2] = {3, 0}, s34[2] = {3, 4}, s654[3] = {6, 5, 4};
  mx_array a30 = mx_zeros(s30, 2, MX_FLOAT32), a34 = iota_f32(s34, 2), a654 = iota_f32(s654, 3);
  int32_t iv[3] = {0, 2, 99};
  mx_array idx = arr_i32(iv, 3);
  int64_t s20[2] = {2, 0};
  mx_array idx20 = mx_zeros(s20, 2, MX_INT32);

  mx_array t1 = mx_take(a30, idx, 0); /* (3,0): nothing read, 99 unchecked */
  CHECK(t1 && mx_eval1(t1) == MX_OK && mx_array_dim(t1, 0) == 3 && mx_array_dim(t1, 1) == 0);
  mx_array t2 = mx_take(a34, idx20, 1);
  CHECK(t2 && mx_eval1(t2) == MX_OK && mx_array_ndim(t2) == 3 && mx_array_size(t2) == 0);
  int ax0[1] = {0};
  mx_array g = mx_gather(a654, &idx, 1, ax0, (int64_t[]){1, 0, 4});
  CHECK(g && mx_eval1(g) == MX_OK && mx_array_ndim(g) == 4 && mx_array_dim(g, 2) == 0);
  mx_array tal = mx_take_along_axis(a34, idx20, 1);
  CHECK(tal == NULL); /* (2,0) does not broadcast with (3,4) outside axis 1 */
  mx_clear_error();
  int64_t s30i[2] = {3, 0};
  mx_array idx30 = mx_zeros(s30i, 2, MX_INT32);
  mx_array tal2 = mx_take_along_axis(a34, idx30, 1);
  CHECK(tal2 && mx_eval1(tal2) == MX_OK && mx_array_dim(tal2, 1) == 0);
  mx_array pal = mx_put_along_axis(a34, idx30, a30, 1);
  const float *pp = mx_array_data(pal);
  CHECK(pp && pp[5] == 5 && mx_array_size(pal) == 12);
  int64_t us[3] = {0, 1, 4};
  mx_array u0 = mx_zeros(us, 3, MX_FLOAT32);
  int32_t none[1] = {0};
  int64_t zero = 0;
  mx_array i0 = mx_array_from_data(none, &zero, 1, MX_INT32);
  mx_array sc = mx_scatter_add(a34, &i0, 1, u0, ax0);
  const float *sp = mx_array_data(sc);
  CHECK(sp && sp[11] == 11);
  int64_t st[2] = {1, 0}, en[2] = {1, 4};
  int64_t s04[2] = {0, 4};
  mx_array u04 = mx_zeros(s04, 2, MX_FLOAT32);
  mx_array su = mx_slice_update(a34, u04, st, en, NULL, 2);
  const float *sup = mx_array_data(su);
  CHECK(sup && sup[4] == 4);
  mx_array sl = mx_slice(a34, (int64_t[]){0, 3}, (int64_t[]){3, 1}, NULL, 2);
  CHECK(sl && mx_eval1(sl) == MX_OK && mx_array_dim(sl, 1) == 0);
  bool mv[3] = {true, true, false};
  int64_t s3[1] = {3};
  mx_array m = mx_array_from_data(mv, s3, 1, MX_BOOL);
  mx_array one = mx_array_from_float(1);
  mx_array ms = mx_masked_scatter(a30, m, one);
  CHECK(ms && mx_eval1(ms) == MX_OK && mx_array_size(ms) == 0);
  mx_array frees[] = {a30, a34, a654, idx, idx20, t1, t2, g, idx30, tal2, pal, u0, i0, sc, u04, su,
                      sl, m, one, ms};
  for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) mx_array_free(frees[i]);
}

/* The embedding lookup: rows of a [V, D] table; checks values and prints the
 * achieved bandwidth (no timing assertion). */
static void test_embedding(void) {
  int64_t sh[2] = {32000, 256};
  mx_array tab = iota_f32(sh, 2);
  mx_eval1(tab);
  int32_t ids[512];
  for (int i = 0; i < 512; i++) ids[i] = (int32_t)((i * 7919L) % 32000) - (i % 2 ? 32000 : 0);
  int64_t n = 512;
  mx_array idx = mx_array_from_data(ids, &n, 1, MX_INT32);
  mx_eval1(idx);
  mx_array warm = mx_take(tab, idx, 0); /* first touch of pages and threads */
  mx_eval1(warm);
  mx_array_free(warm);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  mx_array e = mx_take(tab, idx, 0);
  mx_eval1(e);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const float *ep = mx_array_data(e);
  bool ok = ep != NULL;
  for (int i = 0; ok && i < 512; i++) {
    int64_t row = ids[i] < 0 ? ids[i] + 32000 : ids[i];
    if (ep[i * 256] != (float)(row * 256) || ep[i * 256 + 255] != (float)(row * 256 + 255))
      ok = false;
  }
  CHECK_MSG(ok, "embedding rows");
  double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  printf("take [32000,256] f32, 512 rows: %.1f us (%.2f GB/s)\n", s * 1e6,
         512.0 * 256 * 4 / s / 1e9);
  mx_array_free(e);
  mx_array_free(idx);
  mx_array_free(tab);
}

int main(int argc, char **argv) {
  size_t base = mx_memory_active();
  test_front_end_errors();
  test_index_bounds();
  test_duplicates();
  test_views_and_donation();
  test_empty_shapes();
  test_embedding();
  char detail[128];
  snprintf(detail, sizeof detail, "active %zu, baseline %zu", mx_memory_active(), base);
  check_report(mx_memory_active() == base, __FILE__, __LINE__, "C tests free all memory", detail);
  if (argc > 1) fx_run_dir(argv[1], OPS, (int)(sizeof OPS / sizeof *OPS));
  return check_summary();
}
