/* text_generate.c — text in, streamed text out (mlx-lm's stream_generate
 * plus the server's stop strings and logprobs): the prompt goes through the
 * chat template and the tokenizer, generated tokens through the streaming
 * detokenizer, and the text through a stop-string filter that holds back
 * any tail that could still grow into a stop string, so a partial stop
 * string is never delivered and then taken back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "lm_generate.h"
#include "mlxc/chat_template.h"
#include "mlxc/ops.h"
#include "mlxc/tokenizer.h"

mx_lm_text_params mx_lm_text_default_params(void) {
  mx_lm_text_params p;
  memset(&p, 0, sizeof p);
  p.size = sizeof p;
  p.gen = mx_lm_generate_default_params();
  p.use_chat_template = true;
  return p;
}

mx_status lm_text_params(const mx_lm_text_params *pp, mx_lm_text_params *out, const char *what) {
  mx_lm_text_params p = mx_lm_text_default_params();
  if (pp) {
    if (pp->size < offsetof(mx_lm_text_params, gen) + sizeof(size_t) || pp->size > sizeof p)
      return set_error(MX_ERR_INVALID_ARG, "%s: params.size %zu is not a known version", what,
                       pp->size);
    memcpy(&p, pp, pp->size);
    p.size = sizeof p;
  }
  mx_status st = lm_gen_params(&p.gen, &p.gen, what);
  if (st) return st;
  if (p.top_logprobs < 0 || p.top_logprobs > 20)
    return set_error(MX_ERR_INVALID_ARG, "%s: top_logprobs %d must be in [0, 20]", what,
                     (int)p.top_logprobs);
  if (p.n_stop && !p.stop)
    return set_error(MX_ERR_INVALID_ARG, "%s: n_stop %zu with NULL stop", what, p.n_stop);
  for (size_t i = 0; i < p.n_stop; i++)
    if (!p.stop[i] || !p.stop[i][0])
      return set_error(MX_ERR_INVALID_ARG, "%s: stop string %zu is %s", what, i,
                       p.stop[i] ? "empty" : "NULL");
  *out = p;
  return MX_OK;
}

static bool is_folder(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void add_special_var(cJSON *o, const mx_tokenizer *tok, const char *name, int32_t id) {
  size_t len;
  const char *s = id >= 0 ? mx_tokenizer_id_to_token(tok, id, &len) : NULL;
  if (!s) return;
  char *z = malloc(len + 1);
  if (!z) return;
  memcpy(z, s, len);
  z[len] = 0;
  cJSON_AddStringToObject(o, name, z);
  free(z);
}

mx_status lm_render_chat(const mx_lm_model *m, const cJSON *messages, char **text, size_t *len) {
  *text = NULL;
  const mx_chat_template *t = mx_lm_chat_template(m);
  if (!t) return mx_last_error_code();
  cJSON *extra = cJSON_CreateObject();
  if (!extra) return set_error(MX_ERR_OOM, "chat: out of memory");
  /* A folder's tokenizer_config.json supplies the special-token variables;
   * a GGUF file has only its vocabulary to name them. */
  if (!is_folder(m->path)) {
    const mx_tokenizer *tok = mx_lm_tokenizer(m);
    if (tok) {
      add_special_var(extra, tok, "bos_token", mx_tokenizer_bos_id(tok));
      add_special_var(extra, tok, "eos_token", mx_tokenizer_eos_id(tok));
    }
    mx_clear_error();
  }
  char *mj = cJSON_PrintUnformatted(messages), *ej = cJSON_PrintUnformatted(extra);
  cJSON_Delete(extra);
  mx_status st;
  if (!mj || !ej)
    st = set_error(MX_ERR_OOM, "chat: out of memory");
  else
    st = mx_chat_template_apply(t, mj, NULL, 1, ej, NULL, text, len);
  free(mj);
  free(ej);
  return st;
}

mx_status lm_encode_prompt(const mx_tokenizer *tok, const mx_lm_model *m, const char *text,
                           size_t len, int32_t **ids, size_t *n) {
  *ids = NULL;
  *n = 0;
  size_t blen = 0;
  int32_t bos = mx_tokenizer_bos_id(tok);
  const char *btext = bos >= 0 ? mx_tokenizer_id_to_token(tok, bos, &blen) : NULL;
  bool add_special = !btext || blen == 0 || len < blen || memcmp(text, btext, blen) != 0;
  mx_status st = mx_tokenizer_encode(tok, text, len, add_special, ids, n);
  if (st) return st;
  if (*n == 0) {
    if (bos < 0) bos = mx_lm_bos_id(m);
    if (bos < 0) {
      free(*ids);
      *ids = NULL;
      return set_error(MX_ERR_INVALID_ARG, "generate: the prompt is empty and the model has no "
                       "BOS token");
    }
    int32_t *one = realloc(*ids, sizeof *one);
    if (!one) {
      free(*ids);
      *ids = NULL;
      return set_error(MX_ERR_OOM, "generate: out of memory");
    }
    one[0] = bos;
    *ids = one;
    *n = 1;
  }
  return MX_OK;
}

