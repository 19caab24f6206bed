/* argreduce.c — argmax / argmin along one axis or over the flattened array
 * on the CPU. uint32 indices; the first occurrence wins ties; as MLX, only
 * a strict improvement replaces the running best, so a NaN never wins
 * unless it comes first (and then nothing replaces it). Contiguous f32
 * runs take an AVX-512 / AVX2 path.
 */
#include <math.h>
#include <string.h>

#include "reduce.h"

#define CHUNK RX_CHUNK
#define SMALL_WORK 32768

typedef struct arg_ctx {
  const char *x;
  mx_dtype t;
  size_t tsize;
  kind k;
  bool is_max;
  /* per-axis form */
  nd_iter kept; /* over the kept dims (one operand: input strides) */
  int64_t n, stride;
  uint32_t *out;
} arg_ctx;

/* Scans n values (scratch of kind k) starting at flat index `base`, keeping
 * the first strict improvement over the running best (as MLX: a NaN never
 * wins unless it comes first, and then nothing replaces it). */
#define ARG_SCAN(T, GREATER)                                   \
  do {                                                         \
    const T *v_ = (const T *)vals;                             \
    T b_;                                                      \
    memcpy(&b_, best, sizeof(T));                              \
    for (int64_t i_ = 0; i_ < n; i_++) {                       \
      bool better_ = is_max ? GREATER(v_[i_], b_) : GREATER(b_, v_[i_]); \
      if (better_) {                                           \
        b_ = v_[i_];                                           \
        *bi = base + i_;                                       \
      }                                                        \
    }                                                          \
    memcpy(best, &b_, sizeof(T));                              \
  } while (0)

#define GT_NUM(a, b) ((a) > (b))
#define GT_CPLX(a, b) (crealf(a) > crealf(b) || (crealf(a) == crealf(b) && cimagf(a) > cimagf(b)))

/* The first index of the largest (smallest) non-NaN value of x[0..n), or
 * -1 when no value beats the start (-inf, +inf for the minimum). Each lane
 * keeps its own first best; lanes tie-break on the lower index. */
__attribute__((target("avx512f"))) static int64_t argbest_f32_avx512(const float *x, int64_t n,
                                                                     bool is_max, float *val) {
  __m512 best = _mm512_set1_ps(is_max ? -INFINITY : INFINITY);
  __m512i bidx = _mm512_set1_epi32(-1), idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                                  11, 12, 13, 14, 15);
  const __m512i step = _mm512_set1_epi32(16);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    __mmask16 m = is_max ? _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ)
                         : _mm512_cmp_ps_mask(v, best, _CMP_LT_OQ);
    best = _mm512_mask_mov_ps(best, m, v);
    bidx = _mm512_mask_mov_epi32(bidx, m, idx);
    idx = _mm512_add_epi32(idx, step);
  }
  float bv[16];
  int32_t bi[16];
  _mm512_storeu_ps(bv, best);
  _mm512_storeu_si512((void *)bi, bidx);
  int64_t r = -1;
  float rv = is_max ? -INFINITY : INFINITY;
  for (int l = 0; l < 16; l++) {
    if (bi[l] < 0) continue;
    if (r < 0 || (is_max ? bv[l] > rv : bv[l] < rv) || (bv[l] == rv && bi[l] < r)) {
      rv = bv[l];
      r = bi[l];
    }
  }
  for (; i < n; i++)
    if (is_max ? x[i] > rv : x[i] < rv) rv = x[i], r = i;
  *val = rv;
  return r;
}

__attribute__((target("avx2"))) static int64_t argbest_f32_avx2(const float *x, int64_t n,
                                                                bool is_max, float *val) {
  __m256 best = _mm256_set1_ps(is_max ? -INFINITY : INFINITY);
  __m256i bidx = _mm256_set1_epi32(-1), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i step = _mm256_set1_epi32(8);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 m = is_max ? _mm256_cmp_ps(v, best, _CMP_GT_OQ) : _mm256_cmp_ps(v, best, _CMP_LT_OQ);
    best = _mm256_blendv_ps(best, v, m);
    bidx = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(bidx), _mm256_castsi256_ps(idx), m));
    idx = _mm256_add_epi32(idx, step);
  }
  float bv[8];
  int32_t bi[8];
  _mm256_storeu_ps(bv, best);
  _mm256_storeu_si256((__m256i *)bi, bidx);
  int64_t r = -1;
  float rv = is_max ? -INFINITY : INFINITY;
  for (int l = 0; l < 8; l++) {
    if (bi[l] < 0) continue;
    if (r < 0 || (is_max ? bv[l] > rv : bv[l] < rv) || (bv[l] == rv && bi[l] < r)) {
      rv = bv[l];
      r = bi[l];
    }
  }
  for (; i < n; i++)
    if (is_max ? x[i] > rv : x[i] < rv) rv = x[i], r = i;
  *val = rv;
  return r;
}

