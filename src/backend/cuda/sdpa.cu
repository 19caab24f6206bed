// sdpa.cu — GPU kernels of mx.fast scaled dot-product attention: decode
// (Tq <= 8: keys split across blocks, on tensor cores for f16/bf16 with
// D <= 128 (splits merged by the last block), on CUDA cores otherwise
// (then a combine kernel)) and prefill (online softmax over key tiles, on
// tensor cores for f16/bf16 with D <= 128, on CUDA cores otherwise).
// Numerics follow the CPU kernel (src/backend/cpu/sdpa.c) within the
// tolerances of tests/test_cuda_fast.c; every kernel starts with the
// programmatic-dependent-launch trigger (pdl_trigger).
#include "cuda_fast.h"
#include "fast_device.cuh"

namespace {

// ------------------------------------------------------------ attention

__device__ __forceinline__ float mask_score(const cu_sdpa_args &a, float s, int64_t b, int64_t hq,
                                            int64_t i, int64_t j) {
  if (a.causal) {
    if (j > i + a.Tk - a.Tq) s = a.lowest;
  } else if (a.mt >= 0) {
    float m = ld_any(a.mask, b * a.ms[0] + hq * a.ms[1] + i * a.ms[2] + j * a.ms[3], a.mt);
    if (a.mt == MX_BOOL) {
      if (m == 0.0f) s = a.lowest;
    } else {
      s += m;
    }
  }
  return s;
}

__host__ __device__ constexpr int pow2ceil(int v) { return v <= 1 ? 1 : 2 * pow2ceil((v + 1) / 2); }

// Online-softmax states (m, l, acc) merged: (m1,l1,acc1) absorbs the other.
__device__ __forceinline__ void merge_w(float m1, float m2, float &w1, float &w2, float &mm) {
  mm = fmaxf(m1, m2);
  if (mm == -INFINITY) {
    w1 = w2 = 0.0f;
    return;
  }
  w1 = m1 == -INFINITY ? 0.0f : __expf(m1 - mm);
  w2 = m2 == -INFINITY ? 0.0f : __expf(m2 - mm);
}

constexpr int DEC_NW = 4;

// Decode: one block per (key split, chunk of RB query rows, batch x kv
// head). Rows are the G query heads x Tq queries of the kv head (GQA reads
// K/V once for all of them). K/V tiles of DEC_TILE keys stream into shared
// memory by cp.async, DEC_NS tiles in flight per block (bytes in flight do
// not cost registers, so the stream keeps HBM busy while the tile before
// is used). A lane group of LPK lanes owns one key at a time, each lane 8
// of its D elements (one 16-byte shared load for halves); the group
// reduces the dot products by shuffles and keeps its own online softmax
// state; groups and warps merge at the end.
constexpr int DEC_NS = 3;

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool full) {
  unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(full ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <typename KT, int D, int RB> struct dec_cfg {
  static constexpr int LPK = pow2ceil(D / 8) < 32 ? pow2ceil(D / 8) : 32;
  static constexpr int GPW = 32 / LPK;
  static constexpr int U = RB >= 8 ? 2 : 4;
  static constexpr int TILE = DEC_NW * GPW * U;  // keys per tile
  static constexpr size_t smem = (size_t)DEC_NS * 2 * TILE * D * sizeof(KT);
};

template <typename KT, int D, int RB>
__global__ void __launch_bounds__(DEC_NW * 32)
    sdpa_decode(cu_sdpa_args a, int64_t kps, float *pm, float *pl, float *pacc, int nsplit) {
  pdl_trigger();
  typedef dec_cfg<KT, D, RB> C;
  constexpr int LPK = C::LPK, GPW = C::GPW, U = C::U, TILE = C::TILE;
  constexpr int CH = D * (int)sizeof(KT) / 16;  // 16-byte chunks per row
  extern __shared__ __align__(16) unsigned char dec_smem[];
  KT *Ks = (KT *)dec_smem, *Vs = Ks + DEC_NS * TILE * D;
  __shared__ float sm_m[DEC_NW][RB], sm_l[DEC_NW][RB];
  __shared__ __align__(16) float sm_acc[DEC_NW][RB][D];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gi = lane / LPK, sub = lane % LPK;
  const bool act = sub * 8 < D;
  const int d0 = act ? sub * 8 : 0;
  const int sp = blockIdx.x;
  const int64_t bh = blockIdx.z, b = bh / a.Hkv, h = bh % a.Hkv;
  const int64_t G = a.Hq / a.Hkv, R = G * a.Tq;
  const int64_t r0 = (int64_t)blockIdx.y * RB;
  const int nr = R - r0 < RB ? (int)(R - r0) : RB;
  const int64_t k0 = (int64_t)sp * kps, k1 = k0 + kps < a.Tk ? k0 + kps : a.Tk;
  const KT *kb = (const KT *)a.k + b * a.ks[0] + h * a.ks[1];
  const KT *vb = (const KT *)a.v + b * a.vs[0] + h * a.vs[1];
  const int ntiles = (int)((k1 - k0 + TILE - 1) / TILE);
  auto stage = [&](int it) {
    if (it < ntiles) {
      KT *kd = Ks + (it % DEC_NS) * TILE * D, *vd = Vs + (it % DEC_NS) * TILE * D;
      const int64_t jb = k0 + (int64_t)it * TILE;
      for (int e = threadIdx.x; e < TILE * CH; e += DEC_NW * 32) {
        const int jj = e / CH, ch = e % CH;
        const bool in = jb + jj < k1;
        const int64_t j = in ? jb + jj : k0;
        cp_async16((char *)(kd + jj * D) + ch * 16, (const char *)(kb + j * a.ks[2]) + ch * 16, in);
        cp_async16((char *)(vd + jj * D) + ch * 16, (const char *)(vb + j * a.vs[2]) + ch * 16, in);
      }
    }
    cp_async_commit();  // empty past the end: the wait counts stay uniform
  };
#pragma unroll
  for (int i = 0; i < DEC_NS - 1; i++) stage(i);
  float q[RB][8];
  int64_t hq[RB], qi[RB];
#pragma unroll
  for (int r = 0; r < RB; r++) {
    int64_t rr = r0 + (r < nr ? r : nr - 1);
    hq[r] = h * G + rr / a.Tq;
    qi[r] = rr % a.Tq;
    const int64_t qo = b * a.qs[0] + hq[r] * a.qs[1] + qi[r] * a.qs[2] + d0;
#pragma unroll
    for (int k = 0; k < 8; k++) q[r][k] = act ? ld_any(a.q, qo + k, a.qt) : 0.0f;
  }
  float m[RB], l[RB], acc[RB][8];
#pragma unroll
  for (int r = 0; r < RB; r++) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int k = 0; k < 8; k++) acc[r][k] = 0.0f;
  }
  for (int it = 0; it < ntiles; it++) {
    stage(it + DEC_NS - 1);
    cp_async_wait<DEC_NS - 1>();
    __syncthreads();
    const int jl = (warp * GPW + gi) * U;  // first key of this group in the tile
    const int64_t j0 = k0 + (int64_t)it * TILE + jl;
    const KT *kt = Ks + (it % DEC_NS) * TILE * D + jl * D + d0;
    const KT *vt = Vs + (it % DEC_NS) * TILE * D + jl * D + d0;
    float kf[U][8], vf[U][8];
#pragma unroll
    for (int u = 0; u < U; u++) {
      load8(kt + u * D, kf[u]);  // rows past the end were zero-filled
      load8(vt + u * D, vf[u]);
    }
    float s[U][RB];
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int r = 0; r < RB; r++) {
        float d = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++) d += q[r][k] * kf[u][k];
#pragma unroll
        for (int o = LPK / 2; o >= 1; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[u][r] = d;
      }
#pragma unroll
    for (int r = 0; r < RB; r++) {
      float mx = -INFINITY;
#pragma unroll
      for (int u = 0; u < U; u++) {
        const int64_t j = j0 + u;
        float v = -INFINITY;
        if (j < k1) v = mask_score(a, s[u][r] * a.scale, b, hq[r], qi[r], j);
        s[u][r] = v;
        mx = fmaxf(mx, v);
      }
      const float mn = fmaxf(m[r], mx);
      if (mn == -INFINITY) continue;
      const float corr = __expf(m[r] - mn);
      float p[U], ps = 0.0f;
#pragma unroll
      for (int u = 0; u < U; u++) {
        p[u] = __expf(s[u][r] - mn);
        ps += p[u];
      }
      l[r] = l[r] * corr + ps;
#pragma unroll
      for (int k = 0; k < 8; k++) {
        float t = acc[r][k] * corr;
#pragma unroll
        for (int u = 0; u < U; u++) t += p[u] * vf[u][k];
        acc[r][k] = t;
      }
      m[r] = mn;
    }
    __syncthreads();  // this buffer is staged again DEC_NS - 1 tiles on
  }
  // Merge the lane groups of the warp (lanes with the same sub).
