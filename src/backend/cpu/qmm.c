/* qmm.c — quantized_matmul and gather_qmm on the CPU.
 *
 * Three paths, by the number of activation rows R sharing one weight matrix:
 * - decode (R <= 8, affine, x @ W^T): f32 activations against weights
 *   dequantized in registers (qmm_simd.c), output columns split across the
 *   pool; each weight byte is read once.
 * - small R otherwise (fp modes, no SIMD): each task dequantizes one weight
 *   row to f32 in L1/L2 and dots it with the R rows (still one pass).
 * - prefill (R > 8) and x @ W: dequantize a panel of W to f32 (parallel),
 *   then cblas_sgemm on it. Dequantizing is O(N K) against O(R N K) flops,
 *   so at R = 512 the panel costs well under 1% of the GEMM.
 * All paths accumulate in f32 and round once to the output dtype. */
#include <cblas.h>
#include <immintrin.h>
#include <string.h>

#include "matmul.h"
#include "quantized.h"

#define DECODE_MAX_ROWS 8

/* ------------------------------------------------------------ decode */

typedef struct dec_ctx {
  const qact *a;
  const qmat *m;
  qmm_isa isa;
  float *Y;
  int64_t ldy;
  const float *X; /* f32 path */
  atomic_int oom;
} dec_ctx;

static void dec_range(void *vctx, int64_t n0, int64_t n1) {
  dec_ctx *c = vctx;
  size_t nf = (size_t)QMM_SCRATCH(c->m);
  float *scratch = mx_alloc(nf * sizeof(float));
  if (!scratch) {
    atomic_store(&c->oom, 1);
    return;
  }
  qmm_decode_rows(c->a, c->m, c->isa, c->Y, c->ldy, n0, n1, scratch);
  mx_free(scratch, nf * sizeof(float));
}

static void rowdot_range(void *vctx, int64_t n0, int64_t n1) {
  dec_ctx *c = vctx;
  const int64_t K = c->m->cols, R = c->a->rows;
  float *row = mx_alloc((size_t)K * sizeof(float));
  if (!row) {
    atomic_store(&c->oom, 1);
    return;
  }
  for (int64_t n = n0; n < n1; n++) {
    qmat_dequant_row(c->m, n, row);
    for (int64_t r = 0; r < R; r++) {
      const float *x = c->X + r * K;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t k = 0;
      for (; k + 4 <= K; k += 4) {
        s0 += x[k] * row[k];
        s1 += x[k + 1] * row[k + 1];
        s2 += x[k + 2] * row[k + 2];
        s3 += x[k + 3] * row[k + 3];
      }
      for (; k < K; k++) s0 += x[k] * row[k];
      c->Y[r * c->ldy + n] = (s0 + s1) + (s2 + s3);
    }
  }
  mx_free(row, (size_t)K * sizeof(float));
}

static mx_status oom(void) { return set_error(MX_ERR_OOM, "quantized_matmul: out of memory"); }

/* ------------------------------------------------------------ panels */

/* AVX2 affine rows, 4- and 8-bit, for the panels: each value is s * q + b
 * as one multiply and one add of the same operands as qmat_dequant_row's
 * scalar loop, so panels are bit-identical to it. "fma" is left out of the
 * target so the compiler cannot fuse the two (one rounding, not two). The
 * scalar loop stays the reference (MLXC_QMM_ISA=none selects it). */
#define PANEL_ATTR __attribute__((target("avx2")))

/* Inlined into the AVX2 rows: an out-of-line (SSE-encoded) call from AVX
 * code with live upper halves ran the rows 5-10x slower. */
static inline __attribute__((always_inline)) PANEL_ATTR float panel_scale(const void *s, mx_dtype t,
                                                                           int64_t i) {
  switch (t) {
    case MX_FLOAT16: return f16_to_f32(((const uint16_t *)s)[i]);
    case MX_BFLOAT16: return bf16_to_f32(((const uint16_t *)s)[i]);
    default: return ((const float *)s)[i];
  }
}

