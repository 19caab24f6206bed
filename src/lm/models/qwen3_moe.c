/* qwen3_moe.c — Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B), as
 * mlx_lm/models/qwen3_moe.py: Qwen3 attention (per-head RMS norms on q and
 * k before RoPE) and, in sparse layers, a router choosing
 * num_experts_per_tok of num_experts SwiGLU experts per token.
 *
 * Router: softmax over the experts (mlx-lm's precise softmax, f32 inside),
 * the top k kept, renormalised to sum 1 when norm_topk_prob; the output is
 * the score-weighted sum of the chosen experts. Layer i is sparse unless it
 * is in mlp_only_layers or (i + 1) % decoder_sparse_step != 0; dense layers
 * use a plain SwiGLU MLP of intermediate_size.
 *
 * Experts come as per-expert tensors (Hugging Face:
 * mlp.experts.<e>.{gate,up,down}_proj.weight, stacked at load as mlx-lm's
 * sanitize) or stacked (MLX: mlp.switch_mlp.{gate,up,down}_proj.weight
 * (E, out, in), possibly quantized).
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

typedef struct qm_args {
  int64_t hidden, layers, inter, moe_inter, heads, kv_heads, head_dim, vocab;
  int64_t experts, top_k, sparse_step;
  double eps;
  bool tied, norm_topk, attn_bias;
} qm_args;

typedef struct qm_layer {
  mx_array in_norm, post_norm, q_norm, k_norm;
  lm_linear q, k, v, o;
  bool sparse;
  lm_linear router;           /* sparse: (E, D) */
  lm_switch_glu experts;      /* sparse */
  lm_linear gate, up, down;   /* dense */
} qm_layer;

typedef struct qwen3_moe {
  qm_args a;
  mx_dtype dtype;
  lm_linear embed, head;
  mx_array norm;
  lm_rope rope;
  qm_layer *L;
} qwen3_moe;

#define WHAT "qwen3_moe config"

/* Whether layer i has experts: mlx-lm's rule. */
static mx_status layer_is_sparse(const cJSON *c, const qm_args *a, int64_t i, bool *sparse) {
  const cJSON *only = cJSON_GetObjectItemCaseSensitive(c, "mlp_only_layers"), *e;
  *sparse = a->experts > 0 && (i + 1) % a->sparse_step == 0;
  if (only && !cJSON_IsNull(only) && !cJSON_IsArray(only))
    return set_error(MX_ERR_FORMAT, WHAT ": mlp_only_layers must be a list of layer indices");
  cJSON_ArrayForEach(e, only) {
    if (!cJSON_IsNumber(e))
      return set_error(MX_ERR_FORMAT, WHAT ": mlp_only_layers must be a list of layer indices");
    if ((int64_t)e->valuedouble == i) *sparse = false;
  }
  return MX_OK;
}

static mx_status parse_args(const cJSON *c, qm_args *a) {
  mx_status st;
  int64_t local;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "intermediate_size", 0, &a->inter, WHAT)) ||
      (st = lm_cfg_int(c, "moe_intermediate_size", 0, &a->moe_inter, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, WHAT)) ||
      /* transformers v5 names the expert count num_local_experts */
      (st = lm_cfg_int(c, "num_local_experts", 0, &local, WHAT)) ||
      (st = lm_cfg_int(c, "num_experts", local, &a->experts, WHAT)) ||
      (st = lm_cfg_int(c, "num_experts_per_tok", 0, &a->top_k, WHAT)) ||
      (st = lm_cfg_int(c, "decoder_sparse_step", 1, &a->sparse_step, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", false, &a->tied, WHAT)) ||
      (st = lm_cfg_bool(c, "norm_topk_prob", false, &a->norm_topk, WHAT)) ||
      (st = lm_cfg_bool(c, "attention_bias", false, &a->attn_bias, WHAT)))
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
  if (a->experts < 0 || a->experts > 1 << 20)
    return set_error(MX_ERR_FORMAT, WHAT ": num_experts %lld is out of range",
                     (long long)a->experts);
  if (a->sparse_step <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": decoder_sparse_step %lld must be positive",
                     (long long)a->sparse_step);
  if (a->experts > 0) {
    if (a->top_k <= 0 || a->top_k > a->experts)
      return set_error(MX_ERR_FORMAT, WHAT ": num_experts_per_tok %lld must be in 1..%lld "
                       "(num_experts)", (long long)a->top_k, (long long)a->experts);
    if (a->moe_inter <= 0)
      return set_error(MX_ERR_FORMAT, WHAT ": moe_intermediate_size must be positive");
  }
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

static void qm_destroy(void *impl) {
  qwen3_moe *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->a.layers; i++) {
      qm_layer *l = &m->L[i];
      mx_array n[4] = {l->in_norm, l->post_norm, l->q_norm, l->k_norm};
      for (int j = 0; j < 4; j++) mx_array_free(n[j]);
      lm_linear *lin[8] = {&l->q, &l->k, &l->v, &l->o, &l->router, &l->gate, &l->up, &l->down};
      for (int j = 0; j < 8; j++) lm_linear_free(lin[j]);
      lm_switch_glu_free(&l->experts);
    }
  free(m->L);
  lm_linear_free(&m->embed);
  lm_linear_free(&m->head);
  mx_array_free(m->norm);
  lm_rope_free(&m->rope);
  free(m);
}

