/* qwen3.c — Qwen3 (dense), as mlx_lm/models/qwen3.py: Llama's blocks with
 * an RMSNorm over each head of the queries and keys (q_norm, k_norm) before
 * RoPE and an explicit head_dim (not hidden / heads); no projection biases
 * unless attention_bias (transformers' Qwen3Config, on q, k, v and o). The
 * output head is tied when tie_word_embeddings is true (transformers'
 * default is untied; mlx-lm requires the key).
 *
 * Sliding windows as transformers' Qwen3Config: only when
 * use_sliding_window is true, on the layers "layer_types" marks
 * sliding_attention (without it, layers >= max_window_layers); released
 * Qwen3 checkpoints have use_sliding_window false and use none. */
#include "../../core/core.h"
#include "decoder.h"

#define WHAT "qwen3 config"

static void *qwen3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "qwen3");
  bool bias;
  if (!d || lm_dec_parse_args(d, cfg, false, 1e-6, WHAT) ||
      lm_cfg_bool(cfg, "attention_bias", false, &bias, WHAT) ||
      lm_dec_qwen_windows(d, cfg, WHAT) || lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT))
    return lm_dec_fail(d);
  lm_block_opts blocks = {
      .attn = {.qkv_bias = bias, .o_bias = bias, .q_norm = "q_norm", .k_norm = "k_norm"}};
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_qwen3 = {
    .name = "qwen3",
    .create = qwen3_create,
    LM_DEC_ARCH_FNS,
};
