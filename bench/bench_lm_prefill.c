/* bench_lm_prefill.c MODEL [T] [REPS] — where a prompt's prefill time goes
 * on the default device: building the lazy graph (mx_lm_forward over T
 * tokens), running eval on the cache state (for the GPU: enqueueing
 * kernels) and waiting for the device; tokens/s over the whole. One
 * untimed prefill of the same length first (allocator, cuBLAS, graphs).
 * In CUDA builds the last timed prefill runs between cudaProfilerStart and
 * cudaProfilerStop, so `ncu --profile-from-start off bench_lm_prefill ...`
 * profiles the kernels of exactly one prefill. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_profiler_api.h>
#endif

/* One prefill of T tokens into a fresh cache; adds its phases to t[3]. */
static int prefill(mx_lm_model *m, const int32_t *ids, int T, double t[3]) {
  mx_lm_cache *c = mx_lm_cache_new(m);
  if (!c) return -1;
  int64_t s[2] = {1, T};
  mx_array tok = mx_array_from_data(ids, s, 2, MX_INT32);
  double t0 = now_sec();
  mx_array logits = mx_lm_forward(m, tok, c);
  mx_array st[512];
  size_t ns = mx_lm_cache_state(c, st, 512);
  double t1 = now_sec();
  int rc = logits && ns <= 512 && mx_eval(st, ns) == MX_OK ? 0 : -1;
  double t2 = now_sec();
  mx_synchronize(mx_default_stream());
  double t3 = now_sec();
  t[0] += t1 - t0;
  t[1] += t2 - t1;
  t[2] += t3 - t2;
  for (size_t i = 0; i < ns && i < 512; i++) mx_array_free(st[i]);
  mx_array_free(logits);
  mx_array_free(tok);
  mx_lm_cache_free(c);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_lm_prefill MODEL [T] [REPS]\n");
    return 2;
  }
  int T = argc > 2 ? atoi(argv[2]) : 512, reps = argc > 3 ? atoi(argv[3]) : 3;
  if (T < 1 || reps < 1) {
    fprintf(stderr, "bench_lm_prefill: T and REPS must be positive\n");
    return 2;
  }
  mx_lm_model *m = mx_lm_load(argv[1]);
  if (!m) {
    fprintf(stderr, "load: %s\n", mx_last_error());
    return 1;
  }
  int32_t *ids = malloc((size_t)T * sizeof *ids);
  for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 7919 + 13) % mx_lm_vocab_size(m));
  double w[3] = {0, 0, 0}, t[3] = {0, 0, 0};
  if (prefill(m, ids, T, w)) {
    fprintf(stderr, "prefill: %s\n", mx_last_error());
    return 1;
  }
  for (int r = 0; r < reps; r++) {
#ifdef MLXC_HAVE_CUDA
    if (r == reps - 1) cudaProfilerStart();
#endif
    int rc = prefill(m, ids, T, t);
#ifdef MLXC_HAVE_CUDA
    if (r == reps - 1) cudaProfilerStop();
#endif
    if (rc) {
      fprintf(stderr, "prefill: %s\n", mx_last_error());
      return 1;
    }
  }
  double all = (t[0] + t[1] + t[2]) / reps;
  printf("prefill %d tokens on %s: %.1f tok/s; per prefill %.2f ms = build %.2f + eval %.2f + "
         "wait %.2f (warm-up %.2f ms)\n",
         T, mx_default_device().type == MX_GPU ? "gpu" : "cpu", T / all, 1e3 * all,
         1e3 * t[0] / reps, 1e3 * t[1] / reps, 1e3 * t[2] / reps, 1e3 * (w[0] + w[1] + w[2]));
  free(ids);
  mx_lm_free(m);
  return 0;
}
