/* cmd_convert.c — `mlxc convert`: what mlx_lm.convert does (Hugging Face
 * folder -> MLX folder, quantized or not, or back with --dequantize), plus
 * GGUF in both directions (a .gguf -> a Hugging Face style folder; a llama
 * folder -> a .gguf with F16 / Q8_0 / Q4_0 tensors as llama.cpp's
 * convert_hf_to_gguf.py + llama-quantize --pure would write).
 *
 * Which tensors are quantized follows mlx-lm (nn.quantize's predicate):
 * Linear / Embedding weights, i.e. ".weight" tensors of 2 or more dims whose
 * last dim divides by the group size; norms (1-D), biases and anything else
 * stay as they are.
 *
 * GGUF keeps llama's Q and K projections permuted (within each head, rows
 * (i, i + d/2) interleaved, convert_hf_to_gguf.py's LlamaModel.permute);
 * converting to a folder undoes it so the folder is an ordinary HF checkpoint
 * (half-split RoPE), and --to-gguf applies it. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlxc/mlxc.h"
#include "mlxc/gguf.h"
#include "mlxc/quantized.h"
#include "mlxc/safetensors.h"

int cmd_convert(int argc, char **argv);

/* Writes the tokenizer.json equivalent of a GGUF llama (SentencePiece) vocab
 * (cmd_convert_tok.c would be its own file; it lives here to keep the tool's
 * sources to the files of this command). */
static int write_spm_tokenizer(mx_gguf *g, const char *dir);
static int gguf_tokenizer_from_json(mx_gguf_writer *w, const char *src, const cJSON *cfg);

static void usage(FILE *f) {
  fprintf(f,
          "usage: mlxc convert -m SRC -o OUT [-q] [--q-bits B] [--q-group-size G]\n"
          "                    [--q-mode affine|mxfp4|nvfp4|mxfp8] [--dequantize]\n"
          "                    [--dtype f16|bf16|f32] [--to-gguf f16|q8_0|q4_0]\n"
          "  -m, --model SRC      a Hugging Face folder, an MLX-quantized folder, or a .gguf file\n"
          "  -o, --out OUT        the folder to write (a .gguf file with --to-gguf); must not exist\n"
          "  -q, --quantize       quantize as mlx-lm does (Linear/Embedding weights)\n"
          "  --q-bits B           bits per weight (affine: 2,3,4,5,6,8; default 4); implies -q\n"
          "  --q-group-size G     values per scale (affine: 32, 64, 128; default 64)\n"
          "  --q-mode M           affine (default), mxfp4 (g32 b4), nvfp4 (g16 b4), mxfp8 (g32 b8)\n"
          "  --dequantize         write an MLX-quantized SRC back as float weights\n"
          "  --dtype D            cast float weights to f16, bf16 or f32 (default: keep; a\n"
          "                       .gguf source: f32 if all its tensors are, else f16/bf16)\n"
          "  --to-gguf T          write a llama / mistral / qwen2 SRC folder as a GGUF file with F16,\n"
          "                       Q8_0 or Q4_0 matrices (norms stay F32)\n"
          "A progress bar is drawn on stderr when it is a terminal.\n");
}

typedef struct opts {
  const char *src, *out;
  bool quantize, dequantize;
  int bits, group;
  mx_quant_mode mode;
  bool has_dtype;
  mx_dtype dtype;
  bool to_gguf;
  mx_ggml_type gtype;
} opts;

static int bad(const char *fmt, const char *arg) {
  fprintf(stderr, "mlxc convert: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see mlxc convert --help)\n");
  return 2;
}

static bool parse_int(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > 4096) return false;
  *out = (int)v;
  return true;
}

static int parse_args(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  const char *mode_s = NULL;
  int bits = 0, group = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = !strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--hf-path") ||
                 !strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--mlx-path") ||
                 !strcmp(a, "--q-bits") || !strcmp(a, "--q-group-size") ||
                 !strcmp(a, "--q-mode") || !strcmp(a, "--dtype") || !strcmp(a, "--to-gguf");
    if (takes && !v) return bad("%s needs a value", a);
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return -1;
    } else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--hf-path")) {
      o->src = v;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--mlx-path")) {
      o->out = v;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quantize")) {
      o->quantize = true;
      continue;
    } else if (!strcmp(a, "--dequantize") || !strcmp(a, "-d")) {
      o->dequantize = true;
      continue;
    } else if (!strcmp(a, "--q-bits")) {
      if (!parse_int(v, &bits)) return bad("--q-bits: '%s' is not a positive integer", v);
      o->quantize = true;
    } else if (!strcmp(a, "--q-group-size")) {
      if (!parse_int(v, &group)) return bad("--q-group-size: '%s' is not a positive integer", v);
      o->quantize = true;
    } else if (!strcmp(a, "--q-mode")) {
      mode_s = v;
      o->quantize = true;
    } else if (!strcmp(a, "--dtype")) {
      o->has_dtype = true;
      if (!strcmp(v, "f16") || !strcmp(v, "float16"))
        o->dtype = MX_FLOAT16;
      else if (!strcmp(v, "bf16") || !strcmp(v, "bfloat16"))
        o->dtype = MX_BFLOAT16;
      else if (!strcmp(v, "f32") || !strcmp(v, "float32"))
        o->dtype = MX_FLOAT32;
      else
        return bad("--dtype: '%s' is not one of f16, bf16, f32", v);
    } else if (!strcmp(a, "--to-gguf")) {
      o->to_gguf = true;
      if (!strcmp(v, "f16"))
        o->gtype = MX_GGML_F16;
      else if (!strcmp(v, "q8_0"))
        o->gtype = MX_GGML_Q8_0;
      else if (!strcmp(v, "q4_0"))
        o->gtype = MX_GGML_Q4_0;
      else
        return bad("--to-gguf: '%s' is not one of f16, q8_0, q4_0", v);
    } else {
      return bad("unknown argument '%s'", a);
    }
    i++;
  }
  if (!o->src) return bad("%s", "-m SRC is required");
  if (!o->out) return bad("%s", "-o OUT is required");
  if (o->quantize && o->dequantize) return bad("%s", "--dequantize and quantizing exclude each other");
  if (o->quantize && o->to_gguf)
    return bad("%s", "--to-gguf picks the GGUF type itself; drop -q/--q-* options");
  if (o->to_gguf && o->has_dtype) return bad("%s", "--dtype does not apply to --to-gguf");
  o->mode = MX_QUANT_AFFINE;
  int dg = 64, db = 4;
  if (mode_s) {
    if (!strcmp(mode_s, "affine")) {
    } else if (!strcmp(mode_s, "mxfp4")) {
      o->mode = MX_QUANT_MXFP4, dg = 32, db = 4;
    } else if (!strcmp(mode_s, "nvfp4")) {
      o->mode = MX_QUANT_NVFP4, dg = 16, db = 4;
    } else if (!strcmp(mode_s, "mxfp8")) {
      o->mode = MX_QUANT_MXFP8, dg = 32, db = 8;
    } else {
      return bad("--q-mode: '%s' is not one of affine, mxfp4, nvfp4, mxfp8", mode_s);
    }
  }
  o->bits = bits ? bits : db;
  o->group = group ? group : dg;
  if (o->quantize) {
    char msg[160];
    if (o->mode == MX_QUANT_AFFINE) {
      if (o->bits != 2 && o->bits != 3 && o->bits != 4 && o->bits != 5 && o->bits != 6 &&
          o->bits != 8) {
        snprintf(msg, sizeof msg, "--q-bits %d: affine quantization takes 2, 3, 4, 5, 6 or 8",
                 o->bits);
        return bad("%s", msg);
      }
      if (o->group != 32 && o->group != 64 && o->group != 128) {
        snprintf(msg, sizeof msg, "--q-group-size %d: affine quantization takes 32, 64 or 128",
                 o->group);
        return bad("%s", msg);
      }
    } else if (o->bits != db || o->group != dg) {
      snprintf(msg, sizeof msg, "--q-mode %s needs --q-bits %d and --q-group-size %d", mode_s,
               db, dg);
      return bad("%s", msg);
    }
  }
  struct stat sb;
  if (stat(o->src, &sb) != 0) return bad("cannot open SRC '%s'", o->src);
  if (stat(o->out, &sb) == 0) return bad("OUT '%s' already exists (not overwriting)", o->out);
  return 0;
}

