/* test_cuda_reduce.c — the reduction family's CUDA kernels against the CPU
 * kernels on the same inputs: reduce (sum, prod, max, min, mean, var, std,
 * logsumexp, all, any), argmax/argmin, softmax, scans, sort / argsort and
 * partition / argpartition / topk.
 *
 * Without a usable GPU the test says so and passes (CI has none). Inputs
 * are made and evaluated on the CPU (dense, transposed, stepped, reversed,
 * broadcast views), then each op runs once on the CPU stream and once on
 * the GPU stream; the GPU run must not fall back to the CPU
 * (gpu_fallback_count unchanged) and the results must agree:
 *   - exact: integer and bool results, max/min, argmax/argmin indices (first
 *     index on ties, NaN rules), cummax/cummin, sort/argsort (both stable);
 *   - f32 sums and means: |gpu - cpu| <= 2^-20 |cpu| + 2^-22 n (n reduced
 *     elements): the summation order differs (GPU: f32 tree of per-thread
 *     f32 sums; CPU: f32 lanes, f64 blocks); 2^-22 n is below the f32
 *     worst-case bound eps * log2(n) * sum|x| for N(0,1) data but well above
 *     the typical error;
 *   - f16/bf16 outputs: additionally one unit in the output's last place
 *     (2^-10 / 2^-7 relative) since both round an f32 result once;
 *   - var/std, logsumexp, softmax (f32): 1e-5 relative (CUDA expf vs the
 *     CPU's 2-ulp polynomial, and the order of sums), floors stated per
 *     call; f64: 1e-12 relative;
 *   - scans of f32: a parallel prefix against a sequential one: 1e-5 +
 *     4 * 2^-24 sqrt(n) relative (the sequential sum's random-walk drift)
 *     plus 2^-20 n absolute for N(0,1) data; products likewise;
 *   - partition / argpartition / topk: the GPU gives the sorted order, a
 *     valid partition: its kth element equals the CPU's, elements before
 *     (after) are <= (>=) it, indices are a permutation; topk's elements
 *     equal the CPU's as a multiset.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

#define F32 MX_FLOAT32
#define F16 MX_FLOAT16
#define BF16 MX_BFLOAT16

/* ------------------------------------------------------------ inputs */

static uint64_t seed_ctr = 1;

/* N(0, scale) cast to t (ints truncate), evaluated on the CPU. */
static mx_array rnd(const int64_t *shape, int nd, mx_dtype t, double scale) {
  mx_set_default_device(cpu);
  mx_array key = mx_random_key(seed_ctr++);
  mx_array u = mx_random_normal(shape, nd, MX_FLOAT32, 0.0, scale, key);
  mx_array r = mx_astype(u, t);
  mx_eval1(r);
  mx_array_free(key);
  mx_array_free(u);
  return r;
}

static mx_array unif(const int64_t *shape, int nd, mx_dtype t, double lo, double hi) {
  mx_set_default_device(cpu);
  mx_array key = mx_random_key(seed_ctr++);
  mx_array u = mx_random_uniform(lo, hi, shape, nd, MX_FLOAT32, key);
  mx_array r = mx_astype(u, t);
  mx_eval1(r);
  mx_array_free(key);
  mx_array_free(u);
  return r;
}

static mx_array from_f32(const float *v, const int64_t *shape, int nd, mx_dtype t) {
  mx_set_default_device(cpu);
  mx_array a = mx_array_from_data(v, shape, nd, MX_FLOAT32);
  mx_array r = mx_astype(a, t);
  mx_eval1(r);
  mx_array_free(a);
  return r;
}

static mx_array eval_cpu(mx_array a) {
  mx_set_default_device(cpu);
  mx_eval1(a);
  return a;
}

static mx_array transposed(mx_array a) {
  mx_set_default_device(cpu);
  int nd = mx_array_ndim(a), perm[MX_MAX_NDIM];
  for (int i = 0; i < nd; i++) perm[i] = nd - 1 - i;
  return eval_cpu(mx_transpose(a, perm, nd));
}

/* Every second row, columns reversed: a (n/2, m) view with strides (2m, -1). */
static mx_array step_rev(mx_array a) {
  mx_set_default_device(cpu);
  int64_t start[2] = {0, -1}, stop[2] = {MX_SLICE_END, MX_SLICE_END}, step[2] = {2, -1};
  return eval_cpu(mx_slice(a, start, stop, step, 2));
}

/* ------------------------------------------------------------ running ops */

typedef struct rc {
  int op;
  int axes[MX_MAX_NDIM];
  int naxes;
  bool keep;
  int ddof;
  int axis;
  bool rev, inc;
  int64_t k;
} rc;

