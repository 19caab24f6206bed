/* prompt_cache.c — prompt caches on disk, in mlx-lm's save_prompt_cache
 * layout (a safetensors file; tree_flatten'd names):
 *   tensors  "<i>.0", "<i>.1"            keys, values (KVCache, RotatingKVCache)
 *            "<i>.0.<j>", "<i>.1.<j>"    keys / values (packed, scales, biases)
 *                                        (QuantizedKVCache)
 *            "<i>.0.0"                   the convolution state (ArraysCache)
 *   metadata "0.<i>" = ""                (KVCache, ArraysCache: no meta state)
 *            "0.<i>.0..3"                keep, max_size, offset, idx (rotating)
 *            "0.<i>.0..2"                offset, group_size, bits (quantized)
 *            "1.<key>"                   the caller's metadata
 *            "2.<i>"                     the layer's class name
 * plus "1.mlxc_cache", a JSON object with the cache parameters (so a
 * standard layer still becomes quantized at the same point after a reload)
 * and the batch's left padding. Saved arrays are cut to the valid positions
 * (as mlx-lm's `state`); a standard layer's capacity after a load is its
 * offset, and the next update grows it. Files mlx-lm writes load here (the
 * parameters then take their defaults); ours carry the "format" key that
 * mx_save_safetensors always writes. Loading validates every count, kind,
 * shape, dtype and offset, so a bad file gives MX_ERR_FORMAT naming what. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "lm_cache.h"
#include "lm_internal.h"
#include "mlxc/ops.h"

#define PARAMS_KEY "mlxc_cache"

static const char *class_name(lm_cache_kind k) {
  switch (k) {
    case LM_CACHE_ROTATING: return "RotatingKVCache";
    case LM_CACHE_QUANTIZED: return "QuantizedKVCache";
    case LM_CACHE_CONV: return "ArraysCache";
    default: return "KVCache";
  }
}

/* ------------------------------------------------------------ save */

typedef struct strlist {
  char **s;
  size_t n, cap;
} strlist;

/* Appends an owned string (freed on failure). */
static mx_status sl_take(strlist *l, char *str) {
  if (!str) return set_error(MX_ERR_OOM, "save prompt cache: out of memory");
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **s = realloc(l->s, cap * sizeof *s);
    if (!s) {
      free(str);
      return set_error(MX_ERR_OOM, "save prompt cache: out of memory");
    }
    l->s = s;
    l->cap = cap;
  }
  l->s[l->n++] = str;
  return MX_OK;
}

static mx_status sl_add(strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static mx_status sl_add(strlist *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *str = NULL;
  int len = vasprintf(&str, fmt, ap);
  va_end(ap);
  return sl_take(l, len < 0 ? NULL : str);
}

static void sl_free(strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->s[i]);
  free(l->s);
}

typedef struct save_ctx {
  strlist names, mkeys, mvals;
  mx_array *arrays;
  size_t narrays, cap;
} save_ctx;

/* Takes the reference `a`. */
static mx_status add_array(save_ctx *s, mx_array a, const char *fmt, long long i, int j, int k) {
  if (!a) return mx_last_error_code() ? mx_last_error_code() : MX_ERR_OOM;
  if (s->narrays == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    mx_array *n = realloc(s->arrays, cap * sizeof *n);
    if (!n) {
      mx_array_free(a);
      return set_error(MX_ERR_OOM, "save prompt cache: out of memory");
    }
    s->arrays = n;
    s->cap = cap;
  }
  mx_status st = sl_add(&s->names, fmt, i, j, k);
  if (st) {
    mx_array_free(a);
    return st;
  }
  s->arrays[s->narrays++] = a;
  return MX_OK;
}

static mx_status add_meta(save_ctx *s, const char *key, const char *val) {
  mx_status st = sl_add(&s->mkeys, "%s", key);
  if (!st && (st = sl_add(&s->mvals, "%s", val))) free(s->mkeys.s[--s->mkeys.n]);
  return st;
}

/* The caller's entry `key` as "1.<key>". */
static mx_status add_meta2(save_ctx *s, const char *key, const char *val) {
  mx_status st = sl_add(&s->mkeys, "1.%s", key);
  if (!st && (st = sl_add(&s->mvals, "%s", val))) free(s->mkeys.s[--s->mkeys.n]);
  return st;
}

