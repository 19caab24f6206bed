/* cuda_graph.h — recording a batch of kernels and launching it as CUDA
 * graphs (cuda_graph.c). The first four are the gpu_backend batching hooks
 * (core.h); the rest are for cuda_backend.c. */
#ifndef MLXC_CUDA_GRAPH_H
#define MLXC_CUDA_GRAPH_H

#include <stdbool.h>

#include "../../core/core.h"

void cuda_graph_batch_begin(const uint64_t *node_keys, size_t n);
mx_status cuda_graph_node_begin(size_t i);
mx_status cuda_graph_node_end(size_t i);
mx_status cuda_graph_batch_end(void);

/* Call before anything that waits for the stream or reads its results on
 * the host (a copy to the host, a synchronize, a blocking upload, freeing
 * device memory). On the thread that is recording, it ends the recording
 * and launches what was recorded (the batch goes on with plain launches);
 * on another thread, it waits until no recording is in progress and keeps
 * one from starting until cuda_graph_release. Returns whether it holds. */
bool cuda_graph_quiesce(mx_status *st);
void cuda_graph_release(bool held);

/* Counts since start: chunks replayed from an updated cached graph,
 * graphs instantiated, chunks launched directly, recordings cut short. */
void cuda_graph_counts(long *replayed, long *instantiated, long *direct, long *cut);

/* True while this thread records kernels into a graph. */
bool cuda_graph_recording(void);

#endif