/* ------------------------------------------------------------ helpers */

static int fail(const char *what) {
  fprintf(stderr, "mlxc convert: %s: %s\n", what, mx_last_error());
  return 1;
}

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

static void progress(const char *label, size_t done, size_t total) {
  static int tty = -1;
  if (tty < 0) tty = isatty(2);
  if (!tty || total == 0) return;
  int width = 30, fill = (int)(done * (size_t)width / total);
  fprintf(stderr, "\r%-10s [", label);
  for (int i = 0; i < width; i++) fputc(i < fill ? '#' : ' ', stderr);
  fprintf(stderr, "] %zu/%zu", done, total);
  if (done == total) fputc('\n', stderr);
  fflush(stderr);
}

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) {
    b[n] = 0;
    if (len) *len = (size_t)n;
  }
  return b;
}

static cJSON *read_json(const char *path) {
  char *t = read_file(path, NULL);
  if (!t) return NULL;
  cJSON *j = cJSON_Parse(t);
  free(t);
  return j;
}

static int write_json(const char *dir, const char *name, const cJSON *j) {
  char *p = path_join(dir, name), *t = cJSON_Print(j);
  FILE *f = fopen(p, "w");
  int ok = f && t && fputs(t, f) >= 0 && fputc('\n', f) != EOF;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok) fprintf(stderr, "mlxc convert: cannot write %s: %s\n", p, strerror(errno));
  free(p);
  free(t);
  return ok ? 0 : 1;
}

static int copy_file(const char *from, const char *to) {
  size_t n;
  char *b = read_file(from, &n);
  if (!b) return 1;
  FILE *f = fopen(to, "wb");
  int ok = f && fwrite(b, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = 0;
  free(b);
  return ok ? 0 : 1;
}

/* mlx-lm copies the tokenizer and generation files next to the weights. */
static int copy_side_files(const char *src, const char *out) {
  DIR *d = opendir(src);
  if (!d) return 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (n[0] == '.' || !strcmp(n, "config.json") || ends_with(n, ".safetensors") ||
        ends_with(n, ".safetensors.index.json") || ends_with(n, ".gguf"))
      continue;
    if (!(ends_with(n, ".json") || ends_with(n, ".jinja") || ends_with(n, ".model") ||
          ends_with(n, ".tiktoken") || ends_with(n, ".txt") || ends_with(n, ".py")))
      continue;
    char *a = path_join(src, n), *b = path_join(out, n);
    struct stat sb;
    if (stat(a, &sb) == 0 && S_ISREG(sb.st_mode) && copy_file(a, b)) {
      fprintf(stderr, "mlxc convert: cannot copy %s to %s\n", a, b);
      rc = 1;
    }
    free(a);
    free(b);
  }
  closedir(d);
  return rc;
}

static bool is_float(mx_dtype t) {
  return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16;
}

/* ------------------------------------------------------------ names */

/* llama.cpp's tensor names and the Hugging Face ones they hold. */
static const struct {
  const char *gguf, *hf;
} block_names[] = {
    {"attn_norm", "input_layernorm"},      {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},        {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},   {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},         {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},         {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
};
static const struct {
  const char *gguf, *hf;
} top_names[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

/* GGUF -> HF name (false when unknown). */
static bool hf_name(const char *g, char *buf, size_t cap) {
  for (size_t i = 0; i < sizeof top_names / sizeof *top_names; i++)
    if (!strcmp(g, top_names[i].gguf)) {
      snprintf(buf, cap, "%s", top_names[i].hf);
      return true;
    }
  unsigned layer;
  int used = 0;
  if (sscanf(g, "blk.%u.%n", &layer, &used) == 1 && used > 0) {
    const char *rest = g + used, *dot = strrchr(rest, '.');
    if (dot)
      for (size_t i = 0; i < sizeof block_names / sizeof *block_names; i++)
        if (strlen(block_names[i].gguf) == (size_t)(dot - rest) &&
            !strncmp(rest, block_names[i].gguf, (size_t)(dot - rest))) {
          snprintf(buf, cap, "model.layers.%u.%s%s", layer, block_names[i].hf, dot);
          return true;
        }
  }
  return false;
}

/* HF -> GGUF name (false when unknown). */
static bool gguf_name(const char *h, char *buf, size_t cap) {
  for (size_t i = 0; i < sizeof top_names / sizeof *top_names; i++)
    if (!strcmp(h, top_names[i].hf)) {
      snprintf(buf, cap, "%s", top_names[i].gguf);
      return true;
    }
  unsigned layer;
  int used = 0;
  if (sscanf(h, "model.layers.%u.%n", &layer, &used) == 1 && used > 0) {
    const char *rest = h + used, *dot = strrchr(rest, '.');
    if (dot)
      for (size_t i = 0; i < sizeof block_names / sizeof *block_names; i++)
        if (strlen(block_names[i].hf) == (size_t)(dot - rest) &&
            !strncmp(rest, block_names[i].hf, (size_t)(dot - rest))) {
          snprintf(buf, cap, "blk.%u.%s%s", layer, block_names[i].gguf, dot);
          return true;
        }
  }
  return false;
}

/* LlamaModel.permute (to_gguf) and its inverse: rows of each of n_head heads
 * go from (2, d/2) to (d/2, 2) order or back. */
static mx_array permute_heads(mx_array w, int64_t n_head, bool to_gguf) {
  int nd = mx_array_ndim(w);
  int64_t rows = mx_array_dim(w, 0);
  if (n_head <= 0 || rows % (2 * n_head) != 0 || nd < 1 || nd > 2) return mx_array_retain(w);
  int64_t shape[4] = {n_head, to_gguf ? 2 : rows / n_head / 2, to_gguf ? rows / n_head / 2 : 2,
                      nd == 2 ? mx_array_dim(w, 1) : 1};
  mx_array a = mx_reshape(w, shape, 4);
  mx_array b = mx_swapaxes(a, 1, 2);
  mx_array c = mx_reshape(b, mx_array_shape(w), nd);
  mx_array_free(a);
  mx_array_free(b);
  return c;
}

/* ------------------------------------------------------------ sources */

typedef struct tensor_list {
  size_t n, cap;
  char **names;
  mx_array *arrays;
} tensor_list;

static void tl_push(tensor_list *t, const char *name, mx_array a) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 256;
    t->names = realloc(t->names, t->cap * sizeof *t->names);
    t->arrays = realloc(t->arrays, t->cap * sizeof *t->arrays);
  }
  t->names[t->n] = strdup(name);
  t->arrays[t->n++] = a;
}

static void tl_free(tensor_list *t) {
  for (size_t i = 0; i < t->n; i++) {
    free(t->names[i]);
    mx_array_free(t->arrays[i]);
  }
  free(t->names);
  free(t->arrays);
  memset(t, 0, sizeof *t);
}

/* A model's float weights under HF names, lazily dequantized: the same
 * shape for every source kind. */
typedef struct source {
  cJSON *config;
  mx_weights *w;
  mx_gguf *g;
  tensor_list t;
  bool was_quantized;
} source;

static void source_free(source *s) {
  tl_free(&s->t);
  cJSON_Delete(s->config);
  mx_weights_close(s->w);
  mx_gguf_close(s->g);
}

static const cJSON *quant_cfg(const cJSON *cfg) {
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(cfg, "quantization");
  if (!cJSON_IsObject(q)) q = cJSON_GetObjectItemCaseSensitive(cfg, "quantization_config");
  return cJSON_IsObject(q) ? q : NULL;
}

static int json_int(const cJSON *o, const char *k, int def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (int)v->valuedouble : def;
}

