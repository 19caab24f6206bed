/* unary.c — front ends of the unary elementwise ops: result dtypes as MLX
 * (math functions promote integers and bool to float32), dtype
 * restrictions, and the few ops MLX builds from others (degrees, radians,
 * round with decimals, clip). Kernels: backend/cpu/unary.c. */
#include <float.h>
#include <math.h>

#include "../backend/cpu/elementwise.h"
#include "ops_common.h"

#define PRIM(name) static const mx_primitive prim_##name = {#name, cpu_##name, NULL};
EW_UNARY_OPS(PRIM)
PRIM(stop_gradient)
#undef PRIM

static mx_dtype at_least_float(mx_dtype t) { return mx_dtype_is_inexact(t) ? t : MX_FLOAT32; }

/* Records `prim` over `a` cast to `in_dt`, producing `out_dt`. */
static mx_array unary_node(const mx_primitive *prim, mx_array a, mx_dtype in_dt, mx_dtype out_dt,
                           const void *params, size_t psize) {
  mx_array x = cast_to(a, in_dt);
  if (!x) return NULL;
  mx_array out = node_new(prim, out_dt, a->shape, a->ndim, &x, 1, params, psize);
  mx_array_free(x);
  return out;
}

static mx_array no_complex(const char *op, mx_array a) {
  (void)a;
  set_error(MX_ERR_DTYPE, "%s: not supported for complex64", op);
  return NULL;
}

/* A bool array of a's shape, all `value`, without reading a. */
static mx_array bool_fill(mx_array a, bool value) {
  uint8_t v = value;
  return node_new(&prim_zeros, MX_BOOL, a->shape, a->ndim, NULL, 0, &v, sizeof v);
}

