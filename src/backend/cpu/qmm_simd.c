/* qmm_simd.c — decode kernels for affine quantized mat-vec (M <= 8 rows).
 *
 * Exactness first: the activations stay f32 and each weight is dequantized
 * in registers, so a result equals x @ dequantize(w)^T up to f32 rounding
 * and summation order (int8 activations, the classic decode trick, cost
 * about 1.5% relative error here). Per output and group g:
 *   y += s_g * sum_{k in g} x_k q_k + b_g * sum_{k in g} x_k
 * the first term in registers, the second from per-group sums of x.
 *
 * Speed comes from never shuffling the codes. A chunk of packed weights
 * loads as 8 32-bit lanes, each holding VPL consecutive codes; code k of
 * every lane is `lane & (mask << pos_k)`, converted to f32 as is: it equals
 * q * 2^pos_k exactly. The activations are stored in the matching slot
 * order (slot 8k + j = value VPL*j + k of the chunk) and pre-multiplied by
 * 2^-pos_k, so the product is x * q with no rounding beyond the FMA's.
 * That is and + cvt + mul (by the group scale) per 8 weights, shared by
 * all activation rows, then one FMA per row. The upper half of a lane's
 * codes is shifted down once per chunk (keeping pos_k <= 14, so the scaled
 * activations stay normal for |x| >= 2^-112).
 *
 * Lanes by width (bytes per chunk CB, values per lane VPL):
 * - 2, 4, 8 bits: a lane is one uint32 word of the packed row (CB = 32).
 * - 3 bits: a lane is 3 bytes = 8 codes; 6 bits: 3 bytes = 4 codes
 *   (CB = 24; one pshufb spreads 12 bytes per 128-bit half into 4 lanes).
 * - 5 bits: 5 bytes hold 8 codes; lane 2u is bytes 0-2 of unit u (codes
 *   at bits 0, 5, 10, 15), lane 2u+1 bytes 2-4 (codes at 4, 9, 14, 19);
 *   CB = 20. Codes never straddle a lane, so 3/5/6-bit values that
 *   straddle uint32 words cost nothing extra. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantized.h"

qmm_isa qmm_pick_isa(void) {
  const cpu_features *f = cpu_get_features();
  qmm_isa best = QMM_ISA_NONE;
  if (f->avx2 && f->fma && f->f16c) best = QMM_ISA_AVX2;
  if (best && f->avx512f && f->avx512vl && f->avx512vnni && f->avx512bw) best = QMM_ISA_VNNI;
  const char *e = getenv("MLXC_QMM_ISA");
  if (e) {
    qmm_isa cap = strcmp(e, "none") == 0 ? QMM_ISA_NONE
                  : strcmp(e, "avx2") == 0 ? QMM_ISA_AVX2
                                           : QMM_ISA_VNNI;
    if (cap < best) best = cap;
  }
  return best;
}

bool qmm_decode_supported(const qmat *m) {
  return m->mode == MX_QUANT_AFFINE && m->bits >= 2 && m->bits <= 8 && m->bits != 7 &&
         m->cols % 32 == 0 &&
         (m->group_size == 32 || m->group_size == 64 || m->group_size == 128);
}

/* ------------------------------------------------------------ layout */

#define QD_VPL(B) ((B) == 2 ? 16 : (B) == 3 || (B) == 4 ? 8 : 4) /* codes per lane */
#define QD_SHIFT(B) ((B) == 2 || (B) == 4 || (B) == 8 ? 16 : (B) == 5 ? 10 : 12)
#define QD_CHUNK(B) (8 * QD_VPL(B)) /* values per chunk */
#define QD_CBYTES(B) (QD_VPL(B) * (B))

/* Bit position of code k of lane j, after the upper half's shift. */
static inline int qd_pos(int bits, int j, int k) {
  int h = QD_VPL(bits) / 2;
  return (bits == 5 ? 4 * (j & 1) : 0) + bits * (k % h);
}

