// qgemm.cu — fused dequantize + tensor-core GEMM for quantized prefill:
// y = x @ W^T with W in MLX's affine 4/8-bit format (see qgemm.h).
//
// Why: the dequantize + cuBLAS path writes W as bf16 to HBM and reads it
// back (4-8x the packed bytes), and splits the work into two kernels per
// 64M-value tile. Here W travels packed from HBM to shared memory and is
// dequantized there, once per block, right before the tensor cores use it.
//
// Block: BM x BN outputs, 256 threads, K in steps of BK = 64. A STAGES-deep
// cp.async pipeline brings the x tile (BM rows of 128 bytes, 16-byte chunk
// c of row r stored at chunk c ^ (r & 7): conflict-free for ldmatrix, and
// exactly wgmma's 128-byte-swizzle K-major layout) and the packed W tile
// (BN rows of 32 / 64 bytes, swizzled likewise for the dequantizing reads).
// Each thread turns its packed words of tile kt+1 into bf16/f16 values in
// a second, double-buffered shared tile (BN rows, x's layout) while the
// tensor cores work on tile kt; one __syncthreads per K step.
// Two MMA flavours:
// - mma.sync (configs 1-4): 8 warps as 2 (M) x 4 (N), fragments by
//   ldmatrix; the dequantizing instructions are interleaved with the MMAs
//   (a quarter per k16 step) to fill the issue slots the tensor cores leave;
// - wgmma (configs 5-6, sm_90a builds only): 2 warpgroups of 64 rows each
//   read both operands from shared memory through matrix descriptors,
//   asynchronously, while the same threads dequantize the next tile.
//
// Dequantization (value = round_t(s * q + b), one rounding, as exact as
// the dtype allows; MLX rounds s * q and then the sum):
// - 4-bit: a byte permute puts nibbles 2i and 2i+1 of a word into the low
//   bits of the two halves, OR 0x4300 (bf16 128.0) / 0x6400 (f16 1024.0)
//   makes them 128 + q / 1024 + q exactly, one packed fma removes the
//   offset (exact) and a second forms s * q + b;
// - 8-bit f16: a byte permute with 0x64 gives 1024 + q directly;
// - 8-bit bf16: 128 + q does not fit bf16's 7 mantissa bits for q >= 128,
//   so the values go through f32 (0x4B000000 | q = 2^23 + q, subtract, fma)
//   and are rounded to bf16 in pairs.
// Scales and biases for the next tile are prefetched into registers one
// step ahead. Rows past N, columns past K and x rows past M read as zeros
// (zero scales give zero weights); K must be a multiple of 32.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>

#include <atomic>
#include <type_traits>

#include "cuda_quant.h"
#include "qgemm.h"

