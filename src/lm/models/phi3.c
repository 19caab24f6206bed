/* phi3.c — Phi-3 / Phi-3.5 / Phi-4-mini, as mlx_lm/models/phi3.py: Llama's
 * blocks with the q, k, v projections fused into qkv_proj and gate/up into
 * gate_up_proj (split after the matmul), no biases, an untied head unless
 * tie_word_embeddings, and the rope of the config (longrope / su for the
 * 128k models, partial_rotary_factor for Phi-4-mini: rope.c).
 *
 * sliding_window (Phi-3-mini-4k: 2047) applies to every layer, as
 * transformers' Phi3 masks; mlx-lm ignores it. */
#include "../../core/core.h"
#include "decoder.h"

#define WHAT "phi3 config"

static mx_status parse_windows(lm_dec *d, const cJSON *cfg) {
  int64_t window;
  mx_status st = lm_cfg_int(cfg, "sliding_window", 0, &window, WHAT);
  if (st) return st;
  if (window < 0)
    return set_error(MX_ERR_FORMAT, WHAT ": sliding_window %lld must be positive",
                     (long long)window);
  return lm_dec_windows(d, cfg, window, 0, WHAT);
}

static void *phi3_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "phi3");
  /* mlx-lm: head_dim = hidden_size // num_attention_heads; transformers
   * reads an explicit head_dim first. */
  if (!d || lm_dec_parse_args(d, cfg, false, 1e-6, WHAT) || parse_windows(d, cfg) ||
      lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT))
    return lm_dec_fail(d);
  static const lm_mlp_opts mlp = {"mlp.gate_up_proj", NULL, "mlp.down_proj", false, NULL};
  lm_block_opts blocks = {.attn = {.fused_qkv = true}, .mlp = &mlp};
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_phi3 = {
    .name = "phi3",
    .create = phi3_create,
    LM_DEC_ARCH_FNS,
};
