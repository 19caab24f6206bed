/* sdpa.c — fused scaled dot-product attention on the CPU.
 *
 * out = softmax(q k^T * scale + mask) v per (batch, query head), with the
 * softmax in f32 as an online (running max / running sum) update so the
 * Tq x Tk score matrix never exists; K and V rows are converted from
 * f16/bf16 to f32 a tile at a time as they stream by.
 *
 * Two kernels:
 * - decode (few queries): one work unit per (batch, kv head, key split)
 *   streams its K/V slice once for all G*Tq query rows of the group (GQA
 *   without repeating K/V). When B*Hkv is below the thread count the keys
 *   are split into chunks whose partial states (max, sum, weighted values)
 *   are merged at the end.
 * - prefill: one unit per (batch, query head, tile of 32 queries); keys in
 *   tiles of 64: S = Q K^T by a 4x16 register-blocked outer product over a
 *   transposed f32 K tile, online softmax, O += P V by the same blocking.
 *   Causal tiles entirely above the diagonal are skipped.
 *
 * MLX semantics kept: a bool-masked (or causal-masked) score becomes the
 * lowest finite value of the output dtype (so a fully masked row averages
 * V uniformly, as MLX's where(mask, s, finfo.min) does); additive masks are
 * added, and a row that is -inf everywhere gives NaN (MLX's softmax does
 * the same); sinks are an extra logit per head with no value; Tk == 0
 * gives zeros. Skipping masked keys is exact: once a row has seen a
 * visible key, exp(lowest - max) is 0 in f32.
 */
#ifndef FAST_LANES /* the file itself; the #else part is one vector pass */
#include <math.h>
#include <stdlib.h>

#define FAST_KERNEL_HELPERS
#include "cpu.h"
#include "fast.h"
#include "mlxc/fast.h"

/* Dot products and axpys want FMA; nothing here depends on the exact
 * rounding order of a separate multiply and add. */
#pragma GCC optimize("fp-contract=fast")

enum { KC = 64, BQ = 32, BK = 64, DECODE_MAX_TQ = 4 };

typedef struct sdpa_ctx {
  const fast_sdpa_params *p;
  int64_t B, Hq, Hkv, G, Tq, Tk, D, Dv;
  const char *q, *k, *v;
  mx_dtype qt, kt, vt;
  size_t qsz, ksz, vsz;
  int64_t qs[3], ks[3], vs[3]; /* (b, head, t) element strides; the last dim is dense */
  const char *mask;            /* NULL: none */
  mx_dtype mt;
  int64_t ms[4]; /* broadcast strides over (B, Hq, Tq, Tk) */
  bool causal;
  float lowest;
  const float *sinks; /* (Hq,) or NULL */
  char *out;
  mx_dtype ot;
  int64_t nsplit;
  float *part; /* decode partial states: unit-major, row-major (m, l, acc[Dv]) */
  atomic_int failed;
} sdpa_ctx;

static float mask_at(const sdpa_ctx *c, const char *mrow, int64_t j) {
  const char *e = mrow + (size_t)(j * c->ms[3]) * mx_dtype_size(c->mt);
  switch (c->mt) {
    case MX_BOOL: return *(const uint8_t *)e ? 1.0f : 0.0f;
    case MX_FLOAT16: return f16_to_f32(*(const uint16_t *)e);
    case MX_BFLOAT16: return bf16_to_f32(*(const uint16_t *)e);
    default: return *(const float *)e;
  }
}

/* Scales the raw dots of keys [j0, j0+n) for query i of head hq and applies
 * the mask; columns n..ncols are padding and get -inf (weight 0). */
static void finish_scores(const sdpa_ctx *c, float *s, int64_t n, int64_t ncols, int64_t b,
                          int64_t hq, int64_t i, int64_t j0) {
  const float scale = c->p->scale;
  for (int64_t j = 0; j < n; j++) s[j] *= scale;
  if (c->causal) {
    int64_t lim = i + c->Tk - c->Tq; /* last visible key */
    for (int64_t j = lim + 1 - j0 < 0 ? 0 : lim + 1 - j0; j < n; j++) s[j] = c->lowest;
  } else if (c->mask) {
    const char *mrow = c->mask + (size_t)(b * c->ms[0] + hq * c->ms[1] + i * c->ms[2] +
                                          j0 * c->ms[3]) *
                                     mx_dtype_size(c->mt);
    if (c->mt == MX_BOOL) {
      for (int64_t j = 0; j < n; j++)
        if (mask_at(c, mrow, j) == 0.0f) s[j] = c->lowest;
    } else {
      for (int64_t j = 0; j < n; j++) s[j] += mask_at(c, mrow, j);
    }
  }
  for (int64_t j = n; j < ncols; j++) s[j] = -INFINITY;
}

