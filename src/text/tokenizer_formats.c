/* tokenizer_formats.c — vocabularies that are not a tokenizer.json:
 *   - tiktoken rank files ("base64 rank" lines), with Whisper's special
 *     tokens appended as openai/whisper's get_encoding does, encoded as
 *     tiktoken does (byte-level BPE: repeatedly merge the adjacent pair whose
 *     concatenation has the lowest rank, leftmost first) after the GPT-2
 *     regex split;
 *   - GPT-2's encoder.json + vocab.bpe (HF's GPT2TokenizerFast pipeline);
 *   - a WordPiece vocab.txt (HF's BertTokenizerFast pipeline, with the
 *     folder's tokenizer_config.json do_lower_case / special tokens).
 * Every line and field is bounds-checked; malformed input is MX_ERR_FORMAT
 * naming the file and line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

static void *oom(void) {
  set_error(MX_ERR_OOM, "tokenizer: out of memory");
  return NULL;
}

/* Next line of [*pos, n): [*ls, *le) without its "\n" / "\r\n". */
static bool next_line(const char *s, size_t n, size_t *pos, size_t *ls, size_t *le) {
  if (*pos >= n) return false;
  size_t a = *pos;
  const char *nl = memchr(s + a, '\n', n - a);
  size_t e = nl ? (size_t)(nl - s) : n;
  *pos = nl ? e + 1 : n;
  *ls = a;
  *le = e > a && s[e - 1] == '\r' ? e - 1 : e;
  return true;
}

