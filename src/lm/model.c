/* model.c — mx_lm_load and the model handle: read the config (config.json,
 * or a GGUF file's metadata mapped to one), pick the architecture, let it
 * take its weights, and refuse weights nobody took (mlx-lm loads strictly). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "lm_internal.h"
#include "mlxc/chat_template.h"
#include "mlxc/tokenizer.h"

static bool is_gguf_file(const char *path) {
  size_t n = strlen(path);
  if (n >= 5 && strcmp(path + n - 5, ".gguf") == 0) return true;
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char magic[4] = {0};
  bool ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "GGUF", 4) == 0;
  fclose(f);
  return ok;
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static mx_status finish(mx_lm_model *m, const cJSON *cfg, lm_weights *w, const lm_quant_cfg *q) {
  const char *type;
  mx_status st = lm_cfg_string(cfg, "model_type", NULL, &type, "config");
  if (st) return st;
  if (!type) return set_error(MX_ERR_FORMAT, "load %s: config has no \"model_type\"", w->path);
  m->arch = lm_arch_find(type);
  if (!m->arch) return mx_last_error_code();
  w->used = calloc((size_t)(w->count > 0 ? w->count : 1), sizeof *w->used);
  if (!w->used) return set_error(MX_ERR_OOM, "load %s: out of memory", w->path);
  m->impl = m->arch->create(cfg, w, q);
  if (!m->impl) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_INTERNAL;
  if ((st = lm_weights_check_unused(w))) return st;
  if ((st = lm_cfg_ids(cJSON_GetObjectItemCaseSensitive(cfg, "eos_token_id"), &m->eos_ids,
                       &m->n_eos, "config eos_token_id")))
    return st;
  int64_t bos;
  if ((st = lm_cfg_int(cfg, "bos_token_id", -1, &bos, "config"))) return st;
  m->bos_id = bos >= 0 && bos <= INT32_MAX ? (int32_t)bos : -1;
  return MX_OK;
}

static mx_status load_gguf(mx_lm_model *m, const char *path) {
  lm_weights w = {.kind = LM_SRC_GGUF, .path = path};
  w.gguf = mx_gguf_open(path);
  if (!w.gguf) return mx_last_error_code();
  mx_status st;
  cJSON *cfg = lm_gguf_config(w.gguf, path, &w.gguf_map);
  if (!cfg) {
    st = mx_last_error_code();
  } else {
    w.count = mx_gguf_tensor_count(w.gguf);
    st = finish(m, cfg, &w, NULL);
  }
  cJSON_Delete(cfg);
  cJSON_Delete(w.gguf_map);
  free(w.used);
  /* Tensors borrow the mapping and keep it alive on their own. */
  mx_gguf_close(w.gguf);
  return st;
}

static mx_status load_folder(mx_lm_model *m, const char *path) {
  char *cpath = join(path, "config.json");
  char *gpath = join(path, "generation_config.json");
  lm_weights w = {.kind = LM_SRC_SAFETENSORS, .path = path};
  cJSON *cfg = NULL, *gen = NULL;
  mx_status st = MX_OK;
  if (!cpath || !gpath) {
    st = set_error(MX_ERR_OOM, "load %s: out of memory", path);
    goto done;
  }
  if (!(cfg = lm_json_load_file(cpath))) {
    st = mx_last_error_code();
    goto done;
  }
  if (!(w.st = mx_weights_open(path))) {
    st = mx_last_error_code();
    goto done;
  }
  w.count = mx_weights_count(w.st);
  lm_quant_cfg q = {cJSON_GetObjectItemCaseSensitive(cfg, "quantization")};
  if (!q.q) q.q = cJSON_GetObjectItemCaseSensitive(cfg, "quantization_config");
  if (q.q && !cJSON_IsObject(q.q)) {
    st = set_error(MX_ERR_FORMAT, "load %s: config quantization must be an object", path);
    goto done;
  }
  if ((st = finish(m, cfg, &w, &q))) goto done;
  /* generation_config.json's eos ids join config.json's (as mlx-lm's
   * tokenizer wrapper does). */
  struct stat sb;
  if (stat(gpath, &sb) == 0) {
    if (!(gen = lm_json_load_file(gpath))) {
      st = mx_last_error_code();
      goto done;
    }
    st = lm_cfg_ids(cJSON_GetObjectItemCaseSensitive(gen, "eos_token_id"), &m->eos_ids,
                    &m->n_eos, "generation_config eos_token_id");
  }
done:
  cJSON_Delete(cfg);
  cJSON_Delete(gen);
  free(w.used);
  mx_weights_close(w.st);
  free(cpath);
  free(gpath);
  return st;
}

