/* attention.c — the grouped-query attention of mlx-lm's Llama-like models
 * (decoder.h: lm_attn): project, split heads, optionally RMS-normalise each
 * query and key head, rotate, attend through the cache, merge heads and
 * project out.
 *
 * A decode step is bound by the host's cost per graph node, so for one
 * token (or a batch of up to 8 with quantized weights on the CPU) q, k and
 * v come from one matmul (weights concatenated at load when they allow
 * it) and each is one strided view of its output, and for one token the
 * heads merge with one reshape. None of this changes a value: each output
 * of such a matmul is computed from its own weight row as before
 * (lm_linear_fused_serves), and views only move strides. Other inputs keep
 * the separate matmuls, whose GEMM blocking (and so rounding) depends on
 * the output width. */
#include <math.h>
#include <stdio.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

/* x (B, L, H*Dh) -> (B, H, L, Dh) */
static mx_array heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh) {
  int64_t s[4] = {B, L, H, Dh};
  int perm[4] = {0, 2, 1, 3};
  mx_array r = mx_reshape(x, s, 4);
  mx_array t = mx_transpose(r, perm, 4);
  mx_array_free(r);
  return t;
}

/* Heads [h0, h0 + H) of a fused projection y (B, L, N) as (B, H, L, Dh):
 * the reshape + transpose + slice as one view. */
static mx_array heads_of(mx_array y, int64_t h0, int64_t H, int64_t Dh) {
  int64_t B = mx_array_dim(y, 0), L = mx_array_dim(y, 1), N = mx_array_dim(y, 2);
  int64_t shape[4] = {B, H, L, Dh};
  int64_t strides[4] = {L * N, Dh, N, 1};
  return mx_as_strided(y, shape, 4, strides, h0 * Dh);
}

/* o (B, H, L, Dh) -> (B, L, H*Dh) */
static mx_array heads_merge(mx_array o) {
  if (!o) return NULL;
  int64_t B = mx_array_dim(o, 0), H = mx_array_dim(o, 1), L = mx_array_dim(o, 2),
          Dh = mx_array_dim(o, 3);
  int perm[4] = {0, 2, 1, 3};
  int64_t s[3] = {B, L, H * Dh};
  /* One position: swapping H with a size-1 axis moves no element. */
  if (L == 1 && lm_fuse_enabled()) return mx_reshape(o, s, 3);
  mx_array t = mx_transpose(o, perm, 4);
  mx_array r = mx_reshape(t, s, 3);
  mx_array_free(t);
  return r;
}

mx_status lm_attn_load(lm_attn *at, const lm_dec *d, lm_weights *w, const lm_quant_cfg *q,
                       const char *prefix, const lm_attn_opts *o) {
  const lm_dec_args *a = &d->a;
  int64_t D = a->hidden, Dh = a->head_dim, Hq = a->heads, Hkv = a->kv_heads;
  at->heads = Hq;
  at->kv_heads = Hkv;
  at->head_dim = Dh;
  at->eps = (float)a->eps;
  at->scale = (float)(o->scale > 0 ? o->scale : 1.0 / sqrt((double)Dh));
  at->rope = &d->rope;
  char n[256];
  mx_status st;
#define LIN(field, sub, bias, out, in)                                            \
  snprintf(n, sizeof n, "%s.self_attn.%s", prefix, sub);                          \
  if ((st = lm_linear_load(w, q, n, bias, out, in, &at->field))) return st;
  if (o->fused_qkv) {
    LIN(qkv, "qkv_proj", o->qkv_bias, (Hq + 2 * Hkv) * Dh, D)
  } else {
    LIN(q, "q_proj", o->qkv_bias, Hq * Dh, D)
    LIN(k, "k_proj", o->qkv_bias, Hkv * Dh, D)
    LIN(v, "v_proj", o->qkv_bias, Hkv * Dh, D)
  }
  LIN(o, o->o_proj ? o->o_proj : "o_proj", o->o_bias, D, Hq * Dh)
#undef LIN
  if (!o->fused_qkv) {
    lm_linear parts[3] = {at->q, at->k, at->v};
    if ((st = lm_linear_fuse(&at->qkv, parts, 3))) return st;
    at->q = parts[0], at->k = parts[1], at->v = parts[2];
  }
  if (o->q_norm) {
    snprintf(n, sizeof n, "%s.self_attn.%s.weight", prefix, o->q_norm);
    if (!(at->q_norm = lm_dec_load_norm(d, w, n, Dh))) return mx_last_error_code();
    snprintf(n, sizeof n, "%s.self_attn.%s.weight", prefix, o->k_norm);
    if (!(at->k_norm = lm_dec_load_norm(d, w, n, Dh))) return mx_last_error_code();
  }
  return MX_OK;
}

