/* attend.c — one layer's attention through its cache: store the new keys
 * and values (per cache kind), pick the mask, and run attention: mlx-lm's
 * update_and_fetch + make_mask / create_attention_mask, then
 * scaled_dot_product_attention or, for quantized caches,
 * quantized_scaled_dot_product_attention.
 *
 * Masks. Keys come back in an order that depends on the cache kind; each
 * key index j gets
 *  - an "order" coordinate kpos[j] (queries: qpos[i]) in which causality
 *    and the sliding window are tested — for multi-token calls this is the
 *    index in the returned list (as mlx-lm's create_causal_mask over the
 *    returned keys, which is what a rotating cache's kept prefix sees), for a
 *    single-token ring update the absolute position;
 *  - its absolute position kabs[j], tested against the batch's left padding
 *    (row b never sees the first left_pad[b] positions).
 * Decode (L == 1) with no padding and no window cut passes no mask at all;
 * a plain causal prefill uses sdpa's built-in causal mode. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_cache.h"
#include "lm_internal.h"
#include "models/decoder.h" /* lm_fuse_enabled */
#include "mlxc/fast.h"
#include "mlxc/ops.h"
#include "../backend/cpu/copy.h"
#include "../backend/cpu/fast_fused.h"

/* Geometry of the returned keys. */
typedef struct kgeom {
  int64_t L, T;
  int64_t q0;       /* qpos[i] = q0 + i */
  int64_t abs_q0;   /* absolute position of query 0 */
  /* kpos / kabs: either affine in j (a + j) or from the rotating ring. */
  bool ring;        /* single-token rotating update after eviction */
  int64_t keep, idx, offset_after; /* ring layout */
  bool rot_concat;  /* multi-token rotating update: kept prefix + suffix */
  int64_t m, off_before;           /* rot_concat: old keys returned, offset before */
  bool ring_order;  /* kpos is the absolute position (single-token updates) */
} kgeom;

static int64_t key_abs(const kgeom *g, int64_t j) {
  if (g->ring) {
    if (j < g->keep) return j;
    int64_t newest = g->offset_after - 1;
    if (j < g->idx) return newest - (g->idx - 1 - j);
    return newest - (g->idx - 1 - j + g->T - g->keep);
  }
  if (g->rot_concat) {
    if (j >= g->m) return g->off_before + (j - g->m);
    if (g->m == g->off_before || j < g->keep) return j;
    return g->off_before - (g->m - j);
  }
  return j;
}

static int64_t key_pos(const kgeom *g, int64_t j) { return g->ring_order ? key_abs(g, j) : j; }

static mx_array bool_mask(const kgeom *g, int64_t window, const int64_t *pad, int64_t B) {
  int64_t L = g->L, T = g->T, Bm = pad ? B : 1;
  if (L > 0 && T > 0 && Bm > INT64_MAX / L / T) {
    set_error(MX_ERR_OOM, "attention: mask of %lld x %lld x %lld is too large", (long long)Bm,
              (long long)L, (long long)T);
    return NULL;
  }
  size_t n = (size_t)(Bm * L * T);
  bool *m = malloc(n ? n : 1);
  int64_t *kp = malloc((size_t)(T > 0 ? T : 1) * 2 * sizeof *kp);
  if (!m || !kp) {
    free(m);
    free(kp);
    set_error(MX_ERR_OOM, "attention: out of memory for a %lld x %lld mask", (long long)L,
              (long long)T);
    return NULL;
  }
  int64_t *ka = kp + T;
  for (int64_t j = 0; j < T; j++) {
    kp[j] = key_pos(g, j);
    ka[j] = key_abs(g, j);
  }
  for (int64_t b = 0; b < Bm; b++)
    for (int64_t i = 0; i < L; i++) {
      int64_t qp = g->ring_order ? g->abs_q0 + i : g->q0 + i;
      bool *row = m + (size_t)((b * L + i) * T);
      for (int64_t j = 0; j < T; j++)
        row[j] = kp[j] <= qp && (window <= 0 || qp - kp[j] < window) && (!pad || ka[j] >= pad[b]);
    }
  int64_t shape[4] = {Bm, 1, L, T};
  mx_array a = mx_array_from_data(m, shape, 4, MX_BOOL);
  free(m);
  free(kp);
  return a;
}

