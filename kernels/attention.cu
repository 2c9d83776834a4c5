// attention.cu: scaled dot-product attention, flash-attention style, in f32 on
// the SIMT cores: the correct, plain version that a tensor-core (mma.sync,
// bf16) kernel is to be checked against later.
//
// Layout (backend.go): qkv [B, S, nh + 2·nkv, d]: nh query heads, nkv key
// heads, nkv value heads ([B, S, 3, nh, d] when nkv = nh), so Q, K and V of
// a head are [S, d] matrices with row stride ld = (nh + 2·nkv)·d; out and
// dout [B, S, nh, d]; lse and dsum [B, nh, S]; mask [B, S] (1 = real key,
// 0 = padding) or null. Grouped-query attention: query head h reads KV head
// h / (nh/nkv), so nh/nkv consecutive query heads share one K and one V.
// Key j is visible from query i iff it is not padding and, when w ≥ 0
// (w = Window/2), |i − j| ≤ w. A query that sees no key gets out = 0 and
// lse = +∞, the convention of the CPU reference: the backward's exp(s − lse)
// is then 0 for it without a special case.
//
// Forward: a block of ATTN_BQ queries, one thread each, walks the keys the
// block can see (a sliding window skips every tile outside
// [q0 − w, q0 + BQ − 1 + w]) in tiles of ATTN_BK keys held in shared memory,
// keeping the flash-attention running max m, running sum l and the output
// accumulator in registers (online softmax, f32 throughout). The softmax is
// updated key by key: when a score exceeds the running max, l and the
// accumulator are rescaled, which for typical scores happens a few times per
// row. (Updating once per tile needs the tile's scores in a register array,
// and a compiler that does not fully unroll that loop moves it to local
// memory.)
//
// Backward, with P = exp(scale·QKᵀ − lse) and D_i = Σ_c dout[i,c]·out[i,c]:
//   dV += Pᵀ·dout,  dS = P ⊙ (dout·Vᵀ − D),  dQ += scale·dS·K,  dK += scale·dSᵀ·Q
// in three kernels: attn_bwd_dsum (D), attn_bwd_dq (one thread per query,
// walking key tiles) and attn_bwd_dkv (one thread per key of a KV head,
// walking the query tiles of every query head of its group in turn, so that
// the group's contributions to the shared dK and dV sum in registers). Each
// output element has exactly one writer, so there are no atomics and the
// result is deterministic; the price is computing the scores twice.
//
// Head sizes: each kernel is a template on DM ∈ {32, 64, 128} with the real
// head size d ≤ DM at run time; rows are zero-padded to DM in shared memory,
// so the padding adds exact zeros. Per-thread rows ("own" rows) are stored
// with stride DM + 1 so that a warp reading column c of 32 different rows
// hits 32 different banks; tiles that all threads read together use stride
// DM (a broadcast). Shared memory is dynamic; the Go wrapper computes the same
// sizes as the *_smem_floats comments below and raises the kernel's limit
// when it passes 48 KiB.
// Block diffusion's pattern (bs, half; common.cuh's bd_allowed) is given as
// structure, never as a dense mask: a query tile skips every key tile that
// none of its queries may see (bd_tile_live), and the surviving pairs are
// tested one by one (attn_sees), like the window.
#include "common.cuh"

#define ATTN_BQ 64  // queries per block (one thread each): forward and dq
#define ATTN_BK 32  // keys per shared-memory tile: forward and dq
#define ATTN_BKV 64 // keys per block (one thread each): dkv
#define ATTN_BQT 32 // queries per shared-memory tile: dkv

// Loads rows [r0, r0 + R) of a [S, d] matrix with row stride ld into shared
// memory with row stride stride, zero-padding rows ≥ rend and columns ≥ d.
template <int DM>
__device__ __forceinline__ void load_rows(float *dst, int stride, const float *src, long long ld, int r0, int R, int rend, int d) {
    for (int e = threadIdx.x; e < R * DM; e += blockDim.x) {
        int r = e / DM, c = e - r * DM;
        int g = r0 + r;
        dst[r * stride + c] = (g < rend && c < d) ? src[(long long)g * ld + c] : 0.0f;
    }
}

