/* test_safetensors.c — reading files laid out by an independent writer
 * (tests/ref/gen_safetensors.py), sharded folders, saving round trips, and
 * malformed headers (errors, never crashes). */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "mlxc/safetensors.h"

static const char *fx;

static bool same_as_npy(mx_array a, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/expect/%s.npy", fx, name);
  mx_array want = mx_load_npy(path);
  if (!want || !a) return false;
  bool ok = mx_array_size(a) == mx_array_size(want) && mx_array_nbytes(a) == mx_array_nbytes(want) &&
            mx_array_ndim(a) == mx_array_ndim(want) &&
            memcmp(mx_array_shape(a), mx_array_shape(want), (size_t)mx_array_ndim(a) * 8) == 0 &&
            (mx_array_nbytes(a) == 0 ||
             memcmp(mx_array_data(a), mx_array_data(want), mx_array_nbytes(a)) == 0);
  mx_array_free(want);
  return ok;
}

static void test_single(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/single.safetensors", fx);
  mx_safetensors *s = mx_safetensors_open(path);
  CHECK_MSG(s != NULL, mx_last_error());
  if (!s) return;
  CHECK(mx_safetensors_count(s) == 13);
  const char *names[] = {"f32", "f16", "bf16", "f64", "i64", "u8", "i8", "bool", "u32", "fp8",
                         "scalar", "empty", "model.layers.0.self_attn.q_proj.weight"};
  const mx_dtype dts[] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16, MX_FLOAT64, MX_INT64, MX_UINT8, MX_INT8,
                          MX_BOOL, MX_UINT32, MX_UINT8, MX_FLOAT32, MX_FLOAT32, MX_FLOAT32};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    int64_t k = mx_safetensors_find(s, names[i]);
    CHECK_MSG(k >= 0, names[i]);
    if (k < 0) continue;
    mx_array a = mx_safetensors_get(s, k);
    CHECK_MSG(mx_array_dtype(a) == dts[i], names[i]);
    CHECK_MSG(same_as_npy(a, names[i]), names[i]);
    mx_array_free(a);
  }
  CHECK(strcmp(mx_safetensors_dtype_name(s, mx_safetensors_find(s, "fp8")), "F8_E4M3") == 0);
  CHECK(mx_safetensors_metadata_get(s, "format") && strcmp(mx_safetensors_metadata_get(s, "format"), "pt") == 0);
  CHECK(mx_safetensors_metadata_get(s, "note") && strcmp(mx_safetensors_metadata_get(s, "note"), "h\xc3\xa9llo") == 0);
  /* An array outlives the reader. */
  mx_array keep = mx_safetensors_get(s, mx_safetensors_find(s, "f32"));
  mx_safetensors_close(s);
  CHECK(same_as_npy(keep, "f32"));
  mx_array_free(keep);
}

static void test_sharded_and_save(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/sharded", fx);
  mx_weights *w = mx_weights_open(path);
  CHECK_MSG(w != NULL, mx_last_error());
  if (!w) return;
  CHECK(mx_weights_count(w) == 3);
  const char *names[] = {"model.embed.weight", "model.norm.weight", "lm_head.weight"};
  mx_array arrays[3];
  for (int i = 0; i < 3; i++) {
    arrays[i] = mx_weights_get(w, names[i]);
    CHECK_MSG(same_as_npy(arrays[i], names[i]), names[i]);
  }
  mx_clear_error();
  CHECK(mx_weights_get(w, "missing.weight") == NULL && strstr(mx_last_error(), "missing.weight"));
  mx_clear_error();
  /* Save (incl. a bf16 and a strided view), read back, compare. */
  char out[] = "/tmp/mlxc_st_XXXXXX";
  int fd = mkstemp(out);
  close(fd);
  mx_array t = mx_transpose(arrays[0], NULL, 0);
  mx_array bf = mx_astype(arrays[0], MX_BFLOAT16);
  const char *snames[] = {"a", "b.t", "c.bf16"};
  mx_array sarr[] = {arrays[1], t, bf};
  CHECK(mx_save_safetensors(out, snames, sarr, 3, NULL, NULL, 0) == MX_OK);
  mx_safetensors *r = mx_safetensors_open(out);
  CHECK_MSG(r != NULL, mx_last_error());
  if (r) {
    CHECK(strcmp(mx_safetensors_metadata_get(r, "format"), "mlx") == 0);
    for (int i = 0; i < 3; i++) {
      mx_array g = mx_safetensors_get(r, mx_safetensors_find(r, snames[i]));
      CHECK(g && mx_array_dtype(g) == mx_array_dtype(sarr[i]) &&
            memcmp(mx_array_data(g), mx_array_data(sarr[i]), mx_array_nbytes(g)) == 0);
      mx_array_free(g);
    }
    mx_safetensors_close(r);
  }
  unlink(out);
  mx_array_free(t);
  mx_array_free(bf);
  for (int i = 0; i < 3; i++) mx_array_free(arrays[i]);
  mx_weights_close(w);
}

/* Builds a file from a header string and `data` bytes of zeros. */
static size_t craft(unsigned char *buf, const char *header, size_t data) {
  size_t h = strlen(header);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
  memcpy(buf + 8, header, h);
  memset(buf + 8 + h, 0, data);
  return 8 + h + data;
}

static void test_malformed(void) {
  static unsigned char buf[4096];
  struct {
    const char *header;
    size_t data;
    const char *msg;
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "fall outside"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap"},
      {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unsupported dtype"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "bad dimension"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, "not valid JSON"},
      {"[1,2]", 0, "not a JSON object"},
      {"{\"\xff\":{}}", 0, "UTF-8"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "not a string"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
       "shape overflows"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = craft(buf, cases[i].header, cases[i].data);
    mx_clear_error();
    mx_safetensors *s = mx_safetensors_open_memory(buf, n, "crafted");
    char msg[600];
    snprintf(msg, sizeof msg, "case %zu: want '%s', got '%s'", i, cases[i].msg, mx_last_error());
    CHECK_MSG(s == NULL && mx_last_error_code() == MX_ERR_FORMAT && strstr(mx_last_error(), cases[i].msg), msg);
    mx_safetensors_close(s);
  }
  /* Header length past the file, and every truncation of a valid file. */
  size_t n = craft(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
  int clean = 0;
  for (size_t cut = 0; cut < n; cut++) {
    mx_clear_error();
    mx_safetensors *s = mx_safetensors_open_memory(buf, cut, "cut");
    if (!s && mx_last_error_code() == MX_ERR_FORMAT) clean++;
    mx_safetensors_close(s);
  }
  CHECK(clean == (int)n);
  mx_safetensors *ok = mx_safetensors_open_memory(buf, n, "ok");
  CHECK(ok != NULL);
  mx_safetensors_close(ok);
  mx_clear_error();
}

int main(int argc, char **argv) {
  fx = argc > 1 ? argv[1] : ".";
  test_single();
  test_sharded_and_save();
  test_malformed();
  return check_summary();
}
