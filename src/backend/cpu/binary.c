/* binary.c — CPU kernels of the binary elementwise ops.
 *
 * Each op is a run function per compute dtype (elementwise.h), generated from
 * one expression over `x` and `y`. Semantics that C leaves undefined are
 * pinned down here (NumPy's choices, which MLX inherits in practice):
 * - signed integer overflow wraps (arithmetic is done in the unsigned type);
 * - integer floor_divide / remainder by zero give 0 (NumPy's result; no
 *   SIGFPE), and INT_MIN // -1 wraps to INT_MIN;
 * - shifts by a negative amount or by >= the bit width give 0 (left) or the
 *   sign fill (right), as NumPy;
 * - integer power with a negative exponent gives 0 (as MLX).
 * f32 add/subtract/multiply/divide/maximum/minimum have AVX-512 / AVX2 loops
 * (elementwise_simd.c) picked at run time.
 */
#include <math.h>

#include "elementwise.h"
#include "elementwise_simd.h"

/* ---------------------------------------------------------- generators */

/* A run function over compute types T (inputs) and OT (output). EXPR reads
 * `x` and `y` (of type T_) and may use U_ (T's unsigned twin). */
#define DEF_BIN(name, tag, T, U, OT, EXPR)                                                  \
  static void bin_##name##_##tag(void *out, const void *const *in, const int64_t *s,      \
                                 int64_t n, const void *params) {                          \
    typedef T T_;                                                                          \
    typedef U U_;                                                                          \
    (void)params;                                                                          \
    (void)sizeof(U_);                                                                      \
    const T_ *A = in[0], *B = in[1];                                                       \
    OT *O = out;                                                                           \
    if (s[0] && s[1]) {                                                                    \
      for (int64_t i = 0; i < n; i++) {                                                    \
        T_ x = A[i], y = B[i];                                                             \
        (void)x, (void)y;                                                                  \
        O[i] = (OT)(EXPR);                                                                 \
      }                                                                                    \
    } else if (s[0]) {                                                                     \
      const T_ y = B[0];                                                                   \
      for (int64_t i = 0; i < n; i++) {                                                    \
        T_ x = A[i];                                                                       \
        (void)x, (void)y;                                                                  \
        O[i] = (OT)(EXPR);                                                                 \
      }                                                                                    \
    } else if (s[1]) {                                                                     \
      const T_ x = A[0];                                                                   \
      for (int64_t i = 0; i < n; i++) {                                                    \
        T_ y = B[i];                                                                       \
        (void)x, (void)y;                                                                  \
        O[i] = (OT)(EXPR);                                                                 \
      }                                                                                    \
    } else {                                                                               \
      const T_ x = A[0], y = B[0];                                                         \
      (void)x, (void)y;                                                                    \
      const OT v = (OT)(EXPR);                                                             \
      for (int64_t i = 0; i < n; i++) O[i] = v;                                            \
    }                                                                                      \
  }

/* Type groups: (tag, storage type, unsigned twin). */
#define UINTS(M, ...)                                                                      \
  M(u8, uint8_t, uint8_t, __VA_ARGS__)                                                     \
  M(u16, uint16_t, uint16_t, __VA_ARGS__)                                                  \
  M(u32, uint32_t, uint32_t, __VA_ARGS__) M(u64, uint64_t, uint64_t, __VA_ARGS__)
#define SINTS(M, ...)                                                                      \
  M(i8, int8_t, uint8_t, __VA_ARGS__)                                                      \
  M(i16, int16_t, uint16_t, __VA_ARGS__)                                                   \
  M(i32, int32_t, uint32_t, __VA_ARGS__) M(i64, int64_t, uint64_t, __VA_ARGS__)
#define INTS(M, ...) UINTS(M, __VA_ARGS__) SINTS(M, __VA_ARGS__)
#define FLOATS(M, ...) M(f32, float, uint32_t, __VA_ARGS__) M(f64, double, uint64_t, __VA_ARGS__)
#define REALS(M, ...) INTS(M, __VA_ARGS__) FLOATS(M, __VA_ARGS__)

/* Instantiation helpers: same-type output, or bool (uint8_t) output. */
#define GEN_SAME(tag, T, U, name, EXPR) DEF_BIN(name, tag, T, U, T, EXPR)
#define GEN_BOOL(tag, T, U, name, EXPR) DEF_BIN(name, tag, T, U, uint8_t, EXPR)

