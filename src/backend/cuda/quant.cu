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
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "cuda_quant.h"
#include "qmv_tma.h"
#include "quant_device.cuh"

namespace {

using namespace qdev;


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
  pdl_trigger();
  if (c < nch) {
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      cur[r] = __ldg((const uint4 *)(wr[r] + (int64_t)c * 16));
      int64_t g = sr[r] + (((int64_t)c * 16) >> gb_shift);
      cs[r] = to_f(sc[g]);
      cb[r] = to_f(bi[g]);
    }
  }
  // With programmatic dependent launch the first chunk's weights are on
  // their way while the previous kernel finishes; x (its output) only after.
  pdl_wait();
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

// ---------------------------------------------------------------- affine, 4/8-bit, tensor cores
//
// Why tensor cores for a GEMV: at HBM speed a 4-bit GEMV must turn ~16
// weights per clock per SM into products. The FMA kernel above spends ~4
// instructions per weight (unpack, convert, FMA, sum of x) and stalls on
// the ALU at half of HBM speed. Here a code pair becomes an exact bf16/f16
// pair in two instructions (a shift, and one lop3 that masks the two
// nibbles into the top four mantissa bits of 128 / 1024: 128 + 8q, 1024 +
// 64q) and mma.sync m16n8k16 forms the per-group dots
// c = sum x (OFF + SCL q) in f32 (products of an 8-bit mantissa and a
// small integer are exact; sums in f32). Nothing is subtracted per value:
// with sx = sum x over the group,
//   y += s * sum x q + b * sx = (s / SCL) * c + (b - (OFF / SCL) * s) * sx.
// OFF / SCL = 16 keeps the cancellation small: c carries 16 sx per unit of
// q, so its f32 rounding costs ~4 bits below the result's, far under a
// bf16/f16 output's precision.
// The 8 MMA columns are the up to 8 rows of x, so M <= 8 costs what M = 1
// costs.
//
// Layout: a warp owns 16 * MT output rows; lane (g = lane/4, t = lane%4)
// holds rows g and g+8 of each 16-row tile. For every group the quad's four
// lanes read the group's row bytes in four contiguous pieces (lane t piece
// t, gs*bits/32 bytes: one vector load), so each MMA's 16 k-slots lie in
// one group and the group's scale and bias apply after the MMA. The
// k-slots of an MMA need not be consecutive k, only the same for A and B:
// the nibble pairs (v0,v4),(v1,v5),.. that one mask extracts from a word
// are matched by the same permutation of x. 8-bit codes are split into two
// nibble planes (q = 16h + l), two accumulators.
//
// x: every lane permutes its x slice from global memory (L1) and sx comes
// from one more MMA with A = 1. (Staging x in shared memory, as qmv_tma.cu
// does once per persistent block, cost more than it saved here: every one
// of thousands of short blocks paid the copy; lm_head 57 -> 47% of copy.)
// The warps of a block split K (blockDim.x / 32 of them) and meet in shared
// memory. U groups per step per warp; the launcher guarantees G % U == 0 and
// 2U-byte aligned scale/bias rows (U = 1 always qualifies).
template <typename T, int BITS, int GS, int U, int MT>
__global__ void __launch_bounds__(512)
    qmv_mma(const T *__restrict__ x, const uint8_t *__restrict__ w, const T *__restrict__ sc,
            const T *__restrict__ bi, T *__restrict__ y, int M, int N, int K, cu_qbatch bt) {
  constexpr int PB = GS * BITS / 32;  // bytes of one group-row per lane
  constexpr int WP = PB / 4;          // words of it
  constexpr int GRB = GS * BITS / 8;  // bytes of one group-row
  constexpr int XV = GS / 4;          // x values per lane per group
  constexpr int R = 2 * MT;           // rows per lane
  constexpr int SW = (U + 1) / 2;     // words of U scales
  constexpr int FW = BITS == 4 ? 4 : 2;  // fragment words per code word
  using MM = mma_t<T>;
  extern __shared__ __align__(16) unsigned char dsm[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, KS = blockDim.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const BatchOff bo = batch_offsets(bt, blockIdx.y);
  x += bo.o[0];
  w += bo.o[1] * 4;
  sc += bo.o[2];
  bi += bo.o[3];
  y += (int64_t)blockIdx.y * M * N;
  const int G = K / GS;
  const int64_t RB = (int64_t)K * BITS / 8;
  const int row0 = blockIdx.x * 16 * MT;
  const uint8_t *wrow[R];
  int so[R];  // first scale of the row (the launcher checks N * G < 2^31)
#pragma unroll
  for (int r = 0; r < R; r++) {
    // Clamped: tail rows read a valid row, never stored.
    const int64_t ro = min(row0 + (r >> 1) * 16 + (r & 1) * 8 + g, N - 1);
    wrow[r] = w + ro * RB + t * PB;
    so[r] = (int)(ro * G);
  }
  const uint32_t magic = MM::magic;
  float acc[MT][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < 4; i++) acc[mt][i] = 0.f;
  pdl_trigger();

  typedef uint32_t WV[U][R][WP];
  typedef uint32_t SV[R][SW];
  auto load_step = [&](int j0, WV &wv, SV &sv, SV &bv) {
#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
      for (int u = 0; u < U; u++) load_words<WP>(wrow[r] + (int64_t)(j0 + u) * GRB, wv[u][r]);
      load_u16s<U>(sc + so[r] + j0, sv[r]);
      load_u16s<U>(bi + so[r] + j0, bv[r]);
    }
  };
  WV wa, wb;
  SV sa, sb, ba, bb;
  int j0 = warp * U;
  const int jstep = KS * U;
  // With programmatic dependent launch the first step's weights are on
  // their way while the previous kernel finishes; x (its output) only after.
  if (j0 < G) load_step(j0, wa, sa, ba);
  pdl_wait();

  float *red = (float *)dsm;
  const int xm = g < M ? g : M - 1;  // columns >= M: any finite x, never stored
  const T *xp = x + (int64_t)xm * K + t * XV;

  auto compute_step = [&](int j0, const WV &wv, const SV &sv, const SV &bv) {
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int j = j0 + u;
      float c[MT][4], ch[MT][4], cx[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int i = 0; i < 4; i++) c[mt][i] = ch[mt][i] = 0.f;
#pragma unroll
      for (int wi = 0; wi < WP; wi += 4 / FW) {
        // One 16-byte fragment load covers 4-bit word wi, or 8-bit words wi, wi+1.
        const uint4 f =
            x_frag8<BITS>(__ldg((const uint4 *)(xp + (int64_t)j * GS + wi * (BITS == 4 ? 8 : 4))));
#pragma unroll
        for (int h = 0; h < (BITS == 4 ? 1 : 2); h++) {
          const uint4 fw = BITS == 4 ? f : (h ? make_uint4(f.z, f.w, 0, 0) : f);
#pragma unroll
          for (int mt = 0; mt < MT; mt++)
            mma_word<T, BITS>(c[mt], ch[mt], wv[u][2 * mt][wi + h], wv[u][2 * mt + 1][wi + h], fw,
                              magic);
          MM::mma(cx, MM::one, MM::one, MM::one, MM::one, fw.x, fw.y);
          if (BITS == 4) MM::mma(cx, MM::one, MM::one, MM::one, MM::one, fw.z, fw.w);
        }
      }
      const float sx0 = cx[0], sx1 = cx[1];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        const float s2[2] = {u16_f<T>(sv[2 * mt], u), u16_f<T>(sv[2 * mt + 1], u)};
        const float b2[2] = {u16_f<T>(bv[2 * mt], u), u16_f<T>(bv[2 * mt + 1], u)};
        group_acc<T, BITS>(acc[mt], c[mt], ch[mt], s2, b2, sx0, sx1);
      }
    }
  };
  while (j0 < G) {
    if (j0 + jstep < G) load_step(j0 + jstep, wb, sb, bb);
    compute_step(j0, wa, sa, ba);
    j0 += jstep;
    if (j0 >= G) break;
    if (j0 + jstep < G) load_step(j0 + jstep, wa, sa, ba);
    compute_step(j0, wb, sb, bb);
    j0 += jstep;
  }
  mma_store<T, MT>(acc, red, y, M, N, row0);
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

