/* reduce.c — reductions over any set of axes (sum, prod, max, min, all, any,
 * mean, var/std, logsumexp, median) on the CPU (argmax/argmin: argreduce.c).
 *
 * A reduction is planned as kept dims (collapsed, in output order) and
 * reduced dims (sorted by stride, collapsed, negative strides flipped since
 * every reduction here is order-free). Then one of two loops runs:
 * - row: each output reduces its own runs along the innermost reduced dim
 *   (stride 1 in the common "last axis" case, SIMD there);
 * - column: when the innermost kept dim is the contiguous one, each reduced
 *   index adds a whole run of outputs at once (vectorized across outputs).
 * Long reductions are split into fixed-size blocks whose partial results are
 * combined in block order, so results never depend on the thread count.
 *
 * Elements are converted into one "kind" of scratch value per dtype (f32 for
 * halves and f32, f64, i64 for bool and signed/small ints, u64, c64, bool
 * for all/any), so each op is written once per kind.
 */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"


/* What the generic machinery computes per output. SSD (sum of squared
 * deviations) and SEXP (sum of exp) read a per-output center. */
typedef enum pass { P_SUM, P_PROD, P_MAX, P_MIN, P_AND, P_OR, P_SSD, P_SEXP } pass;

typedef double _Complex cd_t;

typedef union acc {
  double d;
  float f;
  int64_t i;
  uint64_t u;
  cd_t c;
  uint8_t b;
} acc;

#define CHUNK RX_CHUNK
#define BLOCK 65536         /* reduced elements per task when one output is long */
#define COLS 4096           /* outputs per column-path task: a 16 KiB f32 row */
#define SMALL_WORK 32768    /* below this many elements, stay on one thread */

/* ------------------------------------------------------------ planning */

typedef reduce_plan plan;

void reduce_plan_build(mx_array x, const int *axes, int naxes, reduce_plan *p) {
  bool red[MX_MAX_NDIM] = {0};
  for (int i = 0; i < naxes; i++) red[axes[i]] = true;
  memset(p, 0, sizeof *p);
  p->nout = 1;
  p->nred = 1;
  for (int d = 0; d < x->ndim; d++) {
    int64_t n = x->shape[d], s = x->strides[d];
    if (red[d]) {
      p->nred *= n;
      if (n == 1) continue;
      if (s < 0) {
        p->base += (n - 1) * s;
        s = -s;
      }
      p->rshape[p->nr] = n;
      p->rstride[p->nr] = s;
      p->nr++;
    } else {
      p->nout *= n;
      if (n == 1) continue;
      if (p->nk > 0 && p->kstride[p->nk - 1] == s * n) {
        p->kshape[p->nk - 1] *= n;
        p->kstride[p->nk - 1] = s;
        continue;
      }
      p->kshape[p->nk] = n;
      p->kstride[p->nk] = s;
      p->nk++;
    }
  }
  /* Reduced dims by decreasing stride, broadcast (stride 0) ones outermost,
   * so the innermost run walks real memory. Insertion sort: ndim is tiny. */
  for (int i = 1; i < p->nr; i++) {
    int64_t sh = p->rshape[i], st = p->rstride[i];
    uint64_t key = st == 0 ? UINT64_MAX : (uint64_t)st;
    int j = i - 1;
    while (j >= 0 && (p->rstride[j] == 0 ? UINT64_MAX : (uint64_t)p->rstride[j]) < key) {
      p->rshape[j + 1] = p->rshape[j];
      p->rstride[j + 1] = p->rstride[j];
      j--;
    }
    p->rshape[j + 1] = sh;
    p->rstride[j + 1] = st;
  }
  int m = 0;
  for (int i = 0; i < p->nr; i++) {
    if (m > 0 && p->rstride[m - 1] == p->rstride[i] * p->rshape[i]) {
      p->rshape[m - 1] *= p->rshape[i];
      p->rstride[m - 1] = p->rstride[i];
      continue;
    }
    p->rshape[m] = p->rshape[i];
    p->rstride[m] = p->rstride[i];
    m++;
  }
  p->nr = m;
  p->rn = m ? p->rshape[m - 1] : 1;
  p->rs = m ? p->rstride[m - 1] : 1;
  if (p->nred == 0) p->rn = 0;
}

/* Offset of output o in the input (kept dims only). */
static int64_t kept_offset(const plan *p, int64_t o) {
  int64_t off = 0;
  for (int d = p->nk - 1; d >= 0; d--) {
    off += (o % p->kshape[d]) * p->kstride[d];
    o /= p->kshape[d];
  }
  return off;
}

/* Offset of the r-th combination of the reduced dims, skipping the last
 * `skip` of them (1 for the row loop, where the innermost one is a run). */
static int64_t red_offset(const plan *p, int64_t r, int skip) {
  int64_t off = 0;
  for (int d = p->nr - 1 - skip; d >= 0; d--) {
    off += (r % p->rshape[d]) * p->rstride[d];
    r /= p->rshape[d];
  }
  return off;
}

/* ------------------------------------------------------------ f32 SIMD runs */

__attribute__((target("avx512f"))) static float sum_f32_avx512(const float *x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
  if (i < n) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx2"))) static float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2"))) static float sum_f32_avx2(const float *x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; i++) s += x[i];
  return s;
}

static float sum_f32_scalar(const float *x, int64_t n) {
  float a[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] += x[i + j];
  float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  for (; i < n; i++) s += x[i];
  return s;
}

/* f32 lanes hold at most 4096 elements' worth; blocks add up in f64. */
static double run_sum_f32(const float *x, int64_t n) {
  const cpu_features *cf = cpu_get_features();
  double s = 0;
  for (int64_t i = 0; i < n; i += 4096) {
    int64_t m = n - i < 4096 ? n - i : 4096;
    s += cf->avx512f ? sum_f32_avx512(x + i, m)
         : cf->avx2  ? sum_f32_avx2(x + i, m)
                     : sum_f32_scalar(x + i, m);
  }
  return s;
}

/* max/min with NaN propagation: the vector max drops NaNs, so NaNs are
 * tracked on the side with an unordered compare. */
