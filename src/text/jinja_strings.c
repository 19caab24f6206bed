/* jinja_strings.c — Python's str methods (strip, split, replace, find,
 * format, ...), printf-style % formatting, and the dict/list methods that
 * the sandbox allows, for the Jinja engine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"


/* ------------------------------------------------------------ string helpers */

typedef jv (*cpmap)(jctx *, jv);

static jv map_cps(jctx *c, jv s, uint32_t (*f)(uint32_t)) {
  jbuf b;
  jb_init(&b, c->a, 0);
  size_t i = 0;
  while (i < s.u.s.n) {
    size_t adv;
    uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
    char enc[4];
    if (cp == 0xDF && f == uc_upper) {
      jb_puts(&b, "SS");
    } else {
      jb_put(&b, enc, (size_t)utf8_encode(f(cp), enc));
    }
    i += adv;
  }
  return jmkstr(&b, s.safe);
}

jv js_lower(jctx *c, jv s) { return map_cps(c, s, uc_lower); }
jv js_upper(jctx *c, jv s) { return map_cps(c, s, uc_upper); }

static int is_cased(uint32_t cp) { return uc_isupper(cp) || uc_islower(cp); }

/* Python's str.title(): a cased char after an uncased one is uppercased. */
static jv py_title(jctx *c, jv s) {
  jbuf b;
  jb_init(&b, c->a, 0);
  size_t i = 0;
  int prev_cased = 0;
  while (i < s.u.s.n) {
    size_t adv;
    uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
    uint32_t o = prev_cased ? uc_lower(cp) : uc_upper(cp);
    char enc[4];
    jb_put(&b, enc, (size_t)utf8_encode(o, enc));
    prev_cased = is_cased(cp);
    i += adv;
  }
  return jmkstr(&b, s.safe);
}

jv js_capitalize(jctx *c, jv s) {
  jbuf b;
  jb_init(&b, c->a, 0);
  size_t i = 0;
  int first = 1;
  while (i < s.u.s.n) {
    size_t adv;
    uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
    char enc[4];
    jb_put(&b, enc, (size_t)utf8_encode(first ? uc_upper(cp) : uc_lower(cp), enc));
    first = 0;
    i += adv;
  }
  return jmkstr(&b, s.safe);
}

/* Jinja's title filter: words start after [-\s({[<]. */
jv js_jinja_title(jctx *c, jv s) {
  jbuf b;
  jb_init(&b, c->a, 0);
  size_t i = 0;
  int at_start = 1;
  while (i < s.u.s.n) {
    size_t adv;
    uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
    int sep = cp == '-' || uc_isspace(cp) || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    uint32_t o = sep ? cp : at_start ? uc_upper(cp) : uc_lower(cp);
    char enc[4];
    jb_put(&b, enc, (size_t)utf8_encode(o, enc));
    at_start = sep;
    i += adv;
  }
  return jmkstr(&b, s.safe);
}

static int in_chars(uint32_t cp, jv chars) {
  if (chars.t != JV_STR) return uc_isspace(cp);
  size_t i = 0;
  while (i < chars.u.s.n) {
    size_t adv;
    if (utf8_decode(chars.u.s.p + i, chars.u.s.n - i, &adv) == cp) return 1;
    i += adv;
  }
  return 0;
}

jv js_strip(jctx *c, jv s, jv chars, int left, int right) {
  if (chars.t != JV_STR && chars.t != JV_NONE && chars.t != JV_UNDEF)
    jfail(c, "strip arg must be None or str");
  const char *p = s.u.s.p;
  size_t a = 0, e = s.u.s.n;
  if (left)
    while (a < e) {
      size_t adv;
      uint32_t cp = utf8_decode(p + a, e - a, &adv);
      if (!in_chars(cp, chars)) break;
      a += adv;
    }
  if (right)
    while (e > a) {
      size_t k = e - 1;
      while (k > a && ((unsigned char)p[k] & 0xC0) == 0x80) k--;
      size_t adv;
      uint32_t cp = utf8_decode(p + k, e - k, &adv);
      if (!in_chars(cp, chars)) break;
      e = k;
    }
  jv r = jv_strn(p + a, e - a);
  r.safe = s.safe;
  return r;
}

const char *js_memfind(const char *h, size_t hn, const char *nd, size_t nn) {
  if (nn == 0) return h;
  if (nn > hn) return NULL;
  for (size_t i = 0; i + nn <= hn; i++)
    if (h[i] == nd[0] && !memcmp(h + i, nd, nn)) return h + i;
  return NULL;
}

