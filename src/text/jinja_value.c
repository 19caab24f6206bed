/* jinja_value.c — Python-compatible values for the Jinja engine: lists and
 * insertion-ordered dicts, truthiness, ==, str()/repr() exactly as Python
 * prints them (templates print lists and floats), json.loads/json.dumps as
 * HF's tojson uses them, and small UTF-8 / case-mapping helpers.
 *
 * The JSON reader is written here rather than taken from cJSON because
 * Python keeps 1 and 1.0 apart (templates print them differently) and cJSON
 * stores every number as a double. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

/* ------------------------------------------------------------ constructors */

jv jv_strcopy(jarena *a, const char *p, size_t n) { return jv_strn(ja_strndup(a, p, n), n); }
jv jv_str(jarena *a, const char *s) { return jv_strcopy(a, s, strlen(s)); }

jv jv_undef_msg(jarena *a, const char *fmt, ...) {
  char tmp[400];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  jv v = jv_undef();
  v.u.s.p = ja_strndup(a, tmp, (size_t)n);
  v.u.s.n = (size_t)n;
  return v;
}

jlist *jl_new(jarena *a, int64_t cap) {
  jlist *l = ja_alloc(a, sizeof *l);
  if (cap < 4) cap = 4;
  l->v = ja_alloc(a, (size_t)cap * sizeof(jv));
  l->cap = cap;
  return l;
}

void jl_push(jarena *a, jlist *l, jv v) {
  if (l->n == l->cap) {
    int64_t cap = l->cap * 2;
    jv *nv = ja_alloc(a, (size_t)cap * sizeof(jv));
    memcpy(nv, l->v, (size_t)l->n * sizeof(jv));
    l->v = nv;
    l->cap = cap;
  }
  l->v[l->n++] = v;
}

jv jv_list(jlist *l) {
  jv v = {0};
  v.t = JV_LIST;
  v.u.l = l;
  return v;
}
jv jv_tuple(jlist *l) {
  jv v = {0};
  v.t = JV_TUPLE;
  v.u.l = l;
  return v;
}
jv jv_dict(jdict *d) {
  jv v = {0};
  v.t = JV_DICT;
  v.u.d = d;
  return v;
}

jdict *jd_new(jarena *a, int64_t cap) {
  jdict *d = ja_alloc(a, sizeof *d);
  if (cap < 4) cap = 4;
  d->k = ja_alloc(a, (size_t)cap * sizeof(jv));
  d->v = ja_alloc(a, (size_t)cap * sizeof(jv));
  d->cap = cap;
  return d;
}

/* Dict keys compare as Python hashes them: 1, 1.0 and True are one key. */
static int key_eq(jv a, jv b) {
  if (a.t == JV_STR && b.t == JV_STR) return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
  return jv_eq(a, b);
}

int jd_find(const jdict *d, jv k) {
  for (int64_t i = 0; i < d->n; i++)
    if (key_eq(d->k[i], k)) return (int)i;
  return -1;
}

int jd_find_str(const jdict *d, const char *k, size_t n) {
  for (int64_t i = 0; i < d->n; i++)
    if (d->k[i].t == JV_STR && d->k[i].u.s.n == n && memcmp(d->k[i].u.s.p, k, n) == 0) return (int)i;
  return -1;
}

void jd_set(jarena *a, jdict *d, jv k, jv v) {
  int i = jd_find(d, k);
  if (i >= 0) {
    d->v[i] = v;
    return;
  }
  if (d->n == d->cap) {
    int64_t cap = d->cap * 2;
    jv *nk = ja_alloc(a, (size_t)cap * sizeof(jv));
    jv *nv = ja_alloc(a, (size_t)cap * sizeof(jv));
    memcpy(nk, d->k, (size_t)d->n * sizeof(jv));
    memcpy(nv, d->v, (size_t)d->n * sizeof(jv));
    d->k = nk;
    d->v = nv;
    d->cap = cap;
  }
  d->k[d->n] = k;
  d->v[d->n] = v;
  d->n++;
}

