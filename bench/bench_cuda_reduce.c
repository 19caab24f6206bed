/* bench_cuda_reduce — the reduction family's CUDA kernels against the
 * device-to-device copy bandwidth measured in the same run (bytes read +
 * written per second): sums over rows and columns of a 4096x4096 f32,
 * softmax and logsumexp of 32x151936 (a batch of vocabulary logits) in f32
 * and bf16, argmax / cumsum / sort of one 151936 row (greedy and top-p
 * sampling). Effective GB/s counts the input read once and the output
 * written once. Without a usable GPU it says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

typedef struct bctx {
  mx_array x;
  int kind;
  int axis;
} bctx;

enum { B_SUM_ROWS, B_SUM_COLS, B_SOFTMAX, B_LSE, B_ARGMAX, B_CUMSUM, B_SORT, B_ARGSORT };

static void run_op(void *p) {
  bctx *c = p;
  int ax = c->axis;
  mx_array r = NULL;
  switch (c->kind) {
    case B_SUM_ROWS:
    case B_SUM_COLS: r = mx_sum(c->x, &ax, 1, false); break;
    case B_SOFTMAX: r = mx_softmax(c->x, &ax, 1, true); break;
    case B_LSE: r = mx_logsumexp(c->x, &ax, 1, false); break;
    case B_ARGMAX: r = mx_argmax(c->x, ax, false); break;
    case B_CUMSUM: r = mx_cumsum(c->x, ax, false, true); break;
    case B_SORT: r = mx_sort(c->x, ax); break;
    default: r = mx_argsort(c->x, ax); break;
  }
  mx_eval1(r);
  mx_array_free(r);
}

static void bench(const char *name, int kind, const int64_t *shape, int nd, mx_dtype t, int axis,
                  double bytes, double roof) {
  mx_array key = mx_random_key(7);
  mx_array x = mx_random_normal(shape, nd, t, 0.0, 1.0, key);
  mx_eval1(x);
  bctx c = {x, kind, axis};
  int64_t fb = gpu_fallback_count();
  double s = gpu_time_best(run_op, &c, 1, 20);
  double gbs = bytes / s / 1e9;
  printf("%-34s %9.1f us  %7.0f GB/s  %5.1f%% of copy%s\n", name, s * 1e6, gbs,
         roof > 0 ? 100.0 * gbs / roof : 0.0,
         gpu_fallback_count() != fb ? "  (CPU FALLBACK)" : "");
  mx_array_free(x);
  mx_array_free(key);
}

int main(void) {
  if (!bench_gpu_start("bench_cuda_reduce")) return 0;
  double roof = cuda_copy_gbs();
  printf("device-to-device copy: %.0f GB/s (read + write) — the roofline below\n", roof);
  int64_t sq[2] = {4096, 4096}, lg[2] = {32, 151936}, row[2] = {1, 151936};
  double nsq = 4096.0 * 4096.0, nlg = 32.0 * 151936.0, nrow = 151936.0;
  bench("sum rows 4096x4096 f32", B_SUM_ROWS, sq, 2, MX_FLOAT32, 1, 4 * nsq + 4 * 4096, roof);
  bench("sum cols 4096x4096 f32", B_SUM_COLS, sq, 2, MX_FLOAT32, 0, 4 * nsq + 4 * 4096, roof);
  bench("sum rows 4096x4096 bf16", B_SUM_ROWS, sq, 2, MX_BFLOAT16, 1, 2 * nsq + 2 * 4096, roof);
  bench("softmax 32x151936 f32", B_SOFTMAX, lg, 2, MX_FLOAT32, 1, 8 * nlg, roof);
  bench("softmax 32x151936 bf16", B_SOFTMAX, lg, 2, MX_BFLOAT16, 1, 4 * nlg, roof);
  bench("logsumexp 32x151936 f32", B_LSE, lg, 2, MX_FLOAT32, 1, 4 * nlg, roof);
  bench("argmax 1x151936 f32", B_ARGMAX, row, 2, MX_FLOAT32, 1, 4 * nrow, roof);
  bench("argmax 32x151936 f32", B_ARGMAX, lg, 2, MX_FLOAT32, 1, 4 * nlg, roof);
  bench("cumsum 1x151936 f32", B_CUMSUM, row, 2, MX_FLOAT32, 1, 8 * nrow, roof);
  bench("sort 1x151936 f32", B_SORT, row, 2, MX_FLOAT32, 1, 8 * nrow, roof);
  bench("argsort 1x151936 f32", B_ARGSORT, row, 2, MX_FLOAT32, 1, 8 * nrow, roof);
  bench("argsort 32x151936 f32", B_ARGSORT, lg, 2, MX_FLOAT32, 1, 8 * nlg, roof);
  return 0;
}