namespace {

constexpr int BK = 64;
constexpr int NTHREADS = 256;

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                        uint32_t &r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

template <typename T> struct qt;
template <> struct qt<__nv_bfloat16> {
  static constexpr uint32_t magic = 0x43004300u;  // 128.0 pair
  static constexpr uint32_t neg = 0xC300C300u;    // -128.0 pair
  static constexpr uint32_t one = 0x3F803F80u;
  static __device__ __forceinline__ uint32_t fma2(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t r;
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
  }
  static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // (lo, hi) floats to a packed pair, rounded to nearest even.
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
  static __device__ __forceinline__ float to_f32(uint32_t bits16) {
    return __uint_as_float(bits16 << 16);
  }
};
template <> struct qt<__half> {
  static constexpr uint32_t magic = 0x64006400u;  // 1024.0 pair
  static constexpr uint32_t neg = 0xE400E400u;    // -1024.0 pair
  static constexpr uint32_t one = 0x3C003C00u;
  static __device__ __forceinline__ uint32_t fma2(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t r;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
  }
  static __device__ __forceinline__ void mma(float *c, const uint32_t *a, uint32_t b0,
                                             uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    uint32_t r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
  static __device__ __forceinline__ float to_f32(uint32_t bits16) {
    return __half2float(__ushort_as_half((unsigned short)bits16));
  }
};

// Eight values (one 16-byte chunk of the dequantized tile) from packed
// words: 4-bit uses word w[0], 8-bit words w[0], w[1]. s, b: the group's
// scale and bias as raw 16-bit patterns.
template <typename T, int BITS>
__device__ __forceinline__ uint4 deq8(const uint32_t *w, uint32_t s, uint32_t b) {
  using Q = qt<T>;
  uint4 r;
  uint32_t *o = &r.x;
  if constexpr (BITS == 4) {
    const uint32_t s2 = s | (s << 16), b2 = b | (b << 16);
    const uint32_t v = w[0], v4 = v >> 4;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      // byte 0 <- byte i of v (low nibble q[2i]), byte 2 <- byte i of v >> 4
      // (low nibble q[2i+1])
      uint32_t p = __byte_perm(v, v4, (uint32_t)(i | (i << 4) | ((4 + i) << 8) | ((4 + i) << 12)));
      p = (p & 0x000F000Fu) | Q::magic;
      o[i] = Q::fma2(Q::fma2(p, Q::one, Q::neg), s2, b2);
    }
  } else if constexpr (std::is_same<T, __half>::value) {  // f16, 8-bit
    const uint32_t s2 = s | (s << 16), b2 = b | (b << 16);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint32_t v = w[i >> 1];
      const uint32_t j = (uint32_t)((i & 1) * 2);
      // byte 0 <- byte j, byte 2 <- byte j + 1, bytes 1 and 3 <- 0x64
      uint32_t p = __byte_perm(v, 0x64646464u, j | (4u << 4) | ((j + 1) << 8) | (4u << 12));
      o[i] = Q::fma2(Q::fma2(p, Q::one, Q::neg), s2, b2);
    }
  } else {  // bf16, 8-bit: through f32
    const float sf = Q::to_f32(s), bf = Q::to_f32(b);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint32_t v = w[i >> 1];
      const uint32_t j = (uint32_t)((i & 1) * 2);
      float f0 = __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7650u | j)) - 8388608.0f;
      float f1 = __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7650u | (j + 1))) - 8388608.0f;
      o[i] = Q::pack(fmaf(f0, sf, bf), fmaf(f1, sf, bf));
    }
  }
  return r;
}

template <int BITS> __device__ __forceinline__ int raw_swz(int r) {
  return BITS == 4 ? (r >> 2) & 1 : (r >> 1) & 3;
}

struct Args {
  const void *x;
  const uint8_t *w;
  const uint16_t *sc, *bi;
  void *y;
  int M, N, K, gshift;
  int sb16;  // scale and bias rows 16-byte aligned: they go through shared memory
};

