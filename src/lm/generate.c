/* generate.c — the generation loop of mlx_lm/generate.py (generate_step and
 * stream_generate): the prompt is prefilled in chunks of prefill_step_size
 * (all but its last token, evaluating only the cache), then each step
 * samples from the last position's log-probabilities. Step n+1 is recorded
 * and started (mx_async_eval) before token n is read, so building the next
 * graph overlaps the current computation, as mlx-lm does. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/memory.h"
#include "mlxc/ops.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

mx_lm_generate_params mx_lm_generate_default_params(void) {
  mx_lm_generate_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.max_tokens = 256;
  p.prefill_step_size = 2048;
  return p;
}

typedef struct gen {
  const mx_lm_model *m;
  mx_lm_cache *cache;
  mx_lm_sampler *sampler;
  bool processors; /* any logits processor active: needs the history */
  int32_t *hist;
  size_t nhist, caphist;
} gen;

static mx_status hist_push(gen *g, const int32_t *ids, size_t n) {
  if (g->nhist + n > g->caphist) {
    size_t cap = g->caphist ? g->caphist : 256;
    while (cap < g->nhist + n) cap *= 2;
    int32_t *h = realloc(g->hist, cap * sizeof *h);
    if (!h) return set_error(MX_ERR_OOM, "generate: out of memory");
    g->hist = h;
    g->caphist = cap;
  }
  memcpy(g->hist + g->nhist, ids, n * sizeof *ids);
  g->nhist += n;
  return MX_OK;
}

/* One model call on ids (1, L); returns the sampled token (1,) and the
 * last position's log-probabilities (1, V) (new references). host_ids: the
 * same ids on the host when the history needs them. */
static mx_status step(gen *g, mx_array ids, const int32_t *host_ids, size_t n, mx_array *y,
                      mx_array *logprobs) {
  *y = *logprobs = NULL;
  mx_array logits = mx_lm_forward(g->m, ids, g->cache); /* (1, L, V) */
  if (!logits) return mx_last_error_code();
  int64_t L = mx_array_dim(logits, 1), V = mx_array_dim(logits, 2);
  int64_t start[3] = {0, L - 1, 0}, stop[3] = {MX_SLICE_END, L, MX_SLICE_END};
  mx_array last = mx_slice(logits, start, stop, NULL, 3);
  int64_t s2[2] = {1, V};
  mx_array x = mx_reshape(last, s2, 2); /* (1, V) */
  mx_array_free(logits);
  mx_array_free(last);
  if (g->processors && n) {
    mx_status st = hist_push(g, host_ids, n);
    if (st) {
      mx_array_free(x);
      return st;
    }
    mx_array p = mx_lm_sampler_process(g->sampler, g->hist, g->nhist, x);
    mx_array_free(x);
    x = p;
  }
  int ax = -1;
  mx_array lse = mx_logsumexp(x, &ax, 1, true);
  mx_array lp = mx_subtract(x, lse);
  mx_array_free(x);
  mx_array_free(lse);
  mx_array tok = mx_lm_sampler_sample(g->sampler, lp);
  if (!tok || !lp) {
    mx_array_free(tok);
    mx_array_free(lp);
    return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
  }
  *y = tok;
  *logprobs = lp;
  return MX_OK;
}

static bool is_eos(const int32_t *eos, size_t n, int32_t t) {
  for (size_t i = 0; i < n; i++)
    if (eos[i] == t) return true;
  return false;
}

