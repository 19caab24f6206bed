/* tokenizer_bpe.c — the model's vocabulary storage and BPE: HF's merge-rank
 * BPE (byte-level or SentencePiece-style with byte_fallback, continuing
 * subword prefix, end-of-word suffix, ignore_merges, unk fusing) and
 * SentencePiece's score-driven BPE for GGUF llama vocabularies (merge the
 * adjacent pair whose joined piece has the best score). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

/* ------------------------------------------------------------ vocabulary */

bool tk_model_set_token(model *m, int32_t id, const char *s, size_t len) {
  if (!s) s = ""; /* an empty token may come as (NULL, 0) */
  if (id < 0 || len > UINT32_MAX / 4) return false;
  if ((size_t)id >= m->nid) {
    size_t nn = m->nid ? m->nid : 256;
    while (nn <= (size_t)id) nn *= 2;
    uint32_t *no = realloc(m->id_off, nn * sizeof *no);
    if (!no) return false;
    m->id_off = no;
    uint32_t *nl = realloc(m->id_len, nn * sizeof *nl);
    if (!nl) return false;
    m->id_len = nl;
    for (size_t i = m->nid; i < nn; i++) m->id_len[i] = UINT32_MAX;
    m->nid = nn;
  }
  if (m->tpool_n + len + 1 > m->tpool_cap) {
    size_t nc = m->tpool_cap ? m->tpool_cap : 65536;
    while (nc < m->tpool_n + len + 1) nc *= 2;
    if (nc > UINT32_MAX) return false;
    char *np = realloc(m->tpool, nc);
    if (!np) return false;
    m->tpool = np;
    m->tpool_cap = nc;
  }
  if (len) memcpy(m->tpool + m->tpool_n, s, len); /* s may be NULL for "" */
  m->tpool[m->tpool_n + len] = 0;
  m->id_off[id] = (uint32_t)m->tpool_n;
  m->id_len[id] = (uint32_t)len;
  m->tpool_n += len + 1;
  return tk_strmap_put(&m->vocab, s, len, id);
}

bool tk_model_reserve(model *m, size_t ntok, size_t bytes) {
  if (ntok > INT32_MAX || bytes > UINT32_MAX / 4) return false;
  if (ntok > m->nid) {
    uint32_t *no = realloc(m->id_off, ntok * sizeof *no);
    if (!no) return false;
    m->id_off = no;
    uint32_t *nl = realloc(m->id_len, ntok * sizeof *nl);
    if (!nl) return false;
    m->id_len = nl;
    for (size_t i = m->nid; i < ntok; i++) m->id_len[i] = UINT32_MAX;
    m->nid = ntok;
  }
  if (bytes > m->tpool_cap) {
    char *np = realloc(m->tpool, bytes);
    if (!np) return false;
    m->tpool = np;
    m->tpool_cap = bytes;
  }
  return tk_strmap_reserve(&m->vocab, ntok, bytes);
}

const char *tk_model_token(const model *m, int32_t id, size_t *len) {
  if (id < 0 || (size_t)id >= m->nid || m->id_len[id] == UINT32_MAX) return NULL;
  if (len) *len = m->id_len[id];
  return m->tpool + m->id_off[id];
}

void tk_model_free(model *m) {
  tk_strmap_free(&m->vocab);
  free(m->id_off);
  free(m->id_len);
  free(m->tpool);
  tk_u64map_free(&m->merges);
  free(m->cont_prefix);
  free(m->eow_suffix);
  free(m->scores);
  tk_trie_free(&m->utrie);
  free(m->uscore);
  memset(m, 0, sizeof *m);
}

bool tk_model_finish_bpe(model *m) {
  for (uint32_t cp = 0; cp < 512; cp++) {
    char u[4];
    size_t l = tk_utf8_encode(cp, u);
    m->cp_id[cp] = (m->cont_len || m->eow_len) ? -1 : tk_strmap_get(&m->vocab, u, l);
  }
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    m->byte_id[b] = tk_strmap_get(&m->vocab, name, 6);
  }
  return true;
}

