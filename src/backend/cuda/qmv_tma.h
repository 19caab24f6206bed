/* qmv_tma.h — the TMA-fed tensor-core decode GEMV (qmv_tma.cu) as quant.cu
 * calls it: MLX affine 4/8-bit, groups of 32/64/128, x in bf16 or f16,
 * M <= 8, no batch. Returns CU_Q_UNSUPPORTED (cuda_quant.h) for anything
 * else (shape, alignment, shared memory), so the caller falls back. pdl:
 * launch with programmatic dependent launch (weights settled). */
#ifndef MLXC_QMV_TMA_H
#define MLXC_QMV_TMA_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_quant.h"

template <typename T>
int qmv_tma_run(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
                void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
                cudaStream_t st, bool pdl);

#endif
