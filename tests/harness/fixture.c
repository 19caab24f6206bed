#include "fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *find(const fx_case *c, const char *key) {
  for (int i = 0; i < c->nparams; i++)
    if (strcmp(c->keys[i], key) == 0) return c->vals[i];
  return NULL;
}
bool fx_has(const fx_case *c, const char *key) { return find(c, key) != NULL; }
int64_t fx_int(const fx_case *c, const char *key, int64_t dflt) {
  const char *v = find(c, key);
  return v ? strtoll(v, NULL, 10) : dflt;
}
double fx_double(const fx_case *c, const char *key, double dflt) {
  const char *v = find(c, key);
  return v ? strtod(v, NULL) : dflt;
}
const char *fx_str(const fx_case *c, const char *key, const char *dflt) {
  const char *v = find(c, key);
  return v ? v : dflt;
}
int fx_ints(const fx_case *c, const char *key, int64_t *out, int max) {
  const char *v = find(c, key);
  if (!v) return 0;
  if (strcmp(v, "none") == 0) return -1;
  int n = 0;
  while (*v && n < max) {
    char *end;
    out[n++] = strtoll(v, &end, 10);
    if (end == v) break;
    v = *end == ',' ? end + 1 : end;
  }
  return n;
}
mx_dtype fx_dtype(const fx_case *c, const char *key, mx_dtype dflt) {
  const char *v = find(c, key);
  if (!v) return dflt;
  for (int t = 0; t < MX_DTYPE_COUNT; t++)
    if (strcmp(v, mx_dtype_name((mx_dtype)t)) == 0) return (mx_dtype)t;
  return MX_DTYPE_COUNT;
}

static mx_array apply_view(mx_array a, const char *view) {
  if (!view) return mx_array_retain(a);
  int nd = mx_array_ndim(a);
  const int64_t *sh = mx_array_shape(a);
  if (strcmp(view, "T") == 0) return mx_transpose(a, NULL, 0);
  int64_t shape[MX_MAX_NDIM], strides[MX_MAX_NDIM];
  int64_t n = 1;
  for (int d = nd - 1; d >= 0; d--) {
    shape[d] = sh[d];
    strides[d] = n;
    n *= sh[d];
  }
  if (nd == 0) return mx_array_retain(a);
  if (strcmp(view, "step2") == 0) {
    shape[nd - 1] = (sh[nd - 1] + 1) / 2;
    strides[nd - 1] = 2;
    return mx_as_strided(a, shape, nd, strides, 0);
  }
  if (strcmp(view, "rev") == 0) {
    strides[nd - 1] = -1;
    return mx_as_strided(a, shape, nd, strides, sh[nd - 1] ? sh[nd - 1] - 1 : 0);
  }
  return NULL;
}

static mx_array load_input(const char *dir, const fx_case *c, const char *suffix,
                           const char *dtype_key) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.%s.npy", dir, c->id, suffix);
  mx_array a = mx_load_npy(path);
  if (!a) return NULL;
  if (strcmp(fx_str(c, dtype_key, ""), "bfloat16") == 0) {
    mx_array v = mx_view(a, MX_BFLOAT16);
    mx_array_free(a);
    a = v;
  }
  return a;
}

bool fx_compare(mx_array got, mx_array want, double rtol, double atol, char *why, size_t cap) {
  if (!got) {
    snprintf(why, cap, "op failed: %s", mx_last_error());
    return false;
  }
  if (mx_array_dtype(got) != mx_array_dtype(want)) {
    snprintf(why, cap, "dtype %s, expected %s", mx_dtype_name(mx_array_dtype(got)),
             mx_dtype_name(mx_array_dtype(want)));
    return false;
  }
  int nd = mx_array_ndim(got);
  if (nd != mx_array_ndim(want) ||
      memcmp(mx_array_shape(got), mx_array_shape(want), (size_t)nd * sizeof(int64_t)) != 0) {
    snprintf(why, cap, "shape mismatch (ndim %d vs %d)", nd, mx_array_ndim(want));
    return false;
  }
  int64_t n = mx_array_size(got);
  mx_dtype t = mx_array_dtype(got);
  if (mx_eval1(got) < 0) {
    snprintf(why, cap, "eval failed: %s", mx_last_error());
    return false;
  }
  bool complex = t == MX_COMPLEX64;
  bool exact = t == MX_BOOL || mx_dtype_is_integer(t);
  if (exact) {
    int64_t *g = malloc((size_t)(n ? n : 1) * 8), *w = malloc((size_t)(n ? n : 1) * 8);
    mx_array_copy_to(got, g, (size_t)n * 8, MX_INT64);
    mx_array_copy_to(want, w, (size_t)n * 8, MX_INT64);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++)
      if (g[i] != w[i]) {
        snprintf(why, cap, "element %lld: got %lld, expected %lld", (long long)i, (long long)g[i],
                 (long long)w[i]);
        ok = false;
      }
    free(g);
    free(w);
    return ok;
  }
  int64_t m = complex ? 2 * n : n;
  double *g = malloc((size_t)(m ? m : 1) * 8), *w = malloc((size_t)(m ? m : 1) * 8);
  if (complex) {
    float *gf = malloc((size_t)(m ? m : 1) * 4), *wf = malloc((size_t)(m ? m : 1) * 4);
    mx_array_copy_to(got, gf, (size_t)m * 4, MX_COMPLEX64);
    mx_array_copy_to(want, wf, (size_t)m * 4, MX_COMPLEX64);
    for (int64_t i = 0; i < m; i++) g[i] = gf[i], w[i] = wf[i];
    free(gf);
    free(wf);
  } else {
    mx_array_copy_to(got, g, (size_t)m * 8, MX_FLOAT64);
    mx_array_copy_to(want, w, (size_t)m * 8, MX_FLOAT64);
  }
  bool ok = true;
  double worst = 0;
  int64_t worst_i = -1;
  for (int64_t i = 0; i < m; i++) {
    double a = g[i], b = w[i];
    if (isnan(b)) {
      if (!isnan(a)) { worst_i = i; worst = INFINITY; ok = false; break; }
      continue;
    }
    if (isinf(b)) {
      if (a != b) { worst_i = i; worst = INFINITY; ok = false; break; }
      continue;
    }
    double err = fabs(a - b), tol = atol + rtol * fabs(b);
    if (!(err <= tol)) {
      ok = false;
      if (!(err / (tol > 0 ? tol : 1e-300) <= worst)) {
        worst = err / (tol > 0 ? tol : 1e-300);
        worst_i = i;
      }
    }
  }
  if (!ok)
    snprintf(why, cap, "element %lld: got %.9g, expected %.9g (%.3g x tolerance)%s",
             (long long)(complex ? worst_i / 2 : worst_i), g[worst_i], w[worst_i], worst,
             complex ? (worst_i % 2 ? " [imag]" : " [real]") : "");
  free(g);
  free(w);
  return ok;
}

