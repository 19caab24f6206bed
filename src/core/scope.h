/* scope.h — per-thread scopes that own the arrays made inside them. */
#ifndef MLXC_SCOPE_H
#define MLXC_SCOPE_H
#include "core.h"
/* Called for every array handed to a caller: the innermost open scope of
 * this thread (if any) takes ownership of that reference. */
void scope_register(mx_array a);
/* Called when the caller frees `a` itself: the scope forgets it. */
void scope_forget(mx_array a);
#endif
