/* mlxc/random.h — MLX's counter-based random numbers.
 *
 * A key is a uint32 array of shape (2); values are threefry-2x32 hashes of
 * the key and a counter, exactly as MLX, so the same key gives the same
 * numbers as MLX on every backend. Every function taking `key` accepts NULL:
 * then the next key of the global sequence (seeded by mx_random_seed) is used.
 * Thread safety: the global sequence is locked; explicit keys need no lock.
 */
#ifndef MLXC_RANDOM_H
#define MLXC_RANDOM_H

#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

void mx_random_seed(uint64_t seed);
mx_array mx_random_key(uint64_t seed);
/* num keys, shape (num, 2). */
mx_array mx_random_split(mx_array key, int32_t num);
/* Two keys of shape (2). */
mx_status mx_random_split2(mx_array key, mx_array *first, mx_array *second);
/* Raw bits: width 1, 2 or 4 bytes -> uint8 / uint16 / uint32. */
mx_array mx_random_bits(const int64_t *shape, int ndim, int width, mx_array key);
/* Uniform in [low, high) for a floating dtype. */
mx_array mx_random_uniform(double low, double high, const int64_t *shape, int ndim,
                           mx_dtype dtype, mx_array key);
mx_array mx_random_normal(const int64_t *shape, int ndim, mx_dtype dtype, double loc,
                          double scale, mx_array key);
mx_array mx_random_truncated_normal(double lower, double upper, const int64_t *shape,
                                    int ndim, mx_dtype dtype, mx_array key);
/* Integers in [low, high). */
mx_array mx_random_randint(int64_t low, int64_t high, const int64_t *shape, int ndim,
                           mx_dtype dtype, mx_array key);
/* bool with P(true) = p (p broadcast to shape; shape NULL: p's shape). */
mx_array mx_random_bernoulli(mx_array p, const int64_t *shape, int ndim, mx_array key);
/* Samples indices from unnormalized log-probabilities along `axis`.
 * num_samples > 0 appends a samples axis; 0 draws one per distribution. */
mx_array mx_random_categorical(mx_array logits, int axis, int64_t num_samples,
                               mx_array key);
mx_array mx_random_gumbel(const int64_t *shape, int ndim, mx_dtype dtype, mx_array key);
/* A random permutation of arange(n), or of `a` along axis. */
mx_array mx_random_permutation(int64_t n, mx_array key);
mx_array mx_random_permutation_array(mx_array a, int axis, mx_array key);

#ifdef __cplusplus
}
#endif
#endif
