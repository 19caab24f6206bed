/* test_linalg.c — matmul, addmm, inner, outer, tensordot, einsum and
 * linalg_norm: NumPy fixtures (tests/ref/gen_linalg.py) plus error paths
 * and a check that mx_matmul gives cblas_sgemm's exact bits. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static mx_array op_matmul(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_matmul(in[0], in[1]);
}
static mx_array op_addmm(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_addmm(in[0], in[1], in[2], (float)fx_double(c, "alpha", 1), (float)fx_double(c, "beta", 1));
}
static mx_array op_inner(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_inner(in[0], in[1]);
}
static mx_array op_outer(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_outer(in[0], in[1]);
}
static mx_array op_tensordot(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int64_t a[MX_MAX_NDIM], b[MX_MAX_NDIM];
  int na = fx_ints(c, "axes_a", a, MX_MAX_NDIM), nb = fx_ints(c, "axes_b", b, MX_MAX_NDIM);
  if (na < 0) na = 0;
  if (nb < 0) nb = 0;
  int ia[MX_MAX_NDIM], ib[MX_MAX_NDIM];
  for (int i = 0; i < na; i++) ia[i] = (int)a[i];
  for (int i = 0; i < nb; i++) ib[i] = (int)b[i];
  return mx_tensordot(in[0], in[1], ia, ib, na);
}
static mx_array op_tensordot_n(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_tensordot_n(in[0], in[1], (int)fx_int(c, "n", 2));
}
static mx_array op_einsum(const fx_case *c, mx_array *in, int nin) {
  return mx_einsum(fx_str(c, "subs", ""), in, (size_t)nin);
}
static mx_array op_norm(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  const char *ord = fx_str(c, "ord", "none");
  int64_t ax[MX_MAX_NDIM];
  int n = fx_ints(c, "axes", ax, MX_MAX_NDIM);
  int axes[MX_MAX_NDIM];
  for (int i = 0; i < n; i++) axes[i] = (int)ax[i];
  return mx_linalg_norm(in[0], strcmp(ord, "none") ? ord : NULL, n < 0 ? NULL : axes, n < 0 ? 0 : n,
                        fx_int(c, "keepdims", 0) != 0);
}

static const fx_op ops[] = {
    {"matmul", op_matmul},     {"addmm", op_addmm},         {"inner", op_inner},
    {"outer", op_outer},       {"tensordot", op_tensordot}, {"tensordot_n", op_tensordot_n},
    {"einsum", op_einsum},     {"norm", op_norm},
};

static mx_array arr(const int64_t *shape, int nd, mx_dtype dt) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (double)((i * 37) % 11) - 5;
  mx_array f = mx_array_from_data(v, shape, nd, MX_FLOAT64);
  free(v);
  mx_array r = mx_astype(f, dt);
  mx_array_free(f);
  return r;
}

static void test_matmul_errors(void) {
  int64_t s23[2] = {2, 3}, s34[2] = {3, 4}, s44[2] = {4, 4}, s3[1] = {3};
  int64_t b234[3] = {2, 3, 4}, b345[3] = {3, 4, 5};
  mx_array a = arr(s23, 2, MX_FLOAT32), b = arr(s34, 2, MX_FLOAT32), c = arr(s44, 2, MX_FLOAT32);
  mx_array ai = arr(s23, 2, MX_INT32), bi = arr(s34, 2, MX_INT32), bb = arr(s34, 2, MX_BOOL);
  mx_array s = mx_array_from_float(2.0f), v3 = arr(s3, 1, MX_FLOAT32);
  mx_array x234 = arr(b234, 3, MX_FLOAT32), x345 = arr(b345, 3, MX_FLOAT32);

  CHECK_ERR(mx_matmul(a, c), MX_ERR_SHAPE, "last dimension of first input with shape (2,3)");
  CHECK_ERR(mx_matmul(a, c), MX_ERR_SHAPE, "second input with shape (4,4)");
  CHECK_ERR(mx_matmul(s, b), MX_ERR_SHAPE, "0-dimensional");
  CHECK_ERR(mx_matmul(NULL, b), MX_ERR_NULL_INPUT, "matmul");
  CHECK_ERR(mx_matmul(v3, c), MX_ERR_SHAPE, "(1,3)");
  /* batch dims (2) and (3) do not broadcast */
  CHECK_ERR(mx_matmul(x234, x345), MX_ERR_SHAPE, "matmul");
  CHECK_ERR(mx_addmm(c, a, b, 1, 1), MX_ERR_SHAPE, "must broadcast to the output shape (2,4)");
  int64_t s24[2] = {2, 4};
  mx_array ci = arr(s24, 2, MX_INT32);
  CHECK_ERR(mx_addmm(ci, ai, bi, 1, 1), MX_ERR_DTYPE, "addmm: only real floating point");
  mx_array_free(ci);
  CHECK_ERR(mx_addmm(s, s, b, 1, 1), MX_ERR_SHAPE, "0-dimensional");
  CHECK_ERR(mx_addmm(s, a, c, 1, 1), MX_ERR_SHAPE, "addmm: last dimension");
  CHECK_ERR(mx_inner(a, c), MX_ERR_SHAPE, "same last dimension");
  CHECK_ERR(mx_inner(ai, ai), MX_ERR_DTYPE, "inner");
  int ax0[1] = {0}, ax1[1] = {1}, ax5[1] = {5}, ax00[2] = {0, 0};
  CHECK_ERR(mx_tensordot(a, b, ax0, ax0, 1), MX_ERR_SHAPE, "same shape on the contracted axes");
  CHECK_ERR(mx_tensordot(a, b, ax5, ax0, 1), MX_ERR_INVALID_ARG, "tensordot");
  mx_array sq = arr(s44, 2, MX_FLOAT32);
  CHECK_ERR(mx_tensordot(sq, sq, ax00, ax00, 2), MX_ERR_INVALID_ARG, "repeated");
  mx_array_free(sq);
  CHECK_ERR(mx_tensordot(ai, bi, ax1, ax0, 1), MX_ERR_DTYPE, "tensordot: only inexact");
  CHECK_ERR(mx_tensordot_n(a, b, -1), MX_ERR_INVALID_ARG, ">= 0");
  CHECK_ERR(mx_tensordot_n(a, b, 3), MX_ERR_INVALID_ARG, "exceeds");

  /* the shapes that work */
  mx_array r = mx_matmul(v3, v3);
  CHECK(r && mx_array_ndim(r) == 0);
  float f = 0;
  CHECK(mx_array_item_float32(r, &f) == MX_OK && f == 35.0f); /* (-5,-1,3) . itself */
  mx_array_free(r);
  r = mx_matmul(ai, b); /* int32 @ float32 -> float32 */
  CHECK(r && mx_array_dtype(r) == MX_FLOAT32);
  mx_array_free(r);

  mx_array xs[] = {a, b, c, ai, bi, bb, s, v3, x234, x345};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
}

