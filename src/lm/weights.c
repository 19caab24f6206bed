/* weights.c — one view of a model's tensors by Hugging Face name, whether
 * they live in safetensors shards or in a GGUF file, with bookkeeping of
 * which tensors the architecture took so that leftovers can be named (as
 * mlx-lm's strict load_weights does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"

static const char *src_name(const lm_weights *w, int64_t i) {
  return w->kind == LM_SRC_GGUF ? mx_gguf_tensor_name(w->gguf, i) : mx_weights_name(w->st, i);
}

int64_t lm_weights_find(const lm_weights *w, const char *name) {
  if (w->kind == LM_SRC_GGUF) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(w->gguf_map, name);
    if (!m || !cJSON_IsString(m)) return -1;
    return mx_gguf_find_tensor(w->gguf, m->valuestring);
  }
  for (int64_t i = 0; i < w->count; i++)
    if (strcmp(mx_weights_name(w->st, i), name) == 0) return i;
  return -1;
}

bool lm_weights_has(const lm_weights *w, const char *name) { return lm_weights_find(w, name) >= 0; }

mx_array lm_weights_take(lm_weights *w, const char *name) {
  int64_t i = lm_weights_find(w, name);
  if (i < 0) {
    set_error(MX_ERR_FORMAT, "load %s: missing weight \"%s\"", w->path, name);
    return NULL;
  }
  w->used[i] = true;
  if (w->kind == LM_SRC_GGUF) return lm_own(mx_gguf_tensor(w->gguf, i));
  return lm_own(mx_weights_get(w->st, name));
}

mx_ggml_type lm_weights_ggml_type(const lm_weights *w, const char *name) {
  if (w->kind != LM_SRC_GGUF) return MX_GGML_F32;
  int64_t i = lm_weights_find(w, name);
  return i < 0 ? MX_GGML_F32 : mx_gguf_tensor_type(w->gguf, i);
}

void lm_weights_ignore(lm_weights *w, const char *name) {
  int64_t i = lm_weights_find(w, name);
  if (i >= 0) w->used[i] = true;
}

mx_status lm_weights_check_unused(const lm_weights *w) {
  char list[512];
  size_t len = 0;
  int64_t n = 0;
  list[0] = 0;
  for (int64_t i = 0; i < w->count; i++) {
    if (w->used[i]) continue;
    if (n < 5 && len < sizeof list) {
      int k = snprintf(list + len, sizeof list - len, "%s\"%s\"", n ? ", " : "", src_name(w, i));
      if (k > 0) len += (size_t)k;
    }
    n++;
  }
  if (!n) return MX_OK;
  return set_error(MX_ERR_FORMAT, "load %s: %lld weight(s) not used by the model: %s%s", w->path,
                   (long long)n, list, n > 5 ? ", ..." : "");
}
