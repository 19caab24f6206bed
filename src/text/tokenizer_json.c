/* tokenizer_json.c — reads a Hugging Face tokenizer.json (and the folder's
 * tokenizer_config.json / generation_config.json) into the pipeline
 * structures. Every malformed field gives MX_ERR_FORMAT naming its JSON path;
 * components this build lacks give MX_ERR_UNSUPPORTED naming the type. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

typedef struct jctx {
  const char *name;
  bool failed;
  const tk_jbig *big; /* model.vocab / model.merges still in the text, or NULL */
} jctx;

#define JFAIL(c, code, ...)                 \
  do {                                      \
    if (!(c)->failed) set_error(code, __VA_ARGS__); \
    (c)->failed = true;                     \
  } while (0)

static const char *jtype(const cJSON *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) ? t->valuestring : NULL;
}

static bool jbool(const cJSON *o, const char *k, bool dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  return dflt;
}

static double jnum(const cJSON *o, const char *k, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static bool valid_id(double d) { return d >= 0 && d <= (double)INT32_MAX - 1 && d == (int32_t)d; }

/* First code point of s, or dflt. */
static uint32_t first_cp(const char *s, uint32_t dflt) {
  if (!s || !*s) return dflt;
  uint32_t cp;
  return tk_utf8_decode((const unsigned char *)s, strlen(s), 0, &cp) ? cp : dflt;
}

/* Pattern {"String": s} or {"Regex": r}: literal text or a regex. */
static bool jpattern(jctx *c, const cJSON *o, const char *path, char **lit, regex **re) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
  const char *s = jstr(p, "String"), *r = jstr(p, "Regex");
  if (s) {
    *lit = strdup(s);
    if (!*lit) JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
    return !c->failed;
  }
  if (r) {
    *re = tk_regex_new(r, strlen(r), false, path);
    if (!*re) c->failed = true;
    return !c->failed;
  }
  JFAIL(c, MX_ERR_FORMAT, "%s: %s.pattern: expected {\"String\": ...} or {\"Regex\": ...}", c->name,
        path);
  return false;
}

static prepend_scheme jprepend(const cJSON *o) {
  const char *ps = jstr(o, "prepend_scheme");
  if (ps) {
    if (strcmp(ps, "first") == 0) return PS_FIRST;
    if (strcmp(ps, "never") == 0) return PS_NEVER;
    return PS_ALWAYS;
  }
  return jbool(o, "add_prefix_space", true) ? PS_ALWAYS : PS_NEVER;
}

/* ------------------------------------------------------------ normalizers */

static const unsigned char *b64_decode(const char *s, size_t *n) {
  size_t len = strlen(s);
  unsigned char *out = malloc(len / 4 * 3 + 4);
  if (!out) return NULL;
  uint32_t acc = 0;
  int bits = 0;
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+' || ch == '-') v = 62;
    else if (ch == '/' || ch == '_') v = 63;
    else continue; /* '=' and whitespace */
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[k++] = (unsigned char)(acc >> bits);
    }
  }
  *n = k;
  return out;
}

/* The "type" of a pipeline component object (normalizer, pre-tokenizer,
 * post-processor, decoder), or NULL with the error set when `o` is not such
 * an object or Sequences nest past 32 levels. */
static const char *component_type(jctx *c, const cJSON *o, const char *path, int depth) {
  const char *ty = jtype(o);
  if (!cJSON_IsObject(o) || !ty) {
    JFAIL(c, MX_ERR_FORMAT, "%s: %s: expected an object with a \"type\"", c->name, path);
    return NULL;
  }
  if (depth > 32) {
    JFAIL(c, MX_ERR_FORMAT, "%s: %s: nested too deeply", c->name, path);
    return NULL;
  }
  return ty;
}

