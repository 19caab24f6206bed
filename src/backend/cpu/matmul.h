/* matmul.h — CPU kernels of the linear-algebra family: GEMM (matmul,
 * addmm), the generic einsum loop, norms, and convolution.
 *
 * The front ends (src/ops/linalg.c, einsum.c, conv.c) promote inputs to the
 * output dtype before recording a node, so each kernel sees one dtype. */
#ifndef MLXC_CPU_MATMUL_H
#define MLXC_CPU_MATMUL_H

#include <stdbool.h>

#include "cpu.h"

/* ---- GEMM ----
 * in[0] (..., M, K) and in[1] (..., K, N): batch dims broadcast against the
 * output's (..., M, N); any strides. addmm adds in[2], broadcast to the
 * output: out = alpha * a @ b + beta * c. */
typedef struct gemm_params {
  float alpha, beta;
} gemm_params;
mx_status cpu_matmul(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_addmm(mx_array out, mx_array const *in, int nin, const void *params);

/* Sets OpenBLAS's thread count to the pool's once, so BLAS and the pool do
 * not oversubscribe the cores. Called by every kernel here before BLAS. */
void blas_init_threads(void);

/* ---- einsum loop ----
 * out[o] = sum over the summed indices of prod_k in[k][...]. Index ids
 * 0..nout-1 are the output axes in order; nout..nidx-1 are summed. Each
 * operand axis names an index id; an id repeated within one operand takes a
 * diagonal; a size-1 axis under a larger index broadcasts. */
#define EIN_MAX_OPS 8
#define EIN_MAX_IDX 52
typedef struct einsum_params {
  int nops, nidx, nout;
  int64_t size[EIN_MAX_IDX];
  int op_ndim[EIN_MAX_OPS];
  int8_t op_idx[EIN_MAX_OPS][MX_MAX_NDIM];
} einsum_params;
mx_status cpu_einsum(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- norms ----
 * Reduces axes of in[0]; the output has the kept axes in order (keepdims
 * only changes the recorded shape, not the layout). */
typedef enum norm_kind {
  NORM_L2,       /* sqrt(sum |x|^2) over all `axes` (vector 2, fro, ord=None) */
  NORM_VEC_P,    /* (sum |x|^p)^(1/p) */
  NORM_VEC_INF,  /* max |x| */
  NORM_VEC_NINF, /* min |x| */
  NORM_VEC_ZERO, /* count of non-zeros */
  NORM_VEC_ONE,  /* sum |x| */
  NORM_MAT_ONE,  /* max over columns of column sums of |x| */
  NORM_MAT_NONE, /* min over columns of column sums */
  NORM_MAT_INF,  /* max over rows of row sums */
  NORM_MAT_NINF, /* min over rows of row sums */
  NORM_MAT_TWO,  /* largest singular value */
  NORM_MAT_NTWO, /* smallest singular value */
  NORM_MAT_NUC   /* sum of singular values */
} norm_kind;
typedef struct norm_params {
  norm_kind kind;
  double p;
  int naxes;
  int axes[MX_MAX_NDIM]; /* matrix kinds: axes[0] rows, axes[1] columns */
} norm_params;
mx_status cpu_norm(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- convolution ----
 * in[0] (N, [H,] W, C_in), in[1] (C_out, [KH,] KW, C_in / groups), same
 * float dtype. The input is conceptually dilated by idil, cropped to
 * [in_start, in_stop) (in input units, before dilation) and padded by
 * pad_lo / pad_hi; the kernel is dilated by kdil and flipped if `flip`. */
typedef struct conv_params {
  int nsp; /* spatial dims: 1 or 2 */
  int64_t stride[2], pad_lo[2], pad_hi[2], kdil[2], idil[2];
  int64_t in_start[2], in_stop[2];
  int64_t groups;
  bool flip;
} conv_params;
mx_status cpu_conv(mx_array out, mx_array const *in, int nin, const void *params);

#endif
