/* mlxc/gguf.h — reading GGUF files (llama.cpp's model format), v2 and v3.
 *
 * mx_gguf_open maps the file read-only and validates it completely before
 * returning: header, every metadata key and value (nested arrays included),
 * every tensor info (name, dims, type, offset), alignment, and that each
 * tensor's bytes lie inside the file without overlapping another. Files are
 * untrusted: a malformed one gives NULL with MX_ERR_FORMAT and a message
 * naming the file, the byte offset and what was wrong.
 *
 * Ownership: the mx_gguf owns the mapping; strings and pointers it returns
 * stay valid until mx_gguf_close. Arrays from mx_gguf_tensor borrow the
 * mapping and keep it alive on their own, so the file may be closed while
 * they live. Thread safety: a mx_gguf is read-only after open; concurrent
 * reads are safe.
 */
#ifndef MLXC_GGUF_H
#define MLXC_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mx_gguf mx_gguf;

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum mx_gguf_type {
  MX_GGUF_UINT8 = 0,
  MX_GGUF_INT8 = 1,
  MX_GGUF_UINT16 = 2,
  MX_GGUF_INT16 = 3,
  MX_GGUF_UINT32 = 4,
  MX_GGUF_INT32 = 5,
  MX_GGUF_FLOAT32 = 6,
  MX_GGUF_BOOL = 7,
  MX_GGUF_STRING = 8,
  MX_GGUF_ARRAY = 9,
  MX_GGUF_UINT64 = 10,
  MX_GGUF_INT64 = 11,
  MX_GGUF_FLOAT64 = 12
} mx_gguf_type;

/* Tensor element types (ggml's numbering). */
typedef enum mx_ggml_type {
  MX_GGML_F32 = 0,
  MX_GGML_F16 = 1,
  MX_GGML_Q4_0 = 2,
  MX_GGML_Q4_1 = 3,
  MX_GGML_Q5_0 = 6,
  MX_GGML_Q5_1 = 7,
  MX_GGML_Q8_0 = 8,
  MX_GGML_Q8_1 = 9,
  MX_GGML_Q2_K = 10,
  MX_GGML_Q3_K = 11,
  MX_GGML_Q4_K = 12,
  MX_GGML_Q5_K = 13,
  MX_GGML_Q6_K = 14,
  MX_GGML_Q8_K = 15,
  MX_GGML_I8 = 24,
  MX_GGML_I16 = 25,
  MX_GGML_I32 = 26,
  MX_GGML_I64 = 27,
  MX_GGML_F64 = 28,
  MX_GGML_BF16 = 30
} mx_ggml_type;

mx_gguf *mx_gguf_open(const char *path);
/* Parses GGUF bytes in memory (not copied: they must outlive the mx_gguf and
 * its arrays). `name` is used in messages. */
mx_gguf *mx_gguf_open_memory(const void *bytes, size_t size, const char *name);
void mx_gguf_close(mx_gguf *g);

uint32_t mx_gguf_version(const mx_gguf *g);
uint64_t mx_gguf_alignment(const mx_gguf *g);
/* Byte offset of the tensor data section in the file. */
uint64_t mx_gguf_data_offset(const mx_gguf *g);

/* ---- metadata ---- */
int64_t mx_gguf_kv_count(const mx_gguf *g);
/* Index of a key, or -1. */
int64_t mx_gguf_find_key(const mx_gguf *g, const char *key);
const char *mx_gguf_key(const mx_gguf *g, int64_t i);
mx_gguf_type mx_gguf_kv_type(const mx_gguf *g, int64_t i);
/* Scalar values converted to the C type; a type mismatch (string as int,
 * negative to unsigned, ...) gives MX_ERR_INVALID_ARG. */
mx_status mx_gguf_get_int(const mx_gguf *g, int64_t i, int64_t *out);
mx_status mx_gguf_get_uint(const mx_gguf *g, int64_t i, uint64_t *out);
mx_status mx_gguf_get_float(const mx_gguf *g, int64_t i, double *out);
mx_status mx_gguf_get_bool(const mx_gguf *g, int64_t i, bool *out);
/* Strings are not NUL-terminated in the file: pointer + length. */
mx_status mx_gguf_get_string(const mx_gguf *g, int64_t i, const char **out, size_t *len);
/* Arrays: element type and count; nested arrays are allowed. */
mx_status mx_gguf_get_array(const mx_gguf *g, int64_t i, mx_gguf_type *elem_type, uint64_t *count);
/* Element j of an array of numbers or bools, converted. */
mx_status mx_gguf_get_array_int(const mx_gguf *g, int64_t i, uint64_t j, int64_t *out);
mx_status mx_gguf_get_array_float(const mx_gguf *g, int64_t i, uint64_t j, double *out);
/* Element j of an array of strings. */
mx_status mx_gguf_get_array_string(const mx_gguf *g, int64_t i, uint64_t j, const char **out,
                                   size_t *len);
