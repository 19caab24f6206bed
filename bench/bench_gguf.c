/* bench_gguf — GGUF block-quantized mat-vec (decode) against the machine.
 *
 * Prints, in one run: triad bandwidth; then x (1, K) @ W^T for W of
 * 4096 x 14336 and 14336 x 4096 (rows x cols) in q4_0, q8_0, q4_K, q6_K:
 * milliseconds (best of reps), effective GB/s of weight bytes and % of
 * triad, with llama.cpp's figures on the reference machine (2 threads,
 * 4096x14336 q4_0 2.49 ms, q4_K 1.80 ms) alongside; then one prefill line
 * (32 rows of x, q4_K) against cblas_sgemm on the same matrix in f32.
 * Usage: bench_gguf [--quick] [--isa scalar|avx2|vnni]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/ggml_blocks.h"
#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"
#include "mlxc/quantized.h"

static int reps = 20;

static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (uint32_t)(rs >> 20);
}

/* Random quants with small f16 super-scales, as a real model has. */
static mx_array make_blocks(mx_ggml_type t, int64_t rows, int64_t cols) {
  const ggml_format *f = ggml_format_of(t);
  int64_t rb = cols / f->block * f->bytes, nb = rows * (cols / f->block);
  uint8_t *b = malloc((size_t)(rows * rb));
  for (int64_t i = 0; i < rows * rb; i++) b[i] = (uint8_t)rnd();
  uint16_t d = 0x2000; /* ~0.0078 */
  for (int64_t i = 0; i < nb; i++) {
    uint8_t *p = b + i * f->bytes + (t == MX_GGML_Q6_K ? 208 : 0);
    p[0] = (uint8_t)d, p[1] = (uint8_t)(d >> 8);
    if (t == MX_GGML_Q4_1 || t == MX_GGML_Q4_K || t == MX_GGML_Q5_K) p[2] = 0, p[3] = 0x18;
  }
  mx_array a = mx_array_from_data(b, (int64_t[]){rows, rb}, 2, MX_UINT8);
  free(b);
  return a;
}

static mx_array make_x(int64_t m, int64_t k) {
  mx_array key = mx_random_key(3);
  mx_array x = mx_random_normal((int64_t[]){m, k}, 2, MX_FLOAT32, 0, 1, key);
  mx_eval1(x);
  mx_array_free(key);
  return x;
}

static double time_mm(mx_array x, mx_array w, mx_ggml_type t, int64_t cols) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    mx_array y = mx_gguf_matmul(x, w, t, cols);
    double t0 = now_sec();
    if (mx_eval1(y) != MX_OK) {
      fprintf(stderr, "bench_gguf: %s\n", mx_last_error());
      exit(1);
    }
    double dt = now_sec() - t0;
    mx_array_free(y);
    best = dt < best ? dt : best;
  }
  return best;
}

int main(int argc, char **argv) {
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = true;
    if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
      const char *s = argv[++i];
      ggml_force_isa(strcmp(s, "scalar") == 0 ? GGML_ISA_SCALAR
                     : strcmp(s, "avx2") == 0 ? GGML_ISA_AVX2
                                              : GGML_ISA_AVX512VNNI);
    }
  }
  if (quick) reps = 5;
  ggml_isa isa = ggml_isa_best();
  printf("threads %d, best integer path %s\n", cpu_thread_count(),
         isa == GGML_ISA_AVX512VNNI ? "avx512-vnni" : isa == GGML_ISA_AVX2 ? "avx2" : "scalar");
  double triad = triad_gbs((size_t)1 << 24, quick ? 3 : 10);
  printf("%-30s %30.2f GB/s (roofline)\n", "triad 3 x 64 MiB f32", triad);
  const mx_ggml_type types[] = {MX_GGML_Q4_0, MX_GGML_Q8_0, MX_GGML_Q4_K, MX_GGML_Q6_K};
  const int64_t shapes[2][2] = {{4096, 14336}, {14336, 4096}};
  for (int s = 0; s < 2; s++) {
    int64_t rows = shapes[s][0], cols = shapes[s][1];
    mx_array x = make_x(1, cols);
    for (int ti = 0; ti < 4; ti++) {
      mx_ggml_type t = types[ti];
      const ggml_format *f = ggml_format_of(t);
      mx_array w = make_blocks(t, rows, cols);
      double sec = time_mm(x, w, t, cols);
      double bytes = (double)rows * (double)(cols / f->block * f->bytes);
      double gbs = bytes / sec / 1e9;
      char name[64], ref[48] = "";
      snprintf(name, sizeof name, "%lldx%lld %s mat-vec", (long long)rows, (long long)cols,
               f->name);
      if (s == 0 && t == MX_GGML_Q4_0) snprintf(ref, sizeof ref, "  llama.cpp 2.49 ms");
      if (s == 0 && t == MX_GGML_Q4_K) snprintf(ref, sizeof ref, "  llama.cpp 1.80 ms");
      printf("%-30s %8.3f ms %7.2f GB/s %6.1f%% of triad%s\n", name, sec * 1e3, gbs,
             100 * gbs / triad, ref);
      mx_array_free(w);
    }
    mx_array_free(x);
  }
  /* Prefill: 32 rows through dequantize + sgemm vs sgemm on f32 weights. */
  {
    int64_t rows = 4096, cols = 14336, M = 32;
    mx_array w = make_blocks(MX_GGML_Q4_K, rows, cols);
    mx_array x = make_x(M, cols);
    double sec = time_mm(x, w, MX_GGML_Q4_K, cols);
    mx_array wf = mx_gguf_dequantize(w, MX_GGML_Q4_K, cols, MX_FLOAT32);
    mx_eval1(wf);
    float *y = malloc((size_t)(M * rows) * sizeof(float));
    double best = 1e30;
    for (int r = 0; r < (quick ? 2 : 5); r++) {
      double t0 = now_sec();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)rows, (int)cols, 1.0f,
                  mx_array_data(x), (int)cols, mx_array_data(wf), (int)cols, 0.0f, y, (int)rows);
      double dt = now_sec() - t0;
      best = dt < best ? dt : best;
    }
    printf("%-30s %8.3f ms  (cblas_sgemm on f32 weights %.3f ms)\n",
           "4096x14336 q4_K, 32 rows", sec * 1e3, best * 1e3);
    free(y);
    mx_array_free(wf);
    mx_array_free(x);
    mx_array_free(w);
  }
  return 0;
}
