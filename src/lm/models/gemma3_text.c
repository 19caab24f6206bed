/* gemma3_text.c — Gemma 3 text models, as mlx_lm/models/gemma3_text.py (and
 * gemma3.py for the multimodal checkpoints' language model), with
 * transformers' modeling_gemma3.py as the numeric reference:
 *   - embeddings scaled by sqrt(hidden), the scale rounded to the activation
 *     dtype first;
 *   - RMSNorms multiply by (1 + w); four per block (around attention and
 *     around the MLP), plus q/k norms over each head;
 *   - layers are sliding-window ("sliding_attention", local rope base) or
 *     global ("full_attention", rope_theta with its scaling); which is which
 *     comes from layer_types, else every Nth layer is global
 *     (sliding_window_pattern);
 *   - attention scale query_pre_attn_scalar^-1/2, a gelu (tanh) gated MLP,
 *     tied output head, optional final_logit_softcapping tanh(x/c)*c.
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

typedef struct g3_args {
  int64_t hidden, layers, inter, heads, kv_heads, head_dim, vocab, window;
  double eps, query_pre_attn_scalar, softcap; /* softcap 0: none */
} g3_args;

typedef struct g3_layer {
  bool sliding;
  /* Norm weights already hold 1 + w (in the model dtype). */
  mx_array in_norm, post_attn_norm, pre_ff_norm, post_ff_norm; /* (D) */
  mx_array q_norm, k_norm;                                      /* (Dh) */
  lm_linear q, k, v, o, gate, up, down;
} g3_layer;

typedef struct gemma3 {
  g3_args a;
  mx_dtype dtype;
  bool tied;
  lm_linear embed, head; /* head unused when tied */
  mx_array norm;         /* (D), 1 + w */
  mx_array embed_scale;  /* 0-d, sqrt(D) in the model dtype */
  lm_rope rope_local, rope_global;
  g3_layer *L;
} gemma3;

#define WHAT "gemma3_text config"

/* The layer kinds: config layer_types (transformers >= 4.5x), else the
 * older pattern key (every Nth layer global). */
static mx_status layer_kinds(const cJSON *c, gemma3 *m) {
  const g3_args *a = &m->a;
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types");
  if (lt && !cJSON_IsNull(lt)) {
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != a->layers)
      return set_error(MX_ERR_FORMAT, WHAT ": layer_types must be a list of %lld layer types",
                       (long long)a->layers);
    for (int64_t i = 0; i < a->layers; i++) {
      const cJSON *e = cJSON_GetArrayItem(lt, (int)i);
      if (!cJSON_IsString(e))
        return set_error(MX_ERR_FORMAT, WHAT ": layer_types[%lld] must be a string", (long long)i);
      if (strcmp(e->valuestring, "sliding_attention") == 0) {
        m->L[i].sliding = true;
      } else if (strcmp(e->valuestring, "full_attention") == 0) {
        m->L[i].sliding = false;
      } else {
        return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" (layer %lld) is not "
                         "supported (sliding_attention, full_attention)", e->valuestring,
                         (long long)i);
      }
    }
    return MX_OK;
  }
  int64_t pattern;
  mx_status st;
  const char *key = cJSON_GetObjectItemCaseSensitive(c, "sliding_window_pattern")
                        ? "sliding_window_pattern"
                        : "_sliding_window_pattern";
  if ((st = lm_cfg_int(c, key, 6, &pattern, WHAT))) return st;
  if (pattern < 1)
    return set_error(MX_ERR_FORMAT, WHAT ": %s %lld must be >= 1", key, (long long)pattern);
  for (int64_t i = 0; i < a->layers; i++) m->L[i].sliding = (i + 1) % pattern != 0;
  return MX_OK;
}