#pragma unroll
  for (int o = LPK; o < 32; o <<= 1)
#pragma unroll
    for (int r = 0; r < RB; r++) {
      float om = __shfl_xor_sync(0xffffffffu, m[r], o);
      float ol = __shfl_xor_sync(0xffffffffu, l[r], o);
      float w1, w2, mm;
      merge_w(m[r], om, w1, w2, mm);
      l[r] = l[r] * w1 + ol * w2;
#pragma unroll
      for (int k = 0; k < 8; k++) {
        float oa = __shfl_xor_sync(0xffffffffu, acc[r][k], o);
        acc[r][k] = acc[r][k] * w1 + oa * w2;
      }
      m[r] = mm;
    }
  if (gi == 0) {
#pragma unroll
    for (int r = 0; r < RB; r++) {
      if (act)
#pragma unroll
        for (int k = 0; k < 8; k++) sm_acc[warp][r][d0 + k] = acc[r][k];
      if (sub == 0) {
        sm_m[warp][r] = m[r];
        sm_l[warp][r] = l[r];
      }
    }
  }
  __syncthreads();
  if (warp != 0 || gi != 0 || !act) return;
#pragma unroll
  for (int r = 0; r < RB; r++) {
    if (r >= nr) break;
    float M = -INFINITY;
    for (int w = 0; w < DEC_NW; w++) M = fmaxf(M, sm_m[w][r]);
    float sink = -INFINITY;
    if (a.sinks && nsplit == 1) {
      sink = ld_any(a.sinks, hq[r] * a.sinks_stride, a.ot);
      M = fmaxf(M, sink);
    }
    float L = 0.0f, o[8];
#pragma unroll
    for (int k = 0; k < 8; k++) o[k] = 0.0f;
    if (M != -INFINITY) {
      for (int w = 0; w < DEC_NW; w++) {
        float mw = sm_m[w][r];
        if (mw == -INFINITY) continue;
        float e = __expf(mw - M);
        L += sm_l[w][r] * e;
#pragma unroll
        for (int k = 0; k < 8; k++) o[k] += sm_acc[w][r][d0 + k] * e;
      }
      if (sink != -INFINITY) L += __expf(sink - M);
    }
    const int64_t orow = (b * a.Hq + hq[r]) * a.Tq + qi[r];
    if (nsplit == 1) {
      const float inv = 1.0f / L;
#pragma unroll
      for (int k = 0; k < 8; k++)
        if (d0 + k < D) st_any(a.out, orow * D + d0 + k, a.ot, o[k] * inv);
    } else {
      const int64_t e = orow * nsplit + sp;
      if (sub == 0) {
        pm[e] = M;
        pl[e] = L;
      }
#pragma unroll
      for (int k = 0; k < 8; k++)
        if (d0 + k < D) pacc[e * D + d0 + k] = o[k];
    }
  }
}

// Merges the key splits of each output row (and the sink, as one more
// logit with no value). Warp 0 turns the split maxima into weights in
// shared memory once; then every thread sums its output elements over the
// splits with independent loads (a serial chain of dependent global loads
// per split cost tens of microseconds).
constexpr int COMBINE_MAX_SPLITS = 256;

__global__ void sdpa_combine(cu_sdpa_args a, int nsplit, const float *pm, const float *pl,
                             const float *pacc) {
  pdl_trigger();
  __shared__ float w[COMBINE_MAX_SPLITS];
  __shared__ float inv_l;
  const int64_t row = blockIdx.x;
  const int64_t hq = (row / a.Tq) % a.Hq;
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    float sink = a.sinks ? ld_any(a.sinks, hq * a.sinks_stride, a.ot) : -INFINITY;
    float M = sink;
    for (int s = lane; s < nsplit; s += 32) M = fmaxf(M, pm[row * nsplit + s]);
#pragma unroll
    for (int o = 16; o >= 1; o >>= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, o));
    float L = 0.0f;
    for (int s = lane; s < nsplit; s += 32) {
      const float ms = pm[row * nsplit + s];
      const float e = M == -INFINITY || ms == -INFINITY ? 0.0f : expf(ms - M);
      w[s] = e;
      L += pl[row * nsplit + s] * e;
    }
#pragma unroll
    for (int o = 16; o >= 1; o >>= 1) L += __shfl_xor_sync(0xffffffffu, L, o);
    if (lane == 0) {
      if (M != -INFINITY && sink != -INFINITY) L += expf(sink - M);
      inv_l = 1.0f / L;
    }
  }
  __syncthreads();
  const float inv = inv_l;
  const float *pa = pacc + row * nsplit * a.D;
  for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
    float o = 0.0f;
#pragma unroll 8
    for (int s = 0; s < nsplit; s++) o += pa[s * a.D + d] * w[s];
    st_any(a.out, row * a.D + d, a.ot, o * inv);
  }
}

// Prefill on CUDA cores: one block per (64 queries, query head, batch);
// 4 threads per query, each owning every 4th float4 of q and of the output
// accumulator; key / value tiles of BK rows staged in shared memory as f32.
constexpr int PF_BQ = 64, PF_TPQ = 4;

