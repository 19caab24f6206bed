/* mlxc inspect PATH — a file's metadata and tensor table.
  * Safetensors, GGUF, .npy and .npz (by content, not by extension). One line per
 * tensor, name first: "name  dtype  shape  bytes". A malformed file gets one
 * line on stderr and exit code 1. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mlxc/mlxc.h"

static void shape_str(char *buf, size_t cap, const int64_t *shape, int nd) {
  size_t n = (size_t)snprintf(buf, cap, "(");
  for (int d = 0; d < nd && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, d ? ", %" PRId64 : "%" PRId64, shape[d]);
  if (n < cap) snprintf(buf + n, cap - n, nd == 1 ? ",)" : ")");
}

static int inspect_gguf(const char *path) {
  mx_gguf *g = mx_gguf_open(path);
  if (!g) return -1;
  printf("format: gguf v%u, alignment %" PRIu64 ", %" PRId64 " metadata keys, %" PRId64 " tensors\n",
         mx_gguf_version(g), mx_gguf_alignment(g), mx_gguf_kv_count(g), mx_gguf_tensor_count(g));
  for (int64_t i = 0; i < mx_gguf_kv_count(g); i++) {
    const char *key = mx_gguf_key(g, i);
    mx_gguf_type t = mx_gguf_kv_type(g, i);
    const char *s;
    size_t len;
    int64_t iv;
    uint64_t uv;
    double f;
    bool b;
    if (t == MX_GGUF_STRING && mx_gguf_get_string(g, i, &s, &len) == MX_OK) {
      printf("  %s = \"%.*s\"%s\n", key, (int)(len > 80 ? 80 : len), s, len > 80 ? "..." : "");
    } else if (t == MX_GGUF_ARRAY) {
      mx_gguf_type et;
      uint64_t count;
      mx_gguf_get_array(g, i, &et, &count);
      printf("  %s = [array of %" PRIu64 ", element type %d]\n", key, count, (int)et);
    } else if (t == MX_GGUF_BOOL && mx_gguf_get_bool(g, i, &b) == MX_OK) {
      printf("  %s = %s\n", key, b ? "true" : "false");
    } else if ((t == MX_GGUF_FLOAT32 || t == MX_GGUF_FLOAT64) && mx_gguf_get_float(g, i, &f) == MX_OK) {
      printf("  %s = %g\n", key, f);
    } else if (t == MX_GGUF_UINT64 && mx_gguf_get_uint(g, i, &uv) == MX_OK) {
      printf("  %s = %" PRIu64 "\n", key, uv);
    } else if (mx_gguf_get_int(g, i, &iv) == MX_OK) {
      printf("  %s = %" PRId64 "\n", key, iv);
    }
  }
  mx_clear_error();
  printf("tensors:\n");
  for (int64_t t = 0; t < mx_gguf_tensor_count(g); t++) {
    int64_t shape[MX_MAX_NDIM];
    int nd = mx_gguf_tensor_shape(g, t, shape);
    char sh[256];
    shape_str(sh, sizeof sh, shape, nd);
    printf("%s  %s  %s  %" PRIu64 "\n", mx_gguf_tensor_name(g, t),
           mx_ggml_type_name(mx_gguf_tensor_type(g, t)), sh, mx_gguf_tensor_nbytes(g, t));
  }
  mx_gguf_close(g);
  return 0;
}

static int inspect_safetensors(const char *path) {
  mx_safetensors *s = mx_safetensors_open(path);
  if (!s) return -1;
  printf("format: safetensors, %" PRId64 " tensors\n", mx_safetensors_count(s));
  for (int64_t i = 0; i < mx_safetensors_metadata_count(s); i++)
    printf("  %s = \"%s\"\n", mx_safetensors_metadata_key(s, i), mx_safetensors_metadata_value(s, i));
  printf("tensors:\n");
  for (int64_t i = 0; i < mx_safetensors_count(s); i++) {
    int64_t shape[MX_MAX_NDIM];
    int nd = mx_safetensors_shape(s, i, shape);
    char sh[256];
    shape_str(sh, sizeof sh, shape, nd);
    printf("%s  %s  %s  %" PRIu64 "\n", mx_safetensors_name(s, i), mx_safetensors_dtype_name(s, i),
           sh, mx_safetensors_nbytes(s, i));
  }
  mx_safetensors_close(s);
  return 0;
}

static int inspect_npy(const char *path) {
  mx_array a = mx_load_npy(path);
  if (!a) return -1;
  char sh[256];
  shape_str(sh, sizeof sh, mx_array_shape(a), mx_array_ndim(a));
  printf("format: npy\ntensors:\n");
  const char *base = strrchr(path, '/');
  printf("%s  %s  %s  %zu\n", base ? base + 1 : path, mx_dtype_name(mx_array_dtype(a)), sh,
         mx_array_nbytes(a));
  mx_array_free(a);
  return 0;
}

static int inspect_npz(const char *path) {
  mx_npz *z = mx_npz_open(path);
  if (!z) return -1;
  printf("format: npz, %lld arrays\ntensors:\n", (long long)mx_npz_count(z));
  for (int64_t i = 0; i < mx_npz_count(z); i++) {
    mx_array a = mx_npz_get(z, i);
    if (!a) {
      mx_npz_close(z);
      return -1;
    }
    char sh[256];
    shape_str(sh, sizeof sh, mx_array_shape(a), mx_array_ndim(a));
    printf("%s  %s  %s  %zu\n", mx_npz_name(z, i), mx_dtype_name(mx_array_dtype(a)), sh,
           mx_array_nbytes(a));
    mx_array_free(a);
  }
  mx_npz_close(z);
  return 0;
}

int cmd_inspect(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: mlxc inspect PATH   (.safetensors, .gguf, .npy or .npz)\n");
    return 2;
  }
  const char *path = argv[1];
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "mlxc inspect: cannot open %s\n", path);
    return 1;
  }
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, f);
  fclose(f);
  int rc;
  if (got >= 4 && memcmp(magic, "GGUF", 4) == 0) rc = inspect_gguf(path);
  else if (got >= 6 && memcmp(magic, "\x93NUMPY", 6) == 0) rc = inspect_npy(path);
  else if (got >= 4 && memcmp(magic, "PK\3\4", 4) == 0) rc = inspect_npz(path);
  else rc = inspect_safetensors(path); /* its first 8 bytes are a length */
  if (rc < 0) {
    fprintf(stderr, "mlxc inspect: %s\n", mx_last_error());
    return 1;
  }
  return 0;
}