static int open_folder(source *s, const char *path) {
  char *cp = path_join(path, "config.json");
  s->config = read_json(cp);
  if (!s->config) {
    fprintf(stderr, "mlxc convert: %s: missing or malformed config.json\n", path);
    free(cp);
    return 2;
  }
  free(cp);
  s->w = mx_weights_open(path);
  if (!s->w) return fail("cannot open the weights");
  const cJSON *q = quant_cfg(s->config);
  for (int64_t i = 0; i < mx_weights_count(s->w); i++) {
    const char *n = mx_weights_name(s->w, i);
    if (ends_with(n, ".scales") || ends_with(n, ".biases")) continue;
    mx_array a = mx_weights_get(s->w, n);
    if (!a) return fail(n);
    size_t nl = strlen(n);
    if (ends_with(n, ".weight") && q) {
      char *prefix = strndup(n, nl - 7), sc[1024], bi[1024];
      snprintf(sc, sizeof sc, "%s.scales", prefix);
      snprintf(bi, sizeof bi, "%s.biases", prefix);
      mx_array scales = mx_weights_get(s->w, sc);
      mx_clear_error();
      if (scales) {
        /* A per-module entry overrides the global group size / bits. */
        const cJSON *layer = cJSON_GetObjectItemCaseSensitive(q, prefix);
        const cJSON *src = cJSON_IsObject(layer) ? layer : q;
        int gs = json_int(src, "group_size", 64), bits = json_int(src, "bits", 4);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(src, "mode");
        mx_quant_mode mode = MX_QUANT_AFFINE;
        if (cJSON_IsString(m)) {
          if (!strcmp(m->valuestring, "mxfp4")) mode = MX_QUANT_MXFP4;
          else if (!strcmp(m->valuestring, "nvfp4")) mode = MX_QUANT_NVFP4;
          else if (!strcmp(m->valuestring, "mxfp8")) mode = MX_QUANT_MXFP8;
        }
        mx_array biases = mode == MX_QUANT_AFFINE ? mx_weights_get(s->w, bi) : NULL;
        mx_clear_error();
        mx_array d = mx_dequantize(a, scales, biases, gs, bits, mode, NULL, MX_DTYPE_COUNT);
        mx_array_free(scales);
        mx_array_free(biases);
        mx_array_free(a);
        free(prefix);
        if (!d) return fail(n);
        tl_push(&s->t, n, d);
        s->was_quantized = true;
        continue;
      }
      free(prefix);
    }
    tl_push(&s->t, n, a);
  }
  return 0;
}

static bool gguf_int(mx_gguf *g, const char *key, int64_t *v) {
  int64_t i = mx_gguf_find_key(g, key);
  return i >= 0 && mx_gguf_get_int(g, i, v) == MX_OK;
}

/* Float metadata is usually float32: print it with the digits float32
 * holds (1e-05, not 9.99999974737875e-06) as a Python converter would. */
static bool gguf_float(mx_gguf *g, const char *key, double *v) {
  int64_t i = mx_gguf_find_key(g, key);
  if (i < 0 || mx_gguf_get_float(g, i, v) != MX_OK) return false;
  if (mx_gguf_kv_type(g, i) == MX_GGUF_FLOAT32) {
    char b[32];
    snprintf(b, sizeof b, "%.7g", *v);
    *v = strtod(b, NULL);
  }
  return true;
}

/* config.json from a GGUF's llama-family metadata (the keys mlxc's GGUF
 * loader maps, src/lm/gguf_config.c). */
static cJSON *gguf_config(mx_gguf *g, const char *arch, mx_dtype dtype) {
  cJSON *c = cJSON_CreateObject();
  char key[128];
  static const struct {
    const char *suffix, *name;
  } ints[] = {{"embedding_length", "hidden_size"},
              {"block_count", "num_hidden_layers"},
              {"feed_forward_length", "intermediate_size"},
              {"attention.head_count", "num_attention_heads"},
              {"attention.head_count_kv", "num_key_value_heads"},
              {"attention.key_length", "head_dim"},
              {"context_length", "max_position_embeddings"},
              {"vocab_size", "vocab_size"}};
  if (!strcmp(arch, "llama")) {
    cJSON *a = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(a, cJSON_CreateString("LlamaForCausalLM"));
  }
  cJSON_AddStringToObject(c, "model_type", arch);
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, ints[i].suffix);
    if (gguf_int(g, key, &v)) cJSON_AddNumberToObject(c, ints[i].name, (double)v);
  }
  double f;
  snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
  cJSON_AddNumberToObject(c, "rms_norm_eps", gguf_float(g, key, &f) ? f : 1e-5);
  snprintf(key, sizeof key, "%s.rope.freq_base", arch);
  cJSON_AddNumberToObject(c, "rope_theta", gguf_float(g, key, &f) ? f : 10000.0);
  snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
  int64_t si = mx_gguf_find_key(g, key);
  const char *st;
  size_t sl;
  if (si >= 0 && mx_gguf_get_string(g, si, &st, &sl) == MX_OK && !(sl == 4 && !memcmp(st, "none", 4))) {
    cJSON *rs = cJSON_AddObjectToObject(c, "rope_scaling");
    char tb[32];
    snprintf(tb, sizeof tb, "%.*s", (int)(sl < 31 ? sl : 31), st);
    cJSON_AddStringToObject(rs, "type", tb);
    snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
    if (gguf_float(g, key, &f)) cJSON_AddNumberToObject(rs, "factor", f);
  }
  int64_t v;
  if (gguf_int(g, "tokenizer.ggml.bos_token_id", &v)) cJSON_AddNumberToObject(c, "bos_token_id", (double)v);
  cJSON *eos = cJSON_AddArrayToObject(c, "eos_token_id");
  if (gguf_int(g, "tokenizer.ggml.eos_token_id", &v)) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)v));
  if (gguf_int(g, "tokenizer.ggml.eot_token_id", &v)) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)v));
  bool has_output = mx_gguf_find_tensor(g, "output.weight") >= 0;
  cJSON_AddBoolToObject(c, "tie_word_embeddings", !has_output);
  if (!cJSON_GetObjectItemCaseSensitive(c, "vocab_size")) {
    int64_t t = mx_gguf_find_tensor(g, "token_embd.weight"), shape[MX_MAX_NDIM];
    if (t >= 0 && mx_gguf_tensor_shape(g, t, shape) == 2)
      cJSON_AddNumberToObject(c, "vocab_size", (double)shape[0]);
  }
  cJSON_AddStringToObject(c, "torch_dtype", dtype == MX_FLOAT32 ? "float32"
                                            : dtype == MX_BFLOAT16 ? "bfloat16" : "float16");
  return c;
}

static int open_gguf(source *s, const char *path, const opts *o) {
  s->g = mx_gguf_open(path);
  if (!s->g) return fail("cannot read the GGUF file");
  int64_t ai = mx_gguf_find_key(s->g, "general.architecture");
  const char *as;
  size_t al;
  if (ai < 0 || mx_gguf_get_string(s->g, ai, &as, &al) != MX_OK || al == 0 || al > 63) {
    fprintf(stderr, "mlxc convert: %s: no general.architecture\n", path);
    return 1;
  }
  char arch[64];
  snprintf(arch, sizeof arch, "%.*s", (int)al, as);
  /* One float dtype for the folder: f32 if every tensor is, else the
   * half type the file uses (f16 for block-quantized files: their scales). */
  mx_dtype dt = MX_FLOAT32;
  for (int64_t t = 0; t < mx_gguf_tensor_count(s->g); t++) {
    mx_ggml_type ty = mx_gguf_tensor_type(s->g, t);
    if (ty == MX_GGML_BF16) dt = MX_BFLOAT16;
    else if (ty != MX_GGML_F32 && dt == MX_FLOAT32) dt = MX_FLOAT16;
  }
  if (o->has_dtype) dt = o->dtype;
  s->config = gguf_config(s->g, arch, dt);
  bool llama = !strcmp(arch, "llama");
  int64_t nh = 0, nkv = 0;
  char key[128];
  snprintf(key, sizeof key, "%s.attention.head_count", arch);
  gguf_int(s->g, key, &nh);
  snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
  if (!gguf_int(s->g, key, &nkv)) nkv = nh;
  for (int64_t t = 0; t < mx_gguf_tensor_count(s->g); t++) {
    const char *gn = mx_gguf_tensor_name(s->g, t);
    char hn[512];
    if (!strcmp(gn, "rope_freqs.weight")) {
      fprintf(stderr, "mlxc convert: %s: rope_freqs.weight (llama3 rope scaling) is not "
              "supported\n", path);
      return 1;
    }
    if (!hf_name(gn, hn, sizeof hn)) {
      fprintf(stderr, "mlxc convert: %s: no Hugging Face name for tensor '%s'\n", path, gn);
      return 1;
    }
    mx_ggml_type ty = mx_gguf_tensor_type(s->g, t);
    mx_array raw = mx_gguf_tensor(s->g, t), a;
    if (!raw) return fail(gn);
    if (ty == MX_GGML_F32 || ty == MX_GGML_F16 || ty == MX_GGML_BF16) {
      a = mx_astype(raw, dt);
    } else {
      int64_t shape[MX_MAX_NDIM];
      int nd = mx_gguf_tensor_shape(s->g, t, shape);
      a = mx_gguf_dequantize(raw, ty, shape[nd - 1], dt);
      if (a && nd != 2) {
        mx_array r = mx_reshape(a, shape, nd);
        mx_array_free(a);
        a = r;
      }
      s->was_quantized = true;
    }
    mx_array_free(raw);
    if (!a) return fail(gn);
    if (llama && (strstr(hn, "self_attn.q_proj.") || strstr(hn, "self_attn.k_proj."))) {
      mx_array p = permute_heads(a, strstr(hn, "q_proj") ? nh : nkv, false);
      mx_array_free(a);
      if (!(a = p)) return fail(gn);
    }
    tl_push(&s->t, hn, a);
  }
  return 0;
}

