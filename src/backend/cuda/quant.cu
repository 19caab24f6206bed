// quant.cu — quantized matrix-vector products (LLM decode) and
// dequantization: MLX affine format (bits 2..8 LSB-first in uint32 words,
// w = s * q + b per group) and GGUF Q4_0 / Q8_0 blocks.
//
// Decode is memory bound: every weight byte is read once with 16-byte loads,
// codes become floats in registers (a byte permute into the mantissa of
// 2^23 and one subtraction: no slow int->float conversions), the dot with x
// accumulates in f32 and per group y += s * dot(x, q) + b * sum(x), so the
// scale and bias cost two FMAs per group, not per value. A block owns a few
// output rows and its warps split K; partial sums meet through shuffles and
// a little shared memory.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>

#include "cuda_quant.h"

namespace {

template <typename T> __device__ __forceinline__ float to_f(T v) { return (float)v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <typename T> __device__ __forceinline__ T from_f(float v) { return (T)v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
// Rounds v to T's precision and back (MLX computes half types as "f32, then
// round").
template <typename T> __device__ __forceinline__ float round_to(float v) {
  return to_f<T>(from_f<T>(v));
}

// Eight consecutive T at a 16-byte aligned address, as floats.
template <typename T> __device__ __forceinline__ void load8(const T *p, float *f);
template <> __device__ __forceinline__ void load8<float>(const float *p, float *f) {
  float4 a = __ldg((const float4 *)p), b = __ldg((const float4 *)p + 1);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
  f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
template <> __device__ __forceinline__ void load8<__nv_bfloat16>(const __nv_bfloat16 *p, float *f) {
  uint4 u = __ldg((const uint4 *)p);
  uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {  // bf16 is the top half of an f32
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}
template <> __device__ __forceinline__ void load8<__half>(const __half *p, float *f) {
  uint4 u = __ldg((const uint4 *)p);
  uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    __half2 h = *reinterpret_cast<__half2 *>(&w[i]);
    float2 v = __half22float2(h);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

// Byte j of v (0..255) as a float: placed in the mantissa of 2^23, then 2^23
// subtracted (exact).
// An offset o folds into the same subtraction: byte_f(v, j, o) = byte - o.
__device__ __forceinline__ float byte_f(uint32_t v, int j, float o = 0.f) {
  return __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7540u | (uint32_t)j)) - (8388608.0f + o);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct BatchOff {
  int64_t o[4];
};

__device__ __forceinline__ BatchOff batch_offsets(const cu_qbatch &bt, int64_t i) {
  BatchOff r = {{0, 0, 0, 0}};
  for (int d = bt.nb - 1; d >= 0; d--) {
    int64_t n = bt.shape[d], c = i % n;
    i /= n;
#pragma unroll
    for (int k = 0; k < 4; k++) r.o[k] += c * bt.stride[k][d];
  }
  return r;
}

constexpr int MAX_WARPS = 8;

// ---------------------------------------------------------------- affine, 4/8-bit
//
// Thread t of the block takes 16-byte chunks t, t + 32*NW, ... of each of
// the block's ROWS rows (a chunk lies inside one group: groups are >= 16
// bytes). The next chunk's loads are issued before the current one is
// consumed, so each thread keeps 2*ROWS 16-byte loads in flight.
template <typename T, int BITS, int M, int ROWS>
__global__ void __launch_bounds__(256)
    qmv_fast(const T *__restrict__ x, const uint8_t *__restrict__ w, const T *__restrict__ sc,
             const T *__restrict__ bi, T *__restrict__ y, int N, int K, int gb_shift,
             cu_qbatch bt) {
  constexpr int VPC = 128 / BITS;  // values per chunk
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int row0 = blockIdx.x * ROWS;
  const BatchOff bo = batch_offsets(bt, blockIdx.y);
  x += bo.o[0];
  w += bo.o[1] * 4;
  sc += bo.o[2];
  bi += bo.o[3];
  y += (int64_t)blockIdx.y * M * N;
  const int64_t RB = (int64_t)K * BITS / 8;
  const int nch = (int)(RB >> 4);
  const int64_t G = RB >> gb_shift;
  const uint8_t *wr[ROWS];
  int64_t sr[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    int row = min(row0 + r, N - 1);  // tail rows read a valid row, never stored
    wr[r] = w + (int64_t)row * RB;
    sr[r] = (int64_t)row * G;
  }
  float acc[M][ROWS];
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int r = 0; r < ROWS; r++) acc[m][r] = 0.f;

  const int stride = nw * 32;
  int c = warp * 32 + lane;
  uint4 cur[ROWS];
  float cs[ROWS], cb[ROWS];
  if (c < nch) {
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      cur[r] = __ldg((const uint4 *)(wr[r] + (int64_t)c * 16));
      int64_t g = sr[r] + (((int64_t)c * 16) >> gb_shift);
      cs[r] = to_f(sc[g]);
      cb[r] = to_f(bi[g]);
    }
  }
  for (; c < nch; c += stride) {
    const int cn = c + stride;
    uint4 nx[ROWS];
    float ns[ROWS], nb[ROWS];
    if (cn < nch) {
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        nx[r] = __ldg((const uint4 *)(wr[r] + (int64_t)cn * 16));
        int64_t g = sr[r] + (((int64_t)cn * 16) >> gb_shift);
        ns[r] = to_f(sc[g]);
        nb[r] = to_f(bi[g]);
      }
    }
    const T *xc = x + (int64_t)c * VPC;
    float d[M][ROWS], xs[M];
#pragma unroll
    for (int m = 0; m < M; m++) {
      xs[m] = 0.f;
#pragma unroll
      for (int r = 0; r < ROWS; r++) d[m][r] = 0.f;
    }
#pragma unroll
    for (int sub = 0; sub < VPC / 8; sub++) {
      float q[ROWS][8];
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        const uint32_t wv[4] = {cur[r].x, cur[r].y, cur[r].z, cur[r].w};
        if (BITS == 4) {
          // Value 2j of a word is the low nibble of byte j, 2j+1 the high.
          uint32_t word = wv[sub];
          uint32_t lo = word & 0x0F0F0F0Fu, hi = (word >> 4) & 0x0F0F0F0Fu;
#pragma unroll
          for (int j = 0; j < 4; j++) {
            q[r][2 * j] = byte_f(lo, j);
            q[r][2 * j + 1] = byte_f(hi, j);
          }
        } else {
#pragma unroll
          for (int j = 0; j < 8; j++) q[r][j] = byte_f(wv[2 * sub + j / 4], j & 3);
        }
      }
#pragma unroll
      for (int m = 0; m < M; m++) {
        float xv[8];
        load8<T>(xc + (int64_t)m * K + sub * 8, xv);
#pragma unroll
        for (int i = 0; i < 8; i++) {
          xs[m] += xv[i];
#pragma unroll
          for (int r = 0; r < ROWS; r++) d[m][r] = fmaf(xv[i], q[r][i], d[m][r]);
        }
      }
    }
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
      for (int r = 0; r < ROWS; r++)
        acc[m][r] = fmaf(cs[r], d[m][r], fmaf(cb[r], xs[m], acc[m][r]));
    if (cn < nch) {
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        cur[r] = nx[r];
        cs[r] = ns[r];
        cb[r] = nb[r];
      }
    }
  }
  __shared__ float red[MAX_WARPS][M * ROWS];
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      float v = warp_sum(acc[m][r]);
      if (lane == 0) red[warp][m * ROWS + r] = v;
    }
  __syncthreads();
  if (threadIdx.x < M * ROWS) {
    int m = threadIdx.x / ROWS, r = threadIdx.x % ROWS;
    float s = 0.f;
    for (int k = 0; k < nw; k++) s += red[k][threadIdx.x];
    if (row0 + r < N) y[(int64_t)m * N + row0 + r] = from_f<T>(s);
  }
}