static bool parse_line(char *line, fx_case *c) {
  memset(c, 0, sizeof *c);
  char *save = NULL;
  char *tok[4 + FX_MAX_PARAMS + 1];
  int nt = 0;
  for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < (int)(sizeof tok / sizeof *tok);
       t = strtok_r(NULL, " \t\r\n", &save))
    tok[nt++] = t;
  if (nt < 5) return false;
  snprintf(c->id, sizeof c->id, "%s", tok[0]);
  snprintf(c->op, sizeof c->op, "%s", tok[1]);
  c->nin = atoi(tok[2]);
  c->rtol = strtod(tok[3], NULL);
  c->atol = strtod(tok[4], NULL);
  for (int i = 5; i < nt && c->nparams < FX_MAX_PARAMS; i++) {
    char *eq = strchr(tok[i], '=');
    if (!eq) return false;
    *eq = '\0';
    snprintf(c->keys[c->nparams], sizeof c->keys[0], "%s", tok[i]);
    snprintf(c->vals[c->nparams], sizeof c->vals[0], "%s", eq + 1);
    c->nparams++;
  }
  return c->nin >= 0 && c->nin <= 8;
}

int fx_run_dir(const char *dir, const fx_op *ops, int nops) {
  char path[1024];
  snprintf(path, sizeof path, "%s/cases.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    check_report(0, __FILE__, __LINE__, "fixture manifest opens", path);
    return 0;
  }
  size_t base_mem = mx_memory_active();
  char line[8192];
  int ncases = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    fx_case c;
    if (!parse_line(line, &c)) {
      check_report(0, __FILE__, __LINE__, "fixture line parses", line);
      continue;
    }
    ncases++;
    const fx_op *op = NULL;
    for (int i = 0; i < nops; i++)
      if (strcmp(ops[i].name, c.op) == 0) op = &ops[i];
    if (!op) {
      check_report(0, __FILE__, __LINE__, "fixture op is in the test's table", c.op);
      continue;
    }
    mx_array in[8] = {0}, views[8] = {0};
    bool loaded = true;
    for (int k = 0; k < c.nin; k++) {
      char suffix[32], dkey[32], vkey[32];
      snprintf(suffix, sizeof suffix, "in%d", k);
      snprintf(dkey, sizeof dkey, "dtype%d", k);
      snprintf(vkey, sizeof vkey, "view%d", k);
      in[k] = load_input(dir, &c, suffix, dkey);
      views[k] = in[k] ? apply_view(in[k], fx_str(&c, vkey, NULL)) : NULL;
      if (!views[k]) loaded = false;
    }
    mx_array want = load_input(dir, &c, "out", "out_dtype");
    char why[512] = "";
    bool ok = false;
    if (!loaded || !want) {
      snprintf(why, sizeof why, "loading fixture failed: %s", mx_last_error());
    } else {
      mx_clear_error();
      mx_array got = op->fn(&c, views, c.nin);
      ok = fx_compare(got, want, c.rtol, c.atol, why, sizeof why);
      mx_array_free(got);
    }
    char detail[800];
    snprintf(detail, sizeof detail, "case %s (%s): %s", c.id, c.op, why);
    check_report(ok, __FILE__, __LINE__, "fixture matches NumPy", detail);
    for (int k = 0; k < c.nin; k++) {
      mx_array_free(views[k]);
      mx_array_free(in[k]);
    }
    mx_array_free(want);
    mx_clear_error();
  }
  fclose(f);
  char detail[128];
  snprintf(detail, sizeof detail, "active %zu bytes, baseline %zu", mx_memory_active(), base_mem);
  check_report(mx_memory_active() == base_mem, __FILE__, __LINE__,
               "memory returns to baseline after the fixtures", detail);
  check_report(ncases > 0, __FILE__, __LINE__, "fixture folder has cases", dir);
  return ncases;
}
