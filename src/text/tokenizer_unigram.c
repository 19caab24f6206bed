/* tokenizer_unigram.c — Unigram (SentencePiece) segmentation: Viterbi over
 * the vocabulary trie with each piece's log-probability; characters no piece
 * covers score min_score - 10 as unk, consecutive unks are fused, and with
 * byte_fallback an unknown piece becomes its <0xNN> byte tokens. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

#define UNK_PENALTY 10.0

bool tk_unigram_build(model *m) {
  if (!tk_trie_init(&m->utrie)) return false;
  m->min_score = DBL_MAX;
  for (size_t id = 0; id < m->nid; id++) {
    if (m->id_len[id] == UINT32_MAX) continue;
    if (!tk_trie_insert(&m->utrie, m->tpool + m->id_off[id], m->id_len[id], (int32_t)id)) return false;
    if (m->uscore[id] < m->min_score) m->min_score = m->uscore[id];
  }
  if (m->min_score == DBL_MAX) m->min_score = 0;
  return tk_model_finish_bpe(m);
}

typedef struct node {
  double score;
  int32_t id;
  int64_t from; /* -1: unreached */
} node;

static bool emit_range(const nstr *w, tokvec *out, int32_t id, size_t s, size_t e) {
  uint32_t os = w->n ? w->o[2 * s] : 0, oe = w->n ? w->o[2 * (e ? e - 1 : 0) + 1] : 0;
  return tk_tokvec_push(out, id, os, oe);
}

static bool emit_piece(const model *m, const nstr *w, tokvec *out, size_t s, size_t e, int32_t id) {
  if (id == m->unk_id || id < 0) {
    int32_t k = tk_strmap_get(&m->vocab, w->s + s, e - s);
    if (k >= 0 && k != m->unk_id) return emit_range(w, out, k, s, e);
    if (m->byte_fallback) {
      bool all = true;
      for (size_t i = s; i < e; i++)
        if (m->byte_id[(unsigned char)w->s[i]] < 0) all = false;
      if (all) {
        for (size_t i = s; i < e; i++)
          if (!emit_range(w, out, m->byte_id[(unsigned char)w->s[i]], s, e)) return false;
        return true;
      }
    }
    if (m->unk_id < 0) {
      set_error(MX_ERR_INVALID_ARG, "tokenizer: Unigram met an unknown piece and has no unk_id");
      return false;
    }
    return emit_range(w, out, m->unk_id, s, e);
  }
  return emit_range(w, out, id, s, e);
}

bool tk_unigram_word(const model *m, const nstr *w, tokvec *out);
bool tk_unigram_word(const model *m, const nstr *w, tokvec *out) {
  size_t n = w->n;
  if (!n) return true;
  node *best = malloc((n + 1) * sizeof *best);
  size_t *stack = NULL;
  if (!best) return false;
  for (size_t i = 0; i <= n; i++) best[i] = (node){0, -1, -1};
  best[0].from = 0;
  double unk_score = m->min_score - UNK_PENALTY;
  const unsigned char *s = (const unsigned char *)w->s;
  for (size_t st = 0; st < n;) {
    uint32_t cp;
    size_t mb = tk_utf8_decode(s, n, st, &cp);
    if (!mb) mb = 1;
    double here = best[st].score;
    bool single = false;
    /* Walk the trie along s[st..]: every vocabulary piece starting here. */
    uint64_t nodei = 0, child;
    for (size_t k = st; k < n; k++) {
      if (!tk_u64map_get(&m->utrie.edges, (nodei << 8) | s[k], &child)) break;
      nodei = child;
      int32_t id = m->utrie.val[nodei];
      if (id < 0) continue;
      size_t end = k + 1;
      double cand = here + m->uscore[id];
      if (best[end].from < 0 || cand > best[end].score) best[end] = (node){cand, id, (int64_t)st};
      if (end - st == mb) single = true;
    }
    if (!single) {
      double cand = here + unk_score;
      size_t end = st + mb;
      if (best[end].from < 0 || cand > best[end].score)
        best[end] = (node){cand, m->unk_id < 0 ? -2 : m->unk_id, (int64_t)st};
    }
    st += mb;
  }
  /* Backtrack into ranges, fusing runs of unk. */
  size_t cap = 64, cnt = 0;
  stack = malloc(cap * 3 * sizeof *stack);
  if (!stack) {
    free(best);
    return false;
  }
  bool ok = true;
  size_t e = n, unk_end = 0;
  bool in_unk = false;
  while (e > 0) {
    node *b = &best[e];
    size_t st = (size_t)b->from;
    bool is_unk = b->id == -2 || (m->unk_id >= 0 && b->id == m->unk_id);
    if (cnt + 2 >= cap) {
      cap *= 2;
      size_t *ns = realloc(stack, cap * 3 * sizeof *ns);
      if (!ns) {
        ok = false;
        break;
      }
      stack = ns;
    }
    if (is_unk) {
      if (!in_unk) unk_end = e;
      in_unk = true;
    } else {
      if (in_unk) {
        stack[3 * cnt] = e, stack[3 * cnt + 1] = unk_end, stack[3 * cnt + 2] = (size_t)-1, cnt++;
        in_unk = false;
      }
      stack[3 * cnt] = st, stack[3 * cnt + 1] = e, stack[3 * cnt + 2] = (size_t)(uint32_t)b->id, cnt++;
    }
    e = st;
  }
  if (ok && in_unk) stack[3 * cnt] = 0, stack[3 * cnt + 1] = unk_end, stack[3 * cnt + 2] = (size_t)-1, cnt++;
  for (size_t i = cnt; ok && i-- > 0;) {
    int32_t id = stack[3 * i + 2] == (size_t)-1 ? -1 : (int32_t)stack[3 * i + 2];
    ok = emit_piece(m, w, out, stack[3 * i], stack[3 * i + 1], id);
  }
  free(stack);
  free(best);
  return ok;
}
