/* rope.c — rotary position embeddings as configured by a checkpoint: where
 * the parameters live (transformers v5 "rope_parameters", possibly per layer
 * type, or v4 "rope_theta" + "rope_scaling") and what each scaling type
 * does to the frequencies.
 *
 * Which reference each type follows:
 *  - default / linear: mlx-lm's nn.RoPE (linear: position scale 1/factor,
 *    the same as transformers dividing inv_freq by factor).
 *  - llama3: mlx-lm's Llama3RoPE (= transformers' _compute_llama3_parameters),
 *    float32.
 *  - yarn: transformers' _compute_yarn_parameters (v5): beta_fast/beta_slow
 *    (default 32/1), truncate (default true: floor/ceil the correction
 *    range), factor (default max_position_embeddings / original), attention
 *    factor = "attention_factor" if given, else get_mscale(factor, mscale) /
 *    get_mscale(factor, mscale_all_dim) when both are given, else
 *    get_mscale(factor) with get_mscale(s, m) = 0.1 m ln s + 1 (s > 1).
 *    mlx-lm's YarnRoPE divides by get_mscale(factor, mscale_all_dim=0) = 1
 *    when only mscale is given; we follow transformers there. Frequencies in
 *    float32 as transformers computes them.
 *  - dynamic: transformers' _compute_dynamic_ntk_parameters with its
 *    dynamic_rope_update: once positions reach past max_position_embeddings,
 *    base * (factor * seq_len / max_pos - (factor - 1)) ^ (dim / (dim - 2)),
 *    seq_len = the last position + 1 of the call. Computed per call
 *    (stateless): transformers caches the grown base, which gives the same
 *    result while positions only increase (as in generation). mlx-lm's
 *    DynamicNTKScalingRoPE is the same formula.
 *  - longrope / su: transformers' _compute_longrope_parameters with its
 *    longrope_frequency_update: per-frequency divisors short_factor, or
 *    long_factor once the call's last position + 1 passes
 *    original_max_position_embeddings; attention factor "attention_factor"
 *    if given, else sqrt(1 + ln(f) / ln(original)) with f = max_pos /
 *    original (1 when f <= 1). mlx-lm's SuScaledRoPE always uses the long
 *    factors; transformers is the numeric reference.
 * The attention factor (lm_rope.mscale) multiplies the rotated dims of q
 * and k (transformers scales cos and sin by it: the same thing).
 *
 * Left-padded batches (mlx-lm's BatchKVCache): row b's positions start at
 * offset - left_pad[b], so its first real token is at position 0. */
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

/* The v5 object holding the rope parameters (the entry for layer_type when
 * they are given per layer type), or NULL for a v4 config. */
static const cJSON *rope_params(const cJSON *cfg, const char *layer_type) {
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters");
  if (!cJSON_IsObject(rp)) return NULL;
  const cJSON *sub = cJSON_GetObjectItemCaseSensitive(rp, layer_type ? layer_type
                                                                     : "full_attention");
  return cJSON_IsObject(sub) ? sub : rp;
}

static bool has(const cJSON *o, const char *key) {
  const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
  return v && !cJSON_IsNull(v);
}

/* A key of the scaling object, else of the top-level config (Phi-3 keeps
 * original_max_position_embeddings there in v4 configs). */
static const cJSON *key_src(const cJSON *rs, const cJSON *cfg, const char *key) {
  return has(rs, key) ? rs : cfg;
}

static mx_status set_freqs(mx_array *dst, const float *f, int64_t n, const char *what) {
  (void)what;
  *dst = lm_own(mx_array_from_data(f, &n, 1, MX_FLOAT32));
  return *dst ? MX_OK : mx_last_error_code();
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
  if (!(old > 0))
    return set_error(MX_ERR_FORMAT, "%s: llama3 rope original_max_position_embeddings must be "
                     "> 0", what);
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
  st = set_freqs(&r->freqs, f, n, what);
  free(f);
  r->kind = LM_ROPE_FREQS;
  return st;
}