static mx_status parse_args(const cJSON *c, g3_args *a) {
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", 1, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 256, &a->head_dim, WHAT)) ||
      (st = lm_cfg_int(c, "sliding_window", 512, &a->window, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, WHAT)) ||
      (st = lm_cfg_float(c, "query_pre_attn_scalar", 256, &a->query_pre_attn_scalar, WHAT)) ||
      (st = lm_cfg_float(c, "final_logit_softcapping", 0, &a->softcap, WHAT)))
    return st;
  if (a->layers > 100000)
    return set_error(MX_ERR_FORMAT, WHAT ": num_hidden_layers %lld is too large",
                     (long long)a->layers);
  if (a->kv_heads <= 0 || a->heads % a->kv_heads)
    return set_error(MX_ERR_FORMAT, WHAT ": num_attention_heads %lld is not a multiple of "
                     "num_key_value_heads %lld", (long long)a->heads, (long long)a->kv_heads);
  if (a->head_dim <= 0 || a->head_dim % 2 || a->head_dim > 4096)
    return set_error(MX_ERR_FORMAT, WHAT ": head_dim %lld must be even and positive",
                     (long long)a->head_dim);
  if (a->window <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": sliding_window %lld must be positive",
                     (long long)a->window);
  if (!(a->query_pre_attn_scalar > 0))
    return set_error(MX_ERR_FORMAT, WHAT ": query_pre_attn_scalar %g must be positive",
                     a->query_pre_attn_scalar);
  if (a->softcap < 0)
    return set_error(MX_ERR_FORMAT, WHAT ": final_logit_softcapping %g must be positive",
                     a->softcap);
  const cJSON *ac = cJSON_GetObjectItemCaseSensitive(c, "attn_logit_softcapping");
  if (ac && !cJSON_IsNull(ac))
    return set_error(MX_ERR_UNSUPPORTED, WHAT ": attn_logit_softcapping is not supported");
  bool bidir;
  if ((st = lm_cfg_bool(c, "use_bidirectional_attention", false, &bidir, WHAT))) return st;
  if (bidir)
    return set_error(MX_ERR_UNSUPPORTED, WHAT ": use_bidirectional_attention (an embedding "
                     "model) is not supported");
  const char *act;
  if ((st = lm_cfg_string(c, "hidden_activation", "gelu_pytorch_tanh", &act, WHAT))) return st;
  if (strcmp(act, "gelu_pytorch_tanh") != 0 && strcmp(act, "gelu_tanh") != 0)
    return set_error(MX_ERR_UNSUPPORTED, WHAT ": hidden_activation \"%s\" is not supported "
                     "(gelu_pytorch_tanh)", act);
  return MX_OK;
}

/* Loads a norm weight and turns it into 1 + w in the model dtype (as
 * mlx-lm's RMSNorm computes 1.0 + weight in the weight's dtype). */
static mx_array load_norm(lm_weights *w, const char *name, int64_t dim, mx_dtype dt) {
  mx_array a = lm_weights_take(w, name);
  if (!a) return NULL;
  if (mx_array_ndim(a) != 1 || mx_array_dim(a, 0) != dim) {
    set_error(MX_ERR_FORMAT, "load %s: norm \"%s\" must have shape (%lld)", w->path, name,
              (long long)dim);
    mx_array_free(a);
    return NULL;
  }
  mx_array c = mx_astype(a, dt);
  mx_array one = mx_array_scalar(1.0, dt);
  mx_array r = lm_own(mx_add(c, one));
  mx_array_free(a);
  mx_array_free(c);
  mx_array_free(one);
  if (r && mx_eval1(r)) {
    mx_array_free(r);
    return NULL;
  }
  return r;
}

static void g3_destroy(void *impl) {
  gemma3 *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->a.layers; i++) {
      g3_layer *l = &m->L[i];
      mx_array n[6] = {l->in_norm, l->post_attn_norm, l->pre_ff_norm, l->post_ff_norm,
                       l->q_norm, l->k_norm};
      for (int j = 0; j < 6; j++) mx_array_free(n[j]);
      lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
      for (int j = 0; j < 7; j++) lm_linear_free(lin[j]);
    }
  free(m->L);
  lm_linear_free(&m->embed);
  lm_linear_free(&m->head);
  mx_array_free(m->norm);
  mx_array_free(m->embed_scale);
  lm_rope_free(&m->rope_local);
  lm_rope_free(&m->rope_global);
  free(m);
}

