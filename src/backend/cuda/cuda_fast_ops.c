/* cuda_fast_ops.c — GPU kernels of the fast family (see cuda_table.h):
 * rms_norm / layer_norm ("fast_norm"), rope ("fast_rope") and attention
 * ("scaled_dot_product_attention"), silu(a) * b ("fast_silu_mul", from
 * src/ops/fast_silu_mul.c).
 * The primitives and their params are the
 * CPU path's (src/ops/fast.c, src/backend/cpu/fast.h); what the GPU kernels
 * (fast.cu) do not cover runs there through cuda_fallback_cpu:
 *   - norms: an f64 output, rows longer than 49152 elements;
 *   - rope: f64 input;
 *   - attention: head sizes other than 64/80/96/128/256, Dv != D, K and V
 *     of different dtypes, a non-dense last axis of q/k/v. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "../cpu/copy.h"
#include "../cpu/cpu.h"
#include "../cpu/fast.h"
#include "../../core/half.h"
#include "cuda_backend.h"
#include "cuda_fast.h"
#include "cuda_table.h"
#include "mlxc/fast.h"

static bool gpu_float(mx_dtype t) {
  return t == MX_FLOAT16 || t == MX_BFLOAT16 || t == MX_FLOAT32;
}

/* ---- norms ---- */

static mx_status gpu_fast_norm(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_norm_params *p = params;
  if (nin != 1 + p->has_weight + p->has_bias)
    return set_error(MX_ERR_INTERNAL, "fast_norm: %d inputs for the recorded flags", nin);
  mx_array x = in[0];
  const int64_t D = x->shape[x->ndim - 1];
  if (!gpu_float(x->dtype) || !gpu_float(out->dtype) || D > 49152)
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_norm_args a;
  memset(&a, 0, sizeof a);
  a.xt = x->dtype;
  a.ot = out->dtype;
  a.out = array_dptr(out);
  a.x = array_dptr(x);
  a.D = D;
  a.rows = out->size / D;
  a.outer_nd = x->ndim - 1;
  const size_t esz = mx_dtype_size(x->dtype);
  bool vec = x->strides[x->ndim - 1] == 1 && D % 8 == 0 && (uintptr_t)a.x % 16 == 0;
  for (int d = 0; d < a.outer_nd; d++) {
    a.shape[d] = x->shape[d];
    a.strides[d] = x->strides[d];
    if (x->shape[d] > 1 && ((uint64_t)x->strides[d] * esz) % 16) vec = false;
  }
  a.x_stride = x->strides[x->ndim - 1];
  a.vec = vec;
  a.eps = p->eps;
  a.layer = p->layer;
  int k = 1;
  if (p->has_weight) {
    a.w = array_dptr(in[k]);
    a.w_stride = in[k]->strides[0];
    k++;
  }
  if (p->has_bias) {
    a.b = array_dptr(in[k]);
    a.b_stride = in[k]->strides[0];
  }
  return cuda_check(cu_fast_norm(&a, cuda_stream()), p->layer ? "layer_norm" : "rms_norm");
}

/* ---- rope ---- */

static mx_status gpu_fast_rope(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_rope_params *p = params;
  if (nin != 1 + p->offset_is_array + p->has_freqs)
    return set_error(MX_ERR_INTERNAL, "rope: %d inputs for the recorded flags", nin);
  mx_array x = in[0];
  if (!gpu_float(x->dtype)) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_rope_args a;
  memset(&a, 0, sizeof a);
  a.xt = x->dtype;
  a.out = array_dptr(out);
  a.x = array_dptr(x);
  a.nd = x->ndim;
  for (int d = 0; d < x->ndim; d++) {
    a.shape[d] = x->shape[d];
    a.strides[d] = x->strides[d];
  }
  a.dims = p->dims;
  a.traditional = p->traditional;
  a.scale = p->scale;
  /* The CPU kernel's expression, so the frequencies are the same floats. */
  a.coef = (float)log((double)p->base) / (float)(p->dims / 2);
  a.offset = p->offset;
  int k = 1;
  if (p->offset_is_array) {
    mx_array o = in[k++];
    a.offs = array_dptr(o);
    a.offs_u32 = o->dtype == MX_UINT32;
    a.offs_n = o->size;
    a.offs_stride = o->ndim ? o->strides[0] : 0;
  }
  if (p->has_freqs) {
    mx_array f = in[k++];
    a.freqs = array_dptr(f);
    a.freqs_stride = f->strides[0];
  }
  return cuda_check(cu_fast_rope(&a, cuda_stream()), "rope");
}

/* ---- attention ---- */