static normalizer *parse_norm(jctx *c, const cJSON *o, const char *path, int depth) {
  if (!o || cJSON_IsNull(o)) return NULL;
  const char *ty = component_type(c, o, path, depth);
  if (!ty) return NULL;
  normalizer *nm = calloc(1, sizeof *nm);
  if (!nm) {
    JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
    return NULL;
  }
  nm->strip_accents = -1;
  if (!strcmp(ty, "NFC")) nm->type = NORM_NFC;
  else if (!strcmp(ty, "NFD")) nm->type = NORM_NFD;
  else if (!strcmp(ty, "NFKC")) nm->type = NORM_NFKC;
  else if (!strcmp(ty, "NFKD")) nm->type = NORM_NFKD;
  else if (!strcmp(ty, "Lowercase")) nm->type = NORM_LOWER;
  else if (!strcmp(ty, "StripAccents")) nm->type = NORM_STRIP_ACCENTS;
  else if (!strcmp(ty, "Nmt")) nm->type = NORM_NMT;
  else if (!strcmp(ty, "Strip")) {
    nm->type = NORM_STRIP;
    nm->left = jbool(o, "strip_left", true);
    nm->right = jbool(o, "strip_right", true);
  } else if (!strcmp(ty, "Replace")) {
    nm->type = NORM_REPLACE;
    const char *content = jstr(o, "content");
    nm->content = strdup(content ? content : "");
    nm->content_len = nm->content ? strlen(nm->content) : 0;
    if (nm->content) jpattern(c, o, path, &nm->lit, &nm->re);
    if (nm->lit) nm->lit_len = strlen(nm->lit);
  } else if (!strcmp(ty, "Prepend")) {
    nm->type = NORM_PREPEND;
    const char *p = jstr(o, "prepend");
    nm->content = strdup(p ? p : "");
    nm->content_len = nm->content ? strlen(nm->content) : 0;
  } else if (!strcmp(ty, "BertNormalizer")) {
    nm->type = NORM_BERT;
    nm->clean_text = jbool(o, "clean_text", true);
    nm->chinese = jbool(o, "handle_chinese_chars", true);
    nm->lowercase = jbool(o, "lowercase", true);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(o, "strip_accents");
    nm->strip_accents = cJSON_IsBool(sa) ? cJSON_IsTrue(sa) : -1;
  } else if (!strcmp(ty, "Precompiled")) {
    nm->type = NORM_PRECOMPILED;
    const char *b = jstr(o, "precompiled_charsmap");
    if (b && *b) {
      size_t n;
      const unsigned char *bytes = b64_decode(b, &n);
      nm->pc = bytes ? tk_precompiled_new(bytes, n) : NULL;
      free((void *)bytes);
      if (!nm->pc)
        JFAIL(c, MX_ERR_FORMAT, "%s: %s.precompiled_charsmap: malformed charsmap", c->name, path);
    }
  } else if (!strcmp(ty, "Sequence")) {
    nm->type = NORM_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "normalizers");
    if (!cJSON_IsArray(arr)) {
      JFAIL(c, MX_ERR_FORMAT, "%s: %s.normalizers: expected an array", c->name, path);
    } else {
      int n = cJSON_GetArraySize(arr);
      nm->sub = calloc((size_t)n + 1, sizeof *nm->sub);
      if (!nm->sub) JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
      for (int i = 0; i < n && !c->failed; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%.200s.normalizers[%d]", path, i);
        normalizer *x = parse_norm(c, cJSON_GetArrayItem(arr, i), sub, depth + 1);
        if (x) nm->sub[nm->nsub++] = x;
      }
    }
  } else {
    JFAIL(c, MX_ERR_UNSUPPORTED, "%s: %s: normalizer type \"%s\" is not supported", c->name, path, ty);
  }
  if (c->failed) {
    tk_normalizer_free(nm);
    return NULL;
  }
  return nm;
}

/* ------------------------------------------------------------ pre-tokenizers */

static bool jbehavior(jctx *c, const cJSON *o, const char *path, split_behavior dflt,
                      split_behavior *out) {
  const char *b = jstr(o, "behavior");
  *out = dflt;
  if (!b) return true;
  if (!strcmp(b, "Removed")) *out = SB_REMOVED;
  else if (!strcmp(b, "Isolated")) *out = SB_ISOLATED;
  else if (!strcmp(b, "MergedWithPrevious")) *out = SB_MERGED_PREV;
  else if (!strcmp(b, "MergedWithNext")) *out = SB_MERGED_NEXT;
  else if (!strcmp(b, "Contiguous")) *out = SB_CONTIGUOUS;
  else {
    JFAIL(c, MX_ERR_FORMAT, "%s: %s.behavior: unknown \"%s\"", c->name, path, b);
    return false;
  }
  return true;
}

