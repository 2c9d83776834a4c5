// sum_rows.cu: dst[c] += Σ_r src[r, c] for src [rows, d] (a bias gradient).
//
// Blocks are 32 columns × 8 row lanes; block (x, y) sums its 32 columns over
// the rows y·8 + lane, y·8 + lane + 8·gridDim.y, ..., then the 8 lanes meet in
// shared memory and one atomicAdd per column adds the block's part into dst.
// Coalesced: a warp reads 32 consecutive floats of one row.
#include "common.cuh"

extern "C" __global__ void sum_rows_f32(float *dst, const float *src, long long rows, int d) {
    __shared__ float part[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < d) {
        for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += (long long)gridDim.y * 8)
            s += src[r * d + c];
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < d) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
        atomicAdd(dst + c, t);
    }
}
