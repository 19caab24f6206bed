// index.cu — data-movement kernels of the index family: strided block
// copies (slice_update, concatenate, copies of donated-or-not inputs),
// gathers through index arrays (take, gather, take_along_axis), pad and
// roll. They move bits only, so one kernel per element size serves every
// dtype. Work is laid out as rows x an inner run: the run needs no integer
// division and is vectorized to 16-byte units where the layout allows; a
// row's offsets are decoded once per row.
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "cuda_index.h"

#define IX_BY_SIZE_EARLY(esz, MACRO)              \
  switch (esz) {                                  \
    case 1: MACRO(uint8_t); break;                \
    case 2: MACRO(uint16_t); break;               \
    case 4: MACRO(uint32_t); break;               \
    case 8: MACRO(uint2); break;                  \
    default: return (int)cudaErrorInvalidValue;   \
  }

namespace {

const int kMaxDims = MX_MAX_NDIM;

struct RowDesc {
  int nrd;                    // row dims
  int64_t rshape[kMaxDims];   // their sizes
  int64_t rs[2][kMaxDims];    // strides of operand 0 (dst) and 1 (src)
  int64_t rows, inner;        // row count, run length
  int64_t is[2];              // run strides
};

// Row r's offsets in operands 0 and 1. Shapes fit 32 bits in practice, so
// the division runs in 32 bits when it can (warp-uniform branch).
__device__ __forceinline__ void row_offsets(const RowDesc &d, int64_t r, int64_t *o0,
                                            int64_t *o1) {
  int64_t a = 0, b = 0;
  if (r < 0xffffffffLL) {
    uint32_t q = (uint32_t)r;
    for (int k = d.nrd - 1; k >= 0; k--) {
      uint32_t n = (uint32_t)d.rshape[k];
      uint32_t c = q % n;
      q /= n;
      a += (int64_t)c * d.rs[0][k];
      b += (int64_t)c * d.rs[1][k];
    }
  } else {
    for (int k = d.nrd - 1; k >= 0; k--) {
      int64_t n = d.rshape[k];
      int64_t c = r % n;
      r /= n;
      a += c * d.rs[0][k];
      b += c * d.rs[1][k];
    }
  }
  *o0 = a;
  *o1 = b;
}

template <typename U>
__global__ void copy_kernel(U *__restrict__ dst, const U *__restrict__ src, RowDesc d) {
  for (int64_t r = blockIdx.y * (int64_t)blockDim.y + threadIdx.y; r < d.rows;
       r += (int64_t)gridDim.y * blockDim.y) {
    int64_t od, os;
    row_offsets(d, r, &od, &os);
    U *dp = dst + od;
    const U *sp = src + os;
    int64_t ds = d.is[0], ss = d.is[1];
    if (ds == 1 && ss == 1) {
      // Four loads in flight before their stores.
      int64_t st = (int64_t)gridDim.x * blockDim.x;
      int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
      for (; c + 3 * st < d.inner; c += 4 * st) {
        U a0 = sp[c], a1 = sp[c + st], a2 = sp[c + 2 * st], a3 = sp[c + 3 * st];
        dp[c] = a0;
        dp[c + st] = a1;
        dp[c + 2 * st] = a2;
        dp[c + 3 * st] = a3;
      }
      for (; c < d.inner; c += st) dp[c] = sp[c];
    } else {
      for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < d.inner;
           c += (int64_t)gridDim.x * blockDim.x)
        dp[c * ds] = sp[c * ss];
    }
  }
}

