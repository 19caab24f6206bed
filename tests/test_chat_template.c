/* test_chat_template.c — the Jinja engine against Python Jinja2 as HF runs it.
 *
 * argv[1] is the fixture folder written by tests/ref/gen_chat_template.py:
 * every real template of the test data rendered over a set of conversations,
 * and unit templates for each statement, filter and test, all with their
 * exact expected output (or error). The C side must match byte for byte.
 * Below those: syntax errors with line:column, loader cases, and hostile
 * templates that must fail cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlxc/chat_template.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) b[n] = 0;
  if (len) *len = (size_t)n;
  return b;
}

static mx_chat_template_params fixed_params(long long now) {
  mx_chat_template_params p = mx_chat_template_default_params();
  p.fixed_time = 1;
  p.now = now;
  return p;
}

/* Shows where two outputs part, for the failure message. */
static void diff_detail(char *buf, size_t cap, const char *got, size_t gn, const char *want, size_t wn) {
  size_t i = 0;
  while (i < gn && i < wn && got[i] == want[i]) i++;
  size_t from = i > 40 ? i - 40 : 0;
  snprintf(buf, cap, "differ at byte %zu (got %zu bytes, want %zu)\n  got:  ...%.*s\n  want: ...%.*s", i, gn, wn,
           (int)((gn - from) > 100 ? 100 : gn - from), got + from, (int)((wn - from) > 100 ? 100 : wn - from),
           want + from);
}

static int run_fixtures(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  char *tsv = slurp(path, NULL);
  if (!tsv) {
    fprintf(stderr, "test_chat_template: cannot read %s (run tests/ref/gen_chat_template.py %s)\n", path, dir);
    return -1;
  }
  long long now = 0;
  int ncases = 0, nok = 0, nerr = 0, same_msg = 0;
  char *save = NULL;
  for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "#now\t", 5)) {
      now = atoll(line + 5);
      continue;
    }
    char *f[5];
    int k = 0;
    char *s2 = NULL;
    for (char *t = strtok_r(line, "\t", &s2); t && k < 5; t = strtok_r(NULL, "\t", &s2)) f[k++] = t;
    if (k != 5) continue;
    ncases++;
    const char *name = f[0], *status = f[4];
    size_t wn = 0;
    char *want = slurp(f[3], &wn);
    char *ctx = slurp(f[2], NULL);
    char detail[1024] = "";
    int ok = 0;
    mx_clear_error();
    mx_chat_template *t = mx_chat_template_load_file(f[1], NULL);
    if (!t) {
      snprintf(detail, sizeof detail, "%s: load failed: %s", name, mx_last_error());
    } else if (!want || !ctx) {
      snprintf(detail, sizeof detail, "%s: missing fixture files", name);
    } else {
      mx_chat_template_params p = fixed_params(now);
      char *out = NULL;
      size_t on = 0;
      mx_status st = mx_chat_template_render(t, ctx, &p, &out, &on);
      if (!strcmp(status, "ok")) {
        if (st != MX_OK) snprintf(detail, sizeof detail, "%s: render failed: %s", name, mx_last_error());
        else if (on != wn || memcmp(out, want, on)) {
          char d[900];
          diff_detail(d, sizeof d, out, on, want, wn);
          snprintf(detail, sizeof detail, "%s: %s", name, d);
        } else ok = 1;
      } else if (!strcmp(status, "raise")) {
        if (st == MX_OK) snprintf(detail, sizeof detail, "%s: rendered, want raise_exception '%s'", name, want);
        else if (st != MX_ERR_INVALID_ARG || strcmp(mx_last_error(), want))
          snprintf(detail, sizeof detail, "%s: error '%s', want raise_exception '%s'", name, mx_last_error(), want);
        else ok = 1;
      } else {
        if (st == MX_OK) snprintf(detail, sizeof detail, "%s: rendered, want an error like Python's '%s'", name, want);
        else {
          ok = 1;
          /* informational: does the message match Python's (after "Type: ")? */
          const char *colon = strstr(want, ": ");
          if (colon && strstr(mx_last_error(), colon + 2)) same_msg++;
          nerr++;
        }
      }
      mx_string_free(out);
    }
    check_report(ok, __FILE__, __LINE__, name, ok ? NULL : detail);
    nok += ok;
    mx_chat_template_free(t);
    free(want);
    free(ctx);
  }
  free(tsv);
  printf("fixtures: %d/%d cases match Python Jinja2 (%d of %d error cases with Python's exact message)\n", nok,
         ncases, same_msg, nerr);
  return ncases;
}

