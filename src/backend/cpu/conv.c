/* conv.c — convolution on the CPU: im2col + GEMM (OpenBLAS).
 *
 * The input is made dense in the compute type (f32 for f32/f16/bf16, f64
 * for f64) once; the weight is packed (O, KH, KW, Cg) with the flip of
 * transposed convolutions folded into the copy's strides. Output rows
 * (n, oh, ow) are processed in chunks so the column buffer stays a few MiB:
 * per chunk and group, im2col (split across the pool) then one GEMM
 * out[rows, g*Og:(g+1)*Og] = col (rows x KH*KW*Cg) @ w_g^T, called from
 * this thread. A 1x1 stride-1 unpadded convolution skips im2col: the input
 * already is the column matrix. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "matmul.h"

/* Column-buffer budget in elements per chunk. */
#define COL_BUDGET (1 << 20)

typedef struct conv_geom {
  int64_t N, IH, IW, C;          /* cropped input */
  int64_t OH, OW, O, KH, KW, Cg, Og, G;
  int64_t sh, sw, ph, pw, dh, dw, ih_dil, iw_dil;
} conv_geom;

typedef struct im2col_ctx {
  const conv_geom *g;
  const char *x; /* dense (N, IH_full, IW_full, C) in the compute type, cropped base */
  int64_t xs_n, xs_h;  /* element strides of n and h (w stride is C) */
  char *col;
  size_t es;
  int64_t row0, group;
} im2col_ctx;

static void im2col_rows(void *vc, int64_t begin, int64_t end) {
  const im2col_ctx *c = vc;
  const conv_geom *g = c->g;
  const size_t seg = (size_t)g->Cg * c->es;
  const int64_t kk = g->KH * g->KW * g->Cg;
  for (int64_t r = begin; r < end; r++) {
    int64_t row = c->row0 + r;
    int64_t ow = row % g->OW, t = row / g->OW, oh = t % g->OH, n = t / g->OH;
    char *dst = c->col + (size_t)(r * kk) * c->es;
    for (int64_t kh = 0; kh < g->KH; kh++) {
      /* position in the dilated, padded input */
      int64_t hd = oh * g->sh - g->ph + kh * g->dh;
      int64_t ih = hd / g->ih_dil;
      bool hok = hd >= 0 && hd % g->ih_dil == 0 && ih < g->IH;
      for (int64_t kw = 0; kw < g->KW; kw++, dst += seg) {
        int64_t wd = ow * g->sw - g->pw + kw * g->dw;
        int64_t iw = wd / g->iw_dil;
        if (hok && wd >= 0 && wd % g->iw_dil == 0 && iw < g->IW) {
          const char *src = c->x + (size_t)(n * c->xs_n + ih * c->xs_h + iw * g->C + c->group * g->Cg) * c->es;
          memcpy(dst, src, seg);
        } else {
          memset(dst, 0, seg);
        }
      }
    }
  }
}

static void gemm_nt(bool dbl, int64_t M, int64_t N, int64_t K, const void *a, int64_t lda,
                    const void *b, int64_t ldb, void *c, int64_t ldc) {
  if (dbl)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0, a, (int)lda,
                b, (int)ldb, 0.0, c, (int)ldc);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, a,
                (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}

