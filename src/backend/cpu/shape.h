/* shape.h — CPU kernels of the shape family: zero-copy views (an axis
 * range for split, a diagonal), concatenate, pad, roll, diag of a vector,
 * and the diagonal sum behind trace. Front ends in src/ops/shape.c. */
#ifndef MLXC_CPU_SHAPE_H
#define MLXC_CPU_SHAPE_H
#include "cpu.h"

/* A view of in[0] restricted to [start, start + out->shape[axis]) on axis. */
typedef struct shape_slice_params {
  int axis;
  int64_t start;
} shape_slice_params;

/* A view of the diagonal of in[0] over (ax1, ax2) starting at (off1, off2):
 * the other axes in order, then the diagonal last. */
typedef struct shape_diag_params {
  int ax1, ax2;
  int64_t off1, off2;
} shape_diag_params;

typedef struct shape_concat_params {
  int axis;
} shape_concat_params;

enum { SHAPE_PAD_CONSTANT = 0, SHAPE_PAD_EDGE = 1 };
/* in[0] placed at `low` inside out; constant mode fills the rest with the
 * single element of in[1] (same dtype), edge mode with the nearest edge. */
typedef struct shape_pad_params {
  int64_t low[MX_MAX_NDIM];
  int mode;
} shape_pad_params;

/* out[c] = in[(c - shift) mod n] on every axis; shifts are in [0, n). */
typedef struct shape_roll_params {
  int64_t shift[MX_MAX_NDIM];
} shape_roll_params;

/* A square matrix, zero but for in[0] (1-d) on diagonal k. */
typedef struct shape_diagmat_params {
  int64_t k;
} shape_diagmat_params;

/* Sums the last axis of in[0] after casting each element to `mid` (so that
 * values wrap or round as an astype to `mid` would); out->dtype is the sum
 * type of `mid`. */
typedef struct shape_trace_params {
  mx_dtype mid;
} shape_trace_params;

mx_status cpu_slice_axis(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_diagonal_view(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_concatenate(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_pad(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_roll(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_diag_matrix(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_trace_sum(mx_array out, mx_array const *in, int nin, const void *params);

#endif
