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
 * Shapes: B batch, L new tokens, D hidden, V vocab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

/* d.L[i]: in_norm is input_layernorm, post_norm post_attention_layernorm
 * (on the attention output); every norm weight already holds 1 + w. */
typedef struct g3_ff_norms {
  mx_array pre, post; /* (D) pre_feedforward_layernorm, post_feedforward_layernorm */
} g3_ff_norms;

typedef struct gemma3 {
  lm_dec d;            /* d.rope: the global layers' rope */
  int64_t window;      /* of the sliding layers */
  double query_pre_attn_scalar, softcap; /* softcap 0: none */
  mx_array embed_scale; /* 0-d, sqrt(D) in the model dtype */
  lm_rope rope_local;
  g3_ff_norms *ff;      /* per layer */
} gemma3;

#define WHAT "gemma3_text config"

/* The layer kinds: config layer_types (transformers >= 4.5x), else the
 * older pattern key (every Nth layer global). */
static mx_status layer_kinds(const cJSON *c, gemma3 *m) {
  const lm_dec_args *a = &m->d.a;
  lm_dec_layer *L = m->d.L;
  bool sliding;
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
        sliding = true;
      } else if (strcmp(e->valuestring, "full_attention") == 0) {
        sliding = false;
      } else {
        return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" (layer %lld) is not "
                         "supported (sliding_attention, full_attention)", e->valuestring,
                         (long long)i);
      }
      L[i].spec.window = sliding ? m->window : 0;
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
  for (int64_t i = 0; i < a->layers; i++) L[i].spec.window = (i + 1) % pattern != 0 ? m->window : 0;
  return MX_OK;
}

static mx_status parse_args(const cJSON *c, gemma3 *m) {
  lm_dec_args *a = &m->d.a;
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", 1, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 256, &a->head_dim, WHAT)) ||
      (st = lm_cfg_int(c, "sliding_window", 512, &m->window, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, WHAT)) ||
      (st = lm_cfg_float(c, "query_pre_attn_scalar", 256, &m->query_pre_attn_scalar, WHAT)) ||
      (st = lm_cfg_float(c, "final_logit_softcapping", 0, &m->softcap, WHAT)) ||
      (st = lm_dec_init(&m->d, WHAT)))
    return st;
  if (m->window <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": sliding_window %lld must be positive",
                     (long long)m->window);
  if (!(m->query_pre_attn_scalar > 0))
    return set_error(MX_ERR_FORMAT, WHAT ": query_pre_attn_scalar %g must be positive",
                     m->query_pre_attn_scalar);
  if (m->softcap < 0)
    return set_error(MX_ERR_FORMAT, WHAT ": final_logit_softcapping %g must be positive",
                     m->softcap);
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
  int64_t Dh = m->d.a.head_dim;
  if ((st = lm_rope_init(&m->d.rope, c, Dh, "full_attention", WHAT))) return st;
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(c, "rope_parameters");
  if (cJSON_IsObject(rp)) return lm_rope_init(&m->rope_local, c, Dh, "sliding_attention", WHAT);
  double base;
  if ((st = lm_cfg_float(c, "rope_local_base_freq", 10000.0, &base, WHAT))) return st;
  if (!(base > 0)) return set_error(MX_ERR_FORMAT, WHAT ": rope_local_base_freq must be > 0");
  lm_rope_init_base(&m->rope_local, (int)Dh, (float)base, false);
  return MX_OK;
}

/* gelu with the tanh approximation (gelu_pytorch_tanh, MLX's gelu_approx):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static mx_array gelu_tanh(mx_array x) {
  if (!x) return NULL; /* keep the first error (a NULL's dtype is invalid) */
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

static void g3_destroy(void *impl) {
  gemma3 *m = impl;
  if (!m) return;
  if (m->ff)
    for (int64_t i = 0; i < m->d.a.layers; i++) {
      mx_array_free(m->ff[i].pre);
      mx_array_free(m->ff[i].post);
    }
  free(m->ff);
  mx_array_free(m->embed_scale);
  lm_rope_free(&m->rope_local);
  lm_dec_destroy(m);
}

