/* mixtral.c — Mixtral (8x7B, 8x22B), as mlx_lm/models/mixtral.py: Llama
 * attention and, in every layer, a sparse block of num_local_experts
 * SwiGLU experts of which num_experts_per_tok run per token.
 *
 * Router (MixtralSparseMoeBlock): the top k gate logits, then a softmax
 * over those k (precise): equal to transformers' softmax over all experts
 * renormalised over the top k.
 *
 * Experts: per expert block_sparse_moe.experts.<e>.{w1,w3,w2}.weight (gate,
 * up, down; possibly MLX-quantized per expert), stacked at load as mlx-lm's
 * sanitize, or stacked block_sparse_moe.switch_mlp.{gate,up,down}_proj. */
#include "../../core/core.h"
#include "decoder.h"

#define WHAT "mixtral config"

static mx_status parse_experts(const cJSON *cfg, lm_moe_opts *moe) {
  mx_status st;
  if ((st = lm_cfg_int(cfg, "num_local_experts", 8, &moe->experts, WHAT)) ||
      (st = lm_cfg_int(cfg, "num_experts_per_tok", 2, &moe->top_k, WHAT)))
    return st;
  if (moe->experts <= 0 || moe->experts > 1 << 20)
    return set_error(MX_ERR_FORMAT, WHAT ": num_local_experts %lld is out of range",
                     (long long)moe->experts);
  if (moe->top_k <= 0 || moe->top_k > moe->experts)
    return set_error(MX_ERR_FORMAT, WHAT ": num_experts_per_tok %lld must be in 1..%lld "
                     "(num_local_experts)", (long long)moe->top_k, (long long)moe->experts);
  return MX_OK;
}

static void *mixtral_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "mixtral");
  static const char *const names[3] = {"w1", "w3", "w2"}; /* gate, up, down */
  lm_block_opts blocks = {.moe = {.block = "block_sparse_moe", .names = names}};
  if (!d || lm_dec_parse_args(d, cfg, false, 1e-5, WHAT) || parse_experts(cfg, &blocks.moe) ||
      lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT))
    return lm_dec_fail(d);
  /* Mixtral's default base (mlx-lm and transformers) when the config has none. */
  if (!cJSON_GetObjectItemCaseSensitive(cfg, "rope_theta") &&
      !cJSON_GetObjectItemCaseSensitive(cfg, "rope_parameters") && d->rope.kind == LM_ROPE_DEFAULT)
    d->rope.base = 1e6f;
  blocks.moe.hidden = d->a.inter;
  for (int64_t i = 0; i < d->a.layers; i++) d->L[i].sparse = true;
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_mixtral = {
    .name = "mixtral",
    .create = mixtral_create,
    LM_DEC_ARCH_FNS,
};
