/* scan.c — cumsum, cumprod, cummax, cummin and logcumsumexp along one axis
 * on the CPU, inclusive or exclusive, forward or reversed.
 *
 * The input is made row-major first (a copy only when it is a view), so the
 * axis has n elements at stride K (the product of the dims after it):
 * - K == 1: each line is scanned sequentially, a chunk at a time;
 * - K > 1: a block of up to 1024 neighbouring lines is carried as a vector,
 *   so each step reads and writes contiguous memory.
 * Values are carried in one type per kind: f32 (f16/bf16 too, rounded once
 * per output), f64, i64 (wrapping, truncated to the output type), u64, c64.
 */
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"

typedef enum skind { S_F32, S_F64, S_I64, S_U64, S_C64 } skind;

static skind skind_of(mx_dtype t) {
  switch (t) {
  case MX_FLOAT16:
  case MX_BFLOAT16:
  case MX_FLOAT32: return S_F32;
  case MX_FLOAT64: return S_F64;
  case MX_UINT64: return S_U64;
  case MX_COMPLEX64: return S_C64;
  default: return S_I64;
  }
}

static mx_dtype skind_dtype(skind k) {
  static const mx_dtype t[] = {MX_FLOAT32, MX_FLOAT64, MX_INT64, MX_UINT64, MX_COMPLEX64};
  return t[k];
}

/* ------------------------------------------------------------ element ops */

static inline float lae_f32(float a, float b) {
  if (a != a || b != b) return NAN;
  float mx = a > b ? a : b, mn = a > b ? b : a;
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1pf(expf(mn - mx));
}

static inline double lae_f64(double a, double b) {
  if (a != a || b != b) return NAN;
  double mx = a > b ? a : b, mn = a > b ? b : a;
  if (mn == -INFINITY || mx == INFINITY) return mx;
  return mx + log1p(exp(mn - mx));
}

static inline float op_f32(int op, float a, float b) {
  switch (op) {
  case SCAN_SUM: return a + b;
  case SCAN_PROD: return a * b;
  case SCAN_MAX: return (a != a || b != b) ? NAN : (b > a ? b : a);
  case SCAN_MIN: return (a != a || b != b) ? NAN : (b < a ? b : a);
  default: return lae_f32(a, b);
  }
}

static inline double op_f64(int op, double a, double b) {
  switch (op) {
  case SCAN_SUM: return a + b;
  case SCAN_PROD: return a * b;
  case SCAN_MAX: return (a != a || b != b) ? NAN : (b > a ? b : a);
  case SCAN_MIN: return (a != a || b != b) ? NAN : (b < a ? b : a);
  default: return lae_f64(a, b);
  }
}

/* Integers wrap as MLX's fixed-width arithmetic: done in u64, truncated to
 * the output type on store (the low bits agree). */
static inline int64_t op_i64(int op, int64_t a, int64_t b) {
  switch (op) {
  case SCAN_SUM: return (int64_t)((uint64_t)a + (uint64_t)b);
  case SCAN_PROD: return (int64_t)((uint64_t)a * (uint64_t)b);
  case SCAN_MAX: return b > a ? b : a;
  default: return b < a ? b : a;
  }
}

static inline uint64_t op_u64(int op, uint64_t a, uint64_t b) {
  switch (op) {
  case SCAN_SUM: return a + b;
  case SCAN_PROD: return a * b;
  case SCAN_MAX: return b > a ? b : a;
  default: return b < a ? b : a;
  }
}

static inline bool c_nan(c64_t z) { return isnan(crealf(z)) || isnan(cimagf(z)); }
static inline bool c_gt(c64_t a, c64_t b) {
  return crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b));
}

static inline c64_t op_c64(int op, c64_t a, c64_t b) {
  switch (op) {
  case SCAN_SUM: return a + b;
  case SCAN_PROD: return a * b;
  case SCAN_MAX:
    if (c_nan(a)) return a;
    if (c_nan(b)) return b;
    return c_gt(b, a) ? b : a;
  case SCAN_MIN:
    if (c_nan(a)) return a;
    if (c_nan(b)) return b;
    return c_gt(a, b) ? b : a;
  default: {
    /* As MLX: the larger (lexicographic) plus log1p(exp(min - max)). */
    c64_t mx = c_gt(b, a) ? b : a, mn = c_gt(b, a) ? a : b;
    if ((crealf(mn) == -INFINITY && cimagf(mn) == 0) || (crealf(mx) == INFINITY && cimagf(mx) == 0))
      return mx;
    return mx + clogf(1.0f + cexpf(mn - mx));
  }
  }
}

