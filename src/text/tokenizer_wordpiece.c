/* tokenizer_wordpiece.c — WordPiece (greedy longest match with a
 * continuing-subword prefix; a word that cannot be covered, or is longer than
 * max_input_chars_per_word characters, becomes one unk) and WordLevel. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

static bool emit_range(const nstr *w, tokvec *out, int32_t id, size_t s, size_t e) {
  uint32_t os = w->n ? w->o[2 * s] : 0, oe = w->n ? w->o[2 * (e ? e - 1 : 0) + 1] : 0;
  return tk_tokvec_push(out, id, os, oe);
}

bool tk_wordpiece_word(const model *m, const nstr *w, tokvec *out);
bool tk_wordpiece_word(const model *m, const nstr *w, tokvec *out) {
  if (!w->n) return true;
  const unsigned char *s = (const unsigned char *)w->s;
  size_t nchars = 0;
  for (size_t i = 0; i < w->n; i++) nchars += (s[i] & 0xC0) != 0x80;
  size_t first = out->n;
  if (nchars > m->max_chars) goto unk;
  char *buf = malloc(m->cont_len + w->n + 1);
  if (!buf) return false;
  size_t start = 0;
  while (start < w->n) {
    size_t end = w->n;
    int32_t id = -1;
    while (start < end) {
      size_t k = 0;
      if (start > 0) memcpy(buf, m->cont_prefix, m->cont_len), k = m->cont_len;
      memcpy(buf + k, w->s + start, end - start);
      id = tk_strmap_get(&m->vocab, buf, k + end - start);
      if (id >= 0) break;
      /* drop the last character */
      end--;
      while (end > start && (s[end] & 0xC0) == 0x80) end--;
    }
    if (id < 0) {
      free(buf);
      out->n = first;
      goto unk;
    }
    if (!emit_range(w, out, id, start, end)) {
      free(buf);
      return false;
    }
    start = end;
  }
  free(buf);
  return true;
unk:
  if (m->unk_id < 0) {
    set_error(MX_ERR_INVALID_ARG, "tokenizer: WordPiece needs an unk token and has none");
    return false;
  }
  return emit_range(w, out, m->unk_id, 0, w->n);
}

bool tk_wordlevel_word(const model *m, const nstr *w, tokvec *out);
bool tk_wordlevel_word(const model *m, const nstr *w, tokvec *out) {
  if (!w->n) return true;
  int32_t id = tk_strmap_get(&m->vocab, w->s, w->n);
  if (id < 0) id = m->unk_id;
  if (id < 0) {
    set_error(MX_ERR_INVALID_ARG, "tokenizer: WordLevel needs an unk token and has none");
    return false;
  }
  return emit_range(w, out, id, 0, w->n);
}
