/* layers.c — Linear and Embedding over the three weight forms a model may
 * come in: dense (f32/f16/bf16), MLX-quantized (affine or fp modes, packed
 * uint32 + scales [+ biases]) and GGUF blocks. A tied output head is the
 * embedding's weight used as a linear layer (mlx's Embedding.as_linear). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/ops.h"

static mx_status parse_mode(const char *s, mx_quant_mode *m, const char *path) {
  if (!s || strcmp(s, "affine") == 0) *m = MX_QUANT_AFFINE;
  else if (strcmp(s, "mxfp4") == 0) *m = MX_QUANT_MXFP4;
  else if (strcmp(s, "nvfp4") == 0) *m = MX_QUANT_NVFP4;
  else if (strcmp(s, "mxfp8") == 0) *m = MX_QUANT_MXFP8;
  else
    return set_error(MX_ERR_FORMAT, "load %s: unknown quantization mode \"%s\"", path, s);
  return MX_OK;
}

/* group_size / bits / mode of one module: its per-layer entry in the
 * quantization config if it has one, else the global values. */
static mx_status quant_params(const lm_quant_cfg *q, const char *prefix, const char *path,
                              lm_linear *l) {
  const cJSON *root = q ? q->q : NULL;
  if (!root)
    return set_error(MX_ERR_FORMAT,
                     "load %s: \"%s.scales\" is present but config.json has no quantization",
                     path, prefix);
  const cJSON *src = root;
  const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, prefix);
  if (per && cJSON_IsObject(per)) src = per;
  int64_t gs, bits;
  const char *mode;
  char what[300];
  snprintf(what, sizeof what, "load %s (%s)", path, prefix);
  mx_status st = lm_cfg_int(src, "group_size", 64, &gs, what);
  if (!st) st = lm_cfg_int(src, "bits", 4, &bits, what);
  if (!st) st = lm_cfg_string(src, "mode", "affine", &mode, what);
  if (!st) st = parse_mode(mode, &l->mode, path);
  if (st) return st;
  if (gs <= 0 || gs > 1024 || bits <= 0 || bits > 8)
    return set_error(MX_ERR_FORMAT, "%s: bad quantization group_size %lld / bits %lld", what,
                     (long long)gs, (long long)bits);
  l->group_size = (int)gs;
  l->bits = (int)bits;
  return MX_OK;
}

static mx_status check_dims(const lm_weights *w, const char *name, int64_t got_out,
                            int64_t got_in, int64_t out, int64_t in) {
  if ((out && got_out != out) || (in && got_in != in))
    return set_error(MX_ERR_FORMAT, "load %s: weight \"%s\" has shape (%lld, %lld), expected "
                     "(%lld, %lld)", w->path, name, (long long)got_out, (long long)got_in,
                     (long long)out, (long long)in);
  return MX_OK;
}

