/* test_lm_cache.c — KV cache kinds, quantized and batched attention, prompt
 * caches.
 *
 * Models: the default model (models/kjv-small: a trained bf16 Llama, head
 * dim 32, 8 query / 4 kv heads) and the float32 tiny Llama fixture
 * (tests/data/lm_arch/llama), whose rotating-cache reference logits come
 * from tests/ref/gen_lm_cache.py (argv[1]). Greedy loops here call
 * mx_lm_forward directly, so they depend on the cache alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lm/lm_internal.h"
#include "mlxc/fast.h"
#include "mlxc/random.h"

static char kjv_path[1024], fx_path[1024], fxdir[1024], tmpdir[1024];

/* logits (B, L, V) as float32 host copy (malloc'd), or NULL. */
static float *run(const mx_lm_model *m, const int32_t *toks, int64_t B, int64_t L,
                  mx_lm_cache *c) {
  int64_t shape[2] = {B, L};
  mx_array t = mx_array_from_data(toks, shape, 2, MX_INT32);
  mx_array lg = mx_lm_forward(m, t, c);
  mx_array f = lg ? mx_astype(lg, MX_FLOAT32) : NULL;
  float *out = NULL;
  if (f && mx_eval1(f) == MX_OK) {
    size_t n = (size_t)mx_array_size(f);
    out = malloc(n * sizeof *out);
    if (out) memcpy(out, mx_array_data(f), n * sizeof *out);
  }
  if (!out) fprintf(stderr, "forward failed: %s\n", mx_last_error());
  mx_array_free(t);
  mx_array_free(lg);
  mx_array_free(f);
  return out;
}

static int32_t argmax(const float *x, int64_t n) {
  int64_t b = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[b]) b = i;
  return (int32_t)b;
}

static double max_abs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

static double max_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* Prefill `prompt` (in chunks of `chunk`, 0 = one call), then `steps`
 * greedy tokens into out. first: if non-NULL, gets the logits (V) of the
 * first decode step (the first call after the prefill). Returns 0 on
 * success. */
static int greedy(const mx_lm_model *m, mx_lm_cache *c, const int32_t *prompt, int64_t n,
                  int64_t chunk, int64_t steps, int32_t *out, float *first) {
  int64_t V = mx_lm_vocab_size(m), done = 0;
  float *lg = NULL;
  if (chunk <= 0) chunk = n;
  while (done < n) {
    int64_t L = n - done < chunk ? n - done : chunk;
    free(lg);
    if (!(lg = run(m, prompt + done, 1, L, c))) return -1;
    done += L;
    if (done == n) out[0] = argmax(lg + (L - 1) * V, V);
  }
  for (int64_t s = 1; s < steps; s++) {
    free(lg);
    if (!(lg = run(m, &out[s - 1], 1, 1, c))) return -1;
    if (s == 1 && first) memcpy(first, lg, (size_t)V * sizeof *lg);
    out[s] = argmax(lg, V);
  }
  free(lg);
  return 0;
}

static mx_lm_cache *cache_with(const mx_lm_model *m, int64_t max_kv, int64_t keep, int bits,
                               int group, int64_t qstart) {
  mx_lm_cache_params p = mx_lm_cache_default_params();
  p.max_kv_size = max_kv;
  p.keep = keep;
  p.kv_bits = bits;
  p.kv_group_size = group;
  p.quantized_kv_start = qstart;
  mx_lm_cache *c = mx_lm_cache_new_ex(m, &p);
  CHECK_MSG(c != NULL, mx_last_error());
  return c;
}

static const int32_t PROMPT[] = {0,   112, 87,  1405, 9,  240, 33, 2071, 15, 61,
                                 388, 19,  790, 5,    42, 600, 77, 1201, 8};
#define NPROMPT ((int64_t)(sizeof PROMPT / sizeof PROMPT[0]))
/* models/kjv-small/reference.json's prompt, "And it came to pass, when". */
static const int32_t REF_PROMPT[] = {0, 297, 355, 473, 290, 618, 13, 438};
#define NREF ((int64_t)(sizeof REF_PROMPT / sizeof REF_PROMPT[0]))

/* ------------------------------------------------------------ params */

