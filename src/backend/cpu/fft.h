/* fft.h — CPU FFT kernels and the reusable 1-D transform behind them.
 *
 * Transforms compute in double precision on interleaved (re, im) doubles.
 * Plans are cached by length and shared between threads: fft_plan_get
 * returns a plan that stays valid until fft_plan_release (cached plans live
 * for the process; a plan that did not fit the cache is freed on release).
 * Thread safety: plans are immutable once returned; each thread brings its
 * own work buffer.
 */
#ifndef MLXC_CPU_FFT_H
#define MLXC_CPU_FFT_H
#include "cpu.h"

typedef struct fft_plan fft_plan;

/* A plan for the length-n complex DFT (n >= 1); NULL + MX_ERR_OOM on
 * failure. */
const fft_plan *fft_plan_get(int64_t n);
void fft_plan_release(const fft_plan *p);
/* Doubles of scratch that fft_exec needs besides the data. */
int64_t fft_plan_work(const fft_plan *p);
/* In-place forward DFT (sign -1, unscaled) of p's length on `data` (2n
 * doubles, interleaved). `work` has fft_plan_work(p) doubles. */
void fft_exec(const fft_plan *p, double *data, double *work);

enum { FFT_C2C = 0, FFT_C2C_INV = 1, FFT_R2C = 2, FFT_C2R = 3 };

typedef struct fft_params {
  int axis;
  int kind;     /* FFT_* */
  int64_t n;    /* transform length */
  int64_t nin;  /* input elements used along the axis (rest zero-padded) */
} fft_params;

/* Input: complex64 (C2C, C2C_INV, C2R) or float32 (R2C), any strides.
 * Output: complex64, or float32 for C2R. The inverse kinds scale by 1/n. */
mx_status cpu_fft(mx_array out, mx_array const *in, int nin, const void *params);
#endif
