/* binary.c — front ends of the binary elementwise ops: broadcasting, MLX's
 * type promotion and result dtypes, dtype restrictions. Kernels:
 * backend/cpu/binary.c. Inputs are cast to the computation dtype here and
 * broadcast by the kernel (stride 0), never materialized. */
#include "../backend/cpu/elementwise.h"
#include "ops_common.h"

/* Every kernel gets a primitive; nan_equal is recorded by compare.c. */
#define PRIM(name) \
  __attribute__((unused)) static const mx_primitive prim_##name = {#name, cpu_##name, NULL};
EW_BINARY_OPS(PRIM)
#undef PRIM

static mx_dtype at_least_float(mx_dtype t) { return mx_dtype_is_inexact(t) ? t : MX_FLOAT32; }

/* Records `prim` over a and b cast to `ct`, with result dtype `out_dt`. */
static mx_array binary_node(const char *op, const mx_primitive *prim, mx_array a, mx_array b,
                            mx_dtype ct, mx_dtype out_dt) {
  int64_t shape[MX_MAX_NDIM];
  int ndim;
  if (broadcast_shapes(op, a->shape, a->ndim, b->shape, b->ndim, shape, &ndim) < 0) return NULL;
  mx_array in[2] = {cast_to(a, ct), cast_to(b, ct)};
  mx_array out = NULL;
  if (in[0] && in[1]) out = node_new(prim, out_dt, shape, ndim, in, 2, NULL, 0);
  mx_array_free(in[0]);
  mx_array_free(in[1]);
  return out;
}

static bool null_args(const char *op, mx_array a, mx_array b) {
  mx_array v[2] = {a, b};
  return any_null(op, v, 2);
}

/* Ops whose result has the promoted dtype. */
#define SAME_TYPE_OP(fn, name)                                                             \
  mx_array fn(mx_array a, mx_array b) {                                                    \
    if (null_args(#name, a, b)) return NULL;                                               \
    mx_dtype t = mx_promote_types(a->dtype, b->dtype);                                     \
    return binary_node(#name, &prim_##name, a, b, t, t);                                   \
  }
SAME_TYPE_OP(mx_add, add)
SAME_TYPE_OP(mx_subtract, subtract)
SAME_TYPE_OP(mx_multiply, multiply)
SAME_TYPE_OP(mx_power, power)
SAME_TYPE_OP(mx_maximum, maximum)
SAME_TYPE_OP(mx_minimum, minimum)

/* Comparisons: computed in the promoted dtype, bool result. */
#define COMPARE_OP(fn, name)                                                               \
  mx_array fn(mx_array a, mx_array b) {                                                    \
    if (null_args(#name, a, b)) return NULL;                                               \
    mx_dtype t = mx_promote_types(a->dtype, b->dtype);                                     \
    return binary_node(#name, &prim_##name, a, b, t, MX_BOOL);                             \
  }
COMPARE_OP(mx_equal, equal)
COMPARE_OP(mx_not_equal, not_equal)
COMPARE_OP(mx_less, less)
COMPARE_OP(mx_less_equal, less_equal)
COMPARE_OP(mx_greater, greater)
COMPARE_OP(mx_greater_equal, greater_equal)

mx_array mx_divide(mx_array a, mx_array b) {
  if (null_args("divide", a, b)) return NULL;
  mx_dtype t = at_least_float(mx_promote_types(a->dtype, b->dtype));
  return binary_node("divide", &prim_divide, a, b, t, t);
}

mx_array mx_floor_divide(mx_array a, mx_array b) {
  if (null_args("floor_divide", a, b)) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "floor_divide: not supported for complex64");
    return NULL;
  }
  if (mx_dtype_is_floating(t)) { /* as MLX: floor of the true quotient */
    mx_array q = mx_divide(a, b);
    mx_array r = mx_floor(q);
    mx_array_free(q);
    return r;
  }
  return binary_node("floor_divide", &prim_floor_divide_int, a, b, t, t);
}

mx_array mx_remainder(mx_array a, mx_array b) {
  if (null_args("remainder", a, b)) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "remainder: not supported for complex64");
    return NULL;
  }
  return binary_node("remainder", &prim_remainder, a, b, t, t);
}

mx_status mx_divmod(mx_array a, mx_array b, mx_array *quotient, mx_array *remainder) {
  if (!quotient || !remainder)
    return set_error(MX_ERR_INVALID_ARG, "divmod: output pointers must not be NULL");
  if (null_args("divmod", a, b)) return mx_last_error_code();
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (t == MX_COMPLEX64) return set_error(MX_ERR_DTYPE, "divmod: not supported for complex64");
  mx_array q = mx_floor_divide(a, b);
  mx_array r = q ? mx_remainder(a, b) : NULL;
  if (!q || !r) {
    mx_array_free(q);
    mx_array_free(r);
    return mx_last_error_code();
  }
  *quotient = q;
  *remainder = r;
  return MX_OK;
}

mx_array mx_logaddexp(mx_array a, mx_array b) {
  if (null_args("logaddexp", a, b)) return NULL;
  mx_dtype t = at_least_float(mx_promote_types(a->dtype, b->dtype));
  if (t == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "logaddexp: not supported for complex64");
    return NULL;
  }
  return binary_node("logaddexp", &prim_logaddexp, a, b, t, t);
}

mx_array mx_arctan2(mx_array a, mx_array b) {
  if (null_args("arctan2", a, b)) return NULL;
  if (a->dtype == MX_COMPLEX64 || b->dtype == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "arctan2: not supported for complex64");
    return NULL;
  }
  mx_dtype t = at_least_float(mx_promote_types(a->dtype, b->dtype));
  return binary_node("arctan2", &prim_arctan2, a, b, t, t);
}

