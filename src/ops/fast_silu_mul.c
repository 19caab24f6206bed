/* fast_silu_mul.c — front end of silu(a) * b as one node (SwiGLU's
 * activation), an mlxc extension: MLX has no such op (mlx-lm writes
 * nn.silu(gate) * up, three graph nodes).
 *
 * The result is the one of the chain multiply(multiply(a, sigmoid(a)), b)
 * bit for bit: the kernels round to the dtype after each of the three steps
 * as the chain's nodes do. Only what the kernels cover becomes a fused node
 * (f32/f16/bf16, a and b of one dtype and one shape); anything else is the
 * chain itself, so promotion, broadcasting and errors are the chain's. */
#include <stdint.h>

#include "mlxc/fast.h"

#include "ops_common.h"

/* src/backend/cpu/fast_silu_mul.c. One input: the halves of its last axis;
 * two inputs: a and b. No params. */
mx_status cpu_fast_silu_mul(mx_array out, mx_array const *in, int nin, const void *params);

static const mx_primitive prim_silu_mul = {"fast_silu_mul", cpu_fast_silu_mul, NULL};

static bool fusable_dtype(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

static mx_array chain(mx_array a, mx_array b) {
  mx_array s = mx_sigmoid(a);
  mx_array g = mx_multiply(a, s);
  mx_array_free(s);
  mx_array r = mx_multiply(g, b);
  mx_array_free(g);
  return r;
}

mx_array mx_fast_silu_mul(mx_array a, mx_array b) {
  CHECK_INPUT("silu_mul", a);
  CHECK_INPUT("silu_mul", b);
  bool same_shape = a->ndim == b->ndim;
  for (int i = 0; same_shape && i < a->ndim; i++) same_shape = a->shape[i] == b->shape[i];
  if (!same_shape || a->dtype != b->dtype || !fusable_dtype(a->dtype)) return chain(a, b);
  mx_array in[2] = {a, b};
  return node_new(&prim_silu_mul, a->dtype, a->shape, a->ndim, in, 2, NULL, 0);
}

/* silu(x[..., :F]) * x[..., F:] of x (..., 2F): the gate and up halves of a
 * fused gate_up projection without two slice nodes (declared in
 * src/lm/models/decoder.h, its user). */
mx_array fast_silu_mul_halves(mx_array x) {
  CHECK_INPUT("silu_mul", x);
  if (x->ndim == 0 || x->shape[x->ndim - 1] % 2 != 0) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "silu_mul: the last axis of %s must split into two halves",
              fmt_shape(s, sizeof s, x->shape, x->ndim));
    return NULL;
  }
  int64_t shape[MX_MAX_NDIM];
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
  int64_t F = shape[x->ndim - 1] / 2;
  shape[x->ndim - 1] = F;
  if (fusable_dtype(x->dtype))
    return node_new(&prim_silu_mul, x->dtype, shape, x->ndim, &x, 1, NULL, 0);
  mx_array parts[2] = {NULL, NULL};
  if (mx_split_sections(x, 2, -1, parts)) return NULL;
  mx_array r = chain(parts[0], parts[1]);
  mx_array_free(parts[0]);
  mx_array_free(parts[1]);
  return r;
}
