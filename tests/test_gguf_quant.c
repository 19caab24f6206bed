/* test_gguf_quant.c — GGUF block formats: NumPy fixtures for
 * gguf_dequantize / gguf_matmul (tests/ref/gen_gguf_quant.py), then in C:
 * every SIMD path of the integer decode kernel against the scalar reference
 * and the scalar reference against float64, forced paths through the op,
 * errors, empty shapes, NaN activations, and a GGUF file round trip. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/cpu/ggml_blocks.h"
#include "fixture.h"
#include "mlxc/gguf.h"
#include "mlxc/quantized.h"

static mx_array fx_dequantize(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_gguf_dequantize(in[0], (mx_ggml_type)fx_int(c, "type", 0), fx_int(c, "cols", 0),
                            fx_dtype(c, "dtype", MX_FLOAT32));
}
static mx_array fx_matmul(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_gguf_matmul(in[0], in[1], (mx_ggml_type)fx_int(c, "type", 0), fx_int(c, "cols", 0));
}
static const fx_op ops[] = {{"gguf_dequantize", fx_dequantize}, {"gguf_matmul", fx_matmul}};

static const mx_ggml_type types[] = {MX_GGML_Q4_0, MX_GGML_Q4_1, MX_GGML_Q8_0,
                                     MX_GGML_Q4_K, MX_GGML_Q5_K, MX_GGML_Q6_K};
#define NTYPES 6

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}
static float frand(void) { return (float)(rnd() % 2000001) / 1e6f - 1.0f; }

/* Random blocks with sane f16 super-scales (random bytes elsewhere). */
static uint8_t *random_blocks(mx_ggml_type t, int64_t rows, int64_t cols) {
  const ggml_format *f = ggml_format_of(t);
  int64_t nb = rows * (cols / f->block);
  uint8_t *b = malloc((size_t)(nb * f->bytes) + 1);
  for (int64_t i = 0; i < nb * f->bytes; i++) b[i] = (uint8_t)rnd();
  for (int64_t i = 0; i < nb; i++) {
    uint8_t *p = b + i * f->bytes;
    uint16_t d = f32_to_f16(0.01f * frand()), m = f32_to_f16(0.002f * (frand() + 1.5f));
    int at = t == MX_GGML_Q6_K ? 208 : 0;
    p[at] = (uint8_t)d, p[at + 1] = (uint8_t)(d >> 8);
    if (t == MX_GGML_Q4_1 || t == MX_GGML_Q4_K || t == MX_GGML_Q5_K)
      p[2] = (uint8_t)m, p[3] = (uint8_t)(m >> 8);
  }
  return b;
}

typedef struct xq_buf {
  ggml_xq xq;
  void *mem;
} xq_buf;
static xq_buf make_xq(const float *x, int M, int64_t K) {
  xq_buf b;
  int64_t nb = K / 32;
  b.mem = malloc((size_t)(M * K) + (size_t)(M * nb) * 4 * sizeof(float));
  float *fl = b.mem;
  b.xq = (ggml_xq){M, K, (int8_t *)(fl + 4 * M * nb), fl, fl + M * nb, fl + 2 * M * nb};
  ggml_quantize_x(x, M, K, &b.xq);
  return b;
}

/* Every path agrees with the scalar reference, and the reference with a
 * float64 sum over the dequantized weights and the quantized activations,
 * to 1e-5 of sum |w x| (f32 scaling and summation of K/32 block terms). */
