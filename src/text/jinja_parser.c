/* jinja_parser.c — tokens to an AST, following Jinja2's grammar and operator
 * precedence (including its quirks: `**` is left-associative, filters bind
 * tighter than unary minus's operand, `is` tests take one bare argument). */
#include <stdio.h>
#include <string.h>

#include "jinja.h"

#define MAX_PARSE_DEPTH 500

typedef struct parser {
  jarena *a;
  jtok *t;
  int64_t n, i;
  int depth;
  int loops; /* enclosing for bodies (macro bodies start again at 0) */
} parser;

static jtok *cur(parser *P) { return &P->t[P->i]; }
static jtok *look(parser *P) { return &P->t[P->i + 1 < P->n ? P->i + 1 : P->n - 1]; }
static jtok *next(parser *P) {
  jtok *t = cur(P);
  if (P->i + 1 < P->n) P->i++;
  return t;
}

static const char *describe(parser *P, jtok *t) {
  static _Thread_local char buf[96];
  switch (t->type) {
  case T_EOF: return "end of template";
  case T_DATA: return "template data";
  case T_VAR_BEGIN: return "begin of print statement";
  case T_VAR_END: return "end of print statement";
  case T_BLOCK_BEGIN: return "begin of statement block";
  case T_BLOCK_END: return "end of statement block";
  case T_NAME:
  case T_INT:
  case T_FLOAT:
    snprintf(buf, sizeof buf, "%.*s", (int)(t->n > 60 ? 60 : t->n), t->p);
    return buf;
  case T_STRING: return "string";
  case T_OP: return jop_str(t->op);
  }
  (void)P;
  return "?";
}

static _Noreturn void pfail_at(parser *P, jtok *t, const char *fmt, const char *a1, const char *a2) {
  jerr_throw(P->a->err, JERR_SYNTAX, t->line, t->col, fmt, a1, a2);
}

static int is_op(jtok *t, int op) { return t->type == T_OP && t->op == op; }
static int is_name(jtok *t, const char *s) {
  return t->type == T_NAME && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

static jtok *expect_op(parser *P, int op) {
  jtok *t = cur(P);
  if (!is_op(t, op)) {
    if (t->type == T_EOF) pfail_at(P, t, "unexpected end of template, expected '%s'%s", jop_str(op), "");
    pfail_at(P, t, "expected token '%s', got '%s'", jop_str(op), describe(P, t));
  }
  return next(P);
}

static jtok *expect_type(parser *P, int type, const char *what) {
  jtok *t = cur(P);
  if (t->type != type) {
    if (t->type == T_EOF) pfail_at(P, t, "unexpected end of template, expected %s%s", what, "");
    pfail_at(P, t, "expected %s, got '%s'", what, describe(P, t));
  }
  return next(P);
}

static const char *tok_name(parser *P, jtok *t) { return ja_strndup(P->a, t->p, t->n); }

static jnode *mk(parser *P, int kind, jtok *at) {
  jnode *n = ja_alloc(P->a, sizeof *n);
  n->kind = (uint8_t)kind;
  n->line = at->line;
  n->col = at->col;
  return n;
}

/* A growable node list in the arena. */
typedef struct nlist {
  jnode **v;
  int n, cap;
} nlist;
static void nl_push(parser *P, nlist *l, jnode *x) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 8;
    jnode **v = ja_alloc(P->a, (size_t)cap * sizeof *v);
    if (l->n) memcpy(v, l->v, (size_t)l->n * sizeof *v);
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = x;
}

static void enter(parser *P) {
  if (++P->depth > MAX_PARSE_DEPTH) pfail_at(P, cur(P), "template nested too deeply%s%s", "", "");
}
static void leave(parser *P) { P->depth--; }

static jnode *parse_expression(parser *P, int with_condexpr);
static jnode *parse_tuple(parser *P, int simplified, int with_condexpr, const char *extra_end, int explicit_parens);
static jnode *parse_unary(parser *P, int with_filter);
static jnode *parse_primary(parser *P);
static jnode *parse_postfix(parser *P, jnode *node);
static jnode *parse_filter_expr(parser *P, jnode *node);
static jnode *parse_filter(parser *P, jnode *node, int start_inline);
static jnode *subparse(parser *P, const char *const *end_tokens);
static jnode *jp_or(parser *P);

/* ------------------------------------------------------------ expressions */

