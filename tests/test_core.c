/* test_core.c — the array core: dtypes and promotion, laziness, eval,
 * memory counters, scopes, errors, views, npy I/O, environment knobs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "core/half.h"

/* MLX's promotion table (mlx/dtype.cpp), transcribed cell by cell in MLX's
 * dtype order, as names. */
static const char *const mlx_table[14][14] = {
    {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"uint8", "uint8", "uint16", "uint32", "uint64", "int16", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"uint16", "uint16", "uint16", "uint32", "uint64", "int32", "int32", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"uint32", "uint32", "uint32", "uint32", "uint64", "int64", "int64", "int64", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"uint64", "uint64", "uint64", "uint64", "uint64", "float32", "float32", "float32", "float32", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"int8", "int16", "int32", "int64", "float32", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"int16", "int16", "int32", "int64", "float32", "int16", "int16", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"int32", "int32", "int32", "int64", "float32", "int32", "int32", "int32", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"int64", "int64", "int64", "int64", "float32", "int64", "int64", "int64", "int64", "float16", "float32", "float64", "bfloat16", "complex64"},
    {"float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float16", "float32", "float64", "float32", "complex64"},
    {"float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float32", "float64", "float32", "complex64"},
    {"float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "float64", "complex64"},
    {"bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "bfloat16", "float32", "float32", "float64", "bfloat16", "complex64"},
    {"complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64", "complex64"},
};

static void test_promotion(void) {
  int bad = 0;
  for (int a = 0; a < 14; a++)
    for (int b = 0; b < 14; b++) {
      const char *got = mx_dtype_name(mx_promote_types((mx_dtype)a, (mx_dtype)b));
      if (strcmp(got, mlx_table[a][b]) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s x %s -> %s, MLX gives %s", mx_dtype_name((mx_dtype)a),
                 mx_dtype_name((mx_dtype)b), got, mlx_table[a][b]);
        CHECK_MSG(0, msg);
        bad++;
      }
    }
  CHECK(bad == 0);
  CHECK(mx_dtype_size(MX_BFLOAT16) == 2 && mx_dtype_size(MX_COMPLEX64) == 8);
  CHECK(mx_promote_types((mx_dtype)99, MX_INT8) == MX_DTYPE_COUNT);
}

static void test_half_conversions(void) {
  /* Every f16 bit pattern survives f16 -> f32 -> f16 (NaNs stay NaN). */
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32((uint16_t)h);
    uint16_t back = f32_to_f16(f);
    if (isnan(f) ? !isnan(f16_to_f32(back)) : back != h) bad++;
  }
  CHECK(bad == 0);
  CHECK(f32_to_f16(65520.0f) == 0x7c00); /* rounds to inf */
  CHECK(f32_to_f16(65519.0f) == 0x7bff);
  CHECK(f32_to_f16(5.9604645e-8f) == 0x0001);  /* smallest subnormal */
  CHECK(f32_to_f16(2.9802322e-8f) == 0x0000);  /* half of it: ties to even */
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80);    /* tie to even */
  CHECK(f32_to_bf16(1.01171875f) == 0x3f82);
  /* The SIMD conversion gives the same bits as the scalar one, on every
   * CPU: also for f32 subnormals and results that round into bf16's
   * subnormal range (every third value), which the AVX512-BF16
   * instruction would flush to zero. */
  CHECK(f32_to_bf16(1e-40f) != 0 && f32_to_bf16(-3e-39f) != 0x8000);
  int64_t n = 4099;
  float *src = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++) {
    src[i] = (float)((i * 7919) % 10007 - 5000) * 0.37f;
    if (i % 3 == 0) src[i] *= 1e-42f;
  }
  mx_array a = mx_array_from_data(src, &n, 1, MX_FLOAT32);
  mx_array h16 = mx_astype(a, MX_FLOAT16), hb = mx_astype(a, MX_BFLOAT16);
  const uint16_t *p16 = mx_array_data(h16), *pb = mx_array_data(hb);
  int bad16 = 0, badb = 0;
  for (int64_t i = 0; i < n; i++) {
    if (p16[i] != f32_to_f16(src[i])) bad16++;
    if (pb[i] != f32_to_bf16(src[i])) badb++;
  }
  CHECK(bad16 == 0 && badb == 0);
  mx_array back = mx_astype(h16, MX_FLOAT32);
  const float *pf = mx_array_data(back);
  int badr = 0;
  for (int64_t i = 0; i < n; i++)
    if (pf[i] != f16_to_f32(p16[i])) badr++;
  CHECK(badr == 0);
  mx_array_free(back);
  mx_array_free(h16);
  mx_array_free(hb);
  mx_array_free(a);
  free(src);
}