static pretok *parse_pretok(jctx *c, const cJSON *o, const char *path, int depth) {
  if (!o || cJSON_IsNull(o)) return NULL;
  const char *ty = component_type(c, o, path, depth);
  if (!ty) return NULL;
  pretok *p = calloc(1, sizeof *p);
  if (!p) {
    JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
    return NULL;
  }
  if (!strcmp(ty, "ByteLevel")) {
    p->type = PT_BYTELEVEL;
    p->add_prefix_space = jbool(o, "add_prefix_space", true);
    p->trim_offsets = jbool(o, "trim_offsets", true);
    p->use_regex = jbool(o, "use_regex", true);
    if (p->use_regex && !tk_bytelevel_regex()) c->failed = true;
  } else if (!strcmp(ty, "Split")) {
    p->type = PT_SPLIT;
    char *lit = NULL;
    if (jpattern(c, o, path, &lit, &p->re) && lit) {
      p->re = tk_regex_new(lit, strlen(lit), true, path);
      if (!p->re) c->failed = true;
    }
    free(lit);
    jbehavior(c, o, path, SB_ISOLATED, &p->behavior);
    p->invert = jbool(o, "invert", false);
  } else if (!strcmp(ty, "Whitespace")) p->type = PT_WHITESPACE;
  else if (!strcmp(ty, "WhitespaceSplit")) p->type = PT_WHITESPACE_SPLIT;
  else if (!strcmp(ty, "BertPreTokenizer")) p->type = PT_BERT;
  else if (!strcmp(ty, "Metaspace")) {
    p->type = PT_METASPACE;
    p->repl = first_cp(jstr(o, "replacement"), 0x2581);
    p->prepend = jprepend(o);
    p->split = jbool(o, "split", true);
  } else if (!strcmp(ty, "Digits")) {
    p->type = PT_DIGITS;
    p->individual_digits = jbool(o, "individual_digits", false);
  } else if (!strcmp(ty, "Punctuation")) {
    p->type = PT_PUNCT;
    jbehavior(c, o, path, SB_ISOLATED, &p->behavior);
  } else if (!strcmp(ty, "UnicodeScripts")) {
    p->type = PT_UNICODE_SCRIPTS;
  } else if (!strcmp(ty, "CharDelimiterSplit")) {
    p->type = PT_CHAR_DELIM;
    p->repl = first_cp(jstr(o, "delimiter"), ' ');
  } else if (!strcmp(ty, "Sequence")) {
    p->type = PT_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "pretokenizers");
    if (!cJSON_IsArray(arr)) {
      JFAIL(c, MX_ERR_FORMAT, "%s: %s.pretokenizers: expected an array", c->name, path);
    } else {
      int n = cJSON_GetArraySize(arr);
      p->sub = calloc((size_t)n + 1, sizeof *p->sub);
      if (!p->sub) JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
      for (int i = 0; i < n && !c->failed; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%.200s.pretokenizers[%d]", path, i);
        pretok *x = parse_pretok(c, cJSON_GetArrayItem(arr, i), sub, depth + 1);
        if (x) p->sub[p->nsub++] = x;
      }
    }
  } else {
    JFAIL(c, MX_ERR_UNSUPPORTED, "%s: %s: pre-tokenizer type \"%s\" is not supported", c->name,
          path, ty);
  }
  if (c->failed) {
    tk_pretok_free(p);
    return NULL;
  }
  return p;
}

/* ------------------------------------------------------------ model */

/* The scanner's verdict as this file's errors. */
static bool jscan_done(jctx *c, tk_jstatus st, const char *what, size_t bad) {
  if (st == TK_JS_OOM) JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
  else if (st == TK_JS_BAD)
    JFAIL(c, MX_ERR_FORMAT, "%s: model.%s[%zu]: malformed entry", c->name, what, bad);
  return st == TK_JS_OK;
}

static bool parse_vocab_obj(jctx *c, model *m, const cJSON *v) {
  size_t bad;
  if (c->big && cJSON_IsObject(v) && c->big->json[c->big->vocab_s] == '{')
    return jscan_done(c, tk_jscan_vocab(c->big, m, &bad), "vocab", bad);
  if (!cJSON_IsObject(v)) {
    JFAIL(c, MX_ERR_FORMAT, "%s: model.vocab: expected an object", c->name);
    return false;
  }
  for (const cJSON *e = v->child; e; e = e->next) {
    if (!cJSON_IsNumber(e) || !valid_id(e->valuedouble) || !e->string) {
      JFAIL(c, MX_ERR_FORMAT, "%s: model.vocab[\"%.60s\"]: expected an id (0 .. 2^31-2)", c->name,
            e->string ? e->string : "");
      return false;
    }
    if (!tk_utf8_valid(e->string, strlen(e->string))) {
      JFAIL(c, MX_ERR_FORMAT, "%s: model.vocab: a token is not valid UTF-8", c->name);
      return false;
    }
    if (!tk_model_set_token(m, (int32_t)e->valuedouble, e->string, strlen(e->string))) {
      JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
      return false;
    }
  }
  return true;
}

static int32_t unk_from(const model *m, const cJSON *o) {
  const char *u = jstr(o, "unk_token");
  return u ? tk_strmap_get(&m->vocab, u, strlen(u)) : -1;
}

