/* test_creation.c — creation ops against NumPy fixtures (gen_creation.py),
 * plus large threaded fills, laziness and every error path. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static int get_shape(const fx_case *c, int64_t *shape) {
  int n = fx_ints(c, "shape", shape, MX_MAX_NDIM);
  return n < 0 ? 0 : n;
}

static mx_array op_full_scalar(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int nd = get_shape(c, sh);
  return mx_full_scalar(sh, nd, fx_double(c, "value", 0), fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_zeros(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int nd = get_shape(c, sh);
  return mx_zeros(sh, nd, fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_ones(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int nd = get_shape(c, sh);
  return mx_ones(sh, nd, fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_full(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t sh[MX_MAX_NDIM];
  int nd = get_shape(c, sh);
  return mx_full(sh, nd, in[0], fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_zeros_like(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_zeros_like(in[0]);
}
static mx_array op_ones_like(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_ones_like(in[0]);
}
static mx_array op_full_like(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_full_like(in[0], fx_double(c, "value", 0));
}
static mx_array op_arange(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  return mx_arange(fx_double(c, "start", 0), fx_double(c, "stop", 0), fx_double(c, "step", 1),
                   fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_linspace(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  return mx_linspace(fx_double(c, "start", 0), fx_double(c, "stop", 0), fx_int(c, "num", 50),
                     fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_eye(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  return mx_eye(fx_int(c, "n", 0), fx_int(c, "m", -1), fx_int(c, "k", 0),
                fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_identity(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  return mx_identity(fx_int(c, "n", 0), fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_tri(const fx_case *c, mx_array *in, int nin) {
  (void)in;
  (void)nin;
  return mx_tri(fx_int(c, "n", 0), fx_int(c, "m", -1), fx_int(c, "k", 0),
                fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array op_tril(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_tril(in[0], fx_int(c, "k", 0));
}
static mx_array op_triu(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_triu(in[0], fx_int(c, "k", 0));
}

static const fx_op ops[] = {
    {"full_scalar", op_full_scalar}, {"zeros", op_zeros},   {"ones", op_ones},
    {"full", op_full},               {"zeros_like", op_zeros_like},
    {"ones_like", op_ones_like},     {"full_like", op_full_like},
    {"arange", op_arange},           {"linspace", op_linspace},
    {"eye", op_eye},                 {"identity", op_identity},
    {"tri", op_tri},                 {"tril", op_tril},
    {"triu", op_triu},
};

/* Large outputs take the threaded fill: every element must be written. */
static void test_large_fills(void) {
  const mx_dtype types[] = {MX_BOOL, MX_UINT8, MX_INT16, MX_FLOAT16, MX_INT32, MX_FLOAT32,
                            MX_FLOAT64, MX_INT64, MX_COMPLEX64, MX_BFLOAT16};
  int64_t shape[2] = {1031, 1029};
  double *buf = malloc((size_t)(shape[0] * shape[1]) * sizeof(double));
  for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
    for (int v = 0; v < 3; v++) {
      double val = v == 0 ? 0.0 : v == 1 ? 1.0 : 3.0;
      mx_array a = v == 0   ? mx_zeros(shape, 2, types[t])
                   : v == 1 ? mx_ones(shape, 2, types[t])
                            : mx_full_scalar(shape, 2, val, types[t]);
      CHECK(a && !mx_array_is_evaluated(a)); /* lazy */
      CHECK(mx_array_copy_to(a, buf, (size_t)mx_array_size(a) * sizeof(double), MX_FLOAT64) == MX_OK);
      int64_t bad = 0;
      double want = types[t] == MX_BOOL ? (val != 0) : val;
      for (int64_t i = 0; i < mx_array_size(a); i++) bad += buf[i] != want;
      char msg[96];
      snprintf(msg, sizeof msg, "%s fill %g: %lld wrong", mx_dtype_name(types[t]), val, (long long)bad);
      CHECK_MSG(bad == 0, msg);
      mx_array_free(a);
    }
  }
  /* full with a row broadcast over many rows, and a large int arange. */
  mx_array row = mx_arange(0, 1029, 1, MX_FLOAT32);
  mx_array f = mx_full(shape, 2, row, MX_INT32);
  CHECK(mx_array_copy_to(f, buf, (size_t)mx_array_size(f) * sizeof(double), MX_FLOAT64) == MX_OK);
  int64_t bad = 0;
  for (int64_t i = 0; i < shape[0] * shape[1]; i++) bad += buf[i] != (double)(i % 1029);
  CHECK(bad == 0);
  mx_array ar = mx_arange(-5, 1e6 - 5, 1, MX_INT64);
  CHECK(mx_array_copy_to(ar, buf, (size_t)mx_array_size(ar) * sizeof(double), MX_FLOAT64) == MX_OK);
  bad = 0;
  for (int64_t i = 0; i < 1000000; i++) bad += buf[i] != (double)(i - 5);
  CHECK(bad == 0);
  /* tril of a large batch goes through the threaded row loop. */
  int64_t tsh[3] = {64, 100, 90};
  mx_array o = mx_ones(tsh, 3, MX_FLOAT32);
  mx_array tl = mx_tril(o, -3);
  CHECK(mx_array_copy_to(tl, buf, (size_t)mx_array_size(tl) * sizeof(double), MX_FLOAT64) == MX_OK);
  bad = 0;
  for (int64_t i = 0; i < 64 * 100 * 90; i++) {
    int64_t r = (i / 90) % 100, cc = i % 90;
    bad += buf[i] != (cc <= r - 3 ? 1.0 : 0.0);
  }
  CHECK(bad == 0);
  mx_array_free(o);
  mx_array_free(tl);
  mx_array_free(ar);
  mx_array_free(row);
  mx_array_free(f);
  free(buf);
}

