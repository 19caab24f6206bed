/* tokenizer_internal.h — the tokenizer pipeline's internal types.
 *
 * Encoding follows HF `tokenizers`: added tokens are cut out first (those
 * with normalized=false on the raw text, the others after normalization),
 * the rest is normalized, pre-tokenized into splits, each split tokenized by
 * the model, then post-processed. Text travels as an `nstr`: bytes plus, per
 * byte, the byte range of the original input it came from, so offsets survive
 * every rewrite. Per-call memory comes from an arena freed at the end.
 */
#ifndef MLXC_TOKENIZER_INTERNAL_H
#define MLXC_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "mlxc/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ------------------------------------------------------------ memory */

typedef struct arena {
  void **ptrs;
  size_t n, cap;
  bool oom;
  char *blk; /* bump block for many small buffers */
  size_t blk_left;
} arena;
/* 8-aligned memory freed with the arena (no individual free). */
void *tk_arena_bump(arena *a, size_t n);
/* Tracks p for release by tk_arena_free; returns p (NULL if p is NULL). */
void *tk_arena_keep(arena *a, void *p);
void *tk_arena_alloc(arena *a, size_t n);
void tk_arena_free(arena *a);

typedef struct sbuf {
  char *p;
  size_t n, cap;
  bool oom;
} sbuf;
bool tk_sbuf_put(sbuf *b, const void *s, size_t n);
bool tk_sbuf_putc(sbuf *b, char c);
bool tk_sbuf_put_cp(sbuf *b, uint32_t cp);

/* ------------------------------------------------------------ utf-8 */

/* Decodes one code point at s[i] (n bytes total); returns its length, or 0
 * for an invalid sequence. */
size_t tk_utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp);
size_t tk_utf8_encode(uint32_t cp, char *out);
/* Valid UTF-8 copy of s (invalid subparts -> U+FFFD, as Python's "replace"),
 * malloc'ed; also gives per-output-byte original offsets when o != NULL. */
char *tk_utf8_sanitize(const char *s, size_t n, size_t *out_n, uint32_t **o);
bool tk_utf8_valid(const char *s, size_t n);

bool tk_cp_is_whitespace(uint32_t c); /* Rust char::is_whitespace */
bool tk_cp_is_alnum(uint32_t c);      /* Rust char::is_alphanumeric */
bool tk_cp_is_numeric(uint32_t c);    /* Rust char::is_numeric */
bool tk_cp_is_punct(uint32_t c);      /* ASCII punctuation or Unicode P* */
bool tk_cp_is_mark(uint32_t c);       /* Mn, Mc, Me */
bool tk_cp_is_control(uint32_t c);    /* BERT's: C* except \t \n \r */
bool tk_cp_is_cjk(uint32_t c);        /* BERT's CJK ideograph blocks */

/* ------------------------------------------------------------ hash tables */

uint64_t tk_hash_bytes(const void *p, size_t n);
/* Memory for a large hash table (huge pages when big); free() it. */
void *tk_table_alloc(size_t n, bool zero);

/* bytes -> int32, keys copied into a pool. A slot holds everything but the
 * key bytes, so a lookup touches one slot and one spot of the pool. */
typedef struct strmap {
  struct tk_strmap_slot {
    uint32_t tag;  /* hash >> 32 */
    uint32_t off1; /* key offset in pool + 1; 0: empty slot */
    uint32_t len;
    int32_t val;
  } *slots;
  size_t nslots, n;
  char *pool;
  size_t pool_n, pool_cap;
} strmap;
bool tk_strmap_put(strmap *m, const char *k, size_t len, int32_t val); /* overwrites */
/* Room for n entries with `bytes` of keys without regrowing. */
bool tk_strmap_reserve(strmap *m, size_t n, size_t bytes);
/* -1 when absent. */
int32_t tk_strmap_get(const strmap *m, const char *k, size_t len);
/* n lookups at once (out[i] = get(k[i])): the memory latency of the batch
 * overlaps, which is what bounds loading a big vocabulary. */
