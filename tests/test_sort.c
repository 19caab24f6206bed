/* test_sort.c — sort, argsort, partition, argpartition, topk: NumPy
 * fixtures (tests/ref/gen_sort.py), an independent check of the partition
 * property, large threaded sorts checked in C, and the error paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

static int axis_of(const fx_case *c) {
  const char *s = fx_str(c, "axis", "0");
  return strcmp(s, "none") == 0 ? MX_AXIS_NONE : atoi(s);
}

static mx_array op_sort(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_sort(in[0], axis_of(c));
}
static mx_array op_argsort(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_argsort(in[0], axis_of(c));
}
/* The partition contract, independent of element order (gen_sort.py):
 * a result p along axis ax is canonicalised to
 * sort(p[:k]) ++ p[k] ++ sort(p[k+1:]), which equals the sorted row exactly
 * when p is a valid partition at k (a permutation of the row with the kth
 * element in its sorted place, none greater before, none smaller after). */
static mx_array slice_axis(mx_array a, int ax, int64_t lo, int64_t hi) {
  int nd = mx_array_ndim(a);
  int64_t start[8] = {0}, stop[8];
  if (nd > 8) {
    set_error(MX_ERR_INVALID_ARG, "slice_axis: test helper handles up to 8 dims");
    return NULL;
  }
  for (int d = 0; d < nd; d++) stop[d] = MX_SLICE_END;
  start[ax] = lo;
  stop[ax] = hi;
  return mx_slice(a, start, stop, NULL, nd);
}
static mx_array canon_partition(mx_array p, int64_t k, int ax) {
  if (!p) return NULL;
  int64_t len = mx_array_shape(p)[ax];
  if (k < 0) k += len;
  mx_array left = slice_axis(p, ax, 0, k), mid = slice_axis(p, ax, k, k + 1);
  mx_array right = slice_axis(p, ax, k + 1, len);
  mx_array parts[3] = {mx_sort(left, ax), mid, mx_sort(right, ax)};
  mx_array r = mx_concatenate(parts, 3, ax);
  mx_array_free(left);
  mx_array_free(right);
  for (int i = 0; i < 3; i++) mx_array_free(parts[i]);
  return r;
}
static int norm_axis(int axis, int ndim) {
  return axis == MX_AXIS_NONE ? 0 : (axis < 0 ? axis + ndim : axis);
}
static mx_array op_partition(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int axis = axis_of(c);
  mx_array p = mx_partition(in[0], fx_int(c, "kth", 0), axis);
  if (!p) return NULL;
  mx_array r = canon_partition(p, fx_int(c, "kth", 0), norm_axis(axis, mx_array_ndim(p)));
  mx_array_free(p);
  return r;
}
/* argpartition indices idx of x (axis ax; x already flattened for axis none):
 * each row must be a permutation of 0..len-1, and the values it picks must
 * satisfy the partition contract; returns their canonical form. */
static mx_array canon_argpartition(mx_array x, mx_array idx, int64_t k, int ax) {
  if (!x || !idx) return NULL;
  int nd = mx_array_ndim(idx);
  const int64_t *sh = mx_array_shape(idx);
  int64_t n = mx_array_size(idx), len = sh[ax], outer = 1, inner = 1;
  for (int d = 0; d < ax; d++) outer *= sh[d];
  for (int d = ax + 1; d < nd; d++) inner *= sh[d];
  int64_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  unsigned char *seen = malloc((size_t)(len ? len : 1));
  bool ok = v && seen && mx_array_copy_to(idx, v, (size_t)n * sizeof *v, MX_INT64) == MX_OK;
  for (int64_t o = 0; ok && o < outer; o++)
    for (int64_t j = 0; ok && j < inner; j++) {
      memset(seen, 0, (size_t)len);
      for (int64_t i = 0; ok && i < len; i++) {
        int64_t t = v[(o * len + i) * inner + j];
        ok = t >= 0 && t < len && !seen[t];
        if (ok) seen[t] = 1;
      }
    }
  free(v);
  free(seen);
  if (!ok) {
    set_error(MX_ERR_INTERNAL, "argpartition result is not a permutation of each row");
    return NULL;
  }
  mx_array vals = mx_take_along_axis(x, idx, ax);
  mx_array r = canon_partition(vals, k, ax);
  mx_array_free(vals);
  return r;
}
static mx_array op_argpartition(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int axis = axis_of(c);
  mx_array idx = mx_argpartition(in[0], fx_int(c, "kth", 0), axis);
  if (!idx) return NULL;
  int64_t flat = mx_array_size(in[0]);
  mx_array x = axis == MX_AXIS_NONE ? mx_reshape(in[0], &flat, 1) : mx_array_retain(in[0]);
  int ax = norm_axis(axis, mx_array_ndim(idx));
  mx_array r = canon_argpartition(x, idx, fx_int(c, "kth", 0), ax);
  mx_array_free(x);
  mx_array_free(idx);
  return r;
}
/* topk: the k largest in no stated order; sorted, they are the sorted row's
 * last k. */
