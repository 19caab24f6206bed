/* quant_compare.h — shared by the GPU tests: random operands (all of
 * them), and for the quantized-matmul tests (test_cuda_quant,
 * test_cuda_qgemm) the per-row magnitude scale S and the worst error as a
 * fraction of the tolerance a * S + u * |ref|. Each evaluates on the CPU
 * device and leaves it the default. */
#ifndef MLXC_TEST_QUANT_COMPARE_H
#define MLXC_TEST_QUANT_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "mlxc/mlxc.h"

/* N(0, 1) values of the shape, rounded to t, evaluated. */
mx_array qc_randn(const int64_t *shape, int nd, mx_dtype t, uint64_t seed);
/* a as float32, evaluated. */
mx_array qc_as_f32(mx_array a);
/* S = |x| @ |W|^T (transpose) or |x| @ |W|, W dequantized to f32. */
mx_array qc_magnitude(mx_array x, mx_array wdeq, bool transpose);
/* Worst |g - r| / (a * S + u * |r|) over elements; 1e9 for a NaN, a
 * missing array or sizes that differ. */
double qc_worst(mx_array g, mx_array r, mx_array S, double a, double u);

#endif
