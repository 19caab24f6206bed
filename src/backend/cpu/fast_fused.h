/* fast_fused.h — two internal fused ops of a decode step (mlxc extensions,
 * no MLX counterpart), shared by their front ends (src/ops/fast_add_rms_norm.c,
 * src/ops/fast_rope_kv.c), CPU kernels (fast_add_rms_norm.c, fast_rope_kv.c
 * here), GPU kernels (src/backend/cuda/cuda_fast_ops.c) and src/lm.
 *
 * Why: a decode step of a small model is a few hundred tiny kernels, each
 * paying a launch gap on the GPU and a node's cost on the host. These ops
 * turn four kernels into one (rope of q and k + the two KV-cache writes)
 * and two into one (residual add + RMSNorm), with the unfused chain's bits.
 */
#ifndef MLXC_CPU_FAST_FUSED_H
#define MLXC_CPU_FAST_FUSED_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/core.h"
#include "fast.h"

/* ------------------------------------------------------------ add + rms_norm */

/* h = x + d and y = rms_norm(h, w, eps) from one node. The node's output is
 * (2, *x.shape): [0] holds h, [1] holds y; *h and *y (new references) are
 * views of it. The fused node needs x, d, w of one float dtype (f32, f16,
 * bf16; on a GPU stream f16 / bf16, the kinds checked there bit for bit),
 * x and d of one shape, w (x's last dim,); anything else is the chain
 * mx_add + mx_fast_rms_norm (its promotion and errors). Bits: h as
 * mx_add, y as mx_fast_rms_norm(h, w, eps). Returns MX_OK or the error. */
mx_status fast_add_rms_norm(mx_array x, mx_array d, mx_array w, float eps, mx_array *h,
                            mx_array *y);

typedef struct fast_add_norm_params {
  float eps;
  /* in[0] is an earlier node's packed output P and x is P[0] (the h view
   * of the previous fast_add_rms_norm, which then never runs). */
  bool x_packed;
} fast_add_norm_params;

/* in: x (or P), d, w. out (2, *d.shape). */
mx_status cpu_fast_add_rms_norm(mx_array out, mx_array const *in, int nin, const void *params);
/* The node's x operand as an array header (P[0] when x_packed; borrows). */
void fast_add_norm_x(mx_array const *in, const fast_add_norm_params *p,
                     struct mx_array_impl *hdr);

/* ------------------------------------------------------------ rope + kv */

/* One decode step's rope of q and k and the KV-cache writes of k and v, as
 * one node whose output is a flat "joint" buffer holding, in order,
 *   keys   (B, H, cap, D)  row-major,
 *   values (B, H, cap, D)  row-major,
 *   q_rope (B, Hq, 1, D)   row-major,
 * with keys[:, :, pos] = rope(k), values[:, :, pos] = v, positions < pos
 * those of the old cache (positions > pos unspecified: a grown cache's are
 * never read). The old cache comes as
 *   - nothing (pos == 0),
 *   - K and V arrays (B, H, >= pos, D), any strides, or
 *   - J, an earlier joint buffer of this geometry (the previous step's node):
 * when nobody else holds J, or K and V are the keys / values views of one
 * joint buffer that only they hold, the node writes into that buffer in
 * place (only the new position and q), else it allocates a new one and
 * copies positions < pos. q (B, Hq, 1, D), k, v (B, H, 1, D) come as three
 * arrays (any strides) or as one row-major `base` array and the offset and
 * strides of each within it (the views a fused q/k/v projection is split
 * into; the views themselves then never run). The rope is mx_fast_rope
 * with `rope` (a scalar offset == pos) on q and k in their dtype, bit for
 * bit. */
typedef struct fast_rope_kv_in {
  mx_array K, V, J;
  mx_array q, k, v;
  mx_array base;
  int64_t off[3], strides[3][4]; /* q, k, v within base */
  mx_array freqs;                /* rope->has_freqs */
} fast_rope_kv_in;

typedef struct fast_rope_kv_params {
  fast_rope_params rope; /* offset_is_array false */
  int64_t B, H, Hq, D, cap, pos;
  int kv_mode;  /* inputs first: 0 none, 1 K and V, 2 J */
  int qkv_mode; /* then: 0 q, k, v; 1 base */
  int64_t off[3], strides[3][4];
} fast_rope_kv_params;

/* Returns the joint node (1-d, 2 B H cap D + B Hq D elements) or NULL. */
mx_array fast_rope_kv(const fast_rope_kv_in *in, const fast_rope_params *rope, int64_t B,
                      int64_t H, int64_t Hq, int64_t D, int64_t cap, int64_t pos);

mx_status cpu_fast_rope_kv(mx_array out, mx_array const *in, int nin, const void *params);

/* Whether the node may take over the old cache's buffer (kv_mode 1 or 2,
 * inputs evaluated); sets *base, the joint's element offset in it. */
bool fast_rope_kv_in_place(mx_array const *in, const fast_rope_kv_params *p, int64_t *base);

/* The q / k / v operand i (0..2) of the node as an array header (a view of
 * `base` when qkv_mode is 1, borrowing its buffer; no reference taken). */
void fast_rope_kv_operand(mx_array const *in, const fast_rope_kv_params *p, int i,
                          struct mx_array_impl *hdr);

#endif
