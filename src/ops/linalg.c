/* linalg.c — front ends of matmul, addmm, inner, outer, tensordot and
 * linalg_norm (MLX semantics: mlx/ops.cpp, mlx/linalg.cpp).
 *
 * MLX's matmul, addmm and everything built on them (tensordot, inner of
 * n-d arrays) accept only floating (and, for matmul, complex) results:
 * matmul of integers and bools is exact (via the einsum kernel), as NumPy
 * and the issue ask although MLX rejects it; addmm, inner and tensordot
 * reject them with MX_ERR_DTYPE as MLX does.
 * einsum (einsum.c) computes integer contractions exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/cpu/matmul.h"
#include "ops_common.h"

static const mx_primitive prim_matmul = {"matmul", cpu_matmul, NULL};
static const mx_primitive prim_addmm = {"addmm", cpu_addmm, NULL};
static const mx_primitive prim_norm = {"linalg_norm", cpu_norm, NULL};

static mx_array reshape_to(mx_array a, const int64_t *shape, int ndim) {
  return mx_reshape(a, shape, ndim);
}

/* a (1-d) -> (1, K); b (1-d) -> (K, 1), as numpy.matmul. */
static mx_array lift(mx_array x, bool first) {
  if (x->ndim != 1) return mx_array_retain(x);
  int64_t sh[2] = {1, x->shape[0]};
  if (!first) {
    sh[0] = x->shape[0];
    sh[1] = 1;
  }
  return reshape_to(x, sh, 2);
}

/* Output shape of a batched product of lifted a (..., M, K), b (..., K, N). */
static mx_status product_shape(const char *op, mx_array a, mx_array b, int64_t *out, int *nout) {
  int64_t bs[MX_MAX_NDIM];
  int nb;
  mx_status st = broadcast_shapes(op, a->shape, a->ndim - 2, b->shape, b->ndim - 2, bs, &nb);
  if (st < 0) return st;
  if (nb + 2 > MX_MAX_NDIM) return set_error(MX_ERR_SHAPE, "%s: too many dimensions", op);
  memcpy(out, bs, (size_t)nb * sizeof *bs);
  out[nb] = a->shape[a->ndim - 2];
  out[nb + 1] = b->shape[b->ndim - 1];
  *nout = nb + 2;
  return MX_OK;
}

static bool inner_dims_match(const char *op, mx_array a, mx_array b) {
  if (a->shape[a->ndim - 1] == b->shape[b->ndim - 2]) return true;
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  set_error(MX_ERR_SHAPE,
            "%s: last dimension of first input with shape %s must match second to last "
            "dimension of second input with shape %s",
            op, fmt_shape(s1, sizeof s1, a->shape, a->ndim), fmt_shape(s2, sizeof s2, b->shape, b->ndim));
  return false;
}

/* Drops the axes lifted for 1-d operands. */
static mx_array unlift(mx_array out, int a_ndim, int b_ndim) {
  if (!out || (a_ndim != 1 && b_ndim != 1)) return out;
  int64_t sh[MX_MAX_NDIM];
  int nd = 0;
  for (int d = 0; d < out->ndim; d++) {
    if (a_ndim == 1 && d == out->ndim - 2) continue;
    if (b_ndim == 1 && d == out->ndim - 1) continue;
    sh[nd++] = out->shape[d];
  }
  mx_array r = reshape_to(out, sh, nd);
  mx_array_free(out);
  return r;
}

