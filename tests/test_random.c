/* test_random.c — mlxc/random.h against an independent NumPy model of
 * MLX's algorithms (gen_random.py), against values hard-coded in MLX's own
 * test suite, plus statistics, the global key sequence and error paths. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static mx_array seed_key(const fx_case *c) {
  return mx_random_key(strtoull(fx_str(c, "seed", "0"), NULL, 10));
}

static int get_shape(const fx_case *c, int64_t *shape) {
  const char *s = fx_str(c, "shape", NULL);
  if (s && strcmp(s, "scalar") == 0) return 0;
  int n = fx_ints(c, "shape", shape, MX_MAX_NDIM);
  return n < 0 ? 0 : n;
}

/* The ops under test, each with a key made from the case's seed. */
#define KEYED(name, expr)                                          \
  static mx_array name(const fx_case *c, mx_array *in, int nin) { \
    (void)in;                                                      \
    (void)nin;                                                     \
    int64_t sh[MX_MAX_NDIM];                                       \
    int nd = get_shape(c, sh);                                     \
    (void)nd;                                                      \
    mx_array key = seed_key(c);                                    \
    mx_array r = (expr);                                           \
    mx_array_free(key);                                            \
    return r;                                                      \
  }
KEYED(op_bits, mx_random_bits(sh, nd, (int)fx_int(c, "width", 4), key))
KEYED(op_split, mx_random_split(key, (int32_t)fx_int(c, "num", 2)))
KEYED(op_uniform, mx_random_uniform(fx_double(c, "low", 0), fx_double(c, "high", 1), sh, nd,
                                    fx_dtype(c, "dtype", MX_FLOAT32), key))
KEYED(op_normal, mx_random_normal(sh, nd, fx_dtype(c, "dtype", MX_FLOAT32), fx_double(c, "loc", 0),
                                  fx_double(c, "scale", 1), key))
KEYED(op_truncated_normal,
      mx_random_truncated_normal(fx_double(c, "lower", -2), fx_double(c, "upper", 2), sh, nd,
                                 fx_dtype(c, "dtype", MX_FLOAT32), key))
KEYED(op_gumbel, mx_random_gumbel(sh, nd, fx_dtype(c, "dtype", MX_FLOAT32), key))
KEYED(op_randint, mx_random_randint(fx_int(c, "low", 0), fx_int(c, "high", 1), sh, nd,
                                    fx_dtype(c, "dtype", MX_INT32), key))
KEYED(op_permutation, mx_random_permutation(fx_int(c, "n", 0), key))
KEYED(op_bernoulli, mx_random_bernoulli(in[0], fx_has(c, "shape") ? sh : NULL, nd, key))
KEYED(op_categorical,
      mx_random_categorical(in[0], (int)fx_int(c, "axis", -1), fx_int(c, "num_samples", 0), key))
KEYED(op_permutation_array, mx_random_permutation_array(in[0], (int)fx_int(c, "axis", 0), key))

static const fx_op ops[] = {
    {"bits", op_bits},
    {"split", op_split},
    {"uniform", op_uniform},
    {"normal", op_normal},
    {"truncated_normal", op_truncated_normal},
    {"gumbel", op_gumbel},
    {"randint", op_randint},
    {"permutation", op_permutation},
    {"bernoulli", op_bernoulli},
    {"categorical", op_categorical},
    {"permutation_array", op_permutation_array},
};

/* ------------------------------------------------------------ helpers */

static bool equal_u32(mx_array a, const uint32_t *want, int64_t n) {
  if (!a || mx_array_size(a) != n) return false;
  uint32_t got[16];
  if (mx_array_copy_to(a, got, sizeof got, MX_UINT32) != MX_OK) return false;
  for (int64_t i = 0; i < n; i++)
    if (got[i] != want[i]) return false;
  return true;
}

/* The whole array as doubles (caller frees). */
static double *values(mx_array a) {
  int64_t n = mx_array_size(a);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (mx_array_copy_to(a, v, (size_t)n * sizeof *v, MX_FLOAT64) != MX_OK) {
    free(v);
    return NULL;
  }
  return v;
}

