/* rope.c — rotary position embeddings as configured by a checkpoint: where
 * the parameters live (transformers v5 "rope_parameters", possibly per layer
 * type, or v4 "rope_theta" + "rope_scaling") and what each scaling type
 * does to the frequencies (mlx-lm's initialize_rope; transformers'
 * ROPE_INIT_FUNCTIONS for the types mlx-lm lacks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

void lm_rope_init_base(lm_rope *r, int dims, float base, bool traditional) {
  memset(r, 0, sizeof *r);
  r->kind = LM_ROPE_DEFAULT;
  r->dims = dims;
  r->base = base;
  r->scale = 1.0f;
  r->mscale = 1.0f;
  r->traditional = traditional;
}

void lm_rope_free(lm_rope *r) {
  if (!r) return;
  mx_array_free(r->freqs);
  mx_array_free(r->long_freqs);
  r->freqs = r->long_freqs = NULL;
}

/* The object holding the rope parameters, and whether it is v5-style. */
static const cJSON *rope_params(const cJSON *cfg, const char *layer_type) {
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
  if (cJSON_IsObject(rp)) {
    const cJSON *sub = layer_type ? cJSON_GetObjectItemCaseSensitive(rp, layer_type) : NULL;
    return cJSON_IsObject(sub) ? sub : rp;
  }
  return NULL;
}

/* mlx-lm's Llama3RoPE frequencies, computed in float32 as it does. */
static mx_status llama3_freqs(lm_rope *r, const cJSON *rs, double factor, const char *what) {
  double lo, hi, old;
  mx_status st;
  if ((st = lm_cfg_float(rs, "low_freq_factor", 1.0, &lo, what)) ||
      (st = lm_cfg_float(rs, "high_freq_factor", 4.0, &hi, what)) ||
      (st = lm_cfg_float(rs, "original_max_position_embeddings", 8192, &old, what)))
    return st;
  if (hi == lo) return set_error(MX_ERR_FORMAT, "%s: llama3 rope needs low != high freq factor", what);
  int64_t n = r->dims / 2;
  float *f = malloc((size_t)n * sizeof *f);
  if (!f) return set_error(MX_ERR_OOM, "%s: out of memory", what);
  float lo_w = (float)(old / lo), hi_w = (float)(old / hi);
  for (int64_t i = 0; i < n; i++) {
    float fr = powf(r->base, (float)(2 * i) / (float)r->dims);
    float wl = 2.0f * (float)M_PI * fr;
    float fi = wl > lo_w ? fr * (float)factor : fr;
    bool medium = wl > hi_w && wl < lo_w;
    float smooth = ((float)old / wl - (float)lo) / (float)(hi - lo);
    float sf = fi / ((1.0f - smooth) / (float)factor + smooth);
    f[i] = medium ? sf : fi;
  }
  r->freqs = lm_own(mx_array_from_data(f, &n, 1, MX_FLOAT32));
  free(f);
  r->kind = LM_ROPE_FREQS;
  return r->freqs ? MX_OK : mx_last_error_code();
}

mx_status lm_rope_init(lm_rope *r, const cJSON *cfg, int64_t head_dim, const char *layer_type,
                       const char *what) {
  mx_status st;
  const cJSON *rp = rope_params(cfg, layer_type);
  const cJSON *rs = rp;
  if (!rp) {
    rs = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (rs && !cJSON_IsNull(rs) && !cJSON_IsObject(rs))
      return set_error(MX_ERR_FORMAT, "%s: rope_scaling must be an object", what);
    if (cJSON_IsNull(rs)) rs = NULL;
  }
  double theta, partial;
  bool trad;
  if ((st = lm_cfg_float(rp ? rp : cfg, "rope_theta", 10000.0, &theta, what)) ||
      (st = lm_cfg_float(rp && cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor")
                             ? rp : cfg,
                         "partial_rotary_factor", 1.0, &partial, what)) ||
      (st = lm_cfg_bool(cfg, "rope_traditional", false, &trad, what)))
    return st;
  if (!(partial > 0 && partial <= 1))
    return set_error(MX_ERR_FORMAT, "%s: partial_rotary_factor %g must be in (0, 1]", what, partial);
  int dims = (int)((double)head_dim * partial);
  if (dims <= 0 || dims % 2)
    return set_error(MX_ERR_FORMAT, "%s: rotary dims %d (head_dim %lld x %g) must be even", what,
                     dims, (long long)head_dim, partial);
  lm_rope_init_base(r, dims, (float)theta, trad);
  if (!rs) return MX_OK;
  const char *type = NULL;
  if ((st = lm_cfg_string(rs, "rope_type", NULL, &type, what))) return st;
  if (!type && (st = lm_cfg_string(rs, "type", "default", &type, what))) return st;
  if (strcmp(type, "default") == 0) return MX_OK;
  double factor;
  if ((st = lm_cfg_float(rs, "factor", 1.0, &factor, what))) return st;
  if (!(factor > 0)) return set_error(MX_ERR_FORMAT, "%s: rope factor must be > 0", what);
  if (strcmp(type, "linear") == 0) {
    r->scale = (float)(1.0 / factor);
    return MX_OK;
  }
  if (strcmp(type, "llama3") == 0) {
    if (!cJSON_GetObjectItemCaseSensitive(rs, "factor"))
      return set_error(MX_ERR_FORMAT, "%s: rope type llama3 needs \"factor\"", what);
    return llama3_freqs(r, rs, factor, what);
  }
  return set_error(MX_ERR_UNSUPPORTED, "%s: rope type \"%s\" is not supported (default, linear, "
                   "llama3)", what, type);
}

mx_array lm_rope_apply(const lm_rope *r, mx_array x, const lm_kv_cache *c) {
  int64_t offset = c ? c->offset : 0;
  return mx_fast_rope(x, r->dims, r->traditional, r->base, r->scale, offset, r->freqs);
}
