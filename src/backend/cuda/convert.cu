// convert.cu — dtype conversion (astype) on the GPU for the pairs the
// elementwise copy lacks (bool, int16, uint16, uint64, float64, complex64 on
// either side). Each element goes through the same case analysis as the
// CPU's convert_run (src/backend/cpu/convert.c) and the same bit-level
// half conversions (src/core/half.h), so both devices give identical bits;
// keep the three in sync. The dtype switch is uniform across a launch, so
// it costs no divergence; these conversions are rare next to f32 <-> half.
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "../../core/half.h"
#include "cuda_convert.h"

namespace {

struct CvDesc {
  int ndim;
  bool dense;
  int64_t shape[MX_MAX_NDIM];
  int64_t strides[MX_MAX_NDIM];
};





// Float to integer as C's cast, defined for NaN and out-of-range values
// (INT64_MIN, as x86's cvttsd2si gives).
__device__ __forceinline__ int64_t f64_to_i64(double v) {
  if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
  return (int64_t)v;
}
__device__ __forceinline__ uint64_t f64_to_u64(double v) {
  if (v >= 0 && v < 18446744073709551616.0) return (uint64_t)v;
  return (uint64_t)f64_to_i64(v);
}

__device__ __forceinline__ bool int_like(int t) {
  return t == MX_BOOL || t == MX_UINT8 || t == MX_UINT16 || t == MX_UINT32 || t == MX_UINT64 ||
         t == MX_INT8 || t == MX_INT16 || t == MX_INT32 || t == MX_INT64;
}

__device__ double load_f64(const void *b, int t, int64_t i) {
  switch (t) {
    case MX_BOOL: return ((const uint8_t *)b)[i] != 0;
    case MX_UINT8: return ((const uint8_t *)b)[i];
    case MX_UINT16: return ((const uint16_t *)b)[i];
    case MX_UINT32: return ((const uint32_t *)b)[i];
    case MX_UINT64: return (double)((const uint64_t *)b)[i];
    case MX_INT8: return ((const int8_t *)b)[i];
    case MX_INT16: return ((const int16_t *)b)[i];
    case MX_INT32: return ((const int32_t *)b)[i];
    case MX_INT64: return (double)((const int64_t *)b)[i];
    case MX_FLOAT16: return f16_to_f32(((const uint16_t *)b)[i]);
    case MX_FLOAT32: return ((const float *)b)[i];
    case MX_FLOAT64: return ((const double *)b)[i];
    case MX_BFLOAT16: return bf16_to_f32(((const uint16_t *)b)[i]);
    case MX_COMPLEX64: return ((const float2 *)b)[i].x;
    default: return 0;
  }
}

__device__ int64_t load_i64(const void *b, int t, int64_t i) {
  switch (t) {
    case MX_BOOL: return ((const uint8_t *)b)[i] != 0;
    case MX_UINT8: return ((const uint8_t *)b)[i];
    case MX_UINT16: return ((const uint16_t *)b)[i];
    case MX_UINT32: return ((const uint32_t *)b)[i];
    case MX_UINT64: return (int64_t)((const uint64_t *)b)[i];
    case MX_INT8: return ((const int8_t *)b)[i];
    case MX_INT16: return ((const int16_t *)b)[i];
    case MX_INT32: return ((const int32_t *)b)[i];
    case MX_INT64: return ((const int64_t *)b)[i];
    default: return f64_to_i64(load_f64(b, t, i));
  }
}

__device__ void store_f64(void *b, int t, int64_t i, double v) {
  switch (t) {
    case MX_BOOL: ((uint8_t *)b)[i] = v != 0; break;
    case MX_UINT8: ((uint8_t *)b)[i] = (uint8_t)f64_to_u64(v); break;
    case MX_UINT16: ((uint16_t *)b)[i] = (uint16_t)f64_to_u64(v); break;
    case MX_UINT32: ((uint32_t *)b)[i] = (uint32_t)f64_to_u64(v); break;
    case MX_UINT64: ((uint64_t *)b)[i] = f64_to_u64(v); break;
    case MX_INT8: ((int8_t *)b)[i] = (int8_t)f64_to_i64(v); break;
    case MX_INT16: ((int16_t *)b)[i] = (int16_t)f64_to_i64(v); break;
    case MX_INT32: ((int32_t *)b)[i] = (int32_t)f64_to_i64(v); break;
    case MX_INT64: ((int64_t *)b)[i] = f64_to_i64(v); break;
    case MX_FLOAT16: ((uint16_t *)b)[i] = f32_to_f16((float)v); break;
    case MX_FLOAT32: ((float *)b)[i] = (float)v; break;
    case MX_FLOAT64: ((double *)b)[i] = v; break;
    case MX_BFLOAT16: ((uint16_t *)b)[i] = f32_to_bf16((float)v); break;
    case MX_COMPLEX64: ((float2 *)b)[i] = make_float2((float)v, 0.0f); break;
    default: break;
  }
}

__device__ void store_i64(void *b, int t, int64_t i, int64_t v) {
  switch (t) {
    case MX_BOOL: ((uint8_t *)b)[i] = v != 0; break;
    case MX_UINT8: ((uint8_t *)b)[i] = (uint8_t)v; break;
    case MX_UINT16: ((uint16_t *)b)[i] = (uint16_t)v; break;
    case MX_UINT32: ((uint32_t *)b)[i] = (uint32_t)v; break;
    case MX_UINT64: ((uint64_t *)b)[i] = (uint64_t)v; break;
    case MX_INT8: ((int8_t *)b)[i] = (int8_t)v; break;
    case MX_INT16: ((int16_t *)b)[i] = (int16_t)v; break;
    case MX_INT32: ((int32_t *)b)[i] = (int32_t)v; break;
    case MX_INT64: ((int64_t *)b)[i] = v; break;
    default: store_f64(b, t, i, (double)v); break;
  }
}

// One element, the cases in convert_run's order.
__device__ void convert_one(const void *src, int st, int64_t si, void *dst, int dt, int64_t di) {
  if (dt == MX_COMPLEX64) {
    ((float2 *)dst)[di] = make_float2((float)load_f64(src, st, si), 0.0f);
  } else if (dt == MX_BOOL && st == MX_COMPLEX64) {
    float2 v = ((const float2 *)src)[si];
    ((uint8_t *)dst)[di] = v.x != 0 || v.y != 0;
  } else if (int_like(st) && int_like(dt)) {
    store_i64(dst, dt, di, load_i64(src, st, si));
  } else if (st == MX_UINT64 || st == MX_INT64) {  // to float: round once from the integer
    int64_t v = load_i64(src, st, si);
    if (dt == MX_FLOAT32 || dt == MX_FLOAT16 || dt == MX_BFLOAT16) {
      float ff = st == MX_UINT64 ? (float)(uint64_t)v : (float)v;
      store_f64(dst, dt, di, ff);
    } else {
      store_f64(dst, dt, di, st == MX_UINT64 ? (double)(uint64_t)v : (double)v);
    }
  } else if (st == MX_FLOAT64 && dt == MX_FLOAT16) {  // avoid double rounding via f32
    double v = ((const double *)src)[si];
    float f = (float)v;
    uint32_t fb = __float_as_uint(f);
    if ((double)f != v && (fb & 0x1fffu) == 0x1000u)
      f = __uint_as_float(fb + (((double)f < v) == (f > 0) ? 1u : 0xffffffffu));
    ((uint16_t *)dst)[di] = f32_to_f16(f);
  } else {
    store_f64(dst, dt, di, load_f64(src, st, si));
  }
}

__global__ void convert_kernel(int st, int dt, void *out, const void *src, CvDesc d, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t si = 0;
    if (d.dense) {
      si = i;
    } else {
      int64_t r = i;
      for (int k = d.ndim - 1; k >= 0; k--) {
        int64_t c = r % d.shape[k];
        r /= d.shape[k];
        si += c * d.strides[k];
      }
    }
    convert_one(src, st, si, out, dt, i);
  }
}

}  // namespace

extern "C" int cu_convert(mx_dtype it, mx_dtype ot, void *out, const void *src,
                          const int64_t *shape, const int64_t *strides, int ndim, void *stream) {
  if (ndim < 0 || ndim > MX_MAX_NDIM) return (int)cudaErrorInvalidValue;
  CvDesc d;
  memset(&d, 0, sizeof d);
  int64_t n = 1, expect = 1;
  d.dense = true;
  // Size-1 dims are dropped: their stride never matters.
  for (int k = ndim - 1; k >= 0; k--) {
    n *= shape[k];
    if (shape[k] == 1) continue;
    if (strides[k] != expect) d.dense = false;
    expect *= shape[k];
  }
  if (n == 0) return 0;
  for (int k = 0; k < ndim; k++) {
    if (shape[k] == 1) continue;
    d.shape[d.ndim] = shape[k];
    d.strides[d.ndim] = strides[k];
    d.ndim++;
  }
  int threads = 256;
  int64_t want = (n + threads - 1) / threads;
  int blocks = (int)(want < 65536 ? want : 65536);
  convert_kernel<<<blocks, threads, 0, (cudaStream_t)stream>>>((int)it, (int)ot, out, src, d, n);
  return (int)cudaGetLastError();
}
