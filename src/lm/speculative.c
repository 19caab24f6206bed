/* speculative.c — speculative decoding as mlx-lm's speculative_generate_step:
 * each round the draft model proposes up to num_draft_tokens tokens one at a
 * time, the model scores the pending token plus all proposals in one call
 * and samples at every position, and the longest prefix where its samples
 * equal the proposals is accepted, followed by the model's own next token.
 * Both caches are then trimmed back to what was accepted. Acceptance compares
 * sampled tokens (mlx-lm's rule), so greedy decoding gives exactly the
 * tokens of plain generation. Logits processors see, at every position, the
 * history plain generation would have had there. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_generate.h"
#include "mlxc/ops.h"

/* Processes the logits (1, V) of the position that follows `extra` tokens
 * beyond the accepted history (the drafts before it). */
static mx_array process(lm_gen *g, mx_array x, const int32_t *extra, size_t nextra) {
  if (!g->processors) return mx_array_retain(x);
  size_t keep = g->nhist;
  if (lm_hist_push(g, extra, nextra)) return NULL;
  mx_array out = mx_lm_sampler_process(g->sampler, g->hist, g->nhist, x);
  g->nhist = keep;
  return out;
}

/* Logits (1, L, V) -> the rows of the last k positions (k, V). */
static mx_array last_rows(mx_array logits, int64_t k) {
  int64_t L = mx_array_dim(logits, 1), V = mx_array_dim(logits, 2);
  int64_t start[3] = {0, L - k, 0}, stop[3] = {1, L, V};
  mx_array s = mx_slice(logits, start, stop, NULL, 3);
  int64_t shape[2] = {k, V};
  mx_array r = mx_reshape(s, shape, 2);
  mx_array_free(s);
  return r;
}

static mx_array row_of(mx_array x, int64_t i) {
  int64_t V = mx_array_dim(x, 1);
  int64_t start[2] = {i, 0}, stop[2] = {i + 1, V};
  return mx_slice(x, start, stop, NULL, 2);
}

/* One draft proposal: feeds ids (n tokens) and samples the next token. */
static mx_status draft_step(lm_gen *g, mx_lm_cache *dc, const int32_t *ids, size_t n,
                            const int32_t *drafts, size_t ndrafts, int32_t *out) {
  int64_t shape[2] = {1, (int64_t)n};
  mx_array t = mx_array_from_data(ids, shape, 2, MX_INT32);
  mx_array logits = mx_lm_forward(g->p.draft_model, t, dc);
  mx_array_free(t);
  if (!logits) return mx_last_error_code();
  mx_array x = last_rows(logits, 1);
  mx_array_free(logits);
  mx_array px = x ? process(g, x, drafts, ndrafts) : NULL;
  mx_array_free(x);
  mx_array lp = px ? lm_log_softmax(px) : NULL;
  mx_array_free(px);
  mx_array y = lp ? mx_lm_sampler_sample(g->sampler, lp) : NULL;
  mx_array_free(lp);
  int64_t v = 0;
  mx_status st = y ? mx_array_item_int64(y, &v)
                   : (mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL);
  mx_array_free(y);
  if (st) return st;
  *out = (int32_t)v;
  return MX_OK;
}

/* The model's verification call: ids (n pending + k drafts); samples at
 * the last k + 1 positions. Returns the tokens on the host and the
 * log-probabilities (k + 1, V). */
static mx_status verify(lm_gen *g, mx_lm_cache *c, const int32_t *ids, size_t n,
                        const int32_t *drafts, size_t k, int32_t *toks, mx_array *lp_out) {
  *lp_out = NULL;
  int64_t shape[2] = {1, (int64_t)n};
  mx_array t = mx_array_from_data(ids, shape, 2, MX_INT32);
  mx_array logits = mx_lm_forward(g->m, t, c);
  mx_array_free(t);
  if (!logits) return mx_last_error_code();
  mx_array x = last_rows(logits, (int64_t)k + 1);
  mx_array_free(logits);
  if (x && g->processors) {
    mx_array *rows = calloc(k + 1, sizeof *rows);
    if (!rows) {
      mx_array_free(x);
      return set_error(MX_ERR_OOM, "speculative: out of memory");
    }
    bool ok = true;
    for (size_t j = 0; j <= k && ok; j++) {
      mx_array r = row_of(x, (int64_t)j);
      rows[j] = r ? process(g, r, drafts, j) : NULL;
      mx_array_free(r);
      ok = rows[j] != NULL;
    }
    mx_array_free(x);
    x = ok ? mx_concatenate(rows, k + 1, 0) : NULL;
    for (size_t j = 0; j <= k; j++) mx_array_free(rows[j]);
    free(rows);
  }
  mx_array lp = x ? lm_log_softmax(x) : NULL;
  mx_array_free(x);
  mx_array y = lp ? mx_lm_sampler_sample(g->sampler, lp) : NULL;
  mx_array y32 = y ? mx_astype(y, MX_INT32) : NULL;
  mx_array_free(y);
  mx_status st = y32 ? mx_eval(&y32, 1) : (mx_last_error_code() ? mx_last_error_code()
                                                                 : MX_ERR_INTERNAL);
  if (!st) {
    const int32_t *d = mx_array_data(y32);
    if (!d) st = mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
    else memcpy(toks, d, (k + 1) * sizeof *toks);
  }
  mx_array_free(y32);
  if (st) {
    mx_array_free(lp);
    return st;
  }
  *lp_out = lp;
  return MX_OK;
}

