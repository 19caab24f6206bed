/* allocator.c — the caching allocator, buffers and the memory counters.
 *
 * Sizes are rounded to a size class (powers of two below 1 MiB, multiples of
 * 64 KiB above) so that a freed block can serve the next request of the same
 * class: decode loops free and allocate the same sizes every step. Freed
 * blocks wait in a cache, oldest given back first once the cache limit is
 * passed. One mutex guards the counters and the cache; it is held only for
 * bookkeeping, never across a system allocation.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "mlxc/memory.h"

typedef struct cached_block {
  void *ptr;
  size_t size; /* size class */
} cached_block;

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t active_bytes, peak_bytes, cache_bytes;
static size_t memory_limit, cache_limit;
static bool limits_set;
static cached_block *cache; /* oldest first */
static size_t cache_count, cache_cap;

static size_t size_class(size_t n) {
  if (n <= 64) return 64;
  if (n < ((size_t)1 << 20)) {
    size_t c = 128;
    while (c < n) c <<= 1;
    return c;
  }
  const size_t g = (size_t)64 << 10;
  return (n + g - 1) / g * g;
}

static void init_limits_locked(void) {
  if (limits_set) return;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t phys = (pages > 0 && page > 0) ? (size_t)pages * (size_t)page : ((size_t)16 << 30);
  memory_limit = phys + phys / 2;
  cache_limit = memory_limit;
  limits_set = true;
}

/* Frees cached blocks, oldest first, until cache_bytes <= target. Returns
 * the blocks to release outside the lock through `out` (caller frees). */
static size_t evict_locked(size_t target, void **out, size_t out_cap) {
  size_t n = 0, k = 0;
  while (k < cache_count && cache_bytes > target && n < out_cap) {
    out[n++] = cache[k].ptr;
    cache_bytes -= cache[k].size;
    k++;
  }
  if (k) {
    memmove(cache, cache + k, (cache_count - k) * sizeof *cache);
    cache_count -= k;
  }
  return n;
}

static void release_all(void **blocks, size_t n) {
  for (size_t i = 0; i < n; i++) free(blocks[i]);
}

void *mx_alloc(size_t nbytes) {
  size_t cls = size_class(nbytes ? nbytes : 1);
  pthread_mutex_lock(&mem_lock);
  init_limits_locked();
  /* Newest matching block first: it is most likely still in cache. */
  for (size_t i = cache_count; i-- > 0;) {
    if (cache[i].size == cls) {
      void *p = cache[i].ptr;
      memmove(cache + i, cache + i + 1, (cache_count - i - 1) * sizeof *cache);
      cache_count--;
      cache_bytes -= cls;
      active_bytes += cls;
      if (active_bytes > peak_bytes) peak_bytes = active_bytes;
      pthread_mutex_unlock(&mem_lock);
      return p;
    }
  }
  if (active_bytes + cls > memory_limit) {
    size_t limit = memory_limit, act = active_bytes;
    pthread_mutex_unlock(&mem_lock);
    mx_memory_clear_cache();
    set_error(MX_ERR_OOM,
              "alloc: %zu bytes would pass the memory limit (%zu active, limit %zu)",
              nbytes, act, limit);
    return NULL;
  }
  active_bytes += cls;
  if (active_bytes > peak_bytes) peak_bytes = active_bytes;
  pthread_mutex_unlock(&mem_lock);

  void *p = aligned_alloc(64, cls);
  if (!p) {
    mx_memory_clear_cache();
    p = aligned_alloc(64, cls);
  }
  if (!p) {
    pthread_mutex_lock(&mem_lock);
    active_bytes -= cls;
    pthread_mutex_unlock(&mem_lock);
    set_error(MX_ERR_OOM, "alloc: out of memory allocating %zu bytes", nbytes);
    return NULL;
  }
  return p;
}

void mx_free(void *ptr, size_t nbytes) {
  if (!ptr) return;
  size_t cls = size_class(nbytes ? nbytes : 1);
  void *evicted[64];
  size_t nev = 0;
  bool cached = false;
  pthread_mutex_lock(&mem_lock);
  active_bytes -= cls;
  if (cls <= cache_limit) {
    if (cache_count == cache_cap) {
      size_t cap = cache_cap ? cache_cap * 2 : 256;
      cached_block *nc = realloc(cache, cap * sizeof *nc);
      if (nc) {
        cache = nc;
        cache_cap = cap;
      }
    }
    if (cache_count < cache_cap) {
      cache[cache_count++] = (cached_block){ptr, cls};
      cache_bytes += cls;
      cached = true;
      nev = evict_locked(cache_limit, evicted, 64);
    }
  }
  pthread_mutex_unlock(&mem_lock);
  if (!cached) free(ptr);
  release_all(evicted, nev);
}

