/* gguf.c — GGUF v2/v3 reader: validates everything at open, then serves
 * metadata and zero-copy tensors from the mapping.
 *
 * Layout (all little-endian): "GGUF", u32 version, u64 tensor count, u64 kv
 * count; kv pairs (string key, u32 type, value); tensor infos (string name,
 * u32 n_dims, u64 dims[n_dims] fastest first, u32 ggml type, u64 offset);
 * padding to `general.alignment` (default 32); tensor data. A string is a u64
 * length and that many bytes. An array is a u32 element type, a u64 count
 * and the elements (arrays may nest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "mapped_file.h"
#include "gguf_internal.h"
#include "mlxc/gguf.h"

#define GGUF_MAX_NEST 8
#define GGUF_MAX_DIMS 8 /* ggml uses 4; a little headroom, still bounded */

typedef struct gguf_kv {
  char *key;
  mx_gguf_type type;
  union {
    uint64_t u;
    int64_t i;
    double f;
  } v;
  size_t off, len;        /* strings: bytes at off; arrays: element data at off */
  mx_gguf_type elem_type; /* arrays */
  uint64_t count;
  size_t *str_off;        /* arrays of strings: offset of each string's bytes */
  size_t *str_len;
  size_t raw_off, raw_len; /* type tag + value bytes as in the file */
} gguf_kv;

typedef struct gguf_tensor {
  char *name;
  int ndim;
  int64_t shape[GGUF_MAX_DIMS]; /* row-major (reversed from the file) */
  mx_ggml_type type;
  uint64_t offset; /* relative to the data section */
  uint64_t nbytes;
} gguf_tensor;

struct mx_gguf {
  mapped_file *map;
  char *name;
  uint32_t version;
  uint64_t alignment, data_offset;
  int64_t nkv, ntensors;
  gguf_kv *kv;
  gguf_tensor *tensors;
};

typedef struct cursor {
  const unsigned char *p;
  size_t size, pos;
  const char *name;
} cursor;

static bool fail(const cursor *c, const char *what) {
  set_error(MX_ERR_FORMAT, "gguf: %s: %s at byte %zu", c->name, what, c->pos);
  return false;
}

static bool need(cursor *c, size_t n, const char *what) {
  if (n > c->size - c->pos) {
    char msg[160];
    snprintf(msg, sizeof msg, "truncated %s (needs %zu bytes, %zu left)", what, n,
             c->size - c->pos);
    return fail(c, msg);
  }
  return true;
}

static uint64_t rd_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static bool read_u32(cursor *c, uint32_t *out, const char *what) {
  if (!need(c, 4, what)) return false;
  *out = (uint32_t)rd_le(c->p + c->pos, 4);
  c->pos += 4;
  return true;
}
static bool read_u64(cursor *c, uint64_t *out, const char *what) {
  if (!need(c, 8, what)) return false;
  *out = rd_le(c->p + c->pos, 8);
  c->pos += 8;
  return true;
}
/* A string: returns its offset and length inside the buffer. */
static bool read_str(cursor *c, size_t *off, size_t *len, const char *what) {
  uint64_t n;
  if (!read_u64(c, &n, what)) return false;
  if (n > c->size - c->pos) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s length %llu runs past the end of the file", what,
             (unsigned long long)n);
    return fail(c, msg);
  }
  *off = c->pos;
  *len = (size_t)n;
  c->pos += (size_t)n;
  return true;
}

