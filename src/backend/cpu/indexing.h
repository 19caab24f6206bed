/* indexing.h — CPU kernels of the indexing ops (slice, slice_update, take,
 * gather, take/put_along_axis, scatter*, masked_scatter), their parameter
 * blocks (shared with src/ops/indexing.c) and the helpers the kernel files
 * (indexing.c, gather.c, scatter.c) share.
 *
 * Index rule: every index is checked in the kernel before anything is
 * written; a bad one fails the eval with MX_ERR_INVALID_ARG and a message
 * naming the op, the index value and the axis size. Signed indices below 0
 * wrap once (index + size), as MLX; unsigned ones never wrap.
 */
#ifndef MLXC_CPU_INDEXING_H
#define MLXC_CPU_INDEXING_H

#include <stddef.h>
#include <string.h>

#include "cpu.h"

/* slice / slice_update: normalized start and step of every axis. */
typedef struct slice_params {
  int64_t start[MX_MAX_NDIM];
  int64_t step[MX_MAX_NDIM];
} slice_params;

/* take: in = {a, indices}; out = a.shape[:axis] + indices.shape + a.shape[axis+1:]. */
typedef struct take_params {
  int axis;
} take_params;

/* gather: in = {a, idx_0 .. idx_{n-1}} (indices broadcast to one shape). */
typedef struct gather_params {
  int nidx;
  int axes[MX_MAX_NDIM];
  int64_t slice_sizes[MX_MAX_NDIM];
} gather_params;

typedef enum scatter_mode {
  SCATTER_NONE = 0,
  SCATTER_ADD,
  SCATTER_PROD,
  SCATTER_MAX,
  SCATTER_MIN
} scatter_mode;

/* scatter*: in = {a, idx_0 .. idx_{n-1}, updates}. */
typedef struct scatter_params {
  int nidx;
  int mode; /* scatter_mode */
  int axes[MX_MAX_NDIM];
} scatter_params;

/* take_along_axis: in = {a, indices}; put_along_axis: in = {a, indices,
 * values}. The front end has broadcast them (ignoring `axis`). */
typedef struct along_params {
  int axis;
} along_params;

mx_status cpu_slice(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_slice_update(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_take(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_gather(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_take_along_axis(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_put_along_axis(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_scatter(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_masked_scatter(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- shared helpers (indexing.c) ---- */

/* Reads the index array `idx` (any integer dtype, any strides) broadcast to
 * `shape` (its own shape right-aligned into it) in row-major order. For each
 * element i: v = idx (wrapped once if negative and signed), which must
 * satisfy 0 <= v <= dim - win; then acc[i] = v * mul (or acc[i] += v * mul
 * when `accumulate`). On a bad index records "<op>: index V is out of range
 * for axis A of size D" (the first bad one in row-major order) and returns
 * MX_ERR_INVALID_ARG; acc is then partly written. */
mx_status idx_resolve(const char *op, mx_array idx, const int64_t *shape, int ndim, int axis,
                      int64_t dim, int64_t win, int64_t mul, int64_t *acc, bool accumulate);

/* Copies the N-d block `shape` between strided element pointers (element
 * size esz, no conversion), split across the pool when large. */
void idx_strided_copy(void *dst, const int64_t *dst_strides, const void *src,
                      const int64_t *src_strides, const int64_t *shape, int ndim, size_t esz);

/* Makes `out` (same shape and dtype as `src`) a fresh row-major copy of
 * `src`, reusing src's buffer when this node is its only reader. */
mx_status idx_copy_input(mx_array out, mx_array src);

/* Gives `out` back its buffer after a failure past allocation, so that a
 * later eval starts clean. */
void idx_drop_output(mx_array out);

/* Scratch memory for kernels (NULL + MX_ERR_OOM set on failure). */
void *idx_scratch(size_t nbytes);
void idx_scratch_free(void *p, size_t nbytes);

/* n elements of esz bytes from s (element stride ss) to d (stride ds). */
static inline void idx_copy_run(char *d, int64_t ds, const char *s, int64_t ss, int64_t n,
                                size_t esz) {
  if (ds == 1 && ss == 1) {
    memcpy(d, s, (size_t)n * esz);
    return;
  }
  switch (esz) {
#define IDX_COPY_CASE(SZ, T)                                                               \
  case SZ: {                                                                               \
    T *dd = (T *)(void *)d;                                                                \
    const T *sp = (const T *)(const void *)s;                                              \
    for (int64_t k = 0; k < n; k++) dd[k * ds] = sp[k * ss];                               \
    return;                                                                                \
  }
    IDX_COPY_CASE(1, uint8_t)
    IDX_COPY_CASE(2, uint16_t)
    IDX_COPY_CASE(4, uint32_t)
    IDX_COPY_CASE(8, uint64_t)
#undef IDX_COPY_CASE
    default:
      for (int64_t k = 0; k < n; k++)
        memcpy(d + (ptrdiff_t)(k * ds) * (ptrdiff_t)esz, s + (ptrdiff_t)(k * ss) * (ptrdiff_t)esz,
               esz);
  }
}

#endif