// forward smem floats: BQ·(DM+1) [Q, own] + 2·BK·DM [K, V tiles] + BK [key ok]
template <int DM>
__device__ void attn_fwd(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale,
                         int w, int bs, int half) {
    DLLM_DYNAMIC_SHARED(float, smem);
    float *Qs = smem;
    float *Ks = Qs + ATTN_BQ * (DM + 1);
    float *Vs = Ks + ATTN_BK * DM;
    float *kok = Vs + ATTN_BK * DM;

    const int tid = threadIdx.x, h = blockIdx.y, b = blockIdx.z, kv = h / (nh / nkv);
    const int q0 = blockIdx.x * ATTN_BQ, qi = q0 + tid;
    const long long ld = (long long)(nh + 2 * nkv) * d;
    const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;

    load_rows<DM>(Qs, DM + 1, Qg, ld, q0, ATTN_BQ, S, d);

    int kbeg = 0, kend = S; // keys any query of the block may see
    if (w >= 0 && half == 0) { // a window in positions (half > 0) narrows nothing here
        kbeg = max(0, q0 - w);
        kend = min(S, q0 + ATTN_BQ + w);
    }
    float acc[DM];
#pragma unroll
    for (int c = 0; c < DM; ++c) acc[c] = 0.0f;
    float m = -DLLM_INF, l = 0.0f;
    const float *q = Qs + tid * (DM + 1);

    for (int k0 = kbeg; k0 < kend; k0 += ATTN_BK) {
        if (!bd_tile_live(q0, q0 + ATTN_BQ, k0, min(kend, k0 + ATTN_BK), S, bs, half)) continue; // the same for every thread
        __syncthreads(); // the previous tile is consumed (and Q is loaded)
        load_rows<DM>(Ks, DM, Kg, ld, k0, ATTN_BK, kend, d);
        load_rows<DM>(Vs, DM, Vg, ld, k0, ATTN_BK, kend, d);
        for (int j = tid; j < ATTN_BK; j += blockDim.x) {
            int kj = k0 + j;
            kok[j] = (kj < kend && (mask == 0 || mask[(long long)b * S + kj] != 0)) ? 1.0f : 0.0f;
        }
        __syncthreads();
        if (qi >= S) continue;
        for (int j = 0; j < ATTN_BK; ++j) {
            int kj = k0 + j;
            if (kok[j] == 0.0f || !attn_sees(qi, kj, w, bs, half)) continue;
            const float *k = Ks + j * DM, *v = Vs + j * DM;
            float s = 0.0f;
#pragma unroll 16
            for (int c = 0; c < DM; ++c) s += q[c] * k[c];
            s *= scale;
            if (s > m) { // a new maximum: rescale what was summed so far
                float corr = expf(m - s); // 0 while m is still −∞
                l *= corr;
#pragma unroll
                for (int c = 0; c < DM; ++c) acc[c] *= corr;
                m = s;
            }
            float p = expf(s - m);
            l += p;
#pragma unroll
            for (int c = 0; c < DM; ++c) acc[c] += p * v[c];
        }
    }
    if (qi < S) {
        float *o = out + ((long long)b * S + qi) * nh * d + (long long)h * d;
        float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
        for (int c = 0; c < DM; ++c)
            if (c < d) o[c] = acc[c] * inv;
        if (lse) lse[((long long)b * nh + h) * S + qi] = l > 0.0f ? m + logf(l) : DLLM_INF;
    }
}

// dsum[b, h, i] = Σ_c dout[b, i, h, c]·out[b, i, h, c]: one warp per row of
// out, rows in [B, S, nh] order. With round_dout set, dout is rounded to bf16
// first, as the tensor-core kernels (attention_mma.cu) round it for dP: then
// D and the row of dP it is subtracted from carry the same rounding, and the
// difference dP − D, which cancels heavily where the softmax is peaked, does
// not amplify it.
extern "C" __global__ void attn_bwd_dsum(float *dsum, const float *dout, const float *out, long long rows, int S, int nh, int d,
                                         int round_dout) {
    long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= rows) return; // whole warps leave together: rows are per warp
    const float *o = out + row * d, *g = dout + row * d;
    float s = 0.0f;
    for (int c = lane; c < d; c += 32) s += o[c] * (round_dout ? bf16_to_f32(f32_to_bf16(g[c])) : g[c]);
    s = warp_sum(s);
    if (lane == 0) {
        int h = (int)(row % nh);
        long long bs = row / nh; // b·S + i
        long long b = bs / S, i = bs - b * S;
        dsum[(b * nh + h) * S + i] = s;
    }
}

