/* mlxc tokenize — text to token ids (or ids back to text with --decode),
 * with a model folder, a tokenizer.json or a .gguf vocabulary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxc/error.h"
#include "mlxc/tokenizer.h"

int cmd_tokenize(int argc, char **argv);

static int usage(FILE *f) {
  fprintf(f,
          "usage: mlxc tokenize PATH [--no-special] [--decode] [TEXT | --file F]\n"
          "  PATH          a model folder, a tokenizer.json, or a .gguf file\n"
          "  --no-special  encode without the post-processor's special tokens (BOS, [CLS]...);\n"
          "                with --decode: skip special tokens in the output\n"
          "  --decode      read token ids (space/comma separated) and print the text\n"
          "  --file F      read the input from F ('-' for stdin); default: TEXT, else stdin\n"
          "Prints space-separated ids, or the decoded text.\n");
  return f == stderr ? 2 : 0;
}

static char *read_all(FILE *f, size_t *n) {
  size_t cap = 4096, k = 0;
  char *b = malloc(cap);
  while (b) {
    if (k + 1 >= cap) {
      char *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        return NULL;
      }
      b = nb;
      cap *= 2;
    }
    size_t r = fread(b + k, 1, cap - k - 1, f);
    if (r == 0) break;
    k += r;
  }
  if (b) b[k] = 0;
  *n = k;
  return b;
}

int cmd_tokenize(int argc, char **argv) {
  const char *path = NULL, *text = NULL, *file = NULL;
  int special = 1, decode = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--no-special")) special = 0;
    else if (!strcmp(argv[i], "--decode")) decode = 1;
    else if (!strcmp(argv[i], "--file") && i + 1 < argc) file = argv[++i];
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout);
    else if (argv[i][0] == '-' && argv[i][1] == '-') {
      fprintf(stderr, "mlxc tokenize: unknown option '%s'\n", argv[i]);
      return usage(stderr);
    } else if (!path) path = argv[i];
    else if (!text) text = argv[i];
    else return usage(stderr);
  }
  if (!path) return usage(stderr);
  char *input = NULL;
  size_t len = 0;
  if (text && !file) {
    len = strlen(text);
  } else {
    FILE *f = (!file || !strcmp(file, "-")) ? stdin : fopen(file, "rb");
    if (!f) {
      fprintf(stderr, "mlxc tokenize: cannot open '%s'\n", file);
      return 1;
    }
    input = read_all(f, &len);
    if (f != stdin) fclose(f);
    if (!input) {
      fprintf(stderr, "mlxc tokenize: out of memory\n");
      return 1;
    }
    text = input;
  }
  mx_tokenizer *t = mx_tokenizer_load(path);
  if (!t) {
    fprintf(stderr, "mlxc tokenize: %s\n", mx_last_error());
    free(input);
    return 1;
  }
  int rc = 0;
  if (decode) {
    size_t cap = len / 2 + 1, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    const char *p = text;
    while (ids && *p) {
      while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']') p++;
      if (!*p) break;
      char *end;
      long v = strtol(p, &end, 10);
      if (end == p || v < 0 || v > 0x7FFFFFFF) {
        fprintf(stderr, "mlxc tokenize: '%.20s' is not a token id\n", p);
        rc = 1;
        break;
      }
      ids[n++] = (int32_t)v;
      p = end;
    }
    char *out = NULL;
    size_t ol = 0;
    if (!ids) {
      fprintf(stderr, "mlxc tokenize: out of memory\n");
      rc = 1;
    } else if (rc == 0 && mx_tokenizer_decode(t, ids, n, !special, &out, &ol) != MX_OK) {
      fprintf(stderr, "mlxc tokenize: %s\n", mx_last_error());
      rc = 1;
    } else if (rc == 0) {
      fwrite(out, 1, ol, stdout);
      fputc('\n', stdout);
    }
    free(out);
    free(ids);
  } else {
    int32_t *ids = NULL;
    size_t n = 0;
    if (mx_tokenizer_encode(t, text, len, special != 0, &ids, &n) != MX_OK) {
      fprintf(stderr, "mlxc tokenize: %s\n", mx_last_error());
      rc = 1;
    } else {
      for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
      printf("\n");
    }
    free(ids);
  }
  mx_tokenizer_free(t);
  free(input);
  return rc;
}
