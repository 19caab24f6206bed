/* test_gguf_quantize.c — mx_gguf_quantize: NumPy fixtures (bit-exact blocks
 * against a port of llama.cpp's reference quantizers, and dequantized round
 * trips, tests/ref/gen_gguf_quantize.py), then in C: the quantization error
 * bound, a product through mx_gguf_matmul, a GGUF file round trip, and every
 * error path. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "fixture.h"
#include "mlxc/gguf.h"
#include "mlxc/quantized.h"

static mx_array quantize(mx_array w, mx_ggml_type t) {
  mx_array b = NULL;
  if (mx_gguf_quantize(w, t, &b) != MX_OK) return NULL;
  return b;
}

static mx_array fx_quantize(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return quantize(in[0], (mx_ggml_type)fx_int(c, "type", 0));
}

static mx_array fx_roundtrip(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  mx_ggml_type t = (mx_ggml_type)fx_int(c, "type", 0);
  mx_array b = quantize(in[0], t);
  if (!b) return NULL;
  mx_array d = mx_gguf_dequantize(b, t, mx_array_dim(in[0], -1), MX_FLOAT32);
  mx_array_free(b);
  return d;
}

static const fx_op ops[] = {{"gguf_quantize", fx_quantize}, {"gguf_roundtrip", fx_roundtrip}};

static float *rand_floats(int64_t n, unsigned seed) {
  float *x = malloc((size_t)n * sizeof *x);
  srand(seed);
  for (int64_t i = 0; i < n; i++) x[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.2f;
  return x;
}

/* Dequantized values are within half a step of the input plus the scale's
 * f16 rounding: d/2 per block for Q8_0 (d = amax/127) and Q4_0 (d = |max|/8;
 * +8.5 then truncation rounds to nearest; but the range is asymmetric,
 * [-8, 7] steps, and the clamp at 15 moves a value of the sign opposite to
 * max and magnitude above 7.5 d by up to a whole step), plus |q| * |d - f16(d)| <= amax * 2^-11 (we allow
 * 2^-10). */
static bool truthy(mx_array a) {
  bool v = false;
  bool ok = a && mx_array_item_bool(a, &v) == MX_OK && v;
  mx_array_free(a);
  return ok;
}

static void test_error_bound(void) {
  const int64_t rows = 17, cols = 128;
  float *x = rand_floats(rows * cols, 7);
  int64_t shape[2] = {rows, cols};
  mx_array w = mx_array_from_data(x, shape, 2, MX_FLOAT32);
  mx_ggml_type types[2] = {MX_GGML_Q8_0, MX_GGML_Q4_0};
  for (int ti = 0; ti < 2; ti++) {
    mx_array b = quantize(w, types[ti]);
    mx_array d = mx_gguf_dequantize(b, types[ti], cols, MX_FLOAT32);
    CHECK(mx_eval1(d) == MX_OK);
    const float *y = mx_array_data(d);
    int bad = 0;
    for (int64_t blk = 0; blk < rows * cols / 32; blk++) {
      float amax = 0;
      for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[blk * 32 + j]));
      float step = ti == 0 ? amax / 127.0f : amax / 8.0f;
      for (int j = 0; j < 32; j++) {
        float xv = x[blk * 32 + j];
        float half = ti == 1 && fabsf(xv) > 7.5f * step ? step : step * 0.5f;
        if (fabsf(y[blk * 32 + j] - xv) > half + amax * 0x1p-10f + 1e-7f) bad++;
      }
    }
    CHECK_MSG(bad == 0, mx_ggml_type_name(types[ti]));
    /* The product through the GGUF matmul matches the dequantized one. */
    int64_t xs[2] = {1, cols};
    float *a = rand_floats(cols, 11);
    mx_array xa = mx_array_from_data(a, xs, 2, MX_FLOAT32);
    mx_array got = mx_gguf_matmul(xa, b, types[ti], cols);
    mx_array dt = mx_transpose(d, NULL, 0);
    mx_array want = mx_matmul(xa, dt);
    CHECK(truthy(mx_allclose(got, want, 1e-2, 1e-3, false)));
    mx_array_free(got);
    mx_array_free(dt);
    mx_array_free(want);
    mx_array_free(xa);
    free(a);
    mx_array_free(b);
    mx_array_free(d);
  }
  mx_array_free(w);
  free(x);
}

