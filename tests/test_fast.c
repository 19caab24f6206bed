/* test_fast.c — the fused kernels (mx_fast_*): NumPy fixtures
 * (tests/ref/gen_fast.py) run under every instruction-set path this CPU
 * has, error paths, and each fused op against the same computation
 * composed from plain ops (mx_matmul, mx_softmax, mx_mean, ...) on random
 * inputs, including strided K/V caches and the decode key-split path. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

/* ------------------------------------------------------------ fixtures */

static mx_array fx_rms(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  return mx_fast_rms_norm(in[0], fx_int(c, "w", 0) ? in[1] : NULL, (float)fx_double(c, "eps", 1e-5));
}

static mx_array fx_layer(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int k = 1;
  mx_array w = fx_int(c, "w", 0) ? in[k++] : NULL;
  mx_array b = fx_int(c, "b", 0) ? in[k++] : NULL;
  return mx_fast_layer_norm(in[0], w, b, (float)fx_double(c, "eps", 1e-5));
}

static mx_array fx_rope(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  int dims = (int)fx_int(c, "dims", 0);
  bool trad = fx_int(c, "trad", 0) != 0;
  float base = (float)fx_double(c, "base", 10000), scale = (float)fx_double(c, "scale", 1);
  int k = 1;
  mx_array off = fx_int(c, "offarr", 0) ? in[k++] : NULL;
  mx_array freqs = fx_int(c, "freqs", 0) ? in[k++] : NULL;
  if (off) return mx_fast_rope_offsets(in[0], dims, trad, base, scale, off, freqs);
  return mx_fast_rope(in[0], dims, trad, base, scale, fx_int(c, "offset", 0), freqs);
}

static mx_array fx_sdpa(const fx_case *c, mx_array *in, int nin) {
  (void)nin;
  const char *m = fx_str(c, "mask", "none");
  mx_sdpa_mask mode = strcmp(m, "causal") == 0  ? MX_SDPA_MASK_CAUSAL
                      : strcmp(m, "array") == 0 ? MX_SDPA_MASK_ARRAY
                                                : MX_SDPA_MASK_NONE;
  int k = 3;
  mx_array mask = mode == MX_SDPA_MASK_ARRAY ? in[k++] : NULL;
  mx_array sinks = fx_int(c, "sinks", 0) ? in[k++] : NULL;
  return mx_fast_scaled_dot_product_attention(in[0], in[1], in[2], (float)fx_double(c, "scale", 1),
                                              mode, mask, sinks);
}

static const fx_op OPS[] = {
    {"rms_norm", fx_rms}, {"layer_norm", fx_layer}, {"rope", fx_rope}, {"sdpa", fx_sdpa}};

/* ------------------------------------------------------------ helpers */

static mx_array randn(const int64_t *shape, int nd, mx_dtype t, uint64_t seed) {
  mx_array key = mx_random_key(seed);
  mx_array a = mx_random_normal(shape, nd, MX_FLOAT32, 0, 1, key);
  mx_array_free(key);
  if (t == MX_FLOAT32) return a;
  /* (astype to the same dtype would hand back an extra, unscoped reference) */
  mx_array r = mx_astype(a, t);
  mx_array_free(a);
  return r;
}

/* max |a - b| / (atol + rtol |b|) <= 1, NaN only where both are NaN. */
static bool close_to(mx_array a, mx_array b, double rtol, double atol, const char *what) {
  if (!a || !b) {
    CHECK_MSG(0, what);
    return false;
  }
  int64_t n = mx_array_size(a);
  bool ok = n == mx_array_size(b) && mx_array_dtype(a) == mx_array_dtype(b);
  double *x = malloc((size_t)(n ? n : 1) * 8), *y = malloc((size_t)(n ? n : 1) * 8);
  if (ok) {
    mx_array_copy_to(a, x, (size_t)n * 8, MX_FLOAT64);
    mx_array_copy_to(b, y, (size_t)n * 8, MX_FLOAT64);
  }
  double worst = 0;
  for (int64_t i = 0; ok && i < n; i++) {
    if (isnan(x[i]) || isnan(y[i])) {
      ok = isnan(x[i]) && isnan(y[i]);
      continue;
    }
    double e = fabs(x[i] - y[i]) / (atol + rtol * fabs(y[i]));
    if (e > worst) worst = e;
  }
  ok = ok && worst <= 1.0;
  char msg[160];
  snprintf(msg, sizeof msg, "%s: worst error %.3g of the tolerance", what, worst);
  CHECK_MSG(ok, msg);
  free(x);
  free(y);
  return ok;
}

