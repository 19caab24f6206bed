/* test_gather_mm.c — gather_mm: NumPy fixtures (tests/ref/gen_gather_mm.py)
 * plus empty shapes, error paths, and agreement with gather_qmm on the
 * dequantized weights (the two halves of a mixture-of-experts layer). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "fixture.h"

static mx_array op_gather_mm(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int k = 2;
  mx_array li = fx_int(c, "lhs", 0) ? in[k++] : NULL;
  mx_array ri = fx_int(c, "rhs", 0) ? in[k++] : NULL;
  mx_array b = fx_int(c, "bswap", 0) ? mx_swapaxes(in[1], -1, -2) : mx_array_retain(in[1]);
  mx_array r = mx_gather_mm(in[0], b, li, ri, fx_int(c, "sorted", 0) != 0);
  mx_array_free(b);
  return r;
}

static const fx_op ops[] = {{"gather_mm", op_gather_mm}};

/* Deterministic small values of any dtype. */
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

static mx_array idx(const int32_t *v, const int64_t *shape, int nd) {
  return mx_array_from_data(v, shape, nd, MX_INT32);
}

static bool shape_is(mx_array a, const int64_t *s, int nd) {
  if (!a || mx_array_ndim(a) != nd) return false;
  for (int i = 0; i < nd; i++)
    if (mx_array_dim(a, i) != s[i]) return false;
  return true;
}

static void test_errors(void) {
  int64_t s23[2] = {2, 3}, e234[3] = {4, 3, 5}, e245[3] = {4, 4, 5}, s3[1] = {3}, s2[1] = {2};
  mx_array a = arr(s23, 2, MX_FLOAT32), w = arr(e234, 3, MX_FLOAT32), w2 = arr(e245, 3, MX_FLOAT32);
  mx_array ai = arr(s23, 2, MX_INT32), wi = arr(e234, 3, MX_INT32);
  mx_array a64 = arr(s23, 2, MX_FLOAT64), ac = arr(s23, 2, MX_COMPLEX64);
  mx_array s = mx_array_from_float(1.0f);
  int32_t iv[3] = {0, 1, 3};
  mx_array ri = idx(iv, s3, 1), ri2 = idx(iv, s2, 1);
  mx_array rf = arr(s3, 1, MX_FLOAT32), rb = arr(s3, 1, MX_BOOL);

  CHECK_ERR(mx_gather_mm(NULL, w, NULL, ri, false), MX_ERR_NULL_INPUT, "gather_mm");
  CHECK_ERR(mx_gather_mm(a, w2, NULL, NULL, false), MX_ERR_SHAPE, "matmul"); /* plain matmul */
  CHECK_ERR(mx_gather_mm(s, w, NULL, ri, false), MX_ERR_SHAPE, "0-dimensional");
  CHECK_ERR(mx_gather_mm(a, w2, NULL, ri, false), MX_ERR_SHAPE,
            "last dimension of a (2,3) must match the second to last dimension of b (4,4,5)");
  CHECK_ERR(mx_gather_mm(a, w, NULL, rf, false), MX_ERR_DTYPE,
            "rhs_indices must be integral but got float32");
  CHECK_ERR(mx_gather_mm(a, w, rb, ri, false), MX_ERR_DTYPE, "lhs_indices must be integral");
  CHECK_ERR(mx_gather_mm(ai, wi, NULL, ri, false), MX_ERR_DTYPE, "promote to int32");
  CHECK_ERR(mx_gather_mm(a64, w, NULL, ri, false), MX_ERR_DTYPE, "float64");
  CHECK_ERR(mx_gather_mm(ac, w, NULL, ri, false), MX_ERR_DTYPE, "complex64");
  /* lhs (3) and rhs (2) do not broadcast */
  int64_t e3[3] = {3, 2, 3};
  mx_array a3 = arr(e3, 3, MX_FLOAT32);
  CHECK_ERR(mx_gather_mm(a3, w, ri, ri2, false), MX_ERR_SHAPE, "broadcast");
  /* indices too long for the output rank */
  int64_t s15[15] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  int32_t z = 0;
  mx_array r15 = mx_array_from_data(&z, s15, 15, MX_INT32);
  CHECK_ERR(mx_gather_mm(a, w, NULL, r15, false), MX_ERR_SHAPE, "no room");
  mx_array_free(r15);

  /* Indices out of range fail at evaluation (negative ones wrap high). */
  int32_t bad[2] = {1, 4}, neg[2] = {-1, 0};
  int64_t s2b[1] = {2};
  mx_array rbad = idx(bad, s2b, 1), rneg = idx(neg, s2b, 1);
  mx_array r = mx_gather_mm(a, w, NULL, rbad, false);
  CHECK(r != NULL);
  mx_clear_error();
  CHECK(r && mx_eval1(r) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "gather_mm: index out of range at 1 (lhs 0 of 1, rhs 4 of 4)"));
  mx_array_free(r);
  r = mx_gather_mm(a3, w, rneg, NULL, false);
  mx_clear_error();
  CHECK(r == NULL || mx_eval1(r) == MX_ERR_INVALID_ARG);
  mx_array_free(r);
  r = mx_gather_mm(a3, w, rbad, NULL, true);
  mx_clear_error();
  CHECK(r == NULL || mx_eval1(r) == MX_ERR_INVALID_ARG);
  mx_array_free(r);
  mx_clear_error();

  /* Both index arrays NULL is matmul. */
  r = mx_gather_mm(a, w, NULL, NULL, false);
  CHECK(r && mx_array_ndim(r) == 3 && mx_array_dim(r, 0) == 4);
  mx_array_free(r);

  mx_array xs[] = {a, w, w2, ai, wi, a64, ac, s, ri, ri2, rf, rb, a3, rbad, rneg};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
}