// GGUF Q4_0 / Q8_0 on tensor cores, the affine kernel's scheme with the
// 32-value block as the group: lane t of a quad takes a quarter of each
// block's codes (Q4_0: qs bytes 4t..4t+3 = values 4t.. and 16+4t..; Q8_0:
// qs bytes 8t..8t+7), so an MMA never mixes blocks and the block's f16
// scale applies after it. Q4_0's q - 8 is exact in the packed subtraction
// (no sum of x needed); Q8_0's int8 q + 128 = 16h + l gives two nibble
// planes (l, h - 8), two accumulators, q = 16 (h - 8) + l. Rows are read
// as pairs of blocks (36 / 68 bytes, 4-byte aligned) with 32-bit loads.
template <typename T, int TYPE, int P>
__global__ void __launch_bounds__(512)
    gguf_mma(const T *__restrict__ x, const uint8_t *__restrict__ wb, T *__restrict__ y, int M,
             int N, int K, int64_t row_bytes) {
  using MM = mma_t<T>;
  constexpr int NWD = gguf_pair<TYPE>::words;
  constexpr int QW = TYPE == 2 ? 2 : 4;  // qs words per lane per pair
  extern __shared__ float red[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, KS = blockDim.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int np = K / 64;
  const int row0 = blockIdx.x * 16;
  const uint32_t *wr[2];
#pragma unroll
  for (int r = 0; r < 2; r++)
    wr[r] = (const uint32_t *)(wb + (int64_t)min(row0 + 8 * r + g, N - 1) * row_bytes);
  const bool xon = g < M;
  const T *xp = x + (int64_t)(xon ? g : 0) * K;
  float acc[1][4] = {{0.f, 0.f, 0.f, 0.f}};
  pdl_trigger();
  for (int p0 = warp * P; p0 < np; p0 += KS * P) {
    uint32_t q[P][2][QW], dw[P][2];
#pragma unroll
    for (int u = 0; u < P; u++)
      if (p0 + u < np) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
          const uint32_t *pw = wr[r] + (int64_t)(p0 + u) * NWD;
          if (TYPE == 2) {
            // Block 0's qs start at byte 2 (straddles words), block 1's at 20.
            q[u][r][0] = __byte_perm(__ldg(pw + t), __ldg(pw + t + 1), 0x5432);
            q[u][r][1] = __ldg(pw + 5 + t);
            dw[u][r] = __byte_perm(__ldg(pw), __ldg(pw + 4), 0x7610);  // d0 | d1 << 16
          } else {
            const uint32_t a = __ldg(pw + 2 * t), b = __ldg(pw + 2 * t + 1), c = __ldg(pw + 2 * t + 2);
            q[u][r][0] = __byte_perm(a, b, 0x5432);
            q[u][r][1] = __byte_perm(b, c, 0x5432);
            q[u][r][2] = __ldg(pw + 9 + 2 * t);
            q[u][r][3] = __ldg(pw + 10 + 2 * t);
            dw[u][r] = __byte_perm(__ldg(pw), __ldg(pw + 8), 0x7610);
          }
        }
      }
    if (p0 == warp * P) pdl_wait();
#pragma unroll
    for (int u = 0; u < P; u++)
      if (p0 + u < np) {
#pragma unroll
        for (int blk = 0; blk < 2; blk++) {
          const T *xb = xp + (int64_t)(p0 + u) * 64 + blk * 32;
          float c[4] = {0.f, 0.f, 0.f, 0.f}, ch[4] = {0.f, 0.f, 0.f, 0.f};
          if (TYPE == 2) {
            const uint32_t va = q[u][0][blk], vb = q[u][1][blk];
            uint2 xl = xon ? __ldg((const uint2 *)(xb + 4 * t)) : make_uint2(0, 0);
            uint2 xh = xon ? __ldg((const uint2 *)(xb + 16 + 4 * t)) : make_uint2(0, 0);
            MM::mma(c, nib2m8<T>(va), nib2m8<T>(vb), nib2m8<T>(va >> 8), nib2m8<T>(vb >> 8),
                    __byte_perm(xl.x, xl.y, 0x5410), __byte_perm(xl.x, xl.y, 0x7632));
            MM::mma(c, nib2m8<T>(va >> 4), nib2m8<T>(vb >> 4), nib2m8<T>(va >> 12),
                    nib2m8<T>(vb >> 12), __byte_perm(xh.x, xh.y, 0x5410),
                    __byte_perm(xh.x, xh.y, 0x7632));
          } else {
#pragma unroll
            for (int h = 0; h < 2; h++) {
              const uint32_t va = q[u][0][2 * blk + h] ^ 0x80808080u,
                             vb = q[u][1][2 * blk + h] ^ 0x80808080u;
              uint2 xr = xon ? __ldg((const uint2 *)(xb + 8 * t + 4 * h)) : make_uint2(0, 0);
              const uint32_t b0 = __byte_perm(xr.x, xr.y, 0x5410), b1 = __byte_perm(xr.x, xr.y, 0x7632);
              MM::mma(c, nib2<T>(va), nib2<T>(vb), nib2<T>(va >> 8), nib2<T>(vb >> 8), b0, b1);
              MM::mma(ch, nib2m8<T>(va >> 4), nib2m8<T>(vb >> 4), nib2m8<T>(va >> 12),
                      nib2m8<T>(vb >> 12), b0, b1);
            }
          }
#pragma unroll
          for (int i = 0; i < 4; i++) {
            const uint32_t dv = dw[u][i >> 1] >> (16 * blk);
            const float d = __half2float(__ushort_as_half((unsigned short)(dv & 0xffffu)));
            acc[0][i] = fmaf(d, TYPE == 2 ? c[i] : fmaf(16.f, ch[i], c[i]), acc[0][i]);
          }
        }
      }
  }
  pdl_wait();
  mma_store<T, 1>(acc, red, y, M, N, row0);
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

