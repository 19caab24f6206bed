/* cmd_bench.c — `mlxc bench`: llama-bench's pp/tg figures for any model mlxc
 * loads, plus what they mean on this machine.
 *
 * ppN: N random prompt tokens through a fresh cache; as mlx-lm's prefill,
 * all but the last token only fill the cache (their logits are never
 * computed), the last gives logits — the work llama-bench's pp test does.
 * tgN: N single-token steps from an empty cache, each fed the argmax of the
 * previous logits (a real dependency chain, as in generation).
 * Each is repeated -r times; mean and standard deviation are printed.
 *
 * Decode reads every weight once per token, so its ceiling is read bandwidth
 * / weight bytes per token. The bandwidth is a STREAM triad measured in the
 * same run (this machine's bandwidth swings minute to minute, so only
 * ratios within one run mean anything); it runs last so its buffers do not
 * count in the peak resident memory. On the GPU (the default device when
 * one is present) the roofline is the device-to-device copy bandwidth
 * (bytes read + written per second), measured the same way, and every
 * timed step ends with a stream synchronization. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

int cmd_bench(int argc, char **argv);

static void usage(FILE *f) {
  fprintf(f,
          "usage: mlxc bench -m MODEL [-p 512] [-n 128] [-r 3]\n"
          "  -m, --model MODEL   a model folder or a .gguf file (no tokenizer needed)\n"
          "  -p, --n-prompt N    prompt tokens for the prefill test (ppN; 0 skips it)\n"
          "  -n, --n-gen N       generated tokens for the decode test (tgN; 0 skips it)\n"
          "  -r, --repetitions R runs of each test (mean and standard deviation)\n"
          "Prints load time, ppN and tgN tokens/s, peak memory against weights + KV cache,\n"
          "and decode speed as a share of the bandwidth roofline measured in the same run.\n");
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what) {
  fprintf(stderr, "mlxc bench: %s: %s\n", what, mx_last_error());
  return 1;
}

/* ------------------------------------------------------------ triad */

typedef struct triad_job {
  float *a, *b, *c;
  size_t begin, end;
  int fill;
} triad_job;

static void *triad_thread(void *p) {
  triad_job *j = p;
  if (j->fill) {
    for (size_t i = j->begin; i < j->end; i++) j->a[i] = j->b[i] = j->c[i] = (float)(i & 7);
  } else {
    float *restrict a = j->a;
    const float *restrict b = j->b, *restrict c = j->c;
    for (size_t i = j->begin; i < j->end; i++) a[i] = b[i] + 3.0f * c[i];
  }
  return NULL;
}

static void triad_pass(float *a, float *b, float *c, size_t n, int nt, int fill) {
  pthread_t th[64];
  triad_job jobs[64];
  for (int t = 0; t < nt; t++) {
    jobs[t] = (triad_job){a, b, c, n * (size_t)t / (size_t)nt, n * (size_t)(t + 1) / (size_t)nt,
                          fill};
    if (t > 0) pthread_create(&th[t], NULL, triad_thread, &jobs[t]);
  }
  triad_thread(&jobs[0]);
  for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
}

/* Best GB/s of `reps` triads a = b + s*c over n floats on every core,
 * counting 3 arrays of traffic as STREAM does; each thread first-touches
 * the part it later streams. */
static double triad_gbs(size_t n, int reps) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int nt = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
  float *a = aligned_alloc(64, n * 4), *b = aligned_alloc(64, n * 4), *c = aligned_alloc(64, n * 4);
  if (!a || !b || !c) {
    free(a);
    free(b);
    free(c);
    return 0;
  }
  triad_pass(a, b, c, n, nt, 1);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    triad_pass(a, b, c, n, nt, 0);
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  free(a);
  free(b);
  free(c);
  return 3.0 * (double)n * 4 / best / 1e9;
}

/* Best GB/s (read + write) of cudaMemcpy device to device over 1 GiB:
 * the GPU decode roofline. 0 when unavailable. */
