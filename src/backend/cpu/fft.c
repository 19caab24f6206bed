/* fft.c — 1-D DFTs on the CPU, written here because the project's
 * dependencies carry no FFT library (FFTW is not among them).
 *
 * Algorithm: a Stockham autosort FFT (decimation in frequency, out of place
 * between the data and one work buffer, so no bit reversal) with radix 4,
 * 2, 3, 5 butterflies and a generic butterfly for other primes up to
 * MAX_DIRECT_PRIME. A length with a larger prime factor goes through
 * Bluestein's chirp-z algorithm on a power-of-two convolution. Real input
 * of even length n runs as a complex transform of n/2 packed samples plus a
 * split step (and the reverse for irfft), halving the work for STFT frames.
 *
 * Precision: everything runs in double with twiddles computed directly by
 * cos/sin in double (no recurrences), so the only error visible in the
 * float32/complex64 results is the final rounding to float. This is what
 * lets results match numpy.fft (which also computes in double) to a few
 * float ulps of the output's largest magnitude.
 *
 * Plans (factorization, per-stage twiddles, Bluestein chirps) are cached by
 * length under a mutex, so a batch of STFT frames or repeated calls with
 * n = 400 build their plan once.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"

#define MAX_DIRECT_PRIME 61
#define MAX_STAGES 64
#define CACHE_SLOTS 64
#define CACHE_MAX_N ((int64_t)1 << 22)

typedef struct cd {
  double re, im;
} cd;

enum { PLAN_DIRECT, PLAN_BLUESTEIN, PLAN_REAL };

struct fft_plan {
  int64_t n;
  int kind;
  bool cached;
  /* direct */
  int nstage;
  int radix[MAX_STAGES];
  int64_t tw_off[MAX_STAGES];
  cd *tw;    /* per stage: W_ns^(p*k), p < ns/r, k = 1..r-1 */
  cd *roots; /* per generic stage: W_r^i, i < r (at tw_off-independent rt_off) */
  int64_t rt_off[MAX_STAGES];
  /* bluestein */
  int64_t m;
  const fft_plan *sub; /* length m (bluestein), n/2 or n (real) */
  cd *chirp;           /* exp(-i pi k^2 / n), k < n */
  cd *bf;              /* DFT_m of the conjugate chirp, scaled by 1/m */
  /* real: W_n^k for k < n/2 (even n) */
  cd *rw;
};

