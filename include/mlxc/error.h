/* mlxc/error.h — status codes and the thread's last error.
 *
 * Every failing call returns NULL (for arrays) or a negative mx_status, and
 * records a code and a message on the calling thread. The message names the
 * operation and what was wrong ("add: shapes (2,3) and (4) cannot be
 * broadcast"). Functions that receive a NULL array return NULL and keep the
 * first error, so a forward pass may check once at the end.
 *
 * Thread safety: the last error is thread-local; no locking is needed.
 */
#ifndef MLXC_ERROR_H
#define MLXC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_status {
  MX_OK = 0,
  MX_ERR_INVALID_ARG = -1, /* a bad argument value (axis, size, option) */
  MX_ERR_SHAPE = -2,       /* shapes do not fit the operation */
  MX_ERR_DTYPE = -3,       /* a dtype the operation does not support */
  MX_ERR_OOM = -4,         /* allocation failed or memory limit reached */
  MX_ERR_IO = -5,          /* a file could not be opened, read or written */
  MX_ERR_FORMAT = -6,      /* a file or string is malformed */
  MX_ERR_UNSUPPORTED = -7, /* valid, but not implemented by this build */
  MX_ERR_DEVICE = -8,      /* device or stream unavailable */
  MX_ERR_NULL_INPUT = -9,  /* an input array was NULL */
  MX_ERR_INTERNAL = -10    /* a broken internal invariant: please report */
} mx_status;

/* The code of this thread's last error, MX_OK if none since the last clear. */
mx_status mx_last_error_code(void);

/* This thread's last error message ("" if none). The pointer stays valid
 * until the next mlxc call on this thread that fails or clears. */
const char *mx_last_error(void);

/* Forget this thread's last error. */
void mx_clear_error(void);

/* A short constant name for a status ("MX_ERR_SHAPE"). */
const char *mx_status_name(mx_status s);

#ifdef __cplusplus
}
#endif
#endif
