/* decoder.h — what the decoder-only architectures in this folder share, so
 * that each model file keeps only what is particular to it (its config
 * keys, weight names, and the pieces mlx-lm writes differently):
 *
 *   - lm_dec: the model around its blocks (embedding, final norm, output
 *     head tied or not, rope) and the layer array, with the block loop of
 *     mlx-lm's Llama-like models (pre-norm attention, then a pre-norm
 *     feed-forward, each added to the residual stream);
 *   - lm_attn (attention.c): grouped-query attention with q/k/v projections
 *     (one fused qkv_proj, or separate ones concatenated into one at load
 *     when their weights allow), optional per-head q/k RMSNorms, rope, the
 *     KV cache, sdpa and the output projection;
 *   - lm_mlp / lm_sparse_moe (feed_forward.c): the gated MLP (SwiGLU or
 *     another activation; gate and up fused, in the file or at load, or
 *     separate) and the routed
 *     mixture of SwiGLU experts.
 *
 * An architecture whose struct starts with an lm_dec can use the lm_dec_*
 * vtable functions (LM_DEC_ARCH_FNS) for everything but create.
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim,
 * F intermediate, V vocab. */
#ifndef MLXC_LM_DECODER_H
#define MLXC_LM_DECODER_H

#include "../lm_internal.h"
#include "../moe.h"

/* Replaces `var` by `expr` (which may use var), freeing the old value. */
#define SET(var, expr)        \
  do {                        \
    mx_array set_t_ = (expr); \
    mx_array_free(var);       \
    var = set_t_;             \
  } while (0)

struct lm_dec;

/* Row-wise concatenation of n (<= 8) linears that share one input (q/k/v,
 * gate/up) into dst, done and evaluated now: one matmul instead of n, each
 * output row computed from its own weights, scales and biases. The parts
 * become views of their rows of dst (no extra memory), so callers can
 * still run them separately, and do for the inputs lm_linear_fused_serves
 * refuses. When the parts differ in form (dense / quantized / GGUF), dtype,
 * quantization, input size or bias, dst stays zeroed and the parts
 * untouched; an error is returned only when fusing failed (layers.c). */
mx_status lm_linear_fuse(lm_linear *dst, lm_linear *parts, int n);
/* Whether an input of `rows` rows may run through fused weights f (from
 * lm_linear_fuse) with every part's output the bits the part gives alone:
 * one row always; up to 8 rows when f is quantized and runs on the CPU.
 * Otherwise the separate matmuls keep their exact results. */
bool lm_linear_fused_serves(const lm_linear *f, int64_t rows);
/* False when MLXC_FUSE=0: models then load and run the graph they did
 * before fusion (separate projections, the sigmoid / multiply chain), for
 * A/B comparisons of node counts, speed and bits. */
bool lm_fuse_enabled(void);

/* silu(x[..., :F]) * x[..., F:] of x (..., 2F) as one node, bit-identical
 * to sigmoid / multiply / multiply on the two slices (src/ops/fast_silu_mul.c;
 * mx_fast_silu_mul is the public two-input form). */
mx_array fast_silu_mul_halves(mx_array x);

/* ------------------------------------------------------------ attention */

typedef struct lm_attn_opts {
  bool qkv_bias, o_bias; /* biases on the q/k/v and the output projections */
  bool fused_qkv;        /* one "qkv_proj" (Hq + 2 Hkv) Dh rows, split after the matmul */
  const char *o_proj;    /* output projection name; NULL: "o_proj" */
  /* Per-head RMSNorm weights of q and k (before rope), e.g. "q_norm",
   * "k_norm"; NULL: none. */
  const char *q_norm, *k_norm;
  double scale; /* softmax scale; 0: 1 / sqrt(head_dim) */
} lm_attn_opts;

typedef struct lm_attn {
  int64_t heads, kv_heads, head_dim;
  float eps, scale;
  lm_linear q, k, v, o; /* q (Hq*Dh, D), k and v (Hkv*Dh, D), o (D, Hq*Dh) */
  /* ((Hq + 2 Hkv) Dh, D): the file's qkv_proj (q, k, v unused), or q, k, v
   * concatenated at load (q, k, v then views of its rows). */
  lm_linear qkv;
  mx_array q_norm, k_norm; /* (Dh) or NULL */
  const lm_rope *rope;     /* borrowed from the model */
} lm_attn;

/* Loads "<prefix>.self_attn.*" for the heads of d->a, with norms loaded as
 * d's (lm_dec_load_norm) and d->rope. */
mx_status lm_attn_load(lm_attn *at, const struct lm_dec *d, lm_weights *w,
                       const lm_quant_cfg *q, const char *prefix, const lm_attn_opts *o);
/* x (B, L, D) -> (B, L, D) through the layer's cache c (NULL: none); window
 * as lm_attend. */