static void test_einsum_errors(void) {
  int64_t s23[2] = {2, 3}, s34[2] = {3, 4}, s33[2] = {3, 3}, s2[1] = {2};
  mx_array a = arr(s23, 2, MX_FLOAT32), b = arr(s34, 2, MX_FLOAT32), q = arr(s33, 2, MX_FLOAT32);
  mx_array v = arr(s2, 1, MX_FLOAT32);
  mx_array ab[2] = {a, b}, aa[2] = {a, a}, one[1] = {a}, qq[1] = {q}, av[2] = {a, v};
  CHECK_ERR(mx_einsum("ij,j#->ik", ab, 2), MX_ERR_INVALID_ARG, "invalid character '#' at position 4");
  CHECK_ERR(mx_einsum("ij,j#->ik", ab, 2), MX_ERR_INVALID_ARG, "\"ij,j#->ik\"");
  CHECK_ERR(mx_einsum("i.j", one, 1), MX_ERR_INVALID_ARG, "'.' at position 1");
  CHECK_ERR(mx_einsum("...i...", one, 1), MX_ERR_INVALID_ARG, "only one ellipsis");
  CHECK_ERR(mx_einsum("ij,jk->ik->i", ab, 2), MX_ERR_INVALID_ARG, "second '->' at position 9");
  CHECK_ERR(mx_einsum("ij->i,j", one, 1), MX_ERR_INVALID_ARG, "',' at position 5");
  CHECK_ERR(mx_einsum("ij-i", one, 1), MX_ERR_INVALID_ARG, "invalid character '-' at position 2");
  CHECK_ERR(mx_einsum("ij,jk->ik", one, 1), MX_ERR_INVALID_ARG, "name 2 operand(s) but 1 were given");
  CHECK_ERR(mx_einsum("ijk->i", one, 1), MX_ERR_SHAPE, "operand 0 has 2 dimensions");
  CHECK_ERR(mx_einsum("ij,jk->ii", ab, 2), MX_ERR_INVALID_ARG, "repeat subscript 'i' in the output");
  CHECK_ERR(mx_einsum("ij,jk->iz", ab, 2), MX_ERR_INVALID_ARG, "'z' in \"ij,jk->iz\" does not appear");
  CHECK_ERR(mx_einsum("ij,ij->ij", ab, 2), MX_ERR_SHAPE, "subscript 'i' has size 2");
  CHECK_ERR(mx_einsum("ij,j->ij", av, 2), MX_ERR_SHAPE,
            "subscript 'j' has size 3, but dimension 0 of operand 1 (shape (2)) has size 2");
  CHECK_ERR(mx_einsum("ii->i", one, 1), MX_ERR_SHAPE, "repeated subscript 'i' in operand 0 has sizes 2 and 3");
  CHECK_ERR(mx_einsum(NULL, one, 1), MX_ERR_INVALID_ARG, "subscripts is NULL");
  CHECK_ERR(mx_einsum("ij", one, 0), MX_ERR_INVALID_ARG, "at least one operand");
  mx_array withnull[2] = {a, NULL};
  CHECK_ERR(mx_einsum("ij,jk", withnull, 2), MX_ERR_NULL_INPUT, "einsum");
  /* a 3-operand chain and a trace work */
  mx_array r = mx_einsum("ii", qq, 1);
  CHECK(r && mx_array_ndim(r) == 0);
  mx_array_free(r);
  r = mx_einsum("ij,ij->", aa, 2);
  double d = 0;
  CHECK(r && mx_array_item_double(r, &d) == MX_OK);
  mx_array_free(r);
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(q);
  mx_array_free(v);
}