static jnode *parse_expression(parser *P, int with_condexpr) {
  enter(P);
  jnode *r;
  if (with_condexpr) {
    jtok *at = cur(P);
    jnode *expr1 = NULL;
    /* parse_condexpr */
    expr1 = jp_or(P);
    while (is_name(cur(P), "if")) {
      next(P);
      jnode *expr2 = jp_or(P);
      jnode *expr3 = NULL;
      if (is_name(cur(P), "else")) {
        next(P);
        expr3 = parse_expression(P, 1);
      }
      jnode *c = mk(P, N_COND, at);
      c->a = expr2; /* test */
      c->b = expr1; /* then */
      c->c = expr3; /* else (may be NULL) */
      expr1 = c;
    }
    r = expr1;
  } else {
    r = jp_or(P);
  }
  leave(P);
  return r;
}

static jnode *parse_not(parser *P);
static jnode *parse_and(parser *P) {
  jnode *left = parse_not(P);
  while (is_name(cur(P), "and")) {
    jtok *at = next(P);
    jnode *n = mk(P, N_AND, at);
    n->a = left;
    n->b = parse_not(P);
    left = n;
  }
  return left;
}

static jnode *jp_or(parser *P) {
  jnode *left = parse_and(P);
  while (is_name(cur(P), "or")) {
    jtok *at = next(P);
    jnode *n = mk(P, N_OR, at);
    n->a = left;
    n->b = parse_and(P);
    left = n;
  }
  return left;
}

static jnode *parse_compare(parser *P);
static jnode *parse_not(parser *P) {
  if (is_name(cur(P), "not")) {
    jtok *at = next(P);
    enter(P);
    jnode *n = mk(P, N_NOT, at);
    n->a = parse_not(P);
    leave(P);
    return n;
  }
  return parse_compare(P);
}

static jnode *parse_math1(parser *P);
static jnode *parse_compare(parser *P) {
  jtok *at = cur(P);
  jnode *expr = parse_math1(P);
  nlist operands = {0};
  int nops = 0, capops = 0;
  uint8_t *ops = NULL;
  for (;;) {
    jtok *t = cur(P);
    int op = 0;
    if (t->type == T_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_LTEQ ||
                            t->op == OP_GT || t->op == OP_GTEQ)) {
      op = t->op;
      next(P);
    } else if (is_name(t, "in")) {
      op = OP_IN;
      next(P);
    } else if (is_name(t, "not") && is_name(look(P), "in")) {
      op = OP_NOTIN;
      next(P);
      next(P);
    } else {
      break;
    }
    if (nops == capops) {
      capops = capops ? capops * 2 : 4;
      uint8_t *o = ja_alloc(P->a, (size_t)capops);
      if (nops) memcpy(o, ops, (size_t)nops);
      ops = o;
    }
    ops[nops++] = (uint8_t)op;
    if (!operands.n) nl_push(P, &operands, expr);
    nl_push(P, &operands, parse_math1(P));
  }
  if (!nops) return expr;
  jnode *n = mk(P, N_COMPARE, at);
  n->kids = operands.v;
  n->nkids = operands.n;
  n->ops = ops;
  return n;
}

static jnode *binop(parser *P, jtok *at, int op, jnode *l, jnode *r) {
  jnode *n = mk(P, N_BINARY, at);
  n->op = (uint8_t)op;
  n->a = l;
  n->b = r;
  return n;
}

static jnode *parse_concat(parser *P);
static jnode *parse_math1(parser *P) {
  jnode *left = parse_concat(P);
  while (is_op(cur(P), OP_ADD) || is_op(cur(P), OP_SUB)) {
    jtok *at = next(P);
    left = binop(P, at, at->op, left, parse_concat(P));
  }
  return left;
}

static jnode *parse_math2(parser *P);
static jnode *parse_concat(parser *P) {
  jtok *at = cur(P);
  jnode *first = parse_math2(P);
  if (!is_op(cur(P), OP_TILDE)) return first;
  nlist parts = {0};
  nl_push(P, &parts, first);
  while (is_op(cur(P), OP_TILDE)) {
    next(P);
    nl_push(P, &parts, parse_math2(P));
  }
  jnode *n = mk(P, N_CONCAT, at);
  n->kids = parts.v;
  n->nkids = parts.n;
  return n;
}

static jnode *parse_pow(parser *P);
static jnode *parse_math2(parser *P) {
  jnode *left = parse_pow(P);
  while (is_op(cur(P), OP_MUL) || is_op(cur(P), OP_DIV) || is_op(cur(P), OP_FLOORDIV) ||
         is_op(cur(P), OP_MOD)) {
    jtok *at = next(P);
    left = binop(P, at, at->op, left, parse_pow(P));
  }
  return left;
}

static jnode *parse_pow(parser *P) {
  jnode *left = parse_unary(P, 1);
  while (is_op(cur(P), OP_POW)) {
    jtok *at = next(P);
    left = binop(P, at, OP_POW, left, parse_unary(P, 1));
  }
  return left;
}