/* ------------------------------------------------------------ errors */

static void test_errors(void) {
  mx_array x0 = mx_full_scalar(NULL, 0, 1.0, MX_FLOAT32);
  mx_array x2 = mx_ones((int64_t[]){3, 4}, 2, MX_FLOAT32);
  mx_array xi = mx_ones((int64_t[]){3, 4}, 2, MX_INT32);
  mx_array w4 = mx_ones((int64_t[]){4}, 1, MX_FLOAT32);
  mx_array w5 = mx_ones((int64_t[]){5}, 1, MX_FLOAT32);
  mx_array w22 = mx_ones((int64_t[]){2, 2}, 2, MX_FLOAT32);
  CHECK_ERR(mx_fast_rms_norm(x0, NULL, 1e-5f), MX_ERR_SHAPE, "rms_norm: input must have at least 1");
  CHECK_ERR(mx_fast_rms_norm(x2, w5, 1e-5f), MX_ERR_SHAPE, "rms_norm: weight of 5 elements");
  CHECK_ERR(mx_fast_rms_norm(x2, w22, 1e-5f), MX_ERR_SHAPE, "weight must have 1 dimension");
  CHECK_ERR(mx_fast_rms_norm(xi, NULL, 1e-5f), MX_ERR_DTYPE, "rms_norm: unsupported type int32");
  CHECK_ERR(mx_fast_rms_norm(NULL, w4, 1e-5f), MX_ERR_NULL_INPUT, "rms_norm");
  CHECK_ERR(mx_fast_layer_norm(x2, w4, w5, 1e-5f), MX_ERR_SHAPE, "layer_norm: bias of 5 elements");
  CHECK_ERR(mx_fast_layer_norm(x0, NULL, NULL, 1e-5f), MX_ERR_SHAPE, "layer_norm: input");
  CHECK_ERR(mx_fast_layer_norm(xi, NULL, w4, 1e-5f), MX_ERR_DTYPE, "layer_norm: unsupported");
  /* an integer x with a float weight promotes to a float: allowed (MLX) */
  mx_array ok = mx_fast_rms_norm(xi, w4, 1e-5f);
  CHECK(ok && mx_array_dtype(ok) == MX_FLOAT32 && mx_eval1(ok) == MX_OK);
  mx_array_free(ok);

  mx_array r4 = mx_ones((int64_t[]){1, 2, 3, 8}, 4, MX_FLOAT32);
  mx_array r4i = mx_ones((int64_t[]){1, 2, 3, 8}, 4, MX_INT32);
  CHECK_ERR(mx_fast_rope(x2, 4, false, 10000, 1, 0, NULL), MX_ERR_SHAPE, "rope: input must have at least 3");
  CHECK_ERR(mx_fast_rope(r4i, 4, false, 10000, 1, 0, NULL), MX_ERR_DTYPE, "rope: input must be a floating");
  CHECK_ERR(mx_fast_rope(r4, 3, false, 10000, 1, 0, NULL), MX_ERR_INVALID_ARG, "dims must be positive and even but is 3");
  CHECK_ERR(mx_fast_rope(r4, 0, false, 10000, 1, 0, NULL), MX_ERR_INVALID_ARG, "but is 0");
  CHECK_ERR(mx_fast_rope(r4, 10, false, 10000, 1, 0, NULL), MX_ERR_INVALID_ARG, "dims 10 exceeds");
  CHECK_ERR(mx_fast_rope(r4, 8, false, 10000, 1, 0, w5), MX_ERR_SHAPE, "freqs must be 1-d with 4 elements");
  mx_array off2 = mx_zeros((int64_t[]){1, 1}, 2, MX_INT32);
  mx_array off3 = mx_zeros((int64_t[]){3}, 1, MX_INT32);
  mx_array offf = mx_zeros((int64_t[]){1}, 1, MX_FLOAT32);
  CHECK_ERR(mx_fast_rope_offsets(r4, 8, false, 10000, 1, off2, NULL), MX_ERR_SHAPE, "offset must have at most 1");
  CHECK_ERR(mx_fast_rope_offsets(r4, 8, false, 10000, 1, off3, NULL), MX_ERR_SHAPE, "scalar or have 1 elements");
  CHECK_ERR(mx_fast_rope_offsets(r4, 8, false, 10000, 1, offf, NULL), MX_ERR_DTYPE, "offset must be an integer");
  CHECK_ERR(mx_fast_rope_offsets(r4, 8, false, 10000, 1, NULL, NULL), MX_ERR_NULL_INPUT, "rope");
  /* int64 offsets are accepted (cast to int32 as MLX does) */
  mx_array off64 = mx_full_scalar((int64_t[]){1}, 1, 5, MX_INT64);
  mx_array ro = mx_fast_rope_offsets(r4, 8, false, 10000, 1, off64, NULL);
  mx_array rs = mx_fast_rope(r4, 8, false, 10000, 1, 5, NULL);
  close_to(ro, rs, 0, 0, "rope int64 offset array == scalar offset");
  mx_array_free(ro);
  mx_array_free(rs);
  mx_array_free(off64);

  mx_array q = mx_ones((int64_t[]){2, 4, 3, 8}, 4, MX_FLOAT32);
  mx_array k = mx_ones((int64_t[]){2, 2, 5, 8}, 4, MX_FLOAT32);
  mx_array v = mx_ones((int64_t[]){2, 2, 5, 6}, 4, MX_FLOAT32);
  mx_array k3 = mx_ones((int64_t[]){2, 3, 5, 8}, 4, MX_FLOAT32);
  mx_array kb = mx_ones((int64_t[]){1, 2, 5, 8}, 4, MX_FLOAT32);
  mx_array kd = mx_ones((int64_t[]){2, 2, 5, 7}, 4, MX_FLOAT32);
  mx_array vt = mx_ones((int64_t[]){2, 2, 4, 6}, 4, MX_FLOAT32);
  mx_array qi = mx_ones((int64_t[]){2, 4, 3, 8}, 4, MX_INT32);
  mx_array q16 = mx_ones((int64_t[]){2, 4, 3, 8}, 4, MX_FLOAT16);
  mx_array k16 = mx_ones((int64_t[]){2, 2, 5, 8}, 4, MX_FLOAT16);
  mx_array v16 = mx_ones((int64_t[]){2, 2, 5, 6}, 4, MX_FLOAT16);
  mx_array m5 = mx_ones((int64_t[]){1, 1, 1, 1, 5}, 5, MX_BOOL);
  mx_array mbad = mx_ones((int64_t[]){3, 4}, 2, MX_BOOL);
  mx_array mf32 = mx_zeros((int64_t[]){3, 5}, 2, MX_FLOAT32);
  mx_array sk3 = mx_zeros((int64_t[]){3}, 1, MX_FLOAT32);
  mx_array sk4 = mx_zeros((int64_t[]){4}, 1, MX_FLOAT32);
  const mx_sdpa_mask NONE = MX_SDPA_MASK_NONE;
#define SDPA mx_fast_scaled_dot_product_attention
  CHECK_ERR(SDPA(x2, k, v, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "queries of shape (3,4) must have rank 4");
  CHECK_ERR(SDPA(q, kb, v, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "batch sizes differ");
  CHECK_ERR(SDPA(q, kd, v, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "differ in the last dimension");
  CHECK_ERR(SDPA(q, k3, v, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "differ in heads or length");
  CHECK_ERR(SDPA(q, k, vt, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "differ in heads or length");
  CHECK_ERR(SDPA(q, k3, k3, 1, NONE, NULL, NULL), MX_ERR_SHAPE, "multiple of kv heads (3)");
  CHECK_ERR(SDPA(q, k, v, 1, (mx_sdpa_mask)7, NULL, NULL), MX_ERR_INVALID_ARG, "invalid mask mode 7");
  CHECK_ERR(SDPA(q, k, v, 1, MX_SDPA_MASK_ARRAY, NULL, NULL), MX_ERR_NULL_INPUT, "scaled_dot_product_attention");
  CHECK_ERR(SDPA(q, k, v, 1, MX_SDPA_MASK_CAUSAL, mbad, NULL), MX_ERR_INVALID_ARG, "with the causal mask mode");
  CHECK_ERR(SDPA(q, k, v, 1, MX_SDPA_MASK_ARRAY, m5, NULL), MX_ERR_SHAPE, "more than 4 dimensions");
  CHECK_ERR(SDPA(q, k, v, 1, MX_SDPA_MASK_ARRAY, mbad, NULL), MX_ERR_SHAPE, "mask of shape (3,4) does not broadcast to (2,4,3,5)");
  CHECK_ERR(SDPA(q16, k16, v16, 1, MX_SDPA_MASK_ARRAY, mf32, NULL), MX_ERR_DTYPE, "mask type float32 must promote to the output type float16");
  CHECK_ERR(SDPA(q, k, v, 1, NONE, NULL, sk3), MX_ERR_SHAPE, "sinks of shape (3)");
  CHECK_ERR(SDPA(q16, k16, v16, 1, NONE, NULL, sk4), MX_ERR_DTYPE, "sinks type float32");
  CHECK_ERR(SDPA(NULL, k, v, 1, NONE, NULL, NULL), MX_ERR_NULL_INPUT, "scaled_dot_product_attention");
  mx_array ki = mx_ones((int64_t[]){2, 2, 5, 8}, 4, MX_INT32);
  mx_array vi = mx_ones((int64_t[]){2, 2, 5, 6}, 4, MX_INT32);
  CHECK_ERR(SDPA(qi, ki, vi, 1, NONE, NULL, NULL), MX_ERR_DTYPE, "unsupported type int32");
  mx_array_free(ki);
  mx_array_free(vi);
  /* shapes of a good call */
  mx_array o = SDPA(q, k, v, 1, MX_SDPA_MASK_CAUSAL, NULL, sk4);
  CHECK(o && mx_array_ndim(o) == 4 && mx_array_shape(o)[3] == 6 && mx_array_dtype(o) == MX_FLOAT32);
  CHECK(mx_eval1(o) == MX_OK);
  mx_array_free(o);
  mx_array arr[] = {x0, x2, xi, w4, w5, w22, r4, r4i, off2, off3, offf, q, k, v, k3, kb,
                    kd, vt, qi, q16, k16, v16, m5, mbad, mf32, sk3, sk4};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
#undef SDPA
}

/* ------------------------------------------------------------ compositions */

static void test_norms_composed(void) {
  mx_scope_begin();
  int64_t sh[3] = {3, 7, 300};
  mx_array x = randn(sh, 3, MX_FLOAT32, 1), w = randn(&sh[2], 1, MX_FLOAT32, 2),
           b = randn(&sh[2], 1, MX_FLOAT32, 3);
  int ax[1] = {-1};
  mx_array eps = mx_full_scalar(NULL, 0, 1e-5, MX_FLOAT32);
  /* rms: x * rsqrt(mean(x^2) + eps) * w */
  mx_array ref = mx_multiply(mx_multiply(x, mx_rsqrt(mx_add(mx_mean(mx_square(x), ax, 1, true), eps))), w);
  close_to(mx_fast_rms_norm(x, w, 1e-5f), ref, 1e-5, 1e-6, "rms_norm vs composed ops");
  /* layer: (x - mean) * rsqrt(var + eps) * w + b */
  mx_array xc = mx_subtract(x, mx_mean(x, ax, 1, true));
  mx_array lref = mx_add(mx_multiply(mx_multiply(xc, mx_rsqrt(mx_add(mx_var(x, ax, 1, true, 0), eps))), w), b);
  close_to(mx_fast_layer_norm(x, w, b, 1e-5f), lref, 1e-5, 1e-5, "layer_norm vs composed ops");
  /* a transposed input goes through the strided row path */
  mx_array xt = mx_swapaxes(x, 0, 1);
  mx_array reft = mx_swapaxes(ref, 0, 1);
  close_to(mx_fast_rms_norm(xt, w, 1e-5f), reft, 1e-5, 1e-6, "rms_norm of a transposed view");
  mx_scope_end();
}

/* rope composed from slices, cos/sin and elementwise ops (non-traditional). */
static void test_rope_composed(void) {
  mx_scope_begin();
  int64_t B = 2, H = 3, T = 9, D = 32, dims = 24, half = 12, off = 17;
  mx_array x = randn((int64_t[]){B, H, T, D}, 4, MX_FLOAT32, 4);
  mx_array pos = mx_reshape(mx_arange((double)off, (double)(off + T), 1, MX_FLOAT32), (int64_t[]){T, 1}, 2);
  mx_array i = mx_arange(0, (double)half, 1, MX_FLOAT32);
  float coef = (float)log(10000.0) / (float)half;
  mx_array inv = mx_exp(mx_multiply(i, mx_full_scalar(NULL, 0, -coef, MX_FLOAT32)));
  mx_array th = mx_multiply(pos, inv); /* (T, half) */
  mx_array c = mx_cos(th), s = mx_sin(th);
  mx_array x1 = mx_slice(x, (int64_t[]){0, 0, 0, 0}, (int64_t[]){B, H, T, half}, NULL, 4);
  mx_array x2 = mx_slice(x, (int64_t[]){0, 0, 0, half}, (int64_t[]){B, H, T, dims}, NULL, 4);
  mx_array rest = mx_slice(x, (int64_t[]){0, 0, 0, dims}, (int64_t[]){B, H, T, D}, NULL, 4);
  mx_array parts[3] = {mx_subtract(mx_multiply(x1, c), mx_multiply(x2, s)),
                       mx_add(mx_multiply(x1, s), mx_multiply(x2, c)), rest};
  mx_array ref = mx_concatenate(parts, 3, 3);
  /* theta near 26 rad: f32 cos/sin implementations differ by ~1e-6 there */
  close_to(mx_fast_rope(x, (int)dims, false, 10000, 1, off, NULL), ref, 1e-5, 1e-5,
           "rope vs composed ops");
  mx_scope_end();
}

static mx_array as_f32(mx_array a) {
  return mx_array_dtype(a) == MX_FLOAT32 ? a : mx_astype(a, MX_FLOAT32);
}

/* softmax(q k^T * scale + mask) v with K/V repeated per group, in f32. */
static mx_array sdpa_ref(mx_array q, mx_array k, mx_array v, float scale, bool causal,
                         mx_array mask) {
  int64_t G = mx_array_shape(q)[1] / mx_array_shape(k)[1];
  mx_array kf = as_f32(k), vf = as_f32(v), qf = as_f32(q);
  if (G > 1) {
    kf = mx_repeat(kf, G, 1);
    vf = mx_repeat(vf, G, 1);
  }
  mx_array s = mx_multiply(mx_matmul(qf, mx_swapaxes(kf, -1, -2)), mx_full_scalar(NULL, 0, scale, MX_FLOAT32));
  int64_t tq = mx_array_shape(q)[2], tk = mx_array_shape(k)[2];
  if (causal) {
    mx_array qi = mx_reshape(mx_arange((double)(tk - tq), (double)tk, 1, MX_INT32), (int64_t[]){tq, 1}, 2);
    mask = mx_greater_equal(qi, mx_arange(0, (double)tk, 1, MX_INT32));
  }
  if (mask) s = mx_where(mask, s, mx_full_scalar(NULL, 0, -3.4028234663852886e38, MX_FLOAT32));
  return mx_matmul(mx_softmax(s, (int[]){-1}, 1, true), vf);
}

static void test_sdpa_composed(void) {
  mx_scope_begin();
  /* decode over a cache stored (B, T, H, D) and viewed as (B, H, T, D):
   * strided heads/sequence, dense rows, no copy; long enough to split */
  int64_t B = 1, Hq = 8, Hkv = 2, Tk = 1500, D = 64;
  mx_array q = randn((int64_t[]){B, Hq, 1, D}, 4, MX_FLOAT32, 10);
  mx_array kc = randn((int64_t[]){B, Tk, Hkv, D}, 4, MX_FLOAT16, 11);
  mx_array vc = randn((int64_t[]){B, Tk, Hkv, D}, 4, MX_FLOAT16, 12);
  mx_array k = mx_swapaxes(kc, 1, 2), v = mx_swapaxes(vc, 1, 2);
  float sc = 0.125f;
  mx_array ref = sdpa_ref(q, k, v, sc, false, NULL);
  close_to(mx_fast_scaled_dot_product_attention(q, k, v, sc, MX_SDPA_MASK_NONE, NULL, NULL), ref,
           1e-4, 1e-5, "sdpa decode (f16 strided cache) vs composed ops");
  /* prefill, causal, GQA, f32 */
  mx_array q2 = randn((int64_t[]){2, 4, 100, 32}, 4, MX_FLOAT32, 13);
  mx_array k2 = randn((int64_t[]){2, 2, 130, 32}, 4, MX_FLOAT32, 14);
  mx_array v2 = randn((int64_t[]){2, 2, 130, 48}, 4, MX_FLOAT32, 15);
  mx_array ref2 = sdpa_ref(q2, k2, v2, 0.2f, true, NULL);
  close_to(mx_fast_scaled_dot_product_attention(q2, k2, v2, 0.2f, MX_SDPA_MASK_CAUSAL, NULL, NULL),
           ref2, 1e-4, 1e-5, "sdpa prefill causal vs composed ops");
  /* a bool mask broadcast over heads, bf16 inputs */
  mx_array kb = mx_random_key(16);
  mx_array pm = mx_full_scalar(NULL, 0, 0.7, MX_FLOAT32);
  mx_array mask = mx_random_bernoulli(pm, (int64_t[]){2, 1, 100, 130}, 4, kb);
  mx_array q3 = mx_astype(q2, MX_BFLOAT16), k3 = mx_astype(k2, MX_BFLOAT16), v3 = mx_astype(v2, MX_BFLOAT16);
  mx_array ref3 = mx_astype(sdpa_ref(q3, k3, v3, 0.2f, false, mask), MX_BFLOAT16);
  close_to(mx_fast_scaled_dot_product_attention(q3, k3, v3, 0.2f, MX_SDPA_MASK_ARRAY, mask, NULL),
           ref3, 1.0 / 128, 1e-3, "sdpa bf16 with a bool mask vs composed ops");
  mx_scope_end();
}

/* Deterministic: the same call twice gives the same bits (split merge
 * order does not depend on scheduling). */
static void test_deterministic(void) {
  mx_scope_begin();
  mx_array q = randn((int64_t[]){1, 4, 1, 128}, 4, MX_FLOAT32, 20);
  mx_array k = randn((int64_t[]){1, 1, 4000, 128}, 4, MX_FLOAT16, 21);
  mx_array v = randn((int64_t[]){1, 1, 4000, 128}, 4, MX_FLOAT16, 22);
  mx_array a = mx_fast_scaled_dot_product_attention(q, k, v, 0.1f, MX_SDPA_MASK_NONE, NULL, NULL);
  mx_array b = mx_fast_scaled_dot_product_attention(q, k, v, 0.1f, MX_SDPA_MASK_NONE, NULL, NULL);
  close_to(a, b, 0, 0, "sdpa decode is deterministic");
  mx_scope_end();
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "fixtures/fast";
  size_t mem0 = mx_memory_active();
  test_errors();
  test_deterministic();
  CHECK_MSG(mx_memory_active() == mem0, "active memory returns to its start");
  /* The compositions use other families' ops inside scopes; their memory
   * is not asserted here (elementwise ops in a scope currently keep a
   * buffer alive; reported to the core owner). */
  test_norms_composed();
  test_rope_composed();
  test_sdpa_composed();
  /* Every instruction-set path this CPU has: AVX-512, AVX2, portable. */
  const char *caps[3] = {"2", "1", "0"};
  for (int i = 0; i < 3; i++) {
    setenv("MLXC_FAST_ISA", caps[i], 1);
    int n = fx_run_dir(dir, OPS, (int)(sizeof OPS / sizeof *OPS));
    CHECK(n >= 100);
  }
  unsetenv("MLXC_FAST_ISA");
  return check_summary();
}
