/* lfm2.c — Liquid LFM2, as mlx_lm/models/lfm2.py (transformers'
 * modeling_lfm2.py for numerics): pre-norm blocks whose operator is either
 * grouped-query attention (q/k RMSNorm per head, RoPE) or a gated short
 * convolution, each followed by a SwiGLU feed-forward. The short
 * convolution projects x to (B, C, x'), convolves B*x' along the sequence
 * with a depthwise causal kernel of conv_L_cache taps, and gates the result
 * with C. Its cache is the last conv_L_cache - 1 inputs (lm_kv_cache.conv).
 * The final norm is called embedding_norm; the output head is tied.
 *
 * Shapes: B batch, L new tokens, D hidden (= conv channels), Hq/Hkv heads,
 * Dh head dim, F feed-forward, K conv taps, V vocab. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "../lm_internal.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

typedef struct lfm2_args {
  int64_t hidden, layers, heads, kv_heads, head_dim, vocab, ff, K;
  double eps;
  bool conv_bias, tied;
} lfm2_args;

typedef struct lfm2_layer {
  bool attn;
  mx_array op_norm, ffn_norm; /* (D) */
  lm_linear w1, w2, w3;       /* w1, w3 (F, D); w2 (D, F) */
  /* attention */
  lm_linear q, k, v, o;
  mx_array q_norm, k_norm; /* (Dh) */
  /* short convolution */
  lm_linear in_proj, out_proj; /* (3D, D), (D, D) */
  mx_array *taps;              /* K arrays (D): tap j weighs input t - (K-1) + j */
  mx_array conv_bias;          /* (D) or NULL */
} lfm2_layer;

typedef struct lfm2 {
  lfm2_args a;
  mx_dtype dtype;
  lm_linear embed, head; /* head unused when tied */
  mx_array norm;         /* (D) embedding_norm, applied last */
  lm_rope rope;
  lfm2_layer *L;
} lfm2;

#define WHAT "lfm2 config"

/* transformers' Lfm2MLP sizing: 2/3 of the configured size, times the
 * multiplier (default 1.0), rounded up to a multiple; an explicit null
 * multiplier skips both (as transformers; mlx-lm rounds either way). */
static int64_t ff_dim(int64_t ff, bool adjust, const cJSON *mult, double mult_v, int64_t multiple) {
  if (!adjust) return ff;
  ff = (int64_t)(2.0 * (double)ff / 3.0);
  if (!cJSON_IsNull(mult)) {
    ff = (int64_t)(mult_v * (double)ff);
    ff = multiple * ((ff + multiple - 1) / multiple);
  }
  return ff;
}

static mx_status parse_args(const cJSON *c, lfm2_args *a) {
  mx_status st;
  int64_t ff, multiple;
  double mult;
  bool adjust, tied;
  const char *ff_key = cJSON_GetObjectItemCaseSensitive(c, "block_ff_dim") ? "block_ff_dim"
                                                                            : "intermediate_size";
  const char *tie_key = cJSON_GetObjectItemCaseSensitive(c, "tie_embedding")
                            ? "tie_embedding"
                            : "tie_word_embeddings";
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_req_int(c, ff_key, &ff, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, WHAT)) ||
      (st = lm_cfg_int(c, "conv_L_cache", 3, &a->K, WHAT)) ||
      (st = lm_cfg_int(c, "block_multiple_of", 256, &multiple, WHAT)) ||
      (st = lm_cfg_float(c, "block_ffn_dim_multiplier", 1.0, &mult, WHAT)) ||
      (st = lm_cfg_float(c, "norm_eps", 1e-5, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "block_auto_adjust_ff_dim", true, &adjust, WHAT)) ||
      (st = lm_cfg_bool(c, "conv_bias", false, &a->conv_bias, WHAT)) ||
      (st = lm_cfg_bool(c, tie_key, true, &tied, WHAT)))
    return st;
  a->tied = tied;
  if (a->layers > 100000)
    return set_error(MX_ERR_FORMAT, WHAT ": num_hidden_layers %lld is too large",
                     (long long)a->layers);
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
  if (a->K < 1 || a->K > 64)
    return set_error(MX_ERR_FORMAT, WHAT ": conv_L_cache %lld must be in [1, 64]",
                     (long long)a->K);
  if (multiple < 1 || multiple > (1 << 20))
    return set_error(MX_ERR_FORMAT, WHAT ": block_multiple_of %lld must be positive",
                     (long long)multiple);
  if (ff > ((int64_t)1 << 40) || !(mult > 0 && mult < 1e6))
    return set_error(MX_ERR_FORMAT, WHAT ": feed-forward size %lld x %g is out of range",
                     (long long)ff, mult);
  a->ff = ff_dim(ff, adjust, cJSON_GetObjectItemCaseSensitive(c, "block_ffn_dim_multiplier"),
                 mult, multiple);
  if (a->ff <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": feed-forward size %lld must be positive",
                     (long long)a->ff);
  return MX_OK;
}