/* Special float values survive full_scalar and arange's edge cases. */
static void test_values(void) {
  int64_t one = 1;
  mx_array a = mx_full_scalar(&one, 1, INFINITY, MX_FLOAT16);
  float v = 0;
  mx_array b = mx_astype(a, MX_FLOAT32);
  CHECK(mx_array_copy_to(b, &v, sizeof v, MX_FLOAT32) == MX_OK && isinf(v) && v > 0);
  mx_array_free(a);
  mx_array_free(b);
  /* arange(0, 5, inf) is [0]; arange(0, -5, inf) is empty (MLX). */
  a = mx_arange(0, 5, INFINITY, MX_FLOAT32);
  CHECK(a && mx_array_size(a) == 1);
  mx_array_free(a);
  a = mx_arange(0, -5, INFINITY, MX_FLOAT32);
  CHECK(a && mx_array_size(a) == 0);
  mx_array_free(a);
  /* Negative step: length ceil((stop - start) / step). */
  a = mx_arange(10, 0, -3, MX_INT32);
  int32_t iv[4];
  CHECK(mx_array_size(a) == 4 && mx_array_copy_to(a, iv, sizeof iv, MX_INT32) == MX_OK &&
        iv[0] == 10 && iv[3] == 1);
  mx_array_free(a);
  /* Empty shapes with a zero after a nonzero dim (not expressible in the
   * fixtures: see gen_creation.py). */
  a = mx_eye(4, 0, 0, MX_FLOAT32);
  CHECK(a && mx_array_dim(a, 0) == 4 && mx_array_dim(a, 1) == 0 && mx_eval1(a) == MX_OK);
  mx_array_free(a);
  int64_t sh30[3] = {2, 3, 0};
  b = mx_ones(sh30, 3, MX_INT8);
  a = mx_triu(b, 1);
  CHECK(a && mx_array_size(a) == 0 && mx_array_dim(a, 1) == 3 && mx_eval1(a) == MX_OK);
  mx_array_free(a);
  mx_array_free(b);
  a = mx_linspace(0, 1, 0, MX_FLOAT32);
  CHECK(a && mx_array_size(a) == 0 && mx_array_ndim(a) == 1);
  mx_array_free(a);
}

