/* test_tokenizer_formats.c — the vocabulary formats besides tokenizer.json
 * and GGUF, against llama.cpp's vectors (expected ids made by HF):
 *   - GPT-2 encoder.json + vocab.bpe (tokenizers/gpt2): the gpt-2 vectors;
 *   - Whisper's tiktoken files: the gpt-2 vectors (same ranks as GPT-2),
 *     the same tokens as encoder.json, and Whisper's special-token ids as
 *     openai/whisper numbers them;
 *   - a WordPiece vocab.txt written from the bert-bge GGUF: its vectors;
 *   - a SentencePiece tokenizer.model whose protobuf bytes are written here
 *     from the llama-spm GGUF's pieces: its vectors; plus a small Unigram
 *     model and malformed protobufs.
 * Data: $MLXC_TESTDATA (../shared/testdata); a missing file fails, naming it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlxc/mlxc.h"

static const char *testdata(void) {
  const char *d = getenv("MLXC_TESTDATA");
  return d ? d : "../shared/testdata";
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)sz + 1);
  if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
    fclose(f);
    free(b);
    return NULL;
  }
  fclose(f);
  b[sz] = 0;
  *n = (size_t)sz;
  return b;
}

static mx_tokenizer *load_path(const char *p) {
  mx_tokenizer *t = mx_tokenizer_load(p);
  if (!t) {
    char msg[1200];
    snprintf(msg, sizeof msg, "cannot load %s: %s", p, mx_last_error());
    CHECK_MSG(t != NULL, msg);
  }
  return t;
}

static mx_tokenizer *load(const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", testdata(), rel);
  return load_path(p);
}

static int count_ids(const char *line) {
  int n = 0;
  for (const char *p = line; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    n++;
    while (*p && *p != ' ') p++;
  }
  return n;
}

/* llama.cpp's vectors of `vocab` through t (46 strings, no BOS), plus a
 * decode round trip where the tokenizer keeps text as is. */
static void vectors(mx_tokenizer *t, const char *vocab, const char *what, bool roundtrip) {
  char pi[1024], po[1024];
  snprintf(pi, sizeof pi, "%s/tokenizers/llamacpp/ggml-vocab-%s.gguf.inp", testdata(), vocab);
  snprintf(po, sizeof po, "%s/tokenizers/llamacpp/ggml-vocab-%s.gguf.out", testdata(), vocab);
  size_t ni, no;
  char *inp = slurp(pi, &ni), *out = slurp(po, &no);
  if (!inp || !out || !t) {
    CHECK_MSG(inp && out, inp ? po : pi);
    free(inp);
    free(out);
    return;
  }
  static const char sep[] = "\n__ggml_vocab_test__\n";
  int pass = 0, total = 0, rt = 0;
  char *p = inp, *o = out;
  for (;;) {
    char *e = strstr(p, sep);
    if (!e) break;
    char *ol = o, *oe = strchr(o, '\n');
    if (!oe) break;
    *oe = 0;
    o = oe + 1;
    int32_t *ids = NULL;
    size_t n = 0;
    mx_status st = mx_tokenizer_encode(t, p, (size_t)(e - p), false, &ids, &n);
    bool ok = st == MX_OK && (int)n == count_ids(ol);
    char *q = ol;
    for (size_t i = 0; ok && i < n; i++) {
      long v = strtol(q, &q, 10);
      if (v != ids[i]) ok = false;
    }
    total++;
    pass += ok;
    if (!ok) {
      fprintf(stderr, "  %s/%s case %d: \"%.*s\"\n    want %s\n    got ", what, vocab, total, (int)(e - p), p, ol);
      for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
      fprintf(stderr, "\n");
    }
    if (roundtrip && st == MX_OK) {
      char *s = NULL;
      size_t sl = 0;
      bool same = mx_tokenizer_decode(t, ids, n, false, &s, &sl) == MX_OK && sl == (size_t)(e - p) &&
                  !memcmp(s, p, sl);
      rt += same;
      free(s);
    }
    free(ids);
    p = e + sizeof sep - 1;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s %d/%d vectors", what, vocab, pass, total);
  printf("%s\n", msg);
  CHECK_MSG(pass == total && total == 46, msg);
  if (roundtrip) {
    snprintf(msg, sizeof msg, "%s: decode round trips %d/%d", what, rt, total);
    CHECK_MSG(rt == total, msg);
  }
  free(inp);
  free(out);
}

static bool enc_is(const mx_tokenizer *t, const char *text, bool special, const int32_t *want, size_t nw) {
  int32_t *ids = NULL;
  size_t n = 0;
  bool ok = mx_tokenizer_encode(t, text, strlen(text), special, &ids, &n) == MX_OK && n == nw &&
            (nw == 0 || !memcmp(ids, want, nw * sizeof *ids));
  if (!ok) {
    fprintf(stderr, "  encode \"%s\": got", text);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
  }
  free(ids);
  return ok;
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)

static bool err_is(mx_status code, const char *sub) {
  bool ok = mx_last_error_code() == code && strstr(mx_last_error(), sub) != NULL;
  if (!ok)
    fprintf(stderr, "  expected %s with \"%s\", got %s: %s\n", mx_status_name(code), sub,
            mx_status_name(mx_last_error_code()), mx_last_error());
  mx_clear_error();
  return ok;
}

static char tmpdir[256];

static void write_file(const char *name, const void *b, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "wb");
  CHECK_MSG(f && fwrite(b, 1, n, f) == n, p);
  if (f) fclose(f);
}

