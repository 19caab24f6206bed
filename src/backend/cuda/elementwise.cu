// elementwise.cu — strided, broadcasting elementwise kernels: binary and
// unary arithmetic and dtype-converting copies. Half types compute in
// float (as the CPU backend does); one thread per output element, grid-
// stride loops; a linear fast path when every operand is dense row-major.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "cuda_kernels.h"

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

// Compute type: float for float-like types, the type itself for integers.
template <typename T> struct ct { typedef T type; };
template <> struct ct<__half> { typedef float type; };
template <> struct ct<__nv_bfloat16> { typedef float type; };

template <typename T> __device__ __forceinline__ typename ct<T>::type up(T v) {
  return (typename ct<T>::type)v;
}
template <> __device__ __forceinline__ float up<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float up<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <typename O, typename C> __device__ __forceinline__ O down(C v) { return (O)v; }
template <> __device__ __forceinline__ __half down<__half, float>(float v) {
  return __float2half_rn(v);
}
template <> __device__ __forceinline__ __nv_bfloat16 down<__nv_bfloat16, float>(float v) {
  return __float2bfloat16_rn(v);
}

struct Offsets {
  int64_t o[3];
};

__device__ __forceinline__ Offsets offsets_of(const cu_layout &L, int64_t i, int nops) {
  Offsets r;
  for (int k = 0; k < nops; k++) r.o[k] = L.offset[k];
  for (int d = L.ndim - 1; d >= 0; d--) {
    int64_t n = L.shape[d];
    int64_t c = i % n;
    i /= n;
    for (int k = 0; k < nops; k++) r.o[k] += c * L.strides[k][d];
  }
  return r;
}

template <typename C> __device__ __forceinline__ C bin(int op, C a, C b) {
  switch (op) {
    case CU_ADD: return a + b;
    case CU_SUB: return a - b;
    case CU_MUL: return a * b;
    case CU_DIV: return a / b;
    case CU_MAX: return a > b ? a : b;
    case CU_MIN: return a < b ? a : b;
    case CU_POW: return (C)pow((double)a, (double)b);
  }
  return a;
}
template <> __device__ __forceinline__ float bin<float>(int op, float a, float b) {
  switch (op) {
    case CU_ADD: return a + b;
    case CU_SUB: return a - b;
    case CU_MUL: return a * b;
    case CU_DIV: return a / b;
    // NaN propagates as in MLX's maximum / minimum.
    case CU_MAX: return (a != a) ? a : (a > b ? a : b);
    case CU_MIN: return (a != a) ? a : (a < b ? a : b);
    case CU_POW: return powf(a, b);
  }
  return a;
}
template <typename C> __device__ __forceinline__ bool cmp(int op, C a, C b) {
  switch (op) {
    case CU_EQ: return a == b;
    case CU_NE: return a != b;
    case CU_LT: return a < b;
    case CU_LE: return a <= b;
    case CU_GT: return a > b;
    case CU_GE: return a >= b;
  }
  return false;
}

template <typename T>
__global__ void binary_kernel(int op, T *out, const T *a, const T *b, cu_layout L, int64_t n,
                              bool dense) {
  typedef typename ct<T>::type C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia = i, ib = i;
    if (!dense) {
      Offsets r = offsets_of(L, i, 3);
      ia = r.o[1];
      ib = r.o[2];
    } else {
      ia += L.offset[1];
      ib += L.offset[2];
    }
    out[i] = down<T, C>(bin<C>(op, up(a[ia]), up(b[ib])));
  }
}

template <typename T>
__global__ void compare_kernel(int op, bool *out, const T *a, const T *b, cu_layout L, int64_t n,
                               bool dense) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia = i + L.offset[1], ib = i + L.offset[2];
    if (!dense) {
      Offsets r = offsets_of(L, i, 3);
      ia = r.o[1];
      ib = r.o[2];
    }
    out[i] = cmp(op, up(a[ia]), up(b[ib]));
  }
}

