/* decoder.c — the model around the blocks and the block loop shared by the
 * decoder-only architectures (decoder.h). */
#include "decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../backend/cpu/fast_fused.h"
#include "../../core/core.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

void *lm_dec_new(size_t size, const char *name) {
  lm_dec *d = calloc(1, size);
  if (!d) {
    set_error(MX_ERR_OOM, "%s: out of memory", name);
    return NULL;
  }
  d->name = name;
  return d;
}

/* ------------------------------------------------------------ config */

mx_status lm_dec_parse_args(lm_dec *d, const cJSON *c, bool tied_default, double eps_default,
                            const char *what) {
  lm_dec_args *a = &d->a;
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, what)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, what)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, what)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, what)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, what)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, what)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, what)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", eps_default, &a->eps, what)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", tied_default, &a->tied, what)))
    return st;
  return lm_dec_init(d, what);
}

mx_status lm_dec_init(lm_dec *d, const char *what) {
  lm_dec_args *a = &d->a;
  if (a->layers > 100000)
    return set_error(MX_ERR_FORMAT, "%s: num_hidden_layers %lld is too large", what,
                     (long long)a->layers);
  if (a->head_dim == 0) {
    if (a->hidden % a->heads)
      return set_error(MX_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of "
                       "num_attention_heads %lld", what, (long long)a->hidden,
                       (long long)a->heads);
    a->head_dim = a->hidden / a->heads;
  }
  if (a->kv_heads <= 0 || a->heads % a->kv_heads)
    return set_error(MX_ERR_FORMAT, "%s: num_attention_heads %lld is not a multiple of "
                     "num_key_value_heads %lld", what, (long long)a->heads,
                     (long long)a->kv_heads);
  if (a->head_dim <= 0 || a->head_dim % 2 || a->head_dim > 4096)
    return set_error(MX_ERR_FORMAT, "%s: head_dim %lld must be even and positive", what,
                     (long long)a->head_dim);
  if (!(a->eps > 0)) return set_error(MX_ERR_FORMAT, "%s: rms_norm_eps must be > 0", what);
  d->L = calloc((size_t)a->layers, sizeof *d->L);
  if (!d->L) return set_error(MX_ERR_OOM, "%s: out of memory", d->name);
  return MX_OK;
}

mx_status lm_dec_windows(lm_dec *d, const cJSON *cfg, int64_t window, int64_t first_windowed,
                         const char *what) {
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(cfg, "layer_types"), *e;
  if (lt && !cJSON_IsNull(lt) &&
      (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->a.layers))
    return set_error(MX_ERR_FORMAT, "%s: layer_types must list %lld layer types", what,
                     (long long)d->a.layers);
  int64_t i = 0;
  bool any = false;
  cJSON_ArrayForEach(e, lt) {
    const char *s = cJSON_IsString(e) ? e->valuestring : "";
    if (strcmp(s, "sliding_attention") == 0) any = true;
    else if (strcmp(s, "full_attention") != 0)
      return set_error(MX_ERR_UNSUPPORTED, "%s: layer type \"%s\" (layer %lld) is not supported",
                       what, s, (long long)i);
    i++;
  }
  if (window <= 0) {
    if (any)
      return set_error(MX_ERR_FORMAT, "%s: layer_types has sliding_attention layers but there "
                       "is no sliding_window", what);
    return MX_OK;
  }
  i = 0;
  if (lt && !cJSON_IsNull(lt)) {
    cJSON_ArrayForEach(e, lt) {
      d->L[i].spec.window = strcmp(e->valuestring, "sliding_attention") == 0 ? window : 0;
      i++;
    }
  } else {
    for (i = 0; i < d->a.layers; i++) d->L[i].spec.window = i >= first_windowed ? window : 0;
  }
  return MX_OK;
}

