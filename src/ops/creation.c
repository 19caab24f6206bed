/* creation.c — front ends of the array constructors: full and its
 * shorthands, arange, linspace, eye/identity, tri/tril/triu. They record
 * nodes without inputs (or with the fill values) whose kernels write the
 * output; nothing is built on the host. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "../backend/cpu/cpu.h"
#include "../backend/cpu/creation.h"
#include "ops_common.h"

static const mx_primitive prim_fill = {"full", cpu_fill, NULL};
static const mx_primitive prim_full = {"full", cpu_full, NULL};
static const mx_primitive prim_arange = {"arange", cpu_arange, NULL};
static const mx_primitive prim_linspace = {"linspace", cpu_linspace, NULL};
static const mx_primitive prim_eye = {"eye", cpu_eye, NULL};
static const mx_primitive prim_tri = {"tri", cpu_tri, NULL};
static const mx_primitive prim_tril = {"tril", cpu_tril_triu, NULL};
static const mx_primitive prim_triu = {"triu", cpu_tril_triu, NULL};

static bool check_dtype(const char *op, mx_dtype dtype) {
  if (mx_dtype_is_valid(dtype)) return true;
  set_error(MX_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
  return false;
}

/* A user-given shape: rank in range, no negative dims, size fits int64. */
static bool check_shape(const char *op, const int64_t *shape, int ndim) {
  return shape_check(op, shape, ndim, INT64_MAX);
}

/* A constant array; `op` names the caller in errors. */
static mx_array fill_node(const char *op, const int64_t *shape, int ndim, double value,
                          mx_dtype dtype) {
  if (!check_dtype(op, dtype) || !check_shape(op, shape, ndim)) return NULL;
  fill_params p;
  memset(&p, 0, sizeof p);
  convert_run(&value, 1, MX_FLOAT64, p.value, dtype, 1);
  return node_new(&prim_fill, dtype, shape, ndim, NULL, 0, &p, sizeof p);
}

mx_array mx_zeros(const int64_t *shape, int ndim, mx_dtype dtype) {
  return fill_node("zeros", shape, ndim, 0.0, dtype);
}

mx_array mx_ones(const int64_t *shape, int ndim, mx_dtype dtype) {
  return fill_node("ones", shape, ndim, 1.0, dtype);
}

mx_array mx_full_scalar(const int64_t *shape, int ndim, double value, mx_dtype dtype) {
  return fill_node("full", shape, ndim, value, dtype);
}

mx_array mx_full(const int64_t *shape, int ndim, mx_array vals, mx_dtype dtype) {
  CHECK_INPUT("full", vals);
  if (!check_dtype("full", dtype) || !check_shape("full", shape, ndim)) return NULL;
  bool ok = vals->ndim <= ndim;
  for (int i = 0; ok && i < vals->ndim; i++) {
    int64_t dv = vals->shape[i], dt = shape[ndim - vals->ndim + i];
    ok = dv == dt || dv == 1;
  }
  if (!ok) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "full: cannot broadcast vals of shape %s to shape %s",
              fmt_shape(s1, sizeof s1, vals->shape, vals->ndim), fmt_shape(s2, sizeof s2, shape, ndim));
    return NULL;
  }
  /* Cast before broadcasting so the conversion touches each value once. */
  mx_array c = cast_to(vals, dtype);
  mx_array b = c ? mx_broadcast_to(c, shape, ndim) : NULL;
  mx_array_free(c);
  if (!b) return NULL;
  mx_array out = node_new(&prim_full, dtype, shape, ndim, &b, 1, NULL, 0);
  mx_array_free(b);
  return out;
}

mx_array mx_zeros_like(mx_array a) {
  CHECK_INPUT("zeros_like", a);
  return fill_node("zeros_like", a->shape, a->ndim, 0.0, a->dtype);
}

mx_array mx_ones_like(mx_array a) {
  CHECK_INPUT("ones_like", a);
  return fill_node("ones_like", a->shape, a->ndim, 1.0, a->dtype);
}

