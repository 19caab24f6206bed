/* cuda_backend.h — what the CUDA backend's C files share (CUDA builds only). */
#ifndef MLXC_CUDA_BACKEND_H
#define MLXC_CUDA_BACKEND_H

#include "../../core/core.h"
#include "cuda_kernels.h"

/* The backend's stream (a cudaStream_t). */
void *cuda_stream(void);
/* A CUDA error code (0: success) as an mx status with CUDA's message. */
mx_status cuda_check(int err, const char *what);
/* After a recorded graph was launched (cuda_graph.c): the staging slots
 * that uploads filled while recording are released when the graph has
 * read them. */
void cuda_staging_after_launch(void);
/* The primitive -> GPU kernel table (cuda_ops.c). */
kernel_fn cuda_kernel_for(const mx_primitive *p);
/* Runs the node's CPU kernel instead (inputs brought to the host): for
 * dtypes or layouts a GPU kernel does not cover yet. */
mx_status cuda_fallback_cpu(mx_array out, mx_array const *in, int nin, const void *params);
/* Output layout plus the operands' strides broadcast to the output shape. */
void cuda_layout_of(cu_layout *L, mx_array out, mx_array const *ops, int nops);

#endif
