/* test_lm_generate.c — text generation, stop strings, logprobs, chat
 * sessions, speculative decoding and batch generation on real models: the
 * default model (models/kjv-small, a bf16 Llama with a byte-level BPE
 * tokenizer) and stories260K (an f32 GGUF with its vocabulary inside).
 * Every path is checked against plain token generation (mx_lm_generate),
 * which test_lm checks against transformers. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mlxc/chat_template.h"
#include "mlxc/lm.h"
#include "mlxc/ops.h"
#include "mlxc/random.h"
#include "mlxc/safetensors.h"
#include "mlxc/tokenizer.h"

#define CHECK_ST(expr, code, substr)                                                     \
  do {                                                                                   \
    mx_clear_error();                                                                    \
    mx_status check_st_r_ = (expr);                                                      \
    check_report(check_st_r_ == (code) && strstr(mx_last_error(), (substr)) != NULL,     \
                 __FILE__, __LINE__, #expr " fails with " #code, mx_last_error());       \
    mx_clear_error();                                                                    \
  } while (0)

static char kjv_dir[1024], stories_path[1100], tmp_root[256];

/* ------------------------------------------------------------ collectors */

#define MAXTOK 512
typedef struct collect {
  int32_t toks[MAXTOK];
  bool draft[MAXTOK];
  float lp[MAXTOK];
  int32_t top_ids[MAXTOK][20];
  float top_lp[MAXTOK][20];
  size_t ntop[MAXTOK];
  size_t n;
  char text[16384];
  size_t tlen;
  int chunks, flushes;
  const char *must_prefix; /* delivered text must always be a prefix of it */
  bool prefix_ok;
  int stop_after; /* on_text returns 1 after this many chunks (0: never) */
} collect;

static int on_text(void *user, const mx_lm_chunk *c) {
  collect *s = user;
  s->chunks++;
  if (c->len && s->tlen + c->len < sizeof s->text) {
    memcpy(s->text + s->tlen, c->text, c->len);
    s->tlen += c->len;
    s->text[s->tlen] = 0;
  }
  if (s->must_prefix && (s->tlen > strlen(s->must_prefix) ||
                         memcmp(s->text, s->must_prefix, s->tlen) != 0))
    s->prefix_ok = false;
  if (c->token < 0) {
    s->flushes++;
  } else if (s->n < MAXTOK) {
    s->toks[s->n] = c->token;
    s->draft[s->n] = c->from_draft;
    s->lp[s->n] = c->logprob;
    s->ntop[s->n] = c->n_top;
    for (size_t i = 0; i < c->n_top && i < 20; i++) {
      s->top_ids[s->n][i] = c->top_ids[i];
      s->top_lp[s->n][i] = c->top_logprobs[i];
    }
    s->n++;
  }
  return s->stop_after && s->chunks >= s->stop_after;
}

typedef struct ids {
  int32_t t[MAXTOK];
  size_t n;
} ids;

static int on_id(void *user, int32_t token, mx_array logprobs) {
  ids *s = user;
  (void)logprobs;
  if (s->n < MAXTOK) s->t[s->n++] = token;
  return 0;
}

static bool same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
  return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *a, size_t n) {
  fprintf(stderr, "  %s (%zu):", what, n);
  for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)a[i]);
  fprintf(stderr, "\n");
}

/* Plain greedy generation of prompt ids. */
static ids plain(const mx_lm_model *m, const int32_t *p, size_t n, int64_t max_tokens,
                 const int32_t *eos, size_t neos) {
  ids out = {.n = 0};
  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = max_tokens;
  gp.callback = on_id;
  gp.user = &out;
  if (eos) {
    gp.eos_ids = eos;
    gp.n_eos_ids = neos;
  }
  mx_status st = mx_lm_generate(m, p, n, &gp, NULL, NULL);
  CHECK_MSG(st == MX_OK, mx_last_error());
  return out;
}

static char *decode(const mx_lm_model *m, const int32_t *t, size_t n) {
  char *s = NULL;
  size_t len;
  if (mx_tokenizer_decode(mx_lm_tokenizer(m), t, n, false, &s, &len)) return NULL;
  return s;
}

/* The streamed text of generated tokens: their decode, less the leading
 * space of the first token (mlx-lm's BPE streaming detokenizer trims it). */
static char *stream_text(const mx_lm_model *m, const int32_t *t, size_t n) {
  char *s = decode(m, t, n);
  if (s && s[0] == ' ') memmove(s, s + 1, strlen(s));
  return s;
}

static const int32_t kjv_prompt[8] = {0, 297, 355, 473, 290, 618, 13, 438};
static const char *kjv_text = "And it came to pass, when";

