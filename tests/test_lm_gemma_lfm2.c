/* test_lm_gemma_lfm2.c — what test_lm_arch's fixtures do not reach for
 * gemma3_text and lfm2: the older (transformers v4 / original) config keys
 * and weight layouts must give the same logits as the fixture's
 * transformers reference (within 1e-4 of the logit scale, as test_lm_arch:
 * the same float32 computation reached through other keys); the multimodal
 * "gemma3" shape; per-layer cache specs; lfm2's convolution state through
 * token-by-token decoding; and bad configs failing with clear errors.
 *
 * Each case writes a temporary model folder: an edited config.json next to
 * the fixture's weights (linked, or re-saved under other names). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lm/lm_internal.h"

static char root[1024];
static char tmpdir[1100];

static cJSON *fixture_config(const char *variant) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s/config.json", root, variant);
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  char *buf = malloc(1 << 16);
  size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
  fclose(f);
  if (!buf) return NULL;
  buf[n] = 0;
  cJSON *c = cJSON_Parse(buf);
  free(buf);
  return c;
}

static void write_config(const cJSON *cfg) {
  char p[1200];
  snprintf(p, sizeof p, "%s/config.json", tmpdir);
  char *s = cJSON_Print(cfg);
  FILE *f = fopen(p, "wb");
  CHECK(f && s);
  if (f && s) fputs(s, f);
  if (f) fclose(f);
  free(s);
}

/* The fixture's weights, linked into the temporary folder. */
static void link_weights(const char *variant) {
  char src[1400], dst[1200];
  snprintf(src, sizeof src, "%s/%s/model.safetensors", root, variant);
  snprintf(dst, sizeof dst, "%s/model.safetensors", tmpdir);
  unlink(dst);
  CHECK(symlink(src, dst) == 0);
}

typedef mx_array (*edit_fn)(const char *name, mx_array a, char *out_name, size_t cap);

/* The fixture's weights re-saved with names (and arrays) passed through
 * `edit`, plus `extra` dummy tensors. */
static void save_weights(const char *variant, edit_fn edit, const char *const *extra,
                         size_t nextra) {
  char src[1400], dst[1200];
  snprintf(src, sizeof src, "%s/%s/model.safetensors", root, variant);
  snprintf(dst, sizeof dst, "%s/model.safetensors", tmpdir);
  unlink(dst);
  mx_weights *w = mx_weights_open(src);
  CHECK_MSG(w != NULL, mx_last_error());
  if (!w) return;
  int64_t n = mx_weights_count(w);
  size_t total = (size_t)n + nextra;
  char **names = calloc(total, sizeof *names);
  mx_array *arrs = calloc(total, sizeof *arrs);
  for (int64_t i = 0; i < n; i++) {
    const char *name = mx_weights_name(w, i);
    mx_array a = mx_weights_get(w, name);
    names[i] = malloc(256);
    arrs[i] = edit(name, a, names[i], 256);
    mx_array_free(a);
  }
  for (size_t j = 0; j < nextra; j++) {
    int64_t s = 3;
    names[n + j] = strdup(extra[j]);
    arrs[n + j] = mx_zeros(&s, 1, MX_FLOAT32);
  }
  CHECK_MSG(mx_save_safetensors(dst, (const char *const *)names, arrs, total, NULL, NULL, 0) ==
                MX_OK,
            mx_last_error());
  for (size_t i = 0; i < total; i++) {
    free(names[i]);
    mx_array_free(arrs[i]);
  }
  free(names);
  free(arrs);
  mx_weights_close(w);
}

static mx_array load_npy(const char *variant, const char *file) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s/%s", root, variant, file);
  mx_array a = mx_load_npy(p);
  CHECK_MSG(a != NULL, mx_last_error());
  return a;
}

/* Teacher-forced logits of the model in tmpdir against the variant's
 * transformers reference. */