/* The first `upto` positions of a (B, H, n, X) buffer, or the whole one. */
static mx_array valid(mx_array a, int64_t upto) {
  return upto < mx_array_dim(a, 2) ? lm_kv_slice(a, 0, upto) : mx_array_retain(a);
}

static mx_status save_layer(save_ctx *s, const lm_kv_cache *l, long long i) {
  mx_status st = MX_OK;
  char key[64], val[64];
  snprintf(key, sizeof key, "2.%lld", i);
  if ((st = add_meta(s, key, class_name(l->kind)))) return st;
  switch (l->kind) {
    case LM_CACHE_STANDARD:
    case LM_CACHE_ROTATING:
      if (l->keys && ((st = add_array(s, valid(l->keys, l->offset), "%lld.%d", i, 0, 0)) ||
                      (st = add_array(s, valid(l->values, l->offset), "%lld.%d", i, 1, 0))))
        return st;
      if (l->kind == LM_CACHE_STANDARD) {
        snprintf(key, sizeof key, "0.%lld", i);
        return add_meta(s, key, "");
      }
      {
        long long m[4] = {(long long)l->keep, (long long)l->max_size, (long long)l->offset,
                          (long long)l->idx};
        for (int j = 0; j < 4 && !st; j++) {
          snprintf(key, sizeof key, "0.%lld.%d", i, j);
          snprintf(val, sizeof val, "%lld", m[j]);
          st = add_meta(s, key, val);
        }
      }
      return st;
    case LM_CACHE_QUANTIZED:
      for (int j = 0; j < 3 && l->kq[0] && !st; j++)
        if (!(st = add_array(s, valid(l->kq[j], l->offset), "%lld.%d.%d", i, 0, j)))
          st = add_array(s, valid(l->vq[j], l->offset), "%lld.%d.%d", i, 1, j);
      {
        long long m[3] = {(long long)l->offset, l->group_size, l->bits};
        for (int j = 0; j < 3 && !st; j++) {
          snprintf(key, sizeof key, "0.%lld.%d", i, j);
          snprintf(val, sizeof val, "%lld", m[j]);
          st = add_meta(s, key, val);
        }
      }
      return st;
    default: /* CONV */
      if (l->conv && (st = add_array(s, mx_array_retain(l->conv), "%lld.%d.%d", i, 0, 0)))
        return st;
      snprintf(key, sizeof key, "0.%lld", i);
      return add_meta(s, key, "");
  }
}

static char *params_json(const mx_lm_cache *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  const mx_lm_cache_params *p = &c->params;
  cJSON_AddNumberToObject(o, "max_kv_size", (double)p->max_kv_size);
  cJSON_AddNumberToObject(o, "keep", (double)p->keep);
  cJSON_AddNumberToObject(o, "kv_bits", p->kv_bits);
  cJSON_AddNumberToObject(o, "kv_group_size", p->kv_group_size);
  cJSON_AddNumberToObject(o, "quantized_kv_start", (double)p->quantized_kv_start);
  cJSON_AddNumberToObject(o, "num_layers", (double)c->nlayers);
  if (c->left_pad) {
    cJSON *a = cJSON_AddArrayToObject(o, "left_pad");
    for (int64_t b = 0; b < c->batch; b++)
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->left_pad[b]));
  }
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

