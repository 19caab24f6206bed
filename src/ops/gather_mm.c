/* gather_mm.c — front end of MLX's gather_mm (per-row batch-matrix
 * selection, the dense half of mixture-of-experts layers; the quantized
 * half is gather_qmm in quantized.c). Argument checks, shapes and dtypes
 * as mlx/ops.cpp; the kernel is src/backend/cpu/gather_mm.c.
 *
 * Deviation: float64 is rejected here with MX_ERR_DTYPE (MLX builds the
 * node and its CPU kernel then throws at evaluation; it also throws for
 * f16/bf16, which we compute in f32 instead). */
#include <string.h>

#include "../backend/cpu/gather_mm.h"
#include "ops_common.h"

static const mx_primitive prim_gather_mm = {"gather_mm", cpu_gather_mm, NULL};

/* The given indices as uint32, or arange over x's batch dims reshaped to
 * them (MLX's indices_or_default). */
static mx_array indices_or_default(mx_array idx, mx_array x, const char *which) {
  if (idx) {
    if (!mx_dtype_is_integer(idx->dtype)) {
      set_error(MX_ERR_DTYPE, "gather_mm: %s must be integral but got %s", which,
                mx_dtype_name(idx->dtype));
      return NULL;
    }
    return mx_astype(idx, MX_UINT32);
  }
  int64_t total = shape_size(x->shape, x->ndim - 2);
  mx_array r = mx_arange(0, (double)total, 1, MX_UINT32);
  mx_array s = r ? mx_reshape(r, x->shape, x->ndim - 2) : NULL;
  mx_array_free(r);
  return s;
}

static void free_all(mx_array *a, int n) {
  for (int i = 0; i < n; i++) mx_array_free(a[i]);
}

mx_array mx_gather_mm(mx_array a, mx_array b, mx_array lhs_indices, mx_array rhs_indices,
                      bool sorted_indices) {
  if (!lhs_indices && !rhs_indices) return mx_matmul(a, b);
  mx_array ab[2] = {a, b};
  if (any_null("gather_mm", ab, 2)) return NULL;
  if (lhs_indices) CHECK_INPUT("gather_mm", lhs_indices);
  if (rhs_indices) CHECK_INPUT("gather_mm", rhs_indices);
  if (a->ndim == 0 || b->ndim == 0) {
    set_error(MX_ERR_SHAPE, "gather_mm: got a 0-dimensional input (ndim %d and %d); inputs "
                            "must have at least one dimension", a->ndim, b->ndim);
    return NULL;
  }
  mx_dtype dt = mx_promote_types(a->dtype, b->dtype);
  if (dt != MX_FLOAT32 && dt != MX_FLOAT16 && dt != MX_BFLOAT16) {
    set_error(MX_ERR_DTYPE, "gather_mm: %s and %s promote to %s; only float32, float16 and "
                            "bfloat16 are supported", mx_dtype_name(a->dtype),
              mx_dtype_name(b->dtype), mx_dtype_name(dt));
    return NULL;
  }
  int a_nd = a->ndim, b_nd = b->ndim;
  /* A vector a is one row, a vector b one column (dropped again below). */
  mx_array la = a_nd == 1 ? mx_expand_dims(a, (int[]){0}, 1) : mx_array_retain(a);
  mx_array lb = b_nd == 1 ? mx_expand_dims(b, (int[]){1}, 1) : mx_array_retain(b);
  mx_array li = NULL, ri = NULL, bi[2] = {NULL, NULL}, res = NULL;
  if (!la || !lb) goto done;
  if (la->shape[la->ndim - 1] != lb->shape[lb->ndim - 2]) {
    char sa[SHAPE_STR_CAP], sb[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "gather_mm: last dimension of a %s must match the second to last "
                            "dimension of b %s",
              fmt_shape(sa, sizeof sa, la->shape, la->ndim),
              fmt_shape(sb, sizeof sb, lb->shape, lb->ndim));
    goto done;
  }
  li = indices_or_default(lhs_indices, la, "lhs_indices");
  ri = li ? indices_or_default(rhs_indices, lb, "rhs_indices") : NULL;
  if (!li || !ri) goto done;
  if (mx_broadcast_arrays((mx_array[2]){li, ri}, 2, bi) < 0) goto done;
  int nb = bi[0]->ndim;
  if (nb + 2 > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "gather_mm: indices of rank %d leave no room for the output", nb);
    goto done;
  }
  int64_t shp[MX_MAX_NDIM];
  memcpy(shp, bi[0]->shape, (size_t)nb * sizeof(int64_t));
  shp[nb] = la->shape[la->ndim - 2];
  shp[nb + 1] = lb->shape[lb->ndim - 1];
  mx_array in[4] = {cast_to(la, dt), cast_to(lb, dt), mx_array_retain(bi[0]),
                    mx_array_retain(bi[1])};
  gather_mm_params p = {sorted_indices};
  if (!any_null("gather_mm", in, 4)) res = node_new(&prim_gather_mm, dt, shp, nb + 2, in, 4,
                                                     &p, sizeof p);
  free_all(in, 4);
  if (res && (a_nd == 1 || b_nd == 1)) {
    int ax[2], n = 0;
    if (a_nd == 1) ax[n++] = nb;
    if (b_nd == 1) ax[n++] = nb + 1;
    mx_array s = mx_squeeze(res, ax, n);
    mx_array_free(res);
    res = s;
  }
done:
  mx_array_free(la);
  mx_array_free(lb);
  mx_array_free(li);
  mx_array_free(ri);
  free_all(bi, 2);
  return res;
}
