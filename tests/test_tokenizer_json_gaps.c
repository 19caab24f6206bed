/* test_tokenizer_json_gaps.c — three tokenizer.json behaviours of HF
 * `tokenizers` / `transformers`, on small tokenizer.json texts built here,
 * with expected results worked out by hand from HF's rules (each case says
 * which rule gives it; tests/ref/check_tokenizer_json_gaps.py prints the
 * same cases through HF for a cross-check):
 *   1. the UnicodeScripts pre-tokenizer;
 *   2. ByteLevel / RobertaProcessing trim_offsets (offsets of
 *      mx_tokenizer_encode_full);
 *   3. tokenizer_config.json's add_bos_token / add_eos_token rewriting the
 *      post-processor as transformers 4.x's update_post_processor does for
 *      Llama/CodeLlama/Gemma/Cohere tokenizers (transformers 5 keeps
 *      tokenizer.json's post-processor; see tokenizer_post.c).
 * Offsets are byte offsets into the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlxc/mlxc.h"

#define ARR(...) ((const int32_t[]){__VA_ARGS__}), sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t)
#define OFFS(...) ((const uint32_t[]){__VA_ARGS__})
#define TYPES(...) ((const int32_t[]){__VA_ARGS__})
#define NONE ((const int32_t *)NULL), 0

static mx_tokenizer *from_json(const char *js, const char *config) {
  mx_tokenizer *t = mx_tokenizer_load_json(js, strlen(js), config, config ? strlen(config) : 0, "inline");
  CHECK_MSG(t != NULL, mx_last_error());
  return t;
}

static void dump(const char *what, const mx_encoding *e) {
  fprintf(stderr, "  %s: got ids [", what);
  for (size_t i = 0; i < e->n; i++) fprintf(stderr, "%s%d", i ? " " : "", (int)e->ids[i]);
  fprintf(stderr, "] offsets [");
  for (size_t i = 0; i < e->n; i++)
    fprintf(stderr, "%s(%u,%u)", i ? " " : "", e->offsets[2 * i], e->offsets[2 * i + 1]);
  fprintf(stderr, "] type_ids [");
  for (size_t i = 0; i < e->n; i++) fprintf(stderr, "%s%d", i ? " " : "", (int)e->type_ids[i]);
  fprintf(stderr, "]\n");
}

/* Encodes text (and pair if non-NULL); compares ids, then offsets (2 per
 * token) and type ids when given. */
static bool enc_check(const mx_tokenizer *t, const char *text, const char *pair, bool add_special,
                      const int32_t *ids, size_t n, const uint32_t *offs, const int32_t *types) {
  if (!t) return false;
  mx_encoding e;
  if (mx_tokenizer_encode_full(t, text, strlen(text), pair, pair ? strlen(pair) : 0, add_special, &e) !=
      MX_OK) {
    fprintf(stderr, "  encode \"%s\": %s\n", text, mx_last_error());
    return false;
  }
  bool ok = e.n == n;
  for (size_t i = 0; ok && i < n; i++) {
    ok = e.ids[i] == ids[i];
    if (ok && offs) ok = e.offsets[2 * i] == offs[2 * i] && e.offsets[2 * i + 1] == offs[2 * i + 1];
    if (ok && types) ok = e.type_ids[i] == types[i];
  }
  if (!ok) dump(text, &e);
  mx_encoding_free(&e);
  return ok;
}

/* ------------------------------------------------------------ UnicodeScripts */

/* WordLevel tokenizes each piece whole (unknown pieces -> <unk> = 0), so the
 * offsets show exactly where UnicodeScripts cut. */
static const char scripts_json[] =
    "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"abc\":1,\"123\":2,"
    "\"def\":3,\"hello\":4,\", \":5,\"world\":6,\"\\u2581\":7,\"\\u4e16\\u754c\":8}},"
    "\"pre_tokenizer\":{\"type\":\"UnicodeScripts\"}}";