template <typename KT, int D>
__global__ void __launch_bounds__(PF_BQ *PF_TPQ) sdpa_prefill(cu_sdpa_args a) {
  pdl_trigger();
  constexpr int BK = D > 128 ? 16 : 32;
  constexpr int NC = D / 4, CPT = NC / PF_TPQ;
  __shared__ float4 Ks[BK][NC], Vs[BK][NC];
  const int tid = threadIdx.x, qloc = tid / PF_TPQ, part = tid % PF_TPQ;
  const int64_t i0 = (int64_t)blockIdx.x * PF_BQ, hq = blockIdx.y, b = blockIdx.z;
  const int64_t h = hq / (a.Hq / a.Hkv);
  const int64_t i = i0 + qloc;
  const bool live = i < a.Tq;
  const int64_t nq = a.Tq - i0 < PF_BQ ? a.Tq - i0 : PF_BQ;
  float4 q[CPT], o[CPT];
#pragma unroll
  for (int c = 0; c < CPT; c++) {
    const int64_t e = b * a.qs[0] + hq * a.qs[1] + i * a.qs[2] + (part + PF_TPQ * c) * 4;
    if (live)
      q[c] = make_float4(ld_any(a.q, e, a.qt), ld_any(a.q, e + 1, a.qt), ld_any(a.q, e + 2, a.qt),
                         ld_any(a.q, e + 3, a.qt));
    else
      q[c] = make_float4(0, 0, 0, 0);
    o[c] = make_float4(0, 0, 0, 0);
  }
  float m = -INFINITY, l = 0.0f;
  if (a.sinks) {
    m = ld_any(a.sinks, hq * a.sinks_stride, a.ot);
    l = 1.0f;
  }
  int64_t kend = a.Tk;
  // Key tiles past the tile's last diagonal are skipped unless a row of
  // the tile sees no key (it then averages all keys, as the CPU does).
  if (a.causal && i0 + a.Tk - a.Tq >= 0) {
    int64_t last = i0 + nq - 1 + a.Tk - a.Tq + 1;
    kend = last < kend ? last : kend;
  }
  const KT *kb = (const KT *)a.k + b * a.ks[0] + h * a.ks[1];
  const KT *vb = (const KT *)a.v + b * a.vs[0] + h * a.vs[1];
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int n = kend - j0 < BK ? (int)(kend - j0) : BK;
    __syncthreads();
    for (int e = tid; e < BK * NC; e += PF_BQ * PF_TPQ) {
      const int jj = e / NC, c = e % NC;
      float4 kv = make_float4(0, 0, 0, 0), vv = kv;
      if (jj < n) {
        const KT *kp = kb + (j0 + jj) * a.ks[2] + c * 4;
        const KT *vp = vb + (j0 + jj) * a.vs[2] + c * 4;
        kv = make_float4(tof<KT>(kp[0]), tof<KT>(kp[1]), tof<KT>(kp[2]), tof<KT>(kp[3]));
        vv = make_float4(tof<KT>(vp[0]), tof<KT>(vp[1]), tof<KT>(vp[2]), tof<KT>(vp[3]));
      }
      Ks[jj][c] = kv;
      Vs[jj][c] = vv;
    }
    __syncthreads();
    float s[BK];
    float mx = -INFINITY;
#pragma unroll
    for (int jj = 0; jj < BK; jj++) {
      float d = 0.0f;
#pragma unroll
      for (int c = 0; c < CPT; c++) {
        float4 kv = Ks[jj][part + PF_TPQ * c];
        d += q[c].x * kv.x + q[c].y * kv.y + q[c].z * kv.z + q[c].w * kv.w;
      }
      d += __shfl_xor_sync(0xffffffffu, d, 1);
      d += __shfl_xor_sync(0xffffffffu, d, 2);
      float v = -INFINITY;
      if (jj < n && live) v = mask_score(a, d * a.scale, b, hq, i, j0 + jj);
      s[jj] = v;
      mx = fmaxf(mx, v);
    }
    const float mn = fmaxf(m, mx);
    if (mn == -INFINITY) continue;
    const float corr = __expf(m - mn);
    float ps = 0.0f;
#pragma unroll
    for (int jj = 0; jj < BK; jj++) {
      s[jj] = __expf(s[jj] - mn);
      ps += s[jj];
    }
    l = l * corr + ps;
#pragma unroll
    for (int c = 0; c < CPT; c++) {
      float4 t = make_float4(o[c].x * corr, o[c].y * corr, o[c].z * corr, o[c].w * corr);
#pragma unroll
      for (int jj = 0; jj < BK; jj++) {
        float4 vv = Vs[jj][part + PF_TPQ * c];
        t.x += s[jj] * vv.x;
        t.y += s[jj] * vv.y;
        t.z += s[jj] * vv.z;
        t.w += s[jj] * vv.w;
      }
      o[c] = t;
    }
    m = mn;
  }
  if (!live) return;
  const float inv = 1.0f / l;
  const int64_t orow = ((b * a.Hq + hq) * a.Tq + i) * D;
#pragma unroll
  for (int c = 0; c < CPT; c++) {
    const int64_t e = orow + (part + PF_TPQ * c) * 4;
    st_any(a.out, e, a.ot, o[c].x * inv);
    st_any(a.out, e + 1, a.ot, o[c].y * inv);
    st_any(a.out, e + 2, a.ot, o[c].z * inv);
    st_any(a.out, e + 3, a.ot, o[c].w * inv);
  }
}

// Prefill on tensor cores (f16 / bf16 q, k, v, D <= 128): mma.sync m16n8k16 with f32
// accumulation, FlashAttention-2 style. One block = 4 warps = 64 queries of
// one (batch, query head); each warp owns 16 query rows, holds its Q
// fragments, the 16 x 64 score tile and the 16 x D output accumulator in
// registers (the m16n8 accumulator layout: rows lane/4 and lane/4 + 8,
// columns 2*(lane%4) + {0,1} of each 8-wide tile), so the online-softmax
// rescaling is per register. K and V tiles of 64 keys are staged row-major
// by cp.async, double-buffered (the next tile loads while this one is
// used), and read with ldmatrix (.trans for V: it hands out the column
// pairs the B operand of P.V wants); rows are padded by 16 bytes so the 8
// row addresses of each ldmatrix hit distinct banks. The probabilities
// enter the second product rounded to the input type; the normalizer sums
// them in f32. K/V rows must be 16-byte aligned (cp.async); others take
// the CUDA-core kernel.
constexpr int TC_BQ = 64, TC_BK = 64, TC_WARPS = 4;

template <typename T> __device__ __forceinline__ uint32_t pack2(float x, float y);
template <> __device__ __forceinline__ uint32_t pack2<h16>(float x, float y) {
  __half2 h = __floats2half2_rn(x, y);
  return *(uint32_t *)&h;
}
template <> __device__ __forceinline__ uint32_t pack2<b16>(float x, float y) {
  __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
  return *(uint32_t *)&h;
}

