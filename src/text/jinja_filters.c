/* jinja_filters.c — Jinja2's builtin filters and tests (with HF's tojson),
 * and the Python str/dict/list methods templates call, with the sandbox's
 * refusal of mutating methods. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"


/* ------------------------------------------------------------ arguments */

jv jarg(jcall *a, int i, const char *name, jv dflt) {
  if (i >= 0 && i < a->npos) return a->pos[i];
  if (name)
    for (int k = 0; k < a->nkw; k++)
      if (!strcmp(a->kwn[k], name)) return a->kwv[k];
  return dflt;
}

int jarg_has(jcall *a, int i, const char *name) {
  if (i >= 0 && i < a->npos) return 1;
  if (name)
    for (int k = 0; k < a->nkw; k++)
      if (!strcmp(a->kwn[k], name)) return 1;
  return 0;
}

int64_t jarg_int(jctx *c, jcall *a, int i, const char *name, int64_t dflt) {
  jv v = jarg(a, i, name, jv_int(dflt));
  if (v.t == JV_INT || v.t == JV_BOOL) return v.u.i;
  if (v.t == JV_FLOAT) return (int64_t)v.u.f;
  if (v.t == JV_NONE) return dflt;
  jfail(c, "'%s' object cannot be interpreted as an integer", jv_type_name(v));
}

jv jneed_str(jctx *c, jv v, const char *what) {
  if (v.t != JV_STR) jfail(c, "%s must be str, not %s", what, jv_type_name(v));
  return v;
}

jv jmkstr(jbuf *b, int safe) {
  jv r = jv_strn(b->p ? b->p : "", b->n);
  r.safe = (uint8_t)safe;
  return r;
}

/* ------------------------------------------------------------ sorting */

static void merge_sort(jctx *c, jv *v, jv *tmp, int64_t n, int (*cmp)(jctx *, jv, jv, void *), void *ud) {
  if (n < 2) return;
  int64_t h = n / 2;
  merge_sort(c, v, tmp, h, cmp, ud);
  merge_sort(c, v + h, tmp, n - h, cmp, ud);
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = cmp(c, v[j], v[i], ud) < 0 ? v[j++] : v[i++];
  while (i < h) tmp[k++] = v[i++];
  while (j < n) tmp[k++] = v[j++];
  memcpy(v, tmp, (size_t)n * sizeof(jv));
}

void jv_sort(jctx *c, jv *items, int64_t n, int (*cmp)(jctx *, jv, jv, void *), void *ud) {
  if (n < 2) return;
  jv *tmp = ja_alloc(c->a, (size_t)n * sizeof(jv));
  merge_sort(c, items, tmp, n, cmp, ud);
}


/* Jinja's ignore_case: strings compare lowercased. */
static jv fold(jctx *c, jv v, int case_sensitive) {
  if (!case_sensitive && v.t == JV_STR) return js_lower(c, v);
  return v;
}

/* make_attrgetter: "a.b.0" walks getitem per part (ints for digits). */
static jv attr_path(jctx *c, jv item, jv attr) {
  if (attr.t != JV_STR) return jv_getitem(c, item, attr);
  const char *p = attr.u.s.p, *end = p + attr.u.s.n;
  while (p <= end) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    if (!dot) dot = end;
    size_t n = (size_t)(dot - p);
    int digits = n > 0;
    for (size_t i = 0; i < n; i++)
      if (p[i] < '0' || p[i] > '9') digits = 0;
    jv key;
    if (digits && n < 18) {
      int64_t v = 0;
      for (size_t i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
      key = jv_int(v);
    } else {
      key = jv_strn(p, n);
    }
    item = jv_getitem(c, item, key);
    if (dot == end) break;
    p = dot + 1;
  }
  return item;
}

typedef struct sort_ud {
  int case_sensitive;
  int reverse;
  jv attr;
  int has_attr;
  int by_value; /* dictsort */
} sort_ud;

static int cmp_sort(jctx *c, jv a, jv b, void *p) {
  sort_ud *u = p;
  if (u->has_attr) {
    a = attr_path(c, a, u->attr);
    b = attr_path(c, b, u->attr);
  }
  int r = jv_cmp(c, fold(c, a, u->case_sensitive), fold(c, b, u->case_sensitive));
  return u->reverse ? -r : r;
}

static int cmp_dictsort(jctx *c, jv a, jv b, void *p) {
  sort_ud *u = p;
  jv x = a.u.l->v[u->by_value], y = b.u.l->v[u->by_value];
  int r = jv_cmp(c, fold(c, x, u->case_sensitive), fold(c, y, u->case_sensitive));
  return u->reverse ? -r : r;
}