mx_array mx_logical_and(mx_array a, mx_array b) {
  if (null_args("logical_and", a, b)) return NULL;
  return binary_node("logical_and", &prim_logical_and, a, b, MX_BOOL, MX_BOOL);
}

mx_array mx_logical_or(mx_array a, mx_array b) {
  if (null_args("logical_or", a, b)) return NULL;
  return binary_node("logical_or", &prim_logical_or, a, b, MX_BOOL, MX_BOOL);
}

/* Bitwise ops and shifts: integer or bool operands only. Shifts of bools
 * compute in uint8 (as MLX). */
static mx_array bitwise_op(const char *op, const mx_primitive *prim, mx_array a, mx_array b,
                           bool shift) {
  if (null_args(op, a, b)) return NULL;
  mx_dtype t = mx_promote_types(a->dtype, b->dtype);
  if (!(t == MX_BOOL || mx_dtype_is_integer(t))) {
    set_error(MX_ERR_DTYPE, "%s: only integer or boolean types are allowed, got %s and %s", op,
              mx_dtype_name(a->dtype), mx_dtype_name(b->dtype));
    return NULL;
  }
  if (shift && t == MX_BOOL) t = MX_UINT8;
  return binary_node(op, prim, a, b, t, t);
}

mx_array mx_bitwise_and(mx_array a, mx_array b) {
  return bitwise_op("bitwise_and", &prim_bitwise_and, a, b, false);
}
mx_array mx_bitwise_or(mx_array a, mx_array b) {
  return bitwise_op("bitwise_or", &prim_bitwise_or, a, b, false);
}
mx_array mx_bitwise_xor(mx_array a, mx_array b) {
  return bitwise_op("bitwise_xor", &prim_bitwise_xor, a, b, false);
}
mx_array mx_left_shift(mx_array a, mx_array b) {
  return bitwise_op("left_shift", &prim_left_shift, a, b, true);
}
mx_array mx_right_shift(mx_array a, mx_array b) {
  return bitwise_op("right_shift", &prim_right_shift, a, b, true);
}