mx_array mx_matmul(mx_array a, mx_array b) {
  mx_array ab[2] = {a, b};
  if (any_null("matmul", ab, 2)) return NULL;
  if (a->ndim == 0 || b->ndim == 0) {
    set_error(MX_ERR_SHAPE, "matmul: got a 0-dimensional input (ndim %d and %d); inputs must "
                            "have at least one dimension", a->ndim, b->ndim);
    return NULL;
  }
  mx_dtype dt = mx_promote_types(a->dtype, b->dtype);
  mx_array la = lift(a, true), lb = lift(b, false);
  mx_array res = NULL;
  if (!mx_dtype_is_inexact(dt)) {
    /* Integer and bool products (MLX rejects them; NumPy and this issue
     * want them): exact, wrapping in the promoted dtype, through the einsum
     * kernel. Products and sums are taken modulo 2^bits either way, so the
     * result equals numpy.matmul's. */
    if (la && lb && inner_dims_match("matmul", la, lb)) {
      mx_array ops2[2] = {cast_to(la, dt), cast_to(lb, dt)};
      mx_array e = mx_einsum("...ij,...jk->...ik", ops2, 2);
      mx_array_free(ops2[0]);
      mx_array_free(ops2[1]);
      mx_array c = mx_astype(e, dt);
      mx_array_free(e);
      res = unlift(c, a->ndim, b->ndim);
    }
    mx_array_free(la);
    mx_array_free(lb);
    return res;
  }
  if (la && lb && inner_dims_match("matmul", la, lb)) {
    int64_t osh[MX_MAX_NDIM];
    int ond;
    if (product_shape("matmul", la, lb, osh, &ond) == MX_OK) {
      mx_array ins[2] = {cast_to(la, dt), cast_to(lb, dt)};
      res = node_new(&prim_matmul, dt, osh, ond, ins, 2, NULL, 0);
      mx_array_free(ins[0]);
      mx_array_free(ins[1]);
      res = unlift(res, a->ndim, b->ndim);
    }
  }
  mx_array_free(la);
  mx_array_free(lb);
  return res;
}

mx_array mx_addmm(mx_array c, mx_array a, mx_array b, float alpha, float beta) {
  mx_array abc[3] = {c, a, b};
  if (any_null("addmm", abc, 3)) return NULL;
  if (a->ndim == 0 || b->ndim == 0) {
    set_error(MX_ERR_SHAPE, "addmm: got a 0-dimensional input (ndim %d and %d); inputs must "
                            "have at least one dimension", a->ndim, b->ndim);
    return NULL;
  }
  mx_dtype dt = mx_promote_types(mx_promote_types(a->dtype, b->dtype), c->dtype);
  /* MLX computes complex addmm as alpha * (a @ b) + beta * c; the kernel
   * here does the same in one cgemm. */
  if (!mx_dtype_is_inexact(dt)) {
    set_error(MX_ERR_DTYPE,
              "addmm: only real floating point types are supported but %s, %s and %s were "
              "provided which results in %s, which is not a real floating point type",
              mx_dtype_name(c->dtype), mx_dtype_name(a->dtype), mx_dtype_name(b->dtype),
              mx_dtype_name(dt));
    return NULL;
  }
  mx_array la = lift(a, true), lb = lift(b, false), res = NULL;
  if (!la || !lb || !inner_dims_match("addmm", la, lb)) goto done;
  int64_t osh[MX_MAX_NDIM], adj[MX_MAX_NDIM];
  int ond, nadj = 0;
  if (product_shape("addmm", la, lb, osh, &ond) < 0) goto done;
  for (int d = 0; d < ond; d++) {
    if (a->ndim == 1 && d == ond - 2) continue;
    if (b->ndim == 1 && d == ond - 1) continue;
    adj[nadj++] = osh[d];
  }
  /* c broadcasts to the (1-d adjusted) output but may not enlarge it. */
  int64_t cb[MX_MAX_NDIM];
  int ncb;
  bool fits = broadcast_shapes("addmm", c->shape, c->ndim, adj, nadj, cb, &ncb) == MX_OK &&
              ncb == nadj && memcmp(cb, adj, (size_t)nadj * sizeof *adj) == 0;
  if (!fits) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "addmm: input c with shape %s must broadcast to the output shape %s",
              fmt_shape(s1, sizeof s1, c->shape, c->ndim), fmt_shape(s2, sizeof s2, adj, nadj));
    goto done;
  }
  mx_array cc = cast_to(c, dt);
  mx_array cbc = cc ? mx_broadcast_to(cc, adj, nadj) : NULL;
  mx_array cr = cbc ? reshape_to(cbc, osh, ond) : NULL;
  mx_array_free(cc);
  mx_array_free(cbc);
  if (cr) {
    mx_array ins[3] = {cast_to(la, dt), cast_to(lb, dt), cr};
    gemm_params p = {alpha, beta};
    res = node_new(&prim_addmm, dt, osh, ond, ins, 3, &p, sizeof p);
    mx_array_free(ins[0]);
    mx_array_free(ins[1]);
    mx_array_free(cr);
    res = unlift(res, a->ndim, b->ndim);
  }
done:
  mx_array_free(la);
  mx_array_free(lb);
  return res;
}

/* ------------------------------------------------------------ tensordot */