__attribute__((target("avx512f"))) static float maxmin_f32_avx512(const float *x, int64_t n,
                                                                   bool is_max, float init) {
  __m512 a0 = _mm512_set1_ps(init), a1 = a0;
  __mmask16 nan = 0;
  int64_t i = 0;
  if (is_max) {
    for (; i + 32 <= n; i += 32) {
      __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
      nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
      a0 = _mm512_max_ps(a0, v0);
      a1 = _mm512_max_ps(a1, v1);
    }
  } else {
    for (; i + 32 <= n; i += 32) {
      __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
      nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
      a0 = _mm512_min_ps(a0, v0);
      a1 = _mm512_min_ps(a1, v1);
    }
  }
  if (nan) return NAN;
  float r = is_max ? _mm512_reduce_max_ps(_mm512_max_ps(a0, a1))
                   : _mm512_reduce_min_ps(_mm512_min_ps(a0, a1));
  for (; i < n; i++) {
    float v = x[i];
    if (v != v) return NAN;
    if (is_max ? v > r : v < r) r = v;
  }
  return r;
}

__attribute__((target("avx2"))) static float maxmin_f32_avx2(const float *x, int64_t n,
                                                             bool is_max, float init) {
  __m256 a0 = _mm256_set1_ps(init), a1 = a0, nan = _mm256_setzero_ps();
  int64_t i = 0;
  if (is_max) {
    for (; i + 16 <= n; i += 16) {
      __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v0, v1, _CMP_UNORD_Q));
      a0 = _mm256_max_ps(a0, v0);
      a1 = _mm256_max_ps(a1, v1);
    }
    a0 = _mm256_max_ps(a0, a1);
  } else {
    for (; i + 16 <= n; i += 16) {
      __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v0, v1, _CMP_UNORD_Q));
      a0 = _mm256_min_ps(a0, v0);
      a1 = _mm256_min_ps(a1, v1);
    }
    a0 = _mm256_min_ps(a0, a1);
  }
  if (_mm256_movemask_ps(nan)) return NAN;
  float t[8];
  _mm256_storeu_ps(t, a0);
  float r = init;
  for (int j = 0; j < 8; j++)
    if (is_max ? t[j] > r : t[j] < r) r = t[j];
  for (; i < n; i++) {
    float v = x[i];
    if (v != v) return NAN;
    if (is_max ? v > r : v < r) r = v;
  }
  return r;
}

static float run_maxmin_f32(const float *x, int64_t n, bool is_max, float init) {
  const cpu_features *cf = cpu_get_features();
  if (cf->avx512f) return maxmin_f32_avx512(x, n, is_max, init);
  if (cf->avx2) return maxmin_f32_avx2(x, n, is_max, init);
  float r = init;
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    if (v != v) return NAN;
    if (is_max ? v > r : v < r) r = v;
  }
  return r;
}

__attribute__((target("avx512f"))) static float sexp_f32_avx512(const float *x, int64_t n,
                                                                 float c) {
  __m512 vc = _mm512_set1_ps(c), a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_add_ps(a0, rx_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vc)));
    a1 = _mm512_add_ps(a1, rx_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vc)));
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 e = rx_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vc));
    a0 = _mm512_add_ps(a0, _mm512_maskz_mov_ps(m, e));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

__attribute__((target("avx2,fma"))) static float sexp_f32_avx2(const float *x, int64_t n,
                                                                float c) {
  __m256 vc = _mm256_set1_ps(c), a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_ps(a0, rx_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vc)));
    a1 = _mm256_add_ps(a1, rx_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vc)));
  }
  float s = hsum256(_mm256_add_ps(a0, a1));
  for (; i < n; i++) s += expf(x[i] - c);
  return s;
}

__attribute__((target("avx512f"))) static float ssd_f32_avx512(const float *x, int64_t n, float c) {
  __m512 vc = _mm512_set1_ps(c), a0 = _mm512_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), vc);
    __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vc);
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vc);
    a0 = _mm512_fmadd_ps(d, d, a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

__attribute__((target("avx2,fma"))) static float ssd_f32_avx2(const float *x, int64_t n, float c) {
  __m256 vc = _mm256_set1_ps(c), a0 = _mm256_setzero_ps(), a1 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vc);
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vc);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
  }
  float s = hsum256(_mm256_add_ps(a0, a1));
  for (; i < n; i++) s += (x[i] - c) * (x[i] - c);
  return s;
}

/* Sum of squared deviations from c: f32 lanes over blocks of 4096, blocks
 * in f64 (the deviations are small next to c, so f32 keeps ~1e-7). */
static double run_ssd_f32(const float *x, int64_t n, float c) {
  const cpu_features *cf = cpu_get_features();
  double s = 0;
  for (int64_t i = 0; i < n; i += 4096) {
    int64_t m = n - i < 4096 ? n - i : 4096;
    if (cf->avx512f) {
      s += ssd_f32_avx512(x + i, m, c);
    } else if (cf->avx2 && cf->fma) {
      s += ssd_f32_avx2(x + i, m, c);
    } else {
      double b = 0;
      for (int64_t j = 0; j < m; j++) b += ((double)x[i + j] - c) * ((double)x[i + j] - c);
      s += b;
    }
  }
  return s;
}

static double run_sexp_f32(const float *x, int64_t n, float c) {
  const cpu_features *cf = cpu_get_features();
  double s = 0;
  for (int64_t i = 0; i < n; i += 4096) {
    int64_t m = n - i < 4096 ? n - i : 4096;
    if (cf->avx512f) {
      s += sexp_f32_avx512(x + i, m, c);
    } else if (cf->avx2 && cf->fma) {
      s += sexp_f32_avx2(x + i, m, c);
    } else {
      float b = 0;
      for (int64_t j = 0; j < m; j++) b += expf(x[i + j] - c);
      s += b;
    }
  }
  return s;
}

/* ------------------------------------------------------------ scalar ops per kind */