/* A counting primitive: lets the test see how often a node runs. */
static int count_runs;
static mx_status count_kernel(mx_array out, mx_array const *in, int nin, const void *p) {
  (void)nin;
  (void)p;
  count_runs++;
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  const float *x = array_ptr(in[0]);
  float *y = array_ptr(out);
  for (int64_t i = 0; i < out->size; i++) y[i] = x[i] + 1;
  return MX_OK;
}
static const mx_primitive prim_count = {"count", count_kernel, NULL};
static mx_array plus_one(mx_array x) {
  return node_new(&prim_count, MX_FLOAT32, x->shape, x->ndim, &x, 1, NULL, 0);
}

static void test_laziness(void) {
  size_t base = mx_memory_active();
  int64_t shape[1] = {1000};
  float *v = calloc(1000, 4);
  mx_array x = mx_array_from_data(v, shape, 1, MX_FLOAT32);
  free(v);
  count_runs = 0;
  mx_array s = plus_one(x);                      /* shared by two consumers */
  mx_array a = plus_one(s), b = plus_one(s);
  CHECK(count_runs == 0);                        /* nothing computed yet */
  CHECK(!mx_array_is_evaluated(a));
  mx_array outs[2] = {a, b};
  CHECK(mx_eval(outs, 2) == MX_OK);
  CHECK(count_runs == 3);                        /* s once, a, b */
  CHECK(mx_eval(outs, 2) == MX_OK);
  CHECK(count_runs == 3);                        /* eval of evaluated: no-op */
  CHECK(a->nin == 0 && a->inputs == NULL);       /* detached */
  const float *pa = mx_array_data(a);
  CHECK(pa && pa[0] == 2.0f && pa[999] == 2.0f);
  /* A long chain evaluates and frees without deep recursion. */
  mx_array c = mx_array_retain(x);
  for (int i = 0; i < 200000; i++) {
    mx_array n = plus_one(c);
    mx_array_free(c);
    c = n;
  }
  CHECK(mx_eval1(c) == MX_OK);
  CHECK(((const float *)mx_array_data(c))[5] == 200000.0f);
  mx_array_free(c);
  /* Dropping a pending chain (never evaluated) frees it all too. */
  mx_array d = mx_array_retain(x);
  for (int i = 0; i < 200000; i++) {
    mx_array n = plus_one(d);
    mx_array_free(d);
    d = n;
  }
  mx_array_free(d);
  mx_array_free(s);
  mx_array_free(a);
  mx_array_free(b);
  mx_array_free(x);
  CHECK(mx_memory_active() == base);
}

static void test_async(void) {
  int64_t shape[1] = {64};
  float v[64] = {0};
  mx_array x = mx_array_from_data(v, shape, 1, MX_FLOAT32);
  mx_array y = plus_one(x);
  CHECK(mx_async_eval(&y, 1) == MX_OK);
  CHECK(mx_array_wait(y) == MX_OK);
  CHECK(mx_array_is_evaluated(y));
  CHECK(((const float *)mx_array_data(y))[63] == 1.0f);
  mx_array_free(y);
  mx_array_free(x);
  CHECK(mx_synchronize(mx_default_stream()) == MX_OK); /* the worker let go */
}

static void test_memory(void) {
  size_t base = mx_memory_active();
  int64_t shape[1] = {1 << 20};
  mx_array a = array_new_alloc(MX_FLOAT32, shape, 1);
  CHECK(mx_memory_active() >= base + (4u << 20));
  CHECK(mx_memory_peak() >= mx_memory_active());
  mx_array_free(a);
  CHECK(mx_memory_active() == base);
  CHECK(mx_memory_cache() >= (4u << 20)); /* the block waits in the cache */
  mx_array b = array_new_alloc(MX_FLOAT32, shape, 1); /* reuses it */
  mx_array_free(b);
  mx_memory_clear_cache();
  CHECK(mx_memory_cache() == 0);
  /* Memory limit: an allocation past it fails cleanly. */
  size_t old = mx_memory_set_limit(base + (1u << 20));
  mx_clear_error();
  mx_array c = array_new_alloc(MX_FLOAT32, shape, 1);
  CHECK(c == NULL && mx_last_error_code() == MX_ERR_OOM &&
        strstr(mx_last_error(), "memory limit"));
  mx_memory_set_limit(old);
  mx_clear_error();
  /* Cache limit 0 keeps nothing. */
  size_t oldc = mx_memory_set_cache_limit(0);
  mx_array d = array_new_alloc(MX_FLOAT32, shape, 1);
  mx_array_free(d);
  CHECK(mx_memory_cache() == 0);
  mx_memory_set_cache_limit(oldc);
}

