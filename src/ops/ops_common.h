/* ops_common.h — helpers for op front ends (argument checks, casts). */
#ifndef MLXC_OPS_COMMON_H
#define MLXC_OPS_COMMON_H

#include "../core/core.h"
#include "mlxc/ops.h"

/* Returns a new reference to `a` converted to `dtype` (a retained `a` when
 * it already has that dtype). */
static inline mx_array cast_to(mx_array a, mx_dtype dtype) {
  if (!a) return NULL;
  if (a->dtype == dtype) return mx_array_retain(a);
  return mx_astype(a, dtype);
}

/* Returns NULL from the enclosing op when `a` is NULL (error kept). */
#define CHECK_INPUT(op, a)                                                       \
  do {                                                                           \
    mx_array check_input_[1] = {(a)};                                            \
    if (any_null((op), check_input_, 1)) return NULL;                            \
  } while (0)

#endif