bool tk_model_add_merge(model *m, const char *a, size_t la, const char *b, size_t lb, int32_t rank) {
  int32_t ia = tk_strmap_get(&m->vocab, a, la), ib = tk_strmap_get(&m->vocab, b, lb);
  if (ia < 0 || ib < 0) return false;
  /* The merged token drops b's continuing-subword prefix. */
  size_t skip = (m->cont_len && lb >= m->cont_len && memcmp(b, m->cont_prefix, m->cont_len) == 0)
                    ? m->cont_len
                    : 0;
  size_t n = la + lb - skip;
  char stackbuf[256];
  char *joined = n <= sizeof stackbuf ? stackbuf : malloc(n);
  if (!joined) return false;
  memcpy(joined, a, la);
  memcpy(joined + la, b + skip, lb - skip);
  int32_t id = tk_strmap_get(&m->vocab, joined, n);
  if (joined != stackbuf) free(joined);
  if (id < 0) return false;
  uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, old;
  if (tk_u64map_get(&m->merges, key, &old)) return true; /* first (best) rank wins */
  return tk_u64map_put(&m->merges, key, (uint64_t)(uint32_t)rank << 32 | (uint32_t)id);
}

bool tk_model_add_merges(model *m, size_t n, const char *const *a, const size_t *la,
                         const char *const *b, const size_t *lb, int32_t rank0) {
  if (!n) return true;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += la[i] + lb[i];
  int32_t *ids = malloc(3 * n * sizeof *ids);
  const char **jk = malloc(n * sizeof *jk);
  size_t *jl = malloc(n * sizeof *jl);
  char *jbuf = malloc(total + 1);
  bool ok = ids && jk && jl && jbuf;
  if (ok) {
    char *w = jbuf;
    for (size_t i = 0; i < n; i++) {
      /* the merged token drops b's continuing-subword prefix */
      size_t skip = (m->cont_len && lb[i] >= m->cont_len &&
                     memcmp(b[i], m->cont_prefix, m->cont_len) == 0) ? m->cont_len : 0;
      memcpy(w, a[i], la[i]);
      memcpy(w + la[i], b[i] + skip, lb[i] - skip);
      jk[i] = w;
      jl[i] = la[i] + lb[i] - skip;
      w += jl[i];
    }
    tk_strmap_get_many(&m->vocab, n, a, la, ids);
    tk_strmap_get_many(&m->vocab, n, b, lb, ids + n);
    tk_strmap_get_many(&m->vocab, n, jk, jl, ids + 2 * n);
    for (size_t i = 0; i < n; i++)
      if (ids[i] >= 0 && ids[n + i] >= 0)
        tk_u64map_prefetch(&m->merges, (uint64_t)(uint32_t)ids[i] << 32 | (uint32_t)ids[n + i]);
    for (size_t i = 0; ok && i < n; i++) {
      int32_t ia = ids[i], ib = ids[n + i], id = ids[2 * n + i];
      if (ia < 0 || ib < 0 || id < 0) continue;
      uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, old;
      if (tk_u64map_get(&m->merges, key, &old)) continue; /* first (best) rank wins */
      ok = tk_u64map_put(&m->merges, key, (uint64_t)(uint32_t)(rank0 + (int32_t)i) << 32 | (uint32_t)id);
    }
  }
  free(ids);
  free(jk);
  free(jl);
  free(jbuf);
  return ok;
}

/* ------------------------------------------------------------ symbols + heap */

typedef struct sym {
  int32_t id;
  int32_t prev, next;
  uint32_t start, len; /* bytes in the word */
} sym;

typedef struct hnode {
  double key; /* lower is better */
  int32_t pos;
  int32_t right; /* SPM: right symbol; BPE: new id */
  uint32_t size;
} hnode;

typedef struct heap {
  hnode *v;
  size_t n, cap;
} heap;

static inline bool hless(const hnode *a, const hnode *b) {
  return a->key < b->key || (a->key == b->key && a->pos < b->pos);
}

static bool heap_push(heap *h, hnode x) {
  if (h->n == h->cap) {
    size_t nc = h->cap ? h->cap * 2 : 64;
    hnode *nv = realloc(h->v, nc * sizeof *nv);
    if (!nv) return false;
    h->v = nv;
    h->cap = nc;
  }
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!hless(&x, &h->v[p])) break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i] = x;
  return true;
}