static void remove_file(const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  remove(p);
}

/* ------------------------------------------------------------ GPT-2 and tiktoken */

static int32_t tok_id(const mx_tokenizer *t, const char *s) { return mx_tokenizer_token_to_id(t, s, strlen(s)); }

static void gpt2_and_tiktoken(void) {
  mx_tokenizer *g = load("tokenizers/gpt2");
  vectors(g, "gpt-2", "encoder.json+vocab.bpe", true);
  if (g) {
    CHECK(mx_tokenizer_eos_id(g) == 50256 && mx_tokenizer_is_special(g, 50256) && mx_tokenizer_vocab_size(g) == 50257);
    CHECK(enc_is(g, "Hello<|endoftext|>", false, IDS(15496, 50256)));
  }
  char p[1024];
  snprintf(p, sizeof p, "%s/whisper/gpt2.tiktoken", testdata());
  mx_tokenizer *w = load_path(p);
  vectors(w, "gpt-2", "gpt2.tiktoken", true);
  if (w && g) {
    /* the same bytes for every rank as GPT-2's encoder.json */
    int same = 0;
    for (int32_t id = 0; id < 50256; id++) {
      size_t la, lb;
      const char *a = mx_tokenizer_id_to_token(w, id, &la), *b = mx_tokenizer_id_to_token(g, id, &lb);
      same += a && b && la == lb && !memcmp(a, b, la);
    }
    CHECK_MSG(same == 50256, "gpt2.tiktoken ranks equal encoder.json ids");
    /* openai/whisper: English-only eot 50256, sot 50257, <|en|> 50258,
     * <|translate|> = 50258 + 99, <|notimestamps|> 50362, 51864 tokens */
    CHECK(tok_id(w, "<|endoftext|>") == 50256 && tok_id(w, "<|startoftranscript|>") == 50257);
    CHECK(tok_id(w, "<|en|>") == 50258 && tok_id(w, "<|translate|>") == 50357 &&
          tok_id(w, "<|transcribe|>") == 50358 && tok_id(w, "<|notimestamps|>") == 50362);
    CHECK(tok_id(w, "<|0.00|>") == 50363 && tok_id(w, "<|30.00|>") == 51863 && mx_tokenizer_vocab_size(w) == 51864);
    CHECK(mx_tokenizer_eos_id(w) == 50256);
  }
  mx_tokenizer_free(w);
  snprintf(p, sizeof p, "%s/whisper/multilingual.tiktoken", testdata());
  w = load_path(p);
  if (w) {
    /* multilingual: eot 50257, sot 50258, <|en|> 50259, <|zh|> 50260,
     * <|transcribe|> 50359, <|notimestamps|> 50363, <|0.02|> 50365, 51865 tokens */
    CHECK(tok_id(w, "<|endoftext|>") == 50257 && tok_id(w, "<|startoftranscript|>") == 50258);
    CHECK(tok_id(w, "<|en|>") == 50259 && tok_id(w, "<|zh|>") == 50260 && tok_id(w, "<|su|>") == 50357);
    CHECK(tok_id(w, "<|translate|>") == 50358 && tok_id(w, "<|transcribe|>") == 50359 &&
          tok_id(w, "<|startoflm|>") == 50360 && tok_id(w, "<|startofprev|>") == 50361 &&
          tok_id(w, "<|nospeech|>") == 50362 && tok_id(w, "<|notimestamps|>") == 50363);
    CHECK(tok_id(w, "<|0.02|>") == 50365 && tok_id(w, "<|29.98|>") == 51863 && mx_tokenizer_vocab_size(w) == 51865);
    CHECK(tok_id(w, "<|yue|>") == -1);
    /* Whisper's usual prompt, then text */
    CHECK(enc_is(w, "<|startoftranscript|><|en|><|transcribe|><|notimestamps|> Hello world", false,
                 IDS(50258, 50259, 50359, 50363, 2425, 1002)));
    char *s = NULL;
    size_t sl;
    const int32_t ids[] = {50258, 2425, 1002, 50364};
    CHECK(mx_tokenizer_decode(w, ids, 4, true, &s, &sl) == MX_OK && sl == 12 && !memcmp(s, " Hello world", 12));
    free(s);
  }
  mx_tokenizer_free(w);
  w = mx_tokenizer_load_tiktoken(p, 100); /* large-v3 */
  CHECK(w && tok_id(w, "<|yue|>") == 50358 && tok_id(w, "<|transcribe|>") == 50360 && mx_tokenizer_vocab_size(w) == 51866);
  mx_tokenizer_free(w);
  CHECK(mx_tokenizer_load_tiktoken(p, 101) == NULL && err_is(MX_ERR_INVALID_ARG, "languages"));
  write_file("bad.tiktoken", "IQ== 0\nIg==\n", 12);
  char bp[512];
  snprintf(bp, sizeof bp, "%s/bad.tiktoken", tmpdir);
  CHECK(mx_tokenizer_load(bp) == NULL && err_is(MX_ERR_FORMAT, "line 2"));
  write_file("bad.tiktoken", "I@== 0\n", 7);
  CHECK(mx_tokenizer_load(bp) == NULL && err_is(MX_ERR_FORMAT, "line 1"));
  remove_file("bad.tiktoken");
  mx_tokenizer_free(g);
}

