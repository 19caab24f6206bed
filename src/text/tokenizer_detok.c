/* tokenizer_detok.c — streaming detokenizers, as mlx-lm's
 * tokenizer_utils.py defines them:
 *   naive: re-decodes the tokens of the current line, holding back a
 *          trailing U+FFFD (an incomplete character) until more arrives;
 *   SPM:   appends each token's bytes (▁ -> space, <0xNN> -> byte), flushing
 *          once they decode without a trailing U+FFFD; the first space is
 *          trimmed when the decoder strips it;
 *   BPE:   maps byte-level characters back to bytes likewise, and holds a
 *          lone space token until the next token.
 * Text therefore never ends inside a UTF-8 character. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

struct mx_detokenizer {
  const mx_tokenizer *t;
  mx_detokenizer_kind kind;
  sbuf text; /* SPM/BPE: all text; naive: text of finished lines */
  size_t offset;
  sbuf unflushed;
  bool trim_space;
  /* naive */
  int32_t *cur;
  size_t ncur, capcur;
  sbuf cur_text, view;
  bool clean_spaces;
};

static bool ends_with_fffd(const char *s, size_t n) {
  return n >= 3 && !memcmp(s + n - 3, "\xEF\xBF\xBD", 3);
}

/* Decodes with U+FFFD for invalid bytes (Python's "replace"). */
static char *lossy(const char *s, size_t n, size_t *out) {
  return tk_utf8_sanitize(s ? s : "", n, out, NULL);
}

mx_detokenizer *mx_detokenizer_new(const mx_tokenizer *t) {
  if (!t) {
    set_error(MX_ERR_INVALID_ARG, "mx_detokenizer_new: tokenizer is NULL");
    return NULL;
  }
  mx_detokenizer *d = calloc(1, sizeof *d);
  if (!d) {
    set_error(MX_ERR_OOM, "mx_detokenizer_new: out of memory");
    return NULL;
  }
  d->t = t;
  d->kind = t->detok;
  d->trim_space = t->detok_trim_space;
  if (d->kind == MX_DETOKENIZER_NAIVE) {
    /* mlx-lm probes whether decode cleans up " ," */
    int32_t *ids = NULL;
    size_t n = 0;
    char *s = NULL;
    if (mx_tokenizer_encode(t, "a ,b", 4, false, &ids, &n) == MX_OK &&
        mx_tokenizer_decode(t, ids, n, false, &s, NULL) == MX_OK)
      d->clean_spaces = strstr(s, " ,") == NULL;
    mx_clear_error();
    free(ids);
    free(s);
  }
  tk_sbuf_put(&d->text, "", 0);
  if (d->text.oom) {
    mx_detokenizer_free(d);
    set_error(MX_ERR_OOM, "mx_detokenizer_new: out of memory");
    return NULL;
  }
  return d;
}

mx_detokenizer_kind mx_detokenizer_get_kind(const mx_detokenizer *d) {
  return d ? d->kind : MX_DETOKENIZER_NAIVE;
}

void mx_detokenizer_reset(mx_detokenizer *d) {
  if (!d) return;
  d->text.n = 0;
  if (d->text.p) d->text.p[0] = 0;
  d->offset = 0;
  d->unflushed.n = 0;
  d->ncur = 0;
  d->cur_text.n = 0;
}

void mx_detokenizer_free(mx_detokenizer *d) {
  if (!d) return;
  free(d->text.p);
  free(d->unflushed.p);
  free(d->cur);
  free(d->cur_text.p);
  free(d->view.p);
  free(d);
}

/* ---- SPM ---- */

static bool spm_flush(mx_detokenizer *d, bool force) {
  sbuf r = {0};
  for (size_t i = 0; i < d->unflushed.n;) {
    if (d->unflushed.n - i >= 3 && !memcmp(d->unflushed.p + i, "\xE2\x96\x81", 3)) {
      tk_sbuf_putc(&r, ' ');
      i += 3;
    } else {
      tk_sbuf_putc(&r, d->unflushed.p[i++]);
    }
  }
  if (r.oom) {
    free(r.p);
    return false;
  }
  size_t n;
  char *txt = lossy(r.p, r.n, &n);
  free(r.p);
  if (!txt) return false;
  if (!force && ends_with_fffd(txt, n)) {
    free(txt);
    return true;
  }
  const char *p = txt;
  if (d->text.n == 0 && d->trim_space && n && p[0] == ' ') p++, n--;
  bool ok = tk_sbuf_put(&d->text, p, n);
  free(txt);
  d->unflushed.n = 0;
  return ok;
}

static bool spm_add(mx_detokenizer *d, int32_t id) {
  size_t l;
  const char *s = mx_tokenizer_id_to_token(d->t, id, &l);
  if (!s) return set_error(MX_ERR_INVALID_ARG, "mx_detokenizer_add: id %d is not in the vocabulary", (int)id), false;
  if (l >= 5 && !memcmp(s, "<0x", 3)) {
    char hex[3] = {s[3], s[4], 0};
    char *end;
    long v = strtol(hex, &end, 16);
    if (*end == 0) {
      char b = (char)v;
      if (!tk_sbuf_put(&d->unflushed, &b, 1)) return false;
      return spm_flush(d, false);
    }
  }
  return tk_sbuf_put(&d->unflushed, s, l) && spm_flush(d, false);
}

/* ---- BPE ---- */

static bool bpe_bytes(const char *s, size_t n, sbuf *out) {
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = tk_utf8_decode((const unsigned char *)s, n, i, &cp);
    if (!l) l = 1;
    int b = l ? tk_bl_cp2byte(cp) : -1;
    /* mlx-lm's `if res:` treats byte 0 as missing: the character stays */
    if (b > 0) tk_sbuf_putc(out, (char)b);
    else tk_sbuf_put(out, s + i, l);
    i += l;
  }
  return !out->oom;
}

