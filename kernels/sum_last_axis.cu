// sum_last_axis.cu: dst[r] = (Σ_c src[r, c]) / divisor for src [rows, d], one block
// per row. SumLastAxis passes divisor 1, MeanLastAxis passes d.
#include "common.cuh"

extern "C" __global__ void sum_last_axis_f32(float *dst, const float *src, int d, float divisor) {
    __shared__ float scratch[32];
    const float *row = src + (long long)blockIdx.x * d;
    float s = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) s += row[c];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) dst[blockIdx.x] = s / divisor;
}
