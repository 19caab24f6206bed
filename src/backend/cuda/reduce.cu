// reduce.cu — CUDA kernels of the reduction family: reductions over any set
// of axes (row kernels: a block or a warp per output; column kernels: a
// 32-wide tile of outputs, 8 threads down the reduced dims; long
// reductions split over several blocks whose partial results a second
// launch combines in a fixed order), argmax/argmin, softmax (row kernels
// holding a row in registers, or two passes over split rows with an
// online max/sum), scans along any axis, and a strided gather used to make
// inputs dense.
//
// Values are computed in one type per input kind, as the CPU kernels do:
// f32 for f32/f16/bf16 (f64 for products), f64 for f64, int64 for bool and
// the integers but uint64 (wrapping arithmetic, truncated on store), uint64
// for uint64. The op codes below mirror src/backend/cpu/reduce.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "cuda_reduce.h"

namespace {

// Keep in sync with red_op / scan_op in src/backend/cpu/reduce.h.
enum { RED_SUM, RED_PROD, RED_MAX, RED_MIN, RED_ALL, RED_ANY, RED_MEAN, RED_VAR, RED_STD,
       RED_LOGSUMEXP, RED_MEDIAN };
enum { SCAN_SUM, SCAN_PROD, SCAN_MAX, SCAN_MIN, SCAN_LOGADDEXP };

// What a pass computes per output (SSD: sum of squared deviations from a
// center; SEXP: sum of exp(x - center)).
enum { P_SUM, P_PROD, P_MAX, P_MIN, P_AND, P_OR, P_SSD, P_SEXP, P_LAE };
// How a pass's result becomes an output.
enum { F_STORE, F_MEAN, F_VAR, F_STD, F_LSE, F_CENTER };

const int NSM_BLOCKS = 1056;  // ~8 resident 256-thread blocks on each of 132 SMs

__host__ __device__ __forceinline__ int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ------------------------------------------------------------ loaders

struct LdF32 {
  typedef float V;
  typedef float T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int) {
    return __ldg((const float *)p + i);
  }
};
struct LdF16 {
  typedef float V;
  typedef __half T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int) {
    return __half2float(((const __half *)p)[i]);
  }
};
struct LdBF16 {
  typedef float V;
  typedef __nv_bfloat16 T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int) {
    return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
  }
};
struct LdF64 {
  typedef double V;
  typedef double T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int) {
    return __ldg((const double *)p + i);
  }
};
// Any integer dtype (or bool) by its runtime dtype, widened to int64.
struct LdInt {
  typedef int64_t V;
  typedef void T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int dt) {
    switch (dt) {
      case MX_BOOL:
      case MX_UINT8: return ((const uint8_t *)p)[i];
      case MX_UINT16: return ((const uint16_t *)p)[i];
      case MX_UINT32: return ((const uint32_t *)p)[i];
      case MX_INT8: return ((const int8_t *)p)[i];
      case MX_INT16: return ((const int16_t *)p)[i];
      case MX_INT32: return ((const int32_t *)p)[i];
      default: return ((const int64_t *)p)[i];
    }
  }
};
struct LdU64 {
  typedef uint64_t V;
  typedef uint64_t T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int) {
    return ((const uint64_t *)p)[i];
  }
};
// Truth value of any real dtype (NaN is true).
struct LdBool {
  typedef int V;
  typedef void T;
  static __device__ __forceinline__ V ld(const void *p, int64_t i, int dt) {
    switch (dt) {
      case MX_FLOAT32: return ((const float *)p)[i] != 0.0f;
      case MX_FLOAT16: return __half2float(((const __half *)p)[i]) != 0.0f;
      case MX_BFLOAT16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]) != 0.0f;
      case MX_FLOAT64: return ((const double *)p)[i] != 0.0;
      case MX_UINT64: return ((const uint64_t *)p)[i] != 0;
      default: return LdInt::ld(p, i, dt) != 0;
    }
  }
};

// 16-byte loads of dense f32 / f16 / bf16 runs (N values).
template <class LD> struct VecLd {
  static const int N = 0;
  static __device__ __forceinline__ void ld(const void *, int64_t, typename LD::V *) {}
};
template <> struct VecLd<LdF32> {
  static const int N = 4;
  static __device__ __forceinline__ void ld(const void *p, int64_t i, float *v) {
    float4 q = __ldg((const float4 *)((const float *)p + i));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  }
};
template <> struct VecLd<LdF16> {
  static const int N = 8;
  static __device__ __forceinline__ void ld(const void *p, int64_t i, float *v) {
    uint4 q = __ldg((const uint4 *)((const __half *)p + i));
    const __half2 *h = (const __half2 *)&q;
#pragma unroll
    for (int k = 0; k < 4; k++) {
      float2 f = __half22float2(h[k]);
      v[2 * k] = f.x, v[2 * k + 1] = f.y;
    }
  }
};
template <> struct VecLd<LdBF16> {
  static const int N = 8;
  static __device__ __forceinline__ void ld(const void *p, int64_t i, float *v) {
    uint4 q = __ldg((const uint4 *)((const __nv_bfloat16 *)p + i));
    const __nv_bfloat162 *h = (const __nv_bfloat162 *)&q;
#pragma unroll
    for (int k = 0; k < 4; k++) {
      float2 f = __bfloat1622float2(h[k]);
      v[2 * k] = f.x, v[2 * k + 1] = f.y;
    }
  }
};

template <class LD> constexpr bool is_float_ld() {
  return std::is_same<typename LD::V, float>::value || std::is_same<typename LD::V, double>::value;
}

// The accumulator of pass P over loader LD.
template <class LD, int P> struct AccT {
  typedef typename LD::V type;
};
template <int P> struct AccT<LdF32, P> {
  typedef typename std::conditional<P == P_PROD, double, float>::type type;
};
template <int P> struct AccT<LdF16, P> {
  typedef typename std::conditional<P == P_PROD, double, float>::type type;
};
template <int P> struct AccT<LdBF16, P> {
  typedef typename std::conditional<P == P_PROD, double, float>::type type;
};
template <> struct AccT<LdInt, P_SSD> { typedef double type; };
template <> struct AccT<LdU64, P_SSD> { typedef double type; };

// ------------------------------------------------------------ element ops

template <typename A> __device__ __forceinline__ A lowest();
template <> __device__ __forceinline__ float lowest<float>() { return -INFINITY; }
template <> __device__ __forceinline__ double lowest<double>() { return -INFINITY; }
template <> __device__ __forceinline__ int64_t lowest<int64_t>() { return INT64_MIN; }
template <> __device__ __forceinline__ uint64_t lowest<uint64_t>() { return 0; }
template <> __device__ __forceinline__ int lowest<int>() { return 0; }
template <typename A> __device__ __forceinline__ A highest();
template <> __device__ __forceinline__ float highest<float>() { return INFINITY; }
template <> __device__ __forceinline__ double highest<double>() { return INFINITY; }
template <> __device__ __forceinline__ int64_t highest<int64_t>() { return INT64_MAX; }
template <> __device__ __forceinline__ uint64_t highest<uint64_t>() { return UINT64_MAX; }
template <> __device__ __forceinline__ int highest<int>() { return 1; }

