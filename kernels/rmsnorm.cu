// rmsnorm.cu: RMSNorm over the rows of x [rows, d] and its backward.
//
//   rstd = 1/√(mean(x²) + eps),   x̂ = x·rstd,   y = x̂·(w + offset)
//
// offset is 0 for the plain weight (Llama, Qwen), 1 for Gemma's (1 + w).
//
// One warp per row, 8 rows per block of 256 threads: the rows are short (a
// hidden state of a few thousand values, or one head of 64 or 128 for the
// per-head q/k norms), so a warp covers a row with a few loads per lane and
// reduces it with shuffles alone, with no shared memory or block barrier.
// A warp whose row is past the end returns as a whole, before any shuffle.
//
// Backward, with g = dy·(w + offset):
//   dx += rstd·(g − x̂·mean(g·x̂))   one warp per row, as the forward
//   dw += Σ_rows dy·x̂              column sums, as col_sum.cu
//
// dw is a column reduction rather than an atomicAdd per element: a block of
// 32 columns × 8 row lanes sums a chunk of rows in registers and shared
// memory and adds one partial per column with atomicAdd. Per-element atomics
// would put all N rows' additions on the same d addresses (d = 128 for a
// per-head norm: 65536 rows of contention each); the column blocks read dy
// and x coalesced and issue d·(row chunks) atomics in all.
#include "common.cuh"

extern "C" __global__ void rmsnorm_fwd_f32(float *y, float *rstd_out, const float *x, const float *w,
                                           long long rows, int d, float eps, float offset) {
    long long r = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= rows) return;
    int lane = threadIdx.x & 31;
    const float *xr = x + r * d;
    float *yr = y + r * d;
    float ss = 0.0f;
    for (int c = lane; c < d; c += 32) {
        float v = xr[c];
        ss += v * v;
    }
    float rs = 1.0f / sqrtf(warp_sum(ss) / d + eps);
    for (int c = lane; c < d; c += 32) yr[c] = xr[c] * rs * (w[c] + offset);
    if (lane == 0 && rstd_out) rstd_out[r] = rs;
}

extern "C" __global__ void rmsnorm_bwd_dx_f32(float *dx, const float *dy, const float *x, const float *rstd,
                                              const float *w, long long rows, int d, float offset) {
    long long r = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= rows) return;
    int lane = threadIdx.x & 31;
    long long off = r * d;
    const float *xr = x + off, *dyr = dy + off;
    float *dxr = dx + off;
    float rs = rstd[r];
    float s = 0.0f; // Σ g·x over the row
    for (int c = lane; c < d; c += 32) s += dyr[c] * (w[c] + offset) * xr[c];
    float m = warp_sum(s) * rs / d; // mean(g·x̂)
    for (int c = lane; c < d; c += 32) {
        float g = dyr[c] * (w[c] + offset);
        dxr[c] += rs * (g - xr[c] * rs * m);
    }
}

// Blocks of 32 columns × 8 row lanes; block (x, y) sums the rows y·8 + lane,
// stepping by gridDim.y·8, of its 32 columns.
extern "C" __global__ void rmsnorm_bwd_dw_f32(float *dw, const float *dy, const float *x, const float *rstd,
                                              long long rows, int d) {
    __shared__ float part[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float acc = 0.0f;
    if (c < d) {
        for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += (long long)gridDim.y * 8)
            acc += dy[r * d + c] * x[r * d + c] * rstd[r];
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < d) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
        atomicAdd(dw + c, t);
    }
}
