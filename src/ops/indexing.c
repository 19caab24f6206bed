/* indexing.c — front ends of slice, slice_update, take, take_along_axis,
 * put_along_axis, gather, scatter (+ add/prod/max/min) and masked_scatter.
 *
 * Semantics follow MLX (mlx/ops.cpp), with these deliberate differences:
 * - Out-of-range indices (after one wrap of negative signed indices) fail
 *   the eval with MX_ERR_INVALID_ARG naming the op, the index and the axis
 *   size. MLX does not check and reads/writes out of bounds; we never clamp.
 * - gather/scatter accept negative axes (ops.h convention); MLX rejects them.
 * - Boolean indices give MX_ERR_DTYPE (MLX's scatter throws a bare string).
 * - slice: stop MX_SLICE_END with a negative stride runs through index 0
 *   (Python's omitted stop), which MLX's integer API cannot express; NULL
 *   start means Python's omitted start (0, or the last index when the
 *   stride is negative); NULL stop means MX_SLICE_END.
 * - Plain scatter / put_along_axis with duplicate indices keep the last
 *   update in row-major order of the index space (MLX's CPU order).
 */
#include <string.h>

#include "../backend/cpu/indexing.h"
#include "ops_common.h"

static const mx_primitive prim_slice = {"slice", cpu_slice, NULL};
static const mx_primitive prim_slice_update = {"slice_update", cpu_slice_update, NULL};
static const mx_primitive prim_take = {"take", cpu_take, NULL};
static const mx_primitive prim_gather = {"gather", cpu_gather, NULL};
static const mx_primitive prim_take_along = {"take_along_axis", cpu_take_along_axis, NULL};
static const mx_primitive prim_put_along = {"put_along_axis", cpu_put_along_axis, NULL};
static const mx_primitive prim_scatter = {"scatter", cpu_scatter, NULL};
static const mx_primitive prim_scatter_add = {"scatter_add", cpu_scatter, NULL};
static const mx_primitive prim_scatter_prod = {"scatter_prod", cpu_scatter, NULL};
static const mx_primitive prim_scatter_max = {"scatter_max", cpu_scatter, NULL};
static const mx_primitive prim_scatter_min = {"scatter_min", cpu_scatter, NULL};
static const mx_primitive prim_masked_scatter = {"masked_scatter", cpu_masked_scatter, NULL};

static bool bad_index_dtype(const char *op, mx_array idx) {
  if (idx->dtype == MX_BOOL || !mx_dtype_is_integer(idx->dtype)) {
    set_error(MX_ERR_DTYPE, "%s: indices must be integers, got %s", op, mx_dtype_name(idx->dtype));
    return true;
  }
  return false;
}

/* ---------------------------------------------------------------- slice */

/* Python's slice.indices(): clamps start/stop into the axis and returns the
 * length. stop == MX_SLICE_END means "past the last element walked". */
static int64_t slice_axis(int64_t n, const int64_t *startp, const int64_t *stopp, int64_t step,
                          int64_t *start_out) {
  int64_t s, e;
  if (step > 0) {
    s = startp ? *startp : 0;
    e = stopp ? *stopp : MX_SLICE_END;
    if (s < 0) s = s + n < 0 ? 0 : s + n;
    else if (s > n) s = n;
    if (e < 0) e = e + n < 0 ? 0 : e + n;
    else if (e > n) e = n;
    *start_out = s;
    return e > s ? (e - s - 1) / step + 1 : 0;
  }
  s = startp ? *startp : n - 1;
  e = stopp ? *stopp : MX_SLICE_END;
  if (s < 0) s = s + n < 0 ? -1 : s + n;
  else if (s >= n) s = n - 1;
  if (e == MX_SLICE_END) e = -1;
  else if (e < 0) e = e + n < 0 ? -1 : e + n;
  else if (e >= n) e = n - 1;
  *start_out = s;
  if (e >= s) return 0;
  /* -step may not fit int64 (INT64_MIN): use unsigned arithmetic. */
  uint64_t ustep = (uint64_t)0 - (uint64_t)step;
  return (int64_t)((uint64_t)(s - e - 1) / ustep + 1);
}

/* Fills p and the slice shape; *full is true when the slice is the whole
 * array in order (then no node is needed). */
