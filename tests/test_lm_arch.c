/* test_lm_arch.c — every architecture against Hugging Face transformers.
 *
 * tests/data/lm_arch/<variant>/ holds a tiny random model saved by
 * transformers (config.json + float32 model.safetensors) and its outputs
 * (make_fixtures.py, run on the GPU machine's CPU in float32):
 *   - logits.npy (P+N, V): one uncached forward pass over prompt + greedy;
 *     ours must match within 1e-4 of the logit scale (max |logit|): float32
 *     matmuls over K <= 256 terms of O(1) values differ from PyTorch's by
 *     summation order only, ~1e-6 relative, so 1e-4 leaves room for the
 *     transcendental functions (exp in softmax, rope's sin/cos) without
 *     hiding a wrong formula (those move logits by >1e-2);
 *   - greedy.npy (N): transformers' cached greedy continuation; ours (through
 *     our KV cache, prefill then decode) must be identical.
 *
 * MLXC_SOURCE_DIR locates the fixtures; each variant present must pass. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char root[1024];

static mx_array load(const char *variant, const char *file) {
  char p[1400];
  snprintf(p, sizeof p, "%s/%s/%s", root, variant, file);
  mx_array a = mx_load_npy(p);
  CHECK_MSG(a != NULL, mx_last_error());
  return a;
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

static void check_variant(const char *variant) {
  printf("-- %s\n", variant);
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", root, variant);
  mx_lm_model *m = mx_lm_load(path);
  CHECK_MSG(m != NULL, mx_last_error());
  mx_array prompt = load(variant, "prompt.npy"), greedy = load(variant, "greedy.npy"),
           ref = load(variant, "logits.npy");
  if (!m || !prompt || !greedy || !ref) goto out;
  int64_t P = mx_array_dim(prompt, 0), N = mx_array_dim(greedy, 0), V = mx_array_dim(ref, 1);
  CHECK(mx_lm_vocab_size(m) == V);
  const int32_t *pp = mx_array_data(prompt), *gp = mx_array_data(greedy);

  /* Teacher-forced logits, no cache. */
  int32_t *seq = malloc((size_t)(P + N) * sizeof *seq);
  memcpy(seq, pp, (size_t)P * sizeof *seq);
  memcpy(seq + P, gp, (size_t)N * sizeof *seq);
  int64_t shape[2] = {1, P + N};
  mx_array ids = mx_array_from_data(seq, shape, 2, MX_INT32);
  mx_array logits = mx_lm_forward(m, ids, NULL);
  CHECK_MSG(logits != NULL, mx_last_error());
  if (logits) {
    mx_array l32 = mx_astype(logits, MX_FLOAT32);
    const float *a = mx_array_data(l32), *b = mx_array_data(ref);
    CHECK_MSG(a != NULL, mx_last_error());
    double scale = 0, err = 0;
    for (int64_t i = 0; a && i < (P + N) * V; i++) {
      scale = fmax(scale, fabs(b[i]));
      err = fmax(err, fabs((double)a[i] - b[i]));
    }
    printf("   logits max |diff| %.3g (scale %.3g)\n", err, scale);
    CHECK_MSG(a && err <= 1e-4 * scale, variant);
    mx_array_free(l32);
  }
  mx_array_free(logits);
  mx_array_free(ids);

  /* Greedy through the cache, in two prefill chunks so chunking is hit. */
  collect c = {.n = 0};
  mx_lm_generate_params gp_ = mx_lm_generate_default_params();
  gp_.max_tokens = N;
  gp_.prefill_step_size = P / 2;
  int32_t none = -1;
  gp_.eos_ids = &none;
  gp_.n_eos_ids = 1;
  gp_.callback = on_token;
  gp_.user = &c;
  mx_status st = mx_lm_generate(m, pp, (size_t)P, &gp_, NULL, NULL);
  CHECK_MSG(st == MX_OK, mx_last_error());
  int same = c.n == N;
  for (int i = 0; same && i < N; i++) same = c.ids[i] == gp[i];
  if (!same) {
    printf("   greedy got:");
    for (int i = 0; i < c.n; i++) printf(" %d", c.ids[i]);
    printf("\n   expected:  ");
    for (int i = 0; i < N; i++) printf(" %d", gp[i]);
    printf("\n");
  }
  CHECK_MSG(same, variant);
  free(seq);
out:
  mx_array_free(prompt);
  mx_array_free(greedy);
  mx_array_free(ref);
  mx_lm_free(m);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  const char *src = getenv("MLXC_SOURCE_DIR");
  snprintf(root, sizeof root, "%s/tests/data/lm_arch", src ? src : ".");
  DIR *d = opendir(root);
  CHECK_MSG(d != NULL, root);
  if (!d) return check_summary();
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    if (e->d_name[0] == '.' || strchr(e->d_name, '.')) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp);
  CHECK(n >= 13);
  for (int i = 0; i < n; i++) {
    /* MLXC_LM_ARCH_ONLY=name: one variant (while working on it). */
    const char *only = getenv("MLXC_LM_ARCH_ONLY");
    if (!only || strcmp(only, names[i]) == 0) check_variant(names[i]);
    free(names[i]);
  }
  return check_summary();
}
