/* chat_session.c — a conversation that keeps its KV cache between turns.
 * Each turn renders the whole conversation with the chat template (so the
 * prompt is exactly what a fresh generation would see), compares its tokens
 * with those the cache holds, keeps the longest common prefix (trimming the
 * rest; a cache that cannot trim is rebuilt) and prefills only the new
 * tokens. The tokens the cache holds are tracked as "the rendered prompt
 * and the generated tokens, cut to the cache's offset", which stays true
 * however a generation ended. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_generate.h"
#include "mlxc/chat_template.h"
#include "mlxc/tokenizer.h"

struct mx_lm_chat {
  const mx_lm_model *m;
  cJSON *messages;
  mx_lm_cache_params cache_params;
  bool has_cache_params;
  mx_lm_cache *cache;
  int32_t *hist; /* the tokens the cache (and the draft cache) hold, in order */
  size_t nhist;
  const mx_lm_model *draft;
  mx_lm_cache *draft_cache;
};

static cJSON *message(const char *role, const char *content) {
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "role", role) ||
            !cJSON_AddStringToObject(o, "content", content))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

mx_lm_chat *mx_lm_chat_new(const mx_lm_model *m, const char *system_prompt,
                           const mx_lm_cache_params *cache_params) {
  if (!m) {
    set_error(MX_ERR_INVALID_ARG, "chat: NULL model");
    return NULL;
  }
  if (!mx_lm_chat_template(m) || !mx_lm_tokenizer(m)) return NULL;
  mx_lm_chat *c = calloc(1, sizeof *c);
  if (!c || !(c->messages = cJSON_CreateArray())) {
    free(c);
    set_error(MX_ERR_OOM, "chat: out of memory");
    return NULL;
  }
  c->m = m;
  if (cache_params) {
    if (cache_params->size < sizeof(size_t) || cache_params->size > sizeof c->cache_params) {
      set_error(MX_ERR_INVALID_ARG, "chat: cache_params.size %zu is not a known version",
                cache_params->size);
      mx_lm_chat_free(c);
      return NULL;
    }
    c->cache_params = mx_lm_cache_default_params();
    memcpy(&c->cache_params, cache_params, cache_params->size);
    c->cache_params.size = sizeof c->cache_params;
    c->has_cache_params = true;
  }
  if (system_prompt) {
    cJSON *sys = message("system", system_prompt);
    if (!sys) {
      set_error(MX_ERR_OOM, "chat: out of memory");
      mx_lm_chat_free(c);
      return NULL;
    }
    cJSON_AddItemToArray(c->messages, sys);
  }
  return c;
}

void mx_lm_chat_free(mx_lm_chat *c) {
  if (!c) return;
  cJSON_Delete(c->messages);
  mx_lm_cache_free(c->cache);
  mx_lm_cache_free(c->draft_cache);
  free(c->hist);
  free(c);
}

int64_t mx_lm_chat_cached_tokens(const mx_lm_chat *c) {
  return c && c->cache ? mx_lm_cache_offset(c->cache) : 0;
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
  size_t i = 0;
  while (i < na && i < nb && a[i] == b[i]) i++;
  return i;
}

/* Makes *cache hold the first `want` tokens of what it holds now (given
 * that it holds hist[0..offset)), trimming, or rebuilding when it cannot
 * trim. Returns the positions kept. */
static mx_status reuse(mx_lm_chat *c, const mx_lm_model *m, mx_lm_cache **cache, size_t want,
                       size_t *kept) {
  *kept = 0;
  if (*cache) {
    int64_t off = mx_lm_cache_offset(*cache);
    if (off > (int64_t)c->nhist) off = -1; /* unknown content: start over */
    if (off > (int64_t)want) {
      int64_t drop = off - (int64_t)want;
      if (!mx_lm_cache_can_trim(*cache) || mx_lm_cache_trim(*cache, drop) != drop ||
          mx_lm_cache_offset(*cache) != (int64_t)want)
        off = -1;
      else
        off = (int64_t)want;
    }
    if (off >= 0) {
      *kept = (size_t)off;
      return MX_OK;
    }
    mx_lm_cache_free(*cache);
    *cache = NULL;
  }
  *cache = m == c->m ? lm_cache_make(m, c->has_cache_params ? &c->cache_params : NULL)
                     : mx_lm_cache_new(m);
  return *cache ? MX_OK : mx_last_error_code();
}