/* Attention layers: layer_types, else full_attn_idxs, else (transformers'
 * default) every layer. */
static mx_status layer_kinds(const cJSON *c, lfm2 *m) {
  int64_t n = m->a.layers;
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types");
  const cJSON *fa = cJSON_GetObjectItemCaseSensitive(c, "full_attn_idxs");
  if (lt && !cJSON_IsNull(lt)) {
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != n)
      return set_error(MX_ERR_FORMAT, WHAT ": layer_types must be a list of %lld layer types",
                       (long long)n);
    for (int64_t i = 0; i < n; i++) {
      const cJSON *e = cJSON_GetArrayItem(lt, (int)i);
      if (!cJSON_IsString(e))
        return set_error(MX_ERR_FORMAT, WHAT ": layer_types[%lld] must be a string", (long long)i);
      if (strcmp(e->valuestring, "full_attention") == 0) {
        m->L[i].attn = true;
      } else if (strcmp(e->valuestring, "conv") == 0) {
        m->L[i].attn = false;
      } else {
        return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" (layer %lld) is not "
                         "supported (conv, full_attention)", e->valuestring, (long long)i);
      }
    }
  } else if (fa && !cJSON_IsNull(fa)) {
    if (!cJSON_IsArray(fa))
      return set_error(MX_ERR_FORMAT, WHAT ": full_attn_idxs must be a list of layer indices");
    const cJSON *e;
    cJSON_ArrayForEach(e, fa) {
      if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
          e->valuedouble >= (double)n)
        return set_error(MX_ERR_FORMAT, WHAT ": full_attn_idxs entries must be layer indices "
                         "in [0, %lld)", (long long)n);
      m->L[(int64_t)e->valuedouble].attn = true;
    }
  } else {
    for (int64_t i = 0; i < n; i++) m->L[i].attn = true;
  }
  return MX_OK;
}

