/* test_tokenizer.c — tokenizers against real vocabularies:
 *   - llama.cpp's test vectors (46 strings each; expected ids made by HF):
 *     llama-spm, phi-3, gpt-2, bert-bge through their GGUF vocabularies,
 *     qwen2 and deepseek-r1-qwen through hf/qwen3, llama-bpe through
 *     hf/llama3_1;
 *   - an adversarial corpus (tests/data/tokenizer_corpus.txt) against ids
 *     that HF `tokenizers` produced (tests/data/tokenizer_expected_*.txt);
 *   - decode round trips, streaming detokenizers, batches, bad input.
 * Data: $MLXC_TESTDATA (../shared/testdata); a missing file fails, naming it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static mx_tokenizer *load(const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", testdata(), rel);
  mx_tokenizer *t = mx_tokenizer_load(p);
  if (!t) {
    char msg[1200];
    snprintf(msg, sizeof msg, "cannot load %s: %s", p, mx_last_error());
    CHECK_MSG(t != NULL, msg);
  }
  return t;
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

/* Runs the llama.cpp vectors of `vocab` (ggml-vocab-NAME.gguf.inp/.out). */
static void vectors(mx_tokenizer *t, const char *vocab) {
  char pi[1024], po[1024];
  snprintf(pi, sizeof pi, "%s/tokenizers/llamacpp/ggml-vocab-%s.gguf.inp", testdata(), vocab);
  snprintf(po, sizeof po, "%s/tokenizers/llamacpp/ggml-vocab-%s.gguf.out", testdata(), vocab);
  size_t ni, no;
  char *inp = slurp(pi, &ni), *out = slurp(po, &no);
  if (!inp || !out) {
    CHECK_MSG(0, inp ? po : pi);
    free(inp);
    free(out);
    return;
  }
  if (!t) {
    free(inp);
    free(out);
    return;
  }
  static const char sep[] = "\n__ggml_vocab_test__\n";
  int pass = 0, total = 0;
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
    if (ok) {
      pass++;
    } else {
      fprintf(stderr, "  %s case %d: text \"%.*s\"\n    expected %s\n    got     ", vocab, total,
              (int)(e - p), p, ol);
      for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
      fprintf(stderr, "\n");
    }
    free(ids);
    p = e + sizeof sep - 1;
  }
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %d/%d vectors", vocab, pass, total);
  printf("%s\n", msg);
  CHECK_MSG(pass == total && total == 46, msg);
  free(inp);
  free(out);
}