int64_t qact_kpad(const qmat *m) {
  int64_t C = QD_CHUNK(m->bits);
  return (m->cols + C - 1) / C * C;
}

__attribute__((target("avx2,fma,f16c"))) static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* Slot order and power-of-two scaling (see the top of the file); slots
 * past K hold 0. The rows are interleaved by 8 slots (chunk c, code k,
 * row r: 8 floats at ((c * VPL + k) * rows + r) * 8), so the kernel
 * addresses every row's slots from one pointer. The group sums run in
 * natural order. */
__attribute__((target("avx2,fma,f16c"))) void qact_prepare(qact *a, const float *X,
                                                           const qmat *m) {
  const int bits = m->bits, vpl = QD_VPL(bits), C = QD_CHUNK(bits);
  const int64_t K = a->K, Kp = a->Kp, gs = m->group_size, G = K / gs;
  int src[128];
  float sc[128];
  for (int k = 0; k < vpl; k++)
    for (int j = 0; j < 8; j++) {
      src[8 * k + j] = vpl * j + k;
      sc[8 * k + j] = ldexpf(1.0f, -qd_pos(bits, j, k));
    }
  const int64_t R = a->rows;
  for (int64_t r = 0; r < R; r++) {
    const float *x = X + r * K;
    for (int64_t c = 0; c < Kp; c += C) {
      float *xt = a->xt + c * R + 8 * r; /* slot s of row r at xt[(s/8*R)*8 + s%8] */
      for (int s = 0; s < C; s++)
        xt[(s / 8) * R * 8 + s % 8] = c + src[s] < K ? x[c + src[s]] * sc[s] : 0.0f;
    }
    for (int64_t g = 0; g < G; g++) {
      const float *xg = x + g * gs;
      __m256 s = _mm256_loadu_ps(xg);
      for (int64_t j = 8; j < gs; j += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(xg + j));
      a->xsum[r * G + g] = hsum256(s);
    }
  }
}

/* ------------------------------------------------------------ helpers */

#define QD_ATTR __attribute__((target("avx2,fma,f16c")))
#define QD_INLINE static inline __attribute__((always_inline)) QD_ATTR
#define QD_UNROLL _Pragma("GCC unroll 16")

/* One row's G scales and biases as f32 (F16C / bf16 shift, 8 at a time),
 * then 8 zero scales: chunks wider than a group read up to 8 past G, and
 * slots past K (x = 0) must not meet a NaN. */
QD_INLINE void row_scales_f32(const qmat *m, int64_t off, int64_t G, float *sf, float *bf) {
  for (int k = 0; k < 2; k++) {
    const void *src = k ? m->biases : m->scales;
    float *dst = k ? bf : sf;
    int64_t i = 0;
    if (m->sdtype == MX_FLOAT32) {
      memcpy(dst, (const float *)src + off, (size_t)G * sizeof(float));
    } else {
      const uint16_t *h = (const uint16_t *)src + off;
      if (m->sdtype == MX_FLOAT16) {
        for (; i + 8 <= G; i += 8)
          _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
        for (; i < G; i++) dst[i] = f16_to_f32(h[i]);
      } else {
        for (; i + 8 <= G; i += 8) {
          __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
          _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < G; i++) dst[i] = bf16_to_f32(h[i]);
      }
    }
  }
  _mm256_storeu_ps(sf + G, _mm256_setzero_ps());
}

/* The 8 lanes of one chunk (see the top of the file for 3/5/6 bits). */
QD_INLINE __m256i qd_load(const int B, const uint8_t *p) {
  if (B == 2 || B == 4 || B == 8) return _mm256_loadu_si256((const __m256i *)p);
  const int half = QD_CBYTES(B) / 2;
  __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                      _mm_loadu_si128((const __m128i *)(p + half)), 1);
  const __m256i ctl = B == 5 ? _mm256_setr_epi8(0, 1, 2, -1, 2, 3, 4, -1, 5, 6, 7, -1, 7, 8, 9, -1,
                                                0, 1, 2, -1, 2, 3, 4, -1, 5, 6, 7, -1, 7, 8, 9, -1)
                             : _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11,
                                                -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10,
                                                11, -1);
  return _mm256_shuffle_epi8(v, ctl);
}