static double yarn_get_mscale(double scale, double m) {
  return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

/* The dimension at which a frequency makes `rotations` turns over the
 * original context (YaRN's find_correction_dim). */
static double yarn_correction_dim(double rotations, int dims, double base, double orig) {
  return (dims * log(orig / (rotations * 2 * M_PI))) / (2 * log(base));
}

static mx_status yarn_init(lm_rope *r, const cJSON *rs, const cJSON *cfg, const char *what) {
  mx_status st;
  double factor, orig, maxpos, af, ms, msa, bf, bs;
  bool truncate;
  if ((st = lm_cfg_float(cfg, "max_position_embeddings", 0, &maxpos, what)) ||
      (st = lm_cfg_float(rs, "original_max_position_embeddings", maxpos, &orig, what)) ||
      (st = lm_cfg_float(rs, "factor", orig > 0 ? maxpos / orig : 0, &factor, what)) ||
      (st = lm_cfg_float(rs, "attention_factor", 0, &af, what)) ||
      (st = lm_cfg_float(rs, "mscale", 0, &ms, what)) ||
      (st = lm_cfg_float(rs, "mscale_all_dim", 0, &msa, what)) ||
      (st = lm_cfg_float(rs, "beta_fast", 0, &bf, what)) ||
      (st = lm_cfg_float(rs, "beta_slow", 0, &bs, what)) ||
      (st = lm_cfg_bool(rs, "truncate", true, &truncate, what)))
    return st;
  if (!(orig > 0))
    return set_error(MX_ERR_FORMAT, "%s: yarn rope needs original_max_position_embeddings (or "
                     "max_position_embeddings) > 0", what);
  if (!(factor > 0)) return set_error(MX_ERR_FORMAT, "%s: yarn rope factor must be > 0", what);
  /* transformers: `get("beta_fast") or 32` — 0 means the default too. */
  if (bf == 0) bf = 32;
  if (bs == 0) bs = 1;
  if (!(bf > 0 && bs > 0) || !(r->base > 1))
    return set_error(MX_ERR_FORMAT, "%s: yarn rope needs beta_fast, beta_slow > 0 and "
                     "rope_theta > 1", what);
  if (has(rs, "attention_factor")) r->mscale = (float)af;
  else if (ms != 0 && msa != 0)
    r->mscale = (float)(yarn_get_mscale(factor, ms) / yarn_get_mscale(factor, msa));
  else
    r->mscale = (float)yarn_get_mscale(factor, 1.0);

  int dims = r->dims;
  double low = yarn_correction_dim(bf, dims, r->base, orig);
  double high = yarn_correction_dim(bs, dims, r->base, orig);
  if (truncate) {
    low = floor(low);
    high = ceil(high);
  }
  if (low < 0) low = 0;
  if (high > dims - 1) high = dims - 1;
  if (low == high) high += 0.001; /* the ramp would divide by zero */
  int64_t n = dims / 2;
  float *f = malloc((size_t)n * sizeof *f);
  if (!f) return set_error(MX_ERR_OOM, "%s: out of memory", what);
  for (int64_t i = 0; i < n; i++) {
    float pos = powf((float)r->base, (float)(2 * i) / (float)dims);
    float inv_extra = 1.0f / pos, inv_inter = 1.0f / ((float)factor * pos);
    float ramp = ((float)i - (float)low) / (float)(high - low);
    ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
    float extra = 1.0f - ramp; /* weight of the unscaled frequency */
    float inv = inv_inter * (1.0f - extra) + inv_extra * extra;
    f[i] = 1.0f / inv;
  }
  st = set_freqs(&r->freqs, f, n, what);
  free(f);
  r->kind = LM_ROPE_FREQS;
  return st;
}

/* A list of dims/2 numbers (longrope's short_factor / long_factor). */
static mx_status factor_list(const cJSON *rs, const char *key, int64_t n, float *out,
                             const char *what) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rs, key), *e;
  if (!v || cJSON_IsNull(v))
    return set_error(MX_ERR_FORMAT, "%s: longrope rope needs \"%s\"", what, key);
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
    return set_error(MX_ERR_FORMAT, "%s: rope \"%s\" must be a list of %lld numbers (rotary "
                     "dims / 2)", what, key, (long long)n);
  int64_t i = 0;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || !(e->valuedouble > 0))
      return set_error(MX_ERR_FORMAT, "%s: rope \"%s\"[%lld] must be a positive number", what,
                       key, (long long)i);
    out[i++] = (float)e->valuedouble;
  }
  return MX_OK;
}