static void test_donation(void) {
  int64_t shape[1] = {4096};
  mx_array x = array_new_alloc(MX_FLOAT32, shape, 1);
  memset((void *)mx_array_data(x), 0, 4096 * 4);
  mx_array y = mx_astype(x, MX_INT32); /* same element size: may donate */
  const void *xb = x->buf->ptr;
  mx_array_free(x); /* y's node now holds the only reference */
  CHECK(mx_eval1(y) == MX_OK);
  CHECK(y->buf->ptr == xb);
  mx_array_free(y);
}

static void test_scopes(void) {
  size_t base = mx_memory_active();
  int64_t shape[2] = {8, 8};
  mx_array kept;
  CHECK(mx_scope_begin() == MX_OK);
  {
    mx_array a = array_new_alloc(MX_FLOAT32, shape, 2);
    memset((void *)mx_array_data(a), 0, 256);
    mx_array b = mx_transpose(a, NULL, 0);
    mx_array c = mx_astype(b, MX_FLOAT16);
    mx_array freed = mx_astype(a, MX_INT32);
    mx_array_free(freed); /* freeing a scope-owned array yourself is fine */
    CHECK(mx_scope_begin() == MX_OK);
    mx_array inner = mx_astype(c, MX_FLOAT32);
    mx_array_keep(inner); /* moves to the outer scope */
    CHECK(mx_scope_end() == MX_OK);
    CHECK(mx_eval1(inner) == MX_OK); /* still alive */
    kept = mx_array_keep(c);
  }
  CHECK(mx_scope_end() == MX_OK);
  CHECK(mx_eval1(kept) == MX_OK);
  /* Ops that return their input unchanged (astype to the same dtype,
   * broadcast to the same shape) and mx_array_retain hand out references
   * the scope owns too: nothing leaks, nothing is freed twice. */
  CHECK(mx_scope_begin() == MX_OK);
  {
    mx_array a = array_new_alloc(MX_FLOAT32, shape, 2);
    mx_array same = mx_astype(a, MX_FLOAT32);
    mx_array same2 = mx_broadcast_to(a, shape, 2);
    mx_array r = mx_array_retain(a);
    CHECK(same == a && same2 == a && r == a && atomic_load(&a->refs) == 4);
    mx_array_free(same2); /* one freed by hand, three by the scope */
    mx_array kept2 = mx_array_keep(same);
    CHECK(kept2 == a);
    CHECK(mx_scope_end() == MX_OK);
    CHECK(atomic_load(&a->refs) == 1);
    mx_array_free(kept2);
  }
  CHECK(mx_array_dtype(kept) == MX_FLOAT16);
  mx_array_free(kept);
  CHECK(mx_memory_active() == base);
  CHECK(mx_scope_end() == MX_ERR_INVALID_ARG);
  mx_clear_error();
}

/* A forward-pass-like chain of elementwise ops (whose front ends make and
 * free temporaries) inside a scope leaves nothing behind. */
static void test_scope_with_ops(void) {
  size_t base = mx_memory_active();
  int64_t n = 1000;
  CHECK(mx_scope_begin() == MX_OK);
  mx_array x = mx_random_normal(&n, 1, MX_FLOAT32, 0.0, 1.0, NULL);
  mx_array h = mx_astype(x, MX_FLOAT16);
  mx_array y = mx_add(mx_rsqrt(mx_add(mx_square(x), mx_array_from_float(1.0f))), mx_exp(h));
  mx_array z = mx_sum(mx_multiply(y, x), NULL, 0, false);
  float v;
  CHECK(mx_array_item_float32(z, &v) == MX_OK);
  CHECK(mx_scope_end() == MX_OK);
  mx_memory_clear_cache();
  char msg[96];
  snprintf(msg, sizeof msg, "active %zu, baseline %zu", mx_memory_active(), base);
  CHECK_MSG(mx_memory_active() == base, msg);
}

