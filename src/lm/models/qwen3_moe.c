/* qwen3_moe.c — Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B), as
 * mlx_lm/models/qwen3_moe.py: Qwen3 attention (per-head RMS norms on q and
 * k before RoPE) and, in sparse layers, a router choosing
 * num_experts_per_tok of num_experts SwiGLU experts per token.
 *
 * Router: softmax over the experts (mlx-lm's precise softmax, f32 inside),
 * the top k kept, renormalised to sum 1 when norm_topk_prob; the output is
 * the score-weighted sum of the chosen experts. Layer i is sparse unless it
 * is in mlp_only_layers or (i + 1) % decoder_sparse_step != 0; dense layers
 * use a plain SwiGLU MLP of intermediate_size.
 *
 * Experts come as per-expert tensors (Hugging Face:
 * mlp.experts.<e>.{gate,up,down}_proj.weight, stacked at load as mlx-lm's
 * sanitize) or stacked (MLX: mlp.switch_mlp.{gate,up,down}_proj.weight
 * (E, out, in), possibly quantized). */
#include "../../core/core.h"
#include "decoder.h"

#define WHAT "qwen3_moe config"

static mx_status parse_args(lm_dec *d, const cJSON *c, lm_moe_opts *moe, bool *attn_bias) {
  lm_dec_args *a = &d->a;
  mx_status st;
  int64_t local, step;
  if ((st = lm_cfg_req_int(c, "hidden_size", &a->hidden, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_hidden_layers", &a->layers, WHAT)) ||
      (st = lm_cfg_req_int(c, "num_attention_heads", &a->heads, WHAT)) ||
      (st = lm_cfg_req_int(c, "vocab_size", &a->vocab, WHAT)) ||
      (st = lm_cfg_int(c, "intermediate_size", 0, &a->inter, WHAT)) ||
      (st = lm_cfg_int(c, "moe_intermediate_size", 0, &moe->hidden, WHAT)) ||
      (st = lm_cfg_int(c, "num_key_value_heads", a->heads, &a->kv_heads, WHAT)) ||
      (st = lm_cfg_int(c, "head_dim", 0, &a->head_dim, WHAT)) ||
      /* transformers v5 names the expert count num_local_experts */
      (st = lm_cfg_int(c, "num_local_experts", 0, &local, WHAT)) ||
      (st = lm_cfg_int(c, "num_experts", local, &moe->experts, WHAT)) ||
      (st = lm_cfg_int(c, "num_experts_per_tok", 0, &moe->top_k, WHAT)) ||
      (st = lm_cfg_int(c, "decoder_sparse_step", 1, &step, WHAT)) ||
      (st = lm_cfg_float(c, "rms_norm_eps", 1e-6, &a->eps, WHAT)) ||
      (st = lm_cfg_bool(c, "tie_word_embeddings", false, &a->tied, WHAT)) ||
      (st = lm_cfg_bool(c, "norm_topk_prob", false, &moe->norm_topk, WHAT)) ||
      (st = lm_cfg_bool(c, "attention_bias", false, attn_bias, WHAT)) ||
      (st = lm_dec_init(d, WHAT)))
    return st;
  if (moe->experts < 0 || moe->experts > 1 << 20)
    return set_error(MX_ERR_FORMAT, WHAT ": num_experts %lld is out of range",
                     (long long)moe->experts);
  if (step <= 0)
    return set_error(MX_ERR_FORMAT, WHAT ": decoder_sparse_step %lld must be positive",
                     (long long)step);
  if (moe->experts > 0) {
    if (moe->top_k <= 0 || moe->top_k > moe->experts)
      return set_error(MX_ERR_FORMAT, WHAT ": num_experts_per_tok %lld must be in 1..%lld "
                       "(num_experts)", (long long)moe->top_k, (long long)moe->experts);
    if (moe->hidden <= 0)
      return set_error(MX_ERR_FORMAT, WHAT ": moe_intermediate_size must be positive");
  }
  /* mlx-lm's rule: layer i has experts unless it is in mlp_only_layers or
   * (i + 1) % decoder_sparse_step != 0. */
  const cJSON *only = cJSON_GetObjectItemCaseSensitive(c, "mlp_only_layers"), *e;
  if (only && !cJSON_IsNull(only) && !cJSON_IsArray(only))
    return set_error(MX_ERR_FORMAT, WHAT ": mlp_only_layers must be a list of layer indices");
  cJSON_ArrayForEach(e, only) {
    if (!cJSON_IsNumber(e))
      return set_error(MX_ERR_FORMAT, WHAT ": mlp_only_layers must be a list of layer indices");
  }
  for (int64_t i = 0; i < a->layers; i++) {
    lm_dec_layer *l = &d->L[i];
    l->sparse = moe->experts > 0 && (i + 1) % step == 0;
    cJSON_ArrayForEach(e, only) {
      if ((int64_t)e->valuedouble == i) l->sparse = false;
    }
    if (!l->sparse && a->inter <= 0)
      return set_error(MX_ERR_FORMAT, WHAT ": layer %lld is dense but intermediate_size is "
                       "missing", (long long)i);
  }
  return MX_OK;
}

static void *qm_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "qwen3_moe");
  static const char *const names[3] = {"gate_proj", "up_proj", "down_proj"};
  bool bias;
  lm_block_opts blocks = {.moe = {.block = "mlp", .names = names, .softmax_first = true}};
  if (!d || parse_args(d, cfg, &blocks.moe, &bias) ||
      lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT))
    return lm_dec_fail(d);
  blocks.attn = (lm_attn_opts){
      .qkv_bias = bias, .o_bias = bias, .q_norm = "q_norm", .k_norm = "k_norm"};
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_qwen3_moe = {
    .name = "qwen3_moe",
    .create = qm_create,
    LM_DEC_ARCH_FNS,
};
