/* tokenizer_normalize.c — HF normalizers over offset-carrying strings:
 * NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace, Prepend,
 * BertNormalizer, Nmt, Precompiled (SentencePiece charsmap) and Sequence.
 *
 * Unicode normalization runs per segment (a starter and the non-starters
 * after it, Hangul jamo included) so that each output character keeps the
 * original range of its segment; compositions across two starters (rare
 * scripts) are therefore not made. utf8proc provides the data (its Unicode
 * version may lag the one HF's Rust crates use). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tokenizer_internal.h"

/* Iterates the code points of x; every normalizer below maps chars. */
#define FOR_CHARS(x, i, len, cp)                                                        \
  for (size_t i = 0, len = 0; i < (x)->n; i += len)                                    \
    if ((len = tk_utf8_decode((const unsigned char *)(x)->s, (x)->n, i, &(cp))) == 0) {    \
      len = 1; /* cannot happen: strings are kept valid */                              \
    } else

static inline uint32_t ostart(const nstr *x, size_t i) { return x->o[2 * i]; }
static inline uint32_t oend(const nstr *x, size_t i) { return x->o[2 * i + 1]; }

static bool put_cp(nstr *y, uint32_t cp, uint32_t os, uint32_t oe) {
  char b[4];
  return tk_nstr_put(y, b, tk_utf8_encode(cp, b), os, oe);
}

static bool finish(nstr *x, nstr *y) {
  if (x->a->oom) return false;
  tk_nstr_done(y);
  *x = *y;
  return true;
}

/* ------------------------------------------------------------ unicode forms */

static bool is_starter(uint32_t cp) {
  if (cp < 0x300) return true;
  if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2)) return false;
  const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
  return p->combining_class == 0;
}

static bool unicode_form(nstr *x, utf8proc_option_t opt) {
  nstr y;
  tk_nstr_init(&y, x->a);
  const unsigned char *s = (const unsigned char *)x->s;
  size_t i = 0;
  utf8proc_int32_t buf[256];
  while (i < x->n) {
    /* One segment: [i, j). */
    uint32_t cp;
    size_t l = tk_utf8_decode(s, x->n, i, &cp), j = i + (l ? l : 1);
    if (cp < 0x80 && (j >= x->n || s[j] < 0x80)) {
      /* ASCII followed by ASCII: unchanged by every form. */
      if (!tk_nstr_put_from(&y, x, i, j)) return false;
      i = j;
      continue;
    }
    while (j < x->n) {
      uint32_t c2;
      size_t l2 = tk_utf8_decode(s, x->n, j, &c2);
      if (!l2 || is_starter(c2)) break;
      j += l2;
    }
    utf8proc_ssize_t k = utf8proc_decompose(s + i, (utf8proc_ssize_t)(j - i), buf, 256,
                                            opt & ~(utf8proc_option_t)UTF8PROC_COMPOSE);
    if (k < 0 || k > 256) {
      /* Absurdly long segment (hundreds of marks): keep it as is. */
      if (!tk_nstr_put_from(&y, x, i, j)) return false;
      i = j;
      continue;
    }
    if (opt & UTF8PROC_COMPOSE) {
      k = utf8proc_normalize_utf32(buf, k, opt);
      if (k < 0) k = 0;
    }
    uint32_t os = ostart(x, i), oe = oend(x, j - 1);
    for (utf8proc_ssize_t q = 0; q < k; q++)
      if (!put_cp(&y, (uint32_t)buf[q], os, oe)) return false;
    i = j;
  }
  return finish(x, &y);
}

/* ------------------------------------------------------------ simple maps */

static bool lowercase(nstr *x) {
  nstr y;
  tk_nstr_init(&y, x->a);
  uint32_t cp;
  FOR_CHARS(x, i, len, cp) {
    uint32_t os = ostart(x, i), oe = oend(x, i + len - 1);
    if (cp < 0x80) {
      char c = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
      if (!tk_nstr_put(&y, &c, 1, os, oe)) return false;
    } else if (cp == 0x130) { /* the one multi-char lowercase: i + combining dot */
      if (!put_cp(&y, 'i', os, oe) || !put_cp(&y, 0x307, os, oe)) return false;
    } else if (!put_cp(&y, (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), os, oe)) {
      return false;
    }
  }
  return finish(x, &y);
}

