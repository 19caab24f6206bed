/* test_quantized.c — MLX quantized formats: NumPy fixtures
 * (tests/ref/gen_quantized.py: quantize / dequantize bit-exact,
 * quantized_matmul and gather_qmm within the stated bounds), every decode
 * instruction set against the f32 path, empty inputs, and error paths. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static mx_quant_mode mode_of(const fx_case *c) {
  const char *m = fx_str(c, "mode", "affine");
  if (strcmp(m, "mxfp4") == 0) return MX_QUANT_MXFP4;
  if (strcmp(m, "nvfp4") == 0) return MX_QUANT_NVFP4;
  if (strcmp(m, "mxfp8") == 0) return MX_QUANT_MXFP8;
  return MX_QUANT_AFFINE;
}

static mx_array quantize_k(const fx_case *c, mx_array *in, int nin, int k) {
  mx_array out[3];
  if (mx_quantize(in[0], (int)fx_int(c, "gs", 64), (int)fx_int(c, "bits", 4), mode_of(c),
                  nin > 1 ? in[1] : NULL, out) < 0)
    return NULL;
  for (int i = 0; i < 3; i++)
    if (i != k) mx_array_free(out[i]);
  return out[k];
}
static mx_array op_qw(const fx_case *c, mx_array *in, int nin) { return quantize_k(c, in, nin, 0); }
static mx_array op_qs(const fx_case *c, mx_array *in, int nin) { return quantize_k(c, in, nin, 1); }
static mx_array op_qb(const fx_case *c, mx_array *in, int nin) { return quantize_k(c, in, nin, 2); }

static mx_array op_dequantize(const fx_case *c, mx_array *in, int nin) {
  bool affine = mode_of(c) == MX_QUANT_AFFINE;
  mx_array g = (!affine && nin > 2) ? in[2] : NULL;
  return mx_dequantize(in[0], in[1], affine ? in[2] : NULL, (int)fx_int(c, "gs", 64),
                       (int)fx_int(c, "bits", 4), mode_of(c), g,
                       fx_dtype(c, "dtype", MX_DTYPE_COUNT));
}

static mx_array op_qmm(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  bool affine = mode_of(c) == MX_QUANT_AFFINE;
  return mx_quantized_matmul(in[0], in[1], in[2], affine ? in[3] : NULL,
                             fx_int(c, "transpose", 1) != 0, (int)fx_int(c, "gs", 64),
                             (int)fx_int(c, "bits", 4), mode_of(c));
}

static mx_array op_gather(const fx_case *c, mx_array *in, int nin) {
  return mx_gather_qmm(in[0], in[1], in[2], in[3], in[nin - 2], in[nin - 1],
                       fx_int(c, "transpose", 1) != 0, (int)fx_int(c, "gs", 64),
                       (int)fx_int(c, "bits", 4), mode_of(c), fx_int(c, "sorted", 0) != 0);
}

static const fx_op ops[] = {{"quantize_w", op_qw},     {"quantize_s", op_qs},
                            {"quantize_b", op_qb},     {"dequantize", op_dequantize},
                            {"qmm", op_qmm},           {"gather_qmm", op_gather}};

/* ---- helpers ---- */

static mx_array randn(const int64_t *shape, int nd, uint32_t seed) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
  uint32_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    float u1 = ((s >> 8) + 1) / 16777217.0f;
    s = s * 1664525u + 1013904223u;
    float u2 = (s >> 8) / 16777216.0f;
    v[i] = sqrtf(-2 * logf(u1)) * cosf(6.2831853f * u2);
  }
  mx_array a = mx_array_from_data(v, shape, nd, MX_FLOAT32);
  free(v);
  return a;
}

