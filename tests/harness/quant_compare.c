/* quant_compare.c — see quant_compare.h. */
#include "quant_compare.h"

#include <math.h>

static const mx_device cpu_dev = {MX_CPU, 0};

mx_array qc_randn(const int64_t *shape, int nd, mx_dtype t, uint64_t seed) {
  mx_set_default_device(cpu_dev);
  mx_array key = mx_random_key(seed);
  mx_array u = mx_random_normal(shape, nd, MX_FLOAT32, 0.0, 1.0, key);
  mx_array r = mx_astype(u, t);
  mx_eval1(r);
  mx_array_free(key);
  mx_array_free(u);
  return r;
}

mx_array qc_as_f32(mx_array a) {
  mx_array r = mx_astype(a, MX_FLOAT32);
  mx_eval1(r);
  return r;
}

/* Worst |g - r| / (a * S + u * |r|) over elements (quant_compare.h). */
double qc_worst(mx_array g, mx_array r, mx_array S, double a, double u) {
  if (!g || !r || !S) return 1e9;
  mx_set_default_device(cpu_dev);
  mx_array g32 = qc_as_f32(g), r32 = qc_as_f32(r), s32 = qc_as_f32(S);
  const float *pg = mx_array_data(g32), *pr = mx_array_data(r32), *ps = mx_array_data(s32);
  double w = 0;
  int64_t n = mx_array_size(g);
  if (n != mx_array_size(r) || n != mx_array_size(S) || !pg || !pr || !ps) w = 1e9;
  for (int64_t i = 0; w < 1e9 && i < n; i++) {
    double d = fabs((double)pg[i] - pr[i]);
    double tol = a * ps[i] + u * fabs((double)pr[i]) + 1e-30;
    if (!(d <= 1e30)) d = 1e30;
    if (d / tol > w) w = d / tol;
  }
  mx_array_free(g32);
  mx_array_free(r32);
  mx_array_free(s32);
  return w;
}

mx_array qc_magnitude(mx_array x, mx_array wdeq, bool transpose) {
  mx_set_default_device(cpu_dev);
  mx_array ax = mx_abs(x), ax32 = mx_astype(ax, MX_FLOAT32), aw = mx_abs(wdeq);
  int nd = mx_array_ndim(aw);
  int perm[MX_MAX_NDIM];
  for (int d = 0; d < nd; d++) perm[d] = d;
  perm[nd - 1] = nd - 2;
  perm[nd - 2] = nd - 1;
  mx_array awt = transpose ? mx_transpose(aw, perm, nd) : mx_array_retain(aw);
  mx_array S = mx_matmul(ax32, awt);
  mx_eval1(S);
  mx_array_free(ax);
  mx_array_free(ax32);
  mx_array_free(aw);
  mx_array_free(awt);
  return S;
}