static void test_norm_errors(void) {
  int64_t s3[1] = {3}, s23[2] = {2, 3}, s234[3] = {2, 3, 4};
  mx_array v = arr(s3, 1, MX_FLOAT32), m = arr(s23, 2, MX_FLOAT32), t = arr(s234, 3, MX_FLOAT32);
  mx_array mh = arr(s23, 2, MX_FLOAT16), s = mx_array_from_float(1);
  int ax3[3] = {0, 1, 2}, ax1[1] = {1}, axd[2] = {1, 1}, axbad[1] = {3};
  CHECK_ERR(mx_linalg_norm(v, "bogus", NULL, 0, false), MX_ERR_INVALID_ARG, "invalid ord 'bogus'");
  CHECK_ERR(mx_linalg_norm(v, "2x", NULL, 0, false), MX_ERR_INVALID_ARG, "invalid ord '2x'");
  CHECK_ERR(mx_linalg_norm(v, "", NULL, 0, false), MX_ERR_INVALID_ARG, "invalid ord");
  CHECK_ERR(mx_linalg_norm(t, NULL, ax3, 3, false), MX_ERR_INVALID_ARG, "too many axes");
  CHECK_ERR(mx_linalg_norm(t, "2", NULL, 0, false), MX_ERR_INVALID_ARG, "needs a 1-d or 2-d array");
  CHECK_ERR(mx_linalg_norm(s, "1", NULL, 0, false), MX_ERR_INVALID_ARG, "got 0 dimensions");
  CHECK_ERR(mx_linalg_norm(v, "fro", NULL, 0, false), MX_ERR_INVALID_ARG, "only supported for matrices");
  CHECK_ERR(mx_linalg_norm(m, "nuc", ax1, 1, false), MX_ERR_INVALID_ARG, "received 1 axis");
  CHECK_ERR(mx_linalg_norm(m, "3", NULL, 0, false), MX_ERR_INVALID_ARG, "invalid ord 3 for matrix norm");
  CHECK_ERR(mx_linalg_norm(m, "0", NULL, 0, false), MX_ERR_INVALID_ARG, "for matrix norm");
  CHECK_ERR(mx_linalg_norm(mh, "2", NULL, 0, false), MX_ERR_DTYPE, "float32 or float64, received float16");
  CHECK_ERR(mx_linalg_norm(m, NULL, axd, 2, false), MX_ERR_INVALID_ARG, "duplicate axes");
  CHECK_ERR(mx_linalg_norm(m, NULL, axbad, 1, false), MX_ERR_INVALID_ARG, "linalg_norm");
  CHECK_ERR(mx_linalg_norm(NULL, NULL, NULL, 0, false), MX_ERR_NULL_INPUT, "linalg_norm");
  /* 0-d with ord NULL: |x| */
  mx_array r = mx_linalg_norm(s, NULL, NULL, 0, false);
  float f = 0;
  CHECK(r && mx_array_item_float32(r, &f) == MX_OK && f == 1.0f);
  mx_array_free(r);
  mx_array xs[] = {v, m, t, mh, s};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
}

