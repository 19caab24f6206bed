/* cache.c — the standard KV cache, as mlx-lm's KVCache: buffers grow in
 * steps of 256 positions (zeros concatenated), new keys/values are written
 * with slice_update, and attention reads a view of the first `offset`
 * positions. Dropping our handle to the old buffer as soon as the update is
 * recorded leaves the update node as its only reader, so the kernel can
 * write in place (buffer donation) instead of copying the whole cache. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/ops.h"

static mx_array grow(mx_array old, int64_t prev, mx_array x, int64_t extra) {
  const int64_t *xs = mx_array_shape(x);
  int64_t shape[4] = {xs[0], xs[1], extra, xs[3]};
  mx_array z = mx_zeros(shape, 4, mx_array_dtype(x));
  if (!old) return z;
  mx_array keep = mx_array_retain(old);
  if (prev % LM_KV_STEP != 0) {
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

static mx_array write_and_view(mx_array *buf, mx_array x, int64_t prev, int64_t offset) {
  int64_t start[4] = {0, 0, prev, 0};
  int64_t stop[4] = {MX_SLICE_END, MX_SLICE_END, offset, MX_SLICE_END};
  mx_array upd = mx_slice_update(*buf, x, start, stop, NULL, 4);
  mx_array_free(*buf);
  *buf = lm_own(upd);
  if (!upd) return NULL;
  int64_t s0[4] = {0, 0, 0, 0};
  return mx_slice(upd, s0, stop, NULL, 4);
}

mx_status lm_kv_update_and_fetch(lm_kv_cache *c, mx_array k, mx_array v, mx_array *k_out,
                                 mx_array *v_out) {
  *k_out = *v_out = NULL;
  if (!k || !v) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_NULL_INPUT;
  if (mx_array_ndim(k) != 4 || mx_array_ndim(v) != 4 || mx_array_dim(k, 2) != mx_array_dim(v, 2))
    return set_error(MX_ERR_SHAPE, "kv cache: keys and values must be (B, heads, L, D) with the "
                     "same L");
  int64_t prev = c->offset, L = mx_array_dim(k, 2);
  if (!c->keys || prev + L > mx_array_dim(c->keys, 2)) {
    int64_t extra = (LM_KV_STEP + L - 1) / LM_KV_STEP * LM_KV_STEP;
    mx_array nk = grow(c->keys, prev, k, extra);
    mx_array nv = grow(c->values, prev, v, extra);
    mx_array_free(c->keys);
    mx_array_free(c->values);
    c->keys = lm_own(nk);
    c->values = lm_own(nv);
    if (!nk || !nv) return mx_last_error_code();
  }
  c->offset = prev + L;
  *k_out = write_and_view(&c->keys, k, prev, c->offset);
  *v_out = write_and_view(&c->values, v, prev, c->offset);
  if (!*k_out || !*v_out) {
    mx_array_free(*k_out);
    mx_array_free(*v_out);
    *k_out = *v_out = NULL;
    return mx_last_error_code();
  }
  return MX_OK;
}

mx_lm_cache *mx_lm_cache_new(const mx_lm_model *m) {
  if (!m) {
    set_error(MX_ERR_INVALID_ARG, "lm cache: NULL model");
    return NULL;
  }
  mx_lm_cache *c = calloc(1, sizeof *c);
  int64_t n = m->arch->num_layers(m->impl);
  if (c) c->layers = calloc((size_t)(n > 0 ? n : 1), sizeof *c->layers);
  if (!c || !c->layers) {
    free(c);
    set_error(MX_ERR_OOM, "lm cache: out of memory");
    return NULL;
  }
  c->nlayers = n;
  return c;
}

void mx_lm_cache_free(mx_lm_cache *c) {
  if (!c) return;
  for (int64_t i = 0; i < c->nlayers; i++) {
    mx_array_free(c->layers[i].keys);
    mx_array_free(c->layers[i].values);
  }
  free(c->layers);
  free(c);
}

int64_t mx_lm_cache_offset(const mx_lm_cache *c) {
  return c && c->nlayers > 0 ? c->layers[0].offset : 0;
}

int64_t mx_lm_cache_trim(mx_lm_cache *c, int64_t n) {
  if (!c || n <= 0) return 0;
  int64_t done = 0;
  for (int64_t i = 0; i < c->nlayers; i++) {
    int64_t k = n < c->layers[i].offset ? n : c->layers[i].offset;
    c->layers[i].offset -= k;
    done = k;
  }
  return done;
}

uint64_t mx_lm_cache_nbytes(const mx_lm_cache *c) {
  uint64_t n = 0;
  if (!c) return 0;
  for (int64_t i = 0; i < c->nlayers; i++) {
    if (c->layers[i].keys) n += mx_array_nbytes(c->layers[i].keys);
    if (c->layers[i].values) n += mx_array_nbytes(c->layers[i].values);
  }
  return n;
}

size_t mx_lm_cache_state(const mx_lm_cache *c, mx_array *out, size_t cap) {
  size_t n = 0;
  if (!c) return 0;
  for (int64_t i = 0; i < c->nlayers; i++) {
    mx_array kv[2] = {c->layers[i].keys, c->layers[i].values};
    for (int j = 0; j < 2; j++) {
      if (!kv[j]) continue;
      if (out && n < cap) out[n] = mx_array_retain(kv[j]);
      n++;
    }
  }
  return n;
}
