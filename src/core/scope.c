/* scope.c — mx_scope_begin / mx_scope_end / mx_array_keep.
 *
 * Each thread has a stack of scopes; each scope a list of the arrays it owns
 * (one reference each). An array records its scope level and slot, so free
 * and keep are O(1); a freed slot is set to NULL and skipped at the end. */
#include <stdlib.h>

#include "scope.h"

typedef struct scope {
  mx_array *items;
  int32_t len, cap;
} scope;

static _Thread_local scope *scopes;
static _Thread_local int32_t depth, scopes_cap;

static bool scope_push_item(int32_t level, mx_array a) {
  scope *s = &scopes[level];
  if (s->len == s->cap) {
    int32_t cap = s->cap ? s->cap * 2 : 64;
    mx_array *ni = realloc(s->items, (size_t)cap * sizeof *ni);
    if (!ni) return false;
    s->items = ni;
    s->cap = cap;
  }
  a->scope_level = level;
  a->scope_slot = s->len;
  s->items[s->len++] = a;
  return true;
}

void scope_register(mx_array a) {
  /* If the list cannot grow, the array stays with the caller: a leak at
   * worst, never a double free. */
  if (depth > 0) scope_push_item(depth - 1, a);
}

void scope_forget(mx_array a) {
  int32_t lvl = a->scope_level;
  if (lvl < 0 || lvl >= depth) return;
  scope *s = &scopes[lvl];
  if (a->scope_slot >= 0 && a->scope_slot < s->len && s->items[a->scope_slot] == a)
    s->items[a->scope_slot] = NULL;
  a->scope_level = -1;
  a->scope_slot = -1;
}

mx_status mx_scope_begin(void) {
  if (depth == scopes_cap) {
    int32_t cap = scopes_cap ? scopes_cap * 2 : 8;
    scope *ns = realloc(scopes, (size_t)cap * sizeof *ns);
    if (!ns) return set_error(MX_ERR_OOM, "scope_begin: out of memory");
    scopes = ns;
    scopes_cap = cap;
  }
  scopes[depth] = (scope){0};
  depth++;
  return MX_OK;
}

mx_status mx_scope_end(void) {
  if (depth == 0) return set_error(MX_ERR_INVALID_ARG, "scope_end: no scope is open");
  scope *s = &scopes[depth - 1];
  for (int32_t i = 0; i < s->len; i++) {
    mx_array a = s->items[i];
    if (!a) continue;
    a->scope_level = -1;
    a->scope_slot = -1;
    mx_array_free(a);
  }
  free(s->items);
  depth--;
  if (depth == 0) {
    free(scopes);
    scopes = NULL;
    scopes_cap = 0;
  }
  return MX_OK;
}

mx_array mx_array_keep(mx_array a) {
  if (!a) return NULL;
  int32_t lvl = a->scope_level;
  if (lvl < 0 || lvl >= depth) return a;
  scope_forget(a);
  if (lvl > 0) scope_push_item(lvl - 1, a);
  return a;
}