/* Table rows. */
#define ROW_UINTS(name)                                                                    \
  [MX_UINT8] = bin_##name##_u8, [MX_UINT16] = bin_##name##_u16,                            \
  [MX_UINT32] = bin_##name##_u32, [MX_UINT64] = bin_##name##_u64
#define ROW_SINTS(name)                                                                    \
  [MX_INT8] = bin_##name##_i8, [MX_INT16] = bin_##name##_i16, [MX_INT32] = bin_##name##_i32, \
  [MX_INT64] = bin_##name##_i64
#define ROW_INTS(name) ROW_UINTS(name), ROW_SINTS(name)
#define ROW_FLOATS(name) [MX_FLOAT32] = bin_##name##_f32, [MX_FLOAT64] = bin_##name##_f64
#define ROW_REALS(name) ROW_INTS(name), ROW_FLOATS(name)

/* ---------------------------------------------------------- arithmetic */

/* Through uint64_t: narrower unsigned types would promote to int and
 * could overflow it. */
#define WRAP(op) (T_)((uint64_t)(U_)x op (uint64_t)(U_)y)
INTS(GEN_SAME, add, WRAP(+))
INTS(GEN_SAME, subtract, WRAP(-))
INTS(GEN_SAME, multiply, WRAP(*))
FLOATS(GEN_SAME, add, x + y)
FLOATS(GEN_SAME, subtract, x - y)
FLOATS(GEN_SAME, multiply, x *y)
FLOATS(GEN_SAME, divide, x / y)
DEF_BIN(add, c64, c64_t, uint64_t, c64_t, x + y)
DEF_BIN(subtract, c64, c64_t, uint64_t, c64_t, x - y)
DEF_BIN(multiply, c64, c64_t, uint64_t, c64_t, x *y)
DEF_BIN(divide, c64, c64_t, uint64_t, c64_t, x / y)
/* bool arithmetic as C++ bool would store it: + is or, - is xor, * is and. */
DEF_BIN(add, b, uint8_t, uint8_t, uint8_t, x | y)
DEF_BIN(subtract, b, uint8_t, uint8_t, uint8_t, x ^ y)
DEF_BIN(multiply, b, uint8_t, uint8_t, uint8_t, x &y)

/* Floor division and remainder of integers (NumPy semantics). */
#define UFDIV (y == 0 ? (T_)0 : (T_)(x / y))
#define UREM (y == 0 ? (T_)0 : (T_)(x % y))
#define SFDIV                                                                              \
  (y == 0 ? (T_)0                                                                          \
   : y == -1                                                                               \
       ? (T_)(0 - (U_)x)                                                                   \
       : (T_)(x / y - ((x % y != 0) && ((x % y < 0) != (y < 0)))))
#define SREM                                                                               \
  (y == 0 || y == -1 ? (T_)0                                                               \
                     : (T_)(x % y + (((x % y != 0) && ((x % y < 0) != (y < 0))) ? y : 0)))
UINTS(GEN_SAME, floor_divide_int, UFDIV)
SINTS(GEN_SAME, floor_divide_int, SFDIV)
DEF_BIN(floor_divide_int, b, uint8_t, uint8_t, uint8_t, y ? x : 0)
UINTS(GEN_SAME, remainder, UREM)
SINTS(GEN_SAME, remainder, SREM)
DEF_BIN(remainder, b, uint8_t, uint8_t, uint8_t, 0)

/* Float remainder: fmod then move into the divisor's sign (NumPy). A zero
 * result takes the divisor's sign. */
static inline float remf_np(float x, float y) {
  float r = fmodf(x, y);
  if (r != 0) {
    if ((r < 0) != (y < 0)) r += y;
  } else {
    r = copysignf(0.0f, y);
  }
  return r;
}
static inline double rem_np(double x, double y) {
  double r = fmod(x, y);
  if (r != 0) {
    if ((r < 0) != (y < 0)) r += y;
  } else {
    r = copysign(0.0, y);
  }
  return r;
}
DEF_BIN(remainder, f32, float, uint32_t, float, remf_np(x, y))
DEF_BIN(remainder, f64, double, uint64_t, double, rem_np(x, y))

/* Integer power by squaring, wrapping; negative exponents give 0 (MLX). */
#define IPOW_BODY(T, U)                                                                    \
  U r = 1, base = (U)b, k = (U)e;                                                          \
  while (k) {                                                                              \
    if (k & 1) r *= base;                                                                  \
    k >>= 1;                                                                               \
    base *= base;                                                                          \
  }                                                                                        \
  return (T)r;