/* ------------------------------------------------------------ text generation */

static void test_text(const mx_lm_model *m) {
  /* generate_text (no chat template: the prompt encoded with BOS) equals
   * tokenizing + mx_lm_generate, and its text the decode of the tokens. */
  ids ref = plain(m, kjv_prompt, 8, 32, NULL, 0);
  CHECK(ref.n == 32);
  char *full = stream_text(m, ref.t, ref.n);
  CHECK(full != NULL);
  if (!full) return;
  collect *c = calloc(1, sizeof *c);
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.use_chat_template = false; /* the raw prompt, encoded with BOS */
  tp.gen.max_tokens = 32;
  tp.on_text = on_text;
  tp.user = c;
  mx_lm_generate_stats stats;
  mx_status st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK(same_ids(c->toks, c->n, ref.t, ref.n));
  CHECK_MSG(strcmp(c->text, full) == 0, c->text);
  CHECK(stats.prompt_tokens == 8 && stats.generation_tokens == 32);
  CHECK(stats.finish == MX_LM_FINISH_LENGTH);
  CHECK(stats.prompt_tps > 0 && stats.generation_tps > 0 && stats.peak_memory > 0);

  /* A stop string the greedy text contains: the output ends right before
   * it, and the text delivered so far was always a prefix of that. */
  const char *stop1 = "said unto";
  const char *at = strstr(full, stop1);
  CHECK(at != NULL);
  if (at) {
    size_t cut = (size_t)(at - full);
    char *want = strndup(full, cut);
    memset(c, 0, sizeof *c);
    c->must_prefix = want;
    c->prefix_ok = true;
    const char *stops[2] = {"no such words here", stop1};
    tp.stop = stops;
    tp.n_stop = 2;
    st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
    CHECK_MSG(st == MX_OK, mx_last_error());
    CHECK_MSG(strcmp(c->text, want) == 0, c->text);
    CHECK(c->prefix_ok);
    CHECK(stats.finish == MX_LM_FINISH_STOP);
    CHECK(c->flushes == 0);
    /* Generation stopped at the token that completed the stop string. */
    CHECK(c->n < ref.n && same_ids(c->toks, c->n, ref.t, c->n));
    free(want);
  }

  /* A stop string split across tokens: the last 2 bytes of one token's
   * text and the first 2 of the next, at their first occurrence. */
  bool found = false;
  size_t pre = 0;
  for (size_t k = 3; k + 1 < ref.n && !found; k++) {
    char *a = stream_text(m, ref.t, k), *b = stream_text(m, ref.t, k + 1);
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 2 && lb >= la + 2) {
      char stop[5] = {a[la - 2], a[la - 1], b[la], b[la + 1], 0};
      const char *first = strstr(full, stop);
      if (first && (size_t)(first - full) == la - 2) {
        found = true;
        pre = la - 2;
        memset(c, 0, sizeof *c);
        char *want = strndup(full, pre);
        c->must_prefix = want;
        c->prefix_ok = true;
        const char *stops[1] = {stop};
        tp.stop = stops;
        tp.n_stop = 1;
        st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
        CHECK_MSG(st == MX_OK, mx_last_error());
        CHECK_MSG(strcmp(c->text, want) == 0, stop);
        CHECK(c->prefix_ok);
        CHECK(stats.finish == MX_LM_FINISH_STOP);
        CHECK(c->n == k + 1); /* ended by the token that completed it */
        free(want);
      }
    }
    free(a);
    free(b);
  }
  CHECK_MSG(found, "no token boundary gave a usable split stop string");

  /* A stop string whose beginning ends the text but which never completes:
   * the held-back tail is delivered by the final flush. */
  size_t fl = strlen(full);
  char tailstop[16];
  snprintf(tailstop, sizeof tailstop, "%.3s\x01", full + fl - 3);
  memset(c, 0, sizeof *c);
  c->must_prefix = full;
  c->prefix_ok = true;
  const char *stops3[1] = {tailstop};
  tp.stop = stops3;
  tp.n_stop = 1;
  st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK(strcmp(c->text, full) == 0);
  CHECK(c->prefix_ok && c->flushes == 1 && stats.finish == MX_LM_FINISH_LENGTH);

  /* The callback stops generation. */
  memset(c, 0, sizeof *c);
  tp.stop = NULL;
  tp.n_stop = 0;
  c->stop_after = 5;
  st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK(c->n == 5 && stats.finish == MX_LM_FINISH_CALLBACK && stats.generation_tokens == 5);

  /* eos from the model / tokenizer: make the 6th greedy token an eos. */
  memset(c, 0, sizeof *c);
  int32_t eos[1] = {ref.t[5]};
  tp.gen.eos_ids = eos;
  tp.gen.n_eos_ids = 1;
  size_t first5 = 0;
  while (first5 < ref.n && ref.t[first5] != eos[0]) first5++;
  st = mx_lm_generate_text(m, kjv_text, &tp, &stats);
  CHECK_MSG(st == MX_OK, mx_last_error());
  CHECK(c->n == first5 && stats.finish == MX_LM_FINISH_STOP);

  /* Bad input. */
  tp = mx_lm_text_default_params();
  tp.use_chat_template = false;
  CHECK_ST(mx_lm_generate_chat(m, "[{\"role\":\"user\",\"content\":\"hi\"}]", &tp, NULL),
           MX_ERR_INVALID_ARG, "use_chat_template");
  CHECK_ST(mx_lm_generate_chat(m, "{\"role\":\"user\"}", NULL, NULL), MX_ERR_INVALID_ARG,
           "JSON array");
  tp.top_logprobs = 21;
  CHECK_ST(mx_lm_generate_text(m, "x", &tp, NULL), MX_ERR_INVALID_ARG, "top_logprobs");
  tp = mx_lm_text_default_params();
  const char *empty[1] = {""};
  tp.stop = empty;
  tp.n_stop = 1;
  CHECK_ST(mx_lm_generate_text(m, "x", &tp, NULL), MX_ERR_INVALID_ARG, "stop string 0");
  CHECK_ST(mx_lm_generate_text(m, NULL, NULL, NULL), MX_ERR_INVALID_ARG, "prompt");
  tp = mx_lm_text_default_params();
  tp.size = 3;
  CHECK_ST(mx_lm_generate_text(m, "x", &tp, NULL), MX_ERR_INVALID_ARG, "params.size");
  free(c);
  free(full);
}

