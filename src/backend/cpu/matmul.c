/* matmul.c — GEMM kernels (matmul, addmm) on OpenBLAS, the generic einsum
 * loop, and vector / matrix norms.
 *
 * GEMM: operands reach BLAS without copies whenever their last two dims are
 * row-major or transposed with a positive leading stride (CblasTrans / lda);
 * only truly strided operands are packed. Half types are converted to f32
 * (O(MK + KN) work against O(MNK) for the product) and use sgemm, which on
 * CPUs without AVX512-BF16 beats any hand-written half microkernel. BLAS is
 * always called from the kernel's calling thread, never inside a
 * parallel_for task, so OpenBLAS's own pool never nests inside ours. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "matmul.h"

/* LAPACK singular values (OpenBLAS exports LAPACK; Debian ships no
 * lapacke.h with it, so declare the Fortran entry points). */
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info);
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work,
             const int *lwork, int *iwork, int *info);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_set_threads(void) { openblas_set_num_threads(cpu_thread_count()); }
void blas_init_threads(void) { pthread_once(&blas_once, blas_set_threads); }

/* ------------------------------------------------------------ GEMM */

/* How one matrix operand reaches BLAS. */
typedef struct mat_view {
  int64_t rows, cols, rs, cs; /* element strides of the last two dims */
  bool direct;                /* usable in place */
  bool trans;                 /* in place as the transpose of a row-major matrix */
  int64_t ld;
} mat_view;

static void classify(mat_view *m) {
  int64_t rs = m->rs, cs = m->cs;
  /* A size-1 dim's stride is never used: pick the one BLAS wants. */
  if (m->rows <= 1) rs = m->cols > 1 ? m->cols : 1;
  if (m->cols <= 1) cs = 1;
  m->direct = false;
  if (cs == 1 && rs >= (m->cols > 1 ? m->cols : 1)) {
    m->direct = true;
    m->trans = false;
    m->ld = rs;
  } else if (m->rows <= 1 && cs > 0) {
    /* A single strided row: the transpose of a column with ld = cs. */
    m->direct = true;
    m->trans = true;
    m->ld = cs;
  } else if (m->rows > 1 && m->rs == 1 && m->cs >= m->rows) {
    m->direct = true;
    m->trans = true;
    m->ld = m->cs;
  }
  if (m->direct && m->ld > INT_MAX) m->direct = false;
}

/* Strides of the batch dims of `a` (ndim >= 2) aligned to the output's nb
 * batch dims: 0 where a is broadcast. */
static void batch_strides(mx_array a, const int64_t *oshape, int nb, int64_t *st) {
  int lead = nb - (a->ndim - 2);
  for (int d = 0; d < nb; d++) {
    int ad = d - lead;
    st[d] = (ad < 0 || (a->shape[ad] == 1 && oshape[d] != 1)) ? 0 : a->strides[ad];
  }
}

static bool blas_gemv(mx_dtype ct, const mat_view *A, const void *pa, const mat_view *B,
                      const void *pb, void *pc, int64_t M, int64_t N, int64_t K, float alpha,
                      float beta);

static void blas_gemm(mx_dtype ct, const mat_view *A, const void *pa, const mat_view *B,
                      const void *pb, void *pc, int64_t M, int64_t N, int64_t K, float alpha,
                      float beta) {
  enum CBLAS_TRANSPOSE ta = A->trans ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = B->trans ? CblasTrans : CblasNoTrans;
  if ((M == 1 || N == 1) && blas_gemv(ct, A, pa, B, pb, pc, M, N, K, alpha, beta)) return;
  if (ct == MX_FLOAT32) {
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, pa, (int)A->ld, pb,
                (int)B->ld, beta, pc, (int)N);
  } else if (ct == MX_FLOAT64) {
    cblas_dgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, alpha, pa, (int)A->ld, pb,
                (int)B->ld, beta, pc, (int)N);
  } else {
    float al[2] = {alpha, 0}, be[2] = {beta, 0};
    cblas_cgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, al, pa, (int)A->ld, pb,
                (int)B->ld, be, pc, (int)N);
  }
}

/* M == 1 or N == 1: a matrix-vector product. OpenBLAS (0.3.21) runs such
 * GEMMs through its blocked path; gemv streams the matrix once, which is
 * what a decode step's vector @ weight needs. */
