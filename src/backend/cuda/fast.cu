// fast.cu — GPU kernels of the fused mx.fast ops: rms_norm / layer_norm,
// rope, silu_mul and the fused decode-step ops (add + rms_norm, rope + KV
// write); attention lives in sdpa.cu, the shared device helpers in
// fast_device.cuh. Every kernel starts with the programmatic-dependent-
// launch trigger (pdl_trigger). Numerics follow the CPU kernels
// (src/backend/cpu/fast_norm.c, fast_rope.c): halves are read into
// f32, every op whose rounding the CPU path fixes (the normalized value
// times the weight, the rope products) is done with explicit _rn
// intrinsics so nvcc's FMA contraction cannot change the bits.
#include "cuda_fast.h"
#include "fast_device.cuh"

namespace {

// ------------------------------------------------------------ norms

// Sum over the threads of one row (blockDim.x threads, a multiple of 32);
// every thread of the block calls it (rows past the end with 0). Warp sums
// by shuffles, then one warp-shuffle tree over the warp partials, so every
// thread ends with the same bits (xor trees add the same pairs).
__device__ __forceinline__ float row_sum(float v, float *red) {
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (blockDim.x == 32) return v;
  const int nw = blockDim.x >> 5, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();  // red may still be read from the previous call
  if (lane == 0) red[threadIdx.y * 32 + w] = v;
  __syncthreads();
  float s = lane < nw ? red[threadIdx.y * 32 + lane] : 0.0f;
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// The block shape of a row of D elements, shared by norm_kernel and
// add_norm_kernel (their reduction trees must stay the same): one
// 8-element chunk per thread up to 1024 threads; rows whose chunks fit in
// NC <= 2 per thread keep them in registers (nc), others go through shared
// memory (nc 0; also D % 8 != 0, one element at a time). 1024 threads
// leave 64 registers a thread: two chunks of x, w and b at most.
struct norm_shape {
  int tpr, rpb, nc;
};
norm_shape norm_shape_of(int64_t D) {
  const int64_t chunks = (D + 7) / 8;
  int tpr = 32;
  while (tpr < 1024 && tpr < chunks) tpr *= 2;
  norm_shape s = {tpr, tpr >= 256 ? 1 : 256 / tpr, 0};
  if (D % 8 == 0) {
    const int64_t per = (chunks + tpr - 1) / tpr;
    s.nc = per <= 1 ? 1 : per <= 2 ? 2 : 0;
  }
  return s;
}

// Loads chunk c (8 elements) of a row: 16-byte loads when vec, else
// strided scalars.
template <typename T>
__device__ __forceinline__ void load_chunk(const T *p, int64_t c, int64_t st, bool vec, float *f) {
  if (vec) {
    load8(p + c * 8, f);
  } else {
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] = tof<T>(p[(c * 8 + k) * st]);
  }
}

// rms_norm / layer_norm with the row in registers: thread tx owns chunks
// tx + i * tpr (i < NC). x, w and b are all loaded before the first
// reduction, so one memory latency covers the row. Sum of squares with
// explicit fmas (the same bits whatever nvcc contracts); add_norm_kernel
// repeats this expression for expression.
template <typename XT, typename OT, int NC>
__global__ void __launch_bounds__(1024) norm_reg_kernel(cu_norm_args a, bool wvec, bool bvec) {
  pdl_trigger();
  __shared__ float red[8 * 32];
  const int64_t D = a.D, nch = D / 8;
  const int64_t row = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  const bool live = row < a.rows;
  const int tx = threadIdx.x, tpr = blockDim.x;
  int64_t off = 0;
  if (live && a.outer_nd == 1) {
    off = row * a.strides[0];
  } else if (live) {
    int64_t r = row;
    for (int d = a.outer_nd - 1; d >= 0; d--) {
      off += (r % a.shape[d]) * a.strides[d];
      r /= a.shape[d];
    }
  }
  const XT *x = (const XT *)a.x + off;
  const OT *w = (const OT *)a.w, *bb = (const OT *)a.b;
  const bool layer = a.layer;
  float f[NC][8], wf[NC][8], bf[NC][8];
  float acc = 0.0f;
#pragma unroll
  for (int i = 0; i < NC; i++) {
    const int64_t c = tx + (int64_t)i * tpr;
    if (live && c < nch) {
      load_chunk(x, c, a.x_stride, a.vec, f[i]);
      if (w) load_chunk(w, c, a.w_stride, wvec, wf[i]);
      if (bb) load_chunk(bb, c, a.b_stride, bvec, bf[i]);
    }
  }
#pragma unroll
  for (int i = 0; i < NC; i++)
    if (live && tx + (int64_t)i * tpr < nch)
#pragma unroll
      for (int k = 0; k < 8; k++) acc = layer ? acc + f[i][k] : __fmaf_rn(f[i][k], f[i][k], acc);
  const float inv_d = (float)(1.0 / (double)D);
  float tot = row_sum(acc, red);
  if (layer) {
    const float mu = __fmul_rn(tot, inv_d);
    acc = 0.0f;
#pragma unroll
    for (int i = 0; i < NC; i++)
      if (live && tx + (int64_t)i * tpr < nch)
#pragma unroll
        for (int k = 0; k < 8; k++) {
          f[i][k] = __fsub_rn(f[i][k], mu);
          acc = __fmaf_rn(f[i][k], f[i][k], acc);
        }
    tot = row_sum(acc, red);
  }
  if (!live) return;
  const float ms = __fmul_rn(tot, inv_d);
  const float rs = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(ms, a.eps)));
  OT *out = (OT *)a.out + row * D;
