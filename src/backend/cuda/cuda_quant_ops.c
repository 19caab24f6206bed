/* cuda_quant_ops.c — GPU kernels of the quant family (see cuda_table.h):
 * quantized_matmul and dequantize (MLX affine format), gguf_matmul and
 * gguf_dequantize (Q4_0, Q8_0). Params structs are the CPU kernels' own
 * (src/backend/cpu/quantized.h, ggml_blocks.h).
 *
 * Products with at most 8 activation rows per weight matrix (decode) use
 * the fused dequantize-dot kernels of quant.cu (x @ W^T only); short
 * prompts (up to CHUNKED_MAX_ROWS rows, one matrix) run them on 8 rows at
 * a time. Everything else (prefill, x @ W) dequantizes W into a pool
 * scratch in x's dtype, a
 * tile of at most 64M values at a time, and multiplies with cuBLAS (f32
 * accumulation; bf16/f16 on tensor cores; f32 in plain f32, no TF32).
 * The fp modes (mxfp4, nvfp4, mxfp8) and the other GGUF block types run on
 * the CPU (cuda_fallback_cpu). */
#include <cuda_runtime_api.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu/ggml_blocks.h"
#include "../cpu/quantized.h"
#include "cuda_backend.h"
#include "cuda_blas.h"
#include "cuda_quant.h"
#include "cuda_table.h"
#include "qgemm.h" /* qgemm helper: fused prefill kernel */

#define DECODE_MAX_ROWS 8
/* Up to this many rows, x @ W^T runs the decode kernels on 8 rows at a
 * time: each pass reads the 4/8-bit weights once (ceil(M/8) reads), where
 * dequantize + GEMM writes and reads them again as 16-bit (about 9 reads
 * of the packed bytes). Measured on the H200 (`mlxc bench -p N -n 0 -r 3`,
 * Llama-3.1-8B shape, MLX 4-bit): time to first token for 16 tokens 14.8 ms
 * in passes against 19.1 ms through dequantize + GEMM, for 32 tokens
 * 23.1 ms against 20.6 ms. */
#define CHUNKED_MAX_ROWS 16
/* MLXC_QMV_CHUNK_ROWS=n overrides the limit (0 or 8: off), for A/B runs. */
static int64_t chunked_max_rows(void) {
  static int64_t v = -1;
  if (v < 0) {
    const char *e = getenv("MLXC_QMV_CHUNK_ROWS");
    v = e ? atoll(e) : CHUNKED_MAX_ROWS;
    if (v < 0) v = 0;
  }
  return v;
}
#define TILE_VALUES ((int64_t)1 << 26)

static cublasHandle_t qhandle;

static mx_status blas_ready(void) {
  const cuda_blas_api *blas = cuda_blas(); /* loaded on first use */
  if (!blas) return mx_last_error_code();
  if (!qhandle) {
    cublasStatus_t s = blas->Create(&qhandle);
    if (s != CUBLAS_STATUS_SUCCESS) {
      qhandle = NULL;
      return set_error(MX_ERR_DEVICE, "cuBLAS: create: status %d", (int)s);
    }
  }
  blas->SetStream(qhandle, (cudaStream_t)cuda_stream());
  return MX_OK;
}

static mx_status qcheck(int err, const char *what) {
  if (err == CU_Q_UNSUPPORTED)
    return set_error(MX_ERR_INTERNAL, "%s: kernel rejected a case it was given", what);
  return cuda_check(err, what);
}

/* ---- scratch and dense operands ---- */

typedef struct scratch {
  void *p;
  size_t bytes;
} scratch;

static void *scratch_get(scratch *s, size_t bytes) {
  s->bytes = bytes ? bytes : 1;
  s->p = gpu_get()->alloc(s->bytes);
  return s->p;
}

/* Freed after the kernels using it were enqueued: the pool hands the memory
 * out again only to later work on the same stream. */
static void scratch_put(scratch *s) {
  if (s->p) gpu_get()->free(s->p, s->bytes);
  s->p = NULL;
}