static mx_array op_topk(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int axis = axis_of(c);
  mx_array t = mx_topk(in[0], fx_int(c, "k", 0), axis);
  mx_array s = mx_sort(t, axis == MX_AXIS_NONE ? 0 : axis);
  mx_array_free(t);
  return s;
}

/* MLX's order on doubles: NaN last. */
static bool lessd(double a, double b) { return !isnan(a) && (isnan(b) || a < b); }

/* Host copies of an array (row-major doubles) with its row geometry. */
typedef struct rows {
  double *v;
  int64_t outer, len, inner;
} rows;

static bool host_rows(mx_array a, int axis, rows *r) {
  int nd = mx_array_ndim(a);
  const int64_t *sh = mx_array_shape(a);
  int64_t n = mx_array_size(a);
  r->v = malloc((size_t)(n ? n : 1) * sizeof(double));
  if (!r->v || mx_array_copy_to(a, r->v, (size_t)n * sizeof(double), MX_FLOAT64) < 0) return false;
  r->outer = r->inner = 1;
  for (int d = 0; d < axis; d++) r->outer *= sh[d];
  for (int d = axis + 1; d < nd; d++) r->inner *= sh[d];
  r->len = sh[axis];
  return true;
}
static inline double at(const rows *r, int64_t o, int64_t i, int64_t j) {
  return r->v[(o * r->len + i) * r->inner + j];
}

/* The partition property of row values v[0..len) at k. */
static bool partitioned(const double *v, int64_t len, int64_t k) {
  for (int64_t i = 0; i < k; i++)
    if (lessd(v[k], v[i])) return false;
  for (int64_t i = k + 1; i < len; i++)
    if (lessd(v[i], v[k])) return false;
  return true;
}

/* Checks the property on the result itself, then returns it sorted (the
 * fixture holds np.sort of the input: together, a valid partition). */
static mx_array op_partition_prop(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int axis = axis_of(c);
  mx_array p = mx_partition(in[0], fx_int(c, "kth", 0), axis);
  if (!p) return NULL;
  int ax = axis == MX_AXIS_NONE ? 0 : (axis < 0 ? axis + mx_array_ndim(p) : axis);
  rows r = {0};
  bool ok = host_rows(p, ax, &r);
  int64_t k = fx_int(c, "kth", 0);
  if (k < 0) k += r.len;
  double *row = malloc((size_t)r.len * sizeof(double) + 1);
  for (int64_t o = 0; ok && o < r.outer; o++)
    for (int64_t j = 0; ok && j < r.inner; j++) {
      for (int64_t i = 0; i < r.len; i++) row[i] = at(&r, o, i, j);
      ok = partitioned(row, r.len, k);
    }
  free(row);
  free(r.v);
  if (!ok) {
    mx_array_free(p);
    set_error(MX_ERR_INTERNAL, "partition result violates the partition property");
    return NULL;
  }
  mx_array s = mx_sort(p, ax);
  mx_array_free(p);
  return s;
}

/* Same for argpartition, through the input's values; returns the indices
 * sorted (must be arange: a permutation). */
