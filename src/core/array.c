/* array.c — array handles: creation, references, queries, data access. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/cpu/cpu.h"
#include "core.h"
#include "scope.h"

int64_t shape_size(const int64_t *shape, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

int64_t row_major_strides(const int64_t *shape, int ndim, int64_t *strides) {
  int64_t n = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    strides[i] = n;
    n *= shape[i];
  }
  return n;
}

bool strides_are_row_major(const int64_t *shape, const int64_t *strides, int ndim) {
  int64_t expect = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

/* Checks a shape: ndim in range, no negative dim, size fits in int64 and in
 * bytes. */
static mx_status check_shape(const char *op, const int64_t *shape, int ndim, mx_dtype dtype) {
  if (ndim < 0 || ndim > MX_MAX_NDIM)
    return set_error(MX_ERR_SHAPE, "%s: %d dimensions (mlxc supports 0..%d)", op, ndim,
                     MX_MAX_NDIM);
  if (ndim > 0 && !shape)
    return set_error(MX_ERR_INVALID_ARG, "%s: shape is NULL with ndim %d", op, ndim);
  if (!mx_dtype_is_valid(dtype))
    return set_error(MX_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
  /* The product of the non-zero dims must fit: an empty array with huge
   * other dims would still overflow code that multiplies a prefix of them. */
  int64_t n = 1;
  int64_t max_elems = INT64_MAX / (int64_t)mx_dtype_size(dtype);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char s[SHAPE_STR_CAP];
      return set_error(MX_ERR_SHAPE, "%s: negative dimension in shape %s", op,
                       fmt_shape(s, sizeof s, shape, ndim));
    }
    if (shape[i] && n > max_elems / shape[i]) {
      char s[SHAPE_STR_CAP];
      return set_error(MX_ERR_SHAPE, "%s: shape %s is too large", op,
                       fmt_shape(s, sizeof s, shape, ndim));
    }
    if (shape[i]) n *= shape[i];
  }
  return MX_OK;
}

static mx_array array_blank(mx_dtype dtype, const int64_t *shape, int ndim) {
  mx_array a = calloc(1, sizeof *a);
  if (!a) {
    set_error(MX_ERR_OOM, "array: out of memory");
    return NULL;
  }
  atomic_init(&a->refs, 1);
  atomic_init(&a->state, ARRAY_PENDING);
  a->dtype = dtype;
  a->ndim = ndim;
  if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
  a->size = shape_size(shape, ndim);
  a->stream = mx_default_stream();
  a->scope_level = -1;
  a->scope_slot = -1;
  return a;
}

mx_array node_new(const mx_primitive *prim, mx_dtype dtype, const int64_t *shape, int ndim,
                  const mx_array *inputs, int nin, const void *params, size_t params_size) {
  if (nin > 0 && any_null(prim->name, inputs, nin)) return NULL;
  if (check_shape(prim->name, shape, ndim, dtype) < 0) return NULL;
  mx_array a = array_blank(dtype, shape, ndim);
  if (!a) return NULL;
  a->prim = prim;
  if (params_size) {
    a->params = malloc(params_size);
    if (!a->params) {
      free(a);
      set_error(MX_ERR_OOM, "%s: out of memory", prim->name);
      return NULL;
    }
    memcpy(a->params, params, params_size);
  }
  if (nin) {
    a->inputs = malloc((size_t)nin * sizeof *a->inputs);
    if (!a->inputs) {
      free(a->params);
      free(a);
      set_error(MX_ERR_OOM, "%s: out of memory", prim->name);
      return NULL;
    }
    for (int i = 0; i < nin; i++) a->inputs[i] = array_retain(inputs[i]);
  }
  a->nin = nin;
  scope_register(a);
  return a;
}

mx_status array_alloc(mx_array out) {
  size_t nbytes = (size_t)out->size * mx_dtype_size(out->dtype);
  out->buf = exec_on_gpu() ? buffer_new_device(nbytes) : buffer_new(nbytes);
  if (!out->buf) return mx_last_error_code();
  row_major_strides(out->shape, out->ndim, out->strides);
  out->offset = 0;
  out->row_contiguous = true;
  return MX_OK;
}

