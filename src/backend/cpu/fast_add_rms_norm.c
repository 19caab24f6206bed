/* fast_add_rms_norm.c — CPU kernel of the residual add + RMSNorm node
 * (fast_fused.h): out[0] = x + d, out[1] = rms_norm(out[0], w). The sum of
 * two values of one float type, formed in f32 (exact for two halves) and
 * rounded once, is what the add kernel gives; the norm is cpu_fast_norm
 * itself run on out[0], so its bits are the unfused node's. */
#include <string.h>

#include "../../core/half.h"
#include "cpu.h"
#include "fast_fused.h"

typedef struct add_ctx {
  mx_dtype t;
  int nd;
  const int64_t *shape, *xs, *ds;
  const char *x, *d;
  char *h;
  int64_t D;
} add_ctx;

static void add_rows(void *vctx, int64_t begin, int64_t end) {
  const add_ctx *c = vctx;
  const size_t esz = mx_dtype_size(c->t);
  for (int64_t r = begin; r < end; r++) {
    int64_t ox = 0, od = 0, rem = r;
    for (int k = c->nd - 2; k >= 0; k--) {
      int64_t i = rem % c->shape[k];
      rem /= c->shape[k];
      ox += i * c->xs[k];
      od += i * c->ds[k];
    }
    const char *xr = c->x + (size_t)ox * esz, *dr = c->d + (size_t)od * esz;
    const int64_t sx = c->xs[c->nd - 1], sd = c->ds[c->nd - 1];
    char *hr = c->h + (size_t)(r * c->D) * esz;
    for (int64_t i = 0; i < c->D; i++) {
      if (c->t == MX_FLOAT32) {
        ((float *)hr)[i] = ((const float *)xr)[i * sx] + ((const float *)dr)[i * sd];
      } else if (c->t == MX_FLOAT16) {
        float v = f16_to_f32(((const uint16_t *)xr)[i * sx]) +
                  f16_to_f32(((const uint16_t *)dr)[i * sd]);
        ((uint16_t *)hr)[i] = f32_to_f16(v);
      } else {
        float v = bf16_to_f32(((const uint16_t *)xr)[i * sx]) +
                  bf16_to_f32(((const uint16_t *)dr)[i * sd]);
        ((uint16_t *)hr)[i] = f32_to_bf16(v);
      }
    }
  }
}

void fast_add_norm_x(mx_array const *in, const fast_add_norm_params *p,
                     struct mx_array_impl *hdr) {
  mx_array a = in[0];
  memset(hdr, 0, sizeof *hdr);
  hdr->dtype = a->dtype;
  hdr->buf = a->buf;
  hdr->offset = a->offset;
  if (p->x_packed) {
    hdr->ndim = a->ndim - 1;
    hdr->size = a->size / 2;
    memcpy(hdr->shape, a->shape + 1, (size_t)hdr->ndim * sizeof(int64_t));
    memcpy(hdr->strides, a->strides + 1, (size_t)hdr->ndim * sizeof(int64_t));
  } else {
    hdr->ndim = a->ndim;
    hdr->size = a->size;
    memcpy(hdr->shape, a->shape, sizeof hdr->shape);
    memcpy(hdr->strides, a->strides, sizeof hdr->strides);
  }
  hdr->row_contiguous = strides_are_row_major(hdr->shape, hdr->strides, hdr->ndim);
}

mx_status cpu_fast_add_rms_norm(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_add_norm_params *p = params;
  if (nin != 3) return set_error(MX_ERR_INTERNAL, "add_rms_norm: %d inputs", nin);
  struct mx_array_impl xh;
  fast_add_norm_x(in, p, &xh);
  mx_array x = &xh, d = in[1], w = in[2];
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  const size_t esz = mx_dtype_size(out->dtype);
  add_ctx c = {out->dtype, x->ndim, x->shape, x->strides, d->strides,
               array_ptr(x), array_ptr(d), array_ptr(out), x->shape[x->ndim - 1]};
  int64_t rows = x->size / c.D;
  parallel_for(rows, c.D >= 32768 ? 1 : 32768 / c.D, add_rows, &c);
  /* The norm reads out[0] through an array header that borrows its buffer
   * and writes a temporary, copied to out[1]. */
  struct mx_array_impl hv, yv;
  memset(&hv, 0, sizeof hv);
  memset(&yv, 0, sizeof yv);
  hv.dtype = yv.dtype = out->dtype;
  hv.ndim = yv.ndim = x->ndim;
  hv.size = yv.size = x->size;
  memcpy(hv.shape, x->shape, sizeof hv.shape);
  memcpy(yv.shape, x->shape, sizeof yv.shape);
  row_major_strides(hv.shape, hv.ndim, hv.strides);
  hv.buf = out->buf;
  hv.row_contiguous = true;
  fast_norm_params np;
  memset(&np, 0, sizeof np);
  np.eps = p->eps;
  np.has_weight = true;
  mx_array nin_[2] = {&hv, w};
  st = cpu_fast_norm(&yv, nin_, 2, &np);
  if (st < 0) return st;
  memcpy((char *)array_ptr(out) + (size_t)x->size * esz, array_ptr(&yv), (size_t)x->size * esz);
  buffer_release(yv.buf);
  return MX_OK;
}