static void moments(mx_array a, double *mean, double *var) {
  double *v = values(a);
  int64_t n = mx_array_size(a);
  double s = 0, s2 = 0;
  for (int64_t i = 0; v && i < n; i++) s += v[i];
  *mean = s / (double)n;
  for (int64_t i = 0; v && i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
  *var = s2 / (double)n;
  free(v);
}

/* ------------------------------------------------------------ MLX's own values */

/* mlx/tests/random_tests.cpp, TEST_CASE("test random key"). */
static void test_mlx_key(void) {
  uint32_t k00[2] = {0, 0}, k01[2] = {0, 1}, k10[2] = {1, 0}, k11[2] = {1, 1};
  mx_array k = mx_random_key(0);
  CHECK(equal_u32(k, k00, 2) && mx_array_dtype(k) == MX_UINT32 && mx_array_ndim(k) == 1);
  mx_array_free(k);
  k = mx_random_key(1);
  CHECK(equal_u32(k, k01, 2));
  mx_array_free(k);
  k = mx_random_key((uint64_t)1 << 32);
  CHECK(equal_u32(k, k10, 2));
  mx_array_free(k);
  k = mx_random_key(((uint64_t)1 << 32) + 1);
  CHECK(equal_u32(k, k11, 2));
  mx_array_free(k);
}

/* TEST_CASE("test random split"). */
static void test_mlx_split(void) {
  mx_array key = mx_random_key(0), a = NULL, b = NULL;
  CHECK(mx_random_split2(key, &a, &b) == MX_OK);
  const uint32_t wa[2] = {4146024105u, 967050713u}, wb[2] = {2718843009u, 1272950319u};
  CHECK(equal_u32(a, wa, 2) && mx_array_ndim(a) == 1 && mx_array_dim(a, 0) == 2);
  CHECK(equal_u32(b, wb, 2));
  mx_array keys = mx_random_split(key, 3);
  const uint32_t w3[6] = {2467461003u, 428148500u, 3186719485u, 3840466878u, 2562233961u, 1946702221u};
  CHECK(equal_u32(keys, w3, 6) && mx_array_dim(keys, 0) == 3 && mx_array_dim(keys, 1) == 2);
  /* The second key is a strided view (offset 2): using it as a key must
   * read the right words. bits({}, b) = first word of hash(b, (0, 0)). */
  mx_array x = mx_random_bits(NULL, 0, 4, b);
  mx_array bc = mx_array_from_data(wb, (int64_t[]){2}, 1, MX_UINT32);
  mx_array y = mx_random_bits(NULL, 0, 4, bc);
  uint32_t vx = 0, vy = 1;
  mx_array_copy_to(x, &vx, 4, MX_UINT32);
  mx_array_copy_to(y, &vy, 4, MX_UINT32);
  CHECK(vx == vy);
  /* A key read with stride 2 (a column of a (2, 2) array): (0, 1). */
  uint32_t kk[4] = {0, 7, 1, 9};
  mx_array m = mx_array_from_data(kk, (int64_t[]){2, 2}, 2, MX_UINT32);
  mx_array mt = mx_transpose(m, NULL, 0);
  mx_array row0 = mx_as_strided(m, (int64_t[]){2}, 1, (int64_t[]){2}, 0);
  mx_array z = mx_random_bits(NULL, 0, 4, row0);
  mx_array k01 = mx_random_key(1);
  mx_array z1 = mx_random_bits(NULL, 0, 4, k01);
  uint32_t vz = 0, vz1 = 1;
  mx_array_copy_to(z, &vz, 4, MX_UINT32);
  mx_array_copy_to(z1, &vz1, 4, MX_UINT32);
  CHECK(vz == vz1 && vz1 == 507451445u);
  mx_array arr[] = {key, a, b, keys, x, bc, y, m, mt, row0, z, k01, z1};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
}

/* TEST_CASE("test random bits"). */
static void test_mlx_bits(void) {
  mx_array k0 = mx_random_key(0), k1 = mx_random_key(1);
  struct {
    mx_array key;
    int width;
    uint32_t want;
  } scalars[] = {{k0, 4, 1797259609u}, {k0, 2, 345}, {k0, 1, 89},
                 {k1, 4, 507451445u},  {k1, 2, 6197}, {k1, 1, 53}};
  for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++) {
    mx_array x = mx_random_bits(NULL, 0, scalars[i].width, scalars[i].key);
    CHECK(equal_u32(x, &scalars[i].want, 1));
    mx_array_free(x);
  }
  mx_array x = mx_random_bits((int64_t[]){3, 1}, 2, 4, k0);
  CHECK(equal_u32(x, (const uint32_t[]){4146024105u, 1351547692u, 2718843009u}, 3));
  mx_array_free(x);
  const uint32_t w8[8] = {20137, 63263, 1497, 14756, 16513, 41486, 44591, 19423};
  const uint32_t w5[5] = {20137, 63263, 64300, 20622, 16513};
  const uint32_t w6[6] = {20137, 63263, 64300, 20622, 16513, 41486};
  const uint32_t *want[] = {w5, w6, w8, w8};
  for (int n = 5; n <= 8; n++) {
    x = mx_random_bits((int64_t[]){n}, 1, 2, k0);
    CHECK(mx_array_dtype(x) == MX_UINT16 && equal_u32(x, want[n - 5], n));
    mx_array_free(x);
  }
  x = mx_random_bits((int64_t[]){0}, 1, 4, k0);
  CHECK(x && mx_array_size(x) == 0 && mx_eval1(x) == MX_OK);
  mx_array_free(x);
  mx_array_free(k0);
  mx_array_free(k1);
}

