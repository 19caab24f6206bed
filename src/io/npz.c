/* npz.c — NumPy .npz archives: a zip file of .npy members.
 *
 * Reading walks the central directory (end record, zip64 end record when the
 * counts or offsets overflow 32 bits), checks each member's local header
 * against it, and inflates deflated members with zlib (np.savez_compressed)
 * or reads stored ones (np.savez). Every offset and size is checked against
 * the file. Writing stores members uncompressed, as np.savez does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/core.h"
#include "mapped_file.h"
#include "mlxc/io.h"

typedef struct npz_member {
  char *name; /* without the ".npy" suffix */
  uint16_t method;
  uint64_t comp_size, size, local_off;
  uint32_t crc;
} npz_member;

struct mx_npz {
  mapped_file *map;
  char *path;
  int64_t n;
  npz_member *m;
};

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

void mx_npz_close(mx_npz *z) {
  if (!z) return;
  for (int64_t i = 0; i < z->n; i++) free(z->m[i].name);
  free(z->m);
  free(z->path);
  mapped_file_release(z->map);
  free(z);
}

#define BAD(...)                                                              \
  do {                                                                        \
    char bad_[300];                                                           \
    snprintf(bad_, sizeof bad_, __VA_ARGS__);                                 \
    set_error(MX_ERR_FORMAT, "npz: %s: %s", path, bad_);                      \
    goto fail;                                                                \
  } while (0)

static mx_npz *parse(mapped_file *map, const char *path) {
  mx_npz *z = calloc(1, sizeof *z);
  if (!z) {
    mapped_file_release(map);
    set_error(MX_ERR_OOM, "npz: out of memory");
    return NULL;
  }
  z->map = map;
  z->path = strdup(path);
  const unsigned char *d = map->data;
  size_t size = map->size;
  /* End of central directory: the last "PK\5\6" within 64 KiB + 22 bytes. */
  if (size < 22) BAD("too short for a zip archive");
  size_t eocd = SIZE_MAX;
  size_t lo = size > 65557 ? size - 65557 : 0;
  for (size_t i = size - 22 + 1; i-- > lo;) {
    if (memcmp(d + i, "PK\5\6", 4) == 0) {
      eocd = i;
      break;
    }
  }
  if (eocd == SIZE_MAX) BAD("no zip end-of-central-directory record");
  uint64_t count = le(d + eocd + 10, 2), cd_size = le(d + eocd + 12, 4), cd_off = le(d + eocd + 16, 4);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
    /* zip64: locator just before the end record points to the zip64 end. */
    if (eocd < 20 || memcmp(d + eocd - 20, "PK\6\7", 4) != 0) BAD("zip64 locator missing");
    uint64_t z64 = le(d + eocd - 20 + 8, 8);
    if (size < 56 || z64 > size - 56 || memcmp(d + z64, "PK\6\6", 4) != 0) BAD("bad zip64 end record");
    count = le(d + z64 + 32, 8);
    cd_size = le(d + z64 + 40, 8);
    cd_off = le(d + z64 + 48, 8);
  }
  if (cd_off > size || cd_size > size - cd_off) BAD("central directory outside the file");
  if (count > cd_size / 46) BAD("member count %llu does not fit the central directory", (unsigned long long)count);
  z->m = calloc(count ? count : 1, sizeof *z->m);
  if (!z->m) BAD("out of memory");
  size_t p = cd_off, end = cd_off + cd_size;
  for (uint64_t i = 0; i < count; i++) {
    if (end - p < 46 || memcmp(d + p, "PK\1\2", 4) != 0) BAD("bad central directory entry %llu", (unsigned long long)i);
    npz_member *m = &z->m[z->n];
    m->method = (uint16_t)le(d + p + 10, 2);
    m->crc = (uint32_t)le(d + p + 16, 4);
    m->comp_size = le(d + p + 20, 4);
    m->size = le(d + p + 24, 4);
    size_t nlen = le(d + p + 28, 2), xlen = le(d + p + 30, 2), clen = le(d + p + 32, 2);
    m->local_off = le(d + p + 42, 4);
    if (end - p - 46 < nlen + xlen + clen) BAD("central directory entry %llu runs past its end", (unsigned long long)i);
    const unsigned char *name = d + p + 46, *extra = name + nlen;
    /* zip64 extra field (id 1): the 0xffffffff fields, in order. */
    for (size_t x = 0; x + 4 <= xlen;) {
      size_t id = le(extra + x, 2), sz = le(extra + x + 2, 2);
      if (x + 4 + sz > xlen) break;
      if (id == 1) {
        size_t q = x + 4;
        if (m->size == 0xffffffffu && q + 8 <= x + 4 + sz) m->size = le(extra + q, 8), q += 8;
        if (m->comp_size == 0xffffffffu && q + 8 <= x + 4 + sz) m->comp_size = le(extra + q, 8), q += 8;
        if (m->local_off == 0xffffffffu && q + 8 <= x + 4 + sz) m->local_off = le(extra + q, 8);
      }
      x += 4 + sz;
    }
    if (nlen < 5 || memcmp(name + nlen - 4, ".npy", 4) != 0) {
      p += 46 + nlen + xlen + clen;
      continue; /* not an array: ignored, as numpy.load does */
    }
    m->name = malloc(nlen - 3);
    if (!m->name) BAD("out of memory");
    memcpy(m->name, name, nlen - 4);
    m->name[nlen - 4] = '\0';
    z->n++; /* owned by z from here, also on the error paths below */
    if (memchr(m->name, 0, nlen - 4)) BAD("member name contains NUL");
    if (m->method != 0 && m->method != 8) BAD("member '%.64s' uses compression method %u (only stored and deflate)", m->name, m->method);
    p += 46 + nlen + xlen + clen;
  }
  return z;
