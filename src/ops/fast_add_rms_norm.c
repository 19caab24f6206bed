/* fast_add_rms_norm.c — front end of the residual add + RMSNorm of a
 * pre-norm transformer block as one node (src/backend/cpu/fast_fused.h),
 * an internal mlxc op: h = x + d is the residual stream, rms_norm(h) the
 * next sublayer's input. A node has one output, so the node's output holds
 * both, (2, *x.shape), and h and the norm are two views of it (views cost
 * no kernel). Anything the kernels do not cover is the chain itself. */
#include <string.h>

#include "mlxc/fast.h"

#include "../backend/cpu/copy.h"
#include "../backend/cpu/fast_fused.h"
#include "ops_common.h"

static const mx_primitive prim_add_norm = {"fast_add_rms_norm", cpu_fast_add_rms_norm, NULL};

static bool fusable(mx_array x, mx_array d, mx_array w) {
  mx_dtype t = x->dtype;
  if (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) return false;
  /* On a GPU stream, f32 stays the chain: the fused kernel's f32 norm was
   * not the chain's bits on the H200 (half inputs were), and the corrected
   * kernel (cuda_fast_ops.c) has not run on a GPU yet. */
  if (t == MX_FLOAT32 && mx_default_stream().device.type == MX_GPU) return false;
  if (d->dtype != t || !w || w->dtype != t || x->ndim < 1 || d->ndim != x->ndim ||
      w->ndim != 1 || w->shape[0] != x->shape[x->ndim - 1] || x->ndim >= MX_MAX_NDIM)
    return false;
  for (int i = 0; i < x->ndim; i++)
    if (x->shape[i] != d->shape[i]) return false;
  return x->size > 0;
}

/* The packed output P whose [0] x is a still-pending view of (the h that
 * an earlier fast_add_rms_norm returned), or NULL: reading P directly
 * spares evaluating the view. */
static mx_array packed_source(mx_array x) {
  if (atomic_load(&x->state) != ARRAY_PENDING || !x->prim || !x->params || x->nin != 1 ||
      strcmp(x->prim->name, "as_strided") != 0)
    return NULL;
  mx_array P = x->inputs[0];
  if (P->ndim != x->ndim + 1 || P->shape[0] != 2 || P->dtype != x->dtype) return NULL;
  int64_t st[MX_MAX_NDIM];
  row_major_strides(x->shape, x->ndim, st);
  const view_params *vp = x->params;
  if (vp->offset != 0) return NULL;
  for (int i = 0; i < x->ndim; i++)
    if (P->shape[i + 1] != x->shape[i] || (x->shape[i] > 1 && vp->strides[i] != st[i]))
      return NULL;
  return P;
}

mx_status fast_add_rms_norm(mx_array x, mx_array d, mx_array w, float eps, mx_array *h,
                            mx_array *y) {
  *h = *y = NULL;
  if (any_null("add_rms_norm", (mx_array[]){x, d}, 2))
    return mx_last_error_code() ? mx_last_error_code() : MX_ERR_NULL_INPUT;
  if (!fusable(x, d, w)) {
    *h = mx_add(x, d);
    *y = *h ? mx_fast_rms_norm(*h, w, eps) : NULL;
    if (*y) return MX_OK;
    mx_array_free(*h);
    *h = NULL;
    return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
  }
  int64_t shape[MX_MAX_NDIM], strides[MX_MAX_NDIM];
  shape[0] = 2;
  memcpy(shape + 1, x->shape, (size_t)x->ndim * sizeof *shape);
  fast_add_norm_params p = {eps, false};
  mx_array in[3] = {x, d, w};
  mx_array P = packed_source(x);
  if (P) {
    in[0] = P;
    p.x_packed = true;
  }
  mx_array both = node_new(&prim_add_norm, x->dtype, shape, x->ndim + 1, in, 3, &p, sizeof p);
  if (!both) return mx_last_error_code();
  row_major_strides(x->shape, x->ndim, strides);
  *h = mx_as_strided(both, x->shape, x->ndim, strides, 0);
  *y = *h ? mx_as_strided(both, x->shape, x->ndim, strides, x->size) : NULL;
  mx_array_free(both);
  if (*y) return MX_OK;
  mx_array_free(*h);
  *h = NULL;
  return mx_last_error_code();
}
