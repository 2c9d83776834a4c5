// attention_mma.cu: flash attention on the tensor cores, in bf16 with f32
// accumulation (mma.sync.m16n8k16, sm_80 and newer). The contract is that of
// attention.cu, read it first: packed qkv [B, S, nh + 2·nkv, d] (query head
// h reads KV head h/(nh/nkv)), key j visible from query i iff it is not
// padding and, when w ≥ 0, |i − j| ≤ w; a query that sees no key gets
// out = 0 and lse = +∞. The math is the same too; what differs is who
// multiplies. attention.cu stays as the f32 reference this
// kernel is checked against, and as the exact path.
//
// Precision: Q, K, V and dO are rounded to bf16 as they enter shared memory,
// and the probabilities P and the score gradients dS are rounded to bf16
// before they multiply again. Every sum, the softmax statistics (running
// max, running sum, lse), D = rowsum(dO ⊙ O) and every output are f32.
//
// The instruction. One warp computes C += A·B with A 16×16 (rows × the
// reduction index), B 16×8 (reduction × columns) and C 16×8. Its operands
// live spread over the warp's registers; with lane = 4g + t (g = lane/4,
// t = lane%4), the PTX ISA ("Matrix Fragments for mma.m16n8k16") puts
//   A: a[0] = row g,   k 2t, 2t+1      a[1] = row g+8, k 2t, 2t+1
//      a[2] = row g,   k 2t+8, 2t+9    a[3] = row g+8, k 2t+8, 2t+9
//   B: b[0] = k 2t, 2t+1, column g     b[1] = k 2t+8, 2t+9, column g
//   C: c[0], c[1] = row g, columns 2t, 2t+1;  c[2], c[3] = row g+8, same columns
// (two bf16 per 32-bit register, the lower index in the low half). Two C
// tiles side by side, 16 rows × 16 columns, hold exactly the elements of an
// A fragment, in the same registers: the scores computed by one product
// become the left operand of the next without leaving the thread. That is
// the flash-attention-2 register trick, and why the softmax below works on
// c[0..3] directly.
//
// Work split: a block is 4 warps, 64 rows (queries for the forward and dq
// kernels, keys for dkv), 16 rows per warp. The other side streams through
// shared memory in tiles. As in attention.cu, dq and dkv are separate
// kernels with one writer per output element: no atomics, deterministic. A
// dkv block belongs to one KV head and streams the queries of every query
// head of its group, one head after the other, into the same accumulators.
//
// Shared memory holds bf16 pairs as 32-bit words, in two arrangements:
//   rows:       element (r, c) at word r·(DM/2 + 4) + c/2 — a matrix whose
//               reduction index runs along its rows (Q, K, V, dO when the
//               product contracts over the features);
//   transposed: element (r, c) at word c·(R/2 + 4) + r/2 — the same tile
//               when the product contracts over its rows (V in P·V, K in
//               dS·K, Q in dSᵀ·Q, dO in Pᵀ·dO).
// Either way a fragment load reads, for lane (g, t), word t of row g: the
// 4-word padding puts the 32 lanes in 32 different banks.
// Block diffusion's pattern (bs, half; common.cuh) skips whole key tiles per
// block and per warp (bd_tile_live) and masks the rest pair by pair
// (attn_sees), like the window.
#include "common.cuh"

#define MMA_ROWS 64 // rows per block: 4 warps × 16
#define MMA_BK 64   // keys per shared tile: forward and dq
#define MMA_BQ 32   // queries per shared tile: dkv

// frag_a loads the A fragment of rows [r0, r0+16) and reduction indices
// [k0, k0+16) of a row-arranged tile with row stride ldw words.
__device__ __forceinline__ void frag_a(unsigned (&a)[4], const unsigned *s, int ldw, int r0, int k0) {
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const unsigned *p = s + (r0 + g) * ldw + (k0 >> 1) + t;
    a[0] = p[0];
    a[1] = p[8 * ldw];
    a[2] = p[4];
    a[3] = p[8 * ldw + 4];
}