/* ------------------------------------------------------------ outputs */

/* Evaluates one tensor at a time (so memory holds the results, not every
 * intermediate at once) with the progress bar. */
static int eval_all(tensor_list *t, const char *label) {
  for (size_t i = 0; i < t->n; i++) {
    if (mx_eval1(t->arrays[i]) != MX_OK) return fail(t->names[i]);
    progress(label, i + 1, t->n);
  }
  return 0;
}

static int write_folder(source *s, const opts *o, const char *src_dir) {
  tensor_list out = {0};
  int rc = 0;
  for (size_t i = 0; i < s->t.n; i++) {
    const char *n = s->t.names[i];
    mx_array a = s->t.arrays[i];
    if (is_float(mx_array_dtype(a)) && o->has_dtype)
      a = mx_astype(a, o->dtype);
    else
      a = mx_array_retain(a);
    int nd = mx_array_ndim(a);
    if (o->quantize && nd >= 2 && ends_with(n, ".weight") && is_float(mx_array_dtype(a)) &&
        mx_array_dim(a, -1) % o->group == 0) {
      mx_array q[3] = {NULL, NULL, NULL};
      if (mx_quantize(a, o->group, o->bits, o->mode, NULL, q) != MX_OK) {
        mx_array_free(a);
        rc = fail(n);
        goto done;
      }
      char *prefix = strndup(n, strlen(n) - 7), nm[1024];
      static const char *sfx[3] = {"weight", "scales", "biases"};
      for (int k = 0; k < 3; k++)
        if (q[k]) {
          snprintf(nm, sizeof nm, "%s.%s", prefix, sfx[k]);
          tl_push(&out, nm, q[k]);
        }
      free(prefix);
      mx_array_free(a);
    } else {
      tl_push(&out, n, a);
    }
  }
  if (mkdir(o->out, 0755) != 0) {
    fprintf(stderr, "mlxc convert: cannot create %s: %s\n", o->out, strerror(errno));
    rc = 1;
    goto done;
  }
  if ((rc = eval_all(&out, "convert"))) goto done;
  char *wp = path_join(o->out, "model.safetensors");
  const char *mk[1] = {"format"}, *mv[1] = {"mlx"};
  mx_status st = mx_save_safetensors(wp, (const char *const *)out.names, out.arrays, out.n, mk,
                                     mv, 1);
  free(wp);
  if (st) {
    rc = fail("cannot write model.safetensors");
    goto done;
  }
  cJSON *cfg = cJSON_Duplicate(s->config, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(cfg, "quantization");
  cJSON_DeleteItemFromObjectCaseSensitive(cfg, "quantization_config");
  if (o->quantize) {
    cJSON *q = cJSON_AddObjectToObject(cfg, "quantization");
    cJSON_AddNumberToObject(q, "group_size", o->group);
    cJSON_AddNumberToObject(q, "bits", o->bits);
    static const char *modes[] = {"affine", "mxfp4", "nvfp4", "mxfp8"};
    cJSON_AddStringToObject(q, "mode", modes[o->mode]);
    cJSON_AddItemToObject(cfg, "quantization_config", cJSON_Duplicate(q, 1));
  }
  if (o->has_dtype) {
    const char *dn = o->dtype == MX_FLOAT32 ? "float32" : o->dtype == MX_BFLOAT16 ? "bfloat16"
                                                                                 : "float16";
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "torch_dtype");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "dtype");
    cJSON_AddStringToObject(cfg, "torch_dtype", dn);
  }
  rc = write_json(o->out, "config.json", cfg);
  cJSON_Delete(cfg);
  if (rc) goto done;
  if (src_dir) {
    rc = copy_side_files(src_dir, o->out);
  } else if (s->g) {
    rc = write_spm_tokenizer(s->g, o->out);
  }
done:
  tl_free(&out);
  return rc;
}

/* Removes what a failed conversion left behind (files we wrote only). */
static void cleanup_out(const char *out) {
  struct stat sb;
  if (stat(out, &sb) != 0) return;
  if (!S_ISDIR(sb.st_mode)) {
    unlink(out);
    return;
  }
  static const char *files[] = {"model.safetensors", "config.json", "tokenizer.json",
                                "tokenizer_config.json", "tokenizer.gguf"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char *p = path_join(out, files[i]);
    unlink(p);
    free(p);
  }
  rmdir(out);
}

/* ------------------------------------------------------------ to GGUF */

static const cJSON *cfg_get(const cJSON *c, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(c, k);
}

static int cfg_num(const cJSON *c, const char *k, double *v) {
  const cJSON *x = cfg_get(c, k);
  if (!cJSON_IsNumber(x)) return 0;
  *v = x->valuedouble;
  return 1;
}

static int write_gguf(source *s, const opts *o) {
  const cJSON *c = s->config;
  const cJSON *mt = cfg_get(c, "model_type");
  /* llama.cpp's architectures with this tensor layout: llama (Q/K permuted
   * for its interleaved RoPE) and qwen2 (half-split RoPE, q/k/v biases). */
  const char *arch = NULL;
  if (cJSON_IsString(mt) && (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "mistral")))
    arch = "llama";
  else if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "qwen2"))
    arch = "qwen2";
  if (!arch) {
    fprintf(stderr, "mlxc convert: --to-gguf supports llama-family models (model_type llama, "
            "mistral or qwen2), not '%s'\n", cJSON_IsString(mt) ? mt->valuestring : "?");
    return 2;
  }
  bool permute = !strcmp(arch, "llama");
  double hidden, layers, ffn, heads, kv = 0, eps = 1e-5, theta = 10000, ctx = 2048, hd = 0,
         vocab = 0;
  if (!cfg_num(c, "hidden_size", &hidden) || !cfg_num(c, "num_hidden_layers", &layers) ||
      !cfg_num(c, "intermediate_size", &ffn) || !cfg_num(c, "num_attention_heads", &heads)) {
    fprintf(stderr, "mlxc convert: config.json lacks hidden_size / num_hidden_layers / "
            "intermediate_size / num_attention_heads\n");
    return 1;
  }
  if (!cfg_num(c, "num_key_value_heads", &kv)) kv = heads;
  cfg_num(c, "rms_norm_eps", &eps);
  cfg_num(c, "max_position_embeddings", &ctx);
  cfg_num(c, "vocab_size", &vocab);
  if (!cfg_num(c, "head_dim", &hd)) hd = hidden / heads;
  /* rope: v4 rope_theta / rope_scaling or v5 rope_parameters. */
  const cJSON *rp = cfg_get(c, "rope_parameters"), *rs = cfg_get(c, "rope_scaling");
  if (!cfg_num(c, "rope_theta", &theta) && cJSON_IsObject(rp)) cfg_num(rp, "rope_theta", &theta);
  const cJSON *scal = cJSON_IsObject(rs) ? rs : rp;
  const char *rtype = "default";
  double factor = 1;
  if (cJSON_IsObject(scal)) {
    const cJSON *t = cfg_get(scal, "rope_type");
    if (!cJSON_IsString(t)) t = cfg_get(scal, "type");
    if (cJSON_IsString(t)) rtype = t->valuestring;
    cfg_num(scal, "factor", &factor);
  }
  if (strcmp(rtype, "default") && strcmp(rtype, "linear")) {
    fprintf(stderr, "mlxc convert: --to-gguf: rope type '%s' is not supported (default and "
            "linear are)\n", rtype);
    return 2;
  }
  mx_gguf_writer *w = mx_gguf_writer_new();
  char name[256];
  const char *base = strrchr(o->src, '/');
  snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : o->src);
  char key[128];