static void test_paths(void) {
  const int Ms[] = {1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t N = 37, Ks[] = {256, 1024};
  ggml_isa best = ggml_isa_best();
  printf("gguf_quant: best path %s\n",
         best == GGML_ISA_AVX512VNNI ? "avx512-vnni" : best == GGML_ISA_AVX2 ? "avx2" : "scalar");
  for (int ti = 0; ti < NTYPES; ti++)
    for (int ki = 0; ki < 2; ki++) {
      mx_ggml_type t = types[ti];
      const ggml_format *f = ggml_format_of(t);
      int64_t K = Ks[ki], rb = K / f->block * f->bytes;
      uint8_t *w = random_blocks(t, N, K);
      float *wd = malloc((size_t)(N * K) * sizeof(float));
      ggml_dequant_blocks_ref(t, w, wd, N * K / f->block);
      float *x = malloc((size_t)(8 * K) * sizeof(float));
      for (int64_t i = 0; i < 8 * K; i++) x[i] = 3 * frand();
      for (int mi = 0; mi < 8; mi++) {
        int M = Ms[mi];
        xq_buf xb = make_xq(x, M, K);
        float *y[3];
        for (int p = 0; p < 3; p++) {
          y[p] = malloc((size_t)(M * N) * sizeof(float));
          for (int64_t i = 0; i < M * N; i++) y[p][i] = NAN;
          ggml_dot_rows((ggml_isa)p, t, w, rb, 0, N, &xb.xq, y[p], N);
        }
        int bad_ref = 0, bad_path[3] = {0, 0, 0};
        for (int m = 0; m < M; m++)
          for (int64_t r = 0; r < N; r++) {
            double exact = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
              double xv = (double)xb.xq.d[m * (K / 32) + k / 32] * xb.xq.q[m * K + k];
              exact += (double)wd[r * K + k] * xv;
              mag += fabs((double)wd[r * K + k] * xv);
            }
            double tol = 1e-5 * mag + 1e-30, ref = y[0][m * N + r];
            if (!(fabs(ref - exact) <= tol)) bad_ref++;
            for (int p = 1; p < 3; p++)
              if (!(fabs(y[p][m * N + r] - ref) <= tol)) bad_path[p]++;
          }
        char msg[160];
        snprintf(msg, sizeof msg, "%s K=%lld M=%d: scalar vs f64 %d bad, avx2 %d, vnni %d",
                 f->name, (long long)K, M, bad_ref, bad_path[1], bad_path[2]);
        CHECK_MSG(bad_ref == 0 && bad_path[1] == 0 && bad_path[2] == 0, msg);
        for (int p = 0; p < 3; p++) free(y[p]);
        free(xb.mem);
      }
      free(x);
      free(wd);
      free(w);
    }
}

/* The op under each forced path gives the same result (decode for M < 16,
 * with M = 11 taking two passes of 8 + 3 rows). */
static void test_forced(void) {
  int64_t K = 512, N = 70;
  for (int ti = 0; ti < NTYPES; ti++) {
    mx_ggml_type t = types[ti];
    const ggml_format *f = ggml_format_of(t);
    int64_t rb = K / f->block * f->bytes;
    uint8_t *w = random_blocks(t, N, K);
    mx_array wa = mx_array_from_data(w, (int64_t[]){N, rb}, 2, MX_UINT8);
    float *x = malloc((size_t)(11 * K) * sizeof(float));
    for (int64_t i = 0; i < 11 * K; i++) x[i] = frand();
    mx_array xa = mx_array_from_data(x, (int64_t[]){11, K}, 2, MX_FLOAT32);
    float *got[3];
    for (int p = 0; p < 3; p++) {
      ggml_force_isa((ggml_isa)p);
      mx_array y = mx_gguf_matmul(xa, wa, t, K);
      got[p] = malloc((size_t)(11 * N) * sizeof(float));
      CHECK(mx_array_copy_to(y, got[p], (size_t)(11 * N) * sizeof(float), MX_FLOAT32) == MX_OK);
      mx_array_free(y);
    }
    ggml_force_isa(GGML_ISA_AUTO);
    /* Relative to the largest output: single outputs may cancel to ~0. */
    double worst = 0, big = 0;
    for (int64_t i = 0; i < 11 * N; i++) {
      big = fabs(got[0][i]) > big ? fabs(got[0][i]) : big;
      for (int p = 1; p < 3; p++) {
        double e = fabs((double)got[p][i] - got[0][i]);
        worst = e > worst ? e : worst;
      }
    }
    char msg[96];
    snprintf(msg, sizeof msg, "%s forced paths agree (worst %.3g of max %.3g)", f->name, worst,
             big);
    CHECK_MSG(big > 0 && worst <= 1e-5 * big, msg);
    for (int p = 0; p < 3; p++) free(got[p]);
    mx_array_free(xa);
    mx_array_free(wa);
    free(x);
    free(w);
  }
}

