/* test_cuda_convert.c — the GPU's copies for the dtypes the elementwise
 * copy lacks (cuda_ops.c: astype through convert.cu, contiguous and reshape
 * through the strided byte copy) against the CPU on the same inputs.
 *
 * Inputs of every dtype are made and evaluated on the CPU, as dense,
 * transposed, stepped-with-offset and broadcast (stride 0) views, then each
 * op runs once on the CPU stream and once on the GPU stream. Tolerance:
 * none. The results must be identical BYTE FOR BYTE, NaN payloads included:
 * the GPU conversion follows the CPU's convert_run case by case (double
 * rounding guards, NaN and out-of-range float -> integer rules) and copies
 * only move bits. The inputs mix random bit patterns (every NaN payload,
 * infinities, subnormals, huge values) with values chosen at the edges
 * (half ties, integer limits, f16 overflow, 2^63, 2^64). The GPU run must
 * not fall back to the CPU (gpu_fallback_count unchanged).
 * Pairs where both dtypes have elementwise kernels (f32/f16/bf16, int8/32/64,
 * uint8/32) are test_cuda's; they are not repeated here.
 * Without a usable GPU the test says so and passes (CI has none). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "core/half.h"

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

static bool elementwise_dtype(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16 || t == MX_INT32 ||
         t == MX_INT64 || t == MX_UINT32 || t == MX_UINT8 || t == MX_INT8;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Edge values, as doubles; each dtype stores them by C's rules below. */
static const double edges[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, -1.5, 2.5, 127.5, 128.0, 255.0, 256.0, -129.0, 300.7, -300.7,
    32767.0, 32768.0, -32769.0, 65504.0, 65519.0, 65520.0, 1e5, 3e9, -3e9, 4294967296.0,
    9.2e18, 9223372036854775808.0, -9223372036854775808.0, 18446744073709551616.0, -1e19,
    INFINITY, -INFINITY, NAN, -NAN, 1e-8, 6e-8, 1e-40, 1e-45, 3.4e38, 3.5e38, 1e300, -1e300,
    1e-300,
    1.0 + 0x1p-11 + 0x1p-40, /* f64 -> f32 makes an f16 tie: the double-rounding guard */
    1.0 + 0x1p-11 - 0x1p-40, -(1.0 + 0x1p-11 + 0x1p-40), 1.0 + 0x1p-8 + 0x1p-40};
#define NEDGES ((int)(sizeof edges / sizeof *edges))

static int64_t clamp_i64(double v) {
  if (!(v > -9e18 && v < 9e18)) return v > 0 ? INT64_MAX : INT64_MIN;
  return (int64_t)v;
}

/* Element i of a source buffer of dtype t: random bits, a small value, or
 * an edge value, in turn. */
static void fill(void *buf, mx_dtype t, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t bits = rnd();
    int kind = (int)(i % 3);
    double v = kind == 1 ? (double)((int64_t)(rnd() % 601) - 300) / ((rnd() & 1) ? 1 : 4)
                         : edges[rnd() % NEDGES];
    switch (t) {
      case MX_BOOL: ((uint8_t *)buf)[i] = (uint8_t)(bits & 1); break;
      case MX_UINT8: ((uint8_t *)buf)[i] = kind ? (uint8_t)clamp_i64(v) : (uint8_t)bits; break;
      case MX_INT8: ((int8_t *)buf)[i] = kind ? (int8_t)clamp_i64(v) : (int8_t)bits; break;
      case MX_UINT16: ((uint16_t *)buf)[i] = kind ? (uint16_t)clamp_i64(v) : (uint16_t)bits; break;
      case MX_INT16: ((int16_t *)buf)[i] = kind ? (int16_t)clamp_i64(v) : (int16_t)bits; break;
      case MX_UINT32: ((uint32_t *)buf)[i] = kind ? (uint32_t)clamp_i64(v) : (uint32_t)bits; break;
      case MX_INT32: ((int32_t *)buf)[i] = kind ? (int32_t)clamp_i64(v) : (int32_t)bits; break;
      case MX_UINT64: ((uint64_t *)buf)[i] = kind ? (uint64_t)clamp_i64(v) : bits; break;
      case MX_INT64: ((int64_t *)buf)[i] = kind ? clamp_i64(v) : (int64_t)bits; break;
      case MX_FLOAT16: ((uint16_t *)buf)[i] = kind ? f32_to_f16((float)v) : (uint16_t)bits; break;
      case MX_BFLOAT16:
        ((uint16_t *)buf)[i] = kind ? f32_to_bf16((float)v) : (uint16_t)bits;
        break;
      case MX_FLOAT32: {
        float f = (float)v;
        if (!kind) f = f32_from_bits((uint32_t)bits);
        ((float *)buf)[i] = f;
        break;
      }
      case MX_FLOAT64: {
        double d = v;
        if (!kind) memcpy(&d, &bits, sizeof d);
        ((double *)buf)[i] = d;
        break;
      }
      case MX_COMPLEX64: {
        float re = kind ? (float)v : f32_from_bits((uint32_t)bits);
        float im = (rnd() % 3) ? 0.0f : (float)edges[rnd() % NEDGES];
        ((float *)buf)[2 * i] = re;
        ((float *)buf)[2 * i + 1] = im;
        break;
      }
      default: break;
    }
  }
}