static double lowest(mx_dtype t) {
  switch (t) {
    case MX_FLOAT16: return -65504.0;
    case MX_BFLOAT16: return -3.3895313892515355e38;
    default: return -FLT_MAX;
  }
}

#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
  } while (0)

/* mlx-lm's quantized_scaled_dot_product_attention: scores and outputs
 * through quantized_matmul on the packed cache; GQA by folding the query
 * heads of a group into one batch entry; softmax in float32 precision. */
static mx_array quantized_sdpa(mx_array q, mx_array kq[3], mx_array vq[3], float scale,
                               mx_array mask, int group, int bits) {
  int64_t B = mx_array_dim(q, 0), Hq = mx_array_dim(q, 1), L = mx_array_dim(q, 2),
          D = mx_array_dim(q, 3), Hkv = mx_array_dim(kq[0], 1);
  int64_t R = Hq / Hkv;
  mx_array s = mx_array_scalar(scale, mx_array_dtype(q));
  mx_array qs = mx_multiply(q, s);
  mx_array_free(s);
  mx_array k3[3], v3[3];
  for (int i = 0; i < 3; i++) {
    if (R > 1) {
      int ax[1] = {-3};
      k3[i] = mx_expand_dims(kq[i], ax, 1);
      v3[i] = mx_expand_dims(vq[i], ax, 1);
    } else {
      k3[i] = mx_array_retain(kq[i]);
      v3[i] = mx_array_retain(vq[i]);
    }
  }
  mx_array m = mask ? mx_array_retain(mask) : NULL;
  if (R > 1) {
    int64_t sh[5] = {B, Hkv, R, L, D};
    SET(qs, mx_reshape(qs, sh, 5));
    if (m && mx_array_ndim(m) > 3) {
      int ax[1] = {-3};
      SET(m, mx_expand_dims(m, ax, 1));
    }
  }
  /* Scores on dequantized keys: mx_quantized_matmul's decode path (<= 8
   * activation rows, the case here) rounds the activations to int8, a ~1%
   * error on attention scores that MLX's float kernels do not make. The
   * values side (x @ W, no transpose) is exact in float and stays fused. */
  mx_array kd = mx_dequantize(k3[0], k3[1], k3[2], group, bits, MX_QUANT_AFFINE, NULL,
                              MX_DTYPE_COUNT);
  mx_array kt = kd ? mx_swapaxes(kd, -1, -2) : NULL;
  mx_array sc = kt ? mx_matmul(qs, kt) : NULL;
  mx_array_free(kd);
  mx_array_free(kt);
  if (m && sc) {
    mx_array lo = mx_full_scalar(NULL, 0, lowest(mx_array_dtype(sc)), mx_array_dtype(sc));
    SET(sc, mx_where(m, sc, lo));
    mx_array_free(lo);
  }
  int ax[1] = {-1};
  SET(sc, mx_softmax(sc, ax, 1, true));
  mx_array o = mx_quantized_matmul(sc, v3[0], v3[1], v3[2], false, group, bits, MX_QUANT_AFFINE);
  if (R > 1 && o) {
    int64_t sh[4] = {B, Hq, L, mx_array_dim(o, 4)};
    SET(o, mx_reshape(o, sh, 4));
  }
  mx_array_free(sc);
  mx_array_free(qs);
  mx_array_free(m);
  for (int i = 0; i < 3; i++) {
    mx_array_free(k3[i]);
    mx_array_free(v3[i]);
  }
  return o;
}

static int64_t layer_index(const lm_kv_cache *c) {
  return c->owner ? (int64_t)(c - c->owner->layers) : 0;
}

/* New keys/values must continue the cached ones (same batch, heads, head
 * dims): a prompt cache made for another model fails here, by name. */
