/* test_fast_silu_mul.c — mx_fast_silu_mul (and the split form the decoder
 * uses, fast_silu_mul_halves) against the chain it replaces,
 * multiply(multiply(a, sigmoid(a)), b), on the same inputs.
 *
 * Tolerance: none. The fused kernel must give the chain's bits for every
 * element (f32, f16, bf16), because models switched to it must produce the
 * same tokens and logits as before. The one exception is a NaN result:
 * any NaN matches any NaN (its payload depends on which operand the
 * hardware multiply propagates, which the C compiler may reorder).
 * Inputs mix N(0, 3) values with the cases where the chain's f32 sigmoid
 * changes code path (|x| > 87 sends a whole vector to the scalar loop),
 * infinities, NaN, signed zeros and subnormals; sizes cover SIMD tails
 * (1, 7, 33, 1000), multi-block runs (4099) and the thread pool's ranges
 * (131101: chunks that are not a multiple of the vector width on a
 * two-thread pool). Layouts: dense, transposed, step-2, reversed and
 * broadcast (stride-0) views. With a usable GPU the same cases run there,
 * the fused kernel against the GPU chain, and must not fall back to the CPU.
 * Given a fixture folder (tests/ref/gen_fast_silu_mul.py), the op is also
 * checked against NumPy's f64 reference within the tolerances stated there.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "fixture.h"

mx_array fast_silu_mul_halves(mx_array x); /* src/ops/fast_silu_mul.c */

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};
static bool on_gpu;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* n values: mostly N(0, 3), with specials sprinkled in. */
static float *values(int64_t n, bool specials) {
  float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    double u1 = urand() + 1e-12, u2 = urand();
    v[i] = (float)(3.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    if (specials && urand() < 0.02) {
      static const float sp[] = {88.5f, -90.0f, 100.0f, -200.0f, 1e30f, -1e30f, 0.0f, -0.0f,
                                 1e-40f, -1e-42f, 87.0f, -87.5f, 11.0f, -17.0f};
      v[i] = sp[(int)(urand() * (sizeof sp / sizeof sp[0]))];
    }
    if (specials && urand() < 0.002) v[i] = urand() < 0.5 ? INFINITY : -INFINITY;
    if (specials && urand() < 0.001) v[i] = NAN;
  }
  return v;
}

/* An evaluated array of the shape in dtype t (values rounded from f32). */
static mx_array make(const int64_t *shape, int nd, mx_dtype t, bool specials) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  float *v = values(n, specials);
  mx_set_default_device(cpu);
  mx_array f = mx_array_from_data(v, shape, nd, MX_FLOAT32);
  mx_array r = mx_astype(f, t);
  mx_eval1(r);
  mx_array_free(f);
  free(v);
  if (on_gpu) mx_set_default_device(gpu);
  return r;
}

static mx_array chain(mx_array a, mx_array b) {
  mx_array s = mx_sigmoid(a);
  mx_array g = mx_multiply(a, s);
  mx_array r = mx_multiply(g, b);
  mx_array_free(s);
  mx_array_free(g);
  return r;
}

static bool is_nan_bits(const void *p, mx_dtype t) {
  if (t == MX_FLOAT32) {
    uint32_t u;
    memcpy(&u, p, 4);
    return (u & 0x7fffffffu) > 0x7f800000u;
  }
  uint16_t h;
  memcpy(&h, p, 2);
  if (t == MX_FLOAT16) return (h & 0x7fffu) > 0x7c00u;
  if (t == MX_BFLOAT16) return (h & 0x7fffu) > 0x7f80u;
  return false;
}

/* The inputs of the case being compared (for the failure message), or NULL. */
static mx_array cur_a, cur_b;

/* Evaluates both and compares them bit for bit (NaN matching NaN). On the
 * GPU, a fused result (gpu_kernel) must not have run on the CPU. */
