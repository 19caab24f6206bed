/* eval.c — running the lazy graph.
 *
 * mx_eval walks the graph below its outputs (iterative DFS, post-order) and
 * collects the pending nodes once each, however many consumers they have;
 * then runs each node's kernel for its stream's device, marks it evaluated
 * and detaches it (drops inputs and params) so the graph does not pin
 * memory. One process-wide lock serializes evaluation: graphs may share
 * nodes across threads, and kernels parallelize internally anyway.
 *
 * mx_async_eval hands the arrays to a background thread and returns; any
 * later read (or mx_array_wait) simply evaluates under the same lock, which
 * either finds the work done or does it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"

static pthread_mutex_t eval_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t eval_epoch;

typedef struct vec {
  mx_array *v;
  size_t len, cap;
} vec;

static bool vec_push(vec *s, mx_array a) {
  if (s->len == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    mx_array *nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return false;
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->len++] = a;
  return true;
}

/* MLXC_TRACE=1 prints every node as it runs: primitive, dtype, shape and
 * where it ran (GPU coverage, or what a model's step is made of).
 * MLXC_GPU_TRACE=1, its older name, still works. */
static bool trace_on(void) {
  static int on = -1;
  if (on < 0) on = getenv("MLXC_TRACE") != NULL || getenv("MLXC_GPU_TRACE") != NULL;
  return on;
}

/* MLXC_PROFILE=1 adds up, per primitive, how many nodes ran and the host
 * time they took (moving inputs + the kernel call: for the GPU, enqueueing)
 * and prints the table at exit: what a step's host time is made of. */
#define PROFILE_SLOTS 128
typedef struct prof_row {
  const mx_primitive *prim;
  long count;
  double sec;
} prof_row;
static prof_row prof_rows[PROFILE_SLOTS];
static double prof_order_sec;

static bool profile_on(void) {
  static int on = -1;
  if (on < 0) on = getenv("MLXC_PROFILE") != NULL;
  return on;
}

static int prof_cmp(const void *a, const void *b) {
  double x = ((const prof_row *)a)->sec, y = ((const prof_row *)b)->sec;
  return x < y ? 1 : x > y ? -1 : 0;
}

static void profile_print(void) {
  prof_row rows[PROFILE_SLOTS];
  int n = 0;
  double total = 0;
  long nodes = 0;
  for (int i = 0; i < PROFILE_SLOTS; i++)
    if (prof_rows[i].prim) {
      rows[n++] = prof_rows[i];
      total += prof_rows[i].sec;
      nodes += prof_rows[i].count;
    }
  qsort(rows, (size_t)n, sizeof *rows, prof_cmp);
  fprintf(stderr, "mlxc profile: %ld nodes, %.1f ms in kernels (%.2f us/node), %.1f ms ordering\n",
          nodes, total * 1e3, nodes ? total * 1e6 / (double)nodes : 0.0, prof_order_sec * 1e3);
  for (int i = 0; i < n; i++)
    fprintf(stderr, "  %-30s %8ld nodes %9.1f ms %7.2f us/node\n", rows[i].prim->name,
            rows[i].count, rows[i].sec * 1e3, rows[i].sec * 1e6 / (double)rows[i].count);
}

/* Open addressing on the primitive pointer; called under eval_lock. */
static void profile_add(const mx_primitive *p, double sec) {
  static bool registered;
  if (!registered) {
    registered = true;
    atexit(profile_print);
  }
  size_t h = ((uintptr_t)p >> 4) % PROFILE_SLOTS;
  for (int probe = 0; probe < PROFILE_SLOTS; probe++, h = (h + 1) % PROFILE_SLOTS) {
    if (prof_rows[h].prim == p || !prof_rows[h].prim) {
      prof_rows[h].prim = p;
      prof_rows[h].count++;
      prof_rows[h].sec += sec;
      return;
    }
  }
}

/* The kernel for a node: its stream's device, or the CPU when the GPU
 * backend has no kernel for the primitive yet (counted, see
 * gpu_fallback_count). Inputs are made current on that device first. */