/* ------------------------------------------------------------ semantics */

int jv_truthy(jv v) {
  switch (v.t) {
  case JV_UNDEF:
  case JV_NONE: return 0;
  case JV_BOOL:
  case JV_INT: return v.u.i != 0;
  case JV_FLOAT: return v.u.f != 0.0;
  case JV_STR: return v.u.s.n != 0;
  case JV_LIST:
  case JV_TUPLE: return v.unsafe >= JV_GEN || v.u.l->n != 0;
  case JV_DICT: return v.u.d->n != 0;
  default: return 1;
  }
}

int jv_eq(jv a, jv b) {
  if (jv_is_num(a) && jv_is_num(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) return a.u.i == b.u.i;
    double x = a.t == JV_FLOAT ? a.u.f : (double)a.u.i;
    double y = b.t == JV_FLOAT ? b.u.f : (double)b.u.i;
    return x == y;
  }
  if (a.t != b.t) return 0;
  if ((a.t == JV_LIST && a.unsafe >= JV_GEN) || (b.t == JV_LIST && b.unsafe >= JV_GEN)) return a.u.l == b.u.l;
  switch (a.t) {
  case JV_UNDEF:
  case JV_NONE: return 1;
  case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
  case JV_LIST:
  case JV_TUPLE:
    if (a.u.l == b.u.l) return 1;
    if (a.u.l->n != b.u.l->n) return 0;
    for (int64_t i = 0; i < a.u.l->n; i++)
      if (!jv_eq(a.u.l->v[i], b.u.l->v[i])) return 0;
    return 1;
  case JV_DICT:
    if (a.u.d == b.u.d) return 1;
    if (a.u.d->n != b.u.d->n) return 0;
    for (int64_t i = 0; i < a.u.d->n; i++) {
      int j = jd_find(b.u.d, a.u.d->k[i]);
      if (j < 0 || !jv_eq(a.u.d->v[i], b.u.d->v[j])) return 0;
    }
    return 1;
  case JV_NS: return a.u.d == b.u.d;
  case JV_FUNC: return a.u.fn == b.u.fn;
  case JV_MACRO: return a.u.m == b.u.m;
  case JV_LOOP: return a.u.lp == b.u.lp;
  default: return 0;
  }
}

const char *jv_type_name(jv v) {
  switch (v.t) {
  case JV_UNDEF: return "Undefined";
  case JV_NONE: return "NoneType";
  case JV_BOOL: return "bool";
  case JV_INT: return "int";
  case JV_FLOAT: return "float";
  case JV_STR: return v.safe ? "Markup" : "str";
  case JV_LIST: return v.unsafe == JV_GEN ? "generator" : v.unsafe == JV_REVITER ? "list_reverseiterator" : "list";
  case JV_TUPLE: return "tuple";
  case JV_DICT: return "dict";
  case JV_NS: return "Namespace";
  case JV_FUNC: return "builtin_function_or_method";
  case JV_MACRO: return "Macro";
  case JV_LOOP: return "LoopContext";
  }
  return "object";
}

/* ------------------------------------------------------------ printing */

void py_float_repr(char *out, size_t cap, double f) {
  if (isnan(f)) {
    snprintf(out, cap, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(out, cap, f < 0 ? "-inf" : "inf");
    return;
  }
  /* shortest round-tripping digits, then Python's layout rules */
  char e[40];
  int prec;
  for (prec = 0; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec, f);
    if (strtod(e, NULL) == f) break;
  }
  /* e = [-]d[.ddd]e[+-]XX */
  const char *s = e;
  int neg = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  char digits[32];
  int nd = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9') digits[nd++] = *s;
  int exp10 = atoi(s + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int decpt = exp10 + 1; /* position of the decimal point after digit 0 */
  char buf[64];
  size_t k = 0;
  if (neg) buf[k++] = '-';
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      buf[k++] = '0';
      buf[k++] = '.';
      for (int i = 0; i < -decpt; i++) buf[k++] = '0';
      for (int i = 0; i < nd; i++) buf[k++] = digits[i];
    } else {
      for (int i = 0; i < decpt; i++) buf[k++] = i < nd ? digits[i] : '0';
      buf[k++] = '.';
      if (nd > decpt)
        for (int i = decpt; i < nd; i++) buf[k++] = digits[i];
      else
        buf[k++] = '0';
    }
    buf[k] = 0;
  } else {
    buf[k++] = digits[0];
    if (nd > 1) {
      buf[k++] = '.';
      for (int i = 1; i < nd; i++) buf[k++] = digits[i];
    }
    int x = decpt - 1;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
  }
  snprintf(out, cap, "%s", buf);
}

