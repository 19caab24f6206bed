/* test_conv.c — conv1d/2d and conv_transpose1d/2d: NumPy fixtures
 * (tests/ref/gen_conv.py) plus argument errors and edge cases. */
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static void pair(const fx_case *c, const char *key, int dflt, int out[2]) {
  int64_t v[2] = {dflt, dflt};
  int n = fx_ints(c, key, v, 2);
  out[0] = (int)v[0];
  out[1] = (int)(n > 1 ? v[1] : v[0]);
}

static mx_array op_conv1d(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_conv1d(in[0], in[1], (int)fx_int(c, "stride", 1), (int)fx_int(c, "padding", 0),
                   (int)fx_int(c, "dilation", 1), (int)fx_int(c, "groups", 1));
}
static mx_array op_conv2d(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int s[2], p[2], d[2];
  pair(c, "stride", 1, s);
  pair(c, "padding", 0, p);
  pair(c, "dilation", 1, d);
  return mx_conv2d(in[0], in[1], s, p, d, (int)fx_int(c, "groups", 1));
}
static mx_array op_convt1d(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_conv_transpose1d(in[0], in[1], (int)fx_int(c, "stride", 1),
                             (int)fx_int(c, "padding", 0), (int)fx_int(c, "dilation", 1),
                             (int)fx_int(c, "output_padding", 0), (int)fx_int(c, "groups", 1));
}
static mx_array op_convt2d(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int s[2], p[2], d[2], o[2];
  pair(c, "stride", 1, s);
  pair(c, "padding", 0, p);
  pair(c, "dilation", 1, d);
  pair(c, "output_padding", 0, o);
  return mx_conv_transpose2d(in[0], in[1], s, p, d, o, (int)fx_int(c, "groups", 1));
}

static const fx_op ops[] = {
    {"conv1d", op_conv1d},
    {"conv2d", op_conv2d},
    {"conv_transpose1d", op_convt1d},
    {"conv_transpose2d", op_convt2d},
};

static mx_array arr(const int64_t *shape, int nd, mx_dtype dt) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (double)((i * 37) % 11) - 5;
  mx_array f = mx_array_from_data(v, shape, nd, MX_FLOAT64);
  free(v);
  mx_array r = mx_astype(f, dt);
  mx_array_free(f);
  return r;
}

