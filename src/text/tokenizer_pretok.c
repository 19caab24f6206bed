/* tokenizer_pretok.c — HF pre-tokenizers: ByteLevel, Split, Whitespace,
 * WhitespaceSplit, Metaspace, Digits, Punctuation, BertPreTokenizer,
 * CharDelimiterSplit, Sequence. Splits that already hold an added token
 * pass through untouched. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

/* ------------------------------------------------------------ byte-level tables */

uint32_t bl_byte2cp[256];
static int16_t bl_rev[512]; /* cp (< 512) -> byte */
static pthread_once_t bl_once = PTHREAD_ONCE_INIT;

static void bl_build(void) {
  /* GPT-2: printable Latin-1 bytes map to themselves, the others to 256+. */
  int n = 0;
  for (int b = 0; b < 512; b++) bl_rev[b] = -1;
  for (int b = 0; b < 256; b++) {
    bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    bl_byte2cp[b] = keep ? (uint32_t)b : (uint32_t)(256 + n++);
    bl_rev[bl_byte2cp[b]] = (int16_t)b;
  }
}

void bl_init(void) { pthread_once(&bl_once, bl_build); }

int bl_cp2byte(uint32_t cp) { return cp < 512 ? bl_rev[cp] : -1; }

static regex *gpt2_re;
static pthread_once_t gpt2_once = PTHREAD_ONCE_INIT;
static void gpt2_build(void) {
  static const char p[] =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  gpt2_re = regex_new(p, sizeof p - 1, false, "ByteLevel");
}
regex *bytelevel_regex(void) {
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
    if (!splits_push(out, &c->a, (split){nstr_sub(t, p->v[i].s, p->v[i].e), -1})) return false;
  }
  return true;
}

