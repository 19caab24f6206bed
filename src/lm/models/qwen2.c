/* qwen2.c — Qwen2 / Qwen2.5, as mlx_lm/models/qwen2.py: Llama's blocks with
 * biases on the q, k and v projections (none on o); the output head is
 * tied unless tie_word_embeddings is false (mlx-lm's default is tied).
 *
 * Sliding windows as transformers' Qwen2Config: only when
 * use_sliding_window is true, on the layers "layer_types" marks
 * sliding_attention (without it, layers >= max_window_layers); released
 * Qwen2.5 checkpoints have use_sliding_window false and use none. */
#include "../../core/core.h"
#include "decoder.h"

#define WHAT "qwen2 config"

static void *qwen2_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "qwen2");
  /* mlx-lm: head_dim = hidden_size // num_attention_heads; transformers
   * reads an explicit head_dim first. */
  if (!d || lm_dec_parse_args(d, cfg, true, 1e-6, WHAT) || lm_dec_qwen_windows(d, cfg, WHAT) ||
      lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT))
    return lm_dec_fail(d);
  lm_block_opts blocks = {.attn = {.qkv_bias = true}};
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_qwen2 = {
    .name = "qwen2",
    .create = qwen2_create,
    LM_DEC_ARCH_FNS,
};