void tk_strmap_get_many(const strmap *m, size_t n, const char *const *k, const size_t *len,
                        int32_t *out);
void tk_strmap_prefetch(const strmap *m, const char *k, size_t len);
void tk_strmap_free(strmap *m);

/* u64 -> u64, key UINT64_MAX reserved. */
typedef struct u64map {
  uint64_t *keys, *vals;
  size_t nslots, n;
} u64map;
bool tk_u64map_put(u64map *m, uint64_t k, uint64_t v);
bool tk_u64map_reserve(u64map *m, size_t n);
void tk_u64map_prefetch(const u64map *m, uint64_t k);
bool tk_u64map_get(const u64map *m, uint64_t k, uint64_t *v);
void tk_u64map_free(u64map *m);

/* Byte trie: node 0 is the root; value -1 = none. */
typedef struct trie {
  u64map edges; /* (node << 8 | byte) -> child */
  int32_t *val;
  size_t n, cap;
  uint8_t first[32]; /* bitmap of first bytes */
} trie;
bool tk_trie_init(trie *t);
bool tk_trie_insert(trie *t, const char *s, size_t len, int32_t val);
/* Longest key that is a prefix of s[0..n): returns its length (0 none). */
size_t tk_trie_longest(const trie *t, const char *s, size_t n, int32_t *val);
void tk_trie_free(trie *t);

/* ------------------------------------------------------------ regex */

typedef struct regex {
  pcre2_code *code;
} regex;
/* Compiles a HF (Oniguruma/Rust syntax) pattern; literal=true escapes it. */
regex *tk_regex_new(const char *pat, size_t len, bool literal, const char *what);
void tk_regex_free(regex *r);
/* Next match at or after `from`: true and [*ms, *me). md from the caller. */
bool tk_regex_find(const regex *r, pcre2_match_data *md, const char *s, size_t n, size_t from,
                size_t *ms, size_t *me);

/* ------------------------------------------------------------ strings with offsets */

typedef struct nstr {
  char *s;
  uint32_t *o; /* 2 per byte: original [start, end) */
  size_t n, cap;
  arena *a; /* where the final buffers are kept */
} nstr;
void tk_nstr_init(nstr *x, arena *a);
bool tk_nstr_put(nstr *x, const char *s, size_t n, uint32_t os, uint32_t oe);
/* Appends src[i..j) with its own offsets. */
bool tk_nstr_put_from(nstr *x, const nstr *src, size_t i, size_t j);
/* Registers the buffers with the arena (call once when done building). */
void tk_nstr_done(nstr *x);
/* Sub-string view [i, j) (shares memory). */
nstr tk_nstr_sub(const nstr *x, size_t i, size_t j);
/* Original range covered by x ([0,0) if empty: uses `dflt`). */
void tk_nstr_span(const nstr *x, uint32_t dflt, uint32_t *os, uint32_t *oe);

/* A piece of the pre-tokenized string; id >= 0: an added token, final. */
typedef struct split {
  nstr t;
  int32_t id;
} split;
typedef struct splits {
  split *v;
  size_t n, cap;
} splits;
bool tk_splits_push(splits *s, arena *a, split x);

/* Encode-time context: arena + scratch. */
typedef struct bpe_scratch bpe_scratch;
typedef struct enc_ctx {
  arena a;
  pcre2_match_data *md;
  bool oom;
  bpe_scratch *bpe; /* per-call BPE buffers and word cache (lazily made) */
  size_t words;
} enc_ctx;
void tk_bpe_scratch_free(bpe_scratch *s);

/* ------------------------------------------------------------ components */

typedef enum norm_type {
  NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWER, NORM_STRIP, NORM_STRIP_ACCENTS,
  NORM_REPLACE, NORM_PREPEND, NORM_PRECOMPILED, NORM_BERT, NORM_SEQ, NORM_NMT
} norm_type;

typedef struct precompiled precompiled;

