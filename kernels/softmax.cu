// softmax.cu: softmax over the last axis of src [rows, d], one block per row:
// the row maximum, then Σ exp(x − max), then the normalised values. dst may
// alias src (each thread rewrites only the elements it read).
#include "common.cuh"

extern "C" __global__ void softmax_f32(float *dst, const float *src, int d) {
    __shared__ float scratch[32];
    long long off = (long long)blockIdx.x * d;
    const float *x = src + off;
    float *y = dst + off;
    float m = -DLLM_INF;
    for (int c = threadIdx.x; c < d; c += blockDim.x) m = fmaxf(m, x[c]);
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) s += expf(x[c] - m);
    s = block_sum(s, scratch);
    for (int c = threadIdx.x; c < d; c += blockDim.x) y[c] = expf(x[c] - m) / s;
}