mx_status lm_dec_qwen_windows(lm_dec *d, const cJSON *cfg, const char *what) {
  bool use;
  int64_t window, first;
  mx_status st;
  if ((st = lm_cfg_bool(cfg, "use_sliding_window", false, &use, what)) ||
      (st = lm_cfg_int(cfg, "sliding_window", 0, &window, what)) ||
      (st = lm_cfg_int(cfg, "max_window_layers", 28, &first, what)))
    return st;
  if (!use) return MX_OK;
  if (window <= 0)
    return set_error(MX_ERR_FORMAT, "%s: use_sliding_window is true but sliding_window is "
                     "not a positive integer", what);
  return lm_dec_windows(d, cfg, window, first, what);
}

/* ------------------------------------------------------------ weights */

static mx_array load_vec(lm_weights *w, const char *name, int64_t dim, const char *kind) {
  mx_array a = lm_weights_take(w, name);
  if (a && (mx_array_ndim(a) != 1 || mx_array_dim(a, 0) != dim)) {
    set_error(MX_ERR_FORMAT, "load %s: %s\"%s\" must have shape (%lld)", w->path, kind, name,
              (long long)dim);
    mx_array_free(a);
    return NULL;
  }
  return a;
}

mx_array lm_dec_load_vec(lm_weights *w, const char *name, int64_t dim, mx_dtype dt) {
  mx_array a = load_vec(w, name, dim, "");
  if (a && mx_array_dtype(a) != dt) SET(a, lm_own(mx_astype(a, dt)));
  return a;
}

mx_array lm_dec_load_norm(const lm_dec *d, lm_weights *w, const char *name, int64_t dim) {
  mx_array a = load_vec(w, name, dim, "norm ");
  if (!a) return NULL;
  if (d->norm_plus_one) {
    /* 1 + w computed once, in the model dtype (as mlx-lm's Gemma RMSNorm
     * adds 1.0 to the weight in its dtype). */
    mx_array c = mx_astype(a, d->dtype);
    mx_array one = mx_array_scalar(1.0, d->dtype);
    mx_array r = lm_own(mx_add(c, one));
    mx_array_free(a);
    mx_array_free(c);
    mx_array_free(one);
    if (r && mx_eval1(r)) SET(r, NULL);
    return r;
  }
  /* GGUF keeps norms in f32 next to f16 matrices; compute in one dtype. */
  if (mx_array_dtype(a) != d->dtype) SET(a, lm_own(mx_astype(a, d->dtype)));
  return a;
}

mx_status lm_dec_load_outer(lm_dec *d, lm_weights *w, const lm_quant_cfg *q,
                            const lm_dec_names *n) {
  lm_dec_args *a = &d->a;
  const char *prefix = n && n->prefix ? n->prefix : "model.";
  const char *head = n && n->head ? n->head : "lm_head";
  char name[256];
  mx_status st;
  snprintf(name, sizeof name, "%sembed_tokens", prefix);
  if ((st = lm_linear_load(w, q, name, false, a->vocab, a->hidden, &d->embed))) return st;
  d->dtype = lm_linear_dtype(&d->embed);
  snprintf(name, sizeof name, "%s.weight", head);
  if (n && n->tie_if_missing && !lm_weights_has(w, name)) a->tied = true;
  if (a->tied) {
    lm_weights_ignore(w, name); /* mlx-lm's sanitize drops it */
  } else if ((st = lm_linear_load(w, q, head, false, a->vocab, a->hidden, &d->head))) {
    return st;
  }
  snprintf(name, sizeof name, "%s%s.weight", prefix, n && n->norm ? n->norm : "norm");
  if (!(d->norm = lm_dec_load_norm(d, w, name, a->hidden))) return mx_last_error_code();
  return MX_OK;
}

void lm_dec_layer_prefix(char *buf, size_t cap, const char *prefix, int64_t layer) {
  snprintf(buf, cap, "%slayers.%lld", prefix ? prefix : "model.", (long long)layer);
}

