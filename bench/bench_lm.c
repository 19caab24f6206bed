/* bench_lm — language-model decode speed against this machine's bandwidth.
 *
 * Decoding one token reads every weight once, so its ceiling is
 * triad bandwidth / weight bytes per token (the decode roofline). Prints, in
 * one run: the triad; stories260K (a real trained model, tiny: overhead
 * bound) greedy decode tokens/s; and a random-weight Llama of a real size,
 * written as an MLX folder (4-bit g64 affine, bf16 scales, as mlx-lm's
 * convert makes; --bits 0 for dense f32) and loaded with mx_lm_load (mmap):
 * load time, prefill tokens/s (pp), decode tokens/s (tg), % of roofline.
 *
 * Usage: bench_lm [--dim 2048] [--layers 16] [--heads 32] [--kv-heads 8]
 *                 [--ffn 8192] [--vocab 32000] [--bits 4] [-p 128] [-n 32]
 *                 [--stories PATH.gguf]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "mlxc/mlxc.h"

typedef struct counter {
  int n;
} counter;

static int count_tok(void *u, int32_t t, mx_array lp) {
  (void)t;
  (void)lp;
  ((counter *)u)->n++;
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "bench_lm: %s: %s\n", what, mx_last_error());
  exit(1);
}

/* Greedy decode of n tokens after a prompt of np tokens; returns stats. */
static mx_lm_generate_stats run(mx_lm_model *m, int np, int n) {
  int64_t V = mx_lm_vocab_size(m);
  int32_t *prompt = malloc((size_t)np * sizeof *prompt);
  for (int i = 0; i < np; i++) prompt[i] = (int32_t)((i * 7919 + 1) % V);
  counter c = {0};
  int32_t none = -1;
  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = n;
  gp.eos_ids = &none;
  gp.n_eos_ids = 1;
  gp.callback = count_tok;
  gp.user = &c;
  mx_lm_generate_stats st;
  if (mx_lm_generate(m, prompt, (size_t)np, &gp, NULL, &st)) die("generate");
  free(prompt);
  return st;
}

static void report(const char *name, mx_lm_model *m, mx_lm_generate_stats st, double triad) {
  double wb = (double)mx_lm_weight_bytes(m);
  double roof = triad * 1e9 / wb;
  printf("%-28s weights %8.1f MB/token  pp%-4lld %9.1f tok/s  tg%-4lld %9.2f tok/s  "
         "roofline %9.2f tok/s  %5.1f%% of roofline  peak %.0f MB\n",
         name, wb / 1e6, (long long)st.prompt_tokens, st.prompt_tps,
         (long long)st.generation_tokens, st.generation_tps, roof,
         100.0 * st.generation_tps / roof, (double)st.peak_memory / 1e6);
}

typedef struct tensors {
  char **names;
  mx_array *arrays;
  size_t n, cap;
} tensors;

static void push(tensors *t, const char *name, mx_array a) {
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->names = realloc(t->names, t->cap * sizeof *t->names);
    t->arrays = realloc(t->arrays, t->cap * sizeof *t->arrays);
  }
  t->names[t->n] = strdup(name);
  t->arrays[t->n++] = a;
}

static uint64_t seed_ctr = 1;

/* A random (rows, cols) matrix, quantized when bits > 0. */
static void add_linear(tensors *t, const char *prefix, int64_t rows, int64_t cols, int bits) {
  int64_t shape[2] = {rows, cols};
  mx_array key = mx_random_key(seed_ctr++);
  mx_array w = mx_random_normal(shape, 2, MX_FLOAT32, 0.0, 0.02, key);
  char name[256];
  if (bits == 0) {
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (mx_eval1(w)) die("random weights");
    push(t, name, w);
  } else {
    mx_array wb = mx_astype(w, MX_BFLOAT16), q[3];
    if (mx_quantize(wb, 64, bits, MX_QUANT_AFFINE, NULL, q) || mx_eval(q, 3)) die("quantize");
    const char *sfx[3] = {"weight", "scales", "biases"};
    for (int i = 0; i < 3; i++) {
      snprintf(name, sizeof name, "%s.%s", prefix, sfx[i]);
      push(t, name, q[i]);
    }
    mx_array_free(wb);
    mx_array_free(w);
  }
  mx_array_free(key);
}

static void add_norm(tensors *t, const char *name, int64_t dim, int bits) {
  mx_array a = mx_ones(&dim, 1, bits ? MX_BFLOAT16 : MX_FLOAT32);
  mx_eval1(a);
  push(t, name, a);
}

static int64_t arg_i(int argc, char **argv, const char *flag, int64_t def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], flag) == 0) return atoll(argv[i + 1]);
  return def;
}

