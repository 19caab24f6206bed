/* libFuzzer target for the safetensors reader: open, then read every
 * tensor's first and last byte and all metadata. Build and run with
 * fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "mlxc/mlxc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mx_safetensors *s = mx_safetensors_open_memory(data, size, "fuzz");
  if (!s) {
    mx_clear_error();
    return 0;
  }
  for (int64_t i = 0; i < mx_safetensors_metadata_count(s); i++) {
    (void)mx_safetensors_metadata_key(s, i);
    (void)mx_safetensors_metadata_value(s, i);
  }
  for (int64_t i = 0; i < mx_safetensors_count(s); i++) {
    int64_t shape[MX_MAX_NDIM];
    mx_safetensors_shape(s, i, shape);
    mx_array a = mx_safetensors_get(s, i);
    const unsigned char *p = mx_array_data(a);
    size_t nb = mx_array_nbytes(a);
    volatile unsigned char sink = 0;
    if (p && nb) sink ^= p[0] ^ p[nb - 1];
    (void)sink;
    mx_array_free(a);
  }
  mx_safetensors_close(s);
  mx_clear_error();
  return 0;
}
