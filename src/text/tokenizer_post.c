/* tokenizer_post.c — HF post-processors (TemplateProcessing, BertProcessing,
 * RobertaProcessing, ByteLevel, Sequence): where special tokens go around
 * one sequence or a pair, with type ids; ByteLevel's and Roberta's
 * trim_offsets; and the template transformers rebuilds from
 * tokenizer_config.json's add_bos_token / add_eos_token. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

static bool copy_seq(enc *out, const enc *x, int32_t type_id, int8_t seq) {
  for (size_t i = 0; i < x->n; i++)
    if (!tk_enc_push(out, x->ids[i], type_id, x->off[2 * i], x->off[2 * i + 1], x->special[i], seq))
      return false;
  return true;
}

static bool special(enc *out, int32_t id, int32_t type_id) {
  return tk_enc_push(out, id, type_id, 0, 0, 1, -1);
}

/* The processor that decides the layout: Sequence's first non-ByteLevel. */
static const post *layout(const post *p) {
  if (!p) return NULL;
  if (p->type == POST_SEQ) {
    for (size_t i = 0; i < p->nsub; i++) {
      const post *q = layout(p->sub[i]);
      if (q) return q;
    }
    return NULL;
  }
  return p->type == POST_BYTELEVEL ? NULL : p;
}

size_t tk_post_added(const post *p0, bool pair) {
  const post *p = layout(p0);
  if (!p) return 0;
  switch (p->type) {
  case POST_TEMPLATE: {
    size_t n = 0;
    const tp_piece *v = pair ? p->pair : p->single;
    size_t k = pair ? p->npair : p->nsingle;
    for (size_t i = 0; i < k; i++)
      if (!v[i].is_seq) n += v[i].nids;
    return n;
  }
  case POST_BERT: return pair ? 3 : 2;
  case POST_ROBERTA: return pair ? 4 : 2;
  default: return 0;
  }
}

/* ------------------------------------------------------------ trim_offsets */

static bool is_space_char(uint32_t cp) { return cp == 0x120 /* GPT-2's byte ' ' */ || tk_cp_is_whitespace(cp); }

/* HF's byte_level process_offsets: each token's offsets lose as many bytes
 * as its string has leading / trailing spaces (its 'Ġ' characters or real
 * whitespace, counted in characters: one 'Ġ' stands for one space byte).
 * The first token (index 0 or starting at offset 0) keeps one leading space
 * when add_prefix_space, since that space was added, not in the text.
 * Special tokens' (0, 0) offsets stay (0, 0). */
static void trim_offsets(const mx_tokenizer *t, enc *x, bool add_prefix_space) {
  for (size_t i = 0; i < x->n; i++) {
    size_t len;
    const char *s = mx_tokenizer_id_to_token(t, x->ids[i], &len);
    if (!s || !len) continue;
    const unsigned char *u = (const unsigned char *)s;
    size_t lead = 0, trail = 0;
    bool in_lead = true;
    for (size_t k = 0; k < len;) {
      uint32_t cp;
      size_t l = tk_utf8_decode(u, len, k, &cp);
      if (!l) l = 1, cp = 0xFFFD;
      bool sp = is_space_char(cp);
      if (in_lead && sp) lead++;
      else in_lead = false;
      trail = sp ? trail + 1 : 0;
      k += l;
    }
    uint32_t *o = &x->off[2 * i];
    if (lead) {
      bool first = i == 0 || o[0] == 0;
      if (first && add_prefix_space && lead == 1) lead = 0;
      uint64_t ns = (uint64_t)o[0] + lead;
      o[0] = ns < o[1] ? (uint32_t)ns : o[1];
    }
    if (trail && o[1] >= trail) {
      uint32_t ne = o[1] - (uint32_t)trail;
      o[1] = ne > o[0] ? ne : o[0];
    }
  }
}

/* Every trimming processor of the chain, in order (HF's Sequence hands each
 * processor the previous one's output, so two trimmers trim twice). The
 * index HF tests for "first" is the token's index within its own sequence,
 * whether the trimmer runs before or after the template. */
