/* test_cuda_fast.c — the fast family's GPU kernels (src/backend/cuda/fast.cu:
 * rms_norm, layer_norm, rope, scaled_dot_product_attention) against the CPU
 * kernels on the same host inputs. Without a usable GPU it says so and
 * passes (CI has none).
 *
 * Each case evaluates the op on the CPU stream, then on the GPU stream, and
 * asserts gpu_fallback_count() did not grow (the GPU kernel ran) unless the
 * case is one the kernels leave to the CPU on purpose. An element passes when
 * |gpu - cpu| <= rel * |cpu| + absf * max|cpu| (NaN where the CPU has NaN):
 *   - f32 outputs: rel 1e-5, absf 2e-6 (norms), 2e-5 (attention): the sums
 *     run in a different order (f32 rounding ~1e-7 * sqrt(n)), attention's
 *     exp is __expf (2 ulp) and its online rescaling differs;
 *     rope: rel 0, absf 2e-6 — CUDA's sincosf is within 2 ulp of glibc's.
 *   - f16 outputs: rel = absf = 2^-9 (two f16 ulps: a value rounded once
 *     more or less near a rounding boundary, then multiplied by a weight or
 *     summed, moves by at most about two units of the last place);
 *   - bf16 outputs: rel = absf = 2^-6 (the same two ulps of bf16's 8 bits).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"
#include "quant_compare.h"
#ifdef MLXC_HAVE_CUDA
#include "backend/cuda/cuda_fast.h"
#endif

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};

/* N(0, 1) values made on the CPU; the GPU is the default after. */
static mx_array rand_array(const int64_t *shape, int nd, mx_dtype t, uint64_t seed) {
  mx_array r = qc_randn(shape, nd, t, seed);
  mx_set_default_device(gpu);
  return r;
}

static void tol_of(mx_dtype t, double *rel, double *absf) {
  if (t == MX_FLOAT16) *rel = *absf = 0x1p-9;
  else if (t == MX_BFLOAT16) *rel = *absf = 0x1p-6;
  else {
    *rel = 1e-5;
    *absf = 2e-6;
  }
}

/* The worst |gpu - cpu| / tolerance. */
static double max_err(mx_array g, mx_array c, double rel, double absf) {
  mx_set_default_device(cpu);
  mx_array g32 = mx_astype(g, MX_FLOAT32), c32 = mx_astype(c, MX_FLOAT32);
  const float *x = mx_array_data(g32), *y = mx_array_data(c32);
  int64_t n = mx_array_size(c);
  double worst = 0, scale = 0;
  if (!x || !y) worst = 1e9;
  for (int64_t i = 0; x && y && i < n; i++)
    if (isfinite(y[i]) && fabs(y[i]) > scale) scale = fabs(y[i]);
  for (int64_t i = 0; x && y && i < n; i++) {
    if (isnan(y[i]) || isnan(x[i])) {
      if (!(isnan(y[i]) && isnan(x[i]))) worst = 1e9;
      continue;
    }
    if (isinf(y[i]) || isinf(x[i])) {
      if (x[i] != y[i]) worst = 1e9;
      continue;
    }
    double d = fabs((double)x[i] - y[i]);
    double tol = rel * fabs((double)y[i]) + absf * scale;
    if (tol <= 0) tol = 1e-30;
    if (d / tol > worst) worst = d / tol;
  }
  mx_array_free(g32);
  mx_array_free(c32);
  mx_set_default_device(gpu);
  return worst;
}

typedef mx_array (*build_fn)(void *ctx);

