/* mlxc/device.h — devices and streams.
 *
 * Every op records the stream it was created on: the calling thread's default
 * stream. The CPU stream always exists. MX_GPU is part of the API so code can
 * be written for it; a build without the CUDA backend reports "not built"
 * (MX_ERR_DEVICE) when asked for it and never crashes.
 *
 * Thread safety: the default stream is per thread; new threads start on the
 * process default device (CPU unless mx_set_default_device was called).
 */
#ifndef MLXC_DEVICE_H
#define MLXC_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_device_type { MX_CPU = 0, MX_GPU = 1 } mx_device_type;

typedef struct mx_device {
  mx_device_type type;
  int32_t index;
} mx_device;

typedef struct mx_stream {
  mx_device device;
  int32_t index; /* stream number on its device */
} mx_stream;

/* True when this build has a backend for the device type. */
bool mx_device_is_available(mx_device_type type);
/* Number of devices of a type (1 for CPU, 0 for GPU in a CPU-only build). */
int32_t mx_device_count(mx_device_type type);

/* Set the default device of this thread (and of threads started later).
 * Fails with MX_ERR_DEVICE when the device is not available. */
mx_status mx_set_default_device(mx_device dev);
mx_device mx_default_device(void);

/* The calling thread's default stream; ops record it. */
mx_stream mx_default_stream(void);
/* Make s the calling thread's default stream. */
mx_status mx_set_default_stream(mx_stream s);
/* A new stream on a device; fails (MX_ERR_DEVICE) if it is not available. */
mx_status mx_new_stream(mx_device dev, mx_stream *out);
/* Wait until all work queued on the stream has finished. */
mx_status mx_synchronize(mx_stream s);

#ifdef __cplusplus
}
#endif
#endif