static bool blas_gemv(mx_dtype ct, const mat_view *A, const void *pa, const mat_view *B,
                      const void *pb, void *pc, int64_t M, int64_t N, int64_t K, float alpha,
                      float beta) {
  const mat_view *Mt; /* the matrix operand */
  const void *pm, *px;
  int64_t incx;
  bool trans; /* y = op(matrix) x with op = transpose (row-major view) */
  int64_t rows, cols;
  if (M == 1) { /* y (N) = B^T x: B is K x N */
    Mt = B, pm = pb, px = pa;
    incx = A->trans ? A->ld : 1;
    trans = !B->trans;
    rows = B->trans ? N : K;
    cols = B->trans ? K : N;
  } else if (N == 1) { /* y (M) = A x: A is M x K */
    Mt = A, pm = pa, px = pb;
    incx = B->trans ? 1 : B->ld;
    trans = A->trans;
    rows = A->trans ? K : M;
    cols = A->trans ? M : K;
  } else {
    return false;
  }
  if (incx < 1 || incx > INT_MAX) return false;
  enum CBLAS_TRANSPOSE t = trans ? CblasTrans : CblasNoTrans;
  if (ct == MX_FLOAT32) {
    cblas_sgemv(CblasRowMajor, t, (int)rows, (int)cols, alpha, pm, (int)Mt->ld, px, (int)incx,
                beta, pc, 1);
  } else if (ct == MX_FLOAT64) {
    cblas_dgemv(CblasRowMajor, t, (int)rows, (int)cols, alpha, pm, (int)Mt->ld, px, (int)incx,
                beta, pc, 1);
  } else {
    float al[2] = {alpha, 0}, be[2] = {beta, 0};
    cblas_cgemv(CblasRowMajor, t, (int)rows, (int)cols, al, pm, (int)Mt->ld, px, (int)incx, be,
                pc, 1);
  }
  return true;
}

/* Scales n elements of a float or complex buffer by s (addmm with K = 0). */
static void scale_run(void *p, mx_dtype dt, int64_t n, double s) {
  if (dt == MX_COMPLEX64) {
    c64_t *c = p;
    for (int64_t i = 0; i < n; i++) c[i] *= (float)s;
    return;
  }
  for (int64_t i = 0; i < n; i++) store_f64(p, dt, i, load_f64(p, dt, i) * s);
}