// Integer sums and products wrap (unsigned arithmetic has no overflow UB).
__device__ __forceinline__ int64_t wadd(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}
__device__ __forceinline__ int64_t wmul(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a * (uint64_t)b);
}
template <typename A> __device__ __forceinline__ A wadd(A a, A b) { return a + b; }
template <typename A> __device__ __forceinline__ A wmul(A a, A b) { return a * b; }

__device__ __forceinline__ float lae(float a, float b) {
  if (a != a || b != b) return NAN;
  float mx = a > b ? a : b, mn = a > b ? b : a;
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1pf(expf(mn - mx));
}
__device__ __forceinline__ double lae(double a, double b) {
  if (a != a || b != b) return NAN;
  double mx = a > b ? a : b, mn = a > b ? b : a;
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1p(exp(mn - mx));
}
template <typename A> __device__ __forceinline__ A lae(A a, A b) { return a > b ? a : b; }

template <int P, typename A> struct Op {
  static __device__ __forceinline__ A id() {
    if (P == P_PROD || P == P_AND) return (A)1;
    if (P == P_MAX) return lowest<A>();
    if (P == P_MIN) return highest<A>();
    if (P == P_LAE) return lowest<A>();
    return (A)0;
  }
  // a NaN on either side wins max/min (b != b is false for integers).
  static __device__ __forceinline__ A comb(A a, A b) {
    if constexpr (P == P_PROD) return wmul(a, b);
    else if constexpr (P == P_MAX) return (b > a || b != b) ? b : a;
    else if constexpr (P == P_MIN) return (b < a || b != b) ? b : a;
    else if constexpr (P == P_AND) return a & b;
    else if constexpr (P == P_OR) return a | b;
    else if constexpr (P == P_LAE) return lae(a, b);
    else return wadd(a, b);
  }
  template <typename V> static __device__ __forceinline__ A map(V v, A c) {
    if constexpr (P == P_SSD) {
      A d = (A)v - c;
      return d * d;
    } else if constexpr (P == P_SEXP) {
      return (A)exp((A)v - c);
    } else {
      return (A)v;
    }
  }
};
template <> template <>
__device__ __forceinline__ float Op<P_SEXP, float>::map<float>(float v, float c) {
  return expf(v - c);
}