int mma_kernel_cfg = 0, mma_ks_cfg = 0, mma_bpr_cfg = 0, mma_mt_cfg = 0;  // 0: automatic
// Programmatic dependent launch: forced by a benchmark (pdl_cfg), or per
// product when its weights are settled (cu_qmv's caller knows) unless
// MLXC_PDL=0; pdl_now is the current product's choice.
int pdl_cfg = 0, pdl_now = 0;
bool pdl_allowed(void) {
  static int env = -1;
  if (env < 0) {
    const char *e = getenv("MLXC_PDL");
    env = e && e[0] == '0' ? 0 : 1;
  }
  return env == 1;
}

// launch_pdl with this product's choice.
template <typename... KArgs, typename... Args>
int launch_k(void (*kernel)(KArgs...), dim3 grid, int threads, size_t smem, cudaStream_t st,
             Args... args) {
  return launch_pdl(kernel, grid, threads, smem, st, pdl_now != 0, args...);
}

int sm_count(void) {
  static int n = 0;
  if (!n) {
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && v > 0)
      n = v;
    else
      n = 132;
  }
  return n;
}

template <typename T, int BITS, int M>
int launch_fast(const void *x, const void *w, const void *s, const void *b, void *y, int64_t N,
                int64_t K, int gb_shift, const cu_qbatch *bt, int64_t nbatch, cudaStream_t st) {
  constexpr int ROWS = M <= 4 ? 4 : 2;
  int nw = pick_warps(K * BITS / 8 / 16);
  dim3 grid((unsigned)((N + ROWS - 1) / ROWS), (unsigned)nbatch);
  return launch_k(qmv_fast<T, BITS, M, ROWS>, grid, nw * 32, 0, st, (const T *)x,
                  (const uint8_t *)w, (const T *)s, (const T *)b, (T *)y, (int)N, (int)K,
                  gb_shift, *bt);
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

// ---------------------------------------------------------------- tensor-core decode launch

template <typename T, int BITS, int GS, int U, int MT>
int launch_mma(const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
               int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, cudaStream_t st) {
  if (N * (K / GS) >= ((int64_t)1 << 31)) return CU_Q_UNSUPPORTED;  // 32-bit scale offsets
  const int64_t tiles = (N + 16 * MT - 1) / (16 * MT);
  const int64_t steps = K / GS / U;
  int ks = mma_ks_cfg;
  if (!ks) {
    // Split K over the block's warps until the grid has ~16 warps per SM
    // (enough loads in flight to cover HBM latency), keeping >= 2 steps
    // of work per warp where K allows.
    int64_t want = ((int64_t)sm_count() * 16 + tiles * nbatch - 1) / (tiles * nbatch);
    int64_t cap = steps / 2 < 1 ? 1 : steps / 2;  // two steps per warp: the pipeline
    ks = 1;
    while (ks < 16 && ks < want && ks * 2 <= cap) ks *= 2;
  }
  dim3 grid((unsigned)tiles, (unsigned)nbatch);
  const size_t red = ks > 1 ? (size_t)ks * 8 * 16 * MT * sizeof(float) : 0;
  return launch_k(qmv_mma<T, BITS, GS, U, MT>, grid, ks * 32, red, st, (const T *)x,
                  (const uint8_t *)w, (const T *)s, (const T *)b, (T *)y, (int)M, (int)N, (int)K,
                  *bt);
}

// Can U groups' scales and biases be read with one load per row?
bool scales_vec_ok(int U, int64_t G, const void *s, const void *b, const cu_qbatch *bt) {
  if (G % U || (((uintptr_t)s | (uintptr_t)b) & (uintptr_t)(2 * U - 1))) return false;
  for (int d = 0; d < bt->nb; d++)
    if (bt->stride[2][d] % U || bt->stride[3][d] % U) return false;
  return true;
}

// Kernels per (T, BITS, GS): U = 32 or 64 weight bytes per row per lane per
// step (one 16-row tile per warp), 32 with two tiles, and U = 1 for scale
// layouts that allow no vector loads.
template <typename T, int BITS, int GS>
int mma_cfg(const void *x, const void *w, const void *s, const void *b, void *y, int64_t M,
            int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch, cudaStream_t st) {
  constexpr int PB = GS * BITS / 32, U32 = 32 / PB, U64 = 64 / PB;
  const int64_t G = K / GS;
  const int bpr = mma_bpr_cfg ? mma_bpr_cfg : 32;
  const int mt = mma_mt_cfg ? mma_mt_cfg : 1;
#define MMA_GO(U, T2) \
  return launch_mma<T, BITS, GS, U, T2>(x, w, s, b, y, M, N, K, bt, nbatch, st)
  if (bpr == 64 && mt == 1 && scales_vec_ok(U64, G, s, b, bt)) MMA_GO(U64, 1);
  if (scales_vec_ok(U32, G, s, b, bt)) {
    if (mt == 2) MMA_GO(U32, 2);
    MMA_GO(U32, 1);
  }
  MMA_GO(1, 1);
#undef MMA_GO
}

template <typename T, int BITS>
int mma_gs(int gs, const void *x, const void *w, const void *s, const void *b, void *y,
           int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
           cudaStream_t st) {
  switch (gs) {
    case 32: return mma_cfg<T, BITS, 32>(x, w, s, b, y, M, N, K, bt, nbatch, st);
    case 64: return mma_cfg<T, BITS, 64>(x, w, s, b, y, M, N, K, bt, nbatch, st);
    case 128: return mma_cfg<T, BITS, 128>(x, w, s, b, y, M, N, K, bt, nbatch, st);
    default: return CU_Q_UNSUPPORTED;
  }
}

// Tensor-core or FMA kernel, from bench_cuda_quant on an H200 (graph
// timing, % of d2d copy; both with programmatic dependent launch, as decode
// on settled weights runs them): at M = 1 the FMA kernel wins on all but the
// largest 4-bit matrices (Llama-3 8B 4-bit g64: qkv 41 vs 34%, o 38 vs 36%,
// down 50 vs 40%, 1B gate_up 44 vs 43%), the tensor-core kernel on tall ones
// with groups of >= 64 (8B gate_up 52 vs 48%, lm_head 57 vs 51%; g128
// lm_head 55 vs 49%); 8 bits and groups of 32: FMA everywhere (8-bit 8B
// layer 72 vs 51%). For M >= 2 the tensor-core kernel wins on all but small
// matrices: the FMA kernel's work grows with M (9% of copy at M = 8).
// A persistent register-pipelined tensor-core kernel (grid = SMs x 3
// blocks, each warp 3 steps of loads in flight, x staged in shared memory)
// measured below both (8B layer 37 vs 46%) and was removed, as was the
// cp.async shared-memory pipeline before it (24-42%).
bool use_mma(int bits, int gs, int64_t M, int64_t N, int64_t K) {
  if (mma_kernel_cfg) return mma_kernel_cfg == 2;
  if (M >= 2) return gs == 32 ? M >= 4 : (N * K >= ((int64_t)8 << 20) || M >= 6);
  if (bits != 4) return false;
  if (gs == 64) return N >= 8192 && N * K >= ((int64_t)48 << 20);
  return gs == 128 && N >= 32768;
}

template <typename T> struct mma_path {
  static int go(int, int, const void *, const void *, const void *, const void *, void *, int64_t,
                int64_t, int64_t, const cu_qbatch *, int64_t, cudaStream_t) {
    return CU_Q_UNSUPPORTED;
  }
};
template <typename T> struct mma_half_path {
  static int go(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
                void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
                cudaStream_t st) {
    return bits == 4 ? mma_gs<T, 4>(gs, x, w, s, b, y, M, N, K, bt, nbatch, st)
                     : mma_gs<T, 8>(gs, x, w, s, b, y, M, N, K, bt, nbatch, st);
  }
};
template <> struct mma_path<__half> : mma_half_path<__half> {};
template <> struct mma_path<__nv_bfloat16> : mma_half_path<__nv_bfloat16> {};

// The TMA-fed kernel (qmv_tma.cu) first, by default for one row of x and
// tall matrices (it wins there: H200, 4-bit g64 with PDL, % of copy: 8B
// gate_up 56 vs 48 for the FMA kernel, lm_head 61 vs 52 (56 tensor-core),
// 1B gate_up 49 vs 45; it loses on N <= 6144, where one 16-row tile per
// block leaves too few rows in flight: 8B down 29 vs 50, and for M >= 2:
// lm_head 44 vs 50); MLXC_QMV_TMA=0 turns it off, MLXC_QMV_TMA=N moves the
// threshold to N rows; a benchmark may force it (kernel 3) or another kernel.
long tma_launches = 0;  // for tests: did the TMA kernel take the product?
bool use_tma(int64_t M, int64_t N) {
  static long min_n = -1;
  if (min_n < 0) {
    const char *e = getenv("MLXC_QMV_TMA");
    long v = e ? atol(e) : 16384;
    min_n = e && e[0] == '0' ? LONG_MAX : v >= 1 ? v : 16384;
  }
  return mma_kernel_cfg ? mma_kernel_cfg == 3 : M == 1 && N >= min_n;
}
template <typename T> struct tma_path {
  static int go(int, int, const void *, const void *, const void *, const void *, void *, int64_t,
                int64_t, int64_t, const cu_qbatch *, int64_t, cudaStream_t) {
    return CU_Q_UNSUPPORTED;
  }
};
template <typename T> struct tma_half_path {
  static int go(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
                void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
                cudaStream_t st) {
    return qmv_tma_run<T>(bits, gs, x, w, s, b, y, M, N, K, bt, nbatch, st, pdl_now != 0);
  }
};
template <> struct tma_path<__half> : tma_half_path<__half> {};
template <> struct tma_path<__nv_bfloat16> : tma_half_path<__nv_bfloat16> {};

template <typename T>
int qmv_typed(int bits, int gs, const void *x, const void *w, const void *s, const void *b,
              void *y, int64_t M, int64_t N, int64_t K, const cu_qbatch *bt, int64_t nbatch,
              cudaStream_t st) {
  bool aligned = (((uintptr_t)x | (uintptr_t)w) & 15) == 0;
  for (int d = 0; d < bt->nb; d++)
    aligned = aligned && (bt->stride[0][d] * (int64_t)sizeof(T)) % 16 == 0 &&
              (bt->stride[1][d] * 4) % 16 == 0;
  if ((bits == 4 || bits == 8) && aligned && use_tma(M, N)) {
    int e = tma_path<T>::go(bits, gs, x, w, s, b, y, M, N, K, bt, nbatch, st);
    if (e != CU_Q_UNSUPPORTED) {
      tma_launches++;
      return e;
    }
  }
  if ((bits == 4 || bits == 8) && aligned && use_mma(bits, gs, M, N, K)) {
    int e = mma_path<T>::go(bits, gs, x, w, s, b, y, M, N, K, bt, nbatch, st);
    if (e != CU_Q_UNSUPPORTED) return e;
  }
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

template <typename T, int TYPE>
int launch_gguf_mma(const void *x, const void *w, void *y, int64_t M, int64_t N, int64_t K,
                    int64_t rb, cudaStream_t st) {
  constexpr int P = TYPE == 2 ? 4 : 2;
  const int64_t tiles = (N + 15) / 16, steps = (K / 64 + P - 1) / P;
  int ks = mma_ks_cfg;
  if (!ks) {
    int64_t want = ((int64_t)sm_count() * 16 + tiles - 1) / tiles;
    int64_t cap = steps / 2 < 1 ? 1 : steps / 2;
    ks = 1;
    while (ks < 16 && ks < want && ks * 2 <= cap) ks *= 2;
  }
  size_t smem = ks > 1 ? (size_t)ks * 8 * 16 * sizeof(float) : 0;
  return launch_k(gguf_mma<T, TYPE, P>, dim3((unsigned)tiles), ks * 32, smem, st, (const T *)x,
                  (const uint8_t *)w, (T *)y, (int)M, (int)N, (int)K, rb);
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

template <typename T> struct gguf_mma_path {
  static int go(int type, const void *x, const void *w, void *y, int64_t M, int64_t N, int64_t K,
                int64_t rb, cudaStream_t st) {
    return type == 2 ? launch_gguf_mma<T, 2>(x, w, y, M, N, K, rb, st)
                     : launch_gguf_mma<T, 8>(x, w, y, M, N, K, rb, st);
  }
};
template <> struct gguf_mma_path<float> {
  static int go(int, const void *, const void *, void *, int64_t, int64_t, int64_t, int64_t,
                cudaStream_t) {
    return CU_Q_UNSUPPORTED;
  }
};

template <typename T>
int gguf_typed(int type, const void *x, const void *w, void *y, int64_t M, int64_t N, int64_t K,
               int64_t rb, cudaStream_t st) {
  // Measured (H200): the tensor-core kernel is 2-3x slower for Q4_0 (its
  // 18-byte blocks cost five 4-byte loads per lane and pair) and wins for
  // large Q8_0 matrices only.
  const bool mma = mma_kernel_cfg ? mma_kernel_cfg == 2
                                  : type == 8 && N * K >= ((int64_t)48 << 20);
  if (mma) {
    int e = gguf_mma_path<T>::go(type, x, w, y, M, N, K, rb, st);
    if (e != CU_Q_UNSUPPORTED) return e;
  }
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

extern "C" long cu_qmv_tma_count(void) { return tma_launches; }

extern "C" void cu_qmv_set_pdl(int on) { pdl_cfg = on ? 1 : 0; }

extern "C" void cu_qmv_set_config(int kernel, int ks, int bpr, int mt) {
  mma_kernel_cfg = kernel >= 1 && kernel <= 3 ? kernel : 0;
  mma_ks_cfg = ks >= 1 && ks <= 16 ? ks : 0;
  mma_bpr_cfg = bpr == 32 || bpr == 64 ? bpr : 0;
  mma_mt_cfg = mt == 1 || mt == 2 ? mt : 0;
}

namespace {
__global__ void null_kernel(int *p) {
  if (p && threadIdx.x == 1u << 30) *p = 0;
}

// Streams `n16` 16-byte words and folds them into one word per block: the
// read-only bandwidth of a kernel of this size (launch, ramp-up and tail
// included), the ceiling a GEMV over as many bytes can hope for.
__global__ void __launch_bounds__(256) read_kernel(const uint4 *__restrict__ p, int64_t n16,
                                                   uint32_t *out) {
  uint32_t a = 0;
  int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, step = (int64_t)gridDim.x * blockDim.x;
  for (; i + 3 * step < n16; i += 4 * step) {
    uint4 v0 = ld_stream16(p + i), v1 = ld_stream16(p + i + step), v2 = ld_stream16(p + i + 2 * step),
          v3 = ld_stream16(p + i + 3 * step);
    a ^= v0.x ^ v1.y ^ v2.z ^ v3.w;
  }
  for (; i < n16; i += step) a ^= ld_stream16(p + i).x;
  if (a == 0x9e3779b9u) out[blockIdx.x] = a;
}
}  // namespace

extern "C" int cu_q_null_launch(void *stream) {
  null_kernel<<<1, 32, 0, (cudaStream_t)stream>>>(NULL);
  return (int)cudaGetLastError();
}

extern "C" int cu_q_read(const void *p, int64_t bytes, void *scratch, void *stream) {
  int64_t n16 = bytes / 16;
  int64_t blocks = (n16 + 256 * 4 - 1) / (256 * 4);
  int64_t cap = (int64_t)sm_count() * 8;
  read_kernel<<<(unsigned)(blocks < 1 ? 1 : blocks > cap ? cap : blocks), 256, 0,
                (cudaStream_t)stream>>>((const uint4 *)p, n16, (uint32_t *)scratch);
  return (int)cudaGetLastError();
}

extern "C" int cu_qmv(mx_dtype t, int bits, int gs, const void *x, const void *w,
                      const void *scales, const void *biases, void *y, int64_t M, int64_t N,
                      int64_t K, const cu_qbatch *bt, int64_t nbatch, int weights_settled,
                      void *stream) {
  if (M < 1 || M > 8 || bits < 2 || bits > 8 || bits == 7 || K % gs || gs % 32 ||
      nbatch > 65535 || N > INT32_MAX || K > INT32_MAX)
    return CU_Q_UNSUPPORTED;
  if (N == 0 || nbatch == 0) return 0;
  pdl_now = pdl_cfg || (weights_settled && pdl_allowed());
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
  pdl_now = pdl_cfg;  // GGUF weights: no settled-ness from the caller yet
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