#define KEY(sfx) (snprintf(key, sizeof key, "%s." sfx, arch), key)
  mx_gguf_writer_set_string(w, "general.architecture", arch, strlen(arch));
  mx_gguf_writer_set_string(w, "general.name", name, strlen(name));
  mx_gguf_writer_set_uint32(w, KEY("context_length"), (uint32_t)ctx);
  mx_gguf_writer_set_uint32(w, KEY("embedding_length"), (uint32_t)hidden);
  mx_gguf_writer_set_uint32(w, KEY("block_count"), (uint32_t)layers);
  mx_gguf_writer_set_uint32(w, KEY("feed_forward_length"), (uint32_t)ffn);
  mx_gguf_writer_set_uint32(w, KEY("rope.dimension_count"), (uint32_t)hd);
  mx_gguf_writer_set_uint32(w, KEY("attention.head_count"), (uint32_t)heads);
  mx_gguf_writer_set_uint32(w, KEY("attention.head_count_kv"), (uint32_t)kv);
  if (hd != hidden / heads) {
    mx_gguf_writer_set_uint32(w, KEY("attention.key_length"), (uint32_t)hd);
    mx_gguf_writer_set_uint32(w, KEY("attention.value_length"), (uint32_t)hd);
  }
  mx_gguf_writer_set_float32(w, KEY("rope.freq_base"), (float)theta);
  mx_gguf_writer_set_float32(w, KEY("attention.layer_norm_rms_epsilon"), (float)eps);
  if (!strcmp(rtype, "linear")) {
    mx_gguf_writer_set_string(w, KEY("rope.scaling.type"), "linear", 6);
    mx_gguf_writer_set_float32(w, KEY("rope.scaling.factor"), (float)factor);
  }
  if (vocab > 0) mx_gguf_writer_set_uint32(w, KEY("vocab_size"), (uint32_t)vocab);
#undef KEY
  /* llama_ftype: MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7. */
  uint32_t ftype = o->gtype == MX_GGML_F16 ? 1 : o->gtype == MX_GGML_Q4_0 ? 2 : 7;
  mx_gguf_writer_set_uint32(w, "general.file_type", ftype);
  if (o->gtype != MX_GGML_F16) mx_gguf_writer_set_uint32(w, "general.quantization_version", 2);
  int rc = gguf_tokenizer_from_json(w, o->src, c);
  if (rc) {
    mx_gguf_writer_free(w);
    return rc;
  }
  const cJSON *tie = cfg_get(c, "tie_word_embeddings");
  bool tied = cJSON_IsTrue(tie); /* LlamaConfig's default is untied */
  tensor_list out = {0};
  size_t done = 0;
  for (size_t i = 0; i < s->t.n; i++) {
    const char *hn = s->t.names[i];
    char gn[512];
    if (strstr(hn, "rotary_emb.inv_freq") || (tied && !strcmp(hn, "lm_head.weight"))) continue;
    if (!gguf_name(hn, gn, sizeof gn)) {
      fprintf(stderr, "mlxc convert: --to-gguf: no GGUF name for tensor '%s'\n", hn);
      rc = 1;
      break;
    }
    mx_array a = mx_array_retain(s->t.arrays[i]);
    if (permute && (strstr(hn, "self_attn.q_proj.") || strstr(hn, "self_attn.k_proj."))) {
      mx_array p = permute_heads(a, (int64_t)(strstr(hn, "q_proj") ? heads : kv), true);
      mx_array_free(a);
      a = p;
    }
    int nd = mx_array_ndim(a);
    mx_status st;
    if (nd < 2 || o->gtype == MX_GGML_F16 || mx_array_dim(a, -1) % 32 != 0) {
      /* Norms and 1-D tensors stay F32 (llama.cpp's converter); matrices whose
       * rows are not whole blocks fall back to F16 as it does. */
      mx_array f = mx_astype(a, nd < 2 ? MX_FLOAT32 : MX_FLOAT16);
      st = f && mx_eval1(f) == MX_OK ? mx_gguf_writer_add_tensor(w, gn, f) : mx_last_error_code();
      tl_push(&out, gn, f);
    } else {
      mx_array f = mx_astype(a, MX_FLOAT32), b = NULL;
      st = mx_gguf_quantize(f, o->gtype, &b);
      mx_array_free(f);
      if (!st) st = mx_eval1(b);
      if (!st) st = mx_gguf_writer_add_blocks(w, gn, o->gtype, mx_array_shape(a), nd, b);
      tl_push(&out, gn, b);
    }
    mx_array_free(a);
    if (st) {
      rc = fail(hn);
      break;
    }
    progress("convert", ++done, s->t.n);
  }
  if (!rc && mx_gguf_writer_write(w, o->out) != MX_OK) rc = fail("cannot write the GGUF file");
  mx_gguf_writer_free(w);
  tl_free(&out);
  return rc;
}

/* ------------------------------------------------------------ tokenizers */

/* A string -> id map (open addressing) for the merge derivation. */
typedef struct smap {
  size_t cap;
  const char **keys;
  size_t *lens;
  int32_t *vals;
} smap;

static uint64_t shash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static void smap_init(smap *m, size_t n) {
  m->cap = 16;
  while (m->cap < 2 * n + 16) m->cap *= 2;
  m->keys = calloc(m->cap, sizeof *m->keys);
  m->lens = calloc(m->cap, sizeof *m->lens);
  m->vals = calloc(m->cap, sizeof *m->vals);
}

static void smap_put(smap *m, const char *k, size_t n, int32_t v) {
  size_t i = shash(k, n) & (m->cap - 1);
  while (m->keys[i]) {
    if (m->lens[i] == n && !memcmp(m->keys[i], k, n)) return; /* first id wins */
    i = (i + 1) & (m->cap - 1);
  }
  m->keys[i] = k;
  m->lens[i] = n;
  m->vals[i] = v;
}

static int32_t smap_get(const smap *m, const char *k, size_t n) {
  size_t i = shash(k, n) & (m->cap - 1);
  while (m->keys[i]) {
    if (m->lens[i] == n && !memcmp(m->keys[i], k, n)) return m->vals[i];
    i = (i + 1) & (m->cap - 1);
  }
  return -1;
}

static void smap_free(smap *m) {
  free(m->keys);
  free(m->lens);
  free(m->vals);
}

typedef struct merge {
  float score;
  int32_t target, l, r;
  uint32_t split;
} merge;

static int merge_cmp(const void *a, const void *b) {
  const merge *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  if (x->target != y->target) return x->target < y->target ? -1 : 1;
  if (x->l != y->l) return x->l < y->l ? -1 : 1;
  return (x->r > y->r) - (x->r < y->r);
}

static cJSON *str_n(const char *s, size_t n) {
  char *t = strndup(s, n);
  cJSON *j = cJSON_CreateString(t);
  free(t);
  return j;
}

/* tokenizer_config.json for a GGUF source: special tokens, add_bos, chat
 * template (mlxc generate reads these from a folder). */
