/* chat_template.c — the public chat-template API: loading templates from
 * model folders the way transformers finds them, and rendering. */
#include "mlxc/chat_template.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "text/jinja.h"

struct mx_chat_template {
  jtemplate t;
  char *source;
  size_t source_len;
  char *defaults_json; /* special tokens from tokenizer_config.json: {"bos_token": ...} or NULL */
};

mx_chat_template_params mx_chat_template_default_params(void) {
  mx_chat_template_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.max_output_bytes = 64ll << 20;
  p.max_memory_bytes = 1ll << 30;
  p.max_steps = 20000000;
  p.max_depth = 500;
  return p;
}

void mx_string_free(char *s) { free(s); }

const char *mx_chat_template_source(const mx_chat_template *t, size_t *len) {
  if (!t) return NULL;
  if (len) *len = t->source_len;
  return t->source;
}

void mx_chat_template_free(mx_chat_template *t) {
  if (!t) return;
  ja_free_all(&t->t.arena);
  free(t->source);
  free(t->defaults_json);
  free(t);
}

mx_chat_template *mx_chat_template_load(const char *source, size_t len) {
  if (!source && len) {
    set_error(MX_ERR_INVALID_ARG, "chat_template_load: source is NULL");
    return NULL;
  }
  mx_chat_template *t = calloc(1, sizeof *t);
  char *src = malloc(len + 1);
  if (!t || !src) {
    free(t);
    free(src);
    set_error(MX_ERR_OOM, "chat_template_load: out of memory");
    return NULL;
  }
  if (len) memcpy(src, source, len);
  src[len] = 0;
  t->source = src;
  t->source_len = len;
  t->t.arena.budget = (size_t)1 << 30;
  if (jinja_parse(&t->t, src, len) != 0) {
    jerr *e = &t->t.err;
    if (e->kind == JERR_OOM) set_error(MX_ERR_OOM, "chat template: %s", e->msg);
    else if (e->line) set_error(MX_ERR_FORMAT, "chat template syntax error at line %d, column %d: %s", e->line, e->col, e->msg);
    else set_error(MX_ERR_FORMAT, "chat template syntax error: %s", e->msg);
    mx_chat_template_free(t);
    return NULL;
  }
  return t;
}

/* ------------------------------------------------------------ render */

static mx_status report(const jerr *e) {
  switch (e->kind) {
  case JERR_RAISE: return set_error(MX_ERR_INVALID_ARG, "%s", e->msg);
  case JERR_OOM: return set_error(MX_ERR_OOM, "chat template: %s", e->msg);
  case JERR_LIMIT:
    if (e->line) return set_error(MX_ERR_INVALID_ARG, "chat template error at line %d: %s", e->line, e->msg);
    return set_error(MX_ERR_INVALID_ARG, "chat template: %s", e->msg);
  default:
    if (e->line) return set_error(MX_ERR_INVALID_ARG, "chat template error at line %d: %s", e->line, e->msg);
    return set_error(MX_ERR_INVALID_ARG, "chat template error: %s", e->msg);
  }
}

/* Appends the members of JSON object text `obj` ("{...}") after `buf`'s
 * current content, with a leading comma when needed. Returns 0 or -1. */