/* tests/data next to this source file (cmake compiles it by absolute path). */
static void data_path(char *out, size_t cap, const char *file) {
  const char *src = __FILE__;
  const char *slash = strrchr(src, '/');
  int dl = slash ? (int)(slash - src) : 1;
  snprintf(out, cap, "%.*s/data/%s", dl, slash ? src : ".", file);
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static int parse_ids(const char *s, const char *e, int32_t *ids, int cap) {
  int n = 0;
  while (s < e && n < cap) {
    char *q;
    long v = strtol(s, &q, 10);
    if (q == s) break;
    ids[n++] = (int32_t)v;
    s = q;
  }
  return n;
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, int nb) {
  if ((int)na != nb) return false;
  for (int i = 0; i < nb; i++)
    if (a[i] != b[i]) return false;
  return true;
}

/* Compares with HF tokenizers' ids and decodes on the adversarial corpus. */
static void hf_corpus(const char *name) {
  char pc[1024], pe[1024];
  data_path(pc, sizeof pc, "tokenizer_corpus.txt");
  char fe[128];
  snprintf(fe, sizeof fe, "tokenizer_expected_%s.txt", name);
  data_path(pe, sizeof pe, fe);
  size_t nc, ne;
  char *corpus = slurp(pc, &nc), *exp = slurp(pe, &ne);
  if (!corpus || !exp) {
    CHECK_MSG(0, corpus ? pe : pc);
    free(corpus);
    free(exp);
    return;
  }
  char rel[256];
  snprintf(rel, sizeof rel, "tokenizers/hf/%s", name);
  mx_tokenizer *t = load(rel);
  static const char sep[] = "\n__mlxc_tok_case__\n";
  char *p = corpus, *line = strchr(exp, '\n') + 1; /* skip the version line */
  int total = 0, enc_ok = 0, dec_ok = 0;
  int32_t *want = malloc(65536 * sizeof *want);
  while (t && want) {
    char *e = strstr(p, sep);
    char *le = line ? strchr(line, '\n') : NULL;
    if (!e || !le) break;
    *le = 0;
    char *f[4] = {line, NULL, NULL, NULL};
    for (int k = 1; k < 4; k++) {
      f[k] = strchr(f[k - 1], '|');
      if (!f[k]) break;
      *f[k]++ = 0;
    }
    total++;
    bool ok = f[3] != NULL;
    for (int sp = 0; ok && sp < 2; sp++) {
      int nw = parse_ids(f[sp], f[sp] + strlen(f[sp]), want, 65536);
      int32_t *ids = NULL;
      size_t n = 0;
      mx_status st = mx_tokenizer_encode(t, p, (size_t)(e - p), sp == 1, &ids, &n);
      if (st != MX_OK || !same_ids(ids, n, want, nw)) {
        ok = false;
        fprintf(stderr, "  %s case %d (special=%d): \"%.*s\"\n    want %s\n    got ", name, total, sp,
                (int)(e - p > 80 ? 80 : e - p), p, f[sp]);
        for (size_t i = 0; i < n && i < 60; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
      }
      free(ids);
    }
    enc_ok += ok;
    /* decode the expected ids: as HF, with and without specials */
    bool dok = f[3] != NULL;
    for (int sp = 0; dok && sp < 2; sp++) {
      int nw = parse_ids(f[sp], f[sp] + strlen(f[sp]), want, 65536);
      char *txt = NULL;
      size_t tl = 0;
      const char *hx = f[2 + sp];
      size_t hl = strlen(hx);
      bool same = mx_tokenizer_decode(t, want, (size_t)nw, sp == 1, &txt, &tl) == MX_OK && tl * 2 == hl;
      for (size_t i = 0; same && i < tl; i++)
        same = (unsigned char)txt[i] == (unsigned)(hexval(hx[2 * i]) * 16 + hexval(hx[2 * i + 1]));
      if (!same) {
        dok = false;
        fprintf(stderr, "  %s case %d decode(skip_special=%d) differs: got \"%s\"\n", name, total, sp,
                txt ? txt : "(error)");
      }
      free(txt);
    }
    dec_ok += dok;
    p = e + sizeof sep - 1;
    line = le + 1;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "hf %s: encode %d/%d, decode %d/%d", name, enc_ok, total, dec_ok, total);
  printf("%s\n", msg);
  CHECK_MSG(t && total == 100 && enc_ok == total && dec_ok == total, msg);
  free(want);
  mx_tokenizer_free(t);
  free(corpus);
  free(exp);
}

static bool err_is(mx_status code, const char *sub) {
  bool ok = mx_last_error_code() == code && strstr(mx_last_error(), sub) != NULL;
  if (!ok) fprintf(stderr, "  expected %s with \"%s\", got %s: %s\n", mx_status_name(code), sub,
                   mx_status_name(mx_last_error_code()), mx_last_error());
  mx_clear_error();
  return ok;
}

static bool enc_is(const mx_tokenizer *t, const char *text, bool special, const int32_t *want, size_t nw) {
  int32_t *ids = NULL;
  size_t n = 0;
  bool ok = mx_tokenizer_encode(t, text, strlen(text), special, &ids, &n) == MX_OK && ids != NULL &&
            same_ids(ids, n, want, (int)nw);
  if (!ok) {
    fprintf(stderr, "  encode \"%s\": got", text);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
  }
  free(ids);
  return ok;
}

static bool dec_is(const mx_tokenizer *t, const int32_t *ids, size_t n, bool skip, const char *want) {
  char *s = NULL;
  size_t l = 0;
  bool ok = mx_tokenizer_decode(t, ids, n, skip, &s, &l) == MX_OK && l == strlen(want) && !memcmp(s, want, l);
  if (!ok) fprintf(stderr, "  decode: got \"%s\", want \"%s\"\n", s ? s : "(error)", want);
  free(s);
  return ok;
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)

static mx_tokenizer *from_json(const char *js) {
  mx_tokenizer *t = mx_tokenizer_load_json(js, strlen(js), NULL, 0, "inline");
  CHECK_MSG(t != NULL, mx_last_error());
  return t;
}

/* Pipelines no real file here uses, against HF semantics worked out by hand. */
static void components(void) {
  /* WordPiece + BertNormalizer + BertPreTokenizer + BertProcessing + WordPiece decoder. */
  mx_tokenizer *t = from_json(
      "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"hello\":1,\"##lo\":2,\"hel\":3,\"world\":4,"
      "\"!\":5,\"[CLS]\":6,\"[SEP]\":7,\"cafe\":8,\"\xe4\xb8\xad\":9},\"unk_token\":\"[UNK]\","
      "\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":8},"
      "\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true,\"strip_accents\":null,"
      "\"clean_text\":true,\"handle_chinese_chars\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
      "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",7],\"cls\":[\"[CLS]\",6]},"
      "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
      "\"added_tokens\":[{\"id\":6,\"content\":\"[CLS]\",\"special\":true,\"single_word\":false,"
      "\"lstrip\":false,\"rstrip\":false,\"normalized\":false}]}");
  if (t) {
    CHECK(enc_is(t, "Hello HELLO!", false, IDS(1, 1, 5)));
    CHECK(enc_is(t, "hello", true, IDS(6, 1, 7)));
    CHECK(enc_is(t, "hello\xe4\xb8\xad" "world", false, IDS(1, 9, 4))); /* CJK isolated */
    CHECK(enc_is(t, "Caf\xc3\xa9 worlds", false, IDS(8, 0)));          /* accent stripped; unk word */
    CHECK(enc_is(t, "hellohello", false, IDS(0)));                     /* > 8 chars: unk */
    CHECK(enc_is(t, "hello[CLS]", false, IDS(1, 6)));
    CHECK(dec_is(t, IDS(6, 3, 2, 5, 4), false, "[CLS] hello! world"));
    CHECK(dec_is(t, IDS(6, 3, 2, 5, 4), true, "hello! world"));
    mx_encoding e;
    CHECK(mx_tokenizer_encode_full(t, "hello", 5, "world", 5, true, &e) == MX_OK);
    CHECK(e.n == 5 && e.ids[0] == 6 && e.ids[2] == 7 && e.ids[3] == 4 && e.ids[4] == 7);
    CHECK(e.n == 5 && e.type_ids[1] == 0 && e.type_ids[3] == 1 && e.type_ids[4] == 1);
    CHECK(e.n == 5 && e.special_mask[0] == 1 && e.special_mask[1] == 0 && e.offsets[2] == 0 &&
          e.offsets[3] == 5 && e.offsets[6] == 0 && e.offsets[7] == 5);
    mx_encoding_free(&e);
  }
  mx_tokenizer_free(t);

  /* Unigram: Viterbi, unk fusion, byte fallback; Metaspace; Strip/Lowercase/Replace(regex). */
  t = from_json(
      "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,\"vocab\":[[\"<unk>\",0],"
      "[\"\xe2\x96\x81hello\",-1],[\"\xe2\x96\x81he\",-2],[\"llo\",-2],[\"\xe2\x96\x81\",-3],[\"h\",-4],"
      "[\"e\",-4],[\"l\",-4],[\"o\",-4],[\"\xe2\x96\x81w\",-3]]},"
      "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Strip\",\"strip_left\":true,"
      "\"strip_right\":true},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"},"
      "{\"type\":\"Lowercase\"}]},"
      "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\","
      "\"split\":true},\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\","
      "\"prepend_scheme\":\"always\"}}");
  if (t) {
    /* "▁hello" scores -1 alone vs -2-2 split: one piece; "xyz" unknown chars fuse into one unk. */
    CHECK(enc_is(t, "  HELLO   hello  ", false, IDS(1, 1)));
    CHECK(enc_is(t, "hello wxyz", false, IDS(1, 9, 0)));
    CHECK(dec_is(t, IDS(1, 2, 3), false, "hello hello"));
  }
  mx_tokenizer_free(t);

  /* Split behaviors over WordLevel (pieces become ids). */
  static const char *beh[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
  static const int32_t want[5][6] = {{1, 1, 1}, {1, 2, 1, 2, 2, 1}, {3, 3, 2, 1}, {1, 5, 2, 5}, {1, 2, 1, 7, 1}};
  static const size_t nwant[5] = {3, 6, 4, 4, 5};
  for (int b = 0; b < 5; b++) {
    char js[1024];
    snprintf(js, sizeof js,
             "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"<unk>\":0,\"a\":1,\"-\":2,\"a-\":3,\"a--\":4,"
             "\"-a\":5,\"--a\":6,\"--\":7},\"unk_token\":\"<unk>\"},\"pre_tokenizer\":{\"type\":\"Split\","
             "\"pattern\":{\"String\":\"-\"},\"behavior\":\"%s\",\"invert\":false}}",
             beh[b]);
    t = from_json(js);
    if (t) {
      char msg[64];
      snprintf(msg, sizeof msg, "Split %s", beh[b]);
      CHECK_MSG(enc_is(t, "a-a--a", false, want[b], nwant[b]), msg);
    }
    mx_tokenizer_free(t);
  }

  /* BPE with continuing_subword_prefix / end_of_word_suffix, Whitespace, template with pair,
   * truncation + fixed padding from the file, BPEDecoder. */
  t = from_json(
      "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"<unk>\":0,\"l\":1,\"##o\":2,\"##w\":3,\"##o</w>\":4,"
      "\"##w</w>\":5,\"##ow</w>\":6,\"low</w>\":7,\"lo\":8,\"<s>\":9,\"</s>\":10,\"l</w>\":11},"
      "\"merges\":[\"##o ##w</w>\",[\"l\",\"##o\"],\"lo ##w</w>\",\"lo ##ow</w>\"],\"unk_token\":\"<unk>\","
      "\"continuing_subword_prefix\":\"##\",\"end_of_word_suffix\":\"</w>\",\"fuse_unk\":true},"
      "\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
      "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
      "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
      "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[9],\"tokens\":[\"<s>\"]},"
      "\"</s>\":{\"id\":\"</s>\",\"ids\":[10],\"tokens\":[\"</s>\"]}}},"
      "\"decoder\":{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"},"
      "\"truncation\":{\"max_length\":4,\"strategy\":\"LongestFirst\",\"direction\":\"Right\",\"stride\":0},"
      "\"padding\":{\"strategy\":{\"Fixed\":5},\"direction\":\"Left\",\"pad_id\":0,\"pad_type_id\":0,"
      "\"pad_token\":\"<unk>\",\"pad_to_multiple_of\":null}}");
  if (t) {
    /* The file pads every encoding to 5 on the left with id 0.
     * "low": l ##o ##w</w> -> (##o ##w</w>) merges first -> l ##ow</w>; (l, ##ow</w>) has no
     * merge. "xyz": three unknown characters fuse into one unk. */
    CHECK(enc_is(t, "low", false, IDS(0, 0, 0, 1, 6)));
    CHECK(enc_is(t, "l", false, IDS(0, 0, 0, 0, 11)));
    CHECK(enc_is(t, "l xyz l l l", false, IDS(0, 11, 0, 11, 11))); /* truncated to 4 */
    /* with specials: room 4 - 2 = 2 tokens, then left padding to 5 */
    CHECK(enc_is(t, "low low", true, IDS(0, 9, 1, 6, 10)));
    CHECK(dec_is(t, IDS(7, 7), false, "low low"));
  }
  mx_tokenizer_free(t);
}

