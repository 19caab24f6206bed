/* core.h — the array core's internal interface, shared by ops and backends.
 *
 * An array is a node of the lazy graph: shape and dtype are fixed when it is
 * made; `prim` + `params` + `inputs` say how to compute it. Evaluation runs
 * the primitive's kernel for the array's stream device, which gives the array
 * a buffer (fresh, donated from an input, or shared with an input for views),
 * and then drops the inputs and params.
 *
 * Who owns what:
 * - `inputs[i]` are references owned by the node (released on detach/free).
 * - `params` is a malloc'ed copy owned by the node.
 * - `buf` is a reference to a refcounted buffer; views share it.
 */
#ifndef MLXC_CORE_H
#define MLXC_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlxc/array.h"
#include "mlxc/device.h"
#include "mlxc/dtype.h"
#include "mlxc/error.h"

/* ------------------------------------------------------------ errors */

/* Records the thread's last error (printf-style) and returns `code`. */
mx_status set_error(mx_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Formats "(2,3,4)" into buf; returns buf. */
char *fmt_shape(char *buf, size_t cap, const int64_t *shape, int ndim);
/* A ready buffer size for fmt_shape. */
#define SHAPE_STR_CAP (MX_MAX_NDIM * 21 + 4)

/* For front ends: returns true (and records an error if none is pending)
 * when any of the n arrays is NULL. */
bool any_null(const char *op, const mx_array *arrays, int n);

/* ------------------------------------------------------------ buffers */

typedef struct mx_buffer {
  atomic_long refs;
  void *ptr;
  size_t nbytes;
  /* Borrowed memory: release(ctx) when the last reference goes. */
  void (*release)(void *ctx);
  void *release_ctx;
  bool borrowed;
  /* Device residency (CUDA builds, residency.c): the device copy, or NULL,
   * and which copies hold the current contents (BUF_HOST | BUF_DEVICE).
   * A buffer a GPU kernel wrote has no host memory (ptr NULL) until a host
   * reader asks for it. */
  void *dptr;
  uint8_t valid;
  uint64_t device_write_epoch; /* see buffer_device_settled */
} mx_buffer;

enum { BUF_HOST = 1, BUF_DEVICE = 2 };

/* A new buffer from the caching allocator (NULL + MX_ERR_OOM on failure).
 * The memory is 64-byte aligned and uninitialized. */
mx_buffer *buffer_new(size_t nbytes);
mx_buffer *buffer_borrow(void *ptr, size_t nbytes, void (*release)(void *), void *ctx);
void buffer_retain(mx_buffer *b);
void buffer_release(mx_buffer *b);

/* A device-only buffer (GPU kernels' outputs; NULL + error without one). */
mx_buffer *buffer_new_device(size_t nbytes);
/* Make the host (device) copy current, allocating and copying as needed. */
mx_status buffer_to_host(mx_buffer *b);
mx_status buffer_to_device(mx_buffer *b);
/* GPU write tracking (residency.c). The drain epoch advances each time the
 * GPU backend has waited for all work it queued; a buffer remembers the
 * epoch in which a GPU kernel or an upload last wrote it. A buffer last
 * written before the latest drain is "settled": no work still in flight
 * writes it, so a kernel may read it before its predecessor on the stream
 * finishes (programmatic dependent launch of the decode GEMVs). Every
 * place that makes a GPU kernel write a buffer (array_alloc on the GPU,
 * donation, in-place kernels) calls buffer_note_device_write. */
void gpu_note_drained(void);
void buffer_note_device_write(mx_buffer *b);
bool buffer_device_settled(const mx_buffer *b);

/* Releases the device copy (buffer_release calls it). */
void buffer_free_device(mx_buffer *b);
/* Device bytes allocated (add) or released, counted in mx_memory_active /
 * mx_memory_peak with the host's. */
void memory_account_device(size_t nbytes, bool add);

/* The raw allocator (used by buffer_new; kernels may use it for scratch). */
void *mx_alloc(size_t nbytes); /* NULL + error on failure */
void mx_free(void *ptr, size_t nbytes);

/* ------------------------------------------------------------ primitives */

struct mx_array_impl;
typedef struct mx_array_impl mx_array_impl;

/* A kernel computes `out` from `in[0..nin)` (all evaluated), reading its
 * parameters from `params`. It must give `out` a buffer (array_alloc,
 * array_alloc_donate or array_set_view) and return MX_OK, or return a
 * negative status with the error set. */
typedef mx_status (*kernel_fn)(mx_array out, mx_array const *in, int nin,
                               const void *params);

/* One row of the primitive table. Ops point at a static const instance;
 * the pointer identifies the primitive (e.g. for plan caching). */
typedef struct mx_primitive {
  const char *name;
  kernel_fn cpu;
  kernel_fn gpu; /* NULL until the CUDA backend provides it */
} mx_primitive;

/* ------------------------------------------------------------ GPU backend */

/* What a GPU backend (src/backend/cuda) gives the core. Installed once, at
 * the first gpu_get(), when the build has one and a device is present. */
typedef struct gpu_backend {
  const char *name;
  int (*device_count)(void);
  void *(*alloc)(size_t nbytes); /* NULL + error */
  void (*free)(void *dptr, size_t nbytes);
  /* Copies finish before returning (the host side may be reused at once). */
  mx_status (*to_device)(void *dptr, const void *host, size_t nbytes);
  mx_status (*to_host)(void *host, const void *dptr, size_t nbytes);
  mx_status (*synchronize)(void);
  /* The GPU kernel of a primitive, or NULL (the node then runs on the CPU). */
  kernel_fn (*kernel_for)(const struct mx_primitive *p);
  /* Batching (may be NULL): eval announces the n nodes it is about to run,
   * one structural key per node, then brackets each node's kernel with
   * node_begin / node_end (i = the node's place in the batch), then ends
   * the batch. The backend may record the kernels and launch them later as
   * CUDA graphs, as long as all of them have been launched, in order, when
   * batch_end returns (see src/backend/cuda/cuda_graph.c). */
  void (*batch_begin)(const uint64_t *node_keys, size_t n);
  mx_status (*node_begin)(size_t i);
  mx_status (*node_end)(size_t i);
  mx_status (*batch_end)(void);
} gpu_backend;

/* The backend, or NULL when the build has none or no device is usable. */
const gpu_backend *gpu_get(void);
/* True while eval runs a GPU kernel on this thread (array_alloc then makes
 * device buffers). */
bool exec_on_gpu(void);
/* Nodes asked to run on the GPU that ran on the CPU for lack of a kernel
 * (a measure of backend coverage; see scripts/gpu-check.sh). */
int64_t gpu_fallback_count(void);
void gpu_note_fallback(void);
void exec_set_gpu(bool on);

/* Seconds on a monotonic clock (clock.c), for timings. */
double monotonic_seconds(void);

/* ------------------------------------------------------------ arrays */

enum { ARRAY_PENDING = 0, ARRAY_SCHEDULED = 1, ARRAY_EVALUATED = 2 };

struct mx_array_impl {
  atomic_long refs;
  mx_dtype dtype;
  int ndim;
  int64_t size;
  int64_t shape[MX_MAX_NDIM];

  /* Set by evaluation. Strides and offset are in elements. */
  int64_t strides[MX_MAX_NDIM];
  int64_t offset;
  mx_buffer *buf;
  bool row_contiguous; /* strides are row-major and the data is dense */

  /* The lazy node (cleared once evaluated). */
  const mx_primitive *prim;
  void *params;
  int nin;
  mx_array *inputs;
  mx_stream stream;
  atomic_int state;

  /* Bookkeeping for eval (graph walk) and scopes; see eval.c, scope.c. */
  uint64_t visit_mark;
  int32_t scope_level; /* latest registration: -1 when none is known */
  int32_t scope_slot;
  int32_t scope_count; /* references to it that this thread's scopes own */
};

/* Makes a pending node. Copies `params` (params_size bytes) and takes new
 * references to the inputs. Checks ndim and shape; returns NULL on error.
 * Any NULL input gives NULL (error kept). */
mx_array node_new(const mx_primitive *prim, mx_dtype dtype, const int64_t *shape,
                  int ndim, const mx_array *inputs, int nin, const void *params,
                  size_t params_size);

/* Makes an evaluated array owning a fresh uninitialized row-major buffer. */
mx_array array_new_alloc(mx_dtype dtype, const int64_t *shape, int ndim);

/* Kernel helpers: give `out` a buffer. */
mx_status array_alloc(mx_array out); /* fresh row-major */
/* Reuse the buffer of an input that nobody else reads and that is row-major
 * with the same byte size as `out`; else allocate. */
mx_status array_alloc_donate(mx_array out, mx_array const *in, int nin);
/* Make `out` a view of `src`'s buffer with the given element strides and
 * offset (relative to the buffer start). */
void array_set_view(mx_array out, mx_array src, const int64_t *strides, int64_t offset);

/* Element pointer of an evaluated array at its offset. */
static inline void *array_ptr(mx_array a) {
  return (char *)a->buf->ptr + (size_t)a->offset * mx_dtype_size(a->dtype);
}

/* Device pointer of an evaluated array at its offset (GPU kernels). */
static inline void *array_dptr(mx_array a) {
  return (char *)a->buf->dptr + (size_t)a->offset * mx_dtype_size(a->dtype);
}
/* Row-major strides of a shape; returns the element count. */
int64_t row_major_strides(const int64_t *shape, int ndim, int64_t *strides);
/* True if the strides describe dense row-major data (size-1 dims ignored). */
bool strides_are_row_major(const int64_t *shape, const int64_t *strides, int ndim);
int64_t shape_size(const int64_t *shape, int ndim);

/* Internal references: unlike the public mx_array_retain, these never go to
 * the caller's scope. Use them for references a structure keeps. */
static inline mx_array array_retain(mx_array a) {
  if (a) atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
  return a;
}
/* Drops a reference without touching scopes (scope_end uses it). */
void array_release(mx_array a);

/* Drops an evaluated node's inputs and params. */
void array_detach(mx_array a);

/* Waits for all mx_async_eval work to finish (mx_synchronize). */
void async_wait_idle(void);

/* Evaluates one array (and its graph) if it is not yet. */
mx_status array_ensure_evaluated(mx_array a);
/* Evaluates it and makes its host copy current (for host readers). */
mx_status array_ensure_host(mx_array a);

/* ------------------------------------------------------------ shapes */

/* NumPy broadcasting of two shapes; error names `op`. */
mx_status broadcast_shapes(const char *op, const int64_t *a, int na, const int64_t *b,
                           int nb, int64_t *out, int *nout);
/* A user-given shape for ops that make arrays: rank in range, shape not
 * NULL when ndim > 0, no negative dims, at most max_elems elements. */
bool shape_check(const char *op, const int64_t *shape, int ndim, int64_t max_elems);
/* Normalizes an axis into [0, ndim); error names `op`. */
mx_status normalize_axis(const char *op, int axis, int ndim, int *out);
/* Normalizes a list of distinct axes (sorted ascending); NULL/0 -> all. */
mx_status normalize_axes(const char *op, const int *axes, int naxes, int ndim,
                         int *out, int *nout);

/* ------------------------------------------------------------ threads */

/* Calls fn(ctx, begin, end) over [0, n) split across the CPU pool. Ranges
 * are at least `grain` long; small n runs on the caller's thread. */
typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);
void parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx);
int cpu_thread_count(void);

/* ------------------------------------------------------------ environment */

/* The integer value of environment variable `name` (base 10, surrounding
 * white space allowed); dflt when it is unset, not a number, or outside
 * [lo, hi]. Knob readers cache it in a static themselves. */
long env_long(const char *name, long dflt, long lo, long hi);

/* ------------------------------------------------------------ cpu features */

typedef struct cpu_features {
  bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni;
} cpu_features;
const cpu_features *cpu_get_features(void);

#endif