static char *opt_str(const cJSON *o, const char *k) {
  const char *s = jstr(o, k);
  return s && *s ? strdup(s) : NULL;
}

static bool parse_model(jctx *c, model *m, const cJSON *o) {
  if (!cJSON_IsObject(o)) {
    JFAIL(c, MX_ERR_FORMAT, "%s: model: expected an object", c->name);
    return false;
  }
  const char *ty = jtype(o);
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(o, "vocab");
  if (!ty) { /* untagged, as serde accepts it */
    if (cJSON_GetObjectItemCaseSensitive(o, "merges")) ty = "BPE";
    else if (cJSON_IsArray(vocab)) ty = "Unigram";
    else if (cJSON_GetObjectItemCaseSensitive(o, "max_input_chars_per_word")) ty = "WordPiece";
    else ty = "WordLevel";
  }
  if (!strcmp(ty, "BPE")) {
    m->type = MODEL_BPE;
    m->cont_prefix = opt_str(o, "continuing_subword_prefix");
    m->eow_suffix = opt_str(o, "end_of_word_suffix");
    m->cont_len = m->cont_prefix ? strlen(m->cont_prefix) : 0;
    m->eow_len = m->eow_suffix ? strlen(m->eow_suffix) : 0;
    m->fuse_unk = jbool(o, "fuse_unk", false);
    m->byte_fallback = jbool(o, "byte_fallback", false);
    m->ignore_merges = jbool(o, "ignore_merges", false);
    if (!parse_vocab_obj(c, m, vocab)) return false;
    m->unk_id = unk_from(m, o);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(o, "merges");
    if (merges && !cJSON_IsArray(merges)) {
      JFAIL(c, MX_ERR_FORMAT, "%s: model.merges: expected an array", c->name);
      return false;
    }
    size_t bad;
    if (c->big && c->big->merges_e && merges) {
      if (!jscan_done(c, tk_jscan_merges(c->big, m, &bad), "merges", bad)) return false;
      merges = NULL;
    }
    int32_t rank = 0;
    for (const cJSON *e = merges ? merges->child : NULL; e; e = e->next, rank++) {
      const char *a = NULL, *b = NULL;
      size_t la = 0, lb = 0;
      if (cJSON_IsString(e)) {
        const char *sp = strchr(e->valuestring, ' ');
        if (sp) {
          a = e->valuestring;
          la = (size_t)(sp - a);
          b = sp + 1;
          lb = strlen(b);
        }
      } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                 cJSON_IsString(e->child->next)) {
        a = e->child->valuestring;
        b = e->child->next->valuestring;
        la = strlen(a);
        lb = strlen(b);
      }
      if (!a) {
        JFAIL(c, MX_ERR_FORMAT, "%s: model.merges[%d]: expected \"a b\" or [\"a\", \"b\"]", c->name,
              (int)rank);
        return false;
      }
      tk_model_add_merge(m, a, la, b, lb, rank); /* merges of unknown tokens are ignored */
    }
    return tk_model_finish_bpe(m);
  }
  if (!strcmp(ty, "WordPiece") || !strcmp(ty, "WordLevel")) {
    bool wp = !strcmp(ty, "WordPiece");
    m->type = wp ? MODEL_WORDPIECE : MODEL_WORDLEVEL;
    if (!parse_vocab_obj(c, m, vocab)) return false;
    m->unk_id = unk_from(m, o);
    if (wp) {
      const char *p = jstr(o, "continuing_subword_prefix");
      m->cont_prefix = strdup(p ? p : "##");
      if (!m->cont_prefix) return false;
      m->cont_len = strlen(m->cont_prefix);
      double mc = jnum(o, "max_input_chars_per_word", 100);
      m->max_chars = mc < 0 ? 0 : mc > 1e9 ? (size_t)1e9 : (size_t)mc;
    }
    return true;
  }
  if (!strcmp(ty, "Unigram")) {
    m->type = MODEL_UNIGRAM;
    if (!cJSON_IsArray(vocab)) {
      JFAIL(c, MX_ERR_FORMAT, "%s: model.vocab: expected an array of [piece, score]", c->name);
      return false;
    }
    size_t bad;
    if (c->big && c->big->json[c->big->vocab_s] == '[') {
      if (!jscan_done(c, tk_jscan_unigram(c->big, m, &bad), "vocab", bad)) return false;
      vocab = NULL;
    }
    size_t n = vocab ? (size_t)cJSON_GetArraySize(vocab) : c->big->vocab_n;
    m->uscore = vocab ? calloc(n + 1, sizeof *m->uscore) : m->uscore;
    if (!m->uscore) return false;
    int i = 0;
    for (const cJSON *e = vocab ? vocab->child : NULL; e; e = e->next, i++) {
      if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(e->child) ||
          !cJSON_IsNumber(e->child->next) ||
          !tk_utf8_valid(e->child->valuestring, strlen(e->child->valuestring))) {
        JFAIL(c, MX_ERR_FORMAT, "%s: model.vocab[%d]: expected [piece, score]", c->name, i);
        return false;
      }
      m->uscore[i] = e->child->next->valuedouble;
      if (!tk_model_set_token(m, i, e->child->valuestring, strlen(e->child->valuestring))) return false;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "unk_id");
    m->unk_id = cJSON_IsNumber(u) && valid_id(u->valuedouble) && u->valuedouble < (double)n
                    ? (int32_t)u->valuedouble
                    : -1;
    m->byte_fallback = jbool(o, "byte_fallback", false);
    m->fuse_unk = true;
    if (!tk_unigram_build(m)) {
      JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
      return false;
    }
    return true;
  }
  JFAIL(c, MX_ERR_UNSUPPORTED, "%s: model: type \"%s\" is not supported", c->name, ty);
  return false;
}