static void check_logits(const char *variant, const char *what) {
  printf("-- %s: %s\n", variant, what);
  mx_lm_model *m = mx_lm_load(tmpdir);
  CHECK_MSG(m != NULL, mx_last_error());
  mx_array prompt = load_npy(variant, "prompt.npy"), greedy = load_npy(variant, "greedy.npy"),
           ref = load_npy(variant, "logits.npy");
  if (m && prompt && greedy && ref) {
    int64_t P = mx_array_dim(prompt, 0), N = mx_array_dim(greedy, 0), V = mx_array_dim(ref, 1);
    mx_array parts[2] = {prompt, greedy};
    mx_array seq = mx_concatenate(parts, 2, 0);
    int64_t s[2] = {1, P + N};
    mx_array ids = mx_reshape(seq, s, 2);
    mx_array lg = mx_lm_forward(m, ids, NULL);
    mx_array l32 = mx_astype(lg, MX_FLOAT32);
    const float *a = mx_array_data(l32), *b = mx_array_data(ref);
    CHECK_MSG(a != NULL, mx_last_error());
    double scale = 0, err = 0;
    for (int64_t i = 0; a && i < (P + N) * V; i++) {
      scale = fmax(scale, fabs(b[i]));
      err = fmax(err, fabs((double)a[i] - b[i]));
    }
    printf("   logits max |diff| %.3g (scale %.3g)\n", err, scale);
    CHECK_MSG(a && err <= 1e-4 * scale, what);
    mx_array t[4] = {seq, ids, lg, l32};
    for (int i = 0; i < 4; i++) mx_array_free(t[i]);
  }
  mx_array_free(prompt);
  mx_array_free(greedy);
  mx_array_free(ref);
  mx_lm_free(m);
}

/* Loading tmpdir must fail with `code` and a message containing `substr`. */
static void check_load_fails(mx_status code, const char *substr) {
  mx_clear_error();
  mx_lm_model *m = mx_lm_load(tmpdir);
  int ok = m == NULL && mx_last_error_code() == code && strstr(mx_last_error(), substr);
  check_report(ok, __FILE__, __LINE__, substr, mx_last_error());
  mx_lm_free(m);
  mx_clear_error();
}

static void set_num(cJSON *c, const char *key, double v) {
  cJSON_DeleteItemFromObjectCaseSensitive(c, key);
  cJSON_AddNumberToObject(c, key, v);
}

static void set_raw(cJSON *c, const char *key, const char *json) {
  cJSON_DeleteItemFromObjectCaseSensitive(c, key);
  cJSON_AddItemToObject(c, key, cJSON_Parse(json));
}

/* ------------------------------------------------------------ gemma3 */

/* model.X -> language_model.model.X (original multimodal checkpoints). */
static mx_array old_mm_name(const char *name, mx_array a, char *out, size_t cap) {
  snprintf(out, cap, "language_model.%s", name);
  return mx_array_retain(a);
}

/* model.X -> model.language_model.X (transformers 5 multimodal layout). */
static mx_array new_mm_name(const char *name, mx_array a, char *out, size_t cap) {
  snprintf(out, cap, "model.language_model.%s", name + strlen("model."));
  return mx_array_retain(a);
}

static void gemma3_v4_keys(void) {
  /* Original-checkpoint keys: rope_theta + rope_scaling for global layers,
   * rope_local_base_freq for sliding ones, the layer pattern as every Nth
   * layer global (both fixtures alternate: N = 2). */
  cJSON *c = fixture_config("gemma3_softcap");
  CHECK(c != NULL);
  if (!c) return;
  cJSON_DeleteItemFromObjectCaseSensitive(c, "rope_parameters");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "layer_types");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "_sliding_window_pattern");
  set_num(c, "sliding_window_pattern", 2);
  set_num(c, "rope_local_base_freq", 10000);
  set_raw(c, "rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 8.0}");
  /* rope_theta absent: Gemma's default is 1e6. */
  write_config(c);
  link_weights("gemma3_softcap");
  check_logits("gemma3_softcap", "v4 keys, sliding_window_pattern, default rope_theta");
  cJSON_Delete(c);

  c = fixture_config("gemma3_text");
  CHECK(c != NULL);
  if (!c) return;
  cJSON_DeleteItemFromObjectCaseSensitive(c, "rope_parameters");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "layer_types");
  set_num(c, "_sliding_window_pattern", 2);
  set_num(c, "rope_theta", 1e6);
  set_raw(c, "rope_scaling", "null");
  write_config(c);
  link_weights("gemma3_text");
  check_logits("gemma3_text", "v4 keys, _sliding_window_pattern");
  cJSON_Delete(c);
}

