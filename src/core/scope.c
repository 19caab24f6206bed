/* scope.c — mx_scope_begin / mx_scope_end / mx_array_keep.
 *
 * Each thread has a stack of scopes; each scope a list of the references it
 * owns. Every reference handed to the caller while a scope is open (an op's
 * result, mx_array_retain, an op that returns its input unchanged) is one
 * entry, so the same array may appear more than once. An array remembers its
 * latest entry, so the common free/keep is O(1); when it has several, freeing
 * searches for one of the others. scope_end releases what is left. */
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
  a->scope_count++;
  s->items[s->len++] = a;
  return true;
}

void scope_register(mx_array a) {
  /* If the list cannot grow, the reference stays with the caller: a leak at
   * worst, never a double free. */
  if (depth > 0) scope_push_item(depth - 1, a);
}

/* Removes one entry for `a` (the remembered one, else the newest found). */
static void remove_entry(mx_array a) {
  int32_t lvl = a->scope_level, slot = a->scope_slot;
  if (lvl >= 0 && lvl < depth && slot >= 0 && slot < scopes[lvl].len && scopes[lvl].items[slot] == a) {
    scopes[lvl].items[slot] = NULL;
  } else {
    bool found = false;
    for (int32_t l = depth - 1; l >= 0 && !found; l--)
      for (int32_t i = scopes[l].len - 1; i >= 0; i--)
        if (scopes[l].items[i] == a) {
          scopes[l].items[i] = NULL;
          found = true;
          break;
        }
    if (!found) return;
  }
  a->scope_level = -1;
  a->scope_slot = -1;
  a->scope_count--;
}

void scope_forget(mx_array a) {
  if (a->scope_count > 0 && depth > 0) remove_entry(a);
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
    s->items[i] = NULL;
    a->scope_count--;
    if (a->scope_level == depth - 1 && a->scope_slot == i) {
      a->scope_level = -1;
      a->scope_slot = -1;
    }
    array_release(a);
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
  if (!a || a->scope_count == 0 || depth == 0) return a;
  /* The entry to move is in the innermost scope that has one. */
  int32_t lvl = -1;
  for (int32_t l = depth - 1; l >= 0 && lvl < 0; l--)
    for (int32_t i = 0; i < scopes[l].len; i++)
      if (scopes[l].items[i] == a) {
        lvl = l;
        break;
      }
  if (lvl < 0) return a;
  if (!(a->scope_level == lvl && a->scope_slot >= 0 && scopes[lvl].items[a->scope_slot] == a)) {
    for (int32_t i = scopes[lvl].len - 1; i >= 0; i--)
      if (scopes[lvl].items[i] == a) {
        a->scope_level = lvl;
        a->scope_slot = i;
        break;
      }
  }
  remove_entry(a);
  if (lvl > 0) scope_push_item(lvl - 1, a);
  return a;
}