static void *qm_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  qwen3_moe *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "qwen3_moe: out of memory");
    return NULL;
  }
  qm_args *a = &m->a;
  if (parse_args(cfg, a) || lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT)) goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "qwen3_moe: out of memory");
    goto fail;
  }
  for (int64_t i = 0; i < a->layers; i++)
    if (layer_is_sparse(cfg, a, i, &m->L[i].sparse)) goto fail;
  for (int64_t i = 0; i < a->layers; i++)
    if (!m->L[i].sparse && a->inter <= 0) {
      set_error(MX_ERR_FORMAT, WHAT ": layer %lld is dense but intermediate_size is missing",
                (long long)i);
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
    qm_layer *l = &m->L[i];
    char p[160], n[400], n2[400];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", a->attn_bias, a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", a->attn_bias, a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", a->attn_bias, a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", a->attn_bias, D, a->heads * Dh)
    if (l->sparse) {
      LIN(router, "mlp.gate", false, a->experts, D)
      snprintf(n, sizeof n, "%s.mlp.switch_mlp", p);
      snprintf(n2, sizeof n2, "%s.mlp.experts", p);
      static const char *const names[3] = {"gate_proj", "up_proj", "down_proj"};
      if (lm_switch_glu_load(w, q, n, n2, names, a->experts, D, a->moe_inter, &l->experts))
        goto fail;
    } else {
      LIN(gate, "mlp.gate_proj", false, a->inter, D)
      LIN(up, "mlp.up_proj", false, a->inter, D)
      LIN(down, "mlp.down_proj", false, D, a->inter)
    }