static void test_params(const mx_lm_model *m) {
  mx_lm_cache_params d = mx_lm_cache_default_params();
  CHECK(d.size == sizeof d && d.keep == 4 && d.kv_group_size == 64 && d.kv_bits == 0 &&
        d.max_kv_size == 0 && d.quantized_kv_start == 0);
  struct {
    int64_t max_kv, keep;
    int bits, group;
    int64_t start;
    const char *msg;
  } bad[] = {{0, 4, 7, 64, 0, "kv_bits 7"},        {0, 4, 9, 64, 0, "kv_bits 9"},
             {0, 4, 1, 64, 0, "kv_bits 1"},        {0, 4, 8, 48, 0, "kv_group_size 48"},
             {4, 4, 0, 64, 0, "max_kv_size 4"},    {-1, 4, 0, 64, 0, "max_kv_size -1"},
             {0, -1, 0, 64, 0, "keep -1"},         {0, 4, 4, 64, -2, "quantized_kv_start -2"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    mx_lm_cache_params p = d;
    p.max_kv_size = bad[i].max_kv;
    p.keep = bad[i].keep;
    p.kv_bits = bad[i].bits;
    p.kv_group_size = bad[i].group;
    p.quantized_kv_start = bad[i].start;
    mx_clear_error();
    mx_lm_cache *c = mx_lm_cache_new_ex(m, &p);
    CHECK_MSG(!c && mx_last_error_code() == MX_ERR_INVALID_ARG &&
                  strstr(mx_last_error(), bad[i].msg),
              mx_last_error());
    mx_lm_cache_free(c);
  }
  mx_lm_cache_params p = d;
  p.size = 8;
  mx_clear_error();
  CHECK(!mx_lm_cache_new_ex(m, &p) && strstr(mx_last_error(), "params.size"));
  CHECK(!mx_lm_cache_new_ex(NULL, NULL) && mx_last_error_code() == MX_ERR_INVALID_ARG);
  mx_clear_error();

  /* Kinds: rotating for full attention with max_kv_size, keep as given. */
  mx_lm_cache *c = cache_with(m, 40, 2, 0, 64, 0);
  if (c) {
    CHECK(c->nlayers == mx_lm_num_layers(m));
    bool ok = true;
    for (int64_t i = 0; i < c->nlayers; i++)
      ok &= c->layers[i].kind == LM_CACHE_ROTATING && c->layers[i].max_size == 40 &&
            c->layers[i].keep == 2 && c->layers[i].owner == c;
    CHECK(ok);
    CHECK(mx_lm_cache_can_trim(c) && mx_lm_cache_offset(c) == 0 && mx_lm_cache_nbytes(c) == 0);
  }
  mx_lm_cache_free(c);
  c = mx_lm_cache_new(m);
  CHECK(c && c->layers[0].kind == LM_CACHE_STANDARD && c->params.keep == 4);
  mx_lm_cache_free(c);
}

/* ------------------------------------------------------------ (a) */

static void test_rotating_large(const mx_lm_model *m) {
  enum { N = 24 };
  int32_t a[N], b[N], a2[N], c2[N];
  mx_lm_cache *std = mx_lm_cache_new(m), *std2 = mx_lm_cache_new(m);
  mx_lm_cache *rot = cache_with(m, NPROMPT + N, 4, 0, 64, 0);
  mx_lm_cache *rot2 = cache_with(m, NPROMPT + N, 4, 0, 64, 0);
  if (!std || !std2 || !rot || !rot2) goto out;
  CHECK(greedy(m, std, PROMPT, NPROMPT, 0, N, a, NULL) == 0);
  CHECK(greedy(m, rot, PROMPT, NPROMPT, 0, N, b, NULL) == 0);
  CHECK(memcmp(a, b, sizeof a) == 0);
  /* Chunked prefill: multi-token calls on a non-empty rotating cache,
   * against a standard cache fed the same chunks (other chunk shapes round
   * differently in bf16 and may flip a near-tie). */
  CHECK(greedy(m, std2, PROMPT, NPROMPT, 5, N, a2, NULL) == 0);
  CHECK(greedy(m, rot2, PROMPT, NPROMPT, 5, N, c2, NULL) == 0);
  CHECK(memcmp(a2, c2, sizeof a2) == 0);
  CHECK(mx_lm_cache_offset(rot) == NPROMPT + N - 1);
  /* Buffers never exceed max_size positions. */
  CHECK(mx_array_dim(rot->layers[0].keys, 2) <= NPROMPT + N);
out:
  mx_lm_cache_free(std);
  mx_lm_cache_free(std2);
  mx_lm_cache_free(rot);
  mx_lm_cache_free(rot2);
}

/* ------------------------------------------------------------ (b) */

static void test_rotating_reference(const mx_lm_model *m) {
  char p[1400];
  snprintf(p, sizeof p, "%s/rotating.json", fxdir);
  cJSON *j = lm_json_load_file(p);
  CHECK_MSG(j != NULL, mx_last_error());
  if (!j) return;
  int64_t V = mx_lm_vocab_size(m);
  int sc = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "scenarios")) {
    int64_t S = (int64_t)cJSON_GetObjectItem(e, "max_size")->valuedouble;
    int64_t keep = (int64_t)cJSON_GetObjectItem(e, "keep")->valuedouble;
    const cJSON *calls = cJSON_GetObjectItem(e, "calls");
    snprintf(p, sizeof p, "%s/rot%d_tokens.npy", fxdir, sc);
    mx_array tk = mx_load_npy(p);
    snprintf(p, sizeof p, "%s/rot%d_logits.npy", fxdir, sc);
    mx_array ref = mx_load_npy(p);
    CHECK_MSG(tk && ref, mx_last_error());
    mx_lm_cache *c = cache_with(m, S, keep, 0, 64, 0);
    if (tk && ref && c) {
      const int32_t *t = mx_array_data(tk);
      const float *r = mx_array_data(ref);
      int64_t pos = 0;
      double worst = 0;
      bool ok = true;
      const cJSON *n;
      cJSON_ArrayForEach(n, calls) {
        int64_t L = (int64_t)n->valuedouble;
        float *lg = run(m, t + pos, 1, L, c);
        if (!lg) {
          ok = false;
          break;
        }
        for (int64_t i = 0; i < L; i++) {
          const float *rr = r + (pos + i) * V;
          double d = max_diff(lg + i * V, rr, V) / fmax(max_abs(rr, V), 1e-3);
          worst = fmax(worst, d);
        }
        free(lg);
        pos += L;
      }
      char msg[200];
      snprintf(msg, sizeof msg, "scenario %d (S %lld, keep %lld): worst relative %.3g", sc,
               (long long)S, (long long)keep, worst);
      printf("   %s\n", msg);
      CHECK_MSG(ok && worst <= 1e-5, msg);
      CHECK(mx_lm_cache_offset(c) == pos);
      CHECK(mx_array_dim(c->layers[0].keys, 2) <= S + 8);
      /* Wrapped past max_size: not trimmable (as mlx-lm). */
      CHECK(!mx_lm_cache_can_trim(c) && mx_lm_cache_trim(c, 3) == 0);
    }
    mx_lm_cache_free(c);
    mx_array_free(tk);
    mx_array_free(ref);
    sc++;
  }
  CHECK(sc == 4);
  cJSON_Delete(j);
}