size_t gguf_scalar_size(mx_gguf_type t) {
  switch (t) {
  case MX_GGUF_UINT8:
  case MX_GGUF_INT8:
  case MX_GGUF_BOOL: return 1;
  case MX_GGUF_UINT16:
  case MX_GGUF_INT16: return 2;
  case MX_GGUF_UINT32:
  case MX_GGUF_INT32:
  case MX_GGUF_FLOAT32: return 4;
  case MX_GGUF_UINT64:
  case MX_GGUF_INT64:
  case MX_GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

/* Decodes a fixed-size scalar at p into the kv's union. */
static void decode_scalar(mx_gguf_type t, const unsigned char *p, gguf_kv *kv) {
  uint64_t raw = rd_le(p, (int)gguf_scalar_size(t));
  switch (t) {
  case MX_GGUF_INT8: kv->v.i = (int8_t)raw; break;
  case MX_GGUF_INT16: kv->v.i = (int16_t)raw; break;
  case MX_GGUF_INT32: kv->v.i = (int32_t)raw; break;
  case MX_GGUF_INT64: kv->v.i = (int64_t)raw; break;
  case MX_GGUF_FLOAT32: {
    uint32_t b = (uint32_t)raw;
    float f;
    memcpy(&f, &b, 4);
    kv->v.f = f;
    break;
  }
  case MX_GGUF_FLOAT64: memcpy(&kv->v.f, &raw, 8); break;
  default: kv->v.u = raw; break;
  }
}

/* Skips one value of type t (validating nested arrays), depth-limited. */
static bool skip_value(cursor *c, mx_gguf_type t, int depth) {
  if (t == MX_GGUF_STRING) {
    size_t off, len;
    return read_str(c, &off, &len, "string");
  }
  if (t == MX_GGUF_ARRAY) {
    if (depth >= GGUF_MAX_NEST) return fail(c, "arrays nested too deeply");
    uint32_t et;
    uint64_t n;
    if (!read_u32(c, &et, "array type") || !read_u64(c, &n, "array count")) return false;
    if (et > MX_GGUF_FLOAT64) return fail(c, "unknown array element type");
    size_t es = gguf_scalar_size((mx_gguf_type)et);
    if (es) {
      if (n > (c->size - c->pos) / es) return fail(c, "array runs past the end of the file");
      c->pos += (size_t)n * es;
      return true;
    }
    /* Each string/array element takes at least 8 bytes: bounds the loop. */
    if (n > (c->size - c->pos) / 8) return fail(c, "array runs past the end of the file");
    for (uint64_t k = 0; k < n; k++)
      if (!skip_value(c, (mx_gguf_type)et, depth + 1)) return false;
    return true;
  }
  size_t s = gguf_scalar_size(t);
  if (!s) return fail(c, "unknown value type");
  if (!need(c, s, "value")) return false;
  c->pos += s;
  return true;
}

static bool parse_kv(cursor *c, gguf_kv *kv) {
  size_t koff, klen;
  if (!read_str(c, &koff, &klen, "key")) return false;
  if (klen == 0) return fail(c, "empty key");
  if (!utf8_is_valid((const char *)c->p + koff, klen)) return fail(c, "key is not valid UTF-8");
  kv->key = malloc(klen + 1);
  if (!kv->key) return fail(c, "out of memory");
  memcpy(kv->key, c->p + koff, klen);
  kv->key[klen] = '\0';
  if (memchr(kv->key, 0, klen)) return fail(c, "key contains a NUL byte");
  uint32_t t;
  if (!read_u32(c, &t, "value type")) return false;
  if (t > MX_GGUF_FLOAT64) {
    char msg[160];
    snprintf(msg, sizeof msg, "key '%.64s' has unknown value type %u", kv->key, t);
    return fail(c, msg);
  }
  kv->type = (mx_gguf_type)t;
  if (t == MX_GGUF_STRING) return read_str(c, &kv->off, &kv->len, "string value");
  if (t != MX_GGUF_ARRAY) {
    size_t s = gguf_scalar_size(kv->type);
    if (!need(c, s, "value")) return false;
    decode_scalar(kv->type, c->p + c->pos, kv);
    c->pos += s;
    return true;
  }
  uint32_t et;
  if (!read_u32(c, &et, "array type") || !read_u64(c, &kv->count, "array count")) return false;
  if (et > MX_GGUF_FLOAT64) return fail(c, "unknown array element type");
  kv->elem_type = (mx_gguf_type)et;
  kv->off = c->pos;
  size_t es = gguf_scalar_size(kv->elem_type);
  if (es) {
    if (kv->count > (c->size - c->pos) / es) return fail(c, "array runs past the end of the file");
    c->pos += (size_t)kv->count * es;
    return true;
  }
  if (kv->count > (c->size - c->pos) / 8) return fail(c, "array runs past the end of the file");
  if (kv->elem_type == MX_GGUF_STRING) {
    size_t n = (size_t)kv->count ? (size_t)kv->count : 1;
    kv->str_off = malloc(n * sizeof *kv->str_off);
    kv->str_len = malloc(n * sizeof *kv->str_len);
    if (!kv->str_off || !kv->str_len) return fail(c, "out of memory");
    for (uint64_t k = 0; k < kv->count; k++)
      if (!read_str(c, &kv->str_off[k], &kv->str_len[k], "array string")) return false;
    return true;
  }
  for (uint64_t k = 0; k < kv->count; k++)
    if (!skip_value(c, kv->elem_type, 1)) return false;
  return true;
}

typedef struct type_info {
  mx_ggml_type type;
  const char *name;
  int64_t block, bytes;
} type_info;

static const type_info types[] = {
    {MX_GGML_F32, "f32", 1, 4},       {MX_GGML_F16, "f16", 1, 2},
    {MX_GGML_Q4_0, "q4_0", 32, 18},   {MX_GGML_Q4_1, "q4_1", 32, 20},
    {MX_GGML_Q5_0, "q5_0", 32, 22},   {MX_GGML_Q5_1, "q5_1", 32, 24},
    {MX_GGML_Q8_0, "q8_0", 32, 34},   {MX_GGML_Q8_1, "q8_1", 32, 36},
    {MX_GGML_Q2_K, "q2_K", 256, 84},  {MX_GGML_Q3_K, "q3_K", 256, 110},
    {MX_GGML_Q4_K, "q4_K", 256, 144}, {MX_GGML_Q5_K, "q5_K", 256, 176},
    {MX_GGML_Q6_K, "q6_K", 256, 210}, {MX_GGML_Q8_K, "q8_K", 256, 292},
    {MX_GGML_I8, "i8", 1, 1},         {MX_GGML_I16, "i16", 1, 2},
    {MX_GGML_I32, "i32", 1, 4},       {MX_GGML_I64, "i64", 1, 8},
    {MX_GGML_F64, "f64", 1, 8},       {MX_GGML_BF16, "bf16", 1, 2},
};

static const type_info *find_type(uint32_t t) {
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if ((uint32_t)types[i].type == t) return &types[i];
  return NULL;
}

const char *mx_ggml_type_name(mx_ggml_type t) {
  const type_info *ti = find_type((uint32_t)t);
  return ti ? ti->name : "unknown";
}

bool mx_ggml_type_block(mx_ggml_type t, int64_t *block_elems, int64_t *block_bytes) {
  const type_info *ti = find_type((uint32_t)t);
  if (!ti) return false;
  if (block_elems) *block_elems = ti->block;
  if (block_bytes) *block_bytes = ti->bytes;
  return true;
}

static bool parse_tensor(cursor *c, gguf_tensor *t) {
  size_t noff, nlen;
  if (!read_str(c, &noff, &nlen, "tensor name")) return false;
  if (nlen == 0 || !utf8_is_valid((const char *)c->p + noff, nlen) || memchr(c->p + noff, 0, nlen))
    return fail(c, "tensor name is empty or not valid UTF-8");
  t->name = malloc(nlen + 1);
  if (!t->name) return fail(c, "out of memory");
  memcpy(t->name, c->p + noff, nlen);
  t->name[nlen] = '\0';
  uint32_t nd;
  if (!read_u32(c, &nd, "tensor n_dims")) return false;
  if (nd > GGUF_MAX_DIMS) {
    char msg[200];
    snprintf(msg, sizeof msg, "tensor '%.64s' has %u dimensions (at most %d)", t->name, nd,
             GGUF_MAX_DIMS);
    return fail(c, msg);
  }
  t->ndim = (int)nd;
  uint64_t dims[GGUF_MAX_DIMS];
  for (uint32_t d = 0; d < nd; d++)
    if (!read_u64(c, &dims[d], "tensor dim")) return false;
  uint32_t type;
  if (!read_u32(c, &type, "tensor type") || !read_u64(c, &t->offset, "tensor offset"))
    return false;
  const type_info *ti = find_type(type);
  if (!ti) {
    char msg[200];
    snprintf(msg, sizeof msg, "tensor '%.64s' has unknown ggml type %u", t->name, type);
    return fail(c, msg);
  }
  t->type = ti->type;
  /* Non-zero dims must multiply without overflow even when another dim is
   * zero: readers multiply prefixes of the shape. */
  uint64_t n = 1, nz = 1;
  for (uint32_t d = 0; d < nd; d++) {
    if (dims[d] > (uint64_t)INT64_MAX || (dims[d] && nz > (uint64_t)INT64_MAX / dims[d])) {
      char msg[200];
      snprintf(msg, sizeof msg, "tensor '%.64s' has an impossible size", t->name);
      return fail(c, msg);
    }
    if (dims[d]) nz *= dims[d];
    n *= dims[d];
    t->shape[nd - 1 - d] = (int64_t)dims[d];
  }
  if (nd > 0 && dims[0] % (uint64_t)ti->block != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "tensor '%.64s': row of %llu is not a multiple of the %s block (%lld)",
             t->name, (unsigned long long)dims[0], ti->name, (long long)ti->block);
    return fail(c, msg);
  }
  uint64_t blocks = n / (uint64_t)ti->block;
  if (blocks > UINT64_MAX / (uint64_t)ti->bytes) return fail(c, "tensor byte size overflows");
  t->nbytes = blocks * (uint64_t)ti->bytes;
  return true;
}

static int cmp_offset(const void *a, const void *b) {
  const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

void mx_gguf_close(mx_gguf *g) {
  if (!g) return;
  for (int64_t i = 0; i < g->nkv; i++) {
    free(g->kv[i].key);
    free(g->kv[i].str_off);
    free(g->kv[i].str_len);
  }
  for (int64_t i = 0; i < g->ntensors; i++) free(g->tensors[i].name);
  free(g->kv);
  free(g->tensors);
  free(g->name);
  mapped_file_release(g->map);
  free(g);
}

static mx_gguf *parse(mapped_file *map, const char *name) {
  mx_gguf *g = calloc(1, sizeof *g);
  if (!g) {
    mapped_file_release(map);
    set_error(MX_ERR_OOM, "gguf: out of memory");
    return NULL;
  }
  g->map = map;
  g->name = strdup(name);
  cursor c = {map->data, map->size, 0, name};
  uint32_t magic;
  uint64_t ntensors, nkv;
  if (!read_u32(&c, &magic, "magic")) goto bad;
  if (magic != 0x46554747u) { /* "GGUF" */
    fail(&c, "not a GGUF file (bad magic)");
    goto bad;
  }
  if (!read_u32(&c, &g->version, "version")) goto bad;
  if (g->version != 2 && g->version != 3) {
    char msg[80];
    snprintf(msg, sizeof msg, "unsupported GGUF version %u (2 and 3 are)", g->version);
    fail(&c, msg);
    goto bad;
  }
  if (!read_u64(&c, &ntensors, "tensor count") || !read_u64(&c, &nkv, "kv count")) goto bad;
  /* Each kv takes >= 12 bytes and each tensor info >= 24: bounds the counts
   * by the file size before anything is allocated. */
  if (nkv > map->size / 12 || ntensors > map->size / 24) {
    fail(&c, "kv or tensor count larger than the file can hold");
    goto bad;
  }
  g->kv = calloc(nkv ? nkv : 1, sizeof *g->kv);
  g->tensors = calloc(ntensors ? ntensors : 1, sizeof *g->tensors);
  if (!g->kv || !g->tensors) {
    fail(&c, "out of memory");
    goto bad;
  }
  g->alignment = 32;
  for (uint64_t i = 0; i < nkv; i++) {
    g->nkv = (int64_t)i + 1;
    size_t kv_start = c.pos;
    if (!parse_kv(&c, &g->kv[i])) goto bad;
    g->kv[i].raw_off = kv_start + 8 + strlen(g->kv[i].key);
    g->kv[i].raw_len = c.pos - g->kv[i].raw_off;
    for (uint64_t j = 0; j < i; j++)
      if (strcmp(g->kv[j].key, g->kv[i].key) == 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "duplicate key '%.64s'", g->kv[i].key);
        fail(&c, msg);
        goto bad;
      }
    if (strcmp(g->kv[i].key, "general.alignment") == 0) {
      if (g->kv[i].type != MX_GGUF_UINT32 || g->kv[i].v.u == 0 ||
          (g->kv[i].v.u & (g->kv[i].v.u - 1)) != 0) {
        fail(&c, "general.alignment must be a power-of-two uint32");
        goto bad;
      }
      g->alignment = g->kv[i].v.u;
    }
  }
  for (uint64_t i = 0; i < ntensors; i++) {
    g->ntensors = (int64_t)i + 1;
    if (!parse_tensor(&c, &g->tensors[i])) goto bad;
  }
  /* Data section: aligned end of the tensor infos. */
  uint64_t data = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
  if (ntensors > 0 && data > map->size) {
    fail(&c, "tensor data section starts past the end of the file");
    goto bad;
  }
  g->data_offset = data;
  {
    gguf_tensor **order = malloc((ntensors ? ntensors : 1) * sizeof *order);
    if (!order) {
      fail(&c, "out of memory");
      goto bad;
    }
    for (uint64_t i = 0; i < ntensors; i++) order[i] = &g->tensors[i];
    qsort(order, ntensors, sizeof *order, cmp_offset);
    uint64_t avail = map->size - (ntensors ? data : 0);
    for (uint64_t i = 0; i < ntensors; i++) {
      gguf_tensor *t = order[i];
      char msg[240];
      if (t->offset % g->alignment != 0) {
        snprintf(msg, sizeof msg, "tensor '%.64s' offset %llu is not aligned to %llu", t->name,
                 (unsigned long long)t->offset, (unsigned long long)g->alignment);
      } else if (t->offset > avail || t->nbytes > avail - t->offset) {
        snprintf(msg, sizeof msg, "tensor '%.64s' (%llu bytes at %llu) runs past the end of the file",
                 t->name, (unsigned long long)t->nbytes, (unsigned long long)t->offset);
      } else if (i > 0 && order[i - 1]->offset + order[i - 1]->nbytes > t->offset) {
        snprintf(msg, sizeof msg, "tensors '%.64s' and '%.64s' overlap", order[i - 1]->name, t->name);
      } else {
        continue;
      }
      free(order);
      set_error(MX_ERR_FORMAT, "gguf: %s: %s", name, msg);
      goto bad;
    }
    /* Duplicate names: sort by name, compare neighbours. */
    qsort(order, ntensors, sizeof *order, cmp_name);
    for (uint64_t i = 1; i < ntensors; i++)
      if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
        set_error(MX_ERR_FORMAT, "gguf: %s: duplicate tensor name '%.64s'", name, order[i]->name);
        free(order);
        goto bad;
      }
    free(order);
  }
  return g;
bad:
  mx_gguf_close(g);
  return NULL;
}