jv jcopy_list(jctx *c, jv seq) {
  jv l = jiter_list(c, seq);
  jlist *o = jl_new(c->a, l.u.l->n);
  memcpy(o->v, l.u.l->v, (size_t)l.u.l->n * sizeof(jv));
  o->n = l.u.l->n;
  return jv_list(o);
}

/* ------------------------------------------------------------ filters */

static jv f_tojson(jctx *c, jv in, jcall *a) {
  jv ea = jarg(a, 0, "ensure_ascii", jv_bool(0));
  jv ind = jarg(a, 1, "indent", jv_none());
  jv seps = jarg(a, 2, "separators", jv_none());
  jv sk = jarg(a, 3, "sort_keys", jv_bool(0));
  char spaces[64];
  const char *indent = NULL;
  int has_indent = 0;
  if (ind.t == JV_INT || ind.t == JV_BOOL) {
    int64_t k = ind.u.i < 0 ? 0 : ind.u.i > 60 ? 60 : ind.u.i;
    memset(spaces, ' ', (size_t)k);
    spaces[k] = 0;
    indent = spaces;
    has_indent = 1;
  } else if (ind.t == JV_STR) {
    indent = ja_strndup(c->a, ind.u.s.p, ind.u.s.n);
    has_indent = 1;
  } else if (ind.t != JV_NONE) {
    jfail(c, "tojson: indent must be an int or a str");
  }
  const char *isep = NULL, *ksep = NULL;
  if (seps.t == JV_TUPLE || seps.t == JV_LIST) {
    if (seps.u.l->n != 2 || seps.u.l->v[0].t != JV_STR || seps.u.l->v[1].t != JV_STR)
      jfail(c, "tojson: separators must be a pair of strings");
    isep = ja_strndup(c->a, seps.u.l->v[0].u.s.p, seps.u.l->v[0].u.s.n);
    ksep = ja_strndup(c->a, seps.u.l->v[1].u.s.p, seps.u.l->v[1].u.s.n);
  }
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  const char *why = NULL;
  if (jv_to_json(&b, in, jv_truthy(ea), indent, has_indent, isep, ksep, jv_truthy(sk), 0, &why)) {
    if (in.t == JV_UNDEF || why == NULL) jcheck_undef(c, in);
    jfail(c, "%s", why);
  }
  return jmkstr(&b, 0);
}

static jv f_indent(jctx *c, jv in, jcall *a) {
  jv s = jstr_of(c, in);
  jv w = jarg(a, 0, "width", jv_int(4));
  int first = jv_truthy(jarg(a, 1, "first", jv_bool(0)));
  int blank = jv_truthy(jarg(a, 2, "blank", jv_bool(0)));
  jv ind;
  if (w.t == JV_STR) ind = w;
  else {
    int64_t k = (w.t == JV_INT || w.t == JV_BOOL) ? w.u.i : 4;
    if (k < 0) k = 0;
    if (k > 10000) jfail(c, "indent width too large");
    char *p = ja_alloc(c->a, (size_t)k + 1);
    memset(p, ' ', (size_t)k);
    ind = jv_strn(p, (size_t)k);
  }
  /* s += "\n"; then splitlines */
  jbuf t;
  jb_init(&t, c->a, 0);
  jb_put(&t, s.u.s.p, s.u.s.n);
  jb_putc(&t, '\n');
  jv lines = js_splitlines(c, jv_strn(t.p, t.n), 0);
  jlist *l = lines.u.l;
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  if (first) jb_put(&b, ind.u.s.p, ind.u.s.n);
  for (int64_t i = 0; i < l->n; i++) {
    jv line = l->v[i];
    if (i) {
      jb_putc(&b, '\n');
      if (blank || line.u.s.n) jb_put(&b, ind.u.s.p, ind.u.s.n);
    }
    jb_put(&b, line.u.s.p, line.u.s.n);
  }
  return jmkstr(&b, in.safe);
}

static jv f_truncate(jctx *c, jv in, jcall *a) {
  jv s = jstr_of(c, in);
  int64_t length = jarg_int(c, a, 0, "length", 255);
  int killwords = jv_truthy(jarg(a, 1, "killwords", jv_bool(0)));
  jv end = jstr_of(c, jarg(a, 2, "end", jv_strn("...", 3)));
  int64_t leeway = jarg_int(c, a, 3, "leeway", 5);
  int64_t len = (int64_t)utf8_len(s.u.s.p, s.u.s.n);
  int64_t endlen = (int64_t)utf8_len(end.u.s.p, end.u.s.n);
  if (length < endlen) jfail(c, "expected length >= %lld, got %lld", (long long)endlen, (long long)length);
  if (leeway < 0) jfail(c, "expected leeway >= 0, got %lld", (long long)leeway);
  if (len <= length + leeway) return s;
  size_t cut = utf8_offset(s.u.s.p, s.u.s.n, length - endlen);
  jv head = jv_strn(s.u.s.p, cut);
  if (!killwords) {
    const char *sp = js_memrfind(head.u.s.p, head.u.s.n, " ", 1);
    if (sp) head.u.s.n = (size_t)(sp - head.u.s.p);
  }
  jbuf b;
  jb_init(&b, c->a, 0);
  jb_put(&b, head.u.s.p, head.u.s.n);
  jb_put(&b, end.u.s.p, end.u.s.n);
  return jmkstr(&b, 0);
}

