/* feed_forward.c — the feed-forward halves of the decoder blocks
 * (decoder.h): mlx-lm's gated MLP (down(act(gate(x)) * up(x)), SwiGLU when
 * act is silu) and the sparse mixture of SwiGLU experts behind a top-k
 * router (Mixtral's SparseMoeBlock, Qwen3-MoE's), on moe.h's pieces.
 *
 * Separate gate and up projections are concatenated at load when their
 * weights allow, and SwiGLU's silu(gate) * up is one node (fast_silu_mul):
 * for one token (or a few, quantized: lm_linear_fused_serves), one matmul
 * and one node reading both halves of its output (two graph nodes instead
 * of five) with the same bits; other inputs keep the two matmuls and the
 * one node. */
#include <stdio.h>

#include "../../core/core.h"
#include "decoder.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"

static const lm_mlp_opts default_mlp = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", false,
                                        NULL};

mx_status lm_mlp_load(lm_mlp *m, lm_weights *w, const lm_quant_cfg *q, const char *prefix,
                      const lm_mlp_opts *o, int64_t D, int64_t F) {
  if (!o) o = &default_mlp;
  char n[256];
  mx_status st;
  m->fused = !o->up;
  m->act = o->act;
  snprintf(n, sizeof n, "%s.%s", prefix, o->gate);
  if ((st = lm_linear_load(w, q, n, o->bias, m->fused ? 2 * F : F, D, &m->gate))) return st;
  if (!m->fused) {
    snprintf(n, sizeof n, "%s.%s", prefix, o->up);
    if ((st = lm_linear_load(w, q, n, o->bias, F, D, &m->up))) return st;
  }
  snprintf(n, sizeof n, "%s.%s", prefix, o->down);
  if ((st = lm_linear_load(w, q, n, o->bias, D, F, &m->down))) return st;
  /* Only SwiGLU gains: another activation would need the halves as two
   * slice nodes again. */
  if (!m->fused && !m->act) {
    lm_linear parts[2] = {m->gate, m->up};
    if ((st = lm_linear_fuse(&m->gate_up, parts, 2))) return st;
    m->gate = parts[0], m->up = parts[1];
  }
  return MX_OK;
}

mx_array lm_mlp_apply(const lm_mlp *m, mx_array x) {
  mx_array g, u;
  /* gate_up (fused at load) serves what lm_linear_fused_serves allows. */
  const lm_linear *gu_lin =
      m->fused ? &m->gate
      : m->gate_up.w && lm_linear_fused_serves(&m->gate_up, mx_array_size(x) / m->gate_up.in)
          ? &m->gate_up
          : NULL;
  if (gu_lin && !m->act && lm_fuse_enabled()) {
    mx_array gu = lm_linear_apply(gu_lin, x); /* (B, L, 2F) */
    mx_array h = fast_silu_mul_halves(gu);      /* (B, L, F) */
    mx_array_free(gu);
    SET(h, lm_linear_apply(&m->down, h)); /* (B, L, D) */
    return h;
  }
  if (m->fused) {
    mx_array gu = lm_linear_apply(&m->gate, x); /* (B, L, 2F) */
    mx_array p[2] = {NULL, NULL};
    if (!gu || mx_split_sections(gu, 2, -1, p)) {
      mx_array_free(gu);
      return NULL;
    }
    mx_array_free(gu);
    g = p[0], u = p[1];
  } else {
    g = lm_linear_apply(&m->gate, x); /* (B, L, F) */
    u = lm_linear_apply(&m->up, x);
  }
  mx_array h;
  if (m->act) {
    h = m->act(g);
    SET(h, mx_multiply(h, u));
  } else if (lm_fuse_enabled()) {
    h = mx_fast_silu_mul(g, u);
  } else { /* the graph before fusion */
    mx_array s = mx_sigmoid(g);
    h = mx_multiply(g, s);
    SET(h, mx_multiply(h, u));
    mx_array_free(s);
  }
  mx_array_free(g);
  mx_array_free(u);
  SET(h, lm_linear_apply(&m->down, h)); /* (B, L, D) */
  return h;
}

void lm_mlp_free(lm_mlp *m) {
  lm_linear_free(&m->gate);
  lm_linear_free(&m->up);
  lm_linear_free(&m->gate_up);
  lm_linear_free(&m->down);
}

uint64_t lm_mlp_nbytes(const lm_mlp *m) {
  /* gate and up are views of gate_up when it is there */
  uint64_t gu = m->gate_up.w ? lm_linear_nbytes(&m->gate_up)
                             : lm_linear_nbytes(&m->gate) + lm_linear_nbytes(&m->up);
  return gu + lm_linear_nbytes(&m->down);
}

mx_status lm_sparse_moe_load(lm_sparse_moe *m, lm_weights *w, const lm_quant_cfg *q,
                             const char *prefix, const lm_moe_opts *o, int64_t D) {
  char n[400], n2[400];
  mx_status st;
  m->n_experts = o->experts;
  m->top_k = o->top_k;
  m->norm_topk = o->norm_topk;
  m->softmax_first = o->softmax_first;
  snprintf(n, sizeof n, "%s.%s.gate", prefix, o->block);
  if ((st = lm_linear_load(w, q, n, false, o->experts, D, &m->router))) return st;
  snprintf(n, sizeof n, "%s.%s.switch_mlp", prefix, o->block);
  snprintf(n2, sizeof n2, "%s.%s.experts", prefix, o->block);
  return lm_switch_glu_load(w, q, n, n2, o->names, o->experts, D, o->hidden, &m->experts);
}

mx_array lm_sparse_moe_apply(const lm_sparse_moe *m, mx_array x) {
  mx_array logits = lm_linear_apply(&m->router, x); /* (B, L, E) */
  mx_array inds = NULL, scores = NULL;
  mx_status st = lm_moe_route(logits, m->top_k, m->norm_topk, m->softmax_first, &inds, &scores);
  mx_array_free(logits);
  if (st) return NULL;
  mx_array y = lm_switch_glu_apply(&m->experts, x, inds); /* (B, L, k, D) */
  SET(y, lm_moe_combine(y, scores));                      /* (B, L, D) */
  mx_array_free(inds);
  mx_array_free(scores);
  return y;
}

void lm_sparse_moe_free(lm_sparse_moe *m) {
  lm_linear_free(&m->router);
  lm_switch_glu_free(&m->experts);
}

uint64_t lm_sparse_moe_nbytes(const lm_sparse_moe *m) {
  uint64_t n = lm_linear_nbytes(&m->router);
  if (m->n_experts > 0)
    n += lm_switch_glu_nbytes(&m->experts) / (uint64_t)m->n_experts * (uint64_t)m->top_k;
  return n;
}