static mx_status longrope_init(lm_rope *r, const cJSON *rs, const cJSON *cfg, const char *what) {
  mx_status st;
  double maxpos, orig, factor, af;
  const char *ok = "original_max_position_embeddings";
  bool has_orig = has(rs, ok) || has(cfg, ok);
  if ((st = lm_cfg_float(cfg, "max_position_embeddings", 0, &maxpos, what)) ||
      (st = lm_cfg_float(key_src(rs, cfg, ok), ok, maxpos, &orig, what)) ||
      (st = lm_cfg_float(rs, "factor", 1.0, &factor, what)) ||
      (st = lm_cfg_float(rs, "attention_factor", 0, &af, what)))
    return st;
  if (!(orig > 1))
    return set_error(MX_ERR_FORMAT, "%s: longrope rope needs original_max_position_embeddings "
                     "(or max_position_embeddings) > 1", what);
  /* Phi-3 raises max_position_embeddings and keeps the pretrained length
   * as original: their ratio is the factor (transformers' note). */
  if (has_orig) factor = maxpos / orig;
  if (has(rs, "attention_factor")) r->mscale = (float)af;
  else r->mscale = factor <= 1 ? 1.0f : (float)sqrt(1 + log(factor) / log(orig));
  r->original_max = (int64_t)orig;

  int64_t n = r->dims / 2;
  float *sf = malloc((size_t)n * 2 * sizeof *sf);
  if (!sf) return set_error(MX_ERR_OOM, "%s: out of memory", what);
  float *lf = sf + n;
  if (!(st = factor_list(rs, "short_factor", n, sf, what)) &&
      !(st = factor_list(rs, "long_factor", n, lf, what))) {
    for (int64_t i = 0; i < n; i++) {
      float p = powf((float)r->base, (float)(2 * i) / (float)r->dims);
      sf[i] *= p;
      lf[i] *= p;
    }
    st = set_freqs(&r->freqs, sf, n, what);
    if (!st) st = set_freqs(&r->long_freqs, lf, n, what);
  }
  free(sf);
  r->kind = LM_ROPE_FREQS;
  return st;
}

mx_status lm_rope_init(lm_rope *r, const cJSON *cfg, int64_t head_dim, const char *layer_type,
                       const char *what) {
  mx_status st;
  memset(r, 0, sizeof *r);
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
  if ((st = lm_cfg_float(key_src(rp, cfg, "rope_theta"), "rope_theta", 10000.0, &theta, what)) ||
      (st = lm_cfg_float(key_src(rp, cfg, "partial_rotary_factor"), "partial_rotary_factor",
                         1.0, &partial, what)) ||
      (st = lm_cfg_bool(cfg, "rope_traditional", false, &trad, what)))
    return st;
  if (!(theta > 0)) return set_error(MX_ERR_FORMAT, "%s: rope_theta %g must be > 0", what, theta);
  if (!(partial > 0 && partial <= 1))
    return set_error(MX_ERR_FORMAT, "%s: partial_rotary_factor %g must be in (0, 1]", what, partial);
  /* transformers: int(head_dim * partial_rotary_factor). */
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
  if (strcmp(type, "yarn") == 0) return yarn_init(r, rs, cfg, what);
  if (strcmp(type, "longrope") == 0 || strcmp(type, "su") == 0)
    return longrope_init(r, rs, cfg, what);
  bool known = strcmp(type, "linear") == 0 || strcmp(type, "llama3") == 0 ||
               strcmp(type, "dynamic") == 0;
  if (!known)
    return set_error(MX_ERR_UNSUPPORTED, "%s: rope type \"%s\" is not supported (default, "
                     "linear, llama3, yarn, dynamic, longrope / su)", what, type);
  if (!has(rs, "factor"))
    return set_error(MX_ERR_FORMAT, "%s: rope type %s needs \"factor\"", what, type);
  double factor;
  if ((st = lm_cfg_float(rs, "factor", 1.0, &factor, what))) return st;
  if (!(factor > 0)) return set_error(MX_ERR_FORMAT, "%s: rope factor must be > 0", what);
  if (strcmp(type, "linear") == 0) {
    r->scale = (float)(1.0 / factor);
    return MX_OK;
  }
  if (strcmp(type, "llama3") == 0) return llama3_freqs(r, rs, factor, what);
  /* dynamic */
  int64_t maxpos;
  if (!has(cfg, "max_position_embeddings"))
    return set_error(MX_ERR_FORMAT, "%s: rope type dynamic needs max_position_embeddings", what);
  if ((st = lm_cfg_req_int(cfg, "max_position_embeddings", &maxpos, what))) return st;
  if (dims <= 2)
    return set_error(MX_ERR_FORMAT, "%s: rope type dynamic needs more than 2 rotary dims", what);
  r->kind = LM_ROPE_DYNAMIC;
  r->factor = factor;
  r->original_max = maxpos;
  return MX_OK;
}

