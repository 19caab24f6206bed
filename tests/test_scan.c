/* test_scan.c — cumsum, cumprod, cummax, cummin, logcumsumexp: NumPy
 * fixtures (tests/ref/gen_scan.py) plus error paths, broadcast inputs and
 * long threaded scans checked against a sequential reference. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

typedef mx_array (*scan_fn)(mx_array, int, bool, bool);

static mx_array run_scan(const fx_case *c, mx_array *in, scan_fn f) {
  int axis = strcmp(fx_str(c, "axis", "none"), "none") == 0 ? MX_AXIS_NONE
                                                            : (int)fx_int(c, "axis", 0);
  return f(in[0], axis, fx_int(c, "reverse", 0) != 0, fx_int(c, "inclusive", 1) != 0);
}

#define SCAN(name)                                                      \
  static mx_array fx_##name(const fx_case *c, mx_array *in, int nin) {  \
    (void)nin;                                                          \
    return run_scan(c, in, mx_##name);                                  \
  }
SCAN(cumsum)
SCAN(cumprod)
SCAN(cummax)
SCAN(cummin)
SCAN(logcumsumexp)

static const fx_op OPS[] = {{"cumsum", fx_cumsum},
                            {"cumprod", fx_cumprod},
                            {"cummax", fx_cummax},
                            {"cummin", fx_cummin},
                            {"logcumsumexp", fx_logcumsumexp}};

static void test_errors(void) {
  int64_t sh[2] = {3, 4};
  mx_array a = mx_ones(sh, 2, MX_INT32);
  CHECK_ERR(mx_cumsum(a, 2, false, true), MX_ERR_INVALID_ARG, "cumsum: axis 2 is out of range");
  CHECK_ERR(mx_cumprod(a, -3, false, true), MX_ERR_INVALID_ARG, "cumprod: axis -3");
  CHECK_ERR(mx_cummax(a, 7, true, false), MX_ERR_INVALID_ARG, "cummax: axis 7");
  CHECK_ERR(mx_cummin(a, -9, false, true), MX_ERR_INVALID_ARG, "cummin: axis -9");
  CHECK_ERR(mx_logcumsumexp(a, 0, false, true), MX_ERR_DTYPE,
            "logcumsumexp: input dtype int32 is not a floating or complex type");
  mx_array b = mx_ones(sh, 2, MX_BOOL);
  CHECK_ERR(mx_logcumsumexp(b, MX_AXIS_NONE, false, true), MX_ERR_DTYPE, "logcumsumexp: input dtype bool");
  mx_array z = mx_full_scalar(NULL, 0, 2.0, MX_FLOAT32);
  CHECK_ERR(mx_cumsum(z, 0, false, true), MX_ERR_INVALID_ARG,
            "cumsum: axis 0 is out of range for an array of 0 dimensions");
  mx_array zf = mx_cumsum(z, MX_AXIS_NONE, false, true); /* 0-d flattened: (1,) */
  CHECK(zf && mx_array_ndim(zf) == 1 && mx_array_shape(zf)[0] == 1);
  CHECK_ERR(mx_cumsum(NULL, 0, false, true), MX_ERR_NULL_INPUT, "cumsum");
  CHECK_ERR(mx_logcumsumexp(mx_cummax(a, 5, false, true), 0, false, true), MX_ERR_INVALID_ARG,
            "cummax: axis 5");
  mx_array cb = mx_cumsum(b, 1, false, true), cp = mx_cumprod(b, 1, false, true);
  CHECK(cb && mx_array_dtype(cb) == MX_INT32 && cp && mx_array_dtype(cp) == MX_BOOL);
  mx_array_free(cb);
  mx_array_free(cp);
  mx_array_free(zf);
  mx_array_free(z);
  mx_array_free(b);
  mx_array_free(a);
}

/* Scans of a broadcast view equal scans of a dense copy. */
static void test_broadcast(void) {
  int64_t sh[2] = {1, 23}, big[3] = {4, 9, 23};
  float v[23];
  for (int i = 0; i < 23; i++) v[i] = (float)((i * 37) % 19) / 7.0f - 1.0f;
  mx_array base = mx_array_from_data(v, sh, 2, MX_FLOAT32);
  mx_array bc = mx_broadcast_to(base, big, 3);
  mx_array t = mx_astype(bc, MX_FLOAT64);
  mx_array dense = mx_astype(t, MX_FLOAT32);
  scan_fn fns[5] = {mx_cumsum, mx_cumprod, mx_cummax, mx_cummin, mx_logcumsumexp};
  int bad = 0;
  for (int f = 0; f < 5; f++)
    for (int ax = -1; ax < 3; ax++) {
      int axis = ax < 0 ? MX_AXIS_NONE : ax;
      mx_array r1 = fns[f](bc, axis, ax == 1, ax != 2), r2 = fns[f](dense, axis, ax == 1, ax != 2);
      int64_t n = r1 && r2 ? mx_array_size(r1) : -1;
      if (n < 0 || n != mx_array_size(r2)) {
        bad++;
      } else {
        const float *p1 = mx_array_data(r1), *p2 = mx_array_data(r2);
        for (int64_t i = 0; i < n; i++)
          if (memcmp(&p1[i], &p2[i], 4) != 0) {
            bad++;
            break;
          }
      }
      mx_array_free(r1);
      mx_array_free(r2);
    }
  CHECK_MSG(bad == 0, "scans of broadcast views equal scans of dense copies");
  mx_array_free(dense);
  mx_array_free(t);
  mx_array_free(bc);
  mx_array_free(base);
}

/* Many lines (threaded) and long lines, against a sequential reference. */
static void test_large(void) {
  int64_t sh[2] = {512, 700};
  int64_t n = sh[0] * sh[1];
  int32_t *v = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) v[i] = (int32_t)((i * 2654435761u) % 2001) - 1000;
  mx_array a = mx_array_from_data(v, sh, 2, MX_INT32);
  mx_array r0 = mx_cumsum(a, 0, true, false), r1 = mx_cummax(a, 1, false, true);
  mx_array rf = mx_cumsum(a, MX_AXIS_NONE, false, true);
  const int32_t *p0 = mx_array_data(r0), *p1 = mx_array_data(r1), *pf = mx_array_data(rf);
  int bad = 0;
  for (int64_t j = 0; j < sh[1]; j++) {
    int32_t s = 0;
    for (int64_t i = sh[0] - 1; i >= 0; i--) {
      if (p0[i * sh[1] + j] != s) bad++;
      s += v[i * sh[1] + j];
    }
  }
  for (int64_t i = 0; i < sh[0]; i++) {
    int32_t m = INT32_MIN;
    for (int64_t j = 0; j < sh[1]; j++) {
      m = v[i * sh[1] + j] > m ? v[i * sh[1] + j] : m;
      if (p1[i * sh[1] + j] != m) bad++;
    }
  }
  int32_t s = 0;
  for (int64_t i = 0; i < n; i++) {
    s += v[i];
    if (pf[i] != s) bad++;
  }
  CHECK(bad == 0);
  mx_array_free(r0);
  mx_array_free(r1);
  mx_array_free(rf);
  mx_array_free(a);
  free(v);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "fixtures/scan";
  size_t mem0 = mx_memory_active();
  test_errors();
  test_broadcast();
  test_large();
  CHECK_MSG(mx_memory_active() == mem0, "active memory returns to its start");
  int n = fx_run_dir(dir, OPS, (int)(sizeof OPS / sizeof *OPS));
  CHECK(n > 300);
  return check_summary();
}
