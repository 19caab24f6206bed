/* gather_mm.h — CPU kernel of gather_mm (src/ops/gather_mm.c). */
#ifndef MLXC_CPU_GATHER_MM_H
#define MLXC_CPU_GATHER_MM_H

#include <stdbool.h>

#include "cpu.h"

/* in[0] a (..., M, K), in[1] b (..., K, N), both of the output's float
 * dtype; in[2], in[3] uint32 lhs / rhs indices of the output's batch shape
 * (any strides). sorted: rhs indices claimed sorted (a hint: a wrong claim
 * costs speed, never correctness). */
typedef struct gather_mm_params {
  bool sorted;
} gather_mm_params;
mx_status cpu_gather_mm(mx_array out, mx_array const *in, int nin, const void *params);

#endif