// frag_b loads the B fragment of columns [n0, n0+8) and reduction indices
// [k0, k0+16) from a tile that stores each column of B as a row (Bᵀ row-major).
__device__ __forceinline__ void frag_b(unsigned (&b)[2], const unsigned *s, int ldw, int n0, int k0) {
    const int g = (threadIdx.x & 31) >> 2, t = threadIdx.x & 3;
    const unsigned *p = s + (n0 + g) * ldw + (k0 >> 1) + t;
    b[0] = p[0];
    b[1] = p[4];
}

// frag_of_c turns two adjacent 16×8 accumulator tiles (columns [0, 8) and
// [8, 16) of a 16×16 block) into the A fragment of that block, in bf16.
__device__ __forceinline__ void frag_of_c(unsigned (&a)[4], const float (&lo)[4], const float (&hi)[4]) {
    a[0] = pack_bf16x2(lo[0], lo[1]);
    a[1] = pack_bf16x2(lo[2], lo[3]);
    a[2] = pack_bf16x2(hi[0], hi[1]);
    a[3] = pack_bf16x2(hi[2], hi[3]);
}

// scores_pair computes, for the warp's 16 rows from r0, two products that
// share their shapes: c1 = A1·B1ᵀ and c2 = A2·B2ᵀ over DM features, for the
// NT·8 columns of B1 and B2 (all row-arranged tiles, row stride LDR words).
// The backward kernels need both at once: S with dP, or Sᵀ with dPᵀ.
template <int DM, int NT>
__device__ __forceinline__ void scores_pair(float (&c1)[NT][4], float (&c2)[NT][4], const unsigned *A1, const unsigned *A2,
                                            const unsigned *B1, const unsigned *B2, int r0) {
    constexpr int LDR = DM / 2 + 4;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) c1[nt][i] = c2[nt][i] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < DM / 16; ++ks) {
        unsigned a1[4], a2[4];
        frag_a(a1, A1, LDR, r0, 16 * ks);
        frag_a(a2, A2, LDR, r0, 16 * ks);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            unsigned b1[2], b2[2];
            frag_b(b1, B1, LDR, 8 * nt, 16 * ks);
            frag_b(b2, B2, LDR, 8 * nt, 16 * ks);
            mma_bf16_16816(c1[nt], a1, b1);
            mma_bf16_16816(c2[nt], a2, b2);
        }
    }
}

// accumulate_pc adds P·X to acc for the warp's 16 rows: P is NT 16×8
// accumulator tiles (NT·8 columns, rounded to bf16 on the way), X a
// transposed tile (DM rows of NT·8 values, row stride LDT words).
template <int DM, int NT, int LDT>
__device__ __forceinline__ void accumulate_pc(float (&acc)[DM / 8][4], const float (&p)[NT][4], const unsigned *Xt) {
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk) {
        unsigned pa[4];
        frag_of_c(pa, p[2 * kk], p[2 * kk + 1]);
#pragma unroll
        for (int dt = 0; dt < DM / 8; ++dt) {
            unsigned xb[2];
            frag_b(xb, Xt, LDT, 8 * dt, 16 * kk);
            mma_bf16_16816(acc[dt], pa, xb);
        }
    }
}

// tile_rows stores rows [r0, r0+R) of a global f32 matrix (row stride ld) as
// a row-arranged bf16 tile of DM columns; rows ≥ rend and columns ≥ d are 0.
template <int DM>
__device__ void tile_rows(unsigned *s, const float *src, long long ld, int r0, int R, int rend, int d) {
    constexpr int W = DM / 2, LDW = DM / 2 + 4;
    for (int e = threadIdx.x; e < R * W; e += blockDim.x) {
        int r = e / W, c = 2 * (e - r * W), row = r0 + r;
        float x0 = 0.0f, x1 = 0.0f;
        if (row < rend) {
            const float *p = src + (long long)row * ld;
            if (c < d) x0 = p[c];
            if (c + 1 < d) x1 = p[c + 1];
        }
        s[r * LDW + (c >> 1)] = pack_bf16x2(x0, x1);
    }
}