static void gemma3_multimodal(void) {
  cJSON *tc = fixture_config("gemma3_text");
  CHECK(tc != NULL);
  if (!tc) return;
  /* mlx-lm's gemma3.py takes vocab_size from the outer config. */
  cJSON_DeleteItemFromObjectCaseSensitive(tc, "vocab_size");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "model_type", "gemma3");
  cJSON_AddNumberToObject(c, "vocab_size", 320);
  cJSON_AddNumberToObject(c, "eos_token_id", 2);
  cJSON_AddItemToObject(c, "text_config", tc);
  cJSON_AddItemToObject(c, "vision_config", cJSON_CreateObject());
  write_config(c);
  const char *extra_old[] = {"vision_tower.vision_model.embeddings.patch_embedding.weight",
                             "multi_modal_projector.mm_input_projection_weight"};
  save_weights("gemma3_text", old_mm_name, extra_old, 2);
  check_logits("gemma3_text", "multimodal gemma3, language_model.model.* weights");
  mx_lm_model *m = mx_lm_load(tmpdir);
  CHECK(m && strcmp(mx_lm_model_type(m), "gemma3_text") == 0 && mx_lm_vocab_size(m) == 320);
  mx_lm_free(m);

  const char *extra_new[] = {"model.vision_tower.vision_model.post_layernorm.weight",
                             "model.multi_modal_projector.mm_soft_emb_norm.weight"};
  save_weights("gemma3_text", new_mm_name, extra_new, 2);
  check_logits("gemma3_text", "multimodal gemma3, model.language_model.* weights");

  /* A weight nobody takes is still reported. */
  const char *stray[] = {"language_model.model.unknown.weight"};
  save_weights("gemma3_text", old_mm_name, stray, 1);
  check_load_fails(MX_ERR_FORMAT, "language_model.model.unknown.weight");

  cJSON_DeleteItemFromObjectCaseSensitive(c, "text_config");
  write_config(c);
  check_load_fails(MX_ERR_FORMAT, "needs its text_config");
  cJSON_Delete(c);
}

static void gemma3_specs(void) {
  cJSON *c = fixture_config("gemma3_text");
  CHECK(c != NULL);
  if (!c) return;
  write_config(c);
  link_weights("gemma3_text");
  mx_lm_model *m = mx_lm_load(tmpdir);
  CHECK_MSG(m != NULL, mx_last_error());
  if (m) {
    CHECK(m->arch->layer_spec != NULL);
    int64_t want[4] = {8, 0, 8, 0};
    for (int64_t i = 0; i < 4 && m->arch->layer_spec; i++) {
      lm_layer_spec s = {.kind = LM_LAYER_CONV, .window = -1};
      m->arch->layer_spec(m->impl, i, &s);
      CHECK(s.kind == LM_LAYER_ATTENTION && s.window == want[i]);
    }
    CHECK(mx_lm_weight_bytes(m) > 0);
  }
  mx_lm_free(m);
  cJSON_Delete(c);
}

/* An error inside a layer (here: a quantized KV cache whose group size
 * does not divide the fixture's head dimension 16) reaches the caller as
 * itself: later steps of the forward (gelu, softcap) must not replace it
 * with one about the NULL they were handed. */
static void gemma3_first_error_kept(void) {
  char p[1200];
  snprintf(p, sizeof p, "%s/gemma3_text", root);
  mx_lm_model *m = mx_lm_load(p);
  CHECK_MSG(m != NULL, mx_last_error());
  if (!m) return;
  mx_lm_cache_params cp = mx_lm_cache_default_params();
  cp.kv_bits = 8;
  cp.kv_group_size = 32;
  mx_lm_cache *c = mx_lm_cache_new_ex(m, &cp);
  CHECK_MSG(c != NULL, mx_last_error());
  int32_t ids[3] = {1, 2, 3};
  int64_t s[2] = {1, 3};
  mx_array t = mx_array_from_data(ids, s, 2, MX_INT32);
  mx_array l = c ? mx_lm_forward(m, t, c) : NULL;
  if (l) {
    CHECK(mx_eval1(l) == MX_OK); /* the prompt fills the cache unquantized */
    mx_array_free(l);
    s[1] = 1;
    mx_array t1 = mx_array_from_data(ids, s, 2, MX_INT32);
    CHECK_ERR(mx_lm_forward(m, t1, c), MX_ERR_INVALID_ARG,
              "kv_group_size 32 does not divide the head dimension 16");
    mx_array_free(t1);
  }
  mx_array_free(t);
  mx_lm_cache_free(c);
  mx_lm_free(m);
}

