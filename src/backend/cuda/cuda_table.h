/* cuda_table.h — how eval finds a GPU kernel: each op family of the CUDA
 * backend lists its kernels by primitive name in its own table, so families
 * can be added without touching each other's files. A table ends with
 * {NULL, NULL}. cuda_kernel_for (cuda_ops.c) searches them in order. */
#ifndef MLXC_CUDA_TABLE_H
#define MLXC_CUDA_TABLE_H

#include "../../core/core.h"

typedef struct cuda_kernel_entry {
  const char *name; /* mx_primitive name */
  kernel_fn k;
} cuda_kernel_entry;

/* cuda_fast_ops.c: reductions, softmax, norms, rope, attention. */
extern const cuda_kernel_entry cuda_fast_kernels[];
/* cuda_reduce_ops.c: reductions, arg-reductions, softmax, logsumexp, scans, sort. */
extern const cuda_kernel_entry cuda_reduce_kernels[];
/* cuda_quant_ops.c: quantized matmuls (MLX affine, GGUF blocks). */
extern const cuda_kernel_entry cuda_quant_kernels[];
/* cuda_index_ops.c: gather / slice / slice_update / concatenate / where ... */
extern const cuda_kernel_entry cuda_index_kernels[];

#endif
