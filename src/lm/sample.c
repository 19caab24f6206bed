/* sample.c — samplers and logits processors exactly as mlx_lm/sample_utils.py:
 * the same ops in the same order on the same dtypes, so that given the same
 * key the same token comes out. Python floats become weakly typed scalars in
 * MLX (the array's dtype wins), hence mx_array_scalar(value, array dtype). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/ops.h"
#include "mlxc/random.h"

#define FREE2(a, b) (mx_array_free(a), mx_array_free(b))

static mx_array scalar_like(double v, mx_array a) {
  return mx_array_scalar(v, a ? mx_array_dtype(a) : MX_FLOAT32);
}

static mx_array neg_inf_like(mx_array a) { return scalar_like(-INFINITY, a); }

mx_array mx_lm_apply_top_p(mx_array logprobs, double top_p) {
  if (any_null("apply_top_p", &logprobs, 1)) return NULL;
  int64_t V = mx_array_dim(logprobs, -1);
  mx_array probs = mx_exp(logprobs);
  mx_array sidx = mx_argsort(logprobs, -1); /* ascending, uint32 */
  mx_array sprobs = mx_take_along_axis(probs, sidx, -1);
  mx_array cum = mx_cumsum(sprobs, -1, false, true);
  /* Back to vocabulary order through the inverse permutation. */
  mx_array z = mx_zeros_like(sidx);
  mx_array ar = mx_arange(0, (double)V, 1, MX_UINT32);
  mx_array inv = mx_put_along_axis(z, sidx, ar, -1);
  mx_array cum_v = mx_take_along_axis(cum, inv, -1);
  mx_array thr = scalar_like(1.0 - top_p, cum_v);
  mx_array keep = mx_greater(cum_v, thr);
  mx_array ninf = neg_inf_like(logprobs);
  mx_array out = mx_where(keep, logprobs, ninf);
  mx_array t[11] = {probs, sidx, sprobs, cum, z, ar, inv, cum_v, thr, keep, ninf};
  for (int i = 0; i < 11; i++) mx_array_free(t[i]);
  return out;
}

mx_array mx_lm_apply_min_p(mx_array logprobs, double min_p, int32_t min_tokens_to_keep) {
  if (any_null("apply_min_p", &logprobs, 1)) return NULL;
  if (!(min_p >= 0 && min_p <= 1.0)) {
    set_error(MX_ERR_INVALID_ARG, "sampler: min_p has to be a float in the [0, 1] interval, "
              "but is %g", min_p);
    return NULL;
  }
  if (min_tokens_to_keep < 1) {
    set_error(MX_ERR_INVALID_ARG, "sampler: min_tokens_to_keep has to be a positive integer, "
              "but is %d", (int)min_tokens_to_keep);
    return NULL;
  }
  int ax = -1;
  mx_array top = mx_max(logprobs, &ax, 1, true);
  mx_array lm = scalar_like(log(min_p), top);
  mx_array scaled = mx_add(top, lm);
  mx_array remove = mx_less(logprobs, scaled);
  int64_t V = mx_array_dim(logprobs, -1);
  /* MLX would reject more than V; keeping everything is what was meant. */
  int64_t k = min_tokens_to_keep < V ? min_tokens_to_keep : V;
  if (k > 1) {
    mx_array part = mx_argpartition(logprobs, V - k, -1);
    int nd = mx_array_ndim(part);
    int64_t start[MX_MAX_NDIM] = {0}, stop[MX_MAX_NDIM];
    for (int i = 0; i < nd; i++) stop[i] = MX_SLICE_END;
    start[nd - 1] = V - k;
    mx_array topi = mx_slice(part, start, stop, NULL, nd);
    mx_array f = mx_array_from_bool(false);
    mx_array r2 = mx_put_along_axis(remove, topi, f, -1);
    mx_array_free(remove);
    remove = r2;
    mx_array_free(part);
    FREE2(topi, f);
  }
  mx_array ninf = neg_inf_like(logprobs);
  mx_array out = mx_where(remove, ninf, logprobs);
  mx_array t[5] = {top, lm, scaled, remove, ninf};
  for (int i = 0; i < 5; i++) mx_array_free(t[i]);
  return out;
}