#pragma unroll
  for (int i = 0; i < NC; i++) {
    const int64_t c = tx + (int64_t)i * tpr;
    if (c >= nch) continue;
    float y[8];
#pragma unroll
    for (int k = 0; k < 8; k++) {
      float v = rnd<OT>(__fmul_rn(f[i][k], rs));
      if (w) v = rnd<OT>(__fmul_rn(v, wf[i][k]));
      if (bb) v = rnd<OT>(__fadd_rn(v, bf[i][k]));
      y[k] = v;
    }
    store8(out + c * 8, y);
  }
}

// Rows too long for registers (or D % 8 != 0): one row per blockDim.x
// threads, blockDim.y rows per block, the row kept in shared memory as f32
// between the reduction(s) and the write; each thread touches only its own
// elements, so no barrier guards them.
template <typename XT, typename OT>
__global__ void norm_kernel(cu_norm_args a) {
  pdl_trigger();
  extern __shared__ float sm[];
  const int64_t D = a.D;
  float *xs = sm + (int64_t)threadIdx.y * D;
  float *red = sm + (int64_t)blockDim.y * D;
  const int64_t row = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  const bool live = row < a.rows;
  const int tx = threadIdx.x, tpr = blockDim.x;
  int64_t off = 0;
  if (live && a.outer_nd == 1) {
    off = row * a.strides[0];
  } else if (live) {
    int64_t r = row;
    for (int d = a.outer_nd - 1; d >= 0; d--) {
      off += (r % a.shape[d]) * a.strides[d];
      r /= a.shape[d];
    }
  }
  const XT *x = (const XT *)a.x + off;
  const bool layer = a.layer;
  float acc = 0.0f;
  if (live) {
    if (a.vec) {
      for (int64_t c = tx; c < D / 8; c += tpr) {
        float f[8];
        load8(x + c * 8, f);
#pragma unroll
        for (int k = 0; k < 8; k++) {
          xs[c * 8 + k] = f[k];
          acc = layer ? acc + f[k] : __fmaf_rn(f[k], f[k], acc);
        }
      }
    } else {
      for (int64_t i = tx; i < D; i += tpr) {
        float f = tof<XT>(x[i * a.x_stride]);
        xs[i] = f;
        acc = layer ? acc + f : __fmaf_rn(f, f, acc);
      }
    }
  }
  const float inv_d = (float)(1.0 / (double)D);
  float tot = row_sum(acc, red);
  if (layer) {
    const float mu = __fmul_rn(tot, inv_d);
    acc = 0.0f;
    if (live) {
      // The same element mapping as the load loops.
      if (a.vec) {
        for (int64_t c = tx; c < D / 8; c += tpr)
#pragma unroll
          for (int k = 0; k < 8; k++) {
            float v = __fsub_rn(xs[c * 8 + k], mu);
            xs[c * 8 + k] = v;
            acc = __fmaf_rn(v, v, acc);
          }
      } else {
        for (int64_t i = tx; i < D; i += tpr) {
          float v = __fsub_rn(xs[i], mu);
          xs[i] = v;
          acc = __fmaf_rn(v, v, acc);
        }
      }
    }
    tot = row_sum(acc, red);
  }
  if (!live) return;
  const float ms = __fmul_rn(tot, inv_d);
  const float rs = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(ms, a.eps)));
  const OT *w = (const OT *)a.w, *bb = (const OT *)a.b;
  OT *out = (OT *)a.out + row * D;
  auto fin = [&](float v, int64_t i) -> float {
    float y = __fmul_rn(v, rs);
    y = rnd<OT>(y);
    if (w) y = rnd<OT>(__fmul_rn(y, tof<OT>(w[i * a.w_stride])));
    if (bb) y = rnd<OT>(__fadd_rn(y, tof<OT>(bb[i * a.b_stride])));
    return y;
  };
  if (a.vec) {
    for (int64_t c = tx; c < D / 8; c += tpr) {
      float f[8];
#pragma unroll
      for (int k = 0; k < 8; k++) f[k] = fin(xs[c * 8 + k], c * 8 + k);
      store8(out + c * 8, f);
    }
  } else {
    for (int64_t i = tx; i < D; i += tpr) out[i] = fromf<OT>(fin(xs[i], i));
  }
}