/* TEST_CASE("test random uniform"): values are bits / float(UINT32_MAX). */
static void test_mlx_uniform(void) {
  mx_array k0 = mx_random_key(0), k1 = mx_random_key(1);
  float v = -1;
  mx_array x = mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, k0);
  mx_array_copy_to(x, &v, 4, MX_FLOAT32);
  CHECK(v == (float)1797259609u / (float)UINT32_MAX);
  mx_array_free(x);
  x = mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, k1);
  mx_array_copy_to(x, &v, 4, MX_FLOAT32);
  CHECK(v == (float)507451445u / (float)UINT32_MAX);
  mx_array_free(x);
  float v3[3];
  x = mx_random_uniform(0, 1, (int64_t[]){3, 1}, 2, MX_FLOAT32, k0);
  mx_array_copy_to(x, v3, sizeof v3, MX_FLOAT32);
  CHECK(v3[0] == (float)4146024105u / (float)UINT32_MAX && v3[1] == (float)1351547692u / (float)UINT32_MAX &&
        v3[2] == (float)2718843009u / (float)UINT32_MAX);
  mx_array_free(x);
  /* "Check float16" / bfloat16: in [0, 1), not all 0, mean near 0.5. */
  mx_dtype halves[2] = {MX_FLOAT16, MX_BFLOAT16};
  for (int h = 0; h < 2; h++) {
    x = mx_random_uniform(0, 1, (int64_t[]){1000}, 1, halves[h], k0);
    double *d = values(x), mean = 0;
    bool in_range = d != NULL, all_zero = true;
    for (int i = 0; d && i < 1000; i++) {
      in_range &= d[i] >= 0 && d[i] < 1;
      all_zero &= d[i] == 0;
      mean += d[i] / 1000;
    }
    CHECK(mx_array_dtype(x) == halves[h] && in_range && !all_zero && fabs(mean - 0.5) < 0.02);
    free(d);
    mx_array_free(x);
  }
  mx_array_free(k0);
  mx_array_free(k1);
}

