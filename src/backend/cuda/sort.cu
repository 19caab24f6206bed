// sort.cu — stable sorting of dense rows on the GPU (sort, argsort, and
// partition / argpartition / topk through a full sort).
//
// Each element becomes an unsigned key whose order is MLX's order for its
// dtype (NaNs last and tied, -0.0 tied with 0.0: the CPU kernel's keys) and
// its index in the row. Ties keep input order, as the CPU's stable sort:
// - rows up to 4096 (2048 for 64-bit keys): one block per row runs a
//   bitonic network in shared memory on (key, index) pairs, which are
//   distinct, so the result is the stable order;
// - longer rows: CUB's onesweep radix sort over (row, key) composite keys,
//   which is stable, so every row comes out sorted in one device sort; 64-bit
//   keys take a second stable sort by row.
#include <cub/cub.cuh>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_reduce.h"

namespace {

__device__ __forceinline__ uint32_t fkey32(uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu;
  if (u == 0x80000000u) u = 0;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ uint32_t fkey16(uint32_t u, uint32_t inf) {
  if ((u & 0x7fffu) > inf) return 0xffffu;
  if (u == 0x8000u) u = 0;
  return (u & 0x8000u) ? (~u & 0xffffu) : (u | 0x8000u);
}
__device__ __forceinline__ uint64_t fkey64(uint64_t u) {
  if ((u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull) return ~0ull;
  if (u == 0x8000000000000000ull) u = 0;
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

__device__ __forceinline__ uint64_t key_of(const void *x, int64_t i, int dt) {
  switch (dt) {
    case MX_BOOL: return ((const uint8_t *)x)[i] != 0;
    case MX_UINT8: return ((const uint8_t *)x)[i];
    case MX_UINT16: return ((const uint16_t *)x)[i];
    case MX_UINT32: return ((const uint32_t *)x)[i];
    case MX_UINT64: return ((const uint64_t *)x)[i];
    case MX_INT8: return (uint8_t)(((const uint8_t *)x)[i] ^ 0x80u);
    case MX_INT16: return (uint16_t)(((const uint16_t *)x)[i] ^ 0x8000u);
    case MX_INT32: return ((const uint32_t *)x)[i] ^ 0x80000000u;
    case MX_INT64: return ((const uint64_t *)x)[i] ^ 0x8000000000000000ull;
    case MX_FLOAT16: return fkey16(((const uint16_t *)x)[i], 0x7c00u);
    case MX_BFLOAT16: return fkey16(((const uint16_t *)x)[i], 0x7f80u);
    case MX_FLOAT32: return fkey32(((const uint32_t *)x)[i]);
    default: return fkey64(((const uint64_t *)x)[i]);
  }
}

__device__ __forceinline__ void copy_elem(void *out, int64_t o, const void *x, int64_t i,
                                          int esize) {
  switch (esize) {
    case 1: ((uint8_t *)out)[o] = ((const uint8_t *)x)[i]; break;
    case 2: ((uint16_t *)out)[o] = ((const uint16_t *)x)[i]; break;
    case 4: ((uint32_t *)out)[o] = ((const uint32_t *)x)[i]; break;
    default: ((uint64_t *)out)[o] = ((const uint64_t *)x)[i]; break;
  }
}

__device__ __forceinline__ void emit(void *out, int64_t o, const void *x, int64_t row, int64_t n,
                                     uint32_t j, bool indices, int esize) {
  if (indices) ((uint32_t *)out)[o] = j;
  else copy_elem(out, o, x, row * n + j, esize);
}

// Bitonic sort of one row per block. Narrow keys (<= 32 bits) pack with
// the index into one uint64; wide keys keep (key, index) pairs.
template <bool WIDE>
__global__ void k_bitonic(const void *x, int dt, int esize, void *out, int64_t n, int64_t m,
                          int p2, bool indices) {
  extern __shared__ uint64_t sm[];
  uint64_t *key = sm;
  uint32_t *idx = (uint32_t *)(sm + p2);
  int64_t row = blockIdx.x;
  for (int j = threadIdx.x; j < p2; j += blockDim.x) {
    if (WIDE) {
      key[j] = j < n ? key_of(x, row * n + j, dt) : ~0ull;
      idx[j] = j < n ? (uint32_t)j : 0xffffffffu;
    } else {
      key[j] = j < n ? (key_of(x, row * n + j, dt) << 32 | (uint32_t)j) : ~0ull;
    }
  }
  for (int k = 2; k <= p2; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      __syncthreads();
      for (int t = threadIdx.x; t < (p2 >> 1); t += blockDim.x) {
        int i = 2 * j * (t / j) + (t % j), l = i + j;
        bool up = (i & k) == 0;
        bool gt;
        if (WIDE) gt = key[i] > key[l] || (key[i] == key[l] && idx[i] > idx[l]);
        else gt = key[i] > key[l];
        if (gt == up) {
          uint64_t tk = key[i];
          key[i] = key[l];
          key[l] = tk;
          if (WIDE) {
            uint32_t ti = idx[i];
            idx[i] = idx[l];
            idx[l] = ti;
          }
        }
      }
    }
  }
  __syncthreads();
  for (int64_t pos = threadIdx.x; pos < m; pos += blockDim.x) {
    int64_t src = n - m + pos;
    uint32_t j = WIDE ? idx[src] : (uint32_t)(key[src] & 0xffffffffu);
    emit(out, row * m + pos, x, row, n, j, indices, esize);
  }
}

__global__ void k_make_keys(const void *x, int dt, int64_t n, int64_t total, int kb,
                            uint64_t *keys, uint32_t *vals) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t row = i / n;
    uint64_t k = key_of(x, i, dt);
    if (kb == 64) {
      keys[i] = k;
      vals[i] = (uint32_t)i;  // global index: the second pass sorts by row
    } else {
      keys[i] = (uint64_t)row << kb | k;
      vals[i] = (uint32_t)(i - row * n);
    }
  }
}

__global__ void k_row_keys(const uint32_t *vals, int64_t n, int64_t total, uint64_t *keys) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x)
    keys[i] = vals[i] / (uint64_t)n;
}

