/* conv.c — front ends of conv1d/2d and conv_transpose1d/2d (MLX layout:
 * channels last; semantics of mlx/ops.cpp conv_general and
 * conv_transpose_general).
 *
 * A transposed convolution is MLX's: a stride-1 convolution of the input
 * dilated by `stride`, padded by dilation*(K-1) - padding (low) and that
 * plus output_padding (high), with the kernel flipped. Negative effective
 * padding crops the input (in input units), as MLX's slice does. */
#include <string.h>

#include "../backend/cpu/matmul.h"
#include "ops_common.h"

static const mx_primitive prim_conv = {"conv", cpu_conv, NULL};

static mx_array conv_general(const char *op, mx_array in, mx_array wt, int nsp,
                             const int64_t *stride, const int64_t *plo, const int64_t *phi,
                             const int64_t *kdil, const int64_t *idil, int64_t groups, bool flip) {
  mx_array iw[2] = {in, wt};
  if (any_null(op, iw, 2)) return NULL;
  if (!mx_dtype_is_floating(in->dtype)) {
    set_error(MX_ERR_DTYPE,
              "%s: invalid input array with type %s; convolution only supports floating point "
              "types",
              op, mx_dtype_name(in->dtype));
    return NULL;
  }
  mx_dtype dt = mx_promote_types(in->dtype, wt->dtype);
  if (!mx_dtype_is_floating(dt)) {
    set_error(MX_ERR_DTYPE, "%s: input %s and weight %s promote to %s, which is not a real "
                            "floating point type",
              op, mx_dtype_name(in->dtype), mx_dtype_name(wt->dtype), mx_dtype_name(dt));
    return NULL;
  }
  char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
  if (in->ndim != nsp + 2) {
    set_error(MX_ERR_SHAPE,
              "%s: invalid input array with %d dimensions for %dD convolution; expected %d "
              "dimensions in the format (N, ..., C_in), got shape %s",
              op, in->ndim, nsp, nsp + 2, fmt_shape(s1, sizeof s1, in->shape, in->ndim));
    return NULL;
  }
  if (wt->ndim != nsp + 2) {
    set_error(MX_ERR_SHAPE,
              "%s: invalid weight array with %d dimensions for %dD convolution; expected %d "
              "dimensions in the format (C_out, ..., C_in), got shape %s",
              op, wt->ndim, nsp, nsp + 2, fmt_shape(s1, sizeof s1, wt->shape, wt->ndim));
    return NULL;
  }
  if (groups <= 0) {
    set_error(MX_ERR_INVALID_ARG, "%s: groups must be positive, got %lld", op, (long long)groups);
    return NULL;
  }
  int64_t cin = in->shape[nsp + 1], cout = wt->shape[0];
  if (cin % groups != 0) {
    set_error(MX_ERR_SHAPE,
              "%s: the input channels must be divisible by the number of groups; got input "
              "with shape %s and %lld groups",
              op, fmt_shape(s1, sizeof s1, in->shape, in->ndim), (long long)groups);
    return NULL;
  }
  if (groups > 1 && cout % groups != 0) {
    set_error(MX_ERR_SHAPE,
              "%s: the output channels must be divisible by the number of groups; got %lld "
              "output channels and %lld groups",
              op, (long long)cout, (long long)groups);
    return NULL;
  }
  if (cin != groups * wt->shape[nsp + 1]) {
    set_error(MX_ERR_SHAPE,
              "%s: expected the input channels of input %s and weight %s to match (%lld groups: "
              "%lld input channels expected, got %lld)",
              op, fmt_shape(s1, sizeof s1, in->shape, in->ndim),
              fmt_shape(s2, sizeof s2, wt->shape, wt->ndim), (long long)groups,
              (long long)(groups * wt->shape[nsp + 1]), (long long)cin);
    return NULL;
  }
  conv_params p;
  memset(&p, 0, sizeof p);
  p.nsp = nsp;
  p.groups = groups;
  p.flip = flip;
  int64_t osh[4];
  osh[0] = in->shape[0];
  osh[nsp + 1] = cout;
  for (int i = 0; i < nsp; i++) {
    if (stride[i] <= 0) {
      set_error(MX_ERR_INVALID_ARG, "%s: stride sizes must be positive, got %lld at axis %d", op,
                (long long)stride[i], i);
      return NULL;
    }
    if (kdil[i] <= 0) {
      set_error(MX_ERR_INVALID_ARG, "%s: kernel dilation sizes must be positive, got %lld at axis %d",
                op, (long long)kdil[i], i);
      return NULL;
    }
    if (idil[i] <= 0) {
      set_error(MX_ERR_INVALID_ARG, "%s: input dilation sizes must be positive, got %lld at axis %d",
                op, (long long)idil[i], i);
      return NULL;
    }
    int64_t isz = in->shape[i + 1];
    p.in_start[i] = plo[i] < 0 ? -plo[i] : 0;
    p.in_stop[i] = phi[i] < 0 ? isz + phi[i] : isz;
    p.pad_lo[i] = plo[i] < 0 ? 0 : plo[i];
    p.pad_hi[i] = phi[i] < 0 ? 0 : phi[i];
    p.stride[i] = stride[i];
    p.kdil[i] = kdil[i];
    p.idil[i] = idil[i];
    int64_t ext = p.in_stop[i] - p.in_start[i];
    int64_t id = ext > 0 ? 1 + idil[i] * (ext - 1) : 0;
    int64_t kd = 1 + kdil[i] * (wt->shape[i + 1] - 1);
    int64_t span = id + p.pad_lo[i] + p.pad_hi[i] - kd;
    if (wt->shape[i + 1] <= 0 || ext <= 0 || span < 0) {
      set_error(MX_ERR_SHAPE,
                "%s: spatial dimensions of input after padding cannot be smaller than weight "
                "spatial dimensions; got error at axis %d for input with shape %s, padding "
                "low %lld, padding high %lld, and weight of shape %s",
                op, i + 1, fmt_shape(s1, sizeof s1, in->shape, in->ndim), (long long)plo[i],
                (long long)phi[i], fmt_shape(s2, sizeof s2, wt->shape, wt->ndim));
      return NULL;
    }
    osh[i + 1] = span / stride[i] + 1;
  }
  mx_array ins[2] = {cast_to(in, dt), cast_to(wt, dt)};
  mx_array r = (ins[0] && ins[1]) ? node_new(&prim_conv, dt, osh, nsp + 2, ins, 2, &p, sizeof p)
                                  : NULL;
  mx_array_free(ins[0]);
  mx_array_free(ins[1]);
  return r;
}