static void gemma3_bad(void) {
  struct {
    const char *key, *json;
    mx_status code;
    const char *msg;
  } cases[] = {
      {"layer_types", "[\"sliding_attention\", \"chunked_attention\", \"full_attention\", "
                      "\"full_attention\"]",
       MX_ERR_UNSUPPORTED, "layer type \"chunked_attention\" (layer 1)"},
      {"layer_types", "[\"sliding_attention\"]", MX_ERR_FORMAT,
       "layer_types must be a list of 4"},
      {"attn_logit_softcapping", "50.0", MX_ERR_UNSUPPORTED, "attn_logit_softcapping"},
      {"hidden_activation", "\"relu\"", MX_ERR_UNSUPPORTED, "hidden_activation \"relu\""},
      {"sliding_window", "0", MX_ERR_FORMAT, "sliding_window 0 must be positive"},
      {"query_pre_attn_scalar", "-1", MX_ERR_FORMAT, "query_pre_attn_scalar"},
      {"num_key_value_heads", "3", MX_ERR_FORMAT, "not a multiple of num_key_value_heads 3"},
      {"final_logit_softcapping", "\"big\"", MX_ERR_FORMAT, "final_logit_softcapping"},
      {"use_bidirectional_attention", "true", MX_ERR_UNSUPPORTED, "bidirectional"},
      {"rope_parameters", "{\"full_attention\": {\"rope_type\": \"su2\", \"rope_theta\": 1e6}}",
       MX_ERR_UNSUPPORTED, "rope type \"su2\""},
      {"head_dim", "8", MX_ERR_FORMAT, "q_proj"},
  };
  link_weights("gemma3_text");
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cJSON *c = fixture_config("gemma3_text");
    set_raw(c, cases[i].key, cases[i].json);
    write_config(c);
    check_load_fails(cases[i].code, cases[i].msg);
    cJSON_Delete(c);
  }
  /* v4 pattern key of 0 layers per period. */
  cJSON *c = fixture_config("gemma3_text");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "layer_types");
  set_num(c, "sliding_window_pattern", 0);
  write_config(c);
  check_load_fails(MX_ERR_FORMAT, "sliding_window_pattern 0 must be >= 1");
  cJSON_Delete(c);
}

/* ------------------------------------------------------------ lfm2 */

/* Conv kernels (D, 1, K) -> (D, K, 1), the layout mlx-lm's sanitize saves. */
static mx_array mlx_conv_layout(const char *name, mx_array a, char *out, size_t cap) {
  snprintf(out, cap, "%s", name);
  if (!strstr(name, "conv.conv.weight")) return mx_array_retain(a);
  int perm[3] = {0, 2, 1};
  return mx_transpose(a, perm, 3);
}

static void lfm2_v4_keys(void) {
  /* The original LiquidAI config keys: full_attn_idxs, block_ff_dim,
   * rope_theta; and the MLX conv layout. */
  cJSON *c = fixture_config("lfm2");
  CHECK(c != NULL);
  if (!c) return;
  cJSON_DeleteItemFromObjectCaseSensitive(c, "layer_types");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "rope_parameters");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "intermediate_size");
  set_raw(c, "full_attn_idxs", "[1, 3]");
  set_num(c, "block_ff_dim", 128);
  /* An absent multiplier is 1.0 (the size still rounds to block_multiple_of). */
  cJSON_DeleteItemFromObjectCaseSensitive(c, "block_ffn_dim_multiplier");
  write_config(c);
  link_weights("lfm2");
  check_logits("lfm2", "full_attn_idxs, block_ff_dim, default rope_theta and multiplier");
  save_weights("lfm2", mlx_conv_layout, NULL, 0);
  check_logits("lfm2", "conv weights in MLX layout (D, K, 1)");
  cJSON_Delete(c);
}