// 2-D launch shape for rows x inner: threads along the run first (a
// power of two up to 256, so short runs do not idle a warp), rows in y.
void launch_shape(int64_t rows, int64_t inner, dim3 *grid, dim3 *block) {
  int tx = 1;
  while (tx < inner && tx < 256) tx <<= 1;
  int ty = 256 / tx;
  // Each thread takes about four units of a run (more loads in flight).
  int64_t bx = (inner + 4 * (int64_t)tx - 1) / (4 * (int64_t)tx);
  if (bx > 4096) bx = 4096;
  int64_t by = (rows + ty - 1) / ty;
  // About 16 blocks per SM (132 on an H100) in all; the loops stride over
  // the rest, so blocks live long enough to keep loads in flight.
  int64_t max_by = 2112 / bx;
  if (max_by < 1) max_by = 1;
  if (by > max_by) by = max_by;
  if (by < 1) by = 1;
  if (bx < 1) bx = 1;
  *grid = dim3((unsigned)bx, (unsigned)by, 1);
  *block = dim3((unsigned)tx, (unsigned)ty, 1);
}

// Drops size-1 dims and merges dims that are contiguous in every operand.
int collapse(int ndim, const int64_t *shape, const int64_t *const *strides, int nops,
             int64_t *cshape, int64_t (*cstr)[kMaxDims]) {
  int m = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (m > 0) {
      bool merge = true;
      for (int k = 0; k < nops; k++)
        if (cstr[k][m - 1] != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        cshape[m - 1] *= shape[d];
        for (int k = 0; k < nops; k++) cstr[k][m - 1] = strides[k][d];
        continue;
      }
    }
    cshape[m] = shape[d];
    for (int k = 0; k < nops; k++) cstr[k][m] = strides[k][d];
    m++;
  }
  return m;
}

template <typename U>
int launch_copy(void *dst, const void *src, const RowDesc &d, cudaStream_t s) {
  dim3 g, b;
  launch_shape(d.rows, d.inner, &g, &b);
  copy_kernel<U><<<g, b, 0, s>>>((U *)dst, (const U *)src, d);
  return (int)cudaGetLastError();
}

int copy_by_unit(size_t unit, void *dst, const void *src, const RowDesc &d, cudaStream_t s) {
  switch (unit) {
    case 1: return launch_copy<uint8_t>(dst, src, d, s);
    case 2: return launch_copy<uint16_t>(dst, src, d, s);
    case 4: return launch_copy<uint32_t>(dst, src, d, s);
    case 8: return launch_copy<uint2>(dst, src, d, s);
    case 16: return launch_copy<uint4>(dst, src, d, s);
  }
  return (int)cudaErrorInvalidValue;
}

// The widest unit (esz * v, up to 16 bytes) such that the run is dense in
// both operands, splits evenly, and every row start stays aligned.
int64_t vector_factor(size_t esz, int64_t inner, const int64_t *is, int nrd,
                      const int64_t (*rs)[kMaxDims], const void *const *ptrs, int nops) {
  for (int k = 0; k < nops; k++)
    if (is[k] != 1) return 1;
  for (int64_t v = (int64_t)(16 / esz); v > 1; v /= 2) {
    if (inner % v) continue;
    bool ok = true;
    for (int k = 0; k < nops && ok; k++) {
      if ((uintptr_t)ptrs[k] % (uintptr_t)(v * (int64_t)esz)) ok = false;
      for (int j = 0; j < nrd && ok; j++)
        if (rs[k][j] % v) ok = false;
    }
    if (ok) return v;
  }
  return 1;
}

}  // namespace

extern "C" int cu_ix_copy(size_t esz, void *dst, const int64_t *dst_strides, const void *src,
                          const int64_t *src_strides, const int64_t *shape, int ndim,
                          void *stream) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n == 0) return 0;
  int64_t cshape[kMaxDims], cstr[2][kMaxDims];
  const int64_t *sp[2] = {dst_strides, src_strides};
  int m = collapse(ndim, shape, sp, 2, cshape, cstr);
  RowDesc d;
  memset(&d, 0, sizeof d);
  if (m == 0) {
    d.inner = 1;
    d.is[0] = d.is[1] = 1;
  } else {
    d.inner = cshape[m - 1];
    d.is[0] = cstr[0][m - 1];
    d.is[1] = cstr[1][m - 1];
  }
  d.nrd = m > 0 ? m - 1 : 0;
  d.rows = 1;
  for (int j = 0; j < d.nrd; j++) {
    d.rshape[j] = cshape[j];
    d.rs[0][j] = cstr[0][j];
    d.rs[1][j] = cstr[1][j];
    d.rows *= cshape[j];
  }
  const void *ptrs[2] = {dst, src};
  int64_t v = vector_factor(esz, d.inner, d.is, d.nrd, d.rs, ptrs, 2);
  if (v > 1) {
    d.inner /= v;
    for (int j = 0; j < d.nrd; j++) {
      d.rs[0][j] /= v;
      d.rs[1][j] /= v;
    }
  }
  return copy_by_unit(esz * (size_t)v, dst, src, d, (cudaStream_t)stream);
}

