/* cache.c — per-layer KV caches, as mlx-lm's cache.py:
 *  - standard (KVCache): buffers grow in steps of 256 positions (zeros
 *    concatenated), new keys/values are written with slice_update, and
 *    attention reads a view of the first `offset` positions;
 *  - rotating (RotatingKVCache): at most max_size positions, the first
 *    `keep` never evicted; multi-token calls concatenate in temporal order,
 *    single tokens overwrite a ring slot;
 *  - quantized (QuantizedKVCache): the standard layout holding
 *    mx_quantize'd keys/values (packed, scales, biases);
 *  - conv (ArraysCache): the architecture's convolution state.
 * Dropping our handle to the old buffer as soon as an update is recorded
 * leaves the update node as its only reader, so the kernel can write in
 * place (buffer donation) instead of copying the whole cache. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_cache.h"
#include "lm_internal.h"
#include "mlxc/ops.h"
#include "../backend/cpu/copy.h"
#include "../backend/cpu/fast_fused.h"

/* ------------------------------------------------------------ buffers */

/* old (B, H, n, X) cut to its first `prev` positions when they are not all
 * valid, then extended by `extra` zero positions shaped like x. */
static mx_array grow(mx_array old, int64_t prev, mx_array x, int64_t extra) {
  const int64_t *xs = mx_array_shape(x);
  int64_t shape[4] = {xs[0], xs[1], extra, xs[3]};
  mx_array z = mx_zeros(shape, 4, mx_array_dtype(x));
  if (!old) return z;
  mx_array keep = mx_array_retain(old);
  if (prev < mx_array_dim(old, 2)) {
    /* Positions past prev (after a trim) are garbage: cut them first. */
    int64_t start[4] = {0, 0, 0, 0}, stop[4] = {MX_SLICE_END, MX_SLICE_END, prev, MX_SLICE_END};
    mx_array cut = mx_slice(keep, start, stop, NULL, 4);
    mx_array_free(keep);
    keep = cut;
  }
  mx_array parts[2] = {keep, z};
  mx_array out = mx_concatenate(parts, 2, 2);
  mx_array_free(keep);
  mx_array_free(z);
  return out;
}

mx_array lm_kv_slice(mx_array a, int64_t from, int64_t to) {
  int64_t start[4] = {0, 0, from, 0};
  int64_t stop[4] = {MX_SLICE_END, MX_SLICE_END, to, MX_SLICE_END};
  return mx_slice(a, start, stop, NULL, 4);
}

/* Writes x at positions [at, at + L) of *buf (replacing our handle by the
 * update) and returns a view of the first `upto` positions (or NULL). */
static mx_array write_and_view(mx_array *buf, mx_array x, int64_t at, int64_t upto) {
  int64_t start[4] = {0, 0, at, 0};
  int64_t stop[4] = {MX_SLICE_END, MX_SLICE_END, at + mx_array_dim(x, 2), MX_SLICE_END};
  mx_array upd = mx_slice_update(*buf, x, start, stop, NULL, 4);
  mx_array_free(*buf);
  *buf = lm_own(upd);
  if (!upd) return NULL;
  if (upto == mx_array_dim(upd, 2)) return mx_array_retain(upd);
  return lm_kv_slice(upd, 0, upto);
}

/* Grows the n buffers of a standard-layout layer (keys, values, or the
 * three parts of each when quantized) so that L more positions fit. */
static mx_status ensure_capacity(mx_array *bufs, const mx_array *like, int n, int64_t prev,
                                 int64_t L) {
  if (bufs[0] && prev + L <= mx_array_dim(bufs[0], 2)) return MX_OK;
  int64_t extra = (LM_KV_STEP + L - 1) / LM_KV_STEP * LM_KV_STEP;
  mx_status st = MX_OK;
  for (int i = 0; i < n; i++) {
    mx_array nb = grow(bufs[i], prev, like[i], extra);
    mx_array_free(bufs[i]);
    bufs[i] = lm_own(nb);
    if (!nb && !st) st = mx_last_error_code();
  }
  return st;
}

