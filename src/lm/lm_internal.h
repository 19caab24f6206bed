/* lm_internal.h — what the language-model files share: the config (a cJSON
 * object, whatever the source), the weight source (a safetensors folder or a
 * GGUF file behind Hugging Face tensor names), linear/embedding layers that
 * are dense or quantized, the KV cache, and the architecture vtable. */
#ifndef MLXC_LM_INTERNAL_H
#define MLXC_LM_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "mlxc/gguf.h"
#include "mlxc/lm.h"
#include "mlxc/quantized.h"
#include "mlxc/safetensors.h"
#include "../core/scope.h"

/* Long-lived arrays (weights, cache buffers, keys) must not belong to a
 * scope the caller happens to have open: take them out of it. */
static inline mx_array lm_own(mx_array a) {
  if (a) scope_forget(a);
  return a;
}

/* ------------------------------------------------------------ config */

/* Typed reads of config keys. Absent (or null) keys give `def` and MX_OK; a
 * present key of the wrong type gives MX_ERR_FORMAT naming `what` and key. */
mx_status lm_cfg_int(const cJSON *cfg, const char *key, int64_t def, int64_t *out,
                     const char *what);
mx_status lm_cfg_float(const cJSON *cfg, const char *key, double def, double *out,
                       const char *what);
mx_status lm_cfg_bool(const cJSON *cfg, const char *key, bool def, bool *out, const char *what);
/* Borrowed string, or def. */
mx_status lm_cfg_string(const cJSON *cfg, const char *key, const char *def, const char **out,
                        const char *what);
/* A required positive integer. */
mx_status lm_cfg_req_int(const cJSON *cfg, const char *key, int64_t *out, const char *what);
/* Reads a JSON file into a cJSON tree (NULL + MX_ERR_IO / MX_ERR_FORMAT). */
cJSON *lm_json_load_file(const char *path);
/* Appends the ids of an int-or-list value (eos_token_id) to a growing list. */
mx_status lm_cfg_ids(const cJSON *v, int32_t **ids, size_t *n, const char *what);

/* ------------------------------------------------------------ weights */

typedef enum lm_source_kind { LM_SRC_SAFETENSORS = 0, LM_SRC_GGUF = 1 } lm_source_kind;

typedef struct lm_weights {
  lm_source_kind kind;
  const char *path;
  mx_weights *st;
  mx_gguf *gguf;
  int64_t count;
  bool *used;      /* per tensor of the source */
  cJSON *gguf_map; /* HF name -> GGUF name (GGUF only) */
} lm_weights;

/* Source tensor index of an HF name, or -1. */
int64_t lm_weights_find(const lm_weights *w, const char *name);
bool lm_weights_has(const lm_weights *w, const char *name);
/* Takes a tensor (marks it used); NULL + MX_ERR_FORMAT naming a missing one. */
mx_array lm_weights_take(lm_weights *w, const char *name);
/* The GGUF block type of a tensor (MX_GGML_F32 for safetensors). */
mx_ggml_type lm_weights_ggml_type(const lm_weights *w, const char *name);
/* Marks a tensor as deliberately unused (ignored). */
void lm_weights_ignore(lm_weights *w, const char *name);
/* MX_ERR_FORMAT naming the first unused tensors, if any. */
mx_status lm_weights_check_unused(const lm_weights *w);

/* GGUF: the cJSON config.json equivalent of the file's metadata, and the
 * HF -> GGUF tensor-name map (gguf_config.c). */
cJSON *lm_gguf_config(const mx_gguf *g, const char *path, cJSON **name_map);

/* ------------------------------------------------------------ layers */

typedef enum lm_linear_kind {
  LM_LINEAR_DENSE = 0,  /* w (out, in) */
  LM_LINEAR_AFFINE = 1, /* MLX quantized: w uint32, scales, biases */
  LM_LINEAR_GGUF = 2    /* GGUF blocks (rows=out, bytes per row) */
} lm_linear_kind;