// tile_cols stores the same rows transposed (R even): word (c, r/2) holds
// rows r and r+1 of column c. Neighbouring threads read neighbouring columns
// of global memory.
template <int DM, int R>
__device__ void tile_cols(unsigned *s, const float *src, long long ld, int r0, int rend, int d) {
    constexpr int LDW = R / 2 + 4;
    for (int e = threadIdx.x; e < (R / 2) * DM; e += blockDim.x) {
        int rp = e / DM, c = e - rp * DM, row = r0 + 2 * rp;
        float x0 = (row < rend && c < d) ? src[(long long)row * ld + c] : 0.0f;
        float x1 = (row + 1 < rend && c < d) ? src[(long long)(row + 1) * ld + c] : 0.0f;
        s[c * LDW + rp] = pack_bf16x2(x0, x1);
    }
}

// key_flags marks, for a tile of R keys from k0, which may be seen at all
// (inside [0, kend) and not padding): 0 for those that may not, else 1 plus
// the key's block-pattern code (bd_code), so that the pairs are tested
// without dividing.
__device__ __forceinline__ void key_flags(unsigned *ok, const int *mask, long long base, int k0, int R, int kend, int bs, int half) {
    for (int j = threadIdx.x; j < R; j += blockDim.x) {
        int kj = k0 + j;
        ok[j] = (kj < kend && (mask == 0 || mask[base + kj] != 0)) ? 1u + (unsigned)bd_code(kj, bs, half) : 0u;
    }
}

// visible_pairs returns, as bits 4·nt + i, which of a thread's 4·NT
// (row, key) pairs of a key tile from k0 may be seen: its rows row[i >> 1],
// its keys 8·nt + 2·t + (i & 1) with flags kok (key_flags). Computed before
// the scores occupy the registers; a pair then costs one bit test.
template <int NT>
__device__ __forceinline__ unsigned visible_pairs(const unsigned *kok, const int (&row)[2], int t, int k0, int w, int bs, int half) {
    const int rc[2] = {bd_code(row[0], bs, half), bd_code(row[1], bs, half)};
    const int rp[2] = {bd_pos(row[0], half), bd_pos(row[1], half)};
    unsigned vis = 0;
#pragma unroll
    for (int e = 0; e < 4 * NT; ++e) {
        int i = e & 3, j = 8 * (e >> 2) + 2 * t + (i & 1);
        unsigned kf = kok[j];
        if (kf != 0 && bd_codes_allowed(rc[i >> 1], (int)kf - 1, bs, half) && (w < 0 || abs(rp[i >> 1] - bd_pos(k0 + j, half)) <= w))
            vis |= 1u << e;
    }
    return vis;
}

// The rows of a 16-row warp tile and a tile of N columns from c0 that are
// entirely outside each other's windows (or whose rows start past S) are
// skipped by the whole warp, so mma.sync stays convergent.
__device__ __forceinline__ bool warp_skips(int r0, int S, int c0, int N, int w) {
    return r0 >= S || (w >= 0 && (c0 > r0 + 15 + w || c0 + N - 1 < r0 - w));
}

