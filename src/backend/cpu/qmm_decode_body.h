/* qmm_decode_body.h — the int8 decode loop, included by qmm_simd.c once per
 * instruction set (a template by inclusion: the integer dot product of one
 * 32-value block is the only difference, and it needs its own target).
 *
 * Before inclusion define:
 *   QD_TARGET                 function attribute (target(...))
 *   QD_NAME                   name of the generated row-range function
 *   QD_DOT(w, xq)             __m256i of 8 int32 partial sums of u8 w * s8 xq
 *   QD_DOT8(w, xq, xq16)      same for 8-bit weights (u8 up to 255)
 *   QD_DOT4(lo, hi, xe, xo)   __m256i of 8 int32: lo.xe + hi.xo over groups
 *                             of 4 bytes (u8 codes <= 15, s8 activations)
 *   QD_DOT4H(lo, hi, xe, xo)  the same on __m128i (4 int32)
 *   QD_DOT8P(wp, xq, xq16)    QD_DOT8 with the 32 codes read from wp
 *
 * For each output column n (row n of W) and each activation row r:
 *   y = sum_g s_g * sum_{b in g} dx_b * idot(q_b, xq_b) + sum_g bias_g * xsum_g
 * which is x . dequant(w) with x replaced by its int8 block quantization in
 * the scale term only (the bias term uses the exact group sums). */

static inline __attribute__((always_inline)) QD_TARGET void QD_XCAT(QD_NAME, _r)(
    const qact *a, const qmat *m, float *Y, int64_t ldy, int64_t n0, int64_t n1, const int R,
    float *sf, float *bf) {
  const int64_t K = a->K, G = K / m->group_size, nb = m->group_size / 32;
  const int bits = m->bits;
  const int64_t bbytes = 4 * bits; /* bytes of one 32-value block */
  for (int64_t n = n0; n < n1; n++) {
    const uint8_t *w = m->w + n * m->row_bytes;
    row_scales_f32(m, n * G, G, sf, bf);
    __m256 acc[8];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    int64_t blk = 0;
    for (int64_t g = 0; g < G; g++) {
      __m256 accg[8];
      for (int r = 0; r < R; r++) accg[r] = _mm256_setzero_ps();
      for (int64_t j = 0; j < nb; j++, blk++, w += bbytes) {
        __m256i wv;
        if (bits == 8) {
          wv = _mm256_loadu_si256((const __m256i *)w);
        } else {
          uint8_t tmp[32];
          unpack_block(w, bits, tmp);
          wv = _mm256_loadu_si256((const __m256i *)tmp);
        }
        for (int r = 0; r < R; r++) {
          const int8_t *xq = a->xq + r * K + blk * 32;
          __m256i xv = _mm256_loadu_si256((const __m256i *)xq);
          __m256i d;
          if (bits == 8) {
            d = QD_DOT8(wv, xv, a->xq16 + r * K + blk * 32);
          } else {
            d = QD_DOT(wv, xv);
          }
          accg[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d),
                                    _mm256_set1_ps(a->dx[r * (K / 32) + blk]), accg[r]);
        }
      }
      __m256 sv = _mm256_set1_ps(sf[g]);
      for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(accg[r], sv, acc[r]);
    }
    for (int r = 0; r < R; r++) {
      const float *xs = a->xsum + r * G;
      __m256 bacc = _mm256_setzero_ps();
      int64_t g = 0;
      for (; g + 8 <= G; g += 8)
        bacc = _mm256_fmadd_ps(_mm256_loadu_ps(bf + g), _mm256_loadu_ps(xs + g), bacc);
      float y = hsum256(_mm256_add_ps(acc[r], bacc));
      for (; g < G; g++) y += bf[g] * xs[g];
      Y[r * ldy + n] = y;
    }
  }
}