bool vec_ok(const void *p, int64_t stride) { return p && stride == 1 && (uintptr_t)p % 16 == 0; }

template <typename XT, typename OT>
int launch_norm(const cu_norm_args *a, cudaStream_t s) {
  const norm_shape sh = norm_shape_of(a->D);
  int64_t blocks = (a->rows + sh.rpb - 1) / sh.rpb;
  if (blocks > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
  const dim3 grid((unsigned)blocks), block(sh.tpr, sh.rpb);
  const bool wv = vec_ok(a->w, a->w_stride), bv = vec_ok(a->b, a->b_stride);
  switch (sh.nc) {
    case 1: norm_reg_kernel<XT, OT, 1><<<grid, block, 0, s>>>(*a, wv, bv); break;
    case 2: norm_reg_kernel<XT, OT, 2><<<grid, block, 0, s>>>(*a, wv, bv); break;
    default: {
      size_t smem = (size_t)sh.rpb * (size_t)a->D * sizeof(float) + (size_t)sh.rpb * 32 * sizeof(float);
      if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(norm_kernel<XT, OT>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
      }
      norm_kernel<XT, OT><<<grid, block, smem, s>>>(*a);
    }
  }
  return (int)cudaGetLastError();
}

template <typename XT> int norm_out(const cu_norm_args *a, cudaStream_t s) {
  switch (a->ot) {
    case MX_FLOAT16: return launch_norm<XT, h16>(a, s);
    case MX_BFLOAT16: return launch_norm<XT, b16>(a, s);
    case MX_FLOAT32: return launch_norm<XT, float>(a, s);
  }
  return (int)cudaErrorInvalidValue;
}

// ------------------------------------------------------------ rope

// threadIdx.x: a pair slot (j < half) or a pass-through slot of the tail;
// threadIdx.y + blockIdx.x: position t; blockIdx.y: a run of nc middle
// rows (heads) sharing the angles; blockIdx.z: batch entries.
template <typename T>
__global__ void rope_kernel(cu_rope_args a, int64_t N, int64_t Tn, int64_t D, int nc) {
  pdl_trigger();
  const int64_t t = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  if (t >= Tn) return;
  const int64_t half = a.dims / 2, slots = half + (D - a.dims);
  const int nd = a.nd;
  const int64_t xst = a.strides[nd - 1];
  const int64_t n0 = (int64_t)blockIdx.y * nc, n1 = n0 + nc < N ? n0 + nc : N;
  const T *x = (const T *)a.x;
  T *out = (T *)a.out;
  for (int64_t b = blockIdx.z; b < a.shape[0]; b += gridDim.z) {
    float off;
    if (!a.offs) {
      off = (float)a.offset;
    } else {
      int64_t i = a.offs_n == 1 ? 0 : b * a.offs_stride;
      off = a.offs_u32 ? (float)((const uint32_t *)a.offs)[i] : (float)((const int32_t *)a.offs)[i];
    }
    const float pos = __fmul_rn(__fadd_rn((float)t, off), a.scale);
    for (int64_t j = threadIdx.x; j < slots; j += blockDim.x) {
      float c = 0.0f, sn = 0.0f;
      int64_t i1, i2;
      if (j < half) {
        float invf = a.freqs ? __fdiv_rn(1.0f, a.freqs[j * a.freqs_stride])
                             : (float)exp((double)__fmul_rn(-(float)j, a.coef));
        sincosf(__fmul_rn(pos, invf), &sn, &c);
        c = rnd<T>(c);
        sn = rnd<T>(sn);
        i1 = a.traditional ? 2 * j : j;
        i2 = a.traditional ? 2 * j + 1 : j + half;
      } else {
        i1 = a.dims + (j - half);
        i2 = -1;
      }
      for (int64_t n = n0; n < n1; n++) {
        int64_t xo = b * a.strides[0] + t * a.strides[nd - 2];
        if (nd == 4) {  // the usual (B, H, T, D): no 64-bit division per row
          xo += n * a.strides[1];
        } else {
          int64_t nrem = n;
          for (int d = nd - 3; d >= 1; d--) {
            xo += (nrem % a.shape[d]) * a.strides[d];
            nrem /= a.shape[d];
          }
        }
        const int64_t oo = ((b * N + n) * Tn + t) * D;
        if (i2 < 0) {
          out[oo + i1] = x[xo + i1 * xst];
          continue;
        }
        float xa = tof<T>(x[xo + i1 * xst]), xb = tof<T>(x[xo + i2 * xst]);
        float p1 = rnd<T>(__fmul_rn(xa, c)), p2 = rnd<T>(__fmul_rn(xb, sn));
        float p3 = rnd<T>(__fmul_rn(xa, sn)), p4 = rnd<T>(__fmul_rn(xb, c));
        out[oo + i1] = fromf<T>(__fsub_rn(p1, p2));
        out[oo + i2] = fromf<T>(__fadd_rn(p3, p4));
      }
    }
  }
}

template <typename T> int launch_rope(const cu_rope_args *a, cudaStream_t s) {
  const int nd = a->nd;
  const int64_t Tn = a->shape[nd - 2], D = a->shape[nd - 1], B = a->shape[0];
  int64_t N = 1;
  for (int d = 1; d < nd - 2; d++) N *= a->shape[d];
  const int64_t slots = a->dims / 2 + (D - a->dims);
  int tx = 32;
  while (tx < 128 && tx < slots) tx *= 2;
  int ty = 256 / tx;
  // Heads per thread: reuse each angle a few times, keep the grid wide.
  int nc = N >= 64 ? 8 : N >= 16 ? 4 : N >= 4 ? 2 : 1;
  int64_t gy = (N + nc - 1) / nc;
  while (gy > 65535) {
    nc *= 2;
    gy = (N + nc - 1) / nc;
  }
  int64_t gx = (Tn + ty - 1) / ty;
  int64_t gz = B < 65535 ? B : 65535;
  if (gx > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
  rope_kernel<T><<<dim3((unsigned)gx, (unsigned)gy, (unsigned)gz), dim3(tx, ty), 0, s>>>(*a, N, Tn, D, nc);
  return (int)cudaGetLastError();
}

}  // namespace

extern "C" int cu_fast_norm(const cu_norm_args *a, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  if (a->rows <= 0) return 0;
  switch (a->xt) {
    case MX_FLOAT16: return norm_out<h16>(a, s);
    case MX_BFLOAT16: return norm_out<b16>(a, s);
    case MX_FLOAT32: return norm_out<float>(a, s);
  }
  return (int)cudaErrorInvalidValue;
}

extern "C" int cu_fast_rope(const cu_rope_args *a, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (a->xt) {
    case MX_FLOAT16: return launch_rope<h16>(a, s);
    case MX_BFLOAT16: return launch_rope<b16>(a, s);
    case MX_FLOAT32: return launch_rope<float>(a, s);
  }
  return (int)cudaErrorInvalidValue;
}

// ------------------------------------------------------------ silu_mul
//
// silu(a) * b with the bits of the GPU chain sigmoid -> multiply ->
// multiply (elementwise.cu): the sigmoid in double from the f32 value,
// rounded to f32 and then to T; each product of two T values formed in f32
// and rounded to T. Dense operands take 8 elements a thread (16-byte
// loads); others one element a thread, grid-stride.

namespace {

__device__ __forceinline__ float sigmoid_chain(float xf) {
  double x = xf;  // elementwise.cu's CU_SIGMOID, operation for operation
  double e = exp(-fabs(x));
  return (float)(x < 0 ? e / (1.0 + e) : 1.0 / (1.0 + e));
}

// rnd<T>(sigmoid_chain(x)). The double path costs ~50 FP64 operations an
// element (it bounded prefill's silu at ~4x the memory time), so halves
// first evaluate it in f32: expf (<= 2 ulp) and IEEE add / divide give s
// within ~7 f32 ulps of the true sigmoid, and the chain's f32 value within
// 0.5 ulp of it. Unless s lies within 32 f32 ulps of a midpoint between
// two T values, both round to the same T value; those (about 1 in 1000 for
// bf16, 1 in 128 for f16), tiny results (T subnormal range or |x| >= 80)
// and NaN take the double path.
template <typename T> __device__ __forceinline__ float sigmoid_T(float x) {
  if constexpr (sizeof(T) == 4) {
    return sigmoid_chain(x);
  } else {
    const float ax = fabsf(x);
    if (ax < 80.0f) {
      const float e = expf(-ax), d = __fadd_rn(1.0f, e);
      const float s = x < 0.0f ? __fdiv_rn(e, d) : __fdiv_rn(1.0f, d);
      constexpr int LOW = std::is_same<T, b16>::value ? 16 : 13;  // f32 bits below T's
      const uint32_t u = __float_as_uint(s), low = u & ((1u << LOW) - 1), mid = 1u << (LOW - 1);
      const uint32_t dist = low > mid ? low - mid : mid - low;
      const bool normal = std::is_same<T, b16>::value || s >= 6.103515625e-05f;  // 2^-14
      if (dist > 32 && normal) return rnd<T>(s);
    }
    return rnd<T>(sigmoid_chain(x));
  }
}

template <typename T> __device__ __forceinline__ float silu_mul1(float x, float y) {
  // IEEE products, subnormals included (the chain keeps them).
  const float h = rnd<T>(__fmul_rn(x, sigmoid_T<T>(x)));
  return __fmul_rn(h, y);
}

template <typename T>
__global__ void silu_mul_kernel(T *out, const T *a, const T *b, cu_silu_mul_args g) {
  pdl_trigger();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < g.n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia, ib;
    if (g.mode == 1) {
      ia = ib = i;
    } else if (g.mode == 2) {
      int64_t r = i / g.F;
      ia = ib = i + r * g.F;  // row r of (rows, 2F), column i - r F
    } else {
      int64_t rem = i;
      ia = ib = 0;
      for (int d = g.nd - 1; d >= 0; d--) {
        int64_t c = rem % g.shape[d];
        rem /= g.shape[d];
        ia += c * g.as[d];
        ib += c * g.bs[d];
      }
    }
    out[i] = fromf<T>(silu_mul1<T>(tof<T>(a[ia]), tof<T>(b[ib])));
  }
}

// Modes 1 and 2 with F % 8 == 0 and 16-byte aligned operands: chunk c of 8
// output elements; in mode 2 its row is c / fch (fch = F / 8 chunks a row).
template <typename T>
__global__ void silu_mul_vec_kernel(T *out, const T *a, const T *b, int64_t nch, uint32_t fch,
                                    int mode) {
  pdl_trigger();
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < nch;
       c += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ca = mode == 2 ? c + (int64_t)((uint32_t)c / fch) * fch : c;
    float x[8], y[8], o[8];
    load8(a + ca * 8, x);
    load8(b + ca * 8, y);
#pragma unroll
    for (int k = 0; k < 8; k++) o[k] = silu_mul1<T>(x[k], y[k]);
    store8(out + c * 8, o);
  }
}

