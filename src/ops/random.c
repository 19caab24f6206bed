/* random.c — front ends of mlxc/random.h: keys, the global key sequence,
 * and the samplers. Each sampler records one node whose kernel hashes the
 * key and maps the bits as MLX's composed ops would (see
 * src/backend/cpu/random.c), so results match MLX bit for bit. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../backend/cpu/random.h"
#include "../core/half.h"
#include "ops_common.h"
#include "mlxc/random.h"

static const mx_primitive prim_bits = {"random_bits", cpu_random, NULL};
static const mx_primitive prim_sample = {"random_sample", cpu_random, NULL};
static const mx_primitive prim_categorical = {"random_categorical", cpu_categorical, NULL};
static const mx_primitive prim_permutation = {"random_permutation", cpu_permutation, NULL};
static const mx_primitive prim_permute_axis = {"random_permute_axis", cpu_permute_axis, NULL};

/* ------------------------------------------------------------ keys */

static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;
static bool seq_seeded;
static uint32_t seq_key[2];

static void key_words(uint64_t seed, uint32_t *k) {
  k[0] = (uint32_t)(seed >> 32);
  k[1] = (uint32_t)seed;
}

void mx_random_seed(uint64_t seed) {
  pthread_mutex_lock(&seq_lock);
  key_words(seed, seq_key);
  seq_seeded = true;
  pthread_mutex_unlock(&seq_lock);
}

mx_array mx_random_key(uint64_t seed) {
  uint32_t k[2];
  key_words(seed, k);
  int64_t two = 2;
  return mx_array_from_data(k, &two, 1, MX_UINT32);
}

/* The next key of the global sequence: split the state into (state, key)
 * as MLX's KeySequence::next. split(k) is bits((2, 2), k): words 0, 2 come
 * from hash(0, 2) and 1, 3 from hash(1, 3); row 0 is the new state. */