static jv f_striptags(jctx *c, jv in) {
  jv s = jstr_of(c, in);
  jbuf t;
  jb_init(&t, c->a, 0);
  const char *p = s.u.s.p;
  size_t n = s.u.s.n;
  for (size_t i = 0; i < n;) {
    if (p[i] == '<' && i + 3 < n && !memcmp(p + i, "<!--", 4)) {
      const char *e = js_memfind(p + i + 4, n - i - 4, "-->", 3);
      if (e) {
        i = (size_t)(e - p) + 3;
        continue;
      }
    }
    if (p[i] == '<') {
      const char *e = memchr(p + i + 1, '>', n - i - 1);
      if (e && e > p + i + 1) {
        i = (size_t)(e - p) + 1;
        continue;
      }
    }
    jb_putc(&t, p[i++]);
  }
  /* collapse whitespace, then unescape the common entities */
  jbuf b;
  jb_init(&b, c->a, 0);
  int pend = 0;
  for (size_t i = 0; i < t.n; i++) {
    char ch = t.p[i];
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
      pend = b.n > 0;
      continue;
    }
    if (pend) jb_putc(&b, ' ');
    pend = 0;
    static const struct {
      const char *e, *r;
    } ents[] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#34;", "\""}, {"&#39;", "'"}, {"&nbsp;", "\xc2\xa0"}};
    int done = 0;
    if (ch == '&')
      for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
        size_t el = strlen(ents[k].e);
        if (i + el <= t.n && !memcmp(t.p + i, ents[k].e, el)) {
          jb_puts(&b, ents[k].r);
          i += el - 1;
          done = 1;
          break;
        }
      }
    if (!done) jb_putc(&b, ch);
  }
  return jmkstr(&b, 0);
}

static jv num_of(jctx *c, jv v, int want_int, jv dflt, int base) {
  if (v.t == JV_INT || v.t == JV_BOOL) return want_int ? jv_int(v.u.i) : jv_float((double)v.u.i);
  if (v.t == JV_FLOAT) {
    if (!want_int) return v;
    if (isnan(v.u.f) || isinf(v.u.f) || fabs(v.u.f) >= 9.2e18) return dflt;
    return jv_int((int64_t)v.u.f);
  }
  if (v.t == JV_STR) {
    char buf[128];
    size_t k = 0;
    /* Python's int()/float(): surrounding whitespace, underscores between digits */
    for (size_t i = 0; i < v.u.s.n && k < sizeof buf - 1; i++)
      if (v.u.s.p[i] != '_') buf[k++] = v.u.s.p[i];
    buf[k] = 0;
    char *s = buf;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
    if (!*s || v.u.s.n >= sizeof buf - 1) return dflt;
    char *end;
    if (want_int) {
      long long x = strtoll(s, &end, base);
      if (*end == 0) return jv_int(x);
      double f = strtod(s, &end);
      if (*end == 0 && isfinite(f) && fabs(f) < 9.2e18) return jv_int((int64_t)f);
      return dflt;
    }
    double f = strtod(s, &end);
    if (*end == 0) return jv_float(f);
    return dflt;
  }
  (void)c;
  return dflt;
}

static jv f_round(jctx *c, jv in, jcall *a) {
  int64_t prec = jarg_int(c, a, 0, "precision", 0);
  jv method = jarg(a, 1, "method", jv_strn("common", 6));
  if (!jv_is_num(in)) jfail(c, "type %s doesn't define __round__ method", jv_type_name(in));
  double x = in.t == JV_FLOAT ? in.u.f : (double)in.u.i;
  if (prec > 300) prec = 300;
  if (prec < -300) prec = -300;
  if (method.t == JV_STR && method.u.s.n == 6 && !memcmp(method.u.s.p, "common", 6)) {
    if (in.t != JV_FLOAT) {
      if (prec >= 0) return jv_int(in.u.i);
      double p = pow(10.0, (double)-prec);
      return jv_int((int64_t)(nearbyint((double)in.u.i / p) * p));
    }
    if (!isfinite(x)) return in;
    if (prec >= 0) {
      char buf[400];
      snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
      return jv_float(strtod(buf, NULL));
    }
    double p = pow(10.0, (double)-prec);
    return jv_float(nearbyint(x / p) * p);
  }
  double p = pow(10.0, (double)prec);
  if (method.t == JV_STR && method.u.s.n == 4 && !memcmp(method.u.s.p, "ceil", 4)) return jv_float(ceil(x * p) / p);
  if (method.t == JV_STR && method.u.s.n == 5 && !memcmp(method.u.s.p, "floor", 5)) return jv_float(floor(x * p) / p);
  jfail(c, "method must be common, ceil or floor");
}