static void *g3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  if (w->kind == LM_SRC_GGUF) {
    /* llama.cpp stores Gemma norms as 1 + w and the layer pattern in keys
     * the GGUF config mapping does not carry. */
    set_error(MX_ERR_UNSUPPORTED, "gemma3_text: GGUF checkpoints are not supported yet "
              "(load the safetensors model)");
    return NULL;
  }
  gemma3 *m = lm_dec_new(sizeof *m, "gemma3_text");
  if (!m) return NULL;
  lm_dec *d = &m->d;
  const lm_dec_args *a = &d->a;
  g3_source s = {0};
  if (resolve_source(cfg, w, &s) || parse_args(s.cfg, m) || layer_kinds(s.cfg, m) ||
      init_ropes(m, s.cfg))
    goto fail;
  d->a.tied = s.tied;
  d->norm_plus_one = true;
  /* mlx-lm ties the head whenever the checkpoint has none. */
  lm_dec_names names = {.prefix = s.prefix, .head = s.head, .tie_if_missing = true};
  if (lm_dec_load_outer(d, w, q, &names)) goto fail;
  /* transformers rounds sqrt(hidden) to the embedding dtype (mlx-lm rounds
   * through bfloat16; the two agree for bfloat16 checkpoints). */
  if (!(m->embed_scale = lm_own(mx_array_scalar(sqrt((double)a->hidden), d->dtype)))) goto fail;
  static const lm_mlp_opts mlp = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", false,
                                  gelu_tanh};
  lm_block_opts blocks = {.prefix = s.prefix,
                          .attn = {.q_norm = "q_norm", .k_norm = "k_norm",
                                   .scale = 1.0 / sqrt(m->query_pre_attn_scalar)},
                          .mlp = &mlp};
  if (lm_dec_load_blocks(d, w, q, &blocks)) goto fail;
  if (!(m->ff = calloc((size_t)a->layers, sizeof *m->ff))) {
    set_error(MX_ERR_OOM, "gemma3_text: out of memory");
    goto fail;
  }
  for (int64_t i = 0; i < a->layers; i++) {
    if (d->L[i].spec.window) d->L[i].attn.rope = &m->rope_local;
    char p[160], n[256];
    lm_dec_layer_prefix(p, sizeof p, s.prefix, i);
    snprintf(n, sizeof n, "%s.pre_feedforward_layernorm.weight", p);
    if (!(m->ff[i].pre = lm_dec_load_norm(d, w, n, a->hidden))) goto fail;
    snprintf(n, sizeof n, "%s.post_feedforward_layernorm.weight", p);
    if (!(m->ff[i].post = lm_dec_load_norm(d, w, n, a->hidden))) goto fail;
  }
  cJSON_Delete(s.cfg);
  return m;
fail:
  cJSON_Delete(s.cfg);
  g3_destroy(m);
  return NULL;
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

/* Gemma's block: each half's output is normalised before it joins the
 * residual stream. h (B, L, D); frees h. */
static mx_array g3_block(const gemma3 *m, int64_t i, mx_array h, mx_lm_cache *cache) {
  const lm_dec_layer *l = &m->d.L[i];
  float eps = (float)m->d.a.eps;
  mx_array x = mx_fast_rms_norm(h, l->in_norm, eps);
  mx_array r = lm_attn_apply(&l->attn, x, cache ? &cache->layers[i] : NULL, l->spec.window);
  mx_array_free(x);
  SET(r, mx_fast_rms_norm(r, l->post_norm, eps));
  SET(h, residual(h, r));
  mx_array_free(r);
  x = mx_fast_rms_norm(h, m->ff[i].pre, eps);
  r = lm_mlp_apply(&l->mlp, x);
  mx_array_free(x);
  SET(r, mx_fast_rms_norm(r, m->ff[i].post, eps));
  SET(h, residual(h, r));
  mx_array_free(r);
  return h;
}

static mx_array g3_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const gemma3 *m = impl;
  if (lm_dec_check_call(&m->d, tokens, cache)) return NULL;
  mx_array h = lm_embedding_apply(&m->d.embed, tokens, m->d.dtype); /* (B, L, D) */
  SET(h, mx_multiply(h, m->embed_scale));
  for (int64_t i = 0; i < m->d.a.layers && h; i++) h = g3_block(m, i, h, cache);
  h = lm_dec_logits(&m->d, h); /* (B, L, V) */
  if (m->softcap > 0 && h) {
    mx_array cap = mx_array_scalar(m->softcap, mx_array_dtype(h));
    SET(h, mx_divide(h, cap));
    SET(h, mx_tanh(h));
    SET(h, mx_multiply(h, cap));
    mx_array_free(cap);
  }
  return h;
}

static uint64_t g3_weight_bytes(const void *impl) {
  const gemma3 *m = impl;
  uint64_t n = lm_dec_bytes(&m->d);
  for (int64_t i = 0; i < m->d.a.layers; i++)
    n += mx_array_nbytes(m->ff[i].pre) + mx_array_nbytes(m->ff[i].post);
  return n;
}

const lm_arch lm_arch_gemma3_text = {
    .name = "gemma3_text",
    .create = g3_create,
    .destroy = g3_destroy,
    .forward = g3_forward,
    .num_layers = lm_dec_num_layers,
    .vocab_size = lm_dec_vocab_size,
    .dtype = lm_dec_dtype,
    .weight_bytes = g3_weight_bytes,
    .layer_spec = lm_dec_layer_spec,
};
