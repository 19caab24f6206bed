/* ggml_matmul.c — x @ W^T for GGUF block-quantized W.
 *
 * Decode (fewer than 16 activation rows): the activations are quantized to
 * int8 blocks of 32 and every weight block is dotted in integers (unsigned
 * weight codes times signed activations: AVX2 vpmaddubsw + vpmaddwd, or
 * AVX-512 VNNI vpdpbusd), then scaled once per block in f32. Weight rows are
 * split over the pool, each weight byte is read once for all activation rows
 * (up to 8 at a time; a tile of rows stays in cache for the next 8).
 * Prefill (16 rows or more): tiles of W are dequantized to f32 and handed to
 * cblas_sgemm (AVX2 dequantization, bit-identical to the scalar reference).
 *
 * The SIMD kernels are written once, below the `#else`, and compiled twice by
 * including this file into itself with different target attributes and a
 * different 32-byte integer dot product (KDOT); a separate header would
 * only scatter one kernel over two files.
 */
#ifndef GGML_KPASS
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ggml_blocks.h"
#include "matmul.h"

static inline float half_at(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* ------------------------------------------------------------ activations */

void ggml_quantize_x(const float *x, int M, int64_t K, ggml_xq *xq) {
  int64_t nb = K / 32;
  xq->M = M;
  xq->K = K;
  for (int m = 0; m < M; m++) {
    for (int64_t b = 0; b < nb; b++) {
      const float *v = x + (int64_t)m * K + 32 * b;
      int8_t *q = xq->q + (int64_t)m * K + 32 * b;
      float amax = 0;
      bool finite = true;
      for (int j = 0; j < 32; j++) {
        float a = fabsf(v[j]);
        if (!(a <= 3.4e38f)) finite = false;
        amax = a > amax ? a : amax;
      }
      float d = finite ? amax / 127.0f : NAN;
      float id = finite && amax > 0 ? 127.0f / amax : 0.0f;
      int s0 = 0, s1 = 0;
      for (int j = 0; j < 32; j++) {
        float r = finite ? roundf(v[j] * id) : 0.0f;
        int qi = r > 127 ? 127 : r < -127 ? -127 : (int)r;
        q[j] = (int8_t)qi;
        if (j < 16)
          s0 += qi;
        else
          s1 += qi;
      }
      xq->d[m * nb + b] = d;
      xq->s32[m * nb + b] = d * (float)(s0 + s1);
      xq->s16[m * 2 * nb + 2 * b] = d * (float)s0;
      xq->s16[m * 2 * nb + 2 * b + 1] = d * (float)s1;
    }
  }
}

/* ------------------------------------------------------------ scalar reference
 * The same integer-domain arithmetic as the SIMD paths (integer dot product
 * per block, one f32 scale per block), so the three paths agree up to f32
 * summation order. */

static int idot32(const uint8_t *w, const int8_t *x) {
  int s = 0;
  for (int j = 0; j < 32; j++) s += (int)w[j] * (int)x[j];
  return s;
}

static inline void kq_scale_min(const uint8_t *s, int j, int *sc, int *mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

static float dot_ref(mx_ggml_type t, const uint8_t *row, const ggml_xq *xq, int m) {
  int64_t K = xq->K, nb = K / 32;
  const int8_t *xs = xq->q + (int64_t)m * K;
  const float *xd = xq->d + m * nb, *x32 = xq->s32 + m * nb, *x16 = xq->s16 + m * 2 * nb;
  uint8_t u[32];
  float acc = 0;
  switch (t) {
    case MX_GGML_Q4_0:
    case MX_GGML_Q4_1: {
      int bytes = t == MX_GGML_Q4_0 ? 18 : 20;
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * bytes;
        const uint8_t *qs = blk + bytes - 16;
        for (int j = 0; j < 16; j++) u[j] = qs[j] & 15, u[j + 16] = qs[j] >> 4;
        float d = half_at(blk);
        acc += d * xd[b] * (float)idot32(u, xs + 32 * b);
        acc += t == MX_GGML_Q4_0 ? -8 * d * x32[b] : half_at(blk + 2) * x32[b];
      }
      return acc;
    }
    case MX_GGML_Q8_0:
      for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * 34;
        const int8_t *qs = (const int8_t *)(blk + 2);
        int s = 0;
        for (int j = 0; j < 32; j++) s += (int)qs[j] * (int)xs[32 * b + j];
        acc += half_at(blk) * xd[b] * (float)s;
      }
      return acc;
    case MX_GGML_Q4_K:
    case MX_GGML_Q5_K: {
      bool five = t == MX_GGML_Q5_K;
      int bytes = five ? 176 : 144;
      for (int64_t sb = 0; sb < nb / 8; sb++) {
        const uint8_t *blk = row + sb * bytes;
        float d = half_at(blk), dmin = half_at(blk + 2);
        const uint8_t *qh = blk + 16, *qs = blk + (five ? 48 : 16);
        for (int j = 0; j < 8; j++) {
          int sc, mn;
          kq_scale_min(blk + 4, j, &sc, &mn);
          const uint8_t *q = qs + 32 * (j / 2);
          for (int l = 0; l < 32; l++) {
            u[l] = j % 2 ? q[l] >> 4 : q[l] & 15;
            if (five) u[l] |= ((qh[l] >> j) & 1) << 4;
          }
          int64_t b = sb * 8 + j;
          acc += d * (float)sc * xd[b] * (float)idot32(u, xs + 32 * b);
          acc -= dmin * (float)mn * x32[b];
        }
      }
      return acc;
    }
    case MX_GGML_Q6_K:
      for (int64_t sb = 0; sb < nb / 8; sb++) {
        const uint8_t *blk = row + sb * 210;
        const int8_t *sc = (const int8_t *)(blk + 192);
        float d = half_at(blk + 208);
        for (int h = 0; h < 2; h++)
          for (int k = 0; k < 4; k++) {
            const uint8_t *L = blk + 64 * h + 32 * (k & 1), *H = blk + 128 + 32 * h;
            for (int l = 0; l < 32; l++)
              u[l] = (uint8_t)((k < 2 ? L[l] & 15 : L[l] >> 4) | ((H[l] >> (2 * k)) & 3) << 4);
            int64_t b = sb * 8 + 4 * h + k;
            const int8_t *xb = xs + 32 * b;
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 16; l++) s0 += (int)u[l] * xb[l], s1 += (int)u[l + 16] * xb[l + 16];
            int g = 8 * h + 2 * k;
            acc += d * xd[b] * (float)(sc[g] * s0 + sc[g + 1] * s1);
            acc -= 32 * d * ((float)sc[g] * x16[2 * b] + (float)sc[g + 1] * x16[2 * b + 1]);
          }
      }
      return acc;
    default:
      return NAN;
  }
}

