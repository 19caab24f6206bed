/* test_binary.c — binary elementwise ops, where, isclose/allclose/
 * array_equal, divmod and clip against NumPy fixtures (gen_binary.py), plus
 * the semantics NumPy cannot check (MLX-specific results, no SIGFPE),
 * buffer donation, large threaded runs, and every error path. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/core.h"
#include "core/half.h"
#include "fixture.h"

/* ------------------------------------------------------------ fixture ops */

#define BIN(name)                                                                          \
  static mx_array op_##name(const fx_case *c, mx_array *in, int nin) {                     \
    (void)c;                                                                               \
    (void)nin;                                                                             \
    return mx_##name(in[0], in[1]);                                                        \
  }
BIN(add)
BIN(subtract)
BIN(multiply)
BIN(divide)
BIN(floor_divide)
BIN(remainder)
BIN(power)
BIN(maximum)
BIN(minimum)
BIN(logaddexp)
BIN(arctan2)
BIN(equal)
BIN(not_equal)
BIN(less)
BIN(less_equal)
BIN(greater)
BIN(greater_equal)
BIN(logical_and)
BIN(logical_or)
BIN(bitwise_and)
BIN(bitwise_or)
BIN(bitwise_xor)
BIN(left_shift)
BIN(right_shift)

static mx_array op_where(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_where(in[0], in[1], in[2]);
}
static mx_array op_isclose(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_isclose(in[0], in[1], fx_double(c, "rtol", 1e-5), fx_double(c, "atol", 1e-8),
                    fx_int(c, "equal_nan", 0) != 0);
}
static mx_array op_allclose(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_allclose(in[0], in[1], fx_double(c, "rtol", 1e-5), fx_double(c, "atol", 1e-8),
                     fx_int(c, "equal_nan", 0) != 0);
}
static mx_array op_array_equal(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_array_equal(in[0], in[1], fx_int(c, "equal_nan", 0) != 0);
}
static mx_array divmod_part(mx_array *in, bool want_q) {
  mx_array q = NULL, r = NULL;
  if (mx_divmod(in[0], in[1], &q, &r) != MX_OK) return NULL;
  mx_array_free(want_q ? r : q);
  return want_q ? q : r;
}
static mx_array op_divmod_q(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return divmod_part(in, true);
}
static mx_array op_divmod_r(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return divmod_part(in, false);
}
static mx_array op_clip(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_clip(in[0], in[1], in[2]);
}
static mx_array op_clip_min(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_clip(in[0], in[1], NULL);
}
static mx_array op_clip_max(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_clip(in[0], NULL, in[1]);
}

#define ENTRY(name) {#name, op_##name}
static const fx_op OPS[] = {
    ENTRY(add),         ENTRY(subtract),      ENTRY(multiply),    ENTRY(divide),
    ENTRY(floor_divide), ENTRY(remainder),    ENTRY(power),       ENTRY(maximum),
    ENTRY(minimum),     ENTRY(logaddexp),     ENTRY(arctan2),     ENTRY(equal),
    ENTRY(not_equal),   ENTRY(less),          ENTRY(less_equal),  ENTRY(greater),
    ENTRY(greater_equal), ENTRY(logical_and), ENTRY(logical_or),  ENTRY(bitwise_and),
    ENTRY(bitwise_or),  ENTRY(bitwise_xor),   ENTRY(left_shift),  ENTRY(right_shift),
    ENTRY(where),       ENTRY(isclose),       ENTRY(allclose),    ENTRY(array_equal),
    ENTRY(divmod_q),    ENTRY(divmod_r),      ENTRY(clip),        ENTRY(clip_min),
    ENTRY(clip_max),
};

/* ------------------------------------------------------------ helpers */

static mx_array vec_i32(const int32_t *v, int64_t n) {
  return mx_array_from_data(v, &n, 1, MX_INT32);
}
static mx_array vec_f32(const float *v, int64_t n) {
  return mx_array_from_data(v, &n, 1, MX_FLOAT32);
}

/* ------------------------------------------------------------ semantics */

