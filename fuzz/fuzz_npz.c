/* libFuzzer target for the .npz reader. Build and run with fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "mlxc/mlxc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mx_npz *z = mx_npz_open_memory(data, size, "fuzz");
  for (int64_t i = 0; z && i < mx_npz_count(z); i++) {
    mx_array a = mx_npz_get(z, i);
    (void)mx_array_data(a);
    mx_array_free(a);
  }
  mx_npz_close(z);
  mx_clear_error();
  return 0;
}