static mx_array tensordot_impl(const char *op, mx_array a, mx_array b, const int *axes_a,
                               const int *axes_b, int naxes) {
  if (naxes < 0 || naxes > a->ndim || naxes > b->ndim || (naxes > 0 && (!axes_a || !axes_b))) {
    set_error(MX_ERR_INVALID_ARG, "%s: %d contraction axes for arrays of %d and %d dimensions",
              op, naxes, a->ndim, b->ndim);
    return NULL;
  }
  mx_dtype dt = mx_promote_types(a->dtype, b->dtype);
  if (!mx_dtype_is_inexact(dt)) {
    set_error(MX_ERR_DTYPE,
              "%s: only inexact types are supported (it uses matmul) but %s and %s were "
              "provided, which results in %s",
              op, mx_dtype_name(a->dtype), mx_dtype_name(b->dtype), mx_dtype_name(dt));
    return NULL;
  }
  bool ca[MX_MAX_NDIM] = {0}, cb[MX_MAX_NDIM] = {0};
  int ta[MX_MAX_NDIM], tb[MX_MAX_NDIM], na = 0, nbb = 0;
  int64_t csize = 1, size1 = 1, size2 = 1, rsh[MX_MAX_NDIM];
  int nr = 0;
  int xa[MX_MAX_NDIM], xb[MX_MAX_NDIM];
  for (int i = 0; i < naxes; i++) {
    if (normalize_axis(op, axes_a[i], a->ndim, &xa[i]) < 0) return NULL;
    if (normalize_axis(op, axes_b[i], b->ndim, &xb[i]) < 0) return NULL;
    if (ca[xa[i]] || cb[xb[i]]) {
      set_error(MX_ERR_INVALID_ARG, "%s: contraction axis repeated (axes %d of a, %d of b)", op,
                axes_a[i], axes_b[i]);
      return NULL;
    }
    ca[xa[i]] = cb[xb[i]] = true;
    if (a->shape[xa[i]] != b->shape[xb[i]]) {
      char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE,
                "%s: a and b must have the same shape on the contracted axes, but axis %d of "
                "%s differs from axis %d of %s",
                op, axes_a[i], fmt_shape(s1, sizeof s1, a->shape, a->ndim), axes_b[i],
                fmt_shape(s2, sizeof s2, b->shape, b->ndim));
      return NULL;
    }
    csize *= a->shape[xa[i]];
  }
  for (int d = 0; d < a->ndim; d++)
    if (!ca[d]) {
      ta[na++] = d;
      size1 *= a->shape[d];
      rsh[nr++] = a->shape[d];
    }
  for (int i = 0; i < naxes; i++) ta[na++] = xa[i];
  for (int i = 0; i < naxes; i++) tb[nbb++] = xb[i];
  for (int d = 0; d < b->ndim; d++)
    if (!cb[d]) {
      tb[nbb++] = d;
      size2 *= b->shape[d];
      if (nr >= MX_MAX_NDIM) {
        set_error(MX_ERR_SHAPE, "%s: result has more than %d dimensions", op, MX_MAX_NDIM);
        return NULL;
      }
      rsh[nr++] = b->shape[d];
    }
  mx_array at = mx_transpose(a, ta, a->ndim), bt = mx_transpose(b, tb, b->ndim);
  int64_t s1[2] = {size1, csize}, s2[2] = {csize, size2};
  mx_array a2 = at ? reshape_to(at, s1, 2) : NULL, b2 = bt ? reshape_to(bt, s2, 2) : NULL;
  mx_array m = (a2 && b2) ? mx_matmul(a2, b2) : NULL;
  mx_array r = m ? reshape_to(m, rsh, nr) : NULL;
  mx_array_free(at);
  mx_array_free(bt);
  mx_array_free(a2);
  mx_array_free(b2);
  mx_array_free(m);
  return r;
}

mx_array mx_tensordot(mx_array a, mx_array b, const int *axes_a, const int *axes_b, int naxes) {
  mx_array ab[2] = {a, b};
  if (any_null("tensordot", ab, 2)) return NULL;
  return tensordot_impl("tensordot", a, b, axes_a, axes_b, naxes);
}

