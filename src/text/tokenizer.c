/* tokenizer.c — the public tokenizer API: loading by path, the encode
 * pipeline (added tokens -> normalizer -> pre-tokenizer -> model ->
 * truncation -> post-processor -> padding), batches, decoding, lookups. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/tokenizer_internal.h"

mx_tokenizer *tok_load_json_texts(const char *json, size_t len, const char *config, size_t clen,
                                  const char *gen, size_t glen, const char *name);

/* ------------------------------------------------------------ lifecycle */

mx_tokenizer *tok_alloc(const char *name) {
  mx_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->name = strdup(name ? name : "tokenizer");
  if (!t->name || !tk_trie_init(&t->tk_trie_raw) || !tk_trie_init(&t->tk_trie_norm)) {
    mx_tokenizer_free(t);
    return NULL;
  }
  t->bos = t->eos = t->pad = t->unk = -1;
  t->model.unk_id = -1;
  t->add_bos = t->add_eos = -1;
  t->pad_id_cfg = -1;
  for (int b = 0; b < 256; b++) t->model.byte_id[b] = -1;
  for (int b = 0; b < 512; b++) t->model.cp_id[b] = -1;
  tk_bl_init();
  return t;
}

void mx_tokenizer_free(mx_tokenizer *t) {
  if (!t) return;
  free(t->name);
  tk_normalizer_free(t->norm);
  tk_pretok_free(t->pre);
  tk_model_free(&t->model);
  tk_post_free(t->post);
  tk_decoder_free(t->dec);
  for (size_t i = 0; i < t->nadded; i++) free(t->added[i].content);
  free(t->added);
  tk_trie_free(&t->tk_trie_raw);
  tk_trie_free(&t->tk_trie_norm);
  tk_strmap_free(&t->added_map);
  tk_u64map_free(&t->added_by_id);
  free(t->eos_ids);
  free(t);
}

int32_t tok_lookup(const mx_tokenizer *t, const char *s, size_t len) {
  int32_t k = tk_strmap_get(&t->added_map, s, len);
  if (k >= 0) return t->added[k].id;
  return tk_strmap_get(&t->model.vocab, s, len);
}

bool tok_finish(mx_tokenizer *t) {
  /* Normalized added tokens are matched in their normalized form. */
  for (size_t i = 0; i < t->nadded; i++) {
    added_tok *a = &t->added[i];
    if (!a->normalized || !t->norm) {
      if (!tk_trie_insert(&t->tk_trie_raw, a->content, a->len, (int32_t)i)) return false;
      t->have_raw = true;
      continue;
    }
    enc_ctx c = {0};
    c.md = pcre2_match_data_create(1, NULL);
    nstr x;
    tk_nstr_init(&x, &c.a);
    bool ok = c.md && tk_nstr_put(&x, a->content, a->len, 0, (uint32_t)a->len);
    if (ok) {
      tk_nstr_done(&x);
      ok = tk_normalize(t->norm, &x, &c) && tk_trie_insert(&t->tk_trie_norm, x.s, x.n, (int32_t)i);
    }
    pcre2_match_data_free(c.md);
    tk_arena_free(&c.a);
    if (!ok) return false;
    t->have_norm = true;
  }
  if (t->neos == 0 && t->eos >= 0) {
    t->eos_ids = malloc(sizeof *t->eos_ids);
    if (!t->eos_ids) return false;
    t->eos_ids[0] = t->eos;
    t->neos = 1;
  }
  if (t->unk < 0) t->unk = t->model.unk_id;
  /* mlx-lm's choice of streaming detokenizer, from the decoder's shape. */
  const decoder *d = t->dec;
  t->detok = MX_DETOKENIZER_NAIVE;
  if (d && d->type == DEC_BYTELEVEL) t->detok = MX_DETOKENIZER_BPE;
  if (d && d->type == DEC_SEQ && (d->nsub == 3 || d->nsub == 4)) {
    const decoder *r = d->sub[0];
    bool spm = r->type == DEC_REPLACE && r->prefix && strcmp(r->prefix, "\xE2\x96\x81") == 0 &&
               r->content && strcmp(r->content, " ") == 0 && d->sub[1]->type == DEC_BYTE_FALLBACK &&
               d->sub[2]->type == DEC_FUSE;
    if (spm && d->nsub == 4) {
      const decoder *s = d->sub[3];
      spm = s->type == DEC_STRIP && s->strip_char == ' ' && s->start == 1 && s->stop == 0;
      t->detok_trim_space = true;
    }
    if (spm) t->detok = MX_DETOKENIZER_SPM;
  }
  return true;
}

