/* test_lm_rope.c — rope configuration (src/lm/rope.c) against a NumPy port
 * of transformers' formulas (tests/ref/gen_lm_rope.py writes
 * rope_cases.json; its header states the tolerances):
 *  - "init" cases: lm_rope_init on the v5 config ("rope_parameters") and on
 *    its v4 form ("rope_theta" + "rope_scaling") gives the expected dims,
 *    base, scale, attention factor and per-frequency periods, and both
 *    forms give identical lm_ropes;
 *  - "apply" cases: lm_rope_apply at a cache offset (dynamic NTK growth,
 *    longrope short/long switching, yarn attention factor, partial rotary,
 *    per-row positions of a left-padded batch);
 *  - bad configs give clear errors (code + message);
 *  - what real checkpoints' configs add to the qwen2 fixture
 *    (tests/data/lm_arch/qwen2): the v4 keys load the same model,
 *    use_sliding_window false ignores the window, a window on layers >=
 *    max_window_layers is honoured the same way cached and uncached, and
 *    malformed window settings are refused. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, symlink */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lm/lm_internal.h"

#define CHECK_ST(expr, code, substr)                                                  \
  do {                                                                               \
    mx_clear_error();                                                                \
    mx_status check_st_ = (expr);                                                    \
    int check_st_ok_ = check_st_ == (code) && strstr(mx_last_error(), (substr)) != NULL; \
    check_report(check_st_ok_, __FILE__, __LINE__, #expr " fails with " #code,        \
                 mx_last_error());                                                   \
    mx_clear_error();                                                                \
  } while (0)

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Every element of a float32 array within rtol of a JSON list. */
static bool close_list(mx_array a, const cJSON *want, double rtol, double atol, char *why,
                       size_t cap) {
  if (!a || !cJSON_IsArray(want)) {
    snprintf(why, cap, "%s", a ? "no expected list" : "no array");
    return (!a) && !cJSON_IsArray(want);
  }
  mx_array f = mx_astype(a, MX_FLOAT32);
  const float *p = mx_array_data(f);
  int64_t n = (int64_t)mx_array_size(f);
  bool ok = p && n == cJSON_GetArraySize(want);
  if (!ok) snprintf(why, cap, "size %lld vs %d", (long long)n, cJSON_GetArraySize(want));
  int64_t i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, want) {
    if (!ok) break;
    double w = e->valuedouble, g = p[i];
    if (!(fabs(g - w) <= atol + rtol * fabs(w))) {
      snprintf(why, cap, "element %lld: got %.9g want %.9g", (long long)i, g, w);
      ok = false;
    }
    i++;
  }
  mx_array_free(f);
  return ok;
}

static bool same_array(mx_array a, mx_array b) {
  if (!a || !b) return a == b;
  if (mx_array_size(a) != mx_array_size(b)) return false;
  const float *x = mx_array_data(a), *y = mx_array_data(b);
  return x && y && memcmp(x, y, (size_t)mx_array_size(a) * sizeof *x) == 0;
}

static void init_case(const cJSON *c) {
  const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
  int64_t hd = (int64_t)num(c, "head_dim");
  lm_rope r5, r4;
  mx_status s5 = lm_rope_init(&r5, cJSON_GetObjectItemCaseSensitive(c, "v5"), hd, NULL, name);
  CHECK_MSG(s5 == MX_OK, mx_last_error());
  mx_status s4 = lm_rope_init(&r4, cJSON_GetObjectItemCaseSensitive(c, "v4"), hd, NULL, name);
  CHECK_MSG(s4 == MX_OK, mx_last_error());
  if (s5 || s4) goto out;
  char why[200];
  CHECK_MSG(r5.dims == (int)num(c, "dims"), name);
  CHECK_MSG(fabs(r5.base - num(c, "base")) <= 1e-6 * num(c, "base"), name);
  CHECK_MSG(fabs(r5.scale - num(c, "scale")) <= 1e-7, name);
  CHECK_MSG(fabs(r5.mscale - num(c, "mscale")) <= 1e-6 * num(c, "mscale"), name);
  const cJSON *per = cJSON_GetObjectItemCaseSensitive(c, "periods");
  const cJSON *lper = cJSON_GetObjectItemCaseSensitive(c, "long_periods");
  bool ok = cJSON_IsArray(per) ? close_list(r5.freqs, per, 1e-6, 0, why, sizeof why)
                               : r5.freqs == NULL;
  if (!cJSON_IsArray(per)) snprintf(why, sizeof why, "unexpected freqs");
  CHECK_MSG(ok, why);
  ok = cJSON_IsArray(lper) ? close_list(r5.long_freqs, lper, 1e-6, 0, why, sizeof why)
                           : r5.long_freqs == NULL;
  if (!cJSON_IsArray(lper)) snprintf(why, sizeof why, "unexpected long freqs");
  CHECK_MSG(ok, why);
  /* v4 and v5 forms: the same lm_rope. */
  bool same = r4.kind == r5.kind && r4.dims == r5.dims && r4.traditional == r5.traditional &&
              r4.base == r5.base && r4.scale == r5.scale && r4.mscale == r5.mscale &&
              r4.original_max == r5.original_max && r4.factor == r5.factor &&
              same_array(r4.freqs, r5.freqs) && same_array(r4.long_freqs, r5.long_freqs);
  CHECK_MSG(same, name);
out:
  lm_rope_free(&r5);
  lm_rope_free(&r4);
}

