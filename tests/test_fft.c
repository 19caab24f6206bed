/* test_fft.c — fft, ifft, rfft, irfft: NumPy fixtures (tests/ref/gen_fft.py),
 * every length 1..160 against a direct O(n^2) DFT in long double (all the
 * radix, generic-prime and Bluestein paths), round trips, and errors. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static mx_array op_fft(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_fft(in[0], fx_int(c, "n", 0), (int)fx_int(c, "axis", -1));
}
static mx_array op_ifft(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_ifft(in[0], fx_int(c, "n", 0), (int)fx_int(c, "axis", -1));
}
static mx_array op_rfft(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_rfft(in[0], fx_int(c, "n", 0), (int)fx_int(c, "axis", -1));
}
static mx_array op_irfft(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_irfft(in[0], fx_int(c, "n", 0), (int)fx_int(c, "axis", -1));
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Max |got - want| / max |want| over n complex values. */
static double rel_err(const float *got, const long double *want, int64_t n2) {
  long double peak = 0, err = 0;
  for (int64_t i = 0; i < n2; i++) {
    long double w = fabsl(want[i]), e = fabsl((long double)got[i] - want[i]);
    if (w > peak) peak = w;
    if (e > err) err = e;
  }
  return peak > 0 ? (double)(err / peak) : (double)err;
}

/* Every length up to 160 in both directions, against a direct DFT. */
static void test_direct_dft(void) {
  double worst = 0;
  int worst_n = 0;
  for (int64_t n = 1; n <= 160; n++) {
    float *x = malloc((size_t)n * 8);
    long double *want = malloc((size_t)n * 2 * sizeof(long double));
    for (int64_t i = 0; i < 2 * n; i++) x[i] = (float)urand();
    mx_array a = mx_array_from_data(x, &n, 1, MX_COMPLEX64);
    for (int inv = 0; inv < 2; inv++) {
      long double sg = inv ? 1.0L : -1.0L;
      for (int64_t k = 0; k < n; k++) {
        long double re = 0, im = 0;
        for (int64_t j = 0; j < n; j++) {
          long double t = sg * 2.0L * 3.14159265358979323846264338327950288L *
                          (long double)((j * k) % n) / (long double)n;
          long double c = cosl(t), s = sinl(t);
          re += x[2 * j] * c - x[2 * j + 1] * s;
          im += x[2 * j] * s + x[2 * j + 1] * c;
        }
        want[2 * k] = inv ? re / n : re;
        want[2 * k + 1] = inv ? im / n : im;
      }
      mx_array y = inv ? mx_ifft(a, 0, 0) : mx_fft(a, 0, 0);
      const float *g = mx_array_data(y);
      double e = g ? rel_err(g, want, 2 * n) : INFINITY;
      if (!(e <= worst)) worst = e, worst_n = (int)(inv ? -n : n);
      mx_array_free(y);
    }
    mx_array_free(a);
    free(x);
    free(want);
  }
  char msg[128];
  snprintf(msg, sizeof msg, "worst relative error %.3g at n=%d (negative: ifft)", worst, worst_n);
  CHECK_MSG(worst < 3e-7, msg);
}

/* irfft(rfft(x), n) == x and ifft(fft(x)) == x for assorted lengths. */
static void test_round_trip(void) {
  static const int64_t lens[] = {1, 2, 3, 7, 10, 97, 128, 400, 1009, 1536};
  int bad = 0;
  for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
    int64_t n = lens[t], shape[2] = {3, n};
    float *x = malloc((size_t)(3 * n) * 4);
    for (int64_t i = 0; i < 3 * n; i++) x[i] = (float)urand();
    mx_array a = mx_array_from_data(x, shape, 2, MX_FLOAT32);
    mx_array f = mx_rfft(a, 0, 1), b = mx_irfft(f, n, 1);
    mx_array c = mx_fft(a, 0, -1), d = mx_ifft(c, 0, -1);
    const float *pb = mx_array_data(b), *pd = mx_array_data(d);
    if (!pb || !pd) bad++;
    for (int64_t i = 0; pb && pd && i < 3 * n; i++)
      if (fabsf(pb[i] - x[i]) > 1e-5f || fabsf(pd[2 * i] - x[i]) > 1e-5f ||
          fabsf(pd[2 * i + 1]) > 1e-5f)
        bad++;
    mx_array_free(a);
    mx_array_free(f);
    mx_array_free(b);
    mx_array_free(c);
    mx_array_free(d);
    free(x);
  }
  CHECK_MSG(bad == 0, "round trips reproduce the input");
}