/* ------------------------------------------------------------ streaming */

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static bool buf_add(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) return false;
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return true;
}

typedef struct stream {
  const mx_lm_text_params *p;
  mx_detokenizer *dt;
  buf pending; /* decoded text not yet delivered */
  buf reply;   /* everything delivered */
  int32_t *toks;
  size_t ntoks, captoks;
  bool stop_string, stop_cb;
  mx_status err;
  int32_t top_ids[20];
  float top_lp[20];
} stream;

/* Earliest start of any stop string in s[0..n), or n. */
static size_t find_stop(const stream *s, const char *t, size_t n) {
  size_t best = n;
  for (size_t i = 0; i < s->p->n_stop; i++) {
    const char *st = s->p->stop[i];
    size_t k = strlen(st);
    for (size_t j = 0; j + k <= n && j < best; j++)
      if (memcmp(t + j, st, k) == 0) {
        best = j;
        break;
      }
  }
  return best;
}

/* Length of the longest tail of t[0..n) that is a proper prefix of a stop
 * string: text that could still turn into one. */
static size_t held_tail(const stream *s, const char *t, size_t n) {
  size_t hold = 0;
  for (size_t i = 0; i < s->p->n_stop; i++) {
    const char *st = s->p->stop[i];
    size_t k = strlen(st);
    for (size_t h = (k - 1 < n ? k - 1 : n); h > hold; h--)
      if (memcmp(t + n - h, st, h) == 0) {
        hold = h;
        break;
      }
  }
  return hold;
}

/* Delivers the first len bytes of pending as one chunk and keeps the rest. */
static int emit(stream *s, size_t len, mx_lm_chunk *c) {
  c->text = s->pending.p ? s->pending.p : "";
  c->len = len;
  if (len && !buf_add(&s->reply, s->pending.p, len)) {
    s->err = set_error(MX_ERR_OOM, "generate: out of memory");
    return 1;
  }
  int r = s->p->on_text ? s->p->on_text(s->p->user, c) : 0;
  memmove(s->pending.p, s->pending.p + len, s->pending.n - len);
  s->pending.n -= len;
  if (s->pending.p) s->pending.p[s->pending.n] = 0;
  return r;
}

/* Appends new text and delivers what can no longer start a stop string.
 * Returns nonzero to stop. */
static int push_text(stream *s, const char *t, size_t n, mx_lm_chunk *c, bool final) {
  if (!buf_add(&s->pending, t, n)) {
    s->err = set_error(MX_ERR_OOM, "generate: out of memory");
    return 1;
  }
  size_t at = find_stop(s, s->pending.p, s->pending.n);
  if (at < s->pending.n) {
    s->stop_string = true;
    emit(s, at, c);
    return 1;
  }
  size_t hold = final ? 0 : held_tail(s, s->pending.p, s->pending.n);
  if (final && s->pending.n == 0) return 0;
  if (emit(s, s->pending.n - hold, c)) {
    s->stop_cb = true;
    return 1;
  }
  return 0;
}

/* The token's log-probability and the best top_logprobs of the step. */
static mx_status score(stream *s, int32_t token, mx_array logprobs, mx_lm_chunk *c) {
  mx_array f = mx_astype(logprobs, MX_FLOAT32);
  mx_status st = f ? mx_eval(&f, 1) : mx_last_error_code();
  const float *v = st ? NULL : mx_array_data(f);
  if (!v) {
    mx_array_free(f);
    return st ? st : (mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL);
  }
  int64_t V = mx_array_size(f);
  c->logprob = token >= 0 && token < V ? v[token] : -INFINITY;
  size_t k = (size_t)s->p->top_logprobs, have = 0;
  /* Best first; an equal value keeps the lower id ahead. */
  for (int64_t i = 0; i < V && k; i++) {
    float x = v[i];
    if (isnan(x) || (have == k && !(x > s->top_lp[k - 1]))) continue;
    size_t j = have < k ? have++ : k - 1;
    while (j > 0 && x > s->top_lp[j - 1]) {
      s->top_lp[j] = s->top_lp[j - 1];
      s->top_ids[j] = s->top_ids[j - 1];
      j--;
    }
    s->top_lp[j] = x;
    s->top_ids[j] = (int32_t)i;
  }
  c->top_ids = have ? s->top_ids : NULL;
  c->top_logprobs = have ? s->top_lp : NULL;
  c->n_top = have;
  mx_array_free(f);
  return MX_OK;
}