/* ------------------------------------------------------------ post-processors */

static bool parse_template(jctx *c, mx_tokenizer *t, const cJSON *o, const cJSON *arr,
                           const char *what, tp_piece **out, size_t *nout) {
  if (!cJSON_IsArray(arr)) {
    JFAIL(c, MX_ERR_FORMAT, "%s: post_processor.%s: expected an array", c->name, what);
    return false;
  }
  const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
  int n = cJSON_GetArraySize(arr);
  *out = calloc((size_t)n + 1, sizeof **out);
  if (!*out) return false;
  for (const cJSON *e = arr->child; e; e = e->next) {
    tp_piece *p = &(*out)[*nout];
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
    if (sq) {
      const char *id = jstr(sq, "id");
      p->is_seq = true;
      p->seq = id && !strcmp(id, "B") ? 1 : 0;
      p->type_id = (int32_t)jnum(sq, "type_id", 0);
    } else if (sp) {
      const char *id = jstr(sp, "id");
      p->type_id = (int32_t)jnum(sp, "type_id", 0);
      const cJSON *st = id ? cJSON_GetObjectItemCaseSensitive(specials, id) : NULL;
      const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
      if (cJSON_IsArray(ids)) {
        int k = cJSON_GetArraySize(ids);
        p->ids = calloc((size_t)k + 1, sizeof *p->ids);
        if (!p->ids) return false;
        for (const cJSON *x = ids->child; x; x = x->next)
          if (cJSON_IsNumber(x) && valid_id(x->valuedouble)) p->ids[p->nids++] = (int32_t)x->valuedouble;
      } else if (id) {
        int32_t k = tok_lookup(t, id, strlen(id));
        if (k < 0) {
          JFAIL(c, MX_ERR_FORMAT, "%s: post_processor: special token \"%.60s\" is unknown", c->name, id);
          return false;
        }
        p->ids = malloc(sizeof *p->ids);
        if (!p->ids) return false;
        p->ids[0] = k;
        p->nids = 1;
      }
    } else {
      JFAIL(c, MX_ERR_FORMAT, "%s: post_processor.%s: expected SpecialToken or Sequence", c->name, what);
      return false;
    }
    (*nout)++;
  }
  return true;
}

static int32_t pair_id(const cJSON *o, const char *k) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsArray(a) && cJSON_GetArraySize(a) == 2 && cJSON_IsNumber(a->child->next) &&
      valid_id(a->child->next->valuedouble))
    return (int32_t)a->child->next->valuedouble;
  return -1;
}