mx_status lm_dec_load_blocks(lm_dec *d, lm_weights *w, const lm_quant_cfg *q,
                             const lm_block_opts *o) {
  const lm_dec_args *a = &d->a;
  mx_status st;
  for (int64_t i = 0; i < a->layers; i++) {
    lm_dec_layer *l = &d->L[i];
    char p[160], n[256];
    lm_dec_layer_prefix(p, sizeof p, o->prefix, i);
    if (l->spec.kind == LM_LAYER_ATTENTION && (st = lm_attn_load(&l->attn, d, w, q, p, &o->attn)))
      return st;
    if (l->sparse ? (st = lm_sparse_moe_load(&l->moe, w, q, p, &o->moe, a->hidden))
                  : (st = lm_mlp_load(&l->mlp, w, q, p, o->mlp, a->hidden, a->inter)))
      return st;
    snprintf(n, sizeof n, "%s.%s.weight", p, o->in_norm ? o->in_norm : "input_layernorm");
    if (!(l->in_norm = lm_dec_load_norm(d, w, n, a->hidden))) return mx_last_error_code();
    snprintf(n, sizeof n, "%s.%s.weight", p,
             o->post_norm ? o->post_norm : "post_attention_layernorm");
    if (!(l->post_norm = lm_dec_load_norm(d, w, n, a->hidden))) return mx_last_error_code();
    snprintf(n, sizeof n, "%s.self_attn.rotary_emb.inv_freq", p);
    lm_weights_ignore(w, n);
  }
  return MX_OK;
}

void lm_dec_free(lm_dec *d) {
  if (d->L)
    for (int64_t i = 0; i < d->a.layers; i++) {
      lm_dec_layer *l = &d->L[i];
      mx_array_free(l->in_norm);
      mx_array_free(l->post_norm);
      lm_attn_free(&l->attn);
      lm_mlp_free(&l->mlp);
      lm_sparse_moe_free(&l->moe);
    }
  free(d->L);
  d->L = NULL;
  lm_linear_free(&d->embed);
  lm_linear_free(&d->head);
  mx_array_free(d->norm);
  d->norm = NULL;
  lm_rope_free(&d->rope);
}

/* ------------------------------------------------------------ forward */

mx_status lm_dec_check_call(const lm_dec *d, mx_array tokens, const mx_lm_cache *cache) {
  if (!tokens) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_NULL_INPUT;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens)))
    return set_error(MX_ERR_SHAPE, "%s: tokens must be an integer array (B, L)", d->name);
  if (cache && cache->nlayers != d->a.layers)
    return set_error(MX_ERR_INVALID_ARG, "%s: cache has %lld layers, the model %lld", d->name,
                     (long long)cache->nlayers, (long long)d->a.layers);
  return MX_OK;
}

/* MLXC_FUSE=0 (all fusions) or MLXC_FUSE_ADD_NORM=0 (this one) keep the
 * separate residual adds and norms, for A/B comparisons. */
static bool add_norm_enabled(void) {
  static int on = -1;
  if (on < 0) on = lm_fuse_enabled() && env_long("MLXC_FUSE_ADD_NORM", 1, 0, 1);
  return on;
}

/* mlx-lm's TransformerBlock: h + mixer(in_norm(h)), then that plus
 * ffn(post_norm(.)). h (B, L, D); frees h. With *xn (fused mode, xn not
 * NULL): each residual add and the norm after it are one node
 * (fast_add_rms_norm, the same bits); *xn holds in_norm(h) on entry (NULL:
 * computed here) and, on return, `next_norm`(the new h): the next block's
 * in_norm or the final norm. */
static mx_array block(const lm_dec *d, int64_t i, mx_array h, mx_lm_cache *cache, mx_array *xn,
                      mx_array next_norm) {
  const lm_dec_layer *l = &d->L[i];
  float eps = (float)d->a.eps;
  mx_array x = xn && *xn ? *xn : mx_fast_rms_norm(h, l->in_norm, eps);
  if (xn) *xn = NULL;
  mx_array r = l->spec.kind == LM_LAYER_ATTENTION
                   ? lm_attn_apply(&l->attn, x, cache ? &cache->layers[i] : NULL, l->spec.window)
                   : d->mixer(d, i, x, cache);
  mx_array_free(x);
  if (xn) {
    mx_array h2 = NULL;
    if (fast_add_rms_norm(h, r, l->post_norm, eps, &h2, &x)) x = NULL;
    SET(h, h2);
  } else {
    SET(h, mx_add(h, r));
    x = mx_fast_rms_norm(h, l->post_norm, eps);
  }
  mx_array_free(r);
  r = l->sparse ? lm_sparse_moe_apply(&l->moe, x) : lm_mlp_apply(&l->mlp, x);
  mx_array_free(x);
  if (xn) {
    mx_array h2 = NULL;
    if (fast_add_rms_norm(h, r, next_norm, eps, &h2, xn)) *xn = NULL;
    SET(h, h2);
  } else {
    SET(h, mx_add(h, r));
  }
  mx_array_free(r);
  return h;
}

