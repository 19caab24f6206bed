/* tokenizer_gguf.c — tokenizers from GGUF vocabularies (`tokenizer.ggml.*`),
 * built as the equivalent HF pipeline so they encode as the original HF
 * tokenizer does (llama.cpp's test vectors come from HF):
 *   llama: SentencePiece BPE by piece score, byte fallback <0xNN>, ▁ for
 *          spaces (plus a leading ▁ when add_space_prefix, default true);
 *   gpt2:  byte-level BPE with merges; the pre-tokenizer regexes are chosen
 *          by tokenizer.ggml.pre, as llama.cpp's llama-vocab.cpp does;
 *   bert:  WordPiece (llama.cpp stores "##x" as "x" and "x" as "▁x");
 *   t5:    Unigram with scores and the precompiled charsmap.
 * Control tokens become special added tokens, user-defined ones plain added
 * tokens. */
#include <stdlib.h>
#include <string.h>

#include "mlxc/gguf.h"
#include "text/tokenizer_internal.h"

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define GPT2_RE_LC "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE                                                                             \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                            \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
  "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define TEKKEN_RE                                                                                  \
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"            \
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| "     \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define GPT4O_RE                                                                                   \
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'" \
  "ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(" \
  "?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define FINNISH_RE " ?[^(\\s|.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C)]+"

typedef struct pre_set {
  const char *names; /* |-separated */
  const char *re[6];
} pre_set;

