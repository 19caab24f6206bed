/* mlxc chat-template — render a model's chat template over a conversation,
 * printing exactly what apply_chat_template(..., tokenize=False) gives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxc/chat_template.h"
#include "mlxc/error.h"

int cmd_chat_template(int argc, char **argv);

static int usage(FILE *f) {
  fprintf(f,
          "usage: mlxc chat-template PATH --messages FILE.json [--tools FILE.json]\n"
          "                          [--add-generation-prompt] [--set KEY=VALUE ...]\n"
          "                          [--name TEMPLATE] [--now UNIX_SECONDS]\n"
          "  PATH      a model folder, a tokenizer_config.json / chat_template.json, or a .jinja file\n"
          "  --messages  a JSON array of messages (or an object with \"messages\" [and \"tools\"])\n"
          "  --tools     a JSON array of tool schemas\n"
          "  --set       a template variable; VALUE is JSON if it parses, else a string\n"
          "              (e.g. --set enable_thinking=false --set bos_token='<s>')\n"
          "  --name      a named template of tokenizer_config.json (default: \"default\")\n"
          "  --now       fix strftime_now's clock (UTC) for reproducible output\n");
  return f == stderr ? 2 : 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "mlxc chat-template: cannot open '%s'\n", path);
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    if (k == 0) break;
    n += k;
  }
  fclose(f);
  if (buf) buf[n] = 0;
  return buf;
}

/* A growable string. */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = (b->n + n + 1) * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s) {
  sb_puts(b, "\"");
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char esc[8];
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\';
      esc[1] = (char)ch;
      sb_put(b, esc, 2);
    } else if (ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      sb_puts(b, esc);
    } else {
      sb_put(b, (const char *)&ch, 1);
    }
  }
  sb_puts(b, "\"");
}

/* Whether `s` is one complete JSON value (checked by rendering it through a
 * trivial template, which uses the engine's own JSON reader). */
static int is_json_value(const char *s) {
  mx_chat_template *probe = mx_chat_template_load("", 0);
  if (!probe) return 0;
  size_t n = strlen(s);
  char *ctx = malloc(n + 8);
  if (!ctx) return 0;
  snprintf(ctx, n + 8, "{\"v\":%s}", s);
  char *out = NULL;
  mx_status st = mx_chat_template_render(probe, ctx, NULL, &out, NULL);
  free(ctx);
  mx_string_free(out);
  mx_chat_template_free(probe);
  mx_clear_error();
  return st == MX_OK;
}

int cmd_chat_template(int argc, char **argv) {
  const char *path = NULL, *messages_path = NULL, *tools_path = NULL, *name = NULL;
  int add_gen = 0;
  int fixed_time = 0;
  long long now = 0;
  sbuf extra = {0};
  sb_puts(&extra, "{");
  int nextra = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      free(extra.p);
      return usage(stdout);
    }
    if (!strcmp(a, "--messages") && i + 1 < argc) messages_path = argv[++i];
    else if (!strcmp(a, "--tools") && i + 1 < argc) tools_path = argv[++i];
    else if (!strcmp(a, "--name") && i + 1 < argc) name = argv[++i];
    else if (!strcmp(a, "--add-generation-prompt")) add_gen = 1;
    else if (!strcmp(a, "--now") && i + 1 < argc) {
      fixed_time = 1;
      now = strtoll(argv[++i], NULL, 10);
    } else if (!strcmp(a, "--set") && i + 1 < argc) {
      const char *kv = argv[++i];
      const char *eq = strchr(kv, '=');
      if (!eq || eq == kv) {
        fprintf(stderr, "mlxc chat-template: --set wants KEY=VALUE, got '%s'\n", kv);
        free(extra.p);
        return 2;
      }
      char *key = strndup(kv, (size_t)(eq - kv));
      if (nextra++) sb_puts(&extra, ",");
      sb_json_string(&extra, key ? key : "");
      free(key);
      sb_puts(&extra, ":");
      if (is_json_value(eq + 1)) sb_puts(&extra, eq + 1);
      else sb_json_string(&extra, eq + 1);
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "mlxc chat-template: unknown or incomplete option '%s'\n", a);
      free(extra.p);
      return usage(stderr);
    } else if (!path) path = a;
    else {
      fprintf(stderr, "mlxc chat-template: unexpected argument '%s'\n", a);
      free(extra.p);
      return usage(stderr);
    }
  }
  sb_puts(&extra, "}");
  if (!path || !messages_path || extra.oom) {
    free(extra.p);
    return usage(stderr);
  }
  int rc = 1;
  char *messages = NULL, *tools = NULL, *out = NULL;
  mx_chat_template *t = mx_chat_template_load_file(path, name);
  if (!t) {
    fprintf(stderr, "mlxc chat-template: %s\n", mx_last_error());
    goto done;
  }
  messages = slurp(messages_path);
  if (!messages) goto done;
  if (tools_path && !(tools = slurp(tools_path))) goto done;
  /* A file holding {"messages": [...], "tools": [...]} is accepted too. */
  const char *m = messages;
  while (*m == ' ' || *m == '\t' || *m == '\n' || *m == '\r') m++;
  mx_chat_template_params p = mx_chat_template_default_params();
  p.fixed_time = fixed_time;
  p.now = now;
  size_t len = 0;
  mx_status st;
  if (*m == '{') {
    /* context object: its members are the variables; the flags add to it */
    sbuf ctx = {0};
    sb_puts(&ctx, "{\"tools\":");
    sb_puts(&ctx, tools ? tools : "null");
    sb_puts(&ctx, ",\"documents\":null,\"add_generation_prompt\":");
    sb_puts(&ctx, add_gen ? "true" : "false");
    const char *e = m + strlen(m);
    while (e > m && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t')) e--;
    if (e - m >= 2 && e[-1] == '}') {
      const char *inner = m + 1;
      const char *q = inner;
      while (q < e - 1 && (*q == ' ' || *q == '\n' || *q == '\r' || *q == '\t')) q++;
      if (q < e - 1) {
        sb_puts(&ctx, ",");
        sb_put(&ctx, inner, (size_t)(e - 1 - inner));
      }
    }
    if (tools) {
      sb_puts(&ctx, ",\"tools\":");
      sb_puts(&ctx, tools);
    }
    if (nextra) {
      sb_puts(&ctx, ",");
      sb_put(&ctx, extra.p + 1, extra.n - 2);
    }
    sb_puts(&ctx, "}");
    if (ctx.oom) {
      free(ctx.p);
      fprintf(stderr, "mlxc chat-template: out of memory\n");
      goto done;
    }
    st = mx_chat_template_render(t, ctx.p, &p, &out, &len);
    free(ctx.p);
  } else {
    st = mx_chat_template_apply(t, messages, tools, add_gen, extra.p, &p, &out, &len);
  }
  if (st != MX_OK) {
    fprintf(stderr, "mlxc chat-template: %s\n", mx_last_error());
    goto done;
  }
  fwrite(out, 1, len, stdout);
  fflush(stdout);
  rc = 0;
done:
  mx_string_free(out);
  free(messages);
  free(tools);
  free(extra.p);
  mx_chat_template_free(t);
  return rc;
}
