/* tokenizer_added.c — HF's AddedVocabulary: added tokens are cut out of the
 * text before the model sees it, leftmost-longest first (as its
 * Aho-Corasick matcher does), tokens with normalized=false on the raw text,
 * the others on each normalized piece; single_word, lstrip and rstrip are
 * honored as HF does. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

bool tok_add_token(mx_tokenizer *t, const char *s, size_t len, int32_t id, bool special,
                   bool single_word, bool lstrip, bool rstrip, bool normalized) {
  if (id < 0) return false;
  int32_t k = tk_strmap_get(&t->added_map, s, len);
  added_tok *a;
  if (k >= 0) {
    a = &t->added[k];
  } else {
    added_tok *na = realloc(t->added, (t->nadded + 1) * sizeof *na);
    if (!na) return false;
    t->added = na;
    a = &t->added[t->nadded];
    memset(a, 0, sizeof *a);
    a->content = malloc(len + 1);
    if (!a->content) return false;
    memcpy(a->content, s, len);
    a->content[len] = 0;
    a->len = len;
    if (!tk_strmap_put(&t->added_map, s, len, (int32_t)t->nadded)) {
      free(a->content);
      return false;
    }
    k = (int32_t)t->nadded++;
  }
  a->id = id;
  a->special = special;
  a->single_word = single_word;
  a->lstrip = lstrip;
  a->rstrip = rstrip;
  a->normalized = normalized;
  return tk_u64map_put(&t->added_by_id, (uint64_t)(uint32_t)id, (uint64_t)k);
}

static bool is_word_char(uint32_t c) { return c == '_' || tk_cp_is_alnum(c); }

static bool last_is_word(const char *s, size_t n) {
  if (!n) return false;
  size_t k = n - 1;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  uint32_t cp;
  return tk_utf8_decode((const unsigned char *)s, n, k, &cp) && is_word_char(cp);
}

static bool first_is_word(const char *s, size_t n) {
  uint32_t cp;
  return n && tk_utf8_decode((const unsigned char *)s, n, 0, &cp) && is_word_char(cp);
}

/* Cuts the added tokens of `tr` out of x; pieces go to out (text pieces are
 * normalized first when `norm` is set). */
static bool cut(const mx_tokenizer *t, const trie *tr, bool have, const nstr *x, bool norm,
                splits *out, enc_ctx *c) {
  size_t start_off = 0, pos = 0;
  const unsigned char *s = (const unsigned char *)x->s;
  if (have) {
    while (pos < x->n) {
      int32_t idx;
      size_t l = tk_trie_longest(tr, x->s + pos, x->n - pos, &idx);
      if (!l) {
        pos++;
        continue;
      }
      const added_tok *a = &t->added[idx];
      size_t ms = pos, me = pos + l;
      pos = me;
      if (a->single_word) {
        bool ok_l = ms == 0 || !last_is_word(x->s, ms);
        bool ok_r = me == x->n || !first_is_word(x->s + me, x->n - me);
        if (!ok_l || !ok_r) continue;
      }
      if (a->lstrip) {
        size_t k = ms;
        while (k > 0) {
          size_t j = k - 1;
          while (j > 0 && (s[j] & 0xC0) == 0x80) j--;
          uint32_t cp;
          if (!tk_utf8_decode(s, x->n, j, &cp) || !tk_cp_is_whitespace(cp)) break;
          k = j;
        }
        ms = k > start_off ? k : start_off;
      }
      if (a->rstrip) {
        while (me < x->n) {
          uint32_t cp;
          size_t ln = tk_utf8_decode(s, x->n, me, &cp);
          if (!ln || !tk_cp_is_whitespace(cp)) break;
          me += ln;
        }
        pos = me;
      }
      if (start_off < ms) {
        nstr piece = tk_nstr_sub(x, start_off, ms);
        if (norm && !tk_normalize(t->norm, &piece, c)) return false;
        if (norm) {
          if (!cut(t, &t->tk_trie_norm, t->have_norm, &piece, false, out, c)) return false;
        } else if (piece.n && !tk_splits_push(out, &c->a, (split){piece, -1})) {
          return false;
        }
      }
      if (!tk_splits_push(out, &c->a, (split){tk_nstr_sub(x, ms, me), a->id})) return false;
      start_off = me;
    }
  }
  if (start_off < x->n || (x->n == 0 && norm)) {
    nstr piece = tk_nstr_sub(x, start_off, x->n);
    if (norm) {
      if (!tk_normalize(t->norm, &piece, c)) return false;
      return cut(t, &t->tk_trie_norm, t->have_norm, &piece, false, out, c);
    }
    if (piece.n && !tk_splits_push(out, &c->a, (split){piece, -1})) return false;
  }
  return true;
}

bool tk_added_split(const mx_tokenizer *t, const char *text, size_t len, splits *out, enc_ctx *c) {
  if (len > UINT32_MAX / 4) {
    set_error(MX_ERR_INVALID_ARG, "tokenizer: text of %zu bytes is too long (limit 1 GiB)", len);
    return false;
  }
  nstr base;
  tk_nstr_init(&base, &c->a);
  uint32_t *o = NULL;
  size_t n = 0;
  char *clean = tk_utf8_sanitize(text ? text : "", len, &n, &o);
  if (!clean) {
    c->a.oom = true;
    return false;
  }
  base.s = tk_arena_keep(&c->a, clean);
  base.o = tk_arena_keep(&c->a, o);
  base.n = n;
  if (c->a.oom) return false;
  return cut(t, &t->tk_trie_raw, t->have_raw, &base, true, out, c);
}
