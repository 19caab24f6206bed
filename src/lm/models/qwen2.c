/* qwen2.c — Qwen2 / Qwen2.5, as mlx_lm/models/qwen2.py: Llama's blocks with
 * biases on the q, k and v projections (none on o); the output head is
 * tied unless tie_word_embeddings is false (mlx-lm's default is tied).
 *
 * Sliding windows as transformers' Qwen2Config: only when
 * use_sliding_window is true, on the layers "layer_types" marks
 * sliding_attention (without it, layers >= max_window_layers); released
 * Qwen2.5 checkpoints have use_sliding_window false and use none.
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

typedef struct qwen2_layer {
  mx_array in_norm, post_norm;          /* (D) */
  lm_linear q, k, v, o, gate, up, down; /* q, k, v with bias */
} qwen2_layer;

typedef struct qwen2 {
  lm_dec d;
  lm_rope rope;
  qwen2_layer *L;
} qwen2;

#define WHAT "qwen2 config"

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

static void qwen2_destroy(void *impl) {
  qwen2 *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->d.a.layers; i++) {
      qwen2_layer *l = &m->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
      for (int j = 0; j < 7; j++) lm_linear_free(lin[j]);
    }
  free(m->L);
  lm_dec_free(&m->d);
  lm_rope_free(&m->rope);
  free(m);
}

static void *qwen2_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  qwen2 *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "qwen2: out of memory");
    return NULL;
  }
  lm_dec_args *a = &m->d.a;
  /* mlx-lm: head_dim = hidden_size // num_attention_heads; transformers
   * reads an explicit head_dim first. */
  if (lm_dec_parse_args(cfg, a, true, "head_dim", WHAT) || parse_windows(&m->d, cfg) ||
      lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT))
    goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "qwen2: out of memory");
    goto fail;
  }
  if (lm_dec_load_outer(&m->d, w, q)) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim, F = a->inter;
  for (int64_t i = 0; i < a->layers; i++) {
    qwen2_layer *l = &m->L[i];
    char p[160], n[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", true, a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", true, a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", true, a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", false, D, a->heads * Dh)
    LIN(gate, "mlp.gate_proj", false, F, D)
    LIN(up, "mlp.up_proj", false, F, D)
    LIN(down, "mlp.down_proj", false, D, F)
#undef LIN
    snprintf(n, sizeof n, "%s.input_layernorm.weight", p);
    if (!(l->in_norm = lm_dec_load_norm(w, n, D, m->d.dtype))) goto fail;
    snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", p);
    if (!(l->post_norm = lm_dec_load_norm(w, n, D, m->d.dtype))) goto fail;
    /* Precomputed rotary tables some checkpoints carry are unused (sanitize). */
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return m;
fail:
  qwen2_destroy(m);
  return NULL;
}

static mx_array attention(const qwen2 *m, int64_t layer, mx_array x, lm_kv_cache *c) {
  const lm_dec_args *a = &m->d.a;
  const qwen2_layer *l = &m->L[layer];
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, lm_dec_heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
  SET(k, lm_dec_heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, lm_dec_heads_first(v, B, L, a->kv_heads, Dh));
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

static mx_array mlp(const qwen2_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->gate, x); /* (B, L, F) */
  mx_array u = lm_linear_apply(&l->up, x);
  mx_array h = lm_dec_swiglu(g, u);
  mx_array_free(g);
  mx_array_free(u);
  SET(h, lm_linear_apply(&l->down, h)); /* (B, L, D) */
  return h;
}

static mx_array qwen2_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const qwen2 *m = impl;
  const lm_dec_args *a = &m->d.a;
  if (lm_dec_check_call(&m->d, tokens, cache, "qwen2")) return NULL;
  mx_array h = lm_embedding_apply(&m->d.embed, tokens, m->d.dtype); /* (B, L, D) */
  for (int64_t i = 0; i < a->layers && h; i++) {
    const qwen2_layer *l = &m->L[i];
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

static int64_t qwen2_layers(const void *impl) { return ((const qwen2 *)impl)->d.a.layers; }
static int64_t qwen2_vocab(const void *impl) { return ((const qwen2 *)impl)->d.a.vocab; }
static mx_dtype qwen2_dtype(const void *impl) { return ((const qwen2 *)impl)->d.dtype; }

static uint64_t qwen2_weight_bytes(const void *impl) {
  const qwen2 *m = impl;
  uint64_t n = lm_dec_outer_bytes(&m->d);
  for (int64_t i = 0; i < m->d.a.layers; i++) {
    const qwen2_layer *l = &m->L[i];
    const lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
    for (int j = 0; j < 7; j++) n += lm_linear_nbytes(lin[j]);
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
  }
  return n;
}

static void qwen2_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  lm_dec_layer_spec(&((const qwen2 *)impl)->d, layer, spec);
}

const lm_arch lm_arch_qwen2 = {
    .name = "qwen2",
    .create = qwen2_create,
    .destroy = qwen2_destroy,
    .forward = qwen2_forward,
    .num_layers = qwen2_layers,
    .vocab_size = qwen2_vocab,
    .dtype = qwen2_dtype,
    .weight_bytes = qwen2_weight_bytes,
    .layer_spec = qwen2_layer_spec,
};
