/* tokenizer_decode.c — HF decoders over the list of token strings:
 * ByteLevel, Metaspace, WordPiece, ByteFallback, Fuse, Strip, Replace, CTC,
 * BPEDecoder, Sequence. Each rewrites the list as HF's tk_decode_chain does. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

/* Replaces token i by b's contents (b is consumed). */
static bool set_tok(strvec *v, size_t i, sbuf *b) {
  if (b->oom) return false;
  free(v->s[i]);
  if (!b->p) {
    b->p = malloc(1);
    if (!b->p) return false;
    b->p[0] = 0;
  }
  v->s[i] = b->p;
  v->len[i] = b->n;
  memset(b, 0, sizeof *b);
  return true;
}

static bool replace_all(sbuf *o, const char *s, size_t n, const char *pat, size_t pn,
                        const char *rep, size_t rn) {
  if (!pn) return tk_sbuf_put(o, s, n);
  size_t i = 0;
  while (i < n) {
    if (n - i >= pn && memcmp(s + i, pat, pn) == 0) {
      if (!tk_sbuf_put(o, rep, rn)) return false;
      i += pn;
    } else {
      if (!tk_sbuf_put(o, s + i, 1)) return false;
      i++;
    }
  }
  if (!o->p) return tk_sbuf_put(o, "", 0);
  return true;
}