static int b64v(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Strict base64 (padding optional); false on any other byte. "=" alone is
 * the empty token (Whisper's multilingual file ends with one). */
static bool b64_decode(const char *s, size_t n, sbuf *out) {
  uint32_t acc = 0;
  int bits = 0;
  out->n = 0;
  while (n && s[n - 1] == '=') n--;
  for (size_t i = 0; i < n; i++) {
    int v = b64v((unsigned char)s[i]);
    if (v < 0) return false;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (!tk_sbuf_putc(out, (char)(acc >> bits))) return false;
    }
  }
  return tk_sbuf_put(out, "", 0);
}

/* Raw bytes -> GPT-2's byte-level spelling (each byte one code point). */
static bool to_bytelevel(const char *s, size_t n, sbuf *out) {
  out->n = 0;
  for (size_t i = 0; i < n; i++)
    if (!tk_sbuf_put_cp(out, tk_bl_byte2cp[(unsigned char)s[i]])) return false;
  return true;
}

static const char *const WHISPER_LANGS[] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv",
    "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no",
    "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr",
    "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu",
    "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};

static bool add_special(mx_tokenizer *t, const char *s, int32_t id) {
  return tok_add_token(t, s, strlen(s), id, true, false, false, false, false);
}

mx_tokenizer *tok_load_tiktoken(const char *bytes, size_t n, const char *name, int num_languages) {
  int nlang = (int)(sizeof WHISPER_LANGS / sizeof *WHISPER_LANGS);
  if (num_languages <= 0) num_languages = 99;
  if (num_languages > nlang) {
    set_error(MX_ERR_INVALID_ARG, "%s: Whisper has %d languages, not %d", name, nlang, num_languages);
    return NULL;
  }
  mx_tokenizer *t = tok_alloc(name);
  if (!t) return oom();
  model *m = &t->model;
  m->type = MODEL_BPE;
  sbuf raw = {0}, bl = {0};
  size_t pos = 0, ls, le, line = 0, nranks = 0, scap = 0;
  bool ok = true;
  while (ok && next_line(bytes, n, &pos, &ls, &le)) {
    line++;
    if (le == ls) continue;
    const char *sp = memchr(bytes + ls, ' ', le - ls);
    char *end = NULL;
    long rank = -1;
    if (sp && sp + 1 < bytes + le && (size_t)(le - (size_t)(sp + 1 - bytes)) < 12) {
      char num[16];
      size_t nl = le - (size_t)(sp + 1 - bytes);
      memcpy(num, sp + 1, nl);
      num[nl] = 0;
      rank = strtol(num, &end, 10);
      if (*end || num[0] == '-' || num[0] == '+') rank = -1;
    }
    if (!sp || sp == bytes + ls || rank < 0 || rank > INT32_MAX - 4096 || !b64_decode(bytes + ls, (size_t)(sp - bytes) - ls, &raw)) {
      set_error(MX_ERR_FORMAT, "%s: line %zu: expected \"<base64 token> <rank>\"", name, line);
      ok = false;
      break;
    }
    if (tk_model_token(m, (int32_t)rank, NULL)) {
      set_error(MX_ERR_FORMAT, "%s: line %zu: rank %ld appears twice", name, line, rank);
      ok = false;
      break;
    }
    if ((size_t)rank >= scap) {
      size_t nc = scap ? scap : 65536;
      while (nc <= (size_t)rank) nc *= 2;
      float *ns = realloc(m->scores, nc * sizeof *ns);
      if (!ns) {
        ok = oom() != NULL;
        break;
      }
      m->scores = ns;
      scap = nc;
    }
    m->scores[rank] = -(float)rank; /* lower rank merges first */
    if (!to_bytelevel(raw.p, raw.n, &bl) || !tk_model_set_token(m, (int32_t)rank, bl.p, bl.n)) {
      ok = oom() != NULL;
      break;
    }
    nranks++;
  }
  free(raw.p);
  free(bl.p);
  if (ok && nranks == 0) {
    set_error(MX_ERR_FORMAT, "%s: no ranks: not a tiktoken file", name);
    ok = false;
  }
  /* scores are read for every id below nid */
  if (ok && scap < m->nid) {
    float *ns = realloc(m->scores, m->nid * sizeof *ns);
    if (!ns) ok = oom() != NULL;
    else {
      for (size_t i = scap; i < m->nid; i++) ns[i] = 0;
      m->scores = ns;
    }
  }
  /* Whisper: specials follow the ranks, numbered from len(ranks). */
  int32_t id = (int32_t)nranks;
  char buf[32];
  if (ok) {
    t->eos = t->bos = t->pad = t->unk = id;
    ok = add_special(t, "<|endoftext|>", id++) && add_special(t, "<|startoftranscript|>", id++);
    for (int i = 0; ok && i < num_languages; i++) {
      snprintf(buf, sizeof buf, "<|%s|>", WHISPER_LANGS[i]);
      ok = add_special(t, buf, id++);
    }
    static const char *const tail[] = {"<|translate|>", "<|transcribe|>", "<|startoflm|>",
                                       "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"};
    for (size_t i = 0; ok && i < sizeof tail / sizeof *tail; i++) ok = add_special(t, tail[i], id++);
    /* <|0.00|> .. <|30.00|> in steps of 0.02 (Python's f"{i * 0.02:.2f}") */
    for (int i = 0; ok && i <= 1500; i++) {
      snprintf(buf, sizeof buf, "<|%d.%02d|>", i / 50, (i % 50) * 2);
      ok = add_special(t, buf, id++);
    }
    if (!ok) oom();
  }
  if (ok) {
    m->spm_scores = true;
    tk_model_finish_bpe(m);
    pretok *p = calloc(1, sizeof *p);
    decoder *d = calloc(1, sizeof *d);
    t->pre = p;
    t->dec = d;
    if (!p || !d) ok = oom() != NULL;
    else {
      p->type = PT_BYTELEVEL; /* tiktoken's pattern is GPT-2's */
      p->use_regex = true;
      d->type = DEC_BYTELEVEL;
      ok = tk_bytelevel_regex() != NULL;
    }
  }
  if (ok && !tok_finish(t)) ok = oom() != NULL;
  if (!ok) {
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}

mx_tokenizer *tok_load_gpt2(const char *encoder, size_t en, const char *merges, size_t mn,
                            const char *name) {
  cJSON *root = cJSON_ParseWithLength(encoder, en);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    set_error(MX_ERR_FORMAT, "%s: encoder.json is not a JSON object", name);
    return NULL;
  }
  mx_tokenizer *t = tok_alloc(name);
  if (!t) {
    cJSON_Delete(root);
    return oom();
  }
  model *m = &t->model;
  m->type = MODEL_BPE;
  bool ok = true;
  for (const cJSON *e = root->child; ok && e; e = e->next) {
    double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
    if (!e->string || v < 0 || v > INT32_MAX - 1 || v != (int32_t)v ||
        !tk_utf8_valid(e->string, strlen(e->string))) {
      set_error(MX_ERR_FORMAT, "%s: encoder.json[\"%.40s\"]: expected an id", name,
                e->string ? e->string : "");
      ok = false;
    } else if (!tk_model_set_token(m, (int32_t)v, e->string, strlen(e->string))) {
      ok = oom() != NULL;
    }
  }
  cJSON_Delete(root);
  size_t pos = 0, ls, le, line = 0;
  int32_t rank = 0;
  while (ok && next_line(merges, mn, &pos, &ls, &le)) {
    line++;
    if (le == ls || (le - ls >= 9 && !memcmp(merges + ls, "#version:", 9))) continue;
    const char *sp = memchr(merges + ls, ' ', le - ls);
    if (!sp || rank == INT32_MAX) {
      set_error(MX_ERR_FORMAT, "%s: vocab.bpe line %zu: expected \"a b\"", name, line);
      ok = false;
      break;
    }
    size_t la = (size_t)(sp - merges) - ls;
    if (!tk_utf8_valid(merges + ls, le - ls)) {
      set_error(MX_ERR_FORMAT, "%s: vocab.bpe line %zu: not valid UTF-8", name, line);
      ok = false;
      break;
    }
    tk_model_add_merge(m, merges + ls, la, sp + 1, le - ls - la - 1, rank++);
  }
  if (ok) {
    /* GPT2TokenizerFast: <|endoftext|> is bos, eos and unk, and special */
    int32_t eot = tk_strmap_get(&m->vocab, "<|endoftext|>", 13);
    if (eot >= 0) {
      t->bos = t->eos = t->unk = eot;
      ok = add_special(t, "<|endoftext|>", eot) || oom();
    }
  }
  if (ok) ok = tk_pipeline_bytelevel(t, "gpt-2", 5, false, false);
  if (ok && !tok_finish(t)) ok = oom() != NULL;
  if (!ok) {
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}

static const char *cfg_str(const cJSON *cfg, const char *k, const char *dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k);
  if (cJSON_IsString(v)) return v->valuestring;
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
  return cJSON_IsString(c) ? c->valuestring : dflt;
}

mx_tokenizer *tok_load_vocab_txt(const char *bytes, size_t n, const char *config, size_t cn,
                                 const char *name) {
  mx_tokenizer *t = tok_alloc(name);
  if (!t) return oom();
  model *m = &t->model;
  m->type = MODEL_WORDPIECE;
  size_t pos = 0, ls, le;
  int32_t id = 0;
  bool ok = true;
  /* one token a line, id = line number (HF's WordPiece.from_file) */
  while (ok && next_line(bytes, n, &pos, &ls, &le)) {
    if (id == INT32_MAX - 1 || !tk_utf8_valid(bytes + ls, le - ls)) {
      set_error(MX_ERR_FORMAT, "%s: line %d: not valid UTF-8", name, (int)id + 1);
      ok = false;
      break;
    }
    if (le > ls && tk_strmap_get(&m->vocab, bytes + ls, le - ls) < 0 &&
        !tk_model_set_token(m, id, bytes + ls, le - ls))
      ok = oom() != NULL;
    id++;
  }
  if (ok && m->vocab.n == 0) {
    set_error(MX_ERR_FORMAT, "%s: empty vocabulary", name);
    ok = false;
  }
  cJSON *cfg = config && cn ? cJSON_ParseWithLength(config, cn) : NULL;
  const cJSON *lc = cJSON_GetObjectItemCaseSensitive(cfg, "do_lower_case");
  bool lower = cJSON_IsBool(lc) ? cJSON_IsTrue(lc) : true; /* BertTokenizer's default */
  const char *names[5] = {cfg_str(cfg, "unk_token", "[UNK]"), cfg_str(cfg, "sep_token", "[SEP]"),
                          cfg_str(cfg, "pad_token", "[PAD]"), cfg_str(cfg, "cls_token", "[CLS]"),
                          cfg_str(cfg, "mask_token", "[MASK]")};
  int32_t ids[5];
  for (int i = 0; i < 5; i++) {
    ids[i] = tk_strmap_get(&m->vocab, names[i], strlen(names[i]));
    if (ok && ids[i] >= 0 && !add_special(t, names[i], ids[i])) ok = oom() != NULL;
  }
  if (ok) {
    m->unk_id = ids[0];
    t->pad = ids[2];
    ok = tk_pipeline_bert(t, lower, ids[3], ids[1]);
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(cfg, "strip_accents");
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(cfg, "tokenize_chinese_chars");
    if (ok && cJSON_IsBool(sa)) t->norm->strip_accents = cJSON_IsTrue(sa);
    if (ok && cJSON_IsBool(cj)) t->norm->chinese = cJSON_IsTrue(cj);
  }
  cJSON_Delete(cfg);
  if (ok && !tok_finish(t)) ok = oom() != NULL;
  if (!ok) {
    mx_tokenizer_free(t);
    return NULL;
  }
  return t;
}