static int write_tok_config(mx_gguf *g, const char *dir) {
  cJSON *c = cJSON_CreateObject();
  int64_t tk = mx_gguf_find_key(g, "tokenizer.ggml.tokens"), v;
  static const struct {
    const char *key, *name;
  } sp[] = {{"tokenizer.ggml.bos_token_id", "bos_token"},
            {"tokenizer.ggml.eos_token_id", "eos_token"},
            {"tokenizer.ggml.unknown_token_id", "unk_token"},
            {"tokenizer.ggml.padding_token_id", "pad_token"}};
  for (size_t i = 0; i < sizeof sp / sizeof *sp && tk >= 0; i++) {
    const char *s;
    size_t l;
    if (gguf_int(g, sp[i].key, &v) && mx_gguf_get_array_string(g, tk, (uint64_t)v, &s, &l) == MX_OK)
      cJSON_AddItemToObject(c, sp[i].name, str_n(s, l));
  }
  int64_t k = mx_gguf_find_key(g, "tokenizer.ggml.add_bos_token");
  bool b;
  if (k >= 0 && mx_gguf_get_bool(g, k, &b) == MX_OK) cJSON_AddBoolToObject(c, "add_bos_token", b);
  k = mx_gguf_find_key(g, "tokenizer.ggml.add_eos_token");
  if (k >= 0 && mx_gguf_get_bool(g, k, &b) == MX_OK) cJSON_AddBoolToObject(c, "add_eos_token", b);
  k = mx_gguf_find_key(g, "tokenizer.chat_template");
  const char *s;
  size_t l;
  if (k >= 0 && mx_gguf_get_string(g, k, &s, &l) == MX_OK)
    cJSON_AddItemToObject(c, "chat_template", str_n(s, l));
  cJSON_AddStringToObject(c, "tokenizer_class", "PreTrainedTokenizerFast");
  int rc = write_json(dir, "tokenizer_config.json", c);
  cJSON_Delete(c);
  return rc;
}

/* A tokenizer-only GGUF next to the weights (mx_tokenizer_load finds a
 * single .gguf in a folder) for vocabularies other than SentencePiece. */
static int write_tokenizer_gguf(mx_gguf *g, const char *dir) {
  mx_gguf_writer *w = mx_gguf_writer_new();
  for (int64_t i = 0; i < mx_gguf_kv_count(g); i++)
    if (!strncmp(mx_gguf_key(g, i), "tokenizer.", 10) && mx_gguf_writer_copy_kv(w, g, i) != MX_OK) {
      mx_gguf_writer_free(w);
      return fail("tokenizer keys");
    }
  char *p = path_join(dir, "tokenizer.gguf");
  int rc = mx_gguf_writer_write(w, p) == MX_OK ? 0 : fail("cannot write tokenizer.gguf");
  free(p);
  mx_gguf_writer_free(w);
  return rc;
}

/* SentencePiece (llama) vocab -> tokenizer.json as transformers'
 * LlamaConverter writes it: BPE with byte fallback whose merges are every
 * split (a, b) of a piece into two pieces, ranked by the piece's score (the
 * SentencePiece BPE merge order), ties by piece id then (a, b) ids. */
static int write_spm_tokenizer(mx_gguf *g, const char *dir) {
  int64_t mk = mx_gguf_find_key(g, "tokenizer.ggml.model");
  const char *model = NULL;
  size_t ml = 0;
  if (mk < 0 || mx_gguf_get_string(g, mk, &model, &ml) != MX_OK) {
    fprintf(stderr, "mlxc convert: note: the GGUF has no tokenizer; the folder has weights only\n");
    return 0;
  }
  int rc = write_tok_config(g, dir);
  if (rc) return rc;
  if (!(ml == 5 && !memcmp(model, "llama", 5))) {
    fprintf(stderr, "mlxc convert: note: the GGUF's '%.*s' vocabulary is kept as "
            "tokenizer.gguf (mlxc reads it; transformers does not)\n", (int)ml, model);
    return write_tokenizer_gguf(g, dir);
  }
  int64_t tk = mx_gguf_find_key(g, "tokenizer.ggml.tokens");
  int64_t sk = mx_gguf_find_key(g, "tokenizer.ggml.scores");
  int64_t ty = mx_gguf_find_key(g, "tokenizer.ggml.token_type");
  mx_gguf_type et;
  uint64_t n = 0;
  if (tk < 0 || mx_gguf_get_array(g, tk, &et, &n) != MX_OK || et != MX_GGUF_STRING || n == 0 ||
      n > INT32_MAX) {
    fprintf(stderr, "mlxc convert: the GGUF's tokenizer.ggml.tokens is missing or malformed\n");
    return 1;
  }
  const char **tok = malloc(n * sizeof *tok);
  size_t *tl = malloc(n * sizeof *tl);
  float *score = calloc(n, sizeof *score);
  int32_t *type = malloc(n * sizeof *type);
  smap m;
  smap_init(&m, n);
  for (uint64_t i = 0; i < n; i++) {
    mx_gguf_get_array_string(g, tk, i, &tok[i], &tl[i]);
    double d = 0;
    int64_t t = 1;
    if (sk >= 0) mx_gguf_get_array_float(g, sk, i, &d);
    if (ty >= 0) mx_gguf_get_array_int(g, ty, i, &t);
    score[i] = (float)d;
    type[i] = (int32_t)t;
    smap_put(&m, tok[i], tl[i], (int32_t)i);
  }
  size_t nm = 0, mcap = 1024;
  merge *mg = malloc(mcap * sizeof *mg);
  for (uint64_t i = 0; i < n; i++) {
    if (type[i] != 1) continue; /* only normal pieces are merge results */
    for (size_t s = 1; s < tl[i]; s++) {
      int32_t l = smap_get(&m, tok[i], s), r = smap_get(&m, tok[i] + s, tl[i] - s);
      if (l < 0 || r < 0 || type[l] != 1 || type[r] != 1) continue;
      if (nm == mcap) mg = realloc(mg, (mcap *= 2) * sizeof *mg);
      mg[nm++] = (merge){score[i], (int32_t)i, l, r, (uint32_t)s};
    }
  }
  qsort(mg, nm, sizeof *mg, merge_cmp);
  int64_t unk = -1, bos = -1, add_space = 1, v;
  gguf_int(g, "tokenizer.ggml.unknown_token_id", &unk);
  gguf_int(g, "tokenizer.ggml.bos_token_id", &bos);
  int64_t ks = mx_gguf_find_key(g, "tokenizer.ggml.add_space_prefix");
  bool bb;
  if (ks >= 0 && mx_gguf_get_bool(g, ks, &bb) == MX_OK) add_space = bb;
  bool add_bos = true;
  ks = mx_gguf_find_key(g, "tokenizer.ggml.add_bos_token");
  if (ks >= 0 && mx_gguf_get_bool(g, ks, &bb) == MX_OK) add_bos = bb;
  (void)v;

  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "version", "1.0");
  cJSON_AddNullToObject(j, "truncation");
  cJSON_AddNullToObject(j, "padding");
  cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
  for (uint64_t i = 0; i < n; i++) {
    if (type[i] != 2 && type[i] != 3 && type[i] != 4) continue;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", (double)i);
    cJSON_AddItemToObject(a, "content", str_n(tok[i], tl[i]));
    cJSON_AddBoolToObject(a, "single_word", 0);
    cJSON_AddBoolToObject(a, "lstrip", 0);
    cJSON_AddBoolToObject(a, "rstrip", 0);
    cJSON_AddBoolToObject(a, "normalized", type[i] == 4);
    cJSON_AddBoolToObject(a, "special", type[i] != 4);
    cJSON_AddItemToArray(added, a);
  }
  cJSON *norm = cJSON_AddObjectToObject(j, "normalizer");
  cJSON_AddStringToObject(norm, "type", "Sequence");
  cJSON *ns = cJSON_AddArrayToObject(norm, "normalizers");
  if (add_space) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "Prepend");
    cJSON_AddStringToObject(p, "prepend", "\xE2\x96\x81");
    cJSON_AddItemToArray(ns, p);
  }
  cJSON *rp = cJSON_CreateObject();
  cJSON_AddStringToObject(rp, "type", "Replace");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(rp, "pattern"), "String", " ");
  cJSON_AddStringToObject(rp, "content", "\xE2\x96\x81");
  cJSON_AddItemToArray(ns, rp);
  cJSON_AddNullToObject(j, "pre_tokenizer");
  if (add_bos && bos >= 0 && (uint64_t)bos < n) {
    cJSON *pp = cJSON_AddObjectToObject(j, "post_processor");
    cJSON_AddStringToObject(pp, "type", "TemplateProcessing");
    const char *parts[2] = {"single", "pair"};
    for (int k = 0; k < 2; k++) {
      cJSON *arr = cJSON_AddArrayToObject(pp, parts[k]);
      for (int s = 0; s <= k; s++) {
        cJSON *st = cJSON_CreateObject(), *sti = cJSON_AddObjectToObject(st, "SpecialToken");
        cJSON_AddItemToObject(sti, "id", str_n(tok[bos], tl[bos]));
        cJSON_AddNumberToObject(sti, "type_id", s);
        cJSON_AddItemToArray(arr, st);
        cJSON *sq = cJSON_CreateObject(), *sqi = cJSON_AddObjectToObject(sq, "Sequence");
        cJSON_AddStringToObject(sqi, "id", s ? "B" : "A");
        cJSON_AddNumberToObject(sqi, "type_id", s);
        cJSON_AddItemToArray(arr, sq);
      }
    }
    cJSON *stoks = cJSON_AddObjectToObject(pp, "special_tokens");
    char *bs = strndup(tok[bos], tl[bos]);
    cJSON *e = cJSON_AddObjectToObject(stoks, bs);
    cJSON_AddStringToObject(e, "id", bs);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "ids"), cJSON_CreateNumber((double)bos));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "tokens"), cJSON_CreateString(bs));
    free(bs);
  } else {
    cJSON_AddNullToObject(j, "post_processor");
  }
  cJSON *dec = cJSON_AddObjectToObject(j, "decoder");
  cJSON_AddStringToObject(dec, "type", "Sequence");
  cJSON *ds = cJSON_AddArrayToObject(dec, "decoders");
  cJSON *d0 = cJSON_CreateObject();
  cJSON_AddStringToObject(d0, "type", "Replace");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(d0, "pattern"), "String", "\xE2\x96\x81");
  cJSON_AddStringToObject(d0, "content", " ");
  cJSON_AddItemToArray(ds, d0);
  cJSON *d1 = cJSON_CreateObject();
  cJSON_AddStringToObject(d1, "type", "ByteFallback");
  cJSON_AddItemToArray(ds, d1);
  cJSON *d2 = cJSON_CreateObject();
  cJSON_AddStringToObject(d2, "type", "Fuse");
  cJSON_AddItemToArray(ds, d2);
  if (add_space) {
    cJSON *d3 = cJSON_CreateObject();
    cJSON_AddStringToObject(d3, "type", "Strip");
    cJSON_AddStringToObject(d3, "content", " ");
    cJSON_AddNumberToObject(d3, "start", 1);
    cJSON_AddNumberToObject(d3, "stop", 0);
    cJSON_AddItemToArray(ds, d3);
  }
  cJSON *mo = cJSON_AddObjectToObject(j, "model");
  cJSON_AddStringToObject(mo, "type", "BPE");
  cJSON_AddNullToObject(mo, "dropout");
  if (unk >= 0 && (uint64_t)unk < n)
    cJSON_AddItemToObject(mo, "unk_token", str_n(tok[unk], tl[unk]));
  else
    cJSON_AddNullToObject(mo, "unk_token");
  cJSON_AddNullToObject(mo, "continuing_subword_prefix");
  cJSON_AddNullToObject(mo, "end_of_word_suffix");
  cJSON_AddBoolToObject(mo, "fuse_unk", 1);
  cJSON_AddBoolToObject(mo, "byte_fallback", 1);
  cJSON_AddBoolToObject(mo, "ignore_merges", 0);
  cJSON *voc = cJSON_AddObjectToObject(mo, "vocab");
  for (uint64_t i = 0; i < n; i++) {
    if (smap_get(&m, tok[i], tl[i]) != (int32_t)i) continue; /* a duplicate piece */
    char *k = strndup(tok[i], tl[i]);
    cJSON_AddNumberToObject(voc, k, (double)i);
    free(k);
  }
  cJSON *merges = cJSON_AddArrayToObject(mo, "merges");
  for (size_t i = 0; i < nm; i++) {
    cJSON *pr = cJSON_CreateArray();
    cJSON_AddItemToArray(pr, str_n(tok[mg[i].target], mg[i].split));
    cJSON_AddItemToArray(pr, str_n(tok[mg[i].target] + mg[i].split, tl[mg[i].target] - mg[i].split));
    cJSON_AddItemToArray(merges, pr);
  }
  rc = write_json(dir, "tokenizer.json", j);
  cJSON_Delete(j);
  smap_free(&m);
  free(mg);
  free(tok);
  free(tl);
  free(score);
  free(type);
  return rc;
}

