/* test_fast_fused.c — the fused decode-step ops (src/backend/cpu/fast_fused.h)
 * against the chains they replace, on the same inputs:
 *  - fast_add_rms_norm(x, d, w) vs mx_add + mx_fast_rms_norm;
 *  - fast_rope_kv vs mx_fast_rope of q and k, the old cache prefix and v,
 *    over two consecutive steps (a new joint buffer, then the in-place
 *    write into it, which must reuse the buffer).
 *
 * Tolerance: none. The fused nodes must give the chain's bits for every
 * element (f32, f16, bf16) on the CPU, because a model switched to them
 * must produce the same tokens and logits as before; the GPU kernels repeat
 * the unfused GPU kernels' arithmetic expression for expression, so on a
 * GPU the fused result is compared bit for bit with the GPU chain too, and
 * must not fall back to the CPU (f32 add_rms_norm on a GPU stream is the
 * chain itself, fast_fused.h). NaN matches NaN (payloads may differ).
 * Inputs are N(0, 2) values; sizes cover the norm's vector tails (D = 1, 7,
 * 33), the one-warp and multi-warp rows (64, 2048, 4100), the register and
 * shared-memory row kernels (4096, 12288, 20000) and several rows;
 * layouts dense, transposed and step-2 views. Skips the GPU part without a
 * usable GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/backend/cpu/fast_fused.h"
#include "check.h"
#include "core/core.h"
#include "mlxc/fast.h"

static const mx_device cpu = {MX_CPU, 0}, gpu = {MX_GPU, 0};
static bool on_gpu;

static uint64_t rng = 0x243f6a8885a308d3ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static mx_array make(const int64_t *shape, int nd, mx_dtype t, double scale) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= shape[i];
  float *v = malloc((size_t)(n ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    double u1 = urand() + 1e-12, u2 = urand();
    v[i] = (float)(scale * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
  }
  mx_set_default_device(cpu);
  mx_array f = mx_array_from_data(v, shape, nd, MX_FLOAT32);
  mx_array r = mx_astype(f, t);
  mx_eval1(r);
  mx_array_free(f);
  free(v);
  if (on_gpu) mx_set_default_device(gpu);
  return r;
}

static bool is_nan_bits(const void *p, mx_dtype t) {
  if (t == MX_FLOAT32) {
    uint32_t u;
    memcpy(&u, p, 4);
    return (u & 0x7fffffffu) > 0x7f800000u;
  }
  uint16_t h;
  memcpy(&h, p, 2);
  return t == MX_FLOAT16 ? (h & 0x7fffu) > 0x7c00u : (h & 0x7fffu) > 0x7f80u;
}

/* Evaluates both (got first, counting CPU fallbacks) and compares bits. */
static void check_bits(const char *what, mx_array got, mx_array want) {
  char msg[400];
  int64_t fb = gpu_fallback_count();
  mx_status st = got ? mx_eval1(got) : MX_ERR_NULL_INPUT;
  bool ran_on_gpu = gpu_fallback_count() == fb;
  mx_status st2 = want ? mx_eval1(want) : MX_ERR_NULL_INPUT;
  if (st || st2) {
    snprintf(msg, sizeof msg, "%s: evaluation failed: %s", what, mx_last_error());
    CHECK_MSG(false, msg);
    return;
  }
  bool shape_ok = mx_array_ndim(got) == mx_array_ndim(want) &&
                  mx_array_dtype(got) == mx_array_dtype(want);
  for (int i = 0; shape_ok && i < mx_array_ndim(got); i++)
    shape_ok = mx_array_dim(got, i) == mx_array_dim(want, i);
  snprintf(msg, sizeof msg, "%s: shape/dtype", what);
  CHECK_MSG(shape_ok, msg);
  if (!shape_ok) return;
  if (on_gpu) {
    snprintf(msg, sizeof msg, "%s: ran on the GPU (no CPU fallback)", what);
    CHECK_MSG(ran_on_gpu, msg);
  }
  mx_dtype t = mx_array_dtype(got);
  size_t es = mx_dtype_size(t);
  mx_set_default_device(cpu);
  mx_array g = mx_contiguous(got), w = mx_contiguous(want);
  mx_eval1(g);
  mx_eval1(w);
  if (on_gpu) mx_set_default_device(gpu);
  const char *pg = mx_array_data(g), *pw = mx_array_data(w);
  int64_t n = mx_array_size(got), bad = 0, first = -1;
  if (!pg || !pw) bad = n;
  for (int64_t i = 0; pg && pw && i < n; i++) {
    const char *a = pg + (size_t)i * es, *b = pw + (size_t)i * es;
    if (memcmp(a, b, es) == 0 || (is_nan_bits(a, t) && is_nan_bits(b, t))) continue;
    if (first < 0) first = i;
    bad++;
  }
  snprintf(msg, sizeof msg, "%s: %lld of %lld elements differ (first at %lld)", what,
           (long long)bad, (long long)n, (long long)first);
  CHECK_MSG(bad == 0, msg);
  mx_array_free(g);
  mx_array_free(w);
}