static mx_status slice_setup(const char *op, mx_array a, const int64_t *start,
                             const int64_t *stop, const int64_t *strides, int naxes,
                             slice_params *p, int64_t *shape, bool *full) {
  if (naxes < 0 || naxes > a->ndim)
    return set_error(MX_ERR_INVALID_ARG, "%s: %d axes given for an array of %d dimensions", op,
                     naxes, a->ndim);
  memset(p, 0, sizeof *p);
  *full = true;
  for (int d = 0; d < a->ndim; d++) {
    int64_t n = a->shape[d];
    int64_t step = d < naxes && strides ? strides[d] : 1;
    if (step == 0) return set_error(MX_ERR_INVALID_ARG, "%s: step 0 on axis %d", op, d);
    int64_t len, s;
    if (d < naxes)
      len = slice_axis(n, start ? &start[d] : NULL, stop ? &stop[d] : NULL, step, &s);
    else
      len = n, s = 0;
    shape[d] = len;
    if (len == 0) s = 0;
    if (len <= 1) step = 1; /* unused: keep strides small */
    p->start[d] = s;
    p->step[d] = step;
    if (len != n || step < 0) *full = false;
  }
  return MX_OK;
}

mx_array mx_slice(mx_array a, const int64_t *start, const int64_t *stop, const int64_t *strides,
                  int naxes) {
  CHECK_INPUT("slice", a);
  slice_params p;
  int64_t shape[MX_MAX_NDIM];
  bool full;
  if (slice_setup("slice", a, start, stop, strides, naxes, &p, shape, &full) < 0) return NULL;
  if (full) return mx_array_retain(a);
  return node_new(&prim_slice, a->dtype, shape, a->ndim, &a, 1, &p, sizeof p);
}

/* True if `s` (ndim ns) broadcasts to `t` (ndim nt). */
static bool broadcastable_to(const int64_t *s, int ns, const int64_t *t, int nt) {
  if (ns > nt) return false;
  for (int i = 0; i < ns; i++) {
    int64_t ds = s[i], dt = t[nt - ns + i];
    if (ds != dt && ds != 1) return false;
  }
  return true;
}

mx_array mx_slice_update(mx_array src, mx_array update, const int64_t *start,
                         const int64_t *stop, const int64_t *strides, int naxes) {
  mx_array ins[2] = {src, update};
  if (any_null("slice_update", ins, 2)) return NULL;
  slice_params p;
  int64_t shape[MX_MAX_NDIM];
  bool full;
  if (slice_setup("slice_update", src, start, stop, strides, naxes, &p, shape, &full) < 0)
    return NULL;
  if (!broadcastable_to(update->shape, update->ndim, shape, src->ndim)) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "slice_update: update of shape %s does not broadcast to the slice %s",
              fmt_shape(s1, sizeof s1, update->shape, update->ndim),
              fmt_shape(s2, sizeof s2, shape, src->ndim));
    return NULL;
  }
  mx_array u = cast_to(update, src->dtype);
  mx_array ub = u ? mx_broadcast_to(u, shape, src->ndim) : NULL;
  mx_array_free(u);
  if (!ub || full) return ub;
  mx_array in2[2] = {src, ub};
  mx_array out = node_new(&prim_slice_update, src->dtype, src->shape, src->ndim, in2, 2, &p,
                          sizeof p);
  mx_array_free(ub);
  return out;
}

/* The array an axis-wise op works on and its axis: `a` itself with the
 * axis normalized, or `a` flattened with axis 0 for MX_AXIS_NONE (MLX's
 * axis=None). Returns a new reference, or NULL with the error set. */
static mx_array along_axis(const char *op, mx_array a, int axis, int *ax) {
  if (axis == MX_AXIS_NONE) {
    int64_t n = a->size;
    *ax = 0;
    return mx_reshape(a, &n, 1);
  }
  if (normalize_axis(op, axis, a->ndim, ax) < 0) return NULL;
  return mx_array_retain(a);
}

/* ----------------------------------------------------------------- take */