static void test_errors(void) {
  int64_t shape[2] = {2, 3};
  mx_array a = array_new_alloc(MX_FLOAT32, shape, 2);
  CHECK_ERR(mx_reshape(a, (int64_t[]){4, 2}, 2), MX_ERR_SHAPE,
            "reshape: cannot reshape array of shape (2,3) into (4,2)");
  CHECK_ERR(mx_transpose(a, (int[]){0, 0}, 2), MX_ERR_INVALID_ARG, "transpose: axis 0 repeated");
  CHECK_ERR(mx_transpose(a, (int[]){0, 5}, 2), MX_ERR_INVALID_ARG, "axis 5 is out of range");
  CHECK_ERR(mx_broadcast_to(a, (int64_t[]){4, 3}, 2), MX_ERR_SHAPE,
            "broadcast_to: cannot broadcast shape (2,3) to (4,3)");
  CHECK_ERR(mx_astype(a, (mx_dtype)42), MX_ERR_DTYPE, "astype: invalid dtype 42");
  CHECK_ERR(mx_as_strided(a, (int64_t[]){3}, 1, (int64_t[]){3}, 0), MX_ERR_INVALID_ARG,
            "outside");
  CHECK_ERR(array_new_alloc(MX_FLOAT32, (int64_t[]){-1}, 1), MX_ERR_SHAPE, "negative dimension");
  CHECK_ERR(array_new_alloc(MX_FLOAT32, (int64_t[]){INT64_MAX / 2, 4}, 2), MX_ERR_SHAPE,
            "too large");
  /* NULL propagates and the first error is kept. */
  mx_clear_error();
  mx_array bad = mx_reshape(a, (int64_t[]){5}, 1);
  mx_array chained = mx_astype(mx_transpose(bad, NULL, 0), MX_FLOAT16);
  CHECK(bad == NULL && chained == NULL);
  CHECK(strstr(mx_last_error(), "reshape") != NULL);
  mx_clear_error();
  CHECK(mx_eval1(NULL) == MX_ERR_NULL_INPUT);
  CHECK(mx_array_data(NULL) == NULL);
  float f;
  mx_clear_error();
  CHECK(mx_array_item_float32(a, &f) == MX_ERR_SHAPE && strstr(mx_last_error(), "not 1"));
  mx_clear_error();
  mx_device gpu = {MX_GPU, 0};
  if (!mx_device_is_available(MX_GPU)) {
    /* A CPU-only build says "not built"; a CUDA build on a machine without
     * a usable device says so. */
    CHECK(mx_set_default_device(gpu) == MX_ERR_DEVICE &&
          (strstr(mx_last_error(), "not built") || strstr(mx_last_error(), "no CUDA device")));
    CHECK(mx_default_device().type == MX_CPU);
  }
  mx_device gpu9 = {MX_GPU, 9};
  CHECK(mx_set_default_device(gpu9) == MX_ERR_DEVICE);
  mx_clear_error();
  mx_array_free(a);
}

static void test_views_and_data(void) {
  int64_t shape[3] = {2, 3, 4};
  int32_t v[24];
  for (int i = 0; i < 24; i++) v[i] = i;
  mx_array a = mx_array_from_data(v, shape, 3, MX_INT32);
  mx_array t = mx_transpose(a, (int[]){2, 0, 1}, 3);
  CHECK(mx_array_shape(t)[0] == 4 && mx_array_shape(t)[2] == 3);
  const int32_t *pt = mx_array_data(t); /* made row-major on read */
  /* t[k][i][j] = a[i][j][k] */
  int bad = 0;
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        if (pt[k * 6 + i * 3 + j] != v[i * 12 + j * 4 + k]) bad++;
  CHECK(bad == 0);
  /* Reshape of a transposed view: a copy with the right order. */
  mx_array t2 = mx_transpose(a, NULL, 0);
  mx_array r = mx_reshape(t2, (int64_t[]){-1}, 1);
  const int32_t *pr = mx_array_data(r);
  CHECK(pr && pr[1] == v[12] && pr[2] == v[4]);
  /* Reshape of contiguous data is a view. */
  mx_array r2 = mx_reshape(a, (int64_t[]){6, -1}, 2);
  CHECK(mx_eval1(r2) == MX_OK && r2->buf == a->buf);
  /* Broadcast views share memory and read correctly. */
  mx_array row = mx_array_from_data(v, (int64_t[]){4}, 1, MX_INT32);
  mx_array bc = mx_broadcast_to(row, (int64_t[]){3, 4}, 2);
  CHECK(mx_eval1(bc) == MX_OK && bc->strides[0] == 0);
  const int32_t *pb = mx_array_data(bc);
  CHECK(pb[4] == 0 && pb[11] == 3);
  /* view: f32 bits as u32, and as u16 pairs. */
  float one = 1.0f;
  mx_array fo = mx_array_from_data(&one, (int64_t[]){1}, 1, MX_FLOAT32);
  mx_array u = mx_view(fo, MX_UINT32);
  int64_t bits;
  CHECK(mx_array_item_int64(u, &bits) == MX_OK && bits == 0x3f800000);
  mx_array u16 = mx_view(fo, MX_UINT16);
  CHECK(mx_array_dim(u16, 0) == 2 && ((const uint16_t *)mx_array_data(u16))[1] == 0x3f80);
  char buf[256];
  mx_array small = mx_array_from_data(v, (int64_t[]){2, 2}, 2, MX_INT32);
  mx_array_format(small, buf, sizeof buf);
  CHECK_MSG(strcmp(buf, "array([[0, 1],\n       [2, 3]], dtype=int32)") == 0, buf);
  mx_array arr[] = {a, t, t2, r, r2, row, bc, fo, u, u16, small};
  for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) mx_array_free(arr[i]);
}