typedef mx_array (*opfn)(mx_array x, const rc *c);

enum { O_SUM, O_PROD, O_MAX, O_MIN, O_MEAN, O_VAR, O_STD, O_LSE, O_ALL, O_ANY, O_NOPS };
static const char *red_names[] = {"sum", "prod", "max", "min", "mean",
                                  "var", "std", "logsumexp", "all", "any"};

static mx_array do_reduce(mx_array x, const rc *c) {
  const int *ax = c->naxes < 0 ? NULL : c->axes;
  int na = c->naxes < 0 ? 0 : c->naxes;
  if (c->naxes < 0) {
    static int all[MX_MAX_NDIM];
    for (int i = 0; i < mx_array_ndim(x); i++) all[i] = i;
    ax = all;
    na = mx_array_ndim(x);
  }
  switch (c->op) {
    case O_SUM: return mx_sum(x, ax, na, c->keep);
    case O_PROD: return mx_prod(x, ax, na, c->keep);
    case O_MAX: return mx_max(x, ax, na, c->keep);
    case O_MIN: return mx_min(x, ax, na, c->keep);
    case O_MEAN: return mx_mean(x, ax, na, c->keep);
    case O_VAR: return mx_var(x, ax, na, c->keep, c->ddof);
    case O_STD: return mx_std(x, ax, na, c->keep, c->ddof);
    case O_LSE: return mx_logsumexp(x, ax, na, c->keep);
    case O_ALL: return mx_all(x, ax, na, c->keep);
    default: return mx_any(x, ax, na, c->keep);
  }
}
static mx_array do_argmax(mx_array x, const rc *c) { return mx_argmax(x, c->axis, c->keep); }
static mx_array do_argmin(mx_array x, const rc *c) { return mx_argmin(x, c->axis, c->keep); }
static mx_array do_softmax(mx_array x, const rc *c) {
  return mx_softmax(x, c->naxes < 0 ? NULL : c->axes, c->naxes < 0 ? 0 : c->naxes, false);
}
static mx_array do_scan(mx_array x, const rc *c) {
  switch (c->op) {
    case 0: return mx_cumsum(x, c->axis, c->rev, c->inc);
    case 1: return mx_cumprod(x, c->axis, c->rev, c->inc);
    case 2: return mx_cummax(x, c->axis, c->rev, c->inc);
    case 3: return mx_cummin(x, c->axis, c->rev, c->inc);
    default: return mx_logcumsumexp(x, c->axis, c->rev, c->inc);
  }
}
static mx_array do_sort(mx_array x, const rc *c) { return mx_sort(x, c->axis); }
static mx_array do_argsort(mx_array x, const rc *c) { return mx_argsort(x, c->axis); }
static mx_array do_partition(mx_array x, const rc *c) { return mx_partition(x, c->k, c->axis); }
static mx_array do_argpartition(mx_array x, const rc *c) {
  return mx_argpartition(x, c->k, c->axis);
}
static mx_array do_topk(mx_array x, const rc *c) { return mx_topk(x, c->k, c->axis); }

static int64_t fallbacks_seen;

/* f(x) on device d, evaluated; on the GPU also counts fallbacks. */
static mx_array run_on(mx_device d, opfn f, mx_array x, const rc *c) {
  mx_set_default_device(d);
  int64_t fb = gpu_fallback_count();
  mx_array r = f(x, c);
  if (r) mx_eval1(r);
  if (d.type == MX_GPU) fallbacks_seen = gpu_fallback_count() - fb;
  mx_set_default_device(cpu);
  return r;
}

/* Host f64 copy of an array (caller frees). */
static double *host_f64(mx_array a) {
  mx_set_default_device(cpu);
  mx_array b = mx_astype(a, MX_FLOAT64);
  const double *p = b ? mx_array_data(b) : NULL;
  int64_t n = mx_array_size(a);
  double *r = malloc((size_t)(n ? n : 1) * sizeof *r);
  if (p && r) memcpy(r, p, (size_t)n * sizeof *r);
  else {
    free(r);
    r = NULL;
  }
  mx_array_free(b);
  return r;
}

static bool same_shape(mx_array a, mx_array b) {
  if (mx_array_ndim(a) != mx_array_ndim(b) || mx_array_dtype(a) != mx_array_dtype(b)) return false;
  for (int i = 0; i < mx_array_ndim(a); i++)
    if (mx_array_shape(a)[i] != mx_array_shape(b)[i]) return false;
  return true;
}