/* n rows of K or V at key j0 of (b, head) converted to dense f32 rows. */
static void load_rows(const char *base, mx_dtype t, size_t esz, const int64_t *st, int64_t b,
                      int64_t h, int64_t j0, int64_t n, int64_t d, float *dst) {
  const char *p0 = base + (size_t)(b * st[0] + h * st[1] + j0 * st[2]) * esz;
  if (st[2] == d || n == 1) {
    convert_run(p0, 1, t, dst, MX_FLOAT32, n * d);
    return;
  }
  for (int64_t j = 0; j < n; j++)
    convert_run(p0 + (size_t)(j * st[2]) * esz, 1, t, dst + j * d, MX_FLOAT32, d);
}

static void write_row(const sdpa_ctx *c, int64_t b, int64_t hq, int64_t i, const float *acc,
                      float l, float *tmp) {
  float inv = 1.0f / l;
  for (int64_t d = 0; d < c->Dv; d++) tmp[d] = acc[d] * inv;
  char *o = c->out + (size_t)(((b * c->Hq + hq) * c->Tq + i) * c->Dv) * mx_dtype_size(c->ot);
  convert_run(tmp, 1, MX_FLOAT32, o, c->ot, c->Dv);
}

/* Per-pass names of the vector functions (fast.h: FV). */
#define online_step FV(online_step_)
#define dot_run FV(dot_run_)
#define pv_update FV(pv_update_)
#define dot_block FV(dot_block_)

/* The vector kernels, compiled once per lane count (fast.h). */
#define FAST_LANES 16
#include "sdpa.c"
#undef FAST_LANES
#define FAST_LANES 8
#include "sdpa.c"
#undef FAST_LANES
#define FAST_LANES 4
#include "sdpa.c"
#undef FAST_LANES

FAST_ISA_VARIANTS(decode)
FAST_ISA_VARIANTS(prefill)

/* Merges the key splits of each (b, kv head): max over the partial maxima,
 * sums and values rescaled to it. */
static void merge_range(void *vctx, int64_t begin, int64_t end) {
  sdpa_ctx *c = vctx;
  const int64_t R = c->G * c->Tq, Dv = c->Dv, S = c->nsplit;
  float *tmp = malloc((size_t)(2 * Dv) * sizeof(float));
  if (!tmp) {
    atomic_store(&c->failed, 1);
    return;
  }
  float *acc = tmp + Dv;
  for (int64_t bh = begin; bh < end; bh++) {
    int64_t b = bh / c->Hkv, h = bh % c->Hkv;
    for (int64_t r = 0; r < R; r++) {
      float M = -INFINITY;
      for (int64_t s = 0; s < S; s++) {
        float ms = c->part[(size_t)((bh * S + s) * R + r) * (size_t)(Dv + 2)];
        M = ms > M ? ms : M;
      }
      float L = 0.0f;
      memset(acc, 0, (size_t)Dv * sizeof(float));
      for (int64_t s = 0; s < S; s++) {
        const float *e = c->part + (size_t)((bh * S + s) * R + r) * (size_t)(Dv + 2);
        if (e[0] == -INFINITY) continue;
        float w = expf(e[0] - M);
        L += e[1] * w;
        for (int64_t d = 0; d < Dv; d++) acc[d] += e[2 + d] * w;
      }
      write_row(c, b, h * c->G + r / c->Tq, r % c->Tq, acc, L, tmp);
    }
  }
  free(tmp);
}

/* ------------------------------------------------------------ entry */

/* A dense-last-axis view of `a`: itself, or a row-major copy in *copy. */
static const char *dense_last(mx_array a, void **copy, size_t *copy_bytes, int64_t st[3]) {
  if (a->strides[3] == 1 || a->shape[3] <= 1) {
    for (int i = 0; i < 3; i++) st[i] = a->strides[i];
    return array_ptr(a);
  }
  *copy_bytes = (size_t)a->size * mx_dtype_size(a->dtype);
  *copy = mx_alloc(*copy_bytes);
  if (!*copy) return NULL;
  array_copy_to_row_major(a, *copy, a->dtype);
  st[2] = a->shape[3];
  st[1] = st[2] * a->shape[2];
  st[0] = st[1] * a->shape[1];
  return *copy;
}