static mx_array next_key(void) {
  uint32_t k[2], w[4];
  pthread_mutex_lock(&seq_lock);
  if (!seq_seeded) { /* MLX seeds from the clock */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    key_words((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, seq_key);
    seq_seeded = true;
  }
  threefry2x32(seq_key[0], seq_key[1], 0, 2, &w[0], &w[2]);
  threefry2x32(seq_key[0], seq_key[1], 1, 3, &w[1], &w[3]);
  seq_key[0] = w[0];
  seq_key[1] = w[1];
  k[0] = w[2];
  k[1] = w[3];
  pthread_mutex_unlock(&seq_lock);
  int64_t two = 2;
  return mx_array_from_data(k, &two, 1, MX_UINT32);
}

/* A new reference to the key to use (the given one, or the next global
 * one), or NULL with an error naming `op`. */
static mx_array take_key(const char *op, mx_array key) {
  if (!key) return next_key();
  if (key->dtype != MX_UINT32) {
    set_error(MX_ERR_DTYPE, "%s: expected a key of dtype uint32, got %s", op, mx_dtype_name(key->dtype));
    return NULL;
  }
  if (key->ndim != 1 || key->shape[0] != 2) {
    char s[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "%s: expected a key of shape (2), got %s", op,
              fmt_shape(s, sizeof s, key->shape, key->ndim));
    return NULL;
  }
  return mx_array_retain(key);
}

/* Sizes beyond 2^40 would need more than MLX's 32-bit counters anyway. */
static bool check_shape(const char *op, const int64_t *shape, int ndim) {
  return shape_check(op, shape, ndim, (int64_t)1 << 40);
}

/* Records a sampler node over `key` (NULL: global) and optional extra input. */
static mx_array sample_node(const char *op, const mx_primitive *prim, const int64_t *shape,
                            int ndim, mx_dtype out_dtype, const rand_params *p, mx_array key,
                            mx_array extra) {
  mx_array k = take_key(op, key);
  if (!k) return NULL;
  mx_array ins[2] = {k, extra};
  mx_array out = node_new(prim, out_dtype, shape, ndim, ins, extra ? 2 : 1, p, sizeof *p);
  mx_array_free(k);
  return out;
}

mx_array mx_random_bits(const int64_t *shape, int ndim, int width, mx_array key) {
  if (!check_shape("bits", shape, ndim)) return NULL;
  mx_dtype dt = width == 4 ? MX_UINT32 : width == 2 ? MX_UINT16 : width == 1 ? MX_UINT8 : MX_DTYPE_COUNT;
  if (dt == MX_DTYPE_COUNT) {
    set_error(MX_ERR_INVALID_ARG, "bits: width must be 1, 2 or 4 bytes, got %d", width);
    return NULL;
  }
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_BITS;
  p.dtype = dt;
  return sample_node("bits", &prim_bits, shape, ndim, dt, &p, key, NULL);
}

mx_array mx_random_split(mx_array key, int32_t num) {
  if (num < 0) {
    set_error(MX_ERR_INVALID_ARG, "split: number of keys %d must be non-negative", (int)num);
    return NULL;
  }
  int64_t shape[2] = {num, 2};
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_BITS;
  p.dtype = MX_UINT32;
  return sample_node("split", &prim_bits, shape, 2, MX_UINT32, &p, key, NULL);
}

mx_status mx_random_split2(mx_array key, mx_array *first, mx_array *second) {
  if (!first || !second) return set_error(MX_ERR_INVALID_ARG, "split: NULL output pointer");
  mx_array keys = mx_random_split(key, 2);
  if (!keys) return mx_last_error_code();
  int64_t two = 2, one = 1;
  mx_array a = mx_as_strided(keys, &two, 1, &one, 0);
  mx_array b = a ? mx_as_strided(keys, &two, 1, &one, 2) : NULL;
  mx_array_free(keys);
  if (!b) {
    mx_array_free(a);
    return mx_last_error_code();
  }
  *first = a;
  *second = b;
  return MX_OK;
}

/* ------------------------------------------------------------ float samplers */

/* x rounded to a float dtype (held exactly in a double). */
static double round_dtype(double x, mx_dtype d) {
  switch (d) {
  case MX_FLOAT16: return f16_to_f32(f32_to_f16((float)x));
  case MX_BFLOAT16: return bf16_to_f32(f32_to_bf16((float)x));
  case MX_FLOAT32: return (float)x;
  default: return x;
  }
}

/* a - b, a * b and a / b as MLX computes them in dtype d: in float32 for
 * the half types (then rounded), natively for float32 / float64. */
static double sub_d(double a, double b, mx_dtype d) {
  return d == MX_FLOAT64 ? a - b : round_dtype((double)((float)a - (float)b), d);
}
static double mul_d(double a, double b, mx_dtype d) {
  return d == MX_FLOAT64 ? a * b : round_dtype((double)((float)a * (float)b), d);
}
static double div_d(double a, double b, mx_dtype d) {
  return d == MX_FLOAT64 ? a / b : round_dtype((double)((float)a / (float)b), d);
}

/* The largest value below 1 of a half type, as MLX's below_one, or of f32. */
static double below_one(mx_dtype d) {
  if (d == MX_FLOAT16) return f16_to_f32(0x3bff);
  if (d == MX_BFLOAT16) return bf16_to_f32(0x3f7f);
  return nextafterf(1.0f, 0.0f);
}

/* MLX's uniform samples float16, bfloat16 and float32 only (float64 has
 * no CPU path there). */
static bool uniform_dtype(const char *op, mx_dtype d) {
  if (d == MX_FLOAT16 || d == MX_BFLOAT16 || d == MX_FLOAT32) return true;
  set_error(MX_ERR_DTYPE, "%s: dtype %s is not supported (float16, bfloat16 or float32)", op,
            mx_dtype_is_valid(d) ? mx_dtype_name(d) : "invalid");
  return false;
}

/* Scalars reach MLX as float32 arrays (Python floats, mlx-c's float
 * arguments) before being cast to the sampling dtype. */
static double scalar_in(double v, mx_dtype d) { return round_dtype((float)v, d); }

mx_array mx_random_uniform(double low, double high, const int64_t *shape, int ndim, mx_dtype dtype,
                           mx_array key) {
  if (!uniform_dtype("uniform", dtype) || !check_shape("uniform", shape, ndim)) return NULL;
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_UNIFORM;
  p.dtype = dtype;
  p.lo = scalar_in(low, dtype);
  p.range = sub_d(scalar_in(high, dtype), p.lo, dtype);
  p.upper = below_one(dtype);
  return sample_node("uniform", &prim_sample, shape, ndim, dtype, &p, key, NULL);
}

mx_array mx_random_normal(const int64_t *shape, int ndim, mx_dtype dtype, double loc, double scale,
                          mx_array key) {
  if (!(dtype == MX_FLOAT16 || dtype == MX_BFLOAT16 || dtype == MX_FLOAT32 ||
        dtype == MX_FLOAT64 || dtype == MX_COMPLEX64)) {
    set_error(MX_ERR_DTYPE, "normal: dtype %s is not supported (a floating type or complex64)",
              mx_dtype_is_valid(dtype) ? mx_dtype_name(dtype) : "invalid");
    return NULL;
  }
  if (!check_shape("normal", shape, ndim)) return NULL;
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_NORMAL;
  p.dtype = dtype;
  /* uniform(nextafter(-1, 0), 1) in float32: its range rounds to 2. */
  float lo = nextafterf(-1.0f, 0.0f);
  p.lo = lo;
  p.range = 1.0f - lo;
  p.upper = below_one(MX_FLOAT32);
  /* As mlx-c: loc/scale are floats, left out when 0 / 1. */
  float locf = (float)loc, scalef = (float)scale;
  p.has_loc = locf != 0;
  p.has_scale = scalef != 1;
  if (dtype == MX_COMPLEX64) {
    p.scale = scalef;
    p.loc = locf;
  } else {
    double s2 = round_dtype(sqrt(2.0), dtype);
    p.scale = p.has_scale ? mul_d(s2, round_dtype(scalef, dtype), dtype) : s2;
    p.loc = round_dtype(locf, dtype);
  }
  return sample_node("normal", &prim_sample, shape, ndim, dtype, &p, key, NULL);
}

mx_array mx_random_truncated_normal(double lower, double upper, const int64_t *shape, int ndim,
                                    mx_dtype dtype, mx_array key) {
  if (!uniform_dtype("truncated_normal", dtype) || !check_shape("truncated_normal", shape, ndim))
    return NULL;
  if (isnan(lower) || isnan(upper)) {
    set_error(MX_ERR_INVALID_ARG, "truncated_normal: bounds must not be NaN");
    return NULL;
  }
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_TRUNC_NORMAL;
  p.dtype = dtype;
  double s2 = round_dtype(sqrt(2.0), dtype);
  p.lower_t = scalar_in(lower, dtype);
  p.upper_t = scalar_in(upper, dtype);
  /* erf(bound / sqrt2) in the dtype bounds the inner uniform. */
  double a = round_dtype(mlx_erf_f32((float)div_d(p.lower_t, s2, dtype)), dtype);
  double b = round_dtype(mlx_erf_f32((float)div_d(p.upper_t, s2, dtype)), dtype);
  p.lo = a;
  p.range = sub_d(b, a, dtype);
  p.upper = below_one(dtype);
  p.scale = s2;
  return sample_node("truncated_normal", &prim_sample, shape, ndim, dtype, &p, key, NULL);
}

mx_array mx_random_gumbel(const int64_t *shape, int ndim, mx_dtype dtype, mx_array key) {
  if (!uniform_dtype("gumbel", dtype) || !check_shape("gumbel", shape, ndim)) return NULL;
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_GUMBEL;
  p.dtype = dtype;
  p.upper = below_one(dtype);
  return sample_node("gumbel", &prim_sample, shape, ndim, dtype, &p, key, NULL);
}

/* An int64 as the integer dtype d holds it (wrapping), sign/zero extended. */
static int64_t as_dtype_int(int64_t v, mx_dtype d) {
  switch (d) {
  case MX_BOOL: return v != 0;
  case MX_UINT8: return (uint8_t)v;
  case MX_UINT16: return (uint16_t)v;
  case MX_UINT32: return (uint32_t)v;
  case MX_INT8: return (int8_t)v;
  case MX_INT16: return (int16_t)v;
  case MX_INT32: return (int32_t)v;
  default: return v;
  }
}

mx_array mx_random_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, mx_dtype dtype,
                           mx_array key) {
  if (!(dtype == MX_BOOL || mx_dtype_is_integer(dtype))) {
    set_error(MX_ERR_DTYPE, "randint: dtype %s is not supported (integer types and bool)",
              mx_dtype_is_valid(dtype) ? mx_dtype_name(dtype) : "invalid");
    return NULL;
  }
  if (!check_shape("randint", shape, ndim)) return NULL;
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_RANDINT;
  p.dtype = dtype;
  /* uniform(low, high) in float32 (MLX casts the integer bounds). An empty
   * range (low >= high) gives `low` everywhere, as MLX. */
  p.lo = (float)low;
  p.range = (float)((float)high - (float)low);
  p.upper = below_one(MX_FLOAT32);
  p.ilow = as_dtype_int(low, dtype);
  p.ihigh1 = as_dtype_int((int64_t)((uint64_t)high - 1u), dtype);
  return sample_node("randint", &prim_sample, shape, ndim, dtype, &p, key, NULL);
}

