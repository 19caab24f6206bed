/* gguf_quantize.c — float weights to GGUF blocks (Q8_0, Q4_0), bit for bit
 * what llama.cpp's reference quantizers (quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref) write, so files we make quantize exactly as
 * llama-quantize would from the same f32 values.
 *
 * The arithmetic is kept in the reference's order and precision (f32
 * multiply by the reciprocal scale, not a division; round-half-away for Q8_0,
 * +8.5 then truncation for Q4_0; the scale stored as f16 rounded to nearest
 * even), because any reordering changes which side of a rounding boundary a
 * value lands on. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../backend/cpu/cpu.h"
#include "../core/half.h"
#include "mlxc/quantized.h"

typedef struct gq_params {
  mx_ggml_type type;
  int64_t cols;
} gq_params;

static void put_f16(uint8_t *p, float v) {
  uint16_t h = f32_to_f16(v);
  p[0] = (uint8_t)(h & 0xff);
  p[1] = (uint8_t)(h >> 8);
}

static void quant_q8_0(const float *x, uint8_t *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += 32, y += 34) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
  }
}

static void quant_q4_0(const float *x, uint8_t *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += 32, y += 18) {
    /* The signed value of largest magnitude (the first one on ties) maps
     * to -8, so the asymmetric 4-bit range is used on the side that needs
     * it. */
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++)
      if (amax < fabsf(x[j])) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < 16; j++) {
      const float x0 = x[j] * id, x1 = x[16 + j] * id;
      int q0 = (int8_t)(x0 + 8.5f), q1 = (int8_t)(x1 + 8.5f);
      if (q0 > 15) q0 = 15;
      if (q1 > 15) q1 = 15;
      y[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

typedef struct gq_ctx {
  const float *src_f32;  /* whole matrix as f32 (strided input), or NULL */
  const uint8_t *src;    /* row-contiguous input of dtype `dt` */
  mx_dtype dt;
  int64_t cols, row_bytes;
  mx_ggml_type type;
  uint8_t *dst;
  atomic_llong bad_row; /* first row with a non-finite value, or -1 */
} gq_ctx;

static void gq_range(void *p, int64_t r0, int64_t r1) {
  gq_ctx *c = p;
  float *tmp = NULL;
  if (!c->src_f32) {
    tmp = malloc((size_t)c->cols * sizeof *tmp);
    if (!tmp) {
      long long none = -1;
      atomic_compare_exchange_strong(&c->bad_row, &none, -2);
      return;
    }
  }
  size_t esize = mx_dtype_size(c->dt);
  for (int64_t r = r0; r < r1; r++) {
    const float *x;
    if (c->src_f32) {
      x = c->src_f32 + r * c->cols;
    } else {
      convert_run(c->src + (size_t)(r * c->cols) * esize, 1, c->dt, tmp, MX_FLOAT32, c->cols);
      x = tmp;
    }
    bool finite = true;
    for (int64_t j = 0; j < c->cols; j++) finite &= isfinite(x[j]) != 0;
    if (!finite) {
      /* Keep the smallest bad row so the message does not depend on
       * thread timing. */
      long long cur = atomic_load(&c->bad_row);
      while ((cur < 0 && cur != -2) || cur > r)
        if (atomic_compare_exchange_weak(&c->bad_row, &cur, r)) break;
      continue;
    }
    uint8_t *y = c->dst + r * c->row_bytes;
    if (c->type == MX_GGML_Q8_0)
      quant_q8_0(x, y, c->cols / 32);
    else
      quant_q4_0(x, y, c->cols / 32);
  }
  free(tmp);
}

static mx_status cpu_gguf_quantize(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const gq_params *p = params;
  mx_array w = in[0];
  mx_status st = array_alloc(out);
  if (st) return st;
  gq_ctx c = {.dt = w->dtype, .cols = p->cols, .row_bytes = out->shape[1], .type = p->type,
              .dst = array_ptr(out)};
  atomic_init(&c.bad_row, -1);
  float *full = NULL;
  if (w->row_contiguous) {
    c.src = array_ptr(w);
  } else {
    full = malloc((size_t)w->size * sizeof *full);
    if (!full) return set_error(MX_ERR_OOM, "gguf_quantize: out of memory (%lld values)",
                                (long long)w->size);
    array_copy_to_row_major(w, full, MX_FLOAT32);
    c.src_f32 = full;
  }
  int64_t rows = out->shape[0];
  parallel_for(rows, c.cols > 0 ? (32768 + c.cols - 1) / c.cols : rows, gq_range, &c);
  free(full);
  long long bad = atomic_load(&c.bad_row);
  if (bad == -2) return set_error(MX_ERR_OOM, "gguf_quantize: out of memory");
  if (bad >= 0)
    return set_error(MX_ERR_INVALID_ARG,
                     "gguf_quantize: row %lld holds a NaN or infinite value (llama.cpp refuses "
                     "such weights too)",
                     bad);
  return MX_OK;
}

static const mx_primitive prim_gguf_quantize = {"gguf_quantize", cpu_gguf_quantize, NULL};

mx_status mx_gguf_quantize(mx_array w, mx_ggml_type type, mx_array *blocks) {
  const char *op = "gguf_quantize";
  if (!blocks) return set_error(MX_ERR_INVALID_ARG, "%s: NULL output pointer", op);
  *blocks = NULL;
  if (!w) return mx_last_error_code() ? mx_last_error_code()
                                      : set_error(MX_ERR_INVALID_ARG, "%s: NULL weight", op);
  int64_t bsize, bbytes;
  if (type != MX_GGML_Q8_0 && type != MX_GGML_Q4_0) {
    if (mx_ggml_type_block(type, &bsize, &bbytes))
      return set_error(MX_ERR_UNSUPPORTED, "%s: block type %s is not supported (supported: "
                       "q8_0, q4_0)", op, mx_ggml_type_name(type));
    return set_error(MX_ERR_INVALID_ARG, "%s: unknown ggml type %d", op, (int)type);
  }
  mx_ggml_type_block(type, &bsize, &bbytes);
  if (w->dtype != MX_FLOAT32 && w->dtype != MX_FLOAT16 && w->dtype != MX_BFLOAT16)
    return set_error(MX_ERR_DTYPE, "%s: weight must be float32, float16 or bfloat16, got %s", op,
                     mx_dtype_name(w->dtype));
  char s[SHAPE_STR_CAP];
  if (w->ndim < 1)
    return set_error(MX_ERR_SHAPE, "%s: weight must have at least 1 dimension, got shape ()", op);
  int64_t cols = w->shape[w->ndim - 1];
  if (cols == 0 || cols % bsize != 0)
    return set_error(MX_ERR_SHAPE, "%s: the last dimension (%lld, shape %s) must be a positive "
                     "multiple of the %s block size %lld", op, (long long)cols,
                     fmt_shape(s, sizeof s, w->shape, w->ndim), mx_ggml_type_name(type),
                     (long long)bsize);
  gq_params p = {type, cols};
  int64_t shape[2] = {w->size / cols, cols / bsize * bbytes};
  *blocks = node_new(&prim_gguf_quantize, MX_UINT8, shape, 2, &w, 1, &p, sizeof p);
  return *blocks ? MX_OK : mx_last_error_code();
}
