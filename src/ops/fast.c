/* fast.c — front ends of the fused kernels (mx.fast): rms_norm, layer_norm,
 * rope, scaled_dot_product_attention. Argument checks, output dtypes and
 * the numerics follow MLX's CPU path (mlx/fast.cpp, whose "fallback"
 * formulas are what MLX itself runs on a CPU stream). */
#include <float.h>
#include <string.h>

#include "mlxc/fast.h"

#include "../backend/cpu/fast.h"
#include "ops_common.h"

static const mx_primitive prim_norm = {"fast_norm", cpu_fast_norm, NULL};
static const mx_primitive prim_rope = {"fast_rope", cpu_fast_rope, NULL};
static const mx_primitive prim_sdpa = {"scaled_dot_product_attention", cpu_fast_sdpa, NULL};

/* A node's inputs: the caller's arrays (borrowed) or new casts of them.
 * Only the casts are freed afterwards: mx_array_free on a borrowed array
 * would also take it out of the caller's scope. */
typedef struct node_ins {
  mx_array a[5];
  bool own[5];
  int n;
} node_ins;

static void ins_cast(node_ins *s, mx_array x, mx_dtype t) {
  bool cast = x->dtype != t;
  s->a[s->n] = cast ? mx_astype(x, t) : x;
  s->own[s->n++] = cast;
}

static void ins_free(node_ins *s) {
  for (int i = 0; i < s->n; i++)
    if (s->own[i]) mx_array_free(s->a[i]);
}

/* The kernels read x as f16, bf16 or f32; MLX converts any other input to
 * f32 before normalizing, which is what this cast does. */
static mx_dtype norm_input_type(mx_array x) {
  if (x->dtype == MX_FLOAT16 || x->dtype == MX_BFLOAT16 || x->dtype == MX_FLOAT32)
    return x->dtype;
  return MX_FLOAT32;
}

static bool check_norm_vec(const char *op, const char *what, mx_array v, mx_array x) {
  if (v->ndim != 1) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "%s: %s must have 1 dimension but has shape %s", op, what,
              fmt_shape(s, sizeof s, v->shape, v->ndim));
    return false;
  }
  if (v->shape[0] != x->shape[x->ndim - 1]) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE,
              "%s: %s of %lld elements does not match the last dimension of x %s", op,
              what, (long long)v->shape[0], fmt_shape(s, sizeof s, x->shape, x->ndim));
    return false;
  }
  return true;
}

static mx_array make_norm(const char *op, mx_array x, mx_array weight, mx_array bias,
                          float eps, bool layer) {
  CHECK_INPUT(op, x);
  if (x->ndim == 0) {
    set_error(MX_ERR_SHAPE, "%s: input must have at least 1 dimension but is 0-d", op);
    return NULL;
  }
  if (weight && !check_norm_vec(op, "weight", weight, x)) return NULL;
  if (bias && !check_norm_vec(op, "bias", bias, x)) return NULL;
  /* MLX: the weight joins the promotion; a bias only when a weight is there
   * too (a bias alone is cast to x's dtype). */
  mx_dtype out = x->dtype;
  if (weight) {
    out = mx_promote_types(x->dtype, weight->dtype);
    if (bias) out = mx_promote_types(out, bias->dtype);
  }
  if (!mx_dtype_is_floating(out)) {
    set_error(MX_ERR_DTYPE, "%s: unsupported type %s (x %s%s%s); floating types only", op,
              mx_dtype_name(out), mx_dtype_name(x->dtype), weight ? ", weight " : "",
              weight ? mx_dtype_name(weight->dtype) : "");
    return NULL;
  }
  node_ins ins = {0};
  ins_cast(&ins, x, norm_input_type(x));
  if (weight) ins_cast(&ins, weight, out);
  if (bias) ins_cast(&ins, bias, out);
  fast_norm_params p;
  memset(&p, 0, sizeof p);
  p.eps = eps;
  p.layer = layer;
  p.has_weight = weight != NULL;
  p.has_bias = bias != NULL;
  mx_array r = node_new(&prim_norm, out, x->shape, x->ndim, ins.a, ins.n, &p, sizeof p);
  ins_free(&ins);
  return r;
}

mx_array mx_fast_rms_norm(mx_array x, mx_array weight, float eps) {
  return make_norm("rms_norm", x, weight, NULL, eps, false);
}

mx_array mx_fast_layer_norm(mx_array x, mx_array weight, mx_array bias, float eps) {
  return make_norm("layer_norm", x, weight, bias, eps, true);
}

/* ------------------------------------------------------------ rope */

