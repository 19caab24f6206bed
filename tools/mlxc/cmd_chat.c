/* cmd_chat.c — placeholder until `mlxc chat` lands: says so and exits 2. */
#include <stdio.h>

int cmd_chat(int argc, char **argv);

int cmd_chat(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "mlxc chat: not implemented yet\n");
  return 2;
}
