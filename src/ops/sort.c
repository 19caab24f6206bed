/* sort.c — front ends of sort, argsort, partition, argpartition, topk.
 *
 * MLX semantics: axis MX_AXIS_NONE sorts the flattened array (a 0-d input
 * becomes shape (1,)); an explicit axis on a 0-d array is out of range.
 * Every dtype is accepted (complex compares (real, imag)). Rows are indexed
 * with uint32, so an axis longer than UINT32_MAX is rejected.
 */
#include <string.h>

#include "../backend/cpu/sort.h"
#include "ops_common.h"

static const mx_primitive prim_sort = {"sort", cpu_sort, NULL};
static const mx_primitive prim_argsort = {"argsort", cpu_argsort, NULL};
static const mx_primitive prim_partition = {"partition", cpu_partition, NULL};
static const mx_primitive prim_argpartition = {"argpartition", cpu_argpartition, NULL};
static const mx_primitive prim_topk = {"topk", cpu_topk, NULL};

/* Resolves `axis` for `op`: a new reference to the array to work on (the
 * flattened input for MX_AXIS_NONE) and the normalized axis, or NULL. */
static mx_array resolve(const char *op, mx_array a, int axis, int *ax) {
  mx_array x;
  if (axis == MX_AXIS_NONE) {
    int64_t n = a->size;
    x = a->ndim == 1 ? mx_array_retain(a) : mx_reshape(a, &n, 1);
    if (!x) return NULL;
    *ax = 0;
  } else {
    if (normalize_axis(op, axis, a->ndim, ax) < 0) return NULL;
    x = mx_array_retain(a);
  }
  if (x->shape[*ax] > (int64_t)UINT32_MAX) {
    set_error(MX_ERR_INVALID_ARG, "%s: axis of length %lld exceeds the uint32 index range", op,
              (long long)x->shape[*ax]);
    mx_array_free(x);
    return NULL;
  }
  return x;
}

static mx_array sort_like(const char *op, const mx_primitive *prim, mx_array a, int axis,
                          bool indices) {
  CHECK_INPUT(op, a);
  int ax;
  mx_array x = resolve(op, a, axis, &ax);
  if (!x) return NULL;
  sort_params p;
  memset(&p, 0, sizeof p);
  p.axis = ax;
  mx_array r = node_new(prim, indices ? MX_UINT32 : x->dtype, x->shape, x->ndim, &x, 1, &p,
                        sizeof p);
  mx_array_free(x);
  return r;
}

mx_array mx_sort(mx_array a, int axis) { return sort_like("sort", &prim_sort, a, axis, false); }

mx_array mx_argsort(mx_array a, int axis) {
  return sort_like("argsort", &prim_argsort, a, axis, true);
}

static mx_array partition_like(const char *op, const mx_primitive *prim, mx_array a, int64_t kth,
                               int axis, bool indices) {
  CHECK_INPUT(op, a);
  int ax;
  mx_array x = resolve(op, a, axis, &ax);
  if (!x) return NULL;
  int64_t len = x->shape[ax];
  int64_t k = kth < 0 ? kth + len : kth;
  if (k < 0 || k >= len) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "%s: kth %lld is out of range for axis %d of an array of shape %s",
              op, (long long)kth, ax, fmt_shape(s, sizeof s, x->shape, x->ndim));
    mx_array_free(x);
    return NULL;
  }
  sort_params p;
  memset(&p, 0, sizeof p);
  p.axis = ax;
  p.kth = k;
  mx_array r = node_new(prim, indices ? MX_UINT32 : x->dtype, x->shape, x->ndim, &x, 1, &p,
                        sizeof p);
  mx_array_free(x);
  return r;
}

mx_array mx_partition(mx_array a, int64_t kth, int axis) {
  return partition_like("partition", &prim_partition, a, kth, axis, false);
}

mx_array mx_argpartition(mx_array a, int64_t kth, int axis) {
  return partition_like("argpartition", &prim_argpartition, a, kth, axis, true);
}

/* MLX: partition at -k and keep the last k along the axis; k equal to the
 * axis length returns the input unchanged (not partitioned). */
mx_array mx_topk(mx_array a, int64_t k, int axis) {
  CHECK_INPUT("topk", a);
  int ax;
  mx_array x = resolve("topk", a, axis, &ax);
  if (!x) return NULL;
  int64_t len = x->shape[ax];
  if (k < 0 || k > len) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "topk: k=%lld is out of range for axis %d of an array of shape %s",
              (long long)k, ax, fmt_shape(s, sizeof s, x->shape, x->ndim));
    mx_array_free(x);
    return NULL;
  }
  if (k == len) return x;
  sort_params p;
  memset(&p, 0, sizeof p);
  p.axis = ax;
  p.kth = len - k;
  int64_t shape[MX_MAX_NDIM];
  memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
  shape[ax] = k;
  mx_array r = node_new(&prim_topk, x->dtype, shape, x->ndim, &x, 1, &p, sizeof p);
  mx_array_free(x);
  return r;
}
