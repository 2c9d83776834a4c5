// layernorm.cu: LayerNorm over the rows of x [rows, d] and its backward.
//
// Forward, one block per row: μ = mean(x), σ² = mean((x − μ)²) (two passes
// over the row, so no cancellation), rstd = 1/√(σ² + eps),
// y = (x − μ)·rstd·gamma (+ beta). beta, mean_out and rstd_out may be null.
//
// Backward, with x̂ = (x − μ)·rstd and g = dy·gamma:
//   dx     += rstd·(g − mean(g) − x̂·mean(g·x̂))      one block per row
//   dgamma += Σ_rows dy·x̂,  dbeta += Σ_rows dy       column sums, as sum_rows.cu
#include "common.cuh"

extern "C" __global__ void layernorm_fwd_f32(float *y, float *mean_out, float *rstd_out, const float *x,
                                             const float *gamma, const float *beta, int d, float eps) {
    __shared__ float scratch[32];
    long long off = (long long)blockIdx.x * d;
    const float *xr = x + off;
    float *yr = y + off;
    float s = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) s += xr[c];
    float mu = block_sum(s, scratch) / d;
    float v = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float t = xr[c] - mu;
        v += t * t;
    }
    float var = block_sum(v, scratch) / d;
    float rs = 1.0f / sqrtf(var + eps);
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float h = (xr[c] - mu) * rs * gamma[c];
        if (beta) h += beta[c];
        yr[c] = h;
    }
    if (threadIdx.x == 0) {
        if (mean_out) mean_out[blockIdx.x] = mu;
        if (rstd_out) rstd_out[blockIdx.x] = rs;
    }
}

extern "C" __global__ void layernorm_bwd_dx_f32(float *dx, const float *dy, const float *x, const float *mean,
                                                const float *rstd, const float *gamma, int d) {
    __shared__ float scratch[32];
    long long off = (long long)blockIdx.x * d;
    const float *xr = x + off, *dyr = dy + off;
    float *dxr = dx + off;
    float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
    float sg = 0.0f, sgx = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float g = dyr[c] * gamma[c];
        sg += g;
        sgx += g * (xr[c] - mu) * rs;
    }
    sg = block_sum(sg, scratch) / d;
    sgx = block_sum(sgx, scratch) / d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float g = dyr[c] * gamma[c];
        float xh = (xr[c] - mu) * rs;
        dxr[c] += rs * (g - sg - xh * sgx);
    }
}

// Blocks of 32 columns × 8 row lanes, as sum_rows.cu; dbeta may be null.
extern "C" __global__ void layernorm_bwd_params_f32(float *dgamma, float *dbeta, const float *dy, const float *x,
                                                    const float *mean, const float *rstd, long long rows, int d) {
    __shared__ float pg[8][33], pb[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float g = 0.0f, b = 0.0f;
    if (c < d) {
        for (long long r = (long long)blockIdx.y * 8 + threadIdx.y; r < rows; r += (long long)gridDim.y * 8) {
            float v = dy[r * d + c];
            g += v * (x[r * d + c] - mean[r]) * rstd[r];
            b += v;
        }
    }
    pg[threadIdx.y][threadIdx.x] = g;
    pb[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < d) {
        float tg = 0.0f, tb = 0.0f;
        for (int k = 0; k < 8; ++k) {
            tg += pg[k][threadIdx.x];
            tb += pb[k][threadIdx.x];
        }
        atomicAdd(dgamma + c, tg);
        if (dbeta) atomicAdd(dbeta + c, tb);
    }
}