typedef struct normalizer {
  norm_type type;
  bool left, right;           /* Strip */
  regex *re;                  /* Replace with a Regex pattern */
  char *lit;                  /* Replace with a String pattern */
  size_t lit_len;
  char *content;              /* Replace / Prepend */
  size_t content_len;
  bool clean_text, chinese, lowercase;
  int strip_accents; /* -1: follow lowercase */
  precompiled *pc;
  struct normalizer **sub;
  size_t nsub;
} normalizer;

bool tk_normalize(const normalizer *nm, nstr *x, enc_ctx *c);
void tk_normalizer_free(normalizer *nm);
precompiled *tk_precompiled_new(const unsigned char *blob, size_t n);
void tk_precompiled_free(precompiled *p);

typedef enum split_behavior {
  SB_REMOVED, SB_ISOLATED, SB_MERGED_PREV, SB_MERGED_NEXT, SB_CONTIGUOUS
} split_behavior;

typedef enum pretok_type {
  PT_BYTELEVEL, PT_SPLIT, PT_WHITESPACE, PT_WHITESPACE_SPLIT, PT_METASPACE, PT_DIGITS,
  PT_PUNCT, PT_BERT, PT_CHAR_DELIM, PT_UNICODE_SCRIPTS, PT_SEQ
} pretok_type;

typedef enum prepend_scheme { PS_ALWAYS, PS_FIRST, PS_NEVER } prepend_scheme;

typedef struct pretok {
  pretok_type type;
  regex *re;
  split_behavior behavior;
  bool invert;
  bool add_prefix_space, use_regex, trim_offsets;
  uint32_t repl; /* Metaspace replacement / CharDelimiter char */
  prepend_scheme prepend;
  bool split;
  bool individual_digits;
  struct pretok **sub;
  size_t nsub;
} pretok;

bool tk_pre_tokenize(const pretok *p, splits *s, enc_ctx *c);
void tk_pretok_free(pretok *p);
/* GPT-2's regex, used by ByteLevel with use_regex. */
regex *tk_bytelevel_regex(void);
/* byte <-> GPT-2 unicode char tables. */
extern uint32_t tk_bl_byte2cp[256];
int tk_bl_cp2byte(uint32_t cp); /* -1 if not a mapped char */
void tk_bl_init(void);
/* UnicodeScripts (tokenizer_scripts.c): HF's script of a code point (its own
 * table; Hiragana/Katakana folded into Han, ' ' is Any = 0), and the split of
 * one piece where the script changes. */
int tk_cp_script(uint32_t cp);
bool tk_split_scripts(const nstr *t, splits *out, enc_ctx *c);

typedef enum tk_model_type { MODEL_BPE, MODEL_UNIGRAM, MODEL_WORDPIECE, MODEL_WORDLEVEL } tk_model_type;

typedef struct model {
  tk_model_type type;
  strmap vocab;
  /* id -> token: (offset, len) into tpool; len UINT32_MAX = hole */
  uint32_t *id_off, *id_len;
  size_t nid;
  char *tpool;
  size_t tpool_n, tpool_cap;
  int32_t unk_id;
  /* BPE */
  u64map merges; /* (a << 32 | b) -> (rank << 32 | new id) */
  bool byte_fallback, fuse_unk, ignore_merges;
  char *cont_prefix, *eow_suffix;
  size_t cont_len, eow_len;
  bool spm_scores; /* merge by best score of the joined token (GGUF llama) */
  float *scores;
  int32_t byte_id[256];
  int32_t cp_id[512]; /* single-character tokens below U+0200 (-1 none), when no prefix/suffix */
  /* WordPiece */
  size_t max_chars;
  /* Unigram */
  trie utrie;
  double *uscore;
  double min_score;
} model;

typedef struct tokvec {
  int32_t *id;
  uint32_t *off; /* 2 per token */
  size_t n, cap;
} tokvec;
bool tk_tokvec_push(tokvec *v, int32_t id, uint32_t os, uint32_t oe);
void tk_tokvec_free(tokvec *v);