/* Streaming: the text never ends inside a UTF-8 character, segments add up to
 * the text, and after finalize it equals decode (the SPM kind also trims the
 * first space, as its decoder does; the BPE kind trims it as mlx-lm does). */
static void streaming(const char *rel, mx_detokenizer_kind kind, const char *text) {
  mx_tokenizer *t = load(rel);
  if (!t) return;
  int32_t *ids = NULL;
  size_t n = 0;
  CHECK(mx_tokenizer_encode(t, text, strlen(text), false, &ids, &n) == MX_OK);
  mx_detokenizer *d = mx_detokenizer_new(t);
  CHECK(d && mx_detokenizer_get_kind(d) == kind);
  char acc[4096] = {0};
  size_t al = 0;
  bool utf8_ok = true;
  for (size_t i = 0; d && i < n; i++) {
    CHECK(mx_detokenizer_add(d, ids[i]) == MX_OK);
    size_t sl;
    const char *seg = mx_detokenizer_last_segment(d, &sl);
    if (seg && al + sl < sizeof acc) memcpy(acc + al, seg, sl), al += sl;
    size_t tl;
    const char *all = mx_detokenizer_text(d, &tl);
    /* complete characters only: the last lead byte has all its continuation bytes */
    size_t k = tl;
    while (k > 0 && ((unsigned char)all[k - 1] & 0xC0) == 0x80) k--;
    if (k > 0) {
      unsigned char c = (unsigned char)all[k - 1];
      size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if (tl - (k - 1) != need) utf8_ok = false;
    }
  }
  if (d) CHECK(mx_detokenizer_finalize(d) == MX_OK);
  size_t sl, tl;
  const char *seg = d ? mx_detokenizer_last_segment(d, &sl) : NULL;
  if (seg && al + sl < sizeof acc) memcpy(acc + al, seg, sl), al += sl;
  const char *all = d ? mx_detokenizer_text(d, &tl) : NULL;
  char *dec = NULL;
  size_t dl = 0;
  CHECK(mx_tokenizer_decode(t, ids, n, false, &dec, &dl) == MX_OK);
  const char *want = dec;
  if (kind == MX_DETOKENIZER_BPE && dl && dec[0] == ' ') want++, dl--;
  char msg[256];
  snprintf(msg, sizeof msg, "stream %s: \"%.*s\" vs decode \"%.*s\"", rel, all ? (int)tl : 0,
           all ? all : "", (int)dl, want);
  CHECK_MSG(all && tl == dl && !memcmp(all, want, dl), msg);
  CHECK_MSG(al == tl && all && !memcmp(acc, all, al), "segments add up to the text");
  CHECK_MSG(utf8_ok, "streamed text ends on character boundaries");
  free(dec);
  free(ids);
  mx_detokenizer_free(d);
  mx_tokenizer_free(t);
}

