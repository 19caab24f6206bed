/* stream.c — devices and the per-thread default stream.
 * The CPU backend runs a stream's work during eval on the calling thread
 * (plus the pool), so a CPU stream is a label and synchronize has nothing
 * to wait for beyond in-flight async evaluation. */
#include "core.h"

static mx_device process_default = {MX_CPU, 0};
static _Thread_local bool have_thread_stream;
static _Thread_local mx_stream thread_stream;
static _Thread_local int32_t next_stream_index = 1;

bool mx_device_is_available(mx_device_type type) { return type == MX_CPU; }
int32_t mx_device_count(mx_device_type type) { return type == MX_CPU ? 1 : 0; }

static mx_status check_device(const char *op, mx_device dev) {
  if (dev.type == MX_GPU)
    return set_error(MX_ERR_DEVICE,
                     "%s: GPU device requested but this build has no CUDA backend (not built)", op);
  if (dev.type != MX_CPU || dev.index != 0)
    return set_error(MX_ERR_DEVICE, "%s: no device of type %d index %d", op, (int)dev.type,
                     (int)dev.index);
  return MX_OK;
}

mx_status mx_set_default_device(mx_device dev) {
  mx_status st = check_device("set_default_device", dev);
  if (st < 0) return st;
  process_default = dev;
  thread_stream = (mx_stream){dev, 0};
  have_thread_stream = true;
  return MX_OK;
}

mx_device mx_default_device(void) {
  return have_thread_stream ? thread_stream.device : process_default;
}

mx_stream mx_default_stream(void) {
  if (!have_thread_stream) return (mx_stream){process_default, 0};
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
  return MX_OK;
}
