/* layers.c — Linear and Embedding over the three weight forms a model may
 * come in: dense (f32/f16/bf16), MLX-quantized (affine or fp modes, packed
 * uint32 + scales [+ biases]) and GGUF blocks. A tied output head is the
 * embedding's weight used as a linear layer (mlx's Embedding.as_linear). */
#include <stdio.h>
#include <string.h>

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