static mx_status fail_outputs(mx_array *outs, int n) {
  for (int i = 0; i < n; i++) {
    mx_array_free(outs[i]);
    outs[i] = NULL;
  }
  return mx_last_error_code() ? mx_last_error_code() : MX_ERR_OOM;
}

static mx_status check_kv(mx_array k, mx_array v) {
  if (!k || !v) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_NULL_INPUT;
  if (mx_array_ndim(k) != 4 || mx_array_ndim(v) != 4 || mx_array_dim(k, 2) != mx_array_dim(v, 2) ||
      mx_array_dim(k, 0) != mx_array_dim(v, 0) || mx_array_dim(k, 1) != mx_array_dim(v, 1))
    return set_error(MX_ERR_SHAPE, "kv cache: keys and values must be (B, heads, L, D) with the "
                     "same B, heads and L");
  return MX_OK;
}

mx_status lm_kv_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v, mx_array *k_out,
                                 mx_array *v_out) {
  *k_out = *v_out = NULL;
  mx_status st = check_kv(k, v);
  if (st) return st;
  int64_t prev = c->offset, L = mx_array_dim(k, 2);
  mx_array bufs[2] = {c->keys, c->values}, like[2] = {k, v};
  st = ensure_capacity(bufs, like, 2, prev, L);
  c->keys = bufs[0];
  c->values = bufs[1];
  if (st) return st;
  c->offset = prev + L;
  mx_array outs[2];
  outs[0] = write_and_view(&c->keys, k, prev, c->offset);
  outs[1] = write_and_view(&c->values, v, prev, c->offset);
  if (!outs[0] || !outs[1]) return fail_outputs(outs, 2);
  *k_out = outs[0];
  *v_out = outs[1];
  return MX_OK;
}

/* The joint buffer node the layer's keys and values are still pending
 * views of (the previous fused step's output, lm_kv_update_rope_fused), if
 * its geometry is this step's: then the next node reads it directly and the
 * two views never run. NULL otherwise. */
static mx_array pending_joint(const lm_kv_cache *c, int64_t B, int64_t H, int64_t Hq, int64_t D,
                              int64_t cap) {
  mx_array k = c->keys, v = c->values;
  if (!k || !v || atomic_load(&k->state) != ARRAY_PENDING ||
      atomic_load(&v->state) != ARRAY_PENDING || !k->prim || !v->prim || k->prim != v->prim ||
      strcmp(k->prim->name, "as_strided") != 0 || k->nin != 1 || v->nin != 1 ||
      k->inputs[0] != v->inputs[0] || !k->params || !v->params)
    return NULL;
  mx_array j = k->inputs[0];
  int64_t kvn = B * H * cap * D;
  if (j->ndim != 1 || j->size != 2 * kvn + B * Hq * D || j->dtype != k->dtype ||
      k->ndim != 4 || v->ndim != 4)
    return NULL;
  const int64_t want[4] = {B, H, cap, D}, ws[4] = {H * cap * D, cap * D, D, 1};
  const view_params *kp = k->params, *vp = v->params;
  if (kp->offset != 0 || vp->offset != kvn) return NULL;
  for (int i = 0; i < 4; i++)
    if (k->shape[i] != want[i] || v->shape[i] != want[i] || kp->strides[i] != ws[i] ||
        vp->strides[i] != ws[i])
      return NULL;
  return j;
}

/* One decode step (L == 1) of a standard layer through the fused rope + KV
 * write (src/backend/cpu/fast_fused.h): `in` holds the un-rotated q, k and
 * v (or their base) and the freqs, rp the rope they would get (offset ==
 * c->offset). The layer's keys and values become views of the node's joint
 * buffer, which the next step's node reads (pending_joint) and writes in
 * place; *q_out is the rotated q and *k_out / *v_out the first offset + 1
 * positions, as lm_kv_update_and_fetch. Capacity grows as ensure_capacity
 * does. */
