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
 *     of different dtypes, a non-dense last axis of q/k/v;
 *   - add_rms_norm: rows longer than 49152 elements (f32 runs two kernels:
 *     the fused one for h, then rms_norm's own for the norm half).
 * Also the fused decode-step ops add_rms_norm ("fast_add_rms_norm") and
 * rope + KV write ("fast_rope_kv"), src/backend/cpu/fast_fused.h. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <string.h>

#include "../cpu/copy.h"
#include "../cpu/cpu.h"
#include "../cpu/fast.h"
#include "../../core/half.h"
#include "cuda_backend.h"
#include "cuda_fast.h"
#include "cuda_fast_fused.h"
#include "../cpu/fast_fused.h"
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

/* ---- fused decode-step ops (src/backend/cpu/fast_fused.h) ---- */

/* fast_add_rms_norm: x, d, w of out's dtype; out (2, *x.shape). */
static mx_status gpu_fast_add_rms_norm(mx_array out, mx_array const *in, int nin,
                                       const void *params) {
  const fast_add_norm_params *p = params;
  if (nin != 3) return set_error(MX_ERR_INTERNAL, "add_rms_norm: %d inputs", nin);
  struct mx_array_impl xh;
  fast_add_norm_x(in, p, &xh);
  mx_array x = &xh, d = in[1], w = in[2];
  const int64_t D = x->shape[x->ndim - 1];
  if (!gpu_float(out->dtype) || D > 49152) return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  cu_add_norm_args a;
  memset(&a, 0, sizeof a);
  a.t = out->dtype;
  a.out = array_dptr(out);
  a.x = array_dptr(x);
  a.d = array_dptr(d);
  a.w = array_dptr(w);
  a.w_stride = w->strides[0];
  a.D = D;
  a.rows = x->size / D;
  a.outer_nd = x->ndim - 1;
  a.x_last = x->strides[x->ndim - 1];
  a.d_last = d->strides[d->ndim - 1];
  const size_t esz = mx_dtype_size(x->dtype);
  bool vec = a.x_last == 1 && a.d_last == 1 && D % 8 == 0 && (uintptr_t)a.x % 16 == 0 &&
             (uintptr_t)a.d % 16 == 0;
  for (int i = 0; i < a.outer_nd; i++) {
    a.shape[i] = x->shape[i];
    a.xs[i] = x->strides[i];
    a.ds[i] = d->strides[i];
    if (x->shape[i] > 1 && (((uint64_t)x->strides[i] * esz) % 16 || ((uint64_t)d->strides[i] * esz) % 16))
      vec = false;
  }
  a.vec = vec;
  a.eps = p->eps;
  st = cuda_check(cu_fast_add_rms_norm(&a, cuda_stream()), "add_rms_norm");
  if (st < 0 || out->dtype != MX_FLOAT32) return st;
  /* float32: the fused kernel's h is the chain's bits (checked on the H200),
   * but its f32 sum of squares did not round as norm_kernel's does (half
   * inputs square exactly, so only f32 showed it): the norm half is
   * rewritten by the chain's own kernel, reading h as the chain's norm node
   * reads the add's dense output. One more launch, f32 models only. */
  cu_norm_args n;
  memset(&n, 0, sizeof n);
  n.xt = n.ot = MX_FLOAT32;
  n.x = array_dptr(out);
  n.out = (float *)array_dptr(out) + a.rows * D;
  n.D = D;
  n.rows = a.rows;
  n.outer_nd = 1;
  n.shape[0] = a.rows;
  n.strides[0] = D;
  n.x_stride = 1;
  n.vec = D % 8 == 0 && (uintptr_t)n.x % 16 == 0;
  n.eps = p->eps;
  n.w = a.w;
  n.w_stride = a.w_stride;
  return cuda_check(cu_fast_norm(&n, cuda_stream()), "add_rms_norm");
}

/* fast_rope_kv: in place in the old joint buffer when the CPU kernel's test
 * says so, else a new buffer with the old positions copied on the GPU. */
static mx_status gpu_fast_rope_kv(mx_array out, mx_array const *in, int nin,
                                  const void *params) {
  const fast_rope_kv_params *p = params;
  int k0 = p->kv_mode == 1 ? 2 : p->kv_mode == 2 ? 1 : 0;
  int nq = p->qkv_mode ? 1 : 3;
  if (nin != k0 + nq + p->rope.has_freqs)
    return set_error(MX_ERR_INTERNAL, "rope_kv: %d inputs for the recorded flags", nin);
  if (!gpu_float(out->dtype) || (p->qkv_mode && !in[k0]->row_contiguous))
    return cuda_fallback_cpu(out, in, nin, params);
  const size_t esz = mx_dtype_size(out->dtype);
  const int64_t kv = p->B * p->H * p->cap * p->D;
  int64_t base;
  if (fast_rope_kv_in_place(in, p, &base)) {
    buffer_retain(in[0]->buf);
    out->buf = in[0]->buf;
    out->buf->valid = BUF_DEVICE;
    out->strides[0] = 1;
    out->offset = base;
    out->row_contiguous = true;
  } else {
    mx_status st = array_alloc(out);
    if (st < 0) return st;
    for (int i = 0; p->kv_mode && i < 2; i++) {
      const void *src;
      int64_t ss[4] = {p->H * p->cap * p->D, p->cap * p->D, p->D, 1};
      if (p->kv_mode == 1) {
        src = array_dptr(in[i]);
        memcpy(ss, in[i]->strides, sizeof ss);
      } else {
        src = (const char *)array_dptr(in[0]) + (size_t)(i * kv) * esz;
      }
      st = cuda_check(cu_kv_copy_prefix((char *)array_dptr(out) + (size_t)(i * kv) * esz, src, ss,
                                        p->B, p->H, p->pos, p->cap, p->D, esz, cuda_stream()),
                      "rope_kv");
      if (st < 0) return st;
    }
  }
  struct mx_array_impl h[3];
  for (int i = 0; i < 3; i++) fast_rope_kv_operand(in, p, i, &h[i]);
  cu_rope_kv_args a;
  memset(&a, 0, sizeof a);
  a.t = out->dtype;
  a.out = array_dptr(out);
  a.q = array_dptr(&h[0]);
  a.k = array_dptr(&h[1]);
  a.v = array_dptr(&h[2]);
  for (int i = 0; i < 4; i++) {
    a.qs[i] = h[0].strides[i];
    a.ks[i] = h[1].strides[i];
    a.vs[i] = h[2].strides[i];
  }
  a.B = p->B;
  a.H = p->H;
  a.Hq = p->Hq;
  a.D = p->D;
  a.cap = p->cap;
  a.pos = p->pos;
  a.dims = p->rope.dims;
  a.traditional = p->rope.traditional;
  a.scale = p->rope.scale;
  /* gpu_fast_rope's expression, so the frequencies are the same floats. */
  a.coef = (float)log((double)p->rope.base) / (float)(p->rope.dims / 2);
  a.offset = p->rope.offset;
  if (p->rope.has_freqs) {
    mx_array f = in[k0 + nq];
    a.freqs = array_dptr(f);
    a.freqs_stride = f->strides[0];
  }
  return cuda_check(cu_fast_rope_kv(&a, cuda_stream()), "rope_kv");
}

const cuda_kernel_entry cuda_fast_kernels[] = {
    {"fast_norm", gpu_fast_norm},
    {"fast_rope", gpu_fast_rope},
    {"scaled_dot_product_attention", gpu_fast_sdpa},
    {"fast_silu_mul", gpu_fast_silu_mul},
    {"fast_add_rms_norm", gpu_fast_add_rms_norm},
    {"fast_rope_kv", gpu_fast_rope_kv},
    {NULL, NULL},
};
