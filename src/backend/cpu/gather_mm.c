/* gather_mm.c — gather_mm on the CPU: out[i] = a[li[i]] @ b[ri[i]].
 *
 * Products are grouped by their right matrix (the expert): every product of
 * one expert becomes a single GEMM whose rows are the stacked left matrices,
 * so each expert's weights stream once per call. With the sorted hint (MoE
 * prefill after mlx-lm's _gather_sort) the groups are the runs of equal
 * rhs indices in order; otherwise a stable counting sort makes them. When a
 * group's left matrices already sit at a constant row stride in memory and
 * its outputs are adjacent (the sorted prefill case), BLAS reads and writes
 * them in place; otherwise rows are packed into scratch.
 *
 * f32 operands whose matrices are row-major or transposed reach BLAS
 * without copies; f16/bf16 (and truly strided) matrices are converted to
 * f32 one matrix at a time, and only the matrices that are selected, so a
 * decode step touches k experts, not all of them. BLAS runs on the kernel's
 * thread (its own pool parallelises), never inside parallel_for. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "gather_mm.h"
#include "matmul.h"

static mx_status oom(void) { return set_error(MX_ERR_OOM, "gather_mm: out of memory"); }

/* One matrix operand: how its matrix number `idx` (over its own flattened
 * batch dims) reaches BLAS. */
typedef struct gm_op {
  mx_array a;
  int64_t R, C, count;
  bool direct, trans; /* f32 in place; trans: stored as the transpose */
  int64_t ld;
  float *scratch; /* R*C floats, for converted / packed matrices */
} gm_op;

static void gm_classify(gm_op *o) {
  mx_array a = o->a;
  int nd = a->ndim;
  int64_t R = o->R, C = o->C, rs = a->strides[nd - 2], cs = a->strides[nd - 1];
  int64_t one_c = C > 1 ? C : 1, one_r = R > 1 ? R : 1;
  o->direct = false;
  if (a->dtype != MX_FLOAT32) return;
  /* A size-1 dim's stride is never used: treat it as whatever BLAS wants. */
  if ((C <= 1 || cs == 1) && (R <= 1 || rs >= one_c)) {
    o->direct = true;
    o->trans = false;
    o->ld = R <= 1 ? one_c : rs;
  } else if ((R <= 1 || rs == 1) && (C <= 1 || cs >= one_r)) {
    o->direct = true;
    o->trans = true;
    o->ld = C <= 1 ? one_r : cs;
  }
  if (o->direct && o->ld > INT_MAX) o->direct = false;
}

/* Element offset of matrix idx inside a (its batch dims, row-major). */
static int64_t gm_offset(const gm_op *o, int64_t idx) {
  mx_array a = o->a;
  int64_t off = 0;
  for (int d = a->ndim - 3; d >= 0; d--) {
    int64_t n = a->shape[d];
    off += (idx % n) * a->strides[d];
    idx /= n;
  }
  return off;
}

/* The matrix as f32 for BLAS: in place, or converted into scratch. */
static const float *gm_matrix(gm_op *o, int64_t idx, bool *trans, int64_t *ld) {
  mx_array a = o->a;
  int64_t off = gm_offset(o, idx);
  if (o->direct) {
    *trans = o->trans;
    *ld = o->ld;
    return (const float *)array_ptr(a) + off;
  }
  int nd = a->ndim;
  int64_t shape[2] = {o->R, o->C}, st[2] = {a->strides[nd - 2], a->strides[nd - 1]};
  const char *src = (const char *)array_ptr(a) + off * (int64_t)mx_dtype_size(a->dtype);
  copy_to_row_major(src, a->dtype, shape, st, 2, o->scratch, MX_FLOAT32);
  *trans = false;
  *ld = o->C > 1 ? o->C : 1;
  return o->scratch;
}

/* C (M x N, row stride ldc) = op(A) (M x K) @ op(B) (K x N). */
static void gm_gemm(int64_t M, int64_t N, int64_t K, const float *A, bool ta, int64_t lda,
                    const float *B, bool tb, int64_t ldb, float *Cp, int64_t ldc) {
  if (M == 1) {
    /* A vector times a matrix: gemv streams the matrix once (OpenBLAS
     * takes its blocked GEMM path for M == 1). */
    int64_t incx = ta ? lda : 1;
    if (tb) /* B stored (N x K): y = Bs x */
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, B, (int)ldb, A, (int)incx,
                  0.0f, Cp, 1);
    else /* B stored (K x N): y = Bs^T x */
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0f, B, (int)ldb, A, (int)incx,
                  0.0f, Cp, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, 0.0f, Cp, (int)ldc);
}

