/* cmd_generate.c — `mlxc generate`: mlx_lm.generate's command line. Loads a
 * model folder or .gguf, applies the chat template unless told not to,
 * streams text to stdout, and with --verbose prints mlx-lm's statistics. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlxc/mlxc.h"
#include "mlxc/tokenizer.h"

static void gen_usage(FILE *f) {
  fprintf(f,
          "usage: mlxc generate -m MODEL [-p PROMPT] [-n N] [--temp T] [--top-p P] [--min-p P]\n"
          "                     [--top-k K] [--seed S] [--system S] [--ignore-chat-template]\n"
          "                     [--max-kv-size N] [--kv-bits B] [--draft-model M] [--verbose]\n"
          "  -m, --model MODEL         a model folder or a .gguf file\n"
          "  -p, --prompt PROMPT       the prompt (\"-\" reads stdin; default \"hello\"); with\n"
          "                            --ignore-chat-template an empty prompt is BOS alone\n"
          "  -n, --max-tokens N        tokens to generate (default 100)\n"
          "  --temp T                  sampling temperature, 0 = greedy (default 0)\n"
          "  --top-p P, --min-p P, --top-k K, --min-tokens-to-keep K   filters (off by default)\n"
          "  --xtc-probability P, --xtc-threshold T                    XTC sampling\n"
          "  --seed S                  seed for sampling\n"
          "  --system S                a system message for the chat template\n"
          "  --ignore-chat-template    tokenize the prompt as it is (with BOS)\n"
          "  --max-kv-size N           keep at most N positions in the KV cache (rotating,\n"
          "                            the first 4 kept)\n"
          "  --kv-bits B               store keys/values quantized to B bits (2..8)\n"
          "  --kv-group-size G         their quantization group (32, 64 or 128; default 64)\n"
          "  --quantized-kv-start N    quantize once the cache holds N positions (default 0)\n"
          "  --draft-model M           speculative decoding with a draft model M\n"
          "  --num-draft-tokens K      tokens the draft proposes per step (default 2)\n"
          "  --verbose                 print prompt and statistics to stderr\n");
}

static char *read_stdin(void) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  size_t r;
  while ((r = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
    len += r;
    if (cap - len - 1 == 0) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
  }
  buf[len] = 0;
  return buf;
}

/* mlx-lm turns the two-character escapes \n and \t of a prompt into the
 * characters. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && (r[1] == 'n' || r[1] == 't')) {
      *w++ = r[1] == 'n' ? '\n' : '\t';
      r++;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
}

static bool is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The chat template of a folder, or of a GGUF file's tokenizer.chat_template;
 * NULL when the model has none. */
static mx_chat_template *load_template(const char *model) {
  if (is_dir(model)) {
    mx_chat_template *t = mx_chat_template_load_file(model, NULL);
    if (!t && mx_last_error_code() == MX_ERR_IO) mx_clear_error();
    return t;
  }
  mx_gguf *g = mx_gguf_open(model);
  if (!g) return NULL;
  int64_t k = mx_gguf_find_key(g, "tokenizer.chat_template");
  const char *s;
  size_t n;
  mx_chat_template *t = NULL;
  if (k >= 0 && mx_gguf_get_string(g, k, &s, &n) == MX_OK) t = mx_chat_template_load(s, n);
  mx_gguf_close(g);
  return t;
}

static void add_special_var(cJSON *o, const mx_tokenizer *tok, const char *name, int32_t id) {
  size_t len;
  const char *s = id >= 0 ? mx_tokenizer_id_to_token(tok, id, &len) : NULL;
  if (!s) return;
  char *z = malloc(len + 1);
  if (!z) return;
  memcpy(z, s, len);
  z[len] = 0;
  cJSON_AddStringToObject(o, name, z);
  free(z);
}

typedef struct stream {
  mx_detokenizer *detok;
  bool ids_only;
} stream;

static int on_token(void *user, int32_t tok, mx_array logprobs) {
  stream *s = user;
  (void)logprobs;
  if (s->ids_only) {
    printf("%d ", (int)tok);
  } else if (mx_detokenizer_add(s->detok, tok) == MX_OK) {
    size_t n;
    const char *seg = mx_detokenizer_last_segment(s->detok, &n);
    if (seg && n) fwrite(seg, 1, n, stdout);
  }
  fflush(stdout);
  return 0;
}

static int fail(const char *what) {
  fprintf(stderr, "mlxc generate: %s%s%s\n", what, mx_last_error()[0] ? ": " : "",
          mx_last_error());
  return 2;
}

static bool parse_num(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno) return false;
  *out = v;
  return true;
}

