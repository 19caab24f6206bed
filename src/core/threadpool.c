/* threadpool.c — the CPU thread pool behind parallel_for.
 *
 * One pool per process, sized from the machine (MLXC_NUM_THREADS overrides).
 * The calling thread takes part; workers spin briefly before sleeping so
 * back-to-back kernels of a decode step do not pay a wake-up each. A
 * parallel_for issued while the pool is busy (another thread, or nested
 * inside a task) runs on the caller alone: correct, never deadlocks.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"

typedef struct pool {
  int nthreads; /* including the caller */
  pthread_mutex_t run_lock; /* held by the thread that owns the current job */
  pthread_mutex_t lock;
  pthread_cond_t wake;
  /* the current job */
  range_fn fn;
  void *ctx;
  int64_t n, chunk;
  atomic_long next_chunk, nchunks;
  /* Workers inside the current job. The caller waits only for these, never
   * for a worker that has not woken yet: on an oversubscribed machine a
   * sleeping worker may take milliseconds to get a core. */
  atomic_int active;
  atomic_int open; /* 1 while the current job accepts workers */
  atomic_ulong generation;
} pool;

static pool P;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local bool in_task;

static void run_chunks(void) {
  for (;;) {
    long c = atomic_fetch_add(&P.next_chunk, 1);
    if (c >= atomic_load(&P.nchunks)) break;
    int64_t b = c * P.chunk, e = b + P.chunk;
    if (e > P.n) e = P.n;
    P.fn(P.ctx, b, e);
  }
}

static void *worker(void *arg) {
  (void)arg;
  in_task = true;
  unsigned long seen = 0;
  for (;;) {
    unsigned long g;
    int spins = 0;
    /* ~2000 pauses (tens of microseconds) bridge the gaps between the
     * kernels of a decode step; the former 20000 (about half a millisecond)
     * kept a spinning worker on a core that OpenBLAS's own threads needed
     * during prefill GEMMs (on 2 cores, bench_lm prefill ran ~1.8x faster
     * with 2000, decode unchanged within noise). */
    while ((g = atomic_load(&P.generation)) == seen && spins < 2000) {
      spins++;
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
    if (g == seen) {
      pthread_mutex_lock(&P.lock);
      while ((g = atomic_load(&P.generation)) == seen) pthread_cond_wait(&P.wake, &P.lock);
      pthread_mutex_unlock(&P.lock);
    }
    seen = g;
    /* Join only a job that is still open: once the caller has closed it
     * (all chunks taken) it may already be setting up the next one. */
    atomic_fetch_add(&P.active, 1);
    if (atomic_load(&P.open) && atomic_load(&P.generation) == g) run_chunks();
    atomic_fetch_sub(&P.active, 1);
  }
  return NULL;
}

static void pool_init(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  n = env_long("MLXC_NUM_THREADS", n, 1, LONG_MAX);
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  P.nthreads = (int)n;
  pthread_mutex_init(&P.run_lock, NULL);
  pthread_mutex_init(&P.lock, NULL);
  pthread_cond_init(&P.wake, NULL);
  for (int i = 1; i < P.nthreads; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, worker, NULL) != 0) {
      P.nthreads = i;
      pthread_attr_destroy(&attr);
      break;
    }
    pthread_attr_destroy(&attr);
  }
}

int cpu_thread_count(void) {
  pthread_once(&pool_once, pool_init);
  return P.nthreads;
}

void parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int nt = cpu_thread_count();
  if (nt == 1 || n <= grain || in_task || pthread_mutex_trylock(&P.run_lock) != 0) {
    fn(ctx, 0, n);
    return;
  }
  /* Twice as many chunks as threads evens out uneven work; never below grain. */
  int64_t want = (int64_t)nt * 2;
  int64_t chunk = (n + want - 1) / want;
  if (chunk < grain) chunk = grain;
  P.fn = fn;
  P.ctx = ctx;
  P.n = n;
  P.chunk = chunk;
  atomic_store(&P.nchunks, (long)((n + chunk - 1) / chunk));
  atomic_store(&P.next_chunk, 0);
  atomic_store(&P.open, 1);
  pthread_mutex_lock(&P.lock);
  atomic_fetch_add(&P.generation, 1);
  pthread_cond_broadcast(&P.wake);
  pthread_mutex_unlock(&P.lock);
  in_task = true;
  run_chunks();
  in_task = false;
  /* Every chunk is taken; close the job and wait for the workers that are
   * still running one (seq_cst: a worker that joins after this load sees
   * open == 0 and leaves without touching the job). */
  atomic_store(&P.open, 0);
  while (atomic_load(&P.active) > 0) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  pthread_mutex_unlock(&P.run_lock);
}
