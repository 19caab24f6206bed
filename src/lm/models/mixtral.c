/* mixtral.c — Mixtral (8x7B, 8x22B), as mlx_lm/models/mixtral.py: Llama
 * attention and, in every layer, a sparse block of num_local_experts
 * SwiGLU experts of which num_experts_per_tok run per token.
 *
 * Router (MixtralSparseMoeBlock): the top k gate logits, then a softmax
 * over those k (precise): equal to transformers' softmax over all experts
 * renormalised over the top k.
 *
 * Experts: per expert block_sparse_moe.experts.<e>.{w1,w3,w2}.weight (gate,
 * up, down; possibly MLX-quantized per expert), stacked at load as mlx-lm's
 * sanitize, or stacked block_sparse_moe.switch_mlp.{gate,up,down}_proj.
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim,
 * E experts, k experts per token, V vocab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "../lm_internal.h"
#include "../moe.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

typedef struct mxl_args {
  int64_t hidden, layers, inter, heads, kv_heads, head_dim, vocab, experts, top_k;
  double eps;
  bool tied;
} mxl_args;

typedef struct mxl_layer {
  mx_array in_norm, post_norm;
  lm_linear q, k, v, o, router;
  lm_switch_glu experts;
} mxl_layer;

typedef struct mixtral {
  mxl_args a;
  mx_dtype dtype;
  lm_linear embed, head;
  mx_array norm;
  lm_rope rope;
  mxl_layer *L;
} mixtral;

#define WHAT "mixtral config"

static mx_status parse_args(const cJSON *c, mxl_args *a) {
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, WHAT)) ||
      (st = lm_cfg_int(c, "num_local_experts", 8, &a->experts, WHAT)) ||
      (st = lm_cfg_int(c, "num_experts_per_tok", 2, &a->top_k, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-5, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", false, &a->tied, WHAT)))
    return st;
  if (a->head_dim == 0) {
    if (a->hidden % a->heads)
      return set_error(MX_ERR_FORMAT, WHAT ": hidden_size %lld is not a multiple of "
                       "num_attention_heads %lld", (long long)a->hidden, (long long)a->heads);
    a->head_dim = a->hidden / a->heads;
  }
  if (a->kv_heads <= 0 || a->heads % a->kv_heads)
    return set_error(MX_ERR_FORMAT, WHAT ": num_attention_heads %lld is not a multiple of "
                     "num_key_value_heads %lld", (long long)a->heads, (long long)a->kv_heads);
  if (a->head_dim <= 0 || a->head_dim % 2 || a->head_dim > 4096)
    return set_error(MX_ERR_FORMAT, WHAT ": head_dim %lld must be even and positive",
                     (long long)a->head_dim);
  if (a->experts <= 0 || a->experts > 1 << 20)
    return set_error(MX_ERR_FORMAT, WHAT ": num_local_experts %lld is out of range",
                     (long long)a->experts);
  if (a->top_k <= 0 || a->top_k > a->experts)
    return set_error(MX_ERR_FORMAT, WHAT ": num_experts_per_tok %lld must be in 1..%lld "
                     "(num_local_experts)", (long long)a->top_k, (long long)a->experts);
  return MX_OK;
}

static mx_array load_norm(lm_weights *w, const char *name, int64_t dim, mx_dtype dt) {
  mx_array a = lm_weights_take(w, name);
  if (!a) return NULL;
  if (mx_array_ndim(a) != 1 || mx_array_dim(a, 0) != dim) {
    set_error(MX_ERR_FORMAT, "load %s: norm \"%s\" must have shape (%lld)", w->path, name,
              (long long)dim);
    mx_array_free(a);
    return NULL;
  }
  if (mx_array_dtype(a) != dt) {
    mx_array c = lm_own(mx_astype(a, dt));
    mx_array_free(a);
    a = c;
  }
  return a;
}

static void mixtral_destroy(void *impl) {
  mixtral *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->a.layers; i++) {
      mxl_layer *l = &m->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      lm_linear *lin[5] = {&l->q, &l->k, &l->v, &l->o, &l->router};
      for (int j = 0; j < 5; j++) lm_linear_free(lin[j]);
      lm_switch_glu_free(&l->experts);
    }
  free(m->L);
  lm_linear_free(&m->embed);
  lm_linear_free(&m->head);
  mx_array_free(m->norm);
  lm_rope_free(&m->rope);
  free(m);
}

static void *mixtral_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  mixtral *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "mixtral: out of memory");
    return NULL;
  }
  mxl_args *a = &m->a;
  if (parse_args(cfg, a) || lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT)) goto fail;
  /* Mixtral's default base (mlx-lm and transformers) when the config has none. */
  if (!cJSON_GetObjectItemCaseSensitive(cfg, "rope_theta") &&
      !cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters") && m->rope.kind == LM_ROPE_DEFAULT)
    m->rope.base = 1e6f;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "mixtral: out of memory");
    goto fail;
  }
  if (lm_linear_load(w, q, "model.embed_tokens", false, a->vocab, a->hidden, &m->embed))
    goto fail;
  m->dtype = lm_linear_dtype(&m->embed);
  if (a->tied) {
    lm_weights_ignore(w, "lm_head.weight");
  } else if (lm_linear_load(w, q, "lm_head", false, a->vocab, a->hidden, &m->head)) {
    goto fail;
  }
  if (!(m->norm = load_norm(w, "model.norm.weight", a->hidden, m->dtype))) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim;
  for (int64_t i = 0; i < a->layers; i++) {
    mxl_layer *l = &m->L[i];
    char p[160], n[400], n2[400];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, o, in)                                         \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, false, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", D, a->heads * Dh)
    LIN(router, "block_sparse_moe.gate", a->experts, D)
