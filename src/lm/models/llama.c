/* llama.c — Llama 2 / 3.x (and Mistral, SmolLM, TinyLlama, which share it),
 * as mlx_lm/models/llama.py: pre-norm blocks of grouped-query attention with
 * RoPE and a SwiGLU MLP; the output head is tied to the embedding unless
 * tie_word_embeddings is false (mlx-lm's default is tied).
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim,
 * F intermediate, V vocab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "../lm_internal.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

typedef struct llama_args {
  int64_t hidden, layers, inter, heads, kv_heads, head_dim, vocab;
  double eps;
  bool tied, attn_bias, mlp_bias;
} llama_args;

typedef struct llama_layer {
  mx_array in_norm, post_norm;          /* (D) */
  lm_linear q, k, v, o, gate, up, down; /* q (Hq*Dh, D) ... down (D, F) */
} llama_layer;

typedef struct llama {
  llama_args a;
  mx_dtype dtype;
  lm_linear embed, head; /* head unused when tied */
  mx_array norm;         /* (D) */
  lm_rope rope;
  llama_layer *L;
} llama;

#define WHAT "llama config"

static mx_status parse_args(const cJSON *c, llama_args *a) {
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", true, &a->tied, WHAT)) ||
      (st = lm_cfg_bool(c, "attention_bias", false, &a->attn_bias, WHAT)) ||
      (st = lm_cfg_bool(c, "mlp_bias", false, &a->mlp_bias, WHAT)))
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
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types"), *e;
  cJSON_ArrayForEach(e, lt) {
    if (cJSON_IsString(e) && strcmp(e->valuestring, "full_attention") != 0)
      return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" is not supported yet",
                       e->valuestring);
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
    /* GGUF keeps norms in f32 next to f16 matrices; compute in one dtype. */
    mx_array c = lm_own(mx_astype(a, dt));
    mx_array_free(a);
    a = c;
  }
  return a;
}

static void llama_destroy(void *impl) {
  llama *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->a.layers; i++) {
      llama_layer *l = &m->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
      for (int j = 0; j < 7; j++) lm_linear_free(lin[j]);
    }
  free(m->L);
  lm_linear_free(&m->embed);
  lm_linear_free(&m->head);
  mx_array_free(m->norm);
  lm_rope_free(&m->rope);
  free(m);
}

static void *llama_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  llama *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "llama: out of memory");
    return NULL;
  }
  llama_args *a = &m->a;
  if (parse_args(cfg, a) || lm_rope_init(&m->rope, cfg, a->head_dim, NULL, WHAT)) goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "llama: out of memory");
    goto fail;
  }
  if (lm_linear_load(w, q, "model.embed_tokens", false, a->vocab, a->hidden, &m->embed))
    goto fail;
  m->dtype = lm_linear_dtype(&m->embed);
  if (a->tied) {
    lm_weights_ignore(w, "lm_head.weight"); /* mlx-lm's sanitize drops it */
  } else if (lm_linear_load(w, q, "lm_head", false, a->vocab, a->hidden, &m->head)) {
    goto fail;
  }
  if (!(m->norm = load_norm(w, "model.norm.weight", a->hidden, m->dtype))) goto fail;
  /* GGUF Llama 3 files carry the llama3 rope as per-frequency divisors. */
  if (lm_weights_has(w, "rope_freqs.weight")) {
    mx_array rf = lm_weights_take(w, "rope_freqs.weight");
    int64_t n = a->head_dim / 2;
    if (!rf || mx_array_ndim(rf) != 1 || mx_array_dim(rf, 0) != n) {
      if (rf) set_error(MX_ERR_FORMAT, "load %s: rope_freqs must have %lld entries", w->path,
                        (long long)n);
      mx_array_free(rf);
      goto fail;
    }
    mx_array base = mx_arange(0, (double)a->head_dim, 2, MX_FLOAT32);
    mx_array d = mx_array_scalar((double)a->head_dim, MX_FLOAT32);
    mx_array th = mx_array_scalar(m->rope.base, MX_FLOAT32);
    mx_array ex = mx_divide(base, d);
    mx_array p = mx_power(th, ex);
    mx_array rf32 = mx_astype(rf, MX_FLOAT32);
    mx_array_free(m->rope.freqs);
    m->rope.freqs = lm_own(mx_multiply(p, rf32));
    m->rope.kind = LM_ROPE_FREQS;
    mx_array t[7] = {rf, base, d, th, ex, p, rf32};
    for (int i = 0; i < 7; i++) mx_array_free(t[i]);
    if (!m->rope.freqs || mx_eval1(m->rope.freqs)) goto fail;
  }
  int64_t D = a->hidden, Dh = a->head_dim, F = a->inter;
  for (int64_t i = 0; i < a->layers; i++) {
    llama_layer *l = &m->L[i];
    char p[160], n[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", a->attn_bias, a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", a->attn_bias, a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", a->attn_bias, a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", a->attn_bias, D, a->heads * Dh)
    LIN(gate, "mlp.gate_proj", a->mlp_bias, F, D)
    LIN(up, "mlp.up_proj", a->mlp_bias, F, D)
    LIN(down, "mlp.down_proj", a->mlp_bias, D, F)
#undef LIN
    snprintf(n, sizeof n, "%s.input_layernorm.weight", p);
    if (!(l->in_norm = load_norm(w, n, D, m->dtype))) goto fail;
    snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", p);
    if (!(l->post_norm = load_norm(w, n, D, m->dtype))) goto fail;
    /* Precomputed rotary tables some checkpoints carry are unused (sanitize). */
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return m;
fail:
  llama_destroy(m);
  return NULL;
}