static acc acc_init(kind k, pass p) {
  acc a;
  memset(&a, 0, sizeof a);
  switch (p) {
  case P_SUM:
  case P_SSD:
  case P_SEXP: break; /* zero */
  case P_PROD:
    if (k == K_F32 || k == K_F64) a.d = 1;
    else if (k == K_C64) a.c = 1;
    else a.u = 1;
    break;
  case P_MAX:
  case P_MIN: {
    bool mx = p == P_MAX;
    if (k == K_F32) a.f = mx ? -INFINITY : INFINITY;
    else if (k == K_F64) a.d = mx ? -INFINITY : INFINITY;
    else if (k == K_I64) a.i = mx ? INT64_MIN : INT64_MAX;
    else if (k == K_U64) a.u = mx ? 0 : UINT64_MAX;
    else if (k == K_C64) a.c = mx ? c64_make(-INFINITY, -INFINITY) : c64_make(INFINITY, INFINITY);
    break;
  }
  case P_AND: a.b = 1; break;
  case P_OR: a.b = 0; break;
  }
  return a;
}

static bool c_isnan(cd_t z) { return isnan(creal(z)) || isnan(cimag(z)); }

/* Lexicographic order on complex numbers (as MLX and NumPy). */
static bool c_greater(cd_t a, cd_t b) {
  return creal(a) > creal(b) || (creal(a) == creal(b) && cimag(a) > cimag(b));
}

/* Combines one value (of the accumulator's own type) into an accumulator:
 * used for tails, partial blocks and the generic kinds. */
static void acc_merge(kind k, pass p, acc *a, acc v) {
  switch (p) {
  case P_SUM:
  case P_SSD:
  case P_SEXP:
    /* Only integer sums accumulate in integers: the squared deviations
     * and exp sums of var/std/logsumexp are doubles for every kind. */
    if ((k == K_I64 || k == K_U64) && p == P_SUM) a->u += v.u;
    else if (k == K_C64 && p == P_SUM) a->c += v.c;
    else a->d += v.d;
    break;
  case P_PROD:
    if (k == K_I64 || k == K_U64) a->u *= v.u;
    else if (k == K_C64) a->c *= v.c;
    else a->d *= v.d;
    break;
  case P_MAX:
  case P_MIN: {
    bool mx = p == P_MAX;
    switch (k) {
    case K_F32:
      if ((mx ? v.f > a->f : v.f < a->f) || v.f != v.f) a->f = v.f;
      break;
    case K_F64:
      if ((mx ? v.d > a->d : v.d < a->d) || v.d != v.d) a->d = v.d;
      break;
    case K_I64:
      if (mx ? v.i > a->i : v.i < a->i) a->i = v.i;
      break;
    case K_U64:
      if (mx ? v.u > a->u : v.u < a->u) a->u = v.u;
      break;
    case K_C64:
      if (c_isnan(a->c)) break;
      if (c_isnan(v.c) || (mx ? c_greater(v.c, a->c) : c_greater(a->c, v.c))) a->c = v.c;
      break;
    case K_BOOL: break;
    }
    break;
  }
  case P_AND: a->b &= v.b; break;
  case P_OR: a->b |= v.b; break;
  }
}

/* Reduces n contiguous scratch-typed values into `a`. `c` is the center
 * (SSD, SEXP); cc its complex form. */
static void run_direct(kind k, pass p, acc *a, const void *data, int64_t n, double c, cd_t cc) {
  if (n <= 0) return;
  acc v;
  switch (k) {
  case K_F32: {
    const float *x = data;
    if (p == P_SUM) {
      a->d += run_sum_f32(x, n);
    } else if (p == P_MAX || p == P_MIN) {
      v.f = run_maxmin_f32(x, n, p == P_MAX, p == P_MAX ? -INFINITY : INFINITY);
      acc_merge(k, p, a, v);
    } else if (p == P_SEXP) {
      a->d += run_sexp_f32(x, n, (float)c);
    } else if (p == P_SSD) {
      a->d += run_ssd_f32(x, n, (float)c);
    } else { /* PROD */
      double s = a->d;
      for (int64_t i = 0; i < n; i++) s *= x[i];
      a->d = s;
    }
    return;
  }
  case K_F64: {
    const double *x = data;
    if (p == P_SUM) {
      double s[4] = {0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += x[i + j];
      for (; i < n; i++) s[0] += x[i];
      a->d += (s[0] + s[1]) + (s[2] + s[3]);
    } else if (p == P_SSD) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += (x[i] - c) * (x[i] - c);
      a->d += s;
    } else if (p == P_SEXP) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += exp(x[i] - c);
      a->d += s;
    } else {
      for (int64_t i = 0; i < n; i++) {
        v.d = x[i];
        acc_merge(k, p, a, v);
      }
    }
    return;
  }
  case K_I64:
  case K_U64: {
    const uint64_t *x = data;
    if (p == P_SUM) {
      uint64_t s = a->u;
      for (int64_t i = 0; i < n; i++) s += x[i];
      a->u = s;
    } else if (p == P_SSD) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) {
        double d = (k == K_I64 ? (double)(int64_t)x[i] : (double)x[i]) - c;
        s += d * d;
      }
      a->d += s;
    } else {
      for (int64_t i = 0; i < n; i++) {
        v.u = x[i];
        acc_merge(k, p, a, v);
      }
    }
    return;
  }
  case K_C64: {
    const c64_t *x = data;
    if (p == P_SSD) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) {
        cd_t d = (cd_t)x[i] - cc;
        s += creal(d) * creal(d) + cimag(d) * cimag(d);
      }
      a->d += s;
    } else {
      for (int64_t i = 0; i < n; i++) {
        v.c = x[i];
        acc_merge(k, p, a, v);
      }
    }
    return;
  }
  case K_BOOL: {
    const uint8_t *x = data;
    if (p == P_AND) {
      if (a->b && memchr(x, 0, (size_t)n)) a->b = 0;
    } else {
      for (int64_t i = 0; i < n && !a->b; i++) a->b |= x[i] != 0;
    }
    return;
  }
  }
}

/* ------------------------------------------------------------ the pass machinery */

typedef struct red_ctx red_ctx;
/* Receives the accumulators of outputs [o0, o0 + n). */
typedef void (*emit_fn)(red_ctx *c, int64_t o0, int64_t n, const acc *a);

