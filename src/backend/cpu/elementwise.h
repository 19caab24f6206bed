/* elementwise.h — CPU kernels of the unary, binary and ternary (where)
 * elementwise ops, and the strided/broadcast driver they share.
 *
 * Front ends cast inputs so that a kernel sees one storage dtype per input;
 * the driver hands a run function dense blocks in the *compute* dtype
 * (f16/bf16 are widened to f32 and the f32 result is rounded once on the
 * way out), so each op is written once per compute type.
 */
#ifndef MLXC_CPU_ELEMENTWISE_H
#define MLXC_CPU_ELEMENTWISE_H

#include "cpu.h"

/* A run: n results into dense `out` (out compute dtype); input k holds
 * compute-dtype values read at element stride s[k], which is 0 (one value
 * broadcast) or 1 (dense). `out` may alias an input with stride 1 (buffer
 * donation): a run reads element i before it writes element i. */
typedef void (*ew_fn)(void *out, const void *const *in, const int64_t *s, int64_t n,
                      const void *params);

static inline mx_dtype ew_compute_dtype(mx_dtype t) {
  return (t == MX_FLOAT16 || t == MX_BFLOAT16) ? MX_FLOAT32 : t;
}

/* Gives `out` a buffer (donating an input's when `donate`) and fills it by
 * calling `fn` over every element, broadcasting the inputs to out's shape.
 * Splits the work across the CPU pool. */
mx_status ew_exec(mx_array out, mx_array const *in, int nin, ew_fn fn, const void *params,
                  bool donate);
/* Same, but every operand is handed over in its storage dtype (no f32
 * widening): for ops that only move bits, such as where. */
mx_status ew_exec_raw(mx_array out, mx_array const *in, int nin, ew_fn fn, const void *params,
                      bool donate);

/* ---- binary ops: cpu_<name> kernels (inputs share one dtype) ---- */
#define EW_BINARY_OPS(X)                                                                   \
  X(add) X(subtract) X(multiply) X(divide) X(floor_divide_int) X(remainder) X(power)       \
  X(maximum) X(minimum) X(logaddexp) X(arctan2) X(equal) X(not_equal) X(less)             \
  X(less_equal) X(greater) X(greater_equal) X(nan_equal) X(logical_and) X(logical_or)     \
  X(bitwise_and) X(bitwise_or) X(bitwise_xor) X(left_shift) X(right_shift)

/* ---- unary ops ---- */
#define EW_UNARY_OPS(X)                                                                    \
  X(abs) X(negative) X(sign) X(sqrt) X(rsqrt) X(square) X(reciprocal) X(exp) X(expm1)     \
  X(log) X(log1p) X(log2) X(log10) X(sin) X(cos) X(tan) X(arcsin) X(arccos) X(arctan)     \
  X(sinh) X(cosh) X(tanh) X(arcsinh) X(arccosh) X(arctanh) X(sigmoid) X(erf) X(erfinv)    \
  X(floor) X(ceil) X(round) X(isnan) X(isinf) X(isfinite) X(isposinf) X(isneginf)         \
  X(logical_not) X(bitwise_invert) X(real) X(imag) X(conjugate) X(nan_to_num) X(zeros)

#define EW_DECLARE_KERNEL(name)                                                            \
  mx_status cpu_##name(mx_array out, mx_array const *in, int nin, const void *params);
EW_BINARY_OPS(EW_DECLARE_KERNEL)
EW_UNARY_OPS(EW_DECLARE_KERNEL)
EW_DECLARE_KERNEL(where)
EW_DECLARE_KERNEL(isclose)
EW_DECLARE_KERNEL(all_true)
EW_DECLARE_KERNEL(stop_gradient)
#undef EW_DECLARE_KERNEL

/* nan_to_num: replacement values (already in the array's dtype range). */
typedef struct ew_nan_to_num_params {
  double nan, posinf, neginf;
} ew_nan_to_num_params;

/* isclose. */
typedef struct ew_close_params {
  double rtol, atol;
  bool equal_nan;
} ew_close_params;

#endif