/* Quantized blocks written with the GGUF writer read back identically. */
static void test_gguf_file(void) {
  int64_t shape[2] = {4, 64};
  float *x = rand_floats(4 * 64, 3);
  mx_array w = mx_array_from_data(x, shape, 2, MX_FLOAT32);
  mx_array b = quantize(w, MX_GGML_Q4_0);
  CHECK(b && mx_eval1(b) == MX_OK);
  char path[] = "/tmp/mlxc-gq-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  mx_gguf_writer *wr = mx_gguf_writer_new();
  CHECK(mx_gguf_writer_add_blocks(wr, "w", MX_GGML_Q4_0, shape, 2, b) == MX_OK);
  CHECK(mx_gguf_writer_write(wr, path) == MX_OK);
  mx_gguf_writer_free(wr);
  mx_gguf *g = mx_gguf_open(path);
  CHECK(g != NULL);
  if (g) {
    CHECK(mx_gguf_tensor_type(g, 0) == MX_GGML_Q4_0);
    mx_array r = mx_gguf_tensor(g, 0);
    CHECK(r && truthy(mx_array_equal(r, b, false)));
    mx_array_free(r);
    mx_gguf_close(g);
  }
  unlink(path);
  mx_array_free(b);
  mx_array_free(w);
  free(x);
}

static mx_array quant_status(mx_array w, mx_ggml_type t) {
  mx_array b = quantize(w, t);
  if (b && mx_eval1(b) != MX_OK) {
    mx_array_free(b);
    return NULL;
  }
  return b;
}

static void test_errors(void) {
  int64_t s33[2] = {2, 33}, s0[2] = {2, 0}, s64[2] = {2, 64};
  mx_array odd = mx_zeros(s33, 2, MX_FLOAT32), empty = mx_zeros(s0, 2, MX_FLOAT32);
  mx_array ints = mx_zeros(s64, 2, MX_INT32), ok = mx_zeros(s64, 2, MX_FLOAT32);
  mx_array scalar = mx_array_from_float(1.0f);
  CHECK_ERR(quantize(odd, MX_GGML_Q8_0), MX_ERR_SHAPE, "multiple of the q8_0 block size 32");
  CHECK_ERR(quantize(empty, MX_GGML_Q4_0), MX_ERR_SHAPE, "last dimension (0");
  CHECK_ERR(quantize(scalar, MX_GGML_Q4_0), MX_ERR_SHAPE, "at least 1 dimension");
  CHECK_ERR(quantize(ints, MX_GGML_Q8_0), MX_ERR_DTYPE, "got int32");
  CHECK_ERR(quantize(ok, MX_GGML_Q4_K), MX_ERR_UNSUPPORTED, "q4_K is not supported");
  CHECK_ERR(quantize(ok, (mx_ggml_type)99), MX_ERR_INVALID_ARG, "unknown ggml type 99");
  CHECK_ERR(quantize(NULL, MX_GGML_Q8_0), MX_ERR_INVALID_ARG, "NULL weight");
  mx_clear_error();
  CHECK(mx_gguf_quantize(ok, MX_GGML_Q8_0, NULL) == MX_ERR_INVALID_ARG);
  mx_clear_error();
  /* Non-finite values fail at evaluation, naming the first bad row. */
  float v[3 * 64] = {0};
  v[2 * 64 + 5] = NAN;
  v[1 * 64 + 63] = INFINITY;
  int64_t s3[2] = {3, 64};
  mx_array bad = mx_array_from_data(v, s3, 2, MX_FLOAT32);
  CHECK_ERR(quant_status(bad, MX_GGML_Q8_0), MX_ERR_INVALID_ARG, "row 1 holds a NaN");
  mx_array_free(bad);
  mx_array_free(odd);
  mx_array_free(empty);
  mx_array_free(ints);
  mx_array_free(ok);
  mx_array_free(scalar);
}

int main(int argc, char **argv) {
  if (argc > 1) fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof ops[0]));
  test_error_bound();
  test_gguf_file();
  test_errors();
  return check_summary();
}