static void test_errors(void) {
  uint8_t z[2 * 144] = {0};
  mx_array b = mx_array_from_data(z, (int64_t[]){2, 144}, 2, MX_UINT8);
  mx_array b1 = mx_array_from_data(z, (int64_t[]){288}, 1, MX_UINT8);
  mx_array bf = mx_array_from_data(z, (int64_t[]){2, 36}, 2, MX_FLOAT32);
  mx_array x = mx_zeros((int64_t[]){3, 256}, 2, MX_FLOAT32);
  mx_array xi = mx_zeros((int64_t[]){3, 256}, 2, MX_INT32);
  mx_array xs = mx_zeros((int64_t[]){3, 250}, 2, MX_FLOAT32);
  mx_array x0 = mx_array_from_float(1.0f);
  CHECK_ERR(mx_gguf_dequantize(NULL, MX_GGML_Q4_K, 256, MX_FLOAT32), MX_ERR_NULL_INPUT, "");
  CHECK_ERR(mx_gguf_matmul(x, NULL, MX_GGML_Q4_K, 256), MX_ERR_NULL_INPUT, "");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q5_0, 256, MX_FLOAT32), MX_ERR_UNSUPPORTED,
            "gguf_dequantize: block type q5_0 is not supported");
  CHECK_ERR(mx_gguf_dequantize(b, (mx_ggml_type)99, 256, MX_FLOAT32), MX_ERR_INVALID_ARG,
            "unknown ggml type 99");
  CHECK_ERR(mx_gguf_dequantize(bf, MX_GGML_Q4_K, 256, MX_FLOAT32), MX_ERR_DTYPE,
            "blocks must be uint8 (rows, bytes per row), got float32");
  CHECK_ERR(mx_gguf_dequantize(b1, MX_GGML_Q4_K, 256, MX_FLOAT32), MX_ERR_SHAPE,
            "blocks must be 2-D (rows, bytes per row), got shape (288)");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q4_K, 100, MX_FLOAT32), MX_ERR_INVALID_ARG,
            "cols 100 is not a non-negative multiple of the q4_K block size 256");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q4_K, -256, MX_FLOAT32), MX_ERR_INVALID_ARG,
            "cols -256");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q4_K, 512, MX_FLOAT32), MX_ERR_SHAPE,
            "q4_K rows of 512 values take 288 bytes, but blocks has shape (2,144)");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q6_K, 256, MX_FLOAT32), MX_ERR_SHAPE,
            "q6_K rows of 256 values take 210 bytes");
  CHECK_ERR(mx_gguf_dequantize(b, MX_GGML_Q4_K, 256, MX_INT32), MX_ERR_DTYPE,
            "output dtype must be float32, float16 or bfloat16, got int32");
  CHECK_ERR(mx_gguf_matmul(xi, b, MX_GGML_Q4_K, 256), MX_ERR_DTYPE,
            "gguf_matmul: x must be float32, float16 or bfloat16, got int32");
  CHECK_ERR(mx_gguf_matmul(xs, b, MX_GGML_Q4_K, 256), MX_ERR_SHAPE,
            "gguf_matmul: x of shape (3,250) does not end in the weight's 256 columns");
  CHECK_ERR(mx_gguf_matmul(x0, b, MX_GGML_Q4_K, 256), MX_ERR_SHAPE, "x of shape ()");
  CHECK_ERR(mx_gguf_matmul(x, b, MX_GGML_Q8_0, 256), MX_ERR_SHAPE,
            "q8_0 rows of 256 values take 272 bytes");
  mx_array good = mx_gguf_matmul(x, b, MX_GGML_Q4_K, 256);
  CHECK(good && mx_array_ndim(good) == 2 && mx_array_dim(good, 1) == 2);
  mx_array_free(good);
  mx_array all[] = {b, b1, bf, x, xi, xs, x0};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mx_array_free(all[i]);
}

static void test_empty(void) {
  uint8_t z[4] = {0};
  /* No rows. */
  mx_array b0 = mx_array_from_data(z, (int64_t[]){0, 18}, 2, MX_UINT8);
  mx_array d0 = mx_gguf_dequantize(b0, MX_GGML_Q4_0, 32, MX_FLOAT16);
  CHECK(d0 && mx_eval1(d0) == MX_OK && mx_array_dim(d0, 0) == 0 && mx_array_dim(d0, 1) == 32);
  mx_array x = mx_ones((int64_t[]){2, 32}, 2, MX_FLOAT32);
  mx_array y0 = mx_gguf_matmul(x, b0, MX_GGML_Q4_0, 32);
  CHECK(y0 && mx_eval1(y0) == MX_OK && mx_array_size(y0) == 0 && mx_array_dim(y0, 1) == 0);
  /* No activation rows. */
  uint8_t blk[18] = {0};
  mx_array b1 = mx_array_from_data(blk, (int64_t[]){1, 18}, 2, MX_UINT8);
  mx_array xe = mx_zeros((int64_t[]){0, 32}, 2, MX_FLOAT32);
  mx_array ye = mx_gguf_matmul(xe, b1, MX_GGML_Q4_0, 32);
  CHECK(ye && mx_eval1(ye) == MX_OK && mx_array_dim(ye, 0) == 0 && mx_array_dim(ye, 1) == 1);
  /* No columns: x @ W^T is all zeros. */
  mx_array bz = mx_array_from_data(z, (int64_t[]){3, 0}, 2, MX_UINT8);
  mx_array xz = mx_zeros((int64_t[]){2, 0}, 2, MX_BFLOAT16);
  mx_array yz = mx_gguf_matmul(xz, bz, MX_GGML_Q6_K, 0);
  float out[6] = {1, 1, 1, 1, 1, 1};
  CHECK(yz && mx_array_dtype(yz) == MX_BFLOAT16 &&
        mx_array_copy_to(yz, out, sizeof out, MX_FLOAT32) == MX_OK);
  CHECK(out[0] == 0 && out[5] == 0);
  mx_array all[] = {b0, d0, x, y0, b1, xe, ye, bz, xz, yz};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) mx_array_free(all[i]);
}