/* Worst |g - c| / (abs + rel |c|); NaN must meet NaN and infinities match. */
static double worst_err(const double *g, const double *c, int64_t n, double rel, double abs) {
  double w = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(c[i]) || isnan(g[i])) {
      if (!(isnan(c[i]) && isnan(g[i]))) return INFINITY;
      continue;
    }
    if (g[i] == c[i]) continue;
    if (isinf(c[i]) || isinf(g[i])) return INFINITY;
    double tol = abs + rel * fabs(c[i]);
    double e = tol > 0 ? fabs(g[i] - c[i]) / tol : INFINITY;
    if (e > w) w = e;
  }
  return w;
}

static void label_of(char *buf, size_t cap, const char *what, mx_array x) {
  char s[SHAPE_STR_CAP];
  snprintf(buf, cap, "%s %s %s", what, mx_dtype_name(mx_array_dtype(x)),
           fmt_shape(s, sizeof s, mx_array_shape(x), mx_array_ndim(x)));
}

/* GPU vs CPU within (rel, abs); no fallback. */
static void cmp(const char *what, opfn f, mx_array x, const rc *c, double rel, double abs) {
  char lab[256], msg[400];
  label_of(lab, sizeof lab, what, x);
  mx_array rc_ = run_on(cpu, f, x, c);
  mx_array rg = run_on(gpu, f, x, c);
  if (!rc_ || !rg) {
    snprintf(msg, sizeof msg, "%s: failed: %s", lab, mx_last_error());
    CHECK_MSG(false, msg);
    mx_array_free(rc_);
    mx_array_free(rg);
    return;
  }
  snprintf(msg, sizeof msg, "%s: %lld node(s) fell back to the CPU", lab, (long long)fallbacks_seen);
  CHECK_MSG(fallbacks_seen == 0, msg);
  snprintf(msg, sizeof msg, "%s: result shape/dtype differ", lab);
  bool ok = same_shape(rc_, rg);
  CHECK_MSG(ok, msg);
  if (ok) {
    int64_t n = mx_array_size(rc_);
    double *hc = host_f64(rc_), *hg = host_f64(rg);
    double e = hc && hg ? worst_err(hg, hc, n, rel, abs) : INFINITY;
    snprintf(msg, sizeof msg, "%s: err %.3g of tolerance", lab, e);
    CHECK_MSG(e <= 1.0, msg);
    free(hc);
    free(hg);
  }
  mx_array_free(rc_);
  mx_array_free(rg);
}

/* ------------------------------------------------------------ reductions */

static double out_ulp(mx_dtype t) {
  return t == F16 ? 0x1p-10 : t == BF16 ? 0x1p-7 : 0.0;
}

static bool is_float(mx_dtype t) {
  return t == F32 || t == F16 || t == BF16 || t == MX_FLOAT64;
}

static void red_case(mx_array x, const int *axes, int naxes, bool keep, bool with_prod) {
  mx_dtype t = mx_array_dtype(x);
  int64_t nred = 1;
  if (naxes < 0) nred = mx_array_size(x);
  else
    for (int i = 0; i < naxes; i++) nred *= mx_array_shape(x)[axes[i]];
  double n = (double)(nred ? nred : 1);
  double u = out_ulp(t);
  for (int op = 0; op < O_NOPS; op++) {
    if (op == O_PROD && !with_prod) continue;
    if (op == O_LSE && (!is_float(t) || mx_array_size(x) == 0)) continue;
    if ((op == O_MAX || op == O_MIN) && nred == 0) continue;
    rc c = {.op = op, .naxes = naxes, .keep = keep, .ddof = op == O_STD ? 1 : 0};
    if (naxes > 0) memcpy(c.axes, axes, (size_t)naxes * sizeof *axes);
    double rel = 0, abs = 0;
    bool fl = is_float(t);
    switch (op) {
      case O_SUM:
        if (t == MX_FLOAT64) rel = 1e-12, abs = 1e-13 * n;
        else if (fl) rel = 0x1p-20 + u, abs = 0x1p-22 * n;
        break;
      case O_MEAN:
        if (t == MX_FLOAT64) rel = 1e-12, abs = 1e-13;
        else if (fl) rel = 0x1p-20 + u, abs = 0x1p-22;
        else rel = 1e-6, abs = 1e-6; /* f32 result of an exact integer sum */
        break;
      case O_PROD: rel = t == MX_FLOAT64 ? 1e-12 : fl ? 1e-6 + u : 0; break;
      case O_VAR:
      case O_STD:
      case O_LSE: rel = t == MX_FLOAT64 ? 1e-12 : 1e-5 + u, abs = 1e-6; break;
      default: break; /* max, min, all, any: exact */
    }
    char what[64];
    snprintf(what, sizeof what, "%s axes%s%d%s", red_names[op], naxes < 0 ? "=all" : "#", naxes,
             keep ? " keep" : "");
    cmp(what, do_reduce, x, &c, rel, abs);
  }
}

