#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/core.h"

mapped_file *mapped_file_open(const char *op, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    set_error(MX_ERR_IO, "%s: cannot open %s: %s", op, path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    set_error(MX_ERR_IO, "%s: %s is not a regular file", op, path);
    return NULL;
  }
  mapped_file *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    set_error(MX_ERR_OOM, "%s: out of memory", op);
    return NULL;
  }
  m->size = (size_t)st.st_size;
  if (m->size > 0) {
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      free(m);
      set_error(MX_ERR_IO, "%s: cannot map %s: %s", op, path, strerror(errno));
      return NULL;
    }
    m->data = p;
    m->is_mmap = 1;
  } else {
    m->data = (const unsigned char *)"";
  }
  close(fd);
  atomic_init(&m->refs, 1);
  return m;
}

mapped_file *mapped_file_wrap(const void *data, size_t size) {
  mapped_file *m = calloc(1, sizeof *m);
  if (!m) {
    set_error(MX_ERR_OOM, "mapped_file: out of memory");
    return NULL;
  }
  m->data = data;
  m->size = size;
  atomic_init(&m->refs, 1);
  return m;
}

void mapped_file_retain(mapped_file *m) { atomic_fetch_add(&m->refs, 1); }

void mapped_file_release(mapped_file *m) {
  if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
  if (m->is_mmap) munmap((void *)m->data, m->size);
  free(m);
}

void mapped_file_release_cb(void *ctx) { mapped_file_release(ctx); }