static bool strip(nstr *x, bool left, bool right) {
  size_t a = 0, b = x->n;
  const unsigned char *s = (const unsigned char *)x->s;
  if (left)
    while (a < b) {
      uint32_t cp;
      size_t l = tk_utf8_decode(s, x->n, a, &cp);
      if (!l || !tk_cp_is_whitespace(cp)) break;
      a += l;
    }
  if (right)
    while (b > a) {
      size_t k = b - 1;
      while (k > a && (s[k] & 0xC0) == 0x80) k--;
      uint32_t cp;
      size_t l = tk_utf8_decode(s, x->n, k, &cp);
      if (!l || !tk_cp_is_whitespace(cp)) break;
      b = k;
    }
  *x = tk_nstr_sub(x, a, b);
  return true;
}

static bool strip_accents(nstr *x) {
  nstr y;
  tk_nstr_init(&y, x->a);
  uint32_t cp;
  FOR_CHARS(x, i, len, cp) {
    if (tk_cp_is_mark(cp)) continue;
    if (!tk_nstr_put_from(&y, x, i, i + len)) return false;
  }
  return finish(x, &y);
}

/* Literal search (memmem is GNU). */
static const char *find_lit(const char *h, size_t hn, const char *n, size_t nn) {
  if (!nn || nn > hn) return NULL;
  const char *end = h + hn - nn + 1;
  for (const char *p = h; p < end;) {
    p = memchr(p, n[0], (size_t)(end - p));
    if (!p) return NULL;
    if (memcmp(p, n, nn) == 0) return p;
    p++;
  }
  return NULL;
}

static bool replace(const normalizer *nm, nstr *x, enc_ctx *c) {
  nstr y;
  tk_nstr_init(&y, x->a);
  size_t pos = 0;
  while (pos <= x->n) {
    size_t ms, me;
    if (nm->re) {
      if (!tk_regex_find(nm->re, c->md, x->s, x->n, pos, &ms, &me)) break;
      if (me == ms) { /* empty matches replace nothing */
        if (ms >= x->n) break;
        uint32_t cp;
        size_t l = tk_utf8_decode((const unsigned char *)x->s, x->n, ms, &cp);
        if (!tk_nstr_put_from(&y, x, pos, ms + (l ? l : 1))) return false;
        pos = ms + (l ? l : 1);
        continue;
      }
    } else {
      break;
    }
    if (!tk_nstr_put_from(&y, x, pos, ms)) return false;
    if (!tk_nstr_put(&y, nm->content, nm->content_len, ostart(x, ms), oend(x, me - 1))) return false;
    pos = me;
  }
  if (pos < x->n && !tk_nstr_put_from(&y, x, pos, x->n)) return false;
  return finish(x, &y);
}

static bool replace_lit(const char *pat, size_t pn, const char *content, size_t cn, nstr *x) {
  if (!pn || !x->n) return true;
  if (!find_lit(x->s, x->n, pat, pn)) return true;
  nstr y;
  tk_nstr_init(&y, x->a);
  size_t pos = 0;
  for (;;) {
    const char *p = find_lit(x->s + pos, x->n - pos, pat, pn);
    if (!p) break;
    size_t ms = (size_t)(p - x->s), me = ms + pn;
    if (!tk_nstr_put_from(&y, x, pos, ms)) return false;
    if (!tk_nstr_put(&y, content, cn, ostart(x, ms), oend(x, me - 1))) return false;
    pos = me;
  }
  if (!tk_nstr_put_from(&y, x, pos, x->n)) return false;
  return finish(x, &y);
}

static bool prepend(nstr *x, const char *s, size_t n) {
  if (!x->n) return true;
  nstr y;
  tk_nstr_init(&y, x->a);
  uint32_t cp;
  size_t l = tk_utf8_decode((const unsigned char *)x->s, x->n, 0, &cp);
  if (!l) l = 1;
  if (!tk_nstr_put(&y, s, n, ostart(x, 0), oend(x, l - 1)) || !tk_nstr_put_from(&y, x, 0, x->n))
    return false;
  return finish(x, &y);
}