static void test_reductions(void) {
  mx_dtype dts[] = {F32, F16, BF16, MX_FLOAT64, MX_INT32, MX_UINT8, MX_INT64, MX_BOOL, MX_INT8,
                    MX_UINT64};
  for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
    mx_dtype t = dts[di];
    double sc = is_float(t) ? 1.0 : 20.0;
    int64_t s1[1] = {1000}, s2[2] = {7, 33}, s3[3] = {4, 5, 33}, s4[2] = {33, 1000},
            s5[2] = {66, 200}, s6[1] = {1}, s7[2] = {0, 5}, s8[2] = {1, 33};
    int a0[1] = {0}, a1[1] = {1}, a2[1] = {2}, a01[2] = {0, 1}, a02[2] = {0, 2};
    mx_array x1 = rnd(s1, 1, t, sc);
    red_case(x1, a0, 1, false, false);
    mx_array x2 = rnd(s2, 2, t, is_float(t) ? 1.0 : 3.0);
    red_case(x2, a1, 1, false, true);
    red_case(x2, a0, 1, true, true);
    red_case(x2, a01, 2, false, false);
    mx_array x3 = rnd(s3, 3, t, sc);
    red_case(x3, a1, 1, false, false);
    red_case(x3, a02, 2, true, false);
    red_case(x3, a2, 1, false, false);
    red_case(x3, NULL, -1, false, false);
    mx_array x4 = rnd(s4, 2, t, sc);
    red_case(x4, a1, 1, false, false);
    red_case(x4, a0, 1, false, false);
    mx_array x4t = transposed(x4); /* (1000, 33) */
    red_case(x4t, a0, 1, false, false);
    red_case(x4t, a1, 1, false, false);
    mx_array x5 = step_rev(rnd(s5, 2, t, sc)); /* (33, 200) strides (400, -1) */
    red_case(x5, a1, 1, false, false);
    red_case(x5, a0, 1, false, false);
    mx_array x6 = rnd(s6, 1, t, sc);
    red_case(x6, a0, 1, false, true);
    mx_array x7 = rnd(s7, 2, t, sc); /* empty */
    red_case(x7, a0, 1, false, true);
    red_case(x7, a1, 1, false, true);
    mx_array x8 = rnd(s8, 2, t, sc);
    int64_t bs[2] = {64, 33};
    mx_set_default_device(cpu);
    mx_array xb = eval_cpu(mx_broadcast_to(x8, bs, 2)); /* stride 0 */
    red_case(xb, a0, 1, false, false);
    mx_array xs[] = {x1, x2, x3, x4, x4t, x5, x6, x7, x8, xb};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
  }
  /* Long rows (split over blocks) and the all-reduce. */
  mx_dtype lt[] = {F32, BF16, MX_INT32};
  for (int i = 0; i < 3; i++) {
    int64_t s[2] = {2, 151936};
    int a1[1] = {1};
    mx_array x = rnd(s, 2, lt[i], lt[i] == MX_INT32 ? 100.0 : 1.0);
    red_case(x, a1, 1, false, false);
    red_case(x, NULL, -1, false, false);
    mx_array_free(x);
  }
  {
    int64_t s[2] = {4096, 4096};
    mx_array x = rnd(s, 2, F32, 1.0);
    rc c = {.op = O_SUM, .naxes = 1, .axes = {1}};
    cmp("sum rows 4096^2", do_reduce, x, &c, 0x1p-20, 0x1p-22 * 4096);
    c.axes[0] = 0;
    cmp("sum cols 4096^2", do_reduce, x, &c, 0x1p-20, 0x1p-22 * 4096);
    c.naxes = -1;
    cmp("sum all 4096^2", do_reduce, x, &c, 0x1p-20, 0x1p-22 * 4096.0 * 4096.0);
    c.op = O_MAX;
    cmp("max all 4096^2", do_reduce, x, &c, 0, 0);
    mx_array_free(x);
  }
  /* NaN and infinities: max/min propagate NaN; logsumexp of +-inf rows. */
  {
    float v[4][5] = {{1, NAN, 3, -2, 0},
                     {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                     {1, INFINITY, 2, 3, 4},
                     {NAN, 1, 2, 3, INFINITY}};
    int64_t s[2] = {4, 5};
    mx_dtype fts[3] = {F32, F16, BF16};
    for (int i = 0; i < 3; i++) {
      mx_array x = from_f32(&v[0][0], s, 2, fts[i]);
      int a1[1] = {1}, a0[1] = {0};
      red_case(x, a1, 1, false, false);
      red_case(x, a0, 1, false, false);
      mx_array_free(x);
    }
  }
}