// ---------------------------------------------------------------- affine, any bits
//
// One warp per output row, a lane per group; codes read from the bit stream
// with 32-bit loads. Slower (uncoalesced x, scalar extraction) but covers
// bits 2..8 and unaligned operands.
template <typename T>
__global__ void __launch_bounds__(256)
    qmv_generic(const T *__restrict__ x, const uint32_t *__restrict__ w, const T *__restrict__ sc,
                const T *__restrict__ bi, T *__restrict__ y, int M, int N, int K, int bits, int gs,
                cu_qbatch bt) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= N) return;
  const BatchOff bo = batch_offsets(bt, blockIdx.y);
  x += bo.o[0];
  w += bo.o[1];
  sc += bo.o[2];
  bi += bo.o[3];
  y += (int64_t)blockIdx.y * M * N;
  const int64_t G = K / gs, gw = (int64_t)gs * bits / 32;
  const uint32_t mask = (1u << bits) - 1u;
  const uint32_t *wrow = w + (int64_t)row * (G * gw);
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t g = lane; g < G; g += 32) {
    const uint32_t *wg = wrow + g * gw;
    const T *xg = x + g * gs;
    float d[8] = {0, 0, 0, 0, 0, 0, 0, 0}, xs[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < gs; j++) {
      int bit = j * bits, wi = bit >> 5, sh = bit & 31;
      uint32_t v = __ldg(wg + wi) >> sh;
      if (sh + bits > 32) v |= __ldg(wg + wi + 1) << (32 - sh);
      float q = (float)(v & mask);
#pragma unroll
      for (int m = 0; m < 8; m++)
        if (m < M) {
          float xv = to_f(xg[(int64_t)m * K + j]);
          d[m] = fmaf(xv, q, d[m]);
          xs[m] += xv;
        }
    }
    float s = to_f(sc[(int64_t)row * G + g]), b = to_f(bi[(int64_t)row * G + g]);
#pragma unroll
    for (int m = 0; m < 8; m++)
      if (m < M) acc[m] = fmaf(s, d[m], fmaf(b, xs[m], acc[m]));
  }