mx_status lm_linear_load(lm_weights *w, const lm_quant_cfg *q, const char *prefix,
                         bool has_bias, int64_t out, int64_t in, lm_linear *l) {
  memset(l, 0, sizeof *l);
  char name[512], sname[512], bname[512];
  snprintf(name, sizeof name, "%s.weight", prefix);
  snprintf(sname, sizeof sname, "%s.scales", prefix);
  snprintf(bname, sizeof bname, "%s.biases", prefix);
  mx_ggml_type gt = lm_weights_ggml_type(w, name);
  l->w = lm_weights_take(w, name);
  if (!l->w) return mx_last_error_code();
  mx_status st = MX_OK;
  if (mx_array_ndim(l->w) != 2) {
    st = set_error(MX_ERR_FORMAT, "load %s: weight \"%s\" must be 2-d", w->path, name);
    goto fail;
  }
  if (w->kind == LM_SRC_GGUF && gt != MX_GGML_F32 && gt != MX_GGML_F16 && gt != MX_GGML_BF16) {
    l->kind = LM_LINEAR_GGUF;
    l->gtype = gt;
    int64_t t = lm_weights_find(w, name), shape[MX_MAX_NDIM];
    mx_gguf_tensor_shape(w->gguf, t, shape);
    l->out = shape[0];
    l->in = shape[1];
  } else if (lm_weights_has(w, sname)) {
    l->kind = LM_LINEAR_AFFINE;
    if ((st = quant_params(q, prefix, w->path, l))) goto fail;
    l->scales = lm_weights_take(w, sname);
    if (!l->scales) goto fail_err;
    if (l->mode == MX_QUANT_AFFINE || lm_weights_has(w, bname)) {
      l->biases = lm_weights_take(w, bname);
      if (!l->biases) goto fail_err;
    }
    l->out = mx_array_dim(l->w, 0);
    l->in = mx_array_ndim(l->scales) == 2 ? mx_array_dim(l->scales, 1) * l->group_size : -1;
    if (l->in < 0 || mx_array_dim(l->w, 1) * 32 != l->in * l->bits ||
        mx_array_dim(l->scales, 0) != l->out) {
      st = set_error(MX_ERR_FORMAT, "load %s: quantized \"%s\" (bits %d, group %d) has "
                     "inconsistent weight/scales shapes", w->path, prefix, l->bits,
                     l->group_size);
      goto fail;
    }
  } else {
    l->kind = LM_LINEAR_DENSE;
    l->out = mx_array_dim(l->w, 0);
    l->in = mx_array_dim(l->w, 1);
    if (!mx_dtype_is_floating(mx_array_dtype(l->w))) {
      st = set_error(MX_ERR_FORMAT, "load %s: weight \"%s\" has dtype %s (a float dtype, or a "
                     "quantized layer with .scales, expected)", w->path, name,
                     mx_dtype_name(mx_array_dtype(l->w)));
      goto fail;
    }
  }
  if ((st = check_dims(w, name, l->out, l->in, out, in))) goto fail;
  if (has_bias) {
    snprintf(bname, sizeof bname, "%s.bias", prefix);
    l->bias = lm_weights_take(w, bname);
    if (!l->bias) goto fail_err;
  }
  return MX_OK;
fail_err:
  st = mx_last_error_code();
fail:
  lm_linear_free(l);
  return st;
}

void lm_linear_free(lm_linear *l) {
  mx_array_free(l->w);
  mx_array_free(l->scales);
  mx_array_free(l->biases);
  mx_array_free(l->bias);
  memset(l, 0, sizeof *l);
}

mx_array lm_linear_apply(const lm_linear *l, mx_array x) {
  if (!x) return NULL;
  mx_array y = NULL;
  switch (l->kind) {
  case LM_LINEAR_DENSE: {
    mx_array wt = mx_transpose(l->w, NULL, 0);
    y = mx_matmul(x, wt);
    mx_array_free(wt);
    break;
  }
  case LM_LINEAR_AFFINE:
    y = mx_quantized_matmul(x, l->w, l->scales, l->biases, true, l->group_size, l->bits,
                            l->mode);
    break;
  case LM_LINEAR_GGUF:
    y = mx_gguf_matmul(x, l->w, l->gtype, l->in);
    if (y && mx_array_dtype(y) != mx_array_dtype(x)) {
      mx_array c = mx_astype(y, mx_array_dtype(x));
      mx_array_free(y);
      y = c;
    }
    break;
  }
  if (y && l->bias) {
    mx_array b = mx_add(y, l->bias);
    mx_array_free(y);
    y = b;
  }
  return y;
}

mx_array lm_embedding_apply(const lm_linear *l, mx_array ids, mx_dtype dtype) {
  if (!ids) return NULL;
  mx_array out = NULL;
  switch (l->kind) {
  case LM_LINEAR_DENSE:
    out = mx_take(l->w, ids, 0);
    break;
  case LM_LINEAR_AFFINE: {
    mx_array w = mx_take(l->w, ids, 0);
    mx_array s = mx_take(l->scales, ids, 0);
    mx_array b = l->biases ? mx_take(l->biases, ids, 0) : NULL;
    if (w && s && (b || !l->biases))
      out = mx_dequantize(w, s, b, l->group_size, l->bits, l->mode, NULL, MX_DTYPE_COUNT);
    mx_array_free(w);
    mx_array_free(s);
    mx_array_free(b);
    break;
  }
  case LM_LINEAR_GGUF: {
    /* Rows of blocks are whole rows of the matrix: gather them, then decode. */
    mx_array rows = mx_take(l->w, ids, 0);
    if (rows) {
      int nd = mx_array_ndim(rows);
      int64_t shape[MX_MAX_NDIM];
      int64_t n = 1;
      for (int i = 0; i < nd - 1; i++) n *= mx_array_dim(rows, i);
      int64_t flat[2] = {n, mx_array_dim(rows, -1)};
      mx_array r2 = mx_reshape(rows, flat, 2);
      mx_array d = mx_gguf_dequantize(r2, l->gtype, l->in, dtype);
      for (int i = 0; i < nd - 1; i++) shape[i] = mx_array_dim(rows, i);
      shape[nd - 1] = l->in;
      out = d ? mx_reshape(d, shape, nd) : NULL;
      mx_array_free(r2);
      mx_array_free(d);
      mx_array_free(rows);
    }
    break;
  }
  }
  if (out && mx_array_dtype(out) != dtype) {
    mx_array c = mx_astype(out, dtype);
    mx_array_free(out);
    out = c;
  }
  return out;
}

