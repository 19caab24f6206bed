/* cuda_kernels.h — the CUDA kernels' launchers (elementwise.cu), callable
 * from the C side of the backend. Launchers enqueue on `stream` and return a
 * cudaError_t as int (0: success). Layouts are in elements. */
#ifndef MLXC_CUDA_KERNELS_H
#define MLXC_CUDA_KERNELS_H

#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Up to three strided operands over one (output) shape; operand 0 is the
 * output. Strides of broadcast dims are 0. */
typedef struct cu_layout {
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  int64_t strides[3][MX_MAX_NDIM];
  int64_t offset[3];
} cu_layout;

typedef enum cu_binary_op {
  CU_ADD, CU_SUB, CU_MUL, CU_DIV, CU_MAX, CU_MIN, CU_POW,
  CU_EQ, CU_NE, CU_LT, CU_LE, CU_GT, CU_GE
} cu_binary_op;

typedef enum cu_unary_op {
  CU_NEG, CU_ABS, CU_EXP, CU_LOG, CU_SQRT, CU_RSQRT, CU_SQUARE, CU_SIGMOID, CU_TANH,
  CU_SIN, CU_COS, CU_RECIP, CU_ERF, CU_LOG1P, CU_EXPM1
} cu_unary_op;

/* dtypes supported by the elementwise kernels. */
int cu_elementwise_dtype_ok(mx_dtype t);

/* out (dtype ot) = op(a, b) (dtype it), n output elements in row-major
 * order of L->shape. */
int cu_binary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a, const void *b,
              const cu_layout *L, int64_t n, void *stream);
int cu_unary(int op, mx_dtype t, void *out, const void *a, const cu_layout *L, int64_t n,
             void *stream);
/* Strided copy with dtype conversion: out row-major (ot) from a (it). */
int cu_copy(mx_dtype it, mx_dtype ot, void *out, const void *a, const cu_layout *L, int64_t n,
            void *stream);

#ifdef __cplusplus
}
#endif
#endif