struct red_ctx {
  plan pl;
  const char *x; /* element 0 of the input (plan base applied) */
  mx_dtype t;
  size_t tsize;
  kind k;
  pass p;
  pass p1;               /* the first pass, when fused */
  const double *center;  /* per output (SSD, SEXP) */
  const cd_t *ccenter;   /* complex SSD */
  emit_fn emit;
  /* block-split row loop */
  int64_t nblk;
  acc *partial;
  /* column loop */
  int64_t K, kstride, kouter, nkb, nrb, rb;
  /* output side */
  int op;
  mx_array out;
  int ddof;
  atomic_int failed; /* a task could not get scratch memory */
  double *mean_out;
  cd_t *cmean_out;
};

static inline double ctr(const red_ctx *c, int64_t o) { return c->center ? c->center[o] : 0; }
static inline cd_t cctr(const red_ctx *c, int64_t o) { return c->ccenter ? c->ccenter[o] : 0; }

/* Reduces a strided run of the input into `a`, converting into scratch
 * when the input is not already the kind's type with stride 1. */
static void reduce_run(const red_ctx *c, pass p, acc *a, const char *ptr, int64_t n,
                       int64_t stride, int64_t o) {
  mx_dtype st = kind_dtype(c->k);
  if (stride == 1 && c->t == st) {
    run_direct(c->k, p, a, ptr, n, ctr(c, o), cctr(c, o));
    return;
  }
  _Alignas(64) unsigned char scratch[CHUNK * 16];
  for (int64_t i = 0; i < n; i += CHUNK) {
    int64_t m = n - i < CHUNK ? n - i : CHUNK;
    convert_run(ptr + (size_t)(i * stride) * c->tsize, stride, c->t, scratch, st, m);
    run_direct(c->k, p, a, scratch, m, ctr(c, o), cctr(c, o));
  }
}

/* Reduces flat reduced indices [r0, r1) of output o. */
static void reduce_range(const red_ctx *c, pass p, int64_t o, int64_t r0, int64_t r1, acc *a) {
  const plan *pl = &c->pl;
  if (pl->rn == 0) return;
  int64_t ko = kept_offset(pl, o);
  while (r0 < r1) {
    int64_t outer = r0 / pl->rn, j = r0 % pl->rn;
    int64_t len = pl->rn - j < r1 - r0 ? pl->rn - j : r1 - r0;
    int64_t off = ko + red_offset(pl, outer, 1) + j * pl->rs;
    reduce_run(c, p, a, c->x + (size_t)off * c->tsize, len, pl->rs, o);
    r0 += len;
  }
}

static void row_task(void *vc, int64_t o0, int64_t o1) {
  red_ctx *c = vc;
  acc buf[256];
  for (int64_t o = o0; o < o1; o += 256) {
    int64_t m = o1 - o < 256 ? o1 - o : 256;
    for (int64_t i = 0; i < m; i++) {
      buf[i] = acc_init(c->k, c->p);
      reduce_range(c, c->p, o + i, 0, c->pl.nred, &buf[i]);
    }
    c->emit(c, o, m, buf);
  }
}

static void block_task(void *vc, int64_t t0, int64_t t1) {
  red_ctx *c = vc;
  for (int64_t t = t0; t < t1; t++) {
    int64_t o = t / c->nblk, b = t % c->nblk;
    int64_t r0 = b * BLOCK, r1 = r0 + BLOCK < c->pl.nred ? r0 + BLOCK : c->pl.nred;
    c->partial[t] = acc_init(c->k, c->p);
    reduce_range(c, c->p, o, r0, r1, &c->partial[t]);
  }
}

static void block_combine(void *vc, int64_t o0, int64_t o1) {
  red_ctx *c = vc;
  for (int64_t o = o0; o < o1; o++) {
    acc a = c->partial[o * c->nblk];
    for (int64_t b = 1; b < c->nblk; b++) acc_merge(c->k, c->p, &a, c->partial[o * c->nblk + b]);
    c->emit(c, o, 1, &a);
  }
}

/* ---- column loop: typed accumulator vectors ---- */

static size_t col_elem(kind k, pass p) {
  switch (k) {
  case K_F32: return (p == P_MAX || p == P_MIN) ? 4 : 8;
  case K_C64: return p == P_SSD ? 8 : 16;
  case K_BOOL: return 1;
  default: return 8;
  }
}

#define COL_ADD_F32(name, attr)                                                          \
  attr static void name(double *restrict a, const float *restrict x, int64_t n) {        \
    for (int64_t j = 0; j < n; j++) a[j] += (double)x[j];                                \
  }
COL_ADD_F32(col_add_f32_def, )
COL_ADD_F32(col_add_f32_avx2, __attribute__((target("avx2"))))
COL_ADD_F32(col_add_f32_avx512, __attribute__((target("avx512f"))))

static void col_init(kind k, pass p, void *v, int64_t n) {
  acc a = acc_init(k, p);
  size_t es = col_elem(k, p);
  for (int64_t j = 0; j < n; j++) memcpy((char *)v + (size_t)j * es, &a, es);
}

static acc col_get(kind k, pass p, const void *v, int64_t j) {
  acc a;
  memset(&a, 0, sizeof a);
  size_t es = col_elem(k, p);
  memcpy(&a, (const char *)v + (size_t)j * es, es);
  return a;
}

/* Combines n scratch-typed values elementwise into the accumulator vector;
 * output j's center is center[j]. */