const char *js_memrfind(const char *h, size_t hn, const char *nd, size_t nn) {
  if (nn > hn) return NULL;
  for (size_t i = hn - nn + 1; i > 0; i--)
    if (!memcmp(h + i - 1, nd, nn)) return h + i - 1;
  return NULL;
}

static jv py_split(jctx *c, jv s, jv sep, int64_t maxsplit, int from_right) {
  jlist *l = jl_new(c->a, 8);
  const char *p = s.u.s.p;
  size_t n = s.u.s.n;
  if (sep.t == JV_NONE || sep.t == JV_UNDEF) {
    /* whitespace runs; no empty strings */
    if (!from_right) {
      size_t i = 0;
      while (i < n) {
        size_t adv;
        while (i < n && uc_isspace(utf8_decode(p + i, n - i, &adv))) i += adv;
        if (i >= n) break;
        if (maxsplit >= 0 && l->n == maxsplit) {
          /* rest, with trailing whitespace kept as Python does */
          size_t e = n;
          jl_push(c->a, l, jv_strn(p + i, e - i));
          /* Python strips nothing more on the right for split() */
          break;
        }
        size_t st = i;
        while (i < n && !uc_isspace(utf8_decode(p + i, n - i, &adv))) i += adv;
        jl_push(c->a, l, jv_strn(p + st, i - st));
      }
      /* Python: 'a b  '.split(None, 1) -> ['a', 'b  '] */
    } else {
      size_t e = n;
      jlist *rev = jl_new(c->a, 8);
      while (e > 0) {
        while (e > 0 && (p[e - 1] == ' ' || (p[e - 1] >= 9 && p[e - 1] <= 13))) e--;
        if (e == 0) break;
        if (maxsplit >= 0 && rev->n == maxsplit) {
          jl_push(c->a, rev, jv_strn(p, e));
          break;
        }
        size_t st = e;
        while (st > 0 && !(p[st - 1] == ' ' || (p[st - 1] >= 9 && p[st - 1] <= 13))) st--;
        jl_push(c->a, rev, jv_strn(p + st, e - st));
        e = st;
      }
      for (int64_t i = rev->n; i > 0; i--) jl_push(c->a, l, rev->v[i - 1]);
    }
    return jv_list(l);
  }
  jneed_str(c, sep, "sep");
  if (sep.u.s.n == 0) jfail(c, "empty separator");
  if (!from_right) {
    size_t i = 0;
    for (;;) {
      if (maxsplit >= 0 && l->n == maxsplit) break;
      const char *f = js_memfind(p + i, n - i, sep.u.s.p, sep.u.s.n);
      if (!f) break;
      jl_push(c->a, l, jv_strn(p + i, (size_t)(f - (p + i))));
      i = (size_t)(f - p) + sep.u.s.n;
      jstep(c);
    }
    jl_push(c->a, l, jv_strn(p + i, n - i));
  } else {
    jlist *rev = jl_new(c->a, 8);
    size_t e = n;
    for (;;) {
      if (maxsplit >= 0 && rev->n == maxsplit) break;
      const char *f = js_memrfind(p, e, sep.u.s.p, sep.u.s.n);
      if (!f) break;
      size_t at = (size_t)(f - p);
      jl_push(c->a, rev, jv_strn(p + at + sep.u.s.n, e - at - sep.u.s.n));
      e = at;
      jstep(c);
    }
    jl_push(c->a, rev, jv_strn(p, e));
    for (int64_t i = rev->n; i > 0; i--) jl_push(c->a, l, rev->v[i - 1]);
  }
  return jv_list(l);
}

jv js_splitlines(jctx *c, jv s, int keepends) {
  jlist *l = jl_new(c->a, 8);
  const char *p = s.u.s.p;
  size_t n = s.u.s.n, i = 0, st = 0;
  while (i < n) {
    size_t adv;
    uint32_t cp = utf8_decode(p + i, n - i, &adv);
    int br = cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c || cp == 0x1d || cp == 0x1e ||
             cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (br) {
      size_t e = i;
      i += adv;
      if (cp == '\r' && i < n && p[i] == '\n') i++;
      jl_push(c->a, l, jv_strn(p + st, (keepends ? i : e) - st));
      st = i;
    } else {
      i += adv;
    }
  }
  if (st < n) jl_push(c->a, l, jv_strn(p + st, n - st));
  return jv_list(l);
}

