// common.cuh: the one header every dllm kernel includes. NVRTC receives it as
// a named header, so kernels need no CUDA toolkit headers at all (NVRTC 13 has
// no built-in cuda_bf16.h, and a user may have the driver and NVRTC only).
//
// It provides: bfloat16 as raw bits with exact loads and round-to-nearest-even
// stores, the bf16 tensor-core multiply (mma.sync), float infinity, GELU and
// its derivative, warp and block reductions.
// Every function here is small enough to check by reading.
#pragma once

// bf16 is a bfloat16 stored as its 16 raw bits: the top half of a float32.
typedef unsigned short bf16;

// bf16_to_f32 widens exactly: the bits move to the top of a float32.
__device__ __forceinline__ float bf16_to_f32(bf16 h) {
    return __uint_as_float(((unsigned int)h) << 16);
}

// f32_to_bf16 rounds to the nearest bfloat16, ties to even, in one PTX
// instruction (sm_80+). NaN becomes the canonical quiet NaN.
__device__ __forceinline__ bf16 f32_to_bf16(float f) {
#ifdef DLLM_EMULATE
    return dllm_emu_f32_to_bf16(f); // the CPU emulator of the tests (testdata/emu)
#else
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
#endif
}

// pack_bf16x2 rounds two floats into one 32-bit register of two bf16, lo in
// the low half: the operand format of the tensor-core instructions.
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
    return (unsigned)f32_to_bf16(lo) | ((unsigned)f32_to_bf16(hi) << 16);
}

// mma_bf16_16816 is one warp-wide tensor-core step, c += a·b, with a a 16×16
// and b a 16×8 bf16 matrix and c a 16×8 f32 accumulator, each spread over the
// 32 lanes' registers as the PTX ISA's "Matrix Fragments for mma.m16n8k16"
// lays them out (attention_mma.cu spells the layout out). Every lane of the
// warp must execute it together.
__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
#ifdef DLLM_EMULATE
    dllm_emu_mma_bf16_16816(c, a, b);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// DLLM_DYNAMIC_SHARED declares the block's dynamic shared memory (the size
// given at launch) as an array of T.
#ifdef DLLM_EMULATE
#define DLLM_DYNAMIC_SHARED(T, name) T *name = (T *)dllm_emu_dynamic_shared()
#else
#define DLLM_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

// Infinity without math.h (NVRTC has the device math functions built in, but
// not the INFINITY macro).
#define DLLM_INF __int_as_float(0x7f800000)

// gelu_f is the exact GELU 0.5·x·(1 + erf(x/√2)).
__device__ __forceinline__ float gelu_f(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

// gelu_grad is GELU'(x) = Φ(x) + x·φ(x): the normal CDF plus x times its density.
__device__ __forceinline__ float gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
    float pdf = expf(-0.5f * x * x) * 0.39894228040143268f; // 1/√(2π)
    return cdf + x * pdf;
}