static jv gen(jv v, int kind) {
  v.unsafe = (uint8_t)kind;
  return v;
}

static int64_t seq_len(jctx *c, jv v) {
  if (v.t == JV_LIST && v.unsafe >= JV_GEN) jfail(c, "object of type '%s' has no len()", jv_type_name(v));
  switch (v.t) {
  case JV_STR: return (int64_t)utf8_len(v.u.s.p, v.u.s.n);
  case JV_LIST:
  case JV_TUPLE: return v.u.l->n;
  case JV_DICT:
  case JV_NS: return v.u.d->n;
  case JV_UNDEF: return 0;
  default: jfail(c, "object of type '%s' has no len()", jv_type_name(v));
  }
}

/* select/reject/selectattr/rejectattr */
static jv f_select(jctx *c, jv in, jcall *a, int want, int by_attr) {
  jv items = jv_truthy(in) ? jiter_list(c, in) : jv_list(jl_new(c->a, 0));
  int ai = 0;
  jv attr = jv_undef();
  if (by_attr) {
    if (a->npos < 1) jfail(c, "Missing parameter for attribute name");
    attr = a->pos[ai++];
  }
  const char *test = NULL;
  if (a->npos > ai) {
    jv t = a->pos[ai++];
    if (t.t != JV_STR) jfail(c, "test name must be a string");
    test = ja_strndup(c->a, t.u.s.p, t.u.s.n);
    if (!jtest_exists(test)) jfail(c, "No test named '%s'.", test);
  }
  jcall rest = {a->pos + ai, a->npos - ai, a->kwn, a->kwv, a->nkw};
  jlist *out = jl_new(c->a, items.u.l->n);
  for (int64_t i = 0; i < items.u.l->n; i++) {
    jstep(c);
    jv it = items.u.l->v[i];
    jv probe = by_attr ? attr_path(c, it, attr) : it;
    int ok = test ? jtest_apply(c, test, probe, &rest) : jv_truthy(probe);
    if (ok == want) jl_push(c->a, out, it);
  }
  return gen(jv_list(out), JV_GEN);
}

static jv f_map(jctx *c, jv in, jcall *a) {
  jv items = jv_truthy(in) ? jiter_list(c, in) : jv_list(jl_new(c->a, 0));
  jlist *out = jl_new(c->a, items.u.l->n);
  if (jarg_has(a, -1, "attribute")) {
    jv attr = jarg(a, -1, "attribute", jv_undef());
    int has_d = jarg_has(a, -1, "default");
    jv d = jarg(a, -1, "default", jv_undef());
    for (int64_t i = 0; i < items.u.l->n; i++) {
      jstep(c);
      jv v = attr_path(c, items.u.l->v[i], attr);
      if (has_d && v.t == JV_UNDEF) v = d;
      jl_push(c->a, out, v);
    }
    return gen(jv_list(out), JV_GEN);
  }
  if (a->npos < 1) return gen(jv_list(out), JV_GEN);
  jv fname = a->pos[0];
  if (fname.t != JV_STR) jfail(c, "map: filter name must be a string");
  const char *f = ja_strndup(c->a, fname.u.s.p, fname.u.s.n);
  if (!jfilter_exists(f)) jfail(c, "No filter named '%s'.", f);
  jcall rest = {a->pos + 1, a->npos - 1, a->kwn, a->kwv, a->nkw};
  for (int64_t i = 0; i < items.u.l->n; i++) {
    jstep(c);
    jl_push(c->a, out, jfilter_apply(c, f, items.u.l->v[i], &rest));
  }
  return gen(jv_list(out), JV_GEN);
}

static jv f_minmax(jctx *c, jv in, jcall *a, int want_max) {
  jv items = jiter_list(c, in);
  sort_ud u = {0};
  u.case_sensitive = jv_truthy(jarg(a, 0, "case_sensitive", jv_bool(0)));
  u.has_attr = jarg_has(a, 1, "attribute") && jarg(a, 1, "attribute", jv_none()).t != JV_NONE;
  u.attr = jarg(a, 1, "attribute", jv_none());
  if (items.u.l->n == 0) return jv_undef_msg(c->a, "No aggregated item, sequence was empty.");
  jv best = items.u.l->v[0];
  for (int64_t i = 1; i < items.u.l->n; i++) {
    int r = cmp_sort(c, items.u.l->v[i], best, &u);
    if (want_max ? r > 0 : r < 0) best = items.u.l->v[i];
  }
  return best;
}

