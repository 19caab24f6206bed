/* jinja_eval.c — the tree-walking evaluator: scopes, statements, operators,
 * attribute access with Jinja's getattr/getitem fallbacks and sandbox
 * rules, macros, loops and the render entry point. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

/* ------------------------------------------------------------ errors, limits */

void jfail(jctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
  va_end(ap);
  c->err->kind = JERR_RUNTIME;
  c->err->line = c->cur ? c->cur->line : 0;
  c->err->col = c->cur ? c->cur->col : 0;
  longjmp(c->err->jb, 1);
}

void jstep(jctx *c) {
  if (++c->steps > c->o->max_steps) {
    c->err->kind = JERR_LIMIT;
    c->err->line = c->cur ? c->cur->line : 0;
    c->err->col = c->cur ? c->cur->col : 0;
    snprintf(c->err->msg, sizeof c->err->msg, "template exceeded the limit of %lld steps (loop iterations and calls)",
             (long long)c->o->max_steps);
    longjmp(c->err->jb, 1);
  }
}

static void enter(jctx *c) {
  if (++c->depth > c->o->max_depth) {
    c->err->kind = JERR_LIMIT;
    c->err->line = c->cur ? c->cur->line : 0;
    c->err->col = c->cur ? c->cur->col : 0;
    snprintf(c->err->msg, sizeof c->err->msg, "maximum recursion depth exceeded (%d)", c->o->max_depth);
    longjmp(c->err->jb, 1);
  }
}
static void leave(jctx *c) { c->depth--; }

void jcheck_undef(jctx *c, jv v) {
  if (v.t != JV_UNDEF) return;
  if (v.u.s.p) jfail(c, "%.*s", (int)v.u.s.n, v.u.s.p);
  jfail(c, "value is undefined");
}

/* Python's object_type_repr for Undefined messages. */
static const char *obj_type_repr(jv v) {
  switch (v.t) {
  case JV_NONE: return "None";
  case JV_NS: return "jinja2.utils.Namespace object";
  case JV_MACRO: return "jinja2.runtime.Macro object";
  case JV_LOOP: return "jinja2.runtime.LoopContext object";
  case JV_STR: return v.safe ? "markupsafe.Markup object" : "str object";
  case JV_BOOL: return "bool object";
  case JV_INT: return "int object";
  case JV_FLOAT: return "float object";
  case JV_LIST: return "list object";
  case JV_TUPLE: return "tuple object";
  case JV_DICT: return "dict object";
  default: return "builtin_function_or_method object";
  }
}

static jv undef_attr(jctx *c, jv obj, jv key) {
  jbuf b;
  jb_init(&b, c->a, 0);
  if (key.t == JV_STR) {
    jb_putc(&b, '\'');
    jb_puts(&b, obj_type_repr(obj));
    jb_puts(&b, "' has no attribute ");
  } else {
    jb_puts(&b, obj_type_repr(obj));
    jb_puts(&b, " has no element ");
  }
  jv_repr(&b, key);
  jv u = jv_undef();
  u.u.s.p = b.p;
  u.u.s.n = b.n;
  return u;
}

/* ------------------------------------------------------------ scopes */

static jscope *scope_new(jctx *c, jscope *parent) {
  jscope *s = ja_alloc(c->a, sizeof *s);
  s->parent = parent;
  s->vars = jd_new(c->a, 4);
  return s;
}

static void scope_set(jctx *c, jscope *s, const char *name, jv v) {
  jd_set(c->a, s->vars, jv_strn(name, strlen(name)), v);
}

static jv make_func(jctx *c, int kind, const char *name) {
  jfunc *f = ja_alloc(c->a, sizeof *f);
  f->kind = kind;
  f->name = name;
  f->name_n = strlen(name);
  jv v = {0};
  v.t = JV_FUNC;
  v.u.fn = f;
  return v;
}

static jv lookup(jctx *c, jscope *s, const char *name) {
  size_t n = strlen(name);
  for (jscope *p = s; p; p = p->parent) {
    int i = jd_find_str(p->vars, name, n);
    if (i >= 0) return p->vars->v[i];
  }
  static const struct {
    const char *name;
    int kind;
  } builtins[] = {{"range", F_RANGE},          {"dict", F_DICT},   {"namespace", F_NAMESPACE},
                  {"raise_exception", F_RAISE}, {"strftime_now", F_STRFTIME}, {"joiner", F_JOINER},
                  {"cycler", F_CYCLER}};
  for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
    if (!strcmp(name, builtins[i].name)) return make_func(c, builtins[i].kind, builtins[i].name);
  return jv_undef_msg(c->a, "'%s' is undefined", name);
}

/* ------------------------------------------------------------ output */

static void emit(jctx *c, jv v) {
  if (v.t == JV_STR) jb_put(c->out, v.u.s.p, v.u.s.n);
  else if (v.t != JV_UNDEF) jv_to_str(c->out, v);
}

jv jstr_of(jctx *c, jv v) { return jv_stringify(c->a, v); }

/* ------------------------------------------------------------ access */

static int64_t as_index(jctx *c, jv k, int *ok) {
  *ok = 1;
  if (k.t == JV_INT || k.t == JV_BOOL) return k.u.i;
  *ok = 0;
  (void)c;
  return 0;
}

