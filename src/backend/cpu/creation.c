/* creation.c — CPU kernels that fill fresh arrays: constants, ranges,
 * diagonals and triangles. Values follow MLX's CPU backend bit for bit
 * (arange accumulates in the output type, linspace blends in f32/f64). */
#include <string.h>

#include "cpu.h"
#include "creation.h"

/* Below this many elements a fill stays on the calling thread. */
#define FILL_GRAIN (1 << 15)

/* ------------------------------------------------------------ fills */

typedef struct fill_ctx {
  char *dst;
  _Alignas(8) unsigned char value[8];
  size_t elsize;
  bool bytewise; /* every byte of the pattern equal: memset */
} fill_ctx;

static void fill_range(void *p, int64_t begin, int64_t end) {
  const fill_ctx *c = p;
  char *d = c->dst + (size_t)begin * c->elsize;
  size_t n = (size_t)(end - begin);
  if (c->bytewise) {
    memset(d, c->value[0], n * c->elsize);
    return;
  }
  /* Fixed-size copies let the compiler emit wide stores. */
  switch (c->elsize) {
  case 2: {
    uint16_t v;
    memcpy(&v, c->value, 2);
    uint16_t *o = (uint16_t *)(void *)d;
    for (size_t i = 0; i < n; i++) o[i] = v;
    break;
  }
  case 4: {
    uint32_t v;
    memcpy(&v, c->value, 4);
    uint32_t *o = (uint32_t *)(void *)d;
    for (size_t i = 0; i < n; i++) o[i] = v;
    break;
  }
  case 8: {
    uint64_t v;
    memcpy(&v, c->value, 8);
    uint64_t *o = (uint64_t *)(void *)d;
    for (size_t i = 0; i < n; i++) o[i] = v;
    break;
  }
  default:
    for (size_t i = 0; i < n; i++) memcpy(d + i * c->elsize, c->value, c->elsize);
  }
}

void cpu_fill_pattern(void *dst, const void *value, size_t elsize, int64_t n) {
  if (n <= 0) return;
  fill_ctx c;
  c.dst = dst;
  c.elsize = elsize;
  memset(c.value, 0, sizeof c.value);
  memcpy(c.value, value, elsize);
  c.bytewise = true;
  for (size_t i = 1; i < elsize; i++)
    if (c.value[i] != c.value[0]) c.bytewise = false;
  parallel_for(n, FILL_GRAIN, fill_range, &c);
}

mx_status cpu_fill(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  const fill_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  cpu_fill_pattern(array_ptr(out), p->value, mx_dtype_size(out->dtype), out->size);
  return MX_OK;
}

/* full: the input is the value(s) already cast and broadcast to the output
 * shape; a single distinct value (all strides 0) becomes a fill. */
mx_status cpu_full(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array v = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  bool scalar = true;
  for (int d = 0; d < v->ndim; d++)
    if (v->shape[d] > 1 && v->strides[d] != 0) scalar = false;
  if (scalar)
    cpu_fill_pattern(array_ptr(out), array_ptr(v), mx_dtype_size(out->dtype), out->size);
  else
    array_copy_to_row_major(v, array_ptr(out), out->dtype);
  return MX_OK;
}

/* ------------------------------------------------------------ arange */

/* Double to a w-bit integer pattern: truncation toward zero, wrapping (as
 * x86 does for in-range values; NaN/out of range give INT64_MIN). */
static uint64_t f64_to_bits64(double v) {
  if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)v;
}

typedef struct arange_int_ctx {
  void *dst;
  mx_dtype dtype;
  uint64_t start, step;
} arange_int_ctx;

/* Integer ranges wrap modulo 2^bits exactly as repeated addition would, so
 * element i is start + i*step and the work splits freely. */
static void arange_int_range(void *p, int64_t begin, int64_t end) {
  const arange_int_ctx *c = p;
  uint64_t v = c->start + (uint64_t)begin * c->step;
  for (int64_t i = begin; i < end; i++, v += c->step) {
    switch (c->dtype) {
    case MX_UINT8:
    case MX_INT8: ((uint8_t *)c->dst)[i] = (uint8_t)v; break;
    case MX_UINT16:
    case MX_INT16: ((uint16_t *)c->dst)[i] = (uint16_t)v; break;
    case MX_UINT32:
    case MX_INT32: ((uint32_t *)c->dst)[i] = (uint32_t)v; break;
    default: ((uint64_t *)c->dst)[i] = v; break;
    }
  }
}