static char *read_file(const char *path, size_t *n, bool quiet) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (!quiet) set_error(MX_ERR_IO, "tokenizer: cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  sbuf b = {0};
  char tmp[65536];
  size_t k;
  while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (!tk_sbuf_put(&b, tmp, k)) break;
  bool err = ferror(f) || b.oom;
  fclose(f);
  if (err) {
    free(b.p);
    set_error(b.oom ? MX_ERR_OOM : MX_ERR_IO, "tokenizer: cannot read %s", path);
    return NULL;
  }
  if (!b.p && !tk_sbuf_put(&b, "", 0)) return NULL;
  *n = b.n;
  return b.p;
}

static bool has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static mx_tokenizer *load_json_file(const char *path, const char *dir) {
  size_t n = 0, cn = 0, gn = 0;
  char *json = read_file(path, &n, false);
  if (!json) return NULL;
  char *cfg = NULL, *gen = NULL;
  if (dir) {
    size_t dl = strlen(dir);
    char *p = malloc(dl + 40);
    if (p) {
      snprintf(p, dl + 40, "%s/tokenizer_config.json", dir);
      cfg = read_file(p, &cn, true);
      snprintf(p, dl + 40, "%s/generation_config.json", dir);
      gen = read_file(p, &gn, true);
      free(p);
    }
  }
  mx_tokenizer *t = tok_load_json_texts(json, n, cfg, cn, gen, gn, path);
  free(json);
  free(cfg);
  free(gen);
  return t;
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* dir + "/" + file, malloc'ed. */
static char *join(const char *dir, const char *file) {
  size_t n = strlen(dir) + strlen(file) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, file);
  return p;
}

static char *dir_of(const char *path) {
  char *dir = strdup(path);
  if (!dir) return NULL;
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else strcpy(dir, ".");
  return dir;
}

static mx_tokenizer *load_tiktoken_file(const char *path, int num_languages) {
  size_t n;
  char *b = read_file(path, &n, false);
  if (!b) return NULL;
  mx_tokenizer *t = tok_load_tiktoken(b, n, path, num_languages);
  free(b);
  return t;
}

static mx_tokenizer *load_spm_file(const char *path) {
  size_t n;
  char *b = read_file(path, &n, false);
  if (!b) return NULL;
  mx_tokenizer *t = tok_load_spm_model(b, n, path);
  free(b);
  return t;
}

/* encoder.json + vocab.bpe of GPT-2, both in dir. */
static mx_tokenizer *load_gpt2_dir(const char *dir) {
  char *pe = join(dir, "encoder.json"), *pm = join(dir, "vocab.bpe");
  size_t en = 0, mn = 0;
  char *e = pe ? read_file(pe, &en, false) : NULL;
  char *m = e && pm ? read_file(pm, &mn, false) : NULL;
  mx_tokenizer *t = m ? tok_load_gpt2(e, en, m, mn, pe) : NULL;
  free(e);
  free(m);
  free(pe);
  free(pm);
  return t;
}

static mx_tokenizer *load_vocab_txt(const char *path, const char *dir) {
  size_t n, cn = 0;
  char *b = read_file(path, &n, false);
  if (!b) return NULL;
  char *pc = join(dir, "tokenizer_config.json");
  char *cfg = pc ? read_file(pc, &cn, true) : NULL;
  mx_tokenizer *t = tok_load_vocab_txt(b, n, cfg, cn, path);
  free(b);
  free(cfg);
  free(pc);
  return t;
}

/* A folder: the first of tokenizer.json, tokenizer.model, encoder.json +
 * vocab.bpe, vocab.txt, *.tiktoken, *.gguf. */