/* 4-bit: the 32 bytes of a 64-value pair of blocks load as one vector;
 * AND gives the even values (low nibbles), shift + AND the odd ones, and
 * the activations are stored evens-then-odds per pair (qact_prepare), so no
 * shuffle is needed. Int32 lanes 0-3 of the dot are block A, 4-7 block B:
 * one multiply by dx4 (per-lane block scales) turns them into f32. NW
 * weight rows share each activation load and give independent FMA chains.
 * PPG = pairs per group (1: group 64, 2: group 128) is a compile-time
 * constant so the group loop has no inner loop overhead; PPG = 0 is group
 * 32, where a pair spans two groups (per-lane scales) and K may end in a
 * lone block. */
#define QD_UNROLL _Pragma("GCC unroll 16")
static inline __attribute__((always_inline)) QD_TARGET void QD_XCAT(QD_NAME, _q4)(
    const qact *a, const qmat *m, float *Y, int64_t ldy, int64_t n0, int64_t n1, const int R,
    const int NW, const int PPG, float *scratch) {
  const int64_t K = a->K, G = K / m->group_size, nblk = K / 32, npair = K / 64;
  const __m256i m4 = _mm256_set1_epi8(15);
  const int8_t *xq0 = a->xq;
  const float *dx0 = a->dx4;
  /* Software prefetch one pass of NW rows ahead: with short rows (2 KB at
   * K = 4096) each row is a short stream that ends at a page boundary, and
   * the hardware prefetcher retrains on every one. */
  const int64_t pf = NW * m->row_bytes;
  for (int64_t n = n0; n < n1; n += NW) {
    const uint8_t *w[2];
    const float *sf[2], *bf[2];
    QD_UNROLL for (int i = 0; i < NW; i++) {
      w[i] = m->w + (n + i) * m->row_bytes;
      float *s = scratch + i * 2 * G;
      row_scales_f32(m, (n + i) * G, G, s, s + G);
      sf[i] = s;
      bf[i] = s + G;
    }
    __m256 acc[2][4];
    QD_UNROLL for (int i = 0; i < NW; i++) QD_UNROLL for (int r = 0; r < R; r++)
      acc[i][r] = _mm256_setzero_ps();
    if (PPG == 0) {
      const __m256i lane2 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
      for (int64_t p = 0; p < npair; p++) {
        __m256i lo[2], hi[2];
        __m256 sv[2];
        QD_UNROLL for (int i = 0; i < NW; i++) {
          __m256i v = _mm256_loadu_si256((const __m256i *)(w[i] + 32 * p));
          _mm_prefetch((const char *)(w[i] + pf + 32 * p), _MM_HINT_T0);
          lo[i] = _mm256_and_si256(v, m4);
          hi[i] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
          __m128 s2 = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(sf[i] + 2 * p)));
          sv[i] = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s2), lane2);
        }
        QD_UNROLL for (int r = 0; r < R; r++) {
          const int8_t *xq = xq0 + r * K + 64 * p;
          __m256i xe = _mm256_loadu_si256((const __m256i *)xq);
          __m256i xo = _mm256_loadu_si256((const __m256i *)(xq + 32));
          __m256 dxv = _mm256_loadu_ps(dx0 + (r * nblk + 2 * p) * 4);
          QD_UNROLL for (int i = 0; i < NW; i++) {
            __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(QD_DOT4(lo[i], hi[i], xe, xo)), dxv);
            acc[i][r] = _mm256_fmadd_ps(t, sv[i], acc[i][r]);
          }
        }
      }
      if (nblk & 1) { /* the lone last block: evens at 64p, odds at 64p + 16 */
        const int64_t p = npair;
        QD_UNROLL for (int i = 0; i < NW; i++) {
          __m128i v = _mm_loadu_si128((const __m128i *)(w[i] + 32 * p));
          __m128i lo1 = _mm_and_si128(v, _mm256_castsi256_si128(m4));
          __m128i hi1 = _mm_and_si128(_mm_srli_epi16(v, 4), _mm256_castsi256_si128(m4));
          __m128 sv1 = _mm_set1_ps(sf[i][2 * p]);
          QD_UNROLL for (int r = 0; r < R; r++) {
            const int8_t *xq = xq0 + r * K + 64 * p;
            __m128i xe = _mm_loadu_si128((const __m128i *)xq);
            __m128i xo = _mm_loadu_si128((const __m128i *)(xq + 16));
            __m128 dxv = _mm_loadu_ps(dx0 + (r * nblk + 2 * p) * 4);
            __m128 t = _mm_mul_ps(_mm_cvtepi32_ps(QD_DOT4H(lo1, hi1, xe, xo)), dxv);
            t = _mm_mul_ps(t, sv1);
            acc[i][r] = _mm256_add_ps(acc[i][r], _mm256_insertf128_ps(_mm256_setzero_ps(), t, 0));
          }
        }
      }
    } else {
      for (int64_t g = 0; g < G; g++) {
        __m256 t[2][4];
        QD_UNROLL for (int j = 0; j < PPG; j++) {
          const int64_t p = g * PPG + j;
          __m256i lo[2], hi[2];
          QD_UNROLL for (int i = 0; i < NW; i++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(w[i] + 32 * p));
            _mm_prefetch((const char *)(w[i] + pf + 32 * p), _MM_HINT_T0);
            lo[i] = _mm256_and_si256(v, m4);
            hi[i] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
          }
          QD_UNROLL for (int r = 0; r < R; r++) {
            const int8_t *xq = xq0 + r * K + 64 * p;
            __m256i xe = _mm256_loadu_si256((const __m256i *)xq);
            __m256i xo = _mm256_loadu_si256((const __m256i *)(xq + 32));
            __m256 dxv = _mm256_loadu_ps(dx0 + (r * nblk + 2 * p) * 4);
            QD_UNROLL for (int i = 0; i < NW; i++) {
              __m256 d = _mm256_cvtepi32_ps(QD_DOT4(lo[i], hi[i], xe, xo));
              t[i][r] = j == 0 ? _mm256_mul_ps(d, dxv) : _mm256_fmadd_ps(d, dxv, t[i][r]);
            }
          }
        }
        QD_UNROLL for (int i = 0; i < NW; i++) {
          __m256 sv = _mm256_broadcast_ss(sf[i] + g);
          QD_UNROLL for (int r = 0; r < R; r++) acc[i][r] = _mm256_fmadd_ps(t[i][r], sv, acc[i][r]);
        }
      }
    }
    QD_UNROLL for (int i = 0; i < NW; i++) {
      QD_UNROLL for (int r = 0; r < R; r++) {
        const float *xs = a->xsum + r * G;
        __m256 bacc = _mm256_setzero_ps();
        int64_t g = 0;
        for (; g + 8 <= G; g += 8)
          bacc = _mm256_fmadd_ps(_mm256_loadu_ps(bf[i] + g), _mm256_loadu_ps(xs + g), bacc);
        float y = hsum256(_mm256_add_ps(acc[i][r], bacc));
        for (; g < G; g++) y += bf[i][g] * xs[g];
        Y[r * ldy + n + i] = y;
      }
    }
  }
}