jv js_replace(jctx *c, jv s, jv old, jv nw, int64_t count) {
  jneed_str(c, old, "replace() argument 1");
  nw = jstr_of(c, jneed_str(c, nw, "replace() argument 2"));
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  const char *p = s.u.s.p;
  size_t n = s.u.s.n, i = 0;
  int64_t done = 0;
  if (old.u.s.n == 0) {
    /* inserts between code points */
    while (1) {
      if (count < 0 || done < count) {
        jb_put(&b, nw.u.s.p, nw.u.s.n);
        done++;
      }
      if (i >= n) break;
      size_t adv;
      utf8_decode(p + i, n - i, &adv);
      jb_put(&b, p + i, adv);
      i += adv;
    }
    return jmkstr(&b, 0);
  }
  while (i <= n) {
    const char *f = (count < 0 || done < count) ? js_memfind(p + i, n - i, old.u.s.p, old.u.s.n) : NULL;
    if (!f) {
      jb_put(&b, p + i, n - i);
      break;
    }
    jb_put(&b, p + i, (size_t)(f - (p + i)));
    jb_put(&b, nw.u.s.p, nw.u.s.n);
    i = (size_t)(f - p) + old.u.s.n;
    done++;
  }
  return jmkstr(&b, 0);
}

static int64_t py_count(jv s, jv sub) {
  if (sub.u.s.n == 0) return (int64_t)utf8_len(s.u.s.p, s.u.s.n) + 1;
  int64_t k = 0;
  size_t i = 0;
  while (i + sub.u.s.n <= s.u.s.n) {
    const char *f = js_memfind(s.u.s.p + i, s.u.s.n - i, sub.u.s.p, sub.u.s.n);
    if (!f) break;
    k++;
    i = (size_t)(f - s.u.s.p) + sub.u.s.n;
  }
  return k;
}

static int starts_or_ends(jctx *c, jv s, jv what, int ends) {
  if (what.t == JV_TUPLE) {
    for (int64_t i = 0; i < what.u.l->n; i++)
      if (starts_or_ends(c, s, what.u.l->v[i], ends)) return 1;
    return 0;
  }
  if (what.t != JV_STR)
    jfail(c, "%s first arg must be str or a tuple of str, not %s", ends ? "endswith" : "startswith", jv_type_name(what));
  if (what.u.s.n > s.u.s.n) return 0;
  return !memcmp(ends ? s.u.s.p + s.u.s.n - what.u.s.n : s.u.s.p, what.u.s.p, what.u.s.n);
}

jv js_pad(jctx *c, jv s, int64_t width, jv fillv, int where /* -1 ljust, 0 center, 1 rjust */) {
  int64_t len = (int64_t)utf8_len(s.u.s.p, s.u.s.n);
  if (width > (int64_t)c->o->max_output) jfail(c, "width too large");
  if (width <= len) return s;
  const char *fill = " ";
  size_t fn = 1;
  if (fillv.t == JV_STR) {
    if (utf8_len(fillv.u.s.p, fillv.u.s.n) != 1) jfail(c, "The fill character must be exactly one character long");
    fill = fillv.u.s.p;
    fn = fillv.u.s.n;
  }
  int64_t marg = width - len, left;
  if (where < 0) left = 0;
  else if (where > 0) left = marg;
  else left = marg / 2 + (marg & width & 1);
  jbuf b;
  jb_init(&b, c->a, 0);
  for (int64_t i = 0; i < left; i++) jb_put(&b, fill, fn);
  jb_put(&b, s.u.s.p, s.u.s.n);
  for (int64_t i = 0; i < marg - left; i++) jb_put(&b, fill, fn);
  return jmkstr(&b, s.safe);
}

/* ------------------------------------------------------------ formatting */