/* Code points Python's str.isprintable() rejects (so repr escapes them),
 * for the ranges that occur in text. */
static int py_nonprintable(uint32_t c) {
  if (c < 0x20 || c == 0x7f) return 1;
  if (c >= 0x80 && c <= 0xa0) return 1;
  if (c == 0xad) return 1;
  if ((c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f)) return 1;
  if (c == 0x3000 || c == 0xfeff || c == 0x1680 || c == 0x180e) return 1;
  if (c >= 0xfff9 && c <= 0xfffb) return 1;
  if (c >= 0xe000 && c <= 0xf8ff) return 1; /* private use */
  if (c >= 0xf0000) return 1;
  return 0;
}

static void repr_str(jbuf *b, const char *p, size_t n) {
  int has_sq = memchr(p, '\'', n) != NULL, has_dq = memchr(p, '"', n) != NULL;
  char q = (has_sq && !has_dq) ? '"' : '\'';
  jb_putc(b, q);
  size_t i = 0;
  while (i < n) {
    size_t adv;
    uint32_t c = utf8_decode(p + i, n - i, &adv);
    if (c == (uint32_t)q || c == '\\') {
      jb_putc(b, '\\');
      jb_putc(b, (char)c);
    } else if (c == '\n') {
      jb_puts(b, "\\n");
    } else if (c == '\r') {
      jb_puts(b, "\\r");
    } else if (c == '\t') {
      jb_puts(b, "\\t");
    } else if (py_nonprintable(c)) {
      if (c < 0x100) jb_printf(b, "\\x%02x", c);
      else if (c < 0x10000) jb_printf(b, "\\u%04x", c);
      else jb_printf(b, "\\U%08x", c);
    } else {
      jb_put(b, p + i, adv);
    }
    i += adv;
  }
  jb_putc(b, q);
}

static void repr_depth(jbuf *b, jv v, int depth);

static void str_depth(jbuf *b, jv v, int depth) {
  char tmp[64];
  switch (v.t) {
  case JV_UNDEF: return;
  case JV_NONE: jb_puts(b, "None"); return;
  case JV_BOOL: jb_puts(b, v.u.i ? "True" : "False"); return;
  case JV_INT: jb_printf(b, "%lld", (long long)v.u.i); return;
  case JV_FLOAT: py_float_repr(tmp, sizeof tmp, v.u.f); jb_puts(b, tmp); return;
  case JV_STR: jb_put(b, v.u.s.p, v.u.s.n); return;
  default: repr_depth(b, v, depth);
  }
}