static mx_array load_vec(lm_weights *w, const char *name, int64_t dim, mx_dtype dt) {
  mx_array a = lm_weights_take(w, name);
  if (!a) return NULL;
  if (mx_array_ndim(a) != 1 || mx_array_dim(a, 0) != dim) {
    set_error(MX_ERR_FORMAT, "load %s: \"%s\" must have shape (%lld)", w->path, name,
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

/* The depthwise kernel: transformers keeps (D, 1, K), mlx-lm's sanitize
 * (D, K, 1); either way it is (D, K) after dropping the 1. Split into one
 * (D) vector per tap. */
static mx_status load_taps(lm_weights *w, const char *name, const lfm2_args *a, mx_dtype dt,
                           lfm2_layer *l) {
  int64_t D = a->hidden, K = a->K;
  mx_array t = lm_weights_take(w, name);
  if (!t) return mx_last_error_code();
  const int64_t *s = mx_array_shape(t);
  bool ok = mx_array_ndim(t) == 3 && s[0] == D &&
            ((s[1] == 1 && s[2] == K) || (s[1] == K && s[2] == 1));
  if (!ok) {
    mx_array_free(t);
    return set_error(MX_ERR_FORMAT, "load %s: \"%s\" must have shape (%lld, 1, %lld) or (%lld, "
                     "%lld, 1)", w->path, name, (long long)D, (long long)K, (long long)D,
                     (long long)K);
  }
  l->taps = calloc((size_t)K, sizeof *l->taps);
  if (!l->taps) {
    mx_array_free(t);
    return set_error(MX_ERR_OOM, "lfm2: out of memory");
  }
  int64_t s2[2] = {D, K};
  mx_array r = mx_reshape(t, s2, 2);
  mx_array c = mx_astype(r, dt);
  mx_array_free(t);
  mx_array_free(r);
  for (int64_t j = 0; j < K; j++) {
    int64_t start[2] = {0, j}, stop[2] = {D, j + 1};
    int64_t s1 = D;
    mx_array col = mx_slice(c, start, stop, NULL, 2);
    mx_array v = mx_reshape(col, &s1, 1);
    l->taps[j] = lm_own(mx_contiguous(v));
    mx_array_free(col);
    mx_array_free(v);
    if (!l->taps[j] || mx_eval1(l->taps[j])) {
      mx_array_free(c);
      return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
    }
  }
  mx_array_free(c);
  return MX_OK;
}

static void lfm2_destroy(void *impl) {
  lfm2 *m = impl;
  if (!m) return;
  if (m->L)
    for (int64_t i = 0; i < m->a.layers; i++) {
      lfm2_layer *l = &m->L[i];
      mx_array n[5] = {l->op_norm, l->ffn_norm, l->q_norm, l->k_norm, l->conv_bias};
      for (int j = 0; j < 5; j++) mx_array_free(n[j]);
      lm_linear *lin[9] = {&l->w1, &l->w2, &l->w3, &l->q, &l->k,
                           &l->v,  &l->o,  &l->in_proj, &l->out_proj};
      for (int j = 0; j < 9; j++) lm_linear_free(lin[j]);
      if (l->taps)
        for (int64_t j = 0; j < m->a.K; j++) mx_array_free(l->taps[j]);
      free(l->taps);
    }
  free(m->L);
  lm_linear_free(&m->embed);
  lm_linear_free(&m->head);
  mx_array_free(m->norm);
  lm_rope_free(&m->rope);
  free(m);
}

static void *lfm2_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  if (w->kind == LM_SRC_GGUF) {
    set_error(MX_ERR_UNSUPPORTED, "lfm2: GGUF checkpoints are not supported yet (load the "
              "safetensors model)");
    return NULL;
  }
  lfm2 *m = calloc(1, sizeof *m);
  cJSON *rc = NULL;
  if (!m) {
    set_error(MX_ERR_OOM, "lfm2: out of memory");
    return NULL;
  }
  lfm2_args *a = &m->a;
  if (parse_args(cfg, a)) goto fail;
  m->L = calloc((size_t)a->layers, sizeof *m->L);
  if (!m->L) {
    set_error(MX_ERR_OOM, "lfm2: out of memory");
    goto fail;
  }
  if (layer_kinds(cfg, m)) goto fail;
  /* LFM2's rope base defaults to 1e6 (and older configs call it "theta"). */
  if (!cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters") &&
      !cJSON_GetObjectItemCaseSensitive(cfg, "rope_theta")) {
    double theta;
    if (lm_cfg_float(cfg, "theta", 1e6, &theta, WHAT)) goto fail;
    if (!(rc = cJSON_Duplicate(cfg, 1)) || !cJSON_AddNumberToObject(rc, "rope_theta", theta)) {
      set_error(MX_ERR_OOM, "lfm2: out of memory");
      goto fail;
    }
  }
  if (lm_rope_init(&m->rope, rc ? rc : cfg, a->head_dim, "full_attention", WHAT)) goto fail;
  if (lm_linear_load(w, q, "model.embed_tokens", false, a->vocab, a->hidden, &m->embed))
    goto fail;
  m->dtype = lm_linear_dtype(&m->embed);
  /* mlx-lm always ties; an untied checkpoint (transformers) keeps lm_head. */
  if (a->tied || !lm_weights_has(w, "lm_head.weight")) {
    a->tied = true;
    lm_weights_ignore(w, "lm_head.weight");
  } else if (lm_linear_load(w, q, "lm_head", false, a->vocab, a->hidden, &m->head)) {
    goto fail;
  }
  if (!(m->norm = load_vec(w, "model.embedding_norm.weight", a->hidden, m->dtype))) goto fail;
  int64_t D = a->hidden, Dh = a->head_dim, F = a->ff;
  for (int64_t i = 0; i < a->layers; i++) {
    lfm2_layer *l = &m->L[i];
    char p[160], n[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)i);
#define LIN(field, sub, bias, o, in)                                   \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (lm_linear_load(w, q, n, bias, o, in, &l->field)) goto fail;
#define VEC(field, sub, dim)                                           \
  snprintf(n, sizeof n, "%s.%s", p, sub);                              \
  if (!(l->field = load_vec(w, n, dim, m->dtype))) goto fail;
    LIN(w1, "feed_forward.w1", false, F, D)
    LIN(w3, "feed_forward.w3", false, F, D)
    LIN(w2, "feed_forward.w2", false, D, F)
    VEC(op_norm, "operator_norm.weight", D)
    VEC(ffn_norm, "ffn_norm.weight", D)
    if (l->attn) {
      LIN(q, "self_attn.q_proj", false, a->heads * Dh, D)
      LIN(k, "self_attn.k_proj", false, a->kv_heads * Dh, D)
      LIN(v, "self_attn.v_proj", false, a->kv_heads * Dh, D)
      LIN(o, "self_attn.out_proj", false, D, a->heads * Dh)
      VEC(q_norm, "self_attn.q_layernorm.weight", Dh)
      VEC(k_norm, "self_attn.k_layernorm.weight", Dh)
    } else {
      LIN(in_proj, "conv.in_proj", a->conv_bias, 3 * D, D)
      LIN(out_proj, "conv.out_proj", a->conv_bias, D, D)
      snprintf(n, sizeof n, "%s.conv.conv.weight", p);
      if (load_taps(w, n, a, m->dtype, l)) goto fail;
      if (a->conv_bias) {
        VEC(conv_bias, "conv.conv.bias", D)
      }
    }
#undef LIN
#undef VEC
  }
  cJSON_Delete(rc);
  return m;
fail:
  cJSON_Delete(rc);
  lfm2_destroy(m);
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

static mx_array attention(const lfm2 *m, const lfm2_layer *l, mx_array x, lm_kv_cache *c) {
  const lfm2_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), Dh = a->head_dim;
  mx_array q = lm_linear_apply(&l->q, x); /* (B, L, Hq*Dh) */
  mx_array k = lm_linear_apply(&l->k, x); /* (B, L, Hkv*Dh) */
  mx_array v = lm_linear_apply(&l->v, x);
  SET(q, heads_first(q, B, L, a->heads, Dh)); /* (B, Hq, L, Dh) */
  SET(k, heads_first(k, B, L, a->kv_heads, Dh));
  SET(v, heads_first(v, B, L, a->kv_heads, Dh));
  SET(q, mx_fast_rms_norm(q, l->q_norm, (float)a->eps));
  SET(k, mx_fast_rms_norm(k, l->k_norm, (float)a->eps));
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

/* (B, L, 1) bool: which new positions of each row are real tokens (left
 * padding of batched prompts must not leak into the convolution state, as
 * mlx-lm's ssm mask). NULL (no error) when nothing is padded. */
static mx_array pad_mask(const mx_lm_cache *cache, const lm_kv_cache *c, int64_t B, int64_t L) {
  if (!cache || !cache->left_pad || cache->batch != B) return NULL;
  bool any = false;
  for (int64_t b = 0; b < B; b++) any |= cache->left_pad[b] > c->offset;
  if (!any) return NULL;
  bool *keep = malloc((size_t)(B * L > 0 ? B * L : 1));
  if (!keep) {
    set_error(MX_ERR_OOM, "lfm2: out of memory");
    return NULL;
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < L; i++) keep[b * L + i] = c->offset + i >= cache->left_pad[b];
  int64_t s[3] = {B, L, 1};
  mx_array r = mx_array_from_data(keep, s, 3, MX_BOOL);
  free(keep);
  return r;
}

/* The gated short convolution. With a cache, the previous K-1 inputs come
 * from c->conv (zeros at the start) and the last K-1 are stored back. */
static mx_array short_conv(const lfm2 *m, const lfm2_layer *l, mx_array x,
                           const mx_lm_cache *cache, lm_kv_cache *c) {
  const lfm2_args *a = &m->a;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), D = a->hidden, K = a->K;
  if (c && !(c->kind == LM_CACHE_CONV || (c->kind == LM_CACHE_STANDARD && !c->keys))) {
    set_error(MX_ERR_INVALID_ARG, "lfm2: convolution layer got a cache of kind %d",
              (int)c->kind);
    return NULL;
  }
  mx_array bcx = lm_linear_apply(&l->in_proj, x); /* (B, L, 3D) */
  mx_array parts[3] = {NULL, NULL, NULL};
  if (!bcx || mx_split_sections(bcx, 3, 2, parts)) {
    mx_array_free(bcx);
    return NULL;
  }
  mx_array_free(bcx);
  mx_array bx = mx_multiply(parts[0], parts[2]); /* (B, L, D) */
  if (c) {
    mx_array keep = pad_mask(cache, c, B, L);
    if (keep) {
      mx_array zero = mx_array_scalar(0.0, mx_array_dtype(bx));
      SET(bx, mx_where(keep, bx, zero));
      mx_array_free(zero);
      mx_array_free(keep);
    }
  }
  /* seq (B, K-1+L, D): the K-1 previous inputs, then the new ones. */
  mx_array seq = NULL;
  if (K == 1) {
    seq = mx_array_retain(bx);
  } else {
    mx_array prev = NULL;
    if (c && c->conv) {
      prev = mx_array_retain(c->conv);
    } else {
      int64_t zs[3] = {B, K - 1, D};
      prev = mx_zeros(zs, 3, mx_array_dtype(bx));
    }
    if (prev && c && c->conv && (mx_array_dim(prev, 0) != B || mx_array_dim(prev, 2) != D)) {
      set_error(MX_ERR_SHAPE, "lfm2: convolution state has batch %lld, the input %lld",
                (long long)mx_array_dim(prev, 0), (long long)B);
      SET(prev, NULL);
    }
    mx_array cat[2] = {prev, bx};
    if (prev && bx) seq = mx_concatenate(cat, 2, 1);
    mx_array_free(prev);
    if (c && seq) {
      int64_t start[3] = {0, L, 0}, stop[3] = {B, L + K - 1, D};
      mx_array tail = mx_slice(seq, start, stop, NULL, 3);
      /* Its own buffer, so the state does not pin this step's inputs. */
      mx_array st = lm_own(mx_contiguous(tail));
      mx_array_free(tail);
      if (st) {
        mx_array_free(c->conv);
        c->conv = st;
      } else {
        SET(seq, NULL);
      }
    }
  }
  if (c && seq) c->offset += L;
  mx_array_free(bx);
  mx_array y = NULL;
  for (int64_t j = 0; j < K && seq; j++) {
    int64_t start[3] = {0, j, 0}, stop[3] = {B, j + L, D};
    mx_array win = mx_slice(seq, start, stop, NULL, 3);
    mx_array t = mx_multiply(win, l->taps[j]);
    mx_array_free(win);
    if (!y) {
      y = t;
    } else {
      SET(y, mx_add(y, t));
      mx_array_free(t);
    }
    if (!y) break;
  }
  mx_array_free(seq);
  if (l->conv_bias) SET(y, mx_add(y, l->conv_bias));
  SET(y, mx_multiply(parts[1], y));
  for (int i = 0; i < 3; i++) mx_array_free(parts[i]);
  SET(y, lm_linear_apply(&l->out_proj, y));
  return y;
}

static mx_array feed_forward(const lfm2_layer *l, mx_array x) {
  mx_array g = lm_linear_apply(&l->w1, x); /* (B, L, F) */
  mx_array u = lm_linear_apply(&l->w3, x);
  mx_array s = mx_sigmoid(g);
  SET(g, mx_multiply(g, s)); /* silu */
  SET(g, mx_multiply(g, u));
  mx_array_free(s);
  mx_array_free(u);
  SET(g, lm_linear_apply(&l->w2, g)); /* (B, L, D) */
  return g;
}

static mx_array lfm2_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const lfm2 *m = impl;
  const lfm2_args *a = &m->a;
  if (!tokens) return NULL;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens))) {
    set_error(MX_ERR_SHAPE, "lfm2: tokens must be an integer array (B, L)");
    return NULL;
  }
  if (cache && cache->nlayers != a->layers) {
    set_error(MX_ERR_INVALID_ARG, "lfm2: cache has %lld layers, the model %lld",
              (long long)cache->nlayers, (long long)a->layers);
    return NULL;
  }
  float eps = (float)a->eps;
  mx_array h = lm_embedding_apply(&m->embed, tokens, m->dtype); /* (B, L, D) */
  for (int64_t i = 0; i < a->layers && h; i++) {
    const lfm2_layer *l = &m->L[i];
    lm_kv_cache *c = cache ? &cache->layers[i] : NULL;
    mx_array x = mx_fast_rms_norm(h, l->op_norm, eps);
    mx_array r = l->attn ? attention(m, l, x, c) : short_conv(m, l, x, cache, c);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
    x = mx_fast_rms_norm(h, l->ffn_norm, eps);
    r = feed_forward(l, x);
    mx_array_free(x);
    SET(h, mx_add(h, r));
    mx_array_free(r);
  }
  SET(h, mx_fast_rms_norm(h, m->norm, eps));
  SET(h, lm_linear_apply(a->tied ? &m->embed : &m->head, h)); /* (B, L, V) */
  return h;
}

