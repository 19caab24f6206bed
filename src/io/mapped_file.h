/* mapped_file.h — a read-only, reference-counted memory mapping of a file.
 * Readers (GGUF, safetensors) hold one reference; each array that borrows
 * bytes from the mapping holds another, so weights stay valid after the
 * reader is closed. */
#ifndef MLXC_MAPPED_FILE_H
#define MLXC_MAPPED_FILE_H

#include <stdatomic.h>
#include <stddef.h>

#include "../core/utf8.h"

typedef struct mapped_file {
  atomic_long refs;
  const unsigned char *data;
  size_t size;
  int is_mmap; /* 0: memory owned by the caller (open_memory) */
} mapped_file;

/* Maps `path`; NULL with MX_ERR_IO set (message names op and path). */
mapped_file *mapped_file_open(const char *op, const char *path);
/* Wraps caller-owned memory (no copy, nothing unmapped at the end). */
mapped_file *mapped_file_wrap(const void *data, size_t size);
void mapped_file_retain(mapped_file *m);
void mapped_file_release(mapped_file *m);
/* A release callback for mx_array_from_borrowed (ctx = the mapping). */
void mapped_file_release_cb(void *ctx);


#endif