static void trim_chain(const post *p, enc *x) {
  if (!p) return;
  if (p->type == POST_SEQ) {
    for (size_t i = 0; i < p->nsub; i++) trim_chain(p->sub[i], x);
    return;
  }
  if ((p->type == POST_BYTELEVEL || p->type == POST_ROBERTA) && p->trim_offsets && p->owner)
    trim_offsets(p->owner, x, p->add_prefix_space);
}

static bool chain_trims(const post *p) {
  if (!p) return false;
  if (p->type == POST_SEQ) {
    for (size_t i = 0; i < p->nsub; i++)
      if (chain_trims(p->sub[i])) return true;
    return false;
  }
  return (p->type == POST_BYTELEVEL || p->type == POST_ROBERTA) && p->trim_offsets && p->owner;
}

/* x with its own copy of the offsets (the rest shared, read-only). */
static bool with_own_offsets(const enc *x, enc *y) {
  *y = *x;
  y->off = malloc((x->n ? x->n : 1) * 2 * sizeof *y->off);
  if (!y->off) return false;
  if (x->n) memcpy(y->off, x->off, x->n * 2 * sizeof *y->off);
  return true;
}

/* ------------------------------------------------------------ layout */

static bool process(const post *p0, const enc *a, const enc *b, bool add_special, enc *out) {
  const post *p = layout(p0);
  if (!p) return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 1, 1));
  switch (p->type) {
  case POST_TEMPLATE: {
    /* Without special tokens HF still applies the template's type ids. */
    const tp_piece *v = b ? p->pair : p->single;
    size_t k = b ? p->npair : p->nsingle;
    for (size_t i = 0; i < k; i++) {
      if (v[i].is_seq) {
        const enc *x = v[i].seq == 0 ? a : b;
        if (x && !copy_seq(out, x, v[i].type_id, (int8_t)v[i].seq)) return false;
      } else if (add_special) {
        for (size_t j = 0; j < v[i].nids; j++)
          if (!special(out, v[i].ids[j], v[i].type_id)) return false;
      }
    }
    return true;
  }
  case POST_BERT:
    if (!add_special) return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 1, 1));
    if (!special(out, p->cls, 0) || !copy_seq(out, a, 0, 0) || !special(out, p->sep, 0)) return false;
    if (b && (!copy_seq(out, b, 1, 1) || !special(out, p->sep, 1))) return false;
    return true;
  case POST_ROBERTA:
    /* Roberta gives every token type id 0, with or without specials. */
    if (!add_special) return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 0, 1));
    if (!special(out, p->cls, 0) || !copy_seq(out, a, 0, 0) || !special(out, p->sep, 0)) return false;
    if (b && (!special(out, p->sep, 0) || !copy_seq(out, b, 0, 1) || !special(out, p->sep, 0)))
      return false;
    return true;
  default: return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 1, 1));
  }
}

bool tk_post_process(const post *p, const enc *a, const enc *b, bool add_special, enc *out) {
  if (!chain_trims(p)) return process(p, a, b, add_special, out);
  enc ta = {0}, tb = {0};
  bool ok = with_own_offsets(a, &ta) && (!b || with_own_offsets(b, &tb));
  if (ok) {
    trim_chain(p, &ta);
    if (b) trim_chain(p, &tb);
    ok = process(p, &ta, b ? &tb : NULL, add_special, out);
  }
  free(ta.off); /* NULL or this call's copy */
  free(tb.off);
  return ok;
}

void tk_post_free(post *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nsingle; i++) free(p->single[i].ids);
  for (size_t i = 0; i < p->npair; i++) free(p->pair[i].ids);
  free(p->single);
  free(p->pair);
  for (size_t i = 0; i < p->nsub; i++) tk_post_free(p->sub[i]);
  free(p->sub);
  free(p);
}

/* ------------------------------------------------------------ add_bos_token / add_eos_token */

/* The transformers 4.x classes that rebuild their post-processor from
 * add_bos_token / add_eos_token in __init__ (update_post_processor), with
 * their defaults when the config leaves a flag or token out: bos on, eos
 * off. Every other class keeps tokenizer.json's post-processor.
 * transformers 5 (checked: 5.17) instead drops both flags when a
 * tokenizer.json is present and keeps its post-processor for these classes
 * too (only CodeLlama, rebuilding with its defaults, differs); mlxc follows
 * 4.x, so an edited config (say add_eos_token: true on a Llama-2 file) is
 * honoured. */
