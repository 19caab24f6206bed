/* shape.c — front ends of the shape family: flatten .. trace (reshape,
 * transpose, broadcast_to, as_strided, contiguous, astype and view live in
 * views.c). Most of these are views or compositions of views, as in MLX;
 * concatenate, pad, roll, diag (1-d) and trace have kernels in
 * backend/cpu/shape.c. */
#include <stdlib.h>
#include <string.h>

#include "../backend/cpu/shape.h"
#include "ops_common.h"

static const mx_primitive prim_split = {"split", cpu_slice_axis, NULL};
static const mx_primitive prim_diagonal = {"diagonal", cpu_diagonal_view, NULL};
static const mx_primitive prim_concatenate = {"concatenate", cpu_concatenate, NULL};
static const mx_primitive prim_pad = {"pad", cpu_pad, NULL};
static const mx_primitive prim_roll = {"roll", cpu_roll, NULL};
static const mx_primitive prim_diag = {"diag", cpu_diag_matrix, NULL};
static const mx_primitive prim_trace = {"trace", cpu_trace_sum, NULL};

static int64_t abs64_sat(int64_t v) { return v == INT64_MIN ? INT64_MAX : (v < 0 ? -v : v); }

/* Product of shape[lo..hi) into *out; false (error set) on int64 overflow,
 * which a shape with a zero dimension elsewhere can reach. */
static bool checked_prod(const char *op, const int64_t *shape, int lo, int hi, int64_t *out) {
  int64_t p = 1;
  for (int i = lo; i < hi; i++)
    if (__builtin_mul_overflow(p, shape[i], &p)) {
      set_error(MX_ERR_SHAPE, "%s: dimension sizes overflow int64", op);
      return false;
    }
  *out = p;
  return true;
}

static void free_arrays(mx_array *arrs, size_t n) {
  for (size_t i = 0; i < n; i++) mx_array_free(arrs[i]);
}

/* ------------------------------------------------------------ reshapes */

mx_array mx_flatten(mx_array a, int start_axis, int end_axis) {
  CHECK_INPUT("flatten", a);
  int nd = a->ndim;
  if (nd == 0) return mx_reshape(a, (const int64_t[]){1}, 1);
  /* As MLX: negative axes count from the end, then both are clamped into
   * the array's range before they are checked. */
  int64_t s = (int64_t)start_axis + (start_axis < 0 ? nd : 0);
  int64_t e = (int64_t)end_axis + (end_axis < 0 ? nd : 0);
  if (s < 0) s = 0;
  if (e > nd - 1) e = nd - 1;
  if (e < s) {
    set_error(MX_ERR_INVALID_ARG,
              "flatten: start_axis %d comes after end_axis %d for an array of %d dimensions",
              start_axis, end_axis, nd);
    return NULL;
  }
  if (s >= nd) {
    set_error(MX_ERR_INVALID_ARG, "flatten: invalid start_axis %d for an array of %d dimensions",
              start_axis, nd);
    return NULL;
  }
  if (e < 0) {
    set_error(MX_ERR_INVALID_ARG, "flatten: invalid end_axis %d for an array of %d dimensions",
              end_axis, nd);
    return NULL;
  }
  if (s == e) return mx_array_retain(a);
  int64_t sh[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < s; d++) sh[k++] = a->shape[d];
  if (!checked_prod("flatten", a->shape, (int)s, (int)e + 1, &sh[k])) return NULL;
  k++;
  for (int d = (int)e + 1; d < nd; d++) sh[k++] = a->shape[d];
  return mx_reshape(a, sh, k);
}

mx_array mx_unflatten(mx_array a, int axis, const int64_t *shape, int ndim) {
  CHECK_INPUT("unflatten", a);
  if (ndim <= 0 || !shape) {
    set_error(MX_ERR_INVALID_ARG, "unflatten: the shape to unflatten to cannot be empty");
    return NULL;
  }
  int ax;
  if (normalize_axis("unflatten", axis, a->ndim, &ax) < 0) return NULL;
  if (a->ndim - 1 + ndim > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "unflatten: the result would have %d dimensions (mlxc supports %d)",
              a->ndim - 1 + ndim, MX_MAX_NDIM);
    return NULL;
  }
  int64_t sub[MX_MAX_NDIM];
  int infer = -1;
  int64_t known = 1;
  char s1[SHAPE_STR_CAP];
  for (int i = 0; i < ndim; i++) {
    sub[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        set_error(MX_ERR_INVALID_ARG, "unflatten: can only infer one dimension in %s",
                  fmt_shape(s1, sizeof s1, shape, ndim));
        return NULL;
      }
      infer = i;
    } else if (shape[i] < 0) {
      set_error(MX_ERR_SHAPE, "unflatten: negative dimension in %s",
                fmt_shape(s1, sizeof s1, shape, ndim));
      return NULL;
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      set_error(MX_ERR_SHAPE, "unflatten: shape %s is too large", fmt_shape(s1, sizeof s1, shape, ndim));
      return NULL;
    }
  }
  int64_t dim = a->shape[ax];
  if (infer >= 0 && known != 0) sub[infer] = dim / known;
  int64_t total = infer >= 0 ? (known ? sub[infer] * known : -1) : known;
  if (total != dim) {
    set_error(MX_ERR_SHAPE, "unflatten: cannot unflatten axis %d of size %lld into shape %s", axis,
              (long long)dim, fmt_shape(s1, sizeof s1, shape, ndim));
    return NULL;
  }
  if (ndim == 1) return mx_array_retain(a);
  int64_t sh[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < ax; d++) sh[k++] = a->shape[d];
  for (int i = 0; i < ndim; i++) sh[k++] = sub[i];
  for (int d = ax + 1; d < a->ndim; d++) sh[k++] = a->shape[d];
  return mx_reshape(a, sh, k);
}

