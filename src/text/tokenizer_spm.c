/* tokenizer_spm.c — SentencePiece's tokenizer.model (a serialized
 * sentencepiece.ModelProto), read with a minimal protobuf reader and built
 * into the pipeline HF's converters make of it:
 *   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
 *                    NormalizerSpec normalizer_spec = 3; }
 *   SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
 *                  (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6)
 *   TrainerSpec    { ModelType model_type = 3 (UNIGRAM 1, BPE 2); bool byte_fallback = 35;
 *                    int32 unk_id = 40, bos_id = 41, eos_id = 42, pad_id = 43; }
 *   NormalizerSpec { bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
 *                    bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
 * BPE models become LlamaTokenizerFast's pipeline (BOS added, no EOS);
 * Unigram models the SpmConverter's (charsmap, Metaspace, EOS as T5 adds
 * none by default here). remove_extra_whitespaces adds what sentencepiece's
 * normalizer does: strip both ends and fold runs of spaces.
 * escape_whitespaces=false and treat_whitespace_as_suffix are not supported
 * (MX_ERR_UNSUPPORTED). Every varint and length is bounds-checked. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

typedef struct pb {
  const unsigned char *p;
  size_t n, i;
} pb;

static bool varint(pb *r, uint64_t *v) {
  uint64_t x = 0;
  for (int k = 0; k < 10; k++) {
    if (r->i >= r->n) return false;
    unsigned char b = r->p[r->i++];
    if (k == 9 && b > 1) return false;
    x |= (uint64_t)(b & 0x7F) << (7 * k);
    if (!(b & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

/* One field: its number and wire type; for length-delimited ones the
 * payload [*s, *s + *l), for fixed32 its bits in *v, for varints *v. */
static bool field(pb *r, uint32_t *num, int *wt, uint64_t *v, const unsigned char **s, size_t *l) {
  uint64_t key;
  if (!varint(r, &key) || (key >> 3) == 0 || (key >> 3) > 0x1FFFFFFF) return false;
  *num = (uint32_t)(key >> 3);
  *wt = (int)(key & 7);
  switch (*wt) {
  case 0: return varint(r, v);
  case 1:
    if (r->n - r->i < 8) return false;
    r->i += 8;
    return true;
  case 2:
    if (!varint(r, v) || *v > r->n - r->i) return false;
    *s = r->p + r->i;
    *l = (size_t)*v;
    r->i += (size_t)*v;
    return true;
  case 5: {
    if (r->n - r->i < 4) return false;
    uint32_t b;
    memcpy(&b, r->p + r->i, 4); /* little-endian hosts only, as the rest of mlxc */
    *v = b;
    r->i += 4;
    return true;
  }
  default: return false; /* groups are not used by this proto */
  }
}

typedef struct spm_info {
  int model_type;
  bool byte_fallback, add_dummy_prefix, remove_extra_ws, escape_ws, ws_suffix;
  int64_t unk_id, bos_id, eos_id, pad_id;
  const unsigned char *charsmap;
  size_t charsmap_len;
} spm_info;

static bool parse_trainer(pb r, spm_info *in) {
  while (r.i < r.n) {
    uint32_t f;
    int wt;
    uint64_t v = 0;
    const unsigned char *s;
    size_t l;
    if (!field(&r, &f, &wt, &v, &s, &l)) return false;
    if (wt != 0) continue;
    switch (f) {
    case 3: in->model_type = v > 100 ? 100 : (int)v; break;
    case 24: in->ws_suffix = v != 0; break;
    case 35: in->byte_fallback = v != 0; break;
    /* int32 fields: negatives arrive as 64-bit two's complement */
    case 40: in->unk_id = (int32_t)(uint32_t)v; break;
    case 41: in->bos_id = (int32_t)(uint32_t)v; break;
    case 42: in->eos_id = (int32_t)(uint32_t)v; break;
    case 43: in->pad_id = (int32_t)(uint32_t)v; break;
    default: break;
    }
  }
  return true;
}

static bool parse_normalizer(pb r, spm_info *in) {
  while (r.i < r.n) {
    uint32_t f;
    int wt;
    uint64_t v = 0;
    const unsigned char *s = NULL;
    size_t l = 0;
    if (!field(&r, &f, &wt, &v, &s, &l)) return false;
    if (f == 2 && wt == 2) in->charsmap = s, in->charsmap_len = l;
    else if (wt == 0 && f == 3) in->add_dummy_prefix = v != 0;
    else if (wt == 0 && f == 4) in->remove_extra_ws = v != 0;
    else if (wt == 0 && f == 5) in->escape_ws = v != 0;
  }
  return true;
}