mx_status mx_lm_cache_save(const mx_lm_cache *c, const char *path, const char *const *meta_keys,
                           const char *const *meta_values, size_t n_meta) {
  if (!c || !path)
    return set_error(MX_ERR_INVALID_ARG, "save prompt cache: NULL %s", c ? "path" : "cache");
  if (n_meta && (!meta_keys || !meta_values))
    return set_error(MX_ERR_INVALID_ARG, "save prompt cache: NULL metadata keys or values");
  for (size_t i = 0; i < n_meta; i++) {
    if (!meta_keys[i] || !meta_values[i] || !meta_keys[i][0])
      return set_error(MX_ERR_INVALID_ARG, "save prompt cache: metadata entry %zu has a NULL or "
                       "empty key or value", i);
    if (strcmp(meta_keys[i], PARAMS_KEY) == 0)
      return set_error(MX_ERR_INVALID_ARG, "save prompt cache: metadata key \"" PARAMS_KEY
                       "\" is reserved");
    for (size_t j = 0; j < i; j++)
      if (strcmp(meta_keys[i], meta_keys[j]) == 0)
        return set_error(MX_ERR_INVALID_ARG, "save prompt cache: metadata key \"%s\" given twice",
                         meta_keys[i]);
  }
  save_ctx s;
  memset(&s, 0, sizeof s);
  mx_status st = MX_OK;
  for (int64_t i = 0; i < c->nlayers && !st; i++) st = save_layer(&s, &c->layers[i], (long long)i);
  for (size_t i = 0; i < n_meta && !st; i++) {
    st = add_meta2(&s, meta_keys[i], meta_values[i]);
  }
  char *pj = st ? NULL : params_json(c);
  if (!st && !pj) st = set_error(MX_ERR_OOM, "save prompt cache: out of memory");
  if (!st) st = add_meta(&s, "1." PARAMS_KEY, pj);
  free(pj);
  if (!st)
    st = mx_save_safetensors(path, (const char *const *)s.names.s, s.arrays, s.narrays,
                             (const char *const *)s.mkeys.s, (const char *const *)s.mvals.s,
                             s.mkeys.n);
  if (!st) {
    /* The cache now describes the saved file (its metadata is readable
     * through mx_lm_cache_metadata, as after a load). */
    cJSON *meta = cJSON_CreateObject();
    for (size_t i = 0; meta && i < n_meta; i++)
      cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]);
    mx_lm_cache *mc = (mx_lm_cache *)c;
    cJSON_Delete(mc->meta);
    mc->meta = meta;
  }
  for (size_t i = 0; i < s.narrays; i++) mx_array_free(s.arrays[i]);
  free(s.arrays);
  sl_free(&s.names);
  sl_free(&s.mkeys);
  sl_free(&s.mvals);
  return st;
}

/* ------------------------------------------------------------ load */

typedef struct load_ctx {
  mx_safetensors *st;
  const char *path;
  bool *used; /* per tensor */
} load_ctx;

static mx_status bad(const load_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static mx_status bad(const load_ctx *x, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return set_error(MX_ERR_FORMAT, "load prompt cache %s: %s", x->path, msg);
}

static bool parse_i64(const char *s, int64_t *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || end == s) return false;
  *out = v;
  return true;
}

static mx_status meta_int(const load_ctx *x, long long layer, int j, int64_t *out) {
  char key[64];
  snprintf(key, sizeof key, "0.%lld.%d", layer, j);
  const char *v = mx_safetensors_metadata_get(x->st, key);
  if (!v) return bad(x, "layer %lld: metadata \"%s\" is missing", layer, key);
  if (!parse_i64(v, out)) return bad(x, "layer %lld: metadata \"%s\" = \"%s\" is not an integer",
                                     layer, key, v);
  return MX_OK;
}

/* The tensor `name` (4-D unless ndim says otherwise), or NULL with *present
 * false when absent; a present tensor of the wrong rank or a non-float dtype
 * where a float is required is an error. */
static mx_status get_tensor(load_ctx *x, const char *name, int ndim, bool need_float,
                            mx_array *out) {
  *out = NULL;
  int64_t i = mx_safetensors_find(x->st, name);
  if (i < 0) return MX_OK;
  x->used[i] = true;
  int64_t shape[MX_MAX_NDIM];
  int nd = mx_safetensors_shape(x->st, i, shape);
  if (nd != ndim) return bad(x, "tensor \"%s\" has %d dimensions, expected %d", name, nd, ndim);
  mx_dtype t = mx_safetensors_dtype(x->st, i);
  if (need_float && !mx_dtype_is_floating(t))
    return bad(x, "tensor \"%s\" has dtype %s, expected a float dtype", name,
               mx_safetensors_dtype_name(x->st, i));
  if (!need_float && t != MX_UINT32)
    return bad(x, "tensor \"%s\" has dtype %s, expected U32", name,
               mx_safetensors_dtype_name(x->st, i));
  *out = mx_safetensors_get(x->st, i);
  if (!*out) return mx_last_error_code();
  lm_own(*out);
  return MX_OK;
}

static bool same_bhn(mx_array a, mx_array b) {
  return mx_array_dim(a, 0) == mx_array_dim(b, 0) && mx_array_dim(a, 1) == mx_array_dim(b, 1) &&
         mx_array_dim(a, 2) == mx_array_dim(b, 2);
}

