/* bench_cuda_index — the index family's GPU kernels against the GPU's own
 * copy roofline, measured in the same run (cudaMemcpy device to device,
 * bytes read + written):
 *   - slice_update of one token into a (1, 8, 4096, 128) bf16 KV cache,
 *     donated (in place), per update including graph build and eval;
 *   - embedding take of 1 and 512 rows from a (151936, 896) bf16 table;
 *   - concatenate of two 64 MB bf16 arrays (axis 0: two dense blocks;
 *     axis 1: interleaved rows);
 *   - where, and random_bits / uniform of 64M elements.
 * Without a usable GPU it says so. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static const mx_device gpu = {MX_GPU, 0};

static void sync_gpu(void) { mx_synchronize((mx_stream){gpu, 0}); }

typedef struct op_ctx {
  mx_array a, b, c;
  int axis;
} op_ctx;

static void run_take(void *p) {
  op_ctx *c = p;
  mx_array r = mx_take(c->a, c->b, 0);
  mx_eval1(r);
  mx_array_free(r);
}

static void run_concat(void *p) {
  op_ctx *c = p;
  mx_array x[2] = {c->a, c->b};
  mx_array r = mx_concatenate(x, 2, c->axis);
  mx_eval1(r);
  mx_array_free(r);
}

static void run_where(void *p) {
  op_ctx *c = p;
  mx_array r = mx_where(c->c, c->a, c->b);
  mx_eval1(r);
  mx_array_free(r);
}

static void run_bits(void *p) {
  op_ctx *c = p;
  int64_t n = (int64_t)1 << 26;
  mx_array r = c->axis ? mx_random_uniform(0, 1, &n, 1, MX_FLOAT32, c->a)
                       : mx_random_bits(&n, 1, 4, c->a);
  mx_eval1(r);
  mx_array_free(r);
}

/* One token into a donated KV cache at position (i * step) % 4096, i
 * counting calls; with `sync`, waited for (the latency of one update). */
typedef struct upd_ctx {
  mx_array cache, upd;
  int i, step;
  bool sync;
} upd_ctx;

static void run_update(void *p) {
  upd_ctx *u = p;
  int64_t pos = (int64_t)u->i++ * u->step % 4096;
  int64_t st[4] = {0, 0, pos, 0}, sp[4] = {1, 8, pos + 1, 128};
  mx_array nc = mx_slice_update(u->cache, u->upd, st, sp, NULL, 4);
  mx_array_free(u->cache);
  mx_eval1(nc);
  if (u->sync) sync_gpu();
  u->cache = nc;
}