static PANEL_ATTR void affine_row4_avx2(const qmat *m, int64_t r, float *dst) {
  const int gs = m->group_size;
  const int64_t ng = m->cols / gs, g0 = r * ng;
  const uint8_t *w = m->w + r * m->row_bytes;
  const __m128i m4 = _mm_set1_epi8(15);
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t *wg = w + g * (gs / 2);
    float *d = dst + g * gs;
    __m256 s = _mm256_set1_ps(panel_scale(m->scales, m->sdtype, g0 + g));
    __m256 b = _mm256_set1_ps(panel_scale(m->biases, m->sdtype, g0 + g));
    for (int j = 0; j < gs; j += 32) {
      /* Value 2i is the low nibble of byte i, value 2i+1 its high nibble. */
      __m128i v = _mm_loadu_si128((const __m128i *)(wg + j / 2));
      __m128i lo = _mm_and_si128(v, m4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);
      __m128i q0 = _mm_unpacklo_epi8(lo, hi), q1 = _mm_unpackhi_epi8(lo, hi);
      __m256 f[4] = {_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q0)),
                     _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q0, 8))),
                     _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q1)),
                     _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q1, 8)))};
      for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(d + j + 8 * k, _mm256_add_ps(_mm256_mul_ps(s, f[k]), b));
    }
  }
}

static PANEL_ATTR void affine_row8_avx2(const qmat *m, int64_t r, float *dst) {
  const int gs = m->group_size;
  const int64_t ng = m->cols / gs, g0 = r * ng;
  const uint8_t *w = m->w + r * m->row_bytes;
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t *wg = w + g * gs;
    float *d = dst + g * gs;
    __m256 s = _mm256_set1_ps(panel_scale(m->scales, m->sdtype, g0 + g));
    __m256 b = _mm256_set1_ps(panel_scale(m->biases, m->sdtype, g0 + g));
    for (int j = 0; j < gs; j += 8) {
      __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(wg + j))));
      _mm256_storeu_ps(d + j, _mm256_add_ps(_mm256_mul_ps(s, f), b));
    }
  }
}

#undef PANEL_ATTR

typedef void (*row_fn)(const qmat *m, int64_t r, float *dst);

/* The fastest bit-identical row dequantizer for m. */
static row_fn panel_row_fn(const qmat *m) {
  if (m->mode == MX_QUANT_AFFINE && qmm_pick_isa() != QMM_ISA_NONE) {
    if (m->bits == 4 && m->group_size % 32 == 0) return affine_row4_avx2;
    if (m->bits == 8 && m->group_size % 8 == 0) return affine_row8_avx2;
  }
  return qmat_dequant_row;
}

typedef struct panel_ctx {
  const qmat *m;
  row_fn fn;
  int64_t r0;
  float *P;
} panel_ctx;

static void panel_range(void *vctx, int64_t i0, int64_t i1) {
  const panel_ctx *c = vctx;
  for (int64_t i = i0; i < i1; i++) c->fn(c->m, c->r0 + i, c->P + i * c->m->cols);
}

/* Rows of W per f32 panel: about 4 MB of panel, a multiple of 16. */
static int64_t panel_rows(const qmat *m) {
  int64_t nb = ((int64_t)1 << 20) / (m->cols ? m->cols : 1);
  nb = nb < 16 ? 16 : (nb / 16) * 16;
  return nb > m->rows ? m->rows : nb;
}

mx_status qmm_nt(const float *X, int64_t R, const qmat *m, float *Y, int64_t ldy) {
  const int64_t N = m->rows, K = m->cols;
  if (R == 0 || N == 0) return MX_OK;
  if (K == 0) {
    for (int64_t r = 0; r < R; r++) memset(Y + r * ldy, 0, (size_t)N * sizeof(float));
    return MX_OK;
  }
  if (R <= DECODE_MAX_ROWS) {
    qmm_isa isa = qmm_pick_isa();
    qact a = {R, K, 0, NULL, NULL};
    dec_ctx c = {&a, m, isa, Y, ldy, X, 0};
    /* ~64 KB of weights per task keeps scheduling overhead negligible. */
    int64_t grain = (65536 / (m->row_bytes ? m->row_bytes : 1)) + 1;
    if (isa != QMM_ISA_NONE && qmm_decode_supported(m)) {
      a.Kp = qact_kpad(m);
      size_t nbytes = (size_t)(R * (a.Kp + K / m->group_size)) * sizeof(float);
      float *buf = mx_alloc(nbytes);
      if (!buf) return oom();
      a.xt = buf;
      a.xsum = buf + R * a.Kp;
      qact_prepare(&a, X, m);
      parallel_for(N, grain, dec_range, &c);
      mx_free(buf, nbytes);
    } else {
      parallel_for(N, grain, rowdot_range, &c);
    }
    return atomic_load(&c.oom) ? oom() : MX_OK;
  }
  int64_t nb = panel_rows(m);
  row_fn fn = panel_row_fn(m);
  size_t pbytes = (size_t)(nb * K) * sizeof(float);
  float *P = mx_alloc(pbytes);
  if (!P) return oom();
  blas_init_threads();
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    int64_t cnt = N - n0 < nb ? N - n0 : nb;
    panel_ctx pc = {m, fn, n0, P};
    parallel_for(cnt, 4, panel_range, &pc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)cnt, (int)K, 1.0f, X,
                (int)K, P, (int)K, 0.0f, Y + n0, (int)ldy);
  }
  mx_free(P, pbytes);
  return MX_OK;
}