mx_array mx_random_bernoulli(mx_array prob, const int64_t *shape, int ndim, mx_array key) {
  CHECK_INPUT("bernoulli", prob);
  if (!mx_dtype_is_floating(prob->dtype)) {
    set_error(MX_ERR_DTYPE, "bernoulli: probability p must have a floating dtype, got %s",
              mx_dtype_name(prob->dtype));
    return NULL;
  }
  if (!shape) {
    shape = prob->shape;
    ndim = prob->ndim;
  }
  if (!check_shape("bernoulli", shape, ndim)) return NULL;
  bool ok = prob->ndim <= ndim;
  for (int i = 0; ok && i < prob->ndim; i++) {
    int64_t dp = prob->shape[i], ds = shape[ndim - prob->ndim + i];
    ok = dp == ds || dp == 1;
  }
  if (!ok) {
    char s1[SHAPE_STR_CAP], s2[SHAPE_STR_CAP];
    set_error(MX_ERR_SHAPE, "bernoulli: shape of p %s is not broadcastable to shape %s",
              fmt_shape(s1, sizeof s1, prob->shape, prob->ndim), fmt_shape(s2, sizeof s2, shape, ndim));
    return NULL;
  }
  rand_params p;
  memset(&p, 0, sizeof p);
  p.kind = RK_BERNOULLI;
  /* bits < p * nextafter(2^32, inf), compared in promote(p, float32). */
  p.dtype = prob->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
  p.upper = nextafterf(4294967296.0f, INFINITY);
  mx_array c = cast_to(prob, (mx_dtype)p.dtype);
  mx_array b = c ? mx_broadcast_to(c, shape, ndim) : NULL;
  mx_array_free(c);
  if (!b) return NULL;
  mx_array out = sample_node("bernoulli", &prim_sample, shape, ndim, MX_BOOL, &p, key, b);
  mx_array_free(b);
  return out;
}