static void apply_case(const cJSON *c) {
  const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
  int64_t hd = (int64_t)num(c, "head_dim");
  lm_rope r;
  mx_status st = lm_rope_init(&r, cJSON_GetObjectItemCaseSensitive(c, "v5"), hd, NULL, name);
  CHECK_MSG(st == MX_OK, mx_last_error());
  if (st) return;
  int64_t shape[4], n = 1;
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "shape"), *e;
  int k = 0;
  cJSON_ArrayForEach(e, sh) n *= shape[k++] = (int64_t)e->valuedouble;
  float *x = malloc((size_t)n * sizeof *x);
  k = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "x")) x[k++] = (float)e->valuedouble;
  mx_array xa = mx_array_from_data(x, shape, 4, MX_FLOAT32);
  free(x);
  lm_kv_cache layer = {0};
  layer.offset = (int64_t)num(c, "offset");
  mx_lm_cache owner = {0};
  int64_t pad[8];
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(c, "left_pad");
  if (cJSON_IsArray(lp)) {
    k = 0;
    cJSON_ArrayForEach(e, lp) pad[k++] = (int64_t)e->valuedouble;
    owner.batch = k;
    owner.left_pad = pad;
    owner.nlayers = 1;
    owner.layers = &layer;
    layer.owner = &owner;
  }
  mx_array y = lm_rope_apply(&r, xa, &layer);
  CHECK_MSG(y != NULL, mx_last_error());
  char why[200] = "";
  CHECK_MSG(close_list(y, cJSON_GetObjectItemCaseSensitive(c, "out"), 0, 3e-5, why, sizeof why),
            why);
  if (!y) printf("   %s\n", name);
  mx_array_free(y);
  mx_array_free(xa);
  lm_rope_free(&r);
}

/* ------------------------------------------------------------ bad configs */

static mx_status init_json(const char *json, int64_t head_dim) {
  cJSON *cfg = cJSON_Parse(json);
  if (!cfg) {
    printf("bad test json: %s\n", json);
    return MX_ERR_INTERNAL;
  }
  lm_rope r;
  mx_status st = lm_rope_init(&r, cfg, head_dim, NULL, "cfg");
  lm_rope_free(&r);
  cJSON_Delete(cfg);
  return st;
}