static void test_errors(void) {
  int64_t xs[3] = {1, 8, 4}, ws[3] = {6, 3, 4}, wg[3] = {6, 3, 2}, w5[3] = {5, 3, 2};
  int64_t x4[4] = {1, 5, 5, 4}, w4[4] = {2, 3, 3, 4}, wbig[3] = {2, 9, 4};
  mx_array x = arr(xs, 3, MX_FLOAT32), w = arr(ws, 3, MX_FLOAT32), xi = arr(xs, 3, MX_INT32);
  mx_array wgp = arr(wg, 3, MX_FLOAT32), w5g = arr(w5, 3, MX_FLOAT32);
  mx_array x2 = arr(x4, 4, MX_FLOAT32), w2 = arr(w4, 4, MX_FLOAT32), wb = arr(wbig, 3, MX_FLOAT32);
  mx_array wc = arr(ws, 3, MX_COMPLEX64);
  CHECK_ERR(mx_conv1d(xi, w, 1, 0, 1, 1), MX_ERR_DTYPE, "conv1d: invalid input array with type int32");
  CHECK_ERR(mx_conv1d(x, wc, 1, 0, 1, 1), MX_ERR_DTYPE, "complex64");
  CHECK_ERR(mx_conv1d(x2, w, 1, 0, 1, 1), MX_ERR_SHAPE, "invalid input array with 4 dimensions for 1D");
  CHECK_ERR(mx_conv1d(x, w2, 1, 0, 1, 1), MX_ERR_SHAPE, "invalid weight array with 4 dimensions");
  CHECK_ERR(mx_conv1d(x, w, 1, 0, 1, 3), MX_ERR_SHAPE, "input channels must be divisible");
  CHECK_ERR(mx_conv1d(x, w5g, 1, 0, 1, 2), MX_ERR_SHAPE, "output channels must be divisible");
  CHECK_ERR(mx_conv1d(x, w, 1, 0, 1, 2), MX_ERR_SHAPE, "8 input channels expected, got 4");
  CHECK_ERR(mx_conv1d(x, wgp, 1, 0, 1, 1), MX_ERR_SHAPE, "2 input channels expected, got 4");
  CHECK_ERR(mx_conv1d(x, w, 1, 0, 1, 0), MX_ERR_INVALID_ARG, "groups must be positive");
  CHECK_ERR(mx_conv1d(x, w, 0, 0, 1, 1), MX_ERR_INVALID_ARG, "stride sizes must be positive");
  CHECK_ERR(mx_conv1d(x, w, 1, 0, 0, 1), MX_ERR_INVALID_ARG, "dilation sizes must be positive");
  CHECK_ERR(mx_conv1d(x, wb, 1, 0, 1, 1), MX_ERR_SHAPE, "cannot be smaller than weight");
  CHECK_ERR(mx_conv1d(x, w, 1, 0, 4, 1), MX_ERR_SHAPE, "axis 1 for input with shape (1,8,4)");
  int s0[2] = {1, 0}, one[2] = {1, 1}, zero[2] = {0, 0}, neg[2] = {-1, 0};
  CHECK_ERR(mx_conv2d(x2, w2, s0, zero, one, 1), MX_ERR_INVALID_ARG, "conv2d: stride");
  CHECK_ERR(mx_conv2d(x, w2, one, zero, one, 1), MX_ERR_SHAPE, "conv2d: invalid input array with 3 dimensions for 2D");
  CHECK_ERR(mx_conv_transpose1d(x, w, 0, 0, 1, 0, 1), MX_ERR_INVALID_ARG,
            "conv_transpose1d: stride sizes must be positive");
  CHECK_ERR(mx_conv_transpose1d(x, w, 1, 0, 1, -1, 1), MX_ERR_INVALID_ARG, "output_padding");
  CHECK_ERR(mx_conv_transpose2d(x2, w2, one, zero, s0, zero, 1), MX_ERR_INVALID_ARG,
            "conv_transpose2d: dilation");
  CHECK_ERR(mx_conv_transpose1d(xi, w, 1, 0, 1, 0, 1), MX_ERR_DTYPE, "conv_transpose1d");
  CHECK_ERR(mx_conv1d(NULL, w, 1, 0, 1, 1), MX_ERR_NULL_INPUT, "conv1d");
  /* negative padding crops the input, as MLX */
  mx_array r = mx_conv2d(x2, w2, one, neg, one, 1);
  CHECK(r && mx_array_shape(r)[1] == 1 && mx_array_shape(r)[2] == 3);
  mx_array_free(r);
  mx_array xs2[] = {x, w, xi, wgp, w5g, x2, w2, wb, wc};
  for (size_t i = 0; i < sizeof xs2 / sizeof *xs2; i++) mx_array_free(xs2[i]);
}

/* Empty batch and zero input channels. */
static void test_empty(void) {
  int64_t xs[3] = {0, 8, 4}, ws[3] = {6, 3, 4}, x0[3] = {2, 8, 0}, w0[3] = {6, 3, 0};
  mx_array x = arr(xs, 3, MX_FLOAT32), w = arr(ws, 3, MX_FLOAT32);
  mx_array r = mx_conv1d(x, w, 1, 0, 1, 1);
  CHECK(r && mx_array_shape(r)[0] == 0 && mx_array_shape(r)[1] == 6 && mx_eval1(r) == MX_OK);
  mx_array_free(r);
  mx_array xe = arr(x0, 3, MX_FLOAT32), we = arr(w0, 3, MX_FLOAT32);
  r = mx_conv1d(xe, we, 1, 0, 1, 1);
  float buf[2 * 6 * 6];
  CHECK(r && mx_array_size(r) == 72 && mx_array_copy_to(r, buf, sizeof buf, MX_FLOAT32) == MX_OK);
  int nz = 0;
  for (int i = 0; i < 72; i++) nz += buf[i] != 0;
  CHECK(nz == 0);
  mx_array_free(r);
  mx_array_free(x);
  mx_array_free(w);
  mx_array_free(xe);
  mx_array_free(we);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n > 30, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_conv FIXTURE_DIR");
  }
  test_errors();
  test_empty();
  CHECK_MSG(mx_memory_active() == mem0, "no arrays leaked");
  return check_summary();
}