bool tk_wordpiece_cleanup(sbuf *out, const char *s, size_t n) {
  static const char *const pairs[][2] = {
      {" .", "."},       {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},  {" n't", "n't"},
      {" 'm", "'m"},     {" do not", " don't"},         {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  sbuf cur = {0};
  if (!tk_sbuf_put(&cur, s, n)) return false;
  for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
    sbuf nx = {0};
    if (!replace_all(&nx, cur.p, cur.n, pairs[k][0], strlen(pairs[k][0]), pairs[k][1],
                     strlen(pairs[k][1]))) {
      free(cur.p);
      free(nx.p);
      return false;
    }
    free(cur.p);
    cur = nx;
  }
  bool ok = tk_sbuf_put(out, cur.p, cur.n);
  free(cur.p);
  return ok;
}

static bool dec_bytelevel(strvec *v) {
  sbuf raw = {0};
  for (size_t i = 0; i < v->n; i++) {
    size_t mark = raw.n;
    bool all = true;
    const unsigned char *s = (const unsigned char *)v->s[i];
    for (size_t k = 0; k < v->len[i];) {
      uint32_t cp;
      size_t l = tk_utf8_decode(s, v->len[i], k, &cp);
      int b = l ? tk_bl_cp2byte(cp) : -1;
      if (b < 0) {
        all = false;
        break;
      }
      if (!tk_sbuf_putc(&raw, (char)b)) return false;
      k += l;
    }
    if (!all) {
      raw.n = mark; /* not byte-level text: its own bytes */
      if (!tk_sbuf_put(&raw, v->s[i], v->len[i])) return false;
    }
  }
  size_t n;
  char *clean = tk_utf8_sanitize(raw.p ? raw.p : "", raw.n, &n, NULL);
  free(raw.p);
  if (!clean) return false;
  for (size_t i = 0; i < v->n; i++) free(v->s[i]);
  v->n = 0;
  bool ok = tk_strvec_push(v, clean, n);
  free(clean);
  return ok;
}

static bool dec_metaspace(const decoder *d, strvec *v) {
  char rep[4];
  size_t rl = tk_utf8_encode(d->repl, rep);
  for (size_t i = 0; i < v->n; i++) {
    sbuf b = {0};
    if (!tk_sbuf_put(&b, "", 0)) return false;
    const char *s = v->s[i];
    size_t n = v->len[i];
    for (size_t k = 0; k < n;) {
      if (n - k >= rl && memcmp(s + k, rep, rl) == 0) {
        if (!(i == 0 && d->prepend != PS_NEVER) && !tk_sbuf_putc(&b, ' ')) return false;
        k += rl;
      } else {
        if (!tk_sbuf_putc(&b, s[k])) return false;
        k++;
      }
    }
    if (!set_tok(v, i, &b)) return false;
  }
  return true;
}

static bool dec_wordpiece(const decoder *d, strvec *v) {
  size_t pl = strlen(d->prefix);
  for (size_t i = 0; i < v->n; i++) {
    sbuf b = {0};
    if (!tk_sbuf_put(&b, "", 0)) return false;
    const char *s = v->s[i];
    size_t n = v->len[i];
    if (i != 0) {
      if (n >= pl && memcmp(s, d->prefix, pl) == 0) s += pl, n -= pl;
      else if (!tk_sbuf_putc(&b, ' ')) return false;
    }
    if (!tk_sbuf_put(&b, s, n)) return false;
    if (d->cleanup) {
      sbuf c = {0};
      bool ok = tk_wordpiece_cleanup(&c, b.p, b.n) && tk_sbuf_put(&c, "", 0);
      free(b.p);
      b = c;
      if (!ok) {
        free(c.p);
        return false;
      }
    }
    if (!set_tok(v, i, &b)) return false;
  }
  return true;
}

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static bool flush_bytes(strvec *out, sbuf *bytes) {
  if (!bytes->n) return true;
  bool ok;
  if (tk_utf8_valid(bytes->p, bytes->n)) {
    ok = tk_strvec_push(out, bytes->p, bytes->n);
  } else {
    ok = true;
    for (size_t k = 0; ok && k < bytes->n; k++) ok = tk_strvec_push(out, "\xEF\xBF\xBD", 3);
  }
  bytes->n = 0;
  return ok;
}

static bool dec_byte_fallback(strvec *v) {
  strvec out = {0};
  sbuf bytes = {0};
  bool ok = true;
  for (size_t i = 0; ok && i < v->n; i++) {
    const char *s = v->s[i];
    int h1, h2;
    if (v->len[i] == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && (h1 = hexv(s[3])) >= 0 &&
        (h2 = hexv(s[4])) >= 0) {
      ok = tk_sbuf_putc(&bytes, (char)(h1 * 16 + h2));
      continue;
    }
    ok = flush_bytes(&out, &bytes) && tk_strvec_push(&out, s, v->len[i]);
  }
  ok = ok && flush_bytes(&out, &bytes);
  free(bytes.p);
  tk_strvec_free(v);
  *v = out;
  return ok;
}

static bool dec_fuse(strvec *v) {
  sbuf b = {0};
  if (!tk_sbuf_put(&b, "", 0)) return false;
  for (size_t i = 0; i < v->n; i++)
    if (!tk_sbuf_put(&b, v->s[i], v->len[i])) return false;
  for (size_t i = 0; i < v->n; i++) free(v->s[i]);
  v->n = 0;
  bool ok = tk_strvec_push(v, b.p, b.n);
  free(b.p);
  return ok;
}

static bool dec_strip(const decoder *d, strvec *v) {
  char c[4];
  size_t cl = tk_utf8_encode(d->strip_char, c);
  for (size_t i = 0; i < v->n; i++) {
    const char *s = v->s[i];
    size_t a = 0, e = v->len[i];
    for (size_t k = 0; k < d->start && e - a >= cl && memcmp(s + a, c, cl) == 0; k++) a += cl;
    for (size_t k = 0; k < d->stop && e - a >= cl && memcmp(s + e - cl, c, cl) == 0; k++) e -= cl;
    sbuf b = {0};
    if (!tk_sbuf_put(&b, s + a, e - a) || !set_tok(v, i, &b)) return false;
  }
  return true;
}

/* Every non-overlapping match of re in s replaced by rep (empty matches
 * step one character, as the regex crate's replace_all does). */
static bool replace_regex(sbuf *o, const regex *re, const char *s, size_t n, const char *rep, size_t rn) {
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) return false;
  size_t pos = 0, last = 0, ms, me;
  bool ok = tk_sbuf_put(o, "", 0);
  while (ok && pos <= n && tk_regex_find(re, md, s, n, pos, &ms, &me)) {
    ok = tk_sbuf_put(o, s + last, ms - last) && tk_sbuf_put(o, rep, rn);
    last = me;
    if (me == ms) {
      if (me >= n) break;
      uint32_t cp;
      size_t l = tk_utf8_decode((const unsigned char *)s, n, me, &cp);
      pos = me + (l ? l : 1);
    } else {
      pos = me;
    }
  }
  ok = ok && tk_sbuf_put(o, s + last, n - last);
  pcre2_match_data_free(md);
  return ok;
}

