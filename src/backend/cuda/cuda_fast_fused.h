/* cuda_fast_fused.h — launchers of the fused decode-step kernels in fast.cu
 * (src/backend/cpu/fast_fused.h says what the ops compute), callable from
 * C (cuda_fast_ops.c). Device pointers at the operand's element offset;
 * strides in elements; launchers enqueue on `stream` and return a
 * cudaError_t as int. */
#ifndef MLXC_CUDA_FAST_FUSED_H
#define MLXC_CUDA_FAST_FUSED_H

#include <stddef.h>
#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* h = x + d (rows x D, written at out) and rms_norm(h) * w (written at
 * out + rows * D), all in type t (f16/bf16/f32). x and d: any strides over
 * the outer dims (shape/xs/ds), last-axis strides x_last / d_last. */
typedef struct cu_add_norm_args {
  int t;
  void *out;
  const void *x, *d, *w;
  int64_t w_stride;
  int64_t rows, D;
  int outer_nd;
  int64_t shape[MX_MAX_NDIM], xs[MX_MAX_NDIM], ds[MX_MAX_NDIM];
  int64_t x_last, d_last;
  int vec; /* x and d rows 16-byte aligned with a dense last axis, D % 8 == 0 */
  float eps;
} cu_add_norm_args;
int cu_fast_add_rms_norm(const cu_add_norm_args *a, void *stream);

/* rope(q), rope(k) and v into the joint buffer `out` (keys, values, q;
 * src/backend/cpu/fast_fused.h), type t. q (B, Hq, 1, D), k and v
 * (B, H, 1, D) with strides qs / ks / vs (4 each). Rope as cu_rope_args. */
typedef struct cu_rope_kv_args {
  int t;
  void *out;
  const void *q, *k, *v;
  int64_t qs[4], ks[4], vs[4];
  int64_t B, H, Hq, D, cap, pos;
  int dims, traditional;
  float scale, coef;
  int64_t offset;
  const float *freqs;
  int64_t freqs_stride;
} cu_rope_kv_args;
int cu_fast_rope_kv(const cu_rope_kv_args *a, void *stream);

/* Positions [0, pos) of src (B, H, >= pos, D) with strides ss (4) into
 * dst (B, H, cap, D) row-major; esz bytes per element. */
int cu_kv_copy_prefix(void *dst, const void *src, const int64_t *ss, int64_t B, int64_t H,
                      int64_t pos, int64_t cap, int64_t D, size_t esz, void *stream);

#ifdef __cplusplus
}
#endif
#endif