mx_status cpu_conv(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const conv_params *p = params;
  mx_array x = in[0], w = in[1];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  blas_init_threads();
  const mx_dtype dt = out->dtype;
  const bool dbl = dt == MX_FLOAT64;
  const mx_dtype ct = dbl ? MX_FLOAT64 : MX_FLOAT32;
  const size_t es = mx_dtype_size(ct), eo = mx_dtype_size(dt);
  const int nsp = p->nsp;
  /* 1-d is 2-d with a unit H axis. */
  const int hi = nsp == 2 ? 0 : -1, wi = nsp - 1;
  conv_geom g;
  g.N = x->shape[0];
  g.C = x->shape[nsp + 1];
  g.O = w->shape[0];
  g.G = p->groups;
  g.Cg = g.C / g.G;
  g.Og = g.O / g.G;
  int64_t IHf = hi >= 0 ? x->shape[1] : 1, IWf = x->shape[wi + 1];
  int64_t h0 = hi >= 0 ? p->in_start[hi] : 0, w0 = p->in_start[wi];
  g.IH = hi >= 0 ? p->in_stop[hi] - h0 : 1;
  g.IW = p->in_stop[wi] - w0;
  g.KH = hi >= 0 ? w->shape[1] : 1;
  g.KW = w->shape[wi + 1];
  g.OH = hi >= 0 ? out->shape[1] : 1;
  g.OW = out->shape[wi + 1];
  g.sh = hi >= 0 ? p->stride[hi] : 1;
  g.sw = p->stride[wi];
  g.ph = hi >= 0 ? p->pad_lo[hi] : 0;
  g.pw = p->pad_lo[wi];
  g.dh = hi >= 0 ? p->kdil[hi] : 1;
  g.dw = p->kdil[wi];
  g.ih_dil = hi >= 0 ? p->idil[hi] : 1;
  g.iw_dil = p->idil[wi];
  const int64_t KK = g.KH * g.KW * g.Cg;
  const int64_t P = g.N * g.OH * g.OW;
  char *po = array_ptr(out);
  if (KK == 0) {
    memset(po, 0, (size_t)out->size * eo);
    return MX_OK;
  }
  if (KK > INT_MAX || g.O > INT_MAX || g.C > INT_MAX)
    return set_error(MX_ERR_UNSUPPORTED, "conv: kernel of %lld elements per output exceeds "
                                         "BLAS's 32-bit sizes", (long long)KK);

  /* Dense input in the compute type (a view when it already is). */
  const char *xd;
  char *xbuf = NULL;
  size_t xbytes = 0;
  if (x->row_contiguous && x->dtype == ct) {
    xd = array_ptr(x);
  } else {
    xbytes = (size_t)x->size * es;
    xbuf = mx_alloc(xbytes);
    if (!xbuf) return mx_last_error_code();
    array_copy_to_row_major(x, xbuf, ct);
    xd = xbuf;
  }
  const int64_t xs_h = IWf * g.C, xs_n = IHf * xs_h;
  xd += (size_t)(h0 * xs_h + w0 * g.C) * es;

  /* Packed weight (O, KH, KW, Cg), flipped spatially for transposed convs. */
  size_t wbytes = (size_t)(g.O * KK) * es;
  char *wbuf = mx_alloc(wbytes);
  if (!wbuf) {
    if (xbuf) mx_free(xbuf, xbytes);
    return mx_last_error_code();
  }
  {
    int64_t ws[4], wsh[4];
    const char *wp = array_ptr(w);
    for (int d = 0; d < w->ndim; d++) {
      ws[d] = w->strides[d];
      wsh[d] = w->shape[d];
      if (p->flip && d >= 1 && d <= nsp) {
        wp += (ptrdiff_t)((wsh[d] - 1) * ws[d]) * (ptrdiff_t)mx_dtype_size(w->dtype);
        ws[d] = -ws[d];
      }
    }
    copy_to_row_major(wp, w->dtype, wsh, ws, w->ndim, wbuf, ct);
  }

  const bool pointwise = g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 &&
                         g.pw == 0 && g.ih_dil == 1 && g.iw_dil == 1 && g.G == 1 &&
                         g.IH == g.OH && g.IW == g.OW && g.IH == IHf && g.IW == IWf;
  int64_t chunk = COL_BUDGET / KK;
  if (chunk < 1) chunk = 1;
  if (chunk > P) chunk = P;
  if (chunk > INT_MAX) chunk = INT_MAX;
  if (pointwise) chunk = P > INT_MAX ? INT_MAX : P;
  size_t colbytes = pointwise ? 0 : (size_t)(chunk * KK) * es;
  size_t obytes = dt != ct ? (size_t)(chunk * g.O) * es : 0;
  char *col = colbytes + obytes ? mx_alloc(colbytes + obytes) : NULL;
  if (colbytes + obytes && !col) {
    mx_free(wbuf, wbytes);
    if (xbuf) mx_free(xbuf, xbytes);
    return mx_last_error_code();
  }
  char *ob = col + colbytes;

  im2col_ctx ic = {&g, xd, xs_n, xs_h, col, es, 0, 0};
  int64_t grain = KK >= 4096 ? 1 : 4096 / KK;
  for (int64_t r0 = 0; r0 < P; r0 += chunk) {
    int64_t rows = P - r0 < chunk ? P - r0 : chunk;
    char *dst = dt != ct ? ob : po + (size_t)(r0 * g.O) * eo;
    for (int64_t grp = 0; grp < g.G; grp++) {
      const char *a;
      if (pointwise) {
        a = xd + (size_t)(r0 * g.C) * es;
      } else {
        ic.row0 = r0;
        ic.group = grp;
        parallel_for(rows, grain, im2col_rows, &ic);
        a = col;
      }
      gemm_nt(dbl, rows, g.Og, KK, a, pointwise ? g.C : KK, wbuf + (size_t)(grp * g.Og * KK) * es,
              KK, dst + (size_t)(grp * g.Og) * es, g.O);
    }
    if (dt != ct) convert_run(ob, 1, ct, po + (size_t)(r0 * g.O) * eo, dt, rows * g.O);
  }
  if (col) mx_free(col, colbytes + obytes);
  mx_free(wbuf, wbytes);
  if (xbuf) mx_free(xbuf, xbytes);
  return MX_OK;
}