static void bad_configs(void) {
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"ntk-by-parts\", \"factor\": 2}}", 16),
           MX_ERR_UNSUPPORTED, "rope type \"ntk-by-parts\" is not supported");
  CHECK_ST(init_json("{\"rope_parameters\": {\"rope_type\": \"mystery\", \"rope_theta\": 1e4}}",
                     16),
           MX_ERR_UNSUPPORTED, "\"mystery\"");
  CHECK_ST(init_json("{\"rope_scaling\": 3}", 16), MX_ERR_FORMAT,
           "rope_scaling must be an object");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"linear\"}}", 16), MX_ERR_FORMAT,
           "rope type linear needs \"factor\"");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}", 16),
           MX_ERR_FORMAT, "needs max_position_embeddings");
  CHECK_ST(init_json("{\"max_position_embeddings\": 8, \"rope_scaling\": {\"type\": "
                     "\"dynamic\", \"factor\": 2}}", 2),
           MX_ERR_FORMAT, "more than 2 rotary dims");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"linear\", \"factor\": -1}}", 16),
           MX_ERR_FORMAT, "factor must be > 0");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"linear\", \"factor\": \"2\"}}", 16),
           MX_ERR_FORMAT, "\"factor\" must be a finite number");
  CHECK_ST(init_json("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, "
                     "\"low_freq_factor\": 2, \"high_freq_factor\": 2}}", 16),
           MX_ERR_FORMAT, "low != high");
  CHECK_ST(init_json("{\"max_position_embeddings\": 100, \"rope_scaling\": {\"type\": \"yarn\", "
                     "\"factor\": 0}}", 16),
           MX_ERR_FORMAT, "yarn rope factor must be > 0");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}}", 16),
           MX_ERR_FORMAT, "original_max_position_embeddings");
  CHECK_ST(init_json("{\"rope_theta\": 1, \"max_position_embeddings\": 100, \"rope_scaling\": "
                     "{\"type\": \"yarn\", \"factor\": 4}}", 16),
           MX_ERR_FORMAT, "rope_theta > 1");
  CHECK_ST(init_json("{\"max_position_embeddings\": 256, \"original_max_position_embeddings\": "
                     "64, \"rope_scaling\": {\"type\": \"longrope\", \"long_factor\": "
                     "[1,1,1,1,1,1,1,1]}}", 16),
           MX_ERR_FORMAT, "needs \"short_factor\"");
  CHECK_ST(init_json("{\"max_position_embeddings\": 256, \"original_max_position_embeddings\": "
                     "64, \"rope_scaling\": {\"type\": \"su\", \"short_factor\": [1,1,1], "
                     "\"long_factor\": [1,1,1,1,1,1,1,1]}}", 16),
           MX_ERR_FORMAT, "\"short_factor\" must be a list of 8 numbers");
  CHECK_ST(init_json("{\"max_position_embeddings\": 256, \"original_max_position_embeddings\": "
                     "64, \"rope_scaling\": {\"type\": \"su\", \"short_factor\": "
                     "[1,1,1,1,1,1,1,1], \"long_factor\": [1,1,1,\"x\",1,1,1,1]}}", 16),
           MX_ERR_FORMAT, "\"long_factor\"[3] must be a positive number");
  CHECK_ST(init_json("{\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1], "
                     "\"long_factor\": [1]}}", 2),
           MX_ERR_FORMAT, "longrope rope needs original_max_position_embeddings");
  CHECK_ST(init_json("{\"partial_rotary_factor\": 1.5}", 16), MX_ERR_FORMAT,
           "partial_rotary_factor 1.5 must be in (0, 1]");
  CHECK_ST(init_json("{\"rope_parameters\": {\"rope_theta\": 1e4, \"partial_rotary_factor\": "
                     "0.35}}", 16),
           MX_ERR_FORMAT, "rotary dims 5 (head_dim 16 x 0.35) must be even");
  CHECK_ST(init_json("{\"partial_rotary_factor\": 0.1}", 10), MX_ERR_FORMAT,
           "rotary dims 1");
  CHECK_ST(init_json("{\"rope_theta\": -5}", 16), MX_ERR_FORMAT, "rope_theta -5 must be > 0");

  /* A null rope_scaling is no scaling; per-layer-type v5 parameters pick
   * their entry. */
  CHECK(init_json("{\"rope_scaling\": null, \"rope_theta\": 5e5}", 16) == MX_OK);
  cJSON *cfg = cJSON_Parse("{\"rope_parameters\": {\"full_attention\": {\"rope_theta\": 1e6, "
                           "\"rope_type\": \"default\"}, \"sliding_attention\": {\"rope_theta\": "
                           "1e4, \"rope_type\": \"linear\", \"factor\": 8}}}");
  lm_rope r;
  CHECK(lm_rope_init(&r, cfg, 16, "sliding_attention", "cfg") == MX_OK);
  CHECK(r.base == 1e4f && r.scale == 0.125f);
  lm_rope_free(&r);
  CHECK(lm_rope_init(&r, cfg, 16, NULL, "cfg") == MX_OK);
  CHECK(r.base == 1e6f && r.scale == 1.0f);
  lm_rope_free(&r);
  cJSON_Delete(cfg);

  /* The cache's padding must match the batch. */
  lm_rope_init_base(&r, 8, 1e4f, false);
  int64_t shape[4] = {2, 1, 3, 8};
  mx_array x = mx_zeros(shape, 4, MX_FLOAT32);
  int64_t pad[3] = {0, 1, 2};
  lm_kv_cache layer = {0};
  mx_lm_cache owner = {.nlayers = 1, .layers = &layer, .batch = 3, .left_pad = pad};
  layer.owner = &owner;
  CHECK_ERR(lm_rope_apply(&r, x, &layer), MX_ERR_SHAPE, "left padding has 3 rows, the batch 2");
  mx_array_free(x);
  lm_rope_free(&r);
}