/* Runs f on both devices and compares; on_gpu: the GPU kernel must cover it. */
static void compare(const char *name, build_fn f, void *ctx, double rel, double absf, bool on_gpu) {
  mx_set_default_device(cpu);
  mx_array rc = f(ctx);
  mx_eval1(rc);
  mx_set_default_device(gpu);
  int64_t f0 = gpu_fallback_count();
  mx_array rg = f(ctx);
  mx_status st = mx_eval1(rg);
  int64_t fell = gpu_fallback_count() - f0;
  char msg[512];
  if (st != MX_OK || !rc || !rg) {
    snprintf(msg, sizeof msg, "%s: evaluation failed: %s", name, mx_last_error());
    CHECK_MSG(0, msg);
  } else {
    bool same_shape = mx_array_ndim(rg) == mx_array_ndim(rc) && mx_array_size(rg) == mx_array_size(rc) &&
                      mx_array_dtype(rg) == mx_array_dtype(rc);
    double e = same_shape ? max_err(rg, rc, rel, absf) : 1e9;
    snprintf(msg, sizeof msg, "%s: err %.3g of tolerance, %lld CPU fallbacks", name, e, (long long)fell);
    CHECK_MSG(e <= 1.0 && (on_gpu ? fell == 0 : fell >= 1), msg);
    if (getenv("MLXC_TEST_VERBOSE")) printf("  %s\n", msg);
  }
  mx_array_free(rc);
  mx_array_free(rg);
}

static const mx_dtype fl[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};

/* ------------------------------------------------------------ norms */

typedef struct norm_case {
  mx_array x, w, b;
  bool layer;
} norm_case;

static mx_array run_norm(void *p) {
  norm_case *c = p;
  return c->layer ? mx_fast_layer_norm(c->x, c->w, c->b, 1e-5f) : mx_fast_rms_norm(c->x, c->w, 1e-6f);
}

static void norm_one(const char *what, mx_array x, mx_dtype wt, int wmode, bool layer) {
  int64_t D = mx_array_shape(x)[mx_array_ndim(x) - 1];
  norm_case c = {x, NULL, NULL, layer};
  if (wmode >= 1) c.w = rand_array(&D, 1, wt, 77);
  if (wmode >= 2) c.b = rand_array(&D, 1, wt, 78);
  mx_dtype ot = mx_array_dtype(x);
  if (c.w) ot = mx_promote_types(ot, wt);
  double rel, absf;
  tol_of(ot, &rel, &absf);
  char name[160];
  snprintf(name, sizeof name, "%s %s x %s D=%lld w%d %s", layer ? "layer_norm" : "rms_norm",
           what, mx_dtype_name(mx_array_dtype(x)), (long long)D, wmode, mx_dtype_name(wt));
  compare(name, run_norm, &c, rel, ot == MX_FLOAT32 ? 1e-5 : absf, true);
  mx_array_free(c.w);
  mx_array_free(c.b);
}

static void test_norms(void) {
  /* one 8-element chunk per thread up to 1024 threads, then 2 held in
   * registers (12288), then rows through shared memory (32768, 40000) */
  const int64_t shapes[][2] = {{1, 7},    {33, 128},  {5, 1000},  {3, 4096}, {1, 4096}, {2, 8192},
                               {2, 12288}, {1, 2048}, {2, 32768}, {1, 40000}, {0, 64}};
  for (int t = 0; t < 3; t++)
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
      mx_array x = rand_array(shapes[s], 2, fl[t], 10 + s);
      for (int layer = 0; layer < 2; layer++)
        for (int wm = 0; wm <= (layer ? 2 : 1); wm++) norm_one("dense", x, fl[t], wm, layer);
      mx_array_free(x);
    }
  for (int t = 0; t < 3; t++) {
    /* transposed: the last axis has stride 37 */
    int64_t s1[2] = {256, 37};
    mx_array a = rand_array(s1, 2, fl[t], 21);
    int perm[2] = {1, 0};
    mx_array at = mx_transpose(a, perm, 2);
    mx_eval1(at);
    norm_one("transposed", at, fl[t], 1, false);
    norm_one("transposed", at, fl[t], 2, true);
    /* offset rows: a column slice, rows not 16-byte aligned */
    int64_t s2[3] = {3, 5, 129}, st[3] = {0, 0, 1}, sp[3] = {3, 5, 129};
    mx_array bsrc = rand_array(s2, 3, fl[t], 22);
    mx_set_default_device(cpu);
    mx_array bs = mx_slice(bsrc, st, sp, NULL, 3);
    mx_eval1(bs);
    mx_set_default_device(gpu);
    norm_one("offset", bs, fl[t], 1, false);
    norm_one("offset", bs, fl[t], 2, true);
    /* broadcast rows (outer stride 0) */
    int64_t s3[2] = {1, 256}, s4[2] = {9, 256};
    mx_array r = rand_array(s3, 2, fl[t], 23);
    mx_array rb = mx_broadcast_to(r, s4, 2);
    mx_eval1(rb);
    norm_one("broadcast", rb, fl[t], 1, false);
    mx_array_free(a);
    mx_array_free(at);
    mx_array_free(bsrc);
    mx_array_free(bs);
    mx_array_free(r);
    mx_array_free(rb);
  }
  /* f16 x with an f32 weight: an f32 output */
  int64_t s5[2] = {17, 512};
  mx_array x = rand_array(s5, 2, MX_FLOAT16, 24);
  norm_one("mixed", x, MX_FLOAT32, 1, false);
  norm_one("mixed", x, MX_FLOAT32, 2, true);
  mx_array_free(x);
}