mx_array mx_lm_apply_top_k(mx_array logprobs, int32_t top_k) {
  if (any_null("apply_top_k", &logprobs, 1)) return NULL;
  int64_t V = mx_array_dim(logprobs, -1);
  if (!(top_k > 0 && top_k < V)) {
    set_error(MX_ERR_INVALID_ARG, "sampler: top_k has to be an integer in the (0, %lld) "
              "interval, but is %d", (long long)V, (int)top_k);
    return NULL;
  }
  mx_array neg = mx_negative(logprobs);
  mx_array part = mx_argpartition(neg, top_k - 1, -1);
  int nd = mx_array_ndim(part);
  int64_t start[MX_MAX_NDIM] = {0}, stop[MX_MAX_NDIM];
  for (int i = 0; i < nd; i++) stop[i] = MX_SLICE_END;
  start[nd - 1] = top_k;
  mx_array idx = mx_slice(part, start, stop, NULL, nd);
  mx_array ninf = neg_inf_like(logprobs);
  mx_array out = mx_put_along_axis(logprobs, idx, ninf, -1);
  mx_array t[4] = {neg, part, idx, ninf};
  for (int i = 0; i < 4; i++) mx_array_free(t[i]);
  return out;
}

mx_array mx_lm_apply_xtc(mx_array logits, double probability, double threshold,
                         const int32_t *special_tokens, size_t n_special, mx_array key) {
  if (any_null("apply_xtc", &logits, 1)) return NULL;
  if (!(threshold >= 0 && threshold <= 0.5)) {
    set_error(MX_ERR_INVALID_ARG, "sampler: xtc threshold has to be a float in the [0, 0.5] "
              "interval, but is %g", threshold);
    return NULL;
  }
  if (!(probability >= 0 && probability <= 1.0)) {
    set_error(MX_ERR_INVALID_ARG, "sampler: xtc probability has to be a float in the [0, 1] "
              "interval, but is %g", probability);
    return NULL;
  }
  int64_t V = mx_array_dim(logits, -1);
  int ax = -1;
  mx_array probs = mx_softmax(logits, &ax, 1, false);
  mx_array thr = scalar_like(threshold, probs);
  mx_array above = mx_greater(probs, thr);
  mx_array inf = scalar_like(INFINITY, probs);
  mx_array cand = mx_where(above, probs, inf);
  mx_array mn = mx_min(cand, &ax, 1, true);
  mx_array mask = mx_greater(probs, mn);
  if (n_special) {
    /* mask[..., special] = False, as a keep-vector (ids are checked). */
    bool *allow = malloc((size_t)V * sizeof *allow);
    mx_array av = NULL;
    if (allow) {
      for (int64_t i = 0; i < V; i++) allow[i] = true;
      bool ok = true;
      for (size_t i = 0; i < n_special; i++) {
        if (special_tokens[i] < 0 || special_tokens[i] >= V) ok = false;
        else allow[special_tokens[i]] = false;
      }
      if (ok) av = mx_array_from_data(allow, &V, 1, MX_BOOL);
      else
        set_error(MX_ERR_INVALID_ARG, "sampler: an xtc special token is outside the "
                  "vocabulary (%lld)", (long long)V);
      free(allow);
    } else {
      set_error(MX_ERR_OOM, "sampler: out of memory");
    }
    mx_array m2 = av ? mx_logical_and(mask, av) : NULL;
    mx_array_free(mask);
    mx_array_free(av);
    mask = m2;
  }
  mx_array u = mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, key);
  mx_array p = mx_array_scalar(probability, MX_FLOAT32);
  mx_array skip = mx_greater(u, p);
  mx_array ninf = neg_inf_like(logits);
  mx_array cut = mx_where(mask, ninf, logits);
  mx_array out = mx_where(skip, logits, cut);
  mx_array t[12] = {probs, thr, above, inf, cand, mn, mask, u, p, skip, ninf, cut};
  for (int i = 0; i < 12; i++) mx_array_free(t[i]);
  return out;
}