// ---------------------------------------------------------------- gather

namespace {

struct GatherDesc {
  int nrd;
  int64_t rshape[kMaxDims];
  int64_t rs[kMaxDims];  // source strides of the row dims
  int64_t rows, inner, iss;
  int nidx;
  const void *iptr[CU_IX_MAX_IDX];
  int idt[CU_IX_MAX_IDX];
  int64_t idim[CU_IX_MAX_IDX], imul[CU_IX_MAX_IDX], ilim[CU_IX_MAX_IDX];
  int64_t istr[CU_IX_MAX_IDX][kMaxDims];  // index strides over the row dims
};

// Mapped host memory (cu_ix_error_init): set when a kernel met an index
// out of range. NULL until initialized (then nothing is flagged).
__device__ unsigned int *ix_error_flag;

// The index, negatives wrapped by dim; one outside [0, lim) is flagged and
// clamped so the kernel never reads or writes outside the array.
__device__ __forceinline__ int64_t load_index(const void *p, int dt, int64_t off, int64_t dim,
                                              int64_t lim) {
  int64_t v;
  switch (dt) {
    case MX_UINT8: v = ((const uint8_t *)p)[off]; break;
    case MX_UINT16: v = ((const uint16_t *)p)[off]; break;
    case MX_UINT32: v = ((const uint32_t *)p)[off]; break;
    case MX_UINT64: {
      uint64_t u = ((const uint64_t *)p)[off];
      v = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
      break;
    }
    case MX_INT8: v = ((const int8_t *)p)[off] ; v = v < 0 ? v + dim : v; break;
    case MX_INT16: v = ((const int16_t *)p)[off]; v = v < 0 ? v + dim : v; break;
    case MX_INT32: v = ((const int32_t *)p)[off]; v = v < 0 ? v + dim : v; break;
    default: v = ((const int64_t *)p)[off]; v = v < 0 ? v + dim : v; break;
  }
  if (v < 0 || v >= lim) {
    if (ix_error_flag) *(volatile unsigned int *)ix_error_flag = 1u;
    v = v < 0 ? 0 : lim - 1;
  }
  return v;
}

template <typename U>
__global__ void gather_kernel(U *__restrict__ out, const U *__restrict__ src, GatherDesc d) {
  for (int64_t r = blockIdx.y * (int64_t)blockDim.y + threadIdx.y; r < d.rows;
       r += (int64_t)gridDim.y * blockDim.y) {
    int64_t so = 0, io[CU_IX_MAX_IDX] = {0, 0, 0, 0};
    int64_t q = r;
    for (int k = d.nrd - 1; k >= 0; k--) {
      int64_t n = d.rshape[k];
      int64_t c = q % n;
      q /= n;
      so += c * d.rs[k];
      for (int j = 0; j < d.nidx; j++) io[j] += c * d.istr[j][k];
    }
    for (int j = 0; j < d.nidx; j++) so += load_index(d.iptr[j], d.idt[j], io[j], d.idim[j], d.ilim[j]) * d.imul[j];
    const U *sp = src + so;
    U *op = out + r * d.inner;
    if (d.iss == 1) {
      for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < d.inner;
           c += (int64_t)gridDim.x * blockDim.x)
        op[c] = sp[c];
    } else {
      for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < d.inner;
           c += (int64_t)gridDim.x * blockDim.x)
        op[c] = sp[c * d.iss];
    }
  }
}