static jv f_groupby(jctx *c, jv in, jcall *a) {
  jv attr = jarg(a, 0, "attribute", jv_undef());
  jv dflt = jarg(a, 1, "default", jv_none());
  int has_d = jarg_has(a, 1, "default");
  int cs = jv_truthy(jarg(a, 2, "case_sensitive", jv_bool(0)));
  jv items = jcopy_list(c, in);
  jlist *l = items.u.l;
  /* key per item */
  jv *keys = ja_alloc(c->a, (size_t)(l->n + 1) * sizeof(jv));
  jv *pairs = ja_alloc(c->a, (size_t)(l->n + 1) * sizeof(jv));
  for (int64_t i = 0; i < l->n; i++) {
    jv k = attr_path(c, l->v[i], attr);
    if (has_d && k.t == JV_UNDEF) k = dflt;
    jlist *p = jl_new(c->a, 3);
    p->v[0] = fold(c, k, cs);
    p->v[1] = l->v[i];
    p->v[2] = k;
    p->n = 3;
    pairs[i] = jv_tuple(p);
  }
  sort_ud u = {0};
  u.case_sensitive = 1;
  u.by_value = 0;
  jv_sort(c, pairs, l->n, cmp_dictsort, &u);
  (void)keys;
  jlist *out = jl_new(c->a, 4);
  for (int64_t i = 0; i < l->n;) {
    jlist *grp = jl_new(c->a, 4);
    int64_t j = i;
    while (j < l->n && jv_eq(pairs[j].u.l->v[0], pairs[i].u.l->v[0])) jl_push(c->a, grp, pairs[j++].u.l->v[1]);
    jlist *gt = jl_new(c->a, 2);
    gt->v[0] = cs ? pairs[i].u.l->v[0] : pairs[i].u.l->v[2];
    gt->v[1] = jv_list(grp);
    gt->n = 2;
    jv t = jv_tuple(gt);
    t.unsafe = 2; /* a _GroupTuple: .grouper and .list */
    jl_push(c->a, out, t);
    i = j;
  }
  return jv_list(out);
}

static const char *const FILTERS[] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "default", "d", "dictsort", "escape", "e",
    "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "join", "last", "length",
    "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate",
    "unique", "upper", "wordcount", NULL};

int jfilter_exists(const char *name) {
  for (int i = 0; FILTERS[i]; i++)
    if (!strcmp(FILTERS[i], name)) return 1;
  return 0;
}