/* Whether the last two dims of a are dense row-major. */
static bool mat_dense(mx_array a) {
  int n = a->ndim;
  if (n == 0) return true;
  if (a->shape[n - 1] > 1 && a->strides[n - 1] != 1) return false;
  return n < 2 || a->shape[n - 2] <= 1 || a->strides[n - 2] == a->shape[n - 1];
}

/* An operand as the kernels read it: a device pointer and its strides (in
 * elements), a dense copy when its matrices are not dense (or `need_rm`:
 * the whole array must be row-major) or its pointer is not 16-byte aligned. */
typedef struct operand {
  const void *p;
  int64_t strides[MX_MAX_NDIM];
  scratch tmp;
} operand;

static mx_status operand_open(operand *o, mx_array a, bool need_rm) {
  o->tmp.p = NULL;
  const void *p = array_dptr(a);
  bool ok = need_rm ? a->row_contiguous : mat_dense(a);
  if (ok && ((uintptr_t)p & 15) == 0) {
    o->p = p;
    memcpy(o->strides, a->strides, sizeof o->strides);
    return MX_OK;
  }
  size_t bytes = (size_t)a->size * mx_dtype_size(a->dtype);
  if (!scratch_get(&o->tmp, bytes)) return mx_last_error_code();
  row_major_strides(a->shape, a->ndim, o->strides);
  o->p = o->tmp.p;
  if (a->size == 0) return MX_OK;
  cu_layout L;
  memset(&L, 0, sizeof L);
  L.ndim = a->ndim;
  for (int d = 0; d < a->ndim; d++) {
    L.shape[d] = a->shape[d];
    L.strides[1][d] = a->strides[d];
  }
  L.offset[1] = a->offset;
  return cuda_check(cu_copy(a->dtype, a->dtype, o->tmp.p, a->buf->dptr, &L, a->size,
                            cuda_stream()),
                    "quantized operand copy");
}

static void operand_close(operand *o) { scratch_put(&o->tmp); }

static cudaDataType_t cuda_type(mx_dtype t) {
  return t == MX_FLOAT32 ? CUDA_R_32F : t == MX_FLOAT16 ? CUDA_R_16F : CUDA_R_16BF;
}

/* C (col-major rows x cols, ldc) = op(A) (rows x k) * X^T-as-col-major
 * (k x cols, ldx): the row-major product Y = X W^T (opA = T) or X W
 * (opA = N) seen by cuBLAS. */
static mx_status gemm(mx_dtype t, bool transA, int64_t rows, int64_t cols, int64_t k,
                      const void *A, int64_t lda, const void *X, int64_t ldx, float beta, void *C,
                      int64_t ldc) {
  float one = 1.0f;
  cudaDataType_t dt = cuda_type(t);
  /* blas_ready() ran first, so cuBLAS is loaded */
  cublasStatus_t s = cuda_blas()->GemmEx(qhandle, transA ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N,
                                         (int)rows, (int)cols, (int)k, &one, A, dt, (int)lda, X,
                                         dt, (int)ldx, &beta, C, dt, (int)ldc, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT);
  if (s == CUBLAS_STATUS_SUCCESS) return MX_OK;
  return set_error(MX_ERR_DEVICE, "cuBLAS: quantized gemm: status %d", (int)s);
}

static mx_status zero_out(mx_array out) {
  return cuda_check(cudaMemsetAsync(array_dptr(out), 0,
                                    (size_t)out->size * mx_dtype_size(out->dtype), cuda_stream()),
                    out->prim->name);
}

/* ---- quantized_matmul ---- */

/* Batch strides of operand a (batch dims aligned from the right with out's
 * nb batch dims; broadcast dims get 0). */
static void batch_strides(mx_array a, const int64_t *strides, int nb, int64_t *dst) {
  int na = a->ndim - 2 > 0 ? a->ndim - 2 : 0;
  for (int d = 0; d < nb; d++) {
    int ad = d - (nb - na);
    dst[d] = ad < 0 || a->shape[ad] == 1 ? 0 : strides[ad];
  }
}

typedef struct qmm_job {
  mx_dtype t;
  const quant_params *p;
  int64_t M, N, K; /* per matrix: out is M x N, x is M x K */
  const uint8_t *w;
  const void *s, *b;
  const void *x;
  void *y;
} qmm_job;