static void rows_ref(mx_ggml_type t, const uint8_t *w, int64_t rb, int64_t r0, int64_t r1,
                     const ggml_xq *xq, float *y, int64_t ys) {
  for (int64_t r = r0; r < r1; r++)
    for (int m = 0; m < xq->M; m++) y[m * ys + r] = dot_ref(t, w + r * rb, xq, m);
}

/* ------------------------------------------------------------ SIMD passes */

#define GGML_KPASS 1
#define KATTR __attribute__((target("avx2,fma,f16c")))
#define KSUF(name) name##_avx2
#define KDOT(q, x) _mm256_madd_epi16(_mm256_maddubs_epi16((q), (x)), _mm256_set1_epi16(1))
#include "ggml_matmul.c"
#undef KATTR
#undef KSUF
#undef KDOT
#undef GGML_KPASS

#define GGML_KPASS 2
#define KATTR \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define KSUF(name) name##_vnni
/* vpdpbusd sums four u8*s8 products into int32 without the int16
 * saturation of vpmaddubsw, in one instruction instead of two. */
#define KDOT(q, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (q), (x))
#include "ggml_matmul.c"
#undef KATTR
#undef KSUF
#undef KDOT
#undef GGML_KPASS

/* ------------------------------------------------------------ dispatch */

static _Atomic int forced_isa = GGML_ISA_AUTO;

ggml_isa ggml_isa_best(void) {
  const cpu_features *f = cpu_get_features();
  if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni && f->avx2 && f->fma && f->f16c)
    return GGML_ISA_AVX512VNNI;
  if (f->avx2 && f->fma && f->f16c) return GGML_ISA_AVX2;
  return GGML_ISA_SCALAR;
}

void ggml_force_isa(ggml_isa isa) { forced_isa = (int)isa; }

