/* tokenizer_util.c — memory, UTF-8, character classes, hash tables, the
 * byte trie, PCRE2 regexes and offset-carrying strings for the tokenizer. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <utf8proc.h>

#include "text/tokenizer_internal.h"

/* ------------------------------------------------------------ arena */

void *tk_arena_keep(arena *a, void *p) {
  if (!p) {
    a->oom = true;
    return NULL;
  }
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    void **np = realloc(a->ptrs, nc * sizeof *np);
    if (!np) {
      free(p);
      a->oom = true;
      return NULL;
    }
    a->ptrs = np;
    a->cap = nc;
  }
  a->ptrs[a->n++] = p;
  return p;
}

void *tk_arena_alloc(arena *a, size_t n) { return tk_arena_keep(a, malloc(n ? n : 1)); }

void *tk_arena_bump(arena *a, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n > a->blk_left) {
    size_t sz = n > (256u << 10) ? n : (256u << 10);
    char *b = tk_arena_alloc(a, sz);
    if (!b) return NULL;
    a->blk = b;
    a->blk_left = sz;
  }
  void *p = a->blk;
  a->blk += n;
  a->blk_left -= n;
  return p;
}

void tk_arena_free(arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
  free(a->ptrs);
  memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------ sbuf */

bool tk_sbuf_put(sbuf *b, const void *s, size_t n) {
  if (b->oom) return false;
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + n + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = true;
      return false;
    }
    b->p = np;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return true;
}

bool tk_sbuf_putc(sbuf *b, char c) { return tk_sbuf_put(b, &c, 1); }

bool tk_sbuf_put_cp(sbuf *b, uint32_t cp) {
  char tmp[4];
  return tk_sbuf_put(b, tmp, tk_utf8_encode(cp, tmp));
}

/* ------------------------------------------------------------ utf-8 */

size_t tk_utf8_decode(const unsigned char *s, size_t n, size_t i, uint32_t *cp) {
  unsigned c = s[i];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; k++) {
    unsigned d = s[i + k];
    if (d < lo || d > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
    v = (v << 6) | (d & 0x3F);
  }
  *cp = v;
  return len;
}

size_t tk_utf8_encode(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the maximal prefix of a well-formed sequence at s[i] (>= 1): one
 * U+FFFD replaces it, as Python and the Unicode standard recommend. */
static size_t tk_utf8_bad_len(const unsigned char *s, size_t n, size_t i) {
  unsigned c = s[i];
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else return 1;
  size_t k = 1;
  for (; k < len && i + k < n; k++) {
    unsigned d = s[i + k];
    if (d < lo || d > hi) break;
    lo = 0x80;
    hi = 0xBF;
  }
  return k;
}

bool tk_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t l = tk_utf8_decode(u, n, i, &cp);
    if (!l) return false;
    i += l;
  }
  return true;
}

char *tk_utf8_sanitize(const char *s, size_t n, size_t *out_n, uint32_t **o) {
  const unsigned char *u = (const unsigned char *)s;
  /* Worst case: every byte becomes 3 bytes of U+FFFD. */
  if (n > (SIZE_MAX - 1) / 3 / (2 * sizeof(uint32_t))) return NULL;
  char *r = malloc(3 * n + 1);
  uint32_t *off = o ? malloc((3 * n + 1) * 2 * sizeof *off) : NULL;
  if (!r || (o && !off)) {
    free(r);
    free(off);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = u[i] < 0x80 ? (cp = u[i], 1) : tk_utf8_decode(u, n, i, &cp);
    const char *src = s + i;
    size_t sl = l;
    if (!l) {
      l = tk_utf8_bad_len(u, n, i);
      src = "\xEF\xBF\xBD";
      sl = 3;
    }
    memcpy(r + k, src, sl);
    if (off)
      for (size_t j = 0; j < sl; j++) {
        off[2 * (k + j)] = (uint32_t)i;
        off[2 * (k + j) + 1] = (uint32_t)(i + l);
      }
    k += sl;
    i += l;
  }
  r[k] = 0;
  *out_n = k;
  if (o) *o = off;
  return r;
}

/* ------------------------------------------------------------ character classes */