mx_array mx_squeeze(mx_array a, const int *axes, int naxes) {
  CHECK_INPUT("squeeze", a);
  bool drop[MX_MAX_NDIM] = {0};
  if (!axes) {
    for (int d = 0; d < a->ndim; d++) drop[d] = a->shape[d] == 1;
  } else {
    if (naxes == 0) return mx_array_retain(a);
    if (naxes < 0) {
      set_error(MX_ERR_INVALID_ARG, "squeeze: negative axis count %d", naxes);
      return NULL;
    }
    for (int i = 0; i < naxes; i++) {
      int ax;
      if (normalize_axis("squeeze", axes[i], a->ndim, &ax) < 0) return NULL;
      if (a->shape[ax] != 1) {
        set_error(MX_ERR_SHAPE, "squeeze: cannot squeeze axis %d of size %lld (only size-1 axes)",
                  axes[i], (long long)a->shape[ax]);
        return NULL;
      }
      if (drop[ax]) {
        set_error(MX_ERR_INVALID_ARG, "squeeze: axis %d given twice", axes[i]);
        return NULL;
      }
      drop[ax] = true;
    }
  }
  int64_t sh[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < a->ndim; d++)
    if (!drop[d]) sh[k++] = a->shape[d];
  return mx_reshape(a, sh, k);
}

mx_array mx_expand_dims(mx_array a, const int *axes, int naxes) {
  CHECK_INPUT("expand_dims", a);
  if (naxes == 0) return mx_array_retain(a);
  if (naxes < 0 || !axes) {
    set_error(MX_ERR_INVALID_ARG, "expand_dims: %d axes given with %s list", naxes,
              axes ? "an axis" : "a NULL");
    return NULL;
  }
  if (naxes > MX_MAX_NDIM - a->ndim) {
    set_error(MX_ERR_SHAPE, "expand_dims: the result would have %lld dimensions (mlxc supports %d)",
              (long long)a->ndim + naxes, MX_MAX_NDIM);
    return NULL;
  }
  int ond = a->ndim + naxes;
  bool added[MX_MAX_NDIM] = {0};
  for (int i = 0; i < naxes; i++) {
    int ax;
    if (normalize_axis("expand_dims", axes[i], ond, &ax) < 0) return NULL;
    if (added[ax]) {
      set_error(MX_ERR_INVALID_ARG, "expand_dims: axis %d given twice", axes[i]);
      return NULL;
    }
    added[ax] = true;
  }
  int64_t sh[MX_MAX_NDIM];
  for (int d = 0, k = 0; d < ond; d++) sh[d] = added[d] ? 1 : a->shape[k++];
  return mx_reshape(a, sh, ond);
}

mx_array mx_atleast_1d(mx_array a) {
  CHECK_INPUT("atleast_1d", a);
  if (a->ndim >= 1) return mx_array_retain(a);
  return mx_reshape(a, (const int64_t[]){1}, 1);
}

mx_array mx_atleast_2d(mx_array a) {
  CHECK_INPUT("atleast_2d", a);
  if (a->ndim == 0) return mx_reshape(a, (const int64_t[]){1, 1}, 2);
  if (a->ndim == 1) return mx_reshape(a, (const int64_t[]){1, a->shape[0]}, 2);
  return mx_array_retain(a);
}

mx_array mx_atleast_3d(mx_array a) {
  CHECK_INPUT("atleast_3d", a);
  if (a->ndim == 0) return mx_reshape(a, (const int64_t[]){1, 1, 1}, 3);
  if (a->ndim == 1) return mx_reshape(a, (const int64_t[]){1, a->shape[0], 1}, 3);
  if (a->ndim == 2) return mx_reshape(a, (const int64_t[]){a->shape[0], a->shape[1], 1}, 3);
  return mx_array_retain(a);
}

/* ------------------------------------------------------------ axis moves */

mx_array mx_swapaxes(mx_array a, int axis1, int axis2) {
  CHECK_INPUT("swapaxes", a);
  int a1, a2;
  if (normalize_axis("swapaxes", axis1, a->ndim, &a1) < 0 ||
      normalize_axis("swapaxes", axis2, a->ndim, &a2) < 0)
    return NULL;
  int perm[MX_MAX_NDIM];
  for (int d = 0; d < a->ndim; d++) perm[d] = d;
  perm[a1] = a2;
  perm[a2] = a1;
  return mx_transpose(a, perm, a->ndim);
}