/* ------------------------------------------------------------ rope */

typedef struct rope_case {
  mx_array x, offs, freqs;
  int dims;
  bool trad;
  float base, scale;
  int64_t offset;
} rope_case;

static mx_array run_rope(void *p) {
  rope_case *c = p;
  if (c->offs)
    return mx_fast_rope_offsets(c->x, c->dims, c->trad, c->base, c->scale, c->offs, c->freqs);
  return mx_fast_rope(c->x, c->dims, c->trad, c->base, c->scale, c->offset, c->freqs);
}

static void rope_one(const char *what, rope_case *c) {
  mx_dtype t = mx_array_dtype(c->x);
  double rel, absf;
  tol_of(t, &rel, &absf);
  if (t == MX_FLOAT32) rel = 0, absf = 2e-6;
  char name[200];
  snprintf(name, sizeof name, "rope %s %s nd=%d dims=%d trad=%d off=%s%lld freqs=%d", what,
           mx_dtype_name(t), mx_array_ndim(c->x), c->dims, c->trad, c->offs ? "array " : "",
           (long long)c->offset, c->freqs != NULL);
  compare(name, run_rope, c, rel, absf, true);
}

static void test_rope(void) {
  for (int t = 0; t < 3; t++) {
    for (int trad = 0; trad < 2; trad++) {
      int64_t s1[4] = {1, 4, 7, 64};
      mx_array x = rand_array(s1, 4, fl[t], 31);
      rope_case c = {x, NULL, NULL, 64, trad, 10000.0f, 1.0f, 0};
      rope_one("dense", &c);
      c.offset = 4095;
      c.scale = 0.5f;
      rope_one("dense", &c);
      mx_array_free(x);
      /* tail passed through (dims < D), batch 2, odd sizes */
      int64_t s2[4] = {2, 3, 33, 80};
      x = rand_array(s2, 4, fl[t], 32);
      rope_case c2 = {x, NULL, NULL, 32, trad, 500000.0f, 1.0f, 7};
      rope_one("tail", &c2);
      /* offsets per batch entry (int32) and as a 0-d uint32 */
      int32_t ov[2] = {3, 1000};
      int64_t two = 2;
      c2.offs = mx_array_from_data(ov, &two, 1, MX_INT32);
      rope_one("offsets", &c2);
      mx_array_free(c2.offs);
      uint32_t u = 17;
      c2.offs = mx_array_from_data(&u, NULL, 0, MX_UINT32);
      rope_one("offsets", &c2);
      mx_array_free(c2.offs);
      c2.offs = NULL;
      /* custom frequencies */
      int64_t h = 16;
      mx_set_default_device(cpu);
      mx_array key = mx_random_key(5);
      c2.freqs = mx_random_uniform(1.0, 100.0, &h, 1, MX_FLOAT32, key);
      mx_eval1(c2.freqs);
      mx_array_free(key);
      mx_set_default_device(gpu);
      rope_one("freqs", &c2);
      mx_array_free(c2.freqs);
      mx_array_free(x);
      /* the LM's layout: (B, T, H, D) transposed to (B, H, T, D) */
      int64_t s3[4] = {2, 9, 8, 128};
      mx_array y = rand_array(s3, 4, fl[t], 33);
      int perm[4] = {0, 2, 1, 3};
      mx_array yt = mx_transpose(y, perm, 4);
      mx_eval1(yt);
      rope_case c3 = {yt, NULL, NULL, 128, trad, 10000.0f, 1.0f, 12};
      rope_one("transposed", &c3);
      mx_array_free(y);
      mx_array_free(yt);
      /* decode: one position, many heads */
      int64_t s4[4] = {1, 32, 1, 128};
      y = rand_array(s4, 4, fl[t], 34);
      rope_case c4 = {y, NULL, NULL, 128, trad, 10000.0f, 1.0f, 2047};
      rope_one("decode", &c4);
      mx_array_free(y);
      /* 3-d and 5-d inputs */
      int64_t s5[3] = {3, 11, 64};
      y = rand_array(s5, 3, fl[t], 35);
      rope_case c5 = {y, NULL, NULL, 48, trad, 10000.0f, 1.0f, 1};
      rope_one("3d", &c5);
      mx_array_free(y);
      int64_t s6[5] = {2, 2, 3, 5, 64};
      y = rand_array(s6, 5, fl[t], 36);
      rope_case c6 = {y, NULL, NULL, 64, trad, 10000.0f, 1.0f, 3};
      rope_one("5d", &c6);
      mx_array_free(y);
    }
  }
}

