/* attend.c — one layer's attention through its cache: store the new keys
 * and values, pick the mask (none, causal, or a sliding window), and run
 * scaled dot-product attention (mlx-lm's scaled_dot_product_attention plus
 * create_attention_mask). */
#include <stdlib.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

/* Bool mask (L, T): query i (position off + i) keeps key j (position
 * kstart + j) when it is not in the future and within the window. */
static mx_array window_mask(int64_t L, int64_t T, int64_t off, int64_t kstart, int64_t window) {
  int64_t shape[2] = {L, T};
  bool *m = malloc((size_t)(L * T > 0 ? L * T : 1));
  if (!m) {
    set_error(MX_ERR_OOM, "attention: out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < L; i++)
    for (int64_t j = 0; j < T; j++) {
      int64_t qp = off + i, kp = kstart + j;
      m[i * T + j] = kp <= qp && (window <= 0 || qp - kp < window);
    }
  mx_array a = mx_array_from_data(m, shape, 2, MX_BOOL);
  free(m);
  return a;
}

mx_array lm_attend(lm_kv_cache *c, mx_array q, mx_array k, mx_array v, float scale,
                   int64_t window, mx_array sinks) {
  if (!q || !k || !v) return NULL;
  int64_t L = mx_array_dim(q, 2);
  int64_t off = c ? c->offset : 0;
  mx_array kc = NULL, vc = NULL;
  if (c) {
    if (c->kind != LM_CACHE_STANDARD) {
      set_error(MX_ERR_UNSUPPORTED, "attention: cache kind %d is not supported yet", (int)c->kind);
      return NULL;
    }
    if (lm_kv_update_and_fetch(c, k, v, &kc, &vc)) return NULL;
  } else {
    kc = mx_array_retain(k);
    vc = mx_array_retain(v);
  }
  int64_t T = mx_array_dim(kc, 2);
  mx_array mask = NULL;
  mx_sdpa_mask mode = MX_SDPA_MASK_NONE;
  bool window_cuts = window > 0 && off + L > window;
  if (window_cuts) {
    mode = MX_SDPA_MASK_ARRAY;
    mask = window_mask(L, T, off, off + L - T, window);
  } else if (L > 1) {
    mode = MX_SDPA_MASK_CAUSAL;
  }
  mx_array o = NULL;
  if (mode != MX_SDPA_MASK_ARRAY || mask)
    o = mx_fast_scaled_dot_product_attention(q, kc, vc, scale, mode, mask, sinks);
  mx_array_free(mask);
  mx_array_free(kc);
  mx_array_free(vc);
  return o;
}