static void repr_depth(jbuf *b, jv v, int depth) {
  if (depth > 200) jerr_throw(b->a->err, JERR_RUNTIME, 0, 0, "maximum recursion depth exceeded while getting the repr of an object");
  switch (v.t) {
  case JV_UNDEF: jb_puts(b, "Undefined"); return;
  case JV_STR:
    if (v.safe) {
      jb_puts(b, "Markup(");
      repr_str(b, v.u.s.p, v.u.s.n);
      jb_putc(b, ')');
    } else {
      repr_str(b, v.u.s.p, v.u.s.n);
    }
    return;
  case JV_LIST:
  case JV_TUPLE: {
    if (v.unsafe >= JV_GEN) {
      jb_printf(b, "<%s object>", jv_type_name(v));
      return;
    }
    jb_putc(b, v.t == JV_LIST ? '[' : '(');
    for (int64_t i = 0; i < v.u.l->n; i++) {
      if (i) jb_puts(b, ", ");
      repr_depth(b, v.u.l->v[i], depth + 1);
    }
    if (v.t == JV_TUPLE && v.u.l->n == 1) jb_putc(b, ',');
    jb_putc(b, v.t == JV_LIST ? ']' : ')');
    return;
  }
  case JV_DICT:
  case JV_NS: {
    if (v.t == JV_NS) jb_puts(b, "<Namespace ");
    jb_putc(b, '{');
    for (int64_t i = 0; i < v.u.d->n; i++) {
      if (i) jb_puts(b, ", ");
      repr_depth(b, v.u.d->k[i], depth + 1);
      jb_puts(b, ": ");
      repr_depth(b, v.u.d->v[i], depth + 1);
    }
    jb_putc(b, '}');
    if (v.t == JV_NS) jb_putc(b, '>');
    return;
  }
  case JV_MACRO: jb_printf(b, "<Macro '%s'>", v.u.m->name ? v.u.m->name : "caller"); return;
  case JV_FUNC: jb_printf(b, "<built-in function %.*s>", (int)v.u.fn->name_n, v.u.fn->name); return;
  case JV_LOOP:
    jb_printf(b, "<LoopContext %lld/%lld>", (long long)v.u.lp->index0 + 1, (long long)v.u.lp->items->n);
    return;
  default: str_depth(b, v, depth);
  }
}

void jv_to_str(jbuf *b, jv v) { str_depth(b, v, 0); }
void jv_repr(jbuf *b, jv v) { repr_depth(b, v, 0); }

