/* qwen3.c — Qwen3 (dense), as mlx_lm/models/qwen3.py: Llama's blocks with
 * an RMSNorm over each head of the queries and keys (q_norm, k_norm) before
 * RoPE and an explicit head_dim (not hidden / heads); no projection biases
 * unless attention_bias (transformers' Qwen3Config, on q, k, v and o). The
 * output head is tied when tie_word_embeddings is true (transformers'
 * default is untied; mlx-lm requires the key).
 *
 * Sliding windows as transformers' Qwen3Config: only when
 * use_sliding_window is true, on the layers "layer_types" marks
 * sliding_attention (without it, layers >= max_window_layers); released
 * Qwen3 checkpoints have use_sliding_window false and use none.
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim,
 * F intermediate, V vocab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

typedef struct qwen3_layer {
  mx_array in_norm, post_norm;          /* (D) */
  mx_array q_norm, k_norm;              /* (Dh) */
  lm_linear q, k, v, o, gate, up, down;
} qwen3_layer;

typedef struct qwen3 {
  lm_dec d;
  bool bias;
  lm_rope rope;
  qwen3_layer *L;
} qwen3;

#define WHAT "qwen3 config"

/* transformers' Qwen2Config / Qwen3Config window rules. */
static mx_status parse_windows(lm_dec *d, const cJSON *cfg) {
  bool use;
  int64_t window, first;
  mx_status st;
  if ((st = lm_cfg_bool(cfg, "use_sliding_window", false, &use, WHAT)) ||
      (st = lm_cfg_int(cfg, "sliding_window", 0, &window, WHAT)) ||
      (st = lm_cfg_int(cfg, "max_window_layers", 28, &first, WHAT)))
    return st;
  if (!use) return MX_OK;
  if (window <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": use_sliding_window is true but sliding_window is "
                     "not a positive integer");
  return lm_dec_windows(d, cfg, window, first, WHAT);
}

static void qwen3_destroy(void *impl) {
  qwen3 *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->d.a.layers; i++) {
      qwen3_layer *l = &m->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      mx_array_free(l->q_norm);
      mx_array_free(l->k_norm);
      lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
      for (int j = 0; j < 7; j++) lm_linear_free(lin[j]);
    }
  free(m->L);
  lm_dec_free(&m->d);
  lm_rope_free(&m->rope);
  free(m);
}

static void *qwen3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  qwen3 *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "qwen3: out of memory");
    return NULL;
  }
  lm_dec_args *a = &m->d.a;
  if (lm_dec_parse_args(cfg, a, false, "head_dim", WHAT) ||
      lm_cfg_bool(cfg, "attention_bias", false, &m->bias, WHAT) || parse_windows(&m->d, cfg) ||
      lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT))
    goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "qwen3: out of memory");
    goto fail;
  }
  if (lm_dec_load_outer(&m->d, w, q)) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim, F = a->inter;
  for (int64_t i = 0; i < a->layers; i++) {
    qwen3_layer *l = &m->L[i];
    char p[160], n[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", m->bias, a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", m->bias, a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", m->bias, a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", m->bias, D, a->heads * Dh)
    LIN(gate, "mlp.gate_proj", false, F, D)
    LIN(up, "mlp.up_proj", false, F, D)
    LIN(down, "mlp.down_proj", false, D, F)
#undef LIN
    snprintf(n, sizeof n, "%s.input_layernorm.weight", p);
    if (!(l->in_norm = lm_dec_load_norm(w, n, D, m->d.dtype))) goto fail;
    snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", p);
    if (!(l->post_norm = lm_dec_load_norm(w, n, D, m->d.dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.q_norm.weight", p);
    if (!(l->q_norm = lm_dec_load_norm(w, n, Dh, m->d.dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.k_norm.weight", p);
    if (!(l->k_norm = lm_dec_load_norm(w, n, Dh, m->d.dtype))) goto fail;
    /* Precomputed rotary tables some checkpoints carry are unused (sanitize). */
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return m;
fail:
  qwen3_destroy(m);
  return NULL;
}

static mx_array attention(const qwen3 *m, int64_t layer, mx_array x, lm_kv_cache *c) {
  const lm_dec_args *a = &m->d.a;
  const qwen3_layer *l = &m->L[layer];
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, lm_dec_heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
  SET(k, lm_dec_heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, lm_dec_heads_first(v, B, L, a->kv_heads, Dh));
  SET(q, mx_fast_rms_norm(q, l->q_norm, (float)a->eps)); /* per head, before rope */
  SET(k, mx_fast_rms_norm(k, l->k_norm, (float)a->eps));
  SET(q, lm_rope_apply(&m->rope, q, c));
  SET(k, lm_rope_apply(&m->rope, k, c));
  int64_t window = m->d.window ? m->d.window[layer] : 0;
  mx_array o = lm_attend(c, q, k, v, (float)(1.0 / sqrt((double)Dh)), window, NULL);
  mx_array_free(q);
  mx_array_free(k);
  mx_array_free(v);
  SET(o, lm_dec_heads_merge(o)); /* (B, L, Hq*Dh) */
  SET(o, lm_linear_apply(&l->o, o));
  return o;
}

static mx_array mlp(const qwen3_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->gate, x); /* (B, L, F) */
  mx_array u = lm_linear_apply(&l->up, x);
  mx_array h = lm_dec_swiglu(g, u);
  mx_array_free(g);
  mx_array_free(u);
  SET(h, lm_linear_apply(&l->down, h)); /* (B, L, D) */
  return h;
}

static mx_array qwen3_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const qwen3 *m = impl;
  const lm_dec_args *a = &m->d.a;
  if (lm_dec_check_call(&m->d, tokens, cache, "qwen3")) return NULL;
  mx_array h = lm_embedding_apply(&m->d.embed, tokens, m->d.dtype); /* (B, L, D) */
  for (int64_t i = 0; i < a->layers && h; i++) {
    const qwen3_layer *l = &m->L[i];
    mx_array x = mx_fast_rms_norm(h, l->in_norm, (float)a->eps);
    mx_array r = attention(m, i, x, cache ? &cache->layers[i] : NULL);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->post_norm, (float)a->eps);
    r = mlp(l, x);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
  }
  return lm_dec_logits(&m->d, h); /* (B, L, V) */
}

static int64_t qwen3_layers(const void *impl) { return ((const qwen3 *)impl)->d.a.layers; }
static int64_t qwen3_vocab(const void *impl) { return ((const qwen3 *)impl)->d.a.vocab; }
static mx_dtype qwen3_dtype(const void *impl) { return ((const qwen3 *)impl)->d.dtype; }

static uint64_t qwen3_weight_bytes(const void *impl) {
  const qwen3 *m = impl;
  uint64_t n = lm_dec_outer_bytes(&m->d);
  for (int64_t i = 0; i < m->d.a.layers; i++) {
    const qwen3_layer *l = &m->L[i];
    const lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
    for (int j = 0; j < 7; j++) n += lm_linear_nbytes(lin[j]);
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
    n += mx_array_nbytes(l->q_norm) + mx_array_nbytes(l->k_norm);
  }
  return n;
}

static void qwen3_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  lm_dec_layer_spec(&((const qwen3 *)impl)->d, layer, spec);
}

const lm_arch lm_arch_qwen3 = {
    .name = "qwen3",
    .create = qwen3_create,
    .destroy = qwen3_destroy,
    .forward = qwen3_forward,
    .num_layers = qwen3_layers,
    .vocab_size = qwen3_vocab,
    .dtype = qwen3_dtype,
    .weight_bytes = qwen3_weight_bytes,
    .layer_spec = qwen3_layer_spec,
};