static const mx_dtype dtypes[3] = {MX_FLOAT32, MX_FLOAT16, MX_BFLOAT16};

/* ------------------------------------------------------------ add + norm */

static void add_norm_case(const char *label, mx_array x, mx_array d, mx_array w, float eps) {
  char what[200];
  mx_array h, y;
  mx_status st = fast_add_rms_norm(x, d, w, eps, &h, &y);
  CHECK(st == MX_OK);
  mx_array hc = mx_add(x, d);
  mx_array yc = mx_fast_rms_norm(hc, w, eps);
  snprintf(what, sizeof what, "add_rms_norm %s %s: h", label, mx_dtype_name(mx_array_dtype(x)));
  check_bits(what, h, hc);
  snprintf(what, sizeof what, "add_rms_norm %s %s: y", label, mx_dtype_name(mx_array_dtype(x)));
  check_bits(what, y, yc);
  mx_array_free(h);
  mx_array_free(y);
  mx_array_free(hc);
  mx_array_free(yc);
}

static void test_add_norm(void) {
  /* 4096: one chunk a thread; 12288: two in registers; 20000 (and 4100,
   * D % 8 != 0): rows through shared memory */
  static const int64_t Ds[] = {1, 7, 33, 64, 2048, 4100, 4096, 12288, 20000};
  static const int64_t rows[] = {1, 5};
  for (int ti = 0; ti < 3; ti++)
    for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++)
      for (int ri = 0; ri < 2; ri++) {
        mx_dtype t = dtypes[ti];
        int64_t D = Ds[di], shape[3] = {1, rows[ri], D};
        mx_array x = make(shape, 3, t, 2.0), d = make(shape, 3, t, 2.0);
        mx_array w = make(&D, 1, t, 1.0);
        char label[64];
        snprintf(label, sizeof label, "dense rows=%lld D=%lld", (long long)rows[ri], (long long)D);
        add_norm_case(label, x, d, w, 1e-5f);
        mx_array_free(x);
        mx_array_free(d);
        mx_array_free(w);
      }
  /* Strided inputs: x transposed (D, 6) -> (6, D); d a step-2 view. */
  for (int ti = 0; ti < 3; ti++) {
    mx_dtype t = dtypes[ti];
    int64_t D = 72, s1[2] = {D, 6}, s2[2] = {6, 2 * D};
    mx_array xt = make(s1, 2, t, 2.0), dd = make(s2, 2, t, 2.0), w = make(&D, 1, t, 1.0);
    mx_array x = mx_transpose(xt, NULL, 0);
    int64_t start[2] = {0, 0}, stop[2] = {6, 2 * D}, step[2] = {1, 2};
    mx_array d = mx_slice(dd, start, stop, step, 2);
    add_norm_case("strided", x, d, w, 1e-6f);
    mx_array arr[5] = {xt, dd, w, x, d};
    for (int i = 0; i < 5; i++) mx_array_free(arr[i]);
  }
  /* A chain as the decoder runs it: the second node reads the first's
   * packed output through its pending h view (x_packed). */
  for (int ti = 0; ti < 3; ti++) {
    mx_dtype t = dtypes[ti];
    int64_t D = 2048, shape[3] = {1, 1, D};
    mx_array x = make(shape, 3, t, 2.0), d1 = make(shape, 3, t, 2.0), d2 = make(shape, 3, t, 2.0);
    mx_array w1 = make(&D, 1, t, 1.0), w2 = make(&D, 1, t, 1.0);
    mx_array h1, y1, h2, y2;
    CHECK(fast_add_rms_norm(x, d1, w1, 1e-5f, &h1, &y1) == MX_OK);
    CHECK(fast_add_rms_norm(h1, d2, w2, 1e-5f, &h2, &y2) == MX_OK);
    CHECK_MSG(h2->inputs[0]->inputs[0] == h1->inputs[0], "second node reads the packed output");
    mx_array c1 = mx_add(x, d1), c2 = mx_add(c1, d2);
    mx_array n1 = mx_fast_rms_norm(c1, w1, 1e-5f), n2 = mx_fast_rms_norm(c2, w2, 1e-5f);
    char what[120];
    snprintf(what, sizeof what, "add_rms_norm chained %s: y1", mx_dtype_name(t));
    check_bits(what, y1, n1);
    snprintf(what, sizeof what, "add_rms_norm chained %s: h2", mx_dtype_name(t));
    check_bits(what, h2, c2);
    snprintf(what, sizeof what, "add_rms_norm chained %s: y2", mx_dtype_name(t));
    check_bits(what, y2, n2);
    mx_array arr[15] = {x, d1, d2, w1, w2, h1, y1, h2, y2, c1, c2, n1, n2, NULL, NULL};
    for (int i = 0; i < 13; i++) mx_array_free(arr[i]);
  }
  /* Not fusable (weight of another dtype): the chain, with its promotion. */
  int64_t D = 16, s[2] = {2, 16};
  mx_array x = make(s, 2, MX_BFLOAT16, 1.0), d = make(s, 2, MX_BFLOAT16, 1.0);
  mx_array w = make(&D, 1, MX_FLOAT32, 1.0);
  add_norm_case("mixed dtypes (chain)", x, d, w, 1e-5f);
  mx_array h, y;
  mx_clear_error();
  int64_t s3[2] = {2, 8};
  mx_array bad = make(s3, 2, MX_BFLOAT16, 1.0);
  CHECK(fast_add_rms_norm(x, bad, w, 1e-5f, &h, &y) != MX_OK && !h && !y);
  CHECK(strstr(mx_last_error(), "add") != NULL);
  mx_clear_error();
  CHECK(fast_add_rms_norm(NULL, d, w, 1e-5f, &h, &y) != MX_OK && !h && !y);
  mx_clear_error();
  mx_array_free(bad);
  mx_array_free(x);
  mx_array_free(d);
  mx_array_free(w);
}