mx_gguf *mx_gguf_open(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "gguf: path is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_open("gguf", path);
  return m ? parse(m, path) : NULL;
}

mx_gguf *mx_gguf_open_memory(const void *bytes, size_t size, const char *name) {
  if (!bytes && size) {
    set_error(MX_ERR_INVALID_ARG, "gguf: bytes is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_wrap(bytes ? bytes : "", size);
  return m ? parse(m, name ? name : "<memory>") : NULL;
}

uint32_t mx_gguf_version(const mx_gguf *g) { return g ? g->version : 0; }
uint64_t mx_gguf_alignment(const mx_gguf *g) { return g ? g->alignment : 0; }
uint64_t mx_gguf_data_offset(const mx_gguf *g) { return g ? g->data_offset : 0; }
int64_t mx_gguf_kv_count(const mx_gguf *g) { return g ? g->nkv : 0; }
int64_t mx_gguf_tensor_count(const mx_gguf *g) { return g ? g->ntensors : 0; }

int64_t mx_gguf_find_key(const mx_gguf *g, const char *key) {
  if (!g || !key) return -1;
  for (int64_t i = 0; i < g->nkv; i++)
    if (strcmp(g->kv[i].key, key) == 0) return i;
  return -1;
}

static const gguf_kv *get_kv(const mx_gguf *g, int64_t i, const char *op) {
  if (!g || i < 0 || i >= g->nkv) {
    set_error(MX_ERR_INVALID_ARG, "%s: key index %lld out of range", op, (long long)i);
    return NULL;
  }
  return &g->kv[i];
}

const char *mx_gguf_key(const mx_gguf *g, int64_t i) {
  const gguf_kv *kv = get_kv(g, i, "gguf_key");
  return kv ? kv->key : NULL;
}
mx_gguf_type mx_gguf_kv_type(const mx_gguf *g, int64_t i) {
  const gguf_kv *kv = get_kv(g, i, "gguf_kv_type");
  return kv ? kv->type : (mx_gguf_type)-1;
}

static bool is_signed(mx_gguf_type t) {
  return t == MX_GGUF_INT8 || t == MX_GGUF_INT16 || t == MX_GGUF_INT32 || t == MX_GGUF_INT64;
}
static bool is_unsigned(mx_gguf_type t) {
  return t == MX_GGUF_UINT8 || t == MX_GGUF_UINT16 || t == MX_GGUF_UINT32 ||
         t == MX_GGUF_UINT64 || t == MX_GGUF_BOOL;
}

static mx_status as_int(const gguf_kv *kv, int64_t *out) {
  if (is_signed(kv->type)) *out = kv->v.i;
  else if (is_unsigned(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) *out = (int64_t)kv->v.u;
  else
    return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' (type %d) is not an int64", kv->key,
                     (int)kv->type);
  return MX_OK;
}

mx_status mx_gguf_get_int(const mx_gguf *g, int64_t i, int64_t *out) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_int");
  return kv ? as_int(kv, out) : MX_ERR_INVALID_ARG;
}
mx_status mx_gguf_get_uint(const mx_gguf *g, int64_t i, uint64_t *out) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_uint");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (is_unsigned(kv->type)) *out = kv->v.u;
  else if (is_signed(kv->type) && kv->v.i >= 0) *out = (uint64_t)kv->v.i;
  else return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not an unsigned integer", kv->key);
  return MX_OK;
}
mx_status mx_gguf_get_float(const mx_gguf *g, int64_t i, double *out) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_float");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (kv->type == MX_GGUF_FLOAT32 || kv->type == MX_GGUF_FLOAT64) *out = kv->v.f;
  else if (is_signed(kv->type)) *out = (double)kv->v.i;
  else if (is_unsigned(kv->type)) *out = (double)kv->v.u;
  else return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not a number", kv->key);
  return MX_OK;
}
mx_status mx_gguf_get_bool(const mx_gguf *g, int64_t i, bool *out) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_bool");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (kv->type != MX_GGUF_BOOL)
    return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not a bool", kv->key);
  *out = kv->v.u != 0;
  return MX_OK;
}
mx_status mx_gguf_get_string(const mx_gguf *g, int64_t i, const char **out, size_t *len) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_string");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (kv->type != MX_GGUF_STRING)
    return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not a string", kv->key);
  *out = (const char *)g->map->data + kv->off;
  *len = kv->len;
  return MX_OK;
}
mx_status mx_gguf_get_array(const mx_gguf *g, int64_t i, mx_gguf_type *elem_type,
                            uint64_t *count) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_array");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (kv->type != MX_GGUF_ARRAY)
    return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not an array", kv->key);
  if (elem_type) *elem_type = kv->elem_type;
  if (count) *count = kv->count;
  return MX_OK;
}

