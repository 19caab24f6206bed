// quant_device.cuh — device helpers shared by the quantized kernels
// (quant.cu: decode GEMVs and dequantization; qgemm.cu: the prefill GEMM): dtype conversions, vector
// loads that bypass L1, nibble-to-half conversion for tensor cores, the
// mma.sync wrappers and the split-K reduction of the tensor-core GEMVs.
// Everything here is inline device code; each .cu gets its own copy.
#ifndef MLXC_QUANT_DEVICE_CUH
#define MLXC_QUANT_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_quant.h"

namespace qdev {

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

// Programmatic dependent launch (opt-in, cu_qmv_set_pdl): the kernel may
// start while the previous kernel on the stream still runs. Weights are
// read before the wait (they must not be written by that kernel: static
// model weights), x is read and y written after it. Without the launch
// attribute both instructions do nothing.
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_trigger() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

template <typename T> struct mma_t;
template <> struct mma_t<__nv_bfloat16> {
  // 0x4300 is 128.0: 0x4300 | q = 128 + q exactly (7 mantissa bits).
  static constexpr uint32_t magic = 0x43004300u, one = 0x3F803F80u;
  // magic | (q << nib_bit) = off + scl * q (the top four mantissa bits).
  static constexpr float off = 128.f, scl = 8.f;
  static constexpr int nib_bit = 3;
  static constexpr uint32_t neg0 = 0xC300C300u, neg8 = 0xC308C308u;  // -128, -136
  static __device__ __forceinline__ uint32_t unbias(uint32_t v, uint32_t neg = neg0) {
    uint32_t r;
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(v), "r"(one), "r"(neg));
    return r;
  }
  static __device__ __forceinline__ void mma(float *c, uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};
template <> struct mma_t<__half> {
  // 0x6400 is 1024.0: 0x6400 | q = 1024 + q exactly.
  static constexpr uint32_t magic = 0x64006400u, one = 0x3C003C00u;
  static constexpr float off = 1024.f, scl = 64.f;
  static constexpr int nib_bit = 6;
  static constexpr uint32_t neg0 = 0xE400E400u, neg8 = 0xE408E408u;  // -1024, -1032
  static __device__ __forceinline__ uint32_t unbias(uint32_t v, uint32_t neg = neg0) {
    uint32_t r;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(v), "r"(one), "r"(neg));
    return r;
  }
  static __device__ __forceinline__ void mma(float *c, uint32_t a0, uint32_t a1, uint32_t a2,
                                             uint32_t a3, uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
};

// Nibble pair (4i, 4i+4 of the word's 8 nibbles) of v >> 4i as a packed
// pair of exact small integers.
template <typename T> __device__ __forceinline__ uint32_t nib2(uint32_t v) {
  return mma_t<T>::unbias((v & 0x000F000Fu) | mma_t<T>::magic);
}
// The same, minus 8 (GGUF's signed nibbles).
template <typename T> __device__ __forceinline__ uint32_t nib2m8(uint32_t v) {
  return mma_t<T>::unbias((v & 0x000F000Fu) | mma_t<T>::magic, mma_t<T>::neg8);
}

// Weights are read once: keep them out of L1 so x and the scales stay.
__device__ __forceinline__ uint4 ld_stream16(const void *p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}
__device__ __forceinline__ uint2 ld_stream8(const void *p) {
  uint2 r;
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0,%1}, [%2];"
               : "=r"(r.x), "=r"(r.y)
               : "l"(p));
  return r;
}
__device__ __forceinline__ uint32_t ld_stream4(const void *p) {
  uint32_t r;
  asm volatile("ld.global.nc.L1::no_allocate.u32 %0, [%1];" : "=r"(r) : "l"(p));
  return r;
}