/* Bytes qd_load reads from a chunk's start. */
#define QD_READ(B) ((B) == 2 || (B) == 4 || (B) == 8 ? 32 : QD_CBYTES(B) / 2 + 16)

QD_INLINE __m256i qd_mask(const int B, const int k) {
  const uint32_t M = (1u << B) - 1;
  const int kk = k % (QD_VPL(B) / 2);
  if (B == 5)
    return _mm256_setr_epi32((int)(M << 5 * kk), (int)(M << (5 * kk + 4)), (int)(M << 5 * kk),
                             (int)(M << (5 * kk + 4)), (int)(M << 5 * kk),
                             (int)(M << (5 * kk + 4)), (int)(M << 5 * kk),
                             (int)(M << (5 * kk + 4)));
  return _mm256_set1_epi32((int)(M << (B * kk)));
}

/* ------------------------------------------------------------ kernel */

/* One chunk of NW weight rows (lanes V) against R activation rows (slots
 * xc, interleaved by 8). T: accumulate raw x * q into dst, the caller scales
 * by the group; otherwise each dequantized vector is scaled by sv first
 * (cheaper when R is large: one multiply shared by R FMAs). S
 * accumulators per (weight row, activation row) alternate over k. */
QD_INLINE void qd_chunk(const int B, const int R, const int NW, const int S, const int T,
                        __m256i *V, const __m256 *sv, const float *xc, __m256 (*dst)[8][2]) {
  const int VPL = QD_VPL(B);
  QD_UNROLL for (int k = 0; k < VPL; k++) {
    if (k == VPL / 2) QD_UNROLL for (int i = 0; i < NW; i++) V[i] = _mm256_srli_epi32(V[i], QD_SHIFT(B));
    const __m256i mk = qd_mask(B, k);
    __m256 f[2];
    QD_UNROLL for (int i = 0; i < NW; i++) {
      f[i] = _mm256_cvtepi32_ps(_mm256_and_si256(V[i], mk));
      if (!T) f[i] = _mm256_mul_ps(f[i], sv[i]);
    }
    QD_UNROLL for (int r = 0; r < R; r++) {
      const __m256 xk = _mm256_loadu_ps(xc + (k * R + r) * 8);
      QD_UNROLL for (int i = 0; i < NW; i++)
        dst[i][r][k % S] = _mm256_fmadd_ps(f[i], xk, dst[i][r][k % S]);
    }
  }
}

QD_INLINE void qd_zero(const int R, const int NW, const int S, __m256 (*d)[8][2]) {
  QD_UNROLL for (int i = 0; i < NW; i++) QD_UNROLL for (int r = 0; r < R; r++)
    QD_UNROLL for (int u = 0; u < S; u++) d[i][r][u] = _mm256_setzero_ps();
}

/* acc += t * sv (T mode, end of a group or chunk). */
QD_INLINE void qd_scale(const int R, const int NW, const int S, __m256 (*t)[8][2],
                        const __m256 *sv, __m256 (*acc)[8][2]) {
  QD_UNROLL for (int i = 0; i < NW; i++) QD_UNROLL for (int r = 0; r < R; r++) {
    __m256 tt = S == 2 ? _mm256_add_ps(t[i][r][0], t[i][r][1]) : t[i][r][0];
    acc[i][r][0] = _mm256_fmadd_ps(tt, sv[i], acc[i][r][0]);
  }
}

/* Outputs n0..n1 for R activation rows, NW weight rows per pass; B, R,
 * NW, S, T are compile-time constants after inlining. */
