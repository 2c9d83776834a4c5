// swiglu.cu: SwiGLU over rows of x [rows, 2I]: gate = x[:, :I] goes through
// silu(z) = z·σ(z), up = x[:, I:] multiplies, y [rows, I] = silu(gate)·up
// (the chunk order of geglu.cu). The backward adds dy·up·silu'(gate) into
// dgate and dy·silu(gate) into dup, silu'(z) = σ(z)·(1 + z·(1 − σ(z))).
//
// Two forms of each, as geglu.cu: a scalar one for any I, and an x4 one that
// moves 16 bytes per access (float4) for I % 4 == 0 with 16-byte aligned
// pointers, which the Go wrapper checks. Both compute the same values.
#include "common.cuh"

// sigmoid_f is 1/(1 + e^(−z)); for z below about −88, e^(−z) is +Inf in
// float and σ is 0, its correct limit.
__device__ __forceinline__ float sigmoid_f(float z) { return 1.0f / (1.0f + expf(-z)); }

// silu_and_grad sets s = silu(z) and ds = silu'(z).
__device__ __forceinline__ void silu_and_grad(float z, float &s, float &ds) {
    float sg = sigmoid_f(z);
    s = z * sg;
    ds = sg * (1.0f + z * (1.0f - sg));
}

extern "C" __global__ void swiglu_fwd_f32(float *y, const float *x, long long rows, int inter) {
    long long n = rows * inter;
    DLLM_FOR(i, n) {
        long long r = i / inter;
        int c = (int)(i - r * inter);
        const float *xr = x + r * 2 * inter;
        float z = xr[c];
        y[i] = z * sigmoid_f(z) * xr[inter + c];
    }
}

extern "C" __global__ void swiglu_bwd_f32(float *dx, const float *x, const float *dy, long long rows, int inter) {
    long long n = rows * inter;
    DLLM_FOR(i, n) {
        long long r = i / inter;
        int c = (int)(i - r * inter);
        const float *xr = x + r * 2 * inter;
        float *dxr = dx + r * 2 * inter;
        float s, ds, d = dy[i];
        silu_and_grad(xr[c], s, ds);
        dxr[c] += d * xr[inter + c] * ds;
        dxr[inter + c] += d * s;
    }
}

extern "C" __global__ void swiglu_fwd_f32x4(float *y, const float *x, long long rows, int inter) {
    int q = inter / 4; // float4s per half row
    long long n = rows * q;
    DLLM_FOR(i, n) {
        long long r = i / q;
        int c = (int)(i - r * q);
        const float4 *xr = reinterpret_cast<const float4 *>(x + r * 2 * inter);
        float4 g = xr[c], u = xr[q + c], o;
        o.x = g.x * sigmoid_f(g.x) * u.x;
        o.y = g.y * sigmoid_f(g.y) * u.y;
        o.z = g.z * sigmoid_f(g.z) * u.z;
        o.w = g.w * sigmoid_f(g.w) * u.w;
        reinterpret_cast<float4 *>(y)[i] = o;
    }
}

extern "C" __global__ void swiglu_bwd_f32x4(float *dx, const float *x, const float *dy, long long rows, int inter) {
    int q = inter / 4;
    long long n = rows * q;
    DLLM_FOR(i, n) {
        long long r = i / q;
        int c = (int)(i - r * q);
        const float4 *xr = reinterpret_cast<const float4 *>(x + r * 2 * inter);
        float4 *dxr = reinterpret_cast<float4 *>(dx + r * 2 * inter);
        float4 g = xr[c], u = xr[q + c], d = reinterpret_cast<const float4 *>(dy)[i];
        float4 dg = dxr[c], du = dxr[q + c];
        float s, ds;
        silu_and_grad(g.x, s, ds);
        dg.x += d.x * u.x * ds;
        du.x += d.x * s;
        silu_and_grad(g.y, s, ds);
        dg.y += d.y * u.y * ds;
        du.y += d.y * s;
        silu_and_grad(g.z, s, ds);
        dg.z += d.z * u.z * ds;
        du.z += d.z * s;
        silu_and_grad(g.w, s, ds);
        dg.w += d.w * u.w * ds;
        du.w += d.w * s;
        dxr[c] = dg;
        dxr[q + c] = du;
    }
}