static ggml_isa clamp_isa(ggml_isa isa) {
  ggml_isa best = ggml_isa_best();
  return isa == GGML_ISA_AUTO || isa > best ? best : isa;
}

void ggml_dot_rows(ggml_isa isa, mx_ggml_type t, const uint8_t *w, int64_t rb, int64_t r0,
                   int64_t r1, const ggml_xq *xq, float *y, int64_t ys) {
  switch (clamp_isa(isa)) {
    case GGML_ISA_AVX512VNNI: rows_vnni(t, w, rb, r0, r1, xq, y, ys); break;
    case GGML_ISA_AVX2: rows_avx2(t, w, rb, r0, r1, xq, y, ys); break;
    default: rows_ref(t, w, rb, r0, r1, xq, y, ys); break;
  }
}

/* ------------------------------------------------------------ kernel */

/* Weight rows per tile: when more than 8 activation rows take several
 * passes over a tile, the tile should still be in L2 (~256 KiB). */
static int64_t tile_rows(int64_t row_bytes) {
  int64_t t = (256 << 10) / (row_bytes ? row_bytes : 1);
  return t < 4 ? 4 : t;
}

typedef struct decode_ctx {
  ggml_isa isa;
  mx_ggml_type type;
  const uint8_t *w;
  int64_t rb, N;
  const ggml_xq *xq;
  float *y;
} decode_ctx;

static void decode_range(void *vctx, int64_t r0, int64_t r1) {
  const decode_ctx *c = vctx;
  const ggml_xq *xq = c->xq;
  int64_t K = xq->K, nb = K / 32, T = tile_rows(c->rb);
  for (int64_t t0 = r0; t0 < r1; t0 += T) {
    int64_t t1 = t0 + T < r1 ? t0 + T : r1;
    for (int m0 = 0; m0 < xq->M; m0 += 8) {
      ggml_xq sub = {xq->M - m0 < 8 ? xq->M - m0 : 8, K, xq->q + (int64_t)m0 * K,
                     xq->d + m0 * nb, xq->s32 + m0 * nb, xq->s16 + m0 * 2 * nb};
      ggml_dot_rows(c->isa, c->type, c->w, c->rb, t0, t1, &sub, c->y + m0 * c->N, c->N);
    }
  }
}

typedef struct deq_tile_ctx {
  mx_ggml_type type;
  const uint8_t *w; /* first block of the tile in its first row */
  int64_t rb, kc, nblk;
  float *dst;
} deq_tile_ctx;

static void deq_tile_range(void *vctx, int64_t r0, int64_t r1) {
  const deq_tile_ctx *c = vctx;
  /* A forced scalar path (tests, benchmarks) covers the dequantization too. */
  void (*fn)(mx_ggml_type, const uint8_t *, float *, int64_t) =
      clamp_isa((ggml_isa)forced_isa) == GGML_ISA_SCALAR ? ggml_dequant_blocks_ref
                                                         : ggml_dequant_blocks;
  for (int64_t r = r0; r < r1; r++) fn(c->type, c->w + r * c->rb, c->dst + r * c->kc, c->nblk);
}

static mx_status prefill(const ggml_format *f, const uint8_t *w, int64_t rb, int64_t N,
                         const float *x, int64_t M, int64_t K, float *y) {
  /* Tiles of T rows by kc columns, ~8 MiB of f32 (within L3 between the
   * dequantization and the GEMM). The dequantization (our pool) and sgemm
   * (OpenBLAS's threads) alternate once per tile, and every switch costs
   * wake-ups while the other pool's threads still spin: with 2 MiB tiles
   * of whole rows (113 switches at 4096 x 14336) the switches, not the
   * dequantization, took most of the time. Splitting K (kc, a multiple of
   * 256 and so of every block size) lets a tile be tall, so each GEMM has
   * a wide N and packs only a kc-wide slice of x. */
  int64_t kc = K <= 2048 ? K : 2048;
  int64_t T = ((int64_t)1 << 21) / kc;
  T = T < 16 ? 16 : T > N ? N : T;
  size_t nbytes = (size_t)T * (size_t)kc * sizeof(float);
  float *tile = mx_alloc(nbytes);
  if (!tile) return MX_ERR_OOM;
  blas_init_threads();
  for (int64_t n0 = 0; n0 < N; n0 += T) {
    int64_t nt = N - n0 < T ? N - n0 : T;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
      int64_t kn = K - k0 < kc ? K - k0 : kc;
      deq_tile_ctx c = {f->type, w + n0 * rb + k0 / f->block * f->bytes, rb, kn, kn / f->block,
                        tile};
      parallel_for(nt, 1, deq_tile_range, &c);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)nt, (int)kn, 1.0f, x + k0,
                  (int)K, tile, (int)kn, k0 ? 1.0f : 0.0f, y + n0, (int)N);
    }
  }
  mx_free(tile, nbytes);
  return MX_OK;
}

