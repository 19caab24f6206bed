/* test_cuda_blas_lazy.c — cuBLAS is loaded on the first GPU matmul, never
 * at program start (issue 6: linking it cost every run, CPU-only ones too,
 * ~218 MB of resident memory for libcublasLt).
 *
 * In every build: no libcublas* is mapped after CPU work and the GPU probe.
 * In a CUDA build (it links the CUDA runtime): the loader's failure paths
 * give MX_ERR_DEVICE with "cannot load <name>: <reason>" and never abort;
 * cuBLAS does load when asked for. With a GPU: GPU work other than matmul
 * leaves cuBLAS unloaded, a GPU matmul loads it and agrees with the CPU
 * (f32, tolerance 1e-5 * sqrt(K) relative to the |A||B| row scale: the
 * summation order differs; cuBLAS runs in plain f32). */
#include <link.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

/* src/backend/cuda/cuda_blas.h, whose prototypes these must match. Weak,
 * because CPU-only builds have no loader (and tests are built without the
 * cuBLAS headers). */
mx_status cuda_blas_init(void) __attribute__((weak));
mx_status cuda_blas_probe(const char *name) __attribute__((weak));

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  return info->dlpi_name && strstr(info->dlpi_name, (const char *)data) ? 1 : 0;
}

/* Whether a loaded object's path contains `part`. */
static bool mapped(const char *part) { return dl_iterate_phdr(find_cb, (void *)part) != 0; }

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

static mx_array product(mx_device d, mx_array a, mx_array b) {
  mx_set_default_device(d);
  mx_array r = mx_matmul(a, b);
  mx_eval1(r);
  mx_set_default_device(cpu);
  return r;
}

static mx_array rand_f32(int64_t r, int64_t c, uint64_t seed) {
  int64_t shape[2] = {r, c};
  mx_array key = mx_random_key(seed);
  mx_array x = mx_random_normal(shape, 2, MX_FLOAT32, 0.0f, 1.0f, key);
  mx_array_free(key);
  mx_eval1(x);
  return x;
}

/* Checks a GPU matmul against the CPU's: max |g-c| / (1e-5 sqrt(K) |A||B|). */
static void check_gpu_matmul(void) {
  const int64_t M = 33, K = 300, N = 65;
  mx_array a = rand_f32(M, K, 1), b = rand_f32(K, N, 2);
  mx_set_default_device(gpu);
  mx_array s = mx_add(a, a); /* GPU work that needs no cuBLAS */
  mx_eval1(s);
  mx_set_default_device(cpu);
  CHECK_MSG(s && !mapped("libcublas"), "a GPU add leaves cuBLAS unloaded");

  int64_t fb = gpu_fallback_count();
  mx_array g = product(gpu, a, b);
  CHECK_MSG(g != NULL, mx_last_error());
  CHECK_MSG(gpu_fallback_count() == fb, "the GPU matmul ran on the GPU");
  CHECK_MSG(mapped("libcublas"), "the first GPU matmul loads cuBLAS");
  mx_array c = product(cpu, a, b);
  const float *x = mx_array_data(a), *y = mx_array_data(b);
  const float *pg = mx_array_data(g), *pc = mx_array_data(c);
  double worst = pg && pc ? 0 : 1e9;
  for (int64_t i = 0; pg && pc && i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double scale = 0;
      for (int64_t k = 0; k < K; k++) scale += fabs((double)x[i * K + k] * y[k * N + j]);
      double e = fabs((double)pg[i * N + j] - pc[i * N + j]) / (1e-5 * sqrt((double)K) * scale);
      if (e > worst) worst = e;
    }
  char msg[96];
  snprintf(msg, sizeof msg, "GPU matmul vs CPU: err %.3g of tolerance", worst);
  CHECK_MSG(worst <= 1, msg);
  mx_array arr[] = {a, b, s, g, c};
  for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++) mx_array_free(arr[i]);
}

int main(void) {
  CHECK_MSG(!mapped("libcublas"), "no cuBLAS at program start");
  mx_array a = rand_f32(64, 48, 3), b = rand_f32(48, 40, 4);
  mx_array c = product(cpu, a, b);
  CHECK(c != NULL);
  bool have_gpu = mx_device_is_available(MX_GPU);
  mx_clear_error();
  CHECK_MSG(!mapped("libcublas"), "a CPU matmul and the GPU probe leave cuBLAS unloaded");
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(c);

  if (!mapped("libcudart")) {
    printf("test_cuda_blas_lazy: CPU-only build: no cuBLAS loader to test\n");
    CHECK_MSG(!cuda_blas_init, "a build without the CUDA runtime has no cuBLAS loader");
    return check_summary();
  }
  CHECK_MSG(cuda_blas_init && cuda_blas_probe, "a CUDA build has the cuBLAS loader");
  if (!cuda_blas_init || !cuda_blas_probe) return check_summary();

  /* Failure paths: an error, no abort, nothing loaded. */
  mx_clear_error();
  mx_status st = cuda_blas_probe("libmlxc-no-such-cublas.so.13");
  CHECK_MSG(st == MX_ERR_DEVICE &&
                strstr(mx_last_error(), "CUDA: cannot load libmlxc-no-such-cublas.so.13: "),
            mx_last_error());
  mx_clear_error();
  st = cuda_blas_probe("libz.so.1"); /* a library, but not cuBLAS */
  CHECK_MSG(st == MX_ERR_DEVICE && strstr(mx_last_error(), "cannot load libz.so.1: ") &&
                strstr(mx_last_error(), "cublasCreate_v2"),
            mx_last_error());
  mx_clear_error();
  st = cuda_blas_probe(NULL);
  CHECK_MSG(st == MX_ERR_INVALID_ARG, mx_last_error());
  mx_clear_error();
  CHECK_MSG(!mapped("libcublas"), "failed probes leave nothing loaded");

  if (have_gpu) {
    printf("test_cuda_blas_lazy: %d GPU(s)\n", (int)mx_device_count(MX_GPU));
    check_gpu_matmul();
  } else {
    printf("test_cuda_blas_lazy: no usable GPU: checking that cuBLAS loads\n");
  }
  /* The toolkit that built this has cuBLAS, so it must load (again, if the
   * GPU matmul above already did). */
  st = cuda_blas_init();
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK_MSG(mapped("libcublas.so") && mapped("libcublasLt.so"), "cuda_blas_init loads cuBLAS");
  CHECK_MSG(cuda_blas_init() == MX_OK, "a second call finds it loaded");
  return check_summary();
}