template <typename A> __device__ __forceinline__ A shfl_xor(A v, int d) {
  return __shfl_xor_sync(0xffffffffu, v, d);
}
template <int P, typename A> __device__ __forceinline__ A warp_reduce(A v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = Op<P, A>::comb(v, shfl_xor(v, d));
  return v;
}
// Block-wide reduction; every thread gets the result.
template <int P, typename A> __device__ A block_reduce(A v) {
  __shared__ A sh[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_reduce<P>(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : Op<P, A>::id();
  return warp_reduce<P>(v);
}

// ------------------------------------------------------------ stores

template <typename V> __device__ __forceinline__ int64_t as_i64(V v) { return (int64_t)v; }
template <> __device__ __forceinline__ int64_t as_i64<uint64_t>(uint64_t v) { return (int64_t)v; }

template <typename V> __device__ __forceinline__ void store(void *out, int64_t i, int dt, V v) {
  switch (dt) {
    case MX_BOOL: ((uint8_t *)out)[i] = v != (V)0; break;
    case MX_UINT8: ((uint8_t *)out)[i] = (uint8_t)as_i64(v); break;
    case MX_UINT16: ((uint16_t *)out)[i] = (uint16_t)as_i64(v); break;
    case MX_UINT32: ((uint32_t *)out)[i] = (uint32_t)as_i64(v); break;
    case MX_UINT64: ((uint64_t *)out)[i] = (uint64_t)v; break;
    case MX_INT8: ((int8_t *)out)[i] = (int8_t)as_i64(v); break;
    case MX_INT16: ((int16_t *)out)[i] = (int16_t)as_i64(v); break;
    case MX_INT32: ((int32_t *)out)[i] = (int32_t)as_i64(v); break;
    case MX_INT64: ((int64_t *)out)[i] = as_i64(v); break;
    case MX_FLOAT16: ((__half *)out)[i] = __float2half_rn((float)v); break;
    case MX_BFLOAT16: ((__nv_bfloat16 *)out)[i] = __float2bfloat16_rn((float)v); break;
    case MX_FLOAT32: ((float *)out)[i] = (float)v; break;
    case MX_FLOAT64: ((double *)out)[i] = (double)v; break;
    default: break;
  }
}

struct Fin {
  int mode, odt, idt, ddof;
  void *out;
  double *center_out;     // F_CENTER
  const double *center;   // the pass's center (SSD / SEXP), F_LSE
  double nred, scale;     // F_CENTER: center = result * scale
};

template <typename A> __device__ void finalize(const Fin &f, int64_t o, A a) {
  switch (f.mode) {
    case F_STORE: store(f.out, o, f.odt, a); return;
    case F_MEAN: {
      A t = a;
      // Integer sums land in MLX's sum dtype (int32 / uint32 wrap) first.
      if (std::is_same<A, int64_t>::value) {
        if (f.idt == MX_BOOL || f.idt == MX_INT8 || f.idt == MX_INT16 || f.idt == MX_INT32)
          t = (A)(int32_t)(uint32_t)as_i64(a);
        else if (f.idt == MX_UINT8 || f.idt == MX_UINT16 || f.idt == MX_UINT32)
          t = (A)(uint32_t)as_i64(a);
      }
      store(f.out, o, f.odt, (double)t * (1.0 / f.nred));
      return;
    }
    case F_VAR:
    case F_STD: {
      double v = (double)a;
      if (f.ddof != 0) {
        double den = f.nred - f.ddof;
        v = v / (den > 0 ? den : 0);
      } else {
        v = v * (1.0 / f.nred);
      }
      store(f.out, o, f.odt, f.mode == F_STD ? sqrt(v) : v);
      return;
    }
    case F_LSE: {
      double m = f.center[o];
      store(f.out, o, f.odt, (isinf(m) || isnan(m)) ? m : m + log((double)a));
      return;
    }
    default: f.center_out[o] = (double)a * f.scale; return;
  }
}

// ------------------------------------------------------------ plan offsets

__device__ __forceinline__ int64_t kept_off(const cu_rplan &p, int64_t o) {
  int64_t off = 0;
  for (int d = p.nk - 1; d >= 0; d--) {
    int64_t n = p.kshape[d], q = o / n;
    off += (o - q * n) * p.kstride[d];
    o = q;
  }
  return off;
}
__device__ __forceinline__ int64_t red_off(const cu_rplan &p, int64_t r) {
  int64_t off = 0;
  for (int d = p.nr - 1; d >= 0; d--) {
    int64_t n = p.rshape[d], q = r / n;
    off += (r - q * n) * p.rstride[d];
    r = q;
  }
  return off;
}

// Reduces elements [r0, r1) of the output whose first element is at kb,
// thread `tid` of `nthr` taking every nthr-th element (or vector).
template <class LD, class A, int P>
__device__ A reduce_range(const void *x, int dt, const cu_rplan &p, int64_t kb, int64_t r0,
                          int64_t r1, A c, int tid, int nthr) {
  typedef Op<P, A> O;
  A acc = O::id();
  if (p.nr <= 1) {
    int64_t rs = p.nr ? p.rstride[0] : 0;
    constexpr int N = VecLd<LD>::N;
    if constexpr (N > 0) {
      if (rs == 1) {
      typedef typename LD::T T;
      int64_t i0 = kb + r0, i1 = kb + r1;
      uintptr_t addr = (uintptr_t)((const T *)x + i0);
      int64_t head = (int64_t)(((16 - (addr & 15)) & 15) / sizeof(T));
      if (head > i1 - i0) head = i1 - i0;
      if (tid < head) acc = O::comb(acc, O::map(LD::ld(x, i0 + tid, dt), c));
      int64_t vb = i0 + head, nv = (i1 - vb) / N;
#pragma unroll 4
      for (int64_t v = tid; v < nv; v += nthr) {
        typename LD::V e[N];
        VecLd<LD>::ld(x, vb + v * N, e);
#pragma unroll
        for (int k = 0; k < N; k++) acc = O::comb(acc, O::map(e[k], c));
      }
      for (int64_t i = vb + nv * N + tid; i < i1; i += nthr)
        acc = O::comb(acc, O::map(LD::ld(x, i, dt), c));
      return acc;
      }
    }
#pragma unroll 4
    for (int64_t r = r0 + tid; r < r1; r += nthr)
      acc = O::comb(acc, O::map(LD::ld(x, kb + r * rs, dt), c));
    return acc;
  }
  if (p.nr == 2) {
    int64_t rn = p.rshape[1], s0 = p.rstride[0], s1 = p.rstride[1];
    for (int64_t r = r0 + tid; r < r1; r += nthr) {
      int64_t q = r / rn;
      acc = O::comb(acc, O::map(LD::ld(x, kb + q * s0 + (r - q * rn) * s1, dt), c));
    }
    return acc;
  }
  for (int64_t r = r0 + tid; r < r1; r += nthr)
    acc = O::comb(acc, O::map(LD::ld(x, kb + red_off(p, r), dt), c));
  return acc;
}

// Row kernel: one item = (output o, split s); a warp or the whole block
// per item.
template <class LD, class A, int P, bool WARP>
__global__ void __launch_bounds__(256) k_row(const void *x, int dt, cu_rplan p, int64_t S,
                                             int64_t chunk, A *partial, Fin f) {
  int64_t item;
  int tid, nthr;
  if (WARP) {
    item = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    tid = threadIdx.x & 31;
    nthr = 32;
    if (item >= p.nout * S) return;
  } else {
    item = blockIdx.x;
    tid = threadIdx.x;
    nthr = blockDim.x;
  }
  int64_t o = item / S, s = item - o * S;
  int64_t r0 = s * chunk, r1 = r0 + chunk < p.nred ? r0 + chunk : p.nred;
  A c = f.center ? (A)f.center[o] : (A)0;
  A acc = reduce_range<LD, A, P>(x, dt, p, p.base + kept_off(p, o), r0, r1, c, tid, nthr);
  acc = WARP ? warp_reduce<P>(acc) : block_reduce<P>(acc);
  if (tid == 0) {
    if (S == 1) finalize(f, o, acc);
    else partial[item] = acc;
  }
}

// Column kernel: 32 consecutive outputs (the contiguous kept dim) per
// block, 8 threads striding the reduced elements of split s.
template <class LD, class A, int P>
__global__ void __launch_bounds__(256) k_col(const void *x, int dt, cu_rplan p, int64_t S,
                                             int64_t chunk, int64_t ntiles, A *partial, Fin f) {
  typedef Op<P, A> O;
  __shared__ A sh[8][33];
  int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  int64_t b = blockIdx.x, tile = b % ntiles, rest = b / ntiles;
  int64_t s = rest % S, ko = rest / S;
  int64_t K = p.kshape[p.nk - 1], j = tile * 32 + tx;
  int64_t o = ko * K + j;
  bool valid = j < K;
  A acc = O::id();
  if (valid) {
    int64_t r0 = s * chunk, r1 = r0 + chunk < p.nred ? r0 + chunk : p.nred;
    A c = f.center ? (A)f.center[o] : (A)0;
    int64_t kb = p.base + kept_off(p, o);
    if (p.nr == 1) {
      int64_t rs = p.rstride[0];
      int64_t r = r0 + ty;
      for (; r + 24 < r1; r += 32) {
        typename LD::V v0 = LD::ld(x, kb + r * rs, dt), v1 = LD::ld(x, kb + (r + 8) * rs, dt),
                       v2 = LD::ld(x, kb + (r + 16) * rs, dt),
                       v3 = LD::ld(x, kb + (r + 24) * rs, dt);
        acc = O::comb(acc, O::map(v0, c));
        acc = O::comb(acc, O::map(v1, c));
        acc = O::comb(acc, O::map(v2, c));
        acc = O::comb(acc, O::map(v3, c));
      }
      for (; r < r1; r += 8) acc = O::comb(acc, O::map(LD::ld(x, kb + r * rs, dt), c));
    } else {
      for (int64_t r = r0 + ty; r < r1; r += 8)
        acc = O::comb(acc, O::map(LD::ld(x, kb + red_off(p, r), dt), c));
    }
  }
  sh[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && valid) {
#pragma unroll
    for (int k = 1; k < 8; k++) acc = O::comb(acc, sh[k][tx]);
    if (S == 1) finalize(f, o, acc);
    else partial[o * S + s] = acc;
  }
}

// Combines the S partial results of each output (a warp per output).
template <class A, int P>
__global__ void k_combine(const A *partial, int64_t S, int64_t nout, Fin f) {
  int64_t o = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (o >= nout) return;
  A acc = Op<P, A>::id();
  for (int64_t s = lane; s < S; s += 32) acc = Op<P, A>::comb(acc, partial[o * S + s]);
  acc = warp_reduce<P>(acc);
  if (lane == 0) finalize(f, o, acc);
}

struct Ctx {
  const cu_scratch *sc;
  cudaStream_t st;
};

template <class LD, class A, int P>
int run_pass(const void *x, int dt, const cu_rplan &p, const Fin &f, const Ctx &cx) {
  int64_t nout = p.nout, nred = p.nred;
  int64_t S = 1, chunk = nred > 0 ? nred : 1;
  bool col = p.nk >= 1 && p.nr >= 1 && p.kstride[p.nk - 1] == 1 && p.rstride[p.nr - 1] != 1 &&
             p.kshape[p.nk - 1] >= 8 && nred > 0;
  int64_t ntiles = 0, blocks;
  if (col) {
    int64_t K = p.kshape[p.nk - 1];
    ntiles = cdiv(K, 32);
    int64_t base = ntiles * (nout / K);
    if (base < NSM_BLOCKS) {
      S = cdiv(NSM_BLOCKS, base);
      int64_t smax = cdiv(nred, 64);
      if (S > smax) S = smax;
    }
    chunk = cdiv(nred, S);
    S = cdiv(nred, chunk);
    blocks = base * S;
  } else {
    if (nout < NSM_BLOCKS && nred > 8192) {
      S = cdiv(NSM_BLOCKS, nout);
      int64_t smax = cdiv(nred, 4096);
      if (S > smax) S = smax;
      chunk = cdiv(nred, S);
      S = cdiv(nred, chunk);
    }
  }
  A *partial = NULL;
  size_t pbytes = (size_t)(nout * S) * sizeof(A);
  if (S > 1) {
    partial = (A *)cx.sc->alloc(pbytes);
    if (!partial) return (int)cudaErrorMemoryAllocation;
  }
  if (col) {
    k_col<LD, A, P><<<(unsigned)blocks, 256, 0, cx.st>>>(x, dt, p, S, chunk, ntiles, partial, f);
  } else if (chunk <= 512) {
    k_row<LD, A, P, true><<<(unsigned)cdiv(nout * S, 8), 256, 0, cx.st>>>(x, dt, p, S, chunk,
                                                                         partial, f);
  } else {
    k_row<LD, A, P, false><<<(unsigned)(nout * S), 256, 0, cx.st>>>(x, dt, p, S, chunk,
                                                                    partial, f);
  }
  if (S > 1) k_combine<A, P><<<(unsigned)cdiv(nout, 8), 256, 0, cx.st>>>(partial, S, nout, f);
  int err = (int)cudaGetLastError();
  if (partial) cx.sc->free(partial, pbytes);
  return err;
}

template <class LD, int P> constexpr bool pass_ok() {
  return P == P_AND || P == P_OR ? std::is_same<LD, LdBool>::value
         : P == P_SEXP           ? is_float_ld<LD>()
                                 : !std::is_same<LD, LdBool>::value;
}

template <int P>
int run_typed(mx_dtype it, const void *x, const cu_rplan &p, const Fin &f, const Ctx &cx) {
#define RUN(LD)                                                                          \
  do {                                                                                   \
    if constexpr (pass_ok<LD, P>())                                                      \
      return run_pass<LD, typename AccT<LD, P>::type, P>(x, (int)it, p, f, cx);          \
    return CU_RED_UNSUPPORTED;                                                           \
  } while (0)
  if (P == P_AND || P == P_OR) RUN(LdBool);
  switch (it) {
    case MX_FLOAT32: RUN(LdF32);
    case MX_FLOAT16: RUN(LdF16);
    case MX_BFLOAT16: RUN(LdBF16);
    case MX_FLOAT64: RUN(LdF64);
    case MX_UINT64: RUN(LdU64);
    case MX_COMPLEX64: return CU_RED_UNSUPPORTED;
    default: RUN(LdInt);
  }
#undef RUN
}

// ------------------------------------------------------------ softmax / logsumexp rows

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

// NaN-propagating max: a NaN anywhere makes the row's max NaN (so every
// softmax output and the logsumexp are NaN, as on the CPU).
__device__ __forceinline__ float nmax(float a, float b) {
  return (a != a || b != b) ? NAN : fmaxf(a, b);
}

// (max, sum of exp(x - max)) pairs; a -inf max carries no mass.
struct MS {
  float m, s;
};
__device__ __forceinline__ MS ms_comb(MS a, MS b) {
  float m = nmax(a.m, b.m);
  float sa = a.m == -INFINITY ? 0.0f : a.s * expf(a.m - m);
  float sb = b.m == -INFINITY ? 0.0f : b.s * expf(b.m - m);
  return {m, sa + sb};
}
__device__ __forceinline__ MS ms_warp(MS v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    MS o = {__shfl_xor_sync(0xffffffffu, v.m, d), __shfl_xor_sync(0xffffffffu, v.s, d)};
    v = ms_comb(v, o);
  }
  return v;
}
__device__ MS ms_block(MS v) {
  __shared__ MS sh[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = ms_warp(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : MS{-INFINITY, 0.0f};
  return ms_warp(v);
}

// A row held in registers: ITEMS values per thread; a warp per row (WARP)
// or a block per row.
template <typename T, int ITEMS, bool WARP>
__global__ void __launch_bounds__(512) k_softmax_reg(const T *x, T *y, int64_t rows, int64_t n) {
  int64_t row;
  int tid, nthr;
  if (WARP) {
    row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    tid = threadIdx.x & 31;
    nthr = 32;
    if (row >= rows) return;
  } else {
    row = blockIdx.x;
    tid = threadIdx.x;
    nthr = blockDim.x;
  }
  const T *xr = x + row * n;
  T *yr = y + row * n;
  float v[ITEMS];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < ITEMS; k++) {
    int64_t i = tid + (int64_t)k * nthr;
    v[k] = i < n ? to_f(xr[i]) : -INFINITY;
    m = nmax(m, v[k]);
  }
  if (WARP) {
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) m = nmax(m, __shfl_xor_sync(0xffffffffu, m, d));
  } else {
    m = block_reduce<P_MAX>(m);
  }
  float s = 0;
#pragma unroll
  for (int k = 0; k < ITEMS; k++) {
    int64_t i = tid + (int64_t)k * nthr;
    v[k] = i < n ? expf(v[k] - m) : 0.0f;
    s += v[k];
  }
  s = WARP ? warp_reduce<P_SUM>(s) : block_reduce<P_SUM>(s);
  float inv = 1.0f / s;
#pragma unroll
  for (int k = 0; k < ITEMS; k++) {
    int64_t i = tid + (int64_t)k * nthr;
    if (i < n) yr[i] = from_f<T>(v[k] * inv);
  }
}

// Pass 1 of long rows: (max, sum exp) of chunk s of a row.
template <typename T>
__global__ void __launch_bounds__(256) k_row_stats(const T *x, int64_t n, int64_t S,
                                                   int64_t chunk, MS *part) {
  int64_t item = blockIdx.x, row = item / S, s = item - row * S;
  int64_t i0 = s * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
  const T *xr = x + row * n;
  MS a = {-INFINITY, 0.0f};
  // Per-thread running max first, exps against it: one exp per element.
  float m = -INFINITY;
  for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) m = nmax(m, to_f(xr[i]));
  float sum = 0;
  if (m != -INFINITY)
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
      float v = to_f(xr[i]);
      sum += v == -INFINITY ? 0.0f : expf(v - m);
    }
  a = {m, sum};
  a = ms_block(a);
  if (threadIdx.x == 0) part[item] = a;
}