/* One instantiation per (rows, pairs per group); two weight rows per pass
 * while the accumulators fit in the 16 registers. */
#define QD_Q4_PPG(R, NW, n0, n1)                                                     \
  do {                                                                               \
    if (m->group_size == 32) QD_XCAT(QD_NAME, _q4)(a, m, Y, ldy, n0, n1, R, NW, 0, scratch); \
    else if (m->group_size == 64) QD_XCAT(QD_NAME, _q4)(a, m, Y, ldy, n0, n1, R, NW, 1, scratch); \
    else QD_XCAT(QD_NAME, _q4)(a, m, Y, ldy, n0, n1, R, NW, 2, scratch);             \
  } while (0)

static QD_TARGET void QD_XCAT(QD_NAME, _4)(const qact *a, const qmat *m, float *Y, int64_t ldy,
                                           int64_t n0, int64_t n1, float *scratch) {
  if (a->rows > 4) {
    /* 8 accumulator rows would spill: activation rows 0-3, then the rest,
     * over the same 16 weight rows (the second pass reads them from L1). */
    const int64_t K = a->K, nblk = K / 32, G = K / m->group_size;
    qact a1 = *a, a2 = *a;
    a1.rows = 4;
    a2.rows = a->rows - 4;
    a2.xq += 4 * K;
    a2.xq16 += 4 * K;
    a2.dx += 4 * nblk;
    a2.dx4 += 4 * nblk * 4;
    a2.xsum += 4 * G;
    for (int64_t n = n0; n < n1; n += 16) {
      int64_t e = n1 - n < 16 ? n1 : n + 16;
      QD_XCAT(QD_NAME, _4)(&a1, m, Y, ldy, n, e, scratch);
      QD_XCAT(QD_NAME, _4)(&a2, m, Y + 4 * ldy, ldy, n, e, scratch);
    }
    return;
  }
  if (a->rows <= 2) {
    int64_t n2 = n0 + ((n1 - n0) & ~(int64_t)1);
    if (a->rows == 1) {
      QD_Q4_PPG(1, 2, n0, n2);
      QD_Q4_PPG(1, 1, n2, n1);
    } else {
      QD_Q4_PPG(2, 2, n0, n2);
      QD_Q4_PPG(2, 1, n2, n1);
    }
    return;
  }
  switch (a->rows) {
  case 3: QD_Q4_PPG(3, 1, n0, n1); break;
  default: QD_Q4_PPG(4, 1, n0, n1); break;
  }
}
#undef QD_Q4_PPG
#undef QD_UNROLL