/* Repeated transforms of one length reuse the cached plan and agree bit
 * for bit, also across threads (a batch of frames). */
static void test_repeat(void) {
  int64_t shape[2] = {200, 400};
  float *x = malloc(200 * 400 * 4);
  for (int i = 0; i < 200 * 400; i++) x[i] = (float)urand();
  for (int i = 1; i < 200; i++) memcpy(x + i * 400, x, 400 * 4); /* equal frames */
  mx_array a = mx_array_from_data(x, shape, 2, MX_FLOAT32);
  mx_array r1 = mx_rfft(a, 0, 1), r2 = mx_rfft(a, 0, 1);
  const float *p1 = mx_array_data(r1), *p2 = mx_array_data(r2);
  int bad = !p1 || !p2;
  for (int i = 0; !bad && i < 200; i++)
    if (memcmp(p1 + i * 402, p1, 402 * 4) || memcmp(p2 + i * 402, p1, 402 * 4)) bad++;
  CHECK_MSG(bad == 0, "repeated frames give identical spectra");
  mx_array_free(r1);
  mx_array_free(r2);
  mx_array_free(a);
  free(x);
}

static void test_errors(void) {
  int64_t s2[2] = {3, 4}, s1[1] = {1}, s0[2] = {2, 0};
  mx_array a = mx_zeros(s2, 2, MX_FLOAT32);
  mx_array one = mx_zeros(s1, 1, MX_COMPLEX64);
  mx_array e = mx_zeros(s0, 2, MX_FLOAT32);
  float v = 1.0f;
  mx_array z = mx_array_from_data(&v, NULL, 0, MX_FLOAT32);
  CHECK(a && one && e && z);
  CHECK_ERR(mx_fft(z, 0, 0), MX_ERR_SHAPE, "fft: requires an array with at least one dimension");
  CHECK_ERR(mx_rfft(z, 4, -1), MX_ERR_SHAPE, "rfft: requires an array");
  CHECK_ERR(mx_fft(a, 0, 2), MX_ERR_INVALID_ARG, "fft: axis 2 is out of range");
  CHECK_ERR(mx_ifft(a, 0, -3), MX_ERR_INVALID_ARG, "ifft: axis -3");
  CHECK_ERR(mx_irfft(one, 0, 0), MX_ERR_INVALID_ARG, "irfft: invalid transform length 0");
  CHECK_ERR(mx_fft(e, 0, 1), MX_ERR_INVALID_ARG, "fft: invalid transform length 0 along axis 1 of shape (2,0)");
  CHECK_ERR(mx_rfft(a, (int64_t)1 << 40, 1), MX_ERR_INVALID_ARG, "rfft: invalid transform length 1099511627776");
  CHECK_ERR(mx_fft(NULL, 0, 0), MX_ERR_NULL_INPUT, "fft");
  /* An explicit n works where the axis is empty: all zeros. */
  mx_array p = mx_rfft(e, 4, 1);
  const float *pp = mx_array_data(p);
  CHECK(pp && mx_array_shape(p)[1] == 3 && pp[0] == 0 && pp[5] == 0);
  mx_array_free(p);
  /* irfft with n = 1 keeps the DC bin's real part. */
  float bins[4] = {2.5f, 9.0f, 7.0f, 1.0f};
  int64_t nb = 2;
  mx_array b = mx_array_from_data(bins, &nb, 1, MX_COMPLEX64);
  mx_array r = mx_irfft(b, 1, 0);
  const float *pr = mx_array_data(r);
  CHECK(pr && mx_array_dtype(r) == MX_FLOAT32 && mx_array_size(r) == 1 && pr[0] == 2.5f);
  mx_array_free(r);
  mx_array_free(b);
  mx_array_free(a);
  mx_array_free(one);
  mx_array_free(e);
  mx_array_free(z);
}

int main(int argc, char **argv) {
  static const fx_op ops[] = {
      {"fft", op_fft}, {"ifft", op_ifft}, {"rfft", op_rfft}, {"irfft", op_irfft}};
  test_errors();
  test_direct_dft();
  test_round_trip();
  test_repeat();
  if (argc > 1) fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
  else CHECK_MSG(0, "usage: test_fft FIXTURE_DIR");
  return check_summary();
}