static hnode heap_pop(heap *h) {
  hnode top = h->v[0], x = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, b = i;
    const hnode *bv = &x;
    if (l < h->n && hless(&h->v[l], bv)) b = l, bv = &h->v[l];
    if (r < h->n && hless(&h->v[r], bv)) b = r;
    if (b == i) break;
    h->v[i] = h->v[b];
    i = b;
  }
  if (h->n) h->v[i] = x;
  return top;
}

typedef struct symvec {
  sym *v;
  size_t n, cap;
} symvec;

#define CACHE_SLOTS 8192
#define CACHE_WORD 32
#define CACHE_IDS 12

/* Per-call reuse: most words repeat, so their tokens are remembered (HF
 * keeps a similar cache); buffers are reused across words. */
typedef struct cache_ent {
  uint64_t h;
  uint8_t len, nids;
  char word[CACHE_WORD];
  int32_t id[CACHE_IDS];
  uint8_t st[CACHE_IDS], ln[CACHE_IDS];
} cache_ent;

struct bpe_scratch {
  symvec sv;
  heap h;
  cache_ent *cache;
};

void tk_bpe_scratch_free(bpe_scratch *s) {
  if (!s) return;
  free(s->sv.v);
  free(s->h.v);
  free(s->cache);
  free(s);
}

static bool sym_add(symvec *s, int32_t id, uint32_t start, uint32_t len) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    sym *nv = realloc(s->v, nc * sizeof *nv);
    if (!nv) return false;
    s->v = nv;
    s->cap = nc;
  }
  int32_t i = (int32_t)s->n;
  s->v[s->n++] = (sym){id, i - 1, -1, start, len};
  if (i > 0) s->v[i - 1].next = i;
  return true;
}

static bool emit(const nstr *w, tokvec *out, int32_t id, size_t s, size_t e) {
  uint32_t os = w->n ? w->o[2 * s] : 0, oe = w->n ? w->o[2 * (e ? e - 1 : 0) + 1] : 0;
  return tk_tokvec_push(out, id, os, oe);
}

/* ------------------------------------------------------------ HF BPE */

static bool lookup_piece(const model *m, const char *w, size_t i, size_t e, size_t n, char *buf,
                         size_t bufcap, int32_t *id) {
  size_t l = e - i, k = 0;
  bool pre = m->cont_len && i > 0, suf = m->eow_len && e == n;
  if (!pre && !suf) {
    *id = tk_strmap_get(&m->vocab, w + i, l);
    return true;
  }
  size_t need = l + (pre ? m->cont_len : 0) + (suf ? m->eow_len : 0);
  if (need > bufcap) return false;
  if (pre) memcpy(buf, m->cont_prefix, m->cont_len), k = m->cont_len;
  memcpy(buf + k, w + i, l);
  k += l;
  if (suf) memcpy(buf + k, m->eow_suffix, m->eow_len), k += m->eow_len;
  *id = tk_strmap_get(&m->vocab, buf, k);
  return true;
}

