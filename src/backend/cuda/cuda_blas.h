/* cuda_blas.h — cuBLAS, loaded on first use (CUDA builds only).
 *
 * Linking libcublas pulls in libcublasLt at program start, and loading that
 * alone costs ~218 MB of resident memory, even in runs that never touch the
 * GPU. So the library is not linked: the first GPU matmul dlopen()s it and
 * looks up the few entry points the backend calls. The cuBLAS headers are
 * still included for the types and enums, and the pointer types are taken
 * from the real prototypes, so every call stays type-checked. */
#ifndef MLXC_CUDA_BLAS_H
#define MLXC_CUDA_BLAS_H

#include <cublas_v2.h>

#include "../../core/core.h"

/* The library the loader asks for first (then its unversioned name). */
#define CUDA_BLAS_SONAME "libcublas.so.13"

/* Every entry point the backend uses: X(field, exported name). Each field's
 * type is taken from the header's prototype of that name, so a field can't
 * disagree with the symbol it is looked up as. */
#define CUDA_BLAS_ENTRIES(X)           \
  X(Create, cublasCreate_v2)           \
  X(SetStream, cublasSetStream_v2)     \
  X(GemmEx, cublasGemmEx)              \
  X(GemmStridedBatchedEx, cublasGemmStridedBatchedEx)

#define CUDA_BLAS_FIELD(field, fn) __typeof__(&fn) field;
typedef struct cuda_blas_api {
  CUDA_BLAS_ENTRIES(CUDA_BLAS_FIELD)
} cuda_blas_api;
#undef CUDA_BLAS_FIELD

/* The cuBLAS entry points, loading the library on the first call (any
 * thread; loaded once). NULL with an MX_ERR_DEVICE error set when it cannot
 * be loaded: "CUDA: cannot load libcublas.so.13: <dlerror's reason>". */
const cuda_blas_api *cuda_blas(void);

/* The same as MX_OK or the error, for callers (tests) without the cuBLAS
 * headers. */
mx_status cuda_blas_init(void);

/* One loading attempt of library `name` (a file name or path) with every
 * entry point looked up, unloaded again: MX_OK, or MX_ERR_DEVICE with
 * "CUDA: cannot load <name>: <reason>". Lets tests reach the failure paths
 * that cuda_blas() meets only on machines without cuBLAS. */
mx_status cuda_blas_probe(const char *name);

#endif