jv jv_stringify(jarena *a, jv v) {
  if (v.t == JV_STR) return v;
  jbuf b;
  jb_init(&b, a, 0);
  jv_to_str(&b, v);
  return jv_strn(b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------ json.dumps */

static void json_str(jbuf *b, const char *p, size_t n, int ensure_ascii) {
  jb_putc(b, '"');
  size_t i = 0;
  while (i < n) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == '"') jb_puts(b, "\\\"");
    else if (ch == '\\') jb_puts(b, "\\\\");
    else if (ch == '\n') jb_puts(b, "\\n");
    else if (ch == '\r') jb_puts(b, "\\r");
    else if (ch == '\t') jb_puts(b, "\\t");
    else if (ch == '\b') jb_puts(b, "\\b");
    else if (ch == '\f') jb_puts(b, "\\f");
    else if (ch < 0x20) jb_printf(b, "\\u%04x", ch);
    else if (ch < 0x80 || !ensure_ascii) {
      /* copy a run of plain bytes at once */
      size_t j = i + 1;
      while (j < n) {
        unsigned char c2 = (unsigned char)p[j];
        if (c2 == '"' || c2 == '\\' || c2 < 0x20 || (c2 >= 0x80 && ensure_ascii)) break;
        j++;
      }
      jb_put(b, p + i, j - i);
      i = j;
      continue;
    } else {
      size_t adv;
      uint32_t c = utf8_decode(p + i, n - i, &adv);
      if (c >= 0x10000) {
        c -= 0x10000;
        jb_printf(b, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
      } else {
        jb_printf(b, "\\u%04x", c);
      }
      i += adv;
      continue;
    }
    i++;
  }
  jb_putc(b, '"');
}

static void json_newline(jbuf *b, const char *indent, int level) {
  jb_putc(b, '\n');
  for (int i = 0; i < level; i++) jb_puts(b, indent);
}

static int json_key(jbuf *b, jv k, int ensure_ascii, const char **why) {
  char tmp[64];
  switch (k.t) {
  case JV_STR: json_str(b, k.u.s.p, k.u.s.n, ensure_ascii); return 0;
  case JV_INT: jb_printf(b, "\"%lld\"", (long long)k.u.i); return 0;
  case JV_BOOL: jb_puts(b, k.u.i ? "\"true\"" : "\"false\""); return 0;
  case JV_NONE: jb_puts(b, "\"null\""); return 0;
  case JV_FLOAT:
    if (isnan(k.u.f)) snprintf(tmp, sizeof tmp, "NaN");
    else if (isinf(k.u.f)) snprintf(tmp, sizeof tmp, k.u.f < 0 ? "-Infinity" : "Infinity");
    else py_float_repr(tmp, sizeof tmp, k.u.f);
    jb_printf(b, "\"%s\"", tmp);
    return 0;
  default: *why = "keys must be str, int, float, bool or None"; return -1;
  }
}

typedef struct kv_idx {
  jv k;
  int64_t i;
} kv_idx;

static int cmp_keys(const void *x, const void *y) {
  const kv_idx *a = x, *b = y;
  size_t n = a->k.u.s.n < b->k.u.s.n ? a->k.u.s.n : b->k.u.s.n;
  int c = memcmp(a->k.u.s.p, b->k.u.s.p, n);
  if (c) return c;
  if (a->k.u.s.n != b->k.u.s.n) return a->k.u.s.n < b->k.u.s.n ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

int jv_to_json(jbuf *b, jv v, int ensure_ascii, const char *indent, int has_indent, const char *item_sep,
               const char *key_sep, int sort_keys, int depth, const char **why) {
  char tmp[64];
  if (depth > 500) {
    *why = "maximum recursion depth exceeded";
    return -1;
  }
  if (!item_sep) item_sep = has_indent ? "," : ", ";
  if (!key_sep) key_sep = ": ";
  switch (v.t) {
  case JV_NONE: jb_puts(b, "null"); return 0;
  case JV_BOOL: jb_puts(b, v.u.i ? "true" : "false"); return 0;
  case JV_INT: jb_printf(b, "%lld", (long long)v.u.i); return 0;
  case JV_FLOAT:
    if (isnan(v.u.f)) jb_puts(b, "NaN");
    else if (isinf(v.u.f)) jb_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
    else {
      py_float_repr(tmp, sizeof tmp, v.u.f);
      jb_puts(b, tmp);
    }
    return 0;
  case JV_STR: json_str(b, v.u.s.p, v.u.s.n, ensure_ascii); return 0;
  case JV_LIST:
  case JV_TUPLE: {
    if (v.unsafe >= JV_GEN) {
      static _Thread_local char gmsg[96];
      snprintf(gmsg, sizeof gmsg, "Object of type %s is not JSON serializable", jv_type_name(v));
      *why = gmsg;
      return -1;
    }
    if (v.u.l->n == 0) {
      jb_puts(b, "[]");
      return 0;
    }
    jb_putc(b, '[');
    for (int64_t i = 0; i < v.u.l->n; i++) {
      if (i) jb_puts(b, item_sep);
      if (has_indent) json_newline(b, indent, depth + 1);
      if (jv_to_json(b, v.u.l->v[i], ensure_ascii, indent, has_indent, item_sep, key_sep, sort_keys, depth + 1, why))
        return -1;
    }
    if (has_indent) json_newline(b, indent, depth);
    jb_putc(b, ']');
    return 0;
  }
  case JV_DICT: {
    jdict *d = v.u.d;
    if (d->n == 0) {
      jb_puts(b, "{}");
      return 0;
    }
    kv_idx *order = NULL;
    if (sort_keys) {
      order = ja_alloc(b->a, (size_t)d->n * sizeof *order);
      for (int64_t i = 0; i < d->n; i++) {
        if (d->k[i].t != JV_STR) {
          *why = "'<' not supported between keys of different types";
          return -1;
        }
        order[i].k = d->k[i];
        order[i].i = i;
      }
      qsort(order, (size_t)d->n, sizeof *order, cmp_keys);
    }
    jb_putc(b, '{');
    for (int64_t j = 0; j < d->n; j++) {
      int64_t i = order ? order[j].i : j;
      if (j) jb_puts(b, item_sep);
      if (has_indent) json_newline(b, indent, depth + 1);
      if (json_key(b, d->k[i], ensure_ascii, why)) return -1;
      jb_puts(b, key_sep);
      if (jv_to_json(b, d->v[i], ensure_ascii, indent, has_indent, item_sep, key_sep, sort_keys, depth + 1, why))
        return -1;
    }
    if (has_indent) json_newline(b, indent, depth);
    jb_putc(b, '}');
    return 0;
  }
  default: {
    static _Thread_local char msg[96];
    snprintf(msg, sizeof msg, "Object of type %s is not JSON serializable", jv_type_name(v));
    *why = msg;
    return -1;
  }
  }
}

/* ------------------------------------------------------------ json.loads */

typedef struct jreader {
  jarena *a;
  const char *s;
  size_t n, i;
  const char *what;
} jreader;

static _Noreturn void jr_fail(jreader *r, const char *msg) {
  /* line/column as Python's json reports them */
  int line = 1, col = 1;
  for (size_t k = 0; k < r->i && k < r->n; k++) {
    if (r->s[k] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  jerr_throw(r->a->err, JERR_RUNTIME, 0, 0, "%s: invalid JSON: %s: line %d column %d (char %zu)", r->what, msg, line,
             col, r->i);
}

static void jr_ws(jreader *r) {
  while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r')) r->i++;
}

static int hex4(const char *p, uint32_t *out) {
  uint32_t v = 0;
  for (int k = 0; k < 4; k++) {
    char h = p[k];
    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + (uint32_t)d;
  }
  *out = v;
  return 0;
}

static jv jr_string(jreader *r) {
  r->i++; /* opening quote */
  size_t start = r->i;
  /* fast path: no escapes */
  size_t k = start;
  while (k < r->n && r->s[k] != '"' && r->s[k] != '\\' && (unsigned char)r->s[k] >= 0x20) k++;
  if (k < r->n && r->s[k] == '"') {
    r->i = k + 1;
    return jv_strn(r->s + start, k - start);
  }
  jbuf b;
  jb_init(&b, r->a, 0);
  for (;;) {
    if (r->i >= r->n) jr_fail(r, "Unterminated string starting at");
    unsigned char ch = (unsigned char)r->s[r->i];
    if (ch == '"') {
      r->i++;
      break;
    }
    if (ch < 0x20) jr_fail(r, "Invalid control character at");
    if (ch != '\\') {
      size_t j = r->i;
      while (j < r->n && r->s[j] != '"' && r->s[j] != '\\' && (unsigned char)r->s[j] >= 0x20) j++;
      jb_put(&b, r->s + r->i, j - r->i);
      r->i = j;
      continue;
    }
    if (r->i + 1 >= r->n) jr_fail(r, "Unterminated string starting at");
    char e = r->s[r->i + 1];
    r->i += 2;
    switch (e) {
    case '"': jb_putc(&b, '"'); break;
    case '\\': jb_putc(&b, '\\'); break;
    case '/': jb_putc(&b, '/'); break;
    case 'b': jb_putc(&b, '\b'); break;
    case 'f': jb_putc(&b, '\f'); break;
    case 'n': jb_putc(&b, '\n'); break;
    case 'r': jb_putc(&b, '\r'); break;
    case 't': jb_putc(&b, '\t'); break;
    case 'u': {
      uint32_t c;
      if (r->i + 4 > r->n || hex4(r->s + r->i, &c)) jr_fail(r, "Invalid \\uXXXX escape");
      r->i += 4;
      if (c >= 0xd800 && c <= 0xdbff && r->i + 6 <= r->n && r->s[r->i] == '\\' && r->s[r->i + 1] == 'u') {
        uint32_t lo;
        if (!hex4(r->s + r->i + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          r->i += 6;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; /* lone surrogate: no UTF-8 form */
      char enc[4];
      jb_put(&b, enc, (size_t)utf8_encode(c, enc));
      break;
    }
    default: r->i -= 2; jr_fail(r, "Invalid \\escape");
    }
  }
  return jv_strn(b.p ? b.p : "", b.n);
}

static jv jr_value(jreader *r, int depth);

static jv jr_number(jreader *r) {
  size_t st = r->i;
  if (r->s[r->i] == '-') r->i++;
  if (r->i >= r->n) jr_fail(r, "Expecting value");
  if (r->s[r->i] == '0') {
    r->i++;
  } else if (r->s[r->i] >= '1' && r->s[r->i] <= '9') {
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') r->i++;
  } else {
    r->i = st;
    jr_fail(r, "Expecting value");
  }
  int is_float = 0;
  if (r->i + 1 < r->n && r->s[r->i] == '.' && r->s[r->i + 1] >= '0' && r->s[r->i + 1] <= '9') {
    is_float = 1;
    r->i++;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9') r->i++;
  }
  if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
    size_t k = r->i + 1;
    if (k < r->n && (r->s[k] == '+' || r->s[k] == '-')) k++;
    if (k < r->n && r->s[k] >= '0' && r->s[k] <= '9') {
      while (k < r->n && r->s[k] >= '0' && r->s[k] <= '9') k++;
      r->i = k;
      is_float = 1;
    }
  }
  char buf[400];
  size_t len = r->i - st;
  if (len >= sizeof buf) {
    if (!is_float) jr_fail(r, "integer too large");
    len = sizeof buf - 1; /* digits past this cannot change a double that much */
  }
  memcpy(buf, r->s + st, len);
  buf[len] = 0;
  if (!is_float) {
    int64_t v = 0;
    int neg = buf[0] == '-';
    int ovf = 0;
    for (size_t k = (size_t)neg; k < len; k++) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, neg ? -(buf[k] - '0') : buf[k] - '0', &v)) {
        ovf = 1;
        break;
      }
    }
    /* Python ints are unbounded; past int64 we keep a float. */
    if (!ovf) return jv_int(v);
  }
  return jv_float(strtod(buf, NULL));
}

static int jr_lit(jreader *r, const char *lit) {
  size_t k = strlen(lit);
  if (r->i + k <= r->n && memcmp(r->s + r->i, lit, k) == 0) {
    r->i += k;
    return 1;
  }
  return 0;
}

static jv jr_value(jreader *r, int depth) {
  if (depth > 500) jr_fail(r, "nested too deeply");
  jr_ws(r);
  if (r->i >= r->n) jr_fail(r, "Expecting value");
  char c = r->s[r->i];
  if (c == '"') return jr_string(r);
  if (c == '{') {
    r->i++;
    jdict *d = jd_new(r->a, 4);
    jr_ws(r);
    if (r->i < r->n && r->s[r->i] == '}') {
      r->i++;
      return jv_dict(d);
    }
    for (;;) {
      jr_ws(r);
      if (r->i >= r->n || r->s[r->i] != '"') jr_fail(r, "Expecting property name enclosed in double quotes");
      jv k = jr_string(r);
      jr_ws(r);
      if (r->i >= r->n || r->s[r->i] != ':') jr_fail(r, "Expecting ':' delimiter");
      r->i++;
      jv v = jr_value(r, depth + 1);
      jd_set(r->a, d, k, v);
      jr_ws(r);
      if (r->i < r->n && r->s[r->i] == ',') {
        r->i++;
        continue;
      }
      if (r->i < r->n && r->s[r->i] == '}') {
        r->i++;
        return jv_dict(d);
      }
      jr_fail(r, "Expecting ',' delimiter");
    }
  }
  if (c == '[') {
    r->i++;
    jlist *l = jl_new(r->a, 4);
    jr_ws(r);
    if (r->i < r->n && r->s[r->i] == ']') {
      r->i++;
      return jv_list(l);
    }
    for (;;) {
      jl_push(r->a, l, jr_value(r, depth + 1));
      jr_ws(r);
      if (r->i < r->n && r->s[r->i] == ',') {
        r->i++;
        continue;
      }
      if (r->i < r->n && r->s[r->i] == ']') {
        r->i++;
        return jv_list(l);
      }
      jr_fail(r, "Expecting ',' delimiter");
    }
  }
  if (jr_lit(r, "true")) return jv_bool(1);
  if (jr_lit(r, "false")) return jv_bool(0);
  if (jr_lit(r, "null")) return jv_none();
  if (jr_lit(r, "NaN")) return jv_float(NAN);
  if (jr_lit(r, "Infinity")) return jv_float(INFINITY);
  if (jr_lit(r, "-Infinity")) return jv_float(-INFINITY);
  return jr_number(r);
}

jv jv_from_json(jarena *a, const char *text, size_t len, const char *what) {
  jreader r = {a, text, len, 0, what};
  if (!utf8_valid(text, len)) jerr_throw(a->err, JERR_RUNTIME, 0, 0, "%s: not valid UTF-8", what);
  jv v = jr_value(&r, 0);
  jr_ws(&r);
  if (r.i != r.n) jr_fail(&r, "Extra data");
  return v;
}

/* ------------------------------------------------------------ UTF-8 */

int utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int k;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      k = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + (size_t)k >= n) return 0;
    for (int j = 1; j <= k; j++) {
      if ((p[i + (size_t)j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + (size_t)j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += (size_t)k + 1;
  }
  return 1;
}

uint32_t utf8_decode(const char *s, size_t n, size_t *adv) {
  const unsigned char *p = (const unsigned char *)s;
  if (n == 0) {
    *adv = 0;
    return 0;
  }
  unsigned char c = p[0];
  if (c < 0x80) {
    *adv = 1;
    return c;
  }
  int k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
  if (k == 0 || (size_t)k >= n) {
    *adv = 1;
    return 0xFFFD;
  }
  uint32_t cp = c & (0x3F >> k);
  for (int j = 1; j <= k; j++) {
    if ((p[j] & 0xC0) != 0x80) {
      *adv = 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (p[j] & 0x3F);
  }
  *adv = (size_t)k + 1;
  return cp;
}

int utf8_encode(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

size_t utf8_len(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

size_t utf8_offset(const char *s, size_t n, int64_t cp) {
  if (cp <= 0) return 0;
  int64_t c = 0;
  for (size_t i = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (c == cp) return i;
      c++;
    }
  }
  return n;
}

/* Simple case mapping for the scripts templates meet (Latin, Greek,
 * Cyrillic); other letters map to themselves. */
uint32_t uc_upper(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if (c == 0x130 || c == 0x138 || c == 0x149 || c == 0x178) return c;
    return (c & 1) ? c - 1 : c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3AC && c <= 0x3AF) return c == 0x3AC ? 0x386 : c - 37;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

uint32_t uc_lower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
    if (c == 0x130) return 'i';
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
    return (c & 1) ? c : c + 1;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

int uc_isspace(uint32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}
int uc_isupper(uint32_t c) { return uc_lower(c) != c; }
int uc_islower(uint32_t c) { return uc_upper(c) != c || c == 0xDF; }
int uc_isalpha(uint32_t c) {
  if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
  /* letters of the mapped scripts, plus CJK and other scripts as letters */
  if (c == 0xD7 || c == 0xF7) return 0;
  if (c >= 0xC0 && c <= 0x24F) return 1;
  if (c == 0xAA || c == 0xB5 || c == 0xBA) return 1;
  if (c < 0x370) return 0;
  if (c >= 0x2000 && c <= 0x2BFF) return 0; /* punctuation, symbols, arrows */
  if (c >= 0x3000 && c <= 0x303F) return 0; /* CJK punctuation */
  if (c >= 0xFF00 && c <= 0xFF20) return 0;
  if (c >= 0x1F000) return 0; /* emoji */
  if (c >= 0xFE00 && c <= 0xFE0F) return 0;
  return 1;
}
int uc_isdigit(uint32_t c) { return c >= '0' && c <= '9'; }
int uc_isalnum(uint32_t c) { return uc_isalpha(c) || uc_isdigit(c); }