/* ------------------------------------------------------------ argmax / argmin */

static void arg_case(mx_array x, int axis, bool keep) {
  rc c = {.axis = axis, .keep = keep};
  char what[64];
  snprintf(what, sizeof what, "argmax axis %d", axis);
  cmp(what, do_argmax, x, &c, 0, 0);
  snprintf(what, sizeof what, "argmin axis %d", axis);
  cmp(what, do_argmin, x, &c, 0, 0);
}

static void test_argreduce(void) {
  mx_dtype dts[] = {F32, F16, BF16, MX_FLOAT64, MX_INT32, MX_UINT8, MX_INT8, MX_INT64, MX_BOOL};
  for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
    mx_dtype t = dts[di];
    /* Small integer ranges make many ties: the first index must win. */
    double sc = is_float(t) ? 1.0 : 3.0;
    int64_t s1[2] = {1, 151936}, s2[2] = {33, 1000}, s3[3] = {4, 7, 33}, s4[1] = {1};
    mx_array x1 = rnd(s1, 2, t, sc), x2 = rnd(s2, 2, t, sc), x3 = rnd(s3, 3, t, sc),
             x4 = rnd(s4, 1, t, sc);
    arg_case(x1, 1, false);
    arg_case(x1, MX_AXIS_NONE, false);
    arg_case(x2, 0, false);
    arg_case(x2, 1, true);
    mx_array x2t = transposed(x2);
    arg_case(x2t, 0, false);
    arg_case(x2t, 1, false);
    arg_case(x2t, MX_AXIS_NONE, true);
    arg_case(x3, 1, false);
    arg_case(x4, 0, false);
    mx_array xs[] = {x1, x2, x3, x4, x2t};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
  }
  {
    int64_t s[2] = {4096, 4096};
    mx_array x = rnd(s, 2, F32, 1.0);
    arg_case(x, 0, false);
    arg_case(x, 1, false);
    mx_array_free(x);
  }
  /* NaN: a NaN wins only at index 0; ties go to the first index. */
  float v[6][6] = {{NAN, 1, 5, 5, -1, 0},  {1, NAN, 5, 5, -1, 0},  {2, 2, 2, 2, 2, 2},
                   {NAN, NAN, NAN, 1, 1, 1}, {-INFINITY, NAN, -INFINITY, 0, 0, 0},
                   {INFINITY, 1, INFINITY, NAN, -INFINITY, -INFINITY}};
  int64_t s[2] = {6, 6};
  mx_dtype fts[3] = {F32, F16, BF16};
  for (int i = 0; i < 3; i++) {
    mx_array x = from_f32(&v[0][0], s, 2, fts[i]);
    arg_case(x, 1, false);
    arg_case(x, 0, false);
    arg_case(x, MX_AXIS_NONE, false);
    mx_array_free(x);
  }
}

/* ------------------------------------------------------------ softmax / logsumexp */

static void sm_case(mx_array x, const int *axes, int naxes) {
  mx_dtype t = mx_array_dtype(x);
  rc c = {.naxes = naxes};
  if (naxes > 0) memcpy(c.axes, axes, (size_t)naxes * sizeof *axes);
  double rel = t == F32 ? 1e-5 : out_ulp(t) + 1e-5;
  /* f16's subnormal step is 2^-24; f32/bf16 tiny values: 1e-30. */
  double abs = t == F16 ? 0x1p-24 : 1e-30;
  char what[64];
  snprintf(what, sizeof what, "softmax naxes %d", naxes);
  cmp(what, do_softmax, x, &c, rel, abs);
  rc l = {.op = O_LSE, .naxes = naxes};
  if (naxes > 0) memcpy(l.axes, axes, (size_t)naxes * sizeof *axes);
  if (naxes != 0) cmp("logsumexp", do_reduce, x, &l, 1e-6 + out_ulp(t), 1e-6);
}