// The loads and the dequantization shared by both MMA flavours. Shared
// memory: STAGES x tiles (BM rows of 128 bytes, chunk c of row r at
// chunk c ^ (r & 7) — also wgmma's 128-byte-swizzle K-major layout when the
// tile is 1024-byte aligned), STAGES packed W tiles, 2 dequantized W tiles
// (BN rows, x's layout).
template <typename T, int BITS, int BM, int BN, int STAGES> struct Tiles {
  static constexpr int RB = BK * BITS / 8;  // packed bytes per W row per K step
  static constexpr int RC = RB / 16;        // their 16-byte chunks
  static constexpr int XS = BM * BK * 2, WS = BN * RB, DS = BN * BK * 2;
  static constexpr int TPR = NTHREADS / BN;  // dequantizing threads per W row
  static constexpr int KPT = BK / TPR;       // values per dequantizing thread
  static constexpr int WPT = KPT * BITS / 32;
  static constexpr int CPT = KPT / 8;  // 16-byte output chunks per thread
  // Scales and biases, when sb16: chunks of 8 groups per row (16 bytes),
  // two buffers x {scales, biases} x BN rows.
  static constexpr int SS = BN * 16;
  static constexpr size_t SMEM = 2 * (size_t)DS + (size_t)STAGES * (XS + WS) + 4 * (size_t)SS;
  static_assert(CPT % 4 == 0 && TPR >= 1, "tile shape");

  unsigned char *sd, *sx, *sw, *ss;  // dequantized, x, packed, scales
  const T *x;
  const uint8_t *w;
  const uint16_t *sc, *bi;
  int M, N, K, gshift, m0, n0, tid, dr, dh, dn, sb16, G;
  int64_t wrow, srow;

  __device__ __forceinline__ Tiles(const Args &a, unsigned char *base) {
    sd = base;
    sx = sd + 2 * DS;
    sw = sx + STAGES * XS;
    ss = sw + STAGES * WS;
    sb16 = a.sb16;
    x = (const T *)a.x;
    w = a.w;
    sc = a.sc;
    bi = a.bi;
    M = a.M;
    N = a.N;
    K = a.K;
    gshift = a.gshift;
    m0 = blockIdx.x * BM;
    n0 = blockIdx.y * BN;
    tid = threadIdx.x;
    dr = tid / TPR;
    dh = tid % TPR;
    dn = n0 + dr;
    wrow = (int64_t)K * BITS / 8;
    G = K >> gshift;
    srow = (int64_t)dn * G;
  }

  __device__ __forceinline__ void load_tile(int kt, int stage) const {
    const int k0 = kt * BK;
    unsigned char *dx = sx + stage * XS;
#pragma unroll
    for (int i = tid; i < BM * 8; i += NTHREADS) {
      const int r = i >> 3, c = i & 7;
      const int gm = m0 + r, gk = k0 + c * 8;
      const bool ok = gm < M && gk < K;
      const T *src = ok ? x + (int64_t)gm * K + gk : x;
      cp_async16(smem_u32(dx + r * 128 + ((c ^ (r & 7)) << 4)), src, ok ? 16 : 0);
    }
    unsigned char *dw = sw + stage * WS;
#pragma unroll
    for (int i = tid; i < BN * RC; i += NTHREADS) {
      const int r = i / RC, c = i % RC;
      const int gn = n0 + r, gk = k0 + c * (128 / BITS);
      const bool ok = gn < N && gk < K;
      const uint8_t *src = ok ? w + gn * wrow + (int64_t)gk * BITS / 8 : w;
      cp_async16(smem_u32(dw + r * RB + ((c ^ raw_swz<BITS>(r)) << 4)), src, ok ? 16 : 0);
    }
    // A new chunk of 8 groups starts at this tile (tiles per chunk:
    // 8 gs / 64 = 2^(gshift - 3)): its scales and biases for the BN rows.
    if (sb16 && (kt & ((1 << (gshift - 3)) - 1)) == 0) {
      const int g0 = k0 >> gshift, buf = (kt >> (gshift - 3)) & 1;
      for (int i = tid; i < 2 * BN; i += NTHREADS) {
        const int r = i % BN, arr = i / BN;
        const int gn = n0 + r;
        const bool ok = gn < N;
        const uint16_t *src = ok ? (arr ? bi : sc) + (int64_t)gn * G + g0 : sc;
        cp_async16(smem_u32(ss + (buf * 2 + arr) * SS + r * 16), src, ok ? 16 : 0);
      }
    }
  }
  // Scale and bias of the groups holding the thread's values [0, 32) and
  // [32, 64) of tile kt (0 past N or K, so those weights become 0).
  // (From global memory; sb16 == 0.)
  __device__ __forceinline__ void load_sb(int kt, uint32_t *s, uint32_t *b) const {
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int k = kt * BK + dh * KPT + h * 32;
      const bool ok = dn < N && k < K && (h == 0 || KPT == 64);
      const int64_t gi = srow + (k >> gshift);
      s[h] = ok ? (uint32_t)__ldg(sc + gi) : 0u;
      b[h] = ok ? (uint32_t)__ldg(bi + gi) : 0u;
    }
  }
  // The same from the shared chunks (sb16; tile kt's chunk has landed).
  __device__ __forceinline__ void smem_sb(int kt, uint32_t *s, uint32_t *b) const {
    const int buf = (kt >> (gshift - 3)) & 1;
    const uint16_t *ps = reinterpret_cast<const uint16_t *>(ss + buf * 2 * SS + dr * 16);
    const uint16_t *pb = reinterpret_cast<const uint16_t *>(ss + (buf * 2 + 1) * SS + dr * 16);
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int k = kt * BK + dh * KPT + h * 32;
      const bool ok = k < K && (h == 0 || KPT == 64);
      const int gi = (k >> gshift) & 7;
      s[h] = ok ? (uint32_t)ps[gi] : 0u;
      b[h] = ok ? (uint32_t)pb[gi] : 0u;
    }
  }
  // Scales for tile kt+1 in iteration kt: from shared memory, or the
  // registers prefetched one iteration earlier (then prefetch kt+2).
  __device__ __forceinline__ void next_sb(int kt, uint32_t *cs, uint32_t *cb, uint32_t *ns,
                                          uint32_t *nb) const {
    if (sb16) {
      smem_sb(kt + 1, cs, cb);
    } else {
      cs[0] = ns[0];
      cs[1] = ns[1];
      cb[0] = nb[0];
      cb[1] = nb[1];
      load_sb(kt + 2, ns, nb);
    }
  }
  __device__ __forceinline__ void first_sb(uint32_t *cs, uint32_t *cb, uint32_t *ns,
                                           uint32_t *nb) const {
    if (sb16) {
      smem_sb(0, cs, cb);
    } else {
      load_sb(0, cs, cb);
      load_sb(1, ns, nb);
    }
  }
  __device__ __forceinline__ void read_raw(int stage, uint32_t *raw) const {
    const unsigned char *src = sw + stage * WS + dr * RB;
#pragma unroll
    for (int j = 0; j < RC / TPR; j++) {
      const int c = dh * (RC / TPR) + j;
      uint4 v = *reinterpret_cast<const uint4 *>(src + ((c ^ raw_swz<BITS>(dr)) << 4));
      raw[4 * j] = v.x;
      raw[4 * j + 1] = v.y;
      raw[4 * j + 2] = v.z;
      raw[4 * j + 3] = v.w;
    }
  }
  // Output chunks [part * CPT/4, +CPT/4) of the thread's values into
  // dequantized buffer buf.
  __device__ __forceinline__ void deq_part(int part, const uint32_t *raw, const uint32_t *s,
                                           const uint32_t *b, int buf) const {
    unsigned char *dst = sd + buf * DS + dr * 128;
#pragma unroll
    for (int j = 0; j < CPT / 4; j++) {
      const int cc = part * (CPT / 4) + j;
      const int h = cc * 8 >= 32 ? 1 : 0;
      uint4 v = deq8<T, BITS>(raw + cc * (BITS / 4), s[h], b[h]);
      const int c = dh * CPT + cc;
      *reinterpret_cast<uint4 *>(dst + ((c ^ (dr & 7)) << 4)) = v;
    }
  }
};

