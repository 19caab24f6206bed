/* bench_lm_steps.c MODEL [N] — where a decode step's time goes on the
 * default device: building the lazy graph (mx_lm_forward + argmax), running
 * eval (for the GPU: enqueueing kernels), and waiting for the device. When
 * the host's share (build + eval) is close to the step time, decode is bound
 * by per-op host overhead, not by the device; when the wait dominates, by
 * the device. Also prints the nodes per step (MLXC_TRACE would list them). */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_lm_steps MODEL [N]\n");
    return 2;
  }
  int n = argc > 2 ? atoi(argv[2]) : 64;
  mx_lm_model *m = mx_lm_load(argv[1]);
  if (!m) {
    fprintf(stderr, "load: %s\n", mx_last_error());
    return 1;
  }
  mx_lm_cache *c = mx_lm_cache_new(m);
  int32_t id = 1;
  int64_t s1[2] = {1, 1};
  mx_array tok = mx_array_from_data(&id, s1, 2, MX_INT32);
  double t_build = 0, t_eval = 0, t_wait = 0, t_all0 = 0;
  for (int i = 0; i < n + 4; i++) {
    if (i == 4) t_all0 = now_sec(); /* 4 warm-up steps */
    double t0 = now_sec();
    mx_array logits = mx_lm_forward(m, tok, c);
    mx_array next = mx_argmax(logits, -1, false);
    mx_array nt = mx_astype(next, MX_INT32);
    double t1 = now_sec();
    if (mx_eval1(nt)) {
      fprintf(stderr, "eval: %s\n", mx_last_error());
      return 1;
    }
    double t2 = now_sec();
    /* Wait only every 8 steps, as generation would (it reads a token). */
    if (i % 8 == 7) mx_synchronize(mx_default_stream());
    double t3 = now_sec();
    if (i >= 4) {
      t_build += t1 - t0;
      t_eval += t2 - t1;
      t_wait += t3 - t2;
    }
    mx_array_free(logits);
    mx_array_free(next);
    mx_array_free(tok);
    tok = nt;
  }
  mx_synchronize(mx_default_stream());
  double total = now_sec() - t_all0;
  printf("%d decode steps on %s: %.1f tok/s; per step %.1f us = build %.1f + eval %.1f + wait %.1f\n",
         n, mx_default_device().type == MX_GPU ? "gpu" : "cpu", n / total, 1e6 * total / n,
         1e6 * t_build / n, 1e6 * t_eval / n, 1e6 * t_wait / n);
  mx_array_free(tok);
  mx_lm_cache_free(c);
  mx_lm_free(m);
  return 0;
}