static void test_npy_roundtrip(void) {
  char path[] = "/tmp/mlxc_test_npy_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  mx_dtype types[] = {MX_BOOL,  MX_UINT8, MX_INT16,   MX_UINT32,  MX_INT64,
                      MX_FLOAT16, MX_FLOAT32, MX_FLOAT64, MX_COMPLEX64};
  for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
    int64_t shape[3] = {3, 1, 5};
    mx_array a = array_new_alloc(types[k], shape, 3);
    unsigned char *p = (unsigned char *)mx_array_data(a);
    for (size_t i = 0; i < mx_array_nbytes(a); i++) p[i] = (unsigned char)(i * 37 + 11);
    if (types[k] == MX_BOOL)
      for (size_t i = 0; i < mx_array_nbytes(a); i++) p[i] &= 1;
    CHECK(mx_save_npy(path, a) == MX_OK);
    mx_array b = mx_load_npy(path);
    CHECK(b && mx_array_dtype(b) == types[k] && mx_array_ndim(b) == 3 &&
          mx_array_shape(b)[2] == 5 &&
          memcmp(mx_array_data(a), mx_array_data(b), mx_array_nbytes(a)) == 0);
    mx_array_free(a);
    mx_array_free(b);
  }
  unlink(path);
  /* Malformed bytes: clear errors, no crash. */
  unsigned char junk[64] = "\x93NUMPY\x01\x00\xff\xff";
  mx_clear_error();
  CHECK(mx_load_npy_bytes(junk, sizeof junk, "junk") == NULL &&
        strstr(mx_last_error(), "header length"));
  char hdr[128];
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999, 9), }\n";
  memcpy(hdr, "\x93NUMPY\x01\x00", 8);
  hdr[8] = (char)strlen(dict);
  hdr[9] = 0;
  memcpy(hdr + 10, dict, strlen(dict));
  CHECK(mx_load_npy_bytes(hdr, 10 + strlen(dict) + 16, "short") == NULL &&
        strstr(mx_last_error(), "data"));
  CHECK(mx_load_npy("/nonexistent/x.npy") == NULL && mx_last_error_code() == MX_ERR_IO);
  mx_clear_error();
}

/* env_long: the one reader of numeric MLXC_* knobs (core/env.c). */
static void test_env_long(void) {
  const char *name = "MLXC_TEST_ENV_LONG";
  unsetenv(name);
  CHECK(env_long(name, 7, 0, 10) == 7); /* unset: the default */
  static const struct {
    const char *v;
    long want;
  } cases[] = {
      {"3", 3},   {" 4 ", 4}, {"0", 0},   {"10", 10}, {"11", 7},  {"-1", 7},
      {"", 7},    {"abc", 7}, {"12abc", 7}, {"5 x", 7}, {"99999999999999999999", 7},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    setenv(name, cases[i].v, 1);
    long got = env_long(name, 7, 0, 10);
    CHECK(got == cases[i].want);
    if (got != cases[i].want) printf("  env_long(\"%s\") = %ld, want %ld\n", cases[i].v, got, cases[i].want);
  }
  unsetenv(name);
}

int main(void) {
  test_env_long();
  test_promotion();
  test_half_conversions();
  test_laziness();
  test_async();
  test_memory();
  test_donation();
  test_scopes();
  test_scope_with_ops();
  test_errors();
  test_views_and_data();
  test_npy_roundtrip();
  return check_summary();
}