mx_status qmm_nn(const float *X, int64_t R, const qmat *m, float *Y, int64_t ldy) {
  const int64_t K = m->rows, N = m->cols;
  if (R == 0 || N == 0) return MX_OK;
  if (K == 0) {
    for (int64_t r = 0; r < R; r++) memset(Y + r * ldy, 0, (size_t)N * sizeof(float));
    return MX_OK;
  }
  int64_t kb = panel_rows(m);
  row_fn fn = panel_row_fn(m);
  size_t pbytes = (size_t)(kb * N) * sizeof(float);
  float *P = mx_alloc(pbytes);
  if (!P) return oom();
  blas_init_threads();
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    int64_t cnt = K - k0 < kb ? K - k0 : kb;
    panel_ctx pc = {m, fn, k0, P};
    parallel_for(cnt, 4, panel_range, &pc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)N, (int)cnt, 1.0f, X + k0,
                (int)K, P, (int)N, k0 ? 1.0f : 0.0f, Y, (int)ldy);
  }
  mx_free(P, pbytes);
  return MX_OK;
}

/* ------------------------------------------------------------ operands */

/* A quantized operand (w, scales or biases) whose matrices are dense
 * row-major: `ptr` + batch strides in elements (a copy if the last two dims
 * are not dense). */
typedef struct operand {
  mx_array a;
  void *ptr;
  bool owned;
  size_t bytes;
} operand;

static bool mat_dense(mx_array a) {
  if (a->ndim < 2) return a->row_contiguous;
  int n = a->ndim;
  return (a->shape[n - 1] <= 1 || a->strides[n - 1] == 1) &&
         (a->shape[n - 2] <= 1 || a->strides[n - 2] == a->shape[n - 1]);
}

static bool operand_open(operand *o, mx_array a) {
  o->a = a;
  o->owned = false;
  if (mat_dense(a)) {
    o->ptr = array_ptr(a);
    return true;
  }
  o->bytes = (size_t)(a->size ? a->size : 1) * mx_dtype_size(a->dtype);
  o->ptr = mx_alloc(o->bytes);
  if (!o->ptr) return false;
  array_copy_to_row_major(a, o->ptr, a->dtype);
  o->owned = true;
  return true;
}

static void operand_close(operand *o) {
  if (o->owned) mx_free(o->ptr, o->bytes);
}

/* Element offset of matrix number `b` (row-major over `bshape`, nb dims)
 * inside operand o, whose batch dims align with the last nb of bshape. */
static int64_t operand_batch_offset(const operand *o, const int64_t *bshape, int nb, int64_t b) {
  mx_array a = o->a;
  int an = a->ndim - 2;
  if (an <= 0) return 0;
  int64_t rm[MX_MAX_NDIM];
  if (o->owned) row_major_strides(a->shape, a->ndim, rm);
  const int64_t *st = o->owned ? rm : a->strides;
  int64_t off = 0;
  for (int d = nb - 1; d >= 0; d--) {
    int64_t idx = b % bshape[d];
    b /= bshape[d];
    int ad = an - (nb - d);
    if (ad >= 0 && a->shape[ad] != 1) off += idx * st[ad];
  }
  return off;
}

static void qmat_fill(qmat *q, const operand *w, const operand *s, const operand *b, int64_t wo,
                      int64_t so, const quant_params *p, bool nt_rows_from_w) {
  (void)nt_rows_from_w;
  mx_array wa = w->a;
  int64_t words = wa->ndim ? wa->shape[wa->ndim - 1] : 0;
  q->w = (const uint8_t *)((const uint32_t *)w->ptr + wo);
  q->sdtype = s->a->dtype;
  q->scales = (const char *)s->ptr + so * (int64_t)mx_dtype_size(s->a->dtype);
  q->biases = b ? (const char *)b->ptr + so * (int64_t)mx_dtype_size(b->a->dtype) : NULL;
  q->rows = wa->ndim >= 2 ? wa->shape[wa->ndim - 2] : 1;
  q->cols = words * 32 / p->bits;
  q->row_bytes = words * 4;
  q->bits = p->bits;
  q->group_size = p->group_size;
  q->mode = p->mode;
}

