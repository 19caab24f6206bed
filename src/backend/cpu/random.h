/* random.h — CPU kernels of the random ops: threefry-2x32 bit generation
 * laid out exactly as MLX's RandomBits, fused with MLX's maps from bits to
 * each distribution, plus categorical and permutation. */
#ifndef MLXC_CPU_RANDOM_H
#define MLXC_CPU_RANDOM_H

#include "../../core/core.h"

/* One threefry-2x32 hash (20 rounds) of counter (c0, c1) under key (k0, k1). */
void threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t *o0, uint32_t *o1);

/* MLX's float32 erfinv and exp approximations (mlx/backend/cpu/simd/math.h),
 * reproduced operation by operation so results match bit for bit. */
float mlx_erfinv_f32(float a);
float mlx_exp_f32(float x);
float mlx_erf_f32(float x);

typedef enum rand_kind {
  RK_BITS,
  RK_UNIFORM,
  RK_NORMAL,
  RK_TRUNC_NORMAL,
  RK_RANDINT,
  RK_BERNOULLI,
  RK_GUMBEL,
} rand_kind;

/* Everything a fused sampler needs; values that MLX rounds to the output
 * dtype are rounded by the front end already (stored exactly in doubles). */
typedef struct rand_params {
  int kind;
  int has_loc, has_scale;
  mx_dtype dtype; /* sampled dtype (output, except bernoulli: p's compute dtype) */
  /* uniform (also truncated_normal's inner uniform, randint's float one) */
  double lo, range, upper;
  /* normal / truncated_normal: scale (sqrt(2) * scale), loc; bounds */
  double scale, loc, lower_t, upper_t;
  /* randint: clamp bounds as the output dtype's bit patterns */
  int64_t ilow, ihigh1;
} rand_params;

/* in[0]: key (uint32, 2 elements, any strides); bernoulli: in[1] = p,
 * already broadcast to the output shape and cast to float32/float64. */
mx_status cpu_random(mx_array out, mx_array const *in, int nin, const void *params);

typedef struct categorical_params {
  int offset;            /* the sampled axis within the gumbel shape */
  int ndim;              /* gumbel shape rank */
  int64_t gshape[MX_MAX_NDIM];
  int inverse_cdf;       /* single distribution: MLX's inverse-CDF path */
} categorical_params;

/* in[0]: key, in[1]: logits (float32/float64; for the gumbel path shaped to
 * broadcast against gshape, for the inverse-CDF path 1-D). Output uint32. */
mx_status cpu_categorical(mx_array out, mx_array const *in, int nin, const void *params);

/* in[0]: key. Output uint32 (n): the stable argsort of n random words. */
mx_status cpu_permutation(mx_array out, mx_array const *in, int nin, const void *params);

typedef struct permute_axis_params {
  int axis;
} permute_axis_params;

/* in[0]: the array, in[1]: uint32 permutation of its `axis`. */
mx_status cpu_permute_axis(mx_array out, mx_array const *in, int nin, const void *params);

#endif
