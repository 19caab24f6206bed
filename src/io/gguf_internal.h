/* gguf_internal.h — what the GGUF writer needs from the reader. */
#ifndef MLXC_GGUF_INTERNAL_H
#define MLXC_GGUF_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>

#include "mlxc/gguf.h"

/* The bytes of key i's value as stored in the file: the u32 type tag then
 * the value (so a writer can copy nested arrays verbatim). */
bool gguf_kv_raw(const mx_gguf *g, int64_t i, const unsigned char **bytes, size_t *len);
/* Bytes of one fixed-size value of type t; 0 for strings and arrays. */
size_t gguf_scalar_size(mx_gguf_type t);
#endif
