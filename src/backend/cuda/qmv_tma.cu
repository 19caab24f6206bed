// qmv_tma.cu — the decode GEMV for MLX affine 4/8-bit weights (bf16/f16 x,
// M <= 8 rows of x) with the weights streamed by TMA bulk copies.
//
// Why: the register-fed kernels in quant.cu stall at ~45-55% of HBM speed
// on Llama-sized matrices although they are not instruction bound: HBM
// needs ~40 KB in flight per SM and registers hold only the next step or
// two of a warp's loads. Here one producer warp per block keeps NST stages
// of 16 rows x CG groups (weights, scales and biases: cp.async.bulk, one
// copy per row and array) in shared memory, so the bytes in flight are
// bounded by shared memory, not registers, and every row is read in
// contiguous 256-1024 byte runs. The consumer warps turn each stage into
// MMAs exactly as quant.cu's qmv_mma does (same k-slot layout, same
// offset-free dequantization, same x fragments staged once per block).
//
// Blocks are persistent: each takes tiles blockIdx.x, + gridDim.x, ...; the
// producer runs ahead across tile boundaries. Stage s is guarded by two
// mbarriers: full[s] (the producer's expect-tx; the copies complete it) and
// empty[s] (one arrival per consumer warp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "qmv_tma.h"
#include "quant_device.cuh"

namespace {

using namespace qdev;

constexpr int CG = 16;   // groups per stage
constexpr int NST = 4;   // stages
constexpr int NCW = 4;   // consumer warps (8 measured slower: gate_up 56 -> 44%)
constexpr int WPAD = 32; // bytes after each stage row: conflict-free quad reads

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}
__device__ __forceinline__ void mbar_init(uint64_t *b, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(b)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t *b, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(b)),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t *b) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(b)) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t *b, uint32_t parity) {
  asm volatile(
      "{\n .reg .pred p;\n"
      "W: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      " @!p bra W;\n}" ::"r"(smem_u32(b)),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void bulk_copy(void *dst, const void *src, uint32_t bytes,
                                          uint64_t *bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
          smem_u32(dst)),
      "l"(src), "r"(bytes), "r"(smem_u32(bar))
      : "memory");
}

template <int BITS, int GS> struct tma_geom {
  static constexpr int GRB = GS * BITS / 8;          // bytes of a group-row
  static constexpr int WST = CG * GRB + WPAD;         // bytes per stage row
  static constexpr int SB = CG * 2;                   // scale bytes per stage row
  static constexpr int STAGE = 16 * (WST + 2 * SB);   // bytes per stage
  static constexpr uint32_t TX = 16 * (CG * GRB + 2 * SB);  // bytes copied per stage
};