// The row's (max, sum) from its S partials (in every thread).
__device__ MS row_total(const MS *part, int64_t row, int64_t S) {
  __shared__ MS tot;
  if (threadIdx.x < 32) {
    MS a = {-INFINITY, 0.0f};
    for (int64_t s = threadIdx.x; s < S; s += 32) a = ms_comb(a, part[row * S + s]);
    a = ms_warp(a);
    if (threadIdx.x == 0) tot = a;
  }
  __syncthreads();
  return tot;
}

template <typename T>
__global__ void __launch_bounds__(256) k_softmax_write(const T *x, T *y, int64_t n, int64_t S,
                                                       int64_t chunk, const MS *part) {
  int64_t item = blockIdx.x, row = item / S, s = item - row * S;
  MS t = row_total(part, row, S);
  float inv = 1.0f / t.s;
  int64_t i0 = s * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
  const T *xr = x + row * n;
  T *yr = y + row * n;
  for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x)
    yr[i] = from_f<T>(expf(to_f(xr[i]) - t.m) * inv);
}

__global__ void k_lse_fin(const MS *part, int64_t rows, int64_t S, void *out, int odt) {
  int64_t row = blockIdx.x;
  MS t = row_total(part, row, S);
  if (threadIdx.x == 0) {
    float m = t.m;
    float r = (isinf(m) || isnan(m)) ? m : m + logf(t.s);
    store(out, row, odt, r);
  }
}

