/* bench_fast — the fused kernels against the machine's bandwidth.
 *
 * Prints, in one run: triad bandwidth (the roofline); sdpa decode (1 query,
 * 4096 keys, 32 query heads over 8 KV heads, D = 128) with f16 and bf16
 * caches as GB/s of K/V streamed and % of triad, both with the cache cold
 * (the K/V bytes evicted from the CPU caches before each run, as in a model
 * whose layers' caches do not fit in L3) and hot (the same K/V again);
 * a Llama-1B-like decode (D = 64, 512..4096 keys, f16, cold);
 * rope and rms_norm GB/s (bytes read + written) and % of triad.
 * Usage: bench_fast [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

static int reps = 7;
static char *evict_buf;
static size_t evict_bytes = (size_t)512 << 20;

static mx_array make(const int64_t *shape, int nd, mx_dtype t, uint64_t seed) {
  mx_array k = mx_random_key(seed);
  mx_array a = mx_random_uniform(-1, 1, shape, nd, MX_FLOAT32, k);
  mx_array b = t == MX_FLOAT32 ? mx_array_retain(a) : mx_astype(a, t);
  mx_eval1(b);
  mx_array_free(a);
  mx_array_free(k);
  return b;
}

static void evict(void) {
  for (size_t i = 0; i < evict_bytes; i += 64) evict_buf[i]++;
}

typedef mx_array (*build_fn)(mx_array *in);
static double time_op(build_fn f, mx_array *in, bool cold) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    mx_array out = f(in);
    if (cold) evict();
    double t0 = now_sec();
    if (mx_eval1(out) != MX_OK) {
      fprintf(stderr, "bench_fast: %s\n", mx_last_error());
      exit(1);
    }
    double dt = now_sec() - t0;
    mx_array_free(out);
    if (dt < best) best = dt;
  }
  return best;
}

static mx_array op_sdpa(mx_array *in) {
  return mx_fast_scaled_dot_product_attention(in[0], in[1], in[2], 0.08838834764f,
                                              MX_SDPA_MASK_NONE, NULL, NULL);
}
static mx_array op_rope(mx_array *in) { return mx_fast_rope(in[0], 128, false, 10000, 1, 7, NULL); }
static mx_array op_rms(mx_array *in) { return mx_fast_rms_norm(in[0], in[1], 1e-5f); }

static void row(const char *name, double bytes, double sec, double triad) {
  double gbs = bytes / sec / 1e9;
  printf("%-44s %9.3f ms %8.2f GB/s %6.1f%% of triad\n", name, sec * 1e3, gbs, 100 * gbs / triad);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  if (quick) {
    reps = 3;
    evict_bytes = (size_t)128 << 20;
  }
  printf("mlxc %s bench_fast (threads: %s)\n", mx_version(),
         getenv("MLXC_NUM_THREADS") ? getenv("MLXC_NUM_THREADS") : "all cores");
  evict_buf = calloc(evict_bytes, 1);
  if (!evict_buf) return 1;
  double triad = triad_gbs((size_t)16 << 20, reps);
  printf("%-44s %24.2f GB/s (roofline)\n", "triad 3 x 64 MiB f32", triad);

  /* decode: K/V (1, 8, 4096, 128) per dtype; q in the cache's dtype */
  const int64_t Hq = 32, Hkv = 8, Tk = 4096, D = 128;
  mx_dtype kinds[2] = {MX_FLOAT16, MX_BFLOAT16};
  for (int i = 0; i < 2; i++) {
    mx_array in[3] = {make((int64_t[]){1, Hq, 1, D}, 4, kinds[i], 1),
                      make((int64_t[]){1, Hkv, Tk, D}, 4, kinds[i], 2),
                      make((int64_t[]){1, Hkv, Tk, D}, 4, kinds[i], 3)};
    double kv_bytes = 2.0 * Hkv * Tk * D * 2;
    char name[96];
    snprintf(name, sizeof name, "sdpa decode %s 32q/8kv x 4096 x 128, cold", mx_dtype_name(kinds[i]));
    row(name, kv_bytes, time_op(op_sdpa, in, true), triad);
    snprintf(name, sizeof name, "sdpa decode %s 32q/8kv x 4096 x 128, hot", mx_dtype_name(kinds[i]));
    row(name, kv_bytes, time_op(op_sdpa, in, false), triad);
    for (int j = 0; j < 3; j++) mx_array_free(in[j]);
  }

  /* Llama-1B-like decode: 32 query heads over 8 KV heads, D = 64, f16
   * cache of growing length, cold (a model's caches do not stay in L3) */
  for (int64_t T = 512; T <= 4096; T *= 2) {
    const int64_t d64 = 64;
    mx_array in[3] = {make((int64_t[]){1, Hq, 1, d64}, 4, MX_FLOAT16, 7),
                      make((int64_t[]){1, Hkv, T, d64}, 4, MX_FLOAT16, 8),
                      make((int64_t[]){1, Hkv, T, d64}, 4, MX_FLOAT16, 9)};
    double kv_bytes = 2.0 * Hkv * T * d64 * 2;
    char name[96];
    snprintf(name, sizeof name, "sdpa decode float16 32q/8kv x %lld x 64, cold", (long long)T);
    row(name, kv_bytes, time_op(op_sdpa, in, true), triad);
    for (int j = 0; j < 3; j++) mx_array_free(in[j]);
  }

  /* rope over (1, 32, 2048, 128): read + write */
  mx_dtype rk[2] = {MX_FLOAT32, MX_FLOAT16};
  for (int i = 0; i < 2; i++) {
    mx_array x = make((int64_t[]){1, 32, 2048, 128}, 4, rk[i], 4);
    double bytes = 2.0 * (double)mx_array_nbytes(x);
    char name[96];
    snprintf(name, sizeof name, "rope %s (1,32,2048,128) dims 128", mx_dtype_name(rk[i]));
    row(name, bytes, time_op(op_rope, &x, true), triad);
    mx_array_free(x);
  }

  /* rms_norm over (4096, 4096) with a weight: read + write */
  for (int i = 0; i < 2; i++) {
    mx_array in[2] = {make((int64_t[]){4096, 4096}, 2, rk[i], 5),
                      make((int64_t[]){4096}, 1, rk[i], 6)};
    double bytes = 2.0 * (double)mx_array_nbytes(in[0]);
    char name[96];
    snprintf(name, sizeof name, "rms_norm %s (4096,4096)", mx_dtype_name(rk[i]));
    row(name, bytes, time_op(op_rms, in, true), triad);
    mx_array_free(in[0]);
    mx_array_free(in[1]);
  }
  free(evict_buf);
  return 0;
}