static mx_array op_argpartition_prop(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int axis = axis_of(c);
  mx_array idx = mx_argpartition(in[0], fx_int(c, "kth", 0), axis);
  if (!idx) return NULL;
  int ax = axis == MX_AXIS_NONE ? 0 : (axis < 0 ? axis + mx_array_ndim(idx) : axis);
  int64_t flat = mx_array_size(in[0]);
  mx_array x = axis == MX_AXIS_NONE ? mx_reshape(in[0], &flat, 1) : mx_array_retain(in[0]);
  rows ri = {0}, rx = {0};
  bool ok = x && host_rows(idx, ax, &ri) && host_rows(x, ax, &rx);
  int64_t k = fx_int(c, "kth", 0);
  if (k < 0) k += ri.len;
  double *row = malloc((size_t)ri.len * sizeof(double) + 1);
  for (int64_t o = 0; ok && o < ri.outer; o++)
    for (int64_t j = 0; ok && j < ri.inner; j++) {
      for (int64_t i = 0; ok && i < ri.len; i++) {
        double t = at(&ri, o, i, j);
        if (!(t >= 0 && t < (double)ri.len)) ok = false;
        else row[i] = at(&rx, o, (int64_t)t, j);
      }
      ok = ok && partitioned(row, ri.len, k);
    }
  free(row);
  free(ri.v);
  free(rx.v);
  mx_array_free(x);
  if (!ok) {
    mx_array_free(idx);
    set_error(MX_ERR_INTERNAL, "argpartition result violates the partition property");
    return NULL;
  }
  mx_array s = mx_sort(idx, ax);
  mx_array_free(idx);
  return s;
}

/* ------------------------------------------------------------ C checks */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* A big threaded argsort and sort, checked for order and stability. */
static void test_large(void) {
  int64_t shape[2] = {128, 2048};
  int64_t n = shape[0] * shape[1];
  float *f = malloc((size_t)n * sizeof *f);
  int64_t *q = malloc((size_t)n * sizeof *q);
  for (int64_t i = 0; i < n; i++) {
    f[i] = (float)(int)(rnd() % 200) - 100.0f; /* many ties */
    q[i] = (int64_t)(rnd() >> 1) * ((rnd() & 1) ? 1 : -1) / ((rnd() & 1) ? 1 : 1000000);
  }
  mx_array a = mx_array_from_data(f, shape, 2, MX_FLOAT32);
  mx_array b = mx_array_from_data(q, shape, 2, MX_INT64);
  mx_array ia = mx_argsort(a, 1), sa = mx_sort(a, 1), sb = mx_sort(b, 1);
  mx_array ib0 = mx_argsort(b, 0);
  CHECK(ia && sa && sb && ib0);
  const uint32_t *pi = mx_array_data(ia);
  const float *ps = mx_array_data(sa);
  const int64_t *pb = mx_array_data(sb);
  const uint32_t *pi0 = mx_array_data(ib0);
  int bad = 0;
  for (int64_t r = 0; r < shape[0] && pi && ps && pb; r++)
    for (int64_t i = 0; i < shape[1]; i++) {
      int64_t o = r * shape[1] + i;
      if (ps[o] != f[r * shape[1] + pi[o]]) bad++;
      if (i > 0) {
        float x0 = f[r * shape[1] + pi[o - 1]], x1 = f[r * shape[1] + pi[o]];
        if (x0 > x1 || (x0 == x1 && pi[o - 1] >= pi[o])) bad++; /* sorted, stable */
        if (pb[o - 1] > pb[o]) bad++;
      }
    }
  for (int64_t c = 0; c < shape[1] && pi0; c++)
    for (int64_t r = 1; r < shape[0]; r++) {
      int64_t x0 = q[pi0[(r - 1) * shape[1] + c] * shape[1] + c];
      int64_t x1 = q[pi0[r * shape[1] + c] * shape[1] + c];
      if (x0 > x1) bad++;
    }
  CHECK_MSG(bad == 0, "large threaded sorts are ordered and stable");
  mx_array_free(ia);
  mx_array_free(sa);
  mx_array_free(sb);
  mx_array_free(ib0);
  mx_array_free(a);
  mx_array_free(b);
  free(f);
  free(q);
}