int main(void) {
  if (!bench_gpu_start("bench_cuda_index")) return 0;
  double copy_gbs = cuda_copy_gbs();
  printf("device-to-device copy: %.0f GB/s (read + write), the roofline below\n", copy_gbs);
  mx_array key = mx_random_key(1);

  /* ---- slice_update: one token into a donated KV cache ---- */
  {
    int64_t cs[4] = {1, 8, 4096, 128}, us[4] = {1, 8, 1, 128};
    mx_array cache = mx_zeros(cs, 4, MX_BFLOAT16);
    mx_array upd = mx_random_uniform(-1, 1, us, 4, MX_BFLOAT16, key);
    mx_eval1(cache);
    mx_eval1(upd);
    void *d0 = cache->buf->dptr;
    int64_t f0 = gpu_fallback_count();
    upd_ctx u = {cache, upd, 0, 1, false};
    for (int i = 0; i < 15; i++) run_update(&u); /* warm-up (with gpu_time_best's own) */
    double t = gpu_time_best(run_update, &u, 1000, 1);
    /* The same, synchronizing after every update (the latency of one). */
    u.i = 0, u.step = 7, u.sync = true;
    double ts = gpu_time_best(run_update, &u, 200, 1);
    cache = u.cache;
    printf("slice_update 1 token -> (1,8,4096,128) bf16: %.1f us per update (pipelined), "
           "%.1f us synced; in place: %s; fallbacks: %lld\n",
           t * 1e6, ts * 1e6, cache->buf->dptr == d0 ? "yes" : "NO",
           (long long)(gpu_fallback_count() - f0));
    mx_array_free(cache);
    mx_array_free(upd);
  }

  /* ---- embedding take ---- */
  {
    int64_t es[2] = {151936, 896};
    op_ctx c = {mx_random_uniform(-1, 1, es, 2, MX_BFLOAT16, key), NULL, NULL, 0};
    mx_eval1(c.a);
    int64_t counts[2] = {1, 512};
    for (int k = 0; k < 2; k++) {
      int64_t n = counts[k];
      int32_t *ids = malloc((size_t)n * sizeof *ids);
      for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 2654435761u) % 151936u);
      c.b = mx_array_from_data(ids, &n, 1, MX_INT32);
      free(ids);
      int64_t f0 = gpu_fallback_count();
      double t = gpu_time_best(run_take, &c, 1, 50);
      double bytes = 2.0 * (double)n * 896 * 2;
      printf("take %lld rows of (151936, 896) bf16: %.1f us, %.0f GB/s = %.0f%% of copy "
             "(fallbacks %lld)\n",
             (long long)n, t * 1e6, bytes / t / 1e9, copy_gbs > 0 ? 100.0 * bytes / t / 1e9 / copy_gbs : 0,
             (long long)(gpu_fallback_count() - f0));
      mx_array_free(c.b);
    }
    mx_array_free(c.a);
  }

  /* ---- concatenate of two 64 MB arrays ---- */
  {
    int64_t s[2] = {8192, 4096}; /* bf16: 64 MiB each */
    op_ctx c = {mx_random_uniform(-1, 1, s, 2, MX_BFLOAT16, key), NULL, NULL, 0};
    c.b = mx_random_uniform(-1, 1, s, 2, MX_BFLOAT16, key);
    mx_eval1(c.a);
    mx_eval1(c.b);
    for (int ax = 0; ax < 2; ax++) {
      c.axis = ax;
      int64_t f0 = gpu_fallback_count();
      double t = gpu_time_best(run_concat, &c, 1, 20);
      double bytes = 2.0 * 2.0 * 8192 * 4096 * 2;
      printf("concatenate 2 x 64 MiB bf16 axis %d: %.0f us, %.0f GB/s = %.0f%% of copy "
             "(fallbacks %lld)\n",
             ax, t * 1e6, bytes / t / 1e9, copy_gbs > 0 ? 100.0 * bytes / t / 1e9 / copy_gbs : 0,
             (long long)(gpu_fallback_count() - f0));
    }
    /* where over the same operands with a broadcast row condition */
    int64_t cs[1] = {4096};
    mx_array u = mx_random_uniform(0, 1, cs, 1, MX_FLOAT32, key);
    mx_array half = mx_array_scalar(0.5, MX_FLOAT32);
    c.c = mx_less(u, half);
    mx_eval1(c.c);
    double t = gpu_time_best(run_where, &c, 1, 20);
    double bytes = 3.0 * 8192 * 4096 * 2;
    printf("where (8192, 4096) bf16: %.0f us, %.0f GB/s = %.0f%% of copy\n", t * 1e6,
           bytes / t / 1e9, copy_gbs > 0 ? 100.0 * bytes / t / 1e9 / copy_gbs : 0);
    mx_array_free(u);
    mx_array_free(half);
    mx_array_free(c.c);
    mx_array_free(c.a);
    mx_array_free(c.b);
  }

  /* ---- random ---- */
  {
    op_ctx c = {key, NULL, NULL, 0};
    for (int k = 0; k < 2; k++) {
      c.axis = k;
      double t = gpu_time_best(run_bits, &c, 1, 10);
      double bytes = 4.0 * (double)((int64_t)1 << 26);
      printf("%s 64M x 32 bit: %.0f us, %.0f GB/s written = %.0f%% of copy\n",
             k ? "random uniform f32" : "random_bits", t * 1e6, bytes / t / 1e9,
             copy_gbs > 0 ? 100.0 * bytes / t / 1e9 / copy_gbs : 0);
    }
  }
  mx_array_free(key);
  return 0;
}
