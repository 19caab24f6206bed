/* cuda_backend.c — the CUDA backend's runtime: device probe, one stream,
 * a caching pool of device memory, host <-> device copies, CUDA errors as
 * mx errors, and the table from primitives to GPU kernels. Compiled only
 * when CMake builds the CUDA backend (MLXC_HAVE_CUDA). */
#include "cuda_backend.h"
#include "cuda_graph.h"
#include "cuda_index.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static cudaStream_t stream;
static int ndevices;

void *cuda_stream(void) { return stream; }

mx_status cuda_check(int err, const char *what) {
  if (err == 0) return MX_OK;
  return set_error(MX_ERR_DEVICE, "CUDA: %s: %s", what, cudaGetErrorString((cudaError_t)err));
}

/* ---- memory pool: size classes of powers of two (>= 256 bytes); freed
 * blocks wait in per-class lists for reuse. Kernels are ordered on the one
 * stream, so a block freed after its last kernel was enqueued can be
 * handed to the next kernel without a synchronization. */
#define NCLASS 48
typedef struct block {
  void *p;
  struct block *next;
} block;
static block *free_lists[NCLASS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;

static int size_class(size_t n, size_t *rounded) {
  size_t s = 256;
  int c = 0;
  while (s < n && c < NCLASS - 1) {
    s <<= 1;
    c++;
  }
  *rounded = s;
  return c;
}

static void pool_trim(void) {
  for (int c = 0; c < NCLASS; c++) {
    while (free_lists[c]) {
      block *b = free_lists[c];
      free_lists[c] = b->next;
      cudaFree(b->p);
      free(b);
    }
  }
}

static void *dev_alloc(size_t nbytes) {
  size_t rounded;
  int c = size_class(nbytes, &rounded);
  pthread_mutex_lock(&pool_lock);
  block *b = free_lists[c];
  if (b) free_lists[c] = b->next;
  pthread_mutex_unlock(&pool_lock);
  if (b) {
    void *p = b->p;
    free(b);
    return p;
  }
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, rounded);
  if (e == cudaErrorMemoryAllocation) {
    /* Give the cached blocks back and try once more. */
    cudaGetLastError();
    mx_status qs;
    bool held = cuda_graph_quiesce(&qs);
    cudaStreamSynchronize(stream);
    pthread_mutex_lock(&pool_lock);
    pool_trim();
    pthread_mutex_unlock(&pool_lock);
    e = cudaMalloc(&p, rounded);
    cuda_graph_release(held);
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    set_error(e == cudaErrorMemoryAllocation ? MX_ERR_OOM : MX_ERR_DEVICE,
              "CUDA: allocating %zu bytes: %s", nbytes, cudaGetErrorString(e));
    return NULL;
  }
  return p;
}

static void dev_free(void *p, size_t nbytes) {
  size_t rounded;
  int c = size_class(nbytes, &rounded);
  block *b = malloc(sizeof *b);
  if (!b) {
    mx_status qs;
    bool held = cuda_graph_quiesce(&qs);
    cudaStreamSynchronize(stream);
    cudaFree(p);
    cuda_graph_release(held);
    return;
  }
  b->p = p;
  pthread_mutex_lock(&pool_lock);
  b->next = free_lists[c];
  free_lists[c] = b;
  pthread_mutex_unlock(&pool_lock);
}

/* ---- pinned staging for small uploads: a decode step uploads a few
 * scalars (a token id, a position) while the stream still runs the last
 * step's kernels; waiting for the stream there would drain the GPU's queue
 * every token. A small upload is copied into one of NSLOT pinned slots and
 * sent asynchronously; the slot's event says when the copy has read it, and
 * only a slot still in flight (NSLOT uploads ago) is waited for. */
#define NSLOT 64
#define SLOT_BYTES 65536
static unsigned char *staging;
static cudaEvent_t slot_done[NSLOT];
/* Filled while a graph was being recorded: the copy runs when the graph
 * does, so the slot's event is recorded after the launch. */
static bool slot_deferred[NSLOT];
static int next_slot;
static pthread_mutex_t staging_lock = PTHREAD_MUTEX_INITIALIZER;

static bool staging_init(void) {
  if (cudaHostAlloc((void **)&staging, (size_t)NSLOT * SLOT_BYTES, cudaHostAllocDefault)) {
    cudaGetLastError();
    staging = NULL;
    return false;
  }
  for (int i = 0; i < NSLOT; i++) {
    if (cudaEventCreateWithFlags(&slot_done[i], cudaEventDisableTiming)) {
      cudaGetLastError();
      while (i-- > 0) cudaEventDestroy(slot_done[i]);
      cudaFreeHost(staging);
      staging = NULL;
      return false;
    }
  }
  return true;
}

void cuda_staging_after_launch(void) {
  pthread_mutex_lock(&staging_lock);
  for (int s = 0; s < NSLOT; s++) {
    if (!slot_deferred[s]) continue;
    slot_deferred[s] = false;
    if (cudaEventRecord(slot_done[s], stream) != cudaSuccess) {
      /* Without the event, wait here so the slot is never reused early. */
      cudaGetLastError();
      cudaStreamSynchronize(stream);
    }
  }
  pthread_mutex_unlock(&staging_lock);
}