static mx_status check_compatible(const lm_kv_cache *c, mx_array k, mx_array v) {
  int64_t B = mx_array_dim(k, 0), H = mx_array_dim(k, 1), D = mx_array_dim(k, 3),
          Dv = mx_array_dim(v, 3);
  int64_t cb, ch, cd, cdv;
  if (c->kind == LM_CACHE_QUANTIZED) {
    if (!c->kq[1]) return MX_OK;
    cb = mx_array_dim(c->kq[1], 0);
    ch = mx_array_dim(c->kq[1], 1);
    cd = mx_array_dim(c->kq[1], 3) * c->group_size;
    cdv = mx_array_dim(c->vq[1], 3) * c->group_size;
  } else {
    if (!c->keys) return MX_OK;
    cb = mx_array_dim(c->keys, 0);
    ch = mx_array_dim(c->keys, 1);
    cd = mx_array_dim(c->keys, 3);
    cdv = mx_array_dim(c->values, 3);
  }
  if (cb != B || ch != H || cd != D || cdv != Dv)
    return set_error(MX_ERR_SHAPE, "attention: cache layer %lld holds batch %lld, %lld kv heads, "
                     "head dims %lld/%lld but the model gives batch %lld, %lld kv heads, head "
                     "dims %lld/%lld (a cache made for another model or batch?)",
                     (long long)layer_index(c), (long long)cb, (long long)ch, (long long)cd,
                     (long long)cdv, (long long)B, (long long)H, (long long)D, (long long)Dv);
  return MX_OK;
}

/* MLXC_FUSE=0 (all fusions) or MLXC_FUSE_ROPE_KV=0 (this one) keep the
 * decode step's rope nodes and slice_updates, for A/B comparisons. */
static bool rope_kv_enabled(void) {
  static int on = -1;
  if (on < 0) on = lm_fuse_enabled() && env_long("MLXC_FUSE_ROPE_KV", 1, 0, 1);
  return on;
}

/* Whether a is a rope node still pending (lm_rope_apply's mx_fast_rope with
 * a scalar offset): then its input and parameters, so that a decode step
 * can compute it inside the fused cache write instead; the node itself is
 * then never evaluated (nothing else reads it). */
static bool pending_rope(mx_array a, mx_array *x, const fast_rope_params **p, mx_array *freqs) {
  if (!a || atomic_load(&a->state) != ARRAY_PENDING || !a->prim || !a->params ||
      strcmp(a->prim->name, "fast_rope") != 0)
    return false;
  const fast_rope_params *rp = a->params;
  if (rp->offset_is_array || a->nin != 1 + (int)rp->has_freqs) return false;
  *x = a->inputs[0];
  *p = rp;
  *freqs = rp->has_freqs ? a->inputs[1] : NULL;
  return true;
}

static bool same_rope(const fast_rope_params *a, const fast_rope_params *b) {
  return a->dims == b->dims && a->traditional == b->traditional && a->has_freqs == b->has_freqs &&
         a->base == b->base && a->scale == b->scale && a->offset == b->offset;
}

/* Whether a is a pending as_strided view (of in[0]): its offset and strides. */
static bool pending_view(mx_array a, mx_array *base, int64_t *off, int64_t *strides) {
  if (!a || atomic_load(&a->state) != ARRAY_PENDING || !a->prim || !a->params || a->nin != 1 ||
      a->ndim != 4 || strcmp(a->prim->name, "as_strided") != 0)
    return false;
  const view_params *vp = a->params;
  *base = a->inputs[0];
  *off = vp->offset;
  for (int i = 0; i < 4; i++) strides[i] = vp->strides[i];
  return true;
}

/* A standard layer's decode step can go through lm_kv_update_rope_fused:
 * one token, no per-row offsets, q and k fresh rope nodes of one rope at
 * the cache's offset, q, k, v (and the cache) of one float dtype and one
 * head size. Fills `in` with the un-rotated q, k and v, or with their base
 * when all three are views of one array (the fused q/k/v projection). */
