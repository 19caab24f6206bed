// misc.cu — the index family's non-movement kernels: where, elementwise
// ops the core table lacks (rounding, classification, logic, bitwise,
// integer floor division / remainder, logaddexp, arctan2), fills, arange,
// eye/tri/tril/triu, and MLX's threefry random stream with its samplers.
// f16/bf16 compute in f32 and round with the CPU's own conversions
// (core/half.h, re-expressed for the device) so NaN payloads match too.
// Float arithmetic that must equal the CPU bit for bit is written with
// __fmul_rn / __fadd_rn: nvcc would otherwise contract a*b+c into an FMA,
// which the CPU build (ISO C, no contraction) never does.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "../../core/half.h"
#include "cuda_index.h"

namespace {

// ---------------------------------------------------------------- halves

struct h16 {
  uint16_t v;
};
struct b16 {
  uint16_t v;
};


template <typename T> struct is_flt : std::false_type {};
template <> struct is_flt<float> : std::true_type {};
template <> struct is_flt<h16> : std::true_type {};
template <> struct is_flt<b16> : std::true_type {};

__device__ __forceinline__ float tof(float x) { return x; }
__device__ __forceinline__ float tof(h16 x) { return f16_to_f32(x.v); }
__device__ __forceinline__ float tof(b16 x) { return bf16_to_f32(x.v); }
template <typename T> __device__ __forceinline__ T fromf(float x);
template <> __device__ __forceinline__ float fromf<float>(float x) { return x; }
template <> __device__ __forceinline__ h16 fromf<h16>(float x) { return h16{f32_to_f16(x)}; }
template <> __device__ __forceinline__ b16 fromf<b16>(float x) { return b16{f32_to_bf16(x)}; }

// Rounds an f32 value through dtype d (the CPU's round_to).
__device__ __forceinline__ float round_to(float x, int d) {
  if (d == MX_FLOAT16) return f16_to_f32(f32_to_f16(x));
  if (d == MX_BFLOAT16) return bf16_to_f32(f32_to_bf16(x));
  return x;
}

// ---------------------------------------------------------------- layouts


// 64-bit division is several times slower than 32-bit on the GPU: element
// indices below 2^32 (nearly always) decode in 32 bits.
__device__ __forceinline__ void offsets(const cu_ix_layout &L, int64_t i, int nops, int64_t *o) {
  for (int k = 0; k < nops; k++) o[k] = 0;
  if (i < 0xffffffffLL) {
    uint32_t q = (uint32_t)i;
    for (int d = L.ndim - 1; d >= 0; d--) {
      uint32_t n = (uint32_t)L.shape[d];
      uint32_t c = q % n;
      q /= n;
      for (int k = 1; k <= nops; k++) o[k - 1] += (int64_t)c * L.strides[k][d];
    }
    return;
  }
  for (int d = L.ndim - 1; d >= 0; d--) {
    int64_t n = L.shape[d];
    int64_t c = i % n;
    i /= n;
    for (int k = 1; k <= nops; k++) o[k - 1] += c * L.strides[k][d];
  }
}

bool dense(const cu_ix_layout *L, int k) {
  int64_t want = 1;
  for (int d = L->ndim - 1; d >= 0; d--) {
    if (L->shape[d] != 1 && L->strides[k][d] != want) return false;
    want *= L->shape[d];
  }
  return true;
}

bool all_dense(const cu_ix_layout *L, int nops) {
  for (int k = 1; k <= nops; k++)
    if (!dense(L, k)) return false;
  return true;
}

void grid1d(int64_t n, int *blocks) {
  int64_t b = (n + 255) / 256;
  *blocks = (int)(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}

#define GRID_LOOP(i, n)                                                           \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)gridDim.x * blockDim.x)

// ---------------------------------------------------------------- where

// Broadcast operands: rows of the last dim, so only the row start is
// decoded (once per row) and the run walks with each operand's stride.
template <typename T>
__global__ void where_rows(T *out, const uint8_t *c, const T *x, const T *y, cu_ix_layout L,
                           int64_t rows, int64_t inner) {
  int nd = L.ndim;
  int64_t s0 = L.strides[1][nd - 1], s1 = L.strides[2][nd - 1], s2 = L.strides[3][nd - 1];
  for (int64_t r = blockIdx.y * (int64_t)blockDim.y + threadIdx.y; r < rows;
       r += (int64_t)gridDim.y * blockDim.y) {
    int64_t o[3] = {0, 0, 0};
    uint32_t q = (uint32_t)r;
    for (int d = nd - 2; d >= 0; d--) {
      uint32_t n = (uint32_t)L.shape[d];
      uint32_t cc = q % n;
      q /= n;
      for (int k = 0; k < 3; k++) o[k] += (int64_t)cc * L.strides[k + 1][d];
    }
    T *op = out + r * inner;
    const uint8_t *cp = c + o[0];
    const T *xp = x + o[1], *yp = y + o[2];
    int64_t st = (int64_t)gridDim.x * blockDim.x;
    int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    for (; j + 3 * st < inner; j += 4 * st) {
      T v[4];
#pragma unroll
      for (int u = 0; u < 4; u++) {
        int64_t jj = j + u * st;
        v[u] = cp[jj * s0] ? xp[jj * s1] : yp[jj * s2];
      }
#pragma unroll
      for (int u = 0; u < 4; u++) op[j + u * st] = v[u];
    }
    for (; j < inner; j += st) op[j] = cp[j * s0] ? xp[j * s1] : yp[j * s2];
  }
}

template <typename T>
__global__ void where_kernel(T *out, const uint8_t *c, const T *x, const T *y, cu_ix_layout L,
                             int64_t n, bool dn) {
  GRID_LOOP(i, n) {
    int64_t o[3] = {i, i, i};
    if (!dn) offsets(L, i, 3, o);
    out[i] = c[o[0]] ? x[o[1]] : y[o[2]];
  }
}

// ---------------------------------------------------------------- unary

template <typename T> struct uns { typedef typename std::make_unsigned<T>::type type; };

template <typename T, typename O>
__device__ __forceinline__ O un_op(int op, T x, const double *v) {
  if constexpr (is_flt<T>::value) {
    float f = tof(x);
    if constexpr (std::is_same<O, bool>::value) {
      switch (op) {
        case CUX_ISNAN: return f != f;
        case CUX_ISINF: return f == INFINITY || f == -INFINITY;
        case CUX_ISFINITE: return f == f && f != INFINITY && f != -INFINITY;
        case CUX_ISPOSINF: return f == INFINITY;
        case CUX_ISNEGINF: return f == -INFINITY;
      }
      return false;
    } else {
      float r = f;
      // NaN keeps its payload (through f32, as on the CPU); the device
      // functions would return a canonical NaN.
      if (f != f && op != CUX_NAN_TO_NUM && op != CUX_SIGN) return fromf<O>(f);
      switch (op) {
        case CUX_FLOOR: r = floorf(f); break;
        case CUX_CEIL: r = ceilf(f); break;
        case CUX_ROUND: r = rintf(f); break;
        case CUX_SIGN: r = f < 0 ? -1.0f : (f > 0 ? 1.0f : 0.0f); break;
        case CUX_NAN_TO_NUM:
          r = isnan(f) ? (float)v[0] : f == INFINITY ? (float)v[1] : f == -INFINITY ? (float)v[2] : f;
          break;
      }
      return fromf<O>(r);
    }
  } else {
    if constexpr (std::is_same<O, bool>::value) {
      return false;
    } else {
      switch (op) {
        case CUX_SIGN:
          if constexpr (std::is_signed<T>::value) return (T)((x > 0) - (x < 0));
          else return (T)(x != 0);
        case CUX_LOGICAL_NOT: return (T)!x;
        case CUX_BITWISE_INVERT: return (T)~x;
      }
      return x;  // floor / ceil / round of integers
    }
  }
}

template <typename T, typename O>
__global__ void unary_kernel(int op, O *out, const T *a, cu_ix_layout L, int64_t n, bool dn,
                             double v0, double v1, double v2) {
  double v[3] = {v0, v1, v2};
  GRID_LOOP(i, n) {
    int64_t o = i;
    if (!dn) offsets(L, i, 1, &o);
    out[i] = un_op<T, O>(op, a[o], v);
  }
}

// ---------------------------------------------------------------- binary

template <typename T>
__device__ __forceinline__ T bin_int(int op, T x, T y) {
  typedef typename uns<T>::type U;
  const int bits = (int)sizeof(T) * 8;
  switch (op) {
    case CUX_FLOOR_DIVIDE:
      if constexpr (std::is_signed<T>::value) {
        if (y == 0) return 0;
        if (y == -1) return (T)(0 - (U)x);
        return (T)(x / y - ((x % y != 0) && ((x % y < 0) != (y < 0))));
      } else {
        return y == 0 ? (T)0 : (T)(x / y);
      }
    case CUX_REMAINDER:
      if constexpr (std::is_signed<T>::value) {
        if (y == 0 || y == -1) return 0;
        return (T)(x % y + (((x % y != 0) && ((x % y < 0) != (y < 0))) ? y : 0));
      } else {
        return y == 0 ? (T)0 : (T)(x % y);
      }
    case CUX_LOGICAL_AND:
    case CUX_BITWISE_AND: return (T)(x & y);
    case CUX_LOGICAL_OR:
    case CUX_BITWISE_OR: return (T)(x | y);
    case CUX_BITWISE_XOR: return (T)(x ^ y);
    case CUX_LEFT_SHIFT:
      if constexpr (std::is_signed<T>::value)
        return y >= 0 && y < bits ? (T)((uint64_t)(U)x << y) : (T)0;
      else
        return (uint64_t)y < (uint64_t)bits ? (T)((uint64_t)x << y) : (T)0;
    case CUX_RIGHT_SHIFT:
      if constexpr (std::is_signed<T>::value)
        return y >= 0 && y < bits ? (T)(x >> y) : (T)(x < 0 ? -1 : 0);
      else
        return (uint64_t)y < (uint64_t)bits ? (T)(x >> y) : (T)0;
  }
  return x;
}

// Each step rounded to f32 as the CPU's libm calls are (computed in double,
// then rounded: within a rounding of the correctly rounded value).
__device__ __forceinline__ float bin_flt(int op, float x, float y) {
  switch (op) {
    case CUX_REMAINDER: {
      float r = fmodf(x, y);
      if (r != 0) {
        if ((r < 0) != (y < 0)) r = __fadd_rn(r, y);
      } else {
        r = copysignf(0.0f, y);
      }
      return r;
    }
    case CUX_LOGADDEXP: {
      float mx = isnan(x) ? x : (x > y ? x : y), mn = isnan(x) ? x : (x < y ? x : y);
      if (mn == -INFINITY || mx == INFINITY) return mx;
      float e = (float)exp((double)__fsub_rn(mn, mx));
      return __fadd_rn(mx, (float)log1p((double)e));
    }
    case CUX_ARCTAN2: return (float)atan2((double)x, (double)y);
  }
  return x;
}

template <typename T>
__global__ void binary_kernel(int op, T *out, const T *a, const T *b, cu_ix_layout L, int64_t n,
                              bool dn) {
  GRID_LOOP(i, n) {
    int64_t o[2] = {i, i};
    if (!dn) offsets(L, i, 2, o);
    if constexpr (is_flt<T>::value)
      out[i] = fromf<T>(bin_flt(op, tof(a[o[0]]), tof(b[o[1]])));
    else
      out[i] = bin_int<T>(op, a[o[0]], b[o[1]]);
  }
}

// ---------------------------------------------------------------- fills

template <typename T> __global__ void fill_kernel(T *out, T v, int64_t n) {
  GRID_LOOP(i, n) out[i] = v;
}
template <typename T> __global__ void fill_dev_kernel(T *out, const T *v, int64_t n) {
  T x = *v;
  GRID_LOOP(i, n) out[i] = x;
}

template <typename T> __global__ void arange_int_kernel(T *out, uint64_t s, uint64_t d, int64_t n) {
  GRID_LOOP(i, n) out[i] = (T)(s + (uint64_t)i * d);
}
// Exact by the caller's check: fma(i, d, s) never rounds here.
__global__ void arange_flt_kernel(void *out, int dt, double s, double d, int64_t n) {
  GRID_LOOP(i, n) {
    double v = fma((double)i, d, s);
    switch (dt) {
      case MX_FLOAT64: ((double *)out)[i] = v; break;
      case MX_FLOAT32: ((float *)out)[i] = (float)v; break;
      case MX_COMPLEX64: ((float2 *)out)[i] = make_float2((float)v, 0.0f); break;
      case MX_FLOAT16: ((uint16_t *)out)[i] = f32_to_f16((float)v); break;
      default: ((uint16_t *)out)[i] = f32_to_bf16((float)v); break;
    }
  }
}

// MLX's linspace: t = i / (num - 1) (i saturating at 2^24 as its f32
// arange does), (1 - t) * start + t * stop, in f32 (f64 for f64), each
// operation rounded on its own as on the CPU.
__global__ void linspace_kernel(void *out, int dt, double a, double b, int64_t n) {
  GRID_LOOP(i, n) {
    if (dt == MX_FLOAT64) {
      double t = __ddiv_rn((double)i, (double)(n - 1));
      ((double *)out)[i] = __dadd_rn(__dmul_rn(__dsub_rn(1.0, t), a), __dmul_rn(t, b));
      continue;
    }
    float den = (float)(n - 1), af = (float)a, bf = (float)b;
    float t = __fdiv_rn((float)(i < 16777216 ? i : 16777216), den);
    float v = __fadd_rn(__fmul_rn(__fsub_rn(1.0f, t), af), __fmul_rn(t, bf));
    switch (dt) {
      case MX_FLOAT32: ((float *)out)[i] = v; break;
      case MX_FLOAT16: ((uint16_t *)out)[i] = f32_to_f16(v); break;
      default: ((uint16_t *)out)[i] = f32_to_bf16(v); break;
    }
  }
}

template <typename T>
__global__ void tri_kernel(int mode, T *out, int64_t rows, int64_t m, int64_t rpm, int64_t k,
                           T one, int64_t n) {
  GRID_LOOP(t, n) {
    int64_t r = t / m, j = t - r * m;
    int64_t i = r % rpm;
    int64_t lim = i + k;
    bool keep = mode == 0 ? j == lim : mode == 3 ? j >= lim : j <= lim;
    if (mode <= 1) {
      out[t] = keep ? one : T();
    } else if (!keep) {
      out[t] = T();
    }
  }
}

// ---------------------------------------------------------------- random

__device__ __forceinline__ uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

__device__ __forceinline__ void threefry(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1,
                                         uint32_t *o0, uint32_t *o1) {
  uint32_t ks2 = k0 ^ k1 ^ 0x1BD11BDAu;
  uint32_t ks[3] = {k0, k1, ks2};
  uint32_t x0 = c0 + k0, x1 = c1 + k1;
  const int ra[4] = {13, 15, 26, 6}, rb[4] = {17, 29, 16, 24};
#pragma unroll
  for (int g = 0; g < 5; g++) {
#pragma unroll
    for (int q = 0; q < 4; q++) {
      int r = (g & 1) ? rb[q] : ra[q];
      x0 += x1;
      x1 = rotl(x1, r);
      x1 ^= x0;
    }
    x0 += ks[(g + 1) % 3];
    x1 += ks[(g + 2) % 3] + (uint32_t)(g + 1);
  }
  *o0 = x0;
  *o1 = x1;
}

__device__ __forceinline__ float unit(uint32_t w, float upper) {
  float u = __fdiv_rn(__uint2float_rn(w), 4294967296.0f);
  return u < upper ? u : upper;
}

// glibc's logf (the ARM optimized-routines algorithm: a 16-entry table of
// 1/c and log(c), a degree-3 polynomial in double), so the samplers that
// take logs give the CPU's bits. Checked against glibc 2.36's logf on a
// seventh of all positive floats with no difference; CUDA's logf and a
// correctly rounded log both differ from it now and then, and gumbel's
// -log(-log(u)) magnifies one such ulp into hundreds.
__constant__ double kLogfInvc[16] = {
    0x1.661ec79f8f3bep+0, 0x1.571ed4aaf883dp+0, 0x1.49539f0f010bp+0,  0x1.3c995b0b80385p+0,
    0x1.30d190c8864a5p+0, 0x1.25e227b0b8eap+0,  0x1.1bb4a4a1a343fp+0, 0x1.12358f08ae5bap+0,
    0x1.0953f419900a7p+0, 0x1p+0,               0x1.e608cfd9a47acp-1, 0x1.ca4b31f026aap-1,
    0x1.b2036576afce6p-1, 0x1.9c2d163a1aa2dp-1, 0x1.886e6037841edp-1, 0x1.767dcf5534862p-1};
__constant__ double kLogfLogc[16] = {
    -0x1.57bf7808caadep-2, -0x1.2bef0a7c06ddbp-2, -0x1.01eae7f513a67p-2, -0x1.b31d8a68224e9p-3,
    -0x1.6574f0ac07758p-3, -0x1.1aa2bc79c81p-3,   -0x1.a4e76ce8c0e5ep-4, -0x1.1973c5a611cccp-4,
    -0x1.252f438e10c1ep-5, 0x0p+0,                0x1.aa5aa5df25984p-5,  0x1.c5e53aa362eb4p-4,
    0x1.526e57720db08p-3,  0x1.bc2860d22477p-3,   0x1.1058bc8a07ee1p-2,  0x1.4043057b6ee09p-2};

__device__ float logf_cr(float x) {
  const double ln2 = 0x1.62e42fefa39efp-1;
  const double a0 = -0x1.00ea348b88334p-2, a1 = 0x1.5575b0be00b6ap-2, a2 = -0x1.ffffef20a4123p-2;
  uint32_t ix = __float_as_uint(x);
  if (ix == 0x3f800000u) return 0.0f;
  if (ix - 0x00800000u >= 0x7f800000u - 0x00800000u) {
    if (ix * 2 == 0) return -INFINITY;
    if (ix == 0x7f800000u) return x;
    if (ix * 2 > 0xff000000u) return x;                                // NaN
    if (ix & 0x80000000u) return __uint_as_float(0xffc00000u);  // x86's 0/0
    ix = __float_as_uint(x * 0x1p23f);  // subnormal: normalize
    ix -= 23u << 23;
  }
  uint32_t tmp = ix - 0x3f330000u;
  int i = (int)((tmp >> 19) % 16);
  int k = (int32_t)tmp >> 23;
  uint32_t iz = ix - (tmp & (0x1ffu << 23));
  double z = (double)__uint_as_float(iz);
  double r = fma(z, kLogfInvc[i], -1.0);
  double y0 = fma((double)k, ln2, kLogfLogc[i]);
  double r2 = __dmul_rn(r, r);
  double y = fma(a1, r, a2);
  y = fma(a0, r2, y);
  y = fma(y, r2, __dadd_rn(y0, r));
  return (float)y;
}

// MLX's erfinv (Giles' single-precision polynomial) with its fmaf calls.

__device__ float erfinv_impl(float a) {
  float t = fmaf(a, 0.0f - a, 1.0f);
  t = logf_cr(t);
  float p;
  if (fabsf(t) > 6.125f) {
    p = 3.03697567e-10f;
    p = fmaf(p, t, 2.93243101e-8f);
    p = fmaf(p, t, 1.22150334e-6f);
    p = fmaf(p, t, 2.84108955e-5f);
    p = fmaf(p, t, 3.93552968e-4f);
    p = fmaf(p, t, 3.02698812e-3f);
    p = fmaf(p, t, 4.83185798e-3f);
    p = fmaf(p, t, -2.64646143e-1f);
    p = fmaf(p, t, 8.40016484e-1f);
  } else {
    p = 5.43877832e-9f;
    p = fmaf(p, t, 1.43285448e-7f);
    p = fmaf(p, t, 1.22774793e-6f);
    p = fmaf(p, t, 1.12963626e-7f);
    p = fmaf(p, t, -5.61530760e-5f);
    p = fmaf(p, t, -1.47697632e-4f);
    p = fmaf(p, t, 2.31468678e-3f);
    p = fmaf(p, t, 1.15392581e-2f);
    p = fmaf(p, t, -2.32015476e-1f);
    p = fmaf(p, t, 8.86226892e-1f);
  }
  return __fmul_rn(a, p);
}

__device__ __forceinline__ void store_real(void *out, int64_t j, float x, int d) {
  if (d == MX_FLOAT16) ((uint16_t *)out)[j] = f32_to_f16(x);
  else if (d == MX_BFLOAT16) ((uint16_t *)out)[j] = f32_to_bf16(x);
  else ((float *)out)[j] = x;
}

__device__ __forceinline__ void store_int(void *out, int d, int64_t j, int64_t v) {
  switch (d) {
    case MX_BOOL: ((uint8_t *)out)[j] = v != 0; break;
    case MX_UINT8:
    case MX_INT8: ((uint8_t *)out)[j] = (uint8_t)v; break;
    case MX_UINT16:
    case MX_INT16: ((uint16_t *)out)[j] = (uint16_t)v; break;
    case MX_UINT32:
    case MX_INT32: ((uint32_t *)out)[j] = (uint32_t)v; break;
    default: ((uint64_t *)out)[j] = (uint64_t)v; break;
  }
}

__device__ __forceinline__ int64_t wrap_to(uint64_t v, int d) {
  switch (d) {
    case MX_BOOL: return v != 0;
    case MX_UINT8: return (uint8_t)v;
    case MX_UINT16: return (uint16_t)v;
    case MX_UINT32: return (uint32_t)v;
    case MX_INT8: return (int8_t)v;
    case MX_INT16: return (int16_t)v;
    case MX_INT32: return (int32_t)v;
    default: return (int64_t)v;
  }
}

struct RandArgs {
  cu_ix_rand r;
  int64_t nelem, nbytes, half, second;
};

// Word j of the stream goes to output element j (bytes 4j.. for bits).
// The sampler is a template argument so each kernel carries only its own.
template <int KIND>
__device__ __forceinline__ void map_word(const RandArgs &A, void *out, int64_t j, uint32_t w) {
  const cu_ix_rand &p = A.r;
  int d = p.dtype;
  switch (KIND) {
    case 0: {  // bits
      int64_t at = 4 * j;
      if (at + 4 <= A.nbytes) {
        ((uint32_t *)out)[j] = w;
      } else {
        for (int64_t b = 0; at + b < A.nbytes; b++) ((uint8_t *)out)[at + b] = (uint8_t)(w >> (8 * b));
      }
      return;
    }
    case 1: {  // uniform
      if (d == MX_FLOAT32) {
        ((float *)out)[j] = __fadd_rn(__fmul_rn(p.range, unit(w, p.upper)), p.lo);
        return;
      }
      float u = round_to(unit(w, p.upper), d);
      store_real(out, j, __fadd_rn(round_to(__fmul_rn(p.range, u), d), p.lo), d);
      return;
    }
    case 2: {  // normal
      float e = erfinv_impl(__fadd_rn(__fmul_rn(p.range, unit(w, p.upper)), p.lo));
      float s = round_to(__fmul_rn(p.scale, round_to(e, d)), d);
      if (p.has_loc) s = __fadd_rn(p.loc, s);
      store_real(out, j, s, d);
      return;
    }
    case 3: {  // truncated normal
      float u = round_to(
          __fadd_rn(round_to(__fmul_rn(p.range, round_to(unit(w, p.upper), d)), d), p.lo), d);
      float s = round_to(__fmul_rn(p.scale, round_to(erfinv_impl(u), d)), d);
      s = p.upper_t < s ? p.upper_t : s;
      s = s > p.lower_t ? s : p.lower_t;
      store_real(out, j, s, d);
      return;
    }
    case 4: {  // randint
      float f = floorf(__fadd_rn(__fmul_rn(p.range, unit(w, p.upper)), p.lo));
      bool uns = d == MX_UINT64;
      uint64_t bits;
      if (d == MX_BOOL) bits = f != 0;
      else if (uns && f >= 9223372036854775808.0f && f < 18446744073709551616.0f) bits = (uint64_t)f;
      else if (f > -9223372036854775808.0f && f < 9223372036854775808.0f) bits = (uint64_t)(int64_t)f;
      else bits = (uint64_t)INT64_MIN;
      int64_t v = wrap_to(bits, d);
      if (uns) {
        uint64_t u = (uint64_t)v, h = (uint64_t)p.ihigh1, l = (uint64_t)p.ilow;
        u = u < h ? u : h;
        u = u > l ? u : l;
        v = (int64_t)u;
      } else {
        v = v < p.ihigh1 ? v : p.ihigh1;
        v = v > p.ilow ? v : p.ilow;
      }
      store_int(out, d, j, v);
      return;
    }
    case 5:  // bernoulli
    {
      int64_t q = j, off = 0;
      for (int k = p.pndim - 1; k >= 0; k--) {
        off += (q % p.pshape[k]) * p.pstrides[k];
        q /= p.pshape[k];
      }
      ((uint8_t *)out)[j] = __uint2float_rn(w) < __fmul_rn(p.p[off], p.upper);
      return;
    }
    case 6: {  // gumbel
      float u = round_to(unit(w, p.upper), d);
      float l = round_to(logf_cr(u), d);
      store_real(out, j, -round_to(logf_cr(-l), d), d);
      return;
    }
  }
}

template <int KIND>
__global__ void random_kernel(RandArgs A, void *out, const uint32_t *key, int64_t kstride) {
  uint32_t k0 = key[0], k1 = key[kstride];
  int64_t nthreads = A.second;  // half hashes, plus the middle one when odd
  GRID_LOOP(t, nthreads) {
    uint32_t a, b;
    if (t < A.half) {
      threefry(k0, k1, (uint32_t)t, (uint32_t)(A.second + t), &a, &b);
      map_word<KIND>(A, out, t, a);
      map_word<KIND>(A, out, A.second + t, b);
    } else {
      threefry(k0, k1, (uint32_t)A.half, 0, &a, &b);
      map_word<KIND>(A, out, A.half, a);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------- launchers

#define MX_BY_SIZE(esz, MACRO)                   \
  switch (esz) {                                 \
    case 1: MACRO(uint8_t); break;               \
    case 2: MACRO(uint16_t); break;              \
    case 4: MACRO(uint32_t); break;              \
    case 8: MACRO(uint64_t); break;              \
    default: return (int)cudaErrorInvalidValue; \
  }

extern "C" int cu_ix_where(size_t esz, void *out, const void *c, const void *x, const void *y,
                           const cu_ix_layout *L, int64_t n, void *stream) {
  if (n == 0) return 0;
  int blocks;
  grid1d(n, &blocks);
  bool dn = all_dense(L, 3);
  cudaStream_t s = (cudaStream_t)stream;
#define LAUNCH_WHERE(T)                                                                    \
  where_kernel<T><<<blocks, 256, 0, s>>>((T *)out, (const uint8_t *)c, (const T *)x, (const T *)y, \
                                         *L, n, dn)
  int64_t inner = L->ndim ? L->shape[L->ndim - 1] : 1, rows = inner ? n / inner : 0;
  if (!dn && L->ndim >= 2 && inner >= 32 && rows < 0xffffffffLL) {
    int tx = 1;
    while (tx < inner && tx < 256) tx <<= 1;
    int ty = 256 / tx;
    int64_t bx = (inner + 4 * (int64_t)tx - 1) / (4 * (int64_t)tx), by = (rows + ty - 1) / ty;
    if (bx > 4096) bx = 4096;
    int64_t max_by = 2112 / bx;
    if (max_by < 1) max_by = 1;
    if (by > max_by) by = max_by;
    dim3 g((unsigned)bx, (unsigned)by), b((unsigned)tx, (unsigned)ty);
#define LAUNCH_WR(T)                                                                            \
  where_rows<T><<<g, b, 0, s>>>((T *)out, (const uint8_t *)c, (const T *)x, (const T *)y, *L, rows, \
                                inner)
    MX_BY_SIZE(esz, LAUNCH_WR)
#undef LAUNCH_WR
    return (int)cudaGetLastError();
  }
  MX_BY_SIZE(esz, LAUNCH_WHERE)
#undef LAUNCH_WHERE
  return (int)cudaGetLastError();
}

static bool is_int(mx_dtype t) {
  return t == MX_UINT8 || t == MX_UINT16 || t == MX_UINT32 || t == MX_UINT64 || t == MX_INT8 ||
         t == MX_INT16 || t == MX_INT32 || t == MX_INT64;
}
static bool is_flt3(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

extern "C" int cu_ix_unary_ok(int op, mx_dtype t) {
  switch (op) {
    case CUX_FLOOR:
    case CUX_CEIL:
    case CUX_ROUND:
    case CUX_SIGN: return t == MX_BOOL || is_int(t) || is_flt3(t);
    case CUX_LOGICAL_NOT: return t == MX_BOOL;
    case CUX_BITWISE_INVERT: return is_int(t);
    default: return is_flt3(t);
  }
}

extern "C" int cu_ix_binary_ok(int op, mx_dtype t) {
  switch (op) {
    case CUX_FLOOR_DIVIDE:
    case CUX_BITWISE_AND:
    case CUX_BITWISE_OR:
    case CUX_BITWISE_XOR: return t == MX_BOOL || is_int(t);
    case CUX_REMAINDER: return t == MX_BOOL || is_int(t) || is_flt3(t);
    case CUX_LOGADDEXP:
    case CUX_ARCTAN2: return is_flt3(t);
    case CUX_LOGICAL_AND:
    case CUX_LOGICAL_OR: return t == MX_BOOL;
    case CUX_LEFT_SHIFT:
    case CUX_RIGHT_SHIFT: return is_int(t);
  }
  return 0;
}

#define MX_BY_DTYPE(t, MACRO)                    \
  switch (t) {                                   \
    case MX_BOOL:                                \
    case MX_UINT8: MACRO(uint8_t); break;        \
    case MX_UINT16: MACRO(uint16_t); break;      \
    case MX_UINT32: MACRO(uint32_t); break;      \
    case MX_UINT64: MACRO(uint64_t); break;      \
    case MX_INT8: MACRO(int8_t); break;          \
    case MX_INT16: MACRO(int16_t); break;        \
    case MX_INT32: MACRO(int32_t); break;        \
    case MX_INT64: MACRO(int64_t); break;        \
    case MX_FLOAT32: MACRO(float); break;        \
    case MX_FLOAT16: MACRO(h16); break;          \
    case MX_BFLOAT16: MACRO(b16); break;         \
    default: return (int)cudaErrorInvalidValue;  \
  }

extern "C" int cu_ix_unary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a,
                           const cu_ix_layout *L, int64_t n, const double *vals, void *stream) {
  if (n == 0) return 0;
  if (!cu_ix_unary_ok(op, it)) return (int)cudaErrorInvalidValue;
  int blocks;
  grid1d(n, &blocks);
  bool dn = all_dense(L, 1);
  cudaStream_t s = (cudaStream_t)stream;
  double v0 = vals ? vals[0] : 0, v1 = vals ? vals[1] : 0, v2 = vals ? vals[2] : 0;
  bool pred = op == CUX_ISNAN || op == CUX_ISINF || op == CUX_ISFINITE || op == CUX_ISPOSINF ||
              op == CUX_ISNEGINF;
  if (pred != (ot == MX_BOOL && it != MX_BOOL)) return (int)cudaErrorInvalidValue;
  if (pred) {
#define LAUNCH_PRED(T) \
  unary_kernel<T, bool><<<blocks, 256, 0, s>>>(op, (bool *)out, (const T *)a, *L, n, dn, v0, v1, v2)
    MX_BY_DTYPE(it, LAUNCH_PRED)
#undef LAUNCH_PRED
  } else {
    if (ot != it) return (int)cudaErrorInvalidValue;
#define LAUNCH_UN(T) \
  unary_kernel<T, T><<<blocks, 256, 0, s>>>(op, (T *)out, (const T *)a, *L, n, dn, v0, v1, v2)
    MX_BY_DTYPE(it, LAUNCH_UN)
#undef LAUNCH_UN
  }
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_binary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a,
                            const void *b, const cu_ix_layout *L, int64_t n, void *stream) {
  if (n == 0) return 0;
  if (!cu_ix_binary_ok(op, it) || ot != it) return (int)cudaErrorInvalidValue;
  int blocks;
  grid1d(n, &blocks);
  bool dn = all_dense(L, 2);
  cudaStream_t s = (cudaStream_t)stream;
#define LAUNCH_BIN(T) \
  binary_kernel<T><<<blocks, 256, 0, s>>>(op, (T *)out, (const T *)a, (const T *)b, *L, n, dn)
  MX_BY_DTYPE(it, LAUNCH_BIN)
#undef LAUNCH_BIN
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_fill(size_t esz, void *out, const void *value, int64_t n, void *stream) {
  if (n == 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  const unsigned char *v = (const unsigned char *)value;
  bool bytewise = true;
  for (size_t i = 1; i < esz; i++)
    if (v[i] != v[0]) bytewise = false;
  if (bytewise) return (int)cudaMemsetAsync(out, v[0], (size_t)n * esz, s);
  int blocks;
  grid1d(n, &blocks);
#define LAUNCH_FILL(T)                                           \
  {                                                              \
    T x;                                                         \
    memcpy(&x, value, sizeof x);                                 \
    fill_kernel<T><<<blocks, 256, 0, s>>>((T *)out, x, n);       \
  }
  MX_BY_SIZE(esz, LAUNCH_FILL)
#undef LAUNCH_FILL
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_fill_dev(size_t esz, void *out, const void *dvalue, int64_t n,
                              void *stream) {
  if (n == 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  int blocks;
  grid1d(n, &blocks);
#define LAUNCH_FILLD(T) fill_dev_kernel<T><<<blocks, 256, 0, s>>>((T *)out, (const T *)dvalue, n)
  MX_BY_SIZE(esz, LAUNCH_FILLD)
#undef LAUNCH_FILLD
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_arange(mx_dtype t, void *out, int64_t n, uint64_t istart, uint64_t istep,
                            double start, double step, void *stream) {
  if (n == 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  int blocks;
  grid1d(n, &blocks);
  switch (t) {
    case MX_FLOAT32:
    case MX_FLOAT64:
    case MX_COMPLEX64:
    case MX_FLOAT16:
    case MX_BFLOAT16:
      arange_flt_kernel<<<blocks, 256, 0, s>>>(out, (int)t, start, step, n);
      return (int)cudaGetLastError();
    default: break;
  }
  size_t esz = t == MX_BOOL || t == MX_UINT8 || t == MX_INT8 ? 1
               : t == MX_UINT16 || t == MX_INT16            ? 2
               : t == MX_UINT32 || t == MX_INT32            ? 4
                                                            : 8;
#define LAUNCH_AR(T) arange_int_kernel<T><<<blocks, 256, 0, s>>>((T *)out, istart, istep, n)
  MX_BY_SIZE(esz, LAUNCH_AR)
#undef LAUNCH_AR
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_tri(int mode, size_t esz, void *out, int64_t rows, int64_t m,
                         int64_t rows_per_mat, int64_t k, const void *one, void *stream) {
  int64_t n = rows * m;
  if (n == 0) return 0;
  cudaStream_t s = (cudaStream_t)stream;
  int blocks;
  grid1d(n, &blocks);
#define LAUNCH_TRI(T)                                                                     \
  {                                                                                       \
    T o;                                                                                  \
    memcpy(&o, one, sizeof o);                                                            \
    tri_kernel<T><<<blocks, 256, 0, s>>>(mode, (T *)out, rows, m, rows_per_mat, k, o, n); \
  }
  MX_BY_SIZE(esz, LAUNCH_TRI)
#undef LAUNCH_TRI
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_random(const cu_ix_rand *r, void *out, int64_t nelem, size_t esz,
                            const uint32_t *key, int64_t kstride, void *stream) {
  if (nelem == 0) return 0;
  RandArgs A;
  memset(&A, 0, sizeof A);
  A.r = *r;
  A.nelem = nelem;
  A.nbytes = nelem * (int64_t)esz;
  int64_t nwords = r->kind == 0 ? (A.nbytes + 3) / 4 : nelem;
  A.half = nwords / 2;
  A.second = A.half + nwords % 2;
  int blocks;
  grid1d(A.second, &blocks);
  cudaStream_t s = (cudaStream_t)stream;
  switch (r->kind) {
    case 0: random_kernel<0><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 1: random_kernel<1><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 2: random_kernel<2><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 3: random_kernel<3><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 4: random_kernel<4><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 5: random_kernel<5><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    case 6: random_kernel<6><<<blocks, 256, 0, s>>>(A, out, key, kstride); break;
    default: return (int)cudaErrorInvalidValue;
  }
  return (int)cudaGetLastError();
}

extern "C" int cu_ix_linspace(mx_dtype t, void *out, int64_t n, double start, double stop,
                              void *stream) {
  if (n == 0) return 0;
  if (t != MX_FLOAT32 && t != MX_FLOAT64 && t != MX_FLOAT16 && t != MX_BFLOAT16)
    return (int)cudaErrorInvalidValue;
  int blocks;
  grid1d(n, &blocks);
  linspace_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>(out, (int)t, start, stop, n);
  return (int)cudaGetLastError();
}
