/* lm_generate.h — what the generation files share (generate.c,
 * speculative.c, text_generate.c, chat_session.c, batch_generate.c): a
 * token loop that reports every token with its origin, and the helpers the
 * loops have in common. */
#ifndef MLXC_LM_GENERATE_H
#define MLXC_LM_GENERATE_H

#include "lm_internal.h"

/* Called for each generated token. eos: the token ends the sequence (it is
 * reported so that callers can track what the cache holds; the return value
 * is then ignored). Return nonzero to stop. */
typedef int (*lm_token_fn)(void *user, int32_t token, mx_array logprobs, bool from_draft,
                           bool eos);

/* mx_lm_generate with the token report above and, for speculative decoding,
 * the draft model's own prompt and cache (the tokens its cache lacks; NULL:
 * the same prompt and a fresh cache). The caches are left holding
 * what the model has seen: the prompt and a prefix of the generated tokens
 * (all of them, except that speculative decoding may leave the last one out;
 * mx_lm_cache_offset tells). */
mx_status lm_generate_tokens(const mx_lm_model *m, const int32_t *prompt, size_t n,
                             const mx_lm_generate_params *params, mx_lm_cache *cache,
                             const int32_t *draft_prompt, size_t draft_n,
                             mx_lm_cache *draft_cache, lm_token_fn fn, void *user,
                             mx_lm_generate_stats *stats);

/* Validated parameters (defaults filled in) and everything a loop needs. */
typedef struct lm_gen {
  const mx_lm_model *m;
  mx_lm_generate_params p;
  const int32_t *eos;
  size_t neos;
  mx_lm_sampler *sampler;
  bool processors; /* a logits processor is active: it needs the history */
  int32_t *hist;   /* mlx-lm's `tokens`: the last prompt token and what followed */
  size_t nhist, caphist;
  lm_token_fn fn;
  void *user;
  int64_t ntok; /* tokens passed to fn (eos excluded) */
  mx_lm_finish finish;
} lm_gen;

/* Fills g->p from params (NULL: defaults) and checks it. */
mx_status lm_gen_params(const mx_lm_generate_params *params, mx_lm_generate_params *out,
                        const char *what);
mx_status lm_hist_push(lm_gen *g, const int32_t *ids, size_t n);
bool lm_is_eos(const lm_gen *g, int32_t t);
/* Runs the model over ids (all but the prompt's last token), in chunks of
 * step, evaluating only the cache; progress is reported through p. */
mx_status lm_prefill(const mx_lm_model *m, mx_lm_cache *c, const int32_t *ids, size_t n,
                     const mx_lm_generate_params *p, size_t total);
/* Log-probabilities of logits (..., V) along the last axis. */
mx_array lm_log_softmax(mx_array logits);
/* Makes the cache for params (cache_params when given). */
mx_lm_cache *lm_cache_make(const mx_lm_model *m, const mx_lm_cache_params *cp);

/* Speculative decoding (speculative.c): the prompt is prefilled into both
 * caches, then every round the draft proposes and the model verifies. */
mx_status lm_speculative(lm_gen *g, const int32_t *prompt, size_t n, mx_lm_cache *cache,
                         const int32_t *draft_prompt, size_t draft_n, mx_lm_cache *draft_cache,
                         mx_lm_generate_stats *stats);

/* ------------------------------------------------------------ text (text_generate.c) */

struct mx_tokenizer;

/* Fills out from pp (size checked, gen validated). */
mx_status lm_text_params(const mx_lm_text_params *pp, mx_lm_text_params *out, const char *what);
/* Renders messages (a cJSON array) with the model's template and
 * add_generation_prompt; *text malloc'ed (mx_string_free). */
mx_status lm_render_chat(const mx_lm_model *m, const cJSON *messages, char **text, size_t *len);
/* Encodes a prompt as mlx-lm's stream_generate does: special tokens are
 * added unless the text already starts with the BOS token's text. An empty
 * result becomes the BOS token alone. *ids malloc'ed. */
mx_status lm_encode_prompt(const struct mx_tokenizer *tok, const mx_lm_model *m,
                           const char *text, size_t len, int32_t **ids, size_t *n);

/* What a text generation leaves for the chat session. */
typedef struct lm_text_out {
  char *reply;      /* the delivered text (malloc'ed) */
  size_t reply_len;
  int32_t *tokens;  /* every generated token, an ending eos included */
  size_t ntokens;
} lm_text_out;

/* Generates from ids, streaming text through p->on_text (stop strings,
 * logprobs, top_logprobs). cache / draft prompt and cache as
 * lm_generate_tokens. out may be NULL. */
mx_status lm_text_run(const mx_lm_model *m, const int32_t *ids, size_t n,
                      const mx_lm_text_params *p, mx_lm_cache *cache, const int32_t *draft_ids,
                      size_t draft_n, mx_lm_cache *draft_cache, lm_text_out *out,
                      mx_lm_generate_stats *stats);

#endif