/* Replaces `var` by `expr` (which may use var), freeing the old value. */
#define SET(var, expr)      \
  do {                      \
    mx_array set_t_ = (expr); \
    mx_array_free(var);     \
    var = set_t_;           \
  } while (0)

/* x (B, L, Hx*Dh) -> (B, Hx, L, Dh) */
static mx_array heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh) {
  int64_t s[4] = {B, L, H, Dh};
  int perm[4] = {0, 2, 1, 3};
  mx_array r = mx_reshape(x, s, 4);
  mx_array t = mx_transpose(r, perm, 4);
  mx_array_free(r);
  return t;
}

static mx_array attention(const llama *m, const llama_layer *l, mx_array x, lm_kv_cache *c) {
  const llama_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
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
  SET(o, mx_reshape(o, s, 3)); /* (B, L, Hq*Dh) */
  SET(o, lm_linear_apply(&l->o, o));
  return o;
}

static mx_array mlp(const llama_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->gate, x); /* (B, L, F) */
  mx_array u = lm_linear_apply(&l->up, x);
  mx_array s = mx_sigmoid(g);
  SET(g, mx_multiply(g, s)); /* silu */
  SET(g, mx_multiply(g, u));
  mx_array_free(s);
  mx_array_free(u);
  SET(g, lm_linear_apply(&l->down, g)); /* (B, L, D) */
  return g;
}

static mx_array llama_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const llama *m = impl;
  const llama_args *a = &m->a;
  if (!tokens) return NULL;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens))) {
    set_error(MX_ERR_SHAPE, "llama: tokens must be an integer array (B, L)");
    return NULL;
  }
  if (cache && cache->nlayers != a->layers) {
    set_error(MX_ERR_INVALID_ARG, "llama: cache has %lld layers, the model %lld",
              (long long)cache->nlayers, (long long)a->layers);
    return NULL;
  }
  mx_array h = lm_embedding_apply(&m->embed, tokens, m->dtype); /* (B, L, D) */
  for (int64_t i = 0; i < a->layers && h; i++) {
    const llama_layer *l = &m->L[i];
    mx_array x = mx_fast_rms_norm(h, l->in_norm, (float)a->eps);
    mx_array r = attention(m, l, x, cache ? &cache->layers[i] : NULL);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->post_norm, (float)a->eps);
    r = mlp(l, x);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
  }
  SET(h, mx_fast_rms_norm(h, m->norm, (float)a->eps));
  SET(h, lm_linear_apply(a->tied ? &m->embed : &m->head, h)); /* (B, L, V) */
  return h;
}

static int64_t llama_layers(const void *impl) { return ((const llama *)impl)->a.layers; }
static int64_t llama_vocab(const void *impl) { return ((const llama *)impl)->a.vocab; }
static mx_dtype llama_dtype(const void *impl) { return ((const llama *)impl)->dtype; }

static uint64_t llama_weight_bytes(const void *impl) {
  const llama *m = impl;
  /* Decode reads one embedding row but the whole output head. */
  uint64_t n = lm_linear_nbytes(m->a.tied ? &m->embed : &m->head);
  n += mx_array_nbytes(m->norm);
  for (int64_t i = 0; i < m->a.layers; i++) {
    const llama_layer *l = &m->L[i];
    const lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
    for (int j = 0; j < 7; j++) n += lm_linear_nbytes(lin[j]);
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
  }
  return n;
}

const lm_arch lm_arch_llama = {
    .name = "llama",
    .create = llama_create,
    .destroy = llama_destroy,
    .forward = llama_forward,
    .num_layers = llama_layers,
    .vocab_size = llama_vocab,
    .dtype = llama_dtype,
    .weight_bytes = llama_weight_bytes,
};