/* ------------------------------------------------------------ rope + kv */

typedef struct rkv_cfg {
  int64_t B, H, Hq, D;
  int dims;
  bool traditional, freqs;
  float base, scale;
} rkv_cfg;

/* a (B, H, T, D)[:, :, from:to] */
static mx_array pos_slice(mx_array a, int64_t from, int64_t to) {
  int64_t start[4] = {0, 0, from, 0};
  int64_t stop[4] = {MX_SLICE_END, MX_SLICE_END, to, MX_SLICE_END};
  return mx_slice(a, start, stop, NULL, 4);
}

static mx_array view4(mx_array j, int64_t B, int64_t H, int64_t T, int64_t cap, int64_t D,
                      int64_t off) {
  int64_t shape[4] = {B, H, T, D}, strides[4] = {H * cap * D, cap * D, D, 1};
  return mx_as_strided(j, shape, 4, strides, off);
}

/* q, k, v of one step. Separate: q and k as step-2 / transposed views of
 * bigger arrays. Based: three as_strided views of one (B, 1, (Hq+2H) D)
 * array (the decoder's heads_of views of the fused projection), also
 * described in `in` as offsets and strides. */
static void step_inputs(const rkv_cfg *c, mx_dtype t, bool based, mx_array *q, mx_array *k,
                        mx_array *v, mx_array keep[3], fast_rope_kv_in *in) {
  keep[0] = keep[1] = keep[2] = NULL;
  if (based) {
    int64_t N = (c->Hq + 2 * c->H) * c->D, bs[3] = {c->B, 1, N};
    keep[0] = make(bs, 3, t, 2.0);
    const int64_t heads[3] = {c->Hq, c->H, c->H}, h0[3] = {0, c->Hq, c->Hq + c->H};
    mx_array *outs[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
      int64_t shape[4] = {c->B, heads[i], 1, c->D}, st[4] = {N, c->D, N, 1};
      *outs[i] = mx_as_strided(keep[0], shape, 4, st, h0[i] * c->D);
      in->off[i] = h0[i] * c->D;
      memcpy(in->strides[i], st, sizeof st);
    }
    in->base = keep[0];
    return;
  }
  int64_t qs[4] = {c->B, c->Hq, 1, 2 * c->D}, ks[4] = {c->B, 1, c->H, c->D};
  int64_t vs[4] = {c->B, c->H, 1, c->D};
  keep[0] = make(qs, 4, t, 2.0);
  keep[1] = make(ks, 4, t, 2.0);
  keep[2] = make(vs, 4, t, 2.0);
  int64_t start[4] = {0, 0, 0, 0}, stop[4] = {c->B, c->Hq, 1, 2 * c->D}, step[4] = {1, 1, 1, 2};
  *q = mx_slice(keep[0], start, stop, step, 4);
  int perm[4] = {0, 2, 1, 3};
  *k = mx_transpose(keep[1], perm, 4);
  *v = mx_array_retain(keep[2]);
  in->q = *q;
  in->k = *k;
  in->v = *v;
}