#define IPOW_U(tag, T, U)                                                                  \
  static inline T ipow_##tag(T b, T e) { IPOW_BODY(T, U) }
#define IPOW_S(tag, T, U)                                                                  \
  static inline T ipow_##tag(T b, T e) {                                                   \
    if (e < 0) return 0;                                                                   \
    IPOW_BODY(T, U)                                                                        \
  }
IPOW_U(u8, uint8_t, uint32_t)
IPOW_U(u16, uint16_t, uint32_t)
IPOW_U(u32, uint32_t, uint32_t)
IPOW_U(u64, uint64_t, uint64_t)
IPOW_S(i8, int8_t, uint32_t)
IPOW_S(i16, int16_t, uint32_t)
IPOW_S(i32, int32_t, uint32_t)
IPOW_S(i64, int64_t, uint64_t)
#define GEN_POW(tag, T, U, name) DEF_BIN(name, tag, T, U, T, ipow_##tag(x, y))
INTS(GEN_POW, power)
DEF_BIN(power, f32, float, uint32_t, float, powf(x, y))
DEF_BIN(power, f64, double, uint64_t, double, pow(x, y))
DEF_BIN(power, c64, c64_t, uint64_t, c64_t, cpowf(x, y))
DEF_BIN(power, b, uint8_t, uint8_t, uint8_t, x | !y)

/* maximum / minimum: NaN in either operand gives NaN (as MLX and NumPy). */
INTS(GEN_SAME, maximum, x > y ? x : y)
INTS(GEN_SAME, minimum, x < y ? x : y)
FLOATS(GEN_SAME, maximum, isnan(x) ? x : (x > y ? x : y))
FLOATS(GEN_SAME, minimum, isnan(x) ? x : (x < y ? x : y))
DEF_BIN(maximum, b, uint8_t, uint8_t, uint8_t, x | y)
DEF_BIN(minimum, b, uint8_t, uint8_t, uint8_t, x &y)
/* complex order is lexicographic (real, then imaginary), as MLX. */
static inline bool c_gt(c64_t a, c64_t b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b));
}
static inline bool c_ge(c64_t a, c64_t b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) >= cimagf(b));
}
DEF_BIN(maximum, c64, c64_t, uint64_t, c64_t, c_gt(x, y) ? x : y)
DEF_BIN(minimum, c64, c64_t, uint64_t, c64_t, c_gt(y, x) ? x : y)

/* logaddexp: max + log1p(exp(min - max)), exact at infinities. */
static inline float lae_f(float x, float y) {
  float mx = isnan(x) ? x : (x > y ? x : y), mn = isnan(x) ? x : (x < y ? x : y);
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1pf(expf(mn - mx));
}
static inline double lae_d(double x, double y) {
  double mx = isnan(x) ? x : (x > y ? x : y), mn = isnan(x) ? x : (x < y ? x : y);
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1p(exp(mn - mx));
}
DEF_BIN(logaddexp, f32, float, uint32_t, float, lae_f(x, y))
DEF_BIN(logaddexp, f64, double, uint64_t, double, lae_d(x, y))
DEF_BIN(arctan2, f32, float, uint32_t, float, atan2f(x, y))
DEF_BIN(arctan2, f64, double, uint64_t, double, atan2(x, y))

/* ---------------------------------------------------------- comparisons */