static void test_softmax(void) {
  mx_dtype dts[3] = {F32, F16, BF16};
  for (int di = 0; di < 3; di++) {
    mx_dtype t = dts[di];
    int last[1] = {1}, first[1] = {0}, l3[1] = {2}, a02[2] = {0, 2}, a12[2] = {1, 2};
    int64_t s1[2] = {100, 200}, s2[2] = {100, 3000}, s3[2] = {3, 3000}, s4[2] = {2, 151936},
            s5[2] = {7, 33}, s6[3] = {4, 9, 33}, s7[2] = {1, 1}, s8[2] = {70, 9000};
    mx_array x1 = rnd(s1, 2, t, 3.0), x2 = rnd(s2, 2, t, 3.0), x3 = rnd(s3, 2, t, 3.0),
             x4 = rnd(s4, 2, t, 3.0), x5 = rnd(s5, 2, t, 3.0), x6 = rnd(s6, 3, t, 3.0),
             x7 = rnd(s7, 2, t, 3.0), x8 = rnd(s8, 2, t, 3.0);
    sm_case(x1, last, 1);
    sm_case(x2, last, 1);
    sm_case(x3, last, 1);
    sm_case(x4, last, 1);
    sm_case(x8, last, 1);
    sm_case(x5, last, 1);
    sm_case(x5, first, 1);
    sm_case(x6, l3, 1);
    sm_case(x6, a02, 2);
    sm_case(x6, a12, 2);
    sm_case(x6, NULL, -1);
    sm_case(x7, last, 1);
    mx_array x1t = transposed(x1); /* (200, 100) strided rows */
    sm_case(x1t, last, 1);
    sm_case(x1t, first, 1);
    mx_array xs[] = {x1, x2, x3, x4, x5, x6, x7, x8, x1t};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
  }
  /* A NaN row, an all -inf row, a row with +inf, a -inf element. */
  float v[4][5] = {{1, NAN, 3, -2, 0},
                   {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
                   {1, INFINITY, 2, 3, 4},
                   {-INFINITY, 1, 2, 3, 4}};
  int64_t s[2] = {4, 5};
  int last[1] = {1};
  for (int di = 0; di < 3; di++) {
    mx_array x = from_f32(&v[0][0], s, 2, dts[di]);
    sm_case(x, last, 1);
    mx_array_free(x);
  }
}

/* ------------------------------------------------------------ scans */

static const char *scan_names[] = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"};

/* abs < 0: the defaults for N(0,1) data. */
static void scan_case_tol(mx_array x, int axis, int op, double abs) {
  mx_dtype t = mx_array_dtype(x);
  int64_t n = axis == MX_AXIS_NONE ? mx_array_size(x) : mx_array_shape(x)[axis];
  double u = out_ulp(t), rel = 0;
  bool fl = is_float(t);
  if (abs < 0) abs = op == 0 && fl && t != MX_FLOAT64 ? 0x1p-20 * n : op == 4 ? 1e-5 : 0;
  /* A sequential f32 prefix sum drifts ~2^-24 sqrt(n) relative (random
   * walk of roundings): 4x that on top of 1e-5. */
  if (op == 0 || op == 1)
    rel = t == MX_FLOAT64 ? 1e-12 : fl ? 1e-5 + 4 * 0x1p-24 * sqrt((double)n) + u : 0;
  if (op == 4) rel = 1e-5 + u;
  if (t == MX_FLOAT64 && op == 0) abs = 1e-13 * n;
  for (int m = 0; m < 4; m++) {
    rc c = {.op = op, .axis = axis, .rev = m & 1, .inc = (m & 2) == 0};
    char what[80];
    snprintf(what, sizeof what, "%s axis %d%s%s", scan_names[op], axis, c.rev ? " reverse" : "",
             c.inc ? "" : " exclusive");
    cmp(what, do_scan, x, &c, rel, abs);
  }
}

static void scan_case(mx_array x, int axis, int op) { scan_case_tol(x, axis, op, -1); }

static void test_scans(void) {
  mx_dtype dts[] = {F32, F16, BF16, MX_FLOAT64, MX_INT32, MX_UINT8, MX_INT8, MX_INT64, MX_BOOL};
  for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
    mx_dtype t = dts[di];
    bool fl = is_float(t);
    int64_t s1[2] = {7, 33}, s2[3] = {6, 4, 33}, s3[2] = {300, 1000}, s4[1] = {1},
            s5[2] = {0, 4};
    for (int op = 0; op < 5; op++) {
      if (op == 4 && !fl) continue;
      /* Products of values near 1 stay finite; ints wrap (exactly). */
      mx_array x1 = op == 1 && fl ? unif(s1, 2, t, 0.8, 1.25) : rnd(s1, 2, t, fl ? 1.0 : 20.0);
      scan_case(x1, 1, op);
      scan_case(x1, 0, op);
      scan_case(x1, MX_AXIS_NONE, op);
      mx_array x1t = transposed(x1);
      scan_case(x1t, 1, op);
      mx_array x2 = rnd(s2, 3, t, 1.0);
      scan_case(x2, 1, op);
      mx_array x4 = rnd(s4, 1, t, 1.0), x5 = rnd(s5, 2, t, 1.0);
      scan_case(x4, 0, op);
      scan_case(x5, 1, op);
      mx_array xs[] = {x1, x1t, x2, x4, x5};
      for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
      if (op == 1) continue;
      mx_array x3 = rnd(s3, 2, t, fl ? 1.0 : 20.0);
      scan_case(x3, 1, op);
      mx_array_free(x3);
    }
  }
  /* Top-p's cumsum: one long row of probabilities, and a few. */
  mx_dtype lt[3] = {F32, BF16, MX_INT32};
  for (int i = 0; i < 3; i++) {
    int64_t s[2] = {1, 151936}, s2[2] = {3, 151936};
    /* Positive terms: partial sums grow monotonically, so 1e-5 relative
     * (plus 1e-9 absolute against 1e-5-sized terms) bounds both orders. */
    mx_array x = i == 2 ? rnd(s, 2, lt[i], 100.0) : unif(s, 2, lt[i], 0.0, 1e-5);
    mx_array y = i == 2 ? rnd(s2, 2, lt[i], 100.0) : unif(s2, 2, lt[i], 0.0, 1e-5);
    scan_case_tol(x, 1, 0, i == 2 ? 0 : 1e-9);
    scan_case_tol(y, 1, 0, i == 2 ? 0 : 1e-9);
    scan_case(x, 1, 2);
    mx_array_free(x);
    mx_array_free(y);
  }
}

