/* tokenizer_scripts.c — HF's UnicodeScripts pre-tokenizer: a split starts
 * wherever the Unicode script changes.
 *
 * HF's rules (tokenizers pre_tokenizers/unicode_scripts), reproduced here:
 * - scripts come from HF's own Unicode 9.0 era table (see
 *   tokenizer_scripts_table.h): code points it lacks are script Any;
 * - U+0020 and U+30FC (katakana-hiragana prolonged sound mark) are forced to
 *   Any and Han respectively; Hiragana and Katakana count as Han, so Japanese
 *   kana/kanji runs stay whole;
 * - Common (digits, ASCII punctuation, most symbols) and Inherited (combining
 *   marks) are ordinary scripts: "a1" and "e\u0301" split;
 * - an Any character never starts a split and does not change the current
 *   script, so spaces stay at the end of the piece before them;
 * - the first piece starts at the first non-Any character: leading spaces
 *   (and leading unlisted characters) of a split are dropped, and a split of
 *   only such characters disappears (HF builds its cut list from the first
 *   script change on, and only the ranges between cuts survive). */
#include <stdlib.h>

#include "text/tokenizer_internal.h"
#include "text/tokenizer_scripts_table.h"

static int raw_script(uint32_t cp) {
  size_t lo = 0, hi = sizeof tk_script_ranges / sizeof tk_script_ranges[0];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < tk_script_ranges[mid][0]) hi = mid;
    else if (cp > tk_script_ranges[mid][1] >> 8) lo = mid + 1;
    else return (int)(tk_script_ranges[mid][1] & 0xFF);
  }
  return TK_SCRIPT_ANY;
}

int tk_cp_script(uint32_t cp) {
  if (cp == 0x30FC) return TK_SCRIPT_HAN;
  if (cp == ' ') return TK_SCRIPT_ANY;
  int s = raw_script(cp);
  return s == TK_SCRIPT_HIRAGANA || s == TK_SCRIPT_KATAKANA ? TK_SCRIPT_HAN : s;
}

bool tk_split_scripts(const nstr *t, splits *out, enc_ctx *c) {
  const unsigned char *s = (const unsigned char *)t->s;
  int last = -1; /* script of the last non-Any character; -1: none yet */
  size_t start = 0;
  bool open = false; /* a piece has started at `start` */
  for (size_t i = 0; i < t->n;) {
    uint32_t cp = 0xFFFD; /* an invalid byte reads as U+FFFD (Common), one byte long */
    size_t l = tk_utf8_decode(s, t->n, i, &cp);
    if (!l) {
      l = 1;
      cp = 0xFFFD;
    }
    int sc = tk_cp_script(cp);
    if (sc != TK_SCRIPT_ANY) {
      if (sc != last) {
        if (open && !tk_splits_push(out, &c->a, (split){tk_nstr_sub(t, start, i), -1})) return false;
        start = i;
        open = true;
      }
      last = sc;
    }
    i += l;
  }
  if (open && !tk_splits_push(out, &c->a, (split){tk_nstr_sub(t, start, t->n), -1})) return false;
  return !c->a.oom;
}