static mx_status array_elem(const mx_gguf *g, int64_t i, uint64_t j, gguf_kv *tmp,
                            const char *op) {
  const gguf_kv *kv = get_kv(g, i, op);
  if (!kv) return MX_ERR_INVALID_ARG;
  size_t es = kv->type == MX_GGUF_ARRAY ? gguf_scalar_size(kv->elem_type) : 0;
  if (!es)
    return set_error(MX_ERR_INVALID_ARG, "%s: key '%s' is not an array of numbers", op, kv->key);
  if (j >= kv->count)
    return set_error(MX_ERR_INVALID_ARG, "%s: index %llu past the %llu elements of '%s'", op,
                     (unsigned long long)j, (unsigned long long)kv->count, kv->key);
  tmp->key = kv->key;
  tmp->type = kv->elem_type;
  decode_scalar(kv->elem_type, g->map->data + kv->off + (size_t)j * es, tmp);
  return MX_OK;
}
mx_status mx_gguf_get_array_int(const mx_gguf *g, int64_t i, uint64_t j, int64_t *out) {
  gguf_kv tmp = {0};
  mx_status st = array_elem(g, i, j, &tmp, "gguf_get_array_int");
  if (st < 0) return st;
  if (tmp.type == MX_GGUF_FLOAT32 || tmp.type == MX_GGUF_FLOAT64)
    return set_error(MX_ERR_INVALID_ARG, "gguf: '%s' holds floats, not integers", tmp.key);
  return as_int(&tmp, out);
}
mx_status mx_gguf_get_array_float(const mx_gguf *g, int64_t i, uint64_t j, double *out) {
  gguf_kv tmp = {0};
  mx_status st = array_elem(g, i, j, &tmp, "gguf_get_array_float");
  if (st < 0) return st;
  if (tmp.type == MX_GGUF_FLOAT32 || tmp.type == MX_GGUF_FLOAT64) *out = tmp.v.f;
  else if (is_signed(tmp.type)) *out = (double)tmp.v.i;
  else *out = (double)tmp.v.u;
  return MX_OK;
}
mx_status mx_gguf_get_array_string(const mx_gguf *g, int64_t i, uint64_t j, const char **out,
                                   size_t *len) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_array_string");
  if (!kv) return MX_ERR_INVALID_ARG;
  if (kv->type != MX_GGUF_ARRAY || kv->elem_type != MX_GGUF_STRING)
    return set_error(MX_ERR_INVALID_ARG, "gguf: key '%s' is not an array of strings", kv->key);
  if (j >= kv->count)
    return set_error(MX_ERR_INVALID_ARG, "gguf: index %llu past the %llu strings of '%s'",
                     (unsigned long long)j, (unsigned long long)kv->count, kv->key);
  *out = (const char *)g->map->data + kv->str_off[j];
  *len = kv->str_len[j];
  return MX_OK;
}
const void *mx_gguf_get_array_data(const mx_gguf *g, int64_t i) {
  const gguf_kv *kv = get_kv(g, i, "gguf_get_array_data");
  if (!kv || kv->type != MX_GGUF_ARRAY || !gguf_scalar_size(kv->elem_type)) return NULL;
  return g->map->data + kv->off;
}

