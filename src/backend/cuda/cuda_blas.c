/* cuda_blas.c — loads cuBLAS at run time, the first time a GPU matmul needs
 * it (see cuda_blas.h for why it is not linked). */
#include "cuda_blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct entry {
  const char *name;
  size_t offset;
} entries[] = {
#define CUDA_BLAS_ENTRY(field, fn) {#fn, offsetof(cuda_blas_api, field)},
    CUDA_BLAS_ENTRIES(CUDA_BLAS_ENTRY)
#undef CUDA_BLAS_ENTRY
};

/* dlsym hands out data pointers; the fields are function pointers of the
 * same size on every platform that has dlsym (POSIX requires it). */
_Static_assert(sizeof(void *) == sizeof(((cuda_blas_api *)0)->Create),
               "function and data pointers differ in size");

/* Loads `name` into *api; on failure writes dlerror's reason to `why` and
 * leaves nothing loaded. */
static bool try_load(const char *name, cuda_blas_api *api, void **lib, char *why, size_t n) {
  /* RTLD_LOCAL: cuBLAS's symbols stay out of the global namespace, so a
   * program that brings its own cuBLAS (another version) is not disturbed. */
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(why, n, "%s", e ? e : "dlopen failed");
    return false;
  }
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
    dlerror();
    void *sym = dlsym(h, entries[i].name);
    if (!sym) {
      const char *e = dlerror();
      snprintf(why, n, "%s", e ? e : entries[i].name);
      dlclose(h);
      return false;
    }
    memcpy((char *)api + entries[i].offset, &sym, sizeof sym);
  }
  *lib = h;
  return true;
}

mx_status cuda_blas_probe(const char *name) {
  cuda_blas_api scratch;
  void *lib;
  char why[512];
  if (!name) return set_error(MX_ERR_INVALID_ARG, "cuda_blas_probe: no library name");
  if (!try_load(name, &scratch, &lib, why, sizeof why))
    return set_error(MX_ERR_DEVICE, "CUDA: cannot load %s: %s", name, why);
  dlclose(lib);
  return MX_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cuda_blas_api api;
static bool loaded;
static char failure[600];

static void load(void) {
  char why[512], why2[512];
  void *lib;
  /* The versioned name is the ABI these prototypes describe; the bare name
   * (a development symlink) serves installs that lack the versioned one. */
  if (try_load(CUDA_BLAS_SONAME, &api, &lib, why, sizeof why) ||
      try_load("libcublas.so", &api, &lib, why2, sizeof why2)) {
    loaded = true; /* stays loaded: cuBLAS handles live as long as the process */
    return;
  }
  snprintf(failure, sizeof failure, "CUDA: cannot load %s: %s", CUDA_BLAS_SONAME, why);
}

const cuda_blas_api *cuda_blas(void) {
  pthread_once(&once, load);
  if (loaded) return &api;
  set_error(MX_ERR_DEVICE, "%s", failure);
  return NULL;
}

mx_status cuda_blas_init(void) { return cuda_blas() ? MX_OK : mx_last_error_code(); }