mx_array mx_tensordot_n(mx_array a, mx_array b, int n) {
  mx_array ab[2] = {a, b};
  if (any_null("tensordot", ab, 2)) return NULL;
  if (n < 0) {
    set_error(MX_ERR_INVALID_ARG, "tensordot: axis count must be >= 0, got %d", n);
    return NULL;
  }
  if (n > a->ndim || n > b->ndim) {
    set_error(MX_ERR_INVALID_ARG,
              "tensordot: axis count %d exceeds the dimensions of a (%d) or b (%d)", n, a->ndim,
              b->ndim);
    return NULL;
  }
  int xa[MX_MAX_NDIM], xb[MX_MAX_NDIM];
  for (int i = 0; i < n; i++) {
    xa[i] = i - n;
    xb[i] = i;
  }
  return tensordot_impl("tensordot", a, b, xa, xb, n);
}

/* Elementwise product with broadcasting through the einsum loop (MLX's
 * inner of a 0-d operand is a multiply). */
static mx_array product_bcast(mx_array a, mx_array b) {
  char sub[2 * MX_MAX_NDIM + 8];
  int n = 0;
  for (int d = 0; d < a->ndim; d++) sub[n++] = (char)('a' + (a->ndim > b->ndim ? d : d + b->ndim - a->ndim));
  sub[n++] = ',';
  for (int d = 0; d < b->ndim; d++) sub[n++] = (char)('a' + (b->ndim > a->ndim ? d : d + a->ndim - b->ndim));
  sub[n++] = '-';
  sub[n++] = '>';
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int d = 0; d < nd; d++) sub[n++] = (char)('a' + d);
  sub[n] = 0;
  mx_array ops[2] = {a, b};
  return mx_einsum(sub, ops, 2);
}

mx_array mx_inner(mx_array a, mx_array b) {
  mx_array ab[2] = {a, b};
  if (any_null("inner", ab, 2)) return NULL;
  if (a->ndim == 0 || b->ndim == 0) return product_bcast(a, b);
  if (a->shape[a->ndim - 1] != b->shape[b->ndim - 1]) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "inner: a and b must have the same last dimension, got %s and %s",
              fmt_shape(s1, sizeof s1, a->shape, a->ndim), fmt_shape(s2, sizeof s2, b->shape, b->ndim));
    return NULL;
  }
  int xa[1] = {-1}, xb[1] = {-1};
  return tensordot_impl("inner", a, b, xa, xb, 1);
}

mx_array mx_outer(mx_array a, mx_array b) {
  mx_array ab[2] = {a, b};
  if (any_null("outer", ab, 2)) return NULL;
  int64_t fa = a->size, fb = b->size;
  mx_array a1 = reshape_to(a, &fa, 1), b1 = reshape_to(b, &fb, 1);
  mx_array ops[2] = {a1, b1};
  mx_array r = (a1 && b1) ? mx_einsum("i,j->ij", ops, 2) : NULL;
  mx_array_free(a1);
  mx_array_free(b1);
  return r;
}

/* ------------------------------------------------------------ norms */

/* MLX's at_least_float: inexact dtypes stay, others become float32. */
static mx_dtype at_least_float(mx_dtype t) {
  return mx_dtype_is_inexact(t) ? t : mx_promote_types(t, MX_FLOAT32);
}
/* The dtype of sqrt(sum(|x|^2)): complex gives float32 (abs), integers float32. */
static mx_dtype l2_dtype(mx_dtype t) {
  if (mx_dtype_is_complex(t)) return MX_FLOAT32;
  return mx_dtype_is_floating(t) ? t : MX_FLOAT32;
}