/* Three steps: from a standalone old cache (a new joint buffer), from the
 * keys / values views of that buffer, from the buffer itself (J) with q, k,
 * v given as one base; the last two must write in place. */
static void test_rope_kv_cfg(const rkv_cfg *c, mx_dtype t) {
  char what[200], base[120];
  snprintf(base, sizeof base, "rope_kv %s B%lld H%lld/%lld D%lld dims%d%s%s",
           mx_dtype_name(t), (long long)c->B, (long long)c->H, (long long)c->Hq,
           (long long)c->D, c->dims, c->traditional ? " trad" : "", c->freqs ? " freqs" : "");
  mx_array freqs = NULL;
  if (c->freqs) {
    int64_t h = c->dims / 2;
    float *f = malloc((size_t)h * sizeof *f);
    for (int64_t i = 0; i < h; i++)
      f[i] = powf(500000.0f, (float)(2 * i) / (float)c->dims) * (1.0f + (float)(i % 3));
    mx_set_default_device(cpu);
    freqs = mx_array_from_data(f, &h, 1, MX_FLOAT32);
    mx_eval1(freqs);
    if (on_gpu) mx_set_default_device(gpu);
    free(f);
  }
  /* An old cache of 5 valid positions in a (B, H, 9, D) buffer. */
  int64_t cs[4] = {c->B, c->H, 9, c->D};
  mx_array K = make(cs, 4, t, 1.0), V = make(cs, 4, t, 1.0);
  mx_array K0 = mx_array_retain(K), V0 = mx_array_retain(V);
  int64_t pos = 5, cap = 9;
  mx_array J = NULL;
  mx_buffer *prev_buf = NULL;
  for (int s = 0; s < 3; s++, pos++) {
    mx_array q, k, v, keep[3];
    fast_rope_kv_in in;
    memset(&in, 0, sizeof in);
    step_inputs(c, t, s == 2, &q, &k, &v, keep, &in);
    in.freqs = freqs;
    if (s < 2) {
      in.K = K;
      in.V = V;
    } else {
      in.J = J;
    }
    fast_rope_params rp;
    memset(&rp, 0, sizeof rp);
    rp.dims = c->dims;
    rp.traditional = c->traditional;
    rp.has_freqs = c->freqs;
    rp.base = c->base;
    rp.scale = c->scale;
    rp.offset = pos;
    mx_array j = fast_rope_kv(&in, &rp, c->B, c->H, c->Hq, c->D, cap, pos);
    CHECK(j != NULL);
    if (!j) return;
    int64_t kvn = c->B * c->H * cap * c->D;
    mx_array keys = view4(j, c->B, c->H, cap, cap, c->D, 0);
    mx_array vals = view4(j, c->B, c->H, cap, cap, c->D, kvn);
    mx_array qr = view4(j, c->B, c->Hq, 1, 1, c->D, 2 * kvn);
    /* Our handles on the old cache go, so the node may write in place. */
    mx_array_free(K);
    mx_array_free(V);
    mx_array_free(J);
    K = keys;
    V = vals;
    mx_array want_q = mx_fast_rope(q, c->dims, c->traditional, c->base, c->scale, pos, freqs);
    mx_array want_k = mx_fast_rope(k, c->dims, c->traditional, c->base, c->scale, pos, freqs);
    snprintf(what, sizeof what, "%s step %d: rope(q)", base, s);
    check_bits(what, qr, want_q);
    mx_array got_k = pos_slice(keys, pos, pos + 1), got_v = pos_slice(vals, pos, pos + 1);
    snprintf(what, sizeof what, "%s step %d: keys[pos]", base, s);
    check_bits(what, got_k, want_k);
    snprintf(what, sizeof what, "%s step %d: values[pos]", base, s);
    check_bits(what, got_v, v);
    mx_array a = pos_slice(keys, 0, 5), b = pos_slice(K0, 0, 5);
    snprintf(what, sizeof what, "%s step %d: old keys kept", base, s);
    check_bits(what, a, b);
    mx_array a2 = pos_slice(vals, 0, 5), b2 = pos_slice(V0, 0, 5);
    snprintf(what, sizeof what, "%s step %d: old values kept", base, s);
    check_bits(what, a2, b2);
    if (s > 0) {
      snprintf(what, sizeof what, "%s step %d: joint buffer reused in place", base, s);
      CHECK_MSG(j->buf == prev_buf, what);
    }
    prev_buf = j->buf;
    J = j;
    if (s == 1) {
      /* The next step reads J itself: the views must not hold its buffer. */
      mx_array_free(K);
      mx_array_free(V);
      K = V = NULL;
    }
    mx_array arr[13] = {q, k, v, keep[0], keep[1], keep[2], want_q, want_k, got_k, got_v, a, b, qr};
    for (int i = 0; i < 13; i++) mx_array_free(arr[i]);
    mx_array_free(a2);
    mx_array_free(b2);
  }
  mx_array_free(J);
  mx_array_free(K);
  mx_array_free(V);
  mx_array_free(K0);
  mx_array_free(V0);
  mx_array_free(freqs);
}