/* x * mscale on the rotated dims (the others pass through). */
static mx_array attention_scale(const lm_rope *r, mx_array x) {
  if (!x) return NULL; /* keep the first error */
  int64_t D = mx_array_dim(x, mx_array_ndim(x) - 1);
  mx_dtype dt = mx_array_dtype(x);
  if (r->dims >= D) {
    mx_array s = mx_array_scalar(r->mscale, dt);
    mx_array y = mx_multiply(x, s);
    mx_array_free(s);
    return y;
  }
  float *v = malloc((size_t)D * sizeof *v);
  if (!v) {
    set_error(MX_ERR_OOM, "rope: out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < D; i++) v[i] = i < r->dims ? r->mscale : 1.0f;
  mx_array s32 = mx_array_from_data(v, &D, 1, MX_FLOAT32);
  free(v);
  mx_array s = mx_astype(s32, dt);
  mx_array y = mx_multiply(x, s);
  mx_array_free(s32);
  mx_array_free(s);
  return y;
}

mx_array lm_rope_apply(const lm_rope *r, mx_array x, const lm_kv_cache *c) {
  if (!x) return NULL;
  if (mx_array_ndim(x) != 4) {
    set_error(MX_ERR_SHAPE, "rope: input must be (B, heads, L, head_dim)");
    return NULL;
  }
  int64_t B = mx_array_dim(x, 0), L = mx_array_dim(x, 2);
  int64_t offset = c ? c->offset : 0;
  const int64_t *pad = c && c->owner ? c->owner->left_pad : NULL;
  int64_t minpad = 0;
  if (pad) {
    if (c->owner->batch != B) {
      set_error(MX_ERR_SHAPE, "rope: the cache's left padding has %lld rows, the batch %lld",
                (long long)c->owner->batch, (long long)B);
      return NULL;
    }
    minpad = pad[0];
    for (int64_t b = 1; b < B; b++)
      if (pad[b] < minpad) minpad = pad[b];
  }
  /* Positions seen after this call by the longest row (transformers' seq_len
   * = max(position_ids) + 1). */
  int64_t seq_len = offset - minpad + L;
  float base = r->base;
  mx_array freqs = r->freqs;
  if (r->kind == LM_ROPE_DYNAMIC && seq_len > r->original_max) {
    double g = r->factor * (double)seq_len / (double)r->original_max - (r->factor - 1);
    base = (float)((double)r->base * pow(g, (double)r->dims / (r->dims - 2)));
  }
  if (r->long_freqs && seq_len > r->original_max) freqs = r->long_freqs;
  mx_array xs = r->mscale != 1.0f ? attention_scale(r, x) : mx_array_retain(x);
  if (!xs) return NULL;
  mx_array y;
  if (pad) {
    int32_t *o = malloc((size_t)B * sizeof *o);
    if (!o) {
      mx_array_free(xs);
      set_error(MX_ERR_OOM, "rope: out of memory");
      return NULL;
    }
    bool range_ok = true;
    for (int64_t b = 0; b < B; b++) {
      int64_t p = offset - pad[b];
      range_ok &= p >= INT32_MIN && p + L <= INT32_MAX;
      o[b] = (int32_t)p;
    }
    mx_array off = range_ok ? mx_array_from_data(o, &B, 1, MX_INT32) : NULL;
    free(o);
    if (!range_ok) set_error(MX_ERR_INVALID_ARG, "rope: positions exceed the int32 range");
    y = off ? mx_fast_rope_offsets(xs, r->dims, r->traditional, base, r->scale, off, freqs)
            : NULL;
    mx_array_free(off);
  } else {
    y = mx_fast_rope(xs, r->dims, r->traditional, base, r->scale, offset, freqs);
  }
  mx_array_free(xs);
  return y;
}
