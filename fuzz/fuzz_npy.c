/* libFuzzer target for the .npy reader. Build and run with fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "mlxc/mlxc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mx_array a = mx_load_npy_bytes(data, size, "fuzz");
  if (a) {
    const unsigned char *p = mx_array_data(a);
    size_t nb = mx_array_nbytes(a);
    volatile unsigned char sink = 0;
    if (p && nb) sink ^= p[0] ^ p[nb - 1];
    (void)sink;
  }
  mx_array_free(a);
  mx_clear_error();
  return 0;
}