mx_array mx_moveaxis(mx_array a, int source, int destination) {
  CHECK_INPUT("moveaxis", a);
  int src, dst;
  if (normalize_axis("moveaxis", source, a->ndim, &src) < 0 ||
      normalize_axis("moveaxis", destination, a->ndim, &dst) < 0)
    return NULL;
  if (src == dst) return mx_array_retain(a);
  int rest[MX_MAX_NDIM], perm[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < a->ndim; d++)
    if (d != src) rest[k++] = d;
  for (int d = 0, j = 0; d < a->ndim; d++) perm[d] = d == dst ? src : rest[j++];
  return mx_transpose(a, perm, a->ndim);
}

/* ------------------------------------------------------------ broadcast_arrays */

mx_status mx_broadcast_arrays(const mx_array *arrays, size_t n, mx_array *out) {
  if (n == 0) return MX_OK;
  if (!arrays || !out)
    return set_error(MX_ERR_INVALID_ARG, "broadcast_arrays: NULL %s", arrays ? "output" : "array list");
  if (n > INT32_MAX) return set_error(MX_ERR_INVALID_ARG, "broadcast_arrays: too many arrays");
  if (any_null("broadcast_arrays", arrays, (int)n)) return mx_last_error_code();
  int64_t sh[MX_MAX_NDIM];
  int nd = arrays[0]->ndim;
  memcpy(sh, arrays[0]->shape, (size_t)nd * sizeof *sh);
  for (size_t i = 1; i < n; i++) {
    int64_t tmp[MX_MAX_NDIM];
    int nt;
    mx_status st = broadcast_shapes("broadcast_arrays", sh, nd, arrays[i]->shape, arrays[i]->ndim,
                                    tmp, &nt);
    if (st < 0) return st;
    memcpy(sh, tmp, (size_t)nt * sizeof *sh);
    nd = nt;
  }
  mx_array *res = calloc(n, sizeof *res);
  if (!res) return set_error(MX_ERR_OOM, "broadcast_arrays: out of memory");
  for (size_t i = 0; i < n; i++) {
    res[i] = mx_broadcast_to(arrays[i], sh, nd);
    if (!res[i]) {
      mx_status st = mx_last_error_code();
      free_arrays(res, i);
      free(res);
      return st;
    }
  }
  memcpy(out, res, n * sizeof *out);
  free(res);
  return MX_OK;
}

/* ------------------------------------------------------------ concatenate / stack */

mx_array mx_concatenate(const mx_array *arrays, size_t n, int axis) {
  if (n == 0 || !arrays) {
    set_error(MX_ERR_INVALID_ARG, "concatenate: no arrays given");
    return NULL;
  }
  if (n > INT32_MAX) {
    set_error(MX_ERR_INVALID_ARG, "concatenate: too many arrays (%zu)", n);
    return NULL;
  }
  if (any_null("concatenate", arrays, (int)n)) return NULL;
  if (axis == MX_AXIS_NONE) { /* MLX's concatenate without an axis: flatten all first */
    mx_array *flat = calloc(n, sizeof *flat);
    if (!flat) {
      set_error(MX_ERR_OOM, "concatenate: out of memory");
      return NULL;
    }
    mx_array r = NULL;
    size_t i = 0;
    for (; i < n; i++)
      if (!(flat[i] = mx_flatten(arrays[i], 0, -1))) break;
    if (i == n) r = mx_concatenate(flat, n, 0);
    free_arrays(flat, i);
    free(flat);
    return r;
  }
  if (n == 1) return mx_array_retain(arrays[0]);
  const mx_array a0 = arrays[0];
  int ax;
  if (normalize_axis("concatenate", axis, a0->ndim, &ax) < 0) return NULL;
  int64_t total = 0;
  mx_dtype dt = a0->dtype;
  for (size_t i = 0; i < n; i++) {
    const mx_array x = arrays[i];
    if (x->ndim != a0->ndim) {
      set_error(MX_ERR_SHAPE, "concatenate: array %zu has %d dimensions but array 0 has %d", i,
                x->ndim, a0->ndim);
      return NULL;
    }
    for (int d = 0; d < x->ndim; d++)
      if (d != ax && x->shape[d] != a0->shape[d]) {
        char s0[SHAPE_STR_CAP], s1[SHAPE_STR_CAP];
        set_error(MX_ERR_SHAPE,
                  "concatenate: arrays 0 and %zu differ in dim %d (%lld vs %lld); shapes %s and %s "
                  "may differ only on the concatenation axis %d",
                  i, d, (long long)a0->shape[d], (long long)x->shape[d],
                  fmt_shape(s0, sizeof s0, a0->shape, a0->ndim),
                  fmt_shape(s1, sizeof s1, x->shape, x->ndim), ax);
        return NULL;
      }
    if (__builtin_add_overflow(total, x->shape[ax], &total)) {
      set_error(MX_ERR_SHAPE, "concatenate: the concatenated axis overflows int64");
      return NULL;
    }
    if (i) dt = mx_promote_types(dt, x->dtype);
  }
  int64_t sh[MX_MAX_NDIM];
  memcpy(sh, a0->shape, (size_t)a0->ndim * sizeof *sh);
  sh[ax] = total;
  mx_array *cast = calloc(n, sizeof *cast);
  if (!cast) {
    set_error(MX_ERR_OOM, "concatenate: out of memory");
    return NULL;
  }
  mx_array r = NULL;
  size_t i = 0;
  for (; i < n; i++)
    if (!(cast[i] = cast_to(arrays[i], dt))) break;
  shape_concat_params p = {.axis = ax};
  if (i == n) r = node_new(&prim_concatenate, dt, sh, a0->ndim, cast, (int)n, &p, sizeof p);
  free_arrays(cast, i);
  free(cast);
  return r;
}