// Splits rows of n into S chunks so that rows * S fills the GPU.
void split_rows(int64_t rows, int64_t n, int64_t *S, int64_t *chunk) {
  int64_t s = 1;
  if (rows < NSM_BLOCKS) {
    s = cdiv(NSM_BLOCKS, rows);
    int64_t smax = cdiv(n, 2048);
    if (s > smax) s = smax;
  }
  if (s < 1) s = 1;
  *chunk = cdiv(n, s);
  *S = cdiv(n, *chunk);
}

template <typename T>
int row_stats(const T *x, int64_t rows, int64_t n, MS **part, int64_t *S, int64_t *chunk,
              size_t *pbytes, const Ctx &cx) {
  split_rows(rows, n, S, chunk);
  *pbytes = (size_t)(rows * *S) * sizeof(MS);
  *part = (MS *)cx.sc->alloc(*pbytes);
  if (!*part) return (int)cudaErrorMemoryAllocation;
  k_row_stats<T><<<(unsigned)(rows * *S), 256, 0, cx.st>>>(x, n, *S, *chunk, *part);
  return 0;
}

template <typename T>
int softmax_typed(const void *xv, void *yv, int64_t rows, int64_t n, const Ctx &cx) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  if (n <= 256) {
    k_softmax_reg<T, 8, true><<<(unsigned)cdiv(rows, 8), 256, 0, cx.st>>>(x, y, rows, n);
  } else if (n <= 8192 && rows >= 64) {
    int threads = (int)((cdiv(n, 16) + 31) / 32 * 32);
    k_softmax_reg<T, 16, false><<<(unsigned)rows, threads, 0, cx.st>>>(x, y, rows, n);
  } else {
    MS *part;
    int64_t S, chunk;
    size_t pb;
    int e = row_stats<T>(x, rows, n, &part, &S, &chunk, &pb, cx);
    if (e) return e;
    k_softmax_write<T><<<(unsigned)(rows * S), 256, 0, cx.st>>>(x, y, n, S, chunk, part);
    cx.sc->free(part, pb);
  }
  return (int)cudaGetLastError();
}

template <typename T>
int lse_rows(const void *x, void *out, int odt, int64_t rows, int64_t n, const Ctx &cx) {
  MS *part;
  int64_t S, chunk;
  size_t pb;
  int e = row_stats<T>((const T *)x, rows, n, &part, &S, &chunk, &pb, cx);
  if (e) return e;
  k_lse_fin<<<(unsigned)rows, 32, 0, cx.st>>>(part, rows, S, out, odt);
  cx.sc->free(part, pb);
  return (int)cudaGetLastError();
}

// ------------------------------------------------------------ argmax / argmin

template <typename V> struct Best {
  V v;
  int64_t i;
};

template <bool MAX, typename V> __device__ __forceinline__ bool better(Best<V> a, Best<V> b) {
  return (MAX ? a.v > b.v : a.v < b.v) || (a.v == b.v && a.i < b.i);
}

// As the CPU: the first element seeds, only a strict improvement replaces
// it, so a NaN wins only at index 0. Ranking a NaN at index 0 as the best
// value and any other NaN as the worst gives that answer in any order.
template <bool MAX, typename V> __device__ __forceinline__ Best<V> arg_elem(V v, int64_t i) {
  if (v != v) v = (i == 0) == MAX ? highest<V>() : lowest<V>();
  return {v, i};
}

template <bool MAX, typename V> __device__ __forceinline__ Best<V> arg_id() {
  return {MAX ? lowest<V>() : highest<V>(), INT64_MAX};
}