// y[row][col], y[row][col + 1] from a pair of accumulators.
template <typename T>
__device__ __forceinline__ void store2(T *y, int M, int N, int row, int col, float v0, float v1) {
  if (row >= M) return;
  T *yr = y + (int64_t)row * N;
  const uint32_t p = qt<T>::pack(v0, v1);
  if ((N & 1) == 0 && col + 1 < N) {
    *reinterpret_cast<uint32_t *>(yr + col) = p;
  } else {
    if (col < N) reinterpret_cast<uint16_t *>(yr)[col] = (uint16_t)p;
    if (col + 1 < N) reinterpret_cast<uint16_t *>(yr)[col + 1] = (uint16_t)(p >> 16);
  }
}

// ---- mma.sync: 8 warps as 2 (M) x 4 (N), fragments by ldmatrix.
template <typename T, int BITS, int BM, int BN, int STAGES>
__device__ __forceinline__ void body_mma(const Args &args, unsigned char *smem) {
  using Q = qt<T>;
  using TL = Tiles<T, BITS, BM, BN, STAGES>;
  constexpr int WM = BM / 2, WN = BN / 4;
  constexpr int MT = WM / 16, NT = WN / 8;
  static_assert(NT % 2 == 0 && MT >= 1, "warp tile");
  const TL tl(args, smem);
  const int lane = tl.tid & 31, warp = tl.tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  const int KT = (tl.K + BK - 1) / BK;

  float acc[MT][NT][4];
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < KT) tl.load_tile(s, s);
    cp_async_commit();
  }
  uint32_t cs[2], cb[2], ns[2], nb[2], raw[TL::WPT];
  cp_async_wait<STAGES - 2>();
  __syncthreads();
  tl.first_sb(cs, cb, ns, nb);
  tl.read_raw(0, raw);