/* ------------------------------------------------------------ categorical */

mx_array mx_random_categorical(mx_array logits, int axis, int64_t num_samples, mx_array key) {
  CHECK_INPUT("categorical", logits);
  if (logits->ndim == 0) {
    set_error(MX_ERR_SHAPE, "categorical: logits must have at least one dimension");
    return NULL;
  }
  int ax;
  if (normalize_axis("categorical", axis, logits->ndim, &ax) < 0) return NULL;
  if (mx_dtype_is_complex(logits->dtype)) {
    set_error(MX_ERR_DTYPE, "categorical: logits must be real, got %s", mx_dtype_name(logits->dtype));
    return NULL;
  }
  if (num_samples < 0) {
    set_error(MX_ERR_INVALID_ARG, "categorical: num_samples %lld must be non-negative",
              (long long)num_samples);
    return NULL;
  }
  /* Logits as MLX sees them: with num_samples, a trailing 1 is appended;
   * the sample shape is that with the axis removed (its last dim set to
   * num_samples). */
  int64_t lshape[MX_MAX_NDIM + 1], sshape[MX_MAX_NDIM];
  int lnd = logits->ndim;
  memcpy(lshape, logits->shape, (size_t)lnd * sizeof *lshape);
  if (num_samples > 0) {
    if (lnd == MX_MAX_NDIM) {
      set_error(MX_ERR_SHAPE, "categorical: logits have too many dimensions to add a samples axis");
      return NULL;
    }
    lshape[lnd++] = 1;
  }
  int snd = 0;
  for (int d = 0; d < lnd; d++)
    if (d != ax) sshape[snd++] = lshape[d];
  if (num_samples > 0) sshape[snd - 1] = num_samples;
  int64_t n = logits->shape[ax];
  if (!check_shape("categorical", sshape, snd)) return NULL;
  int64_t ssize = shape_size(sshape, snd);
  if (n == 0 && ssize > 0) {
    set_error(MX_ERR_SHAPE, "categorical: cannot sample from an empty axis %d of logits", axis);
    return NULL;
  }
  mx_dtype cd = logits->dtype == MX_FLOAT64 ? MX_FLOAT64 : MX_FLOAT32;
  categorical_params cp;
  memset(&cp, 0, sizeof cp);
  cp.inverse_cdf = n > 0 && logits->size == n && snd > 0;
  mx_array x = cast_to(logits, cd), lx = NULL;
  if (!x) return NULL;
  if (cp.inverse_cdf) {
    lx = mx_reshape(x, &n, 1);
  } else {
    cp.offset = ax + snd - lnd + 1;
    cp.ndim = snd + 1;
    if (cp.ndim > MX_MAX_NDIM) {
      mx_array_free(x);
      set_error(MX_ERR_SHAPE, "categorical: sampling needs more than %d dimensions", MX_MAX_NDIM);
      return NULL;
    }
    for (int d = 0, s = 0; d < cp.ndim; d++) cp.gshape[d] = d == cp.offset ? n : sshape[s++];
    if (!check_shape("categorical", cp.gshape, cp.ndim)) {
      mx_array_free(x);
      return NULL;
    }
    lx = mx_reshape(x, lshape, lnd);
  }
  mx_array_free(x);
  if (!lx) return NULL;
  mx_array k = take_key("categorical", key);
  mx_array out = NULL;
  if (k) {
    mx_array ins[2] = {k, lx};
    out = node_new(&prim_categorical, MX_UINT32, sshape, snd, ins, 2, &cp, sizeof cp);
  }
  mx_array_free(k);
  mx_array_free(lx);
  return out;
}

