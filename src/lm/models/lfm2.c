/* lfm2.c — Liquid LFM2, as mlx_lm/models/lfm2.py (transformers'
 * modeling_lfm2.py for numerics): pre-norm blocks whose operator is either
 * grouped-query attention (q/k RMSNorm per head, RoPE) or a gated short
 * convolution, each followed by a SwiGLU feed-forward. The short
 * convolution projects x to (B, C, x'), convolves B*x' along the sequence
 * with a depthwise causal kernel of conv_L_cache taps, and gates the result
 * with C. Its cache is the last conv_L_cache - 1 inputs (lm_kv_cache.conv).
 * The final norm is called embedding_norm; the output head is tied.
 *
 * Shapes: B batch, L new tokens, D hidden (= conv channels), K conv taps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/ops.h"

/* d.L[i]: in_norm is operator_norm, post_norm ffn_norm, mlp feed_forward
 * (w1 gate, w3 up, w2 down); attention on full_attention layers. */
typedef struct lfm2_conv {
  lm_linear in_proj, out_proj; /* (3D, D), (D, D) */
  mx_array *taps;              /* K arrays (D): tap j weighs input t - (K-1) + j */
  mx_array bias;               /* (D) or NULL */
} lfm2_conv;

typedef struct lfm2 {
  lm_dec d;
  int64_t K;
  bool conv_bias;
  lfm2_conv *conv; /* per layer; loaded on the convolution layers */
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

static mx_status parse_args(const cJSON *c, lfm2 *m) {
  lm_dec_args *a = &m->d.a;
  mx_status st;
  int64_t ff, multiple;
  double mult;
  bool adjust;
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
      (st = lm_cfg_int(c, "conv_L_cache", 3, &m->K, WHAT)) ||
      (st = lm_cfg_int(c, "block_multiple_of", 256, &multiple, WHAT)) ||
      (st = lm_cfg_float(c, "block_ffn_dim_multiplier", 1.0, &mult, WHAT)) ||
      (st = lm_cfg_float(c, "norm_eps", 1e-5, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "block_auto_adjust_ff_dim", true, &adjust, WHAT)) ||
      (st = lm_cfg_bool(c, "conv_bias", false, &m->conv_bias, WHAT)) ||
      (st = lm_cfg_bool(c, tie_key, true, &a->tied, WHAT)) || (st = lm_dec_init(&m->d, WHAT)))
    return st;
  if (m->K < 1 || m->K > 64)
    return set_error(MX_ERR_FORMAT, WHAT ": conv_L_cache %lld must be in [1, 64]",
                     (long long)m->K);
  if (multiple < 1 || multiple > (1 << 20))
    return set_error(MX_ERR_FORMAT, WHAT ": block_multiple_of %lld must be positive",
                     (long long)multiple);
  if (ff > ((int64_t)1 << 40) || !(mult > 0 && mult < 1e6))
    return set_error(MX_ERR_FORMAT, WHAT ": feed-forward size %lld x %g is out of range",
                     (long long)ff, mult);
  a->inter = ff_dim(ff, adjust, cJSON_GetObjectItemCaseSensitive(c, "block_ffn_dim_multiplier"),
                    mult, multiple);
  if (a->inter <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": feed-forward size %lld must be positive",
                     (long long)a->inter);
  return MX_OK;
}

/* Attention layers: layer_types, else full_attn_idxs, else (transformers'
 * default) every layer; the others are convolutions. */
static mx_status layer_kinds(const cJSON *c, lfm2 *m) {
  int64_t n = m->d.a.layers;
  lm_dec_layer *L = m->d.L;
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
        L[i].spec.kind = LM_LAYER_ATTENTION;
      } else if (strcmp(e->valuestring, "conv") == 0) {
        L[i].spec.kind = LM_LAYER_CONV;
      } else {
        return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" (layer %lld) is not "
                         "supported (conv, full_attention)", e->valuestring, (long long)i);
      }
    }
  } else if (fa && !cJSON_IsNull(fa)) {
    if (!cJSON_IsArray(fa))
      return set_error(MX_ERR_FORMAT, WHAT ": full_attn_idxs must be a list of layer indices");
    for (int64_t i = 0; i < n; i++) L[i].spec.kind = LM_LAYER_CONV;
    const cJSON *e;
    cJSON_ArrayForEach(e, fa) {
      if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 ||
          e->valuedouble >= (double)n)
        return set_error(MX_ERR_FORMAT, WHAT ": full_attn_idxs entries must be layer indices "
                         "in [0, %lld)", (long long)n);
      L[(int64_t)e->valuedouble].spec.kind = LM_LAYER_ATTENTION;
    }
  } else {
    for (int64_t i = 0; i < n; i++) L[i].spec.kind = LM_LAYER_ATTENTION;
  }
  return MX_OK;
}

/* The depthwise kernel: transformers keeps (D, 1, K), mlx-lm's sanitize
 * (D, K, 1); either way it is (D, K) after dropping the 1. Split into one
 * (D) vector per tap. */
