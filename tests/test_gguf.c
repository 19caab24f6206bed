/* test_gguf.c — the GGUF reader against an independent Python dump of real
 * files, and against malformed files (which must fail cleanly, never crash). */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "mlxc/gguf.h"

static const char *files[] = {"stories260K.gguf", "ggml-vocab-llama-spm.gguf",
                              "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf",
                              "ggml-vocab-bert-bge.gguf"};
static const char *dirs[] = {"models/stories260K", "tokenizers/llamacpp", "tokenizers/llamacpp",
                             "tokenizers/llamacpp", "tokenizers/llamacpp"};

static uint64_t fnv(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
#define FNV0 0xcbf29ce484222325ull

/* Appends the dump lines for g to buf (same format as gen_gguf.py). */
static void dump(mx_gguf *g, char *buf, size_t cap) {
  size_t n = 0;
#define PUT(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
  PUT("version %u\n", mx_gguf_version(g));
  for (int64_t i = 0; i < mx_gguf_kv_count(g); i++) {
    const char *key = mx_gguf_key(g, i);
    mx_gguf_type t = mx_gguf_kv_type(g, i);
    if (t == MX_GGUF_STRING) {
      const char *s;
      size_t len;
      mx_gguf_get_string(g, i, &s, &len);
      PUT("kv %s string %zu %016" PRIx64 "\n", key, len, fnv(s, len, FNV0));
    } else if (t == MX_GGUF_ARRAY) {
      mx_gguf_type et;
      uint64_t count;
      mx_gguf_get_array(g, i, &et, &count);
      if (et == MX_GGUF_STRING) {
        uint64_t h = FNV0;
        for (uint64_t j = 0; j < count; j++) {
          const char *s;
          size_t len;
          mx_gguf_get_array_string(g, i, j, &s, &len);
          uint64_t l64 = len; /* little-endian host */
          h = fnv(&l64, 8, h);
          h = fnv(s, len, h);
        }
        PUT("kv %s array string %" PRIu64 " %016" PRIx64 "\n", key, count, h);
      } else {
        static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        const void *d = mx_gguf_get_array_data(g, i);
        PUT("kv %s array %d %" PRIu64 " %016" PRIx64 "\n", key, (int)et, count,
            fnv(d, (size_t)count * (size_t)sizes[et], FNV0));
      }
    } else if (t == MX_GGUF_BOOL) {
      bool b;
      mx_gguf_get_bool(g, i, &b);
      PUT("kv %s %d %s\n", key, (int)t, b ? "true" : "false");
    } else if (t == MX_GGUF_FLOAT32 || t == MX_GGUF_FLOAT64) {
      double f;
      mx_gguf_get_float(g, i, &f);
      PUT("kv %s %d %.17g\n", key, (int)t, f);
    } else if (t == MX_GGUF_UINT64) {
      uint64_t u;
      mx_gguf_get_uint(g, i, &u);
      PUT("kv %s %d %" PRIu64 "\n", key, (int)t, u);
    } else {
      int64_t v;
      mx_gguf_get_int(g, i, &v);
      PUT("kv %s %d %" PRId64 "\n", key, (int)t, v);
    }
  }
  for (int64_t t = 0; t < mx_gguf_tensor_count(g); t++) {
    int64_t shape[MX_MAX_NDIM];
    int nd = mx_gguf_tensor_shape(g, t, shape);
    char sh[256] = "";
    size_t k = 0;
    for (int d = 0; d < nd; d++)
      k += (size_t)snprintf(sh + k, sizeof sh - k, d ? ",%" PRId64 : "%" PRId64, shape[d]);
    mx_array a = mx_gguf_tensor(g, t);
    const void *data = mx_array_data(a);
    uint64_t nb = mx_gguf_tensor_nbytes(g, t);
    CHECK(a && mx_array_nbytes(a) == nb);
    PUT("tensor %s %d (%s) %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n", mx_gguf_tensor_name(g, t),
        (int)mx_gguf_tensor_type(g, t), sh, mx_gguf_tensor_offset(g, t), nb,
        fnv(data, (size_t)nb, FNV0));
    mx_array_free(a);
  }
#undef PUT
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  b[*len] = '\0';
  fclose(f);
  return b;
}

static void test_real_files(const char *fxdir, const char *testdata) {
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[1024], dpath[1024];
    snprintf(path, sizeof path, "%s/%s/%s", testdata, dirs[i], files[i]);
    snprintf(dpath, sizeof dpath, "%s/%s.dump", fxdir, files[i]);
    mx_gguf *g = mx_gguf_open(path);
    CHECK_MSG(g != NULL, path); /* a missing test file fails, naming it */
    if (!g) continue;
    size_t len;
    char *want = read_file(dpath, &len);
    CHECK_MSG(want != NULL, dpath);
    size_t cap = 1 << 20;
    char *got = malloc(cap);
    dump(g, got, cap);
    bool same = want && strcmp(got, want) == 0;
    if (!same && want) { /* name the first differing line */
      const char *a = got, *b = want;
      while (*a && *a == *b) a++, b++;
      while (a > got && a[-1] != '\n') a--;
      char msg[600];
      snprintf(msg, sizeof msg, "%s: first difference at: %.200s", files[i], a);
      CHECK_MSG(0, msg);
    } else {
      CHECK(same);
    }
    free(got);
    free(want);
    mx_gguf_close(g);
  }
  /* Arrays outlive the file handle. */
  char path[1024];
  snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", testdata);
  mx_gguf *g = mx_gguf_open(path);
  if (g) {
    int64_t t = mx_gguf_find_tensor(g, "output_norm.weight");
    mx_array a = mx_gguf_tensor(g, t);
    mx_gguf_close(g);
    float x;
    mx_array first = mx_reshape(a, (int64_t[]){-1}, 1);
    CHECK(mx_array_dtype(a) == MX_FLOAT32 && ((const float *)mx_array_data(first))[0] != 0.0f);
    (void)x;
    mx_array_free(first);
    mx_array_free(a);
  }
}

