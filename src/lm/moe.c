/* moe.c — mixture-of-experts layers (mlx_lm/models/switch_layers.py):
 * expert stacks loaded from either checkpoint layout, applied through
 * gather_mm / gather_qmm, and the top-k router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "mlxc/fast.h"
#include "mlxc/ops.h"
#include "models/decoder.h" /* lm_fuse_enabled, SET */
#include "moe.h"

/* ------------------------------------------------------------ loading */

/* group_size / bits / mode of a quantized stack: its own entry in the
 * config's quantization object if any, else the global values (as
 * layers.c does for Linear). */
static mx_status quant_params(const lm_quant_cfg *q, const char *prefix, const char *path,
                              lm_switch_linear *l) {
  const cJSON *root = q ? q->q : NULL;
  if (!root)
    return set_error(MX_ERR_FORMAT,
                     "load %s: \"%s.scales\" is present but config.json has no quantization",
                     path, prefix);
  const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, prefix);
  const cJSON *src = per && cJSON_IsObject(per) ? per : root;
  int64_t gs, bits;
  const char *mode;
  char what[1200];
  snprintf(what, sizeof what, "load %.600s (%.500s)", path, prefix);
  mx_status st = lm_cfg_int(src, "group_size", 64, &gs, what);
  if (!st) st = lm_cfg_int(src, "bits", 4, &bits, what);
  if (!st) st = lm_cfg_string(src, "mode", "affine", &mode, what);
  if (st) return st;
  if (strcmp(mode, "affine") == 0) l->mode = MX_QUANT_AFFINE;
  else if (strcmp(mode, "mxfp4") == 0) l->mode = MX_QUANT_MXFP4;
  else if (strcmp(mode, "nvfp4") == 0) l->mode = MX_QUANT_NVFP4;
  else if (strcmp(mode, "mxfp8") == 0) l->mode = MX_QUANT_MXFP8;
  else return set_error(MX_ERR_FORMAT, "%s: unknown quantization mode \"%s\"", what, mode);
  if (gs <= 0 || gs > 1024 || bits <= 0 || bits > 8)
    return set_error(MX_ERR_FORMAT, "%s: bad quantization group_size %lld / bits %lld", what,
                     (long long)gs, (long long)bits);
  l->group_size = (int)gs;
  l->bits = (int)bits;
  return MX_OK;
}

/* Per-expert tensors `<experts>.<e>.<name>.<kind>` stacked into one
 * (E, ...) array, evaluated so the parts can go. */
static mx_array stack_experts(lm_weights *w, const char *experts, const char *name,
                              const char *kind, int64_t n) {
  mx_array *parts = calloc((size_t)n, sizeof *parts);
  if (!parts) {
    set_error(MX_ERR_OOM, "load %s: out of memory", w->path);
    return NULL;
  }
  mx_array out = NULL;
  int64_t e = 0;
  for (; e < n; e++) {
    char nm[512];
    snprintf(nm, sizeof nm, "%s.%lld.%s.%s", experts, (long long)e, name, kind);
    if (!(parts[e] = lm_weights_take(w, nm))) break;
    if (e > 0 && (mx_array_ndim(parts[e]) != mx_array_ndim(parts[0]) ||
                  mx_array_dtype(parts[e]) != mx_array_dtype(parts[0]) ||
                  mx_array_dim(parts[e], 0) != mx_array_dim(parts[0], 0) ||
                  mx_array_dim(parts[e], -1) != mx_array_dim(parts[0], -1))) {
      set_error(MX_ERR_FORMAT, "load %s: expert tensor \"%s\" differs in shape or dtype from "
                               "expert 0", w->path, nm);
      break;
    }
  }
  if (e == n) {
    out = lm_own(mx_stack(parts, (size_t)n, 0));
    if (out && mx_eval1(out)) {
      mx_array_free(out);
      out = NULL;
    }
  }
  for (int64_t i = 0; i < n; i++) mx_array_free(parts[i]);
  free(parts);
  return out;
}