/* The shipped bf16 model through the text API: the same tokens as
 * mx_lm_generate, and the text their decode. (The other checks run on its
 * float32 copy, see make_kjv32; bf16 matmuls are slow at present.) */
static void test_bf16(const mx_lm_model *m) {
  ids ref = plain(m, kjv_prompt, 8, 12, NULL, 0);
  collect *c = calloc(1, sizeof *c);
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.gen.max_tokens = 12;
  tp.on_text = on_text;
  tp.user = c;
  CHECK(mx_lm_generate_text(m, kjv_text, &tp, NULL) == MX_OK);
  CHECK(same_ids(c->toks, c->n, ref.t, ref.n) && ref.n == 12);
  char *full = stream_text(m, ref.t, ref.n);
  CHECK(full && strcmp(full, c->text) == 0);
  /* The reference greedy ids of models/kjv-small/reference.json. */
  static const int32_t greedy[12] = {260, 413, 369, 489, 290, 260, 413, 13, 298, 260, 413, 389};
  CHECK(same_ids(c->toks, c->n, greedy, 12));
  /* It has no chat template. */
  CHECK_ST(mx_lm_generate_chat(m, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL),
           MX_ERR_UNSUPPORTED, "no chat template");
  CHECK(mx_lm_chat_template(m) == NULL && mx_last_error_code() == MX_ERR_UNSUPPORTED);
  mx_clear_error();
  CHECK(mx_lm_chat_new(m, NULL, NULL) == NULL && mx_last_error_code() == MX_ERR_UNSUPPORTED);
  mx_clear_error();
  free(full);
  free(c);
}

/* logprob and top_logprobs of every step against a log_softmax of the
 * step's logits recomputed without a cache. f32 model: tolerance 1e-4 (a
 * recomputation over a different call shape, ~1e-6 relative on logits of
 * magnitude <= 20). */
