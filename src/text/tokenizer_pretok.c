/* tokenizer_pretok.c — HF pre-tokenizers: ByteLevel, Split, Whitespace,
 * WhitespaceSplit, Metaspace, Digits, Punctuation, BertPreTokenizer,
 * CharDelimiterSplit, UnicodeScripts (tokenizer_scripts.c), Sequence. Splits that already hold an added token
 * pass through untouched. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

/* ------------------------------------------------------------ byte-level tables */

uint32_t tk_bl_byte2cp[256];
static int16_t tk_bl_rev[512]; /* cp (< 512) -> byte */
static pthread_once_t tk_bl_once = PTHREAD_ONCE_INIT;

static void tk_bl_build(void) {
  /* GPT-2: printable Latin-1 bytes map to themselves, the others to 256+. */
  int n = 0;
  for (int b = 0; b < 512; b++) tk_bl_rev[b] = -1;
  for (int b = 0; b < 256; b++) {
    bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    tk_bl_byte2cp[b] = keep ? (uint32_t)b : (uint32_t)(256 + n++);
    tk_bl_rev[tk_bl_byte2cp[b]] = (int16_t)b;
  }
}

void tk_bl_init(void) { pthread_once(&tk_bl_once, tk_bl_build); }

int tk_bl_cp2byte(uint32_t cp) { return cp < 512 ? tk_bl_rev[cp] : -1; }

static regex *gpt2_re;
static pthread_once_t gpt2_once = PTHREAD_ONCE_INIT;
static void gpt2_build(void) {
  static const char p[] =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  gpt2_re = tk_regex_new(p, sizeof p - 1, false, "ByteLevel");
}
regex *tk_bytelevel_regex(void) {
  pthread_once(&gpt2_once, gpt2_build);
  return gpt2_re;
}

/* ------------------------------------------------------------ splitting */

typedef struct part {
  size_t s, e;
  bool m;
} part;

typedef struct parts {
  part *v;
  size_t n, cap;
} parts;

static bool parts_push(parts *p, size_t s, size_t e, bool m) {
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 32;
    part *nv = realloc(p->v, nc * sizeof *nv);
    if (!nv) return false;
    p->v = nv;
    p->cap = nc;
  }
  p->v[p->n++] = (part){s, e, m};
  return true;
}

/* Splits t by the parts (covering it in order) per HF's behaviors. */
static bool apply_behavior(splits *out, enc_ctx *c, const nstr *t, parts *p, split_behavior b,
                           bool invert) {
  if (invert)
    for (size_t i = 0; i < p->n; i++) p->v[i].m = !p->v[i].m;
  size_t k = 0; /* pieces kept, compacted in place */
  bool prev = false;
  switch (b) {
  case SB_ISOLATED:
    k = p->n;
    break;
  case SB_REMOVED:
    for (size_t i = 0; i < p->n; i++)
      if (!p->v[i].m) p->v[k++] = p->v[i];
    break;
  case SB_MERGED_PREV:
    for (size_t i = 0; i < p->n; i++) {
      part x = p->v[i];
      if (x.m && !prev && k) p->v[k - 1].e = x.e;
      else p->v[k++] = x;
      prev = x.m;
    }
    break;
  case SB_MERGED_NEXT: {
    /* Walk backwards, merging a match into the piece after it. */
    size_t w = p->n;
    for (size_t i = p->n; i-- > 0;) {
      part x = p->v[i];
      if (x.m && !prev && w < p->n) p->v[w].s = x.s;
      else p->v[--w] = x;
      prev = x.m;
    }
    memmove(p->v, p->v + w, (p->n - w) * sizeof *p->v);
    k = p->n - w;
    break;
  }
  case SB_CONTIGUOUS:
    for (size_t i = 0; i < p->n; i++) {
      part x = p->v[i];
      if (x.m == prev && k) p->v[k - 1].e = x.e;
      else p->v[k++] = x;
      prev = x.m;
    }
    break;
  }
  for (size_t i = 0; i < k; i++) {
    if (p->v[i].e <= p->v[i].s) continue;
    if (!tk_splits_push(out, &c->a, (split){tk_nstr_sub(t, p->v[i].s, p->v[i].e), -1})) return false;
  }
  return true;
}

static bool tk_regex_parts(const regex *re, enc_ctx *c, const nstr *t, parts *p) {
  size_t pos = 0, prev = 0;
  while (pos <= t->n) {
    size_t ms, me;
    if (!tk_regex_find(re, c->md, t->s, t->n, pos, &ms, &me)) break;
    if (ms > prev && !parts_push(p, prev, ms, false)) return false;
    if (!parts_push(p, ms, me, true)) return false;
    prev = me;
    if (me == ms) {
      /* Empty match: step over one character. */
      if (me >= t->n) break;
      uint32_t cp;
      size_t l = tk_utf8_decode((const unsigned char *)t->s, t->n, me, &cp);
      pos = me + (l ? l : 1);
    } else {
      pos = me;
    }
  }
  if (prev < t->n && !parts_push(p, prev, t->n, false)) return false;
  return true;
}