static bool bpe_append(mx_detokenizer *d, const char *txt, size_t n) {
  if (n && txt[0] == ' ' && d->text.n == 0) txt++, n--;
  return tk_sbuf_put(&d->text, txt, n);
}

static bool bpe_add(mx_detokenizer *d, int32_t id) {
  size_t l;
  const char *s = mx_tokenizer_id_to_token(d->t, id, &l);
  if (!s) s = "!", l = 1;
  if (!tk_sbuf_put(&d->unflushed, s, l)) return false;
  sbuf raw = {0};
  if (!bpe_bytes(d->unflushed.p, d->unflushed.n, &raw)) {
    free(raw.p);
    return false;
  }
  size_t n;
  char *txt = lossy(raw.p, raw.n, &n);
  free(raw.p);
  if (!txt) return false;
  uint32_t cp = 0;
  size_t cl = tk_utf8_decode((const unsigned char *)s, l, 0, &cp);
  bool lone_space = cl && cl == l && tk_bl_cp2byte(cp) == ' ';
  bool ok = true;
  if (!ends_with_fffd(txt, n) && !lone_space) {
    ok = bpe_append(d, txt, n);
    d->unflushed.n = 0;
  }
  free(txt);
  return ok;
}

/* ---- naive ---- */

static bool naive_update(mx_detokenizer *d) {
  if (d->ncur) {
    char *s = NULL;
    size_t n = 0;
    if (mx_tokenizer_decode(d->t, d->cur, d->ncur, false, &s, &n) != MX_OK) return false;
    if (ends_with_fffd(s, n)) n -= 3;
    else if (d->clean_spaces && n && s[n - 1] == ' ') n--;
    d->cur_text.n = 0;
    bool ok = tk_sbuf_put(&d->cur_text, s, n);
    free(s);
    if (!ok) return false;
  }
  if (d->cur_text.n && d->cur_text.p[d->cur_text.n - 1] == '\n') {
    if (!tk_sbuf_put(&d->text, d->cur_text.p, d->cur_text.n)) return false;
    d->ncur = 0;
    d->cur_text.n = 0;
  }
  return true;
}

mx_status mx_detokenizer_add(mx_detokenizer *d, int32_t id) {
  if (!d) return set_error(MX_ERR_INVALID_ARG, "mx_detokenizer_add: detokenizer is NULL");
  mx_clear_error();
  bool ok;
  if (d->kind == MX_DETOKENIZER_SPM) {
    ok = spm_add(d, id);
  } else if (d->kind == MX_DETOKENIZER_BPE) {
    ok = bpe_add(d, id);
  } else {
    if (!mx_tokenizer_id_to_token(d->t, id, NULL))
      return set_error(MX_ERR_INVALID_ARG, "mx_detokenizer_add: id %d is not in the vocabulary", (int)id);
    if (d->ncur == d->capcur) {
      size_t nc = d->capcur ? d->capcur * 2 : 64;
      int32_t *np = realloc(d->cur, nc * sizeof *np);
      if (!np) return set_error(MX_ERR_OOM, "mx_detokenizer_add: out of memory");
      d->cur = np;
      d->capcur = nc;
    }
    d->cur[d->ncur++] = id;
    ok = true;
  }
  if (!ok) {
    if (mx_last_error_code() != MX_OK) return mx_last_error_code();
    return set_error(MX_ERR_OOM, "mx_detokenizer_add: out of memory");
  }
  return MX_OK;
}

mx_status mx_detokenizer_finalize(mx_detokenizer *d) {
  if (!d) return set_error(MX_ERR_INVALID_ARG, "mx_detokenizer_finalize: detokenizer is NULL");
  bool ok = true;
  if (d->kind == MX_DETOKENIZER_SPM) {
    ok = spm_flush(d, true);
  } else if (d->kind == MX_DETOKENIZER_BPE) {
    sbuf raw = {0};
    ok = bpe_bytes(d->unflushed.p, d->unflushed.n, &raw);
    size_t n;
    char *txt = ok ? lossy(raw.p, raw.n, &n) : NULL;
    ok = txt && bpe_append(d, txt, n);
    free(txt);
    free(raw.p);
    d->unflushed.n = 0;
  } else if (d->ncur) {
    char *s = NULL;
    size_t n = 0;
    if (mx_tokenizer_decode(d->t, d->cur, d->ncur, false, &s, &n) != MX_OK) return mx_last_error_code();
    ok = tk_sbuf_put(&d->text, s, n);
    free(s);
    d->ncur = 0;
    d->cur_text.n = 0;
  }
  return ok ? MX_OK : set_error(MX_ERR_OOM, "mx_detokenizer_finalize: out of memory");
}

const char *mx_detokenizer_text(mx_detokenizer *d, size_t *len) {
  if (!d) return NULL;
  if (d->kind != MX_DETOKENIZER_NAIVE) {
    if (len) *len = d->text.n;
    return d->text.p;
  }
  if (!naive_update(d)) return NULL;
  d->view.n = 0;
  if (!tk_sbuf_put(&d->view, d->text.p, d->text.n) || !tk_sbuf_put(&d->view, d->cur_text.p, d->cur_text.n))
    return NULL;
  if (len) *len = d->view.n;
  return d->view.p;
}

const char *mx_detokenizer_last_segment(mx_detokenizer *d, size_t *len) {
  size_t n;
  const char *all = mx_detokenizer_text(d, &n);
  if (!all) return NULL;
  size_t off = d->offset <= n ? d->offset : n;
  d->offset = n;
  if (len) *len = n - off;
  return all + off;
}