jv jv_getattr(jctx *c, jv obj, const char *name, size_t n) {
  jcheck_undef(c, obj);
  jv key = jv_strn(name, n);
  jv m;
  switch (obj.t) {
  case JV_DICT:
    if (jmethod_lookup(c, obj, name, n, &m)) return m;
    {
      int i = jd_find_str(obj.u.d, name, n);
      if (i >= 0) return obj.u.d->v[i];
    }
    return undef_attr(c, obj, key);
  case JV_NS: {
    int i = jd_find_str(obj.u.d, name, n);
    if (i >= 0) return obj.u.d->v[i];
    return undef_attr(c, obj, key);
  }
  case JV_STR:
  case JV_LIST:
  case JV_TUPLE:
    if (obj.t == JV_TUPLE && obj.unsafe == 2 && obj.u.l->n == 2) { /* groupby's _GroupTuple */
      if (n == 7 && !memcmp(name, "grouper", 7)) return obj.u.l->v[0];
      if (n == 4 && !memcmp(name, "list", 4)) return obj.u.l->v[1];
    }
    if (jmethod_lookup(c, obj, name, n, &m)) return m;
    return undef_attr(c, obj, key);
  case JV_LOOP: {
    jloop *lp = obj.u.lp;
    int64_t len = lp->items->n, i0 = lp->index0;
#define IS(s) (n == strlen(s) && !memcmp(name, s, n))
    if (IS("index")) return jv_int(i0 + 1);
    if (IS("index0")) return jv_int(i0);
    if (IS("revindex")) return jv_int(len - i0);
    if (IS("revindex0")) return jv_int(len - i0 - 1);
    if (IS("first")) return jv_bool(i0 == 0);
    if (IS("last")) return jv_bool(i0 == len - 1);
    if (IS("length")) return jv_int(len);
    if (IS("depth")) return jv_int(lp->depth0 + 1);
    if (IS("depth0")) return jv_int(lp->depth0);
    if (IS("previtem")) return i0 > 0 ? lp->items->v[i0 - 1] : jv_undef_msg(c->a, "there is no previous item");
    if (IS("nextitem")) return i0 + 1 < len ? lp->items->v[i0 + 1] : jv_undef_msg(c->a, "there is no next item");
    if (IS("cycle") || IS("changed")) {
      jv f = make_func(c, IS("cycle") ? F_LOOP_CYCLE : F_LOOP_CHANGED, IS("cycle") ? "cycle" : "changed");
      f.u.fn->self = obj;
      return f;
    }
    return undef_attr(c, obj, key);
  }
  case JV_MACRO:
    if (IS("name")) return jv_str(c->a, obj.u.m->name ? obj.u.m->name : "caller");
    return undef_attr(c, obj, key);
  case JV_FUNC:
    if (obj.u.fn->kind == F_CYCLER) {
      if (IS("next") || IS("reset")) {
        jv f = make_func(c, IS("next") ? F_CYCLER_NEXT : F_CYCLER_RESET, IS("next") ? "next" : "reset");
        f.u.fn->self = obj;
        return f;
      }
      if (IS("current")) return obj.u.fn->items->v[obj.u.fn->state];
    }
#undef IS
    return undef_attr(c, obj, key);
  default: return undef_attr(c, obj, key);
  }
}

jv jv_getitem(jctx *c, jv obj, jv key) {
  jcheck_undef(c, obj);
  int ok;
  switch (obj.t) {
  case JV_DICT: {
    int i = jd_find(obj.u.d, key);
    if (i >= 0) return obj.u.d->v[i];
    break;
  }
  case JV_LIST:
  case JV_TUPLE: {
    if (obj.unsafe >= JV_GEN) break; /* iterators are not subscriptable */
    int64_t i = as_index(c, key, &ok);
    if (ok) {
      if (i < 0) i += obj.u.l->n;
      if (i >= 0 && i < obj.u.l->n) return obj.u.l->v[i];
      return undef_attr(c, obj, key);
    }
    break;
  }
  case JV_STR: {
    int64_t i = as_index(c, key, &ok);
    if (ok) {
      int64_t len = (int64_t)utf8_len(obj.u.s.p, obj.u.s.n);
      if (i < 0) i += len;
      if (i >= 0 && i < len) {
        size_t off = utf8_offset(obj.u.s.p, obj.u.s.n, i);
        size_t adv;
        utf8_decode(obj.u.s.p + off, obj.u.s.n - off, &adv);
        jv r = jv_strn(obj.u.s.p + off, adv);
        r.safe = obj.safe;
        return r;
      }
      return undef_attr(c, obj, key);
    }
    break;
  }
  default: break;
  }
  if (key.t == JV_STR) return jv_getattr(c, obj, key.u.s.p, key.u.s.n);
  return undef_attr(c, obj, key);
}

/* Python slice semantics over n elements. */
static void slice_indices(jctx *c, int64_t n, jv start, jv stop, jv step, int64_t *s0, int64_t *s1, int64_t *st) {
  int64_t sp = 1;
  if (step.t != JV_NONE && step.t != JV_UNDEF) {
    if (step.t != JV_INT && step.t != JV_BOOL) jfail(c, "slice indices must be integers or None");
    sp = step.u.i;
    if (sp == 0) jfail(c, "slice step cannot be zero");
  }
  int64_t lo, hi;
  if (start.t == JV_NONE || start.t == JV_UNDEF) {
    lo = sp > 0 ? 0 : n - 1;
  } else {
    if (start.t != JV_INT && start.t != JV_BOOL) jfail(c, "slice indices must be integers or None");
    lo = start.u.i;
    if (lo < 0) {
      lo += n;
      if (lo < 0) lo = sp > 0 ? 0 : -1;
    } else if (lo >= n) {
      lo = sp > 0 ? n : n - 1;
    }
  }
  if (stop.t == JV_NONE || stop.t == JV_UNDEF) {
    hi = sp > 0 ? n : -1;
  } else {
    if (stop.t != JV_INT && stop.t != JV_BOOL) jfail(c, "slice indices must be integers or None");
    hi = stop.u.i;
    if (hi < 0) {
      hi += n;
      if (hi < 0) hi = sp > 0 ? 0 : -1;
    } else if (hi >= n) {
      hi = sp > 0 ? n : n - 1;
    }
  }
  *s0 = lo;
  *s1 = hi;
  *st = sp;
}

