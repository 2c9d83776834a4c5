// rope.cu: rotary position embeddings, rotate-half convention, on src
// [rows, heads, d] with one position per row:
//
//   y[k]       = x[k]·cos φ − x[k+d/2]·sin φ
//   y[k+d/2]   = x[k+d/2]·cos φ + x[k]·sin φ,        φ = pos·inv_freq[k]
//
// Only the first rot_heads heads of a row rotate; the others are copied, so a
// packed QKV [B·S, 3·nh, d] with rot_heads = 2·nh rotates Q and K and passes V
// through. One thread per (row, head, k < d/2) pair.
//
// The arithmetic follows the CPU reference (tensor/cpu_rope.go) operation by
// operation: inv_freq comes from the host, computed in float32 as Hugging
// Face does; φ is rounded to float32; cos φ and sin φ are computed in float64
// and rounded; each product and sum is rounded separately (the __fmul_rn and
// __fadd_rn intrinsics keep the compiler from fusing them into FMAs).
#include "common.cuh"

__device__ __forceinline__ void rope_angle(const int *pos, const float *inv_freq, long long r, int k, float &c, float &s) {
    float phi = __fmul_rn((float)pos[r], inv_freq[k]);
    double sd, cd;
    sincos((double)phi, &sd, &cd);
    c = (float)cd;
    s = (float)sd;
}

extern "C" __global__ void rope_fwd_f32(float *dst, const float *src, const int *pos, const float *inv_freq,
                                        long long rows, int heads, int d, int rot_heads) {
    int half = d / 2;
    long long n = rows * heads * half;
    DLLM_FOR(i, n) {
        int k = (int)(i % half);
        long long rh = i / half; // row·heads + head
        int h = (int)(rh % heads);
        long long r = rh / heads;
        long long base = rh * d;
        float a = src[base + k], b = src[base + k + half];
        if (h < rot_heads) {
            float c, s;
            rope_angle(pos, inv_freq, r, k, c, s);
            dst[base + k] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
            dst[base + k + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
        } else {
            dst[base + k] = a;
            dst[base + k + half] = b;
        }
    }
}

// The backward rotates dy by −φ (a rotation's transpose is its inverse) and
// adds it into dsrc; copied heads add dy unchanged.
extern "C" __global__ void rope_bwd_f32(float *dsrc, const float *dy, const int *pos, const float *inv_freq,
                                        long long rows, int heads, int d, int rot_heads) {
    int half = d / 2;
    long long n = rows * heads * half;
    DLLM_FOR(i, n) {
        int k = (int)(i % half);
        long long rh = i / half;
        int h = (int)(rh % heads);
        long long r = rh / heads;
        long long base = rh * d;
        float a = dy[base + k], b = dy[base + k + half];
        if (h < rot_heads) {
            float c, s;
            rope_angle(pos, inv_freq, r, k, c, s);
            dsrc[base + k] = __fadd_rn(dsrc[base + k], __fadd_rn(__fmul_rn(a, c), __fmul_rn(b, s)));
            dsrc[base + k + half] = __fadd_rn(dsrc[base + k + half], __fsub_rn(__fmul_rn(b, c), __fmul_rn(a, s)));
        } else {
            dsrc[base + k] += a;
            dsrc[base + k + half] += b;
        }
    }
}
