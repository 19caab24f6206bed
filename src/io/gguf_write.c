/* gguf_write.c — writing GGUF v3 files.
 *
 * Metadata values are serialized as they are set (type tag + value bytes, as
 * in the file), so writing is a concatenation: header, keys, tensor infos,
 * padding to the alignment, tensor data each padded to the alignment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/core.h"
#include "gguf_internal.h"
#include "mlxc/gguf.h"

typedef struct wkv {
  char *key;
  unsigned char *val; /* u32 type + value */
  size_t len;
} wkv;

typedef struct wtensor {
  char *name;
  mx_ggml_type type;
  int ndim;
  int64_t shape[MX_MAX_NDIM];
  mx_array data; /* a reference; bytes written as row-major */
  uint64_t nbytes;
} wtensor;

struct mx_gguf_writer {
  wkv *kv;
  size_t nkv, cap_kv;
  wtensor *t;
  size_t nt, cap_t;
};

mx_gguf_writer *mx_gguf_writer_new(void) {
  mx_gguf_writer *w = calloc(1, sizeof *w);
  if (!w) set_error(MX_ERR_OOM, "gguf_writer: out of memory");
  return w;
}

void mx_gguf_writer_free(mx_gguf_writer *w) {
  if (!w) return;
  for (size_t i = 0; i < w->nkv; i++) {
    free(w->kv[i].key);
    free(w->kv[i].val);
  }
  for (size_t i = 0; i < w->nt; i++) {
    free(w->t[i].name);
    array_release(w->t[i].data);
  }
  free(w->kv);
  free(w->t);
  free(w);
}

/* Takes ownership of val (malloc'ed) on success and on failure. */
static mx_status put_kv(mx_gguf_writer *w, const char *key, unsigned char *val, size_t len) {
  if (!w || !key || !key[0]) {
    free(val);
    return set_error(MX_ERR_INVALID_ARG, "gguf_writer: NULL writer or empty key");
  }
  if (!val) return set_error(MX_ERR_OOM, "gguf_writer: out of memory");
  for (size_t i = 0; i < w->nkv; i++)
    if (strcmp(w->kv[i].key, key) == 0) {
      free(w->kv[i].val);
      w->kv[i].val = val;
      w->kv[i].len = len;
      return MX_OK;
    }
  if (w->nkv == w->cap_kv) {
    size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
    wkv *n = realloc(w->kv, cap * sizeof *n);
    if (!n) {
      free(val);
      return set_error(MX_ERR_OOM, "gguf_writer: out of memory");
    }
    w->kv = n;
    w->cap_kv = cap;
  }
  char *k = strdup(key);
  if (!k) {
    free(val);
    return set_error(MX_ERR_OOM, "gguf_writer: out of memory");
  }
  w->kv[w->nkv++] = (wkv){k, val, len};
  return MX_OK;
}