/* ------------------------------------------------------------ direct checks */

static void expect_render(int line, const char *src, const char *ctx, const char *want) {
  char detail[512] = "";
  int ok = 0;
  mx_clear_error();
  mx_chat_template *t = mx_chat_template_load(src, strlen(src));
  if (!t) {
    snprintf(detail, sizeof detail, "load: %s", mx_last_error());
  } else {
    char *out = NULL;
    mx_status st = mx_chat_template_render(t, ctx, NULL, &out, NULL);
    if (st != MX_OK) snprintf(detail, sizeof detail, "render: %s", mx_last_error());
    else if (strcmp(out, want)) snprintf(detail, sizeof detail, "got '%s', want '%s'", out, want);
    else ok = 1;
    mx_string_free(out);
    mx_chat_template_free(t);
  }
  check_report(ok, __FILE__, line, src, ok ? NULL : detail);
}

static void expect_syntax_error(int line, const char *src, const char *substr) {
  mx_clear_error();
  mx_chat_template *t = mx_chat_template_load(src, strlen(src));
  int ok = !t && mx_last_error_code() == MX_ERR_FORMAT && strstr(mx_last_error(), substr);
  check_report(ok, __FILE__, line, src, mx_last_error());
  mx_chat_template_free(t);
  mx_clear_error();
}

static void expect_render_error(int line, const char *src, const char *ctx, mx_status code, const char *substr,
                                const mx_chat_template_params *p) {
  mx_clear_error();
  mx_chat_template *t = mx_chat_template_load(src, strlen(src));
  char *out = NULL;
  mx_status st = t ? mx_chat_template_render(t, ctx, p, &out, NULL) : mx_last_error_code();
  int ok = t && st != MX_OK && (code == MX_OK || st == code) && out == NULL && strstr(mx_last_error(), substr);
  check_report(ok, __FILE__, line, src, t ? mx_last_error() : "did not load");
  mx_string_free(out);
  mx_chat_template_free(t);
  mx_clear_error();
}

#define R(src, ctx, want) expect_render(__LINE__, src, ctx, want)
#define SYNTAX(src, substr) expect_syntax_error(__LINE__, src, substr)
#define RERR(src, ctx, code, substr) expect_render_error(__LINE__, src, ctx, code, substr, NULL)

static void test_syntax_errors(void) {
  SYNTAX("{% if x %}abc", "line 1, column 14");
  SYNTAX("{% if x %}abc", "Unexpected end of template");
  SYNTAX("line1\n  {{ 1 + }}", "line 2, column 10");
  SYNTAX("a\nb\n{% for x in %}{% endfor %}", "line 3, column 13");
  SYNTAX("{{ 'abc }}", "unterminated string");
  SYNTAX("{# never closed", "Missing end of comment tag");
  SYNTAX("{% raw %}abc", "Missing end of raw directive");
  SYNTAX("{% frobnicate %}", "unknown tag 'frobnicate'");
  SYNTAX("{% endfor %}", "unknown tag 'endfor'");
  SYNTAX("{% if x %}{% endfor %}", "looking for the following tags");
  SYNTAX("{{ x | nosuchfilter }}", "No filter named 'nosuchfilter'");
  SYNTAX("{{ x is nosuchtest }}", "No test named 'nosuchtest'");
  SYNTAX("{{ x ) }}", "unexpected ')'");
  SYNTAX("{{ 1 @ 2 }}", "unexpected char '@'");
  SYNTAX("{% set 1 = 2 %}", "can't assign");
  SYNTAX("{% include 'x' %}", "not supported");
  SYNTAX("{{ x", "never closed");
  SYNTAX("\xff\xfe", "UTF-8");
  SYNTAX("{% macro m(a=1, b) %}{% endmacro %}", "non-default argument");
  SYNTAX("a{% break %}b", "'break' outside loop");
  SYNTAX("{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", "'continue' outside loop");
  SYNTAX("{% for x in y %}{% else %}{% break %}{% endfor %}", "'break' outside loop");
}

