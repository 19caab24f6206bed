/* npy.c — NumPy .npy reading and writing.
 *
 * Layout: magic "\x93NUMPY", version (1|2|3).x, header length (u16 for v1,
 * u32 for v2/3), then a Python dict literal {'descr': '<f4', 'fortran_order':
 * False, 'shape': (2, 3), } padded with spaces and '\n', then the raw data.
 * The reader checks every length against the bytes it has. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../backend/cpu/cpu.h"
#include "../core/core.h"
#include "mlxc/io.h"
#include "mlxc/ops.h"

typedef struct descr_map {
  const char *code; /* without the byte-order character */
  mx_dtype dtype;
} descr_map;

static const descr_map descrs[] = {
    {"b1", MX_BOOL},    {"u1", MX_UINT8},   {"u2", MX_UINT16},  {"u4", MX_UINT32},
    {"u8", MX_UINT64},  {"i1", MX_INT8},    {"i2", MX_INT16},   {"i4", MX_INT32},
    {"i8", MX_INT64},   {"f2", MX_FLOAT16}, {"f4", MX_FLOAT32}, {"f8", MX_FLOAT64},
    {"c8", MX_COMPLEX64},
};

/* Finds `'key':` in the header dict and returns a pointer after the colon. */
static const char *find_key(const char *h, size_t n, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl + 2 < n; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, kl) == 0 &&
        h[i + 1 + kl] == h[i]) {
      size_t j = i + 2 + kl;
      while (j < n && h[j] == ' ') j++;
      if (j < n && h[j] == ':') return h + j + 1;
    }
  }
  return NULL;
}

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static void bswap_elems(void *data, int64_t n, size_t size) {
  unsigned char *p = data;
  for (int64_t i = 0; i < n; i++) {
    unsigned char *e = p + (size_t)i * size;
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = e[a];
      e[a] = e[b];
      e[b] = t;
    }
  }
}

mx_array mx_load_npy_bytes(const void *bytes, size_t size, const char *name) {
  const unsigned char *b = bytes;
  if (!name) name = "<memory>";
  if (!bytes || size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: not a .npy file (bad magic)", name);
    return NULL;
  }
  unsigned major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) {
      set_error(MX_ERR_FORMAT, "load_npy: %s: truncated header", name);
      return NULL;
    }
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    set_error(MX_ERR_FORMAT, "load_npy: %s: unsupported version %u", name, major);
    return NULL;
  }
  if (hlen > size - hstart) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: header length %zu exceeds file size %zu", name, hlen,
              size);
    return NULL;
  }
  const char *h = (const char *)b + hstart, *hend = h + hlen;

  const char *p = find_key(h, hlen, "descr");
  if (!p) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: header has no 'descr'", name);
    return NULL;
  }
  p = skip_ws(p, hend);
  if (p + 4 > hend || (*p != '\'' && *p != '"')) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: bad 'descr'", name);
    return NULL;
  }
  char q = *p++;
  const char *dend = memchr(p, q, (size_t)(hend - p));
  if (!dend || dend - p < 3 || dend - p > 3) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: unsupported descr (structured or odd type)", name);
    return NULL;
  }
  char order = p[0];
  char code[3] = {p[1], p[2], 0};
  mx_dtype dtype = MX_DTYPE_COUNT;
  for (size_t i = 0; i < sizeof descrs / sizeof *descrs; i++)
    if (strcmp(descrs[i].code, code) == 0) dtype = descrs[i].dtype;
  if (dtype == MX_DTYPE_COUNT || (order != '<' && order != '>' && order != '|' && order != '=')) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: unsupported dtype '%c%s'", name, order, code);
    return NULL;
  }
  bool swap = order == '>' && mx_dtype_size(dtype) > 1;

  bool fortran = false;
  p = find_key(h, hlen, "fortran_order");
  if (p) {
    p = skip_ws(p, hend);
    if (hend - p >= 4 && memcmp(p, "True", 4) == 0) fortran = true;
    else if (!(hend - p >= 5 && memcmp(p, "False", 5) == 0)) {
      set_error(MX_ERR_FORMAT, "load_npy: %s: bad 'fortran_order'", name);
      return NULL;
    }
  }

  p = find_key(h, hlen, "shape");
  if (!p) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: header has no 'shape'", name);
    return NULL;
  }
  p = skip_ws(p, hend);
  if (p >= hend || *p != '(') {
    set_error(MX_ERR_FORMAT, "load_npy: %s: bad 'shape'", name);
    return NULL;
  }
  p++;
  int64_t shape[MX_MAX_NDIM];
  int ndim = 0;
  for (;;) {
    p = skip_ws(p, hend);
    if (p >= hend) {
      set_error(MX_ERR_FORMAT, "load_npy: %s: unterminated 'shape'", name);
      return NULL;
    }
    if (*p == ')') break;
    if (*p < '0' || *p > '9') {
      set_error(MX_ERR_FORMAT, "load_npy: %s: bad 'shape'", name);
      return NULL;
    }
    int64_t v = 0;
    while (p < hend && *p >= '0' && *p <= '9') {
      if (v > (INT64_MAX - 9) / 10) {
        set_error(MX_ERR_FORMAT, "load_npy: %s: dimension too large", name);
        return NULL;
      }
      v = v * 10 + (*p++ - '0');
    }
    if (ndim == MX_MAX_NDIM) {
      set_error(MX_ERR_FORMAT, "load_npy: %s: more than %d dimensions", name, MX_MAX_NDIM);
      return NULL;
    }
    shape[ndim++] = v;
    p = skip_ws(p, hend);
    if (p < hend && *p == ',') p++;
  }
  /* Size check without overflow: an empty array needs no data, whatever
   * its other dims. */
  size_t es = mx_dtype_size(dtype), avail = size - hstart - hlen, nbytes = es;
  bool empty = false;
  for (int i = 0; i < ndim; i++) empty |= shape[i] == 0;
  for (int i = 0; i < ndim && !empty; i++) {
    if (nbytes > SIZE_MAX / (size_t)shape[i] || (int64_t)(nbytes * (size_t)shape[i]) < 0) {
      set_error(MX_ERR_FORMAT, "load_npy: %s: shape is too large", name);
      return NULL;
    }
    nbytes *= (size_t)shape[i];
  }
  if (empty) nbytes = 0;
  if (nbytes > avail) {
    set_error(MX_ERR_FORMAT, "load_npy: %s: data is %zu bytes, shape needs %zu", name, avail,
              nbytes);
    return NULL;
  }
  const unsigned char *data = b + hstart + hlen;
  if (!fortran) {
    mx_array a = mx_array_from_data(nbytes ? data : NULL, shape, ndim, dtype);
    if (a && swap) bswap_elems(a->buf->ptr, a->size * (dtype == MX_COMPLEX64 ? 2 : 1),
                               dtype == MX_COMPLEX64 ? 4 : es);
    return a;
  }
  /* Fortran order: the data is the row-major array of the reversed shape,
   * transposed. */
  int64_t rshape[MX_MAX_NDIM];
  for (int i = 0; i < ndim; i++) rshape[i] = shape[ndim - 1 - i];
  mx_array t = mx_array_from_data(nbytes ? data : NULL, rshape, ndim, dtype);
  if (!t) return NULL;
  if (swap) bswap_elems(t->buf->ptr, t->size * (dtype == MX_COMPLEX64 ? 2 : 1),
                        dtype == MX_COMPLEX64 ? 4 : es);
  mx_array tt = mx_transpose(t, NULL, 0);
  mx_array out = mx_contiguous(tt);
  mx_array_free(t);
  mx_array_free(tt);
  if (out && mx_eval1(out) < 0) {
    mx_array_free(out);
    return NULL;
  }
  return out;
}