mx_status mx_lm_chat_send(mx_lm_chat *c, const char *user_message, const mx_lm_text_params *pp,
                          char **reply, mx_lm_generate_stats *stats) {
  if (reply) *reply = NULL;
  if (stats) memset(stats, 0, sizeof *stats);
  if (!c || !user_message)
    return set_error(MX_ERR_INVALID_ARG, "chat send: NULL %s", !c ? "session" : "message");
  mx_lm_text_params p;
  mx_status st = lm_text_params(pp, &p, "chat send");
  if (st) return st;
  const mx_tokenizer *tok = mx_lm_tokenizer(c->m);
  if (!tok) return mx_last_error_code();
  cJSON *um = message("user", user_message);
  if (!um) return set_error(MX_ERR_OOM, "chat send: out of memory");
  cJSON_AddItemToArray(c->messages, um);

  char *text = NULL;
  size_t len = 0;
  int32_t *ids = NULL;
  size_t n = 0;
  lm_text_out out = {0};
  if ((st = lm_render_chat(c->m, c->messages, &text, &len))) goto fail;
  st = lm_encode_prompt(tok, c->m, text, len, &ids, &n);
  mx_string_free(text);
  if (st) goto fail;

  /* Keep the common prefix, but always leave at least the last prompt
   * token to run: its logits start the reply. */
  size_t lcp = common_prefix(c->hist, c->nhist, ids, n);
  if (lcp >= n) lcp = n - 1;
  size_t kept = 0, dkept = 0;
  if ((st = reuse(c, c->m, &c->cache, lcp, &kept))) goto fail;
  if (p.gen.draft_model != c->draft) {
    mx_lm_cache_free(c->draft_cache);
    c->draft_cache = NULL;
    c->draft = p.gen.draft_model;
  }
  if (c->draft && (st = reuse(c, c->draft, &c->draft_cache, lcp, &dkept))) goto fail;

  st = lm_text_run(c->m, ids + kept, n - kept, &p, c->cache, c->draft ? ids + dkept : NULL,
                   n - dkept, c->draft_cache, &out, stats);
  /* What the caches hold now: the rendered prompt, then what was generated. */
  {
    int32_t *h = realloc(c->hist, (n + out.ntokens + 1) * sizeof *h);
    if (!h) {
      free(c->hist);
      c->hist = NULL;
      c->nhist = 0;
      mx_lm_cache_free(c->cache);
      mx_lm_cache_free(c->draft_cache);
      c->cache = c->draft_cache = NULL;
      if (!st) st = set_error(MX_ERR_OOM, "chat send: out of memory");
    } else {
      memcpy(h, ids, n * sizeof *h);
      if (out.ntokens) memcpy(h + n, out.tokens, out.ntokens * sizeof *h);
      c->hist = h;
      c->nhist = n + out.ntokens;
    }
  }
  if (st) goto fail;
  cJSON *am = message("assistant", out.reply);
  if (!am) {
    st = set_error(MX_ERR_OOM, "chat send: out of memory");
    goto fail;
  }
  cJSON_AddItemToArray(c->messages, am);
  if (reply) {
    *reply = out.reply;
    out.reply = NULL;
  }
  free(out.reply);
  free(out.tokens);
  free(ids);
  return MX_OK;
fail:
  /* The turn did not happen: the conversation stays as it was. */
  cJSON_DeleteItemFromArray(c->messages, cJSON_GetArraySize(c->messages) - 1);
  free(out.reply);
  free(out.tokens);
  free(ids);
  return st;
}