/* Empty batch / rows: shapes right, nothing read. */
static void test_empty(void) {
  int64_t ws[2] = {0, 64};
  mx_array w = mx_zeros(ws, 2, MX_FLOAT32);
  mx_array q[3];
  CHECK(mx_quantize(w, 32, 4, MX_QUANT_AFFINE, NULL, q) == MX_OK);
  CHECK(mx_eval(&q[0], 1) == MX_OK && mx_array_shape(q[0])[0] == 0 && mx_array_shape(q[0])[1] == 8);
  CHECK(mx_array_shape(q[1])[1] == 2);
  int64_t xs[2] = {0, 64};
  int64_t ws2[2] = {5, 64};
  mx_array x = mx_zeros(xs, 2, MX_FLOAT32), w2 = randn(ws2, 2, 3);
  mx_array q2[3];
  CHECK(mx_quantize(w2, 32, 4, MX_QUANT_AFFINE, NULL, q2) == MX_OK);
  mx_array y = mx_quantized_matmul(x, q2[0], q2[1], q2[2], true, 32, 4, MX_QUANT_AFFINE);
  CHECK(y && mx_eval(&y, 1) == MX_OK && mx_array_shape(y)[0] == 0 && mx_array_shape(y)[1] == 5);
  mx_array_free(y);
  for (int i = 0; i < 3; i++) {
    mx_array_free(q[i]);
    mx_array_free(q2[i]);
  }
  mx_array_free(w);
  mx_array_free(w2);
  mx_array_free(x);
}