static void api_and_errors(void) {
  mx_tokenizer *q = load("tokenizers/hf/qwen3");
  if (q) {
    CHECK(mx_tokenizer_eos_id(q) == 151645 && mx_tokenizer_pad_id(q) == 151643 && mx_tokenizer_bos_id(q) == -1);
    CHECK(mx_tokenizer_add_bos(q) == 0 && mx_tokenizer_vocab_size(q) == 151669);
    CHECK(mx_tokenizer_token_to_id(q, "<|im_start|>", 12) == 151644 && mx_tokenizer_is_special(q, 151644));
    size_t l;
    const char *s = mx_tokenizer_id_to_token(q, 9707, &l);
    CHECK(s && l == 5 && !memcmp(s, "Hello", 5));
    CHECK(mx_tokenizer_id_to_token(q, 10000000, &l) == NULL && mx_tokenizer_id_to_token(q, -1, &l) == NULL);
    mx_encoding e;
    CHECK(mx_tokenizer_encode_full(q, "Hello world", 11, NULL, 0, false, &e) == MX_OK);
    CHECK(e.n == 2 && e.offsets[0] == 0 && e.offsets[1] == 5 && e.offsets[2] == 5 && e.offsets[3] == 11);
    mx_encoding_free(&e);
    /* offsets point into the original bytes through NFC and added tokens */
    CHECK(mx_tokenizer_encode_full(q, "<|im_start|>e\xcc\x81", 15, NULL, 0, false, &e) == MX_OK);
    CHECK(e.n >= 2 && e.offsets[0] == 0 && e.offsets[1] == 12 && e.offsets[2] == 12 &&
          e.offsets[2 * e.n - 1] == 15);
    mx_encoding_free(&e);
    /* batch: left padding to the longest, truncation */
    const char *texts[3] = {"Hello", "Hello world again", ""};
    size_t lens[3] = {5, 17, 0};
    mx_encoding b[3];
    mx_tokenizer_batch_params p = mx_tokenizer_default_batch_params(q);
    p.padding = MX_PADDING_LONGEST;
    p.pad_left = true;
    CHECK(mx_tokenizer_encode_batch(q, texts, lens, 3, &p, b) == MX_OK);
    CHECK(b[0].n == 3 && b[1].n == 3 && b[2].n == 3 && b[0].ids[0] == 151643 && b[0].attention_mask[0] == 0 &&
          b[0].ids[2] == 9707 && b[0].attention_mask[2] == 1 && b[2].attention_mask[2] == 0);
    for (int i = 0; i < 3; i++) mx_encoding_free(&b[i]);
    p.padding = MX_PADDING_FIXED;
    p.pad_left = false;
    p.truncation = true;
    p.max_length = 2;
    CHECK(mx_tokenizer_encode_batch(q, texts, lens, 3, &p, b) == MX_OK);
    CHECK(b[1].n == 2 && b[1].ids[0] == 9707 && b[0].n == 2 && b[0].ids[1] == 151643);
    for (int i = 0; i < 3; i++) mx_encoding_free(&b[i]);
    p.size = 3;
    CHECK(mx_tokenizer_encode_batch(q, texts, lens, 3, &p, b) == MX_ERR_INVALID_ARG && err_is(MX_ERR_INVALID_ARG, "params.size"));
    char *txt = NULL;
    int32_t bad[2] = {9707, 999999};
    CHECK(mx_tokenizer_decode(q, bad, 2, false, &txt, NULL) == MX_ERR_INVALID_ARG && txt == NULL &&
          err_is(MX_ERR_INVALID_ARG, "999999"));
    int32_t *ids = NULL;
    size_t n = 5;
    CHECK(mx_tokenizer_encode(q, "", 0, true, &ids, &n) == MX_OK && n == 0 && ids != NULL);
    free(ids);
    CHECK(mx_tokenizer_encode(q, NULL, 3, true, &ids, &n) == MX_ERR_INVALID_ARG && err_is(MX_ERR_INVALID_ARG, "NULL"));
  }
  mx_tokenizer_free(q);
  mx_tokenizer *g = load("tokenizers/hf/gemma3");
  if (g) {
    CHECK(mx_tokenizer_bos_id(g) == 2 && mx_tokenizer_eos_id(g) == 106 && mx_tokenizer_add_bos(g) == 1);
    CHECK(enc_is(g, "Hi", true, IDS(2, 10979)));
  }
  mx_tokenizer_free(g);
  mx_tokenizer *b = load("tokenizers/llamacpp/ggml-vocab-bert-bge.gguf");
  if (b) {
    CHECK(enc_is(b, "hello world", true, IDS(101, 7592, 2088, 102)));
    CHECK(dec_is(b, IDS(101, 7592, 2088, 102), true, "hello world"));
  }
  mx_tokenizer_free(b);

  mx_clear_error();
  CHECK(mx_tokenizer_load("/nonexistent/tok.json") == NULL && err_is(MX_ERR_IO, "/nonexistent/tok.json"));
  CHECK(mx_tokenizer_load(NULL) == NULL && err_is(MX_ERR_INVALID_ARG, "NULL"));
  CHECK(mx_tokenizer_load_json("{\"model\":", 9, NULL, 0, "x.json") == NULL && err_is(MX_ERR_FORMAT, "x.json"));
  const char *u = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0}},\"pre_tokenizer\":{\"type\":\"NoSuchPreTokenizer\"}}";
  CHECK(mx_tokenizer_load_json(u, strlen(u), NULL, 0, "u") == NULL && err_is(MX_ERR_UNSUPPORTED, "NoSuchPreTokenizer"));
  /* Replace decoder with a Regex (HF: every match of the regex replaced by
   * content in each token, then the tokens are concatenated). */
  const char *rd = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a__b\":0,\"c_\":1},\"unk_token\":\"c_\"},"
                   "\"decoder\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"_+\"},\"content\":\" \"}}";
  mx_tokenizer *r = mx_tokenizer_load_json(rd, strlen(rd), NULL, 0, "rd");
  CHECK_MSG(r != NULL, mx_last_error());
  if (r) CHECK(dec_is(r, IDS(0, 1, 0), false, "a bc a b"));
  mx_tokenizer_free(r);
  const char *bv = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-4},\"merges\":[]}}";
  CHECK(mx_tokenizer_load_json(bv, strlen(bv), NULL, 0, "bv") == NULL && err_is(MX_ERR_FORMAT, "model.vocab"));
  const char *br = "{\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"a\":0}},\"pre_tokenizer\":{\"type\":\"Split\","
                   "\"pattern\":{\"Regex\":\"(unclosed\"},\"behavior\":\"Isolated\"}}";
  CHECK(mx_tokenizer_load_json(br, strlen(br), NULL, 0, "br") == NULL && err_is(MX_ERR_FORMAT, "bad regex"));
  CHECK(mx_tokenizer_load_gguf_memory("GGUF\x03", 5, "tiny.gguf") == NULL && err_is(MX_ERR_FORMAT, "tiny.gguf"));
  CHECK(mx_detokenizer_new(NULL) == NULL && err_is(MX_ERR_INVALID_ARG, "NULL"));
}