template <typename T> int launch_silu_mul(const cu_silu_mul_args *g, cudaStream_t s) {
  if (g->n == 0) return 0;
  const bool aligned = (uintptr_t)g->out % 16 == 0 && (uintptr_t)g->a % 16 == 0 && (uintptr_t)g->b % 16 == 0;
  if ((g->mode == 1 || g->mode == 2) && g->F % 8 == 0 && g->F > 0 && aligned && g->n / 8 <= 0xffffffffLL) {
    const int64_t nch = g->n / 8;
    int64_t blocks = (nch + 255) / 256;
    if (blocks > 65535 * 8) blocks = 65535 * 8;
    silu_mul_vec_kernel<T><<<(unsigned)blocks, 256, 0, s>>>((T *)g->out, (const T *)g->a, (const T *)g->b,
                                                           nch, (uint32_t)(g->F / 8), g->mode);
    return (int)cudaGetLastError();
  }
  int64_t blocks = (g->n + 255) / 256;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  silu_mul_kernel<T><<<(unsigned)blocks, 256, 0, s>>>((T *)g->out, (const T *)g->a,
                                                      (const T *)g->b, *g);
  return (int)cudaGetLastError();
}

}  // namespace

extern "C" int cu_fast_silu_mul(const cu_silu_mul_args *g, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (g->t) {
    case MX_FLOAT16: return launch_silu_mul<h16>(g, s);
    case MX_BFLOAT16: return launch_silu_mul<b16>(g, s);
    case MX_FLOAT32: return launch_silu_mul<float>(g, s);
  }
  return (int)cudaErrorInvalidValue;
}