template <bool MAX, typename V> __device__ Best<V> arg_warp(Best<V> a) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    Best<V> o = {shfl_xor(a.v, d), shfl_xor(a.i, d)};
    if (better<MAX>(o, a)) a = o;
  }
  return a;
}
template <bool MAX, typename V> __device__ Best<V> arg_block(Best<V> a) {
  __shared__ V sv[32];
  __shared__ int64_t si[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  a = arg_warp<MAX>(a);
  __syncthreads();
  if (lane == 0) sv[w] = a.v, si[w] = a.i;
  __syncthreads();
  a = lane < nw ? Best<V>{sv[lane], si[lane]} : arg_id<MAX, V>();
  return arg_warp<MAX>(a);
}

template <class LD, bool MAX, bool WARP>
__global__ void __launch_bounds__(256) k_arg_row(const void *x, int dt, cu_rplan p, int64_t n,
                                                 int64_t stride, int64_t S, int64_t chunk,
                                                 uint32_t *out, Best<typename LD::V> *partial) {
  typedef typename LD::V V;
  int64_t item;
  int tid, nthr;
  if (WARP) {
    item = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    tid = threadIdx.x & 31;
    nthr = 32;
    if (item >= p.nout * S) return;
  } else {
    item = blockIdx.x;
    tid = threadIdx.x;
    nthr = blockDim.x;
  }
  int64_t o = item / S, s = item - o * S;
  int64_t i0 = s * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
  int64_t kb = p.base + kept_off(p, o);
  Best<V> a = arg_id<MAX, V>();
  for (int64_t i = i0 + tid; i < i1; i += nthr) {
    Best<V> e = arg_elem<MAX>(LD::ld(x, kb + i * stride, dt), i);
    if (better<MAX>(e, a)) a = e;
  }
  a = WARP ? arg_warp<MAX>(a) : arg_block<MAX>(a);
  if (tid == 0) {
    if (S == 1) out[o] = (uint32_t)a.i;
    else partial[item] = a;
  }
}

template <bool MAX, typename V>
__global__ void k_arg_combine(const Best<V> *partial, int64_t S, int64_t nout, uint32_t *out) {
  int64_t o = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (o >= nout) return;
  Best<V> a = arg_id<MAX, V>();
  for (int64_t s = lane; s < S; s += 32)
    if (better<MAX>(partial[o * S + s], a)) a = partial[o * S + s];
  a = arg_warp<MAX>(a);
  if (lane == 0) out[o] = (uint32_t)a.i;
}

// One thread per output, walking the axis (outputs contiguous in memory).
template <class LD, bool MAX>
__global__ void k_arg_col(const void *x, int dt, cu_rplan p, int64_t n, int64_t stride,
                          uint32_t *out) {
  typedef typename LD::V V;
  int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= p.nout) return;
  int64_t kb = p.base + kept_off(p, o);
  Best<V> a = arg_id<MAX, V>();
  for (int64_t i = 0; i < n; i++) {
    Best<V> e = arg_elem<MAX>(LD::ld(x, kb + i * stride, dt), i);
    if (better<MAX>(e, a)) a = e;
  }
  out[o] = (uint32_t)a.i;
}

template <class LD, bool MAX>
int arg_typed(const void *x, int dt, uint32_t *out, const cu_rplan &p, int64_t n, int64_t stride,
              const Ctx &cx) {
  typedef typename LD::V V;
  int64_t nout = p.nout;
  bool kinner = p.nk >= 1 && p.kstride[p.nk - 1] == 1;
  if (stride != 1 && kinner && nout >= 4096) {
    k_arg_col<LD, MAX><<<(unsigned)cdiv(nout, 256), 256, 0, cx.st>>>(x, dt, p, n, stride, out);
    return (int)cudaGetLastError();
  }
  int64_t S = 1, chunk = n;
  if (nout < NSM_BLOCKS && n > 8192) {
    S = cdiv(NSM_BLOCKS, nout);
    int64_t smax = cdiv(n, 2048);
    if (S > smax) S = smax;
    chunk = cdiv(n, S);
    S = cdiv(n, chunk);
  }
  Best<V> *partial = NULL;
  size_t pb = (size_t)(nout * S) * sizeof(Best<V>);
  if (S > 1) {
    partial = (Best<V> *)cx.sc->alloc(pb);
    if (!partial) return (int)cudaErrorMemoryAllocation;
  }
  if (chunk <= 512)
    k_arg_row<LD, MAX, true><<<(unsigned)cdiv(nout * S, 8), 256, 0, cx.st>>>(
        x, dt, p, n, stride, S, chunk, out, partial);
  else
    k_arg_row<LD, MAX, false><<<(unsigned)(nout * S), 256, 0, cx.st>>>(x, dt, p, n, stride, S,
                                                                       chunk, out, partial);
  if (S > 1)
    k_arg_combine<MAX, V><<<(unsigned)cdiv(nout, 8), 256, 0, cx.st>>>(partial, S, nout, out);
  int err = (int)cudaGetLastError();
  if (partial) cx.sc->free(partial, pb);
  return err;
}

// ------------------------------------------------------------ scans

template <class LD, int P> struct ScanAcc {
  typedef typename std::conditional<std::is_same<typename LD::V, float>::value, float,
                                    typename LD::V>::type type;
};

// The scan's start value (also an identity for values of dtype dt):
// integer max/min start at the dtype's limits, as the CPU's exclusive scans.
template <int P, typename A> __device__ __forceinline__ A scan_init(int dt) {
  if (std::is_same<A, int64_t>::value && (P == P_MAX || P == P_MIN)) {
    int64_t lo, hi;
    switch (dt) {
      case MX_BOOL: lo = 0, hi = 1; break;
      case MX_UINT8: lo = 0, hi = UINT8_MAX; break;
      case MX_UINT16: lo = 0, hi = UINT16_MAX; break;
      case MX_UINT32: lo = 0, hi = UINT32_MAX; break;
      case MX_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
      case MX_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
      case MX_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
      default: lo = INT64_MIN, hi = INT64_MAX; break;
    }
    return (A)(P == P_MAX ? lo : hi);
  }
  return Op<P, A>::id();
}

const int SCAN_T = 256, SCAN_ITEMS = 4, SCAN_TILE = SCAN_T * SCAN_ITEMS;

// Inclusive block scan of one value per thread; *total gets the block's.
template <int P, typename A> __device__ A block_scan_excl(A v, A idv, A *total) {
  __shared__ A sh[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  A inc = v;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    A y = __shfl_up_sync(0xffffffffu, inc, d);
    if (lane >= d) inc = Op<P, A>::comb(y, inc);
  }
  __syncthreads();
  if (lane == 31) sh[w] = inc;
  __syncthreads();
  if (w == 0) {
    A t = lane < (SCAN_T >> 5) ? sh[lane] : idv;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      A y = __shfl_up_sync(0xffffffffu, t, d);
      if (lane >= d) t = Op<P, A>::comb(y, t);
    }
    sh[lane] = t;  // inclusive over warps
  }
  __syncthreads();
  A wpre = w > 0 ? sh[w - 1] : idv;
  A excl = __shfl_up_sync(0xffffffffu, inc, 1);
  if (lane == 0) excl = idv;
  *total = sh[(SCAN_T >> 5) - 1];
  return Op<P, A>::comb(wpre, excl);
}

// Reduces tile q of line `line` (logical order; reverse maps positions).
template <class LD, class A, int P>
__global__ void __launch_bounds__(SCAN_T) k_scan_agg(const void *x, int dt, int64_t n,
                                                     int64_t ntiles, bool reverse, A *agg) {
  int64_t line = blockIdx.x / ntiles, q = blockIdx.x - line * ntiles;
  A idv = scan_init<P, A>(dt);
  A a = idv;
  for (int k = 0; k < SCAN_ITEMS; k++) {
    int64_t j = q * SCAN_TILE + (int64_t)threadIdx.x * SCAN_ITEMS + k;
    if (j < n) a = Op<P, A>::comb(a, (A)LD::ld(x, line * n + (reverse ? n - 1 - j : j), dt));
  }
  A tot;
  block_scan_excl<P>(a, idv, &tot);
  if (threadIdx.x == 0) agg[blockIdx.x] = tot;
}

