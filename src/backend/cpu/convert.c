/* convert.c — dtype conversion and strided copies (astype, contiguous,
 * reading data out). f32<->f16/bf16 and same-type copies take fast paths. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "elementwise_simd.h"

double load_f64(const void *b, mx_dtype t, int64_t i) {
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
  case MX_COMPLEX64: return crealf(((const c64_t *)b)[i]);
  default: return 0;
  }
}

/* Float to integer as C's cast, but defined for NaN and out-of-range
 * values (which give INT64_MIN, as x86's cvttsd2si does). */
static int64_t f64_to_i64(double v) {
  if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
  return (int64_t)v;
}
static uint64_t f64_to_u64(double v) {
  if (v >= 0 && v < 18446744073709551616.0) return (uint64_t)v;
  return (uint64_t)f64_to_i64(v);
}

int64_t load_i64(const void *b, mx_dtype t, int64_t i) {
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
  case MX_FLOAT16:
  case MX_FLOAT32:
  case MX_FLOAT64:
  case MX_BFLOAT16:
  case MX_COMPLEX64: return f64_to_i64(load_f64(b, t, i));
  default: return 0;
  }
}

void store_f64(void *b, mx_dtype t, int64_t i, double v) {
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
  case MX_COMPLEX64: ((c64_t *)b)[i] = (float)v; break;
  default: break;
  }
}

void store_i64(void *b, mx_dtype t, int64_t i, int64_t v) {
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

/* ---- fast runs ---- */

__attribute__((target("avx512f"))) static void f16_to_f32_avx512(const uint16_t *s, float *d,
                                                                  int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(d + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
  for (; i < n; i++) d[i] = f16_to_f32(s[i]);
}
__attribute__((target("avx512f"))) static void f32_to_f16_avx512(const float *s, uint16_t *d,
                                                                  int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i *)(d + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) d[i] = f32_to_f16(s[i]);
}
__attribute__((target("avx512f"))) static void bf16_to_f32_avx512(const uint16_t *s, float *d,
                                                                   int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + i)));
    _mm512_storeu_si512((void *)(d + i), _mm512_slli_epi32(v, 16));
  }
  for (; i < n; i++) d[i] = bf16_to_f32(s[i]);
}

/* Dense runs between f32 and the half types take SIMD paths: AVX-512 here,
 * AVX2/F16C from elementwise_simd.c on machines without AVX-512. */
static bool fast_run(const void *src, mx_dtype st, void *dst, mx_dtype dt, int64_t n) {
  const cpu_features *cf = cpu_get_features();
  if (st == dt) {
    memcpy(dst, src, (size_t)n * mx_dtype_size(st));
    return true;
  }
  if (dt == MX_FLOAT32 && (st == MX_FLOAT16 || st == MX_BFLOAT16)) {
    if (cf->avx512f) {
      if (st == MX_FLOAT16) f16_to_f32_avx512(src, dst, n);
      else bf16_to_f32_avx512(src, dst, n);
      return true;
    }
    if (ew_simd_half_to_f32(src, st, dst, n)) return true;
    const uint16_t *s = src;
    float *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = st == MX_FLOAT16 ? f16_to_f32(s[i]) : bf16_to_f32(s[i]);
    return true;
  }
  if (st == MX_FLOAT32 && (dt == MX_FLOAT16 || dt == MX_BFLOAT16)) {
    /* f32 -> bf16 never uses AVX512-BF16's VCVTNEPS2BF16: it flushes
     * subnormal results to zero, so the same graph would give other bits
     * on CPUs that have it (and differ from the GPU and from MLX, which
     * keep subnormals). ew_simd_f32_to_half rounds with integer ops on
     * every CPU, exactly as f32_to_bf16 does. */
    if (dt == MX_FLOAT16 && cf->avx512f) f32_to_f16_avx512(src, dst, n);
    else if (!ew_simd_f32_to_half(src, dst, dt, n)) {
      const float *s = src;
      uint16_t *d = dst;
      for (int64_t i = 0; i < n; i++) d[i] = dt == MX_FLOAT16 ? f32_to_f16(s[i]) : f32_to_bf16(s[i]);
    }
    return true;
  }
  return false;
}

