/* jinja.h — internals of the Jinja2 engine behind chat templates.
 *
 * The engine reproduces what Hugging Face's apply_chat_template does: Python
 * Jinja2 in an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks,
 * the loop-controls extension, HF's tojson and the globals raise_exception
 * and strftime_now. Values follow Python semantics (truthiness, repr, ==,
 * int vs float arithmetic) because templates print them.
 *
 * Memory: everything a parse or a render makes lives in an arena that is
 * dropped at once at the end. Templates are untrusted, so an arena has a byte
 * budget; errors unwind with longjmp to the entry point (as Lua does), which
 * is safe because nothing between holds malloc'ed memory outside an arena.
 */
#ifndef MLXC_TEXT_JINJA_H
#define MLXC_TEXT_JINJA_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------ errors */

enum { JERR_SYNTAX = 1, JERR_RUNTIME, JERR_RAISE, JERR_LIMIT, JERR_OOM };

typedef struct jerr {
  jmp_buf jb;
  int kind;       /* JERR_* */
  int line, col;  /* where (0 if unknown) */
  char msg[800];
} jerr;

/* Records the error and longjmps to e->jb. */
_Noreturn void jerr_throw(jerr *e, int kind, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------------ arena */

typedef struct jblock jblock;
typedef struct jarena {
  jblock *head;
  size_t used;   /* bytes taken from the system */
  size_t budget; /* 0 = unlimited */
  jerr *err;     /* where to throw when the budget is exceeded */
} jarena;

void *ja_alloc(jarena *a, size_t n); /* zeroed, 16-aligned; throws on failure */
char *ja_strndup(jarena *a, const char *s, size_t n);
void ja_free_all(jarena *a);

/* A growable byte buffer inside an arena (output, string building). */
typedef struct jbuf {
  jarena *a;
  char *p;
  size_t n, cap;
  size_t limit; /* throw JERR_LIMIT when n would pass it (0 = none) */
} jbuf;
void jb_init(jbuf *b, jarena *a, size_t limit);
void jb_put(jbuf *b, const char *s, size_t n);
void jb_putc(jbuf *b, char c);
void jb_puts(jbuf *b, const char *s);
void jb_printf(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ values */

typedef enum {
  JV_UNDEF, /* s = the message an access error would give (or NULL) */
  JV_NONE,
  JV_BOOL,
  JV_INT,
  JV_FLOAT,
  JV_STR,
  JV_LIST,
  JV_TUPLE,
  JV_DICT,
  JV_NS,    /* namespace(): d */
  JV_FUNC,  /* builtin function or bound method: fn */
  JV_MACRO, /* m */
  JV_LOOP   /* the `loop` object: lp */
} jv_type;

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jfunc jfunc;
typedef struct jmacro jmacro;
typedef struct jloop jloop;

typedef struct jv {
  uint8_t t;
  uint8_t safe;   /* JV_STR: a markupsafe.Markup (never escaped again) */
  uint8_t unsafe; /* JV_UNDEF: a sandbox refusal (SecurityError when used);
                     JV_TUPLE: 2 = groupby's _GroupTuple;
                     JV_LIST: JV_GEN / JV_REVITER = a lazy Python iterator that
                     Jinja's filters return (always true, no len(), no JSON) */
  union {
    int64_t i;
    double f;
    struct {
      const char *p;
      size_t n;
    } s;
    jlist *l;
    jdict *d;
    jfunc *fn;
    jmacro *m;
    jloop *lp;
  } u;
} jv;

struct jlist {
  int64_t n, cap;
  jv *v;
};
struct jdict {
  int64_t n, cap;
  jv *k, *v;
};

static inline jv jv_none(void) { jv v = {0}; v.t = JV_NONE; return v; }
static inline jv jv_undef(void) { jv v = {0}; v.t = JV_UNDEF; return v; }
static inline jv jv_bool(int b) { jv v = {0}; v.t = JV_BOOL; v.u.i = !!b; return v; }
static inline jv jv_int(int64_t i) { jv v = {0}; v.t = JV_INT; v.u.i = i; return v; }
static inline jv jv_float(double f) { jv v = {0}; v.t = JV_FLOAT; v.u.f = f; return v; }
static inline jv jv_strn(const char *p, size_t n) {
  jv v = {0};
  v.t = JV_STR;
  v.u.s.p = p;
  v.u.s.n = n;
  return v;
}
enum { JV_GEN = 3, JV_REVITER = 4 };
static inline int jv_is_str(jv v) { return v.t == JV_STR; }
static inline int jv_is_seq(jv v) { return v.t == JV_LIST || v.t == JV_TUPLE; }
static inline int jv_is_num(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }

jv jv_str(jarena *a, const char *s); /* copies */
jv jv_strcopy(jarena *a, const char *p, size_t n);
jv jv_undef_msg(jarena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
jlist *jl_new(jarena *a, int64_t cap);
void jl_push(jarena *a, jlist *l, jv v);
jv jv_list(jlist *l);
jv jv_tuple(jlist *l);
jdict *jd_new(jarena *a, int64_t cap);
void jd_set(jarena *a, jdict *d, jv k, jv v); /* replaces in place, else appends */
int jd_find(const jdict *d, jv k);            /* index or -1 */
int jd_find_str(const jdict *d, const char *k, size_t n);
jv jv_dict(jdict *d);

/* Python semantics. */
int jv_truthy(jv v);
int jv_eq(jv a, jv b);
const char *jv_type_name(jv v); /* Python's type name: 'str', 'int', 'dict', ... */
/* str(v) appended to b (repr for list/dict elements, as Python prints). */
void jv_to_str(jbuf *b, jv v);
void jv_repr(jbuf *b, jv v);
jv jv_stringify(jarena *a, jv v); /* str(v) as a value; strings pass through */
void py_float_repr(char *out, size_t cap, double f);
/* HF's tojson: json.dumps(v, ensure_ascii, indent, separators, sort_keys).
 * indent: NULL for none; item_sep/key_sep NULL for defaults. Returns 0, or -1
 * with a message in *why for values JSON cannot hold. */
int jv_to_json(jbuf *b, jv v, int ensure_ascii, const char *indent, int has_indent,
               const char *item_sep, const char *key_sep, int sort_keys, int depth,
               const char **why);
/* Parses JSON text (Python json.loads semantics: ints stay ints, key order
 * kept, a repeated key keeps its first place with the last value). Throws
 * JERR_RUNTIME on malformed text via the arena's jerr. */
jv jv_from_json(jarena *a, const char *text, size_t len, const char *what);

/* UTF-8 helpers. */
int utf8_valid(const char *s, size_t n);
size_t utf8_len(const char *s, size_t n);             /* code points */
size_t utf8_offset(const char *s, size_t n, int64_t cp); /* byte offset of code point cp */
uint32_t utf8_decode(const char *s, size_t n, size_t *adv);
int utf8_encode(uint32_t c, char *out);
uint32_t uc_upper(uint32_t c);
uint32_t uc_lower(uint32_t c);
int uc_isspace(uint32_t c);
int uc_isalpha(uint32_t c);
int uc_isdigit(uint32_t c);
int uc_isalnum(uint32_t c);
int uc_isupper(uint32_t c);
int uc_islower(uint32_t c);

/* ------------------------------------------------------------ lexer */

typedef enum {
  T_EOF,
  T_DATA,
  T_VAR_BEGIN,
  T_VAR_END,
  T_BLOCK_BEGIN,
  T_BLOCK_END,
  T_NAME,
  T_STRING,
  T_INT,
  T_FLOAT,
  T_OP
} jtok_type;

/* Operators, one code each (T_OP tokens). */
enum {
  OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_TILDE,
  OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
  OP_EQ, OP_NE, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_ASSIGN, OP_DOT, OP_COLON,
  OP_PIPE, OP_COMMA, OP_SEMICOLON,
  /* not lexed; used by the AST */
  OP_IN, OP_NOTIN, OP_NEG, OP_POS
};

typedef struct jtok {
  uint8_t type;
  uint8_t op;
  int line, col;
  const char *p; /* NAME: the name; STRING: decoded text; DATA: text */
  size_t n;
  int64_t i;
  double f;
} jtok;

/* Tokenizes the whole source (already newline-normalized by the lexer).
 * Returns the token array (ending with T_EOF) in the arena. */
jtok *jinja_lex(jarena *a, const char *src, size_t len, int64_t *ntok);
const char *jop_str(int op);

/* ------------------------------------------------------------ AST */

typedef enum {
  /* expressions */
  N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL,
  N_FILTER, N_TEST, N_UNARY, N_BINARY, N_AND, N_OR, N_NOT, N_COMPARE, N_CONCAT,
  N_COND, N_NSREF, N_BLOCKINPUT,
  /* statements */
  N_BODY, N_DATA, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK,
  N_FILTERBLOCK, N_WITH, N_BREAK, N_CONTINUE
} jnode_kind;

typedef struct jnode jnode;

/* Arguments of a call, filter or test. */
typedef struct jargs {
  jnode **pos;
  int npos;
  const char **kwn;
  jnode **kwv;
  int nkw;
  jnode *star, *dstar; /* *args, **kwargs (may be NULL) */
} jargs;

struct jnode {
  uint8_t kind;
  uint8_t op;    /* N_UNARY/N_BINARY op, N_FOR: recursive, N_TEST: negated */
  int line, col;
  const char *name; /* N_NAME, N_GETATTR attr, N_FILTER/N_TEST name, N_MACRO name, N_NSREF ns */
  const char *attr; /* N_NSREF attribute */
  jv val;           /* N_CONST, N_DATA */
  jnode *a, *b, *c, *d;
  jnode **kids; /* N_LIST/N_TUPLE items, N_DICT k0 v0 k1 v1..., N_BODY statements,
                   N_COMPARE operands, N_CONCAT parts, N_MACRO/N_CALLBLOCK defaults,
                   N_WITH values */
  int nkids;
  uint8_t *ops;       /* N_COMPARE operators (nkids - 1) */
  const char **names; /* N_MACRO/N_CALLBLOCK parameter names, N_WITH targets */
  int nnames;
  jargs args; /* N_CALL, N_FILTER, N_TEST */
};

typedef struct jtemplate {
  jarena arena;
  jerr err;
  jnode *root;
} jtemplate;

/* Parses; returns 0 or -1 with t->err filled (kind JERR_SYNTAX/JERR_OOM). */
int jinja_parse(jtemplate *t, const char *src, size_t len);

/* ------------------------------------------------------------ render */

typedef struct jrender_opts {
  size_t max_output;  /* bytes */
  size_t max_memory;  /* arena bytes */
  int64_t max_steps;  /* loop iterations + calls */
  int max_depth;      /* nesting of evaluation (macro calls, expressions) */
  int fixed_time;     /* strftime_now uses `now` (UTC) instead of the clock */
  int64_t now;
} jrender_opts;

/* Renders with `vars` (a dict) as the context. Returns 0 and a malloc'ed
 * NUL-terminated *out, or -1 with *err filled. */
int jinja_render(const jtemplate *t, const char *ctx_json, size_t ctx_len,
                 const jrender_opts *opts, char **out, size_t *out_len, jerr *err);

/* ------------------------------------------------------------ evaluator internals
 * (shared by jinja_eval.c and jinja_filters.c) */

typedef struct jscope jscope;
struct jscope {
  jscope *parent;
  jdict *vars;
};

typedef struct jctx {
  jarena *a;
  jerr *err;
  const jrender_opts *o;
  jbuf *out;
  jscope *globals;
  int64_t steps;
  int depth;
  int brk; /* 1 = break, 2 = continue pending */
  const jnode *cur; /* for error positions */
  jv block_input;
} jctx;

/* Call arguments after evaluation. */
typedef struct jcall {
  jv *pos;
  int npos;
  const char **kwn;
  jv *kwv;
  int nkw;
} jcall;

_Noreturn void jfail(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jstep(jctx *c);
jv jv_getattr(jctx *c, jv obj, const char *name, size_t n);
jv jv_getitem(jctx *c, jv obj, jv key);
jv jcall_value(jctx *c, jv fn, jcall *args);
void jcheck_undef(jctx *c, jv v); /* throws if v is undefined (an access error) */
jv jiter_list(jctx *c, jv v);     /* materializes iteration as a list (keys for dicts) */
jv jv_binop(jctx *c, int op, jv a, jv b);
int jv_cmp(jctx *c, jv a, jv b); /* <0, 0, >0; throws for unorderable */
int jv_contains(jctx *c, jv container, jv item);
jv jstr_of(jctx *c, jv v);       /* str(v) as a JV_STR */

/* jinja_filters.c */
jv jfilter_apply(jctx *c, const char *name, jv in, jcall *args);
int jtest_apply(jctx *c, const char *name, jv in, jcall *args);
int jfilter_exists(const char *name);
int jtest_exists(const char *name);
/* Method of a str/dict/list/... value (x.upper, d.items): returns 1 and *out
 * a bound method, 0 if none, and a sandbox refusal for mutating methods. */
int jmethod_lookup(jctx *c, jv self, const char *name, size_t n, jv *out);
jv jmethod_call(jctx *c, jfunc *fn, jcall *args);
/* Keyword/positional argument fetch: position i or keyword name; dflt if absent. */
jv jarg(jcall *a, int i, const char *name, jv dflt);
int jarg_has(jcall *a, int i, const char *name);
/* Sort helper used by sort/dictsort/unique/min/max. */
void jv_sort(jctx *c, jv *items, int64_t n, int (*cmp)(jctx *, jv, jv, void *), void *ud);

/* jinja_strings.c: Python str behaviour shared by filters and methods. */
int64_t jarg_int(jctx *c, jcall *a, int i, const char *name, int64_t dflt);
jv jneed_str(jctx *c, jv v, const char *what);
jv jmkstr(jbuf *b, int safe); /* the buffer's text as a (Markup if safe) str */
jv jcopy_list(jctx *c, jv seq);
jv jitems_of(jctx *c, jdict *d); /* list of (key, value) tuples */
jv js_lower(jctx *c, jv s);
jv js_upper(jctx *c, jv s);
jv js_capitalize(jctx *c, jv s);
jv js_jinja_title(jctx *c, jv s); /* the title filter (not str.title) */
jv js_strip(jctx *c, jv s, jv chars, int left, int right);
jv js_splitlines(jctx *c, jv s, int keepends);
jv js_replace(jctx *c, jv s, jv old, jv nw, int64_t count);
jv js_pad(jctx *c, jv s, int64_t width, jv fillv, int where /* -1 ljust, 0 center, 1 rjust */);
const char *js_memfind(const char *h, size_t hn, const char *nd, size_t nn);
const char *js_memrfind(const char *h, size_t hn, const char *nd, size_t nn);
jv js_str_method(jctx *c, jv s, const char *m, jcall *a);
jv jstr_percent(jctx *c, jv fmt, jv args); /* fmt % args */
jv jhtml_escape(jctx *c, jv v);            /* markupsafe.escape */

/* Function values. */
enum {
  F_RANGE = 1, F_DICT, F_NAMESPACE, F_RAISE, F_STRFTIME, F_JOINER, F_CYCLER,
  F_LOOP_CYCLE, F_LOOP_CHANGED, F_LOOP_CALL, F_CYCLER_NEXT, F_CYCLER_RESET,
  F_METHOD /* a str/list/dict method: name in fn->name */
};
struct jfunc {
  int kind;
  const char *name;
  size_t name_n;
  jv self;
  int64_t state;
  jlist *items;
};

struct jmacro {
  const jnode *def; /* N_MACRO or N_CALLBLOCK */
  jscope *closure;
  const char *name;
  jv caller; /* the caller of a {% call %} block, or undefined */
};

struct jloop {
  jlist *items;
  int64_t index0;
  int depth0;
  jv last_changed;
  int has_changed;
  const jnode *node;  /* the N_FOR, for recursive loop(...) */
  jscope *scope;      /* the scope the loop was entered from */
};

#endif