// Scans tiles [q0, q0 + nq) of a line; the carry into q0 is folded from
// the earlier tiles' aggregates (agg) or starts at the scan's init.
template <class LD, class A, int P>
__global__ void __launch_bounds__(SCAN_T) k_scan_tiles(const void *x, int dt, void *out, int odt,
                                                       int64_t n, int64_t ntiles, int64_t tpb,
                                                       bool reverse, bool inclusive,
                                                       const A *agg) {
  typedef Op<P, A> O;
  int64_t nb = cdiv(ntiles, tpb);
  int64_t line = blockIdx.x / nb, q0 = (blockIdx.x - line * nb) * tpb;
  A idv = scan_init<P, A>(dt);
  __shared__ A carry_sh;
  if (threadIdx.x < 32) {
    // The ops are commutative: lanes fold strided subsets of the earlier
    // tiles' aggregates, then the warp combines them.
    A c = idv;
    if (agg)
      for (int64_t q = threadIdx.x; q < q0; q += 32) c = O::comb(c, agg[line * ntiles + q]);
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) c = O::comb(c, shfl_xor(c, d));
    if (threadIdx.x == 0) carry_sh = c;
  }
  __syncthreads();
  A carry = carry_sh;
  int64_t q1 = q0 + tpb < ntiles ? q0 + tpb : ntiles;
  for (int64_t q = q0; q < q1; q++) {
    A v[SCAN_ITEMS];
    int64_t j0 = q * SCAN_TILE + (int64_t)threadIdx.x * SCAN_ITEMS;
    A loc = idv;
#pragma unroll
    for (int k = 0; k < SCAN_ITEMS; k++) {
      int64_t j = j0 + k;
      v[k] = j < n ? (A)LD::ld(x, line * n + (reverse ? n - 1 - j : j), dt) : idv;
      loc = O::comb(loc, v[k]);
    }
    A tot;
    A pre = O::comb(carry, block_scan_excl<P>(loc, idv, &tot));
#pragma unroll
    for (int k = 0; k < SCAN_ITEMS; k++) {
      int64_t j = j0 + k;
      A nx = O::comb(pre, v[k]);
      if (j < n) store(out, line * n + (reverse ? n - 1 - j : j), odt, inclusive ? nx : pre);
      pre = nx;
    }
    carry = O::comb(carry, tot);
  }
}

// Lines along a non-last axis: one thread per (outer, k), walking n.
template <class LD, class A, int P>
__global__ void k_scan_col(const void *x, int dt, void *out, int odt, int64_t outer, int64_t n,
                           int64_t K, bool reverse, bool inclusive) {
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= outer * K) return;
  int64_t ko = t / K, k = t - ko * K;
  A c = scan_init<P, A>(dt);
  for (int64_t q = 0; q < n; q++) {
    int64_t i = reverse ? n - 1 - q : q;
    int64_t off = (ko * n + i) * K + k;
    A v = (A)LD::ld(x, off, dt);
    A nx = Op<P, A>::comb(c, v);
    store(out, off, odt, inclusive ? nx : c);
    c = nx;
  }
}

template <class LD, int P>
int scan_typed(const void *x, int dt, void *out, int odt, int64_t outer, int64_t n, int64_t K,
               bool reverse, bool inclusive, const Ctx &cx) {
  typedef typename ScanAcc<LD, P>::type A;
  if (K > 1) {
    k_scan_col<LD, A, P><<<(unsigned)cdiv(outer * K, 256), 256, 0, cx.st>>>(
        x, dt, out, odt, outer, n, K, reverse, inclusive);
    return (int)cudaGetLastError();
  }
  int64_t ntiles = cdiv(n, SCAN_TILE);
  if (outer >= 264 || ntiles == 1) {
    k_scan_tiles<LD, A, P><<<(unsigned)outer, SCAN_T, 0, cx.st>>>(
        x, dt, out, odt, n, ntiles, ntiles, reverse, inclusive, (const A *)NULL);
    return (int)cudaGetLastError();
  }
  // Few long lines: aggregates of every tile first, then each tile scans
  // with the carry folded from its predecessors'.
  size_t ab = (size_t)(outer * ntiles) * sizeof(A);
  A *agg = (A *)cx.sc->alloc(ab);
  if (!agg) return (int)cudaErrorMemoryAllocation;
  k_scan_agg<LD, A, P><<<(unsigned)(outer * ntiles), SCAN_T, 0, cx.st>>>(x, dt, n, ntiles,
                                                                        reverse, agg);
  k_scan_tiles<LD, A, P><<<(unsigned)(outer * ntiles), SCAN_T, 0, cx.st>>>(
      x, dt, out, odt, n, ntiles, 1, reverse, inclusive, agg);
  int err = (int)cudaGetLastError();
  cx.sc->free(agg, ab);
  return err;
}

// ------------------------------------------------------------ strided gather

template <typename E>
__global__ void k_gather(E *out, const E *x, cu_rplan g, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = x[kept_off(g, i)];
}

}  // namespace

// ------------------------------------------------------------ C launchers

extern "C" int cu_reduce(int op, mx_dtype it, mx_dtype ot, const void *x, void *out,
                         const cu_rplan *p, int ddof, const cu_scratch *sc, void *stream) {
  if (it == MX_COMPLEX64 || ot == MX_COMPLEX64 || op == RED_MEDIAN || op > RED_MEDIAN)
    return CU_RED_UNSUPPORTED;
  if (p->nout == 0) return 0;
  Ctx cx = {sc, (cudaStream_t)stream};
  Fin f = {};
  f.odt = ot;
  f.idt = it;
  f.ddof = ddof;
  f.out = out;
  f.nred = (double)p->nred;
  switch (op) {
    case RED_SUM: f.mode = F_STORE; return run_typed<P_SUM>(it, x, *p, f, cx);
    case RED_PROD: f.mode = F_STORE; return run_typed<P_PROD>(it, x, *p, f, cx);
    case RED_MAX: f.mode = F_STORE; return run_typed<P_MAX>(it, x, *p, f, cx);
    case RED_MIN: f.mode = F_STORE; return run_typed<P_MIN>(it, x, *p, f, cx);
    case RED_ALL: f.mode = F_STORE; return run_typed<P_AND>(it, x, *p, f, cx);
    case RED_ANY: f.mode = F_STORE; return run_typed<P_OR>(it, x, *p, f, cx);
    case RED_MEAN: f.mode = F_MEAN; return run_typed<P_SUM>(it, x, *p, f, cx);
    default: break;
  }
  bool lse = op == RED_LOGSUMEXP;
  if (lse && (it == MX_FLOAT32 || it == MX_FLOAT16 || it == MX_BFLOAT16) && p->nred > 0 &&
      (p->nr == 1 && p->rstride[0] == 1) &&
      (p->nk == 0 || (p->nk == 1 && p->kstride[0] == p->nred))) {
    // Dense rows: one read of each row (online max and sum).
    const char *xb = (const char *)x + p->base * (it == MX_FLOAT32 ? 4 : 2);
    if (it == MX_FLOAT32) return lse_rows<float>(xb, out, ot, p->nout, p->nred, cx);
    if (it == MX_FLOAT16) return lse_rows<__half>(xb, out, ot, p->nout, p->nred, cx);
    return lse_rows<__nv_bfloat16>(xb, out, ot, p->nout, p->nred, cx);
  }
  // Two passes: a center per output (mean, or max), then the sum of
  // squared deviations from it, or of exp(x - max).
  size_t cb = (size_t)p->nout * sizeof(double);
  double *center = (double *)sc->alloc(cb);
  if (!center) return (int)cudaErrorMemoryAllocation;
  Fin f1 = f;
  f1.mode = F_CENTER;
  f1.center_out = center;
  f1.scale = lse ? 1.0 : 1.0 / (double)p->nred;
  int e = lse ? run_typed<P_MAX>(it, x, *p, f1, cx) : run_typed<P_SUM>(it, x, *p, f1, cx);
  if (e == 0) {
    Fin f2 = f;
    f2.center = center;
    f2.mode = lse ? F_LSE : op == RED_STD ? F_STD : F_VAR;
    e = lse ? run_typed<P_SEXP>(it, x, *p, f2, cx) : run_typed<P_SSD>(it, x, *p, f2, cx);
  }
  sc->free(center, cb);
  return e;
}