static mx_status decode(const ggml_format *f, const uint8_t *w, int64_t rb, int64_t N,
                        const float *x, int64_t M, int64_t K, float *y) {
  size_t nq = (size_t)(M * K), nb = (size_t)(M * K / 32);
  size_t nbytes = nq + nb * 4 * sizeof(float);
  char *buf = mx_alloc(nbytes);
  if (!buf) return MX_ERR_OOM;
  ggml_xq xq = {(int)M, K, (int8_t *)(buf + nb * 4 * sizeof(float)), (float *)buf,
                (float *)buf + nb, (float *)buf + 2 * nb};
  ggml_quantize_x(x, (int)M, K, &xq);
  decode_ctx c = {(ggml_isa)forced_isa, f->type, w, rb, N, &xq, y};
  /* Grain: small matrices (< 32K weights) stay on one thread. */
  int64_t grain = 32768 / K + 1;
  parallel_for(N, grain, decode_range, &c);
  mx_free(buf, nbytes);
  return MX_OK;
}

mx_status cpu_gguf_matmul(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const ggml_params *p = params;
  const ggml_format *f = ggml_format_of(p->type);
  if (!f) return set_error(MX_ERR_INTERNAL, "gguf_matmul: unknown block type %d", p->type);
  mx_array x = in[0], wa = in[1];
  mx_status st = array_alloc(out);
  if (st != MX_OK) return st;
  int64_t K = p->cols, N = wa->shape[0], M = K ? x->size / K : out->size / (N ? N : 1);
  if (out->size == 0) return MX_OK;
  size_t ybytes = (size_t)(M * N) * sizeof(float);
  bool direct_y = out->dtype == MX_FLOAT32;
  float *y = direct_y ? array_ptr(out) : mx_alloc(ybytes);
  if (!y) return MX_ERR_OOM;
  if (K == 0) {
    memset(y, 0, ybytes);
  } else {
    bool direct_x = x->dtype == MX_FLOAT32 && x->row_contiguous;
    size_t xbytes = (size_t)(M * K) * sizeof(float);
    const float *xf = direct_x ? array_ptr(x) : mx_alloc(xbytes);
    const uint8_t *w = wa->row_contiguous ? array_ptr(wa) : mx_alloc((size_t)wa->size);
    if (!xf || !w) {
      st = MX_ERR_OOM;
    } else {
      if (!direct_x) array_copy_to_row_major(x, (float *)xf, MX_FLOAT32);
      if (!wa->row_contiguous) array_copy_to_row_major(wa, (uint8_t *)w, MX_UINT8);
      int64_t rb = wa->shape[1];
      st = M >= 16 ? prefill(f, w, rb, N, xf, M, K, y) : decode(f, w, rb, N, xf, M, K, y);
    }
    if (xf && !direct_x) mx_free((void *)xf, xbytes);
    if (w && !wa->row_contiguous) mx_free((void *)w, (size_t)wa->size);
  }
  if (!direct_y) {
    if (st == MX_OK) convert_run(y, 1, MX_FLOAT32, array_ptr(out), out->dtype, M * N);
    mx_free(y, ybytes);
  }
  return st;
}

#else /* GGML_KPASS: the SIMD kernels, compiled once per target */

#define KINL static inline __attribute__((always_inline)) KATTR