template <typename U>
int launch_gather(void *out, const void *src, const GatherDesc &d, cudaStream_t s) {
  dim3 g, b;
  launch_shape(d.rows, d.inner, &g, &b);
  gather_kernel<U><<<g, b, 0, s>>>((U *)out, (const U *)src, d);
  return (int)cudaGetLastError();
}

}  // namespace

static unsigned int *ix_error_host;  // mapped: the kernels write it directly

extern "C" int cu_ix_error_init(void) {
  void *h = NULL, *d = NULL;
  cudaError_t e = cudaHostAlloc(&h, sizeof(unsigned int), cudaHostAllocMapped);
  if (e == cudaSuccess) e = cudaHostGetDevicePointer(&d, h, 0);
  if (e == cudaSuccess) {
    *(volatile unsigned int *)h = 0;
    e = cudaMemcpyToSymbol(ix_error_flag, &d, sizeof d);
  }
  if (e != cudaSuccess) {
    if (h) cudaFreeHost(h);
    cudaGetLastError();
    return (int)e;
  }
  ix_error_host = (unsigned int *)h;
  return 0;
}

extern "C" int cu_ix_error_take(void) {
  if (!ix_error_host || !*(volatile unsigned int *)ix_error_host) return 0;
  *(volatile unsigned int *)ix_error_host = 0;
  return 1;
}

extern "C" int cu_ix_gather_run(size_t esz, void *out, const void *src, const cu_ix_gather *g,
                                void *stream) {
  int64_t n = 1;
  for (int d = 0; d < g->ndim; d++) n *= g->shape[d];
  if (n == 0) return 0;
  if (g->nidx > CU_IX_MAX_IDX) return (int)cudaErrorInvalidValue;
  GatherDesc d;
  memset(&d, 0, sizeof d);
  d.nidx = g->nidx;
  // The run: the longest suffix of dims that no index reads and that is one
  // stride in the source (the output is row-major, so dense there).
  int nd = g->ndim, tail = nd;
  bool have = false;
  d.inner = 1;
  d.iss = 1;
  for (int e = nd - 1; e >= 0; e--) {
    bool free_dim = true;
    for (int j = 0; j < g->nidx; j++)
      if (g->idx[j].strides[e] != 0 && g->shape[e] != 1) free_dim = false;
    if (!free_dim) break;
    if (g->shape[e] != 1) {
      if (!have) {
        d.iss = g->src_strides[e];
        have = true;
      } else if (g->src_strides[e] != d.iss * d.inner) {
        break;
      }
      d.inner *= g->shape[e];
    }
    tail = e;
  }
  d.nrd = 0;
  d.rows = 1;
  for (int e = 0; e < tail; e++) {
    if (g->shape[e] == 1) continue;
    d.rshape[d.nrd] = g->shape[e];
    d.rs[d.nrd] = g->src_strides[e];
    for (int j = 0; j < g->nidx; j++) d.istr[j][d.nrd] = g->idx[j].strides[e];
    d.nrd++;
    d.rows *= g->shape[e];
  }
  for (int j = 0; j < g->nidx; j++) {
    d.iptr[j] = g->idx[j].ptr;
    d.idt[j] = (int)g->idx[j].dtype;
    d.idim[j] = g->idx[j].dim;
    d.ilim[j] = g->idx[j].lim;
    d.imul[j] = g->idx[j].mul;
  }
  // 16-byte units when the run is dense and every row start stays aligned.
  int64_t v = 1;
  if (d.iss == 1 && d.inner > 1) {
    for (v = (int64_t)(16 / esz); v > 1; v /= 2) {
      bool ok = d.inner % v == 0 && (uintptr_t)src % (uintptr_t)(v * (int64_t)esz) == 0 &&
                (uintptr_t)out % (uintptr_t)(v * (int64_t)esz) == 0;
      for (int e = 0; e < d.nrd && ok; e++)
        if (d.rs[e] % v) ok = false;
      for (int j = 0; j < d.nidx && ok; j++)
        if (d.imul[j] % v) ok = false;
      if (ok) break;
    }
    if (v > 1) {
      d.inner /= v;
      for (int e = 0; e < d.nrd; e++) d.rs[e] /= v;
      for (int j = 0; j < d.nidx; j++) d.imul[j] /= v;
    }
  }
  cudaStream_t s = (cudaStream_t)stream;
  switch (esz * (size_t)v) {
    case 1: return launch_gather<uint8_t>(out, src, d, s);
    case 2: return launch_gather<uint16_t>(out, src, d, s);
    case 4: return launch_gather<uint32_t>(out, src, d, s);
    case 8: return launch_gather<uint2>(out, src, d, s);
    case 16: return launch_gather<uint4>(out, src, d, s);
  }
  return (int)cudaErrorInvalidValue;
}