static void le_put(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static mx_status put_scalar(mx_gguf_writer *w, const char *key, mx_gguf_type t, uint64_t bits,
                            int size) {
  unsigned char *v = malloc(4 + (size_t)size);
  if (v) {
    le_put(v, (uint64_t)t, 4);
    le_put(v + 4, bits, size);
  }
  return put_kv(w, key, v, 4 + (size_t)size);
}

mx_status mx_gguf_writer_set_uint32(mx_gguf_writer *w, const char *key, uint32_t v) {
  return put_scalar(w, key, MX_GGUF_UINT32, v, 4);
}
mx_status mx_gguf_writer_set_int32(mx_gguf_writer *w, const char *key, int32_t v) {
  return put_scalar(w, key, MX_GGUF_INT32, (uint32_t)v, 4);
}
mx_status mx_gguf_writer_set_uint64(mx_gguf_writer *w, const char *key, uint64_t v) {
  return put_scalar(w, key, MX_GGUF_UINT64, v, 8);
}
mx_status mx_gguf_writer_set_int64(mx_gguf_writer *w, const char *key, int64_t v) {
  return put_scalar(w, key, MX_GGUF_INT64, (uint64_t)v, 8);
}
mx_status mx_gguf_writer_set_float32(mx_gguf_writer *w, const char *key, float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return put_scalar(w, key, MX_GGUF_FLOAT32, b, 4);
}
mx_status mx_gguf_writer_set_float64(mx_gguf_writer *w, const char *key, double v) {
  uint64_t b;
  memcpy(&b, &v, 8);
  return put_scalar(w, key, MX_GGUF_FLOAT64, b, 8);
}
mx_status mx_gguf_writer_set_bool(mx_gguf_writer *w, const char *key, bool v) {
  return put_scalar(w, key, MX_GGUF_BOOL, v ? 1 : 0, 1);
}

mx_status mx_gguf_writer_set_string(mx_gguf_writer *w, const char *key, const char *s,
                                    size_t len) {
  if (!s && len) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: string is NULL");
  unsigned char *v = malloc(12 + len);
  if (v) {
    le_put(v, MX_GGUF_STRING, 4);
    le_put(v + 4, len, 8);
    if (len) memcpy(v + 12, s, len);
  }
  return put_kv(w, key, v, 12 + len);
}

mx_status mx_gguf_writer_set_array(mx_gguf_writer *w, const char *key, mx_gguf_type elem_type,
                                   const void *data, uint64_t count) {
  size_t es = gguf_scalar_size(elem_type);
  if (!es)
    return set_error(MX_ERR_INVALID_ARG, "gguf_writer: array '%s' needs a numeric element type",
                     key ? key : "?");
  if (count && !data) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: array data is NULL");
  if (count > (SIZE_MAX - 16) / es) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: array too large");
  unsigned char *v = malloc(16 + (size_t)count * es);
  if (v) {
    le_put(v, MX_GGUF_ARRAY, 4);
    le_put(v + 4, (uint64_t)elem_type, 4);
    le_put(v + 8, count, 8);
    if (count) memcpy(v + 16, data, (size_t)count * es); /* little-endian host */
  }
  return put_kv(w, key, v, 16 + (size_t)count * es);
}

mx_status mx_gguf_writer_set_string_array(mx_gguf_writer *w, const char *key,
                                          const char *const *strs, const size_t *lens,
                                          uint64_t count) {
  if (count && (!strs || !lens)) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: strings are NULL");
  size_t total = 16;
  for (uint64_t i = 0; i < count; i++) {
    if (lens[i] > SIZE_MAX - total - 8) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: strings too large");
    total += 8 + lens[i];
  }
  unsigned char *v = malloc(total);
  if (v) {
    le_put(v, MX_GGUF_ARRAY, 4);
    le_put(v + 4, MX_GGUF_STRING, 4);
    le_put(v + 8, count, 8);
    size_t at = 16;
    for (uint64_t i = 0; i < count; i++) {
      le_put(v + at, lens[i], 8);
      if (lens[i]) memcpy(v + at + 8, strs[i], lens[i]);
      at += 8 + lens[i];
    }
  }
  return put_kv(w, key, v, total);
}

mx_status mx_gguf_writer_copy_kv(mx_gguf_writer *w, const mx_gguf *src, int64_t i) {
  const unsigned char *bytes;
  size_t len;
  if (!gguf_kv_raw(src, i, &bytes, &len))
    return set_error(MX_ERR_INVALID_ARG, "gguf_writer_copy_kv: key index %lld out of range", (long long)i);
  unsigned char *v = malloc(len);
  if (v) memcpy(v, bytes, len);
  return put_kv(w, mx_gguf_key(src, i), v, len);
}

static mx_status add_tensor(mx_gguf_writer *w, const char *name, mx_ggml_type type,
                            const int64_t *shape, int ndim, mx_array data, uint64_t nbytes) {
  for (size_t i = 0; i < w->nt; i++)
    if (strcmp(w->t[i].name, name) == 0)
      return set_error(MX_ERR_INVALID_ARG, "gguf_writer: tensor '%s' added twice", name);
  if (w->nt == w->cap_t) {
    size_t cap = w->cap_t ? w->cap_t * 2 : 32;
    wtensor *n = realloc(w->t, cap * sizeof *n);
    if (!n) return set_error(MX_ERR_OOM, "gguf_writer: out of memory");
    w->t = n;
    w->cap_t = cap;
  }
  wtensor *t = &w->t[w->nt];
  t->name = strdup(name);
  if (!t->name) return set_error(MX_ERR_OOM, "gguf_writer: out of memory");
  t->type = type;
  t->ndim = ndim;
  memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
  t->data = array_retain(data); /* kept past any scope */
  t->nbytes = nbytes;
  w->nt++;
  return MX_OK;
}

mx_status mx_gguf_writer_add_tensor(mx_gguf_writer *w, const char *name, mx_array a) {
  if (!w || !name || !name[0]) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: NULL writer or empty name");
  if (!a) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "gguf_writer: tensor '%s' is NULL", name);
    return MX_ERR_NULL_INPUT;
  }
  mx_ggml_type t;
  switch (a->dtype) {
  case MX_FLOAT32: t = MX_GGML_F32; break;
  case MX_FLOAT16: t = MX_GGML_F16; break;
  case MX_BFLOAT16: t = MX_GGML_BF16; break;
  case MX_FLOAT64: t = MX_GGML_F64; break;
  case MX_INT8: t = MX_GGML_I8; break;
  case MX_INT16: t = MX_GGML_I16; break;
  case MX_INT32: t = MX_GGML_I32; break;
  case MX_INT64: t = MX_GGML_I64; break;
  default:
    return set_error(MX_ERR_DTYPE, "gguf_writer: tensor '%s' has dtype %s, which GGUF cannot hold",
                     name, mx_dtype_name(a->dtype));
  }
  return add_tensor(w, name, t, a->shape, a->ndim, a, mx_array_nbytes(a));
}