typedef bool (*char_pred)(uint32_t cp, uint32_t arg);

static bool char_parts(char_pred f, uint32_t arg, const nstr *t, parts *p) {
  size_t prev = 0;
  const unsigned char *s = (const unsigned char *)t->s;
  for (size_t i = 0; i < t->n;) {
    uint32_t cp;
    size_t l = tk_utf8_decode(s, t->n, i, &cp);
    if (!l) l = 1;
    if (f(cp, arg)) {
      if (i > prev && !parts_push(p, prev, i, false)) return false;
      if (!parts_push(p, i, i + l, true)) return false;
      prev = i + l;
    }
    i += l;
  }
  if (prev < t->n && !parts_push(p, prev, t->n, false)) return false;
  return true;
}

static bool pred_ws(uint32_t cp, uint32_t a) { return (void)a, tk_cp_is_whitespace(cp); }
static bool pred_num(uint32_t cp, uint32_t a) { return (void)a, tk_cp_is_numeric(cp); }
static bool pred_punct(uint32_t cp, uint32_t a) { return (void)a, tk_cp_is_punct(cp); }
static bool pred_eq(uint32_t cp, uint32_t a) { return cp == a; }

/* Runs `fn` on every split without a token, replacing it by its pieces. */
typedef bool (*split_fn)(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c);

static bool for_each_split(const pretok *p, splits *s, enc_ctx *c, split_fn fn) {
  splits out = {0};
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].id >= 0) {
      if (!tk_splits_push(&out, &c->a, s->v[i])) return false;
      continue;
    }
    if (!fn(p, &s->v[i].t, i, &out, c)) return false;
  }
  *s = out;
  return !c->a.oom;
}

static bool fn_regex_split(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)idx;
  parts ps = {0};
  bool ok = tk_regex_parts(p->re, c, t, &ps) && apply_behavior(out, c, t, &ps, p->behavior, p->invert);
  free(ps.v);
  return ok;
}

static bool fn_char_split(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)idx;
  parts ps = {0};
  char_pred f;
  split_behavior b;
  uint32_t arg = 0;
  switch (p->type) {
  case PT_WHITESPACE_SPLIT: f = pred_ws; b = SB_REMOVED; break;
  case PT_DIGITS: f = pred_num; b = p->individual_digits ? SB_ISOLATED : SB_CONTIGUOUS; break;
  case PT_PUNCT: f = pred_punct; b = p->behavior; break;
  default: f = pred_eq; arg = p->repl; b = SB_REMOVED; break; /* CharDelimiterSplit */
  }
  bool ok = char_parts(f, arg, t, &ps) && apply_behavior(out, c, t, &ps, b, false);
  free(ps.v);
  return ok;
}

static regex *ws_re;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static void ws_build(void) {
  static const char pat[] = "\\w+|[^\\w\\s]+";
  ws_re = tk_regex_new(pat, sizeof pat - 1, false, "Whitespace");
}

static bool fn_whitespace(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)p, (void)idx;
  pthread_once(&ws_once, ws_build);
  if (!ws_re) return false;
  parts ps = {0};
  bool ok = tk_regex_parts(ws_re, c, t, &ps) && apply_behavior(out, c, t, &ps, SB_REMOVED, true);
  free(ps.v);
  return ok;
}

static bool fn_bert(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)p, (void)idx;
  splits tmp = {0};
  parts ps = {0};
  bool ok = char_parts(pred_ws, 0, t, &ps) && apply_behavior(&tmp, c, t, &ps, SB_REMOVED, false);
  for (size_t i = 0; ok && i < tmp.n; i++) {
    ps.n = 0;
    ok = char_parts(pred_punct, 0, &tmp.v[i].t, &ps) &&
         apply_behavior(out, c, &tmp.v[i].t, &ps, SB_ISOLATED, false);
  }
  free(ps.v);
  return ok;
}

