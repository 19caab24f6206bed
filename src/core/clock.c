/* clock.c — one monotonic clock for timings (profiles, generation stats). */
#include <time.h>

#include "core.h"

double monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