// ------------------------------------------------------------ fused decode-step ops
//
// add + rms_norm and rope(q, k) + KV write (src/backend/cpu/fast_fused.h).
// Each repeats the arithmetic of the unfused kernels above expression for
// expression (norm_kernel's thread mapping, reduction and rounding;
// rope_kernel's angles and products), so the fused node gives the chain's
// bits on the GPU too.

#include "cuda_fast_fused.h"

namespace {

// norm_kernel / norm_reg_kernel with h = rnd(x + d) as the input row: h is
// written (it is the residual stream) and normalized in the same pass. The
// block shape (norm_shape_of), element mapping, accumulation and rounding
// are those the norm kernels use on a dense, aligned h (the add's fresh
// output), so y has the unfused chain's bits.
template <typename T, int NC>
__global__ void __launch_bounds__(1024) add_norm_reg_kernel(cu_add_norm_args a, bool wvec) {
  pdl_trigger();
  __shared__ float red[8 * 32];
  const int64_t D = a.D, nch = D / 8;
  const int64_t row = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  const bool live = row < a.rows;
  const int tx = threadIdx.x, tpr = blockDim.x;
  int64_t ox = 0, od = 0;
  if (live) {
    int64_t r = row;
    for (int d = a.outer_nd - 1; d >= 0; d--) {
      int64_t c = r % a.shape[d];
      ox += c * a.xs[d];
      od += c * a.ds[d];
      r /= a.shape[d];
    }
  }
  const T *x = (const T *)a.x + ox, *dd = (const T *)a.d + od, *w = (const T *)a.w;
  T *hout = (T *)a.out + row * D;
  T *yout = (T *)a.out + a.rows * D + row * D;
  float f[NC][8], g[NC][8], wf[NC][8];
#pragma unroll
  for (int i = 0; i < NC; i++) {
    const int64_t c = tx + (int64_t)i * tpr;
    if (live && c < nch) {
      load_chunk(x, c, a.x_last, a.vec, f[i]);
      load_chunk(dd, c, a.d_last, a.vec, g[i]);
      load_chunk(w, c, a.w_stride, wvec, wf[i]);
    }
  }
  float acc = 0.0f;
#pragma unroll
  for (int i = 0; i < NC; i++) {
    const int64_t c = tx + (int64_t)i * tpr;
    if (live && c < nch) {
#pragma unroll
      for (int k = 0; k < 8; k++) {
        f[i][k] = rnd<T>(__fadd_rn(f[i][k], g[i][k]));
        acc = __fmaf_rn(f[i][k], f[i][k], acc);
      }
      store8(hout + c * 8, f[i]);
    }
  }
  const float inv_d = (float)(1.0 / (double)D);
  float tot = row_sum(acc, red);
  if (!live) return;
  const float ms = __fmul_rn(tot, inv_d);
  const float rs = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(ms, a.eps)));