static bool bpe_word(const model *m, const nstr *w, tokvec *out, enc_ctx *c) {
  if (!w->n) return true;
  if (m->ignore_merges) {
    int32_t id = tk_strmap_get(&m->vocab, w->s, w->n);
    if (id >= 0) return emit(w, out, id, 0, w->n);
  }
  if (!c->bpe && !(c->bpe = calloc(1, sizeof *c->bpe))) return false;
  bpe_scratch *bs = c->bpe;
  cache_ent *ce = NULL;
  uint64_t hh = 0;
  if (w->n <= CACHE_WORD && ++c->words > 64) {
    if (!bs->cache) bs->cache = calloc(CACHE_SLOTS, sizeof *bs->cache); /* no cache if this fails */
    if (bs->cache) {
      hh = tk_hash_bytes(w->s, w->n) | 1;
      ce = &bs->cache[hh & (CACHE_SLOTS - 1)];
      if (ce->h == hh && ce->len == w->n && !memcmp(ce->word, w->s, w->n)) {
        for (int i = 0; i < ce->nids; i++)
          if (!emit(w, out, ce->id[i], ce->st[i], (size_t)ce->st[i] + ce->ln[i])) return false;
        return true;
      }
    }
  }
  symvec sv = bs->sv;
  heap h = bs->h;
  sv.n = 0;
  h.n = 0;
  bool ok = false;
  size_t first_out = out->n;
  char buf[512];
  int32_t unk = -1;
  uint32_t unk_start = 0, unk_len = 0;
  const unsigned char *s = (const unsigned char *)w->s;
  for (size_t i = 0; i < w->n;) {
    uint32_t cp = UINT32_MAX;
    size_t l = tk_utf8_decode(s, w->n, i, &cp);
    if (!l) l = 1;
    int32_t id = -1;
    if (cp < 512 && !m->cont_len && !m->eow_len) id = m->cp_id[cp];
    else if (!lookup_piece(m, w->s, i, i + l, w->n, buf, sizeof buf, &id)) id = -1;
    if (id >= 0) {
      if (unk >= 0) {
        if (!sym_add(&sv, unk, unk_start, unk_len)) goto done;
        unk = -1;
      }
      if (!sym_add(&sv, id, (uint32_t)i, (uint32_t)l)) goto done;
      i += l;
      continue;
    }
    if (m->byte_fallback) {
      bool all = true;
      for (size_t k = 0; k < l; k++)
        if (m->byte_id[s[i + k]] < 0) all = false;
      if (all) {
        for (size_t k = 0; k < l; k++)
          if (!sym_add(&sv, m->byte_id[s[i + k]], (uint32_t)(i + k), 1)) goto done;
        i += l;
        continue;
      }
    }
    if (m->unk_id >= 0) {
      if (unk >= 0 && m->fuse_unk) {
        unk_len += (uint32_t)l;
      } else {
        if (unk >= 0 && !sym_add(&sv, unk, unk_start, unk_len)) goto done;
        unk = m->unk_id;
        unk_start = (uint32_t)i;
        unk_len = (uint32_t)l;
      }
    }
    i += l;
  }
  if (unk >= 0 && !sym_add(&sv, unk, unk_start, unk_len)) goto done;

  for (size_t i = 0; i + 1 < sv.n; i++) {
    uint64_t v;
    if (tk_u64map_get(&m->merges, (uint64_t)(uint32_t)sv.v[i].id << 32 | (uint32_t)sv.v[i + 1].id, &v))
      if (!heap_push(&h, (hnode){(double)(v >> 32), (int32_t)i, (int32_t)(uint32_t)v, 0}))
        goto done;
  }
  while (h.n) {
    hnode top = heap_pop(&h);
    sym *cur = &sv.v[top.pos];
    if (!cur->len || cur->next < 0) continue;
    sym *right = &sv.v[cur->next];
    uint64_t v;
    if (!tk_u64map_get(&m->merges, (uint64_t)(uint32_t)cur->id << 32 | (uint32_t)right->id, &v) ||
        (int32_t)(uint32_t)v != top.right)
      continue;
    cur->id = top.right;
    cur->len += right->len;
    cur->next = right->next;
    right->len = 0;
    if (cur->next >= 0) sv.v[cur->next].prev = top.pos;
    if (cur->prev >= 0) {
      sym *p = &sv.v[cur->prev];
      if (tk_u64map_get(&m->merges, (uint64_t)(uint32_t)p->id << 32 | (uint32_t)cur->id, &v))
        if (!heap_push(&h, (hnode){(double)(v >> 32), cur->prev, (int32_t)(uint32_t)v, 0}))
          goto done;
    }
    if (cur->next >= 0) {
      sym *nx = &sv.v[cur->next];
      if (tk_u64map_get(&m->merges, (uint64_t)(uint32_t)cur->id << 32 | (uint32_t)nx->id, &v))
        if (!heap_push(&h, (hnode){(double)(v >> 32), top.pos, (int32_t)(uint32_t)v, 0}))
          goto done;
    }
  }
  for (int32_t i = sv.n ? 0 : -1; i >= 0; i = sv.v[i].next)
    if (!emit(w, out, sv.v[i].id, sv.v[i].start, sv.v[i].start + sv.v[i].len)) goto done;
  if (ce && out->n - first_out <= CACHE_IDS) {
    ce->h = hh;
    ce->len = (uint8_t)w->n;
    memcpy(ce->word, w->s, w->n);
    ce->nids = 0;
    for (int32_t i = sv.n ? 0 : -1; i >= 0; i = sv.v[i].next) {
      ce->id[ce->nids] = sv.v[i].id;
      ce->st[ce->nids] = (uint8_t)sv.v[i].start;
      ce->ln[ce->nids++] = (uint8_t)sv.v[i].len;
    }
  }
  ok = true;
done:
  bs->sv = sv;
  bs->h = h;
  return ok;
}

