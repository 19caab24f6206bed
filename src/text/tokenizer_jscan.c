/* tokenizer_jscan.c — a fast path for the big parts of a tokenizer.json.
 *
 * A vocabulary of 150k-260k entries and as many merges make cJSON allocate
 * two blocks per entry and dominate load time. This scanner finds the spans
 * of model.vocab and model.merges in the raw text, hands cJSON the rest with
 * those two values replaced by empty containers, and reads the spans straight
 * into the model, with strings pointing into the text whenever they carry no
 * escape. Anything the scanner does not understand makes it step aside: the
 * caller then parses the whole text with cJSON, which reports the error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"

typedef struct js {
  const char *s;
  size_t n, i;
  sbuf tmp; /* unescaped strings */
} js;

static inline void ws(js *j) {
  while (j->i < j->n) {
    char c = j->s[j->i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
    j->i++;
  }
}

static int hex4(const char *p) {
  int v = 0;
  for (int k = 0; k < 4; k++) {
    char c = p[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Reads the string at j->i (a quote): out and len point into the text or into
 * j->tmp (valid until the next call). Lone surrogates are malformed, as for
 * serde_json. */
static bool str(js *j, const char **out, size_t *len) {
  if (j->i >= j->n || j->s[j->i] != '"') return false;
  size_t a = ++j->i;
  const char *s = j->s;
  while (j->i < j->n) {
    unsigned char c = (unsigned char)s[j->i];
    if (c == '"') {
      *out = s + a;
      *len = j->i - a;
      j->i++;
      return true;
    }
    if (c == '\\') break;
    if (c < 0x20) return false;
    j->i++;
  }
  if (j->i >= j->n) return false;
  j->tmp.n = 0;
  if (!tk_sbuf_put(&j->tmp, s + a, j->i - a)) return false;
  while (j->i < j->n) {
    unsigned char c = (unsigned char)s[j->i];
    if (c == '"') {
      j->i++;
      *out = j->tmp.p;
      *len = j->tmp.n;
      return true;
    }
    if (c < 0x20) return false;
    if (c != '\\') {
      size_t b = j->i;
      while (j->i < j->n && s[j->i] != '"' && s[j->i] != '\\' && (unsigned char)s[j->i] >= 0x20) j->i++;
      if (!tk_sbuf_put(&j->tmp, s + b, j->i - b)) return false;
      continue;
    }
    if (j->i + 1 >= j->n) return false;
    char e = s[j->i + 1];
    j->i += 2;
    char ch;
    switch (e) {
    case '"': ch = '"'; break;
    case '\\': ch = '\\'; break;
    case '/': ch = '/'; break;
    case 'b': ch = '\b'; break;
    case 'f': ch = '\f'; break;
    case 'n': ch = '\n'; break;
    case 'r': ch = '\r'; break;
    case 't': ch = '\t'; break;
    case 'u': {
      if (j->i + 4 > j->n) return false;
      int u = hex4(s + j->i);
      if (u < 0) return false;
      j->i += 4;
      uint32_t cp = (uint32_t)u;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (j->i + 6 > j->n || s[j->i] != '\\' || s[j->i + 1] != 'u') return false;
        int lo = hex4(s + j->i + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) return false;
        j->i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return false;
      }
      if (!tk_sbuf_put_cp(&j->tmp, cp)) return false;
      continue;
    }
    default: return false;
    }
    if (!tk_sbuf_putc(&j->tmp, ch)) return false;
  }
  return false;
}

/* A JSON number at j->i; integers without fraction/exponent take a fast path. */
static bool num(js *j, double *v) {
  size_t a = j->i;
  const char *s = j->s;
  bool neg = false;
  if (j->i < j->n && s[j->i] == '-') neg = true, j->i++;
  size_t d0 = j->i;
  uint64_t iv = 0;
  while (j->i < j->n && s[j->i] >= '0' && s[j->i] <= '9') {
    if (j->i - d0 < 18) iv = iv * 10 + (uint64_t)(s[j->i] - '0');
    j->i++;
  }
  size_t nd = j->i - d0;
  if (!nd || (nd > 1 && s[d0] == '0')) return false;
  bool simple = true;
  if (j->i < j->n && s[j->i] == '.') {
    simple = false;
    size_t f = ++j->i;
    while (j->i < j->n && s[j->i] >= '0' && s[j->i] <= '9') j->i++;
    if (j->i == f) return false;
  }
  if (j->i < j->n && (s[j->i] == 'e' || s[j->i] == 'E')) {
    simple = false;
    j->i++;
    if (j->i < j->n && (s[j->i] == '+' || s[j->i] == '-')) j->i++;
    size_t f = j->i;
    while (j->i < j->n && s[j->i] >= '0' && s[j->i] <= '9') j->i++;
    if (j->i == f) return false;
  }
  if (simple && nd < 18) {
    *v = neg ? -(double)iv : (double)iv;
    return true;
  }
  char buf[64];
  size_t l = j->i - a;
  if (l >= sizeof buf) {
    *v = neg ? -1e300 : 1e300; /* absurdly long: out of every range anyway */
    return true;
  }
  memcpy(buf, s + a, l);
  buf[l] = 0;
  *v = strtod(buf, NULL);
  return true;
}

static bool lit(js *j, const char *w) {
  size_t l = strlen(w);
  if (j->n - j->i < l || memcmp(j->s + j->i, w, l) != 0) return false;
  j->i += l;
  return true;
}

/* Skips one value (validating its syntax); nesting beyond 64 levels makes
 * the scanner step aside. */
static bool skip(js *j, int depth, size_t *count) {
  ws(j);
  if (j->i >= j->n || depth > 64) return false;
  char c = j->s[j->i];
  const char *p;
  size_t l;
  double d;
  switch (c) {
  case '"': return str(j, &p, &l);
  case 't': return lit(j, "true");
  case 'f': return lit(j, "false");
  case 'n': return lit(j, "null");
  case '{':
  case '[': {
    char close = c == '{' ? '}' : ']';
    j->i++;
    ws(j);
    if (j->i < j->n && j->s[j->i] == close) {
      j->i++;
      return true;
    }
    for (;;) {
      if (c == '{') {
        ws(j);
        if (!str(j, &p, &l)) return false;
        ws(j);
        if (j->i >= j->n || j->s[j->i] != ':') return false;
        j->i++;
      }
      if (!skip(j, depth + 1, NULL)) return false;
      if (count) (*count)++;
      ws(j);
      if (j->i >= j->n) return false;
      if (j->s[j->i] == ',') {
        j->i++;
        continue;
      }
      if (j->s[j->i] != close) return false;
      j->i++;
      return true;
    }
  }
  default: return num(j, &d);
  }
}

static bool key_is(const char *k, size_t kl, const char *w) { return kl == strlen(w) && !memcmp(k, w, kl); }

/* Walks the object at j->i calling `fn` with each key (the value starts at
 * j->i, fn must consume it). */
typedef bool (*member_fn)(js *j, const char *k, size_t kl, void *ctx);
static bool members(js *j, member_fn fn, void *ctx) {
  ws(j);
  if (j->i >= j->n || j->s[j->i] != '{') return false;
  j->i++;
  ws(j);
  if (j->i < j->n && j->s[j->i] == '}') {
    j->i++;
    return true;
  }
  for (;;) {
    ws(j);
    const char *k;
    size_t kl;
    if (!str(j, &k, &kl)) return false;
    char key[16]; /* keys we look for are short: copy out of tmp */
    bool short_key = kl < sizeof key;
    if (short_key) memcpy(key, k, kl);
    ws(j);
    if (j->i >= j->n || j->s[j->i] != ':') return false;
    j->i++;
    ws(j);
    if (!fn(j, short_key ? key : "", short_key ? kl : 0, ctx)) return false;
    ws(j);
    if (j->i >= j->n) return false;
    if (j->s[j->i] == ',') {
      j->i++;
      continue;
    }
    if (j->s[j->i] != '}') return false;
    j->i++;
    return true;
  }
}

static bool model_member(js *j, const char *k, size_t kl, void *ctx) {
  tk_jbig *b = ctx;
  /* the first of duplicate keys counts, as for cJSON */
  bool v = key_is(k, kl, "vocab") && !b->seen_vocab, m = key_is(k, kl, "merges") && !b->seen_merges;
  b->seen_vocab |= v;
  b->seen_merges |= m;
  size_t a = j->i;
  char c = a < j->n ? j->s[a] : 0;
  size_t cnt = 0;
  if (!skip(j, 2, &cnt)) return false;
  if (v && (c == '{' || c == '[')) b->vocab_s = a, b->vocab_e = j->i, b->vocab_n = cnt;
  if (m && c == '[') b->merges_s = a, b->merges_e = j->i, b->merges_n = cnt;
  return true;
}

static bool root_member(js *j, const char *k, size_t kl, void *ctx) {
  tk_jbig *b = ctx;
  if (key_is(k, kl, "model") && !b->seen_model) {
    b->seen_model = true;
    if (j->i < j->n && j->s[j->i] == '{') return members(j, model_member, ctx);
  }
  return skip(j, 1, NULL);
}

bool tk_jscan_split(const char *json, size_t len, tk_jbig *b) {
  memset(b, 0, sizeof *b);
  js j = {json, len, 0, {0}};
  bool ok = members(&j, root_member, b);
  if (ok) {
    ws(&j);
    ok = j.i == len;
  }
  free(j.tmp.p);
  if (!ok || !b->vocab_e) {
    memset(b, 0, sizeof *b);
    return false;
  }
  /* The text without the two spans, each replaced by an empty container. */
  size_t cuts[2][2] = {{b->vocab_s, b->vocab_e}, {b->merges_s, b->merges_e}};
  int nc = b->merges_e ? 2 : 1;
  if (nc == 2 && cuts[1][0] < cuts[0][0]) {
    size_t t0 = cuts[0][0], t1 = cuts[0][1];
    cuts[0][0] = cuts[1][0], cuts[0][1] = cuts[1][1];
    cuts[1][0] = t0, cuts[1][1] = t1;
  }
  char *r = malloc(len + 5);
  if (!r) {
    memset(b, 0, sizeof *b);
    return false;
  }
  size_t k = 0, pos = 0;
  for (int i = 0; i < nc; i++) {
    memcpy(r + k, json + pos, cuts[i][0] - pos);
    k += cuts[i][0] - pos;
    r[k++] = json[cuts[i][0]];
    r[k++] = json[cuts[i][0]] == '{' ? '}' : ']';
    pos = cuts[i][1];
  }
  memcpy(r + k, json + pos, len - pos);
  k += len - pos;
  r[k] = 0;
  b->rest = r;
  b->rest_len = k;
  b->json = json;
  return true;
}

void tk_jscan_free(tk_jbig *b) {
  free(b->rest);
  memset(b, 0, sizeof *b);
}

static bool valid_id(double d) { return d >= 0 && d <= (double)INT32_MAX - 1 && d == (int32_t)d; }


/* Entries gathered to be added in a batch (merges for tk_model_add_merges;
 * vocabulary keys with ids in `id`); strings outside the text (unescaped
 * ones) are copied into `buf`. */
enum { MB_N = 512, MB_BUF = 1 << 16 };
typedef struct mbatch {
  const char *a[MB_N], *b[MB_N];
  size_t la[MB_N], lb[MB_N];
  int32_t id[MB_N];
  size_t n;
  int32_t rank0;
  char buf[MB_BUF];
  size_t used;
} mbatch;

static bool mb_flush(model *m, mbatch *mb) {
  bool ok = tk_model_add_merges(m, mb->n, mb->a, mb->la, mb->b, mb->lb, mb->rank0);
  mb->rank0 += (int32_t)mb->n;
  mb->n = 0;
  mb->used = 0;
  return ok;
}

/* Keeps s (from the text, or copied) for the batch; false: no room. */
static bool mb_keep(mbatch *mb, const js *j, const char **s, size_t l) {
  if (*s >= j->s && *s < j->s + j->n) return true;
  if (mb->used + l > MB_BUF) return false;
  memmove(mb->buf + mb->used, *s, l);
  *s = mb->buf + mb->used;
  mb->used += l;
  return true;
}

/* Adds the gathered vocabulary entries, fetching their hash slots first. */
static bool vb_flush(model *m, mbatch *mb) {
  for (size_t i = 0; i < mb->n; i++) tk_strmap_prefetch(&m->vocab, mb->a[i], mb->la[i]);
  bool ok = true;
  for (size_t i = 0; ok && i < mb->n; i++) ok = tk_model_set_token(m, mb->id[i], mb->a[i], mb->la[i]);
  mb->n = 0;
  mb->used = 0;
  return ok;
}

tk_jstatus tk_jscan_vocab(const tk_jbig *b, model *m, size_t *bad) {
  js j = {b->json, b->vocab_e, b->vocab_s, {0}};
  tk_jstatus st = TK_JS_BAD;
  size_t idx = 0;
  *bad = 0;
  mbatch *mb = calloc(1, sizeof *mb);
  if (!mb || !tk_model_reserve(m, b->vocab_n + 1, b->vocab_e - b->vocab_s)) {
    free(mb);
    return TK_JS_OOM;
  }
  ws(&j);
  if (j.i >= j.n || j.s[j.i] != '{') goto done;
  j.i++;
  ws(&j);
  if (j.i < j.n && j.s[j.i] == '}') {
    st = TK_JS_OK;
    goto done;
  }
  for (;; idx++) {
    const char *k;
    size_t kl;
    double v;
    ws(&j);
    if (!str(&j, &k, &kl)) goto done;
    ws(&j);
    if (j.i >= j.n || j.s[j.i] != ':') goto done;
    j.i++;
    ws(&j);
    if (!num(&j, &v) || !valid_id(v) || !tk_utf8_valid(k, kl)) goto done;
    if (mb->n == MB_N || !mb_keep(mb, &j, &k, kl)) {
      if (!vb_flush(m, mb)) {
        st = TK_JS_OOM;
        goto done;
      }
      if (!mb_keep(mb, &j, &k, kl)) { /* longer than the batch buffer: on its own */
        if (!tk_model_set_token(m, (int32_t)v, k, kl)) {
          st = TK_JS_OOM;
          goto done;
        }
        k = NULL;
      }
    }
    if (k) {
      mb->a[mb->n] = k, mb->la[mb->n] = kl, mb->id[mb->n] = (int32_t)v;
      mb->n++;
    }
    ws(&j);
    if (j.i >= j.n) goto done;
    if (j.s[j.i] == ',') {
      j.i++;
      continue;
    }
    if (j.s[j.i] == '}') st = vb_flush(m, mb) ? TK_JS_OK : TK_JS_OOM;
    goto done;
  }
done:
  if (st == TK_JS_BAD) *bad = idx;
  free(j.tmp.p);
  free(mb);
  return st;
}

tk_jstatus tk_jscan_unigram(const tk_jbig *b, model *m, size_t *bad) {
  js j = {b->json, b->vocab_e, b->vocab_s, {0}};
  tk_jstatus st = TK_JS_BAD;
  size_t idx = 0, cap = 0;
  *bad = 0;
  ws(&j);
  if (j.i >= j.n || j.s[j.i] != '[') goto done;
  j.i++;
  ws(&j);
  if (j.i < j.n && j.s[j.i] == ']') {
    st = TK_JS_OK;
    goto done;
  }
  for (;; idx++) {
    const char *k;
    size_t kl;
    double v;
    ws(&j);
    if (j.i >= j.n || j.s[j.i] != '[' || idx >= INT32_MAX - 1) goto done;
    j.i++;
    ws(&j);
    if (!str(&j, &k, &kl) || !tk_utf8_valid(k, kl)) goto done;
    ws(&j);
    if (j.i >= j.n || j.s[j.i] != ',') goto done;
    j.i++;
    ws(&j);
    if (!num(&j, &v)) goto done;
    ws(&j);
    if (j.i >= j.n || j.s[j.i] != ']') goto done;
    j.i++;
    if (idx >= cap) {
      size_t nc = cap ? cap * 2 : b->vocab_n + 1;
      double *ns = realloc(m->uscore, nc * sizeof *ns);
      if (!ns) {
        st = TK_JS_OOM;
        goto done;
      }
      m->uscore = ns;
      cap = nc;
    }
    m->uscore[idx] = v;
    if (!tk_model_set_token(m, (int32_t)idx, k, kl)) {
      st = TK_JS_OOM;
      goto done;
    }
    ws(&j);
    if (j.i >= j.n) goto done;
    if (j.s[j.i] == ',') {
      j.i++;
      continue;
    }
    if (j.s[j.i] == ']') st = TK_JS_OK;
    goto done;
  }
done:
  if (st == TK_JS_BAD) *bad = idx;
  if (st == TK_JS_OK && !m->uscore) {
    m->uscore = calloc(1, sizeof *m->uscore);
    if (!m->uscore) st = TK_JS_OOM;
  }
  free(j.tmp.p);
  return st;
}

tk_jstatus tk_jscan_merges(const tk_jbig *b, model *m, size_t *bad) {
  js j = {b->json, b->merges_e, b->merges_s, {0}};
  sbuf first = {0};
  tk_jstatus st = TK_JS_BAD;
  size_t idx = 0;
  *bad = 0;
  if (!b->merges_e) return TK_JS_OK;
  mbatch *mb = calloc(1, sizeof *mb);
  if (!mb || !tk_u64map_reserve(&m->merges, b->merges_n + 1)) {
    free(mb);
    return TK_JS_OOM;
  }
  ws(&j);
  if (j.i >= j.n || j.s[j.i] != '[') goto done;
  j.i++;
  ws(&j);
  if (j.i < j.n && j.s[j.i] == ']') {
    st = TK_JS_OK;
    goto done;
  }
  for (;; idx++) {
    const char *a, *c;
    size_t la, lc;
    ws(&j);
    if (j.i >= j.n || idx >= INT32_MAX - MB_N) goto done;
    if (j.s[j.i] == '"') {
      if (!str(&j, &a, &la)) goto done;
      const char *sp = memchr(a, ' ', la);
      if (!sp) goto done;
      c = sp + 1;
      lc = la - (size_t)(sp - a) - 1;
      la = (size_t)(sp - a);
    } else if (j.s[j.i] == '[') {
      j.i++;
      ws(&j);
      if (!str(&j, &a, &la)) goto done;
      /* the first string may live in j.tmp, which the second reuses */
      first.n = 0;
      if (a == j.tmp.p) {
        if (!tk_sbuf_put(&first, a, la)) {
          st = TK_JS_OOM;
          goto done;
        }
        a = first.p;
      }
      ws(&j);
      if (j.i >= j.n || j.s[j.i] != ',') goto done;
      j.i++;
      ws(&j);
      if (!str(&j, &c, &lc)) goto done;
      ws(&j);
      if (j.i >= j.n || j.s[j.i] != ']') goto done;
      j.i++;
    } else {
      goto done;
    }
    if (la + lc > MB_BUF) {
      /* too long to batch: on its own, in rank order */
      if (!mb_flush(m, mb)) {
        st = TK_JS_OOM;
        goto done;
      }
      tk_model_add_merge(m, a, la, c, lc, mb->rank0++);
    } else {
      if (mb->n == MB_N || !mb_keep(mb, &j, &a, la) || !mb_keep(mb, &j, &c, lc)) {
        if (!mb_flush(m, mb)) {
          st = TK_JS_OOM;
          goto done;
        }
        mb_keep(mb, &j, &a, la);
        mb_keep(mb, &j, &c, lc);
      }
      mb->a[mb->n] = a, mb->la[mb->n] = la, mb->b[mb->n] = c, mb->lb[mb->n] = lc;
      mb->n++;
    }
    ws(&j);
    if (j.i >= j.n) goto done;
    if (j.s[j.i] == ',') {
      j.i++;
      continue;
    }
    if (j.s[j.i] == ']') st = mb_flush(m, mb) ? TK_JS_OK : TK_JS_OOM;
    goto done;
  }
done:
  if (st == TK_JS_BAD) *bad = idx;
  free(j.tmp.p);
  free(first.p);
  free(mb);
  return st;
}