static mx_status gemm_run(mx_array out, mx_array a, mx_array b, mx_array c, float alpha,
                          float beta) {
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  const int nd = out->ndim, nb = nd - 2;
  const mx_dtype dt = out->dtype;
  const size_t es = mx_dtype_size(dt);
  int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], K = a->shape[a->ndim - 1];
  char *po = array_ptr(out);

  if (c) {
    int64_t cst[MX_MAX_NDIM];
    broadcast_strides(c, out->shape, nd, cst);
    copy_to_row_major(array_ptr(c), c->dtype, out->shape, cst, nd, po, dt);
  } else {
    beta = 0.0f;
  }
  if (K == 0) {
    if (!c) memset(po, 0, (size_t)out->size * es);
    else if (beta != 1.0f) scale_run(po, dt, out->size, beta);
    return MX_OK;
  }

  int64_t sa[MX_MAX_NDIM], sb[MX_MAX_NDIM];
  batch_strides(a, out->shape, nb, sa);
  batch_strides(b, out->shape, nb, sb);
  int64_t batch = shape_size(out->shape, nb);
  mat_view A = {M, K, a->strides[a->ndim - 2], a->strides[a->ndim - 1], false, false, 0};
  mat_view B = {K, N, b->strides[b->ndim - 2], b->strides[b->ndim - 1], false, false, 0};

  /* A shared right operand: stack the left one's batch into its rows when
   * its batch dims continue the row stride (one big GEMM, as MLX's
   * flatten of a). */
  bool bshared = true;
  for (int d = 0; d < nb; d++) bshared &= sb[d] == 0;
  if (bshared && batch > 1) {
    int64_t rs = A.rs;
    if (M == 1) { /* the row stride is free: take the innermost batch one */
      for (int d = nb - 1; d >= 0; d--)
        if (out->shape[d] != 1) {
          rs = sa[d];
          break;
        }
    }
    int64_t expect = rs * M;
    bool ok = true;
    for (int d = nb - 1; d >= 0 && ok; d--) {
      if (out->shape[d] == 1) continue;
      ok = sa[d] == expect;
      expect *= out->shape[d];
    }
    if (ok && M * batch <= INT_MAX) {
      A.rs = rs;
      A.rows = M = M * batch;
      batch = 1;
    }
  }
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX) {
    char s1[SHAPE_STR_CAP];
    return set_error(MX_ERR_UNSUPPORTED, "matmul: output %s with K=%lld exceeds BLAS's 32-bit sizes",
                     fmt_shape(s1, sizeof s1, out->shape, nd), (long long)K);
  }

  const bool half = dt == MX_FLOAT16 || dt == MX_BFLOAT16;
  const mx_dtype ct = half ? MX_FLOAT32 : dt;
  const size_t cs = mx_dtype_size(ct);
  classify(&A);
  classify(&B);
  bool packA = half || !A.direct, packB = half || !B.direct;
  size_t nA = packA ? (size_t)(M * K) : 0, nB = packB ? (size_t)(K * N) : 0;
  size_t nC = half ? (size_t)(M * N) : 0;
  size_t scratch_bytes = (nA + nB + nC) * cs;
  char *scratch = NULL;
  if (scratch_bytes) {
    scratch = mx_alloc(scratch_bytes);
    if (!scratch) return mx_last_error_code();
  }
  char *sA = scratch, *sB = scratch + nA * cs, *sC = sB + nB * cs;
  mat_view PA = A, PB = B;
  /* A half-precision operand that BLAS could read transposed (a weight
   * W (N, K) used as W.T) is converted in its storage order, which is
   * contiguous and takes the vector conversion path, and handed to BLAS
   * transposed; converting it in logical order would walk it by columns. */
  const bool tA = half && A.direct && A.trans && M > 1, tB = half && B.direct && B.trans && N > 1;
  if (packA) PA = tA ? (mat_view){M, K, 1, M, true, true, M} : (mat_view){M, K, K, 1, true, false, K};
  if (packB) PB = tB ? (mat_view){K, N, 1, K, true, true, K} : (mat_view){K, N, N, 1, true, false, N};

  const char *pa0 = array_ptr(a), *pb0 = array_ptr(b);
  const size_t ea = mx_dtype_size(a->dtype), eb = mx_dtype_size(b->dtype);
  int64_t idx[MX_MAX_NDIM] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t t = 0; t < batch; t++) {
    const char *pa = pa0 + oa * (int64_t)ea, *pb = pb0 + ob * (int64_t)eb;
    if (packA) {
      int64_t sh[2] = {M, K}, str[2] = {A.rs, A.cs};
      int64_t shT[2] = {K, M}, strT[2] = {A.cs, A.rs};
      copy_to_row_major(pa, a->dtype, tA ? shT : sh, tA ? strT : str, 2, sA, ct);
      pa = sA;
    }
    if (packB) {
      int64_t sh[2] = {K, N}, str[2] = {B.rs, B.cs};
      int64_t shT[2] = {N, K}, strT[2] = {B.cs, B.rs};
      copy_to_row_major(pb, b->dtype, tB ? shT : sh, tB ? strT : str, 2, sB, ct);
      pb = sB;
    }
    char *pc = po + (size_t)t * (size_t)(M * N) * es;
    if (half) {
      if (beta != 0.0f) convert_run(pc, 1, dt, sC, ct, M * N);
      blas_gemm(ct, &PA, pa, &PB, pb, sC, M, N, K, alpha, beta);
      convert_run(sC, 1, ct, pc, dt, M * N);
    } else {
      blas_gemm(ct, &PA, pa, &PB, pb, pc, M, N, K, alpha, beta);
    }
    for (int d = nb - 1; d >= 0; d--) { /* next batch index */
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < out->shape[d]) break;
      oa -= sa[d] * idx[d];
      ob -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
  if (scratch) mx_free(scratch, scratch_bytes);
  return MX_OK;
}