static bool rope_kv_fusable(const lm_kv_cache *c, mx_array q, mx_array k, mx_array v,
                            fast_rope_kv_in *in, const fast_rope_params **rp) {
  memset(in, 0, sizeof *in);
  if (!rope_kv_enabled() || mx_array_dim(q, 2) != 1 || (c->owner && c->owner->left_pad))
    return false;
  const fast_rope_params *qp, *kp;
  mx_array qx, kx, qf, kf;
  if (!pending_rope(q, &qx, &qp, &qf) || !pending_rope(k, &kx, &kp, &kf) || qf != kf ||
      !same_rope(qp, kp) || kp->offset != c->offset)
    return false;
  mx_dtype t = mx_array_dtype(q);
  if ((t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) || mx_array_dtype(k) != t ||
      mx_array_dtype(v) != t || mx_array_dtype(qx) != t || mx_array_dtype(kx) != t)
    return false;
  int64_t D = mx_array_dim(k, 3);
  if (mx_array_dim(q, 3) != D || mx_array_dim(v, 3) != D || mx_array_dim(q, 0) != mx_array_dim(k, 0))
    return false;
  if (c->keys && (mx_array_dtype(c->keys) != t || mx_array_dtype(c->values) != t)) return false;
  mx_array bq, bk, bv;
  if (pending_view(qx, &bq, &in->off[0], in->strides[0]) &&
      pending_view(kx, &bk, &in->off[1], in->strides[1]) &&
      pending_view(v, &bv, &in->off[2], in->strides[2]) && bq == bk && bk == bv &&
      mx_array_dtype(bq) == t) {
    in->base = bq;
  } else {
    in->q = qx;
    in->k = kx;
    in->v = v;
  }
  in->freqs = kf;
  *rp = kp;
  return true;
}