static void check_bits(const char *what, mx_array got, mx_array want, bool gpu_kernel) {
  char msg[400];
  mx_array in_a = cur_a, in_b = cur_b;
  cur_a = cur_b = NULL;
  int64_t fb = gpu_fallback_count();
  mx_status st = mx_eval1(got);
  bool ran_on_gpu = gpu_fallback_count() == fb;
  mx_status st2 = mx_eval1(want);
  if (st || st2 || !got || !want) {
    snprintf(msg, sizeof msg, "%s: evaluation failed: %s", what, mx_last_error());
    CHECK_MSG(false, msg);
    return;
  }
  bool shape_ok = mx_array_ndim(got) == mx_array_ndim(want) &&
                  mx_array_dtype(got) == mx_array_dtype(want);
  for (int i = 0; shape_ok && i < mx_array_ndim(got); i++)
    shape_ok = mx_array_dim(got, i) == mx_array_dim(want, i);
  snprintf(msg, sizeof msg, "%s: shape/dtype", what);
  CHECK_MSG(shape_ok, msg);
  if (!shape_ok) return;
  if (on_gpu && gpu_kernel) {
    snprintf(msg, sizeof msg, "%s: ran on the GPU (no CPU fallback)", what);
    CHECK_MSG(ran_on_gpu, msg);
  }
  mx_dtype t = mx_array_dtype(got);
  size_t es = mx_dtype_size(t);
  int64_t n = mx_array_size(got), bad = 0, first = -1;
  /* Host copies in row-major order. */
  mx_set_default_device(cpu);
  mx_array gc = mx_contiguous(got), wc = mx_contiguous(want);
  const char *g = mx_array_data(gc), *w = mx_array_data(wc);
  for (int64_t i = 0; g && w && i < n; i++) {
    const char *x = g + i * (int64_t)es, *y = w + i * (int64_t)es;
    if (memcmp(x, y, es) == 0) continue;
    if (is_nan_bits(x, t) && is_nan_bits(y, t)) continue;
    if (first < 0) first = i;
    bad++;
  }
  if (!g || !w) bad = -1;
  /* The first mismatch's inputs and both results, to tell a rounding step
   * from a layout bug. */
  double av = NAN, bv = NAN;
  if (first >= 0 && in_a && in_b) {
    mx_array a32 = mx_astype(in_a, MX_FLOAT32), b32 = mx_astype(in_b, MX_FLOAT32);
    mx_array ac = mx_contiguous(a32), bc = mx_contiguous(b32);
    const float *pa = mx_array_data(ac), *pb = mx_array_data(bc);
    if (pa && pb && mx_array_size(ac) == n && mx_array_size(bc) == n) {
      av = pa[first];
      bv = pb[first];
    }
    mx_array_free(a32);
    mx_array_free(b32);
    mx_array_free(ac);
    mx_array_free(bc);
  }
  uint32_t gb = 0, wb = 0;
  if (first >= 0) {
    memcpy(&gb, g + first * (int64_t)es, es);
    memcpy(&wb, w + first * (int64_t)es, es);
  }
  snprintf(msg, sizeof msg,
           "%s: %lld of %lld elements differ (first at %lld: a %.9g b %.9g, got 0x%x want 0x%x)",
           what, (long long)bad, (long long)n, (long long)first, av, bv, (unsigned)gb,
           (unsigned)wb);
  CHECK_MSG(bad == 0, msg);
  mx_array_free(gc);
  mx_array_free(wc);
  if (on_gpu) mx_set_default_device(gpu);
}

static void same_bits(const char *what, mx_array got, mx_array want) {
  check_bits(what, got, want, true);
}

/* Inputs the op leaves to the chain: whatever the chain's ops do on the GPU. */
static void same_bits_chain(const char *what, mx_array got, mx_array want) {
  check_bits(what, got, want, false);
}

static const mx_dtype floats[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};

static void test_dense(void) {
  static const int64_t sizes[] = {1, 7, 8, 16, 33, 1000, 4099, 131101};
  for (int t = 0; t < 3; t++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t sh[1] = {sizes[s]};
      mx_array a = make(sh, 1, floats[t], true), b = make(sh, 1, floats[t], true);
      mx_array got = mx_fast_silu_mul(a, b), want = chain(a, b);
      cur_a = a, cur_b = b;
      char what[96];
      snprintf(what, sizeof what, "dense %s n=%lld", mx_dtype_name(floats[t]), (long long)sizes[s]);
      same_bits(what, got, want);
      mx_array_free(got);
      mx_array_free(want);
      mx_array_free(a);
      mx_array_free(b);
    }
  /* 0-d and empty */
  for (int t = 0; t < 3; t++) {
    int64_t e[2] = {3, 0};
    mx_array a = make(NULL, 0, floats[t], false), b = make(NULL, 0, floats[t], false);
    mx_array got = mx_fast_silu_mul(a, b), want = chain(a, b);
    same_bits("0-d", got, want);
    mx_array_free(got);
    mx_array_free(want);
    mx_array_free(a);
    mx_array_free(b);
    a = make(e, 2, floats[t], false);
    b = make(e, 2, floats[t], false);
    got = mx_fast_silu_mul(a, b);
    want = chain(a, b);
    same_bits("empty", got, want);
    mx_array_free(got);
    mx_array_free(want);
    mx_array_free(a);
    mx_array_free(b);
  }
}

