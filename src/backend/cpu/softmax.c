/* softmax.c — softmax over any set of axes on the CPU.
 *
 * Each "row" (one index of the kept dims) holds the elements of the reduced
 * dims. The hot case — f32 rows contiguous in input and output, the last
 * axis — runs three passes over a row that stays in L1/L2 (max, exp and
 * sum, scale), so memory sees one read and one write per element. Other
 * dtypes and layouts gather the row into an f32 (f64 for float64) buffer,
 * compute there and scatter back, rounding once.
 */
#include <math.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reduce.h"

/* ------------------------------------------------------------ f32 rows */

/* e: where pass 2 keeps the exps (y itself, or an L1-resident scratch row
 * when the output is streamed past the caches with non-temporal stores,
 * which saves the read-for-ownership of every output line). */
__attribute__((target("avx512f"))) static void row_f32_avx512(const float *x, float *y,
                                                              int64_t n, float *e, bool nt) {
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
    m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    m2 = _mm512_max_ps(m2, _mm512_loadu_ps(x + i + 32));
    m3 = _mm512_max_ps(m3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    m0 = _mm512_mask_max_ps(m0, k, m0, _mm512_maskz_loadu_ps(k, x + i));
  }
  /* A NaN element is skipped by max but makes its exp, and so the sum and
   * every output, NaN: as MLX. */
  float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  __m512 vm = _mm512_set1_ps(mx), s0 = _mm512_setzero_ps(), s1 = s0;
  i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 e0 = rx_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    __m512 e1 = rx_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
    _mm512_storeu_ps(e + i, e0);
    _mm512_storeu_ps(e + i + 16, e1);
    s0 = _mm512_add_ps(s0, e0);
    s1 = _mm512_add_ps(s1, e1);
  }
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 ev = rx_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm));
    _mm512_mask_storeu_ps(e + i, k, ev);
    s0 = _mm512_mask_add_ps(s0, k, s0, ev);
  }
  float invs = 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  __m512 inv = _mm512_set1_ps(invs);
  i = 0;
  if (nt) {
    for (; i < n && ((uintptr_t)(y + i) & 63); i++) y[i] = e[i] * invs;
    for (; i + 16 <= n; i += 16) _mm512_stream_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(e + i), inv));
  }
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(e + i), inv));
  if (i < n) {
    __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, e + i), inv));
  }
}

__attribute__((target("avx2,fma"))) static void row_f32_avx2(const float *x, float *y,
                                                             int64_t n, float *e, bool nt) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(m0, _mm256_loadu_ps(x + i));
    m1 = _mm256_max_ps(m1, _mm256_loadu_ps(x + i + 8));
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_max_ps(m0, m1));
  float mx = -INFINITY;
  for (int j = 0; j < 8; j++) mx = t[j] > mx ? t[j] : mx;
  for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  __m256 vm = _mm256_set1_ps(mx), s0 = _mm256_setzero_ps(), s1 = s0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 e0 = rx_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    __m256 e1 = rx_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
    _mm256_storeu_ps(e + i, e0);
    _mm256_storeu_ps(e + i + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  _mm256_storeu_ps(t, _mm256_add_ps(s0, s1));
  float s = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
  for (; i < n; i++) {
    float ev = expf(x[i] - mx);
    e[i] = ev;
    s += ev;
  }
  float invs = 1.0f / s;
  __m256 inv = _mm256_set1_ps(invs);
  i = 0;
  if (nt) {
    for (; i < n && ((uintptr_t)(y + i) & 31); i++) y[i] = e[i] * invs;
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(e + i), inv));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(e + i), inv));
  for (; i < n; i++) y[i] = e[i] * invs;
}