#pragma unroll
  for (int i = 0; i < NC; i++) {
    const int64_t c = tx + (int64_t)i * tpr;
    if (c >= nch) continue;
    float y[8];
#pragma unroll
    for (int k = 0; k < 8; k++) y[k] = rnd<T>(__fmul_rn(rnd<T>(__fmul_rn(f[i][k], rs)), wf[i][k]));
    store8(yout + c * 8, y);
  }
}

// The shared-memory form (norm_kernel's mapping: 8-element chunks when
// D % 8 == 0, single elements otherwise).
template <typename T>
__global__ void add_norm_kernel(cu_add_norm_args a) {
  pdl_trigger();
  extern __shared__ float sm[];
  const int64_t D = a.D;
  float *xs = sm + (int64_t)threadIdx.y * D;
  float *red = sm + (int64_t)blockDim.y * D;
  const int64_t row = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  const bool live = row < a.rows;
  const int tx = threadIdx.x, tpr = blockDim.x;
  int64_t ox = 0, od = 0;
  if (live) {
    int64_t r = row;
    for (int d = a.outer_nd - 1; d >= 0; d--) {
      int64_t c = r % a.shape[d];
      ox += c * a.xs[d];
      od += c * a.ds[d];
      r /= a.shape[d];
    }
  }
  const T *x = (const T *)a.x + ox, *dd = (const T *)a.d + od;
  T *hout = (T *)a.out + row * D;
  T *yout = (T *)a.out + a.rows * D + row * D;
  float acc = 0.0f;
  if (live) {
    if (D % 8 == 0) {
      for (int64_t c = tx; c < D / 8; c += tpr) {
        float f[8], g[8];
        load_chunk(x, c, a.x_last, a.vec, f);
        load_chunk(dd, c, a.d_last, a.vec, g);
#pragma unroll
        for (int k = 0; k < 8; k++) {
          f[k] = rnd<T>(__fadd_rn(f[k], g[k]));
          xs[c * 8 + k] = f[k];
          acc = __fmaf_rn(f[k], f[k], acc);
        }
        store8(hout + c * 8, f);
      }
    } else {
      for (int64_t i = tx; i < D; i += tpr) {
        float f = rnd<T>(__fadd_rn(tof<T>(x[i * a.x_last]), tof<T>(dd[i * a.d_last])));
        hout[i] = fromf<T>(f);
        xs[i] = f;
        acc = __fmaf_rn(f, f, acc);
      }
    }
  }
  const float inv_d = (float)(1.0 / (double)D);
  float tot = row_sum(acc, red);
  if (!live) return;
  const float ms = __fmul_rn(tot, inv_d);
  const float rs = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(ms, a.eps)));
  const T *w = (const T *)a.w;
  auto fin = [&](float v, int64_t i) -> float {
    float y = __fmul_rn(v, rs);
    y = rnd<T>(y);
    y = rnd<T>(__fmul_rn(y, tof<T>(w[i * a.w_stride])));
    return y;
  };
  if (D % 8 == 0) {
    for (int64_t c = tx; c < D / 8; c += tpr) {
      float f[8];
#pragma unroll
      for (int k = 0; k < 8; k++) f[k] = fin(xs[c * 8 + k], c * 8 + k);
      store8(yout + c * 8, f);
    }
  } else {
    for (int64_t i = tx; i < D; i += tpr) yout[i] = fromf<T>(fin(xs[i], i));
  }
}