static void unicode_scripts(void) {
  mx_tokenizer *t = from_json(scripts_json, NULL);
  /* HF's own unit test: kana and kanji are one "Han" run; the ideographic
   * full stop U+3002 is Common; Latin after it. */
  CHECK(enc_check(t, "\xe3\x81\xa9\xe3\x81\x93\xe3\x81\xa7\xe7\x94\x9f\xe3\x82\x8c\xe3\x80\x82Yes", NULL, false,
                  ARR(0, 0, 0), OFFS(0, 15, 15, 18, 18, 21), NULL));
  /* HF's unit test: a space (Any) ends the piece before it and never starts
   * one: "Apples are " | "りんご 林檎". */
  CHECK(enc_check(t, "Apples are \xe3\x82\x8a\xe3\x82\x93\xe3\x81\x94 \xe6\x9e\x97\xe6\xaa\x8e", NULL, false,
                  ARR(0, 0), OFFS(0, 11, 11, 27), NULL));
  /* Digits are Common, not Latin: a split on both sides. */
  CHECK(enc_check(t, "abc123def", NULL, false, ARR(1, 2, 3), OFFS(0, 3, 3, 6, 6, 9), NULL));
  /* ',' Common then ' ' Any: ", " is one piece, "world" starts a new one. */
  CHECK(enc_check(t, "hello, world", NULL, false, ARR(4, 5, 6), OFFS(0, 5, 5, 7, 7, 12), NULL));
  /* Leading spaces are dropped (HF's first cut is the first non-Any char);
   * a text of spaces only gives nothing. */
  CHECK(enc_check(t, "  abc", NULL, false, ARR(1), OFFS(2, 5), NULL));
  CHECK(enc_check(t, "   ", NULL, false, NONE, NULL, NULL));
  CHECK(enc_check(t, "", NULL, false, NONE, NULL, NULL));
  /* A combining mark is Inherited: its own piece after the Latin 'e'. */
  CHECK(enc_check(t, "e\xcc\x81", NULL, false, ARR(0, 0), OFFS(0, 1, 1, 3), NULL));
  /* U+30FC (prolonged sound mark, Common in Unicode) is forced to Han, and
   * kana join kanji: one piece. */
  CHECK(enc_check(t, "\xe3\x83\xbc\xe3\x82\xab\xe3\x82\xbf\xe6\xbc\xa2\xe5\xad\x97\xe3\x81\xb2\xe3\x82\x89", NULL,
                  false, ARR(0), OFFS(0, 21), NULL));
  /* Digits inside CJK: Han | Common | Han. */
  CHECK(enc_check(t, "\xe6\xbc\xa2\xe5\xad\x97" "2024\xe5\xb9\xb4", NULL, false, ARR(0, 0, 0),
                  OFFS(0, 6, 6, 10, 10, 13), NULL));
  /* Cyrillic keeps its inner space; Latin follows. */
  CHECK(enc_check(t, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80 hello", NULL, false,
                  ARR(0, 4), OFFS(0, 20, 20, 25), NULL));
  /* Arabic letters, then ASCII digits (Common). */
  CHECK(enc_check(t, "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 123", NULL, false, ARR(0, 2),
                  OFFS(0, 11, 11, 14), NULL));
  /* U+1F600 (Unicode 6.1) is Common: a | 😀 | b. U+1F970 (Unicode 11) is not
   * in HF's table, so Any: no cut at all. */
  CHECK(enc_check(t, "a\xf0\x9f\x98\x80" "b", NULL, false, ARR(0, 0, 0), OFFS(0, 1, 1, 5, 5, 6), NULL));
  CHECK(enc_check(t, "a\xf0\x9f\xa5\xb0" "b", NULL, false, ARR(0), OFFS(0, 6), NULL));
  /* ZWJ (U+200D) is Inherited: it cuts an emoji sequence (👨‍👩). */
  CHECK(enc_check(t, "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", NULL, false, ARR(0, 0, 0),
                  OFFS(0, 4, 4, 7, 7, 11), NULL));
  /* A tab is Common (not Any, only U+0020 is): a | \t | b. */
  CHECK(enc_check(t, "a\tb", NULL, false, ARR(0, 0, 0), OFFS(0, 1, 1, 2, 2, 3), NULL));
  /* The ideographic space U+3000 is Common: Han | Common | Han. */
  CHECK(enc_check(t, "\xe6\x97\xa5\xe6\x9c\xac\xe3\x80\x80\xe8\xaa\x9e", NULL, false, ARR(0, 0, 0),
                  OFFS(0, 6, 6, 9, 9, 12), NULL));
  /* Hangul and Thai are scripts of their own. */
  CHECK(enc_check(t, "\xea\xb0\x80\xe0\xb8\x81", NULL, false, ARR(0, 0), OFFS(0, 3, 3, 6), NULL));
  mx_tokenizer_free(t);

  /* After Metaspace (prepend_scheme always, no split): the '▁' U+2581 is
   * Common, so "hello 世界" -> ▁ | hello | ▁ | 世界. */
  const char *ms =
      "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"hello\":4,"
      "\"\\u2581\":7,\"\\u4e16\\u754c\":8}},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
      "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":false},"
      "{\"type\":\"UnicodeScripts\"}]}}";
  t = from_json(ms, NULL);
  CHECK(enc_check(t, "hello \xe4\xb8\x96\xe7\x95\x8c", NULL, false, ARR(7, 4, 7, 8), NULL, NULL));
  mx_tokenizer_free(t);
}