static void arg_scan(kind k, bool is_max, const void *vals, int64_t n, int64_t base, void *best,
                     int64_t *bi) {
  const cpu_features *cf = cpu_get_features();
  if (k == K_F32 && n >= 16 && (cf->avx512f || cf->avx2)) {
    float v, b;
    int64_t r = cf->avx512f ? argbest_f32_avx512(vals, n, is_max, &v)
                            : argbest_f32_avx2(vals, n, is_max, &v);
    memcpy(&b, best, 4);
    if (r >= 0 && (is_max ? v > b : v < b)) {
      memcpy(best, &v, 4);
      *bi = base + r;
    }
    return;
  }
  switch (k) {
  case K_F32: ARG_SCAN(float, GT_NUM); break;
  case K_F64: ARG_SCAN(double, GT_NUM); break;
  case K_I64: ARG_SCAN(int64_t, GT_NUM); break;
  case K_U64: ARG_SCAN(uint64_t, GT_NUM); break;
  case K_C64: ARG_SCAN(c64_t, GT_CPLX); break;
  default: break;
  }
}

/* One strided line of n elements, continuing the running best. */
static void arg_line(const arg_ctx *c, const char *ptr, int64_t n, int64_t stride,
                        int64_t base, unsigned char *best, bool *have, int64_t *bi) {
  mx_dtype st = kind_dtype(c->k);
  size_t es = mx_dtype_size(st);
  _Alignas(64) unsigned char scratch[CHUNK * 16];
  for (int64_t i = 0; i < n; i += CHUNK) {
    int64_t m = n - i < CHUNK ? n - i : CHUNK;
    const void *vals;
    if (stride == 1 && c->t == st) {
      vals = ptr + (size_t)i * es;
    } else {
      convert_run(ptr + (size_t)(i * stride) * c->tsize, stride, c->t, scratch, st, m);
      vals = scratch;
    }
    if (!*have) { /* the first element seeds the best */
      memcpy(best, vals, es);
      *bi = base + i;
      *have = true;
    }
    arg_scan(c->k, c->is_max, vals, m, base + i, best, bi);
  }
}

static void arg_task(void *vc, int64_t o0, int64_t o1) {
  arg_ctx *c = vc;
  for (int64_t o = o0; o < o1; o++) {
    int64_t off;
    nd_iter_offsets(&c->kept, o, &off);
    unsigned char best[16];
    bool have = false;
    int64_t bi = 0;
    arg_line(c, c->x + (size_t)off * c->tsize, c->n, c->stride, 0, best, &have, &bi);
    c->out[o] = (uint32_t)bi;
  }
}

mx_status cpu_argreduce(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const argreduce_params *ap = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  arg_ctx c;
  memset(&c, 0, sizeof c);
  c.x = array_ptr(x);
  c.t = x->dtype;
  c.tsize = mx_dtype_size(x->dtype);
  c.k = kind_of(x->dtype);
  c.is_max = ap->is_max;
  c.out = array_ptr(out);
  if (ap->axis < 0) {
    /* Flattened: walk runs in row-major logical order. */
    nd_iter it;
    const int64_t *sp[1] = {x->strides};
    nd_iter_init(&it, x->shape, x->ndim, sp, 1);
    unsigned char best[16];
    bool have = false;
    int64_t bi = 0;
    for (int64_t r = 0; r < it.outer; r++) {
      int64_t off;
      nd_iter_offsets(&it, r, &off);
      arg_line(&c, c.x + (size_t)off * c.tsize, it.inner, it.inner_stride[0], r * it.inner, best,
               &have, &bi);
    }
    c.out[0] = (uint32_t)bi;
    return MX_OK;
  }
  int64_t kshape[MX_MAX_NDIM], kstride[MX_MAX_NDIM];
  int nk = 0;
  for (int d = 0; d < x->ndim; d++) {
    if (d == ap->axis) continue;
    kshape[nk] = x->shape[d];
    kstride[nk] = x->strides[d];
    nk++;
  }
  const int64_t *sp[1] = {kstride};
  nd_iter_init(&c.kept, kshape, nk, sp, 1);
  /* nd_iter splits off an inner dim; fold it back so one index = one output. */
  c.kept.shape[c.kept.ndim] = c.kept.inner;
  c.kept.strides[0][c.kept.ndim] = c.kept.inner_stride[0];
  c.kept.ndim++;
  c.kept.outer *= c.kept.inner;
  c.n = x->shape[ap->axis];
  c.stride = x->strides[ap->axis];
  int64_t per = c.n ? c.n : 1;
  parallel_for(out->size, per >= SMALL_WORK ? 1 : SMALL_WORK / per, arg_task, &c);
  return MX_OK;
}
