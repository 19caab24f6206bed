/* views.c — front ends of astype, contiguous, reshape, transpose,
 * broadcast_to, as_strided: the ops every other front end builds on. */
#include <string.h>

#include "../backend/cpu/copy.h"
#include "ops_common.h"

static const mx_primitive prim_astype = {"astype", cpu_astype, NULL};
static const mx_primitive prim_contiguous = {"contiguous", cpu_contiguous, NULL};
static const mx_primitive prim_reshape = {"reshape", cpu_reshape, NULL};
static const mx_primitive prim_transpose = {"transpose", cpu_transpose, NULL};
static const mx_primitive prim_broadcast = {"broadcast_to", cpu_broadcast, NULL};
static const mx_primitive prim_as_strided = {"as_strided", cpu_as_strided, NULL};

mx_array mx_astype(mx_array a, mx_dtype dtype) {
  CHECK_INPUT("astype", a);
  if (!mx_dtype_is_valid(dtype)) {
    set_error(MX_ERR_DTYPE, "astype: invalid dtype %d", (int)dtype);
    return NULL;
  }
  if (a->dtype == dtype) return mx_array_retain(a);
  return node_new(&prim_astype, dtype, a->shape, a->ndim, &a, 1, NULL, 0);
}

mx_array mx_contiguous(mx_array a) {
  CHECK_INPUT("contiguous", a);
  return node_new(&prim_contiguous, a->dtype, a->shape, a->ndim, &a, 1, NULL, 0);
}

mx_array mx_reshape(mx_array a, const int64_t *shape, int ndim) {
  CHECK_INPUT("reshape", a);
  if (ndim < 0 || ndim > MX_MAX_NDIM || (ndim > 0 && !shape)) {
    set_error(MX_ERR_SHAPE, "reshape: bad target rank %d", ndim);
    return NULL;
  }
  int64_t sh[MX_MAX_NDIM];
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < ndim; i++) {
    sh[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        set_error(MX_ERR_SHAPE, "reshape: more than one -1 in the target shape");
        return NULL;
      }
      infer = i;
    } else if (shape[i] < 0) {
      set_error(MX_ERR_SHAPE, "reshape: negative dimension %lld", (long long)shape[i]);
      return NULL;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a->size % known != 0) {
      char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "reshape: cannot reshape array of shape %s into %s",
                fmt_shape(s1, sizeof s1, a->shape, a->ndim), fmt_shape(s2, sizeof s2, shape, ndim));
      return NULL;
    }
    sh[infer] = a->size / known;
  }
  if (shape_size(sh, ndim) != a->size) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "reshape: cannot reshape array of shape %s into %s",
              fmt_shape(s1, sizeof s1, a->shape, a->ndim), fmt_shape(s2, sizeof s2, shape, ndim));
    return NULL;
  }
  return node_new(&prim_reshape, a->dtype, sh, ndim, &a, 1, NULL, 0);
}

mx_array mx_transpose(mx_array a, const int *axes, int naxes) {
  CHECK_INPUT("transpose", a);
  view_params p;
  memset(&p, 0, sizeof p);
  if (!axes) {
    for (int i = 0; i < a->ndim; i++) p.perm[i] = a->ndim - 1 - i;
  } else {
    if (naxes != a->ndim) {
      set_error(MX_ERR_INVALID_ARG, "transpose: %d axes given for an array of %d dimensions",
                naxes, a->ndim);
      return NULL;
    }
    bool seen[MX_MAX_NDIM] = {0};
    for (int i = 0; i < naxes; i++) {
      int ax;
      if (normalize_axis("transpose", axes[i], a->ndim, &ax) < 0) return NULL;
      if (seen[ax]) {
        set_error(MX_ERR_INVALID_ARG, "transpose: axis %d repeated", axes[i]);
        return NULL;
      }
      seen[ax] = true;
      p.perm[i] = ax;
    }
  }
  int64_t sh[MX_MAX_NDIM];
  for (int i = 0; i < a->ndim; i++) sh[i] = a->shape[p.perm[i]];
  return node_new(&prim_transpose, a->dtype, sh, a->ndim, &a, 1, &p, sizeof p);
}

