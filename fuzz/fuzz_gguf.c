/* libFuzzer target for the GGUF reader: open, then touch every key, value,
 * array element and tensor the file claims to have. Build and run with
 * fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "mlxc/mlxc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mx_gguf *g = mx_gguf_open_memory(data, size, "fuzz");
  if (!g) {
    mx_clear_error();
    return 0;
  }
  for (int64_t i = 0; i < mx_gguf_kv_count(g); i++) {
    int64_t iv;
    uint64_t uv, count;
    double f;
    bool b;
    const char *s;
    size_t len;
    mx_gguf_type et;
    (void)mx_gguf_key(g, i);
    mx_gguf_get_int(g, i, &iv);
    mx_gguf_get_uint(g, i, &uv);
    mx_gguf_get_float(g, i, &f);
    mx_gguf_get_bool(g, i, &b);
    mx_gguf_get_string(g, i, &s, &len);
    if (mx_gguf_get_array(g, i, &et, &count) == MX_OK) {
      for (uint64_t j = 0; j < count && j < 64; j++) {
        mx_gguf_get_array_int(g, i, j, &iv);
        mx_gguf_get_array_float(g, i, j, &f);
        mx_gguf_get_array_string(g, i, j, &s, &len);
      }
      (void)mx_gguf_get_array_data(g, i);
    }
  }
  for (int64_t t = 0; t < mx_gguf_tensor_count(g); t++) {
    int64_t shape[MX_MAX_NDIM];
    mx_gguf_tensor_shape(g, t, shape);
    mx_array a = mx_gguf_tensor(g, t);
    const unsigned char *p = mx_array_data(a);
    size_t nb = mx_array_nbytes(a);
    volatile unsigned char sink = 0;
    if (p && nb) sink ^= p[0] ^ p[nb - 1];
    (void)sink;
    mx_array_free(a);
  }
  mx_gguf_close(g);
  mx_clear_error();
  return 0;
}
