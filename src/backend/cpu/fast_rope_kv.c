/* fast_rope_kv.c — CPU kernel of the decode step's rope + KV write
 * (fast_fused.h). The rotations are computed by cpu_fast_rope itself, on
 * temporary outputs, so the bits are the unfused rope nodes' by
 * construction; this kernel only places them (and v) in the joint buffer.
 * The in-place test and the operand headers are shared with the GPU
 * kernel (src/backend/cuda/cuda_fast_ops.c). */
#include <string.h>

#include "cpu.h"
#include "fast_fused.h"

static bool view_is(mx_array a, const fast_rope_kv_params *p, int64_t offset) {
  const int64_t want[4] = {p->H * p->cap * p->D, p->cap * p->D, p->D, 1};
  if (a->ndim != 4 || a->offset != offset || a->shape[2] != p->cap) return false;
  for (int i = 0; i < 4; i++)
    if (a->shape[i] > 1 && a->strides[i] != want[i]) return false;
  return true;
}

bool fast_rope_kv_in_place(mx_array const *in, const fast_rope_kv_params *p, int64_t *base) {
  int64_t kv = p->B * p->H * p->cap * p->D;
  int64_t n = 2 * kv + p->B * p->Hq * p->D;
  if (p->kv_mode == 2) {
    mx_array J = in[0];
    mx_buffer *b = J->buf;
    if (!b || b->borrowed || atomic_load(&b->refs) != 1 || atomic_load(&J->refs) != 1 ||
        !J->row_contiguous || (uint64_t)(J->offset + n) * mx_dtype_size(J->dtype) > b->nbytes)
      return false;
    *base = J->offset;
    return true;
  }
  if (p->kv_mode != 1) return false;
  mx_array K = in[0], V = in[1];
  mx_buffer *b = K->buf;
  if (!b || V->buf != b || b->borrowed || atomic_load(&b->refs) != 2 ||
      atomic_load(&K->refs) != 1 || atomic_load(&V->refs) != 1)
    return false;
  if (!view_is(K, p, K->offset) || !view_is(V, p, K->offset + kv)) return false;
  if ((uint64_t)(K->offset + n) * mx_dtype_size(K->dtype) > b->nbytes) return false;
  *base = K->offset;
  return true;
}

void fast_rope_kv_operand(mx_array const *in, const fast_rope_kv_params *p, int i,
                          struct mx_array_impl *hdr) {
  int k0 = p->kv_mode == 1 ? 2 : p->kv_mode == 2 ? 1 : 0;
  memset(hdr, 0, sizeof *hdr);
  if (p->qkv_mode == 0) {
    mx_array a = in[k0 + i];
    hdr->dtype = a->dtype;
    hdr->ndim = a->ndim;
    hdr->size = a->size;
    memcpy(hdr->shape, a->shape, sizeof hdr->shape);
    memcpy(hdr->strides, a->strides, sizeof hdr->strides);
    hdr->offset = a->offset;
    hdr->buf = a->buf;
  } else {
    mx_array base = in[k0];
    const int64_t heads = i == 0 ? p->Hq : p->H;
    hdr->dtype = base->dtype;
    hdr->ndim = 4;
    hdr->shape[0] = p->B;
    hdr->shape[1] = heads;
    hdr->shape[2] = 1;
    hdr->shape[3] = p->D;
    hdr->size = p->B * heads * p->D;
    memcpy(hdr->strides, p->strides[i], 4 * sizeof(int64_t));
    hdr->offset = base->offset + p->off[i];
    hdr->buf = base->buf;
  }
  hdr->row_contiguous = strides_are_row_major(hdr->shape, hdr->strides, hdr->ndim);
}

/* Copies positions [0, pos) of the old keys (which 0) or values (1) into
 * dst (B, H, cap, D) row-major. */
static void copy_prefix(char *dst, mx_array const *in, const fast_rope_kv_params *p, int which,
                        size_t esz) {
  const char *s;
  int64_t st[4];
  if (p->kv_mode == 1) {
    mx_array src = in[which];
    s = array_ptr(src);
    memcpy(st, src->strides, sizeof st);
  } else {
    s = (const char *)array_ptr(in[0]) + (size_t)(which * p->B * p->H * p->cap * p->D) * esz;
    st[0] = p->H * p->cap * p->D;
    st[1] = p->cap * p->D;
    st[2] = p->D;
    st[3] = 1;
  }
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t h = 0; h < p->H; h++)
      for (int64_t t = 0; t < p->pos; t++) {
        const char *row = s + (size_t)(b * st[0] + h * st[1] + t * st[2]) * esz;
        char *o = dst + (size_t)(((b * p->H + h) * p->cap + t) * p->D) * esz;
        if (st[3] == 1) {
          memcpy(o, row, (size_t)p->D * esz);
        } else {
          for (int64_t i = 0; i < p->D; i++)
            memcpy(o + (size_t)i * esz, row + (size_t)(i * st[3]) * esz, esz);
        }
      }
}