static mx_status run_node(mx_array a) {
  bool gpu = a->stream.device.type == MX_GPU;
  kernel_fn k = NULL;
  if (gpu) {
    const gpu_backend *g = gpu_get();
    if (!g) return set_error(MX_ERR_DEVICE, "%s: no GPU in this build or machine", a->prim->name);
    k = a->prim->gpu ? a->prim->gpu : g->kernel_for(a->prim);
    if (!k) {
      gpu = false;
      gpu_note_fallback();
    }
  }
  if (!k) k = a->prim->cpu;
  if (!k)
    return set_error(MX_ERR_UNSUPPORTED, "%s: no CPU kernel in this build", a->prim->name);
  const mx_primitive *prim = a->prim;
  double t0 = profile_on() ? monotonic_seconds() : 0;
  for (int i = 0; i < a->nin; i++) {
    mx_buffer *b = a->inputs[i]->buf;
    mx_status st = !b ? MX_OK : gpu ? buffer_to_device(b) : buffer_to_host(b);
    if (st < 0) return st;
  }
  if (trace_on()) {
    char shape[SHAPE_STR_CAP];
    fmt_shape(shape, sizeof shape, a->shape, a->ndim);
    fprintf(stderr, "mlxc trace: %-28s %-9s %-22s %s\n", a->prim->name, mx_dtype_name(a->dtype),
            shape,
            gpu                                ? "gpu"
            : a->stream.device.type == MX_GPU ? "cpu (no GPU kernel)"
                                               : "cpu");
  }
  exec_set_gpu(gpu);
  mx_status st = k(a, (mx_array const *)a->inputs, a->nin, a->params);
  exec_set_gpu(false);
  if (st < 0) return st;
  if (!a->buf)
    return set_error(MX_ERR_INTERNAL, "%s: kernel returned without an output buffer",
                     a->prim->name);
  atomic_store(&a->state, ARRAY_EVALUATED);
  array_detach(a);
  if (t0 > 0) profile_add(prim, monotonic_seconds() - t0);
  return MX_OK;
}

/* What identifies a node's kernels from one step to the next, without its
 * sizes (a decode step's attention length grows every token): primitive,
 * dtypes, ranks, arity, device. */
static uint64_t node_key(mx_array a) {
  uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
  MIX((uintptr_t)a->prim);
  MIX(a->dtype);
  MIX(a->ndim);
  MIX(a->nin);
  MIX(a->stream.device.type);
  for (int i = 0; i < a->nin; i++) {
    MIX(a->inputs[i]->dtype);
    MIX(a->inputs[i]->ndim);
  }
#undef MIX
  return h;
}

/* Runs the nodes in order. When GPU nodes are among them and the backend
 * batches, it is told the batch first (so it can replay the kernels as a
 * graph) and always ends the batch, so whatever ran is also launched. */
static mx_status run_order(mx_array *nodes, size_t n) {
  size_t ngpu = 0;
  for (size_t i = 0; i < n; i++) ngpu += nodes[i]->stream.device.type == MX_GPU;
  const gpu_backend *g = ngpu >= 2 ? gpu_get() : NULL;
  uint64_t *keys = g && g->batch_begin ? malloc(n * sizeof *keys) : NULL;
  if (!keys) g = NULL;
  if (g) {
    for (size_t i = 0; i < n; i++) keys[i] = node_key(nodes[i]);
    g->batch_begin(keys, n);
  }
  mx_status st = MX_OK;
  for (size_t i = 0; i < n && st == MX_OK; i++) {
    if (g) st = g->node_begin(i);
    if (st == MX_OK) st = run_node(nodes[i]);
    if (g && st == MX_OK) st = g->node_end(i);
  }
  if (g) {
    mx_status end = g->batch_end();
    if (st == MX_OK) st = end;
  }
  free(keys);
  return st;
}

/* Post-order DFS over pending nodes; caller holds eval_lock. Each stack
 * entry is a node and the index of its next input to visit, encoded as two
 * pushes to keep one vector type. */
static mx_status eval_locked(const mx_array *outs, size_t n) {
  uint64_t mark = ++eval_epoch;
  double t_order = profile_on() ? monotonic_seconds() : 0;
  vec order = {0}, stack = {0};
  mx_status st = MX_OK;
  size_t *next = NULL, next_cap = 0;
  for (size_t i = 0; i < n && st == MX_OK; i++) {
    mx_array root = outs[i];
    if (atomic_load(&root->state) == ARRAY_EVALUATED || root->visit_mark == mark) continue;
    root->visit_mark = mark;
    stack.len = 0;
    if (!vec_push(&stack, root)) {
      st = set_error(MX_ERR_OOM, "eval: out of memory");
      break;
    }
    if (next_cap < 1) {
      next = realloc(next, 64 * sizeof *next);
      next_cap = 64;
    }
    next[0] = 0;
    while (stack.len && st == MX_OK) {
      mx_array a = stack.v[stack.len - 1];
      size_t *ni = &next[stack.len - 1];
      if (*ni < (size_t)a->nin) {
        mx_array x = a->inputs[(*ni)++];
        if (atomic_load(&x->state) == ARRAY_EVALUATED || x->visit_mark == mark) continue;
        x->visit_mark = mark;
        if (!vec_push(&stack, x)) {
          st = set_error(MX_ERR_OOM, "eval: out of memory");
          break;
        }
        if (stack.len > next_cap) {
          size_t *nn = realloc(next, stack.cap * sizeof *nn);
          if (!nn) {
            st = set_error(MX_ERR_OOM, "eval: out of memory");
            break;
          }
          next = nn;
          next_cap = stack.cap;
        }
        next[stack.len - 1] = 0;
      } else {
        stack.len--;
        if (!vec_push(&order, a)) st = set_error(MX_ERR_OOM, "eval: out of memory");
      }
    }
  }
  free(stack.v);
  free(next);
  if (profile_on()) prof_order_sec += monotonic_seconds() - t_order;
  if (st == MX_OK) st = run_order(order.v, order.len);
  free(order.v);
  return st;
}

