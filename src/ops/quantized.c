/* quantized.c — front ends of MLX's quantized formats: quantize,
 * dequantize, quantized_matmul, gather_qmm (argument checks, result shapes
 * and dtypes as mlx/ops.cpp; kernels in src/backend/cpu/quantize.c, qmm.c).
 *
 * Deviations kept deliberately small: group_size/bits must be a supported
 * pair for every op (MLX's dequantize/quantized_matmul accept odd values
 * that its kernels then reject or misread); float64 weights are rejected
 * up front (MLX's CPU kernel throws at eval); scales must have w's rank and
 * row count (MLX reads out of bounds otherwise). */
#include <string.h>

#include "../backend/cpu/quantized.h"
#include "mlxc/quantized.h"
#include "ops_common.h"

static const mx_primitive prim_quantize = {"quantize", cpu_quantize, NULL};
static const mx_primitive prim_dequantize = {"dequantize", cpu_dequantize, NULL};
static const mx_primitive prim_qmm = {"quantized_matmul", cpu_quantized_matmul, NULL};
static const mx_primitive prim_gather_qmm = {"gather_qmm", cpu_gather_qmm, NULL};

static const char *mode_name(mx_quant_mode m) {
  switch (m) {
  case MX_QUANT_AFFINE: return "affine";
  case MX_QUANT_MXFP4: return "mxfp4";
  case MX_QUANT_NVFP4: return "nvfp4";
  case MX_QUANT_MXFP8: return "mxfp8";
  }
  return "?";
}

static bool half_or_f32(mx_dtype t) {
  return t == MX_FLOAT16 || t == MX_BFLOAT16 || t == MX_FLOAT32;
}

/* group_size / bits of a mode (the fp modes fix both). */
static mx_status check_params(const char *op, mx_quant_mode mode, int gs, int bits) {
  if ((unsigned)mode > MX_QUANT_MXFP8)
    return set_error(MX_ERR_INVALID_ARG, "%s: unknown quantization mode %d", op, (int)mode);
  if (mode == MX_QUANT_AFFINE) {
    if (gs != 32 && gs != 64 && gs != 128)
      return set_error(MX_ERR_INVALID_ARG,
                       "%s: the requested group size %d is not supported. The supported group "
                       "sizes are 32, 64, and 128.",
                       op, gs);
    if (bits < 2 || bits > 8 || bits == 7)
      return set_error(MX_ERR_INVALID_ARG,
                       "%s: the requested number of bits %d is not supported. The supported "
                       "bits are 2, 3, 4, 5, 6 and 8.",
                       op, bits);
    return MX_OK;
  }
  int egs = mode == MX_QUANT_NVFP4 ? 16 : 32, ebits = mode == MX_QUANT_MXFP8 ? 8 : 4;
  if (gs != egs)
    return set_error(MX_ERR_INVALID_ARG, "%s: %s quantization requires group size %d but got %d",
                     op, mode_name(mode), egs, gs);
  if (bits != ebits)
    return set_error(MX_ERR_INVALID_ARG,
                     "%s: %s quantization requires bits to be %d but got %d", op,
                     mode_name(mode), ebits, bits);
  return MX_OK;
}

static mx_status check_global_scale(const char *op, mx_quant_mode mode, mx_array g) {
  if (!g) return MX_OK;
  if (mode != MX_QUANT_NVFP4)
    return set_error(MX_ERR_INVALID_ARG,
                     "%s: global scale is only supported for 'nvfp4' quantization mode", op);
  if (g->size != 1) {
    char s[SHAPE_STR_CAP];
    return set_error(MX_ERR_SHAPE, "%s: global scale must be a scalar but got shape %s", op,
                     fmt_shape(s, sizeof s, g->shape, g->ndim));
  }
  if (g->dtype != MX_FLOAT32)
    return set_error(MX_ERR_DTYPE, "%s: global scale must have dtype float32 but got %s", op,
                     mx_dtype_name(g->dtype));
  return MX_OK;
}

/* MLX's validate_mode_with_type: the scales' dtype rule per mode; *dtype
 * receives result_type(scales, biases) (affine) or MX_DTYPE_COUNT. */
