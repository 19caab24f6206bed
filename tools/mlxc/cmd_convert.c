/* cmd_convert.c — placeholder until `mlxc convert` lands: says so and exits 2. */
#include <stdio.h>

int cmd_convert(int argc, char **argv);

int cmd_convert(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "mlxc convert: not implemented yet\n");
  return 2;
}
