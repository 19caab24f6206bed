/* bench_core — the array core's hot paths against the machine and OpenBLAS.
 *
 * Prints, in one run: triad bandwidth (the roofline); f32 add / multiply of
 * 64 MiB arrays, full sum, softmax over rows of 4096, f16<->f32 conversion as
 * % of triad; sgemm 1024/2048/4096 through mx_matmul vs cblas_sgemm called
 * directly; bf16 GEMM GFLOP/s; graph overhead in microseconds per node.
 * Targets (issue 2): elementwise/reductions >= 70% of triad, sgemm >= 95% of
 * OpenBLAS, overhead <= 2 us per node. Usage: bench_core [--quick]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

static int reps = 5;

static mx_array make(int64_t n, mx_dtype t) {
  mx_array k = mx_random_key(7);
  mx_array a = mx_random_uniform(-1, 1, &n, 1, MX_FLOAT32, k);
  mx_array b = mx_astype(a, t);
  mx_eval1(b);
  mx_array_free(a);
  mx_array_free(k);
  return b;
}

/* Best time of `reps` evaluations of a freshly built graph. */
typedef mx_array (*build_fn)(mx_array *in);
static double time_op(build_fn f, mx_array *in) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    mx_array out = f(in);
    double t0 = now_sec();
    if (mx_eval1(out) != MX_OK) {
      fprintf(stderr, "bench: %s\n", mx_last_error());
      exit(1);
    }
    double dt = now_sec() - t0;
    mx_array_free(out);
    if (dt < best) best = dt;
  }
  return best;
}

static mx_array op_add(mx_array *in) { return mx_add(in[0], in[1]); }
static mx_array op_mul(mx_array *in) { return mx_multiply(in[0], in[1]); }
static mx_array op_sum(mx_array *in) { return mx_sum(in[0], NULL, 0, false); }
static mx_array op_softmax(mx_array *in) { return mx_softmax(in[0], (int[]){-1}, 1, false); }
static mx_array op_to_f32(mx_array *in) { return mx_astype(in[0], MX_FLOAT32); }
static mx_array op_to_f16(mx_array *in) { return mx_astype(in[0], MX_FLOAT16); }
static mx_array op_matmul(mx_array *in) { return mx_matmul(in[0], in[1]); }

static void row(const char *name, double bytes, double sec, double triad) {
  double gbs = bytes / sec / 1e9;
  printf("%-34s %9.3f ms %8.2f GB/s %6.1f%% of triad\n", name, sec * 1e3, gbs, 100 * gbs / triad);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  if (quick) reps = 2;
  const int64_t n = 16 << 20; /* 64 MiB of f32 */
  printf("mlxc %s bench_core (threads: %s)\n", mx_version(),
         getenv("MLXC_NUM_THREADS") ? getenv("MLXC_NUM_THREADS") : "all cores");
  double triad = triad_gbs((size_t)n, reps);
  printf("%-34s %24.2f GB/s (roofline)\n", "triad 3 x 64 MiB f32", triad);

  mx_array a = make(n, MX_FLOAT32), b = make(n, MX_FLOAT32);
  mx_array in2[2] = {a, b};
  row("add f32 64 MiB", 3.0 * n * 4, time_op(op_add, in2), triad);
  row("multiply f32 64 MiB", 3.0 * n * 4, time_op(op_mul, in2), triad);
  row("sum f32 64 MiB -> scalar", 1.0 * n * 4, time_op(op_sum, in2), triad);
  mx_array rows = mx_reshape(a, (int64_t[]){n / 4096, 4096}, 2);
  row("softmax rows of 4096 f32 (64 MiB)", 2.0 * n * 4, time_op(op_softmax, &rows), triad);
  mx_array h = make(n, MX_FLOAT16);
  row("astype f16 -> f32 (16M)", 6.0 * n, time_op(op_to_f32, &h), triad);
  row("astype f32 -> f16 (16M)", 6.0 * n, time_op(op_to_f16, &a), triad);
  mx_array_free(rows);
  mx_array_free(h);
  mx_array_free(a);
  mx_array_free(b);

  /* sgemm: mx_matmul vs cblas_sgemm on the same buffers. */
  int sizes[3] = {1024, 2048, 4096};
  for (int s = 0; s < (quick ? 2 : 3); s++) {
    int64_t m = sizes[s];
    mx_array x = make(m * m, MX_FLOAT32), y = make(m * m, MX_FLOAT32);
    mx_array xm = mx_reshape(x, (int64_t[]){m, m}, 2), ym = mx_reshape(y, (int64_t[]){m, m}, 2);
    mx_array in[2] = {xm, ym};
    int r0 = reps;
    reps = m >= 4096 ? 2 : 3;
    double t_mx = time_op(op_matmul, in);
    reps = r0;
    float *c = aligned_alloc(64, (size_t)(m * m) * 4);
    const float *px = mx_array_data(xm), *py = mx_array_data(ym);
    double t_blas = 1e30;
    for (int r = 0; r < (m >= 4096 ? 2 : 3); r++) {
      double t0 = now_sec();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)m, (int)m, 1.0f, px,
                  (int)m, py, (int)m, 0.0f, c, (int)m);
      double dt = now_sec() - t0;
      if (dt < t_blas) t_blas = dt;
    }
    double flop = 2.0 * m * m * m;
    printf("sgemm %-5lld mx_matmul %7.1f GFLOP/s  cblas_sgemm %7.1f GFLOP/s  %6.1f%% of OpenBLAS\n",
           (long long)m, flop / t_mx / 1e9, flop / t_blas / 1e9, 100 * t_blas / t_mx);
    free(c);
    mx_array_free(xm);
    mx_array_free(ym);
    mx_array_free(x);
    mx_array_free(y);
  }
  {
    int64_t m = 2048;
    mx_array x = make(m * m, MX_BFLOAT16), y = make(m * m, MX_BFLOAT16);
    mx_array xm = mx_reshape(x, (int64_t[]){m, m}, 2), ym = mx_reshape(y, (int64_t[]){m, m}, 2);
    mx_array in[2] = {xm, ym};
    double t = time_op(op_matmul, in);
    printf("bf16 gemm %lld: %.1f GFLOP/s\n", (long long)m, 2.0 * m * m * m / t / 1e9);
    mx_array_free(xm);
    mx_array_free(ym);
    mx_array_free(x);
    mx_array_free(y);
  }

  /* Graph overhead: a chain of tiny adds, built, evaluated and freed. */
  {
    const int nodes = 100000;
    mx_array one = mx_array_from_float(1.0f);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      double t0 = now_sec();
      mx_array c = mx_array_retain(one);
      for (int i = 0; i < nodes; i++) {
        mx_array nx = mx_add(c, one);
        mx_array_free(c);
        c = nx;
      }
      mx_eval1(c);
      mx_array_free(c);
      double dt = now_sec() - t0;
      if (dt < best) best = dt;
    }
    printf("graph overhead: %.3f us per node (build + eval + free, chain of %d scalar adds)\n",
           best / nodes * 1e6, nodes);
    mx_array_free(one);
  }
  return 0;
}
