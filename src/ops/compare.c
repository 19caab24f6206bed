/* compare.c — front ends of where, isclose, allclose and array_equal. */
#include <math.h>

#include "../backend/cpu/elementwise.h"
#include "ops_common.h"

static const mx_primitive prim_where = {"where", cpu_where, NULL};
static const mx_primitive prim_isclose = {"isclose", cpu_isclose, NULL};
static const mx_primitive prim_all_true = {"all", cpu_all_true, NULL};
static const mx_primitive prim_equal = {"array_equal", cpu_equal, NULL};
static const mx_primitive prim_nan_equal = {"array_equal", cpu_nan_equal, NULL};

mx_array mx_where(mx_array cond, mx_array x, mx_array y) {
  mx_array v[3] = {cond, x, y};
  if (any_null("where", v, 3)) return NULL;
  int64_t s1[MX_MAX_NDIM], shape[MX_MAX_NDIM];
  int n1, ndim;
  if (broadcast_shapes("where", cond->shape, cond->ndim, x->shape, x->ndim, s1, &n1) < 0 ||
      broadcast_shapes("where", s1, n1, y->shape, y->ndim, shape, &ndim) < 0)
    return NULL;
  mx_dtype t = mx_promote_types(x->dtype, y->dtype);
  mx_array in[3] = {cast_to(cond, MX_BOOL), cast_to(x, t), cast_to(y, t)};
  mx_array out = NULL;
  if (in[0] && in[1] && in[2]) out = node_new(&prim_where, t, shape, ndim, in, 3, NULL, 0);
  for (int k = 0; k < 3; k++) mx_array_free(in[k]);
  return out;
}

/* A 0-d bool node: all elements of bool array `b` are true. Takes `b`. */
static mx_array all_true(mx_array b) {
  if (!b) return NULL;
  mx_array out = node_new(&prim_all_true, MX_BOOL, NULL, 0, &b, 1, NULL, 0);
  mx_array_free(b);
  return out;
}

static bool bad_tolerance(const char *op, double rtol, double atol) {
  if (isnan(rtol) || isnan(atol)) {
    set_error(MX_ERR_INVALID_ARG, "%s: rtol and atol must not be NaN (got %g, %g)", op, rtol,
              atol);
    return true;
  }
  return false;
}

static mx_array isclose_impl(const char *op, mx_array a, mx_array b, double rtol, double atol,
                             bool equal_nan) {
  mx_array v[2] = {a, b};
  if (any_null(op, v, 2)) return NULL;
  if (bad_tolerance(op, rtol, atol)) return NULL;
  int64_t shape[MX_MAX_NDIM];
  int ndim;
  if (broadcast_shapes(op, a->shape, a->ndim, b->shape, b->ndim, shape, &ndim) < 0) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  ew_close_params p = {rtol, atol, equal_nan};
  mx_array in[2] = {cast_to(a, t), cast_to(b, t)};
  mx_array out = NULL;
  if (in[0] && in[1]) out = node_new(&prim_isclose, MX_BOOL, shape, ndim, in, 2, &p, sizeof p);
  mx_array_free(in[0]);
  mx_array_free(in[1]);
  return out;
}

mx_array mx_isclose(mx_array a, mx_array b, double rtol, double atol, bool equal_nan) {
  return isclose_impl("isclose", a, b, rtol, atol, equal_nan);
}

mx_array mx_allclose(mx_array a, mx_array b, double rtol, double atol, bool equal_nan) {
  return all_true(isclose_impl("allclose", a, b, rtol, atol, equal_nan));
}

mx_array mx_array_equal(mx_array a, mx_array b, bool equal_nan) {
  mx_array v[2] = {a, b};
  if (any_null("array_equal", v, 2)) return NULL;
  if (a->ndim != b->ndim) return mx_array_from_bool(false);
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return mx_array_from_bool(false);
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  equal_nan = equal_nan && mx_dtype_is_inexact(t);
  mx_array in[2] = {cast_to(a, t), cast_to(b, t)};
  mx_array eq = NULL;
  if (in[0] && in[1])
    eq = node_new(equal_nan ? &prim_nan_equal : &prim_equal, MX_BOOL, a->shape, a->ndim, in, 2,
                  NULL, 0);
  mx_array_free(in[0]);
  mx_array_free(in[1]);
  return all_true(eq);
}
