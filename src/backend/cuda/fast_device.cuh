// fast_device.cuh — device helpers shared by fast.cu (norms, rope, silu_mul,
// the fused decode-step ops) and sdpa.cu (attention): the half types,
// f32 conversions and rounding, runtime-typed scalar access, 8-element
// 16-byte loads / stores, the SM count and the programmatic-dependent-
// launch trigger. Each including .cu file gets its own copy (anonymous
// namespace), as when they lived in one file.
#ifndef MLXC_CUDA_FAST_DEVICE_CUH
#define MLXC_CUDA_FAST_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <type_traits>
#include <math.h>
#include <stdint.h>

#include "mlxc/dtype.h"

namespace {

typedef __half h16;
typedef __nv_bfloat16 b16;

// ------------------------------------------------------------ conversions

template <typename T> __device__ __forceinline__ float tof(T v);
template <> __device__ __forceinline__ float tof<float>(float v) { return v; }
template <> __device__ __forceinline__ float tof<h16>(h16 v) { return __half2float(v); }
template <> __device__ __forceinline__ float tof<b16>(b16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T fromf(float v);
template <> __device__ __forceinline__ float fromf<float>(float v) { return v; }
template <> __device__ __forceinline__ h16 fromf<h16>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ b16 fromf<b16>(float v) { return __float2bfloat16_rn(v); }

// v rounded to T and back (identity for float).
template <typename T> __device__ __forceinline__ float rnd(float v) { return tof<T>(fromf<T>(v)); }

// Runtime-typed scalar access (operands read once: q rows, masks, sinks).
__device__ __forceinline__ float ld_any(const void *p, int64_t i, int t) {
  switch (t) {
    case MX_FLOAT16: return __half2float(((const h16 *)p)[i]);
    case MX_BFLOAT16: return __bfloat162float(((const b16 *)p)[i]);
    case MX_BOOL: return ((const uint8_t *)p)[i] ? 1.0f : 0.0f;
    default: return ((const float *)p)[i];
  }
}
__device__ __forceinline__ void st_any(void *p, int64_t i, int t, float v) {
  switch (t) {
    case MX_FLOAT16: ((h16 *)p)[i] = __float2half_rn(v); break;
    case MX_BFLOAT16: ((b16 *)p)[i] = __float2bfloat16_rn(v); break;
    default: ((float *)p)[i] = v; break;
  }
}

// 8 consecutive elements (16-byte aligned for halves, 16-byte aligned
// float4 pairs for f32) to / from f32.
__device__ __forceinline__ void load8(const h16 *p, float *f) {
  uint4 u = *(const uint4 *)p;
  const __half2 *h = (const __half2 *)&u;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    float2 t = __half22float2(h[k]);
    f[2 * k] = t.x;
    f[2 * k + 1] = t.y;
  }
}
__device__ __forceinline__ void load8(const b16 *p, float *f) {
  uint4 u = *(const uint4 *)p;
  const __nv_bfloat162 *h = (const __nv_bfloat162 *)&u;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    float2 t = __bfloat1622float2(h[k]);
    f[2 * k] = t.x;
    f[2 * k + 1] = t.y;
  }
}
__device__ __forceinline__ void load8(const float *p, float *f) {
  float4 a = ((const float4 *)p)[0], b = ((const float4 *)p)[1];
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w;
  f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
__device__ __forceinline__ void store8(h16 *p, const float *f) {
  uint4 u;
  __half2 *h = (__half2 *)&u;
#pragma unroll
  for (int k = 0; k < 4; k++) h[k] = __floats2half2_rn(f[2 * k], f[2 * k + 1]);
  *(uint4 *)p = u;
}
__device__ __forceinline__ void store8(b16 *p, const float *f) {
  uint4 u;
  __nv_bfloat162 *h = (__nv_bfloat162 *)&u;
#pragma unroll
  for (int k = 0; k < 4; k++) h[k] = __floats2bfloat162_rn(f[2 * k], f[2 * k + 1]);
  *(uint4 *)p = u;
}
__device__ __forceinline__ void store8(float *p, const float *f) {
  ((float4 *)p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  ((float4 *)p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}

inline int sm_count() {
  static int n = 0;
  if (!n) {
    int dev = 0;
    cudaGetDevice(&dev);
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0) {
      cudaGetLastError();
      n = 132;
    }
  }
  return n;
}

// Lets the kernel launched after this one (a GEMV launched with the
// programmatic-dependent-launch attribute) start its prologue (weight
// prefetch) now; it still waits (griddepcontrol.wait) for this grid's
// completion and memory before reading what this grid writes.
__device__ __forceinline__ void pdl_trigger() {
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

}  // namespace

#endif