static mx_array make_rope(mx_array x, int dims, bool traditional, float base, float scale,
                          int64_t offset, mx_array offsets, mx_array freqs) {
  CHECK_INPUT("rope", x);
  if (x->ndim < 3) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "rope: input must have at least 3 dimensions but has shape %s",
              fmt_shape(s, sizeof s, x->shape, x->ndim));
    return NULL;
  }
  if (!mx_dtype_is_floating(x->dtype)) {
    set_error(MX_ERR_DTYPE, "rope: input must be a floating type but is %s",
              mx_dtype_name(x->dtype));
    return NULL;
  }
  if (offsets) {
    if (offsets->ndim > 1) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, "rope: offset must have at most 1 dimension but has shape %s",
                fmt_shape(s, sizeof s, offsets->shape, offsets->ndim));
      return NULL;
    }
    if (offsets->size != 1 && offsets->size != x->shape[0]) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE,
                "rope: offset must be a scalar or have %lld elements (x's dim 0) but has "
                "shape %s",
                (long long)x->shape[0], fmt_shape(s, sizeof s, offsets->shape, offsets->ndim));
      return NULL;
    }
    if (!mx_dtype_is_integer(offsets->dtype)) {
      set_error(MX_ERR_DTYPE, "rope: offset must be an integer array but is %s",
                mx_dtype_name(offsets->dtype));
      return NULL;
    }
  }
  if (dims <= 0 || dims % 2 != 0) {
    set_error(MX_ERR_INVALID_ARG, "rope: dims must be positive and even but is %d", dims);
    return NULL;
  }
  if (dims > x->shape[x->ndim - 1]) {
    set_error(MX_ERR_INVALID_ARG,
              "rope: dims %d exceeds the input's last dimension (%lld)", dims,
              (long long)x->shape[x->ndim - 1]);
    return NULL;
  }
  if (freqs && (freqs->ndim != 1 || freqs->shape[0] != dims / 2)) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "rope: freqs must be 1-d with %d elements but has shape %s",
              dims / 2, fmt_shape(s, sizeof s, freqs->shape, freqs->ndim));
    return NULL;
  }
  if (freqs && mx_dtype_is_complex(freqs->dtype)) {
    set_error(MX_ERR_DTYPE, "rope: freqs must be real but is %s", mx_dtype_name(freqs->dtype));
    return NULL;
  }
  fast_rope_params p;
  memset(&p, 0, sizeof p);
  p.dims = dims;
  p.traditional = traditional;
  p.base = base;
  p.scale = scale;
  p.offset = offset;
  p.offset_is_array = offsets != NULL;
  p.has_freqs = freqs != NULL;
  node_ins ins = {0};
  ins_cast(&ins, x, x->dtype);
  /* MLX keeps 4-byte offsets and casts others to int32 (wrapping). */
  if (offsets) ins_cast(&ins, offsets, mx_dtype_size(offsets->dtype) == 4 ? offsets->dtype : MX_INT32);
  if (freqs) ins_cast(&ins, freqs, MX_FLOAT32);
  mx_array r = node_new(&prim_rope, x->dtype, x->shape, x->ndim, ins.a, ins.n, &p, sizeof p);
  ins_free(&ins);
  return r;
}

mx_array mx_fast_rope(mx_array x, int dims, bool traditional, float base, float scale,
                      int64_t offset, mx_array freqs) {
  return make_rope(x, dims, traditional, base, scale, offset, NULL, freqs);
}

mx_array mx_fast_rope_offsets(mx_array x, int dims, bool traditional, float base, float scale,
                              mx_array offset, mx_array freqs) {
  CHECK_INPUT("rope", offset);
  return make_rope(x, dims, traditional, base, scale, 0, offset, freqs);
}

/* ------------------------------------------------------------ sdpa */

#define SDPA "scaled_dot_product_attention"

static double lowest_of(mx_dtype t) {
  switch (t) {
    case MX_FLOAT16: return -65504.0;
    case MX_BFLOAT16: return -3.3895313892515355e38;
    case MX_FLOAT32: return -FLT_MAX;
    default: return -DBL_MAX;
  }
}

/* float64 attention: MLX runs its composition of ops in f64 on the CPU;
 * the fused kernel computes in f32, so build the same composition here.
 * GQA repeats K/V (a rare dtype, not a hot path). */
/* Records a temporary for release at the end of sdpa_composed. */
typedef struct tmp_list {
  mx_array a[32];
  int n;
} tmp_list;
static mx_array keep_tmp(tmp_list *l, mx_array x) {
  if (l->n < 32) l->a[l->n++] = x;
  return x;
}
/* A caller's array in dtype t: itself (borrowed) or a recorded cast. */
static mx_array tmp_cast(tmp_list *l, mx_array x, mx_dtype t) {
  return x->dtype == t ? x : keep_tmp(l, mx_astype(x, t));
}