static void col_combine(kind k, pass p, void *v, const void *data, int64_t n,
                        const double *center, const cd_t *ccenter) {
  switch (k) {
  case K_F32: {
    const float *x = data;
    if (p == P_SUM) {
      const cpu_features *cf = cpu_get_features();
      if (cf->avx512f) col_add_f32_avx512(v, x, n);
      else if (cf->avx2) col_add_f32_avx2(v, x, n);
      else col_add_f32_def(v, x, n);
      return;
    }
    if (p == P_MAX || p == P_MIN) {
      float *a = v;
      bool mx = p == P_MAX;
      for (int64_t j = 0; j < n; j++)
        if ((mx ? x[j] > a[j] : x[j] < a[j]) || x[j] != x[j]) a[j] = x[j];
      return;
    }
    double *a = v;
    if (p == P_PROD)
      for (int64_t j = 0; j < n; j++) a[j] *= x[j];
    else if (p == P_SSD)
      for (int64_t j = 0; j < n; j++) {
        double d = (double)x[j] - center[j];
        a[j] += d * d;
      }
    else
      for (int64_t j = 0; j < n; j++) a[j] += exp((double)x[j] - center[j]);
    return;
  }
  case K_F64: {
    const double *x = data;
    double *a = v;
    if (p == P_SUM) {
      for (int64_t j = 0; j < n; j++) a[j] += x[j];
    } else if (p == P_PROD) {
      for (int64_t j = 0; j < n; j++) a[j] *= x[j];
    } else if (p == P_SSD) {
      for (int64_t j = 0; j < n; j++) a[j] += (x[j] - center[j]) * (x[j] - center[j]);
    } else if (p == P_SEXP) {
      for (int64_t j = 0; j < n; j++) a[j] += exp(x[j] - center[j]);
    } else {
      bool mx = p == P_MAX;
      for (int64_t j = 0; j < n; j++)
        if ((mx ? x[j] > a[j] : x[j] < a[j]) || x[j] != x[j]) a[j] = x[j];
    }
    return;
  }
  case K_I64:
  case K_U64: {
    const uint64_t *x = data;
    if (p == P_SUM) {
      uint64_t *a = v;
      for (int64_t j = 0; j < n; j++) a[j] += x[j];
    } else if (p == P_PROD) {
      uint64_t *a = v;
      for (int64_t j = 0; j < n; j++) a[j] *= x[j];
    } else if (p == P_SSD) {
      double *a = v;
      for (int64_t j = 0; j < n; j++) {
        double d = (k == K_I64 ? (double)(int64_t)x[j] : (double)x[j]) - center[j];
        a[j] += d * d;
      }
    } else if (k == K_I64) {
      int64_t *a = v;
      const int64_t *xs = data;
      bool mx = p == P_MAX;
      for (int64_t j = 0; j < n; j++)
        if (mx ? xs[j] > a[j] : xs[j] < a[j]) a[j] = xs[j];
    } else {
      uint64_t *a = v;
      bool mx = p == P_MAX;
      for (int64_t j = 0; j < n; j++)
        if (mx ? x[j] > a[j] : x[j] < a[j]) a[j] = x[j];
    }
    return;
  }
  case K_C64: {
    const c64_t *x = data;
    if (p == P_SSD) {
      double *a = v;
      for (int64_t j = 0; j < n; j++) {
        cd_t d = (cd_t)x[j] - ccenter[j];
        a[j] += creal(d) * creal(d) + cimag(d) * cimag(d);
      }
      return;
    }
    cd_t *a = v;
    for (int64_t j = 0; j < n; j++) {
      acc t, e;
      t.c = a[j];
      e.c = x[j];
      acc_merge(k, p, &t, e);
      a[j] = t.c;
    }
    return;
  }
  case K_BOOL: {
    const uint8_t *x = data;
    uint8_t *a = v;
    if (p == P_AND)
      for (int64_t j = 0; j < n; j++) a[j] &= x[j];
    else
      for (int64_t j = 0; j < n; j++) a[j] |= x[j];
    return;
  }
  }
}

/* Column task t covers outer kept index ko, column block kb, row block rb. */
static void col_task(void *vc, int64_t t0, int64_t t1) {
  red_ctx *c = vc;
  const plan *p = &c->pl;
  mx_dtype st = kind_dtype(c->k);
  int64_t w = c->K < COLS ? c->K : COLS;
  unsigned char *accv = malloc((size_t)w * 16), *scratch = malloc((size_t)w * 16);
  acc *out = malloc((size_t)w * sizeof(acc));
  if (!accv || !scratch || !out) {
    atomic_store(&c->failed, 1);
    t1 = t0;
  }
  for (int64_t t = t0; t < t1; t++) {
    int64_t rb = t % c->nrb, kb = (t / c->nrb) % c->nkb, ko = t / (c->nrb * c->nkb);
    int64_t j0 = kb * COLS, n = c->K - j0 < COLS ? c->K - j0 : COLS;
    int64_t o0 = ko * c->K + j0;
    int64_t nrows = p->nred, r0 = rb * c->rb, r1 = r0 + c->rb < nrows ? r0 + c->rb : nrows;
    /* kept offset of the outer kept dims: the innermost kept dim is the
     * column run, so strip it off o0. */
    int64_t base = kept_offset(p, o0);
    col_init(c->k, c->p, accv, n);
    const double *cen = c->center ? c->center + o0 : NULL;
    const cd_t *ccen = c->ccenter ? c->ccenter + o0 : NULL;
    for (int64_t r = r0; r < r1; r++) {
      const char *ptr = c->x + (size_t)(base + red_offset(p, r, 0)) * c->tsize;
      if (c->kstride == 1 && c->t == st) {
        col_combine(c->k, c->p, accv, ptr, n, cen, ccen);
      } else {
        convert_run(ptr, c->kstride, c->t, scratch, st, n);
        col_combine(c->k, c->p, accv, scratch, n, cen, ccen);
      }
    }
    for (int64_t j = 0; j < n; j++) out[j] = col_get(c->k, c->p, accv, j);
    if (c->nrb == 1) {
      c->emit(c, o0, n, out);
    } else {
      /* partial layout: [output][row block] */
      for (int64_t j = 0; j < n; j++) c->partial[(o0 + j) * c->nrb + rb] = out[j];
    }
  }
  free(accv);
  free(scratch);
  free(out);
}

static void col_combine_task(void *vc, int64_t o0, int64_t o1) {
  red_ctx *c = vc;
  for (int64_t o = o0; o < o1; o++) {
    acc a = c->partial[o * c->nrb];
    for (int64_t b = 1; b < c->nrb; b++) acc_merge(c->k, c->p, &a, c->partial[o * c->nrb + b]);
    c->emit(c, o, 1, &a);
  }
}

static void emit_mean(red_ctx *c, int64_t o0, int64_t n, const acc *a);
static void emit_max(red_ctx *c, int64_t o0, int64_t n, const acc *a);

/* Two-pass ops (var, logsumexp) on rows short enough to stay in cache:
 * both passes per output back to back, so memory is read once. */
static void fused_task(void *vc, int64_t o0, int64_t o1) {
  red_ctx *c = vc;
  for (int64_t o = o0; o < o1; o++) {
    acc a = acc_init(c->k, c->p1);
    reduce_range(c, c->p1, o, 0, c->pl.nred, &a);
    if (c->p1 == P_MAX) emit_max(c, o, 1, &a);
    else emit_mean(c, o, 1, &a);
    acc b = acc_init(c->k, c->p);
    reduce_range(c, c->p, o, 0, c->pl.nred, &b);
    c->emit(c, o, 1, &b);
  }
}