mx_array lm_attn_apply(const lm_attn *at, mx_array x, lm_kv_cache *c, int64_t window);
void lm_attn_free(lm_attn *at);
uint64_t lm_attn_nbytes(const lm_attn *at);

/* ------------------------------------------------------------ feed-forward */

typedef mx_array (*lm_act_fn)(mx_array x); /* returns a new reference */

typedef struct lm_mlp_opts {
  /* Names under the layer prefix. up NULL: gate is one fused gate_up
   * projection (2F, D) whose halves are gate and up. */
  const char *gate, *up, *down;
  bool bias;
  lm_act_fn act; /* applied to the gate; NULL: silu (SwiGLU) */
} lm_mlp_opts;

typedef struct lm_mlp {
  lm_linear gate, up, down; /* gate (F, D) or fused (2F, D); up (F, D); down (D, F) */
  lm_linear gate_up;        /* gate and up concatenated at load (2F, D), or unused;
                             * gate and up are then views of its rows */
  bool fused;
  lm_act_fn act;
} lm_mlp;

/* o NULL: mlx-lm's "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj". */
mx_status lm_mlp_load(lm_mlp *m, lm_weights *w, const lm_quant_cfg *q, const char *prefix,
                      const lm_mlp_opts *o, int64_t D, int64_t F);
/* down(act(gate(x)) * up(x)): x (B, L, D) -> (B, L, D). */
mx_array lm_mlp_apply(const lm_mlp *m, mx_array x);
void lm_mlp_free(lm_mlp *m);
uint64_t lm_mlp_nbytes(const lm_mlp *m);

typedef struct lm_moe_opts {
  const char *block;         /* "block_sparse_moe" (Mixtral), "mlp" (Qwen3-MoE) */
  const char *const *names;  /* per-expert gate, up, down names (moe.h) */
  int64_t experts, top_k, hidden;
  bool norm_topk, softmax_first; /* lm_moe_route */
} lm_moe_opts;

/* A router "<block>.gate" (E, D) and E SwiGLU experts ("<block>.switch_mlp"
 * stacked or "<block>.experts.<e>"), of which top_k run per token. */
typedef struct lm_sparse_moe {
  lm_linear router;
  lm_switch_glu experts;
  int64_t n_experts, top_k;
  bool norm_topk, softmax_first;
} lm_sparse_moe;

mx_status lm_sparse_moe_load(lm_sparse_moe *m, lm_weights *w, const lm_quant_cfg *q,
                             const char *prefix, const lm_moe_opts *o, int64_t D);
/* x (B, L, D) -> (B, L, D): the score-weighted sum of the chosen experts. */
mx_array lm_sparse_moe_apply(const lm_sparse_moe *m, mx_array x);
void lm_sparse_moe_free(lm_sparse_moe *m);
/* Bytes a decode step reads: the router and top_k of the experts. */
uint64_t lm_sparse_moe_nbytes(const lm_sparse_moe *m);

/* ------------------------------------------------------------ the model */

typedef struct lm_dec_args {
  int64_t hidden, layers, inter, heads, kv_heads, head_dim, vocab;
  double eps;
  bool tied;
} lm_dec_args;

typedef struct lm_dec_layer {
  lm_layer_spec spec;          /* attention (window) or another token mixer */
  mx_array in_norm, post_norm; /* (D): before the mixer, before the feed-forward */
  lm_attn attn;                /* spec.kind == LM_LAYER_ATTENTION */
  bool sparse;                 /* feed-forward: moe, else mlp */
  lm_mlp mlp;
  lm_sparse_moe moe;
} lm_dec_layer;

typedef struct lm_dec {
  const char *name; /* for messages: "llama" */
  lm_dec_args a;
  mx_dtype dtype;
  bool norm_plus_one; /* Gemma: RMSNorm weights hold w, the norm multiplies by 1 + w */
  lm_linear embed, head; /* head unused when tied */
  mx_array norm;         /* (D) */
  lm_rope rope;
  lm_dec_layer *L;
  /* The token mixer of layers that are not attention (lfm2's short
   * convolution): x (B, L, D) -> (B, L, D); NULL when every layer is. */
  mx_array (*mixer)(const struct lm_dec *d, int64_t layer, mx_array x, mx_lm_cache *cache);
} lm_dec;

/* A zeroed model struct of `size` bytes (starting with an lm_dec named
 * name), or NULL + MX_ERR_OOM. */
void *lm_dec_new(size_t size, const char *name);

/* Reads the ModelArgs every Llama-like config has: hidden_size,
 * num_hidden_layers, intermediate_size, num_attention_heads, vocab_size,
 * num_key_value_heads (default: heads), head_dim (default hidden / heads),
 * rms_norm_eps (default eps_default), tie_word_embeddings (default
 * tied_default); then lm_dec_init. */
mx_status lm_dec_parse_args(lm_dec *d, const cJSON *cfg, bool tied_default, double eps_default,
                            const char *what);