// forward smem words: 64·(DM/2+4) [Q] + 64·(DM/2+4) [K] + DM·(64/2+4) [Vᵀ] + 64 [key ok]
template <int DM>
__device__ void attn_mma_fwd(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale,
                             int w, int bs, int half) {
    constexpr int LDR = DM / 2 + 4, LDT = MMA_BK / 2 + 4, KS = DM / 16, NT = MMA_BK / 8, DT = DM / 8;
    DLLM_DYNAMIC_SHARED(unsigned, smem);
    unsigned *Qs = smem, *Ks = Qs + MMA_ROWS * LDR, *Vt = Ks + MMA_BK * LDR, *kok = Vt + DM * LDT;

    const int warp = threadIdx.x >> 5, t = threadIdx.x & 3, g = (threadIdx.x & 31) >> 2;
    const int h = blockIdx.y, b = blockIdx.z, q0 = blockIdx.x * MMA_ROWS, r0 = q0 + 16 * warp, kv = h / (nh / nkv);
    const long long ld = (long long)(nh + 2 * nkv) * d;
    const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;

    tile_rows<DM>(Qs, Qg, ld, q0, MMA_ROWS, S, d);
    __syncthreads();
    unsigned qa[KS][4]; // the warp's queries stay in registers
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) frag_a(qa[ks], Qs, LDR, 16 * warp, 16 * ks);

    int kbeg = 0, kend = S;
    if (w >= 0 && half == 0) { // a window in positions (half > 0) narrows nothing here
        kbeg = max(0, q0 - w);
        kend = min(S, q0 + MMA_ROWS + w);
    }
    const int row[2] = {r0 + g, r0 + g + 8}; // this thread's two query rows
    float o[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    float m[2] = {-DLLM_INF, -DLLM_INF}, l[2] = {0.0f, 0.0f}; // l: this thread's part of the row sum

    for (int k0 = kbeg; k0 < kend; k0 += MMA_BK) {
        if (!bd_tile_live(q0, q0 + MMA_ROWS, k0, min(kend, k0 + MMA_BK), S, bs, half)) continue; // the same for every thread
        __syncthreads(); // the previous tile is consumed
        tile_rows<DM>(Ks, Kg, ld, k0, MMA_BK, kend, d);
        tile_cols<DM, MMA_BK>(Vt, Vg, ld, k0, kend, d);
        key_flags(kok, mask, (long long)b * S, k0, MMA_BK, kend, bs, half);
        __syncthreads();
        if (warp_skips(r0, S, k0, MMA_BK, half == 0 ? w : -1) || !bd_tile_live(r0, r0 + 16, k0, k0 + MMA_BK, S, bs, half)) continue;

        const unsigned vis = visible_pairs<NT>(kok, row, t, k0, w, bs, half);
        // S = Q·Kᵀ for 16 queries × 64 keys.
        float s[NT][4];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) {
                unsigned kb[2];
                frag_b(kb, Ks, LDR, 8 * nt, 16 * ks);
                mma_bf16_16816(s[nt], qa[ks], kb);
            }
        }
        // Scale, mask, and each row's maximum over the tile (a row's 64
        // scores are spread over the 4 lanes of its group).
        float mx[2] = {-DLLM_INF, -DLLM_INF};
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                float v = (vis >> (4 * nt + i)) & 1u ? s[nt][i] * scale : -DLLM_INF;
                s[nt][i] = v;
                mx[i >> 1] = fmaxf(mx[i >> 1], v);
            }
        float base[2];
#pragma unroll
        for (int hh = 0; hh < 2; ++hh) {
            mx[hh] = fmaxf(mx[hh], __shfl_xor_sync(0xffffffffu, mx[hh], 1));
            mx[hh] = fmaxf(mx[hh], __shfl_xor_sync(0xffffffffu, mx[hh], 2));
            float mn = fmaxf(m[hh], mx[hh]);
            base[hh] = mn == -DLLM_INF ? 0.0f : mn; // nothing seen yet: every p is 0
            float corr = expf(m[hh] - base[hh]);    // 0 while m is −∞
            l[hh] *= corr;
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
                o[dt][2 * hh] *= corr;
                o[dt][2 * hh + 1] *= corr;
            }
            m[hh] = mn;
        }
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                float p = expf(s[nt][i] - base[i >> 1]);
                s[nt][i] = p;
                l[i >> 1] += p;
            }
        accumulate_pc<DM, NT, LDT>(o, s, Vt); // O += P·V
    }
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        l[hh] += __shfl_xor_sync(0xffffffffu, l[hh], 1);
        l[hh] += __shfl_xor_sync(0xffffffffu, l[hh], 2);
        if (row[hh] >= S) continue;
        float inv = l[hh] > 0.0f ? 1.0f / l[hh] : 0.0f;
        float *orow = out + ((long long)b * S + row[hh]) * nh * d + (long long)h * d;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                int c = 8 * dt + 2 * t + i;
                if (c < d) orow[c] = o[dt][2 * hh + i] * inv;
            }
        if (lse && t == 0) lse[((long long)b * nh + h) * S + row[hh]] = l[hh] > 0.0f ? m[hh] + logf(l[hh]) : DLLM_INF;
    }
}

