/* safetensors.c — safetensors reading (validated, zero-copy) and writing.
 *
 * Layout: u64 little-endian header size N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
 *  "__metadata__": {"key": "value"}}, then the data section; offsets are
 * relative to its start. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/core.h"
#include "mapped_file.h"
#include "mlxc/safetensors.h"

/* The reference implementation refuses headers over 100 MB. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

typedef struct st_dtype {
  const char *name;
  mx_dtype dtype;
  size_t size;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"BOOL", MX_BOOL, 1},       {"U8", MX_UINT8, 1},      {"I8", MX_INT8, 1},
    {"U16", MX_UINT16, 2},      {"I16", MX_INT16, 2},     {"U32", MX_UINT32, 4},
    {"I32", MX_INT32, 4},       {"U64", MX_UINT64, 8},    {"I64", MX_INT64, 8},
    {"F16", MX_FLOAT16, 2},     {"BF16", MX_BFLOAT16, 2}, {"F32", MX_FLOAT32, 4},
    {"F64", MX_FLOAT64, 8},     {"C64", MX_COMPLEX64, 8}, {"F8_E4M3", MX_UINT8, 1},
    {"F8_E5M2", MX_UINT8, 1},   {"F8_E8M0", MX_UINT8, 1},
};

typedef struct st_tensor {
  char *name;
  const st_dtype *dt;
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  uint64_t begin, end; /* relative to the data section */
} st_tensor;

struct mx_safetensors {
  mapped_file *map;
  char *name;
  uint64_t data_start;
  int64_t n;
  st_tensor *t;
  int64_t nmeta;
  char **meta_k, **meta_v;
};

void mx_safetensors_close(mx_safetensors *s) {
  if (!s) return;
  for (int64_t i = 0; i < s->n; i++) free(s->t[i].name);
  for (int64_t i = 0; i < s->nmeta; i++) {
    free(s->meta_k[i]);
    free(s->meta_v[i]);
  }
  free(s->t);
  free(s->meta_k);
  free(s->meta_v);
  free(s->name);
  mapped_file_release(s->map);
  free(s);
}

static int cmp_begin(const void *a, const void *b) {
  const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}