/* ------------------------------------------------------------ permutation */

mx_array mx_random_permutation(int64_t n, mx_array key) {
  if (n < 0 || n > INT32_MAX) {
    set_error(MX_ERR_INVALID_ARG, "permutation: n = %lld must be in [0, 2^31)", (long long)n);
    return NULL;
  }
  mx_array k = take_key("permutation", key);
  if (!k) return NULL;
  mx_array out = node_new(&prim_permutation, MX_UINT32, &n, 1, &k, 1, NULL, 0);
  mx_array_free(k);
  return out;
}

mx_array mx_random_permutation_array(mx_array a, int axis, mx_array key) {
  CHECK_INPUT("permutation", a);
  if (a->ndim == 0) {
    set_error(MX_ERR_SHAPE, "permutation: cannot permute a 0-d array");
    return NULL;
  }
  int ax;
  if (normalize_axis("permutation", axis, a->ndim, &ax) < 0) return NULL;
  mx_array perm = mx_random_permutation(a->shape[ax], key);
  if (!perm) return NULL;
  permute_axis_params p = {ax};
  mx_array ins[2] = {a, perm};
  mx_array out = node_new(&prim_permute_axis, a->dtype, a->shape, a->ndim, ins, 2, &p, sizeof p);
  mx_array_free(perm);
  return out;
}
