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
 * out and returns how many the cache has (2 per layer). */
size_t mx_lm_cache_state(const mx_lm_cache *c, mx_array *out, size_t cap);

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
 * continued (and left holding the prompt and generated tokens). stats may be
 * NULL. Generated ids are delivered through params->callback. */
mx_status mx_lm_generate(const mx_lm_model *m, const int32_t *prompt, size_t n,
                         const mx_lm_generate_params *params, mx_lm_cache *cache,
                         mx_lm_generate_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