/* ------------------------------------------------------------ attention */

typedef struct sdpa_case {
  mx_array q, k, v, mask, sinks;
  float scale;
  mx_sdpa_mask mode;
} sdpa_case;

static mx_array run_sdpa(void *p) {
  sdpa_case *c = p;
  return mx_fast_scaled_dot_product_attention(c->q, c->k, c->v, c->scale, c->mode, c->mask, c->sinks);
}

enum { M_NONE, M_CAUSAL, M_BOOL, M_ADD };

typedef struct sdpa_spec {
  int64_t B, Hq, Hkv, Tq, Tk, D;
  int mask;
  bool sinks;
  bool on_gpu;
} sdpa_spec;

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

/* q: dense or from (B, Tq, Hq, D) transposed; k / v: dense or a slice of
 * a longer preallocated cache (B, Hkv, Tk + 13, D). */
static void sdpa_one(const sdpa_spec *sp, mx_dtype qt, mx_dtype kvt, bool strided, int seed) {
  sdpa_case c;
  memset(&c, 0, sizeof c);
  c.scale = 1.0f / sqrtf((float)sp->D);
  if (strided) {
    int64_t qs[4] = {sp->B, sp->Tq, sp->Hq, sp->D};
    mx_array q0 = rand_array(qs, 4, qt, seed);
    int perm[4] = {0, 2, 1, 3};
    c.q = mx_transpose(q0, perm, 4);
    mx_eval1(c.q);
    mx_array_free(q0);
    int64_t cs[4] = {sp->B, sp->Hkv, sp->Tk + 13, sp->D};
    int64_t st[4] = {0, 0, 0, 0}, en[4] = {sp->B, sp->Hkv, sp->Tk, sp->D};
    mx_array kc = rand_array(cs, 4, kvt, seed + 1), vc = rand_array(cs, 4, kvt, seed + 2);
    mx_set_default_device(cpu);
    c.k = mx_slice(kc, st, en, NULL, 4);
    c.v = mx_slice(vc, st, en, NULL, 4);
    mx_eval1(c.k);
    mx_eval1(c.v);
    mx_set_default_device(gpu);
    mx_array_free(kc);
    mx_array_free(vc);
  } else {
    int64_t qs[4] = {sp->B, sp->Hq, sp->Tq, sp->D}, ks[4] = {sp->B, sp->Hkv, sp->Tk, sp->D};
    c.q = rand_array(qs, 4, qt, seed);
    c.k = rand_array(ks, 4, kvt, seed + 1);
    c.v = rand_array(ks, 4, kvt, seed + 2);
  }
  uint32_t s = (uint32_t)seed * 2654435761u;
  mx_dtype ot = mx_promote_types(qt, kvt);
  if (sp->mask == M_CAUSAL) c.mode = MX_SDPA_MASK_CAUSAL;
  if (sp->mask == M_BOOL) {
    /* (B, 1, Tq, Tk), 70% kept; query row 0 fully masked (it then
     * averages V uniformly, as MLX) */
    int64_t n = sp->B * sp->Tq * sp->Tk, ms[4] = {sp->B, 1, sp->Tq, sp->Tk};
    uint8_t *m = malloc((size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) m[i] = (lcg(&s) % 10) < 7;
    for (int64_t j = 0; j < sp->Tk && sp->Tq > 1; j++) m[j] = 0;
    c.mask = mx_array_from_data(m, ms, 4, MX_BOOL);
    free(m);
    c.mode = MX_SDPA_MASK_ARRAY;
  } else if (sp->mask == M_ADD) {
    /* (Tq, Tk) additive, some -inf; the last query row all -inf (NaN) */
    int64_t n = sp->Tq * sp->Tk, ms[2] = {sp->Tq, sp->Tk};
    float *m = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
      uint32_t r = lcg(&s);
      m[i] = r % 13 == 0 ? -INFINITY : (float)((int)(r % 2001) - 1000) / 500.0f;
    }
    for (int64_t j = 0; j < sp->Tk && sp->Tq > 1; j++) m[(sp->Tq - 1) * sp->Tk + j] = -INFINITY;
    mx_array m32 = mx_array_from_data(m, ms, 2, MX_FLOAT32);
    mx_set_default_device(cpu);
    c.mask = mx_astype(m32, ot);
    mx_eval1(c.mask);
    mx_set_default_device(gpu);
    mx_array_free(m32);
    free(m);
    c.mode = MX_SDPA_MASK_ARRAY;
  }
  if (sp->sinks) c.sinks = rand_array(&sp->Hq, 1, ot, seed + 3);
  double rel, absf;
  tol_of(ot, &rel, &absf);
  if (ot == MX_FLOAT32) absf = 2e-5;
  static const char *mn[4] = {"none", "causal", "bool", "additive"};
  char name[220];
  snprintf(name, sizeof name, "sdpa q %s kv %s B%lld Hq%lld Hkv%lld Tq%lld Tk%lld D%lld %s%s%s",
           mx_dtype_name(qt), mx_dtype_name(kvt), (long long)sp->B, (long long)sp->Hq,
           (long long)sp->Hkv, (long long)sp->Tq, (long long)sp->Tk, (long long)sp->D, mn[sp->mask],
           sp->sinks ? " sinks" : "", strided ? " strided" : "");
  compare(name, run_sdpa, &c, rel, absf, sp->on_gpu);
  mx_array_free(c.q);
  mx_array_free(c.k);
  mx_array_free(c.v);
  mx_array_free(c.mask);
  mx_array_free(c.sinks);
}

