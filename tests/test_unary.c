/* test_unary.c — unary elementwise ops against NumPy fixtures
 * (gen_unary.py), plus result dtypes, MLX-specific values, buffer donation,
 * views, and every error path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

/* ------------------------------------------------------------ fixture ops */

#define UN(name)                                                                           \
  static mx_array op_##name(const fx_case *c, mx_array *in, int nin) {                     \
    (void)c;                                                                               \
    (void)nin;                                                                             \
    return mx_##name(in[0]);                                                               \
  }
UN(abs)
UN(negative)
UN(sign)
UN(sqrt)
UN(rsqrt)
UN(square)
UN(reciprocal)
UN(exp)
UN(expm1)
UN(log)
UN(log1p)
UN(log2)
UN(log10)
UN(sin)
UN(cos)
UN(tan)
UN(arcsin)
UN(arccos)
UN(arctan)
UN(sinh)
UN(cosh)
UN(tanh)
UN(arcsinh)
UN(arccosh)
UN(arctanh)
UN(sigmoid)
UN(erf)
UN(erfinv)
UN(floor)
UN(ceil)
UN(isnan)
UN(isinf)
UN(isfinite)
UN(isposinf)
UN(isneginf)
UN(logical_not)
UN(bitwise_invert)
UN(degrees)
UN(radians)
UN(real)
UN(imag)
UN(conjugate)
UN(stop_gradient)

static mx_array op_round(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_round(in[0], (int)fx_int(c, "decimals", 0));
}
static mx_array op_nan_to_num(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  double pi = fx_double(c, "posinf", 0), ni = fx_double(c, "neginf", 0);
  return mx_nan_to_num(in[0], fx_double(c, "nan", 0), fx_has(c, "posinf") ? &pi : NULL,
                       fx_has(c, "neginf") ? &ni : NULL);
}

#define ENTRY(name) {#name, op_##name}
static const fx_op OPS[] = {
    ENTRY(abs),      ENTRY(negative),   ENTRY(sign),     ENTRY(sqrt),       ENTRY(rsqrt),
    ENTRY(square),   ENTRY(reciprocal), ENTRY(exp),      ENTRY(expm1),      ENTRY(log),
    ENTRY(log1p),    ENTRY(log2),       ENTRY(log10),    ENTRY(sin),        ENTRY(cos),
    ENTRY(tan),      ENTRY(arcsin),     ENTRY(arccos),   ENTRY(arctan),     ENTRY(sinh),
    ENTRY(cosh),     ENTRY(tanh),       ENTRY(arcsinh),  ENTRY(arccosh),    ENTRY(arctanh),
    ENTRY(sigmoid),  ENTRY(erf),        ENTRY(erfinv),   ENTRY(floor),      ENTRY(ceil),
    ENTRY(round),    ENTRY(isnan),      ENTRY(isinf),    ENTRY(isfinite),   ENTRY(isposinf),
    ENTRY(isneginf), ENTRY(logical_not), ENTRY(bitwise_invert), ENTRY(degrees),
    ENTRY(radians),  ENTRY(real),       ENTRY(imag),     ENTRY(conjugate),  ENTRY(stop_gradient),
    ENTRY(nan_to_num),
};

/* ------------------------------------------------------------ semantics */