mx_status array_alloc_donate(mx_array out, mx_array const *in, int nin) {
  size_t nbytes = (size_t)out->size * mx_dtype_size(out->dtype);
  for (int i = 0; i < nin; i++) {
    mx_array x = in[i];
    /* Only this node holds x, only x holds its buffer, and x covers it all. */
    if (atomic_load(&x->refs) == 1 && x->buf && !x->buf->borrowed &&
        atomic_load(&x->buf->refs) == 1 && x->row_contiguous && x->offset == 0 &&
        x->size == out->size && mx_dtype_size(x->dtype) == mx_dtype_size(out->dtype) &&
        x->buf->nbytes == nbytes) {
      buffer_retain(x->buf);
      out->buf = x->buf;
      /* The kernel overwrites it on its own device: the other copy is stale. */
      x->buf->valid = exec_on_gpu() ? BUF_DEVICE : BUF_HOST;
      if (exec_on_gpu()) buffer_note_device_write(x->buf);
      row_major_strides(out->shape, out->ndim, out->strides);
      out->offset = 0;
      out->row_contiguous = true;
      return MX_OK;
    }
  }
  return array_alloc(out);
}

void array_set_view(mx_array out, mx_array src, const int64_t *strides, int64_t offset) {
  buffer_retain(src->buf);
  out->buf = src->buf;
  if (out->ndim) memcpy(out->strides, strides, (size_t)out->ndim * sizeof *strides);
  out->offset = offset;
  out->row_contiguous = strides_are_row_major(out->shape, out->strides, out->ndim);
}

mx_array array_new_alloc(mx_dtype dtype, const int64_t *shape, int ndim) {
  if (check_shape("array", shape, ndim, dtype) < 0) return NULL;
  mx_array a = array_blank(dtype, shape, ndim);
  if (!a) return NULL;
  if (array_alloc(a) < 0) {
    free(a);
    return NULL;
  }
  atomic_store(&a->state, ARRAY_EVALUATED);
  scope_register(a);
  return a;
}

/* ---- creation from host data ---- */

mx_array mx_array_from_data(const void *data, const int64_t *shape, int ndim, mx_dtype dtype) {
  if (check_shape("array_from_data", shape, ndim, dtype) < 0) return NULL;
  if (!data && shape_size(shape, ndim) > 0) {
    set_error(MX_ERR_INVALID_ARG, "array_from_data: data is NULL");
    return NULL;
  }
  mx_array a = array_new_alloc(dtype, shape, ndim);
  if (a && a->size) memcpy(a->buf->ptr, data, (size_t)a->size * mx_dtype_size(dtype));
  return a;
}

mx_array mx_array_from_borrowed(void *data, const int64_t *shape, int ndim, mx_dtype dtype,
                                void (*release)(void *), void *ctx) {
  if (check_shape("array_from_borrowed", shape, ndim, dtype) < 0) return NULL;
  if (!data && shape_size(shape, ndim) > 0) {
    set_error(MX_ERR_INVALID_ARG, "array_from_borrowed: data is NULL");
    return NULL;
  }
  mx_array a = array_blank(dtype, shape, ndim);
  if (!a) return NULL;
  a->buf = buffer_borrow(data, (size_t)a->size * mx_dtype_size(dtype), release, ctx);
  if (!a->buf) {
    free(a);
    return NULL;
  }
  row_major_strides(a->shape, a->ndim, a->strides);
  a->row_contiguous = true;
  atomic_store(&a->state, ARRAY_EVALUATED);
  scope_register(a);
  return a;
}

mx_array mx_array_scalar(double value, mx_dtype dtype) {
  mx_array a = array_new_alloc(dtype, NULL, 0);
  if (a) store_f64(a->buf->ptr, dtype, 0, value);
  return a;
}
mx_array mx_array_from_float(float v) { return mx_array_from_data(&v, NULL, 0, MX_FLOAT32); }
mx_array mx_array_from_int(int32_t v) { return mx_array_from_data(&v, NULL, 0, MX_INT32); }
mx_array mx_array_from_bool(bool v) {
  uint8_t b = v;
  return mx_array_from_data(&b, NULL, 0, MX_BOOL);
}
mx_array mx_array_from_complex(float re, float im) {
  float v[2] = {re, im};
  return mx_array_from_data(v, NULL, 0, MX_COMPLEX64);
}

/* ---- references ---- */

/* The public retain hands a new reference to the caller, so an open scope
 * owns it like any array an op returns. */
mx_array mx_array_retain(mx_array a) {
  if (!a) return NULL;
  array_retain(a);
  scope_register(a);
  return a;
}

/* Drops the node's inputs and params (after evaluation, or when freed). The
 * inputs are pushed on `stack` rather than freed recursively, so a long
 * chain of pending nodes does not overflow the C stack. */