static const pre_set PRE_SETS[] = {
    {"|llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|dbrx|smaug-bpe|chatglm-bpe|glm4|midm-2.0|lfm2|",
     {LLAMA3_RE}},
    {"|qwen2|deepseek-r1-qwen|stablelm2|hunyuan|megrez|solar-open|grok-2|", {QWEN2_RE}},
    {"|gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code|mpt|olmo|"
     "jais|trillion|roberta-bpe|a.x-4.0|mellum|granite-docling|",
     {GPT2_RE}},
    {"|starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b|", {"\\p{N}", GPT2_RE_LC}},
    {"|falcon|", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE_LC, "[0-9][0-9][0-9]"}},
    {"|deepseek-coder|",
     {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-\xED\x9F\xBF]+",
      "\\p{N}"}},
    {"|deepseek-v3|hunyuan-dense|",
     {"\\p{N}{1,3}", "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
    {"|poro-chat|bloom|gpt3-finnish|", {FINNISH_RE}},
    {"|viking|", {FINNISH_RE, "\\p{N}"}},
    {"|tekken|", {TEKKEN_RE}},
    {"|gpt-4o|llama4|minimax-m2|", {GPT4O_RE}},
    {"|seed-coder|",
     {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*["
      "\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"|bailingmoe|",
     {"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"}},
};
static const pre_set PRE_DEFAULT = {
    "", {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE_LC, "\\p{N}+", "[0-9][0-9][0-9]"}};

static const pre_set *find_pre(const char *name, size_t len) {
  if (!name || len == 0 || len > 64) return &PRE_DEFAULT;
  char key[70];
  key[0] = '|';
  memcpy(key + 1, name, len);
  key[len + 1] = '|';
  key[len + 2] = 0;
  for (size_t i = 0; i < sizeof PRE_SETS / sizeof PRE_SETS[0]; i++)
    if (strstr(PRE_SETS[i].names, key)) return &PRE_SETS[i];
  return &PRE_DEFAULT;
}

typedef struct gctx {
  const mx_gguf *g;
  const char *name;
} gctx;

static int64_t key_int(gctx *c, const char *k, int64_t dflt) {
  int64_t i = mx_gguf_find_key(c->g, k), v;
  if (i < 0) return dflt;
  uint64_t u;
  if (mx_gguf_get_int(c->g, i, &v) == MX_OK) return v;
  if (mx_gguf_get_uint(c->g, i, &u) == MX_OK && u < INT64_MAX) return (int64_t)u;
  bool b;
  if (mx_gguf_get_bool(c->g, i, &b) == MX_OK) return b;
  mx_clear_error();
  return dflt;
}

static void *oom(void) {
  set_error(MX_ERR_OOM, "tokenizer: out of memory");
  return NULL;
}

static pretok *split_pt(const char *re, const char *name) {
  pretok *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->type = PT_SPLIT;
  p->behavior = SB_ISOLATED;
  p->re = tk_regex_new(re, strlen(re), false, name);
  if (!p->re) {
    free(p);
    return NULL;
  }
  return p;
}

static normalizer *norm_new(norm_type ty) {
  normalizer *n = calloc(1, sizeof *n);
  if (n) {
    n->type = ty;
    n->strip_accents = -1;
  }
  return n;
}

static decoder *dec_new(dec_type ty) {
  decoder *d = calloc(1, sizeof *d);
  if (d) d->type = ty;
  return d;
}

/* BOS/EOS around A per add_bos/add_eos. */
static post *template_post(int32_t bos, bool add_bos, int32_t eos, bool add_eos) {
  post *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->type = POST_TEMPLATE;
  p->single = calloc(3, sizeof *p->single);
  p->pair = calloc(6, sizeof *p->pair);
  if (!p->single || !p->pair) {
    tk_post_free(p);
    return NULL;
  }
  for (int pass = 0; pass < 2; pass++) {
    tp_piece *v = pass ? p->pair : p->single;
    size_t *n = pass ? &p->npair : &p->nsingle;
    for (int s = 0; s <= pass; s++) {
      if (add_bos && bos >= 0) {
        v[*n].ids = malloc(sizeof(int32_t));
        if (!v[*n].ids) {
          tk_post_free(p);
          return NULL;
        }
        v[*n].ids[0] = bos;
        v[*n].nids = 1;
        v[*n].type_id = s;
        (*n)++;
      }
      v[*n].is_seq = true;
      v[*n].seq = s;
      v[*n].type_id = s;
      (*n)++;
      if (add_eos && eos >= 0) {
        v[*n].ids = malloc(sizeof(int32_t));
        if (!v[*n].ids) {
          tk_post_free(p);
          return NULL;
        }
        v[*n].ids[0] = eos;
        v[*n].nids = 1;
        v[*n].type_id = s;
        (*n)++;
      }
    }
  }
  return p;
}

/* SentencePiece BPE as HF's LlamaTokenizerFast: Prepend(▁) (when `prefix`)
 * + Replace(" ", ▁), merge by piece score with byte fallback, the
 * Replace/ByteFallback/Fuse[/Strip] decoder, BOS/EOS per add_bos/add_eos.
 * The model's tokens and scores must be in. */
bool tk_pipeline_spm_bpe(mx_tokenizer *t, bool prefix, bool add_bos, bool add_eos) {
  model *m = &t->model;
  m->spm_scores = true;
  m->byte_fallback = true;
  tk_model_finish_bpe(m);
  normalizer *seq = norm_new(NORM_SEQ), *rep = norm_new(NORM_REPLACE);
  if (!seq || !rep) return oom();
  t->norm = seq;
  seq->sub = calloc(2, sizeof *seq->sub);
  if (!seq->sub) return oom();
  if (prefix) {
    normalizer *pp = norm_new(NORM_PREPEND);
    if (!pp || !(pp->content = strdup("\xE2\x96\x81"))) return oom();
    pp->content_len = 3;
    seq->sub[seq->nsub++] = pp;
  }
  seq->sub[seq->nsub++] = rep;
  rep->lit = strdup(" ");
  rep->content = strdup("\xE2\x96\x81");
  if (!rep->lit || !rep->content) return oom();
  rep->lit_len = 1;
  rep->content_len = 3;
  decoder *d = dec_new(DEC_SEQ);
  if (!d) return oom();
  t->dec = d;
  d->sub = calloc(4, sizeof *d->sub);
  if (!d->sub) return oom();
  decoder *r = dec_new(DEC_REPLACE);
  if (!r) return oom();
  d->sub[d->nsub++] = r;
  r->prefix = strdup("\xE2\x96\x81");
  r->content = strdup(" ");
  r->content_len = 1;
  if (!r->prefix || !r->content || !(d->sub[d->nsub++] = dec_new(DEC_BYTE_FALLBACK)) ||
      !(d->sub[d->nsub++] = dec_new(DEC_FUSE)))
    return oom();
  if (prefix) {
    decoder *s = dec_new(DEC_STRIP);
    if (!s) return oom();
    s->strip_char = ' ';
    s->start = 1;
    d->sub[d->nsub++] = s;
  }
  t->post = template_post(t->bos, add_bos, t->eos, add_eos);
  if (!t->post) return oom();
  return true;
}

/* Byte-level BPE: the pre-tokenizer regexes llama.cpp picks for `pre`
 * (tokenizer.ggml.pre; NULL: its default), then ByteLevel. The model's
 * vocabulary and merges must be in. */
bool tk_pipeline_bytelevel(mx_tokenizer *t, const char *pname, size_t plen, bool add_bos,
                         bool add_eos) {
  model *m = &t->model;
  tk_model_finish_bpe(m);
  const pre_set *ps = find_pre(pname, plen);
  pretok *seq = calloc(1, sizeof *seq);
  if (!seq || !(seq->sub = calloc(8, sizeof *seq->sub))) {
    free(seq);
    return oom();
  }
  seq->type = PT_SEQ;
  t->pre = seq;
  for (int i = 0; i < 6 && ps->re[i]; i++) {
    pretok *sp = split_pt(ps->re[i], "tokenizer.ggml.pre");
    if (!sp) return false;
    seq->sub[seq->nsub++] = sp;
  }
  pretok *bl = calloc(1, sizeof *bl);
  if (!bl) return oom();
  bl->type = PT_BYTELEVEL;
  seq->sub[seq->nsub++] = bl;
  if (!(t->dec = dec_new(DEC_BYTELEVEL))) return oom();
  t->post = template_post(t->bos, add_bos, t->eos, add_eos);
  if (!t->post) return oom();
  return true;
}

/* BERT: BertNormalizer (lowercase and accent stripping when `lowercase`),
 * BertPreTokenizer, WordPiece with "##", BertProcessing when cls and sep
 * are known, the WordPiece decoder. */
bool tk_pipeline_bert(mx_tokenizer *t, bool lowercase, int32_t cls, int32_t sep) {
  model *m = &t->model;
  m->type = MODEL_WORDPIECE;
  m->cont_prefix = strdup("##");
  if (!m->cont_prefix) return oom();
  m->cont_len = 2;
  m->max_chars = 100;
  normalizer *bn = norm_new(NORM_BERT);
  if (!bn) return oom();
  bn->clean_text = bn->chinese = true;
  bn->lowercase = lowercase;
  t->norm = bn;
  pretok *bp = calloc(1, sizeof *bp);
  if (!bp) return oom();
  bp->type = PT_BERT;
  t->pre = bp;
  decoder *d = dec_new(DEC_WORDPIECE);
  if (!d || !(d->prefix = strdup("##"))) {
    free(d);
    return oom();
  }
  d->cleanup = true;
  t->dec = d;
  if (cls >= 0 && sep >= 0) {
    post *p = calloc(1, sizeof *p);
    if (!p) return oom();
    p->type = POST_BERT;
    p->cls = cls;
    p->sep = sep;
    t->post = p;
  }
  return true;
}

/* SentencePiece Unigram as HF's T5/SpmConverter pipelines: the precompiled
 * charsmap (when given), Metaspace (prefix ▁ when add_space), Viterbi over
 * the scores, the Metaspace decoder. The model's tokens and uscore must be in. */
bool tk_pipeline_unigram(mx_tokenizer *t, const void *charsmap, size_t n, bool add_space,
                         bool add_bos, bool add_eos) {
  model *m = &t->model;
  m->type = MODEL_UNIGRAM;
  m->fuse_unk = true;
  if (!tk_unigram_build(m)) return oom();
  normalizer *pc = norm_new(NORM_PRECOMPILED);
  if (!pc) return oom();
  t->norm = pc;
  if (charsmap && n) pc->pc = tk_precompiled_new(charsmap, n);
  pretok *ms = calloc(1, sizeof *ms);
  if (!ms) return oom();
  ms->type = PT_METASPACE;
  ms->repl = 0x2581;
  ms->prepend = add_space ? PS_ALWAYS : PS_NEVER;
  ms->split = true;
  t->pre = ms;
  decoder *d = dec_new(DEC_METASPACE);
  if (!d) return oom();
  d->repl = 0x2581;
  d->prepend = ms->prepend;
  t->dec = d;
  t->post = template_post(t->bos, add_bos, t->eos, add_eos);
  if (!t->post) return oom();
  return true;
}

static bool build(gctx *c, mx_tokenizer *t) {
  const mx_gguf *g = c->g;
  int64_t ki = mx_gguf_find_key(g, "tokenizer.ggml.model");
  const char *mname;
  size_t mlen;
  if (ki < 0 || mx_gguf_get_string(g, ki, &mname, &mlen) != MX_OK) {
    set_error(MX_ERR_FORMAT, "%s: no tokenizer.ggml.model string: not a GGUF vocabulary", c->name);
    return false;
  }
  int64_t kt = mx_gguf_find_key(g, "tokenizer.ggml.tokens");
  mx_gguf_type et;
  uint64_t ntok;
  if (kt < 0 || mx_gguf_get_array(g, kt, &et, &ntok) != MX_OK || et != MX_GGUF_STRING || ntok == 0 ||
      ntok > INT32_MAX - 1) {
    set_error(MX_ERR_FORMAT, "%s: tokenizer.ggml.tokens must be a non-empty array of strings", c->name);
    return false;
  }
  /* token types and scores: optional, must match the token count */
  int64_t kty = mx_gguf_find_key(g, "tokenizer.ggml.token_type");
  int64_t ksc = mx_gguf_find_key(g, "tokenizer.ggml.scores");
  uint64_t cnt;
  if (kty >= 0 && (mx_gguf_get_array(g, kty, &et, &cnt) != MX_OK || cnt != ntok ||
                   (et != MX_GGUF_INT32 && et != MX_GGUF_UINT32))) {
    set_error(MX_ERR_FORMAT, "%s: tokenizer.ggml.token_type must be %llu int32s", c->name,
              (unsigned long long)ntok);
    return false;
  }
  if (ksc >= 0 && (mx_gguf_get_array(g, ksc, &et, &cnt) != MX_OK || cnt != ntok || et != MX_GGUF_FLOAT32)) {
    set_error(MX_ERR_FORMAT, "%s: tokenizer.ggml.scores must be %llu float32s", c->name,
              (unsigned long long)ntok);
    return false;
  }
  const unsigned char *types = kty >= 0 ? mx_gguf_get_array_data(g, kty) : NULL;
  const unsigned char *scores = ksc >= 0 ? mx_gguf_get_array_data(g, ksc) : NULL;
  bool is_llama = mlen == 5 && !memcmp(mname, "llama", 5);
  bool is_gpt2 = mlen == 4 && !memcmp(mname, "gpt2", 4);
  bool is_bert = mlen == 4 && !memcmp(mname, "bert", 4);
  bool is_t5 = mlen == 2 && !memcmp(mname, "t5", 2);
  if (!is_llama && !is_gpt2 && !is_bert && !is_t5) {
    set_error(MX_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%.*s\" is not supported (llama, gpt2, "
                                  "bert, t5 are)",
              c->name, (int)(mlen > 40 ? 40 : mlen), mname);
    return false;
  }
  model *m = &t->model;
  m->type = is_bert ? MODEL_WORDPIECE : is_t5 ? MODEL_UNIGRAM : MODEL_BPE;
  if (is_llama || is_t5) {
    if (is_llama) m->scores = calloc(ntok, sizeof *m->scores);
    else m->uscore = calloc(ntok, sizeof *m->uscore);
    if (!m->scores && !m->uscore) return oom();
  }
  bool cased = false;
  sbuf tmp = {0};
  for (uint64_t i = 0; i < ntok; i++) {
    const char *s;
    size_t l;
    if (mx_gguf_get_array_string(g, kt, i, &s, &l) != MX_OK) return false;
    if (!tk_utf8_valid(s, l)) {
      set_error(MX_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%llu] is not valid UTF-8", c->name,
                (unsigned long long)i);
      free(tmp.p);
      return false;
    }
    int32_t ty = 1;
    if (types) memcpy(&ty, types + 4 * i, 4);
    float sc = 0;
    if (scores) memcpy(&sc, scores + 4 * i, 4);
    if (m->scores) m->scores[i] = sc;
    if (m->uscore) m->uscore[i] = sc;
    if (is_bert && ty != 3) {
      /* back to HF's WordPiece spelling */
      tmp.n = 0;
      if (l >= 3 && !memcmp(s, "\xE2\x96\x81", 3)) tk_sbuf_put(&tmp, s + 3, l - 3);
      else tk_sbuf_put(&tmp, "##", 2), tk_sbuf_put(&tmp, s, l);
      if (tmp.oom) return oom();
      for (size_t k = 0; k < l; k++)
        if (s[k] >= 'A' && s[k] <= 'Z') cased = true;
      s = tmp.p;
      l = tmp.n;
    }
    if (ty == 5) continue; /* unused */
    if (!tk_model_set_token(m, (int32_t)i, s, l)) {
      free(tmp.p);
      return oom();
    }
    if (ty == 2 || ty == 3 || ty == 4) {
      if (!tok_add_token(t, s, l, (int32_t)i, ty != 4, false, false, false, false)) {
        free(tmp.p);
        return oom();
      }
    }
  }
  free(tmp.p);
  int64_t unk = key_int(c, "tokenizer.ggml.unknown_token_id", -1);
  int64_t bos = key_int(c, "tokenizer.ggml.bos_token_id", -1);
  int64_t eos = key_int(c, "tokenizer.ggml.eos_token_id", -1);
  int64_t pad = key_int(c, "tokenizer.ggml.padding_token_id", -1);
  int64_t sep = key_int(c, "tokenizer.ggml.seperator_token_id", -1);
  int64_t cls = key_int(c, "tokenizer.ggml.cls_token_id", -1);
  int64_t add_bos = key_int(c, "tokenizer.ggml.add_bos_token", -1);
  int64_t add_eos = key_int(c, "tokenizer.ggml.add_eos_token", -1);
  int64_t add_space = key_int(c, "tokenizer.ggml.add_space_prefix", -1);
#define OKID(x) ((x) >= 0 && (uint64_t)(x) < ntok)
  t->bos = OKID(bos) ? (int32_t)bos : -1;
  t->eos = OKID(eos) ? (int32_t)eos : -1;
  t->pad = OKID(pad) ? (int32_t)pad : -1;
  m->unk_id = OKID(unk) ? (int32_t)unk : -1;
  if (is_bert && m->unk_id < 0) m->unk_id = tk_strmap_get(&m->vocab, "[UNK]", 5);
  t->add_bos = (int)add_bos;
  t->add_eos = (int)add_eos;

  if (is_llama) {
    if (!tk_pipeline_spm_bpe(t, add_space != 0, add_bos != 0, add_eos == 1)) return false;
  } else if (is_gpt2) {
    int64_t km = mx_gguf_find_key(g, "tokenizer.ggml.merges");
    uint64_t nm = 0;
    if (km >= 0 && (mx_gguf_get_array(g, km, &et, &nm) != MX_OK || et != MX_GGUF_STRING)) {
      set_error(MX_ERR_FORMAT, "%s: tokenizer.ggml.merges must be an array of strings", c->name);
      return false;
    }
    for (uint64_t i = 0; i < nm && i < INT32_MAX; i++) {
      const char *s;
      size_t l;
      if (mx_gguf_get_array_string(g, km, i, &s, &l) != MX_OK) return false;
      const char *sp = memchr(s, ' ', l);
      if (!sp) continue;
      tk_model_add_merge(m, s, (size_t)(sp - s), sp + 1, l - (size_t)(sp - s) - 1, (int32_t)i);
    }
    int64_t kp = mx_gguf_find_key(g, "tokenizer.ggml.pre");
    const char *pname = NULL;
    size_t plen = 0;
    if (kp >= 0 && mx_gguf_get_string(g, kp, &pname, &plen) != MX_OK) pname = NULL;
    if (!tk_pipeline_bytelevel(t, pname, plen, add_bos == 1, add_eos == 1)) return false;
  } else if (is_bert) {
    if (!tk_pipeline_bert(t, !cased, OKID(cls) ? (int32_t)cls : -1, OKID(sep) ? (int32_t)sep : -1))
      return false;
  } else { /* t5 */
    int64_t kc = mx_gguf_find_key(g, "tokenizer.ggml.precompiled_charsmap");
    uint64_t nc = 0;
    const void *cm = NULL;
    if (kc >= 0 && mx_gguf_get_array(g, kc, &et, &nc) == MX_OK && (et == MX_GGUF_UINT8 || et == MX_GGUF_INT8) && nc)
      cm = mx_gguf_get_array_data(g, kc);
    if (!tk_pipeline_unigram(t, cm, cm ? nc : 0, add_space != 0, add_bos == 1, add_eos != 0)) return false;
  }
  (void)sep;
  return true;
#undef OKID
}

mx_tokenizer *tok_load_gguf(const void *bytes, size_t size, const char *path, const char *name) {
  mx_gguf *g = path ? mx_gguf_open(path) : mx_gguf_open_memory(bytes, size, name);
  if (!g) return NULL;
  mx_tokenizer *t = tok_alloc(name);
  if (!t) {
    mx_gguf_close(g);
    return oom();
  }
  gctx c = {g, name};
  bool ok = build(&c, t);
  if (ok && !tok_finish(t)) ok = oom() != NULL;
  mx_gguf_close(g);
  if (!ok) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_FORMAT, "%s: malformed GGUF vocabulary", name);
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}
