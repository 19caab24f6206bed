/* elementwise_iter.c — the driver behind every elementwise kernel: walks
 * out's index space (collapsed with nd_iter), hands run functions dense or
 * broadcast (stride 0) compute-dtype data, and splits the work across the
 * pool by flat element ranges so one long run and many short runs both
 * parallelize. */
#include <string.h>

#include "elementwise.h"
#include "elementwise_simd.h"

/* Elements per block when inputs must be gathered or converted: small
 * enough that all temporaries stay in L1/L2 and on the stack. */
#define EW_BLOCK 512
/* Arrays below this many elements stay on the calling thread. */
#define EW_GRAIN (1 << 15)
#define EW_MAX_IN 3

typedef struct ew_ctx {
  ew_fn fn;
  const void *params;
  int nin;
  mx_dtype in_dt[EW_MAX_IN], in_ct[EW_MAX_IN], out_dt, out_ct;
  size_t in_sz[EW_MAX_IN], in_csz[EW_MAX_IN], out_sz, out_csz;
  const char *in_base[EW_MAX_IN];
  char *out_base;
  nd_iter it; /* operand 0 is out, 1..nin the inputs */
  bool direct; /* no gather/convert needed anywhere */
} ew_ctx;

/* Loads n elements at stride `stride` (any sign, in elements) of dtype st
 * into dense dst of dtype ct. */
