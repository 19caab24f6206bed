/* cuda_ops.c — GPU kernels of the primitives the CUDA backend covers so far,
 * and the table eval uses to find them (by primitive name, cached by
 * pointer). A node whose primitive is not in the table runs on the CPU
 * (eval.c counts these); a covered primitive given a dtype its kernel lacks
 * falls back the same way (cuda_fallback_cpu). */
#include <string.h>

#include "../cpu/copy.h"
#include "cuda_backend.h"
#include "cuda_convert.h"
#include "cuda_index.h"
#include "cuda_table.h"

/* ---- elementwise ---- */

static mx_status run_binary(mx_array out, mx_array const *in, int op) {
  mx_dtype it = in[0]->dtype;
  if (!cu_elementwise_dtype_ok(it) || in[1]->dtype != it) return MX_ERR_UNSUPPORTED;
  /* Integer powers (exact, wrapping, 0 for negative exponents) stay on the
   * CPU until the GPU has an integer power loop. */
  if (op == CU_POW && !mx_dtype_is_floating(it)) return MX_ERR_UNSUPPORTED;
  /* An input nobody else holds, of out's size and layout, is overwritten in
   * place: each thread reads element i before writing it. */
  mx_status st = out->dtype == it ? array_alloc_donate(out, in, 2) : array_alloc(out);
  if (st < 0) return st;
  cu_layout L;
  cuda_layout_of(&L, out, in, 2);
  return cuda_check(cu_binary(op, it, out->dtype, array_dptr(out), in[0]->buf->dptr,
                              in[1]->buf->dptr, &L, out->size, cuda_stream()),
                    out->prim->name);
}

static mx_status run_unary(mx_array out, mx_array const *in, int op) {
  mx_dtype t = in[0]->dtype;
  if (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) return MX_ERR_UNSUPPORTED;
  mx_status st = out->dtype == t ? array_alloc_donate(out, in, 1) : array_alloc(out);
  if (st < 0) return st;
  cu_layout L;
  cuda_layout_of(&L, out, in, 1);
  return cuda_check(cu_unary(op, t, array_dptr(out), in[0]->buf->dptr, &L, out->size,
                             cuda_stream()),
                    out->prim->name);
}

/* Dense row-major copy of x into out's (fresh or donated) buffer. */
static mx_status copy_into(mx_array out, mx_array x) {
  if (!cu_elementwise_dtype_ok(x->dtype) || !cu_elementwise_dtype_ok(out->dtype))
    return MX_ERR_UNSUPPORTED;
  cu_layout L;
  cuda_layout_of(&L, out, &x, 1);
  return cuda_check(cu_copy(x->dtype, out->dtype, array_dptr(out), x->buf->dptr, &L, out->size,
                            cuda_stream()),
                    out->prim->name);
}

#define FALLBACK_IF_UNSUPPORTED(expr)                                   \
  do {                                                                  \
    mx_status st_ = (expr);                                             \
    if (st_ == MX_ERR_UNSUPPORTED) return cuda_fallback_cpu(out, in, nin, params); \
    return st_;                                                         \
  } while (0)

#define BINARY_KERNEL(fn, op)                                                          \
  static mx_status fn(mx_array out, mx_array const *in, int nin, const void *params) { \
    FALLBACK_IF_UNSUPPORTED(run_binary(out, in, op));                                  \
  }
BINARY_KERNEL(gpu_add, CU_ADD)
BINARY_KERNEL(gpu_subtract, CU_SUB)
BINARY_KERNEL(gpu_multiply, CU_MUL)
BINARY_KERNEL(gpu_divide, CU_DIV)
BINARY_KERNEL(gpu_maximum, CU_MAX)
BINARY_KERNEL(gpu_minimum, CU_MIN)
BINARY_KERNEL(gpu_power, CU_POW)
BINARY_KERNEL(gpu_equal, CU_EQ)
BINARY_KERNEL(gpu_not_equal, CU_NE)
BINARY_KERNEL(gpu_less, CU_LT)
BINARY_KERNEL(gpu_less_equal, CU_LE)
BINARY_KERNEL(gpu_greater, CU_GT)
BINARY_KERNEL(gpu_greater_equal, CU_GE)

#define UNARY_KERNEL(fn, op)                                                           \
  static mx_status fn(mx_array out, mx_array const *in, int nin, const void *params) { \
    FALLBACK_IF_UNSUPPORTED(run_unary(out, in, op));                                   \
  }
UNARY_KERNEL(gpu_negative, CU_NEG)
UNARY_KERNEL(gpu_abs, CU_ABS)
UNARY_KERNEL(gpu_exp, CU_EXP)
UNARY_KERNEL(gpu_log, CU_LOG)
UNARY_KERNEL(gpu_sqrt, CU_SQRT)
UNARY_KERNEL(gpu_rsqrt, CU_RSQRT)
UNARY_KERNEL(gpu_square, CU_SQUARE)
UNARY_KERNEL(gpu_sigmoid, CU_SIGMOID)
UNARY_KERNEL(gpu_tanh, CU_TANH)
UNARY_KERNEL(gpu_sin, CU_SIN)
UNARY_KERNEL(gpu_cos, CU_COS)
UNARY_KERNEL(gpu_reciprocal, CU_RECIP)
UNARY_KERNEL(gpu_erf, CU_ERF)
UNARY_KERNEL(gpu_log1p, CU_LOG1P)
UNARY_KERNEL(gpu_expm1, CU_EXPM1)

/* ---- copies and views ---- */

/* Same-dtype strided copy of x (its own shape) into out's buffer, written
 * with dst_strides: moves bits only, so one launcher serves every dtype the
 * elementwise copy lacks (bool, int16, uint16, uint64, float64, complex64). */
