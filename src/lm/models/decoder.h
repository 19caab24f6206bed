/* decoder.h — pieces shared by the Llama-like decoders (qwen2, qwen3, phi3):
 * pre-norm blocks of grouped-query attention and a SwiGLU MLP around an
 * embedding, a final RMSNorm and an output head (tied or not). Each
 * architecture file keeps its own attention and block code, reading like
 * its mlx-lm file; this holds what they would otherwise copy.
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim. */
#ifndef MLXC_LM_DECODER_H
#define MLXC_LM_DECODER_H

#include "../lm_internal.h"

/* Replaces `var` by `expr` (which may use var), freeing the old value. */
#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
  } while (0)

typedef struct lm_dec_args {
  int64_t hidden, layers, inter, heads, kv_heads, head_dim, vocab;
  double eps;
  bool tied;
} lm_dec_args;

/* The parts around the blocks. */
typedef struct lm_dec {
  lm_dec_args a;
  mx_dtype dtype;
  lm_linear embed, head; /* head unused when tied */
  mx_array norm;         /* (D) */
  int64_t *window;       /* per layer: sliding window (0 = full), or NULL */
} lm_dec;

/* Reads the ModelArgs every one of them has: hidden_size,
 * num_hidden_layers, intermediate_size, num_attention_heads, vocab_size,
 * num_key_value_heads (default: heads), head_dim (0 or absent:
 * hidden / heads, unless head_dim_key is NULL: always hidden / heads),
 * rms_norm_eps, tie_word_embeddings (default tied_default). */
mx_status lm_dec_parse_args(const cJSON *cfg, lm_dec_args *a, bool tied_default,
                            const char *head_dim_key, const char *what);

/* Per-layer sliding windows of the given size from transformers'
 * "layer_types" (entries "full_attention" / "sliding_attention"; others are
 * unsupported) or, without it, on layers >= first_windowed; d->window stays
 * NULL (all full) when window <= 0. */
mx_status lm_dec_windows(lm_dec *d, const cJSON *cfg, int64_t window, int64_t first_windowed,
                         const char *what);

/* Loads model.embed_tokens, lm_head (or marks it ignored when tied) and
 * model.norm; sets d->dtype. */
mx_status lm_dec_load_outer(lm_dec *d, lm_weights *w, const lm_quant_cfg *q);
void lm_dec_free(lm_dec *d);

/* A (dim) norm weight in dtype dt. */
mx_array lm_dec_load_norm(lm_weights *w, const char *name, int64_t dim, mx_dtype dt);

/* tokens must be (B, L) integers and the cache must match the layers. */
mx_status lm_dec_check_call(const lm_dec *d, mx_array tokens, const mx_lm_cache *cache,
                            const char *name);

/* x (B, L, H*Dh) -> (B, H, L, Dh) */
mx_array lm_dec_heads_first(mx_array x, int64_t B, int64_t L, int64_t H, int64_t Dh);
/* o (B, H, L, Dh) -> (B, L, H*Dh) */
mx_array lm_dec_heads_merge(mx_array o);
/* silu(gate) * up */
mx_array lm_dec_swiglu(mx_array gate, mx_array up);
/* The final norm and the output head: h (B, L, D) -> (B, L, V). Frees h. */
mx_array lm_dec_logits(const lm_dec *d, mx_array h);
/* Bytes read per decoded token outside the blocks. */
uint64_t lm_dec_outer_bytes(const lm_dec *d);
/* layer_spec for d->window. */
void lm_dec_layer_spec(const lm_dec *d, int64_t layer, lm_layer_spec *spec);

#endif