bool tk_cp_is_whitespace(uint32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool tk_cp_is_alnum(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
         (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

bool tk_cp_is_numeric(uint32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

bool tk_cp_is_punct(uint32_t c) {
  if (c < 0x80)
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool tk_cp_is_mark(uint32_t c) {
  if (c < 0x300) return false;
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

bool tk_cp_is_control(uint32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

bool tk_cp_is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ------------------------------------------------------------ hashing */

/* Big hash tables are probed at random: on 4 KiB pages nearly every probe
 * also misses the TLB, so tables of 2 MiB and more ask for huge pages.
 * Freed with free(). */
void *tk_table_alloc(size_t n, bool zero) {
  const size_t huge = (size_t)2 << 20;
  if (n < huge) return zero ? calloc(1, n) : malloc(n);
  void *p = NULL;
  size_t sz = (n + huge - 1) & ~(huge - 1);
  if (posix_memalign(&p, huge, sz) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, sz, MADV_HUGEPAGE);
#endif
  if (zero) memset(p, 0, n);
  return p;
}

uint64_t tk_hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, s, 8);
    h = (h ^ v) * 0x100000001B3ull;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  uint64_t v = 0;
  if (n) memcpy(&v, s, n);
  h = (h ^ v) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 32;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 29;
  return h;
}

static bool tk_strmap_rehash(strmap *m, size_t ns) {
  struct tk_strmap_slot *sl = tk_table_alloc(ns * sizeof *sl, true);
  if (!sl) return false;
  for (size_t i = 0; i < m->nslots; i++) {
    const struct tk_strmap_slot *e = &m->slots[i];
    if (!e->off1) continue;
    uint64_t h = tk_hash_bytes(m->pool + e->off1 - 1, e->len);
    size_t j = h & (ns - 1);
    while (sl[j].off1) j = (j + 1) & (ns - 1);
    sl[j] = *e;
  }
  free(m->slots);
  m->slots = sl;
  m->nslots = ns;
  return true;
}

bool tk_strmap_reserve(strmap *m, size_t n, size_t bytes) {
  if (n > UINT32_MAX / 4 || bytes > UINT32_MAX / 4) return false;
  size_t ns = m->nslots ? m->nslots : 1024;
  while (ns < 2 * n) ns *= 2;
  if (ns != m->nslots && !tk_strmap_rehash(m, ns)) return false;
  if (bytes + 1 > m->pool_cap) {
    char *np = realloc(m->pool, bytes + 1);
    if (!np) return false;
    m->pool = np;
    m->pool_cap = bytes + 1;
  }
  return true;
}

static inline bool slot_is(const strmap *m, const struct tk_strmap_slot *e, uint32_t tag,
                           const char *k, size_t len) {
  return e->tag == tag && e->len == len && memcmp(m->pool + e->off1 - 1, k, len) == 0;
}

static int32_t strmap_get_h(const strmap *m, const char *k, size_t len, uint64_t h) {
  uint32_t tag = (uint32_t)(h >> 32);
  size_t j = h & (m->nslots - 1);
  while (m->slots[j].off1) {
    if (slot_is(m, &m->slots[j], tag, k, len)) return m->slots[j].val;
    j = (j + 1) & (m->nslots - 1);
  }
  return -1;
}

int32_t tk_strmap_get(const strmap *m, const char *k, size_t len) {
  if (!m->nslots) return -1;
  return strmap_get_h(m, k, len, tk_hash_bytes(k, len));
}

void tk_strmap_get_many(const strmap *m, size_t n, const char *const *k, const size_t *len,
                        int32_t *out) {
  enum { B = 32 };
  if (!m->nslots) {
    for (size_t i = 0; i < n; i++) out[i] = -1;
    return;
  }
  uint64_t h[B];
  for (size_t i0 = 0; i0 < n; i0 += B) {
    size_t nb = n - i0 < B ? n - i0 : B;
    /* stage 1: hash and fetch the home slots; stage 2: fetch the key bytes
     * of the candidates; stage 3: compare (probing on as usual). */
    for (size_t i = 0; i < nb; i++) {
      h[i] = tk_hash_bytes(k[i0 + i], len[i0 + i]);
      __builtin_prefetch(&m->slots[h[i] & (m->nslots - 1)]);
    }
    for (size_t i = 0; i < nb; i++) {
      const struct tk_strmap_slot *e = &m->slots[h[i] & (m->nslots - 1)];
      if (e->off1 && e->tag == (uint32_t)(h[i] >> 32)) __builtin_prefetch(m->pool + e->off1 - 1);
    }
    for (size_t i = 0; i < nb; i++) out[i0 + i] = strmap_get_h(m, k[i0 + i], len[i0 + i], h[i]);
  }
}

void tk_strmap_prefetch(const strmap *m, const char *k, size_t len) {
  if (m->nslots) __builtin_prefetch(&m->slots[tk_hash_bytes(k, len) & (m->nslots - 1)], 1);
}

bool tk_strmap_put(strmap *m, const char *k, size_t len, int32_t val) {
  if (len > UINT32_MAX / 4 || m->n >= UINT32_MAX / 4) return false;
  if ((m->n + 1) * 2 > m->nslots && !tk_strmap_rehash(m, m->nslots ? m->nslots * 2 : 1024))
    return false;
  uint64_t h = tk_hash_bytes(k, len);
  uint32_t tag = (uint32_t)(h >> 32);
  size_t j = h & (m->nslots - 1);
  while (m->slots[j].off1) {
    if (slot_is(m, &m->slots[j], tag, k, len)) {
      m->slots[j].val = val;
      return true;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  if (m->pool_n + len + 1 > m->pool_cap) {
    size_t nc = m->pool_cap ? m->pool_cap : 4096;
    while (nc < m->pool_n + len + 1) nc *= 2;
    if (nc > UINT32_MAX / 2) return false;
    char *np = realloc(m->pool, nc);
    if (!np) return false;
    m->pool = np;
    m->pool_cap = nc;
  }
  memcpy(m->pool + m->pool_n, k, len);
  m->pool[m->pool_n + len] = 0;
  m->slots[j] = (struct tk_strmap_slot){tag, (uint32_t)m->pool_n + 1, (uint32_t)len, val};
  m->pool_n += len + 1;
  m->n++;
  return true;
}

void tk_strmap_free(strmap *m) {
  free(m->slots);
  free(m->pool);
  memset(m, 0, sizeof *m);
}

static inline uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDull;
  k ^= k >> 33;
  return k;
}

static bool tk_u64map_resize(u64map *m, size_t ns) {
  uint64_t *nk = tk_table_alloc(ns * sizeof *nk, false), *nv = tk_table_alloc(ns * sizeof *nv, false);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return false;
  }
  memset(nk, 0xFF, ns * sizeof *nk);
  for (size_t i = 0; i < m->nslots; i++) {
    if (m->keys[i] == UINT64_MAX) continue;
    size_t j = mix64(m->keys[i]) & (ns - 1);
    while (nk[j] != UINT64_MAX) j = (j + 1) & (ns - 1);
    nk[j] = m->keys[i];
    nv[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->nslots = ns;
  return true;
}

bool tk_u64map_reserve(u64map *m, size_t n) {
  if (n > SIZE_MAX / 64) return false;
  size_t ns = m->nslots ? m->nslots : 1024;
  while (ns < 2 * n) ns *= 2;
  return ns == m->nslots || tk_u64map_resize(m, ns);
}

bool tk_u64map_put(u64map *m, uint64_t k, uint64_t v) {
  if (k == UINT64_MAX) return false;
  if ((m->n + 1) * 2 > m->nslots && !tk_u64map_resize(m, m->nslots ? m->nslots * 2 : 1024))
    return false;
  size_t j = mix64(k) & (m->nslots - 1);
  while (m->keys[j] != UINT64_MAX) {
    if (m->keys[j] == k) {
      m->vals[j] = v;
      return true;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  m->keys[j] = k;
  m->vals[j] = v;
  m->n++;
  return true;
}

void tk_u64map_prefetch(const u64map *m, uint64_t k) {
  if (m->nslots) __builtin_prefetch(&m->keys[mix64(k) & (m->nslots - 1)]);
}

bool tk_u64map_get(const u64map *m, uint64_t k, uint64_t *v) {
  if (!m->nslots) return false;
  size_t j = mix64(k) & (m->nslots - 1);
  while (m->keys[j] != UINT64_MAX) {
    if (m->keys[j] == k) {
      *v = m->vals[j];
      return true;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  return false;
}

void tk_u64map_free(u64map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ trie */

bool tk_trie_init(trie *t) {
  memset(t, 0, sizeof *t);
  t->val = malloc(64 * sizeof *t->val);
  if (!t->val) return false;
  t->cap = 64;
  t->n = 1;
  t->val[0] = -1;
  return true;
}

bool tk_trie_insert(trie *t, const char *s, size_t len, int32_t val) {
  if (!len) return true; /* empty keys never match */
  uint64_t node = 0;
  t->first[(unsigned char)s[0] >> 3] |= (uint8_t)(1u << ((unsigned char)s[0] & 7));
  for (size_t i = 0; i < len; i++) {
    uint64_t key = (node << 8) | (unsigned char)s[i], child;
    if (!tk_u64map_get(&t->edges, key, &child)) {
      if (t->n == t->cap) {
        size_t nc = t->cap * 2;
        int32_t *nv = realloc(t->val, nc * sizeof *nv);
        if (!nv) return false;
        t->val = nv;
        t->cap = nc;
      }
      child = t->n;
      t->val[t->n++] = -1;
      if (!tk_u64map_put(&t->edges, key, child)) return false;
    }
    node = child;
  }
  t->val[node] = val;
  return true;
}

size_t tk_trie_longest(const trie *t, const char *s, size_t n, int32_t *val) {
  if (!n || !t->val || !(t->first[(unsigned char)s[0] >> 3] & (1u << ((unsigned char)s[0] & 7))))
    return 0;
  uint64_t node = 0, child;
  size_t best = 0;
  for (size_t i = 0; i < n; i++) {
    if (!tk_u64map_get(&t->edges, (node << 8) | (unsigned char)s[i], &child)) break;
    node = child;
    if (t->val[node] >= 0) {
      best = i + 1;
      *val = t->val[node];
    }
  }
  return best;
}

void tk_trie_free(trie *t) {
  tk_u64map_free(&t->edges);
  free(t->val);
  memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------ regex */

regex *tk_regex_new(const char *pat, size_t len, bool literal, const char *what) {
  int err;
  PCRE2_SIZE eoff;
  uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  if (!tk_utf8_valid(pat, len)) {
    set_error(MX_ERR_FORMAT, "tokenizer: %s: pattern is not valid UTF-8", what);
    return NULL;
  }
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, opts, &err, &eoff, NULL);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    set_error(MX_ERR_FORMAT, "tokenizer: %s: bad regex at offset %zu: %s", what, (size_t)eoff,
              (const char *)msg);
    return NULL;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpreter if JIT is unavailable */
  regex *r = malloc(sizeof *r);
  if (!r) {
    pcre2_code_free(code);
    set_error(MX_ERR_OOM, "tokenizer: out of memory");
    return NULL;
  }
  r->code = code;
  return r;
}

void tk_regex_free(regex *r) {
  if (!r) return;
  pcre2_code_free(r->code);
  free(r);
}

bool tk_regex_find(const regex *r, pcre2_match_data *md, const char *s, size_t n, size_t from,
                size_t *ms, size_t *me) {
  if (from > n) return false;
  int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, md, NULL);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT ||
      rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
    /* Long runs can exhaust the default JIT stack: retry with a large one. */
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_jit_stack *js = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
    if (mc && js) pcre2_jit_stack_assign(mc, NULL, js);
    rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, from, PCRE2_NO_UTF_CHECK, md, mc);
    pcre2_jit_stack_free(js);
    pcre2_match_context_free(mc);
  }
  if (rc < 0) return false;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  *ms = ov[0];
  *me = ov[1];
  return true;
}

/* ------------------------------------------------------------ nstr */

void tk_nstr_init(nstr *x, arena *a) {
  memset(x, 0, sizeof *x);
  x->a = a;
}

static bool tk_nstr_reserve(nstr *x, size_t add) {
  if (x->n + add <= x->cap) return true;
  size_t nc = x->cap ? x->cap * 2 : 32;
  while (nc < x->n + add) nc *= 2;
  if (!x->cap && x->s) {
    /* Buffers handed to the arena (or a view): copy, never realloc them. */
    char *ns = malloc(nc);
    uint32_t *no = malloc(nc * 2 * sizeof *no);
    if (!ns || !no) {
      free(ns);
      free(no);
      return false;
    }
    memcpy(ns, x->s, x->n);
    memcpy(no, x->o, x->n * 2 * sizeof *no);
    x->s = ns;
    x->o = no;
    x->cap = nc;
    return true;
  }
  char *ns = realloc(x->s, nc);
  if (!ns) return false;
  x->s = ns;
  uint32_t *no = realloc(x->o, nc * 2 * sizeof *no);
  if (!no) return false;
  x->o = no;
  x->cap = nc;
  return true;
}

bool tk_nstr_put(nstr *x, const char *s, size_t n, uint32_t os, uint32_t oe) {
  if (!tk_nstr_reserve(x, n)) {
    x->a->oom = true;
    return false;
  }
  memcpy(x->s + x->n, s, n);
  for (size_t i = 0; i < n; i++) {
    x->o[2 * (x->n + i)] = os;
    x->o[2 * (x->n + i) + 1] = oe;
  }
  x->n += n;
  return true;
}

bool tk_nstr_put_from(nstr *x, const nstr *src, size_t i, size_t j) {
  if (j <= i) return true;
  if (!tk_nstr_reserve(x, j - i)) {
    x->a->oom = true;
    return false;
  }
  memcpy(x->s + x->n, src->s + i, j - i);
  memcpy(x->o + 2 * x->n, src->o + 2 * i, (j - i) * 2 * sizeof *x->o);
  x->n += j - i;
  return true;
}

void tk_nstr_done(nstr *x) {
  /* The arena owns the buffers from now on; keep `cap` 0 so that they are
   * never grown again. */
  if (x->s) tk_arena_keep(x->a, x->s);
  if (x->o) tk_arena_keep(x->a, x->o);
  x->cap = 0;
}

nstr tk_nstr_sub(const nstr *x, size_t i, size_t j) {
  nstr r = *x;
  r.s = x->s ? x->s + i : NULL;
  r.o = x->o ? x->o + 2 * i : NULL;
  r.n = j - i;
  r.cap = 0;
  return r;
}

void tk_nstr_span(const nstr *x, uint32_t dflt, uint32_t *os, uint32_t *oe) {
  if (!x->n) {
    *os = *oe = dflt;
    return;
  }
  *os = x->o[0];
  *oe = x->o[2 * x->n - 1];
}

bool tk_splits_push(splits *s, arena *a, split x) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 16;
    split *nv = malloc(nc * sizeof *nv);
    if (!nv || !tk_arena_keep(a, nv)) return false;
    if (s->n) memcpy(nv, s->v, s->n * sizeof *nv);
    s->v = nv; /* the old block stays in the arena until the call ends */
    s->cap = nc;
  }
  s->v[s->n++] = x;
  return true;
}

/* ------------------------------------------------------------ vectors */

bool tk_tokvec_push(tokvec *v, int32_t id, uint32_t os, uint32_t oe) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 64;
    int32_t *ni = realloc(v->id, nc * sizeof *ni);
    if (!ni) return false;
    v->id = ni;
    uint32_t *no = realloc(v->off, nc * 2 * sizeof *no);
    if (!no) return false;
    v->off = no;
    v->cap = nc;
  }
  v->id[v->n] = id;
  v->off[2 * v->n] = os;
  v->off[2 * v->n + 1] = oe;
  v->n++;
  return true;
}

void tk_tokvec_free(tokvec *v) {
  free(v->id);
  free(v->off);
  memset(v, 0, sizeof *v);
}

bool tk_strvec_push(strvec *v, const char *s, size_t len) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 16;
    char **ns = realloc(v->s, nc * sizeof *ns);
    if (!ns) return false;
    v->s = ns;
    size_t *nl = realloc(v->len, nc * sizeof *nl);
    if (!nl) return false;
    v->len = nl;
    v->cap = nc;
  }
  char *c = malloc(len + 1);
  if (!c) return false;
  if (len) memcpy(c, s, len);
  c[len] = 0;
  v->s[v->n] = c;
  v->len[v->n++] = len;
  return true;
}

void tk_strvec_free(strvec *v) {
  for (size_t i = 0; i < v->n; i++) free(v->s[i]);
  free(v->s);
  free(v->len);
  memset(v, 0, sizeof *v);
}

bool tk_enc_push(enc *e, int32_t id, int32_t type_id, uint32_t os, uint32_t oe, uint8_t special,
              int8_t seq) {
  if (e->n == e->cap) {
    size_t nc = e->cap ? e->cap * 2 : 64;
#define GROW(f, k)                                   \
  do {                                               \
    void *np = realloc(e->f, nc * (k) * sizeof *e->f); \
    if (!np) return false;                           \
    e->f = np;                                       \
  } while (0)
    GROW(ids, 1);
    GROW(type_ids, 1);
    GROW(off, 2);
    GROW(special, 1);
    GROW(attn, 1);
    GROW(seq, 1);
#undef GROW
    e->cap = nc;
  }
  e->ids[e->n] = id;
  e->type_ids[e->n] = type_id;
  e->off[2 * e->n] = os;
  e->off[2 * e->n + 1] = oe;
  e->special[e->n] = special;
  e->attn[e->n] = 1;
  e->seq[e->n] = seq;
  e->n++;
  return true;
}

void tk_enc_free(enc *e) {
  free(e->ids);
  free(e->type_ids);
  free(e->off);
  free(e->special);
  free(e->attn);
  free(e->seq);
  memset(e, 0, sizeof *e);
}