/* ------------------------------------------------------------ identities */

static void int_limits(mx_dtype t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case MX_BOOL: *lo = 0, *hi = 1; break;
  case MX_UINT8: *lo = 0, *hi = UINT8_MAX; break;
  case MX_UINT16: *lo = 0, *hi = UINT16_MAX; break;
  case MX_UINT32: *lo = 0, *hi = UINT32_MAX; break;
  case MX_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
  case MX_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
  case MX_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
  default: *lo = INT64_MIN, *hi = INT64_MAX; break;
  }
}

/* The first output of an exclusive scan (and the carry's start). */
static void scan_init(skind k, int op, mx_dtype t, void *v) {
  bool one = op == SCAN_PROD;
  double fl = op == SCAN_MAX || op == SCAN_LOGADDEXP ? -INFINITY : op == SCAN_MIN ? INFINITY : one;
  switch (k) {
  case S_F32: *(float *)v = (float)fl; break;
  case S_F64: *(double *)v = fl; break;
  case S_C64: *(c64_t *)v = (float)fl; break;
  case S_U64:
    *(uint64_t *)v = op == SCAN_MAX ? 0 : op == SCAN_MIN ? UINT64_MAX : (uint64_t)one;
    break;
  case S_I64: {
    int64_t lo, hi;
    int_limits(t, &lo, &hi);
    *(int64_t *)v = op == SCAN_MAX ? lo : op == SCAN_MIN ? hi : (int64_t)one;
    break;
  }
  }
}

/* ------------------------------------------------------------ line scan (K == 1) */

/* Expands MAC(T, OPF, OP) with OP a constant, so each loop below is
 * compiled per op with the op's switch folded away. */
#define FOR_EACH_OP(MAC, T, OPF)                \
  switch (op) {                                 \
  case SCAN_SUM: MAC(T, OPF, SCAN_SUM); break;   \
  case SCAN_PROD: MAC(T, OPF, SCAN_PROD); break; \
  case SCAN_MAX: MAC(T, OPF, SCAN_MAX); break;   \
  case SCAN_MIN: MAC(T, OPF, SCAN_MIN); break;   \
  default: MAC(T, OPF, SCAN_LOGADDEXP); break;   \
  }

/* Scans buf[0..n) in place, in the given direction, carrying *carry. */
#define LINE_SCAN_OP(T, OPF, OP)                          \
  do {                                                    \
    T *b_ = buf, c_ = *(T *)carry;                        \
    for (int64_t q_ = 0; q_ < n; q_++) {                  \
      int64_t j_ = reverse ? n - 1 - q_ : q_;             \
      T v_ = b_[j_];                                      \
      if (inclusive) {                                    \
        c_ = OPF(OP, c_, v_);                             \
        b_[j_] = c_;                                      \
      } else {                                            \
        b_[j_] = c_;                                      \
        c_ = OPF(OP, c_, v_);                             \
      }                                                   \
    }                                                     \
    *(T *)carry = c_;                                     \
  } while (0)
#define LINE_SCAN(T, OPF) FOR_EACH_OP(LINE_SCAN_OP, T, OPF)

static void line_scan(skind k, int op, void *buf, int64_t n, void *carry, bool reverse,
                      bool inclusive) {
  switch (k) {
  case S_F32: LINE_SCAN(float, op_f32); break;
  case S_F64: LINE_SCAN(double, op_f64); break;
  case S_I64: LINE_SCAN(int64_t, op_i64); break;
  case S_U64: LINE_SCAN(uint64_t, op_u64); break;
  case S_C64: LINE_SCAN(c64_t, op_c64); break;
  }
}

/* One step of the vector form: out = carry (exclusive) or op(carry, x)
 * (inclusive), then the carry absorbs x. `x` is overwritten with out. */
#define VEC_STEP_OP(T, OPF, OP)                           \
  do {                                                    \
    T *c_ = carry, *x_ = x;                               \
    if (inclusive) {                                      \
      for (int64_t j_ = 0; j_ < n; j_++) {                \
        c_[j_] = OPF(OP, c_[j_], x_[j_]);                 \
        x_[j_] = c_[j_];                                  \
      }                                                   \
    } else {                                              \
      for (int64_t j_ = 0; j_ < n; j_++) {                \
        T v_ = x_[j_];                                    \
        x_[j_] = c_[j_];                                  \
        c_[j_] = OPF(OP, c_[j_], v_);                     \
      }                                                   \
    }                                                     \
  } while (0)
#define VEC_STEP(T, OPF) FOR_EACH_OP(VEC_STEP_OP, T, OPF)