template <typename T> __device__ __forceinline__ void mma16816(float *c, const uint32_t *a, uint32_t b0, uint32_t b1);
template <> __device__ __forceinline__ void mma16816<h16>(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <> __device__ __forceinline__ void mma16816<b16>(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8x8 b16 matrices from shared memory (lanes 8i..8i+7 give matrix i's
// row addresses); .trans hands each thread a column pair instead of a row
// pair, which is the B operand layout of a row-major V tile.
__device__ __forceinline__ void ldsm_x4(uint32_t *r, const void *p) {
  unsigned s = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t *r, const void *p) {
  unsigned s = (unsigned)__cvta_generic_to_shared(p);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

template <typename T, int D>
__global__ void __launch_bounds__(TC_WARPS * 32) sdpa_prefill_tc(cu_sdpa_args a) {
  pdl_trigger();
  constexpr int KSTR = D + 8;  // halves per staged row (16-byte multiple, bank-spread)
  constexpr int NKD = D / 16, NTD = D / 8, NTK = TC_BK / 8;
  constexpr int TILE = TC_BK * KSTR;  // halves per staged K (or V) tile
  extern __shared__ __align__(16) unsigned char tc_smem[];
  T *Ks = (T *)tc_smem;          // [2][TC_BK][KSTR]
  T *Vs = Ks + 2 * TILE;         // [2][TC_BK][KSTR]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, c2 = (lane & 3) * 2;
  const int64_t i0 = (int64_t)blockIdx.x * TC_BQ, hq = blockIdx.y, b = blockIdx.z;
  const int64_t h = hq / (a.Hq / a.Hkv);
  const int64_t nq = a.Tq - i0 < TC_BQ ? a.Tq - i0 : TC_BQ;
  const int64_t r0 = i0 + warp * 16 + g, r1 = r0 + 8;
  const bool live0 = r0 < a.Tq, live1 = r1 < a.Tq;
  const T *qp = (const T *)a.q + b * a.qs[0] + hq * a.qs[1];
  uint32_t qf[NKD][4];
#pragma unroll
  for (int ks = 0; ks < NKD; ks++) {
    const int c = ks * 16 + c2;
    const float z = 0.0f;
    const T *q0 = qp + r0 * a.qs[2], *q1 = qp + r1 * a.qs[2];
    qf[ks][0] = pack2<T>(live0 ? tof<T>(q0[c]) : z, live0 ? tof<T>(q0[c + 1]) : z);
    qf[ks][1] = pack2<T>(live1 ? tof<T>(q1[c]) : z, live1 ? tof<T>(q1[c + 1]) : z);
    qf[ks][2] = pack2<T>(live0 ? tof<T>(q0[c + 8]) : z, live0 ? tof<T>(q0[c + 9]) : z);
    qf[ks][3] = pack2<T>(live1 ? tof<T>(q1[c + 8]) : z, live1 ? tof<T>(q1[c + 9]) : z);
  }
  float o[NTD][4];
#pragma unroll
  for (int t = 0; t < NTD; t++) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  if (a.sinks) {
    m[0] = m[1] = ld_any(a.sinks, hq * a.sinks_stride, a.ot);
    if ((lane & 3) == 0) l[0] = l[1] = 1.0f;  // the row sum adds the 4 lanes
  }
  int64_t kend = a.Tk;
  if (a.causal && i0 + a.Tk - a.Tq >= 0) {
    int64_t last = i0 + nq - 1 + a.Tk - a.Tq + 1;
    kend = last < kend ? last : kend;
  }
  const T *kb = (const T *)a.k + b * a.ks[0] + h * a.ks[1];
  const T *vb = (const T *)a.v + b * a.vs[0] + h * a.vs[1];
  const int ntiles = (int)((kend + TC_BK - 1) / TC_BK);
  // Stages tile `it` into buffer it % 2 (rows past the end are zero-filled).
  auto stage = [&](int it) {
    const int64_t j0 = (int64_t)it * TC_BK;
    T *kd = Ks + (it & 1) * TILE, *vd = Vs + (it & 1) * TILE;
    for (int e = tid; e < TC_BK * (D / 8); e += TC_WARPS * 32) {
      const int jj = e / (D / 8), ch = e % (D / 8);
      const bool in = j0 + jj < kend;
      const int64_t j = in ? j0 + jj : 0;
      cp_async16(kd + jj * KSTR + ch * 8, kb + j * a.ks[2] + ch * 8, in);
      cp_async16(vd + jj * KSTR + ch * 8, vb + j * a.vs[2] + ch * 8, in);
    }
    cp_async_commit();
  };
  if (ntiles > 0) stage(0);
  for (int it = 0; it < ntiles; it++) {
    const int64_t j0 = (int64_t)it * TC_BK;
    const int n = kend - j0 < TC_BK ? (int)(kend - j0) : TC_BK;
    if (it + 1 < ntiles) {
      stage(it + 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const T *kt = Ks + (it & 1) * TILE, *vt = Vs + (it & 1) * TILE;
    float s[NTK][4];
    // ldmatrix lane roles: matrix mi = lane / 8, its row lr = lane % 8.
    const int mi = lane >> 3, lr = lane & 7;
#pragma unroll
    for (int t = 0; t < NTK; t++) {
      s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;
#pragma unroll
      for (int ks = 0; ks < NKD; ks += 2) {
        // matrices: (ks, lo), (ks, hi), (ks+1, lo), (ks+1, hi) of key rows t*8..
        uint32_t r[4];
        const int kk = ks + (mi >> 1) < NKD ? ks + (mi >> 1) : ks;
        ldsm_x4(r, kt + (t * 8 + lr) * KSTR + kk * 16 + (mi & 1) * 8);
        mma16816<T>(s[t], qf[ks], r[0], r[1]);
        if (ks + 1 < NKD) mma16816<T>(s[t], qf[ks + 1], r[2], r[3]);
      }
    }
    float mx[2] = {-INFINITY, -INFINITY};
    const bool plain = !a.causal && a.mt < 0 && n == TC_BK && live1;
#pragma unroll
    for (int t = 0; t < NTK; t++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int jj = t * 8 + c2 + (e & 1);
        float v = s[t][e] * a.scale;
        if (!plain) {
          const int64_t row = e < 2 ? r0 : r1;
          const bool live = e < 2 ? live0 : live1;
          v = jj < n && live ? mask_score(a, v, b, hq, row, j0 + jj) : -INFINITY;
        }
        s[t][e] = v;
        mx[e >> 1] = fmaxf(mx[e >> 1], v);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mn = fmaxf(m[r], mx[r]);
      corr[r] = mn == -INFINITY ? 1.0f : __expf(m[r] - mn);
      mx[r] = mn;
      m[r] = mn;
    }
    float ps[2] = {0.0f, 0.0f};
#pragma unroll
    for (int t = 0; t < NTK; t++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float mn = mx[e >> 1];
        const float p = mn == -INFINITY ? 0.0f : __expf(s[t][e] - mn);
        s[t][e] = p;
        ps[e >> 1] += p;
      }
    l[0] = l[0] * corr[0] + ps[0];
    l[1] = l[1] * corr[1] + ps[1];
#pragma unroll
    for (int t = 0; t < NTD; t++) {
      o[t][0] *= corr[0];
      o[t][1] *= corr[0];
      o[t][2] *= corr[1];
      o[t][3] *= corr[1];
    }
#pragma unroll
    for (int kk = 0; kk < TC_BK / 16; kk++) {
      uint32_t pa[4];
      pa[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int t = 0; t < NTD; t += 2) {
        // matrices: keys kk*16 + {0..7, 8..15} of d tiles t and t+1
        uint32_t r[4];
        const int tt = t + (mi >> 1) < NTD ? t + (mi >> 1) : t;
        ldsm_x4_t(r, vt + (kk * 16 + (mi & 1) * 8 + lr) * KSTR + tt * 8);
        mma16816<T>(o[t], pa, r[0], r[1]);
        if (t + 1 < NTD) mma16816<T>(o[t + 1], pa, r[2], r[3]);
      }
    }
    __syncthreads();  // buffer it % 2 is staged again two tiles on
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  const float inv0 = 1.0f / l[0], inv1 = 1.0f / l[1];
  T *out = (T *)a.out + ((b * a.Hq + hq) * a.Tq) * D;
#pragma unroll
  for (int t = 0; t < NTD; t++) {
    const int c = t * 8 + c2;
    if (live0) *(uint32_t *)(out + r0 * D + c) = pack2<T>(o[t][0] * inv0, o[t][1] * inv0);
    if (live1) *(uint32_t *)(out + r1 * D + c) = pack2<T>(o[t][2] * inv1, o[t][3] * inv1);
  }
}

template <typename T, int D> constexpr size_t tc_smem_bytes() {
  return (size_t)4 * TC_BK * (D + 8) * sizeof(T);
}

// Decode on tensor cores (f16 / bf16 q, k, v and output of one type, D <=
// 128). The R = G x Tq query rows of one kv head (GQA: K/V are read once
// for all G query heads) are padded to the 16 rows of an m16n8k16 A
// operand, a block per (key split, 16-row chunk, batch x kv head). Each
// 64-key tile is staged by cp.async (DT_NS tiles in flight, the tail of
// the pipeline zero-filled) and split over the 4 warps, 16 keys each: S =
// Q K^T (ldmatrix of K), the online softmax on the accumulator fragments,
// O += P V (ldmatrix.trans of V), exactly as sdpa_prefill_tc does for 64
// queries. Per key that is ~4 warp instructions instead of the ~60 of the
// CUDA-core kernel, so the stream of K/V is no longer issue-bound. The
// warps merge their (m, l, O) in shared memory (reusing the staging
// buffers); with several key splits each block writes its partial state
// and the last block of a (row chunk, kv head) to finish (a counter per
// group, reset by that block) merges them: no second launch.
constexpr int DT_NW = 4, DT_KPW = 16, DT_TK = DT_NW * DT_KPW, DT_NS = 3;
constexpr int DT_MAX_GROUPS = 8192;
__device__ unsigned int dt_counters[DT_MAX_GROUPS];

template <typename T, int D> __host__ __device__ constexpr size_t dt_stage_bytes() {
  return (size_t)2 * DT_TK * (D + 8) * sizeof(T);
}

template <typename T, int D>
__global__ void __launch_bounds__(DT_NW * 32)
    sdpa_decode_tc(cu_sdpa_args a, int64_t kps, float *pacc, float *pm, float *pl, int nsplit) {
  pdl_trigger();
  constexpr int KSTR = D + 8, NKD = D / 16, NTD = D / 8, TILE = DT_TK * KSTR;
  constexpr int OSTR = D + 4;  // floats per merged row (bank spread)
  static_assert((size_t)DT_NW * 16 * OSTR * 4 <= dt_stage_bytes<T, D>(), "merge area");
  static_assert((size_t)16 * 256 * 4 <= dt_stage_bytes<T, D>(), "combine weights");
  extern __shared__ __align__(16) unsigned char dt_smem[];
  __shared__ float sm_m[DT_NW][16], sm_l[DT_NW][16], sm_inv[16];
  __shared__ unsigned sm_last;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, c2 = (lane & 3) * 2;
  // 32-bit index math (the plan bounds B * Hkv, the rows and heads): a
  // 64-bit division is a long subroutine on the latency path.
  const int sp = blockIdx.x, Hkv = (int)a.Hkv, Tq = (int)a.Tq, G = (int)a.Hq / Hkv;
  const int bh = blockIdx.z, b = bh / Hkv, h = bh - b * Hkv;
  const int R = G * Tq, r0 = blockIdx.y * 16;
  const int nr = R - r0 < 16 ? R - r0 : 16;
  const int64_t k0 = (int64_t)sp * kps, k1 = k0 + kps < a.Tk ? k0 + kps : a.Tk;
  const T *kb = (const T *)a.k + (int64_t)b * a.ks[0] + (int64_t)h * a.ks[1];
  const T *vb = (const T *)a.v + (int64_t)b * a.vs[0] + (int64_t)h * a.vs[1];
  const int ntiles = k1 > k0 ? (int)((k1 - k0 + DT_TK - 1) / DT_TK) : 0;
  auto stage = [&](int it) {
    if (it < ntiles) {
      T *kd = (T *)dt_smem + (it % DT_NS) * 2 * TILE, *vd = kd + TILE;
      const int64_t jb = k0 + (int64_t)it * DT_TK;
      for (int e = tid; e < DT_TK * (D / 8); e += DT_NW * 32) {
        const int jj = e / (D / 8), ch = e % (D / 8);
        const bool in = jb + jj < k1;
        const int64_t j = in ? jb + jj : k0;
        cp_async16(kd + jj * KSTR + ch * 8, kb + j * a.ks[2] + ch * 8, in);
        cp_async16(vd + jj * KSTR + ch * 8, vb + j * a.vs[2] + ch * 8, in);
      }
    }
    cp_async_commit();  // empty past the end: the wait counts stay uniform
  };
#pragma unroll
  for (int i = 0; i < DT_NS - 1; i++) stage(i);
  // This lane's two rows of the fragment: local g and g + 8.
  int hq[2], qi[2];
  bool valid[2];
  uint32_t qf[NKD][4];
  {
    const T *qp[2];
#pragma unroll
    for (int e = 0; e < 2; e++) {
      const int rl = g + 8 * e;
      valid[e] = rl < nr;
      const int rr = r0 + (valid[e] ? rl : 0), hr = rr / Tq;
      hq[e] = h * G + hr;
      qi[e] = rr - hr * Tq;
      qp[e] = (const T *)a.q + (int64_t)b * a.qs[0] + (int64_t)hq[e] * a.qs[1] + (int64_t)qi[e] * a.qs[2];
    }
    const float z = 0.0f;
#pragma unroll
    for (int ks = 0; ks < NKD; ks++) {
      const int c = ks * 16 + c2;
      qf[ks][0] = pack2<T>(valid[0] ? tof<T>(qp[0][c]) : z, valid[0] ? tof<T>(qp[0][c + 1]) : z);
      qf[ks][1] = pack2<T>(valid[1] ? tof<T>(qp[1][c]) : z, valid[1] ? tof<T>(qp[1][c + 1]) : z);
      qf[ks][2] = pack2<T>(valid[0] ? tof<T>(qp[0][c + 8]) : z, valid[0] ? tof<T>(qp[0][c + 9]) : z);
      qf[ks][3] = pack2<T>(valid[1] ? tof<T>(qp[1][c + 8]) : z, valid[1] ? tof<T>(qp[1][c + 9]) : z);
    }
  }
  float o[NTD][4];
#pragma unroll
  for (int t = 0; t < NTD; t++) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const bool unmasked = !a.causal && a.mt < 0;
  const int mi = lane >> 3, lr = lane & 7;  // ldmatrix roles: matrix, row
  for (int it = 0; it < ntiles; it++) {
    stage(it + DT_NS - 1);
    cp_async_wait<DT_NS - 1>();
    __syncthreads();
    const T *kt = (const T *)dt_smem + (it % DT_NS) * 2 * TILE + warp * DT_KPW * KSTR;
    const T *vt = kt + TILE;
    const int64_t jw = k0 + (int64_t)it * DT_TK + warp * DT_KPW;  // this warp's first key
    const int n = k1 - jw >= DT_KPW ? DT_KPW : k1 - jw > 0 ? (int)(k1 - jw) : 0;
    if (n > 0) {  // warp-uniform
      float s[2][4];
#pragma unroll
      for (int t = 0; t < 2; t++) {
        s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < NKD; ks += 2) {
          uint32_t r[4];
          const int kk = ks + (mi >> 1) < NKD ? ks + (mi >> 1) : ks;
          ldsm_x4(r, kt + (t * 8 + lr) * KSTR + kk * 16 + (mi & 1) * 8);
          mma16816<T>(s[t], qf[ks], r[0], r[1]);
          if (ks + 1 < NKD) mma16816<T>(s[t], qf[ks + 1], r[2], r[3]);
        }
      }
      float mx[2] = {-INFINITY, -INFINITY};
      const bool plain = unmasked && n == DT_KPW;
#pragma unroll
      for (int t = 0; t < 2; t++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int jj = t * 8 + c2 + (e & 1);
          float v = s[t][e] * a.scale;
          if (!plain) {
            const int rw = e >> 1;
            v = jj < n && valid[rw] ? mask_score(a, v, b, hq[rw], qi[rw], jw + jj) : -INFINITY;
          }
          s[t][e] = v;
          mx[e >> 1] = fmaxf(mx[e >> 1], v);
        }
      float corr[2];
#pragma unroll
      for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        const float mn = fmaxf(m[r], mx[r]);
        corr[r] = mn == -INFINITY ? 1.0f : __expf(m[r] - mn);
        mx[r] = mn;
        m[r] = mn;
      }
      float ps[2] = {0.0f, 0.0f};
#pragma unroll
      for (int t = 0; t < 2; t++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float mn = mx[e >> 1];
          const float p = mn == -INFINITY ? 0.0f : __expf(s[t][e] - mn);
          s[t][e] = p;
          ps[e >> 1] += p;
        }
      l[0] = l[0] * corr[0] + ps[0];
      l[1] = l[1] * corr[1] + ps[1];
#pragma unroll
      for (int t = 0; t < NTD; t++) {
        o[t][0] *= corr[0];
        o[t][1] *= corr[0];
        o[t][2] *= corr[1];
        o[t][3] *= corr[1];
      }
      uint32_t pa[4];
      pa[0] = pack2<T>(s[0][0], s[0][1]);
      pa[1] = pack2<T>(s[0][2], s[0][3]);
      pa[2] = pack2<T>(s[1][0], s[1][1]);
      pa[3] = pack2<T>(s[1][2], s[1][3]);
#pragma unroll
      for (int t = 0; t < NTD; t += 2) {
        uint32_t r[4];
        const int tt = t + (mi >> 1) < NTD ? t + (mi >> 1) : t;
        ldsm_x4_t(r, vt + ((mi & 1) * 8 + lr) * KSTR + tt * 8);
        mma16816<T>(o[t], pa, r[0], r[1]);
        if (t + 1 < NTD) mma16816<T>(o[t + 1], pa, r[2], r[3]);
      }
    }
    __syncthreads();  // this buffer is staged again DT_NS - 1 tiles on
  }
  cp_async_wait<0>();  // only empty groups can be left; the smem is reused below
  __syncthreads();
#pragma unroll
  for (int r = 0; r < 2; r++) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  float *so = (float *)dt_smem;  // [DT_NW][16][OSTR]
#pragma unroll
  for (int e = 0; e < 2; e++) {
    const int rl = g + 8 * e;
    if (!valid[e]) continue;
    float *dst = so + (warp * 16 + rl) * OSTR + c2;
#pragma unroll
    for (int t = 0; t < NTD; t++) *(float2 *)(dst + t * 8) = make_float2(o[t][2 * e], o[t][2 * e + 1]);
    if ((lane & 3) == 0) {
      sm_m[warp][rl] = m[e];
      sm_l[warp][rl] = l[e];
    }
  }
  __syncthreads();
  constexpr int D4 = D / 4;
  T *out = (T *)a.out;
  for (int idx = tid; idx < nr * D4; idx += DT_NW * 32) {
    const int rl = idx / D4, d4 = idx % D4;
    const int rr = r0 + rl, hr = rr / Tq, hqr = h * G + hr;
    const int64_t orow = ((int64_t)b * a.Hq + hqr) * Tq + (rr - hr * Tq);
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < DT_NW; w++) M = fmaxf(M, sm_m[w][rl]);
    float sink = -INFINITY;
    if (a.sinks && nsplit == 1) {
      sink = ld_any(a.sinks, hqr * a.sinks_stride, a.ot);
      M = fmaxf(M, sink);
    }
    float L = 0.0f;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < DT_NW; w++) {
        const float mw = sm_m[w][rl];
        const float e = mw == -INFINITY ? 0.0f : __expf(mw - M);
        L += sm_l[w][rl] * e;
        const float4 v = *(const float4 *)(so + (w * 16 + rl) * OSTR + d4 * 4);
        acc.x += v.x * e;
        acc.y += v.y * e;
        acc.z += v.z * e;
        acc.w += v.w * e;
      }
      if (sink != -INFINITY) L += __expf(sink - M);
    }
    if (nsplit == 1) {
      const float inv = 1.0f / L;
      uint2 u;
      u.x = pack2<T>(acc.x * inv, acc.y * inv);
      u.y = pack2<T>(acc.z * inv, acc.w * inv);
      *(uint2 *)(out + orow * D + d4 * 4) = u;
    } else {
      const int64_t e = orow * nsplit + sp;
      *(float4 *)(pacc + e * D + d4 * 4) = acc;
      if (d4 == 0) {
        pm[e] = M;
        pl[e] = L;
      }
    }
  }
  if (nsplit == 1) return;
  // The last block of this (row chunk, kv head) merges the splits.
  const int64_t grp = (int64_t)blockIdx.z * gridDim.y + blockIdx.y;
  __threadfence();
  __syncthreads();
  if (tid == 0) sm_last = atomicAdd(&dt_counters[grp], 1u) == (unsigned)nsplit - 1;
  __syncthreads();
  if (!sm_last) return;
  __threadfence();
  float *wsm = (float *)dt_smem;  // [16][nsplit] split weights
  // Split weights: a warp per row, lanes over splits; every (m, l) of the
  // row is loaded in one go (COMBINE_MAX_SPLITS / 32 per lane at most).
  constexpr int SPL = COMBINE_MAX_SPLITS / 32;
  for (int rl = warp; rl < nr; rl += DT_NW) {
    const int rr = r0 + rl, hr = rr / Tq, hqr = h * G + hr;
    const int64_t orow = ((int64_t)b * a.Hq + hqr) * Tq + (rr - hr * Tq);
    const float sink = a.sinks ? ld_any(a.sinks, hqr * a.sinks_stride, a.ot) : -INFINITY;
    float ms[SPL], ls[SPL];
#pragma unroll
    for (int i = 0; i < SPL; i++) {
      const int s = lane + 32 * i;
      ms[i] = s < nsplit ? __ldcg(pm + orow * nsplit + s) : -INFINITY;
      ls[i] = s < nsplit ? __ldcg(pl + orow * nsplit + s) : 0.0f;
    }
    float M = sink;
#pragma unroll
    for (int i = 0; i < SPL; i++) M = fmaxf(M, ms[i]);
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1) M = fmaxf(M, __shfl_xor_sync(0xffffffffu, M, off));
    float L = 0.0f;
#pragma unroll
    for (int i = 0; i < SPL; i++) {
      const int s = lane + 32 * i;
      const float e = M == -INFINITY || ms[i] == -INFINITY ? 0.0f : __expf(ms[i] - M);
      if (s < nsplit) wsm[rl * nsplit + s] = e;
      L += ls[i] * e;
    }
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1) L += __shfl_xor_sync(0xffffffffu, L, off);
    if (lane == 0) {
      if (M != -INFINITY && sink != -INFINITY) L += __expf(sink - M);
      sm_inv[rl] = 1.0f / L;
    }
  }
  __syncthreads();
  for (int idx = tid; idx < nr * D4; idx += DT_NW * 32) {
    const int rl = idx / D4, d4 = idx % D4;
    const int rr = r0 + rl, hr = rr / Tq, hqr = h * G + hr;
    const int64_t orow = ((int64_t)b * a.Hq + hqr) * Tq + (rr - hr * Tq);
    const float4 *pa = (const float4 *)(pacc + orow * nsplit * D) + d4;
    const float *wr = wsm + rl * nsplit;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 16
    for (int s = 0; s < nsplit; s++) {
      const float4 v = __ldcg(pa + (int64_t)s * D4);
      const float e = wr[s];
      acc.x += v.x * e;
      acc.y += v.y * e;
      acc.z += v.z * e;
      acc.w += v.w * e;
    }
    const float inv = sm_inv[rl];
    uint2 u;
    u.x = pack2<T>(acc.x * inv, acc.y * inv);
    u.y = pack2<T>(acc.z * inv, acc.w * inv);
    *(uint2 *)(out + orow * D + d4 * 4) = u;
  }
  if (tid == 0) dt_counters[grp] = 0;  // ready for the next launch on the stream
}

