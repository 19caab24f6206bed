/* elementwise_simd.h — hand-vectorized f32 run functions (AVX-512, AVX2)
 * for the hot elementwise ops, chosen once from cpu_get_features(). */
#ifndef MLXC_CPU_ELEMENTWISE_SIMD_H
#define MLXC_CPU_ELEMENTWISE_SIMD_H

#include "elementwise.h"

enum {
  EW_SIMD_ADD,
  EW_SIMD_SUB,
  EW_SIMD_MUL,
  EW_SIMD_DIV,
  EW_SIMD_MAX,
  EW_SIMD_MIN,
  EW_SIMD_BINARY_COUNT
};

/* The best f32 binary run function for `op` on this CPU, or NULL when only
 * the portable loop applies. */
ew_fn ew_simd_f32(int op);

enum {
  EW_SIMD_U_ABS,
  EW_SIMD_U_NEG,
  EW_SIMD_U_SQUARE,
  EW_SIMD_U_SQRT,
  EW_SIMD_U_RSQRT,
  EW_SIMD_U_EXP,
  EW_SIMD_U_SIGMOID,
  EW_SIMD_U_TANH,
  EW_SIMD_UNARY_COUNT
};
/* Same for f32 unary ops (NULL: use the libm loop). */
ew_fn ew_simd_f32_unary(int op);

/* Dense f16/bf16 <-> f32 conversion where this file is faster than the
 * shared converter; false (nothing written) when it has no better path. */
bool ew_simd_half_to_f32(const void *src, mx_dtype st, float *dst, int64_t n);
bool ew_simd_f32_to_half(const float *src, void *dst, mx_dtype dt, int64_t n);

#endif