static mx_status gpu_fast_sdpa(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_sdpa_params *p = params;
  const bool has_mask = p->mask_mode == MX_SDPA_MASK_ARRAY;
  if (nin != 3 + has_mask + p->has_sinks)
    return set_error(MX_ERR_INTERNAL, "scaled_dot_product_attention: %d inputs", nin);
  mx_array q = in[0], k = in[1], v = in[2];
  cu_sdpa_args a;
  memset(&a, 0, sizeof a);
  a.qt = q->dtype;
  a.kt = k->dtype;
  a.ot = out->dtype;
  a.mt = -1;
  a.B = q->shape[0];
  a.Hq = q->shape[1];
  a.Tq = q->shape[2];
  a.D = q->shape[3];
  a.Hkv = k->shape[1];
  a.Tk = k->shape[2];
  bool ok = k->dtype == v->dtype && v->shape[3] == a.D;
  mx_array qkv[3] = {q, k, v};
  for (int i = 0; i < 3; i++)
    if (qkv[i]->strides[3] != 1 && qkv[i]->shape[3] > 1) ok = false;
  int kin = 3;
  mx_array mask = has_mask ? in[kin++] : NULL;
  mx_array sinks = p->has_sinks ? in[kin++] : NULL;
  if (mask) a.mt = mask->dtype;
  a.causal = p->mask_mode == MX_SDPA_MASK_CAUSAL;
  if (!ok || !cu_sdpa_supported(&a)) return cuda_fallback_cpu(out, in, nin, params);

  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  if (a.Tk == 0) /* softmax over nothing times an empty V: zeros, as the CPU */
    return cuda_check(cudaMemsetAsync(array_dptr(out), 0,
                                      (size_t)out->size * mx_dtype_size(out->dtype),
                                      (cudaStream_t)cuda_stream()),
                      "scaled_dot_product_attention");
  a.q = array_dptr(q);
  a.k = array_dptr(k);
  a.v = array_dptr(v);
  a.out = array_dptr(out);
  for (int i = 0; i < 3; i++) {
    a.qs[i] = q->strides[i];
    a.ks[i] = k->strides[i];
    a.vs[i] = v->strides[i];
  }
  if (mask) {
    int64_t shape4[4] = {a.B, a.Hq, a.Tq, a.Tk};
    broadcast_strides(mask, shape4, 4, a.ms);
    a.mask = array_dptr(mask);
  }
  if (sinks) {
    a.sinks = array_dptr(sinks);
    a.sinks_stride = sinks->strides[0];
  }
  /* MLX's masked-score value: the lowest finite value of the output type. */
  a.lowest = a.ot == MX_FLOAT16 ? -65504.0f : a.ot == MX_BFLOAT16 ? bf16_to_f32(0xff7f) : -3.40282347e38f;
  a.scale = p->scale;
  size_t sbytes = cu_sdpa_scratch_bytes(&a);
  void *scratch = NULL;
  const gpu_backend *g = gpu_get();
  if (sbytes) {
    scratch = g->alloc(sbytes);
    if (!scratch) return MX_ERR_OOM;
  }
  st = cuda_check(cu_fast_sdpa(&a, scratch, cuda_stream()), "scaled_dot_product_attention");
  /* The pool hands freed blocks only to later work on the same stream. */
  if (scratch) g->free(scratch, sbytes);
  return st;
}

/* ---- silu_mul ---- */

/* fast_silu_mul (src/ops/fast_silu_mul.c): inputs (a, b) of out's shape,
 * or one x (..., 2F) whose halves are a and b. No params. */
static mx_status gpu_fast_silu_mul(mx_array out, mx_array const *in, int nin,
                                   const void *params) {
  if (nin != 1 && nin != 2)
    return set_error(MX_ERR_INTERNAL, "silu_mul: expected 1 or 2 inputs, got %d", nin);
  if (!gpu_float(out->dtype)) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_silu_mul_args g;
  memset(&g, 0, sizeof g);
  g.t = out->dtype;
  g.out = array_dptr(out);
  g.n = out->size;
  g.nd = out->ndim;
  g.F = out->ndim ? out->shape[out->ndim - 1] : 1;
  mx_array a = in[0];
  const size_t esz = mx_dtype_size(out->dtype);
  g.a = array_dptr(a);
  for (int d = 0; d < out->ndim; d++) g.shape[d] = out->shape[d];
  if (nin == 1) {
    /* b is a F columns further along a's last axis */
    int64_t last = a->strides[a->ndim - 1];
    g.b = (const char *)g.a + (ptrdiff_t)(g.F * last) * (ptrdiff_t)esz;
    g.mode = a->row_contiguous ? 2 : 0;
    for (int d = 0; d < out->ndim; d++) g.as[d] = g.bs[d] = a->strides[d];
  } else {
    mx_array b = in[1];
    g.b = array_dptr(b);
    g.mode = a->row_contiguous && b->row_contiguous ? 1 : 0;
    broadcast_strides(a, out->shape, out->ndim, g.as);
    broadcast_strides(b, out->shape, out->ndim, g.bs);
  }
  return cuda_check(cu_fast_silu_mul(&g, cuda_stream()), "silu_mul");
}

const cuda_kernel_entry cuda_fast_kernels[] = {
    {"fast_norm", gpu_fast_norm},
    {"fast_rope", gpu_fast_rope},
    {"scaled_dot_product_attention", gpu_fast_sdpa},
    {"fast_silu_mul", gpu_fast_silu_mul},
    {NULL, NULL},
};