/* One printf-style conversion of Python's % operator / str.format. */
static void fmt_one(jctx *c, jbuf *b, char conv, const char *flags, int width, int prec, jv v) {
  char spec[32], tmp[128];
  int k = 0;
  spec[k++] = '%';
  for (const char *f = flags; *f && k < 8; f++) spec[k++] = *f;
  if (width >= 0) k += snprintf(spec + k, sizeof spec - (size_t)k, "%d", width > 1000 ? 1000 : width);
  if (prec >= 0) k += snprintf(spec + k, sizeof spec - (size_t)k, ".%d", prec > 100 ? 100 : prec);
  switch (conv) {
  case 'd':
  case 'i':
  case 'u': {
    if (!jv_is_num(v)) jfail(c, "%%%c format: a real number is required, not %s", conv, jv_type_name(v));
    long long x = v.t == JV_FLOAT ? (long long)v.u.f : (long long)v.u.i;
    snprintf(spec + k, sizeof spec - (size_t)k, "lld");
    snprintf(tmp, sizeof tmp, spec, x);
    jb_puts(b, tmp);
    return;
  }
  case 'x':
  case 'X':
  case 'o': {
    if (v.t != JV_INT && v.t != JV_BOOL) jfail(c, "%%%c format: an integer is required, not %s", conv, jv_type_name(v));
    snprintf(spec + k, sizeof spec - (size_t)k, "ll%c", conv);
    if (v.u.i < 0) {
      jb_putc(b, '-');
      snprintf(tmp, sizeof tmp, spec, (unsigned long long)(-(v.u.i + 1)) + 1ULL);
    } else {
      snprintf(tmp, sizeof tmp, spec, (unsigned long long)v.u.i);
    }
    jb_puts(b, tmp);
    return;
  }
  case 'f':
  case 'F':
  case 'e':
  case 'E':
  case 'g':
  case 'G': {
    if (!jv_is_num(v)) jfail(c, "must be real number, not %s", jv_type_name(v));
    double x = v.t == JV_FLOAT ? v.u.f : (double)v.u.i;
    snprintf(spec + k, sizeof spec - (size_t)k, "%c", conv);
    snprintf(tmp, sizeof tmp, spec, x);
    jb_puts(b, tmp);
    return;
  }
  case 'c': {
    if (v.t == JV_STR) {
      jb_put(b, v.u.s.p, v.u.s.n);
    } else if (v.t == JV_INT && v.u.i >= 0 && v.u.i <= 0x10FFFF) {
      char enc[4];
      jb_put(b, enc, (size_t)utf8_encode((uint32_t)v.u.i, enc));
    } else {
      jfail(c, "%%c requires int or char");
    }
    return;
  }
  default: {
    /* s, r, a: str()/repr() then width/precision by code points */
    jbuf t;
    jb_init(&t, c->a, 0);
    if (conv == 'r' || conv == 'a') jv_repr(&t, v);
    else jv_to_str(&t, v);
    jv s = jv_strn(t.p ? t.p : "", t.n);
    if (prec >= 0 && (int64_t)utf8_len(s.u.s.p, s.u.s.n) > prec) s.u.s.n = utf8_offset(s.u.s.p, s.u.s.n, prec);
    if (width > 0) s = js_pad(c, s, width, jv_undef(), strchr(flags, '-') ? -1 : 1);
    jb_put(b, s.u.s.p, s.u.s.n);
  }
  }
}

jv jstr_percent(jctx *c, jv fmt, jv args) {
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  const char *p = fmt.u.s.p;
  size_t n = fmt.u.s.n;
  int64_t ai = 0;
  int nargs = args.t == JV_TUPLE ? (int)args.u.l->n : 1;
  int used_map = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != '%') {
      jb_putc(&b, p[i]);
      continue;
    }
    if (++i >= n) jfail(c, "incomplete format");
    jv val;
    int have_val = 0;
    if (p[i] == '(') {
      size_t st = ++i;
      while (i < n && p[i] != ')') i++;
      if (i >= n) jfail(c, "incomplete format key");
      if (args.t != JV_DICT) jfail(c, "format requires a mapping");
      int idx = jd_find_str(args.u.d, p + st, i - st);
      if (idx < 0) jfail(c, "'%.*s'", (int)(i - st), p + st);
      val = args.u.d->v[idx];
      have_val = 1;
      used_map = 1;
      i++;
    }
    char flags[8] = "";
    int nf = 0;
    while (i < n && strchr("-+ #0", p[i]) && nf < 6) flags[nf++] = p[i++];
    flags[nf] = 0;
    int width = -1, prec = -1;
    while (i < n && p[i] >= '0' && p[i] <= '9') width = (width < 0 ? 0 : width) * 10 + (p[i++] - '0') % 100000;
    if (i < n && p[i] == '.') {
      i++;
      prec = 0;
      while (i < n && p[i] >= '0' && p[i] <= '9') prec = prec * 10 + (p[i++] - '0') % 100000;
    }
    if (i >= n) jfail(c, "incomplete format");
    char conv = p[i];
    if (conv == '%') {
      jb_putc(&b, '%');
      continue;
    }
    if (!strchr("sdiufFeEgGxXocra", conv)) jfail(c, "unsupported format character '%c'", conv);
    if (!have_val) {
      if (ai >= nargs) jfail(c, "not enough arguments for format string");
      val = args.t == JV_TUPLE ? args.u.l->v[ai] : args;
      ai++;
    }
    fmt_one(c, &b, conv, flags, width, prec, val);
  }
  if (!used_map && args.t != JV_DICT && ai < nargs) jfail(c, "not all arguments converted during string formatting");
  return jmkstr(&b, fmt.safe);
}

/* str.format with {}, {0}, {name}, {name.attr}, {0[key]}, and a
 * [[fill]align][sign][0][width][.prec][type] spec. */