#define GEN_CMP(tag, T, U, name, EXPR) GEN_BOOL(tag, T, U, name, EXPR)
REALS(GEN_CMP, equal, x == y)
REALS(GEN_CMP, not_equal, x != y)
REALS(GEN_CMP, less, x < y)
REALS(GEN_CMP, less_equal, x <= y)
REALS(GEN_CMP, greater, x > y)
REALS(GEN_CMP, greater_equal, x >= y)
FLOATS(GEN_CMP, nan_equal, x == y || (isnan(x) && isnan(y)))
DEF_BIN(equal, b, uint8_t, uint8_t, uint8_t, x == y)
DEF_BIN(not_equal, b, uint8_t, uint8_t, uint8_t, x != y)
DEF_BIN(less, b, uint8_t, uint8_t, uint8_t, x < y)
DEF_BIN(less_equal, b, uint8_t, uint8_t, uint8_t, x <= y)
DEF_BIN(greater, b, uint8_t, uint8_t, uint8_t, x > y)
DEF_BIN(greater_equal, b, uint8_t, uint8_t, uint8_t, x >= y)
DEF_BIN(equal, c64, c64_t, uint64_t, uint8_t, x == y)
DEF_BIN(not_equal, c64, c64_t, uint64_t, uint8_t, x != y)
DEF_BIN(less, c64, c64_t, uint64_t, uint8_t, c_gt(y, x))
DEF_BIN(less_equal, c64, c64_t, uint64_t, uint8_t, c_ge(y, x))
DEF_BIN(greater, c64, c64_t, uint64_t, uint8_t, c_gt(x, y))
DEF_BIN(greater_equal, c64, c64_t, uint64_t, uint8_t, c_ge(x, y))
static inline bool c_nan(c64_t a) { return isnan(crealf(a)) || isnan(cimagf(a)); }
DEF_BIN(nan_equal, c64, c64_t, uint64_t, uint8_t, x == y || (c_nan(x) && c_nan(y)))

/* ---------------------------------------------------------- logical / bitwise */

DEF_BIN(logical_and, b, uint8_t, uint8_t, uint8_t, x &y)
DEF_BIN(logical_or, b, uint8_t, uint8_t, uint8_t, x | y)
INTS(GEN_SAME, bitwise_and, x &y)
INTS(GEN_SAME, bitwise_or, x | y)
INTS(GEN_SAME, bitwise_xor, x ^ y)
DEF_BIN(bitwise_and, b, uint8_t, uint8_t, uint8_t, x &y)
DEF_BIN(bitwise_or, b, uint8_t, uint8_t, uint8_t, x | y)
DEF_BIN(bitwise_xor, b, uint8_t, uint8_t, uint8_t, x ^ y)

/* Shift counts outside [0, bits) are defined as NumPy defines them. */
#define BITS ((int)(sizeof(T_) * 8))
#define USHL ((uint64_t)y < (uint64_t)BITS ? (T_)((uint64_t)x << y) : (T_)0)
#define USHR ((uint64_t)y < (uint64_t)BITS ? (T_)(x >> y) : (T_)0)
#define SSHL (y >= 0 && y < BITS ? (T_)((uint64_t)(U_)x << y) : (T_)0)
#define SSHR (y >= 0 && y < BITS ? (T_)(x >> y) : (T_)(x < 0 ? -1 : 0))
UINTS(GEN_SAME, left_shift, USHL)
UINTS(GEN_SAME, right_shift, USHR)
SINTS(GEN_SAME, left_shift, SSHL)
SINTS(GEN_SAME, right_shift, SSHR)

/* ---------------------------------------------------------- kernels */

typedef struct bin_entry {
  const char *name;
  ew_fn fns[MX_DTYPE_COUNT];
} bin_entry;

static mx_status bin_run(const bin_entry *e, mx_array out, mx_array const *in, int nin) {
  if (nin != 2) return set_error(MX_ERR_INTERNAL, "%s: expected 2 inputs, got %d", e->name, nin);
  mx_dtype ct = ew_compute_dtype(in[0]->dtype);
  ew_fn fn = e->fns[ct];
  if (!fn || in[1]->dtype != in[0]->dtype)
    return set_error(MX_ERR_DTYPE, "%s: no CPU kernel for %s and %s", e->name,
                     mx_dtype_name(in[0]->dtype), mx_dtype_name(in[1]->dtype));
  return ew_exec(out, in, 2, fn, NULL, true);
}

#define KERNEL(name, ...)                                                                  \
  mx_status cpu_##name(mx_array out, mx_array const *in, int nin, const void *params) {     \
    (void)params;                                                                          \
    static const bin_entry e = {#name, {__VA_ARGS__}};                                     \
    return bin_run(&e, out, in, nin);                                                      \
  }