/* topk on a broadcast (stride 0) input and on a transposed one. */
static void test_views(void) {
  float v[5] = {3, 1, 4, 1, 5};
  int64_t s1 = 5, s2[2] = {3, 5};
  mx_array a = mx_array_from_data(v, &s1, 1, MX_FLOAT32);
  mx_array b = mx_broadcast_to(a, s2, 2);
  mx_array t = mx_topk(b, 2, 1);
  mx_array st = mx_sort(t, 1);
  const float *p = mx_array_data(st);
  CHECK(p && p[0] == 4 && p[1] == 5 && p[2] == 4 && p[5] == 5);
  mx_array bt = mx_transpose(b, NULL, 0); /* (5, 3) with stride-0 columns */
  mx_array srt = mx_sort(bt, 0);
  const float *q = mx_array_data(srt);
  CHECK(q && q[0] == 1 && q[3] == 1 && q[6] == 3 && q[14] == 5);
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(t);
  mx_array_free(st);
  mx_array_free(bt);
  mx_array_free(srt);
}

/* The contract checks reject wrong results: a value on the wrong side of
 * kth, a wrong kth value, a lost element, indices that are no permutation. */
static bool canon_matches(const float *p, int64_t n, int64_t k, const float *want) {
  mx_array a = mx_array_from_data(p, &n, 1, MX_FLOAT32);
  mx_array w = mx_array_from_data(want, &n, 1, MX_FLOAT32);
  mx_array c = canon_partition(a, k, 0);
  char why[256];
  bool eq = c && w && mx_eval1(c) == MX_OK && fx_compare(c, w, 0, 0, why, sizeof why);
  mx_array_free(a);
  mx_array_free(w);
  mx_array_free(c);
  return eq;
}
static void test_contract_checks(void) {
  const float sorted[8] = {1, 1, 2, 3, 4, 5, 6, 9};
  const float good[8] = {2, 1, 1, 3, 9, 5, 4, 6};     /* valid at k = 3, unsorted halves */
  const float wrong_side[8] = {2, 1, 4, 3, 9, 5, 1, 6}; /* 4 before, 1 after kth */
  const float wrong_kth[8] = {2, 1, 1, 4, 9, 5, 3, 6};  /* kth holds 4, not 3 */
  const float lost[8] = {2, 1, 1, 3, 9, 5, 4, 4};       /* 6 replaced by 4 */
  CHECK_MSG(canon_matches(good, 8, 3, sorted), "a valid partition passes the contract check");
  CHECK_MSG(canon_matches(sorted, 8, -2, sorted), "a full sort passes the contract check");
  CHECK_MSG(!canon_matches(wrong_side, 8, 3, sorted), "an element on the wrong side of kth fails");
  CHECK_MSG(!canon_matches(wrong_kth, 8, 3, sorted), "a wrong kth element fails");
  CHECK_MSG(!canon_matches(lost, 8, 3, sorted), "a result that is no permutation fails");
  float x[4] = {5, 7, 6, 8};
  uint32_t dup[4] = {0, 0, 2, 3}, ok_idx[4] = {0, 2, 1, 3};
  int64_t n = 4;
  mx_array xa = mx_array_from_data(x, &n, 1, MX_FLOAT32);
  mx_array d = mx_array_from_data(dup, &n, 1, MX_UINT32);
  mx_array g = mx_array_from_data(ok_idx, &n, 1, MX_UINT32);
  CHECK_ERR(canon_argpartition(xa, d, 1, 0), MX_ERR_INTERNAL, "not a permutation");
  mx_array r = canon_argpartition(xa, g, 1, 0);
  const float *pr = r ? mx_array_data(r) : NULL;
  CHECK(pr && pr[0] == 5 && pr[1] == 6 && pr[2] == 7 && pr[3] == 8);
  mx_array_free(r);
  mx_array_free(xa);
  mx_array_free(d);
  mx_array_free(g);
}

