/* hello.c — the README's example: a softmax attention score in a few ops. */
#include <stdio.h>

#include <mlxc/mlxc.h>

int main(void) {
  mx_scope_begin(); /* frees every array made below at mx_scope_end */
  float q[4] = {1, 0, 1, 0}, k[8] = {1, 0, 1, 0, 0, 1, 0, 1};
  mx_array Q = mx_array_from_data(q, (int64_t[]){1, 4}, 2, MX_FLOAT32);
  mx_array K = mx_array_from_data(k, (int64_t[]){2, 4}, 2, MX_FLOAT32);
  mx_array scores = mx_matmul(Q, mx_transpose(K, NULL, 0));     /* (1, 2) */
  mx_array probs = mx_softmax(scores, (int[]){-1}, 1, false);   /* lazy so far */
  float p[2];
  if (mx_array_copy_to(probs, p, sizeof p, MX_FLOAT32) != MX_OK) { /* evaluates */
    fprintf(stderr, "error: %s\n", mx_last_error());
    return 1;
  }
  printf("softmax(QK^T) = [%.4f, %.4f]\n", p[0], p[1]);
  mx_scope_end();
  return 0;
}