static void test_result_dtypes(void) {
  mx_array i = mx_array_from_int(7), j = mx_array_from_int(2);
  mx_array h = mx_array_scalar(1.5, MX_FLOAT16), b = mx_array_from_bool(true);
  mx_array u = mx_array_scalar(3, MX_UINT64), c = mx_array_from_complex(1, 2);
  struct {
    mx_array r;
    mx_dtype want;
  } t[] = {
      {mx_divide(i, j), MX_FLOAT32},        {mx_floor_divide(i, j), MX_INT32},
      {mx_add(i, h), MX_FLOAT16},           {mx_equal(i, h), MX_BOOL},
      {mx_add(u, i), MX_FLOAT32},           {mx_logaddexp(i, j), MX_FLOAT32},
      {mx_arctan2(b, b), MX_FLOAT32},       {mx_left_shift(b, b), MX_UINT8},
      {mx_logical_and(i, h), MX_BOOL},      {mx_bitwise_and(b, b), MX_BOOL},
      {mx_add(b, b), MX_BOOL},              {mx_multiply(c, i), MX_COMPLEX64},
      {mx_power(i, j), MX_INT32},           {mx_where(i, b, h), MX_FLOAT16},
      {mx_isclose(i, j, 0, 0, false), MX_BOOL},
  };
  for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
    CHECK(t[k].r != NULL);
    if (t[k].r) {
      char msg[96];
      snprintf(msg, sizeof msg, "case %zu: %s", k, mx_dtype_name(mx_array_dtype(t[k].r)));
      CHECK_MSG(mx_array_dtype(t[k].r) == t[k].want, msg);
      CHECK(mx_eval1(t[k].r) == MX_OK);
    }
    mx_array_free(t[k].r);
  }
  double v;
  mx_array r = mx_divide(i, j);
  CHECK(mx_array_item_double(r, &v) == MX_OK && v == 3.5);
  mx_array_free(r);
  mx_array_free(i);
  mx_array_free(j);
  mx_array_free(h);
  mx_array_free(b);
  mx_array_free(u);
  mx_array_free(c);
}

