/* tokenizer_post.c — HF post-processors (TemplateProcessing, BertProcessing,
 * RobertaProcessing, ByteLevel, Sequence): where special tokens go around
 * one sequence or a pair, with type ids. ByteLevel only trims offsets in HF
 * and leaves ids alone; here it is the identity. */
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

bool tk_post_process(const post *p0, const enc *a, const enc *b, bool add_special, enc *out) {
  const post *p = add_special ? layout(p0) : NULL;
  if (!p) return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 1, 1));
  switch (p->type) {
  case POST_TEMPLATE: {
    const tp_piece *v = b ? p->pair : p->single;
    size_t k = b ? p->npair : p->nsingle;
    for (size_t i = 0; i < k; i++) {
      if (v[i].is_seq) {
        const enc *x = v[i].seq == 0 ? a : b;
        if (x && !copy_seq(out, x, v[i].type_id, (int8_t)v[i].seq)) return false;
      } else {
        for (size_t j = 0; j < v[i].nids; j++)
          if (!special(out, v[i].ids[j], v[i].type_id)) return false;
      }
    }
    return true;
  }
  case POST_BERT:
    if (!special(out, p->cls, 0) || !copy_seq(out, a, 0, 0) || !special(out, p->sep, 0)) return false;
    if (b && (!copy_seq(out, b, 1, 1) || !special(out, p->sep, 1))) return false;
    return true;
  case POST_ROBERTA:
    if (!special(out, p->cls, 0) || !copy_seq(out, a, 0, 0) || !special(out, p->sep, 0)) return false;
    if (b && (!special(out, p->sep, 1) || !copy_seq(out, b, 1, 1) || !special(out, p->sep, 1)))
      return false;
    return true;
  default: return copy_seq(out, a, 0, 0) && (!b || copy_seq(out, b, 1, 1));
  }
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
