/* mlxc/tokenizer.h — text <-> token ids, as Hugging Face `tokenizers` does it.
 *
 * Sources:
 *   - a Hugging Face `tokenizer.json` (the whole pipeline: added tokens,
 *     normalizer, pre-tokenizer, model (BPE, Unigram, WordPiece, WordLevel),
 *     post-processor, decoder, truncation and padding), plus the folder's
 *     tokenizer_config.json (bos/eos/pad/unk, add_bos_token/add_eos_token)
 *     and generation_config.json (eos_token_id, int or list) when present;
 *     for the Llama, CodeLlama, Gemma and Cohere tokenizer classes,
 *     add_bos_token / add_eos_token rebuild the post-processor as
 *     transformers 4.x's update_post_processor does (transformers 5 keeps
 *     tokenizer.json's); offsets follow ByteLevel / Roberta trim_offsets;
 *   - a GGUF vocabulary (`tokenizer.ggml.*`: llama (SentencePiece BPE with
 *     scores), gpt2 (byte-level BPE; pre-tokenizer from tokenizer.ggml.pre),
 *     bert (WordPiece), t5 (Unigram));
 *   - a SentencePiece tokenizer.model (BPE: LlamaTokenizerFast's pipeline,
 *     adding BOS; Unigram: charsmap + Metaspace, adding nothing);
 *   - GPT-2's encoder.json + vocab.bpe (GPT2TokenizerFast; <|endoftext|>
 *     special);
 *   - a WordPiece vocab.txt (BertTokenizerFast; do_lower_case, strip_accents,
 *     tokenize_chinese_chars and the special token names from the folder's
 *     tokenizer_config.json, lowercasing by default);
 *   - a tiktoken rank file ("base64 rank" lines) as Whisper uses it: its
 *     special tokens (<|endoftext|>, <|startoftranscript|>, languages,
 *     tasks, <|notimestamps|>, <|0.00|>..<|30.00|>) get ids from the rank
 *     count on, as openai/whisper numbers them; they are matched in text
 *     like HF added tokens (tiktoken itself would refuse such text).
 *
 * Text to encode is UTF-8. Invalid UTF-8 is decoded as Python's
 * bytes.decode("utf-8", "replace") does (each maximal invalid subpart becomes
 * U+FFFD), since HF's Python API only ever sees valid strings.
 *
 * Errors: failing calls return NULL or a negative mx_status and set the
 * thread's last error (mlxc/error.h): MX_ERR_IO (file), MX_ERR_FORMAT
 * (malformed file, naming the JSON path or GGUF key), MX_ERR_UNSUPPORTED (a
 * pipeline component this build does not implement, named),
 * MX_ERR_INVALID_ARG (bad arguments).
 *
 * Memory: arrays returned through out-pointers (ids, text) are malloc'ed and
 * belong to the caller (free()); mx_encoding contents are released with
 * mx_encoding_free.
 *
 * Thread safety: a loaded tokenizer is immutable; any number of threads may
 * encode and decode with it at once. A detokenizer is used by one thread.
 */
#ifndef MLXC_TOKENIZER_H
#define MLXC_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlxc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_tokenizer mx_tokenizer;

/* `path`: a model folder (the first found of tokenizer.json,
 * tokenizer.model, encoder.json + vocab.bpe, vocab.txt, a *.tiktoken, a
 * *.gguf), or one such file: a .gguf (by its magic), *.tiktoken (Whisper
 * specials for 99 languages), *.model, encoder.json or vocab.bpe (the other
 * one beside it), *.txt (WordPiece), anything else as a tokenizer.json. */
mx_tokenizer *mx_tokenizer_load(const char *path);
/* A Whisper tiktoken file with the special tokens of num_languages
 * languages: 99 for Whisper v1/v2 models, 100 for large-v3 (<= 0: 99). */
mx_tokenizer *mx_tokenizer_load_tiktoken(const char *path, int num_languages);
/* tokenizer.json bytes in memory (need not be NUL-terminated); the optional
 * config texts may be NULL. `name` is used in messages. */
mx_tokenizer *mx_tokenizer_load_json(const char *json, size_t len, const char *config_json,
                                     size_t config_len, const char *name);
/* A GGUF vocabulary from GGUF bytes in memory (not kept after the call). */
mx_tokenizer *mx_tokenizer_load_gguf_memory(const void *bytes, size_t size, const char *name);
void mx_tokenizer_free(mx_tokenizer *tok);

/* Encodes text; add_special applies the post-processor (BOS/EOS, [CLS]...)
 * and the file's truncation/padding. *ids is malloc'ed (free()); an empty
 * result gives *n = 0 and a non-NULL *ids. */
mx_status mx_tokenizer_encode(const mx_tokenizer *tok, const char *text, size_t len,
                              bool add_special, int32_t **ids, size_t *n);

/* One encoding with everything HF's Encoding carries. offsets are byte
 * ranges [start, end) in the input text (2 per token; for a pair, in the
 * text of the sequence given by sequence_ids). */