/* ---- a tiny GGUF writer for malformed cases ---- */
typedef struct wbuf {
  unsigned char b[4096];
  size_t n;
} wbuf;
static void w32(wbuf *w, uint32_t v) {
  for (int i = 0; i < 4; i++) w->b[w->n++] = (unsigned char)(v >> (8 * i));
}
static void w64(wbuf *w, uint64_t v) {
  for (int i = 0; i < 8; i++) w->b[w->n++] = (unsigned char)(v >> (8 * i));
}
static void wstr(wbuf *w, const char *s, size_t len) {
  w64(w, len);
  memcpy(w->b + w->n, s, len);
  w->n += len;
}
/* A valid file: 2 kvs, 2 f32 tensors of 4 elements. Options break it. */
enum { OK = 0, BAD_UTF8, OVERLAP, HUGE_STRING, HUGE_COUNT, BAD_TYPE, MISALIGNED, PAST_END, DUP_KEY,
       BAD_BLOCK, HUGE_DIMS };
static void build(wbuf *w, int defect) {
  w->n = 0;
  w32(w, 0x46554747u);
  w32(w, 3);
  w64(w, 2);
  w64(w, defect == HUGE_COUNT ? (1ull << 60) : 2);
  if (defect == BAD_UTF8) wstr(w, "ke\xff", 3);
  else wstr(w, "general.name", 12);
  w32(w, MX_GGUF_STRING);
  if (defect == HUGE_STRING) w64(w, 1ull << 62);
  else wstr(w, "tiny", 4);
  wstr(w, defect == DUP_KEY ? "general.name" : "llama.block_count", defect == DUP_KEY ? 12 : 17);
  w32(w, MX_GGUF_UINT32);
  w32(w, 1);
  wstr(w, "a", 1);
  w32(w, 1);
  w64(w, defect == HUGE_DIMS ? (1ull << 63) + 4 : 4);
  w32(w, defect == BAD_TYPE ? 99 : (defect == BAD_BLOCK ? MX_GGML_Q4_0 : MX_GGML_F32));
  w64(w, 0);
  wstr(w, "b", 1);
  w32(w, 1);
  w64(w, 4);
  w32(w, MX_GGML_F32);
  w64(w, defect == OVERLAP ? 0 : (defect == MISALIGNED ? 20 : (defect == PAST_END ? 64 : 32)));
  while (w->n % 32) w->b[w->n++] = 0;
  for (int i = 0; i < 64; i++) w->b[w->n++] = (unsigned char)i;
}

