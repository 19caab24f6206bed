/* cuda_graph.c — replaying a decode step's kernels as CUDA graphs.
 *
 * Why: a decode step enqueues the same few hundred small kernels every
 * token, and a cudaLaunchKernel costs the host ~5.5 us on the GPU machine
 * (bench/bench_cuda_launch), more than most of those kernels run. Recording
 * the same launches with stream capture costs ~1.5 us each, updating a
 * cached executable graph with the new parameters ~0.1 us each, and a graph
 * launch almost nothing per kernel.
 *
 * How: eval announces each batch of nodes with one structural key per node
 * (core.h, gpu_backend batching hooks). The batch is cut into chunks of
 * CHUNK nodes; a chunk's key is its nodes' keys and its place in the batch.
 * The first time a chunk key is seen its kernels are launched directly
 * (instantiating a graph costs ~8 us per kernel: a one-off prefill would
 * pay it for nothing). From the second time on, the chunk is recorded by
 * stream capture and launched as a graph: the executable graph cached for
 * the key is updated in place (cudaGraphExecUpdate: new pointers, positions
 * and lengths; launches already queued keep their old parameters), or
 * instantiated when the update is refused (the chunk's kernel sequence
 * changed, e.g. attention switched to split-K). A key refused MAX_FAILS
 * times is not recorded again. Chunks keep the GPU busy while the host
 * records the next one.
 *
 * Whatever needs the stream on the host in the middle of a recording (a
 * copy to the host, a CPU fallback, a synchronize, a blocking upload) calls
 * cuda_graph_quiesce first: the recording ends and what it holds is
 * launched at once, so work always runs, in order; the rest of the chunk
 * runs with plain launches. Another thread that needs the stream waits for
 * the recording to end (cap_lock) and keeps the next one from starting.
 *
 * MLXC_CUDA_GRAPHS=0 turns recording off. MLXC_PROFILE=1 prints, at exit,
 * how many chunks were replayed, instantiated, run directly or cut short.
 */
#include "cuda_graph.h"

#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_backend.h"

enum { NCACHE = 256, MAX_FAILS = 3 };

/* Nodes per chunk: MLXC_CUDA_GRAPH_CHUNK (8..4096), else 64. Smaller
 * chunks start the GPU sooner; larger ones cost fewer graph launches. */
static size_t chunk_nodes(void) {
  static size_t n;
  if (!n) n = (size_t)env_long("MLXC_CUDA_GRAPH_CHUNK", 64, 8, 4096);
  return n;
}
#define CHUNK chunk_nodes()

typedef struct chunk_entry {
  uint64_t key;
  cudaGraphExec_t exec;
  int fails;
  bool used; /* the slot holds a key */
} chunk_entry;

static chunk_entry cache[NCACHE];
static unsigned evict_hand;

/* The batch eval is running (eval's lock serializes batches). */
static const uint64_t *batch_keys;
static size_t batch_n;
static bool batch_on;

/* The recording in progress: its owner holds cap_lock from begin to end. */
static pthread_mutex_t cap_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool recording;
static pthread_t owner;
static chunk_entry *rec_entry;
static bool rec_whole; /* false once quiesce cut the chunk short */

static struct {
  long replayed, instantiated, direct, cut, refused;
  double end_sec, update_sec, instantiate_sec, launch_sec; /* host time in each call */
} stats;



/* MLXC_CUDA_GRAPHS=0 launches every kernel directly. */
static bool graphs_enabled(void) {
  static int on = -1;
  if (on < 0) on = (int)env_long("MLXC_CUDA_GRAPHS", 1, 0, 1);
  return on;
}

static void print_stats(void) {
  fprintf(stderr,
          "mlxc cuda graphs: %ld chunks replayed (updated), %ld instantiated, %ld launched "
          "directly, %ld cut short, %ld updates refused; host ms in end capture %.1f, update "
          "%.1f, instantiate %.1f, launch %.1f\n",
          stats.replayed, stats.instantiated, stats.direct, stats.cut, stats.refused,
          stats.end_sec * 1e3, stats.update_sec * 1e3, stats.instantiate_sec * 1e3,
          stats.launch_sec * 1e3);
}

static uint64_t chunk_key(size_t first) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)first;
  size_t end = first + CHUNK < batch_n ? first + CHUNK : batch_n;
  for (size_t i = first; i < end; i++) h = (h ^ batch_keys[i]) * 1099511628211ull;
  return h * 1099511628211ull ^ (uint64_t)(end - first);
}

/* The cache slot of a key: found, or a fresh one (evicting round-robin). */
static chunk_entry *lookup(uint64_t key, bool *found) {
  size_t h = (size_t)(key % NCACHE);
  for (int probe = 0; probe < 8; probe++) {
    chunk_entry *e = &cache[(h + (size_t)probe) % NCACHE];
    if (e->used && e->key == key) {
      *found = true;
      return e;
    }
  }
  for (int probe = 0; probe < 8; probe++) {
    chunk_entry *e = &cache[(h + (size_t)probe) % NCACHE];
    if (!e->used) {
      *found = false;
      return e;
    }
  }
  chunk_entry *e = &cache[(h + evict_hand++ % 8) % NCACHE];
  /* An executable graph still running is freed when it completes. */
  if (e->exec) cudaGraphExecDestroy(e->exec);
  e->exec = NULL;
  e->used = false;
  *found = false;
  return e;
}