static bool fn_metaspace(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)idx;
  nstr y;
  tk_nstr_init(&y, &c->a);
  char rep[4];
  size_t rl = tk_utf8_encode(p->repl, rep);
  uint32_t first = 0;
  size_t fl = t->n ? tk_utf8_decode((const unsigned char *)t->s, t->n, 0, &first) : 0;
  bool starts = fl && first == ' ' ? true : (fl && first == p->repl);
  bool pre = false;
  if (!starts && t->n) {
    if (p->prepend == PS_ALWAYS) pre = true;
    else if (p->prepend == PS_FIRST) pre = t->o[0] == 0;
  }
  if (pre && !tk_nstr_put(&y, rep, rl, t->o[0], t->o[2 * (fl ? fl : 1) - 1])) return false;
  for (size_t i = 0; i < t->n; i++) {
    if (t->s[i] == ' ') {
      if (!tk_nstr_put(&y, rep, rl, t->o[2 * i], t->o[2 * i + 1])) return false;
    } else {
      size_t j = i + 1;
      while (j < t->n && t->s[j] != ' ') j++;
      if (!tk_nstr_put_from(&y, t, i, j)) return false;
      i = j - 1;
    }
  }
  tk_nstr_done(&y);
  if (c->a.oom) return false;
  if (!p->split) return y.n ? tk_splits_push(out, &c->a, (split){y, -1}) : true;
  parts ps = {0};
  bool ok = char_parts(pred_eq, p->repl, &y, &ps) &&
            apply_behavior(out, c, &y, &ps, SB_MERGED_NEXT, false);
  free(ps.v);
  return ok;
}

static bool fn_scripts(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)p, (void)idx;
  return tk_split_scripts(t, out, c);
}

static bool fn_bytelevel(const pretok *p, const nstr *t0, size_t idx, splits *out, enc_ctx *c) {
  (void)idx;
  nstr t = *t0;
  if (p->add_prefix_space && !(t.n && t.s[0] == ' ')) {
    nstr y;
    tk_nstr_init(&y, &c->a);
    uint32_t os = t.n ? t.o[0] : 0;
    if (!tk_nstr_put(&y, " ", 1, os, t.n ? t.o[1] : 0) || !tk_nstr_put_from(&y, &t, 0, t.n))
      return false;
    tk_nstr_done(&y);
    t = y;
  }
  splits pieces = {0};
  if (p->use_regex) {
    regex *re = tk_bytelevel_regex();
    if (!re) return false;
    parts ps = {0};
    bool ok = tk_regex_parts(re, c, &t, &ps) && apply_behavior(&pieces, c, &t, &ps, SB_ISOLATED, false);
    free(ps.v);
    if (!ok) return false;
  } else if (t.n) {
    if (!tk_splits_push(&pieces, &c->a, (split){t, -1})) return false;
  }
  for (size_t k = 0; k < pieces.n; k++) {
    const nstr *x = &pieces.v[k].t;
    size_t total = 0;
    for (size_t i = 0; i < x->n; i++) total += tk_bl_byte2cp[(unsigned char)x->s[i]] < 0x80 ? 1 : 2;
    nstr y;
    tk_nstr_init(&y, &c->a);
    y.s = tk_arena_bump(&c->a, total);
    y.o = tk_arena_bump(&c->a, total * 2 * sizeof *y.o);
    if (!y.s || !y.o) return false;
    for (size_t i = 0; i < x->n; i++) {
      uint32_t cp = tk_bl_byte2cp[(unsigned char)x->s[i]];
      uint32_t os = x->o[2 * i], oe = x->o[2 * i + 1];
      if (cp < 0x80) {
        y.s[y.n] = (char)cp;
        y.o[2 * y.n] = os, y.o[2 * y.n + 1] = oe, y.n++;
      } else {
        y.s[y.n] = (char)(0xC0 | (cp >> 6));
        y.s[y.n + 1] = (char)(0x80 | (cp & 0x3F));
        y.o[2 * y.n] = os, y.o[2 * y.n + 1] = oe;
        y.o[2 * y.n + 2] = os, y.o[2 * y.n + 3] = oe;
        y.n += 2;
      }
    }
    if (!tk_splits_push(out, &c->a, (split){y, -1})) return false;
  }
  return !c->a.oom;
}

bool tk_pre_tokenize(const pretok *p, splits *s, enc_ctx *c) {
  if (!p) return true;
  switch (p->type) {
  case PT_SEQ:
    for (size_t i = 0; i < p->nsub; i++)
      if (!tk_pre_tokenize(p->sub[i], s, c)) return false;
    return true;
  case PT_SPLIT: return for_each_split(p, s, c, fn_regex_split);
  case PT_BYTELEVEL: return for_each_split(p, s, c, fn_bytelevel);
  case PT_WHITESPACE: return for_each_split(p, s, c, fn_whitespace);
  case PT_METASPACE: return for_each_split(p, s, c, fn_metaspace);
  case PT_BERT: return for_each_split(p, s, c, fn_bert);
  case PT_UNICODE_SCRIPTS: return for_each_split(p, s, c, fn_scripts);
  case PT_WHITESPACE_SPLIT:
  case PT_DIGITS:
  case PT_PUNCT:
  case PT_CHAR_DELIM: return for_each_split(p, s, c, fn_char_split);
  }
  return true;
}

void tk_pretok_free(pretok *p) {
  if (!p) return;
  tk_regex_free(p->re);
  for (size_t i = 0; i < p->nsub; i++) tk_pretok_free(p->sub[i]);
  free(p->sub);
  free(p);
}