static void test_errors(void) {
  int64_t neg[2] = {3, -1}, ok[2] = {2, 3};
  CHECK_ERR(mx_zeros(neg, 2, MX_FLOAT32), MX_ERR_SHAPE, "zeros: negative dimension in shape (3,-1)");
  CHECK_ERR(mx_ones(ok, 2, (mx_dtype)77), MX_ERR_DTYPE, "ones: invalid dtype 77");
  CHECK_ERR(mx_full_scalar(ok, -1, 1.0, MX_FLOAT32), MX_ERR_SHAPE, "full: -1 dimensions");
  CHECK_ERR(mx_full_scalar(NULL, 2, 1.0, MX_FLOAT32), MX_ERR_INVALID_ARG, "full: shape is NULL");
  int64_t huge[3] = {INT64_MAX / 2, 4, 4};
  CHECK_ERR(mx_zeros(huge, 3, MX_UINT8), MX_ERR_SHAPE, "too many elements");
  mx_array v3 = mx_arange(0, 3, 1, MX_FLOAT32);
  int64_t bad_to[2] = {2, 4};
  CHECK_ERR(mx_full(bad_to, 2, v3, MX_FLOAT32), MX_ERR_SHAPE,
            "full: cannot broadcast vals of shape (3) to shape (2,4)");
  CHECK_ERR(mx_full(ok, 2, NULL, MX_FLOAT32), MX_ERR_NULL_INPUT, "full");
  CHECK_ERR(mx_zeros_like(NULL), MX_ERR_NULL_INPUT, "zeros_like");
  CHECK_ERR(mx_ones_like(NULL), MX_ERR_NULL_INPUT, "ones_like");
  CHECK_ERR(mx_full_like(NULL, 2), MX_ERR_NULL_INPUT, "full_like");
  CHECK_ERR(mx_arange(0, 10, 0, MX_FLOAT32), MX_ERR_INVALID_ARG, "arange: step must be nonzero");
  CHECK_ERR(mx_arange(0, 10, 1, MX_BOOL), MX_ERR_DTYPE, "arange: bool is not supported");
  CHECK_ERR(mx_arange(NAN, 10, 1, MX_FLOAT32), MX_ERR_INVALID_ARG, "arange: cannot compute the length");
  CHECK_ERR(mx_arange(0, INFINITY, 1, MX_FLOAT32), MX_ERR_INVALID_ARG, "cannot compute the length");
  CHECK_ERR(mx_arange(0, 1e10, 1, MX_FLOAT32), MX_ERR_INVALID_ARG, "exceed the maximum size");
  CHECK_ERR(mx_arange(0, 1, 1, (mx_dtype)-1), MX_ERR_DTYPE, "arange: invalid dtype");
  CHECK_ERR(mx_linspace(0, 1, -2, MX_FLOAT32), MX_ERR_INVALID_ARG, "linspace: number of samples -2");
  CHECK_ERR(mx_eye(-1, 3, 0, MX_FLOAT32), MX_ERR_INVALID_ARG, "eye: n = -1 must be non-negative");
  CHECK_ERR(mx_identity(-4, MX_FLOAT32), MX_ERR_INVALID_ARG, "identity: n = -4");
  CHECK_ERR(mx_tri(-2, 3, 0, MX_FLOAT32), MX_ERR_INVALID_ARG, "tri: n = -2");
  CHECK_ERR(mx_eye(INT64_MAX, INT64_MAX, 0, MX_FLOAT32), MX_ERR_SHAPE, "eye: shape");
  CHECK_ERR(mx_tril(v3, 0), MX_ERR_SHAPE, "tril: array must be at least 2-D, got shape (3)");
  CHECK_ERR(mx_triu(v3, 0), MX_ERR_SHAPE, "triu: array must be at least 2-D");
  CHECK_ERR(mx_tril(NULL, 0), MX_ERR_NULL_INPUT, "tril");
  mx_array_free(v3);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n > 100, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_creation FIXTURE_DIR");
  }
  test_large_fills();
  test_values();
  test_errors();
  CHECK(mx_memory_active() == mem0);
  return check_summary();
}