static bool is_int_like(mx_dtype t) { return t == MX_BOOL || mx_dtype_is_integer(t); }

void convert_run(const void *src, int64_t sstride, mx_dtype st, void *dst, mx_dtype dt,
                 int64_t n) {
  if (sstride == 1 && fast_run(src, st, dst, dt, n)) return;
  size_t ss = mx_dtype_size(st);
  if (st == dt) {
    const char *s = src;
    char *d = dst;
    for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * ss, s + (size_t)(i * sstride) * ss, ss);
    return;
  }
  if (dt == MX_COMPLEX64) {
    c64_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = (float)load_f64(src, st, i * sstride);
    return;
  }
  if (dt == MX_BOOL && st == MX_COMPLEX64) {
    const c64_t *s = src;
    for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = s[i * sstride] != 0;
    return;
  }
  if (is_int_like(st) && is_int_like(dt)) {
    for (int64_t i = 0; i < n; i++) store_i64(dst, dt, i, load_i64(src, st, i * sstride));
    return;
  }
  if (st == MX_UINT64 || st == MX_INT64) { /* to float: round once from the integer */
    for (int64_t i = 0; i < n; i++) {
      int64_t v = load_i64(src, st, i * sstride);
      double f = st == MX_UINT64 ? (double)(uint64_t)v : (double)v;
      if (dt == MX_FLOAT32 || dt == MX_FLOAT16 || dt == MX_BFLOAT16) {
        float ff = st == MX_UINT64 ? (float)(uint64_t)v : (float)v;
        store_f64(dst, dt, i, ff);
      } else {
        store_f64(dst, dt, i, f);
      }
    }
    return;
  }
  if (st == MX_FLOAT64 && dt == MX_FLOAT16) { /* avoid double rounding via f32 */
    for (int64_t i = 0; i < n; i++) {
      double v = ((const double *)src)[i * sstride];
      float f = (float)v;
      /* Correct a tie created by the first rounding. */
      if ((double)f != v && (f32_bits(f) & 0x1fffu) == 0x1000u)
        f = f32_from_bits(f32_bits(f) + (((double)f < v) == (f > 0) ? 1u : (uint32_t)-1));
      ((uint16_t *)dst)[i] = f32_to_f16(f);
    }
    return;
  }
  for (int64_t i = 0; i < n; i++) store_f64(dst, dt, i, load_f64(src, st, i * sstride));
}

/* ---- N-d iteration ---- */

void nd_iter_init(nd_iter *it, const int64_t *shape, int ndim, const int64_t *const *strides,
                  int nops) {
  int64_t sh[MX_MAX_NDIM], st[ND_MAX_OPS][MX_MAX_NDIM];
  int n = 0;
  it->nops = nops;
  /* Drop size-1 dims, then merge dim i into i+1 when contiguous for all. */
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 1) continue;
    sh[n] = shape[d];
    for (int k = 0; k < nops; k++) st[k][n] = strides[k][d];
    n++;
  }
  int m = 0;
  for (int d = 0; d < n; d++) {
    if (m > 0) {
      bool merge = true;
      for (int k = 0; k < nops; k++)
        if (st[k][m - 1] != st[k][d] * sh[d]) merge = false;
      if (merge) {
        sh[m - 1] *= sh[d];
        for (int k = 0; k < nops; k++) st[k][m - 1] = st[k][d];
        continue;
      }
    }
    sh[m] = sh[d];
    for (int k = 0; k < nops; k++) st[k][m] = st[k][d];
    m++;
  }
  if (m == 0) {
    it->inner = shape_size(shape, ndim) == 0 ? 0 : 1;
    for (int k = 0; k < nops; k++) it->inner_stride[k] = 1;
    it->ndim = 0;
    it->outer = 1;
    return;
  }
  it->inner = sh[m - 1];
  for (int k = 0; k < nops; k++) it->inner_stride[k] = st[k][m - 1];
  it->ndim = m - 1;
  it->outer = 1;
  for (int d = 0; d < m - 1; d++) {
    it->shape[d] = sh[d];
    it->outer *= sh[d];
    for (int k = 0; k < nops; k++) it->strides[k][d] = st[k][d];
  }
  if (it->inner == 0) it->outer = 0;
}