static mx_status check_mode_types(const char *op, mx_quant_mode mode, mx_array scales,
                                  mx_array biases, mx_dtype *dtype) {
  *dtype = MX_DTYPE_COUNT;
  if (mode == MX_QUANT_AFFINE) {
    if (!biases)
      return set_error(MX_ERR_INVALID_ARG, "%s: biases must be provided for affine quantization",
                       op);
    mx_dtype t = mx_promote_types(scales->dtype, biases->dtype);
    if (!half_or_f32(t))
      return set_error(MX_ERR_DTYPE,
                       "%s: only real floating types are supported but scales.dtype == %s and "
                       "biases.dtype == %s",
                       op, mx_dtype_name(scales->dtype), mx_dtype_name(biases->dtype));
    *dtype = t;
    return MX_OK;
  }
  if (scales->dtype != MX_UINT8)
    return set_error(MX_ERR_DTYPE, "%s: scale type must be uint8 for mode '%s' but received %s",
                     op, mode_name(mode), mx_dtype_name(scales->dtype));
  if (biases)
    return set_error(MX_ERR_INVALID_ARG, "%s: biases must be NULL for quantization mode '%s'",
                     op, mode_name(mode));
  return MX_OK;
}

/* ------------------------------------------------------------ quantize */

mx_status mx_quantize(mx_array w, int group_size, int bits, mx_quant_mode mode,
                      mx_array global_scale, mx_array out[3]) {
  if (!out) return set_error(MX_ERR_INVALID_ARG, "quantize: out is NULL");
  out[0] = out[1] = out[2] = NULL;
  mx_array ins[2] = {w, global_scale};
  if (any_null("quantize", ins, 1)) return mx_last_error_code();
  mx_status st = check_params("quantize", mode, group_size, bits);
  if (st < 0) return st;
  if (!half_or_f32(w->dtype))
    return set_error(MX_ERR_DTYPE,
                     "quantize: only float16, bfloat16 and float32 can be quantized but w has "
                     "type %s",
                     mx_dtype_name(w->dtype));
  if (w->ndim < 2)
    return set_error(MX_ERR_SHAPE,
                     "quantize: the matrix to be quantized must have at least 2 dimensions but "
                     "it has only %d",
                     w->ndim);
  int64_t K = w->shape[w->ndim - 1];
  if (K % group_size != 0) {
    char s[SHAPE_STR_CAP];
    return set_error(MX_ERR_SHAPE,
                     "quantize: the last dimension of the matrix needs to be divisible by the "
                     "quantization group size %d; the matrix has shape %s",
                     group_size, fmt_shape(s, sizeof s, w->shape, w->ndim));
  }
  st = check_global_scale("quantize", mode, global_scale);
  if (st < 0) return st;
  int64_t shp[MX_MAX_NDIM];
  memcpy(shp, w->shape, (size_t)w->ndim * sizeof(int64_t));
  int nin = global_scale ? 2 : 1;
  quant_params p = {group_size, bits, mode, 0, global_scale != NULL, false, false};
  int nout = mode == MX_QUANT_AFFINE ? 3 : 2;
  for (int k = 0; k < nout; k++) {
    p.which = k;
    shp[w->ndim - 1] = k == 0 ? K * bits / 32 : K / group_size;
    mx_dtype t = k == 0 ? MX_UINT32 : (mode == MX_QUANT_AFFINE ? w->dtype : MX_UINT8);
    out[k] = node_new(&prim_quantize, t, shp, w->ndim, ins, nin, &p, sizeof p);
    if (!out[k]) {
      for (int j = 0; j < k; j++) {
        mx_array_free(out[j]);
        out[j] = NULL;
      }
      return mx_last_error_code();
    }
  }
  return MX_OK;
}

/* ------------------------------------------------------------ dequantize */