static jnode *parse_unary(parser *P, int with_filter) {
  jtok *at = cur(P);
  jnode *node;
  enter(P);
  if (is_op(at, OP_SUB) || is_op(at, OP_ADD)) {
    next(P);
    node = mk(P, N_UNARY, at);
    node->op = at->op == OP_SUB ? OP_NEG : OP_POS;
    node->a = parse_unary(P, 0);
  } else {
    node = parse_primary(P);
  }
  node = parse_postfix(P, node);
  if (with_filter) node = parse_filter_expr(P, node);
  leave(P);
  return node;
}

static jnode *mkconst(parser *P, jtok *at, jv v) {
  jnode *n = mk(P, N_CONST, at);
  n->val = v;
  return n;
}

static jnode *parse_primary(parser *P) {
  jtok *t = cur(P);
  switch (t->type) {
  case T_NAME: {
    next(P);
    if (is_name(t, "true") || is_name(t, "True")) return mkconst(P, t, jv_bool(1));
    if (is_name(t, "false") || is_name(t, "False")) return mkconst(P, t, jv_bool(0));
    if (is_name(t, "none") || is_name(t, "None")) return mkconst(P, t, jv_none());
    jnode *n = mk(P, N_NAME, t);
    n->name = tok_name(P, t);
    return n;
  }
  case T_STRING: {
    next(P);
    if (cur(P)->type != T_STRING) return mkconst(P, t, jv_strn(t->p, t->n));
    jbuf b;
    jb_init(&b, P->a, 0);
    jb_put(&b, t->p, t->n);
    while (cur(P)->type == T_STRING) {
      jtok *s = next(P);
      jb_put(&b, s->p, s->n);
    }
    return mkconst(P, t, jv_strn(b.p ? b.p : "", b.n));
  }
  case T_INT: next(P); return mkconst(P, t, jv_int(t->i));
  case T_FLOAT: next(P); return mkconst(P, t, jv_float(t->f));
  case T_OP:
    if (t->op == OP_LPAREN) {
      next(P);
      jnode *n = parse_tuple(P, 0, 1, NULL, 1);
      expect_op(P, OP_RPAREN);
      return n;
    }
    if (t->op == OP_LBRACKET) {
      next(P);
      nlist items = {0};
      while (!is_op(cur(P), OP_RBRACKET)) {
        if (items.n) expect_op(P, OP_COMMA);
        if (is_op(cur(P), OP_RBRACKET)) break;
        nl_push(P, &items, parse_expression(P, 1));
      }
      expect_op(P, OP_RBRACKET);
      jnode *n = mk(P, N_LIST, t);
      n->kids = items.v;
      n->nkids = items.n;
      return n;
    }
    if (t->op == OP_LBRACE) {
      next(P);
      nlist items = {0};
      while (!is_op(cur(P), OP_RBRACE)) {
        if (items.n) expect_op(P, OP_COMMA);
        if (is_op(cur(P), OP_RBRACE)) break;
        nl_push(P, &items, parse_expression(P, 1));
        expect_op(P, OP_COLON);
        nl_push(P, &items, parse_expression(P, 1));
      }
      expect_op(P, OP_RBRACE);
      jnode *n = mk(P, N_DICT, t);
      n->kids = items.v;
      n->nkids = items.n;
      return n;
    }
    break;
  default: break;
  }
  if (t->type == T_EOF || t->type == T_VAR_END || t->type == T_BLOCK_END)
    pfail_at(P, t, "expected an expression, got '%s'%s", describe(P, t), "");
  pfail_at(P, t, "unexpected '%s'%s", describe(P, t), "");
}

static int is_tuple_end(parser *P, const char *extra_end) {
  jtok *t = cur(P);
  if (t->type == T_VAR_END || t->type == T_BLOCK_END || t->type == T_EOF || is_op(t, OP_RPAREN)) return 1;
  if (extra_end && is_name(t, extra_end)) return 1;
  return 0;
}

static jnode *parse_tuple(parser *P, int simplified, int with_condexpr, const char *extra_end, int explicit_parens) {
  jtok *at = cur(P);
  nlist args = {0};
  int is_tuple = 0;
  enter(P);
  for (;;) {
    if (args.n) expect_op(P, OP_COMMA);
    if (is_tuple_end(P, extra_end)) break;
    jnode *e;
    if (simplified) {
      e = parse_primary(P);
    } else {
      e = parse_expression(P, with_condexpr);
    }
    nl_push(P, &args, e);
    if (is_op(cur(P), OP_COMMA)) is_tuple = 1;
    else break;
  }
  leave(P);
  if (!is_tuple) {
    if (args.n) return args.v[0];
    if (!explicit_parens) pfail_at(P, cur(P), "Expected an expression, got '%s'%s", describe(P, cur(P)), "");
  }
  jnode *n = mk(P, N_TUPLE, at);
  n->kids = args.v;
  n->nkids = args.n;
  return n;
}