/* ---- public counters ---- */

/* Device memory counts in the same active/peak figures (residency.c). */
void memory_account_device(size_t nbytes, bool add) {
  pthread_mutex_lock(&mem_lock);
  if (add) {
    active_bytes += nbytes;
    if (active_bytes > peak_bytes) peak_bytes = active_bytes;
  } else {
    active_bytes -= nbytes < active_bytes ? nbytes : active_bytes;
  }
  pthread_mutex_unlock(&mem_lock);
}

size_t mx_memory_active(void) {
  pthread_mutex_lock(&mem_lock);
  size_t v = active_bytes;
  pthread_mutex_unlock(&mem_lock);
  return v;
}
size_t mx_memory_peak(void) {
  pthread_mutex_lock(&mem_lock);
  size_t v = peak_bytes;
  pthread_mutex_unlock(&mem_lock);
  return v;
}
size_t mx_memory_cache(void) {
  pthread_mutex_lock(&mem_lock);
  size_t v = cache_bytes;
  pthread_mutex_unlock(&mem_lock);
  return v;
}
void mx_memory_reset_peak(void) {
  pthread_mutex_lock(&mem_lock);
  peak_bytes = active_bytes;
  pthread_mutex_unlock(&mem_lock);
}
size_t mx_memory_set_cache_limit(size_t bytes) {
  pthread_mutex_lock(&mem_lock);
  init_limits_locked();
  size_t old = cache_limit;
  cache_limit = bytes;
  pthread_mutex_unlock(&mem_lock);
  /* Trim in rounds: evict_locked hands back a bounded batch each time. */
  for (;;) {
    void *ev[64];
    pthread_mutex_lock(&mem_lock);
    size_t n = evict_locked(cache_limit, ev, 64);
    pthread_mutex_unlock(&mem_lock);
    release_all(ev, n);
    if (n < 64) break;
  }
  return old;
}
size_t mx_memory_set_limit(size_t bytes) {
  pthread_mutex_lock(&mem_lock);
  init_limits_locked();
  size_t old = memory_limit;
  memory_limit = bytes;
  pthread_mutex_unlock(&mem_lock);
  return old;
}
size_t mx_memory_limit(void) {
  pthread_mutex_lock(&mem_lock);
  init_limits_locked();
  size_t v = memory_limit;
  pthread_mutex_unlock(&mem_lock);
  return v;
}
void mx_memory_clear_cache(void) {
  for (;;) {
    void *ev[64];
    pthread_mutex_lock(&mem_lock);
    size_t n = evict_locked(0, ev, 64);
    pthread_mutex_unlock(&mem_lock);
    release_all(ev, n);
    if (n < 64) break;
  }
}

/* ---- buffers ---- */

mx_buffer *buffer_new(size_t nbytes) {
  mx_buffer *b = malloc(sizeof *b);
  if (!b) {
    set_error(MX_ERR_OOM, "alloc: out of memory");
    return NULL;
  }
  b->ptr = mx_alloc(nbytes);
  if (!b->ptr) {
    free(b);
    return NULL;
  }
  atomic_init(&b->refs, 1);
  b->nbytes = nbytes;
  b->release = NULL;
  b->release_ctx = NULL;
  b->borrowed = false;
  b->dptr = NULL;
  b->valid = BUF_HOST;
  return b;
}

mx_buffer *buffer_borrow(void *ptr, size_t nbytes, void (*release)(void *), void *ctx) {
  mx_buffer *b = malloc(sizeof *b);
  if (!b) {
    set_error(MX_ERR_OOM, "alloc: out of memory");
    return NULL;
  }
  atomic_init(&b->refs, 1);
  b->ptr = ptr;
  b->nbytes = nbytes;
  b->release = release;
  b->release_ctx = ctx;
  b->borrowed = true;
  b->dptr = NULL;
  b->valid = BUF_HOST;
  return b;
}

void buffer_retain(mx_buffer *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }

void buffer_release(mx_buffer *b) {
  if (!b) return;
  if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
  if (b->dptr) buffer_free_device(b);
  if (b->borrowed) {
    if (b->release) b->release(b->release_ctx);
  } else if (b->ptr) {
    mx_free(b->ptr, b->nbytes);
  }
  free(b);
}
