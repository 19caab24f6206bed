/* cuda_index.h — launchers of the index family's CUDA kernels (index.cu:
 * data movement; misc.cu: where, extra elementwise ops, creation, random),
 * callable from cuda_index_ops.c. Each enqueues on `stream` and returns a
 * cudaError_t as int (0: success). Pointers are element pointers (offset
 * already applied); strides and shapes are in elements. */
#ifndef MLXC_CUDA_INDEX_H
#define MLXC_CUDA_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dst[c] = src[c] over `shape` (any strides, negative and 0 included) for
 * elements of esz bytes (1, 2, 4, 8); dims are merged and runs vectorized
 * to 16 bytes where the layout allows. */
int cu_ix_copy(size_t esz, void *dst, const int64_t *dst_strides, const void *src,
               const int64_t *src_strides, const int64_t *shape, int ndim, void *stream);

/* Index arrays a gather reads: the value at (element pointer + sum of out
 * coordinate * strides), wrapped once when negative (signed dtypes), times
 * `mul` elements of the source. */
#define CU_IX_MAX_IDX 4
typedef struct cu_ix_index {
  const void *ptr;
  mx_dtype dtype;
  int64_t dim, mul;
  int64_t lim; /* valid indices (negatives wrapped by dim) are [0, lim) */
  int64_t strides[MX_MAX_NDIM]; /* over the output dims; 0 where unused */
} cu_ix_index;

/* A dense row-major output of `shape`; the source element of output
 * coordinate c is src + sum c[d] * src_strides[d] + the index terms. Indices
 * must have been range-checked. */
typedef struct cu_ix_gather {
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  int64_t src_strides[MX_MAX_NDIM];
  int nidx;
  cu_ix_index idx[CU_IX_MAX_IDX];
} cu_ix_gather;

/* Index range errors found on the GPU. Indices that live only on the
 * device are not checked on the host (that would wait for the stream);
 * the kernels clamp an out-of-range index into [0, lim) and raise a flag
 * in mapped host memory, which the backend reads after its next
 * synchronization (cuda_backend.c). init: once, at probe; 0 on success. */
int cu_ix_error_init(void);
/* Whether an index error was flagged since the last call (clears it). */
int cu_ix_error_take(void);

int cu_ix_gather_run(size_t esz, void *out, const void *src, const cu_ix_gather *g, void *stream);

/* A scatter over the element space `shape` (the updates'): element c goes
 * to out + sum c[d] * dst_strides[d] + the index terms, from src + sum c[d]
 * * src_strides[d]. Where several elements hit one output element, mode 0
 * (plain) keeps the one with the largest key = sum c[d] * key_strides[d]
 * (the last in the CPU's sequential order), using `winner` (device
 * scratch, one uint64 per output element, zeroed here); modes 1-4 (add,
 * prod, max, min) fold atomically, for 4- and 8-byte integers only
 * (integer folds do not depend on order). `dt` is the element dtype. */
typedef struct cu_ix_scatter {
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  int64_t dst_strides[MX_MAX_NDIM], src_strides[MX_MAX_NDIM], key_strides[MX_MAX_NDIM];
  int nidx;
  cu_ix_index idx[CU_IX_MAX_IDX];
} cu_ix_scatter;
int cu_ix_scatter_run(int mode, mx_dtype dt, void *out, int64_t out_size, const void *src,
                      const cu_ix_scatter *g, void *winner, void *stream);
int cu_ix_scatter_ok(int mode, mx_dtype dt);

/* pad: out (row-major, shape/ndim) from x (strides xs, shape xshape) placed
 * at `low`; constant mode reads the fill value at `val`, edge mode clamps. */
int cu_ix_pad(size_t esz, void *out, const int64_t *shape, int ndim, const void *x,
              const int64_t *xshape, const int64_t *xs, const int64_t *low, int edge,
              const void *val, void *stream);
/* roll: out[c] = x[(c - shift) mod n] on every axis; shifts in [0, n). */
int cu_ix_roll(size_t esz, void *out, const int64_t *shape, int ndim, const void *x,
               const int64_t *xs, const int64_t *shift, void *stream);

/* ---- misc.cu ---- */