static void parse_call_args(parser *P, jargs *out) {
  expect_op(P, OP_LPAREN);
  nlist pos = {0}, kwv = {0};
  const char **kwn = NULL;
  int kwcap = 0;
  int require_comma = 0;
  memset(out, 0, sizeof *out);
  while (!is_op(cur(P), OP_RPAREN)) {
    if (require_comma) {
      expect_op(P, OP_COMMA);
      if (is_op(cur(P), OP_RPAREN)) break;
    }
    jtok *t = cur(P);
    if (is_op(t, OP_MUL)) {
      next(P);
      out->star = parse_expression(P, 1);
    } else if (is_op(t, OP_POW)) {
      next(P);
      out->dstar = parse_expression(P, 1);
    } else if (t->type == T_NAME && is_op(look(P), OP_ASSIGN)) {
      next(P);
      next(P);
      if (kwv.n == kwcap) {
        kwcap = kwcap ? kwcap * 2 : 4;
        const char **k = ja_alloc(P->a, (size_t)kwcap * sizeof *k);
        if (kwv.n) memcpy(k, kwn, (size_t)kwv.n * sizeof *k);
        kwn = k;
      }
      kwn[kwv.n] = tok_name(P, t);
      nl_push(P, &kwv, parse_expression(P, 1));
    } else {
      if (out->star || out->dstar || kwv.n)
        pfail_at(P, t, "invalid syntax for function call expression%s%s", "", "");
      nl_push(P, &pos, parse_expression(P, 1));
    }
    require_comma = 1;
  }
  expect_op(P, OP_RPAREN);
  out->pos = pos.v;
  out->npos = pos.n;
  out->kwn = kwn;
  out->kwv = kwv.v;
  out->nkw = kwv.n;
}

static jnode *parse_subscript_item(parser *P) {
  /* start[:stop[:step]] with each part optional */
  jtok *at = cur(P);
  jnode *start = NULL, *stop = NULL, *step = NULL;
  if (!is_op(at, OP_COLON)) {
    start = parse_expression(P, 1);
    if (!is_op(cur(P), OP_COLON)) return start;
  }
  next(P); /* ':' */
  if (!is_op(cur(P), OP_RBRACKET) && !is_op(cur(P), OP_COMMA) && !is_op(cur(P), OP_COLON))
    stop = parse_expression(P, 1);
  if (is_op(cur(P), OP_COLON)) {
    next(P);
    if (!is_op(cur(P), OP_RBRACKET) && !is_op(cur(P), OP_COMMA)) step = parse_expression(P, 1);
  }
  jnode *n = mk(P, N_SLICE, at);
  n->a = start;
  n->b = stop;
  n->c = step;
  return n;
}

static jnode *parse_postfix(parser *P, jnode *node) {
  for (;;) {
    jtok *t = cur(P);
    if (is_op(t, OP_DOT)) {
      next(P);
      jtok *a = cur(P);
      if (a->type == T_NAME) {
        next(P);
        jnode *n = mk(P, N_GETATTR, t);
        n->a = node;
        n->name = tok_name(P, a);
        node = n;
      } else if (a->type == T_INT) {
        next(P);
        jnode *n = mk(P, N_GETITEM, t);
        n->a = node;
        n->b = mkconst(P, a, jv_int(a->i));
        node = n;
      } else {
        pfail_at(P, a, "expected name or number%s%s", "", "");
      }
    } else if (is_op(t, OP_LBRACKET)) {
      next(P);
      nlist idx = {0};
      while (!is_op(cur(P), OP_RBRACKET)) {
        if (idx.n) {
          expect_op(P, OP_COMMA);
          if (is_op(cur(P), OP_RBRACKET)) break;
        }
        nl_push(P, &idx, parse_subscript_item(P));
      }
      expect_op(P, OP_RBRACKET);
      if (idx.n == 0) pfail_at(P, t, "expected subscript expression%s%s", "", "");
      jnode *key;
      if (idx.n == 1) {
        key = idx.v[0];
      } else {
        key = mk(P, N_TUPLE, t);
        key->kids = idx.v;
        key->nkids = idx.n;
      }
      jnode *n = mk(P, N_GETITEM, t);
      n->a = node;
      n->b = key;
      node = n;
    } else if (is_op(t, OP_LPAREN)) {
      jnode *n = mk(P, N_CALL, t);
      n->a = node;
      parse_call_args(P, &n->args);
      node = n;
    } else {
      break;
    }
  }
  return node;
}