mx_status cpu_arange(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  const arange_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  int64_t n = out->size;
  if (n == 0) return MX_OK;
  void *dst = array_ptr(out);
  double next = p->start + p->step;
  /* MLX converts start and start+step to the output type and then adds
   * their difference repeatedly in that type, so floats are accumulated
   * serially (rounding after each add) to give the same values. */
  switch (out->dtype) {
  case MX_FLOAT32:
  case MX_COMPLEX64: {
    float s = (float)p->start, d = (float)next - s;
    if (out->dtype == MX_FLOAT32) {
      float *o = dst;
      for (int64_t i = 0; i < n; i++, s += d) o[i] = s;
    } else {
      float *o = dst;
      for (int64_t i = 0; i < n; i++, s += d) {
        o[2 * i] = s;
        o[2 * i + 1] = 0.0f;
      }
    }
    break;
  }
  case MX_FLOAT64: {
    double s = p->start, d = next - s, *o = dst;
    for (int64_t i = 0; i < n; i++, s += d) o[i] = s;
    break;
  }
  case MX_FLOAT16:
  case MX_BFLOAT16: {
    bool h = out->dtype == MX_FLOAT16;
    uint16_t sb = h ? f32_to_f16((float)p->start) : f32_to_bf16((float)p->start);
    uint16_t nb = h ? f32_to_f16((float)next) : f32_to_bf16((float)next);
    float s = h ? f16_to_f32(sb) : bf16_to_f32(sb);
    float nf = h ? f16_to_f32(nb) : bf16_to_f32(nb);
    uint16_t db = h ? f32_to_f16(nf - s) : f32_to_bf16(nf - s);
    float d = h ? f16_to_f32(db) : bf16_to_f32(db);
    uint16_t *o = dst;
    for (int64_t i = 0; i < n; i++) {
      o[i] = sb;
      sb = h ? f32_to_f16(s + d) : f32_to_bf16(s + d);
      s = h ? f16_to_f32(sb) : bf16_to_f32(sb);
    }
    break;
  }
  default: {
    arange_int_ctx c = {dst, out->dtype, f64_to_bits64(p->start), 0};
    c.step = f64_to_bits64(next) - c.start;
    parallel_for(n, FILL_GRAIN, arange_int_range, &c);
    break;
  }
  }
  return MX_OK;
}

/* ------------------------------------------------------------ linspace */

typedef struct linspace_ctx {
  void *dst;
  mx_dtype dtype;
  double start, stop;
  int64_t num;
} linspace_ctx;

/* MLX computes t = arange(num) / (num - 1) and (1 - t) * start + t * stop
 * in float32 (float64 for a float64 output), then casts. The arange counts
 * by repeated +1, which saturates at 2^24 in float32. */
static void linspace_range(void *p, int64_t begin, int64_t end) {
  const linspace_ctx *c = p;
  enum { CHUNK = 256 };
  float buf[CHUNK];
  if (c->dtype == MX_FLOAT64) {
    double den = (double)(c->num - 1), *o = c->dst;
    for (int64_t i = begin; i < end; i++) {
      double t = (double)i / den;
      o[i] = (1.0 - t) * c->start + t * c->stop;
    }
    return;
  }
  float den = (float)(c->num - 1), a = (float)c->start, b = (float)c->stop;
  size_t es = mx_dtype_size(c->dtype);
  for (int64_t i0 = begin; i0 < end; i0 += CHUNK) {
    int64_t m = end - i0 < CHUNK ? end - i0 : CHUNK;
    for (int64_t j = 0; j < m; j++) {
      int64_t i = i0 + j;
      float t = (float)(i < 16777216 ? i : 16777216) / den;
      buf[j] = (1.0f - t) * a + t * b;
    }
    convert_run(buf, 1, MX_FLOAT32, (char *)c->dst + (size_t)i0 * es, c->dtype, m);
  }
}

mx_status cpu_linspace(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  const linspace_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  int64_t n = out->size;
  if (n == 0) return MX_OK;
  if (n == 1) { /* MLX: the start value cast from float64 */
    convert_run(&p->start, 1, MX_FLOAT64, array_ptr(out), out->dtype, 1);
    return MX_OK;
  }
  linspace_ctx c = {array_ptr(out), out->dtype, p->start, p->stop, n};
  parallel_for(n, FILL_GRAIN, linspace_range, &c);
  return MX_OK;
}