mx_array mx_stack(const mx_array *arrays, size_t n, int axis) {
  if (n == 0 || !arrays) {
    set_error(MX_ERR_INVALID_ARG, "stack: no arrays given");
    return NULL;
  }
  if (n > INT32_MAX) {
    set_error(MX_ERR_INVALID_ARG, "stack: too many arrays (%zu)", n);
    return NULL;
  }
  if (any_null("stack", arrays, (int)n)) return NULL;
  const mx_array a0 = arrays[0];
  for (size_t i = 1; i < n; i++) {
    const mx_array x = arrays[i];
    if (x->ndim != a0->ndim ||
        memcmp(x->shape, a0->shape, (size_t)a0->ndim * sizeof(int64_t)) != 0) {
      char s0[SHAPE_STR_CAP], s1[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "stack: all arrays must have the same shape, but array %zu is %s and array 0 is %s",
                i, fmt_shape(s1, sizeof s1, x->shape, x->ndim),
                fmt_shape(s0, sizeof s0, a0->shape, a0->ndim));
      return NULL;
    }
  }
  int ax;
  if (normalize_axis("stack", axis, a0->ndim + 1, &ax) < 0) return NULL;
  mx_array *ex = calloc(n, sizeof *ex);
  if (!ex) {
    set_error(MX_ERR_OOM, "stack: out of memory");
    return NULL;
  }
  mx_array r = NULL;
  size_t i = 0;
  for (; i < n; i++)
    if (!(ex[i] = mx_expand_dims(arrays[i], &ax, 1))) break;
  if (i == n) r = mx_concatenate(ex, n, ax);
  free_arrays(ex, i);
  free(ex);
  return r;
}

/* ------------------------------------------------------------ split */

/* Makes part k = a[..., starts[k] : starts[k] + lens[k], ...] on axis ax
 * (a view) for every k; writes out[] only when all succeed. */
static mx_status split_parts(const char *op, mx_array a, int ax, const int64_t *starts,
                             const int64_t *lens, size_t nparts, mx_array *out) {
  mx_array *res = calloc(nparts, sizeof *res);
  if (!res) return set_error(MX_ERR_OOM, "%s: out of memory", op);
  int64_t sh[MX_MAX_NDIM];
  memcpy(sh, a->shape, (size_t)a->ndim * sizeof *sh);
  for (size_t k = 0; k < nparts; k++) {
    if (starts[k] == 0 && lens[k] == a->shape[ax]) {
      res[k] = mx_array_retain(a);
      continue;
    }
    sh[ax] = lens[k];
    shape_slice_params p = {.axis = ax, .start = starts[k]};
    res[k] = node_new(&prim_split, a->dtype, sh, a->ndim, &a, 1, &p, sizeof p);
    if (!res[k]) {
      mx_status st = mx_last_error_code();
      free_arrays(res, k);
      free(res);
      return st;
    }
  }
  memcpy(out, res, nparts * sizeof *out);
  free(res);
  return MX_OK;
}

mx_status mx_split_sections(mx_array a, int64_t num, int axis, mx_array *out) {
  if (any_null("split_sections", &a, 1)) return mx_last_error_code();
  if (!out) return set_error(MX_ERR_INVALID_ARG, "split_sections: NULL output list");
  int ax;
  mx_status st = normalize_axis("split_sections", axis, a->ndim, &ax);
  if (st < 0) return st;
  if (num <= 0)
    return set_error(MX_ERR_INVALID_ARG,
                     "split_sections: the number of sections must be positive, got %lld",
                     (long long)num);
  int64_t dim = a->shape[ax];
  if (dim % num != 0)
    return set_error(MX_ERR_SHAPE,
                     "split_sections: axis %d of size %lld cannot be split into %lld equal sections",
                     axis, (long long)dim, (long long)num);
  if ((uint64_t)num > SIZE_MAX / (2 * sizeof(int64_t)))
    return set_error(MX_ERR_OOM, "split_sections: %lld sections is too many", (long long)num);
  int64_t *starts = malloc((size_t)num * 2 * sizeof *starts);
  if (!starts) return set_error(MX_ERR_OOM, "split_sections: out of memory");
  int64_t *lens = starts + num, q = dim / num;
  for (int64_t k = 0; k < num; k++) {
    starts[k] = k * q;
    lens[k] = q;
  }
  st = split_parts("split_sections", a, ax, starts, lens, (size_t)num, out);
  free(starts);
  return st;
}

