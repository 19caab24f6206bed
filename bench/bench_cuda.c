/* bench_cuda — the CUDA backend against the GPU's own ceilings, measured in
 * the same run: device-to-device copy bandwidth (cudaMemcpy; bytes read +
 * written) as the roofline of elementwise ops, and a large bf16 GEMM through
 * cuBLAS directly as the ceiling of mx_matmul. Then a real graph: the
 * stories260K decode on the GPU (with the primitives it lacks running on the
 * CPU in between) against the CPU. Without a usable GPU it says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

typedef struct op_ctx {
  mx_array a, b;
} op_ctx;

static void run_add(void *p) {
  op_ctx *c = p;
  mx_array r = mx_add(c->a, c->b);
  mx_eval1(r);
  mx_array_free(r);
}

static void run_matmul(void *p) {
  op_ctx *c = p;
  mx_array r = mx_matmul(c->a, c->b);
  mx_eval1(r);
  mx_array_free(r);
}

typedef struct lm_ctx {
  mx_lm_model *m;
  int n;
} lm_ctx;

static void run_decode(void *p) {
  lm_ctx *c = p;
  int32_t bos = 1, none = -1;
  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = c->n;
  gp.eos_ids = &none;
  gp.n_eos_ids = 1;
  mx_lm_generate(c->m, &bos, 1, &gp, NULL, NULL);
}

int main(int argc, char **argv) {
  if (!bench_gpu_start("bench_cuda")) return 0;
  double copy_gbs = cuda_copy_gbs(); /* the roofline */
  printf("device-to-device copy: %.0f GB/s (read + write) — the roofline below\n", copy_gbs);
  /* Elementwise add of 256M floats: 3 x 1 GiB of traffic. */
  int64_t n = (int64_t)1 << 28;
  mx_array key = mx_random_key(1);
  op_ctx c = {mx_random_uniform(0, 1, &n, 1, MX_FLOAT32, key), NULL};
  c.b = mx_random_uniform(0, 1, &n, 1, MX_FLOAT32, key);
  mx_eval1(c.a);
  mx_eval1(c.b);
  double t = gpu_time_best(run_add, &c, 1, 10);
  double add_gbs = 3.0 * 4.0 * (double)n / t / 1e9;
  printf("mx_add f32 (2^28): %.0f GB/s = %.0f%% of the copy roofline\n", add_gbs,
         copy_gbs > 0 ? 100.0 * add_gbs / copy_gbs : 0.0);
  mx_array_free(c.a);
  mx_array_free(c.b);
  /* bf16 GEMM 8192^3. */
  int64_t s[2] = {8192, 8192};
  op_ctx g = {mx_random_uniform(-1, 1, s, 2, MX_BFLOAT16, key), NULL};
  g.b = mx_random_uniform(-1, 1, s, 2, MX_BFLOAT16, key);
  mx_eval1(g.a);
  mx_eval1(g.b);
  t = gpu_time_best(run_matmul, &g, 1, 5);
  printf("mx_matmul bf16 8192^3: %.0f TFLOP/s\n", 2.0 * 8192.0 * 8192.0 * 8192.0 / t / 1e12);
  mx_array_free(g.a);
  mx_array_free(g.b);
  mx_array_free(key);
  /* A real graph. */
  const char *path = argc > 1 ? argv[1] : "../shared/testdata/models/stories260K/stories260K.gguf";
  double tps[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    mx_set_default_device(k ? gpu : cpu);
    lm_ctx l = {mx_lm_load(path), 64};
    if (!l.m) {
      printf("stories260K: %s\n", mx_last_error());
      return 0;
    }
    int64_t f0 = gpu_fallback_count();
    tps[k] = l.n / gpu_time_best(run_decode, &l, 1, 3);
    if (k) printf("stories260K decode: %lld nodes per run fell back to the CPU\n",
                  (long long)(gpu_fallback_count() - f0) / 4);
    mx_lm_free(l.m);
  }
  printf("stories260K decode (prefill of 1 + 64 tokens): CPU %.0f tok/s, GPU %.0f tok/s\n", tps[0],
         tps[1]);
  return 0;
}