int main(int argc, char **argv) {
  int64_t D = arg_i(argc, argv, "--dim", 2048), L = arg_i(argc, argv, "--layers", 16);
  int64_t H = arg_i(argc, argv, "--heads", 32), KV = arg_i(argc, argv, "--kv-heads", 8);
  int64_t F = arg_i(argc, argv, "--ffn", 8192), V = arg_i(argc, argv, "--vocab", 32000);
  int bits = (int)arg_i(argc, argv, "--bits", 4);
  int np = (int)arg_i(argc, argv, "-p", 128), n = (int)arg_i(argc, argv, "-n", 32);
  const char *stories = NULL;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--stories") == 0) stories = argv[i + 1];
  char spath[1024];
  if (!stories) {
    const char *td = getenv("MLXC_TESTDATA");
    snprintf(spath, sizeof spath, "%s/models/stories260K/stories260K.gguf",
             td ? td : "../shared/testdata");
    stories = spath;
  }

  double triad = triad_gbs((size_t)1 << 25, 5);
  printf("triad: %.2f GB/s\n", triad);

  if (access(stories, R_OK) == 0) {
    mx_lm_model *m = mx_lm_load(stories);
    if (!m) die("load stories260K");
    run(m, 1, 16); /* warm up */
    mx_lm_generate_stats st = run(m, 1, 256);
    report("stories260K f32 (gguf)", m, st, triad);
    mx_lm_free(m);
  } else {
    printf("stories260K: skipped, %s not found (set MLXC_TESTDATA)\n", stories);
  }

  /* The random model as an MLX folder on disk, loaded like any other. */
  char dir[] = "/tmp/lm-bench-XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp");
  double t0 = now_sec();
  tensors t = {0};
  add_linear(&t, "model.embed_tokens", V, D, bits);
  for (int64_t l = 0; l < L; l++) {
    char p[160], nm[200];
    snprintf(p, sizeof p, "model.layers.%lld", (long long)l);
    snprintf(nm, sizeof nm, "%s.self_attn.q_proj", p);
    add_linear(&t, nm, H * (D / H), D, bits);
    snprintf(nm, sizeof nm, "%s.self_attn.k_proj", p);
    add_linear(&t, nm, KV * (D / H), D, bits);
    snprintf(nm, sizeof nm, "%s.self_attn.v_proj", p);
    add_linear(&t, nm, KV * (D / H), D, bits);
    snprintf(nm, sizeof nm, "%s.self_attn.o_proj", p);
    add_linear(&t, nm, D, H * (D / H), bits);
    snprintf(nm, sizeof nm, "%s.mlp.gate_proj", p);
    add_linear(&t, nm, F, D, bits);
    snprintf(nm, sizeof nm, "%s.mlp.up_proj", p);
    add_linear(&t, nm, F, D, bits);
    snprintf(nm, sizeof nm, "%s.mlp.down_proj", p);
    add_linear(&t, nm, D, F, bits);
    snprintf(nm, sizeof nm, "%s.input_layernorm.weight", p);
    add_norm(&t, nm, D, bits);
    snprintf(nm, sizeof nm, "%s.post_attention_layernorm.weight", p);
    add_norm(&t, nm, D, bits);
  }
  add_norm(&t, "model.norm.weight", D, bits);
  char path[256];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if (mx_save_safetensors(path, (const char *const *)t.names, t.arrays, t.n, NULL, NULL, 0))
    die("save");
  for (size_t i = 0; i < t.n; i++) {
    free(t.names[i]);
    mx_array_free(t.arrays[i]);
  }
  free(t.names);
  free(t.arrays);
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "w");
  if (!f) die("config");
  fprintf(f, "{\"model_type\": \"llama\", \"hidden_size\": %lld, \"num_hidden_layers\": %lld, "
          "\"intermediate_size\": %lld, \"num_attention_heads\": %lld, "
          "\"num_key_value_heads\": %lld, \"vocab_size\": %lld, \"rms_norm_eps\": 1e-5, "
          "\"rope_theta\": 500000.0, \"tie_word_embeddings\": true",
          (long long)D, (long long)L, (long long)F, (long long)H, (long long)KV, (long long)V);
  if (bits) fprintf(f, ", \"quantization\": {\"group_size\": 64, \"bits\": %d}", bits);
  fprintf(f, "}\n");
  fclose(f);
  double t_make = now_sec() - t0;

  mx_memory_reset_peak();
  t0 = now_sec();
  mx_lm_model *m = mx_lm_load(dir);
  double t_load = now_sec() - t0;
  if (!m) die("load random model");
  char name[96];
  snprintf(name, sizeof name, "llama d%lld L%lld %s", (long long)D, (long long)L,
           bits ? (bits == 4 ? "q4 g64" : "q") : "f32");
  printf("random model: made in %.1f s, loaded in %.3f s (mmap)\n", t_make, t_load);
  run(m, 4, 2); /* warm up: page in the weights */
  mx_lm_generate_stats st = run(m, np, n);
  report(name, m, st, triad);
  mx_lm_free(m);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_lm: could not remove %s\n", dir);
  return 0;
}