/* Python slice bounds with step 1: negative counts from the end, then
 * clamped into [0, n]. */
static int64_t slice_bound(int64_t i, int64_t n) {
  if (i < 0) i += n;
  return i < 0 ? 0 : (i > n ? n : i);
}

mx_status mx_split_indices(mx_array a, const int64_t *indices, size_t nindices, int axis,
                           mx_array *out) {
  if (any_null("split_indices", &a, 1)) return mx_last_error_code();
  if (!out) return set_error(MX_ERR_INVALID_ARG, "split_indices: NULL output list");
  if (nindices && !indices)
    return set_error(MX_ERR_INVALID_ARG, "split_indices: NULL index list of length %zu", nindices);
  int ax;
  mx_status st = normalize_axis("split_indices", axis, a->ndim, &ax);
  if (st < 0) return st;
  if (nindices >= SIZE_MAX / (2 * sizeof(int64_t)))
    return set_error(MX_ERR_OOM, "split_indices: too many indices");
  size_t np = nindices + 1;
  int64_t *starts = malloc(np * 2 * sizeof *starts);
  if (!starts) return set_error(MX_ERR_OOM, "split_indices: out of memory");
  int64_t *lens = starts + np, n = a->shape[ax];
  /* As numpy.split / MLX: part k is a[indices[k-1]:indices[k]], Python slice
   * semantics, so unsorted indices give empty parts rather than errors. */
  int64_t prev = 0;
  for (size_t k = 0; k < np; k++) {
    int64_t stop = k < nindices ? indices[k] : n;
    int64_t s = slice_bound(prev, n), e = slice_bound(stop, n);
    starts[k] = s;
    lens[k] = e > s ? e - s : 0;
    prev = stop;
  }
  st = split_parts("split_indices", a, ax, starts, lens, np, out);
  free(starts);
  return st;
}

/* ------------------------------------------------------------ tile / repeat */

/* x (shape sh, nd dims) repeated r times as whole blocks on axis ax (tile)
 * or element by element (repeat), through a 4-d (P, s, Q) view so that any
 * rank fits: reshape, insert a broadcast axis, reshape back. */
static mx_array repeat_axis_merged(const char *op, mx_array x, int ax, int64_t r, bool blocks) {
  int nd = x->ndim;
  int64_t P, Q, s = x->shape[ax];
  if (!checked_prod(op, x->shape, 0, ax, &P) || !checked_prod(op, x->shape, ax + 1, nd, &Q))
    return NULL;
  int64_t s3[3] = {P, s, Q};
  int64_t e4[4] = {P, 1, s, Q}, b4[4] = {P, r, s, Q};
  if (!blocks) {
    e4[1] = s, e4[2] = 1;
    b4[1] = s, b4[2] = r;
  }
  int64_t f3[3] = {P, s * r, Q};
  int64_t fin[MX_MAX_NDIM];
  memcpy(fin, x->shape, (size_t)nd * sizeof *fin);
  fin[ax] = s * r;
  mx_array t1 = mx_reshape(x, s3, 3);
  mx_array t2 = t1 ? mx_reshape(t1, e4, 4) : NULL;
  mx_array t3 = t2 ? mx_broadcast_to(t2, b4, 4) : NULL;
  mx_array t4 = t3 ? mx_reshape(t3, f3, 3) : NULL;
  mx_array res = t4 ? mx_reshape(t4, fin, nd) : NULL;
  mx_array_free(t1);
  mx_array_free(t2);
  mx_array_free(t3);
  mx_array_free(t4);
  return res;
}

mx_array mx_tile(mx_array a, const int64_t *reps, int nreps) {
  CHECK_INPUT("tile", a);
  if (nreps < 0 || (nreps > 0 && !reps)) {
    set_error(MX_ERR_INVALID_ARG, "tile: bad repetition list (%d entries%s)", nreps,
              reps ? "" : ", NULL");
    return NULL;
  }
  if (nreps > MX_MAX_NDIM) {
    set_error(MX_ERR_SHAPE, "tile: %d repetitions would give more than %d dimensions", nreps,
              MX_MAX_NDIM);
    return NULL;
  }
  int nd = a->ndim > nreps ? a->ndim : nreps;
  int64_t sh[MX_MAX_NDIM], rp[MX_MAX_NDIM], fin[MX_MAX_NDIM];
  int nrep_axes = 0;
  for (int d = 0; d < nd; d++) {
    int ia = d - (nd - a->ndim), ir = d - (nd - nreps);
    sh[d] = ia >= 0 ? a->shape[ia] : 1;
    rp[d] = ir >= 0 ? reps[ir] : 1;
    if (rp[d] < 0) {
      set_error(MX_ERR_INVALID_ARG, "tile: negative repetition count %lld", (long long)rp[d]);
      return NULL;
    }
    if (__builtin_mul_overflow(sh[d], rp[d], &fin[d])) {
      set_error(MX_ERR_SHAPE, "tile: the result's dimension %d overflows int64", d);
      return NULL;
    }
    if (rp[d] != 1) nrep_axes++;
  }
  int64_t total;
  if (!checked_prod("tile", fin, 0, nd, &total) ||
      total > INT64_MAX / (int64_t)mx_dtype_size(a->dtype)) {
    char s1[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "tile: the result shape %s is too large", fmt_shape(s1, sizeof s1, fin, nd));
    return NULL;
  }
  mx_array x = mx_reshape(a, sh, nd);
  if (!x || nrep_axes == 0) return x;
  if (nd + nrep_axes <= MX_MAX_NDIM) {
    /* One broadcast: (.., 1, s_d, ..) -> (.., r_d, s_d, ..) -> (.., r_d * s_d, ..). */
    int64_t ex[MX_MAX_NDIM], br[MX_MAX_NDIM];
    int k = 0;
    for (int d = 0; d < nd; d++) {
      if (rp[d] != 1) {
        ex[k] = 1;
        br[k++] = rp[d];
      }
      ex[k] = sh[d];
      br[k++] = sh[d];
    }
    mx_array t1 = mx_reshape(x, ex, k);
    mx_array t2 = t1 ? mx_broadcast_to(t1, br, k) : NULL;
    mx_array r = t2 ? mx_reshape(t2, fin, nd) : NULL;
    mx_array_free(t1);
    mx_array_free(t2);
    mx_array_free(x);
    return r;
  }
  /* Too many axes for one broadcast: one axis at a time. */
  for (int d = 0; d < nd && x; d++) {
    if (rp[d] == 1) continue;
    mx_array next = repeat_axis_merged("tile", x, d, rp[d], true);
    mx_array_free(x);
    x = next;
  }
  return x;
}