static void *oom(void) {
  set_error(MX_ERR_OOM, "tokenizer: out of memory");
  return NULL;
}

/* sentencepiece's whitespace cleanup as normalizers: Strip, then runs of
 * spaces to one, inserted at `at` of the tokenizer's normalizer sequence. */
static bool add_ws_cleanup(mx_tokenizer *t, size_t at) {
  normalizer *seq = t->norm;
  if (!seq || seq->type != NORM_SEQ) {
    seq = calloc(1, sizeof *seq);
    if (!seq) return false;
    seq->type = NORM_SEQ;
    seq->strip_accents = -1;
    seq->sub = calloc(4, sizeof *seq->sub);
    if (!seq->sub) {
      free(seq);
      return false;
    }
    if (t->norm) seq->sub[seq->nsub++] = t->norm;
    t->norm = seq;
    if (at > seq->nsub) at = seq->nsub;
  }
  normalizer **ns = realloc(seq->sub, (seq->nsub + 2) * sizeof *ns);
  if (!ns) return false;
  seq->sub = ns;
  normalizer *st = calloc(1, sizeof *st), *rp = calloc(1, sizeof *rp);
  if (!st || !rp) {
    free(st);
    free(rp);
    return false;
  }
  st->type = NORM_STRIP;
  st->left = st->right = true;
  st->strip_accents = rp->strip_accents = -1;
  rp->type = NORM_REPLACE;
  rp->re = tk_regex_new(" {2,}", 5, false, "remove_extra_whitespaces");
  rp->content = strdup(" ");
  rp->content_len = 1;
  memmove(ns + at + 2, ns + at, (seq->nsub - at) * sizeof *ns);
  ns[at] = st;
  ns[at + 1] = rp;
  seq->nsub += 2;
  return rp->re && rp->content;
}