static void test_logprobs(const mx_lm_model *m, const char *prompt, double tol, int ntok) {
  collect *c = calloc(1, sizeof *c);
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.gen.max_tokens = ntok;
  tp.use_chat_template = false;
  tp.top_logprobs = 5;
  tp.on_text = on_text;
  tp.user = c;
  mx_status st = mx_lm_generate_text(m, prompt, &tp, NULL);
  CHECK_MSG(st == MX_OK, mx_last_error());
  int32_t *p = NULL;
  size_t np = 0;
  const mx_tokenizer *tok = mx_lm_tokenizer(m);
  CHECK(tok && mx_tokenizer_encode(tok, prompt, strlen(prompt), true, &p, &np) == MX_OK);
  int32_t seq[256];
  int bad = 0, sorted = 1;
  for (size_t i = 0; p && i < c->n && np + i < 256; i++) {
    memcpy(seq, p, np * sizeof *seq);
    memcpy(seq + np, c->toks, i * sizeof *seq);
    int64_t L = (int64_t)(np + i);
    mx_array t = mx_array_from_data(seq, (int64_t[]){1, L}, 2, MX_INT32);
    mx_array lg = mx_lm_forward(m, t, NULL);
    mx_array f = mx_astype(lg, MX_FLOAT32);
    int ax = -1;
    mx_array lse = mx_logsumexp(f, &ax, 1, true);
    mx_array ls = mx_subtract(f, lse);
    const float *v = mx_array_data(ls);
    if (!v) {
      bad++;
    } else {
      int64_t V = mx_lm_vocab_size(m);
      const float *last = v + (L - 1) * V;
      if (fabs(last[c->toks[i]] - c->lp[i]) > tol) bad++;
      if (c->ntop[i] != 5) bad++;
      for (size_t k = 0; k < c->ntop[i]; k++) {
        if (fabs(last[c->top_ids[i][k]] - c->top_lp[i][k]) > tol) bad++;
        if (k && c->top_lp[i][k] > c->top_lp[i][k - 1]) sorted = 0;
        /* Nothing outside the top k beats its last entry (beyond tol). */
        if (k == c->ntop[i] - 1)
          for (int64_t j = 0; j < V; j++) {
            bool in = false;
            for (size_t q = 0; q < c->ntop[i]; q++) in |= c->top_ids[i][q] == j;
            if (!in && last[j] > c->top_lp[i][k] + tol) bad++;
          }
      }
      /* Greedy: the chosen token is the best one. */
      if (c->ntop[i] && c->top_ids[i][0] != c->toks[i] && fabs(c->top_lp[i][0] - c->lp[i]) > tol)
        bad++;
    }
    mx_array a[5] = {t, lg, f, lse, ls};
    for (int k = 0; k < 5; k++) mx_array_free(a[k]);
  }
  CHECK(c->n == (size_t)ntok);
  CHECK_MSG(bad == 0, prompt);
  CHECK(sorted);
  free(p);
  free(c);
}

/* ------------------------------------------------------------ temp folders */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* A folder with the kjv files linked in (all but the weights when
 * weights is false). */
static void link_kjv(const char *dir, bool weights) {
  static const char *files[] = {"config.json", "generation_config.json", "tokenizer.json",
                                "tokenizer_config.json", "model.safetensors"};
  mkdir(dir, 0700);
  for (int i = 0; i < 5; i++) {
    if (!weights && i == 4) continue;
    char src[1200], dst[1200];
    snprintf(src, sizeof src, "%s/%s", kjv_dir, files[i]);
    snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
    if (symlink(src, dst) != 0) perror("symlink");
  }
}

/* kjv in float32 (noise > 0: every weight perturbed by N(0, noise), a
 * draft that mostly agrees). float32 because the checks below compare
 * different call shapes (a prefix cached token by token against one prefill,
 * a verification call of several tokens against single steps, padded
 * batches): in bf16 those round differently and the model has exact ties
 * (8.5 vs 8.5 in one of the conversations here). */
static bool make_kjv32(const char *dir, double noise, const char *chat_template) {
  link_kjv(dir, false);
  char src[1200], dst[1200];
  snprintf(src, sizeof src, "%s/model.safetensors", kjv_dir);
  snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
  if (chat_template) {
    char tp[1200];
    snprintf(tp, sizeof tp, "%s/chat_template.jinja", dir);
    write_text(tp, chat_template);
  }
  mx_safetensors *s = mx_safetensors_open(src);
  if (!s) return false;
  int64_t n = mx_safetensors_count(s);
  const char **names = calloc((size_t)n, sizeof *names);
  mx_array *arrs = calloc((size_t)n, sizeof *arrs);
  for (int64_t i = 0; i < n; i++) {
    names[i] = mx_safetensors_name(s, i);
    mx_array w = mx_safetensors_get(s, i);
    mx_array wf = mx_astype(w, MX_FLOAT32);
    if (noise > 0) {
      mx_array key = mx_random_key(100 + (uint64_t)i);
      mx_array z = mx_random_normal(mx_array_shape(w), mx_array_ndim(w), MX_FLOAT32, 0.0,
                                    noise, key);
      arrs[i] = mx_add(wf, z);
      mx_array_free(key);
      mx_array_free(z);
      mx_array_free(wf);
    } else {
      arrs[i] = wf;
    }
    mx_array_free(w);
  }
  mx_status st = mx_save_safetensors(dst, names, arrs, (size_t)n, NULL, NULL, 0);
  for (int64_t i = 0; i < n; i++) mx_array_free(arrs[i]);
  free(arrs);
  free(names);
  mx_safetensors_close(s);
  return st == MX_OK;
}