QD_INLINE void qd_rows(const qact *a, const qmat *m, float *Y, int64_t ldy, int64_t n0, int64_t n1,
                       float *scratch, const int B, const int R, const int NW, const int S,
                       const int T) {
  const int VPL = QD_VPL(B), C = QD_CHUNK(B), CB = QD_CBYTES(B);
  const int64_t K = a->K, Kp = a->Kp, gs = m->group_size, G = K / gs, Gp = G + 8;
  const int64_t rb = m->row_bytes, nc = Kp / C;
  /* chunks whose loads stay inside the row; the rest go through tb */
  int64_t nd = rb >= QD_READ(B) ? (rb - QD_READ(B)) / CB + 1 : 0;
  if (nd > nc) nd = nc;
  const bool lanevar = C > gs; /* a chunk spans C / gs groups */
  const int64_t cpg = lanevar ? 1 : gs / C;      /* chunks per group */
  const int64_t gpc = lanevar ? C / gs : 1;      /* groups per chunk */
  const int64_t gd = lanevar ? nd : nd / cpg;    /* leading groups (or chunks) read in place */
  const __m256i gidx = _mm256_srli_epi32(
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(VPL)),
      __builtin_ctzll((unsigned long long)gs));
  /* Prefetch one pass of NW rows ahead: short rows are short streams that
   * the hardware prefetcher retrains on at every page. */
  const int64_t pf = NW * rb;
  _Alignas(32) uint8_t tb[2][64];
  for (int64_t n = n0; n < n1; n += NW) {
    const float *sf[2], *bf[2];
    QD_UNROLL for (int i = 0; i < NW; i++) {
      float *s = scratch + i * 2 * Gp;
      row_scales_f32(m, (n + i) * G, G, s, s + Gp);
      sf[i] = s;
      bf[i] = s + Gp;
    }
    __m256 acc[2][8][2], t[2][8][2];
    __m256i V[2];
    __m256 sv[2];
    qd_zero(R, NW, S, acc);
    const float *xc = a->xt;
    const uint8_t *wp = m->w + n * rb;
    /* main part: whole groups (or chunks, when one spans several groups) */
    for (int64_t g = 0; g < gd; g++) {
      QD_UNROLL for (int i = 0; i < NW; i++)
        sv[i] = lanevar ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(sf[i] + g * gpc), gidx)
                        : _mm256_broadcast_ss(sf[i] + g);
      if (T) qd_zero(R, NW, S, t);
      for (int64_t j = 0; j < cpg; j++, xc += C * R, wp += CB) {
        QD_UNROLL for (int i = 0; i < NW; i++) {
          V[i] = qd_load(B, wp + i * rb);
          _mm_prefetch((const char *)(wp + i * rb + pf), _MM_HINT_T0);
        }
        qd_chunk(B, R, NW, S, T, V, sv, xc, T ? t : acc);
      }
      if (T) qd_scale(R, NW, S, t, sv, acc);
    }
    /* the last chunks, copied so no load leaves the row */
    for (int64_t c = gd * cpg; c < nc; c++, xc += C * R, wp += CB) {
      int64_t left = rb - c * CB;
      QD_UNROLL for (int i = 0; i < NW; i++) {
        memset(tb[i], 0, sizeof tb[i]);
        memcpy(tb[i], wp + i * rb, (size_t)(left < CB ? left : CB));
        V[i] = qd_load(B, tb[i]);
        sv[i] = lanevar ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(sf[i] + c * gpc), gidx)
                        : _mm256_broadcast_ss(sf[i] + c / cpg);
      }
      if (T) qd_zero(R, NW, S, t);
      qd_chunk(B, R, NW, S, T, V, sv, xc, T ? t : acc);
      if (T) qd_scale(R, NW, S, t, sv, acc);
    }
    QD_UNROLL for (int i = 0; i < NW; i++) {
      QD_UNROLL for (int r = 0; r < R; r++) {
        const float *xs = a->xsum + r * G;
        __m256 bacc = _mm256_setzero_ps();
        int64_t g = 0;
        for (; g + 8 <= G; g += 8)
          bacc = _mm256_fmadd_ps(_mm256_loadu_ps(bf[i] + g), _mm256_loadu_ps(xs + g), bacc);
        __m256 y8 = S == 2 && !T ? _mm256_add_ps(acc[i][r][0], acc[i][r][1]) : acc[i][r][0];
        float y = hsum256(_mm256_add_ps(y8, bacc));
        for (; g < G; g++) y += bf[i][g] * xs[g];
        Y[r * ldy + n + i] = y;
      }
    }
  }
}


