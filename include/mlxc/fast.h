/* mlxc/fast.h — fused kernels for models (MLX's mx.fast).
 *
 * Same conventions as ops.h (lazy, new references, NULL propagation).
 * Normalizations and softmax accumulate in float32 whatever the input dtype.
 */
#ifndef MLXC_FAST_H
#define MLXC_FAST_H

#include <stdbool.h>
#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x * rsqrt(mean(x^2, -1) + eps) * weight over the last axis. weight may be
 * NULL, else 1-d of the last axis' size. Output dtype as MLX: the promotion
 * of x and weight (x's dtype without weight); floating types only. */
mx_array mx_fast_rms_norm(mx_array x, mx_array weight, float eps);

/* (x - mean) * rsqrt(var + eps) * weight + bias over the last axis; weight
 * and bias may each be NULL. */
mx_array mx_fast_layer_norm(mx_array x, mx_array weight, mx_array bias, float eps);

/* Rotary embedding of the first `dims` features of the last axis (the rest
 * pass through) at positions offset, offset+1, ... along axis -2.
 * traditional: rotate interleaved pairs (x0,x1),(x2,x3)...; otherwise the
 * two halves (x[i], x[i+dims/2]). Frequencies: base^(-2i/dims) when `freqs`
 * is NULL, else 1/freqs (dims/2 entries, as MLX). Positions are multiplied
 * by `scale`. x needs >= 3 dims. */
mx_array mx_fast_rope(mx_array x, int dims, bool traditional, float base, float scale,
                      int64_t offset, mx_array freqs);
/* Same with the offset as an integer array: a scalar, or one per batch
 * entry (shape (B,)). */
mx_array mx_fast_rope_offsets(mx_array x, int dims, bool traditional, float base, float scale,
                              mx_array offset, mx_array freqs);

typedef enum mx_sdpa_mask {
  MX_SDPA_MASK_NONE = 0,
  MX_SDPA_MASK_CAUSAL = 1, /* query i sees keys <= i + Tk - Tq (bottom-right) */
  MX_SDPA_MASK_ARRAY = 2   /* `mask`: bool (true = keep) or additive, broadcastable
                              to (B, Hq, Tq, Tk) */
} mx_sdpa_mask;

/* softmax(q k^T * scale + mask) v, softmax in float32.
 * q (B, Hq, Tq, D), k (B, Hkv, Tk, D), v (B, Hkv, Tk, Dv), Hq a multiple of
 * Hkv (grouped-query attention without materializing repeated K/V).
 * sinks: NULL or (Hq,) logits of an extra always-visible "sink" key that
 * takes probability mass but contributes no value. */
mx_array mx_fast_scaled_dot_product_attention(mx_array q, mx_array k, mx_array v, float scale,
                                              mx_sdpa_mask mask_mode, mx_array mask,
                                              mx_array sinks);

/* silu(a) * b = a * sigmoid(a) * b (SwiGLU's activation) as one node. An
 * mlxc extension: MLX has no such op (mlx-lm writes nn.silu(gate) * up).
 * The result equals mx_multiply(mx_multiply(a, mx_sigmoid(a)), b) bit for
 * bit, f16/bf16 rounded after each of the three steps as that chain does;
 * inputs of other dtypes or of different shapes (broadcasting) or dtypes
 * are computed by that chain, with its promotion rules and errors. */
mx_array mx_fast_silu_mul(mx_array a, mx_array b);

#ifdef __cplusplus
}
#endif
#endif