/* ------------------------------------------------------------ sorting */

/* The GPU's partition must be a valid one with the CPU's kth element. */
static void check_partition(const char *what, mx_array x, int axis, int64_t kth, bool args) {
  char lab[256], msg[400];
  label_of(lab, sizeof lab, what, x);
  rc c = {.axis = axis, .k = kth};
  mx_array pc = run_on(cpu, args ? do_argpartition : do_partition, x, &c);
  mx_array pg = run_on(gpu, args ? do_argpartition : do_partition, x, &c);
  snprintf(msg, sizeof msg, "%s: %lld node(s) fell back", lab, (long long)fallbacks_seen);
  CHECK_MSG(fallbacks_seen == 0 && pc && pg, msg);
  if (!pc || !pg) {
    mx_array_free(pc);
    mx_array_free(pg);
    return;
  }
  mx_array vc = pc, vg = pg;
  if (args) {
    mx_set_default_device(cpu);
    vc = mx_take_along_axis(x, pc, axis);
    vg = mx_take_along_axis(x, pg, axis);
  }
  /* Rows along the last axis only here (tests pass axis = ndim-1). */
  int64_t len = mx_array_shape(x)[axis], rows = mx_array_size(x) / (len ? len : 1);
  double *hc = host_f64(vc), *hg = host_f64(vg), *ig = args ? host_f64(pg) : NULL;
  bool ok = hc && hg;
  for (int64_t r = 0; ok && r < rows; r++) {
    const double *a = hc + r * len, *b = hg + r * len;
    double kv = a[kth];
    ok = b[kth] == kv || (isnan(kv) && isnan(b[kth]));
    for (int64_t j = 0; ok && j < len && !isnan(kv); j++)
      ok = j < kth ? !(b[j] > kv) : j > kth ? (isnan(b[j]) || b[j] >= kv) : true;
    if (ig) {
      char *seen = calloc((size_t)len, 1);
      for (int64_t j = 0; ok && j < len; j++) {
        int64_t q = (int64_t)ig[r * len + j];
        ok = q >= 0 && q < len && !seen[q];
        if (ok) seen[q] = 1;
      }
      free(seen);
    }
  }
  snprintf(msg, sizeof msg, "%s kth %lld: not a valid partition", lab, (long long)kth);
  CHECK_MSG(ok, msg);
  free(hc);
  free(hg);
  free(ig);
  if (args) {
    mx_array_free(vc);
    mx_array_free(vg);
  }
  mx_array_free(pc);
  mx_array_free(pg);
}

static void check_topk(mx_array x, int64_t k) {
  char lab[256], msg[400];
  label_of(lab, sizeof lab, "topk", x);
  int axis = mx_array_ndim(x) - 1;
  rc c = {.axis = axis, .k = k};
  mx_array tc = run_on(cpu, do_topk, x, &c);
  mx_array tg = run_on(gpu, do_topk, x, &c);
  snprintf(msg, sizeof msg, "%s: %lld node(s) fell back", lab, (long long)fallbacks_seen);
  CHECK_MSG(fallbacks_seen == 0 && tc && tg, msg);
  if (tc && tg) {
    mx_set_default_device(cpu);
    mx_array sc = mx_sort(tc, axis), sg = mx_sort(tg, axis);
    double *a = host_f64(sc), *b = host_f64(sg);
    int64_t n = mx_array_size(sc);
    double e = a && b && n == mx_array_size(sg) ? worst_err(b, a, n, 0, 0) : INFINITY;
    snprintf(msg, sizeof msg, "%s k=%lld: elements differ", lab, (long long)k);
    CHECK_MSG(e == 0, msg);
    free(a);
    free(b);
    mx_array_free(sc);
    mx_array_free(sg);
  }
  mx_array_free(tc);
  mx_array_free(tg);
}