mx_array lm_attend(lm_kv_cache *c, mx_array q, mx_array k, mx_array v, float scale,
                   int64_t window, mx_array sinks) {
  if (!q || !k || !v) return NULL;
  if (mx_array_ndim(q) != 4 || mx_array_ndim(k) != 4 || mx_array_ndim(v) != 4) {
    set_error(MX_ERR_SHAPE, "attention: queries, keys and values must be (B, heads, L, D)");
    return NULL;
  }
  int64_t B = mx_array_dim(q, 0), L = mx_array_dim(q, 2);
  const mx_lm_cache *owner = c ? c->owner : NULL;
  kgeom g = {0};
  g.L = L;
  mx_array kc = NULL, vc = NULL, kq[3] = {NULL}, vq[3] = {NULL};
  mx_array q_fused = NULL; /* the rotated q of the fused decode step */
  int64_t win = window;
  if (c) {
    if (c->kind == LM_CACHE_CONV) {
      set_error(MX_ERR_INVALID_ARG, "attention: cache layer %lld holds a convolution state, not "
                "keys (a cache made for another model?)", (long long)layer_index(c));
      return NULL;
    }
    if (check_compatible(c, k, v)) return NULL;
    /* maybe_quantize_kv_cache, done before the layer's next update rather
     * than after the previous call: the same positions get quantized. */
    if (c->kind == LM_CACHE_STANDARD && owner && owner->params.kv_bits && c->offset > 0 &&
        c->offset >= owner->params.quantized_kv_start &&
        lm_kv_to_quantized(c, owner->params.kv_bits, owner->params.kv_group_size))
      return NULL;
    if (c->kind == LM_CACHE_QUANTIZED && mx_array_dim(k, 3) % c->group_size) {
      set_error(MX_ERR_INVALID_ARG, "attention: kv_group_size %d does not divide the head "
                "dimension %lld (quantized KV cache)", c->group_size,
                (long long)mx_array_dim(k, 3));
      return NULL;
    }
    int64_t off = c->offset;
    g.abs_q0 = off;
    switch (c->kind) {
      case LM_CACHE_STANDARD: {
        fast_rope_kv_in in;
        const fast_rope_params *rp;
        if (rope_kv_fusable(c, q, k, v, &in, &rp)) {
          if (lm_kv_update_rope_fused(c, &in, rp, mx_array_dim(k, 0), mx_array_dim(k, 1),
                                      mx_array_dim(q, 1), mx_array_dim(k, 3), &q_fused, &kc, &vc))
            return NULL;
        } else if (lm_kv_update_and_fetch(c, k, v, &kc, &vc)) {
          return NULL;
        }
        break;
      }
      case LM_CACHE_QUANTIZED:
        if (lm_kv_quantized_update_and_fetch(c, k, v, kq, vq)) return NULL;
        break;
      default: /* ROTATING */
        if (lm_kv_rotating_update_and_fetch(c, k, v, &kc, &vc)) return NULL;
        if (win <= 0 && L > 1) win = c->max_size;
        if (L == 1) {
          g.ring_order = true;
          g.ring = c->offset > mx_array_dim(kc, 2);
          g.keep = c->keep;
          g.idx = c->idx;
          g.offset_after = c->offset;
        } else {
          g.rot_concat = true;
          g.keep = c->keep;
          g.off_before = off;
        }
        break;
    }
  } else {
    kc = mx_array_retain(k);
    vc = mx_array_retain(v);
  }
  g.T = kc ? mx_array_dim(kc, 2) : mx_array_dim(kq[0], 2);
  g.q0 = g.T - L;
  g.m = g.T - L;
  bool quant = kq[0] != NULL;

  /* Which constraints actually cut something. */
  const int64_t *pad = NULL;
  if (owner && owner->left_pad) {
    if (owner->batch != B) {
      set_error(MX_ERR_SHAPE, "attention: the cache's left padding has %lld rows, the batch %lld",
                (long long)owner->batch, (long long)B);
      goto fail;
    }
    int64_t maxpad = 0, minabs = INT64_MAX;
    for (int64_t b = 0; b < B; b++)
      if (owner->left_pad[b] > maxpad) maxpad = owner->left_pad[b];
    if (maxpad > 0)
      for (int64_t j = 0; j < g.T && minabs >= maxpad; j++) {
        int64_t a = key_abs(&g, j);
        if (a < minabs) minabs = a;
      }
    if (maxpad > minabs) pad = owner->left_pad;
  }
  bool window_cuts = false;
  if (win > 0 && g.T > 0) {
    int64_t kmin = INT64_MAX;
    if (g.ring_order) {
      for (int64_t j = 0; j < g.T; j++) {
        int64_t p = key_pos(&g, j);
        if (p < kmin) kmin = p;
      }
    } else {
      kmin = 0;
    }
    int64_t qmax = (g.ring_order ? g.abs_q0 : g.q0) + L - 1;
    window_cuts = qmax - kmin >= win;
  }
  bool need_array = pad || window_cuts || (quant && L > 1);
  mx_array mask = NULL;
  if (need_array && !(mask = bool_mask(&g, window_cuts ? win : 0, pad, B))) goto fail;
  mx_array o = NULL;
  if (quant) {
    if (sinks)
      set_error(MX_ERR_UNSUPPORTED, "attention: a quantized KV cache does not support attention "
                "sinks (as mlx-lm)");
    else
      o = quantized_sdpa(q, kq, vq, scale, mask, c->group_size, c->bits);
  } else {
    mx_sdpa_mask mode = mask ? MX_SDPA_MASK_ARRAY : L > 1 ? MX_SDPA_MASK_CAUSAL : MX_SDPA_MASK_NONE;
    o = mx_fast_scaled_dot_product_attention(q_fused ? q_fused : q, kc, vc, scale, mode, mask,
                                             sinks);
  }
  mx_array_free(q_fused);
  mx_array_free(mask);
  mx_array_free(kc);
  mx_array_free(vc);
  for (int i = 0; i < 3; i++) {
    mx_array_free(kq[i]);
    mx_array_free(vq[i]);
  }
  return o;
fail:
  mx_array_free(q_fused);
  mx_array_free(kc);
  mx_array_free(vc);
  for (int i = 0; i < 3; i++) {
    mx_array_free(kq[i]);
    mx_array_free(vq[i]);
  }
  return NULL;
}