mx_status lm_kv_update_rope_fused(lm_kv_cache *c, fast_rope_kv_in *in,
                                  const fast_rope_params *rp, int64_t B, int64_t H, int64_t Hq,
                                  int64_t D, mx_array *q_out, mx_array *k_out, mx_array *v_out) {
  *q_out = *k_out = *v_out = NULL;
  int64_t prev = c->offset;
  int64_t cap = c->keys && prev + 1 <= mx_array_dim(c->keys, 2) ? mx_array_dim(c->keys, 2)
                                                                 : prev + LM_KV_STEP;
  in->K = in->V = in->J = NULL;
  if (c->keys) {
    in->J = pending_joint(c, B, H, Hq, D, cap);
    if (!in->J) {
      in->K = c->keys;
      in->V = c->values;
    }
  }
  mx_array j = fast_rope_kv(in, rp, B, H, Hq, D, cap, prev);
  if (!j) return mx_last_error_code();
  int64_t kvn = B * H * cap * D;
  int64_t shape[4] = {B, H, cap, D}, strides[4] = {H * cap * D, cap * D, D, 1};
  mx_array outs[5];
  outs[0] = mx_as_strided(j, shape, 4, strides, 0);
  outs[1] = mx_as_strided(j, shape, 4, strides, kvn);
  shape[2] = prev + 1;
  outs[2] = mx_as_strided(j, shape, 4, strides, 0);
  outs[3] = mx_as_strided(j, shape, 4, strides, kvn);
  int64_t qshape[4] = {B, Hq, 1, D}, qstrides[4] = {Hq * D, D, D, 1};
  outs[4] = mx_as_strided(j, qshape, 4, qstrides, 2 * kvn);
  mx_array_free(j);
  for (int i = 0; i < 5; i++)
    if (!outs[i]) return fail_outputs(outs, 5);
  /* Our handles on the old buffer go now: the node is then its only
   * reader and may take it over (fast_rope_kv_in_place). */
  mx_array_free(c->keys);
  mx_array_free(c->values);
  c->keys = lm_own(outs[0]);
  c->values = lm_own(outs[1]);
  c->offset = prev + 1;
  *k_out = outs[2];
  *v_out = outs[3];
  *q_out = outs[4];
  return MX_OK;
}

/* ------------------------------------------------------------ quantized */

mx_status lm_kv_quantized_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v,
                                           mx_array kq_out[3], mx_array vq_out[3]) {
  for (int i = 0; i < 3; i++) kq_out[i] = vq_out[i] = NULL;
  mx_status st = check_kv(k, v);
  if (st) return st;
  int64_t prev = c->offset, L = mx_array_dim(k, 2);
  mx_array nk[3], nv[3];
  if ((st = mx_quantize(k, c->group_size, c->bits, MX_QUANT_AFFINE, NULL, nk))) return st;
  if ((st = mx_quantize(v, c->group_size, c->bits, MX_QUANT_AFFINE, NULL, nv))) {
    for (int i = 0; i < 3; i++) mx_array_free(nk[i]);
    return st;
  }
  mx_array bufs[6] = {c->kq[0], c->kq[1], c->kq[2], c->vq[0], c->vq[1], c->vq[2]};
  mx_array like[6] = {nk[0], nk[1], nk[2], nv[0], nv[1], nv[2]};
  st = ensure_capacity(bufs, like, 6, prev, L);
  for (int i = 0; i < 3; i++) {
    c->kq[i] = bufs[i];
    c->vq[i] = bufs[3 + i];
  }
  mx_array outs[6] = {NULL};
  if (!st) {
    c->offset = prev + L;
    for (int i = 0; i < 3; i++) {
      outs[i] = write_and_view(&c->kq[i], nk[i], prev, c->offset);
      outs[3 + i] = write_and_view(&c->vq[i], nv[i], prev, c->offset);
    }
  }
  for (int i = 0; i < 6; i++) mx_array_free(like[i]);
  if (st) return st;
  for (int i = 0; i < 6; i++)
    if (!outs[i]) return fail_outputs(outs, 6);
  for (int i = 0; i < 3; i++) {
    kq_out[i] = outs[i];
    vq_out[i] = outs[3 + i];
  }
  return MX_OK;
}