#define ROWS 33
#define COLS 47
#define NLAYOUTS 4
static const char *layout_name[NLAYOUTS] = {"dense", "transposed", "stepped", "broadcast"};

/* The input views of one dtype, made and evaluated on the CPU. */
static void make_views(mx_dtype t, mx_array *v) {
  mx_set_default_device(cpu);
  int64_t shape[2] = {ROWS, COLS};
  void *buf = malloc((size_t)(ROWS * COLS) * mx_dtype_size(t));
  fill(buf, t, ROWS * COLS);
  v[0] = mx_array_from_data(buf, shape, 2, t);
  free(buf);
  v[1] = mx_transpose(v[0], NULL, 0);
  int64_t start[2] = {1, 2}, stop[2] = {MX_SLICE_END, MX_SLICE_END}, step[2] = {2, 3};
  v[2] = mx_slice(v[0], start, stop, step, 2);
  int64_t r0[2] = {5, 0}, r1[2] = {6, COLS};
  mx_array row = mx_slice(v[0], r0, r1, NULL, 2);
  v[3] = mx_broadcast_to(row, shape, 2);
  mx_array_free(row);
  for (int k = 0; k < NLAYOUTS; k++) CHECK(v[k] && mx_eval1(v[k]) == MX_OK);
}

typedef mx_array (*op_fn)(mx_array x, mx_dtype t);
static mx_array op_astype(mx_array x, mx_dtype t) { return mx_astype(x, t); }
static mx_array op_contiguous(mx_array x, mx_dtype t) {
  (void)t;
  return mx_contiguous(x);
}
static mx_array op_reshape(mx_array x, mx_dtype t) {
  (void)t;
  int64_t n = mx_array_size(x);
  return mx_reshape(x, &n, 1);
}

/* f(x) on the CPU and on the GPU: identical bytes, no GPU fallback. */
static void compare(const char *what, op_fn f, mx_array x, mx_dtype t, const char *layout,
                    int *bad_pairs) {
  mx_set_default_device(cpu);
  mx_array rc = f(x, t);
  bool ok = rc && mx_eval1(rc) == MX_OK;
  mx_set_default_device(gpu);
  int64_t fb = gpu_fallback_count();
  mx_array rg = f(x, t);
  ok = ok && rg && mx_eval1(rg) == MX_OK;
  int64_t fell = gpu_fallback_count() - fb;
  mx_set_default_device(cpu);
  int64_t first = -1;
  if (ok) {
    const uint8_t *a = mx_array_data(rc), *b = mx_array_data(rg);
    size_t es = mx_dtype_size(mx_array_dtype(rc));
    int64_t n = mx_array_size(rc);
    ok = a && b && mx_array_size(rg) == n && mx_array_dtype(rg) == mx_array_dtype(rc);
    for (int64_t i = 0; ok && i < n && first < 0; i++)
      if (memcmp(a + (size_t)i * es, b + (size_t)i * es, es) != 0) first = i;
  }
  if (!ok || first >= 0 || fell != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s %s -> %s (%s): %s, %lld fallbacks", what,
             mx_dtype_name(mx_array_dtype(x)), mx_dtype_name(t), layout,
             !ok ? "failed" : first >= 0 ? "bytes differ" : "bytes equal", (long long)fell);
    if (first >= 0) {
      size_t len = strlen(msg);
      snprintf(msg + len, sizeof msg - len, " (first at element %lld)", (long long)first);
    }
    CHECK_MSG(0, msg);
    (*bad_pairs)++;
  }
  mx_array_free(rc);
  mx_array_free(rg);
}

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("test_cuda_convert: skipped: no usable GPU (%s)\n", mx_last_error());
    return 0;
  }
  int bad = 0, pairs = 0;
  for (int s = 0; s < MX_DTYPE_COUNT; s++) {
    mx_array v[NLAYOUTS];
    make_views((mx_dtype)s, v);
    for (int k = 0; k < NLAYOUTS; k++) {
      for (int d = 0; d < MX_DTYPE_COUNT; d++) {
        if (elementwise_dtype((mx_dtype)s) && elementwise_dtype((mx_dtype)d)) continue;
        compare("astype", op_astype, v[k], (mx_dtype)d, layout_name[k], &bad);
        pairs++;
      }
      if (!elementwise_dtype((mx_dtype)s)) {
        compare("contiguous", op_contiguous, v[k], (mx_dtype)s, layout_name[k], &bad);
        compare("reshape", op_reshape, v[k], (mx_dtype)s, layout_name[k], &bad);
      }
    }
    for (int k = 0; k < NLAYOUTS; k++) mx_array_free(v[k]);
  }
  printf("test_cuda_convert: %d astype pairs x layouts, %d mismatching\n", pairs, bad);
  return check_summary();
}