static int splice_members(char **buf, size_t *n, size_t *cap, const char *obj, int need_comma) {
  const char *s = obj, *e = obj + strlen(obj);
  while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
  if (e - s < 2 || *s != '{' || e[-1] != '}') return -1;
  s++;
  e--;
  const char *q = s;
  while (q < e && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
  if (q == e) return 0;
  size_t k = (size_t)(e - s);
  if (*n + k + 2 > *cap) {
    size_t nc = (*n + k + 2) * 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb;
    *cap = nc;
  }
  if (need_comma) (*buf)[(*n)++] = ',';
  memcpy(*buf + *n, s, k);
  *n += k;
  (*buf)[*n] = 0;
  return 0;
}

mx_status mx_chat_template_render(const mx_chat_template *t, const char *context_json,
                                  const mx_chat_template_params *params, char **out, size_t *out_len) {
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  if (!t || !out) return set_error(MX_ERR_INVALID_ARG, "chat_template_render: template and out must not be NULL");
  mx_chat_template_params p = mx_chat_template_default_params();
  if (params) {
    size_t k = params->size < sizeof p ? params->size : sizeof p;
    if (k < sizeof(size_t)) return set_error(MX_ERR_INVALID_ARG, "chat_template_render: params->size is not set");
    memcpy(&p, params, k);
    mx_chat_template_params d = mx_chat_template_default_params();
    if (p.max_output_bytes <= 0) p.max_output_bytes = d.max_output_bytes;
    if (p.max_memory_bytes <= 0) p.max_memory_bytes = d.max_memory_bytes;
    if (p.max_steps <= 0) p.max_steps = d.max_steps;
    if (p.max_depth <= 0) p.max_depth = d.max_depth;
  }
  jrender_opts o = {0};
  o.max_output = (size_t)p.max_output_bytes;
  o.max_memory = (size_t)p.max_memory_bytes;
  o.max_steps = p.max_steps;
  o.max_depth = p.max_depth;
  o.fixed_time = p.fixed_time;
  o.now = p.now;

  /* Defaults first, context after: a later duplicate key wins. */
  char *ctx = NULL;
  size_t n = 0, cap = 0;
  const char *use = context_json;
  if (t->defaults_json) {
    cap = 64;
    ctx = malloc(cap);
    if (!ctx) return set_error(MX_ERR_OOM, "chat_template_render: out of memory");
    ctx[n++] = '{';
    ctx[n] = 0;
    int bad = splice_members(&ctx, &n, &cap, t->defaults_json, 0);
    if (!bad && context_json && *context_json) {
      bad = splice_members(&ctx, &n, &cap, context_json, n > 1);
      if (bad) {
        free(ctx);
        return set_error(MX_ERR_INVALID_ARG, "chat_template_render: context must be a JSON object");
      }
    }
    if (bad || n + 2 > cap) {
      char *nb = realloc(ctx, n + 2);
      if (!nb) {
        free(ctx);
        return set_error(MX_ERR_OOM, "chat_template_render: out of memory");
      }
      ctx = nb;
    }
    ctx[n++] = '}';
    ctx[n] = 0;
    use = ctx;
  }
  jerr err;
  memset(&err, 0, sizeof err);
  int rc = jinja_render(&t->t, use, use ? strlen(use) : 0, &o, out, out_len, &err);
  free(ctx);
  if (rc != 0) return report(&err);
  return MX_OK;
}

mx_status mx_chat_template_apply(const mx_chat_template *t, const char *messages_json, const char *tools_json,
                                 int add_generation_prompt, const char *extra_vars_json,
                                 const mx_chat_template_params *params, char **out, size_t *out_len) {
  if (out) *out = NULL;
  if (!t || !messages_json || !out)
    return set_error(MX_ERR_INVALID_ARG, "chat_template_apply: template, messages and out must not be NULL");
  size_t cap = strlen(messages_json) + (tools_json ? strlen(tools_json) : 0) +
               (extra_vars_json ? strlen(extra_vars_json) : 0) + 128;
  char *ctx = malloc(cap);
  if (!ctx) return set_error(MX_ERR_OOM, "chat_template_apply: out of memory");
  int n = snprintf(ctx, cap, "{\"messages\":%s,\"tools\":%s,\"documents\":null,\"add_generation_prompt\":%s",
                   messages_json, tools_json ? tools_json : "null", add_generation_prompt ? "true" : "false");
  size_t len = (size_t)n;
  if (extra_vars_json && splice_members(&ctx, &len, &cap, extra_vars_json, 1)) {
    free(ctx);
    return set_error(MX_ERR_INVALID_ARG, "chat_template_apply: extra variables must be a JSON object");
  }
  if (len + 2 > cap) {
    char *nb = realloc(ctx, len + 2);
    if (!nb) {
      free(ctx);
      return set_error(MX_ERR_OOM, "chat_template_apply: out of memory");
    }
    ctx = nb;
  }
  ctx[len++] = '}';
  ctx[len] = 0;
  mx_status st = mx_chat_template_render(t, ctx, params, out, out_len);
  free(ctx);
  return st;
}

/* ------------------------------------------------------------ locating */

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(MX_ERR_IO, "chat template: cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      if (cap >= ((size_t)1 << 30)) {
        free(buf);
        fclose(f);
        set_error(MX_ERR_IO, "chat template: '%s' is larger than 1 GiB", path);
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t k = fread(buf + n, 1, cap - n - 1, f);
    n += k;
    if (k == 0) break;
  }
  if (!buf) {
    fclose(f);
    set_error(MX_ERR_OOM, "chat template: out of memory reading '%s'", path);
    return NULL;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    set_error(MX_ERR_IO, "chat template: error reading '%s'", path);
    return NULL;
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  size_t n = (size_t)(slash - path);
  if (n == 0) n = 1;
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = 0;
  }
  return d;
}

/* "chat_template" of a parsed JSON: a string or a list of {name, template}.
 * Returns a malloc'ed copy, or NULL with the error set. */
static char *pick_template(cJSON *root, const char *name, const char *path) {
  cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
  if (!ct || cJSON_IsNull(ct)) {
    set_error(MX_ERR_INVALID_ARG, "chat template: '%s' has no chat_template", path);
    return NULL;
  }
  if (cJSON_IsString(ct)) {
    if (name && strcmp(name, "default") != 0) {
      set_error(MX_ERR_INVALID_ARG, "chat template: '%s' has a single template, not one named '%s'", path, name);
      return NULL;
    }
    return strdup(ct->valuestring);
  }
  if (cJSON_IsArray(ct)) {
    const char *want = name ? name : "default";
    cJSON *it;
    cJSON_ArrayForEach(it, ct) {
      cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
      cJSON *tp = cJSON_GetObjectItemCaseSensitive(it, "template");
      if (cJSON_IsString(nm) && cJSON_IsString(tp) && !strcmp(nm->valuestring, want)) return strdup(tp->valuestring);
    }
    if (!name)
      set_error(MX_ERR_INVALID_ARG,
                "chat template: '%s' has several chat templates and none named 'default'; pass a name", path);
    else
      set_error(MX_ERR_INVALID_ARG, "chat template: '%s' has no chat template named '%s'", path, name);
    return NULL;
  }
  set_error(MX_ERR_FORMAT, "chat template: '%s': chat_template must be a string or a list", path);
  return NULL;
}