static post *parse_post(jctx *c, mx_tokenizer *t, const cJSON *o, int depth) {
  if (!o || cJSON_IsNull(o)) return NULL;
  const char *ty = jtype(o);
  if (!cJSON_IsObject(o) || !ty || depth > 32) {
    JFAIL(c, MX_ERR_FORMAT, "%s: post_processor: expected an object with a \"type\"", c->name);
    return NULL;
  }
  post *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->owner = t;
  if (!strcmp(ty, "TemplateProcessing")) {
    p->type = POST_TEMPLATE;
    if (parse_template(c, t, o, cJSON_GetObjectItemCaseSensitive(o, "single"), "single", &p->single,
                       &p->nsingle))
      parse_template(c, t, o, cJSON_GetObjectItemCaseSensitive(o, "pair"), "pair", &p->pair, &p->npair);
  } else if (!strcmp(ty, "BertProcessing") || !strcmp(ty, "RobertaProcessing")) {
    p->type = ty[0] == 'B' ? POST_BERT : POST_ROBERTA;
    p->cls = pair_id(o, "cls");
    p->sep = pair_id(o, "sep");
    if (p->cls < 0 || p->sep < 0)
      JFAIL(c, MX_ERR_FORMAT, "%s: post_processor: cls/sep must be [token, id]", c->name);
    if (p->type == POST_ROBERTA) {
      p->trim_offsets = jbool(o, "trim_offsets", true);
      p->add_prefix_space = jbool(o, "add_prefix_space", true);
    }
  } else if (!strcmp(ty, "ByteLevel")) {
    p->type = POST_BYTELEVEL;
    p->trim_offsets = jbool(o, "trim_offsets", true);
    p->add_prefix_space = jbool(o, "add_prefix_space", true);
  } else if (!strcmp(ty, "Sequence")) {
    p->type = POST_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "processors");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    p->sub = calloc((size_t)n + 1, sizeof *p->sub);
    if (!p->sub) c->failed = true;
    for (int i = 0; i < n && !c->failed; i++) {
      post *x = parse_post(c, t, cJSON_GetArrayItem(arr, i), depth + 1);
      if (x) p->sub[p->nsub++] = x;
    }
  } else {
    JFAIL(c, MX_ERR_UNSUPPORTED, "%s: post_processor: type \"%s\" is not supported", c->name, ty);
  }
  if (c->failed) {
    tk_post_free(p);
    return NULL;
  }
  return p;
}

/* ------------------------------------------------------------ decoders */

static decoder *parse_dec(jctx *c, const cJSON *o, const char *path, int depth) {
  if (!o || cJSON_IsNull(o)) return NULL;
  const char *ty = component_type(c, o, path, depth);
  if (!ty) return NULL;
  decoder *d = calloc(1, sizeof *d);
  if (!d) {
    JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
    return NULL;
  }
  if (!strcmp(ty, "ByteLevel")) d->type = DEC_BYTELEVEL;
  else if (!strcmp(ty, "ByteFallback")) d->type = DEC_BYTE_FALLBACK;
  else if (!strcmp(ty, "Fuse")) d->type = DEC_FUSE;
  else if (!strcmp(ty, "Metaspace")) {
    d->type = DEC_METASPACE;
    d->repl = first_cp(jstr(o, "replacement"), 0x2581);
    d->prepend = jprepend(o);
  } else if (!strcmp(ty, "WordPiece")) {
    d->type = DEC_WORDPIECE;
    const char *p = jstr(o, "prefix");
    d->prefix = strdup(p ? p : "##");
    d->cleanup = jbool(o, "cleanup", true);
  } else if (!strcmp(ty, "Strip")) {
    d->type = DEC_STRIP;
    d->strip_char = first_cp(jstr(o, "content"), ' ');
    double s = jnum(o, "start", 0), e = jnum(o, "stop", 0);
    d->start = s < 0 ? 0 : s > 1e6 ? 1000000 : (size_t)s;
    d->stop = e < 0 ? 0 : e > 1e6 ? 1000000 : (size_t)e;
  } else if (!strcmp(ty, "Replace")) {
    d->type = DEC_REPLACE;
    const char *content = jstr(o, "content");
    d->content = strdup(content ? content : "");
    d->content_len = d->content ? strlen(d->content) : 0;
    /* HF's Replace decoder: String patterns literally, Regex ones through the
     * regex, every match replaced by `content` (no group references). */
    jpattern(c, o, path, &d->prefix, &d->re);
  } else if (!strcmp(ty, "CTC")) {
    d->type = DEC_CTC;
    d->pad = dupstr(jstr(o, "pad_token") ? jstr(o, "pad_token") : "<pad>");
    d->delim = dupstr(jstr(o, "word_delimiter_token") ? jstr(o, "word_delimiter_token") : "|");
    d->cleanup = jbool(o, "cleanup", true);
  } else if (!strcmp(ty, "BPEDecoder")) {
    d->type = DEC_BPE;
    d->suffix = dupstr(jstr(o, "suffix") ? jstr(o, "suffix") : "</w>");
  } else if (!strcmp(ty, "Sequence")) {
    d->type = DEC_SEQ;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "decoders");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    d->sub = calloc((size_t)n + 1, sizeof *d->sub);
    if (!d->sub) c->failed = true;
    for (int i = 0; i < n && !c->failed; i++) {
      char sub[256];
      snprintf(sub, sizeof sub, "%.200s.decoders[%d]", path, i);
      decoder *x = parse_dec(c, cJSON_GetArrayItem(arr, i), sub, depth + 1);
      if (x) d->sub[d->nsub++] = x;
    }
  } else {
    JFAIL(c, MX_ERR_UNSUPPORTED, "%s: %s: decoder type \"%s\" is not supported", c->name, path, ty);
  }
  if ((d->type == DEC_WORDPIECE && !d->prefix) || (d->type == DEC_CTC && (!d->pad || !d->delim)) ||
      (d->type == DEC_BPE && !d->suffix))
    JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
  if (c->failed) {
    tk_decoder_free(d);
    return NULL;
  }
  return d;
}