mx_array mx_take(mx_array a, mx_array indices, int axis) {
  mx_array ins[2] = {a, indices};
  if (any_null("take", ins, 2)) return NULL;
  if (bad_index_dtype("take", indices)) return NULL;
  int ax;
  mx_array x = along_axis("take", a, axis, &ax);
  if (!x) return NULL;
  mx_array out = NULL;
  if (x->shape[ax] == 0 && indices->size != 0) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_INVALID_ARG, "take: cannot take %lld indices from empty axis %d of shape %s",
              (long long)indices->size, ax, fmt_shape(s, sizeof s, x->shape, x->ndim));
  } else if (x->ndim - 1 + indices->ndim > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "take: result would have %d dimensions (mlxc supports %d)",
              x->ndim - 1 + indices->ndim, MX_MAX_NDIM);
  } else {
    int64_t shape[MX_MAX_NDIM];
    int nd = 0;
    for (int d = 0; d < ax; d++) shape[nd++] = x->shape[d];
    for (int d = 0; d < indices->ndim; d++) shape[nd++] = indices->shape[d];
    for (int d = ax + 1; d < x->ndim; d++) shape[nd++] = x->shape[d];
    take_params p = {ax};
    mx_array in2[2] = {x, indices};
    out = node_new(&prim_take, x->dtype, shape, nd, in2, 2, &p, sizeof p);
  }
  mx_array_free(x);
  return out;
}

/* Broadcasts the dims of a and b except `axis` (same ndim); writes the
 * shapes they are broadcast to (each keeps its own axis dim). */
static mx_status broadcast_except(const char *op, const int64_t *a, const int64_t *b, int nd,
                                  int axis, int64_t *ao, int64_t *bo) {
  for (int d = 0; d < nd; d++) {
    if (d == axis) {
      ao[d] = a[d];
      bo[d] = b[d];
      continue;
    }
    if (a[d] != b[d] && a[d] != 1 && b[d] != 1) {
      char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
      return set_error(MX_ERR_SHAPE, "%s: shapes %s and %s do not broadcast outside axis %d", op,
                       fmt_shape(s1, sizeof s1, a, nd), fmt_shape(s2, sizeof s2, b, nd), axis);
    }
    ao[d] = bo[d] = a[d] == 1 ? b[d] : a[d];
  }
  return MX_OK;
}

mx_array mx_take_along_axis(mx_array a, mx_array indices, int axis) {
  mx_array ins[2] = {a, indices};
  if (any_null("take_along_axis", ins, 2)) return NULL;
  if (bad_index_dtype("take_along_axis", indices)) return NULL;
  int ax;
  mx_array x = along_axis("take_along_axis", a, axis, &ax);
  if (!x) return NULL;
  mx_array out = NULL, xb = NULL, ib = NULL;
  int64_t xs[MX_MAX_NDIM], is[MX_MAX_NDIM];
  if (indices->ndim != x->ndim) {
    set_error(MX_ERR_SHAPE, "take_along_axis: indices have %d dimensions, the array %d",
              indices->ndim, x->ndim);
  } else if (broadcast_except("take_along_axis", x->shape, indices->shape, x->ndim, ax, xs, is) ==
             MX_OK) {
    xb = mx_broadcast_to(x, xs, x->ndim);
    ib = mx_broadcast_to(indices, is, x->ndim);
    along_params p = {ax};
    mx_array in2[2] = {xb, ib};
    if (xb && ib) out = node_new(&prim_take_along, x->dtype, is, x->ndim, in2, 2, &p, sizeof p);
  }
  mx_array_free(xb);
  mx_array_free(ib);
  mx_array_free(x);
  return out;
}

static mx_array put_along(mx_array x, mx_array indices, mx_array values, int ax) {
  const char *op = "put_along_axis";
  int nd = x->ndim;
  if (indices->ndim != nd) {
    set_error(MX_ERR_SHAPE, "%s: indices have %d dimensions, the array %d", op, indices->ndim, nd);
    return NULL;
  }
  if (x->size == 0) return mx_array_retain(x);
  /* Leading dims of values beyond the indices' rank must be 1 (dropped). */
  int vn = values->ndim;
  const int64_t *vs = values->shape;
  while (vn > nd) {
    if (vs[0] != 1) {
      char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "%s: values of shape %s do not broadcast to indices of shape %s",
                op, fmt_shape(s1, sizeof s1, values->shape, values->ndim),
                fmt_shape(s2, sizeof s2, indices->shape, nd));
      return NULL;
    }
    vs++;
    vn--;
  }
  int64_t u0[MX_MAX_NDIM], xs[MX_MAX_NDIM], us[MX_MAX_NDIM];
  int u0n;
  if (broadcast_shapes(op, indices->shape, nd, vs, vn, u0, &u0n) < 0) return NULL;
  if (broadcast_except(op, x->shape, u0, nd, ax, xs, us) < 0) return NULL;
  mx_array v = cast_to(values, x->dtype);
  mx_array vr = v ? mx_reshape(v, vs, vn) : NULL;
  mx_array xb = mx_broadcast_to(x, xs, nd);
  mx_array ib = mx_broadcast_to(indices, us, nd);
  mx_array vb = vr ? mx_broadcast_to(vr, us, nd) : NULL;
  mx_array out = NULL;
  if (xb && ib && vb) {
    along_params p = {ax};
    mx_array in3[3] = {xb, ib, vb};
    out = node_new(&prim_put_along, x->dtype, xs, nd, in3, 3, &p, sizeof p);
  }
  mx_array_free(v);
  mx_array_free(vr);
  mx_array_free(xb);
  mx_array_free(ib);
  mx_array_free(vb);
  return out;
}

