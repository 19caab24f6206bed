/* qmm_decode_body.h — the int8 decode loop, included by qmm_simd.c once per
 * instruction set (a template by inclusion: the integer dot product of one
 * 32-value block is the only difference, and it needs its own target).
 *
 * Before inclusion define:
 *   QD_TARGET                 function attribute (target(...))
 *   QD_NAME                   name of the generated row-range function
 *   QD_DOT(w, xq)             __m256i of 8 int32 partial sums of u8 w * s8 xq
 *   QD_DOT8(w, xq, xq16)      same for 8-bit weights (u8 up to 255)
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
        if (bits == 4) {
          __m128i b = _mm_loadu_si128((const __m128i *)w);
          wv = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
          wv = _mm256_and_si256(wv, _mm256_set1_epi8(15));
        } else if (bits == 8) {
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
