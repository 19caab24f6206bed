/* phi3.c — Phi-3 / Phi-3.5 / Phi-4-mini, as mlx_lm/models/phi3.py: Llama's
 * blocks with the q, k, v projections fused into qkv_proj and gate/up into
 * gate_up_proj (split after the matmul), no biases, an untied head unless
 * tie_word_embeddings, and the rope of the config (longrope / su for the
 * 128k models, partial_rotary_factor for Phi-4-mini: rope.c).
 *
 * sliding_window (Phi-3-mini-4k: 2047) applies to every layer, as
 * transformers' Phi3 masks; mlx-lm ignores it.
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

typedef struct phi3_layer {
  mx_array in_norm, post_norm;          /* (D) */
  lm_linear qkv, o, gate_up, down; /* qkv (Hq*Dh + 2*Hkv*Dh, D), gate_up (2F, D) */
} phi3_layer;

typedef struct phi3 {
  lm_dec d;
  lm_rope rope;
  phi3_layer *L;
} phi3;

#define WHAT "phi3 config"

static mx_status parse_windows(lm_dec *d, const cJSON *cfg) {
  int64_t window;
  mx_status st = lm_cfg_int(cfg, "sliding_window", 0, &window, WHAT);
  if (st) return st;
  if (window < 0)
    return set_error(MX_ERR_FORMAT, WHAT ": sliding_window %lld must be positive",
                     (long long)window);
  return lm_dec_windows(d, cfg, window, 0, WHAT);
}

static void phi3_destroy(void *impl) {
  phi3 *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->d.a.layers; i++) {
      phi3_layer *l = &m->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      lm_linear *lin[4] = {&l->qkv, &l->o, &l->gate_up, &l->down};
      for (int j = 0; j < 4; j++) lm_linear_free(lin[j]);
    }
  free(m->L);
  lm_dec_free(&m->d);
  lm_rope_free(&m->rope);
  free(m);
}

static void *phi3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  phi3 *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "phi3: out of memory");
    return NULL;
  }
  lm_dec_args *a = &m->d.a;
  /* mlx-lm: head_dim = hidden_size // num_attention_heads; transformers
   * reads an explicit head_dim first. */
  if (lm_dec_parse_args(cfg, a, false, "head_dim", WHAT) || parse_windows(&m->d, cfg) ||
      lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT))
    goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "phi3: out of memory");
    goto fail;
  }
  if (lm_dec_load_outer(&m->d, w, q)) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim, F = a->inter;
  for (int64_t i = 0; i < a->layers; i++) {
    phi3_layer *l = &m->L[i];
    char p[160], n[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
    LIN(qkv, "self_attn.qkv_proj", false, (a->heads + 2 * a->kv_heads) * Dh, D)
    LIN(o, "self_attn.o_proj", false, D, a->heads * Dh)
    LIN(gate_up, "mlp.gate_up_proj", false, 2 * F, D)
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
  phi3_destroy(m);
  return NULL;
}

static mx_array attention(const phi3 *m, int64_t layer, mx_array x, lm_kv_cache *c) {
  const lm_dec_args *a = &m->d.a;
  const phi3_layer *l = &m->L[layer];
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array qkv = lm_linear_apply(&l->qkv, x); /* (B, L, (Hq + 2 Hkv) Dh) */
  mx_array parts[3] = {NULL, NULL, NULL};
  int64_t at[2] = {a->heads * Dh, (a->heads + a->kv_heads) * Dh};
  if (!qkv || mx_split_indices(qkv, at, 2, -1, parts)) {
    mx_array_free(qkv);
    return NULL;
  }
  mx_array_free(qkv);
  mx_array q = parts[0], k = parts[1], v = parts[2]; /* (B, L, Hq*Dh), (B, L, Hkv*Dh) x2 */
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

static mx_array mlp(const phi3_layer *l, mx_array x) {
  mx_array gu = lm_linear_apply(&l->gate_up, x); /* (B, L, 2F) */
  mx_array p[2] = {NULL, NULL};
  if (!gu || mx_split_sections(gu, 2, -1, p)) {
    mx_array_free(gu);
    return NULL;
  }
  mx_array_free(gu);
  mx_array h = lm_dec_swiglu(p[0], p[1]); /* gate, up: (B, L, F) */
  mx_array_free(p[0]);
  mx_array_free(p[1]);
  SET(h, lm_linear_apply(&l->down, h)); /* (B, L, D) */
  return h;
}

static mx_array phi3_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const phi3 *m = impl;
  const lm_dec_args *a = &m->d.a;
  if (lm_dec_check_call(&m->d, tokens, cache, "phi3")) return NULL;
  mx_array h = lm_embedding_apply(&m->d.embed, tokens, m->d.dtype); /* (B, L, D) */
  for (int64_t i = 0; i < a->layers && h; i++) {
    const phi3_layer *l = &m->L[i];
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

static int64_t phi3_layers(const void *impl) { return ((const phi3 *)impl)->d.a.layers; }
static int64_t phi3_vocab(const void *impl) { return ((const phi3 *)impl)->d.a.vocab; }
static mx_dtype phi3_dtype(const void *impl) { return ((const phi3 *)impl)->d.dtype; }

static uint64_t phi3_weight_bytes(const void *impl) {
  const phi3 *m = impl;
  uint64_t n = lm_dec_outer_bytes(&m->d);
  for (int64_t i = 0; i < m->d.a.layers; i++) {
    const phi3_layer *l = &m->L[i];
    const lm_linear *lin[4] = {&l->qkv, &l->o, &l->gate_up, &l->down};
    for (int j = 0; j < 4; j++) n += lm_linear_nbytes(lin[j]);
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
  }
  return n;
}

static void phi3_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  lm_dec_layer_spec(&((const phi3 *)impl)->d, layer, spec);
}

const lm_arch lm_arch_phi3 = {
    .name = "phi3",
    .create = phi3_create,
    .destroy = phi3_destroy,
    .forward = phi3_forward,
    .num_layers = phi3_layers,
    .vocab_size = phi3_vocab,
    .dtype = phi3_dtype,
    .weight_bytes = phi3_weight_bytes,
    .layer_spec = phi3_layer_spec,
};