#pragma unroll
  for (int p = 0; p < 4; p++) tl.deq_part(p, raw, cs, cb, 0);

  const int arow = wm * WM + (lane & 15), achk = lane >> 4;
  const int brow = wn * WN + (lane & 7) + ((lane >> 4) << 3), bchk = (lane >> 3) & 1;

  for (int kt = 0; kt < KT; kt++) {
    cp_async_wait<STAGES - 3>();
    __syncthreads();
    {
      const int nk = kt + STAGES - 1;
      if (nk < KT) tl.load_tile(nk, nk % STAGES);
      cp_async_commit();
    }
    tl.next_sb(kt, cs, cb, ns, nb);
    tl.read_raw((kt + 1) % STAGES, raw);
    const uint32_t xa = smem_u32(tl.sx + (kt % STAGES) * TL::XS);
    const uint32_t da = smem_u32(tl.sd + (kt & 1) * TL::DS);
#pragma unroll
    for (int ks = 0; ks < 4; ks++) {
      uint32_t a[MT][4], b[NT][2];
#pragma unroll
      for (int i = 0; i < MT; i++) {
        const int r = arow + i * 16, c = ks * 2 + achk;
        ldsm_x4(xa + r * 128 + ((c ^ (r & 7)) << 4), a[i][0], a[i][1], a[i][2], a[i][3]);
      }
#pragma unroll
      for (int j = 0; j < NT / 2; j++) {
        const int r = brow + j * 16, c = ks * 2 + bchk;
        ldsm_x4(da + r * 128 + ((c ^ (r & 7)) << 4), b[2 * j][0], b[2 * j][1], b[2 * j + 1][0],
                b[2 * j + 1][1]);
      }
      // Tile kt+1's values, a quarter per k16 step, between the MMAs.
      tl.deq_part(ks, raw, cs, cb, (kt + 1) & 1);
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++) Q::mma(acc[i][j], a[i], b[j][0], b[j][1]);
    }
  }
  cp_async_wait<0>();

  const int g = lane >> 2, t = lane & 3;
  T *y = (T *)args.y;
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int j = 0; j < NT; j++) {
      const int row = tl.m0 + wm * WM + i * 16 + g, col = tl.n0 + wn * WN + j * 8 + 2 * t;
      store2(y, tl.M, tl.N, row, col, acc[i][j][0], acc[i][j][1]);
      store2(y, tl.M, tl.N, row + 8, col, acc[i][j][2], acc[i][j][3]);
    }
}

template <typename T, int BITS, int BM, int BN, int STAGES, int MINB>
__global__ void __launch_bounds__(NTHREADS, MINB) qgemm_mma(Args args) {
  extern __shared__ __align__(128) unsigned char smem[];
  body_mma<T, BITS, BM, BN, STAGES>(args, smem);
}