template <typename T, int BITS, int GS>
__global__ void __launch_bounds__((NCW + 1) * 32)
    qmv_tma(const T *__restrict__ x, const uint8_t *__restrict__ w, const T *__restrict__ sc,
            const T *__restrict__ bi, T *__restrict__ y, int M, int N, int K) {
  using Geo = tma_geom<BITS, GS>;
  using MM = mma_t<T>;
  constexpr int PB = GS * BITS / 32, WP = PB / 4, XV = GS / 4, FW = BITS == 4 ? 4 : 2;
  constexpr int GPW = CG / NCW;  // groups per consumer warp per stage
  extern __shared__ __align__(128) unsigned char dsm[];
  uint64_t *full = (uint64_t *)dsm, *empty = full + NST;
  unsigned char *stages = dsm + 128;
  const int G = K / GS, RB = K * BITS / 8;
  uint32_t *xfr = (uint32_t *)(stages + NST * Geo::STAGE);
  float *xsum = (float *)((unsigned char *)xfr + (size_t)M * K * sizeof(T));
  float *red = xsum + G * 8;  // [NCW][8 columns][16 rows]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int ntiles = (N + 15) / 16, nchunks = G / CG;

  if (threadIdx.x == 0) {
    for (int s = 0; s < NST; s++) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], NCW);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  pdl_trigger();

  if (warp == NCW) {
    // Producer: weights are settled before the previous kernel ends, so
    // the first stages stream in before pdl_wait (x is not touched here).
    int it = 0;
    for (int tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
      const int row = min(tile * 16 + (lane & 15), N - 1);  // tail rows: a valid row, unused
      for (int ch = 0; ch < nchunks; ch++, it++) {
        const int s = it % NST;
        mbar_wait(&empty[s], ((it / NST) & 1) ^ 1);
        unsigned char *st = stages + s * Geo::STAGE;
        if (lane == 0) mbar_expect_tx(&full[s], Geo::TX);
        __syncwarp();
        if (lane < 16) {
          const int j0 = ch * CG;
          bulk_copy(st + lane * Geo::WST, w + (int64_t)row * RB + (int64_t)j0 * Geo::GRB,
                    CG * Geo::GRB, &full[s]);
          unsigned char *ss = st + 16 * Geo::WST;
          bulk_copy(ss + lane * Geo::SB, sc + (int64_t)row * G + j0, Geo::SB, &full[s]);
          bulk_copy(ss + 16 * Geo::SB + lane * Geo::SB, bi + (int64_t)row * G + j0, Geo::SB,
                    &full[s]);
        }
      }
    }
    return;
  }

  // Consumers: x (the previous kernel's output) only after pdl_wait.
  pdl_wait();
  stage_x<T, BITS, GS>(x, M, K, xfr, xsum, NCW * 32);
  asm volatile("bar.sync 1, %0;" ::"n"(NCW * 32) : "memory");
  const int g = lane >> 2, t = lane & 3;
  const int xm = g < M ? g : M - 1;  // columns >= M: any finite x, never stored
  const uint4 *xfr_lane = (const uint4 *)(xfr + ((int64_t)xm * G * 4 + t) * (XV / 2));
  const uint32_t magic = MM::magic;
  int it = 0;
  for (int tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    for (int ch = 0; ch < nchunks; ch++, it++) {
      const int s = it % NST;
      mbar_wait(&full[s], (it / NST) & 1);
      const unsigned char *st = stages + s * Geo::STAGE;
      const unsigned char *ss = st + 16 * Geo::WST;
#pragma unroll
      for (int q = 0; q < GPW; q++) {
        const int jj = warp * GPW + q, j = ch * CG + jj;
        uint32_t va[WP], vb[WP];
        const unsigned char *wg = st + g * Geo::WST + jj * Geo::GRB + t * PB;
        lds_words<WP>(wg, va);
        lds_words<WP>(wg + 8 * Geo::WST, vb);
        const T *sr = (const T *)ss, *br = (const T *)(ss + 16 * Geo::SB);
        const float s2[2] = {to_f(sr[g * CG + jj]), to_f(sr[(g + 8) * CG + jj])};
        const float b2[2] = {to_f(br[g * CG + jj]), to_f(br[(g + 8) * CG + jj])};
        const float2 sx = *(const float2 *)(xsum + j * 8 + 2 * t);
        float c[4] = {0.f, 0.f, 0.f, 0.f}, chh[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int wi = 0; wi < WP; wi += 4 / FW) {
          const uint4 f = xfr_lane[(int64_t)j * (XV / 2) + (BITS == 4 ? wi : wi / 2)];
#pragma unroll
          for (int h = 0; h < (BITS == 4 ? 1 : 2); h++)
            mma_word<T, BITS>(c, chh, va[wi + h], vb[wi + h],
                              BITS == 4 ? f : (h ? make_uint4(f.z, f.w, 0, 0) : f), magic);
        }
        group_acc<T, BITS>(acc, c, chh, s2, b2, sx.x, sx.y);
      }
      __syncwarp();
      if (lane == 0) mbar_arrive(&empty[s]);
    }
    // The consumer warps' K slices meet in shared memory.
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int rl = g + 8 * (i >> 1), col = 2 * t + (i & 1);
      if (col < M) red[(warp * 8 + col) * 16 + rl] = acc[i];
    }
    asm volatile("bar.sync 1, %0;" ::"n"(NCW * 32) : "memory");
    for (int idx = threadIdx.x; idx < 16 * M; idx += NCW * 32) {
      const int rl = idx % 16, col = idx / 16, row = tile * 16 + rl;
      float v = 0.f;
#pragma unroll
      for (int k = 0; k < NCW; k++) v += red[(k * 8 + col) * 16 + rl];
      if (row < N) y[(int64_t)col * N + row] = from_f<T>(v);
    }
    asm volatile("bar.sync 1, %0;" ::"n"(NCW * 32) : "memory");
  }
}