static mx_status check3(const lm_weights *w, const char *what, mx_array a, int64_t d0, int64_t d1,
                        int64_t d2) {
  if (mx_array_ndim(a) == 3 && mx_array_dim(a, 0) == d0 && mx_array_dim(a, 1) == d1 &&
      mx_array_dim(a, 2) == d2)
    return MX_OK;
  char s[SHAPE_STR_CAP];
  return set_error(MX_ERR_FORMAT, "load %s: %s has shape %s, expected (%lld, %lld, %lld)",
                   w->path, what, fmt_shape(s, sizeof s, a->shape, a->ndim), (long long)d0,
                   (long long)d1, (long long)d2);
}

mx_status lm_switch_linear_load(lm_weights *w, const lm_quant_cfg *q, const char *stacked,
                                const char *experts, const char *name, int64_t n_experts,
                                int64_t out, int64_t in, lm_switch_linear *l) {
  memset(l, 0, sizeof *l);
  l->experts = n_experts;
  l->in = in;
  l->out = out;
  char prefix[512], nm[600], what[700];
  snprintf(prefix, sizeof prefix, "%s", stacked);
  snprintf(nm, sizeof nm, "%s.weight", prefix);
  mx_status st = MX_OK;
  bool mlx_layout = lm_weights_has(w, nm);
  if (mlx_layout) {
    l->w = lm_weights_take(w, nm);
    snprintf(nm, sizeof nm, "%s.scales", prefix);
    l->quantized = lm_weights_has(w, nm);
    if (l->w && l->quantized) {
      l->scales = lm_weights_take(w, nm);
      snprintf(nm, sizeof nm, "%s.biases", prefix);
      if (lm_weights_has(w, nm)) l->biases = lm_weights_take(w, nm);
    }
  } else {
    snprintf(nm, sizeof nm, "%s.0.%s.weight", experts, name);
    if (!lm_weights_has(w, nm))
      return set_error(MX_ERR_FORMAT, "load %s: missing expert weights \"%s.weight\" (MLX "
                       "layout) or \"%s\" (per expert)", w->path, prefix, nm);
    l->w = stack_experts(w, experts, name, "weight", n_experts);
    snprintf(nm, sizeof nm, "%s.0.%s.scales", experts, name);
    l->quantized = lm_weights_has(w, nm);
    if (l->w && l->quantized) {
      l->scales = stack_experts(w, experts, name, "scales", n_experts);
      snprintf(nm, sizeof nm, "%s.0.%s.biases", experts, name);
      if (lm_weights_has(w, nm)) l->biases = stack_experts(w, experts, name, "biases", n_experts);
    }
  }
  if (!l->w || (l->quantized && !l->scales)) goto fail_err;
  snprintf(what, sizeof what, "expert weight \"%s\"", prefix);
  if (l->quantized) {
    if ((st = quant_params(q, prefix, w->path, l))) goto fail;
    if (l->mode == MX_QUANT_AFFINE && !l->biases) {
      st = set_error(MX_ERR_FORMAT, "load %s: affine-quantized \"%s\" has no biases", w->path,
                     prefix);
      goto fail;
    }
    if (in % l->group_size || (in * l->bits) % 32) {
      st = set_error(MX_ERR_FORMAT, "load %s: quantized \"%s\": input size %lld does not fit "
                     "group_size %d / bits %d", w->path, prefix, (long long)in, l->group_size,
                     l->bits);
      goto fail;
    }
    if ((st = check3(w, what, l->w, n_experts, out, in * l->bits / 32)) ||
        (st = check3(w, what, l->scales, n_experts, out, in / l->group_size)) ||
        (l->biases && (st = check3(w, what, l->biases, n_experts, out, in / l->group_size))))
      goto fail;
    if (mx_array_dtype(l->w) != MX_UINT32) {
      st = set_error(MX_ERR_FORMAT, "load %s: quantized \"%s\" must be uint32", w->path, prefix);
      goto fail;
    }
  } else {
    if ((st = check3(w, what, l->w, n_experts, out, in))) goto fail;
    if (!mx_dtype_is_floating(mx_array_dtype(l->w))) {
      st = set_error(MX_ERR_FORMAT, "load %s: \"%s\" has dtype %s (a float dtype, or a "
                     "quantized stack with .scales, expected)", w->path, prefix,
                     mx_dtype_name(mx_array_dtype(l->w)));
      goto fail;
    }
  }
  return MX_OK;
fail_err:
  st = mx_last_error_code();
  if (!st) st = set_error(MX_ERR_FORMAT, "load %s: cannot load \"%s\"", w->path, prefix);
fail:
  lm_switch_linear_free(l);
  return st;
}