// Transcendentals in double, rounded once to float: within an ulp of the
// correctly rounded result, like the CPU backend's libm (CUDA's float
// versions are off by up to 2 ulp). Elementwise ops are memory-bound, so
// the double arithmetic costs no time that matters.
__device__ __forceinline__ float un(int op, float xf) {
  double x = xf;
  switch (op) {
    case CU_NEG: return -xf;
    case CU_ABS: return fabsf(xf);
    case CU_EXP: return (float)exp(x);
    case CU_LOG: return (float)log(x);
    case CU_SQRT: return sqrtf(xf);
    case CU_RSQRT: return (float)(1.0 / sqrt(x));
    case CU_SQUARE: return xf * xf;
    case CU_SIGMOID: {
      // exp(-|x|) never overflows; both tails keep full relative precision
      // (the CPU backend's formula).
      double e = exp(-fabs(x));
      return (float)(x < 0 ? e / (1.0 + e) : 1.0 / (1.0 + e));
    }
    case CU_TANH: return (float)tanh(x);
    case CU_SIN: return (float)sin(x);
    case CU_COS: return (float)cos(x);
    case CU_RECIP: return 1.0f / xf;
    case CU_ERF: return (float)erf(x);
    case CU_LOG1P: return (float)log1p(x);
    case CU_EXPM1: return (float)expm1(x);
  }
  return xf;
}

template <typename T>
__global__ void unary_kernel(int op, T *out, const T *a, cu_layout L, int64_t n, bool dense) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia = dense ? i + L.offset[1] : offsets_of(L, i, 2).o[1];
    out[i] = from_f<T>(un(op, to_f(a[ia])));
  }
}

template <typename I, typename O>
__global__ void copy_kernel(O *out, const I *a, cu_layout L, int64_t n, bool dense) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t ia = dense ? i + L.offset[1] : offsets_of(L, i, 2).o[1];
    out[i] = down<O, typename ct<I>::type>(up(a[ia]));
  }
}

// A same-dtype copy whose source rows are contiguous moves 16-byte units:
// one offset computation (a div/mod per dimension) per unit instead of per
// element. A transposed activation (attention heads back to rows) copies
// ~6x faster this way.
__global__ void copy_units(uint4 *out, const uint4 *a, cu_layout L, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    out[i] = a[offsets_of(L, i, 2).o[1]];
}

// L in 16-byte units of es-byte elements, when the source's last dimension
// is contiguous, whole units long and every offset a whole unit (16-byte
// aligned pointers). The output is dense, as cu_copy's always is.
bool unit_layout(const cu_layout *L, size_t es, const void *out, const void *a, cu_layout *V) {
  const int last = L->ndim - 1;
  const int64_t v = 16 / (int64_t)es;
  if (last < 0 || es > 16 || 16 % es || L->strides[1][last] != 1 || L->shape[last] % v)
    return false;
  if ((((uintptr_t)out | (uintptr_t)a) & 15) || L->offset[1] % v) return false;
  *V = *L;
  for (int d = 0; d < last; d++) {
    if (L->shape[d] == 1) {
      V->strides[1][d] = 0;
      continue;
    }
    if (L->strides[1][d] % v) return false;
    V->strides[1][d] = L->strides[1][d] / v;
  }
  V->shape[last] = L->shape[last] / v;
  V->strides[1][last] = 1;
  V->offset[1] = L->offset[1] / v;
  return true;
}

bool is_dense(const cu_layout *L, int nops) {
  for (int k = 1; k < nops; k++) {
    int64_t want = 1;
    for (int d = L->ndim - 1; d >= 0; d--) {
      if (L->shape[d] != 1 && L->strides[k][d] != want) return false;
      want *= L->shape[d];
    }
  }
  return true;
}

void grid(int64_t n, int *blocks, int *threads) {
  *threads = 256;
  int64_t b = (n + 255) / 256;
  *blocks = (int)(b > 65535 * 8 ? 65535 * 8 : (b < 1 ? 1 : b));
}

}  // namespace