/* ------------------------------------------------------------ one row */

/* One activation row (plain decode), the case that streams the most
 * weight bytes per flop. Measured on Zen 3 (4 vector pipes: FMA on two,
 * cvt and add on the other two, and/or on all four): the loop body is
 * and + cvt + FMA per 8 weights, at most ~10 weights a cycle, and each
 * group's fold into the running sum cost as much again as it saves in
 * chains. So: two weight rows per pass (sharing every activation load),
 * two partial-sum chains per row, folded per group by FMAs only (adds
 * would queue behind the conversions), and the group size a compile-time
 * constant so a group's chunks are straight-line code. In L1 this runs
 * 4-bit g64 at ~7 weights a cycle against ~6.3 for the generic qd_rows
 * (and 8-bit ~6.2 against ~5.5); 2-bit keeps qd_rows, which its 16 codes
 * per lane suit better. NW (1 or 2) weight rows per pass: an odd last row
 * runs the same arithmetic alone, so a row's bits never depend on which
 * row it was paired with. */
#define Q1_S 2
QD_INLINE void q1_chunk(const int B, const int NW, __m256i *V, const float *xc,
                        __m256 t[2][Q1_S]) {
  const int VPL = QD_VPL(B);
  QD_UNROLL for (int k = 0; k < VPL; k++) {
    if (k == VPL / 2) QD_UNROLL for (int i = 0; i < NW; i++) V[i] = _mm256_srli_epi32(V[i], QD_SHIFT(B));
    const __m256i mk = qd_mask(B, k);
    const __m256 xk = _mm256_loadu_ps(xc + k * 8);
    QD_UNROLL for (int i = 0; i < NW; i++)
      t[i][k % Q1_S] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(V[i], mk)), xk,
                                       t[i][k % Q1_S]);
  }
}

/* acc += (t[0] + t[1]) * s, as two FMAs. */
QD_INLINE __m256 q1_fold(__m256 t[Q1_S], __m256 s, __m256 acc) {
  QD_UNROLL for (int u = 0; u < Q1_S; u++) acc = _mm256_fmadd_ps(t[u], s, acc);
  return acc;
}

QD_INLINE __m256 q1_scale(const float *sf, int64_t c, const int lanevar, const int gpc,
                          const int cpg, const __m256i gidx) {
  return lanevar ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(sf + c * gpc), gidx)
                 : _mm256_broadcast_ss(sf + c / cpg);
}

/* GS is a compile-time group size, so a group's chunks (or a chunk's
 * groups) unroll into straight-line code. */
