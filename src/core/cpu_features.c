/* cpu_features.c — which SIMD paths this processor can run (checked once). */
#include <pthread.h>

#include "core.h"

static cpu_features features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  features.avx2 = __builtin_cpu_supports("avx2");
  features.fma = __builtin_cpu_supports("fma");
  features.avx512f = __builtin_cpu_supports("avx512f");
  features.avx512bw = __builtin_cpu_supports("avx512bw");
  features.avx512vl = __builtin_cpu_supports("avx512vl");
  features.avx512vnni = __builtin_cpu_supports("avx512vnni");
  /* F16C comes with every AVX2 processor we target. */
  features.f16c = features.avx2;
#endif
}

const cpu_features *cpu_get_features(void) {
  pthread_once(&once, detect);
  return &features;
}