static jnode *parse_filter(parser *P, jnode *node, int start_inline) {
  while (is_op(cur(P), OP_PIPE) || start_inline) {
    if (!start_inline) next(P);
    start_inline = 0;
    jtok *t = expect_type(P, T_NAME, "filter name");
    jbuf nm;
    jb_init(&nm, P->a, 0);
    jb_put(&nm, t->p, t->n);
    while (is_op(cur(P), OP_DOT)) {
      next(P);
      jtok *x = expect_type(P, T_NAME, "name");
      jb_putc(&nm, '.');
      jb_put(&nm, x->p, x->n);
    }
    jnode *n = mk(P, N_FILTER, t);
    n->a = node;
    n->name = nm.p;
    if (!jfilter_exists(n->name)) pfail_at(P, t, "No filter named '%s'.%s", n->name, "");
    if (is_op(cur(P), OP_LPAREN)) parse_call_args(P, &n->args);
    node = n;
  }
  return node;
}

static jnode *parse_test(parser *P, jnode *node) {
  jtok *is = next(P); /* 'is' */
  int negated = 0;
  if (is_name(cur(P), "not")) {
    next(P);
    negated = 1;
  }
  jtok *t = expect_type(P, T_NAME, "test name");
  jnode *n = mk(P, N_TEST, is);
  n->a = node;
  n->op = (uint8_t)negated;
  n->name = tok_name(P, t);
  if (!jtest_exists(n->name)) pfail_at(P, t, "No test named '%s'.%s", n->name, "");
  jtok *c = cur(P);
  if (is_op(c, OP_LPAREN)) {
    parse_call_args(P, &n->args);
  } else if ((c->type == T_NAME || c->type == T_STRING || c->type == T_INT || c->type == T_FLOAT ||
              is_op(c, OP_LPAREN) || is_op(c, OP_LBRACKET) || is_op(c, OP_LBRACE)) &&
             !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
    if (is_name(c, "is")) pfail_at(P, c, "You cannot chain multiple tests with is%s%s", "", "");
    jnode *arg = parse_postfix(P, parse_primary(P));
    n->args.pos = ja_alloc(P->a, sizeof(jnode *));
    n->args.pos[0] = arg;
    n->args.npos = 1;
  }
  return n;
}

static jnode *parse_filter_expr(parser *P, jnode *node) {
  for (;;) {
    jtok *t = cur(P);
    if (is_op(t, OP_PIPE)) node = parse_filter(P, node, 0);
    else if (is_name(t, "is")) node = parse_test(P, node);
    else if (is_op(t, OP_LPAREN)) {
      jnode *n = mk(P, N_CALL, t);
      n->a = node;
      parse_call_args(P, &n->args);
      node = n;
    } else break;
  }
  return node;
}

/* ------------------------------------------------------------ statements */

static void expect_block_end(parser *P) {
  if (is_op(cur(P), OP_COLON)) next(P);
  expect_type(P, T_BLOCK_END, "end of statement block");
}

/* parse_statements: block end, body until one of end_tokens (left current
 * unless drop). */
static jnode *parse_statements(parser *P, const char *const *end_tokens, int drop) {
  expect_block_end(P);
  jnode *body = subparse(P, end_tokens);
  if (cur(P)->type == T_EOF) {
    char want[200] = "";
    for (int i = 0; end_tokens[i]; i++) {
      if (i) strncat(want, " or ", sizeof want - strlen(want) - 1);
      strncat(want, "'", sizeof want - strlen(want) - 1);
      strncat(want, end_tokens[i], sizeof want - strlen(want) - 1);
      strncat(want, "'", sizeof want - strlen(want) - 1);
    }
    pfail_at(P, cur(P), "Unexpected end of template. Jinja was looking for the following tags: %s. "
             "The innermost block that needs to be closed is %s.", want, end_tokens[0]);
  }
  if (drop) next(P);
  return body;
}