mx_array mx_load_npy(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "load_npy: path is NULL");
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_error(MX_ERR_IO, "load_npy: cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    set_error(MX_ERR_IO, "load_npy: cannot seek %s", path);
    return NULL;
  }
  long len = ftell(f);
  rewind(f);
  if (len < 0) {
    fclose(f);
    set_error(MX_ERR_IO, "load_npy: cannot size %s", path);
    return NULL;
  }
  unsigned char *buf = malloc((size_t)len + 1);
  if (!buf) {
    fclose(f);
    set_error(MX_ERR_OOM, "load_npy: %s: out of memory (%ld bytes)", path, len);
    return NULL;
  }
  size_t got = fread(buf, 1, (size_t)len, f);
  fclose(f);
  if (got != (size_t)len) {
    free(buf);
    set_error(MX_ERR_IO, "load_npy: short read on %s", path);
    return NULL;
  }
  mx_array a = mx_load_npy_bytes(buf, (size_t)len, path);
  free(buf);
  return a;
}

mx_status mx_save_npy(const char *path, mx_array a) {
  if (!path) return set_error(MX_ERR_INVALID_ARG, "save_npy: path is NULL");
  if (!a) {
    if (mx_last_error_code() == MX_OK) set_error(MX_ERR_NULL_INPUT, "save_npy: NULL array");
    return MX_ERR_NULL_INPUT;
  }
  const char *code = NULL;
  for (size_t i = 0; i < sizeof descrs / sizeof *descrs; i++)
    if (descrs[i].dtype == a->dtype) code = descrs[i].code;
  if (!code)
    return set_error(MX_ERR_DTYPE, "save_npy: %s has no NumPy equivalent", mx_dtype_name(a->dtype));
  const void *data = mx_array_data(a);
  if (!data) return mx_last_error_code();
  char header[512];
  char shp[SHAPE_STR_CAP + 8];
  size_t n = 0;
  n += (size_t)snprintf(shp + n, sizeof shp - n, "(");
  for (int i = 0; i < a->ndim; i++)
    n += (size_t)snprintf(shp + n, sizeof shp - n, "%lld,%s", (long long)a->shape[i],
                          i + 1 < a->ndim ? " " : "");
  if (a->ndim > 1) shp[n - 1] = '\0', n--;
  snprintf(shp + n, sizeof shp - n, ")");
  int hl = snprintf(header, sizeof header, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                    mx_dtype_size(a->dtype) == 1 ? '|' : '<', code, shp);
  size_t total = 10 + (size_t)hl + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)hl + pad + 1;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return set_error(MX_ERR_INVALID_ARG, "save_npy: path too long");
  FILE *f = fopen(tmp, "wb");
  if (!f) return set_error(MX_ERR_IO, "save_npy: cannot create %s: %s", tmp, strerror(errno));
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)hl, f) == (size_t)hl;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t nbytes = (size_t)a->size * mx_dtype_size(a->dtype);
  ok = ok && fwrite(data, 1, nbytes, f) == nbytes;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return set_error(MX_ERR_IO, "save_npy: cannot write %s: %s", path, strerror(errno));
  }
  return MX_OK;
}
