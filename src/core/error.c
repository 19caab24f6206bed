/* error.c — the thread's last error and small formatting helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local mx_status last_code = MX_OK;
static _Thread_local char last_msg[1024];

mx_status set_error(mx_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_msg, sizeof last_msg, fmt, ap);
  va_end(ap);
  last_code = code;
  return code;
}

mx_status mx_last_error_code(void) { return last_code; }
const char *mx_last_error(void) { return last_code == MX_OK ? "" : last_msg; }

void mx_clear_error(void) {
  last_code = MX_OK;
  last_msg[0] = '\0';
}

const char *mx_status_name(mx_status s) {
  switch (s) {
  case MX_OK: return "MX_OK";
  case MX_ERR_INVALID_ARG: return "MX_ERR_INVALID_ARG";
  case MX_ERR_SHAPE: return "MX_ERR_SHAPE";
  case MX_ERR_DTYPE: return "MX_ERR_DTYPE";
  case MX_ERR_OOM: return "MX_ERR_OOM";
  case MX_ERR_IO: return "MX_ERR_IO";
  case MX_ERR_FORMAT: return "MX_ERR_FORMAT";
  case MX_ERR_UNSUPPORTED: return "MX_ERR_UNSUPPORTED";
  case MX_ERR_DEVICE: return "MX_ERR_DEVICE";
  case MX_ERR_NULL_INPUT: return "MX_ERR_NULL_INPUT";
  case MX_ERR_INTERNAL: return "MX_ERR_INTERNAL";
  }
  return "MX_ERR_UNKNOWN";
}

char *fmt_shape(char *buf, size_t cap, const int64_t *shape, int ndim) {
  size_t n = 0;
  if (cap == 0) return buf;
  buf[0] = '\0';
  n += (size_t)snprintf(buf + n, cap - n, "(");
  for (int i = 0; i < ndim && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)shape[i]);
  if (n < cap) snprintf(buf + n, cap - n, ")");
  return buf;
}

bool any_null(const char *op, const mx_array *arrays, int n) {
  for (int i = 0; i < n; i++) {
    if (!arrays[i]) {
      if (last_code == MX_OK)
        set_error(MX_ERR_NULL_INPUT, "%s: input %d is NULL", op, i);
      return true;
    }
  }
  return false;
}