static void test_direct(void) {
  /* things the Python fixtures cannot state */
  R("", NULL, "");
  R("{{ x }}", "{\"x\": 1.0}", "1.0");
  R("{{ x }}", "{\"x\": 12345678901234567}", "12345678901234567");
  R("{{ bos_token }}", "{\"bos_token\": \"<s>\"}", "<s>");
  RERR("{{ raise_exception('Roles must alternate') }}", NULL, MX_ERR_INVALID_ARG, "Roles must alternate");
  RERR("{{ x + 1 }}", NULL, MX_ERR_INVALID_ARG, "'x' is undefined");
  RERR("{{ x.y }}", NULL, MX_ERR_INVALID_ARG, "line 1");
  RERR("{{ 1 / 0 }}", NULL, MX_ERR_INVALID_ARG, "division by zero");
  RERR("{{ [].append(1) }}", NULL, MX_ERR_INVALID_ARG, "unsafe");
  RERR("{{ x }}", "[1]", MX_ERR_INVALID_ARG, "object");
  RERR("{{ x }}", "{\"x\": ", MX_ERR_INVALID_ARG, "invalid JSON");
  /* strftime_now with a fixed clock */
  {
    mx_chat_template *t = mx_chat_template_load("{{ strftime_now('%d %b %Y') }}", 30);
    mx_chat_template_params p = fixed_params(1721995200); /* 2024-07-26 12:00 UTC */
    char *out = NULL;
    CHECK(t && mx_chat_template_render(t, NULL, &p, &out, NULL) == MX_OK && out && !strcmp(out, "26 Jul 2024"));
    mx_string_free(out);
    mx_chat_template_free(t);
  }
  /* apply(): HF's context layout */
  {
    const char *src = "{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ messages[0].content }}|{{ x }}";
    mx_chat_template *t = mx_chat_template_load(src, strlen(src));
    char *out = NULL;
    size_t n = 0;
    CHECK(t && mx_chat_template_apply(t, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, 1, "{\"x\": 2.50}", NULL,
                                      &out, &n) == MX_OK);
    CHECK(out && !strcmp(out, "True|True|True|hi|2.5") && n == strlen(out));
    mx_string_free(out);
    out = NULL;
    CHECK(mx_chat_template_apply(t, "[]", "[1]", 0, "[]", NULL, &out, &n) == MX_ERR_INVALID_ARG && out == NULL);
    mx_chat_template_free(t);
  }
  /* NULL handling */
  CHECK(mx_chat_template_render(NULL, NULL, NULL, NULL, NULL) == MX_ERR_INVALID_ARG);
  CHECK(mx_chat_template_load(NULL, 3) == NULL);
  mx_chat_template_free(NULL);
  mx_string_free(NULL);
}