/* A view of x as (R, C'): 0 transposed, 1 every other column, 2 columns
 * reversed, 3 a broadcast row (stride 0 across rows), 4 a broadcast column
 * (stride 0 along the last axis). */
static mx_array view_of(mx_array x, int kind, int64_t R, int64_t C) {
  int64_t R0 = mx_array_dim(x, 0), C0 = mx_array_dim(x, 1);
  switch (kind) {
  case 0: return mx_transpose(x, NULL, 0);
  case 1: {
    int64_t st[2] = {0, 0}, sp[2] = {R0, C0}, step[2] = {1, 2};
    return mx_slice(x, st, sp, step, 2);
  }
  case 2: {
    int64_t st[2] = {0, -1}, sp[2] = {R0, -C0 - 1}, step[2] = {1, -1};
    return mx_slice(x, st, sp, step, 2);
  }
  default: {
    int64_t shape[2] = {R, C};
    return mx_broadcast_to(x, shape, 2);
  }
  }
}

static void test_strided(void) {
  const int64_t R = 37, C = 66;
  for (int t = 0; t < 3; t++)
    for (int kind = 0; kind < 5; kind++)
      for (int which = 0; which < 3; which++) { /* view on a, on b, on both */
        int64_t Cv = kind == 1 ? C / 2 : C;
        int64_t base[5][2] = {{C, R}, {R, C}, {R, C}, {1, C}, {R, 1}};
        int64_t plain[2] = {R, Cv};
        mx_array xa = make(which != 1 ? base[kind] : plain, 2, floats[t], true);
        mx_array xb = make(which != 0 ? base[kind] : plain, 2, floats[t], true);
        mx_array a = which != 1 ? view_of(xa, kind, R, C) : mx_array_retain(xa);
        mx_array b = which != 0 ? view_of(xb, kind, R, C) : mx_array_retain(xb);
        mx_eval1(a);
        mx_eval1(b);
        mx_array got = mx_fast_silu_mul(a, b), want = chain(a, b);
        cur_a = a, cur_b = b;
        char what[96];
        snprintf(what, sizeof what, "strided %s view %d on %s", mx_dtype_name(floats[t]), kind,
                 which == 0 ? "a" : which == 1 ? "b" : "both");
        same_bits(what, got, want);
        mx_array_free(got);
        mx_array_free(want);
        mx_array_free(a);
        mx_array_free(b);
        mx_array_free(xa);
        mx_array_free(xb);
      }
}

/* Inputs the kernel leaves to the chain: broadcasting shapes, mixed
 * dtypes, integers. The result is the chain's. */
static void test_fallbacks(void) {
  int64_t s1[2] = {5, 9}, s2[1] = {9};
  mx_array a = make(s1, 2, MX_FLOAT32, true), b = make(s2, 1, MX_FLOAT32, true);
  mx_array got = mx_fast_silu_mul(a, b), want = chain(a, b);
  same_bits_chain("broadcast b", got, want);
  mx_array_free(got);
  mx_array_free(want);
  got = mx_fast_silu_mul(b, a);
  want = chain(b, a);
  same_bits_chain("broadcast a", got, want);
  mx_array_free(got);
  mx_array_free(want);
  mx_array h = make(s1, 2, MX_FLOAT16, true);
  got = mx_fast_silu_mul(h, a);
  want = chain(h, a);
  same_bits_chain("f16 x f32", got, want);
  CHECK(got && mx_array_dtype(got) == MX_FLOAT32);
  mx_array_free(got);
  mx_array_free(want);
  mx_set_default_device(cpu);
  mx_array i = mx_arange(-5, 40, 1, MX_INT32);
  if (on_gpu) mx_set_default_device(gpu);
  got = mx_fast_silu_mul(i, i);
  want = chain(i, i);
  same_bits_chain("int32", got, want);
  mx_array_free(got);
  mx_array_free(want);
  mx_array_free(i);
  mx_array_free(h);
  mx_array_free(a);
  mx_array_free(b);
}

/* The decoder's form: the halves of one (..., 2F) array, as the chain on
 * its two slices. */