/* The f32 entries of the hot ops come from the SIMD dispatcher. */
mx_status cpu_add(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"add",
                 {[MX_BOOL] = bin_add_b, ROW_INTS(add), [MX_FLOAT32] = ew_simd_f32(EW_SIMD_ADD),
                  [MX_FLOAT64] = bin_add_f64, [MX_COMPLEX64] = bin_add_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_add_f32;
  return bin_run(&e, out, in, nin);
}
mx_status cpu_subtract(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"subtract",
                 {[MX_BOOL] = bin_subtract_b, ROW_INTS(subtract),
                  [MX_FLOAT32] = ew_simd_f32(EW_SIMD_SUB), [MX_FLOAT64] = bin_subtract_f64,
                  [MX_COMPLEX64] = bin_subtract_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_subtract_f32;
  return bin_run(&e, out, in, nin);
}
mx_status cpu_multiply(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"multiply",
                 {[MX_BOOL] = bin_multiply_b, ROW_INTS(multiply),
                  [MX_FLOAT32] = ew_simd_f32(EW_SIMD_MUL), [MX_FLOAT64] = bin_multiply_f64,
                  [MX_COMPLEX64] = bin_multiply_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_multiply_f32;
  return bin_run(&e, out, in, nin);
}
mx_status cpu_divide(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"divide",
                 {[MX_FLOAT32] = ew_simd_f32(EW_SIMD_DIV), [MX_FLOAT64] = bin_divide_f64,
                  [MX_COMPLEX64] = bin_divide_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_divide_f32;
  return bin_run(&e, out, in, nin);
}
mx_status cpu_maximum(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"maximum",
                 {[MX_BOOL] = bin_maximum_b, ROW_INTS(maximum),
                  [MX_FLOAT32] = ew_simd_f32(EW_SIMD_MAX), [MX_FLOAT64] = bin_maximum_f64,
                  [MX_COMPLEX64] = bin_maximum_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_maximum_f32;
  return bin_run(&e, out, in, nin);
}
mx_status cpu_minimum(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  bin_entry e = {"minimum",
                 {[MX_BOOL] = bin_minimum_b, ROW_INTS(minimum),
                  [MX_FLOAT32] = ew_simd_f32(EW_SIMD_MIN), [MX_FLOAT64] = bin_minimum_f64,
                  [MX_COMPLEX64] = bin_minimum_c64}};
  if (!e.fns[MX_FLOAT32]) e.fns[MX_FLOAT32] = bin_minimum_f32;
  return bin_run(&e, out, in, nin);
}

KERNEL(floor_divide_int, [MX_BOOL] = bin_floor_divide_int_b, ROW_INTS(floor_divide_int))
KERNEL(remainder, [MX_BOOL] = bin_remainder_b, ROW_REALS(remainder))
KERNEL(power, [MX_BOOL] = bin_power_b, ROW_REALS(power), [MX_COMPLEX64] = bin_power_c64)
KERNEL(logaddexp, ROW_FLOATS(logaddexp))
KERNEL(arctan2, ROW_FLOATS(arctan2))
KERNEL(equal, [MX_BOOL] = bin_equal_b, ROW_REALS(equal), [MX_COMPLEX64] = bin_equal_c64)
KERNEL(not_equal, [MX_BOOL] = bin_not_equal_b, ROW_REALS(not_equal),
       [MX_COMPLEX64] = bin_not_equal_c64)
KERNEL(less, [MX_BOOL] = bin_less_b, ROW_REALS(less), [MX_COMPLEX64] = bin_less_c64)
KERNEL(less_equal, [MX_BOOL] = bin_less_equal_b, ROW_REALS(less_equal),
       [MX_COMPLEX64] = bin_less_equal_c64)
KERNEL(greater, [MX_BOOL] = bin_greater_b, ROW_REALS(greater), [MX_COMPLEX64] = bin_greater_c64)
KERNEL(greater_equal, [MX_BOOL] = bin_greater_equal_b, ROW_REALS(greater_equal),
       [MX_COMPLEX64] = bin_greater_equal_c64)
KERNEL(nan_equal, ROW_FLOATS(nan_equal), [MX_COMPLEX64] = bin_nan_equal_c64)
KERNEL(logical_and, [MX_BOOL] = bin_logical_and_b)
KERNEL(logical_or, [MX_BOOL] = bin_logical_or_b)
KERNEL(bitwise_and, [MX_BOOL] = bin_bitwise_and_b, ROW_INTS(bitwise_and))
KERNEL(bitwise_or, [MX_BOOL] = bin_bitwise_or_b, ROW_INTS(bitwise_or))
KERNEL(bitwise_xor, [MX_BOOL] = bin_bitwise_xor_b, ROW_INTS(bitwise_xor))
KERNEL(left_shift, ROW_INTS(left_shift))
KERNEL(right_shift, ROW_INTS(right_shift))