/* A NaN activation makes the outputs it reaches NaN, on both paths. */
static void test_nan(void) {
  uint8_t *w = random_blocks(MX_GGML_Q8_0, 3, 64);
  mx_array wa = mx_array_from_data(w, (int64_t[]){3, 68}, 2, MX_UINT8);
  for (int rows = 1; rows <= 16; rows += 15) {
    float *x = calloc((size_t)rows * 64, sizeof(float));
    x[40] = NAN;
    mx_array xa = mx_array_from_data(x, (int64_t[]){rows, 64}, 2, MX_FLOAT32);
    mx_array y = mx_gguf_matmul(xa, wa, MX_GGML_Q8_0, 64);
    float out[48];
    CHECK(mx_array_copy_to(y, out, (size_t)rows * 3 * sizeof(float), MX_FLOAT32) == MX_OK);
    CHECK(isnan(out[0]) && isnan(out[2]));
    if (rows > 1) CHECK(!isnan(out[3]));
    mx_array_free(y);
    mx_array_free(xa);
    free(x);
  }
  mx_array_free(wa);
  free(w);
}

/* Blocks written to a GGUF file come back from mx_gguf_tensor as (rows,
 * bytes per row) and dequantize to the reference values. */
static void test_gguf_file(void) {
  char path[] = "/tmp/ggml-test-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  int64_t rows = 6, cols = 512;
  uint8_t *w[NTYPES];
  mx_gguf_writer *wr = mx_gguf_writer_new();
  for (int ti = 0; ti < NTYPES; ti++) {
    const ggml_format *f = ggml_format_of(types[ti]);
    w[ti] = random_blocks(types[ti], rows, cols);
    mx_array a = mx_array_from_data(w[ti], (int64_t[]){rows * cols / f->block * f->bytes}, 1,
                                    MX_UINT8);
    CHECK(mx_gguf_writer_add_blocks(wr, f->name, types[ti], (int64_t[]){rows, cols}, 2, a) ==
          MX_OK);
    mx_array_free(a);
  }
  CHECK(mx_gguf_writer_write(wr, path) == MX_OK);
  mx_gguf_writer_free(wr);
  mx_gguf *g = mx_gguf_open(path);
  CHECK(g != NULL);
  for (int ti = 0; g && ti < NTYPES; ti++) {
    const ggml_format *f = ggml_format_of(types[ti]);
    int64_t t = mx_gguf_find_tensor(g, f->name);
    mx_array blocks = mx_gguf_tensor(g, t);
    CHECK(mx_gguf_tensor_type(g, t) == types[ti]);
    mx_array d = mx_gguf_dequantize(blocks, mx_gguf_tensor_type(g, t), cols, MX_FLOAT32);
    float *want = malloc((size_t)(rows * cols) * sizeof(float));
    float *got = malloc((size_t)(rows * cols) * sizeof(float));
    ggml_dequant_blocks_ref(types[ti], w[ti], want, rows * cols / f->block);
    CHECK(mx_array_copy_to(d, got, (size_t)(rows * cols) * sizeof(float), MX_FLOAT32) == MX_OK);
    CHECK_MSG(memcmp(got, want, (size_t)(rows * cols) * sizeof(float)) == 0, f->name);
    free(want);
    free(got);
    mx_array_free(d);
    mx_array_free(blocks);
  }
  mx_gguf_close(g);
  for (int ti = 0; ti < NTYPES; ti++) free(w[ti]);
  unlink(path);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n >= 130, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_gguf_quant FIXTURE_DIR");
  }
  test_paths();
  test_forced();
  test_errors();
  test_empty();
  test_nan();
  test_gguf_file();
  CHECK_MSG(mx_memory_active() == mem0, "no arrays leaked");
  return check_summary();
}