/* ------------------------------------------------------------ (c) */

/* Quantized attention alone, float32: lm_attend through a quantized layer
 * equals sdpa over the dequantized keys/values (the same numbers), for a
 * causal prefill, decode steps and GQA (4 query heads over 2 kv heads).
 * Only summation order differs: 1e-5 of the output scale. */
static void test_quantized_attend(void) {
  int64_t qs[4] = {1, 4, 5, 64}, ks[4] = {1, 2, 5, 64}, q1[4] = {1, 4, 1, 64},
          k1[4] = {1, 2, 1, 64};
  mx_array key = mx_random_key(7);
  mx_array q = mx_random_normal(qs, 4, MX_FLOAT32, 0, 1, key);
  mx_array_free(key);
  key = mx_random_key(8);
  mx_array k = mx_random_normal(ks, 4, MX_FLOAT32, 0, 1, key);
  mx_array_free(key);
  key = mx_random_key(9);
  mx_array v = mx_random_normal(ks, 4, MX_FLOAT32, 0, 1, key);
  mx_array_free(key);
  lm_kv_cache c;
  memset(&c, 0, sizeof c);
  c.kind = LM_CACHE_QUANTIZED;
  c.bits = 8;
  c.group_size = 64;
  double worst = 0;
  mx_array kall = mx_array_retain(k), vall = mx_array_retain(v);
  for (int step = 0; step < 3; step++) {
    mx_array qq = q, kk = k, vv = v;
    if (step > 0) {
      key = mx_random_key(20 + (uint64_t)step);
      qq = mx_random_normal(q1, 4, MX_FLOAT32, 0, 1, key);
      kk = mx_random_normal(k1, 4, MX_FLOAT32, 0, 1, key);
      vv = mx_random_normal(k1, 4, MX_FLOAT32, 0.5, 1, key);
      mx_array_free(key);
      mx_array p2[2] = {kall, kk}, p3[2] = {vall, vv};
      mx_array nk = mx_concatenate(p2, 2, 2), nv = mx_concatenate(p3, 2, 2);
      mx_array_free(kall);
      mx_array_free(vall);
      kall = nk;
      vall = nv;
    }
    mx_array o = lm_attend(&c, qq, kk, vv, 0.125f, 0, NULL);
    /* Reference: dequantize(quantize(.)) then plain attention. */
    mx_array kq[3], vq[3];
    mx_quantize(kall, 64, 8, MX_QUANT_AFFINE, NULL, kq);
    mx_quantize(vall, 64, 8, MX_QUANT_AFFINE, NULL, vq);
    mx_array kd = mx_dequantize(kq[0], kq[1], kq[2], 64, 8, MX_QUANT_AFFINE, NULL, MX_FLOAT32);
    mx_array vd = mx_dequantize(vq[0], vq[1], vq[2], 64, 8, MX_QUANT_AFFINE, NULL, MX_FLOAT32);
    mx_array r = mx_fast_scaled_dot_product_attention(
        qq, kd, vd, 0.125f, step == 0 ? MX_SDPA_MASK_CAUSAL : MX_SDPA_MASK_NONE, NULL, NULL);
    CHECK_MSG(o && r, mx_last_error());
    if (o && r && mx_eval1(o) == MX_OK && mx_eval1(r) == MX_OK) {
      int64_t n = mx_array_size(r);
      CHECK(mx_array_size(o) == n);
      const float *a = mx_array_data(o), *b = mx_array_data(r);
      worst = fmax(worst, max_diff(a, b, n) / fmax(max_abs(b, n), 1e-6));
    }
    for (int i = 0; i < 3; i++) {
      mx_array_free(kq[i]);
      mx_array_free(vq[i]);
    }
    mx_array a6[5] = {o, kd, vd, r, NULL};
    for (int i = 0; i < 4; i++) mx_array_free(a6[i]);
    if (step > 0) {
      mx_array_free(qq);
      mx_array_free(kk);
      mx_array_free(vv);
    }
  }
  printf("   quantized attention vs dequantized sdpa: %.3g\n", worst);
  CHECK(worst < 1e-5);
  CHECK(c.offset == 7);
  for (int i = 0; i < 3; i++) {
    mx_array_free(c.kq[i]);
    mx_array_free(c.vq[i]);
  }
  mx_array_free(kall);
  mx_array_free(vall);
  mx_array_free(q);
  mx_array_free(k);
  mx_array_free(v);
}