static double gpu_copy_gbs(void) {
#ifdef MLXC_HAVE_CUDA
  size_t n = (size_t)1 << 30;
  void *a = NULL, *b = NULL;
  cudaEvent_t e0, e1;
  double best = 0;
  if (cudaMalloc(&a, n) || cudaMalloc(&b, n) || cudaEventCreate(&e0) || cudaEventCreate(&e1)) {
    cudaGetLastError();
    cudaFree(a);
    return 0;
  }
  for (int r = 0; r < 6; r++) {
    float ms = 0;
    cudaEventRecord(e0, 0);
    cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, 0);
    cudaEventRecord(e1, 0);
    if (cudaEventSynchronize(e1) || cudaEventElapsedTime(&ms, e0, e1)) break;
    if (r > 0 && ms > 0 && 2.0 * (double)n / (ms * 1e6) > best) best = 2.0 * (double)n / (ms * 1e6);
  }
  cudaGetLastError();
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  return best;
#else
  return 0;
#endif
}

static bool on_gpu(void) { return mx_default_device().type == MX_GPU; }

/* Waits for the GPU's queued work, so that timings include it. */
static void sync_device(void) {
  if (on_gpu()) mx_synchronize(mx_default_stream());
}

/* ------------------------------------------------------------ runs */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static int32_t rand_id(int64_t vocab) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (int32_t)(rng % (uint64_t)vocab);
}

static uint64_t kv_peak;

static void note_kv(mx_lm_cache *c) {
  uint64_t b = mx_lm_cache_nbytes(c);
  if (b > kv_peak) kv_peak = b;
}

/* One prefill of np tokens; returns seconds or -1. */
static double run_pp(mx_lm_model *m, int np) {
  int64_t V = mx_lm_vocab_size(m);
  int32_t *ids = malloc((size_t)np * sizeof *ids);
  for (int i = 0; i < np; i++) ids[i] = rand_id(V);
  mx_lm_cache *c = mx_lm_cache_new(m);
  double t = -1;
  if (!c) goto done;
  double t0 = now();
  if (np > 1) {
    int64_t s[2] = {1, np - 1};
    mx_array tok = mx_array_from_data(ids, s, 2, MX_INT32);
    mx_array logits = mx_lm_forward(m, tok, c);
    mx_array st[512];
    size_t ns = mx_lm_cache_state(c, st, 512);
    mx_status e = logits && ns <= 512 ? mx_eval(st, ns) : MX_ERR_INTERNAL;
    for (size_t i = 0; i < ns && i < 512; i++) mx_array_free(st[i]);
    mx_array_free(logits);
    mx_array_free(tok);
    if (e) goto done;
  }
  int64_t s1[2] = {1, 1};
  mx_array tok = mx_array_from_data(ids + np - 1, s1, 2, MX_INT32);
  mx_array logits = mx_lm_forward(m, tok, c);
  mx_status e = logits ? mx_eval1(logits) : MX_ERR_INTERNAL;
  mx_array_free(logits);
  mx_array_free(tok);
  sync_device();
  if (!e) t = now() - t0;
  note_kv(c);
done:
  mx_lm_cache_free(c);
  free(ids);
  return t;
}

/* n decode steps from an empty cache (after one untimed first token). */
static double run_tg(mx_lm_model *m, int n) {
  int64_t V = mx_lm_vocab_size(m);
  mx_lm_cache *c = mx_lm_cache_new(m);
  if (!c) return -1;
  int32_t id = rand_id(V);
  int64_t s1[2] = {1, 1};
  mx_array tok = mx_array_from_data(&id, s1, 2, MX_INT32);
  double t0 = 0, t = -1;
  for (int i = 0; i <= n; i++) {
    if (i == 1) t0 = now();
    mx_array logits = mx_lm_forward(m, tok, c);
    mx_array_free(tok);
    tok = NULL;
    if (!logits) break;
    mx_array next = mx_argmax(logits, -1, false); /* (1, 1) */
    mx_array_free(logits);
    if (!next || mx_eval1(next)) {
      mx_array_free(next);
      break;
    }
    tok = mx_astype(next, MX_INT32);
    mx_array_free(next);
    if (i == 0 || i == n) sync_device();
    if (i == n) t = now() - t0;
  }
  mx_array_free(tok);
  note_kv(c);
  mx_lm_cache_free(c);
  return n > 0 ? t : 0;
}

static void stats(const double *x, int n, double *mean, double *sd) {
  double s = 0, q = 0;
  for (int i = 0; i < n; i++) s += x[i];
  *mean = s / n;
  for (int i = 0; i < n; i++) q += (x[i] - *mean) * (x[i] - *mean);
  *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

static bool parse_nonneg(const char *s, int *out, int max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > max) return false;
  *out = (int)v;
  return true;
}