/* ---- tensors ---- */

static const gguf_tensor *get_tensor(const mx_gguf *g, int64_t t, const char *op) {
  if (!g || t < 0 || t >= g->ntensors) {
    set_error(MX_ERR_INVALID_ARG, "%s: tensor index %lld out of range", op, (long long)t);
    return NULL;
  }
  return &g->tensors[t];
}

int64_t mx_gguf_find_tensor(const mx_gguf *g, const char *name) {
  if (!g || !name) return -1;
  for (int64_t i = 0; i < g->ntensors; i++)
    if (strcmp(g->tensors[i].name, name) == 0) return i;
  return -1;
}
const char *mx_gguf_tensor_name(const mx_gguf *g, int64_t t) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor_name");
  return x ? x->name : NULL;
}
mx_ggml_type mx_gguf_tensor_type(const mx_gguf *g, int64_t t) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor_type");
  return x ? x->type : (mx_ggml_type)-1;
}
int mx_gguf_tensor_shape(const mx_gguf *g, int64_t t, int64_t *shape) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor_shape");
  if (!x) return -1;
  memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
  return x->ndim;
}
uint64_t mx_gguf_tensor_offset(const mx_gguf *g, int64_t t) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor_offset");
  return x ? g->data_offset + x->offset : 0;
}
uint64_t mx_gguf_tensor_nbytes(const mx_gguf *g, int64_t t) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor_nbytes");
  return x ? x->nbytes : 0;
}