static bool regex_parts(const regex *re, enc_ctx *c, const nstr *t, parts *p) {
  size_t pos = 0, prev = 0;
  while (pos <= t->n) {
    size_t ms, me;
    if (!regex_find(re, c->md, t->s, t->n, pos, &ms, &me)) break;
    if (ms > prev && !parts_push(p, prev, ms, false)) return false;
    if (!parts_push(p, ms, me, true)) return false;
    prev = me;
    if (me == ms) {
      /* Empty match: step over one character. */
      if (me >= t->n) break;
      uint32_t cp;
      size_t l = utf8_decode((const unsigned char *)t->s, t->n, me, &cp);
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
    size_t l = utf8_decode(s, t->n, i, &cp);
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

static bool pred_ws(uint32_t cp, uint32_t a) { return (void)a, cp_is_whitespace(cp); }
static bool pred_num(uint32_t cp, uint32_t a) { return (void)a, cp_is_numeric(cp); }
static bool pred_punct(uint32_t cp, uint32_t a) { return (void)a, cp_is_punct(cp); }
static bool pred_eq(uint32_t cp, uint32_t a) { return cp == a; }

/* Runs `fn` on every split without a token, replacing it by its pieces. */
typedef bool (*split_fn)(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c);

static bool for_each_split(const pretok *p, splits *s, enc_ctx *c, split_fn fn) {
  splits out = {0};
  for (size_t i = 0; i < s->n; i++) {
    if (s->v[i].id >= 0) {
      if (!splits_push(&out, &c->a, s->v[i])) return false;
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
  bool ok = regex_parts(p->re, c, t, &ps) && apply_behavior(out, c, t, &ps, p->behavior, p->invert);
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
  ws_re = regex_new(pat, sizeof pat - 1, false, "Whitespace");
}

static bool fn_whitespace(const pretok *p, const nstr *t, size_t idx, splits *out, enc_ctx *c) {
  (void)p, (void)idx;
  pthread_once(&ws_once, ws_build);
  if (!ws_re) return false;
  parts ps = {0};
  bool ok = regex_parts(ws_re, c, t, &ps) && apply_behavior(out, c, t, &ps, SB_REMOVED, true);
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
  nstr_init(&y, &c->a);
  char rep[4];
  size_t rl = utf8_encode(p->repl, rep);
  uint32_t first = 0;
  size_t fl = t->n ? utf8_decode((const unsigned char *)t->s, t->n, 0, &first) : 0;
  bool starts = fl && first == ' ' ? true : (fl && first == p->repl);
  bool pre = false;
  if (!starts && t->n) {
    if (p->prepend == PS_ALWAYS) pre = true;
    else if (p->prepend == PS_FIRST) pre = t->o[0] == 0;
  }
  if (pre && !nstr_put(&y, rep, rl, t->o[0], t->o[2 * (fl ? fl : 1) - 1])) return false;
  for (size_t i = 0; i < t->n; i++) {
    if (t->s[i] == ' ') {
      if (!nstr_put(&y, rep, rl, t->o[2 * i], t->o[2 * i + 1])) return false;
    } else {
      size_t j = i + 1;
      while (j < t->n && t->s[j] != ' ') j++;
      if (!nstr_put_from(&y, t, i, j)) return false;
      i = j - 1;
    }
  }
  nstr_done(&y);
  if (c->a.oom) return false;
  if (!p->split) return y.n ? splits_push(out, &c->a, (split){y, -1}) : true;
  parts ps = {0};
  bool ok = char_parts(pred_eq, p->repl, &y, &ps) &&
            apply_behavior(out, c, &y, &ps, SB_MERGED_NEXT, false);
  free(ps.v);
  return ok;
}

static bool fn_bytelevel(const pretok *p, const nstr *t0, size_t idx, splits *out, enc_ctx *c) {
  (void)idx;
  nstr t = *t0;
  if (p->add_prefix_space && !(t.n && t.s[0] == ' ')) {
    nstr y;
    nstr_init(&y, &c->a);
    uint32_t os = t.n ? t.o[0] : 0;
    if (!nstr_put(&y, " ", 1, os, t.n ? t.o[1] : 0) || !nstr_put_from(&y, &t, 0, t.n))
      return false;
    nstr_done(&y);
    t = y;
  }
  splits pieces = {0};
  if (p->use_regex) {
    regex *re = bytelevel_regex();
    if (!re) return false;
    parts ps = {0};
    bool ok = regex_parts(re, c, &t, &ps) && apply_behavior(&pieces, c, &t, &ps, SB_ISOLATED, false);
    free(ps.v);
    if (!ok) return false;
  } else if (t.n) {
    if (!splits_push(&pieces, &c->a, (split){t, -1})) return false;
  }
  for (size_t k = 0; k < pieces.n; k++) {
    const nstr *x = &pieces.v[k].t;
    nstr y;
    nstr_init(&y, &c->a);
    for (size_t i = 0; i < x->n; i++) {
      char b[4];
      size_t l = utf8_encode(bl_byte2cp[(unsigned char)x->s[i]], b);
      if (!nstr_put(&y, b, l, x->o[2 * i], x->o[2 * i + 1])) return false;
    }
    nstr_done(&y);
    if (!splits_push(out, &c->a, (split){y, -1})) return false;
  }
  return !c->a.oom;
}

bool pre_tokenize(const pretok *p, splits *s, enc_ctx *c) {
  if (!p) return true;
  switch (p->type) {
  case PT_SEQ:
    for (size_t i = 0; i < p->nsub; i++)
      if (!pre_tokenize(p->sub[i], s, c)) return false;
    return true;
  case PT_SPLIT: return for_each_split(p, s, c, fn_regex_split);
  case PT_BYTELEVEL: return for_each_split(p, s, c, fn_bytelevel);
  case PT_WHITESPACE: return for_each_split(p, s, c, fn_whitespace);
  case PT_METASPACE: return for_each_split(p, s, c, fn_metaspace);
  case PT_BERT: return for_each_split(p, s, c, fn_bert);
  case PT_WHITESPACE_SPLIT:
  case PT_DIGITS:
  case PT_PUNCT:
  case PT_CHAR_DELIM: return for_each_split(p, s, c, fn_char_split);
  }
  return true;
}

void pretok_free(pretok *p) {
  if (!p) return;
  regex_free(p->re);
  for (size_t i = 0; i < p->nsub; i++) pretok_free(p->sub[i]);
  free(p->sub);
  free(p);
}