/* ------------------------------------------------------------ sampler */

struct mx_lm_sampler {
  mx_lm_sampler_params p;
  int32_t *xtc_special, *bias_ids;
  float *bias_vals;
  mx_array key;     /* own key sequence state, or NULL (global) */
  mx_array bias;    /* dense logit bias (V), built at first use */
  int64_t bias_vocab;
};

mx_lm_sampler_params mx_lm_sampler_default_params(void) {
  mx_lm_sampler_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.min_tokens_to_keep = 1;
  p.xtc_threshold = 0.1;
  p.repetition_context_size = 20;
  p.presence_context_size = 20;
  p.frequency_context_size = 20;
  p.seed = -1;
  return p;
}

static void *dup_mem(const void *src, size_t n, bool *ok) {
  if (!n) return NULL;
  void *d = malloc(n);
  if (!d) *ok = false;
  else memcpy(d, src, n);
  return d;
}

mx_lm_sampler *mx_lm_sampler_new(const mx_lm_sampler_params *pp) {
  mx_lm_sampler_params p = mx_lm_sampler_default_params();
  if (pp) {
    if (pp->size < sizeof(size_t) || pp->size > sizeof p) {
      set_error(MX_ERR_INVALID_ARG, "sampler: params.size %zu is not a known version "
                "(use mx_lm_sampler_default_params)", pp->size);
      return NULL;
    }
    memcpy(&p, pp, pp->size);
    p.size = sizeof p;
  }
  const char *bad = NULL;
  if (!(p.temp >= 0) || !isfinite(p.temp)) bad = "temp must be a finite number >= 0";
  else if (!(p.min_p >= 0 && p.min_p <= 1)) bad = "min_p has to be a float in the [0, 1] interval";
  else if (p.min_tokens_to_keep < 1) bad = "min_tokens_to_keep has to be a positive integer";
  else if (p.top_k < 0) bad = "top_k must be >= 0";
  else if (p.xtc_probability > 0 && !(p.xtc_probability <= 1))
    bad = "xtc probability has to be a float in the [0, 1] interval";
  else if (p.xtc_probability > 0 && !(p.xtc_threshold >= 0 && p.xtc_threshold <= 0.5))
    bad = "xtc threshold has to be a float in the [0, 0.5] interval";
  else if (!(p.repetition_penalty >= 0)) bad = "repetition penalty must be a non-negative float";
  else if (!isfinite(p.presence_penalty) || !isfinite(p.frequency_penalty))
    bad = "presence/frequency penalties must be finite";
  else if (p.repetition_context_size < 0 || p.presence_context_size < 0 ||
           p.frequency_context_size < 0)
    bad = "context sizes must be >= 0";
  else if ((p.n_xtc_special_tokens && !p.xtc_special_tokens) ||
           (p.n_logit_bias && (!p.logit_bias_ids || !p.logit_bias_values)))
    bad = "a list with a count has a NULL pointer";
  if (bad) {
    set_error(MX_ERR_INVALID_ARG, "sampler: %s", bad);
    return NULL;
  }
  mx_lm_sampler *s = calloc(1, sizeof *s);
  bool ok = s != NULL;
  if (s) {
    s->p = p;
    if (p.n_xtc_special_tokens > SIZE_MAX / 8 || p.n_logit_bias > SIZE_MAX / 8) ok = false;
    if (ok) {
      s->xtc_special = dup_mem(p.xtc_special_tokens, p.n_xtc_special_tokens * 4, &ok);
      s->bias_ids = dup_mem(p.logit_bias_ids, p.n_logit_bias * 4, &ok);
      s->bias_vals = dup_mem(p.logit_bias_values, p.n_logit_bias * 4, &ok);
    }
    s->p.xtc_special_tokens = s->xtc_special;
    s->p.logit_bias_ids = s->bias_ids;
    s->p.logit_bias_values = s->bias_vals;
  }
  if (!ok) {
    mx_lm_sampler_free(s);
    set_error(MX_ERR_OOM, "sampler: out of memory");
    return NULL;
  }
  if (p.seed >= 0) {
    s->key = lm_own(mx_random_key((uint64_t)p.seed));
    if (!s->key) {
      mx_lm_sampler_free(s);
      return NULL;
    }
  }
  return s;
}