mx_status lm_kv_to_quantized(lm_kv_cache *c, int bits, int group_size) {
  if (c->kind != LM_CACHE_STANDARD)
    return set_error(MX_ERR_INVALID_ARG, "kv cache: only a standard layer can be quantized");
  if (c->keys) {
    int64_t D = mx_array_dim(c->keys, 3), Dv = mx_array_dim(c->values, 3);
    if (D % group_size || Dv % group_size)
      return set_error(MX_ERR_INVALID_ARG, "kv cache: kv_group_size %d does not divide the head "
                       "dimension %lld (keys) / %lld (values)", group_size, (long long)D,
                       (long long)Dv);
    mx_array kq[3], vq[3];
    mx_status st = mx_quantize(c->keys, group_size, bits, MX_QUANT_AFFINE, NULL, kq);
    if (st) return st;
    if ((st = mx_quantize(c->values, group_size, bits, MX_QUANT_AFFINE, NULL, vq))) {
      for (int i = 0; i < 3; i++) mx_array_free(kq[i]);
      return st;
    }
    for (int i = 0; i < 3; i++) {
      c->kq[i] = lm_own(kq[i]);
      c->vq[i] = lm_own(vq[i]);
    }
    mx_array_free(c->keys);
    mx_array_free(c->values);
    c->keys = c->values = NULL;
  }
  c->kind = LM_CACHE_QUANTIZED;
  c->bits = bits;
  c->group_size = group_size;
  return MX_OK;
}

/* ------------------------------------------------------------ rotating */

/* [v[:keep], v[trim + keep:], append] along the sequence axis. */
static mx_array rot_trim(const lm_kv_cache *c, int64_t trim, mx_array v, mx_array append) {
  mx_array parts[3];
  size_t n = 0;
  if (trim > 0) {
    parts[n++] = lm_kv_slice(v, 0, c->keep);
    parts[n++] = lm_kv_slice(v, trim + c->keep, mx_array_dim(v, 2));
  } else {
    parts[n++] = mx_array_retain(v);
  }
  if (append) parts[n++] = mx_array_retain(append);
  mx_array out = n == 1 ? mx_array_retain(parts[0]) : mx_concatenate(parts, n, 2);
  for (size_t i = 0; i < n; i++) mx_array_free(parts[i]);
  return out;
}

/* The buffer in temporal order (oldest first), the unused tail cut. */
static mx_array rot_temporal(const lm_kv_cache *c, mx_array v) {
  int64_t n = mx_array_dim(v, 2);
  if (c->idx == n) return mx_array_retain(v);
  if (c->idx < c->offset) {
    mx_array parts[3] = {lm_kv_slice(v, 0, c->keep), lm_kv_slice(v, c->idx, n),
                         lm_kv_slice(v, c->keep, c->idx)};
    mx_array out = mx_concatenate(parts, 3, 2);
    for (int i = 0; i < 3; i++) mx_array_free(parts[i]);
    return out;
  }
  return lm_kv_slice(v, 0, c->idx);
}

static void replace(mx_array *slot, mx_array a) {
  mx_array_free(*slot);
  *slot = lm_own(a);
}

/* Multi-token update: the returned keys hold the previous positions in
 * temporal order, cut to max_size - 1 (but the first `keep`), then the new
 * ones, so every new query still has max_size positions of context. */