typedef struct gm_work {
  gm_op A, B;
  int64_t M, N, K;
  const uint32_t *li;
  float *Y;          /* out as f32, (L, M, N) */
  float *Xe, *Ye;    /* packed rows of one group: (cnt*M, K), (cnt*M, N) */
} gm_work;

/* One group: products prod[0..cnt) that all use right matrix e. */
static void gm_group(gm_work *w, int64_t e, const int64_t *prod, int64_t cnt) {
  int64_t M = w->M, N = w->N, K = w->K;
  bool tb;
  int64_t ldb;
  const float *Bm = gm_matrix(&w->B, e, &tb, &ldb);
  int64_t rows = cnt * M;

  /* Left side in place: f32 matrices at a constant stride that continues
   * the row stride (for M == 1 any constant stride >= K); a lone matrix
   * may also be transposed. */
  bool a_inplace = w->A.direct && (!w->A.trans || cnt == 1);
  bool ta = a_inplace && w->A.trans;
  int64_t lda = w->A.ld;
  const float *Ap = NULL;
  if (a_inplace) {
    int64_t o0 = gm_offset(&w->A, w->li[prod[0]]);
    Ap = (const float *)array_ptr(w->A.a) + o0;
    if (cnt > 1) {
      int64_t d = gm_offset(&w->A, w->li[prod[1]]) - o0;
      a_inplace = M == 1 ? (d >= (K > 1 ? K : 1) && d <= INT_MAX) : d == M * w->A.ld;
      if (M == 1) lda = d;
      for (int64_t j = 2; j < cnt && a_inplace; j++)
        a_inplace = gm_offset(&w->A, w->li[prod[j]]) - gm_offset(&w->A, w->li[prod[j - 1]]) == d;
    }
  }
  if (!a_inplace) {
    for (int64_t j = 0; j < cnt; j++) {
      bool t;
      int64_t ld;
      const float *m = gm_matrix(&w->A, w->li[prod[j]], &t, &ld);
      float *dst = w->Xe + j * M * K;
      if (!t && ld == K) {
        memcpy(dst, m, (size_t)(M * K) * sizeof(float));
      } else {
        int64_t shape[2] = {M, K}, st[2] = {t ? 1 : ld, t ? ld : 1};
        copy_to_row_major(m, MX_FLOAT32, shape, st, 2, dst, MX_FLOAT32);
      }
    }
    Ap = w->Xe;
    ta = false;
    lda = K > 1 ? K : 1;
  }

  /* Outputs in place when the products are adjacent. */
  bool y_inplace = true;
  for (int64_t j = 1; j < cnt && y_inplace; j++) y_inplace = prod[j] == prod[0] + j;
  float *Cp = y_inplace ? w->Y + prod[0] * M * N : w->Ye;
  gm_gemm(rows, N, K, Ap, ta, lda, Bm, tb, ldb, Cp, N);
  if (!y_inplace)
    for (int64_t j = 0; j < cnt; j++)
      memcpy(w->Y + prod[j] * M * N, w->Ye + j * M * N, (size_t)(M * N) * sizeof(float));
}