uint64_t lm_linear_nbytes(const lm_linear *l) {
  uint64_t n = 0;
  if (l->w) n += mx_array_nbytes(l->w);
  if (l->scales) n += mx_array_nbytes(l->scales);
  if (l->biases) n += mx_array_nbytes(l->biases);
  if (l->bias) n += mx_array_nbytes(l->bias);
  return n;
}

mx_dtype lm_linear_dtype(const lm_linear *l) {
  switch (l->kind) {
  case LM_LINEAR_DENSE: return mx_array_dtype(l->w);
  case LM_LINEAR_AFFINE:
    return l->mode == MX_QUANT_AFFINE ? mx_array_dtype(l->scales) : MX_BFLOAT16;
  case LM_LINEAR_GGUF: break;
  }
  return MX_FLOAT32;
}

/* ------------------------------------------------------------ fusion */

/* Whether the parts can be one matrix: one weight form, one dtype per
 * tensor, one quantization, one input size, biases on all or none. */
static bool fusable(const lm_linear *p, int n) {
  const lm_linear *a = &p[0];
  if (!a->w || mx_array_ndim(a->w) != 2) return false;
  for (int i = 0; i < n; i++) {
    const lm_linear *b = &p[i];
    if (!b->w || b->kind != a->kind || b->in != a->in || mx_array_ndim(b->w) != 2 ||
        mx_array_dtype(b->w) != mx_array_dtype(a->w) ||
        mx_array_dim(b->w, 1) != mx_array_dim(a->w, 1) || !b->bias != !a->bias ||
        (b->bias && (mx_array_ndim(b->bias) != 1 ||
                     mx_array_dtype(b->bias) != mx_array_dtype(a->bias))))
      return false;
    switch (a->kind) {
    case LM_LINEAR_DENSE: break;
    case LM_LINEAR_AFFINE:
      if (b->mode != a->mode || b->bits != a->bits || b->group_size != a->group_size ||
          !b->scales || mx_array_dtype(b->scales) != mx_array_dtype(a->scales) ||
          mx_array_ndim(b->scales) != 2 || mx_array_dim(b->scales, 1) != mx_array_dim(a->scales, 1) ||
          !b->biases != !a->biases ||
          (b->biases && (mx_array_dtype(b->biases) != mx_array_dtype(a->biases) ||
                         mx_array_ndim(b->biases) != 2 ||
                         mx_array_dim(b->biases, 1) != mx_array_dim(a->biases, 1))))
        return false;
      break;
    case LM_LINEAR_GGUF:
      if (b->gtype != a->gtype) return false;
      break;
    }
  }
  return true;
}

/* The row-wise concatenation of one field of the parts, evaluated. */
static mx_array concat_rows(const lm_linear *p, int n, size_t field) {
  mx_array parts[8];
  for (int i = 0; i < n; i++) parts[i] = *(const mx_array *)((const char *)&p[i] + field);
  mx_array r = mx_concatenate(parts, (size_t)n, 0);
  if (r && mx_eval1(r)) {
    mx_array_free(r);
    r = NULL;
  }
  return lm_own(r);
}

bool lm_fuse_enabled(void) {
  static int on = -1;
  if (on < 0) on = (int)env_long("MLXC_FUSE", 1, 0, 1);
  return on;
}

/* A part's bytes in a mapped weight file were read once, for the copy, and
 * will not be read again: hand their pages back so that the model's
 * footprint stays what it was (the copy replaces them) instead of growing
 * by the fused share. Paging out keeps the contents (memory that cannot be
 * paged out simply stays), so this is safe on any borrowed buffer. */
