/* batch_generate.c — several prompts generated as one batch (mlx-lm's
 * batch_generate): prompts are left-padded to a common length, the cache is
 * told each row's padding (attention then hides the padded keys and rope
 * counts each row's positions from its first real token), the padded
 * prompts are prefilled together and every step samples one token for every
 * row. A row ends at an end-of-sequence id, max_tokens or when the callback
 * asks; it keeps being fed (its tokens ignored) until the whole batch ends,
 * which keeps the batch rectangular. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_generate.h"
#include "mlxc/memory.h"
#include "mlxc/ops.h"

typedef struct row {
  int32_t *hist; /* the history a logits processor sees (as lm_gen's) */
  size_t nhist, cap;
  int64_t ntok;
  mx_lm_finish finish; /* NONE while running */
} row;

static mx_status row_push(row *r, int32_t t) {
  if (r->nhist == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 64;
    int32_t *h = realloc(r->hist, cap * sizeof *h);
    if (!h) return set_error(MX_ERR_OOM, "batch generate: out of memory");
    r->hist = h;
    r->cap = cap;
  }
  r->hist[r->nhist++] = t;
  return MX_OK;
}

/* One batched step on ids (B, L): samples from the last position of every
 * row. Returns tokens (B,) (new reference). */
static mx_status bstep(const mx_lm_model *m, mx_lm_cache *c, mx_lm_sampler *s, bool processors,
                       row *rows, mx_array ids, mx_array *y) {
  *y = NULL;
  mx_array logits = mx_lm_forward(m, ids, c); /* (B, L, V) */
  if (!logits) return mx_last_error_code();
  int64_t B = mx_array_dim(logits, 0), L = mx_array_dim(logits, 1), V = mx_array_dim(logits, 2);
  int64_t start[3] = {0, L - 1, 0}, stop[3] = {B, L, V};
  mx_array last = mx_slice(logits, start, stop, NULL, 3);
  mx_array_free(logits);
  int64_t s2[2] = {B, V};
  mx_array x = mx_reshape(last, s2, 2);
  mx_array_free(last);
  if (x && processors) {
    mx_array *parts = calloc((size_t)B, sizeof *parts);
    if (!parts) {
      mx_array_free(x);
      return set_error(MX_ERR_OOM, "batch generate: out of memory");
    }
    bool ok = true;
    for (int64_t b = 0; b < B && ok; b++) {
      int64_t rs[2] = {b, 0}, re[2] = {b + 1, V};
      mx_array r = mx_slice(x, rs, re, NULL, 2);
      parts[b] = r ? mx_lm_sampler_process(s, rows[b].hist, rows[b].nhist, r) : NULL;
      mx_array_free(r);
      ok = parts[b] != NULL;
    }
    mx_array_free(x);
    x = ok ? mx_concatenate(parts, (size_t)B, 0) : NULL;
    for (int64_t b = 0; b < B; b++) mx_array_free(parts[b]);
    free(parts);
  }
  mx_array lp = x ? lm_log_softmax(x) : NULL;
  mx_array_free(x);
  mx_array t = lp ? mx_lm_sampler_sample(s, lp) : NULL;
  mx_array_free(lp);
  *y = t ? mx_astype(t, MX_INT32) : NULL;
  mx_array_free(t);
  if (!*y) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
  return MX_OK;
}