// ---- plans

constexpr int DECODE_MAX_TQ = 8;

struct dec_plan {
  bool decode;
  int rb, nsplit, rowchunks;
  int64_t kps;
  bool tc;   // sdpa_decode_tc (rowchunks of 16 rows, rb unused)
  int nbuf;  // its staging buffers: DT_NS, fewer when a split has fewer tiles
};

int g_decode_impl = 0;    // cu_sdpa_set_decode_impl
int g_decode_splits = 0;  // cu_sdpa_set_decode_splits

bool elem_aligned(const void *p, const int64_t *st, int n, size_t esz) {
  if ((uintptr_t)p % 16) return false;
  for (int i = 0; i < n; i++)
    if (((uint64_t)st[i] * esz) % 16) return false;
  return true;
}

size_t dsize(int t) { return t == MX_FLOAT32 ? 4 : 2; }

dec_plan plan_of(const cu_sdpa_args *a) {
  dec_plan p = {false, 1, 1, 1, a->Tk, false, 1};
  const int64_t G = a->Hq / a->Hkv, R = G * a->Tq;
  const size_t ks = dsize(a->kt);
  bool aligned = elem_aligned(a->k, a->ks, 3, ks) && elem_aligned(a->v, a->vs, 3, ks);
  if (a->Tq > DECODE_MAX_TQ || !aligned || a->B * a->Hkv > 65535) return p;
  p.decode = true;
  if (g_decode_impl != 1 && ks == 2 && a->D <= 128 && a->qt == a->kt && a->ot == a->kt &&
      (R + 15) / 16 <= 65535) {
    // Tensor-core decode: about two blocks per SM, each split at least two
    // 64-key tiles (a split costs its partial state and the merge).
    p.tc = true;
    p.rowchunks = (int)((R + 15) / 16);
    const int64_t base = a->B * a->Hkv * p.rowchunks;
    const int64_t tiles = (a->Tk + DT_TK - 1) / DT_TK;
    int64_t ns = (2 * (int64_t)sm_count() + base - 1) / base, most = tiles / 2;
    if (ns > most) ns = most;
    if (g_decode_splits > 0) ns = g_decode_splits < tiles ? g_decode_splits : tiles;
    if (ns > COMBINE_MAX_SPLITS) ns = COMBINE_MAX_SPLITS;
    if (ns < 1 || base > DT_MAX_GROUPS) ns = 1;
    const int64_t tps = (tiles + ns - 1) / ns;  // tiles per split
    p.kps = tps * DT_TK;
    p.nsplit = (int)((a->Tk + p.kps - 1) / p.kps);
    if (p.nsplit < 1) p.nsplit = 1;
    p.nbuf = tps < DT_NS ? (int)tps : DT_NS;
    if (p.nbuf < 1) p.nbuf = 1;
    return p;
  }
  p.rb = R <= 1 ? 1 : R <= 2 ? 2 : R <= 4 ? 4 : 8;
  p.rowchunks = (int)((R + p.rb - 1) / p.rb);
  if (p.rowchunks > 65535) return dec_plan{false, 1, 1, 1, a->Tk};
  const int64_t base = a->B * a->Hkv * p.rowchunks;
  const int64_t target = 4 * (int64_t)sm_count();
  int64_t ns = (target + base - 1) / base, most = a->Tk / 64;
  if (ns > most) ns = most;
  if (ns > COMBINE_MAX_SPLITS) ns = COMBINE_MAX_SPLITS;
  if (ns < 1) ns = 1;
  p.kps = (a->Tk + ns - 1) / ns;
  p.nsplit = (int)((a->Tk + p.kps - 1) / p.kps);
  return p;
}

