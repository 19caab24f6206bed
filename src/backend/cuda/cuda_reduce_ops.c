/* cuda_reduce_ops.c — GPU kernels of the reduction family (see
 * cuda_table.h): reduce (sum ... logsumexp; median falls back), arg_reduce,
 * softmax, scan, sort, argsort, partition, argpartition, topk. They take the
 * CPU kernels' parameter blocks (src/backend/cpu/reduce.h, sort.h) and give
 * the same results; partition / argpartition / topk return the fully
 * sorted order, which is a valid partition (MLX guarantees only the kth
 * element's position), not the CPU's libstdc++ nth_element order.
 * complex64 runs on the CPU. */
#include <string.h>

#include "../cpu/reduce.h"
#include "../cpu/sort.h"
#include "cuda_backend.h"
#include "cuda_reduce.h"
#include "cuda_table.h"

static cu_scratch scratch(void) {
  const gpu_backend *g = gpu_get();
  cu_scratch s = {g->alloc, g->free};
  return s;
}

static mx_status check(int err, const char *what) {
  if (err == CU_RED_UNSUPPORTED)
    return set_error(MX_ERR_UNSUPPORTED, "%s: no GPU kernel for this case", what);
  return cuda_check(err, what);
}

/* Device pointer of x's element 0 (its offset applied). */
static const void *dptr_of(mx_array x) { return array_dptr(x); }

/* A dense row-major copy of x in scratch memory, with x's dims taken in
 * `perm` order (NULL: as they are). */
static void *gather_dense(mx_array x, const int *perm, const cu_scratch *sc, size_t *nbytes,
                          mx_status *st) {
  size_t es = mx_dtype_size(x->dtype);
  *nbytes = (size_t)x->size * es;
  void *buf = sc->alloc(*nbytes ? *nbytes : 1);
  if (!buf) {
    *st = MX_ERR_OOM;
    return NULL;
  }
  int64_t shape[MX_MAX_NDIM], strides[MX_MAX_NDIM];
  for (int d = 0; d < x->ndim; d++) {
    int s = perm ? perm[d] : d;
    shape[d] = x->shape[s];
    strides[d] = x->strides[s];
  }
  *st = check(cu_gather_strided(es, buf, dptr_of(x), shape, strides, x->ndim, x->size,
                                cuda_stream()),
              "gather");
  if (*st < 0) {
    sc->free(buf, *nbytes ? *nbytes : 1);
    return NULL;
  }
  return buf;
}

/* out (row-major, shape `shape`) from a dense buffer holding the same
 * elements with dims in `perm` order. */
static mx_status scatter_perm(mx_array out, const void *src, const int *perm) {
  int nd = out->ndim;
  int64_t pshape[MX_MAX_NDIM] = {0}, pstr[MX_MAX_NDIM], strides[MX_MAX_NDIM] = {0};
  for (int d = 0; d < nd; d++) pshape[d] = out->shape[perm[d]];
  row_major_strides(pshape, nd, pstr);
  for (int d = 0; d < nd; d++) strides[perm[d]] = pstr[d];
  return check(cu_gather_strided(mx_dtype_size(out->dtype), array_dptr(out), src, out->shape,
                                 strides, nd, out->size, cuda_stream()),
               "scatter");
}

/* ---- reduce ---- */

/* The CPU's walk of the input (reduce_plan_build), in the launchers' form. */
static void build_plan(mx_array x, const int *axes, int naxes, cu_rplan *p) {
  reduce_plan rp;
  reduce_plan_build(x, axes, naxes, &rp);
  memset(p, 0, sizeof *p);
  p->nk = rp.nk;
  p->nr = rp.nr;
  memcpy(p->kshape, rp.kshape, sizeof p->kshape);
  memcpy(p->kstride, rp.kstride, sizeof p->kstride);
  memcpy(p->rshape, rp.rshape, sizeof p->rshape);
  memcpy(p->rstride, rp.rstride, sizeof p->rstride);
  p->nout = rp.nout;
  p->nred = rp.nred;
  p->base = rp.base + x->offset;
}