/* Up to four strided operands over one output shape (operand 0: the
 * output, row-major). */
typedef struct cu_ix_layout {
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  int64_t strides[4][MX_MAX_NDIM];
} cu_ix_layout;

/* where: out = c ? x : y, by element size (bit copies). */
int cu_ix_where(size_t esz, void *out, const void *c, const void *x, const void *y,
                const cu_ix_layout *L, int64_t n, void *stream);

typedef enum cu_ix_unary_op {
  CUX_FLOOR, CUX_CEIL, CUX_ROUND, CUX_SIGN, CUX_LOGICAL_NOT, CUX_BITWISE_INVERT, CUX_ISNAN,
  CUX_ISINF, CUX_ISFINITE, CUX_ISPOSINF, CUX_ISNEGINF, CUX_NAN_TO_NUM
} cu_ix_unary_op;
/* it: input dtype, ot: output dtype (bool for predicates); nan_to_num reads
 * the three replacement values from `vals` (already in the dtype range). */
int cu_ix_unary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a,
                const cu_ix_layout *L, int64_t n, const double *vals, void *stream);
int cu_ix_unary_ok(int op, mx_dtype t);

typedef enum cu_ix_binary_op {
  CUX_FLOOR_DIVIDE, CUX_REMAINDER, CUX_LOGADDEXP, CUX_LOGICAL_AND, CUX_LOGICAL_OR,
  CUX_BITWISE_AND, CUX_BITWISE_OR, CUX_BITWISE_XOR, CUX_LEFT_SHIFT, CUX_RIGHT_SHIFT,
  CUX_ARCTAN2
} cu_ix_binary_op;
int cu_ix_binary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a, const void *b,
                 const cu_ix_layout *L, int64_t n, void *stream);
int cu_ix_binary_ok(int op, mx_dtype t);

/* Fills n elements of esz bytes with the pattern at host `value`. */
int cu_ix_fill(size_t esz, void *out, const void *value, int64_t n, void *stream);
/* Fills from a device value (esz bytes at dvalue). */
int cu_ix_fill_dev(size_t esz, void *out, const void *dvalue, int64_t n, void *stream);
/* out[i] = start + i * step: integers wrap (start/step as bit patterns);
 * floats computed in double and rounded once (the caller checks that this
 * equals the CPU's serial accumulation). complex64: imaginary part 0. */
int cu_ix_arange(mx_dtype t, void *out, int64_t n, uint64_t istart, uint64_t istep, double start,
                 double step, void *stream);
/* linspace for n >= 2 (f32, f16, bf16, f64 outputs), as the CPU kernel. */
int cu_ix_linspace(mx_dtype t, void *out, int64_t n, double start, double stop, void *stream);
/* eye / tri / tril / triu on a row-major out of rows x m elements, row r
 * being row r % rows_per_mat of its matrix; kept: j == i + k (eye), j <= i
 * + k (tri, tril), j >= i + k (triu). eye/tri write `one` (esz bytes, host)
 * where kept and zero elsewhere; tril/triu zero what is not kept and leave
 * the rest (out already holds the input). mode: 0 eye, 1 tri, 2 tril,
 * 3 triu. */
int cu_ix_tri(int mode, size_t esz, void *out, int64_t rows, int64_t m, int64_t rows_per_mat,
              int64_t k, const void *one, void *stream);

/* random: MLX's threefry word stream of key (device pointer, 2 uint32
 * words at key[0] and key[kstride]) for an output of n elements. */
typedef struct cu_ix_rand {
  int kind; /* rand_kind (cpu/random.h) */
  mx_dtype dtype;
  int has_loc, has_scale;
  float lo, range, upper, scale, loc, lower_t, upper_t;
  int64_t ilow, ihigh1;
  const float *p; /* bernoulli probabilities (float32) over the output shape */
  int pndim;
  int64_t pshape[MX_MAX_NDIM], pstrides[MX_MAX_NDIM];
} cu_ix_rand;
int cu_ix_random(const cu_ix_rand *r, void *out, int64_t nelem, size_t esz, const uint32_t *key,
                 int64_t kstride, void *stream);

#ifdef __cplusplus
}
#endif
#endif