static float lowest_f32(mx_dtype t) {
  return t == MX_FLOAT16 ? -65504.0f : t == MX_BFLOAT16 ? bf16_to_f32(0xff7f) : -3.40282347e38f;
}

mx_status cpu_fast_sdpa(mx_array out, mx_array const *in, int nin, const void *params) {
  const fast_sdpa_params *p = params;
  bool has_mask = p->mask_mode == MX_SDPA_MASK_ARRAY;
  if (nin != 3 + has_mask + p->has_sinks)
    return set_error(MX_ERR_INTERNAL, "scaled_dot_product_attention: %d inputs", nin);
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  mx_array q = in[0], k = in[1], v = in[2];
  sdpa_ctx c;
  memset(&c, 0, sizeof c);
  c.p = p;
  c.B = q->shape[0];
  c.Hq = q->shape[1];
  c.Tq = q->shape[2];
  c.D = q->shape[3];
  c.Hkv = k->shape[1];
  c.G = c.Hq / c.Hkv;
  c.Tk = k->shape[2];
  c.Dv = v->shape[3];
  c.out = array_ptr(out);
  c.ot = out->dtype;
  if (c.Tk == 0) { /* softmax over nothing, times an empty V: zeros */
    memset(c.out, 0, (size_t)out->size * mx_dtype_size(c.ot));
    return MX_OK;
  }
  void *copies[3] = {0};
  size_t copy_bytes[3] = {0};
  float *sinks = NULL;
  mx_array qkv[3] = {q, k, v};
  const char *ptrs[3];
  int64_t *strides[3] = {c.qs, c.ks, c.vs};
  for (int i = 0; i < 3; i++) {
    ptrs[i] = dense_last(qkv[i], &copies[i], &copy_bytes[i], strides[i]);
    if (!ptrs[i]) {
      st = MX_ERR_OOM;
      goto done;
    }
  }
  c.q = ptrs[0];
  c.k = ptrs[1];
  c.v = ptrs[2];
  c.qt = q->dtype;
  c.kt = k->dtype;
  c.vt = v->dtype;
  c.qsz = mx_dtype_size(c.qt);
  c.ksz = mx_dtype_size(c.kt);
  c.vsz = mx_dtype_size(c.vt);
  c.causal = p->mask_mode == MX_SDPA_MASK_CAUSAL;
  c.lowest = lowest_f32(c.ot);
  int k_in = 3;
  if (has_mask) {
    mx_array mk = in[k_in++];
    int64_t shape4[4] = {c.B, c.Hq, c.Tq, c.Tk};
    broadcast_strides(mk, shape4, 4, c.ms);
    c.mask = array_ptr(mk);
    c.mt = mk->dtype;
  }
  if (p->has_sinks) {
    mx_array s = in[k_in++];
    sinks = mx_alloc((size_t)c.Hq * sizeof(float));
    if (!sinks) {
      st = MX_ERR_OOM;
      goto done;
    }
    convert_run(array_ptr(s), s->strides[0], s->dtype, sinks, MX_FLOAT32, c.Hq);
    c.sinks = sinks;
  }
  /* Below ~64K multiply-adds the pool costs more than it saves. */
  double work = (double)c.B * (double)c.Hq * (double)c.Tq * (double)c.Tk * (double)(c.D + c.Dv);
  if (c.Tq <= DECODE_MAX_TQ) {
    int64_t base = c.B * c.Hkv, threads = cpu_thread_count();
    c.nsplit = 1;
    if (base < threads && work >= 65536) {
      int64_t want = (2 * threads + base - 1) / base, most = c.Tk / 128;
      c.nsplit = want < most ? want : most;
      if (c.nsplit < 1) c.nsplit = 1;
    }
    size_t part_bytes = 0;
    if (c.nsplit > 1) {
      part_bytes = (size_t)(base * c.nsplit) * (size_t)(c.G * c.Tq * (c.Dv + 2)) * sizeof(float);
      c.part = mx_alloc(part_bytes);
      if (!c.part) {
        st = MX_ERR_OOM;
        goto done;
      }
    }
    int64_t units = base * c.nsplit;
    parallel_for(units, work < 65536 ? units : 1, decode_pick(), &c);
    if (c.nsplit > 1) {
      parallel_for(base, 1, merge_range, &c);
      mx_free(c.part, part_bytes);
    }
  } else {
    int64_t units = c.B * c.Hq * ((c.Tq + BQ - 1) / BQ);
    parallel_for(units, work < 65536 ? units : 1, prefill_pick(), &c);
  }
  if (atomic_load(&c.failed))
    st = set_error(MX_ERR_OOM, "scaled_dot_product_attention: no memory for tile scratch");
done:
  for (int i = 0; i < 3; i++)
    if (copies[i]) mx_free(copies[i], copy_bytes[i]);
  if (sinks) mx_free(sinks, (size_t)c.Hq * sizeof(float));
  return st;
}