/* Token-by-token decoding through the cache reproduces the teacher-forced
 * logits at every position (the conv state carries the last K-1 inputs),
 * and a batch of two identical rows gives the same logits twice. */
static void lfm2_decode(void) {
  printf("-- lfm2: token-by-token decode\n");
  cJSON *c = fixture_config("lfm2");
  write_config(c);
  cJSON_Delete(c);
  link_weights("lfm2");
  mx_lm_model *m = mx_lm_load(tmpdir);
  CHECK_MSG(m != NULL, mx_last_error());
  mx_array prompt = load_npy("lfm2", "prompt.npy"), greedy = load_npy("lfm2", "greedy.npy"),
           ref = load_npy("lfm2", "logits.npy");
  if (!m || !prompt || !greedy || !ref) goto out;
  int64_t P = mx_array_dim(prompt, 0), N = mx_array_dim(greedy, 0), V = mx_array_dim(ref, 1);
  int64_t T = P + N;
  int32_t *seq = malloc((size_t)T * sizeof *seq);
  memcpy(seq, mx_array_data(prompt), (size_t)P * sizeof *seq);
  memcpy(seq + P, mx_array_data(greedy), (size_t)N * sizeof *seq);
  const float *rb = mx_array_data(ref);
  double scale = 0;
  for (int64_t i = 0; i < T * V; i++) scale = fmax(scale, fabs(rb[i]));

  for (int64_t i = 0; m->arch->layer_spec && i < 4; i++) {
    lm_layer_spec s = {.kind = LM_LAYER_ATTENTION, .window = -1};
    m->arch->layer_spec(m->impl, i, &s);
    CHECK(s.kind == (i % 2 ? LM_LAYER_ATTENTION : LM_LAYER_CONV) && s.window == 0);
  }

  /* Batch of 2: prefill of 5 tokens, then one at a time. */
  mx_lm_cache *cache = mx_lm_cache_new(m);
  CHECK_MSG(cache != NULL, mx_last_error());
  double err = 0;
  int64_t pos = 0;
  while (cache && pos < T) {
    int64_t n = pos == 0 ? 5 : 1;
    int32_t buf[16];
    for (int b = 0; b < 2; b++) memcpy(buf + b * n, seq + pos, (size_t)n * sizeof *buf);
    int64_t s[2] = {2, n};
    mx_array ids = mx_array_from_data(buf, s, 2, MX_INT32);
    mx_array lg = mx_lm_forward(m, ids, cache);
    mx_array l32 = mx_astype(lg, MX_FLOAT32);
    const float *a = mx_array_data(l32);
    CHECK_MSG(a != NULL, mx_last_error());
    for (int64_t b = 0; a && b < 2; b++)
      for (int64_t i = 0; i < n * V; i++)
        err = fmax(err, fabs((double)a[b * n * V + i] - rb[pos * V + i]));
    mx_array_free(ids);
    mx_array_free(lg);
    mx_array_free(l32);
    if (!a) break;
    pos += n;
  }
  printf("   decode logits max |diff| %.3g (scale %.3g)\n", err, scale);
  CHECK(pos == T && err <= 1e-4 * scale);
  if (cache) {
    CHECK(mx_lm_cache_offset(cache) == T);
    const lm_kv_cache *l0 = &cache->layers[0];
    CHECK(l0->offset == T && l0->conv && mx_array_ndim(l0->conv) == 3 &&
          mx_array_dim(l0->conv, 0) == 2 && mx_array_dim(l0->conv, 1) == 2 &&
          mx_array_dim(l0->conv, 2) == 64);
    CHECK(cache->layers[1].conv == NULL && cache->layers[1].offset == T);
  }
  if (cache) {
    /* The state holds two rows: a one-row step is refused. */
    int64_t s1[2] = {1, 1};
    mx_array one = mx_array_from_data(seq, s1, 2, MX_INT32);
    CHECK_ERR(mx_lm_forward(m, one, cache), MX_ERR_SHAPE,
              "convolution state has batch 2, the input 1");
    mx_array_free(one);
  }
  mx_lm_cache_free(cache);
  /* A convolution layer cannot use a KV cache of another kind. */
  cache = mx_lm_cache_new(m);
  if (cache) {
    lm_cache_kind k0 = cache->layers[0].kind;
    cache->layers[0].kind = LM_CACHE_QUANTIZED;
    int64_t s1[2] = {1, 1};
    mx_array one = mx_array_from_data(seq, s1, 2, MX_INT32);
    CHECK_ERR(mx_lm_forward(m, one, cache), MX_ERR_INVALID_ARG,
              "convolution layer got a cache of kind");
    mx_array_free(one);
    cache->layers[0].kind = k0;
  }
  mx_lm_cache_free(cache);
  free(seq);
out:
  mx_array_free(prompt);
  mx_array_free(greedy);
  mx_array_free(ref);
  mx_lm_free(m);
}