int main(void) {
  struct {
    const char *path, *vocab[2];
  } sets[] = {
      {"tokenizers/llamacpp/ggml-vocab-llama-spm.gguf", {"llama-spm"}},
      {"tokenizers/llamacpp/ggml-vocab-phi-3.gguf", {"phi-3"}},
      {"tokenizers/llamacpp/ggml-vocab-gpt-2.gguf", {"gpt-2"}},
      {"tokenizers/llamacpp/ggml-vocab-bert-bge.gguf", {"bert-bge"}},
      {"tokenizers/hf/qwen3", {"qwen2", "deepseek-r1-qwen"}},
      {"tokenizers/hf/llama3_1", {"llama-bpe"}},
  };
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    mx_tokenizer *t = load(sets[i].path);
    for (int k = 0; k < 2 && sets[i].vocab[k]; k++) vectors(t, sets[i].vocab[k]);
    mx_tokenizer_free(t);
  }
  const char *hf[] = {"qwen3", "llama3_1", "gemma3", "llama2"};
  for (int i = 0; i < 4; i++) hf_corpus(hf[i]);
  components();
  streaming("tokenizers/hf/qwen3", MX_DETOKENIZER_BPE, " Hello, 世界! 😶\u200d🌫️ caf\u00e9\n  done");
  streaming("tokenizers/hf/llama2", MX_DETOKENIZER_SPM, "Hello, 世界! 😶 caf\u00e9\n  done \xf0\x9f\xa6\x99");
  streaming("tokenizers/llamacpp/ggml-vocab-bert-bge.gguf", MX_DETOKENIZER_NAIVE, "hello, world\nsecond line");
  api_and_errors();
  return check_summary();
}