/* Multimodal "gemma3" checkpoints: the text model's config is text_config
 * (with vocab_size and head counts defaulted from the outer config as
 * mlx-lm's gemma3.py does) and its weights sit under a prefix; the vision
 * tower and projector are dropped (as mlx-lm's sanitize). */
typedef struct g3_source {
  cJSON *cfg;          /* working copy of the text config (owned) */
  bool tied;
  char prefix[64];     /* "model." for gemma3_text */
  char head[64];       /* output head weight prefix */
} g3_source;

static void ignore_prefix(lm_weights *w, const char *prefix) {
  if (w->kind != LM_SRC_SAFETENSORS) return;
  size_t n = strlen(prefix);
  for (int64_t i = 0; i < w->count; i++)
    if (strncmp(mx_weights_name(w->st, i), prefix, n) == 0) w->used[i] = true;
}

static mx_status set_number(cJSON *c, const char *key, double v) {
  cJSON *n = cJSON_CreateNumber(v);
  if (!n) return set_error(MX_ERR_OOM, WHAT ": out of memory");
  if (cJSON_GetObjectItemCaseSensitive(c, key)) {
    cJSON_ReplaceItemInObjectCaseSensitive(c, key, n);
  } else {
    cJSON_AddItemToObject(c, key, n);
  }
  return MX_OK;
}

static mx_status resolve_source(const cJSON *cfg, lm_weights *w, g3_source *s) {
  mx_status st;
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
  bool multimodal = tc && !cJSON_IsNull(tc);
  bool tied_outer = true, tied_inner = true;
  if ((st = lm_cfg_bool(cfg, "tie_word_embeddings", true, &tied_outer, WHAT))) return st;
  if (multimodal) {
    if (!cJSON_IsObject(tc))
      return set_error(MX_ERR_FORMAT, WHAT ": text_config must be an object");
    if ((st = lm_cfg_bool(tc, "tie_word_embeddings", true, &tied_inner, WHAT))) return st;
  }
  const char *type = NULL;
  if ((st = lm_cfg_string(cfg, "model_type", NULL, &type, WHAT))) return st;
  if (!multimodal && type && strcmp(type, "gemma3") == 0)
    return set_error(MX_ERR_FORMAT, WHAT ": a \"gemma3\" config needs its text_config");
  s->tied = tied_outer && tied_inner;
  s->cfg = cJSON_Duplicate(multimodal ? tc : cfg, 1);
  if (!s->cfg) return set_error(MX_ERR_OOM, WHAT ": out of memory");
  if (multimodal) {
    int64_t vocab, heads, kv;
    if ((st = lm_cfg_int(cfg, "vocab_size", 262208, &vocab, WHAT)) ||
        (st = lm_cfg_int(tc, "num_attention_heads", 8, &heads, WHAT)) ||
        (st = lm_cfg_int(tc, "num_key_value_heads", 4, &kv, WHAT)) ||
        (st = set_number(s->cfg, "vocab_size", (double)vocab)) ||
        (st = set_number(s->cfg, "num_attention_heads", (double)heads)) ||
        (st = set_number(s->cfg, "num_key_value_heads", (double)kv)))
      return st;
    if (w->kind == LM_SRC_SAFETENSORS &&
        lm_weights_has(w, "model.language_model.embed_tokens.weight")) {
      /* transformers >= 5 layout */
      snprintf(s->prefix, sizeof s->prefix, "model.language_model.");
      snprintf(s->head, sizeof s->head, "lm_head");
      ignore_prefix(w, "model.vision_tower.");
      ignore_prefix(w, "model.multi_modal_projector.");
    } else {
      snprintf(s->prefix, sizeof s->prefix, "language_model.model.");
      snprintf(s->head, sizeof s->head, "language_model.lm_head");
    }
    ignore_prefix(w, "vision_tower.");
    ignore_prefix(w, "multi_modal_projector.");
  } else {
    snprintf(s->prefix, sizeof s->prefix, "model.");
    snprintf(s->head, sizeof s->head, "lm_head");
  }
  /* Gemma's global rope base defaults to 1e6, not the usual 10000. */
  if (!cJSON_GetObjectItemCaseSensitive(s->cfg, "rope_parameters") &&
      !cJSON_GetObjectItemCaseSensitive(s->cfg, "rope_theta") &&
      (st = set_number(s->cfg, "rope_theta", 1e6)))
    return st;
  return MX_OK;
}