QD_INLINE void q1_rows(const qact *a, const qmat *m, float *Y, int64_t n0, int64_t n1,
                       float *scratch, const int B, const int GS, const int NW) {
  const int VPL = QD_VPL(B), C = QD_CHUNK(B), CB = QD_CBYTES(B);
  const int64_t K = a->K, Kp = a->Kp, G = K / GS, Gp = G + 8;
  const int64_t rb = m->row_bytes, nc = Kp / C;
  int64_t nd = rb >= QD_READ(B) ? (rb - QD_READ(B)) / CB + 1 : 0;
  if (nd > nc) nd = nc;
  const int lanevar = C > GS;
  const int cpg = lanevar ? 1 : GS / C;
  const int gpc = lanevar ? C / GS : 1;
  nd = nd / cpg * cpg; /* whole groups in place */
  const __m256i gidx = _mm256_srli_epi32(
      _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(VPL)),
      __builtin_ctz((unsigned)GS));
  const int64_t pf = NW * rb;
  _Alignas(32) uint8_t tb[2][64];
  float *sf[2], *bf[2];
  QD_UNROLL for (int i = 0; i < NW; i++) {
    sf[i] = scratch + 2 * i * Gp;
    bf[i] = sf[i] + Gp;
  }
  for (int64_t n = n0; n < n1; n += NW) {
    __m256 acc[2];
    __m256i V[2];
    QD_UNROLL for (int i = 0; i < NW; i++) {
      row_scales_f32(m, (n + i) * G, G, sf[i], bf[i]);
      acc[i] = _mm256_setzero_ps();
    }
    const float *xc = a->xt;
    const uint8_t *wp = m->w + n * rb;
    int64_t c = 0;
    for (; c < nd; c += cpg) {
      __m256 t[2][Q1_S];
      QD_UNROLL for (int i = 0; i < NW; i++) QD_UNROLL for (int u = 0; u < Q1_S; u++)
        t[i][u] = _mm256_setzero_ps();
      QD_UNROLL for (int j = 0; j < cpg; j++) {
        QD_UNROLL for (int i = 0; i < NW; i++) {
          V[i] = qd_load(B, wp + i * rb + j * CB);
          _mm_prefetch((const char *)(wp + i * rb + pf + j * CB), _MM_HINT_T0);
        }
        q1_chunk(B, NW, V, xc + j * C, t);
      }
      QD_UNROLL for (int i = 0; i < NW; i++)
        acc[i] = q1_fold(t[i], q1_scale(sf[i], c, lanevar, gpc, cpg, gidx), acc[i]);
      xc += cpg * C;
      wp += cpg * CB;
    }
    for (; c < nc; c++, xc += C, wp += CB) {
      int64_t left = rb - c * CB;
      __m256 t[2][Q1_S];
      QD_UNROLL for (int i = 0; i < NW; i++) {
        QD_UNROLL for (int u = 0; u < Q1_S; u++) t[i][u] = _mm256_setzero_ps();
        memset(tb[i], 0, sizeof tb[i]);
        memcpy(tb[i], wp + i * rb, (size_t)(left < CB ? left : CB));
        V[i] = qd_load(B, tb[i]);
      }
      q1_chunk(B, NW, V, xc, t);
      QD_UNROLL for (int i = 0; i < NW; i++)
        acc[i] = q1_fold(t[i], q1_scale(sf[i], c, lanevar, gpc, cpg, gidx), acc[i]);
    }
    const float *xs = a->xsum;
    __m256 b[2];
    QD_UNROLL for (int i = 0; i < NW; i++) b[i] = _mm256_setzero_ps();
    int64_t g = 0;
    for (; g + 8 <= G; g += 8) {
      __m256 xg = _mm256_loadu_ps(xs + g);
      QD_UNROLL for (int i = 0; i < NW; i++)
        b[i] = _mm256_fmadd_ps(_mm256_loadu_ps(bf[i] + g), xg, b[i]);
    }
    QD_UNROLL for (int i = 0; i < NW; i++) {
      float y = hsum256(_mm256_add_ps(acc[i], b[i]));
      for (int64_t h = g; h < G; h++) y += bf[i][h] * xs[h];
      Y[n + i] = y;
    }
  }
}

QD_INLINE void q1_rows_gs(const qact *a, const qmat *m, float *Y, int64_t n0, int64_t n1,
                          float *scratch, const int B, const int NW) {
  switch (m->group_size) {
  case 32: q1_rows(a, m, Y, n0, n1, scratch, B, 32, NW); break;
  case 64: q1_rows(a, m, Y, n0, n1, scratch, B, 64, NW); break;
  default: q1_rows(a, m, Y, n0, n1, scratch, B, 128, NW); break;
  }
}