KINL float KSUF(hsum)(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

KINL float KSUF(h16)(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

/* 16 packed nibbles -> 32 bytes: low nibbles in the low half, high nibbles
 * in the high half (the Q4_0/Q4_1 value order). */
KINL __m256i KSUF(nibbles16)(const uint8_t *p) {
  __m128i v = _mm_loadu_si128((const __m128i *)p), m4 = _mm_set1_epi8(15);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
}

/* With one to three activation rows the per-row accumulator chain (fma
 * latency 4 cycles per block) would bound the speed, so the kernels below
 * alternate between two accumulators per row (NACC); with more rows the
 * rows themselves give enough independent chains. */
#define NACC(M) ((M) <= 3 ? 2 : 1)

/* One Q4_0 block (off = -8 per value) or Q4_1 block (off = its m). */
KINL void KSUF(q4_01_block)(const uint8_t *blk, int64_t b, const ggml_xq *xq, const int M,
                            const bool type1, __m256 *acc, float *off, const int stride) {
  const int64_t K = xq->K, nb = K / 32;
  const int bytes = type1 ? 20 : 18;
  float d = KSUF(h16)(blk), o = type1 ? KSUF(h16)(blk + 2) : -8 * d;
  __m256i q = KSUF(nibbles16)(blk + bytes - 16);
  for (int m = 0; m < M; m++) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(xq->q + m * K + 32 * b));
    __m256 s = _mm256_set1_ps(d * xq->d[m * nb + b]);
    acc[m * stride] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(KDOT(q, x)), s, acc[m * stride]);
    off[m * stride] += o * xq->s32[m * nb + b];
  }
}

KINL void KSUF(q4_01)(const uint8_t *w, int64_t rb, int64_t r0, int64_t r1, const ggml_xq *xq,
                      float *y, int64_t ys, const int M, const bool type1) {
  const int64_t nb = xq->K / 32;
  const int bytes = type1 ? 20 : 18, NA = NACC(M);
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = w + r * rb;
    __m256 acc[8][2];
    float off[8][2];
    for (int m = 0; m < M; m++)
      for (int a = 0; a < NA; a++) acc[m][a] = _mm256_setzero_ps(), off[m][a] = 0;
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
      KSUF(q4_01_block)(row + b * bytes, b, xq, M, type1, &acc[0][0], &off[0][0], 2);
      KSUF(q4_01_block)(row + (b + 1) * bytes, b + 1, xq, M, type1, &acc[0][NA - 1],
                        &off[0][NA - 1], 2);
    }
    if (b < nb) KSUF(q4_01_block)(row + b * bytes, b, xq, M, type1, &acc[0][0], &off[0][0], 2);
    for (int m = 0; m < M; m++) {
      __m256 a = NA == 2 ? _mm256_add_ps(acc[m][0], acc[m][1]) : acc[m][0];
      y[m * ys + r] = KSUF(hsum)(a) + (NA == 2 ? off[m][0] + off[m][1] : off[m][0]);
    }
  }
}

KINL void KSUF(q8_0_block)(const uint8_t *blk, int64_t b, const ggml_xq *xq, const int M,
                           __m256 *acc, const int stride) {
  const int64_t K = xq->K, nb = K / 32;
  float d = KSUF(h16)(blk);
  __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
  /* Signed x signed through the unsigned x signed instruction: |w| and x
   * carrying w's sign (|w| <= 128 and |x| <= 127 never saturate). */
  __m256i aq = _mm256_abs_epi8(q);
  for (int m = 0; m < M; m++) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(xq->q + m * K + 32 * b));
    __m256 s = _mm256_set1_ps(d * xq->d[m * nb + b]);
    acc[m * stride] =
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(KDOT(aq, _mm256_sign_epi8(x, q))), s, acc[m * stride]);
  }
}

KINL void KSUF(q8_0)(const uint8_t *w, int64_t rb, int64_t r0, int64_t r1, const ggml_xq *xq,
                     float *y, int64_t ys, const int M) {
  const int64_t nb = xq->K / 32;
  const int NA = NACC(M);
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = w + r * rb;
    __m256 acc[8][2];
    for (int m = 0; m < M; m++)
      for (int a = 0; a < NA; a++) acc[m][a] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
      KSUF(q8_0_block)(row + b * 34, b, xq, M, &acc[0][0], 2);
      KSUF(q8_0_block)(row + (b + 1) * 34, b + 1, xq, M, &acc[0][NA - 1], 2);
    }
    if (b < nb) KSUF(q8_0_block)(row + b * 34, b, xq, M, &acc[0][0], 2);
    for (int m = 0; m < M; m++)
      y[m * ys + r] = KSUF(hsum)(NA == 2 ? _mm256_add_ps(acc[m][0], acc[m][1]) : acc[m][0]);
  }
}