static void test_rope_kv(void) {
  static const rkv_cfg cfgs[] = {
      {1, 8, 32, 64, 64, false, false, 500000.0f, 1.0f},
      {1, 8, 32, 128, 128, false, true, 500000.0f, 1.0f},
      {2, 2, 6, 96, 64, true, false, 10000.0f, 0.5f},
      {1, 1, 1, 34, 16, false, false, 10000.0f, 1.0f},
  };
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    for (int ti = 0; ti < 3; ti++) test_rope_kv_cfg(&cfgs[i], dtypes[ti]);
}

static void test_rope_kv_errors(void) {
  int64_t s4[4] = {1, 2, 1, 8}, sq[4] = {1, 4, 1, 8}, bad[4] = {1, 2, 2, 8};
  mx_array q = make(sq, 4, MX_FLOAT32, 1.0), k = make(s4, 4, MX_FLOAT32, 1.0);
  mx_array v = make(s4, 4, MX_FLOAT32, 1.0), k2 = make(bad, 4, MX_FLOAT32, 1.0);
  mx_array vh = make(s4, 4, MX_FLOAT16, 1.0);
  fast_rope_params rp;
  memset(&rp, 0, sizeof rp);
  rp.dims = 8;
  rp.base = 10000.0f;
  rp.scale = 1.0f;
  fast_rope_kv_in in;
  memset(&in, 0, sizeof in);
  in.q = q;
  in.k = k2;
  in.v = v;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_SHAPE, "decode step");
  in.k = k;
  in.v = vh;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_DTYPE, "float dtype");
  in.v = v;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 0, 0), MX_ERR_INVALID_ARG, "capacity");
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 2), MX_ERR_INVALID_ARG, "old cache");
  in.K = k;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_INVALID_ARG, "old cache");
  in.K = NULL;
  in.J = k;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_INVALID_ARG, "joint");
  in.J = NULL;
  rp.offset = 1;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_INVALID_ARG, "rope parameters");
  rp.offset = 0;
  in.base = k;
  in.off[0] = 60;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_INVALID_ARG, "outside");
  in.base = NULL;
  in.q = NULL;
  CHECK_ERR(fast_rope_kv(&in, &rp, 1, 2, 4, 8, 4, 0), MX_ERR_NULL_INPUT, "rope_kv");
  mx_array arr[5] = {q, k, v, k2, vh};
  for (int i = 0; i < 5; i++) mx_array_free(arr[i]);
}

int main(void) {
  mx_set_default_device(cpu);
  size_t active0 = mx_memory_active();
  test_add_norm();
  test_rope_kv();
  test_rope_kv_errors();
  CHECK(mx_memory_active() == active0);
  if (mx_device_is_available(MX_GPU)) {
    on_gpu = true;
    mx_set_default_device(gpu);
    test_add_norm();
    test_rope_kv();
    mx_set_default_device(cpu);
  } else {
    printf("test_fast_fused: GPU part skipped: no usable GPU\n");
  }
  return check_summary();
}