static int on_token(void *user, int32_t token, mx_array logprobs, bool from_draft, bool eos) {
  stream *s = user;
  if (s->ntoks == s->captoks) {
    size_t cap = s->captoks ? 2 * s->captoks : 256;
    int32_t *t = realloc(s->toks, cap * sizeof *t);
    if (!t) {
      s->err = set_error(MX_ERR_OOM, "generate: out of memory");
      return 1;
    }
    s->toks = t;
    s->captoks = cap;
  }
  s->toks[s->ntoks++] = token;
  if (eos) return 0;
  mx_lm_chunk c = {.token = token, .from_draft = from_draft};
  if ((s->err = score(s, token, logprobs, &c))) return 1;
  if ((s->err = mx_detokenizer_add(s->dt, token))) return 1;
  size_t n;
  const char *seg = mx_detokenizer_last_segment(s->dt, &n);
  return push_text(s, seg ? seg : "", seg ? n : 0, &c, false);
}

mx_status lm_text_run(const mx_lm_model *m, const int32_t *ids, size_t n,
                      const mx_lm_text_params *p, mx_lm_cache *cache, const int32_t *draft_ids,
                      size_t draft_n, mx_lm_cache *draft_cache, lm_text_out *out,
                      mx_lm_generate_stats *stats) {
  if (out) memset(out, 0, sizeof *out);
  const mx_tokenizer *tok = mx_lm_tokenizer(m);
  if (!tok) return mx_last_error_code();
  stream s = {.p = p};
  if (!(s.dt = mx_detokenizer_new(tok))) return mx_last_error_code();
  mx_lm_generate_params gp = p->gen;
  gp.callback = NULL;
  /* End of sequence: the model's ids and the tokenizer's (which know
   * generation_config.json), unless the caller named them. */
  int32_t *eos = NULL;
  mx_status st = MX_OK;
  if (!gp.eos_ids) {
    const int32_t *a, *b;
    size_t na = mx_lm_eos_ids(m, &a), nb = mx_tokenizer_eos_ids(tok, &b), ne = 0;
    eos = malloc((na + nb + 1) * sizeof *eos);
    if (!eos) {
      mx_detokenizer_free(s.dt);
      return set_error(MX_ERR_OOM, "generate: out of memory");
    }
    for (size_t i = 0; i < na + nb; i++) {
      int32_t id = i < na ? a[i] : b[i - na];
      bool dup = false;
      for (size_t j = 0; j < ne; j++) dup |= eos[j] == id;
      if (!dup) eos[ne++] = id;
    }
    gp.eos_ids = eos;
    gp.n_eos_ids = ne;
  }
  mx_lm_generate_stats gs;
  st = lm_generate_tokens(m, ids, n, &gp, cache, draft_ids, draft_n, draft_cache, on_token, &s,
                          &gs);
  if (!st && s.err) st = s.err;
  if (!st && !s.stop_string) {
    /* The detokenizer's last piece, then whatever was held back. */
    if (!(st = mx_detokenizer_finalize(s.dt))) {
      size_t k;
      const char *seg = mx_detokenizer_last_segment(s.dt, &k);
      mx_lm_chunk c = {.token = -1};
      push_text(&s, seg ? seg : "", seg ? k : 0, &c, true);
      if (s.err) st = s.err;
    }
  }
  if (!st) {
    if (s.stop_string) gs.finish = MX_LM_FINISH_STOP;
    else if (s.stop_cb) gs.finish = MX_LM_FINISH_CALLBACK;
  } else {
    gs.finish = MX_LM_FINISH_NONE;
  }
  if (stats) *stats = gs;
  if (out && !st) {
    if (!s.reply.p && !buf_add(&s.reply, "", 0)) {
      st = set_error(MX_ERR_OOM, "generate: out of memory");
    } else {
      out->reply = s.reply.p;
      out->reply_len = s.reply.n;
      s.reply.p = NULL;
    }
  }
  if (out) {
    /* The tokens are what the cache saw, wanted even after a failure. */
    out->tokens = s.toks;
    out->ntokens = s.ntoks;
    s.toks = NULL;
  }
  free(s.toks);
  free(s.reply.p);
  free(s.pending.p);
  free(eos);
  mx_detokenizer_free(s.dt);
  return st;
}