static mx_tokenizer *load_dir(const char *path) {
  static const char *const files[] = {"tokenizer.json", "tokenizer.model", "encoder.json", "vocab.txt"};
  for (int i = 0; i < 4; i++) {
    char *p = join(path, files[i]);
    if (!p) {
      set_error(MX_ERR_OOM, "mx_tokenizer_load: out of memory");
      return NULL;
    }
    bool here = is_file(p);
    mx_tokenizer *t = NULL;
    if (here) {
      if (i == 0) t = load_json_file(p, path);
      else if (i == 1) t = load_spm_file(p);
      else if (i == 2) t = load_gpt2_dir(path);
      else t = load_vocab_txt(p, path);
    }
    free(p);
    if (here) return t;
  }
  static const char *const exts[] = {".tiktoken", ".gguf"};
  for (int k = 0; k < 2; k++) {
    DIR *d = opendir(path);
    struct dirent *e;
    char *found = NULL;
    while (d && !found && (e = readdir(d)) != NULL)
      if (has_suffix(e->d_name, exts[k])) found = join(path, e->d_name);
    if (d) closedir(d);
    if (found) {
      mx_tokenizer *t = k == 0 ? load_tiktoken_file(found, 0) : tok_load_gguf(NULL, 0, found, found);
      free(found);
      return t;
    }
  }
  set_error(MX_ERR_IO, "mx_tokenizer_load: %s has no tokenizer.json, tokenizer.model, encoder.json, "
                       "vocab.txt, .tiktoken or .gguf file", path);
  return NULL;
}

mx_tokenizer *mx_tokenizer_load(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_load: path is NULL");
    return NULL;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    set_error(MX_ERR_IO, "mx_tokenizer_load: cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) return load_dir(path);
  FILE *f = fopen(path, "rb");
  char magic[4] = {0};
  if (f) {
    if (fread(magic, 1, 4, f) != 4) memset(magic, 0, 4);
    fclose(f);
  }
  if (memcmp(magic, "GGUF", 4) == 0) return tok_load_gguf(NULL, 0, path, path);
  const char *bn = base_name(path);
  if (has_suffix(bn, ".tiktoken")) return load_tiktoken_file(path, 0);
  if (has_suffix(bn, ".model")) return load_spm_file(path);
  char *dir = dir_of(path);
  if (!dir) {
    set_error(MX_ERR_OOM, "mx_tokenizer_load: out of memory");
    return NULL;
  }
  mx_tokenizer *t;
  if (!strcmp(bn, "encoder.json") || !strcmp(bn, "vocab.bpe")) t = load_gpt2_dir(dir);
  else if (has_suffix(bn, ".txt")) t = load_vocab_txt(path, dir);
  else t = load_json_file(path, dir); /* tokenizer.json: its folder may hold the configs */
  free(dir);
  return t;
}

mx_tokenizer *mx_tokenizer_load_tiktoken(const char *path, int num_languages) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_load_tiktoken: path is NULL");
    return NULL;
  }
  return load_tiktoken_file(path, num_languages);
}

mx_tokenizer *mx_tokenizer_load_json(const char *json, size_t len, const char *config,
                                     size_t clen, const char *name) {
  if (!json) {
    set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_load_json: json is NULL");
    return NULL;
  }
  return tok_load_json_texts(json, len, config, config ? clen : 0, NULL, 0, name);
}

mx_tokenizer *mx_tokenizer_load_gguf_memory(const void *bytes, size_t size, const char *name) {
  if (!bytes) {
    set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_load_gguf_memory: bytes is NULL");
    return NULL;
  }
  return tok_load_gguf(bytes, size, NULL, name ? name : "gguf");
}

/* ------------------------------------------------------------ encode */

static bool encode_seq(const mx_tokenizer *t, const char *text, size_t len, enc *out, int8_t seq) {
  enc_ctx c = {0};
  c.md = pcre2_match_data_create(1, NULL);
  splits s = {0};
  tokvec tv = {0};
  bool ok = c.md != NULL;
  if (ok) ok = tk_added_split(t, text, len, &s, &c);
  if (ok) ok = tk_pre_tokenize(t->pre, &s, &c);
  for (size_t i = 0; ok && i < s.n; i++) {
    split *x = &s.v[i];
    if (x->id >= 0) {
      uint32_t os, oe;
      tk_nstr_span(&x->t, 0, &os, &oe);
      ok = tk_enc_push(out, x->id, 0, os, oe, 0, seq);
      continue;
    }
    tv.n = 0;
    ok = tk_model_tokenize(&t->model, &x->t, &tv, &c);
    for (size_t k = 0; ok && k < tv.n; k++)
      ok = tk_enc_push(out, tv.id[k], 0, tv.off[2 * k], tv.off[2 * k + 1], 0, seq);
  }
  if (!ok && (c.a.oom || mx_last_error_code() == MX_OK))
    set_error(MX_ERR_OOM, "tokenizer: out of memory while encoding %zu bytes", len);
  tk_tokvec_free(&tv);
  tk_bpe_scratch_free(c.bpe);
  pcre2_match_data_free(c.md);
  tk_arena_free(&c.a);
  return ok;
}

