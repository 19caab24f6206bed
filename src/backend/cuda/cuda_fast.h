/* cuda_fast.h — launchers of the fast-family GPU kernels (fast.cu): rms_norm /
 * layer_norm, rope, scaled dot-product attention and silu_mul, callable from C
 * (cuda_fast_ops.c). Pointers are device pointers at the operand's element
 * offset; strides are in elements. Launchers enqueue on `stream` and return a
 * cudaError_t as int (0: success). The C side checks what a kernel supports
 * (cuda_fast_ops.c) before calling; the launchers assume it. */
#ifndef MLXC_CUDA_FAST_H
#define MLXC_CUDA_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rms_norm / layer_norm over the last axis of x. x: f16/bf16/f32; out
 * row-major in ot (f16/bf16/f32); weight and bias (NULL when absent) in ot. */
typedef struct cu_norm_args {
  int xt, ot;
  void *out;
  const void *x;
  const void *w, *b;
  int64_t w_stride, b_stride;
  int64_t rows, D;
  int outer_nd; /* x's dims before the last (collapsed or not) */
  int64_t shape[MX_MAX_NDIM], strides[MX_MAX_NDIM];
  int64_t x_stride; /* of the last axis */
  int vec;          /* x rows 16-byte aligned, last stride 1, D % 8 == 0 */
  float eps;
  int layer;
} cu_norm_args;
int cu_fast_norm(const cu_norm_args *a, void *stream);

/* rope over x (>= 3 dims, f16/bf16/f32, any strides): positions along
 * axis -2, offset scalar or per batch entry (axis 0). out row-major. */
typedef struct cu_rope_args {
  int xt;
  void *out;
  const void *x;
  int nd;
  int64_t shape[MX_MAX_NDIM], strides[MX_MAX_NDIM];
  int dims, traditional;
  float scale;
  float coef;     /* log(base) / (dims/2) as the CPU computes it (no freqs) */
  int64_t offset; /* when offs is NULL */
  const void *offs;
  int offs_u32;
  int64_t offs_n, offs_stride;
  const float *freqs; /* (dims/2,) f32 or NULL */
  int64_t freqs_stride;
} cu_rope_args;
int cu_fast_rope(const cu_rope_args *a, void *stream);

/* Attention. q (ot), k and v (kt, both the same type), all with a dense
 * last axis; the mask (mt: MX_BOOL or ot; -1: none) with broadcast strides
 * over (B, Hq, Tq, Tk); sinks (ot, (Hq,)) or NULL. out (B, Hq, Tq, D)
 * row-major in ot. D == Dv. */
typedef struct cu_sdpa_args {
  int qt, kt, ot, mt;
  const void *q, *k, *v, *mask, *sinks;
  void *out;
  int64_t B, Hq, Hkv, Tq, Tk, D;
  int64_t qs[3], ks[3], vs[3];
  int64_t ms[4];
  int64_t sinks_stride;
  int causal;
  float scale, lowest;
} cu_sdpa_args;

/* Whether the kernels cover this head size / type combination. */
int cu_sdpa_supported(const cu_sdpa_args *a);
/* Bytes of device scratch cu_fast_sdpa needs (0: none). */
size_t cu_sdpa_scratch_bytes(const cu_sdpa_args *a);
int cu_fast_sdpa(const cu_sdpa_args *a, void *scratch, void *stream);
/* Which decode kernel (Tq <= 8) cu_fast_sdpa uses: 0 the best one (tensor
 * cores for f16/bf16 with D <= 128), 1 always the CUDA-core one. For
 * benchmarks and tests comparing the two; not thread-safe. */
void cu_sdpa_set_decode_impl(int impl);
/* Key splits of the tensor-core decode kernel (0: its own plan; n: n, at
 * most one a 64-key tile and COMBINE_MAX_SPLITS). For benchmarks. */
void cu_sdpa_set_decode_splits(int n);

/* silu(a) * b (the fast_silu_mul primitive) in type t (f16/bf16/f32), out
 * row-major (n elements). a and b are read at offsets from the output index
 * by mode: 1 both dense (index i); 2 the halves of a dense (rows, 2F) array
 * (b = a + F, the caller's pointers); 0 any strides (as / bs over shape). */
typedef struct cu_silu_mul_args {
  int t, mode, nd;
  void *out;
  const void *a, *b;
  int64_t n, F;
  int64_t shape[MX_MAX_NDIM], as[MX_MAX_NDIM], bs[MX_MAX_NDIM];
} cu_silu_mul_args;
int cu_fast_silu_mul(const cu_silu_mul_args *a, void *stream);

#ifdef __cplusplus
}
#endif
#endif