mx_lm_model *mx_lm_load(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "lm load: NULL path");
    return NULL;
  }
  struct stat sb;
  if (stat(path, &sb) != 0) {
    set_error(MX_ERR_IO, "lm load: cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  mx_lm_model *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "lm load: out of memory");
    return NULL;
  }
  m->bos_id = -1;
  if (!(m->path = strdup(path))) {
    free(m);
    set_error(MX_ERR_OOM, "lm load: out of memory");
    return NULL;
  }
  mx_status st;
  if (S_ISDIR(sb.st_mode)) {
    st = load_folder(m, path);
  } else if (is_gguf_file(path)) {
    st = load_gguf(m, path);
  } else {
    st = set_error(MX_ERR_INVALID_ARG, "lm load: %s is neither a model folder nor a .gguf file",
                   path);
  }
  if (st) {
    mx_lm_free(m);
    return NULL;
  }
  return m;
}

void mx_lm_free(mx_lm_model *m) {
  if (!m) return;
  if (m->arch && m->impl) m->arch->destroy(m->impl);
  free(m->eos_ids);
  free(m->path);
  mx_tokenizer_free(m->tokenizer);
  mx_chat_template_free(m->chat_template);
  free(m);
}

/* The tokenizer and template are loaded lazily into a model that is
 * otherwise read-only and may be shared by threads: one lock for all models
 * (loading happens once per model, so contention does not matter). */
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

const struct mx_tokenizer *mx_lm_tokenizer(const mx_lm_model *cm) {
  if (!cm) {
    set_error(MX_ERR_INVALID_ARG, "lm tokenizer: NULL model");
    return NULL;
  }
  mx_lm_model *m = (mx_lm_model *)cm;
  pthread_mutex_lock(&lazy_lock);
  bool first = !m->tokenizer_tried;
  if (first) {
    m->tokenizer_tried = true;
    m->tokenizer = mx_tokenizer_load(m->path);
  }
  mx_tokenizer *t = m->tokenizer;
  pthread_mutex_unlock(&lazy_lock);
  /* The first failure keeps the loader's own message. */
  if (!t && !first)
    set_error(MX_ERR_IO, "lm tokenizer: no usable tokenizer with the model %s", m->path);
  return t;
}

/* A folder's template (chat_template.jinja / .json / tokenizer_config.json,
 * which also supplies the special-token variables), or a GGUF's
 * tokenizer.chat_template. NULL without an error when there is none. */
static mx_chat_template *load_template(const char *path) {
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    mx_chat_template *t = mx_chat_template_load_file(path, NULL);
    if (!t && mx_last_error_code() == MX_ERR_IO) mx_clear_error();
    return t;
  }
  mx_gguf *g = mx_gguf_open(path);
  if (!g) return NULL;
  int64_t k = mx_gguf_find_key(g, "tokenizer.chat_template");
  const char *s;
  size_t n;
  mx_chat_template *t = NULL;
  if (k >= 0 && mx_gguf_get_string(g, k, &s, &n) == MX_OK) t = mx_chat_template_load(s, n);
  mx_gguf_close(g);
  return t;
}

const struct mx_chat_template *mx_lm_chat_template(const mx_lm_model *cm) {
  if (!cm) {
    set_error(MX_ERR_INVALID_ARG, "lm chat template: NULL model");
    return NULL;
  }
  mx_lm_model *m = (mx_lm_model *)cm;
  pthread_mutex_lock(&lazy_lock);
  if (!m->template_tried) {
    m->template_tried = true;
    m->chat_template = load_template(m->path);
  }
  mx_chat_template *t = m->chat_template;
  pthread_mutex_unlock(&lazy_lock);
  if (!t) set_error(MX_ERR_UNSUPPORTED, "lm chat template: the model %s has no chat template",
                    m->path);
  return t;
}

const char *mx_lm_model_type(const mx_lm_model *m) { return m ? m->arch->name : NULL; }
int64_t mx_lm_vocab_size(const mx_lm_model *m) { return m ? m->arch->vocab_size(m->impl) : 0; }
int64_t mx_lm_num_layers(const mx_lm_model *m) { return m ? m->arch->num_layers(m->impl) : 0; }
mx_dtype mx_lm_dtype(const mx_lm_model *m) { return m ? m->arch->dtype(m->impl) : MX_FLOAT32; }
uint64_t mx_lm_weight_bytes(const mx_lm_model *m) {
  return m ? m->arch->weight_bytes(m->impl) : 0;
}
int32_t mx_lm_bos_id(const mx_lm_model *m) { return m ? m->bos_id : -1; }

size_t mx_lm_eos_ids(const mx_lm_model *m, const int32_t **ids) {
  if (ids) *ids = m ? m->eos_ids : NULL;
  return m ? m->n_eos : 0;
}

mx_array mx_lm_forward(const mx_lm_model *m, mx_array tokens, mx_lm_cache *cache) {
  if (!m) {
    set_error(MX_ERR_INVALID_ARG, "lm forward: NULL model");
    return NULL;
  }
  return m->arch->forward(m->impl, tokens, cache);
}