static void page_out(mx_array a) {
  if (!a || !a->buf || !a->buf->borrowed || !a->buf->ptr) return;
  uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)array_ptr(a);
  uintptr_t hi = lo + (uintptr_t)a->size * mx_dtype_size(a->dtype);
  lo = (lo + pg - 1) & ~(pg - 1); /* whole pages only: the edges may hold neighbours */
  hi &= ~(pg - 1);
#ifdef MADV_PAGEOUT
  if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_PAGEOUT);
#endif
}

/* Rows [r0, r1) of a fused field, evaluated now: a view of its buffer. */
static mx_array rows_view(mx_array a, int64_t r0, int64_t r1) {
  if (!a) return NULL;
  int64_t start[1] = {r0}, stop[1] = {r1};
  mx_array v = mx_slice(a, start, stop, NULL, 1);
  if (v && mx_eval1(v)) {
    mx_array_free(v);
    v = NULL;
  }
  return lm_own(v);
}

/* One row is the case fusion is for: every matmul path computes a single
 * input row's outputs column by column. Several rows: the CPU's quantized
 * decode kernels (up to 8 rows, qmm.c) sum each weight row in one order
 * whatever rows share its pass or its thread (qmm_simd.c; test_qmm_decode
 * checks the bits), but BLAS's GEMM (dense weights, and quantized inputs
 * of more rows as dequantized panels) picks its blocking by the number of
 * output columns, and the GPU's kernels make no such promise yet. */
bool lm_linear_fused_serves(const lm_linear *f, int64_t rows) {
  if (!f->w || rows < 1) return false;
  return rows == 1 ||
         (rows <= 8 && f->kind == LM_LINEAR_AFFINE && mx_default_device().type == MX_CPU);
}

mx_status lm_linear_fuse(lm_linear *dst, lm_linear *parts, int n) {
  memset(dst, 0, sizeof *dst);
  if (n < 2 || n > 8 || !lm_fuse_enabled() || !fusable(parts, n)) return MX_OK;
  lm_linear f = parts[0];
  f.w = f.scales = f.biases = f.bias = NULL;
  f.out = 0;
  for (int i = 0; i < n; i++) f.out += parts[i].out;
  /* One field at a time, each evaluated before the next: the load never
   * holds more than one layer's extra copy. */
  bool ok = (f.w = concat_rows(parts, n, offsetof(lm_linear, w))) != NULL;
  if (ok && parts[0].scales) ok = (f.scales = concat_rows(parts, n, offsetof(lm_linear, scales)));
  if (ok && parts[0].biases) ok = (f.biases = concat_rows(parts, n, offsetof(lm_linear, biases)));
  if (ok && parts[0].bias) ok = (f.bias = concat_rows(parts, n, offsetof(lm_linear, bias)));
  /* The parts become views of their rows of the fused storage. */
  lm_linear views[8];
  int64_t r0 = 0;
  for (int i = 0; i < n; i++) {
    views[i] = parts[i];
    views[i].w = views[i].scales = views[i].biases = views[i].bias = NULL;
  }
  for (int i = 0; ok && i < n; i++) {
    int64_t r1 = r0 + parts[i].out;
    lm_linear *v = &views[i];
    ok = (v->w = rows_view(f.w, r0, r1)) != NULL;
    if (ok && f.scales) ok = (v->scales = rows_view(f.scales, r0, r1)) != NULL;
    if (ok && f.biases) ok = (v->biases = rows_view(f.biases, r0, r1)) != NULL;
    if (ok && f.bias) ok = (v->bias = rows_view(f.bias, r0, r1)) != NULL;
    r0 = r1;
  }
  if (!ok) {
    mx_status st = mx_last_error_code();
    lm_linear_free(&f);
    for (int i = 0; i < n; i++) lm_linear_free(&views[i]);
    return st ? st : MX_ERR_INTERNAL;
  }
  for (int i = 0; i < n; i++) {
    page_out(parts[i].w);
    page_out(parts[i].scales);
    page_out(parts[i].biases);
    page_out(parts[i].bias);
    lm_linear_free(&parts[i]);
    parts[i] = views[i];
  }
  *dst = f;
  return MX_OK;
}