/* Local (sliding-layer) and global rope: v5 nests rope_parameters per layer
 * type; v4 gives the local base as rope_local_base_freq (no scaling) and
 * the global one as rope_theta + rope_scaling. */
static mx_status init_ropes(gemma3 *m, const cJSON *c) {
  mx_status st;
  if ((st = lm_rope_init(&m->rope_global, c, m->a.head_dim, "full_attention", WHAT))) return st;
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(c, "rope_parameters");
  if (cJSON_IsObject(rp))
    return lm_rope_init(&m->rope_local, c, m->a.head_dim, "sliding_attention", WHAT);
  double base;
  if ((st = lm_cfg_float(c, "rope_local_base_freq", 10000.0, &base, WHAT))) return st;
  if (!(base > 0)) return set_error(MX_ERR_FORMAT, WHAT ": rope_local_base_freq must be > 0");
  lm_rope_init_base(&m->rope_local, (int)m->a.head_dim, (float)base, false);
  return MX_OK;
}

static void *g3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  if (w->kind == LM_SRC_GGUF) {
    /* llama.cpp stores Gemma norms as 1 + w and the layer pattern in keys
     * the GGUF config mapping does not carry. */
    set_error(MX_ERR_UNSUPPORTED, "gemma3_text: GGUF checkpoints are not supported yet "
              "(load the safetensors model)");
    return NULL;
  }
  gemma3 *m = calloc(1, sizeof *m);
  g3_source s = {0};
  if (!m) {
    set_error(MX_ERR_OOM, "gemma3_text: out of memory");
    return NULL;
  }
  g3_args *a = &m->a;
  if (resolve_source(cfg, w, &s) || parse_args(s.cfg, a)) goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "gemma3_text: out of memory");
    goto fail;
  }
  if (layer_kinds(s.cfg, m) || init_ropes(m, s.cfg)) goto fail;
  char n[256];
  snprintf(n, sizeof n, "%sembed_tokens", s.prefix);
  if (lm_linear_load(w, q, n, false, a->vocab, a->hidden, &m->embed)) goto fail;
  m->dtype = lm_linear_dtype(&m->embed);
  /* mlx-lm ties the head whenever the checkpoint has none. */
  snprintf(n, sizeof n, "%s.weight", s.head);
  m->tied = s.tied || !lm_weights_has(w, n);
  if (m->tied) {
    snprintf(n, sizeof n, "%s.weight", s.head);
    lm_weights_ignore(w, n);
  } else if (lm_linear_load(w, q, s.head, false, a->vocab, a->hidden, &m->head)) {
    goto fail;
  }
  snprintf(n, sizeof n, "%snorm.weight", s.prefix);
  if (!(m->norm = load_norm(w, n, a->hidden, m->dtype))) goto fail;
  /* transformers rounds sqrt(hidden) to the embedding dtype (mlx-lm rounds
   * through bfloat16; the two agree for bfloat16 checkpoints). */
  if (!(m->embed_scale = lm_own(mx_array_scalar(sqrt((double)a->hidden), m->dtype)))) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim, F = a->inter;
  for (int64_t i = 0; i < a->layers; i++) {
    g3_layer *l = &m->L[i];
    char p[160];
    snprintf(p, sizeof p, "%slayers.%lld", s.prefix, (long long)i);
#define LIN(field, sub, o, in)                                         \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, false, o, in, &l->field)) goto fail;
    LIN(q, "self_attn.q_proj", a->heads * Dh, D)
    LIN(k, "self_attn.k_proj", a->kv_heads * Dh, D)
    LIN(v, "self_attn.v_proj", a->kv_heads * Dh, D)
    LIN(o, "self_attn.o_proj", D, a->heads * Dh)
    LIN(gate, "mlp.gate_proj", F, D)
    LIN(up, "mlp.up_proj", F, D)
    LIN(down, "mlp.down_proj", D, F)
#undef LIN
#define NORM(field, sub, dim)                                          \
  snprintf(n, sizeof n, "%s.%s.weight", p, sub);                       \
  if (!(l->field = load_norm(w, n, dim, m->dtype))) goto fail;
    NORM(in_norm, "input_layernorm", D)
    NORM(post_attn_norm, "post_attention_layernorm", D)
    NORM(pre_ff_norm, "pre_feedforward_layernorm", D)
    NORM(post_ff_norm, "post_feedforward_layernorm", D)
    NORM(q_norm, "self_attn.q_norm", Dh)
    NORM(k_norm, "self_attn.k_norm", Dh)
#undef NORM
  }
  cJSON_Delete(s.cfg);
  return m;