mx_status mx_lm_generate_batch(const mx_lm_model *m, const int32_t *const *prompts,
                               const size_t *lengths, size_t n,
                               const mx_lm_generate_params *pp, mx_lm_batch_fn on_token,
                               void *user, mx_lm_generate_stats *stats) {
  if (stats) memset(stats, 0, sizeof *stats);
  if (!m || !prompts || !lengths || n == 0)
    return set_error(MX_ERR_INVALID_ARG, "batch generate: %s",
                     !m ? "NULL model" : n == 0 ? "no prompts" : "NULL prompts or lengths");
  mx_lm_generate_params p;
  mx_status st = lm_gen_params(pp, &p, "batch generate");
  if (st) return st;
  int64_t V = mx_lm_vocab_size(m);
  size_t Lmax = 0, total = 0;
  for (size_t i = 0; i < n; i++) {
    if (!prompts[i] || lengths[i] == 0)
      return set_error(MX_ERR_INVALID_ARG, "batch generate: prompt %zu is %s", i,
                       prompts[i] ? "empty" : "NULL");
    for (size_t j = 0; j < lengths[i]; j++)
      if (prompts[i][j] < 0 || prompts[i][j] >= V)
        return set_error(MX_ERR_INVALID_ARG, "batch generate: prompt %zu token %zu (%d) is "
                         "outside the vocabulary (%lld)", i, j, (int)prompts[i][j],
                         (long long)V);
    if (lengths[i] > Lmax) Lmax = lengths[i];
    total += lengths[i];
  }
  if (Lmax > (size_t)INT32_MAX || n > (size_t)INT32_MAX || Lmax > SIZE_MAX / n / sizeof(int32_t))
    return set_error(MX_ERR_INVALID_ARG, "batch generate: %zu prompts of up to %zu tokens is too "
                     "many", n, Lmax);
  const int32_t *eos = p.eos_ids;
  size_t neos = p.n_eos_ids;
  if (!eos) neos = mx_lm_eos_ids(m, &eos);

  mx_lm_sampler_params greedy = mx_lm_sampler_default_params();
  mx_lm_sampler *s = mx_lm_sampler_new(p.sampler ? p.sampler : &greedy);
  if (!s) return mx_last_error_code();
  bool processors = p.sampler && (p.sampler->n_logit_bias || p.sampler->repetition_penalty != 0 ||
                                  p.sampler->presence_penalty != 0 ||
                                  p.sampler->frequency_penalty != 0);
  int32_t *pad = calloc(n * Lmax, sizeof *pad);
  int32_t *host = calloc(n, sizeof *host);
  row *rows = calloc(n, sizeof *rows);
  mx_lm_cache *c = lm_cache_make(m, p.cache_params);
  mx_array y = NULL, ny = NULL;
  int64_t ntok = 0;
  double t0 = monotonic_seconds(), t1 = t0, prompt_time = 0;
  if (!pad || !host || !rows || !c) {
    st = c ? set_error(MX_ERR_OOM, "batch generate: out of memory") : mx_last_error_code();
    goto out;
  }
  if (!(c->left_pad = calloc(n, sizeof *c->left_pad))) {
    st = set_error(MX_ERR_OOM, "batch generate: out of memory");
    goto out;
  }
  c->batch = (int64_t)n;
  for (size_t i = 0; i < n; i++) {
    size_t off = Lmax - lengths[i];
    c->left_pad[i] = (int64_t)off;
    memcpy(pad + i * Lmax + off, prompts[i], lengths[i] * sizeof *pad);
    if (processors && (st = row_push(&rows[i], prompts[i][lengths[i] - 1]))) goto out;
  }
  if (p.progress) p.progress(p.user, 0, (int64_t)Lmax);
  /* Prefill every column but the last, in chunks. */
  for (size_t done = 0; done + 1 < Lmax;) {
    size_t k = Lmax - 1 - done;
    if ((int64_t)k > p.prefill_step_size) k = (size_t)p.prefill_step_size;
    int32_t *chunk = malloc(n * k * sizeof *chunk);
    if (!chunk) {
      st = set_error(MX_ERR_OOM, "batch generate: out of memory");
      goto out;
    }
    for (size_t i = 0; i < n; i++) memcpy(chunk + i * k, pad + i * Lmax + done, k * sizeof *chunk);
    int64_t shape[2] = {(int64_t)n, (int64_t)k};
    mx_array ids = mx_array_from_data(chunk, shape, 2, MX_INT32);
    free(chunk);
    mx_array logits = mx_lm_forward(m, ids, c);
    mx_array_free(ids);
    if (!logits) {
      st = mx_last_error_code();
      goto out;
    }
    mx_array_free(logits);
    mx_array state[512];
    size_t ns = mx_lm_cache_state(c, state, 512);
    st = mx_eval(state, ns < 512 ? ns : 512);
    for (size_t i = 0; i < ns && i < 512; i++) mx_array_free(state[i]);
    if (st) goto out;
    done += k;
    if (p.progress) p.progress(p.user, (int64_t)done, (int64_t)Lmax);
  }
  for (size_t i = 0; i < n; i++) host[i] = pad[i * Lmax + Lmax - 1];
  {
    int64_t shape[2] = {(int64_t)n, 1};
    mx_array ids = mx_array_from_data(host, shape, 2, MX_INT32);
    st = bstep(m, c, s, processors, rows, ids, &y);
    mx_array_free(ids);
    if (st) goto out;
    if ((st = mx_async_eval(&y, 1))) goto out;
  }
  size_t running = n;
  for (int64_t i = 0; running > 0; i++) {
    /* Record the next step before reading this one (as mx_lm_generate),
     * unless a processor needs the tokens on the host first. */
    if (!processors && i != p.max_tokens) {
      int64_t shape[2] = {(int64_t)n, 1};
      mx_array ids = mx_reshape(y, shape, 2);
      st = bstep(m, c, s, false, rows, ids, &ny);
      mx_array_free(ids);
      if (st) goto out;
      if ((st = mx_async_eval(&ny, 1))) goto out;
    }
    if ((st = mx_eval(&y, 1))) goto out;
    if (i == 0) {
      t1 = monotonic_seconds();
      prompt_time = t1 - t0;
      if (p.progress) p.progress(p.user, (int64_t)Lmax, (int64_t)Lmax);
    }
    const int32_t *t = mx_array_data(y);
    if (!t) {
      st = mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
      goto out;
    }
    memcpy(host, t, n * sizeof *host);
    for (size_t b = 0; b < n; b++) {
      row *r = &rows[b];
      if (r->finish != MX_LM_FINISH_NONE) continue;
      if (r->ntok == p.max_tokens) {
        r->finish = MX_LM_FINISH_LENGTH;
      } else {
        bool is_eos = false;
        for (size_t e = 0; e < neos; e++) is_eos |= eos[e] == host[b];
        if (is_eos) {
          r->finish = MX_LM_FINISH_STOP;
        } else {
          r->ntok++;
          ntok++;
          if (on_token && on_token(user, b, host[b])) r->finish = MX_LM_FINISH_CALLBACK;
        }
      }
      if (r->finish != MX_LM_FINISH_NONE) running--;
    }
    if (running == 0 || i == p.max_tokens) break;
    if (processors) {
      for (size_t b = 0; b < n; b++)
        if ((st = row_push(&rows[b], host[b]))) goto out;
      int64_t shape[2] = {(int64_t)n, 1};
      mx_array ids = mx_array_from_data(host, shape, 2, MX_INT32);
      st = bstep(m, c, s, true, rows, ids, &ny);
      mx_array_free(ids);
      if (st) goto out;
    }
    mx_array_free(y);
    y = ny;
    ny = NULL;
  }
out:
  if (ny) mx_array_wait(ny);
  if (y) mx_array_wait(y);
  mx_array_free(y);
  mx_array_free(ny);
  if (stats) {
    double t2 = monotonic_seconds();
    stats->prompt_tokens = (int64_t)total;
    stats->prompt_tps = prompt_time > 0 ? (double)total / prompt_time : 0;
    stats->generation_tokens = ntok;
    stats->generation_tps = t2 > t1 && ntok ? (double)ntok / (t2 - t1) : 0;
    stats->peak_memory = mx_memory_peak();
    mx_lm_finish f = MX_LM_FINISH_NONE;
    for (size_t b = 0; !st && rows && b < n; b++)
      if (f == MX_LM_FINISH_NONE || rows[b].finish == MX_LM_FINISH_LENGTH ||
          (rows[b].finish == MX_LM_FINISH_STOP && f == MX_LM_FINISH_CALLBACK))
        f = rows[b].finish;
    stats->finish = f;
  }
  if (c) {
    /* The padding belongs to this call, whoever frees the cache. */
    free(c->left_pad);
    c->left_pad = NULL;
    c->batch = 0;
  }
  mx_lm_cache_free(c);
  for (size_t b = 0; rows && b < n; b++) free(rows[b].hist);
  free(rows);
  free(host);
  free(pad);
  mx_lm_sampler_free(s);
  return st;
}