mx_array mx_conv1d(mx_array input, mx_array weight, int stride, int padding, int dilation,
                   int groups) {
  int64_t s[1] = {stride}, pl[1] = {padding}, kd[1] = {dilation}, id[1] = {1};
  return conv_general("conv1d", input, weight, 1, s, pl, pl, kd, id, groups, false);
}

mx_array mx_conv2d(mx_array input, mx_array weight, const int stride[2], const int padding[2],
                   const int dilation[2], int groups) {
  int64_t s[2] = {stride ? stride[0] : 1, stride ? stride[1] : 1};
  int64_t pl[2] = {padding ? padding[0] : 0, padding ? padding[1] : 0};
  int64_t kd[2] = {dilation ? dilation[0] : 1, dilation ? dilation[1] : 1}, id[2] = {1, 1};
  return conv_general("conv2d", input, weight, 2, s, pl, pl, kd, id, groups, false);
}

static mx_array conv_transpose(const char *op, mx_array in, mx_array wt, int nsp,
                               const int64_t *stride, const int64_t *pad, const int64_t *dil,
                               const int64_t *opad, int64_t groups) {
  mx_array iw[2] = {in, wt};
  if (any_null(op, iw, 2)) return NULL;
  if (wt->ndim != nsp + 2) /* conv_general words the error; the sizes below need the rank */
    return conv_general(op, in, wt, nsp, stride, pad, pad, dil, stride, groups, true);
  int64_t plo[2] = {0, 0}, phi[2] = {0, 0}, one[2] = {1, 1};
  for (int i = 0; i < nsp; i++) {
    if (stride[i] <= 0 || dil[i] <= 0) {
      set_error(MX_ERR_INVALID_ARG, "%s: %s sizes must be positive, got %lld at axis %d", op,
                stride[i] <= 0 ? "stride" : "dilation",
                (long long)(stride[i] <= 0 ? stride[i] : dil[i]), i);
      return NULL;
    }
    if (opad[i] < 0) {
      set_error(MX_ERR_INVALID_ARG, "%s: output_padding must be non-negative, got %lld", op,
                (long long)opad[i]);
      return NULL;
    }
    int64_t kd = 1 + dil[i] * (wt->shape[i + 1] - 1);
    plo[i] = kd - pad[i] - 1;
    phi[i] = kd - pad[i] - 1 + opad[i];
  }
  return conv_general(op, in, wt, nsp, one, plo, phi, dil, stride, groups, true);
}

mx_array mx_conv_transpose1d(mx_array input, mx_array weight, int stride, int padding,
                             int dilation, int output_padding, int groups) {
  int64_t s[1] = {stride}, p[1] = {padding}, d[1] = {dilation}, o[1] = {output_padding};
  return conv_transpose("conv_transpose1d", input, weight, 1, s, p, d, o, groups);
}

mx_array mx_conv_transpose2d(mx_array input, mx_array weight, const int stride[2],
                             const int padding[2], const int dilation[2],
                             const int output_padding[2], int groups) {
  int64_t s[2] = {stride ? stride[0] : 1, stride ? stride[1] : 1};
  int64_t p[2] = {padding ? padding[0] : 0, padding ? padding[1] : 0};
  int64_t d[2] = {dilation ? dilation[0] : 1, dilation ? dilation[1] : 1};
  int64_t o[2] = {output_padding ? output_padding[0] : 0, output_padding ? output_padding[1] : 0};
  return conv_transpose("conv_transpose2d", input, weight, 2, s, p, d, o, groups);
}
