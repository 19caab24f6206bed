/* copy.c — casts, copies and zero-copy views on the CPU. */
#include <string.h>

#include "copy.h"

mx_status cpu_astype(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_status st = array_alloc_donate(out, in, 1);
  if (st < 0) return st;
  if (out->size) array_copy_to_row_major(in[0], array_ptr(out), out->dtype);
  return MX_OK;
}

mx_status cpu_contiguous(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array x = in[0];
  if (x->row_contiguous) {
    array_set_view(out, x, x->strides, x->offset);
    return MX_OK;
  }
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size) array_copy_to_row_major(x, array_ptr(out), out->dtype);
  return MX_OK;
}

/* A reshape is a view when the input's strides allow it: each output dim
 * must map onto a run of input dims that are contiguous with each other. */
bool reshape_view_strides(mx_array x, const int64_t *shape, int ndim, int64_t *out) {
  if (x->row_contiguous) {
    row_major_strides(shape, ndim, out);
    return true;
  }
  /* Walk input dims (size-1 dropped) and output dims together. */
  int64_t ish[MX_MAX_NDIM], ist[MX_MAX_NDIM];
  int ni = 0;
  for (int d = 0; d < x->ndim; d++)
    if (x->shape[d] != 1) {
      ish[ni] = x->shape[d];
      ist[ni] = x->strides[d];
      ni++;
    }
  int i = 0;
  for (int o = 0; o < ndim;) {
    if (shape[o] == 1) {
      out[o] = 1;
      o++;
      continue;
    }
    if (i >= ni) return false;
    /* Group input dims until their product reaches the output dims'. */
    int64_t isz = ish[i], osz = shape[o];
    int i0 = i, o0 = o;
    while (isz != osz) {
      if (isz < osz) {
        if (++i >= ni) return false;
        if (ist[i - 1] != ist[i] * ish[i]) return false;
        isz *= ish[i];
      } else {
        if (++o >= ndim) return false;
        osz *= shape[o];
      }
    }
    (void)i0;
    /* Output dims o0..o take strides from the innermost input stride. */
    int64_t s = ist[i];
    for (int k = o; k >= o0; k--) {
      out[k] = s;
      s *= shape[k];
    }
    i++;
    o++;
  }
  return i == ni;
}

mx_status cpu_reshape(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array x = in[0];
  int64_t strides[MX_MAX_NDIM];
  if (out->size > 0 && reshape_view_strides(x, out->shape, out->ndim, strides)) {
    array_set_view(out, x, strides, x->offset);
    return MX_OK;
  }
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size) array_copy_to_row_major(x, array_ptr(out), out->dtype);
  return MX_OK;
}

mx_status cpu_transpose(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const view_params *p = params;
  mx_array x = in[0];
  int64_t strides[MX_MAX_NDIM];
  for (int d = 0; d < out->ndim; d++) strides[d] = x->strides[p->perm[d]];
  array_set_view(out, x, strides, x->offset);
  return MX_OK;
}

mx_status cpu_broadcast(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  int64_t strides[MX_MAX_NDIM];
  broadcast_strides(in[0], out->shape, out->ndim, strides);
  array_set_view(out, in[0], strides, in[0]->offset);
  return MX_OK;
}

/* as_strided indexes the input's row-major data, so make it dense first
 * when it is a view (the common case is already dense: a view then). */
mx_status cpu_as_strided(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const view_params *p = params;
  mx_array x = in[0];
  if (x->row_contiguous) {
    array_set_view(out, x, p->strides, x->offset + p->offset);
    return MX_OK;
  }
  /* Dense copy of x, then view into it. */
  mx_buffer *b = buffer_new((size_t)x->size * mx_dtype_size(x->dtype));
  if (!b) return mx_last_error_code();
  array_copy_to_row_major(x, b->ptr, x->dtype);
  out->buf = b;
  memcpy(out->strides, p->strides, (size_t)out->ndim * sizeof(int64_t));
  out->offset = p->offset;
  out->row_contiguous = strides_are_row_major(out->shape, out->strides, out->ndim);
  return MX_OK;
}

/* view: same bytes, another dtype. Same element size: the input's strides
 * carry over. Otherwise the last axis is rescaled, which needs it dense. */
mx_status cpu_view(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array x = in[0];
  size_t is = mx_dtype_size(x->dtype), os = mx_dtype_size(out->dtype);
  if (is == os) {
    array_set_view(out, x, x->strides, x->offset);
    return MX_OK;
  }
  if (x->row_contiguous && ((size_t)x->offset * is) % os == 0) {
    int64_t strides[MX_MAX_NDIM];
    row_major_strides(out->shape, out->ndim, strides);
    array_set_view(out, x, strides, (int64_t)((size_t)x->offset * is / os));
    return MX_OK;
  }
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size) array_copy_to_row_major(x, array_ptr(out), x->dtype);
  return MX_OK;
}