void lm_switch_linear_free(lm_switch_linear *l) {
  mx_array_free(l->w);
  mx_array_free(l->scales);
  mx_array_free(l->biases);
  memset(l, 0, sizeof *l);
}

mx_array lm_switch_linear_apply(const lm_switch_linear *l, mx_array x, mx_array inds,
                                bool sorted) {
  if (!x || !inds) return NULL;
  if (l->quantized)
    return mx_gather_qmm(x, l->w, l->scales, l->biases, NULL, inds, true, l->group_size, l->bits,
                         l->mode, sorted);
  mx_array wt = mx_swapaxes(l->w, -1, -2); /* (E, in, out) view */
  mx_array y = mx_gather_mm(x, wt, NULL, inds, sorted);
  mx_array_free(wt);
  return y;
}

uint64_t lm_switch_linear_nbytes(const lm_switch_linear *l) {
  uint64_t n = 0;
  if (l->w) n += mx_array_nbytes(l->w);
  if (l->scales) n += mx_array_nbytes(l->scales);
  if (l->biases) n += mx_array_nbytes(l->biases);
  return n;
}

mx_status lm_switch_glu_load(lm_weights *w, const lm_quant_cfg *q, const char *stacked,
                             const char *experts, const char *const names[3], int64_t n_experts,
                             int64_t dim, int64_t hidden, lm_switch_glu *g) {
  memset(g, 0, sizeof *g);
  static const char *const mlx[3] = {"gate_proj", "up_proj", "down_proj"};
  lm_switch_linear *dst[3] = {&g->gate, &g->up, &g->down};
  for (int i = 0; i < 3; i++) {
    char sp[512];
    snprintf(sp, sizeof sp, "%s.%s", stacked, mlx[i]);
    int64_t out = i < 2 ? hidden : dim, in = i < 2 ? dim : hidden;
    mx_status st = lm_switch_linear_load(w, q, sp, experts, names[i], n_experts, out, in, dst[i]);
    if (st) {
      lm_switch_glu_free(g);
      return st;
    }
  }
  return MX_OK;
}

void lm_switch_glu_free(lm_switch_glu *g) {
  lm_switch_linear_free(&g->gate);
  lm_switch_linear_free(&g->up);
  lm_switch_linear_free(&g->down);
}

uint64_t lm_switch_glu_nbytes(const lm_switch_glu *g) {
  return lm_switch_linear_nbytes(&g->gate) + lm_switch_linear_nbytes(&g->up) +
         lm_switch_linear_nbytes(&g->down);
}

/* ------------------------------------------------------------ apply */

/* Below this many (token, expert) products the gathers stay in token
 * order (decode); from it on, rows are sorted by expert so that each
 * expert runs one GEMM over all its tokens (mlx-lm's threshold). */
#define MOE_SORT_MIN 64