/* 8-bit: one 32-value block per 32 bytes, no unpacking beyond what the
 * dot needs (QD_DOT8P reads the codes itself: AVX2 zero-extends them to
 * int16 straight from memory). BPG = blocks per group (1, 2, 4) is a
 * compile-time constant, as in the 4-bit kernel; NW weight rows per pass. */
#define QD_UNROLL _Pragma("GCC unroll 16")
static inline __attribute__((always_inline)) QD_TARGET void QD_XCAT(QD_NAME, _q8)(
    const qact *a, const qmat *m, float *Y, int64_t ldy, int64_t n0, int64_t n1, const int R,
    const int NW, const int BPG, float *scratch) {
  const int64_t K = a->K, G = K / m->group_size, nblk = K / 32;
  const int64_t pf = NW * m->row_bytes; /* as in the 4-bit kernel */
  for (int64_t n = n0; n < n1; n += NW) {
    const uint8_t *w[2];
    const float *sf[2], *bf[2];
    QD_UNROLL for (int i = 0; i < NW; i++) {
      w[i] = m->w + (n + i) * m->row_bytes;
      float *s = scratch + i * 2 * G;
      row_scales_f32(m, (n + i) * G, G, s, s + G);
      sf[i] = s;
      bf[i] = s + G;
    }
    __m256 acc[2][4];
    QD_UNROLL for (int i = 0; i < NW; i++) QD_UNROLL for (int r = 0; r < R; r++)
      acc[i][r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; g++) {
      __m256 t[2][4];
      QD_UNROLL for (int j = 0; j < BPG; j++) {
        const int64_t blk = g * BPG + j;
        QD_UNROLL for (int r = 0; r < R; r++) {
          const int8_t *xq = a->xq + r * K + 32 * blk;
          const int16_t *x16 = a->xq16 + r * K + 32 * blk;
          __m256i xv = _mm256_loadu_si256((const __m256i *)xq);
          __m256 dxv = _mm256_broadcast_ss(a->dx + r * nblk + blk);
          QD_UNROLL for (int i = 0; i < NW; i++) {
            if (r == 0) _mm_prefetch((const char *)(w[i] + pf + 32 * blk), _MM_HINT_T0);
            __m256 d = _mm256_cvtepi32_ps(QD_DOT8P(w[i] + 32 * blk, xv, x16));
            t[i][r] = j == 0 ? _mm256_mul_ps(d, dxv) : _mm256_fmadd_ps(d, dxv, t[i][r]);
          }
        }
      }
      QD_UNROLL for (int i = 0; i < NW; i++) {
        __m256 sv = _mm256_broadcast_ss(sf[i] + g);
        QD_UNROLL for (int r = 0; r < R; r++) acc[i][r] = _mm256_fmadd_ps(t[i][r], sv, acc[i][r]);
      }
    }
    QD_UNROLL for (int i = 0; i < NW; i++) {
      QD_UNROLL for (int r = 0; r < R; r++) {
        const float *xs = a->xsum + r * G;
        __m256 bacc = _mm256_setzero_ps();
        int64_t g = 0;
        for (; g + 8 <= G; g += 8)
          bacc = _mm256_fmadd_ps(_mm256_loadu_ps(bf[i] + g), _mm256_loadu_ps(xs + g), bacc);
        float y = hsum256(_mm256_add_ps(acc[i][r], bacc));
        for (; g < G; g++) y += bf[i][g] * xs[g];
        Y[r * ldy + n + i] = y;
      }
    }
  }
}