#pragma unroll
  for (int m = 0; m < 8; m++)
    if (m < M) {
      float v = warp_sum(acc[m]);
      if (lane == 0) y[(int64_t)m * N + row] = from_f<T>(v);
    }
}

// ---------------------------------------------------------------- affine dequantize
//
// Thread i makes values 8i .. 8i+7 (one group, since groups are multiples
// of 8): their codes are `bits` bytes at byte 8i*bits/8 of the stream.
template <typename S, typename O>
__global__ void qdequant(const uint8_t *__restrict__ w, const S *__restrict__ sc,
                         const S *__restrict__ bi, O *__restrict__ out, int64_t n8, int bits,
                         int gs_shift) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8;
       i += (int64_t)gridDim.x * blockDim.x) {
    uint32_t q[8];
    if (bits == 4) {
      uint32_t v = __ldg((const uint32_t *)w + i);
#pragma unroll
      for (int j = 0; j < 8; j++) q[j] = (v >> (4 * j)) & 15u;
    } else if (bits == 8) {
      uint2 v = __ldg((const uint2 *)w + i);
#pragma unroll
      for (int j = 0; j < 4; j++) {
        q[j] = (v.x >> (8 * j)) & 255u;
        q[j + 4] = (v.y >> (8 * j)) & 255u;
      }
    } else {
      const uint8_t *p = w + i * bits;
      uint64_t v = 0;
      for (int k = 0; k < bits; k++) v |= (uint64_t)__ldg(p + k) << (8 * k);
      const uint32_t mask = (1u << bits) - 1u;
#pragma unroll
      for (int j = 0; j < 8; j++) q[j] = (uint32_t)(v >> (bits * j)) & mask;
    }
    int64_t g = (i * 8) >> gs_shift;
    float s = to_f(sc[g]), b = to_f(bi[g]);
    __align__(16) O vals[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
      // Two roundings in the scales' dtype, no fused multiply-add.
      float v = round_to<S>(__fadd_rn(round_to<S>(__fmul_rn((float)q[j], s)), b));
      vals[j] = from_f<O>(v);
    }
    // 16-byte stores: out is 16-byte aligned (pool memory, 8 values per thread).
    uint4 *o = (uint4 *)(out + i * 8);
#pragma unroll
    for (int k = 0; k < (int)sizeof(O) / 2; k++) o[k] = ((const uint4 *)vals)[k];
  }
}

// ---------------------------------------------------------------- GGUF Q4_0 / Q8_0
//
// A lane takes a pair of consecutive blocks (64 values): 36 bytes (Q4_0) or
// 68 bytes (Q8_0), 4-byte aligned when rows are, read as 32-bit words; the
// f16 scales sit at bytes 0 and 18 / 34 of the pair.
template <int TYPE> struct gguf_pair;
template <> struct gguf_pair<2> { static constexpr int words = 9; };
template <> struct gguf_pair<8> { static constexpr int words = 17; };