/* Runs one pass over all outputs; returns MX_OK or MX_ERR_OOM. */
/* The column loop: the innermost kept dim is denser than the innermost
 * reduced one, so whole runs of outputs advance together. */
static bool use_column(const plan *pl) {
  int64_t Kin = pl->nk ? pl->kshape[pl->nk - 1] : 1;
  int64_t ks = pl->nk ? pl->kstride[pl->nk - 1] : 0;
  uint64_t aks = ks < 0 ? (uint64_t)(-ks) : (uint64_t)ks;
  return pl->nk >= 1 && pl->nr >= 1 && pl->rs != 1 && Kin >= 8 && pl->nred > 0 &&
         (pl->rs == 0 || aks < (uint64_t)pl->rs);
}

static mx_status run_pass(red_ctx *c, pass p) {
  plan *pl = &c->pl;
  c->p = p;
  c->partial = NULL;
  int64_t total = pl->nout * (pl->nred ? pl->nred : 1);
  int64_t Kin = pl->nk ? pl->kshape[pl->nk - 1] : 1;
  int64_t ks = pl->nk ? pl->kstride[pl->nk - 1] : 0;
  if (use_column(pl)) {
    c->K = Kin;
    c->kstride = ks;
    c->kouter = pl->nout / Kin;
    c->nkb = (Kin + COLS - 1) / COLS;
    c->nrb = 1;
    /* Few column tasks and many rows: split rows too (a fixed function of
     * the shape, so the summation order does not follow the thread count). */
    if (c->kouter * c->nkb < 16 && pl->nred * (Kin < COLS ? Kin : COLS) >= 2 * BLOCK) {
      int64_t want = pl->nred * (Kin < COLS ? Kin : COLS) / BLOCK;
      c->nrb = want < 16 ? want : 16;
    }
    c->rb = (pl->nred + c->nrb - 1) / c->nrb;
    if (c->nrb > 1) {
      c->partial = malloc((size_t)(pl->nout * c->nrb) * sizeof(acc));
      if (!c->partial) return set_error(MX_ERR_OOM, "reduce: out of memory for partial results");
    }
    int64_t ntask = c->kouter * c->nkb * c->nrb;
    parallel_for(ntask, total < SMALL_WORK ? ntask : 1, col_task, c);
    if (atomic_load(&c->failed)) {
      free(c->partial);
      c->partial = NULL;
      return set_error(MX_ERR_OOM, "reduce: out of memory for column accumulators");
    }
    if (c->nrb > 1) {
      parallel_for(pl->nout, 4096, col_combine_task, c);
      free(c->partial);
      c->partial = NULL;
    }
    return MX_OK;
  }
  if (pl->nout < 64 && pl->nred >= 2 * BLOCK) {
    c->nblk = (pl->nred + BLOCK - 1) / BLOCK;
    c->partial = malloc((size_t)(pl->nout * c->nblk) * sizeof(acc));
    if (!c->partial) return set_error(MX_ERR_OOM, "reduce: out of memory for partial results");
    parallel_for(pl->nout * c->nblk, 1, block_task, c);
    block_combine(c, 0, pl->nout);
    free(c->partial);
    c->partial = NULL;
    return MX_OK;
  }
  int64_t per = pl->nred ? pl->nred : 1;
  parallel_for(pl->nout, per >= SMALL_WORK ? 1 : SMALL_WORK / per, row_task, c);
  return MX_OK;
}

/* ------------------------------------------------------------ outputs */

/* The dtype a sum lands in before mean's division (MLX sums ints to
 * int32/uint32/int64/uint64 with wrap-around). */
static void int_sum_wrap(mx_dtype t, acc *a) {
  switch (t) {
  case MX_BOOL:
  case MX_INT8:
  case MX_INT16:
  case MX_INT32: a->i = (int32_t)(uint32_t)a->u; break;
  case MX_UINT8:
  case MX_UINT16:
  case MX_UINT32: a->i = (int64_t)(uint32_t)a->u; break;
  default: break;
  }
}

static double acc_real(kind k, pass p, const acc *a) {
  switch (k) {
  case K_F32: return (p == P_MAX || p == P_MIN) ? a->f : a->d;
  case K_F64: return a->d;
  case K_I64: return (double)a->i;
  case K_U64: return (double)a->u;
  default: return a->d;
  }
}

static void emit_chunk(red_ctx *c, int64_t o0, int64_t n, const acc *a) {
  mx_dtype ot = c->out->dtype;
  char *dst = (char *)array_ptr(c->out) + (size_t)o0 * mx_dtype_size(ot);
  double nred = (double)c->pl.nred;
  union {
    double d[256];
    float f[256];
    int64_t i[256];
    uint64_t u[256];
    c64_t z[256];
    uint8_t b[256];
  } buf;
  mx_dtype bt;
  switch (c->op) {
  case RED_SUM:
  case RED_PROD:
  case RED_MAX:
  case RED_MIN:
    switch (c->k) {
    case K_F32:
      if (c->op == RED_MAX || c->op == RED_MIN) {
        for (int64_t i = 0; i < n; i++) buf.f[i] = a[i].f;
        bt = MX_FLOAT32;
      } else {
        for (int64_t i = 0; i < n; i++) buf.d[i] = a[i].d;
        bt = MX_FLOAT64;
      }
      break;
    case K_F64:
      for (int64_t i = 0; i < n; i++) buf.d[i] = a[i].d;
      bt = MX_FLOAT64;
      break;
    case K_I64:
    case K_U64:
      for (int64_t i = 0; i < n; i++) buf.u[i] = a[i].u;
      bt = c->k == K_I64 ? MX_INT64 : MX_UINT64;
      break;
    case K_C64:
      for (int64_t i = 0; i < n; i++) buf.z[i] = (c64_t)a[i].c;
      bt = MX_COMPLEX64;
      break;
    default:
      for (int64_t i = 0; i < n; i++) buf.b[i] = a[i].b;
      bt = MX_BOOL;
      break;
    }
    break;
  case RED_ALL:
  case RED_ANY:
    for (int64_t i = 0; i < n; i++) buf.b[i] = a[i].b;
    bt = MX_BOOL;
    break;
  case RED_MEAN:
    if (c->k == K_C64) {
      for (int64_t i = 0; i < n; i++) buf.z[i] = (c64_t)(a[i].c * (1.0 / nred));
      bt = MX_COMPLEX64;
    } else {
      for (int64_t i = 0; i < n; i++) {
        acc t = a[i];
        if (c->k == K_I64) int_sum_wrap(c->t, &t);
        buf.d[i] = acc_real(c->k, P_SUM, &t) * (1.0 / nred);
      }
      bt = MX_FLOAT64;
    }
    break;
  case RED_VAR:
  case RED_STD:
    for (int64_t i = 0; i < n; i++) {
      double v = a[i].d;
      if (c->ddof != 0) {
        double den = nred - c->ddof;
        v = v / (den > 0 ? den : 0);
      } else {
        v = v * (1.0 / nred);
      }
      buf.d[i] = c->op == RED_STD ? sqrt(v) : v;
    }
    bt = MX_FLOAT64;
    break;
  case RED_LOGSUMEXP:
    for (int64_t i = 0; i < n; i++) {
      double m = c->center[o0 + i];
      buf.d[i] = (isinf(m) || isnan(m)) ? m : m + log(a[i].d);
    }
    bt = MX_FLOAT64;
    break;
  default: return;
  }
  convert_run(&buf, 1, bt, dst, ot, n);
}