// ---------------------------------------------------------------- scatter

namespace {

struct ScatterDesc {
  int ndim;
  int64_t shape[kMaxDims], ds[kMaxDims], ss[kMaxDims], ks[kMaxDims];
  int nidx;
  const void *iptr[CU_IX_MAX_IDX];
  int idt[CU_IX_MAX_IDX];
  int64_t idim[CU_IX_MAX_IDX], imul[CU_IX_MAX_IDX], ilim[CU_IX_MAX_IDX];
  int64_t istr[CU_IX_MAX_IDX][kMaxDims];
};

__device__ __forceinline__ void scatter_offsets(const ScatterDesc &d, int64_t i, int64_t *dst,
                                                int64_t *src, uint64_t *key) {
  int64_t o = 0, s = 0, k = 0, io[CU_IX_MAX_IDX] = {0, 0, 0, 0};
  for (int e = d.ndim - 1; e >= 0; e--) {
    int64_t c = i % d.shape[e];
    i /= d.shape[e];
    o += c * d.ds[e];
    s += c * d.ss[e];
    k += c * d.ks[e];
    for (int j = 0; j < d.nidx; j++) io[j] += c * d.istr[j][e];
  }
  for (int j = 0; j < d.nidx; j++) o += load_index(d.iptr[j], d.idt[j], io[j], d.idim[j], d.ilim[j]) * d.imul[j];
  *dst = o;
  *src = s;
  *key = (uint64_t)k + 1;
}

__global__ void scatter_claim(unsigned long long *win, ScatterDesc d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t o, s;
    uint64_t k;
    scatter_offsets(d, i, &o, &s, &k);
    atomicMax(win + o, (unsigned long long)k);
  }
}

template <typename T>
__global__ void scatter_write(T *out, const T *src, const unsigned long long *win, ScatterDesc d,
                              int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t o, s;
    uint64_t k;
    scatter_offsets(d, i, &o, &s, &k);
    if (win[o] == k) out[o] = src[s];
  }
}

template <typename T> struct atom;
template <> struct atom<int32_t> {
  typedef int type;
};
template <> struct atom<uint32_t> {
  typedef unsigned type;
};
template <> struct atom<int64_t> {
  typedef long long type;
};
template <> struct atom<uint64_t> {
  typedef unsigned long long type;
};

template <typename T>
__device__ __forceinline__ void fold(int mode, T *p, T v) {
  typedef typename atom<T>::type A;
  switch (mode) {
    case 1:
      if constexpr (sizeof(T) == 4)
        atomicAdd((unsigned *)p, (unsigned)v);
      else
        atomicAdd((unsigned long long *)p, (unsigned long long)v);
      return;
    case 3: atomicMax((A *)p, (A)v); return;
    case 4: atomicMin((A *)p, (A)v); return;
    case 2: {
      // Wrapping products commute, so a CAS loop gives the sequential result.
      if constexpr (sizeof(T) == 4) {
        unsigned *q = (unsigned *)p, old = *q, assumed;
        do {
          assumed = old;
          old = atomicCAS(q, assumed, assumed * (unsigned)v);
        } while (old != assumed);
      } else {
        unsigned long long *q = (unsigned long long *)p, old = *q, assumed;
        do {
          assumed = old;
          old = atomicCAS(q, assumed, assumed * (unsigned long long)v);
        } while (old != assumed);
      }
      return;
    }
  }
}

