/* mlxc — the command line. Subcommands grow with the library. */
#include <stdio.h>
#include <string.h>

#include "mlxc/mlxc.h"

static int usage(FILE *f) {
  fprintf(f,
          "usage: mlxc <command> [args]\n"
          "commands:\n"
          "  version        print the library version\n"
          "  demo           compute with arrays and print the results\n"
          "  generate -m MODEL [-p PROMPT] [-n N] ...   generate text (see generate --help)\n"
          "  tokenize PATH [--no-special] [--decode] [TEXT | --file F]   text <-> token ids\n"
          "  chat-template PATH --messages F.json [--tools F.json] [--add-generation-prompt]\n"
          "                 [--set key=value ...]   render a model's chat template\n"
          "  chat -m MODEL  a terminal chat that keeps its cache between turns\n"
          "  convert -m SRC -o OUT [...]   convert / quantize a model (see convert --help)\n"
          "  bench -m MODEL [-p 512] [-n 128] [-r 3]   prefill and decode speed, roofline\n"
          "  inspect PATH   metadata and tensor table of a .safetensors / .gguf / .npy / .npz file\n");
  return f == stderr ? 2 : 0;
}

int demo_main(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_chat_template(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr);
  if (strcmp(argv[1], "version") == 0) {
    printf("mlxc %s\n", mx_version());
    return 0;
  }
  if (strcmp(argv[1], "demo") == 0) return demo_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
  if (strcmp(argv[1], "generate") == 0) return cmd_generate(argc - 1, argv + 1);
  if (strcmp(argv[1], "chat-template") == 0) return cmd_chat_template(argc - 1, argv + 1);
  if (strcmp(argv[1], "inspect") == 0) return cmd_inspect(argc - 1, argv + 1);
  if (strcmp(argv[1], "chat") == 0) return cmd_chat(argc - 1, argv + 1);
  if (strcmp(argv[1], "convert") == 0) return cmd_convert(argc - 1, argv + 1);
  if (strcmp(argv[1], "bench") == 0) return cmd_bench(argc - 1, argv + 1);
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) return usage(stdout);
  fprintf(stderr, "mlxc: unknown command '%s'\n", argv[1]);
  return usage(stderr);
}