static void test_hostile(void) {
  mx_chat_template_params small = mx_chat_template_default_params();
  small.max_steps = 100000;
  small.max_output_bytes = 1 << 20;
  small.max_memory_bytes = 64 << 20;
  /* unbounded recursion */
  expect_render_error(__LINE__, "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, MX_ERR_INVALID_ARG,
                      "recursion", &small);
  /* exponential work */
  expect_render_error(__LINE__, "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
                      NULL, MX_OK /* steps or memory, whichever comes first */, "limit", &small);
  /* huge range and nested loops */
  expect_render_error(__LINE__, "{% for i in range(1000000) %}{% endfor %}", NULL, MX_ERR_INVALID_ARG, "MAX_RANGE",
                      &small);
  expect_render_error(__LINE__, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                      NULL, MX_OK, "limit", &small);
  /* output and memory */
  expect_render_error(__LINE__, "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", NULL, MX_ERR_INVALID_ARG,
                      "output limit", &small);
  expect_render_error(__LINE__, "{{ 'x' * 100000000000 }}", NULL, MX_ERR_OOM, "too large", &small);
  expect_render_error(__LINE__, "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
                      NULL, MX_ERR_OOM, "", &small);
  expect_render_error(__LINE__, "{{ 2 ** 64 }}", NULL, MX_ERR_INVALID_ARG, "overflow", &small);
  /* self-referencing namespace printed */
  expect_render_error(__LINE__, "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", NULL, MX_ERR_INVALID_ARG,
                      "recursion", &small);
  /* deep nesting in the source */
  {
    size_t n = 20000;
    char *src = malloc(n * 2 + 16);
    size_t k = 0;
    k += (size_t)sprintf(src + k, "{{ ");
    for (size_t i = 0; i < n; i++) src[k++] = '(';
    src[k++] = '1';
    for (size_t i = 0; i < n; i++) src[k++] = ')';
    k += (size_t)sprintf(src + k, " }}");
    SYNTAX(src, "nested too deeply");
    k = 0;
    for (size_t i = 0; i < n / 10; i++) k += (size_t)sprintf(src + k, "{%% if 1 %%}");
    src[k] = 0;
    SYNTAX(src, "nested too deeply");
    free(src);
  }
  /* deep JSON context */
  {
    size_t n = 5000;
    char *ctx = malloc(n * 2 + 16);
    size_t k = (size_t)sprintf(ctx, "{\"x\":");
    for (size_t i = 0; i < n; i++) ctx[k++] = '[';
    for (size_t i = 0; i < n; i++) ctx[k++] = ']';
    ctx[k++] = '}';
    ctx[k] = 0;
    expect_render_error(__LINE__, "{{ x }}", ctx, MX_ERR_INVALID_ARG, "nested too deeply", &small);
    free(ctx);
  }
  /* unterminated things at every prefix of a real template never crash */
  {
    const char *src = "{%- for m in messages -%}{{ m['role'] | upper ~ ': ' }}{% if m.content is string %}"
                      "{{ m.content|trim }}{% else %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endif %}"
                      "{# c #}{% raw %}{{x}}{% endraw %}{% endfor %}";
    size_t n = strlen(src);
    int crashed = 0;
    for (size_t i = 0; i <= n; i++) {
      mx_chat_template *t = mx_chat_template_load(src, i);
      if (t) {
        char *out = NULL;
        mx_chat_template_render(t, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &small, &out, NULL);
        mx_string_free(out);
        mx_chat_template_free(t);
      }
      mx_clear_error();
    }
    CHECK(!crashed);
  }
}