mx_array mx_gguf_tensor(mx_gguf *g, int64_t t) {
  const gguf_tensor *x = get_tensor(g, t, "gguf_tensor");
  if (!x) return NULL;
  mx_dtype dt;
  switch (x->type) {
  case MX_GGML_F32: dt = MX_FLOAT32; break;
  case MX_GGML_F16: dt = MX_FLOAT16; break;
  case MX_GGML_BF16: dt = MX_BFLOAT16; break;
  case MX_GGML_F64: dt = MX_FLOAT64; break;
  case MX_GGML_I8: dt = MX_INT8; break;
  case MX_GGML_I16: dt = MX_INT16; break;
  case MX_GGML_I32: dt = MX_INT32; break;
  case MX_GGML_I64: dt = MX_INT64; break;
  default: dt = MX_UINT8; break;
  }
  int64_t shape[GGUF_MAX_DIMS];
  int ndim = x->ndim;
  memcpy(shape, x->shape, (size_t)ndim * sizeof *shape);
  if (dt == MX_UINT8 && x->type != MX_GGML_I8) {
    /* Raw blocks: (rows, bytes per row). */
    int64_t blk, bytes;
    mx_ggml_type_block(x->type, &blk, &bytes);
    int64_t row = ndim ? shape[ndim - 1] : 1;
    int64_t rows = ndim > 1 ? shape_size(shape, ndim - 1) : 1;
    shape[0] = rows;
    shape[1] = row / blk * bytes;
    ndim = 2;
  }
  void *ptr = (void *)(g->map->data + g->data_offset + x->offset);
  mapped_file_retain(g->map);
  mx_array a = mx_array_from_borrowed(ptr, shape, ndim, dt, mapped_file_release_cb, g->map);
  if (!a) mapped_file_release(g->map);
  return a;
}

bool gguf_kv_raw(const mx_gguf *g, int64_t i, const unsigned char **bytes, size_t *len) {
  if (!g || i < 0 || i >= g->nkv) return false;
  *bytes = g->map->data + g->kv[i].raw_off;
  *len = g->kv[i].raw_len;
  return true;
}
