/* mlxc/array.h — the lazy, reference-counted N-d array.
 *
 * Ownership: every function that returns an mx_array returns a new reference
 * that the caller owns and drops with mx_array_free (or leaves to the
 * enclosing scope, below). Array arguments are borrowed. NULL is returned on
 * failure with the thread's last error set (mlxc/error.h); a NULL argument
 * makes a function return NULL (or MX_ERR_NULL_INPUT) and keep the first error.
 *
 * Laziness: ops compute the result's shape and dtype at once and record a
 * graph node; nothing is computed until mx_eval / mx_async_eval, or until data
 * is read (mx_array_data, mx_array_item_*), which evaluates first.
 *
 * Scopes: arrays returned while a scope is open on this thread belong to that
 * scope and are freed by mx_scope_end unless moved out with mx_array_keep.
 * Freeing a scope-owned array yourself is allowed (the scope forgets it).
 *
 * Thread safety: arrays may be shared between threads for reading and as op
 * inputs; evaluation is serialized internally. Scopes are per thread.
 */
#ifndef MLXC_ARRAY_H
#define MLXC_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "dtype.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arrays have at most this many dimensions. */
#define MX_MAX_NDIM 16

typedef struct mx_array_impl *mx_array;

/* ---- creation from host data ---- */

/* Copies `data` (row-major, dtype elements, product(shape) of them). */
mx_array mx_array_from_data(const void *data, const int64_t *shape, int ndim,
                            mx_dtype dtype);
/* Borrows `data` without copying (e.g. mmapped weights); `release(ctx)` is
 * called once when the last array using the memory is gone (release may be
 * NULL). The memory must stay valid and unchanged until then. */
mx_array mx_array_from_borrowed(void *data, const int64_t *shape, int ndim,
                                mx_dtype dtype, void (*release)(void *ctx),
                                void *ctx);
/* 0-d arrays. `mx_array_scalar` converts `value` to `dtype`. */
mx_array mx_array_scalar(double value, mx_dtype dtype);
mx_array mx_array_from_float(float value); /* float32 */
mx_array mx_array_from_int(int32_t value); /* int32, as MLX's array(1) */
mx_array mx_array_from_bool(bool value);
mx_array mx_array_from_complex(float real, float imag);

/* ---- references ---- */

/* Adds a reference and returns `a` (which must then be freed twice). */
mx_array mx_array_retain(mx_array a);
/* Drops a reference; NULL is ignored. */
void mx_array_free(mx_array a);

/* ---- queries (never evaluate) ---- */

int mx_array_ndim(mx_array a);
const int64_t *mx_array_shape(mx_array a); /* valid while `a` lives */
int64_t mx_array_dim(mx_array a, int axis); /* negative axis counts from the end */
int64_t mx_array_size(mx_array a);
size_t mx_array_nbytes(mx_array a);
mx_dtype mx_array_dtype(mx_array a);
size_t mx_array_itemsize(mx_array a);
bool mx_array_is_evaluated(mx_array a);
/* Element strides of an evaluated array (row-major once read with
 * mx_array_data); NULL if not evaluated. */
const int64_t *mx_array_strides(mx_array a);

/* ---- evaluation ---- */

/* Computes the arrays and everything they depend on. Each node of the graph
 * runs once, however many consumers it has; evaluated nodes release their
 * inputs. Evaluating an evaluated array does nothing. */
mx_status mx_eval(const mx_array *arrays, size_t n);
mx_status mx_eval1(mx_array a);
/* Starts evaluation on a background thread and returns at once; reading data
 * or mx_array_wait waits for it. */
mx_status mx_async_eval(const mx_array *arrays, size_t n);
/* Waits until `a` is evaluated (evaluating it if no one has started). */
mx_status mx_array_wait(mx_array a);

/* ---- data access (evaluates first) ---- */

/* Pointer to the elements in row-major order. A strided view is first made
 * contiguous. Valid while `a` lives. NULL on failure. */
const void *mx_array_data(mx_array a);
/* The single element of a size-1 array, converted to the C type. */
mx_status mx_array_item_double(mx_array a, double *out);
mx_status mx_array_item_int64(mx_array a, int64_t *out);
mx_status mx_array_item_float32(mx_array a, float *out);
mx_status mx_array_item_bool(mx_array a, bool *out);
/* Copies all elements, converted to `dtype`, into `dst` (capacity in bytes). */
mx_status mx_array_copy_to(mx_array a, void *dst, size_t capacity, mx_dtype dtype);

/* ---- scopes ---- */

/* Opens a scope on this thread. Scopes nest. */
mx_status mx_scope_begin(void);
/* Frees every array the scope still owns and closes it. */
mx_status mx_scope_end(void);
/* Moves `a` out of its scope into the enclosing one (or to the caller when
 * there is none). Returns `a`. */
mx_array mx_array_keep(mx_array a);

/* ---- printing ---- */

/* Writes a readable form ("array([[1, 2],\n       [3, 4]], dtype=int32)")
 * into buf (always NUL-terminated). Returns the length it needed, or a
 * negative status. */
int64_t mx_array_format(mx_array a, char *buf, size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