/* ------------------------------------------------------------ chat */

static const char *tmpl =
    "{% for m in messages %}{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

static size_t encode_conv(const mx_lm_model *m, const char *msgs, int32_t **out) {
  char *text = NULL;
  size_t len = 0, n = 0;
  *out = NULL;
  if (mx_chat_template_apply(mx_lm_chat_template(m), msgs, NULL, 1, NULL, NULL, &text, &len))
    return 0;
  /* The render starts with "<s>": encoded without adding another. */
  mx_tokenizer_encode(mx_lm_tokenizer(m), text, len, false, out, &n);
  mx_string_free(text);
  return n;
}

static void test_chat(mx_lm_model *m) {
  CHECK(mx_lm_chat_template(m) != NULL);
  mx_lm_chat *chat = mx_lm_chat_new(m, "Thou art a scribe.", NULL);
  CHECK_MSG(chat != NULL, mx_last_error());
  if (!chat) return;
  collect *c = calloc(1, sizeof *c);
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.gen.max_tokens = 12;
  tp.on_text = on_text;
  tp.user = c;
  char *r1 = NULL, *r2 = NULL;
  mx_lm_generate_stats s1, s2;
  mx_status st = mx_lm_chat_send(chat, "Who was the king?", &tp, &r1, &s1);
  CHECK_MSG(st == MX_OK, mx_last_error());
  /* Turn 1 against a fresh generation of the same conversation. */
  const char *conv1 = "[{\"role\":\"system\",\"content\":\"Thou art a scribe.\"},"
                      "{\"role\":\"user\",\"content\":\"Who was the king?\"}]";
  int32_t *p1 = NULL;
  size_t n1 = encode_conv(m, conv1, &p1);
  CHECK(n1 > 5 && p1[0] == 0);
  CHECK(s1.prompt_tokens == (int64_t)n1);
  size_t g1 = c->n;
  int32_t gen1[MAXTOK];
  memcpy(gen1, c->toks, g1 * sizeof *gen1);
  /* The cache holds the prompt and every generated token (max_tokens). */
  CHECK(mx_lm_chat_cached_tokens(chat) == (int64_t)(n1 + g1));
  collect *f = calloc(1, sizeof *f);
  mx_lm_text_params fp = tp;
  fp.user = f;
  CHECK(mx_lm_generate_chat(m, conv1, &fp, NULL) == MX_OK);
  CHECK(r1 && strcmp(r1, f->text) == 0);

  /* Turn 2 reuses the cache: only the tokens past the common prefix are
   * prefilled, and the reply equals a fresh generation. */
  memset(c, 0, sizeof *c);
  st = mx_lm_chat_send(chat, "And what did he say?", &tp, &r2, &s2);
  CHECK_MSG(st == MX_OK, mx_last_error());
  cJSON *conv2 = cJSON_Parse(conv1);
  cJSON *am = cJSON_CreateObject(), *um = cJSON_CreateObject();
  cJSON_AddStringToObject(am, "role", "assistant");
  cJSON_AddStringToObject(am, "content", r1 ? r1 : "");
  cJSON_AddStringToObject(um, "role", "user");
  cJSON_AddStringToObject(um, "content", "And what did he say?");
  cJSON_AddItemToArray(conv2, am);
  cJSON_AddItemToArray(conv2, um);
  char *conv2s = cJSON_PrintUnformatted(conv2);
  int32_t *p2 = NULL;
  size_t n2 = encode_conv(m, conv2s, &p2);
  size_t lcp = 0;
  int32_t hist[2 * MAXTOK];
  memcpy(hist, p1, n1 * sizeof *hist);
  memcpy(hist + n1, gen1, g1 * sizeof *hist);
  while (lcp < n1 + g1 && lcp < n2 && hist[lcp] == p2[lcp]) lcp++;
  CHECK(lcp >= n1 && lcp < n2);
  CHECK(s2.prompt_tokens == (int64_t)(n2 - lcp));
  CHECK(mx_lm_chat_cached_tokens(chat) == (int64_t)(n2 + c->n));
  memset(f, 0, sizeof *f);
  mx_lm_generate_stats fs;
  CHECK(mx_lm_generate_chat(m, conv2s, &fp, &fs) == MX_OK);
  CHECK(fs.prompt_tokens == (int64_t)n2);
  CHECK_MSG(r2 && strcmp(r2, f->text) == 0, r2);
  CHECK(same_ids(c->toks, c->n, f->toks, f->n));
  if (r2 && strcmp(r2, f->text) != 0) {
    print_ids("session", c->toks, c->n);
    print_ids("fresh", f->toks, f->n);
  }

  /* A turn that fails leaves the conversation as it was. */
  mx_lm_text_params bad = tp;
  bad.top_logprobs = 99;
  CHECK_ST(mx_lm_chat_send(chat, "x", &bad, NULL, NULL), MX_ERR_INVALID_ARG, "top_logprobs");

  /* The system prompt through generate_text goes first. */
  memset(f, 0, sizeof *f);
  mx_lm_text_params sp = fp;
  sp.system_prompt = "Thou art a scribe.";
  mx_lm_generate_stats ss;
  CHECK(mx_lm_generate_text(m, "Who was the king?", &sp, &ss) == MX_OK);
  CHECK(ss.prompt_tokens == (int64_t)n1 && strcmp(f->text, r1 ? r1 : "") == 0);

  free(conv2s);
  cJSON_Delete(conv2);
  free(p1);
  free(p2);
  mx_string_free(r1);
  mx_string_free(r2);
  free(c);
  free(f);
  mx_lm_chat_free(chat);
}