/* TEST_CASE("test categorical"): infinite logits. */
static void test_mlx_categorical(void) {
  mx_array key = mx_random_key(3);
  float l1[5] = {1.0f, -2.0f, INFINITY, 4.0f, 3.0f}, l2[4] = {-INFINITY, -2.0f, -INFINITY, -INFINITY},
        l3[4] = {-INFINITY, 0.0f, -INFINITY, 0.0f};
  mx_array a = mx_array_from_data(l1, (int64_t[]){5}, 1, MX_FLOAT32);
  mx_array b = mx_array_from_data(l2, (int64_t[]){4}, 1, MX_FLOAT32);
  mx_array c = mx_array_from_data(l3, (int64_t[]){4}, 1, MX_FLOAT32);
  uint32_t v[100];
  mx_array x = mx_random_categorical(a, -1, 0, key);
  CHECK(x && mx_array_ndim(x) == 0 && mx_array_dtype(x) == MX_UINT32 &&
        mx_array_copy_to(x, v, 4, MX_UINT32) == MX_OK && v[0] == 2);
  mx_array_free(x);
  x = mx_random_categorical(b, -1, 0, key);
  CHECK(mx_array_copy_to(x, v, 4, MX_UINT32) == MX_OK && v[0] == 1);
  mx_array_free(x);
  x = mx_random_categorical(a, 0, 5, key);
  bool ok = mx_array_copy_to(x, v, 20, MX_UINT32) == MX_OK;
  for (int i = 0; i < 5; i++) ok &= v[i] == 2;
  CHECK(ok);
  mx_array_free(x);
  x = mx_random_categorical(b, 0, 5, key);
  ok = mx_array_copy_to(x, v, 20, MX_UINT32) == MX_OK;
  for (int i = 0; i < 5; i++) ok &= v[i] == 1;
  CHECK(ok);
  mx_array_free(x);
  x = mx_random_categorical(c, 0, 100, key);
  ok = mx_array_copy_to(x, v, sizeof v, MX_UINT32) == MX_OK;
  for (int i = 0; i < 100; i++) ok &= v[i] == 1 || v[i] == 3;
  CHECK(ok);
  mx_array_free(x);
  /* Shapes: zeros (5, 4, 3) with 7 samples along each axis. */
  mx_array z = mx_zeros((int64_t[]){5, 4, 3}, 3, MX_FLOAT32);
  int64_t want[3][3] = {{5, 4, 7}, {5, 3, 7}, {4, 3, 7}};
  for (int axis = -1; axis >= -3; axis--) {
    x = mx_random_categorical(z, axis, 7, key);
    CHECK(x && mx_array_ndim(x) == 3 && mx_array_dim(x, 0) == want[-axis - 1][0] &&
          mx_array_dim(x, 1) == want[-axis - 1][1] && mx_array_dim(x, 2) == 7);
    mx_array_free(x);
  }
  mx_array arr[] = {key, a, b, c, z};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
}

/* MLX's python test_randint: an empty range gives `low`; bounds hold when
 * they are not exactly representable in float32. */
static void test_mlx_randint(void) {
  mx_array key = mx_random_key(0);
  mx_array x = mx_random_randint(10, -10, (int64_t[]){1000}, 1, MX_INT32, key);
  double *v = values(x);
  bool ok = v != NULL;
  for (int i = 0; v && i < 1000; i++) ok &= v[i] == 10;
  CHECK(ok);
  free(v);
  mx_array_free(x);
  int64_t lows[3] = {1 << 24, 1 << 24, (int64_t)1 << 40}, spans[3] = {2, 2, 1024};
  mx_dtype types[3] = {MX_INT32, MX_UINT32, MX_INT64};
  for (int t = 0; t < 3; t++) {
    x = mx_random_randint(lows[t], lows[t] + spans[t], (int64_t[]){10000}, 1, types[t], key);
    v = values(x);
    ok = v != NULL;
    for (int i = 0; v && i < 10000; i++) ok &= v[i] >= (double)lows[t] && v[i] < (double)(lows[t] + spans[t]);
    CHECK_MSG(ok, mx_dtype_name(types[t]));
    free(v);
    mx_array_free(x);
  }
  /* -5..4 all reached (python test_randint). */
  x = mx_random_randint(-5, 5, (int64_t[]){20000}, 1, MX_INT32, key);
  v = values(x);
  int seen[10] = {0};
  ok = v != NULL;
  for (int i = 0; v && i < 20000; i++) {
    ok &= v[i] >= -5 && v[i] < 5;
    if (ok) seen[(int)v[i] + 5] = 1;
  }
  for (int i = 0; i < 10; i++) ok &= seen[i];
  CHECK(ok);
  free(v);
  mx_array_free(x);
  mx_array_free(key);
}

/* ------------------------------------------------------------ global sequence */