/* ------------------------------------------------------------ model configs */

static char tmpdir[256];

/* The qwen2 fixture's weights under a config made from its own with `edit`
 * applied (keys replaced / removed when the value is NULL). */
static mx_lm_model *load_qwen2(const char *src_dir, const char *const *edit, int nedit) {
  char p[1400], q[1400];
  snprintf(p, sizeof p, "%s/config.json", src_dir);
  char *text = read_file(p);
  cJSON *cfg = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (!cfg) return NULL;
  for (int i = 0; i < nedit; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, edit[2 * i]);
    if (edit[2 * i + 1])
      cJSON_AddItemToObject(cfg, edit[2 * i], cJSON_Parse(edit[2 * i + 1]));
  }
  char *out = cJSON_Print(cfg);
  cJSON_Delete(cfg);
  snprintf(q, sizeof q, "%s/config.json", tmpdir);
  FILE *f = fopen(q, "w");
  if (f) {
    fputs(out, f);
    fclose(f);
  }
  free(out);
  return mx_lm_load(tmpdir);
}

static mx_array logits_of(mx_lm_model *m, const int32_t *ids, int64_t n) {
  int64_t shape[2] = {1, n};
  mx_array t = mx_array_from_data(ids, shape, 2, MX_INT32);
  mx_array l = mx_lm_forward(m, t, NULL);
  mx_array_free(t);
  if (l) mx_eval1(l);
  return l;
}

static double max_diff(mx_array a, mx_array b) {
  if (!a || !b || mx_array_size(a) != mx_array_size(b)) return INFINITY;
  const float *x = mx_array_data(a), *y = mx_array_data(b);
  double d = 0;
  for (int64_t i = 0; i < mx_array_size(a); i++) d = fmax(d, fabs((double)x[i] - y[i]));
  return d;
}

typedef struct collect {
  int32_t ids[64];
  int n;
} collect;

static int on_token(void *user, int32_t token, mx_array logprobs) {
  (void)logprobs;
  collect *c = user;
  if (c->n < 64) c->ids[c->n++] = token;
  return 0;
}

