/* cuda_reduce.h — launchers of the reduction family's CUDA kernels
 * (reduce.cu: reductions, argmax/argmin, softmax, scans; sort.cu: sort,
 * argsort, partition, argpartition, topk), callable from C
 * (cuda_reduce_ops.c). Launchers enqueue on `stream` and return a
 * cudaError_t as int (0: success), or CU_RED_UNSUPPORTED for a dtype or
 * layout they do not cover (the caller then runs the CPU kernel). Layouts
 * are in elements; pointers are device pointers at element 0 of the view. */
#ifndef MLXC_CUDA_REDUCE_H
#define MLXC_CUDA_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CU_RED_UNSUPPORTED (-1)

/* Device scratch: the backend's stream-ordered pool (a block freed after
 * the last kernel using it was enqueued may be reused by later kernels). */
typedef struct cu_scratch {
  void *(*alloc)(size_t nbytes);
  void (*free)(void *p, size_t nbytes);
} cu_scratch;

/* A reduction's iteration space: kept dims (output order, collapsed) and
 * reduced dims (by decreasing stride, collapsed, negative strides flipped
 * into `base`). Output o reads base + kept_offset(o) + red_offset(r) for
 * r in [0, nred). */
typedef struct cu_rplan {
  int nk, nr;
  int64_t kshape[MX_MAX_NDIM], kstride[MX_MAX_NDIM];
  int64_t rshape[MX_MAX_NDIM], rstride[MX_MAX_NDIM];
  int64_t nout, nred;
  int64_t base; /* element offset from the view's element 0 */
} cu_rplan;

/* op: red_op of src/backend/cpu/reduce.h (RED_SUM .. RED_LOGSUMEXP; not
 * RED_MEDIAN). it: input dtype, ot: output dtype (row-major, nout). */
int cu_reduce(int op, mx_dtype it, mx_dtype ot, const void *x, void *out, const cu_rplan *p,
              int ddof, const cu_scratch *sc, void *stream);

/* argmax / argmin along one strided axis: output o (uint32) reads
 * base + kept_offset(o) + i * stride, i in [0, n). The plan's reduced dims
 * are ignored. */
int cu_argreduce(int is_max, mx_dtype it, const void *x, uint32_t *out, const cu_rplan *p,
                 int64_t n, int64_t stride, const cu_scratch *sc, void *stream);

/* Softmax over the last axis of dense row-major rows: rows x n. */
int cu_softmax_rows(mx_dtype it, mx_dtype ot, const void *x, void *out, int64_t rows, int64_t n,
                    const cu_scratch *sc, void *stream);

/* Dense row-major gather: out[i] = x[offset(i)] over `shape` with the
 * given element strides (any sign), elements of `esize` bytes. */
int cu_gather_strided(size_t esize, void *out, const void *x, const int64_t *shape,
                      const int64_t *strides, int ndim, int64_t n, void *stream);

/* Scans of dense row-major data seen as [outer, n, K] along n. op: scan_op
 * of src/backend/cpu/reduce.h. */
int cu_scan(int op, int reverse, int inclusive, mx_dtype it, mx_dtype ot, const void *x, void *out,
            int64_t outer, int64_t n, int64_t K, const cu_scratch *sc, void *stream);

/* Sorting dense rows (rows x n) along the last axis, stable, MLX's order
 * (NaNs last, -0.0 tied with 0.0). Writes the last m positions of each
 * sorted row (m == n: the whole row) as values (indices == 0, dtype it)
 * or uint32 indices (indices != 0), rows x m row-major. */
int cu_sort_rows(mx_dtype it, int indices, const void *x, void *out, int64_t rows, int64_t n,
                 int64_t m, const cu_scratch *sc, void *stream);

#ifdef __cplusplus
}
#endif
#endif