mx_array mx_dequantize(mx_array w, mx_array scales, mx_array biases, int group_size, int bits,
                       mx_quant_mode mode, mx_array global_scale, mx_dtype dtype) {
  mx_array ins[2] = {w, scales};
  if (any_null("dequantize", ins, 2)) return NULL;
  if (check_params("dequantize", mode, group_size, bits) < 0) return NULL;
  if (dtype != MX_DTYPE_COUNT && !half_or_f32(dtype)) {
    set_error(MX_ERR_DTYPE, "dequantize: only float16, bfloat16 and float32 outputs are "
                            "supported but dtype == %s",
              mx_dtype_is_valid(dtype) ? mx_dtype_name(dtype) : "invalid");
    return NULL;
  }
  mx_dtype st_t;
  if (check_mode_types("dequantize", mode, scales, biases, &st_t) < 0) return NULL;
  mx_dtype out_t = dtype != MX_DTYPE_COUNT ? dtype : (st_t != MX_DTYPE_COUNT ? st_t : MX_FLOAT32);
  if (w->dtype != MX_UINT32) {
    set_error(MX_ERR_DTYPE, "dequantize: the matrix should be given as a uint32 but got %s",
              mx_dtype_name(w->dtype));
    return NULL;
  }
  if (w->ndim < 2) {
    set_error(MX_ERR_SHAPE,
              "dequantize: the matrix to be dequantized must have at least 2 dimensions but it "
              "has only %d",
              w->ndim);
    return NULL;
  }
  if (check_global_scale("dequantize", mode, global_scale) < 0) return NULL;
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  bool same = scales->ndim == w->ndim && (!biases || biases->ndim == w->ndim);
  for (int d = 0; same && d < w->ndim - 1; d++)
    same = scales->shape[d] == w->shape[d] && (!biases || biases->shape[d] == w->shape[d]);
  if (same && biases) same = biases->shape[w->ndim - 1] == scales->shape[w->ndim - 1];
  int64_t words = w->shape[w->ndim - 1];
  int64_t out_size = words * 32 / bits;
  if (!same || out_size != scales->shape[scales->ndim - 1] * group_size) {
    set_error(MX_ERR_SHAPE,
              "dequantize: shape of scales%s %s does not match the matrix %s given "
              "group_size=%d and bits=%d",
              biases ? "/biases" : "", fmt_shape(s1, sizeof s1, scales->shape, scales->ndim),
              fmt_shape(s2, sizeof s2, w->shape, w->ndim), group_size, bits);
    return NULL;
  }
  quant_params p = {group_size, bits, mode, 0, global_scale != NULL, false, false};
  int64_t shp[MX_MAX_NDIM];
  memcpy(shp, w->shape, (size_t)w->ndim * sizeof(int64_t));
  shp[w->ndim - 1] = out_size;
  mx_array in[4] = {w, NULL, NULL, NULL};
  int nin = 2;
  if (mode == MX_QUANT_AFFINE) {
    in[1] = cast_to(scales, st_t);
    in[2] = cast_to(biases, st_t);
    nin = 3;
  } else {
    in[1] = mx_array_retain(scales);
  }
  if (global_scale) in[nin++] = mx_array_retain(global_scale);
  mx_array r = node_new(&prim_dequantize, out_t, shp, w->ndim, in, nin, &p, sizeof p);
  for (int k = 1; k < nin; k++) mx_array_free(in[k]);
  return r;
}

/* ------------------------------------------------------------ matmul checks */

/* MLX's validate_quantized_input + extract_quantized_matmul_dims. */
static mx_status check_qmm_dims(const char *op, mx_array x, mx_array w, mx_array scales,
                                mx_array biases, bool transpose, int gs, int bits, int64_t *N) {
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  if (w->dtype != MX_UINT32)
    return set_error(MX_ERR_DTYPE, "%s: the weight matrix should be uint32 but received %s", op,
                     mx_dtype_name(w->dtype));
  if (w->ndim < 2)
    return set_error(MX_ERR_SHAPE, "%s: the weight matrix must have at least 2 dimensions, got %s",
                     op, fmt_shape(s1, sizeof s1, w->shape, w->ndim));
  if (x->ndim < 1)
    return set_error(MX_ERR_SHAPE, "%s: x must have at least 1 dimension", op);
  if (biases && (biases->ndim != scales->ndim ||
                 memcmp(biases->shape, scales->shape, (size_t)scales->ndim * sizeof(int64_t))))
    return set_error(MX_ERR_SHAPE,
                     "%s: scales and biases should have the same shape; received scales with "
                     "shape %s and biases with %s",
                     op, fmt_shape(s1, sizeof s1, scales->shape, scales->ndim),
                     fmt_shape(s2, sizeof s2, biases->shape, biases->ndim));
  bool same = scales->ndim == w->ndim;
  for (int d = 0; same && d < w->ndim - 1; d++) same = scales->shape[d] == w->shape[d];
  if (!same)
    return set_error(MX_ERR_SHAPE,
                     "%s: weight and scales should have the same batch shape and rows; received "
                     "weight with shape %s, scales with %s",
                     op, fmt_shape(s1, sizeof s1, w->shape, w->ndim),
                     fmt_shape(s2, sizeof s2, scales->shape, scales->ndim));
  int64_t words = w->shape[w->ndim - 1];
  if (words * 32 / bits != scales->shape[scales->ndim - 1] * gs)
    return set_error(MX_ERR_SHAPE,
                     "%s: the shapes of the weight and scales are incompatible based on bits and "
                     "group_size: w.shape == %s and scales.shape == %s with group_size=%d and "
                     "bits=%d",
                     op, fmt_shape(s1, sizeof s1, w->shape, w->ndim),
                     fmt_shape(s2, sizeof s2, scales->shape, scales->ndim), gs, bits);
  int64_t inner = transpose ? words * 32 / bits : w->shape[w->ndim - 2];
  int64_t outer = transpose ? w->shape[w->ndim - 2] : words * 32 / bits;
  if (inner != x->shape[x->ndim - 1])
    return set_error(MX_ERR_SHAPE,
                     "%s: last dimension of first input with shape (..., %lld) does not match the "
                     "expanded quantized matrix (%lld, %lld) computed from shape %s with "
                     "group_size=%d, bits=%d and transpose=%s",
                     op, (long long)x->shape[x->ndim - 1], (long long)inner, (long long)outer,
                     fmt_shape(s1, sizeof s1, w->shape, w->ndim), gs, bits,
                     transpose ? "true" : "false");
  *N = outer;
  return MX_OK;
}