mx_array lm_attn_apply(const lm_attn *at, mx_array x, lm_kv_cache *c, int64_t window) {
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = at->head_dim;
  mx_array q, k, v;
  /* Projections fused at load serve the inputs lm_linear_fused_serves
   * allows; the file's own qkv_proj serves all. */
  bool fused = at->qkv.w && (!at->q.w || lm_linear_fused_serves(&at->qkv, B * L));
  if (fused && !lm_fuse_enabled()) { /* the graph before fusion */
    mx_array qkv = lm_linear_apply(&at->qkv, x);
    mx_array parts[3] = {NULL, NULL, NULL};
    int64_t split[2] = {at->heads * Dh, (at->heads + at->kv_heads) * Dh};
    if (!qkv || mx_split_indices(qkv, split, 2, -1, parts)) {
      mx_array_free(qkv);
      return NULL;
    }
    mx_array_free(qkv);
    q = heads_first(parts[0], B, L, at->heads, Dh);
    k = heads_first(parts[1], B, L, at->kv_heads, Dh);
    v = heads_first(parts[2], B, L, at->kv_heads, Dh);
    for (int j = 0; j < 3; j++) mx_array_free(parts[j]);
  } else if (fused) {
    mx_array qkv = lm_linear_apply(&at->qkv, x); /* (B, L, (Hq + 2 Hkv) Dh) */
    if (!qkv) return NULL;
    q = heads_of(qkv, 0, at->heads, Dh); /* (B, Hq, L, Dh) */
    k = heads_of(qkv, at->heads, at->kv_heads, Dh);
    v = heads_of(qkv, at->heads + at->kv_heads, at->kv_heads, Dh);
    mx_array_free(qkv);
  } else {
    q = lm_linear_apply(&at->q, x); /* (B, L, Hq*Dh) */
    k = lm_linear_apply(&at->k, x); /* (B, L, Hkv*Dh) */
    v = lm_linear_apply(&at->v, x);
    SET(q, heads_first(q, B, L, at->heads, Dh)); /* (B, Hq, L, Dh) */
    SET(k, heads_first(k, B, L, at->kv_heads, Dh));
    SET(v, heads_first(v, B, L, at->kv_heads, Dh));
  }
  if (at->q_norm) {
    SET(q, mx_fast_rms_norm(q, at->q_norm, at->eps));
    SET(k, mx_fast_rms_norm(k, at->k_norm, at->eps));
  }
  SET(q, lm_rope_apply(at->rope, q, c));
  SET(k, lm_rope_apply(at->rope, k, c));
  mx_array o = lm_attend(c, q, k, v, at->scale, window, NULL);
  mx_array_free(q);
  mx_array_free(k);
  mx_array_free(v);
  SET(o, heads_merge(o)); /* (B, L, Hq*Dh) */
  SET(o, lm_linear_apply(&at->o, o));
  return o;
}

void lm_attn_free(lm_attn *at) {
  lm_linear *lin[5] = {&at->q, &at->k, &at->v, &at->o, &at->qkv};
  for (int j = 0; j < 5; j++) lm_linear_free(lin[j]);
  mx_array_free(at->q_norm);
  mx_array_free(at->k_norm);
  at->q_norm = at->k_norm = NULL;
}

uint64_t lm_attn_nbytes(const lm_attn *at) {
  /* A decode step reads qkv when there is one (q, k, v are then unused or
   * views of it). */
  uint64_t n = lm_linear_nbytes(&at->o);
  if (at->qkv.w) n += lm_linear_nbytes(&at->qkv);
  else n += lm_linear_nbytes(&at->q) + lm_linear_nbytes(&at->k) + lm_linear_nbytes(&at->v);
  if (at->q_norm) n += mx_array_nbytes(at->q_norm) + mx_array_nbytes(at->k_norm);
  return n;
}