static bool all_zero(mx_array a) {
  mx_array f = a ? mx_astype(a, MX_FLOAT32) : NULL;
  const float *p = f ? mx_array_data(f) : NULL;
  bool ok = p != NULL || (f && mx_array_size(f) == 0);
  for (int64_t i = 0; p && i < mx_array_size(f); i++) ok &= p[i] == 0.0f;
  mx_array_free(f);
  return ok;
}

static void test_empty(void) {
  mx_dtype dts[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};
  for (size_t t = 0; t < 3; t++) {
    /* K = 0: zeros */
    int64_t sa[3] = {2, 3, 0}, sb[3] = {4, 0, 5}, so[3] = {2, 3, 5}, s2[1] = {2};
    int32_t iv[2] = {3, 1};
    mx_array a = arr(sa, 3, dts[t]), b = arr(sb, 3, dts[t]), ri = idx(iv, s2, 1);
    mx_array r = mx_gather_mm(a, b, NULL, ri, false);
    CHECK(shape_is(r, so, 3) && mx_array_dtype(r) == dts[t] && all_zero(r));
    mx_array_free(r);
    /* no products: (0,) indices (a's one matrix broadcasts) */
    int64_t s0[1] = {0}, sa2[3] = {1, 3, 4}, sb2[3] = {4, 4, 5}, so0[3] = {0, 3, 5};
    mx_array a2 = arr(sa2, 3, dts[t]), b2 = arr(sb2, 3, dts[t]);
    mx_array r0i = mx_array_from_data(iv, s0, 1, MX_INT32);
    r = mx_gather_mm(a2, b2, NULL, r0i, true);
    CHECK(shape_is(r, so0, 3) && mx_eval1(r) == MX_OK);
    mx_array_free(r);
    /* M = 0 */
    int64_t sa3[3] = {2, 0, 4}, so3[3] = {2, 0, 5};
    mx_array a3 = arr(sa3, 3, dts[t]);
    r = mx_gather_mm(a3, b2, NULL, ri, false);
    CHECK(shape_is(r, so3, 3) && mx_eval1(r) == MX_OK);
    mx_array_free(r);
    mx_array xs[] = {a, b, ri, a2, b2, r0i, a3};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
  }
}

/* gather_mm on dequantized expert weights against gather_qmm on the
 * quantized ones (the MoE layer's two paths). gather_qmm's decode path
 * (<= 8 rows per expert) quantizes activations to int8 per row, so each x
 * is off by at most max|x| / 254; over K = 64 terms of |w| <= 5 that bounds
 * the difference by 64 * 5/254 * 5 = 6.3 (outputs reach ~650). A wrong
 * expert or row would differ by hundreds. */
static void test_matches_gather_qmm(void) {
  int64_t sw[3] = {4, 24, 64}, sx[5] = {3, 2, 1, 1, 64}, si[3] = {3, 2, 2};
  mx_array w = arr(sw, 3, MX_FLOAT32), x = arr(sx, 5, MX_FLOAT32);
  int32_t iv[12] = {0, 3, 1, 1, 2, 0, 3, 2, 1, 0, 3, 3};
  mx_array ri = idx(iv, si, 3);
  mx_array q[3] = {NULL, NULL, NULL};
  CHECK(mx_quantize(w, 64, 8, MX_QUANT_AFFINE, NULL, q) == MX_OK);
  mx_array wd = mx_dequantize(q[0], q[1], q[2], 64, 8, MX_QUANT_AFFINE, NULL, MX_DTYPE_COUNT);
  mx_array wt = mx_swapaxes(wd, -1, -2);
  mx_array g = mx_gather_mm(x, wt, NULL, ri, false);
  mx_array h = mx_gather_qmm(x, q[0], q[1], q[2], NULL, ri, true, 64, 8, MX_QUANT_AFFINE, false);
  mx_array d = mx_subtract(g, h), ad = mx_abs(d), mxv = mx_max(ad, NULL, 0, false);
  float m = -1;
  CHECK(mxv && mx_array_item_float32(mxv, &m) == MX_OK && m >= 0 && m <= 64 * 5.0f / 254 * 5);
  printf("gather_mm vs gather_qmm max |diff| %g\n", m);
  int64_t so[5] = {3, 2, 2, 1, 24};
  CHECK(shape_is(g, so, 5));
  mx_array xs[] = {w, x, ri, q[0], q[1], q[2], wd, wt, g, h, d, ad, mxv};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) mx_array_free(xs[i]);
}

int main(int argc, char **argv) {
  size_t mem0 = mx_memory_active();
  if (argc > 1) {
    int n = fx_run_dir(argv[1], ops, (int)(sizeof ops / sizeof *ops));
    CHECK_MSG(n >= 45, "fixture cases ran");
  } else {
    CHECK_MSG(0, "usage: test_gather_mm FIXTURE_DIR");
  }
  test_errors();
  test_empty();
  test_matches_gather_qmm();
  CHECK_MSG(mx_memory_active() == mem0, "no arrays leaked");
  return check_summary();
}