/* ------------------------------------------------------------ speculative */

static void spec_case(const mx_lm_model *m, const mx_lm_model *draft, const int32_t *p,
                      size_t np, int64_t max_tokens, int k, const int32_t *eos, size_t neos,
                      const char *what, int *nd_out, int *nt_out) {
  ids ref = plain(m, p, np, max_tokens, eos, neos);
  collect *c = calloc(1, sizeof *c);
  mx_lm_text_params tp = mx_lm_text_default_params();
  tp.gen.max_tokens = max_tokens;
  tp.gen.draft_model = draft;
  tp.gen.num_draft_tokens = k;
  if (eos) {
    tp.gen.eos_ids = eos;
    tp.gen.n_eos_ids = neos;
  }
  tp.on_text = on_text;
  tp.user = c;
  /* Token generation underneath: run it through generate_text's engine by
   * giving the prompt ids' text; simpler to call the token API. */
  ids got = {.n = 0};
  mx_lm_generate_params gp = tp.gen;
  gp.callback = on_id;
  gp.user = &got;
  mx_lm_generate_stats st;
  mx_status r = mx_lm_generate(m, p, np, &gp, NULL, &st);
  CHECK_MSG(r == MX_OK, mx_last_error());
  CHECK_MSG(same_ids(got.t, got.n, ref.t, ref.n), what);
  if (!same_ids(got.t, got.n, ref.t, ref.n)) {
    print_ids("speculative", got.t, got.n);
    print_ids("plain", ref.t, ref.n);
  }
  CHECK(st.generation_tokens == (int64_t)ref.n);
  free(c);
  if (nd_out) {
    /* from_draft comes through the text API. */
    collect *d = calloc(1, sizeof *d);
    char *text = decode(m, p, np);
    tp.user = d;
    tp.use_chat_template = false;
    r = mx_lm_generate_text(m, text, &tp, NULL);
    CHECK_MSG(r == MX_OK, mx_last_error());
    *nd_out = *nt_out = 0;
    for (size_t i = 0; i < d->n; i++) *nd_out += d->draft[i];
    *nt_out = (int)d->n;
    free(text);
    free(d);
  }
}