fail:
  cJSON_Delete(s.cfg);
  g3_destroy(m);
  return NULL;
}

/* Replaces `var` by `expr` (which may use var), freeing the old value. */
#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
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

static mx_array attention(const gemma3 *m, const g3_layer *l, mx_array x, lm_kv_cache *c) {
  const g3_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  const lm_rope *rope = l->sliding ? &m->rope_local : &m->rope_global;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
  SET(k, heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, heads_first(v, B, L, a->kv_heads, Dh));
  SET(q, mx_fast_rms_norm(q, l->q_norm, (float)a->eps));
  SET(k, mx_fast_rms_norm(k, l->k_norm, (float)a->eps));
  SET(q, lm_rope_apply(rope, q, c));
  SET(k, lm_rope_apply(rope, k, c));
  float scale = (float)(1.0 / sqrt(a->query_pre_attn_scalar));
  mx_array o = lm_attend(c, q, k, v, scale, l->sliding ? a->window : 0, NULL);
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

/* gelu with the tanh approximation (gelu_pytorch_tanh, MLX's gelu_approx):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static mx_array gelu_tanh(mx_array x) {
  mx_dtype dt = mx_array_dtype(x);
  mx_array c0 = mx_array_scalar(0.044715, dt), c1 = mx_array_scalar(sqrt(2.0 / M_PI), dt);
  mx_array half = mx_array_scalar(0.5, dt), one = mx_array_scalar(1.0, dt);
  mx_array t = mx_multiply(x, x);
  SET(t, mx_multiply(t, x));
  SET(t, mx_multiply(t, c0));
  SET(t, mx_add(t, x));
  SET(t, mx_multiply(t, c1));
  SET(t, mx_tanh(t));
  SET(t, mx_add(t, one));
  SET(t, mx_multiply(t, x));
  SET(t, mx_multiply(t, half));
  mx_array tmp[4] = {c0, c1, half, one};
  for (int i = 0; i < 4; i++) mx_array_free(tmp[i]);
  return t;
}

static mx_array mlp(const g3_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->gate, x); /* (B, L, F) */
  mx_array u = lm_linear_apply(&l->up, x);
  SET(g, gelu_tanh(g));
  SET(g, mx_multiply(g, u));
  mx_array_free(u);
  SET(g, lm_linear_apply(&l->down, g)); /* (B, L, D) */
  return g;
}

/* h + r; float16 sums are taken in float32 and clipped to the float16 range
 * (mlx-lm's clip_residual: Gemma activations overflow float16). */
static mx_array residual(mx_array h, mx_array r) {
  if (!h || !r || mx_array_dtype(h) != MX_FLOAT16) return mx_add(h, r);
  mx_array h32 = mx_astype(h, MX_FLOAT32), r32 = mx_astype(r, MX_FLOAT32);
  mx_array lo = mx_array_scalar(-65504.0, MX_FLOAT32), hi = mx_array_scalar(65504.0, MX_FLOAT32);
  mx_array s = mx_add(h32, r32);
  SET(s, mx_clip(s, lo, hi));
  SET(s, mx_astype(s, MX_FLOAT16));
  mx_array tmp[4] = {h32, r32, lo, hi};
  for (int i = 0; i < 4; i++) mx_array_free(tmp[i]);
  return s;
}