static mx_status begin_recording(chunk_entry *e) {
  pthread_mutex_lock(&cap_lock);
  cudaError_t err = cudaStreamBeginCapture((cudaStream_t)cuda_stream(), cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    pthread_mutex_unlock(&cap_lock);
    cudaGetLastError();
    e->fails = MAX_FAILS; /* never try this chunk again; run it directly */
    return MX_OK;
  }
  owner = pthread_self();
  rec_entry = e;
  rec_whole = true;
  atomic_store(&recording, true);
  return MX_OK;
}

/* Ends the recording and launches it: as the chunk's cached graph when the
 * chunk was recorded whole, else as a one-off graph. */
static mx_status end_recording(void) {
  cudaStream_t s = (cudaStream_t)cuda_stream();
  cudaGraph_t g = NULL;
  double t0 = monotonic_seconds();
  cudaError_t err = cudaStreamEndCapture(s, &g);
  double t1 = monotonic_seconds();
  stats.end_sec += t1 - t0;
  atomic_store(&recording, false);
  chunk_entry *e = rec_entry;
  bool whole = rec_whole;
  rec_entry = NULL;
  pthread_mutex_unlock(&cap_lock);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (e) e->fails = MAX_FAILS;
    cuda_staging_after_launch();
    /* The recorded kernels never ran: their outputs hold no results. */
    return cuda_check(err, "recording kernels into a CUDA graph (results of this batch are lost)");
  }
  size_t nnodes = 0;
  cudaGraphGetNodes(g, NULL, &nnodes);
  mx_status st = MX_OK;
  if (nnodes == 0) {
    cudaGraphDestroy(g);
    return MX_OK;
  }
  cudaGraphExec_t exec = NULL;
  bool keep = whole && e;
  if (keep && e->exec) {
    cudaGraphExecUpdateResultInfo info;
    cudaError_t ue = cudaGraphExecUpdate(e->exec, g, &info);
    stats.update_sec += monotonic_seconds() - t1;
    if (ue == cudaSuccess) {
      exec = e->exec;
      stats.replayed++;
    } else {
      cudaGetLastError();
      stats.refused++;
      e->fails++;
      cudaGraphExecDestroy(e->exec);
      e->exec = NULL;
    }
  }
  if (!exec) {
    double ti = monotonic_seconds();
    err = cudaGraphInstantiate(&exec, g, 0);
    stats.instantiate_sec += monotonic_seconds() - ti;
    if (err != cudaSuccess) {
      cudaGraphDestroy(g);
      if (e) e->fails = MAX_FAILS;
      cuda_staging_after_launch();
      return cuda_check(err, "instantiating a CUDA graph (results of this batch are lost)");
    }
    stats.instantiated++;
    if (keep) e->exec = exec;
  }
  double tl = monotonic_seconds();
  st = cuda_check(cudaGraphLaunch(exec, s), "launching a CUDA graph");
  stats.launch_sec += monotonic_seconds() - tl;
  if (!keep) cudaGraphExecDestroy(exec); /* freed once it has run */
  cudaGraphDestroy(g);
  cuda_staging_after_launch();
  return st;
}

void cuda_graph_batch_begin(const uint64_t *node_keys, size_t n) {
  static bool registered;
  if (!registered) {
    registered = true;
    if (getenv("MLXC_PROFILE")) atexit(print_stats);
  }
  batch_on = graphs_enabled() && n > 1;
  batch_keys = node_keys;
  batch_n = n;
}

mx_status cuda_graph_node_begin(size_t i) {
  if (!batch_on || i % CHUNK) return MX_OK;
  bool found;
  uint64_t key = chunk_key(i);
  chunk_entry *e = lookup(key, &found);
  if (!found) {
    e->used = true;
    e->key = key;
    e->fails = 0;
    e->exec = NULL;
    stats.direct++;
    return MX_OK; /* first sight: plain launches */
  }
  if (e->fails >= MAX_FAILS) {
    stats.direct++;
    return MX_OK;
  }
  return begin_recording(e);
}

mx_status cuda_graph_node_end(size_t i) {
  if (!atomic_load(&recording) || ((i + 1) % CHUNK && i + 1 < batch_n)) return MX_OK;
  return end_recording();
}

mx_status cuda_graph_batch_end(void) {
  batch_on = false;
  batch_keys = NULL;
  batch_n = 0;
  return atomic_load(&recording) ? end_recording() : MX_OK;
}

void cuda_graph_counts(long *replayed, long *instantiated, long *direct, long *cut) {
  *replayed = stats.replayed;
  *instantiated = stats.instantiated;
  *direct = stats.direct;
  *cut = stats.cut;
}

bool cuda_graph_recording(void) {
  return atomic_load(&recording) && pthread_equal(owner, pthread_self());
}

bool cuda_graph_quiesce(mx_status *st) {
  *st = MX_OK;
  if (!graphs_enabled()) return false;
  if (cuda_graph_recording()) {
    static int trace = -1;
    if (trace < 0) trace = getenv("MLXC_TRACE") != NULL;
    if (trace) fprintf(stderr, "mlxc trace: (graph recording cut short: the stream is needed on the host)\n");
    rec_whole = false;
    stats.cut++;
    if (rec_entry) rec_entry->fails++; /* a chunk always cut short stops being recorded */
    *st = end_recording();
    return false;
  }
  pthread_mutex_lock(&cap_lock);
  return true;
}

void cuda_graph_release(bool held) {
  if (held) pthread_mutex_unlock(&cap_lock);
}
