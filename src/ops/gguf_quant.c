/* gguf_quant.c — front ends for GGUF block-quantized weights:
 * mx_gguf_dequantize and mx_gguf_matmul (kernels in
 * src/backend/cpu/ggml_blocks.c and ggml_matmul.c).
 *
 * Blocks are the uint8 (rows, bytes per row) arrays of mx_gguf_tensor; the
 * byte count of a row must be exactly what `cols` values take in `type`,
 * which is what makes it safe for the kernels to read whole blocks. */
#include <limits.h>

#include "../backend/cpu/ggml_blocks.h"
#include "mlxc/quantized.h"
#include "ops_common.h"

static const mx_primitive prim_gguf_dequantize = {"gguf_dequantize", cpu_gguf_dequantize, NULL};
static const mx_primitive prim_gguf_matmul = {"gguf_matmul", cpu_gguf_matmul, NULL};

/* Checks type, blocks and cols; returns the format or NULL (error set). */
static const ggml_format *check_blocks(const char *op, mx_array blocks, mx_ggml_type type,
                                       int64_t cols) {
  const ggml_format *f = ggml_format_of(type);
  if (!f) {
    if (mx_ggml_type_block(type, NULL, NULL))
      set_error(MX_ERR_UNSUPPORTED,
                "%s: block type %s is not supported (supported: q4_0, q4_1, q8_0, q4_K, q5_K, "
                "q6_K)",
                op, mx_ggml_type_name(type));
    else
      set_error(MX_ERR_INVALID_ARG, "%s: unknown ggml type %d", op, (int)type);
    return NULL;
  }
  char s[SHAPE_STR_CAP];
  if (blocks->dtype != MX_UINT8) {
    set_error(MX_ERR_DTYPE, "%s: blocks must be uint8 (rows, bytes per row), got %s", op,
              mx_dtype_name(blocks->dtype));
    return NULL;
  }
  if (blocks->ndim != 2) {
    set_error(MX_ERR_SHAPE, "%s: blocks must be 2-D (rows, bytes per row), got shape %s", op,
              fmt_shape(s, sizeof s, blocks->shape, blocks->ndim));
    return NULL;
  }
  if (cols < 0 || cols % f->block != 0) {
    set_error(MX_ERR_INVALID_ARG, "%s: cols %lld is not a non-negative multiple of the %s block "
              "size %d", op, (long long)cols, f->name, f->block);
    return NULL;
  }
  if (cols / f->block != blocks->shape[1] / f->bytes || blocks->shape[1] % f->bytes != 0) {
    set_error(MX_ERR_SHAPE,
              "%s: %s rows of %lld values take %lld bytes, but blocks has shape %s", op,
              f->name, (long long)cols, (long long)(cols / f->block * f->bytes),
              fmt_shape(s, sizeof s, blocks->shape, blocks->ndim));
    return NULL;
  }
  return f;
}

mx_array mx_gguf_dequantize(mx_array blocks, mx_ggml_type type, int64_t cols, mx_dtype dtype) {
  const char *op = "gguf_dequantize";
  CHECK_INPUT(op, blocks);
  if (!check_blocks(op, blocks, type, cols)) return NULL;
  if (dtype == MX_DTYPE_COUNT) dtype = MX_FLOAT32;
  if (dtype != MX_FLOAT32 && dtype != MX_FLOAT16 && dtype != MX_BFLOAT16) {
    set_error(MX_ERR_DTYPE, "%s: output dtype must be float32, float16 or bfloat16, got %s", op,
              mx_dtype_is_valid(dtype) ? mx_dtype_name(dtype) : "an invalid dtype");
    return NULL;
  }
  ggml_params p = {type, cols};
  int64_t shape[2] = {blocks->shape[0], cols};
  return node_new(&prim_gguf_dequantize, dtype, shape, 2, &blocks, 1, &p, sizeof p);
}

mx_array mx_gguf_matmul(mx_array x, mx_array blocks, mx_ggml_type type, int64_t cols) {
  const char *op = "gguf_matmul";
  CHECK_INPUT(op, x);
  CHECK_INPUT(op, blocks);
  if (!check_blocks(op, blocks, type, cols)) return NULL;
  char s[SHAPE_STR_CAP];
  if (x->dtype != MX_FLOAT32 && x->dtype != MX_FLOAT16 && x->dtype != MX_BFLOAT16) {
    set_error(MX_ERR_DTYPE, "%s: x must be float32, float16 or bfloat16, got %s", op,
              mx_dtype_name(x->dtype));
    return NULL;
  }
  if (x->ndim < 1 || x->shape[x->ndim - 1] != cols) {
    set_error(MX_ERR_SHAPE, "%s: x of shape %s does not end in the weight's %lld columns", op,
              fmt_shape(s, sizeof s, x->shape, x->ndim), (long long)cols);
    return NULL;
  }
  int64_t rows = blocks->shape[0], M = cols ? x->size / cols : 0;
  /* The prefill path hands sizes and leading dimensions to 32-bit BLAS. */
  if (cols > INT_MAX || rows > INT_MAX || M > INT_MAX) {
    set_error(MX_ERR_UNSUPPORTED, "%s: sizes above 2^31-1 are not supported (x %s, %lld rows)",
              op, fmt_shape(s, sizeof s, x->shape, x->ndim), (long long)rows);
    return NULL;
  }
  int64_t shape[MX_MAX_NDIM];
  for (int d = 0; d < x->ndim - 1; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = rows;
  ggml_params p = {type, cols};
  mx_array in[2] = {x, blocks};
  return node_new(&prim_gguf_matmul, x->dtype, shape, x->ndim, in, 2, &p, sizeof p);
}