/* One product through dequantized tiles + cuBLAS. */
static mx_status qmm_gemm(const qmm_job *j) {
  size_t ts = mx_dtype_size(j->t);
  const quant_params *p = j->p;
  /* W's logical shape: (N, K) for x @ W^T, (K, N) for x @ W; tiles are runs
   * of whole rows of it. */
  int64_t wrows = p->transpose ? j->N : j->K, wcols = p->transpose ? j->K : j->N;
  int64_t tr = TILE_VALUES / (wcols ? wcols : 1);
  if (tr < 1) tr = 1;
  if (tr > wrows) tr = wrows;
  scratch sc = {0};
  if (!scratch_get(&sc, (size_t)(tr * wcols) * ts)) return mx_last_error_code();
  mx_status st = MX_OK;
  int64_t gpr = wcols / p->group_size; /* groups per row */
  for (int64_t r0 = 0; r0 < wrows && st == MX_OK; r0 += tr) {
    int64_t nr = wrows - r0 < tr ? wrows - r0 : tr;
    const uint8_t *w = j->w + r0 * (wcols * p->bits / 8);
    const char *s = (const char *)j->s + (size_t)(r0 * gpr) * ts;
    const char *b = (const char *)j->b + (size_t)(r0 * gpr) * ts;
    st = qcheck(cu_qdequant(j->t, j->t, p->bits, p->group_size, w, s, b, sc.p, nr * wcols,
                            cuda_stream()),
                "quantized_matmul: dequantize");
    if (st < 0) break;
    if (p->transpose) /* Y[:, r0:r0+nr] (col-major nr x M) = Wt^T X^T */
      st = gemm(j->t, true, nr, j->M, j->K, sc.p, j->K, j->x, j->K, 0.0f,
                (char *)j->y + (size_t)r0 * ts, j->N);
    else /* Y (col-major N x M) += Wt (N x nr) X[:, r0:r0+nr]^T */
      st = gemm(j->t, false, j->N, j->M, nr, sc.p, j->N, (const char *)j->x + (size_t)r0 * ts,
                j->K, r0 ? 1.0f : 0.0f, j->y, j->N);
  }
  scratch_put(&sc);
  return st;
}