static void test_speculative(const mx_lm_model *kjv, const mx_lm_model *noisy,
                             const mx_lm_model *stories) {
  int nd = 0, nt = 0;
  /* The model drafting for itself: every proposal is accepted. */
  spec_case(kjv, kjv, kjv_prompt, 8, 32, 3, NULL, 0, "kjv self k=3", &nd, &nt);
  CHECK(nt == 32 && nd >= 20);
  spec_case(kjv, kjv, kjv_prompt, 8, 13, 4, NULL, 0, "kjv self k=4 max 13", NULL, NULL);
  spec_case(kjv, kjv, kjv_prompt, 8, 13, 1, NULL, 0, "kjv self k=1", NULL, NULL);
  /* eos in the middle of a block. */
  ids ref = plain(kjv, kjv_prompt, 8, 32, NULL, 0);
  int32_t eos[1] = {ref.t[9]};
  spec_case(kjv, kjv, kjv_prompt, 8, 32, 3, eos, 1, "kjv self eos", NULL, NULL);
  /* stories260K for itself (f32, GGUF). */
  int32_t sp[1] = {1};
  spec_case(stories, stories, sp, 1, 40, 2, NULL, 0, "stories self", NULL, NULL);
  /* A different draft (kjv with noisy weights): some proposals rejected,
   * the output still the model's own greedy tokens. */
  if (noisy) {
    ids nref = plain(noisy, kjv_prompt, 8, 32, NULL, 0);
    CHECK(!same_ids(nref.t, nref.n, ref.t, ref.n)); /* it does disagree */
    spec_case(kjv, noisy, kjv_prompt, 8, 32, 3, NULL, 0, "noisy draft", &nd, &nt);
    CHECK(nt == 32 && nd > 0 && nd < 24);
    fprintf(stderr, "  noisy draft: %d of %d tokens from the draft\n", nd, nt);
    /* A logits processor sees the same history as plain generation. */
    mx_lm_sampler_params pen = mx_lm_sampler_default_params();
    pen.repetition_penalty = 1.5;
    ids pr = {.n = 0}, sr = {.n = 0};
    mx_lm_generate_params gp = mx_lm_generate_default_params();
    gp.max_tokens = 24;
    gp.sampler = &pen;
    gp.callback = on_id;
    gp.user = &pr;
    CHECK(mx_lm_generate(kjv, kjv_prompt, 8, &gp, NULL, NULL) == MX_OK);
    gp.user = &sr;
    gp.draft_model = noisy;
    gp.num_draft_tokens = 3;
    CHECK(mx_lm_generate(kjv, kjv_prompt, 8, &gp, NULL, NULL) == MX_OK);
    CHECK(same_ids(pr.t, pr.n, sr.t, sr.n));
  }
  /* A continued cache holds the prompt and (a prefix of) the tokens. */
  mx_lm_cache *cache = mx_lm_cache_new(kjv);
  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = 10;
  gp.draft_model = kjv;
  CHECK(mx_lm_generate(kjv, kjv_prompt, 8, &gp, cache, NULL) == MX_OK);
  int64_t off = mx_lm_cache_offset(cache);
  CHECK(off >= 8 + 9 && off <= 8 + 10);
  mx_lm_cache_free(cache);
  /* cache_params reach the cache generation makes. */
  mx_lm_cache_params cp = mx_lm_cache_default_params();
  cp.max_kv_size = 1024;
  ids big = {.n = 0};
  mx_lm_generate_params cg = mx_lm_generate_default_params();
  cg.max_tokens = 12;
  cg.callback = on_id;
  cg.user = &big;
  cg.cache_params = &cp;
  CHECK(mx_lm_generate(kjv, kjv_prompt, 8, &cg, NULL, NULL) == MX_OK);
  CHECK(same_ids(big.t, big.n, ref.t, 12));
  cp.size = 3;
  CHECK_ST(mx_lm_generate(kjv, kjv_prompt, 8, &cg, NULL, NULL), MX_ERR_INVALID_ARG, "size");
  /* A rotating cache (max_kv_size) is dropped for speculative decoding, as
   * mlx-lm does; a caller's cache that cannot trim is refused. */
  cp = mx_lm_cache_default_params();
  cp.max_kv_size = 12;
  cg.draft_model = kjv;
  big.n = 0;
  CHECK(mx_lm_generate(kjv, kjv_prompt, 8, &cg, NULL, NULL) == MX_OK);
  CHECK(same_ids(big.t, big.n, ref.t, 12));
  mx_lm_cache *rot = mx_lm_cache_new_ex(kjv, &cp);
  cg.cache_params = NULL;
  CHECK(rot != NULL);
  int32_t longp[16];
  for (int i = 0; i < 16; i++) longp[i] = kjv_prompt[i % 8];
  CHECK_ST(mx_lm_generate(kjv, longp, 16, &cg, rot, NULL), MX_ERR_INVALID_ARG, "trimmed");
  mx_lm_cache_free(rot);
  /* Bad input: a draft with another vocabulary. */
  gp.draft_model = stories;
  CHECK_ST(mx_lm_generate(kjv, kjv_prompt, 8, &gp, NULL, NULL), MX_ERR_INVALID_ARG,
           "vocabulary");
  gp.draft_model = kjv;
  gp.num_draft_tokens = -1;
  CHECK_ST(mx_lm_generate(kjv, kjv_prompt, 8, &gp, NULL, NULL), MX_ERR_INVALID_ARG,
           "num_draft_tokens");
}

/* ------------------------------------------------------------ batch */

typedef struct brows {
  int32_t t[3][MAXTOK];
  size_t n[3];
} brows;

static int on_row(void *user, size_t row, int32_t token) {
  brows *b = user;
  if (row < 3 && b->n[row] < MAXTOK) b->t[row][b->n[row]++] = token;
  return 0;
}