bool tk_model_tokenize(const model *m, const nstr *w, tokvec *out, enc_ctx *c);
void tk_model_free(model *m);
/* Helpers for loaders. */
bool tk_model_set_token(model *m, int32_t id, const char *s, size_t len);
/* Sizes the vocabulary storage for about ntok tokens of `bytes` in all. */
bool tk_model_reserve(model *m, size_t ntok, size_t bytes);
const char *tk_model_token(const model *m, int32_t id, size_t *len);
bool tk_model_finish_bpe(model *m);  /* byte ids etc. */
bool tk_model_add_merge(model *m, const char *a, size_t la, const char *b, size_t lb, int32_t rank);
/* n merges of ranks rank0, rank0+1, ... (batched lookups; unknown tokens
 * are skipped as by tk_model_add_merge). false only when out of memory. */
bool tk_model_add_merges(model *m, size_t n, const char *const *a, const size_t *la,
                         const char *const *b, const size_t *lb, int32_t rank0);
bool tk_unigram_build(model *m);

typedef struct tp_piece {
  bool is_seq;
  int seq; /* 0 = A, 1 = B */
  int32_t type_id;
  int32_t *ids; /* special token ids */
  size_t nids;
} tp_piece;

typedef enum tk_post_type { POST_TEMPLATE, POST_BERT, POST_ROBERTA, POST_BYTELEVEL, POST_SEQ } tk_post_type;

typedef struct post {
  tk_post_type type;
  tp_piece *single, *pair;
  size_t nsingle, npair;
  int32_t cls, sep;
  bool trim_offsets, add_prefix_space; /* ByteLevel, RobertaProcessing */
  /* The tokenizer that owns this processor: trim_offsets reads token strings. */
  const struct mx_tokenizer *owner;
  struct post **sub;
  size_t nsub;
} post;

/* A growing encoding (the public struct plus capacity). */
typedef struct enc {
  size_t n, cap;
  int32_t *ids, *type_ids;
  uint32_t *off;
  uint8_t *special, *attn;
  int8_t *seq;
} enc;
bool tk_enc_push(enc *e, int32_t id, int32_t type_id, uint32_t os, uint32_t oe, uint8_t special,
              int8_t seq);
void tk_enc_free(enc *e);
size_t tk_post_added(const post *p, bool pair);
bool tk_post_process(const post *p, const enc *a, const enc *b, bool add_special, enc *out);
void tk_post_free(post *p);
/* tokenizer_config.json's add_bos_token / add_eos_token: replaces t->post by
 * the TemplateProcessing transformers 4.x builds (update_post_processor) for
 * the classes that do (Llama, CodeLlama, Gemma, Cohere). `cfg` is the parsed config (a cJSON object). false only
 * when out of memory. */
struct cJSON;
bool tk_post_from_config(mx_tokenizer *t, const struct cJSON *cfg);

typedef enum dec_type {
  DEC_BYTELEVEL, DEC_METASPACE, DEC_WORDPIECE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP,
  DEC_REPLACE, DEC_CTC, DEC_BPE, DEC_SEQ
} dec_type;

typedef struct decoder {
  dec_type type;
  regex *re;
  char *content, *prefix, *suffix, *pad, *delim;
  size_t content_len;
  uint32_t strip_char, repl;
  size_t start, stop;
  bool cleanup;
  prepend_scheme prepend;
  struct decoder **sub;
  size_t nsub;
} decoder;

/* A list of owned strings. */
typedef struct strvec {
  char **s;
  size_t *len;
  size_t n, cap;
} strvec;
bool tk_strvec_push(strvec *v, const char *s, size_t len);
void tk_strvec_free(strvec *v);
bool tk_decode_chain(const decoder *d, strvec *toks);
void tk_decoder_free(decoder *d);
bool tk_wordpiece_cleanup(sbuf *out, const char *s, size_t n);

typedef struct added_tok {
  char *content;
  size_t len;
  int32_t id;
  bool special, single_word, lstrip, rstrip, normalized;
} added_tok;

/* ------------------------------------------------------------ the tokenizer */

