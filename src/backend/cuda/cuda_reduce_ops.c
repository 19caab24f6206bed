/* cuda_reduce_ops.c — GPU kernels of the reduce family (see cuda_table.h). */
#include "cuda_backend.h"
#include "cuda_table.h"

const cuda_kernel_entry cuda_reduce_kernels[] = {
    {NULL, NULL},
};
