// qmv_pipe.cu — decode product y = x @ W^T (M <= 8 rows of x) for MLX
// affine 4/8-bit weights with f16/bf16 activations, with the weights
// streamed through shared memory.
//
// Status: opt-in (MLXC_QMV_PIPE=1), not the default: on an H200 it reached
// 24-42% of copy bandwidth on the Llama decode shapes, below quant.cu's
// register-fed kernels (30-56%); see bench_cuda_quant. Kept, tested, as the
// base for the next attempt.
//
// Why: a GEMV at HBM speed needs ~32 KB of loads in flight per SM (Little's
// law: ~4.2 TB/s x ~1 us over 132 SMs). The register-fed kernels in quant.cu
// hold their loads in registers, so occupancy (112-128 registers per
// thread) caps the bytes in flight and they plateau at 40-55% of copy
// bandwidth. Here cp.async moves the weights, scales and biases of the
// next STAGES-1 stages into shared memory without holding registers, so a
// block keeps ~30 KB in flight at ~70 registers per thread, and the math is
// the tensor-core scheme of quant.cu's qmv_mma (codes become exact f16/bf16
// integers, mma.sync m16n8k16 forms the per-group dots, scale and bias apply
// per group).
//
// Layout: a block owns TR = 16 * RT output rows (RT row tiles) and walks
// all of K in stages of SG groups. Each tile has KSL = 4 warps; warp k of a
// tile takes groups k*SGW .. of each stage (128 bytes of every row), lane
// (g = lane/4, t = lane%4) the rows g and g + 8 of the tile and piece t of
// each group (as in qmv_mma). Shared rows are padded so the lanes of one
// load hit distinct banks. The K slices' partial sums meet in shared memory
// at the end. Measured on an H200 (bench_cuda_quant): with 4 warps per block
// and reads of x from global memory inside the math, the kernel was
// latency bound at ~25-47% of copy; more independent warps per SM and
// shorter MMA dependency chains are what it needs, not a deeper pipeline.
//
// x goes through shared memory too (its stage slice, M rows): read from
// global memory inside the math it put an L2 round trip on every stage's
// critical path, which cost more than the weights' streaming saved.
//
// Programmatic dependent launch: the prologue (the first STAGES-1 stages of
// weights) is issued before griddepcontrol.wait, x is read and y written
// after it (see quant_device.cuh).
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_quant.h"
#include "quant_device.cuh"

namespace {

using namespace qdev;

constexpr int KSL = 4;  // warps splitting K within a row tile

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}
// Weights and x bypass L1 (.cg); scales and biases are 8-byte pieces (.ca).
__device__ __forceinline__ void cp_async16(void *s, const void *g) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(smem_addr(s)), "l"(g) : "memory");
}
__device__ __forceinline__ void cp_async8(void *s, const void *g) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(smem_addr(s)), "l"(g) : "memory");
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Waits until at most n committed groups are pending (n is 0..4).
__device__ __forceinline__ void cp_wait(int n) {
  switch (n) {
    case 0: asm volatile("cp.async.wait_group 0;" ::: "memory"); break;
    case 1: asm volatile("cp.async.wait_group 1;" ::: "memory"); break;
    case 2: asm volatile("cp.async.wait_group 2;" ::: "memory"); break;
    case 3: asm volatile("cp.async.wait_group 3;" ::: "memory"); break;
    default: asm volatile("cp.async.wait_group 4;" ::: "memory"); break;
  }
}

// WP words of a lane's piece from shared memory (4 * WP bytes, aligned).
template <int WP> __device__ __forceinline__ void lds_words(const uint8_t *p, uint32_t *o) {
  if (WP == 1) {
    o[0] = *(const uint32_t *)p;
  } else if (WP == 2) {
    uint2 v = *(const uint2 *)p;
    o[0] = v.x;
    o[1] = v.y;
  } else {
#pragma unroll
    for (int k = 0; k < WP / 4; k++) {
      uint4 v = *(const uint4 *)(p + 16 * k);
      o[4 * k] = v.x;
      o[4 * k + 1] = v.y;
      o[4 * k + 2] = v.z;
      o[4 * k + 3] = v.w;
    }
  }
}