mx_status cpu_matmul(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  blas_init_threads();
  return gemm_run(out, in[0], in[1], NULL, 1.0f, 0.0f);
}

mx_status cpu_addmm(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const gemm_params *p = params;
  blas_init_threads();
  return gemm_run(out, in[0], in[1], in[2], p->alpha, p->beta);
}

/* ------------------------------------------------------------ einsum */

typedef struct ein_ctx {
  const einsum_params *p;
  int nops;
  const char *ptr[EIN_MAX_OPS];
  int64_t st[EIN_MAX_OPS][EIN_MAX_IDX]; /* element stride of each index */
  mx_dtype it, ot;                      /* operand and output dtypes */
  char *out;
  int nsum;         /* summed indices nout..nidx-1 */
  int prod_bits;    /* integer products wrap at this width (0: none) */
  bool prod_signed; /* ... sign-extended */
} ein_ctx;

/* Offsets of output element o's operands (odometer from the flat index). */
static void ein_base(const ein_ctx *c, int64_t o, int64_t *off) {
  for (int k = 0; k < c->nops; k++) off[k] = 0;
  for (int i = c->p->nout - 1; i >= 0; i--) {
    int64_t n = c->p->size[i], v = o % n;
    o /= n;
    for (int k = 0; k < c->nops; k++) off[k] += v * c->st[k][i];
  }
}

/* The summed-index walk, shared by every dtype: VISIT(off) is called with
 * the operands' element offsets at each point of the summed space. */
#define EIN_WALK(c, base, VISIT)                                                          \
  do {                                                                                    \
    int64_t off_[EIN_MAX_OPS], cnt_[EIN_MAX_IDX] = {0};                                   \
    const int s0_ = (c)->p->nout, s1_ = (c)->p->nidx;                                     \
    bool empty_ = false;                                                                  \
    for (int i_ = s0_; i_ < s1_; i_++) empty_ |= (c)->p->size[i_] == 0;                   \
    for (int k_ = 0; k_ < (c)->nops; k_++) off_[k_] = (base)[k_];                         \
    while (!empty_) {                                                                     \
      VISIT(off_);                                                                        \
      int i_ = s1_ - 1;                                                                   \
      for (; i_ >= s0_; i_--) {                                                           \
        for (int k_ = 0; k_ < (c)->nops; k_++) off_[k_] += (c)->st[k_][i_];               \
        if (++cnt_[i_] < (c)->p->size[i_]) break;                                         \
        for (int k_ = 0; k_ < (c)->nops; k_++) off_[k_] -= (c)->st[k_][i_] * cnt_[i_];    \
        cnt_[i_] = 0;                                                                     \
      }                                                                                   \
      if (i_ < s0_) break;                                                                \
    }                                                                                     \
  } while (0)

#define EIN_FLOAT_KERNEL(NAME, T, STORE)                                                  \
  static void NAME(void *vc, int64_t begin, int64_t end) {                                \
    const ein_ctx *c = vc;                                                                \
    const T *ops[EIN_MAX_OPS];                                                            \
    for (int k = 0; k < c->nops; k++) ops[k] = (const T *)c->ptr[k];                      \
    for (int64_t o = begin; o < end; o++) {                                               \
      int64_t base[EIN_MAX_OPS];                                                          \
      ein_base(c, o, base);                                                               \
      double acc = 0;                                                                     \
      EIN_WALK(c, base, EIN_VISIT_F);                                                     \
      STORE;                                                                              \
    }                                                                                     \
  }
#define EIN_VISIT_F(off)                                                                  \
  do {                                                                                    \
    double pr = LOADK(0, off);                                                            \
    for (int k = 1; k < c->nops; k++) pr *= LOADK(k, off);                                \
    acc += pr;                                                                            \
  } while (0)

#define LOADK(k, off) ((double)ops[k][off[k]])
EIN_FLOAT_KERNEL(ein_f32, float, ((float *)c->out)[o] = (float)acc)
EIN_FLOAT_KERNEL(ein_f64, double, ((double *)c->out)[o] = acc)
#undef LOADK
#define LOADK(k, off) ((double)f16_to_f32(ops[k][off[k]]))
EIN_FLOAT_KERNEL(ein_f16, uint16_t, ((uint16_t *)c->out)[o] = f32_to_f16((float)acc))
#undef LOADK
#define LOADK(k, off) ((double)bf16_to_f32(ops[k][off[k]]))
EIN_FLOAT_KERNEL(ein_bf16, uint16_t, ((uint16_t *)c->out)[o] = f32_to_bf16((float)acc))
#undef LOADK