#else /* FAST_LANES */
#include "fast.h"

/* Lane indices and the lane swaps v[l] -> v[l ^ h] of dot_block. */
#undef FAST_LANE_IDS
#undef FAST_SWAP1
#undef FAST_SWAP2
#undef FAST_SWAP4
#undef FAST_SWAP8
#if FAST_LANES == 16
#define FAST_LANE_IDS (vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
#define FAST_SWAP1(x) FAST_SHUF(x, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)
#define FAST_SWAP2(x) FAST_SHUF(x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
#define FAST_SWAP4(x) FAST_SHUF(x, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)
#define FAST_SWAP8(x) FAST_SHUF(x, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)
#elif FAST_LANES == 8
#define FAST_LANE_IDS (vi){0, 1, 2, 3, 4, 5, 6, 7}
#define FAST_SWAP1(x) FAST_SHUF(x, 1, 0, 3, 2, 5, 4, 7, 6)
#define FAST_SWAP2(x) FAST_SHUF(x, 2, 3, 0, 1, 6, 7, 4, 5)
#define FAST_SWAP4(x) FAST_SHUF(x, 4, 5, 6, 7, 0, 1, 2, 3)
#else
#define FAST_LANE_IDS (vi){0, 1, 2, 3}
#define FAST_SWAP1(x) FAST_SHUF(x, 1, 0, 3, 2)
#define FAST_SWAP2(x) FAST_SHUF(x, 2, 3, 0, 1)
#endif

/* One online-softmax step for a row: s (n scores) becomes the weights
 * exp(s - m_new); returns false when the row has seen only -inf so far
 * (weights all 0, state unchanged). */
FAST_AI bool online_step(float *s, int64_t n, float *m, float *l, float *acc, int64_t dv) {
  float mx = -INFINITY;
  int64_t j = 0;
  if (n >= VW) {
    vf vm = vload(s);
    for (j = VW; j + VW <= n; j += VW) {
      vf x = vload(s + j);
      vi gt = x > vm;
      vm = vselect(&gt, &x, &vm);
    }
    mx = vhmax(&vm);
  }
  for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;
  float mnew = *m > mx ? *m : mx;
  if (mnew == -INFINITY) {
    for (j = 0; j < n; j++) s[j] = 0.0f;
    return false;
  }
  float alpha = expf(*m - mnew);
  vf vs = vset(0);
  vf vmn = vset(mnew);
  for (j = 0; j + VW <= n; j += VW) {
    vf x = vload(s + j) - vmn;
    vf e = vexp(&x);
    vstore(s + j, &e);
    vs += e;
  }
  float sum = vhsum(&vs);
  for (; j < n; j++) {
    vf x = vset(s[j] - mnew);
    vf e = vexp(&x);
    s[j] = e[0];
    sum += s[j];
  }
  *l = *l * alpha + sum;
  if (alpha != 1.0f) {
    vf va = vset(alpha);
    int64_t d = 0;
    for (; d + VW <= dv; d += VW) {
      vf a = vload(acc + d) * va;
      vstore(acc + d, &a);
    }
    for (; d < dv; d++) acc[d] *= alpha;
  }
  *m = mnew;
  return true;
}

FAST_AI float dot_run(const float *a, const float *b, int64_t n) {
  vf acc0 = vset(0), acc1 = vset(0);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    acc0 += vload(a + i) * vload(b + i);
    acc1 += vload(a + i + VW) * vload(b + i + VW);
  }
  for (; i + VW <= n; i += VW) acc0 += vload(a + i) * vload(b + i);
  acc0 += acc1;
  float s = vhsum(&acc0);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