// Compile-time geometry: RT row tiles of 16 rows per block, KSL warps per
// tile splitting each stage's groups.
template <int BITS, int GS, int RT> struct pipe_geom {
  static constexpr int NW = KSL * RT;            // warps per block
  static constexpr int TR = 16 * RT;             // rows per block
  static constexpr int GRB = GS * BITS / 8;      // bytes of one group-row (16..128)
  static constexpr int PB = GRB / 4;             // bytes of a lane's piece
  static constexpr int WP = PB / 4;              // words of it
  static constexpr int SGW = 128 / GRB;          // groups per warp per stage
  static constexpr int SG = SGW * KSL;           // groups per stage
  static constexpr int SB = SG * GRB;            // weight bytes per row per stage (512)
  // Row pitch: rows g = 0..7 of a load start 4*PB bytes apart modulo 128,
  // so the quad pieces of consecutive lanes are consecutive bytes.
  static constexpr int RS = SB + (4 * PB < 128 ? 4 * PB : 16);
  static constexpr int WBYTES = TR * RS;          // weights of a stage
  static constexpr int SBYTES = TR * SG * 2;      // scales (and as many biases)
  static constexpr int XVALS = SG * GS;           // x values of a stage
  // x row pitch: 16 bytes of padding put the lanes (g, t) of one 16-byte
  // load on distinct bank groups.
  static constexpr int XRS = XVALS * 2 + 16;
  // A stage's bytes for M rows of x.
  static __host__ __device__ constexpr int stage(int M) { return WBYTES + 2 * SBYTES + M * XRS; }
};

// One group's contribution for lane (g, t) of a warp: rows g and g + 8 of
// its tile (wr: the tile's first row in the stage buffer), x from the
// stage's x rows. Two accumulator pairs halve the MMA dependency chain.
template <typename T, int BITS, int GS, int WP>
__device__ __forceinline__ void group_dot(const uint8_t *wrow_g, const uint8_t *wrow_g8,
                                          const T *xg, bool xon, float s0, float b0s, float s1,
                                          float b1s, float *acc) {
  using MM = mma_t<T>;
  uint32_t va_[WP], vb_[WP];
  lds_words<WP>(wrow_g, va_);
  lds_words<WP>(wrow_g8, vb_);
  float c[4] = {0.f, 0.f, 0.f, 0.f}, c2[4] = {0.f, 0.f, 0.f, 0.f};
  float ch[4] = {0.f, 0.f, 0.f, 0.f}, cx[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int wi = 0; wi < WP; wi++) {
    const uint32_t va = va_[wi], vb = vb_[wi];
    if (BITS == 4) {
      uint4 xr = xon ? *(const uint4 *)(xg + wi * 8) : make_uint4(0, 0, 0, 0);
      // (x0,x4) (x1,x5) (x2,x6) (x3,x7): the nibble pairs' order.
      const uint32_t p0 = __byte_perm(xr.x, xr.z, 0x5410), p1 = __byte_perm(xr.x, xr.z, 0x7632);
      const uint32_t p2 = __byte_perm(xr.y, xr.w, 0x5410), p3 = __byte_perm(xr.y, xr.w, 0x7632);
      MM::mma(c, nib2<T>(va), nib2<T>(vb), nib2<T>(va >> 4), nib2<T>(vb >> 4), p0, p1);
      MM::mma(c2, nib2<T>(va >> 8), nib2<T>(vb >> 8), nib2<T>(va >> 12), nib2<T>(vb >> 12), p2,
              p3);
      MM::mma(cx, MM::one, MM::one, MM::one, MM::one, p0, p1);
      MM::mma(cx, MM::one, MM::one, MM::one, MM::one, p2, p3);
    } else {
      uint2 xr = xon ? *(const uint2 *)(xg + wi * 4) : make_uint2(0, 0);
      // (x0,x2) (x1,x3): bytes 0,2 and 1,3 of the word pair up.
      const uint32_t p0 = __byte_perm(xr.x, xr.y, 0x5410), p1 = __byte_perm(xr.x, xr.y, 0x7632);
      MM::mma((wi & 1) ? c2 : c, nib2<T>(va), nib2<T>(vb), nib2<T>(va >> 8), nib2<T>(vb >> 8), p0,
              p1);
      MM::mma(ch, nib2<T>(va >> 4), nib2<T>(vb >> 4), nib2<T>(va >> 12), nib2<T>(vb >> 12), p0,
              p1);
      MM::mma(cx, MM::one, MM::one, MM::one, MM::one, p0, p1);
    }
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float d = BITS == 8 ? fmaf(16.f, ch[i], c[i] + c2[i]) : c[i] + c2[i];
    const float sv = (i >> 1) ? s1 : s0, bv = (i >> 1) ? b1s : b0s;
    acc[i] = fmaf(sv, d, fmaf(bv, cx[i & 1], acc[i]));
  }
}

