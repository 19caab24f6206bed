/* cmd_bench.c — placeholder until `mlxc bench` lands: says so and exits 2. */
#include <stdio.h>

int cmd_bench(int argc, char **argv);

int cmd_bench(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "mlxc bench: not implemented yet\n");
  return 2;
}
