/* mlxc/quantized.h — MLX's quantized formats and GGUF block formats.
 *
 * MLX affine (mode "affine"): bits 2, 3, 4, 5, 6, 8; group size 32, 64, 128.
 * Along the last axis, each group of `group_size` values shares a scale and a
 * bias: w = scale * q + bias with q in [0, 2^bits). The q values are packed
 * LSB-first as one bit stream into uint32 words (3/5/6-bit values may
 * straddle words). scales/biases have the weight's float dtype, shape
 * (..., K / group_size).
 * mxfp4: E2M1 values, group 32, E8M0 uint8 scales, no biases.
 * nvfp4: E2M1 values, group 16, E4M3 uint8 scales, optional global scale.
 * mxfp8: E4M3 values, group 32, E8M0 uint8 scales.
 * GGUF blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K) keep llama.cpp's layout
 * as uint8 rows (see mx_gguf_tensor).
 */
#ifndef MLXC_QUANTIZED_H
#define MLXC_QUANTIZED_H

#include <stdbool.h>
#include <stdint.h>

#include "array.h"
#include "gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_quant_mode {
  MX_QUANT_AFFINE = 0,
  MX_QUANT_MXFP4 = 1,
  MX_QUANT_NVFP4 = 2,
  MX_QUANT_MXFP8 = 3
} mx_quant_mode;

/* Quantizes w along its last axis (size a multiple of group_size) into
 * out[0] = packed uint32 weights, out[1] = scales, out[2] = biases (affine
 * only; NULL otherwise). global_scale: NULL, or a float32 scalar (nvfp4). */
mx_status mx_quantize(mx_array w, int group_size, int bits, mx_quant_mode mode,
                      mx_array global_scale, mx_array out[3]);
/* Inverse of mx_quantize; dtype MX_DTYPE_COUNT means the scales' dtype (or
 * float32 for the fp modes). biases NULL except in affine mode. */
mx_array mx_dequantize(mx_array w, mx_array scales, mx_array biases, int group_size, int bits,
                       mx_quant_mode mode, mx_array global_scale, mx_dtype dtype);
/* x @ dequantize(w).T (transpose) or x @ dequantize(w), without
 * materializing the dequantized matrix. */
mx_array mx_quantized_matmul(mx_array x, mx_array w, mx_array scales, mx_array biases,
                             bool transpose, int group_size, int bits, mx_quant_mode mode);
/* Mixture-of-experts: per-row expert selection. w (E, N, K_packed) etc.;
 * lhs_indices / rhs_indices as MLX's gather_qmm (either may be NULL). */
mx_array mx_gather_qmm(mx_array x, mx_array w, mx_array scales, mx_array biases,
                       mx_array lhs_indices, mx_array rhs_indices, bool transpose, int group_size,
                       int bits, mx_quant_mode mode, bool sorted_indices);

/* GGUF block formats: `blocks` is the uint8 (rows, bytes per row) array of
 * mx_gguf_tensor; `cols` the logical row length. */
mx_array mx_gguf_dequantize(mx_array blocks, mx_ggml_type type, int64_t cols, mx_dtype dtype);
/* x (..., cols) @ W^T where W is the (rows, cols) GGUF-quantized matrix. */
mx_array mx_gguf_matmul(mx_array x, mx_array blocks, mx_ggml_type type, int64_t cols);

/* Quantizes w (float32/float16/bfloat16, last dim a positive multiple of
 * 32) into GGUF blocks, bit for bit as llama.cpp's reference quantizers:
 * *blocks = uint8 (rows, bytes per row), rows the product of the leading
 * dims, the layout mx_gguf_dequantize / mx_gguf_matmul read. Types: Q8_0,
 * Q4_0. Lazy: a NaN or infinite value fails at evaluation, naming the row. */
mx_status mx_gguf_quantize(mx_array w, mx_ggml_type type, mx_array *blocks);

#ifdef __cplusplus
}
#endif
#endif