int cmd_bench(int argc, char **argv) {
  const char *model = NULL;
  int np = 512, ng = 128, reps = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    int *dst = NULL, max = 1 << 20;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
      if (!v) goto missing;
      model = v;
    } else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
      dst = &np;
    } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
      dst = &ng;
    } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
      dst = &reps, max = 1000;
    } else {
      fprintf(stderr, "mlxc bench: unknown argument '%s' (see mlxc bench --help)\n", a);
      return 2;
    }
    if (dst) {
      if (!v) goto missing;
      if (!parse_nonneg(v, dst, max)) {
        fprintf(stderr, "mlxc bench: %s: '%s' is not an integer in [0, %d]\n", a, v, max);
        return 2;
      }
    }
    i++;
    continue;
  missing:
    fprintf(stderr, "mlxc bench: %s needs a value (see mlxc bench --help)\n", a);
    return 2;
  }
  if (!model) {
    fprintf(stderr, "mlxc bench: -m MODEL is required (see mlxc bench --help)\n");
    return 2;
  }
  if (reps < 1) {
    fprintf(stderr, "mlxc bench: -r must be at least 1\n");
    return 2;
  }
  if (access(model, R_OK) != 0) {
    fprintf(stderr, "mlxc bench: cannot open '%s': %s\n", model, strerror(errno));
    return 2;
  }

  mx_memory_reset_peak();
  double t0 = now();
  mx_lm_model *m = mx_lm_load(model);
  double t_load = now() - t0;
  if (!m) return die("load");
  double wb = (double)mx_lm_weight_bytes(m);
  printf("model: %s (%s, %lld layers, vocab %lld, %s), weights read per token %.1f MB\n", model,
         mx_lm_model_type(m), (long long)mx_lm_num_layers(m), (long long)mx_lm_vocab_size(m),
         mx_dtype_name(mx_lm_dtype(m)), wb / 1e6);
  printf("load: %.3f s (mmap)\n", t_load);
  fflush(stdout);

  /* Warm-up, as llama-bench does: one untimed run of the measured prompt
   * length pages the weights in and leaves the allocator's cache, the GPU
   * pool and cuBLAS's choices for those shapes as the timed runs will find
   * them (a shorter warm-up left the first timed pp512 on the GPU twice as
   * slow as the second). */
  if (run_pp(m, np > 0 ? np : 2) < 0 || run_tg(m, 2) < 0) {
    mx_lm_free(m);
    return die("warm-up");
  }
  double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
  double pm = 0, psd = 0, tm = 0, tsd = 0;
  int rc = 0;
  for (int r = 0; r < reps && np > 0; r++) {
    double t = run_pp(m, np);
    if (t < 0) {
      rc = die("prefill");
      goto out;
    }
    pp[r] = np / t;
  }
  if (np > 0) {
    stats(pp, reps, &pm, &psd);
    printf("pp%d: %.2f ± %.2f tok/s (time to first token %.1f ms)\n", np, pm, psd,
           1e3 * np / pm);
    fflush(stdout);
  }
  for (int r = 0; r < reps && ng > 0; r++) {
    double t = run_tg(m, ng);
    if (t < 0) {
      rc = die("decode");
      goto out;
    }
    tg[r] = ng / t;
  }
  if (ng > 0) {
    stats(tg, reps, &tm, &tsd);
    printf("tg%d: %.2f ± %.2f tok/s\n", ng, tm, tsd);
  }
  size_t peak = mx_memory_peak();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss = (double)ru.ru_maxrss * 1024.0;
  double budget = wb + (double)kv_peak;
  printf("memory: peak RSS %.1f MB (allocator peak %.1f MB) vs weights %.1f MB + KV cache %.1f MB "
         "= %.1f MB: %+.1f%%\n",
         rss / 1e6, (double)peak / 1e6, wb / 1e6, (double)kv_peak / 1e6, budget / 1e6,
         100.0 * (rss - budget) / budget);
  double bw = on_gpu() ? gpu_copy_gbs() : 0;
  const char *bw_name = "GPU device-to-device copy";
  if (bw <= 0) {
    bw = triad_gbs((size_t)1 << 25, 5);
    bw_name = "triad";
  }
  double roof = bw * 1e9 / wb;
  printf("%s: %.2f GB/s -> decode roofline %.2f tok/s", bw_name, bw, roof);
  if (ng > 0) printf("; tg%d at %.1f%% of roofline", ng, 100.0 * tm / roof);
  printf("\n");
out:
  free(pp);
  free(tg);
  mx_lm_free(m);
  return rc;
}