template <typename T>
__global__ void scatter_fold(int mode, T *out, const T *src, ScatterDesc d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t o, s;
    uint64_t k;
    scatter_offsets(d, i, &o, &s, &k);
    fold<T>(mode, out + o, src[s]);
  }
}

}  // namespace

extern "C" int cu_ix_scatter_ok(int mode, mx_dtype dt) {
  if (mode == 0) return 1;
  return dt == MX_INT32 || dt == MX_UINT32 || dt == MX_INT64 || dt == MX_UINT64;
}

extern "C" int cu_ix_scatter_run(int mode, mx_dtype dt, void *out, int64_t out_size,
                                 const void *src, const cu_ix_scatter *g, void *winner,
                                 void *stream) {
  int64_t n = 1;
  for (int e = 0; e < g->ndim; e++) n *= g->shape[e];
  if (n == 0) return 0;
  if (g->nidx > CU_IX_MAX_IDX || !cu_ix_scatter_ok(mode, dt)) return (int)cudaErrorInvalidValue;
  ScatterDesc d;
  memset(&d, 0, sizeof d);
  d.ndim = g->ndim;
  for (int e = 0; e < g->ndim; e++) {
    d.shape[e] = g->shape[e];
    d.ds[e] = g->dst_strides[e];
    d.ss[e] = g->src_strides[e];
    d.ks[e] = g->key_strides[e];
  }
  d.nidx = g->nidx;
  for (int j = 0; j < g->nidx; j++) {
    d.iptr[j] = g->idx[j].ptr;
    d.idt[j] = (int)g->idx[j].dtype;
    d.idim[j] = g->idx[j].dim;
    d.ilim[j] = g->idx[j].lim;
    d.imul[j] = g->idx[j].mul;
    for (int e = 0; e < g->ndim; e++) d.istr[j][e] = g->idx[j].strides[e];
  }
  int64_t b = (n + 255) / 256;
  int blocks = (int)(b > 65535 * 4 ? 65535 * 4 : b);
  cudaStream_t s = (cudaStream_t)stream;
  size_t esz = mx_dtype_size(dt);
  if (mode == 0) {
    cudaError_t e = cudaMemsetAsync(winner, 0, (size_t)out_size * sizeof(unsigned long long), s);
    if (e != cudaSuccess) return (int)e;
    scatter_claim<<<blocks, 256, 0, s>>>((unsigned long long *)winner, d, n);
#define LAUNCH_SW(T) \
  scatter_write<T><<<blocks, 256, 0, s>>>((T *)out, (const T *)src, (const unsigned long long *)winner, d, n)
    IX_BY_SIZE_EARLY(esz, LAUNCH_SW)
#undef LAUNCH_SW
    return (int)cudaGetLastError();
  }
  switch (dt) {
    case MX_INT32: scatter_fold<int32_t><<<blocks, 256, 0, s>>>(mode, (int32_t *)out, (const int32_t *)src, d, n); break;
    case MX_UINT32: scatter_fold<uint32_t><<<blocks, 256, 0, s>>>(mode, (uint32_t *)out, (const uint32_t *)src, d, n); break;
    case MX_INT64: scatter_fold<int64_t><<<blocks, 256, 0, s>>>(mode, (int64_t *)out, (const int64_t *)src, d, n); break;
    default: scatter_fold<uint64_t><<<blocks, 256, 0, s>>>(mode, (uint64_t *)out, (const uint64_t *)src, d, n); break;
  }
  return (int)cudaGetLastError();
}

