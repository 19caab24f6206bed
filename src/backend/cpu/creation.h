/* creation.h — CPU kernels of the creation ops (full, arange, linspace, eye,
 * tri, tril/triu) and their parameter blocks, shared with src/ops/creation.c. */
#ifndef MLXC_CPU_CREATION_H
#define MLXC_CPU_CREATION_H

#include "../../core/core.h"

/* One element of the output dtype, already converted (<= 8 bytes). */
typedef struct fill_params {
  _Alignas(8) unsigned char value[8]; /* written through typed stores */
} fill_params;

typedef struct arange_params {
  double start, step;
} arange_params;

typedef struct linspace_params {
  double start, stop;
} linspace_params;

/* eye / tri / tril / triu: the diagonal offset; `upper` picks triu. */
typedef struct diag_params {
  int64_t k;
  int upper;
} diag_params;

mx_status cpu_fill(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_full(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_arange(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_linspace(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_eye(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_tri(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_tril_triu(mx_array out, mx_array const *in, int nin, const void *params);

/* Fills n elements of `elsize` bytes at dst with the pattern `value`,
 * split across the pool when large. */
void cpu_fill_pattern(void *dst, const void *value, size_t elsize, int64_t n);

#endif