static mx_array sdpa_composed(mx_array q, mx_array k, mx_array v, float scale, int mode,
                              mx_array mask, mx_array sinks, int64_t groups) {
  mx_dtype t = MX_FLOAT64;
  tmp_list tl = {{0}, 0};
#define T(x) keep_tmp(&tl, (x))
  mx_array qs = T(mx_multiply(tmp_cast(&tl, q, t), T(mx_full_scalar(NULL, 0, scale, t))));
  mx_array kk = tmp_cast(&tl, k, t), vv = tmp_cast(&tl, v, t);
  if (groups > 1) {
    kk = T(mx_repeat(kk, groups, 1));
    vv = T(mx_repeat(vv, groups, 1));
  }
  mx_array s = T(mx_matmul(qs, T(mx_swapaxes(kk, -1, -2))));
  int64_t tq = q->shape[2], tk = k->shape[2];
  if (mode == MX_SDPA_MASK_CAUSAL) {
    mx_array qi = T(mx_reshape(T(mx_arange((double)(tk - tq), (double)tk, 1, MX_INT32)),
                               (int64_t[]){tq, 1}, 2));
    mx_array ki = T(mx_arange(0, (double)tk, 1, MX_INT32));
    mask = T(mx_greater_equal(qi, ki));
  }
  if (mask) {
    if (mask->dtype == MX_BOOL)
      s = T(mx_where(mask, s, T(mx_full_scalar(NULL, 0, lowest_of(t), t))));
    else
      s = T(mx_add(s, tmp_cast(&tl, mask, t)));
  }
  if (sinks) {
    mx_array sk = T(mx_reshape(tmp_cast(&tl, sinks, t), (int64_t[]){1, sinks->shape[0], 1, 1}, 4));
    int64_t bs[4] = {s ? s->shape[0] : 0, s ? s->shape[1] : 0, s ? s->shape[2] : 0, 1};
    mx_array parts[2] = {T(mx_broadcast_to(sk, bs, 4)), s};
    s = T(mx_concatenate(parts, 2, 3));
  }
  mx_array p = T(mx_softmax(s, (int[]){-1}, 1, true));
  if (sinks && p) {
    int64_t start[4] = {0, 0, 0, 1};
    int64_t stop[4] = {p->shape[0], p->shape[1], p->shape[2], p->shape[3]};
    p = T(mx_slice(p, start, stop, NULL, 4));
  }
  mx_array out = mx_matmul(p, vv);
#undef T
  for (int i = 0; i < tl.n; i++) mx_array_free(tl.a[i]);
  return out;
}