mx_status cpu_gather_mm(mx_array out, mx_array const *in, int nin, const void *params) {
  const gather_mm_params *p = params;
  (void)nin;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array a = in[0], b = in[1], lhs = in[2], rhs = in[3];
  gm_work w = {0};
  w.M = a->shape[a->ndim - 2];
  w.K = a->shape[a->ndim - 1];
  w.N = b->shape[b->ndim - 1];
  int64_t M = w.M, N = w.N, K = w.K, L = lhs->size;
  w.A = (gm_op){.a = a, .R = M, .C = K, .count = shape_size(a->shape, a->ndim - 2)};
  w.B = (gm_op){.a = b, .R = K, .C = N, .count = shape_size(b->shape, b->ndim - 2)};
  size_t ibytes = (size_t)L * sizeof(uint32_t);
  /* order (L) + group starts (L + 1 when sorted, E + 1 for the sort). */
  size_t obytes = (size_t)(L + (p->sorted ? L : w.B.count) + 1) * sizeof(int64_t);
  size_t ybytes = (size_t)out->size * sizeof(float);
  uint32_t *li = mx_alloc(ibytes), *ri = mx_alloc(ibytes);
  int64_t *order = NULL;
  float *Y = out->dtype == MX_FLOAT32 ? array_ptr(out) : mx_alloc(ybytes);
  size_t xbytes = 0, abytes = (size_t)(M * K) * sizeof(float), bbytes = (size_t)(K * N) * sizeof(float);
  if (!li || !ri || !Y) {
    st = oom();
    goto done;
  }
  array_copy_to_row_major(lhs, li, MX_UINT32);
  array_copy_to_row_major(rhs, ri, MX_UINT32);
  for (int64_t i = 0; i < L; i++) {
    if (li[i] >= (uint64_t)w.A.count || ri[i] >= (uint64_t)w.B.count) {
      st = set_error(MX_ERR_INVALID_ARG,
                     "gather_mm: index out of range at %lld (lhs %u of %lld, rhs %u of %lld)",
                     (long long)i, li[i], (long long)w.A.count, ri[i], (long long)w.B.count);
      goto done;
    }
  }
  if (K == 0) {
    memset(Y, 0, ybytes);
    goto done;
  }
  w.li = li;
  w.Y = Y;
  gm_classify(&w.A);
  gm_classify(&w.B);
  order = mx_alloc(obytes);
  if (!order) {
    st = oom();
    goto done;
  }
  /* Groups: start[g]..start[g+1] of order[], expert ex[g]. */
  int64_t *start = order + L, ngroups = 0, maxcnt = 0;
  if (p->sorted) {
    /* Runs of equal rhs indices in order (a wrong hint only gives more,
     * smaller groups). Expert ids are re-read from ri[order[start[g]]]. */
    for (int64_t i = 0; i < L; i++) {
      order[i] = i;
      if (i == 0 || ri[i] != ri[i - 1]) start[ngroups++] = i;
    }
    start[ngroups] = L;
  } else {
    /* Stable counting sort by expert; empty experts are dropped after. */
    int64_t E = w.B.count;
    memset(start, 0, (size_t)(E + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < L; i++) start[ri[i] + 1]++;
    for (int64_t e = 0; e < E; e++) start[e + 1] += start[e];
    for (int64_t i = 0; i < L; i++) order[start[ri[i]]++] = i;
    /* start[e] now ends group e; rebuild the boundaries of non-empty ones. */
    int64_t prev = 0;
    ngroups = 0;
    for (int64_t e = 0; e < E; e++) {
      if (start[e] == prev) continue;
      int64_t end = start[e];
      start[ngroups++] = prev;
      prev = end;
    }
    start[ngroups] = L;
  }
  for (int64_t g = 0; g < ngroups; g++)
    if (start[g + 1] - start[g] > maxcnt) maxcnt = start[g + 1] - start[g];
  xbytes = (size_t)(maxcnt * M) * (size_t)(K > N ? K : N) * sizeof(float);
  w.Xe = mx_alloc(xbytes);
  w.Ye = mx_alloc(xbytes);
  w.A.scratch = w.A.direct ? NULL : mx_alloc(abytes);
  w.B.scratch = w.B.direct ? NULL : mx_alloc(bbytes);
  if (!w.Xe || !w.Ye || (!w.A.direct && !w.A.scratch) || (!w.B.direct && !w.B.scratch)) {
    st = oom();
    goto done;
  }
  blas_init_threads();
  for (int64_t g = 0; g < ngroups; g++)
    gm_group(&w, ri[order[start[g]]], order + start[g], start[g + 1] - start[g]);
done:
  if (w.Xe) mx_free(w.Xe, xbytes);
  if (w.Ye) mx_free(w.Ye, xbytes);
  if (w.A.scratch) mx_free(w.A.scratch, abytes);
  if (w.B.scratch) mx_free(w.B.scratch, bbytes);
  if (order) mx_free(order, obytes);
  if (li) mx_free(li, ibytes);
  if (ri) mx_free(ri, ibytes);
  if (Y && Y != array_ptr(out)) {
    if (st == MX_OK) convert_run(Y, 1, MX_FLOAT32, array_ptr(out), out->dtype, out->size);
    mx_free(Y, ybytes);
  }
  return st;
}