static void test_result_dtypes(void) {
  mx_array i = mx_array_from_int(4), b = mx_array_from_bool(true);
  mx_array h = mx_array_scalar(0.5, MX_BFLOAT16), c = mx_array_from_complex(3, 4);
  mx_array u = mx_array_scalar(9, MX_UINT8);
  struct {
    mx_array r;
    mx_dtype want;
  } t[] = {
      {mx_exp(i), MX_FLOAT32},        {mx_sqrt(u), MX_FLOAT32},      {mx_sin(b), MX_FLOAT32},
      {mx_sigmoid(i), MX_FLOAT32},    {mx_erf(h), MX_BFLOAT16},      {mx_abs(c), MX_FLOAT32},
      {mx_abs(i), MX_INT32},          {mx_square(u), MX_UINT8},      {mx_sign(b), MX_BOOL},
      {mx_isnan(i), MX_BOOL},         {mx_isposinf(u), MX_BOOL},     {mx_real(c), MX_FLOAT32},
      {mx_imag(i), MX_INT32},         {mx_floor(i), MX_INT32},       {mx_round(i, -1), MX_INT32},
      {mx_degrees(i), MX_FLOAT32},    {mx_reciprocal(i), MX_FLOAT32}, {mx_exp(c), MX_COMPLEX64},
      {mx_bitwise_invert(b), MX_BOOL}, {mx_logical_not(c), MX_BOOL},
      {mx_nan_to_num(i, 0, NULL, NULL), MX_INT32}, {mx_stop_gradient(h), MX_BFLOAT16},
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
  mx_array r = mx_abs(c);
  CHECK(mx_array_item_double(r, &v) == MX_OK && v == 5);
  mx_array_free(r);
  r = mx_isposinf(i);
  bool bv = true;
  CHECK(mx_array_item_bool(r, &bv) == MX_OK && !bv);
  mx_array_free(r);
  r = mx_isfinite(u);
  CHECK(mx_array_item_bool(r, &bv) == MX_OK && bv);
  mx_array_free(r);
  mx_array arr[] = {i, b, h, c, u};
  for (int k = 0; k < 5; k++) mx_array_free(arr[k]);
}

static void test_values(void) {
  /* sign(NaN) is 0 on MLX's CPU backend; sigmoid saturates without NaN. */
  float xv[] = {NAN, -3, 0, 5, -INFINITY, INFINITY, -100, 100};
  int64_t n = 8;
  mx_array x = mx_array_from_data(xv, &n, 1, MX_FLOAT32);
  mx_array s = mx_sign(x), g = mx_sigmoid(x), e = mx_erfinv(x);
  const float *sp = mx_array_data(s), *gp = mx_array_data(g), *ep = mx_array_data(e);
  CHECK(sp && sp[0] == 0 && sp[1] == -1 && sp[2] == 0 && sp[3] == 1);
  CHECK(gp && isnan(gp[0]) && gp[4] == 0 && gp[5] == 1 && gp[6] >= 0 && gp[6] < 1e-40f &&
        gp[7] == 1);
  CHECK(ep && isnan(ep[0]) && isnan(ep[1]) && ep[2] == 0 && isnan(ep[4]));
  mx_array_free(s);
  mx_array_free(g);
  mx_array_free(e);
  mx_array_free(x);
  /* erfinv(+-1) = +-inf, and erf(erfinv(y)) = y closely in f64. */
  double yv[] = {1, -1, 0.5, -0.999999999, 1e-300, 0.9999999999999};
  int64_t m = 6;
  mx_array y = mx_array_from_data(yv, &m, 1, MX_FLOAT64);
  mx_array ei = mx_erfinv(y);
  const double *ip = mx_array_data(ei);
  CHECK(ip && ip[0] == INFINITY && ip[1] == -INFINITY);
  bool ok = ip != NULL;
  for (int k = 2; k < 6 && ip; k++) {
    double back = erf(ip[k]);
    if (fabs(back - yv[k]) > 4e-16 * fabs(yv[k]) + 1e-300) ok = false;
  }
  CHECK(ok);
  mx_array_free(ei);
  mx_array_free(y);
  /* Integer abs/negative wrap at the minimum. */
  int8_t iv[] = {-128, -1, 127};
  int64_t k3 = 3;
  mx_array i8 = mx_array_from_data(iv, &k3, 1, MX_INT8);
  mx_array ab = mx_abs(i8), ng = mx_negative(i8);
  const int8_t *ap = mx_array_data(ab), *np_ = mx_array_data(ng);
  CHECK(ap && ap[0] == -128 && ap[1] == 1 && ap[2] == 127);
  CHECK(np_ && np_[0] == -128 && np_[1] == 1 && np_[2] == -127);
  mx_array_free(ab);
  mx_array_free(ng);
  mx_array_free(i8);
}

/* A temporary's buffer is reused by the next op; stop_gradient is a view. */
static void test_donation_and_views(void) {
  int64_t n = 1 << 18;
  float *v = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(i % 101) * 0.01f + 0.5f;
  /* Host memory accounting of the CPU backend: run it there. */
  mx_device prev = mx_default_device();
  mx_set_default_device((mx_device){MX_CPU, 0});
  mx_array a = mx_array_from_data(v, &n, 1, MX_FLOAT32);
  mx_array t1 = mx_log(a);
  mx_array t2 = mx_exp(t1);
  mx_array_free(t1);
  mx_array t3 = mx_negative(t2);
  mx_array_free(t2);
  size_t before = mx_memory_active();
  CHECK(mx_eval1(t3) == MX_OK);
  CHECK(mx_memory_active() - before == (size_t)n * 4); /* one buffer for the chain */
  const float *p = mx_array_data(t3);
  int bad = 0;
  for (int64_t i = 0; i < n && p; i++)
    if (fabsf(p[i] + v[i]) > 1e-6f * v[i]) bad++;
  CHECK(p && bad == 0);
  mx_array sg = mx_stop_gradient(t3);
  CHECK(mx_eval1(sg) == MX_OK && sg->buf == t3->buf);
  mx_array_free(sg);
  mx_array_free(t3);
  mx_array_free(a);
  free(v);
  mx_set_default_device(prev);
}

/* The vector exp / sigmoid / tanh (elementwise_simd_math.h) stay within
 * 2 ulp of the correctly rounded result over a dense sweep, tails and the
 * small-|x| polynomial range included, on whichever SIMD path this CPU
 * takes; f16 results of exp are the f32 result rounded once. */
static int64_t f32_order(float f) {
  int32_t i;
  memcpy(&i, &f, 4);
  return i < 0 ? (int64_t)INT32_MIN - i : i;
}
static double ref_fn(int op, double x) {
  if (op == 0) return exp(x);
  if (op == 1) return x < 0 ? exp(x) / (1 + exp(x)) : 1 / (1 + exp(-x));
  return tanh(x);
}
static void test_simd_accuracy(void) {
  int64_t n = 1 << 20;
  float *v = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    double t = (double)i / (double)n * 2 - 1;
    v[i] = (float)(i % 4 == 0 ? t * 95.0 : i % 4 == 1 ? t * 1.0 : i % 4 == 2 ? t * 12.0 : t * 1e-3);
  }
  mx_array a = mx_array_from_data(v, &n, 1, MX_FLOAT32);
  const char *names[3] = {"exp", "sigmoid", "tanh"};
  for (int op = 0; op < 3; op++) {
    mx_array r = op == 0 ? mx_exp(a) : op == 1 ? mx_sigmoid(a) : mx_tanh(a);
    const float *p = mx_array_data(r);
    int64_t worst = 0;
    for (int64_t i = 0; i < n && p; i++) {
      float w = (float)ref_fn(op, v[i]);
      if (isinf(w) && w == p[i]) continue;
      int64_t d = llabs(f32_order(w) - f32_order(p[i]));
      if (d > worst) worst = d;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "%s: max error %lld ulp", names[op], (long long)worst);
    CHECK_MSG(p && worst <= 2, msg);
    mx_array_free(r);
  }
  mx_array h = mx_astype(a, MX_FLOAT16), r = mx_exp(h), r32 = mx_astype(r, MX_FLOAT32);
  mx_array h32 = mx_astype(h, MX_FLOAT32), e32 = mx_exp(h32), e16 = mx_astype(e32, MX_FLOAT16);
  mx_array e16_32 = mx_astype(e16, MX_FLOAT32);
  const float *p1 = mx_array_data(r32), *p2 = mx_array_data(e16_32);
  CHECK(p1 && p2 && memcmp(p1, p2, (size_t)n * 4) == 0);
  mx_array arr[] = {h, r, r32, h32, e32, e16, e16_32, a};
  for (int k = 0; k < 8; k++) mx_array_free(arr[k]);
  free(v);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  mx_array b = mx_array_from_bool(true), c = mx_array_from_complex(1, 2);
  mx_array f = mx_array_from_float(1.5f);
  CHECK_ERR(mx_negative(b), MX_ERR_DTYPE, "negative");
  CHECK_ERR(mx_floor(c), MX_ERR_DTYPE, "floor");
  CHECK_ERR(mx_ceil(c), MX_ERR_DTYPE, "complex64");
  CHECK_ERR(mx_expm1(c), MX_ERR_DTYPE, "expm1");
  CHECK_ERR(mx_sigmoid(c), MX_ERR_DTYPE, "sigmoid");
  CHECK_ERR(mx_erf(c), MX_ERR_DTYPE, "erf");
  CHECK_ERR(mx_erfinv(c), MX_ERR_DTYPE, "erfinv");
  CHECK_ERR(mx_bitwise_invert(f), MX_ERR_DTYPE, "bitwise_invert");
  CHECK_ERR(mx_bitwise_invert(c), MX_ERR_DTYPE, "complex64");
  CHECK_ERR(mx_nan_to_num(c, 0, NULL, NULL), MX_ERR_DTYPE, "nan_to_num");
  CHECK_ERR(mx_round(f, 400), MX_ERR_INVALID_ARG, "round");
  CHECK_ERR(mx_exp(NULL), MX_ERR_NULL_INPUT, "exp");
  CHECK_ERR(mx_abs(NULL), MX_ERR_NULL_INPUT, "abs");
  CHECK_ERR(mx_round(NULL, 2), MX_ERR_NULL_INPUT, "round");
  CHECK_ERR(mx_nan_to_num(NULL, 0, NULL, NULL), MX_ERR_NULL_INPUT, "nan_to_num");
  CHECK_ERR(mx_clip(NULL, f, f), MX_ERR_NULL_INPUT, "clip");
  mx_array_free(b);
  mx_array_free(c);
  mx_array_free(f);
}

