/* cuda_convert.h — the dtype conversion kernel (convert.cu) for the dtypes
 * the elementwise copy (cuda_kernels.h: cu_copy) lacks: bool, int16, uint16,
 * uint64, float64 and complex64 on either side. Callable from cuda_ops.c. */
#ifndef MLXC_CUDA_CONVERT_H
#define MLXC_CUDA_CONVERT_H

#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out (dense row-major, dtype ot) = src (dtype it) converted element by
 * element exactly as the CPU's convert_run does (bit for bit, NaN payloads
 * included). src is an element pointer (offset applied) read with `strides`
 * (elements; 0 and negative allowed) over `shape`. Enqueues on `stream`;
 * returns a cudaError_t as int (0: success). */
int cu_convert(mx_dtype it, mx_dtype ot, void *out, const void *src, const int64_t *shape,
               const int64_t *strides, int ndim, void *stream);

#ifdef __cplusplus
}
#endif
#endif
