/* sort.h — CPU kernels of sort, argsort, partition, argpartition, topk.
 *
 * Every kernel works along one axis of an evaluated input of any strides and
 * writes a fresh row-major output. Order is MLX's: NaNs last (all NaNs tie),
 * -0.0 ties with 0.0, complex compares (real, imag) lexicographically.
 * sort/argsort are stable. partition/argpartition/topk reproduce the
 * element order of MLX's CPU backend as built on Linux (libstdc++'s
 * std::nth_element), so results are deterministic and match MLX.
 */
#ifndef MLXC_CPU_SORT_H
#define MLXC_CPU_SORT_H
#include "cpu.h"

typedef struct sort_params {
  int axis;    /* normalized */
  int64_t kth; /* partition position in [0, len) (topk: len - k) */
} sort_params;

mx_status cpu_sort(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_argsort(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_partition(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_argpartition(mx_array out, mx_array const *in, int nin, const void *params);
/* The output's axis length is k; it holds the partitioned row's last k. */
mx_status cpu_topk(mx_array out, mx_array const *in, int nin, const void *params);
#endif