/* Reports one token; returns true when generation ends with it. */
static bool deliver(lm_gen *g, int32_t tok, mx_array lp, int64_t row, bool from_draft) {
  mx_array r = row_of(lp, row);
  mx_array v = r ? mx_squeeze(r, NULL, 0) : NULL;
  mx_array_free(r);
  bool eos = lm_is_eos(g, tok);
  int stop = g->fn ? g->fn(g->user, tok, v, from_draft, eos) : 0;
  mx_array_free(v);
  if (eos) {
    g->finish = MX_LM_FINISH_STOP;
    return true;
  }
  g->ntok++;
  if (stop) {
    g->finish = MX_LM_FINISH_CALLBACK;
    return true;
  }
  return false;
}

mx_status lm_speculative(lm_gen *g, const int32_t *prompt, size_t n, mx_lm_cache *cache,
                         const int32_t *draft_prompt, size_t draft_n, mx_lm_cache *draft_cache,
                         mx_lm_generate_stats *stats) {
  const mx_lm_generate_params *p = &g->p;
  if (!mx_lm_cache_can_trim(cache))
    return set_error(MX_ERR_INVALID_ARG, "speculative decoding needs a cache that can be "
                     "trimmed (no max_kv_size rotation, no kv_bits)");
  bool own_draft = !draft_cache;
  if (own_draft && !(draft_cache = mx_lm_cache_new(p->draft_model))) return mx_last_error_code();
  const int64_t K = p->num_draft_tokens;
  int32_t *buf = malloc((size_t)(3 * K + 4) * sizeof *buf);
  if (!buf) {
    if (own_draft) mx_lm_cache_free(draft_cache);
    return set_error(MX_ERR_OOM, "speculative: out of memory");
  }
  /* ids: the model's input (pending + drafts), drafts, toks: its samples,
   * dy: the draft's pending input (one or two tokens). */
  int32_t *ids = buf, *toks = buf + K + 1, *dy = buf + 2 * K + 2;
  int32_t *drafts = ids + 1;
  size_t ndy = 1;
  dy[0] = draft_prompt[draft_n - 1];
  ids[0] = prompt[n - 1];
  mx_status st = MX_OK;
  mx_array lp = NULL;
  g->finish = MX_LM_FINISH_LENGTH;
  double t0 = monotonic_seconds(), t1 = t0;
  bool first = true;
  if (p->progress) p->progress(p->user, 0, (int64_t)n);
  mx_lm_generate_params quiet = *p;
  quiet.progress = NULL; /* progress counts the model's prompt only */
  if ((st = lm_prefill(p->draft_model, draft_cache, draft_prompt, draft_n - 1, &quiet, 0)))
    goto out;
  if ((st = lm_prefill(g->m, cache, prompt, n - 1, p, n))) goto out;
  if (g->processors && (st = lm_hist_push(g, prompt + n - 1, 1))) goto out;
  for (int64_t ntoks = 0;;) {
    int64_t nd = K;
    if (p->max_tokens >= 0 && p->max_tokens - ntoks < nd) nd = p->max_tokens - ntoks;
    for (int64_t i = 0; i < nd; i++) {
      const int32_t *in = i == 0 ? dy : drafts + i - 1;
      if ((st = draft_step(g, draft_cache, in, i == 0 ? ndy : 1, drafts, (size_t)i,
                           drafts + i)))
        goto out;
    }
    mx_array_free(lp);
    lp = NULL;
    if ((st = verify(g, cache, ids, (size_t)nd + 1, drafts, (size_t)nd, toks, &lp))) goto out;
    if (first) {
      first = false;
      t1 = monotonic_seconds();
      stats->prompt_tps = t1 > t0 ? (double)n / (t1 - t0) : 0;
      if (p->progress) p->progress(p->user, (int64_t)n, (int64_t)n);
    }
    /* Accept drafts while the model's samples agree, then its own token. */
    int64_t acc = 0, delivered = 0;
    bool done = false;
    while (acc < nd && toks[acc] == drafts[acc] && !done) {
      done = deliver(g, toks[acc], lp, acc, true);
      acc++;
      delivered++;
      ntoks++;
      if (ntoks == p->max_tokens) done = true;
    }
    if (!done && (p->max_tokens < 0 || ntoks < p->max_tokens)) {
      done = deliver(g, toks[acc], lp, acc, false);
      delivered++;
      ntoks++;
    }
    if (ntoks == p->max_tokens) done = true;
    /* The model saw the pending token and nd drafts, the draft its pending
     * input and nd - 1 drafts: keep what became part of the sequence. */
    int64_t keep = delivered < acc ? delivered : acc;
    int64_t dt = nd - 1 - keep > 0 ? nd - 1 - keep : 0;
    if (mx_lm_cache_trim(cache, nd - keep) != nd - keep ||
        mx_lm_cache_trim(draft_cache, dt) != dt) {
      /* A rotating cache that filled up can no longer rewind. */
      st = set_error(MX_ERR_INVALID_ARG, "speculative decoding: the cache can no longer be "
                     "trimmed (a rotating cache past its max_kv_size)");
      goto out;
    }
    if (done) break;
    if (g->processors && (st = lm_hist_push(g, toks, (size_t)acc + 1))) goto out;
    /* A fully accepted round leaves the last draft unseen by the draft. */
    ndy = 0;
    if (acc == nd && nd > 0) dy[ndy++] = drafts[nd - 1];
    dy[ndy++] = toks[acc];
    ids[0] = toks[acc];
  }
out:
  mx_array_free(lp);
  free(buf);
  if (own_draft) mx_lm_cache_free(draft_cache);
  double t2 = monotonic_seconds();
  stats->prompt_tokens = (int64_t)n;
  stats->generation_tps = t2 > t1 && g->ntok ? (double)g->ntok / (t2 - t1) : 0;
  return st;
}