mx_array mx_broadcast_to(mx_array a, const int64_t *shape, int ndim) {
  CHECK_INPUT("broadcast_to", a);
  if (ndim < a->ndim || ndim > MX_MAX_NDIM || (ndim && !shape)) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "broadcast_to: cannot broadcast shape %s to %s",
              fmt_shape(s1, sizeof s1, a->shape, a->ndim),
              shape ? fmt_shape(s2, sizeof s2, shape, ndim < 0 ? 0 : ndim) : "NULL");
    return NULL;
  }
  for (int i = 0; i < a->ndim; i++) {
    int64_t da = a->shape[i], dt = shape[ndim - a->ndim + i];
    if (da != dt && da != 1) {
      char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "broadcast_to: cannot broadcast shape %s to %s",
                fmt_shape(s1, sizeof s1, a->shape, a->ndim), fmt_shape(s2, sizeof s2, shape, ndim));
      return NULL;
    }
  }
  if (ndim == a->ndim && memcmp(shape, a->shape, (size_t)ndim * sizeof *shape) == 0)
    return mx_array_retain(a);
  return node_new(&prim_broadcast, a->dtype, shape, ndim, &a, 1, NULL, 0);
}

mx_array mx_as_strided(mx_array a, const int64_t *shape, int ndim, const int64_t *strides,
                       int64_t offset) {
  CHECK_INPUT("as_strided", a);
  if (ndim < 0 || ndim > MX_MAX_NDIM || (ndim && (!shape || !strides))) {
    set_error(MX_ERR_INVALID_ARG, "as_strided: bad shape/strides (ndim %d)", ndim);
    return NULL;
  }
  /* Every reachable element must lie inside a's data. */
  int64_t lo = offset, hi = offset;
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      set_error(MX_ERR_SHAPE, "as_strided: negative dimension %lld", (long long)shape[i]);
      return NULL;
    }
    int64_t reach;
    bool ovf = __builtin_mul_overflow(strides[i], shape[i] ? shape[i] - 1 : 0, &reach);
    if (shape[i] == 0) empty = true;
    else if (strides[i] > 0) ovf |= __builtin_add_overflow(hi, reach, &hi);
    else ovf |= __builtin_add_overflow(lo, reach, &lo);
    if (ovf) {
      set_error(MX_ERR_INVALID_ARG, "as_strided: strides overflow the index range");
      return NULL;
    }
  }
  if (!empty && (lo < 0 || hi >= a->size)) {
    set_error(MX_ERR_INVALID_ARG,
              "as_strided: view reaches elements %lld..%lld outside the %lld of the input",
              (long long)lo, (long long)hi, (long long)a->size);
    return NULL;
  }
  view_params p;
  memset(&p, 0, sizeof p);
  for (int i = 0; i < ndim; i++) p.strides[i] = strides[i];
  p.offset = offset;
  return node_new(&prim_as_strided, a->dtype, shape, ndim, &a, 1, &p, sizeof p);
}

static const mx_primitive prim_view = {"view", cpu_view, NULL};

mx_array mx_view(mx_array a, mx_dtype dtype) {
  CHECK_INPUT("view", a);
  if (!mx_dtype_is_valid(dtype)) {
    set_error(MX_ERR_DTYPE, "view: invalid dtype %d", (int)dtype);
    return NULL;
  }
  size_t is = mx_dtype_size(a->dtype), os = mx_dtype_size(dtype);
  int64_t sh[MX_MAX_NDIM];
  int nd = a->ndim;
  memcpy(sh, a->shape, (size_t)nd * sizeof *sh);
  if (is != os) {
    if (nd == 0) {
      set_error(MX_ERR_SHAPE, "view: a 0-d %s array cannot be viewed as %s", mx_dtype_name(a->dtype),
                mx_dtype_name(dtype));
      return NULL;
    }
    int64_t bytes = sh[nd - 1] * (int64_t)is;
    if (bytes % (int64_t)os != 0) {
      set_error(MX_ERR_SHAPE, "view: last axis of %lld bytes is not a multiple of %zu (%s)",
                (long long)bytes, os, mx_dtype_name(dtype));
      return NULL;
    }
    sh[nd - 1] = bytes / (int64_t)os;
  }
  return node_new(&prim_view, dtype, sh, nd, &a, 1, NULL, 0);
}