static jnode *parse_assign_target(parser *P, int with_tuple, int name_only, const char *extra_end, int with_ns) {
  jtok *t = cur(P);
  jnode *target;
  if (name_only) {
    expect_type(P, T_NAME, "name");
    target = mk(P, N_NAME, t);
    target->name = tok_name(P, t);
  } else if (with_ns && t->type == T_NAME && is_op(look(P), OP_DOT)) {
    next(P);
    next(P);
    jtok *attr = expect_type(P, T_NAME, "name");
    target = mk(P, N_NSREF, t);
    target->name = tok_name(P, t);
    target->attr = tok_name(P, attr);
  } else {
    target = with_tuple ? parse_tuple(P, 1, 1, extra_end, 0) : parse_primary(P);
  }
  if (target->kind == N_TUPLE) {
    for (int i = 0; i < target->nkids; i++)
      if (target->kids[i]->kind != N_NAME) pfail_at(P, t, "can't assign to '%s'%s", "tuple", "");
  } else if (target->kind != N_NAME && target->kind != N_NSREF) {
    pfail_at(P, t, "can't assign to '%s'%s", target->kind == N_CONST ? "const" : "expression", "");
  }
  if (target->kind == N_NAME) {
    const char *nm = target->name;
    if (!strcmp(nm, "true") || !strcmp(nm, "false") || !strcmp(nm, "none") || !strcmp(nm, "True") ||
        !strcmp(nm, "False") || !strcmp(nm, "None"))
      pfail_at(P, t, "can't assign to '%s'%s", "const", "");
  }
  return target;
}

static void parse_signature(parser *P, jnode *n) {
  expect_op(P, OP_LPAREN);
  nlist defs = {0};
  const char **names = NULL;
  int nn = 0, cap = 0, seen_default = 0;
  while (!is_op(cur(P), OP_RPAREN)) {
    if (nn) expect_op(P, OP_COMMA);
    jtok *t = expect_type(P, T_NAME, "parameter name");
    if (nn == cap) {
      cap = cap ? cap * 2 : 4;
      const char **v = ja_alloc(P->a, (size_t)cap * sizeof *v);
      if (nn) memcpy(v, names, (size_t)nn * sizeof *v);
      names = v;
    }
    names[nn++] = tok_name(P, t);
    if (is_op(cur(P), OP_ASSIGN)) {
      next(P);
      nl_push(P, &defs, parse_expression(P, 1));
      seen_default = 1;
    } else {
      if (seen_default) pfail_at(P, t, "non-default argument follows default argument%s%s", "", "");
      nl_push(P, &defs, NULL);
    }
  }
  expect_op(P, OP_RPAREN);
  n->names = names;
  n->nnames = nn;
  n->kids = defs.v;
  n->nkids = defs.n;
  /* defs.n counts NULLs too (nl_push keeps them), so kids[i] pairs with names[i] */
}

static jnode *parse_statement(parser *P);

/* Whether a macro body mentions `name` (varargs, kwargs, caller): Jinja only
 * accepts extra arguments for macros that use them. */
static int uses_name(const jnode *n, const char *name, int depth) {
  if (!n || depth > 400) return 0;
  if (n->kind == N_NAME && !strcmp(n->name, name)) return 1;
  if (uses_name(n->a, name, depth + 1) || uses_name(n->b, name, depth + 1) || uses_name(n->c, name, depth + 1) ||
      uses_name(n->d, name, depth + 1))
    return 1;
  for (int i = 0; i < n->nkids; i++)
    if (uses_name(n->kids[i], name, depth + 1)) return 1;
  for (int i = 0; i < n->args.npos; i++)
    if (uses_name(n->args.pos[i], name, depth + 1)) return 1;
  for (int i = 0; i < n->args.nkw; i++)
    if (uses_name(n->args.kwv[i], name, depth + 1)) return 1;
  return uses_name(n->args.star, name, depth + 1) || uses_name(n->args.dstar, name, depth + 1);
}

static void macro_flags(jnode *r) {
  r->op = (uint8_t)((uses_name(r->b, "varargs", 0) ? 1 : 0) | (uses_name(r->b, "kwargs", 0) ? 2 : 0) |
                    (uses_name(r->b, "caller", 0) ? 4 : 0));
}

static const char *const END_FOR[] = {"endfor", "else", NULL};
static const char *const END_FOR2[] = {"endfor", NULL};
static const char *const END_IF[] = {"elif", "else", "endif", NULL};
static const char *const END_IF2[] = {"endif", NULL};
static const char *const END_SET[] = {"endset", NULL};
static const char *const END_MACRO[] = {"endmacro", NULL};
static const char *const END_CALL[] = {"endcall", NULL};
static const char *const END_FILTER[] = {"endfilter", NULL};
static const char *const END_WITH[] = {"endwith", NULL};
static const char *const END_GEN[] = {"endgeneration", NULL};