// ---------------------------------------------------------------- pad, roll

namespace {

struct PadDesc {
  int ndim;
  int64_t shape[kMaxDims], xshape[kMaxDims], xs[kMaxDims], low[kMaxDims];
  int edge;
};

template <typename T>
__global__ void pad_kernel(T *out, const T *x, const T *val, PadDesc d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t q = i, off = 0;
    bool inside = true;
    for (int k = d.ndim - 1; k >= 0; k--) {
      int64_t c = q % d.shape[k];
      q /= d.shape[k];
      int64_t s = c - d.low[k];
      if (s < 0 || s >= d.xshape[k]) {
        if (!d.edge) {
          inside = false;
          break;
        }
        s = s < 0 ? 0 : d.xshape[k] - 1;
      }
      off += s * d.xs[k];
    }
    out[i] = inside ? x[off] : *val;
  }
}

struct RollDesc {
  int ndim;
  int64_t shape[kMaxDims], xs[kMaxDims], shift[kMaxDims];
};

template <typename T>
__global__ void roll_kernel(T *out, const T *x, RollDesc d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t q = i, off = 0;
    for (int k = d.ndim - 1; k >= 0; k--) {
      int64_t c = q % d.shape[k];
      q /= d.shape[k];
      int64_t s = c - d.shift[k];
      if (s < 0) s += d.shape[k];
      off += s * d.xs[k];
    }
    out[i] = x[off];
  }
}

void grid1d(int64_t n, int *blocks) {
  int64_t b = (n + 255) / 256;
  *blocks = (int)(b > 65535 * 4 ? 65535 * 4 : (b < 1 ? 1 : b));
}

}  // namespace

#define IX_BY_SIZE(esz, MACRO)                    \
  switch (esz) {                                  \
    case 1: MACRO(uint8_t); break;                \
    case 2: MACRO(uint16_t); break;               \
    case 4: MACRO(uint32_t); break;               \
    case 8: MACRO(uint2); break;                  \
    default: return (int)cudaErrorInvalidValue;   \
  }

extern "C" int cu_ix_pad(size_t esz, void *out, const int64_t *shape, int ndim, const void *x,
                         const int64_t *xshape, const int64_t *xs, const int64_t *low, int edge,
                         const void *val, void *stream) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n == 0) return 0;
  PadDesc d;
  memset(&d, 0, sizeof d);
  d.ndim = ndim;
  d.edge = edge;
  for (int k = 0; k < ndim; k++) {
    d.shape[k] = shape[k];
    d.xshape[k] = xshape[k];
    d.xs[k] = xs[k];
    d.low[k] = low[k];
  }
  int blocks;
  grid1d(n, &blocks);
  cudaStream_t s = (cudaStream_t)stream;
#define LAUNCH_PAD(T) \
  pad_kernel<T><<<blocks, 256, 0, s>>>((T *)out, (const T *)x, (const T *)val, d, n)
  IX_BY_SIZE(esz, LAUNCH_PAD)
#undef LAUNCH_PAD
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_roll(size_t esz, void *out, const int64_t *shape, int ndim, const void *x,
                          const int64_t *xs, const int64_t *shift, void *stream) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n == 0) return 0;
  RollDesc d;
  memset(&d, 0, sizeof d);
  d.ndim = ndim;
  for (int k = 0; k < ndim; k++) {
    d.shape[k] = shape[k];
    d.xs[k] = xs[k];
    d.shift[k] = shift[k];
  }
  int blocks;
  grid1d(n, &blocks);
  cudaStream_t s = (cudaStream_t)stream;
#define LAUNCH_ROLL(T) roll_kernel<T><<<blocks, 256, 0, s>>>((T *)out, (const T *)x, d, n)
  IX_BY_SIZE(esz, LAUNCH_ROLL)
#undef LAUNCH_ROLL
  return (int)cudaGetLastError();
}