static void test_quantized(const mx_lm_model *m) {
  enum { N = 32 };
  int64_t V = mx_lm_vocab_size(m);
  int32_t a[N], b[N];
  float *fa = malloc((size_t)V * sizeof *fa), *fb = malloc((size_t)V * sizeof *fb);
  mx_lm_cache *std = mx_lm_cache_new(m);
  if (!fa || !fb || !std || greedy(m, std, REF_PROMPT, NREF, 0, N, a, fa)) {
    CHECK(0);
    goto out;
  }
  double scale = max_abs(fa, V);

  /* kjv-small's head dim is 32: group 64 cannot quantize it (as mlx-lm,
   * whose quantize raises); the error names the parameter. */
  {
    mx_lm_cache *c = cache_with(m, 0, 4, 8, 64, 0);
    int32_t t[4];
    mx_clear_error();
    CHECK(c && greedy(m, c, REF_PROMPT, NREF, 0, 4, t, NULL) != 0 &&
          mx_last_error_code() == MX_ERR_INVALID_ARG && strstr(mx_last_error(), "kv_group_size 64"));
    mx_clear_error();
    mx_lm_cache_free(c);
  }

  /* 8 bits, group 32. Affine 8-bit keeps each key/value within half a step
   * (range/255/2 ~ 0.2% of its group's range) of the bf16 value: about the
   * size of bf16 rounding itself (2^-9 ~ 0.2%). The logits are bf16: at
   * this model's scale (|logit| ~ 8..16) one bf16 step is 1/16, 0.7% of the
   * scale, and 8-bit keys/values move them by 1-3 such steps (measured over
   * 32 teacher-forced steps: <= 0.19). Bound: 3% of the logit scale; a
   * wrong slot, scale or mask moves logits by tens of percent.
   * Greedy equality: on this prompt (the model's reference prompt) the
   * full-precision top-2 margins stay >= one bf16 step and the 8-bit run
   * picks the same token at all 32 steps; on a prompt with an exact bf16
   * near-tie (margin 1/16) any perturbation may flip a token, as in
   * mlx-lm. */
  mx_lm_cache *q8 = cache_with(m, 0, 4, 8, 32, 0);
  if (q8 && greedy(m, q8, REF_PROMPT, NREF, 0, N, b, fb) == 0) {
    double d = max_diff(fa, fb, V) / scale;
    printf("   kv_bits 8: first-step logit difference %.4g of scale %.3g\n", d, scale);
    CHECK(d < 0.03);
    CHECK(memcmp(a, b, sizeof a) == 0);
    bool kinds = true;
    for (int64_t i = 0; i < q8->nlayers; i++)
      kinds &= q8->layers[i].kind == LM_CACHE_QUANTIZED && q8->layers[i].bits == 8 &&
               !q8->layers[i].keys;
    CHECK(kinds);
    CHECK(mx_lm_cache_state(q8, NULL, 0) == (size_t)(6 * q8->nlayers));
    CHECK(mx_lm_cache_can_trim(q8));
  } else {
    CHECK_MSG(0, mx_last_error());
  }
  mx_lm_cache_free(q8);

  /* 4 bits: a step is range/15, 17x the 8-bit one (~3% of the range per
   * element, half-step rounding): logits move by up to ~17x the 8-bit
   * difference; bound 25% of scale (greedy may diverge, so only logits). */
  mx_lm_cache *q4 = cache_with(m, 0, 4, 4, 32, 0);
  if (q4 && greedy(m, q4, REF_PROMPT, NREF, 0, 2, b, fb) == 0) {
    double d = max_diff(fa, fb, V) / scale;
    printf("   kv_bits 4: first-step logit difference %.4g of scale\n", d);
    CHECK(d < 0.25);
    CHECK(d > 0);
  } else {
    CHECK_MSG(0, mx_last_error());
  }
  mx_lm_cache_free(q4);

  /* quantized_kv_start past the end: never converted, exactly standard. */
  mx_lm_cache *late = cache_with(m, 0, 4, 8, 32, 1000);
  if (late && greedy(m, late, REF_PROMPT, NREF, 0, 8, b, fb) == 0) {
    CHECK(memcmp(a, b, 8 * sizeof *a) == 0 && max_diff(fa, fb, V) == 0);
    CHECK(late->layers[0].kind == LM_CACHE_STANDARD);
  }
  mx_lm_cache_free(late);

  /* Start 12: standard through the prompt (8) and the first steps, then
   * quantized once 12 positions are held. */
  mx_lm_cache *mid = cache_with(m, 0, 4, 8, 32, 12);
  if (mid && greedy(m, mid, REF_PROMPT, NREF, 0, 16, b, NULL) == 0) {
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0);
    CHECK(mid->layers[0].kind == LM_CACHE_QUANTIZED && mid->layers[0].offset == NREF + 15);
  }
  mx_lm_cache_free(mid);
