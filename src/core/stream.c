/* stream.c — devices and the per-thread default stream.
 * The CPU backend runs a stream's work during eval on the calling thread
 * (plus the pool), so a CPU stream is a label and synchronize has nothing
 * to wait for beyond in-flight async evaluation. A GPU stream's kernels are
 * queued on the CUDA backend's stream; synchronize waits for them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static mx_device process_default = {MX_CPU, 0};
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static _Thread_local bool have_thread_stream;
static _Thread_local mx_stream thread_stream;
static _Thread_local int32_t next_stream_index = 1;

bool mx_device_is_available(mx_device_type type) {
  return type == MX_CPU || (type == MX_GPU && gpu_get() != NULL);
}

int32_t mx_device_count(mx_device_type type) {
  if (type == MX_CPU) return 1;
  const gpu_backend *g = type == MX_GPU ? gpu_get() : NULL;
  return g ? g->device_count() : 0;
}

/* The GPU is the default device where one is usable, unless MLXC_DEVICE=cpu
 * (MLXC_DEVICE=gpu insists, falling back to the CPU with a warning). */
static void pick_default(void) {
  const char *env = getenv("MLXC_DEVICE");
  bool want_cpu = env && strcmp(env, "cpu") == 0;
  if (!want_cpu && gpu_get()) process_default = (mx_device){MX_GPU, 0};
  else if (env && strcmp(env, "gpu") == 0)
    fprintf(stderr, "mlxc: MLXC_DEVICE=gpu but no GPU is usable; running on the CPU\n");
}

static mx_device default_device(void) {
  pthread_once(&default_once, pick_default);
  return process_default;
}

static mx_status check_device(const char *op, mx_device dev) {
  if (dev.type == MX_GPU) {
    const gpu_backend *g = gpu_get();
    if (!g) {
#ifdef MLXC_HAVE_CUDA
      return set_error(MX_ERR_DEVICE, "%s: GPU device requested but no CUDA device is usable", op);
#else
      return set_error(MX_ERR_DEVICE,
                       "%s: GPU device requested but this build has no CUDA backend (not built)", op);
#endif
    }
    if (dev.index < 0 || dev.index >= g->device_count())
      return set_error(MX_ERR_DEVICE, "%s: no GPU of index %d (%d present)", op, (int)dev.index,
                       g->device_count());
    return MX_OK;
  }
  if (dev.type != MX_CPU || dev.index != 0)
    return set_error(MX_ERR_DEVICE, "%s: no device of type %d index %d", op, (int)dev.type,
                     (int)dev.index);
  return MX_OK;
}

mx_status mx_set_default_device(mx_device dev) {
  mx_status st = check_device("set_default_device", dev);
  if (st < 0) return st;
  default_device();
  process_default = dev;
  thread_stream = (mx_stream){dev, 0};
  have_thread_stream = true;
  return MX_OK;
}

mx_device mx_default_device(void) {
  return have_thread_stream ? thread_stream.device : default_device();
}

mx_stream mx_default_stream(void) {
  if (!have_thread_stream) return (mx_stream){default_device(), 0};
  return thread_stream;
}

mx_status mx_set_default_stream(mx_stream s) {
  mx_status st = check_device("set_default_stream", s.device);
  if (st < 0) return st;
  thread_stream = s;
  have_thread_stream = true;
  return MX_OK;
}

mx_status mx_new_stream(mx_device dev, mx_stream *out) {
  mx_status st = check_device("new_stream", dev);
  if (st < 0) return st;
  if (!out) return set_error(MX_ERR_INVALID_ARG, "new_stream: out is NULL");
  *out = (mx_stream){dev, next_stream_index++};
  return MX_OK;
}

mx_status mx_synchronize(mx_stream s) {
  mx_status st = check_device("synchronize", s.device);
  if (st < 0) return st;
  async_wait_idle();
  const gpu_backend *g = s.device.type == MX_GPU ? gpu_get() : NULL;
  return g ? g->synchronize() : MX_OK;
}