static void row_f32_scalar(const float *x, float *y, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  float s = 0;
  for (int64_t i = 0; i < n; i++) {
    y[i] = expf(x[i] - mx);
    s += y[i];
  }
  float inv = 1.0f / s;
  for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

/* scratch: NULL, or a row of n floats to stream y through. */
static void row_f32(const float *x, float *y, int64_t n, float *scratch) {
  const cpu_features *cf = cpu_get_features();
  bool nt = scratch != NULL;
  if (cf->avx512f) row_f32_avx512(x, y, n, nt ? scratch : y, nt);
  else if (cf->avx2 && cf->fma) row_f32_avx2(x, y, n, nt ? scratch : y, nt);
  else row_f32_scalar(x, y, n);
}

static void row_f64(double *x, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = exp(x[i] - mx);
    s += x[i];
  }
  double inv = 1.0 / s;
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/* ------------------------------------------------------------ the kernel */

typedef struct sm_ctx {
  const char *x;
  char *y;
  mx_dtype xt, yt, ct; /* input, output, compute (f32 or f64) */
  size_t xs, ys, cs;
  nd_iter kept; /* operands: input, output */
  nd_iter red;  /* operands: input, output */
  int64_t len;
  bool direct; /* f32 in and out, one contiguous run */
  bool stream; /* direct, and the output is too big to stay in cache */
  atomic_int failed;
} sm_ctx;

/* Writes n values of the compute dtype to a strided output run. */
static void scatter(const sm_ctx *c, const char *buf, int64_t n, char *dst, int64_t stride) {
  if (stride == 1) {
    convert_run(buf, 1, c->ct, dst, c->yt, n);
    return;
  }
  unsigned char tmp[256 * 8];
  for (int64_t i = 0; i < n; i += 256) {
    int64_t m = n - i < 256 ? n - i : 256;
    convert_run(buf + (size_t)i * c->cs, 1, c->ct, tmp, c->yt, m);
    for (int64_t j = 0; j < m; j++)
      memcpy(dst + (size_t)((i + j) * stride) * c->ys, tmp + (size_t)j * c->ys, c->ys);
  }
}

#define STREAM_ROW 8192

static void sm_task(void *vc, int64_t r0, int64_t r1) {
  sm_ctx *c = vc;
  _Alignas(64) float srow[STREAM_ROW];
  char *buf = NULL;
  if (!c->direct) {
    buf = malloc((size_t)c->len * c->cs);
    if (!buf) {
      atomic_store(&c->failed, 1);
      return;
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    int64_t ko[2];
    nd_iter_offsets(&c->kept, r, ko);
    if (c->direct) {
      row_f32((const float *)c->x + ko[0], (float *)c->y + ko[1], c->len, c->stream ? srow : NULL);
      continue;
    }
    const nd_iter *it = &c->red;
    for (int64_t q = 0; q < it->outer; q++) {
      int64_t off[2];
      nd_iter_offsets(it, q, off);
      convert_run(c->x + (size_t)(ko[0] + off[0]) * c->xs, it->inner_stride[0], c->xt,
                  buf + (size_t)(q * it->inner) * c->cs, c->ct, it->inner);
    }
    if (c->ct == MX_FLOAT64) row_f64((double *)buf, c->len);
    else row_f32((const float *)buf, (float *)buf, c->len, NULL);
    for (int64_t q = 0; q < it->outer; q++) {
      int64_t off[2];
      nd_iter_offsets(it, q, off);
      scatter(c, buf + (size_t)(q * it->inner) * c->cs, it->inner,
              c->y + (size_t)(ko[1] + off[1]) * c->ys, it->inner_stride[1]);
    }
  }
  free(buf);
  /* Streaming stores are weakly ordered: make them visible before the
   * pool reports this task done. */
  if (c->stream) _mm_sfence();
}

mx_status cpu_softmax(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const softmax_params *sp = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;

  int64_t ostr[MX_MAX_NDIM];
  row_major_strides(out->shape, out->ndim, ostr);
  bool red[MX_MAX_NDIM] = {0};
  for (int i = 0; i < sp->naxes; i++) red[sp->axes[i]] = true;
  int64_t ksh[MX_MAX_NDIM], kxs[MX_MAX_NDIM], kys[MX_MAX_NDIM];
  int64_t rsh[MX_MAX_NDIM], rxs[MX_MAX_NDIM], rys[MX_MAX_NDIM];
  int nk = 0, nr = 0;
  int64_t len = 1;
  for (int d = 0; d < x->ndim; d++) {
    if (red[d]) {
      rsh[nr] = x->shape[d];
      rxs[nr] = x->strides[d];
      rys[nr] = ostr[d];
      nr++;
      len *= x->shape[d];
    } else {
      ksh[nk] = x->shape[d];
      kxs[nk] = x->strides[d];
      kys[nk] = ostr[d];
      nk++;
    }
  }

  sm_ctx c;
  memset(&c, 0, sizeof c);
  c.x = array_ptr(x);
  c.y = array_ptr(out);
  c.xt = x->dtype;
  c.yt = out->dtype;
  c.ct = (x->dtype == MX_FLOAT64 || out->dtype == MX_FLOAT64) ? MX_FLOAT64 : MX_FLOAT32;
  c.xs = mx_dtype_size(c.xt);
  c.ys = mx_dtype_size(c.yt);
  c.cs = mx_dtype_size(c.ct);
  c.len = len;
  atomic_init(&c.failed, 0);
  const int64_t *ks[2] = {kxs, kys}, *rs[2] = {rxs, rys};
  nd_iter_init(&c.kept, ksh, nk, ks, 2);
  nd_iter_init(&c.red, rsh, nr, rs, 2);
  /* Fold the kept iterator's inner dim back: one index = one row. */
  c.kept.shape[c.kept.ndim] = c.kept.inner;
  c.kept.strides[0][c.kept.ndim] = c.kept.inner_stride[0];
  c.kept.strides[1][c.kept.ndim] = c.kept.inner_stride[1];
  c.kept.ndim++;
  int64_t rows = out->size / len;
  c.direct = c.xt == MX_FLOAT32 && c.yt == MX_FLOAT32 && c.red.outer == 1 &&
             (len == 1 || (c.red.inner_stride[0] == 1 && c.red.inner_stride[1] == 1));
  c.stream = c.direct && len <= STREAM_ROW && (cpu_get_features()->avx2 || cpu_get_features()->avx512f) &&
             out->size * 4 >= (32 << 20);
  parallel_for(rows, len >= 32768 ? 1 : 32768 / len, sm_task, &c);
  if (atomic_load(&c.failed))
    return set_error(MX_ERR_OOM, "softmax: out of memory for a row of %lld elements",
                     (long long)len);
  return MX_OK;
}