static jnode *parse_for(parser *P, jtok *at) {
  jnode *n = mk(P, N_FOR, at);
  n->a = parse_assign_target(P, 1, 0, "in", 0);
  if (!is_name(cur(P), "in")) pfail_at(P, cur(P), "expected 'in', got '%s'%s", describe(P, cur(P)), "");
  next(P);
  n->b = parse_tuple(P, 0, 0, "recursive", 0);
  if (is_name(cur(P), "if")) {
    next(P);
    n->c = parse_expression(P, 1);
  }
  if (is_name(cur(P), "recursive")) {
    next(P);
    n->op = 1;
  }
  P->loops++;
  jnode *body = parse_statements(P, END_FOR, 0);
  P->loops--;
  n->kids = ja_alloc(P->a, 2 * sizeof(jnode *));
  n->kids[0] = body;
  n->nkids = 1;
  if (is_name(next(P), "endfor")) {
    n->d = NULL;
  } else {
    n->d = parse_statements(P, END_FOR2, 1);
  }
  return n;
}

static jnode *parse_if(parser *P, jtok *at) {
  jnode *n = mk(P, N_IF, at);
  n->a = parse_tuple(P, 0, 0, NULL, 0);
  n->b = parse_statements(P, END_IF, 0);
  jtok *t = next(P);
  if (is_name(t, "elif")) {
    n->c = parse_if(P, t);
  } else if (is_name(t, "else")) {
    n->c = parse_statements(P, END_IF2, 1);
  }
  return n;
}

static jnode *parse_statement(parser *P) {
  jtok *t = cur(P);
  if (t->type != T_NAME) pfail_at(P, t, "tag name expected%s%s", "", "");
  enter(P);
  jnode *r = NULL;
  next(P);
  if (is_name(t, "for")) {
    r = parse_for(P, t);
  } else if (is_name(t, "if")) {
    r = parse_if(P, t);
  } else if (is_name(t, "set")) {
    jnode *target = parse_assign_target(P, 1, 0, NULL, 1);
    if (is_op(cur(P), OP_ASSIGN)) {
      next(P);
      r = mk(P, N_SET, t);
      r->a = target;
      r->b = parse_tuple(P, 0, 1, NULL, 0);
    } else {
      r = mk(P, N_SETBLOCK, t);
      r->a = target;
      if (is_op(cur(P), OP_PIPE)) {
        jnode *in = mk(P, N_BLOCKINPUT, t);
        r->c = parse_filter(P, in, 0);
      }
      r->b = parse_statements(P, END_SET, 1);
    }
  } else if (is_name(t, "macro")) {
    r = mk(P, N_MACRO, t);
    jtok *nm = expect_type(P, T_NAME, "macro name");
    r->name = tok_name(P, nm);
    parse_signature(P, r);
    int loops = P->loops;
    P->loops = 0;
    r->b = parse_statements(P, END_MACRO, 1);
    P->loops = loops;
    macro_flags(r);
  } else if (is_name(t, "call")) {
    r = mk(P, N_CALLBLOCK, t);
    if (is_op(cur(P), OP_LPAREN)) parse_signature(P, r);
    r->a = parse_expression(P, 1);
    if (r->a->kind != N_CALL) pfail_at(P, t, "expected call%s%s", "", "");
    int loops = P->loops;
    P->loops = 0;
    r->b = parse_statements(P, END_CALL, 1);
    P->loops = loops;
    macro_flags(r);
  } else if (is_name(t, "filter")) {
    r = mk(P, N_FILTERBLOCK, t);
    jnode *in = mk(P, N_BLOCKINPUT, t);
    r->a = parse_filter(P, in, 1);
    r->b = parse_statements(P, END_FILTER, 1);
  } else if (is_name(t, "with")) {
    r = mk(P, N_WITH, t);
    nlist vals = {0};
    const char **names = NULL;
    int nn = 0, cap = 0;
    while (cur(P)->type != T_BLOCK_END) {
      if (nn) expect_op(P, OP_COMMA);
      jnode *target = parse_assign_target(P, 0, 1, NULL, 0);
      expect_op(P, OP_ASSIGN);
      if (nn == cap) {
        cap = cap ? cap * 2 : 4;
        const char **v = ja_alloc(P->a, (size_t)cap * sizeof *v);
        if (nn) memcpy(v, names, (size_t)nn * sizeof *v);
        names = v;
      }
      names[nn++] = target->name;
      nl_push(P, &vals, parse_expression(P, 1));
    }
    r->names = names;
    r->nnames = nn;
    r->kids = vals.v;
    r->nkids = vals.n;
    r->b = parse_statements(P, END_WITH, 1);
  } else if (is_name(t, "break") || is_name(t, "continue")) {
    if (!P->loops) pfail_at(P, t, "'%s' outside loop%s", is_name(t, "break") ? "break" : "continue", "");
    r = mk(P, is_name(t, "break") ? N_BREAK : N_CONTINUE, t);
  } else if (is_name(t, "generation")) {
    /* transformers' AssistantTracker: marks assistant text; renders as is */
    r = parse_statements(P, END_GEN, 1);
  } else {
    char nm[80];
    snprintf(nm, sizeof nm, "%.*s", (int)(t->n > 60 ? 60 : t->n), t->p);
    if (!strcmp(nm, "extends") || !strcmp(nm, "include") || !strcmp(nm, "import") || !strcmp(nm, "from") ||
        !strcmp(nm, "block"))
      pfail_at(P, t, "the '%s' tag is not supported in chat templates (no template loader)%s", nm, "");
    pfail_at(P, t, "Encountered unknown tag '%s'.%s", nm, "");
  }
  leave(P);
  return r;
}

