/* mlxc/memory.h — the caching allocator's counters and limits (as MLX's
 * mx.get_active_memory, get_peak_memory, get_cache_memory, set_cache_limit,
 * set_memory_limit, clear_cache).
 *
 * Active memory counts buffers held by arrays (borrowed host data excluded).
 * Freed buffers go to a cache, reused for allocations of the same size class,
 * until the cache limit; the memory limit makes allocations past it fail with
 * MX_ERR_OOM after the cache has been emptied. All functions are thread-safe.
 */
#ifndef MLXC_MEMORY_H
#define MLXC_MEMORY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t mx_memory_active(void);
size_t mx_memory_peak(void);
size_t mx_memory_cache(void);
void mx_memory_reset_peak(void);
/* Returns the previous limit. The default cache limit is the memory limit. */
size_t mx_memory_set_cache_limit(size_t bytes);
/* Returns the previous limit. The default is 1.5x physical memory. */
size_t mx_memory_set_limit(size_t bytes);
size_t mx_memory_limit(void);
/* Give all cached buffers back to the system. */
void mx_memory_clear_cache(void);

#ifdef __cplusplus
}
#endif
#endif