mx_status mx_lm_generate(const mx_lm_model *m, const int32_t *prompt, size_t n,
                         const mx_lm_generate_params *pp, mx_lm_cache *cache,
                         mx_lm_generate_stats *stats) {
  if (!m || !prompt || n == 0)
    return set_error(MX_ERR_INVALID_ARG, "generate: %s", !m ? "NULL model"
                     : "the prompt must hold at least one token");
  mx_lm_generate_params p = mx_lm_generate_default_params();
  if (pp) {
    if (pp->size < sizeof(size_t) || pp->size > sizeof p)
      return set_error(MX_ERR_INVALID_ARG, "generate: params.size %zu is not a known version",
                       pp->size);
    memcpy(&p, pp, pp->size);
  }
  if (p.prefill_step_size <= 0)
    return set_error(MX_ERR_INVALID_ARG, "generate: prefill_step_size %lld must be positive",
                     (long long)p.prefill_step_size);
  if (p.max_tokens < -1)
    return set_error(MX_ERR_INVALID_ARG, "generate: max_tokens %lld must be >= -1",
                     (long long)p.max_tokens);
  int64_t V = mx_lm_vocab_size(m);
  for (size_t i = 0; i < n; i++)
    if (prompt[i] < 0 || prompt[i] >= V)
      return set_error(MX_ERR_INVALID_ARG, "generate: prompt token %zu (%d) is outside the "
                       "vocabulary (%lld)", i, (int)prompt[i], (long long)V);
  const int32_t *eos = p.eos_ids;
  size_t neos = p.n_eos_ids;
  if (!eos) neos = mx_lm_eos_ids(m, &eos);
  if (stats) memset(stats, 0, sizeof *stats);

  gen g = {.m = m, .cache = cache};
  mx_lm_sampler_params greedy = mx_lm_sampler_default_params();
  g.sampler = mx_lm_sampler_new(p.sampler ? p.sampler : &greedy);
  if (!g.sampler) return mx_last_error_code();
  if (p.sampler)
    g.processors = p.sampler->n_logit_bias || p.sampler->repetition_penalty != 0 ||
                   p.sampler->presence_penalty != 0 || p.sampler->frequency_penalty != 0;
  bool own_cache = !cache;
  if (own_cache && !(g.cache = mx_lm_cache_new(m))) {
    mx_lm_sampler_free(g.sampler);
    return mx_last_error_code();
  }

  mx_status st = MX_OK;
  mx_array y = NULL, lp = NULL, ny = NULL, nlp = NULL;
  mx_lm_finish finish = MX_LM_FINISH_LENGTH;
  int64_t ntok = 0;
  double t0 = now_s(), t1 = t0, prompt_time = 0;
  size_t done = 0;
  if (p.progress) p.progress(p.user, 0, (int64_t)n);
  while (n - done > 1) {
    size_t k = n - done - 1;
    if ((int64_t)k > p.prefill_step_size) k = (size_t)p.prefill_step_size;
    int64_t shape[2] = {1, (int64_t)k};
    mx_array ids = mx_array_from_data(prompt + done, shape, 2, MX_INT32);
    /* Only the cache is evaluated: the logits of prefill chunks are unused. */
    mx_array logits = mx_lm_forward(m, ids, g.cache);
    mx_array_free(ids);
    if (!logits) {
      st = mx_last_error_code();
      goto out;
    }
    mx_array_free(logits);
    mx_array state[512];
    size_t ns = mx_lm_cache_state(g.cache, state, 512);
    st = mx_eval(state, ns < 512 ? ns : 512);
    for (size_t i = 0; i < ns && i < 512; i++) mx_array_free(state[i]);
    if (ns > 512 && !st) {
      /* More layers than the stack list holds: evaluate the rest in turn. */
      mx_array *all = malloc(ns * sizeof *all);
      if (!all) st = set_error(MX_ERR_OOM, "generate: out of memory");
      else {
        mx_lm_cache_state(g.cache, all, ns);
        st = mx_eval(all, ns);
        for (size_t i = 0; i < ns; i++) mx_array_free(all[i]);
        free(all);
      }
    }
    if (st) goto out;
    done += k;
    if (p.progress) p.progress(p.user, (int64_t)done, (int64_t)n);
  }
  {
    int64_t shape[2] = {1, 1};
    mx_array ids = mx_array_from_data(prompt + done, shape, 2, MX_INT32);
    st = step(&g, ids, prompt + done, 1, &y, &lp);
    mx_array_free(ids);
    if (st) goto out;
  }
  {
    mx_array both[2] = {y, lp};
    if ((st = mx_async_eval(both, 2))) goto out;
  }
  for (int64_t i = 0;; i++) {
    int64_t tok = -1;
    if (i != p.max_tokens) {
      int32_t host = 0;
      if (g.processors) {
        /* The history needs this token's value before the next step. */
        if ((st = mx_array_item_int64(y, &tok))) goto out;
        host = (int32_t)tok;
      }
      int64_t shape[2] = {1, 1};
      mx_array ids = mx_reshape(y, shape, 2);
      st = step(&g, ids, &host, 1, &ny, &nlp);
      mx_array_free(ids);
      if (st) goto out;
      mx_array both[2] = {ny, nlp};
      if ((st = mx_async_eval(both, 2))) goto out;
    }
    if (i == 0) {
      if ((st = mx_array_wait(y))) goto out;
      t1 = now_s();
      prompt_time = t1 - t0;
      if (p.progress) p.progress(p.user, (int64_t)n, (int64_t)n);
    }
    if (i == p.max_tokens) break;
    if (tok < 0 && (st = mx_array_item_int64(y, &tok))) goto out;
    if (is_eos(eos, neos, (int32_t)tok)) {
      finish = MX_LM_FINISH_STOP;
      break;
    }
    ntok++;
    if (p.callback) {
      mx_array row = mx_squeeze(lp, NULL, 0); /* (V) */
      int stop = p.callback(p.user, (int32_t)tok, row);
      mx_array_free(row);
      if (stop) {
        finish = MX_LM_FINISH_CALLBACK;
        break;
      }
    }
    mx_array_free(y);
    mx_array_free(lp);
    y = ny;
    lp = nlp;
    ny = nlp = NULL;
  }
out:
  /* A step may still be running in the background: let it finish before
   * its arrays (and the cache it updates) go away. */
  if (ny) mx_array_wait(ny);
  if (y) mx_array_wait(y);
  mx_array_free(y);
  mx_array_free(lp);
  mx_array_free(ny);
  mx_array_free(nlp);
  if (stats) {
    double t2 = now_s();
    stats->prompt_tokens = (int64_t)n;
    stats->prompt_tps = prompt_time > 0 ? (double)n / prompt_time : 0;
    stats->generation_tokens = ntok;
    stats->generation_tps = t2 > t1 && ntok ? (double)ntok / (t2 - t1) : 0;
    stats->peak_memory = mx_memory_peak();
    stats->finish = st ? MX_LM_FINISH_NONE : finish;
  }
  free(g.hist);
  mx_lm_sampler_free(g.sampler);
  if (own_cache) mx_lm_cache_free(g.cache);
  return st;
}