mx_array mx_put_along_axis(mx_array a, mx_array indices, mx_array values, int axis) {
  mx_array ins[3] = {a, indices, values};
  if (any_null("put_along_axis", ins, 3)) return NULL;
  if (bad_index_dtype("put_along_axis", indices)) return NULL;
  if (axis != MX_AXIS_NONE) {
    int ax;
    if (normalize_axis("put_along_axis", axis, a->ndim, &ax) < 0) return NULL;
    return put_along(a, indices, values, ax);
  }
  /* As MLX's Python binding: on the flattened array, reshaped back. */
  int64_t n = a->size;
  mx_array x = mx_reshape(a, &n, 1);
  mx_array r = x ? put_along(x, indices, values, 0) : NULL;
  mx_array out = r ? mx_reshape(r, a->shape, a->ndim) : NULL;
  mx_array_free(r);
  mx_array_free(x);
  return out;
}

/* --------------------------------------------------------- gather/scatter */

/* Shared checks of gather and scatter: index arrays, their axes (written
 * normalized to axes_out) and dtypes; the broadcast index shape; and the
 * broadcast index arrays (new references in bidx, freed by the caller). */
static mx_status index_setup(const char *op, mx_array a, const mx_array *indices, size_t n,
                             const int *axes, int *axes_out, int64_t *ishape, int *indim,
                             mx_array *bidx) {
  if (n > (size_t)a->ndim)
    return set_error(MX_ERR_INVALID_ARG, "%s: %zu index arrays for an array of %d dimensions", op,
                     n, a->ndim);
  if (n && (!indices || !axes))
    return set_error(MX_ERR_INVALID_ARG, "%s: %zu index arrays but %s is NULL", op, n,
                     !indices ? "indices" : "axes");
  if (n && any_null(op, indices, (int)n)) return MX_ERR_NULL_INPUT;
  bool seen[MX_MAX_NDIM] = {0};
  mx_dtype common = MX_DTYPE_COUNT;
  for (size_t i = 0; i < n; i++) {
    int ax;
    if (normalize_axis(op, axes[i], a->ndim, &ax) < 0) return mx_last_error_code();
    if (seen[ax]) return set_error(MX_ERR_INVALID_ARG, "%s: axis %d given twice", op, axes[i]);
    seen[ax] = true;
    axes_out[i] = ax;
    if (indices[i]->dtype == MX_BOOL)
      return set_error(MX_ERR_DTYPE, "%s: boolean indices are not supported (index array %zu)",
                       op, i);
    common = i == 0 ? indices[i]->dtype : mx_promote_types(common, indices[i]->dtype);
  }
  /* MLX promotes the index arrays together first: int64 with uint64 becomes
   * float32 there, and is rejected like any float index. */
  if (n && !mx_dtype_is_integer(common))
    return set_error(MX_ERR_DTYPE, "%s: indices must be integers, got %s", op,
                     mx_dtype_name(common));
  *indim = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t tmp[MX_MAX_NDIM];
    int tn;
    if (broadcast_shapes(op, ishape, *indim, indices[i]->shape, indices[i]->ndim, tmp, &tn) < 0)
      return mx_last_error_code();
    memcpy(ishape, tmp, (size_t)tn * sizeof *tmp);
    *indim = tn;
  }
  for (size_t i = 0; i < n; i++) {
    bidx[i] = mx_broadcast_to(indices[i], ishape, *indim);
    if (!bidx[i]) return mx_last_error_code();
  }
  return MX_OK;
}

static void free_all(mx_array *v, size_t n) {
  for (size_t i = 0; i < n; i++) mx_array_free(v[i]);
}