template <typename T, int TYPE, int M, int ROWS>
__global__ void __launch_bounds__(256)
    gguf_mv(const T *__restrict__ x, const uint8_t *__restrict__ wb, T *__restrict__ y, int N,
            int K, int64_t row_bytes) {
  constexpr int NWD = gguf_pair<TYPE>::words;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int row0 = blockIdx.x * ROWS;
  const int np = K / 64;
  const uint32_t *wr[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++)
    wr[r] = (const uint32_t *)(wb + (int64_t)min(row0 + r, N - 1) * row_bytes);
  float acc[M][ROWS];
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int r = 0; r < ROWS; r++) acc[m][r] = 0.f;
  for (int p = warp * 32 + lane; p < np; p += nw * 32) {
    uint32_t a[ROWS][NWD];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
      for (int k = 0; k < NWD; k++) a[r][k] = __ldg(wr[r] + (int64_t)p * NWD + k);
    const T *xp = x + (int64_t)p * 64;
#pragma unroll
    for (int blk = 0; blk < 2; blk++) {
      float d[M][ROWS];
#pragma unroll
      for (int m = 0; m < M; m++)
#pragma unroll
        for (int r = 0; r < ROWS; r++) d[m][r] = 0.f;
      float dsc[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        uint32_t hbits = TYPE == 2 ? (blk ? a[r][4] >> 16 : a[r][0] & 0xffffu)
                                   : (blk ? a[r][8] >> 16 : a[r][0] & 0xffffu);
        dsc[r] = __half2float(__ushort_as_half((unsigned short)hbits));
      }
      if (TYPE == 2) {
        // qs word i (bytes 4i..4i+3): low nibbles are values 4i..4i+3,
        // high nibbles values 16+4i..16+4i+3.
#pragma unroll
        for (int half = 0; half < 2; half++) {
#pragma unroll
          for (int i2 = 0; i2 < 2; i2++) {  // 8 values: qs words 2*i2, 2*i2+1
            float q[ROWS][8];
#pragma unroll
            for (int r = 0; r < ROWS; r++)
#pragma unroll
              for (int h = 0; h < 2; h++) {
                int i = 2 * i2 + h;
                uint32_t qw = blk ? a[r][5 + i] : __byte_perm(a[r][i], a[r][i + 1], 0x5432u);
                uint32_t nib = half ? (qw >> 4) & 0x0F0F0F0Fu : qw & 0x0F0F0F0Fu;
#pragma unroll
                for (int j = 0; j < 4; j++) q[r][4 * h + j] = byte_f(nib, j, 8.f);
              }
#pragma unroll
            for (int m = 0; m < M; m++) {
              float xv[8];
              load8<T>(xp + (int64_t)m * K + blk * 32 + half * 16 + i2 * 8, xv);
#pragma unroll
              for (int i = 0; i < 8; i++) {
#pragma unroll
                for (int r = 0; r < ROWS; r++) d[m][r] = fmaf(xv[i], q[r][i], d[m][r]);
              }
            }
          }
        }
#pragma unroll
        for (int m = 0; m < M; m++)
#pragma unroll
          for (int r = 0; r < ROWS; r++)
            acc[m][r] = fmaf(dsc[r], d[m][r], acc[m][r]);
      } else {
        // int8 codes: byte ^ 0x80 is q + 128 (unsigned), 128 subtracted with 2^23.
#pragma unroll
        for (int i2 = 0; i2 < 4; i2++) {
          float q[ROWS][8];
#pragma unroll
          for (int r = 0; r < ROWS; r++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
              int i = 2 * i2 + h;
              uint32_t qw = blk ? a[r][9 + i] : __byte_perm(a[r][i], a[r][i + 1], 0x5432u);
              qw ^= 0x80808080u;
#pragma unroll
              for (int j = 0; j < 4; j++) q[r][4 * h + j] = byte_f(qw, j, 128.f);
            }
#pragma unroll
          for (int m = 0; m < M; m++) {
            float xv[8];
            load8<T>(xp + (int64_t)m * K + blk * 32 + i2 * 8, xv);
#pragma unroll
            for (int i = 0; i < 8; i++) {
#pragma unroll
              for (int r = 0; r < ROWS; r++) d[m][r] = fmaf(xv[i], q[r][i], d[m][r]);
            }
          }
        }
#pragma unroll
        for (int m = 0; m < M; m++)
#pragma unroll
          for (int r = 0; r < ROWS; r++)
            acc[m][r] = fmaf(dsc[r], d[m][r], acc[m][r]);
      }
    }
  }
  __shared__ float red[MAX_WARPS][M * ROWS];
