/* mlxc/lm.h — language models: loading, KV caches, sampling, generation
 * (what mlx-lm does, as a C API).
 *
 * Loading: mx_lm_load takes a Hugging Face / MLX model folder (config.json +
 * model.safetensors or shards; f32/f16/bf16 or MLX-quantized weights) or a
 * .gguf file (llama-family metadata mapped to the same config; block-quantized
 * tensors used in place). config.json's model_type picks the architecture
 * through a registry with MLX's aliases (mistral -> llama, ...). Weights stay
 * mmapped: the model borrows the file mappings.
 *
 * Forward: mx_lm_forward is lazy like every op; it records the graph of one
 * call and updates the cache's (lazy) state, so a later mx_eval of the logits
 * also computes the new keys and values.
 *
 * Sampling follows mlx_lm/sample_utils.py exactly: logits processors (logit
 * bias, then repetition / presence / frequency penalties over the last
 * context tokens) on the logits; then on log-probabilities the filters
 * top_p -> min_p -> XTC -> top_k, then categorical sampling at the
 * temperature (temperature 0 = argmax, the filters are then skipped).
 *
 * Errors: failing calls return NULL or a negative mx_status and set the
 * thread's last error (mlxc/error.h): MX_ERR_IO (missing files),
 * MX_ERR_FORMAT (bad config or weights, naming the key or tensor),
 * MX_ERR_UNSUPPORTED (unknown model_type, naming it and the supported ones),
 * MX_ERR_INVALID_ARG (bad parameters, naming the parameter).
 *
 * Ownership: objects returned by *_load / *_new are owned by the caller and
 * released with the matching *_free (NULL is ignored). Arrays returned are new
 * references (mx_array_free). Arrays and pointers passed in are borrowed.
 *
 * Thread safety: a loaded model is read-only; several threads may run it with
 * separate caches. A cache, sampler or generation is used by one thread.
 */
#ifndef MLXC_LM_H
#define MLXC_LM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ models */

typedef struct mx_lm_model mx_lm_model;

/* path: a model folder or a .gguf file. */
mx_lm_model *mx_lm_load(const char *path);
void mx_lm_free(mx_lm_model *m);

/* The architecture after aliasing ("llama" for a mistral config). */
const char *mx_lm_model_type(const mx_lm_model *m);
int64_t mx_lm_vocab_size(const mx_lm_model *m);
int64_t mx_lm_num_layers(const mx_lm_model *m);
/* The dtype activations are computed in (the embedding's float dtype). */
mx_dtype mx_lm_dtype(const mx_lm_model *m);
/* Bytes of weights one decode step reads (every tensor once; a tied
 * embedding counted once as the output head). */
uint64_t mx_lm_weight_bytes(const mx_lm_model *m);
/* End-of-sequence ids from config.json / generation_config.json
 * (eos_token_id, int or list) or GGUF tokenizer.ggml.eos_token_id; the
 * pointer is owned by the model. Returns the count (0 when unknown). */
size_t mx_lm_eos_ids(const mx_lm_model *m, const int32_t **ids);
/* bos_token_id from the config or GGUF, -1 when unknown. */
int32_t mx_lm_bos_id(const mx_lm_model *m);

/* The supported architecture names (after aliasing), comma-separated,
 * static storage. */
const char *mx_lm_supported_types(void);

/* ------------------------------------------------------------ caches */

/* One KV cache per layer, of the kind the architecture asks for (standard:
 * preallocated in steps of 256 positions and filled with slice_update, as
 * mlx-lm's KVCache). */
typedef struct mx_lm_cache mx_lm_cache;

mx_lm_cache *mx_lm_cache_new(const mx_lm_model *m);
void mx_lm_cache_free(mx_lm_cache *c);
/* Positions held (the next token's position). */
int64_t mx_lm_cache_offset(const mx_lm_cache *c);
/* Drops the last n positions (at most all); returns how many were dropped. */
int64_t mx_lm_cache_trim(mx_lm_cache *c, int64_t n);
/* Bytes of the cache buffers (allocated capacity). */
uint64_t mx_lm_cache_nbytes(const mx_lm_cache *c);
/* The cache's arrays, to evaluate after a prefill chunk (as mlx-lm's
 * mx.eval([c.state for c in cache])). Writes up to `cap` new references to
 * out and returns how many the cache has: keys and values per attention
 * layer (packed, scales and biases of each for quantized layers), one state
 * per convolution layer. */
size_t mx_lm_cache_state(const mx_lm_cache *c, mx_array *out, size_t cap);

