/* gguf_config.c — a GGUF file's metadata as the config.json a Hugging Face
 * folder of the same model would have, and its tensor names mapped to the
 * Hugging Face names, so architectures read one kind of model.
 *
 * GGUF keeps llama's Q and K projections in the interleaved layout of Meta's
 * original checkpoints (llama.cpp's converter permutes HF weights: within
 * each head, rows (i, i + d/2) become rows (2i, 2i+1)). The attention score
 * q.k is the same in either layout as long as RoPE rotates the pairs that the
 * layout keeps together, so we leave the weights as stored (no copy, and
 * quantized blocks stay usable) and set rope_traditional: interleaved-pair
 * RoPE on the GGUF layout equals half-split RoPE on the HF layout. */
#include <stdio.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"

static bool key_of(const mx_gguf *g, const char *arch, const char *suffix, int64_t *idx) {
  char key[256];
  snprintf(key, sizeof key, "%s.%s", arch, suffix);
  *idx = mx_gguf_find_key(g, key);
  return *idx >= 0;
}

/* Copies an integer metadata value into cfg; MX_ERR_FORMAT naming the key if
 * it has another type. `required` keys must be present. */
static mx_status put_int(cJSON *cfg, const mx_gguf *g, const char *path, const char *arch,
                         const char *suffix, const char *name, bool required) {
  int64_t i, v;
  if (!key_of(g, arch, suffix, &i)) {
    if (required)
      return set_error(MX_ERR_FORMAT, "load %s: GGUF key %s.%s is missing", path, arch, suffix);
    return MX_OK;
  }
  if (mx_gguf_get_int(g, i, &v) != MX_OK)
    return set_error(MX_ERR_FORMAT, "load %s: GGUF key %s.%s must be an integer (per-layer "
                     "arrays are not supported)", path, arch, suffix);
  cJSON_AddNumberToObject(cfg, name, (double)v);
  return MX_OK;
}

static mx_status put_float(cJSON *cfg, const mx_gguf *g, const char *path, const char *arch,
                           const char *suffix, const char *name) {
  int64_t i;
  double v;
  if (!key_of(g, arch, suffix, &i)) return MX_OK;
  if (mx_gguf_get_float(g, i, &v) != MX_OK)
    return set_error(MX_ERR_FORMAT, "load %s: GGUF key %s.%s must be a number", path, arch,
                     suffix);
  cJSON_AddNumberToObject(cfg, name, v);
  return MX_OK;
}

static void put_token_id(cJSON *cfg, const mx_gguf *g, const char *key, const char *name,
                         cJSON *list) {
  int64_t i = mx_gguf_find_key(g, key), v;
  if (i < 0 || mx_gguf_get_int(g, i, &v) != MX_OK || v < 0 || v > INT32_MAX) return;
  if (list)
    cJSON_AddItemToArray(list, cJSON_CreateNumber((double)v));
  else
    cJSON_AddNumberToObject(cfg, name, (double)v);
}