void nd_iter_offsets(const nd_iter *it, int64_t r, int64_t *off) {
  for (int k = 0; k < it->nops; k++) off[k] = 0;
  for (int d = it->ndim - 1; d >= 0; d--) {
    int64_t i = r % it->shape[d];
    r /= it->shape[d];
    for (int k = 0; k < it->nops; k++) off[k] += i * it->strides[k][d];
  }
}

void broadcast_strides(mx_array a, const int64_t *shape, int out_ndim, int64_t *strides) {
  int lead = out_ndim - a->ndim;
  for (int d = 0; d < out_ndim; d++) {
    if (d < lead) {
      strides[d] = 0;
    } else {
      int ad = d - lead;
      strides[d] = (a->shape[ad] == 1 && shape[d] != 1) ? 0 : a->strides[ad];
    }
  }
}

typedef struct copy_ctx {
  const char *src;
  mx_dtype st, dt;
  char *dst;
  nd_iter it;
  int64_t run_chunk;
} copy_ctx;

static void copy_chunk(void *p, int64_t begin, int64_t end) {
  copy_ctx *c = p;
  size_t ss = mx_dtype_size(c->st), ds = mx_dtype_size(c->dt);
  int64_t i0 = begin * c->run_chunk, i1 = end * c->run_chunk;
  if (i1 > c->it.inner) i1 = c->it.inner;
  convert_run(c->src + i0 * c->it.inner_stride[0] * (int64_t)ss, c->it.inner_stride[0], c->st,
              c->dst + i0 * (int64_t)ds, c->dt, i1 - i0);
}

static void copy_range(void *p, int64_t begin, int64_t end) {
  copy_ctx *c = p;
  size_t ss = mx_dtype_size(c->st), ds = mx_dtype_size(c->dt);
  for (int64_t r = begin; r < end; r++) {
    int64_t off[1];
    nd_iter_offsets(&c->it, r, off);
    convert_run(c->src + off[0] * (int64_t)ss, c->it.inner_stride[0], c->st,
                c->dst + r * c->it.inner * (int64_t)ds, c->dt, c->it.inner);
  }
}

void copy_to_row_major(const void *src, mx_dtype st, const int64_t *shape,
                       const int64_t *strides, int ndim, void *dst, mx_dtype dt) {
  copy_ctx c = {.src = src, .st = st, .dt = dt, .dst = dst};
  const int64_t *sp[1] = {strides};
  nd_iter_init(&c.it, shape, ndim, sp, 1);
  if (c.it.outer == 0) return;
  /* Aim for ~64 KiB of output per task so small copies stay on one thread. */
  int64_t run_bytes = c.it.inner * (int64_t)mx_dtype_size(dt);
  int64_t grain = run_bytes >= 65536 ? 1 : 65536 / (run_bytes ? run_bytes : 1);
  if (c.it.outer == 1 && run_bytes > (1 << 20)) {
    /* One long run (a flat copy): split the run itself across the pool. */
    c.run_chunk = 1 << 14;
    parallel_for((c.it.inner + c.run_chunk - 1) / c.run_chunk, 1, copy_chunk, &c);
    return;
  }
  parallel_for(c.it.outer, grain, copy_range, &c);
}

void array_copy_to_row_major(mx_array a, void *dst, mx_dtype dt) {
  copy_to_row_major(array_ptr(a), a->dtype, a->shape, a->strides, a->ndim, dst, dt);
}