static int64_t lfm2_layers(const void *impl) { return ((const lfm2 *)impl)->a.layers; }
static int64_t lfm2_vocab(const void *impl) { return ((const lfm2 *)impl)->a.vocab; }
static mx_dtype lfm2_dtype(const void *impl) { return ((const lfm2 *)impl)->dtype; }

static void lfm2_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  const lfm2 *m = impl;
  bool conv = layer >= 0 && layer < m->a.layers && !m->L[layer].attn;
  spec->kind = conv ? LM_LAYER_CONV : LM_LAYER_ATTENTION;
  spec->window = 0;
}

static uint64_t lfm2_weight_bytes(const void *impl) {
  const lfm2 *m = impl;
  uint64_t n = lm_linear_nbytes(m->a.tied ? &m->embed : &m->head);
  n += mx_array_nbytes(m->norm);
  for (int64_t i = 0; i < m->a.layers; i++) {
    const lfm2_layer *l = &m->L[i];
    const lm_linear *lin[9] = {&l->w1, &l->w2, &l->w3, &l->q, &l->k,
                               &l->v,  &l->o,  &l->in_proj, &l->out_proj};
    for (int j = 0; j < 9; j++)
      if (lin[j]->w) n += lm_linear_nbytes(lin[j]);
    mx_array v[5] = {l->op_norm, l->ffn_norm, l->q_norm, l->k_norm, l->conv_bias};
    for (int j = 0; j < 5; j++)
      if (v[j]) n += mx_array_nbytes(v[j]);
    if (l->taps)
      for (int64_t j = 0; j < m->a.K; j++) n += mx_array_nbytes(l->taps[j]);
  }
  return n;
}

const lm_arch lm_arch_lfm2 = {
    .name = "lfm2",
    .create = lfm2_create,
    .destroy = lfm2_destroy,
    .forward = lfm2_forward,
    .num_layers = lfm2_layers,
    .vocab_size = lfm2_vocab,
    .dtype = lfm2_dtype,
    .weight_bytes = lfm2_weight_bytes,
    .layer_spec = lfm2_layer_spec,
};