/* Cache options, made with mx_lm_cache_default_params() (mlx-lm's
 * make_prompt_cache / generate_step arguments):
 *  - max_kv_size > 0: full-attention layers keep at most this many positions
 *    in a rotating buffer, always keeping the first `keep` (default 4);
 *  - kv_bits 2..8 (0 = off): keys and values are stored MLX-affine quantized
 *    (kv_group_size, default 64) once the cache holds at least
 *    quantized_kv_start positions (default 0), and attention runs on the
 *    quantized form (mlx-lm's maybe_quantize_kv_cache). Rotating layers are
 *    not quantized (as mlx-lm).
 * Layers whose architecture asks for a sliding window always get a rotating
 * cache of that window; convolution layers (lfm2) a state cache. */
typedef struct mx_lm_cache_params {
  size_t size; /* sizeof(mx_lm_cache_params) */
  int64_t max_kv_size;
  int64_t keep;
  int kv_bits;
  int kv_group_size;
  int64_t quantized_kv_start;
} mx_lm_cache_params;

mx_lm_cache_params mx_lm_cache_default_params(void);
/* p NULL: defaults (mx_lm_cache_new). */
mx_lm_cache *mx_lm_cache_new_ex(const mx_lm_model *m, const mx_lm_cache_params *p);
/* Whether every layer can drop positions (rotating layers past their size
 * and quantized layers cannot, as mlx-lm's can_trim_prompt_cache). */
bool mx_lm_cache_can_trim(const mx_lm_cache *c);

/* Prompt caches (mlx-lm's save_prompt_cache / load_prompt_cache): the cache
 * arrays and per-layer kinds in a safetensors file, plus string metadata
 * (n_meta key/value pairs, e.g. "model", "tokens"), written atomically
 * (temporary file + rename). A loaded cache continues exactly where the
 * saved one stopped; using it with a model of another shape fails naming the
 * mismatch. */
mx_status mx_lm_cache_save(const mx_lm_cache *c, const char *path, const char *const *meta_keys,
                           const char *const *meta_values, size_t n_meta);
mx_lm_cache *mx_lm_cache_load(const char *path);
/* A metadata value of a loaded (or saved) cache, owned by the cache; NULL
 * when absent. */
const char *mx_lm_cache_metadata(const mx_lm_cache *c, const char *key);

/* tokens: integer array (B, L) of ids. Returns logits (B, L, vocab) in the
 * model's dtype. cache may be NULL (no cache, causal attention over L). */
mx_array mx_lm_forward(const mx_lm_model *m, mx_array tokens, mx_lm_cache *cache);

/* ------------------------------------------------------------ sampling */

/* Make with mx_lm_sampler_default_params(): temp 0, every filter and
 * penalty off, min_tokens_to_keep 1, xtc_threshold 0.1, context sizes 20,
 * seed -1 (draw keys from the global mx_random sequence, as mlx-lm after
 * mx.random.seed). seed >= 0 gives the sampler its own key sequence starting
 * at mx_random_key(seed): the same draws as mlx-lm after mx.random.seed(seed). */
typedef struct mx_lm_sampler_params {
  size_t size; /* sizeof(mx_lm_sampler_params) */
  /* Probabilities and factors are doubles, as the Python floats mlx-lm
   * derives its float32 thresholds from (1 - top_p, log(min_p), 1 / temp). */
  double temp;
  double top_p; /* used when 0 < top_p < 1 */
  double min_p; /* used when != 0; must be in [0, 1] */
  int32_t min_tokens_to_keep;
  int32_t top_k; /* used when > 0; must be < vocab */
  double xtc_probability; /* used when > 0 */
  double xtc_threshold;   /* [0, 0.5] */
  const int32_t *xtc_special_tokens; /* copied */
  size_t n_xtc_special_tokens;
  double repetition_penalty; /* used when != 0; >= 0 */
  int32_t repetition_context_size;
  double presence_penalty; /* used when != 0 */
  int32_t presence_context_size;
  double frequency_penalty; /* used when != 0 */
  int32_t frequency_context_size;
  const int32_t *logit_bias_ids; /* n_logit_bias pairs; copied */
  const float *logit_bias_values;
  size_t n_logit_bias;
  int64_t seed;
} mx_lm_sampler_params;

mx_lm_sampler_params mx_lm_sampler_default_params(void);

typedef struct mx_lm_sampler mx_lm_sampler;

/* Validates the parameters (mlx-lm's ValueErrors become MX_ERR_INVALID_ARG
 * naming the parameter; top_k is checked against the vocabulary on use).
 * Note: mlx-lm's CLI seeds before building the model, whose random
 * initialization consumes keys first; a seeded sampler here matches
 * mx.random.seed(seed) called right before sampling. */
mx_lm_sampler *mx_lm_sampler_new(const mx_lm_sampler_params *p);
void mx_lm_sampler_free(mx_lm_sampler *s);
/* Applies the logits processors. logits (B, V); history: the tokens so far
 * (mlx-lm's `tokens`), n may be 0. */