static void test_sdpa(void) {
  const sdpa_spec specs[] = {
      {1, 8, 8, 1, 37, 64, M_NONE, false, true},       /* GQA 1, decode */
      {2, 8, 2, 1, 1000, 128, M_NONE, false, true},    /* GQA 4, split keys */
      {1, 8, 1, 1, 4096, 128, M_NONE, true, true},     /* GQA 8, long, sinks */
      {1, 8, 2, 4, 300, 80, M_CAUSAL, false, true},    /* Tq < Tk decode, causal */
      {1, 4, 4, 8, 129, 96, M_BOOL, false, true},      /* bool mask, full-masked row */
      {1, 32, 4, 3, 77, 128, M_BOOL, true, true},      /* 24 rows per kv head: 3 chunks */
      {1, 8, 8, 1, 2048, 256, M_ADD, false, true},     /* D 256 decode */
      {2, 4, 1, 33, 33, 128, M_CAUSAL, false, true},   /* prefill Tq == Tk, GQA 4 */
      {1, 8, 2, 100, 250, 64, M_CAUSAL, true, true},   /* prefill Tq < Tk */
      {1, 4, 2, 70, 70, 256, M_ADD, false, true},      /* prefill D 256, -inf row */
      {1, 4, 4, 65, 130, 80, M_BOOL, false, true},     /* prefill bool */
      {1, 8, 1, 40, 40, 96, M_NONE, true, true},       /* prefill GQA 8 */
      {1, 2, 2, 5, 3, 64, M_CAUSAL, false, true},      /* Tq > Tk: rows see nothing */
      {1, 2, 2, 40, 20, 64, M_CAUSAL, false, true},    /* the same, prefill */
      {1, 2, 2, 3, 0, 64, M_NONE, false, true},        /* no keys: zeros */
      {1, 4, 4, 65, 65, 32, M_CAUSAL, false, false},   /* D 32: left to the CPU */
      /* decode (Tq <= 8) plans of the tensor-core kernel (f16 / bf16, D <=
       * 128): one 16-row chunk or several, one key split or many (each a
       * multiple of 64 keys, the last one partial), tiles with 1 .. 64 keys */
      {1, 8, 8, 1, 1, 128, M_NONE, false, true},       /* Tk 1, G 1 */
      {1, 32, 8, 1, 17, 128, M_NONE, true, true},      /* Llama shape, sinks */
      {2, 32, 8, 1, 33, 128, M_ADD, false, true},      /* additive, batch 2 */
      {1, 16, 2, 1, 127, 64, M_BOOL, true, true},      /* G 8 */
      {1, 32, 8, 2, 129, 128, M_CAUSAL, false, true},  /* Tq 2: 8 rows */
      {1, 8, 1, 8, 4097, 128, M_CAUSAL, true, true},   /* 64 rows: 4 chunks, splits */
      {1, 4, 4, 5, 520, 96, M_ADD, true, true},        /* Tq 5, -inf row, splits */
      {1, 32, 8, 1, 4097, 80, M_NONE, false, true},    /* D 80, splits */
      {2, 8, 2, 7, 700, 128, M_BOOL, false, true},     /* 28 rows: 2 chunks */
      {1, 8, 8, 3, 256, 64, M_CAUSAL, true, true},     /* G 1, Tq 3 */
      {1, 32, 8, 1, 20000, 128, M_NONE, true, true},   /* long context, sinks */
  };
  int seed = 100;
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    for (int t = 0; t < 3; t++)
      for (int strided = 0; strided < 2; strided++) {
        if (specs[i].Tk == 0 && strided) continue;
        sdpa_one(&specs[i], fl[t], fl[t], strided, seed += 7);
      }
  /* f32 queries over a half cache (K/V read in their own type) */
  sdpa_one(&specs[1], MX_FLOAT32, MX_FLOAT16, true, 900);
  sdpa_one(&specs[7], MX_FLOAT32, MX_BFLOAT16, false, 901);
#ifdef MLXC_HAVE_CUDA
  /* The CUDA-core decode kernel, which f16 / bf16 no longer reach by
   * default, on the same decode specs. */
  cu_sdpa_set_decode_impl(1);
  for (size_t i = 0; i < sizeof specs / sizeof *specs; i++)
    if (specs[i].Tq <= 8 && specs[i].Tk > 0 && specs[i].on_gpu && specs[i].Tk < 10000)
      for (int t = 1; t < 3; t++) sdpa_one(&specs[i], fl[t], fl[t], t == 2, seed += 7);
  cu_sdpa_set_decode_impl(0);
#endif
}