static mx_status load_taps(lm_weights *w, const char *name, int64_t D, int64_t K, mx_dtype dt,
                           lfm2_conv *l) {
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
 * from c->conv (zeros at the start) and the last K-1 are stored back.
 * (lm_dec.mixer of the convolution layers.) */
static mx_array short_conv(const lm_dec *d, int64_t layer, mx_array x, mx_lm_cache *cache) {
  const lfm2 *m = (const lfm2 *)d;
  const lfm2_conv *l = &m->conv[layer];
  lm_kv_cache *c = cache ? &cache->layers[layer] : NULL;
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 1), D = d->a.hidden, K = m->K;
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
  if (c && bx) {
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
  if (l->bias) SET(y, mx_add(y, l->bias));
  SET(y, mx_multiply(parts[1], y));
  for (int i = 0; i < 3; i++) mx_array_free(parts[i]);
  SET(y, lm_linear_apply(&l->out_proj, y));
  return y;
}

static void lfm2_destroy(void *impl) {
  lfm2 *m = impl;
  if (!m) return;
  if (m->conv)
    for (int64_t i = 0; i < m->d.a.layers; i++) {
      lfm2_conv *l = &m->conv[i];
      lm_linear_free(&l->in_proj);
      lm_linear_free(&l->out_proj);
      if (l->taps)
        for (int64_t j = 0; j < m->K; j++) mx_array_free(l->taps[j]);
      free(l->taps);
      mx_array_free(l->bias);
    }
  free(m->conv);
  lm_dec_destroy(m);
}

static void *lfm2_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  if (w->kind == LM_SRC_GGUF) {
    set_error(MX_ERR_UNSUPPORTED, "lfm2: GGUF checkpoints are not supported yet (load the "
              "safetensors model)");
    return NULL;
  }
  lfm2 *m = lm_dec_new(sizeof *m, "lfm2");
  cJSON *rc = NULL;
  if (!m) return NULL;
  lm_dec *d = &m->d;
  const lm_dec_args *a = &d->a;
  if (parse_args(cfg, m) || layer_kinds(cfg, m)) goto fail;
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
  if (lm_rope_init(&d->rope, rc ? rc : cfg, a->head_dim, "full_attention", WHAT)) goto fail;
  /* mlx-lm always ties; an untied checkpoint (transformers) keeps lm_head. */
  lm_dec_names names = {.norm = "embedding_norm", .tie_if_missing = true};
  static const lm_mlp_opts ff = {"feed_forward.w1", "feed_forward.w3", "feed_forward.w2",
                                 false, NULL};
  lm_block_opts blocks = {.attn = {.o_proj = "out_proj", .q_norm = "q_layernorm",
                                   .k_norm = "k_layernorm"},
                          .mlp = &ff, .in_norm = "operator_norm", .post_norm = "ffn_norm"};
  if (lm_dec_load_outer(d, w, q, &names) || lm_dec_load_blocks(d, w, q, &blocks)) goto fail;
  if (!(m->conv = calloc((size_t)a->layers, sizeof *m->conv))) {
    set_error(MX_ERR_OOM, "lfm2: out of memory");
    goto fail;
  }
  int64_t D = a->hidden;
  for (int64_t i = 0; i < a->layers; i++) {
    if (d->L[i].spec.kind != LM_LAYER_CONV) continue;
    lfm2_conv *l = &m->conv[i];
    char p[160], n[256];
    lm_dec_layer_prefix(p, sizeof p, NULL, i);
    snprintf(n, sizeof n, "%s.conv.in_proj", p);
    if (lm_linear_load(w, q, n, m->conv_bias, 3 * D, D, &l->in_proj)) goto fail;
    snprintf(n, sizeof n, "%s.conv.out_proj", p);
    if (lm_linear_load(w, q, n, m->conv_bias, D, D, &l->out_proj)) goto fail;
    snprintf(n, sizeof n, "%s.conv.conv.weight", p);
    if (load_taps(w, n, D, m->K, d->dtype, l)) goto fail;
    snprintf(n, sizeof n, "%s.conv.conv.bias", p);
    if (m->conv_bias && !(l->bias = lm_dec_load_vec(w, n, D, d->dtype))) goto fail;
  }
  d->mixer = short_conv;
  cJSON_Delete(rc);
  return m;
fail:
  cJSON_Delete(rc);
  lfm2_destroy(m);
  return NULL;
}

static uint64_t lfm2_weight_bytes(const void *impl) {
  const lfm2 *m = impl;
  uint64_t n = lm_dec_bytes(&m->d);
  for (int64_t i = 0; i < m->d.a.layers; i++) {
    const lfm2_conv *l = &m->conv[i];
    n += lm_linear_nbytes(&l->in_proj) + lm_linear_nbytes(&l->out_proj);
    n += mx_array_nbytes(l->bias);
    if (l->taps)
      for (int64_t j = 0; j < m->K; j++) n += mx_array_nbytes(l->taps[j]);
  }
  return n;
}

const lm_arch lm_arch_lfm2 = {
    .name = "lfm2",
    .create = lfm2_create,
    .destroy = lfm2_destroy,
    .forward = lm_dec_forward,
    .num_layers = lm_dec_num_layers,
    .vocab_size = lm_dec_vocab_size,
    .dtype = lm_dec_dtype,
    .weight_bytes = lfm2_weight_bytes,
    .layer_spec = lm_dec_layer_spec,
};
