/* jinja_lexer.c — arena, error unwinding, and the Jinja2 lexer.
 *
 * The lexer follows Jinja2's own rules as HF configures them: newlines
 * normalized to "\n" and one trailing newline dropped; trim_blocks removes
 * the newline right after a block or comment tag; lstrip_blocks removes the
 * spaces and tabs before a block or comment tag that starts a line; "-"
 * strips all whitespace on that side, "+" keeps it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"

/* ------------------------------------------------------------ errors */

void jerr_throw(jerr *e, int kind, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  e->kind = kind;
  e->line = line;
  e->col = col;
  longjmp(e->jb, 1);
}

/* ------------------------------------------------------------ arena */

struct jblock {
  jblock *next;
  size_t cap, used;
  _Alignas(16) unsigned char data[];
};

#define JA_BLOCK (64 * 1024)

void *ja_alloc(jarena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  jblock *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > JA_BLOCK / 4 ? n : JA_BLOCK;
    if (cap > SIZE_MAX / 2 ||
        (a->budget && (a->used + cap + sizeof(jblock) > a->budget)))
      jerr_throw(a->err, JERR_OOM, 0, 0, "memory limit of %zu bytes exceeded", a->budget);
    jblock *nb = malloc(sizeof(jblock) + cap);
    if (!nb) jerr_throw(a->err, JERR_OOM, 0, 0, "out of memory (%zu bytes)", cap);
    nb->cap = cap;
    nb->used = 0;
    a->used += cap + sizeof(jblock);
    if (b && cap != JA_BLOCK) {
      /* A big allocation goes behind the current block so the current
       * block's free space stays in use. */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *ja_strndup(jarena *a, const char *s, size_t n) {
  char *p = ja_alloc(a, n + 1);
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void ja_free_all(jarena *a) {
  jblock *b = a->head;
  while (b) {
    jblock *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->used = 0;
}

void jb_init(jbuf *b, jarena *a, size_t limit) {
  b->a = a;
  b->p = NULL;
  b->n = b->cap = 0;
  b->limit = limit;
}

static void jb_grow(jbuf *b, size_t extra) {
  if (b->limit && (extra > b->limit || b->n > b->limit - extra))
    jerr_throw(b->a->err, JERR_LIMIT, 0, 0, "output limit of %zu bytes exceeded", b->limit);
  if (extra > SIZE_MAX / 4 - b->n)
    jerr_throw(b->a->err, JERR_OOM, 0, 0, "string too large");
  size_t need = b->n + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap * 2 : 64;
  while (cap < need) cap *= 2;
  char *p = ja_alloc(b->a, cap);
  if (b->n) memcpy(p, b->p, b->n);
  b->p = p;
  b->cap = cap;
}

void jb_put(jbuf *b, const char *s, size_t n) {
  if (!n) return;
  jb_grow(b, n);
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

void jb_putc(jbuf *b, char c) { jb_put(b, &c, 1); }
void jb_puts(jbuf *b, const char *s) { jb_put(b, s, strlen(s)); }

void jb_printf(jbuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  jb_put(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------ lexer */

typedef struct lexer {
  jarena *a;
  const char *s;
  size_t n, pos;
  /* line/column tracking: a cursor that only moves forward */
  size_t lc_pos;
  int lc_line, lc_col;
  jtok *toks;
  int64_t ntok, cap;
  int line_starting;
} lexer;

static void lc_at(lexer *L, size_t pos, int *line, int *col) {
  if (pos < L->lc_pos) { /* rare: restart */
    L->lc_pos = 0;
    L->lc_line = 1;
    L->lc_col = 1;
  }
  while (L->lc_pos < pos && L->lc_pos < L->n) {
    unsigned char ch = (unsigned char)L->s[L->lc_pos++];
    if (ch == '\n') {
      L->lc_line++;
      L->lc_col = 1;
    } else if ((ch & 0xC0) != 0x80) {
      L->lc_col++;
    }
  }
  *line = L->lc_line;
  *col = L->lc_col;
}

static _Noreturn void lfail(lexer *L, size_t pos, const char *fmt, const char *arg) {
  int line, col;
  lc_at(L, pos, &line, &col);
  jerr_throw(L->a->err, JERR_SYNTAX, line, col, fmt, arg);
}

static jtok *push(lexer *L, int type, size_t pos) {
  if (L->ntok == L->cap) {
    int64_t cap = L->cap ? L->cap * 2 : 256;
    jtok *t = ja_alloc(L->a, (size_t)cap * sizeof(jtok));
    if (L->ntok) memcpy(t, L->toks, (size_t)L->ntok * sizeof(jtok));
    L->toks = t;
    L->cap = cap;
  }
  jtok *t = &L->toks[L->ntok++];
  memset(t, 0, sizeof *t);
  t->type = (uint8_t)type;
  lc_at(L, pos, &t->line, &t->col);
  return t;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Python's str.rstrip() (ASCII whitespace plus the C1/Unicode spaces that
 * can appear in templates is overkill; ASCII is what templates use). */
static size_t rstrip_len(const char *s, size_t n) {
  while (n > 0 && (is_ws(s[n - 1]) || (unsigned char)s[n - 1] == 0x1c || (unsigned char)s[n - 1] == 0x1d ||
                   (unsigned char)s[n - 1] == 0x1e || (unsigned char)s[n - 1] == 0x1f))
    n--;
  return n;
}

/* Emits text before a tag, applying "-" and lstrip_blocks. */
static void emit_data(lexer *L, size_t start, size_t end, char sign, int lstrip_ok) {
  const char *text = L->s + start;
  size_t n = end - start;
  if (sign == '-') {
    n = rstrip_len(text, n);
  } else if (sign != '+' && lstrip_ok) {
    size_t l_pos = 0;
    for (size_t i = n; i > 0; i--)
      if (text[i - 1] == '\n') {
        l_pos = i;
        break;
      }
    if (l_pos > 0 || L->line_starting) {
      int only_ws = 1;
      for (size_t i = l_pos; i < n; i++)
        if (text[i] != ' ' && text[i] != '\t') {
          only_ws = 0;
          break;
        }
      if (only_ws) n = l_pos;
    }
  }
  if (n) {
    jtok *t = push(L, T_DATA, start);
    t->p = text;
    t->n = n;
  }
}

static size_t skip_ws(lexer *L, size_t p) {
  while (p < L->n && is_ws(L->s[p])) p++;
  return p;
}

/* After an end tag at p (pointing past "%}" etc.): applies the suffix rule. */
static size_t after_end(lexer *L, size_t p, char sign, int trim) {
  if (sign == '-') {
    p = skip_ws(L, p);
  } else if (sign != '+' && trim && p < L->n && L->s[p] == '\n') {
    p++;
  }
  L->line_starting = p > 0 && L->s[p - 1] == '\n';
  return p;
}

/* Decodes a string literal body with Python's unicode-escape rules. */
static void decode_string(lexer *L, jtok *t, const char *s, size_t n, size_t pos) {
  char *out = ja_alloc(L->a, n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch != '\\' || i + 1 >= n) {
      out[o++] = ch;
      continue;
    }
    char e = s[++i];
    uint32_t cp = 0;
    int hex = 0;
    switch (e) {
    case 'n': out[o++] = '\n'; break;
    case 't': out[o++] = '\t'; break;
    case 'r': out[o++] = '\r'; break;
    case '\\': out[o++] = '\\'; break;
    case '\'': out[o++] = '\''; break;
    case '"': out[o++] = '"'; break;
    case 'a': out[o++] = '\a'; break;
    case 'b': out[o++] = '\b'; break;
    case 'f': out[o++] = '\f'; break;
    case 'v': out[o++] = '\v'; break;
    case '\n': break; /* line continuation */
    case 'x': hex = 2; break;
    case 'u': hex = 4; break;
    case 'U': hex = 8; break;
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
      int k = 0;
      while (k < 3 && i < n && s[i] >= '0' && s[i] <= '7') {
        cp = cp * 8 + (uint32_t)(s[i] - '0');
        i++;
        k++;
      }
      i--;
      o += (size_t)utf8_encode(cp, out + o);
      break;
    }
    default:
      out[o++] = '\\';
      out[o++] = e;
    }
    if (hex) {
      if (i + (size_t)hex >= n) {
        lfail(L, pos, "truncated \\%s escape in string literal", e == 'x' ? "xXX" : e == 'u' ? "uXXXX" : "UXXXXXXXX");
      }
      for (int k = 1; k <= hex; k++) {
        char h = s[i + (size_t)k];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) lfail(L, pos, "truncated \\%s escape in string literal", e == 'x' ? "xXX" : e == 'u' ? "uXXXX" : "UXXXXXXXX");
        cp = cp * 16 + (uint32_t)d;
      }
      i += (size_t)hex;
      if (cp > 0x10FFFF) lfail(L, pos, "illegal Unicode character in string literal%s", "");
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogates cannot be UTF-8 */
      o += (size_t)utf8_encode(cp, out + o);
    }
  }
  out[o] = 0;
  t->p = out;
  t->n = o;
}

static const struct {
  const char *s;
  int op;
} OPS[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GTEQ},
    {"<=", OP_LTEQ},     {"+", OP_ADD},  {"-", OP_SUB}, {"*", OP_MUL},  {"/", OP_DIV},
    {"%", OP_MOD},       {"~", OP_TILDE}, {"[", OP_LBRACKET}, {"]", OP_RBRACKET},
    {"(", OP_LPAREN},    {")", OP_RPAREN}, {"{", OP_LBRACE}, {"}", OP_RBRACE},
    {">", OP_GT},        {"<", OP_LT},   {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE},      {",", OP_COMMA}, {";", OP_SEMICOLON},
};

const char *jop_str(int op) {
  for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
    if (OPS[i].op == op) return OPS[i].s;
  if (op == OP_IN) return "in";
  if (op == OP_NOTIN) return "not in";
  return "?";
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_name_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static int is_name_char(unsigned char c) { return is_name_start(c) || is_digit((char)c); }

/* Digits with optional single underscores between them ("1_000"). */
static size_t scan_digits(lexer *L, size_t p) {
  if (p >= L->n || !is_digit(L->s[p])) return p;
  while (p < L->n) {
    if (is_digit(L->s[p])) p++;
    else if (L->s[p] == '_' && p + 1 < L->n && is_digit(L->s[p + 1])) p++;
    else break;
  }
  return p;
}

static double parse_num_text(const char *s, size_t n, int is_float, int64_t *iv, int *overflow) {
  char buf[128];
  size_t k = 0;
  for (size_t i = 0; i < n && k < sizeof buf - 1; i++)
    if (s[i] != '_') buf[k++] = s[i];
  buf[k] = 0;
  *overflow = 0;
  if (is_float) return strtod(buf, NULL);
  int64_t v = 0;
  for (size_t i = 0; i < k; i++) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, buf[i] - '0', &v)) {
      *overflow = 1;
      return strtod(buf, NULL);
    }
  }
  *iv = v;
  return 0;
}

/* Lexes the inside of {% %} or {{ }} starting at p; returns the position
 * after the closing tag. */
static size_t lex_tag(lexer *L, size_t p, int is_block, size_t tag_pos) {
  int balance = 0;
  for (;;) {
    p = skip_ws(L, p);
    if (p >= L->n) lfail(L, tag_pos, "unexpected end of template: %s was never closed", is_block ? "'{%'" : "'{{'");
    const char *s = L->s + p;
    size_t rem = L->n - p;
    if (balance == 0) {
      if (is_block) {
        char sign = 0;
        size_t k = 0;
        if ((s[0] == '-' || s[0] == '+') && rem >= 3 && s[1] == '%' && s[2] == '}') {
          sign = s[0];
          k = 3;
        } else if (rem >= 2 && s[0] == '%' && s[1] == '}') {
          k = 2;
        }
        if (k) {
          push(L, T_BLOCK_END, p);
          return after_end(L, p + k, sign, 1);
        }
      } else {
        char sign = 0;
        size_t k = 0;
        if (s[0] == '-' && rem >= 3 && s[1] == '}' && s[2] == '}') {
          sign = '-';
          k = 3;
        } else if (rem >= 2 && s[0] == '}' && s[1] == '}') {
          k = 2;
        }
        if (k) {
          push(L, T_VAR_END, p);
          return after_end(L, p + k, sign, 0);
        }
      }
    }
    /* numbers: float first, as Jinja does */
    if (is_digit(s[0])) {
      size_t q = scan_digits(L, p);
      int is_float = 0;
      if (q + 1 < L->n && L->s[q] == '.' && is_digit(L->s[q + 1]) && !(p > 0 && L->s[p - 1] == '.')) {
        q = scan_digits(L, q + 1);
        is_float = 1;
      }
      if (q < L->n && (L->s[q] == 'e' || L->s[q] == 'E')) {
        size_t r = q + 1;
        if (r < L->n && (L->s[r] == '+' || L->s[r] == '-')) r++;
        if (r < L->n && is_digit(L->s[r])) {
          q = scan_digits(L, r);
          is_float = 1;
        }
      }
      jtok *t = push(L, is_float ? T_FLOAT : T_INT, p);
      int ovf;
      int64_t iv = 0;
      double fv = parse_num_text(s, q - p, is_float, &iv, &ovf);
      if (ovf) lfail(L, p, "integer literal too large%s", "");
      t->i = iv;
      t->f = fv;
      t->p = s;
      t->n = q - p;
      p = q;
      continue;
    }
    if (is_name_start((unsigned char)s[0])) {
      size_t q = p;
      while (q < L->n && is_name_char((unsigned char)L->s[q])) q++;
      jtok *t = push(L, T_NAME, p);
      t->p = s;
      t->n = q - p;
      p = q;
      continue;
    }
    if (s[0] == '\'' || s[0] == '"') {
      char quote = s[0];
      size_t q = p + 1;
      while (q < L->n && L->s[q] != quote) {
        if (L->s[q] == '\\' && q + 1 < L->n) q++;
        q++;
      }
      if (q >= L->n) lfail(L, p, "unterminated string literal%s", "");
      jtok *t = push(L, T_STRING, p);
      decode_string(L, t, s + 1, q - p - 1, p);
      p = q + 1;
      continue;
    }
    int found = 0;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
      size_t k = strlen(OPS[i].s);
      if (rem >= k && memcmp(s, OPS[i].s, k) == 0) {
        jtok *t = push(L, T_OP, p);
        t->op = (uint8_t)OPS[i].op;
        if (t->op == OP_LPAREN || t->op == OP_LBRACKET || t->op == OP_LBRACE) balance++;
        if (t->op == OP_RPAREN || t->op == OP_RBRACKET || t->op == OP_RBRACE) {
          if (balance == 0) {
            char what[2] = {s[0], 0};
            lfail(L, p, "unexpected '%s'", what);
          }
          balance--;
        }
        p += k;
        found = 1;
        break;
      }
    }
    if (!found) {
      char what[8];
      size_t adv;
      uint32_t cp = utf8_decode(s, rem, &adv);
      int k = utf8_encode(cp, what);
      what[k] = 0;
      lfail(L, p, "unexpected char '%s'", what);
    }
  }
}