out:
  free(fa);
  free(fb);
  mx_lm_cache_free(std);
}

/* ------------------------------------------------------------ (d) */

static void roundtrip(const mx_lm_model *m, mx_lm_cache *orig, const char *name) {
  enum { N = 8 };
  int64_t V = mx_lm_vocab_size(m);
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.safetensors", tmpdir, name);
  const char *keys[2] = {"model", "tokens"}, *vals[2] = {"kjv-small", "0 112 87 1405"};
  /* Prefill, then save. */
  float *lg = run(m, PROMPT, 1, NPROMPT, orig);
  CHECK(lg != NULL);
  if (!lg) return;
  int32_t first = argmax(lg + (NPROMPT - 1) * V, V);
  free(lg);
  mx_status st = mx_lm_cache_save(orig, path, keys, vals, 2);
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK(mx_lm_cache_metadata(orig, "model") && !strcmp(mx_lm_cache_metadata(orig, "model"),
                                                        "kjv-small"));
  mx_lm_cache *ld = mx_lm_cache_load(path);
  CHECK_MSG(ld != NULL, mx_last_error());
  if (!ld) return;
  CHECK(ld->nlayers == orig->nlayers && mx_lm_cache_offset(ld) == mx_lm_cache_offset(orig));
  CHECK(ld->layers[0].kind == orig->layers[0].kind);
  CHECK(ld->params.kv_bits == orig->params.kv_bits &&
        ld->params.max_kv_size == orig->params.max_kv_size);
  CHECK(mx_lm_cache_metadata(ld, "tokens") &&
        !strcmp(mx_lm_cache_metadata(ld, "tokens"), "0 112 87 1405"));
  CHECK(!mx_lm_cache_metadata(ld, "mlxc_cache") && !mx_lm_cache_metadata(ld, "absent"));
  /* Continue both. */
  int32_t a[N], b[N];
  a[0] = b[0] = first;
  bool ok = true;
  for (int s = 1; s < N && ok; s++) {
    float *la = run(m, &a[s - 1], 1, 1, orig), *lb = run(m, &b[s - 1], 1, 1, ld);
    ok = la && lb;
    if (ok) {
      a[s] = argmax(la, V);
      b[s] = argmax(lb, V);
      ok = max_diff(la, lb, V) == 0;
    }
    free(la);
    free(lb);
  }
  char msg[200];
  snprintf(msg, sizeof msg, "%s: the loaded cache continues identically", name);
  CHECK_MSG(ok && memcmp(a, b, sizeof a) == 0, msg);
  mx_lm_cache_free(ld);
  unlink(path);
}

static void write_bytes(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(d, 1, n, f);
    fclose(f);
  }
}

static void expect_bad(const char *path, const char *substr) {
  mx_clear_error();
  mx_lm_cache *c = mx_lm_cache_load(path);
  char msg[600];
  snprintf(msg, sizeof msg, "expected FORMAT with \"%s\": %s", substr, mx_last_error());
  CHECK_MSG(!c && mx_last_error_code() == MX_ERR_FORMAT && strstr(mx_last_error(), substr), msg);
  mx_lm_cache_free(c);
  mx_clear_error();
}

/* Hand-made files: each inconsistency is named. */
static void bad_file(const char *path, const char *const *names, const mx_array *arrays, size_t n,
                     const char *const *mk, const char *const *mv, size_t nm,
                     const char *substr) {
  CHECK_MSG(mx_save_safetensors(path, names, arrays, n, mk, mv, nm) == MX_OK, mx_last_error());
  expect_bad(path, substr);
}

