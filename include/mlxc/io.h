/* mlxc/io.h — reading and writing arrays in files.
 *
 * NumPy .npy (format 1.0-3.0, little- or big-endian, C or Fortran order) for
 * every mlxc dtype NumPy also has (bool, ints, f16, f32, f64, c64). Input
 * files are untrusted: header length, shape and data size are checked against
 * the file and give MX_ERR_FORMAT with a message naming the file.
 */
#ifndef MLXC_IO_H
#define MLXC_IO_H

#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads a .npy file into a new evaluated array. */
mx_array mx_load_npy(const char *path);
/* Parses .npy bytes held in memory (`name` is used in error messages). */
mx_array mx_load_npy_bytes(const void *bytes, size_t size, const char *name);
/* Writes a .npy file (version 1.0, little-endian, C order); atomic: the
 * data goes to a temporary file renamed into place. bfloat16 is refused
 * (NumPy has no such dtype). */
mx_status mx_save_npy(const char *path, mx_array a);

/* ---- .npz archives (zip of .npy members; stored or deflated) ----
 * The archive is mapped read-only and its zip directory validated at open;
 * members are decoded on mx_npz_get (a new evaluated array each time). Member
 * names exclude the ".npy" suffix. Non-.npy members are ignored, as
 * numpy.load does. */
typedef struct mx_npz mx_npz;
mx_npz *mx_npz_open(const char *path);
mx_npz *mx_npz_open_memory(const void *bytes, size_t size, const char *name);
void mx_npz_close(mx_npz *z);
int64_t mx_npz_count(const mx_npz *z);
const char *mx_npz_name(const mx_npz *z, int64_t i);
int64_t mx_npz_find(const mx_npz *z, const char *name);
mx_array mx_npz_get(mx_npz *z, int64_t i);
/* Writes an uncompressed .npz (as np.savez), atomically. */
mx_status mx_save_npz(const char *path, const char *const *names, const mx_array *arrays, size_t n);

#ifdef __cplusplus
}
#endif
#endif
