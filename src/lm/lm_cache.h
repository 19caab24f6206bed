/* lm_cache.h — what cache.c, attend.c and prompt_cache.c share beyond
 * lm_internal.h: the per-kind update functions and the layer array list. */
#ifndef MLXC_LM_CACHE_H
#define MLXC_LM_CACHE_H

#include "lm_internal.h"
#include "../backend/cpu/fast_fused.h"

/* a (B, H, n, X)[:, :, from:to] (a new reference). */
mx_array lm_kv_slice(mx_array a, int64_t from, int64_t to);
/* mlx-lm's RotatingKVCache.update_and_fetch: L == 1 writes a ring slot and
 * returns the buffer (all valid slots, ring order); L > 1 returns the kept
 * positions in temporal order followed by the new ones. */
mx_status lm_kv_rotating_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v,
                                          mx_array *k_out, mx_array *v_out);
/* mlx-lm's QuantizedKVCache.update_and_fetch: views of the first offset+L
 * positions of (packed, scales, biases) for keys and values. */
mx_status lm_kv_quantized_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v,
                                           mx_array kq_out[3], mx_array vq_out[3]);
/* KVCache.to_quantized: a standard layer becomes quantized in place. */
mx_status lm_kv_to_quantized(lm_kv_cache *c, int bits, int group_size);
/* MX_ERR_INVALID_ARG naming the first bad parameter. */
mx_status lm_cache_check_params(const mx_lm_cache_params *p);
/* An empty cache of n layers (all standard, default params, owners set). */
mx_lm_cache *lm_cache_alloc(int64_t nlayers);
/* The arrays a layer holds (borrowed): keys, values / kq[0..2], vq[0..2] /
 * conv. Returns the count. */
size_t lm_kv_arrays(const lm_kv_cache *l, mx_array out[6]);

/* A standard layer's decode step through fast_rope_kv (in: q, k, v or
 * base as fast_rope_kv takes them, and freqs; the cache fields are filled
 * here; *q_out rotated; *k_out, *v_out the keys and values to attend to). */
mx_status lm_kv_update_rope_fused(lm_kv_cache *c, fast_rope_kv_in *in, const fast_rope_params *rp,
                                  int64_t B, int64_t H, int64_t Hq, int64_t D, mx_array *q_out,
                                  mx_array *k_out, mx_array *v_out);

#endif