/* The GGUF pre-tokenizer name of a tokenizer.json's byte-level pipeline. */
static const char *pre_name(const cJSON *pre) {
  static const char *llama3 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char *qwen2 =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const cJSON *t = cfg_get(pre, "type");
  if (!cJSON_IsString(t)) return NULL;
  if (!strcmp(t->valuestring, "ByteLevel")) {
    const cJSON *ur = cfg_get(pre, "use_regex");
    return !cJSON_IsBool(ur) || cJSON_IsTrue(ur) ? "gpt-2" : NULL;
  }
  if (!strcmp(t->valuestring, "Sequence")) {
    const cJSON *subs = cfg_get(pre, "pretokenizers"), *s;
    cJSON_ArrayForEach(s, subs) {
      const cJSON *st = cfg_get(s, "type"), *pat = cfg_get(cfg_get(s, "pattern"), "Regex");
      if (cJSON_IsString(st) && !strcmp(st->valuestring, "Split") && cJSON_IsString(pat)) {
        if (!strcmp(pat->valuestring, llama3)) return "llama-bpe";
        if (!strcmp(pat->valuestring, qwen2)) return "qwen2";
        return NULL;
      }
    }
  }
  return NULL;
}

static int32_t added_id(const cJSON *tokj, const char *content) {
  const cJSON *a;
  cJSON_ArrayForEach(a, cfg_get(tokj, "added_tokens")) {
    const cJSON *c = cfg_get(a, "content"), *id = cfg_get(a, "id");
    if (cJSON_IsString(c) && cJSON_IsNumber(id) && !strcmp(c->valuestring, content))
      return (int32_t)id->valuedouble;
  }
  const cJSON *v = cfg_get(cfg_get(cfg_get(tokj, "model"), "vocab"), content);
  return cJSON_IsNumber(v) ? (int32_t)v->valuedouble : -1;
}