/* ------------------------------------------------------------ silu_mul */

/* mx_fast_silu_mul on the GPU against the GPU chain multiply(multiply(a,
 * sigmoid(a)), b), bit for bit (NaN matches NaN), for EVERY f16 and bf16
 * value of a: the kernel's f32 sigmoid shortcut must round as the chain's
 * double sigmoid does everywhere. b: 1 (the product silu(a) itself) and
 * random N(0, 1) values; a dense and as the halves of one (rows, 2F) x. */
static void test_silu_mul_all_halves(void) {
  static const mx_dtype ht[2] = {MX_FLOAT16, MX_BFLOAT16};
  uint16_t *bits = malloc(65536 * sizeof(uint16_t));
  for (int i = 0; i < 65536; i++) bits[i] = (uint16_t)i;
  for (int t = 0; t < 2; t++)
    for (int bm = 0; bm < 2; bm++) {
      mx_set_default_device(cpu);
      int64_t n = 65536, s2[2] = {256, 256};
      mx_array u = mx_array_from_data(bits, &n, 1, MX_UINT16);
      mx_array a0 = mx_view(u, ht[t]);
      mx_array a = mx_reshape(a0, s2, 2);
      mx_eval1(a);
      mx_array b = NULL;
      if (bm == 0) {
        mx_array one = mx_array_from_data(&(float){1.0f}, NULL, 0, MX_FLOAT32);
        mx_array oh = mx_astype(one, ht[t]);
        b = mx_broadcast_to(oh, s2, 2);
        mx_array c = mx_contiguous(b);
        mx_array_free(b);
        b = c;
        mx_array_free(one);
        mx_array_free(oh);
      } else {
        b = rand_array(s2, 2, ht[t], 501);
        mx_set_default_device(cpu);
      }
      mx_eval1(b);
      mx_set_default_device(gpu);
      mx_array sig = mx_sigmoid(a), prod = mx_multiply(a, sig), want = mx_multiply(prod, b);
      int64_t f0 = gpu_fallback_count();
      mx_array got = mx_fast_silu_mul(a, b);
      mx_status st1 = mx_eval1(got);
      bool on = gpu_fallback_count() == f0;
      mx_status st2 = mx_eval1(want);
      /* the halves form: x = [a | b] along the last axis */
      mx_array parts[2] = {a, b};
      mx_array x = mx_concatenate(parts, 2, 1);
      mx_eval1(x);
      int64_t st0[2] = {0, 0}, en0[2] = {256, 256}, st1b[2] = {0, 256}, en1[2] = {256, 512};
      mx_array xa = mx_slice(x, st0, en0, NULL, 2), xb = mx_slice(x, st1b, en1, NULL, 2);
      mx_array got2 = mx_fast_silu_mul(xa, xb);
      mx_status st3 = mx_eval1(got2);
      mx_set_default_device(cpu);
      mx_array gc = mx_contiguous(got), wc = mx_contiguous(want), g2c = mx_contiguous(got2);
      mx_eval1(gc);
      mx_eval1(wc);
      mx_eval1(g2c);
      const uint16_t *pg = mx_array_data(gc), *pw = mx_array_data(wc), *p2 = mx_array_data(g2c);
      int64_t bad = 0, first = -1;
      const uint16_t expo = ht[t] == MX_FLOAT16 ? 0x7c00 : 0x7f80;
      for (int64_t i = 0; pg && pw && p2 && i < 65536; i++) {
        bool nan_w = (pw[i] & 0x7fff) > expo, nan_g = (pg[i] & 0x7fff) > expo, nan_2 = (p2[i] & 0x7fff) > expo;
        bool ok = nan_w ? nan_g && nan_2 : pg[i] == pw[i] && p2[i] == pw[i];
        if (!ok && first < 0) first = i;
        bad += !ok;
      }
      char msg[200];
      snprintf(msg, sizeof msg, "silu_mul all %s values, b %s: %lld of 65536 differ from the chain (first a bits %lld), on GPU %d",
               mx_dtype_name(ht[t]), bm ? "random" : "1", (long long)bad, (long long)first, on);
      CHECK_MSG(st1 == MX_OK && st2 == MX_OK && st3 == MX_OK && pg && pw && p2 && bad == 0 && on, msg);
      if (getenv("MLXC_TEST_VERBOSE")) printf("  %s\n", msg);
      mx_array arr[17] = {u, a0, a, b, sig, prod, want, got, x, xa, xb, got2, gc, wc, g2c, NULL, NULL};
      for (int i = 0; i < 15; i++) mx_array_free(arr[i]);
      mx_set_default_device(gpu);
    }
  free(bits);
}

int main(void) {
  if (!mx_device_is_available(MX_GPU)) {
    mx_set_default_device(gpu);
    printf("test_cuda_fast: skipped: no usable GPU (%s)\n", mx_last_error());
    return 0;
  }
  mx_set_default_device(gpu);
  test_norms();
  test_rope();
  test_silu_mul_all_halves();
  test_sdpa();
  return check_summary();
}
