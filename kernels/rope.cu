// rope.cu: rotary position embeddings, rotate-half convention, on src
// [rows, heads, d] with one position per row. The first rot features of a
// head rotate (rot = d, or less for partial rotary embeddings), feature k
// with feature k + rot/2:
//
//   y[k]         = x[k]·cos φ − x[k+rot/2]·sin φ
//   y[k+rot/2]   = x[k+rot/2]·cos φ + x[k]·sin φ,      φ = pos·inv_freq[k], k < rot/2
//
// and features rot..d−1 pass through. Only the first rot_heads heads of a
// row rotate; the others are copied, so a packed QKV [B·S, nh + 2·nkv, d]
// with rot_heads = nh + nkv rotates Q and K and passes V through. One thread
// per item of a head: items k < rot/2 are the rotated pairs, items
// rot/2 + j the pass-through features rot + j, so a head has d − rot/2
// items (d/2 without partial rotary).
//
// The arithmetic follows the CPU reference (tensor/cpu_rope.go) operation by
// operation: inv_freq [rot/2] comes from the host (tensor.RoPEParams.InvFreq,
// float32 as Hugging Face computes it, Llama-3 scaling included); φ is
// rounded to float32; cos φ and sin φ are computed in float64 and rounded;
// each product and sum is rounded separately (the __fmul_rn and __fadd_rn
// intrinsics keep the compiler from fusing them into FMAs).
#include "common.cuh"

__device__ __forceinline__ void rope_angle(const int *pos, const float *inv_freq, long long r, int k, float &c, float &s) {
    float phi = __fmul_rn((float)pos[r], inv_freq[k]);
    double sd, cd;
    sincos((double)phi, &sd, &cd);
    c = (float)cd;
    s = (float)sd;
}

extern "C" __global__ void rope_fwd_f32(float *dst, const float *src, const int *pos, const float *inv_freq,
                                        long long rows, int heads, int d, int rot_heads, int rot) {
    int half = rot / 2, per = d - half; // items per head
    long long n = rows * heads * per;
    DLLM_FOR(i, n) {
        int k = (int)(i % per);
        long long rh = i / per; // row·heads + head
        int h = (int)(rh % heads);
        long long r = rh / heads;
        long long base = rh * d;
        if (k >= half) { // a feature past the rotary part
            int f = k + half;
            dst[base + f] = src[base + f];
            continue;
        }
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
// adds it into dsrc; copied heads and pass-through features add dy
// unchanged.
extern "C" __global__ void rope_bwd_f32(float *dsrc, const float *dy, const int *pos, const float *inv_freq,
                                        long long rows, int heads, int d, int rot_heads, int rot) {
    int half = rot / 2, per = d - half;
    long long n = rows * heads * per;
    DLLM_FOR(i, n) {
        int k = (int)(i % per);
        long long rh = i / per;
        int h = (int)(rh % heads);
        long long r = rh / heads;
        long long base = rh * d;
        if (k >= half) {
            int f = k + half;
            dsrc[base + f] += dy[base + f];
            continue;
        }
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