/* The special tokens of a tokenizer_config.json as a JSON object text. */
static char *special_tokens_json(cJSON *root) {
  static const char *keys[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
  cJSON *out = cJSON_CreateObject();
  if (!out) return NULL;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (cJSON_IsString(v)) cJSON_AddStringToObject(out, keys[i], v->valuestring);
  }
  cJSON *extra = cJSON_GetObjectItemCaseSensitive(root, "additional_special_tokens");
  if (cJSON_IsArray(extra)) {
    cJSON *arr = cJSON_AddArrayToObject(out, "additional_special_tokens");
    cJSON *it;
    cJSON_ArrayForEach(it, extra) {
      cJSON *v = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "content") : it;
      if (arr && cJSON_IsString(v)) cJSON_AddItemToArray(arr, cJSON_CreateString(v->valuestring));
    }
  }
  char *s = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  return s;
}

static cJSON *parse_json_file(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) return NULL;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    set_error(MX_ERR_FORMAT, "chat template: '%s' is not a JSON object", path);
    return NULL;
  }
  return root;
}

static mx_chat_template *finish(char *src, size_t len, char *defaults) {
  mx_chat_template *t = src ? mx_chat_template_load(src, len) : NULL;
  free(src);
  if (t) t->defaults_json = defaults;
  else free(defaults);
  return t;
}

/* Special tokens of dir/tokenizer_config.json, if present (else NULL). */
static char *defaults_from_dir(const char *dir) {
  char *p = join_path(dir, "tokenizer_config.json");
  char *res = NULL;
  if (p && is_file(p)) {
    mx_status saved = mx_last_error_code();
    cJSON *root = parse_json_file(p);
    if (root) {
      res = special_tokens_json(root);
      cJSON_Delete(root);
    } else if (saved == MX_OK) {
      mx_clear_error(); /* a broken sibling file is not the template's problem */
    }
  }
  free(p);
  return res;
}

mx_chat_template *mx_chat_template_load_file(const char *path, const char *name) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "chat_template_load_file: path is NULL");
    return NULL;
  }
  if (is_dir(path)) {
    char *p = NULL;
    if (name) {
      size_t k = strlen(name) + 64;
      char *rel = malloc(k);
      if (rel) {
        snprintf(rel, k, "additional_chat_templates/%s.jinja", name);
        p = join_path(path, rel);
        free(rel);
      }
      if (p && !is_file(p)) {
        free(p);
        p = NULL;
      }
    }
    if (!p && (!name || !strcmp(name, "default"))) {
      p = join_path(path, "chat_template.jinja");
      if (p && !is_file(p)) {
        free(p);
        p = join_path(path, "chat_template.json");
        if (p && !is_file(p)) {
          free(p);
          p = NULL;
        }
      }
    }
    if (!p) p = join_path(path, "tokenizer_config.json");
    if (!p) {
      set_error(MX_ERR_OOM, "chat_template_load_file: out of memory");
      return NULL;
    }
    if (!is_file(p)) {
      set_error(MX_ERR_IO, "chat template: '%s' has no chat_template.jinja, chat_template.json or tokenizer_config.json",
                path);
      free(p);
      return NULL;
    }
    mx_chat_template *t = mx_chat_template_load_file(p, name);
    free(p);
    return t;
  }
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t bl = strlen(base);
  char *dir = dir_of(path);
  if (bl >= 5 && !strcmp(base + bl - 5, ".json")) {
    cJSON *root = parse_json_file(path);
    if (!root) {
      free(dir);
      return NULL;
    }
    char *src = pick_template(root, name, path);
    char *defaults = NULL;
    if (cJSON_GetObjectItemCaseSensitive(root, "bos_token") || cJSON_GetObjectItemCaseSensitive(root, "eos_token"))
      defaults = special_tokens_json(root);
    else if (dir)
      defaults = defaults_from_dir(dir);
    cJSON_Delete(root);
    free(dir);
    if (!src) {
      free(defaults);
      return NULL;
    }
    return finish(src, strlen(src), defaults);
  }
  size_t len;
  char *src = read_file(path, &len);
  if (!src) {
    free(dir);
    return NULL;
  }
  char *defaults = dir ? defaults_from_dir(dir) : NULL;
  free(dir);
  return finish(src, len, defaults);
}