// launch_norm's block shape and kernel choice, so the reduction tree is
// the same.
template <typename T> int launch_add_norm(const cu_add_norm_args *a, cudaStream_t s) {
  const norm_shape sh = norm_shape_of(a->D);
  int64_t blocks = (a->rows + sh.rpb - 1) / sh.rpb;
  if (blocks > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
  const dim3 grid((unsigned)blocks), block(sh.tpr, sh.rpb);
  const bool wv = vec_ok(a->w, a->w_stride);
  switch (sh.nc) {
    case 1: add_norm_reg_kernel<T, 1><<<grid, block, 0, s>>>(*a, wv); break;
    case 2: add_norm_reg_kernel<T, 2><<<grid, block, 0, s>>>(*a, wv); break;
    default: {
      size_t smem = (size_t)sh.rpb * (size_t)a->D * sizeof(float) + (size_t)sh.rpb * 32 * sizeof(float);
      if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(add_norm_kernel<T>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
      }
      add_norm_kernel<T><<<grid, block, smem, s>>>(*a);
    }
  }
  return (int)cudaGetLastError();
}

// One block row (threadIdx.y) per head row of q, k or v: rows [0, B*Hq) are
// q's, then B*H of k, then B*H of v. threadIdx.x: rope_kernel's slots
// (pairs, then the pass-through tail); v rows copy D elements.
template <typename T>
__global__ void rope_kv_kernel(cu_rope_kv_args a) {
  pdl_trigger();
  const int64_t nq = a.B * a.Hq, nk = a.B * a.H;
  const int64_t r = (int64_t)blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= nq + 2 * nk) return;
  const int64_t D = a.D, half = a.dims / 2, slots = half + (D - a.dims);
  const int64_t kvn = nk * a.cap * D;
  T *out = (T *)a.out;
  if (r >= nq + nk) {  // v: a copy
    const int64_t i = r - nq - nk, b = i / a.H, h = i % a.H;
    const T *src = (const T *)a.v + b * a.vs[0] + h * a.vs[1];
    T *dst = out + kvn + (i * a.cap + a.pos) * D;
    for (int64_t e = threadIdx.x; e < D; e += blockDim.x) dst[e] = src[e * a.vs[3]];
    return;
  }
  const T *x;
  int64_t xst;
  T *dst;
  if (r < nq) {
    const int64_t b = r / a.Hq, h = r % a.Hq;
    x = (const T *)a.q + b * a.qs[0] + h * a.qs[1];
    xst = a.qs[3];
    dst = out + 2 * kvn + r * D;
  } else {
    const int64_t i = r - nq, b = i / a.H, h = i % a.H;
    x = (const T *)a.k + b * a.ks[0] + h * a.ks[1];
    xst = a.ks[3];
    dst = out + (i * a.cap + a.pos) * D;
  }
  // rope_kernel at t = 0 with the scalar offset.
  const float off = (float)a.offset;
  const float pos = __fmul_rn(__fadd_rn((float)0, off), a.scale);
  for (int64_t j = threadIdx.x; j < slots; j += blockDim.x) {
    if (j >= half) {
      const int64_t i1 = a.dims + (j - half);
      dst[i1] = x[i1 * xst];
      continue;
    }
    float c = 0.0f, sn = 0.0f;
    float invf = a.freqs ? __fdiv_rn(1.0f, a.freqs[j * a.freqs_stride])
                         : (float)exp((double)__fmul_rn(-(float)j, a.coef));
    sincosf(__fmul_rn(pos, invf), &sn, &c);
    c = rnd<T>(c);
    sn = rnd<T>(sn);
    const int64_t i1 = a.traditional ? 2 * j : j, i2 = a.traditional ? 2 * j + 1 : j + half;
    float xa = tof<T>(x[i1 * xst]), xb = tof<T>(x[i2 * xst]);
    float p1 = rnd<T>(__fmul_rn(xa, c)), p2 = rnd<T>(__fmul_rn(xb, sn));
    float p3 = rnd<T>(__fmul_rn(xa, sn)), p4 = rnd<T>(__fmul_rn(xb, c));
    dst[i1] = fromf<T>(__fsub_rn(p1, p2));
    dst[i2] = fromf<T>(__fadd_rn(p3, p4));
  }
}