static int at_end_token(parser *P, const char *const *end_tokens) {
  if (!end_tokens) return 0;
  for (int i = 0; end_tokens[i]; i++)
    if (is_name(cur(P), end_tokens[i])) return 1;
  return 0;
}

static jnode *subparse(parser *P, const char *const *end_tokens) {
  jtok *at = cur(P);
  nlist body = {0};
  enter(P);
  for (;;) {
    jtok *t = cur(P);
    if (t->type == T_EOF) break;
    if (t->type == T_DATA) {
      next(P);
      jnode *n = mk(P, N_DATA, t);
      n->val = jv_strn(t->p, t->n);
      nl_push(P, &body, n);
    } else if (t->type == T_VAR_BEGIN) {
      next(P);
      jnode *n = mk(P, N_OUTPUT, t);
      n->a = parse_tuple(P, 0, 1, NULL, 0);
      expect_type(P, T_VAR_END, "end of print statement");
      nl_push(P, &body, n);
    } else if (t->type == T_BLOCK_BEGIN) {
      next(P);
      if (at_end_token(P, end_tokens)) break;
      jtok *tag = cur(P);
      if (tag->type == T_NAME && end_tokens == NULL &&
          (is_name(tag, "endfor") || is_name(tag, "endif") || is_name(tag, "endmacro") || is_name(tag, "endset") ||
           is_name(tag, "else") || is_name(tag, "elif") || is_name(tag, "endcall") || is_name(tag, "endfilter") ||
           is_name(tag, "endwith") || is_name(tag, "endraw") || is_name(tag, "endgeneration"))) {
        char nm[80];
        snprintf(nm, sizeof nm, "%.*s", (int)(tag->n > 60 ? 60 : tag->n), tag->p);
        pfail_at(P, tag, "Encountered unknown tag '%s'.%s", nm, "");
      }
      if (tag->type == T_NAME && end_tokens != NULL &&
          (tag->n >= 3 && (memcmp(tag->p, "end", 3) == 0 || is_name(tag, "else") || is_name(tag, "elif")))) {
        char nm[80], want[200] = "";
        snprintf(nm, sizeof nm, "%.*s", (int)(tag->n > 60 ? 60 : tag->n), tag->p);
        for (int i = 0; end_tokens[i]; i++) {
          if (i) strncat(want, " or ", sizeof want - strlen(want) - 1);
          strncat(want, "'", sizeof want - strlen(want) - 1);
          strncat(want, end_tokens[i], sizeof want - strlen(want) - 1);
          strncat(want, "'", sizeof want - strlen(want) - 1);
        }
        jerr_throw(P->a->err, JERR_SYNTAX, tag->line, tag->col,
                   "Encountered unknown tag '%s'. Jinja was looking for the following tags: %s.", nm, want);
      }
      jnode *st = parse_statement(P);
      nl_push(P, &body, st);
      expect_type(P, T_BLOCK_END, "end of statement block");
    } else {
      pfail_at(P, t, "internal parser error: unexpected '%s'%s", describe(P, t), "");
    }
  }
  leave(P);
  jnode *n = mk(P, N_BODY, at);
  n->kids = body.v;
  n->nkids = body.n;
  return n;
}

int jinja_parse(jtemplate *t, const char *src, size_t len) {
  t->arena.err = &t->err;
  if (setjmp(t->err.jb)) return -1;
  if (!utf8_valid(src, len)) jerr_throw(&t->err, JERR_SYNTAX, 0, 0, "template is not valid UTF-8");
  parser P = {0};
  P.a = &t->arena;
  P.t = jinja_lex(&t->arena, src, len, &P.n);
  t->root = subparse(&P, NULL);
  if (cur(&P)->type != T_EOF) pfail_at(&P, cur(&P), "unexpected '%s'%s", describe(&P, cur(&P)), "");
  return 0;
}