static jv do_slice(jctx *c, jv obj, jv start, jv stop, jv step) {
  jcheck_undef(c, obj);
  int64_t lo, hi, sp;
  if ((obj.t == JV_LIST || obj.t == JV_TUPLE) && obj.unsafe < JV_GEN) {
    slice_indices(c, obj.u.l->n, start, stop, step, &lo, &hi, &sp);
    jlist *l = jl_new(c->a, 4);
    for (int64_t i = lo; sp > 0 ? i < hi : i > hi; i += sp) jl_push(c->a, l, obj.u.l->v[i]);
    return obj.t == JV_LIST ? jv_list(l) : jv_tuple(l);
  }
  if (obj.t == JV_STR) {
    const char *p = obj.u.s.p;
    size_t n = obj.u.s.n;
    int ascii = utf8_len(p, n) == n;
    int64_t len = ascii ? (int64_t)n : (int64_t)utf8_len(p, n);
    slice_indices(c, len, start, stop, step, &lo, &hi, &sp);
    jv r;
    if (sp == 1) {
      if (hi <= lo) {
        r = jv_strn("", 0);
      } else if (ascii) {
        r = jv_strn(p + lo, (size_t)(hi - lo));
      } else {
        size_t a = utf8_offset(p, n, lo), b = utf8_offset(p, n, hi);
        r = jv_strn(p + a, b - a);
      }
    } else {
      /* general step: collect code point offsets */
      size_t *offs = ja_alloc(c->a, ((size_t)len + 1) * sizeof(size_t));
      int64_t k = 0;
      for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) offs[k++] = i;
      offs[len] = n;
      jbuf b;
      jb_init(&b, c->a, 0);
      for (int64_t i = lo; sp > 0 ? i < hi : i > hi; i += sp) jb_put(&b, p + offs[i], offs[i + 1] - offs[i]);
      r = jv_strn(b.p ? b.p : "", b.n);
    }
    r.safe = obj.safe;
    return r;
  }
  return undef_attr(c, obj, jv_str(c->a, "slice"));
}

/* ------------------------------------------------------------ operators */

static _Noreturn void type_error(jctx *c, const char *op, jv a, jv b) {
  jfail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(a), jv_type_name(b));
}

static jv html_escape(jctx *c, jv v) {
  jv s = jstr_of(c, v);
  if (v.t == JV_STR && v.safe) return v;
  jbuf b;
  jb_init(&b, c->a, 0);
  for (size_t i = 0; i < s.u.s.n; i++) {
    char ch = s.u.s.p[i];
    switch (ch) {
    case '&': jb_puts(&b, "&amp;"); break;
    case '<': jb_puts(&b, "&lt;"); break;
    case '>': jb_puts(&b, "&gt;"); break;
    case '"': jb_puts(&b, "&#34;"); break;
    case '\'': jb_puts(&b, "&#39;"); break;
    default: jb_putc(&b, ch);
    }
  }
  jv r = jv_strn(b.p ? b.p : "", b.n);
  r.safe = 1;
  return r;
}

/* markupsafe.escape, used by the escape filter too. */
jv jhtml_escape(jctx *c, jv v) { return html_escape(c, v); }

static jv str_concat(jctx *c, jv a, jv b) {
  int safe = a.safe || b.safe;
  if (safe) {
    /* markupsafe: Markup + str escapes the plain side */
    if (!a.safe) a = html_escape(c, a);
    if (!b.safe) b = html_escape(c, b);
  }
  size_t n = a.u.s.n + b.u.s.n;
  if (n > c->o->max_memory) jerr_throw(c->err, JERR_OOM, 0, 0, "string too large");
  char *p = ja_alloc(c->a, n + 1);
  memcpy(p, a.u.s.p, a.u.s.n);
  memcpy(p + a.u.s.n, b.u.s.p, b.u.s.n);
  jv r = jv_strn(p, n);
  r.safe = (uint8_t)safe;
  return r;
}

static jv repeat(jctx *c, jv seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.t == JV_STR) {
    if (seq.u.s.n && (uint64_t)times > c->o->max_memory / seq.u.s.n)
      jerr_throw(c->err, JERR_OOM, c->cur ? c->cur->line : 0, 0, "string repetition too large");
    size_t n = seq.u.s.n * (size_t)times;
    char *p = ja_alloc(c->a, n + 1);
    for (int64_t i = 0; i < times; i++) memcpy(p + (size_t)i * seq.u.s.n, seq.u.s.p, seq.u.s.n);
    jv r = jv_strn(p, n);
    r.safe = seq.safe;
    return r;
  }
  int64_t n = seq.u.l->n;
  if (n && (uint64_t)times > c->o->max_memory / (sizeof(jv) * (uint64_t)n))
    jerr_throw(c->err, JERR_OOM, c->cur ? c->cur->line : 0, 0, "list repetition too large");
  jlist *l = jl_new(c->a, n * times);
  for (int64_t i = 0; i < times; i++)
    for (int64_t k = 0; k < n; k++) l->v[l->n++] = seq.u.l->v[k];
  return seq.t == JV_LIST ? jv_list(l) : jv_tuple(l);
}

static double as_f(jv v) { return v.t == JV_FLOAT ? v.u.f : (double)v.u.i; }