#pragma unroll
  for (int m = 0; m < M; m++)
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      float v = warp_sum(acc[m][r]);
      if (lane == 0) red[warp][m * ROWS + r] = v;
    }
  __syncthreads();
  if (threadIdx.x < M * ROWS) {
    int m = threadIdx.x / ROWS, r = threadIdx.x % ROWS;
    float s = 0.f;
    for (int k = 0; k < nw; k++) s += red[k][threadIdx.x];
    if (row0 + r < N) y[(int64_t)m * N + row0 + r] = from_f<T>(s);
  }
}

// One thread per 32-value block.
template <int TYPE, typename O>
__global__ void gguf_deq(const uint8_t *__restrict__ wb, O *__restrict__ out, int64_t N,
                         int64_t nbk, int64_t row_bytes) {
  const int bytes = TYPE == 2 ? 18 : 34;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N * nbk;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t row = i / nbk, b = i - row * nbk;
    const uint8_t *p = wb + row * row_bytes + b * bytes;
    float d = __half2float(__ushort_as_half((unsigned short)(p[0] | p[1] << 8)));
    O *o = out + i * 32;
    if (TYPE == 2) {
      for (int j = 0; j < 16; j++) {
        uint8_t v = p[2 + j];
        o[j] = from_f<O>(__fmul_rn(d, (float)((int)(v & 15) - 8)));
        o[j + 16] = from_f<O>(__fmul_rn(d, (float)((int)(v >> 4) - 8)));
      }
    } else {
      for (int j = 0; j < 32; j++) o[j] = from_f<O>(__fmul_rn(d, (float)(int8_t)p[2 + j]));
    }
  }
}

// ---------------------------------------------------------------- launch helpers

int forced_warps = -1;  // -1: not read yet; 0: automatic

int warps_override(void) {
  if (forced_warps < 0) {
    const char *e = getenv("MLXC_QMV_NW");
    int n = e ? atoi(e) : 0;
    forced_warps = n >= 1 && n <= MAX_WARPS ? n : 0;
  }
  return forced_warps;
}

int pick_warps(int64_t units_per_row) {
  int o = warps_override();
  if (o) return o;
  int64_t nw = (units_per_row + 31) / 32;
  return (int)(nw < 1 ? 1 : nw > 4 ? 4 : nw);
}

int grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return (int)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

template <typename T, int BITS, int M>
int launch_fast(const void *x, const void *w, const void *s, const void *b, void *y, int64_t N,
                int64_t K, int gb_shift, const cu_qbatch *bt, int64_t nbatch, cudaStream_t st) {
  constexpr int ROWS = M <= 4 ? 4 : 2;
  int nw = pick_warps(K * BITS / 8 / 16);
  dim3 grid((unsigned)((N + ROWS - 1) / ROWS), (unsigned)nbatch);
  qmv_fast<T, BITS, M, ROWS><<<grid, nw * 32, 0, st>>>(
      (const T *)x, (const uint8_t *)w, (const T *)s, (const T *)b, (T *)y, (int)N, (int)K,
      gb_shift, *bt);
  return (int)cudaGetLastError();
}

template <typename T, int BITS>
int fast_by_m(int64_t M, const void *x, const void *w, const void *s, const void *b, void *y,
              int64_t N, int64_t K, int gb_shift, const cu_qbatch *bt, int64_t nbatch,
              cudaStream_t st) {
#define QMV_M(m) \
  case m: return launch_fast<T, BITS, m>(x, w, s, b, y, N, K, gb_shift, bt, nbatch, st);
  switch (M) {
    QMV_M(1) QMV_M(2) QMV_M(3) QMV_M(4) QMV_M(5) QMV_M(6) QMV_M(7) QMV_M(8)
  }
#undef QMV_M
  return CU_Q_UNSUPPORTED;
}