/* Matches "{%[-+]?\s*raw\s*(-%}|%})" at p; returns the end or 0. */
static size_t match_raw_begin(lexer *L, size_t p, char *sign) {
  size_t q = p + 2;
  *sign = 0;
  if (q < L->n && (L->s[q] == '-' || L->s[q] == '+')) *sign = L->s[q++];
  q = skip_ws(L, q);
  if (q + 3 > L->n || memcmp(L->s + q, "raw", 3) != 0) return 0;
  q = skip_ws(L, q + 3);
  if (q + 3 <= L->n && memcmp(L->s + q, "-%}", 3) == 0) return skip_ws(L, q + 3);
  if (q + 2 <= L->n && memcmp(L->s + q, "%}", 2) == 0) return q + 2;
  return 0;
}

/* Finds "{%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?)" from p. */
static int find_raw_end(lexer *L, size_t p, size_t *tag, char *sign, size_t *end) {
  for (size_t i = p; i + 1 < L->n; i++) {
    if (L->s[i] != '{' || L->s[i + 1] != '%') continue;
    size_t q = i + 2;
    char sg = 0;
    if (q < L->n && (L->s[q] == '-' || L->s[q] == '+')) sg = L->s[q++];
    q = skip_ws(L, q);
    if (q + 6 > L->n || memcmp(L->s + q, "endraw", 6) != 0) continue;
    q = skip_ws(L, q + 6);
    char es = 0;
    if (q < L->n && (L->s[q] == '-' || L->s[q] == '+')) es = L->s[q++];
    if (q + 2 > L->n || L->s[q] != '%' || L->s[q + 1] != '}') continue;
    *tag = i;
    *sign = sg;
    L->line_starting = 0;
    *end = after_end(L, q + 2, es, 1);
    return 1;
  }
  return 0;
}