static void test_malformed(void) {
  wbuf w;
  build(&w, OK);
  mx_gguf *g = mx_gguf_open_memory(w.b, w.n, "ok");
  CHECK_MSG(g != NULL, mx_last_error());
  CHECK(mx_gguf_tensor_count(g) == 2 && mx_gguf_kv_count(g) == 2);
  int64_t v;
  CHECK(mx_gguf_get_int(g, mx_gguf_find_key(g, "llama.block_count"), &v) == MX_OK && v == 1);
  const char *s;
  size_t len;
  CHECK(mx_gguf_get_string(g, 1, &s, &len) == MX_ERR_INVALID_ARG); /* a uint32, not a string */
  CHECK(mx_gguf_get_array_int(g, 0, 0, &v) == MX_ERR_INVALID_ARG);
  mx_gguf_close(g);
  mx_clear_error();
  /* Every truncation of the valid file fails cleanly. */
  size_t full = w.n;
  int clean = 0;
  for (size_t cut = 0; cut < full; cut++) {
    mx_clear_error();
    mx_gguf *t = mx_gguf_open_memory(w.b, cut, "cut");
    if (t == NULL && mx_last_error_code() == MX_ERR_FORMAT) clean++;
    mx_gguf_close(t);
  }
  /* The tensors end 16 bytes before the file does: only cuts inside that
   * unused tail may still open. */
  CHECK(clean == (int)full - 16);
  struct {
    int defect;
    const char *msg;
  } cases[] = {
      {BAD_UTF8, "not valid UTF-8"},     {OVERLAP, "overlap"},
      {HUGE_STRING, "runs past the end"}, {HUGE_COUNT, "larger than the file"},
      {BAD_TYPE, "unknown ggml type 99"}, {MISALIGNED, "not aligned"},
      {PAST_END, "runs past the end of the file"}, {DUP_KEY, "duplicate key"},
      {BAD_BLOCK, "not a multiple of the q4_0 block"}, {HUGE_DIMS, "impossible size"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    build(&w, cases[i].defect);
    mx_clear_error();
    mx_gguf *b = mx_gguf_open_memory(w.b, w.n, "bad");
    char msg[600];
    snprintf(msg, sizeof msg, "defect %d: want '%s', got '%s'", cases[i].defect, cases[i].msg,
             mx_last_error());
    CHECK_MSG(b == NULL && mx_last_error_code() == MX_ERR_FORMAT &&
                  strstr(mx_last_error(), cases[i].msg),
              msg);
    mx_gguf_close(b);
  }
  mx_clear_error();
  CHECK(mx_gguf_open("/nonexistent.gguf") == NULL && mx_last_error_code() == MX_ERR_IO);
  mx_clear_error();
}

/* Copying every key and tensor of a real file through the writer gives the
 * same bytes back; a file with one value of each type reads back equal. */
static void test_writer(const char *testdata) {
  char path[1024], out[] = "/tmp/mlxc_gguf_w_XXXXXX";
  int fd = mkstemp(out);
  close(fd);
  snprintf(path, sizeof path, "%s/models/stories260K/stories260K.gguf", testdata);
  mx_gguf *g = mx_gguf_open(path);
  CHECK_MSG(g != NULL, path);
  if (g) {
    mx_gguf_writer *w = mx_gguf_writer_new();
    for (int64_t i = 0; i < mx_gguf_kv_count(g); i++) CHECK(mx_gguf_writer_copy_kv(w, g, i) == MX_OK);
    for (int64_t t = 0; t < mx_gguf_tensor_count(g); t++) {
      mx_array a = mx_gguf_tensor(g, t);
      CHECK(mx_gguf_writer_add_tensor(w, mx_gguf_tensor_name(g, t), a) == MX_OK);
      mx_array_free(a);
    }
    CHECK(mx_gguf_writer_write(w, out) == MX_OK);
    mx_gguf_writer_free(w);
    size_t la, lb;
    char *a = read_file(path, &la), *b = read_file(out, &lb);
    CHECK_MSG(a && b && la == lb && memcmp(a, b, la) == 0, "rewritten stories260K.gguf differs");
    free(a);
    free(b);
    mx_gguf_close(g);
  }
  mx_gguf_writer *w = mx_gguf_writer_new();
  CHECK(mx_gguf_writer_set_uint32(w, "u32", 7) == MX_OK);
  CHECK(mx_gguf_writer_set_int64(w, "i64", -5) == MX_OK);
  CHECK(mx_gguf_writer_set_float32(w, "f32", 0.5f) == MX_OK);
  CHECK(mx_gguf_writer_set_bool(w, "b", true) == MX_OK);
  CHECK(mx_gguf_writer_set_string(w, "s", "h\xc3\xa9", 3) == MX_OK);
  CHECK(mx_gguf_writer_set_uint32(w, "u32", 9) == MX_OK); /* replaces */
  const char *strs[] = {"a", "", "ccc"};
  size_t lens[] = {1, 0, 3};
  CHECK(mx_gguf_writer_set_string_array(w, "sa", strs, lens, 3) == MX_OK);
  float fs[3] = {1, 2, 3};
  CHECK(mx_gguf_writer_set_array(w, "fa", MX_GGUF_FLOAT32, fs, 3) == MX_OK);
  int32_t iv[6] = {1, 2, 3, 4, 5, 6};
  mx_array t = mx_array_from_data(iv, (int64_t[]){2, 3}, 2, MX_INT32);
  mx_array tt = mx_transpose(t, NULL, 0); /* written row-major */
  CHECK(mx_gguf_writer_add_tensor(w, "t", tt) == MX_OK);
  CHECK(mx_gguf_writer_add_tensor(w, "t", tt) == MX_ERR_INVALID_ARG);
  mx_array u = mx_array_from_data(iv, (int64_t[]){6}, 1, MX_UINT32);
  CHECK(mx_gguf_writer_add_tensor(w, "u", u) == MX_ERR_DTYPE);
  mx_clear_error();
  CHECK(mx_gguf_writer_write(w, out) == MX_OK);
  mx_gguf_writer_free(w);
  mx_gguf *r = mx_gguf_open(out);
  CHECK_MSG(r != NULL, mx_last_error());
  if (r) {
    uint64_t uv;
    int64_t v;
    double f;
    bool bv;
    const char *s;
    size_t len;
    CHECK(mx_gguf_kv_count(r) == 7);
    CHECK(mx_gguf_get_uint(r, mx_gguf_find_key(r, "u32"), &uv) == MX_OK && uv == 9);
    CHECK(mx_gguf_get_int(r, mx_gguf_find_key(r, "i64"), &v) == MX_OK && v == -5);
    CHECK(mx_gguf_get_float(r, mx_gguf_find_key(r, "f32"), &f) == MX_OK && f == 0.5);
    CHECK(mx_gguf_get_bool(r, mx_gguf_find_key(r, "b"), &bv) == MX_OK && bv);
    CHECK(mx_gguf_get_string(r, mx_gguf_find_key(r, "s"), &s, &len) == MX_OK && len == 3 &&
          memcmp(s, "h\xc3\xa9", 3) == 0);
    CHECK(mx_gguf_get_array_string(r, mx_gguf_find_key(r, "sa"), 2, &s, &len) == MX_OK && len == 3);
    CHECK(mx_gguf_get_array_float(r, mx_gguf_find_key(r, "fa"), 2, &f) == MX_OK && f == 3.0);
    mx_array back = mx_gguf_tensor(r, mx_gguf_find_tensor(r, "t"));
    const int32_t *p = mx_array_data(back);
    CHECK(p && mx_array_dim(back, 0) == 3 && p[0] == 1 && p[1] == 4 && p[2] == 2);
    mx_array_free(back);
    mx_gguf_close(r);
  }
  mx_array_free(tt);
  mx_array_free(t);
  mx_array_free(u);
  unlink(out);
}

int main(int argc, char **argv) {
  const char *fx = argc > 1 ? argv[1] : ".";
  const char *td = getenv("MLXC_TESTDATA");
  if (!td) td = "../shared/testdata";
  test_real_files(fx, td);
  test_malformed();
  test_writer(td);
  return check_summary();
}