jv jv_binop(jctx *c, int op, jv a, jv b) {
  jcheck_undef(c, a);
  jcheck_undef(c, b);
  const char *ops = jop_str(op);
  if (jv_is_num(a) && jv_is_num(b)) {
    int isint = a.t != JV_FLOAT && b.t != JV_FLOAT;
    int64_t x = a.u.i, y = b.u.i, r;
    switch (op) {
    case OP_ADD:
      if (isint) {
        if (__builtin_add_overflow(x, y, &r)) jfail(c, "integer overflow in +");
        return jv_int(r);
      }
      return jv_float(as_f(a) + as_f(b));
    case OP_SUB:
      if (isint) {
        if (__builtin_sub_overflow(x, y, &r)) jfail(c, "integer overflow in -");
        return jv_int(r);
      }
      return jv_float(as_f(a) - as_f(b));
    case OP_MUL:
      if (isint) {
        if (__builtin_mul_overflow(x, y, &r)) jfail(c, "integer overflow in *");
        return jv_int(r);
      }
      return jv_float(as_f(a) * as_f(b));
    case OP_DIV:
      if (as_f(b) == 0.0) jfail(c, "division by zero");
      return jv_float(as_f(a) / as_f(b));
    case OP_FLOORDIV:
      if (isint) {
        if (y == 0) jfail(c, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) jfail(c, "integer overflow in //");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
        return jv_int(q);
      }
      if (as_f(b) == 0.0) jfail(c, "float floor division by zero");
      return jv_float(floor(as_f(a) / as_f(b)));
    case OP_MOD:
      if (isint) {
        if (y == 0) jfail(c, "integer division or modulo by zero");
        if (y == -1) return jv_int(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return jv_int(m);
      } else {
        double fx = as_f(a), fy = as_f(b);
        if (fy == 0.0) jfail(c, "float modulo");
        double m = fmod(fx, fy);
        if (m != 0.0 && ((m < 0) != (fy < 0))) m += fy;
        return jv_float(m);
      }
    case OP_POW:
      if (isint && y >= 0) {
        int64_t res = 1, base = x;
        int64_t e = y;
        while (e > 0) {
          if (e & 1)
            if (__builtin_mul_overflow(res, base, &res)) jfail(c, "integer overflow in **");
          e >>= 1;
          if (e && __builtin_mul_overflow(base, base, &base)) jfail(c, "integer overflow in **");
        }
        return jv_int(res);
      }
      if (as_f(a) == 0.0 && as_f(b) < 0) jfail(c, "0.0 cannot be raised to a negative power");
      return jv_float(pow(as_f(a), as_f(b)));
    default: break;
    }
  }
  switch (op) {
  case OP_ADD:
    if (a.t == JV_STR && b.t == JV_STR) return str_concat(c, a, b);
    if ((a.t == JV_LIST && b.t == JV_LIST) || (a.t == JV_TUPLE && b.t == JV_TUPLE)) {
      jlist *l = jl_new(c->a, a.u.l->n + b.u.l->n);
      for (int64_t i = 0; i < a.u.l->n; i++) l->v[l->n++] = a.u.l->v[i];
      for (int64_t i = 0; i < b.u.l->n; i++) l->v[l->n++] = b.u.l->v[i];
      return a.t == JV_LIST ? jv_list(l) : jv_tuple(l);
    }
    if (a.t == JV_STR && !a.safe) jfail(c, "can only concatenate str (not \"%s\") to str", jv_type_name(b));
    if (a.t == JV_LIST) jfail(c, "can only concatenate list (not \"%s\") to list", jv_type_name(b));
    if (a.t == JV_TUPLE) jfail(c, "can only concatenate tuple (not \"%s\") to tuple", jv_type_name(b));
    type_error(c, ops, a, b);
  case OP_MUL:
    if ((a.t == JV_STR || jv_is_seq(a)) && (b.t == JV_INT || b.t == JV_BOOL)) return repeat(c, a, b.u.i);
    if ((b.t == JV_STR || jv_is_seq(b)) && (a.t == JV_INT || a.t == JV_BOOL)) return repeat(c, b, a.u.i);
    if (a.t == JV_STR || b.t == JV_STR) jfail(c, "can't multiply sequence by non-int of type '%s'", jv_type_name(a.t == JV_STR ? b : a));
    type_error(c, ops, a, b);
  case OP_MOD:
    if (a.t == JV_STR) return jstr_percent(c, a, b);
    type_error(c, ops, a, b);
  default: type_error(c, op == OP_POW ? "** or pow()" : ops, a, b);
  }
}

int jv_cmp(jctx *c, jv a, jv b) {
  if (jv_is_num(a) && jv_is_num(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) return a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
    double x = as_f(a), y = as_f(b);
    return x < y ? -1 : x > y;
  }
  if (a.t == JV_STR && b.t == JV_STR) {
    size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int r = memcmp(a.u.s.p, b.u.s.p, n);
    if (r) return r < 0 ? -1 : 1;
    return a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
  }
  if ((a.t == JV_LIST && b.t == JV_LIST) || (a.t == JV_TUPLE && b.t == JV_TUPLE)) {
    int64_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
    for (int64_t i = 0; i < n; i++) {
      if (jv_eq(a.u.l->v[i], b.u.l->v[i])) continue;
      return jv_cmp(c, a.u.l->v[i], b.u.l->v[i]);
    }
    return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
  }
  jcheck_undef(c, a);
  jcheck_undef(c, b);
  jfail(c, "'<' not supported between instances of '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

int jv_contains(jctx *c, jv container, jv item) {
  switch (container.t) {
  case JV_STR:
    if (item.t != JV_STR) jfail(c, "'in <string>' requires string as left operand, not %s", jv_type_name(item));
    if (item.u.s.n == 0) return 1;
    if (item.u.s.n > container.u.s.n) return 0;
    for (size_t i = 0; i + item.u.s.n <= container.u.s.n; i++)
      if (!memcmp(container.u.s.p + i, item.u.s.p, item.u.s.n)) return 1;
    return 0;
  case JV_LIST:
  case JV_TUPLE:
    for (int64_t i = 0; i < container.u.l->n; i++)
      if (jv_eq(container.u.l->v[i], item)) return 1;
    return 0;
  case JV_DICT: return jd_find(container.u.d, item) >= 0;
  case JV_UNDEF: return 0;
  default: jfail(c, "argument of type '%s' is not iterable", jv_type_name(container));
  }
}

jv jiter_list(jctx *c, jv v) {
  switch (v.t) {
  case JV_LIST:
  case JV_TUPLE: return v;
  case JV_UNDEF: return jv_list(jl_new(c->a, 0));
  case JV_DICT: {
    jlist *l = jl_new(c->a, v.u.d->n);
    for (int64_t i = 0; i < v.u.d->n; i++) l->v[l->n++] = v.u.d->k[i];
    return jv_list(l);
  }
  case JV_STR: {
    jlist *l = jl_new(c->a, (int64_t)v.u.s.n);
    size_t i = 0;
    while (i < v.u.s.n) {
      size_t adv;
      utf8_decode(v.u.s.p + i, v.u.s.n - i, &adv);
      jv ch = jv_strn(v.u.s.p + i, adv);
      ch.safe = v.safe;
      l->v[l->n++] = ch;
      i += adv;
    }
    return jv_list(l);
  }
  default: jfail(c, "'%s' object is not iterable", jv_type_name(v));
  }
}

/* ------------------------------------------------------------ evaluation */

static jv eval(jctx *c, const jnode *n, jscope *s);
static void exec_body(jctx *c, const jnode *n, jscope *s);
static void exec_node(jctx *c, const jnode *n, jscope *s);

static void eval_args(jctx *c, const jargs *a, jscope *s, jcall *out, int extra_kw) {
  int npos = a->npos, nkw = a->nkw;
  jv star = jv_undef(), dstar = jv_undef();
  if (a->star) {
    star = jiter_list(c, eval(c, a->star, s));
    npos += (int)star.u.l->n;
  }
  if (a->dstar) {
    dstar = eval(c, a->dstar, s);
    if (dstar.t != JV_DICT) jfail(c, "argument after ** must be a mapping, not %s", jv_type_name(dstar));
    nkw += (int)dstar.u.d->n;
  }
  out->pos = ja_alloc(c->a, (size_t)(npos + 1) * sizeof(jv));
  out->kwv = ja_alloc(c->a, (size_t)(nkw + extra_kw + 1) * sizeof(jv));
  out->kwn = ja_alloc(c->a, (size_t)(nkw + extra_kw + 1) * sizeof(char *));
  out->npos = 0;
  out->nkw = 0;
  for (int i = 0; i < a->npos; i++) out->pos[out->npos++] = eval(c, a->pos[i], s);
  if (a->star)
    for (int64_t i = 0; i < star.u.l->n; i++) out->pos[out->npos++] = star.u.l->v[i];
  for (int i = 0; i < a->nkw; i++) {
    out->kwn[out->nkw] = a->kwn[i];
    out->kwv[out->nkw++] = eval(c, a->kwv[i], s);
  }
  if (a->dstar)
    for (int64_t i = 0; i < dstar.u.d->n; i++) {
      jv k = dstar.u.d->k[i];
      if (k.t != JV_STR) jfail(c, "keywords must be strings");
      out->kwn[out->nkw] = ja_strndup(c->a, k.u.s.p, k.u.s.n);
      out->kwv[out->nkw++] = dstar.u.d->v[i];
    }
}

static int compare_op(jctx *c, int op, jv a, jv b) {
  switch (op) {
  case OP_EQ: return jv_eq(a, b);
  case OP_NE: return !jv_eq(a, b);
  case OP_LT: return jv_cmp(c, a, b) < 0;
  case OP_LTEQ: return jv_cmp(c, a, b) <= 0;
  case OP_GT: return jv_cmp(c, a, b) > 0;
  case OP_GTEQ: return jv_cmp(c, a, b) >= 0;
  case OP_IN: return jv_contains(c, b, a);
  case OP_NOTIN: return !jv_contains(c, b, a);
  }
  return 0;
}

static jv eval(jctx *c, const jnode *n, jscope *s) {
  const jnode *saved = c->cur;
  c->cur = n;
  enter(c);
  jv r = jv_undef();
  switch (n->kind) {
  case N_CONST: r = n->val; break;
  case N_NAME: r = lookup(c, s, n->name); break;
  case N_BLOCKINPUT: r = c->block_input; break;
  case N_LIST:
  case N_TUPLE: {
    jlist *l = jl_new(c->a, n->nkids);
    for (int i = 0; i < n->nkids; i++) l->v[l->n++] = eval(c, n->kids[i], s);
    r = n->kind == N_LIST ? jv_list(l) : jv_tuple(l);
    break;
  }
  case N_DICT: {
    jdict *d = jd_new(c->a, n->nkids / 2);
    for (int i = 0; i + 1 < n->nkids; i += 2) {
      jv k = eval(c, n->kids[i], s);
      if (k.t == JV_LIST || k.t == JV_DICT || k.t == JV_NS) jfail(c, "unhashable type: '%s'", jv_type_name(k));
      jd_set(c->a, d, k, eval(c, n->kids[i + 1], s));
    }
    r = jv_dict(d);
    break;
  }
  case N_GETATTR: {
    jv obj = eval(c, n->a, s);
    c->cur = n;
    r = jv_getattr(c, obj, n->name, strlen(n->name));
    break;
  }
  case N_GETITEM: {
    jv obj = eval(c, n->a, s);
    if (n->b->kind == N_SLICE) {
      const jnode *sl = n->b;
      jv st = sl->a ? eval(c, sl->a, s) : jv_none();
      jv sp = sl->b ? eval(c, sl->b, s) : jv_none();
      jv stp = sl->c ? eval(c, sl->c, s) : jv_none();
      c->cur = n;
      r = do_slice(c, obj, st, sp, stp);
    } else {
      jv key = eval(c, n->b, s);
      c->cur = n;
      r = jv_getitem(c, obj, key);
    }
    break;
  }
  case N_SLICE: jfail(c, "slice outside of a subscript");
  case N_CALL: {
    jv fn = eval(c, n->a, s);
    jcall args;
    eval_args(c, &n->args, s, &args, 0);
    c->cur = n;
    r = jcall_value(c, fn, &args);
    break;
  }
  case N_FILTER: {
    jv in = eval(c, n->a, s);
    jcall args;
    eval_args(c, &n->args, s, &args, 0);
    c->cur = n;
    r = jfilter_apply(c, n->name, in, &args);
    break;
  }
  case N_TEST: {
    jv in = eval(c, n->a, s);
    jcall args;
    eval_args(c, &n->args, s, &args, 0);
    c->cur = n;
    int t = jtest_apply(c, n->name, in, &args);
    r = jv_bool(n->op ? !t : t);
    break;
  }
  case N_UNARY: {
    jv v = eval(c, n->a, s);
    c->cur = n;
    jcheck_undef(c, v);
    if (!jv_is_num(v)) jfail(c, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+", jv_type_name(v));
    if (n->op == OP_POS) r = v.t == JV_BOOL ? jv_int(v.u.i) : v;
    else if (v.t == JV_FLOAT) r = jv_float(-v.u.f);
    else {
      if (v.u.i == INT64_MIN) jfail(c, "integer overflow in unary -");
      r = jv_int(-v.u.i);
    }
    break;
  }
  case N_BINARY: {
    jv a = eval(c, n->a, s);
    jv b = eval(c, n->b, s);
    c->cur = n;
    r = jv_binop(c, n->op, a, b);
    break;
  }
  case N_AND: {
    jv a = eval(c, n->a, s);
    r = jv_truthy(a) ? eval(c, n->b, s) : a;
    break;
  }
  case N_OR: {
    jv a = eval(c, n->a, s);
    r = jv_truthy(a) ? a : eval(c, n->b, s);
    break;
  }
  case N_NOT: r = jv_bool(!jv_truthy(eval(c, n->a, s))); break;
  case N_COMPARE: {
    jv left = eval(c, n->kids[0], s);
    r = jv_bool(1);
    for (int i = 1; i < n->nkids; i++) {
      jv right = eval(c, n->kids[i], s);
      c->cur = n;
      if (!compare_op(c, n->ops[i - 1], left, right)) {
        r = jv_bool(0);
        break;
      }
      left = right;
    }
    break;
  }
  case N_CONCAT: {
    jbuf b;
    jb_init(&b, c->a, c->o->max_output);
    for (int i = 0; i < n->nkids; i++) jv_to_str(&b, eval(c, n->kids[i], s));
    r = jv_strn(b.p ? b.p : "", b.n);
    break;
  }
  case N_COND:
    if (jv_truthy(eval(c, n->a, s))) r = eval(c, n->b, s);
    else if (n->c) r = eval(c, n->c, s);
    else r = jv_undef_msg(c->a, "the inline if-expression on line %d evaluated to false and no else section was defined.", n->line);
    break;
  default: jfail(c, "internal error: statement used as an expression");
  }
  leave(c);
  c->cur = saved;
  return r;
}

/* ------------------------------------------------------------ macros, calls */

static jv make_macro(jctx *c, const jnode *def, jscope *closure, const char *name) {
  jmacro *m = ja_alloc(c->a, sizeof *m);
  m->def = def;
  m->closure = closure;
  m->name = name;
  m->caller = jv_undef();
  jv v = {0};
  v.t = JV_MACRO;
  v.u.m = m;
  return v;
}

static jv capture(jctx *c, const jnode *body, jscope *s) {
  jbuf b;
  jb_init(&b, c->a, c->o->max_output);
  jbuf *saved = c->out;
  c->out = &b;
  exec_body(c, body, s);
  c->out = saved;
  return jv_strn(b.p ? b.p : "", b.n);
}

static jv call_macro(jctx *c, jmacro *m, jcall *a) {
  const jnode *d = m->def;
  const char *mname = m->name ? m->name : "caller";
  jstep(c);
  enter(c);
  jscope *s = scope_new(c, m->closure);
  int nparams = d->nnames;
  int uses_varargs = d->op & 1, uses_kwargs = d->op & 2, uses_caller = d->op & 4;
  if (a->npos > nparams && !uses_varargs)
    jfail(c, "macro '%s' takes not more than %d argument(s)", mname, nparams);
  uint8_t *set = ja_alloc(c->a, (size_t)nparams + 1);
  for (int i = 0; i < nparams && i < a->npos; i++) {
    scope_set(c, s, d->names[i], a->pos[i]);
    set[i] = 1;
  }
  jdict *kwargs = jd_new(c->a, 4);
  jv caller = jv_undef();
  for (int k = 0; k < a->nkw; k++) {
    int found = 0;
    for (int i = 0; i < nparams; i++)
      if (!strcmp(d->names[i], a->kwn[k])) {
        if (set[i]) jfail(c, "macro '%s' got multiple values for argument '%s'", mname, a->kwn[k]);
        scope_set(c, s, d->names[i], a->kwv[k]);
        set[i] = 1;
        found = 1;
        break;
      }
    if (found) continue;
    if (!strcmp(a->kwn[k], "caller") && uses_caller) {
      caller = a->kwv[k];
      continue;
    }
    if (!uses_kwargs) jfail(c, "macro '%s' takes no keyword argument '%s'", mname, a->kwn[k]);
    jd_set(c->a, kwargs, jv_str(c->a, a->kwn[k]), a->kwv[k]);
  }
  for (int i = 0; i < nparams; i++) {
    if (set[i]) continue;
    if (i < d->nkids && d->kids[i]) scope_set(c, s, d->names[i], eval(c, d->kids[i], s));
    else scope_set(c, s, d->names[i], jv_undef_msg(c->a, "parameter '%s' was not provided", d->names[i]));
  }
  jlist *va = jl_new(c->a, 4);
  for (int i = nparams; i < a->npos; i++) jl_push(c->a, va, a->pos[i]);
  scope_set(c, s, "varargs", jv_tuple(va));
  scope_set(c, s, "kwargs", jv_dict(kwargs));
  if (uses_caller) scope_set(c, s, "caller", caller.t == JV_UNDEF ? jv_undef_msg(c->a, "No caller defined") : caller);
  int brk = c->brk;
  c->brk = 0;
  jv r = capture(c, d->b, s);
  c->brk = brk;
  leave(c);
  return r;
}

static void run_for(jctx *c, const jnode *n, jscope *s, jv iter, int depth0);

static jv call_builtin(jctx *c, jfunc *f, jcall *a) {
  switch (f->kind) {
  case F_RANGE: {
    int64_t start = 0, stop, step = 1;
    for (int i = 0; i < a->npos; i++)
      if (a->pos[i].t != JV_INT && a->pos[i].t != JV_BOOL)
        jfail(c, "'%s' object cannot be interpreted as an integer", jv_type_name(a->pos[i]));
    if (a->npos == 1) stop = a->pos[0].u.i;
    else if (a->npos == 2 || a->npos == 3) {
      start = a->pos[0].u.i;
      stop = a->pos[1].u.i;
      if (a->npos == 3) step = a->pos[2].u.i;
    } else jfail(c, "range expected 1 to 3 arguments, got %d", a->npos);
    if (step == 0) jfail(c, "range() arg 3 must not be zero");
    int64_t count = 0;
    if (step > 0 && stop > start) count = (int64_t)(((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1);
    if (step < 0 && start > stop) count = (int64_t)(((uint64_t)start - (uint64_t)stop - 1) / (uint64_t)(-(step + 1) + 1) + 1);
    if (count > 100000) jfail(c, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    jlist *l = jl_new(c->a, count);
    for (int64_t i = 0; i < count; i++) l->v[l->n++] = jv_int(start + i * step);
    return jv_list(l);
  }
  case F_DICT: {
    jdict *d = jd_new(c->a, a->nkw);
    if (a->npos == 1) {
      jv src = a->pos[0];
      if (src.t == JV_DICT) {
        for (int64_t i = 0; i < src.u.d->n; i++) jd_set(c->a, d, src.u.d->k[i], src.u.d->v[i]);
      } else {
        jv l = jiter_list(c, src);
        for (int64_t i = 0; i < l.u.l->n; i++) {
          jv p = l.u.l->v[i];
          if (!jv_is_seq(p) || p.u.l->n != 2) jfail(c, "dictionary update sequence element #%lld has wrong length", (long long)i);
          jd_set(c->a, d, p.u.l->v[0], p.u.l->v[1]);
        }
      }
    } else if (a->npos > 1) jfail(c, "dict expected at most 1 argument, got %d", a->npos);
    for (int i = 0; i < a->nkw; i++) jd_set(c->a, d, jv_str(c->a, a->kwn[i]), a->kwv[i]);
    return jv_dict(d);
  }
  case F_NAMESPACE: {
    jdict *d = jd_new(c->a, a->nkw);
    for (int i = 0; i < a->npos; i++) {
      jv src = a->pos[i];
      if (src.t != JV_DICT) jfail(c, "namespace() positional arguments must be mappings");
      for (int64_t k = 0; k < src.u.d->n; k++) jd_set(c->a, d, src.u.d->k[k], src.u.d->v[k]);
    }
    for (int i = 0; i < a->nkw; i++) jd_set(c->a, d, jv_str(c->a, a->kwn[i]), a->kwv[i]);
    jv v = {0};
    v.t = JV_NS;
    v.u.d = d;
    return v;
  }
  case F_RAISE: {
    jv msg = a->npos ? jstr_of(c, a->pos[0]) : jv_strn("", 0);
    c->err->kind = JERR_RAISE;
    c->err->line = c->cur ? c->cur->line : 0;
    c->err->col = c->cur ? c->cur->col : 0;
    snprintf(c->err->msg, sizeof c->err->msg, "%.*s", (int)msg.u.s.n, msg.u.s.p);
    longjmp(c->err->jb, 1);
  }
  case F_STRFTIME: {
    jv fmt = jarg(a, 0, "format", jv_undef());
    if (fmt.t != JV_STR) jfail(c, "strftime_now() argument must be str, not %s", jv_type_name(fmt));
    time_t t = c->o->fixed_time ? (time_t)c->o->now : time(NULL);
    struct tm tmv;
    if (c->o->fixed_time) gmtime_r(&t, &tmv);
    else localtime_r(&t, &tmv);
    char *f = ja_strndup(c->a, fmt.u.s.p, fmt.u.s.n);
    char out[512];
    size_t k = fmt.u.s.n ? strftime(out, sizeof out, f, &tmv) : 0;
    return jv_strcopy(c->a, out, k);
  }
  case F_JOINER: {
    jv sep = jarg(a, 0, "sep", jv_strn(", ", 2));
    jv f = make_func(c, F_JOINER + 1000, "joiner");
    f.u.fn->self = sep;
    return f;
  }
  case F_JOINER + 1000:
    if (!f->state) {
      f->state = 1;
      return jv_strn("", 0);
    }
    return f->self;
  case F_CYCLER: {
    if (a->npos == 0) jfail(c, "cycler() needs at least one item");
    jv f = make_func(c, F_CYCLER, "cycler");
    f.u.fn->items = jl_new(c->a, a->npos);
    for (int i = 0; i < a->npos; i++) jl_push(c->a, f.u.fn->items, a->pos[i]);
    return f;
  }
  case F_CYCLER_NEXT: {
    jfunc *cy = f->self.u.fn;
    jv r = cy->items->v[cy->state];
    cy->state = (cy->state + 1) % cy->items->n;
    return r;
  }
  case F_CYCLER_RESET: f->self.u.fn->state = 0; return jv_none();
  case F_LOOP_CYCLE: {
    if (a->npos == 0) jfail(c, "no items for cycling given");
    return a->pos[f->self.u.lp->index0 % a->npos];
  }
  case F_LOOP_CHANGED: {
    jloop *lp = f->self.u.lp;
    jlist *l = jl_new(c->a, a->npos);
    for (int i = 0; i < a->npos; i++) jl_push(c->a, l, a->pos[i]);
    jv cur = jv_tuple(l);
    if (lp->has_changed && jv_eq(lp->last_changed, cur)) return jv_bool(0);
    lp->has_changed = 1;
    lp->last_changed = cur;
    return jv_bool(1);
  }
  case F_LOOP_CALL: {
    jloop *lp = f->self.u.lp;
    if (a->npos != 1) jfail(c, "loop() takes exactly one argument");
    jbuf b;
    jb_init(&b, c->a, c->o->max_output);
    jbuf *saved = c->out;
    c->out = &b;
    enter(c);
    run_for(c, lp->node, lp->scope, a->pos[0], lp->depth0 + 1);
    leave(c);
    c->out = saved;
    return jv_strn(b.p ? b.p : "", b.n);
  }
  case F_METHOD: return jmethod_call(c, f, a);
  }
  jfail(c, "'%.*s' is not callable", (int)f->name_n, f->name);
}

jv jcall_value(jctx *c, jv fn, jcall *a) {
  if (fn.t == JV_MACRO) return call_macro(c, fn.u.m, a);
  if (fn.t == JV_FUNC) {
    jstep(c);
    return call_builtin(c, fn.u.fn, a);
  }
  if (fn.t == JV_LOOP) {
    if (!fn.u.lp->node->op) jfail(c, "Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
    jv f = make_func(c, F_LOOP_CALL, "loop");
    f.u.fn->self = fn;
    jstep(c);
    return call_builtin(c, f.u.fn, a);
  }
  jcheck_undef(c, fn);
  jfail(c, "'%s' object is not callable", jv_type_name(fn));
}

/* ------------------------------------------------------------ statements */

static void assign(jctx *c, const jnode *target, jscope *s, jv v) {
  if (target->kind == N_NAME) {
    scope_set(c, s, target->name, v);
    return;
  }
  if (target->kind == N_TUPLE) {
    jv l = jiter_list(c, v);
    if (l.u.l->n != target->nkids) {
      if (l.u.l->n < target->nkids)
        jfail(c, "not enough values to unpack (expected %d, got %lld)", target->nkids, (long long)l.u.l->n);
      jfail(c, "too many values to unpack (expected %d)", target->nkids);
    }
    for (int i = 0; i < target->nkids; i++) assign(c, target->kids[i], s, l.u.l->v[i]);
    return;
  }
  if (target->kind == N_NSREF) {
    jv ns = lookup(c, s, target->name);
    if (ns.t != JV_NS) jfail(c, "cannot assign attribute on non-namespace object");
    jd_set(c->a, ns.u.d, jv_str(c->a, target->attr), v);
    return;
  }
  jfail(c, "cannot assign to this target");
}

static void run_for(jctx *c, const jnode *n, jscope *s, jv iterv, int depth0) {
  jv all = jiter_list(c, iterv);
  jlist *items = all.u.l;
  if (n->c) {
    /* `for x in y if cond`: filtered first, so loop.length counts survivors */
    jlist *kept = jl_new(c->a, items->n);
    for (int64_t i = 0; i < items->n; i++) {
      jstep(c);
      jscope *fs = scope_new(c, s);
      assign(c, n->a, fs, items->v[i]);
      if (jv_truthy(eval(c, n->c, fs))) jl_push(c->a, kept, items->v[i]);
    }
    items = kept;
  }
  if (items->n == 0) {
    if (n->d) exec_body(c, n->d, s);
    return;
  }
  jloop *lp = ja_alloc(c->a, sizeof *lp);
  lp->items = items;
  lp->depth0 = depth0;
  lp->node = n;
  lp->scope = s;
  jv loopv = {0};
  loopv.t = JV_LOOP;
  loopv.u.lp = lp;
  for (int64_t i = 0; i < items->n; i++) {
    jstep(c);
    lp->index0 = i;
    jscope *is = scope_new(c, s);
    scope_set(c, is, "loop", loopv);
    assign(c, n->a, is, items->v[i]);
    exec_body(c, n->kids[0], is);
    if (c->brk == 1) {
      c->brk = 0;
      break;
    }
    c->brk = 0;
  }
}

static void exec_body(jctx *c, const jnode *n, jscope *s) {
  if (n->kind != N_BODY) {
    exec_node(c, n, s);
    return;
  }
  for (int i = 0; i < n->nkids; i++) {
    exec_node(c, n->kids[i], s);
    if (c->brk) return;
  }
}

static void exec_node(jctx *c, const jnode *n, jscope *s) {
  c->cur = n;
  switch (n->kind) {
  case N_BODY: exec_body(c, n, s); return;
  case N_DATA: jb_put(c->out, n->val.u.s.p, n->val.u.s.n); return;
  case N_OUTPUT: emit(c, eval(c, n->a, s)); return;
  case N_IF:
    enter(c);
    if (jv_truthy(eval(c, n->a, s))) exec_body(c, n->b, s);
    else if (n->c) exec_body(c, n->c, s);
    leave(c);
    return;
  case N_FOR: {
    enter(c);
    jv it = eval(c, n->b, s);
    c->cur = n;
    run_for(c, n, s, it, 0);
    leave(c);
    return;
  }
  case N_SET: {
    jv v = eval(c, n->b, s);
    c->cur = n;
    assign(c, n->a, s, v);
    return;
  }
  case N_SETBLOCK: {
    enter(c);
    jv v = capture(c, n->b, s);
    if (n->c) {
      jv saved = c->block_input;
      c->block_input = v;
      v = eval(c, n->c, s);
      c->block_input = saved;
    }
    c->cur = n;
    assign(c, n->a, s, v);
    leave(c);
    return;
  }
  case N_MACRO: scope_set(c, s, n->name, make_macro(c, n, s, n->name)); return;
  case N_CALLBLOCK: {
    enter(c);
    jv caller = make_macro(c, n, s, NULL);
    const jnode *call = n->a;
    jv fn = eval(c, call->a, s);
    jcall args;
    eval_args(c, &call->args, s, &args, 1);
    args.kwn[args.nkw] = "caller";
    args.kwv[args.nkw++] = caller;
    c->cur = n;
    emit(c, jcall_value(c, fn, &args));
    leave(c);
    return;
  }
  case N_FILTERBLOCK: {
    enter(c);
    jscope *fs = scope_new(c, s);
    jv v = capture(c, n->b, fs);
    jv saved = c->block_input;
    c->block_input = v;
    emit(c, eval(c, n->a, fs));
    c->block_input = saved;
    leave(c);
    return;
  }
  case N_WITH: {
    enter(c);
    jscope *ws = scope_new(c, s);
    for (int i = 0; i < n->nnames; i++) scope_set(c, ws, n->names[i], eval(c, n->kids[i], s));
    exec_body(c, n->b, ws);
    leave(c);
    return;
  }
  case N_BREAK: c->brk = 1; return;
  case N_CONTINUE: c->brk = 2; return;
  default: emit(c, eval(c, n, s));
  }
}

/* ------------------------------------------------------------ entry */

int jinja_render(const jtemplate *t, const char *ctx_json, size_t ctx_len, const jrender_opts *opts, char **out,
                 size_t *out_len, jerr *err) {
  jarena arena = {0};
  arena.budget = opts->max_memory;
  arena.err = err;
  *out = NULL;
  if (out_len) *out_len = 0;
  jctx *volatile cp = NULL;
  if (setjmp(err->jb)) {
    ja_free_all(&arena);
    (void)cp;
    return -1;
  }
  jctx *c = ja_alloc(&arena, sizeof *c);
  cp = c;
  c->a = &arena;
  c->err = err;
  c->o = opts;
  jbuf *ob = ja_alloc(&arena, sizeof *ob);
  jb_init(ob, &arena, opts->max_output);
  c->out = ob;
  c->block_input = jv_undef();
  jv vars = ctx_json && ctx_len ? jv_from_json(&arena, ctx_json, ctx_len, "context") : jv_dict(jd_new(&arena, 0));
  if (vars.t != JV_DICT) jerr_throw(err, JERR_RUNTIME, 0, 0, "context: the JSON must be an object");
  c->globals = ja_alloc(&arena, sizeof(jscope));
  c->globals->vars = vars.u.d;
  jscope *root = scope_new(c, c->globals);
  exec_body(c, t->root, root);
  char *res = malloc(ob->n + 1);
  if (!res) jerr_throw(err, JERR_OOM, 0, 0, "out of memory");
  if (ob->n) memcpy(res, ob->p, ob->n);
  res[ob->n] = 0;
  *out = res;
  if (out_len) *out_len = ob->n;
  ja_free_all(&arena);
  return 0;
}