mx_array mx_lm_sampler_process(mx_lm_sampler *s, const int32_t *history, size_t n,
                               mx_array logits);
/* Samples one token per row of logprobs (B, V); returns (B,) ids (uint32). */
mx_array mx_lm_sampler_sample(mx_lm_sampler *s, mx_array logprobs);

/* The individual filters, as mlx-lm's apply_* (log-probabilities in, the
 * same with removed entries set to -inf out; along the last axis). */
mx_array mx_lm_apply_top_p(mx_array logprobs, double top_p);
mx_array mx_lm_apply_min_p(mx_array logprobs, double min_p, int32_t min_tokens_to_keep);
mx_array mx_lm_apply_top_k(mx_array logprobs, int32_t top_k);
/* key: NULL draws from the global sequence. */
mx_array mx_lm_apply_xtc(mx_array logits, double probability, double threshold,
                         const int32_t *special_tokens, size_t n_special, mx_array key);

/* ------------------------------------------------------------ generation */

typedef enum mx_lm_finish {
  MX_LM_FINISH_NONE = 0,
  MX_LM_FINISH_STOP = 1,    /* an end-of-sequence token */
  MX_LM_FINISH_LENGTH = 2,  /* max_tokens reached */
  MX_LM_FINISH_CALLBACK = 3 /* the callback asked to stop */
} mx_lm_finish;

/* The tokenizer and chat template found with the model (tokenizer.json /
 * tokenizer_config.json / chat_template.jinja in the folder, or the GGUF's
 * tokenizer.* keys), loaded on first use; owned by the model, NULL (with the
 * last error set) when the model has none. */
struct mx_tokenizer;
struct mx_chat_template;
const struct mx_tokenizer *mx_lm_tokenizer(const mx_lm_model *m);
const struct mx_chat_template *mx_lm_chat_template(const mx_lm_model *m);

/* Called once per generated token (end-of-sequence tokens are not passed).
 * logprobs: (vocab,) log-probabilities of that step, borrowed for the call.
 * Return nonzero to stop. */
typedef int (*mx_lm_token_fn)(void *user, int32_t token, mx_array logprobs);

typedef struct mx_lm_generate_params {
  size_t size;                /* sizeof(mx_lm_generate_params) */
  int64_t max_tokens;         /* default 256; -1: until eos or the callback stops */
  int64_t prefill_step_size;  /* default 2048 */
  const mx_lm_sampler_params *sampler; /* NULL: greedy */
  const int32_t *eos_ids;     /* NULL: the model's (mx_lm_eos_ids) */
  size_t n_eos_ids;
  mx_lm_token_fn callback;    /* may be NULL */
  void *user;
  /* Called after each prefill chunk with (processed, total); may be NULL. */
  void (*progress)(void *user, int64_t processed, int64_t total);
  /* Options of the cache made when `cache` is NULL (NULL: defaults). */
  const mx_lm_cache_params *cache_params;
  /* Speculative decoding (mlx-lm's speculative_generate_step): a draft
   * model sharing the vocabulary proposes num_draft_tokens (default 2)
   * tokens per step, verified by the model in one call; the output equals
   * plain generation with the same sampler (greedy: token for token). */
  const mx_lm_model *draft_model;
  int32_t num_draft_tokens;
} mx_lm_generate_params;

mx_lm_generate_params mx_lm_generate_default_params(void);

typedef struct mx_lm_generate_stats {
  int64_t prompt_tokens;
  double prompt_tps;        /* prompt tokens / time to the first token */
  int64_t generation_tokens; /* tokens passed to the callback */
  double generation_tps;    /* after the first token */
  uint64_t peak_memory;     /* mx_memory_peak() at the end, bytes */
  mx_lm_finish finish;
} mx_lm_generate_stats;

/* Generates from prompt ids (n >= 1). cache: NULL for a fresh one, else
 * continued (and left holding the prompt and generated tokens; with a
 * draft model the last generated token may be left out: the cache's offset
 * tells). stats may be NULL. Generated ids are delivered through
 * params->callback. Speculative decoding needs a trimmable cache
 * (MX_ERR_INVALID_ARG otherwise; a cache made here ignores max_kv_size, as
 * mlx-lm does); the draft model gets a fresh cache each call, so with a
 * continued cache it sees only this call's prompt (which costs speed, never
 * exactness). */
mx_status mx_lm_generate(const mx_lm_model *m, const int32_t *prompt, size_t n,
                         const mx_lm_generate_params *params, mx_lm_cache *cache,
                         mx_lm_generate_stats *stats);

/* ------------------------------------------------------------ text generation */