static void truncate_enc(enc *e, size_t max, bool left) {
  if (e->n <= max) return;
  if (left) {
    size_t d = e->n - max;
    memmove(e->ids, e->ids + d, max * sizeof *e->ids);
    memmove(e->type_ids, e->type_ids + d, max * sizeof *e->type_ids);
    memmove(e->off, e->off + 2 * d, 2 * max * sizeof *e->off);
    memmove(e->special, e->special + d, max);
    memmove(e->attn, e->attn + d, max);
    memmove(e->seq, e->seq + d, max);
  }
  e->n = max;
}

static bool pad_enc(enc *e, size_t target, bool left, int32_t pad_id, int32_t pad_type) {
  if (e->n >= target) return true;
  size_t d = target - e->n, n0 = e->n;
  for (size_t i = 0; i < d; i++)
    if (!tk_enc_push(e, pad_id, pad_type, 0, 0, 1, -1)) return false;
  for (size_t i = n0; i < e->n; i++) e->attn[i] = 0;
  if (left) {
    /* rotate the padding to the front */
    enc tmp = {0};
    for (size_t i = 0; i < e->n; i++) {
      size_t j = i < d ? n0 + i : i - d;
      if (!tk_enc_push(&tmp, e->ids[j], e->type_ids[j], e->off[2 * j], e->off[2 * j + 1], e->special[j],
                    e->seq[j])) {
        tk_enc_free(&tmp);
        return false;
      }
      tmp.attn[i] = e->attn[j];
    }
    tk_enc_free(e);
    *e = tmp;
  }
  return true;
}

static mx_status encode_full(const mx_tokenizer *t, const char *text, size_t len, const char *tb,
                             size_t lb, bool add_special, bool trunc, bool trunc_left, size_t max,
                             enc *out) {
  enc a = {0}, b = {0};
  mx_status st = MX_OK;
  if (!encode_seq(t, text, len, &a, 0) || (tb && !encode_seq(t, tb, lb, &b, 1))) {
    st = mx_last_error_code();
    goto done;
  }
  if (trunc) {
    size_t extra = add_special ? tk_post_added(t->post, tb != NULL) : 0;
    size_t room = max > extra ? max - extra : 0;
    /* longest_first: trim the longer sequence one token at a time */
    while (a.n + b.n > room) {
      if (a.n >= b.n) truncate_enc(&a, a.n - 1, trunc_left);
      else truncate_enc(&b, b.n - 1, trunc_left);
    }
  }
  if (!tk_post_process(t->post, &a, tb ? &b : NULL, add_special, out)) {
    st = set_error(MX_ERR_OOM, "tokenizer: out of memory");
    goto done;
  }
done:
  tk_enc_free(&a);
  tk_enc_free(&b);
  return st;
}

/* Empty results still get (empty) arrays, so callers can always free. */
static bool enc_nonempty_alloc(enc *e) {
  if (e->ids) return true;
  if (!tk_enc_push(e, 0, 0, 0, 0, 0, 0)) {
    tk_enc_free(e);
    return false;
  }
  e->n = 0;
  return true;
}

static void to_public(enc *e, mx_encoding *o) {
  o->n = e->n;
  o->ids = e->ids;
  o->type_ids = e->type_ids;
  o->offsets = e->off;
  o->special_mask = e->special;
  o->attention_mask = e->attn;
  o->sequence_ids = e->seq;
}

void mx_encoding_free(mx_encoding *e) {
  if (!e) return;
  free(e->ids);
  free(e->type_ids);
  free(e->offsets);
  free(e->special_mask);
  free(e->attention_mask);
  free(e->sequence_ids);
  memset(e, 0, sizeof *e);
}