template <typename T>
int qmv_typed(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
              void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
              cudaStream_t st) {
  bool aligned = (((uintptr_t)x | (uintptr_t)w) & 15) == 0;
  for (int d = 0; d < bt->nb; d++)
    aligned = aligned && (bt->stride[0][d] * (int64_t)sizeof(T)) % 16 == 0 &&
              (bt->stride[1][d] * 4) % 16 == 0;
  if ((bits == 4 || bits == 8) && aligned) {
    int gb = gs * bits / 8, shift = 0;
    while ((1 << shift) < gb) shift++;
    return bits == 4 ? fast_by_m<T, 4>(M, x, w, s, b, y, N, K, shift, bt, nbatch, st)
                     : fast_by_m<T, 8>(M, x, w, s, b, y, N, K, shift, bt, nbatch, st);
  }
  const int wpb = 8;
  dim3 grid((unsigned)((N + wpb - 1) / wpb), (unsigned)nbatch);
  qmv_generic<T><<<grid, wpb * 32, 0, st>>>((const T *)x, (const uint32_t *)w, (const T *)s,
                                            (const T *)b, (T *)y, (int)M, (int)N, (int)K, bits,
                                            gs, *bt);
  return (int)cudaGetLastError();
}

template <typename S, typename O>
int deq_typed(int bits, int gs, const void *w, const void *s, const void *b, void *out,
              int64_t n, cudaStream_t st) {
  int shift = 0;
  while ((1 << shift) < gs) shift++;
  int64_t n8 = n / 8;
  qdequant<S, O><<<grid_for(n8, 256), 256, 0, st>>>((const uint8_t *)w, (const S *)s,
                                                    (const S *)b, (O *)out, n8, bits, shift);
  return (int)cudaGetLastError();
}