/* The eight 6-bit scales (low 8 bytes of *sc) and mins (*mn) of a Q4_K/Q5_K
 * block, from its 12 packed bytes. */
KINL void KSUF(kscales)(const uint8_t *s, __m256 *sc, __m256 *mn) {
  uint32_t a, b, c;
  memcpy(&a, s, 4);
  memcpy(&b, s + 4, 4);
  memcpy(&c, s + 8, 4);
  uint32_t sc_lo = a & 0x3f3f3f3fu, mn_lo = b & 0x3f3f3f3fu;
  uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 6) & 0x03030303u) << 4;
  uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 6) & 0x03030303u) << 4;
  __m128i vs = _mm_cvtsi64_si128((long long)((uint64_t)sc_hi << 32 | sc_lo));
  __m128i vm = _mm_cvtsi64_si128((long long)((uint64_t)mn_hi << 32 | mn_lo));
  *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(vs));
  *mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(vm));
}

KINL void KSUF(q45_k)(const uint8_t *w, int64_t rb, int64_t r0, int64_t r1, const ggml_xq *xq,
                      float *y, int64_t ys, const int M, const bool five) {
  const int64_t K = xq->K, nb = K / 32, nsb = K / 256;
  const int bytes = five ? 176 : 144;
  const __m256i m4 = _mm256_set1_epi8(15), b1 = _mm256_set1_epi8(1), b2 = _mm256_set1_epi8(2);
  float sv[8][8] __attribute__((aligned(32)));
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = w + r * rb;
    __m256 acc[8], acc2[8];
    for (int m = 0; m < M; m++) acc[m] = acc2[m] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
      const uint8_t *blk = row + sb * bytes;
      const uint8_t *qs = blk + (five ? 48 : 16);
      __m256 sc, mn;
      KSUF(kscales)(blk + 4, &sc, &mn);
      sc = _mm256_mul_ps(sc, _mm256_set1_ps(KSUF(h16)(blk)));
      mn = _mm256_mul_ps(mn, _mm256_set1_ps(KSUF(h16)(blk + 2)));
      for (int m = 0; m < M; m++) {
        const float *xd = xq->d + m * nb + sb * 8;
        _mm256_store_ps(sv[m], _mm256_mul_ps(sc, _mm256_loadu_ps(xd)));
        acc[m] = _mm256_fnmadd_ps(mn, _mm256_loadu_ps(xq->s32 + m * nb + sb * 8), acc[m]);
      }
      __m256i qh = five ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
      for (int i = 0; i < 4; i++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * i));
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        if (five) {
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, b1), 4));
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(qh, b2), 3));
          qh = _mm256_srli_epi16(qh, 2);
        }
        for (int m = 0; m < M; m++) {
          const int8_t *x = xq->q + m * K + sb * 256 + 64 * i;
          __m256i i0 = KDOT(lo, _mm256_loadu_si256((const __m256i *)x));
          __m256i i1 = KDOT(hi, _mm256_loadu_si256((const __m256i *)(x + 32)));
          acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_broadcast_ss(&sv[m][2 * i]), acc[m]);
          __m256 *a2 = NACC(M) == 2 ? &acc2[m] : &acc[m];
          *a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_broadcast_ss(&sv[m][2 * i + 1]), *a2);
        }
      }
    }
    for (int m = 0; m < M; m++)
      y[m * ys + r] = KSUF(hsum)(NACC(M) == 2 ? _mm256_add_ps(acc[m], acc2[m]) : acc[m]);
  }
}