/* Integer corner cases that would trap or be undefined in C. */
static void test_integer_corners(void) {
  int32_t av[] = {INT32_MIN, INT32_MIN, 5, -5, 7, 0, INT32_MAX, 3};
  int32_t bv[] = {-1, 0, 0, 0, -1, 0, 1, -3};
  mx_array a = vec_i32(av, 8), b = vec_i32(bv, 8);
  mx_array q = NULL, r = NULL;
  CHECK(mx_divmod(a, b, &q, &r) == MX_OK);
  const int32_t *qp = mx_array_data(q), *rp = mx_array_data(r);
  int32_t wq[] = {INT32_MIN, 0, 0, 0, -7, 0, INT32_MAX, -1};
  int32_t wr[] = {0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(qp && rp && memcmp(qp, wq, sizeof wq) == 0 && memcmp(rp, wr, sizeof wr) == 0);
  mx_array_free(q);
  mx_array_free(r);
  /* Negative integer exponents give 0 (MLX); overflow wraps. */
  int32_t ev[] = {-1, -2, 0, 1, 31, 32, 2, 3};
  int32_t bases[] = {2, 1, 5, -7, 2, 2, 46341, -1};
  mx_array e = vec_i32(ev, 8), ba = vec_i32(bases, 8);
  mx_array p = mx_power(ba, e);
  const int32_t *pp = mx_array_data(p);
  int32_t wp[] = {0, 0, 1, -7, INT32_MIN, 0, (int32_t)(46341u * 46341u), -1};
  CHECK(pp && memcmp(pp, wp, sizeof wp) == 0);
  mx_array_free(p);
  /* Shifts by >= the width or negative amounts. */
  int32_t sv[] = {32, 33, -1, 100, 0, 31, 1, 2};
  mx_array s = vec_i32(sv, 8);
  mx_array l = mx_left_shift(a, s), rr = mx_right_shift(a, s);
  const int32_t *lp = mx_array_data(l), *rp2 = mx_array_data(rr);
  CHECK(lp && lp[0] == 0 && lp[1] == 0 && lp[2] == 0 && lp[3] == 0 && lp[4] == 7 &&
        lp[5] == 0 && lp[6] == -2 && lp[7] == 12);
  CHECK(rp2 && rp2[0] == -1 && rp2[1] == -1 && rp2[2] == 0 && rp2[3] == -1 && rp2[4] == 7);
  mx_array_free(l);
  mx_array_free(rr);
  mx_array_free(s);
  mx_array_free(e);
  mx_array_free(ba);
  /* Integer add/subtract/multiply wrap. */
  mx_array m = mx_multiply(a, a);
  const int32_t *mp = mx_array_data(m);
  CHECK(mp && mp[0] == 0 && mp[6] == 1);
  mx_array_free(m);
  mx_array_free(a);
  mx_array_free(b);
}

static void test_float_semantics(void) {
  float av[] = {NAN, 1, NAN, -0.0f, 2, -INFINITY};
  float bv[] = {1, NAN, NAN, 0.0f, -INFINITY, -INFINITY};
  mx_array a = vec_f32(av, 6), b = vec_f32(bv, 6);
  mx_array mx = mx_maximum(a, b), mn = mx_minimum(a, b), la = mx_logaddexp(a, b);
  const float *xp = mx_array_data(mx), *np_ = mx_array_data(mn), *lp = mx_array_data(la);
  CHECK(xp && isnan(xp[0]) && isnan(xp[1]) && isnan(xp[2]) && xp[4] == 2);
  CHECK(np_ && isnan(np_[0]) && isnan(np_[1]) && np_[4] == -INFINITY);
  CHECK(lp && lp[4] == 2 && lp[5] == -INFINITY);
  /* divide by zero in floats: inf / nan, no trap. */
  mx_array z = mx_array_from_float(0), d = mx_divide(a, z);
  const float *dp = mx_array_data(d);
  CHECK(dp && isnan(dp[0]) && dp[1] == INFINITY && isnan(dp[3]) && dp[4] == INFINITY);
  mx_array_free(d);
  mx_array_free(z);
  mx_array_free(mx);
  mx_array_free(mn);
  mx_array_free(la);
  mx_array_free(a);
  mx_array_free(b);
  /* Scalar results: allclose of empty arrays is true; array_equal of
   * different shapes is false. */
  int64_t zero = 0;
  mx_array e1 = mx_array_from_data(NULL, &zero, 1, MX_FLOAT32);
  mx_array ac = mx_allclose(e1, e1, 1e-5, 1e-8, false);
  bool bv2 = false;
  CHECK(ac && mx_array_item_bool(ac, &bv2) == MX_OK && bv2);
  CHECK(ac && mx_array_ndim(ac) == 0);
  mx_array_free(ac);
  mx_array_free(e1);
}

/* An input that nobody else holds lends its buffer to the result. */
static void test_donation(void) {
  int64_t n = 1 << 18; /* 1 MiB: exactly one allocator size class */
  float *v = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(i % 97) * 0.5f;
  /* Host memory accounting of the CPU backend: run it there. */
  mx_device prev = mx_default_device();
  mx_set_default_device((mx_device){MX_CPU, 0});
  mx_array a = mx_array_from_data(v, &n, 1, MX_FLOAT32);
  mx_array t = mx_add(a, a);          /* fresh buffer */
  mx_array u = mx_multiply(t, a);     /* t has one reader: donated */
  mx_array_free(t);
  size_t before = mx_memory_active();
  CHECK(mx_eval1(u) == MX_OK);
  size_t after = mx_memory_active();
  /* Only t's buffer was allocated; u reused it (one buffer, not two). */
  CHECK(after - before == (size_t)n * 4);
  const float *up = mx_array_data(u);
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (up[i] != (v[i] + v[i]) * v[i]) bad++;
  CHECK(bad == 0);
  mx_array_free(u);
  mx_array_free(a);
  free(v);
  mx_set_default_device(prev);
}

/* Large f16/bf16/f32 runs split across threads, with broadcasting rows,
 * compared element by element with a scalar reference. */
static void test_large_threaded(void) {
  int64_t rows = 513, cols = 1031, n = rows * cols;
  float *x = malloc((size_t)n * 4), *y = malloc((size_t)cols * 4);
  for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 2003) * 0.01f - 10;
  for (int64_t j = 0; j < cols; j++) y[j] = (float)(j % 13) - 6.5f;
  int64_t sh[2] = {rows, cols};
  mx_array a = mx_array_from_data(x, sh, 2, MX_FLOAT32);
  mx_array b = mx_array_from_data(y, &cols, 1, MX_FLOAT32);
  mx_dtype types[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
  for (int k = 0; k < 3; k++) {
    mx_array ah = mx_astype(a, types[k]), bh = mx_astype(b, types[k]);
    mx_array r = mx_subtract(ah, bh);
    mx_array r32 = mx_astype(r, MX_FLOAT32);
    mx_array a32 = mx_astype(ah, MX_FLOAT32), b32 = mx_astype(bh, MX_FLOAT32);
    const float *rp = mx_array_data(r32), *ap = mx_array_data(a32), *bp = mx_array_data(b32);
    int bad = 0;
    for (int64_t i = 0; i < n && rp; i++) {
      float want = ap[i] - bp[i % cols];
      if (types[k] == MX_FLOAT16) want = f16_to_f32(f32_to_f16(want));
      if (types[k] == MX_BFLOAT16) want = bf16_to_f32(f32_to_bf16(want));
      if (rp[i] != want) bad++;
    }
    CHECK_MSG(rp && bad == 0, mx_dtype_name(types[k]));
    mx_array arr[] = {ah, bh, r, r32, a32, b32};
    for (int q = 0; q < 6; q++) mx_array_free(arr[q]);
  }
  mx_array_free(a);
  mx_array_free(b);
  free(x);
  free(y);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  int64_t s23[2] = {2, 3}, s4[1] = {4};
  mx_array a = mx_zeros(s23, 2, MX_FLOAT32), b = mx_zeros(s4, 1, MX_FLOAT32);
  mx_array i = mx_array_from_int(3), c = mx_array_from_complex(1, 1);
  mx_array bo = mx_array_from_bool(true);
  CHECK_ERR(mx_add(a, b), MX_ERR_SHAPE, "add");
  CHECK_ERR(mx_add(a, b), MX_ERR_SHAPE, "(2,3)");
  CHECK_ERR(mx_where(bo, a, b), MX_ERR_SHAPE, "where");
  CHECK_ERR(mx_isclose(a, b, 1e-5, 1e-8, false), MX_ERR_SHAPE, "isclose");
  CHECK_ERR(mx_bitwise_and(a, i), MX_ERR_DTYPE, "bitwise_and");
  CHECK_ERR(mx_bitwise_or(i, a), MX_ERR_DTYPE, "float32");
  CHECK_ERR(mx_bitwise_xor(c, i), MX_ERR_DTYPE, "bitwise_xor");
  CHECK_ERR(mx_left_shift(a, i), MX_ERR_DTYPE, "left_shift");
  CHECK_ERR(mx_right_shift(i, a), MX_ERR_DTYPE, "right_shift");
  CHECK_ERR(mx_remainder(c, i), MX_ERR_DTYPE, "remainder");
  CHECK_ERR(mx_floor_divide(c, c), MX_ERR_DTYPE, "floor_divide");
  CHECK_ERR(mx_arctan2(c, a), MX_ERR_DTYPE, "arctan2");
  CHECK_ERR(mx_logaddexp(c, a), MX_ERR_DTYPE, "logaddexp");
  CHECK_ERR(mx_isclose(a, a, NAN, 0, false), MX_ERR_INVALID_ARG, "isclose");
  CHECK_ERR(mx_clip(a, NULL, NULL), MX_ERR_INVALID_ARG, "clip");
  CHECK_ERR(mx_add(NULL, a), MX_ERR_NULL_INPUT, "add");
  CHECK_ERR(mx_where(bo, NULL, a), MX_ERR_NULL_INPUT, "where");
  CHECK_ERR(mx_array_equal(a, NULL, false), MX_ERR_NULL_INPUT, "array_equal");
  /* divmod: errors write nothing. */
  mx_array q = (mx_array)0x1, r = (mx_array)0x1;
  mx_clear_error();
  CHECK(mx_divmod(c, c, &q, &r) == MX_ERR_DTYPE && q == (mx_array)0x1 && r == (mx_array)0x1);
  CHECK(strstr(mx_last_error(), "divmod") != NULL);
  CHECK(mx_divmod(a, b, &q, &r) == MX_ERR_SHAPE && q == (mx_array)0x1);
  CHECK(mx_divmod(a, a, NULL, &r) == MX_ERR_INVALID_ARG);
  mx_clear_error();
  CHECK(mx_divmod(NULL, a, &q, &r) == MX_ERR_NULL_INPUT);
  mx_clear_error();
  /* A NULL input keeps the first error. */
  mx_array bad = mx_add(a, b);
  mx_array chained = mx_multiply(bad, a);
  CHECK(chained == NULL && mx_last_error_code() == MX_ERR_SHAPE);
  mx_clear_error();
  mx_array arr[] = {a, b, i, c, bo};
  for (int k = 0; k < 5; k++) mx_array_free(arr[k]);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "fixtures/binary";
  size_t base = mx_memory_active();
  fx_run_dir(dir, OPS, (int)(sizeof OPS / sizeof *OPS));
  test_result_dtypes();
  test_integer_corners();
  test_float_semantics();
  test_donation();
  test_large_threaded();
  test_errors();
  CHECK(mx_memory_active() == base);
  return check_summary();
}