static void batch_case(const mx_lm_model *m, const int32_t *const *p, const size_t *len,
                       int64_t max_tokens, const char *what) {
  brows *b = calloc(1, sizeof *b);
  mx_lm_generate_params gp = mx_lm_generate_default_params();
  gp.max_tokens = max_tokens;
  gp.prefill_step_size = 4; /* several prefill chunks */
  mx_lm_generate_stats st;
  mx_status r = mx_lm_generate_batch(m, p, len, 3, &gp, on_row, b, &st);
  CHECK_MSG(r == MX_OK, mx_last_error());
  int64_t total = 0;
  for (int i = 0; i < 3; i++) {
    ids ref = plain(m, p[i], len[i], max_tokens, NULL, 0);
    char msg[128];
    snprintf(msg, sizeof msg, "%s row %d (prompt of %zu tokens)", what, i, len[i]);
    CHECK_MSG(same_ids(b->t[i], b->n[i], ref.t, ref.n), msg);
    if (!same_ids(b->t[i], b->n[i], ref.t, ref.n)) {
      print_ids("batch", b->t[i], b->n[i]);
      print_ids("alone", ref.t, ref.n);
    }
    total += (int64_t)ref.n;
  }
  CHECK(st.generation_tokens == total);
  free(b);
}

static void test_batch(const mx_lm_model *kjv, const mx_lm_model *stories) {
  static const int32_t a[3] = {0, 297, 355};
  static const int32_t c[11] = {0, 297, 355, 473, 290, 618, 13, 438, 260, 413, 369};
  const int32_t *p[3] = {kjv_prompt, a, c};
  size_t len[3] = {8, 3, 11};
  batch_case(kjv, p, len, 16, "kjv");
  static const int32_t s0[1] = {1}, s1[5] = {1, 403, 407, 261, 378},
                       s2[9] = {1, 403, 407, 261, 378, 270, 300, 280, 290};
  const int32_t *sp[3] = {s1, s0, s2};
  size_t sl[3] = {5, 1, 9};
  batch_case(stories, sp, sl, 20, "stories");
  /* Bad input. */
  size_t zero[3] = {8, 0, 11};
  CHECK_ST(mx_lm_generate_batch(kjv, p, zero, 3, NULL, on_row, NULL, NULL), MX_ERR_INVALID_ARG,
           "prompt 1 is empty");
  CHECK_ST(mx_lm_generate_batch(kjv, p, len, 0, NULL, on_row, NULL, NULL), MX_ERR_INVALID_ARG,
           "no prompts");
}

int main(void) {
  const char *src = getenv("MLXC_SOURCE_DIR"), *td = getenv("MLXC_TESTDATA");
  snprintf(kjv_dir, sizeof kjv_dir, "%s/models/kjv-small", src ? src : ".");
  snprintf(stories_path, sizeof stories_path, "%s/models/stories260K/stories260K.gguf",
           td ? td : "../shared/testdata");
  snprintf(tmp_root, sizeof tmp_root, "/tmp/mlxc_lm_gen_XXXXXX");
  if (!mkdtemp(tmp_root)) {
    perror("mkdtemp");
    return 1;
  }
  mx_lm_model *kjv = mx_lm_load(kjv_dir);
  mx_lm_model *stories = mx_lm_load(stories_path);
  CHECK_MSG(kjv != NULL, mx_last_error());
  CHECK_MSG(stories != NULL, mx_last_error());
  char d32[512], dnoisy[512];
  snprintf(d32, sizeof d32, "%s/kjv32", tmp_root);
  snprintf(dnoisy, sizeof dnoisy, "%s/noisy", tmp_root);
  CHECK(make_kjv32(d32, 0, tmpl) && make_kjv32(dnoisy, 0.01, NULL));
  mx_lm_model *k32 = mx_lm_load(d32), *noisy = mx_lm_load(dnoisy);
  CHECK_MSG(k32 && noisy, mx_last_error());
  if (kjv && stories && k32 && noisy) {
    CHECK(mx_lm_tokenizer(kjv) != NULL && mx_lm_tokenizer(stories) != NULL);
    test_bf16(kjv);
    test_text(k32);
    test_logprobs(stories, "Once upon a time", 1e-4, 10);
    test_logprobs(k32, kjv_text, 1e-4, 10);
    /* bf16 model: log-probabilities are computed in bf16 (8 bits of
     * mantissa: ~0.4% of a value up to ~16, so 0.1 absolute). */
    test_logprobs(kjv, kjv_text, 0.1, 4);
    test_chat(k32);
    test_speculative(k32, noisy, stories);
    test_batch(k32, stories);
  }
  mx_lm_free(k32);
  mx_lm_free(noisy);
  mx_lm_free(kjv);
  mx_lm_free(stories);
  nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_summary();
}
