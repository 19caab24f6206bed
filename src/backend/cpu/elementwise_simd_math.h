/* elementwise_simd_math.h — f32 vector exp / sigmoid / tanh and simple
 * unary runs, written once over a small macro vocabulary and included by
 * elementwise_simd.c once per instruction set (AVX2+FMA, AVX-512F).
 *
 * Expects: ISA (a target attribute string), SUF (name suffix), W (lanes),
 * V/M (vector and mask types) and the operations below. Accuracy: exp is
 * within 1 ulp (Cody-Waite reduction with FMA, degree-7 Taylor on
 * |r| <= ln2/2, whose truncation is < 0.05 ulp); sigmoid and tanh add at most
 * two roundings of well-conditioned operations on top (<= 3 ulp, measured
 * <= 2 in tests/test_unary.c). Lanes outside the range where the vector
 * formulas hold (overflow, subnormal results, NaN) make the whole vector
 * take the scalar libm path, so edge cases match the portable loops.
 */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

/* exp(x) for x in [-87.3, 88.37]: n = round(x / ln2) stays in [-126, 127],
 * so 2^n and the result are normal numbers. */
__attribute__((target(ISA))) static inline V FN(vexp)(V x) {
  V n = VROUND(VMUL(x, VSET(1.44269504088896341f)));
  V r = VFMA(n, VSET(-0.693145751953125f), x);
  r = VFMA(n, VSET(-1.428606765330187e-06f), r);
  V p = VSET(1.0f / 5040);
  p = VFMA(p, r, VSET(1.0f / 720));
  p = VFMA(p, r, VSET(1.0f / 120));
  p = VFMA(p, r, VSET(1.0f / 24));
  p = VFMA(p, r, VSET(1.0f / 6));
  p = VFMA(p, r, VSET(0.5f));
  p = VFMA(p, r, VSET(1.0f));
  p = VFMA(p, r, VSET(1.0f));
  return VMUL(p, VPOW2(n));
}

/* The run helpers: dense input (s[0] == 1) vectorized, the rest scalar. */
#define UNARY_RUN(name, SCALAR, BODY, OUT_OF_RANGE)                                        \
  __attribute__((target(ISA))) static void FN(name)(void *out, const void *const *in,       \
                                                   const int64_t *s, int64_t n,            \
                                                   const void *params) {                   \
    (void)params;                                                                          \
    const float *a = in[0];                                                                \
    float *o = out;                                                                        \
    if (!s[0]) {                                                                           \
      float v = SCALAR(a[0]);                                                              \
      for (int64_t i = 0; i < n; i++) o[i] = v;                                            \
      return;                                                                              \
    }                                                                                      \
    int64_t i = 0;                                                                         \
    for (; i + W <= n; i += W) {                                                           \
      V x = VLOAD(a + i);                                                                  \
      if (VANY(OUT_OF_RANGE)) {                                                            \
        for (int k = 0; k < W; k++) o[i + k] = SCALAR(a[i + k]);                           \
        continue;                                                                          \
      }                                                                                    \
      VSTORE(o + i, BODY);                                                                 \
    }                                                                                      \
    for (; i < n; i++) o[i] = SCALAR(a[i]);                                                \
  }

/* exp: NaN fails both comparisons, so it is caught as out of range. */
UNARY_RUN(exp_run, expf, FN(vexp)(x),
          VOR(VNOT_GE(x, VSET(-87.3f)), VNOT_LE(x, VSET(88.37f))))

/* sigmoid: e = exp(-|x|) never overflows; x < 0 gives e / (1 + e). */
__attribute__((target(ISA))) static inline V FN(vsigmoid)(V x) {
  V e = FN(vexp)(VNEG(VABS(x)));
  V d = VADD(VSET(1.0f), e);
  return VBLEND(VLT(x, VSET(0.0f)), VDIV(VSET(1.0f), d), VDIV(e, d));
}
UNARY_RUN(sigmoid_run, sigmoid_scalar, FN(vsigmoid)(x), VNOT_LE(VABS(x), VSET(87.0f)))

/* tanh: odd Taylor polynomial below 0.55, 1 - 2 / (e^{2|x|} + 1) above, with
 * |x| clamped at 9.1 where tanh rounds to 1 in f32. */
__attribute__((target(ISA))) static inline V FN(vtanh)(V x) {
  V ax = VABS(x);
  V z = VMUL(x, x);
  V p = VSET(-0.000239129529f); /* -443861162/1856156927625 */
  p = VFMA(p, z, VSET(0.000590027440f));
  p = VFMA(p, z, VSET(-0.00145583438f));
  p = VFMA(p, z, VSET(0.00359212803f));
  p = VFMA(p, z, VSET(-0.00886323552f));
  p = VFMA(p, z, VSET(0.0218694885f));
  p = VFMA(p, z, VSET(-0.0539682540f));
  p = VFMA(p, z, VSET(0.133333333f));
  p = VFMA(p, z, VSET(-0.333333333f));
  V small = VFMA(VMUL(p, z), x, x);
  V e = FN(vexp)(VMUL(VSET(2.0f), VMIN(ax, VSET(9.1f))));
  V big = VSUB(VSET(1.0f), VDIV(VSET(2.0f), VADD(e, VSET(1.0f))));
  big = VCOPYSIGN(big, x);
  return VBLEND(VLT(ax, VSET(0.55f)), big, small);
}
UNARY_RUN(tanh_run, tanhf, FN(vtanh)(x), VNOT_LE(VABS(x), VSET(1e30f)))

static inline float FN(abs_s)(float x) { return fabsf(x); }
static inline float FN(neg_s)(float x) { return -x; }
static inline float FN(square_s)(float x) { return x * x; }
static inline float FN(rsqrt_s)(float x) { return 1.0f / sqrtf(x); }
#define NEVER VLT(x, x) /* NaN-safe "no lane" mask */
UNARY_RUN(abs_run, FN(abs_s), VABS(x), NEVER)
UNARY_RUN(neg_run, FN(neg_s), VNEG(x), NEVER)
UNARY_RUN(square_run, FN(square_s), VMUL(x, x), NEVER)
UNARY_RUN(sqrt_run, sqrtf, VSQRT(x), NEVER)
UNARY_RUN(rsqrt_run, FN(rsqrt_s), VDIV(VSET(1.0f), VSQRT(x)), NEVER)
#undef NEVER
#undef UNARY_RUN
#undef FN
#undef CAT
#undef CAT_