static void emit_final(red_ctx *c, int64_t o0, int64_t n, const acc *a) {
  for (int64_t i = 0; i < n; i += 256) emit_chunk(c, o0 + i, n - i < 256 ? n - i : 256, a + i);
}

/* Pass-1 emitters: the center of each output. */
static void emit_mean(red_ctx *c, int64_t o0, int64_t n, const acc *a) {
  double inv = 1.0 / (double)c->pl.nred;
  for (int64_t i = 0; i < n; i++) {
    if (c->k == K_C64) c->cmean_out[o0 + i] = a[i].c * inv;
    else c->mean_out[o0 + i] = acc_real(c->k, P_SUM, &a[i]) * inv;
  }
}

static void emit_max(red_ctx *c, int64_t o0, int64_t n, const acc *a) {
  for (int64_t i = 0; i < n; i++) c->mean_out[o0 + i] = acc_real(c->k, P_MAX, &a[i]);
}

/* ------------------------------------------------------------ median */

#define SWAP(T, a, b) \
  do {                \
    T t_ = (a);       \
    (a) = (b);        \
    (b) = t_;         \
  } while (0)

/* Quickselect: afterwards v[k] is the k-th smallest and v[0..k) <= v[k].
 * Median-of-three pivots; a sort finishes ranges that keep resisting. */
#define DEF_SELECT(name, T, LESS, CMPFN)                                       \
  static int CMPFN(const void *pa, const void *pb) {                          \
    T a = *(const T *)pa, b = *(const T *)pb;                                  \
    return LESS(a, b) ? -1 : LESS(b, a) ? 1 : 0;                               \
  }                                                                            \
  static void name(T *v, int64_t n, int64_t k) {                               \
    int64_t lo = 0, hi = n - 1;                                                \
    int budget = 64;                                                           \
    while (hi > lo) {                                                          \
      if (--budget == 0) {                                                     \
        qsort(v + lo, (size_t)(hi - lo + 1), sizeof(T), CMPFN);                \
        return;                                                                \
      }                                                                        \
      int64_t mid = lo + (hi - lo) / 2;                                        \
      if (LESS(v[mid], v[lo])) SWAP(T, v[mid], v[lo]);                         \
      if (LESS(v[hi], v[lo])) SWAP(T, v[hi], v[lo]);                           \
      if (LESS(v[hi], v[mid])) SWAP(T, v[hi], v[mid]);                         \
      T piv = v[mid];                                                          \
      int64_t i = lo, j = hi;                                                  \
      while (i <= j) {                                                         \
        while (LESS(v[i], piv)) i++;                                           \
        while (LESS(piv, v[j])) j--;                                           \
        if (i <= j) {                                                          \
          SWAP(T, v[i], v[j]);                                                 \
          i++;                                                                 \
          j--;                                                                 \
        }                                                                      \
      }                                                                        \
      if (k <= j) hi = j;                                                      \
      else if (k >= i) lo = i;                                                 \
      else return;                                                             \
    }                                                                          \
  }                                                                            \
  /* Max of v[0..k): the lower middle element once v[k] is selected. */       \
  static T name##_below(const T *v, int64_t k) {                               \
    T m = v[0];                                                                \
    for (int64_t q = 1; q < k; q++)                                            \
      if (LESS(m, v[q])) m = v[q];                                             \
    return m;                                                                  \
  }

#define LESS_NUM(a, b) ((a) < (b))
#define LESS_CPLX(a, b) (crealf(a) < crealf(b) || (crealf(a) == crealf(b) && cimagf(a) < cimagf(b)))
DEF_SELECT(select_f32, float, LESS_NUM, cmp_f32)
DEF_SELECT(select_f64, double, LESS_NUM, cmp_f64)
DEF_SELECT(select_i64, int64_t, LESS_NUM, cmp_i64)
DEF_SELECT(select_u64, uint64_t, LESS_NUM, cmp_u64)
DEF_SELECT(select_c64, c64_t, LESS_CPLX, cmp_c64)

typedef struct median_ctx {
  plan pl;
  const char *x;
  mx_dtype t;
  size_t tsize;
  kind k;
  mx_array out;
  atomic_int failed;
} median_ctx;