/* The VW dot products q . k_t (t < VW; key t's row at k + t * D) as one
 * vector. One accumulator per key, then a transposing reduction: step h
 * merges vector i and i + h so that lanes with bit h clear carry partial
 * sums of the first and lanes with it set of the second; after log2(VW)
 * steps lane t holds the full sum of key t. This replaces a horizontal sum
 * per key (a serial shuffle/add chain that dominated the decode kernel). */
FAST_AI vf dot_block(const float *q, const float *k, int64_t D) {
  vf acc[VW];
  for (int t = 0; t < VW; t++) acc[t] = vset(0);
  int64_t d = 0;
  for (; d + VW <= D; d += VW) {
    vf qv = vload(q + d);
    for (int t = 0; t < VW; t++) acc[t] += qv * vload(k + t * D + d);
  }
  for (; d < D; d++)
    for (int t = 0; t < VW; t++) acc[t][0] += q[d] * k[t * D + d];
  for (int h = VW / 2; h >= 1; h /= 2) {
    vi lane = FAST_LANE_IDS, keep = (lane & h) == 0, take = ~keep;
    for (int i = 0; i < h; i++) {
      vf lo = vselect(&keep, &acc[i], &acc[i + h]);
      vf hi = vselect(&take, &acc[i], &acc[i + h]);
      vf sw;
      if (h == 1) sw = FAST_SWAP1(hi);
      else if (h == 2) sw = FAST_SWAP2(hi);
#if VW >= 8
      else if (h == 4) sw = FAST_SWAP4(hi);
#endif
#if VW >= 16
      else sw = FAST_SWAP8(hi);
#else
      else sw = hi;
#endif
      acc[i] = lo + sw;
    }
  }
  return acc[0];
}

/* acc[r] += sum_j p[r][j] * v[j] for nr rows (p row stride ps, acc row
 * stride dv), blocked 4 rows x 16 columns so the accumulators stay in
 * registers across the keys. */
FAST_AI void pv_update(float *acc, const float *p, int64_t ps, int64_t nr, const float *v,
                       int64_t n, int64_t dv) {
  int64_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const float *p0 = p + r * ps, *p1 = p0 + ps, *p2 = p1 + ps, *p3 = p2 + ps;
    float *a0 = acc + r * dv, *a1 = a0 + dv, *a2 = a1 + dv, *a3 = a2 + dv;
    int64_t d = 0;
    /* Two column vectors at a time: 8 independent FMA chains keep both FMA
     * pipes busy (4 chains are bound by the FMA latency). */
    for (; d + 2 * VW <= dv; d += 2 * VW) {
      vf c0 = vload(a0 + d), c1 = vload(a1 + d), c2 = vload(a2 + d), c3 = vload(a3 + d);
      vf e0 = vload(a0 + d + VW), e1 = vload(a1 + d + VW), e2 = vload(a2 + d + VW),
         e3 = vload(a3 + d + VW);
      for (int64_t j = 0; j < n; j++) {
        vf x = vload(v + j * dv + d), y = vload(v + j * dv + d + VW);
        vf w0 = vset(p0[j]), w1 = vset(p1[j]), w2 = vset(p2[j]), w3 = vset(p3[j]);
        c0 += w0 * x;
        c1 += w1 * x;
        c2 += w2 * x;
        c3 += w3 * x;
        e0 += w0 * y;
        e1 += w1 * y;
        e2 += w2 * y;
        e3 += w3 * y;
      }
      vstore(a0 + d, &c0);
      vstore(a1 + d, &c1);
      vstore(a2 + d, &c2);
      vstore(a3 + d, &c3);
      vstore(a0 + d + VW, &e0);
      vstore(a1 + d + VW, &e1);
      vstore(a2 + d + VW, &e2);
      vstore(a3 + d + VW, &e3);
    }
    for (; d + VW <= dv; d += VW) {
      vf c0 = vload(a0 + d), c1 = vload(a1 + d), c2 = vload(a2 + d), c3 = vload(a3 + d);
      for (int64_t j = 0; j < n; j++) {
        vf x = vload(v + j * dv + d);
        c0 += vset(p0[j]) * x;
        c1 += vset(p1[j]) * x;
        c2 += vset(p2[j]) * x;
        c3 += vset(p3[j]) * x;
      }
      vstore(a0 + d, &c0);
      vstore(a1 + d, &c1);
      vstore(a2 + d, &c2);
      vstore(a3 + d, &c3);
    }
    for (; d < dv; d++) {
      float s0 = a0[d], s1 = a1[d], s2 = a2[d], s3 = a3[d];
      for (int64_t j = 0; j < n; j++) {
        float x = v[j * dv + d];
        s0 += p0[j] * x;
        s1 += p1[j] * x;
        s2 += p2[j] * x;
        s3 += p3[j] * x;
      }
      a0[d] = s0;
      a1[d] = s1;
      a2[d] = s2;
      a3[d] = s3;
    }
  }
  for (; r < nr; r++) {
    const float *pr = p + r * ps;
    float *a = acc + r * dv;
    for (int64_t j = 0; j < n; j++) {
      float w = pr[j];
      if (w == 0.0f) continue;
      const float *vj = v + j * dv;
      vf vw = vset(w);
      int64_t d = 0;
      for (; d + VW <= dv; d += VW) {
        vf x = vload(a + d) + vw * vload(vj + d);
        vstore(a + d, &x);
      }
      for (; d < dv; d++) a[d] += w * vj[d];
    }
  }
}

