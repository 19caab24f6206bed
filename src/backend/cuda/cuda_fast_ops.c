/* cuda_fast_ops.c — GPU kernels of the fast family (see cuda_table.h). */
#include "cuda_backend.h"
#include "cuda_table.h"

const cuda_kernel_entry cuda_fast_kernels[] = {
    {NULL, NULL},
};