template <typename T> int launch_rope_kv(const cu_rope_kv_args *a, cudaStream_t s) {
  const int64_t rows = a->B * (a->Hq + 2 * a->H);
  const int64_t slots = a->dims / 2 + (a->D - a->dims);
  int64_t need = slots > a->D ? slots : a->D;
  int tx = 32;
  while (tx < 128 && tx < need) tx *= 2;
  int ty = 256 / tx;
  int64_t gx = (rows + ty - 1) / ty;
  if (gx <= 0) return 0;
  if (gx > 0x7fffffff) return (int)cudaErrorInvalidConfiguration;
  rope_kv_kernel<T><<<(unsigned)gx, dim3(tx, ty), 0, s>>>(*a);
  return (int)cudaGetLastError();
}

template <typename E>
__global__ void kv_copy_prefix_kernel(E *dst, const E *src, int64_t s0, int64_t s1, int64_t s2,
                                      int64_t s3, int64_t H, int64_t pos, int64_t cap, int64_t D,
                                      int64_t n) {
  pdl_trigger();
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t e = i % D, r = i / D, t = r % pos, bh = r / pos, h = bh % H, b = bh / H;
    dst[(bh * cap + t) * D + e] = src[b * s0 + h * s1 + t * s2 + e * s3];
  }
}

}  // namespace

extern "C" int cu_fast_add_rms_norm(const cu_add_norm_args *a, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  if (a->rows <= 0) return 0;
  switch (a->t) {
    case MX_FLOAT16: return launch_add_norm<h16>(a, s);
    case MX_BFLOAT16: return launch_add_norm<b16>(a, s);
    case MX_FLOAT32: return launch_add_norm<float>(a, s);
  }
  return (int)cudaErrorInvalidValue;
}

extern "C" int cu_fast_rope_kv(const cu_rope_kv_args *a, void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  switch (a->t) {
    case MX_FLOAT16: return launch_rope_kv<h16>(a, s);
    case MX_BFLOAT16: return launch_rope_kv<b16>(a, s);
    case MX_FLOAT32: return launch_rope_kv<float>(a, s);
  }
  return (int)cudaErrorInvalidValue;
}

extern "C" int cu_kv_copy_prefix(void *dst, const void *src, const int64_t *ss, int64_t B,
                                 int64_t H, int64_t pos, int64_t cap, int64_t D, size_t esz,
                                 void *stream) {
  cudaStream_t s = (cudaStream_t)stream;
  int64_t n = B * H * pos * D;
  if (n <= 0) return 0;
  int64_t blocks = (n + 255) / 256;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
#define KVCP(E)                                                                              \
  kv_copy_prefix_kernel<E><<<(unsigned)blocks, 256, 0, s>>>((E *)dst, (const E *)src, ss[0], \
                                                           ss[1], ss[2], ss[3], H, pos, cap, D, n)
  if (esz == 4) KVCP(uint32_t);
  else if (esz == 2) KVCP(uint16_t);
  else return (int)cudaErrorInvalidValue;
#undef KVCP
  return (int)cudaGetLastError();
}