/* ------------------------------------------------------------ decode */

FAST_AI void FV(decode_body)(void *vctx, int64_t begin, int64_t end) {
  sdpa_ctx *c = vctx;
  const int64_t G = c->G, Tq = c->Tq, D = c->D, Dv = c->Dv, R = G * Tq;
  size_t nfl = (size_t)(R * D + R * Dv + 2 * R + KC * D + KC * Dv + R * KC);
  float *buf = malloc(nfl * sizeof(float));
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  float *qf = buf, *acc = qf + R * D, *m = acc + R * Dv, *l = m + R, *kc = l + R,
        *vc = kc + KC * D, *sc = vc + KC * Dv;
  for (int64_t u = begin; u < end; u++) {
    int64_t sp = u % c->nsplit, bh = u / c->nsplit, b = bh / c->Hkv, h = bh % c->Hkv;
    int64_t k0 = c->Tk * sp / c->nsplit, k1 = c->Tk * (sp + 1) / c->nsplit;
    for (int64_t g = 0; g < G; g++)
      for (int64_t i = 0; i < Tq; i++) {
        int64_t r = g * Tq + i, hq = h * G + g;
        const char *qp = c->q + (size_t)(b * c->qs[0] + hq * c->qs[1] + i * c->qs[2]) * c->qsz;
        convert_run(qp, 1, c->qt, qf + r * D, MX_FLOAT32, D);
        m[r] = -INFINITY;
        l[r] = 0.0f;
        if (c->sinks && sp == 0) {
          m[r] = c->sinks[hq];
          l[r] = 1.0f;
        }
      }
    memset(acc, 0, (size_t)(R * Dv) * sizeof(float));
    for (int64_t j0 = k0; j0 < k1; j0 += KC) {
      int64_t n = k1 - j0 < KC ? k1 - j0 : KC;
      load_rows(c->k, c->kt, c->ksz, c->ks, b, h, j0, n, D, kc);
      int64_t j = 0;
      for (; j + VW <= n; j += VW)
        for (int64_t r = 0; r < R; r++) {
          vf sv = dot_block(qf + r * D, kc + j * D, D);
          vstore(sc + r * KC + j, &sv);
        }
      for (; j < n; j++)
        for (int64_t r = 0; r < R; r++) sc[r * KC + j] = dot_run(qf + r * D, kc + j * D, D);
      for (int64_t r = 0; r < R; r++) {
        float *s = sc + r * KC;
        finish_scores(c, s, n, n, b, h * G + r / Tq, r % Tq, j0);
        online_step(s, n, &m[r], &l[r], acc + r * Dv, Dv);
      }
      load_rows(c->v, c->vt, c->vsz, c->vs, b, h, j0, n, Dv, vc);
      pv_update(acc, sc, KC, R, vc, n, Dv);
    }
    if (c->nsplit == 1) {
      for (int64_t r = 0; r < R; r++)
        write_row(c, b, h * G + r / Tq, r % Tq, acc + r * Dv, l[r], vc);
    } else {
      float *st = c->part + (size_t)u * (size_t)(R * (Dv + 2));
      for (int64_t r = 0; r < R; r++) {
        float *e = st + r * (Dv + 2);
        e[0] = m[r];
        e[1] = l[r];
        memcpy(e + 2, acc + r * Dv, (size_t)Dv * sizeof(float));
      }
    }
  }
  free(buf);
}

