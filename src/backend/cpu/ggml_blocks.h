/* ggml_blocks.h — GGUF block-quantized weights (llama.cpp's Q4_0, Q4_1, Q8_0,
 * Q4_K, Q5_K, Q6_K layouts): dequantization and W^T products.
 *
 * A weight matrix is `rows` rows of `cols` logical values; each row is a run
 * of blocks (32 values for Q4_0/Q4_1/Q8_0, 256 for the K formats) stored as
 * uint8, the layout mx_gguf_tensor returns. All scales are little-endian f16.
 *
 * Products with few activation rows (decode) quantize the activations to
 * int8 blocks of 32 with one f32 scale each and use integer dot products, so
 * the result differs from dequantize-then-matmul by the activation rounding
 * only (|error| <= sum over blocks of amax(x block) / 254 * sum |w|). */
#ifndef MLXC_CPU_GGML_BLOCKS_H
#define MLXC_CPU_GGML_BLOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "mlxc/gguf.h"

typedef struct ggml_format {
  mx_ggml_type type;
  int block;   /* values per block */
  int bytes;   /* bytes per block */
  const char *name;
} ggml_format;

/* The format of a supported block type, NULL otherwise. */
const ggml_format *ggml_format_of(mx_ggml_type t);

/* Scalar reference: nblocks consecutive blocks -> f32 values. */
void ggml_dequant_blocks_ref(mx_ggml_type t, const uint8_t *src, float *dst, int64_t nblocks);
/* The fastest available path (AVX2 when the CPU has it): bit-identical to
 * the reference. gguf_matmul's prefill uses the reference instead while
 * ggml_force_isa(GGML_ISA_SCALAR) is in effect. */
void ggml_dequant_blocks(mx_ggml_type t, const uint8_t *src, float *dst, int64_t nblocks);

typedef struct ggml_params {
  mx_ggml_type type;
  int64_t cols;
} ggml_params;

/* in[0]: uint8 (rows, bytes per row) -> out (rows, cols), f32/f16/bf16. */
mx_status cpu_gguf_dequantize(mx_array out, mx_array const *in, int nin, const void *params);
/* in[0]: x (..., cols) float; in[1]: blocks -> out (..., rows), x's dtype. */
mx_status cpu_gguf_matmul(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- the integer decode path (exposed for tests and benchmarks) ---- */

/* Activations of M rows quantized to int8 blocks of 32: for row m and block
 * b (nb = K/32 per row), values q[m*K + 32b ..] in [-127, 127] with scale
 * d[m*nb + b]; for the formats whose weights carry an offset, s32[m*nb + b]
 * is d times the sum of the block's 32 values and s16[m*2nb + g] the same
 * over group g of 16. */
typedef struct ggml_xq {
  int M;
  int64_t K;
  int8_t *q;
  float *d;
  float *s32;
  float *s16;
} ggml_xq;

/* Quantizes x (M rows of K floats, K a multiple of 32, row stride K) into
 * xq, whose arrays the caller allocated (M*K int8, M*K/32 floats for d and
 * s32, M*K/16 for s16). A block holding NaN or inf gets a NaN scale, so the
 * outputs it touches are NaN. */
void ggml_quantize_x(const float *x, int M, int64_t K, ggml_xq *xq);

typedef enum ggml_isa {
  GGML_ISA_SCALAR = 0,
  GGML_ISA_AVX2 = 1,       /* AVX2 + FMA + F16C: maddubs/madd */
  GGML_ISA_AVX512VNNI = 2, /* AVX-512 VL/BW + VNNI: vpdpbusd */
  GGML_ISA_AUTO = 3
} ggml_isa;

/* The best path this CPU supports. */
ggml_isa ggml_isa_best(void);
/* Forces a path for later products (GGML_ISA_AUTO: the best); a path the
 * CPU lacks falls back to the best available. For tests and benchmarks. */
void ggml_force_isa(ggml_isa isa);

/* y[m * ystride + r] = dot(row r of W, x row m) for r in [r0, r1), M <= 8,
 * using `isa` (clamped to what the CPU has). W rows are `row_bytes` apart. */
void ggml_dot_rows(ggml_isa isa, mx_ggml_type t, const uint8_t *w, int64_t row_bytes,
                   int64_t r0, int64_t r1, const ggml_xq *xq, float *y, int64_t ystride);

#endif
