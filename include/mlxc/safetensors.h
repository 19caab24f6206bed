/* mlxc/safetensors.h — safetensors files and sharded model folders.
 *
 * mx_safetensors_open maps a file read-only and validates its header before
 * returning: header length, JSON syntax, every tensor's dtype, shape and
 * data_offsets (inside the data section, size = elements x dtype size, no
 * overlaps or holes, as the reference implementation requires), UTF-8 names,
 * no duplicates, and string-only __metadata__. Malformed files give NULL with
 * MX_ERR_FORMAT and a message naming the file and the tensor.
 *
 * Tensors come back as arrays borrowing the mapping (no copy); they keep it
 * alive after the file is closed. F8 types (F8_E4M3, F8_E5M2, F8_E8M0) come
 * back as uint8 bytes; mx_safetensors_dtype_name gives the original name.
 *
 * mx_weights reads a whole model folder: a single model.safetensors, the
 * shards listed by model.safetensors.index.json, or every *.safetensors in the
 * folder, and finds each tensor by name across shards.
 *
 * Thread safety: readers are read-only after open.
 */
#ifndef MLXC_SAFETENSORS_H
#define MLXC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_safetensors mx_safetensors;

mx_safetensors *mx_safetensors_open(const char *path);
/* Bytes are not copied: they must outlive the reader and its arrays. */
mx_safetensors *mx_safetensors_open_memory(const void *bytes, size_t size, const char *name);
void mx_safetensors_close(mx_safetensors *s);

int64_t mx_safetensors_count(const mx_safetensors *s);
/* Tensor index by name, or -1. */
int64_t mx_safetensors_find(const mx_safetensors *s, const char *name);
const char *mx_safetensors_name(const mx_safetensors *s, int64_t i);
mx_dtype mx_safetensors_dtype(const mx_safetensors *s, int64_t i);
/* The dtype as written in the file ("BF16", "F8_E4M3"). */
const char *mx_safetensors_dtype_name(const mx_safetensors *s, int64_t i);
/* Writes up to MX_MAX_NDIM dims; returns ndim (-1 on a bad index). */
int mx_safetensors_shape(const mx_safetensors *s, int64_t i, int64_t *shape);
/* Byte offset in the file, and byte size. */
uint64_t mx_safetensors_offset(const mx_safetensors *s, int64_t i);
uint64_t mx_safetensors_nbytes(const mx_safetensors *s, int64_t i);
mx_array mx_safetensors_get(mx_safetensors *s, int64_t i);

/* __metadata__ entries (strings), in file order. */
int64_t mx_safetensors_metadata_count(const mx_safetensors *s);
const char *mx_safetensors_metadata_key(const mx_safetensors *s, int64_t i);
const char *mx_safetensors_metadata_value(const mx_safetensors *s, int64_t i);
/* Value of a metadata key, or NULL. */
const char *mx_safetensors_metadata_get(const mx_safetensors *s, const char *key);

/* Saves arrays (evaluating them) under names, with metadata; writes
 * {"format": "mlx"} unless the caller gives a "format" key. Atomic: written
 * to a temporary file and renamed into place. bfloat16 is saved as BF16;
 * every mlxc dtype has a safetensors name (complex64 as C64). */
mx_status mx_save_safetensors(const char *path, const char *const *names, const mx_array *arrays,
                              size_t n, const char *const *meta_keys,
                              const char *const *meta_values, size_t nmeta);

/* ---- model folders ---- */
typedef struct mx_weights mx_weights;
/* path: a folder or a single .safetensors file. */
mx_weights *mx_weights_open(const char *path);
void mx_weights_close(mx_weights *w);
int64_t mx_weights_count(const mx_weights *w);
const char *mx_weights_name(const mx_weights *w, int64_t i);
/* A tensor by name (borrowing its shard's mapping), or NULL with
 * MX_ERR_INVALID_ARG naming the missing tensor. */
mx_array mx_weights_get(mx_weights *w, const char *name);

#ifdef __cplusplus
}
#endif
#endif