extern "C" int cu_argreduce(int is_max, mx_dtype it, const void *x, uint32_t *out,
                            const cu_rplan *p, int64_t n, int64_t stride, const cu_scratch *sc,
                            void *stream) {
  if (p->nout == 0) return 0;
  Ctx cx = {sc, (cudaStream_t)stream};
#define ARG(LD)                                                                      \
  return is_max ? arg_typed<LD, true>(x, (int)it, out, *p, n, stride, cx)            \
                : arg_typed<LD, false>(x, (int)it, out, *p, n, stride, cx)
  switch (it) {
    case MX_FLOAT32: ARG(LdF32);
    case MX_FLOAT16: ARG(LdF16);
    case MX_BFLOAT16: ARG(LdBF16);
    case MX_FLOAT64: ARG(LdF64);
    case MX_UINT64: ARG(LdU64);
    case MX_COMPLEX64: return CU_RED_UNSUPPORTED;
    default: ARG(LdInt);
  }
#undef ARG
}

extern "C" int cu_softmax_rows(mx_dtype it, mx_dtype ot, const void *x, void *out, int64_t rows,
                               int64_t n, const cu_scratch *sc, void *stream) {
  if (ot != it) return CU_RED_UNSUPPORTED;
  if (rows == 0 || n == 0) return 0;
  Ctx cx = {sc, (cudaStream_t)stream};
  switch (it) {
    case MX_FLOAT32: return softmax_typed<float>(x, out, rows, n, cx);
    case MX_FLOAT16: return softmax_typed<__half>(x, out, rows, n, cx);
    case MX_BFLOAT16: return softmax_typed<__nv_bfloat16>(x, out, rows, n, cx);
    default: return CU_RED_UNSUPPORTED;
  }
}

extern "C" int cu_scan(int op, int reverse, int inclusive, mx_dtype it, mx_dtype ot,
                       const void *x, void *out, int64_t outer, int64_t n, int64_t K,
                       const cu_scratch *sc, void *stream) {
  if (it == MX_COMPLEX64 || ot == MX_COMPLEX64) return CU_RED_UNSUPPORTED;
  if (outer == 0 || n == 0 || K == 0) return 0;
  Ctx cx = {sc, (cudaStream_t)stream};
  bool rv = reverse != 0, inc = inclusive != 0;
#define SC(LD, P) return scan_typed<LD, P>(x, (int)it, out, (int)ot, outer, n, K, rv, inc, cx)
#define SC_OPS(LD)                                   \
  switch (op) {                                      \
    case SCAN_SUM: SC(LD, P_SUM);                    \
    case SCAN_PROD: SC(LD, P_PROD);                  \
    case SCAN_MAX: SC(LD, P_MAX);                    \
    case SCAN_MIN: SC(LD, P_MIN);                    \
    default: break;                                  \
  }
  if (op == SCAN_LOGADDEXP) {
    switch (it) {
      case MX_FLOAT32: SC(LdF32, P_LAE);
      case MX_FLOAT16: SC(LdF16, P_LAE);
      case MX_BFLOAT16: SC(LdBF16, P_LAE);
      case MX_FLOAT64: SC(LdF64, P_LAE);
      default: return CU_RED_UNSUPPORTED;
    }
  }
  switch (it) {
    case MX_FLOAT32: SC_OPS(LdF32) break;
    case MX_FLOAT16: SC_OPS(LdF16) break;
    case MX_BFLOAT16: SC_OPS(LdBF16) break;
    case MX_FLOAT64: SC_OPS(LdF64) break;
    case MX_UINT64: SC_OPS(LdU64) break;
    default: SC_OPS(LdInt) break;
  }
#undef SC_OPS
#undef SC
  return CU_RED_UNSUPPORTED;
}

extern "C" int cu_gather_strided(size_t esize, void *out, const void *x, const int64_t *shape,
                                 const int64_t *strides, int ndim, int64_t n, void *stream) {
  if (n == 0) return 0;
  if (ndim > MX_MAX_NDIM) return CU_RED_UNSUPPORTED;
  cu_rplan g = {};
  // Collapse dims that are contiguous with their inner neighbour.
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    if (g.nk > 0 && g.kstride[g.nk - 1] == strides[d] * shape[d]) {
      g.kshape[g.nk - 1] *= shape[d];
      g.kstride[g.nk - 1] = strides[d];
      continue;
    }
    g.kshape[g.nk] = shape[d];
    g.kstride[g.nk] = strides[d];
    g.nk++;
  }
  int64_t blocks = cdiv(n, 256);
  if (blocks > 65536) blocks = 65536;
  cudaStream_t st = (cudaStream_t)stream;
  switch (esize) {
    case 1: k_gather<uint8_t><<<(unsigned)blocks, 256, 0, st>>>((uint8_t *)out, (const uint8_t *)x, g, n); break;
    case 2: k_gather<uint16_t><<<(unsigned)blocks, 256, 0, st>>>((uint16_t *)out, (const uint16_t *)x, g, n); break;
    case 4: k_gather<uint32_t><<<(unsigned)blocks, 256, 0, st>>>((uint32_t *)out, (const uint32_t *)x, g, n); break;
    case 8: k_gather<uint64_t><<<(unsigned)blocks, 256, 0, st>>>((uint64_t *)out, (const uint64_t *)x, g, n); break;
    default: return CU_RED_UNSUPPORTED;
  }
  return (int)cudaGetLastError();
}