static mx_status rot_update_concat(lm_kv_cache *c, mx_array k, mx_array v) {
  int64_t L = mx_array_dim(k, 2);
  if (!c->keys) {
    replace(&c->keys, mx_array_retain(k));
    replace(&c->values, mx_array_retain(v));
  } else {
    replace(&c->keys, rot_temporal(c, c->keys));
    replace(&c->values, rot_temporal(c, c->values));
    if (!c->keys || !c->values) return mx_last_error_code();
    c->idx = mx_array_dim(c->keys, 2);
    int64_t trim = c->idx - c->max_size + 1;
    replace(&c->keys, rot_trim(c, trim, c->keys, k));
    replace(&c->values, rot_trim(c, trim, c->values, v));
    if (!c->keys || !c->values) return mx_last_error_code();
  }
  c->offset += L;
  c->idx = mx_array_dim(c->keys, 2);
  return MX_OK;
}

/* One token: grow up to max_size, then overwrite the oldest slot after the
 * kept ones (a ring). */
static mx_status rot_update_in_place(lm_kv_cache *c, mx_array k, mx_array v) {
  int64_t prev = c->offset;
  if (!c->keys || (prev >= mx_array_dim(c->keys, 2) && mx_array_dim(c->keys, 2) < c->max_size)) {
    int64_t extra = c->max_size - prev < LM_KV_STEP ? c->max_size - prev : LM_KV_STEP;
    if (extra < 1) extra = 1;
    mx_array nk = grow(c->keys, c->keys ? mx_array_dim(c->keys, 2) : 0, k, extra);
    mx_array nv = grow(c->values, c->values ? mx_array_dim(c->values, 2) : 0, v, extra);
    replace(&c->keys, nk);
    replace(&c->values, nv);
    if (!nk || !nv) return mx_last_error_code();
    c->idx = prev;
  }
  int64_t trim = mx_array_dim(c->keys, 2) - c->max_size;
  if (trim > 0) {
    replace(&c->keys, rot_trim(c, trim, c->keys, NULL));
    replace(&c->values, rot_trim(c, trim, c->values, NULL));
    if (!c->keys || !c->values) return mx_last_error_code();
    c->idx = c->max_size;
  }
  if (c->idx == c->max_size) c->idx = c->keep;
  mx_array a = write_and_view(&c->keys, k, c->idx, 0);
  mx_array b = write_and_view(&c->values, v, c->idx, 0);
  mx_array_free(a);
  mx_array_free(b);
  if (!c->keys || !c->values) return mx_last_error_code();
  c->offset += 1;
  c->idx += 1;
  return MX_OK;
}

mx_status lm_kv_rotating_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v,
                                          mx_array *k_out, mx_array *v_out) {
  *k_out = *v_out = NULL;
  mx_status st = check_kv(k, v);
  if (st) return st;
  if (mx_array_dim(k, 2) == 1) {
    if ((st = rot_update_in_place(c, k, v))) return st;
    if (c->offset < c->max_size) {
      *k_out = lm_kv_slice(c->keys, 0, c->offset);
      *v_out = lm_kv_slice(c->values, 0, c->offset);
    } else {
      *k_out = mx_array_retain(c->keys);
      *v_out = mx_array_retain(c->values);
    }
  } else {
    if ((st = rot_update_concat(c, k, v))) return st;
    *k_out = mx_array_retain(c->keys);
    *v_out = mx_array_retain(c->values);
  }
  if (!*k_out || !*v_out) {
    mx_array outs[2] = {*k_out, *v_out};
    *k_out = *v_out = NULL;
    return fail_outputs(outs, 2);
  }
  return MX_OK;
}

/* ------------------------------------------------------------ the cache */

mx_lm_cache_params mx_lm_cache_default_params(void) {
  mx_lm_cache_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.keep = 4;
  p.kv_group_size = 64;
  return p;
}