/* Configurations (measured on Zen 3, 16 ymm registers): R = 1 runs
 * q1_rows (2-bit: qd_rows with two accumulators per output); R = 2-4 take
 * two weight rows per pass, sharing each activation load; R = 2 scales
 * per group (T); R >= 3 scale each dequantized vector once for all R rows;
 * R = 5-8 one weight row per pass (R accumulators).
 *
 * Every weight row is summed in one order whatever rows it shares a pass
 * with: an odd last row runs the same configuration (S, T) with NW = 1,
 * which only drops the partner's registers. So a result's bits depend on
 * the row, the activations and R, never on where a thread's range starts
 * or whether the matrix is one of several concatenated at load (fused
 * q/k/v, gate/up) — which lets fused weights serve batched decode. */
#define QD_PAIR(B, R, S, T)                                \
  do {                                                     \
    int64_t n2 = n0 + ((n1 - n0) & ~(int64_t)1);           \
    qd_rows(a, m, Y, ldy, n0, n2, scratch, B, R, 2, S, T); \
    qd_rows(a, m, Y, ldy, n2, n1, scratch, B, R, 1, S, T); \
  } while (0)
#define QD_DEFINE(B)                                                                  \
  static QD_ATTR void qd_bits##B(const qact *a, const qmat *m, float *Y, int64_t ldy, \
                                 int64_t n0, int64_t n1, float *scratch) {            \
    switch (a->rows) {                                                                \
    case 1:                                                                           \
      if (B == 2) {                                                                   \
        QD_PAIR(B, 1, 2, 1);                                                          \
      } else {                                                                        \
        int64_t n2 = n0 + ((n1 - n0) & ~(int64_t)1);                                  \
        q1_rows_gs(a, m, Y, n0, n2, scratch, B, 2);                                   \
        q1_rows_gs(a, m, Y, n2, n1, scratch, B, 1);                                   \
      }                                                                               \
      break;                                                                          \
    case 2: QD_PAIR(B, 2, 1, 1); break;                                               \
    case 3: QD_PAIR(B, 3, 1, 0); break;                                               \
    case 4: QD_PAIR(B, 4, 1, 0); break;                                               \
    case 5: qd_rows(a, m, Y, ldy, n0, n1, scratch, B, 5, 1, 1, 0); break;             \
    case 6: qd_rows(a, m, Y, ldy, n0, n1, scratch, B, 6, 1, 1, 0); break;             \
    case 7: qd_rows(a, m, Y, ldy, n0, n1, scratch, B, 7, 1, 1, 0); break;             \
    default: qd_rows(a, m, Y, ldy, n0, n1, scratch, B, 8, 1, 1, 0); break;            \
    }                                                                                 \
  }
QD_DEFINE(2)
QD_DEFINE(3)
QD_DEFINE(4)
QD_DEFINE(5)
QD_DEFINE(6)
QD_DEFINE(8)
#undef QD_DEFINE
#undef QD_PAIR

void qmm_decode_rows(const qact *a, const qmat *m, qmm_isa isa, float *Y, int64_t ldy, int64_t n0,
                     int64_t n1, float *scratch) {
  (void)isa; /* one kernel: AVX-512 would only widen the same loop */
  switch (m->bits) {
  case 2: qd_bits2(a, m, Y, ldy, n0, n1, scratch); break;
  case 3: qd_bits3(a, m, Y, ldy, n0, n1, scratch); break;
  case 4: qd_bits4(a, m, Y, ldy, n0, n1, scratch); break;
  case 5: qd_bits5(a, m, Y, ldy, n0, n1, scratch); break;
  case 6: qd_bits6(a, m, Y, ldy, n0, n1, scratch); break;
  default: qd_bits8(a, m, Y, ldy, n0, n1, scratch); break;
  }
}
