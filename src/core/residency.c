/* residency.c — where a buffer's contents live. CPU-only builds never leave
 * the host. With a GPU backend, a buffer may hold a host copy, a device copy
 * or both; `valid` says which are current. Kernels ask for their inputs on
 * their device (eval.c) and their outputs are current there only; host
 * readers (mx_array_data, items, I/O) bring contents back on demand. */
#include <pthread.h>
#include <stdlib.h>

#include "core.h"

#ifdef MLXC_HAVE_CUDA
const gpu_backend *cuda_backend_probe(void); /* src/backend/cuda */
#endif

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static const gpu_backend *backend;

static void probe(void) {
#ifdef MLXC_HAVE_CUDA
  backend = cuda_backend_probe();
#endif
}

const gpu_backend *gpu_get(void) {
  pthread_once(&probe_once, probe);
  return backend;
}

static _Thread_local bool on_gpu;
static atomic_llong fallbacks;

bool exec_on_gpu(void) { return on_gpu; }
void exec_set_gpu(bool v) { on_gpu = v; }
int64_t gpu_fallback_count(void) { return (int64_t)atomic_load(&fallbacks); }
void gpu_note_fallback(void) { atomic_fetch_add(&fallbacks, 1); }

/* Starts at 1 so that a buffer never written on the GPU (epoch 0) is
 * settled. */
static atomic_ullong drain_epoch = 1;

void gpu_note_drained(void) { atomic_fetch_add(&drain_epoch, 1); }
void buffer_note_device_write(mx_buffer *b) { b->device_write_epoch = atomic_load(&drain_epoch); }
bool buffer_device_settled(const mx_buffer *b) {
  return b->device_write_epoch < atomic_load(&drain_epoch);
}

mx_buffer *buffer_new_device(size_t nbytes) {
  const gpu_backend *g = gpu_get();
  if (!g) {
    set_error(MX_ERR_DEVICE, "gpu: no GPU backend or device");
    return NULL;
  }
  mx_buffer *b = calloc(1, sizeof *b);
  if (!b) {
    set_error(MX_ERR_OOM, "alloc: out of memory");
    return NULL;
  }
  b->dptr = g->alloc(nbytes ? nbytes : 1);
  if (!b->dptr) {
    free(b);
    return NULL;
  }
  memory_account_device(nbytes, true);
  atomic_init(&b->refs, 1);
  b->nbytes = nbytes;
  b->valid = BUF_DEVICE;
  buffer_note_device_write(b);
  return b;
}

mx_status buffer_to_host(mx_buffer *b) {
  if (b->valid & BUF_HOST) return MX_OK;
  const gpu_backend *g = gpu_get();
  if (!g || !b->dptr) return set_error(MX_ERR_INTERNAL, "gpu: buffer has no current copy");
  if (!b->ptr) {
    b->ptr = mx_alloc(b->nbytes ? b->nbytes : 1);
    if (!b->ptr) return mx_last_error_code();
  }
  mx_status st = g->to_host(b->ptr, b->dptr, b->nbytes);
  if (st < 0) return st;
  b->valid |= BUF_HOST;
  return MX_OK;
}

mx_status buffer_to_device(mx_buffer *b) {
  if (b->valid & BUF_DEVICE) return MX_OK;
  const gpu_backend *g = gpu_get();
  if (!g) return set_error(MX_ERR_DEVICE, "gpu: no GPU backend or device");
  if (!b->dptr) {
    b->dptr = g->alloc(b->nbytes ? b->nbytes : 1);
    if (!b->dptr) return mx_last_error_code();
    memory_account_device(b->nbytes, true);
  }
  buffer_note_device_write(b); /* the upload may still be in flight */
  mx_status st = g->to_device(b->dptr, b->ptr, b->nbytes);
  if (st < 0) return st;
  b->valid |= BUF_DEVICE;
  return MX_OK;
}

void buffer_free_device(mx_buffer *b) {
  const gpu_backend *g = gpu_get();
  if (g && b->dptr) {
    g->free(b->dptr, b->nbytes ? b->nbytes : 1);
    memory_account_device(b->nbytes, false);
  }
  b->dptr = NULL;
}