mx_array mx_fast_scaled_dot_product_attention(mx_array q, mx_array k, mx_array v, float scale,
                                              mx_sdpa_mask mask_mode, mx_array mask,
                                              mx_array sinks) {
  mx_array qkv[3] = {q, k, v};
  if (any_null(SDPA, qkv, 3)) return NULL;
  if (mask_mode != MX_SDPA_MASK_NONE && mask_mode != MX_SDPA_MASK_CAUSAL &&
      mask_mode != MX_SDPA_MASK_ARRAY) {
    set_error(MX_ERR_INVALID_ARG, SDPA ": invalid mask mode %d (none, causal or array)",
              (int)mask_mode);
    return NULL;
  }
  if (mask_mode == MX_SDPA_MASK_ARRAY) CHECK_INPUT(SDPA, mask);
  if (mask_mode == MX_SDPA_MASK_CAUSAL && mask) {
    set_error(MX_ERR_INVALID_ARG, SDPA ": a mask array was given with the causal mask mode");
    return NULL;
  }
  /* As MLX's C++ API: an array with no mode is an array mask. */
  if (mask) mask_mode = MX_SDPA_MASK_ARRAY;
  const char *names[3] = {"queries", "keys", "values"};
  for (int i = 0; i < 3; i++) {
    if (qkv[i]->ndim != 4) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, SDPA ": %s of shape %s must have rank 4 (B, heads, seq, dim)",
                names[i], fmt_shape(s, sizeof s, qkv[i]->shape, qkv[i]->ndim));
      return NULL;
    }
  }
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP], s3[SHAPE_STR_CAP];
  fmt_shape(s1, sizeof s1, q->shape, 4);
  fmt_shape(s2, sizeof s2, k->shape, 4);
  fmt_shape(s3, sizeof s3, v->shape, 4);
  if (k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0]) {
    set_error(MX_ERR_SHAPE, SDPA ": batch sizes differ: queries %s, keys %s, values %s", s1,
              s2, s3);
    return NULL;
  }
  if (q->shape[3] != k->shape[3]) {
    set_error(MX_ERR_SHAPE, SDPA ": queries %s and keys %s differ in the last dimension", s1,
              s2);
    return NULL;
  }
  if (k->shape[1] != v->shape[1] || k->shape[2] != v->shape[2]) {
    set_error(MX_ERR_SHAPE, SDPA ": keys %s and values %s differ in heads or length", s2, s3);
    return NULL;
  }
  int64_t hq = q->shape[1], hkv = k->shape[1];
  if (hkv == 0 || hq % hkv != 0) {
    set_error(MX_ERR_SHAPE, SDPA ": query heads (%lld) must be a multiple of kv heads (%lld)",
              (long long)hq, (long long)hkv);
    return NULL;
  }
  mx_dtype ft = mx_promote_types(mx_promote_types(q->dtype, k->dtype), v->dtype);
  if (!mx_dtype_is_floating(ft)) {
    set_error(MX_ERR_DTYPE, SDPA ": unsupported type %s (queries %s, keys %s, values %s)",
              mx_dtype_name(ft), mx_dtype_name(q->dtype), mx_dtype_name(k->dtype),
              mx_dtype_name(v->dtype));
    return NULL;
  }
  int64_t oshape[4] = {q->shape[0], hq, q->shape[2], v->shape[3]};
  int64_t mshape[4] = {q->shape[0], hq, q->shape[2], k->shape[2]};
  if (mask) {
    if (mask->ndim > 4) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, SDPA ": mask of shape %s has more than 4 dimensions",
                fmt_shape(s, sizeof s, mask->shape, mask->ndim));
      return NULL;
    }
    for (int i = 0; i < mask->ndim; i++) {
      int64_t d = mask->shape[i], want = mshape[4 - mask->ndim + i];
      if (d != 1 && d != want) {
        char s[SHAPE_STR_CAP], w[SHAPE_STR_CAP];
        set_error(MX_ERR_SHAPE, SDPA ": mask of shape %s does not broadcast to %s",
                  fmt_shape(s, sizeof s, mask->shape, mask->ndim),
                  fmt_shape(w, sizeof w, mshape, 4));
        return NULL;
      }
    }
    if (mask->dtype != MX_BOOL && mx_promote_types(mask->dtype, ft) != ft) {
      set_error(MX_ERR_DTYPE, SDPA ": mask type %s must promote to the output type %s",
                mx_dtype_name(mask->dtype), mx_dtype_name(ft));
      return NULL;
    }
  }
  if (sinks) {
    if (mx_promote_types(sinks->dtype, ft) != ft) {
      set_error(MX_ERR_DTYPE, SDPA ": sinks type %s must promote to the output type %s",
                mx_dtype_name(sinks->dtype), mx_dtype_name(ft));
      return NULL;
    }
    if (sinks->ndim != 1 || sinks->shape[0] != hq) {
      char s[SHAPE_STR_CAP];
      set_error(MX_ERR_SHAPE, SDPA ": sinks of shape %s must be (%lld,) (one per query head)",
                fmt_shape(s, sizeof s, sinks->shape, sinks->ndim), (long long)hq);
      return NULL;
    }
  }
  if (ft == MX_FLOAT64) return sdpa_composed(q, k, v, scale, mask_mode, mask, sinks, hq / hkv);

  /* q takes the output dtype (MLX casts it); K and V stay in their own
   * half/f32 type when that converts exactly, so a f16 cache under f32
   * queries is read directly instead of copied. */
  node_ins ins = {0};
  ins_cast(&ins, q, ft);
  for (int i = 1; i < 3; i++) {
    mx_dtype d = qkv[i]->dtype;
    bool keep = d == ft || (ft == MX_FLOAT32 && (d == MX_FLOAT16 || d == MX_BFLOAT16));
    ins_cast(&ins, qkv[i], keep ? d : ft);
  }
  if (mask) ins_cast(&ins, mask, mask->dtype == MX_BOOL ? MX_BOOL : ft);
  if (sinks) ins_cast(&ins, sinks, ft);
  fast_sdpa_params p;
  memset(&p, 0, sizeof p);
  p.scale = scale;
  p.mask_mode = mask_mode;
  p.has_sinks = sinks != NULL;
  mx_array r = node_new(&prim_sdpa, ft, oshape, 4, ins.a, ins.n, &p, sizeof p);
  ins_free(&ins);
  return r;
}