mx_array mx_gather(mx_array a, const mx_array *indices, size_t nindices, const int *axes,
                   const int64_t *slice_sizes) {
  CHECK_INPUT("gather", a);
  gather_params p;
  memset(&p, 0, sizeof p);
  int64_t ishape[MX_MAX_NDIM];
  int indim = 0;
  mx_array in[1 + MX_MAX_NDIM] = {0};
  mx_array out = NULL;
  if (index_setup("gather", a, indices, nindices, axes, p.axes, ishape, &indim, in + 1) < 0)
    goto done;
  p.nidx = (int)nindices;
  if (a->ndim && !slice_sizes) {
    set_error(MX_ERR_INVALID_ARG, "gather: slice_sizes is NULL");
    goto done;
  }
  int64_t total = 1, isize = shape_size(ishape, indim);
  bool neg = false;
  for (int d = 0; d < a->ndim; d++) {
    p.slice_sizes[d] = slice_sizes[d];
    total *= slice_sizes[d] < 0 ? 0 : slice_sizes[d];
    if (slice_sizes[d] < 0) neg = true;
  }
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  if (a->size == 0) {
    if (neg || (isize != 0 && total != 0)) {
      set_error(MX_ERR_INVALID_ARG,
                "gather: the input %s is empty, so the indices or the slice sizes %s must be",
                fmt_shape(s1, sizeof s1, a->shape, a->ndim),
                fmt_shape(s2, sizeof s2, slice_sizes, a->ndim));
      goto done;
    }
  } else {
    for (int d = 0; d < a->ndim; d++)
      if (slice_sizes[d] < 0 || slice_sizes[d] > a->shape[d]) {
        set_error(MX_ERR_INVALID_ARG,
                  "gather: slice sizes %s must be in [0, dim] for an array of shape %s",
                  fmt_shape(s1, sizeof s1, slice_sizes, a->ndim),
                  fmt_shape(s2, sizeof s2, a->shape, a->ndim));
        goto done;
      }
  }
  if (indim + a->ndim > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "gather: result would have %d dimensions (mlxc supports %d)",
              indim + a->ndim, MX_MAX_NDIM);
    goto done;
  }
  int64_t shape[MX_MAX_NDIM];
  memcpy(shape, ishape, (size_t)indim * sizeof *shape);
  memcpy(shape + indim, p.slice_sizes, (size_t)a->ndim * sizeof *shape);
  in[0] = a;
  out = node_new(&prim_gather, a->dtype, shape, indim + a->ndim, in, 1 + (int)nindices, &p,
                 sizeof p);
done:
  free_all(in + 1, nindices <= MX_MAX_NDIM ? nindices : 0);
  return out;
}

static mx_array scatter_impl(const mx_primitive *prim, scatter_mode mode, mx_array a,
                             const mx_array *indices, size_t n, mx_array updates,
                             const int *axes) {
  const char *op = prim->name;
  mx_array ins[2] = {a, updates};
  if (any_null(op, ins, 2)) return NULL;
  scatter_params p;
  memset(&p, 0, sizeof p);
  p.mode = mode;
  int64_t ishape[MX_MAX_NDIM];
  int indim = 0;
  mx_array in[2 + MX_MAX_NDIM] = {0};
  mx_array out = NULL, upd = NULL;
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  if (index_setup(op, a, indices, n, axes, p.axes, ishape, &indim, in + 1) < 0) goto done;
  p.nidx = (int)n;
  if (updates->ndim != a->ndim + indim) {
    set_error(MX_ERR_SHAPE,
              "%s: updates have %d dimensions, expected %d (indices %d + array %d)", op,
              updates->ndim, a->ndim + indim, indim, a->ndim);
    goto done;
  }
  for (int d = 0; d < indim; d++)
    if (updates->shape[d] != ishape[d]) {
      set_error(MX_ERR_SHAPE, "%s: updates of shape %s do not start with the index shape %s", op,
                fmt_shape(s1, sizeof s1, updates->shape, updates->ndim),
                fmt_shape(s2, sizeof s2, ishape, indim));
      goto done;
    }
  for (int d = 0; d < a->ndim; d++)
    if (updates->shape[indim + d] > a->shape[d]) {
      set_error(MX_ERR_SHAPE, "%s: updates of shape %s are too large for an array of shape %s",
                op, fmt_shape(s1, sizeof s1, updates->shape, updates->ndim),
                fmt_shape(s2, sizeof s2, a->shape, a->ndim));
      goto done;
    }
  upd = cast_to(updates, a->dtype);
  if (!upd) goto done;
  in[0] = a;
  in[1 + n] = upd;
  out = node_new(prim, a->dtype, a->shape, a->ndim, in, 2 + (int)n, &p, sizeof p);
done:
  free_all(in + 1, n <= MX_MAX_NDIM ? n : 0);
  mx_array_free(upd);
  return out;
}