/* ------------------------------------------------------------ public */

static cJSON *message(const char *role, const char *content) {
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "role", role) ||
            !cJSON_AddStringToObject(o, "content", content))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Templates the messages (or takes the raw prompt) and generates. */
static mx_status run_prompt(const mx_lm_model *m, const mx_lm_text_params *p, cJSON *msgs,
                            const char *raw, mx_lm_generate_stats *stats) {
  const mx_tokenizer *tok = mx_lm_tokenizer(m);
  if (!tok) return mx_last_error_code();
  char *text = NULL;
  size_t len = 0;
  mx_status st;
  if (msgs) {
    st = lm_render_chat(m, msgs, &text, &len);
  } else {
    text = strdup(raw);
    len = strlen(raw);
    st = text ? MX_OK : set_error(MX_ERR_OOM, "generate: out of memory");
  }
  if (st) return st;
  int32_t *ids = NULL;
  size_t n = 0;
  st = lm_encode_prompt(tok, m, text, len, &ids, &n);
  if (msgs) mx_string_free(text);
  else free(text);
  if (!st) st = lm_text_run(m, ids, n, p, NULL, NULL, 0, NULL, NULL, stats);
  free(ids);
  return st;
}

mx_status mx_lm_generate_text(const mx_lm_model *m, const char *prompt,
                              const mx_lm_text_params *pp, mx_lm_generate_stats *stats) {
  if (stats) memset(stats, 0, sizeof *stats);
  if (!m || !prompt)
    return set_error(MX_ERR_INVALID_ARG, "generate_text: NULL %s", !m ? "model" : "prompt");
  mx_lm_text_params p;
  mx_status st = lm_text_params(pp, &p, "generate_text");
  if (st) return st;
  bool templ = p.use_chat_template && mx_lm_chat_template(m) != NULL;
  mx_clear_error();
  if (!templ) return run_prompt(m, &p, NULL, prompt, stats);
  cJSON *msgs = cJSON_CreateArray();
  cJSON *sys = p.system_prompt ? message("system", p.system_prompt) : NULL;
  cJSON *user = message("user", prompt);
  if (!msgs || !user || (p.system_prompt && !sys)) {
    cJSON_Delete(msgs);
    cJSON_Delete(sys);
    cJSON_Delete(user);
    return set_error(MX_ERR_OOM, "generate_text: out of memory");
  }
  if (sys) cJSON_AddItemToArray(msgs, sys);
  cJSON_AddItemToArray(msgs, user);
  st = run_prompt(m, &p, msgs, NULL, stats);
  cJSON_Delete(msgs);
  return st;
}

mx_status mx_lm_generate_chat(const mx_lm_model *m, const char *messages_json,
                              const mx_lm_text_params *pp, mx_lm_generate_stats *stats) {
  if (stats) memset(stats, 0, sizeof *stats);
  if (!m || !messages_json)
    return set_error(MX_ERR_INVALID_ARG, "generate_chat: NULL %s", !m ? "model" : "messages");
  mx_lm_text_params p;
  mx_status st = lm_text_params(pp, &p, "generate_chat");
  if (st) return st;
  if (!p.use_chat_template)
    return set_error(MX_ERR_INVALID_ARG, "generate_chat: messages need the chat template "
                     "(use_chat_template is off)");
  cJSON *msgs = cJSON_Parse(messages_json);
  if (!cJSON_IsArray(msgs)) {
    cJSON_Delete(msgs);
    return set_error(MX_ERR_INVALID_ARG, "generate_chat: messages_json must be a JSON array "
                     "of {\"role\", \"content\"} objects");
  }
  /* The system prompt goes first unless the messages bring their own. */
  cJSON *first = cJSON_GetArrayItem(msgs, 0);
  const cJSON *role = first ? cJSON_GetObjectItemCaseSensitive(first, "role") : NULL;
  if (p.system_prompt && !(cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0)) {
    cJSON *sys = message("system", p.system_prompt);
    if (!sys || !cJSON_InsertItemInArray(msgs, 0, sys)) {
      cJSON_Delete(sys);
      cJSON_Delete(msgs);
      return set_error(MX_ERR_OOM, "generate_chat: out of memory");
    }
  }
  st = run_prompt(m, &p, msgs, NULL, stats);
  cJSON_Delete(msgs);
  return st;
}