// Warp reductions over all 32 lanes (the whole warp must be active); every
// lane gets the result.
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block reductions for one-dimensional blocks whose size is a multiple of 32
// (at most 1024). scratch is __shared__ room for 32 values. Every thread of
// the block must call them, and every thread gets the result. The leading
// __syncthreads lets a block call them back to back with one scratch.
__device__ __forceinline__ float block_sum(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

__device__ __forceinline__ double block_sum_d(double v, double *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum_d(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0;
    return warp_sum_d(v);
}

__device__ __forceinline__ float block_max(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -DLLM_INF;
    return warp_max(v);
}

// Online log-sum-exp: a pair (m, s) stands for s·e^m, the sum of e^x over the
// values seen so far with their maximum m factored out. lse_add folds in one
// value; lse_merge combines two pairs. (−∞, 0) is the empty sum.
__device__ __forceinline__ void lse_add(float &m, float &s, float x) {
    if (x == -DLLM_INF) return;
    if (x > m) {
        s = s * expf(m - x) + 1.0f; // m = −∞ gives s·0 + 1
        m = x;
    } else {
        s += expf(x - m);
    }
}

__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    if (mx == -DLLM_INF) return; // both empty
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

// block_lse reduces every thread's pair to the block's log-sum-exp, returned
// to all threads (−∞ for an empty sum). scratch holds 64 floats.
__device__ __forceinline__ float block_lse(float m, float s, float *scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = m;
        scratch[32 + warp] = s;
    }
    __syncthreads();
    m = lane < warps ? scratch[lane] : -DLLM_INF;
    s = lane < warps ? scratch[32 + lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    return m == -DLLM_INF ? -DLLM_INF : m + logf(s);
}

// Grid-stride loop over [0, n) with 64-bit indices.
#define DLLM_FOR(i, n)                                                          \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

// Block diffusion's attention pattern as structure (tensor.BlockPattern):
// bs tokens per block (0: no pattern); half = 0 is block-causal (key block ≤
// query block), half = L the training input [x_t ; x_0] of 2L tokens, with
// h the half and b the block within it: query i sees key j iff (h(i) = h(j)
// and b(i) = b(j)) or (h(j) = 1 and b(i) > b(j) for a noisy query, b(i) ≥
// b(j) for a clean one). Windows are then measured in positions, i mod L.
__device__ __forceinline__ int bd_pos(int i, int half) { return (half > 0 && i >= half) ? i - half : i; }

__device__ __forceinline__ bool bd_allowed(int i, int j, int bs, int half) {
    if (bs <= 0) return true;
    int hq = (half > 0 && i >= half) ? 1 : 0, hk = (half > 0 && j >= half) ? 1 : 0;
    int bq = (i - hq * half) / bs, bk = (j - hk * half) / bs;
    if (half == 0) return bk <= bq;
    if (hq == hk && bq == bk) return true;
    if (hk == 1) return hq == 0 ? bq > bk : bq >= bk;
    return false;
}

// bd_code packs index i's half and block into one int (half | block << 1),
// 0 without a pattern, so that a kernel can compute a row's or a key's code
// once and test pairs without dividing (bd_codes_allowed).
__device__ __forceinline__ int bd_code(int i, int bs, int half) {
    if (bs <= 0) return 0;
    int h = (half > 0 && i >= half) ? 1 : 0;
    return h | (((i - h * half) / bs) << 1);
}

// bd_codes_allowed is bd_allowed on the codes of a query and a key.
__device__ __forceinline__ bool bd_codes_allowed(int q, int k, int bs, int half) {
    if (bs <= 0) return true;
    int bq = q >> 1, bk = k >> 1;
    if (half == 0) return bk <= bq;
    if (q == k) return true;
    if (k & 1) return (q & 1) ? bq >= bk : bq > bk;
    return false;
}

// attn_sees: query i may see key j by the window w (−1: none, else in
// positions) and the block pattern; the key mask is separate.
__device__ __forceinline__ bool attn_sees(int i, int j, int w, int bs, int half) {
    return bd_allowed(i, j, bs, half) && (w < 0 || abs(bd_pos(i, half) - bd_pos(j, half)) <= w);
}

__device__ __forceinline__ bool bd_span_hits(int lo, int hi, int k0, int k1) { return lo < hi && lo < k1 && k0 < hi; }

// bd_tile_live reports whether some query of [q0, q1) may see some key of
// [k0, k1) under the pattern (both clipped to S): the keys a query tile may
// see are at most two spans in closed form (tensor.BlockPattern.KeySpans,
// whose exactness the Go tests check), and a tile pair outside them is
// skipped whole. Every thread computes the same answer, so the skip is
// uniform over a block (or a warp).
__device__ __forceinline__ bool bd_tile_live(int q0, int q1, int k0, int k1, int S, int bs, int half) {
    if (bs <= 0) return true;
    q1 = min(q1, S);
    k1 = min(k1, S);
    if (q0 >= q1 || k0 >= k1) return false;
    if (half == 0) return k0 < min(S, ((q1 - 1) / bs + 1) * bs);
    int clean = 0; // the clean keys [L, L + clean) some query sees
    if (q0 < half) {
        int last = (min(q1, half) - 1) / bs;
        if (bd_span_hits(q0 / bs * bs, min(half, (last + 1) * bs), k0, k1)) return true;
        clean = last * bs;
    }
    if (q1 > half) clean = max(clean, min(half, ((q1 - 1 - half) / bs + 1) * bs));
    return bd_span_hits(half, half + clean, k0, k1);
}