static mx_status gpu_quantized_matmul(mx_array out, mx_array const *in, int nin,
                                      const void *params) {
  const quant_params *p = params;
  mx_dtype t = out->dtype;
  if (p->mode != MX_QUANT_AFFINE || nin < 4 ||
      (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) || in[0]->dtype != t ||
      in[2]->dtype != t || in[3]->dtype != t)
    return cuda_fallback_cpu(out, in, nin, params);
  mx_array x = in[0];
  int64_t K = x->shape[x->ndim - 1];
  int64_t M = x->ndim >= 2 ? x->shape[x->ndim - 2] : 1;
  int64_t N = out->shape[out->ndim - 1];
  if (K > INT_MAX || N > INT_MAX || out->size / (N ? N : 1) > INT_MAX)
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  if (K == 0) return zero_out(out);
  if ((st = blas_ready()) < 0) return st;
  int64_t B = out->size / (M * N);
  int nb = out->ndim > 2 ? out->ndim - 2 : 0;
  operand ox = {0}, ow = {0}, os = {0}, ob = {0};
  cu_qbatch bt;
  if ((st = operand_open(&ox, x, false)) < 0 || (st = operand_open(&ow, in[1], false)) < 0 ||
      (st = operand_open(&os, in[2], false)) < 0 || (st = operand_open(&ob, in[3], false)) < 0)
    goto done;
  memset(&bt, 0, sizeof bt);
  bt.nb = nb;
  memcpy(bt.shape, out->shape, (size_t)nb * sizeof(int64_t));
  batch_strides(x, ox.strides, nb, bt.stride[0]);
  batch_strides(in[1], ow.strides, nb, bt.stride[1]);
  batch_strides(in[2], os.strides, nb, bt.stride[2]);
  batch_strides(in[3], ob.strides, nb, bt.stride[3]);
  /* One weight matrix for every batch entry and x's rows evenly spaced:
   * the batch folds into the rows (the LM case, x of shape (1, L, K)). */
  bool shared_w = true, x_flat = true;
  int64_t expect = M * K;
  for (int d = nb - 1; d >= 0; d--) {
    for (int k = 1; k < 4; k++) shared_w = shared_w && bt.stride[k][d] == 0;
    if (out->shape[d] == 1) continue;
    x_flat = x_flat && bt.stride[0][d] == expect;
    expect *= out->shape[d];
  }
  int64_t rows = M, nbatch = B;
  if (shared_w && x_flat) {
    rows = M * B;
    nbatch = 1;
    bt.nb = 0;
  }
  if (p->transpose && ((rows <= DECODE_MAX_ROWS && nbatch <= 65535) ||
                       (rows <= chunked_max_rows() && nbatch == 1))) {
    /* Weights read in place (no copy just queued) and written before the
     * last drain. */
    bool settled = !ow.tmp.p && !os.tmp.p && !ob.tmp.p;
    for (int k = 1; k < 4; k++) settled = settled && buffer_device_settled(in[k]->buf);
    size_t ts = mx_dtype_size(t);
    int e = CU_Q_UNSUPPORTED;
    /* Row passes of at most 8 (x and y dense row-major for one matrix).
     * A pass that declines sends the whole product to the path below,
     * which writes every row. */
    for (int64_t r0 = 0; r0 < rows; r0 += DECODE_MAX_ROWS) {
      int64_t m = rows - r0 < DECODE_MAX_ROWS ? rows - r0 : DECODE_MAX_ROWS;
      e = cu_qmv(t, p->bits, p->group_size, (const char *)ox.p + (size_t)(r0 * K) * ts, ow.p,
                 os.p, ob.p, (char *)array_dptr(out) + (size_t)(r0 * N) * ts, m, N, K, &bt,
                 nbatch, settled, cuda_stream());
      if (e != 0) break;
    }
    if (e != CU_Q_UNSUPPORTED) {
      st = cuda_check(e, "quantized_matmul");
      goto done;
    }
  }
  {
    size_t ts = mx_dtype_size(t);
    for (int64_t i = 0; i < nbatch && st == MX_OK; i++) {
      int64_t off[4] = {0, 0, 0, 0}, rem = i;
      for (int d = bt.nb - 1; d >= 0; d--) {
        int64_t c = rem % bt.shape[d];
        rem /= bt.shape[d];
        for (int k = 0; k < 4; k++) off[k] += c * bt.stride[k][d];
      }
      qmm_job j = {t,
                   p,
                   rows,
                   N,
                   K,
                   (const uint8_t *)ow.p + off[1] * 4,
                   (const char *)os.p + (size_t)off[2] * ts,
                   (const char *)ob.p + (size_t)off[3] * ts,
                   (const char *)ox.p + (size_t)off[0] * ts,
                   (char *)array_dptr(out) + (size_t)(i * rows * N) * ts};
      /* ---- qgemm (qgemm.cu): fused dequantize + tensor-core GEMM for x @ W^T
       * (f16/bf16, 4/8-bit, gs 32/64/128), for the shapes where it measured
       * faster (qgemm.h: M <= 128, N >= 16384; MLXC_QGEMM=1 for all); falls
       * through when it answers unsupported. */
      if (p->transpose) {
        int e = cu_qgemm(t, p->bits, p->group_size, j.x, j.w, j.s, j.b, j.y, rows, N, K,
                         cuda_stream());
        if (e != CU_Q_UNSUPPORTED) {
          st = cuda_check(e, "quantized_matmul");
          continue;
        }
      }
      /* ---- end qgemm */
      st = qmm_gemm(&j);
    }
  }
done:
  operand_close(&ox);
  operand_close(&ow);
  operand_close(&os);
  operand_close(&ob);
  return st;
}

/* ---- dequantize ---- */