void mx_lm_sampler_free(mx_lm_sampler *s) {
  if (!s) return;
  free(s->xtc_special);
  free(s->bias_ids);
  free(s->bias_vals);
  mx_array_free(s->key);
  mx_array_free(s->bias);
  free(s);
}

/* The key for the next draw: MLX's KeySequence::next on our own state (a
 * new reference), or NULL for the global sequence. */
static mx_status next_key(mx_lm_sampler *s, mx_array *out) {
  *out = NULL;
  if (!s->key) return MX_OK;
  mx_array state = NULL, use = NULL;
  mx_status st = mx_random_split2(s->key, &state, &use);
  if (st) return st;
  /* Evaluate now so the key chain does not grow a graph step after step. */
  mx_array both[2] = {state, use};
  if ((st = mx_eval(both, 2))) {
    FREE2(state, use);
    return st;
  }
  mx_array_free(s->key);
  s->key = lm_own(state);
  *out = use;
  return MX_OK;
}

/* 1.0 where the token occurs in the last `ctx` tokens (counts when `count`). */
static mx_array token_vector(const int32_t *hist, size_t n, int32_t ctx, int64_t V, bool count) {
  float *v = calloc((size_t)V, sizeof *v);
  if (!v) {
    set_error(MX_ERR_OOM, "sampler: out of memory");
    return NULL;
  }
  size_t from = n > (size_t)ctx ? n - (size_t)ctx : 0;
  for (size_t i = from; i < n; i++) {
    if (hist[i] < 0 || hist[i] >= V) {
      free(v);
      set_error(MX_ERR_INVALID_ARG, "sampler: history token %d is outside the vocabulary "
                "(%lld)", (int)hist[i], (long long)V);
      return NULL;
    }
    v[hist[i]] = count ? v[hist[i]] + 1.0f : 1.0f;
  }
  mx_array a = mx_array_from_data(v, &V, 1, MX_FLOAT32);
  free(v);
  return a;
}