static void vec_step(skind k, int op, void *carry, void *x, int64_t n, bool inclusive) {
  switch (k) {
  case S_F32: VEC_STEP(float, op_f32); break;
  case S_F64: VEC_STEP(double, op_f64); break;
  case S_I64: VEC_STEP(int64_t, op_i64); break;
  case S_U64: VEC_STEP(uint64_t, op_u64); break;
  case S_C64: VEC_STEP(c64_t, op_c64); break;
  }
}

/* ------------------------------------------------------------ the kernel */

#define SCHUNK 1024

typedef struct scan_ctx {
  const char *x;
  char *y;
  mx_dtype xt, yt, kt;
  size_t xs, ys, ks;
  skind k;
  int op;
  bool reverse, inclusive;
  int64_t n, K, nkb;
} scan_ctx;

static void line_task(void *vc, int64_t l0, int64_t l1) {
  scan_ctx *c = vc;
  _Alignas(64) unsigned char buf[SCHUNK * 16];
  for (int64_t l = l0; l < l1; l++) {
    unsigned char carry[16];
    scan_init(c->k, c->op, c->xt, carry);
    int64_t nch = (c->n + SCHUNK - 1) / SCHUNK;
    for (int64_t q = 0; q < nch; q++) {
      int64_t ch = c->reverse ? nch - 1 - q : q;
      int64_t s = ch * SCHUNK, m = c->n - s < SCHUNK ? c->n - s : SCHUNK;
      int64_t e = l * c->n + s;
      convert_run(c->x + (size_t)e * c->xs, 1, c->xt, buf, c->kt, m);
      line_scan(c->k, c->op, buf, m, carry, c->reverse, c->inclusive);
      convert_run(buf, 1, c->kt, c->y + (size_t)e * c->ys, c->yt, m);
    }
  }
}

static void vec_task(void *vc, int64_t t0, int64_t t1) {
  scan_ctx *c = vc;
  _Alignas(64) unsigned char carry[SCHUNK * 16];
  _Alignas(64) unsigned char buf[SCHUNK * 16];
  for (int64_t t = t0; t < t1; t++) {
    int64_t o = t / c->nkb, kb = t % c->nkb;
    int64_t j0 = kb * SCHUNK, m = c->K - j0 < SCHUNK ? c->K - j0 : SCHUNK;
    scan_init(c->k, c->op, c->xt, carry);
    for (int64_t j = 1; j < m; j++) memcpy(carry + (size_t)j * c->ks, carry, c->ks);
    for (int64_t q = 0; q < c->n; q++) {
      int64_t i = c->reverse ? c->n - 1 - q : q;
      int64_t e = (o * c->n + i) * c->K + j0;
      convert_run(c->x + (size_t)e * c->xs, 1, c->xt, buf, c->kt, m);
      vec_step(c->k, c->op, carry, buf, m, c->inclusive);
      convert_run(buf, 1, c->kt, c->y + (size_t)e * c->ys, c->yt, m);
    }
  }
}

mx_status cpu_scan(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const scan_params *sp = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;

  scan_ctx c;
  memset(&c, 0, sizeof c);
  c.xt = x->dtype;
  c.yt = out->dtype;
  c.k = skind_of(x->dtype);
  c.kt = skind_dtype(c.k);
  c.xs = mx_dtype_size(c.xt);
  c.ys = mx_dtype_size(c.yt);
  c.ks = mx_dtype_size(c.kt);
  c.op = sp->op;
  c.reverse = sp->reverse;
  c.inclusive = sp->inclusive;
  c.y = array_ptr(out);
  c.n = x->shape[sp->axis];
  c.K = 1;
  for (int d = sp->axis + 1; d < x->ndim; d++) c.K *= x->shape[d];
  int64_t outer = out->size / (c.n * c.K);

  void *copy = NULL;
  if (x->row_contiguous) {
    c.x = array_ptr(x);
  } else {
    copy = malloc((size_t)x->size * c.xs);
    if (!copy) return set_error(MX_ERR_OOM, "scan: out of memory copying a %lld-element view",
                                (long long)x->size);
    array_copy_to_row_major(x, copy, x->dtype);
    c.x = copy;
  }
  if (c.K == 1) {
    parallel_for(outer, c.n >= 32768 ? 1 : 32768 / c.n, line_task, &c);
  } else {
    c.nkb = (c.K + SCHUNK - 1) / SCHUNK;
    int64_t per = c.n * (c.K < SCHUNK ? c.K : SCHUNK);
    parallel_for(outer * c.nkb, per >= 32768 ? 1 : 32768 / per, vec_task, &c);
  }
  free(copy);
  return MX_OK;
}