mx_status mx_gguf_writer_add_blocks(mx_gguf_writer *w, const char *name, mx_ggml_type type,
                                    const int64_t *shape, int ndim, mx_array blocks) {
  if (!w || !name || !name[0]) return set_error(MX_ERR_INVALID_ARG, "gguf_writer: NULL writer or empty name");
  if (!blocks) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "gguf_writer: tensor '%s' is NULL", name);
    return MX_ERR_NULL_INPUT;
  }
  int64_t be, bb;
  if (!mx_ggml_type_block(type, &be, &bb))
    return set_error(MX_ERR_INVALID_ARG, "gguf_writer: tensor '%s' has unknown type %d", name, (int)type);
  if (ndim < 1 || ndim > 8 || !shape || shape[ndim - 1] % be != 0)
    return set_error(MX_ERR_SHAPE, "gguf_writer: tensor '%s': rows must be a multiple of %lld", name,
                     (long long)be);
  uint64_t need = (uint64_t)(shape_size(shape, ndim) / be * bb);
  if (blocks->dtype != MX_UINT8 || mx_array_nbytes(blocks) != need)
    return set_error(MX_ERR_SHAPE, "gguf_writer: tensor '%s' needs %llu uint8 bytes of %s blocks, got %zu",
                     name, (unsigned long long)need, mx_ggml_type_name(type), mx_array_nbytes(blocks));
  return add_tensor(w, name, type, shape, ndim, blocks, need);
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

mx_status mx_gguf_writer_write(mx_gguf_writer *w, const char *path) {
  if (!w || !path) return set_error(MX_ERR_INVALID_ARG, "gguf_writer_write: NULL writer or path");
  uint64_t align = 32;
  for (size_t i = 0; i < w->nkv; i++)
    if (strcmp(w->kv[i].key, "general.alignment") == 0) {
      const unsigned char *v = w->kv[i].val;
      uint32_t t = (uint32_t)(v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24);
      uint64_t a = w->kv[i].len == 8 ? (uint64_t)(v[4] | v[5] << 8 | v[6] << 16 | (uint32_t)v[7] << 24) : 0;
      if (t != MX_GGUF_UINT32 || a == 0 || (a & (a - 1)))
        return set_error(MX_ERR_INVALID_ARG, "gguf_writer: general.alignment must be a power-of-two uint32");
      align = a;
    }
  for (size_t i = 0; i < w->nt; i++) {
    mx_status st = mx_eval1(w->t[i].data);
    if (st < 0) return st;
  }
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return set_error(MX_ERR_INVALID_ARG, "gguf_writer: path too long");
  FILE *f = fopen(tmp, "wb");
  if (!f) return set_error(MX_ERR_IO, "gguf_writer: cannot create %s: %s", tmp, strerror(errno));
  bool ok = true;
  uint64_t pos = 0;
#define PUT(ptr, n)                                                 \
  do {                                                              \
    if (ok && (n) && fwrite((ptr), 1, (n), f) != (size_t)(n)) ok = false; \
    pos += (n);                                                     \
  } while (0)
  unsigned char b[24];
  memcpy(b, "GGUF", 4);
  le_put(b + 4, 3, 4);
  le_put(b + 8, w->nt, 8);
  le_put(b + 16, w->nkv, 8);
  PUT(b, 24);
  for (size_t i = 0; i < w->nkv; i++) {
    size_t kl = strlen(w->kv[i].key);
    le_put(b, kl, 8);
    PUT(b, 8);
    PUT(w->kv[i].key, kl);
    PUT(w->kv[i].val, w->kv[i].len);
  }
  uint64_t off = 0;
  for (size_t i = 0; i < w->nt; i++) {
    wtensor *t = &w->t[i];
    size_t nl = strlen(t->name);
    le_put(b, nl, 8);
    PUT(b, 8);
    PUT(t->name, nl);
    le_put(b, (uint64_t)t->ndim, 4);
    PUT(b, 4);
    for (int d = t->ndim - 1; d >= 0; d--) { /* fastest dim first */
      le_put(b, (uint64_t)t->shape[d], 8);
      PUT(b, 8);
    }
    le_put(b, (uint64_t)t->type, 4);
    le_put(b + 4, off, 8);
    PUT(b, 12);
    off = align_up(off + t->nbytes, align);
  }
  static const unsigned char zeros[256];
  uint64_t pad = align_up(pos, align) - pos;
  while (pad) {
    uint64_t n = pad > sizeof zeros ? sizeof zeros : pad;
    PUT(zeros, n);
    pad -= n;
  }
  for (size_t i = 0; i < w->nt; i++) {
    wtensor *t = &w->t[i];
    const void *d = mx_array_data(t->data);
    if (!d && t->nbytes) ok = false;
    PUT(d, t->nbytes);
    pad = align_up(pos, align) - pos;
    if (i + 1 == w->nt) pad = 0; /* no padding after the last tensor */
    while (pad) {
      uint64_t n = pad > sizeof zeros ? sizeof zeros : pad;
      PUT(zeros, n);
      pad -= n;
    }
  }
#undef PUT
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return set_error(MX_ERR_IO, "gguf_writer: cannot write %s", path);
  }
  return MX_OK;
}