static void test_global_sequence(void) {
  /* TEST_CASE("test global rng"): reseeding replays the sequence. */
  mx_random_seed(4);
  mx_array x = mx_random_bits(NULL, 0, 4, NULL), y = mx_random_bits(NULL, 0, 4, NULL);
  mx_random_seed(4);
  mx_array a = mx_random_bits(NULL, 0, 4, NULL), b = mx_random_bits(NULL, 0, 4, NULL);
  uint32_t vx, vy, va, vb;
  mx_array_copy_to(x, &vx, 4, MX_UINT32);
  mx_array_copy_to(y, &vy, 4, MX_UINT32);
  mx_array_copy_to(a, &va, 4, MX_UINT32);
  mx_array_copy_to(b, &vb, 4, MX_UINT32);
  CHECK(vx == va && vy == vb && vx != vy);
  /* The sequence is MLX's: next() splits the state into (state, key). */
  mx_random_seed(0);
  mx_array g = mx_random_bits(NULL, 0, 4, NULL);
  mx_array k = mx_array_from_data((const uint32_t[]){2718843009u, 1272950319u}, (int64_t[]){2}, 1, MX_UINT32);
  mx_array e = mx_random_bits(NULL, 0, 4, k);
  uint32_t vg = 0, ve = 1;
  mx_array_copy_to(g, &vg, 4, MX_UINT32);
  mx_array_copy_to(e, &ve, 4, MX_UINT32);
  CHECK(vg == ve);
  mx_array arr[] = {x, y, a, b, g, k, e};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
}

enum { NTHREADS = 4, PER_THREAD = 250 };
static mx_array thread_out[NTHREADS][PER_THREAD];

static void *draw_keys(void *arg) {
  intptr_t t = (intptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++) thread_out[t][i] = mx_random_bits(NULL, 0, 4, NULL);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Threads drawing from the global sequence share it without losing or
 * repeating keys: the values drawn are those of a sequential run. */
static void test_global_threads(void) {
  uint32_t seq[NTHREADS * PER_THREAD], par[NTHREADS * PER_THREAD];
  mx_random_seed(1234);
  for (int i = 0; i < NTHREADS * PER_THREAD; i++) {
    mx_array x = mx_random_bits(NULL, 0, 4, NULL);
    mx_array_copy_to(x, &seq[i], 4, MX_UINT32);
    mx_array_free(x);
  }
  mx_random_seed(1234);
  pthread_t th[NTHREADS];
  for (intptr_t t = 0; t < NTHREADS; t++) pthread_create(&th[t], NULL, draw_keys, (void *)t);
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < PER_THREAD; i++) {
      mx_array_copy_to(thread_out[t][i], &par[t * PER_THREAD + i], 4, MX_UINT32);
      mx_array_free(thread_out[t][i]);
    }
  qsort(seq, NTHREADS * PER_THREAD, 4, cmp_u32);
  qsort(par, NTHREADS * PER_THREAD, 4, cmp_u32);
  CHECK(memcmp(seq, par, sizeof seq) == 0);
}

/* ------------------------------------------------------------ statistics */

#define N_STAT 100000