/* Checks d->a (head_dim 0 becomes hidden / heads) and allocates the layers
 * (all full attention, dense). For configs read by hand. */
mx_status lm_dec_init(lm_dec *d, const char *what);

/* Per-layer sliding windows of the given size from transformers'
 * "layer_types" (entries "full_attention" / "sliding_attention"; others are
 * unsupported) or, without it, on layers >= first_windowed; none when
 * window <= 0. */
mx_status lm_dec_windows(lm_dec *d, const cJSON *cfg, int64_t window, int64_t first_windowed,
                         const char *what);

/* transformers' Qwen2Config / Qwen3Config rules: windows only when
 * use_sliding_window, of sliding_window, on the layers layer_types marks
 * (else layers >= max_window_layers, default 28). */
mx_status lm_dec_qwen_windows(lm_dec *d, const cJSON *cfg, const char *what);

/* Where the parts around the blocks live; NULL fields: Hugging Face Llama
 * names ("model.", "lm_head", "norm"). */
typedef struct lm_dec_names {
  const char *prefix; /* of embed_tokens, the final norm and layers.<i> */
  const char *head;   /* output head */
  const char *norm;   /* final norm under prefix */
  bool tie_if_missing; /* no head weight: tie (as mlx-lm, which always ties) */
} lm_dec_names;

/* Loads the embedding (setting d->dtype), the output head (or marks it
 * ignored when tied) and the final norm. n NULL: default names. */
mx_status lm_dec_load_outer(lm_dec *d, lm_weights *w, const lm_quant_cfg *q,
                            const lm_dec_names *n);

/* What a standard block holds (lm_dec_load_blocks). */
typedef struct lm_block_opts {
  const char *prefix; /* NULL: "model." */
  lm_attn_opts attn;
  const lm_mlp_opts *mlp; /* NULL: lm_mlp_load's default */
  lm_moe_opts moe;        /* layers marked sparse */
  /* Names of in_norm and post_norm; NULL: "input_layernorm",
   * "post_attention_layernorm". */
  const char *in_norm, *post_norm;
} lm_block_opts;

/* Loads every layer's norms, its attention (attention layers) and its
 * feed-forward (moe on layers marked sparse, else mlp of intermediate
 * size); precomputed rotary tables are ignored (mlx-lm's sanitize). */
mx_status lm_dec_load_blocks(lm_dec *d, lm_weights *w, const lm_quant_cfg *q,
                             const lm_block_opts *o);
/* "<prefix>layers.<i>" into buf. */
void lm_dec_layer_prefix(char *buf, size_t cap, const char *prefix, int64_t layer);

/* A (dim) norm weight in d->dtype (1 + w when d->norm_plus_one). */
mx_array lm_dec_load_norm(const lm_dec *d, lm_weights *w, const char *name, int64_t dim);
/* A (dim) vector in dtype dt. */
mx_array lm_dec_load_vec(lm_weights *w, const char *name, int64_t dim, mx_dtype dt);

void lm_dec_free(lm_dec *d);

/* tokens must be (B, L) integers and the cache must match the layers. */
mx_status lm_dec_check_call(const lm_dec *d, mx_array tokens, const mx_lm_cache *cache);
/* The final norm and the output head: h (B, L, D) -> (B, L, V). Frees h. */
mx_array lm_dec_logits(const lm_dec *d, mx_array h);
/* Bytes read per decoded token by the blocks and the output head (one
 * embedding row is not counted). */
uint64_t lm_dec_bytes(const lm_dec *d);

/* The end of a standard create: lm_dec_load_outer (default names) and
 * lm_dec_load_blocks. Returns d, or destroys it (lm_dec_destroy) and
 * returns NULL. */
void *lm_dec_finish(lm_dec *d, lm_weights *w, const lm_quant_cfg *q, const lm_block_opts *o);
/* lm_dec_destroy(d) (d may be NULL); returns NULL. */
void *lm_dec_fail(void *d);

/* lm_arch functions for a model struct that starts with an lm_dec and owns
 * nothing else. */
void lm_dec_destroy(void *impl);
mx_array lm_dec_forward(const void *impl, mx_array tokens, mx_lm_cache *cache);
int64_t lm_dec_num_layers(const void *impl);
int64_t lm_dec_vocab_size(const void *impl);
mx_dtype lm_dec_dtype(const void *impl);
uint64_t lm_dec_weight_bytes(const void *impl);
void lm_dec_layer_spec(const void *impl, int64_t layer, lm_layer_spec *spec);

#define LM_DEC_ARCH_FNS                                                               \
  .destroy = lm_dec_destroy, .forward = lm_dec_forward, .num_layers = lm_dec_num_layers, \
  .vocab_size = lm_dec_vocab_size, .dtype = lm_dec_dtype,                             \
  .weight_bytes = lm_dec_weight_bytes, .layer_spec = lm_dec_layer_spec

#endif