int cmd_generate(int argc, char **argv) {
  const char *model = NULL, *prompt_arg = "hello", *system = NULL;
  int64_t max_tokens = 100;
  bool ignore_template = false, verbose = false;
  mx_lm_sampler_params sp = mx_lm_sampler_default_params();
  sp.xtc_threshold = 0.0; /* mlx_lm.generate's default */
  mx_lm_cache_params cp = mx_lm_cache_default_params();
  const char *draft_path = NULL;
  int num_draft = 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
#define NEEDV()                                                               \
  do {                                                                        \
    if (!v) {                                                                 \
      fprintf(stderr, "mlxc generate: %s needs a value\n", a);                \
      return 2;                                                               \
    }                                                                         \
    i++;                                                                      \
  } while (0)
#define NUM(dst, cond)                                                        \
  do {                                                                        \
    NEEDV();                                                                  \
    if (!parse_num(v, &d) || !(cond)) {                                       \
      fprintf(stderr, "mlxc generate: bad value '%s' for %s\n", v, a);        \
      return 2;                                                               \
    }                                                                         \
    dst = d;                                                                  \
  } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      gen_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
      NEEDV();
      model = v;
    } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
      NEEDV();
      prompt_arg = v;
    } else if (!strcmp(a, "--system") || !strcmp(a, "--system-prompt")) {
      NEEDV();
      system = v;
    } else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
      NUM(max_tokens, d >= -1 && d == (int64_t)d && d < 1e12);
    } else if (!strcmp(a, "--temp")) {
      NUM(sp.temp, d >= 0);
    } else if (!strcmp(a, "--top-p")) {
      NUM(sp.top_p, d >= 0 && d <= 1);
    } else if (!strcmp(a, "--min-p")) {
      NUM(sp.min_p, d >= 0 && d <= 1);
    } else if (!strcmp(a, "--top-k")) {
      NUM(sp.top_k, d >= 0 && d == (int32_t)d);
    } else if (!strcmp(a, "--min-tokens-to-keep")) {
      NUM(sp.min_tokens_to_keep, d >= 1 && d == (int32_t)d);
    } else if (!strcmp(a, "--xtc-probability")) {
      NUM(sp.xtc_probability, d >= 0 && d <= 1);
    } else if (!strcmp(a, "--xtc-threshold")) {
      NUM(sp.xtc_threshold, d >= 0 && d <= 0.5);
    } else if (!strcmp(a, "--seed")) {
      NUM(sp.seed, d >= 0 && d == (int64_t)d && d < 9e15);
    } else if (!strcmp(a, "--ignore-chat-template")) {
      ignore_template = true;
    } else if (!strcmp(a, "--verbose")) {
      verbose = true;
    } else if (!strcmp(a, "--max-kv-size")) {
      NUM(cp.max_kv_size, d >= 1 && d == (int64_t)d && d < 1e12);
    } else if (!strcmp(a, "--kv-bits")) {
      NUM(cp.kv_bits, d >= 2 && d <= 8 && d == (int)d);
    } else if (!strcmp(a, "--kv-group-size")) {
      NUM(cp.kv_group_size, d == 32 || d == 64 || d == 128);
    } else if (!strcmp(a, "--quantized-kv-start")) {
      NUM(cp.quantized_kv_start, d >= 0 && d == (int64_t)d && d < 1e12);
    } else if (!strcmp(a, "--draft-model")) {
      NEEDV();
      draft_path = v;
    } else if (!strcmp(a, "--num-draft-tokens")) {
      NUM(num_draft, d >= 1 && d <= 64 && d == (int)d);
    } else {
      fprintf(stderr, "mlxc generate: unknown option '%s' (see --help)\n", a);
      return 2;
    }