typedef struct mx_encoding {
  size_t n;
  int32_t *ids;
  int32_t *type_ids;
  uint32_t *offsets;       /* 2*n */
  uint8_t *special_mask;   /* 1 for tokens added by the post-processor */
  uint8_t *attention_mask; /* 0 for padding */
  int8_t *sequence_ids;    /* 0, 1, or -1 for special/padding */
} mx_encoding;
void mx_encoding_free(mx_encoding *e);

/* Full encode of a sequence, or a pair when text_b is non-NULL. */
mx_status mx_tokenizer_encode_full(const mx_tokenizer *tok, const char *text, size_t len,
                                   const char *text_b, size_t len_b, bool add_special,
                                   mx_encoding *out);

typedef enum mx_padding {
  MX_PADDING_NONE = 0,
  MX_PADDING_LONGEST = 1, /* to the longest of the batch */
  MX_PADDING_FIXED = 2    /* to max_length */
} mx_padding;

/* Batch options. Make with mx_tokenizer_default_batch_params(), which copies
 * the tokenizer.json's own padding/truncation settings when tok is given. */
typedef struct mx_tokenizer_batch_params {
  size_t size; /* sizeof(mx_tokenizer_batch_params) */
  bool add_special;
  mx_padding padding;
  bool pad_left;
  int32_t pad_id;      /* default: the tokenizer's pad id, else 0 */
  int32_t pad_type_id; /* default 0 */
  size_t pad_to_multiple_of; /* 0: none */
  bool truncation;
  bool truncate_left;
  size_t max_length; /* truncation length, and the FIXED padding length */
} mx_tokenizer_batch_params;
mx_tokenizer_batch_params mx_tokenizer_default_batch_params(const mx_tokenizer *tok);

/* Encodes count texts into out[0..count) (caller-provided array). */
mx_status mx_tokenizer_encode_batch(const mx_tokenizer *tok, const char *const *texts,
                                    const size_t *lens, size_t count,
                                    const mx_tokenizer_batch_params *params, mx_encoding *out);

/* Decodes ids to UTF-8 text (*text malloc'ed, NUL-terminated, length *len).
 * Unknown ids are an error (MX_ERR_INVALID_ARG). */
mx_status mx_tokenizer_decode(const mx_tokenizer *tok, const int32_t *ids, size_t n,
                              bool skip_special, char **text, size_t *len);

/* -1 when absent. Looks at added tokens, then the model's vocabulary. */
int32_t mx_tokenizer_token_to_id(const mx_tokenizer *tok, const char *token, size_t len);
/* NULL when out of range; the string is owned by the tokenizer. */
const char *mx_tokenizer_id_to_token(const mx_tokenizer *tok, int32_t id, size_t *len);
/* Largest id + 1 over the model's vocabulary and the added tokens. */
size_t mx_tokenizer_vocab_size(const mx_tokenizer *tok);
bool mx_tokenizer_is_special(const mx_tokenizer *tok, int32_t id);

/* Special ids, -1 when unknown. eos_ids lists every end-of-sequence id
 * (generation_config.json's list when given, else the eos token). */
int32_t mx_tokenizer_bos_id(const mx_tokenizer *tok);
int32_t mx_tokenizer_eos_id(const mx_tokenizer *tok);
int32_t mx_tokenizer_pad_id(const mx_tokenizer *tok);
int32_t mx_tokenizer_unk_id(const mx_tokenizer *tok);
size_t mx_tokenizer_eos_ids(const mx_tokenizer *tok, const int32_t **ids);
/* tokenizer_config.json's add_bos_token / add_eos_token (GGUF: its keys);
 * -1 when unset. */
int mx_tokenizer_add_bos(const mx_tokenizer *tok);
int mx_tokenizer_add_eos(const mx_tokenizer *tok);

/* ---- streaming detokenizer ------------------------------------------------
 * Chosen as mlx-lm chooses from the tokenizer's decoder: SentencePiece (the
 * Replace(▁)/ByteFallback/Fuse[/Strip] decoder), byte-level BPE (ByteLevel
 * decoder), otherwise naive (re-decodes the current line). Text never ends
 * in a partial UTF-8 character; after finalize, text equals the decode of
 * all tokens (for the SPM and BPE kinds as mlx-lm's do). */
typedef enum mx_detokenizer_kind {
  MX_DETOKENIZER_NAIVE = 0,
  MX_DETOKENIZER_SPM = 1,
  MX_DETOKENIZER_BPE = 2
} mx_detokenizer_kind;

typedef struct mx_detokenizer mx_detokenizer;
/* The tokenizer must outlive the detokenizer. */
mx_detokenizer *mx_detokenizer_new(const mx_tokenizer *tok);
mx_detokenizer_kind mx_detokenizer_get_kind(const mx_detokenizer *d);
void mx_detokenizer_reset(mx_detokenizer *d);
mx_status mx_detokenizer_add(mx_detokenizer *d, int32_t id);
mx_status mx_detokenizer_finalize(mx_detokenizer *d);
/* All text so far (NUL-terminated; valid until the next call on d). */
const char *mx_detokenizer_text(mx_detokenizer *d, size_t *len);
/* The text added since the last call (valid until the next call on d). */
const char *mx_detokenizer_last_segment(mx_detokenizer *d, size_t *len);
void mx_detokenizer_free(mx_detokenizer *d);

#ifdef __cplusplus
}
#endif
#endif