static void test_statistics(void) {
  mx_array key = mx_random_key(2024);
  int64_t n = N_STAT;
  double mean, var, sn = sqrt((double)N_STAT);
  /* Each bound is 5 standard deviations of the estimate. */
  mx_array u = mx_random_uniform(0, 1, &n, 1, MX_FLOAT32, key);
  moments(u, &mean, &var);
  CHECK(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12) / sn);
  CHECK(fabs(var - 1.0 / 12) < 5 * sqrt(1.0 / 80 - 1.0 / 144) / sn);
  mx_array_free(u);
  u = mx_random_uniform(-3, 5, &n, 1, MX_BFLOAT16, key);
  moments(u, &mean, &var);
  CHECK(fabs(mean - 1.0) < 5 * 8 * sqrt(1.0 / 12) / sn + 0.01); /* + bf16 rounding bias */
  mx_array_free(u);
  mx_array z = mx_random_normal(&n, 1, MX_FLOAT32, 0, 1, key);
  moments(z, &mean, &var);
  CHECK(fabs(mean) < 5 / sn);
  CHECK(fabs(var - 1) < 5 * sqrt(2.0) / sn);
  mx_array_free(z);
  z = mx_random_normal(&n, 1, MX_FLOAT64, 3, 2, key);
  moments(z, &mean, &var);
  CHECK(fabs(mean - 3) < 5 * 2 / sn);
  CHECK(fabs(var - 4) < 5 * 4 * sqrt(2.0) / sn);
  mx_array_free(z);
  /* complex: real and imaginary parts each N(0, 1/2). */
  z = mx_random_normal(&n, 1, MX_COMPLEX64, 0, 1, key);
  float *cz = malloc((size_t)N_STAT * 8);
  mx_array_copy_to(z, cz, (size_t)N_STAT * 8, MX_COMPLEX64);
  double sr = 0, si = 0, sr2 = 0, si2 = 0;
  for (int i = 0; i < N_STAT; i++) {
    sr += cz[2 * i], si += cz[2 * i + 1];
    sr2 += (double)cz[2 * i] * cz[2 * i], si2 += (double)cz[2 * i + 1] * cz[2 * i + 1];
  }
  CHECK(fabs(sr / N_STAT) < 5 * sqrt(0.5) / sn && fabs(si / N_STAT) < 5 * sqrt(0.5) / sn);
  CHECK(fabs(sr2 / N_STAT - 0.5) < 5 * 0.5 * sqrt(2.0) / sn && fabs(si2 / N_STAT - 0.5) < 5 * 0.5 * sqrt(2.0) / sn);
  free(cz);
  mx_array_free(z);
  /* truncated normal on [-1, 2]: inside the bounds, mean of that law. */
  z = mx_random_truncated_normal(-1, 2, &n, 1, MX_FLOAT32, key);
  double *v = values(z);
  bool inside = v != NULL;
  for (int i = 0; v && i < N_STAT; i++) inside &= v[i] >= -1 && v[i] <= 2;
  CHECK(inside);
  free(v);
  moments(z, &mean, &var);
  double phi_a = exp(-0.5) / sqrt(2 * M_PI), phi_b = exp(-2.0) / sqrt(2 * M_PI);
  double zmass = 0.5 * (erf(2 / sqrt(2.0)) - erf(-1 / sqrt(2.0)));
  CHECK(fabs(mean - (phi_a - phi_b) / zmass) < 5 * 1.0 / sn);
  mx_array_free(z);
  /* gumbel: mean is Euler's constant, sd pi / sqrt(6). */
  z = mx_random_gumbel(&n, 1, MX_FLOAT32, key);
  moments(z, &mean, &var);
  CHECK(fabs(mean - 0.5772156649) < 5 * (M_PI / sqrt(6.0)) / sn);
  mx_array_free(z);
  /* bernoulli rate. */
  mx_array p = mx_array_from_float(0.3f);
  mx_array bz = mx_random_bernoulli(p, &n, 1, key);
  moments(bz, &mean, &var);
  CHECK(mx_array_dtype(bz) == MX_BOOL && fabs(mean - 0.3) < 5 * sqrt(0.21) / sn);
  mx_array_free(bz);
  mx_array_free(p);
  /* randint: every value of [-5, 5) about equally often. */
  mx_array ri = mx_random_randint(-5, 5, &n, 1, MX_INT8, key);
  v = values(ri);
  int64_t cnt[10] = {0};
  bool ok = v != NULL;
  for (int i = 0; v && i < N_STAT; i++) {
    ok &= v[i] >= -5 && v[i] < 5;
    if (ok) cnt[(int)v[i] + 5]++;
  }
  for (int i = 0; i < 10; i++) ok &= fabs(cnt[i] / (double)N_STAT - 0.1) < 5 * sqrt(0.09) / sn;
  CHECK(ok);
  free(v);
  mx_array_free(ri);
  /* categorical with probabilities (0.1, 0.2, 0.3, 0.4): the inverse-CDF
   * path (one distribution, many samples) and the gumbel path (many rows). */
  float lp[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
  mx_array logits = mx_array_from_data(lp, (int64_t[]){4}, 1, MX_FLOAT32);
  mx_array rows = mx_broadcast_to(logits, (int64_t[]){N_STAT, 4}, 2);
  mx_array s1 = mx_random_categorical(logits, 0, N_STAT, key);
  mx_array s2 = mx_random_categorical(rows, 1, 0, key);
  mx_array both[2] = {s1, s2};
  for (int t = 0; t < 2; t++) {
    v = values(both[t]);
    int64_t c4[4] = {0};
    ok = v != NULL && mx_array_size(both[t]) == N_STAT;
    for (int i = 0; ok && i < N_STAT; i++) {
      ok &= v[i] >= 0 && v[i] < 4;
      if (ok) c4[(int)v[i]]++;
    }
    for (int i = 0; ok && i < 4; i++) {
      double pi = 0.1 * (i + 1);
      ok &= fabs(c4[i] / (double)N_STAT - pi) < 5 * sqrt(pi * (1 - pi)) / sn;
    }
    CHECK_MSG(ok, t ? "categorical gumbel path" : "categorical inverse-CDF path");
    free(v);
  }
  mx_array arr[] = {logits, rows, s1, s2, key};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
  /* permutation of 16384: a permutation, and not the identity. */
  mx_array pk = mx_random_key(77);
  mx_array perm = mx_random_permutation(16384, pk);
  v = values(perm);
  char *hit = calloc(16384, 1);
  ok = v != NULL;
  bool identity = true;
  for (int i = 0; v && i < 16384; i++) {
    ok &= v[i] >= 0 && v[i] < 16384 && !hit[(int)v[i]];
    if (ok) hit[(int)v[i]] = 1;
    identity &= v[i] == i;
  }
  CHECK(ok && !identity && mx_array_dtype(perm) == MX_UINT32);
  free(hit);
  free(v);
  mx_array_free(perm);
  mx_array_free(pk);
}

