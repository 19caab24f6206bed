/* quantized.h — CPU kernels of MLX's quantized formats (quantize.c, qmm.c,
 * qmm_simd.c) and the scalar codecs they share.
 *
 * Front ends (src/ops/quantized.c) check shapes and dtypes; kernels see:
 * - quantize: in[0] = w (float, any strides), optional in[1] = global scale
 *   (f32 scalar, nvfp4). One node per output (`which`): packed uint32,
 *   scales, biases — each recomputes the cheap per-group statistics.
 * - dequantize: in = w (uint32), scales, [biases], [global scale].
 * - quantized_matmul: in = x (out dtype), w, scales, [biases]; batch dims
 *   already broadcast by the front end where MLX does.
 * - gather_qmm: in = x, w, scales, [biases], lhs (uint32), rhs (uint32),
 *   the two index arrays broadcast to one shape.
 */
#ifndef MLXC_CPU_QUANTIZED_H
#define MLXC_CPU_QUANTIZED_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"
#include "mlxc/quantized.h"

typedef struct quant_params {
  int group_size, bits;
  mx_quant_mode mode;
  int which;         /* quantize: 0 packed, 1 scales, 2 biases */
  bool has_gscale;   /* a global scale input follows (nvfp4) */
  bool transpose;    /* matmul: x @ W^T */
  bool sorted;       /* gather_qmm: rhs indices sorted (a hint only) */
} quant_params;

mx_status cpu_quantize(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_dequantize(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_quantized_matmul(mx_array out, mx_array const *in, int nin, const void *params);
mx_status cpu_gather_qmm(mx_array out, mx_array const *in, int nin, const void *params);

/* ---- scalar codecs (exact MLX bit behaviour) ---- */

/* E4M3 byte <-> float as MLX's ToFP8/FromFP8 (0x7f/0xff decode to +-480,
 * saturation to 448, NaN to 0x7e with the sign). */
float fp8_e4m3_decode(uint8_t b);
uint8_t fp8_e4m3_encode(float f);
extern const float quant_fp4_lut[16];

/* Rounds an f32 value to the precision of `t` (f16/bf16) and back; identity
 * for f32. MLX computes half-type elementwise ops as "f32, then round". */
float round_to_dtype(float v, mx_dtype t);

/* ---- one quantized matrix, as the matmul kernels see it ----
 * `rows` packed rows of `cols` logical values each (cols % group_size == 0);
 * row r's bytes start at w + r * row_bytes; its scales/biases at
 * r * (cols / group_size). Scales/biases have dtype sdtype (affine) or are
 * uint8 (fp modes). */
typedef struct qmat {
  const uint8_t *w;
  const void *scales, *biases;
  mx_dtype sdtype;
  int64_t rows, cols, row_bytes;
  int bits, group_size;
  mx_quant_mode mode;
} qmat;

/* Dequantizes row r of m into dst (cols floats), in f32 (no rounding to the
 * scale dtype: the matmul accumulates in f32). */
void qmat_dequant_row(const qmat *m, int64_t r, float *dst);

/* Y[rows_x x N] = X[rows_x x K] @ W^T where W = m (N rows of K values).
 * X, Y dense row-major (ldy = row pitch of Y). Picks the f32 decode kernel
 * (rows_x <= 8, affine) or the dequantized-panel + sgemm path. Returns
 * MX_OK or an OOM status (error set). */
mx_status qmm_nt(const float *X, int64_t rows_x, const qmat *m, float *Y, int64_t ldy);
/* Y[rows_x x N] = X[rows_x x K] @ W where W = m (K rows of N values). */
mx_status qmm_nn(const float *X, int64_t rows_x, const qmat *m, float *Y, int64_t ldy);

/* ---- the decode kernels (qmm_simd.c) ----
 * f32 activations against weights dequantized in registers (the codes go
 * straight from the packed words to f32 lanes; see qmm_simd.c). x is
 * stored per row in the kernel's slot order, each value pre-scaled by the
 * power of two that undoes its code's bit position in the lane. */
typedef struct qact {
  int64_t rows, K;
  int64_t Kp;   /* slots per row: K rounded up to whole chunks (qact_kpad) */
  float *xt;    /* rows x Kp */
  float *xsum;  /* rows x K/group_size: f32 group sums of x (bias term) */
} qact;

typedef enum qmm_isa { QMM_ISA_NONE = 0, QMM_ISA_AVX2 = 1, QMM_ISA_VNNI = 2 } qmm_isa;
/* The best decode kernel this CPU runs (MLXC_QMM_ISA=none|avx2|vnni caps
 * it, for tests and benchmarks; avx2 and vnni run the same AVX2 kernel). */
qmm_isa qmm_pick_isa(void);
/* Whether the decode kernels handle this matrix (affine, bits 2..8). */
bool qmm_decode_supported(const qmat *m);
/* Slots per activation row (qact.Kp) for m. */
int64_t qact_kpad(const qmat *m);
/* Fills a (xt, xsum allocated by the caller; rows, K, Kp set) from X[rows x K]. */
void qact_prepare(qact *a, const float *X, const qmat *m);
/* Y[r][n] for n in [n0, n1), all activation rows; scratch: QMM_SCRATCH(m)
 * floats. isa must not be QMM_ISA_NONE. */
#define QMM_SCRATCH(m) (4 * ((m)->cols / (m)->group_size + 8) + 64)
void qmm_decode_rows(const qact *a, const qmat *m, qmm_isa isa, float *Y, int64_t ldy, int64_t n0,
                     int64_t n1, float *scratch);

#endif
