/* weights.c — a model folder's tensors across safetensors shards.
 *
 * Order of preference: model.safetensors.index.json (its weight_map names
 * each tensor's shard), else model.safetensors, else every *.safetensors in
 * the folder. Shard names come from an untrusted file: only plain file names
 * inside the folder are accepted. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/core.h"
#include "mlxc/safetensors.h"

typedef struct entry {
  const char *name; /* owned by the shard */
  int shard;
  int64_t index;
} entry;

struct mx_weights {
  int nshards;
  mx_safetensors **shards;
  int64_t n;
  entry *e; /* sorted by name */
};

void mx_weights_close(mx_weights *w) {
  if (!w) return;
  for (int i = 0; i < w->nshards; i++) mx_safetensors_close(w->shards[i]);
  free(w->shards);
  free(w->e);
  free(w);
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool add_shard(mx_weights *w, const char *path) {
  mx_safetensors *s = mx_safetensors_open(path);
  if (!s) return false;
  mx_safetensors **ns = realloc(w->shards, (size_t)(w->nshards + 1) * sizeof *ns);
  if (!ns) {
    mx_safetensors_close(s);
    set_error(MX_ERR_OOM, "weights: out of memory");
    return false;
  }
  w->shards = ns;
  w->shards[w->nshards++] = s;
  return true;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long n = ftell(f);
  rewind(f);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b) {
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = '\0';
  }
  fclose(f);
  return b;
}

/* Shard file names listed by the index: unique, sorted. */
static int index_shards(const char *dir, const char *index_path, char ***out) {
  size_t len;
  char *text = slurp(index_path, &len);
  if (!text) {
    set_error(MX_ERR_IO, "weights: cannot read %s", index_path);
    return -1;
  }
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
  if (!cJSON_IsObject(map)) {
    cJSON_Delete(root);
    set_error(MX_ERR_FORMAT, "weights: %s has no weight_map object", index_path);
    return -1;
  }
  int cap = cJSON_GetArraySize(map);
  char **names = calloc((size_t)(cap ? cap : 1), sizeof *names);
  int n = 0;
  for (cJSON *e = map->child; e && names; e = e->next) {
    if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/') ||
        strcmp(e->valuestring, "..") == 0 || strcmp(e->valuestring, ".") == 0) {
      set_error(MX_ERR_FORMAT, "weights: %s: tensor '%.64s' names an invalid shard file",
                index_path, e->string);
      for (int i = 0; i < n; i++) free(names[i]);
      free(names);
      cJSON_Delete(root);
      return -1;
    }
    bool seen = false;
    for (int i = 0; i < n; i++)
      if (strcmp(names[i], e->valuestring) == 0) seen = true;
    if (!seen) names[n++] = strdup(e->valuestring);
  }
  cJSON_Delete(root);
  (void)dir;
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  *out = names;
  return n;
}

mx_weights *mx_weights_open(const char *path) {
  if (!path) {
    set_error(MX_ERR_INVALID_ARG, "weights: path is NULL");
    return NULL;
  }
  mx_weights *w = calloc(1, sizeof *w);
  if (!w) {
    set_error(MX_ERR_OOM, "weights: out of memory");
    return NULL;
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    set_error(MX_ERR_IO, "weights: %s does not exist", path);
    goto fail;
  }
  char buf[4096];
  if (!S_ISDIR(st.st_mode)) {
    if (!add_shard(w, path)) goto fail;
  } else {
    snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", path);
    if (stat(buf, &st) == 0) {
      char **names;
      int n = index_shards(path, buf, &names);
      if (n < 0) goto fail;
      bool ok = true;
      for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "%s/%s", path, names[i]);
        if (ok && !add_shard(w, buf)) ok = false;
        free(names[i]);
      }
      free(names);
      if (!ok) goto fail;
    } else {
      snprintf(buf, sizeof buf, "%s/model.safetensors", path);
      if (stat(buf, &st) == 0) {
        if (!add_shard(w, buf)) goto fail;
      } else {
        DIR *d = opendir(path);
        if (!d) {
          set_error(MX_ERR_IO, "weights: cannot list %s", path);
          goto fail;
        }
        char **names = NULL;
        int n = 0;
        for (struct dirent *de; (de = readdir(d));) {
          size_t l = strlen(de->d_name);
          if (l > 12 && strcmp(de->d_name + l - 12, ".safetensors") == 0) {
            char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
            if (!nn) break;
            names = nn;
            names[n++] = strdup(de->d_name);
          }
        }
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        bool ok = n > 0;
        if (!ok) set_error(MX_ERR_IO, "weights: no .safetensors files in %s", path);
        for (int i = 0; i < n; i++) {
          snprintf(buf, sizeof buf, "%s/%s", path, names[i]);
          if (ok && !add_shard(w, buf)) ok = false;
          free(names[i]);
        }
        free(names);
        if (!ok) goto fail;
      }
    }
  }
  for (int i = 0; i < w->nshards; i++) w->n += mx_safetensors_count(w->shards[i]);
  w->e = calloc((size_t)(w->n ? w->n : 1), sizeof *w->e);
  if (!w->e) {
    set_error(MX_ERR_OOM, "weights: out of memory");
    goto fail;
  }
  int64_t k = 0;
  for (int i = 0; i < w->nshards; i++)
    for (int64_t j = 0; j < mx_safetensors_count(w->shards[i]); j++)
      w->e[k++] = (entry){mx_safetensors_name(w->shards[i], j), i, j};
  qsort(w->e, (size_t)w->n, sizeof *w->e, cmp_entry);
  for (int64_t i = 1; i < w->n; i++)
    if (strcmp(w->e[i - 1].name, w->e[i].name) == 0) {
      set_error(MX_ERR_FORMAT, "weights: tensor '%.64s' appears in two shards of %s", w->e[i].name,
                path);
      goto fail;
    }
  return w;
fail:
  mx_weights_close(w);
  return NULL;
}

int64_t mx_weights_count(const mx_weights *w) { return w ? w->n : 0; }
const char *mx_weights_name(const mx_weights *w, int64_t i) {
  return w && i >= 0 && i < w->n ? w->e[i].name : NULL;
}

mx_array mx_weights_get(mx_weights *w, const char *name) {
  if (!w || !name) {
    set_error(MX_ERR_INVALID_ARG, "weights_get: NULL weights or name");
    return NULL;
  }
  entry key = {name, 0, 0};
  entry *e = bsearch(&key, w->e, (size_t)w->n, sizeof *w->e, cmp_entry);
  if (!e) {
    set_error(MX_ERR_INVALID_ARG, "weights_get: no tensor named '%s'", name);
    return NULL;
  }
  return mx_safetensors_get(w->shards[e->shard], e->index);
}