template <int WP> __device__ __forceinline__ void load_words(const uint8_t *p, uint32_t *o) {
  if (WP == 1) {
    o[0] = ld_stream4(p);
  } else if (WP == 2) {
    uint2 v = ld_stream8(p);
    o[0] = v.x;
    o[1] = v.y;
  } else {
#pragma unroll
    for (int k = 0; k < WP / 4; k++) {
      uint4 v = ld_stream16(p + 16 * k);
      o[4 * k] = v.x;
      o[4 * k + 1] = v.y;
      o[4 * k + 2] = v.z;
      o[4 * k + 3] = v.w;
    }
  }
}

// acc[mt][i] of lane (g, t): row mt*16 + g + 8*(i>>1), x row 2t + (i&1);
// the block's warps (K slices) add up in shared memory.
template <typename T, int MT>
__device__ __forceinline__ void mma_store(const float (*acc)[4], float *red, T *y, int M, int N,
                                          int row0) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, KS = blockDim.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  if (KS == 1) {
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int row = row0 + mt * 16 + g + 8 * (i >> 1), col = 2 * t + (i & 1);
        if (col < M && row < N) y[(int64_t)col * N + row] = from_f<T>(acc[mt][i]);
      }
    return;
  }
  constexpr int TR = 16 * MT;
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int rl = mt * 16 + g + 8 * (i >> 1), col = 2 * t + (i & 1);
      if (col < M) red[(warp * 8 + col) * TR + rl] = acc[mt][i];
    }
  __syncthreads();
  for (int idx = threadIdx.x; idx < TR * M; idx += blockDim.x) {
    const int rl = idx % TR, col = idx / TR;
    float s = 0.f;
    for (int k = 0; k < KS; k++) s += red[(k * 8 + col) * TR + rl];
    if (row0 + rl < N) y[(int64_t)col * N + row0 + rl] = from_f<T>(s);
  }
}

// U consecutive 16-bit values (scales or biases of U groups) at a 2U-byte
// aligned address: one load.
template <int U> __device__ __forceinline__ void load_u16s(const void *p, uint32_t *o) {
  if (U == 1) {
    o[0] = __ldg((const unsigned short *)p);
  } else if (U == 2) {
    o[0] = __ldg((const uint32_t *)p);
  } else if (U == 4) {
    uint2 v = __ldg((const uint2 *)p);
    o[0] = v.x;
    o[1] = v.y;
  } else {
#pragma unroll
    for (int k = 0; k < U / 8; k++) {
      uint4 v = __ldg((const uint4 *)p + k);
      o[4 * k] = v.x;
      o[4 * k + 1] = v.y;
      o[4 * k + 2] = v.z;
      o[4 * k + 3] = v.w;
    }
  }
}
// The sum of 8 packed bf16 / f16 values (one 16-byte load), in f32.
template <typename T> __device__ __forceinline__ float sum8(uint4 v);
template <> __device__ __forceinline__ float sum8<__nv_bfloat16>(uint4 v) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; i++) s += __uint_as_float(w[i] << 16) + __uint_as_float(w[i] & 0xffff0000u);
  return s;
}
template <> __device__ __forceinline__ float sum8<__half>(uint4 v) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 f = __half22float2(*(const __half2 *)&w[i]);
    s += f.x + f.y;
  }
  return s;
}
// Element u of such a load, as a float.
template <typename T> __device__ __forceinline__ float u16_f(const uint32_t *o, int u);
template <> __device__ __forceinline__ float u16_f<__nv_bfloat16>(const uint32_t *o, int u) {
  const uint32_t v = o[u >> 1];
  return __uint_as_float((u & 1) ? v & 0xffff0000u : v << 16);
}
template <> __device__ __forceinline__ float u16_f<__half>(const uint32_t *o, int u) {
  const uint32_t v = o[u >> 1];
  return __half2float(__ushort_as_half((unsigned short)((u & 1) ? v >> 16 : v & 0xffffu)));
}