/* ------------------------------------------------------------ from the GGUFs */

typedef struct vocab {
  mx_gguf *g;
  int64_t kt;
  uint64_t n;
  const float *scores;
  const int32_t *types;
} vocab;

static bool open_vocab(vocab *v, const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", testdata(), rel);
  v->g = mx_gguf_open(p);
  CHECK_MSG(v->g != NULL, p);
  if (!v->g) return false;
  mx_gguf_type et;
  v->kt = mx_gguf_find_key(v->g, "tokenizer.ggml.tokens");
  CHECK(v->kt >= 0 && mx_gguf_get_array(v->g, v->kt, &et, &v->n) == MX_OK);
  int64_t ks = mx_gguf_find_key(v->g, "tokenizer.ggml.scores"), ky = mx_gguf_find_key(v->g, "tokenizer.ggml.token_type");
  v->scores = ks >= 0 ? mx_gguf_get_array_data(v->g, ks) : NULL;
  v->types = ky >= 0 ? mx_gguf_get_array_data(v->g, ky) : NULL;
  return true;
}

static void bert_vocab_txt(void) {
  vocab v;
  if (!open_vocab(&v, "tokenizers/llamacpp/ggml-vocab-bert-bge.gguf")) return;
  /* back to HF's spelling, as llama.cpp's converter wrote it: "▁x" was "x",
   * other tokens were "##x"; control tokens ([CLS]...) unchanged */
  char *txt = malloc(4 << 20);
  size_t k = 0;
  for (uint64_t i = 0; txt && i < v.n; i++) {
    const char *s;
    size_t l;
    mx_gguf_get_array_string(v.g, v.kt, i, &s, &l);
    int32_t ty;
    memcpy(&ty, (const char *)v.types + 4 * i, 4);
    if (ty != 3 && l >= 3 && !memcmp(s, "\xE2\x96\x81", 3)) s += 3, l -= 3;
    else if (ty != 3) memcpy(txt + k, "##", 2), k += 2;
    memcpy(txt + k, s, l);
    k += l;
    txt[k++] = '\n';
  }
  mx_gguf_close(v.g);
  write_file("vocab.txt", txt, k);
  mx_tokenizer *t = load_path(tmpdir);
  vectors(t, "bert-bge", "vocab.txt", false);
  if (t) {
    CHECK(enc_is(t, "Hello world", true, IDS(101, 7592, 2088, 102)));
    CHECK(mx_tokenizer_unk_id(t) == 100 && mx_tokenizer_pad_id(t) == 0);
  }
  mx_tokenizer_free(t);
  /* do_lower_case=false from tokenizer_config.json: "Hello" is no token, "hello" is */
  write_file("tokenizer_config.json", "{\"do_lower_case\": false}", 24);
  t = load_path(tmpdir);
  if (t) CHECK(enc_is(t, "Hello hello", false, IDS(100, 7592)));
  mx_tokenizer_free(t);
  remove_file("tokenizer_config.json");
  remove_file("vocab.txt");
  free(txt);
}