static const char *special_str(const cJSON *tc, const char *k) {
  const cJSON *v = cfg_get(tc, k);
  if (cJSON_IsString(v)) return v->valuestring;
  const cJSON *c = cfg_get(v, "content");
  return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* tokenizer.json (BPE) -> tokenizer.ggml.*: byte-level BPE becomes "gpt2"
 * (tokens, types, merges, pre-tokenizer name), SentencePiece-style BPE with
 * byte fallback becomes "llama" with scores = minus the merge rank of the
 * merge producing each piece (so llama.cpp's score-ordered merging follows
 * the merge list). Anything else: a weights-only file, said so. */
static int gguf_tokenizer_from_json(mx_gguf_writer *w, const char *src, const cJSON *cfg) {
  char *p = path_join(src, "tokenizer.json");
  cJSON *tj = read_json(p);
  free(p);
  p = path_join(src, "tokenizer_config.json");
  cJSON *tc = read_json(p);
  free(p);
  int rc = 0;
  const cJSON *mo = cfg_get(tj, "model"), *mt = cfg_get(mo, "type");
  if (!tj || !cJSON_IsString(mt) || strcmp(mt->valuestring, "BPE")) {
    fprintf(stderr, "mlxc convert: note: %s; the GGUF has weights only (mlxc loads it; "
            "text needs a tokenizer)\n",
            tj ? "the tokenizer is not BPE" : "no tokenizer.json");
    goto done;
  }
  const cJSON *vocab = cfg_get(mo, "vocab"), *merges = cfg_get(mo, "merges"), *it;
  const cJSON *bf = cfg_get(mo, "byte_fallback");
  bool spm = cJSON_IsTrue(bf);
  const char *pre = spm ? NULL : pre_name(cfg_get(tj, "pre_tokenizer"));
  if (!spm && !pre) {
    fprintf(stderr, "mlxc convert: note: the tokenizer's pre-tokenizer has no llama.cpp name; "
            "the GGUF has weights only\n");
    goto done;
  }
  int64_t n = 0;
  cJSON_ArrayForEach(it, vocab) if (cJSON_IsNumber(it) && it->valuedouble + 1 > n) n = (int64_t)it->valuedouble + 1;
  cJSON_ArrayForEach(it, cfg_get(tj, "added_tokens")) {
    const cJSON *id = cfg_get(it, "id");
    if (cJSON_IsNumber(id) && id->valuedouble + 1 > n) n = (int64_t)id->valuedouble + 1;
  }
  double vs;
  if (cfg_num(cfg, "vocab_size", &vs) && vs > n) n = (int64_t)vs;
  const char **toks = calloc((size_t)n, sizeof *toks);
  int32_t *types = malloc((size_t)n * sizeof *types);
  float *scores = malloc((size_t)n * sizeof *scores);
  char **pad = calloc((size_t)n, sizeof *pad);
  size_t *lens = malloc((size_t)n * sizeof *lens);
  for (int64_t i = 0; i < n; i++) types[i] = 1, scores[i] = 0;
  cJSON_ArrayForEach(it, vocab) {
    int64_t id = (int64_t)it->valuedouble;
    if (id >= 0 && id < n) toks[id] = it->string;
  }
  cJSON_ArrayForEach(it, cfg_get(tj, "added_tokens")) {
    const cJSON *id = cfg_get(it, "id"), *c = cfg_get(it, "content");
    if (!cJSON_IsNumber(id) || !cJSON_IsString(c)) continue;
    int64_t k = (int64_t)id->valuedouble;
    if (k < 0 || k >= n) continue;
    toks[k] = c->valuestring;
    types[k] = cJSON_IsTrue(cfg_get(it, "special")) ? 3 : 4;
  }
  for (int64_t i = 0; i < n; i++) {
    if (!toks[i]) { /* ids the vocab leaves out (padded embeddings) */
      pad[i] = malloc(32);
      snprintf(pad[i], 32, "[PAD%lld]", (long long)i);
      toks[i] = pad[i];
      types[i] = 5;
    }
    lens[i] = strlen(toks[i]);
    if (spm && types[i] == 1 && lens[i] == 6 && !strncmp(toks[i], "<0x", 3) && toks[i][5] == '>')
      types[i] = 6;
  }
  smap vm;
  smap_init(&vm, (size_t)n);
  for (int64_t i = 0; i < n; i++) smap_put(&vm, toks[i], lens[i], (int32_t)i);
  size_t nmerge = (size_t)cJSON_GetArraySize(merges);
  char **ms = calloc(nmerge ? nmerge : 1, sizeof *ms);
  size_t *mls = calloc(nmerge ? nmerge : 1, sizeof *mls);
  size_t k = 0;
  cJSON_ArrayForEach(it, merges) {
    const char *a = NULL, *b = NULL;
    if (cJSON_IsString(it)) {
      ms[k] = strdup(it->valuestring);
    } else if (cJSON_GetArraySize(it) == 2) {
      a = cJSON_GetArrayItem(it, 0)->valuestring;
      b = cJSON_GetArrayItem(it, 1)->valuestring;
      if (a && b) {
        size_t la = strlen(a), lb = strlen(b);
        ms[k] = malloc(la + lb + 2);
        memcpy(ms[k], a, la);
        ms[k][la] = ' ';
        memcpy(ms[k] + la + 1, b, lb + 1);
      }
    }
    if (!ms[k]) ms[k] = strdup("");
    mls[k] = strlen(ms[k]);
    if (spm) {
      /* The merged piece gets the score of its first merge. */
      char *sp = strchr(ms[k], ' ');
      if (sp) {
        *sp = 0;
        char *joined = malloc(mls[k] + 1);
        snprintf(joined, mls[k] + 1, "%s%s", ms[k], sp + 1);
        *sp = ' ';
        int32_t t = smap_get(&vm, joined, mls[k] - 1);
        if (t >= 0 && scores[t] == 0) scores[t] = -(float)(k + 1);
        free(joined);
      }
    }
    k++;
  }
  mx_gguf_writer_set_string(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2", spm ? 5 : 4);
  if (!spm) mx_gguf_writer_set_string(w, "tokenizer.ggml.pre", pre, strlen(pre));
  mx_gguf_writer_set_string_array(w, "tokenizer.ggml.tokens", toks, lens, (uint64_t)n);
  if (spm) mx_gguf_writer_set_array(w, "tokenizer.ggml.scores", MX_GGUF_FLOAT32, scores, (uint64_t)n);
  mx_gguf_writer_set_array(w, "tokenizer.ggml.token_type", MX_GGUF_INT32, types, (uint64_t)n);
  if (!spm)
    mx_gguf_writer_set_string_array(w, "tokenizer.ggml.merges", (const char *const *)ms, mls,
                                    (uint64_t)nmerge);
  static const struct {
    const char *cfgkey, *ggufkey;
  } sp[] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
            {"eos_token", "tokenizer.ggml.eos_token_id"},
            {"unk_token", "tokenizer.ggml.unknown_token_id"},
            {"pad_token", "tokenizer.ggml.padding_token_id"}};
  for (size_t i = 0; i < sizeof sp / sizeof *sp; i++) {
    const char *s = special_str(tc, sp[i].cfgkey);
    int32_t id = s ? added_id(tj, s) : -1;
    double d;
    if (id < 0 && i < 2 && cfg_num(cfg, i == 0 ? "bos_token_id" : "eos_token_id", &d)) id = (int32_t)d;
    if (id >= 0) mx_gguf_writer_set_uint32(w, sp[i].ggufkey, (uint32_t)id);
  }
  const cJSON *ab = cfg_get(tc, "add_bos_token");
  if (cJSON_IsBool(ab)) mx_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", cJSON_IsTrue(ab));
  const cJSON *ae = cfg_get(tc, "add_eos_token");
  if (cJSON_IsBool(ae)) mx_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae));
  const cJSON *ct = cfg_get(tc, "chat_template");
  char *tmpl = NULL;
  if (cJSON_IsString(ct)) {
    tmpl = strdup(ct->valuestring);
  } else {
    p = path_join(src, "chat_template.jinja");
    tmpl = read_file(p, NULL);
    free(p);
  }
  if (tmpl) mx_gguf_writer_set_string(w, "tokenizer.chat_template", tmpl, strlen(tmpl));
  free(tmpl);
  smap_free(&vm);
  for (size_t i = 0; i < nmerge; i++) free(ms[i]);
  free(ms);
  free(mls);
  for (int64_t i = 0; i < n; i++) free(pad[i]);
  free(pad);
  free(toks);
  free(types);
  free(scores);
  free(lens);
done:
  cJSON_Delete(tj);
  cJSON_Delete(tc);
  return rc;
}

/* ------------------------------------------------------------ main */

int cmd_convert(int argc, char **argv) {
  opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  struct stat sb;
  stat(o.src, &sb);
  bool src_dir = S_ISDIR(sb.st_mode);
  source s = {0};
  if (src_dir) {
    rc = open_folder(&s, o.src);
  } else {
    FILE *f = fopen(o.src, "rb");
    char magic[4] = {0};
    bool gguf = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    if (!gguf) {
      rc = bad("SRC '%s' is neither a model folder nor a .gguf file", o.src);
    } else if (o.to_gguf) {
      rc = bad("SRC '%s' is already a GGUF file; --to-gguf takes a folder", o.src);
    } else {
      rc = open_gguf(&s, o.src, &o);
    }
  }
  if (!rc && o.quantize && s.was_quantized && src_dir) {
    rc = bad("SRC '%s' is already quantized (use --dequantize, or --to-gguf)", o.src);
  } else if (!rc && !o.quantize && !o.dequantize && !o.to_gguf && s.was_quantized && src_dir) {
    rc = bad("SRC '%s' is quantized: say --dequantize (or --to-gguf)", o.src);
  } else if (!rc && o.dequantize && !s.was_quantized) {
    rc = bad("--dequantize: SRC '%s' is not quantized", o.src);
  }
  if (!rc) rc = o.to_gguf ? write_gguf(&s, &o) : write_folder(&s, &o, src_dir ? o.src : NULL);
  if (rc) cleanup_out(o.out);
  source_free(&s);
  return rc;
}