static mx_status byte_copy(mx_array out, mx_array x, const int64_t *dst_strides) {
  return cuda_check(cu_ix_copy(mx_dtype_size(x->dtype), array_dptr(out), dst_strides,
                               array_dptr(x), x->strides, x->shape, x->ndim, cuda_stream()),
                    out->prim->name);
}

static mx_status gpu_astype(mx_array out, mx_array const *in, int nin, const void *params) {
  mx_array x = in[0];
  if (cu_elementwise_dtype_ok(x->dtype) && cu_elementwise_dtype_ok(out->dtype)) {
    mx_status st = array_alloc_donate(out, in, 1);
    if (st < 0) return st;
    return copy_into(out, x);
  }
  (void)nin;
  (void)params;
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  if (x->dtype == out->dtype) return byte_copy(out, x, out->strides);
  return cuda_check(cu_convert(x->dtype, out->dtype, array_dptr(out), array_dptr(x), x->shape,
                               x->strides, x->ndim, cuda_stream()),
                    out->prim->name);
}

static mx_status gpu_contiguous(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array x = in[0];
  if (x->row_contiguous) {
    array_set_view(out, x, x->strides, x->offset);
    return MX_OK;
  }
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  if (!cu_elementwise_dtype_ok(x->dtype)) return byte_copy(out, x, out->strides);
  return copy_into(out, x);
}

static mx_status gpu_reshape(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  (void)params;
  mx_array x = in[0];
  int64_t strides[MX_MAX_NDIM];
  if (out->size > 0 && reshape_view_strides(x, out->shape, out->ndim, strides)) {
    array_set_view(out, x, strides, x->offset);
    return MX_OK;
  }
  mx_status st = array_alloc(out);
  if (st < 0 || !out->size) return st;
  /* Copy x densely in its own shape, then read it as out's shape. */
  if (!cu_elementwise_dtype_ok(x->dtype)) {
    row_major_strides(x->shape, x->ndim, strides);
    return byte_copy(out, x, strides);
  }
  cu_layout L;
  memset(&L, 0, sizeof L);
  L.ndim = x->ndim;
  for (int d = 0; d < x->ndim; d++) {
    L.shape[d] = x->shape[d];
    L.strides[1][d] = x->strides[d];
  }
  L.offset[1] = x->offset;
  return cuda_check(cu_copy(x->dtype, out->dtype, array_dptr(out), x->buf->dptr, &L, x->size,
                            cuda_stream()),
                    "reshape");
}

/* as_strided of a dense input is a view on any device (the CPU kernel only
 * sets strides); the attention's q/k/v views of its fused projection are
 * these. A strided input needs the CPU's dense copy first. */
static mx_status gpu_as_strided(mx_array out, mx_array const *in, int nin, const void *params) {
  if (in[0]->row_contiguous) return cpu_as_strided(out, in, nin, params);
  return cuda_fallback_cpu(out, in, nin, params);
}

/* ---- the table ---- */

mx_status gpu_matmul(mx_array out, mx_array const *in, int nin, const void *params);

static const cuda_kernel_entry core_kernels[] = {
    {"add", gpu_add},
    {"subtract", gpu_subtract},
    {"multiply", gpu_multiply},
    {"divide", gpu_divide},
    {"maximum", gpu_maximum},
    {"minimum", gpu_minimum},
    {"power", gpu_power},
    {"equal", gpu_equal},
    {"not_equal", gpu_not_equal},
    {"less", gpu_less},
    {"less_equal", gpu_less_equal},
    {"greater", gpu_greater},
    {"greater_equal", gpu_greater_equal},
    {"negative", gpu_negative},
    {"abs", gpu_abs},
    {"exp", gpu_exp},
    {"log", gpu_log},
    {"sqrt", gpu_sqrt},
    {"rsqrt", gpu_rsqrt},
    {"square", gpu_square},
    {"sigmoid", gpu_sigmoid},
    {"tanh", gpu_tanh},
    {"sin", gpu_sin},
    {"cos", gpu_cos},
    {"reciprocal", gpu_reciprocal},
    {"erf", gpu_erf},
    {"log1p", gpu_log1p},
    {"expm1", gpu_expm1},
    {"astype", gpu_astype},
    {"contiguous", gpu_contiguous},
    {"reshape", gpu_reshape},
    /* Pure views: the CPU kernels only set strides, on any device. */
    {"transpose", cpu_transpose},
    {"as_strided", gpu_as_strided},
    {"broadcast_to", cpu_broadcast},
    {"matmul", gpu_matmul},
    {NULL, NULL},
};

/* Every family's table (cuda_table.h); the first match wins. */
static const cuda_kernel_entry *const tables[] = {core_kernels, cuda_fast_kernels, cuda_reduce_kernels,
                                                   cuda_quant_kernels, cuda_index_kernels};

/* Cache: primitive pointer -> kernel (NULL = not covered). eval runs under
 * one lock, so no synchronization is needed here. */
#define CACHE 256
static const mx_primitive *cache_key[CACHE];
static kernel_fn cache_val[CACHE];

kernel_fn cuda_kernel_for(const mx_primitive *p) {
  size_t h = ((uintptr_t)p >> 4) % CACHE;
  for (size_t i = 0; i < CACHE; i++, h = (h + 1) % CACHE) {
    if (cache_key[h] == p) return cache_val[h];
    if (!cache_key[h]) break;
  }
  kernel_fn k = NULL;
  for (size_t t = 0; t < sizeof tables / sizeof *tables && !k; t++)
    for (const cuda_kernel_entry *e = tables[t]; e->name && !k; e++)
      if (strcmp(p->name, e->name) == 0) k = e->k;
  if (!cache_key[h]) {
    cache_key[h] = p;
    cache_val[h] = k;
  }
  return k;
}