struct mx_tokenizer {
  char *name;
  normalizer *norm;
  pretok *pre;
  model model;
  post *post;
  decoder *dec;
  added_tok *added;
  size_t nadded;
  trie tk_trie_raw, tk_trie_norm; /* values: index into added */
  bool have_raw, have_norm;
  strmap added_map; /* content -> index */
  u64map added_by_id; /* id -> index */
  int32_t bos, eos, pad, unk;
  int32_t *eos_ids;
  size_t neos;
  int add_bos, add_eos;
  /* tokenizer.json truncation/padding */
  bool trunc_on, trunc_left;
  size_t trunc_max;
  bool pad_on, pad_left, pad_fixed;
  size_t pad_len, pad_multiple;
  int32_t pad_id_cfg, pad_type_id;
  mx_detokenizer_kind detok;
  /* SPM detokenizer: its decoder strips the first space */
  bool detok_trim_space;
};

/* tokenizer_jscan.c: model.vocab / model.merges read straight from the text. */
typedef struct tk_jbig {
  const char *json;
  size_t vocab_s, vocab_e, merges_s, merges_e; /* spans of the values; e == 0: none */
  size_t vocab_n, merges_n;                     /* their element counts */
  bool seen_model, seen_vocab, seen_merges;
  char *rest; /* the text with both values emptied, for cJSON */
  size_t rest_len;
} tk_jbig;
typedef enum tk_jstatus { TK_JS_OK, TK_JS_BAD, TK_JS_OOM } tk_jstatus;
/* false: the scanner steps aside (parse the whole text with cJSON). */
bool tk_jscan_split(const char *json, size_t len, tk_jbig *b);
void tk_jscan_free(tk_jbig *b);
/* Fill the model; TK_JS_BAD gives the index of the bad entry in *bad. */
tk_jstatus tk_jscan_vocab(const tk_jbig *b, model *m, size_t *bad);
tk_jstatus tk_jscan_unigram(const tk_jbig *b, model *m, size_t *bad);
tk_jstatus tk_jscan_merges(const tk_jbig *b, model *m, size_t *bad);

/* Loader internals. */
mx_tokenizer *tok_alloc(const char *name);
/* After the model and added tokens are in: tries, maps, special ids. */
bool tok_finish(mx_tokenizer *t);
bool tok_add_token(mx_tokenizer *t, const char *s, size_t len, int32_t id, bool special,
                   bool single_word, bool lstrip, bool rstrip, bool normalized);
int32_t tok_lookup(const mx_tokenizer *t, const char *s, size_t len);
mx_tokenizer *tok_load_gguf(const void *bytes, size_t size, const char *path, const char *name);
/* Pipelines around a filled model (tokenizer_gguf.c), shared by the loaders
 * of GGUF, tokenizer.model, vocab.txt, encoder.json and tiktoken files. */
bool tk_pipeline_spm_bpe(mx_tokenizer *t, bool prefix, bool add_bos, bool add_eos);
bool tk_pipeline_bytelevel(mx_tokenizer *t, const char *pre, size_t pre_len, bool add_bos,
                           bool add_eos);
bool tk_pipeline_bert(mx_tokenizer *t, bool lowercase, int32_t cls, int32_t sep);
bool tk_pipeline_unigram(mx_tokenizer *t, const void *charsmap, size_t n, bool add_space,
                         bool add_bos, bool add_eos);
/* Other file formats (tokenizer_formats.c, tokenizer_spm.c). `bytes` are the
 * file's contents; `dir` its folder (for side files), may be NULL. */
mx_tokenizer *tok_load_tiktoken(const char *bytes, size_t n, const char *name, int num_languages);
mx_tokenizer *tok_load_gpt2(const char *encoder, size_t en, const char *merges, size_t mn,
                            const char *name);
mx_tokenizer *tok_load_vocab_txt(const char *bytes, size_t n, const char *config, size_t cn,
                                 const char *name);
mx_tokenizer *tok_load_spm_model(const void *bytes, size_t n, const char *name);

/* Cuts added tokens out; normalizes the rest. */
bool tk_added_split(const mx_tokenizer *t, const char *text, size_t len, splits *out, enc_ctx *c);

#endif