// dq smem floats: 2·BQ·(DM+1) [Q, dO own] + 2·BK·DM [K, V tiles] + BK [key ok]
template <int DM>
__device__ void attn_bwd_dq(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask,
                            int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    DLLM_DYNAMIC_SHARED(float, smem);
    float *Qs = smem;
    float *dOs = Qs + ATTN_BQ * (DM + 1);
    float *Ks = dOs + ATTN_BQ * (DM + 1);
    float *Vs = Ks + ATTN_BK * DM;
    float *kok = Vs + ATTN_BK * DM;

    const int tid = threadIdx.x, h = blockIdx.y, b = blockIdx.z, kv = h / (nh / nkv);
    const int q0 = blockIdx.x * ATTN_BQ, qi = q0 + tid;
    const long long ld = (long long)(nh + 2 * nkv) * d, H = (long long)nh * d;
    const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;
    const float *dOg = dout + (long long)b * S * H + (long long)h * d;

    load_rows<DM>(Qs, DM + 1, Qg, ld, q0, ATTN_BQ, S, d);
    load_rows<DM>(dOs, DM + 1, dOg, H, q0, ATTN_BQ, S, d);
    float L = 0.0f, Di = 0.0f;
    if (qi < S) {
        L = lse[((long long)b * nh + h) * S + qi];
        Di = dsum[((long long)b * nh + h) * S + qi];
    }
    int kbeg = 0, kend = S;
    if (w >= 0 && half == 0) { // a window in positions (half > 0) narrows nothing here
        kbeg = max(0, q0 - w);
        kend = min(S, q0 + ATTN_BQ + w);
    }
    float dq[DM];
#pragma unroll
    for (int c = 0; c < DM; ++c) dq[c] = 0.0f;
    const float *q = Qs + tid * (DM + 1), *go = dOs + tid * (DM + 1);

    for (int k0 = kbeg; k0 < kend; k0 += ATTN_BK) {
        if (!bd_tile_live(q0, q0 + ATTN_BQ, k0, min(kend, k0 + ATTN_BK), S, bs, half)) continue;
        __syncthreads();
        load_rows<DM>(Ks, DM, Kg, ld, k0, ATTN_BK, kend, d);
        load_rows<DM>(Vs, DM, Vg, ld, k0, ATTN_BK, kend, d);
        for (int j = tid; j < ATTN_BK; j += blockDim.x) {
            int kj = k0 + j;
            kok[j] = (kj < kend && (mask == 0 || mask[(long long)b * S + kj] != 0)) ? 1.0f : 0.0f;
        }
        __syncthreads();
        if (qi >= S) continue;
        for (int j = 0; j < ATTN_BK; ++j) {
            int kj = k0 + j;
            if (kok[j] == 0.0f || !attn_sees(qi, kj, w, bs, half)) continue;
            const float *k = Ks + j * DM, *v = Vs + j * DM;
            float s = 0.0f, dp = 0.0f;
#pragma unroll 16
            for (int c = 0; c < DM; ++c) {
                s += q[c] * k[c];
                dp += go[c] * v[c];
            }
            float p = expf(s * scale - L);
            float ds = p * (dp - Di);
#pragma unroll
            for (int c = 0; c < DM; ++c) dq[c] += ds * k[c];
        }
    }
    if (qi < S) {
        float *g = dqkv + ((long long)b * S + qi) * ld + (long long)h * d;
#pragma unroll
        for (int c = 0; c < DM; ++c)
            if (c < d) g[c] += scale * dq[c];
    }
}