mx_status mx_tokenizer_encode_full(const mx_tokenizer *t, const char *text, size_t len,
                                   const char *tb, size_t lb, bool add_special, mx_encoding *out) {
  if (!t || !out || (!text && len)) {
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode_full: NULL argument");
  }
  memset(out, 0, sizeof *out);
  enc e = {0};
  mx_status st = encode_full(t, text, len, tb, lb, add_special, t->trunc_on, t->trunc_left,
                             t->trunc_max, &e);
  if (st == MX_OK && t->pad_on && t->pad_fixed) {
    size_t target = t->pad_len;
    if (t->pad_multiple && target % t->pad_multiple)
      target += t->pad_multiple - target % t->pad_multiple;
    if (!pad_enc(&e, target, t->pad_left, t->pad_id_cfg >= 0 ? t->pad_id_cfg : 0, t->pad_type_id))
      st = set_error(MX_ERR_OOM, "tokenizer: out of memory");
  }
  if (st != MX_OK) {
    tk_enc_free(&e);
    return st;
  }
  if (!enc_nonempty_alloc(&e)) return set_error(MX_ERR_OOM, "tokenizer: out of memory");
  to_public(&e, out);
  return MX_OK;
}

mx_status mx_tokenizer_encode(const mx_tokenizer *t, const char *text, size_t len, bool add_special,
                              int32_t **ids, size_t *n) {
  if (!t || !ids || !n || (!text && len))
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode: NULL argument");
  *ids = NULL;
  *n = 0;
  mx_encoding e;
  mx_status st = mx_tokenizer_encode_full(t, text, len, NULL, 0, add_special, &e);
  if (st != MX_OK) return st;
  *ids = e.ids;
  *n = e.n;
  e.ids = NULL;
  mx_encoding_free(&e);
  return MX_OK;
}

mx_tokenizer_batch_params mx_tokenizer_default_batch_params(const mx_tokenizer *t) {
  mx_tokenizer_batch_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.add_special = true;
  p.pad_id = 0;
  if (t) {
    if (t->pad_on) {
      p.padding = t->pad_fixed ? MX_PADDING_FIXED : MX_PADDING_LONGEST;
      p.pad_left = t->pad_left;
      p.pad_to_multiple_of = t->pad_multiple;
      if (t->pad_fixed) p.max_length = t->pad_len;
      p.pad_type_id = t->pad_type_id;
    }
    p.pad_id = t->pad_id_cfg >= 0 ? t->pad_id_cfg : (t->pad >= 0 ? t->pad : 0);
    if (t->trunc_on) {
      p.truncation = true;
      p.truncate_left = t->trunc_left;
      p.max_length = t->trunc_max;
    }
  }
  return p;
}