static mx_status finish_out(mx_array out, float *Y) {
  if (out->dtype != MX_FLOAT32) {
    convert_run(Y, 1, MX_FLOAT32, array_ptr(out), out->dtype, out->size);
    mx_free(Y, (size_t)out->size * sizeof(float));
  }
  return MX_OK;
}

/* ------------------------------------------------------------ quantized_matmul */

mx_status cpu_quantized_matmul(mx_array out, mx_array const *in, int nin, const void *params) {
  const quant_params *p = params;
  (void)nin;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array x = in[0];
  bool affine = p->mode == MX_QUANT_AFFINE;
  int64_t K = x->shape[x->ndim - 1];
  int64_t M = x->ndim >= 2 ? x->shape[x->ndim - 2] : 1;
  int64_t N = out->shape[out->ndim - 1];
  int64_t B = out->size / (M * N);
  float *X = mx_alloc((size_t)(x->size ? x->size : 1) * sizeof(float));
  float *Y = out->dtype == MX_FLOAT32 ? array_ptr(out)
                                      : mx_alloc((size_t)out->size * sizeof(float));
  operand ow = {0}, os = {0}, ob = {0};
  bool ok = X && Y && operand_open(&ow, in[1]) && operand_open(&os, in[2]) &&
            (!affine || operand_open(&ob, in[3]));
  if (ok) {
    array_copy_to_row_major(x, X, MX_FLOAT32);
    int nb = out->ndim - 2 > 0 ? out->ndim - 2 : 0;
    int64_t xb = x->size / (M * K);
    for (int64_t b = 0; b < B && st == MX_OK; b++) {
      qmat q;
      int64_t wo = operand_batch_offset(&ow, out->shape, nb, b);
      int64_t so = operand_batch_offset(&os, out->shape, nb, b);
      qmat_fill(&q, &ow, &os, affine ? &ob : NULL, wo, so, p, true);
      if (affine && ob.a) q.biases = (const char *)ob.ptr +
                                     operand_batch_offset(&ob, out->shape, nb, b) *
                                         (int64_t)mx_dtype_size(ob.a->dtype);
      const float *xp = X + (xb > 1 ? b : 0) * M * K;
      st = p->transpose ? qmm_nt(xp, M, &q, Y + b * M * N, N) : qmm_nn(xp, M, &q, Y + b * M * N, N);
    }
  } else {
    st = oom();
  }
  operand_close(&ow);
  operand_close(&os);
  operand_close(&ob);
  if (X) mx_free(X, (size_t)(x->size ? x->size : 1) * sizeof(float));
  if (!Y) return st;
  if (st < 0) {
    if (Y != array_ptr(out)) mx_free(Y, (size_t)out->size * sizeof(float));
    return st;
  }
  return Y == array_ptr(out) ? MX_OK : finish_out(out, Y);
}

/* ------------------------------------------------------------ gather_qmm */