static bool bert(const normalizer *nm, nstr *x) {
  if (nm->clean_text || nm->chinese) {
    nstr y;
    tk_nstr_init(&y, x->a);
    uint32_t cp;
    FOR_CHARS(x, i, len, cp) {
      uint32_t os = ostart(x, i), oe = oend(x, i + len - 1);
      if (nm->clean_text) {
        if (cp == 0 || cp == 0xFFFD || tk_cp_is_control(cp)) continue;
        if (tk_cp_is_whitespace(cp)) {
          if (!tk_nstr_put(&y, " ", 1, os, oe)) return false;
          continue;
        }
      }
      if (nm->chinese && tk_cp_is_cjk(cp)) {
        if (!tk_nstr_put(&y, " ", 1, os, oe) || !tk_nstr_put_from(&y, x, i, i + len) ||
            !tk_nstr_put(&y, " ", 1, os, oe))
          return false;
        continue;
      }
      if (!tk_nstr_put_from(&y, x, i, i + len)) return false;
    }
    if (!finish(x, &y)) return false;
  }
  bool sa = nm->strip_accents < 0 ? nm->lowercase : nm->strip_accents > 0;
  if (sa && (!unicode_form(x, UTF8PROC_DECOMPOSE) || !strip_accents(x))) return false;
  if (nm->lowercase && !lowercase(x)) return false;
  return true;
}

static bool nmt(nstr *x) {
  nstr y;
  tk_nstr_init(&y, x->a);
  uint32_t cp;
  FOR_CHARS(x, i, len, cp) {
    if ((cp >= 1 && cp <= 8) || cp == 0xB || (cp >= 0xE && cp <= 0x1F) || cp == 0x7F ||
        cp == 0x8F || cp == 0x9F)
      continue;
    bool sp = cp == 9 || cp == 0xA || cp == 0xC || cp == 0xD || cp == 0x1680 ||
              (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
              cp == 0xFEFF || cp == 0xFFFD;
    if (sp ? !tk_nstr_put(&y, " ", 1, ostart(x, i), oend(x, i + len - 1))
           : !tk_nstr_put_from(&y, x, i, i + len))
      return false;
  }
  return finish(x, &y);
}

/* ------------------------------------------------------------ precompiled */

struct precompiled {
  uint32_t *units;
  size_t nunits;
  char *norm;
  size_t nnorm;
};

precompiled *tk_precompiled_new(const unsigned char *b, size_t n) {
  if (n < 4) return NULL;
  uint32_t ts = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  if (ts % 4 || ts > n - 4 || ts == 0) return NULL;
  precompiled *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nunits = ts / 4;
  p->units = malloc(ts);
  p->nnorm = n - 4 - ts;
  p->norm = malloc(p->nnorm + 1);
  if (!p->units || !p->norm) {
    tk_precompiled_free(p);
    return NULL;
  }
  for (size_t i = 0; i < p->nunits; i++) {
    const unsigned char *u = b + 4 + 4 * i;
    p->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
  }
  memcpy(p->norm, b + 4 + ts, p->nnorm);
  p->norm[p->nnorm] = 0;
  return p;
}

void tk_precompiled_free(precompiled *p) {
  if (!p) return;
  free(p->units);
  free(p->norm);
  free(p);
}

/* Darts double-array: the first (shortest) key that prefixes s, as
 * spm_precompiled's transform uses it; returns the replacement. */
static const char *pc_lookup(const precompiled *p, const char *s, size_t n, size_t *rlen) {
#define D_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
#define D_LABEL(u) ((u) & ((1u << 31) | 0xFFu))
#define D_LEAF(u) (((u) >> 8) & 1u)
#define D_VALUE(u) ((u) & ((1u << 31) - 1))
  size_t pos = 0;
  uint32_t u = p->units[0];
  pos ^= D_OFFSET(u);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    pos ^= ch;
    if (pos >= p->nunits) return NULL;
    u = p->units[pos];
    if (D_LABEL(u) != ch) return NULL;
    pos ^= D_OFFSET(u);
    if (pos >= p->nunits) return NULL;
    if (D_LEAF(u)) {
      size_t v = D_VALUE(p->units[pos]);
      if (v >= p->nnorm) return NULL;
      *rlen = strlen(p->norm + v);
      return p->norm + v;
    }
  }
  return NULL;
#undef D_OFFSET
#undef D_LABEL
#undef D_LEAF
#undef D_VALUE
}

