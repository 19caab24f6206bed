/* llama.c — Llama 2 / 3.x (and Mistral, SmolLM, TinyLlama, which share it),
 * as mlx_lm/models/llama.py: pre-norm blocks of grouped-query attention with
 * RoPE and a SwiGLU MLP (decoder.h's standard block); biases on the
 * attention projections when attention_bias, on the MLP when mlp_bias; the
 * output head is tied to the embedding unless tie_word_embeddings is false
 * (mlx-lm's default is tied).
 *
 * Shapes: B batch, L new tokens, D hidden, Hq/Hkv heads, Dh head dim,
 * F intermediate, V vocab. */
#include <stdlib.h>
#include <string.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/ops.h"

#define WHAT "llama config"

static mx_status check_layer_types(const cJSON *c) {
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(c, "layer_types"), *e;
  cJSON_ArrayForEach(e, lt) {
    if (cJSON_IsString(e) && strcmp(e->valuestring, "full_attention") != 0)
      return set_error(MX_ERR_UNSUPPORTED, WHAT ": layer type \"%s\" is not supported yet",
                       e->valuestring);
  }
  return MX_OK;
}

/* GGUF Llama 3 files carry the llama3 rope as per-frequency divisors
 * (rope_freqs.weight): periods base^(2i/Dh) * rope_freqs[i]. */
static mx_status load_rope_freqs(lm_dec *d, lm_weights *w) {
  if (!lm_weights_has(w, "rope_freqs.weight")) return MX_OK;
  int64_t Dh = d->a.head_dim;
  mx_array rf = lm_weights_take(w, "rope_freqs.weight");
  if (!rf || mx_array_ndim(rf) != 1 || mx_array_dim(rf, 0) != Dh / 2) {
    if (rf) set_error(MX_ERR_FORMAT, "load %s: rope_freqs must have %lld entries", w->path,
                      (long long)(Dh / 2));
    mx_array_free(rf);
    return mx_last_error_code();
  }
  mx_array base = mx_arange(0, (double)Dh, 2, MX_FLOAT32);
  mx_array dim = mx_array_scalar((double)Dh, MX_FLOAT32);
  mx_array th = mx_array_scalar(d->rope.base, MX_FLOAT32);
  mx_array ex = mx_divide(base, dim);
  mx_array p = mx_power(th, ex);
  mx_array rf32 = mx_astype(rf, MX_FLOAT32);
  mx_array_free(d->rope.freqs);
  d->rope.freqs = lm_own(mx_multiply(p, rf32));
  d->rope.kind = LM_ROPE_FREQS;
  mx_array t[7] = {rf, base, dim, th, ex, p, rf32};
  for (int i = 0; i < 7; i++) mx_array_free(t[i]);
  if (!d->rope.freqs || mx_eval1(d->rope.freqs))
    return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
  return MX_OK;
}

static void *llama_create(const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  lm_dec *d = lm_dec_new(sizeof *d, "llama");
  bool attn_bias, mlp_bias;
  if (!d || lm_dec_parse_args(d, cfg, true, 1e-6, WHAT) ||
      lm_cfg_bool(cfg, "attention_bias", false, &attn_bias, WHAT) ||
      lm_cfg_bool(cfg, "mlp_bias", false, &mlp_bias, WHAT) || check_layer_types(cfg) ||
      lm_rope_init(&d->rope, cfg, d->a.head_dim, NULL, WHAT) || load_rope_freqs(d, w))
    return lm_dec_fail(d);
  lm_mlp_opts mlp = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", mlp_bias, NULL};
  lm_block_opts blocks = {.attn = {.qkv_bias = attn_bias, .o_bias = attn_bias}, .mlp = &mlp};
  return lm_dec_finish(d, w, q, &blocks);
}

const lm_arch lm_arch_llama = {
    .name = "llama",
    .create = llama_create,
    LM_DEC_ARCH_FNS,
};