mx_status cpu_gather_qmm(mx_array out, mx_array const *in, int nin, const void *params) {
  const quant_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  bool affine = p->mode == MX_QUANT_AFFINE;
  mx_array x = in[0], w = in[1], lhs = in[nin - 2], rhs = in[nin - 1];
  int64_t K = x->shape[x->ndim - 1], M = x->shape[x->ndim - 2];
  int64_t N = out->shape[out->ndim - 1];
  int64_t L = lhs->size;
  int64_t nx = x->size / (M * K);
  int64_t ne = w->size / (w->shape[w->ndim - 1] * w->shape[w->ndim - 2]);
  size_t xbytes = (size_t)(x->size ? x->size : 1) * sizeof(float);
  size_t ibytes = (size_t)(L ? L : 1) * sizeof(uint32_t);
  float *X = mx_alloc(xbytes);
  uint32_t *li = mx_alloc(ibytes), *ri = mx_alloc(ibytes);
  int64_t *order = mx_alloc((size_t)(L + ne + 1) * sizeof(int64_t));
  float *Y = out->dtype == MX_FLOAT32 ? array_ptr(out)
                                      : mx_alloc((size_t)out->size * sizeof(float));
  operand ow = {0}, os = {0}, ob = {0};
  float *Xe = NULL, *Ye = NULL;
  size_t ebytes = 0;
  bool ok = X && li && ri && order && Y && operand_open(&ow, w) && operand_open(&os, in[2]) &&
            (!affine || operand_open(&ob, in[3]));
  if (!ok) {
    st = oom();
    goto done;
  }
  array_copy_to_row_major(x, X, MX_FLOAT32);
  array_copy_to_row_major(lhs, li, MX_UINT32);
  array_copy_to_row_major(rhs, ri, MX_UINT32);
  for (int64_t i = 0; i < L; i++) {
    if (li[i] >= (uint64_t)nx || ri[i] >= (uint64_t)ne) {
      st = set_error(MX_ERR_INVALID_ARG,
                     "gather_qmm: index out of range at %lld (lhs %u of %lld, rhs %u of %lld)",
                     (long long)i, li[i], (long long)nx, ri[i], (long long)ne);
      goto done;
    }
  }
  /* Bucket the products by expert (counting sort, stable): all rows that
   * use one expert become one matmul, so its weights stream once. With
   * sorted indices the buckets are already runs; the sort is O(L). */
  int64_t *start = order + L;
  memset(start, 0, (size_t)(ne + 1) * sizeof(int64_t));
  for (int64_t i = 0; i < L; i++) start[ri[i] + 1]++;
  for (int64_t e = 0; e < ne; e++) start[e + 1] += start[e];
  int64_t maxcnt = 0;
  for (int64_t e = 0; e < ne; e++)
    if (start[e + 1] - start[e] > maxcnt) maxcnt = start[e + 1] - start[e];
  {
    int64_t *fill = mx_alloc((size_t)(ne ? ne : 1) * sizeof(int64_t));
    if (!fill) {
      st = oom();
      goto done;
    }
    memcpy(fill, start, (size_t)ne * sizeof(int64_t));
    for (int64_t i = 0; i < L; i++) order[fill[ri[i]]++] = i;
    mx_free(fill, (size_t)(ne ? ne : 1) * sizeof(int64_t));
  }
  ebytes = (size_t)(maxcnt * M) * (size_t)(K > N ? K : N) * sizeof(float);
  Xe = mx_alloc(ebytes ? ebytes : 1);
  Ye = mx_alloc(ebytes ? ebytes : 1);
  if (!Xe || !Ye) {
    st = oom();
    goto done;
  }
  int64_t wshape[MX_MAX_NDIM];
  int wnb = w->ndim - 2;
  memcpy(wshape, w->shape, (size_t)wnb * sizeof(int64_t));
  for (int64_t e = 0; e < ne && st == MX_OK; e++) {
    int64_t c0 = start[e], cnt = start[e + 1] - c0;
    if (cnt == 0) continue;
    for (int64_t j = 0; j < cnt; j++)
      memcpy(Xe + j * M * K, X + (int64_t)li[order[c0 + j]] * M * K, (size_t)(M * K) * sizeof(float));
    qmat q;
    int64_t wo = operand_batch_offset(&ow, wshape, wnb, e);
    int64_t so = operand_batch_offset(&os, wshape, wnb, e);
    qmat_fill(&q, &ow, &os, affine ? &ob : NULL, wo, so, p, true);
    if (affine)
      q.biases = (const char *)ob.ptr +
                 operand_batch_offset(&ob, wshape, wnb, e) * (int64_t)mx_dtype_size(ob.a->dtype);
    st = p->transpose ? qmm_nt(Xe, cnt * M, &q, Ye, N) : qmm_nn(Xe, cnt * M, &q, Ye, N);
    for (int64_t j = 0; j < cnt && st == MX_OK; j++)
      memcpy(Y + order[c0 + j] * M * N, Ye + j * M * N, (size_t)(M * N) * sizeof(float));
  }
done:
  operand_close(&ow);
  operand_close(&os);
  operand_close(&ob);
  if (Xe) mx_free(Xe, ebytes ? ebytes : 1);
  if (Ye) mx_free(Ye, ebytes ? ebytes : 1);
  if (X) mx_free(X, xbytes);
  if (li) mx_free(li, ibytes);
  if (ri) mx_free(ri, ibytes);
  if (order) mx_free(order, (size_t)(L + ne + 1) * sizeof(int64_t));
  if (!Y) return st;
  if (st < 0) {
    if (Y != array_ptr(out)) mx_free(Y, (size_t)out->size * sizeof(float));
    return st;
  }
  return Y == array_ptr(out) ? MX_OK : finish_out(out, Y);
}
