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

typedef struct lm_kv_cache {
  mx_array keys, values; /* (B, Hkv, capacity, D) or NULL */
  int64_t offset;
} lm_kv_cache;

#define LM_KV_STEP 256

/* mlx-lm's KVCache.update_and_fetch: k, v (B, Hkv, L, D); returns views of
 * the first offset+L positions (new references). */
mx_status lm_kv_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v, mx_array *k_out,
                                 mx_array *v_out);

struct mx_lm_cache {
  int64_t nlayers;
  lm_kv_cache *layers;
};

/* ------------------------------------------------------------ models */

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
} lm_arch;

/* Architecture by model_type (aliases resolved), or NULL with
 * MX_ERR_UNSUPPORTED naming the type and listing the supported ones. */
const lm_arch *lm_arch_find(const char *model_type);

extern const lm_arch lm_arch_llama;

struct mx_lm_model {
  const lm_arch *arch;
  void *impl;
  int32_t *eos_ids;
  size_t n_eos;
  int32_t bos_id;
};

#endif