static mx_status gpu_reduce(mx_array out, mx_array const *in, int nin, const void *params) {
  const reduce_params *rp = params;
  mx_array x = in[0];
  if (rp->op == RED_MEDIAN || x->dtype == MX_COMPLEX64 || out->dtype == MX_COMPLEX64)
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_rplan p;
  build_plan(x, rp->axes, rp->naxes, &p);
  cu_scratch sc = scratch();
  return check(cu_reduce(rp->op, x->dtype, out->dtype, x->buf->dptr, array_dptr(out), &p,
                         rp->ddof, &sc, cuda_stream()),
               "reduce");
}

/* ---- argmax / argmin ---- */

static mx_status gpu_argreduce(mx_array out, mx_array const *in, int nin, const void *params) {
  const argreduce_params *ap = params;
  mx_array x = in[0];
  if (x->dtype == MX_COMPLEX64) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_scratch sc = scratch();
  cu_rplan p;
  memset(&p, 0, sizeof p);
  p.nout = out->size;
  if (ap->axis < 0) {
    /* The flattened array in row-major order: a dense copy of a view. */
    void *tmp = NULL;
    size_t tb = 0;
    const void *src = x->buf->dptr;
    if (x->row_contiguous) {
      p.base = x->offset;
    } else {
      tmp = gather_dense(x, NULL, &sc, &tb, &st);
      if (!tmp) return st;
      src = tmp;
    }
    st = check(cu_argreduce(ap->is_max, x->dtype, src, array_dptr(out), &p, x->size, 1, &sc,
                            cuda_stream()),
               "arg_reduce");
    if (tmp) sc.free(tmp, tb ? tb : 1);
    return st;
  }
  for (int d = 0; d < x->ndim; d++) {
    if (d == ap->axis || x->shape[d] == 1) continue;
    int64_t n = x->shape[d], s = x->strides[d];
    if (p.nk > 0 && p.kstride[p.nk - 1] == s * n) {
      p.kshape[p.nk - 1] *= n;
      p.kstride[p.nk - 1] = s;
      continue;
    }
    p.kshape[p.nk] = n;
    p.kstride[p.nk] = s;
    p.nk++;
  }
  p.base = x->offset;
  return check(cu_argreduce(ap->is_max, x->dtype, x->buf->dptr, array_dptr(out), &p,
                            x->shape[ap->axis], x->strides[ap->axis], &sc, cuda_stream()),
               "arg_reduce");
}

/* ---- softmax ---- */