static void ein_c64(void *vc, int64_t begin, int64_t end) {
  const ein_ctx *c = vc;
  for (int64_t o = begin; o < end; o++) {
    int64_t base[EIN_MAX_OPS];
    ein_base(c, o, base);
    double _Complex acc = 0;
#define VISIT_C(off)                                                                      \
  do {                                                                                    \
    double _Complex pr = ((const c64_t *)c->ptr[0])[off[0]];                              \
    for (int k = 1; k < c->nops; k++) pr *= ((const c64_t *)c->ptr[k])[off[k]];           \
    acc += pr;                                                                            \
  } while (0)
    EIN_WALK(c, base, VISIT_C);
#undef VISIT_C
    ((c64_t *)c->out)[o] = (c64_t)acc;
  }
}

/* Integers (and bool): exact, wrapping as MLX's multiply then sum do. */
static void ein_int(void *vc, int64_t begin, int64_t end) {
  const ein_ctx *c = vc;
  for (int64_t o = begin; o < end; o++) {
    int64_t base[EIN_MAX_OPS];
    ein_base(c, o, base);
    uint64_t acc = 0;
#define VISIT_I(off)                                                                      \
  do {                                                                                    \
    uint64_t pr = (uint64_t)load_i64(c->ptr[0], c->it, off[0]);                           \
    for (int k = 1; k < c->nops; k++) pr *= (uint64_t)load_i64(c->ptr[k], c->it, off[k]); \
    if (c->prod_bits) {                                                                   \
      uint64_t m = (1ull << c->prod_bits) - 1, hi = 1ull << (c->prod_bits - 1);           \
      pr &= m;                                                                            \
      if (c->prod_signed && (pr & hi)) pr |= ~m;                                          \
    }                                                                                     \
    acc += pr;                                                                            \
  } while (0)
    EIN_WALK(c, base, VISIT_I);
#undef VISIT_I
    if (c->ot == MX_BOOL) ((uint8_t *)c->out)[o] = acc != 0;
    else store_i64(c->out, c->ot, o, (int64_t)acc);
  }
}

mx_status cpu_einsum(mx_array out, mx_array const *in, int nin, const void *params) {
  const einsum_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  ein_ctx c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.nops = nin;
  c.it = in[0]->dtype;
  c.ot = out->dtype;
  c.out = array_ptr(out);
  for (int k = 0; k < nin; k++) {
    c.ptr[k] = array_ptr(in[k]);
    for (int d = 0; d < p->op_ndim[k]; d++) {
      int id = p->op_idx[k][d];
      if (in[k]->shape[d] == 1 && p->size[id] != 1) continue; /* broadcast */
      c.st[k][id] += in[k]->strides[d];
    }
  }
  /* Products of narrow integers wrap at the operands' width (MLX multiplies
   * before it sums in the wider type). */
  if (mx_dtype_is_integer(c.it) && mx_dtype_size(c.it) < 8) {
    c.prod_bits = (int)mx_dtype_size(c.it) * 8;
    c.prod_signed = mx_dtype_is_signed_integer(c.it);
  }
  int64_t work = 1;
  for (int i = p->nout; i < p->nidx; i++) work *= p->size[i] ? p->size[i] : 1;
  work *= nin;
  int64_t grain = work >= 32768 ? 1 : 32768 / work;
  range_fn fn;
  switch (c.it) {
  case MX_FLOAT32: fn = ein_f32; break;
  case MX_FLOAT64: fn = ein_f64; break;
  case MX_FLOAT16: fn = ein_f16; break;
  case MX_BFLOAT16: fn = ein_bf16; break;
  case MX_COMPLEX64: fn = ein_c64; break;
  default: fn = ein_int; break;
  }
  parallel_for(out->size, grain, fn, &c);
  return MX_OK;
}

/* ------------------------------------------------------------ norms */