static void lfm2_bad(void) {
  struct {
    const char *key, *json;
    mx_status code;
    const char *msg;
  } cases[] = {
      {"conv_L_cache", "4", MX_ERR_FORMAT, "must have shape (64, 1, 4) or (64, 4, 1)"},
      {"conv_L_cache", "0", MX_ERR_FORMAT, "conv_L_cache 0 must be in [1, 64]"},
      {"layer_types", "[\"conv\", \"mamba\", \"conv\", \"full_attention\"]", MX_ERR_UNSUPPORTED,
       "layer type \"mamba\" (layer 1)"},
      {"layer_types", "[\"conv\"]", MX_ERR_FORMAT, "layer_types must be a list of 4"},
      {"block_multiple_of", "0", MX_ERR_FORMAT, "block_multiple_of 0"},
      {"intermediate_size", "256", MX_ERR_FORMAT, "feed_forward.w1"},
      /* null multiplier: no rounding, 2/3 of 128 = 85 rows */
      {"block_ffn_dim_multiplier", "null", MX_ERR_FORMAT, "feed_forward.w1"},
      {"conv_bias", "true", MX_ERR_FORMAT, "conv.in_proj.bias"},
      {"num_attention_heads", "5", MX_ERR_FORMAT, "not a multiple of num_attention_heads 5"},
      {"hidden_size", "\"64\"", MX_ERR_FORMAT, "hidden_size"},
  };
  link_weights("lfm2");
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cJSON *c = fixture_config("lfm2");
    set_raw(c, cases[i].key, cases[i].json);
    write_config(c);
    check_load_fails(cases[i].code, cases[i].msg);
    cJSON_Delete(c);
  }
  cJSON *c = fixture_config("lfm2");
  cJSON_DeleteItemFromObjectCaseSensitive(c, "layer_types");
  set_raw(c, "full_attn_idxs", "[1, 7]");
  write_config(c);
  check_load_fails(MX_ERR_FORMAT, "full_attn_idxs entries must be layer indices in [0, 4)");
  /* No layer kinds at all: every layer is attention (transformers), so the
   * conv weights are left over. */
  set_raw(c, "full_attn_idxs", "null");
  write_config(c);
  check_load_fails(MX_ERR_FORMAT, "self_attn.q_proj");
  cJSON_Delete(c);
}

int main(void) {
  const char *src = getenv("MLXC_SOURCE_DIR");
  snprintf(root, sizeof root, "%s/tests/data/lm_arch", src ? src : ".");
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/mlxc_gemma_lfm2_XXXXXX", t ? t : "/tmp");
  if (!mkdtemp(tmpdir)) {
    CHECK_MSG(0, "mkdtemp");
    return check_summary();
  }
  gemma3_v4_keys();
  gemma3_multimodal();
  gemma3_specs();
  gemma3_bad();
  gemma3_first_error_kept();
  lfm2_v4_keys();
  lfm2_decode();
  lfm2_bad();
  char p[1200];
  snprintf(p, sizeof p, "%s/config.json", tmpdir);
  unlink(p);
  snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
  unlink(p);
  rmdir(tmpdir);
  return check_summary();
}