static int cmp_tname(const void *a, const void *b) {
  return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

#define BAD(...)                                                                         \
  do {                                                                                   \
    char bad_msg_[400];                                                                  \
    snprintf(bad_msg_, sizeof bad_msg_, __VA_ARGS__);                                    \
    set_error(MX_ERR_FORMAT, "safetensors: %s: %s", name, bad_msg_);                     \
    goto fail;                                                                           \
  } while (0)

static bool json_u64(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  /* cJSON parses numbers as double: exact up to 2^53, which bounds files
   * to 8 PiB — far past anything real. */
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return false;
  *out = (uint64_t)d;
  return true;
}

static mx_safetensors *parse(mapped_file *map, const char *name) {
  cJSON *root = NULL;
  st_tensor **order = NULL;
  mx_safetensors *s = calloc(1, sizeof *s);
  if (!s) {
    mapped_file_release(map);
    set_error(MX_ERR_OOM, "safetensors: out of memory");
    return NULL;
  }
  s->map = map;
  s->name = strdup(name);
  if (map->size < 8) BAD("file of %zu bytes is too short for a header", map->size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | map->data[i];
  if (hlen > ST_MAX_HEADER) BAD("header length %llu is over the 100 MB limit", (unsigned long long)hlen);
  if (hlen > map->size - 8)
    BAD("header length %llu runs past the end of the %zu-byte file", (unsigned long long)hlen,
        map->size);
  s->data_start = 8 + hlen;
  uint64_t data_size = map->size - s->data_start;
  const char *json = (const char *)map->data + 8;
  if (!utf8_is_valid(json, (size_t)hlen)) BAD("header is not valid UTF-8");
  const char *end_ptr = NULL;
  root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end_ptr, 0);
  if (!root) {
    size_t at = cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - json) : 0;
    BAD("header is not valid JSON (near byte %zu of the header)", at);
  }
  /* Only trailing spaces may follow the JSON (writers pad with them). */
  for (const char *p = end_ptr; p && p < json + hlen; p++)
    if (*p != ' ' && *p != '\0') BAD("junk after the header JSON");
  if (!cJSON_IsObject(root)) BAD("header is not a JSON object");
  int64_t count = cJSON_GetArraySize(root);
  s->t = calloc((size_t)(count ? count : 1), sizeof *s->t);
  if (!s->t) BAD("out of memory");
  for (cJSON *e = root->child; e; e = e->next) {
    if (strcmp(e->string, "__metadata__") == 0) {
      if (!cJSON_IsObject(e)) BAD("__metadata__ is not an object");
      int64_t m = cJSON_GetArraySize(e);
      s->meta_k = calloc((size_t)(m ? m : 1), sizeof *s->meta_k);
      s->meta_v = calloc((size_t)(m ? m : 1), sizeof *s->meta_v);
      if (!s->meta_k || !s->meta_v) BAD("out of memory");
      for (cJSON *kv = e->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) BAD("__metadata__ value of '%.64s' is not a string", kv->string);
        s->meta_k[s->nmeta] = strdup(kv->string);
        s->meta_v[s->nmeta] = strdup(kv->valuestring);
        s->nmeta++;
      }
      continue;
    }
    st_tensor *t = &s->t[s->n];
    t->name = strdup(e->string);
    s->n++;
    if (!t->name) BAD("out of memory");
    if (!t->name[0]) BAD("a tensor has an empty name");
    if (!cJSON_IsObject(e)) BAD("entry '%.64s' is not an object", t->name);
    cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) BAD("tensor '%.64s' has no dtype string", t->name);
    for (size_t k = 0; k < sizeof st_dtypes / sizeof *st_dtypes; k++)
      if (strcmp(dt->valuestring, st_dtypes[k].name) == 0) t->dt = &st_dtypes[k];
    if (!t->dt) BAD("tensor '%.64s' has unsupported dtype '%.32s'", t->name, dt->valuestring);
    if (!cJSON_IsArray(sh)) BAD("tensor '%.64s' has no shape array", t->name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > MX_MAX_NDIM) BAD("tensor '%.64s' has %d dimensions (at most %d)", t->name, nd, MX_MAX_NDIM);
    t->ndim = nd;
    uint64_t nelem = 1;
    int d = 0;
    for (cJSON *x = sh->child; x; x = x->next, d++) {
      uint64_t v;
      if (!json_u64(x, &v)) BAD("tensor '%.64s' has a bad dimension", t->name);
      if (v && nelem > UINT64_MAX / v) BAD("tensor '%.64s' shape overflows", t->name);
      nelem *= v;
      t->shape[d] = (int64_t)v;
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_u64(of->child, &t->begin) ||
        !json_u64(of->child->next, &t->end))
      BAD("tensor '%.64s' needs data_offsets [begin, end]", t->name);
    if (t->begin > t->end || t->end > data_size)
      BAD("tensor '%.64s' data_offsets [%llu, %llu] fall outside the %llu-byte data section",
          t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
          (unsigned long long)data_size);
    if (nelem > UINT64_MAX / t->dt->size || nelem * t->dt->size != t->end - t->begin)
      BAD("tensor '%.64s' is %llu bytes but %s x its shape needs %llu", t->name,
          (unsigned long long)(t->end - t->begin), t->dt->name,
          (unsigned long long)(nelem * t->dt->size));
  }
  /* No overlaps and no holes: sorted by begin, each starts where the last
   * ended, and the last ends at the data size. */
  order = malloc((size_t)(s->n ? s->n : 1) * sizeof *order);
  if (!order) BAD("out of memory");
  for (int64_t i = 0; i < s->n; i++) order[i] = &s->t[i];
  qsort(order, (size_t)s->n, sizeof *order, cmp_begin);
  uint64_t at = 0;
  for (int64_t i = 0; i < s->n; i++) {
    if (order[i]->begin < at)
      BAD("tensors '%.64s' and '%.64s' overlap", order[i - 1]->name, order[i]->name);
    if (order[i]->begin > at) BAD("gap in the data section before tensor '%.64s'", order[i]->name);
    at = order[i]->end;
  }
  if (at != data_size)
    BAD("data section is %llu bytes but the tensors cover %llu", (unsigned long long)data_size,
        (unsigned long long)at);
  qsort(order, (size_t)s->n, sizeof *order, cmp_tname);
  for (int64_t i = 1; i < s->n; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0) BAD("duplicate tensor '%.64s'", order[i]->name);
  free(order);
  cJSON_Delete(root);
  return s;
fail:
  free(order);
  cJSON_Delete(root);
  mx_safetensors_close(s);
  return NULL;
}

mx_safetensors *mx_safetensors_open(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "safetensors: path is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_open("safetensors", path);
  return m ? parse(m, path) : NULL;
}