#define QD_Q8_BPG(R, NW, n0, n1)                                                     \
  do {                                                                               \
    if (m->group_size == 32) QD_XCAT(QD_NAME, _q8)(a, m, Y, ldy, n0, n1, R, NW, 1, scratch); \
    else if (m->group_size == 64) QD_XCAT(QD_NAME, _q8)(a, m, Y, ldy, n0, n1, R, NW, 2, scratch); \
    else QD_XCAT(QD_NAME, _q8)(a, m, Y, ldy, n0, n1, R, NW, 4, scratch);             \
  } while (0)

static QD_TARGET void QD_XCAT(QD_NAME, _8)(const qact *a, const qmat *m, float *Y, int64_t ldy,
                                           int64_t n0, int64_t n1, float *scratch) {
  if (a->rows > 4) {
    /* 8 accumulator rows would spill: activation rows 0-3, then the rest,
     * over the same 16 weight rows (the second pass reads them from L1). */
    const int64_t K = a->K, nblk = K / 32, G = K / m->group_size;
    qact a1 = *a, a2 = *a;
    a1.rows = 4;
    a2.rows = a->rows - 4;
    a2.xq += 4 * K;
    a2.xq16 += 4 * K;
    a2.dx += 4 * nblk;
    a2.dx4 += 4 * nblk * 4;
    a2.xsum += 4 * G;
    for (int64_t n = n0; n < n1; n += 16) {
      int64_t e = n1 - n < 16 ? n1 : n + 16;
      QD_XCAT(QD_NAME, _8)(&a1, m, Y, ldy, n, e, scratch);
      QD_XCAT(QD_NAME, _8)(&a2, m, Y + 4 * ldy, ldy, n, e, scratch);
    }
    return;
  }
  if (a->rows <= 2) {
    int64_t n2 = n0 + ((n1 - n0) & ~(int64_t)1);
    if (a->rows == 1) {
      QD_Q8_BPG(1, 2, n0, n2);
      QD_Q8_BPG(1, 1, n2, n1);
    } else {
      QD_Q8_BPG(2, 2, n0, n2);
      QD_Q8_BPG(2, 1, n2, n1);
    }
    return;
  }
  switch (a->rows) {
  case 3: QD_Q8_BPG(3, 1, n0, n1); break;
  default: QD_Q8_BPG(4, 1, n0, n1); break;
  }
}
#undef QD_Q8_BPG
#undef QD_UNROLL

static QD_TARGET void QD_NAME(const qact *a, const qmat *m, float *Y, int64_t ldy, int64_t n0,
                              int64_t n1, float *sf, float *bf) {
  switch (a->rows) {
  case 1: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 1, sf, bf); break;
  case 2: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 2, sf, bf); break;
  case 3: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 3, sf, bf); break;
  case 4: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 4, sf, bf); break;
  case 5: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 5, sf, bf); break;
  case 6: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 6, sf, bf); break;
  case 7: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 7, sf, bf); break;
  default: QD_XCAT(QD_NAME, _r)(a, m, Y, ldy, n0, n1, 8, sf, bf); break;
  }
}