/* ------------------------------------------------------------ trim_offsets */

/* Byte-level pieces looked up whole by WordLevel: "Ġ" is U+0120, "Ċ" U+010A. */
#define BL_VOCAB                                                                                 \
  "\"vocab\":{\"<unk>\":0,\"hello\":1,\"\\u0120\":2,\"\\u0120world\":3,\"\\u0120hello\":4,\"\\u0120hi\":5," \
  "\"a\":6,\"\\u010a\":7,\"<s>\":8,\"</s>\":9,\"world\":10}"

static char *bl_json(bool pre_prefix, const char *post) {
  static const char fmt[] =
      "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\"," BL_VOCAB "},"
      "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"trim_offsets\":true,"
      "\"use_regex\":true},\"post_processor\":%s,\"decoder\":{\"type\":\"ByteLevel\"},"
      "\"added_tokens\":[{\"id\":8,\"content\":\"<s>\",\"special\":true},{\"id\":9,\"content\":\"</s>\","
      "\"special\":true}]}";
  size_t n = sizeof fmt + strlen(post) + 16;
  char *s = malloc(n);
  if (s) snprintf(s, n, fmt, pre_prefix ? "true" : "false", post);
  return s;
}

static mx_tokenizer *bl_tok(bool pre_prefix, const char *post) {
  char *js = bl_json(pre_prefix, post);
  mx_tokenizer *t = js ? from_json(js, NULL) : NULL;
  free(js);
  return t;
}