jv jfilter_apply(jctx *c, const char *f, jv in, jcall *a) {
#define F(x) (!strcmp(f, x))
  jstep(c);
  if (F("default") || F("d")) {
    jv d = jarg(a, 0, "default_value", jv_strn("", 0));
    int boolean = jv_truthy(jarg(a, 1, "boolean", jv_bool(0)));
    if (in.t == JV_UNDEF || (boolean && !jv_truthy(in))) return d;
    return in;
  }
  if (F("length") || F("count")) return jv_int(seq_len(c, in));
  if (F("safe")) {
    jv s = jstr_of(c, in);
    s.safe = 1;
    return s;
  }
  if (F("escape") || F("e") || F("forceescape")) {
    if (F("forceescape") && in.t == JV_STR) in.safe = 0;
    return jhtml_escape(c, in);
  }
  if (F("string")) return jstr_of(c, in);
  if (F("tojson")) return f_tojson(c, in, a);
  if (F("list")) return jcopy_list(c, in);
  if (F("items")) {
    if (in.t == JV_UNDEF) return jv_list(jl_new(c->a, 0));
    if (in.t != JV_DICT) jfail(c, "Can only get item pairs from a mapping.");
    return gen(jitems_of(c, in.u.d), JV_GEN);
  }
  if (F("first")) {
    jv l = jiter_list(c, in);
    if (l.u.l->n == 0) return jv_undef_msg(c->a, "No first item, sequence was empty.");
    return l.u.l->v[0];
  }
  if (F("last")) {
    if (in.t == JV_LIST && in.unsafe >= JV_GEN) jfail(c, "'%s' object is not reversible", jv_type_name(in));
    jv l = jiter_list(c, in);
    if (l.u.l->n == 0) return jv_undef_msg(c->a, "No last item, sequence was empty.");
    return l.u.l->v[l.u.l->n - 1];
  }
  if (F("join")) {
    jv items = jiter_list(c, in);
    jv sep = jstr_of(c, jarg(a, 0, "d", jv_strn("", 0)));
    int has_attr = jarg_has(a, 1, "attribute");
    jv attr = jarg(a, 1, "attribute", jv_none());
    jbuf b;
    jb_init(&b, c->a, c->o->max_output);
    for (int64_t i = 0; i < items.u.l->n; i++) {
      if (i) jb_put(&b, sep.u.s.p, sep.u.s.n);
      jv it = items.u.l->v[i];
      if (has_attr && attr.t != JV_NONE) it = attr_path(c, it, attr);
      jv_to_str(&b, it);
    }
    return jmkstr(&b, 0);
  }
  if (F("upper") || F("lower") || F("capitalize") || F("title") || F("trim") || F("center") || F("wordcount") ||
      F("striptags") || F("replace") || F("truncate") || F("indent")) {
    if (in.t == JV_UNDEF) in = jv_strn("", 0);
    jv s = jstr_of(c, in);
    if (F("upper")) return js_upper(c, s);
    if (F("lower")) return js_lower(c, s);
    if (F("capitalize")) return js_capitalize(c, s);
    if (F("title")) return js_jinja_title(c, s);
    if (F("trim")) return js_strip(c, s, jarg(a, 0, "chars", jv_none()), 1, 1);
    if (F("center")) return js_pad(c, s, jarg_int(c, a, 0, "width", 80), jv_undef(), 0);
    if (F("striptags")) return f_striptags(c, s);
    if (F("truncate")) return f_truncate(c, s, a);
    if (F("indent")) return f_indent(c, s, a);
    if (F("replace")) {
      if (a->npos < 2) jfail(c, "replace filter needs old and new");
      jv r = js_replace(c, s, jstr_of(c, a->pos[0]), jstr_of(c, a->pos[1]), jarg_int(c, a, 2, "count", -1));
      return r;
    }
    /* wordcount: runs of word characters */
    int64_t k = 0;
    int inword = 0;
    size_t i = 0;
    while (i < s.u.s.n) {
      size_t adv;
      uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
      int w = uc_isalnum(cp) || cp == '_';
      if (w && !inword) k++;
      inword = w;
      i += adv;
    }
    return jv_int(k);
  }
  if (F("int")) {
    jv d = jarg(a, 0, "default", jv_int(0));
    return num_of(c, in, 1, d, (int)jarg_int(c, a, 1, "base", 10));
  }
  if (F("float")) return num_of(c, in, 0, jarg(a, 0, "default", jv_float(0.0)), 10);
  if (F("abs")) {
    if (in.t == JV_FLOAT) return jv_float(fabs(in.u.f));
    if (in.t == JV_INT || in.t == JV_BOOL) {
      if (in.u.i == INT64_MIN) jfail(c, "integer overflow in abs");
      return jv_int(in.u.i < 0 ? -in.u.i : in.u.i);
    }
    jfail(c, "bad operand type for abs(): '%s'", jv_type_name(in));
  }
  if (F("round")) return f_round(c, in, a);
  if (F("reverse")) {
    if (in.t == JV_STR) {
      jbuf b;
      jb_init(&b, c->a, 0);
      size_t e = in.u.s.n;
      while (e > 0) {
        size_t k = e - 1;
        while (k > 0 && ((unsigned char)in.u.s.p[k] & 0xC0) == 0x80) k--;
        jb_put(&b, in.u.s.p + k, e - k);
        e = k;
      }
      return jmkstr(&b, 0);
    }
    jv l = jcopy_list(c, in);
    for (int64_t i = 0, j = l.u.l->n - 1; i < j; i++, j--) {
      jv t = l.u.l->v[i];
      l.u.l->v[i] = l.u.l->v[j];
      l.u.l->v[j] = t;
    }
    /* reversed(list) is an iterator; a generator is listed first */
    return (in.t == JV_LIST && in.unsafe < JV_GEN) ? gen(l, JV_REVITER) : l;
  }
  if (F("sort")) {
    jv l = jcopy_list(c, in);
    sort_ud u = {0};
    u.reverse = jv_truthy(jarg(a, 0, "reverse", jv_bool(0)));
    u.case_sensitive = jv_truthy(jarg(a, 1, "case_sensitive", jv_bool(0)));
    u.attr = jarg(a, 2, "attribute", jv_none());
    u.has_attr = u.attr.t != JV_NONE;
    jv_sort(c, l.u.l->v, l.u.l->n, cmp_sort, &u);
    return l;
  }
  if (F("dictsort")) {
    if (in.t != JV_DICT) jfail(c, "You can only sort by either \"key\" or \"value\"");
    jv l = jitems_of(c, in.u.d);
    sort_ud u = {0};
    u.case_sensitive = jv_truthy(jarg(a, 0, "case_sensitive", jv_bool(0)));
    jv by = jarg(a, 1, "by", jv_strn("key", 3));
    if (by.t == JV_STR && by.u.s.n == 5 && !memcmp(by.u.s.p, "value", 5)) u.by_value = 1;
    else if (!(by.t == JV_STR && by.u.s.n == 3 && !memcmp(by.u.s.p, "key", 3)))
      jfail(c, "You can only sort by either \"key\" or \"value\"");
    u.reverse = jv_truthy(jarg(a, 2, "reverse", jv_bool(0)));
    jv_sort(c, l.u.l->v, l.u.l->n, cmp_dictsort, &u);
    return l;
  }
  if (F("unique")) {
    jv items = jiter_list(c, in);
    int cs = jv_truthy(jarg(a, 0, "case_sensitive", jv_bool(0)));
    jv attr = jarg(a, 1, "attribute", jv_none());
    jlist *out = jl_new(c->a, items.u.l->n);
    jlist *seen = jl_new(c->a, items.u.l->n);
    for (int64_t i = 0; i < items.u.l->n; i++) {
      jstep(c);
      jv it = items.u.l->v[i];
      jv k = fold(c, attr.t != JV_NONE ? attr_path(c, it, attr) : it, cs);
      int dup = 0;
      for (int64_t j = 0; j < seen->n && !dup; j++) dup = jv_eq(seen->v[j], k);
      if (!dup) {
        jl_push(c->a, seen, k);
        jl_push(c->a, out, it);
      }
    }
    return gen(jv_list(out), JV_GEN);
  }
  if (F("min") || F("max")) return f_minmax(c, in, a, F("max"));
  if (F("sum")) {
    jv items = jiter_list(c, in);
    jv attr = jarg(a, 0, "attribute", jv_none());
    jv acc = jarg(a, 1, "start", jv_int(0));
    for (int64_t i = 0; i < items.u.l->n; i++) {
      jv it = items.u.l->v[i];
      if (attr.t != JV_NONE) it = attr_path(c, it, attr);
      acc = jv_binop(c, OP_ADD, acc, it);
    }
    return acc;
  }
  if (F("map")) return f_map(c, in, a);
  if (F("select")) return f_select(c, in, a, 1, 0);
  if (F("reject")) return f_select(c, in, a, 0, 0);
  if (F("selectattr")) return f_select(c, in, a, 1, 1);
  if (F("rejectattr")) return f_select(c, in, a, 0, 1);
  if (F("attr")) {
    jv name = jstr_of(c, jarg(a, 0, "name", jv_undef()));
    if (in.t == JV_DICT) {
      jv m;
      if (jmethod_lookup(c, in, name.u.s.p, name.u.s.n, &m)) return m;
      return jv_undef_msg(c->a, "'dict object' has no attribute '%.*s'", (int)name.u.s.n, name.u.s.p);
    }
    return jv_getattr(c, in, name.u.s.p, name.u.s.n);
  }
  if (F("batch") || F("slice")) {
    jv items = jiter_list(c, in);
    int64_t k = jarg_int(c, a, 0, F("batch") ? "linecount" : "slices", 1);
    int has_fill = jarg_has(a, 1, "fill_with") && jarg(a, 1, "fill_with", jv_none()).t != JV_NONE;
    jv fill = jarg(a, 1, "fill_with", jv_none());
    int64_t n = items.u.l->n;
    jlist *out = jl_new(c->a, 4);
    if (F("batch")) {
      if (k <= 0) jfail(c, "batch size must be positive");
      jlist *cur = NULL;
      for (int64_t i = 0; i < n; i++) {
        if (!cur || cur->n == k) {
          cur = jl_new(c->a, k < 64 ? k : 64);
          jl_push(c->a, out, jv_list(cur));
        }
        jl_push(c->a, cur, items.u.l->v[i]);
      }
      if (cur && has_fill)
        while (cur->n < k) jl_push(c->a, cur, fill);
      return gen(jv_list(out), JV_GEN);
    }
    if (k <= 0) jfail(c, "slices must be positive");
    if (k > 100000) jfail(c, "too many slices");
    int64_t per = n / k, extra = n % k, offset = 0;
    for (int64_t s = 0; s < k; s++) {
      int64_t start = offset + s * per;
      if (s < extra) offset++;
      int64_t end = offset + (s + 1) * per;
      jlist *tmp = jl_new(c->a, end - start + 1);
      for (int64_t i = start; i < end; i++) jl_push(c->a, tmp, items.u.l->v[i]);
      if (has_fill && s >= extra) jl_push(c->a, tmp, fill);
      jl_push(c->a, out, jv_list(tmp));
    }
    return gen(jv_list(out), JV_GEN);
  }
  if (F("format")) {
    jv s = jstr_of(c, in);
    jv args;
    if (a->nkw) {
      jdict *d = jd_new(c->a, a->nkw);
      for (int i = 0; i < a->nkw; i++) jd_set(c->a, d, jv_str(c->a, a->kwn[i]), a->kwv[i]);
      args = jv_dict(d);
    } else {
      jlist *l = jl_new(c->a, a->npos);
      for (int i = 0; i < a->npos; i++) jl_push(c->a, l, a->pos[i]);
      args = jv_tuple(l);
    }
    return jstr_percent(c, s, args);
  }
  if (F("groupby")) return f_groupby(c, in, a);
#undef F
  jfail(c, "No filter named '%s'.", f);
}

