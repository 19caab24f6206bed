/* bench_cuda_launch — what one kernel costs the host, three ways, on the
 * same tiny kernel (a 256-element f32 copy) in the same run:
 *   direct   cudaLaunchKernel per node, as eval does today;
 *   capture  the same launches recorded by stream capture, then
 *            cudaGraphExecUpdate of the cached executable graph and one
 *            cudaGraphLaunch (what per-step capture would cost);
 *   replay   cudaGraphLaunch of an already updated graph (the floor).
 * Printed per node, host time and wall time to completion, with the ratio
 * to direct. A decode step of a 1B Llama is ~300 kernels, so each us per
 * node here is ~0.3 ms per token. Without a usable GPU it says so. */
#include <stdio.h>

#include "bench_util.h"
#include "core/core.h"
#include "mlxc/mlxc.h"

#ifdef MLXC_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cuda_kernels.h"

enum { NODES = 300, REPS = 20, NEL = 256 };

static cu_layout tiny_layout(void) {
  cu_layout L = {0};
  L.ndim = 1;
  L.shape[0] = NEL;
  L.strides[0][0] = 1;
  L.strides[1][0] = 1;
  return L;
}

static int launch_nodes(float *a, float *b, cudaStream_t s) {
  cu_layout L = tiny_layout();
  for (int i = 0; i < NODES; i++) {
    int e = cu_copy(MX_FLOAT32, MX_FLOAT32, (i & 1) ? a : b, (i & 1) ? b : a, &L, NEL, s);
    if (e) return e;
  }
  return 0;
}

static int bench(void) {
  cudaStream_t s;
  float *a, *b;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) || cudaMalloc((void **)&a, NEL * 4) ||
      cudaMalloc((void **)&b, NEL * 4))
    return 1;
  cudaMemset(a, 0, NEL * 4);
  cudaMemset(b, 0, NEL * 4);
  cudaDeviceSynchronize();

  /* direct */
  double host = 0, wall = 0;
  for (int r = 0; r < REPS + 2; r++) {
    double t0 = now_sec();
    if (launch_nodes(a, b, s)) return 2;
    double t1 = now_sec();
    cudaStreamSynchronize(s);
    double t2 = now_sec();
    if (r >= 2) host += t1 - t0, wall += t2 - t0;
  }
  double d_host = host / REPS / NODES * 1e6, d_wall = wall / REPS / NODES * 1e6;
  printf("direct : host %6.2f us/node, wall %6.2f us/node\n", d_host, d_wall);

  /* capture + update + launch */
  cudaGraphExec_t exec = NULL;
  double cap = 0, upd = 0, inst = 0;
  host = wall = 0;
  for (int r = 0; r < REPS + 2; r++) {
    cudaGraph_t g;
    double t0 = now_sec();
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal)) return 3;
    if (launch_nodes(a, b, s)) return 4;
    if (cudaStreamEndCapture(s, &g)) return 5;
    double t1 = now_sec();
    if (!exec) {
      if (cudaGraphInstantiate(&exec, g, 0)) return 6;
      inst = now_sec() - t1;
    } else {
      cudaGraphExecUpdateResultInfo info;
      if (cudaGraphExecUpdate(exec, g, &info)) return 7;
    }
    double t2 = now_sec();
    cudaGraphLaunch(exec, s);
    double t3 = now_sec();
    cudaStreamSynchronize(s);
    double t4 = now_sec();
    cudaGraphDestroy(g);
    if (r >= 2) cap += t1 - t0, upd += t2 - t1, host += t3 - t0, wall += t4 - t0;
  }
  printf("capture: host %6.2f us/node (capture %.2f + update %.2f + launch), wall %6.2f us/node; "
         "instantiate once %.0f us; host %.2fx direct, wall %.2fx direct\n",
         host / REPS / NODES * 1e6, cap / REPS / NODES * 1e6, upd / REPS / NODES * 1e6,
         wall / REPS / NODES * 1e6, inst * 1e6, host / REPS / NODES * 1e6 / d_host,
         wall / REPS / NODES * 1e6 / d_wall);

  /* replay */
  host = wall = 0;
  for (int r = 0; r < REPS + 2; r++) {
    double t0 = now_sec();
    cudaGraphLaunch(exec, s);
    double t1 = now_sec();
    cudaStreamSynchronize(s);
    double t2 = now_sec();
    if (r >= 2) host += t1 - t0, wall += t2 - t0;
  }
  printf("replay : host %6.2f us/node, wall %6.2f us/node; host %.3fx direct, wall %.2fx direct\n",
         host / REPS / NODES * 1e6, wall / REPS / NODES * 1e6, host / REPS / NODES * 1e6 / d_host,
         wall / REPS / NODES * 1e6 / d_wall);
  cudaGraphExecDestroy(exec);
  cudaFree(a);
  cudaFree(b);
  cudaStreamDestroy(s);
  return 0;
}
#endif

int main(void) {
#ifdef MLXC_HAVE_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
    printf("bench_cuda_launch: no usable GPU\n");
    return 0;
  }
  int st = bench();
  if (st) printf("bench_cuda_launch: CUDA call failed at step %d: %s\n", st,
                 cudaGetErrorString(cudaGetLastError()));
  return st;
#else
  printf("bench_cuda_launch: this build has no CUDA backend\n");
  return 0;
#endif
}