mx_array mx_lm_sampler_process(mx_lm_sampler *s, const int32_t *history, size_t n,
                               mx_array logits) {
  if (!s) {
    set_error(MX_ERR_INVALID_ARG, "sampler: NULL sampler");
    return NULL;
  }
  if (!logits) return NULL;
  if (n && !history) {
    set_error(MX_ERR_INVALID_ARG, "sampler: NULL history with n = %zu", n);
    return NULL;
  }
  int64_t V = mx_array_dim(logits, -1);
  mx_dtype dt = mx_array_dtype(logits);
  mx_array x = mx_array_retain(logits);
  const mx_lm_sampler_params *p = &s->p;
  if (p->n_logit_bias) {
    if (!s->bias || s->bias_vocab != V) {
      float *b = calloc((size_t)V, sizeof *b);
      if (!b) {
        mx_array_free(x);
        set_error(MX_ERR_OOM, "sampler: out of memory");
        return NULL;
      }
      for (size_t i = 0; i < p->n_logit_bias; i++) {
        int32_t id = p->logit_bias_ids[i];
        if (id < 0 || id >= V) {
          free(b);
          mx_array_free(x);
          set_error(MX_ERR_INVALID_ARG, "sampler: logit_bias token %d is outside the "
                    "vocabulary (%lld)", (int)id, (long long)V);
          return NULL;
        }
        b[id] += p->logit_bias_values[i]; /* .at[].add accumulates repeats */
      }
      mx_array_free(s->bias);
      mx_array bf = mx_array_from_data(b, &V, 1, MX_FLOAT32);
      s->bias = lm_own(mx_astype(bf, dt));
      mx_array_free(bf);
      free(b);
      s->bias_vocab = V;
    }
    mx_array y = mx_add(x, s->bias);
    mx_array_free(x);
    x = y;
  }
  if (n == 0) return x; /* mlx-lm's penalties act only on a non-empty history */
  if (p->repetition_penalty != 0 && p->repetition_context_size > 0) {
    mx_array m = token_vector(history, n, p->repetition_context_size, V, false);
    mx_array mb = m ? mx_astype(m, MX_BOOL) : NULL;
    mx_array zero = scalar_like(0, x), pen = scalar_like(p->repetition_penalty, x);
    mx_array neg = mx_less(x, zero);
    mx_array mul = mx_multiply(x, pen), div = mx_divide(x, pen);
    mx_array sel = mx_where(neg, mul, div);
    mx_array y = mx_where(mb, sel, x);
    mx_array t[8] = {m, mb, zero, pen, neg, mul, div, sel};
    for (int i = 0; i < 8; i++) mx_array_free(t[i]);
    mx_array_free(x);
    x = y;
  }
  if (p->presence_penalty != 0 && p->presence_context_size > 0) {
    mx_array m = token_vector(history, n, p->presence_context_size, V, false);
    mx_array mb = m ? mx_astype(m, MX_BOOL) : NULL;
    mx_array pen = scalar_like(p->presence_penalty, x);
    mx_array sub = mx_subtract(x, pen);
    mx_array y = mx_where(mb, sub, x);
    mx_array t[4] = {m, mb, pen, sub};
    for (int i = 0; i < 4; i++) mx_array_free(t[i]);
    mx_array_free(x);
    x = y;
  }
  if (p->frequency_penalty != 0 && p->frequency_context_size > 0) {
    mx_array c = token_vector(history, n, p->frequency_context_size, V, true);
    mx_array pen = mx_array_scalar(p->frequency_penalty, MX_FLOAT32);
    mx_array cp = mx_multiply(c, pen);
    mx_array cpd = cp ? mx_astype(cp, dt) : NULL;
    mx_array y = mx_subtract(x, cpd);
    mx_array t[4] = {c, pen, cp, cpd};
    for (int i = 0; i < 4; i++) mx_array_free(t[i]);
    mx_array_free(x);
    x = y;
  }
  return x;
}

mx_array mx_lm_sampler_sample(mx_lm_sampler *s, mx_array logprobs) {
  if (!s) {
    set_error(MX_ERR_INVALID_ARG, "sampler: NULL sampler");
    return NULL;
  }
  if (!logprobs) return NULL;
  const mx_lm_sampler_params *p = &s->p;
  if (p->temp == 0) return mx_argmax(logprobs, -1, false);
  mx_array x = mx_array_retain(logprobs);
#define STEP(expr)                 \
  do {                             \
    mx_array step_y_ = (expr);     \
    mx_array_free(x);              \
    x = step_y_;                   \
  } while (0)
  if (p->top_p > 0 && p->top_p < 1.0) STEP(mx_lm_apply_top_p(x, p->top_p));
  if (p->min_p != 0.0) STEP(mx_lm_apply_min_p(x, p->min_p, p->min_tokens_to_keep));
  if (p->xtc_probability > 0.0) {
    mx_array key = NULL;
    if (next_key(s, &key)) {
      mx_array_free(x);
      return NULL;
    }
    STEP(mx_lm_apply_xtc(x, p->xtc_probability, p->xtc_threshold, p->xtc_special_tokens,
                         p->n_xtc_special_tokens, key));
    mx_array_free(key);
  }
  if (p->top_k > 0) STEP(mx_lm_apply_top_k(x, p->top_k));
#undef STEP
  mx_array key = NULL;
  if (!x || next_key(s, &key)) {
    mx_array_free(x);
    return NULL;
  }
  mx_array it = scalar_like(1.0 / p->temp, x);
  mx_array scaled = mx_multiply(x, it);
  mx_array out = mx_random_categorical(scaled, -1, 0, key);
  mx_array t[4] = {x, it, scaled, key};
  for (int i = 0; i < 4; i++) mx_array_free(t[i]);
  return out;
}