FAST_AI void FV(prefill_body)(void *vctx, int64_t begin, int64_t end) {
  sdpa_ctx *c = vctx;
  const int64_t D = c->D, Dv = c->Dv, nqt = (c->Tq + BQ - 1) / BQ;
  size_t nfl = (size_t)(BQ * D + D * BK + BK * D + BK * Dv + BQ * BK + BQ * Dv + 2 * BQ + Dv);
  float *buf = malloc(nfl * sizeof(float));
  if (!buf) {
    atomic_store(&c->failed, 1);
    return;
  }
  float *qf = buf, *kt = qf + BQ * D, *ktmp = kt + D * BK, *vc = ktmp + BK * D,
        *sc = vc + BK * Dv, *acc = sc + BQ * BK, *m = acc + BQ * Dv, *l = m + BQ, *orow = l + BQ;
  for (int64_t u = begin; u < end; u++) {
    int64_t qt = u % nqt, bh = u / nqt, b = bh / c->Hq, hq = bh % c->Hq, h = hq / c->G;
    int64_t i0 = qt * BQ, nq = c->Tq - i0 < BQ ? c->Tq - i0 : BQ;
    for (int64_t i = 0; i < BQ; i++) {
      if (i < nq) {
        const char *qp =
            c->q + (size_t)(b * c->qs[0] + hq * c->qs[1] + (i0 + i) * c->qs[2]) * c->qsz;
        convert_run(qp, 1, c->qt, qf + i * D, MX_FLOAT32, D);
      } else {
        memset(qf + i * D, 0, (size_t)D * sizeof(float));
      }
      m[i] = c->sinks ? c->sinks[hq] : -INFINITY;
      l[i] = c->sinks ? 1.0f : 0.0f;
    }
    memset(acc, 0, (size_t)(BQ * Dv) * sizeof(float));
    int64_t kend = c->Tk;
    /* Skip key tiles past the last query's diagonal, unless some row of
     * this tile sees no key at all (it then averages over every key). */
    if (c->causal && i0 + c->Tk - c->Tq >= 0) {
      int64_t last = i0 + nq - 1 + c->Tk - c->Tq + 1;
      kend = last < kend ? last : kend;
    }
    for (int64_t j0 = 0; j0 < kend; j0 += BK) {
      int64_t n = kend - j0 < BK ? kend - j0 : BK;
      load_rows(c->k, c->kt, c->ksz, c->ks, b, h, j0, n, D, ktmp);
      for (int64_t d = 0; d < D; d++) {
        float *row = kt + d * BK;
        int64_t j = 0;
        for (; j < n; j++) row[j] = ktmp[j * D + d];
        for (; j < BK; j++) row[j] = 0.0f;
      }
      /* S[i][j] = q_i . k_j, 4 queries x 16 keys per register block */
      for (int64_t i = 0; i < nq; i += 4) {
        const float *q0 = qf + i * D, *q1 = q0 + D, *q2 = q1 + D, *q3 = q2 + D;
        for (int64_t jb = 0; jb < BK; jb += VW) {
          vf c0 = vset(0), c1 = vset(0), c2 = vset(0), c3 = vset(0);
          for (int64_t d = 0; d < D; d++) {
            vf kv = vload(kt + d * BK + jb);
            c0 += vset(q0[d]) * kv;
            c1 += vset(q1[d]) * kv;
            c2 += vset(q2[d]) * kv;
            c3 += vset(q3[d]) * kv;
          }
          float *s0 = sc + i * BK + jb;
          vstore(s0, &c0);
          vstore(s0 + BK, &c1);
          vstore(s0 + 2 * BK, &c2);
          vstore(s0 + 3 * BK, &c3);
        }
      }
      for (int64_t i = 0; i < nq; i++) {
        float *s = sc + i * BK;
        finish_scores(c, s, n, BK, b, hq, i0 + i, j0);
        online_step(s, BK, &m[i], &l[i], acc + i * Dv, Dv);
      }
      load_rows(c->v, c->vt, c->vsz, c->vs, b, h, j0, n, Dv, vc);
      pv_update(acc, sc, BK, nq, vc, n, Dv);
    }
    for (int64_t i = 0; i < nq; i++) write_row(c, b, hq, i0 + i, acc + i * Dv, l[i], orow);
  }
  free(buf);
}

#endif /* FAST_LANES */