/* Raw element data of an array of fixed-size numbers (little-endian, as in
 * the file), e.g. token scores; NULL for strings or nested arrays. */
const void *mx_gguf_get_array_data(const mx_gguf *g, int64_t i);

/* ---- tensors ---- */
int64_t mx_gguf_tensor_count(const mx_gguf *g);
int64_t mx_gguf_find_tensor(const mx_gguf *g, const char *name);
const char *mx_gguf_tensor_name(const mx_gguf *g, int64_t t);
mx_ggml_type mx_gguf_tensor_type(const mx_gguf *g, int64_t t);
/* Shape in mlxc's row-major order (GGUF stores the fastest dim first; this
 * reverses it). Returns ndim; dims written to shape[MX_MAX_NDIM]. */
int mx_gguf_tensor_shape(const mx_gguf *g, int64_t t, int64_t *shape);
/* Byte offset inside the file and byte size. */
uint64_t mx_gguf_tensor_offset(const mx_gguf *g, int64_t t);
uint64_t mx_gguf_tensor_nbytes(const mx_gguf *g, int64_t t);
/* The tensor as an array borrowing the mapping (no copy): F32, F16, BF16,
 * F64, I8..I64 map to the matching dtype and shape. Block-quantized types
 * come back as raw uint8 blocks of shape (rows, bytes per row) until the
 * quantization kernels read them. */
mx_array mx_gguf_tensor(mx_gguf *g, int64_t t);
/* Name of a ggml type ("q4_0"), "unknown" if not known. */
const char *mx_ggml_type_name(mx_ggml_type t);
/* Elements per block and bytes per block (1 and the element size for plain
 * types); false for an unknown type. */
bool mx_ggml_type_block(mx_ggml_type t, int64_t *block_elems, int64_t *block_bytes);


/* ---- writing ----
 * A writer collects metadata and tensors, then writes a GGUF v3 file
 * atomically (temporary file + rename). Keys keep the order they were first
 * set in (setting a key again replaces its value); tensors keep the order
 * they were added in, each aligned to general.alignment (default 32).
 * Copying every key and tensor of a file in order reproduces it byte for
 * byte. The writer holds references to the arrays it was given. */
typedef struct mx_gguf_writer mx_gguf_writer;
mx_gguf_writer *mx_gguf_writer_new(void);
void mx_gguf_writer_free(mx_gguf_writer *w);
mx_status mx_gguf_writer_set_uint32(mx_gguf_writer *w, const char *key, uint32_t v);
mx_status mx_gguf_writer_set_int32(mx_gguf_writer *w, const char *key, int32_t v);
mx_status mx_gguf_writer_set_uint64(mx_gguf_writer *w, const char *key, uint64_t v);
mx_status mx_gguf_writer_set_int64(mx_gguf_writer *w, const char *key, int64_t v);
mx_status mx_gguf_writer_set_float32(mx_gguf_writer *w, const char *key, float v);
mx_status mx_gguf_writer_set_float64(mx_gguf_writer *w, const char *key, double v);
mx_status mx_gguf_writer_set_bool(mx_gguf_writer *w, const char *key, bool v);
mx_status mx_gguf_writer_set_string(mx_gguf_writer *w, const char *key, const char *s, size_t len);
/* An array of fixed-size numbers (little-endian values of elem_type). */
mx_status mx_gguf_writer_set_array(mx_gguf_writer *w, const char *key, mx_gguf_type elem_type,
                                   const void *data, uint64_t count);
mx_status mx_gguf_writer_set_string_array(mx_gguf_writer *w, const char *key,
                                          const char *const *strs, const size_t *lens,
                                          uint64_t count);
/* Copies key i of a reader as it is (nested arrays included). */
mx_status mx_gguf_writer_copy_kv(mx_gguf_writer *w, const mx_gguf *src, int64_t i);
/* A tensor from an array of dtype f32, f16, bf16, f64, i8, i16, i32 or i64. */
mx_status mx_gguf_writer_add_tensor(mx_gguf_writer *w, const char *name, mx_array a);
/* A block-quantized tensor: `blocks` holds its bytes (any shape, uint8), the
 * logical row-major shape is `shape`. */
mx_status mx_gguf_writer_add_blocks(mx_gguf_writer *w, const char *name, mx_ggml_type type,
                                    const int64_t *shape, int ndim, mx_array blocks);
mx_status mx_gguf_writer_write(mx_gguf_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
