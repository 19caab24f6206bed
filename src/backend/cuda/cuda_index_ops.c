/* cuda_index_ops.c — GPU kernels of the index family (see cuda_table.h). */
#include "cuda_backend.h"
#include "cuda_table.h"

const cuda_kernel_entry cuda_index_kernels[] = {
    {NULL, NULL},
};
