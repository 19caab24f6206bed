/* generate.c — the generation loop of mlx_lm/generate.py (generate_step and
 * stream_generate): the prompt is prefilled in chunks of prefill_step_size
 * (all but its last token, evaluating only the cache), then each step
 * samples from the last position's log-probabilities. Step n+1 is recorded
 * and started (mx_async_eval) before token n is read, so building the next
 * graph overlaps the current computation, as mlx-lm does. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_generate.h"
#include "mlxc/memory.h"
#include "mlxc/ops.h"

mx_lm_cache *lm_cache_make(const mx_lm_model *m, const mx_lm_cache_params *cp) {
  return cp ? mx_lm_cache_new_ex(m, cp) : mx_lm_cache_new(m);
}

mx_lm_generate_params mx_lm_generate_default_params(void) {
  mx_lm_generate_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.max_tokens = 256;
  p.prefill_step_size = 2048;
  p.num_draft_tokens = 2;
  return p;
}

mx_status lm_gen_params(const mx_lm_generate_params *pp, mx_lm_generate_params *out,
                        const char *what) {
  mx_lm_generate_params p = mx_lm_generate_default_params();
  if (pp) {
    if (pp->size < sizeof(size_t) || pp->size > sizeof p)
      return set_error(MX_ERR_INVALID_ARG, "%s: params.size %zu is not a known version", what,
                       pp->size);
    memcpy(&p, pp, pp->size);
    p.size = sizeof p;
  }
  if (p.prefill_step_size <= 0)
    return set_error(MX_ERR_INVALID_ARG, "%s: prefill_step_size %lld must be positive", what,
                     (long long)p.prefill_step_size);
  if (p.max_tokens < -1)
    return set_error(MX_ERR_INVALID_ARG, "%s: max_tokens %lld must be >= -1", what,
                     (long long)p.max_tokens);
  if (p.n_eos_ids && !p.eos_ids)
    return set_error(MX_ERR_INVALID_ARG, "%s: n_eos_ids %zu with NULL eos_ids", what,
                     p.n_eos_ids);
  if (p.draft_model) {
    if (p.num_draft_tokens == 0) p.num_draft_tokens = 2;
    if (p.num_draft_tokens < 0)
      return set_error(MX_ERR_INVALID_ARG, "%s: num_draft_tokens %d must be positive", what,
                       (int)p.num_draft_tokens);
  }
  *out = p;
  return MX_OK;
}

mx_status lm_hist_push(lm_gen *g, const int32_t *ids, size_t n) {
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

bool lm_is_eos(const lm_gen *g, int32_t t) {
  for (size_t i = 0; i < g->neos; i++)
    if (g->eos[i] == t) return true;
  return false;
}

mx_array lm_log_softmax(mx_array x) {
  int ax = -1;
  mx_array lse = mx_logsumexp(x, &ax, 1, true);
  mx_array lp = mx_subtract(x, lse);
  mx_array_free(lse);
  return lp;
}

static mx_status eval_cache(mx_lm_cache *c) {
  mx_array state[512];
  size_t ns = mx_lm_cache_state(c, state, 512);
  mx_status st = mx_eval(state, ns < 512 ? ns : 512);
  for (size_t i = 0; i < ns && i < 512; i++) mx_array_free(state[i]);
  if (ns > 512 && !st) {
    /* More layers than the stack list holds: evaluate the rest in turn. */
    mx_array *all = malloc(ns * sizeof *all);
    if (!all) return set_error(MX_ERR_OOM, "generate: out of memory");
    mx_lm_cache_state(c, all, ns);
    st = mx_eval(all, ns);
    for (size_t i = 0; i < ns; i++) mx_array_free(all[i]);
    free(all);
  }
  return st;
}

mx_status lm_prefill(const mx_lm_model *m, mx_lm_cache *c, const int32_t *ids, size_t n,
                     const mx_lm_generate_params *p, size_t total) {
  size_t done = 0;
  while (done < n) {
    size_t k = n - done;
    if ((int64_t)k > p->prefill_step_size) k = (size_t)p->prefill_step_size;
    int64_t shape[2] = {1, (int64_t)k};
    mx_array t = mx_array_from_data(ids + done, shape, 2, MX_INT32);
    /* Only the cache is evaluated: the logits of prefill chunks are unused. */
    mx_array logits = mx_lm_forward(m, t, c);
    mx_array_free(t);
    if (!logits) return mx_last_error_code();
    mx_array_free(logits);
    mx_status st = eval_cache(c);
    if (st) return st;
    done += k;
    if (p->progress) p->progress(p->user, (int64_t)done, (int64_t)total);
  }
  return MX_OK;
}

