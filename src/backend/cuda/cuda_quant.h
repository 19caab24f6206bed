/* cuda_quant.h — launchers of the quantized-matmul kernels (quant.cu),
 * callable from C (cuda_quant_ops.c). Launchers enqueue on `stream` and
 * return a cudaError_t as int (0: success); CU_Q_UNSUPPORTED means "this
 * kernel does not cover the case" (nothing was enqueued). All matrices are
 * dense row-major unless a batch descriptor says otherwise. */
#ifndef MLXC_CUDA_QUANT_H
#define MLXC_CUDA_QUANT_H

#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CU_Q_UNSUPPORTED (-1)

/* Batch dims of a batched decode product: matrix number i (row-major over
 * shape[0..nb)) of each operand starts at sum(idx[d] * stride[op][d]).
 * Operands: 0 = x (elements), 1 = w (uint32 words), 2 = scales, 3 = biases
 * (elements). The output is dense: matrix i at i * M * N. */
typedef struct cu_qbatch {
  int nb;
  int64_t shape[MX_MAX_NDIM];
  int64_t stride[4][MX_MAX_NDIM];
} cu_qbatch;

/* Affine decode product y = x @ W^T: x (M x K, row pitch K, M <= 8), W (N x
 * K) packed `bits` per value LSB-first, scales/biases (N x K/gs) of dtype t
 * (= x's and y's). f32 accumulation. Any bits 2..8; 4/8-bit with 16-byte
 * aligned x/w take the vectorized kernel. weights_settled != 0 says no work
 * still queued writes w, scales or biases (buffer_device_settled): the
 * 4/8-bit kernels then start with programmatic dependent launch,
 * reading weights while the previous kernel finishes (MLXC_PDL=0: never). */
int cu_qmv(mx_dtype t, int bits, int gs, const void *x, const void *w, const void *scales,
           const void *biases, void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt,
           int64_t nbatch, int weights_settled, void *stream);

/* Warps per block of the decode kernels (1..8; 0: automatic, the
 * default, or MLXC_QMV_NW). For benchmarks. */
void cu_qmv_set_warps(int nw);

/* Decode kernel choice, for benchmarks and tests (0 = automatic each):
 * kernel 1 forces the FMA kernels, 2 the register-fed tensor-core ones
 * (f16/bf16 x,
 * affine 4/8 bits with group size 32/64/128, GGUF Q4_0/Q8_0; automatic
 * picks per shape what measured faster); ks = warps splitting K per
 * block (1..16), bpr = weight bytes per row per lane per step (32 or 64),
 * mt = 16-row tiles per warp (1 or 2); kernel 3 the TMA-fed tensor-core
 * kernel (qmv_tma.cu), which automatic also tries first. */
void cu_qmv_set_config(int kernel, int ks, int bpr, int mt);
/* Products the TMA-fed kernel has taken so far (tests check it ran). */
long cu_qmv_tma_count(void);

/* Launch the 4/8-bit decode kernels (affine FMA and tensor-core ones, GGUF
 * tensor-core) with programmatic
 * dependent launch (default off): each may start while the previous
 * kernel on the stream finishes, reading its weights early; x is read and
 * y written only after that kernel completed. Only valid while no kernel
 * writes the weights right before the product (static model weights). */
void cu_qmv_set_pdl(int on);

/* Benchmark helpers: an empty kernel (the launch floor) and a streaming
 * read of `bytes` bytes (16-byte aligned; scratch: >= 8 KiB of device memory
 * it may write to) — the read bandwidth a kernel of that size can reach. */
int cu_q_null_launch(void *stream);
int cu_q_read(const void *p, int64_t bytes, void *scratch, void *stream);

/* Affine dequantization of `n` values (n % 8 == 0; w, scales, biases dense
 * and flattened): out = round_st(round_st(q * s) + b) in the scales' dtype
 * st (MLX's graph), stored as ot. */
int cu_qdequant(mx_dtype st, mx_dtype ot, int bits, int gs, const void *w, const void *scales,
                const void *biases, void *out, int64_t n, void *stream);

/* GGUF blocks (Q4_0 = 2, Q8_0 = 8): y (M x N) = x (M x K) @ W^T with W rows
 * of `row_bytes` bytes, M <= 8. Needs K % 64 == 0 and 4-byte aligned rows
 * (else CU_Q_UNSUPPORTED). */
int cu_gguf_mv(mx_dtype t, int type, const void *x, const void *blocks, void *y, int64_t M,
               int64_t N, int64_t K, int64_t row_bytes, void *stream);
/* Rows [0, N) of K values each to out (N x K, dtype ot), as the CPU's
 * d * (q - 8) / d * q in f32, rounded once. */
int cu_gguf_dequant(int type, mx_dtype ot, const void *blocks, void *out, int64_t N, int64_t K,
                    int64_t row_bytes, void *stream);

#ifdef __cplusplus
}
#endif
#endif