static void test_errors(void) {
  int64_t s2[2] = {3, 4}, s0[1] = {0};
  mx_array a = mx_zeros(s2, 2, MX_FLOAT32);
  mx_array e = mx_zeros(s0, 1, MX_INT32);
  float one = 1.0f;
  mx_array z = mx_array_from_data(&one, NULL, 0, MX_FLOAT32);
  CHECK(a && e && z);
  CHECK_ERR(mx_sort(a, 2), MX_ERR_INVALID_ARG, "sort: axis 2 is out of range");
  CHECK_ERR(mx_argsort(a, -3), MX_ERR_INVALID_ARG, "argsort: axis -3");
  CHECK_ERR(mx_sort(z, 0), MX_ERR_INVALID_ARG, "sort: axis 0 is out of range for an array of 0");
  CHECK_ERR(mx_partition(a, 4, 1), MX_ERR_INVALID_ARG, "partition: kth 4 is out of range for axis 1");
  CHECK_ERR(mx_partition(a, -5, 1), MX_ERR_INVALID_ARG, "shape (3,4)");
  CHECK_ERR(mx_argpartition(a, 3, 0), MX_ERR_INVALID_ARG, "argpartition: kth 3");
  CHECK_ERR(mx_argpartition(e, 0, 0), MX_ERR_INVALID_ARG, "argpartition: kth 0 is out of range");
  CHECK_ERR(mx_partition(a, 0, 5), MX_ERR_INVALID_ARG, "partition: axis 5");
  CHECK_ERR(mx_topk(a, 5, 1), MX_ERR_INVALID_ARG, "topk: k=5 is out of range for axis 1");
  CHECK_ERR(mx_topk(a, -1, 0), MX_ERR_INVALID_ARG, "topk: k=-1");
  CHECK_ERR(mx_topk(a, 1, 2), MX_ERR_INVALID_ARG, "topk: axis 2");
  CHECK_ERR(mx_sort(NULL, 0), MX_ERR_NULL_INPUT, "sort");
  CHECK_ERR(mx_topk(NULL, 1, 0), MX_ERR_NULL_INPUT, "topk");
  /* 0-d with axis none: a (1,) result, as MLX. */
  mx_array s = mx_argsort(z, MX_AXIS_NONE);
  CHECK(s && mx_array_ndim(s) == 1 && mx_array_shape(s)[0] == 1 &&
        mx_array_dtype(s) == MX_UINT32 && *(const uint32_t *)mx_array_data(s) == 0);
  mx_array_free(s);
  /* Empty results: (3, 0) sorted along either axis; topk with k = 0. */
  int64_t s30[2] = {3, 0};
  mx_array e30 = mx_zeros(s30, 2, MX_FLOAT16);
  for (int ax = 0; ax < 2; ax++) {
    mx_array r1 = mx_sort(e30, ax), r2 = mx_argsort(e30, ax);
    CHECK(r1 && r2 && mx_eval1(r1) == MX_OK && mx_eval1(r2) == MX_OK &&
          mx_array_shape(r2)[0] == 3 && mx_array_size(r2) == 0 && mx_array_dtype(r2) == MX_UINT32);
    mx_array_free(r1);
    mx_array_free(r2);
  }
  CHECK_ERR(mx_partition(e30, 0, 1), MX_ERR_INVALID_ARG, "partition: kth 0 is out of range");
  mx_array_free(e30);
  mx_array k0 = mx_topk(a, 0, 1);
  CHECK(k0 && mx_eval1(k0) == MX_OK && mx_array_ndim(k0) == 2 && mx_array_shape(k0)[0] == 3 &&
        mx_array_shape(k0)[1] == 0);
  mx_array_free(k0);
  /* topk of an empty axis with k = 0 is the input. */
  mx_array t = mx_topk(e, 0, 0);
  CHECK(t && mx_array_size(t) == 0);
  mx_array_free(t);
  mx_array_free(a);
  mx_array_free(e);
  mx_array_free(z);
}

int main(int argc, char **argv) {
  static const fx_op ops[] = {
      {"sort", op_sort},
      {"argsort", op_argsort},
      {"partition", op_partition},
      {"argpartition", op_argpartition},
      {"topk", op_topk},
      {"partition_prop", op_partition_prop},
      {"argpartition_prop", op_argpartition_prop},
  };
  test_errors();
  test_contract_checks();
  test_views();
  test_large();
  if (argc > 1) fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
  else CHECK_MSG(0, "usage: test_sort FIXTURE_DIR");
  return check_summary();
}