static mx_status load_kv(load_ctx *x, lm_kv_cache *l, long long i) {
  char kn[64], vn[64];
  snprintf(kn, sizeof kn, "%lld.0", i);
  snprintf(vn, sizeof vn, "%lld.1", i);
  mx_status st;
  if ((st = get_tensor(x, kn, 4, true, &l->keys)) || (st = get_tensor(x, vn, 4, true, &l->values)))
    return st;
  if (!l->keys != !l->values)
    return bad(x, "layer %lld: tensor \"%s\" is missing", i, l->keys ? vn : kn);
  if (l->keys && (!same_bhn(l->keys, l->values) ||
                  mx_array_dtype(l->keys) != mx_array_dtype(l->values)))
    return bad(x, "layer %lld: keys and values differ in batch, heads, length or dtype", i);
  return MX_OK;
}

static mx_status load_layer(load_ctx *x, lm_kv_cache *l, long long i, const char *cls) {
  mx_status st;
  char key[64];
  if (strcmp(cls, "KVCache") == 0 || strcmp(cls, "ConcatenateKVCache") == 0) {
    l->kind = LM_CACHE_STANDARD;
    if ((st = load_kv(x, l, i))) return st;
    l->offset = l->keys ? mx_array_dim(l->keys, 2) : 0;
    return MX_OK;
  }
  if (strcmp(cls, "RotatingKVCache") == 0) {
    l->kind = LM_CACHE_ROTATING;
    if ((st = meta_int(x, i, 0, &l->keep)) || (st = meta_int(x, i, 1, &l->max_size)) ||
        (st = meta_int(x, i, 2, &l->offset)) || (st = meta_int(x, i, 3, &l->idx)) ||
        (st = load_kv(x, l, i)))
      return st;
    if (l->keep < 0 || l->max_size <= l->keep || l->offset < 0 || l->idx < 0)
      return bad(x, "layer %lld: rotating cache keep %lld, max_size %lld, offset %lld, idx %lld "
                 "are inconsistent", i, (long long)l->keep, (long long)l->max_size,
                 (long long)l->offset, (long long)l->idx);
    int64_t n = l->keys ? mx_array_dim(l->keys, 2) : 0;
    /* Stored positions never exceed those seen; the ring index lies in the
     * buffer, past the kept prefix whenever the ring has wrapped. */
    if (n > l->offset || l->idx > n || (l->idx < l->offset && l->idx < l->keep) ||
        (n == 0 && l->offset != 0))
      return bad(x, "layer %lld: rotating cache holds %lld positions but offset %lld, idx %lld, "
                 "keep %lld, max_size %lld", i, (long long)n, (long long)l->offset,
                 (long long)l->idx, (long long)l->keep, (long long)l->max_size);
    return MX_OK;
  }
  if (strcmp(cls, "QuantizedKVCache") == 0) {
    l->kind = LM_CACHE_QUANTIZED;
    int64_t gs, bits;
    if ((st = meta_int(x, i, 0, &l->offset)) || (st = meta_int(x, i, 1, &gs)) ||
        (st = meta_int(x, i, 2, &bits)))
      return st;
    if (!(bits >= 2 && bits <= 8 && bits != 7) || (gs != 32 && gs != 64 && gs != 128) ||
        l->offset < 0)
      return bad(x, "layer %lld: quantized cache offset %lld, group_size %lld, bits %lld are "
                 "invalid", i, (long long)l->offset, (long long)gs, (long long)bits);
    l->bits = (int)bits;
    l->group_size = (int)gs;
    int present = 0;
    for (int side = 0; side < 2; side++)
      for (int j = 0; j < 3; j++) {
        snprintf(key, sizeof key, "%lld.%d.%d", i, side, j);
        mx_array *slot = side ? &l->vq[j] : &l->kq[j];
        if ((st = get_tensor(x, key, 4, j > 0, slot))) return st;
        present += *slot != NULL;
      }
    if (present == 0) {
      if (l->offset) return bad(x, "layer %lld: quantized cache has offset %lld but no tensors", i,
                                (long long)l->offset);
      return MX_OK;
    }
    if (present != 6) return bad(x, "layer %lld: quantized cache needs 6 tensors, found %d", i,
                                 present);
    for (int side = 0; side < 2; side++) {
      mx_array *p = side ? l->vq : l->kq;
      if (!same_bhn(p[0], p[1]) || !same_bhn(p[0], p[2]) ||
          mx_array_dim(p[1], 3) != mx_array_dim(p[2], 3) ||
          mx_array_dtype(p[1]) != mx_array_dtype(p[2]) ||
          mx_array_dim(p[0], 3) * 32 != mx_array_dim(p[1], 3) * gs * bits ||
          !same_bhn(l->kq[0], p[0]))
        return bad(x, "layer %lld: quantized %s tensors have inconsistent shapes for group_size "
                   "%lld, bits %lld", i, side ? "value" : "key", (long long)gs, (long long)bits);
    }
    if (l->offset > mx_array_dim(l->kq[0], 2))
      return bad(x, "layer %lld: quantized cache offset %lld exceeds its %lld positions", i,
                 (long long)l->offset, (long long)mx_array_dim(l->kq[0], 2));
    return MX_OK;
  }
  if (strcmp(cls, "ArraysCache") == 0) {
    l->kind = LM_CACHE_CONV;
    snprintf(key, sizeof key, "%lld.0.0", i);
    if ((st = get_tensor(x, key, 3, true, &l->conv))) return st;
    /* mlx-lm's empty left_padding / lengths entries. */
    for (int j = 1; j <= 2; j++) {
      snprintf(key, sizeof key, "%lld.%d", i, j);
      int64_t t = mx_safetensors_find(x->st, key);
      if (t < 0) continue;
      x->used[t] = true;
      if (mx_safetensors_nbytes(x->st, t) != 0)
        return bad(x, "layer %lld: tensor \"%s\" (batch padding state) is not supported", i, key);
    }
    return MX_OK;
  }
  return bad(x, "layer %lld: unknown cache class \"%s\" (KVCache, RotatingKVCache, "
             "QuantizedKVCache, ArraysCache)", i, cls);
}

