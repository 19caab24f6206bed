/* cpu.h — helpers shared by the CPU kernels: dtype conversion, strided
 * iteration, scalar element access. Kernels live one op family per file. */
#ifndef MLXC_CPU_H
#define MLXC_CPU_H

#include <complex.h>
#include <stdint.h>

#include "../../core/core.h"
#include "../../core/half.h"

typedef float _Complex c64_t;

/* A complex from real and imaginary parts, exact for inf and NaN parts
 * (x + I*y is not). glibc only defines CMPLXF for compilers that have
 * __builtin_complex, which older clang lacks. */
static inline c64_t c64_make(float re, float im) {
  union {
    c64_t c;
    float f[2];
  } u;
  u.f[0] = re;
  u.f[1] = im;
  return u.c;
}

/* Copies n elements from src (element stride `sstride`, dtype st) to a dense
 * run at dst (dtype dt), converting as MLX's astype: to bool is `!= 0`,
 * complex to real keeps the real part, float to int truncates. */
void convert_run(const void *src, int64_t sstride, mx_dtype st, void *dst, mx_dtype dt,
                 int64_t n);

/* Copies a strided N-d array (shape, element strides, element pointer src)
 * into row-major dst, converting dtypes. Splits work across the pool. */
void copy_to_row_major(const void *src, mx_dtype st, const int64_t *shape,
                       const int64_t *strides, int ndim, void *dst, mx_dtype dt);

/* Same, for an evaluated array (uses its offset and strides). */
void array_copy_to_row_major(mx_array a, void *dst, mx_dtype dt);

/* Scalar access by dtype, for generic (not hot) paths. */
double load_f64(const void *base, mx_dtype t, int64_t i);
int64_t load_i64(const void *base, mx_dtype t, int64_t i); /* u64 as bits */
void store_f64(void *base, mx_dtype t, int64_t i, double v);
void store_i64(void *base, mx_dtype t, int64_t i, int64_t v);

/* ---- strided iteration over a broadcast N-d index space ----
 * Dimensions are collapsed where every operand is contiguous across them, so
 * the innermost run is as long as possible. Usage:
 *   nd_iter it; nd_iter_init(&it, shape, ndim, strides_of_each, nops);
 *   for (int64_t r = 0; r < it.outer; r++) {
 *     nd_iter_offsets(&it, r, off);          // element offsets per operand
 *     kernel(inner = it.inner, inner strides = it.inner_stride[k]);
 *   }
 */
#define ND_MAX_OPS 4
typedef struct nd_iter {
  int ndim; /* collapsed, excluding the inner dim */
  int nops;
  int64_t shape[MX_MAX_NDIM];
  int64_t strides[ND_MAX_OPS][MX_MAX_NDIM];
  int64_t inner;
  int64_t inner_stride[ND_MAX_OPS];
  int64_t outer; /* number of inner runs */
} nd_iter;
void nd_iter_init(nd_iter *it, const int64_t *shape, int ndim,
                  const int64_t *const *strides, int nops);
/* Offsets (in elements) of run number r for each operand. */
void nd_iter_offsets(const nd_iter *it, int64_t r, int64_t *off);

/* Strides of `a` broadcast to `shape` (out_ndim >= a->ndim): 0 on broadcast
 * dims. `a` must be evaluated. */
void broadcast_strides(mx_array a, const int64_t *shape, int out_ndim, int64_t *strides);

#endif