template <typename T, int BITS, int GS>
int launch(const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
           int64_t N, int64_t K, cudaStream_t st, bool pdl) {
  using Geo = tma_geom<BITS, GS>;
  const int64_t G = K / GS;
  const size_t smem = 128 + (size_t)NST * Geo::STAGE + (size_t)M * K * 2 + (size_t)G * 32 +
                      (size_t)NCW * 8 * 16 * 4;
  if (smem > 200 * 1024) return CU_Q_UNSUPPORTED;
  auto kern = qmv_tma<T, BITS, GS>;
  static int per_sm = 0;  // resident blocks per SM at the largest shared size asked so far
  static size_t per_sm_smem = 0;
  static bool attr = false;
  if (!attr) {
    int e = (int)cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      200 * 1024);
    if (e) return e;
    attr = true;
  }
  if (smem != per_sm_smem) {
    int n = 0;
    int e = (int)cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kern, (NCW + 1) * 32, smem);
    if (e) return e;
    per_sm = n < 1 ? 1 : n;
    per_sm_smem = smem;
  }
  int dev = 0, sms = 132;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  const int64_t tiles = (N + 15) / 16;
  const int64_t grid = tiles < (int64_t)sms * per_sm ? tiles : (int64_t)sms * per_sm;
  return launch_pdl(kern, dim3((unsigned)grid), (NCW + 1) * 32, smem, st, pdl, (const T *)x,
                    (const uint8_t *)w, (const T *)s, (const T *)b, (T *)y, (int)M, (int)N, (int)K);
}

template <typename T, int BITS>
int by_gs(int gs, const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
          int64_t N, int64_t K, cudaStream_t st, bool pdl) {
  switch (gs) {
    case 32: return launch<T, BITS, 32>(x, w, s, b, y, M, N, K, st, pdl);
    case 64: return launch<T, BITS, 64>(x, w, s, b, y, M, N, K, st, pdl);
    case 128: return launch<T, BITS, 128>(x, w, s, b, y, M, N, K, st, pdl);
    default: return CU_Q_UNSUPPORTED;
  }
}

}  // namespace

template <typename T>
int qmv_tma_run(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
                void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
                cudaStream_t st, bool pdl) {
  if (nbatch != 1 || bt->nb != 0 || M < 1 || M > 8 || (bits != 4 && bits != 8)) return CU_Q_UNSUPPORTED;
  if (gs != 32 && gs != 64 && gs != 128) return CU_Q_UNSUPPORTED;
  const int64_t G = K / gs;
  // Whole stages; 16-byte aligned copies of every row's weights and scales.
  if (K % gs || G % CG || (K * bits / 8) % 16 || G % 8 || K * bits / 8 > (1 << 30))
    return CU_Q_UNSUPPORTED;
  if ((((uintptr_t)x | (uintptr_t)w | (uintptr_t)s | (uintptr_t)b) & 15)) return CU_Q_UNSUPPORTED;
  return bits == 4 ? by_gs<T, 4>(gs, x, w, s, b, y, M, N, K, st, pdl)
                   : by_gs<T, 8>(gs, x, w, s, b, y, M, N, K, st, pdl);
}

template int qmv_tma_run<__nv_bfloat16>(int, int, const void *, const void *, const void *,
                                        const void *, void *, int64_t, int64_t, int64_t,
                                        const cu_qbatch *, int64_t, cudaStream_t, bool);
template int qmv_tma_run<__half>(int, int, const void *, const void *, const void *, const void *,
                                 void *, int64_t, int64_t, int64_t, const cu_qbatch *, int64_t,
                                 cudaStream_t, bool);