/* rope(x) by cpu_fast_rope into a temporary row-major (heads, D) block,
 * then each head's row to dst + head * stride (elements). */
static mx_status rope_into(mx_array x, mx_array freqs, const fast_rope_kv_params *p,
                           char *dst, int64_t heads, int64_t stride, size_t esz) {
  struct mx_array_impl tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.dtype = x->dtype;
  tmp.ndim = x->ndim;
  tmp.size = x->size;
  memcpy(tmp.shape, x->shape, sizeof tmp.shape);
  mx_array ins[2] = {x, freqs};
  mx_status st = cpu_fast_rope(&tmp, ins, freqs ? 2 : 1, &p->rope);
  if (st < 0) return st;
  const char *r = array_ptr(&tmp);
  for (int64_t i = 0; i < heads; i++)
    memcpy(dst + (size_t)(i * stride) * esz, r + (size_t)(i * p->D) * esz, (size_t)p->D * esz);
  buffer_release(tmp.buf);
  return MX_OK;
}

static mx_status rope_kv_run(mx_array out, mx_array const *in, const fast_rope_kv_params *p,
                             mx_array freqs);

mx_status cpu_fast_rope_kv(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_rope_kv_params *p = params;
  int k0 = p->kv_mode == 1 ? 2 : p->kv_mode == 2 ? 1 : 0;
  int nq = p->qkv_mode ? 1 : 3;
  if (nin != k0 + nq + p->rope.has_freqs)
    return set_error(MX_ERR_INTERNAL, "rope_kv: %d inputs for the recorded flags", nin);
  mx_array freqs = p->rope.has_freqs ? in[k0 + nq] : NULL;
  mx_array base = p->qkv_mode ? in[k0] : NULL;
  /* as_strided semantics: the views index the base's row-major data, so a
   * base that is not dense is read through a dense copy (as cpu_as_strided). */
  struct mx_array_impl dense;
  mx_array ins[8];
  mx_buffer *dense_buf = NULL;
  if (base && !base->row_contiguous) {
    dense_buf = buffer_new((size_t)base->size * mx_dtype_size(base->dtype));
    if (!dense_buf) return mx_last_error_code();
    array_copy_to_row_major(base, dense_buf->ptr, base->dtype);
    memset(&dense, 0, sizeof dense);
    dense.dtype = base->dtype;
    dense.ndim = base->ndim;
    dense.size = base->size;
    memcpy(dense.shape, base->shape, sizeof dense.shape);
    row_major_strides(dense.shape, dense.ndim, dense.strides);
    dense.buf = dense_buf;
    dense.row_contiguous = true;
    for (int i = 0; i < nin && i < 8; i++) ins[i] = in[i];
    ins[k0] = &dense;
    in = ins;
  }
  mx_status st = rope_kv_run(out, in, p, freqs);
  if (dense_buf) buffer_release(dense_buf);
  return st;
}

static mx_status rope_kv_run(mx_array out, mx_array const *in, const fast_rope_kv_params *p,
                             mx_array freqs) {
  const size_t esz = mx_dtype_size(out->dtype);
  const int64_t kv = p->B * p->H * p->cap * p->D;
  int64_t off;
  if (fast_rope_kv_in_place(in, p, &off)) {
    buffer_retain(in[0]->buf);
    out->buf = in[0]->buf;
    out->buf->valid = BUF_HOST;
    out->strides[0] = 1;
    out->offset = off;
    out->row_contiguous = true;
  } else {
    mx_status st = array_alloc(out);
    if (st < 0) return st;
    if (p->kv_mode) {
      copy_prefix(array_ptr(out), in, p, 0, esz);
      copy_prefix((char *)array_ptr(out) + (size_t)kv * esz, in, p, 1, esz);
    }
  }
  struct mx_array_impl q, k, v;
  fast_rope_kv_operand(in, p, 0, &q);
  fast_rope_kv_operand(in, p, 1, &k);
  fast_rope_kv_operand(in, p, 2, &v);
  char *o = array_ptr(out);
  /* k at position pos of every (b, h) row: heads are B*H rows cap*D apart. */
  mx_status st = rope_into(&k, freqs, p, o + (size_t)(p->pos * p->D) * esz, p->B * p->H,
                           p->cap * p->D, esz);
  if (st < 0) return st;
  st = rope_into(&q, freqs, p, o + (size_t)(2 * kv) * esz, p->B * p->Hq, p->D, esz);
  if (st < 0) return st;
  char *vo = o + (size_t)(kv + p->pos * p->D) * esz;
  const char *vs = array_ptr(&v);
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t h = 0; h < p->H; h++) {
      char *dst = vo + (size_t)((b * p->H + h) * p->cap * p->D) * esz;
      const char *src = vs + (size_t)(b * v.strides[0] + h * v.strides[1]) * esz;
      for (int64_t i = 0; i < p->D; i++)
        memcpy(dst + (size_t)i * esz, src + (size_t)(i * v.strides[3]) * esz, esz);
    }
  return MX_OK;
}
