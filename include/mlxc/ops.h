/* mlxc/ops.h — the array operations (MLX / mlx-c op set).
 *
 * Conventions, the same for every op here:
 * - Each op returns a new array reference (caller owns) or NULL with the
 *   thread's last error set; array arguments are borrowed; a NULL array
 *   argument makes the op return NULL and keep the first error.
 * - Ops are lazy: they check arguments, compute the output shape and dtype,
 *   and record a node on the thread's default stream (mlxc/device.h).
 * - Binary and ternary ops broadcast as NumPy and promote dtypes as MLX
 *   (mx_promote_types). Integer overflow wraps.
 * - Axes are ints; negative axes count from the end. `axes == NULL` means
 *   "all axes" for reductions (an empty non-NULL list reduces nothing). MX_AXIS_NONE, where an op
 *   takes a single axis, means "the flattened array" (MLX's axis=None).
 * - Shapes are `const int64_t *shape, int ndim`.
 * - Ops producing several arrays write them to `out[]` (caller owns each) and
 *   return a status; on failure nothing is written.
 */
#ifndef MLXC_OPS_H
#define MLXC_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MX_AXIS_NONE INT32_MIN

/* ------------------------------------------------------------ creation */
mx_array mx_zeros(const int64_t *shape, int ndim, mx_dtype dtype);
mx_array mx_ones(const int64_t *shape, int ndim, mx_dtype dtype);
/* `vals` is broadcast to `shape` and cast to `dtype`. */
mx_array mx_full(const int64_t *shape, int ndim, mx_array vals, mx_dtype dtype);
mx_array mx_full_scalar(const int64_t *shape, int ndim, double value, mx_dtype dtype);
mx_array mx_zeros_like(mx_array a);
mx_array mx_ones_like(mx_array a);
mx_array mx_full_like(mx_array a, double value);
/* Values start, start+step, ... < stop (as numpy.arange). */
mx_array mx_arange(double start, double stop, double step, mx_dtype dtype);
mx_array mx_linspace(double start, double stop, int64_t num, mx_dtype dtype);
/* n x m with ones on diagonal k (m < 0 means m = n). */
mx_array mx_eye(int64_t n, int64_t m, int64_t k, mx_dtype dtype);
mx_array mx_identity(int64_t n, mx_dtype dtype);
/* n x m lower triangle of ones up to diagonal k. */
mx_array mx_tri(int64_t n, int64_t m, int64_t k, mx_dtype dtype);
mx_array mx_tril(mx_array a, int64_t k);
mx_array mx_triu(mx_array a, int64_t k);

/* --------------------------------------------------------------- unary */
mx_array mx_abs(mx_array a);
mx_array mx_negative(mx_array a);
mx_array mx_sign(mx_array a);
mx_array mx_sqrt(mx_array a);
mx_array mx_rsqrt(mx_array a);
mx_array mx_square(mx_array a);
mx_array mx_reciprocal(mx_array a);
mx_array mx_exp(mx_array a);
mx_array mx_expm1(mx_array a);
mx_array mx_log(mx_array a);
mx_array mx_log1p(mx_array a);
mx_array mx_log2(mx_array a);
mx_array mx_log10(mx_array a);
mx_array mx_sin(mx_array a);
mx_array mx_cos(mx_array a);
mx_array mx_tan(mx_array a);
mx_array mx_arcsin(mx_array a);
mx_array mx_arccos(mx_array a);
mx_array mx_arctan(mx_array a);
mx_array mx_sinh(mx_array a);
mx_array mx_cosh(mx_array a);
mx_array mx_tanh(mx_array a);
mx_array mx_arcsinh(mx_array a);
mx_array mx_arccosh(mx_array a);
mx_array mx_arctanh(mx_array a);
mx_array mx_sigmoid(mx_array a);
mx_array mx_erf(mx_array a);
mx_array mx_erfinv(mx_array a);
mx_array mx_floor(mx_array a);
mx_array mx_ceil(mx_array a);
/* Round half to even at `decimals` decimal places (as numpy.round). */
mx_array mx_round(mx_array a, int decimals);
mx_array mx_isnan(mx_array a);
mx_array mx_isinf(mx_array a);
mx_array mx_isfinite(mx_array a);
mx_array mx_isposinf(mx_array a);
mx_array mx_isneginf(mx_array a);
mx_array mx_logical_not(mx_array a);
mx_array mx_bitwise_invert(mx_array a);
mx_array mx_degrees(mx_array a);
mx_array mx_radians(mx_array a);
mx_array mx_real(mx_array a);
mx_array mx_imag(mx_array a);
mx_array mx_conjugate(mx_array a);
/* Identity in the forward pass; blocks gradients once transforms exist. */
mx_array mx_stop_gradient(mx_array a);
/* NaN -> nan, +inf -> *posinf, -inf -> *neginf; a NULL pointer means the
 * dtype's largest / lowest finite value (as MLX). */