static void test_prompt_cache(const mx_lm_model *kjv, const mx_lm_model *fx) {
  mx_lm_cache *c = mx_lm_cache_new(kjv);
  if (c) roundtrip(kjv, c, "standard");
  mx_lm_cache_free(c);
  c = cache_with(kjv, 0, 4, 8, 32, 0);
  if (c) {
    /* Quantized after one call: prefill once more to convert first. */
    int32_t t[2];
    CHECK(greedy(kjv, c, PROMPT, 3, 0, 2, t, NULL) == 0);
    CHECK(c->layers[0].kind == LM_CACHE_QUANTIZED);
    roundtrip(kjv, c, "quantized");
  }
  mx_lm_cache_free(c);
  /* Rotating, wrapped (19 + a 12-position window), and mid-ring. */
  c = cache_with(kjv, 12, 4, 0, 64, 0);
  if (c) roundtrip(kjv, c, "rotating");
  mx_lm_cache_free(c);
  c = cache_with(kjv, 0, 4, 4, 32, 0); /* 4-bit too */
  if (c) {
    int32_t t[2];
    CHECK(greedy(kjv, c, PROMPT, 2, 0, 2, t, NULL) == 0);
    roundtrip(kjv, c, "quantized4");
  }
  mx_lm_cache_free(c);

  /* A cache for another model fails naming the mismatch. */
  char path[1200];
  snprintf(path, sizeof path, "%s/kjv.safetensors", tmpdir);
  c = mx_lm_cache_new(kjv);
  float *lg = c ? run(kjv, PROMPT, 1, 4, c) : NULL;
  free(lg);
  CHECK(c && mx_lm_cache_save(c, path, NULL, NULL, 0) == MX_OK);
  mx_lm_cache_free(c);
  c = mx_lm_cache_load(path);
  CHECK(c && mx_lm_cache_metadata(c, "model") == NULL);
  if (c) {
    int32_t tok[1] = {3};
    int64_t sh[2] = {1, 1};
    mx_array t = mx_array_from_data(tok, sh, 2, MX_INT32);
    mx_clear_error();
    mx_array o = mx_lm_forward(fx, t, c);
    CHECK_MSG(!o && strstr(mx_last_error(), "layers"), mx_last_error());
    mx_array_free(o);
    mx_array_free(t);
    mx_clear_error();
  }
  mx_lm_cache_free(c);

  /* Truncated and corrupted files. */
  FILE *f = fopen(path, "rb");
  char *bytes = NULL;
  long size = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    bytes = malloc((size_t)size);
    if (bytes && fread(bytes, 1, (size_t)size, f) != (size_t)size) size = 0;
    fclose(f);
  }
  CHECK(bytes && size > 100);
  char bad[1200];
  snprintf(bad, sizeof bad, "%s/bad.safetensors", tmpdir);
  if (bytes && size > 100) {
    write_bytes(bad, bytes, (size_t)size / 2);
    expect_bad(bad, bad);
    write_bytes(bad, bytes, 5);
    expect_bad(bad, bad);
    memset(bytes + 8, '#', 16);
    write_bytes(bad, bytes, (size_t)size);
    expect_bad(bad, bad);
  }
  free(bytes);
  mx_clear_error();
  CHECK(!mx_lm_cache_load("/nonexistent/cache.safetensors") && mx_last_error_code() == MX_ERR_IO);
  mx_clear_error();

  /* Well-formed safetensors, inconsistent caches. */
  int64_t sh[4] = {1, 2, 5, 16}, shv[4] = {1, 2, 4, 16};
  mx_array k = mx_zeros(sh, 4, MX_FLOAT32), v = mx_zeros(sh, 4, MX_FLOAT32),
           v4 = mx_zeros(shv, 4, MX_FLOAT32);
  mx_array u = mx_zeros(sh, 4, MX_UINT32);
  const char *kv[2] = {"0.0", "0.1"};
  mx_array kvv[2] = {k, v}, kvbad[2] = {k, v4}, kvu[2] = {u, v};
  const char *mk1[2] = {"0.0", "2.0"}, *mv1[2] = {"", "KVCache"};
  const char *mvx[2] = {"", "FancyCache"};
  bad_file(bad, kv, kvv, 2, NULL, NULL, 0, "no layer classes");
  bad_file(bad, kv, kvv, 2, mk1, mvx, 2, "unknown cache class \"FancyCache\"");
  bad_file(bad, kv, kvbad, 2, mk1, mv1, 2, "keys and values differ");
  bad_file(bad, kv, kvu, 2, mk1, mv1, 2, "expected a float dtype");
  bad_file(bad, kv, kvv, 1, mk1, mv1, 2, "\"0.1\" is missing");
  const char *kv3[3] = {"0.0", "0.1", "extra"};
  mx_array kvv3[3] = {k, v, k};
  bad_file(bad, kv3, kvv3, 3, mk1, mv1, 2, "unexpected tensor \"extra\"");
  const char *mk2[2] = {"2.0", "2.2"}, *mv2[2] = {"KVCache", "KVCache"};
  bad_file(bad, kv, kvv, 2, mk2, mv2, 2, "class entry \"2.1\" is missing");
  const char *mkr[5] = {"2.0", "0.0.0", "0.0.1", "0.0.2", "0.0.3"};
  const char *mvr[5] = {"RotatingKVCache", "4", "16", "3", "3"};
  bad_file(bad, kv, kvv, 2, mkr, mvr, 5, "holds 5 positions but offset 3");
  const char *mvr2[5] = {"RotatingKVCache", "4", "x16", "5", "5"};
  bad_file(bad, kv, kvv, 2, mkr, mvr2, 5, "\"0.0.1\" = \"x16\" is not an integer");
  bad_file(bad, kv, kvv, 2, mkr, mvr, 4, "\"0.0.3\" is missing");
  const char *mvr3[5] = {"RotatingKVCache", "4", "16", "40", "2"};
  bad_file(bad, kv, kvv, 2, mkr, mvr3, 5, "idx 2");
  const char *mvq[4] = {"QuantizedKVCache", "5", "64", "8"};
  bad_file(bad, kv, kvv, 2, mkr, mvq, 4, "offset 5 but no tensors");
  const char *mvq2[4] = {"QuantizedKVCache", "5", "48", "8"};
  bad_file(bad, kv, kvv, 2, mkr, mvq2, 4, "group_size 48");
  const char *mkp[3] = {"0.0", "2.0", "1.mlxc_cache"}, *mvp[3] = {"", "KVCache", "{\"kv_bits\":7}"};
  bad_file(bad, kv, kvv, 2, mkp, mvp, 3, "kv_bits 7");
  mx_array_free(k);
  mx_array_free(v);
  mx_array_free(v4);
  mx_array_free(u);
  unlink(bad);
  unlink(path);

  /* Bad save arguments. */
  c = mx_lm_cache_new(kjv);
  const char *rk[1] = {"mlxc_cache"}, *rv[1] = {"x"};
  mx_clear_error();
  CHECK(mx_lm_cache_save(c, path, rk, rv, 1) == MX_ERR_INVALID_ARG &&
        strstr(mx_last_error(), "reserved"));
  CHECK(mx_lm_cache_save(NULL, path, NULL, NULL, 0) == MX_ERR_INVALID_ARG);
  CHECK(mx_lm_cache_save(c, "/nonexistent/dir/x.safetensors", NULL, NULL, 0) == MX_ERR_IO);
  mx_clear_error();
  mx_lm_cache_free(c);
}