#undef LIN
    snprintf(n, sizeof n, "%s.input_layernorm.weight", p);
    if (!(l->in_norm = load_norm(w, n, D, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", p);
    if (!(l->post_norm = load_norm(w, n, D, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.q_norm.weight", p);
    if (!(l->q_norm = load_norm(w, n, Dh, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.k_norm.weight", p);
    if (!(l->k_norm = load_norm(w, n, Dh, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return m;
fail:
  qm_destroy(m);
  return NULL;
}

#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
  } while (0)

/* x (B, L, H*Dh) -> (B, H, L, Dh), RMS-normalised per head when norm. */
static mx_array heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh,
                            mx_array norm, float eps) {
  int64_t s[4] = {B, L, H, Dh};
  int perm[4] = {0, 2, 1, 3};
  mx_array r = mx_reshape(x, s, 4);
  if (norm) SET(r, mx_fast_rms_norm(r, norm, eps));
  mx_array t = mx_transpose(r, perm, 4);
  mx_array_free(r);
  return t;
}

static mx_array attention(const qwen3_moe *m, const qm_layer *l, mx_array x, lm_kv_cache *c) {
  const qm_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  float eps = (float)a->eps;
  mx_array q = lm_linear_apply(&l->q, x);
  mx_array k = lm_linear_apply(&l->k, x);
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh, l->q_norm, eps)); /* (B, Hq, L, Dh) */
  SET(k, heads_first(k, B, L, a->kv_heads, Dh, l->k_norm, eps));
  SET(v, heads_first(v, B, L, a->kv_heads, Dh, NULL, eps));
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

static mx_array dense_mlp(const qm_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->gate, x);
  mx_array u = lm_linear_apply(&l->up, x);
  mx_array s = mx_sigmoid(g);
  SET(g, mx_multiply(g, s));
  SET(g, mx_multiply(g, u));
  mx_array_free(s);
  mx_array_free(u);
  SET(g, lm_linear_apply(&l->down, g));
  return g;
}

/* Qwen3MoeSparseMoeBlock: x (B, L, D) -> (B, L, D). */
static mx_array sparse_moe(const qwen3_moe *m, const qm_layer *l, mx_array x) {
  mx_array logits = lm_linear_apply(&l->router, x); /* (B, L, E) */
  mx_array inds = NULL, scores = NULL;
  mx_status st = lm_moe_route(logits, m->a.top_k, m->a.norm_topk, true, &inds, &scores);
  mx_array_free(logits);
  if (st) return NULL;
  mx_array y = lm_switch_glu_apply(&l->experts, x, inds); /* (B, L, k, D) */
  SET(y, lm_moe_combine(y, scores));
  mx_array_free(inds);
  mx_array_free(scores);
  return y;
}

static mx_array qm_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const qwen3_moe *m = impl;
  const qm_args *a = &m->a;
  if (!tokens) return NULL;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens))) {
    set_error(MX_ERR_SHAPE, "qwen3_moe: tokens must be an integer array (B, L)");
    return NULL;
  }
  if (cache && cache->nlayers != a->layers) {
    set_error(MX_ERR_INVALID_ARG, "qwen3_moe: cache has %lld layers, the model %lld",
              (long long)cache->nlayers, (long long)a->layers);
    return NULL;
  }
  float eps = (float)a->eps;
  mx_array h = lm_embedding_apply(&m->embed, tokens, m->dtype);
  for (int64_t i = 0; i < a->layers && h; i++) {
    const qm_layer *l = &m->L[i];
    mx_array x = mx_fast_rms_norm(h, l->in_norm, eps);
    mx_array r = attention(m, l, x, cache ? &cache->layers[i] : NULL);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->post_norm, eps);
    r = l->sparse ? sparse_moe(m, l, x) : dense_mlp(l, x);
    mx_array_free(x);
    SET(h, r ? mx_add(h, r) : NULL);
    mx_array_free(r);
  }
  SET(h, mx_fast_rms_norm(h, m->norm, eps));
  SET(h, lm_linear_apply(a->tied ? &m->embed : &m->head, h));
  return h;
}

static int64_t qm_layers(const void *impl) { return ((const qwen3_moe *)impl)->a.layers; }
static int64_t qm_vocab(const void *impl) { return ((const qwen3_moe *)impl)->a.vocab; }
static mx_dtype qm_dtype(const void *impl) { return ((const qwen3_moe *)impl)->dtype; }

/* Bytes a decode step reads: only k of E experts per sparse layer. */
static uint64_t qm_weight_bytes(const void *impl) {
  const qwen3_moe *m = impl;
  uint64_t n = lm_linear_nbytes(m->a.tied ? &m->embed : &m->head) + mx_array_nbytes(m->norm);
  for (int64_t i = 0; i < m->a.layers; i++) {
    const qm_layer *l = &m->L[i];
    const lm_linear *lin[8] = {&l->q, &l->k, &l->v, &l->o, &l->router, &l->gate, &l->up, &l->down};
    for (int j = 0; j < 8; j++) n += lm_linear_nbytes(lin[j]);
    if (l->sparse)
      n += lm_switch_glu_nbytes(&l->experts) / (uint64_t)m->a.experts * (uint64_t)m->a.top_k;
    mx_array nn[4] = {l->in_norm, l->post_norm, l->q_norm, l->k_norm};
    for (int j = 0; j < 4; j++) n += mx_array_nbytes(nn[j]);
  }
  return n;
}

const lm_arch lm_arch_qwen3_moe = {
    .name = "qwen3_moe",
    .create = qm_create,
    .destroy = qm_destroy,
    .forward = qm_forward,
    .num_layers = qm_layers,
    .vocab_size = qm_vocab,
    .dtype = qm_dtype,
    .weight_bytes = qm_weight_bytes,
};
