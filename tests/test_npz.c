/* test_npz.c — .npz archives written by NumPy (stored and deflated), our own
 * writer read back, and damaged archives. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static const char *fx;

static bool equal_arrays(mx_array a, mx_array b) {
  return a && b && mx_array_dtype(a) == mx_array_dtype(b) && mx_array_ndim(a) == mx_array_ndim(b) &&
         memcmp(mx_array_shape(a), mx_array_shape(b), (size_t)mx_array_ndim(a) * 8) == 0 &&
         (mx_array_nbytes(a) == 0 || memcmp(mx_array_data(a), mx_array_data(b), mx_array_nbytes(a)) == 0);
}

static int check_archive(const char *path) {
  mx_npz *z = mx_npz_open(path);
  CHECK_MSG(z != NULL, mx_last_error());
  if (!z) return 0;
  char names[16][64];
  int n = 0;
  char p[1024];
  snprintf(p, sizeof p, "%.900s/names.txt", fx);
  FILE *f = fopen(p, "r");
  while (f && n < 16 && fscanf(f, "%63s", names[n]) == 1) n++;
  if (f) fclose(f);
  CHECK(n == 8 && mx_npz_count(z) == n);
  for (int i = 0; i < n; i++) {
    int64_t k = mx_npz_find(z, names[i]);
    mx_array got = k >= 0 ? mx_npz_get(z, k) : NULL;
    char q[1100];
    snprintf(q, sizeof q, "%.900s/%.63s.npy", fx, names[i]);
    mx_array want = mx_load_npy(q);
    CHECK_MSG(equal_arrays(got, want), names[i]);
    mx_array_free(got);
    mx_array_free(want);
  }
  mx_npz_close(z);
  return n;
}

static void test_roundtrip(void) {
  char path[] = "/tmp/mlxc_npz_rt_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  float v[6] = {1, 2, 3, 4, 5, 6};
  mx_array a = mx_array_from_data(v, (int64_t[]){2, 3}, 2, MX_FLOAT32);
  mx_array t = mx_transpose(a, NULL, 0);
  const char *names[] = {"a", "a_T"};
  mx_array arrs[] = {a, t};
  CHECK(mx_save_npz(path, names, arrs, 2) == MX_OK);
  mx_npz *z = mx_npz_open(path);
  CHECK(z && mx_npz_count(z) == 2);
  for (int i = 0; z && i < 2; i++) {
    mx_array g = mx_npz_get(z, mx_npz_find(z, names[i]));
    CHECK(equal_arrays(g, arrs[i]));
    mx_array_free(g);
  }
  mx_npz_close(z);
  /* Damage: every truncation fails cleanly; a flipped data byte fails the CRC. */
  FILE *f = fopen(path, "rb");
  static unsigned char buf[8192];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  int clean = 0;
  for (size_t cut = 0; cut < len; cut++) {
    mx_clear_error();
    mx_npz *b = mx_npz_open_memory(buf, cut, "cut");
    bool failed = b == NULL;
    if (b) { /* the directory may survive a cut only if nothing is lost */
      mx_array g = mx_npz_get(b, 0);
      failed = g == NULL;
      mx_array_free(g);
    }
    if (failed && mx_last_error_code() == MX_ERR_FORMAT) clean++;
    mx_npz_close(b);
  }
  CHECK(clean == (int)len);
  buf[30 + 5 + 80] ^= 0x40; /* inside member "a"'s data */
  mx_clear_error();
  mx_npz *b = mx_npz_open_memory(buf, len, "flipped");
  mx_array g = b ? mx_npz_get(b, 0) : NULL;
  CHECK(g == NULL && strstr(mx_last_error(), "CRC"));
  mx_npz_close(b);
  mx_clear_error();
  unlink(path);
  mx_array_free(t);
  mx_array_free(a);
}

/* Inputs the fuzzer found; each must fail cleanly without leaking. */
static void test_regressions(void) {
  const char *src = getenv("MLXC_SOURCE_DIR");
  char p[1200];
  snprintf(p, sizeof p, "%s/tests/data/npz-regress/leak-nul-name.npz", src ? src : ".");
  mx_clear_error();
  mx_npz *z = mx_npz_open(p);
  CHECK_MSG(z == NULL && mx_last_error_code() == MX_ERR_FORMAT, mx_last_error());
  mx_npz_close(z);
  /* A file shorter than a zip64 end record that points to one. */
  snprintf(p, sizeof p, "%s/tests/data/npz-regress/short-zip64.npz", src ? src : ".");
  mx_clear_error();
  z = mx_npz_open(p);
  CHECK_MSG(z == NULL && mx_last_error_code() == MX_ERR_FORMAT, mx_last_error());
  mx_npz_close(z);
  /* A deflated member claiming 4 GB: refused before any allocation. */
  snprintf(p, sizeof p, "%s/tests/data/npz-regress/oom-claimed-size.npz", src ? src : ".");
  mx_clear_error();
  z = mx_npz_open(p);
  mx_array g = NULL;
  for (int64_t i = 0; z && i < mx_npz_count(z) && !g; i++) g = mx_npz_get(z, i);
  CHECK_MSG(g == NULL && mx_last_error_code() == MX_ERR_FORMAT, mx_last_error());
  mx_array_free(g);
  mx_npz_close(z);
  mx_clear_error();
}

int main(int argc, char **argv) {
  fx = argc > 1 ? argv[1] : ".";
  char p[1024];
  snprintf(p, sizeof p, "%.900s/stored.npz", fx);
  check_archive(p);
  snprintf(p, sizeof p, "%.900s/deflated.npz", fx);
  check_archive(p);
  test_roundtrip();
  test_regressions();
  return check_summary();
}
