/* moe.h — mixture-of-experts building blocks shared by the MoE
 * architectures (qwen3_moe, mixtral), as mlx_lm/models/switch_layers.py:
 * SwitchLinear (a stack of E expert matrices applied per token through
 * gather_mm, or gather_qmm when MLX-quantized), SwitchGLU, and the
 * softmax-top-k router. */
#ifndef MLXC_LM_MOE_H
#define MLXC_LM_MOE_H

#include "lm_internal.h"

/* E expert matrices (E, out, in): dense, or MLX-quantized (packed weight,
 * scales, biases of one group_size / bits / mode). */
typedef struct lm_switch_linear {
  bool quantized;
  mx_array w, scales, biases;
  int group_size, bits;
  mx_quant_mode mode;
  int64_t experts, in, out;
} lm_switch_linear;

/* Loads an expert stack. MLX layout: `<stacked>.weight` (E, out, in)
 * (+ .scales / .biases when quantized). Otherwise Hugging Face layout:
 * per-expert `<experts>.<e>.<name>.weight` (out, in) (+ .scales / .biases),
 * stacked here (mlx-lm's sanitize). Shapes are checked against experts /
 * out / in. */
mx_status lm_switch_linear_load(lm_weights *w, const lm_quant_cfg *q, const char *stacked,
                                const char *experts, const char *name, int64_t n_experts,
                                int64_t out, int64_t in, lm_switch_linear *l);
void lm_switch_linear_free(lm_switch_linear *l);
/* x (..., M, in) with inds broadcasting against x's batch dims -> (...,
 * M, out): matrix inds[i] applied to the x matrices (gather_mm's rhs). */
mx_array lm_switch_linear_apply(const lm_switch_linear *l, mx_array x, mx_array inds,
                                bool sorted);
uint64_t lm_switch_linear_nbytes(const lm_switch_linear *l);

/* SwitchGLU: down(silu(gate(x)) * up(x)) per selected expert. */
typedef struct lm_switch_glu {
  lm_switch_linear gate, up, down;
} lm_switch_glu;

/* Loads gate / up (E, hidden, dim) and down (E, dim, hidden): MLX layout
 * "<stacked>.{gate,up,down}_proj", else per expert
 * "<experts>.<e>.<names[0..2]>" (gate, up, down: "gate_proj", ... or
 * Mixtral's "w1", "w3", "w2"). */
mx_status lm_switch_glu_load(lm_weights *w, const lm_quant_cfg *q, const char *stacked,
                             const char *experts, const char *const names[3], int64_t n_experts,
                             int64_t dim, int64_t hidden, lm_switch_glu *g);
void lm_switch_glu_free(lm_switch_glu *g);
/* x (B, L, D), inds (B, L, k) integer -> (B, L, k, D). Many products
 * (>= 64) are sorted by expert first, as mlx-lm. */
mx_array lm_switch_glu_apply(const lm_switch_glu *g, mx_array x, mx_array inds);
uint64_t lm_switch_glu_nbytes(const lm_switch_glu *g);

/* Router: softmax (in float32) over the E gate logits (B, L, E), the k
 * largest (inds, uint32) and their probabilities (scores, in the logits'
 * dtype), renormalised to sum 1 when norm_topk. softmax_first false:
 * Mixtral's order (top-k of the logits, softmax over those k). */
mx_status lm_moe_route(mx_array logits, int64_t k, bool norm_topk, bool softmax_first,
                       mx_array *inds, mx_array *scores);
/* sum over k of y (B, L, k, D) * scores (B, L, k) -> (B, L, D). */
mx_array lm_moe_combine(mx_array y, mx_array scores);

#endif