// dkv smem floats: 2·BKV·(DM+1) [K, V own] + 2·BQT·DM [Q, dO tiles] + 2·BQT [lse, dsum]
//
// blockIdx.y is the KV head; the block walks the query tiles of each query
// head of its group in turn.
template <int DM>
__device__ void attn_bwd_dkv(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask,
                             int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    DLLM_DYNAMIC_SHARED(float, smem);
    float *Ks = smem;
    float *Vs = Ks + ATTN_BKV * (DM + 1);
    float *Qs = Vs + ATTN_BKV * (DM + 1);
    float *dOs = Qs + ATTN_BQT * DM;
    float *Ls = dOs + ATTN_BQT * DM;
    float *Ds = Ls + ATTN_BQT;

    const int tid = threadIdx.x, kv = blockIdx.y, b = blockIdx.z, group = nh / nkv;
    const int k0 = blockIdx.x * ATTN_BKV, kj = k0 + tid;
    const long long ld = (long long)(nh + 2 * nkv) * d, H = (long long)nh * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;

    load_rows<DM>(Ks, DM + 1, Kg, ld, k0, ATTN_BKV, S, d);
    load_rows<DM>(Vs, DM + 1, Vg, ld, k0, ATTN_BKV, S, d);
    const bool key_ok = kj < S && (mask == 0 || mask[(long long)b * S + kj] != 0);
    int qbeg = 0, qend = S; // queries that may see any key of the block
    if (w >= 0 && half == 0) {
        qbeg = max(0, k0 - w);
        qend = min(S, k0 + ATTN_BKV + w);
    }
    float dk[DM], dv[DM];
#pragma unroll
    for (int c = 0; c < DM; ++c) dk[c] = dv[c] = 0.0f;
    const float *k = Ks + tid * (DM + 1), *v = Vs + tid * (DM + 1);

    for (int h = kv * group; h < (kv + 1) * group; ++h) { // the group's query heads
        const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
        const float *dOg = dout + (long long)b * S * H + (long long)h * d;
        const float *Lg = lse + ((long long)b * nh + h) * S;
        const float *Dg = dsum + ((long long)b * nh + h) * S;
        for (int i0 = qbeg; i0 < qend; i0 += ATTN_BQT) {
            if (!bd_tile_live(i0, min(qend, i0 + ATTN_BQT), k0, k0 + ATTN_BKV, S, bs, half)) continue;
            __syncthreads();
            load_rows<DM>(Qs, DM, Qg, ld, i0, ATTN_BQT, qend, d);
            load_rows<DM>(dOs, DM, dOg, H, i0, ATTN_BQT, qend, d);
            for (int r = tid; r < ATTN_BQT; r += blockDim.x) {
                int qi = i0 + r;
                Ls[r] = qi < qend ? Lg[qi] : DLLM_INF;
                Ds[r] = qi < qend ? Dg[qi] : 0.0f;
            }
            __syncthreads();
            if (!key_ok) continue;
            for (int r = 0; r < ATTN_BQT; ++r) {
                int qi = i0 + r;
                if (qi >= qend) break;
                if (!attn_sees(qi, kj, w, bs, half)) continue;
                const float *q = Qs + r * DM, *go = dOs + r * DM;
                float s = 0.0f, dp = 0.0f;
#pragma unroll 16
                for (int c = 0; c < DM; ++c) {
                    s += q[c] * k[c];
                    dp += go[c] * v[c];
                }
                float p = expf(s * scale - Ls[r]);
                float ds = p * (dp - Ds[r]);
#pragma unroll
                for (int c = 0; c < DM; ++c) {
                    dv[c] += p * go[c];
                    dk[c] += ds * q[c];
                }
            }
        }
    }
    if (kj < S) {
        float *gk = dqkv + ((long long)b * S + kj) * ld + (long long)(nh + kv) * d;
        float *gv = gk + (long long)nkv * d;
#pragma unroll
        for (int c = 0; c < DM; ++c) {
            if (c < d) {
                gk[c] += scale * dk[c];
                gv[c] += dv[c];
            }
        }
    }
}

// Entry points, one per head-size class. Grids: forward and dq
// (ceil(S/ATTN_BQ), nh, B); dkv (ceil(S/ATTN_BKV), nkv, B); 64 threads.

// The entry points, one per head size, written out rather than generated by a
// macro: a macro puts the whole entry, the inlined call included, on the line
// of its invocation, and NVRTC 11.8 with --generate-line-info crashes
// (unbounded recursion) compiling such an entry for sm_90. Each call stands
// on a line of its own.

extern "C" __global__ void __launch_bounds__(64)
attn_fwd_d32(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_fwd<32>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dq_d32(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dq<32>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dkv_d32(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dkv<32>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_fwd_d64(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_fwd<64>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dq_d64(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dq<64>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dkv_d64(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dkv<64>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_fwd_d128(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_fwd<128>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dq_d128(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dq<128>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(64)
attn_bwd_dkv_d128(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_bwd_dkv<128>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}
