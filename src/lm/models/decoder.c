/* decoder.c — the shared parts of the Llama-like decoders (decoder.h). */
#include "decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

mx_status lm_dec_parse_args(const cJSON *c, lm_dec_args *a, bool tied_default,
                            const char *head_dim_key, const char *what) {
  mx_status st;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, what)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, what)) ||
      (st = lm_cfg_req_int(c, "intermediate_size", &a->inter, what)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, what)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, what)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, what)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, what)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", tied_default, &a->tied, what)))
    return st;
  a->head_dim = 0;
  if (head_dim_key && (st = lm_cfg_int(c, head_dim_key, 0, &a->head_dim, what))) return st;
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
  d->window = calloc((size_t)d->a.layers, sizeof *d->window);
  if (!d->window) return set_error(MX_ERR_OOM, "%s: out of memory", what);
  i = 0;
  if (lt && !cJSON_IsNull(lt)) {
    cJSON_ArrayForEach(e, lt) {
      d->window[i] = strcmp(e->valuestring, "sliding_attention") == 0 ? window : 0;
      i++;
    }
  } else {
    for (i = 0; i < d->a.layers; i++) d->window[i] = i >= first_windowed ? window : 0;
  }
  return MX_OK;
}

mx_array lm_dec_load_norm(lm_weights *w, const char *name, int64_t dim, mx_dtype dt) {
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

mx_status lm_dec_load_outer(lm_dec *d, lm_weights *w, const lm_quant_cfg *q) {
  const lm_dec_args *a = &d->a;
  mx_status st;
  if ((st = lm_linear_load(w, q, "model.embed_tokens", false, a->vocab, a->hidden, &d->embed)))
    return st;
  d->dtype = lm_linear_dtype(&d->embed);
  if (a->tied) {
    lm_weights_ignore(w, "lm_head.weight"); /* mlx-lm's sanitize drops it */
  } else if ((st = lm_linear_load(w, q, "lm_head", false, a->vocab, a->hidden, &d->head))) {
    return st;
  }
  if (!(d->norm = lm_dec_load_norm(w, "model.norm.weight", a->hidden, d->dtype)))
    return mx_last_error_code();
  return MX_OK;
}

void lm_dec_free(lm_dec *d) {
  lm_linear_free(&d->embed);
  lm_linear_free(&d->head);
  mx_array_free(d->norm);
  d->norm = NULL;
  free(d->window);
  d->window = NULL;
}

mx_status lm_dec_check_call(const lm_dec *d, mx_array tokens, const mx_lm_cache *cache,
                            const char *name) {
  if (!tokens) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_NULL_INPUT;
  if (mx_array_ndim(tokens) != 2 || !mx_dtype_is_integer(mx_array_dtype(tokens)))
    return set_error(MX_ERR_SHAPE, "%s: tokens must be an integer array (B, L)", name);
  if (cache && cache->nlayers != d->a.layers)
    return set_error(MX_ERR_INVALID_ARG, "%s: cache has %lld layers, the model %lld", name,
                     (long long)cache->nlayers, (long long)d->a.layers);
  return MX_OK;
}

mx_array lm_dec_heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh) {
  int64_t s[4] = {B, L, H, Dh};
  int perm[4] = {0, 2, 1, 3};
  mx_array r = mx_reshape(x, s, 4);
  mx_array t = mx_transpose(r, perm, 4);
  mx_array_free(r);
  return t;
}

mx_array lm_dec_heads_merge(mx_array o) {
  if (!o) return NULL;
  int64_t B = mx_array_dim(o, 0), H = mx_array_dim(o, 1), L = mx_array_dim(o, 2),
          Dh = mx_array_dim(o, 3);
  int perm[4] = {0, 2, 1, 3};
  int64_t s[3] = {B, L, H * Dh};
  mx_array t = mx_transpose(o, perm, 4);
  mx_array r = mx_reshape(t, s, 3);
  mx_array_free(t);
  return r;
}

mx_array lm_dec_swiglu(mx_array gate, mx_array up) {
  mx_array s = mx_sigmoid(gate);
  mx_array g = mx_multiply(gate, s); /* silu */
  SET(g, mx_multiply(g, up));
  mx_array_free(s);
  return g;
}

mx_array lm_dec_logits(const lm_dec *d, mx_array h) {
  SET(h, mx_fast_rms_norm(h, d->norm, (float)d->a.eps));
  SET(h, lm_linear_apply(d->a.tied ? &d->embed : &d->head, h));
  return h;
}

uint64_t lm_dec_outer_bytes(const lm_dec *d) {
  /* Decode reads one embedding row but the whole output head. */
  return lm_linear_nbytes(d->a.tied ? &d->embed : &d->head) + mx_array_nbytes(d->norm);
}

void lm_dec_layer_spec(const lm_dec *d, int64_t layer, lm_layer_spec *spec) {
  spec->kind = LM_LAYER_ATTENTION;
  spec->window = d->window && layer >= 0 && layer < d->a.layers ? d->window[layer] : 0;
}