/* One streamed piece of a text generation. */
typedef struct mx_lm_chunk {
  const char *text;  /* new text, valid for the call; may be empty while a
                      * UTF-8 sequence or a possible stop string is pending */
  size_t len;
  int32_t token;     /* the token that ended this piece (-1 for a final flush,
                      * sent only when held-back text remains) */
  float logprob;     /* its log-probability */
  const int32_t *top_ids; /* the top_logprobs most likely ids of the step, */
  const float *top_logprobs; /* best first, and their log-probabilities */
  size_t n_top;
  bool from_draft;   /* speculative decoding: proposed by the draft model */
} mx_lm_chunk;

/* Return nonzero to stop. */
typedef int (*mx_lm_text_fn)(void *user, const mx_lm_chunk *chunk);

/* Make with mx_lm_text_default_params(). */
typedef struct mx_lm_text_params {
  size_t size;                 /* sizeof(mx_lm_text_params) */
  mx_lm_generate_params gen;   /* its callback is not used; gen.size must be set */
  const char *const *stop;     /* stop strings: generation ends before the first one; */
  size_t n_stop;               /* text that could begin one is held back, never leaked */
  int32_t top_logprobs;        /* 0..20 */
  bool use_chat_template;      /* default true when the model has one */
  const char *system_prompt;   /* NULL: none */
  mx_lm_text_fn on_text;
  void *user;
} mx_lm_text_params;

mx_lm_text_params mx_lm_text_default_params(void);

/* A user prompt: wrapped as one user message (after the system prompt) by
 * the chat template when use_chat_template, else encoded as is (with the
 * tokenizer's BOS rules; the system prompt is then unused). Rendered text
 * that starts with the BOS token's text is encoded without adding another
 * (mlx-lm's rule). End-of-sequence ids: gen.eos_ids, else the model's and
 * the tokenizer's together. The text is mlx-lm's streaming detokenizer's
 * (a byte-level BPE drops the first token's leading space). The finish
 * reason is in stats->finish (MX_LM_FINISH_STOP also for a stop string). */
mx_status mx_lm_generate_text(const mx_lm_model *m, const char *prompt,
                              const mx_lm_text_params *p, mx_lm_generate_stats *stats);
/* messages_json: an OpenAI-style JSON array of {"role","content"}; the
 * system prompt, when given, goes first unless the messages start with a
 * system message. Needs the model's chat template (MX_ERR_UNSUPPORTED
 * without one, MX_ERR_INVALID_ARG when use_chat_template is off). */
mx_status mx_lm_generate_chat(const mx_lm_model *m, const char *messages_json,
                              const mx_lm_text_params *p, mx_lm_generate_stats *stats);

/* A chat session: the conversation and its cache across turns. Each turn
 * renders the whole conversation, reuses the cached prefix it shares with
 * the previous turns (trimming what differs) and prefills only the rest. */
typedef struct mx_lm_chat mx_lm_chat;

/* system_prompt may be NULL; cache_params NULL for defaults. Needs the
 * model's tokenizer and chat template (NULL, MX_ERR_UNSUPPORTED without a
 * template). A cache that cannot trim (rotating past its size, quantized)
 * is rebuilt when a turn diverges from what it holds. */
mx_lm_chat *mx_lm_chat_new(const mx_lm_model *m, const char *system_prompt,
                           const mx_lm_cache_params *cache_params);
void mx_lm_chat_free(mx_lm_chat *c);
/* Sends one user message; the reply (streamed through p->on_text) is added
 * to the conversation and returned in *reply (mx_string_free, may be NULL).
 * stats->prompt_tokens counts the tokens prefilled this turn. A failed turn
 * leaves the conversation as it was. p->gen.draft_model works here too (the
 * session then keeps a cache for the draft as well). */
mx_status mx_lm_chat_send(mx_lm_chat *c, const char *user_message, const mx_lm_text_params *p,
                          char **reply, mx_lm_generate_stats *stats);
/* Tokens the session's cache holds. */
int64_t mx_lm_chat_cached_tokens(const mx_lm_chat *c);

/* ------------------------------------------------------------ batch generation */

/* Called for each token of each sequence (row index into the prompts);
 * end-of-sequence tokens are not passed. Return nonzero to end that row. */
typedef int (*mx_lm_batch_fn)(void *user, size_t row, int32_t token);

/* Generates from n prompts at once (mlx-lm's batch_generate): prompts are
 * left-padded to a common length and run as one batch; a row stops at an
 * end-of-sequence id or max_tokens, the batch when all rows have. Greedy
 * rows give the same tokens as generating each prompt alone. params'
 * callback, draft_model are not used. stats may be NULL (totals). */
mx_status mx_lm_generate_batch(const mx_lm_model *m, const int32_t *const *prompts,
                               const size_t *lengths, size_t n,
                               const mx_lm_generate_params *params, mx_lm_batch_fn on_token,
                               void *user, mx_lm_generate_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