/* Output dtype: promote(x, scales/biases) (affine) or x's (fp modes). */
static mx_status qmm_out_dtype(const char *op, mx_quant_mode mode, mx_array x, mx_dtype st,
                               mx_dtype *out) {
  mx_dtype t = mode == MX_QUANT_AFFINE ? mx_promote_types(x->dtype, st) : x->dtype;
  if (!half_or_f32(t))
    return set_error(MX_ERR_DTYPE,
                     "%s: only float16, bfloat16 and float32 are supported but x.dtype == %s "
                     "(result %s)",
                     op, mx_dtype_name(x->dtype), mx_dtype_name(t));
  *out = t;
  return MX_OK;
}

static void free_all(mx_array *a, int n) {
  for (int i = 0; i < n; i++) mx_array_free(a[i]);
}

mx_array mx_quantized_matmul(mx_array x, mx_array w, mx_array scales, mx_array biases,
                             bool transpose, int group_size, int bits, mx_quant_mode mode) {
  mx_array ins[3] = {x, w, scales};
  if (any_null("quantized_matmul", ins, 3)) return NULL;
  if (check_params("quantized_matmul", mode, group_size, bits) < 0) return NULL;
  mx_dtype st = MX_DTYPE_COUNT, dt = MX_FLOAT32;
  int64_t N;
  if (check_mode_types("quantized_matmul", mode, scales, biases, &st) < 0 ||
      check_qmm_dims("quantized_matmul", x, w, scales, biases, transpose, group_size, bits, &N) <
          0 ||
      qmm_out_dtype("quantized_matmul", mode, x, st, &dt) < 0)
    return NULL;
  bool affine = mode == MX_QUANT_AFFINE;
  int nin = affine ? 4 : 3;
  mx_array in[4] = {cast_to(x, dt), mx_array_retain(w),
                    affine ? cast_to(scales, dt) : mx_array_retain(scales),
                    affine ? cast_to(biases, dt) : NULL};
  if (any_null("quantized_matmul", in, nin)) {
    free_all(in, nin);
    return NULL;
  }
  if (x->ndim > 2 && w->ndim > 2) {
    /* As MLX's broadcast_arrays(inputs, {-2, -1}): batch dims only. */
    int64_t bs[MX_MAX_NDIM];
    int nb = 0;
    for (int i = 0; i < nin; i++) {
      int64_t tmp[MX_MAX_NDIM];
      int nt;
      if (broadcast_shapes("quantized_matmul", bs, nb, in[i]->shape, in[i]->ndim - 2, tmp, &nt) <
          0) {
        free_all(in, nin);
        return NULL;
      }
      memcpy(bs, tmp, (size_t)nt * sizeof(int64_t));
      nb = nt;
    }
    for (int i = 0; i < nin; i++) {
      int64_t sh[MX_MAX_NDIM];
      memcpy(sh, bs, (size_t)nb * sizeof(int64_t));
      sh[nb] = in[i]->shape[in[i]->ndim - 2];
      sh[nb + 1] = in[i]->shape[in[i]->ndim - 1];
      mx_array b = mx_broadcast_to(in[i], sh, nb + 2);
      mx_array_free(in[i]);
      in[i] = b;
    }
    if (any_null("quantized_matmul", in, nin)) {
      free_all(in, nin);
      return NULL;
    }
  }
  int64_t shp[MX_MAX_NDIM];
  memcpy(shp, in[0]->shape, (size_t)in[0]->ndim * sizeof(int64_t));
  shp[in[0]->ndim - 1] = N;
  quant_params p = {group_size, bits, mode, 0, false, transpose, false};
  mx_array r = node_new(&prim_qmm, dt, shp, in[0]->ndim, in, nin, &p, sizeof p);
  free_all(in, nin);
  return r;
}

