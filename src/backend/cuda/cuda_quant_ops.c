/* cuda_quant_ops.c — GPU kernels of the quant family (see cuda_table.h). */
#include "cuda_backend.h"
#include "cuda_table.h"

const cuda_kernel_entry cuda_quant_kernels[] = {
    {NULL, NULL},
};