mx_tokenizer *tok_load_spm_model(const void *bytes, size_t n, const char *name) {
  spm_info in = {1, false, true, true, true, false, 0, 1, 2, -1, NULL, 0};
  pb r = {bytes, n, 0};
  mx_tokenizer *t = tok_alloc(name);
  if (!t) return oom();
  model *m = &t->model;
  int32_t np = 0;
  size_t scap = 0;
  bool ok = true;
  /* first pass: specs (they may follow the pieces) */
  while (ok && r.i < r.n) {
    uint32_t f;
    int wt;
    uint64_t v = 0;
    const unsigned char *s = NULL;
    size_t l = 0;
    if (!field(&r, &f, &wt, &v, &s, &l)) ok = false;
    else if (f == 2 && wt == 2) ok = parse_trainer((pb){s, l, 0}, &in);
    else if (f == 3 && wt == 2) ok = parse_normalizer((pb){s, l, 0}, &in);
  }
  if (!ok) set_error(MX_ERR_FORMAT, "%s: malformed protobuf (not a sentencepiece model)", name);
  if (ok && in.model_type != 1 && in.model_type != 2) {
    set_error(MX_ERR_UNSUPPORTED, "%s: sentencepiece model_type %d is not supported (UNIGRAM 1, BPE 2 are)",
              name, in.model_type);
    ok = false;
  }
  if (ok && (!in.escape_ws || in.ws_suffix)) {
    set_error(MX_ERR_UNSUPPORTED, "%s: sentencepiece %s is not supported", name,
              in.ws_suffix ? "treat_whitespace_as_suffix" : "escape_whitespaces=false");
    ok = false;
  }
  r.i = 0;
  while (ok && r.i < r.n) {
    uint32_t f;
    int wt;
    uint64_t v = 0;
    const unsigned char *s = NULL;
    size_t l = 0;
    if (!field(&r, &f, &wt, &v, &s, &l)) ok = false;
    if (!ok || f != 1 || wt != 2) continue;
    pb q = {s, l, 0};
    const unsigned char *ps = NULL;
    size_t pl = 0;
    float score = 0;
    int type = 1;
    bool have = false;
    while (ok && q.i < q.n) {
      uint32_t g;
      int w;
      uint64_t u = 0;
      const unsigned char *x = NULL;
      size_t xl = 0;
      if (!field(&q, &g, &w, &u, &x, &xl)) ok = false;
      else if (g == 1 && w == 2) ps = x, pl = xl, have = true;
      else if (g == 2 && w == 5) {
        uint32_t b = (uint32_t)u;
        memcpy(&score, &b, 4);
      } else if (g == 3 && w == 0) type = u > 100 ? 100 : (int)u;
    }
    if (!ok) break;
    if (!have || !tk_utf8_valid((const char *)ps, pl) || np == INT32_MAX - 1) {
      set_error(MX_ERR_FORMAT, "%s: piece %d: missing or not valid UTF-8", name, (int)np);
      ok = false;
      break;
    }
    if ((size_t)np >= scap) {
      size_t nc = scap ? scap * 2 : 1024;
      float *a = realloc(m->scores, nc * sizeof *a);
      double *b = a ? realloc(m->uscore, nc * sizeof *b) : NULL;
      if (a) m->scores = a;
      if (b) m->uscore = b;
      if (!a || !b) {
        ok = oom() != NULL;
        break;
      }
      scap = nc;
    }
    m->scores[np] = score;
    m->uscore[np] = score;
    if (!tk_model_set_token(m, np, (const char *)ps, pl)) ok = oom() != NULL;
    else if (type == 2 || type == 3 || type == 4)
      ok = tok_add_token(t, (const char *)ps, pl, np, type != 4, false, false, false, false) ||
           oom();
    np++;
  }
  if (ok && np == 0) {
    set_error(MX_ERR_FORMAT, "%s: no pieces (not a sentencepiece model)", name);
    ok = false;
  }
  if (ok && scap < m->nid) {
    /* scores are read for every id below nid */
    float *a = realloc(m->scores, m->nid * sizeof *a);
    double *b = a ? realloc(m->uscore, m->nid * sizeof *b) : NULL;
    if (a) m->scores = a;
    if (b) m->uscore = b;
    if (!a || !b) ok = oom() != NULL;
    for (size_t i = scap; ok && i < m->nid; i++) a[i] = 0, b[i] = 0;
  }
#define OKID(x) ((x) >= 0 && (x) < np ? (int32_t)(x) : -1)
  if (ok) {
    t->bos = OKID(in.bos_id);
    t->eos = OKID(in.eos_id);
    t->pad = OKID(in.pad_id);
    m->unk_id = OKID(in.unk_id);
#undef OKID
    if (in.model_type == 2) {
      m->type = MODEL_BPE;
      free(m->uscore);
      m->uscore = NULL;
      ok = tk_pipeline_spm_bpe(t, in.add_dummy_prefix, true, false);
      m->byte_fallback = in.byte_fallback;
      if (ok && in.charsmap_len) {
        /* the charsmap runs before the whitespace handling */
        normalizer *pc = calloc(1, sizeof *pc);
        normalizer **ns = pc ? realloc(t->norm->sub, (t->norm->nsub + 1) * sizeof *ns) : NULL;
        if (!ns) {
          free(pc);
          ok = oom() != NULL;
        } else {
          t->norm->sub = ns;
          pc->type = NORM_PRECOMPILED;
          pc->strip_accents = -1;
          memmove(ns + 1, ns, t->norm->nsub * sizeof *ns);
          ns[0] = pc;
          t->norm->nsub++;
          pc->pc = tk_precompiled_new(in.charsmap, in.charsmap_len);
          if (!pc->pc) {
            set_error(MX_ERR_FORMAT, "%s: malformed precompiled_charsmap", name);
            ok = false;
          }
        }
      }
      if (ok && in.remove_extra_ws) ok = add_ws_cleanup(t, in.charsmap_len ? 1 : 0) || oom();
    } else {
      free(m->scores);
      m->scores = NULL;
      m->byte_fallback = in.byte_fallback;
      ok = tk_pipeline_unigram(t, in.charsmap, in.charsmap_len, in.add_dummy_prefix, false, false);
      if (ok && in.charsmap_len && !t->norm->pc) {
        set_error(MX_ERR_FORMAT, "%s: malformed precompiled_charsmap", name);
        ok = false;
      }
      if (ok && in.remove_extra_ws) ok = add_ws_cleanup(t, 1) || oom();
    }
  }
  if (ok && !tok_finish(t)) ok = oom() != NULL;
  if (!ok) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_FORMAT, "%s: malformed sentencepiece model", name);
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}