static mx_array g3_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const gemma3 *m = impl;
  const g3_args *a = &m->a;
  if (!tokens) return NULL;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens))) {
    set_error(MX_ERR_SHAPE, "gemma3_text: tokens must be an integer array (B, L)");
    return NULL;
  }
  if (cache && cache->nlayers != a->layers) {
    set_error(MX_ERR_INVALID_ARG, "gemma3_text: cache has %lld layers, the model %lld",
              (long long)cache->nlayers, (long long)a->layers);
    return NULL;
  }
  float eps = (float)a->eps;
  mx_array h = lm_embedding_apply(&m->embed, tokens, m->dtype); /* (B, L, D) */
  SET(h, mx_multiply(h, m->embed_scale));
  for (int64_t i = 0; i < a->layers && h; i++) {
    const g3_layer *l = &m->L[i];
    mx_array x = mx_fast_rms_norm(h, l->in_norm, eps);
    mx_array r = attention(m, l, x, cache ? &cache->layers[i] : NULL);
    mx_array_free(x);
    SET(r, mx_fast_rms_norm(r, l->post_attn_norm, eps));
    SET(h, residual(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->pre_ff_norm, eps);
    r = mlp(l, x);
    mx_array_free(x);
    SET(r, mx_fast_rms_norm(r, l->post_ff_norm, eps));
    SET(h, residual(h, r));
    mx_array_free(r);
  }
  SET(h, mx_fast_rms_norm(h, m->norm, eps));
  SET(h, lm_linear_apply(m->tied ? &m->embed : &m->head, h)); /* (B, L, V) */
  if (a->softcap > 0 && h) {
    mx_array cap = mx_array_scalar(a->softcap, mx_array_dtype(h));
    SET(h, mx_divide(h, cap));
    SET(h, mx_tanh(h));
    SET(h, mx_multiply(h, cap));
    mx_array_free(cap);
  }
  return h;
}

static int64_t g3_layers(const void *impl) { return ((const gemma3 *)impl)->a.layers; }
static int64_t g3_vocab(const void *impl) { return ((const gemma3 *)impl)->a.vocab; }
static mx_dtype g3_dtype(const void *impl) { return ((const gemma3 *)impl)->dtype; }

static void g3_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  const gemma3 *m = impl;
  spec->kind = LM_LAYER_ATTENTION;
  spec->window = layer >= 0 && layer < m->a.layers && m->L[layer].sliding ? m->a.window : 0;
}

static uint64_t g3_weight_bytes(const void *impl) {
  const gemma3 *m = impl;
  /* Decode reads one embedding row but the whole output head. */
  uint64_t n = lm_linear_nbytes(m->tied ? &m->embed : &m->head);
  n += mx_array_nbytes(m->norm);
  for (int64_t i = 0; i < m->a.layers; i++) {
    const g3_layer *l = &m->L[i];
    const lm_linear *lin[7] = {&l->q, &l->k, &l->v, &l->o, &l->gate, &l->up, &l->down};
    for (int j = 0; j < 7; j++) n += lm_linear_nbytes(lin[j]);
    mx_array nw[6] = {l->in_norm, l->post_attn_norm, l->pre_ff_norm, l->post_ff_norm,
                      l->q_norm, l->k_norm};
    for (int j = 0; j < 6; j++) n += mx_array_nbytes(nw[j]);
  }
  return n;
}

const lm_arch lm_arch_gemma3_text = {
    .name = "gemma3_text",
    .create = g3_create,
    .destroy = g3_destroy,
    .forward = g3_forward,
    .num_layers = g3_layers,
    .vocab_size = g3_vocab,
    .dtype = g3_dtype,
    .weight_bytes = g3_weight_bytes,
    .layer_spec = g3_layer_spec,
};
