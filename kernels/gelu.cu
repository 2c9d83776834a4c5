// gelu.cu: the exact (erf) GELU and its backward, which adds dy·GELU'(x)
// into dx.
#include "common.cuh"

extern "C" __global__ void gelu_fwd_f32(float *y, const float *x, long long n) {
    DLLM_FOR(i, n) y[i] = gelu_f(x[i]);
}

extern "C" __global__ void gelu_bwd_f32(float *dx, const float *x, const float *dy, long long n) {
    DLLM_FOR(i, n) dx[i] += dy[i] * gelu_grad(x[i]);
}
