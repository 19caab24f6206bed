/* cmd_chat.c — `mlxc chat`: mlx_lm.chat's terminal chat. Each line read
 * from stdin is a user turn; the reply streams to stdout. The session keeps
 * the conversation and its KV cache, so a turn prefills only what is new.
 * Commands on a line of their own: q (quit), r (reset the conversation),
 * h (help). Stats per turn on stderr with --verbose. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlxc/mlxc.h"

static void chat_usage(FILE *f) {
  fprintf(f,
          "usage: mlxc chat -m MODEL [--system S] [-n N] [--temp T] [--top-p P] [--min-p P]\n"
          "                 [--top-k K] [--seed S] [--max-kv-size N] [--kv-bits B] [--verbose]\n"
          "  -m, --model MODEL    a model folder or a .gguf file (it needs a chat template)\n"
          "  --system S           a system message\n"
          "  -n, --max-tokens N   tokens per reply at most (default 512)\n"
          "  --temp T             sampling temperature, 0 = greedy (default 0)\n"
          "  --top-p P, --min-p P, --top-k K, --seed S   sampling\n"
          "  --max-kv-size N, --kv-bits B                 cache options (see generate --help)\n"
          "  --verbose            tokens/s and cache size after each reply, on stderr\n"
          "Type a message and Enter. Lines 'q' quit, 'r' reset, 'h' help.\n");
}

static int print_chunk(void *user, const mx_lm_chunk *c) {
  (void)user;
  if (c->len) {
    fwrite(c->text, 1, c->len, stdout);
    fflush(stdout);
  }
  return 0;
}

static bool parse_num(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && *end == 0 && errno == 0;
}

static char *read_line(void) {
  size_t cap = 256, len = 0;
  char *b = malloc(cap);
  int ch;
  if (!b) return NULL;
  while ((ch = getchar()) != EOF && ch != '\n') {
    if (len + 2 > cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) {
        free(b);
        return NULL;
      }
      b = nb;
    }
    b[len++] = (char)ch;
  }
  if (ch == EOF && len == 0) {
    free(b);
    return NULL;
  }
  b[len] = 0;
  return b;
}

int cmd_chat(int argc, char **argv);

int cmd_chat(int argc, char **argv) {
  const char *model = NULL, *system = NULL;
  bool verbose = false;
  int64_t max_tokens = 512;
  mx_lm_sampler_params sp = mx_lm_sampler_default_params();
  sp.xtc_threshold = 0.0;
  mx_lm_cache_params cp = mx_lm_cache_default_params();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    bool numeric = !strcmp(a, "-n") || !strcmp(a, "--max-tokens") || !strcmp(a, "--temp") ||
                   !strcmp(a, "--top-p") || !strcmp(a, "--min-p") || !strcmp(a, "--top-k") ||
                   !strcmp(a, "--seed") || !strcmp(a, "--max-kv-size") || !strcmp(a, "--kv-bits");
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      chat_usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--verbose")) {
      verbose = true;
      continue;
    }
    bool known = numeric || !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--system");
    if (!known) {
      fprintf(stderr, "mlxc chat: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "mlxc chat: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (!numeric) {
      if (!strcmp(a, "--system")) system = v;
      else model = v;
      continue;
    }
    bool ok = parse_num(v, &d);
    bool whole = ok && d == (double)(int64_t)d;
    if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
      ok = whole && d >= 1;
      max_tokens = (int64_t)d;
    } else if (!strcmp(a, "--temp")) {
      ok = ok && d >= 0;
      sp.temp = d;
    } else if (!strcmp(a, "--top-p")) {
      ok = ok && d >= 0 && d <= 1;
      sp.top_p = d;
    } else if (!strcmp(a, "--min-p")) {
      ok = ok && d >= 0 && d <= 1;
      sp.min_p = d;
    } else if (!strcmp(a, "--top-k")) {
      ok = whole && d >= 0 && d < 1e9;
      sp.top_k = (int32_t)d;
    } else if (!strcmp(a, "--seed")) {
      ok = whole && d >= 0 && d < 9e15;
      sp.seed = (int64_t)d;
    } else if (!strcmp(a, "--max-kv-size")) {
      ok = whole && d >= 1 && d < 1e12;
      cp.max_kv_size = (int64_t)d;
    } else { /* --kv-bits */
      ok = whole && d >= 2 && d <= 8;
      cp.kv_bits = (int)d;
    }
    if (!ok) {
      fprintf(stderr, "mlxc chat: bad value '%s' for %s\n", v, a);
      return 2;
    }
  }
  if (!model) {
    fprintf(stderr, "mlxc chat: -m MODEL is required (see --help)\n");
    return 2;
  }
  mx_lm_model *m = mx_lm_load(model);
  if (!m) {
    fprintf(stderr, "mlxc chat: cannot load the model: %s\n", mx_last_error());
    return 1;
  }
  if (!mx_lm_chat_template(m)) {
    fprintf(stderr, "mlxc chat: the model has no chat template: %s\n", mx_last_error());
    mx_lm_free(m);
    return 1;
  }
  mx_lm_chat *chat = mx_lm_chat_new(m, system, &cp);
  if (!chat) {
    fprintf(stderr, "mlxc chat: %s\n", mx_last_error());
    mx_lm_free(m);
    return 1;
  }
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.gen.max_tokens = max_tokens;
  tp.gen.sampler = &sp;
  tp.on_text = print_chunk;
  bool tty = isatty(0);
  int rc = 0;
  if (tty) fprintf(stderr, "[mlxc chat: %s; 'q' quits, 'r' resets, 'h' helps]\n", model);
  for (;;) {
    if (tty) {
      fputs(">> ", stdout);
      fflush(stdout);
    }
    char *line = read_line();
    if (!line || !strcmp(line, "q")) {
      free(line);
      break;
    }
    if (!strcmp(line, "h")) {
      chat_usage(stdout);
      free(line);
      continue;
    }
    if (!strcmp(line, "r")) {
      mx_lm_chat_free(chat);
      chat = mx_lm_chat_new(m, system, &cp);
      free(line);
      if (!chat) {
        fprintf(stderr, "mlxc chat: %s\n", mx_last_error());
        rc = 1;
        break;
      }
      continue;
    }
    mx_lm_generate_stats st;
    mx_status s = mx_lm_chat_send(chat, line, &tp, NULL, &st);
    free(line);
    fputc('\n', stdout);
    fflush(stdout);
    if (s) {
      fprintf(stderr, "mlxc chat: %s\n", mx_last_error());
      rc = 1;
      break;
    }
    if (verbose)
      fprintf(stderr, "[prompt %lld tokens, %.1f tok/s; reply %lld tokens, %.1f tok/s; %lld tokens "
              "cached; peak %.3f GB]\n", (long long)st.prompt_tokens, st.prompt_tps,
              (long long)st.generation_tokens, st.generation_tps,
              (long long)mx_lm_chat_cached_tokens(chat), (double)st.peak_memory / 1e9);
  }
  mx_lm_chat_free(chat);
  mx_lm_free(m);
  return rc;
}