static const struct {
  const char *cls, *bos, *eos;
} rebuild_classes[] = {
    {"LlamaTokenizer", "<s>", "</s>"},
    {"CodeLlamaTokenizer", "<s>", "</s>"},
    {"GemmaTokenizer", "<bos>", "<eos>"},
    {"CohereTokenizer", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"},
};

static int rebuild_class(const char *cls) {
  if (!cls) return -1;
  size_t n = strlen(cls);
  if (n > 4 && strcmp(cls + n - 4, "Fast") == 0) n -= 4;
  for (size_t i = 0; i < sizeof rebuild_classes / sizeof *rebuild_classes; i++)
    if (strlen(rebuild_classes[i].cls) == n && memcmp(cls, rebuild_classes[i].cls, n) == 0) return (int)i;
  return -1;
}

/* Python truthiness of a JSON value (transformers reads the flags as-is). */
static bool truthy(const cJSON *v) {
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  if (cJSON_IsNumber(v)) return v->valuedouble != 0;
  if (cJSON_IsString(v)) return v->valuestring[0] != 0;
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) return v->child != NULL;
  return false; /* null */
}

/* bos/eos of the config, or the class default when the key is absent. */
static int32_t config_token(const mx_tokenizer *t, const cJSON *cfg, const char *key, int32_t have,
                            const char *dflt) {
  if (cJSON_GetObjectItemCaseSensitive(cfg, key)) return have;
  return dflt ? tok_lookup(t, dflt, strlen(dflt)) : -1;
}

static bool piece_special(tp_piece *p, int32_t id, int32_t type_id) {
  p->ids = malloc(sizeof *p->ids);
  if (!p->ids) return false;
  p->ids[0] = id;
  p->nids = 1;
  p->type_id = type_id;
  return true;
}

/* transformers' update_post_processor:
 *   single = [bos:0] $A:0 [eos:0]
 *   pair   = [bos:0] $A:0 [eos:0] [bos:1] $B:1 [eos:1]
 * (bracketed parts only when add_bos / add_eos). */
static post *bos_eos_template(int32_t bos, int32_t eos, bool add_bos, bool add_eos) {
  post *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->type = POST_TEMPLATE;
  p->single = calloc(3, sizeof *p->single);
  p->pair = calloc(6, sizeof *p->pair);
  if (!p->single || !p->pair) goto oom;
  for (int32_t seq = 0; seq < 2; seq++) {
    for (int pass = 0; pass < 2; pass++) { /* pass 0: single (seq A only); 1: pair */
      if (seq == 1 && pass == 0) continue;
      tp_piece *v = pass ? p->pair : p->single;
      size_t *n = pass ? &p->npair : &p->nsingle;
      if (add_bos && !piece_special(&v[(*n)++], bos, seq)) goto oom;
      v[*n].is_seq = true;
      v[*n].seq = seq;
      v[(*n)++].type_id = seq;
      if (add_eos && !piece_special(&v[(*n)++], eos, seq)) goto oom;
    }
  }
  return p;
oom:
  tk_post_free(p);
  return NULL;
}

bool tk_post_from_config(mx_tokenizer *t, const struct cJSON *cfg) {
  if (!cJSON_IsObject(cfg)) return true;
  const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
  const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
  const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
  int k = rebuild_class(cJSON_IsString(cls) ? cls->valuestring : NULL);
  if (k < 0) return true;
  bool add_bos = ab ? truthy(ab) : true;
  bool add_eos = ae ? truthy(ae) : false;
  int32_t bos = config_token(t, cfg, "bos_token", t->bos, rebuild_classes[k].bos);
  int32_t eos = config_token(t, cfg, "eos_token", t->eos, rebuild_classes[k].eos);
  /* A token that is null or unknown turns its flag off (transformers raises
   * for null, and fails on an unknown one). */
  if (bos < 0) add_bos = false;
  if (eos < 0) add_eos = false;
  if (t->bos < 0) t->bos = bos; /* transformers' bos_token_id is the class default's */
  if (t->eos < 0) t->eos = eos;
  post *p = bos_eos_template(bos, eos, add_bos, add_eos);
  if (!p) return false;
  tk_post_free(t->post);
  t->post = p;
  return true;
}