mx_array mx_nan_to_num(mx_array a, double nan, const double *posinf,
                       const double *neginf);
/* Either bound may be NULL (but not both). */
mx_array mx_clip(mx_array a, mx_array a_min, mx_array a_max);

/* -------------------------------------------------------------- binary */
mx_array mx_add(mx_array a, mx_array b);
mx_array mx_subtract(mx_array a, mx_array b);
mx_array mx_multiply(mx_array a, mx_array b);
/* True division: integer inputs give float32 (as MLX). */
mx_array mx_divide(mx_array a, mx_array b);
mx_array mx_floor_divide(mx_array a, mx_array b);
/* Result has the sign of the divisor (as numpy.remainder). */
mx_array mx_remainder(mx_array a, mx_array b);
mx_status mx_divmod(mx_array a, mx_array b, mx_array *quotient, mx_array *remainder);
mx_array mx_power(mx_array a, mx_array b);
mx_array mx_maximum(mx_array a, mx_array b);
mx_array mx_minimum(mx_array a, mx_array b);
mx_array mx_logaddexp(mx_array a, mx_array b);
mx_array mx_arctan2(mx_array a, mx_array b);
mx_array mx_equal(mx_array a, mx_array b);
mx_array mx_not_equal(mx_array a, mx_array b);
mx_array mx_less(mx_array a, mx_array b);
mx_array mx_less_equal(mx_array a, mx_array b);
mx_array mx_greater(mx_array a, mx_array b);
mx_array mx_greater_equal(mx_array a, mx_array b);
mx_array mx_logical_and(mx_array a, mx_array b);
mx_array mx_logical_or(mx_array a, mx_array b);
mx_array mx_bitwise_and(mx_array a, mx_array b);
mx_array mx_bitwise_or(mx_array a, mx_array b);
mx_array mx_bitwise_xor(mx_array a, mx_array b);
mx_array mx_left_shift(mx_array a, mx_array b);
mx_array mx_right_shift(mx_array a, mx_array b);
/* |a - b| <= atol + rtol * |b|, elementwise (bool). */
mx_array mx_isclose(mx_array a, mx_array b, double rtol, double atol, bool equal_nan);
/* 0-d bool: all(isclose(a, b)). */
mx_array mx_allclose(mx_array a, mx_array b, double rtol, double atol, bool equal_nan);
/* 0-d bool: same shape and equal values (dtypes may differ). */
mx_array mx_array_equal(mx_array a, mx_array b, bool equal_nan);
/* Elementwise cond ? x : y with broadcasting. */
mx_array mx_where(mx_array cond, mx_array x, mx_array y);

