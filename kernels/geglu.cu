// geglu.cu: GeGLU over rows of x [rows, 2I]: u = x[:, :I] goes through GELU,
// g = x[:, I:] multiplies, y [rows, I] = GELU(u)·g (Hugging Face's chunk
// order). The backward adds dy·g·GELU'(u) into du and dy·GELU(u) into dg.
//
// Two forms of each: a scalar one for any I, and an x4 one that moves 16 bytes
// per access (float4) for I % 4 == 0 with 16-byte aligned pointers, which the
// Go wrapper checks. Both compute the same values.
#include "common.cuh"

extern "C" __global__ void geglu_fwd_f32(float *y, const float *x, long long rows, int inter) {
    long long n = rows * inter;
    DLLM_FOR(i, n) {
        long long r = i / inter;
        int c = (int)(i - r * inter);
        const float *xr = x + r * 2 * inter;
        y[i] = gelu_f(xr[c]) * xr[inter + c];
    }
}

extern "C" __global__ void geglu_bwd_f32(float *dx, const float *x, const float *dy, long long rows, int inter) {
    long long n = rows * inter;
    DLLM_FOR(i, n) {
        long long r = i / inter;
        int c = (int)(i - r * inter);
        const float *xr = x + r * 2 * inter;
        float *dxr = dx + r * 2 * inter;
        float u = xr[c], g = xr[inter + c], d = dy[i];
        dxr[c] += d * g * gelu_grad(u);
        dxr[inter + c] += d * gelu_f(u);
    }
}

extern "C" __global__ void geglu_fwd_f32x4(float *y, const float *x, long long rows, int inter) {
    int q = inter / 4; // float4s per half row
    long long n = rows * q;
    DLLM_FOR(i, n) {
        long long r = i / q;
        int c = (int)(i - r * q);
        const float4 *xr = reinterpret_cast<const float4 *>(x + r * 2 * inter);
        float4 u = xr[c], g = xr[q + c], o;
        o.x = gelu_f(u.x) * g.x;
        o.y = gelu_f(u.y) * g.y;
        o.z = gelu_f(u.z) * g.z;
        o.w = gelu_f(u.w) * g.w;
        reinterpret_cast<float4 *>(y)[i] = o;
    }
}

extern "C" __global__ void geglu_bwd_f32x4(float *dx, const float *x, const float *dy, long long rows, int inter) {
    int q = inter / 4;
    long long n = rows * q;
    DLLM_FOR(i, n) {
        long long r = i / q;
        int c = (int)(i - r * q);
        const float4 *xr = reinterpret_cast<const float4 *>(x + r * 2 * inter);
        float4 *dxr = reinterpret_cast<float4 *>(dx + r * 2 * inter);
        float4 u = xr[c], g = xr[q + c], d = reinterpret_cast<const float4 *>(dy)[i];
        float4 du = dxr[c], dg = dxr[q + c];
        du.x += d.x * g.x * gelu_grad(u.x);
        du.y += d.y * g.y * gelu_grad(u.y);
        du.z += d.z * g.z * gelu_grad(u.z);
        du.w += d.w * g.w * gelu_grad(u.w);
        dg.x += d.x * gelu_f(u.x);
        dg.y += d.y * gelu_f(u.y);
        dg.z += d.z * gelu_f(u.z);
        dg.w += d.w * gelu_f(u.w);
        dxr[c] = du;
        dxr[q + c] = dg;
    }
}
