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
  double eps, rope_theta, rope_scale;
  bool rope_traditional, tied, attn_bias, mlp_bias;
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
  mx_array rope_freqs;   /* (Dh/2) periods for mx_fast_rope, or NULL (base) */
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
      (st = lm_cfg_float(c, "rope_theta", 10000.0, &a->rope_theta, WHAT)) ||
      (st = lm_cfg_bool(c, "rope_traditional", false, &a->rope_traditional, WHAT)) ||
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
  a->rope_scale = 1.0;
  return MX_OK;
}

/* mlx-lm's initialize_rope for the types Llama checkpoints use: default and
 * linear (a position scale), llama3 (per-frequency periods). */
static mx_status init_rope(const cJSON *c, llama *m) {
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
  if (!rs || cJSON_IsNull(rs)) return MX_OK;
  if (!cJSON_IsObject(rs)) return set_error(MX_ERR_FORMAT, WHAT ": rope_scaling must be an object");
  const char *type = NULL;
  mx_status st = lm_cfg_string(rs, "type", NULL, &type, WHAT " rope_scaling");
  if (!st && !type) st = lm_cfg_string(rs, "rope_type", "default", &type, WHAT " rope_scaling");
  if (st) return st;
  if (strcmp(type, "default") == 0) return MX_OK;
  double factor;
  if (!cJSON_GetObjectItemCaseSensitive(rs, "factor"))
    return set_error(MX_ERR_FORMAT, WHAT ": rope_scaling of type %s needs \"factor\"", type);
  if ((st = lm_cfg_float(rs, "factor", 1.0, &factor, WHAT " rope_scaling"))) return st;
  if (factor <= 0) return set_error(MX_ERR_FORMAT, WHAT ": rope_scaling factor must be > 0");
  if (strcmp(type, "linear") == 0) {
    m->a.rope_scale = 1.0 / factor;
    return MX_OK;
  }
  if (strcmp(type, "llama3") != 0)
    return set_error(MX_ERR_UNSUPPORTED, WHAT ": rope_scaling type \"%s\" is not supported yet "
                     "(default, linear, llama3)", type);
  double lo, hi, old;
  if ((st = lm_cfg_float(rs, "low_freq_factor", 1.0, &lo, WHAT)) ||
      (st = lm_cfg_float(rs, "high_freq_factor", 4.0, &hi, WHAT)) ||
      (st = lm_cfg_float(rs, "original_max_position_embeddings", 8192, &old, WHAT)))
    return st;
  if (hi == lo) return set_error(MX_ERR_FORMAT, WHAT ": llama3 rope needs low != high freq factor");
  /* Computed in float32 as mlx-lm does with mx arrays. */
  int64_t n = m->a.head_dim / 2;
  float *f = malloc((size_t)n * sizeof *f);
  if (!f) return set_error(MX_ERR_OOM, "llama: out of memory");
  float lo_w = (float)(old / lo), hi_w = (float)(old / hi);
  for (int64_t i = 0; i < n; i++) {
    float fr = powf((float)m->a.rope_theta, (float)(2 * i) / (float)m->a.head_dim);
    float wl = 2.0f * (float)M_PI * fr;
    float fi = wl > lo_w ? fr * (float)factor : fr;
    bool medium = wl > hi_w && wl < lo_w;
    float smooth = ((float)old / wl - (float)lo) / (float)(hi - lo);
    float sf = fi / ((1.0f - smooth) / (float)factor + smooth);
    f[i] = medium ? sf : fi;
  }
  m->rope_freqs = lm_own(mx_array_from_data(f, &n, 1, MX_FLOAT32));
  free(f);
  return m->rope_freqs ? MX_OK : mx_last_error_code();
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
  mx_array_free(m->rope_freqs);
  free(m);
}

static void *llama_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  llama *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "llama: out of memory");
    return NULL;
  }
  llama_args *a = &m->a;
  if (parse_args(cfg, a) || init_rope(cfg, m)) goto fail;
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
    mx_array th = mx_array_scalar(a->rope_theta, MX_FLOAT32);
    mx_array ex = mx_divide(base, d);
    mx_array p = mx_power(th, ex);
    mx_array rf32 = mx_astype(rf, MX_FLOAT32);
    mx_array_free(m->rope_freqs);
    m->rope_freqs = lm_own(mx_multiply(p, rf32));
    mx_array t[7] = {rf, base, d, th, ex, p, rf32};
    for (int i = 0; i < 7; i++) mx_array_free(t[i]);
    if (!m->rope_freqs || mx_eval1(m->rope_freqs)) goto fail;
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

static mx_array rope(const llama *m, mx_array x, int64_t offset) {
  return mx_fast_rope(x, (int)m->a.head_dim, m->a.rope_traditional,
                      (float)m->a.rope_theta, (float)m->a.rope_scale, offset, m->rope_freqs);
}

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
  int64_t offset = c ? c->offset : 0;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
  SET(k, heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, heads_first(v, B, L, a->kv_heads, Dh));
  SET(q, rope(m, q, offset));
  SET(k, rope(m, k, offset));
  if (c) {
    mx_array kc = NULL, vc = NULL; /* (B, Hkv, offset+L, Dh) */
    lm_kv_update_and_fetch(c, k, v, &kc, &vc);
    mx_array_free(k);
    mx_array_free(v);
    k = kc;
    v = vc;
  }
  /* One new token sees everything: no mask, as mlx-lm's create_attention_mask. */
  mx_sdpa_mask mode = L > 1 ? MX_SDPA_MASK_CAUSAL : MX_SDPA_MASK_NONE;
  mx_array o = mx_fast_scaled_dot_product_attention(q, k, v, (float)(1.0 / sqrt((double)Dh)),
                                                    mode, NULL, NULL); /* (B, Hq, L, Dh) */
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