mx_array lm_dec_logits(const lm_dec *d, mx_array h) {
  SET(h, mx_fast_rms_norm(h, d->norm, (float)d->a.eps));
  SET(h, lm_linear_apply(d->a.tied ? &d->embed : &d->head, h));
  return h;
}

uint64_t lm_dec_bytes(const lm_dec *d) {
  /* Decode reads one embedding row but the whole output head. */
  uint64_t n = lm_linear_nbytes(d->a.tied ? &d->embed : &d->head) + mx_array_nbytes(d->norm);
  for (int64_t i = 0; i < d->a.layers; i++) {
    const lm_dec_layer *l = &d->L[i];
    n += mx_array_nbytes(l->in_norm) + mx_array_nbytes(l->post_norm);
    n += lm_attn_nbytes(&l->attn) + lm_mlp_nbytes(&l->mlp) + lm_sparse_moe_nbytes(&l->moe);
  }
  return n;
}

/* ------------------------------------------------------------ lm_arch */

void lm_dec_destroy(void *impl) {
  if (!impl) return;
  lm_dec_free(impl);
  free(impl);
}

void *lm_dec_finish(lm_dec *d, lm_weights *w, const lm_quant_cfg *q, const lm_block_opts *o) {
  if (lm_dec_load_outer(d, w, q, NULL) || lm_dec_load_blocks(d, w, q, o)) return lm_dec_fail(d);
  return d;
}

void *lm_dec_fail(void *d) {
  lm_dec_destroy(d);
  return NULL;
}

mx_array lm_dec_forward(const void *impl, mx_array tokens, mx_lm_cache *cache) {
  const lm_dec *d = impl;
  if (lm_dec_check_call(d, tokens, cache)) return NULL;
  mx_array h = lm_embedding_apply(&d->embed, tokens, d->dtype); /* (B, L, D) */
  if (!add_norm_enabled()) {
    for (int64_t i = 0; i < d->a.layers && h; i++) h = block(d, i, h, cache, NULL, NULL);
    return lm_dec_logits(d, h); /* (B, L, V) */
  }
  /* Fused residual adds: the last block hands back the final norm too. */
  mx_array x = NULL;
  for (int64_t i = 0; i < d->a.layers && h; i++)
    h = block(d, i, h, cache, &x, i + 1 < d->a.layers ? d->L[i + 1].in_norm : d->norm);
  if (!h || !d->a.layers) {
    mx_array_free(x);
    return lm_dec_logits(d, h);
  }
  mx_array_free(h);
  mx_array y = x ? lm_linear_apply(d->a.tied ? &d->embed : &d->head, x) : NULL; /* (B, L, V) */
  mx_array_free(x);
  return y;
}

int64_t lm_dec_num_layers(const void *impl) { return ((const lm_dec *)impl)->a.layers; }
int64_t lm_dec_vocab_size(const void *impl) { return ((const lm_dec *)impl)->a.vocab; }
mx_dtype lm_dec_dtype(const void *impl) { return ((const lm_dec *)impl)->dtype; }
uint64_t lm_dec_weight_bytes(const void *impl) { return lm_dec_bytes(impl); }

void lm_dec_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec) {
  const lm_dec *d = impl;
  if (layer >= 0 && layer < d->a.layers) *spec = d->L[layer].spec;
  else *spec = (lm_layer_spec){LM_LAYER_ATTENTION, 0};
}