static bool dec_replace(const decoder *d, strvec *v) {
  for (size_t i = 0; i < v->n; i++) {
    sbuf b = {0};
    if (d->re) {
      if (!replace_regex(&b, d->re, v->s[i], v->len[i], d->content, d->content_len) || !set_tok(v, i, &b))
        return false;
      continue;
    }
    if (!replace_all(&b, v->s[i], v->len[i], d->prefix, strlen(d->prefix), d->content,
                     d->content_len) ||
        !set_tok(v, i, &b))
      return false;
  }
  return true;
}

static bool dec_ctc(const decoder *d, strvec *v) {
  strvec out = {0};
  bool ok = true;
  for (size_t i = 0; ok && i < v->n; i++) {
    if (i > 0 && v->len[i] == v->len[i - 1] && memcmp(v->s[i], v->s[i - 1], v->len[i]) == 0)
      continue;
    sbuf a = {0}, b = {0};
    ok = replace_all(&a, v->s[i], v->len[i], d->pad, strlen(d->pad), "", 0);
    if (ok && d->cleanup) {
      sbuf c = {0};
      ok = tk_wordpiece_cleanup(&c, a.p, a.n) &&
           replace_all(&b, c.p ? c.p : "", c.n, d->delim, strlen(d->delim), " ", 1);
      free(c.p);
      free(a.p);
      a = b;
    }
    if (ok && a.n) ok = tk_strvec_push(&out, a.p, a.n);
    free(a.p);
  }
  tk_strvec_free(v);
  *v = out;
  return ok;
}

static bool dec_bpe(const decoder *d, strvec *v) {
  size_t sl = strlen(d->suffix);
  for (size_t i = 0; i < v->n; i++) {
    sbuf b = {0};
    const char *rep = i + 1 == v->n ? "" : " ";
    if (!replace_all(&b, v->s[i], v->len[i], d->suffix, sl, rep, strlen(rep)) || !set_tok(v, i, &b))
      return false;
  }
  return true;
}

bool tk_decode_chain(const decoder *d, strvec *v) {
  if (!d) return true;
  switch (d->type) {
  case DEC_BYTELEVEL: return dec_bytelevel(v);
  case DEC_METASPACE: return dec_metaspace(d, v);
  case DEC_WORDPIECE: return dec_wordpiece(d, v);
  case DEC_BYTE_FALLBACK: return dec_byte_fallback(v);
  case DEC_FUSE: return dec_fuse(v);
  case DEC_STRIP: return dec_strip(d, v);
  case DEC_REPLACE: return dec_replace(d, v);
  case DEC_CTC: return dec_ctc(d, v);
  case DEC_BPE: return dec_bpe(d, v);
  case DEC_SEQ:
    for (size_t i = 0; i < d->nsub; i++)
      if (!tk_decode_chain(d->sub[i], v)) return false;
    return true;
  }
  return true;
}

void tk_decoder_free(decoder *d) {
  if (!d) return;
  tk_regex_free(d->re);
  free(d->content);
  free(d->prefix);
  free(d->suffix);
  free(d->pad);
  free(d->delim);
  for (size_t i = 0; i < d->nsub; i++) tk_decoder_free(d->sub[i]);
  free(d->sub);
  free(d);
}