/* ------------------------------------------------------------ (e) */

/* fx's vocabulary is 320 ids. */
static const int32_t FX_PROMPT[] = {1,   45, 200, 13, 77, 300, 8, 19,  250, 101,
                                    66,  3,  90,  141, 7, 222, 18, 5,  99};
#define NFX ((int64_t)(sizeof FX_PROMPT / sizeof FX_PROMPT[0]))

/* Standard and rotating layers on the float32 fixture: the regenerated
 * run is compared with a fresh run fed the same chunk shapes ([P-3, 3]),
 * the only difference being that the trimmed cache's first P-3 positions
 * came from a P-token call (float32 rounding, far below greedy margins). */
static void test_trim(const mx_lm_model *m, const mx_lm_model *kjv) {
  enum { N = 12 };
  int32_t a[N], b[N], f[N], f1[N];
  mx_lm_cache *fresh = mx_lm_cache_new(m), *fresh1 = mx_lm_cache_new(m), *c = mx_lm_cache_new(m);
  if (!fresh || !fresh1 || !c) goto out;
  CHECK(greedy(m, fresh, FX_PROMPT, NFX, NFX - 3, N, f, NULL) == 0);
  CHECK(greedy(m, fresh1, FX_PROMPT, NFX, 0, N, f1, NULL) == 0);
  CHECK(greedy(m, c, FX_PROMPT, NFX, 0, N, a, NULL) == 0);
  CHECK(memcmp(a, f1, sizeof a) == 0);
  /* Back to the prompt minus 3 tokens, then regenerate from there. */
  int64_t off = mx_lm_cache_offset(c);
  CHECK(mx_lm_cache_trim(c, off - (NFX - 3)) == off - (NFX - 3));
  CHECK(mx_lm_cache_offset(c) == NFX - 3);
  CHECK(greedy(m, c, FX_PROMPT + NFX - 3, 3, 0, N, b, NULL) == 0);
  CHECK(memcmp(b, f, sizeof b) == 0);
  CHECK(mx_lm_cache_trim(c, 1000) == NFX + N - 1);
  CHECK(mx_lm_cache_offset(c) == 0 && mx_lm_cache_trim(c, 5) == 0);
  CHECK(greedy(m, c, FX_PROMPT, NFX, 0, N, b, NULL) == 0);
  CHECK(memcmp(b, f1, sizeof b) == 0);
  mx_lm_cache_free(c);
  /* Rotating before it wraps: trimmable, and regenerates the same. */
  c = cache_with(m, 64, 4, 0, 64, 0);
  if (c) {
    CHECK(greedy(m, c, FX_PROMPT, NFX, 0, N, a, NULL) == 0);
    CHECK(mx_lm_cache_can_trim(c));
    CHECK(mx_lm_cache_trim(c, N - 1 + 3) == N - 1 + 3);
    CHECK(greedy(m, c, FX_PROMPT + NFX - 3, 3, 0, N, b, NULL) == 0);
    CHECK(memcmp(b, f, sizeof b) == 0);
  }
  mx_lm_cache_free(c);
  c = NULL;
  m = kjv;
  /* Quantized: trimming and regenerating equals a fresh quantized run. */
  c = cache_with(m, 0, 4, 8, 32, 0);
  mx_lm_cache *qf = cache_with(m, 0, 4, 8, 32, 0);
  if (c && qf) {
    CHECK(greedy(m, qf, PROMPT, NPROMPT, 0, N, f, NULL) == 0);
    CHECK(greedy(m, c, PROMPT, NPROMPT, 0, N, a, NULL) == 0);
    CHECK(mx_lm_cache_trim(c, N - 1) == N - 1);
    CHECK(greedy(m, c, &a[0], 1, 0, N - 1, b + 1, NULL) == 0);
    b[0] = a[0];
    CHECK(memcmp(a, f, sizeof a) == 0);
    CHECK(memcmp(b, f, sizeof b) == 0);
  }
  mx_lm_cache_free(qf);
out:
  mx_lm_cache_free(c);
  mx_lm_cache_free(fresh);
  mx_lm_cache_free(fresh1);
}