mx_status mx_tokenizer_encode_batch(const mx_tokenizer *t, const char *const *texts,
                                    const size_t *lens, size_t count,
                                    const mx_tokenizer_batch_params *p, mx_encoding *out) {
  if (!t || (!texts && count) || (!lens && count) || !p || (!out && count))
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode_batch: NULL argument");
  if (p->size < sizeof *p)
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode_batch: params.size is %zu, expected %zu "
                                         "(use mx_tokenizer_default_batch_params)",
                     p->size, sizeof *p);
  if ((p->truncation || p->padding == MX_PADDING_FIXED) && p->max_length == 0)
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode_batch: max_length is 0");
  enc *e = calloc(count ? count : 1, sizeof *e);
  if (!e) return set_error(MX_ERR_OOM, "mx_tokenizer_encode_batch: out of memory");
  mx_status st = MX_OK;
  size_t longest = 0;
  for (size_t i = 0; i < count && st == MX_OK; i++) {
    if (!texts[i] && lens[i]) {
      st = set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_encode_batch: text %zu is NULL", i);
      break;
    }
    st = encode_full(t, texts[i], lens[i], NULL, 0, p->add_special, p->truncation,
                     p->truncate_left, p->max_length, &e[i]);
    if (e[i].n > longest) longest = e[i].n;
  }
  if (st == MX_OK && p->padding != MX_PADDING_NONE) {
    size_t target = p->padding == MX_PADDING_FIXED ? p->max_length : longest;
    if (p->pad_to_multiple_of && target % p->pad_to_multiple_of)
      target += p->pad_to_multiple_of - target % p->pad_to_multiple_of;
    for (size_t i = 0; i < count && st == MX_OK; i++)
      if (!pad_enc(&e[i], target, p->pad_left, p->pad_id, p->pad_type_id))
        st = set_error(MX_ERR_OOM, "mx_tokenizer_encode_batch: out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    if (st == MX_OK && !enc_nonempty_alloc(&e[i]))
      st = set_error(MX_ERR_OOM, "mx_tokenizer_encode_batch: out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    if (st == MX_OK) to_public(&e[i], &out[i]);
    else tk_enc_free(&e[i]);
  }
  free(e);
  return st;
}

/* ------------------------------------------------------------ decode, lookups */

const char *mx_tokenizer_id_to_token(const mx_tokenizer *t, int32_t id, size_t *len) {
  if (!t) return NULL;
  uint64_t k;
  if (id >= 0 && tk_u64map_get(&t->added_by_id, (uint64_t)(uint32_t)id, &k)) {
    if (len) *len = t->added[k].len;
    return t->added[k].content;
  }
  return tk_model_token(&t->model, id, len);
}

int32_t mx_tokenizer_token_to_id(const mx_tokenizer *t, const char *s, size_t len) {
  if (!t || (!s && len)) return -1;
  return tok_lookup(t, s ? s : "", len);
}

bool mx_tokenizer_is_special(const mx_tokenizer *t, int32_t id) {
  uint64_t k;
  return t && id >= 0 && tk_u64map_get(&t->added_by_id, (uint64_t)(uint32_t)id, &k) &&
         t->added[k].special;
}

mx_status mx_tokenizer_decode(const mx_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                              char **text, size_t *len) {
  if (!t || !text || (!ids && n))
    return set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_decode: NULL argument");
  *text = NULL;
  if (len) *len = 0;
  strvec v = {0};
  mx_status st = MX_OK;
  for (size_t i = 0; i < n; i++) {
    size_t l;
    const char *s = mx_tokenizer_id_to_token(t, ids[i], &l);
    if (!s) {
      st = set_error(MX_ERR_INVALID_ARG, "mx_tokenizer_decode: id %d (position %zu) is not in the "
                                         "vocabulary (size %zu)",
                     (int)ids[i], i, mx_tokenizer_vocab_size(t));
      goto done;
    }
    if (skip_special && mx_tokenizer_is_special(t, ids[i])) continue;
    if (!tk_strvec_push(&v, s, l)) {
      st = set_error(MX_ERR_OOM, "mx_tokenizer_decode: out of memory");
      goto done;
    }
  }
  if (!tk_decode_chain(t->dec, &v)) {
    st = set_error(MX_ERR_OOM, "mx_tokenizer_decode: out of memory");
    goto done;
  }
  sbuf b = {0};
  tk_sbuf_put(&b, "", 0);
  for (size_t i = 0; i < v.n; i++) {
    if (!t->dec && i > 0) tk_sbuf_putc(&b, ' ');
    tk_sbuf_put(&b, v.s[i], v.len[i]);
  }
  if (b.oom) {
    free(b.p);
    st = set_error(MX_ERR_OOM, "mx_tokenizer_decode: out of memory");
    goto done;
  }
  *text = b.p;
  if (len) *len = b.n;
done:
  tk_strvec_free(&v);
  return st;
}

size_t mx_tokenizer_vocab_size(const mx_tokenizer *t) {
  if (!t) return 0;
  size_t n = 0;
  for (size_t i = t->model.nid; i > 0; i--)
    if (t->model.id_len[i - 1] != UINT32_MAX) {
      n = i;
      break;
    }
  for (size_t i = 0; i < t->nadded; i++)
    if ((size_t)t->added[i].id + 1 > n) n = (size_t)t->added[i].id + 1;
  return n;
}

int32_t mx_tokenizer_bos_id(const mx_tokenizer *t) { return t ? t->bos : -1; }
int32_t mx_tokenizer_eos_id(const mx_tokenizer *t) { return t ? t->eos : -1; }
int32_t mx_tokenizer_pad_id(const mx_tokenizer *t) { return t ? t->pad : -1; }
int32_t mx_tokenizer_unk_id(const mx_tokenizer *t) { return t ? t->unk : -1; }
int mx_tokenizer_add_bos(const mx_tokenizer *t) { return t ? t->add_bos : -1; }
int mx_tokenizer_add_eos(const mx_tokenizer *t) { return t ? t->add_eos : -1; }
size_t mx_tokenizer_eos_ids(const mx_tokenizer *t, const int32_t **ids) {
  if (!t) return 0;
  if (ids) *ids = t->eos_ids;
  return t->neos;
}