/* One model call on ids (1, L); returns the sampled token (1,) and the
 * last position's log-probabilities (1, V) (new references). host_ids: the
 * same ids on the host when the history needs them. */
static mx_status step(lm_gen *g, mx_lm_cache *cache, mx_array ids, const int32_t *host_ids,
                      size_t n, mx_array *y, mx_array *logprobs) {
  *y = *logprobs = NULL;
  mx_array logits = mx_lm_forward(g->m, ids, cache); /* (1, L, V) */
  if (!logits) return mx_last_error_code();
  int64_t L = mx_array_dim(logits, 1), V = mx_array_dim(logits, 2);
  int64_t start[3] = {0, L - 1, 0}, stop[3] = {MX_SLICE_END, L, MX_SLICE_END};
  mx_array last = mx_slice(logits, start, stop, NULL, 3);
  int64_t s2[2] = {1, V};
  mx_array x = mx_reshape(last, s2, 2); /* (1, V) */
  mx_array_free(logits);
  mx_array_free(last);
  if (g->processors && n) {
    mx_status st = lm_hist_push(g, host_ids, n);
    if (st) {
      mx_array_free(x);
      return st;
    }
    mx_array p = mx_lm_sampler_process(g->sampler, g->hist, g->nhist, x);
    mx_array_free(x);
    x = p;
  }
  mx_array lp = lm_log_softmax(x);
  mx_array_free(x);
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

/* The plain loop (mlx-lm's generate_step). */
static mx_status plain(lm_gen *g, const int32_t *prompt, size_t n, mx_lm_cache *cache,
                       mx_lm_generate_stats *stats) {
  const mx_lm_generate_params *p = &g->p;
  mx_status st = MX_OK;
  mx_array y = NULL, lp = NULL, ny = NULL, nlp = NULL;
  g->finish = MX_LM_FINISH_LENGTH;
  double t0 = monotonic_seconds(), t1 = t0, prompt_time = 0;
  if (p->progress) p->progress(p->user, 0, (int64_t)n);
  if ((st = lm_prefill(g->m, cache, prompt, n - 1, p, n))) goto out;
  {
    int64_t shape[2] = {1, 1};
    mx_array ids = mx_array_from_data(prompt + n - 1, shape, 2, MX_INT32);
    st = step(g, cache, ids, prompt + n - 1, 1, &y, &lp);
    mx_array_free(ids);
    if (st) goto out;
  }
  {
    mx_array both[2] = {y, lp};
    if ((st = mx_async_eval(both, 2))) goto out;
  }
  for (int64_t i = 0;; i++) {
    int64_t tok = -1;
    if (i != p->max_tokens) {
      int32_t host = 0;
      if (g->processors) {
        /* The history needs this token's value before the next step. */
        if ((st = mx_array_item_int64(y, &tok))) goto out;
        host = (int32_t)tok;
      }
      int64_t shape[2] = {1, 1};
      mx_array ids = mx_reshape(y, shape, 2);
      st = step(g, cache, ids, &host, 1, &ny, &nlp);
      mx_array_free(ids);
      if (st) goto out;
      mx_array both[2] = {ny, nlp};
      if ((st = mx_async_eval(both, 2))) goto out;
    }
    if (i == 0) {
      if ((st = mx_array_wait(y))) goto out;
      t1 = monotonic_seconds();
      prompt_time = t1 - t0;
      if (p->progress) p->progress(p->user, (int64_t)n, (int64_t)n);
    }
    if (i == p->max_tokens) break;
    if (tok < 0 && (st = mx_array_item_int64(y, &tok))) goto out;
    mx_array row = mx_squeeze(lp, NULL, 0); /* (V) */
    bool eos = lm_is_eos(g, (int32_t)tok);
    int stop = g->fn ? g->fn(g->user, (int32_t)tok, row, false, eos) : 0;
    mx_array_free(row);
    if (eos) {
      g->finish = MX_LM_FINISH_STOP;
      break;
    }
    g->ntok++;
    if (stop) {
      g->finish = MX_LM_FINISH_CALLBACK;
      break;
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
  double t2 = monotonic_seconds();
  stats->prompt_tokens = (int64_t)n;
  stats->prompt_tps = prompt_time > 0 ? (double)n / prompt_time : 0;
  stats->generation_tps = t2 > t1 && g->ntok ? (double)g->ntok / (t2 - t1) : 0;
  return st;
}

mx_status lm_generate_tokens(const mx_lm_model *m, const int32_t *prompt, size_t n,
                             const mx_lm_generate_params *pp, mx_lm_cache *cache,
                             const int32_t *draft_prompt, size_t draft_n,
                             mx_lm_cache *draft_cache, lm_token_fn fn, void *user,
                             mx_lm_generate_stats *out_stats) {
  mx_lm_generate_stats stats;
  memset(&stats, 0, sizeof stats);
  if (out_stats) memset(out_stats, 0, sizeof *out_stats);
  if (!m || !prompt || n == 0)
    return set_error(MX_ERR_INVALID_ARG, "generate: %s", !m ? "NULL model"
                     : "the prompt must hold at least one token");
  lm_gen g = {.m = m, .fn = fn, .user = user};
  mx_status st = lm_gen_params(pp, &g.p, "generate");
  if (st) return st;
  int64_t V = mx_lm_vocab_size(m);
  for (size_t i = 0; i < n; i++)
    if (prompt[i] < 0 || prompt[i] >= V)
      return set_error(MX_ERR_INVALID_ARG, "generate: prompt token %zu (%d) is outside the "
                       "vocabulary (%lld)", i, (int)prompt[i], (long long)V);
  if (g.p.draft_model && mx_lm_vocab_size(g.p.draft_model) != V)
    return set_error(MX_ERR_INVALID_ARG, "generate: the draft model's vocabulary (%lld) differs "
                     "from the model's (%lld)", (long long)mx_lm_vocab_size(g.p.draft_model),
                     (long long)V);
  g.eos = g.p.eos_ids;
  g.neos = g.p.n_eos_ids;
  if (!g.eos) g.neos = mx_lm_eos_ids(m, &g.eos);

  mx_lm_sampler_params greedy = mx_lm_sampler_default_params();
  g.sampler = mx_lm_sampler_new(g.p.sampler ? g.p.sampler : &greedy);
  if (!g.sampler) return mx_last_error_code();
  const mx_lm_sampler_params *sp = g.p.sampler;
  if (sp)
    g.processors = sp->n_logit_bias || sp->repetition_penalty != 0 ||
                   sp->presence_penalty != 0 || sp->frequency_penalty != 0;
  bool own_cache = !cache;
  mx_lm_cache_params cp;
  const mx_lm_cache_params *cpp = g.p.cache_params;
  if (cpp && g.p.draft_model) {
    /* Speculative decoding rewinds the cache: mlx-lm drops max_kv_size. */
    if (cpp->size < sizeof(size_t) || cpp->size > sizeof cp) {
      mx_lm_sampler_free(g.sampler);
      return set_error(MX_ERR_INVALID_ARG, "generate: cache_params.size %zu is not a known "
                       "version", cpp->size);
    }
    cp = mx_lm_cache_default_params();
    memcpy(&cp, cpp, cpp->size);
    cp.size = sizeof cp;
    cp.max_kv_size = 0;
    cpp = &cp;
  }
  if (own_cache && !(cache = lm_cache_make(m, cpp))) {
    mx_lm_sampler_free(g.sampler);
    return mx_last_error_code();
  }
  if (!draft_prompt || draft_n == 0) {
    draft_prompt = prompt;
    draft_n = n;
  }
  if (g.p.draft_model)
    st = lm_speculative(&g, prompt, n, cache, draft_prompt, draft_n, draft_cache, &stats);
  else
    st = plain(&g, prompt, n, cache, &stats);
  stats.generation_tokens = g.ntok;
  stats.peak_memory = mx_memory_peak();
  stats.finish = st ? MX_LM_FINISH_NONE : g.finish;
  if (out_stats) *out_stats = stats;
  free(g.hist);
  mx_lm_sampler_free(g.sampler);
  if (own_cache) mx_lm_cache_free(cache);
  return st;
}

typedef struct public_cb {
  mx_lm_token_fn fn;
  void *user;
} public_cb;

static int public_token(void *user, int32_t token, mx_array logprobs, bool from_draft,
                        bool eos) {
  public_cb *c = user;
  (void)from_draft;
  if (eos || !c->fn) return 0;
  return c->fn(c->user, token, logprobs);
}

mx_status mx_lm_generate(const mx_lm_model *m, const int32_t *prompt, size_t n,
                         const mx_lm_generate_params *pp, mx_lm_cache *cache,
                         mx_lm_generate_stats *stats) {
  public_cb c = {0};
  if (pp && pp->size >= offsetof(mx_lm_generate_params, user) + sizeof(void *)) {
    c.fn = pp->callback;
    c.user = pp->user;
  }
  return lm_generate_tokens(m, prompt, n, pp, cache, NULL, 0, NULL, public_token, &c, stats);
}