static void model_configs(void) {
  const char *src = getenv("MLXC_SOURCE_DIR");
  char dir[1200], p[1400], q[1400];
  snprintf(dir, sizeof dir, "%s/tests/data/lm_arch/qwen2", src ? src : ".");
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mlxc_rope_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    CHECK_MSG(0, "mkdtemp");
    return;
  }
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  snprintf(q, sizeof q, "%s/model.safetensors", tmpdir);
  CHECK_MSG(symlink(p, q) == 0, q);
  int32_t ids[24];
  for (int i = 0; i < 24; i++) ids[i] = (int32_t)((i * 37 + 11) % 320);

  mx_lm_model *base = load_qwen2(dir, NULL, 0);
  CHECK_MSG(base != NULL, mx_last_error());
  mx_array ref = base ? logits_of(base, ids, 24) : NULL;
  CHECK(ref != NULL);

  /* v4 keys: rope_theta at the top, no rope_parameters, no layer_types. */
  const char *v4[] = {"rope_parameters", NULL, "layer_types", NULL, "rope_theta", "1000000.0",
                      "rope_scaling", "null"};
  mx_lm_model *m = load_qwen2(dir, v4, 4);
  CHECK_MSG(m != NULL, mx_last_error());
  mx_array l = m ? logits_of(m, ids, 24) : NULL;
  CHECK(max_diff(l, ref) == 0);
  mx_array_free(l);
  mx_lm_free(m);

  /* Qwen2.5's form: a window that use_sliding_window false switches off. */
  const char *off[] = {"layer_types", NULL, "use_sliding_window", "false", "sliding_window", "4",
                       "max_window_layers", "1"};
  m = load_qwen2(dir, off, 4);
  CHECK_MSG(m != NULL, mx_last_error());
  l = m ? logits_of(m, ids, 24) : NULL;
  CHECK(max_diff(l, ref) == 0);
  mx_array_free(l);
  mx_lm_free(m);

  /* use_sliding_window true: layer 1 (>= max_window_layers) sees 4 keys. */
  const char *on[] = {"layer_types", NULL, "use_sliding_window", "true", "sliding_window", "4",
                      "max_window_layers", "1"};
  m = load_qwen2(dir, on, 4);
  CHECK_MSG(m != NULL, mx_last_error());
  if (m) {
    lm_layer_spec s0 = {0}, s1 = {0};
    CHECK(m->arch->layer_spec != NULL);
    if (m->arch->layer_spec) {
      m->arch->layer_spec(m->impl, 0, &s0);
      m->arch->layer_spec(m->impl, 1, &s1);
    }
    CHECK(s0.window == 0 && s1.window == 4);
    l = logits_of(m, ids, 24);
    CHECK(max_diff(l, ref) > 1e-3); /* the window changes the model */
    mx_array_free(l);
    /* Cached greedy (rotating cache of 4 on layer 1) equals the argmax of
     * the uncached forward over the same tokens. */
    collect c = {.n = 0};
    mx_lm_generate_params gp = mx_lm_generate_default_params();
    gp.max_tokens = 12;
    gp.prefill_step_size = 5;
    int32_t none = -1;
    gp.eos_ids = &none;
    gp.n_eos_ids = 1;
    gp.callback = on_token;
    gp.user = &c;
    CHECK_MSG(mx_lm_generate(m, ids, 10, &gp, NULL, NULL) == MX_OK, mx_last_error());
    int32_t seq[22];
    memcpy(seq, ids, 10 * sizeof *seq);
    memcpy(seq + 10, c.ids, 12 * sizeof *seq);
    l = c.n == 12 ? logits_of(m, seq, 22) : NULL;
    const float *lp = l ? mx_array_data(l) : NULL;
    bool same = lp != NULL;
    for (int t = 0; same && t < 12; t++) {
      const float *row = lp + (size_t)(9 + t) * 320;
      int best = 0;
      for (int v = 1; v < 320; v++)
        if (row[v] > row[best]) best = v;
      same = best == c.ids[t];
    }
    CHECK_MSG(same, "windowed qwen2: cached greedy differs from the uncached argmax");
    mx_array_free(l);
    mx_lm_free(m);
  }

  const char *nowin[] = {"layer_types", NULL, "use_sliding_window", "true", "sliding_window",
                         "null"};
  mx_clear_error();
  m = load_qwen2(dir, nowin, 3);
  CHECK_MSG(m == NULL && mx_last_error_code() == MX_ERR_FORMAT &&
                strstr(mx_last_error(), "use_sliding_window is true but sliding_window"),
            mx_last_error());
  mx_lm_free(m);
  const char *badlt[] = {"use_sliding_window", "true", "sliding_window", "8", "layer_types",
                         "[\"full_attention\", \"chunked_attention\"]"};
  mx_clear_error();
  m = load_qwen2(dir, badlt, 3);
  CHECK_MSG(m == NULL && mx_last_error_code() == MX_ERR_UNSUPPORTED &&
                strstr(mx_last_error(), "layer type \"chunked_attention\" (layer 1)"),
            mx_last_error());
  mx_lm_free(m);
  const char *shortlt[] = {"use_sliding_window", "true", "sliding_window", "8", "layer_types",
                           "[\"full_attention\"]"};
  mx_clear_error();
  m = load_qwen2(dir, shortlt, 3);
  CHECK_MSG(m == NULL && mx_last_error_code() == MX_ERR_FORMAT &&
                strstr(mx_last_error(), "layer_types must list 2 layer types"),
            mx_last_error());
  mx_lm_free(m);
  mx_clear_error();

  mx_array_free(ref);
  mx_lm_free(base);
  unlink(q);
  snprintf(p, sizeof p, "%s/config.json", tmpdir);
  unlink(p);
  rmdir(tmpdir);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    printf("usage: test_lm_rope FIXTURE_DIR\n");
    return 2;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/rope_cases.json", argv[1]);
  char *text = read_file(path);
  CHECK_MSG(text != NULL, path);
  cJSON *cases = text ? cJSON_Parse(text) : NULL;
  free(text);
  CHECK_MSG(cJSON_IsArray(cases), "rope_cases.json must be a list");
  int n_init = 0, n_apply = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cases) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "init") == 0) {
      init_case(c);
      n_init++;
    } else {
      apply_case(c);
      n_apply++;
    }
  }
  CHECK(n_init >= 15 && n_apply >= 10);
  cJSON_Delete(cases);
  bad_configs();
  model_configs();
  return check_summary();
}