/* llama.cpp's per-block tensor names and the HF module paths they hold. */
static const struct {
  const char *gguf, *hf;
} block_names[] = {
    {"attn_norm", "input_layernorm"},      {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},        {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},   {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},         {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},         {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
};

static const struct {
  const char *gguf, *hf;
} top_names[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
    {"rope_freqs.weight", "rope_freqs.weight"},
};

/* HF name of a GGUF tensor name into buf; the GGUF name itself if unknown. */
static void hf_name(const char *g, char *buf, size_t cap) {
  for (size_t i = 0; i < sizeof top_names / sizeof *top_names; i++)
    if (strcmp(g, top_names[i].gguf) == 0) {
      snprintf(buf, cap, "%s", top_names[i].hf);
      return;
    }
  unsigned layer;
  int used = 0;
  if (sscanf(g, "blk.%u.%n", &layer, &used) == 1 && used > 0) {
    const char *rest = g + used;
    const char *dot = strrchr(rest, '.');
    if (dot) {
      size_t n = (size_t)(dot - rest);
      for (size_t i = 0; i < sizeof block_names / sizeof *block_names; i++)
        if (strlen(block_names[i].gguf) == n && strncmp(rest, block_names[i].gguf, n) == 0) {
          snprintf(buf, cap, "model.layers.%u.%s%s", layer, block_names[i].hf, dot);
          return;
        }
    }
  }
  snprintf(buf, cap, "%s", g);
}

cJSON *lm_gguf_config(const mx_gguf *g, const char *path, cJSON **name_map) {
  *name_map = NULL;
  int64_t ai = mx_gguf_find_key(g, "general.architecture");
  const char *arch_s;
  size_t arch_len;
  if (ai < 0 || mx_gguf_get_string(g, ai, &arch_s, &arch_len) != MX_OK || arch_len == 0 ||
      arch_len > 64) {
    set_error(MX_ERR_FORMAT, "load %s: GGUF key general.architecture is missing or not a string",
              path);
    return NULL;
  }
  char arch[65];
  memcpy(arch, arch_s, arch_len);
  arch[arch_len] = 0;

  cJSON *cfg = cJSON_CreateObject();
  cJSON *map = cJSON_CreateObject();
  if (!cfg || !map) goto oom;
  cJSON_AddStringToObject(cfg, "model_type", arch);
  mx_status st = MX_OK;
  st = st ? st : put_int(cfg, g, path, arch, "embedding_length", "hidden_size", true);
  st = st ? st : put_int(cfg, g, path, arch, "block_count", "num_hidden_layers", true);
  st = st ? st : put_int(cfg, g, path, arch, "feed_forward_length", "intermediate_size", true);
  st = st ? st : put_int(cfg, g, path, arch, "attention.head_count", "num_attention_heads", true);
  st = st ? st : put_int(cfg, g, path, arch, "attention.head_count_kv", "num_key_value_heads",
                         false);
  st = st ? st : put_int(cfg, g, path, arch, "attention.key_length", "head_dim", false);
  st = st ? st : put_int(cfg, g, path, arch, "context_length", "max_position_embeddings", false);
  st = st ? st : put_int(cfg, g, path, arch, "vocab_size", "vocab_size", false);
  st = st ? st : put_float(cfg, g, path, arch, "attention.layer_norm_rms_epsilon", "rms_norm_eps");
  st = st ? st : put_float(cfg, g, path, arch, "rope.freq_base", "rope_theta");
  if (st) goto fail;
  if (!cJSON_GetObjectItemCaseSensitive(cfg, "rms_norm_eps"))
    cJSON_AddNumberToObject(cfg, "rms_norm_eps", 1e-5);

  /* Rope scaling as HF writes it. */
  int64_t si;
  if (key_of(g, arch, "rope.scaling.type", &si)) {
    const char *t;
    size_t tl;
    if (mx_gguf_get_string(g, si, &t, &tl) != MX_OK) {
      set_error(MX_ERR_FORMAT, "load %s: GGUF key %s.rope.scaling.type must be a string", path,
                arch);
      goto fail;
    }
    if (!(tl == 4 && memcmp(t, "none", 4) == 0)) {
      cJSON *rs = cJSON_AddObjectToObject(cfg, "rope_scaling");
      char tb[32];
      snprintf(tb, sizeof tb, "%.*s", (int)(tl < 31 ? tl : 31), t);
      cJSON_AddStringToObject(rs, "type", tb);
      if (put_float(rs, g, path, arch, "rope.scaling.factor", "factor")) goto fail;
      if (put_int(rs, g, path, arch, "rope.scaling.original_context_length",
                  "original_max_position_embeddings", false))
        goto fail;
    }
  }
  if (strcmp(arch, "llama") == 0) cJSON_AddBoolToObject(cfg, "rope_traditional", 1);

  put_token_id(cfg, g, "tokenizer.ggml.bos_token_id", "bos_token_id", NULL);
  cJSON *eos = cJSON_AddArrayToObject(cfg, "eos_token_id");
  put_token_id(cfg, g, "tokenizer.ggml.eos_token_id", NULL, eos);
  put_token_id(cfg, g, "tokenizer.ggml.eot_token_id", NULL, eos);

  bool has_output = false;
  int64_t vocab_rows = -1;
  for (int64_t t = 0; t < mx_gguf_tensor_count(g); t++) {
    const char *gn = mx_gguf_tensor_name(g, t);
    char hn[512];
    hf_name(gn, hn, sizeof hn);
    if (cJSON_GetObjectItemCaseSensitive(map, hn)) {
      set_error(MX_ERR_FORMAT, "load %s: GGUF tensors map twice to \"%s\"", path, hn);
      goto fail;
    }
    cJSON_AddStringToObject(map, hn, gn);
    if (strcmp(gn, "output.weight") == 0) has_output = true;
    if (strcmp(gn, "token_embd.weight") == 0) {
      int64_t shape[MX_MAX_NDIM];
      if (mx_gguf_tensor_shape(g, t, shape) == 2) vocab_rows = shape[0];
    }
  }
  cJSON_AddBoolToObject(cfg, "tie_word_embeddings", !has_output);
  if (!cJSON_GetObjectItemCaseSensitive(cfg, "vocab_size") && vocab_rows > 0)
    cJSON_AddNumberToObject(cfg, "vocab_size", (double)vocab_rows);
  *name_map = map;
  return cfg;

oom:
  set_error(MX_ERR_OOM, "load %s: out of memory", path);
fail:
  cJSON_Delete(cfg);
  cJSON_Delete(map);
  return NULL;
}