static mx_status gpu_dequantize(mx_array out, mx_array const *in, int nin, const void *params) {
  const quant_params *p = params;
  mx_dtype ot = out->dtype, st_t = nin >= 3 ? in[1]->dtype : MX_DTYPE_COUNT;
  bool half_or_f32 = st_t == MX_FLOAT32 || st_t == MX_FLOAT16 || st_t == MX_BFLOAT16;
  if (p->mode != MX_QUANT_AFFINE || nin != 3 || !half_or_f32 || in[2]->dtype != st_t ||
      (ot != MX_FLOAT32 && ot != MX_FLOAT16 && ot != MX_BFLOAT16))
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  operand ow = {0}, os = {0}, ob = {0};
  if ((st = operand_open(&ow, in[0], true)) >= 0 && (st = operand_open(&os, in[1], true)) >= 0 &&
      (st = operand_open(&ob, in[2], true)) >= 0)
    st = qcheck(cu_qdequant(st_t, ot, p->bits, p->group_size, ow.p, os.p, ob.p, array_dptr(out),
                            out->size, cuda_stream()),
                "dequantize");
  operand_close(&ow);
  operand_close(&os);
  operand_close(&ob);
  return st;
}

/* ---- GGUF ---- */

static bool gguf_covered(mx_ggml_type t) { return t == MX_GGML_Q4_0 || t == MX_GGML_Q8_0; }

static mx_status gpu_gguf_matmul(mx_array out, mx_array const *in, int nin, const void *params) {
  const ggml_params *p = params;
  mx_dtype t = out->dtype;
  if (!gguf_covered(p->type) || in[0]->dtype != t ||
      (t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16))
    return cuda_fallback_cpu(out, in, nin, params);
  mx_array x = in[0], wa = in[1];
  int64_t K = p->cols, N = wa->shape[0], M = K ? x->size / K : 0;
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  if (K == 0) return zero_out(out);
  if ((st = blas_ready()) < 0) return st;
  int64_t rb = wa->shape[1];
  size_t ts = mx_dtype_size(t);
  operand ox = {0}, ow = {0};
  if ((st = operand_open(&ox, x, true)) < 0 || (st = operand_open(&ow, wa, true)) < 0) goto done;
  if (M <= DECODE_MAX_ROWS) {
    int e = cu_gguf_mv(t, (int)p->type, ox.p, ow.p, array_dptr(out), M, N, K, rb, cuda_stream());
    if (e != CU_Q_UNSUPPORTED) {
      st = cuda_check(e, "gguf_matmul");
      goto done;
    }
  }
  {
    int64_t tr = TILE_VALUES / K;
    if (tr < 1) tr = 1;
    if (tr > N) tr = N;
    scratch sc = {0};
    if (!scratch_get(&sc, (size_t)(tr * K) * ts)) {
      st = mx_last_error_code();
      goto done;
    }
    for (int64_t r0 = 0; r0 < N && st == MX_OK; r0 += tr) {
      int64_t nr = N - r0 < tr ? N - r0 : tr;
      st = qcheck(cu_gguf_dequant((int)p->type, t, (const uint8_t *)ow.p + r0 * rb, sc.p, nr, K,
                                  rb, cuda_stream()),
                  "gguf_matmul: dequantize");
      if (st == MX_OK)
        st = gemm(t, true, nr, M, K, sc.p, K, ox.p, K, 0.0f,
                  (char *)array_dptr(out) + (size_t)r0 * ts, N);
    }
    scratch_put(&sc);
  }
done:
  operand_close(&ox);
  operand_close(&ow);
  return st;
}

static mx_status gpu_gguf_dequantize(mx_array out, mx_array const *in, int nin,
                                     const void *params) {
  const ggml_params *p = params;
  mx_dtype ot = out->dtype;
  if (!gguf_covered(p->type) || (ot != MX_FLOAT32 && ot != MX_FLOAT16 && ot != MX_BFLOAT16))
    return cuda_fallback_cpu(out, in, nin, params);
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  operand ow = {0};
  if ((st = operand_open(&ow, in[0], true)) >= 0)
    st = qcheck(cu_gguf_dequant((int)p->type, ot, ow.p, array_dptr(out), in[0]->shape[0], p->cols,
                                in[0]->shape[1], cuda_stream()),
                "gguf_dequantize");
  operand_close(&ow);
  return st;
}

const cuda_kernel_entry cuda_quant_kernels[] = {
    {"quantized_matmul", gpu_quantized_matmul},
    {"dequantize", gpu_dequantize},
    {"gguf_matmul", gpu_gguf_matmul},
    {"gguf_dequantize", gpu_gguf_dequantize},
    {NULL, NULL},
};