static void gather(const char *src, int64_t stride, mx_dtype st, mx_dtype ct, void *dst,
                   int64_t n) {
  if (st == ct) {
    switch (mx_dtype_size(st)) {
    case 1:
      for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = ((const uint8_t *)src)[i * stride];
      return;
    case 2:
      for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ((const uint16_t *)src)[i * stride];
      return;
    case 4:
      for (int64_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = ((const uint32_t *)src)[i * stride];
      return;
    case 8:
      for (int64_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = ((const uint64_t *)src)[i * stride];
      return;
    default: break;
    }
  }
  if (stride == 1) {
    if (ct == MX_FLOAT32 && ew_simd_half_to_f32(src, st, dst, n)) return;
    convert_run(src, 1, st, dst, ct, n);
    return;
  }
  if (st == MX_FLOAT16 && ct == MX_FLOAT32) {
    const uint16_t *s = (const uint16_t *)src;
    for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = f16_to_f32(s[i * stride]);
    return;
  }
  if (st == MX_BFLOAT16 && ct == MX_FLOAT32) {
    const uint16_t *s = (const uint16_t *)src;
    for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = bf16_to_f32(s[i * stride]);
    return;
  }
  size_t ss = mx_dtype_size(st), cs = mx_dtype_size(ct);
  for (int64_t i = 0; i < n; i++)
    convert_run(src + i * stride * (int64_t)ss, 1, st, (char *)dst + (size_t)i * cs, ct, 1);
}

static bool input_direct(const ew_ctx *c, int k) {
  int64_t s = c->it.inner_stride[k + 1];
  return c->in_dt[k] == c->in_ct[k] && (s == 0 || s == 1);
}

/* Computes elements [i, i+len) of the run whose operand offsets are off. */
static void do_segment(const ew_ctx *c, const int64_t *off, int64_t i, int64_t len) {
  const char *ip[EW_MAX_IN];
  int64_t is[EW_MAX_IN];
  for (int k = 0; k < c->nin; k++) {
    is[k] = c->it.inner_stride[k + 1];
    ip[k] = c->in_base[k] + (off[k + 1] + i * is[k]) * (int64_t)c->in_sz[k];
  }
  char *op = c->out_base + (off[0] + i) * (int64_t)c->out_sz;
  if (c->direct) {
    const void *in[EW_MAX_IN];
    int64_t s[EW_MAX_IN];
    for (int k = 0; k < c->nin; k++) {
      in[k] = ip[k];
      s[k] = is[k];
    }
    c->fn(op, in, s, len, c->params);
    return;
  }
  _Alignas(64) char tmp_in[EW_MAX_IN][EW_BLOCK * 8];
  _Alignas(64) char tmp_out[EW_BLOCK * 8];
  bool direct_k[EW_MAX_IN];
  for (int k = 0; k < c->nin; k++) direct_k[k] = input_direct(c, k);
  bool out_direct = c->out_dt == c->out_ct;
  for (int64_t j = 0; j < len; j += EW_BLOCK) {
    int64_t n = len - j < EW_BLOCK ? len - j : EW_BLOCK;
    const void *in[EW_MAX_IN];
    int64_t s[EW_MAX_IN];
    for (int k = 0; k < c->nin; k++) {
      const char *p = ip[k] + j * is[k] * (int64_t)c->in_sz[k];
      if (direct_k[k]) {
        in[k] = p;
        s[k] = is[k];
      } else if (is[k] == 0) { /* a broadcast value: convert it once */
        gather(p, 0, c->in_dt[k], c->in_ct[k], tmp_in[k], 1);
        in[k] = tmp_in[k];
        s[k] = 0;
      } else {
        gather(p, is[k], c->in_dt[k], c->in_ct[k], tmp_in[k], n);
        in[k] = tmp_in[k];
        s[k] = 1;
      }
    }
    char *o = op + j * (int64_t)c->out_sz;
    if (out_direct) {
      c->fn(o, in, s, n, c->params);
    } else {
      c->fn(tmp_out, in, s, n, c->params);
      if (!(c->out_ct == MX_FLOAT32 && ew_simd_f32_to_half((const float *)tmp_out, o, c->out_dt, n)))
        convert_run(tmp_out, 1, c->out_ct, o, c->out_dt, n);
    }
  }
}

static void ew_task(void *p, int64_t begin, int64_t end) {
  const ew_ctx *c = p;
  int64_t inner = c->it.inner;
  int64_t r = begin / inner, i = begin % inner, pos = begin;
  while (pos < end) {
    int64_t off[ND_MAX_OPS];
    nd_iter_offsets(&c->it, r, off);
    int64_t len = inner - i < end - pos ? inner - i : end - pos;
    do_segment(c, off, i, len);
    pos += len;
    r++;
    i = 0;
  }
}

static mx_status exec(mx_array out, mx_array const *in, int nin, ew_fn fn, const void *params,
                      bool donate, bool raw) {
  if (nin < 1 || nin > EW_MAX_IN) return set_error(MX_ERR_INTERNAL, "elementwise: bad arity %d", nin);
  mx_status st = donate ? array_alloc_donate(out, in, nin) : array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  ew_ctx c;
  memset(&c, 0, sizeof c);
  c.fn = fn;
  c.params = params;
  c.nin = nin;
  c.out_dt = out->dtype;
  c.out_ct = raw ? out->dtype : ew_compute_dtype(out->dtype);
  c.out_sz = mx_dtype_size(c.out_dt);
  c.out_csz = mx_dtype_size(c.out_ct);
  c.out_base = out->buf->ptr; /* out is row-major at offset 0 */
  int64_t strides[EW_MAX_IN + 1][MX_MAX_NDIM];
  const int64_t *sp[EW_MAX_IN + 1];
  memcpy(strides[0], out->strides, sizeof(int64_t) * (size_t)out->ndim);
  sp[0] = strides[0];
  for (int k = 0; k < nin; k++) {
    c.in_dt[k] = in[k]->dtype;
    c.in_ct[k] = raw ? in[k]->dtype : ew_compute_dtype(in[k]->dtype);
    c.in_sz[k] = mx_dtype_size(c.in_dt[k]);
    c.in_csz[k] = mx_dtype_size(c.in_ct[k]);
    c.in_base[k] = array_ptr(in[k]);
    broadcast_strides(in[k], out->shape, out->ndim, strides[k + 1]);
    sp[k + 1] = strides[k + 1];
  }
  nd_iter_init(&c.it, out->shape, out->ndim, sp, nin + 1);
  if (c.it.outer == 0 || c.it.inner == 0) return MX_OK;
  c.direct = c.out_dt == c.out_ct;
  for (int k = 0; k < nin; k++) c.direct = c.direct && input_direct(&c, k);
  parallel_for(c.it.outer * c.it.inner, EW_GRAIN, ew_task, &c);
  return MX_OK;
}

mx_status ew_exec(mx_array out, mx_array const *in, int nin, ew_fn fn, const void *params,
                  bool donate) {
  return exec(out, in, nin, fn, params, donate, false);
}

mx_status ew_exec_raw(mx_array out, mx_array const *in, int nin, ew_fn fn, const void *params,
                      bool donate) {
  return exec(out, in, nin, fn, params, donate, true);
}