/* ------------------------------------------------------------ laziness, errors */

static void test_lazy_and_errors(void) {
  mx_array key = mx_random_key(5);
  mx_array x = mx_random_normal((int64_t[]){4}, 1, MX_FLOAT32, 0, 1, key);
  CHECK(x && !mx_array_is_evaluated(x));
  mx_array_free(x);

  mx_array ik = mx_array_from_data((const int32_t[]){0, 0}, (int64_t[]){2}, 1, MX_INT32);
  CHECK_ERR(mx_random_bits(NULL, 0, 4, ik), MX_ERR_DTYPE, "bits: expected a key of dtype uint32, got int32");
  CHECK_ERR(mx_random_uniform(0, 1, NULL, 0, MX_FLOAT32, ik), MX_ERR_DTYPE, "uniform: expected a key of dtype uint32");
  mx_array k12 = mx_array_from_data((const uint32_t[]){0, 0}, (int64_t[]){1, 2}, 2, MX_UINT32);
  CHECK_ERR(mx_random_bits(NULL, 0, 4, k12), MX_ERR_SHAPE, "bits: expected a key of shape (2), got (1,2)");
  mx_array k3 = mx_array_from_data((const uint32_t[]){0, 0, 0}, (int64_t[]){3}, 1, MX_UINT32);
  CHECK_ERR(mx_random_normal(NULL, 0, MX_FLOAT32, 0, 1, k3), MX_ERR_SHAPE, "normal: expected a key of shape (2), got (3)");
  CHECK_ERR(mx_random_split(k12, 2), MX_ERR_SHAPE, "split: expected a key of shape (2)");
  mx_array f = NULL, s = NULL;
  mx_clear_error();
  CHECK(mx_random_split2(k3, &f, &s) == MX_ERR_SHAPE && f == NULL && s == NULL);
  CHECK(mx_random_split2(key, NULL, &s) == MX_ERR_INVALID_ARG);
  mx_clear_error();
  for (int w = -1; w <= 5; w++) {
    if (w == 1 || w == 2 || w == 4) continue;
    CHECK_ERR(mx_random_bits(NULL, 0, w, key), MX_ERR_INVALID_ARG, "bits: width must be 1, 2 or 4 bytes");
  }
  CHECK_ERR(mx_random_bits((int64_t[]){2, -3}, 2, 4, key), MX_ERR_SHAPE, "bits: negative dimension in shape (2,-3)");
  CHECK_ERR(mx_random_uniform(0, 1, (int64_t[]){-1}, 1, MX_FLOAT32, key), MX_ERR_SHAPE, "uniform: negative dimension");
  CHECK_ERR(mx_random_bits(NULL, 3, 4, key), MX_ERR_INVALID_ARG, "bits: shape is NULL");
  CHECK_ERR(mx_random_split(key, -1), MX_ERR_INVALID_ARG, "split: number of keys -1");
  CHECK_ERR(mx_random_uniform(0, 1, NULL, 0, MX_INT32, key), MX_ERR_DTYPE, "uniform: dtype int32 is not supported");
  CHECK_ERR(mx_random_uniform(0, 1, NULL, 0, MX_FLOAT64, key), MX_ERR_DTYPE, "uniform: dtype float64");
  CHECK_ERR(mx_random_normal(NULL, 0, MX_INT32, 0, 1, key), MX_ERR_DTYPE, "normal: dtype int32 is not supported");
  CHECK_ERR(mx_random_truncated_normal(-1, 1, NULL, 0, MX_UINT8, key), MX_ERR_DTYPE, "truncated_normal: dtype uint8");
  CHECK_ERR(mx_random_truncated_normal(NAN, 1, NULL, 0, MX_FLOAT32, key), MX_ERR_INVALID_ARG, "must not be NaN");
  CHECK_ERR(mx_random_gumbel(NULL, 0, MX_INT64, key), MX_ERR_DTYPE, "gumbel: dtype int64");
  CHECK_ERR(mx_random_randint(0, 10, NULL, 0, MX_FLOAT32, key), MX_ERR_DTYPE, "randint: dtype float32 is not supported");
  CHECK_ERR(mx_random_randint(0, 10, NULL, 0, (mx_dtype)99, key), MX_ERR_DTYPE, "randint: dtype invalid");
  mx_array pi = mx_array_from_int(0);
  CHECK_ERR(mx_random_bernoulli(pi, NULL, 0, key), MX_ERR_DTYPE, "bernoulli: probability p must have a floating dtype, got int32");
  mx_array p3 = mx_array_from_data((const float[]){0.1f, 0.2f, 0.3f}, (int64_t[]){3}, 1, MX_FLOAT32);
  CHECK_ERR(mx_random_bernoulli(p3, (int64_t[]){2}, 1, key), MX_ERR_SHAPE,
            "bernoulli: shape of p (3) is not broadcastable to shape (2)");
  CHECK_ERR(mx_random_bernoulli(NULL, NULL, 0, key), MX_ERR_NULL_INPUT, "bernoulli");
  mx_array z = mx_zeros((int64_t[]){10, 20}, 2, MX_FLOAT32);
  CHECK_ERR(mx_random_categorical(z, 2, 0, key), MX_ERR_INVALID_ARG, "categorical: axis 2 is out of range");
  CHECK_ERR(mx_random_categorical(z, -3, 0, key), MX_ERR_INVALID_ARG, "categorical: axis -3");
  CHECK_ERR(mx_random_categorical(z, 1, -2, key), MX_ERR_INVALID_ARG, "num_samples -2");
  CHECK_ERR(mx_random_categorical(pi, 0, 0, key), MX_ERR_SHAPE, "categorical: logits must have at least one dimension");
  mx_array zc = mx_zeros((int64_t[]){3}, 1, MX_COMPLEX64);
  CHECK_ERR(mx_random_categorical(zc, 0, 0, key), MX_ERR_DTYPE, "categorical: logits must be real");
  mx_array e0 = mx_zeros((int64_t[]){3, 0}, 2, MX_FLOAT32);
  CHECK_ERR(mx_random_categorical(e0, 1, 0, key), MX_ERR_SHAPE, "cannot sample from an empty axis");
  CHECK_ERR(mx_random_categorical(NULL, 0, 0, key), MX_ERR_NULL_INPUT, "categorical");
  CHECK_ERR(mx_random_categorical(z, 0, 0, k3), MX_ERR_SHAPE, "categorical: expected a key of shape (2)");
  CHECK_ERR(mx_random_permutation(-1, key), MX_ERR_INVALID_ARG, "permutation: n = -1");
  CHECK_ERR(mx_random_permutation_array(pi, 0, key), MX_ERR_SHAPE, "permutation: cannot permute a 0-d array");
  CHECK_ERR(mx_random_permutation_array(z, 2, key), MX_ERR_INVALID_ARG, "permutation: axis 2 is out of range");
  CHECK_ERR(mx_random_permutation(4, ik), MX_ERR_DTYPE, "permutation: expected a key of dtype uint32");
  /* Empty outputs evaluate. */
  x = mx_random_categorical(e0, 0, 0, key); /* (0,) samples from 3 classes */
  CHECK(x && mx_array_size(x) == 0 && mx_eval1(x) == MX_OK);
  mx_array_free(x);
  mx_array arr[] = {key, ik, k12, k3, pi, p3, z, zc, e0};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n > 100, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_random FIXTURE_DIR");
  }
  test_mlx_key();
  test_mlx_split();
  test_mlx_bits();
  test_mlx_uniform();
  test_mlx_categorical();
  test_mlx_randint();
  test_global_sequence();
  test_global_threads();
  test_statistics();
  test_lazy_and_errors();
  CHECK(mx_memory_active() == mem0);
  return check_summary();
}