static void median_task(void *vc, int64_t o0, int64_t o1) {
  median_ctx *c = vc;
  const plan *p = &c->pl;
  int64_t n = p->nred;
  mx_dtype st = kind_dtype(c->k);
  size_t es = mx_dtype_size(st);
  void *v = malloc((size_t)n * es);
  if (!v) {
    atomic_store(&c->failed, 1);
    return;
  }
  mx_dtype ot = c->out->dtype;
  for (int64_t o = o0; o < o1; o++) {
    int64_t ko = kept_offset(p, o);
    for (int64_t r = 0; r < n; r += p->rn) {
      int64_t off = ko + red_offset(p, r / p->rn, 1);
      convert_run(c->x + (size_t)off * c->tsize, p->rs, c->t, (char *)v + (size_t)r * es, st,
                  p->rn);
    }
    int64_t k = n / 2;
    bool even = n % 2 == 0;
    char *dst = (char *)array_ptr(c->out) + (size_t)o * mx_dtype_size(ot);
    if (c->k == K_C64) {
      c64_t *z = v, res;
      bool nan = false;
      for (int64_t i = 0; i < n && !nan; i++) nan = isnan(crealf(z[i])) || isnan(cimagf(z[i]));
      if (nan) {
        res = c64_make(NAN, 0);
      } else {
        select_c64(z, n, k);
        res = z[k];
        if (even) res = (c64_t)(((cd_t)res + (cd_t)select_c64_below(z, k)) * 0.5);
      }
      convert_run(&res, 1, MX_COMPLEX64, dst, ot, 1);
      continue;
    }
    double res;
    if (c->k == K_F32 || c->k == K_F64) {
      bool nan = false;
      if (c->k == K_F32) {
        const float *f = v;
        for (int64_t i = 0; i < n && !nan; i++) nan = f[i] != f[i];
      } else {
        const double *f = v;
        for (int64_t i = 0; i < n && !nan; i++) nan = f[i] != f[i];
      }
      if (nan) {
        res = NAN;
      } else if (c->k == K_F32) {
        float *f = v;
        select_f32(f, n, k);
        res = even ? ((double)f[k] + select_f32_below(f, k)) * 0.5 : f[k];
      } else {
        double *f = v;
        select_f64(f, n, k);
        res = even ? (f[k] + select_f64_below(f, k)) * 0.5 : f[k];
      }
    } else if (c->k == K_I64) {
      int64_t *q = v;
      select_i64(q, n, k);
      res = even ? ((double)q[k] + (double)select_i64_below(q, k)) * 0.5
                 : (double)q[k];
    } else {
      uint64_t *q = v;
      select_u64(q, n, k);
      res = even ? ((double)q[k] + (double)select_u64_below(q, k)) * 0.5
                 : (double)q[k];
    }
    convert_run(&res, 1, MX_FLOAT64, dst, ot, 1);
  }
  free(v);
}

/* ------------------------------------------------------------ kernel */

mx_status cpu_reduce(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const reduce_params *rp = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;

  red_ctx c;
  memset(&c, 0, sizeof c);
  reduce_plan_build(x, rp->axes, rp->naxes, &c.pl);
  c.x = (const char *)array_ptr(x) + (ptrdiff_t)c.pl.base * (ptrdiff_t)mx_dtype_size(x->dtype);
  c.t = x->dtype;
  c.tsize = mx_dtype_size(x->dtype);
  c.k = kind_of(x->dtype);
  c.op = rp->op;
  c.out = out;
  c.ddof = rp->ddof;
  atomic_init(&c.failed, 0);

  if (rp->op == RED_MEDIAN) {
    median_ctx m;
    memset(&m, 0, sizeof m);
    m.pl = c.pl;
    m.x = c.x;
    m.t = c.t;
    m.tsize = c.tsize;
    m.k = c.k;
    m.out = out;
    atomic_init(&m.failed, 0);
    int64_t per = c.pl.nred ? c.pl.nred : 1;
    parallel_for(c.pl.nout, per >= SMALL_WORK ? 1 : SMALL_WORK / per, median_task, &m);
    if (atomic_load(&m.failed))
      return set_error(MX_ERR_OOM, "median: out of memory for a scratch row of %lld elements",
                       (long long)c.pl.nred);
    return MX_OK;
  }

  /* Reducing only size-1 axes: each output is its input element, converted
   * (MLX's no-op reductions are casts too). */
  if (c.pl.nred == 1 && rp->op <= RED_MEAN) {
    copy_to_row_major(array_ptr(x), x->dtype, x->shape, x->strides, x->ndim, array_ptr(out),
                      out->dtype);
    return MX_OK;
  }

  static const pass simple[] = {[RED_SUM] = P_SUM, [RED_PROD] = P_PROD, [RED_MAX] = P_MAX,
                                [RED_MIN] = P_MIN, [RED_ALL] = P_AND,   [RED_ANY] = P_OR,
                                [RED_MEAN] = P_SUM};
  if (rp->op == RED_ALL || rp->op == RED_ANY) c.k = K_BOOL;
  if (rp->op <= RED_MEAN) {
    c.emit = emit_final;
    return run_pass(&c, simple[rp->op]);
  }

  /* Two passes: a center per output (the mean, or the max), then the sum
   * of squared deviations from it, or of exp(x - max). */
  size_t nout = (size_t)c.pl.nout;
  bool complex_center = c.k == K_C64 && rp->op != RED_LOGSUMEXP;
  void *center = malloc(nout * (complex_center ? sizeof(cd_t) : sizeof(double)));
  if (!center) return set_error(MX_ERR_OOM, "reduce: out of memory for %zu centers", nout);
  if (complex_center) c.cmean_out = center;
  else c.mean_out = center;
  pass p1 = rp->op == RED_LOGSUMEXP ? P_MAX : P_SUM;
  pass p2 = rp->op == RED_LOGSUMEXP ? P_SEXP : P_SSD;
  if (c.pl.nred <= 65536 && !use_column(&c.pl) && !(c.pl.nout < 64 && c.pl.nred >= 2 * BLOCK)) {
    if (complex_center) c.ccenter = center;
    else c.center = center;
    c.p1 = p1;
    c.p = p2;
    c.emit = emit_final;
    int64_t per = c.pl.nred ? c.pl.nred : 1;
    parallel_for(c.pl.nout, per >= SMALL_WORK ? 1 : SMALL_WORK / per, fused_task, &c);
    free(center);
    return MX_OK;
  }
  c.emit = p1 == P_MAX ? emit_max : emit_mean;
  st = run_pass(&c, p1);
  if (st >= 0) {
    if (complex_center) c.ccenter = center;
    else c.center = center;
    c.emit = emit_final;
    st = run_pass(&c, p2);
  }
  free(center);
  return st;
}