mx_array mx_repeat(mx_array a, int64_t repeats, int axis) {
  CHECK_INPUT("repeat", a);
  if (axis == MX_AXIS_NONE) {
    mx_array flat = mx_flatten(a, 0, -1);
    mx_array r = flat ? mx_repeat(flat, repeats, 0) : NULL;
    mx_array_free(flat);
    return r;
  }
  int ax;
  if (normalize_axis("repeat", axis, a->ndim, &ax) < 0) return NULL;
  if (repeats < 0) {
    set_error(MX_ERR_INVALID_ARG, "repeat: the number of repeats cannot be negative (got %lld)",
              (long long)repeats);
    return NULL;
  }
  int64_t total;
  if (__builtin_mul_overflow(a->shape[ax], repeats, &total)) {
    set_error(MX_ERR_SHAPE, "repeat: axis %d of size %lld repeated %lld times overflows int64", axis,
              (long long)a->shape[ax], (long long)repeats);
    return NULL;
  }
  if (repeats == 1) return mx_array_retain(a);
  int64_t rest = a->shape[ax] ? a->size / a->shape[ax] : 0, all;
  if (rest && (__builtin_mul_overflow(rest, total, &all) ||
               all > INT64_MAX / (int64_t)mx_dtype_size(a->dtype))) {
    set_error(MX_ERR_SHAPE, "repeat: the result (%lld repeats of axis %d) is too large",
              (long long)repeats, axis);
    return NULL;
  }
  if (a->ndim == MX_MAX_NDIM) return repeat_axis_merged("repeat", a, ax, repeats, false);
  /* (.., s, ..) -> (.., s, 1, ..) -> broadcast (.., s, r, ..) -> (.., s * r, ..) */
  int64_t br[MX_MAX_NDIM], fin[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < a->ndim; d++) {
    br[k++] = a->shape[d];
    if (d == ax) br[k++] = repeats;
    fin[d] = d == ax ? total : a->shape[d];
  }
  int nax = ax + 1;
  mx_array t1 = mx_expand_dims(a, &nax, 1);
  mx_array t2 = t1 ? mx_broadcast_to(t1, br, k) : NULL;
  mx_array r = t2 ? mx_reshape(t2, fin, a->ndim) : NULL;
  mx_array_free(t1);
  mx_array_free(t2);
  return r;
}

/* ------------------------------------------------------------ pad */