KINL void KSUF(q6_k)(const uint8_t *w, int64_t rb, int64_t r0, int64_t r1, const ggml_xq *xq,
                     float *y, int64_t ys, const int M) {
  const int64_t K = xq->K, nb = K / 32, nsb = K / 256;
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  /* Lanes 0-3 of a block's dot product cover its first 16 values, lanes
   * 4-7 the second 16: each half gets its own scale. */
  const __m256i pick[4] = {_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
                           _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3),
                           _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5),
                           _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7)};
  const __m256i lo_half = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i hi_half = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = w + r * rb;
    __m256 acc[8], acc2[8];
    for (int m = 0; m < M; m++) acc[m] = acc2[m] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
      const uint8_t *blk = row + sb * 210;
      __m128i sc8 = _mm_loadu_si128((const __m128i *)(blk + 192));
      __m256 d = _mm256_set1_ps(KSUF(h16)(blk + 208));
      __m256 s0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc8)));
      __m256 s1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8))));
      /* Per 16-group scales times the activation scale of its block. */
      __m256 sv[8][2];
      for (int m = 0; m < M; m++) {
        __m256 xd = _mm256_loadu_ps(xq->d + m * nb + sb * 8);
        sv[m][0] = _mm256_mul_ps(s0, _mm256_permutevar8x32_ps(xd, lo_half));
        sv[m][1] = _mm256_mul_ps(s1, _mm256_permutevar8x32_ps(xd, hi_half));
        const float *x16 = xq->s16 + m * 2 * nb + sb * 16;
        __m256 o = _mm256_mul_ps(s0, _mm256_loadu_ps(x16));
        o = _mm256_fmadd_ps(s1, _mm256_loadu_ps(x16 + 8), o);
        acc[m] = _mm256_fnmadd_ps(_mm256_set1_ps(32), o, acc[m]);
      }
      for (int h = 0; h < 2; h++) {
        __m256i L0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
        __m256i L1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
        __m256i H = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m30));
        q[1] = _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m30));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), _mm256_and_si256(H, m30));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(H, 2), m30));
        for (int k = 0; k < 4; k++)
          for (int m = 0; m < M; m++) {
            const int8_t *x = xq->q + m * K + sb * 256 + 128 * h + 32 * k;
            __m256i i0 = KDOT(q[k], _mm256_loadu_si256((const __m256i *)x));
            __m256 s = _mm256_permutevar8x32_ps(sv[m][h], pick[k]);
            __m256 *a = NACC(M) == 2 && (k & 1) ? &acc2[m] : &acc[m];
            *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), s, *a);
          }
      }
    }
    for (int m = 0; m < M; m++)
      y[m * ys + r] = KSUF(hsum)(NACC(M) == 2 ? _mm256_add_ps(acc[m], acc2[m]) : acc[m]);
  }
}

/* Instantiates a kernel for M = 1..8 so its accumulators live in registers. */
#define KDISPATCH(call_m)      \
  switch (xq->M) {             \
    case 1: call_m(1); break;  \
    case 2: call_m(2); break;  \
    case 3: call_m(3); break;  \
    case 4: call_m(4); break;  \
    case 5: call_m(5); break;  \
    case 6: call_m(6); break;  \
    case 7: call_m(7); break;  \
    default: call_m(8); break; \
  }

static KATTR void KSUF(rows)(mx_ggml_type t, const uint8_t *w, int64_t rb, int64_t r0,
                             int64_t r1, const ggml_xq *xq, float *y, int64_t ys) {
#define CALL_Q40(M) KSUF(q4_01)(w, rb, r0, r1, xq, y, ys, M, false)
#define CALL_Q41(M) KSUF(q4_01)(w, rb, r0, r1, xq, y, ys, M, true)
#define CALL_Q80(M) KSUF(q8_0)(w, rb, r0, r1, xq, y, ys, M)
#define CALL_Q4K(M) KSUF(q45_k)(w, rb, r0, r1, xq, y, ys, M, false)
#define CALL_Q5K(M) KSUF(q45_k)(w, rb, r0, r1, xq, y, ys, M, true)
#define CALL_Q6K(M) KSUF(q6_k)(w, rb, r0, r1, xq, y, ys, M)
  switch (t) {
    case MX_GGML_Q4_0: KDISPATCH(CALL_Q40); break;
    case MX_GGML_Q4_1: KDISPATCH(CALL_Q41); break;
    case MX_GGML_Q8_0: KDISPATCH(CALL_Q80); break;
    case MX_GGML_Q4_K: KDISPATCH(CALL_Q4K); break;
    case MX_GGML_Q5_K: KDISPATCH(CALL_Q5K); break;
    case MX_GGML_Q6_K: KDISPATCH(CALL_Q6K); break;
    default: break;
  }
#undef CALL_Q40
#undef CALL_Q41
#undef CALL_Q80
#undef CALL_Q4K
#undef CALL_Q5K
#undef CALL_Q6K
}
#undef KDISPATCH
#undef KINL
#undef NACC

#endif /* GGML_KPASS */