// B fragments of 8 consecutive x values (one 16-byte load) in the order the
// code words' nibble masks produce: 4-bit (x0,x4) (x1,x5) (x2,x6) (x3,x7),
// 8-bit two words of (x0,x2) (x1,x3).
template <int BITS> __device__ __forceinline__ uint4 x_frag8(uint4 v) {
  if (BITS == 4)
    return make_uint4(__byte_perm(v.x, v.z, 0x5410), __byte_perm(v.x, v.z, 0x7632),
                      __byte_perm(v.y, v.w, 0x5410), __byte_perm(v.y, v.w, 0x7632));
  return make_uint4(__byte_perm(v.x, v.y, 0x5410), __byte_perm(v.x, v.y, 0x7632),
                    __byte_perm(v.z, v.w, 0x5410), __byte_perm(v.z, v.w, 0x7632));
}

// The nibbles at bits P..P+3 and P+16..P+19 of v as a packed pair
// OFF + SCL * q: shifted to the top four mantissa bits (bf16: bits 3..6,
// f16: 6..9) and OR-ed into magic in one lop3 (the compiler splits
// "(v & m) | magic" in two when both constants are immediates).
template <typename T, int P> __device__ __forceinline__ uint32_t nib_pair(uint32_t v, uint32_t magic) {
  constexpr int TOP = mma_t<T>::nib_bit;
  constexpr uint32_t mask = (0xFu << TOP) | (0xFu << (TOP + 16));
  const uint32_t sh = P >= TOP ? v >> (P - TOP) : v << (TOP - P);
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(r) : "r"(sh), "n"(mask), "r"(magic));
  return r;
}


// One code word pair's MMAs for a 16-row tile: va (row g) and vb (row g+8)
// hold 8 4-bit codes (f: the word's four fragment words) or 4 8-bit codes
// (f.x, f.y: its two). 8-bit codes go to two nibble planes, c and ch.
template <typename T, int BITS>
__device__ __forceinline__ void mma_word(float *c, float *ch, uint32_t va, uint32_t vb, uint4 f,
                                         uint32_t magic) {
  using MM = mma_t<T>;
  if (BITS == 4) {
    MM::mma(c, nib_pair<T, 0>(va, magic), nib_pair<T, 0>(vb, magic), nib_pair<T, 4>(va, magic),
            nib_pair<T, 4>(vb, magic), f.x, f.y);
    MM::mma(c, nib_pair<T, 8>(va, magic), nib_pair<T, 8>(vb, magic), nib_pair<T, 12>(va, magic),
            nib_pair<T, 12>(vb, magic), f.z, f.w);
  } else {
    MM::mma(c, nib_pair<T, 0>(va, magic), nib_pair<T, 0>(vb, magic), nib_pair<T, 8>(va, magic),
            nib_pair<T, 8>(vb, magic), f.x, f.y);
    MM::mma(ch, nib_pair<T, 4>(va, magic), nib_pair<T, 4>(vb, magic), nib_pair<T, 12>(va, magic),
            nib_pair<T, 12>(vb, magic), f.x, f.y);
  }
}

// A group's MMA sums into the accumulators (lane's rows g, g+8 = i >> 1,
// x columns 2t, 2t+1 = i & 1): y += s * sum x q + b * sx, with the codes'
// offset taken out through sx (see quant.cu, "tensor cores").
template <typename T, int BITS>
__device__ __forceinline__ void group_acc(float *acc, const float *c, const float *ch,
                                          const float *s, const float *b, float sx0, float sx1) {
  using MM = mma_t<T>;
  constexpr float RSCL = 1.f / MM::scl, OFS = MM::off / MM::scl * (BITS == 8 ? 17.f : 1.f);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int r = i >> 1;
    const float d = BITS == 8 ? fmaf(16.f, ch[i], c[i]) : c[i];
    acc[i] = fmaf(s[r] * RSCL, d, fmaf(fmaf(-OFS, s[r], b[r]), (i & 1) ? sx1 : sx0, acc[i]));
  }
}