/* ------------------------------------------------------------ configs */

/* bos_token etc.: "text" or {"content": "text", ...}. */
static int32_t cfg_token(const mx_tokenizer *t, const cJSON *cfg, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k);
  const char *s = cJSON_IsString(v) ? v->valuestring : jstr(v, "content");
  return s ? tok_lookup(t, s, strlen(s)) : -1;
}

static void apply_config(jctx *c, mx_tokenizer *t, const cJSON *cfg) {
  if (!cJSON_IsObject(cfg)) return;
  const cJSON *atd = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
  for (const cJSON *e = cJSON_IsObject(atd) ? atd->child : NULL; e; e = e->next) {
    char *end;
    long id = strtol(e->string ? e->string : "", &end, 10);
    const char *content = jstr(e, "content");
    if (*end || id < 0 || id > INT32_MAX - 1 || !content) continue;
    if (tk_strmap_get(&t->added_map, content, strlen(content)) >= 0) continue;
    if (!tok_add_token(t, content, strlen(content), (int32_t)id, jbool(e, "special", false),
                       jbool(e, "single_word", false), jbool(e, "lstrip", false),
                       jbool(e, "rstrip", false), jbool(e, "normalized", true)))
      JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
  }
  int32_t v;
  if ((v = cfg_token(t, cfg, "bos_token")) >= 0) t->bos = v;
  if ((v = cfg_token(t, cfg, "pad_token")) >= 0) t->pad = v;
  if ((v = cfg_token(t, cfg, "unk_token")) >= 0) t->unk = v;
  const cJSON *eos = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token");
  if (cJSON_IsArray(eos)) {
    for (const cJSON *e = eos->child; e; e = e->next) {
      const char *s = cJSON_IsString(e) ? e->valuestring : jstr(e, "content");
      int32_t id = s ? tok_lookup(t, s, strlen(s)) : -1;
      if (id < 0) continue;
      if (t->eos < 0) t->eos = id;
      int32_t *ne = realloc(t->eos_ids, (t->neos + 1) * sizeof *ne);
      if (!ne) break;
      t->eos_ids = ne;
      t->eos_ids[t->neos++] = id;
    }
  } else if ((v = cfg_token(t, cfg, "eos_token")) >= 0) {
    t->eos = v;
  }
  const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
  const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
  if (cJSON_IsBool(ab)) t->add_bos = cJSON_IsTrue(ab);
  if (cJSON_IsBool(ae)) t->add_eos = cJSON_IsTrue(ae);
  if (!c->failed && !tk_post_from_config(t, cfg)) JFAIL(c, MX_ERR_OOM, "tokenizer: out of memory");
}

static void apply_generation(mx_tokenizer *t, const cJSON *g) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(g, "eos_token_id");
  if (!e) return;
  size_t n = cJSON_IsArray(e) ? (size_t)cJSON_GetArraySize(e) : cJSON_IsNumber(e) ? 1 : 0;
  if (!n) return;
  int32_t *ids = calloc(n, sizeof *ids);
  if (!ids) return;
  size_t k = 0;
  if (cJSON_IsNumber(e) && valid_id(e->valuedouble)) ids[k++] = (int32_t)e->valuedouble;
  for (const cJSON *x = cJSON_IsArray(e) ? e->child : NULL; x; x = x->next)
    if (cJSON_IsNumber(x) && valid_id(x->valuedouble)) ids[k++] = (int32_t)x->valuedouble;
  if (!k) {
    free(ids);
    return;
  }
  free(t->eos_ids);
  t->eos_ids = ids;
  t->neos = k;
  if (t->eos < 0) t->eos = ids[0];
}