// dq smem words: 4·64·(DM/2+4) [Q, dO, K, V] + DM·(64/2+4) [Kᵀ] + 64 [key ok]
//
// P = exp(scale·Q·Kᵀ − lse), dP = dO·Vᵀ, dS = P ⊙ (dP − D), dQ += scale·dS·K.
template <int DM>
__device__ void attn_mma_dq(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum,
                            const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    constexpr int LDR = DM / 2 + 4, LDT = MMA_BK / 2 + 4, NT = MMA_BK / 8, DT = DM / 8;
    DLLM_DYNAMIC_SHARED(unsigned, smem);
    unsigned *Qs = smem, *dOs = Qs + MMA_ROWS * LDR, *Ks = dOs + MMA_ROWS * LDR, *Vs = Ks + MMA_BK * LDR;
    unsigned *Kt = Vs + MMA_BK * LDR, *kok = Kt + DM * LDT;

    const int warp = threadIdx.x >> 5, t = threadIdx.x & 3, g = (threadIdx.x & 31) >> 2;
    const int h = blockIdx.y, b = blockIdx.z, q0 = blockIdx.x * MMA_ROWS, r0 = q0 + 16 * warp, kv = h / (nh / nkv);
    const long long ld = (long long)(nh + 2 * nkv) * d, H = (long long)nh * d;
    const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;
    const float *dOg = dout + (long long)b * S * H + (long long)h * d;

    tile_rows<DM>(Qs, Qg, ld, q0, MMA_ROWS, S, d);
    tile_rows<DM>(dOs, dOg, H, q0, MMA_ROWS, S, d);
    const int row[2] = {r0 + g, r0 + g + 8};
    float L[2], Di[2];
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        long long at = ((long long)b * nh + h) * S + row[hh];
        L[hh] = row[hh] < S ? lse[at] : DLLM_INF;
        Di[hh] = row[hh] < S ? dsum[at] : 0.0f;
    }
    int kbeg = 0, kend = S;
    if (w >= 0 && half == 0) { // a window in positions (half > 0) narrows nothing here
        kbeg = max(0, q0 - w);
        kend = min(S, q0 + MMA_ROWS + w);
    }
    float dq[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) dq[dt][0] = dq[dt][1] = dq[dt][2] = dq[dt][3] = 0.0f;

    for (int k0 = kbeg; k0 < kend; k0 += MMA_BK) {
        if (!bd_tile_live(q0, q0 + MMA_ROWS, k0, min(kend, k0 + MMA_BK), S, bs, half)) continue;
        __syncthreads();
        tile_rows<DM>(Ks, Kg, ld, k0, MMA_BK, kend, d);
        tile_rows<DM>(Vs, Vg, ld, k0, MMA_BK, kend, d);
        tile_cols<DM, MMA_BK>(Kt, Kg, ld, k0, kend, d);
        key_flags(kok, mask, (long long)b * S, k0, MMA_BK, kend, bs, half);
        __syncthreads();
        if (warp_skips(r0, S, k0, MMA_BK, half == 0 ? w : -1) || !bd_tile_live(r0, r0 + 16, k0, k0 + MMA_BK, S, bs, half)) continue;

        const unsigned vis = visible_pairs<NT>(kok, row, t, k0, w, bs, half);
        float s[NT][4], dp[NT][4];
        scores_pair<DM, NT>(s, dp, Qs, dOs, Ks, Vs, 16 * warp); // S = Q·Kᵀ, dP = dO·Vᵀ
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                int hh = i >> 1;
                bool ok = (vis >> (4 * nt + i)) & 1u;
                float p = ok ? expf(s[nt][i] * scale - L[hh]) : 0.0f;
                s[nt][i] = p * (dp[nt][i] - Di[hh]); // dS
            }
        accumulate_pc<DM, NT, LDT>(dq, s, Kt); // dQ += dS·K
    }
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        if (row[hh] >= S) continue;
        float *gq = dqkv + ((long long)b * S + row[hh]) * ld + (long long)h * d;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                int c = 8 * dt + 2 * t + i;
                if (c < d) gq[c] += scale * dq[dt][2 * hh + i];
            }
    }
}

