// add_row_vector.cu: x[r, c] += v[c] for x [rows, d]: a bias add.
#include "common.cuh"

extern "C" __global__ void add_row_vector_f32(float *x, const float *v, long long n, int d) {
    DLLM_FOR(i, n) {
        x[i] += v[i % d];
    }
}