// ---- wgmma (sm_90a only): 2 warpgroups, each 64 rows x BN of the block
// (BM = 128), operands read by the tensor cores straight from the swizzled
// shared tiles through matrix descriptors. The MMAs of tile kt run
// asynchronously while the threads dequantize tile kt+1. Built for plain
// sm_90 (no wgmma), the kernel runs the mma.sync body instead.
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QGEMM_HAVE_WGMMA 1
// 128-byte swizzle, K-major: rows of 128 bytes in groups of 8 rows
// (1024 bytes, the stride byte offset); the leading byte offset is unused.
__device__ __forceinline__ uint64_t wg_desc(uint32_t saddr) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
         ((uint64_t)1 << 62);
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wg_wait0() {
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Keeps the compiler from touching accumulators while an MMA owns them.
template <int R> __device__ __forceinline__ void fence_regs(float *d) {
#pragma unroll
  for (int i = 0; i < R; i++) asm volatile("" : "+f"(d[i])::"memory");
}
__device__ __forceinline__ void wgmma_bf16_n128(float *d, uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_bf16_n256(float *d, uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_f16_n128(float *d, uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_f16_n256(float *d, uint64_t da, uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(da), "l"(db), "r"(1));
}
template <typename T, int BN>
__device__ __forceinline__ void wgmma(float *d, uint64_t da, uint64_t db) {
  if constexpr (std::is_same<T, __nv_bfloat16>::value) {
    if constexpr (BN == 128) wgmma_bf16_n128(d, da, db);
    else wgmma_bf16_n256(d, da, db);
  } else {
    if constexpr (BN == 128) wgmma_f16_n128(d, da, db);
    else wgmma_f16_n256(d, da, db);
  }
}
#endif

template <typename T, int BITS, int BN, int STAGES>
__global__ void __launch_bounds__(NTHREADS, 1) qgemm_wg(Args args) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // wgmma's swizzle is anchored to 1024-byte address boundaries.
  unsigned char *smem = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);
#if defined(QGEMM_HAVE_WGMMA)
  constexpr int BM = 128, R = BN / 2;
  using TL = Tiles<T, BITS, BM, BN, STAGES>;
  const TL tl(args, smem);
  const int KT = (tl.K + BK - 1) / BK;
  const int wg = tl.tid >> 7;

  float acc[R];
#pragma unroll
  for (int i = 0; i < R; i++) acc[i] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < KT) tl.load_tile(s, s);
    cp_async_commit();
  }
  uint32_t cs[2], cb[2], ns[2], nb[2], raw[TL::WPT];
  cp_async_wait<STAGES - 2>();
  __syncthreads();
  tl.first_sb(cs, cb, ns, nb);
  tl.read_raw(0, raw);
#pragma unroll
  for (int p = 0; p < 4; p++) tl.deq_part(p, raw, cs, cb, 0);

  for (int kt = 0; kt < KT; kt++) {
    cp_async_wait<STAGES - 3>();
    // This thread's dequantized values and landed x bytes become visible
    // to the tensor cores' (async proxy) reads after the barrier.
    fence_proxy_async();
    __syncthreads();
    // The MMAs first, so the tensor cores start right after the barrier.
    const uint64_t da = wg_desc(smem_u32(tl.sx + (kt % STAGES) * TL::XS + wg * 64 * 128));
    const uint64_t db = wg_desc(smem_u32(tl.sd + (kt & 1) * TL::DS));
    fence_regs<R>(acc);
    wg_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ks++) wgmma<T, BN>(acc, da + 2 * ks, db + 2 * ks);  // +32 bytes
    wg_commit();
    {
      const int nk = kt + STAGES - 1;
      if (nk < KT) tl.load_tile(nk, nk % STAGES);
      cp_async_commit();
    }
    tl.next_sb(kt, cs, cb, ns, nb);
    tl.read_raw((kt + 1) % STAGES, raw);
#pragma unroll
    for (int p = 0; p < 4; p++) tl.deq_part(p, raw, cs, cb, (kt + 1) & 1);
    wg_wait0();
    fence_regs<R>(acc);
  }
  cp_async_wait<0>();

  // Accumulator j*4 + e of warp w4 in the warpgroup: row 16 w4 + g (+8 for
  // e >= 2), column 8 j + 2 t (+1 for odd e).
  const int lane = tl.tid & 31, w4 = (tl.tid >> 5) & 3, g = lane >> 2, t = lane & 3;
  T *y = (T *)args.y;
  const int row = tl.m0 + wg * 64 + w4 * 16 + g;
#pragma unroll
  for (int j = 0; j < BN / 8; j++) {
    const int col = tl.n0 + j * 8 + 2 * t;
    store2(y, tl.M, tl.N, row, col, acc[4 * j], acc[4 * j + 1]);
    store2(y, tl.M, tl.N, row + 8, col, acc[4 * j + 2], acc[4 * j + 3]);
  }
#else
  body_mma<T, BITS, 128, BN, STAGES>(args, smem);
#endif
}

// Shared memory of a probe kernel: 1024 bytes where wgmma was compiled in
// (sm_90a), 0 otherwise — lets the host know without running anything.
__global__ void wg_probe(int *out) {
#if defined(QGEMM_HAVE_WGMMA)
  __shared__ int s[256];
  s[threadIdx.x & 255] = 0;
  __syncthreads();
  if (out && s[(threadIdx.x + 1) & 255]) *out = 1;
#else
  if (out) *out = 0;
#endif
}