// dkv smem words: 2·64·(DM/2+4) [K, V] + 2·32·(DM/2+4) [Q, dO] + 2·DM·(32/2+4) [Qᵀ, dOᵀ] + 2·32 [lse, D]
//
// With the block's keys as rows: Sᵀ = K·Qᵀ, Pᵀ = exp(scale·Sᵀ − lse),
// dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D); dV += Pᵀ·dO, dK += scale·dSᵀ·Q.
template <int DM>
__device__ void attn_mma_dkv(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum,
                             const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    constexpr int LDR = DM / 2 + 4, LDT = MMA_BQ / 2 + 4, NT = MMA_BQ / 8, DT = DM / 8;
    DLLM_DYNAMIC_SHARED(unsigned, smem);
    unsigned *Ks = smem, *Vs = Ks + MMA_ROWS * LDR, *Qs = Vs + MMA_ROWS * LDR, *dOs = Qs + MMA_BQ * LDR;
    unsigned *Qt = dOs + MMA_BQ * LDR, *dOt = Qt + DM * LDT;
    float *Ls = (float *)(dOt + DM * LDT), *Ds = Ls + MMA_BQ;

    const int warp = threadIdx.x >> 5, t = threadIdx.x & 3, g = (threadIdx.x & 31) >> 2;
    const int kv = blockIdx.y, b = blockIdx.z, k0 = blockIdx.x * MMA_ROWS, r0 = k0 + 16 * warp, group = nh / nkv;
    const long long ld = (long long)(nh + 2 * nkv) * d, H = (long long)nh * d;
    const float *Kg = qkv + (long long)b * S * ld + (long long)(nh + kv) * d;
    const float *Vg = Kg + (long long)nkv * d;

    tile_rows<DM>(Ks, Kg, ld, k0, MMA_ROWS, S, d);
    tile_rows<DM>(Vs, Vg, ld, k0, MMA_ROWS, S, d);
    const int key[2] = {r0 + g, r0 + g + 8}; // this thread's two key rows
    bool key_ok[2];
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) key_ok[hh] = key[hh] < S && (mask == 0 || mask[(long long)b * S + key[hh]] != 0);
    int qbeg = 0, qend = S; // queries that may see any key of the block
    if (w >= 0 && half == 0) {
        qbeg = max(0, k0 - w);
        qend = min(S, k0 + MMA_ROWS + w);
    }
    float dk[DT][4], dv[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int i = 0; i < 4; ++i) dk[dt][i] = dv[dt][i] = 0.0f;

    for (int h = kv * group; h < (kv + 1) * group; ++h) { // the group's query heads
        const float *Qg = qkv + (long long)b * S * ld + (long long)h * d;
        const float *dOg = dout + (long long)b * S * H + (long long)h * d;
        const float *Lg = lse + ((long long)b * nh + h) * S;
        const float *Dg = dsum + ((long long)b * nh + h) * S;
        for (int i0 = qbeg; i0 < qend; i0 += MMA_BQ) {
            if (!bd_tile_live(i0, min(qend, i0 + MMA_BQ), k0, k0 + MMA_ROWS, S, bs, half)) continue;
            __syncthreads();
            tile_rows<DM>(Qs, Qg, ld, i0, MMA_BQ, qend, d);
            tile_rows<DM>(dOs, dOg, H, i0, MMA_BQ, qend, d);
            tile_cols<DM, MMA_BQ>(Qt, Qg, ld, i0, qend, d);
            tile_cols<DM, MMA_BQ>(dOt, dOg, H, i0, qend, d);
            for (int r = threadIdx.x; r < MMA_BQ; r += blockDim.x) {
                int qi = i0 + r;
                Ls[r] = qi < qend ? Lg[qi] : DLLM_INF;
                Ds[r] = qi < qend ? Dg[qi] : 0.0f;
            }
            __syncthreads();
            if (warp_skips(r0, S, i0, MMA_BQ, half == 0 ? w : -1) || !bd_tile_live(i0, min(qend, i0 + MMA_BQ), r0, r0 + 16, S, bs, half))
                continue;

            // Which of the thread's (key, query) pairs may be seen, before
            // the scores occupy the registers (bit 4·nt + i).
            unsigned vis = 0;
            {
                const int kc[2] = {bd_code(key[0], bs, half), bd_code(key[1], bs, half)};
                const int kp[2] = {bd_pos(key[0], half), bd_pos(key[1], half)};
#pragma unroll
                for (int e = 0; e < 4 * NT; ++e) {
                    int hh = (e & 3) >> 1, qi = i0 + 8 * (e >> 2) + 2 * t + (e & 1);
                    if (key_ok[hh] && qi < qend && bd_codes_allowed(bd_code(qi, bs, half), kc[hh], bs, half) &&
                        (w < 0 || abs(bd_pos(qi, half) - kp[hh]) <= w))
                        vis |= 1u << e;
                }
            }
            float st[NT][4], dpt[NT][4];
            scores_pair<DM, NT>(st, dpt, Ks, Vs, Qs, dOs, 16 * warp); // Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    int c = 8 * nt + 2 * t + (i & 1);
                    bool ok = (vis >> (4 * nt + i)) & 1u;
                    float p = ok ? expf(st[nt][i] * scale - Ls[c]) : 0.0f;
                    st[nt][i] = p;                        // Pᵀ
                    dpt[nt][i] = p * (dpt[nt][i] - Ds[c]); // dSᵀ
                }
            accumulate_pc<DM, NT, LDT>(dv, st, dOt);  // dV += Pᵀ·dO
            accumulate_pc<DM, NT, LDT>(dk, dpt, Qt);  // dK += dSᵀ·Q
        }
    }
