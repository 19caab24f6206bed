/* reduce.c — front ends of the reductions (sum, prod, mean, var, std, max,
 * min, all, any, logsumexp, median), argmax/argmin and softmax.
 *
 * Result dtypes follow MLX: sums and products widen integers to
 * int32/uint32 (64-bit types stay 64-bit, bool gives int32); mean, var,
 * std, logsumexp, median give at least float32 (var/std of complex give
 * float32); all/any give bool; argmax/argmin give uint32. Reducing over no
 * axes returns the input (sum, prod, max, min) or a cast of it, as MLX.
 */
#include <string.h>

#include "../backend/cpu/reduce.h"
#include "ops_common.h"

static const mx_primitive prim_reduce = {"reduce", cpu_reduce, NULL};
static const mx_primitive prim_argreduce = {"arg_reduce", cpu_argreduce, NULL};
static const mx_primitive prim_softmax = {"softmax", cpu_softmax, NULL};

static mx_dtype at_least_float(mx_dtype t) {
  return mx_dtype_is_inexact(t) ? t : mx_promote_types(t, MX_FLOAT32);
}

static mx_dtype sum_dtype(mx_dtype t) {
  if (t == MX_BOOL) return MX_INT32;
  if (mx_dtype_is_signed_integer(t)) return mx_dtype_size(t) <= 4 ? MX_INT32 : MX_INT64;
  if (mx_dtype_is_unsigned_integer(t)) return mx_dtype_size(t) <= 4 ? MX_UINT32 : MX_UINT64;
  return t;
}

/* Normalized axes and the output shape of a reduction. */
typedef struct red_shape {
  reduce_params p;
  int64_t shape[MX_MAX_NDIM];
  int ndim;
  int64_t nred; /* elements per output */
} red_shape;

static bool prep(const char *op, mx_array a, const int *axes, int naxes, bool keepdims,
                 bool needs_elements, red_shape *r) {
  memset(r, 0, sizeof *r);
  if (normalize_axes(op, axes, naxes, a->ndim, r->p.axes, &r->p.naxes) < 0) return false;
  bool red[MX_MAX_NDIM] = {0};
  r->nred = 1;
  for (int i = 0; i < r->p.naxes; i++) {
    int ax = r->p.axes[i];
    red[ax] = true;
    r->nred *= a->shape[ax];
    if (needs_elements && a->shape[ax] == 0) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_INVALID_ARG, "%s: cannot reduce over axis %d of size 0 (shape %s)", op, ax,
                fmt_shape(s, sizeof s, a->shape, a->ndim));
      return false;
    }
  }
  for (int d = 0; d < a->ndim; d++) {
    if (!red[d]) r->shape[r->ndim++] = a->shape[d];
    else if (keepdims) r->shape[r->ndim++] = 1;
  }
  return true;
}

static mx_array reduce_node(red_shape *r, int op, mx_dtype dt, mx_array x) {
  r->p.op = op;
  return node_new(&prim_reduce, dt, r->shape, r->ndim, &x, 1, &r->p, sizeof r->p);
}

/* sum, prod, max, min: no axes means the input itself. */
static mx_array reduce_simple(const char *name, int op, mx_array a, const int *axes, int naxes,
                              bool keepdims) {
  CHECK_INPUT(name, a);
  red_shape r;
  bool no_identity = op == RED_MAX || op == RED_MIN;
  if (!prep(name, a, axes, naxes, keepdims, no_identity, &r)) return NULL;
  if (r.p.naxes == 0) return mx_array_retain(a);
  mx_dtype dt = (op == RED_SUM || op == RED_PROD) ? sum_dtype(a->dtype) : a->dtype;
  return reduce_node(&r, op, dt, a);
}

mx_array mx_sum(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_simple("sum", RED_SUM, a, axes, naxes, keepdims);
}
mx_array mx_prod(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_simple("prod", RED_PROD, a, axes, naxes, keepdims);
}
mx_array mx_max(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_simple("max", RED_MAX, a, axes, naxes, keepdims);
}
mx_array mx_min(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_simple("min", RED_MIN, a, axes, naxes, keepdims);
}

static mx_array reduce_bool(const char *name, int op, mx_array a, const int *axes, int naxes,
                            bool keepdims) {
  CHECK_INPUT(name, a);
  red_shape r;
  if (!prep(name, a, axes, naxes, keepdims, false, &r)) return NULL;
  if (r.p.naxes == 0) return mx_astype(a, MX_BOOL);
  return reduce_node(&r, op, MX_BOOL, a);
}

mx_array mx_all(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_bool("all", RED_ALL, a, axes, naxes, keepdims);
}
mx_array mx_any(mx_array a, const int *axes, int naxes, bool keepdims) {
  return reduce_bool("any", RED_ANY, a, axes, naxes, keepdims);
}

mx_array mx_mean(mx_array a, const int *axes, int naxes, bool keepdims) {
  CHECK_INPUT("mean", a);
  red_shape r;
  if (!prep("mean", a, axes, naxes, keepdims, false, &r)) return NULL;
  mx_dtype dt = at_least_float(a->dtype);
  if (r.p.naxes == 0) return mx_astype(a, dt);
  return reduce_node(&r, RED_MEAN, dt, a);
}