mx_array mx_scatter(mx_array a, const mx_array *indices, size_t nindices, mx_array updates,
                    const int *axes) {
  return scatter_impl(&prim_scatter, SCATTER_NONE, a, indices, nindices, updates, axes);
}
mx_array mx_scatter_add(mx_array a, const mx_array *indices, size_t nindices, mx_array updates,
                        const int *axes) {
  return scatter_impl(&prim_scatter_add, SCATTER_ADD, a, indices, nindices, updates, axes);
}
mx_array mx_scatter_prod(mx_array a, const mx_array *indices, size_t nindices, mx_array updates,
                         const int *axes) {
  return scatter_impl(&prim_scatter_prod, SCATTER_PROD, a, indices, nindices, updates, axes);
}
mx_array mx_scatter_max(mx_array a, const mx_array *indices, size_t nindices, mx_array updates,
                        const int *axes) {
  return scatter_impl(&prim_scatter_max, SCATTER_MAX, a, indices, nindices, updates, axes);
}
mx_array mx_scatter_min(mx_array a, const mx_array *indices, size_t nindices, mx_array updates,
                        const int *axes) {
  return scatter_impl(&prim_scatter_min, SCATTER_MIN, a, indices, nindices, updates, axes);
}

/* -------------------------------------------------------- masked_scatter */

mx_array mx_masked_scatter(mx_array a, mx_array mask, mx_array src) {
  const char *op = "masked_scatter";
  mx_array ins[3] = {a, mask, src};
  if (any_null(op, ins, 3)) return NULL;
  if (mask->dtype != MX_BOOL) {
    set_error(MX_ERR_DTYPE, "%s: the mask must be bool, got %s", op, mx_dtype_name(mask->dtype));
    return NULL;
  }
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  if (mask->ndim > a->ndim ||
      memcmp(mask->shape, a->shape, (size_t)mask->ndim * sizeof *mask->shape) != 0) {
    set_error(MX_ERR_SHAPE, "%s: the mask of shape %s must match the leading dims of shape %s", op,
              fmt_shape(s1, sizeof s1, mask->shape, mask->ndim),
              fmt_shape(s2, sizeof s2, a->shape, a->ndim));
    return NULL;
  }
  int tail = a->ndim - mask->ndim;
  if (src->ndim > tail + 1) {
    set_error(MX_ERR_SHAPE, "%s: source of shape %s has more than %d dimensions", op,
              fmt_shape(s1, sizeof s1, src->shape, src->ndim), tail + 1);
    return NULL;
  }
  /* The source becomes (k, a.shape[mask.ndim:]): a source of full rank keeps
   * its leading k; a lower-rank one is broadcast with k = mask.size. */
  int64_t vs[MX_MAX_NDIM + 1];
  int vn = tail + 1;
  for (int d = 0; d < tail; d++) vs[1 + d] = a->shape[mask->ndim + d];
  mx_array v = cast_to(src, a->dtype), vr = NULL, vb = NULL, out = NULL;
  if (!v) return NULL;
  if (src->ndim == vn) {
    vs[0] = src->shape[0];
    vr = mx_array_retain(v);
  } else {
    int64_t rs[MX_MAX_NDIM + 1];
    int pad = vn - src->ndim;
    for (int d = 0; d < pad; d++) rs[d] = 1;
    memcpy(rs + pad, src->shape, (size_t)src->ndim * sizeof *rs);
    vs[0] = mask->size;
    vr = mx_reshape(v, rs, vn);
  }
  if (vr && !broadcastable_to(vr->shape, vr->ndim, vs, vn)) {
    set_error(MX_ERR_SHAPE, "%s: source of shape %s does not broadcast to %s", op,
              fmt_shape(s1, sizeof s1, src->shape, src->ndim), fmt_shape(s2, sizeof s2, vs, vn));
  } else if (vr) {
    vb = mx_broadcast_to(vr, vs, vn);
    mx_array in3[3] = {a, mask, vb};
    if (vb) out = node_new(&prim_masked_scatter, a->dtype, a->shape, a->ndim, in3, 3, NULL, 0);
  }
  mx_array_free(v);
  mx_array_free(vr);
  mx_array_free(vb);
  return out;
}