typedef struct lm_linear {
  lm_linear_kind kind;
  mx_array w, scales, biases, bias; /* bias: optional additive bias */
  int group_size, bits;
  mx_quant_mode mode;
  mx_ggml_type gtype;
  int64_t in, out;
} lm_linear;

typedef struct lm_quant_cfg {
  const cJSON *q; /* config "quantization" (or legacy "quantization_config"), or NULL */
} lm_quant_cfg;

/* Loads `<prefix>.weight` (+ .scales/.biases when quantized, + .bias when
 * has_bias). Expects (out, in) logical shape; in/out may be 0 to accept any. */
mx_status lm_linear_load(lm_weights *w, const lm_quant_cfg *q, const char *prefix,
                         bool has_bias, int64_t out, int64_t in, lm_linear *l);
void lm_linear_free(lm_linear *l);
/* x (..., in) -> (..., out) in the dtype of x (a dense weight of another
 * dtype is used as is; matmul promotes). */
mx_array lm_linear_apply(const lm_linear *l, mx_array x);
/* Embedding lookup with the same weight: ids (...) -> (..., dim) in dtype. */
mx_array lm_embedding_apply(const lm_linear *l, mx_array ids, mx_dtype dtype);
/* Bytes of the weight (+scales/biases). */
uint64_t lm_linear_nbytes(const lm_linear *l);
/* The float dtype a quantized or dense weight computes in. */
mx_dtype lm_linear_dtype(const lm_linear *l);

/* ------------------------------------------------------------ caches */

typedef enum lm_cache_kind {
  LM_CACHE_STANDARD = 0,  /* grows in steps of LM_KV_STEP (mlx-lm KVCache) */
  LM_CACHE_ROTATING = 1,  /* at most max_size positions, first `keep` kept
                           * (RotatingKVCache) */
  LM_CACHE_QUANTIZED = 2, /* affine-quantized keys/values (QuantizedKVCache) */
  LM_CACHE_CONV = 3       /* a short convolution's last inputs (lfm2; ArraysCache) */
} lm_cache_kind;

/* One layer's cache. Architectures read `offset` (through lm_rope_apply)
 * and, for convolution layers, `conv`; everything else belongs to cache.c /
 * attend.c. */
typedef struct lm_kv_cache {
  lm_cache_kind kind;
  int64_t offset;        /* positions this layer has seen */
  mx_array keys, values; /* STANDARD / ROTATING: (B, Hkv, capacity, D) or NULL */
  int64_t max_size, keep, idx; /* ROTATING */
  int bits, group_size;        /* QUANTIZED */
  mx_array kq[3], vq[3];       /* QUANTIZED: packed, scales, biases */
  mx_array conv;               /* CONV: (B, K-1, C) or NULL before the first call */
  const struct mx_lm_cache *owner;
} lm_kv_cache;

#define LM_KV_STEP 256

/* mlx-lm's KVCache.update_and_fetch (standard layers): k, v (B, Hkv, L, D);
 * returns views of the first offset+L positions (new references). */
mx_status lm_kv_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v, mx_array *k_out,
                                 mx_array *v_out);

struct mx_lm_cache {
  int64_t nlayers;
  lm_kv_cache *layers;
  mx_lm_cache_params params;
  /* Batch generation: per-row left padding (B entries) or NULL. Rows see
   * no padded key, and their positions start at 0 after the padding. */
  int64_t batch;
  int64_t *left_pad;
  /* Metadata of a saved / loaded prompt cache (cJSON object) or NULL. */
  cJSON *meta;
};

/* Attention of one layer through its cache (attend.c): q (B, Hq, L, Dh),
 * k and v (B, Hkv, L, Dh) with positional encoding applied. c NULL: no cache
 * (causal attention over the L positions). window > 0: query at position p
 * sees keys at positions (p - window, p] (a sliding-window layer).
 * sinks: NULL or (Hq,) attention sinks. Updates the cache (and its offset)
 * and returns (B, Hq, L, Dh) (a new reference). */
mx_array lm_attend(lm_kv_cache *c, mx_array q, mx_array k, mx_array v, float scale,
                   int64_t window, mx_array sinks);