mx_array mx_full_like(mx_array a, double value) {
  CHECK_INPUT("full_like", a);
  return fill_node("full_like", a->shape, a->ndim, value, a->dtype);
}

mx_array mx_arange(double start, double stop, double step, mx_dtype dtype) {
  if (!check_dtype("arange", dtype)) return NULL;
  if (dtype == MX_BOOL) {
    set_error(MX_ERR_DTYPE, "arange: bool is not supported");
    return NULL;
  }
  if (isnan(start) || isnan(stop) || isnan(step) || isinf(start) || isinf(stop)) {
    set_error(MX_ERR_INVALID_ARG, "arange: cannot compute the length of [%g, %g) by %g", start,
              stop, step);
    return NULL;
  }
  if (step == 0) {
    set_error(MX_ERR_INVALID_ARG, "arange: step must be nonzero");
    return NULL;
  }
  int64_t size;
  if (isinf(step)) {
    /* An infinite step reaches stop in one move: only start, if in range. */
    size = (step > 0 && start < stop) || (step < 0 && start > stop) ? 1 : 0;
  } else {
    double real = ceil((stop - start) / step);
    if (real > INT_MAX) {
      set_error(MX_ERR_INVALID_ARG, "arange: %g elements exceed the maximum size %d", real, INT_MAX);
      return NULL;
    }
    size = real > 0 ? (int64_t)real : 0;
  }
  arange_params p = {start, step};
  return node_new(&prim_arange, dtype, &size, 1, NULL, 0, &p, sizeof p);
}

mx_array mx_linspace(double start, double stop, int64_t num, mx_dtype dtype) {
  if (!check_dtype("linspace", dtype)) return NULL;
  if (num < 0) {
    set_error(MX_ERR_INVALID_ARG, "linspace: number of samples %lld must be non-negative",
              (long long)num);
    return NULL;
  }
  linspace_params p = {start, stop};
  return node_new(&prim_linspace, dtype, &num, 1, NULL, 0, &p, sizeof p);
}

/* n x m (m < 0: n) with the op's k. */
static mx_array diag_node(const mx_primitive *prim, const char *op, int64_t n, int64_t m,
                          int64_t k, mx_dtype dtype) {
  if (!check_dtype(op, dtype)) return NULL;
  if (m < 0) m = n;
  if (n < 0) {
    set_error(MX_ERR_INVALID_ARG, "%s: n = %lld must be non-negative", op, (long long)n);
    return NULL;
  }
  int64_t shape[2] = {n, m};
  if (!check_shape(op, shape, 2)) return NULL;
  diag_params p = {k, 0};
  return node_new(prim, dtype, shape, 2, NULL, 0, &p, sizeof p);
}

mx_array mx_eye(int64_t n, int64_t m, int64_t k, mx_dtype dtype) {
  return diag_node(&prim_eye, "eye", n, m, k, dtype);
}

mx_array mx_identity(int64_t n, mx_dtype dtype) {
  return diag_node(&prim_eye, "identity", n, n, 0, dtype);
}

mx_array mx_tri(int64_t n, int64_t m, int64_t k, mx_dtype dtype) {
  return diag_node(&prim_tri, "tri", n, m, k, dtype);
}

static mx_array tri_mask(const char *op, const mx_primitive *prim, mx_array a, int64_t k,
                         int upper) {
  CHECK_INPUT(op, a);
  if (a->ndim < 2) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "%s: array must be at least 2-D, got shape %s", op,
              fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  diag_params p = {k, upper};
  return node_new(prim, a->dtype, a->shape, a->ndim, &a, 1, &p, sizeof p);
}

mx_array mx_tril(mx_array a, int64_t k) { return tri_mask("tril", &prim_tril, a, k, 0); }

mx_array mx_triu(mx_array a, int64_t k) { return tri_mask("triu", &prim_triu, a, k, 1); }
