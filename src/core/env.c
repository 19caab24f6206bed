/* env.c — numeric knobs read from the environment (MLXC_*). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "core.h"

long env_long(const char *name, long dflt, long lo, long hi) {
  const char *s = getenv(name);
  if (!s) return dflt;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || errno) return dflt;
  while (isspace((unsigned char)*end)) end++;
  if (*end) return dflt; /* trailing junk: not a number */
  return v >= lo && v <= hi ? v : dflt;
}