mx_array lm_switch_glu_apply(const lm_switch_glu *g, mx_array x, mx_array inds) {
  if (!x || !inds) return NULL;
  int64_t n = mx_array_size(inds), k = mx_array_dim(inds, -1);
  mx_array xs = mx_expand_dims(x, (int[]){-2, -3}, 2); /* (B, L, 1, 1, D) */
  mx_array idx = mx_array_retain(inds), inv = NULL;
  bool sorted = n >= MOE_SORT_MIN;
  if (sorted) {
    /* Row j of the sorted problem is token order[j] / k with expert
     * flat[order[j]]; inv puts results back in (token, slot) order. */
    int64_t nshape[1] = {n};
    mx_array flat = mx_reshape(inds, nshape, 1);
    mx_array order = mx_argsort(flat, 0);
    inv = mx_argsort(order, 0);
    mx_array kk = mx_array_scalar((double)k, MX_UINT32);
    mx_array src = mx_floor_divide(order, kk);
    SET(xs, mx_flatten(xs, 0, -3)); /* (B*L, 1, D) */
    SET(xs, mx_take(xs, src, 0));   /* (n, 1, D) */
    SET(idx, mx_take(flat, order, 0));
    mx_array t[4] = {flat, order, kk, src};
    for (int i = 0; i < 4; i++) mx_array_free(t[i]);
  }
  mx_array u = lm_switch_linear_apply(&g->up, xs, idx, sorted);
  mx_array gate = lm_switch_linear_apply(&g->gate, xs, idx, sorted);
  mx_array h;
  if (lm_fuse_enabled()) {
    h = mx_fast_silu_mul(gate, u); /* silu(gate) * up as one node, same bits */
  } else { /* the graph before fusion (MLXC_FUSE=0) */
    mx_array s = mx_sigmoid(gate);
    h = mx_multiply(gate, s);
    SET(h, mx_multiply(h, u));
    mx_array_free(s);
  }
  mx_array_free(gate);
  mx_array_free(u);
  mx_array y = lm_switch_linear_apply(&g->down, h, idx, sorted);
  mx_array_free(h);
  mx_array_free(xs);
  mx_array_free(idx);
  if (sorted) {
    int64_t shape[MX_MAX_NDIM];
    int nd = mx_array_ndim(inds);
    for (int i = 0; i < nd; i++) shape[i] = mx_array_dim(inds, i);
    SET(y, mx_take(y, inv, 0));             /* (n, 1, D) */
    SET(y, mx_unflatten(y, 0, shape, nd)); /* (B, L, k, 1, D) */
    mx_array_free(inv);
  }
  SET(y, mx_squeeze(y, (int[]){-2}, 1)); /* (B, L, k, D) */
  return y;
}

mx_status lm_moe_route(mx_array logits, int64_t k, bool norm_topk, bool softmax_first,
                       mx_array *inds, mx_array *scores) {
  *inds = *scores = NULL;
  if (!logits) return mx_last_error_code();
  int nd = mx_array_ndim(logits);
  int64_t E = mx_array_dim(logits, -1);
  if (k <= 0 || k > E)
    return set_error(MX_ERR_INVALID_ARG, "moe router: top-%lld of %lld experts", (long long)k,
                     (long long)E);
  int last[1] = {-1};
  mx_array p = softmax_first ? mx_softmax(logits, last, 1, true) : mx_array_retain(logits);
  /* The k largest: argpartition puts them in the last k slots. */
  mx_array part = mx_argpartition(p, E - k, -1);
  int64_t start[MX_MAX_NDIM] = {0}, stop[MX_MAX_NDIM];
  for (int i = 0; i < nd; i++) stop[i] = MX_SLICE_END;
  start[nd - 1] = E - k;
  mx_array ix = mx_slice(part, start, stop, NULL, nd);
  mx_array sc = mx_take_along_axis(p, ix, -1);
  if (!softmax_first) {
    SET(sc, mx_softmax(sc, last, 1, true));
  } else if (norm_topk) {
    mx_array sum = mx_sum(sc, last, 1, true);
    SET(sc, mx_divide(sc, sum));
    mx_array_free(sum);
  }
  mx_array_free(p);
  mx_array_free(part);
  if (!ix || !sc) {
    mx_array_free(ix);
    mx_array_free(sc);
    return mx_last_error_code();
  }
  *inds = ix;
  *scores = sc;
  return MX_OK;
}

mx_array lm_moe_combine(mx_array y, mx_array scores) {
  if (!y || !scores) return NULL;
  mx_array s = mx_expand_dims(scores, (int[]){-1}, 1); /* (B, L, k, 1) */
  mx_array p = mx_multiply(y, s);
  mx_array r = mx_sum(p, (int[]){-2}, 1, false);
  mx_array_free(s);
  mx_array_free(p);
  return r;
}