static jv py_format(jctx *c, jv fmt, jcall *a) {
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  const char *p = fmt.u.s.p;
  size_t n = fmt.u.s.n;
  int auto_i = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch == '}') {
      if (i + 1 < n && p[i + 1] == '}') i++;
      else jfail(c, "Single '}' encountered in format string");
      jb_putc(&b, '}');
      continue;
    }
    if (ch != '{') {
      jb_putc(&b, ch);
      continue;
    }
    if (i + 1 < n && p[i + 1] == '{') {
      jb_putc(&b, '{');
      i++;
      continue;
    }
    size_t st = ++i;
    while (i < n && p[i] != '}') i++;
    if (i >= n) jfail(c, "expected '}' before end of string");
    const char *f = p + st;
    size_t fl = i - st;
    const char *colon = memchr(f, ':', fl);
    const char *bang = memchr(f, '!', fl);
    size_t namel = colon ? (size_t)(colon - f) : fl;
    if (bang && (!colon || bang < colon)) namel = (size_t)(bang - f);
    /* field name: first part up to . or [ */
    size_t k = 0;
    while (k < namel && f[k] != '.' && f[k] != '[') k++;
    jv val;
    if (k == 0) {
      val = jarg(a, auto_i++, NULL, jv_undef());
      if (auto_i > a->npos) jfail(c, "Replacement index %d out of range for positional args tuple", auto_i - 1);
    } else if (f[0] >= '0' && f[0] <= '9') {
      int idx = atoi(f);
      if (idx >= a->npos) jfail(c, "Replacement index %d out of range for positional args tuple", idx);
      val = a->pos[idx];
    } else {
      char *nm = ja_strndup(c->a, f, k);
      if (!jarg_has(a, -1, nm)) jfail(c, "'%s'", nm);
      val = jarg(a, -1, nm, jv_undef());
    }
    while (k < namel) {
      if (f[k] == '.') {
        size_t s2 = ++k;
        while (k < namel && f[k] != '.' && f[k] != '[') k++;
        val = jv_getattr(c, val, f + s2, k - s2);
      } else {
        size_t s2 = ++k;
        while (k < namel && f[k] != ']') k++;
        int digits = k > s2;
        for (size_t q = s2; q < k; q++)
          if (f[q] < '0' || f[q] > '9') digits = 0;
        val = jv_getitem(c, val, digits ? jv_int(atoll(f + s2)) : jv_strn(f + s2, k - s2));
        k++;
      }
    }
    if (bang && (!colon || bang < colon) && bang + 1 < f + fl && (bang[1] == 'r' || bang[1] == 'a')) {
      jbuf t;
      jb_init(&t, c->a, 0);
      jv_repr(&t, val);
      val = jv_strn(t.p ? t.p : "", t.n);
    }
    if (!colon || (size_t)(colon - f) + 1 >= fl) {
      jv_to_str(&b, val);
      continue;
    }
    /* format spec */
    const char *sp = colon + 1, *se = f + fl;
    char fill = ' ', align = 0, sign = 0, type = 0;
    if (se - sp >= 2 && strchr("<>^=", sp[1])) {
      fill = sp[0];
      align = sp[1];
      sp += 2;
    } else if (sp < se && strchr("<>^=", sp[0])) {
      align = *sp++;
    }
    if (sp < se && strchr("+- ", *sp)) sign = *sp++;
    int zero = 0;
    if (sp < se && *sp == '0') {
      zero = 1;
      sp++;
    }
    int width = -1, prec = -1;
    while (sp < se && *sp >= '0' && *sp <= '9') width = (width < 0 ? 0 : width) * 10 + (*sp++ - '0') % 100000;
    if (sp < se && *sp == ',') sp++;
    if (sp < se && *sp == '.') {
      sp++;
      prec = 0;
      while (sp < se && *sp >= '0' && *sp <= '9') prec = prec * 10 + (*sp++ - '0') % 100000;
    }
    if (sp < se) type = *sp;
    jbuf t;
    jb_init(&t, c->a, 0);
    char flags[4] = {0};
    int nf = 0;
    if (sign && sign != '-') flags[nf++] = sign;
    if (type && strchr("dfFeEgGxXo%", type)) {
      if (type == '%') {
        jv x = jv_float((val.t == JV_FLOAT ? val.u.f : (double)val.u.i) * 100.0);
        fmt_one(c, &t, 'f', flags, -1, prec < 0 ? 6 : prec, x);
        jb_putc(&t, '%');
      } else {
        fmt_one(c, &t, type, flags, -1, prec, val);
      }
    } else if (jv_is_num(val) && val.t != JV_BOOL && prec >= 0) {
      fmt_one(c, &t, 'g', flags, -1, prec, val);
    } else {
      jv_to_str(&t, val);
      if (prec >= 0 && val.t == JV_STR && (int64_t)utf8_len(t.p ? t.p : "", t.n) > prec)
        t.n = utf8_offset(t.p, t.n, prec);
    }
    jv s = jv_strn(t.p ? t.p : "", t.n);
    if (width > 0) {
      int64_t len = (int64_t)utf8_len(s.u.s.p, s.u.s.n);
      if (!align) align = (jv_is_num(val) && val.t != JV_BOOL) ? '>' : '<';
      if (zero && !align) fill = '0';
      if (zero) {
        fill = '0';
        if (align == '<' && jv_is_num(val)) align = '=';
      }
      char fs[2] = {fill, 0};
      if (align == '=' && len < width && s.u.s.n && (s.u.s.p[0] == '-' || s.u.s.p[0] == '+')) {
        jb_putc(&b, s.u.s.p[0]);
        s.u.s.p++;
        s.u.s.n--;
        width--;
        align = '>';
      }
      if (align == '=') align = '>';
      s = js_pad(c, s, width, jv_strn(fs, 1), align == '<' ? -1 : align == '>' ? 1 : 0);
    }
    jb_put(&b, s.u.s.p, s.u.s.n);
  }
  return jmkstr(&b, fmt.safe);
}