fail:
  mx_npz_close(z);
  return NULL;
}

mx_npz *mx_npz_open(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "npz: path is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_open("npz", path);
  return m ? parse(m, path) : NULL;
}

mx_npz *mx_npz_open_memory(const void *bytes, size_t size, const char *name) {
  if (!bytes && size) {
    set_error(MX_ERR_INVALID_ARG, "npz: bytes is NULL");
    return NULL;
  }
  mapped_file *m = mapped_file_wrap(bytes ? bytes : "", size);
  return m ? parse(m, name ? name : "<memory>") : NULL;
}

int64_t mx_npz_count(const mx_npz *z) { return z ? z->n : 0; }
const char *mx_npz_name(const mx_npz *z, int64_t i) {
  return z && i >= 0 && i < z->n ? z->m[i].name : NULL;
}
int64_t mx_npz_find(const mx_npz *z, const char *name) {
  if (!z || !name) return -1;
  for (int64_t i = 0; i < z->n; i++)
    if (strcmp(z->m[i].name, name) == 0) return i;
  return -1;
}

mx_array mx_npz_get(mx_npz *z, int64_t i) {
  const char *path = z ? z->path : "?";
  unsigned char *buf = NULL;
  if (!z || i < 0 || i >= z->n) {
    set_error(MX_ERR_INVALID_ARG, "npz_get: member index %lld out of range", (long long)i);
    return NULL;
  }
  const npz_member *m = &z->m[i];
  const unsigned char *d = z->map->data;
  size_t size = z->map->size;
  if (m->local_off > size || size - m->local_off < 30 || memcmp(d + m->local_off, "PK\3\4", 4) != 0)
    BAD("member '%.64s' has a bad local header", m->name);
  size_t data = m->local_off + 30 + le(d + m->local_off + 26, 2) + le(d + m->local_off + 28, 2);
  if (data > size || m->comp_size > size - data) BAD("member '%.64s' runs past the end of the file", m->name);
  /* Deflate expands at most 1032:1, so a claimed size beyond that is a lie
   * told to make us allocate; refuse it before allocating. */
  if (m->size > ((uint64_t)1 << 40) || (m->method == 8 && m->size > m->comp_size * 1032 + 64))
    BAD("member '%.64s' claims %llu bytes from %llu compressed", m->name,
        (unsigned long long)m->size, (unsigned long long)m->comp_size);
  const unsigned char *src = d + data;
  if (m->method == 0) {
    if (m->comp_size != m->size) BAD("stored member '%.64s' has mismatched sizes", m->name);
  } else {
    buf = malloc(m->size ? m->size : 1);
    if (!buf) BAD("out of memory for member '%.64s'", m->name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) BAD("zlib init failed");
    /* zlib counts in uInt: feed in pieces so large members work. */
    uint64_t in_left = m->comp_size, out_left = m->size;
    zs.next_in = (Bytef *)src;
    zs.next_out = buf;
    int rc = Z_OK;
    while (rc == Z_OK) {
      if (zs.avail_in == 0 && in_left) {
        zs.avail_in = (uInt)(in_left > (1u << 30) ? (1u << 30) : in_left);
        in_left -= zs.avail_in;
      }
      if (zs.avail_out == 0 && out_left) {
        zs.avail_out = (uInt)(out_left > (1u << 30) ? (1u << 30) : out_left);
        out_left -= zs.avail_out;
      }
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;
    }
    uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != m->size) BAD("member '%.64s' does not inflate to %llu bytes", m->name, (unsigned long long)m->size);
    src = buf;
  }
  {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < m->size; off += (1u << 30)) {
      uint64_t n = m->size - off > (1u << 30) ? (1u << 30) : m->size - off;
      crc = crc32(crc, src + off, (uInt)n);
    }
    if ((uint32_t)crc != m->crc) BAD("member '%.64s' fails its CRC check", m->name);
  }
  char label[512];
  snprintf(label, sizeof label, "%s:%s.npy", path, m->name);
  mx_array a = mx_load_npy_bytes(src, (size_t)m->size, label);
  free(buf);
  return a;