typedef struct norm_ctx {
  const norm_params *p;
  const char *src;
  mx_dtype it, ot;
  char *out;
  int nkeep;
  int64_t keep_shape[MX_MAX_NDIM], keep_st[MX_MAX_NDIM];
  int nred;
  int64_t red_shape[MX_MAX_NDIM], red_st[MX_MAX_NDIM];
} norm_ctx;

static inline double abs_at(const norm_ctx *c, int64_t off) {
  if (c->it == MX_COMPLEX64) return cabs((double _Complex)((const c64_t *)c->src)[off]);
  if (c->it == MX_FLOAT32) return fabs((double)((const float *)c->src)[off]);
  return fabs(load_f64(c->src, c->it, off));
}

static int64_t norm_base(const norm_ctx *c, int64_t o) {
  int64_t off = 0;
  for (int i = c->nkeep - 1; i >= 0; i--) {
    int64_t n = c->keep_shape[i];
    off += (o % n) * c->keep_st[i];
    o /= n;
  }
  return off;
}

static void store_norm(const norm_ctx *c, int64_t o, double v) {
  if (c->ot == MX_COMPLEX64) ((c64_t *)c->out)[o] = (float)v;
  else store_f64(c->out, c->ot, o, v);
}

static void norm_range(void *vc, int64_t begin, int64_t end) {
  const norm_ctx *c = vc;
  const norm_params *p = c->p;
  for (int64_t o = begin; o < end; o++) {
    int64_t base = norm_base(c, o);
    double r = 0;
    if (p->kind >= NORM_MAT_ONE) {
      /* red dims: [0] rows, [1] columns (as axes[0], axes[1]) */
      bool by_col = p->kind == NORM_MAT_ONE || p->kind == NORM_MAT_NONE;
      bool want_max = p->kind == NORM_MAT_ONE || p->kind == NORM_MAT_INF;
      int outer = by_col ? 1 : 0, inner = 1 - outer;
      double best = want_max ? 0 : INFINITY;
      for (int64_t i = 0; i < c->red_shape[outer]; i++) {
        double s = 0;
        for (int64_t j = 0; j < c->red_shape[inner]; j++)
          s += abs_at(c, base + i * c->red_st[outer] + j * c->red_st[inner]);
        best = want_max ? (s > best || isnan(s) ? s : best) : (s < best || isnan(s) ? s : best);
      }
      r = c->red_shape[outer] ? best : 0;
    } else {
      int64_t cnt[MX_MAX_NDIM] = {0}, off = base;
      bool empty = false;
      for (int d = 0; d < c->nred; d++) empty |= c->red_shape[d] == 0;
      double acc = p->kind == NORM_VEC_NINF ? INFINITY : 0;
      bool any = false;
      while (!empty) {
        double v = abs_at(c, off);
        any = true;
        switch (p->kind) {
        case NORM_L2: acc += v * v; break;
        case NORM_VEC_P: acc += pow(v, p->p); break;
        case NORM_VEC_INF: acc = (v > acc || isnan(v)) ? v : acc; break;
        case NORM_VEC_NINF: acc = (v < acc || isnan(v)) ? v : acc; break;
        case NORM_VEC_ZERO: acc += v != 0; break;
        default: acc += v; break;
        }
        int d = c->nred - 1;
        for (; d >= 0; d--) {
          off += c->red_st[d];
          if (++cnt[d] < c->red_shape[d]) break;
          off -= c->red_st[d] * cnt[d];
          cnt[d] = 0;
        }
        if (d < 0) break;
      }
      if (!any && p->kind == NORM_VEC_NINF) acc = 0;
      if (p->kind == NORM_L2) r = sqrt(acc);
      else if (p->kind == NORM_VEC_P) r = pow(acc, 1.0 / p->p);
      else r = acc;
    }
    store_norm(c, o, r);
  }
}

