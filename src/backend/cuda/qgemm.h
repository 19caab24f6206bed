/* qgemm.h — the fused dequantize + tensor-core GEMM for quantized prefill
 * (qgemm.cu), callable from C (cuda_quant_ops.c, tests, benchmarks).
 *
 * y (M x N, dtype t) = x (M x K, dtype t, row pitch K) @ W^T, W (N x K) in
 * MLX's affine format: `bits` per value packed LSB-first into uint32 words,
 * rows of K * bits / 8 bytes, scales and biases (N x K/gs, dtype t).
 * f32 accumulation, y rounded once. Each weight is dequantized once per
 * block in shared memory as round_t(s * q + b) (one rounding) and fed to
 * mma.sync; W is read from HBM once per column of blocks. */
#ifndef MLXC_CUDA_QGEMM_H
#define MLXC_CUDA_QGEMM_H

#include <stdint.h>

#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Enqueue the product on `stream`: 0 on success, a cudaError_t as int, or
 * CU_Q_UNSUPPORTED (cuda_quant.h, -1: nothing enqueued) when the routing
 * below sends it elsewhere, or unless t is
 * f16/bf16, bits 4 or 8, gs 32/64/128, K a positive multiple of gs, M, N
 * positive and at most INT_MAX, x and w 16-byte aligned, scales and
 * biases 2-byte aligned. */
int cu_qgemm(mx_dtype t, int bits, int gs, const void *x, const void *w, const void *scales,
             const void *biases, void *y, int64_t M, int64_t N, int64_t K, void *stream);

/* Routing and tile configuration (benchmarks, tests):
 *  0  automatic (default): only products where the kernel measured faster
 *     than dequantize + cuBLAS on an H200 (M <= 128 and N >= 16384, see
 *     qgemm.cu) run here; others answer CU_Q_UNSUPPORTED. The environment
 *     variable MLXC_QGEMM=1 turns this into CU_QGEMM_ALWAYS, =0 into -1;
 *  CU_QGEMM_ALWAYS  every supported product, tile chosen automatically;
 *  1..CU_QGEMM_CONFIGS  every supported product with that tile;
 *  -1 never (the dequantize + cuBLAS path runs). */
#define CU_QGEMM_CONFIGS 6
#define CU_QGEMM_ALWAYS (-2)
void cu_qgemm_set_config(int cfg);
/* Configurations 1-4 use mma.sync, 5-6 wgmma where the library was built
 * for sm_90a (elsewhere they run the mma.sync code with their tile). */
int cu_qgemm_have_wgmma(void);
/* "BMxBN sS" of configuration cfg (1..CU_QGEMM_CONFIGS), for printing. */
const char *cu_qgemm_config_name(int cfg);
/* The configuration automatic choice picks for a shape. */
int cu_qgemm_auto_config(int64_t M, int64_t N, int64_t K);

/* Products launched by cu_qgemm since the program started (any thread):
 * tests check that a quantized_matmul took this path. */
int64_t cu_qgemm_count(void);

#ifdef __cplusplus
}
#endif
#endif