static void release_ref(mx_array a);

void array_detach(mx_array a) {
  mx_array *inputs = a->inputs;
  int nin = a->nin;
  a->inputs = NULL;
  a->nin = 0;
  free(a->params);
  a->params = NULL;
  for (int i = 0; i < nin; i++) release_ref(inputs[i]);
  free(inputs);
}

static _Thread_local mx_array *free_stack;
static _Thread_local size_t free_len, free_cap;
static _Thread_local bool freeing;

static void destroy(mx_array a) {
  buffer_release(a->buf);
  free(a->params);
  for (int i = 0; i < a->nin; i++) {
    mx_array x = a->inputs[i];
    if (atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) == 1) {
      if (free_len == free_cap) {
        size_t cap = free_cap ? free_cap * 2 : 64;
        mx_array *ns = realloc(free_stack, cap * sizeof *ns);
        if (!ns) abort(); /* cannot unwind a half-freed graph */
        free_stack = ns;
        free_cap = cap;
      }
      free_stack[free_len++] = x;
    }
  }
  free(a->inputs);
  free(a);
}

static void release_ref(mx_array a) {
  if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
  if (freeing) { /* an outer call is draining the stack */
    destroy(a);
    return;
  }
  freeing = true;
  destroy(a);
  while (free_len) destroy(free_stack[--free_len]);
  freeing = false;
}

void mx_array_free(mx_array a) {
  if (!a) return;
  scope_forget(a);
  release_ref(a);
}

void array_release(mx_array a) {
  if (a) release_ref(a);
}

/* ---- queries ---- */

int mx_array_ndim(mx_array a) { return a ? a->ndim : -1; }
const int64_t *mx_array_shape(mx_array a) { return a ? a->shape : NULL; }
int64_t mx_array_dim(mx_array a, int axis) {
  if (!a) return -1;
  int ax = axis < 0 ? axis + a->ndim : axis;
  if (ax < 0 || ax >= a->ndim) {
    set_error(MX_ERR_INVALID_ARG, "array_dim: axis %d out of range for %d dimensions", axis,
              a->ndim);
    return -1;
  }
  return a->shape[ax];
}
int64_t mx_array_size(mx_array a) { return a ? a->size : -1; }
size_t mx_array_nbytes(mx_array a) { return a ? (size_t)a->size * mx_dtype_size(a->dtype) : 0; }
mx_dtype mx_array_dtype(mx_array a) { return a ? a->dtype : MX_DTYPE_COUNT; }
size_t mx_array_itemsize(mx_array a) { return a ? mx_dtype_size(a->dtype) : 0; }
bool mx_array_is_evaluated(mx_array a) {
  return a && atomic_load(&a->state) == ARRAY_EVALUATED;
}
const int64_t *mx_array_strides(mx_array a) {
  return mx_array_is_evaluated(a) ? a->strides : NULL;
}

/* ---- data ---- */

/* Replaces a strided view's buffer with a dense row-major copy. Arrays are
 * values, so readers cannot tell; only the caller's thread mutates here
 * while holding its reference (eval is done). */
static mx_status make_row_contiguous(mx_array a) {
  if (a->row_contiguous) return MX_OK;
  mx_buffer *nb = buffer_new((size_t)a->size * mx_dtype_size(a->dtype));
  if (!nb) return mx_last_error_code();
  array_copy_to_row_major(a, nb->ptr, a->dtype);
  buffer_release(a->buf);
  a->buf = nb;
  a->offset = 0;
  row_major_strides(a->shape, a->ndim, a->strides);
  a->row_contiguous = true;
  return MX_OK;
}

const void *mx_array_data(mx_array a) {
  if (!a) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "array_data: NULL array");
    return NULL;
  }
  if (array_ensure_host(a) < 0) return NULL;
  if (make_row_contiguous(a) < 0) return NULL;
  return array_ptr(a);
}

static mx_status item_prep(const char *op, mx_array a) {
  if (!a) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "%s: NULL array", op);
    return MX_ERR_NULL_INPUT;
  }
  if (a->size != 1) {
    char s[SHAPE_STR_CAP];
    return set_error(MX_ERR_SHAPE, "%s: array of shape %s has %lld elements, not 1", op,
                     fmt_shape(s, sizeof s, a->shape, a->ndim), (long long)a->size);
  }
  return array_ensure_host(a);
}