static void trim_offsets(void) {
  /* No add_prefix_space. GPT-2's regex cuts "hello  world" into "hello",
   * " " (\s+(?!\S) leaves the last space to the word), " world". */
  const char *post_trim = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true}";
  const char *post_keep = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false}";
  mx_tokenizer *t = bl_tok(false, post_keep);
  CHECK(enc_check(t, "hello  world", NULL, true, ARR(1, 2, 3), OFFS(0, 5, 5, 6, 6, 12), NULL));
  mx_tokenizer_free(t);
  t = bl_tok(false, post_trim);
  /* process_offsets: "Ġ" has 1 leading and 1 trailing space -> start
   * min(5+1, 6) = 6, end max(6-1, 6) = 6; "Ġworld" loses its leading one. */
  CHECK(enc_check(t, "hello  world", NULL, true, ARR(1, 2, 3), OFFS(0, 5, 6, 6, 7, 12), NULL));
  /* Trimming is done with or without special tokens. */
  CHECK(enc_check(t, "hello  world", NULL, false, ARR(1, 2, 3), OFFS(0, 5, 6, 6, 7, 12), NULL));
  /* Leading spaces of the text: token 0 "Ġ" (0,1) -> (1,1) (no
   * add_prefix_space, so even the first token is trimmed); "Ġhi" -> (2,4). */
  CHECK(enc_check(t, "  hi", NULL, true, ARR(2, 5), OFFS(1, 1, 2, 4), NULL));
  /* A trailing space token collapses to an empty range at its end. */
  CHECK(enc_check(t, "hello ", NULL, true, ARR(1, 2), OFFS(0, 5, 6, 6), NULL));
  /* "Ċ" (the byte-level newline) is neither 'Ġ' nor whitespace: kept. */
  CHECK(enc_check(t, "a\n", NULL, true, ARR(6, 7), OFFS(0, 1, 1, 2), NULL));
  /* A pair: each sequence is trimmed on its own (index 0 of the second one is
   * "first" too, but add_prefix_space is off, so it is trimmed). */
  CHECK(enc_check(t, "hello", " world", true, ARR(1, 3), OFFS(0, 5, 1, 6), NULL));
  mx_tokenizer_free(t);

  /* add_prefix_space on both: " hello world" -> "Ġhello" (0,5) (the added
   * space maps to the first character), "Ġworld" (5,11). The first token
   * keeps its single leading space (it was added), the others lose it. */
  t = bl_tok(true, "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true}");
  CHECK(enc_check(t, "hello world", NULL, true, ARR(4, 3), OFFS(0, 5, 6, 11), NULL));
  /* Pair: the second sequence's first token is "first" as well: kept. */
  CHECK(enc_check(t, "hello", "world", true, ARR(4, 3), OFFS(0, 5, 0, 5), NULL));
  mx_tokenizer_free(t);
  /* Pre-tokenizer adds the space but the post-processor says it did not:
   * HF then trims the first token too: (0,5) -> (1,5). */
  t = bl_tok(true, post_trim);
  CHECK(enc_check(t, "hello world", NULL, true, ARR(4, 3), OFFS(1, 5, 6, 11), NULL));
  mx_tokenizer_free(t);

  /* Sequence [ByteLevel(trim), TemplateProcessing(<s> $A </s>)]: the
   * sequence tokens are trimmed, the special tokens keep (0,0). */
  t = bl_tok(false,
             "{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
             "\"trim_offsets\":true},{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
             "\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":"
             "\"</s>\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":"
             "{\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[8],"
             "\"tokens\":[\"<s>\"]},\"</s>\":{\"id\":\"</s>\",\"ids\":[9],\"tokens\":[\"</s>\"]}}}]}");
  CHECK(enc_check(t, "hello  world", NULL, true, ARR(8, 1, 2, 3, 9), OFFS(0, 0, 0, 5, 6, 6, 7, 12, 0, 0),
                  NULL));
  mx_tokenizer_free(t);

  /* RobertaProcessing trims too (its defaults: trim_offsets and
   * add_prefix_space true) and gives every token type id 0. */
  t = bl_tok(false, "{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",9],\"cls\":[\"<s>\",8],"
                    "\"trim_offsets\":true,\"add_prefix_space\":false}");
  CHECK(enc_check(t, "hello world", NULL, true, ARR(8, 1, 3, 9), OFFS(0, 0, 0, 5, 6, 11, 0, 0), NULL));
  CHECK(enc_check(t, "hello", " world", true, ARR(8, 1, 9, 9, 3, 9), OFFS(0, 0, 0, 5, 0, 0, 0, 0, 1, 6, 0, 0),
                  TYPES(0, 0, 0, 0, 0, 0)));
  CHECK(enc_check(t, "hello", " world", false, ARR(1, 3), OFFS(0, 5, 1, 6), TYPES(0, 0)));
  mx_tokenizer_free(t);
  t = bl_tok(false, "{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",9],\"cls\":[\"<s>\",8],"
                    "\"trim_offsets\":false}");
  CHECK(enc_check(t, "hello world", NULL, true, ARR(8, 1, 3, 9), OFFS(0, 0, 0, 5, 5, 11, 0, 0), NULL));
  mx_tokenizer_free(t);
}

/* ------------------------------------------------------------ add_bos_token / add_eos_token */

/* Cases 1 and 2 were also run through tokenizers 0.23.2 (identical). */

/* A Llama-style file: its own template is "<s> $A </s>" (so keeping it and
 * rebuilding it can be told apart). */
static const char llama_json[] =
    "{\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,"
    "\"hi\":3,\"there\":4,\"you\":5}},\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
    "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\","
    "\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
    "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
    "\"pair\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},"
    "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":1}}],"
    "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]},"
    "\"</s>\":{\"id\":\"</s>\",\"ids\":[2],\"tokens\":[\"</s>\"]}}}}";

#define CFG(cls, flags) "{\"tokenizer_class\":\"" cls "\",\"bos_token\":\"<s>\",\"eos_token\":\"</s>\"" flags "}"