/* mx_matmul hands contiguous and transposed f32 operands straight to
 * sgemm: the result is bit-identical to calling it directly. */
static void test_matmul_is_sgemm(void) {
  /* A property of the CPU backend: run it there whatever the default. */
  mx_device prev = mx_default_device();
  mx_set_default_device((mx_device){MX_CPU, 0});
  const int M = 129, N = 67, K = 200;
  float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
  float *want = malloc(sizeof(float) * M * N), *want_t = malloc(sizeof(float) * M * N);
  for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7919) % 1001) / 997.0f - 0.5f;
  for (int i = 0; i < K * N; i++) b[i] = (float)((i * 104729) % 1013) / 1009.0f - 0.5f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, want, N);
  /* b read as the transpose of a (N, K) row-major buffer */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, want_t, N);
  int64_t sa[2] = {M, K}, sb[2] = {K, N}, sbt[2] = {N, K};
  mx_array A = mx_array_from_data(a, sa, 2, MX_FLOAT32), B = mx_array_from_data(b, sb, 2, MX_FLOAT32);
  mx_array Bt = mx_array_from_data(b, sbt, 2, MX_FLOAT32);
  mx_array BtT = mx_transpose(Bt, NULL, 0);
  mx_array C = mx_matmul(A, B), Ct = mx_matmul(A, BtT);
  const float *c = mx_array_data(C), *ct = mx_array_data(Ct);
  CHECK(c && memcmp(c, want, sizeof(float) * M * N) == 0);
  CHECK(ct && memcmp(ct, want_t, sizeof(float) * M * N) == 0);
  mx_array_free(A);
  mx_array_free(B);
  mx_array_free(Bt);
  mx_array_free(BtT);
  mx_array_free(C);
  mx_array_free(Ct);
  free(a);
  free(b);
  free(want);
  free(want_t);
  mx_set_default_device(prev);
}

