/* shape_util.c — broadcasting and axis normalization for op front ends. */
#include <string.h>

#include "core.h"

mx_status broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b, int nb,
                           int64_t *out, int *nout) {
  int n = na > nb ? na : nb;
  for (int i = 0; i < n; i++) {
    int ia = na - n + i, ib = nb - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      char sa[SHAPE_STR_CAP], sb[SHAPE_STR_CAP];
      return set_error(MX_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast", op,
                       fmt_shape(sa, sizeof sa, a, na), fmt_shape(sb, sizeof sb, b, nb));
    }
    out[i] = da == 1 ? db : da;
  }
  *nout = n;
  return MX_OK;
}

mx_status normalize_axis(const char *op, int axis, int ndim, int *out) {
  if (axis < -ndim || axis >= ndim)
    return set_error(MX_ERR_INVALID_ARG, "%s: axis %d is out of range for an array of %d dimensions",
                     op, axis, ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return MX_OK;
}

mx_status normalize_axes(const char *op, const int *axes, int naxes, int ndim, int *out,
                         int *nout) {
  if (!axes) { /* NULL: every axis */
    for (int i = 0; i < ndim; i++) out[i] = i;
    *nout = ndim;
    return MX_OK;
  }
  if (naxes < 0 || naxes > ndim)
    return set_error(MX_ERR_INVALID_ARG, "%s: %d axes given for an array of %d dimensions", op,
                     naxes, ndim);
  bool seen[MX_MAX_NDIM] = {0};
  for (int i = 0; i < naxes; i++) {
    int ax;
    mx_status st = normalize_axis(op, axes[i], ndim, &ax);
    if (st < 0) return st;
    if (seen[ax]) return set_error(MX_ERR_INVALID_ARG, "%s: axis %d given twice", op, axes[i]);
    seen[ax] = true;
  }
  int k = 0;
  for (int i = 0; i < ndim; i++)
    if (seen[i]) out[k++] = i;
  *nout = k;
  return MX_OK;
}

bool shape_check(const char *op, const int64_t *shape, int ndim, int64_t max_elems) {
  if (ndim < 0 || ndim > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "%s: %d dimensions (at most %d)", op, ndim, MX_MAX_NDIM);
    return false;
  }
  if (ndim > 0 && !shape) {
    set_error(MX_ERR_INVALID_ARG, "%s: shape is NULL with %d dimensions", op, ndim);
    return false;
  }
  int64_t size = 1;
  bool ovf = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "%s: negative dimension in shape %s", op,
                fmt_shape(s, sizeof s, shape, ndim));
      return false;
    }
    ovf |= __builtin_mul_overflow(size, shape[i], &size);
  }
  if (ovf || size > max_elems) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "%s: shape %s has too many elements", op,
              fmt_shape(s, sizeof s, shape, ndim));
    return false;
  }
  return true;
}