#pragma unroll
    for (int hh = 0; hh < 2; ++hh) {
        if (key[hh] >= S) continue;
        float *gk = dqkv + ((long long)b * S + key[hh]) * ld + (long long)(nh + kv) * d;
        float *gv = gk + (long long)nkv * d;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                int c = 8 * dt + 2 * t + i;
                if (c < d) {
                    gk[c] += scale * dk[dt][2 * hh + i];
                    gv[c] += dv[dt][2 * hh + i];
                }
            }
    }
}

// Entry points, one per head-size class. Grids: forward and dq
// (ceil(S/64), nh, B); dkv (ceil(S/64), nkv, B); 128 threads. D comes from
// attention.cu's attn_bwd_dsum.

// The entry points, one per head size, written out rather than generated by a
// macro: a macro puts the whole entry, the inlined call included, on the line
// of its invocation, and NVRTC 11.8 with --generate-line-info crashes
// (unbounded recursion) compiling such an entry for sm_90. Each call stands
// on a line of its own.

extern "C" __global__ void __launch_bounds__(128)
attn_mma_fwd_d32(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_fwd<32>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dq_d32(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dq<32>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dkv_d32(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dkv<32>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_fwd_d64(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_fwd<64>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dq_d64(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dq<64>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dkv_d64(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dkv<64>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_fwd_d128(float *out, float *lse, const float *qkv, const int *mask, int S, int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_fwd<128>(out, lse, qkv, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dq_d128(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dq<128>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}

extern "C" __global__ void __launch_bounds__(128)
attn_mma_dkv_d128(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, const int *mask, int S,
    int nh, int nkv, int d, float scale, int w, int bs, int half) {
    attn_mma_dkv<128>(dqkv, dout, qkv, lse, dsum, mask, S, nh, nkv, d, scale, w, bs, half);
}
