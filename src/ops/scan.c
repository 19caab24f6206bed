/* scan.c — front ends of cumsum, cumprod, cummax, cummin, logcumsumexp.
 *
 * MX_AXIS_NONE scans the flattened array. Result dtypes follow MLX: cumsum
 * of bool gives int32, everything else keeps the input dtype (integer sums
 * and products wrap). logcumsumexp takes floating and complex inputs only:
 * MLX's integer result is not a meaningful value (see the report of the
 * reduce family), so integers are rejected here.
 */
#include "../backend/cpu/reduce.h"
#include "ops_common.h"

static const mx_primitive prim_scan = {"scan", cpu_scan, NULL};

static mx_array scan(const char *name, int op, mx_array a, int axis, bool reverse,
                     bool inclusive) {
  CHECK_INPUT(name, a);
  if (op == SCAN_LOGADDEXP && !mx_dtype_is_inexact(a->dtype)) {
    set_error(MX_ERR_DTYPE, "%s: input dtype %s is not a floating or complex type", name,
              mx_dtype_name(a->dtype));
    return NULL;
  }
  scan_params p = {.op = op, .axis = 0, .reverse = reverse, .inclusive = inclusive};
  mx_array x;
  if (axis == MX_AXIS_NONE) {
    int64_t n = a->size;
    x = mx_reshape(a, &n, 1);
    if (!x) return NULL;
  } else {
    if (normalize_axis(name, axis, a->ndim, &p.axis) < 0) return NULL;
    x = mx_array_retain(a);
  }
  mx_dtype dt = (op == SCAN_SUM && x->dtype == MX_BOOL) ? MX_INT32 : x->dtype;
  mx_array out = node_new(&prim_scan, dt, x->shape, x->ndim, &x, 1, &p, sizeof p);
  mx_array_free(x);
  return out;
}

mx_array mx_cumsum(mx_array a, int axis, bool reverse, bool inclusive) {
  return scan("cumsum", SCAN_SUM, a, axis, reverse, inclusive);
}
mx_array mx_cumprod(mx_array a, int axis, bool reverse, bool inclusive) {
  return scan("cumprod", SCAN_PROD, a, axis, reverse, inclusive);
}
mx_array mx_cummax(mx_array a, int axis, bool reverse, bool inclusive) {
  return scan("cummax", SCAN_MAX, a, axis, reverse, inclusive);
}
mx_array mx_cummin(mx_array a, int axis, bool reverse, bool inclusive) {
  return scan("cummin", SCAN_MIN, a, axis, reverse, inclusive);
}
mx_array mx_logcumsumexp(mx_array a, int axis, bool reverse, bool inclusive) {
  return scan("logcumsumexp", SCAN_LOGADDEXP, a, axis, reverse, inclusive);
}