static void apply_trunc_pad(mx_tokenizer *t, const cJSON *root) {
  const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncation");
  if (cJSON_IsObject(tr)) {
    double ml = jnum(tr, "max_length", 0);
    if (ml >= 1 && ml < 1e9) {
      t->trunc_on = true;
      t->trunc_max = (size_t)ml;
      const char *dir = jstr(tr, "direction");
      t->trunc_left = dir && !strcmp(dir, "Left");
    }
  }
  const cJSON *pd = cJSON_GetObjectItemCaseSensitive(root, "padding");
  if (cJSON_IsObject(pd)) {
    t->pad_on = true;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pd, "strategy");
    const cJSON *fx = cJSON_GetObjectItemCaseSensitive(s, "Fixed");
    if (cJSON_IsNumber(fx) && fx->valuedouble >= 0 && fx->valuedouble < 1e9) {
      t->pad_fixed = true;
      t->pad_len = (size_t)fx->valuedouble;
    }
    const char *dir = jstr(pd, "direction");
    t->pad_left = dir && !strcmp(dir, "Left");
    double m = jnum(pd, "pad_to_multiple_of", 0);
    t->pad_multiple = m >= 1 && m < 1e6 ? (size_t)m : 0;
    double pid = jnum(pd, "pad_id", 0), ptid = jnum(pd, "pad_type_id", 0);
    t->pad_id_cfg = valid_id(pid) ? (int32_t)pid : 0;
    t->pad_type_id = valid_id(ptid) ? (int32_t)ptid : 0;
  }
}

mx_tokenizer *tok_load_json_texts(const char *json, size_t len, const char *config, size_t clen,
                                  const char *gen, size_t glen, const char *name);
mx_tokenizer *tok_load_json_texts(const char *json, size_t len, const char *config, size_t clen,
                                  const char *gen, size_t glen, const char *name) {
  jctx c = {name ? name : "tokenizer.json", false, NULL};
  tk_jbig big;
  cJSON *root;
  if (tk_jscan_split(json, len, &big)) {
    c.big = &big;
    root = cJSON_ParseWithLength(big.rest, big.rest_len);
  } else {
    root = cJSON_ParseWithLength(json, len);
  }
  if (!cJSON_IsObject(root)) {
    set_error(MX_ERR_FORMAT, "%s: not a JSON object (malformed tokenizer.json)", c.name);
    cJSON_Delete(root);
    if (c.big) tk_jscan_free(&big);
    return NULL;
  }
  mx_tokenizer *t = tok_alloc(c.name);
  if (!t) {
    cJSON_Delete(root);
    if (c.big) tk_jscan_free(&big);
    set_error(MX_ERR_OOM, "tokenizer: out of memory");
    return NULL;
  }
  parse_model(&c, &t->model, cJSON_GetObjectItemCaseSensitive(root, "model"));
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
  for (const cJSON *e = cJSON_IsArray(added) ? added->child : NULL; e && !c.failed; e = e->next) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
    const char *content = jstr(e, "content");
    if (!cJSON_IsNumber(id) || !valid_id(id->valuedouble) || !content ||
        !tk_utf8_valid(content, strlen(content))) {
      JFAIL(&c, MX_ERR_FORMAT, "%s: added_tokens: each needs an \"id\" and a UTF-8 \"content\"", c.name);
      break;
    }
    if (!tok_add_token(t, content, strlen(content), (int32_t)id->valuedouble, jbool(e, "special", false),
                       jbool(e, "single_word", false), jbool(e, "lstrip", false),
                       jbool(e, "rstrip", false), jbool(e, "normalized", true)))
      JFAIL(&c, MX_ERR_OOM, "tokenizer: out of memory");
  }
  if (!c.failed) t->norm = parse_norm(&c, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), "normalizer", 0);
  if (!c.failed)
    t->pre = parse_pretok(&c, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "pre_tokenizer", 0);
  if (!c.failed) t->post = parse_post(&c, t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), 0);
  if (!c.failed) t->dec = parse_dec(&c, cJSON_GetObjectItemCaseSensitive(root, "decoder"), "decoder", 0);
  if (!c.failed) apply_trunc_pad(t, root);
  cJSON_Delete(root);
  if (c.big) tk_jscan_free(&big);
  if (!c.failed && config && clen) {
    cJSON *cfg = cJSON_ParseWithLength(config, clen);
    if (cfg) apply_config(&c, t, cfg); /* a broken config leaves the defaults */
    cJSON_Delete(cfg);
  }
  if (!c.failed && gen && glen) {
    cJSON *g = cJSON_ParseWithLength(gen, glen);
    if (g) apply_generation(t, g);
    cJSON_Delete(g);
  }
  if (!c.failed && !tok_finish(t)) JFAIL(&c, MX_ERR_OOM, "tokenizer: out of memory");
  if (c.failed) {
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}