static void test_errors(void) {
  int64_t ws[2] = {4, 64}, xs[2] = {2, 64};
  mx_array w = randn(ws, 2, 1), x = randn(xs, 2, 2);
  mx_array q[3];
  mx_status st;
#define CHECK_QERR(expr, code, sub)                                                        \
  do {                                                                                     \
    mx_clear_error();                                                                      \
    st = (expr);                                                                           \
    check_report(st == (code) && strstr(mx_last_error(), (sub)) != NULL, __FILE__, __LINE__, \
                 #expr, mx_last_error());                                                  \
  } while (0)
  CHECK_QERR(mx_quantize(w, 48, 4, MX_QUANT_AFFINE, NULL, q), MX_ERR_INVALID_ARG, "group size 48");
  CHECK_QERR(mx_quantize(w, 32, 7, MX_QUANT_AFFINE, NULL, q), MX_ERR_INVALID_ARG, "bits 7");
  CHECK_QERR(mx_quantize(w, 32, 8, MX_QUANT_MXFP4, NULL, q), MX_ERR_INVALID_ARG,
             "mxfp4 quantization requires bits to be 4");
  CHECK_QERR(mx_quantize(w, 16, 4, MX_QUANT_MXFP4, NULL, q), MX_ERR_INVALID_ARG,
             "requires group size 32");
  CHECK_QERR(mx_quantize(w, 32, 4, (mx_quant_mode)9, NULL, q), MX_ERR_INVALID_ARG, "unknown");
  CHECK_QERR(mx_quantize(w, 128, 4, MX_QUANT_AFFINE, NULL, q), MX_ERR_SHAPE, "divisible");
  CHECK_QERR(mx_quantize(NULL, 32, 4, MX_QUANT_AFFINE, NULL, q), MX_ERR_NULL_INPUT, "quantize");
  mx_array g = mx_array_from_float(2.0f);
  CHECK_QERR(mx_quantize(w, 32, 4, MX_QUANT_AFFINE, g, q), MX_ERR_INVALID_ARG, "nvfp4");
  mx_array gi = mx_array_from_int(2);
  CHECK_QERR(mx_quantize(w, 16, 4, MX_QUANT_NVFP4, gi, q), MX_ERR_DTYPE, "float32");
  int64_t v1 = 64;
  mx_array w1 = randn(&v1, 1, 3);
  CHECK_QERR(mx_quantize(w1, 32, 4, MX_QUANT_AFFINE, NULL, q), MX_ERR_SHAPE, "at least 2");
  mx_array wi = mx_astype(w, MX_INT32);
  CHECK_QERR(mx_quantize(wi, 32, 4, MX_QUANT_AFFINE, NULL, q), MX_ERR_DTYPE, "int32");

  CHECK(mx_quantize(w, 32, 4, MX_QUANT_AFFINE, NULL, q) == MX_OK);
  CHECK_ERR(mx_dequantize(q[0], q[1], NULL, 32, 4, MX_QUANT_AFFINE, NULL, MX_DTYPE_COUNT),
            MX_ERR_INVALID_ARG, "biases must be provided");
  CHECK_ERR(mx_dequantize(q[0], q[1], q[2], 64, 4, MX_QUANT_AFFINE, NULL, MX_DTYPE_COUNT),
            MX_ERR_SHAPE, "does not match");
  CHECK_ERR(mx_dequantize(q[1], q[1], q[2], 32, 4, MX_QUANT_AFFINE, NULL, MX_DTYPE_COUNT),
            MX_ERR_DTYPE, "uint32");
  CHECK_ERR(mx_dequantize(q[0], q[1], q[2], 32, 4, MX_QUANT_AFFINE, NULL, MX_INT32), MX_ERR_DTYPE,
            "int32");
  CHECK_ERR(mx_dequantize(q[0], q[1], q[2], 32, 4, MX_QUANT_MXFP4, NULL, MX_DTYPE_COUNT),
            MX_ERR_DTYPE, "uint8");
  CHECK_ERR(mx_quantized_matmul(x, q[0], q[1], q[2], false, 32, 4, MX_QUANT_AFFINE), MX_ERR_SHAPE,
            "does not match the expanded quantized matrix");
  CHECK_ERR(mx_quantized_matmul(x, q[1], q[1], q[2], true, 32, 4, MX_QUANT_AFFINE), MX_ERR_DTYPE,
            "should be uint32");
  CHECK_ERR(mx_quantized_matmul(x, q[0], q[1], q[1], true, 32, 8, MX_QUANT_AFFINE), MX_ERR_SHAPE,
            "incompatible");
  mx_array xi = mx_astype(x, MX_INT32);
  mx_array qs16 = mx_astype(q[1], MX_FLOAT16), qb16 = mx_astype(q[2], MX_FLOAT16);
  mx_array xi8 = mx_astype(x, MX_COMPLEX64);
  CHECK_ERR(mx_quantized_matmul(xi8, q[0], qs16, qb16, true, 32, 4, MX_QUANT_AFFINE), MX_ERR_DTYPE,
            "x.dtype == complex64");
  CHECK_ERR(mx_quantized_matmul(NULL, q[0], q[1], q[2], true, 32, 4, MX_QUANT_AFFINE),
            MX_ERR_NULL_INPUT, "quantized_matmul");
  /* gather_qmm: indices out of range fail at eval, not crash. */
  int64_t ws3[3] = {2, 4, 64};
  mx_array w3 = randn(ws3, 3, 5), q3[3];
  CHECK(mx_quantize(w3, 32, 4, MX_QUANT_AFFINE, NULL, q3) == MX_OK);
  int32_t bad[2] = {0, 5};
  int64_t two = 2;
  mx_array ri = mx_array_from_data(bad, &two, 1, MX_INT32);
  int64_t xs3[3] = {1, 1, 64};
  mx_array x3 = randn(xs3, 3, 8);
  mx_array y = mx_gather_qmm(x3, q3[0], q3[1], q3[2], NULL, ri, true, 32, 4, MX_QUANT_AFFINE, false);
  CHECK(y != NULL);
  mx_clear_error();
  CHECK(mx_eval(&y, 1) == MX_ERR_INVALID_ARG && strstr(mx_last_error(), "out of range"));
  mx_array_free(y);
  mx_array fidx = mx_astype(ri, MX_FLOAT32);
  CHECK_ERR(mx_gather_qmm(x3, q3[0], q3[1], q3[2], NULL, fidx, true, 32, 4, MX_QUANT_AFFINE, false),
            MX_ERR_DTYPE, "integral");
  mx_array all[] = {w, x, g, gi, w1, wi, q[0], q[1], q[2], xi, qs16, qb16, xi8, w3,
                    q3[0], q3[1], q3[2], ri, x3, fidx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) mx_array_free(all[i]);
}

int main(int argc, char **argv) {
  if (argc > 1) fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof ops[0]));
  test_empty();
  test_errors();
  return check_summary();
}