template <typename T, int BITS, int GS, int RT>
__global__ void __launch_bounds__(KSL * RT * 32, RT == 2 ? 3 : 5)
    qmv_pipe(const T *__restrict__ x, const uint8_t *__restrict__ w, const T *__restrict__ sc,
             const T *__restrict__ bi, T *__restrict__ y, int M, int N, int K, int stages,
             cu_qbatch bt) {
  using Gm = pipe_geom<BITS, GS, RT>;
  constexpr int NW = Gm::NW, TR = Gm::TR, GRB = Gm::GRB, PB = Gm::PB, WP = Gm::WP,
                SGW = Gm::SGW, SG = Gm::SG, RS = Gm::RS;
  constexpr int XV = GS / 4;           // x values per lane per group
  constexpr int XCR = Gm::XVALS / 8;   // 16-byte x chunks per row per stage
  constexpr int CPR = Gm::SB / 16;     // 16-byte weight chunks per row per stage
  constexpr int SCR = SG / 4;          // 8-byte scale chunks per row per stage
  extern __shared__ __align__(16) uint8_t smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int tile = warp / KSL, ks = warp % KSL;
  const BatchOff bo = batch_offsets(bt, blockIdx.y);
  x += bo.o[0];
  w += bo.o[1] * 4;
  sc += bo.o[2];
  bi += bo.o[3];
  y += (int64_t)blockIdx.y * M * N;
  const int G = K / GS;
  const int64_t RB = (int64_t)K * BITS / 8;
  const int row0 = blockIdx.x * TR;
  const int nst = (G + SG - 1) / SG;
  const int SBY = Gm::stage(M);
  pdl_trigger();

  // Stage s into buffer s % stages: weight chunk c of the stage is row
  // c / CPR, bytes (c % CPR) * 16 of the row's SB; a chunk never straddles
  // groups (groups are >= 16 bytes), so groups past G are simply skipped.
  auto issue_w = [&](int s) {
    uint8_t *buf = smem + (s % stages) * SBY;
    const int gbase = s * SG;
    for (int c = tid; c < TR * CPR; c += NW * 32) {
      const int r = c / CPR, k = c % CPR;
      if (gbase + k * 16 / GRB >= G) continue;
      const int64_t row = min(row0 + r, N - 1);  // tail rows: a valid row, never stored
      cp_async16(buf + r * RS + k * 16, w + row * RB + (int64_t)gbase * GRB + k * 16);
    }
    T *ss = (T *)(buf + Gm::WBYTES);
    for (int c = tid; c < 2 * TR * SCR; c += NW * 32) {
      const int which = c / (TR * SCR), rc = c % (TR * SCR), r = rc / SCR, k = rc % SCR;
      if (gbase + 4 * k >= G) continue;
      const int64_t row = min(row0 + r, N - 1);
      const T *src = (which ? bi : sc) + row * G + gbase + 4 * k;
      cp_async8(ss + which * TR * SG + r * SG + 4 * k, src);
    }
  };
  auto issue_x = [&](int s) {
    uint8_t *xb = smem + (s % stages) * SBY + Gm::WBYTES + 2 * Gm::SBYTES;
    const int64_t v0 = (int64_t)s * Gm::XVALS;
    for (int c = tid; c < M * XCR; c += NW * 32) {
      const int m = c / XCR, k = c % XCR;
      if (v0 + k * 8 >= K) continue;
      cp_async16(xb + m * Gm::XRS + k * 16, x + (int64_t)m * K + v0 + k * 8);
    }
  };

  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  const bool xon = g < M;
  const int rg = tile * 16 + g;  // the lane's first row in the block

  // Groups: the prologue's weights one per stage, then (after the wait)
  // the prologue's x in one; from then on one group per stage.
  for (int s = 0; s < stages - 1; s++) {
    if (s < nst) issue_w(s);
    cp_commit();
  }
  pdl_wait();
  for (int s = 0; s < stages - 1 && s < nst; s++) issue_x(s);
  cp_commit();

  for (int s = 0; s < nst; s++) {
    cp_wait(s == 0 ? 0 : stages - 2);
    __syncthreads();  // stage s landed for all; stage s-1's buffer is free
    if (s + stages - 1 < nst) {
      issue_w(s + stages - 1);
      issue_x(s + stages - 1);
    }
    cp_commit();
    const uint8_t *buf = smem + (s % stages) * SBY;
    const T *ss = (const T *)(buf + Gm::WBYTES);
    const T *xs = (const T *)(buf + Gm::WBYTES + 2 * Gm::SBYTES) + (xon ? g : 0) * (Gm::XRS / 2) +
                  t * XV;
    auto dot = [&](int u) {
      const int lg = ks * SGW + u;
      const T *sr = ss + rg * SG + lg, *br = sr + TR * SG;
      group_dot<T, BITS, GS, WP>(buf + rg * RS + lg * GRB + t * PB,
                                 buf + (rg + 8) * RS + lg * GRB + t * PB, xs + lg * GS, xon,
                                 to_f(sr[0]), to_f(br[0]), to_f(sr[8 * SG]), to_f(br[8 * SG]), acc);
    };
    // A full stage runs unchecked, so the compiler can interleave the
    // groups' independent MMA chains; the last stage may be partial.
    const int ng = min(SG, G - s * SG) - ks * SGW;
    if (ng >= SGW) {
#pragma unroll
      for (int u = 0; u < SGW; u++) dot(u);
    } else {
      for (int u = 0; u < ng; u++) dot(u);
    }
  }
  cp_wait(0);
  __syncthreads();  // the stage buffers become the reduction's scratch
  // acc[i] of lane (g, t): row rg + 8*(i>>1), x row 2t + (i&1); the KSL
  // warps of a tile add up in shared memory.
  float *red = (float *)smem;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int rl = rg + 8 * (i >> 1), col = 2 * t + (i & 1);
    if (col < M) red[(ks * 8 + col) * TR + rl] = acc[i];
  }
  __syncthreads();
  for (int idx = tid; idx < TR * M; idx += NW * 32) {
    const int rl = idx % TR, col = idx / TR;
    float v = 0.f;
#pragma unroll
    for (int k = 0; k < KSL; k++) v += red[(k * 8 + col) * TR + rl];
    if (row0 + rl < N) y[(int64_t)col * N + row0 + rl] = from_f<T>(v);
  }
}