mx_array mx_linalg_norm(mx_array a, const char *ord, const int *axes, int naxes, bool keepdims) {
  CHECK_INPUT("linalg_norm", a);
  enum { ORD_NONE, ORD_FRO, ORD_NUC, ORD_NUM } ok = ORD_NONE;
  double p = 0;
  if (ord) {
    if (!strcmp(ord, "fro") || !strcmp(ord, "f")) ok = ORD_FRO;
    else if (!strcmp(ord, "nuc")) ok = ORD_NUC;
    else if (!strcmp(ord, "inf")) ok = ORD_NUM, p = INFINITY;
    else if (!strcmp(ord, "-inf")) ok = ORD_NUM, p = -INFINITY;
    else {
      char *end = NULL;
      p = strtod(ord, &end);
      if (!*ord || !end || *end || isnan(p)) {
        set_error(MX_ERR_INVALID_ARG,
                  "linalg_norm: invalid ord '%s' (expected \"fro\", \"nuc\", \"inf\", \"-inf\" or "
                  "a number)",
                  ord);
        return NULL;
      }
      ok = ORD_NUM;
    }
  }
  norm_params np;
  memset(&np, 0, sizeof np);
  bool flatten_all = false;
  if (!axes) {
    if (ok == ORD_NONE) {
      flatten_all = true;
      np.naxes = a->ndim;
      for (int d = 0; d < a->ndim; d++) np.axes[d] = d;
    } else if (a->ndim == 1 || a->ndim == 2) {
      np.naxes = a->ndim;
      for (int d = 0; d < a->ndim; d++) np.axes[d] = d;
    } else {
      set_error(MX_ERR_INVALID_ARG,
                "linalg_norm: ord '%s' without axes needs a 1-d or 2-d array, got %d dimensions",
                ord, a->ndim);
      return NULL;
    }
  } else {
    if (naxes < 0 || naxes > 2) {
      set_error(MX_ERR_INVALID_ARG, "linalg_norm: received too many axes for norm (%d; at most 2)",
                naxes);
      return NULL;
    }
    for (int i = 0; i < naxes; i++) {
      if (normalize_axis("linalg_norm", axes[i], a->ndim, &np.axes[i]) < 0) return NULL;
      if (i == 1 && np.axes[1] == np.axes[0]) {
        set_error(MX_ERR_INVALID_ARG, "linalg_norm: duplicate axes (%d, %d)", axes[0], axes[1]);
        return NULL;
      }
    }
    np.naxes = naxes;
  }
  mx_dtype dt;
  if (ok == ORD_NONE || flatten_all) {
    np.kind = NORM_L2;
    dt = l2_dtype(a->dtype);
  } else if (ok == ORD_FRO || ok == ORD_NUC) {
    if (np.naxes != 2) {
      set_error(MX_ERR_INVALID_ARG,
                "linalg_norm: norm '%s' only supported for matrices, but received %d axis/axes",
                ord, np.naxes);
      return NULL;
    }
    np.kind = ok == ORD_FRO ? NORM_L2 : NORM_MAT_NUC;
    dt = ok == ORD_FRO ? l2_dtype(a->dtype) : a->dtype;
  } else if (np.naxes == 1) {
    dt = at_least_float(a->dtype);
    np.p = p;
    if (p == 2) np.kind = NORM_L2, dt = l2_dtype(a->dtype);
    else if (p == 0) np.kind = NORM_VEC_ZERO;
    else if (p == 1) np.kind = NORM_VEC_ONE;
    else if (p == INFINITY) np.kind = NORM_VEC_INF;
    else if (p == -INFINITY) np.kind = NORM_VEC_NINF;
    else np.kind = NORM_VEC_P;
  } else if (np.naxes == 2) {
    dt = at_least_float(a->dtype);
    if (p == 1) np.kind = NORM_MAT_ONE;
    else if (p == -1) np.kind = NORM_MAT_NONE;
    else if (p == INFINITY) np.kind = NORM_MAT_INF;
    else if (p == -INFINITY) np.kind = NORM_MAT_NINF;
    else if (p == 2) np.kind = NORM_MAT_TWO;
    else if (p == -2) np.kind = NORM_MAT_NTWO;
    else {
      set_error(MX_ERR_INVALID_ARG, "linalg_norm: invalid ord %s for matrix norm", ord);
      return NULL;
    }
  } else {
    set_error(MX_ERR_INVALID_ARG, "linalg_norm: ord '%s' needs 1 or 2 axes, got %d", ord, np.naxes);
    return NULL;
  }
  if (np.kind >= NORM_MAT_TWO) {
    if (a->dtype != MX_FLOAT32 && a->dtype != MX_FLOAT64) {
      set_error(MX_ERR_DTYPE,
                "linalg_norm: ord '%s' needs singular values; arrays must have type float32 "
                "or float64, received %s",
                ord, mx_dtype_name(a->dtype));
      return NULL;
    }
    dt = a->dtype;
  }
  bool red[MX_MAX_NDIM] = {0};
  for (int i = 0; i < np.naxes; i++) red[np.axes[i]] = true;
  int64_t sh[MX_MAX_NDIM];
  int nd = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (!red[d]) sh[nd++] = a->shape[d];
    else if (keepdims) sh[nd++] = 1;
  }
  return node_new(&prim_norm, dt, sh, nd, &a, 1, &np, sizeof np);
}
