/* copy.h — CPU kernels for dtype casts, copies and views. */
#ifndef MLXC_CPU_COPY_H
#define MLXC_CPU_COPY_H
#include "cpu.h"

typedef struct view_params {
  int64_t strides[MX_MAX_NDIM]; /* used by as_strided */
  int64_t offset;
  int perm[MX_MAX_NDIM]; /* used by transpose */
} view_params;

mx_status cpu_astype(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_contiguous(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_reshape(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_transpose(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_broadcast(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_as_strided(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_view(mx_array out, mx_array const *in, int nin, const void *params);
/* Strides that make `shape` a view of x (true), or false when x's layout
 * needs a copy (shared with the GPU reshape). */
bool reshape_view_strides(mx_array x, const int64_t *shape, int ndim, int64_t *out);
#endif