/* protobuf writer */
typedef struct pbw {
  unsigned char *p;
  size_t n, cap;
} pbw;

static void pb_raw(pbw *w, const void *b, size_t n) {
  if (w->n + n > w->cap) {
    w->cap = (w->n + n) * 2 + 64;
    w->p = realloc(w->p, w->cap);
  }
  memcpy(w->p + w->n, b, n);
  w->n += n;
}

static void pb_varint(pbw *w, uint64_t v) {
  unsigned char b[10];
  int k = 0;
  do {
    b[k] = (unsigned char)(v & 0x7F);
    v >>= 7;
    if (v) b[k] |= 0x80;
    k++;
  } while (v);
  pb_raw(w, b, (size_t)k);
}

static void pb_key(pbw *w, unsigned f, unsigned wt) { pb_varint(w, (uint64_t)f << 3 | wt); }
static void pb_uint(pbw *w, unsigned f, uint64_t v) { pb_key(w, f, 0), pb_varint(w, v); }
static void pb_bytes(pbw *w, unsigned f, const void *b, size_t n) {
  pb_key(w, f, 2);
  pb_varint(w, n);
  pb_raw(w, b, n);
}
static void pb_float(pbw *w, unsigned f, float x) {
  pb_key(w, f, 5);
  pb_raw(w, &x, 4);
}

static void piece(pbw *m, const char *s, size_t l, float score, int type) {
  pbw p = {0};
  pb_bytes(&p, 1, s, l);
  pb_float(&p, 2, score);
  if (type != 1) pb_uint(&p, 3, (uint64_t)type);
  pb_bytes(m, 1, p.p, p.n);
  free(p.p);
}