static inline cd cmul(cd a, cd b) {
  return (cd){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
static inline cd unit(int64_t num, int64_t den) { /* exp(-2 pi i num / den) */
  double t = 2.0 * M_PI * (double)num / (double)den;
  return (cd){cos(t), -sin(t)};
}

/* ------------------------------------------------------------ plan cache */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  int64_t n;
  bool real;
  fft_plan *plan;
} cache[CACHE_SLOTS];
static int cache_used;

static void plan_free(fft_plan *p) {
  if (!p) return;
  if (p->sub) fft_plan_release(p->sub);
  free(p->tw);
  free(p->roots);
  free(p->chirp);
  free(p->bf);
  free(p->rw);
  free(p);
}

void fft_plan_release(const fft_plan *p) {
  if (p && !p->cached) plan_free((fft_plan *)p);
}

static fft_plan *build_plan(int64_t n, bool real);

static const fft_plan *plan_get(int64_t n, bool real) {
  pthread_mutex_lock(&cache_lock);
  for (int i = 0; i < cache_used; i++)
    if (cache[i].n == n && cache[i].real == real) {
      fft_plan *p = cache[i].plan;
      pthread_mutex_unlock(&cache_lock);
      return p;
    }
  pthread_mutex_unlock(&cache_lock);
  /* Built outside the lock: building may fetch sub-plans. */
  fft_plan *p = build_plan(n, real);
  if (!p) return NULL;
  pthread_mutex_lock(&cache_lock);
  for (int i = 0; i < cache_used; i++)
    if (cache[i].n == n && cache[i].real == real) { /* another thread won */
      fft_plan *q = cache[i].plan;
      pthread_mutex_unlock(&cache_lock);
      plan_free(p);
      return q;
    }
  /* Huge plans are not pinned for the life of the process. */
  if (cache_used < CACHE_SLOTS && n <= CACHE_MAX_N) {
    p->cached = true;
    cache[cache_used].n = n;
    cache[cache_used].real = real;
    cache[cache_used].plan = p;
    cache_used++;
  }
  pthread_mutex_unlock(&cache_lock);
  return p;
}

const fft_plan *fft_plan_get(int64_t n) { return plan_get(n, false); }

/* ------------------------------------------------------------ plan build */

static bool factor(int64_t n, int *radix, int *nstage) {
  int k = 0;
  while (n % 4 == 0 && k < MAX_STAGES) radix[k++] = 4, n /= 4;
  while (n % 2 == 0 && k < MAX_STAGES) radix[k++] = 2, n /= 2;
  for (int p = 3; p <= MAX_DIRECT_PRIME && n > 1; p += 2)
    while (n % p == 0 && k < MAX_STAGES) radix[k++] = p, n /= p;
  *nstage = k;
  return n == 1;
}

static fft_plan *build_plan(int64_t n, bool real) {
  fft_plan *p = calloc(1, sizeof *p);
  if (!p) goto oom;
  p->n = n;
  if (real) {
    p->kind = PLAN_REAL;
    if (n % 2 == 0) {
      int64_t h = n / 2;
      p->sub = fft_plan_get(h);
      p->rw = malloc((size_t)h * sizeof *p->rw);
      if (!p->sub || !p->rw) goto oom;
      for (int64_t k = 0; k < h; k++) p->rw[k] = unit(k, n);
    } else {
      p->sub = fft_plan_get(n);
      if (!p->sub) goto oom;
    }
    return p;
  }
  if (factor(n, p->radix, &p->nstage)) {
    p->kind = PLAN_DIRECT;
    int64_t total = 0, rtotal = 0, ns = n;
    for (int s = 0; s < p->nstage; s++) {
      int r = p->radix[s];
      p->tw_off[s] = total;
      total += (ns / r) * (r - 1);
      p->rt_off[s] = rtotal;
      if (r > 5) rtotal += r;
      ns /= r;
    }
    p->tw = malloc((size_t)(total ? total : 1) * sizeof *p->tw);
    p->roots = malloc((size_t)(rtotal ? rtotal : 1) * sizeof *p->roots);
    if (!p->tw || !p->roots) goto oom;
    ns = n;
    for (int s = 0; s < p->nstage; s++) {
      int r = p->radix[s];
      int64_t m = ns / r;
      cd *t = p->tw + p->tw_off[s];
      for (int64_t q = 0; q < m; q++)
        for (int k = 1; k < r; k++) t[q * (r - 1) + k - 1] = unit(q * k, ns);
      if (r > 5)
        for (int i = 0; i < r; i++) p->roots[p->rt_off[s] + i] = unit(i, r);
      ns = m;
    }
    return p;
  }
  /* Bluestein: X_k = c_k * sum_j (x_j c_j) conj(c)_{k-j}, c_k = e^{-i pi k^2/n},
   * the sum being a circular convolution of length m >= 2n - 1. */
  p->kind = PLAN_BLUESTEIN;
  int64_t m = 1;
  while (m < 2 * n - 1) m *= 2;
  p->m = m;
  p->sub = fft_plan_get(m);
  p->chirp = malloc((size_t)n * sizeof *p->chirp);
  p->bf = calloc((size_t)m, sizeof *p->bf);
  double *work = malloc((size_t)(p->sub ? fft_plan_work(p->sub) : 1) * sizeof(double));
  if (!p->sub || !p->chirp || !p->bf || !work) {
    free(work);
    goto oom;
  }
  for (int64_t k = 0; k < n; k++) {
    /* k^2 mod 2n keeps the angle small and exact (k < 2^31). */
    int64_t e = (int64_t)(((uint64_t)k * (uint64_t)k) % (uint64_t)(2 * n));
    double t = M_PI * (double)e / (double)n;
    p->chirp[k] = (cd){cos(t), -sin(t)};
  }
  p->bf[0] = (cd){p->chirp[0].re, -p->chirp[0].im};
  for (int64_t k = 1; k < n; k++) {
    cd c = {p->chirp[k].re, -p->chirp[k].im};
    p->bf[k] = c;
    p->bf[m - k] = c;
  }
  fft_exec(p->sub, (double *)p->bf, work);
  free(work);
  double inv = 1.0 / (double)m;
  for (int64_t k = 0; k < m; k++) p->bf[k].re *= inv, p->bf[k].im *= inv;
  return p;
oom:
  plan_free(p);
  set_error(MX_ERR_OOM, "fft: out of memory building a plan for n=%lld", (long long)n);
  return NULL;
}

int64_t fft_plan_work(const fft_plan *p) {
  switch (p->kind) {
    case PLAN_DIRECT: return 2 * p->n;
    case PLAN_BLUESTEIN: return 2 * p->m + fft_plan_work(p->sub);
    default: return fft_plan_work(p->sub); /* the caller holds data and result */
  }
}

/* ------------------------------------------------------------ butterflies
 * One Stockham stage: the length-ns sub-transforms interleaved at stride s
 * are split into r transforms of length m = ns / r (DIF):
 *   y[q + s(r p + k)] = W_ns^{pk} * sum_j x[q + s(p + j m)] W_r^{jk}.  */

static void stage2(const cd *x, cd *y, int64_t m, int64_t s, const cd *tw) {
  for (int64_t p = 0; p < m; p++) {
    cd w = tw[p];
    const cd *x0 = x + s * p, *x1 = x + s * (p + m);
    cd *y0 = y + s * 2 * p, *y1 = y0 + s;
    for (int64_t q = 0; q < s; q++) {
      cd a = x0[q], b = x1[q];
      y0[q] = (cd){a.re + b.re, a.im + b.im};
      y1[q] = cmul((cd){a.re - b.re, a.im - b.im}, w);
    }
  }
}

static void stage4(const cd *x, cd *y, int64_t m, int64_t s, const cd *tw) {
  for (int64_t p = 0; p < m; p++) {
    cd w1 = tw[3 * p], w2 = tw[3 * p + 1], w3 = tw[3 * p + 2];
    const cd *x0 = x + s * p, *x1 = x0 + s * m, *x2 = x1 + s * m, *x3 = x2 + s * m;
    cd *y0 = y + s * 4 * p, *y1 = y0 + s, *y2 = y1 + s, *y3 = y2 + s;
    for (int64_t q = 0; q < s; q++) {
      cd a0 = x0[q], a1 = x1[q], a2 = x2[q], a3 = x3[q];
      cd t0 = {a0.re + a2.re, a0.im + a2.im}, t1 = {a0.re - a2.re, a0.im - a2.im};
      cd t2 = {a1.re + a3.re, a1.im + a3.im}, t3 = {a1.re - a3.re, a1.im - a3.im};
      y0[q] = (cd){t0.re + t2.re, t0.im + t2.im};
      /* -i * t3 = (t3.im, -t3.re) */
      y1[q] = cmul((cd){t1.re + t3.im, t1.im - t3.re}, w1);
      y2[q] = cmul((cd){t0.re - t2.re, t0.im - t2.im}, w2);
      y3[q] = cmul((cd){t1.re - t3.im, t1.im + t3.re}, w3);
    }
  }
}

static void stage3(const cd *x, cd *y, int64_t m, int64_t s, const cd *tw) {
  const double c = -0.5, sn = 0.86602540378443864676; /* sin(2 pi / 3) */
  for (int64_t p = 0; p < m; p++) {
    cd w1 = tw[2 * p], w2 = tw[2 * p + 1];
    const cd *x0 = x + s * p, *x1 = x0 + s * m, *x2 = x1 + s * m;
    cd *y0 = y + s * 3 * p, *y1 = y0 + s, *y2 = y1 + s;
    for (int64_t q = 0; q < s; q++) {
      cd a0 = x0[q], a1 = x1[q], a2 = x2[q];
      cd t1 = {a1.re + a2.re, a1.im + a2.im}, d = {a1.re - a2.re, a1.im - a2.im};
      cd t2 = {a0.re + c * t1.re, a0.im + c * t1.im};
      /* -i sn d = (sn d.im, -sn d.re) */
      y0[q] = (cd){a0.re + t1.re, a0.im + t1.im};
      y1[q] = cmul((cd){t2.re + sn * d.im, t2.im - sn * d.re}, w1);
      y2[q] = cmul((cd){t2.re - sn * d.im, t2.im + sn * d.re}, w2);
    }
  }
}

static void stage5(const cd *x, cd *y, int64_t m, int64_t s, const cd *tw) {
  const double c1 = 0.30901699437494742410, c2 = -0.80901699437494742410;
  const double s1 = 0.95105651629515357212, s2 = 0.58778525229247312917;
  for (int64_t p = 0; p < m; p++) {
    cd w1 = tw[4 * p], w2 = tw[4 * p + 1], w3 = tw[4 * p + 2], w4 = tw[4 * p + 3];
    const cd *x0 = x + s * p, *x1 = x0 + s * m, *x2 = x1 + s * m, *x3 = x2 + s * m,
             *x4 = x3 + s * m;
    cd *y0 = y + s * 5 * p, *y1 = y0 + s, *y2 = y1 + s, *y3 = y2 + s, *y4 = y3 + s;
    for (int64_t q = 0; q < s; q++) {
      cd a0 = x0[q], a1 = x1[q], a2 = x2[q], a3 = x3[q], a4 = x4[q];
      cd t1 = {a1.re + a4.re, a1.im + a4.im}, t2 = {a2.re + a3.re, a2.im + a3.im};
      cd t3 = {a1.re - a4.re, a1.im - a4.im}, t4 = {a2.re - a3.re, a2.im - a3.im};
      cd u1 = {a0.re + c1 * t1.re + c2 * t2.re, a0.im + c1 * t1.im + c2 * t2.im};
      cd u2 = {a0.re + c2 * t1.re + c1 * t2.re, a0.im + c2 * t1.im + c1 * t2.im};
      cd v1 = {s1 * t3.re + s2 * t4.re, s1 * t3.im + s2 * t4.im};
      cd v2 = {s2 * t3.re - s1 * t4.re, s2 * t3.im - s1 * t4.im};
      /* b1 = u1 - i v1, b4 = u1 + i v1, b2 = u2 - i v2, b3 = u2 + i v2 */
      y0[q] = (cd){a0.re + t1.re + t2.re, a0.im + t1.im + t2.im};
      y1[q] = cmul((cd){u1.re + v1.im, u1.im - v1.re}, w1);
      y2[q] = cmul((cd){u2.re + v2.im, u2.im - v2.re}, w2);
      y3[q] = cmul((cd){u2.re - v2.im, u2.im + v2.re}, w3);
      y4[q] = cmul((cd){u1.re - v1.im, u1.im + v1.re}, w4);
    }
  }
}

static void stage_generic(const cd *x, cd *y, int r, int64_t m, int64_t s, const cd *tw,
                          const cd *rt) {
  cd a[MAX_DIRECT_PRIME];
  for (int64_t p = 0; p < m; p++) {
    const cd *w = tw + (int64_t)(r - 1) * p;
    for (int64_t q = 0; q < s; q++) {
      for (int j = 0; j < r; j++) a[j] = x[q + s * (p + j * m)];
      for (int k = 0; k < r; k++) {
        cd b = a[0];
        int e = 0;
        for (int j = 1; j < r; j++) {
          e += k;
          if (e >= r) e -= r;
          b.re += a[j].re * rt[e].re - a[j].im * rt[e].im;
          b.im += a[j].re * rt[e].im + a[j].im * rt[e].re;
        }
        y[q + s * (r * p + k)] = k ? cmul(b, w[k - 1]) : b;
      }
    }
  }
}

static void exec_direct(const fft_plan *p, cd *data, cd *work) {
  cd *x = data, *y = work;
  int64_t ns = p->n, s = 1;
  for (int st = 0; st < p->nstage; st++) {
    int r = p->radix[st];
    int64_t m = ns / r;
    const cd *tw = p->tw + p->tw_off[st];
    switch (r) {
      case 2: stage2(x, y, m, s, tw); break;
      case 3: stage3(x, y, m, s, tw); break;
      case 4: stage4(x, y, m, s, tw); break;
      case 5: stage5(x, y, m, s, tw); break;
      default: stage_generic(x, y, r, m, s, tw, p->roots + p->rt_off[st]); break;
    }
    cd *t = x;
    x = y;
    y = t;
    ns = m;
    s *= r;
  }
  if (x != data) memcpy(data, x, (size_t)p->n * sizeof *data);
}

static void exec_bluestein(const fft_plan *p, cd *data, cd *work) {
  int64_t n = p->n, m = p->m;
  cd *a = work;
  double *sub_work = (double *)(work + m);
  for (int64_t k = 0; k < n; k++) a[k] = cmul(data[k], p->chirp[k]);
  memset(a + n, 0, (size_t)(m - n) * sizeof *a);
  fft_exec(p->sub, (double *)a, sub_work);
  /* Inverse DFT as conj(DFT(conj(.))); bf carries the 1/m. */
  for (int64_t k = 0; k < m; k++) {
    cd v = cmul(a[k], p->bf[k]);
    a[k] = (cd){v.re, -v.im};
  }
  fft_exec(p->sub, (double *)a, sub_work);
  for (int64_t k = 0; k < n; k++) data[k] = cmul((cd){a[k].re, -a[k].im}, p->chirp[k]);
}

void fft_exec(const fft_plan *p, double *data, double *work) {
  if (p->kind == PLAN_DIRECT) exec_direct(p, (cd *)data, (cd *)work);
  else exec_bluestein(p, (cd *)data, (cd *)work);
}

/* ------------------------------------------------------------ real transforms */

/* x: n reals (room for 2n + 4 doubles); writes bins 0..n/2 to out[0..]. */
static void exec_r2c(const fft_plan *rp, double *x, cd *out, double *work) {
  int64_t n = rp->n;
  if (n % 2) {
    cd *z = (cd *)x;
    for (int64_t j = n - 1; j >= 0; j--) z[j] = (cd){x[j], 0.0};
    fft_exec(rp->sub, x, work);
    for (int64_t k = 0; k <= n / 2; k++) out[k] = z[k];
    return;
  }
  /* The n reals, read as n/2 complex z_j = x_2j + i x_2j+1, transform to Z;
   * then E_k = (Z_k + conj Z_{h-k}) / 2 and O_k = (Z_k - conj Z_{h-k}) / 2i
   * are the DFTs of the even and odd samples, and X_k = E_k + W_n^k O_k. */
  int64_t h = n / 2;
  cd *z = (cd *)x;
  fft_exec(rp->sub, x, work);
  for (int64_t k = 0; k <= h; k++) {
    cd a = z[k == h ? 0 : k], b = z[k == 0 ? 0 : h - k];
    cd e = {0.5 * (a.re + b.re), 0.5 * (a.im - b.im)};
    cd o = {0.5 * (a.im + b.im), -0.5 * (a.re - b.re)};
    cd w = k == h ? (cd){-1.0, 0.0} : rp->rw[k];
    cd wo = cmul(o, w);
    out[k] = (cd){e.re + wo.re, e.im + wo.im};
  }
}

/* X: bins 0..n/2 (room for 2n + 4 doubles); writes n reals (unscaled
 * inverse) to out. Imaginary parts of the DC and Nyquist bins are ignored. */
static void exec_c2r(const fft_plan *rp, cd *X, double *out, double *work) {
  int64_t n = rp->n;
  X[0].im = 0.0;
  if (n % 2) {
    /* Hermitian extension, then inverse as conj(DFT(conj X)): only the real
     * part is kept, so the outer conjugation drops out. */
    for (int64_t k = n / 2 + 1; k < n; k++) X[k] = X[n - k];
    for (int64_t k = 0; k < n; k++) X[k].im = k <= n / 2 ? -X[k].im : X[k].im;
    fft_exec(rp->sub, (double *)X, work);
    for (int64_t j = 0; j < n; j++) out[j] = X[j].re;
    return;
  }
  int64_t h = n / 2;
  X[h].im = 0.0;
  /* Z_k = E_k + i O_k with E_k = (X_k + conj X_{h-k}) and
   * O_k = (X_k - conj X_{h-k}) conj(W_n^k) (twice the DFTs of the even and
   * odd samples, so the result is n x like the odd path's); built in place pairwise
   * (k, h-k), stored conjugated for the inverse by conj(DFT(conj .)). */
  for (int64_t k = 0; k <= h / 2; k++) {
    int64_t l = h - k;
    cd a = X[k], b = X[l];
    cd zk, zl;
    {
      cd e = {(a.re + b.re), (a.im - b.im)};
      cd d = {(a.re - b.re), (a.im + b.im)};
      cd wc = {rp->rw[k].re, -rp->rw[k].im};
      cd o = cmul(d, wc);
      zk = (cd){e.re - o.im, e.im + o.re};
    }
    if (l != k && l < h) {
      cd e = {(b.re + a.re), (b.im - a.im)};
      cd d = {(b.re - a.re), (b.im + a.im)};
      cd wc = {rp->rw[l].re, -rp->rw[l].im};
      cd o = cmul(d, wc);
      zl = (cd){e.re - o.im, e.im + o.re};
      X[l] = (cd){zl.re, -zl.im};
    }
    X[k] = (cd){zk.re, -zk.im};
  }
  fft_exec(rp->sub, (double *)X, work);
  for (int64_t j = 0; j < h; j++) {
    out[2 * j] = X[j].re;
    out[2 * j + 1] = -X[j].im;
  }
}

/* ------------------------------------------------------------ kernel */

typedef struct fft_job {
  const fft_params *p;
  const fft_plan *plan;
  const char *in; /* element pointer */
  int64_t in_stride;
  int nrem;
  int64_t rem_shape[MX_MAX_NDIM], rem_stride[MX_MAX_NDIM];
  char *out;
  int64_t out_len, inner;
  bool oom;
} fft_job;

/* Per row: load (cast, zero-pad) into `a`, transform (real kinds put their
 * result in `b`), store with the output's axis stride. */
static void fft_rows(void *ctx, int64_t begin, int64_t end) {
  fft_job *j = ctx;
  const fft_params *pp = j->p;
  int64_t n = pp->n, nin = pp->nin;
  int64_t nbuf = 2 * n + 4;
  double *a = malloc((size_t)(2 * nbuf + fft_plan_work(j->plan)) * sizeof(double));
  if (!a) {
    j->oom = true;
    return;
  }
  double *b = a + nbuf, *work = b + nbuf;
  const double scale = 1.0 / (double)n;
  for (int64_t r = begin; r < end; r++) {
    int64_t off = 0, rr = r;
    for (int d = j->nrem - 1; d >= 0; d--) {
      off += (rr % j->rem_shape[d]) * j->rem_stride[d];
      rr /= j->rem_shape[d];
    }
    int64_t ob = (r / j->inner) * j->out_len * j->inner + r % j->inner, os = j->inner;
    int64_t is = j->in_stride;
    switch (pp->kind) {
      case FFT_C2C:
      case FFT_C2C_INV: {
        /* The inverse is conj(DFT(conj x)) / n. */
        const float *src = (const float *)j->in + 2 * off;
        cd *z = (cd *)a;
        bool inv = pp->kind == FFT_C2C_INV;
        double sg = inv ? -1.0 : 1.0, sc = inv ? scale : 1.0;
        for (int64_t k = 0; k < nin; k++) z[k] = (cd){src[2 * k * is], sg * src[2 * k * is + 1]};
        for (int64_t k = nin; k < n; k++) z[k] = (cd){0.0, 0.0};
        fft_exec(j->plan, a, work);
        float *dst = (float *)j->out + 2 * ob;
        for (int64_t k = 0; k < n; k++) {
          dst[2 * k * os] = (float)(z[k].re * sc);
          dst[2 * k * os + 1] = (float)(sg * sc * z[k].im);
        }
        break;
      }
      case FFT_R2C: {
        const float *src = (const float *)j->in + off;
        for (int64_t k = 0; k < nin; k++) a[k] = src[k * is];
        for (int64_t k = nin; k < n; k++) a[k] = 0.0;
        exec_r2c(j->plan, a, (cd *)b, work);
        const cd *bins = (const cd *)b;
        float *dst = (float *)j->out + 2 * ob;
        for (int64_t k = 0; k <= n / 2; k++) {
          dst[2 * k * os] = (float)bins[k].re;
          dst[2 * k * os + 1] = (float)bins[k].im;
        }
        break;
      }
      case FFT_C2R: {
        const float *src = (const float *)j->in + 2 * off;
        cd *X = (cd *)a;
        for (int64_t k = 0; k < nin; k++) X[k] = (cd){src[2 * k * is], src[2 * k * is + 1]};
        for (int64_t k = nin; k <= n / 2; k++) X[k] = (cd){0.0, 0.0};
        exec_c2r(j->plan, X, b, work);
        float *dst = (float *)j->out + ob;
        for (int64_t k = 0; k < n; k++) dst[k * os] = (float)(b[k] * scale);
        break;
      }
    }
  }
  free(a);
}

mx_status cpu_fft(mx_array out, mx_array const *in, int nin, const void *params) {
  (void)nin;
  const fft_params *p = params;
  mx_array x = in[0];
  mx_status st = array_alloc(out);
  if (st < 0) return st;
  if (out->size == 0) return MX_OK;
  fft_job j;
  memset(&j, 0, sizeof j);
  j.p = p;
  bool real = p->kind == FFT_R2C || p->kind == FFT_C2R;
  j.plan = plan_get(p->n, real);
  if (!j.plan) return mx_last_error_code();
  j.in = array_ptr(x);
  j.in_stride = x->strides[p->axis];
  for (int d = 0; d < x->ndim; d++) {
    if (d == p->axis) continue;
    j.rem_shape[j.nrem] = x->shape[d];
    j.rem_stride[j.nrem] = x->strides[d];
    j.nrem++;
  }
  j.out = array_ptr(out);
  j.out_len = out->shape[p->axis];
  j.inner = 1;
  for (int d = p->axis + 1; d < out->ndim; d++) j.inner *= out->shape[d];
  int64_t rows = out->size / j.out_len;
  /* ~32K points of work per task; a plan's cost grows like n log n. */
  int64_t grain = 32768 / (p->n + 1);
  parallel_for(rows, grain < 1 ? 1 : grain, fft_rows, &j);
  fft_plan_release(j.plan);
  if (j.oom) return set_error(MX_ERR_OOM, "fft: out of memory for n=%lld", (long long)p->n);
  return MX_OK;
}
