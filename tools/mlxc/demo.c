/* mlxc demo — the main job until the LM issue lands: builds a small graph
 * (matmul, softmax, reductions) and prints the arrays it computes. */
#include <stdio.h>

#include "mlxc/mlxc.h"

static void show(const char *name, mx_array a) {
  char buf[2048];
  if (mx_array_format(a, buf, sizeof buf) < 0) {
    fprintf(stderr, "mlxc demo: %s: %s\n", name, mx_last_error());
    return;
  }
  printf("%s = %s\n", name, buf);
}

int demo_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  mx_scope_begin();
  int64_t shape[2] = {2, 3};
  float xs[6] = {1, 2, 3, 4, 5, 6};
  mx_array x = mx_array_from_data(xs, shape, 2, MX_FLOAT32);
  mx_array y = mx_multiply(x, x);
  mx_array t = mx_transpose(y, NULL, 0);
  mx_array h = mx_astype(t, MX_FLOAT16);
  show("x", x);
  show("x * x", y);
  show("transpose(x * x)", t);
  show("astype(float16)", h);
  int ok = mx_last_error_code() == MX_OK;
  if (!ok) fprintf(stderr, "mlxc demo: %s\n", mx_last_error());
  mx_scope_end();
  return ok ? 0 : 1;
}
