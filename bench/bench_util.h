/* bench_util.h — timing and the STREAM-style triad that every benchmark
 * reports against (the machine's bandwidth swings run to run, so ratios are
 * only meaningful within one run). */
#ifndef MLXC_BENCH_UTIL_H
#define MLXC_BENCH_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

double now_sec(void);
/* Triad a = b + s*c over n floats per array on all pool threads; returns the
 * best GB/s of `reps` runs, counting 3 arrays of traffic as STREAM does. */
double triad_gbs(size_t n, int reps);
/* The GPU benchmarks' roofline: best GB/s (bytes read + written) of a 1 GiB
 * device-to-device cudaMemcpy; 0 without CUDA or when it cannot allocate. */
double cuda_copy_gbs(void);
/* The GPU benchmarks' start: makes the GPU the default device, or says
 * under the benchmark's name why there is none and returns false. */
bool bench_gpu_start(const char *name);
/* Seconds per call of fn(ctx) on the GPU benchmarks' terms: one warm-up
 * call, then the best of `reps` runs of n back-to-back calls (lazy graph
 * built and evaluated per call) closed by one synchronization of the GPU's
 * default stream, divided by n. n = 1 times one call's latency. */
double gpu_time_best(void (*fn)(void *), void *ctx, int n, int reps);
/* Microseconds per launch of launch(ctx, stream): one warm-up launch, then
 * n back-to-back launches on `stream` (a cudaStream_t) between two events:
 * the kernels alone, once the host keeps ahead of the GPU. 0 without CUDA. */
double cuda_events_us(void (*launch)(void *ctx, void *stream), void *ctx, void *stream, int n);
#endif