__global__ void k_sort_out(const void *x, int esize, const uint32_t *vals, int64_t rows,
                           int64_t n, int64_t m, bool global, bool indices, void *out) {
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < rows * m;
       o += (int64_t)gridDim.x * blockDim.x) {
    int64_t row = o / m, pos = o - row * m;
    uint32_t v = vals[row * n + n - m + pos];
    uint32_t j = global ? (uint32_t)(v - row * n) : v;
    emit(out, o, x, row, n, j, indices, esize);
  }
}

int dtype_size(int dt) {
  switch (dt) {
    case MX_BOOL:
    case MX_UINT8:
    case MX_INT8: return 1;
    case MX_UINT16:
    case MX_INT16:
    case MX_FLOAT16:
    case MX_BFLOAT16: return 2;
    case MX_UINT32:
    case MX_INT32:
    case MX_FLOAT32: return 4;
    default: return 8;
  }
}

unsigned grid_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return (unsigned)(b > 65536 ? 65536 : b < 1 ? 1 : b);
}

}  // namespace

extern "C" int cu_sort_rows(mx_dtype it, int indices, const void *x, void *out, int64_t rows,
                            int64_t n, int64_t m, const cu_scratch *sc, void *stream) {
  if (it == MX_COMPLEX64) return CU_RED_UNSUPPORTED;
  if (rows == 0 || n == 0 || m == 0) return 0;
  cudaStream_t st = (cudaStream_t)stream;
  int dt = (int)it, es = dtype_size(dt);
  int kb = es * 8;
  bool wide = kb == 64;
  if (n <= (wide ? 2048 : 4096)) {
    int p2 = 1;
    while (p2 < n) p2 <<= 1;
    if (p2 < 2) p2 = 2;
    int threads = p2 / 2 < 512 ? p2 / 2 : 512;
    if (threads < 32) threads = 32;
    size_t smem = (size_t)p2 * (wide ? 12 : 8);
    if (wide)
      k_bitonic<true><<<(unsigned)rows, threads, smem, st>>>(x, dt, es, out, n, m, p2,
                                                             indices != 0);
    else
      k_bitonic<false><<<(unsigned)rows, threads, smem, st>>>(x, dt, es, out, n, m, p2,
                                                              indices != 0);
    return (int)cudaGetLastError();
  }
  int64_t total = rows * n;
  if (total > INT32_MAX) return CU_RED_UNSUPPORTED;
  int rowbits = 0;
  while (rowbits < 63 && ((int64_t)1 << rowbits) < rows) rowbits++;
  size_t kbytes = (size_t)total * 8, vbytes = (size_t)total * 4;
  uint64_t *k0 = (uint64_t *)sc->alloc(kbytes), *k1 = (uint64_t *)sc->alloc(kbytes);
  uint32_t *v0 = (uint32_t *)sc->alloc(vbytes), *v1 = (uint32_t *)sc->alloc(vbytes);
  void *temp = NULL;
  size_t tbytes = 0;
  int err = 0;
  if (!k0 || !k1 || !v0 || !v1) {
    err = (int)cudaErrorMemoryAllocation;
    goto done;
  }
  {
    int end_bit = wide ? 64 : kb + rowbits;
    size_t need = 0, need2 = 0;
    err = (int)cub::DeviceRadixSort::SortPairs(NULL, need, k0, k1, v0, v1, (int)total, 0,
                                                end_bit, st);
    if (err) goto done;
    if (wide && rows > 1) {
      err = (int)cub::DeviceRadixSort::SortPairs(NULL, need2, k0, k1, v1, v0, (int)total, 0,
                                                  rowbits, st);
      if (err) goto done;
      if (need2 > need) need = need2;
    }
    tbytes = need ? need : 1;
    temp = sc->alloc(tbytes);
    if (!temp) {
      err = (int)cudaErrorMemoryAllocation;
      goto done;
    }
    k_make_keys<<<grid_for(total), 256, 0, st>>>(x, dt, n, total, kb, k0, v0);
    err = (int)cub::DeviceRadixSort::SortPairs(temp, need, k0, k1, v0, v1, (int)total, 0,
                                                end_bit, st);
    if (err) goto done;
    const uint32_t *vals = v1;
    if (wide && rows > 1) {
      // Stable by row on top of the stable sort by key.
      k_row_keys<<<grid_for(total), 256, 0, st>>>(v1, n, total, k0);
      err = (int)cub::DeviceRadixSort::SortPairs(temp, need, k0, k1, v1, v0, (int)total, 0,
                                                  rowbits, st);
      if (err) goto done;
      vals = v0;
    }
    k_sort_out<<<grid_for(rows * m), 256, 0, st>>>(x, es, vals, rows, n, m, wide,
                                                   indices != 0, out);
    err = (int)cudaGetLastError();
  }
done:
  if (temp) sc->free(temp, tbytes);
  if (k0) sc->free(k0, kbytes);
  if (k1) sc->free(k1, kbytes);
  if (v0) sc->free(v0, vbytes);
  if (v1) sc->free(v1, vbytes);
  return err;
}