/* ------------------------------------------------------------ eye / tri */

/* The dtype's 1 as bytes. */
static void one_value(mx_dtype t, unsigned char *v) {
  double one = 1.0;
  memset(v, 0, 8);
  convert_run(&one, 1, MX_FLOAT64, v, t, 1);
}

mx_status cpu_eye(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  const diag_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  size_t es = mx_dtype_size(out->dtype);
  char *o = array_ptr(out);
  int64_t n = out->shape[0], m = out->shape[1];
  _Alignas(8) unsigned char one[8];
  one_value(out->dtype, one);
  _Alignas(8) unsigned char zero[8] = {0};
  cpu_fill_pattern(o, zero, es, out->size);
  for (int64_t i = p->k < 0 ? -p->k : 0; i < n; i++) {
    int64_t j = i + p->k;
    if (j >= m) break;
    memcpy(o + (size_t)(i * m + j) * es, one, es);
  }
  return MX_OK;
}

typedef struct tri_ctx {
  char *o;
  const char *src; /* row-major input rows (tril/triu) or NULL (tri) */
  size_t es;
  int64_t m, rows_per_mat, k;
  int upper;
  _Alignas(8) unsigned char one[8];
} tri_ctx;

/* Row r of a matrix keeps columns j <= i + k (lower) or j >= i + k (upper),
 * i being the row within its matrix; the rest is zero. */
static void tri_range(void *p, int64_t begin, int64_t end) {
  const tri_ctx *c = p;
  for (int64_t r = begin; r < end; r++) {
    int64_t i = r % c->rows_per_mat;
    char *row = c->o + (size_t)(r * c->m) * c->es;
    int64_t lim = i + c->k; /* |k| is clamped, no overflow */
    int64_t a, b;           /* kept columns [a, b) */
    if (c->upper) {
      a = lim < 0 ? 0 : lim > c->m ? c->m : lim;
      b = c->m;
    } else {
      a = 0;
      b = lim + 1 < 0 ? 0 : lim + 1 > c->m ? c->m : lim + 1;
    }
    memset(row, 0, (size_t)a * c->es);
    memset(row + (size_t)b * c->es, 0, (size_t)(c->m - b) * c->es);
    if (c->src) {
      const char *s = c->src + (size_t)(r * c->m) * c->es;
      if (s != row) memcpy(row + (size_t)a * c->es, s + (size_t)a * c->es, (size_t)(b - a) * c->es);
    } else {
      for (int64_t j = a; j < b; j++) memcpy(row + (size_t)j * c->es, c->one, c->es);
    }
  }
}

static int64_t clamp_k(int64_t k, int64_t bound) {
  return k > bound ? bound : k < -bound ? -bound : k;
}

mx_status cpu_tri(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)in;
  (void)nin;
  const diag_params *p = params;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  tri_ctx c;
  memset(&c, 0, sizeof c);
  c.o = array_ptr(out);
  c.es = mx_dtype_size(out->dtype);
  c.rows_per_mat = out->shape[0];
  c.m = out->shape[1];
  c.k = clamp_k(p->k, c.m + c.rows_per_mat + 1);
  one_value(out->dtype, c.one);
  parallel_for(c.rows_per_mat, FILL_GRAIN / (c.m ? c.m : 1) + 1, tri_range, &c);
  return MX_OK;
}

mx_status cpu_tril_triu(mx_array out, mx_array const *in, int nin, const void *params) {
  const diag_params *p = params;
  mx_array x = in[0];
  mx_status st = array_alloc_donate(out, in, nin);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  char *o = array_ptr(out);
  if (o != (char *)array_ptr(x) || !x->row_contiguous) array_copy_to_row_major(x, o, out->dtype);
  tri_ctx c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.src = o;
  c.es = mx_dtype_size(out->dtype);
  c.m = out->shape[out->ndim - 1];
  c.rows_per_mat = out->shape[out->ndim - 2];
  c.k = clamp_k(p->k, c.m + c.rows_per_mat + 1);
  c.upper = p->upper;
  int64_t rows = out->size / c.m;
  parallel_for(rows, FILL_GRAIN / c.m + 1, tri_range, &c);
  return MX_OK;
}
