/* config.c — typed reads of a model's config (config.json, or the config a
 * GGUF file's metadata is mapped to), with errors naming the key. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_internal.h"

static const cJSON *get(const cJSON *cfg, const char *key) {
  const cJSON *v = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, key) : NULL;
  return (v && !cJSON_IsNull(v)) ? v : NULL;
}

mx_status lm_cfg_int(const cJSON *cfg, const char *key, int64_t def, int64_t *out,
                     const char *what) {
  const cJSON *v = get(cfg, key);
  if (!v) {
    *out = def;
    return MX_OK;
  }
  /* JSON numbers are doubles: accept only exact integers in int64 range. */
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
      fabs(v->valuedouble) > 9.0e15)
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" must be an integer", what, key);
  *out = (int64_t)v->valuedouble;
  return MX_OK;
}

mx_status lm_cfg_req_int(const cJSON *cfg, const char *key, int64_t *out, const char *what) {
  if (!get(cfg, key))
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" is missing", what, key);
  mx_status st = lm_cfg_int(cfg, key, 0, out, what);
  if (st) return st;
  if (*out <= 0 || *out > INT32_MAX)
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" = %lld must be positive", what, key,
                     (long long)*out);
  return MX_OK;
}

mx_status lm_cfg_float(const cJSON *cfg, const char *key, double def, double *out,
                       const char *what) {
  const cJSON *v = get(cfg, key);
  if (!v) {
    *out = def;
    return MX_OK;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" must be a finite number", what, key);
  *out = v->valuedouble;
  return MX_OK;
}

mx_status lm_cfg_bool(const cJSON *cfg, const char *key, bool def, bool *out, const char *what) {
  const cJSON *v = get(cfg, key);
  if (!v) {
    *out = def;
    return MX_OK;
  }
  if (!cJSON_IsBool(v))
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" must be true or false", what, key);
  *out = cJSON_IsTrue(v);
  return MX_OK;
}

mx_status lm_cfg_string(const cJSON *cfg, const char *key, const char *def, const char **out,
                        const char *what) {
  const cJSON *v = get(cfg, key);
  if (!v) {
    *out = def;
    return MX_OK;
  }
  if (!cJSON_IsString(v))
    return set_error(MX_ERR_FORMAT, "%s: config key \"%s\" must be a string", what, key);
  *out = v->valuestring;
  return MX_OK;
}

static mx_status push_id(double d, int32_t **ids, size_t *n, const char *what) {
  if (d != floor(d) || d < 0 || d > INT32_MAX)
    return set_error(MX_ERR_FORMAT, "%s: token id %g is not a valid id", what, d);
  for (size_t i = 0; i < *n; i++)
    if ((*ids)[i] == (int32_t)d) return MX_OK;
  int32_t *p = realloc(*ids, (*n + 1) * sizeof *p);
  if (!p) return set_error(MX_ERR_OOM, "%s: out of memory", what);
  p[(*n)++] = (int32_t)d;
  *ids = p;
  return MX_OK;
}

mx_status lm_cfg_ids(const cJSON *v, int32_t **ids, size_t *n, const char *what) {
  if (!v || cJSON_IsNull(v)) return MX_OK;
  if (cJSON_IsNumber(v)) return push_id(v->valuedouble, ids, n, what);
  if (!cJSON_IsArray(v))
    return set_error(MX_ERR_FORMAT, "%s: token ids must be an integer or a list of integers",
                     what);
  const cJSON *e;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsNumber(e))
      return set_error(MX_ERR_FORMAT, "%s: token id list holds a non-number", what);
    mx_status st = push_id(e->valuedouble, ids, n, what);
    if (st) return st;
  }
  return MX_OK;
}

cJSON *lm_json_load_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(MX_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      if (cap > ((size_t)1 << 30)) { /* a config is small; refuse huge files */
        free(buf);
        fclose(f);
        set_error(MX_ERR_FORMAT, "%s: file too large for a JSON config", path);
        return NULL;
      }
      cap = cap ? cap * 2 : 4096;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        set_error(MX_ERR_OOM, "reading %s: out of memory", path);
        return NULL;
      }
      buf = nb;
    }
    size_t r = fread(buf + len, 1, cap - len, f);
    len += r;
    if (r == 0) break;
  }
  bool err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    set_error(MX_ERR_IO, "error reading %s", path);
    return NULL;
  }
  cJSON *root = cJSON_ParseWithLength(buf, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = (at && at >= buf && at <= buf + len) ? (long)(at - buf) : -1;
    free(buf);
    set_error(MX_ERR_FORMAT, "%s: invalid JSON near byte %ld", path, off);
    return NULL;
  }
  free(buf);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    set_error(MX_ERR_FORMAT, "%s: expected a JSON object", path);
    return NULL;
  }
  return root;
}