#define CU_FOR_DTYPE(t, MACRO)                       \
  switch (t) {                                       \
    case MX_FLOAT32: MACRO(float); break;            \
    case MX_FLOAT16: MACRO(__half); break;           \
    case MX_BFLOAT16: MACRO(__nv_bfloat16); break;   \
    case MX_INT32: MACRO(int32_t); break;            \
    case MX_INT64: MACRO(int64_t); break;            \
    case MX_UINT32: MACRO(uint32_t); break;          \
    case MX_UINT8: MACRO(uint8_t); break;            \
    case MX_INT8: MACRO(int8_t); break;              \
    default: return (int)cudaErrorInvalidValue;      \
  }

extern "C" int cu_elementwise_dtype_ok(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16 || t == MX_INT32 ||
         t == MX_INT64 || t == MX_UINT32 || t == MX_UINT8 || t == MX_INT8;
}

extern "C" int cu_binary(int op, mx_dtype it, mx_dtype ot, void *out, const void *a,
                         const void *b, const cu_layout *L, int64_t n, void *stream) {
  if (n == 0) return 0;
  int blocks, threads;
  grid(n, &blocks, &threads);
  bool dense = is_dense(L, 3);
  cudaStream_t s = (cudaStream_t)stream;
  if (op >= CU_EQ) {
    if (ot != MX_BOOL) return (int)cudaErrorInvalidValue;
#define LAUNCH_CMP(T) \
  compare_kernel<T><<<blocks, threads, 0, s>>>(op, (bool *)out, (const T *)a, (const T *)b, *L, n, dense)
    CU_FOR_DTYPE(it, LAUNCH_CMP)
#undef LAUNCH_CMP
  } else {
    if (ot != it) return (int)cudaErrorInvalidValue;
#define LAUNCH_BIN(T) \
  binary_kernel<T><<<blocks, threads, 0, s>>>(op, (T *)out, (const T *)a, (const T *)b, *L, n, dense)
    CU_FOR_DTYPE(it, LAUNCH_BIN)
#undef LAUNCH_BIN
  }
  return (int)cudaGetLastError();
}

extern "C" int cu_unary(int op, mx_dtype t, void *out, const void *a, const cu_layout *L,
                        int64_t n, void *stream) {
  if (n == 0) return 0;
  if (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) return (int)cudaErrorInvalidValue;
  int blocks, threads;
  grid(n, &blocks, &threads);
  bool dense = is_dense(L, 2);
  cudaStream_t s = (cudaStream_t)stream;
#define LAUNCH_UN(T) \
  unary_kernel<T><<<blocks, threads, 0, s>>>(op, (T *)out, (const T *)a, *L, n, dense)
  switch (t) {
    case MX_FLOAT32: LAUNCH_UN(float); break;
    case MX_FLOAT16: LAUNCH_UN(__half); break;
    default: LAUNCH_UN(__nv_bfloat16); break;
  }
#undef LAUNCH_UN
  return (int)cudaGetLastError();
}

template <typename I>
static int copy_from(mx_dtype ot, void *out, const I *a, const cu_layout *L, int64_t n, int blocks,
                     int threads, bool dense, cudaStream_t s) {
#define LAUNCH_CP(O) copy_kernel<I, O><<<blocks, threads, 0, s>>>((O *)out, a, *L, n, dense)
  CU_FOR_DTYPE(ot, LAUNCH_CP)
#undef LAUNCH_CP
  return (int)cudaGetLastError();
}

extern "C" int cu_copy(mx_dtype it, mx_dtype ot, void *out, const void *a, const cu_layout *L,
                       int64_t n, void *stream) {
  if (n == 0) return 0;
  int blocks, threads;
  grid(n, &blocks, &threads);
  bool dense = is_dense(L, 2);
  cudaStream_t s = (cudaStream_t)stream;
  cu_layout V;
  if (it == ot && !dense && unit_layout(L, mx_dtype_size(it), out, a, &V)) {
    const int64_t units = n / (16 / (int64_t)mx_dtype_size(it));
    grid(units, &blocks, &threads);
    copy_units<<<blocks, threads, 0, s>>>((uint4 *)out, (const uint4 *)a, V, units);
    return (int)cudaGetLastError();
  }
#define FROM(I) return copy_from<I>(ot, out, (const I *)a, L, n, blocks, threads, dense, s)
  CU_FOR_DTYPE(it, FROM)
#undef FROM
  return 0;
}