mx_status lm_cache_check_params(const mx_lm_cache_params *p) {
  if (p->size != sizeof *p)
    return set_error(MX_ERR_INVALID_ARG, "lm cache: params.size is %zu, expected "
                     "sizeof(mx_lm_cache_params) = %zu (make them with "
                     "mx_lm_cache_default_params)", p->size, sizeof *p);
  if (p->kv_bits != 0 && !(p->kv_bits >= 2 && p->kv_bits <= 8 && p->kv_bits != 7))
    return set_error(MX_ERR_INVALID_ARG, "lm cache: kv_bits %d must be 0 (off) or one of 2, 3, "
                     "4, 5, 6, 8", p->kv_bits);
  if (p->kv_group_size != 32 && p->kv_group_size != 64 && p->kv_group_size != 128)
    return set_error(MX_ERR_INVALID_ARG, "lm cache: kv_group_size %d must be 32, 64 or 128",
                     p->kv_group_size);
  if (p->keep < 0)
    return set_error(MX_ERR_INVALID_ARG, "lm cache: keep %lld must be >= 0", (long long)p->keep);
  if (p->max_kv_size < 0 || (p->max_kv_size > 0 && p->max_kv_size <= p->keep))
    return set_error(MX_ERR_INVALID_ARG, "lm cache: max_kv_size %lld must be 0 (unbounded) or "
                     "greater than keep (%lld)", (long long)p->max_kv_size, (long long)p->keep);
  if (p->quantized_kv_start < 0)
    return set_error(MX_ERR_INVALID_ARG, "lm cache: quantized_kv_start %lld must be >= 0",
                     (long long)p->quantized_kv_start);
  return MX_OK;
}

mx_lm_cache *lm_cache_alloc(int64_t nlayers) {
  if (nlayers < 0 || nlayers > (1 << 20)) {
    set_error(MX_ERR_INVALID_ARG, "lm cache: %lld layers", (long long)nlayers);
    return NULL;
  }
  mx_lm_cache *c = calloc(1, sizeof *c);
  if (c) c->layers = calloc((size_t)(nlayers > 0 ? nlayers : 1), sizeof *c->layers);
  if (!c || !c->layers) {
    free(c);
    set_error(MX_ERR_OOM, "lm cache: out of memory");
    return NULL;
  }
  c->nlayers = nlayers;
  c->params = mx_lm_cache_default_params();
  for (int64_t i = 0; i < nlayers; i++) c->layers[i].owner = c;
  return c;
}

mx_lm_cache *mx_lm_cache_new_ex(const mx_lm_model *m, const mx_lm_cache_params *p) {
  if (!m) {
    set_error(MX_ERR_INVALID_ARG, "lm cache: NULL model");
    return NULL;
  }
  mx_lm_cache_params params = p ? *p : mx_lm_cache_default_params();
  if (lm_cache_check_params(&params)) return NULL;
  mx_lm_cache *c = lm_cache_alloc(m->arch->num_layers(m->impl));
  if (!c) return NULL;
  c->params = params;
  for (int64_t i = 0; i < c->nlayers; i++) {
    lm_kv_cache *l = &c->layers[i];
    lm_layer_spec spec = {LM_LAYER_ATTENTION, 0};
    if (m->arch->layer_spec) m->arch->layer_spec(m->impl, i, &spec);
    if (spec.kind == LM_LAYER_CONV) {
      l->kind = LM_CACHE_CONV;
    } else if (spec.window > 0) {
      l->kind = LM_CACHE_ROTATING;
      l->max_size = spec.window;
      l->keep = 0;
    } else if (params.max_kv_size > 0) {
      l->kind = LM_CACHE_ROTATING;
      l->max_size = params.max_kv_size;
      l->keep = params.keep;
    } else {
      l->kind = LM_CACHE_STANDARD;
    }
  }
  return c;
}