mx_status mx_eval(const mx_array *arrays, size_t n) {
  if (n && !arrays) return set_error(MX_ERR_INVALID_ARG, "eval: arrays is NULL");
  for (size_t i = 0; i < n; i++) {
    if (!arrays[i]) {
      if (mx_last_error_code() == MX_OK)
        set_error(MX_ERR_NULL_INPUT, "eval: array %zu is NULL", i);
      return MX_ERR_NULL_INPUT;
    }
  }
  bool all_done = true;
  for (size_t i = 0; i < n; i++)
    if (atomic_load(&arrays[i]->state) != ARRAY_EVALUATED) all_done = false;
  if (all_done) return MX_OK;
  pthread_mutex_lock(&eval_lock);
  mx_status st = eval_locked(arrays, n);
  pthread_mutex_unlock(&eval_lock);
  return st;
}

mx_status mx_eval1(mx_array a) { return mx_eval(&a, 1); }
mx_status array_ensure_evaluated(mx_array a) { return mx_eval(&a, 1); }
mx_status array_ensure_host(mx_array a) {
  mx_status st = mx_eval(&a, 1);
  if (st < 0) return st;
  if (!a->buf || (a->buf->valid & BUF_HOST)) return MX_OK;
  /* Under the eval lock: a concurrent async eval may be moving it too. */
  pthread_mutex_lock(&eval_lock);
  st = a->buf ? buffer_to_host(a->buf) : MX_OK;
  pthread_mutex_unlock(&eval_lock);
  return st;
}
mx_status mx_array_wait(mx_array a) { return mx_eval(&a, 1); }

/* ---- async ---- */

typedef struct job {
  mx_array *arrays;
  size_t n;
  struct job *next;
} job;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static job *q_head, *q_tail;
static bool worker_started;
static long jobs_in_flight; /* queued or running, guarded by q_lock */
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

static void *async_worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&q_lock);
    while (!q_head) pthread_cond_wait(&q_cond, &q_lock);
    job *j = q_head;
    q_head = j->next;
    if (!q_head) q_tail = NULL;
    pthread_mutex_unlock(&q_lock);
    /* A failure here is seen again (and reported) by whoever reads. */
    mx_eval(j->arrays, j->n);
    for (size_t i = 0; i < j->n; i++) array_release(j->arrays[i]);
    free(j->arrays);
    free(j);
    pthread_mutex_lock(&q_lock);
    if (--jobs_in_flight == 0) pthread_cond_broadcast(&idle_cond);
    pthread_mutex_unlock(&q_lock);
  }
  return NULL;
}

mx_status mx_async_eval(const mx_array *arrays, size_t n) {
  if (n && !arrays) return set_error(MX_ERR_INVALID_ARG, "async_eval: arrays is NULL");
  for (size_t i = 0; i < n; i++) {
    if (!arrays[i]) {
      if (mx_last_error_code() == MX_OK)
        set_error(MX_ERR_NULL_INPUT, "async_eval: array %zu is NULL", i);
      return MX_ERR_NULL_INPUT;
    }
  }
  job *j = malloc(sizeof *j);
  mx_array *copy = n ? malloc(n * sizeof *copy) : NULL;
  if (!j || (n && !copy)) {
    free(j);
    free(copy);
    return set_error(MX_ERR_OOM, "async_eval: out of memory");
  }
  for (size_t i = 0; i < n; i++) copy[i] = array_retain(arrays[i]);
  j->arrays = copy;
  j->n = n;
  j->next = NULL;
  pthread_mutex_lock(&q_lock);
  if (!worker_started) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, async_worker, NULL) != 0) {
      pthread_attr_destroy(&attr);
      pthread_mutex_unlock(&q_lock);
      /* No thread: evaluate now, which is still correct. */
      mx_status st = mx_eval(copy, n);
      for (size_t i = 0; i < n; i++) array_release(copy[i]);
      free(copy);
      free(j);
      return st;
    }
    pthread_attr_destroy(&attr);
    worker_started = true;
  }
  jobs_in_flight++;
  if (q_tail) q_tail->next = j;
  else q_head = j;
  q_tail = j;
  pthread_cond_signal(&q_cond);
  pthread_mutex_unlock(&q_lock);
  return MX_OK;
}

/* Waits until every job handed to mx_async_eval has been evaluated and has
 * released its references. */
void async_wait_idle(void) {
  pthread_mutex_lock(&q_lock);
  while (jobs_in_flight > 0) pthread_cond_wait(&idle_cond, &q_lock);
  pthread_mutex_unlock(&q_lock);
}