template <typename S>
int deq_out(mx_dtype ot, int bits, int gs, const void *w, const void *s, const void *b,
            void *out, int64_t n, cudaStream_t st) {
  switch (ot) {
    case MX_FLOAT32: return deq_typed<S, float>(bits, gs, w, s, b, out, n, st);
    case MX_FLOAT16: return deq_typed<S, __half>(bits, gs, w, s, b, out, n, st);
    case MX_BFLOAT16: return deq_typed<S, __nv_bfloat16>(bits, gs, w, s, b, out, n, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

template <typename T, int TYPE, int M>
int launch_gguf(const void *x, const void *w, void *y, int64_t N, int64_t K, int64_t rb,
                cudaStream_t st) {
  constexpr int ROWS = M <= 4 ? 4 : 2;
  int nw = pick_warps(K / 64);
  dim3 grid((unsigned)((N + ROWS - 1) / ROWS));
  gguf_mv<T, TYPE, M, ROWS><<<grid, nw * 32, 0, st>>>((const T *)x, (const uint8_t *)w, (T *)y,
                                                      (int)N, (int)K, rb);
  return (int)cudaGetLastError();
}

template <typename T, int TYPE>
int gguf_by_m(int64_t M, const void *x, const void *w, void *y, int64_t N, int64_t K, int64_t rb,
              cudaStream_t st) {
#define GG_M(m) \
  case m: return launch_gguf<T, TYPE, m>(x, w, y, N, K, rb, st);
  switch (M) {
    GG_M(1) GG_M(2) GG_M(3) GG_M(4) GG_M(5) GG_M(6) GG_M(7) GG_M(8)
  }
#undef GG_M
  return CU_Q_UNSUPPORTED;
}

template <typename T>
int gguf_typed(int type, const void *x, const void *w, void *y, int64_t M, int64_t N, int64_t K,
               int64_t rb, cudaStream_t st) {
  return type == 2 ? gguf_by_m<T, 2>(M, x, w, y, N, K, rb, st)
                   : gguf_by_m<T, 8>(M, x, w, y, N, K, rb, st);
}

template <int TYPE>
int gguf_deq_typed(mx_dtype ot, const void *w, void *out, int64_t N, int64_t K, int64_t rb,
                   cudaStream_t st) {
  int64_t nbk = K / 32;
  int g = grid_for(N * nbk, 256);
  switch (ot) {
    case MX_FLOAT32:
      gguf_deq<TYPE, float><<<g, 256, 0, st>>>((const uint8_t *)w, (float *)out, N, nbk, rb);
      break;
    case MX_FLOAT16:
      gguf_deq<TYPE, __half><<<g, 256, 0, st>>>((const uint8_t *)w, (__half *)out, N, nbk, rb);
      break;
    case MX_BFLOAT16:
      gguf_deq<TYPE, __nv_bfloat16>
          <<<g, 256, 0, st>>>((const uint8_t *)w, (__nv_bfloat16 *)out, N, nbk, rb);
      break;
    default: return CU_Q_UNSUPPORTED;
  }
  return (int)cudaGetLastError();
}

}  // namespace

extern "C" void cu_qmv_set_warps(int nw) {
  forced_warps = nw >= 1 && nw <= MAX_WARPS ? nw : 0;
}

extern "C" int cu_qmv(mx_dtype t, int bits, int gs, const void *x, const void *w,
                      const void *scales, const void *biases, void *y, int64_t M, int64_t N,
                      int64_t K, const cu_qbatch *bt, int64_t nbatch, void *stream) {
  if (M < 1 || M > 8 || bits < 2 || bits > 8 || bits == 7 || K % gs || gs % 32 ||
      nbatch > 65535 || N > INT32_MAX || K > INT32_MAX)
    return CU_Q_UNSUPPORTED;
  if (N == 0 || nbatch == 0) return 0;
  cudaStream_t st = (cudaStream_t)stream;
  switch (t) {
    case MX_FLOAT32: return qmv_typed<float>(bits, gs, x, w, scales, biases, y, M, N, K, bt, nbatch, st);
    case MX_FLOAT16: return qmv_typed<__half>(bits, gs, x, w, scales, biases, y, M, N, K, bt, nbatch, st);
    case MX_BFLOAT16:
      return qmv_typed<__nv_bfloat16>(bits, gs, x, w, scales, biases, y, M, N, K, bt, nbatch, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

extern "C" int cu_qdequant(mx_dtype st_t, mx_dtype ot, int bits, int gs, const void *w,
                           const void *scales, const void *biases, void *out, int64_t n,
                           void *stream) {
  if (n % 8 || bits < 2 || bits > 8 || bits == 7 || gs % 8 || (gs & (gs - 1)))
    return CU_Q_UNSUPPORTED;
  if (bits == 8 && ((uintptr_t)w & 7)) return CU_Q_UNSUPPORTED;
  if (n == 0) return 0;
  cudaStream_t st = (cudaStream_t)stream;
  switch (st_t) {
    case MX_FLOAT32: return deq_out<float>(ot, bits, gs, w, scales, biases, out, n, st);
    case MX_FLOAT16: return deq_out<__half>(ot, bits, gs, w, scales, biases, out, n, st);
    case MX_BFLOAT16: return deq_out<__nv_bfloat16>(ot, bits, gs, w, scales, biases, out, n, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

extern "C" int cu_gguf_mv(mx_dtype t, int type, const void *x, const void *blocks, void *y,
                          int64_t M, int64_t N, int64_t K, int64_t row_bytes, void *stream) {
  if ((type != 2 && type != 8) || M < 1 || M > 8 || K % 64 || N > INT32_MAX || K > INT32_MAX ||
      (((uintptr_t)blocks | (uintptr_t)row_bytes) & 3) || ((uintptr_t)x & 15))
    return CU_Q_UNSUPPORTED;
  if (N == 0) return 0;
  cudaStream_t st = (cudaStream_t)stream;
  switch (t) {
    case MX_FLOAT32: return gguf_typed<float>(type, x, blocks, y, M, N, K, row_bytes, st);
    case MX_FLOAT16: return gguf_typed<__half>(type, x, blocks, y, M, N, K, row_bytes, st);
    case MX_BFLOAT16: return gguf_typed<__nv_bfloat16>(type, x, blocks, y, M, N, K, row_bytes, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

extern "C" int cu_gguf_dequant(int type, mx_dtype ot, const void *blocks, void *out, int64_t N,
                               int64_t K, int64_t row_bytes, void *stream) {
  if ((type != 2 && type != 8) || K % 32) return CU_Q_UNSUPPORTED;
  if (N == 0 || K == 0) return 0;
  cudaStream_t st = (cudaStream_t)stream;
  return type == 2 ? gguf_deq_typed<2>(ot, blocks, out, N, K, row_bytes, st)
                   : gguf_deq_typed<8>(ot, blocks, out, N, K, row_bytes, st);
}