static bool all_equal(mx_array r, double v, int64_t n) {
  if (!r || mx_array_size(r) != n) return false;
  double *buf = malloc(sizeof(double) * (size_t)(n ? n : 1));
  bool ok = mx_array_copy_to(r, buf, sizeof(double) * (size_t)n, MX_FLOAT64) == MX_OK;
  for (int64_t i = 0; ok && i < n; i++) ok = buf[i] == v;
  free(buf);
  return ok;
}

static bool shape_is(mx_array r, const int64_t *sh, int nd) {
  return r && mx_array_ndim(r) == nd && memcmp(mx_array_shape(r), sh, sizeof(int64_t) * (size_t)nd) == 0;
}

/* Empty operands (a 0 dim): K = 0 gives zeros (or beta * c), an empty M or
 * batch gives an empty result. */
static void test_empty(void) {
  int64_t s30[2] = {3, 0}, s04[2] = {0, 4}, s05[2] = {0, 5}, s53[2] = {5, 3}, s205[3] = {2, 0, 5};
  int64_t s34[2] = {3, 4}, s03[2] = {0, 3}, s203[3] = {2, 0, 3}, s0[1] = {0}, s4[1] = {4};
  mx_dtype dts[] = {MX_FLOAT32, MX_FLOAT64, MX_BFLOAT16, MX_FLOAT16, MX_COMPLEX64};
  for (size_t t = 0; t < sizeof dts / sizeof *dts; t++) {
    mx_array a = arr(s30, 2, dts[t]), b = arr(s04, 2, dts[t]);
    mx_array r = mx_matmul(a, b);
    CHECK(shape_is(r, s34, 2) && all_equal(r, 0, 12));
    mx_array c = arr(s34, 2, dts[t]);
    mx_array d = mx_addmm(c, a, b, 1.0f, 0.0f); /* beta 0 times c (finite) */
    CHECK(shape_is(d, s34, 2) && all_equal(d, 0, 12));
    mx_array_free(r);
    mx_array_free(d);
    mx_array_free(a);
    mx_array_free(b);
    mx_array_free(c);
  }
  mx_array ones = mx_full_scalar(s34, 2, 2.0, MX_FLOAT32);
  mx_array a = arr(s30, 2, MX_FLOAT32), b = arr(s04, 2, MX_FLOAT32);
  mx_array d = ones ? mx_addmm(ones, a, b, 1.0f, 1.5f) : NULL;
  CHECK(shape_is(d, s34, 2) && all_equal(d, 3.0, 12));
  mx_array_free(d);
  mx_array_free(ones);
  mx_array x = arr(s05, 2, MX_FLOAT32), y = arr(s53, 2, MX_FLOAT32), z = arr(s205, 3, MX_FLOAT32);
  mx_array r1 = mx_matmul(x, y), r2 = mx_matmul(z, y);
  CHECK(shape_is(r1, s03, 2) && mx_eval1(r1) == MX_OK);
  CHECK(shape_is(r2, s203, 3) && mx_eval1(r2) == MX_OK);
  mx_array ops[2] = {b, NULL};
  mx_array e = mx_einsum("ij->j", ops, 1); /* sum over an empty axis */
  CHECK(shape_is(e, s4, 1) && all_equal(e, 0, 4));
  mx_array v0 = arr(s0, 1, MX_FLOAT32), v4 = arr(s4, 1, MX_FLOAT32);
  mx_array o = mx_outer(v4, v0);
  int64_t s40[2] = {4, 0};
  CHECK(shape_is(o, s40, 2) && mx_eval1(o) == MX_OK);
  mx_array n = mx_linalg_norm(v0, NULL, NULL, 0, false);
  CHECK(n && all_equal(n, 0, 1));
  mx_array xs[] = {a, b, x, y, z, r1, r2, e, v0, v4, o, n};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n > 150, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_linalg FIXTURE_DIR");
  }
  test_matmul_errors();
  test_einsum_errors();
  test_norm_errors();
  test_matmul_is_sgemm();
  test_empty();
  CHECK_MSG(mx_memory_active() == mem0, "no arrays leaked");
  return check_summary();
}