static void llama_spm_model(void) {
  vocab v;
  if (!open_vocab(&v, "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf")) return;
  pbw m = {0};
  /* specs first, pieces after: the reader must not care about order */
  pbw ts = {0}, ns = {0};
  pb_uint(&ts, 3, 2);  /* model_type BPE */
  pb_uint(&ts, 4, v.n);
  pb_uint(&ts, 35, 1); /* byte_fallback */
  pb_uint(&ts, 40, 0);
  pb_uint(&ts, 41, 1);
  pb_uint(&ts, 42, 2);
  pb_uint(&ts, 43, (uint64_t)-1); /* pad_id -1: ten-byte varint */
  pb_bytes(&ns, 1, "identity", 8);
  pb_uint(&ns, 3, 1); /* add_dummy_prefix */
  pb_uint(&ns, 4, 0); /* remove_extra_whitespaces: false, as Llama's */
  pb_bytes(&m, 2, ts.p, ts.n);
  pb_bytes(&m, 3, ns.p, ns.n);
  for (uint64_t i = 0; i < v.n; i++) {
    const char *s;
    size_t l;
    mx_gguf_get_array_string(v.g, v.kt, i, &s, &l);
    int32_t ty;
    float sc;
    memcpy(&ty, (const char *)v.types + 4 * i, 4);
    memcpy(&sc, (const char *)v.scores + 4 * i, 4);
    piece(&m, s, l, sc, ty);
  }
  mx_gguf_close(v.g);
  write_file("tokenizer.model", m.p, m.n);
  mx_tokenizer *t = load_path(tmpdir);
  vectors(t, "llama-spm", "tokenizer.model", false);
  if (t) {
    CHECK(mx_tokenizer_bos_id(t) == 1 && mx_tokenizer_eos_id(t) == 2 && mx_tokenizer_pad_id(t) == -1);
    CHECK(enc_is(t, "Hello world", true, IDS(1, 15043, 3186)));
    char *s = NULL;
    size_t sl;
    const int32_t ids[] = {1, 15043, 3186};
    CHECK(mx_tokenizer_decode(t, ids, 3, true, &s, &sl) == MX_OK && sl == 11 && !memcmp(s, "Hello world", 11));
    free(s);
  }
  mx_tokenizer_free(t);
  char p[512];
  snprintf(p, sizeof p, "%s/tokenizer.model", tmpdir);
  /* every truncation of the file fails cleanly or loads */
  for (size_t cut = 1; cut < 64; cut++) {
    write_file("tokenizer.model", m.p, cut);
    mx_tokenizer *x = mx_tokenizer_load(p);
    mx_tokenizer_free(x);
    mx_clear_error();
  }
  write_file("tokenizer.model", "\x0a\xff\xff\xff\xff\x0f", 6); /* length past the end */
  CHECK(mx_tokenizer_load(p) == NULL && err_is(MX_ERR_FORMAT, "malformed protobuf"));
  write_file("tokenizer.model", "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12); /* 11-byte varint */
  CHECK(mx_tokenizer_load(p) == NULL && err_is(MX_ERR_FORMAT, "malformed protobuf"));
  free(m.p);
  free(ts.p);
  free(ns.p);

  /* A small Unigram model: scores decide, remove_extra_whitespaces folds spaces. */
  pbw u = {0}, t2 = {0};
  piece(&u, "<unk>", 5, 0, 2);
  piece(&u, "<s>", 3, 0, 3);
  piece(&u, "</s>", 4, 0, 3);
  piece(&u, "\xE2\x96\x81hello", 8, -1, 1);
  piece(&u, "\xE2\x96\x81he", 5, -2, 1);
  piece(&u, "llo", 3, -2, 1);
  piece(&u, "\xE2\x96\x81", 3, -3, 1);
  piece(&u, "h", 1, -4, 1);
  piece(&u, "\xE2\x96\x81w", 4, -3, 1);
  pb_uint(&t2, 3, 1);
  pb_bytes(&u, 2, t2.p, t2.n);
  write_file("tokenizer.model", u.p, u.n);
  t = load_path(p);
  if (t) {
    CHECK(enc_is(t, "  hello   hello  ", true, IDS(3, 3)));
    CHECK(enc_is(t, "hello wxyz", false, IDS(3, 8, 0)));
    CHECK(enc_is(t, "hello</s>", false, IDS(3, 2)));
  }
  mx_tokenizer_free(t);
  pb_uint(&t2, 3, 3); /* WORD: unsupported */
  u.n = 0;
  piece(&u, "a", 1, 0, 1);
  pb_bytes(&u, 2, t2.p, t2.n);
  write_file("tokenizer.model", u.p, u.n);
  CHECK(mx_tokenizer_load(p) == NULL && err_is(MX_ERR_UNSUPPORTED, "model_type 3"));
  remove_file("tokenizer.model");
  free(u.p);
  free(t2.p);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mlxc_tokfmt_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    CHECK_MSG(0, "mkdtemp");
    return check_summary();
  }
  gpt2_and_tiktoken();
  bert_vocab_txt();
  llama_spm_model();
  rmdir(tmpdir);
  return check_summary();
}