static mx_status load_params(load_ctx *x, mx_lm_cache *c, const char *json) {
  cJSON *o = cJSON_Parse(json);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return bad(x, "metadata \"1." PARAMS_KEY "\" is not a JSON object");
  }
  mx_lm_cache_params p = mx_lm_cache_default_params();
  int64_t bits = p.kv_bits, gs = p.kv_group_size, nl = c->nlayers;
  mx_status st;
  const char *w = "prompt cache parameters";
  if ((st = lm_cfg_int(o, "max_kv_size", p.max_kv_size, &p.max_kv_size, w)) ||
      (st = lm_cfg_int(o, "keep", p.keep, &p.keep, w)) ||
      (st = lm_cfg_int(o, "kv_bits", bits, &bits, w)) ||
      (st = lm_cfg_int(o, "kv_group_size", gs, &gs, w)) ||
      (st = lm_cfg_int(o, "quantized_kv_start", 0, &p.quantized_kv_start, w)) ||
      (st = lm_cfg_int(o, "num_layers", nl, &nl, w))) {
    cJSON_Delete(o);
    return bad(x, "%s", mx_last_error());
  }
  if (bits < 0 || bits > 8 || gs < 0 || gs > 128 || nl != c->nlayers) {
    cJSON_Delete(o);
    return bad(x, "prompt cache parameters are invalid (kv_bits %lld, kv_group_size %lld, "
               "num_layers %lld for %lld layers)", (long long)bits, (long long)gs, (long long)nl,
               (long long)c->nlayers);
  }
  p.kv_bits = (int)bits;
  p.kv_group_size = (int)gs;
  if (lm_cache_check_params(&p)) {
    cJSON_Delete(o);
    return bad(x, "%s", mx_last_error());
  }
  c->params = p;
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "left_pad");
  if (lp) {
    int n = cJSON_GetArraySize(lp);
    if (!cJSON_IsArray(lp) || n < 1) {
      cJSON_Delete(o);
      return bad(x, "prompt cache parameters: left_pad must be a non-empty array");
    }
    c->left_pad = calloc((size_t)n, sizeof *c->left_pad);
    if (!c->left_pad) {
      cJSON_Delete(o);
      return set_error(MX_ERR_OOM, "load prompt cache: out of memory");
    }
    c->batch = n;
    int b = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, lp) {
      if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e15 ||
          e->valuedouble != (double)(int64_t)e->valuedouble) {
        cJSON_Delete(o);
        return bad(x, "prompt cache parameters: left_pad entries must be integers >= 0");
      }
      c->left_pad[b++] = (int64_t)e->valuedouble;
    }
  }
  cJSON_Delete(o);
  return MX_OK;
}