static void test_sort(void) {
  mx_dtype dts[] = {F32, F16, BF16, MX_FLOAT64, MX_INT32, MX_UINT8, MX_INT8, MX_INT64, MX_BOOL,
                    MX_UINT64, MX_INT16};
  for (size_t di = 0; di < sizeof dts / sizeof *dts; di++) {
    mx_dtype t = dts[di];
    /* Integers in a small range: many ties, so stability shows. */
    double sc = is_float(t) ? 1.0 : 5.0;
    int64_t s1[2] = {100, 1000}, s2[2] = {7, 33}, s3[2] = {3, 5000}, s4[1] = {1}, s5[2] = {4, 0};
    mx_array x1 = rnd(s1, 2, t, sc), x2 = rnd(s2, 2, t, sc), x3 = rnd(s3, 2, t, sc),
             x4 = rnd(s4, 1, t, sc), x5 = rnd(s5, 2, t, sc);
    mx_array x2t = transposed(x2);
    mx_array xs[] = {x1, x2, x3, x4, x5, x2t};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
      int nd = mx_array_ndim(xs[i]);
      for (int ax = 0; ax < nd; ax++) {
        rc c = {.axis = ax};
        char what[32];
        snprintf(what, sizeof what, "sort axis %d", ax);
        cmp(what, do_sort, xs[i], &c, 0, 0);
        snprintf(what, sizeof what, "argsort axis %d", ax);
        cmp(what, do_argsort, xs[i], &c, 0, 0);
      }
      /* Flattening a transposed view copies (reshape), which is not
       * this family's kernel and may run on the CPU for some dtypes. */
      if (xs[i] == x2t || mx_array_size(xs[i]) == 0) continue;
      rc c = {.axis = MX_AXIS_NONE};
      cmp("sort flat", do_sort, xs[i], &c, 0, 0);
    }
    check_partition("partition", x1, 1, 17, false);
    check_partition("argpartition", x1, 1, 999, true);
    check_partition("argpartition", x3, 1, 2500, true);
    check_topk(x1, 5);
    check_topk(x3, 50);
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
  }
  /* Sampling sizes: one and several vocab-long rows (radix path). */
  mx_dtype lt[3] = {F32, BF16, MX_INT64};
  for (int i = 0; i < 3; i++) {
    int64_t s1[2] = {1, 151936}, s2[2] = {4, 151936};
    mx_array x = rnd(s1, 2, lt[i], 1.0), y = rnd(s2, 2, lt[i], 1.0);
    rc c = {.axis = 1};
    cmp("sort vocab", do_sort, x, &c, 0, 0);
    cmp("argsort vocab", do_argsort, x, &c, 0, 0);
    cmp("argsort vocab", do_argsort, y, &c, 0, 0);
    check_topk(y, 40);
    check_partition("argpartition vocab", x, 1, 151000, true);
    mx_array_free(x);
    mx_array_free(y);
  }
  /* NaNs last (tied), -0.0 tied with 0.0, infinities. */
  float v[2][8] = {{NAN, 0.0f, -0.0f, 1, -INFINITY, NAN, 0.0f, INFINITY},
                   {-0.0f, 0.0f, -0.0f, NAN, 2, 2, -1, -0.0f}};
  int64_t s[2] = {2, 8};
  mx_dtype fts[4] = {F32, F16, BF16, MX_FLOAT64};
  for (int i = 0; i < 4; i++) {
    mx_array x = from_f32(&v[0][0], s, 2, fts[i]);
    rc c = {.axis = 1};
    cmp("sort nan", do_sort, x, &c, 0, 0);
    cmp("argsort nan", do_argsort, x, &c, 0, 0);
    mx_array_free(x);
  }
}

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("test_cuda_reduce: skipped: no usable GPU (%s)\n", mx_last_error());
    mx_set_default_device(cpu);
    return 0;
  }
  printf("test_cuda_reduce: %d GPU(s)\n", (int)mx_device_count(MX_GPU));
  test_reductions();
  test_argreduce();
  test_softmax();
  test_scans();
  test_sort();
  mx_set_default_device(cpu);
  return check_summary();
}