/* ------------------------------------------------------------ SentencePiece BPE */

static bool spm_try(const model *m, const nstr *w, symvec *sv, heap *h, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return true;
  uint32_t st = sv->v[l].start, n = sv->v[l].len + sv->v[r].len;
  int32_t id = tk_strmap_get(&m->vocab, w->s + st, n);
  if (id < 0 || (size_t)id >= m->nid) return true;
  double score = m->scores ? m->scores[id] : 0;
  return heap_push(h, (hnode){-score, l, r, n});
}

static bool spm_word(const model *m, const nstr *w, tokvec *out) {
  symvec sv = {0};
  heap h = {0};
  bool ok = false;
  const unsigned char *s = (const unsigned char *)w->s;
  for (size_t i = 0; i < w->n;) {
    uint32_t cp;
    size_t l = tk_utf8_decode(s, w->n, i, &cp);
    if (!l) l = 1;
    if (!sym_add(&sv, -1, (uint32_t)i, (uint32_t)l)) goto done;
    i += l;
  }
  for (size_t i = 1; i < sv.n; i++)
    if (!spm_try(m, w, &sv, &h, (int32_t)i - 1, (int32_t)i)) goto done;
  while (h.n) {
    hnode b = heap_pop(&h);
    sym *L = &sv.v[b.pos], *R = &sv.v[b.right];
    if (!L->len || !R->len || L->len + R->len != b.size) continue;
    L->len += R->len;
    R->len = 0;
    L->next = R->next;
    if (R->next >= 0) sv.v[R->next].prev = b.pos;
    if (!spm_try(m, w, &sv, &h, L->prev, b.pos) || !spm_try(m, w, &sv, &h, b.pos, L->next))
      goto done;
  }
  for (int32_t i = sv.n ? 0 : -1; i >= 0; i = sv.v[i].next) {
    sym *x = &sv.v[i];
    int32_t id = tk_strmap_get(&m->vocab, w->s + x->start, x->len);
    if (id >= 0) {
      if (!emit(w, out, id, x->start, x->start + x->len)) goto done;
      continue;
    }
    /* Only single characters can be unknown here: bytes, else unk. */
    for (uint32_t k = 0; k < x->len; k++) {
      int32_t bid = m->byte_id[s[x->start + k]];
      if (bid < 0) bid = m->unk_id;
      if (bid >= 0 && !emit(w, out, bid, x->start + k, x->start + k + 1)) goto done;
    }
  }
  ok = true;
done:
  free(sv.v);
  free(h.v);
  return ok;
}

bool tk_wordpiece_word(const model *m, const nstr *w, tokvec *out);
bool tk_wordlevel_word(const model *m, const nstr *w, tokvec *out);
bool tk_unigram_word(const model *m, const nstr *w, tokvec *out);

bool tk_model_tokenize(const model *m, const nstr *w, tokvec *out, enc_ctx *c) {
  switch (m->type) {
  case MODEL_BPE: return m->spm_scores ? spm_word(m, w, out) : bpe_word(m, w, out, c);
  case MODEL_WORDPIECE: return tk_wordpiece_word(m, w, out);
  case MODEL_WORDLEVEL: return tk_wordlevel_word(m, w, out);
  case MODEL_UNIGRAM: return tk_unigram_word(m, w, out);
  }
  return false;
}