static bool tk_precompiled_apply(const precompiled *p, nstr *x) {
  nstr y;
  tk_nstr_init(&y, x->a);
  const unsigned char *s = (const unsigned char *)x->s;
  size_t i = 0;
  while (i < x->n) {
    /* One extended grapheme cluster [i, j). */
    utf8proc_int32_t state = 0;
    uint32_t cp, prev;
    size_t l = tk_utf8_decode(s, x->n, i, &cp), j = i + (l ? l : 1);
    prev = cp;
    while (j < x->n) {
      uint32_t c2;
      size_t l2 = tk_utf8_decode(s, x->n, j, &c2);
      if (!l2 || utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c2,
                                                  &state))
        break;
      prev = c2;
      j += l2;
    }
    size_t rl;
    const char *r;
    if (j - i < 6 && (r = pc_lookup(p, x->s + i, j - i, &rl)) != NULL) {
      if (!tk_utf8_valid(r, rl)) rl = 0; /* a broken charsmap must not break UTF-8 */
      if (!tk_nstr_put(&y, r, rl, ostart(x, i), oend(x, j - 1))) return false;
      i = j;
      continue;
    }
    for (size_t k = i; k < j;) {
      uint32_t c3;
      size_t l3 = tk_utf8_decode(s, x->n, k, &c3);
      if (!l3) l3 = 1;
      if ((r = pc_lookup(p, x->s + k, l3, &rl)) != NULL && tk_utf8_valid(r, rl)) {
        if (!tk_nstr_put(&y, r, rl, ostart(x, k), oend(x, k + l3 - 1))) return false;
      } else if (!tk_nstr_put_from(&y, x, k, k + l3)) {
        return false;
      }
      k += l3;
    }
    i = j;
  }
  return finish(x, &y);
}

/* ------------------------------------------------------------ dispatch */

bool tk_normalize(const normalizer *nm, nstr *x, enc_ctx *c) {
  if (!nm) return true;
  switch (nm->type) {
  case NORM_NFC: return unicode_form(x, UTF8PROC_COMPOSE);
  case NORM_NFD: return unicode_form(x, UTF8PROC_DECOMPOSE);
  case NORM_NFKC: return unicode_form(x, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  case NORM_NFKD: return unicode_form(x, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  case NORM_LOWER: return lowercase(x);
  case NORM_STRIP: return strip(x, nm->left, nm->right);
  case NORM_STRIP_ACCENTS: return strip_accents(x);
  case NORM_REPLACE:
    if (nm->lit) return replace_lit(nm->lit, nm->lit_len, nm->content, nm->content_len, x);
    if (!nm->re) return true;
    return replace(nm, x, c);
  case NORM_PREPEND: return prepend(x, nm->content, nm->content_len);
  case NORM_BERT: return bert(nm, x);
  case NORM_NMT: return nmt(x);
  case NORM_PRECOMPILED: return nm->pc ? tk_precompiled_apply(nm->pc, x) : true;
  case NORM_SEQ:
    for (size_t i = 0; i < nm->nsub; i++)
      if (!tk_normalize(nm->sub[i], x, c)) return false;
    return true;
  }
  return true;
}

void tk_normalizer_free(normalizer *nm) {
  if (!nm) return;
  tk_regex_free(nm->re);
  free(nm->lit);
  free(nm->content);
  tk_precompiled_free(nm->pc);
  for (size_t i = 0; i < nm->nsub; i++) tk_normalizer_free(nm->sub[i]);
  free(nm->sub);
  free(nm);
}