static void test_loader(const char *testdata) {
  char path[4096];
  /* a folder without chat_template.jinja: tokenizer_config.json's template */
  snprintf(path, sizeof path, "%s/tokenizers/hf/qwen3", testdata);
  mx_chat_template *t = mx_chat_template_load_file(path, NULL);
  CHECK_MSG(t != NULL, mx_last_error());
  if (t) {
    size_t n = 0;
    const char *src = mx_chat_template_source(t, &n);
    CHECK(src && n > 100 && strstr(src, "<|im_start|>"));
    mx_chat_template_free(t);
  }
  /* named templates that do not exist */
  t = mx_chat_template_load_file(path, "tool_use");
  CHECK(t == NULL && mx_last_error_code() == MX_ERR_INVALID_ARG);
  mx_clear_error();
  /* llama2's tokenizer_config.json has no chat_template */
  snprintf(path, sizeof path, "%s/tokenizers/hf/llama2/tokenizer_config.json", testdata);
  t = mx_chat_template_load_file(path, NULL);
  CHECK(t == NULL && strstr(mx_last_error(), "no chat_template"));
  mx_clear_error();
  /* special tokens from tokenizer_config.json become defaults */
  snprintf(path, sizeof path, "%s/tokenizers/hf/gemma3", testdata);
  t = mx_chat_template_load_file(path, NULL);
  if (t) {
    char *out = NULL;
    CHECK(mx_chat_template_render(t, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL, &out, NULL) == MX_OK);
    CHECK(out && !strncmp(out, "<bos>", 5));
    mx_string_free(out);
    out = NULL;
    /* the context overrides them */
    CHECK(mx_chat_template_render(t, "{\"bos_token\":\"B\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL,
                                  &out, NULL) == MX_OK);
    CHECK(out && out[0] == 'B');
    mx_string_free(out);
    mx_chat_template_free(t);
  } else {
    CHECK_MSG(0, mx_last_error());
  }
  /* a list of named templates, written to a temporary folder */
  char tmpl[] = "/tmp/mlxc_ct_XXXXXX";
  if (mkdtemp(tmpl)) {
    snprintf(path, sizeof path, "%s/tokenizer_config.json", tmpl);
    FILE *f = fopen(path, "w");
    if (f) {
      fputs("{\"bos_token\": {\"content\": \"<B>\"}, \"chat_template\": [{\"name\": \"default\", \"template\": "
            "\"D{{ bos_token }}\"}, {\"name\": \"tool_use\", \"template\": \"T\"}]}",
            f);
      fclose(f);
    }
    const char *names[] = {NULL, "tool_use", "rag"};
    const char *want[] = {"D<B>", "T", NULL};
    for (int i = 0; i < 3; i++) {
      t = mx_chat_template_load_file(tmpl, names[i]);
      char *out = NULL;
      if (want[i]) {
        CHECK(t && mx_chat_template_render(t, NULL, NULL, &out, NULL) == MX_OK && out && !strcmp(out, want[i]));
      } else {
        CHECK(t == NULL && strstr(mx_last_error(), "rag"));
      }
      mx_string_free(out);
      mx_chat_template_free(t);
      mx_clear_error();
    }
    /* chat_template.jinja takes precedence */
    char jp[4200];
    snprintf(jp, sizeof jp, "%s/chat_template.jinja", tmpl);
    f = fopen(jp, "w");
    if (f) {
      fputs("J{{ bos_token }}\n", f);
      fclose(f);
    }
    t = mx_chat_template_load_file(tmpl, NULL);
    char *out = NULL;
    CHECK(t && mx_chat_template_render(t, NULL, NULL, &out, NULL) == MX_OK && out && !strcmp(out, "J<B>"));
    mx_string_free(out);
    mx_chat_template_free(t);
    remove(jp);
    remove(path);
    remove(tmpl);
  }
  t = mx_chat_template_load_file("/nonexistent/dir/x.jinja", NULL);
  CHECK(t == NULL && mx_last_error_code() == MX_ERR_IO);
  mx_clear_error();
}

int main(int argc, char **argv) {
  const char *testdata = getenv("MLXC_TESTDATA");
  if (!testdata) {
    fprintf(stderr, "test_chat_template: MLXC_TESTDATA is not set (expected the path of ../shared/testdata)\n");
    return 1;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: test_chat_template FIXTURE_DIR (from tests/ref/gen_chat_template.py)\n");
    return 1;
  }
  int n = run_fixtures(argv[1]);
  CHECK_MSG(n > 0, "no fixture cases");
  test_syntax_errors();
  test_direct();
  test_hostile();
  test_loader(testdata);
  return check_summary();
}