/* ------------------------------------------------------------ gather_qmm */

/* MLX's indices_or_default: the given indices as uint32, or arange over
 * a's batch dims. */
static mx_array indices_or_default(mx_array idx, mx_array a) {
  if (a->ndim < 2) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE,
              "gather_qmm: input must have at least two dimensions but got input with shape %s",
              fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  if (idx) {
    if (!mx_dtype_is_integer(idx->dtype)) {
      set_error(MX_ERR_DTYPE, "gather_qmm: indices must be integral but got %s",
                mx_dtype_name(idx->dtype));
      return NULL;
    }
    return mx_astype(idx, MX_UINT32);
  }
  int64_t total = shape_size(a->shape, a->ndim - 2);
  mx_array r = mx_arange(0, (double)total, 1, MX_UINT32);
  mx_array s = mx_reshape(r, a->shape, a->ndim - 2);
  mx_array_free(r);
  return s;
}

mx_array mx_gather_qmm(mx_array x, mx_array w, mx_array scales, mx_array biases,
                       mx_array lhs_indices, mx_array rhs_indices, bool transpose, int group_size,
                       int bits, mx_quant_mode mode, bool sorted_indices) {
  if (!lhs_indices && !rhs_indices)
    return mx_quantized_matmul(x, w, scales, biases, transpose, group_size, bits, mode);
  mx_array ins[3] = {x, w, scales};
  if (any_null("gather_qmm", ins, 3)) return NULL;
  if (check_params("gather_qmm", mode, group_size, bits) < 0) return NULL;
  mx_dtype st = MX_DTYPE_COUNT, dt = MX_FLOAT32;
  int64_t N;
  if (check_mode_types("gather_qmm", mode, scales, biases, &st) < 0 ||
      check_qmm_dims("gather_qmm", x, w, scales, biases, transpose, group_size, bits, &N) < 0 ||
      qmm_out_dtype("gather_qmm", mode, x, st, &dt) < 0)
    return NULL;
  mx_array li = indices_or_default(lhs_indices, x);
  mx_array ri = li ? indices_or_default(rhs_indices, w) : NULL;
  mx_array bi[2] = {NULL, NULL};
  if (!li || !ri || mx_broadcast_arrays((mx_array[2]){li, ri}, 2, bi) < 0) {
    mx_array_free(li);
    mx_array_free(ri);
    return NULL;
  }
  mx_array_free(li);
  mx_array_free(ri);
  if (bi[0]->ndim + 2 > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "gather_qmm: indices of rank %d leave no room for the output",
              bi[0]->ndim);
    free_all(bi, 2);
    return NULL;
  }
  int64_t shp[MX_MAX_NDIM];
  memcpy(shp, bi[0]->shape, (size_t)bi[0]->ndim * sizeof(int64_t));
  shp[bi[0]->ndim] = x->shape[x->ndim - 2];
  shp[bi[0]->ndim + 1] = N;
  bool affine = mode == MX_QUANT_AFFINE;
  mx_array in[6];
  int nin = 0;
  in[nin++] = cast_to(x, dt);
  in[nin++] = mx_array_retain(w);
  in[nin++] = affine ? cast_to(scales, dt) : mx_array_retain(scales);
  if (affine) in[nin++] = cast_to(biases, dt);
  in[nin++] = bi[0];
  in[nin++] = bi[1];
  quant_params p = {group_size, bits, mode, 0, false, transpose,
                    sorted_indices && !rhs_indices ? false : sorted_indices};
  mx_array r = NULL;
  if (!any_null("gather_qmm", in, nin))
    r = node_new(&prim_gather_qmm, dt, shp, bi[0]->ndim + 2, in, nin, &p, sizeof p);
  free_all(in, nin);
  return r;
}