/* ------------------------------------------------------------ (f) */

static void test_left_pad(const mx_lm_model *m) {
  enum { LA = 7, LB = 12, STEPS = 5 };
  int64_t V = mx_lm_vocab_size(m);
  int32_t A[LA] = {5, 17, 33, 2, 90, 41, 7}, Bt[LB] = {11, 3, 250, 8, 64, 19, 23, 77, 1, 300, 45, 6};
  int32_t batch[2 * LB];
  for (int i = 0; i < LB - LA; i++) batch[i] = 0; /* pad id */
  memcpy(batch + (LB - LA), A, sizeof A);
  memcpy(batch + LB, Bt, sizeof Bt);
  int32_t nextA[STEPS] = {9, 10, 11, 12, 13}, nextB[STEPS] = {20, 21, 22, 23, 24};
  mx_lm_cache *c = mx_lm_cache_new(m);
  mx_lm_cache *ca = mx_lm_cache_new(m);
  mx_lm_cache *cb = mx_lm_cache_new(m);
  if (!c || !ca || !cb) goto out;
  c->batch = 2;
  c->left_pad = calloc(2, sizeof *c->left_pad);
  if (!c->left_pad) goto out;
  c->left_pad[0] = LB - LA;
  double worst = 0;
  float *lg = run(m, batch, 2, LB, c), *la = run(m, A, 1, LA, ca), *lb = run(m, Bt, 1, LB, cb);
  bool ok = lg && la && lb;
  if (ok) {
    double s = fmax(max_abs(la + (LA - 1) * V, V), max_abs(lb + (LB - 1) * V, V));
    worst = fmax(max_diff(lg + (LB - 1) * V, la + (LA - 1) * V, V),
                 max_diff(lg + (2 * LB - 1) * V, lb + (LB - 1) * V, V)) / s;
  }
  free(lg);
  free(la);
  free(lb);
  for (int s = 0; s < STEPS && ok; s++) {
    int32_t two[2] = {nextA[s], nextB[s]};
    lg = run(m, two, 2, 1, c);
    la = run(m, &nextA[s], 1, 1, ca);
    lb = run(m, &nextB[s], 1, 1, cb);
    ok = lg && la && lb;
    if (ok) {
      double sc = fmax(max_abs(la, V), max_abs(lb, V));
      worst = fmax(worst, fmax(max_diff(lg, la, V), max_diff(lg + V, lb, V)) / sc);
    }
    free(lg);
    free(la);
    free(lb);
  }
  char msg[160];
  snprintf(msg, sizeof msg, "left padding: worst relative difference %.3g", worst);
  printf("   %s\n", msg);
  /* Float32 model: the padded row sees the same keys at the same rope
   * positions (rope.c starts each row at offset - left_pad[b]; even without
   * that, attention sees relative angles only), so rows differ by summation
   * order alone: 1e-4 of the logit scale, as test_lm_arch. */
  CHECK_MSG(ok && worst < 1e-4, msg);
  /* Without the padding mask row A attends to pad tokens: must differ. */
  {
    mx_lm_cache *np = mx_lm_cache_new(m), *na = mx_lm_cache_new(m);
    lg = run(m, batch, 2, LB, np);
    la = run(m, A, 1, LA, na);
    if (lg && la) CHECK(max_diff(lg + (LB - 1) * V, la + (LA - 1) * V, V) > 1e-3);
    free(lg);
    free(la);
    mx_lm_cache_free(np);
    mx_lm_cache_free(na);
  }
out:
  mx_lm_cache_free(c);
  mx_lm_cache_free(ca);
  mx_lm_cache_free(cb);
}

int main(int argc, char **argv) {
  const char *src = getenv("MLXC_SOURCE_DIR");
  if (!src) src = ".";
  snprintf(kjv_path, sizeof kjv_path, "%s/models/kjv-small", src);
  snprintf(fx_path, sizeof fx_path, "%s/tests/data/lm_arch/llama", src);
  snprintf(fxdir, sizeof fxdir, "%s", argc > 1 ? argv[1] : ".");
  const char *td = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s", td ? td : "/tmp");
  mx_lm_model *kjv = mx_lm_load(kjv_path), *fx = mx_lm_load(fx_path);
  CHECK_MSG(kjv && fx, mx_last_error());
  if (kjv && fx) {
    printf("-- params\n");
    test_params(kjv);
    printf("-- (a) rotating >= length equals standard\n");
    test_rotating_large(kjv);
    printf("-- (b) rotating against the reference\n");
    test_rotating_reference(fx);
    printf("-- (c) quantized\n");
    test_quantized_attend();
    test_quantized(kjv);
    printf("-- (d) prompt caches\n");
    test_prompt_cache(kjv, fx);
    printf("-- (e) trim\n");
    test_trim(fx, kjv);
    printf("-- (f) left padding\n");
    test_left_pad(fx);
  }
  mx_lm_free(kjv);
  mx_lm_free(fx);
  return check_summary();
}