struct cfg_t {
  int bm, bn, stages, minb, wg;
  const char *name;
};
// Keep in the order of launch_cfg's switch.
const cfg_t cfgs[CU_QGEMM_CONFIGS] = {
    {128, 128, 4, 1, 0, "mma 128x128 s4"},      {128, 256, 4, 1, 0, "mma 128x256 s4"},
    {64, 128, 4, 2, 0, "mma 64x128 s4 2/SM"},   {128, 128, 3, 2, 0, "mma 128x128 s3 2/SM"},
    {128, 128, 4, 1, 1, "wgmma 128x128 s4"},    {128, 256, 4, 1, 1, "wgmma 128x256 s4"},
};

int sm_count() {
  static int n = 0;
  if (!n) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n < 1)
      n = 132;
  }
  return n;
}

// Whether the wgmma kernels were compiled as such (sm_90a code).
bool have_wgmma() {
  static int v = -1;
  if (v < 0) {
    cudaFuncAttributes a;
    v = cudaFuncGetAttributes(&a, wg_probe) == cudaSuccess && a.sharedSizeBytes > 0;
    cudaGetLastError();
  }
  return v > 0;
}

// attr: the kernel's own "dynamic shared memory limit set" state (-1: not
// yet; kernels of one signature share a type, so it lives with each
// instantiation of the callers below).
template <typename K>
int launch_k(K kern, int *attr, size_t smem, int bm, int bn, const Args &a, cudaStream_t st) {
  if (*attr < 0)
    *attr = (int)cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
  if (*attr) return *attr;
  dim3 grid((unsigned)((a.M + bm - 1) / bm), (unsigned)((a.N + bn - 1) / bn));
  kern<<<grid, NTHREADS, smem, st>>>(a);
  return (int)cudaGetLastError();
}

template <typename T, int BITS, int BM, int BN, int STAGES, int MINB>
int launch_mma(const Args &a, cudaStream_t st) {
  static int attr = -1;
  return launch_k(qgemm_mma<T, BITS, BM, BN, STAGES, MINB>, &attr,
                  Tiles<T, BITS, BM, BN, STAGES>::SMEM, BM, BN, a, st);
}
template <typename T, int BITS, int BN, int STAGES> int launch_wg(const Args &a, cudaStream_t st) {
  static int attr = -1;
  return launch_k(qgemm_wg<T, BITS, BN, STAGES>, &attr, Tiles<T, BITS, 128, BN, STAGES>::SMEM + 1024,
                  128, BN, a, st);
}

template <typename T, int BITS> int launch_cfg(int c, const Args &a, cudaStream_t st) {
  switch (c) {
    case 1: return launch_mma<T, BITS, 128, 128, 4, 1>(a, st);
    case 2: return launch_mma<T, BITS, 128, 256, 4, 1>(a, st);
    case 3: return launch_mma<T, BITS, 64, 128, 4, 2>(a, st);
    case 4: return launch_mma<T, BITS, 128, 128, 3, 2>(a, st);
    case 5: return launch_wg<T, BITS, 128, 4>(a, st);
    default: return launch_wg<T, BITS, 256, 4>(a, st);
  }
}

std::atomic<int> forced_cfg{0};

// Where the automatic mode routes products here (measured on an H200,
// bench_cuda_qgemm): at M = 128, N = 28672, K = 4096 the kernel took 0.61x
// (wgmma) / 0.81x (mma.sync) of dequantize + cuBLAS' time, whose W
// dequantization costs the same at any M; at M = 512 it took 1.4-3x
// (cuBLAS' GEMM is the better tensor-core pipeline there), and with few
// column tiles (N = 4096) one 128-row tile leaves most SMs idle.
constexpr int64_t QGEMM_AUTO_MAX_M = 128, QGEMM_AUTO_MIN_N = 16384;
std::atomic<int64_t> launches{0};

}  // namespace

extern "C" void cu_qgemm_set_config(int cfg) {
  forced_cfg.store(cfg < CU_QGEMM_ALWAYS || cfg > CU_QGEMM_CONFIGS ? 0 : cfg);
}