/* Same dtype in and out (integers included). */
#define SAME_TYPE_OP(name)                                                                 \
  mx_array mx_##name(mx_array a) {                                                         \
    CHECK_INPUT(#name, a);                                                                 \
    return unary_node(&prim_##name, a, a->dtype, a->dtype, NULL, 0);                       \
  }
SAME_TYPE_OP(sign)
SAME_TYPE_OP(square)

/* Math functions: integer and bool inputs compute in float32. */
#define FLOAT_OP(name)                                                                     \
  mx_array mx_##name(mx_array a) {                                                         \
    CHECK_INPUT(#name, a);                                                                 \
    mx_dtype t = at_least_float(a->dtype);                                                 \
    return unary_node(&prim_##name, a, t, t, NULL, 0);                                     \
  }
FLOAT_OP(sqrt)
FLOAT_OP(rsqrt)
FLOAT_OP(reciprocal)
FLOAT_OP(exp)
FLOAT_OP(log)
FLOAT_OP(log1p)
FLOAT_OP(log2)
FLOAT_OP(log10)
FLOAT_OP(sin)
FLOAT_OP(cos)
FLOAT_OP(tan)
FLOAT_OP(arcsin)
FLOAT_OP(arccos)
FLOAT_OP(arctan)
FLOAT_OP(sinh)
FLOAT_OP(cosh)
FLOAT_OP(tanh)
FLOAT_OP(arcsinh)
FLOAT_OP(arccosh)
FLOAT_OP(arctanh)

/* The same, but MLX rejects complex64. */
#define REAL_FLOAT_OP(name)                                                                \
  mx_array mx_##name(mx_array a) {                                                         \
    CHECK_INPUT(#name, a);                                                                 \
    if (a->dtype == MX_COMPLEX64) return no_complex(#name, a);                             \
    mx_dtype t = at_least_float(a->dtype);                                                 \
    return unary_node(&prim_##name, a, t, t, NULL, 0);                                     \
  }
REAL_FLOAT_OP(expm1)
REAL_FLOAT_OP(sigmoid)
REAL_FLOAT_OP(erf)
REAL_FLOAT_OP(erfinv)

mx_array mx_abs(mx_array a) {
  CHECK_INPUT("abs", a);
  mx_dtype out = a->dtype == MX_COMPLEX64 ? MX_FLOAT32 : a->dtype;
  return unary_node(&prim_abs, a, a->dtype, out, NULL, 0);
}

mx_array mx_negative(mx_array a) {
  CHECK_INPUT("negative", a);
  if (a->dtype == MX_BOOL) {
    set_error(MX_ERR_DTYPE, "negative: not supported for bool, use logical_not instead");
    return NULL;
  }
  return unary_node(&prim_negative, a, a->dtype, a->dtype, NULL, 0);
}

mx_array mx_floor(mx_array a) {
  CHECK_INPUT("floor", a);
  if (a->dtype == MX_COMPLEX64) return no_complex("floor", a);
  return unary_node(&prim_floor, a, a->dtype, a->dtype, NULL, 0);
}

mx_array mx_ceil(mx_array a) {
  CHECK_INPUT("ceil", a);
  if (a->dtype == MX_COMPLEX64) return no_complex("ceil", a);
  return unary_node(&prim_ceil, a, a->dtype, a->dtype, NULL, 0);
}

/* x * c with c a scalar of `dt` (MLX's degrees/radians/round build on it). */
static mx_array scale_by(mx_array a, double c, mx_dtype dt, bool divide) {
  mx_array s = mx_array_scalar(c, dt);
  if (!s) return NULL;
  mx_array r = divide ? mx_divide(a, s) : mx_multiply(a, s);
  mx_array_free(s);
  return r;
}

mx_array mx_round(mx_array a, int decimals) {
  CHECK_INPUT("round", a);
  if (decimals == 0 || (decimals > 0 && !mx_dtype_is_inexact(a->dtype)))
    return unary_node(&prim_round, a, a->dtype, a->dtype, NULL, 0);
  /* As numpy.round: scale by 10^|decimals|, round half to even, undo the
   * scale, each step rounded to the (at least float) dtype; integers come
   * back to their dtype at the end. */
  mx_dtype t = at_least_float(a->dtype);
  if (decimals > 308 || decimals < -308) {
    set_error(MX_ERR_INVALID_ARG, "round: decimals %d out of range", decimals);
    return NULL;
  }
  double f = pow(10.0, decimals > 0 ? decimals : -decimals);
  mx_array x = cast_to(a, t);
  mx_array y = scale_by(x, f, t, decimals < 0);
  mx_array z = y ? mx_round(y, 0) : NULL;
  mx_array w = z ? scale_by(z, f, t, decimals > 0) : NULL;
  mx_array r = w ? cast_to(w, a->dtype) : NULL;
  mx_array_free(x);
  mx_array_free(y);
  mx_array_free(z);
  mx_array_free(w);
  return r;
}

/* Classification: integers and bools are never NaN or infinite. */
#define CLASS_OP(name, int_value)                                                          \
  mx_array mx_##name(mx_array a) {                                                         \
    CHECK_INPUT(#name, a);                                                                 \
    if (!mx_dtype_is_inexact(a->dtype)) return bool_fill(a, int_value);                    \
    return unary_node(&prim_##name, a, a->dtype, MX_BOOL, NULL, 0);                        \
  }
CLASS_OP(isnan, false)
CLASS_OP(isinf, false)
CLASS_OP(isfinite, true)
CLASS_OP(isposinf, false)
CLASS_OP(isneginf, false)

mx_array mx_logical_not(mx_array a) {
  CHECK_INPUT("logical_not", a);
  return unary_node(&prim_logical_not, a, MX_BOOL, MX_BOOL, NULL, 0);
}

mx_array mx_bitwise_invert(mx_array a) {
  CHECK_INPUT("bitwise_invert", a);
  if (mx_dtype_is_inexact(a->dtype)) {
    set_error(MX_ERR_DTYPE, "bitwise_invert: only integer or boolean types are allowed, got %s",
              mx_dtype_name(a->dtype));
    return NULL;
  }
  if (a->dtype == MX_BOOL) return mx_logical_not(a);
  return unary_node(&prim_bitwise_invert, a, a->dtype, a->dtype, NULL, 0);
}

mx_array mx_degrees(mx_array a) {
  CHECK_INPUT("degrees", a);
  return scale_by(a, 180.0 / M_PI, at_least_float(a->dtype), false);
}

mx_array mx_radians(mx_array a) {
  CHECK_INPUT("radians", a);
  return scale_by(a, M_PI / 180.0, at_least_float(a->dtype), false);
}

/* real / conjugate of a real array is the array itself; imag is zeros. */
mx_array mx_real(mx_array a) {
  CHECK_INPUT("real", a);
  if (a->dtype != MX_COMPLEX64) return mx_array_retain(a);
  return unary_node(&prim_real, a, a->dtype, MX_FLOAT32, NULL, 0);
}

mx_array mx_imag(mx_array a) {
  CHECK_INPUT("imag", a);
  if (a->dtype != MX_COMPLEX64) return node_new(&prim_zeros, a->dtype, a->shape, a->ndim, NULL, 0, NULL, 0);
  return unary_node(&prim_imag, a, a->dtype, MX_FLOAT32, NULL, 0);
}

mx_array mx_conjugate(mx_array a) {
  CHECK_INPUT("conjugate", a);
  if (a->dtype != MX_COMPLEX64) return mx_array_retain(a);
  return unary_node(&prim_conjugate, a, a->dtype, a->dtype, NULL, 0);
}

mx_array mx_stop_gradient(mx_array a) {
  CHECK_INPUT("stop_gradient", a);
  return node_new(&prim_stop_gradient, a->dtype, a->shape, a->ndim, &a, 1, NULL, 0);
}

/* Largest finite value of a float dtype. */
static double dtype_max(mx_dtype t) {
  switch (t) {
  case MX_FLOAT16: return 65504.0;
  case MX_BFLOAT16: return 3.3895313892515355e38;
  case MX_FLOAT32: return FLT_MAX;
  default: return DBL_MAX;
  }
}

mx_array mx_nan_to_num(mx_array a, double nan, const double *posinf, const double *neginf) {
  CHECK_INPUT("nan_to_num", a);
  if (!mx_dtype_is_inexact(a->dtype)) return mx_array_retain(a);
  if (a->dtype == MX_COMPLEX64) {
    set_error(MX_ERR_DTYPE, "nan_to_num: not supported for complex64");
    return NULL;
  }
  ew_nan_to_num_params p = {nan, posinf ? *posinf : dtype_max(a->dtype),
                            neginf ? *neginf : -dtype_max(a->dtype)};
  return unary_node(&prim_nan_to_num, a, a->dtype, a->dtype, &p, sizeof p);
}

mx_array mx_clip(mx_array a, mx_array a_min, mx_array a_max) {
  CHECK_INPUT("clip", a);
  if (!a_min && !a_max) {
    set_error(MX_ERR_INVALID_ARG, "clip: a_min and a_max cannot both be NULL");
    return NULL;
  }
  mx_array r = mx_array_retain(a);
  if (a_min) {
    mx_array t = mx_maximum(r, a_min);
    mx_array_free(r);
    r = t;
  }
  if (a_max && r) {
    mx_array t = mx_minimum(r, a_max);
    mx_array_free(r);
    r = t;
  }
  return r;
}