/* A bool result holds the byte 0 or 1 (glibc's isinf returns -1 for -inf:
 * it once reached the output as 0xff). */
static void test_class_bytes(void) {
  float f[4] = {-INFINITY, INFINITY, 1.0f, NAN};
  double d[4] = {-INFINITY, INFINITY, 1.0, NAN};
  int64_t sh[1] = {4};
  mx_array xs[2] = {mx_array_from_data(f, sh, 1, MX_FLOAT32),
                    mx_array_from_data(d, sh, 1, MX_FLOAT64)};
  const uint8_t want[3][4] = {{1, 1, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}};
  for (int k = 0; k < 2; k++) {
    mx_array r[3] = {mx_isinf(xs[k]), mx_isnan(xs[k]), mx_isfinite(xs[k])};
    for (int j = 0; j < 3; j++) {
      CHECK(r[j] && mx_eval1(r[j]) == MX_OK);
      const uint8_t *b = r[j] ? mx_array_data(r[j]) : NULL;
      CHECK_MSG(b && memcmp(b, want[j], 4) == 0, "isinf/isnan/isfinite bytes are 0 or 1");
      mx_array_free(r[j]);
    }
    mx_array_free(xs[k]);
  }
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "fixtures/unary";
  size_t base = mx_memory_active();
  fx_run_dir(dir, OPS, (int)(sizeof OPS / sizeof *OPS));
  test_result_dtypes();
  test_values();
  test_donation_and_views();
  test_simd_accuracy();
  test_errors();
  test_class_bytes();
  CHECK(mx_memory_active() == base);
  return check_summary();
}