/* ---------------------------------------------------------- reductions */
mx_array mx_sum(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_prod(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_mean(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_var(mx_array a, const int *axes, int naxes, bool keepdims, int ddof);
mx_array mx_std(mx_array a, const int *axes, int naxes, bool keepdims, int ddof);
mx_array mx_max(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_min(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_all(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_any(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_logsumexp(mx_array a, const int *axes, int naxes, bool keepdims);
mx_array mx_median(mx_array a, const int *axes, int naxes, bool keepdims);
/* uint32 indices; axis may be MX_AXIS_NONE (flattened). */
mx_array mx_argmax(mx_array a, int axis, bool keepdims);
mx_array mx_argmin(mx_array a, int axis, bool keepdims);
/* precise: accumulate half inputs in f32 (MLX's precise=True). */
mx_array mx_softmax(mx_array a, const int *axes, int naxes, bool precise);

/* --------------------------------------------------------------- scans */
/* axis may be MX_AXIS_NONE (flattened). inclusive=false shifts by one. */
mx_array mx_cumsum(mx_array a, int axis, bool reverse, bool inclusive);
mx_array mx_cumprod(mx_array a, int axis, bool reverse, bool inclusive);
mx_array mx_cummax(mx_array a, int axis, bool reverse, bool inclusive);
mx_array mx_cummin(mx_array a, int axis, bool reverse, bool inclusive);
mx_array mx_logcumsumexp(mx_array a, int axis, bool reverse, bool inclusive);

/* --------------------------------------------------------------- shape */
/* One dimension may be -1 (inferred). A view when the data allows. */
mx_array mx_reshape(mx_array a, const int64_t *shape, int ndim);
mx_array mx_flatten(mx_array a, int start_axis, int end_axis);
mx_array mx_unflatten(mx_array a, int axis, const int64_t *shape, int ndim);
/* axes NULL: remove every size-1 axis. */
mx_array mx_squeeze(mx_array a, const int *axes, int naxes);
mx_array mx_expand_dims(mx_array a, const int *axes, int naxes);
/* axes NULL: reverse the axes. */
mx_array mx_transpose(mx_array a, const int *axes, int naxes);
mx_array mx_swapaxes(mx_array a, int axis1, int axis2);
mx_array mx_moveaxis(mx_array a, int source, int destination);
mx_array mx_broadcast_to(mx_array a, const int64_t *shape, int ndim);
mx_status mx_broadcast_arrays(const mx_array *arrays, size_t n, mx_array *out);
mx_array mx_concatenate(const mx_array *arrays, size_t n, int axis);
mx_array mx_stack(const mx_array *arrays, size_t n, int axis);
/* `num` equal sections -> out[num]. */
mx_status mx_split_sections(mx_array a, int64_t num, int axis, mx_array *out);
/* Split before each index -> out[nindices + 1]. */
mx_status mx_split_indices(mx_array a, const int64_t *indices, size_t nindices,
                           int axis, mx_array *out);
mx_array mx_tile(mx_array a, const int64_t *reps, int nreps);
/* axis may be MX_AXIS_NONE (flattened). */
mx_array mx_repeat(mx_array a, int64_t repeats, int axis);
typedef enum mx_pad_mode { MX_PAD_CONSTANT = 0, MX_PAD_EDGE = 1 } mx_pad_mode;
/* pad_width: ndim pairs (before, after). value NULL means zero. */
mx_array mx_pad(mx_array a, const int64_t *pad_width, mx_array value, mx_pad_mode mode);
/* axes NULL: roll the flattened array by shift[0] and restore the shape. */
mx_array mx_roll(mx_array a, const int64_t *shift, int nshift, const int *axes, int naxes);
/* strides and offset in elements, over a's row-major data. */
mx_array mx_as_strided(mx_array a, const int64_t *shape, int ndim,
                       const int64_t *strides, int64_t offset);
/* A row-major copy (no copy if already row-major). */
mx_array mx_contiguous(mx_array a);
mx_array mx_astype(mx_array a, mx_dtype dtype);
/* Reinterprets the bytes as `dtype` (last axis rescaled when sizes differ). */
mx_array mx_view(mx_array a, mx_dtype dtype);
mx_array mx_atleast_1d(mx_array a);
mx_array mx_atleast_2d(mx_array a);
mx_array mx_atleast_3d(mx_array a);
/* indexing "xy" or "ij" -> out[n]. */
mx_status mx_meshgrid(const mx_array *arrays, size_t n, bool sparse,
                      const char *indexing, mx_array *out);
/* 1-d -> diagonal matrix; 2-d -> its diagonal k. */
mx_array mx_diag(mx_array a, int64_t k);
mx_array mx_diagonal(mx_array a, int64_t offset, int axis1, int axis2);
mx_array mx_trace(mx_array a, int64_t offset, int axis1, int axis2, mx_dtype dtype);

/* ------------------------------------------------------------ indexing */
#define MX_SLICE_END INT64_MAX
/* Python-style slicing of the first `naxes` axes (negative start/stop count
 * from the end; stop MX_SLICE_END means to the end; strides NULL means 1;
 * a negative stride walks backwards, with start/stop then as in Python). */
mx_array mx_slice(mx_array a, const int64_t *start, const int64_t *stop,
                  const int64_t *strides, int naxes);
/* A copy of `src` with the slice replaced by `update` (broadcast). */
mx_array mx_slice_update(mx_array src, mx_array update, const int64_t *start,
                         const int64_t *stop, const int64_t *strides, int naxes);
/* axis MX_AXIS_NONE: index the flattened array. Negative indices wrap. */
mx_array mx_take(mx_array a, mx_array indices, int axis);
mx_array mx_take_along_axis(mx_array a, mx_array indices, int axis);
mx_array mx_put_along_axis(mx_array a, mx_array indices, mx_array values, int axis);
/* MLX gather: indices[i] indexes axes[i]; slice_sizes has a.ndim entries.
 * Output shape = broadcast(indices) + slice_sizes. */
mx_array mx_gather(mx_array a, const mx_array *indices, size_t nindices,
                   const int *axes, const int64_t *slice_sizes);
/* MLX scatter: updates shape = broadcast(indices) + a.shape with the indexed
 * axes' sizes replaced by the update window. */
mx_array mx_scatter(mx_array a, const mx_array *indices, size_t nindices,
                    mx_array updates, const int *axes);
mx_array mx_scatter_add(mx_array a, const mx_array *indices, size_t nindices,
                        mx_array updates, const int *axes);
mx_array mx_scatter_max(mx_array a, const mx_array *indices, size_t nindices,
                        mx_array updates, const int *axes);
mx_array mx_scatter_min(mx_array a, const mx_array *indices, size_t nindices,
                        mx_array updates, const int *axes);
mx_array mx_scatter_prod(mx_array a, const mx_array *indices, size_t nindices,
                         mx_array updates, const int *axes);
/* Copy of `a` where mask is true filled, in row-major order, from `src`. */
mx_array mx_masked_scatter(mx_array a, mx_array mask, mx_array src);

/* ------------------------------------------------------ linear algebra */
/* Batched, broadcasting matmul (1-d operands as numpy.matmul). f32 uses
 * BLAS; f16/bf16 accumulate in f32; integers exactly. */
mx_array mx_matmul(mx_array a, mx_array b);
/* MLX gather_mm (mixture of experts): out[i] = a[lhs_indices[i]] @
 * b[rhs_indices[i]], where the indices (integer, broadcast together) count
 * the matrices of a (..., M, K) and b (..., K, N) over their flattened batch
 * dims. A NULL index array means every matrix of that operand in order
 * (arange over its batch shape); both NULL is mx_matmul. Output:
 * broadcast(indices).shape + (M, N), float dtype promoted from a and b
 * (f16/bf16 computed in f32). A 1-d a or b is a row / column vector whose
 * dim is dropped from the output, as in matmul. sorted_indices: a hint that
 * rhs_indices is sorted (rows of one expert are adjacent: the MoE prefill
 * case). Indices out of range fail at evaluation. */
mx_array mx_gather_mm(mx_array a, mx_array b, mx_array lhs_indices, mx_array rhs_indices,
                      bool sorted_indices);
/* alpha * (a @ b) + beta * c */
mx_array mx_addmm(mx_array c, mx_array a, mx_array b, float alpha, float beta);
mx_array mx_inner(mx_array a, mx_array b);
mx_array mx_outer(mx_array a, mx_array b);
/* Contract axes_a[i] of a with axes_b[i] of b. */
mx_array mx_tensordot(mx_array a, mx_array b, const int *axes_a, const int *axes_b, int naxes);
/* Contract the last n axes of a with the first n of b. */
mx_array mx_tensordot_n(mx_array a, mx_array b, int n);
/* numpy.einsum subscripts ("ij,jk->ik", implicit output, "...", traces). */
mx_array mx_einsum(const char *subscripts, const mx_array *operands, size_t n);
/* ord: NULL (2-norm of vectors, Frobenius of matrices), "fro", "nuc",
 * "inf", "-inf", or a number ("1", "2", "-1", "0", "3.5"). axes NULL: the
 * whole array (which must be 1-d or 2-d unless ord is NULL). */
mx_array mx_linalg_norm(mx_array a, const char *ord, const int *axes, int naxes, bool keepdims);

/* Convolutions, MLX layout: input (N, ..., C_in) channels last, weight
 * (C_out, ..., C_in / groups). */
mx_array mx_conv1d(mx_array input, mx_array weight, int stride, int padding,
                   int dilation, int groups);
mx_array mx_conv2d(mx_array input, mx_array weight, const int stride[2],
                   const int padding[2], const int dilation[2], int groups);
/* Transposed: weight (C_out, ..., C_in / groups) as MLX. */
mx_array mx_conv_transpose1d(mx_array input, mx_array weight, int stride, int padding,
                             int dilation, int output_padding, int groups);
mx_array mx_conv_transpose2d(mx_array input, mx_array weight, const int stride[2],
                             const int padding[2], const int dilation[2],
                             const int output_padding[2], int groups);

/* ------------------------------------------------------------- sorting */
/* axis may be MX_AXIS_NONE (flattened). Sorting is stable; NaNs sort last. */
mx_array mx_sort(mx_array a, int axis);
mx_array mx_argsort(mx_array a, int axis); /* uint32 indices */
/* Element kth is in sorted position, smaller before, larger after. */
mx_array mx_partition(mx_array a, int64_t kth, int axis);
mx_array mx_argpartition(mx_array a, int64_t kth, int axis);
/* The k largest along axis (in no particular order, as MLX). */
mx_array mx_topk(mx_array a, int64_t k, int axis);

/* ----------------------------------------------------------------- fft */
/* n <= 0 means the input's length along axis (irfft: 2 * (m - 1)). Inputs
 * are zero-padded or truncated to n. Real inputs are cast to complex64. */
mx_array mx_fft(mx_array a, int64_t n, int axis);
mx_array mx_ifft(mx_array a, int64_t n, int axis);
mx_array mx_rfft(mx_array a, int64_t n, int axis);
mx_array mx_irfft(mx_array a, int64_t n, int axis);

#ifdef __cplusplus
}
#endif
#endif