/* ------------------------------------------------------------ tests */

static const char *const TESTS[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
    "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt",
    "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test",
    "true", "undefined", "upper", NULL};

int jtest_exists(const char *name) {
  for (int i = 0; TESTS[i]; i++)
    if (!strcmp(TESTS[i], name)) return 1;
  return 0;
}

int jtest_apply(jctx *c, const char *t, jv v, jcall *a) {
#define T(x) (!strcmp(t, x))
  if (T("defined")) return v.t != JV_UNDEF;
  if (T("undefined")) return v.t == JV_UNDEF;
  if (T("none")) return v.t == JV_NONE;
  if (T("boolean")) return v.t == JV_BOOL;
  if (T("true")) return v.t == JV_BOOL && v.u.i;
  if (T("false")) return v.t == JV_BOOL && !v.u.i;
  if (T("string")) return v.t == JV_STR;
  if (T("number")) return jv_is_num(v);
  if (T("integer")) return v.t == JV_INT;
  if (T("float")) return v.t == JV_FLOAT;
  if (T("mapping")) return v.t == JV_DICT;
  if (T("iterable")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_TUPLE || v.t == JV_DICT || v.t == JV_UNDEF;
  if (T("sequence")) return v.t == JV_STR || v.t == JV_LIST || v.t == JV_TUPLE || v.t == JV_DICT || v.t == JV_UNDEF;
  if (T("callable")) return v.t == JV_FUNC || v.t == JV_MACRO || (v.t == JV_LOOP && v.u.lp->node->op);
  if (T("escaped")) return v.t == JV_STR && v.safe;
  if (T("filter")) return v.t == JV_STR && jfilter_exists(ja_strndup(c->a, v.u.s.p, v.u.s.n));
  if (T("test")) return v.t == JV_STR && jtest_exists(ja_strndup(c->a, v.u.s.p, v.u.s.n));
  if (T("lower") || T("upper")) {
    jv s = jstr_of(c, v);
    jcall none = {0};
    return jv_truthy(js_str_method(c, s, T("lower") ? "islower" : "isupper", &none));
  }
  if (T("odd") || T("even") || T("divisibleby")) {
    jcheck_undef(c, v);
    if (!jv_is_num(v)) jfail(c, "unsupported operand type(s) for %%: '%s' and 'int'", jv_type_name(v));
    jv d = T("divisibleby") ? jarg(a, 0, "num", jv_undef()) : jv_int(2);
    jv m = jv_binop(c, OP_MOD, v, d);
    int zero = !jv_truthy(m);
    return T("odd") ? !zero : zero;
  }
  jv other = jarg(a, 0, NULL, jv_undef());
  if (!a->npos && !a->nkw) jfail(c, "test '%s' needs an argument", t);
  if (a->nkw && !a->npos) other = a->kwv[0];
  if (T("eq") || T("equalto") || T("==")) return jv_eq(v, other);
  if (T("ne") || T("!=")) return !jv_eq(v, other);
  if (T("lt") || T("lessthan") || T("<")) return jv_cmp(c, v, other) < 0;
  if (T("le") || T("<=")) return jv_cmp(c, v, other) <= 0;
  if (T("gt") || T("greaterthan") || T(">")) return jv_cmp(c, v, other) > 0;
  if (T("ge") || T(">=")) return jv_cmp(c, v, other) >= 0;
  if (T("in")) return jv_contains(c, other, v);
  if (T("sameas")) {
    if (v.t != other.t) return 0;
    if (v.t == JV_NONE || v.t == JV_UNDEF) return 1;
    if (v.t == JV_BOOL || v.t == JV_INT) return v.u.i == other.u.i;
    return memcmp(&v.u, &other.u, sizeof v.u) == 0;
  }
#undef T
  jfail(c, "No test named '%s'.", t);
}
