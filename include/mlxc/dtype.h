/* mlxc/dtype.h — element types and MLX's type promotion.
 *
 * The enum order follows MLX (and mlx-c). Half types (f16, bf16) are stored
 * as 16-bit patterns and computed in f32. bool is one byte holding 0 or 1.
 * complex64 is two floats (real, imaginary).
 */
#ifndef MLXC_DTYPE_H
#define MLXC_DTYPE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_dtype {
  MX_BOOL = 0,
  MX_UINT8,
  MX_UINT16,
  MX_UINT32,
  MX_UINT64,
  MX_INT8,
  MX_INT16,
  MX_INT32,
  MX_INT64,
  MX_FLOAT16,
  MX_FLOAT32,
  MX_FLOAT64,
  MX_BFLOAT16,
  MX_COMPLEX64,
  MX_DTYPE_COUNT
} mx_dtype;

/* Bytes per element; 0 for an invalid dtype. */
size_t mx_dtype_size(mx_dtype t);
/* Lower-case name as MLX prints it ("float32", "bfloat16"); "invalid" otherwise. */
const char *mx_dtype_name(mx_dtype t);
/* MLX's promotion rule (JAX lattice): the dtype two operands are computed in. */
mx_dtype mx_promote_types(mx_dtype a, mx_dtype b);

bool mx_dtype_is_valid(mx_dtype t);
bool mx_dtype_is_floating(mx_dtype t); /* f16, bf16, f32, f64 */
bool mx_dtype_is_integer(mx_dtype t);  /* signed or unsigned, not bool */
bool mx_dtype_is_signed_integer(mx_dtype t);
bool mx_dtype_is_unsigned_integer(mx_dtype t);
bool mx_dtype_is_complex(mx_dtype t);
bool mx_dtype_is_inexact(mx_dtype t); /* floating or complex */

#ifdef __cplusplus
}
#endif
#endif