mx_lm_cache *mx_lm_cache_new(const mx_lm_model *m) { return mx_lm_cache_new_ex(m, NULL); }

static void layer_clear(lm_kv_cache *l) {
  mx_array_free(l->keys);
  mx_array_free(l->values);
  for (int j = 0; j < 3; j++) {
    mx_array_free(l->kq[j]);
    mx_array_free(l->vq[j]);
  }
  mx_array_free(l->conv);
  l->keys = l->values = l->conv = NULL;
  for (int j = 0; j < 3; j++) l->kq[j] = l->vq[j] = NULL;
}

void mx_lm_cache_free(mx_lm_cache *c) {
  if (!c) return;
  for (int64_t i = 0; i < c->nlayers; i++) layer_clear(&c->layers[i]);
  free(c->layers);
  free(c->left_pad);
  cJSON_Delete(c->meta);
  free(c);
}

int64_t mx_lm_cache_offset(const mx_lm_cache *c) {
  if (!c) return 0;
  /* Convolution layers keep no position count. */
  for (int64_t i = 0; i < c->nlayers; i++)
    if (c->layers[i].kind != LM_CACHE_CONV) return c->layers[i].offset;
  return 0;
}

static bool layer_can_trim(const lm_kv_cache *l) {
  switch (l->kind) {
    case LM_CACHE_STANDARD:
    case LM_CACHE_QUANTIZED: return true;
    case LM_CACHE_ROTATING: return l->offset < l->max_size;
    default: return false;
  }
}

bool mx_lm_cache_can_trim(const mx_lm_cache *c) {
  if (!c) return false;
  for (int64_t i = 0; i < c->nlayers; i++)
    if (!layer_can_trim(&c->layers[i])) return false;
  return true;
}

int64_t mx_lm_cache_trim(mx_lm_cache *c, int64_t n) {
  if (!c || n <= 0 || c->nlayers == 0 || !mx_lm_cache_can_trim(c)) return 0;
  int64_t first = -1;
  for (int64_t i = 0; i < c->nlayers; i++) {
    lm_kv_cache *l = &c->layers[i];
    int64_t k = n < l->offset ? n : l->offset;
    l->offset -= k;
    if (l->kind == LM_CACHE_ROTATING) l->idx -= k;
    if (first < 0) first = k;
  }
  return first;
}

/* Every array a layer holds, in a fixed order; returns the count. */
size_t lm_kv_arrays(const lm_kv_cache *l, mx_array out[6]) {
  size_t n = 0;
  switch (l->kind) {
    case LM_CACHE_QUANTIZED:
      for (int j = 0; j < 3; j++)
        if (l->kq[j]) out[n++] = l->kq[j];
      for (int j = 0; j < 3; j++)
        if (l->vq[j]) out[n++] = l->vq[j];
      break;
    case LM_CACHE_CONV:
      if (l->conv) out[n++] = l->conv;
      break;
    default:
      if (l->keys) out[n++] = l->keys;
      if (l->values) out[n++] = l->values;
  }
  return n;
}

uint64_t mx_lm_cache_nbytes(const mx_lm_cache *c) {
  uint64_t n = 0;
  if (!c) return 0;
  for (int64_t i = 0; i < c->nlayers; i++) {
    mx_array a[6];
    size_t k = lm_kv_arrays(&c->layers[i], a);
    for (size_t j = 0; j < k; j++) n += mx_array_nbytes(a[j]);
  }
  return n;
}

size_t mx_lm_cache_state(const mx_lm_cache *c, mx_array *out, size_t cap) {
  size_t n = 0;
  if (!c) return 0;
  for (int64_t i = 0; i < c->nlayers; i++) {
    mx_array a[6];
    size_t k = lm_kv_arrays(&c->layers[i], a);
    for (size_t j = 0; j < k; j++) {
      if (out && n < cap) out[n] = mx_array_retain(a[j]);
      n++;
    }
  }
  return n;
}