static void bos_eos(void) {
  mx_tokenizer *t;
  /* No config: the file's template. */
  t = from_json(llama_json, NULL);
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  CHECK(enc_check(t, "hi", "you", true, ARR(1, 3, 2, 5, 2), NULL, TYPES(0, 0, 0, 1, 1)));
  mx_tokenizer_free(t);

  /* LlamaTokenizer, both on: single "<s>:0 $A:0 </s>:0", pair adds
   * "<s>:1 $B:1 </s>:1". Special tokens are marked in the mask. */
  t = from_json(llama_json, CFG("LlamaTokenizer", ",\"add_bos_token\":true,\"add_eos_token\":true"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  CHECK(enc_check(t, "hi", "you", true, ARR(1, 3, 2, 1, 5, 2), NULL, TYPES(0, 0, 0, 1, 1, 1)));
  CHECK(enc_check(t, "hi there", NULL, false, ARR(3, 4), NULL, NULL));
  if (t) {
    mx_encoding e;
    CHECK(mx_tokenizer_encode_full(t, "hi", 2, NULL, 0, true, &e) == MX_OK && e.n == 3 && e.special_mask[0] == 1 &&
          e.special_mask[1] == 0 && e.special_mask[2] == 1 && e.offsets[0] == 0 && e.offsets[1] == 0 &&
          e.offsets[2] == 0 && e.offsets[3] == 2);
    mx_encoding_free(&e);
    CHECK(mx_tokenizer_add_bos(t) == 1 && mx_tokenizer_add_eos(t) == 1);
  }
  mx_tokenizer_free(t);

  /* eos only. */
  t = from_json(llama_json, CFG("LlamaTokenizerFast", ",\"add_bos_token\":false,\"add_eos_token\":true"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(3, 4, 2), NULL, NULL));
  CHECK(enc_check(t, "hi", "you", true, ARR(3, 2, 5, 2), NULL, TYPES(0, 0, 1, 1)));
  mx_tokenizer_free(t);

  /* Both off: "$A:0" / "$A:0 $B:1" (the file's </s> is gone). */
  t = from_json(llama_json, CFG("LlamaTokenizer", ",\"add_bos_token\":false,\"add_eos_token\":false"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(3, 4), NULL, NULL));
  CHECK(enc_check(t, "hi", "you", true, ARR(3, 5), NULL, TYPES(0, 1)));
  mx_tokenizer_free(t);

  /* Llama class without the flags: its defaults (bos on, eos off) still
   * rebuild the template, dropping the file's </s>. */
  t = from_json(llama_json, CFG("LlamaTokenizerFast", ""));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4), NULL, NULL));
  CHECK(enc_check(t, "hi", "you", true, ARR(1, 3, 1, 5), NULL, TYPES(0, 0, 1, 1)));
  mx_tokenizer_free(t);

  /* Gemma and CodeLlama classes do the same. */
  t = from_json(llama_json, CFG("GemmaTokenizer", ",\"add_eos_token\":true"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  mx_tokenizer_free(t);
  t = from_json(llama_json, CFG("CodeLlamaTokenizer", ""));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4), NULL, NULL));
  mx_tokenizer_free(t);

  /* Another class without the flags: the file's template stays. */
  t = from_json(llama_json, CFG("PreTrainedTokenizerFast", ""));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  mx_tokenizer_free(t);
  /* ... even when it names the flags (only the classes above rebuild). */
  t = from_json(llama_json, CFG("PreTrainedTokenizerFast", ",\"add_eos_token\":false"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  mx_tokenizer_free(t);
  t = from_json(llama_json, CFG("Qwen2Tokenizer", ",\"add_bos_token\":false"));
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  mx_tokenizer_free(t);

  /* A flag whose token is null is switched off. */
  t = from_json(llama_json, "{\"tokenizer_class\":\"LlamaTokenizer\",\"bos_token\":\"<s>\",\"eos_token\":null,"
                            "\"add_bos_token\":true,\"add_eos_token\":true}");
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4), NULL, NULL));
  mx_tokenizer_free(t);
  /* Llama class with no bos_token/eos_token in the config: the class
   * defaults "<s>" / "</s>" are used. */
  t = from_json(llama_json, "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_eos_token\":true}");
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  CHECK(t && mx_tokenizer_bos_id(t) == 1 && mx_tokenizer_eos_id(t) == 2);
  mx_tokenizer_free(t);
  /* A broken config leaves the file's pipeline alone. */
  t = from_json(llama_json, "{\"tokenizer_class\":\"LlamaTokenizer\",\"add_bos_token\":");
  CHECK(enc_check(t, "hi there", NULL, true, ARR(1, 3, 4, 2), NULL, NULL));
  mx_tokenizer_free(t);
}

int main(void) {
  unicode_scripts();
  trim_offsets();
  bos_eos();
  return check_summary();
}
