/* libFuzzer target for the tokenizers. The first byte picks what the rest is:
 *   0: a tokenizer.json (loaded, then used on a few fixed strings);
 *   1: a GGUF vocabulary (loaded, then used likewise);
 *   2: a tiktoken rank file; 3: GPT-2 encoder.json, a NUL byte, vocab.bpe;
 *   4: a WordPiece vocab.txt, a NUL byte, tokenizer_config.json;
 *   5: a SentencePiece tokenizer.model (protobuf) — all loaded and used;
 *   else: text for real tokenizers (qwen3, llama2, gemma3 from
 *         ../shared/testdata when present, and the bert-bge GGUF), encoded,
 *         decoded, its bytes also read as ids to decode and stream.
 * Build and run with fuzz/run.sh. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlxc/mlxc.h"

/* The loaders behind mx_tokenizer_load for these formats take bytes
 * (src/text/tokenizer_internal.h; the fuzz build links every source). */
mx_tokenizer *tok_load_tiktoken(const char *bytes, size_t n, const char *name, int num_languages);
mx_tokenizer *tok_load_gpt2(const char *encoder, size_t en, const char *merges, size_t mn,
                            const char *name);
mx_tokenizer *tok_load_vocab_txt(const char *bytes, size_t n, const char *config, size_t cn,
                                 const char *name);
mx_tokenizer *tok_load_spm_model(const void *bytes, size_t n, const char *name);

static mx_tokenizer *real[4];
static int nreal;

static void init(void) {
  static bool done;
  if (done) return;
  done = true;
  const char *paths[] = {"../shared/testdata/tokenizers/hf/qwen3", "../shared/testdata/tokenizers/hf/llama2",
                         "../shared/testdata/tokenizers/llamacpp/ggml-vocab-bert-bge.gguf",
                         "../shared/testdata/tokenizers/llamacpp/ggml-vocab-llama-spm.gguf"};
  for (int i = 0; i < 4; i++) {
    mx_tokenizer *t = mx_tokenizer_load(paths[i]);
    if (t) real[nreal++] = t;
  }
  mx_clear_error();
}

static void exercise(mx_tokenizer *t, const char *text, size_t len, const uint8_t *raw, size_t rn) {
  int32_t *ids = NULL;
  size_t n = 0;
  if (mx_tokenizer_encode(t, text, len, true, &ids, &n) == MX_OK) {
    char *s = NULL;
    size_t sl;
    if (mx_tokenizer_decode(t, ids, n, false, &s, &sl) == MX_OK) free(s);
    if (mx_tokenizer_decode(t, ids, n, true, &s, &sl) == MX_OK) free(s);
  }
  free(ids);
  mx_encoding e[2];
  const char *texts[2] = {text, "x"};
  size_t lens[2] = {len, 1};
  mx_tokenizer_batch_params p = mx_tokenizer_default_batch_params(t);
  p.padding = MX_PADDING_LONGEST;
  p.pad_left = len & 1;
  p.truncation = true;
  p.max_length = 1 + len % 17;
  if (mx_tokenizer_encode_batch(t, texts, lens, 2, &p, e) == MX_OK) {
    mx_encoding_free(&e[0]);
    mx_encoding_free(&e[1]);
  }
  /* bytes as ids, in range or not */
  size_t vs = mx_tokenizer_vocab_size(t);
  mx_detokenizer *d = mx_detokenizer_new(t);
  for (size_t i = 0; d && i + 2 <= rn && i < 64; i += 2) {
    int32_t id = (int32_t)((raw[i] << 8 | raw[i + 1]) % (vs + 3));
    mx_detokenizer_add(d, id);
    size_t sl;
    (void)mx_detokenizer_last_segment(d, &sl);
  }
  if (d) mx_detokenizer_finalize(d);
  mx_detokenizer_free(d);
  mx_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (data[0] <= 5) {
    const char *b = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(b, 0, n);
    size_t n1 = nul ? (size_t)(nul - b) : n;
    const char *b2 = nul ? nul + 1 : "";
    size_t n2 = nul ? n - n1 - 1 : 0;
    mx_tokenizer *t = NULL;
    switch (data[0]) {
    case 0: t = mx_tokenizer_load_json(b, n, NULL, 0, "fuzz"); break;
    case 1: t = mx_tokenizer_load_gguf_memory(b, n, "fuzz"); break;
    case 2: t = tok_load_tiktoken(b, n, "fuzz", 1 + (int)(n % 100)); break;
    case 3: t = tok_load_gpt2(b, n1, b2, n2, "fuzz"); break;
    case 4: t = tok_load_vocab_txt(b, n1, b2, n2, "fuzz"); break;
    default: t = tok_load_spm_model(b, n, "fuzz"); break;
    }
    if (t) {
      static const char *probe[] = {"Hello world", " \t\n", "\xe4\xb8\xad\xf0\x9f\x98\x80 x", "\xff"};
      for (int i = 0; i < 4; i++) exercise(t, probe[i], strlen(probe[i]), data, size);
      mx_tokenizer_free(t);
    }
    mx_clear_error();
    return 0;
  }
  init();
  for (int i = 0; i < nreal; i++) exercise(real[i], (const char *)data + 1, size - 1, data + 1, size - 1);
  return 0;
}