static void test_halves(void) {
  static const int64_t Fs[] = {1, 7, 64, 1000, 8192};
  for (int t = 0; t < 3; t++)
    for (size_t f = 0; f < sizeof Fs / sizeof Fs[0]; f++)
      for (int rows = 1; rows <= 5; rows += 4) {
        int64_t F = Fs[f], sh[3] = {1, rows, 2 * F};
        mx_array x = make(sh, 3, floats[t], true);
        mx_array got = fast_silu_mul_halves(x);
        mx_array p[2] = {NULL, NULL};
        mx_split_sections(x, 2, -1, p);
        mx_array want = chain(p[0], p[1]);
        cur_a = p[0], cur_b = p[1];
        char what[96];
        snprintf(what, sizeof what, "halves %s F=%lld rows=%d", mx_dtype_name(floats[t]),
                 (long long)F, rows);
        same_bits(what, got, want);
        mx_array_free(got);
        mx_array_free(want);
        mx_array_free(p[0]);
        mx_array_free(p[1]);
        mx_array_free(x);
      }
  /* a transposed x: the halves are strided in both axes */
  for (int t = 0; t < 3; t++) {
    int64_t sh[2] = {34, 9};
    mx_array x0 = make(sh, 2, floats[t], true);
    mx_array x = mx_transpose(x0, NULL, 0); /* (9, 34) */
    mx_eval1(x);
    mx_array got = fast_silu_mul_halves(x);
    mx_array p[2] = {NULL, NULL};
    mx_split_sections(x, 2, -1, p);
    mx_array want = chain(p[0], p[1]);
    same_bits("halves of a transposed array", got, want);
    mx_array_free(got);
    mx_array_free(want);
    mx_array_free(p[0]);
    mx_array_free(p[1]);
    mx_array_free(x);
    mx_array_free(x0);
  }
  /* integers take the chain through the slices */
  mx_set_default_device(cpu);
  mx_array i = mx_arange(-6, 6, 1, MX_INT32);
  if (on_gpu) mx_set_default_device(gpu);
  mx_array got = fast_silu_mul_halves(i);
  mx_array p[2] = {NULL, NULL};
  mx_split_sections(i, 2, -1, p);
  mx_array want = chain(p[0], p[1]);
  same_bits_chain("halves int32", got, want);
  mx_array_free(got);
  mx_array_free(want);
  mx_array_free(p[0]);
  mx_array_free(p[1]);
  mx_array_free(i);
}

static void test_errors(void) {
  int64_t sh[2] = {3, 5};
  mx_array x = make(sh, 2, MX_FLOAT32, false);
  CHECK_ERR(fast_silu_mul_halves(x), MX_ERR_SHAPE, "must split into two halves");
  mx_array s = make(NULL, 0, MX_FLOAT32, false);
  CHECK_ERR(fast_silu_mul_halves(s), MX_ERR_SHAPE, "must split into two halves");
  CHECK_ERR(mx_fast_silu_mul(NULL, x), MX_ERR_NULL_INPUT, "silu_mul");
  CHECK_ERR(mx_fast_silu_mul(x, NULL), MX_ERR_NULL_INPUT, "silu_mul");
  CHECK_ERR(fast_silu_mul_halves(NULL), MX_ERR_NULL_INPUT, "silu_mul");
  int64_t s3[1] = {4};
  mx_array y = make(s3, 1, MX_FLOAT32, false);
  CHECK_ERR(mx_fast_silu_mul(x, y), MX_ERR_SHAPE, "");
  mx_array_free(x);
  mx_array_free(y);
  mx_array_free(s);
}

/* One node, not three. */
static void test_one_node(void) {
  int64_t sh[1] = {10};
  mx_array a = make(sh, 1, MX_BFLOAT16, false), b = make(sh, 1, MX_BFLOAT16, false);
  mx_array r = mx_fast_silu_mul(a, b);
  CHECK(r && r->prim && strcmp(r->prim->name, "fast_silu_mul") == 0 && r->nin == 2 &&
        r->inputs[0] == a && r->inputs[1] == b);
  mx_array_free(r);
  mx_array_free(a);
  mx_array_free(b);
}

static void run_all(void) {
  test_dense();
  test_strided();
  test_fallbacks();
  test_halves();
  test_errors();
  test_one_node();
}

static mx_array fx_silu_mul(const fx_case *c, mx_array *in, int nin) {
  (void)c;
  (void)nin;
  return mx_fast_silu_mul(in[0], in[1]);
}

int main(int argc, char **argv) {
  /* NumPy's values (tests/ref/gen_fast_silu_mul.py): the chain the op
   * reproduces is itself checked against an f64 reference there. */
  mx_set_default_device(cpu);
  if (argc > 1) {
    static const fx_op ops[] = {{"silu_mul", fx_silu_mul}};
    int n = fx_run_dir(argv[1], ops, 1);
    CHECK_MSG(n > 0, "fixtures found");
  }
  size_t active0 = mx_memory_active();
  run_all();
  CHECK(mx_memory_active() == active0);
  if (mx_device_is_available(MX_GPU)) {
    on_gpu = true;
    mx_set_default_device(gpu);
    run_all();
    mx_set_default_device(cpu);
  } else {
    printf("test_fast_silu_mul: GPU part skipped: no usable GPU\n");
  }
  return check_summary();
}