mx_array mx_pad(mx_array a, const int64_t *pad_width, mx_array value, mx_pad_mode mode) {
  CHECK_INPUT("pad", a);
  if (mode != MX_PAD_CONSTANT && mode != MX_PAD_EDGE) {
    set_error(MX_ERR_INVALID_ARG, "pad: invalid mode %d (use MX_PAD_CONSTANT or MX_PAD_EDGE)",
              (int)mode);
    return NULL;
  }
  if (a->ndim > 0 && !pad_width) {
    set_error(MX_ERR_INVALID_ARG, "pad: pad_width is NULL");
    return NULL;
  }
  shape_pad_params p;
  memset(&p, 0, sizeof p);
  p.mode = mode == MX_PAD_EDGE ? SHAPE_PAD_EDGE : SHAPE_PAD_CONSTANT;
  int64_t sh[MX_MAX_NDIM];
  bool any = false;
  for (int d = 0; d < a->ndim; d++) {
    int64_t lo = pad_width[2 * d], hi = pad_width[2 * d + 1];
    if (lo < 0 || hi < 0) {
      set_error(MX_ERR_INVALID_ARG,
                "pad: invalid %s padding size (%lld) for axis %d; padding sizes must be non-negative",
                lo < 0 ? "low" : "high", (long long)(lo < 0 ? lo : hi), d);
      return NULL;
    }
    if (__builtin_add_overflow(a->shape[d], lo, &sh[d]) ||
        __builtin_add_overflow(sh[d], hi, &sh[d])) {
      set_error(MX_ERR_SHAPE, "pad: padded axis %d overflows int64", d);
      return NULL;
    }
    if (mode == MX_PAD_EDGE && a->shape[d] == 0 && (lo || hi)) {
      set_error(MX_ERR_SHAPE, "pad: cannot pad empty axis %d using mode 'edge'", d);
      return NULL;
    }
    p.low[d] = lo;
    any |= lo || hi;
  }
  if (mode == MX_PAD_CONSTANT && value) {
    /* MLX's Pad kernel takes a single element; anything bigger is refused here
     * rather than silently using one of its values. */
    if (value->size != 1) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "pad: the constant value must be a scalar, got shape %s",
                fmt_shape(s, sizeof s, value->shape, value->ndim));
      return NULL;
    }
  }
  if (!any) return mx_array_retain(a);
  if (mode == MX_PAD_EDGE) return node_new(&prim_pad, a->dtype, sh, a->ndim, &a, 1, &p, sizeof p);
  mx_array v = value ? cast_to(value, a->dtype) : mx_array_scalar(0, a->dtype);
  if (!v) return NULL;
  mx_array ins[2] = {a, v};
  mx_array r = node_new(&prim_pad, a->dtype, sh, a->ndim, ins, 2, &p, sizeof p);
  mx_array_free(v);
  return r;
}

/* ------------------------------------------------------------ roll */

/* shift mod n, in [0, n) (0 for an empty axis). */
static int64_t mod_shift(int64_t s, int64_t n) {
  if (n <= 0) return 0;
  int64_t m = s % n;
  return m < 0 ? m + n : m;
}

mx_array mx_roll(mx_array a, const int64_t *shift, int nshift, const int *axes, int naxes) {
  CHECK_INPUT("roll", a);
  if (nshift < 1 || !shift) {
    set_error(MX_ERR_INVALID_ARG, "roll: at least one shift value is required (got %d)", nshift);
    return NULL;
  }
  if (!axes) {
    /* As MLX: several shifts without axes add up; roll the flattened array. */
    int64_t total = 0;
    for (int i = 0; i < nshift; i++)
      if (__builtin_add_overflow(total, shift[i], &total)) {
        set_error(MX_ERR_INVALID_ARG, "roll: the total shift overflows int64");
        return NULL;
      }
    mx_array flat = mx_flatten(a, 0, -1);
    int ax0 = 0;
    mx_array r = flat ? mx_roll(flat, &total, 1, &ax0, 1) : NULL;
    mx_array out = r ? mx_reshape(r, a->shape, a->ndim) : NULL;
    mx_array_free(flat);
    mx_array_free(r);
    return out;
  }
  if (naxes <= 0) return mx_array_retain(a);
  if (nshift != 1 && nshift < naxes) {
    set_error(MX_ERR_INVALID_ARG,
              "roll: at least one shift value per axis is required, %d provided for %d axes",
              nshift, naxes);
    return NULL;
  }
  shape_roll_params p;
  memset(&p, 0, sizeof p);
  bool any = false;
  for (int i = 0; i < naxes; i++) {
    int ax;
    if (normalize_axis("roll", axes[i], a->ndim, &ax) < 0) return NULL;
    int64_t n = a->shape[ax], s;
    if (nshift == 1) {
      s = mod_shift(shift[0], n);
    } else if (naxes == 1) { /* as MLX: several shifts on one axis add up */
      s = 0;
      for (int j = 0; j < nshift; j++) s = mod_shift(s + mod_shift(shift[j], n), n);
    } else {
      s = mod_shift(shift[i], n);
    }
    /* A repeated axis rolls twice. */
    p.shift[ax] = mod_shift(p.shift[ax] + s, n);
    any |= p.shift[ax] != 0;
  }
  if (!any) return mx_array_retain(a);
  return node_new(&prim_roll, a->dtype, a->shape, a->ndim, &a, 1, &p, sizeof p);
}

/* ------------------------------------------------------------ meshgrid */