mx_lm_cache *mx_lm_cache_load(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "load prompt cache: NULL path");
    return NULL;
  }
  load_ctx x = {mx_safetensors_open(path), path, NULL};
  if (!x.st) return NULL;
  mx_lm_cache *c = NULL;
  mx_status st = MX_OK;
  int64_t nt = mx_safetensors_count(x.st), nm = mx_safetensors_metadata_count(x.st);
  x.used = calloc((size_t)(nt > 0 ? nt : 1), 1);
  if (!x.used) {
    set_error(MX_ERR_OOM, "load prompt cache: out of memory");
    goto fail;
  }
  /* Layers: "2.<i>" for i = 0 .. n-1, each exactly once. */
  int64_t nlayers = 0;
  for (int64_t i = 0; i < nm; i++) {
    const char *k = mx_safetensors_metadata_key(x.st, i);
    int64_t idx;
    if (strncmp(k, "2.", 2) != 0) continue;
    if (!parse_i64(k + 2, &idx) || idx < 0 || idx >= nm) {
      bad(&x, "metadata key \"%s\" is not a layer class entry \"2.<layer>\"", k);
      goto fail;
    }
    if (idx + 1 > nlayers) nlayers = idx + 1;
  }
  if (nlayers == 0) {
    bad(&x, "no layer classes (metadata \"2.<layer>\"): not a prompt cache");
    goto fail;
  }
  if (!(c = lm_cache_alloc(nlayers))) goto fail;
  for (int64_t i = 0; i < nlayers; i++) {
    char key[64];
    snprintf(key, sizeof key, "2.%lld", (long long)i);
    const char *cls = mx_safetensors_metadata_get(x.st, key);
    if (!cls) {
      bad(&x, "layer %lld: class entry \"%s\" is missing (%lld layers)", (long long)i, key,
          (long long)nlayers);
      goto fail;
    }
    if ((st = load_layer(&x, &c->layers[i], (long long)i, cls))) goto fail;
  }
  /* Every attention layer must agree on the positions seen. */
  int64_t off = -1;
  for (int64_t i = 0; i < nlayers; i++) {
    const lm_kv_cache *l = &c->layers[i];
    if (l->kind == LM_CACHE_CONV) continue;
    if (off >= 0 && l->offset != off) {
      bad(&x, "layer %lld has offset %lld, earlier layers %lld", (long long)i,
          (long long)l->offset, (long long)off);
      goto fail;
    }
    off = l->offset;
  }
  for (int64_t i = 0; i < nt; i++)
    if (!x.used[i]) {
      bad(&x, "unexpected tensor \"%s\"", mx_safetensors_name(x.st, i));
      goto fail;
    }
  const char *pj = mx_safetensors_metadata_get(x.st, "1." PARAMS_KEY);
  if (pj && load_params(&x, c, pj)) goto fail;
  if (c->left_pad)
    for (int64_t i = 0; i < nlayers; i++) {
      mx_array a[6];
      size_t k = lm_kv_arrays(&c->layers[i], a);
      if (k && mx_array_dim(a[0], 0) != c->batch) {
        bad(&x, "layer %lld has batch %lld but left_pad has %lld rows", (long long)i,
            (long long)mx_array_dim(a[0], 0), (long long)c->batch);
        goto fail;
      }
    }
  if (!(c->meta = cJSON_CreateObject())) {
    set_error(MX_ERR_OOM, "load prompt cache: out of memory");
    goto fail;
  }
  for (int64_t i = 0; i < nm; i++) {
    const char *k = mx_safetensors_metadata_key(x.st, i);
    if (strncmp(k, "1.", 2) != 0 || strcmp(k + 2, PARAMS_KEY) == 0) continue;
    cJSON_AddStringToObject(c->meta, k + 2, mx_safetensors_metadata_value(x.st, i));
  }
  free(x.used);
  mx_safetensors_close(x.st); /* the arrays keep the mapping alive */
  return c;
fail:
  mx_lm_cache_free(c);
  free(x.used);
  mx_safetensors_close(x.st);
  return NULL;
}

const char *mx_lm_cache_metadata(const mx_lm_cache *c, const char *key) {
  if (!c || !key || !c->meta) return NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->meta, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