template <typename KT, int D, int RB>
int launch_decode(const cu_sdpa_args *a, const dec_plan &p, void *scratch, cudaStream_t s) {
  const int64_t rows = a->B * a->Hq * a->Tq;
  float *pm = (float *)scratch, *pl = pm + rows * p.nsplit, *pacc = pl + rows * p.nsplit;
  dim3 grid(p.nsplit, p.rowchunks, (unsigned)(a->B * a->Hkv));
  const size_t smem = dec_cfg<KT, D, RB>::smem;
  static bool attr_set = false;
  if (!attr_set) {  // static + dynamic shared memory may pass the default 48 KB
    cudaError_t e = cudaFuncSetAttribute(sdpa_decode<KT, D, RB>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
  }
  attr_set = true;
  sdpa_decode<KT, D, RB><<<grid, DEC_NW * 32, smem, s>>>(*a, p.kps, pm, pl, pacc, p.nsplit);
  if (p.nsplit > 1) {
    int th = D < 128 ? 64 : 128;
    sdpa_combine<<<(unsigned)rows, th, 0, s>>>(*a, p.nsplit, pm, pl, pacc);
  }
  return (int)cudaGetLastError();
}

template <typename KT, int D>
int launch_decode_tc(const cu_sdpa_args *a, const dec_plan &p, void *scratch, cudaStream_t s) {
  if constexpr (sizeof(KT) == 2 && D <= 128) {
    const int64_t rows = a->B * a->Hq * a->Tq;
    float *pacc = (float *)scratch, *pm = pacc + rows * p.nsplit * D, *pl = pm + rows * p.nsplit;
    dim3 grid(p.nsplit, p.rowchunks, (unsigned)(a->B * a->Hkv));
    const size_t smem = (size_t)p.nbuf * dt_stage_bytes<KT, D>();
    static bool attr_set = false;
    if (!attr_set) {
      cudaError_t e = cudaFuncSetAttribute(sdpa_decode_tc<KT, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           (int)(DT_NS * dt_stage_bytes<KT, D>()));
      if (e != cudaSuccess) return (int)e;
    }
    attr_set = true;
    sdpa_decode_tc<KT, D><<<grid, DT_NW * 32, smem, s>>>(*a, p.kps, pacc, pm, pl, p.nsplit);
  }
  return (int)cudaGetLastError();
}

// The tensor-core prefill covers f16 / bf16 (q, k, v and output of one
// type) and D <= 128 (larger heads would not fit the accumulators in
// registers); q rows need 4-byte alignment for the packed output stores.
template <typename KT, int D> bool tc_ok(const cu_sdpa_args *a) {
  if (sizeof(KT) != 2 || D > 128 || a->qt != a->kt || a->ot != a->kt) return false;
  return elem_aligned(a->k, a->ks, 3, 2) && elem_aligned(a->v, a->vs, 3, 2);
}
template <typename KT, int D> int launch_tc(const cu_sdpa_args *a, unsigned gx, cudaStream_t s) {
  if constexpr (sizeof(KT) == 2 && D <= 128) {
    const size_t smem = tc_smem_bytes<KT, D>();
    static bool attr_set = false;
    if (!attr_set && smem > 48 * 1024) {
      cudaError_t e = cudaFuncSetAttribute(sdpa_prefill_tc<KT, D>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
      if (e != cudaSuccess) return (int)e;
    }
    attr_set = true;
    sdpa_prefill_tc<KT, D><<<dim3(gx, (unsigned)a->Hq, (unsigned)a->B), TC_WARPS * 32, smem, s>>>(*a);
  }
  return (int)cudaGetLastError();
}

template <typename KT, int D>
int launch_sdpa_d(const cu_sdpa_args *a, void *scratch, cudaStream_t s) {
  dec_plan p = plan_of(a);
  if (p.decode && p.tc) return launch_decode_tc<KT, D>(a, p, scratch, s);
  if (p.decode) {
    switch (p.rb) {
      case 1: return launch_decode<KT, D, 1>(a, p, scratch, s);
      case 2: return launch_decode<KT, D, 2>(a, p, scratch, s);
      case 4: return launch_decode<KT, D, 4>(a, p, scratch, s);
      default: return launch_decode<KT, D, 8>(a, p, scratch, s);
    }
  }
  if (a->Hq > 65535 || a->B > 65535) return (int)cudaErrorInvalidConfiguration;
  if (tc_ok<KT, D>(a)) {
    int64_t gx = (a->Tq + TC_BQ - 1) / TC_BQ;
    if (gx > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
    return launch_tc<KT, D>(a, (unsigned)gx, s);
  }
  int64_t gx = (a->Tq + PF_BQ - 1) / PF_BQ;
  if (gx > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
  sdpa_prefill<KT, D><<<dim3((unsigned)gx, (unsigned)a->Hq, (unsigned)a->B), PF_BQ * PF_TPQ, 0, s>>>(*a);
  return (int)cudaGetLastError();
}

template <typename KT> int launch_sdpa_t(const cu_sdpa_args *a, void *scratch, cudaStream_t s) {
  switch (a->D) {
    case 64: return launch_sdpa_d<KT, 64>(a, scratch, s);
    case 80: return launch_sdpa_d<KT, 80>(a, scratch, s);
    case 96: return launch_sdpa_d<KT, 96>(a, scratch, s);
    case 128: return launch_sdpa_d<KT, 128>(a, scratch, s);
    case 256: return launch_sdpa_d<KT, 256>(a, scratch, s);
  }
  return (int)cudaErrorInvalidValue;
}

}  // namespace

extern "C" int cu_sdpa_supported(const cu_sdpa_args *a) {
  bool d_ok = a->D == 64 || a->D == 80 || a->D == 96 || a->D == 128 || a->D == 256;
  bool t_ok = [](int t) { return t == MX_FLOAT16 || t == MX_BFLOAT16 || t == MX_FLOAT32; }(a->kt);
  bool o_ok = a->ot == MX_FLOAT16 || a->ot == MX_BFLOAT16 || a->ot == MX_FLOAT32;
  bool m_ok = a->mt < 0 || a->mt == MX_BOOL || a->mt == a->ot;
  return d_ok && t_ok && o_ok && m_ok && a->qt == a->ot && a->Hkv > 0 && a->Hq % a->Hkv == 0;
}

extern "C" size_t cu_sdpa_scratch_bytes(const cu_sdpa_args *a) {
  dec_plan p = plan_of(a);
  if (!p.decode || p.nsplit <= 1) return 0;
  return (size_t)(a->B * a->Hq * a->Tq) * (size_t)p.nsplit * (size_t)(a->D + 2) * sizeof(float);
}

extern "C" void cu_sdpa_set_decode_impl(int impl) { g_decode_impl = impl; }
extern "C" void cu_sdpa_set_decode_splits(int n) { g_decode_splits = n; }

extern "C" int cu_fast_sdpa(const cu_sdpa_args *a, void *scratch, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (a->kt) {
    case MX_FLOAT16: return launch_sdpa_t<h16>(a, scratch, s);
    case MX_BFLOAT16: return launch_sdpa_t<b16>(a, scratch, s);
    case MX_FLOAT32: return launch_sdpa_t<float>(a, scratch, s);
  }
  return (int)cudaErrorInvalidValue;
}