#undef LIN
    static const char *const names[3] = {"w1", "w3", "w2"}; /* gate, up, down */
    snprintf(n, sizeof n, "%s.block_sparse_moe.switch_mlp", p);
    snprintf(n2, sizeof n2, "%s.block_sparse_moe.experts", p);
    if (lm_switch_glu_load(w, q, n, n2, names, a->experts, D, a->inter, &l->experts)) goto fail;
    snprintf(n, sizeof n, "%s.input_layernorm.weight", p);
    if (!(l->in_norm = load_norm(w, n, D, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", p);
    if (!(l->post_norm = load_norm(w, n, D, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return m;
fail:
  mixtral_destroy(m);
  return NULL;
}

#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
  } while (0)

/* x (B, L, H*Dh) -> (B, H, L, Dh) */
static mx_array heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh) {
  int64_t s[4] = {B, L, H, Dh};
  int perm[4] = {0, 2, 1, 3};
  mx_array r = mx_reshape(x, s, 4);
  mx_array t = mx_transpose(r, perm, 4);
  mx_array_free(r);
  return t;
}

static mx_array attention(const mixtral *m, const mxl_layer *l, mx_array x, lm_kv_cache *c) {
  const mxl_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array q = lm_linear_apply(&l->q, x);
  mx_array k = lm_linear_apply(&l->k, x);
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh));
  SET(k, heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, heads_first(v, B, L, a->kv_heads, Dh));
  SET(q, lm_rope_apply(&m->rope, q, c));
  SET(k, lm_rope_apply(&m->rope, k, c));
  mx_array o = lm_attend(c, q, k, v, (float)(1.0 / sqrt((double)Dh)), 0, NULL);
  mx_array_free(q);
  mx_array_free(k);
  mx_array_free(v);
  int perm[4] = {0, 2, 1, 3};
  int64_t s[3] = {B, L, a->heads * Dh};
  SET(o, mx_transpose(o, perm, 4));
  SET(o, mx_reshape(o, s, 3));
  SET(o, lm_linear_apply(&l->o, o));
  return o;
}

static mx_array sparse_moe(const mixtral *m, const mxl_layer *l, mx_array x) {
  mx_array logits = lm_linear_apply(&l->router, x); /* (B, L, E) */
  mx_array inds = NULL, scores = NULL;
  mx_status st = lm_moe_route(logits, m->a.top_k, false, false, &inds, &scores);
  mx_array_free(logits);
  if (st) return NULL;
  mx_array y = lm_switch_glu_apply(&l->experts, x, inds); /* (B, L, k, D) */
  SET(y, lm_moe_combine(y, scores));
  mx_array_free(inds);
  mx_array_free(scores);
  return y;
}

static mx_array mixtral_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const mixtral *m = impl;
  const mxl_args *a = &m->a;
  if (!tokens) return NULL;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens))) {
    set_error(MX_ERR_SHAPE, "mixtral: tokens must be an integer array (B, L)");
    return NULL;
  }
  if (cache && cache->nlayers != a->layers) {
    set_error(MX_ERR_INVALID_ARG, "mixtral: cache has %lld layers, the model %lld",
              (long long)cache->nlayers, (long long)a->layers);
    return NULL;
  }
  float eps = (float)a->eps;
  mx_array h = lm_embedding_apply(&m->embed, tokens, m->dtype);
  for (int64_t i = 0; i < a->layers && h; i++) {
    const mxl_layer *l = &m->L[i];
    mx_array x = mx_fast_rms_norm(h, l->in_norm, eps);
    mx_array r = attention(m, l, x, cache ? &cache->layers[i] : NULL);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->post_norm, eps);
    r = sparse_moe(m, l, x);
    mx_array_free(x);
    SET(h, r ? mx_add(h, r) : NULL);
    mx_array_free(r);
  }
  SET(h, mx_fast_rms_norm(h, m->norm, eps));
  SET(h, lm_linear_apply(a->tied ? &m->embed : &m->head, h));
  return h;
}

static int64_t mixtral_layers(const void *impl) { return ((const mixtral *)impl)->a.layers; }
static int64_t mixtral_vocab(const void *impl) { return ((const mixtral *)impl)->a.vocab; }
static mx_dtype mixtral_dtype(const void *impl) { return ((const mixtral *)impl)->dtype; }

/* Bytes a decode step reads: k of E experts per layer. */
static uint64_t mixtral_weight_bytes(const void *impl) {
  const mixtral *m = impl;
  uint64_t n = lm_linear_nbytes(m->a.tied ? &m->embed : &m->head) + mx_array_nbytes(m->norm);
  for (int64_t i = 0; i < m->a.layers; i++) {
    const mxl_layer *l = &m->L[i];
    const lm_linear *lin[5] = {&l->q, &l->k, &l->v, &l->o, &l->router};
    for (int j = 0; j < 5; j++) n += lm_linear_nbytes(lin[j]);
    n += lm_switch_glu_nbytes(&l->experts) / (uint64_t)m->a.experts * (uint64_t)m->a.top_k;
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
  }
  return n;
}

/* Not yet in lm_internal.h's list (the registry owner adds it there). */
const lm_arch lm_arch_mixtral = {
    .name = "mixtral",
    .create = mixtral_create,
    .destroy = mixtral_destroy,
    .forward = mixtral_forward,
    .num_layers = mixtral_layers,
    .vocab_size = mixtral_vocab,
    .dtype = mixtral_dtype,
    .weight_bytes = mixtral_weight_bytes,
};