jtok *jinja_lex(jarena *a, const char *src, size_t len, int64_t *ntok) {
  lexer L = {0};
  L.a = a;
  /* Newlines: \r\n and \r become \n; one trailing newline is dropped
   * (keep_trailing_newline=False). */
  char *s = ja_alloc(a, len + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '\r') {
      s[n++] = '\n';
      if (i + 1 < len && src[i + 1] == '\n') i++;
    } else {
      s[n++] = src[i];
    }
  }
  if (n && s[n - 1] == '\n') n--;
  s[n] = 0;
  L.s = s;
  L.n = n;
  L.lc_line = 1;
  L.lc_col = 1;
  L.line_starting = 1;
  size_t pos = 0;
  while (pos < n) {
    /* find the next tag start */
    size_t t = pos;
    int kind = 0;
    while (t + 1 < n) {
      if (s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#')) {
        kind = s[t + 1];
        break;
      }
      t++;
    }
    if (!kind) {
      jtok *tk = push(&L, T_DATA, pos);
      tk->p = s + pos;
      tk->n = n - pos;
      break;
    }
    char sign = (t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+')) ? s[t + 2] : 0;
    if (kind == '%') {
      char rsign;
      size_t rend = match_raw_begin(&L, t, &rsign);
      if (rend) {
        emit_data(&L, pos, t, rsign, 1);
        size_t tag, end;
        char esign;
        if (!find_raw_end(&L, rend, &tag, &esign, &end)) lfail(&L, t, "Missing end of raw directive%s", "");
        L.line_starting = rend > 0 && s[rend - 1] == '\n';
        emit_data(&L, rend, tag, esign, 1);
        pos = end;
        continue;
      }
    }
    emit_data(&L, pos, t, sign, kind != '{');
    size_t body = t + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      size_t q = body;
      size_t found = 0;
      int ok = 0;
      for (; q + 1 < n; q++)
        if (s[q] == '#' && s[q + 1] == '}') {
          found = q;
          ok = 1;
          break;
        }
      if (!ok) lfail(&L, t, "Missing end of comment tag%s", "");
      char esign = 0;
      if (found > body && (s[found - 1] == '-' || s[found - 1] == '+')) esign = s[found - 1];
      pos = after_end(&L, found + 2, esign, 1);
      continue;
    }
    if (kind == '%') {
      push(&L, T_BLOCK_BEGIN, t);
      pos = lex_tag(&L, body, 1, t);
    } else {
      push(&L, T_VAR_BEGIN, t);
      pos = lex_tag(&L, body, 0, t);
    }
  }
  push(&L, T_EOF, n);
  *ntok = L.ntok;
  return L.toks;
}
