/* cuda_matmul.c — matmul through cuBLAS: float32, float16 and bfloat16 with
 * float32 accumulation, batched over leading dims. Row-major C = A B is
 * computed as column-major C^T = B^T A^T. Operands whose matrices are
 * neither dense nor dense-transposed, or whose batches are not evenly
 * strided, are first copied dense. cuBLAS is loaded by the first call
 * (cuda_blas.h). */
#include <cuda_runtime_api.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_blas.h"

static cublasHandle_t handle;

static mx_status blas_check(cublasStatus_t s, const char *what) {
  if (s == CUBLAS_STATUS_SUCCESS) return MX_OK;
  return set_error(MX_ERR_DEVICE, "cuBLAS: %s: status %d", what, (int)s);
}

/* How a (.., R, C) operand is read: its matrix leading dimension, whether
 * it is transposed, and the stride between batch entries (elements). */
typedef struct mat {
  const void *p;
  int64_t ld, batch_stride;
  bool trans;
  void *tmp; /* a dense copy we made (device memory), or NULL */
  size_t tmp_bytes;
} mat;

/* Batch entries of x, over out's batch dims, at one constant stride? */
static bool batch_uniform(mx_array x, mx_array out, int64_t *stride) {
  if (x->ndim == 2) {
    *stride = 0;
    return true;
  }
  if (x->ndim != out->ndim) return false;
  int64_t expect = -1, count = 1;
  for (int d = x->ndim - 3; d >= 0; d--) {
    if (x->shape[d] != out->shape[d]) return false;
    if (x->shape[d] == 1) continue;
    if (expect < 0) expect = x->strides[d];
    else if (x->strides[d] != expect * count) return false;
    count *= x->shape[d];
  }
  *stride = expect < 0 ? 0 : expect;
  return true;
}

static mx_status prep(mx_array x, mx_array out, mat *m) {
  m->tmp = NULL;
  int nd = x->ndim, od = out->ndim;
  int64_t R = x->shape[nd - 2], C = x->shape[nd - 1];
  int64_t sr = x->strides[nd - 2], sc = x->strides[nd - 1];
  int64_t bs;
  bool ok = batch_uniform(x, out, &bs);
  if (ok && (sc == 1 || C == 1) && (sr == C || R == 1)) {
    m->trans = false;
    m->ld = C;
  } else if (ok && (sr == 1 || R == 1) && (sc == R || C == 1)) {
    m->trans = true;
    m->ld = R;
  } else {
    /* A dense copy over out's batch dims (broadcast entries repeated). */
    cu_layout L;
    memset(&L, 0, sizeof L);
    L.ndim = od;
    int64_t n = 1;
    for (int d = 0; d < od; d++) {
      int xd = d - (od - nd);
      L.shape[d] = d >= od - 2 ? x->shape[xd] : out->shape[d];
      L.strides[1][d] = xd < 0 || x->shape[xd] == 1 ? 0 : x->strides[xd];
      n *= L.shape[d];
    }
    L.offset[1] = x->offset;
    m->tmp_bytes = (size_t)n * mx_dtype_size(x->dtype);
    m->tmp = gpu_get()->alloc(m->tmp_bytes ? m->tmp_bytes : 1);
    if (!m->tmp) return mx_last_error_code();
    mx_status st = cuda_check(cu_copy(x->dtype, x->dtype, m->tmp, x->buf->dptr, &L, n,
                                      cuda_stream()),
                              "matmul operand copy");
    m->trans = false;
    m->ld = C;
    m->p = m->tmp;
    m->batch_stride = od > 2 ? R * C : 0;
    return st;
  }
  m->p = array_dptr(x);
  m->batch_stride = bs;
  return MX_OK;
}

static void release(mat *m) {
  if (m->tmp) gpu_get()->free(m->tmp, m->tmp_bytes ? m->tmp_bytes : 1);
  m->tmp = NULL;
}

mx_status gpu_matmul(mx_array out, mx_array const *in, int nin, const void *params) {
  mx_dtype t = out->dtype;
  if ((t != MX_FLOAT32 && t != MX_FLOAT16 && t != MX_BFLOAT16) || in[0]->ndim < 2 ||
      in[1]->ndim < 2 || in[0]->dtype != t || in[1]->dtype != t)
    return cuda_fallback_cpu(out, in, nin, params);
  const cuda_blas_api *blas = cuda_blas();
  if (!blas) return mx_last_error_code();
  if (!handle) {
    mx_status st = blas_check(blas->Create(&handle), "create");
    if (st < 0) return st;
    blas->SetStream(handle, (cudaStream_t)cuda_stream());
  }
  mx_status st = array_alloc(out);
  if (st < 0 || out->size == 0) return st;
  int nd = out->ndim;
  int64_t M = out->shape[nd - 2], N = out->shape[nd - 1], K = in[0]->shape[in[0]->ndim - 1];
  int64_t nb = out->size / (M * N);
  if (K == 0) return cuda_check(cudaMemsetAsync(out->buf->dptr, 0, (size_t)out->size *
                                                mx_dtype_size(t), cuda_stream()), "matmul");
  mat a = {0}, b = {0};
  if ((st = prep(in[0], out, &a)) < 0 || (st = prep(in[1], out, &b)) < 0) {
    release(&a);
    release(&b);
    return st;
  }
  cudaDataType_t dt = t == MX_FLOAT32 ? CUDA_R_32F : t == MX_FLOAT16 ? CUDA_R_16F : CUDA_R_16BF;
  float one = 1.0f, zero = 0.0f;
  /* Column-major view: C^T (N x M) = B^T (N x K) * A^T (K x M). A row-major
   * dense operand is its transpose in column-major, so "not transposed"
   * here means OP_N. */
  st = blas_check(blas->GemmStridedBatchedEx(
                      handle, b.trans ? CUBLAS_OP_T : CUBLAS_OP_N,
                      a.trans ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K, &one, b.p, dt,
                      (int)b.ld, b.batch_stride, a.p, dt, (int)a.ld, a.batch_stride, &zero,
                      out->buf->dptr, dt, (int)N, M * N, (int)nb, CUBLAS_COMPUTE_32F,
                      CUBLAS_GEMM_DEFAULT),
                  "gemm");
  /* The dense copies are freed after the gemm was enqueued: the pool hands
   * their memory out again only to later work on the same stream. */
  release(&a);
  release(&b);
  return st;
}
