/* elementwise_compare.c — CPU kernels of where (select), isclose and the
 * all-true reduction behind allclose / array_equal. */
#include <math.h>
#include <string.h>

#include "elementwise.h"

/* ---------------------------------------------------------- where */

/* Select moves bits only, so it runs on the storage dtype (ew_exec_raw). */
#define DEF_SELECT(bits)                                                                   \
  static void select_##bits(void *out, const void *const *in, const int64_t *s, int64_t n, \
                            const void *params) {                                          \
    (void)params;                                                                          \
    const uint8_t *c = in[0];                                                              \
    const uint##bits##_t *x = in[1], *y = in[2];                                           \
    uint##bits##_t *o = out;                                                               \
    if (s[0] && s[1] && s[2]) {                                                            \
      for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : y[i];                           \
    } else {                                                                               \
      int64_t s0 = s[0], s1 = s[1], s2 = s[2];                                             \
      for (int64_t i = 0; i < n; i++) o[i] = c[i * s0] ? x[i * s1] : y[i * s2];            \
    }                                                                                      \
  }
DEF_SELECT(8)
DEF_SELECT(16)
DEF_SELECT(32)
DEF_SELECT(64)

mx_status cpu_where(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  if (nin != 3 || in[0]->dtype != MX_BOOL || in[1]->dtype != out->dtype ||
      in[2]->dtype != out->dtype)
    return set_error(MX_ERR_INTERNAL, "where: bad kernel inputs");
  ew_fn fn;
  switch (mx_dtype_size(out->dtype)) {
  case 1: fn = select_8; break;
  case 2: fn = select_16; break;
  case 4: fn = select_32; break;
  case 8: fn = select_64; break;
  default: return set_error(MX_ERR_DTYPE, "where: no CPU kernel for %s", mx_dtype_name(out->dtype));
  }
  return ew_exec_raw(out, in, 3, fn, NULL, true);
}

/* ---------------------------------------------------------- isclose */

/* |x - y| <= atol + rtol * |y|; infinities must match exactly; NaNs match
 * each other only with equal_nan. Computed in double so that the tolerance
 * test itself adds no rounding for any input dtype up to f64. */
static inline uint8_t close_d(double x, double y, const ew_close_params *p) {
  if (isinf(x) || isinf(y)) return x == y;
  if (isnan(x) || isnan(y)) return p->equal_nan && isnan(x) && isnan(y);
  return fabs(x - y) <= p->atol + p->rtol * fabs(y);
}

#define DEF_CLOSE(tag, T)                                                                  \
  static void close_##tag(void *out, const void *const *in, const int64_t *s, int64_t n,   \
                          const void *params) {                                            \
    const T *a = in[0], *b = in[1];                                                        \
    uint8_t *o = out;                                                                      \
    int64_t sa = s[0], sb = s[1];                                                          \
    for (int64_t i = 0; i < n; i++) o[i] = close_d((double)a[i * sa], (double)b[i * sb], params); \
  }
DEF_CLOSE(u8, uint8_t)
DEF_CLOSE(u16, uint16_t)
DEF_CLOSE(u32, uint32_t)
DEF_CLOSE(u64, uint64_t)
DEF_CLOSE(i8, int8_t)
DEF_CLOSE(i16, int16_t)
DEF_CLOSE(i32, int32_t)
DEF_CLOSE(i64, int64_t)
DEF_CLOSE(f32, float)
DEF_CLOSE(f64, double)

static void close_c64(void *out, const void *const *in, const int64_t *s, int64_t n,
                      const void *params) {
  const ew_close_params *p = params;
  const c64_t *a = in[0], *b = in[1];
  uint8_t *o = out;
  for (int64_t i = 0; i < n; i++) {
    c64_t x = a[i * s[0]], y = b[i * s[1]];
    bool xn = isnan(crealf(x)) || isnan(cimagf(x)), yn = isnan(crealf(y)) || isnan(cimagf(y));
    bool xi = isinf(crealf(x)) || isinf(cimagf(x)), yi = isinf(crealf(y)) || isinf(cimagf(y));
    if (xn || yn) o[i] = p->equal_nan && xn && yn;
    else if (xi || yi) o[i] = x == y;
    else o[i] = cabs((double _Complex)x - (double _Complex)y) <= p->atol + p->rtol * cabs((double _Complex)y);
  }
}

mx_status cpu_isclose(mx_array out, mx_array const *in, int nin, const void *params) {
  static const ew_fn fns[MX_DTYPE_COUNT] = {
      [MX_BOOL] = close_u8,     [MX_UINT8] = close_u8,   [MX_UINT16] = close_u16,
      [MX_UINT32] = close_u32,  [MX_UINT64] = close_u64, [MX_INT8] = close_i8,
      [MX_INT16] = close_i16,   [MX_INT32] = close_i32,  [MX_INT64] = close_i64,
      [MX_FLOAT32] = close_f32, [MX_FLOAT64] = close_f64, [MX_COMPLEX64] = close_c64};
  if (nin != 2 || in[0]->dtype != in[1]->dtype)
    return set_error(MX_ERR_INTERNAL, "isclose: bad kernel inputs");
  ew_fn fn = fns[ew_compute_dtype(in[0]->dtype)];
  if (!fn) return set_error(MX_ERR_DTYPE, "isclose: no CPU kernel for %s", mx_dtype_name(in[0]->dtype));
  return ew_exec(out, in, 2, fn, params, false);
}

/* ---------------------------------------------------------- all_true */

/* A 0-d bool: every element of the (bool) input is true. */
mx_status cpu_all_true(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)params;
  mx_array x = in[0];
  if (nin != 1 || x->dtype != MX_BOOL) return set_error(MX_ERR_INTERNAL, "all_true: bad input");
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  bool all = true;
  if (x->size > 0) {
    nd_iter it;
    const int64_t *sp[1] = {x->strides};
    nd_iter_init(&it, x->shape, x->ndim, sp, 1);
    const uint8_t *base = array_ptr(x);
    for (int64_t r = 0; r < it.outer && all; r++) {
      int64_t off[1];
      nd_iter_offsets(&it, r, off);
      const uint8_t *p = base + off[0];
      int64_t s = it.inner_stride[0];
      if (s == 1) {
        all = memchr(p, 0, (size_t)it.inner) == NULL;
      } else {
        for (int64_t i = 0; i < it.inner; i++)
          if (!p[i * s]) {
            all = false;
            break;
          }
      }
    }
  }
  *(uint8_t *)array_ptr(out) = all;
  return MX_OK;
}