static mx_array var_std(const char *name, int op, mx_array a, const int *axes, int naxes,
                        bool keepdims, int ddof) {
  CHECK_INPUT(name, a);
  red_shape r;
  if (!prep(name, a, axes, naxes, keepdims, false, &r)) return NULL;
  r.p.ddof = ddof;
  mx_dtype dt = a->dtype == MX_COMPLEX64 ? MX_FLOAT32 : at_least_float(a->dtype);
  return reduce_node(&r, op, dt, a);
}

mx_array mx_var(mx_array a, const int *axes, int naxes, bool keepdims, int ddof) {
  return var_std("var", RED_VAR, a, axes, naxes, keepdims, ddof);
}
mx_array mx_std(mx_array a, const int *axes, int naxes, bool keepdims, int ddof) {
  return var_std("std", RED_STD, a, axes, naxes, keepdims, ddof);
}

mx_array mx_logsumexp(mx_array a, const int *axes, int naxes, bool keepdims) {
  CHECK_INPUT("logsumexp", a);
  if (a->size == 0) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "logsumexp: received an empty array (shape %s)",
              fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  if (a->dtype == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "logsumexp: complex64 input is not supported");
    return NULL;
  }
  red_shape r;
  if (!prep("logsumexp", a, axes, naxes, keepdims, false, &r)) return NULL;
  mx_dtype dt = at_least_float(a->dtype);
  /* The kernel's exp pass reads floats: integers are cast first, as MLX. */
  mx_array x = cast_to(a, dt);
  mx_array out = reduce_node(&r, RED_LOGSUMEXP, dt, x);
  mx_array_free(x);
  return out;
}

mx_array mx_median(mx_array a, const int *axes, int naxes, bool keepdims) {
  CHECK_INPUT("median", a);
  red_shape r;
  if (!prep("median", a, axes, naxes, keepdims, false, &r)) return NULL;
  if (r.nred == 0) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "median: cannot take the median along an empty axis (shape %s)",
              fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  return reduce_node(&r, RED_MEDIAN, at_least_float(a->dtype), a);
}

/* ------------------------------------------------------------ argmax / argmin */

static mx_array argreduce(const char *name, bool is_max, mx_array a, int axis, bool keepdims) {
  CHECK_INPUT(name, a);
  if (a->size == 0) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "%s: cannot reduce a zero-size array (shape %s)", name,
              fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  argreduce_params p = {.is_max = is_max, .axis = -1};
  int64_t shape[MX_MAX_NDIM];
  int nd = 0;
  if (axis == MX_AXIS_NONE) {
    if (keepdims)
      for (int d = 0; d < a->ndim; d++) shape[nd++] = 1;
  } else {
    if (normalize_axis(name, axis, a->ndim, &p.axis) < 0) return NULL;
    for (int d = 0; d < a->ndim; d++) {
      if (d != p.axis) shape[nd++] = a->shape[d];
      else if (keepdims) shape[nd++] = 1;
    }
  }
  return node_new(&prim_argreduce, MX_UINT32, shape, nd, &a, 1, &p, sizeof p);
}

mx_array mx_argmax(mx_array a, int axis, bool keepdims) {
  return argreduce("argmax", true, a, axis, keepdims);
}
mx_array mx_argmin(mx_array a, int axis, bool keepdims) {
  return argreduce("argmin", false, a, axis, keepdims);
}

/* ------------------------------------------------------------ softmax */

mx_array mx_softmax(mx_array a, const int *axes, int naxes, bool precise) {
  /* Half inputs are always computed in f32 on the CPU (and rounded once),
   * which is what precise=true asks for; precise=false may not be less
   * accurate, so the flag changes nothing here. */
  (void)precise;
  CHECK_INPUT("softmax", a);
  if (a->size == 0) return mx_array_retain(a);
  if (a->dtype == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "softmax: complex64 input is not supported");
    return NULL;
  }
  softmax_params p;
  memset(&p, 0, sizeof p);
  if (normalize_axes("softmax", axes, naxes, a->ndim, p.axes, &p.naxes) < 0) return NULL;
  /* MLX computes softmax over the last axis (after only size-1 axes) in
   * at least float32; any other axes go through a composite that casts back
   * to the input dtype. Follow it so result dtypes match. */
  int nax = axes ? naxes : a->ndim;
  bool last = nax > 0;
  if (last) {
    int lastax = axes ? axes[nax - 1] : a->ndim - 1;
    last = lastax == a->ndim - 1 || lastax == -1;
    for (int i = nax - 2; i >= 0 && last; i--) {
      int ai = axes ? axes[i] : i, an = axes ? axes[i + 1] : i + 1;
      int norm = ai < 0 ? ai + a->ndim : ai;
      if (ai + 1 != an || a->shape[norm] != 1) last = false;
    }
  }
  mx_dtype dt = last ? at_least_float(a->dtype) : a->dtype;
  return node_new(&prim_softmax, dt, a->shape, a->ndim, &a, 1, &p, sizeof p);
}
