/* fft.c — front ends of fft, ifft, rfft, irfft (1-D over one axis).
 *
 * MLX semantics: the input needs at least one dimension; n <= 0 picks the
 * axis length (irfft: 2 * (m - 1)), and a resulting length < 1 is an error.
 * The input is cut or zero-padded to n along the axis (irfft: to n/2 + 1
 * bins). fft/ifft/irfft cast the input to complex64 and rfft to float32
 * (complex input keeps its real part), as MLX does; outputs are complex64,
 * irfft's float32. Norm is "backward": inverses scale by 1/n.
 */
#include <string.h>

#include "../backend/cpu/fft.h"
#include "ops_common.h"

static const mx_primitive prim_fft = {"fft", cpu_fft, NULL};

/* MLX shapes are int32, so longer transforms cannot be asked of MLX; the
 * bound also keeps Bluestein's 2n - 1 convolution length in range. */
#define FFT_MAX_N ((int64_t)INT32_MAX)

static mx_array fft_common(const char *op, mx_array a, int64_t n, int axis, int kind) {
  CHECK_INPUT(op, a);
  if (a->ndim < 1) {
    set_error(MX_ERR_SHAPE, "%s: requires an array with at least one dimension", op);
    return NULL;
  }
  int ax;
  if (normalize_axis(op, axis, a->ndim, &ax) < 0) return NULL;
  int64_t len = a->shape[ax];
  if (n <= 0) n = kind == FFT_C2R ? 2 * (len - 1) : len;
  if (n <= 0 || n > FFT_MAX_N) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "%s: invalid transform length %lld along axis %d of shape %s", op,
              (long long)n, ax, fmt_shape(s, sizeof s, a->shape, a->ndim));
    return NULL;
  }
  fft_params p;
  memset(&p, 0, sizeof p);
  p.axis = ax;
  p.kind = kind;
  p.n = n;
  int64_t want_in = kind == FFT_C2R ? n / 2 + 1 : n;
  p.nin = len < want_in ? len : want_in;
  int64_t shape[MX_MAX_NDIM];
  memcpy(shape, a->shape, (size_t)a->ndim * sizeof *shape);
  shape[ax] = kind == FFT_R2C ? n / 2 + 1 : n;
  mx_array x = cast_to(a, kind == FFT_R2C ? MX_FLOAT32 : MX_COMPLEX64);
  if (!x) return NULL;
  mx_array r = node_new(&prim_fft, kind == FFT_C2R ? MX_FLOAT32 : MX_COMPLEX64, shape, a->ndim,
                        &x, 1, &p, sizeof p);
  mx_array_free(x);
  return r;
}

mx_array mx_fft(mx_array a, int64_t n, int axis) { return fft_common("fft", a, n, axis, FFT_C2C); }

mx_array mx_ifft(mx_array a, int64_t n, int axis) {
  return fft_common("ifft", a, n, axis, FFT_C2C_INV);
}

mx_array mx_rfft(mx_array a, int64_t n, int axis) { return fft_common("rfft", a, n, axis, FFT_R2C); }

mx_array mx_irfft(mx_array a, int64_t n, int axis) {
  return fft_common("irfft", a, n, axis, FFT_C2R);
}