/* ------------------------------------------------------------ rope */

typedef enum lm_rope_kind {
  LM_ROPE_DEFAULT = 0, /* also linear: a position scale */
  LM_ROPE_FREQS = 1,   /* llama3 / yarn / longrope: per-frequency periods */
  LM_ROPE_DYNAMIC = 2  /* dynamic NTK: base grows with the sequence length */
} lm_rope_kind;

typedef struct lm_rope {
  lm_rope_kind kind;
  int dims;          /* rotated dimensions (head_dim * partial_rotary_factor) */
  bool traditional;  /* interleaved pairs (rope_traditional) */
  float base, scale; /* mx_fast_rope's base and position scale */
  mx_array freqs;    /* (dims/2) periods for mx_fast_rope, or NULL */
  mx_array long_freqs; /* longrope: used once positions pass original_max (or NULL) */
  int64_t original_max; /* longrope / dynamic: original_max_position_embeddings */
  double factor;        /* dynamic: scaling factor */
  float mscale;      /* yarn / longrope attention factor applied to q and k (1: none) */
} lm_rope;

/* Reads the rotary embedding of a config: transformers v5 "rope_parameters"
 * (optionally nested per layer type: pass layer_type, e.g.
 * "sliding_attention", or NULL) or v4 "rope_theta" + "rope_scaling"
 * ("type" or "rope_type": default, linear, llama3, yarn, dynamic, longrope /
 * su), "partial_rotary_factor", "rope_traditional". Unknown types give
 * MX_ERR_UNSUPPORTED naming them. */
mx_status lm_rope_init(lm_rope *r, const cJSON *cfg, int64_t head_dim, const char *layer_type,
                       const char *what);
/* Plain rope with an explicit base (for configs that name it elsewhere). */
void lm_rope_init_base(lm_rope *r, int dims, float base, bool traditional);
/* x (B, H, L, Dh): rotates the first dims of each head at positions
 * offset.. (the cache's offset; per-row for left-padded batches). */
mx_array lm_rope_apply(const lm_rope *r, mx_array x, const lm_kv_cache *c);
void lm_rope_free(lm_rope *r);

/* ------------------------------------------------------------ models */

typedef enum lm_layer_kind { LM_LAYER_ATTENTION = 0, LM_LAYER_CONV = 1 } lm_layer_kind;

typedef struct lm_layer_spec {
  lm_layer_kind kind;
  int64_t window; /* attention: sliding window (0 = full attention) */
} lm_layer_spec;

typedef struct lm_arch {
  const char *name;
  /* Builds the model from its config and weights (taking what it needs). */
  void *(*create)(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q);
  void (*destroy)(void *impl);
  mx_array (*forward)(const void *impl, mx_array tokens, mx_lm_cache *cache);
  int64_t (*num_layers)(const void *impl);
  int64_t (*vocab_size)(const void *impl);
  mx_dtype (*dtype)(const void *impl);
  uint64_t (*weight_bytes)(const void *impl);
  /* What cache layer i needs; NULL: every layer is full attention. */
  void (*layer_spec)(const void *impl, int64_t layer, struct lm_layer_spec *spec);
} lm_arch;

/* Architecture by model_type (aliases resolved), or NULL with
 * MX_ERR_UNSUPPORTED naming the type and listing the supported ones. */
const lm_arch *lm_arch_find(const char *model_type);

extern const lm_arch lm_arch_llama, lm_arch_qwen2, lm_arch_qwen3, lm_arch_gemma3_text,
    lm_arch_phi3, lm_arch_lfm2, lm_arch_qwen3_moe, lm_arch_mixtral;

struct mx_lm_model {
  const lm_arch *arch;
  void *impl;
  int32_t *eos_ids;
  size_t n_eos;
  int32_t bos_id;
  char *path; /* where it was loaded from (tokenizer / template lookup) */
  /* Loaded on first use by mx_lm_tokenizer / mx_lm_chat_template. */
  struct mx_tokenizer *tokenizer;
  struct mx_chat_template *chat_template;
  bool tokenizer_tried, template_tried;
};

#endif