/* ------------------------------------------------------------ methods */

static const char *const STR_METHODS[] = {
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum", "isalpha",
    "isdigit", "isnumeric", "isdecimal", "islower", "isspace", "istitle", "isupper", "join", "ljust", "lower",
    "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition",
    "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill", NULL};
static const char *const DICT_METHODS[] = {"items", "keys", "values", "get", "copy", NULL};
static const char *const DICT_UNSAFE[] = {"pop", "popitem", "setdefault", "update", "clear", NULL};
static const char *const LIST_METHODS[] = {"index", "count", "copy", NULL};
static const char *const LIST_UNSAFE[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", NULL};

static int in_names(const char *const *names, const char *n, size_t len) {
  for (int i = 0; names[i]; i++)
    if (strlen(names[i]) == len && !memcmp(names[i], n, len)) return 1;
  return 0;
}

int jmethod_lookup(jctx *c, jv self, const char *name, size_t n, jv *out) {
  const char *const *safe = NULL, *const *unsafe = NULL;
  if (self.t == JV_STR) safe = STR_METHODS;
  else if (self.t == JV_DICT) {
    safe = DICT_METHODS;
    unsafe = DICT_UNSAFE;
  } else if (self.t == JV_LIST) {
    safe = LIST_METHODS;
    unsafe = LIST_UNSAFE;
  } else if (self.t == JV_TUPLE) {
    safe = LIST_METHODS; /* index, count (copy is not a tuple method, harmless) */
  } else return 0;
  if (in_names(safe, name, n)) {
    jfunc *f = ja_alloc(c->a, sizeof *f);
    f->kind = F_METHOD;
    f->name = ja_strndup(c->a, name, n);
    f->name_n = n;
    f->self = self;
    jv v = {0};
    v.t = JV_FUNC;
    v.u.fn = f;
    *out = v;
    return 1;
  }
  if (unsafe && in_names(unsafe, name, n)) {
    *out = jv_undef_msg(c->a, "access to attribute '%.*s' of '%s' object is unsafe.", (int)n, name, jv_type_name(self));
    out->unsafe = 1;
    return 1;
  }
  return 0;
}

static int64_t cp_index(jv s, const char *at) { return (int64_t)utf8_len(s.u.s.p, (size_t)(at - s.u.s.p)); }

jv js_str_method(jctx *c, jv s, const char *m, jcall *a) {
#define M(x) (!strcmp(m, x))
  if (M("upper")) return js_upper(c, s);
  if (M("lower") || M("casefold")) return js_lower(c, s);
  if (M("title")) return py_title(c, s);
  if (M("capitalize")) return js_capitalize(c, s);
  if (M("swapcase")) {
    jbuf b;
    jb_init(&b, c->a, 0);
    size_t i = 0;
    while (i < s.u.s.n) {
      size_t adv;
      uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
      char enc[4];
      jb_put(&b, enc, (size_t)utf8_encode(uc_isupper(cp) ? uc_lower(cp) : uc_upper(cp), enc));
      i += adv;
    }
    return jmkstr(&b, s.safe);
  }
  if (M("strip")) return js_strip(c, s, jarg(a, 0, "chars", jv_none()), 1, 1);
  if (M("lstrip")) return js_strip(c, s, jarg(a, 0, "chars", jv_none()), 1, 0);
  if (M("rstrip")) return js_strip(c, s, jarg(a, 0, "chars", jv_none()), 0, 1);
  if (M("split") || M("rsplit"))
    return py_split(c, s, jarg(a, 0, "sep", jv_none()), jarg_int(c, a, 1, "maxsplit", -1), M("rsplit"));
  if (M("splitlines")) return js_splitlines(c, s, jv_truthy(jarg(a, 0, "keepends", jv_bool(0))));
  if (M("startswith") || M("endswith")) {
    if (!a->npos) jfail(c, "%s() takes at least 1 argument (0 given)", m);
    return jv_bool(starts_or_ends(c, s, a->pos[0], M("endswith")));
  }
  if (M("replace")) {
    if (a->npos < 2) jfail(c, "replace expected at least 2 arguments, got %d", a->npos);
    return js_replace(c, s, a->pos[0], a->pos[1], jarg_int(c, a, 2, "count", -1));
  }
  if (M("find") || M("index") || M("rfind") || M("rindex")) {
    jv sub = jneed_str(c, jarg(a, 0, NULL, jv_undef()), "argument");
    const char *f = (M("find") || M("index")) ? js_memfind(s.u.s.p, s.u.s.n, sub.u.s.p, sub.u.s.n)
                                               : js_memrfind(s.u.s.p, s.u.s.n, sub.u.s.p, sub.u.s.n);
    if (!f) {
      if (M("index") || M("rindex")) jfail(c, "substring not found");
      return jv_int(-1);
    }
    return jv_int(cp_index(s, f));
  }
  if (M("count")) return jv_int(py_count(s, jneed_str(c, jarg(a, 0, NULL, jv_undef()), "argument")));
  if (M("format")) return py_format(c, s, a);
  if (M("join")) {
    jv items = jiter_list(c, jarg(a, 0, NULL, jv_undef()));
    jbuf b;
    jb_init(&b, c->a, c->o->max_output);
    for (int64_t i = 0; i < items.u.l->n; i++) {
      jv it = items.u.l->v[i];
      if (it.t != JV_STR) jfail(c, "sequence item %lld: expected str instance, %s found", (long long)i, jv_type_name(it));
      if (i) jb_put(&b, s.u.s.p, s.u.s.n);
      jb_put(&b, it.u.s.p, it.u.s.n);
    }
    return jmkstr(&b, s.safe);
  }
  if (M("center") || M("ljust") || M("rjust"))
    return js_pad(c, s, jarg_int(c, a, 0, "width", 0), jarg(a, 1, "fillchar", jv_undef()), M("center") ? 0 : M("ljust") ? -1 : 1);
  if (M("zfill")) {
    int64_t w = jarg_int(c, a, 0, "width", 0);
    int64_t len = (int64_t)utf8_len(s.u.s.p, s.u.s.n);
    if (w <= len) return s;
    if (w > (int64_t)c->o->max_output) jfail(c, "width too large");
    jbuf b;
    jb_init(&b, c->a, 0);
    size_t st = 0;
    if (s.u.s.n && (s.u.s.p[0] == '-' || s.u.s.p[0] == '+')) {
      jb_putc(&b, s.u.s.p[0]);
      st = 1;
    }
    for (int64_t i = 0; i < w - len; i++) jb_putc(&b, '0');
    jb_put(&b, s.u.s.p + st, s.u.s.n - st);
    return jmkstr(&b, s.safe);
  }
  if (M("removeprefix") || M("removesuffix")) {
    jv x = jneed_str(c, jarg(a, 0, NULL, jv_undef()), "argument");
    int pre = M("removeprefix");
    if (starts_or_ends(c, s, x, !pre)) {
      jv r = jv_strn(pre ? s.u.s.p + x.u.s.n : s.u.s.p, s.u.s.n - x.u.s.n);
      r.safe = s.safe;
      return r;
    }
    return s;
  }
  if (M("partition") || M("rpartition")) {
    jv sep = jneed_str(c, jarg(a, 0, NULL, jv_undef()), "argument");
    if (!sep.u.s.n) jfail(c, "empty separator");
    const char *f = M("partition") ? js_memfind(s.u.s.p, s.u.s.n, sep.u.s.p, sep.u.s.n)
                                   : js_memrfind(s.u.s.p, s.u.s.n, sep.u.s.p, sep.u.s.n);
    jlist *l = jl_new(c->a, 3);
    if (!f) {
      if (M("partition")) {
        jl_push(c->a, l, s);
        jl_push(c->a, l, jv_strn("", 0));
        jl_push(c->a, l, jv_strn("", 0));
      } else {
        jl_push(c->a, l, jv_strn("", 0));
        jl_push(c->a, l, jv_strn("", 0));
        jl_push(c->a, l, s);
      }
    } else {
      jl_push(c->a, l, jv_strn(s.u.s.p, (size_t)(f - s.u.s.p)));
      jl_push(c->a, l, sep);
      size_t e = (size_t)(f - s.u.s.p) + sep.u.s.n;
      jl_push(c->a, l, jv_strn(s.u.s.p + e, s.u.s.n - e));
    }
    return jv_tuple(l);
  }
  if (!strncmp(m, "is", 2)) {
    if (s.u.s.n == 0) return jv_bool(0);
    int any_cased = 0, ok = 1, prev_cased = 0;
    size_t i = 0;
    while (i < s.u.s.n && ok) {
      size_t adv;
      uint32_t cp = utf8_decode(s.u.s.p + i, s.u.s.n - i, &adv);
      if (M("isalnum")) ok = uc_isalnum(cp);
      else if (M("isalpha")) ok = uc_isalpha(cp);
      else if (M("isdigit") || M("isnumeric") || M("isdecimal")) ok = uc_isdigit(cp);
      else if (M("isspace")) ok = uc_isspace(cp);
      else if (M("islower")) {
        if (uc_isupper(cp)) ok = 0;
        if (uc_islower(cp)) any_cased = 1;
      } else if (M("isupper")) {
        if (uc_islower(cp)) ok = 0;
        if (uc_isupper(cp)) any_cased = 1;
      } else if (M("istitle")) {
        if (uc_isupper(cp)) {
          if (prev_cased) ok = 0;
          prev_cased = 1;
          any_cased = 1;
        } else if (uc_islower(cp)) {
          if (!prev_cased) ok = 0;
          prev_cased = 1;
        } else {
          prev_cased = 0;
        }
      }
      i += adv;
    }
    if (M("islower") || M("isupper") || M("istitle")) ok = ok && any_cased;
    return jv_bool(ok);
  }
#undef M
  jfail(c, "str method '%s' is not supported", m);
}

jv jitems_of(jctx *c, jdict *d) {
  jlist *l = jl_new(c->a, d->n);
  for (int64_t i = 0; i < d->n; i++) {
    jlist *p = jl_new(c->a, 2);
    p->v[0] = d->k[i];
    p->v[1] = d->v[i];
    p->n = 2;
    l->v[l->n++] = jv_tuple(p);
  }
  return jv_list(l);
}

jv jmethod_call(jctx *c, jfunc *fn, jcall *a) {
  jv self = fn->self;
  const char *m = fn->name;
  if (self.t == JV_STR) return js_str_method(c, self, m, a);
  if (self.t == JV_DICT) {
    jdict *d = self.u.d;
    if (!strcmp(m, "items")) return jitems_of(c, d);
    if (!strcmp(m, "keys") || !strcmp(m, "values")) {
      jlist *l = jl_new(c->a, d->n);
      for (int64_t i = 0; i < d->n; i++) l->v[l->n++] = m[0] == 'k' ? d->k[i] : d->v[i];
      return jv_list(l);
    }
    if (!strcmp(m, "get")) {
      if (a->npos < 1) jfail(c, "get expected at least 1 argument, got 0");
      int i = jd_find(d, a->pos[0]);
      return i >= 0 ? d->v[i] : jarg(a, 1, NULL, jv_none());
    }
    if (!strcmp(m, "copy")) {
      jdict *o = jd_new(c->a, d->n);
      for (int64_t i = 0; i < d->n; i++) jd_set(c->a, o, d->k[i], d->v[i]);
      return jv_dict(o);
    }
  }
  if (jv_is_seq(self)) {
    jlist *l = self.u.l;
    if (!strcmp(m, "index")) {
      jv x = jarg(a, 0, NULL, jv_undef());
      for (int64_t i = 0; i < l->n; i++)
        if (jv_eq(l->v[i], x)) return jv_int(i);
      jfail(c, "%s.index(x): x not in %s", jv_type_name(self), jv_type_name(self));
    }
    if (!strcmp(m, "count")) {
      jv x = jarg(a, 0, NULL, jv_undef());
      int64_t k = 0;
      for (int64_t i = 0; i < l->n; i++) k += jv_eq(l->v[i], x);
      return jv_int(k);
    }
    if (!strcmp(m, "copy")) return jcopy_list(c, self);
  }
  jfail(c, "'%s' object has no method '%s'", jv_type_name(self), m);
}