fail:
  free(buf);
  return NULL;
}

/* ---- writing (stored members, as np.savez) ---- */

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

mx_status mx_save_npz(const char *path, const char *const *names, const mx_array *arrays, size_t n) {
  if (!path || (n && (!names || !arrays)))
    return set_error(MX_ERR_INVALID_ARG, "save_npz: NULL path, names or arrays");
  for (size_t i = 0; i < n; i++) {
    if (!names[i] || !names[i][0] || strlen(names[i]) > 60000)
      return set_error(MX_ERR_INVALID_ARG, "save_npz: array %zu has an invalid name", i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return set_error(MX_ERR_INVALID_ARG, "save_npz: name '%s' given twice", names[i]);
  }
  char tmpdir[] = "/tmp/mlxc_npz_XXXXXX";
  if (!mkdtemp(tmpdir)) return set_error(MX_ERR_IO, "save_npz: cannot make a temporary folder");
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    rmdir(tmpdir);
    return set_error(MX_ERR_IO, "save_npz: cannot create %s: %s", tmp, strerror(errno));
  }
  unsigned char *cd = NULL;
  size_t cd_len = 0;
  mx_status st = MX_OK;
  uint64_t off = 0;
  for (size_t i = 0; i < n && st == MX_OK; i++) {
    /* Each member is the .npy bytes, produced by mx_save_npy. */
    char npy[4200];
    snprintf(npy, sizeof npy, "%s/m.npy", tmpdir);
    st = mx_save_npy(npy, arrays[i]);
    if (st < 0) break;
    FILE *f = fopen(npy, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    unsigned char *data = malloc((size_t)sz + 1);
    size_t got = data ? fread(data, 1, (size_t)sz, f) : 0;
    fclose(f);
    unlink(npy);
    if (!data || got != (size_t)sz || (uint64_t)sz >= 0xffffffffu || off >= 0xffffffffu) {
      free(data);
      st = set_error(MX_ERR_IO, "save_npz: member '%s' too large or unreadable (zip64 writing is not supported)", names[i]);
      break;
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)sz);
    size_t nl = strlen(names[i]) + 4;
    unsigned char lh[30] = {'P', 'K', 3, 4};
    put16(lh + 4, 20);
    put32(lh + 14, crc);
    put32(lh + 18, (uint32_t)sz);
    put32(lh + 22, (uint32_t)sz);
    put16(lh + 26, (unsigned)nl);
    bool ok = fwrite(lh, 1, 30, out) == 30 && fwrite(names[i], 1, nl - 4, out) == nl - 4 &&
              fwrite(".npy", 1, 4, out) == 4 && fwrite(data, 1, (size_t)sz, out) == (size_t)sz;
    free(data);
    unsigned char *ncd = realloc(cd, cd_len + 46 + nl);
    if (!ok || !ncd) {
      if (ncd) cd = ncd;
      st = set_error(MX_ERR_IO, "save_npz: cannot write %s", tmp);
      break;
    }
    cd = ncd;
    unsigned char *e = cd + cd_len;
    memset(e, 0, 46);
    memcpy(e, "PK\1\2", 4);
    put16(e + 4, 20);
    put16(e + 6, 20);
    put32(e + 16, crc);
    put32(e + 20, (uint32_t)sz);
    put32(e + 24, (uint32_t)sz);
    put16(e + 28, (unsigned)nl);
    put32(e + 42, (uint32_t)off);
    memcpy(e + 46, names[i], nl - 4);
    memcpy(e + 46 + nl - 4, ".npy", 4);
    cd_len += 46 + nl;
    off += 30 + nl + (uint64_t)sz;
  }
  if (st == MX_OK) {
    unsigned char eocd[22] = {'P', 'K', 5, 6};
    put16(eocd + 8, (unsigned)n);
    put16(eocd + 10, (unsigned)n);
    put32(eocd + 12, (uint32_t)cd_len);
    put32(eocd + 16, (uint32_t)off);
    if (n > 0xffff || (cd_len && fwrite(cd, 1, cd_len, out) != cd_len) || fwrite(eocd, 1, 22, out) != 22)
      st = set_error(MX_ERR_IO, "save_npz: cannot write %s", tmp);
  }
  free(cd);
  if (fclose(out) != 0 && st == MX_OK) st = set_error(MX_ERR_IO, "save_npz: cannot write %s", tmp);
  rmdir(tmpdir);
  if (st == MX_OK && rename(tmp, path) != 0) st = set_error(MX_ERR_IO, "save_npz: cannot rename to %s", path);
  if (st != MX_OK) remove(tmp);
  return st;
}