static mx_status to_device(void *dptr, const void *host, size_t n) {
  if (!n) return MX_OK;
  mx_status st = MX_OK;
  if (staging && n <= SLOT_BYTES) {
    int s = next_slot;
    /* A slot filled earlier in this recording is read only when the graph
     * runs: launch the recording before filling the slot again. */
    if (slot_deferred[s] && cuda_graph_recording()) {
      cuda_graph_release(cuda_graph_quiesce(&st));
      if (st < 0) return st;
    }
    pthread_mutex_lock(&staging_lock);
    next_slot = (next_slot + 1) % NSLOT;
    unsigned char *slot = staging + (size_t)s * SLOT_BYTES;
    st = cuda_check(cudaEventSynchronize(slot_done[s]), "copy to device");
    if (st == MX_OK) {
      memcpy(slot, host, n);
      st = cuda_check(cudaMemcpyAsync(dptr, slot, n, cudaMemcpyHostToDevice, stream),
                      "copy to device");
    }
    if (st == MX_OK) {
      if (cuda_graph_recording()) slot_deferred[s] = true;
      else st = cuda_check(cudaEventRecord(slot_done[s], stream), "copy to device");
    }
    pthread_mutex_unlock(&staging_lock);
    return st;
  }
  bool held = cuda_graph_quiesce(&st);
  if (st == MX_OK)
    st = cuda_check(cudaMemcpyAsync(dptr, host, n, cudaMemcpyHostToDevice, stream),
                    "copy to device");
  /* The host memory may be reused as soon as we return. */
  if (st == MX_OK) st = cuda_check(cudaStreamSynchronize(stream), "copy to device");
  cuda_graph_release(held);
  return st;
}

/* After a synchronization: an index the GPU found out of range since the
 * last one (cuda_index.h) becomes this call's error. */
static mx_status index_errors(void) {
  if (!cu_ix_error_take()) return MX_OK;
  return set_error(MX_ERR_INVALID_ARG,
                   "take / gather / scatter on the GPU: an index was out of range (found by the "
                   "kernel, which used the nearest valid index instead); results computed from "
                   "it since the last synchronization are wrong");
}

static mx_status to_host(void *host, const void *dptr, size_t n) {
  if (!n) return MX_OK;
  mx_status st;
  bool held = cuda_graph_quiesce(&st);
  if (st == MX_OK)
    st = cuda_check(cudaMemcpyAsync(host, dptr, n, cudaMemcpyDeviceToHost, stream),
                    "copy to host");
  if (st == MX_OK) st = cuda_check(cudaStreamSynchronize(stream), "copy to host");
  if (st == MX_OK) gpu_note_drained();
  cuda_graph_release(held);
  return st == MX_OK ? index_errors() : st;
}

static mx_status synchronize(void) {
  mx_status st;
  bool held = cuda_graph_quiesce(&st);
  if (st == MX_OK) st = cuda_check(cudaStreamSynchronize(stream), "synchronize");
  if (st == MX_OK) gpu_note_drained();
  cuda_graph_release(held);
  return st == MX_OK ? index_errors() : st;
}

static int device_count(void) { return ndevices; }

static const gpu_backend backend = {
    .name = "cuda",
    .device_count = device_count,
    .alloc = dev_alloc,
    .free = dev_free,
    .to_device = to_device,
    .to_host = to_host,
    .synchronize = synchronize,
    .kernel_for = cuda_kernel_for,
    .batch_begin = cuda_graph_batch_begin,
    .node_begin = cuda_graph_node_begin,
    .node_end = cuda_graph_node_end,
    .batch_end = cuda_graph_batch_end,
};

const gpu_backend *cuda_backend_probe(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
    cudaGetLastError();
    return NULL;
  }
  if (cudaSetDevice(0) != cudaSuccess ||
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  ndevices = n;
  staging_init(); /* without it, uploads wait for the stream */
  if (cu_ix_error_init() != 0) cudaGetLastError(); /* kernels still clamp; nothing is flagged */
  return &backend;
}

mx_status cuda_fallback_cpu(mx_array out, mx_array const *in, int nin, const void *params) {
  for (int i = 0; i < nin; i++) {
    mx_status st = in[i]->buf ? buffer_to_host(in[i]->buf) : MX_OK;
    if (st < 0) return st;
  }
  gpu_note_fallback();
  exec_set_gpu(false);
  mx_status st = out->prim->cpu(out, in, nin, params);
  exec_set_gpu(true);
  return st;
}

void cuda_layout_of(cu_layout *L, mx_array out, mx_array const *ops, int nops) {
  memset(L, 0, sizeof *L);
  L->ndim = out->ndim;
  for (int d = 0; d < out->ndim; d++) {
    L->shape[d] = out->shape[d];
    L->strides[0][d] = out->strides[d];
  }
  L->offset[0] = out->offset;
  for (int k = 0; k < nops; k++) {
    mx_array x = ops[k];
    int lead = out->ndim - x->ndim;
    for (int d = 0; d < out->ndim; d++) {
      int xd = d - lead;
      L->strides[k + 1][d] = xd < 0 || x->shape[xd] == 1 ? 0 : x->strides[xd];
    }
    L->offset[k + 1] = x->offset;
  }
}