mx_status mx_array_item_double(mx_array a, double *out) {
  mx_status st = item_prep("array_item_double", a);
  if (st < 0) return st;
  *out = load_f64(array_ptr(a), a->dtype, 0);
  return MX_OK;
}
mx_status mx_array_item_int64(mx_array a, int64_t *out) {
  mx_status st = item_prep("array_item_int64", a);
  if (st < 0) return st;
  *out = load_i64(array_ptr(a), a->dtype, 0);
  return MX_OK;
}
mx_status mx_array_item_float32(mx_array a, float *out) {
  mx_status st = item_prep("array_item_float32", a);
  if (st < 0) return st;
  convert_run(array_ptr(a), 1, a->dtype, out, MX_FLOAT32, 1);
  return MX_OK;
}
mx_status mx_array_item_bool(mx_array a, bool *out) {
  mx_status st = item_prep("array_item_bool", a);
  if (st < 0) return st;
  uint8_t b;
  convert_run(array_ptr(a), 1, a->dtype, &b, MX_BOOL, 1);
  *out = b;
  return MX_OK;
}

mx_status mx_array_copy_to(mx_array a, void *dst, size_t capacity, mx_dtype dtype) {
  if (!a) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "array_copy_to: NULL array");
    return MX_ERR_NULL_INPUT;
  }
  if (!mx_dtype_is_valid(dtype))
    return set_error(MX_ERR_DTYPE, "array_copy_to: invalid dtype %d", (int)dtype);
  size_t need = (size_t)a->size * mx_dtype_size(dtype);
  if (capacity < need)
    return set_error(MX_ERR_INVALID_ARG, "array_copy_to: %zu bytes needed, capacity %zu", need,
                     capacity);
  mx_status st = array_ensure_host(a);
  if (st < 0) return st;
  if (a->size) array_copy_to_row_major(a, dst, dtype);
  return MX_OK;
}

/* ---- printing ---- */

typedef struct strbuf {
  char *p;
  size_t cap, len;
} strbuf;

static void sb_put(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_put(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *at = b->len < b->cap ? b->p + b->len : NULL;
  size_t room = b->len < b->cap ? b->cap - b->len : 0;
  int n = vsnprintf(at, room, fmt, ap);
  va_end(ap);
  if (n > 0) b->len += (size_t)n;
}

static void put_elem(strbuf *b, const void *data, mx_dtype t, int64_t i) {
  if (t == MX_BOOL) {
    sb_put(b, "%s", ((const uint8_t *)data)[i] ? "true" : "false");
  } else if (mx_dtype_is_integer(t)) {
    if (t == MX_UINT64) sb_put(b, "%llu", (unsigned long long)((const uint64_t *)data)[i]);
    else sb_put(b, "%lld", (long long)load_i64(data, t, i));
  } else if (t == MX_COMPLEX64) {
    const float *c = (const float *)data + 2 * i;
    sb_put(b, "%g%+gj", c[0], c[1]);
  } else {
    double v = load_f64(data, t, i);
    if (isnan(v)) sb_put(b, "nan");
    else if (isinf(v)) sb_put(b, v > 0 ? "inf" : "-inf");
    else sb_put(b, "%g", v);
  }
}

static void put_dims(strbuf *b, mx_array a, const void *data, int dim, int64_t base,
                     int indent) {
  if (dim == a->ndim) {
    put_elem(b, data, a->dtype, base);
    return;
  }
  int64_t stride = shape_size(a->shape + dim + 1, a->ndim - dim - 1);
  sb_put(b, "[");
  for (int64_t i = 0; i < a->shape[dim]; i++) {
    if (i) {
      sb_put(b, ",");
      if (dim < a->ndim - 1) sb_put(b, "\n%*s", indent + dim + 1, "");
      else sb_put(b, " ");
    }
    put_dims(b, a, data, dim + 1, base + i * stride, indent);
  }
  sb_put(b, "]");
}

int64_t mx_array_format(mx_array a, char *buf, size_t capacity) {
  const void *data = mx_array_data(a);
  if (!data && a && a->size) return mx_last_error_code();
  if (!a) return MX_ERR_NULL_INPUT;
  strbuf b = {buf, capacity, 0};
  if (capacity) buf[0] = '\0';
  sb_put(&b, "array(");
  put_dims(&b, a, data, 0, 0, 6);
  sb_put(&b, ", dtype=%s)", mx_dtype_name(a->dtype));
  if (capacity && b.len >= capacity) buf[capacity - 1] = '\0';
  return (int64_t)b.len;
}