mx_safetensors *mx_safetensors_open_memory(const void *bytes, size_t size, const char *name) {
  if (!bytes && size) {
    set_error(MX_ERR_INVALID_ARG, "safetensors: bytes is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_wrap(bytes ? bytes : "", size);
  return m ? parse(m, name ? name : "<memory>") : NULL;
}

int64_t mx_safetensors_count(const mx_safetensors *s) { return s ? s->n : 0; }

int64_t mx_safetensors_find(const mx_safetensors *s, const char *name) {
  if (!s || !name) return -1;
  for (int64_t i = 0; i < s->n; i++)
    if (strcmp(s->t[i].name, name) == 0) return i;
  return -1;
}

static const st_tensor *get(const mx_safetensors *s, int64_t i, const char *op) {
  if (!s || i < 0 || i >= s->n) {
    set_error(MX_ERR_INVALID_ARG, "%s: tensor index %lld out of range", op, (long long)i);
    return NULL;
  }
  return &s->t[i];
}

const char *mx_safetensors_name(const mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_name");
  return t ? t->name : NULL;
}
mx_dtype mx_safetensors_dtype(const mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_dtype");
  return t ? t->dt->dtype : MX_DTYPE_COUNT;
}
const char *mx_safetensors_dtype_name(const mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_dtype_name");
  return t ? t->dt->name : NULL;
}
int mx_safetensors_shape(const mx_safetensors *s, int64_t i, int64_t *shape) {
  const st_tensor *t = get(s, i, "safetensors_shape");
  if (!t) return -1;
  memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
  return t->ndim;
}
uint64_t mx_safetensors_offset(const mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_offset");
  return t ? s->data_start + t->begin : 0;
}
uint64_t mx_safetensors_nbytes(const mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_nbytes");
  return t ? t->end - t->begin : 0;
}

mx_array mx_safetensors_get(mx_safetensors *s, int64_t i) {
  const st_tensor *t = get(s, i, "safetensors_get");
  if (!t) return NULL;
  void *ptr = (void *)(s->map->data + s->data_start + t->begin);
  mapped_file_retain(s->map);
  mx_array a = mx_array_from_borrowed(ptr, t->shape, t->ndim, t->dt->dtype, mapped_file_release_cb, s->map);
  if (!a) mapped_file_release(s->map);
  return a;
}

int64_t mx_safetensors_metadata_count(const mx_safetensors *s) { return s ? s->nmeta : 0; }
const char *mx_safetensors_metadata_key(const mx_safetensors *s, int64_t i) {
  return s && i >= 0 && i < s->nmeta ? s->meta_k[i] : NULL;
}
const char *mx_safetensors_metadata_value(const mx_safetensors *s, int64_t i) {
  return s && i >= 0 && i < s->nmeta ? s->meta_v[i] : NULL;
}
const char *mx_safetensors_metadata_get(const mx_safetensors *s, const char *key) {
  if (!s || !key) return NULL;
  for (int64_t i = 0; i < s->nmeta; i++)
    if (strcmp(s->meta_k[i], key) == 0) return s->meta_v[i];
  return NULL;
}

/* ---- saving ---- */

static const char *st_name_of(mx_dtype t) {
  for (size_t k = 0; k < sizeof st_dtypes / sizeof *st_dtypes; k++)
    if (st_dtypes[k].dtype == t) return st_dtypes[k].name; /* U8 before the F8s */
  return NULL;
}

mx_status mx_save_safetensors(const char *path, const char *const *names, const mx_array *arrays,
                              size_t n, const char *const *meta_keys,
                              const char *const *meta_values, size_t nmeta) {
  if (!path || (n && (!names || !arrays)) || (nmeta && (!meta_keys || !meta_values)))
    return set_error(MX_ERR_INVALID_ARG, "save_safetensors: NULL path, names, arrays or metadata");
  for (size_t i = 0; i < n; i++) {
    if (!arrays[i]) {
      if (mx_last_error_code() == MX_OK)
        set_error(MX_ERR_NULL_INPUT, "save_safetensors: array %zu ('%s') is NULL", i,
                  names[i] ? names[i] : "?");
      return MX_ERR_NULL_INPUT;
    }
    if (!names[i] || !names[i][0] || strcmp(names[i], "__metadata__") == 0)
      return set_error(MX_ERR_INVALID_ARG, "save_safetensors: tensor %zu has an invalid name", i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return set_error(MX_ERR_INVALID_ARG, "save_safetensors: name '%s' given twice", names[i]);
  }
  mx_status st = mx_eval(arrays, n);
  if (st < 0) return st;
  cJSON *root = cJSON_CreateObject();
  cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
  bool has_format = false;
  for (size_t i = 0; i < nmeta; i++) {
    cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]);
    if (strcmp(meta_keys[i], "format") == 0) has_format = true;
  }
  if (!has_format) cJSON_AddStringToObject(meta, "format", "mlx");
  uint64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    cJSON *e = cJSON_AddObjectToObject(root, names[i]);
    cJSON_AddStringToObject(e, "dtype", st_name_of(arrays[i]->dtype));
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    for (int d = 0; d < arrays[i]->ndim; d++)
      cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)arrays[i]->shape[d]));
    uint64_t nb = mx_array_nbytes(arrays[i]);
    cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + nb)));
    off += nb;
  }
  char *json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!json) return set_error(MX_ERR_OOM, "save_safetensors: out of memory");
  size_t jl = strlen(json), pad = (8 - jl % 8) % 8; /* data starts 8-aligned */
  uint64_t hlen = jl + pad;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    free(json);
    return set_error(MX_ERR_INVALID_ARG, "save_safetensors: path too long");
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    free(json);
    return set_error(MX_ERR_IO, "save_safetensors: cannot create %s: %s", tmp, strerror(errno));
  }
  unsigned char h8[8];
  for (int i = 0; i < 8; i++) h8[i] = (unsigned char)(hlen >> (8 * i));
  bool ok = fwrite(h8, 1, 8, f) == 8 && fwrite(json, 1, jl, f) == jl;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  free(json);
  for (size_t i = 0; ok && i < n; i++) {
    const void *d = mx_array_data(arrays[i]);
    size_t nb = mx_array_nbytes(arrays[i]);
    ok = d && fwrite(d, 1, nb, f) == nb;
  }
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return set_error(MX_ERR_IO, "save_safetensors: cannot write %s", path);
  }
  return MX_OK;
}
