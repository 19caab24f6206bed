/* bench_util.h — timing and the STREAM-style triad that every benchmark
 * reports against (the machine's bandwidth swings run to run, so ratios are
 * only meaningful within one run). */
#ifndef MLXC_BENCH_UTIL_H
#define MLXC_BENCH_UTIL_H
#include <stddef.h>
#include <stdint.h>

double now_sec(void);
/* Triad a = b + s*c over n floats per array on all pool threads; returns the
 * best GB/s of `reps` runs, counting 3 arrays of traffic as STREAM does. */
double triad_gbs(size_t n, int reps);
/* The GPU benchmarks' roofline: best GB/s (bytes read + written) of a 1 GiB
 * device-to-device cudaMemcpy; 0 without CUDA or when it cannot allocate. */
double cuda_copy_gbs(void);
#endif
