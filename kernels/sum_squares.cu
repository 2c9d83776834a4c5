// sum_squares.cu: *out += Σ x² over n elements, accumulated in float64 (for
// gradient-norm clipping). The caller zeroes *out first.
#include "common.cuh"

extern "C" __global__ void sum_squares_f32(double *out, const float *x, long long n) {
    __shared__ double scratch[32];
    double s = 0.0;
    DLLM_FOR(i, n) {
        double v = x[i];
        s += v * v;
    }
    s = block_sum_d(s, scratch);
    if (threadIdx.x == 0) atomicAdd(out, s);
}