// MLXC_QGEMM=1: every supported product (CU_QGEMM_ALWAYS), 0: none (-1),
// else the measured rule. Read once.
static int env_mode() {
  static int v = -3;
  if (v == -3) {
    const char *e = getenv("MLXC_QGEMM");
    v = e && e[0] == '1' ? CU_QGEMM_ALWAYS : e && e[0] == '0' ? -1 : 0;
  }
  return v;
}

extern "C" const char *cu_qgemm_config_name(int cfg) {
  return cfg >= 1 && cfg <= CU_QGEMM_CONFIGS ? cfgs[cfg - 1].name : "auto";
}

extern "C" int64_t cu_qgemm_count(void) { return launches.load(); }

// The configuration with the best estimated throughput: the fraction of
// the last wave of blocks that is busy, times a per-configuration
// efficiency (bigger tiles reuse each shared-memory byte more; wgmma
// where it was compiled in).
extern "C" int cu_qgemm_auto_config(int64_t M, int64_t N, int64_t K) {
  (void)K;
  // Relative speeds measured on an H200 where the tile counts were alike.
  static const double eff[CU_QGEMM_CONFIGS] = {0.90, 1.0, 0.75, 0.95, 1.3, 1.57};
  const int64_t sms = sm_count();
  const bool wg = have_wgmma();
  int best = 1;
  double best_v = -1;
  for (int c = 0; c < CU_QGEMM_CONFIGS; c++) {
    const cfg_t &f = cfgs[c];
    if (f.wg && !wg) continue;
    int64_t tiles = ((M + f.bm - 1) / f.bm) * ((N + f.bn - 1) / f.bn);
    int64_t slots = sms * f.minb;
    int64_t waves = (tiles + slots - 1) / slots;
    double v = eff[c] * (double)tiles / (double)(waves * slots);
    if (v > best_v) {
      best_v = v;
      best = c + 1;
    }
  }
  return best;
}

extern "C" int cu_qgemm_have_wgmma(void) { return have_wgmma(); }

extern "C" int cu_qgemm(mx_dtype t, int bits, int gs, const void *x, const void *w,
                        const void *scales, const void *biases, void *y, int64_t M, int64_t N,
                        int64_t K, void *stream) {
  int c = forced_cfg.load();
  if (c == 0) c = env_mode();
  if (c == -1) return CU_Q_UNSUPPORTED;
  if ((t != MX_BFLOAT16 && t != MX_FLOAT16) || (bits != 4 && bits != 8) ||
      (gs != 32 && gs != 64 && gs != 128))
    return CU_Q_UNSUPPORTED;
  if (M < 1 || N < 1 || K < gs || K % gs || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX / 8)
    return CU_Q_UNSUPPORTED;
  if (((uintptr_t)x & 15) || ((uintptr_t)w & 15) || ((uintptr_t)scales & 1) ||
      ((uintptr_t)biases & 1))
    return CU_Q_UNSUPPORTED;
  if (c == 0 && !(M <= QGEMM_AUTO_MAX_M && N >= QGEMM_AUTO_MIN_N)) return CU_Q_UNSUPPORTED;
  if (c <= 0) c = cu_qgemm_auto_config(M, N, K);
  Args a = {x,        (const uint8_t *)w,
            (const uint16_t *)scales, (const uint16_t *)biases,
            y,        (int)M,
            (int)N,   (int)K,
            gs == 32 ? 5 : gs == 64 ? 6 : 7,
            (K / gs) % 8 == 0 && ((uintptr_t)scales & 15) == 0 && ((uintptr_t)biases & 15) == 0};
  cudaStream_t st = (cudaStream_t)stream;
  int err;
  if (t == MX_BFLOAT16)
    err = bits == 4 ? launch_cfg<__nv_bfloat16, 4>(c, a, st) : launch_cfg<__nv_bfloat16, 8>(c, a, st);
  else
    err = bits == 4 ? launch_cfg<__half, 4>(c, a, st) : launch_cfg<__half, 8>(c, a, st);
  if (err == 0) launches.fetch_add(1);
  return err;
}
