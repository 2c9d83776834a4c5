// cross_entropy.cu: cross-entropy over the vocabulary for logits [N, V], one
// block per row.
//
// Forward: lse = log Σ_v exp(logits[v]), in one pass with an online
// (max, sum) pair per thread merged across the block;
// loss = w·(lse − logits[target]), 0 for rows whose target is ignore. lse_out
// (may be null) keeps lse for the backward. A target outside [0, V) that is not
// ignore gives loss NaN, so the bug shows.
//
// Backward: dlogits[v] += scale·w·(exp(logits[v] − lse) − [v = target]);
// ignored rows get nothing.
#include "common.cuh"

extern "C" __global__ void cross_entropy_fwd_f32(float *loss, float *lse_out, const float *logits, const int *targets,
                                                 const float *weights, int V, int ignore) {
    __shared__ float scratch[64];
    long long row = blockIdx.x;
    const float *x = logits + row * V;
    float m = -DLLM_INF, s = 0.0f;
    for (int c = threadIdx.x; c < V; c += blockDim.x) lse_add(m, s, x[c]);
    float lse = block_lse(m, s, scratch);
    if (threadIdx.x == 0) {
        if (lse_out) lse_out[row] = lse;
        int t = targets[row];
        float l;
        if (t == ignore) {
            l = 0.0f;
        } else if (t < 0 || t >= V) {
            l = __int_as_float(0x7fc00000);
        } else {
            float w = weights ? weights[row] : 1.0f;
            l = w * (lse - x[t]);
        }
        loss[row] = l;
    }
}

extern "C" __global__ void cross_entropy_bwd_f32(float *dlogits, const float *logits, const float *lse, const int *targets,
                                                 const float *weights, int V, float scale, int ignore) {
    long long row = blockIdx.x;
    int t = targets[row];
    if (t == ignore) return;
    float a = scale * (weights ? weights[row] : 1.0f);
    if (a == 0.0f) return;
    const float *x = logits + row * V;
    float *g = dlogits + row * V;
    float l = lse[row];
    for (int c = threadIdx.x; c < V; c += blockDim.x) {
        float p = expf(x[c] - l);
        if (c == t) p -= 1.0f;
        g[c] += a * p;
    }
}