#undef NUM
#undef NEEDV
  }
  if (!model) {
    fprintf(stderr, "mlxc generate: -m MODEL is required (see --help)\n");
    return 2;
  }

  mx_lm_model *m = mx_lm_load(model);
  if (!m) return fail("cannot load the model");
  mx_lm_model *draft = NULL;
  if (draft_path && !(draft = mx_lm_load(draft_path))) {
    mx_lm_free(m);
    return fail("cannot load the draft model");
  }
  mx_tokenizer *tok = mx_tokenizer_load(model);
  int rc = 0;
  char *prompt = strcmp(prompt_arg, "-") == 0 ? read_stdin() : strdup(prompt_arg);
  int32_t *ids = NULL;
  size_t nids = 0;
  mx_chat_template *tmpl = NULL;
  stream s = {0};
  if (!prompt) {
    rc = fail("out of memory");
    goto done;
  }
  unescape(prompt);
  if (!tok) {
    /* Without a tokenizer only an empty prompt can run: BOS alone, ids out. */
    if (prompt[0] || !ignore_template || mx_lm_bos_id(m) < 0) {
      rc = fail("cannot load the tokenizer");
      goto done;
    }
    mx_clear_error();
    ids = malloc(sizeof *ids);
    if (!ids) goto done;
    ids[0] = mx_lm_bos_id(m);
    nids = 1;
    s.ids_only = true;
  } else {
    if (!ignore_template) tmpl = load_template(model);
    if (tmpl) {
      cJSON *msgs = cJSON_CreateArray(), *extra = cJSON_CreateObject();
      if (system) {
        cJSON *sm = cJSON_CreateObject();
        cJSON_AddStringToObject(sm, "role", "system");
        cJSON_AddStringToObject(sm, "content", system);
        cJSON_AddItemToArray(msgs, sm);
      }
      cJSON *um = cJSON_CreateObject();
      cJSON_AddStringToObject(um, "role", "user");
      cJSON_AddStringToObject(um, "content", prompt);
      cJSON_AddItemToArray(msgs, um);
      if (!is_dir(model)) { /* GGUF: no tokenizer_config.json to supply these */
        add_special_var(extra, tok, "bos_token", mx_tokenizer_bos_id(tok));
        add_special_var(extra, tok, "eos_token", mx_tokenizer_eos_id(tok));
      }
      char *mj = cJSON_PrintUnformatted(msgs), *ej = cJSON_PrintUnformatted(extra);
      char *text = NULL;
      size_t tlen = 0;
      mx_status st = mx_chat_template_apply(tmpl, mj, NULL, 1, ej, NULL, &text, &tlen);
      free(mj);
      free(ej);
      cJSON_Delete(msgs);
      cJSON_Delete(extra);
      if (st) {
        rc = fail("chat template");
        goto done;
      }
      st = mx_tokenizer_encode(tok, text, tlen, false, &ids, &nids);
      mx_string_free(text);
      if (st) {
        rc = fail("tokenizing the prompt");
        goto done;
      }
    } else if (mx_tokenizer_encode(tok, prompt, strlen(prompt), true, &ids, &nids)) {
      rc = fail("tokenizing the prompt");
      goto done;
    }
    if (nids == 0) {
      if (mx_lm_bos_id(m) < 0) {
        fprintf(stderr, "mlxc generate: the prompt is empty and the model has no BOS token\n");
        rc = 2;
        goto done;
      }
      free(ids);
      ids = malloc(sizeof *ids);
      if (!ids) goto done;
      ids[0] = mx_lm_bos_id(m);
      nids = 1;
    }
    s.detok = mx_detokenizer_new(tok);
    if (!s.detok) {
      rc = fail("detokenizer");
      goto done;
    }
  }
  if (verbose) {
    fprintf(stderr, "==========\n");
    if (tok) {
      char *text = NULL;
      size_t tl = 0;
      if (mx_tokenizer_decode(tok, ids, nids, false, &text, &tl) == MX_OK)
        fprintf(stderr, "Prompt: %.*s\n", (int)tl, text);
      free(text);
    }
  }

  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = max_tokens;
  gp.sampler = &sp;
  gp.callback = on_token;
  gp.user = &s;
  gp.cache_params = &cp;
  gp.draft_model = draft;
  gp.num_draft_tokens = num_draft;
  /* End-of-sequence ids: the tokenizer's (generation_config aware), else
   * the model config's. */
  const int32_t *eos = NULL;
  size_t neos = tok ? mx_tokenizer_eos_ids(tok, &eos) : 0;
  if (neos) {
    gp.eos_ids = eos;
    gp.n_eos_ids = neos;
  }
  mx_lm_generate_stats stats;
  mx_status st = mx_lm_generate(m, ids, nids, &gp, NULL, &stats);
  if (s.detok && mx_detokenizer_finalize(s.detok) == MX_OK) {
    size_t n;
    const char *seg = mx_detokenizer_last_segment(s.detok, &n);
    if (seg && n) fwrite(seg, 1, n, stdout);
  }
  printf("\n");
  fflush(stdout);
  if (st) {
    rc = fail("generation failed");
    goto done;
  }
  if (verbose) {
    fprintf(stderr, "==========\n");
    fprintf(stderr, "Prompt: %lld tokens, %.3f tokens-per-sec\n", (long long)stats.prompt_tokens,
            stats.prompt_tps);
    fprintf(stderr, "Generation: %lld tokens, %.3f tokens-per-sec\n",
            (long long)stats.generation_tokens, stats.generation_tps);
    fprintf(stderr, "Peak memory: %.3f GB\n", (double)stats.peak_memory / 1e9);
  }
done:
  mx_detokenizer_free(s.detok);
  mx_chat_template_free(tmpl);
  free(ids);
  free(prompt);
  mx_tokenizer_free(tok);
  mx_lm_free(draft);
  mx_lm_free(m);
  return rc;
}
