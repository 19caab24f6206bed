/* sort.c — sorting and selection along one axis on the CPU.
 *
 * Each row is turned into (key, index) pairs where the key is an unsigned
 * integer whose order is MLX's order for the dtype (NaNs last and tied,
 * -0.0 tied with 0.0). Sorting is then an LSD radix sort on the keys, which
 * is stable by construction (ties keep input order, as std::stable_sort in
 * MLX) and skips the byte passes where all keys agree, so narrow dtypes and
 * small integers cost one or two passes. Short rows use insertion sort.
 *
 * Selection (partition / argpartition / topk) must give MLX's element order,
 * not just any valid partition: MLX's CPU backend calls std::nth_element and
 * its Linux builds use libstdc++, whose introselect (median-of-three pivot,
 * Hoare partition, heap-select fallback past depth 2*log2(n), insertion sort
 * for the last <= 3 elements) is deterministic. The routines below follow
 * that algorithm step for step on the pairs, so the permutation they apply
 * is the one MLX applies to its values or indices.
 *
 * Rows are independent and split across the thread pool.
 */
#include <stdlib.h>
#include <string.h>

#include "sort.h"

typedef struct kv {
  uint64_t key;
  uint32_t idx;
} kv;

/* ------------------------------------------------------------ keys */

/* Order-preserving maps of IEEE bit patterns onto unsigned integers. */
static inline uint64_t fkey32(uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0xffffffffu; /* NaN: last, all tied */
  if (u == 0x80000000u) u = 0;                              /* -0.0 == 0.0 */
  return (u & 0x80000000u) ? (uint32_t)~u : (u | 0x80000000u);
}
static inline uint64_t fkey16(uint16_t u, uint16_t inf) {
  if ((u & 0x7fffu) > inf) return 0xffffu;
  if (u == 0x8000u) u = 0;
  return (u & 0x8000u) ? (uint16_t)~u : (uint16_t)(u | 0x8000u);
}
static inline uint64_t fkey64(uint64_t u) {
  if ((u & 0x7fffffffffffffffull) > 0x7ff0000000000000ull) return UINT64_MAX;
  if (u == 0x8000000000000000ull) u = 0;
  return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

/* Fills keys of n elements at p (element stride `st`) and iota indices. */
static void load_keys(const char *p, int64_t st, int64_t n, mx_dtype t, kv *out) {
#define LOOP(T, EXPR)                                   \
  do {                                                  \
    const T *q = (const T *)p;                          \
    for (int64_t i = 0; i < n; i++) {                   \
      T v = q[i * st];                                  \
      out[i].key = (EXPR);                              \
      out[i].idx = (uint32_t)i;                         \
    }                                                   \
  } while (0)
  switch (t) {
    case MX_BOOL: LOOP(uint8_t, v != 0); break;
    case MX_UINT8: LOOP(uint8_t, v); break;
    case MX_UINT16: LOOP(uint16_t, v); break;
    case MX_UINT32: LOOP(uint32_t, v); break;
    case MX_UINT64: LOOP(uint64_t, v); break;
    case MX_INT8: LOOP(uint8_t, (uint8_t)(v ^ 0x80u)); break;
    case MX_INT16: LOOP(uint16_t, (uint16_t)(v ^ 0x8000u)); break;
    case MX_INT32: LOOP(uint32_t, v ^ 0x80000000u); break;
    case MX_INT64: LOOP(uint64_t, v ^ 0x8000000000000000ull); break;
    case MX_FLOAT16: LOOP(uint16_t, fkey16(v, 0x7c00u)); break;
    case MX_BFLOAT16: LOOP(uint16_t, fkey16(v, 0x7f80u)); break;
    case MX_FLOAT32: LOOP(uint32_t, fkey32(v)); break;
    case MX_FLOAT64: LOOP(uint64_t, fkey64(v)); break;
    case MX_COMPLEX64: {
      /* MLX: a NaN real part sorts last; otherwise (real, imag). */
      const uint32_t *q = (const uint32_t *)p;
      for (int64_t i = 0; i < n; i++) {
        uint64_t re = fkey32(q[2 * i * st]), im = fkey32(q[2 * i * st + 1]);
        out[i].key = re == 0xffffffffu ? UINT64_MAX : (re << 32 | im);
        out[i].idx = (uint32_t)i;
      }
      break;
    }
    default: memset(out, 0, (size_t)n * sizeof *out); break;
  }
#undef LOOP
}

/* ------------------------------------------------------------ stable sort */

static void insertion_sort(kv *a, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    kv v = a[i];
    int64_t j = i;
    while (j > 0 && v.key < a[j - 1].key) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

/* Sorts a[0..n) by key, stably; tmp has room for n. */
static void radix_sort(kv *a, kv *tmp, int64_t n) {
  if (n <= 48) {
    insertion_sort(a, n);
    return;
  }
  uint64_t diff = 0, k0 = a[0].key;
  for (int64_t i = 0; i < n; i++) diff |= a[i].key ^ k0;
  if (!diff) return;
  int passes[8], np = 0;
  for (int b = 0; b < 8; b++)
    if ((diff >> (8 * b)) & 0xff) passes[np++] = b;
  /* One histogram sweep for all active bytes. */
  uint32_t(*hist)[256] = calloc((size_t)np, sizeof *hist);
  if (!hist) { /* no memory for 8 KiB: fall back to the quadratic path */
    insertion_sort(a, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    uint64_t k = a[i].key;
    for (int p = 0; p < np; p++) hist[p][(k >> (8 * passes[p])) & 0xff]++;
  }
  kv *src = a, *dst = tmp;
  for (int p = 0; p < np; p++) {
    int sh = 8 * passes[p];
    uint32_t pos[256], sum = 0;
    for (int d = 0; d < 256; d++) {
      pos[d] = sum;
      sum += hist[p][d];
    }
    for (int64_t i = 0; i < n; i++) dst[pos[(src[i].key >> sh) & 0xff]++] = src[i];
    kv *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
  free(hist);
}

/* Keys of at most 32 bits travel packed with their index as key << 32 | idx:
 * half the bytes per radix pass. Ordering the whole word is the stable
 * order, since indices start out increasing. */
static void radix_sort_packed(uint64_t *a, uint64_t *tmp, int64_t n) {
  if (n <= 48) {
    for (int64_t i = 1; i < n; i++) {
      uint64_t v = a[i];
      int64_t j = i;
      while (j > 0 && v < a[j - 1]) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  uint64_t diff = 0, k0 = a[0];
  for (int64_t i = 0; i < n; i++) diff |= a[i] ^ k0;
  diff >>= 32;
  int passes[4], np = 0;
  for (int b = 0; b < 4; b++)
    if ((diff >> (8 * b)) & 0xff) passes[np++] = 32 + 8 * b;
  if (!np) return;
  uint32_t hist[4][256];
  memset(hist, 0, (size_t)np * sizeof hist[0]);
  for (int64_t i = 0; i < n; i++) {
    uint64_t k = a[i];
    for (int p = 0; p < np; p++) hist[p][(k >> passes[p]) & 0xff]++;
  }
  uint64_t *src = a, *dst = tmp;
  for (int p = 0; p < np; p++) {
    int sh = passes[p];
    uint32_t pos[256], sum = 0;
    for (int d = 0; d < 256; d++) {
      pos[d] = sum;
      sum += hist[p][d];
    }
    for (int64_t i = 0; i < n; i++) {
      uint64_t v = src[i];
      dst[pos[(v >> sh) & 0xff]++] = v;
    }
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

/* ------------------------------------------------------------ selection
 * libstdc++'s std::nth_element, transcribed onto kv pairs. `tie` adds the
 * index tie-break MLX's argpartition comparator uses. */

static inline bool kv_less(const kv *a, const kv *b, bool tie) {
  return a->key < b->key || (tie && a->key == b->key && a->idx < b->idx);
}
static inline void kv_swap(kv *a, kv *b) {
  kv t = *a;
  *a = *b;
  *b = t;
}

static void sel_insertion(kv *f, int64_t n, bool tie) {
  for (int64_t i = 1; i < n; i++) {
    kv v = f[i];
    if (kv_less(&v, &f[0], tie)) {
      memmove(f + 1, f, (size_t)i * sizeof *f);
      f[0] = v;
    } else {
      int64_t j = i;
      while (kv_less(&v, &f[j - 1], tie)) {
        f[j] = f[j - 1];
        j--;
      }
      f[j] = v;
    }
  }
}

static void adjust_heap(kv *f, int64_t hole, int64_t len, kv v, bool tie) {
  int64_t top = hole, child = hole;
  while (child < (len - 1) / 2) {
    child = 2 * (child + 1);
    if (kv_less(&f[child], &f[child - 1], tie)) child--;
    f[hole] = f[child];
    hole = child;
  }
  if ((len & 1) == 0 && child == (len - 2) / 2) {
    child = 2 * (child + 1);
    f[hole] = f[child - 1];
    hole = child - 1;
  }
  int64_t parent = (hole - 1) / 2;
  while (hole > top && kv_less(&f[parent], &v, tie)) {
    f[hole] = f[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  f[hole] = v;
}

static void heap_select(kv *f, int64_t mid, int64_t last, bool tie) {
  if (mid >= 2) {
    for (int64_t parent = (mid - 2) / 2;; parent--) {
      adjust_heap(f, parent, mid, f[parent], tie);
      if (parent == 0) break;
    }
  }
  for (int64_t i = mid; i < last; i++)
    if (kv_less(&f[i], &f[0], tie)) {
      kv v = f[i];
      f[i] = f[0];
      adjust_heap(f, 0, mid, v, tie);
    }
}

static void median_to_first(kv *res, kv *a, kv *b, kv *c, bool tie) {
  if (kv_less(a, b, tie)) {
    if (kv_less(b, c, tie)) kv_swap(res, b);
    else if (kv_less(a, c, tie)) kv_swap(res, c);
    else kv_swap(res, a);
  } else if (kv_less(a, c, tie)) {
    kv_swap(res, a);
  } else if (kv_less(b, c, tie)) {
    kv_swap(res, c);
  } else {
    kv_swap(res, b);
  }
}

static kv *unguarded_partition(kv *first, kv *last, const kv *pivot, bool tie) {
  for (;;) {
    while (kv_less(first, pivot, tie)) first++;
    last--;
    while (kv_less(pivot, last, tie)) last--;
    if (!(first < last)) return first;
    kv_swap(first, last);
    first++;
  }
}

static void nth_element(kv *f, int64_t nth, int64_t n, bool tie) {
  if (n == 0 || nth == n) return;
  int64_t depth = 0;
  for (int64_t m = n; m > 1; m >>= 1) depth++;
  depth *= 2;
  kv *lo = f, *hi = f + n, *pn = f + nth;
  while (hi - lo > 3) {
    if (depth == 0) {
      heap_select(lo, pn + 1 - lo, hi - lo, tie);
      kv_swap(lo, pn);
      return;
    }
    depth--;
    kv *mid = lo + (hi - lo) / 2;
    median_to_first(lo, lo + 1, mid, hi - 1, tie);
    kv *cut = unguarded_partition(lo + 1, hi, lo, tie);
    if (cut <= pn) lo = cut;
    else hi = cut;
  }
  sel_insertion(lo, hi - lo, tie);
}

/* ------------------------------------------------------------ row driver */

enum { MODE_SORT, MODE_ARGSORT, MODE_PARTITION, MODE_ARGPARTITION, MODE_TOPK };

typedef struct row_job {
  int mode;
  mx_dtype dt;
  size_t esize;
  const char *in; /* element pointer at the input's offset */
  int64_t len, in_stride;
  int nrem; /* dims other than the axis, outer to inner */
  int64_t rem_shape[MX_MAX_NDIM], rem_stride[MX_MAX_NDIM];
  char *out;
  int64_t out_len, inner; /* output axis length and the element count after it */
  int64_t kth;
  bool oom;
} row_job;

static inline void copy_elem(char *dst, const char *src, size_t es) {
  switch (es) {
    case 1: *dst = *src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
  }
}

/* Writes sorted values. Keys map back to values one to one except where
 * distinct values tie (-0.0 with 0.0, NaN payloads) or for complex: only
 * those are gathered from the row, which saves a random read per element
 * on long rows. */
static void store_sorted(const kv *a, int64_t n, mx_dtype t, const char *row, int64_t ist,
                         char *o, int64_t os) {
#define DECODE(T, EXPR)                            \
  do {                                             \
    T *q = (T *)(void *)o;                         \
    const T *src = (const T *)(const void *)row;   \
    for (int64_t i = 0; i < n; i++) {              \
      uint64_t k = a[i].key;                       \
      q[i * os] = (EXPR);                          \
    }                                              \
    (void)src;                                     \
  } while (0)
#define FDEC(T, BITS, ZERO, NANK)                                                  \
  DECODE(T, (k == (ZERO) || k == (NANK)) ? src[(int64_t)a[i].idx * ist]           \
                                         : (T)((k >> (BITS - 1)) ? k ^ (ZERO) : ~k))
  switch (t) {
    case MX_BOOL: DECODE(uint8_t, (uint8_t)k); break;
    case MX_UINT8: DECODE(uint8_t, (uint8_t)k); break;
    case MX_UINT16: DECODE(uint16_t, (uint16_t)k); break;
    case MX_UINT32: DECODE(uint32_t, (uint32_t)k); break;
    case MX_UINT64: DECODE(uint64_t, k); break;
    case MX_INT8: DECODE(uint8_t, (uint8_t)(k ^ 0x80u)); break;
    case MX_INT16: DECODE(uint16_t, (uint16_t)(k ^ 0x8000u)); break;
    case MX_INT32: DECODE(uint32_t, (uint32_t)(k ^ 0x80000000u)); break;
    case MX_INT64: DECODE(uint64_t, k ^ 0x8000000000000000ull); break;
    case MX_FLOAT16:
    case MX_BFLOAT16: FDEC(uint16_t, 16, 0x8000u, 0xffffu); break;
    case MX_FLOAT32: FDEC(uint32_t, 32, 0x80000000u, 0xffffffffu); break;
    case MX_FLOAT64: FDEC(uint64_t, 64, 0x8000000000000000ull, UINT64_MAX); break;
    default: {
      size_t es = mx_dtype_size(t);
      for (int64_t i = 0; i < n; i++)
        copy_elem(o + i * os * (int64_t)es, row + (int64_t)a[i].idx * ist * (int64_t)es, es);
    }
  }
#undef FDEC
#undef DECODE
}

static void rows_range(void *ctx, int64_t begin, int64_t end) {
  row_job *j = ctx;
  int64_t n = j->len;
  kv *a = malloc((size_t)n * 2 * sizeof *a);
  if (!a) {
    j->oom = true;
    return;
  }
  kv *tmp = a + n;
  size_t es = j->esize;
  for (int64_t r = begin; r < end; r++) {
    int64_t off = 0, rr = r;
    for (int d = j->nrem - 1; d >= 0; d--) {
      off += (rr % j->rem_shape[d]) * j->rem_stride[d];
      rr /= j->rem_shape[d];
    }
    const char *row = j->in + off * (int64_t)es;
    int64_t ist = j->in_stride;
    load_keys(row, ist, n, j->dt, a);
    int64_t first = 0; /* first position of the processed row that is written */
    switch (j->mode) {
      case MODE_SORT:
      case MODE_ARGSORT:
        if (j->esize <= 4 && j->dt != MX_COMPLEX64) {
          /* The packed words and their radix scratch share tmp's 16n bytes
           * (disjoint from `a`, so no aliasing between the two views). */
          uint64_t *pk = (uint64_t *)(void *)tmp, *pt = pk + n;
          for (int64_t i = 0; i < n; i++) pk[i] = a[i].key << 32 | a[i].idx;
          radix_sort_packed(pk, pt, n);
          for (int64_t i = 0; i < n; i++) {
            uint64_t v = pk[i];
            a[i].key = v >> 32;
            a[i].idx = (uint32_t)v;
          }
        } else {
          radix_sort(a, tmp, n);
        }
        break;
      case MODE_PARTITION: nth_element(a, j->kth, n, false); break;
      case MODE_ARGPARTITION: nth_element(a, j->kth, n, true); break;
      case MODE_TOPK:
        nth_element(a, j->kth, n, false);
        first = j->kth;
        break;
    }
    int64_t ostride = j->inner;
    int64_t obase = (r / j->inner) * j->out_len * j->inner + r % j->inner;
    if (j->mode == MODE_SORT) {
      store_sorted(a, n, j->dt, row, ist, j->out + obase * (int64_t)es, ostride);
    } else if (j->mode == MODE_ARGSORT || j->mode == MODE_ARGPARTITION) {
      uint32_t *o = (uint32_t *)j->out + obase;
      for (int64_t i = 0; i < n; i++) o[i * ostride] = a[i].idx;
    } else {
      char *o = j->out + obase * (int64_t)es;
      for (int64_t i = first; i < n; i++)
        copy_elem(o + (i - first) * ostride * (int64_t)es, row + (int64_t)a[i].idx * ist * (int64_t)es,
                  es);
    }
  }
  free(a);
}

static mx_status run_rows(mx_array out, mx_array x, int axis, int mode, int64_t kth) {
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0 || x->size == 0) return MX_OK;
  row_job j;
  memset(&j, 0, sizeof j);
  j.mode = mode;
  j.dt = x->dtype;
  j.esize = mx_dtype_size(x->dtype);
  j.in = array_ptr(x);
  j.len = x->shape[axis];
  j.in_stride = x->strides[axis];
  for (int d = 0; d < x->ndim; d++) {
    if (d == axis) continue;
    j.rem_shape[j.nrem] = x->shape[d];
    j.rem_stride[j.nrem] = x->strides[d];
    j.nrem++;
  }
  j.out = array_ptr(out);
  j.out_len = out->shape[axis];
  j.inner = 1;
  for (int d = axis + 1; d < out->ndim; d++) j.inner *= out->shape[d];
  j.kth = kth;
  int64_t rows = x->size / j.len;
  /* Rows below ~32K elements in all stay on the caller's thread. */
  int64_t grain = 32768 / j.len;
  parallel_for(rows, grain < 1 ? 1 : grain, rows_range, &j);
  if (j.oom) return set_error(MX_ERR_OOM, "sort: out of memory for a row of %lld", (long long)j.len);
  return MX_OK;
}

mx_status cpu_sort(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  return run_rows(out, in[0], ((const sort_params *)params)->axis, MODE_SORT, 0);
}
mx_status cpu_argsort(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  return run_rows(out, in[0], ((const sort_params *)params)->axis, MODE_ARGSORT, 0);
}
mx_status cpu_partition(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const sort_params *p = params;
  return run_rows(out, in[0], p->axis, MODE_PARTITION, p->kth);
}
mx_status cpu_argpartition(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const sort_params *p = params;
  return run_rows(out, in[0], p->axis, MODE_ARGPARTITION, p->kth);
}
mx_status cpu_topk(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const sort_params *p = params;
  return run_rows(out, in[0], p->axis, MODE_TOPK, p->kth);
}