// x staged in shared memory for the tensor-core GEMVs: the B fragments of
// every (x row m, group j, quad lane t) slot, XV = GS/4 values each, as
// words [m][j][t][XV/2], and the group sums xsum[j][8] (the MMA's 8
// columns; columns >= M are zero). Thread c takes 8 values (k = 8kc of row
// m); the GS/8 threads of a group (adjacent lanes) add their sums by
// shuffles. Threads 0..nthr-1 (whole warps) call it; it does not
// synchronize.
template <typename T, int BITS, int GS>
__device__ __forceinline__ void stage_x(const T *__restrict__ x, int M, int K, uint32_t *xfr,
                                        float *xsum, int nthr) {
  constexpr int CPG = GS / 8, XV = GS / 4;
  const int G = K / GS, kc8 = K / 8, total = M * kc8;
  // Four chunks per thread per round, all loads first: x comes from L2 and
  // a round trip per chunk would dominate a short kernel.
  for (int base = 0; base < total; base += 4 * nthr) {
    uint4 v[4];
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int c = base + q * nthr + threadIdx.x;
      const int m = c < total ? c / kc8 : 0, kc = c < total ? c - m * kc8 : 0;
      v[q] = c < total ? __ldg((const uint4 *)(x + (int64_t)m * K + kc * 8)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int q = 0; q < 4; q++) {
      const int c = base + q * nthr + threadIdx.x;
      const bool ok = c < total;
      const int m = ok ? c / kc8 : 0, kc = ok ? c - m * kc8 : 0;
      float s = sum8<T>(v[q]);
#pragma unroll
      for (int o = 1; o < CPG; o <<= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
      if (ok) {
        const int j = kc / CPG, within = (kc - j * CPG) * 8;  // value offset in the group
        const int tt = within / XV, wi8 = (within - tt * XV) / 8;
        uint4 *dst = (uint4 *)(xfr + (((int64_t)m * G + j) * 4 + tt) * (XV / 2)) + wi8;
        *dst = x_frag8<BITS>(v[q]);
        if (kc % CPG == 0) xsum[j * 8 + m] = s;
      }
    }
  }
  for (int i = threadIdx.x; i < G * (8 - M); i += nthr)
    xsum[(i / (8 - M)) * 8 + M + i % (8 - M)] = 0.f;
}

// WP consecutive 32-bit words from shared memory at a 4 * WP-byte aligned
// address (WP = 1, 2, 4 or 8), in the widest loads.
template <int WP> __device__ __forceinline__ void lds_words(const void *p, uint32_t *o) {
  if (WP == 1) {
    o[0] = *(const uint32_t *)p;
  } else if (WP == 2) {
    const uint2 v = *(const uint2 *)p;
    o[0] = v.x;
    o[1] = v.y;
  } else {
#pragma unroll
    for (int k = 0; k < WP / 4; k++) {
      const uint4 v = ((const uint4 *)p)[k];
      o[4 * k] = v.x;
      o[4 * k + 1] = v.y;
      o[4 * k + 2] = v.z;
      o[4 * k + 3] = v.w;
    }
  }
}


// kernel<<<grid, threads, smem, st>>>(args...), with the programmatic
// dependent launch attribute when pdl (host code, for the launchers).
template <typename... KArgs, typename... Args>
int launch_pdl(void (*kernel)(KArgs...), dim3 grid, int threads, size_t smem, cudaStream_t st,
               bool pdl, Args... args) {
  if (!pdl) {
    kernel<<<grid, threads, smem, st>>>(args...);
    return (int)cudaGetLastError();
  }
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = dim3((unsigned)threads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cudaLaunchAttribute at[1] = {};
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = at;
  cfg.numAttrs = 1;
  return (int)cudaLaunchKernelEx(&cfg, kernel, args...);
}

}  // namespace qdev

#endif