static bool half_or_f32(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

static mx_status gpu_softmax(mx_array out, mx_array const *in, int nin, const void *params) {
  const softmax_params *sp = params;
  mx_array x = in[0];
  if (!half_or_f32(x->dtype) || out->dtype != x->dtype)
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_scratch sc = scratch();
  bool red[MX_MAX_NDIM] = {0};
  int64_t n = 1;
  for (int i = 0; i < sp->naxes; i++) {
    red[sp->axes[i]] = true;
    n *= x->shape[sp->axes[i]];
  }
  int64_t rows = out->size / n;
  bool trailing = true;
  for (int d = 0; d < x->ndim; d++)
    if (red[d] != (d >= x->ndim - sp->naxes)) trailing = false;
  if (trailing && x->row_contiguous)
    return check(cu_softmax_rows(x->dtype, out->dtype, dptr_of(x), array_dptr(out), rows, n, &sc,
                                 cuda_stream()),
                 "softmax");
  /* Kept dims first, reduced dims last, dense; softmax the rows; put the
   * elements back in out's order. */
  int perm[MX_MAX_NDIM], k = 0;
  for (int d = 0; d < x->ndim; d++)
    if (!red[d]) perm[k++] = d;
  for (int d = 0; d < x->ndim; d++)
    if (red[d]) perm[k++] = d;
  size_t tb;
  void *tmp = gather_dense(x, perm, &sc, &tb, &st);
  if (!tmp) return st;
  void *tmp2 = sc.alloc(tb);
  if (!tmp2) {
    sc.free(tmp, tb);
    return MX_ERR_OOM;
  }
  st = check(cu_softmax_rows(x->dtype, out->dtype, tmp, tmp2, rows, n, &sc, cuda_stream()),
             "softmax");
  if (st >= 0) st = scatter_perm(out, tmp2, perm);
  sc.free(tmp, tb);
  sc.free(tmp2, tb);
  return st;
}

/* ---- scans ---- */

static mx_status gpu_scan(mx_array out, mx_array const *in, int nin, const void *params) {
  const scan_params *sp = params;
  mx_array x = in[0];
  if (x->dtype == MX_COMPLEX64) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_scratch sc = scratch();
  int64_t n = x->shape[sp->axis], K = 1;
  for (int d = sp->axis + 1; d < x->ndim; d++) K *= x->shape[d];
  int64_t outer = out->size / (n * K);
  void *tmp = NULL;
  size_t tb = 0;
  const void *src = dptr_of(x);
  if (!x->row_contiguous) {
    tmp = gather_dense(x, NULL, &sc, &tb, &st);
    if (!tmp) return st;
    src = tmp;
  }
  st = check(cu_scan(sp->op, sp->reverse, sp->inclusive, x->dtype, out->dtype, src,
                     array_dptr(out), outer, n, K, &sc, cuda_stream()),
             "scan");
  if (tmp) sc.free(tmp, tb);
  return st;
}

/* ---- sort family ---- */

/* Sorts along p->axis and writes the last out->shape[axis] positions. */
static mx_status sort_common(mx_array out, mx_array const *in, int nin, const void *params,
                             bool indices) {
  const sort_params *sp = params;
  mx_array x = in[0];
  if (x->dtype == MX_COMPLEX64) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_scratch sc = scratch();
  int ax = sp->axis, nd = x->ndim;
  int64_t n = x->shape[ax], m = out->shape[ax];
  int64_t rows = x->size / n;
  if (ax == nd - 1 && x->row_contiguous)
    return check(cu_sort_rows(x->dtype, indices, dptr_of(x), array_dptr(out), rows, n, m, &sc,
                              cuda_stream()),
                 out->prim->name);
  int perm[MX_MAX_NDIM], k = 0;
  for (int d = 0; d < nd; d++)
    if (d != ax) perm[k++] = d;
  perm[k] = ax;
  size_t tb;
  void *tmp = gather_dense(x, perm, &sc, &tb, &st);
  if (!tmp) return st;
  void *res = array_dptr(out);
  size_t rb = (size_t)out->size * mx_dtype_size(out->dtype);
  bool moved = ax != nd - 1;
  if (moved) {
    res = sc.alloc(rb);
    if (!res) {
      sc.free(tmp, tb);
      return MX_ERR_OOM;
    }
  }
  st = check(cu_sort_rows(x->dtype, indices, tmp, res, rows, n, m, &sc, cuda_stream()),
             out->prim->name);
  if (st >= 0 && moved) st = scatter_perm(out, res, perm);
  sc.free(tmp, tb);
  if (moved) sc.free(res, rb);
  return st;
}

static mx_status gpu_sort(mx_array out, mx_array const *in, int nin, const void *params) {
  return sort_common(out, in, nin, params, false);
}
static mx_status gpu_argsort(mx_array out, mx_array const *in, int nin, const void *params) {
  return sort_common(out, in, nin, params, true);
}

const cuda_kernel_entry cuda_reduce_kernels[] = {
    {"reduce", gpu_reduce},
    {"arg_reduce", gpu_argreduce},
    {"softmax", gpu_softmax},
    {"scan", gpu_scan},
    {"sort", gpu_sort},
    {"argsort", gpu_argsort},
    /* A sorted row is a valid partition; topk keeps its last k. */
    {"partition", gpu_sort},
    {"argpartition", gpu_argsort},
    {"topk", gpu_sort},
    {NULL, NULL},
};