int pipe_stages = 3, pipe_mt = 0;  // 0: automatic

template <typename T, int BITS, int GS, int MT>
int launch(const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
           int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, bool pdl, cudaStream_t st) {
  using Gm = pipe_geom<BITS, GS, MT>;
  int stages = pipe_stages;  // fewer where M rows of x would not fit
  while (stages > 2 && (size_t)stages * Gm::stage((int)M) > (size_t)227 * 1024) stages--;
  size_t smem = (size_t)stages * Gm::stage((int)M);
  const size_t red = (size_t)KSL * 8 * Gm::TR * sizeof(float);
  if (smem < red) smem = red;
  static size_t opted = 48 * 1024;  // per instantiation: the opt-in done so far
  if (smem > opted) {
    cudaError_t e = cudaFuncSetAttribute(qmv_pipe<T, BITS, GS, MT>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    opted = smem;
  }
  dim3 grid((unsigned)((N + Gm::TR - 1) / Gm::TR), (unsigned)nbatch);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(Gm::NW * 32);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cudaLaunchAttribute at[1] = {};
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = at;
  cfg.numAttrs = pdl ? 1 : 0;
  return (int)cudaLaunchKernelEx(&cfg, qmv_pipe<T, BITS, GS, MT>, (const T *)x, (const uint8_t *)w,
                                 (const T *)s, (const T *)b, (T *)y, (int)M, (int)N, (int)K,
                                 stages, *bt);
}

template <typename T, int BITS, int GS>
int by_mt(const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
          int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, bool pdl, cudaStream_t st) {
  const int mt = pipe_mt ? pipe_mt : 2;
  if (mt == 2) return launch<T, BITS, GS, 2>(x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
  return launch<T, BITS, GS, 1>(x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
}

template <typename T, int BITS>
int by_gs(int gs, const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
          int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, bool pdl, cudaStream_t st) {
  switch (gs) {
    case 32: return by_mt<T, BITS, 32>(x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
    case 64: return by_mt<T, BITS, 64>(x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
    case 128: return by_mt<T, BITS, 128>(x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

template <typename T>
int typed(int bits, int gs, const void *x, const void *w, const void *s, const void *b, void *y,
          int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, bool pdl,
          cudaStream_t st) {
  if (bits == 4) return by_gs<T, 4>(gs, x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
  return by_gs<T, 8>(gs, x, w, s, b, y, M, N, K, bt, nbatch, pdl, st);
}

}  // namespace

extern "C" void cu_qmv_pipe_set(int stages, int mt) {
  pipe_stages = stages >= 2 && stages <= 6 ? stages : 3;
  pipe_mt = mt == 1 || mt == 2 ? mt : 0;
}

extern "C" int cu_qmv_pipe(mx_dtype t, int bits, int gs, const void *x, const void *w,
                           const void *scales, const void *biases, void *y, int64_t M, int64_t N,
                           int64_t K, const cu_qbatch *bt, int64_t nbatch, int pdl,
                           void *stream) {
  if (M < 1 || M > 8 || (bits != 4 && bits != 8) || (gs != 32 && gs != 64 && gs != 128) ||
      K % gs || N < 1 || nbatch < 1 || nbatch > 65535 || N > INT32_MAX || K > INT32_MAX)
    return CU_Q_UNSUPPORTED;
  const int64_t G = K / gs;
  // 16-byte weight chunks, 8-byte scale chunks, 16-byte x loads.
  if (G % 4 || ((uintptr_t)w & 15) || ((uintptr_t)x & 15) || (((uintptr_t)scales |
      (uintptr_t)biases) & 7))
    return CU_Q_UNSUPPORTED;
  for (int d = 0; d < bt->nb; d++)
    if ((bt->stride[0][d] * 2) % 16 || (bt->stride[1][d] * 4) % 16 || bt->stride[2][d] % 4 ||
        bt->stride[3][d] % 4)
      return CU_Q_UNSUPPORTED;
  cudaStream_t st = (cudaStream_t)stream;
  switch (t) {
    case MX_FLOAT16:
      return typed<__half>(bits, gs, x, w, scales, biases, y, M, N, K, bt, nbatch, pdl != 0, st);
    case MX_BFLOAT16:
      return typed<__nv_bfloat16>(bits, gs, x, w, scales, biases, y, M, N, K, bt, nbatch,
                                  pdl != 0, st);
    default: return CU_Q_UNSUPPORTED;
  }
}