mx_status mx_meshgrid(const mx_array *arrays, size_t n, bool sparse, const char *indexing,
                      mx_array *out) {
  if (!indexing) indexing = "xy";
  if (strcmp(indexing, "xy") != 0 && strcmp(indexing, "ij") != 0)
    return set_error(MX_ERR_INVALID_ARG, "meshgrid: invalid indexing '%s' (use \"xy\" or \"ij\")",
                     indexing);
  if (n == 0) return MX_OK;
  if (!arrays || !out)
    return set_error(MX_ERR_INVALID_ARG, "meshgrid: NULL %s", arrays ? "output list" : "array list");
  if (n > MX_MAX_NDIM)
    return set_error(MX_ERR_SHAPE, "meshgrid: %zu arrays would give more than %d dimensions", n,
                     MX_MAX_NDIM);
  if (any_null("meshgrid", arrays, (int)n)) return mx_last_error_code();
  int nd = (int)n;
  bool xy = strcmp(indexing, "xy") == 0 && nd > 1;
  mx_array grid[MX_MAX_NDIM] = {0};
  for (int i = 0; i < nd; i++) {
    /* Input i (flattened) runs along output axis i; "xy" swaps axes 0 and 1
     * for the first two inputs (Cartesian x by columns, y by rows). */
    int64_t sh[MX_MAX_NDIM];
    for (int d = 0; d < nd; d++) sh[d] = 1;
    int along = xy && i < 2 ? 1 - i : i;
    sh[along] = arrays[i]->size;
    grid[i] = mx_reshape(arrays[i], sh, nd);
    if (!grid[i]) {
      mx_status st = mx_last_error_code();
      free_arrays(grid, (size_t)i);
      return st;
    }
  }
  if (sparse) {
    memcpy(out, grid, n * sizeof *out);
    return MX_OK;
  }
  mx_status st = mx_broadcast_arrays(grid, n, out);
  free_arrays(grid, n);
  return st;
}

/* ------------------------------------------------------------ diagonals */

/* Checks the two axes of a diagonal; errors name `op`. */
static bool diag_axes(const char *op, mx_array a, int axis1, int axis2, int *ax1, int *ax2) {
  if (a->ndim < 2) {
    set_error(MX_ERR_SHAPE, "%s: array must have at least two dimensions, but got %d dimensions", op,
              a->ndim);
    return false;
  }
  if (normalize_axis(op, axis1, a->ndim, ax1) < 0 || normalize_axis(op, axis2, a->ndim, ax2) < 0)
    return false;
  if (*ax1 == *ax2) {
    set_error(MX_ERR_INVALID_ARG, "%s: axis1 and axis2 cannot be the same axis (%d and %d)", op,
              axis1, axis2);
    return false;
  }
  return true;
}

mx_array mx_diagonal(mx_array a, int64_t offset, int axis1, int axis2) {
  CHECK_INPUT("diagonal", a);
  int ax1, ax2;
  if (!diag_axes("diagonal", a, axis1, axis2, &ax1, &ax2)) return NULL;
  int64_t n1 = a->shape[ax1], n2 = a->shape[ax2];
  int64_t off1 = offset < 0 ? abs64_sat(offset) : 0, off2 = offset > 0 ? offset : 0;
  int64_t len1 = n1 - off1, len2 = n2 - off2; /* cannot overflow: n >= 0, off >= 0 */
  int64_t len = len1 < len2 ? len1 : len2;
  if (len <= 0) len = off1 = off2 = 0;
  int64_t sh[MX_MAX_NDIM];
  int k = 0;
  for (int d = 0; d < a->ndim; d++)
    if (d != ax1 && d != ax2) sh[k++] = a->shape[d];
  sh[k++] = len;
  shape_diag_params p = {.ax1 = ax1, .ax2 = ax2, .off1 = off1, .off2 = off2};
  return node_new(&prim_diagonal, a->dtype, sh, k, &a, 1, &p, sizeof p);
}

mx_array mx_diag(mx_array a, int64_t k) {
  CHECK_INPUT("diag", a);
  if (a->ndim == 2) return mx_diagonal(a, k, 0, 1);
  if (a->ndim != 1) {
    set_error(MX_ERR_SHAPE, "diag: array must be 1-d or 2-d, got an array with %d dimensions",
              a->ndim);
    return NULL;
  }
  int64_t m;
  if (__builtin_add_overflow(a->size, abs64_sat(k), &m)) {
    set_error(MX_ERR_SHAPE, "diag: offset %lld makes the matrix too large", (long long)k);
    return NULL;
  }
  shape_diagmat_params p = {.k = k};
  return node_new(&prim_diag, a->dtype, (const int64_t[]){m, m}, 2, &a, 1, &p, sizeof p);
}

/* The dtype MLX's sum gives for an input of dtype t. */
static mx_dtype sum_dtype(mx_dtype t) {
  if (t == MX_BOOL) return MX_INT32;
  if (mx_dtype_is_signed_integer(t)) return mx_dtype_size(t) <= 4 ? MX_INT32 : MX_INT64;
  if (mx_dtype_is_unsigned_integer(t)) return mx_dtype_size(t) <= 4 ? MX_UINT32 : MX_UINT64;
  return t;
}

mx_array mx_trace(mx_array a, int64_t offset, int axis1, int axis2, mx_dtype dtype) {
  CHECK_INPUT("trace", a);
  if (!mx_dtype_is_valid(dtype)) {
    set_error(MX_ERR_DTYPE, "trace: invalid dtype %d", (int)dtype);
    return NULL;
  }
  int ax1, ax2;
  if (!diag_axes("trace", a, axis1, axis2, &ax1, &ax2)) return NULL;
  mx_array d = mx_diagonal(a, offset, axis1, axis2);
  if (!d) return NULL;
  shape_trace_params p = {.mid = dtype};
  mx_array r = node_new(&prim_trace, sum_dtype(dtype), d->shape, d->ndim - 1, &d, 1, &p, sizeof p);
  mx_array_free(d);
  return r;
}