/* Singular-value norms: one LAPACK gesdd per matrix, on this thread. */
static mx_status norm_svd(norm_ctx *c) {
  const norm_params *p = c->p;
  int64_t R = c->red_shape[0], C = c->red_shape[1];
  int64_t mn = R < C ? R : C;
  if (R > INT_MAX || C > INT_MAX || R * C > INT_MAX)
    return set_error(MX_ERR_UNSUPPORTED, "linalg_norm: matrix too large for LAPACK");
  bool dbl = c->it == MX_FLOAT64;
  mx_dtype ct = dbl ? MX_FLOAT64 : MX_FLOAT32;
  size_t es = mx_dtype_size(ct);
  int m = (int)C, n = (int)R, lda = m > 1 ? m : 1, ld1 = 1, info = 0, lwork = -1;
  /* Row-major R x C is column-major C x R: the transpose, same values. */
  double wq = 0;
  float wqf = 0;
  int iwork_n = 8 * (int)(mn > 0 ? mn : 1);
  if (dbl)
    dgesdd_("N", &m, &n, NULL, &lda, NULL, NULL, &ld1, NULL, &ld1, &wq, &lwork, NULL, &info);
  else
    sgesdd_("N", &m, &n, NULL, &lda, NULL, NULL, &ld1, NULL, &ld1, &wqf, &lwork, NULL, &info);
  lwork = dbl ? (int)wq : (int)wqf;
  if (lwork < 1) lwork = 1;
  size_t bytes = ((size_t)(R * C) + (size_t)mn + (size_t)lwork + 1) * es +
                 (size_t)iwork_n * sizeof(int);
  char *buf = mx_alloc(bytes);
  if (!buf) return mx_last_error_code();
  char *A = buf, *S = A + (size_t)(R * C) * es, *W = S + (size_t)mn * es;
  int *iw = (int *)(W + (size_t)(lwork + 1) * es);
  mx_status st = MX_OK;
  int64_t nout = 1;
  for (int i = 0; i < c->nkeep; i++) nout *= c->keep_shape[i];
  for (int64_t o = 0; o < nout; o++) {
    int64_t base = norm_base(c, o);
    int64_t sh[2] = {R, C}, str[2] = {c->red_st[0], c->red_st[1]};
    copy_to_row_major(c->src + (size_t)base * mx_dtype_size(c->it), c->it, sh, str, 2, A, ct);
    double r = 0;
    if (mn > 0) {
      if (dbl)
        dgesdd_("N", &m, &n, (double *)A, &lda, (double *)S, NULL, &ld1, NULL, &ld1,
                (double *)W, &lwork, iw, &info);
      else
        sgesdd_("N", &m, &n, (float *)A, &lda, (float *)S, NULL, &ld1, NULL, &ld1, (float *)W,
                &lwork, iw, &info);
      if (info != 0) {
        st = set_error(MX_ERR_INTERNAL, "linalg_norm: SVD did not converge (info %d)", info);
        break;
      }
      /* singular values come sorted descending */
      double s0 = dbl ? ((double *)S)[0] : ((float *)S)[0];
      double sl = dbl ? ((double *)S)[mn - 1] : ((float *)S)[mn - 1];
      if (p->kind == NORM_MAT_TWO) r = s0;
      else if (p->kind == NORM_MAT_NTWO) r = sl;
      else
        for (int64_t i = 0; i < mn; i++) r += dbl ? ((double *)S)[i] : ((float *)S)[i];
    }
    store_norm(c, o, r);
  }
  mx_free(buf, bytes);
  return st;
}

mx_status cpu_norm(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const norm_params *p = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  norm_ctx c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.src = array_ptr(x);
  c.it = x->dtype;
  c.ot = out->dtype;
  c.out = array_ptr(out);
  bool red[MX_MAX_NDIM] = {0};
  for (int i = 0; i < p->naxes; i++) {
    red[p->axes[i]] = true;
    c.red_shape[c.nred] = x->shape[p->axes[i]];
    c.red_st[c.nred++] = x->strides[p->axes[i]];
  }
  for (int d = 0; d < x->ndim; d++)
    if (!red[d]) {
      c.keep_shape[c.nkeep] = x->shape[d];
      c.keep_st[c.nkeep++] = x->strides[d];
    }
  if (p->kind >= NORM_MAT_TWO) {
    blas_init_threads();
    return norm_svd(&c);
  }
  int64_t per = 1;
  for (int d = 0; d < c.nred; d++) per *= c.red_shape[d] ? c.red_shape[d] : 1;
  parallel_for(out->size, per >= 32768 ? 1 : 32768 / per, norm_range, &c);
  return MX_OK;
}
